# The nine commands after create (spec 2.2-2.9): each one's happy path, each
# precondition and generic check it can fail, the status mapping of spec
# 3.5 and the function named in the CommandResult (the handler when the
# handler refused, SimpleCommandAggregate.process for the generic checks).
#
# Blocks usually start by creating "x1" (the worked example of spec 1.4) and
# send "Content-Type: application/json" and "Command-Aggregate-Id: x1" with
# every request: the id header only matters to create, and the content type
# only to requests with a body.

use Test::Nginx::Socket 'no_plan';
use JSON::PP ();

no_root_location();
no_shuffle();

# the default config, preprocessor and helpers (t/lib/Compensation)
use Compensation::Commands;

run_tests();

__DATA__

=== TEST 1: prepare_compensation on FAILED: PREPARED, retries 1, the backoff of spec 1.4 from the server clock
--- request eval
[::create_req(), "PUT $::U/prepare_compensation", "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: Ok", "Wow-Error-Code: Ok"]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2),
 ::state_re(status => 'PREPARED', retryState => ::rs_re(retries => 1, min => 180, to => 120))]



=== TEST 2: prepare takes the id from the path, overriding an "id" in the body; {} is an empty body
--- request eval
[::create_req(), "PUT $::U/prepare_compensation\n{\"id\":\"zzz\"}", "GET $::U/state",
 "GET /execution_failed/zzz/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 404]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2),
 ::state_re(status => 'PREPARED', retryState => ::rs_re(retries => 1, min => 180, to => 120)),
 ::error_re('NotFound')]



=== TEST 3: prepare on PREPARED within the execution window: IllegalState "ExecutionFailed can not retry." (400), state unchanged
--- request eval
[::create_req(), "PUT $::U/prepare_compensation", "PUT $::U/prepare_compensation", "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 400, 200]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: Ok", "Wow-Error-Code: IllegalState", "Wow-Error-Code: Ok"]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2),
 ::fail_re('IllegalState', 'ExecutionFailed can not retry.', 'onPrepare'),
 ::state_re(status => 'PREPARED', retryState => ::rs_re(retries => 1, min => 180, to => 120))]



=== TEST 4: prepare with retries == maxRetries: "can not retry"; force_prepare still works
--- request eval
[::create_req(retrySpec => ::spec(0, 180, 120)), "PUT $::U/prepare_compensation",
 "GET $::U/state", "PUT $::U/force_prepare_compensation", "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 400, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1),
 ::fail_re('IllegalState', 'ExecutionFailed can not retry.', 'onPrepare'),
 ::exact(::state_json(retrySpec => ::spec_json(0, 180, 120),
                      isBelowRetryThreshold => 'false', isRetryable => 'false')),
 ::ok_re('onForcePrepare', 2),
 ::state_re(status => 'PREPARED', retrySpec => quotemeta(::spec_json(0, 180, 120)),
            retryState => ::rs_re(retries => 1, min => 180, to => 120),
            isBelowRetryThreshold => 'false', isRetryable => 'false')]



=== TEST 5: force_prepare_compensation on FAILED
--- request eval
[::create_req(retrySpec => ::spec(3, 60, 30)), "PUT $::U/force_prepare_compensation", "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onForcePrepare', 2),
 ::state_re(status => 'PREPARED', retrySpec => quotemeta(::spec_json(3, 60, 30)),
            retryState => ::rs_re(retries => 1, min => 60, to => 30))]



=== TEST 6: force_prepare on PREPARED within the execution window: "ExecutionFailed can not force retry."
--- request eval
[::create_req(), "PUT $::U/prepare_compensation", "PUT $::U/force_prepare_compensation",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 400, 200]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: Ok", "Wow-Error-Code: IllegalState", "Wow-Error-Code: Ok"]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2),
 ::fail_re('IllegalState', 'ExecutionFailed can not force retry.', 'onForcePrepare'),
 ::state_re(status => 'PREPARED', retryState => ::rs_re(retries => 1, min => 180, to => 120))]



