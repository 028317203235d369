#!/usr/bin/env perl
# Crash safety of the store (issue 7).
#
# Runs a concurrent write load against a private nginx (master + 2 workers):
# each client creates executions and drives them through
# force_prepare / apply_execution_failed / apply_execution_success /
# change_function, every command with a unique Command-Request-Id, and
# records every outcome (status and aggregateVersion, or "no response").
# Each round SIGKILLs one worker at a random moment, then (after another
# random delay) the master and all of its workers, and starts nginx again.
# At the end it checks, through the module's own routes:
#
#   1. every command that got a 200 is in the store: its aggregate's event
#      stream has an event with that requestId at exactly the version the
#      200 reported (no 200 was given for a write that is missing);
#   2. no command that got a 4xx/5xx answer is in the store (with
#      --pg-restart, a 500 whose COMMIT lost its connection may have
#      committed: it passes if the same command sent again with its request
#      id is refused as DuplicateRequestId, and is counted);
#   3. no event in the store carries a request id the load never sent;
#   4. each aggregate's snapshot equals the replay of its events: the
#      snapshot (GET .../snapshot) has the version and event id of the last
#      event, and its state equals GET .../state/{version} (a replay of the
#      event stream from version 1) and GET .../state;
#   5. SQLite's PRAGMA integrity_check is "ok" (when the sqlite3 shell is
#      installed; not with --store).
#
# With --store DSN the store is that PostgreSQL database (empty, or left by
# another run: only this run's aggregates are checked), and with
# --pg-restart CMD each round also runs CMD (scripts/pg-cluster.sh restart
# DIR: a fast shutdown, which cuts every connection) under the load, between
# the worker's SIGKILL and the master's.
#
# Usage: test/crash/crash.pl [--rounds N] [--clients N] [--port P]
#        [--keep]            (keep the prefix under var/crash for a post mortem)
#        [--thread-pool]     (commands in the store thread)
#        [--store DSN] [--pg-restart CMD]
# Environment: CRASH_ROUNDS, CRASH_CLIENTS, CRASH_PORT, NGINX_BIN, MODULE
# (not NGINX: nginx itself reads that variable as inherited sockets).
# Exit status 0 when every check passed.

use strict;
use warnings;

use File::Basename qw(dirname);
use Getopt::Long;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

use lib dirname(__FILE__) . '/../lib';
use Compensation::Tool qw(note workers);

my %o = (
    rounds  => $ENV{CRASH_ROUNDS}  || 3,
    clients => $ENV{CRASH_CLIENTS} || 6,
    port    => $ENV{CRASH_PORT}    || 0,
    keep    => 0,
);
GetOptions(\%o, 'rounds=i', 'clients=i', 'port=i', 'keep', 'thread-pool',
           'store=s', 'pg-restart=s')
    or die "usage: $0 [--rounds N] [--clients N] [--port P] [--keep]"
           . " [--thread-pool] [--store DSN] [--pg-restart CMD]\n";
die "--pg-restart needs --store\n" if $o{'pg-restart'} && !$o{store};

# --thread-pool: the commands run in the store thread (compensation_thread_pool)
my $t = Compensation::Tool->new(name => 'crash', port => $o{port},
                                thread_pool => $o{'thread-pool'},
                                store => $o{store},
                                dirs => ['clients']);
my $prefix = $t->prefix;

my $json = JSON::PP->new->canonical;

$| = 1;
my $main_pid = $$;
my $kills = 0;          # SIGKILLs sent to our processes
my $pg_restarts = 0;
my $respawn_failures = 0;
my @clients;

$SIG{INT} = $SIG{TERM} = sub { cleanup(); exit 2 };

$t->start;

for my $c (1 .. $o{clients}) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) { client($c); POSIX::_exit(0) }
    push @clients, $pid;
}

for my $round (1 .. $o{rounds}) {
    sleep(0.3 + rand(1.0));
    my $master = $t->master;
    my @w = workers($master);
    if (@w) {
        my $victim = $w[int rand @w];
        kill 'KILL', $victim and $kills++;
        note("round $round: SIGKILL worker $victim");
        # the master must survive a worker's death and replace it
        my $n = 0;
        for (1 .. 100) {
            $n = grep { $_ != $victim } workers($master);
            last if $n == 2;
            sleep 0.02;
        }
        if (!kill(0, $master) || $n != 2) {
            $respawn_failures++;
            note("round $round: the master did not respawn the worker"
                 . (kill(0, $master) ? '' : ': the master died'));
        }
    }
    if ($o{'pg-restart'}) {
        sleep(0.3 + rand(1.0));
        system($o{'pg-restart'}) == 0
            or die "round $round: $o{'pg-restart'} failed\n";
        $pg_restarts++;
        note("round $round: PostgreSQL restarted");
    }
    sleep(0.3 + rand(1.0));
    my ($m, @killed) = $t->kill_all;
    $kills += 1 + @killed;
    note("round $round: SIGKILL master $m and workers @killed");
    $t->start;
}

