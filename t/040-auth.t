# compensation_auth_token / compensation_auth_token_file: every route of the
# table flagged "mutating" (commands, DELETE, recover, the command facade,
# wait signals, snapshot regeneration, sink deliveries, DELETE of a CosId
# generator) requires "X-Auth-Token" equal to the token, else 401
# Unauthorized with the usual JSON error body and no WWW-Authenticate;
# reads and POST queries do not.  The token is never logged by the module.

use Test::Nginx::Socket 'no_plan';
use Compensation::Harness;    # ::log_has

no_root_location();
no_shuffle();

our $Tok = 's3cr3t-Tok3n-0123456789';

our $HttpConfig = <<"_EOC_";
    compensation_store \$TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_auth_token $Tok;
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
our $A  = "X-Auth-Token: $Tok";
our $ID = 'Command-Aggregate-Id: x1';

our $CREATE = "POST /execution_failed/create_execution_failed\n"
    . '{"eventId":{"id":"0U2mSzz10001001","aggregateId":{"contextName":"order-service","aggregateName":"order","aggregateId":"0U2mSz9k0001000","tenantId":"(0)"},"version":1},'
    . '"function":{"functionKind":"EVENT","contextName":"order-service","processorName":"OrderProjector","name":"onOrderCreated"},'
    . '"error":{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":"x"},"executeAt":1719800000000}';

our $UNAUTH = qr/\A\{"errorCode":"Unauthorized","errorMsg":"[^"]+","succeeded":false\}\z/;

# every mutating route of the table, with a body where it takes one
our @MUTATING = (
    $CREATE,
    "PUT /execution_failed/x1/prepare_compensation\n{}",
    "PUT /execution_failed/x1/force_prepare_compensation\n{}",
    "PUT /execution_failed/x1/apply_execution_success\n{\"executeAt\":1}",
    "PUT /execution_failed/x1/apply_execution_failed\n{}",
    "PUT /execution_failed/x1/apply_retry_spec\n{\"maxRetries\":1,\"minBackoff\":1,\"executionTimeout\":1}",
    "PUT /execution_failed/x1/change_function\n{}",
    "PUT /execution_failed/x1/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}",
    "DELETE /execution_failed/x1",
    "PUT /execution_failed/x1/recover\n{}",
    "PUT /execution_failed/x1/snapshot",
    "PUT /execution_failed/snapshot/(0)/10",
    "PUT /execution_failed/x1/1/compensate\n{}",
    "POST /execution_failed/state/(0)/10",
    "POST /wow/command/send\n{}",
    "POST /wow/command/wait\n{}",
    "DELETE /actuator/cosid/x",
    "PUT /execution_failed/x1/actions\n{\"action\":\"Retry\"}",
    "POST /Faults/\$/Cancel?api-version=6.0&OperationId=9b2f0c4e-1d2a-4c3b-8e5f-0a1b2c3d4e5f&Force=false",
);

our @BAD = map { "$CT\n$ID\n$_" } (
    'X-Auth-Token: wrong',
    'X-Auth-Token: ',
    'X-Auth-Token: ' . substr($Tok, 0, -1),
    "X-Auth-Token: ${Tok}x",
    'X-Auth-Token: ' . uc($Tok),
    "$A\n$A",
);

run_tests();

__DATA__

=== TEST 1: a command without X-Auth-Token is 401 Unauthorized, JSON body, no WWW-Authenticate
--- request eval
$::CREATE
--- more_headers eval
"$::CT\n$::ID"
--- error_code: 401
--- response_headers
Wow-Error-Code: Unauthorized
Content-Type: application/json
!WWW-Authenticate
--- response_body_like eval
$::UNAUTH



=== TEST 2: every mutating route refuses a request without the token
--- request eval
[@::MUTATING]
--- more_headers eval
[("$::CT\n$::ID") x @::MUTATING]
--- error_code eval
[(401) x @::MUTATING]
--- response_headers eval
[("Wow-Error-Code: Unauthorized") x @::MUTATING]
--- response_body_like eval
[($::UNAUTH) x @::MUTATING]



