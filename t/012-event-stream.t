# Event streams (spec 3.8, 5.2): GET {id}/event/{head}/{tail} as JSON
# (the stored documents, with size) and as SSE; bad ranges are 400.

use Test::Nginx::Socket 'no_plan';
use JSON::PP ();
use re 'eval';

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
our $H  = "$CT\nCommand-Aggregate-Id: x1";
our $U  = '/execution_failed/x1';
our %K;                                  # bodies kept by keep()

sub create_req {
    "POST /execution_failed/create_execution_failed\n"
    . '{"eventId":{"id":"0U2mSzz10001001","aggregateId":{"contextName":"order-service","aggregateName":"order","aggregateId":"0U2mSz9k0001000","tenantId":"(0)"},"version":1},'
    . '"function":{"functionKind":"EVENT","contextName":"order-service","processorName":"OrderProjector","name":"onOrderCreated"},'
    . '"error":{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":"x"},"executeAt":1719800000000}'
}

sub change_req {
    my $n = shift;
    "PUT $U/change_function\n"
    . qq'{"functionKind":"STATE_EVENT","contextName":"order-service","processorName":"OrderSaga","name":"on$n"}'
}

sub mark_req { "PUT $U/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}" }

# keeps the whole body under a name
sub keep { my $n = shift; qr/\A((?s:\{.*\}))\z(?{ $::K{$n} = $^N })/ }

# the body equals a kept one, byte for byte
sub same { my $n = shift; qr/\A((?s:.*))\z(?(?{ $^N eq $::K{$n} })|(*FAIL))/ }

# a predicate on the whole body
sub check { my $f = shift; qr/\A((?s:.*))\z(?(?{ $f->($^N) })|(*FAIL))/ }

# a JSON array whose elements have these versions, in order
sub versions {
    my @v = @_;
    check(sub {
        my $a = eval { JSON::PP::decode_json($_[0]) } or return 0;
        return join(',', map { $_->{version} } @$a) eq join(',', @v);
    });
}

sub error_re {
    my ($code) = @_;
    qr/\A\{"errorCode":"$code","errorMsg":"(?:[^"\\]|\\.)*"(?:,"bindingErrors":\[.*\])?,"succeeded":false\}\z/;
}

our $ID15 = '[0-9A-Za-z]{15}';

sub stream_re {
    my ($v, $name, $type) = @_;
    '\{"id":"' . $ID15 . '","contextName":"compensation-service","aggregateName":"execution_failed","header":\{[^{}]*\},"aggregateId":"x1","tenantId":"\(0\)","ownerId":"","commandId":"' . $ID15 . '","requestId":"' . $ID15 . '","version":' . $v . ',"body":\[\{"id":"' . $ID15 . '","name":"' . $name . '","revision":"0.0.1","bodyType":"' . quotemeta($type) . '","body":\{.*?\}\}\],"createTime":\d{13},"size":1\}';
}

our $S1 = stream_re(1, 'execution_failed_created', 'me.ahoo.wow.compensation.api.ExecutionFailedCreated');
our $S2 = stream_re(2, 'function_changed', 'me.ahoo.wow.compensation.api.FunctionChanged');

run_tests();

__DATA__

=== TEST 1: JSON: the DomainEventStream documents with size, ranges, the default tail, empty results, 400s
--- request eval
[::create_req(), ::change_req('A'),
 "GET $::U/event/1/2", "GET $::U/event/2/2", "GET $::U/event/1/2147483646",
 "GET $::U/event/0/1", "GET $::U/event/3/5", "GET /execution_failed/nope/event/1/9",
 "GET $::U/event/2/1", "GET $::U/event/a/1", "GET $::U/event/1/-1",
 "GET $::U/event/1/99999999999999999999", "GET $::U/event/1"]
--- more_headers eval
[$::H, $::CT, ("") x 11]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 400, 400, 400, 400, 404]
--- response_body_like eval
[qr/"aggregateVersion":1,/, qr/"aggregateVersion":2,/,
 qr/\A\[$::S1,$::S2\]\z/, qr/\A\[$::S2\]\z/, qr/\A\[$::S1,$::S2\]\z/,
 qr/\A\[$::S1\]\z/, qr/\A\[\]\z/, qr/\A\[\]\z/,
 ::error_re('IllegalArgument'), ::error_re('IllegalArgument'),
 ::error_re('IllegalArgument'), ::error_re('IllegalArgument'), ::error_re('NotFound')]



=== TEST 2: the header map of the stored stream carries the command headers
--- request eval
[::create_req(), "GET $::U/event/1/1"]
--- more_headers eval
["$::H\nCommand-Header-tag: blue", ""]
--- response_body_like eval
[qr/"aggregateVersion":1,/, qr/"header":\{[^{}]*"tag":"blue"/]



=== TEST 3: SSE: one id/event/data frame per stream; an empty range is an empty event stream; other types 406
--- request eval
[::create_req(), ::change_req('A'), "GET $::U/event/1/2", "GET $::U/event/5/9",
 "GET $::U/event/1/2"]
--- more_headers eval
[$::H, $::CT, "Accept: text/event-stream", "Accept: text/event-stream", "Accept: text/html"]
--- error_code eval
[200, 200, 200, 200, 406]
--- response_headers eval
["", "", "Content-Type: text/event-stream\nWow-Error-Code: Ok",
 "Content-Type: text/event-stream\nContent-Length: 0", "Wow-Error-Code: NotAcceptable"]
--- response_body_like eval
[qr/"aggregateVersion":1,/, qr/"aggregateVersion":2,/,
 qr/\Aid:($::ID15)\nevent:message\ndata:$::S1\n\nid:($::ID15)\nevent:message\ndata:$::S2\n\n\z/,
 qr/\A\z/, ::error_re('NotAcceptable')]
