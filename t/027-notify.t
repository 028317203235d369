# Notifications (compensation_notify, spec 7.4): a committed command whose
# event is in the configured set POSTs a message about the execution's new
# state to a location proxying to an upstream{}: the generic JSON document
# or the WeCom group-bot Markdown message, with a link to the dashboard's
# view.  Delivery never changes the command's answer; failures are logged
# and counted.

use Test::Nginx::Socket 'no_plan';
use Compensation::Harness;    # --- poll blocks: skipped under openresty's Test::Nginx
use re 'eval';

no_root_location();
no_shuffle();

our $HttpConfig = <<'_EOC_';
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    upstream hook { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
_EOC_

# a hook server{} that logs every message
our $LogHttp = <<'_EOC_';
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    log_format hook escape=none '$http_wow_sink_kind $request_body';
    upstream hook { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        client_body_buffer_size 1m;
        location = /hook {
            access_log $TEST_NGINX_SERVER_ROOT/logs/hook.log hook;
            proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ok;
        }
        location = /ok { access_log off; return 200 '{"errcode":0}'; }
    }
_EOC_

sub config {
    my $args = shift;
    return <<"_EOC_";
    location / {
        compensation_api;
        compensation_notify /_notify $args;
    }
    location = /_notify {
        internal;
        proxy_pass http://hook/hook;
    }
    location = /hook.log {
        alias \$TEST_NGINX_SERVER_ROOT/logs/hook.log;
    }
_EOC_
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('no_error_log', "[error]\n[alert]\n[crit]\n")
        unless defined $block->no_error_log;
});

our $CT = 'Content-Type: application/json';

sub create {
    "POST /execution_failed/create_execution_failed\n"
    . '{"eventId":{"id":"0U2mSzz10001001","aggregateId":{"contextName":"order-service","aggregateName":"order","aggregateId":"0U2mSz9k0001000","tenantId":"(0)"},"version":3},'
    . '"function":{"functionKind":"EVENT","contextName":"order-service","processorName":"OrderProjector","name":"onOrderCreated"},'
    . '"error":{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":"x"},"executeAt":1719800000000,'
    . '"retrySpec":{"maxRetries":10,"minBackoff":180,"executionTimeout":120}}'
}

sub id { "$CT\nCommand-Aggregate-Id: $_[0]" }