# stop the load, then verify on the restarted nginx
open my $stop, '>', "$prefix/clients/stop" or die "$!";
close $stop;
waitpid($_, 0) for @clients;
@clients = ();

my $fail = verify();

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

sub http { $t->http(@_) }

# --------------------------------------------------------------------------
# the load

sub create_body {
    return '{"eventId":{"id":"0U2mSzz10001001","aggregateId":{"contextName":'
         . '"order-service","aggregateName":"order","aggregateId":'
         . '"0U2mSz9k0001000","tenantId":"(0)"},"version":1},"function":'
         . '{"functionKind":"EVENT","contextName":"order-service",'
         . '"processorName":"OrderProjector","name":"onOrderCreated"},'
         . '"error":{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":'
         . '"x"},"executeAt":1719800000000,"retrySpec":{"maxRetries":10,'
         . '"minBackoff":1,"executionTimeout":0}}';
}

# one command of the load: (status, body, head), or () without an answer
sub send_op {
    my ($op, $agg, $rid) = @_;
    my %h = ('Command-Request-Id' => $rid);

    if ($op eq 'create') {
        $h{'Command-Aggregate-Id'} = $agg;
        return http('POST', '/execution_failed/create_execution_failed',
                    create_body(), %h);
    } elsif ($op eq 'force_prepare') {
        return http('PUT', "/execution_failed/$agg/force_prepare_compensation",
                    '{}', %h);
    } elsif ($op eq 'apply_failed') {
        return http('PUT', "/execution_failed/$agg/apply_execution_failed",
                    '{"error":{"errorCode":"E","errorMsg":"m","stackTrace":'
                    . '"s"},"executeAt":1719800600000}', %h);
    } elsif ($op eq 'apply_success') {
        return http('PUT', "/execution_failed/$agg/apply_execution_success",
                    '{"executeAt":1719800500000}', %h);
    }
    return http('PUT', "/execution_failed/$agg/change_function",
                '{"functionKind":"STATE_EVENT","contextName":"c",'
                . '"processorName":"p","name":"n' . $rid . '"}', %h);
}

sub client {
    my $c = shift;
    srand($$ ^ time);
    open my $log, '>', "$prefix/clients/$c.log" or die "$!";
    $log->autoflush(1);

    my ($seq, $n) = (0, 0);
    my ($agg, @plan);

    while (!-e "$prefix/clients/stop") {
        unless (@plan) {
            $n++;
            $agg = "a$c-$$-$n";
            my $fails = int rand 3;
            @plan = ('create');
            push @plan, 'force_prepare', 'apply_failed' for 1 .. $fails;
            push @plan, 'change_function' if rand() < 0.3;
            push @plan, 'force_prepare', 'apply_success';
        }
        my $op = shift @plan;
        my $rid = "r$c-$$-" . ++$seq;
        my @r = send_op($op, $agg, $rid);

        if (!@r) {
            print $log "$rid $agg $op - -\n";     # unknown outcome
            @plan = ();
            sleep 0.02;
            next;
        }
        my ($st, $body) = @r;
        my $v = $body =~ /"aggregateVersion":(\d+)/ ? $1 : '-';
        print $log "$rid $agg $op $st $v\n";
        @plan = () if $st != 200;                 # abandon the aggregate
    }
    close $log;
}

# --------------------------------------------------------------------------
# the checks

# the same command again, same request id: refused as a duplicate?
sub retry_is_duplicate {
    my ($op, $agg, $rid) = @_;
    my ($st, $body) = send_op($op, $agg, $rid);
    return defined $st && $body =~ /"errorCode":"DuplicateRequestId"/;
}