=== TEST 7: prepare and force_prepare on PREPARED after the execution window (executionTimeout 0) succeed
--- request eval
[::create_req(retrySpec => ::spec(5, 1, 0)), "PUT $::U/prepare_compensation", "GET $::U/state",
 "GET $::U/state", "PUT $::U/prepare_compensation", "GET $::U/state", "GET $::U/state",
 "PUT $::U/force_prepare_compensation", "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2),
 (::state_re(status => 'PREPARED', retrySpec => quotemeta(::spec_json(5, 1, 0)),
             retryState => ::rs_re(retries => 1, min => 1, to => 0))) x 2,
 ::ok_re('onPrepare', 3),
 (::state_re(status => 'PREPARED', retrySpec => quotemeta(::spec_json(5, 1, 0)),
             retryState => ::rs_re(retries => 2, min => 1, to => 0))) x 2,
 ::ok_re('onForcePrepare', 4),
 ::state_re(status => 'PREPARED', retrySpec => quotemeta(::spec_json(5, 1, 0)),
            retryState => ::rs_re(retries => 3, min => 1, to => 0))]



=== TEST 8: apply_execution_success on FAILED: IllegalState "ExecutionFailed is not prepared."
--- request eval
[::create_req(), "PUT $::U/apply_execution_success\n{\"executeAt\":1719800500000}", "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 400, 200]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: IllegalState", "Wow-Error-Code: Ok"]
--- response_body_like eval
[::ok_re('onCreate', 1),
 ::fail_re('IllegalState', 'ExecutionFailed is not prepared.', 'onSucceed'),
 ::exact(::state_json())]



=== TEST 9: apply_execution_success on PREPARED: SUCCEEDED, executeAt set, error and retryState kept, not retryable
--- request eval
[::create_req(recoverable => 'RECOVERABLE'), "PUT $::U/prepare_compensation",
 "PUT $::U/apply_execution_success\n{\"executeAt\":1719800500000}", "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2), ::ok_re('onSucceed', 3),
 ::state_re(status => 'SUCCEEDED', executeAt => '1719800500000', recoverable => 'RECOVERABLE',
            retryState => ::rs_re(retries => 1, min => 180, to => 120),
            isBelowRetryThreshold => 'true', isRetryable => 'false')]



=== TEST 10: SUCCEEDED is terminal: prepare, force_prepare, apply_execution_success/failed all fail with 400
--- request eval
[::create_req(), "PUT $::U/prepare_compensation",
 "PUT $::U/apply_execution_success\n{\"executeAt\":1719800500000}",
 "PUT $::U/prepare_compensation", "PUT $::U/force_prepare_compensation",
 "PUT $::U/apply_execution_success\n{\"executeAt\":1719800600000}",
 "PUT $::U/apply_execution_failed\n{\"error\":{\"errorCode\":\"E\",\"errorMsg\":\"m\",\"stackTrace\":\"s\"},\"executeAt\":1719800600000}",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 400, 400, 400, 400, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2), ::ok_re('onSucceed', 3),
 ::fail_re('IllegalState', 'ExecutionFailed can not retry.', 'onPrepare'),
 ::fail_re('IllegalState', 'ExecutionFailed can not force retry.', 'onForcePrepare'),
 ::fail_re('IllegalState', 'ExecutionFailed is not prepared.', 'onSucceed'),
 ::fail_re('IllegalState', 'ExecutionFailed is not prepared.', 'onFailed'),
 ::state_re(status => 'SUCCEEDED', executeAt => '1719800500000',
            retryState => ::rs_re(retries => 1, min => 180, to => 120),
            isRetryable => 'false')]



=== TEST 11: apply_execution_success body errors are 400 with bindingErrors, and write nothing
--- request eval
[::create_req(), "PUT $::U/prepare_compensation",
 "PUT $::U/apply_execution_success",
 "PUT $::U/apply_execution_success\n{}",
 "PUT $::U/apply_execution_success\n{\"executeAt\":\"later\"}",
 "PUT $::U/apply_execution_success\n{\"executeAt\":",
 "PUT $::U/apply_execution_success\n{\"executeAt\":1.25}",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 400, 400, 400, 400, 400, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2),
 ::error_re('IllegalArgument', undef, 'executeAt'),
 ::error_re('IllegalArgument', undef, 'executeAt'),
 ::error_re('IllegalArgument', undef, 'executeAt'),
 ::error_re('IllegalArgument', undef, 'body'),
 ::error_re('IllegalArgument', undef, 'executeAt'),
 ::state_re(status => 'PREPARED', retryState => ::rs_re(retries => 1, min => 180, to => 120))]



