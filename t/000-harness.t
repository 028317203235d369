# Self-test of the in-tree Test::Nginx::Socket work-alike (t/lib).
# Uses only nginx's own directives.
#
#   PERL5LIB=t/lib TEST_NGINX_BINARY=/usr/sbin/nginx prove -v t/000-harness.t

use Test::Nginx::Socket;
use Compensation::Harness;

# this file checks the in-tree harness itself (its parser, its failures)
if (Compensation::Harness::in_tree_harness()) {
    plan('no_plan');
} else {
    plan(skip_all => 'tests the in-tree harness t/lib/Test/Nginx, not '
                     . "openresty's Test::Nginx");
}

use File::Temp ();
use IO::Socket::INET ();
use Test::Nginx::Util ();

no_shuffle();

# Blocks with "--- use_master" run with a master process and 2 workers.
add_block_preprocessor(sub {
    my $block = shift;
    if (defined $block->use_master) {
        master_on();
        workers(2);
    } else {
        master_off();
        workers(1);
    }
});

# --- unit tests of the response parser --------------------------------------

{
    my ($body, $left, $err) = Test::Nginx::Util::decode_chunked(
        "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nEXTRA");
    is($body, 'hello world', 'decode_chunked: body');
    is($left, 'EXTRA', 'decode_chunked: leftover after last chunk');
    ok(!$err, 'decode_chunked: no error');

    ($body, $left, $err) = Test::Nginx::Util::decode_chunked("5\r\nhel");
    like($err, qr/truncated/, 'decode_chunked: truncated chunk detected');

    my ($res, $raw, $rest) = Test::Nginx::Util::parse_http_response(
        "HTTP/1.1 201 Created\r\nX-A: 1\r\nX-A: 2\r\nContent-Length: 2\r\n\r\nokHTTP/1.1");
    is($res->code, 201, 'parse_http_response: status');
    is(scalar $res->header('x-a'), '1, 2', 'parse_http_response: duplicate headers');
    is($res->content, 'ok', 'parse_http_response: Content-Length body');
    is($rest, 'HTTP/1.1', 'parse_http_response: leftover bytes');

    my ($req) = Test::Nginx::Util::build_request("  POST /x\n{\"a\":1}\n", "X-Foo: bar\n");
    is($req, "POST /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
             . "X-Foo: bar\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
       'build_request: headers and trimmed body');

    ($req) = Test::Nginx::Util::build_request("PUT /x HTTP/1.0\n", '');
    unlike($req, qr/Content-Length/, 'build_request: no Content-Length for empty body');
}

# --- the harness must FAIL on broken things (nested run) -------------------

