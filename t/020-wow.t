# The global "wow" routes (spec 6.1-6.3): the command facade
# POST /wow/command/send (the per-command routes' own code path, chosen by
# Command-Type), wait signals POST /wow/command/wait, and GET /wow/metadata.

use Test::Nginx::Socket 'no_plan';
use Compensation::Harness;    # ::log_has
use JSON::PP ();

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
    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', $Config) unless defined $block->config;
    $block->set_value('no_error_log', "[error]\n[alert]\n[crit]\n")
        unless defined $block->no_error_log;
});

our $CT = 'Content-Type: application/json';
our $CREATE = JSON::PP->new->canonical->encode({
    eventId => { id => '0U2mSzz10001001', version => 1,
                 aggregateId => { contextName => 'order-service',
                                  aggregateName => 'order',
                                  aggregateId => '0U2mSz9k0001000',
                                  tenantId => '(0)' } },
    function => { functionKind => 'EVENT', contextName => 'order-service',
                  processorName => 'OrderProjector', name => 'onOrderCreated' },
    error => { errorCode => 'BadRequest', errorMsg => 'boom', stackTrace => 's' },
    executeAt => 1719800000000 });
our $FQ = 'me.ahoo.wow.compensation.api';
our $SEND = 'POST /wow/command/send';

sub ok_re {
    my ($fn, $agg, $v) = @_;
    qr/\A\{"id":"[0-9A-Za-z]{15}","waitCommandId":"[0-9A-Za-z]{15}","stage":"PROCESSED","contextName":"compensation-service","aggregateName":"execution_failed","tenantId":"\(0\)","aggregateId":"$agg","aggregateVersion":$v,.*"name":"$fn"\},"errorCode":"Ok","errorMsg":"",.*"succeeded":true\}\z/
}

sub err_re {
    my ($code, $msg) = @_;
    qr/"errorCode":"$code","errorMsg":"\Q$msg\E"/
}

our $SIGNAL = '{"id":"0VbkD66K020C004","waitCommandId":"0VbkD66K020C000","commandId":"0VbkD66K020C000","aggregateId":{"contextName":"compensation-service","aggregateName":"execution_failed","aggregateId":"f1","tenantId":"(0)"},"stage":"PROJECTED","function":{"functionKind":"EVENT","contextName":"compensation-service","processorName":"ExecutionFailedProjector","name":"onEvent"},"aggregateVersion":2,"isLastProjection":true,"errorCode":"Ok","errorMsg":"","bindingErrors":[],"result":{},"commands":[],"signalTime":1719800000000}';

run_tests();

__DATA__

=== TEST 1: the facade runs every kind of command by its fully qualified name, the aggregate id from the header or the body's id
--- request eval
["$::SEND\n$::CREATE",
 "$::SEND\n{\"id\":\"f1\"}",
 "$::SEND\n{\"id\":\"f1\",\"recoverable\":\"UNRECOVERABLE\"}",
 "$::SEND\n{\"maxRetries\":3,\"minBackoff\":1,\"executionTimeout\":1}",
 "GET /execution_failed/f1/state"]
--- more_headers eval
["$::CT\nCommand-Type: $::FQ.CreateExecutionFailed\nCommand-Aggregate-Id: f1",
 "$::CT\nCommand-Type: $::FQ.PrepareCompensation\nCommand-Aggregate-Context: compensation-service\nCommand-Aggregate-Name: execution_failed",
 "$::CT\nCommand-Type: mark_recoverable",
 "$::CT\nCommand-Type: $::FQ.ApplyRetrySpec\nCommand-Aggregate-Id: f1\nCommand-Aggregate-Version: 3",
 ""]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 'f1', 1), ::ok_re('onPrepare', 'f1', 2),
 ::ok_re('onMarkRecoverable', 'f1', 3), ::ok_re('onApplyRetrySpec', 'f1', 4),
 qr/"retrySpec":\{"maxRetries":3,"minBackoff":1,"executionTimeout":1\}.*"status":"PREPARED","recoverable":"UNRECOVERABLE"/]



