# The shared setup of the read-route suites (t/010-014): the default
# config, the block preprocessor, request builders (create_req, change_req,
# mark_req) and body matchers (keep, same, check, versions, error_re).
# Loaded with "use Compensation::Reads;" after "use Test::Nginx::Socket".

package main;

use strict;
use warnings;
use JSON::PP ();

our $HttpConfig = <<'_EOC_';
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
_EOC_

# make prove-threads: as t/lib/Compensation/Commands.pm (snapshot
# regeneration is store work)
$HttpConfig .= !$ENV{TEST_COMPENSATION_THREAD_POOL} ? ''
    : $ENV{TEST_COMPENSATION_THREAD_POOL} eq 'off'
    ? "    compensation_thread_pool off;\n"
    : "    compensation_thread_pool default;\n";

our $Config = <<'_EOC_';
    location / {
        compensation_api;
    }
_EOC_

Test::Nginx::Socket::add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', $Config) unless defined $block->config;
    $block->set_value('no_error_log', "[error]\n[alert]\n[crit]\n")
        unless defined $block->no_error_log;
});

our $CT = 'Content-Type: application/json';
our $H  = "$CT\nCommand-Aggregate-Id: x1";
our $U  = '/execution_failed/x1';
our %K;                                  # bodies kept by keep()

sub create_req {
    "POST /execution_failed/create_execution_failed\n"
    . '{"eventId":{"id":"0U2mSzz10001001","aggregateId":{"contextName":"order-service","aggregateName":"order","aggregateId":"0U2mSz9k0001000","tenantId":"(0)"},"version":1},'
    . '"function":{"functionKind":"EVENT","contextName":"order-service","processorName":"OrderProjector","name":"onOrderCreated"},'
    . '"error":{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":"x"},"executeAt":1719800000000}'
}

sub change_req {
    my $n = shift;
    "PUT $U/change_function\n"
    . qq'{"functionKind":"STATE_EVENT","contextName":"order-service","processorName":"OrderSaga","name":"on$n"}'
}

sub mark_req { "PUT $U/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}" }

# keeps the whole body under a name
sub keep { my $n = shift; qr/\A((?s:\{.*\}))\z(?{ $::K{$n} = $^N })/ }

# the body equals a kept one, byte for byte
sub same { my $n = shift; qr/\A((?s:.*))\z(?(?{ $^N eq $::K{$n} })|(*FAIL))/ }

# a predicate on the whole body
sub check { my $f = shift; qr/\A((?s:.*))\z(?(?{ $f->($^N) })|(*FAIL))/ }

# a JSON array whose elements have these versions, in order
sub versions {
    my @v = @_;
    check(sub {
        my $a = eval { JSON::PP::decode_json($_[0]) } or return 0;
        return join(',', map { $_->{version} } @$a) eq join(',', @v);
    });
}

sub error_re {
    my ($code) = @_;
    qr/\A\{"errorCode":"$code","errorMsg":"(?:[^"\\]|\\.)*"(?:,"bindingErrors":\[.*\])?,"succeeded":false\}\z/;
}

1;
