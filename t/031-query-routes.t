# The query routes (spec 3.7, 3.8, 4.1, 4.7) over the dataset of
# t/030-query.t: the response shapes of count/list/paged/single and their
# /state variants, event-stream queries, SSE, projection, sort, pagination,
# and bad queries of every kind (400 IllegalArgument naming the problem,
# the store untouched: the count after them is unchanged).
#
# Every block seeds six executions through the command API, then runs its
# queries.  Listing queries project on aggregateId and sort by it, so the
# expected bodies are exact.
#
#   q1  FAILED, UNKNOWN, processor "OrderProjector", stackTrace "Java.Lang.Boom"
#   q2  PREPARED (prepare_compensation)
#   q3  SUCCEEDED (prepare, then apply_execution_success)
#   q4  FAILED, UNRECOVERABLE (mark_recoverable)
#   q5  FAILED with bindingErrors [{name: amount, msg: must be positive}]
#   q6  deleted

use Test::Nginx::Socket 'no_plan';
use JSON::PP ();

no_root_location();
no_shuffle();

# the default config, preprocessor and helpers (t/lib/Compensation)
use Compensation::Query;

run_tests();

__DATA__

=== TEST 1: snapshot count is a bare number; CountQuery {condition} is accepted too
--- request eval
::reqs(['snapshot/count', '{"field":"state.status","operator":"EQ","value":"FAILED"}'],
       ['snapshot/count', '{"condition":{"operator":"ALL"}}'],
       ['event/count', '{"operator":"AGGREGATE_ID","value":"q3"}'])
--- more_headers eval
::heads(3)
--- error_code eval
::codes(200, 200, 200)
--- response_body eval
::bodies('3', '5', '3')
--- response_headers eval
[map { "Wow-Error-Code: Ok" } @{ ::codes(200, 200, 200) }]



=== TEST 2: paged state: {total, list of states}, sorted, second page
--- request eval
::reqs(['snapshot/paged/state', '{"condition":{"operator":"ALL"},"projection":{"include":["state.id"]},"sort":[{"field":"aggregateId","direction":"DESC"}],"pagination":{"index":2,"size":2}}'])
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('{"total":5,"list":[{"id":"q3"},{"id":"q2"}]}')



=== TEST 3: paged snapshot documents carry the spec 5.1 fields; exclude
--- request eval
::reqs(['snapshot/paged', '{"condition":{"operator":"ID","value":"q1"},"projection":{"exclude":["state"]}}'])
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body_like eval
::bodies(qr/^\{"total":1,"list":\[\{"contextName":"compensation-service","aggregateName":"execution_failed","tenantId":"\(0\)","ownerId":"","spaceId":"","aggregateId":"q1","version":1,"eventId":"[0-9A-Za-z]+","firstOperator":"","operator":"","firstEventTime":\d+,"eventTime":\d+,"snapshotTime":\d+,"tags":\{\},"deleted":false\}\]\}$/)



=== TEST 4: single: a document, the state, or 404 NotFound; deleted ones are hidden
--- request eval
::reqs(['snapshot/single/state', '{"condition":{"operator":"ID","value":"q2"},"projection":{"include":["state.status"]}}'],
       ['snapshot/single', '{"condition":{"operator":"ID","value":"q6"}}'],
       ['snapshot/single', '{"condition":{"operator":"DELETED","value":"DELETED"},"projection":{"include":["deleted"]}}'])
