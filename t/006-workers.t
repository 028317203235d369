# Two worker processes on one SQLite file: what one worker writes the other
# reads, ids stay unique across workers, concurrent commands on the same
# aggregate neither lose nor double writes (the losers get the 409 of the
# spec), and the store survives a restart of nginx.
#
# Concurrency without help from the test client: a "mirror" location fans
# one client request out to 9 simultaneous proxied requests (the request and
# its 8 mirrors) to a second server of this nginx that listens with
# "reuseport", so the kernel spreads them over both workers, which run them
# at the same time.  The client's connection closes only when every mirrored
# request has finished, so the next request of the block sees all of their
# effects.  The counts of losers are read from the module's info-level log
# lines ("compensation: <command> on "<id>": <errorCode>: ...").
#
# Restart persistence: the blocks "restart 1/2" use a store outside logs/
# (which the harness empties per block), in a directory made for this run;
# nginx is stopped after one block and started again for the next.

use Test::Nginx::Socket 'no_plan';
use Compensation::Harness;    # ::log_has
use JSON::PP ();

no_root_location();
no_shuffle();

# the default config, preprocessor and helpers (t/lib/Compensation)
use Compensation::Commands;

use File::Temp ();

master_on();
workers(2);

$ENV{TEST_NGINX_PERSIST_DIR} = File::Temp::tempdir('ngx-compensation-XXXXXX',
                                                   TMPDIR => 1, CLEANUP => 1);


# A second server of this nginx listens with "reuseport": the kernel
# spreads the connections to it over both workers' sockets.  With $Spread*,
# every request of the test client is proxied to it, so consecutive requests
# land on either worker.
#
# Under valgrind the harness runs a single process (master_process off) but
# still writes "worker_processes 2": nginx would then open two reuseport
# sockets and serve one, so reuseport is left out there.
our $REUSEPORT = $ENV{TEST_NGINX_USE_VALGRIND} ? '' : ' reuseport';

our $SpreadHttpConfig = <<"_EOC_";
    compensation_store \$TEST_NGINX_SERVER_ROOT/logs/c.db;
$::ThreadPool
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1$REUSEPORT;
        location / {
            compensation_api;
        }
    }
_EOC_

