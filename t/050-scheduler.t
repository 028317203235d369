# The dispatch scheduler (issue 5): due executions are prepared and sent to
# the owning service through an internal proxy location; sync targets apply
# the answer, async targets wait for the service's report.  Every wait polls
# state ("--- poll", t/lib/README.md); nothing asserts timing.

use Test::Nginx::Socket 'no_plan';
use Compensation::Harness;    # --- poll blocks: skipped under openresty's Test::Nginx
use re 'eval';

no_root_location();
no_shuffle();

use Compensation::Dispatch;

run_tests();

__DATA__

=== TEST 1: a due execution is dispatched at once to its sync target and succeeds
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: s1"]
--- request eval
[::create('s1', 'order-service', 'ok')]
--- response_body_like: "aggregateId":"s1"
--- poll eval
[[::state('s1'), qr/"status":"SUCCEEDED"/],
 [::ops('s1'), qr/^\[\{"operationId":"[0-9a-f-]{36}","jobId":1,"executionId":"s1","state":"Succeeded"/]]
--- grep_error_log eval: qr/dispatching execution "s1" attempt \d+/
--- grep_error_log_out
dispatching execution "s1" attempt 1



=== TEST 2: the call: PUT <location>/<aggregate>/<id>/<version>/compensate, JSON body, idempotency key
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: m1"]
--- request eval
[::create('m1', 'mock-service', 'order')]
--- tcp_listen: $TEST_NGINX_RAND_PORT_2
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
--- tcp_query eval
qr{^PUT /svc/order/a-m1/7/compensate HTTP/1\.0\r\n(?=(?s:.*)^Idempotency-Key: m1:1\r\n)(?=(?s:.*)^Wow-Operation-Id: [0-9a-f-]{36}\r\n)(?=(?s:.*)^Content-Type: application/json\r\n)(?=(?s:.*)^Content-Length: \d+\r\n)(?s:.*)\r\n\r\n\{"id":"m1","function":\{"functionKind":"EVENT","contextName":"mock-service","processorName":"OrderProjector","name":"onOrderCreated"\}\}$}m
--- poll eval
[[::state('m1'), qr/"status":"SUCCEEDED"/]]



=== TEST 3: 503 with Wow-Error-Code and errorMsg: failed, RECOVERABLE, due again later
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: f1"]
--- request eval
[::create('f1', 'order-service', 'fail')]
--- poll eval
[[::state('f1'), qr/"error":\{"errorCode":"DbDown","errorMsg":"database down","stackTrace":"","succeeded":false\}.*"retryState":\{"retries":1,.*"status":"FAILED","recoverable":"RECOVERABLE"/]]



=== TEST 4: 400: failed, UNRECOVERABLE, not dispatched again
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: b1"]
--- request eval
[::create('b1', 'order-service', 'bad', '{"maxRetries":3,"minBackoff":0,"executionTimeout":0}')]
--- poll eval
[[::state('b1'), qr/"error":\{"errorCode":"BadRequest","errorMsg":"no such order".*"status":"FAILED","recoverable":"UNRECOVERABLE"/]]
--- wait: 0.5
--- grep_error_log eval: qr/dispatching execution "b1" attempt \d+/
--- grep_error_log_out
dispatching execution "b1" attempt 1



=== TEST 5: upstream down: 502, BadGateway, RECOVERABLE
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: d1"]
--- request eval
[::create('d1', 'down-service', 'ok')]
--- poll eval
[[::state('d1'), qr/"errorCode":"BadGateway","errorMsg":"the target answered 502".*"status":"FAILED","recoverable":"RECOVERABLE"/]]
--- no_error_log
[alert]
[crit]



=== TEST 6: upstream timeout: 504, GatewayTimeout, RECOVERABLE
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: t1"]
--- request eval
[::create('t1', 'mock-service', 'order')]
--- tcp_listen: $TEST_NGINX_RAND_PORT_2
--- tcp_no_close
--- tcp_reply_delay: 3s
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
--- timeout: 6
--- poll eval
[[::state('t1'), qr/"errorCode":"GatewayTimeout".*"status":"FAILED","recoverable":"RECOVERABLE"/]]
--- error_log
upstream timed out



=== TEST 7: async target: accepted, PREPARED until the service reports back
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: p1", "$::CT"]
--- request eval
[::create('p1', 'pay-service', 'ok')]
--- poll eval
[[::ops('p1'), qr/"state":"Completed"/],
 [::state('p1'), qr/"retryState":\{"retries":1,.*"status":"PREPARED"/],
 ["PUT /execution_failed/p1/apply_execution_success\n{\"executeAt\":1719800000000}", qr/"errorCode":"Ok"/, $::CT],
 [::state('p1'), qr/"status":"SUCCEEDED"/]]



=== TEST 8: no target for the context: warned, left due, never prepared
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: n1"]
--- request eval
[::create('n1', 'nowhere-service', 'ok')]
--- poll eval
[[::ops('n1'), qr/"state":"Released".*"result":"no target"/],
 [::state('n1'), qr/"retryState":\{"retries":0,.*"status":"FAILED"/]]
--- error_log
no compensation_target for context "nowhere-service" (execution "n1"), left due



=== TEST 9: backoff across several failures until maxRetries
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: k1"]
--- request eval
[::create('k1', 'order-service', 'fail', '{"maxRetries":3,"minBackoff":1,"executionTimeout":0}')]
--- timeout: 20
--- poll eval
[[::state('k1'), qr/"retryState":\{"retries":3,"retryAt":(\d+),"timeoutAt":\d+,"nextRetryAt":(\d+)\}(?(?{ $2 - $1 == 8000 })|(*FAIL)).*"status":"FAILED".*"isRetryable":false/]]
--- wait: 0.3
--- grep_error_log eval: qr/dispatching execution "k1" attempt \d+/
--- grep_error_log_out
dispatching execution "k1" attempt 1
dispatching execution "k1" attempt 2
dispatching execution "k1" attempt 3
