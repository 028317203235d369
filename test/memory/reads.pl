#!/usr/bin/env perl
# What reads may cost a worker (issue 20, item 1).
#
# Seeds a private nginx (master + 2 workers, the default read budgets) with
# executions whose error.stackTrace is 900 KB, restarts it (fresh workers),
# takes each worker's idle VmRSS after a warm-up read, then runs concurrent
# clients that loop over every read route that can return many or large
# documents: snapshot list/paged/single (JSON and SSE, match-all with limit
# 1000, and lists that fit the budget), event-stream queries, the event
# streams and the tracing of an aggregate, its state, snapshot and
# versioned state.  Half of the clients read their responses slowly, so
# that responses stay held by the worker.  Afterwards each worker's VmHWM
# (peak RSS, from /proc) must be within --budget MB (64) of its idle RSS,
# and no read may have been answered 500 or cut short.
#
# Usage: test/memory/reads.pl [--executions N] [--clients N] [--seconds S]
#        [--port P] [--budget MB] [--keep]
# Environment: NGINX_BIN, MODULE, MEMORY_PORT.
# Exit status 0 when the peak stayed within the budget.

use strict;
use warnings;

use File::Basename qw(dirname);
use Getopt::Long;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

use lib dirname(__FILE__) . '/../lib';
use Compensation::Tool qw(note workers);

my %o = (
    executions => 250,
    clients    => 8,
    seconds    => 8,
    port       => $ENV{MEMORY_PORT} || 0,
    budget     => 64,
    keep       => 0,
);
GetOptions(\%o, 'executions=i', 'clients=i', 'seconds=f', 'port=i',
           'budget=i', 'keep')
    or die "usage: $0 [--executions N] [--clients N] [--seconds S]"
           . " [--port P] [--budget MB] [--keep]\n";

my $t = Compensation::Tool->new(name => 'memory', port => $o{port},
                                error_log => 'warn');
my $prefix = $t->prefix;

$| = 1;
my $main_pid = $$;
my @clients;

$SIG{INT} = $SIG{TERM} = sub { cleanup(); exit 2 };

$t->start;

# --- seed ------------------------------------------------------------------

my $t0 = time;
my $trace = 'x' x (900 * 1024);
for my $i (1 .. $o{executions}) {
    my ($st) = http('POST', '/execution_failed/create_execution_failed',
                    create_body($i), 'Command-Aggregate-Id' => "m$i");
    die "seeding m$i: " . ($st // 'no response') . "\n"
        unless defined $st && $st == 200;
}
note(sprintf("seeded %d executions with a 900 KB stackTrace in %.1f s",
             $o{executions}, time - $t0));

# fresh workers: the seeding's writes do not count
$t->stop;
$t->start;

my @w = workers($t->master);
die "expected 2 workers, found @w\n" unless @w == 2;

# warm-up: a few small reads on each worker (connections spread)
http('GET', "/execution_failed/m$_/state") for 1 .. 8;
sleep 0.5;
my %idle = map { $_ => status($_)->{VmRSS} } @w;
note("idle VmRSS: " . join(', ', map { "$_ $idle{$_} kB" } @w));

# --- the load --------------------------------------------------------------

my $end = time + $o{seconds};
for my $c (1 .. $o{clients}) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) { client($c, $c % 2 == 0); POSIX::_exit(0) }
    push @clients, $pid;
}

my %peak_seen = map { $_ => 0 } @w;
while (time < $end + 5 && grep { waitpid($_, WNOHANG) == 0 } @clients) {
    for (@w) {
        my $r = status($_)->{VmRSS} // 0;
        $peak_seen{$_} = $r if $r > $peak_seen{$_};
    }
    sleep 0.05;
}
waitpid($_, 0) for @clients;

my $fail = 0;
my %count;
for my $c (1 .. $o{clients}) {
    open my $fh, '<', "$prefix/client.$c" or do { $fail = 1; next };
    while (my $l = <$fh>) {
        chomp $l;
        my ($k, $n) = split / /, $l;
        $count{$k} += $n;
    }
}
note("answers (status:route count):");
note("  $_ $count{$_}") for sort keys %count;

