# The dispatch scheduler (issue 5) with a master and 2 workers, and across
# a reload (SIGHUP while a call is in flight): every attempt exactly once.
# The dispatch scheduler (issue 5): due executions are prepared and sent to
# the owning service through an internal proxy location; sync targets apply
# the answer, async targets wait for the service's report.  Every wait polls
# state ("--- poll", t/lib/README.md); nothing asserts timing.

use Test::Nginx::Socket 'no_plan';
use re 'eval';

no_root_location();
no_shuffle();
master_on();
workers(2);

our $HttpConfig = <<'_EOC_';
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_scheduler interval=100ms batch=10 concurrency=4 lease=10s
                           cancel_check=50ms;
    upstream backend {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        keepalive 4;
    }
    upstream down_backend {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }
    upstream mock_backend {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    log_format comp '$request_method $request_uri $http_idempotency_key'
                    ' $content_type';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/backend.log comp;
        location ~ ^/svc/ok/ {
            return 200 '{}';
        }
        location ~ ^/svc/fail/ {
            add_header Wow-Error-Code DbDown always;
            default_type application/json;
            return 503 '{"errorCode":"DbDown","errorMsg":"database down"}';
        }
        location ~ ^/svc/bad/ {
            default_type application/json;
            return 400 '{"errorMsg":"no such order"}';
        }
    }
_EOC_

our $Config = <<'_EOC_';
    compensation_target order-service /_c/sync mode=sync;
    compensation_target pay-service /_c/async;
    compensation_target down-service /_c/down mode=sync;
    compensation_target mock-service /_c/mock mode=sync;
    location / {
        compensation_api;
    }
    location /_c/sync/ {
        internal;
        proxy_pass http://backend/svc/;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_ignore_client_abort on;
    }
    location /_c/async/ {
        internal;
        proxy_pass http://backend/svc/;
        proxy_ignore_client_abort on;
    }
    location /_c/down/ {
        internal;
        proxy_pass http://down_backend/svc/;
        proxy_ignore_client_abort on;
    }
    location /_c/mock/ {
        internal;
        proxy_pass http://mock_backend/svc/;
        proxy_ignore_client_abort on;
        proxy_read_timeout 500ms;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', $Config) unless defined $block->config;
    $block->set_value('no_error_log', "[alert]\n[crit]\n")
        unless defined $block->no_error_log;
});

# a create request: context, aggregate name (ok/fail/bad: the mock's answer),
# retry spec
sub create {
    my ($id, $ctx, $agg, $spec, $at) = @_;
    $spec ||= '{"maxRetries":3,"minBackoff":60,"executionTimeout":60}';
    $at ||= 1719800000000;
    "POST /execution_failed/create_execution_failed\n"
    . qq'{"eventId":{"id":"0U2mSzz10001001","aggregateId":{"contextName":"$ctx","aggregateName":"$agg","aggregateId":"a-$id","tenantId":"(0)"},"version":7},'
    . '"function":{"functionKind":"EVENT","contextName":"' . $ctx . '","processorName":"OrderProjector","name":"onOrderCreated"},'
    . qq'"error":{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":"x"},"executeAt":$at,"retrySpec":$spec}'
}

sub state { "GET /execution_failed/$_[0]/state" }
sub ops { "GET /execution_failed/$_[0]/operations" }

our $CT = 'Content-Type: application/json';

sub creates { map { ::create("w$_", 'order-service', 'ok') } 1 .. 8 }

run_tests();

__DATA__

=== TEST 1: 2 workers: every due execution dispatched exactly once
--- more_headers eval
[map { "$::CT\nCommand-Aggregate-Id: w$_" } 1 .. 8]
--- request eval
[::creates()]
--- poll eval
[map { [::state("w$_"), qr/"status":"SUCCEEDED"/] } 1 .. 8]
--- wait: 0.3
--- grep_error_log eval: qr/dispatching execution "w\d" attempt \d+/
--- grep_error_log_out eval
qr/\A(?:dispatching execution "w\d" attempt 1\n){8}\z(?(?{ my %s; $s{$_}++ for $& =~ m{"(w\d)"}g; keys %s == 8 })|(*FAIL))/



=== TEST 2: reload while a call is in flight: the old worker finishes it, the new scheduler does not take the leased execution
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: h1"]
--- request eval
[::create('h1', 'mock-service', 'order', '{"maxRetries":5,"minBackoff":0,"executionTimeout":0}')]
--- config eval
my $c = $::Config; $c =~ s/proxy_read_timeout 500ms;/proxy_read_timeout 30s;/; $c
--- tcp_listen: $TEST_NGINX_RAND_PORT_2
--- tcp_no_close
--- tcp_reply_delay: 2s
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
--- timeout: 8
--- poll eval
[[::ops('h1'), qr/"state":"Running"/],
 'HUP',
 [::state('h1'), qr/"retryState":\{"retries":1,.*"status":"SUCCEEDED"/],
 [::ops('h1'), qr/^\[\{[^\]]*"state":"Succeeded"[^\]]*\}\]$/]]
--- wait: 0.5
--- grep_error_log eval: qr/dispatching execution "h1" attempt \d+|signal 1 \(SIGHUP\) received/
--- grep_error_log_out
dispatching execution "h1" attempt 1
signal 1 (SIGHUP) received
