# POST /execution_failed/create_execution_failed (spec 2.1, 3.2-3.5):
# the CommandResult, the created state and the worked example of spec 1.4,
# every kind of bad body and bad command header, SSE and the wait stages.
#
# Every block gets an empty store (the harness recreates logs/ per block).
# Blocks without their own http_config/config/no_error_log get the defaults
# set by the preprocessor below.

use Test::Nginx::Socket 'no_plan';
use JSON::PP ();

no_root_location();
no_shuffle();

# the default config, preprocessor and helpers (t/lib/Compensation)
use Compensation::Commands;

run_tests();

__DATA__

=== TEST 1: create with Command-Aggregate-Id: the CommandResult, then the state of the worked example (spec 1.4)
--- request eval
[::create_req(), "GET /execution_failed/x1/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1", ""]
--- error_code eval
[200, 200]
--- response_headers eval
["Wow-Error-Code: Ok\nContent-Type: application/json", "Wow-Error-Code: Ok\nContent-Type: application/json"]
--- response_body_like eval
[::result_re(agg => 'x1', version => 1, fn => 'onCreate'), ::exact(::state_json())]



=== TEST 2: create without Command-Aggregate-Id gets a 15-character radix-62 CosId
--- request eval
::create_req()
--- more_headers eval
$::CT
--- response_headers
Wow-Error-Code: Ok
--- response_body_like eval
::result_re(agg => $::ID15, version => 1)



=== TEST 3: creates without an id get different ids, increasing in time order (CosId, spec 6.4)
--- request eval
[map { ::create_req() } 1 .. 5]
--- more_headers eval
$::CT
--- error_code eval
[(200) x 5]
--- response_body_like eval
my ($prev, %seen) = ('');
[map {
    qr/"aggregateId":"([0-9A-Za-z]{15})"(?(?{ !$seen{$1}++ && ($1 gt $prev) && (($prev = $1), 1) })|(*FAIL))/
 } 1 .. 5]



=== TEST 4: the command's retrySpec is stored and its retry state comes from it ([HEAD] 2.1)
--- request eval
[::create_req(retrySpec => {maxRetries => 3, minBackoff => 60, executionTimeout => 30}),
 "GET /execution_failed/x1/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1", ""]
--- error_code eval
[200, 200]
--- response_body_like eval
[::result_re(agg => 'x1', version => 1),
 ::exact(::state_json(
    retrySpec => '{"maxRetries":3,"minBackoff":60,"executionTimeout":30}',
    retryState => '{"retries":0,"retryAt":1719800000000,"timeoutAt":1719800030000,"nextRetryAt":1719800060000}'))]



=== TEST 5: retrySpec null means the server default
--- request eval
[::create_req(retrySpec => undef), "GET /execution_failed/x1/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1", ""]
--- error_code eval
[200, 200]
--- response_body_like eval
[::result_re(agg => 'x1', version => 1), ::exact(::state_json())]



=== TEST 6: compensation_retry_spec sets the server default used without a retrySpec
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_retry_spec max_retries=3 min_backoff=10s execution_timeout=1m;
--- request eval
[::create_req(), "GET /execution_failed/x1/state",
 ::create_req(retrySpec => {maxRetries => 1, minBackoff => 2, executionTimeout => 3}),
 "GET /execution_failed/x2/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1", "", "$::CT\nCommand-Aggregate-Id: x2", ""]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[qr/"succeeded":true/,
 ::exact(::state_json(
    retrySpec => '{"maxRetries":3,"minBackoff":10,"executionTimeout":60}',
    retryState => '{"retries":0,"retryAt":1719800000000,"timeoutAt":1719800060000,"nextRetryAt":1719800010000}')),
 qr/"succeeded":true/,
 ::exact(::state_json(id => 'x2',
    retrySpec => '{"maxRetries":1,"minBackoff":2,"executionTimeout":3}',
    retryState => '{"retries":0,"retryAt":1719800000000,"timeoutAt":1719800003000,"nextRetryAt":1719800002000}'))]



=== TEST 7: minBackoff 0: nextRetryAt is executeAt; maxRetries 0: not retryable from the start
--- request eval
[::create_req(retrySpec => {maxRetries => 0, minBackoff => 0, executionTimeout => 0}),
 "GET /execution_failed/x1/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1", ""]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"succeeded":true/,
 ::exact(::state_json(
    retrySpec => '{"maxRetries":0,"minBackoff":0,"executionTimeout":0}',
    retryState => '{"retries":0,"retryAt":1719800000000,"timeoutAt":1719800000000,"nextRetryAt":1719800000000}',
    isBelowRetryThreshold => 'false', isRetryable => 'false'))]



