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

our $J = JSON::PP->new->canonical(0);

sub create {
    my ($id, %o) = @_;
    my $body = {
        eventId => { id => "ev-$id", aggregateId => { contextName => 'order-service',
            aggregateName => 'order', aggregateId => "order-$id", tenantId => '(0)' },
            version => 1 },
        function => { functionKind => 'EVENT', contextName => 'order-service',
            processorName => $o{processor} // 'OrderProjector', name => 'onOrderCreated' },
        error => { errorCode => 'BadRequest', errorMsg => 'boom',
            stackTrace => $o{stack} // 'java.lang.IllegalStateException: boom',
            ($o{binding} ? (bindingErrors => $o{binding}) : ()) },
        executeAt => 1719800000000,
    };
    return ["POST /execution_failed/create_execution_failed\n" . $J->encode($body),
            "Content-Type: application/json\nCommand-Aggregate-Id: $id"];
}

our @SEED = (
    create('q1', stack => 'Java.Lang.Boom'),
    create('q2', processor => 'PaymentSaga'),
    ["PUT /execution_failed/q2/prepare_compensation", ""],
    create('q3'),
    ["PUT /execution_failed/q3/prepare_compensation", ""],
    ["PUT /execution_failed/q3/apply_execution_success\n{\"executeAt\":1719800001000}",
     "Content-Type: application/json"],
    create('q4'),
    ["PUT /execution_failed/q4/mark_recoverable\n{\"recoverable\":\"UNRECOVERABLE\"}",
     "Content-Type: application/json"],
    create('q5', binding => [{ name => 'amount', msg => 'must be positive' }]),
    create('q6'),
    ["DELETE /execution_failed/q6", ""],
);

# seeds, then the queries: [path, body] pairs (JSON bodies)
sub reqs {
    my @q = @_;
    return [ (map { $_->[0] } @SEED),
             map { "POST /execution_failed/$_->[0]\n$_->[1]" } @q ];
}

sub heads {
    my ($n, $h) = @_;
    return [ (map { $_->[1] } @SEED),
             map { "Content-Type: application/json" . ($h ? "\n$h" : '') } 1 .. $n ];
}

sub codes { return [ (map { 200 } @SEED), @_ ] }
sub bodies { return [ (map { qr/.*/s } @SEED), @_ ] }
sub body_list { return [ (map { undef } @SEED), @_ ] }

# a list query returning the sorted ids of a condition
sub ids_query {
    my ($cond) = @_;
    return ['snapshot/list', '{"condition":' . $cond
        . ',"projection":{"include":["aggregateId"]},'
        . '"sort":[{"field":"aggregateId","direction":"ASC"}],"limit":100}'];
}

sub ids_body {
    return '[' . join(',', map { "{\"aggregateId\":\"$_\"}" } @_) . ']';
}

# blocks: [condition, expected ids...]

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

=== TEST 49: {"field":"spaceId","operator":"NULL"}
--- request eval
::reqs(::ids_query(q{{"field":"spaceId","operator":"NULL"}}))
--- more_headers eval
::heads(1)
--- error_code eval
::codes(200)
--- response_body eval
::bodies('[{"aggregateId":"q1"},{"aggregateId":"q2"},{"aggregateId":"q3"},{"aggregateId":"q4"},{"aggregateId":"q5"}]')