=== TEST 12: apply_execution_failed on FAILED: "ExecutionFailed is not prepared."
--- request eval
[::create_req(),
 "PUT $::U/apply_execution_failed\n{\"error\":{\"errorCode\":\"E\",\"errorMsg\":\"m\",\"stackTrace\":\"s\"},\"executeAt\":1719800600000}",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 400, 200]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: IllegalState", "Wow-Error-Code: Ok"]
--- response_body_like eval
[::ok_re('onCreate', 1),
 ::fail_re('IllegalState', 'ExecutionFailed is not prepared.', 'onFailed'),
 ::exact(::state_json())]



=== TEST 13: apply_execution_failed on PREPARED: FAILED with the new error, executeAt and recoverable; retryState kept
--- request eval
[::create_req(), "PUT $::U/prepare_compensation",
 "PUT $::U/apply_execution_failed\n{\"error\":{\"errorCode\":\"Timeout\",\"errorMsg\":\"again\",\"stackTrace\":\"at y\",\"bindingErrors\":[{\"name\":\"n\",\"msg\":\"m\"}]},\"executeAt\":1719800600000,\"recoverable\":\"recoverable\"}",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2), ::ok_re('onFailed', 3),
 ::state_re(status => 'FAILED', executeAt => '1719800600000', recoverable => 'RECOVERABLE',
            error => quotemeta('{"errorCode":"Timeout","errorMsg":"again","stackTrace":"at y","bindingErrors":[{"name":"n","msg":"m"}],"succeeded":false}'),
            retryState => ::rs_re(retries => 1, min => 180, to => 120))]



=== TEST 14: apply_execution_failed overwrites recoverable, with UNKNOWN when the command has none (spec 2.5)
--- request eval
[::create_req(recoverable => 'UNRECOVERABLE'), "PUT $::U/prepare_compensation",
 "PUT $::U/apply_execution_failed\n{\"error\":{\"errorCode\":\"E\",\"errorMsg\":\"m\",\"stackTrace\":\"s\"},\"executeAt\":1719800600000}",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2), ::ok_re('onFailed', 3),
 ::state_re(status => 'FAILED', executeAt => '1719800600000', recoverable => 'UNKNOWN',
            error => quotemeta('{"errorCode":"E","errorMsg":"m","stackTrace":"s","succeeded":false}'),
            retryState => ::rs_re(retries => 1, min => 180, to => 120))]



=== TEST 15: apply_execution_failed body errors are 400 with bindingErrors, and write nothing
--- request eval
[::create_req(), "PUT $::U/prepare_compensation",
 "PUT $::U/apply_execution_failed",
 "PUT $::U/apply_execution_failed\n{\"error\":{\"errorCode\":\"E\",\"stackTrace\":\"s\"},\"executeAt\":1}",
 "PUT $::U/apply_execution_failed\n{\"error\":{\"errorCode\":\"E\",\"errorMsg\":\"m\",\"stackTrace\":\"s\"},\"executeAt\":1,\"recoverable\":\"sometimes\"}",
 "PUT $::U/apply_execution_failed\n{\"error\":\"boom\",\"executeAt\":1}",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 400, 400, 400, 400, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2),
 ::error_re('IllegalArgument', undef, 'error', 'executeAt'),
 ::error_re('IllegalArgument', undef, 'error.errorMsg'),
 ::error_re('IllegalArgument', undef, 'recoverable'),
 ::error_re('IllegalArgument', undef, 'error'),
 ::state_re(status => 'PREPARED', retryState => ::rs_re(retries => 1, min => 180, to => 120))]



=== TEST 16: apply_retry_spec replaces retrySpec only: retryState is not recomputed (spec 2.6)
--- request eval
[::create_req(), "PUT $::U/apply_retry_spec\n{\"maxRetries\":3,\"minBackoff\":5,\"executionTimeout\":7}",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onApplyRetrySpec', 2),
 ::exact(::state_json(retrySpec => ::spec_json(3, 5, 7)))]