=== TEST 3: wrong, empty, prefix, longer, case-changed and duplicated tokens are refused
--- request eval
[($::CREATE) x 6]
--- more_headers eval
[@::BAD]
--- error_code eval
[(401) x 6]
--- response_body_like eval
[($::UNAUTH) x 6]



=== TEST 4: a refused command writes nothing; the right token lets it through (the header name is case-insensitive)
--- request eval
[$::CREATE, "GET /execution_failed/x1/state",
 $::CREATE, "PUT /execution_failed/x1/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}",
 "GET /execution_failed/x1/state"]
--- more_headers eval
["$::CT\n$::ID", "", "$::CT\n$::ID\n$::A", "$::CT\nx-auth-token: $::Tok", ""]
--- error_code eval
[401, 404, 200, 200, 200]
--- response_headers eval
["Wow-Error-Code: Unauthorized", "Wow-Error-Code: NotFound", "Wow-Error-Code: Ok",
 "Wow-Error-Code: Ok", "Wow-Error-Code: Ok"]
--- response_body_like eval
[$::UNAUTH, qr/NotFound/, qr/"errorCode":"Ok"/, qr/"errorCode":"Ok"/,
 qr/"recoverable":"RECOVERABLE"/]



=== TEST 5: reads and POST queries need no token
--- request eval
["GET /execution_failed/x1/state",
 "GET /execution_failed/x1/snapshot",
 "GET /execution_failed/x1/state/tracing",
 "POST /execution_failed/snapshot/count\n{}",
 "POST /execution_failed/event/count\n{}",
 "GET /wow/metadata",
 "GET /actuator/health",
 "GET /v3/api-docs"]
--- more_headers eval
[("$::CT") x 8]
--- error_code eval
[404, 404, 200, 200, 200, 200, 200, 200]
--- response_body_unlike eval
[(qr/"errorCode":"Unauthorized"/) x 8]



