# The original's dashboard next to the API (issue 18): conf/dashboard.conf's
# server locations, run as they are (the files below its "--- dashboard
# locations" marker, with the root pointed at html/): index.html for "/" and
# the six views, static files, the API at its own paths in locations named
# after the routes; conf/dashboard-cors.conf's open CORS; 404s that name the
# path the router saw.

use Test::Nginx::Socket 'no_plan';
use FindBin ();

no_root_location();
no_shuffle();

sub slurp {
    my $f = "$FindBin::Bin/../conf/$_[0]";
    open my $fh, '<', $f or die "$f: $!";
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

our $Dashboard = slurp('dashboard.conf');
$Dashboard =~ s/\A.*# --- dashboard locations\n//s or die "no start marker";
$Dashboard =~ s/\n\s*# --- end\n.*\z/\n/s or die "no end marker";
$Dashboard =~ s{root  var/dashboard;}{root  html;} or die "no root";

(our $Cors = $Dashboard) =~ s{# include  dashboard-cors\.conf;}{slurp('dashboard-cors.conf')}ge;
$Cors ne $Dashboard or die "no CORS include";

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config',
        "    compensation_store \$TEST_NGINX_SERVER_ROOT/logs/c.db;\n")
        unless defined $block->http_config;
    $block->set_value('config', $Dashboard) unless defined $block->config;
    $block->set_value('user_files', <<'_EOF_') unless defined $block->user_files;
>>> index.html
<!doctype html><title>Compensation</title><div id="root"></div>
>>> assets/index-3f2a.js
console.log("dashboard");
_EOF_
    $block->set_value('no_error_log', "[alert]\n[crit]\n")
        unless defined $block->no_error_log;
});

our $CT = 'Content-Type: application/json';
our $INDEX = qr{\A<!doctype html><title>Compensation</title><div id="root"></div>\n\z};

sub create {
    "POST /execution_failed/create_execution_failed\n"
    . '{"eventId":{"id":"0U2mSzz10001001","aggregateId":{"contextName":"order-service","aggregateName":"order","aggregateId":"0U2mSz9k0001000","tenantId":"(0)"},"version":1},'
    . '"function":{"functionKind":"EVENT","contextName":"order-service","processorName":"OrderProjector","name":"onOrderCreated"},'
    . '"error":{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":"x"},"executeAt":1719800000000}'
}

run_tests();

__DATA__

=== TEST 1: index.html for "/" and every view of the dashboard (spec 8.1), its assets, and 404 for other files
--- request eval
["GET /", "GET /to-retry", "GET /executing", "GET /next-retry", "GET /non-retryable",
 "GET /succeeded", "GET /unrecoverable/", "GET /assets/index-3f2a.js", "GET /nope",
 "GET /to-retry/x"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 404, 404]
--- response_body_like eval
[$::INDEX, $::INDEX, $::INDEX, $::INDEX, $::INDEX, $::INDEX, $::INDEX,
 qr/\Aconsole\.log\("dashboard"\);\n\z/, qr/404 Not Found/, qr/404 Not Found/]



=== TEST 2: every route the dashboard calls, at its own path, from the locations named after the routes
--- request eval
[::create(), "GET /execution_failed/d1/state",
 "POST /execution_failed/snapshot/paged/state\n{\"condition\":{\"operator\":\"ALL\"},\"pagination\":{\"index\":1,\"size\":10}}",
 "POST /execution_failed/event/paged\n{\"condition\":{\"field\":\"aggregateId\",\"operator\":\"AGGREGATE_ID\",\"value\":\"d1\"},\"pagination\":{\"index\":1,\"size\":10}}",
 "PUT /execution_failed/d1/prepare_compensation",
 "POST /wow/command/send\n{}",
 "GET /wow/metadata", "GET /v3/api-docs", "GET /actuator/health", "GET /actuator"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: d1", '', $::CT, $::CT, '',
 "$::CT\nCommand-Type: mark_recoverable\nCommand-Aggregate-Id: d1", '', '', '', '']
