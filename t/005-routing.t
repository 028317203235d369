# Routing (spec 3.1): JSON 404 for unknown paths, 405 with Allow for a known
# path with another method, HEAD, the API below a location prefix, path ids
# (length, escapes), and the configuration directives: what nginx must
# refuse to start with (--- must_die) and what it must accept.

use Test::Nginx::Socket 'no_plan';
use JSON::PP ();

no_root_location();
no_shuffle();

# the default config, preprocessor and helpers (t/lib/Compensation)
use Compensation::Commands;

run_tests();

__DATA__

=== TEST 1: an unknown path is a JSON 404 NotFound
--- request
GET /nope
--- error_code: 404
--- response_headers
Wow-Error-Code: NotFound
Content-Type: application/json
--- response_body_like eval
::error_re('NotFound')



=== TEST 2: unknown paths next to the routes are JSON 404s, and the worker survives them
--- request eval
["GET /execution_failed", "GET /execution_failed/", "PUT /execution_failed/x1/no_such_command",
 "GET /execution_failed/x1/state/", "GET /other/x1/state", "GET /execution_failed/x1/state/1/2/3/4/5/6/7/8",
 "GET /", ::create_req()]
--- more_headers eval
["", "", "", "", "", "", "", $::H]
--- error_code eval
[404, 404, 404, 404, 404, 404, 404, 200]
--- response_headers eval
[("Wow-Error-Code: NotFound") x 7, "Wow-Error-Code: Ok"]
--- response_body_like eval
[(::error_re('NotFound')) x 7, ::ok_re('onCreate', 1)]



=== TEST 3: a known path with another method is 405 MethodNotAllowed with Allow
--- request
GET /execution_failed/x1/prepare_compensation
--- error_code: 405
--- response_headers
Allow: PUT
Wow-Error-Code: MethodNotAllowed
Content-Type: application/json
--- response_body_like eval
::error_re('MethodNotAllowed')



=== TEST 4: 405 for every route, with the methods the path has in Allow; the worker survives them
--- request eval
["POST /execution_failed/x1/prepare_compensation\n{}",
 "DELETE /execution_failed/x1/recover",
 "POST /execution_failed/x1",
 "PUT /execution_failed/x1/state",
 "DELETE /execution_failed/x1/state",
 "GET /execution_failed/create_execution_failed",
 "PUT /execution_failed/x1/mark_recoverable/",
 ::create_req()]
--- more_headers eval
[$::CT, "", "", "", "", "", "", $::H]
--- error_code eval
[405, 405, 405, 405, 405, 405, 404, 200]
--- response_headers eval
["Allow: PUT\nWow-Error-Code: MethodNotAllowed", "Allow: PUT\nWow-Error-Code: MethodNotAllowed",
 "Allow: DELETE\nWow-Error-Code: MethodNotAllowed", "Allow: GET, HEAD\nWow-Error-Code: MethodNotAllowed",
 "Allow: GET, HEAD\nWow-Error-Code: MethodNotAllowed", "Allow: POST, DELETE\nWow-Error-Code: MethodNotAllowed",
 "Wow-Error-Code: NotFound", "Wow-Error-Code: Ok"]
--- response_body_like eval
[(::error_re('MethodNotAllowed')) x 6, ::error_re('NotFound'), ::ok_re('onCreate', 1)]



=== TEST 5: HEAD on the state route: the GET headers without a body
--- request eval
[::create_req(), "HEAD $::U/state", "HEAD /execution_failed/nope/state"]
--- more_headers eval
[$::H, "", ""]
--- error_code eval
[200, 200, 404]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: Ok\nContent-Type: application/json", "Wow-Error-Code: NotFound"]
--- response_body_like eval
[qr/"succeeded":true/, qr/\A\z/, qr/\A\z/]



=== TEST 6: HEAD on a command route is 405
--- request
HEAD /execution_failed/x1/prepare_compensation
--- error_code: 405
--- response_headers
Allow: PUT
Wow-Error-Code: MethodNotAllowed
--- response_body:



=== TEST 7: the state route answers JSON only: Accept text/html or text/event-stream alone is 406
--- request eval
[::create_req(), "GET $::U/state", "GET $::U/state", "GET $::U/state", "GET $::U/state"]
--- more_headers eval
[$::H, "Accept: text/html", "Accept: text/event-stream", "Accept: application/json", "Accept: text/event-stream, */*;q=0.1"]
--- error_code eval
[200, 406, 406, 200, 200]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: NotAcceptable", "Wow-Error-Code: NotAcceptable",
 "Wow-Error-Code: Ok\nContent-Type: application/json", "Wow-Error-Code: Ok\nContent-Type: application/json"]