=== TEST 17: apply_retry_spec with the same spec is allowed (no "already" check)
--- request eval
[::create_req(), "PUT $::U/apply_retry_spec\n{\"maxRetries\":10,\"minBackoff\":180,\"executionTimeout\":120}",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onApplyRetrySpec', 2), ::exact(::state_json())]



=== TEST 18: apply_retry_spec validation ([HEAD] 1.4): negative values IllegalArgument, overflow BadRequest, all 400 from the handler
--- request eval
[::create_req(),
 "PUT $::U/apply_retry_spec\n{\"maxRetries\":-1,\"minBackoff\":180,\"executionTimeout\":120}",
 "PUT $::U/apply_retry_spec\n{\"maxRetries\":3,\"minBackoff\":-1,\"executionTimeout\":120}",
 "PUT $::U/apply_retry_spec\n{\"maxRetries\":3,\"minBackoff\":180,\"executionTimeout\":-1}",
 "PUT $::U/apply_retry_spec\n{\"maxRetries\":32,\"minBackoff\":2147483647,\"executionTimeout\":120}",
 "PUT $::U/apply_retry_spec\n{\"maxRetries\":63,\"minBackoff\":1,\"executionTimeout\":0}",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 400, 400, 400, 400, 400, 200]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: IllegalArgument", "Wow-Error-Code: IllegalArgument",
 "Wow-Error-Code: IllegalArgument", "Wow-Error-Code: BadRequest", "Wow-Error-Code: BadRequest",
 "Wow-Error-Code: Ok"]
--- response_body_like eval
[::ok_re('onCreate', 1),
 ::fail_re('IllegalArgument', undef, 'onApplyRetrySpec'),
 ::fail_re('IllegalArgument', undef, 'onApplyRetrySpec'),
 ::fail_re('IllegalArgument', undef, 'onApplyRetrySpec'),
 ::fail_re('BadRequest', undef, 'onApplyRetrySpec'),
 ::fail_re('BadRequest', undef, 'onApplyRetrySpec'),
 ::exact(::state_json())]



=== TEST 19: apply_retry_spec edges: minBackoff 0 with 1000 retries, maxRetries 0, Int.MAX timeout are valid
--- request eval
[::create_req(),
 "PUT $::U/apply_retry_spec\n{\"maxRetries\":1000,\"minBackoff\":0,\"executionTimeout\":0}",
 "PUT $::U/apply_retry_spec\n{\"maxRetries\":0,\"minBackoff\":2147483647,\"executionTimeout\":2147483647}",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onApplyRetrySpec', 2), ::ok_re('onApplyRetrySpec', 3),
 ::exact(::state_json(retrySpec => ::spec_json(0, 2147483647, 2147483647),
                      isBelowRetryThreshold => 'false', isRetryable => 'false'))]



=== TEST 20: apply_retry_spec body errors: every field is required and an int32
--- request eval
[::create_req(),
 "PUT $::U/apply_retry_spec",
 "PUT $::U/apply_retry_spec\n{\"maxRetries\":3}",
 "PUT $::U/apply_retry_spec\n{\"maxRetries\":\"3\",\"minBackoff\":1.5,\"executionTimeout\":2147483648}",
 "PUT $::U/apply_retry_spec\n[3,1,1]",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 400, 400, 400, 400, 200]
--- response_body_like eval
[::ok_re('onCreate', 1),
 ::error_re('IllegalArgument', undef, 'maxRetries', 'minBackoff', 'executionTimeout'),
 ::error_re('IllegalArgument', undef, 'minBackoff', 'executionTimeout'),
 ::error_re('IllegalArgument', undef, 'maxRetries', 'minBackoff', 'executionTimeout'),
 ::error_re('IllegalArgument', undef, 'body'),
 ::exact(::state_json())]



=== TEST 21: change_function replaces the function
--- request eval
[::create_req(),
 "PUT $::U/change_function\n{\"functionKind\":\"STATE_EVENT\",\"contextName\":\"order-service\",\"processorName\":\"OrderSaga\",\"name\":\"onStateEvent\"}",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onChangeFunction', 2),
 ::exact(::state_json(function => '{"functionKind":"STATE_EVENT","contextName":"order-service","processorName":"OrderSaga","name":"onStateEvent"}'))]