sub verify {
    my (%rec, %aggs, %count);

    for my $f (glob "$prefix/clients/*.log") {
        open my $fh, '<', $f or die "$!";
        while (<$fh>) {
            my ($rid, $agg, $op, $st, $v) = split;
            next unless defined $v;
            $rec{$rid} = { agg => $agg, op => $op, st => $st, v => $v };
            $aggs{$agg} = 1;
            $count{ $st eq '-' ? 'no response' : $st }++;
        }
    }

    my $total = keys %rec;
    note("$total commands sent by $o{clients} clients over $o{rounds} rounds,"
         . " $kills SIGKILLs, $pg_restarts PostgreSQL restarts; outcomes: "
         . join(', ', map { "$_: $count{$_}" } sort keys %count));

    my @err;
    my %stored;                 # request id -> [agg, version]
    my $checked_aggs = 0;

    for my $agg (sort keys %aggs) {
        my ($st, $body) = http('GET', "/execution_failed/$agg/event/1/1000000");
        if (!defined $st || $st != 200) {
            push @err, "$agg: event stream: " . ($st // 'no response');
            next;
        }
        my $events = eval { decode_json($body) } or do {
            push @err, "$agg: event stream is not JSON"; next };

        my $expect = 1;
        for my $e (@$events) {
            push @err, "$agg: event versions not 1..n (got $e->{version},"
                       . " expected $expect)" if $e->{version} != $expect;
            $expect++;
            $stored{ $e->{requestId} } = [ $agg, $e->{version} ];
        }
        next unless @$events;
        $checked_aggs++;

        my $last = $events->[-1];

        ($st, $body) = http('GET', "/execution_failed/$agg/snapshot");
        if (!defined $st || $st != 200) {
            push @err, "$agg: has events but snapshot answers "
                       . ($st // 'nothing');
            next;
        }
        my $snap = decode_json($body);
        push @err, "$agg: snapshot version $snap->{version} != last event"
                   . " version $last->{version}"
            if $snap->{version} != $last->{version};
        push @err, "$agg: snapshot eventId $snap->{eventId} != last event"
                   . " id $last->{id}"
            if $snap->{eventId} ne $last->{id};

        my ($st2, $replay) = http('GET',
                               "/execution_failed/$agg/state/$last->{version}");
        my ($st3, $state) = http('GET', "/execution_failed/$agg/state");
        my $s = $json->encode($snap->{state});
        if (!defined $st2 || $st2 != 200
            || $json->encode(decode_json($replay)) ne $s)
        {
            push @err, "$agg: snapshot state differs from the replay of its"
                       . " events:\n  snapshot $s\n  replay   "
                       . ($replay // '');
        }
        if (!defined $st3 || $st3 != 200
            || $json->encode(decode_json($state)) ne $s)
        {
            push @err, "$agg: GET state differs from the snapshot";
        }
    }

    my ($ok200, $lost, $bad, $unknown_500) = (0, 0, 0, 0);
    for my $rid (sort keys %rec) {
        my $r = $rec{$rid};
        my $s = $stored{$rid};
        if ($r->{st} eq '200') {
            $ok200++;
            if (!$s) {
                $lost++;
                push @err, "LOST: $rid ($r->{op} on $r->{agg}) got 200 with"
                           . " version $r->{v} but is not in the store";
            } elsif ($s->[0] ne $r->{agg} || $s->[1] != $r->{v}) {
                push @err, "$rid: 200 said $r->{agg} v$r->{v}, the store has"
                           . " $s->[0] v$s->[1]";
            }
        } elsif ($r->{st} eq '500' && $s && $o{'pg-restart'}
                 && retry_is_duplicate($r->{op}, $r->{agg}, $rid))
        {
            # PostgreSQL: the connection was cut after the server had
            # committed and before it said so; the module cannot tell, and
            # answers 500 (never 200).  The client's retry with the same
            # request id says it was done (DuplicateRequestId)
            $unknown_500++;
        } elsif ($r->{st} ne '-' && $s) {
            $bad++;
            push @err, "$rid ($r->{op} on $r->{agg}) got $r->{st} but is in"
                       . " the store at v$s->[1]";
        }
    }
    for my $rid (sort keys %stored) {
        push @err, "$rid is in the store but was never sent"
            unless $rec{$rid};
    }

    my $unknown_stored = grep { $rec{$_}{st} eq '-' && $stored{$_} } keys %rec;
    note("$ok200 commands got 200, all checked in the store: $lost lost;"
         . " $bad failed ones stored; $unknown_stored of the commands without"
         . " a response were committed; $checked_aggs aggregates: snapshot =="
         . " replay checked"
         . ($o{'pg-restart'} ? "; $unknown_500 commands answered 500 whose"
                               . " COMMIT lost its connection were committed,"
                               . " and their retry answered"
                               . " DuplicateRequestId" : ''));

    if (!$t->on_pg && system('command -v sqlite3 >/dev/null 2>&1') == 0) {
        my $ic = `sqlite3 '$prefix/logs/c.db' 'PRAGMA integrity_check;' 2>&1`;
        chomp $ic;
        push @err, "integrity_check: $ic" if $ic ne 'ok';
        note("PRAGMA integrity_check: $ic");
    }

    # crash evidence is expected ([alert] ... exited on signal 9), but
    # nothing else at crit/alert/emerg
    push @err, map { "error.log: $_" }
                   $t->bad_log_lines(qr/exited on signal 9/);

    push @err, "no command got a 200: the load did not run" unless $ok200;
    push @err, "$respawn_failures times the master did not survive a"
               . " worker's SIGKILL" if $respawn_failures;

    if (@err) {
        print "not ok - crash safety\n";
        print "# $_\n" for @err[0 .. ($#err < 30 ? $#err : 30)];
        print "# ... " . (@err - 31) . " more\n" if @err > 31;
        print "# prefix kept: $prefix\n";
        return 1;
    }
    print "ok - crash safety: $ok200 acknowledged commands survived $kills"
          . " SIGKILLs" . ($pg_restarts ? " and $pg_restarts PostgreSQL"
                                          . " restarts" : '') . "\n";
    return 0;
}
