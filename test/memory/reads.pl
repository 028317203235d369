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

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use Getopt::Long;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

my $root = abs_path(dirname(__FILE__) . '/../..');

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

delete $ENV{NGINX};     # nginx would take it for inherited listening sockets

my $nginx  = $ENV{NGINX_BIN} || '/usr/sbin/nginx';
my $module = $ENV{MODULE} || "$root/build/ngx_http_compensation_module.so";
-f $module or die "no module at $module: run make build\n";

$o{port} ||= free_port();

my $prefix = "$root/var/memory";
remove_tree($prefix);
make_path("$prefix/logs", "$prefix/conf");

open my $cf, '>', "$prefix/conf/nginx.conf" or die "$!";
print $cf <<"_EOC_";
load_module $module;
worker_processes 2;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path logs/cb;
    proxy_temp_path logs/px;
    fastcgi_temp_path logs/fc;
    uwsgi_temp_path logs/uw;
    scgi_temp_path logs/sc;
    compensation_store logs/c.db;
    server {
        listen 127.0.0.1:$o{port};
        location / { compensation_api; }
    }
}
_EOC_
close $cf;

$| = 1;
my $main_pid = $$;
my $master;
my @clients;

$SIG{INT} = $SIG{TERM} = sub { cleanup(); exit 2 };

start_nginx();

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
stop_nginx();
start_nginx();

my @w = workers($master);
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

if (open my $log, '<', "$prefix/logs/error.log") {
    my @bad = grep { /\[(alert|crit|emerg)\]|exited on signal/ } <$log>;
    if (@bad) { note("FAIL: $_") for @bad; $fail = 1 }
}

note($fail ? 'FAIL' : 'PASS');

cleanup();
remove_tree($prefix) unless $fail || $o{keep};

exit($fail ? 1 : 0);


# --------------------------------------------------------------------------

sub note { print "# @_\n" }

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1, ReuseAddr => 1) or die "$!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub start_nginx {
    system($nginx, '-p', "$prefix/", '-c', 'conf/nginx.conf',
           '-e', 'logs/error.log') == 0
        or die "nginx did not start (see $prefix/logs/error.log)\n";
    for (1 .. 100) {
        if (open my $fh, '<', "$prefix/logs/nginx.pid") {
            my $p = <$fh>;
            if (defined $p && $p =~ /(\d+)/ && kill 0, $1) {
                $master = $1;
                if (workers($master) == 2) {
                    my ($st) = http('GET', '/actuator/health');
                    return if defined $st;
                }
            }
        }
        sleep 0.05;
    }
    die "nginx did not come up\n";
}

sub stop_nginx {
    return unless $master;
    kill 'QUIT', $master;
    for (1 .. 500) { last unless kill 0, -$master; sleep 0.02 }
    kill 'KILL', -$master if kill 0, -$master;
    unlink "$prefix/logs/nginx.pid";
    $master = undef;
}

sub workers {
    my $ppid = shift;
    my @w;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $l = <$fh> // next;
        push @w, $1 if $l =~ /^(\d+) \(.*\) \S+ (\d+) / && $2 == $ppid;
    }
    return @w;
}

# VmRSS, VmHWM ... of a process, in kB
sub status {
    my $pid = shift;
    my %s;
    open my $fh, '<', "/proc/$pid/status" or return \%s;
    while (my $l = <$fh>) { $s{$1} = $2 if $l =~ /^(Vm\w+):\s+(\d+) kB/ }
    return \%s;
}

sub cleanup {
    return unless $$ == $main_pid;
    for (@clients) { kill 'KILL', $_; waitpid($_, 0) }
    @clients = ();
    stop_nginx();
}

END { cleanup() }

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

# one exchange; (status, length) or () when there was no complete response.
# $slow: the response is read 16 KB at a time with pauses
sub http {
    my ($method, $path, $body, %h) = @_;
    my $slow = delete $h{slow};
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $o{port}, Timeout => 10)
        or return ();
    $body //= '';
    my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\n"
            . "Connection: close\r\n";
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    $req .= "Content-Type: application/json\r\n"
          . "Content-Length: " . length($body) . "\r\n" if length $body;
    $req .= "\r\n$body";
    local $SIG{PIPE} = 'IGNORE';
    print $s $req or return ();
    my $resp = '';
    $s->timeout(60);
    while (1) {
        my $n = sysread($s, my $buf, $slow ? 16384 : 262144);
        return () unless defined $n;
        last if $n == 0;
        $resp .= $buf;
        sleep 0.02 if $slow;
    }
    close $s;
    my ($head, $b) = split /\r\n\r\n/, $resp, 2;
    return () unless defined $b && $head =~ m{^HTTP/1\.\d (\d{3})};
    my $status = $1;
    if ($head =~ /^Content-Length:\s*(\d+)/mi) {
        return () if length($b) != $1;
    }
    return ($status, length $b);
}

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