=== TEST 22: change_function to the same function (all four fields, kind case-insensitive) is IllegalArgument 400
--- request eval
[::create_req(),
 "PUT $::U/change_function\n$::FUNCTION",
 "PUT $::U/change_function\n{\"functionKind\":\"event\",\"contextName\":\"order-service\",\"processorName\":\"OrderProjector\",\"name\":\"onOrderCreated\"}",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 400, 400, 200]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: IllegalArgument", "Wow-Error-Code: IllegalArgument", "Wow-Error-Code: Ok"]
--- response_body_like eval
[::ok_re('onCreate', 1),
 ::fail_re('IllegalArgument', undef, 'onChangeFunction', msg_re => 'ExecutionFailed function is already changed to ' . $::STR),
 ::fail_re('IllegalArgument', undef, 'onChangeFunction', msg_re => 'ExecutionFailed function is already changed to ' . $::STR),
 ::exact(::state_json())]



=== TEST 23: change_function differing in any single field is a change
--- request eval
[::create_req(),
 "PUT $::U/change_function\n{\"functionKind\":\"EVENT\",\"contextName\":\"order-service\",\"processorName\":\"OrderProjector\",\"name\":\"onOrderPaid\"}",
 "PUT $::U/change_function\n{\"functionKind\":\"EVENT\",\"contextName\":\"order-service\",\"processorName\":\"Other\",\"name\":\"onOrderPaid\"}",
 "PUT $::U/change_function\n{\"functionKind\":\"EVENT\",\"contextName\":\"pay-service\",\"processorName\":\"Other\",\"name\":\"onOrderPaid\"}",
 "PUT $::U/change_function\n{\"functionKind\":\"COMMAND\",\"contextName\":\"pay-service\",\"processorName\":\"Other\",\"name\":\"onOrderPaid\"}",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onChangeFunction', 2), ::ok_re('onChangeFunction', 3),
 ::ok_re('onChangeFunction', 4), ::ok_re('onChangeFunction', 5),
 ::exact(::state_json(function => '{"functionKind":"COMMAND","contextName":"pay-service","processorName":"Other","name":"onOrderPaid"}'))]



=== TEST 24: change_function body errors
--- request eval
[::create_req(),
 "PUT $::U/change_function",
 "PUT $::U/change_function\n{\"functionKind\":\"EVENT\",\"contextName\":\"c\",\"processorName\":\"p\"}",
 "PUT $::U/change_function\n{\"functionKind\":\"LAMBDA\",\"contextName\":\"c\",\"processorName\":\"p\",\"name\":\"n\"}",
 "PUT $::U/change_function\n{\"functionKind\":\"EVENT\",\"contextName\":1,\"processorName\":null,\"name\":\"n\"}",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 400, 400, 400, 400, 200]
--- response_body_like eval
[::ok_re('onCreate', 1),
 ::error_re('IllegalArgument', undef, 'functionKind', 'contextName', 'processorName', 'name'),
 ::error_re('IllegalArgument', undef, 'name'),
 ::error_re('IllegalArgument', undef, 'functionKind'),
 ::error_re('IllegalArgument', undef, 'contextName', 'processorName'),
 ::exact(::state_json())]



=== TEST 25: mark_recoverable sets recoverable (case-insensitive)
--- request eval
[::create_req(), "PUT $::U/mark_recoverable\n{\"recoverable\":\"unrecoverable\"}", "GET $::U/state",
 "PUT $::U/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}", "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onMarkRecoverable', 2),
 ::exact(::state_json(recoverable => 'UNRECOVERABLE')),
 ::ok_re('onMarkRecoverable', 3),
 ::exact(::state_json(recoverable => 'RECOVERABLE'))]



=== TEST 26: mark_recoverable to the current value is IllegalArgument "already marked" (400)
--- request eval
[::create_req(), "PUT $::U/mark_recoverable\n{\"recoverable\":\"UNKNOWN\"}",
 "PUT $::U/mark_recoverable\n{\"recoverable\":\"unknown\"}", "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 400, 400, 200]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: IllegalArgument", "Wow-Error-Code: IllegalArgument", "Wow-Error-Code: Ok"]
--- response_body_like eval
[::ok_re('onCreate', 1),
 ::fail_re('IllegalArgument', 'ExecutionFailed recoverable is already marked to UNKNOWN.', 'onMarkRecoverable'),
 ::fail_re('IllegalArgument', 'ExecutionFailed recoverable is already marked to UNKNOWN.', 'onMarkRecoverable'),
 ::exact(::state_json())]



