# Metrics (GET /actuator/prometheus, issue 18): the execution counts by
# status and by dashboard category, the command timer by command and
# outcome, the group-commit sizes, the sink deliveries; the whole text is
# valid for `promtool check metrics` (Debian's prometheus package).

use Test::Nginx::Socket 'no_plan';
use Compensation::Harness;    # --- poll blocks: skipped under openresty's Test::Nginx
use IPC::Open3 ();
use Symbol ();
use re 'eval';

no_root_location();
no_shuffle();

our $HttpConfig = <<'_EOC_';
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
_EOC_

our $Config = <<'_EOC_';
    location / {
        compensation_api;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    # a block that reloads (HUP in --- poll) needs a master process
    if (defined $block->poll) { master_on() } else { master_off() }
    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', $Config) unless defined $block->config;
    $block->set_value('no_error_log', "[error]\n[alert]\n[crit]\n")
        unless defined $block->no_error_log;
});

our $CT = 'Content-Type: application/json';
our $M = 'GET /actuator/prometheus';

sub create {
    my $id = shift;
    "POST /execution_failed/create_execution_failed\n"
    . '{"eventId":{"id":"0U2mSzz10001001","aggregateId":{"contextName":"order-service","aggregateName":"order","aggregateId":"0U2mSz9k0001000","tenantId":"(0)"},"version":1},'
    . '"function":{"functionKind":"EVENT","contextName":"order-service","processorName":"OrderProjector","name":"onOrderCreated"},'
    . '"error":{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":"x"},"executeAt":1719800000000,'
    . '"retrySpec":{"maxRetries":10,"minBackoff":180,"executionTimeout":120}}'
}

sub id { "$CT\nCommand-Aggregate-Id: $_[0]" }

# a predicate on the whole body
sub check { my $f = shift; qr/\A((?s:.*))\z(?(?{ $f->($^N) })|(*FAIL))/ }

# every line given is in the body
sub has {
    my @l = @_;
    check(sub {
        my %got = map { $_ => 1 } split /\n/, $_[0];
        for (@l) { unless ($got{$_}) { Test::More::diag("missing: $_"); return 0 } }
        return 1;
    });
}

# promtool check metrics accepts the body
sub promtool_ok {
    check(sub {
        my ($in, $out) = (Symbol::gensym(), Symbol::gensym());
        my $pid = IPC::Open3::open3($in, $out, undef, 'promtool', 'check',
                                    'metrics');
        print {$in} $_[0];
        close $in;
        my $said = do { local $/; <$out> };
        waitpid $pid, 0;
        Test::More::diag("promtool: $said") if $?;
        return $? == 0;
    });
}

run_tests();

__DATA__

=== TEST 1: an empty store: every execution count is 0, no command series yet, the text format's content type
--- request
GET /actuator/prometheus
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
Wow-Error-Code: Ok
--- response_body_like eval
::has('# TYPE compensation_executions gauge',
      'compensation_executions{status="FAILED"} 0',
      'compensation_executions{status="PREPARED"} 0',
      'compensation_executions{status="SUCCEEDED"} 0',
      'compensation_executions_deleted 0',
      'compensation_executions_by_category{category="to-retry"} 0',
      'compensation_executions_by_category{category="executing"} 0',
      'compensation_executions_by_category{category="next-retry"} 0',
      'compensation_executions_by_category{category="non-retryable"} 0',
      'compensation_executions_by_category{category="succeeded"} 0',
      'compensation_executions_by_category{category="unrecoverable"} 0',
      '# TYPE compensation_command_seconds histogram',
      'compensation_group_commit_commands_count 0',
      'compensation_dispatch_calls_total{outcome="Succeeded"} 0',
      'compensation_sink_deliveries_total{kind="state_event",outcome="SUCCESS"} 0')



=== TEST 2: the counts follow the commands: one execution per status and category, as the dashboard's queries count them
--- request eval
[::create(), ::create(), ::create(), ::create(),
 "PUT /execution_failed/e1/prepare_compensation",
 "PUT /execution_failed/e2/prepare_compensation",
 "PUT /execution_failed/e2/apply_execution_success\n{\"executeAt\":1719800000001}",
 "PUT /execution_failed/e3/mark_recoverable\n{\"recoverable\":\"UNRECOVERABLE\"}",
 "DELETE /execution_failed/e4",
 $::M]
--- more_headers eval
[::id('e1'), ::id('e2'), ::id('e3'), ::id('e4'), '', '', $::CT, $::CT, '', '']
--- response_body_like eval
[qr/"errorCode":"Ok"/, qr/"errorCode":"Ok"/, qr/"errorCode":"Ok"/,
 qr/"errorCode":"Ok"/, qr/"errorCode":"Ok"/, qr/"errorCode":"Ok"/,
 qr/"errorCode":"Ok"/, qr/"errorCode":"Ok"/, qr/"errorCode":"Ok"/,
 ::has('compensation_executions{status="FAILED"} 1',
       'compensation_executions{status="PREPARED"} 1',
       'compensation_executions{status="SUCCEEDED"} 1',
       'compensation_executions_deleted 1',
       'compensation_executions_by_category{category="to-retry"} 0',
       'compensation_executions_by_category{category="executing"} 1',
       'compensation_executions_by_category{category="next-retry"} 0',
       'compensation_executions_by_category{category="non-retryable"} 0',
       'compensation_executions_by_category{category="succeeded"} 1',
       'compensation_executions_by_category{category="unrecoverable"} 1')]



