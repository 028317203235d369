#!/usr/bin/env perl
# Three nginx, one PostgreSQL store (issue 16): three private nginx (master +
# 2 workers each, prefixes var/three-1..3, ports P..P+2, compensation_machine_id
# 1, 2, 3, each with its own dispatch scheduler) on one database.
#
#   1. Dispatch exactly once: N due executions are created (round robin over
#      the three), each with a target location of the nginx that claims it,
#      which proxies to a backend server{} of that nginx logging the call.
#      Once every execution is SUCCEEDED (the target's 200, mode=sync), the
#      three call logs together must hold exactly one call per execution.
#   2. Concurrent commands on shared aggregates: K aggregates (not due: no
#      dispatch touches them) get change_function / mark_recoverable commands
#      from clients of all three nginx at once, each with its own
#      Command-Request-Id.  Then, for every aggregate: the event versions
#      are 1..n (unique, contiguous); the events are exactly the creation
#      and the commands that got a 200, each at the version its 200 said,
#      and no refused command is stored; the snapshot has the last event's
#      version and id, and its state equals the replay of the events
#      (GET .../state/{version}) and GET .../state on each of the three.
#      No command may answer 5xx or nothing (a lock wait past the busy
#      timeout is 408, as on SQLite).
#
# Usage: test/multi/three.pl --store DSN [--port P] [--executions N]
#        [--aggregates K] [--clients C] [--commands M] [--keep]
# (C clients per nginx, M commands each).  Environment: NGINX_BIN, MODULE,
# THREE_PORT.  Exit status 0 when every check passed.

use strict;
use warnings;

use File::Basename qw(dirname);
use Getopt::Long;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep time);

use lib dirname(__FILE__) . '/../lib';
use Compensation::Tool qw(note free_port);

my %o = (
    port       => $ENV{THREE_PORT} || 0,
    executions => 300,
    aggregates => 8,
    clients    => 2,
    commands   => 150,
    keep       => 0,
);
GetOptions(\%o, 'store=s', 'port=i', 'executions=i', 'aggregates=i',
           'clients=i', 'commands=i', 'keep')
    or die "usage: $0 --store DSN [--port P] [--executions N]"
           . " [--aggregates K] [--clients C] [--commands M] [--keep]\n";
die "--store DSN (a PostgreSQL database) is required\n" unless $o{store};

$| = 1;
my $json = JSON::PP->new->canonical;
my $run = sprintf '%x%x', time, $$;     # ids of this run only
my @err;

my @nodes;
for my $i (1 .. 3) {
    my $port = $o{port} ? $o{port} + $i - 1 : free_port();
    my $backend = free_port();
    push @nodes, Compensation::Tool->new(
        name  => "three-$i",
        port  => $port,
        store => $o{store},
        http  => <<"_EOC_",
    compensation_machine_id $i;
    compensation_scheduler interval=100ms batch=20 concurrency=8 lease=60s;
    log_format calls '\$request_uri';
    server {
        listen 127.0.0.1:$backend;
        access_log logs/calls.log calls;
        location / { return 200 '{}'; }
    }
_EOC_
        server => <<"_EOC_");
        compensation_target three-service /_c mode=sync;
        location /_c/ {
            internal;
            proxy_pass http://127.0.0.1:$backend/svc/;
        }
_EOC_
}

$SIG{INT} = $SIG{TERM} = sub { $_->stop for @nodes; exit 2 };

$_->start for @nodes;
note("three nginx on ports " . join(', ', map { $_->port } @nodes)
     . ", one store");

dispatch_once();
commands();

my %bad = map { $_ => [ $nodes[$_]->bad_log_lines ] } 0 .. 2;
for my $i (0 .. 2) {
    push @err, map { "nginx " . ($i + 1) . " error.log: $_" } @{ $bad{$i} };
}