{
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my $marker = '__' . 'DATA__';
    my $file = "$dir/neg.t";
    open my $fh, '>', $file or die $!;
    print {$fh} <<"_EOT_";
use Test::Nginx::Socket 'no_plan';
use Compensation::Harness;
no_shuffle();
my \$kill;
add_block_preprocessor(sub {
    my \$b = shift;
    \$kill = \$b->kill_nginx;
    if (defined \$b->use_master) { master_on(); workers(1) } else { master_off() }
    worker_connections(defined \$b->tiny_conns ? 2 : 64);
});
{
    no warnings 'redefine';
    my \$orig = \\&Test::Nginx::Socket::send_http;
    *Test::Nginx::Socket::send_http = sub {
        my %r = \$orig->(\@_);
        if (defined \$kill) {
            my \$pid = Test::Nginx::Util::nginx_pid();
            my \@victims = \$kill =~ /worker/
                ? Test::Nginx::Util::_children_of(\$pid) : (\$pid);
            kill 'KILL', \@victims;
            for (1 .. 100) {
                last unless grep { Test::Nginx::Util::is_running(\$_) } \@victims;
                select undef, undef, undef, 0.01;
            }
        }
        return %r;
    };
}
run_tests();
$marker

=== TEST 1: wrong body
--- config
    location = /t { return 200 "hello\\n"; }
--- request
GET /t
--- response_body
bye

=== TEST 2: alert
--- tiny_conns
--- config
    location = /t { proxy_pass http://127.0.0.1:\$server_port/u; }
    location = /u { return 200 "u"; }
--- request
GET /t
--- ignore_response

=== TEST 3: worker crash
--- use_master
--- kill_nginx: worker
--- wait: 0.1
--- config
    location = /t { return 200 "x"; }
--- request
GET /t
--- ignore_response

=== TEST 4: timeout
--- tcp_listen: \$TEST_NGINX_RAND_PORT_2
--- tcp_no_close
--- timeout: 0.3
--- config
    location = /t { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_2; proxy_read_timeout 5s; }
--- request
GET /t
--- ignore_response

=== TEST 5: unexpected error
--- config
--- request
GET /nope.html
--- error_code: 404
--- no_error_log
[error]

=== TEST 6: must_die that starts
--- config
--- must_die

=== TEST 7: single process crash
--- kill_nginx: process
--- config
    location = /t { return 200 "x"; }
--- request
GET /t
--- ignore_response

=== TEST 8: error_log is checked after each request
--- config
    location = /t { return 200 "x"; }
--- request eval
["GET /nope.html", "GET /t"]
--- error_code eval
[404, 200]
--- error_log
nope.html

=== TEST 9: no_error_log is checked after each request
--- config
    location = /t { return 200 "x"; }
--- request eval
["GET /nope.html", "GET /t"]
--- error_code eval
[404, 200]
--- no_error_log
[error]

=== TEST 10: log_has without the line
--- config
    location = /t { return 200 "x"; }
--- request eval
["GET /nope.html", "GET /t"]
--- error_code eval
[404, 200]
--- response_body_like eval
[qr/404/, ::log_has(qr/x/, 'open() "', [qr/open\\(\\)/, 2])]

=== TEST 11: one expectation for several requests
--- config
    location = /t { return 200 "x"; }
--- request eval
["GET /t", "GET /t"]
--- response_body: x
_EOT_
    close $fh;

    my $port = do {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                      Listen => 1, ReuseAddr => 1) or die $!;
        $s->sockport;
    };
    local $ENV{TEST_NGINX_SERVROOT}    = "$dir/servroot";
    local $ENV{TEST_NGINX_PORT}        = $port;
    local $ENV{TEST_NGINX_SERVER_PORT} = $port;
    local $ENV{TEST_NGINX_NO_SHUFFLE}  = 1;
    delete local $ENV{TEST_NGINX_USE_VALGRIND};   # process-model tests
    delete local $ENV{TEST_NGINX_RAND_PORT_2};
    my $inc = join ' ', map { "-I$_" } grep { !ref } @INC;
    my $out = `$^X $inc $file 2>&1`;

    my @expect = (
        [ 'TEST 1: wrong body - response_body',              'wrong body fails' ],
        [ 'TEST 2: alert - error.log has [alert]',          '[alert] fails the test' ],
        [ 'TEST 3: worker crash - error.log has',           'worker crash fails the test' ],
        [ 'TEST 4: timeout - client socket timed out',      'client timeout fails' ],
        [ 'TEST 5: unexpected error - pattern "[error]" should not match',
          'no_error_log violation fails' ],
        [ 'TEST 6: must_die that starts - nginx should have failed to start',
          'must_die without failure fails' ],
        [ 'TEST 7: single process crash - nginx (pid',      'dead nginx fails the test' ],
        # like Test::Nginx: error-log checks after each request, on its lines
        [ 'TEST 8: error_log is checked after each request - pattern "nope.html" '
          . 'matches a line in error.log (last req)',
          'error_log pattern missing from the last request\'s lines fails' ],
        [ 'TEST 9: no_error_log is checked after each request - pattern "[error]" '
          . 'should not match any line in error.log but matches line',
          'no_error_log pattern in the first request\'s lines fails' ],
        [ 'TEST 10: log_has without the line - response_body_like',
          '::log_has fails on a count of log lines that is not there' ],
    );
    for my $e (@expect) {
        my ($needle, $label) = @$e;
        my $hit = grep { /^not ok \d+ - \Q$needle\E/ } split /\n/, $out;
        ok($hit, "negative self-test: $label")
            or diag("nested output:\n$out");
    }
    like($out, qr/^ok \d+ - TEST 8: [^\n]*"nope\.html" matches a line in error\.log \(req 0\)$/m,
         'negative self-test: error_log passes on the request that logged it');
    like($out, qr/^not ok \d+ - TEST 9: [^\n]*\(req 0\)$/m,
         'negative self-test: no_error_log failure names its request');
    like($out, qr/error\.log lacks exactly 2 lines matching .*\(found 1\)/,
         'negative self-test: ::log_has names what the log lacks');
    like($out, qr/TEST 11: one expectation for several requests - You asked for many requests, the expected results should be arrays as well/,
         'negative self-test: a single expectation for several requests bails out');
    unlike($out, qr/^ok \d+ - TEST 1: wrong body - response_body/m,
           'negative self-test: wrong body is not reported as ok');
    ok(!-e "$dir/servroot/logs/nginx.pid"
       || !Test::Nginx::Util::is_running(
              do { open my $p, '<', "$dir/servroot/logs/nginx.pid"; my $x = <$p> // 0; chomp $x; $x }),
       'negative self-test: nested nginx was stopped');
}

run_tests();

__DATA__

=== TEST 1: simple return, headers present and absent
--- config
    location = /t {
        return 200 "hello\n";
    }
--- request
GET /t
--- response_headers
Content-Type: text/plain
Content-Length: 6
!X-Nope
X-Also-Absent:
--- response_body
hello
--- no_error_log
[error]
[warn]



=== TEST 2: request eval array, per-request expectations
--- config
    location = /a { return 200 "a\n"; }
    location = /b { return 201 "b\n"; }
--- request eval
["GET /a", "GET /b", "GET /missing.txt"]
--- error_code eval
[200, 201, 404]
--- response_body_like eval
[qr/^a$/m, qr/^b$/m, qr/404 Not Found/]
--- response_headers_like eval
["Server: nginx/[\\d.]+", "Server: nginx/[\\d.]+", "Server: nginx/[\\d.]+"]
--- no_error_log
[alert]



=== TEST 3: more_headers reach nginx
--- config
    location = /h {
        add_header X-Echo $http_x_foo;
        return 200 "foo=$http_x_foo accept=$http_accept host=$host\n";
    }
--- request
GET /h
--- more_headers
Accept: application/json
X-Foo: bar
--- response_headers
X-Echo: bar
--- response_body
foo=bar accept=application/json host=localhost



=== TEST 4: POST body is sent exactly (Content-Length added)
--- config
    location = /echo {
        client_body_in_single_buffer on;
        client_body_buffer_size 64k;
        add_header X-Body $request_body;
        add_header X-Len $content_length;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ok;
    }
    location = /ok { return 200 "ok\n"; }
--- request
POST /echo
{"a":1}
--- response_headers
X-Body: {"a":1}
X-Len: 7
--- response_body
ok



=== TEST 5: empty body: no Content-Length sent
--- config
    location = /cl { return 200 "cl=[$http_content_length]\n"; }
--- request
PUT /cl
--- response_body
cl=[]



=== TEST 6: request split in packets with a delay
--- config
    location = /echo {
        client_body_in_single_buffer on;
        add_header X-Body $request_body;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ok;
    }
    location = /ok { return 200 "ok\n"; }
--- request eval
[["POST /echo\n", "hel", {value => "lo", delay_before => 0.05}]]
--- response_headers
X-Body: hello
--- response_body
ok



=== TEST 7: chunked response (ssi) from user_files
--- user_files
>>> a.shtml
hello <!--# echo var="nothing" default="world" -->
--- config
    location ~ \.shtml$ {
        root $TEST_NGINX_SERVER_ROOT/html;
        ssi on;
        ssi_types text/plain;
    }
--- request
GET /a.shtml
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body
hello world



=== TEST 8: error_log with plain strings and eval qr//
--- config
--- request
GET /nope.html
--- error_code: 404
--- error_log eval
[
    'open() "',
    qr/\[error\] \d+#\d+: \*\d+ open\(\) ".*nope\.html" failed \(2: No such file or directory\)/,
]



=== TEST 9: must_die with an invalid directive
--- config
    location = /t { no_such_directive on; }
--- must_die
--- error_log
unknown directive "no_such_directive"



=== TEST 10: master process with 2 workers
--- use_master
--- skip_eval: 3: $ENV{TEST_NGINX_USE_VALGRIND}
--- config
    location = /pid { return 200 "pid=$pid\n"; }
--- request
GET /pid
--- response_body_like: ^pid=\d+$
--- grep_error_log eval
qr/start worker process(?= \d)/
--- grep_error_log_out
start worker process
start worker process



=== TEST 11: mock tcp backend (tcp_listen, tcp_query, tcp_query_len, tcp_reply) and wait
--- config
    location = /up {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/foo;
        proxy_set_header Host backend;
    }
--- request
GET /up
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
"GET /foo HTTP/1.0\r\nHost: backend\r\nConnection: close\r\n\r\n"
--- tcp_query_len: 55
--- tcp_reply eval
"HTTP/1.0 200 OK\r\nContent-Length: 3\r\nX-Up: 1\r\n\r\nabc"
--- wait: 0.05
--- response_headers
X-Up: 1
--- response_body chomp
abc



=== TEST 12: client timeout with abort does not fail
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_no_close
--- timeout: 0.2
--- abort
--- ignore_response
--- config
    location = /slow {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        proxy_read_timeout 10s;
    }
--- request
GET /slow



=== TEST 13: raw_request
--- config
    location = /t { return 200 "raw\n"; }
--- raw_request eval
"GET /t HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_body
raw



=== TEST 14: pipelined requests
--- config
    location = /a { return 200 "a\n"; }
    location = /b { return 200 "b\n"; }
--- pipelined_requests eval
["GET /a", "GET /b"]
--- response_body eval
["a\n", "b\n"]



=== TEST 15: HEAD request, leading whitespace, HTTP/1.0, error_code_like
--- config
    location = /t { return 200 "hello\n"; }
--- request
    HEAD /t HTTP/1.0
--- error_code_like: ^2\d\d$
--- response_headers
Content-Length: 6
--- response_body chomp



=== TEST 16: main_config and http_config with env expansion
--- main_config
    env HARNESS_TEST_VAR;
--- http_config
    map $uri $root_dir { default "$TEST_NGINX_SERVER_ROOT"; }
--- config
    location = /t { return 200 "$root_dir\n"; }
--- request
GET /t
--- response_body eval
"$ENV{TEST_NGINX_SERVER_ROOT}\n"



=== TEST 17: each block starts with a fresh logs/ directory
--- config
    location = /t { return 200 "t\n"; }
--- request
GET /t
--- response_body
t
--- no_error_log
missing.txt
nope.html



=== TEST 18: skip_nginx skips on matching versions
--- skip_nginx: 2: > 1.0.0
--- config
    location = /t { return 500; }
--- request
GET /t
--- response_body
never checked



=== TEST 19: log_level section
--- log_level: warn
--- config
    location = /t { return 200 "t\n"; }
--- request
GET /t
--- response_body
t
--- no_error_log
[debug]
[info]



=== TEST 20: error_log after each request of an array, on its own lines
--- config
--- request eval
["GET /nope1.html", "GET /nope2.html"]
--- error_code eval
[404, 404]
--- error_log eval
qr/open\(\) "[^"]*nope\d\.html" failed/
--- no_error_log
[alert]



=== TEST 21: ::log_has: a line of an earlier request, a count of lines
--- config
    location = /t { return 200 "x"; }
--- request eval
["GET /nope1.html", "GET /nope2.html", "GET /t"]
--- error_code eval
[404, 404, 200]
--- response_body_like eval
[qr/404/, qr/404/,
 ::log_has(qr/\Ax\z/, 'nope1.html', [qr/open\(\) "[^"]*nope\d\.html" failed/, 2])]
--- no_error_log
[alert]