--- error_code eval
[200, 200, 200, 200, 200, 400, 200, 200, 200, 200]
--- response_body_like eval
[qr/"errorCode":"Ok"/, qr/\A\{"id":"d1",/, qr/\A\{"total":1,"list":\[\{"id":"d1",/,
 qr/\A\{"total":1,"list":\[\{/, qr/"errorCode":"Ok"/, qr/"errorCode":"IllegalArgument"/,
 qr/"compensation-service"/, qr/"openapi"/, qr/\A\{"status":"UP"/,
 qr{"health":\{"href":"http://localhost(?::\d+)?/actuator/health","templated":false\}}]



=== TEST 3: the 404 names the path the router saw: the whole URI in a location named after the routes, the path below a prefix
--- config
    location /execution_failed/ {
        compensation_api;
    }
    location /compensation/ {
        compensation_api;
    }
--- request eval
["GET /execution_failed/x1/nope/more", "GET /compensation/execution_failed/x1/nope/more",
 "GET /compensation/wow/nothing"]
--- error_code eval
[404, 404, 404]
--- response_body eval
['{"errorCode":"NotFound","errorMsg":"No route for GET /execution_failed/x1/nope/more.","succeeded":false}',
 '{"errorCode":"NotFound","errorMsg":"No route for GET /execution_failed/x1/nope/more.","succeeded":false}',
 '{"errorCode":"NotFound","errorMsg":"No route for GET /wow/nothing.","succeeded":false}']



=== TEST 4: exact and deeper locations named after the routes; a location whose name only resembles them is still a prefix
--- config
    location = /actuator/prometheus {
        compensation_api;
    }
    location /wow/id/ {
        compensation_api;
    }
    location /execution_failedx/ {
        compensation_api;
    }
--- request eval
["GET /actuator/prometheus", "GET /wow/id/global",
 "PUT /execution_failedx/execution_failed/p1/prepare_compensation"]
--- error_code eval
[200, 200, 404]
--- response_body_like eval
[qr/^compensation_executions\{status="FAILED"\} 0$/m, qr/\A[0-9A-Za-z]{15}\z/,
 qr/"errorCode":"NotFound","errorMsg":"p1 is not initialized/]



=== TEST 5: conf/dashboard-cors.conf: the preflight is answered 204 with the open CORS headers; every answer, errors included, carries them
--- config eval: $::Cors
--- request eval
["OPTIONS /execution_failed/x1/prepare_compensation", "GET /execution_failed/x1/state",
 "OPTIONS /wow/command/send", ::create()]
--- more_headers eval
["Origin: http://dashboard.example\nAccess-Control-Request-Method: PUT\nAccess-Control-Request-Headers: content-type, command-wait-stage",
 "Origin: http://dashboard.example",
 "Origin: http://dashboard.example\nAccess-Control-Request-Method: POST",
 "$::CT\nCommand-Aggregate-Id: c1\nOrigin: http://dashboard.example"]
--- error_code eval
[204, 404, 204, 200]
--- response_headers eval
["Access-Control-Allow-Origin: *\nAccess-Control-Allow-Methods: GET, HEAD, POST, PUT, DELETE, OPTIONS\nAccess-Control-Allow-Headers: content-type, command-wait-stage\nAccess-Control-Max-Age: 1800",
 "Access-Control-Allow-Origin: *\nAccess-Control-Expose-Headers: Wow-Error-Code\nWow-Error-Code: NotFound",
 "Access-Control-Allow-Origin: *\n!Access-Control-Allow-Headers",
 "Access-Control-Allow-Origin: *\nWow-Error-Code: Ok"]



=== TEST 6: without the CORS include, no CORS header and OPTIONS is the API's 405
--- request eval
["OPTIONS /execution_failed/x1/prepare_compensation", "GET /execution_failed/x1/state"]
--- more_headers eval
["Origin: http://dashboard.example\nAccess-Control-Request-Method: PUT", "Origin: http://dashboard.example"]
--- error_code eval
[405, 404]
--- response_headers eval
["!Access-Control-Allow-Origin\nAllow: PUT", "!Access-Control-Allow-Origin"]