our $OK = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{\"errcode\":0}";

run_tests();

__DATA__

=== TEST 1: a created execution: the generic JSON document (event, time, id, link to its view, the state) POSTed to the location
--- config eval: ::config('host=https://dash.example/')
--- request eval
::create()
--- more_headers eval
::id('n/1')
--- response_body_like: "errorCode":"Ok"
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $::OK
--- tcp_query eval
qr{\APOST /hook HTTP/1\.0\r\n(?=(?s:.*)^Content-Type: application/json\r\n)(?=(?s:.*)^Wow-Sink-Kind: notification\r\n)(?s:.*)\r\n\r\n\{"event":"execution_failed_created","eventTime":\d{13},"id":"n/1","link":"https://dash\.example/to-retry\?id=n%2F1","state":\{"id":"n/1",(?s:.*)"status":"FAILED","recoverable":"UNKNOWN".*\}\}\z}m



=== TEST 2: format=wecom: the group bot's Markdown message; only the configured event; UNRECOVERABLE links to its view
--- config eval: ::config('format=wecom events=recoverable_marked host=https://dash.example')
--- request eval
[::create(), "PUT /execution_failed/w1/mark_recoverable\n{\"recoverable\":\"UNRECOVERABLE\"}"]
--- more_headers eval
[::id('w1'), $::CT]
--- response_body_like eval
[qr/"errorCode":"Ok"/, qr/"errorCode":"Ok"/]
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $::OK
--- tcp_query eval
qr{\r\n\r\n\{"msgtype":"markdown","markdown":\{"content":"\# Recoverable Marked - 0\\n- Id: \[w1\]\(https://dash\.example/unrecoverable\?id=w1\)\\n- Processor: OrderProjector\@order-service\\n- Function: onOrderCreated\\n- ExecuteAt: 2024-07-01 02:13:20 UTC\\n- Recoverable: <font color=\\"warning\\">UNRECOVERABLE</font>\\n\#\# Event Id\\n- Aggregate: order\@order-service\\n- AggregateId: `0U2mSz9k0001000`\\n- Id: `0U2mSzz10001001`\\n- Version: `3`\\n\#\# Retry State\\n- Retries: 0\(10\)\\n- RetryAt: 2024-07-01 02:13:20 UTC\\n- NextRetryAt: 2024-07-01 02:16:20 UTC\\n- Status: <font color=\\"warning\\">FAILED</font>\\n\#\# Error\\n- ErrorCode: BadRequest\\n- ErrorMsg: boom"\}\}\z}



=== TEST 3: the default event set: created, failed again and succeeded are posted, prepared is not; counted as delivered
--- http_config eval: $::LogHttp
--- config eval: ::config('')
--- request eval
[::create(), "PUT /execution_failed/d1/prepare_compensation",
 "PUT /execution_failed/d1/apply_execution_failed\n{\"error\":{\"errorCode\":\"Timeout\",\"errorMsg\":\"again\",\"stackTrace\":\"\"},\"executeAt\":1719800200000}",
 "PUT /execution_failed/d1/prepare_compensation",
 "PUT /execution_failed/d1/apply_execution_success\n{\"executeAt\":1719800300000}"]
--- more_headers eval
[::id('d1'), '', $::CT, '', $::CT]
--- response_body_like eval
[qr/"errorCode":"Ok"/, qr/"errorCode":"Ok"/, qr/"errorCode":"Ok"/, qr/"errorCode":"Ok"/, qr/"errorCode":"Ok"/]
--- poll eval
[["GET /hook.log", qr/\Anotification \{"event":"execution_failed_created",[^\n]*"status":"FAILED"[^\n]*\}\nnotification \{"event":"execution_failed_applied",[^\n]*"retries":1,[^\n]*"status":"FAILED"[^\n]*\}\nnotification \{"event":"execution_success_applied",[^\n]*"status":"SUCCEEDED"[^\n]*\}\n\z/],
 ["GET /actuator/prometheus", qr/^compensation_sink_deliveries_total\{kind="notification",outcome="SUCCESS"\} 3$/m]]



=== TEST 4: the hook is down: the command is answered as always, the failure is logged and counted
--- config eval: ::config('events=execution_failed_created')
--- request eval
[::create()]
--- more_headers eval
[::id('f1')]
--- response_body_like eval
[qr/"errorCode":"Ok"/]
--- poll eval
[["GET /actuator/prometheus", qr/^compensation_sink_deliveries_total\{kind="notification",outcome="FAILURE"\} 1$/m],
 ["GET /execution_failed/f1/state", qr/"status":"FAILED"/]]
--- error_log
the sink "/_notify" answered 502
--- no_error_log
[alert]
[crit]



=== TEST 5: compensation_notify off in an inner location; refused commands and duplicates notify nothing
--- http_config eval: $::LogHttp
--- config
    compensation_notify /_notify events=execution_failed_created,compensation_prepared;
    location / {
        compensation_api;
    }
    location /quiet/ {
        compensation_api;
        compensation_notify off;
    }
    location = /_notify {
        internal;
        proxy_pass http://hook/hook;
    }
    location = /hook.log {
        alias $TEST_NGINX_SERVER_ROOT/logs/hook.log;
    }
--- request eval
[::create(), "PUT /execution_failed/q1/prepare_compensation",
 ::create(), "PUT /quiet/execution_failed/q2/prepare_compensation",
 "PUT /execution_failed/q2/apply_execution_success\n{\"executeAt\":1}",
 "PUT /execution_failed/q1/prepare_compensation",
 "PUT /execution_failed/q9/prepare_compensation"]
--- more_headers eval
[::id('q1'), '', "$::CT\nCommand-Aggregate-Id: q2\nCommand-Request-Id: r-q2", '', $::CT, '', '']
--- error_code eval
[200, 200, 200, 200, 200, 400, 404]
--- poll eval
[["GET /hook.log", qr/\Anotification \{"event":"execution_failed_created","eventTime":\d+,"id":"q1",[^\n]*\nnotification \{"event":"compensation_prepared","eventTime":\d+,"id":"q1",[^\n]*\nnotification \{"event":"execution_failed_created","eventTime":\d+,"id":"q2",[^\n]*\n\z/]]



=== TEST 6: an unknown event is refused by nginx -t
--- config eval: ::config('events=execution_failed_created,nope')
--- must_die
--- error_log
compensation_notify: unknown event "nope"



=== TEST 7: host must be an http(s) URL
--- config eval: ::config('host=dash.example')
--- must_die
--- error_log
compensation_notify: "host=dash.example" must be an http:// or https:// URL
