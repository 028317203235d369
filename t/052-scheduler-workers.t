# The dispatch scheduler (issue 5) with a master and 2 workers, and across
# a reload (SIGHUP while a call is in flight): every attempt exactly once.
# Every worker dispatches (issue 17): a burst is shared through the leases.
# The dispatch scheduler (issue 5): due executions are prepared and sent to
# the owning service through an internal proxy location; sync targets apply
# the answer, async targets wait for the service's report.  Every wait polls
# state ("--- poll", t/lib/README.md); nothing asserts timing.

use Test::Nginx::Socket 'no_plan';
use Compensation::Harness;    # --- poll blocks: skipped under openresty's Test::Nginx
use re 'eval';

no_root_location();
no_shuffle();
master_on();
workers(2);

use Compensation::Dispatch;

run_tests();

__DATA__

=== TEST 1: 2 workers: every due execution dispatched exactly once
--- more_headers eval
"$::CT\nCommand-Aggregate-Id: w1"
--- request eval
::create('w1', 'order-service', 'ok')
--- response_body_like: "aggregateId":"w1"
--- poll eval
[(map { [::create("w$_", 'order-service', 'ok'), qr/"aggregateId":"w$_"/,
         "$::CT\nCommand-Aggregate-Id: w$_", 200] } 2 .. 8),
 (map { [::state("w$_"), qr/"status":"SUCCEEDED"/] } 1 .. 8)]
--- wait: 0.3
--- grep_error_log eval: qr/dispatching execution "w\d" attempt \d+/
--- grep_error_log_out eval
qr/\A(?:dispatching execution "w\d" attempt 1\n){8}\z(?(?{ my %s; $s{$_}++ for $& =~ m{"(w\d)"}g; keys %s == 8 })|(*FAIL))/



=== TEST 2: reload while a call is in flight: the old worker finishes it, the new scheduler does not take the leased execution
--- skip_eval: 1: $ENV{TEST_NGINX_USE_VALGRIND}
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
[[::state('h1'), qr/"status":"PREPARED"/],
 'HUP',
 [::state('h1'), qr/"retryState":\{"retries":1,.*"status":"SUCCEEDED"/],
 [::ops('h1'), qr/^\[\{[^\]]*"state":"Succeeded"[^\]]*\}\]$/]]
--- wait: 0.5
--- grep_error_log eval: qr/dispatching execution "h1" attempt \d+|signal 1 \(SIGHUP\) received/
--- grep_error_log_out
dispatching execution "h1" attempt 1
signal 1 (SIGHUP) received



=== TEST 3: 2 workers and a burst: both workers dispatch, each execution once
The target answers through limit_req (20 r/s, queued), so that calls stay in
flight and neither worker can drain the burst alone between the other's
ticks; each worker claims its share through the leases.  Valgrind runs one
process: skipped there.
--- skip_eval: 1: $ENV{TEST_NGINX_USE_VALGRIND}
--- http_config eval
"limit_req_zone \$server_name zone=slow:1m rate=20r/s;\n"
. ($::HttpConfig =~ s{(location ~ \^/svc/ok/ \{)}{location ~ ^/svc/slow/ {\n            limit_req zone=slow burst=100;\n            return 200 '{}';\n        }\n        $1}r)
--- more_headers eval
"$::CT\nCommand-Aggregate-Id: b1"
--- request eval
::create('b1', 'order-service', 'slow')
--- response_body_like: "aggregateId":"b1"
--- timeout: 20
--- poll eval
[(map { [::create("b$_", 'order-service', 'slow'), qr/"aggregateId":"b$_"/,
         "$::CT\nCommand-Aggregate-Id: b$_", 200] } 2 .. 24),
 (map { [::state("b$_"), qr/"retryState":\{"retries":1,.*"status":"SUCCEEDED"/] } 1 .. 24)]
--- wait: 0.3
--- grep_error_log eval: qr/\d+#\d+: (?:\*\d+ )?compensation: dispatching execution "b\d+" attempt \d+/
--- grep_error_log_out eval
qr/\A((?:\d+#\d+: (?:\*\d+ )?compensation: dispatching execution "b\d+" attempt 1\n){24})\z(?(?{ my $t = $1; my (%s, %p); $s{$_}++ for $t =~ m{"(b\d+)"}g; $p{$_}++ for $t =~ m{^(\d+)#}mg; keys %s == 24 && keys %p == 2 })|(*FAIL))/