--- response_body_like eval
[::ok_re('onCreate', 1), ::error_re('NotAcceptable'), ::error_re('NotAcceptable'),
 ::exact(::state_json()), ::exact(::state_json())]



=== TEST 8: the API below "location /compensation/": paths start with /compensation/execution_failed/
--- config
    location /compensation/ {
        compensation_api;
    }
--- request eval
["POST /compensation/execution_failed/create_execution_failed\n" . ::create_body(),
 "GET /compensation/execution_failed/x1/state",
 "PUT /compensation/execution_failed/x1/prepare_compensation",
 "DELETE /compensation/execution_failed/x1",
 "PUT /compensation/execution_failed/x1/recover",
 "GET /compensation/execution_failed/x1/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::exact(::state_json()), ::ok_re('onPrepare', 2), ::ok_re('onDelete', 3),
 ::ok_re('onRecover', 4),
 ::state_re(status => 'PREPARED', retryState => ::rs_re(retries => 1, min => 180, to => 120))]



=== TEST 9: below a prefix, unknown paths and wrong methods are JSON 404/405 too
--- config
    location /compensation/ {
        compensation_api;
    }
--- request eval
["GET /compensation/nope", "GET /compensation/execution_failed/x1/recover",
 "GET /compensation/compensation/execution_failed/x1/state"]
--- error_code eval
[404, 405, 404]
--- response_headers eval
["Wow-Error-Code: NotFound", "Allow: PUT\nWow-Error-Code: MethodNotAllowed", "Wow-Error-Code: NotFound"]
--- response_body_like eval
[::error_re('NotFound'), ::error_re('MethodNotAllowed'), ::error_re('NotFound')]



=== TEST 10: a deeper prefix and a prefix without a trailing slash; other locations are untouched
--- config
    location /api/v1/ {
        compensation_api;
    }
    location /svc {
        compensation_api;
    }
    location = /ping {
        return 200 "pong\n";
    }
--- request eval
["POST /api/v1/execution_failed/create_execution_failed\n" . ::create_body(),
 "GET /api/v1/execution_failed/x1/state",
 "PUT /svc/execution_failed/x1/prepare_compensation",
 "GET /ping"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::exact(::state_json()), ::ok_re('onPrepare', 2), qr/\Apong\n\z/]



=== TEST 11: two API locations share one store
--- config
    location /a/ {
        compensation_api;
    }
    location /b/ {
        compensation_api;
    }
--- request eval
["POST /a/execution_failed/create_execution_failed\n" . ::create_body(),
 "PUT /b/execution_failed/x1/prepare_compensation",
 "GET /a/execution_failed/x1/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2),
 ::state_re(status => 'PREPARED', retryState => ::rs_re(retries => 1, min => 180, to => 120))]



=== TEST 12: a path id longer than 256 characters is 400 IllegalArgument, on state and command routes
--- request eval
["GET /execution_failed/" . ('a' x 300) . "/state",
 "PUT /execution_failed/" . ('a' x 300) . "/prepare_compensation",
 "DELETE /execution_failed/" . ('a' x 257)]
--- error_code eval
[400, 400, 400]
--- response_headers eval
[("Wow-Error-Code: IllegalArgument") x 3]
--- response_body_like eval
[(::error_re('IllegalArgument')) x 3]



=== TEST 13: percent-escapes in the path id are decoded; a control character is 400
--- request eval
[::create_req(), "GET /execution_failed/a%20b%3Ac/state", "PUT /execution_failed/a%20b%3Ac/prepare_compensation",
 "GET /execution_failed/a%0Ab/state", "PUT /execution_failed/a%09b/prepare_compensation"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: a b:c", "", "", "", ""]
--- error_code eval
[200, 200, 200, 400, 400]
--- response_body_like eval
[::ok_re('onCreate', 1, agg => 'a b:c'), ::exact(::state_json(id => 'a b:c')),
 ::ok_re('onPrepare', 2, agg => 'a b:c'),
 ::error_re('IllegalArgument'), ::error_re('IllegalArgument')]



=== TEST 14: a UTF-8 id round-trips
--- request eval
[::create_req(), "GET /execution_failed/%C3%A9t%C3%A9/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: été", ""]
--- error_code eval
[200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1, agg => 'été'), ::exact(::state_json(id => 'été'))]