=== TEST 6: the token is never logged by the module (nginx's own debug dump of request headers aside)
--- request eval
[$::CREATE, $::CREATE]
--- more_headers eval
["$::CT\n$::ID\nX-Auth-Token: wrong-$::Tok", "$::CT\n$::ID\n$::A"]
--- error_code eval
[401, 200]
--- response_body_like eval
[::log_has(qr/"errorCode":"Unauthorized"/,
           'missing or wrong X-Auth-Token for POST /execution_failed/create_execution_failed'),
 qr/"errorCode":"Ok"/]
--- no_error_log eval
["[error]", "[alert]", "[crit]",
 qr/^(?!.*http header: "X-Auth-Token: ).*\Q$::Tok\E/]



=== TEST 7: compensation_auth_token_file reads the first line of a file; the inline token then does not apply
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
--- config
    location / {
        compensation_auth_token_file $TEST_NGINX_SERVER_ROOT/html/token.txt;
        compensation_api;
    }
--- user_files
>>> token.txt
from-a-file-42  
second line is ignored
--- request eval
[($::CREATE) x 3]
--- more_headers eval
["$::CT\n$::ID\n$::A", "$::CT\n$::ID\nX-Auth-Token: from-a-file-4",
 "$::CT\n$::ID\nX-Auth-Token: from-a-file-42"]
--- error_code eval
[401, 401, 200]



=== TEST 8: inheritance: server level token, a location can switch it off with ""
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
--- config
    compensation_auth_token tok-server;
    location / {
        compensation_api;
    }
    location /open/ {
        compensation_auth_token "";
        compensation_api;
    }
    location /other/ {
        compensation_auth_token tok-other;
        compensation_api;
    }
--- request eval
["PUT /execution_failed/x1/recover\n{}", "PUT /execution_failed/x1/recover\n{}",
 "PUT /open/execution_failed/x1/recover\n{}",
 "PUT /other/execution_failed/x1/recover\n{}", "PUT /other/execution_failed/x1/recover\n{}"]
--- more_headers eval
["$::CT", "$::CT\nX-Auth-Token: tok-server", "$::CT",
 "$::CT\nX-Auth-Token: tok-server", "$::CT\nX-Auth-Token: tok-other"]
--- error_code eval
[401, 404, 404, 401, 404]



=== TEST 9: no token configured: commands need no header
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
--- request eval
$::CREATE
--- more_headers eval
"$::CT\n$::ID"
--- error_code: 200



=== TEST 10: a missing token file stops nginx, without printing a token
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
--- config
    location / {
        compensation_auth_token_file $TEST_NGINX_SERVER_ROOT/html/nope.txt;
        compensation_api;
    }
--- must_die
--- error_log
nope.txt" failed



=== TEST 11: an empty token file stops nginx
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
--- config
    location / {
        compensation_auth_token_file $TEST_NGINX_SERVER_ROOT/html/empty.txt;
        compensation_api;
    }
--- user_files
>>> empty.txt

--- must_die
--- error_log eval
qr/holds an empty token|must hold a token of 1 to 4096 bytes/



=== TEST 12: the token and the token file together are a duplicate
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
--- config
    location / {
        compensation_auth_token a;
        compensation_auth_token_file $TEST_NGINX_SERVER_ROOT/html/t.txt;
        compensation_api;
    }
--- user_files
>>> t.txt
b
--- must_die
--- error_log
"compensation_auth_token_file" directive is duplicate



=== TEST 13: a 4,096-byte token plus its line end is accepted, and the file may go on after the first line
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
--- config
    location / {
        compensation_auth_token_file ../html/t.txt;
        compensation_api;
    }
--- user_files eval
[['t.txt', ('k' x 4096) . "\r\n" . ('# a comment' x 1000) . "\n"]]
--- request eval
[($::CREATE) x 2]
--- more_headers eval
["$::CT\n$::ID\nX-Auth-Token: " . ('k' x 4095), "$::CT\n$::ID\nX-Auth-Token: " . ('k' x 4096)]
--- error_code eval
[401, 200]



=== TEST 14: a 4,097-byte token is refused by name
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
--- config
    location / {
        compensation_auth_token_file ../html/t.txt;
        compensation_api;
    }
--- user_files eval
[['t.txt', ('k' x 4097) . "\n"]]
--- must_die
--- error_log
the token is longer than 4096 bytes



=== TEST 15: a token with a NUL byte (which no HTTP header can carry) is refused
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
--- config
    location / {
        compensation_auth_token_file ../html/t.txt;
        compensation_api;
    }
--- user_files eval
[['t.txt', "abc\0def\n"]]
--- must_die
--- error_log
cannot be sent in an HTTP header



=== TEST 16: other control bytes in a token file are refused too (read token file as well)
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
--- config
    location / {
        compensation_read_token_file ../html/t.txt;
        compensation_api;
    }
--- user_files eval
[['t.txt', "abc\x01def\x7f\n"]]
--- must_die
--- error_log eval
qr/"compensation_read_token_file" "[^"]+": the token holds a control character/



=== TEST 17: an inline token that starts with a blank could never match: refused
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_auth_token " tok";
--- must_die
--- error_log
the token starts or ends with a blank



=== TEST 18: compensation_read_token: reads of the store need the read or the write token; writes only the write token; health, metadata and documents stay open
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_auth_token wtok;
    compensation_read_token rtok;
--- request eval
["GET /execution_failed/x1/state",
 "GET /execution_failed/x1/state",
 "GET /execution_failed/x1/state",
 "POST /execution_failed/snapshot/count\n{}",
 "POST /execution_failed/snapshot/count\n{}",
 "GET /execution_failed/x1/event/1/2",
 "GET /execution_failed/x1/state",
 $::CREATE,
 "GET /actuator/health",
 "GET /wow/metadata",
 "GET /v3/api-docs"]
--- more_headers eval
["", "X-Auth-Token: rtok", "X-Auth-Token: wtok", "$::CT", "$::CT\nX-Auth-Token: rtok",
 "", "X-Auth-Token: rtok\nX-Auth-Token: rtok",
 "$::CT\n$::ID\nX-Auth-Token: rtok", "", "", ""]
--- error_code eval
[401, 404, 404, 401, 200, 401, 401, 401, 200, 200, 200]
--- response_body_like eval
[$::UNAUTH, qr/NotFound/, qr/NotFound/, $::UNAUTH, qr/^\d+$/, $::UNAUTH, $::UNAUTH, $::UNAUTH,
 qr/UP/, qr/./, qr/openapi/]



=== TEST 19: a read token alone (from a file) leaves writes open
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
--- config
    location / {
        compensation_read_token_file ../html/r.txt;
        compensation_api;
    }
--- user_files
>>> r.txt
read-only-7
--- request eval
[$::CREATE, "GET /execution_failed/x1/state", "GET /execution_failed/x1/state"]
--- more_headers eval
["$::CT\n$::ID", "", "X-Auth-Token: read-only-7"]
--- error_code eval
[200, 401, 200]



=== TEST 20: satisfy any: allow 127.0.0.1 lets a request without a token through
--- config
    location / {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        compensation_api;
    }
--- request eval
$::CREATE
--- more_headers eval
"$::CT\n$::ID"
--- error_code: 200



=== TEST 21: satisfy any with deny all: the token alone grants access, no token is 401 JSON
--- config
    location / {
        satisfy any;
        deny all;
        compensation_api;
    }
--- request eval
[$::CREATE, $::CREATE]
--- more_headers eval
["$::CT\n$::ID", "$::CT\n$::ID\n$::A"]
--- error_code eval
[401, 200]
--- response_headers eval
["Wow-Error-Code: Unauthorized", "Wow-Error-Code: Ok"]
--- response_body_like eval
[$::UNAUTH, qr/"errorCode":"Ok"/]



=== TEST 22: satisfy all (the default) with deny: the right token is not enough, 403 Forbidden in JSON
--- config
    location / {
        deny all;
        compensation_api;
    }
--- request eval
$::CREATE
--- more_headers eval
"$::CT\n$::ID\n$::A"
--- error_code: 403
--- response_headers
Wow-Error-Code: Forbidden
Content-Type: application/json
--- response_body_like eval
qr/\A\{"errorCode":"Forbidden","errorMsg":"[^"]+","succeeded":false\}\z/
--- error_log
access forbidden by rule
--- no_error_log
[alert]
[crit]



=== TEST 23: auth_request composes: a refusing subrequest is 403 even with the token; an accepting one still needs the token (satisfy all) or not (satisfy any)
--- config
    location = /auth-no { internal; return 403; }
    location = /auth-ok { internal; return 204; }
    location /no/ {
        auth_request /auth-no;
        compensation_api;
    }
    location /all/ {
        auth_request /auth-ok;
        compensation_api;
    }
    location /any/ {
        satisfy any;
        auth_request /auth-ok;
        compensation_api;
    }
--- request eval
["PUT /no/execution_failed/x1/recover\n{}",
 "PUT /all/execution_failed/x1/recover\n{}",
 "PUT /all/execution_failed/x1/recover\n{}",
 "PUT /any/execution_failed/x1/recover\n{}"]
--- more_headers eval
["$::CT\n$::A", "$::CT", "$::CT\n$::A", "$::CT"]
--- error_code eval
[403, 401, 404, 404]
--- response_headers eval
["Wow-Error-Code: Forbidden", "Wow-Error-Code: Unauthorized", "Wow-Error-Code: NotFound",
 "Wow-Error-Code: NotFound"]
