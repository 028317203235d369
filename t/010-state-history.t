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
    my @s = map { '"state":' . $::K{$_} . ',"deleted":false}' } qw(s1 s2 s3);
    return 0 unless $b =~ /\A\[\{"id":"[0-9A-Za-z]{15}","contextName":"compensation-service","aggregateName":"execution_failed","header":\{[^{}]*\},"aggregateId":"x1","tenantId":"\(0\)","ownerId":"","commandId":"[0-9A-Za-z]{15}","requestId":"[0-9A-Za-z]{15}","version":1,"body":\[\{"id":"[0-9A-Za-z]{15}","name":"execution_failed_created","revision":"0.0.1","bodyType":"me.ahoo.wow.compensation.api.ExecutionFailedCreated","body":\{.*?\}\}\],"createTime":\d{13},"firstOperator":"","firstEventTime":\d{13},"state":/;
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
