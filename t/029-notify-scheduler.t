# Notifications of the commands the scheduler runs itself (issue 18): its
# prepares and the results of mode=sync calls are posted like the API's,
# from the batch's request, which lives until they are delivered; the
# scheduler goes on ticking afterwards.  Waits poll (t/lib/README.md).

use Test::Nginx::Socket 'no_plan';
use Compensation::Harness;    # --- poll blocks: skipped under openresty's Test::Nginx
use re 'eval';

no_root_location();
no_shuffle();

use Compensation::Dispatch;

our $NHttp = $::HttpConfig . <<'_EOC_';
    log_format hook escape=none '$request_body';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_4;
        client_body_buffer_size 1m;
        location = /hook {
            access_log $TEST_NGINX_SERVER_ROOT/logs/hook.log hook;
            proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_4/ok;
        }
        location = /ok { access_log off; return 200 '{"errcode":0}'; }
    }
_EOC_

our $NConfig = <<'_EOC_' . $::Config;
    compensation_notify /_notify
        events=execution_failed_created,compensation_prepared,execution_success_applied,execution_failed_applied;
    location = /_notify {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_4/hook;
    }
    location = /hook.log {
        alias $TEST_NGINX_SERVER_ROOT/logs/hook.log;
    }
_EOC_

sub ev { my ($e, $id) = @_; qq'\\{"event":"$e","eventTime":\\d+,"id":"$id",[^\\n]*\\n' }

our $M = 'GET /actuator/prometheus';

run_tests();

__DATA__

=== TEST 1: a sync call that succeeds: created (the API), prepared and succeeded (the scheduler); the next execution is dispatched too
--- http_config eval: $::NHttp
--- config eval: $::NConfig
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: s1"]
--- request eval
[::create('s1', 'order-service', 'ok')]
--- response_body_like: "aggregateId":"s1"
--- poll eval
[["GET /hook.log", qr/\A(??{ ::ev('execution_failed_created', 's1') . ::ev('compensation_prepared', 's1') . ::ev('execution_success_applied', 's1') })\z/],
 [sub { ::create('s2', 'order-service', 'ok') }, qr/"aggregateId":"s2"/, "$::CT\nCommand-Aggregate-Id: s2"],
 [::state('s2'), qr/"status":"SUCCEEDED"/],
 ["GET /hook.log", qr/(??{ ::ev('execution_success_applied', 's2') })\z/],
 [$::M, qr/^compensation_sink_deliveries_total\{kind="notification",outcome="SUCCESS"\} 6$/m]]



=== TEST 2: a sync call that fails: prepared, then failed again with the target's error
--- http_config eval: $::NHttp
--- config eval: $::NConfig
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: f1"]
--- request eval
[::create('f1', 'order-service', 'fail')]
--- response_body_like: "aggregateId":"f1"
--- poll eval
[["GET /hook.log", qr/\A(??{ ::ev('execution_failed_created', 'f1') . ::ev('compensation_prepared', 'f1') })\{"event":"execution_failed_applied","eventTime":\d+,"id":"f1",[^\n]*"errorCode":"DbDown"[^\n]*\n\z/]]