=== TEST 2: a create through the facade without any id gets a generated one; delete and recover by their class names
--- request eval
["$::SEND\n$::CREATE", "$::SEND\n$::CREATE", "$::SEND", "$::SEND\n{\"id\":\"f2\"}", "$::SEND"]
--- more_headers eval
["$::CT\nCommand-Type: $::FQ.CreateExecutionFailed",
 "$::CT\nCommand-Type: $::FQ.CreateExecutionFailed\nCommand-Aggregate-Id: f2",
 "Command-Type: me.ahoo.wow.api.command.DefaultDeleteAggregate\nCommand-Aggregate-Id: f2",
 "$::CT\nCommand-Type: me.ahoo.wow.api.command.DefaultRecoverAggregate",
 "Command-Type: recover_aggregate\nCommand-Aggregate-Id: f2"]
--- error_code eval
[200, 200, 200, 200, 400]
--- response_body_like eval
[::ok_re('onCreate', '[0-9A-Za-z]{15}', 1), ::ok_re('onCreate', 'f2', 1),
 qr/"aggregateId":"f2","aggregateVersion":2,.*"errorCode":"Ok"/,
 qr/"aggregateId":"f2","aggregateVersion":3,.*"errorCode":"Ok"/,
 qr/"aggregateId":"f2",.*"errorCode":"IllegalState"/]



=== TEST 3: the same statuses and CommandResults as the per-command routes: 404, 409, 400 binding errors, 403, duplicate request id
--- request eval
["$::SEND\n{\"id\":\"nope\"}", "$::SEND\n$::CREATE", "$::SEND\n$::CREATE",
 "$::SEND\n{\"id\":\"f3\",\"recoverable\":\"MAYBE\"}",
 "$::SEND\n{\"id\":\"f3\",\"recoverable\":\"RECOVERABLE\"}",
 "$::SEND\n{\"id\":\"f3\",\"recoverable\":\"RECOVERABLE\"}",
 "$::SEND\n{\"id\":\"f3\",\"recoverable\":\"UNRECOVERABLE\"}"]
--- more_headers eval
["$::CT\nCommand-Type: prepare_compensation",
 "$::CT\nCommand-Type: create_execution_failed\nCommand-Aggregate-Id: f3",
 "$::CT\nCommand-Type: create_execution_failed\nCommand-Aggregate-Id: f3",
 "$::CT\nCommand-Type: mark_recoverable",
 "$::CT\nCommand-Type: mark_recoverable\nCommand-Owner-Id: someone",
 "$::CT\nCommand-Type: mark_recoverable\nCommand-Request-Id: r1",
 "$::CT\nCommand-Type: mark_recoverable\nCommand-Request-Id: r1"]
