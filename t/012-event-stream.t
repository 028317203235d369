# Event streams (spec 3.8, 5.2): GET {id}/event/{head}/{tail} as JSON
# (the stored documents, with size) and as SSE; bad ranges are 400.

use Test::Nginx::Socket 'no_plan';
use JSON::PP ();
use re 'eval';

no_root_location();
no_shuffle();

# the default config, preprocessor and helpers (t/lib/Compensation)
use Compensation::Reads;

our $ID15 = '[0-9A-Za-z]{15}';

sub stream_re {
    my ($v, $name, $type) = @_;
    '\{"id":"' . $ID15 . '","contextName":"compensation-service","aggregateName":"execution_failed","header":\{[^{}]*\},"aggregateId":"x1","tenantId":"\(0\)","ownerId":"","spaceId":"","commandId":"' . $ID15 . '","requestId":"' . $ID15 . '","version":' . $v . ',"body":\[\{"id":"' . $ID15 . '","name":"' . $name . '","revision":"0.0.1","bodyType":"' . quotemeta($type) . '","body":\{.*?\}\}\],"createTime":\d{13},"size":1\}';
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



=== TEST 4: compensation_read_max_size: streams over it are refused with 400 naming it, JSON and SSE; a range under it answers
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_read_max_size 4k;
--- request eval
[::create_req(), map({ ::change_req($_) } 1 .. 6),
 "GET $::U/event/1/2", "GET $::U/event/1/7", "GET $::U/event/1/7"]
--- more_headers eval
[$::H, map({ $::CT } 1 .. 6), "", "", "Accept: text/event-stream"]
--- error_code eval
[200, (200) x 6, 200, 400, 400]
--- response_body_like eval
my $e = qr/^\{"errorCode":"IllegalArgument","errorMsg":"The response would exceed 4096 bytes \(compensation_read_max_size\): [^"]*","succeeded":false\}$/;
[(qr/.*/s) x 7, qr/^\[$::S1,$::S2\]$/, $e, $e]