=== TEST 3: To Retry, Next Retry and Non Retryable: a failed execution is due at once; one at its retry limit is non-retryable
--- request eval
[::create(), "PUT /execution_failed/r1/apply_retry_spec\n{\"maxRetries\":0,\"minBackoff\":180,\"executionTimeout\":120}",
 ::create(), $::M,
 "POST /execution_failed/snapshot/count\n{\"condition\":{\"operator\":\"AND\",\"children\":[{\"field\":\"state.recoverable\",\"operator\":\"IN\",\"value\":[\"RECOVERABLE\",\"UNKNOWN\"]},{\"field\":\"state.status\",\"operator\":\"IN\",\"value\":[\"FAILED\",\"PREPARED\"]},{\"field\":\"state.isBelowRetryThreshold\",\"operator\":\"EQ\",\"value\":false}]}}"]
--- more_headers eval
[::id('r1'), $::CT, ::id('r2'), '', $::CT]
--- response_body_like eval
[qr/"errorCode":"Ok"/, qr/"errorCode":"Ok"/, qr/"errorCode":"Ok"/,
 ::has('compensation_executions{status="FAILED"} 2',
       'compensation_executions_by_category{category="to-retry"} 1',
       'compensation_executions_by_category{category="next-retry"} 1',
       'compensation_executions_by_category{category="non-retryable"} 1'),
 qr/\A1\z/]



=== TEST 4: the command timer: one series per command and outcome, bad bodies and refusals included; groups of one
--- request eval
[::create(), ::create(), "PUT /execution_failed/x1/prepare_compensation",
 "PUT /execution_failed/x1/prepare_compensation",
 "PUT /execution_failed/nope/prepare_compensation",
 "POST /execution_failed/create_execution_failed\n{not json", $::M]
--- more_headers eval
[::id('x1'), ::id('x2'), '', '', '', $::CT, '']
--- error_code eval
[200, 200, 200, 400, 404, 400, 200]
--- response_body_like eval
[qr/Ok/, qr/Ok/, qr/Ok/, qr/IllegalState/, qr/NotFound/, qr/IllegalArgument/,
 ::has('compensation_command_seconds_count{command="create_execution_failed",outcome="SUCCESS"} 2',
       'compensation_command_seconds_count{command="create_execution_failed",outcome="CLIENT_ERROR"} 1',
       'compensation_command_seconds_bucket{command="create_execution_failed",outcome="SUCCESS",le="+Inf"} 2',
       'compensation_command_seconds_count{command="prepare_compensation",outcome="SUCCESS"} 1',
       'compensation_command_seconds_count{command="prepare_compensation",outcome="CLIENT_ERROR"} 2',
       'compensation_group_commit_commands_bucket{le="1"} 5',
       'compensation_group_commit_commands_count 5',
       'compensation_group_commit_commands_sum 5')]
--- no_error_log
[alert]
[crit]



=== TEST 5: the sink's deliveries by kind and outcome
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location = /ok { return 204; }
        location = /fail { return 503; }
    }
--- config
    location / {
        compensation_api;
        compensation_sink /_sink_ok;
    }
    location /bad/ {
        compensation_api;
        compensation_sink /_sink_fail;
    }
    location = /_sink_ok {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ok;
    }
    location = /_sink_fail {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/fail;
    }
--- request eval
[::create(), "PUT /execution_failed/s1/change_function\n{\"functionKind\":\"STATE_EVENT\",\"contextName\":\"c\",\"processorName\":\"p\",\"name\":\"n\"}",
 "POST /execution_failed/state/(0)/10", "POST /bad/execution_failed/state/(0)/10",
 $::M]
--- more_headers eval
[::id('s1'), $::CT, '', '', '']
--- response_body_like eval
[qr/Ok/, qr/Ok/, qr/"size":1,"errorCode":"Ok"/, qr/"size":0,/,
 ::has('compensation_sink_deliveries_total{kind="state_event",outcome="SUCCESS"} 2',
       'compensation_sink_deliveries_total{kind="state_event",outcome="FAILURE"} 1')]
--- no_error_log
[alert]
[crit]



=== TEST 6: the whole text passes promtool check metrics (every metric family, with command series)
--- request eval
[::create(), "PUT /execution_failed/p1/prepare_compensation", "PUT /execution_failed/p1/prepare_compensation", $::M]
--- more_headers eval
[::id('p1'), '', '', '']
--- error_code eval
[200, 200, 400, 200]
--- response_body_like eval
[qr/Ok/, qr/Ok/, qr/IllegalState/, ::promtool_ok()]



=== TEST 7: HEAD, and a body is discarded
--- request
HEAD /actuator/prometheus
--- response_body
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8



=== TEST 8: the actuator root links the endpoint
--- request
GET /actuator
--- response_body_like: "prometheus":\{"href":"http://localhost(?::\d+)?/actuator/prometheus","templated":false\}



=== TEST 9: the counters are in shared memory: a reload's new worker goes on from the old one's counts
--- skip_eval: 8: $ENV{TEST_NGINX_USE_VALGRIND}
--- request eval
[::create(), ::create()]
--- more_headers eval
[::id('h1'), ::id('h2')]
--- response_body_like eval
[qr/Ok/, qr/Ok/]
--- poll eval
[[$::M, qr/^compensation_command_seconds_count\{command="create_execution_failed",outcome="SUCCESS"\} 2$/m],
 'HUP',
 [sub { ::create() }, qr/Ok/, ::id('h3')],
 [$::M, qr/^compensation_command_seconds_count\{command="create_execution_failed",outcome="SUCCESS"\} 3$/m]]



=== TEST 10: the store's file and WAL sizes, from stat() at the scrape
--- request eval
[::create(), $::M]
--- more_headers eval
[::id('z1'), '']
--- response_body_like eval
[qr/Ok/, qr/^compensation_store_size_bytes [1-9]\d*\n(?s:.*)^compensation_store_wal_size_bytes [1-9]\d*$/m]
