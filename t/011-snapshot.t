# Snapshots (spec 3.7, 5.1): get, regenerate (also a damaged or missing
# row, repaired from the events), and the batch regeneration with its
# BatchResult cursor paged over more rows than one batch.

use Test::Nginx::Socket 'no_plan';
use Compensation::Harness;    # ::log_has
use JSON::PP ();
use re 'eval';

no_root_location();
no_shuffle();

# the default config, preprocessor and helpers (t/lib/Compensation)
use Compensation::Reads;

our $ID15 = '[0-9A-Za-z]{15}';

# runs SQL on the block's store with the sqlite3 CLI (between requests)
sub sql {
    my $sql = shift;
    my $db = "$Test::Nginx::Util::ServRoot/logs/c.db";
    system('sqlite3', $db, $sql) == 0 or die "sqlite3 failed: $?";
    return 1;
}

# matches the body, then runs SQL before the next request
sub then_sql { my ($re, $sql) = @_; qr/$re(?{ ::sql($sql) })/ }

sub batch_re {
    my ($after, $size, $code) = @_;
    $code //= 'Ok';
    my $msg = $code eq 'Ok' ? '' : '(?:[^"\\\\]|\\\\.)*';
    qr/\A\{"afterId":"\Q$after\E","size":$size,"errorCode":"$code","errorMsg":"$msg"\}\z/;
}

sub create_as { my $id = shift; (::create_req(), "$::CT\nCommand-Aggregate-Id: $id") }

run_tests();

__DATA__

=== TEST 1: GET snapshot is the MaterializedSnapshot document; its state is byte-for-byte the state; PUT regenerates (200, empty body)
--- request eval
[::create_req(), ::change_req('A'), "GET $::U/state", "GET $::U/snapshot",
 "PUT $::U/snapshot", "GET $::U/snapshot", "GET $::U/state/2"]
--- more_headers eval
[$::H, $::CT, "", "", "", "", ""]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200]
--- response_headers eval
["", "", "", "Wow-Error-Code: Ok\nContent-Type: application/json",
 "Wow-Error-Code: Ok\nContent-Length: 0", "Wow-Error-Code: Ok", ""]
--- response_body_like eval
[qr/"aggregateVersion":1,/, qr/"aggregateVersion":2,/, ::keep('s'),
 ::check(sub {
    $_[0] =~ /\A\{"contextName":"compensation-service","aggregateName":"execution_failed","tenantId":"\(0\)","ownerId":"","spaceId":"","aggregateId":"x1","version":2,"eventId":"$::ID15","firstOperator":"","operator":"","firstEventTime":(\d{13}),"eventTime":(\d{13}),"snapshotTime":(\d{13}),"tags":\{\},"deleted":false,"state":(\{.*\})\}\z/
    && $1 <= $2 && $4 eq $::K{s}
 }),
 qr/\A\z/,
 ::check(sub { index($_[0], ',"state":' . $::K{s} . '}') > 0 }),
 ::same('s')]



=== TEST 2: 404s: no snapshot of an unknown id (GET and PUT); a deleted aggregate's snapshot is filtered out, and regenerating keeps it deleted
--- request eval
["GET /execution_failed/nope/snapshot", "PUT /execution_failed/nope/snapshot",
 ::create_req(), "DELETE $::U", "GET $::U/snapshot", "PUT $::U/snapshot",
 "GET $::U/snapshot", "PUT $::U/recover", "GET $::U/snapshot"]
--- more_headers eval
["", "", $::H, $::CT, "", "", "", $::CT, ""]
--- error_code eval
[404, 404, 200, 200, 404, 200, 404, 200, 200]
--- response_body_like eval
[::error_re('NotFound'), ::error_re('NotFound'), qr/"aggregateVersion":1,/,
 qr/"aggregateVersion":2,/, ::error_re('NotFound'), qr/\A\z/, ::error_re('NotFound'),
 qr/"aggregateVersion":3,/, qr/"version":3,.*"tags":\{\},"deleted":false,"state":/]



