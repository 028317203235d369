# Large histories: an aggregate with 1,000 event streams; the versioned
# loads, the tracing, the event load and the regeneration still answer,
# and their times are printed (diag).

use Test::Nginx::Socket 'no_plan';
use JSON::PP ();
use re 'eval';

no_root_location();
no_shuffle();

# the default config, preprocessor and helpers (t/lib/Compensation)
use Compensation::Reads;

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
        && index($_[0], '"state":' . $::K{s1000} . ',"tags":{},"deleted":false}]') > 0;
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
