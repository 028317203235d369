# Retry action (seed 004), operations listing and Cancel (seed 003) of the
# dispatch scheduler (issue 5): due executions are prepared and sent to
# the owning service through an internal proxy location; sync targets apply
# the answer, async targets wait for the service's report.  Every wait polls
# state ("--- poll", t/lib/README.md); nothing asserts timing.

use Test::Nginx::Socket 'no_plan';
use Compensation::Harness;    # --- poll blocks: skipped under openresty's Test::Nginx
use re 'eval';

no_root_location();
no_shuffle();

use Compensation::Dispatch;

our $OP;
our $FUTURE = 4102444800000;

sub cancel {
    my ($force, $extra) = @_;
    sub { "POST /Faults/\$/Cancel?api-version=6.0&OperationId=$::OP&Force=$force" . ($extra // '') }
}

run_tests();

__DATA__

=== TEST 1: Retry action: dispatched now regardless of nextRetryAt
--- more_headers eval
"$::CT\nCommand-Aggregate-Id: r1"
--- request eval
::create('r1', 'order-service', 'ok', undef, $::FUTURE)
--- response_body_like: "aggregateId":"r1"
--- poll eval
[["PUT /execution_failed/r1/actions\n{\"action\":\"Retry\"}",
  qr/^\{"id":"r1","name":"onOrderCreated","jobId":1,"operationId":"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"\}$/,
  $::CT, 200],
 [::state('r1'), qr/"retryState":\{"retries":1,.*"status":"SUCCEEDED"/],
 [::ops('r1'), qr/^\[\{"operationId":"[0-9a-f-]{36}","jobId":1,"executionId":"r1","state":"Succeeded"/]]
--- grep_error_log eval: qr/dispatching execution "r1" attempt \d+/
--- grep_error_log_out
dispatching execution "r1" attempt 1



=== TEST 2: Retry action refusals: other action, no body, bad JSON, bad id, unknown id, not retryable
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: r2", "$::CT", "$::CT", "$::CT", "$::CT", "$::CT", "$::CT", "$::CT", "$::CT", "$::CT"]
--- request eval
[::create('r2', 'order-service', 'ok', '{"maxRetries":0,"minBackoff":60,"executionTimeout":60}', $::FUTURE),
 "PUT /execution_failed/r2/actions\n{\"action\":\"Stop\"}",
 "PUT /execution_failed/r2/actions",
 "PUT /execution_failed/r2/actions\n{\"action\":",
 "PUT /execution_failed/r2/actions\n{\"action\":\"retry\"}",
 "PUT /execution_failed/" . ('x' x 300) . "/actions\n{\"action\":\"Retry\"}",
 "PUT /execution_failed/nope/actions\n{\"action\":\"Retry\"}",
 "PUT /execution_failed/r2/actions\n{\"action\":\"Retry\"}",
 "POST /execution_failed/r2/actions\n{\"action\":\"Retry\"}",
 "GET /execution_failed/r2/operations"]
--- error_code eval
[200, 400, 400, 400, 400, 400, 400, 400, 405, 200]
--- response_body_like eval
[qr/"aggregateId":"r2"/,
 qr/^\{"error_code":"CF.00000400","error_msg":"The action must be \\"Retry\\"."\}$/,
 qr/^\{"error_code":"CF.00000400","error_msg":"The request body is missing/,
 qr/^\{"error_code":"CF.00000400","error_msg":"The action must be/,
 qr/^\{"error_code":"CF.00000400","error_msg":"The action must be/,
 qr/^\{"error_code":"CF.00000400","error_msg":"The execution id is not valid."\}$/,
 qr/^\{"error_code":"CF.00000404","error_msg":"No execution has this id."\}$/,
 qr/^\{"error_code":"IllegalState","error_msg":"ExecutionFailed can not retry."\}$/,
 qr/.*/,
 qr/^\[\]$/]



=== TEST 3: Retry action while one is queued (scheduler off): refused
--- http_config eval
my $c = $::HttpConfig; $c =~ s/compensation_scheduler[^;]*;/compensation_scheduler off;/s; $c
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: r3", "$::CT", "$::CT", "$::CT"]
--- request eval
[::create('r3', 'order-service', 'ok', undef, $::FUTURE),
 "PUT /execution_failed/r3/actions\n{\"action\":\"Retry\"}",
 "PUT /execution_failed/r3/actions\n{\"action\":\"Retry\"}",
 "GET /execution_failed/r3/operations"]
--- error_code eval
[200, 200, 400, 200]
--- response_body_like eval
[qr/"aggregateId":"r3"/,
 qr/"jobId":1,/,
 qr/^\{"error_code":"IllegalState","error_msg":"The execution is already being dispatched."\}$/,
 qr/^\[\{"operationId":"[0-9a-f-]{36}","jobId":1,"executionId":"r3","state":"Pending","cancelRequested":false,/]



=== TEST 4: graceful cancel: the call is stopped, the execution rolled back to FAILED, the operation Cancelled
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: c1"]
--- request eval
[::create('c1', 'mock-service', 'order')]
--- tcp_listen: $TEST_NGINX_RAND_PORT_2
--- tcp_no_close
--- tcp_reply_delay: 4s
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
--- timeout: 8
--- config eval
my $c = $::Config; $c =~ s/proxy_read_timeout 500ms;/proxy_read_timeout 30s;/; $c
--- poll eval
[[::ops('c1'), qr/"operationId":"([0-9a-f-]{36})"(?{ $::OP = $^N }),"jobId":1,"executionId":"c1","state":"Running"/],
 [::cancel('true'), qr/^\{"Error":\{"Code":"FABRIC_E_INVALID_OPERATION","Message":"Force=true needs a graceful cancel first/],
 [::cancel('false', '&timeout=30'), qr/^$/],
 [::ops('c1'), qr/"state":"Cancelled","cancelRequested":true,.*"result":"cancelled"/],
 [::state('c1'), qr/"error":\{"errorCode":"Cancelled","errorMsg":"cancelled".*"retryState":\{"retries":1,.*"status":"FAILED"/],
 [::cancel('false'), qr/^\{"Error":\{"Code":"FABRIC_E_TEST_COMMAND_STATE_INVALID"/]]
--- error_log
cancelled, aborting the call



=== TEST 5: force cancel after a graceful one (still RollingBack): ForceCancelled at once, the late answer ignored
--- http_config eval
my $c = $::HttpConfig; $c =~ s/cancel_check=50ms/cancel_check=1h/; $c
--- config eval
my $c = $::Config; $c =~ s/proxy_read_timeout 500ms;/proxy_read_timeout 30s;/; $c
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: c2"]
--- request eval
[::create('c2', 'mock-service', 'order')]
--- tcp_listen: $TEST_NGINX_RAND_PORT_2
--- tcp_no_close
--- tcp_reply_delay: 2s
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
--- timeout: 8
--- poll eval
[[::ops('c2'), qr/"operationId":"([0-9a-f-]{36})"(?{ $::OP = $^N }),"jobId":1,"executionId":"c2","state":"Running"/],
 [::cancel('false'), qr/^$/],
 [::ops('c2'), qr/"state":"RollingBack","cancelRequested":true/],
 [::cancel('true'), qr/^$/],
 [::ops('c2'), qr/"state":"ForceCancelled"/],
 [::state('c2'), qr/"errorCode":"Cancelled".*"status":"FAILED"/],
 [::ops('c2'), qr/"state":"ForceCancelled"/]]



=== TEST 6: Cancel parameter validation and an unknown operation (FabricError)
--- request eval
["POST /Faults/\$/Cancel?OperationId=6c0e2a3c-54b4-4f4e-9c6f-0d41c2f7a0a1&Force=false",
 "POST /Faults/\$/Cancel?api-version=5.0&OperationId=6c0e2a3c-54b4-4f4e-9c6f-0d41c2f7a0a1&Force=false",
 "POST /Faults/\$/Cancel?api-version=7.0&OperationId=6c0e2a3c-54b4-4f4e-9c6f-0d41c2f7a0a1&Force=false",
 "POST /Faults/\$/Cancel?api-version=6.3&OperationId=6c0e2a3c-54b4-4f4e-9c6f-0d41c2f7a0a1&Force=false",
 "POST /Faults/\$/Cancel?api-version=6.2&OperationId=6c0e2a3c-54b4-4f4e-9c6f-0d41c2f7a0a1&Force=false",
 "POST /Faults/\$/Cancel?api-version=6.0&Force=false",
 "POST /Faults/\$/Cancel?api-version=6.0&OperationId=not-a-uuid&Force=false",
 "POST /Faults/\$/Cancel?api-version=6.0&OperationId=6c0e2a3c-54b4-4f4e-9c6f-0d41c2f7a0a1",
 "POST /Faults/\$/Cancel?api-version=6.0&OperationId=6c0e2a3c-54b4-4f4e-9c6f-0d41c2f7a0a1&Force=maybe",
 "POST /Faults/\$/Cancel?api-version=6.0&OperationId=6c0e2a3c-54b4-4f4e-9c6f-0d41c2f7a0a1&Force=false&timeout=0",
 "POST /Faults/\$/Cancel?api-version=6.0&OperationId=6c0e2a3c-54b4-4f4e-9c6f-0d41c2f7a0a1&Force=false&timeout=4294967296",
 "POST /Faults/\$/Cancel?api-version=6.0&OperationId=6c0e2a3c-54b4-4f4e-9c6f-0d41c2f7a0a1&Force=false&timeout=4294967295",
 "POST /Faults/\$/Cancel?api-version=6.0&OperationId=6c0e2a3c-54b4-4f4e-9c6f-0d41c2f7a0a1&Force=true&timeout=1",
 "GET /Faults/\$/Cancel?api-version=6.0&OperationId=6c0e2a3c-54b4-4f4e-9c6f-0d41c2f7a0a1&Force=true"]
--- error_code eval
[400, 400, 400, 400, 404, 400, 400, 400, 400, 400, 400, 404, 404, 405]
--- response_body_like eval
[qr/^\{"Error":\{"Code":"FABRIC_E_INVALID_ARGUMENT","Message":"The api-version parameter is required."\}\}$/,
 qr/^\{"Error":\{"Code":"FABRIC_E_INVALID_ARGUMENT","Message":"The api-version must be 6.0/,
 qr/^\{"Error":\{"Code":"FABRIC_E_INVALID_ARGUMENT","Message":"The api-version must be 6.0/,
 qr/^\{"Error":\{"Code":"FABRIC_E_INVALID_ARGUMENT","Message":"The api-version must be 6.0/,
 qr/^\{"Error":\{"Code":"FABRIC_E_TEST_COMMAND_OPERATION_ID_NOT_FOUND"/,
 qr/^\{"Error":\{"Code":"FABRIC_E_INVALID_ARGUMENT","Message":"OperationId is required and must be a UUID."\}\}$/,
 qr/^\{"Error":\{"Code":"FABRIC_E_INVALID_ARGUMENT","Message":"OperationId is required and must be a UUID."\}\}$/,
 qr/^\{"Error":\{"Code":"FABRIC_E_INVALID_ARGUMENT","Message":"The Force parameter is required."\}\}$/,
 qr/^\{"Error":\{"Code":"FABRIC_E_INVALID_ARGUMENT","Message":"Force must be true or false."\}\}$/,
 qr/^\{"Error":\{"Code":"FABRIC_E_INVALID_ARGUMENT","Message":"timeout must be/,
 qr/^\{"Error":\{"Code":"FABRIC_E_INVALID_ARGUMENT","Message":"timeout must be/,
 qr/^\{"Error":\{"Code":"FABRIC_E_TEST_COMMAND_OPERATION_ID_NOT_FOUND"/,
 qr/^\{"Error":\{"Code":"FABRIC_E_TEST_COMMAND_OPERATION_ID_NOT_FOUND"/,
 qr/.*/]