=== TEST 3: a damaged snapshot row: the state is still served (rebuilt from the events), GET snapshot is a 500, PUT snapshot restores it byte for byte
--- request eval
[::create_req(), ::change_req('A'), "GET $::U/state", "GET $::U/state",
 "GET $::U/snapshot", "PUT $::U/snapshot", "GET $::U/snapshot",
 "GET $::U/snapshot", "PUT $::U/snapshot", "GET $::U/snapshot"]
--- more_headers eval
[$::H, $::CT, ("") x 8]
--- error_code eval
[200, 200, 200, 200, 500, 200, 200, 404, 200, 200]
--- response_body_like eval
[qr/"aggregateVersion":1,/, qr/"aggregateVersion":2,/,
 ::then_sql(::keep('s'), "UPDATE snapshot SET state = '{broken' WHERE aggregate_id = 'x1'"),
 ::same('s'),
 ::log_has(::error_re('InternalServerError'), 'the snapshot row of "x1" is damaged'), qr/\A\z/,
 ::then_sql(::check(sub { index($_[0], '"version":2,') > 0 && index($_[0], ',"state":' . $::K{s} . '}') > 0 }),
            "DELETE FROM snapshot"),
 ::error_re('NotFound'), qr/\A\z/,
 ::check(sub { index($_[0], '"version":2,') > 0 && index($_[0], ',"state":' . $::K{s} . '}') > 0 })]
--- no_error_log
[alert]
[crit]



=== TEST 4: batch regenerate pages with the cursor over more aggregates than one batch: (0) -> a3 -> a6 -> a7 -> a7 (empty)
--- request eval
[(map { ::create_req() } 1 .. 7),
 "GET /execution_failed/a5/snapshot",
 "PUT /execution_failed/snapshot/(0)/3", "PUT /execution_failed/snapshot/a3/3",
 "PUT /execution_failed/snapshot/a6/3", "PUT /execution_failed/snapshot/a7/3",
 "GET /execution_failed/a5/snapshot", "GET /execution_failed/a7/snapshot",
 "PUT /execution_failed/snapshot/(0)/0", "PUT /execution_failed/snapshot/(0)/1001",
 "PUT /execution_failed/snapshot/(0)/x", "GET /execution_failed/snapshot/(0)/3"]
--- more_headers eval
[(map { "$::CT\nCommand-Aggregate-Id: a$_" } 1 .. 7), ("") x 11]
--- error_code eval
[(200) x 7, 404, 200, 200, 200, 200, 200, 200, 400, 400, 400, 405]
--- response_body_like eval
[(map { qr/"aggregateVersion":1,/ } 1 .. 6),
 ::then_sql(qr/"aggregateVersion":1,/, "DELETE FROM snapshot"),
 ::error_re('NotFound'),
 ::batch_re('a3', 3), ::batch_re('a6', 3), ::batch_re('a7', 1), ::batch_re('a7', 0),
 qr/"aggregateId":"a5","version":1,/, qr/"aggregateId":"a7","version":1,/,
 ::error_re('IllegalArgument'), ::error_re('IllegalArgument'), ::error_re('IllegalArgument'),
 ::error_re('MethodNotAllowed')]



=== TEST 5: compensation_read_memory: a response that alone exceeds the worker's budget is answered 503 with Retry-After; smaller ones are served
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_read_max_size 1k;
    compensation_read_memory 64k;
--- request eval
my $big = ::create_req();
$big =~ s/"stackTrace":"x"/'"stackTrace":"' . ('s' x 100000) . '"'/e;
[$big, "GET $::U/state", "GET $::U/snapshot", "GET $::U/state/1",
 "PUT $::U/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}"]
--- more_headers eval
[$::H, "", "", "", $::CT]
--- error_code eval
[200, 503, 503, 503, 200]
--- response_body_like eval
[qr/.*/s, (qr/^\{"errorCode":"InternalServerError","errorMsg":"The worker holds as many responses as compensation_read_memory allows; retry later.","succeeded":false\}$/) x 3, qr/"succeeded":true/]
--- response_headers eval
["Wow-Error-Code: Ok", ("Retry-After: 1\nWow-Error-Code: InternalServerError") x 3,
 "Wow-Error-Code: Ok"]