=== TEST 27: mark_recoverable body errors
--- request eval
[::create_req(), "PUT $::U/mark_recoverable", "PUT $::U/mark_recoverable\n{\"recoverable\":\"yes\"}",
 "PUT $::U/mark_recoverable\n{\"recoverable\":true}", "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 400, 400, 400, 200]
--- response_body_like eval
[::ok_re('onCreate', 1),
 ::error_re('IllegalArgument', undef, 'recoverable'),
 ::error_re('IllegalArgument', undef, 'recoverable'),
 ::error_re('IllegalArgument', undef, 'recoverable'),
 ::exact(::state_json())]



=== TEST 28: apply_retry_spec, change_function and mark_recoverable are allowed in PREPARED and SUCCEEDED
--- request eval
[::create_req(), "PUT $::U/prepare_compensation",
 "PUT $::U/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}",
 "PUT $::U/apply_retry_spec\n{\"maxRetries\":4,\"minBackoff\":180,\"executionTimeout\":120}",
 "PUT $::U/apply_execution_success\n{\"executeAt\":1719800500000}",
 "PUT $::U/change_function\n{\"functionKind\":\"EVENT\",\"contextName\":\"order-service\",\"processorName\":\"OrderProjector\",\"name\":\"v2\"}",
 "PUT $::U/mark_recoverable\n{\"recoverable\":\"UNRECOVERABLE\"}",
 "PUT $::U/apply_retry_spec\n{\"maxRetries\":9,\"minBackoff\":180,\"executionTimeout\":120}",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2), ::ok_re('onMarkRecoverable', 3),
 ::ok_re('onApplyRetrySpec', 4), ::ok_re('onSucceed', 5), ::ok_re('onChangeFunction', 6),
 ::ok_re('onMarkRecoverable', 7), ::ok_re('onApplyRetrySpec', 8),
 ::state_re(status => 'SUCCEEDED', executeAt => '1719800500000', recoverable => 'UNRECOVERABLE',
            function => quotemeta('{"functionKind":"EVENT","contextName":"order-service","processorName":"OrderProjector","name":"v2"}'),
            retrySpec => quotemeta(::spec_json(9, 180, 120)),
            retryState => ::rs_re(retries => 1, min => 180, to => 120),
            isRetryable => 'false')]



=== TEST 29: DELETE: 200 onDelete; GET state 404; every later command but recover is 410 IllegalAccessDeletedAggregate
--- request eval
[::create_req(), "DELETE $::U", "GET $::U/state", "DELETE $::U",
 "PUT $::U/prepare_compensation", "PUT $::U/force_prepare_compensation",
 "PUT $::U/apply_execution_success\n{\"executeAt\":1}",
 "PUT $::U/apply_execution_failed\n{\"error\":{\"errorCode\":\"E\",\"errorMsg\":\"m\",\"stackTrace\":\"s\"},\"executeAt\":1}",
 "PUT $::U/apply_retry_spec\n{\"maxRetries\":3,\"minBackoff\":1,\"executionTimeout\":1}",
 "PUT $::U/change_function\n{\"functionKind\":\"EVENT\",\"contextName\":\"c\",\"processorName\":\"p\",\"name\":\"n\"}",
 "PUT $::U/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}",
 ::create_req()]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 404, 410, 410, 410, 410, 410, 410, 410, 410, 409]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: Ok", "Wow-Error-Code: NotFound",
 ("Wow-Error-Code: IllegalAccessDeletedAggregate") x 8,
 "Wow-Error-Code: CommandExpectVersionConflict"]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onDelete', 2), ::error_re('NotFound'),
 (::fail_re('IllegalAccessDeletedAggregate', undef, 'process')) x 8,
 ::fail_re('CommandExpectVersionConflict', undef, 'process')]



