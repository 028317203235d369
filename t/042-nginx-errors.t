# nginx's own error responses (413, 400, 414, 494, 403, 503, 500 from
# nginx's core and its modules) are the API's JSON error shape with
# Wow-Error-Code in compensation_api locations, and for the errors nginx
# finds before choosing a location, in servers that have one; other
# locations keep nginx's HTML, and an error_page of the location wins.

use Test::Nginx::Socket 'no_plan';

no_root_location();
no_shuffle();

our $HttpConfig = <<'_EOC_';
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
_EOC_

our $Config = <<'_EOC_';
    large_client_header_buffers 4 1k;
    location / {
        client_max_body_size 100;
        compensation_api;
    }
    location /html/ {
        client_max_body_size 100;
        return 200 "html\n";
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', $Config) unless defined $block->config;
});

sub json_error {
    my $code = shift;
    return qr/\A\{"errorCode":"$code","errorMsg":"[^"<>]+","succeeded":false\}\z/;
}

our $CT = 'Content-Type: application/json';
our $BIG = '{"x":"' . ('a' x 200) . '"}';

sub chunked_big {
    my $p = shift;
    my $part = 'a' x 150;
    return "POST $p HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
         . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
         . "\r\n" . sprintf('%x', length $part) . "\r\n$part\r\n0\r\n\r\n";
}

run_tests();

__DATA__

=== TEST 1: a body over client_max_body_size (Content-Length): 413 PayloadTooLarge in JSON
--- request eval
"POST /execution_failed/create_execution_failed\n$::BIG"
--- more_headers eval
"$::CT\nCommand-Aggregate-Id: x1"
--- error_code: 413
--- response_headers
Wow-Error-Code: PayloadTooLarge
Content-Type: application/json
--- response_body_like eval
::json_error('PayloadTooLarge')
--- error_log
client intended to send too large body



=== TEST 2: a chunked body found too large while reading: 413 in JSON
--- raw_request eval
::chunked_big('/execution_failed/create_execution_failed')
--- error_code: 413
--- response_headers
Wow-Error-Code: PayloadTooLarge
Content-Type: application/json
--- response_body_like eval
::json_error('PayloadTooLarge')



=== TEST 3: a location without compensation_api keeps nginx's HTML 413
--- request eval
"POST /html/x\n$::BIG"
--- error_code: 413
--- response_headers
!Wow-Error-Code
Content-Type: text/html
--- response_body_like: 413 Request Entity Too Large



=== TEST 4: an HTTP/1.1 request without Host (found before a location is chosen): 400 BadRequest in JSON
--- raw_request eval
"GET /actuator/health HTTP/1.1\r\nConnection: close\r\n\r\n"
--- error_code: 400
--- response_headers
Wow-Error-Code: BadRequest
Content-Type: application/json
--- response_body_like eval
::json_error('BadRequest')



=== TEST 5: a request line longer than large_client_header_buffers: 414 UriTooLong in JSON
--- raw_request eval
"GET /execution_failed/" . ('a' x 2000) . "/state HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
--- error_code: 414
--- response_headers
Wow-Error-Code: UriTooLong
Content-Type: application/json
--- response_body_like eval
::json_error('UriTooLong')



=== TEST 6: a header longer than large_client_header_buffers (494, sent as 400): JSON
--- raw_request eval
"GET /actuator/health HTTP/1.1\r\nHost: localhost\r\nX-Big: " . ('b' x 2000) . "\r\nConnection: close\r\n\r\n"
--- error_code: 400
--- response_headers
Wow-Error-Code: BadRequest
Content-Type: application/json
--- response_body_like eval
::json_error('BadRequest')
--- error_log
client sent too long header line



=== TEST 7: deny in an API location: 403 Forbidden in JSON
--- config
    location / {
        deny all;
        compensation_api;
    }
--- request
GET /actuator/health
--- error_code: 403
--- response_headers
Wow-Error-Code: Forbidden
Content-Type: application/json
--- response_body_like eval
::json_error('Forbidden')



=== TEST 8: limit_req refusing a request: 503 ServiceUnavailable in JSON
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    limit_req_zone $server_name zone=one:1m rate=1r/m;
--- config
    location / {
        limit_req zone=one;
        compensation_api;
    }
--- request eval
["GET /actuator/health", "GET /actuator/health"]
--- error_code eval
[200, 503]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: ServiceUnavailable"]
--- response_body_like eval
[qr/UP/, ::json_error('ServiceUnavailable')]



=== TEST 9: an internal error answered by nginx (return 500 in an API location): JSON
--- config
    location / {
        compensation_api;
        return 500;
    }
--- request
GET /actuator/health
--- error_code: 500
--- response_headers
Wow-Error-Code: InternalServerError
Content-Type: application/json
--- response_body_like eval
::json_error('InternalServerError')



=== TEST 10: HEAD gets the headers of the JSON error and no body
--- config
    location / {
        deny all;
        compensation_api;
    }
--- request
HEAD /actuator/health
--- error_code: 403
--- response_headers
Wow-Error-Code: Forbidden
Content-Type: application/json
--- response_body chomp



=== TEST 11: an error_page of the location wins over the JSON document
--- config
    location / {
        client_max_body_size 100;
        error_page 413 = /too-big;
        compensation_api;
    }
    location = /too-big {
        return 200 "mine\n";
    }
--- request eval
"POST /execution_failed/create_execution_failed\n$::BIG"
--- more_headers eval
"$::CT"
--- error_code: 200
--- response_headers
!Wow-Error-Code
--- response_body
mine



=== TEST 12: the module's own errors are unchanged (404 NotFound with its own message)
--- request
GET /nope
--- error_code: 404
--- response_headers
Wow-Error-Code: NotFound
--- response_body_like eval
qr/\A\{"errorCode":"NotFound","errorMsg":"No route for GET \/nope\.","succeeded":false\}\z/
