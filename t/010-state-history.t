# State history (spec 3.6, 5.3): the latest, versioned and time-based
# state, the tracing and its query parameters, route precedence (literal
# segments beat {version}), and byte-for-byte equal replays.

use Test::Nginx::Socket 'no_plan';
use JSON::PP ();
use re 'eval';

no_root_location();
no_shuffle();

# the default config, preprocessor and helpers (t/lib/Compensation)
use Compensation::Reads;

# TEST 4: query, then the first and last version answered of 1..5 (an empty
# answer has first > last)
our @Windows = (
    ['limit=1', 5, 5], ['limit=4', 2, 5], ['limit=5', 1, 5], ['limit=6', 1, 5],
    ['limit=9223372036854775807', 1, 5],
    ['headVersion=2&limit=3', 3, 5], ['headVersion=2&limit=4', 2, 5],
    ['headVersion=2&limit=5', 2, 5], ['headVersion=5', 5, 5],
    ['headVersion=6', 6, 5], ['headVersion=6&limit=1', 6, 5],
    ['headVersion=9223372036854775807', 6, 5],
    ['headVersion=9223372036854775807&limit=9223372036854775807', 6, 5],
    ['tailVersion=1&limit=1', 1, 1], ['tailVersion=3&limit=2', 2, 3],
    ['headVersion=2&tailVersion=4&limit=2', 3, 4],
    ['headVersion=2&tailVersion=4&limit=3', 2, 4],
    ['headVersion=4&tailVersion=100&limit=1', 5, 5],
    ['tailVersion=9223372036854775807&limit=1', 5, 5],
    ['headVersion=6&limit=0', 6, 5],
);
our @Elements;                           # of the full tracing

run_tests();

__DATA__

=== TEST 1: versioned, time-based and latest state; precedence; tracing element k, /state/k and the state are byte-for-byte equal
--- request eval
[::create_req(), ::change_req('A'), ::mark_req(),
 "GET $::U/state/1", "GET $::U/state/2", "GET $::U/state/3",
 "GET $::U/state", "GET $::U/state/time/99999999999999",
 "GET $::U/state/tracing",
 "GET $::U/state/4", "GET $::U/state/0", "GET $::U/state/abc",
 "GET $::U/state/-1", "GET $::U/state/time/0", "GET $::U/state/time/x",
 "GET /execution_failed/nope/state/1", "GET $::U/state/99999999999999999999",
 "DELETE $::U", "GET $::U/state/4", "GET $::U/state/3", "GET $::U/state",
 "GET $::U/state/tracing"]
--- more_headers eval
[$::H, $::CT, $::CT, ("") x 14, $::CT, ("") x 4]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 200,
 400, 404, 400, 400, 404, 400, 404, 400,
 200, 404, 200, 404, 200]
