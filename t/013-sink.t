# The sink (compensation_sink): resend state events and event compensate
# POST their documents to a mock backend (a second server{}); no sink is
# 501 SinkNotConfigured, a failing sink 502 / a BatchResult error.

use Test::Nginx::Socket 'no_plan';
use Compensation::Harness;    # ::log_has
use JSON::PP ();
use re 'eval';

no_root_location();
no_shuffle();

# the default config, preprocessor and helpers (t/lib/Compensation)
use Compensation::Reads;

our $ID15 = '[0-9A-Za-z]{15}';

our $SinkHttp = <<'_EOC_';
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    log_format sink escape=none '$http_wow_sink_kind $http_content_type $request_body';
    upstream sink_backend {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        client_body_buffer_size 1m;
        location = /sink {
            access_log $TEST_NGINX_SERVER_ROOT/logs/sink.log sink;
            proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ok;
        }
        location = /ok { access_log off; return 204; }
        location = /fail { access_log off; return 503; }
    }
_EOC_

our $SinkConfig = <<'_EOC_';
    location / {
        compensation_api;
        compensation_sink /_sink;
    }
    location = /_sink {
        internal;
        proxy_pass http://sink_backend/sink;
    }
    location = /sink.log {
        alias $TEST_NGINX_SERVER_ROOT/logs/sink.log;
    }
_EOC_

(our $FailConfig = $SinkConfig) =~ s{/sink;}{/fail;};

sub target {
    my ($kind, $id) = @_;
    my $i = defined $id ? qq'"id":"$id",' : '';
    qq'{$i"function":{"functionKind":"$kind","contextName":"order-service","processorName":"P","name":"n"}}'
}

sub batch_re {
    my ($after, $size, $code) = @_;
    $code //= 'Ok';
    my $msg = $code eq 'Ok' ? '' : '(?:[^"\\\\]|\\\\.)*';
    qr/\A\{"afterId":"\Q$after\E","size":$size,"errorCode":"$code","errorMsg":"$msg"\}\z/;
}

run_tests();

__DATA__

=== TEST 1: resend state events: every state event of every aggregate after the cursor, in version order, with the Resend target; their states are the versioned states byte for byte
--- http_config eval: $::SinkHttp
--- config eval: $::SinkConfig
--- request eval
[::create_req(), ::change_req('A'), "GET $::U/state/1", "GET $::U/state/2",
 "POST /execution_failed/state/(0)/10", "GET /sink.log",
 "POST /execution_failed/state/x1/10"]
--- more_headers eval
[$::H, $::CT, "", "", "", "", ""]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/"aggregateVersion":1,/, qr/"aggregateVersion":2,/, ::keep('s1'), ::keep('s2'),
 ::batch_re('x1', 1),
 ::check(sub {
    my @l = split /\n/, $_[0];
    return 0 unless @l == 2;
    for my $k (1, 2) {
        my $l = $l[$k - 1];
        return 0 unless $l =~ /\Astate_event application\/json \{"id":"$::ID15","contextName":"compensation-service","aggregateName":"execution_failed","header":\{[^{}]*"compensate.id":"$::ID15","compensate.context":"wow","compensate.processor":"ResendStateEventHandler","compensate.function":"Resend"\},"aggregateId":"x1",.*"version":$k,/;
        return 0 unless index($l, '"state":' . $::K{"s$k"} . ',"tags":{},"deleted":false}') > 0;
    }
    return 1;
 }),
 ::batch_re('x1', 0)]



=== TEST 2: event compensate: EVENT posts the stream, STATE_EVENT the state event, with the target's compensation headers; the answer is the number resent
--- http_config eval: $::SinkHttp
--- config eval: $::SinkConfig
--- request eval
[::create_req(), ::change_req('A'), "GET $::U/state/1",
 "PUT $::U/2/compensate\n" . ::target('EVENT', 't1'),
 "PUT $::U/1/compensate\n" . ::target('state_event'),
 "GET /sink.log",
 "PUT $::U/1/compensate\n" . ::target('COMMAND'),
 "PUT $::U/9/compensate\n" . ::target('EVENT'),
 "PUT $::U/0/compensate\n" . ::target('EVENT'),
 "PUT $::U/1/compensate\n{}",
 "PUT $::U/1/compensate\n{\"function\":{\"functionKind\":\"NOPE\"}}",
 "PUT $::U/1/compensate\n[1",
 "PUT $::U/1/compensate"]