=== TEST 15: the route segment "recover" with id "snapshot" is just an id (spec 3.1 edge case)
--- request eval
[::create_req(), "PUT /execution_failed/snapshot/recover"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: snapshot", ""]
--- error_code eval
[200, 400]
--- response_body_like eval
[::ok_re('onCreate', 1, agg => 'snapshot'),
 ::fail_re('IllegalState', undef, 'process', agg => 'snapshot')]



=== TEST 16: a relative compensation_store is relative to the nginx prefix
--- http_config
    compensation_store logs/relative.db;
--- request eval
[::create_req(), "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::exact(::state_json())]



=== TEST 17: the store's directory is created when it does not exist
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/store/c.db;
--- request eval
[::create_req(), "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::exact(::state_json())]



=== TEST 18: compensation_store_synchronous full, compensation_store_busy_timeout and compensation_store_mmap_size are accepted
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_store_synchronous full;
    compensation_store_busy_timeout 5s;
    compensation_store_mmap_size 64m;
--- request eval
[::create_req(), "PUT $::U/prepare_compensation", "GET $::U/state"]
--- more_headers eval
[$::H, $::H, ""]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2), qr/"status":"PREPARED"/]



=== TEST 19: compensation_max_body_size is inherited from the server level
--- config
    compensation_max_body_size 100;
    location / {
        compensation_api;
    }
--- request eval
[::create_req(), "PUT $::U/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}"]
--- more_headers eval
$::H
--- error_code eval
[413, 404]
--- response_body_like eval
[::error_re('PayloadTooLarge'), ::result_re(code => 'NotFound', msg => 'x1 is not initialized.', fn => 'process', version => 'null')]



=== TEST 20: compensation_api without compensation_store does not start
--- http_config
--- config
    location / {
        compensation_api;
    }
--- must_die
--- error_log
requires "compensation_store"
--- no_error_log
[alert]
[crit]



=== TEST 21: compensation_store in a directory that cannot be created: nginx does not start, the [emerg] names compensation_store
--- http_config
    compensation_store /proc/nope/x.db;
--- must_die
--- error_log eval
qr/\[emerg\].*compensation_store/
--- no_error_log
[alert]
[crit]



=== TEST 22: compensation_store that SQLite cannot open: nginx does not start
--- http_config
    compensation_store /proc/x.db;
--- must_die
--- error_log eval
qr/\[emerg\].*compensation_store "\/proc\/x\.db" is not usable/
--- no_error_log
[alert]
[crit]



=== TEST 23: compensation_store naming a directory: nginx does not start
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs;
--- must_die
--- error_log eval
qr/\[emerg\].*compensation_store ".*logs" is not a regular file/
--- no_error_log
[alert]
[crit]



=== TEST 24: compensation_store twice is a duplicate
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/a.db;
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/b.db;
--- must_die
--- error_log
"compensation_store" directive is duplicate
--- no_error_log
[alert]
[crit]



=== TEST 25: compensation_store is an http{}-level directive only
--- config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    location / {
        compensation_api;
    }
--- must_die
--- error_log
"compensation_store" directive is not allowed here
--- no_error_log
[alert]
[crit]



=== TEST 26: compensation_retry_spec with a negative max_retries does not start
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_retry_spec max_retries=-1;
--- must_die
--- error_log eval
qr/\[emerg\].*max_retries=-1/
--- no_error_log
[alert]
[crit]



=== TEST 27: compensation_retry_spec with an unknown parameter or a bad time does not start
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_retry_spec max_retries=3 min_backoff=soon;
--- must_die
--- error_log eval
qr/\[emerg\].*min_backoff=soon/
--- no_error_log
[alert]
[crit]



=== TEST 28: compensation_retry_spec whose largest backoff overflows does not start ([HEAD] validation)
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_retry_spec max_retries=32 min_backoff=2147483647s;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid retry spec/
--- no_error_log
[alert]
[crit]



=== TEST 29: compensation_retry_spec with another unknown key does not start
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_retry_spec retries=3;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid parameter "retries=3"/
--- no_error_log
[alert]
[crit]



=== TEST 30: compensation_api twice in one location is a duplicate
--- config
    location / {
        compensation_api;
        compensation_api;
    }
--- must_die
--- error_log
"compensation_api" directive is duplicate
--- no_error_log
[alert]
[crit]



=== TEST 31: compensation_store_synchronous accepts only normal or full
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_store_synchronous off;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid value "off"/
--- no_error_log
[alert]
[crit]



=== TEST 32: compensation_store_mmap_size takes a size
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_store_mmap_size lots;
--- must_die
--- error_log eval
qr/\[emerg\].*"compensation_store_mmap_size" directive invalid value/
--- no_error_log
[alert]
[crit]



=== TEST 33: the route table is built when the worker starts, before its first request, never by a request
--- request
GET /nope
--- error_code: 404
--- grep_error_log eval: qr/compensation: route table of \d+ routes built|http request line: "GET \/nope HTTP\/1\.1"/
--- grep_error_log_out eval
qr/\Acompensation: route table of \d+ routes built\nhttp request line: "GET \/nope HTTP\/1\.1"\n\z/