if (grep { !/^(200|400|404|503):/ } keys %count) {
    note("FAIL: a read was answered otherwise than 200/400/404/503");
    $fail = 1;
}

for (@w) {
    my $s = status($_);
    my $grow = ($s->{VmHWM} - $idle{$_}) / 1024;
    note(sprintf("worker %d: idle %d kB, VmHWM %d kB, VmRSS now %d kB,"
                 . " highest sample %d kB: peak %.1f MB above idle"
                 . " (budget %d MB)", $_, $idle{$_}, $s->{VmHWM}, $s->{VmRSS},
                 $peak_seen{$_}, $grow, $o{budget}));
    $fail = 1 if $grow > $o{budget};
}

if (my @bad = $t->bad_log_lines) {
    note("FAIL: $_") for @bad;
    $fail = 1;
}

note($fail ? 'FAIL' : 'PASS');

cleanup();
$t->finish($fail, $o{keep});

exit($fail ? 1 : 0);


# --------------------------------------------------------------------------

sub cleanup {
    return unless $$ == $main_pid;
    for (@clients) { kill 'KILL', $_; waitpid($_, 0) }
    @clients = ();
    $t->stop;
}

END { cleanup() if $t }

sub status { Compensation::Tool::proc_status(@_) }

sub create_body {
    my $i = shift;
    return '{"eventId":{"id":"ev-' . $i . '","version":1,"aggregateId":'
         . '{"contextName":"order-service","aggregateName":"order",'
         . '"aggregateId":"order-' . $i . '","tenantId":"(0)"}},'
         . '"function":{"functionKind":"EVENT","contextName":"order-service",'
         . '"processorName":"OrderProjector","name":"onOrderCreated"},'
         . '"error":{"errorCode":"BadRequest","errorMsg":"boom",'
         . '"stackTrace":"' . $trace . '"},"executeAt":1719800000000}';
}

# one exchange; (status, body) or () when there was no complete response.
# slow => 1: the response is read 16 KB at a time with pauses
sub http { $t->http(@_) }

sub client {
    my ($c, $slow) = @_;
    my $n = $o{executions};
    my @reads = (
        ['POST', '/execution_failed/snapshot/list',
         '{"condition":{"operator":"ALL"},"limit":1000}'],
        ['POST', '/execution_failed/snapshot/list',
         '{"condition":{"operator":"ALL"},"limit":6}'],
        ['POST', '/execution_failed/snapshot/list/state',
         '{"condition":{"operator":"ALL"},"limit":6}', Accept => 'text/event-stream'],
        ['POST', '/execution_failed/snapshot/paged',
         '{"condition":{"operator":"ALL"},"pagination":{"index":1,"size":5}}'],
        ['POST', '/execution_failed/snapshot/single',
         '{"condition":{"operator":"ALL"}}'],
        ['POST', '/execution_failed/event/list',
         '{"condition":{"operator":"ALL"},"limit":1000}'],
        ['POST', '/execution_failed/event/list',
         '{"condition":{"operator":"ALL"},"limit":1000}', Accept => 'text/event-stream'],
        ['POST', '/execution_failed/event/paged',
         '{"condition":{"operator":"ALL"},"pagination":{"index":1,"size":5}}'],
        ['GET', '/execution_failed/m{k}/state'],
        ['GET', '/execution_failed/m{k}/state/tracing'],
        ['GET', '/execution_failed/m{k}/event/1/100'],
        ['GET', '/execution_failed/m{k}/snapshot'],
        ['GET', '/execution_failed/m{k}/state/1'],
    );
    my %count;
    my $i = $c;
    while (time < $end) {
        my ($m, $p, $b, %h) = @{ $reads[$i++ % @reads] };
        my $k = 1 + int rand $n;
        $p =~ s/\{k\}/$k/;
        my ($st) = http($m, $p, $b, %h, slow => $slow);
        (my $route = $p) =~ s/m\d+/{id}/;
        $count{($st // 'cut') . ":$m:$route"}++;
    }
    open my $fh, '>', "$prefix/client.$c" or die "$!";
    print $fh "$_ $count{$_}\n" for keys %count;
    close $fh;
}
