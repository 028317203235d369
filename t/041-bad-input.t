# Regressions found by test/badinput/badinput.pl: a broken chunked body on a
# route that discards its body is nginx's 400, not a 500, and an aggregate id
# that is not valid UTF-8 is a 400 IllegalArgument, not a 500 (the JSON
# documents cannot carry it).

use Test::Nginx::Socket 'no_plan';

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
});

sub chunked {
    my ($m, $p) = @_;
    return "$m $p HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
         . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
         . "\r\nzz\r\n{}\r\n0\r\n\r\n";
}

run_tests();

__DATA__

=== TEST 1: a broken chunked body on routes that discard the body: 400
--- raw_request eval
::chunked('PUT', '/execution_failed/x/snapshot')
--- error_code: 400
--- error_log
client sent invalid chunked body
--- no_error_log
[alert]
[crit]



=== TEST 2: the same on the command facade
--- raw_request eval
::chunked('POST', '/wow/command/send')
--- error_code: 400
--- no_error_log
[alert]
[crit]



=== TEST 3: the same on an unknown route
--- raw_request eval
::chunked('POST', '/nope')
--- error_code: 400
--- no_error_log
[alert]
[crit]



=== TEST 4: the same on a batch resend
--- raw_request eval
::chunked('POST', '/execution_failed/state/(0)/10')
--- error_code: 400
--- no_error_log
[alert]
[crit]



=== TEST 5: aggregate ids that are not valid UTF-8 are 400 IllegalArgument; valid UTF-8 is fine
--- request eval
["GET /execution_failed/%ff%fe/state", "GET /execution_failed/%ed%a0%80/state",
 "GET /execution_failed/%c0%af/snapshot", "GET /execution_failed/%ff/event/1/2",
 "GET /execution_failed/%c3%a9/state"]
--- error_code eval
[400, 400, 400, 400, 404]
--- response_headers eval
[("Wow-Error-Code: IllegalArgument") x 4, "Wow-Error-Code: NotFound"]
--- no_error_log
[error]
[alert]
[crit]