--- more_headers eval
[$::H, $::CT, "", ($::CT) x 2, "", ($::CT) x 7]
--- error_code eval
[200, 200, 200, 200, 200, 200, 400, 404, 400, 400, 400, 400, 400]
--- response_body_like eval
[qr/"aggregateVersion":1,/, qr/"aggregateVersion":2,/, ::keep('s1'),
 qr/\A1\z/, qr/\A1\z/,
 ::check(sub {
    my @l = split /\n/, $_[0];
    return @l == 2
        && $l[0] =~ /\Aevent_stream application\/json \{"id":"$::ID15",.*"compensate.id":"t1","compensate.context":"order-service","compensate.processor":"P","compensate.function":"n"\},"aggregateId":"x1",.*"version":2,"body":\[\{[^\n]*"createTime":\d{13}\}\z/
        && $l[1] =~ /\Astate_event application\/json \{.*"compensate.id":"$::ID15","compensate.context":"order-service".*"version":1,/
        && index($l[1], '"state":' . $::K{s1} . ',"tags":{},"deleted":false}') > 0;
 }),
 qr/\A\{"errorCode":"IllegalArgument","errorMsg":"Unsupported FunctionKind:COMMAND",/,
 ::error_re('NotFound'), ::error_re('IllegalArgument'),
 qr/"bindingErrors":\[\{"name":"function",/,
 qr/"bindingErrors":\[\{"name":"function.functionKind",.*\{"name":"function.contextName",/,
 ::error_re('IllegalArgument'), ::error_re('IllegalArgument')]



=== TEST 3: no compensation_sink: both routes answer 501 SinkNotConfigured, nothing is pretended
--- request eval
[::create_req(), "POST /execution_failed/state/(0)/10",
 "PUT $::U/1/compensate\n" . ::target('EVENT')]
--- more_headers eval
[$::H, "", $::CT]
--- error_code eval
[200, 501, 501]
--- response_headers eval
["", "Wow-Error-Code: SinkNotConfigured", "Wow-Error-Code: SinkNotConfigured"]
--- response_body_like eval
[qr/"aggregateVersion":1,/, ::error_re('SinkNotConfigured'), ::error_re('SinkNotConfigured')]



=== TEST 4: a failing sink (503): compensate is 502 SinkDeliveryFailed; the resend BatchResult keeps the cursor and names the error
--- http_config eval: $::SinkHttp
--- config eval: $::FailConfig
--- request eval
[::create_req(), "PUT $::U/1/compensate\n" . ::target('EVENT'),
 "POST /execution_failed/state/(0)/10"]
--- more_headers eval
[$::H, $::CT, ""]
--- error_code eval
[200, 502, 200]
--- response_headers eval
["", "Wow-Error-Code: SinkDeliveryFailed", "Wow-Error-Code: SinkDeliveryFailed"]
--- response_body_like eval
[qr/"aggregateVersion":1,/, ::log_has(::error_re('SinkDeliveryFailed'), 'answered 503'),
 ::batch_re('(0)', 0, 'SinkDeliveryFailed')]
--- no_error_log
[alert]
[crit]



=== TEST 5: compensation_read_max_size bounds what a resend batch holds (state events of about 2 KB, 5k): it ends before the aggregate that would pass it, the cursor continues from there; an aggregate alone over it is refused in the BatchResult, nothing published
--- http_config eval
$::SinkHttp . "    compensation_read_max_size 5k;\n"
--- config eval: $::SinkConfig
--- request eval
[::create_req(),
 ::create_req(), ::create_req(), ::create_req(),
 ::change_req('A'), ::change_req('B'), ::change_req('C'), ::change_req('D'),
 "POST /execution_failed/state/(0)/10", "POST /execution_failed/state/x1/10",
 "POST /execution_failed/state/x3/10", "POST /execution_failed/state/x4/10", "GET /sink.log"]
--- more_headers eval
[$::H, map({ "$::CT\nCommand-Aggregate-Id: x$_" } 2 .. 4),
 ($::CT) x 4, "", "", "", "", ""]
--- error_code eval
[(200) x 13]
--- response_body_like eval
[(qr/"succeeded":true/) x 8,
 ::batch_re('(0)', 0, 'IllegalArgument'), ::batch_re('x3', 2),
 ::batch_re('x4', 1), ::batch_re('x4', 0),
 ::check(sub {
    # published: x2 and x3, then x4; nothing of the refused x1
    my @l = split /\n/, $_[0];
    return @l == 3 && $l[0] =~ /"aggregateId":"x2"/ && $l[1] =~ /"aggregateId":"x3"/
           && $l[2] =~ /"aggregateId":"x4"/;
 })]



=== TEST 6: event compensate reads its body as every route does: malformed JSON is IllegalArgument with the binding error "body", another Content-Type is 415, an empty or blank body is refused, nothing is posted to the sink
--- http_config eval: $::SinkHttp
--- config eval: $::SinkConfig
--- request eval
[::create_req(),
 "PUT $::U/1/compensate\n{\"function\":",
 "PUT $::U/1/compensate\n" . ::target('EVENT'),
 "PUT $::U/1/compensate\n  \n",
 "PUT $::U/1/compensate\n{\"id\":\"a\",\"id\":\"b\"}",
 "GET /sink.log"]
--- more_headers eval
[$::H, $::CT, "Content-Type: text/plain", $::CT, $::CT, ""]
--- error_code eval
[200, 400, 415, 400, 400, 200]
--- response_headers eval
["", "Wow-Error-Code: IllegalArgument", "Wow-Error-Code: UnsupportedMediaType",
 "Wow-Error-Code: IllegalArgument", "Wow-Error-Code: IllegalArgument", ""]
--- response_body_like eval
[qr/"aggregateVersion":1,/,
 qr/\A\{"errorCode":"IllegalArgument","errorMsg":"Failed to read HTTP message: [^"]+","bindingErrors":\[\{"name":"body","msg":"[^"]+ \(line 1, column \d+\)"\}\],/,
 ::error_re('UnsupportedMediaType'),
 qr/"errorMsg":"The CompensationTarget body can not be empty\."/,
 qr/"errorMsg":"Failed to read HTTP message: duplicate object key(?:[^"\\]|\\.)*","bindingErrors":\[\{"name":"body",/,
 qr/\A\z/]
