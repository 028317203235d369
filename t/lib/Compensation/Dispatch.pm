# The shared setup of the dispatch suites (t/050-052): the store, a fast
# scheduler, a backend server{} answering 200 / 503 / 400 by path, a refused
# upstream and a tcp mock, the four compensation_target locations, and the
# helpers create(), state() and ops().  Loaded with
# "use Compensation::Dispatch;" after "use Test::Nginx::Socket".

package main;

use strict;
use warnings;

our $HttpConfig = <<'_EOC_';
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_scheduler interval=100ms batch=10 concurrency=4 lease=10s
                           cancel_check=50ms;
    upstream backend {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        keepalive 4;
    }
    upstream down_backend {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }
    upstream mock_backend {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    log_format comp '$request_method $request_uri $http_idempotency_key'
                    ' $content_type';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/backend.log comp;
        location ~ ^/svc/ok/ {
            return 200 '{}';
        }
        location ~ ^/svc/fail/ {
            add_header Wow-Error-Code DbDown always;
            default_type application/json;
            return 503 '{"errorCode":"DbDown","errorMsg":"database down"}';
        }
        location ~ ^/svc/bad/ {
            default_type application/json;
            return 400 '{"errorMsg":"no such order"}';
        }
    }
_EOC_

# make prove-threads: as t/lib/Compensation/Commands.pm
$HttpConfig .= !$ENV{TEST_COMPENSATION_THREAD_POOL} ? ''
    : $ENV{TEST_COMPENSATION_THREAD_POOL} eq 'off'
    ? "    compensation_thread_pool off;\n"
    : "    compensation_thread_pool default;\n";

our $Config = <<'_EOC_';
    compensation_target order-service /_c/sync mode=sync;
    compensation_target pay-service /_c/async;
    compensation_target down-service /_c/down mode=sync;
    compensation_target mock-service /_c/mock mode=sync;
    location / {
        compensation_api;
    }
    location /_c/sync/ {
        internal;
        proxy_pass http://backend/svc/;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_ignore_client_abort on;
    }
    location /_c/async/ {
        internal;
        proxy_pass http://backend/svc/;
        proxy_ignore_client_abort on;
    }
    location /_c/down/ {
        internal;
        proxy_pass http://down_backend/svc/;
        proxy_ignore_client_abort on;
    }
    location /_c/mock/ {
        internal;
        proxy_pass http://mock_backend/svc/;
        proxy_ignore_client_abort on;
        proxy_read_timeout 500ms;
    }
_EOC_

Test::Nginx::Socket::add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', $Config) unless defined $block->config;
    $block->set_value('no_error_log', "[alert]\n[crit]\n")
        unless defined $block->no_error_log;
});

# a create request: context, aggregate name (ok/fail/bad: the mock's answer),
# retry spec
sub create {
    my ($id, $ctx, $agg, $spec, $at) = @_;
    $spec ||= '{"maxRetries":3,"minBackoff":60,"executionTimeout":60}';
    $at ||= 1719800000000;
    "POST /execution_failed/create_execution_failed\n"
    . qq'{"eventId":{"id":"0U2mSzz10001001","aggregateId":{"contextName":"$ctx","aggregateName":"$agg","aggregateId":"a-$id","tenantId":"(0)"},"version":7},'
    . '"function":{"functionKind":"EVENT","contextName":"' . $ctx . '","processorName":"OrderProjector","name":"onOrderCreated"},'
    . qq'"error":{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":"x"},"executeAt":$at,"retrySpec":$spec}'
}

sub state { "GET /execution_failed/$_[0]/state" }
sub ops { "GET /execution_failed/$_[0]/operations" }

our $CT = 'Content-Type: application/json';

1;