--- response_body_like eval
[qr/"aggregateVersion":1,/, qr/"aggregateVersion":2,/, qr/"aggregateVersion":3,/,
 ::keep('s1'), ::keep('s2'), ::keep('s3'), ::same('s3'), ::same('s3'),
 ::check(sub {
    my $b = shift;
    my @s = map { '"state":' . $::K{$_} . ',"tags":{},"deleted":false}' } qw(s1 s2 s3);
    return 0 unless $b =~ /\A\[\{"id":"[0-9A-Za-z]{15}","contextName":"compensation-service","aggregateName":"execution_failed","header":\{[^{}]*\},"aggregateId":"x1","tenantId":"\(0\)","ownerId":"","spaceId":"","commandId":"[0-9A-Za-z]{15}","requestId":"[0-9A-Za-z]{15}","version":1,"body":\[\{"id":"[0-9A-Za-z]{15}","name":"execution_failed_created","revision":"0.0.1","bodyType":"me.ahoo.wow.compensation.api.ExecutionFailedCreated","body":\{.*?\}\}\],"createTime":\d{13},"firstOperator":"","firstEventTime":\d{13},"state":/;
    my $p = 0;
    for my $s (@s) { my $i = index($b, $s, $p); return 0 if $i < 0; $p = $i + 1 }
    return 1;
 }),
 ::error_re('IllegalState'), ::error_re('NotFound'), ::error_re('IllegalArgument'),
 ::error_re('IllegalArgument'), ::error_re('NotFound'), ::error_re('IllegalArgument'),
 ::error_re('NotFound'), ::error_re('IllegalArgument'),
 qr/"aggregateVersion":4,/, ::error_re('NotFound'), ::same('s3'), ::error_re('NotFound'),
 ::check(sub {
    my $a = eval { JSON::PP::decode_json($_[0]) } or return 0;
    return @$a == 4 && $a->[3]{deleted} && !$a->[2]{deleted}
        && $a->[3]{body}[0]{name} eq 'default_aggregate_deleted';
 })]



=== TEST 2: tracing query parameters headVersion, tailVersion, limit ([HEAD] 5.3) and their 400s
--- request eval
[::create_req(), ::change_req('A'), ::change_req('B'),
 "GET $::U/state/tracing?headVersion=2", "GET $::U/state/tracing?tailVersion=2",
 "GET $::U/state/tracing?headVersion=2&tailVersion=2",
 "GET $::U/state/tracing?limit=2", "GET $::U/state/tracing?limit=0",
 "GET $::U/state/tracing?tailVersion=100", "GET $::U/state/tracing?tailVersion=2&limit=1",
 "GET $::U/state/tracing?headVersion=0", "GET $::U/state/tracing?headVersion=",
 "GET $::U/state/tracing?headVersion=x", "GET $::U/state/tracing?headVersion=2&tailVersion=1",
 "GET $::U/state/tracing?limit=-1",
 "GET /execution_failed/nope/state/tracing"]
--- more_headers eval
[$::H, $::CT, $::CT, ("") x 13]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 400, 400, 400, 400, 400, 200]
--- response_body_like eval
[qr/"aggregateVersion":1,/, qr/"aggregateVersion":2,/, qr/"aggregateVersion":3,/,
 ::versions(2, 3), ::versions(1, 2), ::versions(2), ::versions(2, 3),
 qr/\A\[\]\z/, ::versions(1, 2, 3), ::versions(2),
 qr/\A\{"errorCode":"IllegalArgument","errorMsg":"headVersion: must be an integer >= 1, not \\"0\\"","bindingErrors":\[\{"name":"headVersion","msg":"must be an integer >= 1, not \\"0\\""\}\],"succeeded":false\}\z/,
 ::error_re('IllegalArgument'), ::error_re('IllegalArgument'),
 qr/"name":"tailVersion"/, qr/"name":"limit"/, qr/\A\[\]\z/]



=== TEST 3: state routes answer JSON only (406 for SSE), GET only (405 with Allow)
--- request eval
["GET $::U/state/1", "GET $::U/state/tracing", "POST $::U/state/1", "PUT $::U/state/tracing"]
--- more_headers eval
["Accept: text/event-stream", "Accept: text/event-stream", "", ""]
--- error_code eval
[406, 406, 405, 405]
--- response_headers eval
["Wow-Error-Code: NotAcceptable", "Wow-Error-Code: NotAcceptable",
 "Allow: GET, HEAD", "Allow: GET, HEAD"]
--- response_body_like eval
[::error_re('NotAcceptable'), ::error_re('NotAcceptable'),
 ::error_re('MethodNotAllowed'), ::error_re('MethodNotAllowed')]



=== TEST 4: tracing window edges: limit at, under and over the window, head past the latest, tail past it, the largest values; each answer is the same bytes as its slice of the full tracing
--- request eval
[::create_req(), ::change_req('A'), ::change_req('B'), ::change_req('C'), ::mark_req(),
 "GET $::U/state/tracing",
 map({ "GET $::U/state/tracing?$_->[0]" } @::Windows),
 "GET /execution_failed/nope/state/tracing?limit=1"]
--- more_headers eval
[$::H, ($::CT) x 4, ("") x (@::Windows + 2)]
--- response_body_like eval
[qr/"aggregateVersion":1,/, qr/"aggregateVersion":2,/, qr/"aggregateVersion":3,/,
 qr/"aggregateVersion":4,/, qr/"aggregateVersion":5,/,
 ::check(sub {
    my @e = split /(?<=\}),(?=\{"id":"[0-9A-Za-z]{15}","contextName":")/,
                  substr($_[0], 1, -1);
    @::Elements = @e;
    return @e == 5 && join(',', map { /"version":(\d+),"body"/ ? $1 : '?' } @e)
                      eq '1,2,3,4,5';
 }),
 map({ my ($f, $t) = @$_[1, 2];
       ::check(sub { $_[0] eq '[' . join(',', @::Elements[$f - 1 .. $t - 1]) . ']' }) }
     @::Windows),
 qr/\A\[\]\z/]



=== TEST 5: compensation_read_max_size: a tracing over it is refused with 400 naming it; a window under it answers
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_read_max_size 4k;
--- request eval
[::create_req(), map({ ::change_req($_) } 1 .. 6),
 "GET $::U/state/tracing?limit=1", "GET $::U/state/tracing"]
--- more_headers eval
[$::H, map({ $::CT } 1 .. 6), "", ""]
--- error_code eval
[200, (200) x 6, 200, 400]
--- response_body_like eval
[(qr/.*/s) x 7, ::versions(7),
 qr/^\{"errorCode":"IllegalArgument","errorMsg":"The response would exceed 4096 bytes \(compensation_read_max_size\): [^"]*","succeeded":false\}$/]
