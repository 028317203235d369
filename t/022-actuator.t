# Actuator (spec 11): the root with absolute links from the request's Host
# and the location's prefix, health (UP from a real store query; 503 when
# DOWN), health components, CosId's generator registry and generators.

use Test::Nginx::Socket 'no_plan';
use Compensation::Harness;    # --- poll blocks: skipped under openresty's Test::Nginx

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
    # a block that reloads (HUP in --- poll) needs a master process
    if (defined $block->poll) { master_on() } else { master_off() }
    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', $Config) unless defined $block->config;
    $block->set_value('no_error_log', "[error]\n[alert]\n[crit]\n")
        unless defined $block->no_error_log;
});

sub links {
    my $base = shift;
    my @l = (['self', '', 0], ['health', '/health', 0],
             ['health-path', '/health/{*path}', 1],
             ['prometheus', '/prometheus', 0], ['cosid', '/cosid', 0],
             ['cosid-name', '/cosid/{name}', 1],
             ['cosidGenerator', '/cosidGenerator', 0],
             ['cosidGenerator-name', '/cosidGenerator/{name}', 1],
             ['cosidStringGenerator', '/cosidStringGenerator', 0],
             ['cosidStringGenerator-name', '/cosidStringGenerator/{name}', 1]);
    return '{"_links":{' . CORE::join(',', map {
        sprintf('"%s":{"href":"%s/actuator%s","templated":%s}',
                $_->[0], $base, $_->[1], $_->[2] ? 'true' : 'false') } @l)
        . '}}';
}