=== TEST 30: DELETE accepts an empty JSON object as body
--- request eval
[::create_req(), "DELETE $::U\n{}", "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 404]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onDelete', 2), ::error_re('NotFound')]



=== TEST 31: recover brings a deleted aggregate back unchanged; commands work again
--- request eval
[::create_req(), "PUT $::U/prepare_compensation", "DELETE $::U", "PUT $::U/recover", "GET $::U/state",
 "PUT $::U/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2), ::ok_re('onDelete', 3), ::ok_re('onRecover', 4),
 ::state_re(status => 'PREPARED', retryState => ::rs_re(retries => 1, min => 180, to => 120)),
 ::ok_re('onMarkRecoverable', 5)]



=== TEST 32: recover on an aggregate that is not deleted is IllegalState 400 from the generic checks
--- request eval
[::create_req(), "PUT $::U/recover", "DELETE $::U", "PUT $::U/recover", "PUT $::U/recover"]
--- more_headers eval
$::H
--- error_code eval
[200, 400, 200, 200, 400]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: IllegalState", "Wow-Error-Code: Ok", "Wow-Error-Code: Ok", "Wow-Error-Code: IllegalState"]
--- response_body_like eval
[::ok_re('onCreate', 1), ::fail_re('IllegalState', undef, 'process'), ::ok_re('onDelete', 2),
 ::ok_re('onRecover', 3), ::fail_re('IllegalState', undef, 'process')]



=== TEST 33: every command on an unknown id is 404 NotFound "<id> is not initialized."
--- request eval
["PUT /execution_failed/nope/prepare_compensation",
 "PUT /execution_failed/nope/force_prepare_compensation",
 "PUT /execution_failed/nope/apply_execution_success\n{\"executeAt\":1}",
 "PUT /execution_failed/nope/apply_execution_failed\n{\"error\":{\"errorCode\":\"E\",\"errorMsg\":\"m\",\"stackTrace\":\"s\"},\"executeAt\":1}",
 "PUT /execution_failed/nope/apply_retry_spec\n{\"maxRetries\":3,\"minBackoff\":1,\"executionTimeout\":1}",
 "PUT /execution_failed/nope/change_function\n{\"functionKind\":\"EVENT\",\"contextName\":\"c\",\"processorName\":\"p\",\"name\":\"n\"}",
 "PUT /execution_failed/nope/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}",
 "DELETE /execution_failed/nope",
 "PUT /execution_failed/nope/recover",
 "GET /execution_failed/nope/state"]
--- more_headers eval
$::CT
--- error_code eval
[(404) x 10]
--- response_headers eval
[("Wow-Error-Code: NotFound") x 10]
--- response_body_like eval
[(::result_re(agg => 'nope', code => 'NotFound', msg => 'nope is not initialized.',
              fn => 'process', version => 'null')) x 9,
 ::error_re('NotFound')]



=== TEST 34: SSE on a failed command: 200, SENT succeeded, PROCESSED carries the error
--- request eval
[::create_req(), "PUT $::U/apply_execution_success\n{\"executeAt\":1}"]
--- more_headers eval
["$::H", "$::CT\nAccept: text/event-stream"]
--- error_code eval
[200, 200]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: Ok\nContent-Type: text/event-stream"]
--- response_body_like eval
[::ok_re('onCreate', 1),
 qr/\Aid:(\w{15})\nevent:SENT\ndata:\{"id":"\1",[^\n]*"stage":"SENT",[^\n]*"aggregateId":"x1",[^\n]*"errorCode":"Ok","errorMsg":"",[^\n]*"succeeded":true\}\n\nid:(\w{15})\nevent:PROCESSED\ndata:\{"id":"\2",[^\n]*"stage":"PROCESSED",[^\n]*"processorName":"ExecutionFailed","name":"onSucceed"\},"errorCode":"IllegalState","errorMsg":"ExecutionFailed is not prepared.",[^\n]*"succeeded":false\}\n\n\z/]



=== TEST 35: SSE on a successful prepare
--- request eval
[::create_req(), "PUT $::U/prepare_compensation"]
--- more_headers eval
["$::H", "Accept: text/event-stream"]
--- error_code eval
[200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1),
 qr/\Aid:\w{15}\nevent:SENT\ndata:\{[^\n]*"aggregateVersion":null,[^\n]*"name":"send"\},"errorCode":"Ok"[^\n]*\}\n\nid:\w{15}\nevent:PROCESSED\ndata:\{[^\n]*"aggregateVersion":2,[^\n]*"name":"onPrepare"\},"errorCode":"Ok"[^\n]*"succeeded":true\}\n\n\z/]