=== TEST 8: enums are case-insensitive and stored canonically; recoverable defaults to UNKNOWN
--- request eval
[::create_req('function.functionKind' => 'state_event', recoverable => 'recoverable'),
 "GET /execution_failed/x1/state",
 ::create_req('function.functionKind' => 'Event', recoverable => 'unRecoverable'),
 "GET /execution_failed/x2/state",
 ::create_req(recoverable => undef),
 "GET /execution_failed/x3/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1", "", "$::CT\nCommand-Aggregate-Id: x2", "",
 "$::CT\nCommand-Aggregate-Id: x3", ""]
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/"succeeded":true/,
 ::exact(::state_json(recoverable => 'RECOVERABLE',
    function => '{"functionKind":"STATE_EVENT","contextName":"order-service","processorName":"OrderProjector","name":"onOrderCreated"}')),
 qr/"succeeded":true/,
 ::exact(::state_json(id => 'x2', recoverable => 'UNRECOVERABLE')),
 qr/"succeeded":true/,
 ::exact(::state_json(id => 'x3'))]



=== TEST 9: error.bindingErrors are kept; an empty list is omitted (spec 1.2)
--- request eval
[::create_req('error.bindingErrors' => [{name => 'amount', msg => 'must be positive'}]),
 "GET /execution_failed/x1/state",
 ::create_req('error.bindingErrors' => []),
 "GET /execution_failed/x2/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1", "", "$::CT\nCommand-Aggregate-Id: x2", ""]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[qr/"succeeded":true/,
 ::exact(::state_json(error => '{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":"java.lang.IllegalStateException: boom","bindingErrors":[{"name":"amount","msg":"must be positive"}],"succeeded":false}')),
 qr/"succeeded":true/,
 ::exact(::state_json(id => 'x2'))]



=== TEST 10: UTF-8 text, escapes and unknown fields survive the round trip
--- request eval
["POST /execution_failed/create_execution_failed
{\"eventId\":$::EVENT_ID,\"function\":$::FUNCTION,\"unknownField\":{\"a\":[1,2]},
 \"error\":{\"errorCode\":\"BadRequest\",\"errorMsg\":\"échec ✓ \\\"quoted\\\"\\n\",\"stackTrace\":\"at x\\tline 1\"},
 \"executeAt\":1719800000000}",
 "GET /execution_failed/x1/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1", ""]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"succeeded":true/,
 ::exact(::state_json(error => '{"errorCode":"BadRequest","errorMsg":"échec ✓ \"quoted\"\n","stackTrace":"at x\tline 1","succeeded":false}'))]



=== TEST 11: creating an existing id is a version conflict (409); the state is unchanged
--- request eval
[::create_req(), ::create_req('error.errorMsg' => 'second'), "GET /execution_failed/x1/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1", "$::CT\nCommand-Aggregate-Id: x1", ""]
--- error_code eval
[200, 409, 200]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: CommandExpectVersionConflict", "Wow-Error-Code: Ok"]
--- response_body_like eval
[qr/"succeeded":true/,
 ::result_re(agg => 'x1', version => '(?:1|null)', fn => 'process',
             code => 'CommandExpectVersionConflict', msg_re => $::STR),
 ::exact(::state_json())]



=== TEST 12: create always expects version 0, whatever Command-Aggregate-Version says (spec 2)
--- request eval
[::create_req(), ::create_req()]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1\nCommand-Aggregate-Version: 0",
 "$::CT\nCommand-Aggregate-Id: x2\nCommand-Aggregate-Version: 7"]
--- error_code eval
[200, 200]
--- response_body_like eval
[::result_re(agg => 'x1', version => 1), ::result_re(agg => 'x2', version => 1)]



=== TEST 13: an empty body: "Command can not be empty." (400), nothing written
--- request eval
["POST /execution_failed/create_execution_failed", "GET /execution_failed/x1/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1", ""]
--- error_code eval
[400, 404]
--- response_headers eval
["Wow-Error-Code: IllegalArgument\nContent-Type: application/json", "Wow-Error-Code: NotFound"]
--- response_body_like eval
[::exact('{"errorCode":"IllegalArgument","errorMsg":"Command can not be empty.","succeeded":false}'),
 ::error_re('NotFound')]