my $fail = @err ? 1 : 0;
if ($fail) {
    print "not ok - three nginx, one store\n";
    print "# $_\n" for @err[0 .. ($#err < 30 ? $#err : 30)];
    print "# ... " . (@err - 31) . " more\n" if @err > 31;
} else {
    print "ok - three nginx, one store\n";
}
$_->finish($fail, $o{keep}) for @nodes;
exit $fail;


sub create_body {
    my ($agg, $at, $backoff) = @_;
    return '{"eventId":{"id":"0U2mSzz10001001","aggregateId":{"contextName":'
         . '"three-service","aggregateName":"order","aggregateId":"' . $agg
         . '","tenantId":"(0)"},"version":7},"function":{"functionKind":'
         . '"EVENT","contextName":"three-service","processorName":"P",'
         . '"name":"onOrderCreated"},"error":{"errorCode":"E","errorMsg":'
         . '"boom","stackTrace":"x"},"executeAt":' . $at . ',"retrySpec":'
         . '{"maxRetries":3,"minBackoff":' . $backoff
         . ',"executionTimeout":60}}';
}

sub create {
    my ($node, $id, $at, $backoff, $rid) = @_;
    return $node->http('POST', '/execution_failed/create_execution_failed',
                       create_body($id, $at, $backoff),
                       'Command-Aggregate-Id' => $id,
                       'Command-Request-Id' => $rid);
}

# --- 1. each due execution dispatched exactly once -------------------------

sub dispatch_once {
    my @ids = map { "e$run-$_" } 1 .. $o{executions};

    # executeAt in 2024 and a 60 s backoff: due at once
    for my $k (0 .. $#ids) {
        my ($st) = create($nodes[$k % 3], $ids[$k], 1719800000000, 60,
                          "c$run-$k");
        push @err, "create $ids[$k]: " . ($st // 'no response')
            unless defined $st && $st == 200;
    }

    my %left = map { $_ => 1 } @ids;
    my $deadline = time + 120;
    while (%left && time < $deadline) {
        for my $id (keys %left) {
            my ($st, $body) = $nodes[0]->http('GET',
                                              "/execution_failed/$id/state");
            delete $left{$id}
                if defined $st && $st == 200
                   && $body =~ /"status":"SUCCEEDED"/;
        }
        sleep 0.2 if %left;
    }
    push @err, scalar(keys %left) . " executions not SUCCEEDED after 120 s"
               . " (e.g. " . join(' ', (sort keys %left)[0 .. 2]) . ")"
        if %left;

    # a second claim would come after the lease (60 s) or from a stale
    # read at once: give the schedulers a few more ticks to make one
    sleep 1;

    my (%calls, @per_node);
    for my $i (0 .. 2) {
        my $n = 0;
        open my $fh, '<', $nodes[$i]->prefix . '/logs/calls.log' or next;
        while (<$fh>) {
            next unless m{^/svc/order/(e\Q$run\E-\d+)/7/compensate};
            $calls{$1}++;
            $n++;
        }
        push @per_node, $n;
    }
    my @twice = grep { $calls{$_} > 1 } sort keys %calls;
    my @never = grep { !$calls{$_} } @ids;
    push @err, scalar(@twice) . " executions dispatched more than once: "
               . join(' ', map { "$_ x$calls{$_}" } @twice[0 .. ($#twice < 9 ? $#twice : 9)])
        if @twice;
    push @err, scalar(@never) . " executions never dispatched" if @never;
    note(scalar(@ids) . " due executions: " . scalar(keys %calls)
         . " dispatched, " . scalar(@twice) . " more than once; calls per"
         . " nginx: @per_node");
    push @err, "one nginx made every call: the test did not exercise the"
               . " claims' exclusion" if 1 == grep { $_ } @per_node;
}

# --- 2. concurrent commands on shared aggregates --------------------------

sub commands {
    my @aggs = map { "x$run-$_" } 1 .. $o{aggregates};
    my %rec;        # request id -> [agg, status, version]

    # not due for an hour: no dispatch on these
    my $now = int(time * 1000);
    for my $k (0 .. $#aggs) {
        my ($st, $body) = create($nodes[$k % 3], $aggs[$k], $now, 3600,
                                 "k$run-$k");
        my $v = defined $body && $body =~ /"aggregateVersion":(\d+)/ ? $1 : '-';
        $rec{"k$run-$k"} = [ $aggs[$k], $st // '-', $v ];
        push @err, "create $aggs[$k]: " . ($st // 'no response')
            unless defined $st && $st == 200;
    }

    my $dir = $nodes[0]->prefix;
    my @pids;
    for my $i (0 .. 2) {
        for my $c (1 .. $o{clients}) {
            my $pid = fork;
            die "fork: $!" unless defined $pid;
            if ($pid == 0) {
                client($nodes[$i], "$dir/client-$i-$c.log", \@aggs, "$i$c");
                POSIX::_exit(0);
            }
            push @pids, $pid;
        }
    }
    waitpid $_, 0 for @pids;

    my %count;
    for my $f (glob "$dir/client-*.log") {
        open my $fh, '<', $f or die "$f: $!";
        while (<$fh>) {
            my ($rid, $agg, $st, $v) = split;
            $rec{$rid} = [ $agg, $st, $v ];
            $count{$st}++;
        }
    }
    # a lock wait past the busy timeout is 408, as on SQLite; a 5xx or no
    # answer is a store failure the load must not cause
    for my $st (sort keys %count) {
        push @err, "$count{$st} commands answered $st"
            if $st eq '-' || $st >= 500;
    }
    note(scalar(keys %rec) - @aggs . " commands from "
         . 3 * $o{clients} . " clients on " . scalar(@aggs)
         . " aggregates: " . join(', ', map { "$_: $count{$_}" }
                                          sort keys %count));

    my (%acked, %seen_version);
    for my $rid (keys %rec) {
        my ($agg, $st, $v) = @{ $rec{$rid} };
        next unless $st eq '200';
        $acked{$agg}{$rid} = $v;
        push @err, "$agg: version $v acknowledged twice ($rid and"
                   . " $seen_version{$agg}{$v})"
            if $seen_version{$agg}{$v};
        $seen_version{$agg}{$v} = $rid;
    }

    my $events_total = 0;
    for my $agg (@aggs) {
        my ($st, $body) = $nodes[0]->http('GET',
                                          "/execution_failed/$agg/event/1/1000000");
        if (!defined $st || $st != 200) {
            push @err, "$agg: event stream: " . ($st // 'no response');
            next;
        }
        my $events = decode_json($body);
        $events_total += @$events;
        my $expect = 1;
        my %stored;
        for my $e (@$events) {
            push @err, "$agg: event versions not 1..n (got $e->{version},"
                       . " expected $expect)" if $e->{version} != $expect;
            $expect++;
            $stored{ $e->{requestId} } = $e->{version};
        }
        for my $rid (keys %{ $acked{$agg} || {} }) {
            push @err, "$agg: $rid got 200 with version $acked{$agg}{$rid}"
                       . " but the store has "
                       . ($stored{$rid} // 'no such event')
                if ($stored{$rid} // -1) != $acked{$agg}{$rid};
        }
        for my $rid (keys %stored) {
            my $r = $rec{$rid};
            push @err, "$agg: stored event $rid was "
                       . ($r ? "answered $r->[1]" : 'never sent')
                if !$r || $r->[1] ne '200';
        }
        next unless @$events;

        my $last = $events->[-1];
        ($st, $body) = $nodes[0]->http('GET', "/execution_failed/$agg/snapshot");
        if (!defined $st || $st != 200) {
            push @err, "$agg: snapshot: " . ($st // 'no response');
            next;
        }
        my $snap = decode_json($body);
        push @err, "$agg: snapshot version $snap->{version}, last event"
                   . " $last->{version}" if $snap->{version} != $last->{version};
        push @err, "$agg: snapshot eventId $snap->{eventId}, last event"
                   . " $last->{id}" if $snap->{eventId} ne $last->{id};
        my $s = $json->encode($snap->{state});
        for my $i (0 .. 2) {
            my ($st2, $replay) = $nodes[$i]->http('GET',
                "/execution_failed/$agg/state/$last->{version}");
            my ($st3, $state) = $nodes[$i]->http('GET',
                                                 "/execution_failed/$agg/state");
            push @err, "$agg: the replay on nginx " . ($i + 1) . " differs"
                       . " from the snapshot"
                if !defined $st2 || $st2 != 200
                   || $json->encode(decode_json($replay)) ne $s;
            push @err, "$agg: GET state on nginx " . ($i + 1) . " differs"
                       . " from the snapshot"
                if !defined $st3 || $st3 != 200
                   || $json->encode(decode_json($state)) ne $s;
        }
    }
    my $acked = 0;
    $acked += keys %{ $acked{$_} } for keys %acked;
    note("$acked commands acknowledged, $events_total events stored;"
         . " versions contiguous and snapshot == replay checked on each"
         . " nginx");
    push @err, "$acked acknowledged commands but $events_total events"
        if $acked != $events_total;
}

sub client {
    my ($node, $file, $aggs, $tag) = @_;
    srand($$ ^ time);
    open my $log, '>', $file or die "$file: $!";
    $log->autoflush(1);
    for my $n (1 .. $o{commands}) {
        my $agg = $aggs->[int rand @$aggs];
        my $rid = "m$run-$tag-$n";
        my @r = rand() < 0.7
            ? $node->http('PUT', "/execution_failed/$agg/change_function",
                          '{"functionKind":"STATE_EVENT","contextName":"c",'
                          . '"processorName":"p","name":"n' . $tag . $n
                          . '"}', 'Command-Request-Id' => $rid)
            : $node->http('PUT', "/execution_failed/$agg/mark_recoverable",
                          '{"recoverable":"'
                          . (rand() < 0.5 ? 'RECOVERABLE' : 'UNRECOVERABLE')
                          . '"}', 'Command-Request-Id' => $rid);
        my ($st, $body) = @r ? @r : ('-', '');
        my $v = $body =~ /"aggregateVersion":(\d+)/ ? $1 : '-';
        print $log "$rid $agg $st $v\n";
    }
    close $log;
}