--- more_headers eval
::heads(3)
--- error_code eval
::codes(200, 404, 200)
--- response_body_like eval
::bodies(qr/^\{"status":"PREPARED"\}$/, qr/^\{"errorCode":"NotFound",/, qr/^\{"aggregateId":"q6","deleted":true\}$/)



=== TEST 5: list state as SSE: one data event per document
--- request eval
::reqs(['snapshot/list/state', '{"condition":{"operator":"IDS","value":["q1","q2"]},"projection":{"include":["state.id"]},"sort":[{"field":"aggregateId","direction":"ASC"}]}'])
--- more_headers eval
::heads(1, "Accept: text/event-stream")
--- error_code eval
::codes(200)
--- response_body eval
::bodies(qq{data:{"id":"q1"}\n\ndata:{"id":"q2"}\n\n})



=== TEST 6: event streams: paged by version DESC; body.name goes through the body array; header keys
--- request eval
::reqs(['event/paged', '{"condition":{"operator":"AGGREGATE_ID","value":"q3"},"projection":{"include":["version","body.name"]},"sort":[{"field":"version","direction":"DESC"}]}'],
       ['event/list', '{"condition":{"field":"body.name","operator":"EQ","value":"execution_success_applied"},"projection":{"include":["aggregateId"]}}'],
       ['event/count', '{"field":"header.no_such_key","operator":"NULL"}'],
       ['event/count', '{"field":"body.body.error.bindingErrors.name","operator":"EQ","value":"amount"}'])
--- more_headers eval
::heads(4)
--- error_code eval
::codes(200, 200, 200, 200)
--- response_body_like eval
::bodies(qr/^\{"total":3,"list":\[\{"id":"\w+","version":3,"body":\[\{"name":"execution_success_applied"\}\]\},\{"id":"\w+","version":2,"body":\[\{"name":"compensation_prepared"\}\]\},\{"id":"\w+","version":1,"body":\[\{"name":"execution_failed_created"\}\]\}\]\}$/,
         qr/^\[\{"id":"\w+","aggregateId":"q3"\}\]$/, qr/^1[0-9]$/, qr/^1$/)



=== TEST 7: bad queries: 400 IllegalArgument with a message naming the problem; nothing written
--- request eval
::reqs(['snapshot/count', '{"field":"state.status","operator":"EQ"'],
       ['snapshot/count', '[1,2]'],
       ['snapshot/count', '{"operator":"AND","children":[]}'],
       ['snapshot/count', '{"operator":"AND"}'],
       ['snapshot/count', '{"operator":"BETWEEN","field":"version","value":[1]}'],
       ['snapshot/count', '{"operator":"SOUNDS_LIKE","field":"version","value":1}'],
       ['snapshot/count', '{"operator":"EQ","field":"state.status\'; DROP TABLE snapshot; --","value":1}'],
       ['snapshot/count', '{"operator":"EQ","field":"header.x","value":1}'],
       ['snapshot/count', '{"operator":"RAW","value":"1=1"}'],
       ['snapshot/count', '{"operator":"IN","field":"version","value":' . JSON::PP::encode_json([1 .. 1001]) . '}'],
       ['snapshot/count', '{"operator":"EQ","field":1,"value":1}'],
       ['snapshot/count', '{"operator":"IN","field":"version","value":"1"}'],
       ['snapshot/count', ('{"operator":"NOR","children":[' x 70) . '{}' . (']}' x 70)],
       ['snapshot/list', '{"condition":{},"limit":1001}'],
       ['snapshot/paged', '{"condition":{},"pagination":{"index":101,"size":100}}'],
       ['snapshot/paged', '{"condition":{},"pagination":{"index":1,"size":101}}'],
       ['snapshot/list', '{"condition":{},"sort":[{"field":"nope"}]}'],
       ['snapshot/list', '{"condition":{},"projection":{"include":["x y"]}}'],
       ['snapshot/list', '{}'],
       ['snapshot/count', '{"operator":"TODAY","field":"snapshotTime","options":{"zoneId":"../../etc/passwd"}}'],
       ['snapshot/count', '{"operator":"EQ","field":"state.status","value":"FAILED\' OR 1=1 --"}'],
       ['snapshot/count', '{"operator":"ALL"}'])
--- more_headers eval
::heads(22)
--- error_code eval
::codes((400) x 20, 200, 200)
--- response_body_like eval
::bodies(qr/"bindingErrors"/, qr/must be a JSON object/, qr/AND children cannot be empty/,
         qr/AND children cannot be empty/, qr/BETWEEN needs an array of two values/,
         qr/Unknown operator \\"SOUNDS_LIKE\\"/, qr/Unknown field/, qr/Unknown field \\"header.x\\"/,
         qr/RAW conditions are not supported/, qr/compensation_query_max_condition_values/,
         qr/field must be a string/, qr/IN needs an array value/,
         qr/compensation_query_max_condition_nodes/, qr/compensation_query_max_list_size/,
         qr/compensation_query_max_page_window/, qr/compensation_query_max_page_size/,
         qr/Unknown sort field/, qr/Unknown projection field/, qr/condition is required/,
         qr/Unknown zoneId/, qr/^0$/, qr/^5$/)
--- no_error_log
[error]
[alert]



=== TEST 8: the guard's directives: expensive operators and match-all refused when configured
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_query_allow_expensive off;
    compensation_query_allow_match_all off;
    compensation_query_max_page_size 5;
    compensation_query_zone Europe/Paris;
--- request eval
::reqs(['snapshot/count', '{"field":"state.status","operator":"NE","value":"FAILED"}'],
       ['snapshot/paged', '{"condition":{"operator":"ALL"}}'],
       ['snapshot/paged', '{"condition":{"operator":"ID","value":"q1"},"pagination":{"size":6}}'],
       ['snapshot/list/state', '{"condition":{"operator":"ALL"},"limit":1,"projection":{"include":["state.id"]}}'])
--- more_headers eval
::heads(4)
--- error_code eval
::codes(400, 400, 400, 200)
--- response_body_like eval
::bodies(qr/expensive operator/, qr/match-all/, qr/between 1 and 5/, qr/^\[\{"id":"q1"\}\]$/)



=== TEST 9: found by fuzzing (fuzz/regressions/query): a paged event query sorted by a header key answers 200, not 500
--- request eval
::reqs(['event/paged', '{"condition":{"operator":"AGGREGATE_ID","value":"q3"},"projection":{"include":["version"]},"sort":[{"field":"header.no_such_key","direction":"DESC"},{"field":"version","direction":"ASC"}]}'],
       ['event/paged', '{"condition":{},"sort":[{"field":"header.&ggregateId"}],"pagination":{"index":1,"size":1},"projection":{"include":["version"]}}'])
--- more_headers eval
::heads(2)
--- error_code eval
::codes(200, 200)
--- response_body_like eval
::bodies(qr/^\{"total":3,"list":\[\{"id":"\w+","version":1\},\{"id":"\w+","version":2\},\{"id":"\w+","version":3\}\]\}$/,
         qr/^\{"total":\d+,"list":\[\{"id":"\w+","version":\d+\}\]\}$/)



=== TEST 10: bodies of several 64 KB chunks are the bytes of one compact JSON text: list, paged, SSE
--- request eval
my @big = map { ::create("big$_", stack => ($_ x 40000)) } 1 .. 4;
my $q = '{"condition":{"operator":"IDS","value":["big1","big2","big3","big4"]},"projection":{"include":["state.error.stackTrace"]},"sort":[{"field":"aggregateId","direction":"ASC"}]}';
[ (map { $_->[0] } @::SEED), (map { $_->[0] } @big),
  "POST /execution_failed/snapshot/list/state\n$q",
  "POST /execution_failed/snapshot/paged/state\n$q",
  "POST /execution_failed/snapshot/list/state\n$q" ]
--- more_headers eval
my @big = map { ::create("big$_") } 1 .. 4;
[ (map { $_->[1] } @::SEED), (map { $_->[1] } @big),
  "Content-Type: application/json", "Content-Type: application/json",
  "Content-Type: application/json\nAccept: text/event-stream" ]
--- error_code eval
[ (map { 200 } @::SEED), 200, 200, 200, 200, 200, 200, 200 ]
--- response_body eval
my @docs = map { '{"error":{"stackTrace":"' . ($_ x 40000) . '"}}' } 1 .. 4;
[ (map { qr/.*/s } @::SEED), (map { qr/.*/s } 1 .. 4),
  '[' . CORE::join(',', @docs) . ']',
  '{"total":4,"list":[' . CORE::join(',', @docs) . ']}',
  CORE::join('', map { "data:$_\n\n" } @docs) ]



=== TEST 11: compensation_read_max_size: a list over it is refused with 400 naming the directive; under it, the same list answers
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_read_max_size 1k;
--- request eval
::reqs(['snapshot/list', '{"condition":{"operator":"ALL"},"projection":{"include":["aggregateId"]},"sort":[{"field":"aggregateId","direction":"ASC"}]}'],
       ['snapshot/count', '{"operator":"ALL"}'],
       ['snapshot/paged', '{"condition":{"operator":"ALL"}}'],
       ['event/list', '{"condition":{"operator":"ALL"},"limit":100}'],
       ['snapshot/list/state', '{"condition":{"operator":"ALL"}}'],
       ['snapshot/list', '{"condition":{"operator":"ALL"},"limit":1000}'])
--- more_headers eval
[ @{::heads(4)}, "Content-Type: application/json\nAccept: text/event-stream",
  "Content-Type: application/json" ]
--- error_code eval
::codes(200, 200, 400, 400, 400, 400)
--- response_body_like eval
my $e = qr/^\{"errorCode":"IllegalArgument","errorMsg":"The response would exceed 1024 bytes \(compensation_read_max_size\): [^"]*","succeeded":false\}$/;
::bodies(qr/^\[\{"aggregateId":"q1"\},\{"aggregateId":"q2"\},\{"aggregateId":"q3"\},\{"aggregateId":"q4"\},\{"aggregateId":"q5"\}\]$/,
         qr/^5$/, $e, $e, $e, $e)