=== TEST 14: malformed JSON: 400 IllegalArgument with a binding error on "body"
--- request eval
["POST /execution_failed/create_execution_failed\n{\"eventId\":",
 "POST /execution_failed/create_execution_failed\n{\"executeAt\":1} trailing",
 "POST /execution_failed/create_execution_failed\n{'single':'quotes'}",
 "GET /execution_failed/x1/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1", "$::CT\nCommand-Aggregate-Id: x1", "$::CT\nCommand-Aggregate-Id: x1", ""]
--- error_code eval
[400, 400, 400, 404]
--- response_headers eval
["Wow-Error-Code: IllegalArgument", "Wow-Error-Code: IllegalArgument", "Wow-Error-Code: IllegalArgument", "Wow-Error-Code: NotFound"]
--- response_body_like eval
[::error_re('IllegalArgument', undef, 'body'), ::error_re('IllegalArgument', undef, 'body'),
 ::error_re('IllegalArgument', undef, 'body'), ::error_re('NotFound')]



=== TEST 15: a body that is valid JSON but not an object
--- request eval
["POST /execution_failed/create_execution_failed\n[]",
 "POST /execution_failed/create_execution_failed\n[{\"executeAt\":1}]",
 "POST /execution_failed/create_execution_failed\n\"text\"",
 "POST /execution_failed/create_execution_failed\n42"]
--- more_headers eval
[$::CT, $::CT, $::CT, $::CT]
--- error_code eval
[400, 400, 400, 400]
--- response_body_like eval
[::error_re('IllegalArgument', undef, 'body'), ::error_re('IllegalArgument', undef, 'body'),
 ::error_re('IllegalArgument', undef, 'body'), ::error_re('IllegalArgument', undef, 'body')]



=== TEST 16: invalid UTF-8 in the body is malformed JSON
--- request eval
["POST /execution_failed/create_execution_failed\n{\"eventId\":\"\xff\xfe\"}"]
--- more_headers eval
[$::CT]
--- error_code: 400
--- response_body_like eval
::error_re('IllegalArgument', undef, 'body')



=== TEST 17: a content type other than JSON is 415 UnsupportedMediaType; nothing written
--- request eval
[::create_req(), ::create_req(), ::create_req(), "GET /execution_failed/x1/state"]
--- more_headers eval
["Content-Type: text/plain\nCommand-Aggregate-Id: x1",
 "Content-Type: application/x-www-form-urlencoded\nCommand-Aggregate-Id: x1",
 "Command-Aggregate-Id: x1",
 ""]
--- error_code eval
[415, 415, 415, 404]
--- response_headers eval
["Wow-Error-Code: UnsupportedMediaType", "Wow-Error-Code: UnsupportedMediaType", "Wow-Error-Code: UnsupportedMediaType", "Wow-Error-Code: NotFound"]
--- response_body_like eval
[::error_re('UnsupportedMediaType'), ::error_re('UnsupportedMediaType'),
 ::error_re('UnsupportedMediaType'), ::error_re('NotFound')]