my @D = ('0' .. '9', 'A' .. 'Z', 'a' .. 'z');
my %V; @V{@D} = (0 .. 61);
sub dec { my $n = 0; $n = $n * 62 + $V{$_} for split //, shift; $n }

# a SnowflakeId: 41 bits of ms since 2019-12-25, 10 of machine, 12 of seq
sub snowflake_ok {
    my $id = shift;
    my $ms = ($id >> 22) + 1577203200000;
    return abs($ms - time() * 1000) < 60000;
}

# The store file replaced by something that is not a database (a wrong file
# restored, a copy gone bad), as an operator would: the old worker keeps its
# open connection to the old file, the files of its WAL go with it.
sub store { "$Test::Nginx::Util::ServRoot/logs/c.db" }

sub replace_store {
    my $db = store();
    unlink map { "$db$_" } '', '-wal', '-shm';
    open my $fh, '>', $db or die "$db: $!";
    print {$fh} "this is not an SQLite database\n" x 4;
    close $fh or die "$db: $!";
}

my $UP = '{"status":"UP","components":{"db":{"status":"UP"},"ping":{"status":"UP"}}}';
# DOWN carries its cause: "details":{"error":...} as Spring Boot's health does
our $CAUSE = '"details":\{"error":"(?:[^"\\\\]|\\\\.)+"\}';
sub up { qr/\A\Q$UP\E\z/ }
sub down { qr/\A\{"status":"DOWN","components":\{"db":\{"status":"DOWN",$CAUSE\},"ping":\{"status":"UP"\}\}\}\z/ }
sub db_down { qr/\A\{"status":"DOWN",$CAUSE\}\z/ }

run_tests();

__DATA__

=== TEST 1: the root links every endpoint with absolute hrefs made of the Host header
--- request
GET /actuator
--- more_headers
Host: api.example.com:8443
--- response_headers
Content-Type: application/json
Wow-Error-Code: Ok
--- response_body eval
::links('http://api.example.com:8443')



=== TEST 2: under a location prefix the hrefs keep it
--- config
    location /compensation/ {
        compensation_api;
    }
--- request
GET /compensation/actuator
--- more_headers
Host: gw.local
--- response_body eval
::links('http://gw.local/compensation')



=== TEST 3: HTTP/1.0; 406, 405, 404
--- request eval
["GET /actuator HTTP/1.0", "GET /actuator", "POST /actuator", "GET /actuator/"]
--- more_headers eval
["", "Accept: text/html", "", ""]
--- error_code eval
[200, 406, 405, 404]
--- response_body_like eval
[qr/\A\{"_links":\{"self":\{"href":"http:\/\/localhost\/actuator","templated":false\}/,
 qr/"errorCode":"NotAcceptable"/, qr/"errorCode":"MethodNotAllowed"/, qr/"errorCode":"NotFound"/]



=== TEST 4: health is UP from a real store query, with its components; one component; unknown component 404
--- request eval
["GET /actuator/health", "GET /actuator/health/db", "GET /actuator/health/ping",
 "GET /actuator/health/disk", "GET /actuator/health/db/x", "DELETE /actuator/health"]
--- error_code eval
[200, 200, 200, 404, 404, 405]
--- response_body eval
["{\"status\":\"UP\",\"components\":{\"db\":{\"status\":\"UP\"},\"ping\":{\"status\":\"UP\"}}}",
 "{\"status\":\"UP\"}", "{\"status\":\"UP\"}",
 "{\"errorCode\":\"NotFound\",\"errorMsg\":\"No health component \\\"disk\\\".\",\"succeeded\":false}",
 qr/"errorCode":"NotFound"/, qr/"errorCode":"MethodNotAllowed"/]



=== TEST 5: the registry: both generators with their statistics; one by name; unknown 404
--- request eval
["GET /wow/id/global", "GET /actuator/cosid", "GET /actuator/cosid/cosid", "GET /actuator/cosid/__share__",
 "GET /actuator/cosid/nope"]
--- error_code eval
[200, 200, 200, 200, 404]
--- response_body_like eval
[qr/^[0-9A-Za-z]{15}$/,
 qr/\A\{"__share__":\{"kind":"MillisecondSnowflakeId","machineId":0,"epoch":1577203200000,"timestampBit":41,"machineBit":10,"sequenceBit":12,"lastTimestamp":-1,"processId":\d+,"converter":\{"kind":"Radix62IdConverter","padStart":true,"charSize":11\}\},"cosid":\{"kind":"Radix62CosIdGenerator","machineId":\d+,"lastTimestamp":\d{13},"sequence":0,"processId":\d+,"converter":\{"kind":"Radix62CosIdStateParser","timestampDigits":8,"machineDigits":4,"sequenceDigits":3\}\}\}\z/,
 qr/\A\{"kind":"Radix62CosIdGenerator",/,
 qr/\A\{"kind":"MillisecondSnowflakeId",/,
 qr/\A\{"errorCode":"NotFound","errorMsg":"No id generator named \\"nope\\".","succeeded":false\}\z/]



=== TEST 6: DELETE removes a generator from the registry and answers its statistics; the service's ids go on
--- request eval
["DELETE /actuator/cosid/cosid", "GET /actuator/cosid/cosid", "DELETE /actuator/cosid/cosid",
 "GET /actuator/cosid", "GET /actuator/cosidStringGenerator/cosid", "GET /wow/id/global"]
--- error_code eval
[200, 404, 404, 200, 404, 200]
--- response_body_like eval
[::log_has(qr/\A\{"kind":"Radix62CosIdGenerator",/,
           'id generator "cosid" removed from the actuator registry'),
 qr/"errorCode":"NotFound"/, qr/"errorCode":"NotFound"/,
 qr/\A\{"__share__":\{[^{}]*\{[^{}]*\}\}\}\z/, qr/"errorCode":"NotFound"/, qr/\A[0-9A-Za-z]{15}\z/]



=== TEST 7: generators: numeric ids from the shared SnowflakeId, string forms, by name; errors
--- request eval
["GET /actuator/cosidGenerator", "GET /actuator/cosidGenerator/__share__",
 "GET /actuator/cosidStringGenerator", "GET /actuator/cosidStringGenerator/__share__",
 "GET /actuator/cosidStringGenerator/cosid", "GET /actuator/cosidGenerator/cosid",
 "GET /actuator/cosidGenerator/nope", "POST /actuator/cosidGenerator"]
--- error_code eval
[200, 200, 200, 200, 200, 400, 404, 405]
--- response_headers eval
["Content-Type: application/json", "Content-Type: application/json", "Content-Type: text/plain",
 "Content-Type: text/plain", "Content-Type: text/plain", "Wow-Error-Code: IllegalArgument",
 "Wow-Error-Code: NotFound", "Wow-Error-Code: MethodNotAllowed"]
--- response_body_like eval
[qr/\A(\d+)\z(?(?{ ::snowflake_ok($1) })|(*FAIL))/, qr/\A(\d+)\z(?(?{ ::snowflake_ok($1) })|(*FAIL))/,
 qr/\A[0-9A-Za-z]{11}\z/, qr/\A([0-9A-Za-z]{11})\z(?(?{ ::snowflake_ok(::dec($1)) })|(*FAIL))/,
 qr/\A[0-9A-Za-z]{15}\z/,
 qr/"errorMsg":"The id generator \\"cosid\\" generates string ids only/,
 qr/"errorCode":"NotFound"/, qr/"errorCode":"MethodNotAllowed"/]



=== TEST 8: reload after the store file became something that is not a database: health DOWN (503), the API 503; usable again: UP
--- skip_eval: 12: $ENV{TEST_NGINX_USE_VALGRIND}
--- request
GET /actuator/health
--- response_body eval
::up()
--- poll eval
[\&::replace_store,
 'HUP',
 ["GET /actuator/health", ::down(), undef, 503],
 ["GET /actuator/health/db", ::db_down(), undef, 503],
 ["GET /actuator/health/ping", qr/\A\{"status":"UP"\}\z/, undef, 200],
 ["GET /execution_failed/x/state",
  qr/"errorMsg":"The compensation store is not available\."/, undef, 503],
 sub { unlink ::store() or die ::store() . ": $!" },
 'HUP',
 ["GET /actuator/health", ::up(), undef, 200]]
--- error_log eval
[qr/\[emerg\] .*compensation_store ".*\/c\.db" is not usable: setting pragmas on ".*" failed: file is not a database/,
 qr/\[error\] .*compensation_store ".*\/c\.db" is not usable, the API answers 503/,
 # a new worker (no store connection) logs the first; under load the old
 # worker, which saw its file replaced, may answer the poll's DOWN first
 qr/\[warn\] .*compensation: health: (?:this worker has no store connection|the store is DOWN)/]
--- no_error_log eval
# the old worker may notice the replaced file before it exits: that [crit]
# is right; any other is not
["[alert]", qr/\[crit\] (?!.*c\.db": the database file of ".*" was deleted or replaced while open)/]
