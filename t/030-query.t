# The query DSL (spec 4) over a seeded dataset: each operator's reference
# semantics checked against the ids it must return, the deletion filter,
# projection, sort, pagination, the routes' shapes, SSE, and bad queries
# (400, store untouched).
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

=== TEST 1: {"operator":"ALL"}
--- request eval
::reqs(::ids_query(q{{"operator":"ALL"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q4"},{"aggregateId":"q5"}]')

=== TEST 2: {}
--- request eval
::reqs(::ids_query(q{{}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q4"},{"aggregateId":"q5"}]')

=== TEST 3: {"operator":"ID","value":"q3"}
--- request eval
::reqs(::ids_query(q{{"operator":"ID","value":"q3"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q3"}]')

=== TEST 4: {"operator":"IDS","value":["q1","q6","zz"]}
--- request eval
::reqs(::ids_query(q{{"operator":"IDS","value":["q1","q6","zz"]}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"}]')

=== TEST 5: {"operator":"AGGREGATE_ID","value":"q2"}
--- request eval
::reqs(::ids_query(q{{"operator":"AGGREGATE_ID","value":"q2"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q2"}]')

=== TEST 6: {"operator":"TENANT_ID","value":"(0)"}
--- request eval
::reqs(::ids_query(q{{"operator":"TENANT_ID","value":"(0)"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q4"},{"aggregateId":"q5"}]')

=== TEST 7: {"operator":"OWNER_ID","value":"x"}
--- request eval
::reqs(::ids_query(q{{"operator":"OWNER_ID","value":"x"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[]')

=== TEST 8: {"operator":"DELETED","value":"DELETED"}
--- request eval
::reqs(::ids_query(q{{"operator":"DELETED","value":"DELETED"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q6"}]')

=== TEST 9: {"operator":"DELETED","value":"all"}
--- request eval
::reqs(::ids_query(q{{"operator":"DELETED","value":"all"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q4"},{"aggregateId":"q5"},{"aggregateId":"q6"}]')

=== TEST 10: {"operator":"DELETED","value":false}
--- request eval
::reqs(::ids_query(q{{"operator":"DELETED","value":false}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q4"},{"aggregateId":"q5"}]')

=== TEST 11: {"operator":"AND","children":[{"operator":"DELETED","value":"ALL"},{"field":"state.status","operator":"EQ","value":"FAILED"}]}
--- request eval
::reqs(::ids_query(q{{"operator":"AND","children":[{"operator":"DELETED","value":"ALL"},{"field":"state.status","operator":"EQ","value":"FAILED"}]}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q4"},{"aggregateId":"q5"},{"aggregateId":"q6"}]')

=== TEST 12: {"field":"state.status","operator":"EQ","value":"FAILED"}
--- request eval
::reqs(::ids_query(q{{"field":"state.status","operator":"EQ","value":"FAILED"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q4"},{"aggregateId":"q5"}]')

=== TEST 13: {"field":"state.status","operator":"eq","value":"PREPARED"}
--- request eval
::reqs(::ids_query(q{{"field":"state.status","operator":"eq","value":"PREPARED"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q2"}]')

=== TEST 14: {"field":"state.status","operator":"EQ","value":1}
--- request eval
::reqs(::ids_query(q{{"field":"state.status","operator":"EQ","value":1}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[]')

=== TEST 15: {"field":"state.status","operator":"NE","value":"FAILED"}
--- request eval
::reqs(::ids_query(q{{"field":"state.status","operator":"NE","value":"FAILED"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q2"},{"aggregateId":"q3"}]')

=== TEST 16: {"field":"state.recoverable","operator":"IN","value":["UNRECOVERABLE","RECOVERABLE"]}
--- request eval
::reqs(::ids_query(q{{"field":"state.recoverable","operator":"IN","value":["UNRECOVERABLE","RECOVERABLE"]}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q4"}]')

=== TEST 17: {"field":"state.recoverable","operator":"NOT_IN","value":["UNRECOVERABLE"]}
--- request eval
::reqs(::ids_query(q{{"field":"state.recoverable","operator":"NOT_IN","value":["UNRECOVERABLE"]}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q5"}]')

=== TEST 18: {"field":"state.retryState.retries","operator":"GT","value":0}
--- request eval
::reqs(::ids_query(q{{"field":"state.retryState.retries","operator":"GT","value":0}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q2"},{"aggregateId":"q3"}]')

=== TEST 19: {"field":"state.retryState.retries","operator":"GTE","value":0}
--- request eval
::reqs(::ids_query(q{{"field":"state.retryState.retries","operator":"GTE","value":0}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q4"},{"aggregateId":"q5"}]')

=== TEST 20: {"field":"state.retryState.retries","operator":"LT","value":1}
--- request eval
::reqs(::ids_query(q{{"field":"state.retryState.retries","operator":"LT","value":1}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q4"},{"aggregateId":"q5"}]')

=== TEST 21: {"field":"state.retryState.retries","operator":"LTE","value":"1"}
--- request eval
::reqs(::ids_query(q{{"field":"state.retryState.retries","operator":"LTE","value":"1"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[]')

=== TEST 22: {"field":"version","operator":"BETWEEN","value":[2,2]}
--- request eval
::reqs(::ids_query(q{{"field":"version","operator":"BETWEEN","value":[2,2]}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q2"},{"aggregateId":"q4"}]')

=== TEST 23: {"field":"state.isRetryable","operator":"TRUE"}
--- request eval
::reqs(::ids_query(q{{"field":"state.isRetryable","operator":"TRUE"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q4"},{"aggregateId":"q5"}]')

=== TEST 24: {"field":"state.isRetryable","operator":"FALSE"}
--- request eval
::reqs(::ids_query(q{{"field":"state.isRetryable","operator":"FALSE"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q3"}]')

=== TEST 25: {"field":"state.function.processorName","operator":"EQ","value":"PaymentSaga"}
--- request eval
::reqs(::ids_query(q{{"field":"state.function.processorName","operator":"EQ","value":"PaymentSaga"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q2"}]')

=== TEST 26: {"field":"state.function.processorName","operator":"CONTAINS","value":"projector"}
--- request eval
::reqs(::ids_query(q{{"field":"state.function.processorName","operator":"CONTAINS","value":"projector"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[]')

=== TEST 27: {"field":"state.function.processorName","operator":"CONTAINS","value":"projector","options":{"ignoreCase":true}}
--- request eval
::reqs(::ids_query(q{{"field":"state.function.processorName","operator":"CONTAINS","value":"projector","options":{"ignoreCase":true}}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q3"},{"aggregateId":"q4"},{"aggregateId":"q5"}]')

=== TEST 28: {"field":"state.error.stackTrace","operator":"STARTS_WITH","value":"Java."}
--- request eval
::reqs(::ids_query(q{{"field":"state.error.stackTrace","operator":"STARTS_WITH","value":"Java."}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"}]')

=== TEST 29: {"field":"state.error.stackTrace","operator":"STARTS_WITH","value":"java."}
--- request eval
::reqs(::ids_query(q{{"field":"state.error.stackTrace","operator":"STARTS_WITH","value":"java."}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q4"},{"aggregateId":"q5"}]')

=== TEST 30: {"field":"state.error.stackTrace","operator":"ENDS_WITH","value":"BOOM","options":{"ignoreCase":true}}
--- request eval
::reqs(::ids_query(q{{"field":"state.error.stackTrace","operator":"ENDS_WITH","value":"BOOM","options":{"ignoreCase":true}}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q4"},{"aggregateId":"q5"}]')

=== TEST 31: {"field":"state.error.stackTrace","operator":"CONTAINS","value":".*"}
--- request eval
::reqs(::ids_query(q{{"field":"state.error.stackTrace","operator":"CONTAINS","value":".*"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[]')

=== TEST 32: {"field":"state.error.bindingErrors.name","operator":"EQ","value":"amount"}
--- request eval
::reqs(::ids_query(q{{"field":"state.error.bindingErrors.name","operator":"EQ","value":"amount"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q5"}]')

=== TEST 33: {"field":"state.error.bindingErrors.name","operator":"NE","value":"amount"}
--- request eval
::reqs(::ids_query(q{{"field":"state.error.bindingErrors.name","operator":"NE","value":"amount"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q4"}]')

=== TEST 34: {"field":"state.error.bindingErrors","operator":"EXISTS","value":true}
--- request eval
::reqs(::ids_query(q{{"field":"state.error.bindingErrors","operator":"EXISTS","value":true}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q5"}]')

=== TEST 35: {"field":"state.error.bindingErrors","operator":"EXISTS","value":false}
--- request eval
::reqs(::ids_query(q{{"field":"state.error.bindingErrors","operator":"EXISTS","value":false}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q4"}]')

=== TEST 36: {"field":"state.error.bindingErrors.name","operator":"NULL"}
--- request eval
::reqs(::ids_query(q{{"field":"state.error.bindingErrors.name","operator":"NULL"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q4"}]')

=== TEST 37: {"field":"state.error.bindingErrors.msg","operator":"NOT_NULL"}
--- request eval
::reqs(::ids_query(q{{"field":"state.error.bindingErrors.msg","operator":"NOT_NULL"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q5"}]')

=== TEST 38: {"field":"state.error.bindingErrors","operator":"ELEM_MATCH","children":[{"field":"msg","operator":"CONTAINS","value":"positive"}]}
--- request eval
::reqs(::ids_query(q{{"field":"state.error.bindingErrors","operator":"ELEM_MATCH","children":[{"field":"msg","operator":"CONTAINS","value":"positive"}]}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q5"}]')

=== TEST 39: {"field":"state.error.bindingErrors.name","operator":"ALL_IN","value":["amount"]}
--- request eval
::reqs(::ids_query(q{{"field":"state.error.bindingErrors.name","operator":"ALL_IN","value":["amount"]}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q5"}]')

=== TEST 40: {"field":"state.error.bindingErrors.name","operator":"ALL_IN","value":["amount","other"]}
--- request eval
::reqs(::ids_query(q{{"field":"state.error.bindingErrors.name","operator":"ALL_IN","value":["amount","other"]}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[]')

=== TEST 41: {"operator":"OR","children":[{"operator":"ID","value":"q1"},{"operator":"ID","value":"q4"}]}
--- request eval
::reqs(::ids_query(q{{"operator":"OR","children":[{"operator":"ID","value":"q1"},{"operator":"ID","value":"q4"}]}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q4"}]')

=== TEST 42: {"operator":"NOR","children":[{"operator":"ID","value":"q1"},{"operator":"ID","value":"q4"}]}
--- request eval
::reqs(::ids_query(q{{"operator":"NOR","children":[{"operator":"ID","value":"q1"},{"operator":"ID","value":"q4"}]}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q5"}]')

=== TEST 43: {"field":"state.executeAt","operator":"EARLIER_DAYS","value":1,"options":{"zoneId":"Asia/Shanghai"}}
--- request eval
::reqs(::ids_query(q{{"field":"state.executeAt","operator":"EARLIER_DAYS","value":1,"options":{"zoneId":"Asia/Shanghai"}}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q4"},{"aggregateId":"q5"}]')

=== TEST 44: {"field":"state.executeAt","operator":"RECENT_DAYS","value":3}
--- request eval
::reqs(::ids_query(q{{"field":"state.executeAt","operator":"RECENT_DAYS","value":3}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[]')

=== TEST 45: {"field":"snapshotTime","operator":"TODAY","options":{"zoneId":"America/New_York"}}
--- request eval
::reqs(::ids_query(q{{"field":"snapshotTime","operator":"TODAY","options":{"zoneId":"America/New_York"}}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q4"},{"aggregateId":"q5"}]')

=== TEST 46: {"field":"snapshotTime","operator":"THIS_MONTH","options":{"zoneId":"+05:30"}}
--- request eval
::reqs(::ids_query(q{{"field":"snapshotTime","operator":"THIS_MONTH","options":{"zoneId":"+05:30"}}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q4"},{"aggregateId":"q5"}]')

=== TEST 47: {"field":"snapshotTime","operator":"BEFORE_TODAY","value":"00:00"}
--- request eval
::reqs(::ids_query(q{{"field":"snapshotTime","operator":"BEFORE_TODAY","value":"00:00"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[]')

=== TEST 48: {"field":"snapshotTime","operator":"TOMORROW"}
--- request eval
::reqs(::ids_query(q{{"field":"snapshotTime","operator":"TOMORROW"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[]')

=== TEST 49: {"field":"spaceId","operator":"NULL"}: every snapshot has spaceId "" ([HEAD] shape), none is null
--- request eval
::reqs(::ids_query(q{{"field":"spaceId","operator":"NULL"}}), ::ids_query(q{{"field":"spaceId","operator":"EQ","value":""}}), ::ids_query(q{{"field":"tags","operator":"EQ","value":{}}}))
--- more_headers eval
::heads(3)
--- error_code eval
::codes(200, 200, 200)
--- response_body eval
::bodies('[]', '[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q4"},{"aggregateId":"q5"}]', '[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q4"},{"aggregateId":"q5"}]')

