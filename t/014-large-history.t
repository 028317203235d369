# Large histories: an aggregate with 1,000 event streams; the versioned
# loads, the tracing, the event load and the regeneration still answer,
# and their times are printed (diag).

use Test::Nginx::Socket 'no_plan';
use JSON::PP ();
use re 'eval';

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

use Time::HiRes ();

our $T0;

# marks the time after the previous response; reports this request's time
sub timed {
    my ($what, $re) = @_;
    qr/$re(?{ my $t = Time::HiRes::time(); Test::More::diag(sprintf "%s: %.1f ms", $what, 1000 * ($t - $::T0)) if defined $what; $::T0 = $t })/s;
}

our @SEED = (::create_req(), map { ::change_req($_ % 2 ? 'A' : 'B') } 1 .. 999);

run_tests();

__DATA__

=== TEST 1: 1,000 events: versioned state, tracing (full and limited), event load and snapshot regeneration answer; the times are reported
--- timeout: 30
--- request eval
[@::SEED,
 "GET $::U/state/1000", "GET $::U/state/500", "GET $::U/state/1",
 "GET $::U/state", "GET $::U/state/tracing", "GET $::U/state/tracing?limit=10",
 "GET $::U/state/tracing?headVersion=990", "GET $::U/event/1/1000",
 "PUT $::U/snapshot", "GET $::U/state/time/99999999999999", "GET $::U/state/1001"]
--- more_headers eval
[$::H, ($::CT) x 999, ("") x 11]
--- error_code eval
[(200) x 1010, 400]
--- response_body_like eval
[(map { qr/"aggregateVersion":$_,/ } 1 .. 999),
 ::timed(undef, qr/"aggregateVersion":1000,/),
 ::timed('versioned state 1000', ::keep('s1000')),
 ::timed('versioned state 500', qr/"name":"onA"/),
 ::timed('versioned state 1', qr/"name":"onOrderCreated"/),
 ::timed('latest state (snapshot)', ::same('s1000')),
 ::timed('tracing, 1000 elements', ::check(sub {
    my $a = eval { JSON::PP::decode_json($_[0]) } or return 0;
    return @$a == 1000 && $a->[999]{version} == 1000
        && index($_[0], '"state":' . $::K{s1000} . ',"deleted":false}]') > 0;
 })),
 ::timed('tracing, limit=10', ::versions(991 .. 1000)),
 ::timed('tracing, headVersion=990', ::versions(990 .. 1000)),
 ::timed('event streams 1..1000', ::check(sub {
    my $a = eval { JSON::PP::decode_json($_[0]) } or return 0;
    return @$a == 1000;
 })),
 ::timed('regenerate snapshot', qr/\A\z/),
 ::timed('time-based state', ::same('s1000')),
 ::error_re('IllegalState')]