=== TEST 36: a body with a non-JSON content type on a command with a body is 415; an empty body needs none
--- request eval
[::create_req(), "PUT $::U/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}",
 "PUT $::U/prepare_compensation", "GET $::U/state"]
--- more_headers eval
["$::H", "Content-Type: text/plain", "", ""]
--- error_code eval
[200, 415, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::error_re('UnsupportedMediaType'), ::ok_re('onPrepare', 2),
 ::state_re(status => 'PREPARED', retryState => ::rs_re(retries => 1, min => 180, to => 120))]



=== TEST 37: PUT {id}/tags (apply ABAC resource tags): event default_resource_tags_applied; the snapshot carries the tags and spaceId; new tags replace the old; the state is unchanged
--- request eval
[::create_req(), "PUT $::U/tags\n{\"tags\":{\"dept\":[\"eng\",\"pm\"],\"role\":[\"admin\"]},\"x\":1}",
 "GET $::U/snapshot", "PUT $::U/tags\n{\"tags\":{\"dept\":[\"ops\"]}}", "GET $::U/snapshot",
 "GET $::U/event/2/3", "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onApplyResourceTags', 2),
 qr/\A\{[^{]*"ownerId":"","spaceId":"","aggregateId":"x1","version":2,[^{]*"tags":\{"dept":\["eng","pm"\],"role":\["admin"\]\},"deleted":false,"state":\{/,
 ::ok_re('onApplyResourceTags', 3),
 qr/\A\{[^{]*"version":3,[^{]*"tags":\{"dept":\["ops"\]\},"deleted":false,"state":\{/,
 qr/\A\[\{[^\n]*"ownerId":"","spaceId":"",[^\n]*"version":2,"body":\[\{"id":"$::ID15","name":"default_resource_tags_applied","revision":"0.0.1","bodyType":"me.ahoo.wow.api.abac.DefaultResourceTagsApplied","body":\{"tags":\{"dept":\["eng","pm"\],"role":\["admin"\]\}\}\}\][^\n]*"version":3,"body":\[\{[^\n]*"body":\{"tags":\{"dept":\["ops"\]\}\}\}\]/,
 ::state_re()]



=== TEST 38: tags: a missing or malformed map is 400 with binding errors; unknown id 404; another owner 403; deleted 410; the facade takes the command too
--- request eval
[::create_req(), "PUT $::U/tags", "PUT $::U/tags\n{\"tags\":{\"a\":\"b\",\"c\":[1]}}",
 "PUT /execution_failed/nope/tags\n{\"tags\":{}}", "PUT $::U/tags\n{\"tags\":{}}",
 "POST /wow/command/send\n{\"tags\":{\"k\":[\"v\"]}}", "DELETE $::U",
 "PUT $::U/tags\n{\"tags\":{}}"]
--- more_headers eval
["$::H", "$::H", "$::H", "$::H", "$::H\nCommand-Owner-Id: someone",
 "$::H\nCommand-Type: me.ahoo.wow.api.abac.DefaultApplyResourceTags\nCommand-Aggregate-Name: execution_failed",
 "$::H", "$::H"]
--- error_code eval
[200, 400, 400, 404, 403, 200, 200, 410]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: IllegalArgument", "Wow-Error-Code: IllegalArgument",
 "Wow-Error-Code: NotFound", "Wow-Error-Code: IllegalAccessOwnerAggregate", "Wow-Error-Code: Ok",
 "Wow-Error-Code: Ok", "Wow-Error-Code: IllegalAccessDeletedAggregate"]
--- response_body_like eval
[::ok_re('onCreate', 1), ::error_re('IllegalArgument', undef, 'tags'),
 ::error_re('IllegalArgument', undef, 'tags.a', 'tags.c[0]'),
 ::result_re(agg => 'nope', code => 'NotFound', msg => 'nope is not initialized.', fn => 'process', version => 'null'),
 ::fail_re('IllegalAccessOwnerAggregate', undef, 'process'),
 ::ok_re('onApplyResourceTags', 2), ::ok_re('onDelete', 3),
 ::fail_re('IllegalAccessDeletedAggregate', undef, 'process')]



=== TEST 39: GET on the tags route is 405 with Allow: PUT
--- request
GET /execution_failed/x1/tags
--- error_code: 405
--- response_headers
Allow: PUT
Wow-Error-Code: MethodNotAllowed