our $SpreadConfig = <<'_EOC_';
    location / {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
_EOC_

# The fan-out: "PUT /race/execution_failed/c1/apply_retry_spec" runs that
# command 9 times at once (the request itself and 8 mirrors), each proxied
# with the client's method, headers and body to the reuseport server, so the
# two workers run them in parallel.
our $RaceHttpConfig = $SpreadHttpConfig . <<'_EOC_';
    map $request_uri $race_target {
        ~^/race(?<race_tail>/.*)$  $race_tail;
        default                    /none;
    }
_EOC_

our $RaceConfig = <<'_EOC_';
    location / {
        compensation_api;
    }
    location /race/ {
        mirror /mirror;
        mirror /mirror;
        mirror /mirror;
        mirror /mirror;
        mirror /mirror;
        mirror /mirror;
        mirror /mirror;
        mirror /mirror;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1$race_target;
    }
    location = /mirror {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1$race_target;
    }
_EOC_


run_tests();

__DATA__

=== TEST 1: 30 creates and 30 prepares spread over the two workers, each read back (by either worker)
--- http_config eval: $::SpreadHttpConfig
--- config eval: $::SpreadConfig
--- request eval
[(map { ::create_req() } 1 .. 30),
 (map { "PUT /execution_failed/w$_/prepare_compensation" } 1 .. 30),
 (map { "GET /execution_failed/w$_/state" } 1 .. 30)]
--- more_headers eval
[(map { "$::CT\nCommand-Aggregate-Id: w$_" } 1 .. 30), ("") x 60]
--- error_code eval
[(200) x 90]
--- response_body_like eval
[(map { ::ok_re('onCreate', 1, agg => "w$_") } 1 .. 30),
 (map { ::ok_re('onPrepare', 2, agg => "w$_") } 1 .. 30),
 (map { ::state_re(id => "w$_", status => 'PREPARED',
                   retryState => ::rs_re(retries => 1, min => 180, to => 120)) } 1 .. 30)]



=== TEST 2: generated aggregate and command ids are unique across the two workers
--- http_config eval: $::SpreadHttpConfig
--- config eval: $::SpreadConfig
--- request eval
[map { ::create_req() } 1 .. 40]
--- more_headers eval
$::CT
--- error_code eval
[(200) x 40]
--- response_body_like eval
my (%agg, %cmd);
[map {
    qr/"waitCommandId":"([0-9A-Za-z]{15})".*"aggregateId":"([0-9A-Za-z]{15})"(?(?{ !$cmd{$1}++ && !$agg{$2}++ })|(*FAIL))/
 } 1 .. 40]



=== TEST 3: one aggregate, commands alternating between workers: every version is taken exactly once
--- http_config eval: $::SpreadHttpConfig
--- config eval: $::SpreadConfig
--- request eval
[::create_req(),
 (map { "PUT $::U/mark_recoverable\n{\"recoverable\":\"" . ($_ % 2 ? 'RECOVERABLE' : 'UNRECOVERABLE') . "\"}" } 1 .. 20),
 "GET $::U/state"]
--- more_headers eval
[$::H, (map { "$::CT\nCommand-Aggregate-Version: $_" } 1 .. 20), ""]
--- error_code eval
[(200) x 22]
--- response_body_like eval
[::ok_re('onCreate', 1), (map { ::ok_re('onMarkRecoverable', $_ + 1) } 1 .. 20),
 ::exact(::state_json(recoverable => 'UNRECOVERABLE'))]



=== TEST 4: 9 simultaneous apply_retry_spec on one aggregate, no expected version: all 9 applied, none lost
--- http_config eval: $::RaceHttpConfig
--- config eval: $::RaceConfig
--- request eval
[::create_req(),
 "PUT /race/execution_failed/c1/apply_retry_spec\n{\"maxRetries\":5,\"minBackoff\":1,\"executionTimeout\":1}",
 "PUT /execution_failed/c1/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}",
 "GET /execution_failed/c1/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: c1", $::CT, "$::CT\nCommand-Aggregate-Version: 10", ""]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1, agg => 'c1'), qr/"name":"onApplyRetrySpec"\},"errorCode":"Ok"/,
 ::ok_re('onMarkRecoverable', 11, agg => 'c1'),
 ::exact(::state_json(id => 'c1', retrySpec => ::spec_json(5, 1, 1), recoverable => 'RECOVERABLE'))]
--- grep_error_log eval
qr/compensation: apply_retry_spec on "c1": \w+/
--- grep_error_log_out eval
""
--- no_error_log
[error]
[alert]
[crit]



=== TEST 5: 9 simultaneous commands expecting the same version: exactly one wins, 8 get CommandExpectVersionConflict
--- http_config eval: $::RaceHttpConfig
--- config eval: $::RaceConfig
--- request eval
[::create_req(),
 "PUT /race/execution_failed/c1/apply_retry_spec\n{\"maxRetries\":5,\"minBackoff\":1,\"executionTimeout\":1}",
 "PUT /execution_failed/c1/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}",
 "GET /execution_failed/c1/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: c1", "$::CT\nCommand-Aggregate-Version: 1",
 "$::CT\nCommand-Aggregate-Version: 2", ""]
--- error_code_like eval
["^200\$", "^(?:200|409)\$", "^200\$", "^200\$"]
--- response_body_like eval
[::ok_re('onCreate', 1, agg => 'c1'),
 ::log_has(qr/"name":"(?:onApplyRetrySpec"\},"errorCode":"Ok"|process"\},"errorCode":"CommandExpectVersionConflict")/,
           [qr/compensation: apply_retry_spec on "c1": \w+/, 8],
           [qr/compensation: apply_retry_spec on "c1": CommandExpectVersionConflict\b/, 8]),
 ::ok_re('onMarkRecoverable', 3, agg => 'c1'),
 ::exact(::state_json(id => 'c1', retrySpec => ::spec_json(5, 1, 1), recoverable => 'RECOVERABLE'))]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 6: 9 simultaneous creates of one id: exactly one creates it, 8 get the 409 of an existing aggregate
