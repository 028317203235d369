# Metrics of the dispatch scheduler (issue 18): calls by the operation's
# final state and the lateness histogram, counted by the worker that ran
# the call and read by a scrape (the shared zone).  Waits poll the scrape.

use Test::Nginx::Socket 'no_plan';
use Compensation::Harness;    # --- poll blocks: skipped under openresty's Test::Nginx
use re 'eval';

no_root_location();
no_shuffle();

use Compensation::Dispatch;

our $M = 'GET /actuator/prometheus';

run_tests();

__DATA__

=== TEST 1: a sync call that succeeds and one that fails: one call each, two lateness observations
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: s1", "$::CT\nCommand-Aggregate-Id: f1"]
--- request eval
[::create('s1', 'order-service', 'ok'), ::create('f1', 'order-service', 'fail')]
--- response_body_like eval
[qr/"aggregateId":"s1"/, qr/"aggregateId":"f1"/]
--- poll eval
[[$::M, qr/^compensation_dispatch_calls_total\{outcome="Succeeded"\} 1\n(?s:.*)^compensation_dispatch_calls_total\{outcome="Failed"\} 1\n(?s:.*)^compensation_dispatch_lateness_seconds_count 2$/m]]



=== TEST 2: an async target's accepted call is Completed; a context without target is Released and not late
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: a1", "$::CT\nCommand-Aggregate-Id: n1"]
--- request eval
[::create('a1', 'pay-service', 'ok'), ::create('n1', 'no-service', 'ok')]
--- response_body_like eval
[qr/"aggregateId":"a1"/, qr/"aggregateId":"n1"/]
--- poll eval
[[$::M, qr/^compensation_dispatch_calls_total\{outcome="Completed"\} 1\n(?s:.*)^compensation_dispatch_calls_total\{outcome="Released"\} [1-9]\d*\n(?s:.*)^compensation_dispatch_lateness_seconds_count 1$/m]]
--- no_error_log
[alert]
[crit]