=== TEST 18: JSON content types: parameters, upper case and application/*+json are accepted
--- request eval
[::create_req(), ::create_req(), ::create_req()]
--- more_headers eval
["Content-Type: application/json; charset=utf-8\nCommand-Aggregate-Id: x1",
 "Content-Type: APPLICATION/JSON\nCommand-Aggregate-Id: x2",
 "Content-Type: application/vnd.wow.command+json\nCommand-Aggregate-Id: x3"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[::result_re(agg => 'x1', version => 1), ::result_re(agg => 'x2', version => 1),
 ::result_re(agg => 'x3', version => 1)]



=== TEST 19: an empty object names every missing required field
--- request eval
"POST /execution_failed/create_execution_failed\n{}"
--- more_headers eval
$::CT
--- error_code: 400
--- response_headers
Wow-Error-Code: IllegalArgument
--- response_body_like eval
::error_re('IllegalArgument', undef, qw(eventId function error executeAt))



=== TEST 20: missing nested fields are named with dotted paths
--- request eval
[::create_req('eventId.aggregateId' => $::DEL),
 ::create_req('eventId.aggregateId.tenantId' => $::DEL, 'eventId.version' => undef),
 ::create_req('function.name' => $::DEL, 'error.errorCode' => $::DEL),
 ::create_req(executeAt => undef),
 ::create_req(retrySpec => {maxRetries => 1}),
 ::create_req(retrySpec => {})]
--- more_headers eval
[$::CT, $::CT, $::CT, $::CT, $::CT, $::CT]
--- error_code eval
[400, 400, 400, 400, 400, 400]
--- response_body_like eval
[::error_re('IllegalArgument', undef, 'eventId.aggregateId'),
 ::error_re('IllegalArgument', undef, 'eventId.aggregateId.tenantId', 'eventId.version'),
 ::error_re('IllegalArgument', undef, 'function.name', 'error.errorCode'),
 ::error_re('IllegalArgument', undef, 'executeAt'),
 ::error_re('IllegalArgument', undef, 'retrySpec.minBackoff', 'retrySpec.executionTimeout'),
 ::error_re('IllegalArgument', undef, 'retrySpec.maxRetries', 'retrySpec.minBackoff', 'retrySpec.executionTimeout')]



=== TEST 21: wrong types are named with dotted paths
--- request eval
[::create_req('eventId.id' => 1, 'eventId.aggregateId.contextName' => 2,
              'eventId.version' => 'one', executeAt => 'soon'),
 ::create_req(executeAt => 1.5),
 ::create_req(function => 'f', error => []),
 ::create_req('eventId.version' => 2147483648),
 ::create_req('error.bindingErrors' => {name => 'x'}),
 ::create_req('error.bindingErrors' => [{name => 'x'}]),
 ::create_req(retrySpec => {maxRetries => '3', minBackoff => 1, executionTimeout => JSON::PP::true}),
 ::create_req(executeAt => JSON::PP::false)]
--- more_headers eval
[$::CT, $::CT, $::CT, $::CT, $::CT, $::CT, $::CT, $::CT]
--- error_code eval
[400, 400, 400, 400, 400, 400, 400, 400]
--- response_body_like eval
[::error_re('IllegalArgument', undef, 'eventId.id', 'eventId.aggregateId.contextName', 'eventId.version', 'executeAt'),
 ::error_re('IllegalArgument', undef, 'executeAt'),
 ::error_re('IllegalArgument', undef, 'function', 'error'),
 ::error_re('IllegalArgument', undef, 'eventId.version'),
 ::error_re('IllegalArgument', undef, 'error.bindingErrors'),
 ::error_re('IllegalArgument', undef, 'error.bindingErrors[0].msg'),
 ::error_re('IllegalArgument', undef, 'retrySpec.maxRetries', 'retrySpec.executionTimeout'),
 ::error_re('IllegalArgument', undef, 'executeAt')]



=== TEST 22: unknown enum values are binding errors
--- request eval
[::create_req('function.functionKind' => 'NOPE'),
 ::create_req(recoverable => 'maybe'),
 ::create_req('function.functionKind' => 7, recoverable => ''),
 "GET /execution_failed/x1/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1", "$::CT\nCommand-Aggregate-Id: x1", "$::CT\nCommand-Aggregate-Id: x1", ""]
--- error_code eval
[400, 400, 400, 404]
--- response_body_like eval
[::error_re('IllegalArgument', undef, 'function.functionKind'),
 ::error_re('IllegalArgument', undef, 'recoverable'),
 ::error_re('IllegalArgument', undef, 'function.functionKind', 'recoverable'),
 ::error_re('NotFound')]



=== TEST 23: an invalid retrySpec fails in the handler ([HEAD] 1.4): IllegalArgument or BadRequest, nothing written
--- request eval
[::create_req(retrySpec => {maxRetries => -1, minBackoff => 180, executionTimeout => 120}),
 ::create_req(retrySpec => {maxRetries => 3, minBackoff => -1, executionTimeout => 120}),
 ::create_req(retrySpec => {maxRetries => 3, minBackoff => 180, executionTimeout => -1}),
 ::create_req(retrySpec => {maxRetries => 32, minBackoff => 2147483647, executionTimeout => 120}),
 "GET /execution_failed/x1/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1", "$::CT\nCommand-Aggregate-Id: x1", "$::CT\nCommand-Aggregate-Id: x1", "$::CT\nCommand-Aggregate-Id: x1", ""]
--- error_code eval
[400, 400, 400, 400, 404]
--- response_headers eval
["Wow-Error-Code: IllegalArgument", "Wow-Error-Code: IllegalArgument", "Wow-Error-Code: IllegalArgument", "Wow-Error-Code: BadRequest", "Wow-Error-Code: NotFound"]
--- response_body_like eval
[::result_re(agg => 'x1', version => 'null', fn => 'onCreate', code => 'IllegalArgument', msg_re => $::STR),
 ::result_re(agg => 'x1', version => 'null', fn => 'onCreate', code => 'IllegalArgument', msg_re => $::STR),
 ::result_re(agg => 'x1', version => 'null', fn => 'onCreate', code => 'IllegalArgument', msg_re => $::STR),
 ::result_re(agg => 'x1', version => 'null', fn => 'onCreate', code => 'BadRequest', msg_re => $::STR),
 ::error_re('NotFound')]



=== TEST 24: the overflow edge of the validation: maxRetries 22 with minBackoff Int.MAX fits, 23 does not
--- request eval
[::create_req(retrySpec => {maxRetries => 22, minBackoff => 2147483647, executionTimeout => 2147483647}),
 "GET /execution_failed/x1/state",
 ::create_req(retrySpec => {maxRetries => 23, minBackoff => 2147483647, executionTimeout => 1})]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1", "", "$::CT\nCommand-Aggregate-Id: x2"]
--- error_code eval
[200, 200, 400]
--- response_body_like eval
[qr/"succeeded":true/,
 ::exact(::state_json(
    retrySpec => '{"maxRetries":22,"minBackoff":2147483647,"executionTimeout":2147483647}',
    retryState => '{"retries":0,"retryAt":1719800000000,"timeoutAt":3867283647000,"nextRetryAt":3867283647000}')),
 ::result_re(agg => 'x2', version => 'null', fn => 'onCreate', code => 'BadRequest', msg_re => $::STR)]



=== TEST 25: a body larger than compensation_max_body_size is 413 PayloadTooLarge
--- config
    location / {
        compensation_api;
        compensation_max_body_size 1k;
    }
--- request eval
[::create_req('error.stackTrace' => 'x' x 2000), ::create_req(), "GET /execution_failed/x1/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1", "$::CT\nCommand-Aggregate-Id: x2", ""]
--- error_code eval
[413, 200, 404]
--- response_headers eval
["Wow-Error-Code: PayloadTooLarge", "Wow-Error-Code: Ok", "Wow-Error-Code: NotFound"]
--- response_body_like eval
[::error_re('PayloadTooLarge'), ::result_re(agg => 'x2', version => 1), ::error_re('NotFound')]



=== TEST 26: a chunked body larger than compensation_max_body_size is 413 too
--- config
    location / {
        compensation_api;
        compensation_max_body_size 1k;
    }
--- raw_request eval
my $body = ::create_body('error.stackTrace' => 'x' x 2000);
"POST /execution_failed/create_execution_failed HTTP/1.1\r
Host: localhost\r
Connection: close\r
Content-Type: application/json\r
Command-Aggregate-Id: x1\r
Transfer-Encoding: chunked\r
\r
" . sprintf("%x\r\n%s\r\n0\r\n\r\n", length($body), $body)
--- error_code: 413
--- response_headers
Wow-Error-Code: PayloadTooLarge
--- response_body_like eval
::error_re('PayloadTooLarge')



=== TEST 27: a chunked body within the limit is accepted
--- raw_request eval
my $body = ::create_body();
my $half = int(length($body) / 2);
"POST /execution_failed/create_execution_failed HTTP/1.1\r
Host: localhost\r
Connection: close\r
Content-Type: application/json\r
Command-Aggregate-Id: x1\r
Transfer-Encoding: chunked\r
\r
" . sprintf("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", $half, substr($body, 0, $half),
            length($body) - $half, substr($body, $half))
--- response_body_like eval
::result_re(agg => 'x1', version => 1)



=== TEST 28: a body buffered to a temp file (client_body_buffer_size smaller than the body) is read whole
--- config
    location / {
        compensation_api;
        client_body_buffer_size 1k;
    }
--- request eval
[::create_req('error.stackTrace' => 'y' x 5000), "GET /execution_failed/x1/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1", ""]
--- error_code eval
[200, 200]
--- response_body_like eval
[::result_re(agg => 'x1', version => 1), qr/"stackTrace":"y{5000}"/]



=== TEST 29: Accept: text/event-stream returns the SSE form: SENT then PROCESSED
--- request eval
::create_req()
--- more_headers eval
"$::CT\nAccept: text/event-stream\nCommand-Aggregate-Id: x1"
--- response_headers
Wow-Error-Code: Ok
Content-Type: text/event-stream
--- response_body_like eval
qr/\Aid:([0-9A-Za-z]{15})\nevent:SENT\ndata:\{"id":"\1","waitCommandId":"([0-9A-Za-z]{15})","stage":"SENT",[^\n]*"aggregateId":"x1","aggregateVersion":null,[^\n]*"function":\{"functionKind":"COMMAND","contextName":"wow","processorName":"CommandGateway","name":"send"\},"errorCode":"Ok","errorMsg":"",[^\n]*"succeeded":true\}\n\nid:([0-9A-Za-z]{15})\nevent:PROCESSED\ndata:\{"id":"\3","waitCommandId":"\2","stage":"PROCESSED",[^\n]*"aggregateId":"x1","aggregateVersion":1,[^\n]*"name":"onCreate"\},"errorCode":"Ok","errorMsg":"",[^\n]*"succeeded":true\}\n\n\z/



=== TEST 30: SSE with SNAPSHOT: three frames
--- request eval
::create_req()
--- more_headers eval
"$::CT\nAccept: application/json, text/event-stream\nCommand-Wait-Stage: SNAPSHOT"
--- response_headers
Content-Type: text/event-stream
--- response_body_like eval
qr/\Aid:\w{15}\nevent:SENT\ndata:\{[^\n]*"stage":"SENT"[^\n]*\}\n\nid:\w{15}\nevent:PROCESSED\ndata:\{[^\n]*"stage":"PROCESSED"[^\n]*\}\n\nid:\w{15}\nevent:SNAPSHOT\ndata:\{[^\n]*"stage":"SNAPSHOT"[^\n]*"succeeded":true\}\n\n\z/



=== TEST 31: SSE: a failed create (409) still answers 200 with the error in the PROCESSED frame
--- request eval
[::create_req(), ::create_req()]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1", "$::CT\nCommand-Aggregate-Id: x1\nAccept: text/event-stream"]
--- error_code eval
[200, 200]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: Ok\nContent-Type: text/event-stream"]
--- response_body_like eval
[qr/"succeeded":true/,
 qr/\Aid:\w{15}\nevent:SENT\ndata:\{[^\n]*"errorCode":"Ok"[^\n]*\}\n\nid:\w{15}\nevent:PROCESSED\ndata:\{[^\n]*"processorName":"SimpleCommandAggregate","name":"process"\},"errorCode":"CommandExpectVersionConflict","errorMsg":"[^"\n]+",[^\n]*"succeeded":false\}\n\n\z/]



=== TEST 32: Command-Wait-Stage SENT answers at the gateway, and the command is still executed
--- request eval
[::create_req(), "GET /execution_failed/x1/state", ::create_req()]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1\nCommand-Wait-Stage: SENT", "",
 "$::CT\nCommand-Aggregate-Id: x2\nCommand-Wait-Stage: sent"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[::result_re(stage => 'SENT', agg => 'x1', version => 'null', fn => 'send'),
 ::exact(::state_json()),
 ::result_re(stage => 'SENT', agg => 'x2', version => 'null', fn => 'send')]



=== TEST 33: SNAPSHOT and the later stages answer with the last stage reached, SNAPSHOT
--- request eval
[::create_req(), ::create_req(), ::create_req(), ::create_req(), ::create_req()]
--- more_headers eval
["$::CT\nCommand-Wait-Stage: SNAPSHOT", "$::CT\nCommand-Wait-Stage: projected",
 "$::CT\nCommand-Wait-Stage: EVENT_HANDLED", "$::CT\nCommand-Wait-Stage: SAGA_HANDLED",
 "$::CT\nCommand-Wait-Stage: PROCESSED"]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
[qr/\A\{"id":"\w{15}","waitCommandId":"\w{15}","stage":"SNAPSHOT",.*"aggregateVersion":1,.*"errorCode":"Ok","errorMsg":"","result":\{\},"signalTime":\d+,"succeeded":true\}\z/,
 qr/"stage":"SNAPSHOT".*"succeeded":true/,
 qr/"stage":"SNAPSHOT".*"succeeded":true/,
 qr/"stage":"SNAPSHOT".*"succeeded":true/,
 ::result_re(agg => $::ID15, version => 1)]



=== TEST 34: an unknown Command-Wait-Stage is 400 naming the header; nothing written
--- request eval
[::create_req(), "GET /execution_failed/x1/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1\nCommand-Wait-Stage: LATER", ""]
--- error_code eval
[400, 404]
--- response_headers eval
["Wow-Error-Code: IllegalArgument", "Wow-Error-Code: NotFound"]
--- response_body_like eval
[::error_re('IllegalArgument', undef, 'Command-Wait-Stage'), ::error_re('NotFound')]



=== TEST 35: bad Command-Aggregate-Version and Command-Wait-Timeout values are 400 naming the header
--- request eval
[::create_req(), ::create_req(), ::create_req(), ::create_req(), ::create_req(),
 "GET /execution_failed/x1/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1\nCommand-Aggregate-Version: abc",
 "$::CT\nCommand-Aggregate-Id: x1\nCommand-Aggregate-Version: -1",
 "$::CT\nCommand-Aggregate-Id: x1\nCommand-Aggregate-Version: 1.5",
 "$::CT\nCommand-Aggregate-Id: x1\nCommand-Wait-Timeout: soon",
 "$::CT\nCommand-Aggregate-Id: x1\nCommand-Wait-Timout: -5",
 ""]
--- error_code eval
[400, 400, 400, 400, 400, 404]
--- response_body_like eval
[::error_re('IllegalArgument', undef, 'Command-Aggregate-Version'),
 ::error_re('IllegalArgument', undef, 'Command-Aggregate-Version'),
 ::error_re('IllegalArgument', undef, 'Command-Aggregate-Version'),
 ::error_re('IllegalArgument', undef, 'Command-Wait-Timeout'),
 ::error_re('IllegalArgument', undef, 'Command-Wait-Timout'),
 ::error_re('NotFound')]



=== TEST 36: Command-Wait-Timeout and the legacy Command-Wait-Timout are both accepted
--- request eval
[::create_req(), ::create_req(), ::create_req()]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1\nCommand-Wait-Timeout: 5000",
 "$::CT\nCommand-Aggregate-Id: x2\nCommand-Wait-Timout: 5000",
 "$::CT\nCommand-Aggregate-Id: x3\nCommand-Wait-Timeout: 30000\nCommand-Wait-Timout: 100"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[::result_re(agg => 'x1', version => 1), ::result_re(agg => 'x2', version => 1),
 ::result_re(agg => 'x3', version => 1)]



=== TEST 37: a Command-Aggregate-Id longer than 256 characters is 400 naming the header
--- request eval
::create_req()
--- more_headers eval
"$::CT\nCommand-Aggregate-Id: " . ('a' x 300)
--- error_code: 400
--- response_body_like eval
::error_re('IllegalArgument', undef, 'Command-Aggregate-Id')



=== TEST 38: a 256-character Command-Aggregate-Id is fine
--- request eval
[::create_req(), "GET /execution_failed/" . ('a' x 256) . "/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: " . ('a' x 256), ""]
--- error_code eval
[200, 200]
--- response_body_like eval
[::result_re(agg => 'a{256}', version => 1), qr/\A\{"id":"a{256}",/]



=== TEST 39: Accept: only text/html is 406 NotAcceptable; JSON and wildcards are fine
--- request eval
[::create_req(), ::create_req(), ::create_req(), ::create_req(), "GET /execution_failed/x1/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: x1\nAccept: text/html",
 "$::CT\nCommand-Aggregate-Id: x2\nAccept: application/json",
 "$::CT\nCommand-Aggregate-Id: x3\nAccept: */*",
 "$::CT\nCommand-Aggregate-Id: x4\nAccept: text/html, application/json;q=0.9",
 ""]
--- error_code eval
[406, 200, 200, 200, 404]
--- response_headers eval
["Wow-Error-Code: NotAcceptable", "Wow-Error-Code: Ok", "Wow-Error-Code: Ok", "Wow-Error-Code: Ok", "Wow-Error-Code: NotFound"]
--- response_body_like eval
[::error_re('NotAcceptable'), ::result_re(agg => 'x2', version => 1),
 ::result_re(agg => 'x3', version => 1), ::result_re(agg => 'x4', version => 1),
 ::error_re('NotFound')]



=== TEST 40: GET state of an id never created is 404 NotFound
--- request
GET /execution_failed/nope/state
--- error_code: 404
--- response_headers
Wow-Error-Code: NotFound
Content-Type: application/json
--- response_body_like eval
::error_re('NotFound')