--- http_config eval: $::RaceHttpConfig
--- config eval: $::RaceConfig
--- request eval
["POST /race/execution_failed/create_execution_failed\n" . ::create_body(), "GET /execution_failed/c1/state",
 "PUT /execution_failed/c1/prepare_compensation"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: c1", "", "Command-Aggregate-Version: 1"]
--- error_code_like eval
["^(?:200|409)\$", "^200\$", "^200\$"]
--- response_body_like eval
[::log_has(qr/"aggregateId":"c1"/,
           [qr/compensation: create_execution_failed on "c1": \w+/, 8],
           [qr/compensation: create_execution_failed on "c1": CommandExpectVersionConflict\b/, 8]),
 ::exact(::state_json(id => 'c1')), ::ok_re('onPrepare', 2, agg => 'c1')]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 7: 9 simultaneous commands with one Command-Request-Id: exactly one is applied, 8 are DuplicateRequestId
--- http_config eval: $::RaceHttpConfig
--- config eval: $::RaceConfig
--- request eval
[::create_req(),
 "PUT /race/execution_failed/c1/apply_retry_spec\n{\"maxRetries\":5,\"minBackoff\":1,\"executionTimeout\":1}",
 "PUT /execution_failed/c1/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: c1", "$::CT\nCommand-Request-Id: once",
 "$::CT\nCommand-Aggregate-Version: 2"]
--- error_code_like eval
["^200\$", "^(?:200|400)\$", "^200\$"]
--- response_body_like eval
[::ok_re('onCreate', 1, agg => 'c1'),
 ::log_has(qr/"requestId":"once".*"errorCode":"(?:Ok|DuplicateRequestId)"/,
           [qr/compensation: apply_retry_spec on "c1": \w+/, 8],
           [qr/compensation: apply_retry_spec on "c1": DuplicateRequestId\b/, 8]),
 ::ok_re('onMarkRecoverable', 3, agg => 'c1')]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 8: restart 1/2: write to a store outside logs/
--- http_config
    compensation_store $TEST_NGINX_PERSIST_DIR/persist.db;
--- request eval
[::create_req(), "PUT $::U/prepare_compensation", "PUT $::U/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}",
 "GET $::U/state"]
--- more_headers eval
[$::H, "Command-Request-Id: before-restart", $::CT, ""]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2, req => 'before-restart'), ::ok_re('onMarkRecoverable', 3),
 ::state_re(status => 'PREPARED', recoverable => 'RECOVERABLE',
            retryState => ::rs_re(retries => 1, min => 180, to => 120))]



=== TEST 9: restart 2/2: after nginx was stopped and started again, state, version and request ids are still there
--- http_config
    compensation_store $TEST_NGINX_PERSIST_DIR/persist.db;
--- config
    location / {
        compensation_api;
    }
    location = /restarted {
        return 204;
    }
--- request eval
["GET $::U/state", "PUT $::U/prepare_compensation", "PUT $::U/force_prepare_compensation",
 "PUT $::U/apply_execution_failed\n{\"error\":{\"errorCode\":\"E\",\"errorMsg\":\"m\",\"stackTrace\":\"s\"},\"executeAt\":1719800600000}",
 ::create_req()]
--- more_headers eval
["", "", "Command-Request-Id: before-restart", "$::CT\nCommand-Aggregate-Version: 3", $::H]
--- error_code eval
[200, 400, 400, 200, 409]
--- response_body_like eval
[::state_re(status => 'PREPARED', recoverable => 'RECOVERABLE',
            retryState => ::rs_re(retries => 1, min => 180, to => 120)),
 ::fail_re('IllegalState', 'ExecutionFailed can not retry.', 'onPrepare'),
 qr/"errorCode":"DuplicateRequestId"/,
 ::ok_re('onFailed', 4),
 ::fail_re('CommandExpectVersionConflict', undef, 'process')]