--- error_code eval
[404, 200, 409, 400, 403, 200, 400]
--- response_body_like eval
[qr/"aggregateId":"nope",.*"errorCode":"NotFound","errorMsg":"nope is not initialized."/,
 ::ok_re('onCreate', 'f3', 1),
 qr/"errorCode":"CommandExpectVersionConflict"/,
 qr/\A\{"errorCode":"IllegalArgument",.*"bindingErrors":\[\{"name":"recoverable"/,
 qr/"errorCode":"IllegalAccessOwnerAggregate"/,
 ::ok_re('onMarkRecoverable', 'f3', 2),
 qr/"requestId":"r1",.*"errorCode":"DuplicateRequestId"/]
--- response_headers_like eval
["Wow-Error-Code: NotFound", "Wow-Error-Code: Ok", "Wow-Error-Code: CommandExpectVersionConflict",
 "Wow-Error-Code: IllegalArgument", "Wow-Error-Code: IllegalAccessOwnerAggregate",
 "Wow-Error-Code: Ok", "Wow-Error-Code: DuplicateRequestId"]



=== TEST 4: the facade streams the stages like the command routes (Accept: text/event-stream, Command-Wait-Stage)
--- request eval
"$::SEND\n$::CREATE"
--- more_headers eval
"$::CT\nCommand-Type: $::FQ.CreateExecutionFailed\nCommand-Aggregate-Id: s1\nAccept: text/event-stream\nCommand-Wait-Stage: snapshot"
--- response_headers
Content-Type: text/event-stream
Wow-Error-Code: Ok
--- response_body_like eval
qr/\Aid:[0-9A-Za-z]{15}\nevent:SENT\ndata:\{.*\}\n\nid:[0-9A-Za-z]{15}\nevent:PROCESSED\ndata:\{.*"aggregateId":"s1".*\}\n\nid:[0-9A-Za-z]{15}\nevent:SNAPSHOT\ndata:\{.*\}\n\n\z/s



=== TEST 5: facade header errors: missing or unknown Command-Type, foreign context or aggregate, context without name, no id
--- request eval
[("$::SEND\n{\"id\":\"x\"}") x 8]
--- more_headers eval
["$::CT",
 "$::CT\nCommand-Type: ",
 "$::CT\nCommand-Type: me.ahoo.wow.compensation.api.Nope",
 "$::CT\nCommand-Type: prepare_compensation\nCommand-Aggregate-Context: order-service\nCommand-Aggregate-Name: execution_failed",
 "$::CT\nCommand-Type: prepare_compensation\nCommand-Aggregate-Context: compensation",
 "$::CT\nCommand-Type: prepare_compensation\nCommand-Aggregate-Context: compensation-service",
 "$::CT\nCommand-Type: prepare_compensation\nCommand-Aggregate-Name: order",
 "$::CT\nCommand-Type: prepare_compensation\nCommand-Aggregate-Version: x"]
--- error_code eval
[(400) x 8]
--- response_body_like eval
[::err_re('IllegalArgument', 'Command-Type can not be empty.'),
 ::err_re('IllegalArgument', 'Command-Type can not be empty.'),
 ::err_re('IllegalArgument', 'Command-Type [me.ahoo.wow.compensation.api.Nope] is not a command of compensation-service.execution_failed.'),
 qr/"errorMsg":"Unknown bounded context \[order-service\]/,
 qr/"errorMsg":"Unknown bounded context \[compensation\]/,
 qr/"errorMsg":"Command-Aggregate-Name can not be empty when Command-Aggregate-Context is given\."/,
 qr/"errorMsg":"Unknown aggregate \[order\] in compensation-service\."/,
 qr/"bindingErrors":\[\{"name":"Command-Aggregate-Version"/]



=== TEST 6: facade body errors: no id for a non-create, a non-string id, malformed JSON, wrong content type, empty create, GET
--- request eval
["$::SEND\n{\"recoverable\":\"RECOVERABLE\"}", "$::SEND\n{\"id\":5}", "$::SEND\n{\"id\":",
 "$::SEND\n{\"id\":\"x\"}", "$::SEND", "GET /wow/command/send"]
--- more_headers eval
["$::CT\nCommand-Type: mark_recoverable", "$::CT\nCommand-Type: mark_recoverable",
 "$::CT\nCommand-Type: mark_recoverable", "Content-Type: text/plain\nCommand-Type: mark_recoverable",
 "$::CT\nCommand-Type: create_execution_failed", ""]
--- error_code eval
[400, 400, 400, 415, 400, 405]
--- response_body_like eval
[::err_re('IllegalArgument', 'mark_recoverable needs an aggregate id: the Command-Aggregate-Id header or the command\'s id.'),
 qr/"bindingErrors":\[\{"name":"id","msg":"must be a string/,
 qr/"bindingErrors":\[\{"name":"body"/,
 qr/"errorCode":"UnsupportedMediaType"/,
 ::err_re('IllegalArgument', 'Command can not be empty.'),
 qr/"errorCode":"MethodNotAllowed"/]



=== TEST 7: a valid wait signal is acknowledged with 200, no body, JSON content type; the log says there was no waiter
--- request eval
["POST /wow/command/wait\n$::SIGNAL",
 "POST /wow/command/wait\n{\"id\":\"a\",\"waitCommandId\":\"b\",\"commandId\":\"c\",\"aggregateId\":{\"contextName\":\"x\",\"aggregateName\":\"y\",\"aggregateId\":\"z\",\"tenantId\":\"(0)\"},\"stage\":\"sent\",\"function\":{\"functionKind\":\"command\",\"contextName\":\"a\",\"processorName\":\"b\",\"name\":\"c\"}}"]
--- more_headers eval
$::CT
--- error_code eval
[200, 200]
--- response_headers eval
["Content-Type: application/json\nContent-Length: 0\nWow-Error-Code: Ok", "Content-Length: 0"]
--- response_body eval
[::log_has(qr/\A\z/, 'wait signal 0VbkD66K020C004 for command 0VbkD66K020C000, stage PROJECTED: no pending wait'),
 ::log_has(qr/\A\z/, 'wait signal a for command c, stage SENT')]



=== TEST 8: invalid wait signals: every bad field named, empty, not JSON, not an object, wrong content type, too large
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_max_body_size 2k;
--- request eval
["POST /wow/command/wait\n{\"id\":\"\",\"stage\":\"LATER\",\"aggregateVersion\":-1,\"isLastProjection\":1,\"errorCode\":5,\"bindingErrors\":[1],\"result\":[],\"commands\":[1],\"signalTime\":\"x\"}",
 "POST /wow/command/wait", "POST /wow/command/wait\n{\"id\"", "POST /wow/command/wait\n[]",
 "POST /wow/command/wait\n$::SIGNAL", "POST /wow/command/wait\n" . ('x' x 3000), "GET /wow/command/wait"]
--- more_headers eval
[$::CT, $::CT, $::CT, $::CT, "Content-Type: text/plain", $::CT, ""]
--- error_code eval
[400, 400, 400, 400, 415, 413, 405]
--- response_body_like eval
[qr/\A\{"errorCode":"IllegalArgument","errorMsg":"id: must not be empty","bindingErrors":\[\{"name":"id","msg":"must not be empty"\},\{"name":"waitCommandId",.*\{"name":"commandId",.*\{"name":"aggregateId",.*\{"name":"stage",.*\{"name":"function",.*\{"name":"aggregateVersion",.*\{"name":"isLastProjection",.*\{"name":"errorCode",.*\{"name":"bindingErrors",.*\{"name":"result",.*\{"name":"commands",.*\{"name":"signalTime",.*\],"succeeded":false\}\z/,
 ::err_re('IllegalArgument', 'The wait signal can not be empty.'),
 qr/"bindingErrors":\[\{"name":"body"/,
 qr/"bindingErrors":\[\{"name":"body","msg":"must be a JSON object"\}\]/,
 qr/"errorCode":"UnsupportedMediaType"/,
 qr/"errorCode":"PayloadTooLarge"/,
 qr/"errorCode":"MethodNotAllowed"/]



=== TEST 9: the metadata document of compensation-service with the command and event type names
--- request
GET /wow/metadata
--- response_headers
Content-Type: application/json
Wow-Error-Code: Ok
--- response_body chomp
{"contexts":{"compensation-service":{"alias":"compensation","description":"","scopes":["me.ahoo.wow.compensation"],"aggregates":{"execution_failed":{"scopes":["me.ahoo.wow.compensation.api"],"type":"me.ahoo.wow.compensation.domain.ExecutionFailed","tenantId":"(0)","commands":["me.ahoo.wow.compensation.api.CreateExecutionFailed","me.ahoo.wow.compensation.api.PrepareCompensation","me.ahoo.wow.compensation.api.ForcePrepareCompensation","me.ahoo.wow.compensation.api.ApplyExecutionSuccess","me.ahoo.wow.compensation.api.ApplyExecutionFailed","me.ahoo.wow.compensation.api.ApplyRetrySpec","me.ahoo.wow.compensation.api.ChangeFunction","me.ahoo.wow.compensation.api.MarkRecoverable"],"events":["me.ahoo.wow.compensation.api.ExecutionFailedCreated","me.ahoo.wow.compensation.api.CompensationPrepared","me.ahoo.wow.compensation.api.ExecutionSuccessApplied","me.ahoo.wow.compensation.api.ExecutionFailedApplied","me.ahoo.wow.compensation.api.RetrySpecApplied","me.ahoo.wow.compensation.api.FunctionChanged","me.ahoo.wow.compensation.api.RecoverableMarked"]}}}}}



=== TEST 10: metadata under a location prefix; 406 for a non-JSON Accept; 405 for POST
--- config
    location /compensation/ {
        compensation_api;
    }
--- request eval
["GET /compensation/wow/metadata", "GET /compensation/wow/metadata", "POST /compensation/wow/metadata"]
--- more_headers eval
["", "Accept: text/html", ""]
--- error_code eval
[200, 406, 405]
--- response_body_like eval
[qr/^\{"contexts":\{"compensation-service"/, qr/"errorCode":"NotAcceptable"/, qr/"Allow|MethodNotAllowed/]
