#!/usr/bin/env perl
# Bad input at scale (issue 7).
#
# Starts a private nginx (master + 2 workers) and fires malformed requests
# at it from several processes: truncated, malformed and invalid-UTF-8 JSON,
# deeply nested JSON, oversized bodies, lying Content-Length, broken chunked
# bodies, huge and numerous headers, hostile paths and ids, malformed query
# conditions, connections dropped mid-request, and slowloris clients (slow
# headers and slow bodies) -- while one client sends valid traffic
# (create, command, read, query) and requires every valid request to
# succeed.  At the end:
#
#   - every valid request succeeded;
#   - no hostile request got a 500 (a server fault);
#   - every error answer (4xx, 5xx) is JSON (ErrorInfo or CommandResult)
#     with Wow-Error-Code, nginx's own (413, 400, 414, ...) included;
#   - the worker pids are those of the start (no worker died);
#   - error.log has no "exited on signal" and no [alert]/[crit]/[emerg].
#
# Usage: test/badinput/badinput.pl [--requests N] [--attackers N]
#        [--slow N] [--port P] [--keep] [--thread-pool]
# Environment: BADINPUT_REQUESTS, BADINPUT_ATTACKERS, NGINX_BIN, MODULE.

use strict;
use warnings;

use File::Basename qw(dirname);
use Getopt::Long;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

use lib dirname(__FILE__) . '/../lib';
use Compensation::Tool qw(note workers);

$| = 1;

my %o = (
    requests  => $ENV{BADINPUT_REQUESTS}  || 3000,
    attackers => $ENV{BADINPUT_ATTACKERS} || 3,
    slow      => 20,
    port      => 0,
    keep      => 0,
);
GetOptions(\%o, 'requests=i', 'attackers=i', 'slow=i', 'port=i', 'keep',
           'thread-pool')
    or die "usage: $0 [--requests N] [--attackers N] [--slow N] [--port P]"
           . " [--thread-pool]\n";

# --thread-pool: the commands run in the store thread (compensation_thread_pool)
my $t = Compensation::Tool->new(name => 'badinput', port => $o{port},
                                thread_pool => $o{'thread-pool'},
                                worker_connections => 1024,
                                http => "    client_header_timeout 3s;\n"
                                        . "    client_body_timeout 3s;\n",
                                dirs => ['out']);
my $prefix = $t->prefix;
$o{port} = $t->port;

my $main_pid = $$;
my @kids;

$t->start;
my $master = $t->master;

my @workers0 = sort { $a <=> $b } workers($master);
note("nginx $master, workers @workers0, port $o{port}");

# the valid client runs until the attackers are done
my $valid = fork // die;
if ($valid == 0) { valid_client(); POSIX::_exit(0) }
push @kids, $valid;

my $t0 = time;
my @att;
for my $a (1 .. $o{attackers}) {
    my $pid = fork // die;
    if ($pid == 0) { attacker($a); POSIX::_exit(0) }
    push @att, $pid;
}
my $slow = fork // die;
if ($slow == 0) { slowloris(); POSIX::_exit(0) }
push @att, $slow;
push @kids, @att;

waitpid($_, 0) for @att;
open my $stop, '>', "$prefix/out/stop" or die;
close $stop;
waitpid($valid, 0);
@kids = ();

my $fail = verify(time - $t0);

END {
    if ($$ == $main_pid) {
        kill 'KILL', $_ for @kids;
        $t->stop if $t;
    }
}

$t->finish($fail, $o{keep});
exit($fail ? 1 : 0);


# --------------------------------------------------------------------------

sub connect_ { $t->connect }

sub exchange { $t->exchange(@_) }

sub req {
    my ($method, $path, $body, @h) = @_;
    my $r = "$method $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    $r .= "$_\r\n" for @h;
    if (defined $body) {
        $r .= "Content-Type: application/json\r\n" unless grep /^Content-Type/i, @h;
        $r .= "Content-Length: " . length($body) . "\r\n"
            unless grep /^(Content-Length|Transfer-Encoding)/i, @h;
    }
    return $r . "\r\n" . ($body // '');
}

sub create_body {
    my $agg = shift // 'x';
    return '{"eventId":{"id":"0U2mSzz10001001","aggregateId":{"contextName":'
         . '"order-service","aggregateName":"order","aggregateId":"' . $agg
         . '","tenantId":"(0)"},"version":1},"function":{"functionKind":'
         . '"EVENT","contextName":"order-service","processorName":'
         . '"OrderProjector","name":"onOrderCreated"},"error":{"errorCode":'
         . '"BadRequest","errorMsg":"boom","stackTrace":"x"},"executeAt":'
         . '1719800000000}';
}

# --------------------------------------------------------------------------
# valid traffic

sub valid_client {
    open my $out, '>', "$prefix/out/valid" or die;
    my ($ok, $bad, $n) = (0, 0, 0);
    my @why;
    while (!-e "$prefix/out/stop") {
        $n++;
        my $agg = "v$$-$n";
        my @steps = (
            [ 200, req('POST', '/execution_failed/create_execution_failed',
                       create_body(), "Command-Aggregate-Id: $agg") ],
            [ 200, req('PUT', "/execution_failed/$agg/mark_recoverable",
                       '{"recoverable":"RECOVERABLE"}') ],
            [ 200, req('GET', "/execution_failed/$agg/state") ],
            [ 200, req('POST', '/execution_failed/snapshot/count',
                       '{"operator":"ID","value":"' . $agg . '"}') ],
        );
        for my $s (@steps) {
            my ($st, $body) = exchange($s->[1]);
            if (defined $st && $st == $s->[0]) { $ok++ }
            else {
                $bad++;
                push @why, ($st // 'no response') . ' for '
                          . (split /\r\n/, $s->[1])[0] if @why < 10;
            }
        }
    }
    print $out "$ok $bad\n";
    print $out "$_\n" for @why;
    close $out;
}

# --------------------------------------------------------------------------
# hostile traffic

sub rand_bytes { join '', map { chr int rand 256 } 1 .. shift }

sub nested {
    my ($depth, $open, $close) = @_;
    return ($open x $depth) . ($close x $depth);
}

my @ROUTES;
BEGIN {
    @ROUTES = (
        [ 'POST', '/execution_failed/create_execution_failed' ],
        [ 'PUT',  '/execution_failed/x/prepare_compensation' ],
        [ 'PUT',  '/execution_failed/x/force_prepare_compensation' ],
        [ 'PUT',  '/execution_failed/x/apply_execution_success' ],
        [ 'PUT',  '/execution_failed/x/apply_execution_failed' ],
        [ 'PUT',  '/execution_failed/x/apply_retry_spec' ],
        [ 'PUT',  '/execution_failed/x/change_function' ],
        [ 'PUT',  '/execution_failed/x/mark_recoverable' ],
        [ 'PUT',  '/execution_failed/x/recover' ],
        [ 'PUT',  '/execution_failed/x/1/compensate' ],
        [ 'POST', '/execution_failed/snapshot/count' ],
        [ 'POST', '/execution_failed/snapshot/list' ],
        [ 'POST', '/execution_failed/snapshot/list/state' ],
        [ 'POST', '/execution_failed/snapshot/paged' ],
        [ 'POST', '/execution_failed/snapshot/paged/state' ],
        [ 'POST', '/execution_failed/snapshot/single' ],
        [ 'POST', '/execution_failed/event/count' ],
        [ 'POST', '/execution_failed/event/list' ],
        [ 'POST', '/execution_failed/event/paged' ],
        [ 'POST', '/wow/command/send' ],
        [ 'POST', '/wow/command/wait' ],
        [ 'POST', '/wow/bi/script' ],
    );
}

# one hostile request: (kind, raw bytes, options)
sub hostile {
    my $r = $ROUTES[ int rand @ROUTES ];
    my ($m, $p) = @$r;
    my $good = $p =~ /create/ ? create_body('x' . int rand 1000)
             : $p =~ /snapshot|event/ ? '{"condition":{"operator":"ALL"},"limit":5}'
             : '{"recoverable":"RECOVERABLE","executeAt":1}';
    my @hdr = ('Command-Aggregate-Id: h' . int rand 100000);
    my $k = int rand 22;

    if ($k == 0) {              # truncated JSON
        return ('truncated', req($m, $p, substr($good, 0, int rand length $good), @hdr));
    }
    if ($k == 1) {              # random bytes
        return ('random bytes', req($m, $p, rand_bytes(1 + int rand 2000), @hdr));
    }
    if ($k == 2) {              # invalid UTF-8 inside strings
        my $b = $good;
        my @bad = ("\xff", "\xc3\x28", "\xe2\x82", "\xf0\x28\x8c\xbc",
                   "\xed\xa0\x80", "\xc0\xaf", "\\ud800", "\\u0000", "\x00");
        $b =~ s/"([a-z])/'"' . $bad[int rand @bad] . $1/e for 1 .. 3;
        return ('invalid utf-8', req($m, $p, $b, @hdr));
    }
    if ($k == 3) {              # deep nesting
        my $d = (10, 100, 1000, 10000, 100000)[int rand 5];
        my $b = rand() < 0.5 ? nested($d, '[', ']') : ('{"a":' x $d) . '1' . ('}' x $d);
        $b = '{"condition":' . $b . '}' if rand() < 0.5;
        return ('deep nesting', req($m, $p, $b, @hdr));
    }
    if ($k == 4) {              # deep query condition
        my $d = (10, 100, 1000, 5000)[int rand 4];
        my $c = ('{"operator":"AND","children":[' x $d) . '{"operator":"ALL"}' . (']}' x $d);
        return ('deep condition', req('POST', '/execution_failed/snapshot/count', $c));
    }
    if ($k == 5) {              # oversized body (max 1m)
        my $n = (1024 * 1024 + 1, 3 * 1024 * 1024)[int rand 2];
        return ('oversized body', req($m, $p, '{"a":"' . ('x' x $n) . '"}', @hdr));
    }
    if ($k == 6) {              # Content-Length larger than the body: timeout
        return ('short body', req($m, $p, '{"a":1}', @hdr, 'Content-Length: 100'),
                timeout => 6, half_close => 1);
    }
    if ($k == 7) {              # broken chunked encoding
        my @c = ("zz\r\n{}\r\n0\r\n\r\n", "5\r\n{\"a\"\r\n0\r\n\r\n",
                 "fffffffffffffffff\r\n", "3\r\n{}}\r\n", "0\r\n\r\n");
        return ('bad chunked', req($m, $p, $c[int rand @c], @hdr,
                                   'Transfer-Encoding: chunked'),
                timeout => 6, half_close => 1);
    }
    if ($k == 8) {              # one huge header
        my $n = (4000, 8000, 9000, 40000)[int rand 4];
        my $h = ('Command-Request-Id', 'Command-Wait-Endpoint', 'Accept',
                 'X-Auth-Token', 'Command-Header-x')[int rand 5];
        return ('huge header', req($m, $p, $good, @hdr, "$h: " . ('a' x $n)));
    }
    if ($k == 9) {              # many headers
        my $n = (60, 65, 100, 500)[int rand 4];
        my @h = map { "Command-Header-k$_: v$_" } 1 .. $n;
        return ('many headers', req($m, $p, $good, @hdr, @h));
    }
    if ($k == 10) {             # control characters and odd values in headers
        my @v = ("Command-Aggregate-Id: a\x01b", "Command-Request-Id: \x7f",
                 "Command-Wait-Timeout: -1", "Command-Wait-Timeout: 99999999999999999999",
                 "Command-Wait-Stage: \xff\xfe", "Command-Aggregate-Version: 1e400",
                 "Command-Tenant-Id: " . ('t' x 300), "Accept: text/event-stream;q=",
                 "Command-Type: ../../etc", "Content-Type: application/json; charset=\xff",
                 "Command-Aggregate-Id: \xff\xfe", "Command-Request-Id: \xed\xa0\x80",
                 "Command-Tenant-Id: \xc0\xaf", "Command-Aggregate-Id: a\xc3");
        return ('odd headers', req($m, $p, $good, $v[int rand @v]));
    }
    if ($k == 11) {             # hostile paths
        my @p = ('/execution_failed/' . ('a' x 5000) . '/state',
                 '/execution_failed/%00/state', '/execution_failed/%ff%fe/state',
                 '/execution_failed/%ed%a0%80/state', '/execution_failed/%c0%af/snapshot',
                 '/execution_failed/%ff/event/1/2', '/execution_failed/%ff/state/tracing',
                 '/execution_failed/x/state/-1', '/execution_failed/x/state/99999999999999999999999',
                 '/execution_failed/x/event/5/1', '/execution_failed/x/event/-1/99999999999999999999',
                 '/execution_failed/x/state/time/abc', '/execution_failed/snapshot/(0)/-5',
                 '/execution_failed/snapshot/(0)/999999999999', '/execution_failed' . ('/a' x 300),
                 '/execution_failed/../../etc/passwd', '/execution_failed/x/state?' . ('a=b&' x 500),
                 '/wow/id/global?count=-1', '/wow/id/global?count=99999999999',
                 '/actuator/cosid/' . ('z' x 1000), '/actuator/health/' . ('p/' x 100),
                 '/execution_failed/x/state/tracing?limit=-1&offset=abc');
        return ('hostile path', req('GET', $p[int rand @p]));
    }
    if ($k == 12) {             # wrong JSON types everywhere
        my @v = ('null', 'true', '1e999', '-0', '"s"', '[]', '{}', '123456789012345678901234567890',
                 '"' . ('\\u00e9' x 1000) . '"');
        my $b = $good;
        $b =~ s/(:)("[^"]*"|\d+)/$1 . $v[int rand @v]/e for 1 .. 1 + int rand 4;
        return ('wrong types', req($m, $p, $b, @hdr));
    }
    if ($k == 13) {             # duplicate keys and huge arrays
        my $b = rand() < 0.5 ? '{"a":1,"a":2,' . $good . '}'
              : '{"condition":{"operator":"IDS","value":[' . join(',', map { "\"$_\"" } 1 .. 20000) . ']}}';
        return ('dup keys / huge array', req($m, $p, $b, @hdr));
    }
    if ($k == 14) {             # query with hostile fields
        my @c = ('{"field":"state.x\');DROP TABLE snapshot;--","operator":"EQ","value":1}',
                 '{"field":"' . ('a.' x 1000) . 'b","operator":"EQ","value":1}',
                 '{"field":"state.status","operator":"REGEX","value":"(a+)+$"}',
                 '{"field":"state.status","operator":"CONTAINS","value":"%_\\\\"}',
                 '{"field":"state.status","operator":"IN","value":{}}',
                 '{"operator":"NOT","children":[]}', '{"operator":"OR"}',
                 '{"field":"version","operator":"BETWEEN","value":[1]}');
        my $q = '{"condition":' . $c[int rand @c] . ',"limit":' . ((1, -1, 0, 999999999)[int rand 4])
              . ',"sort":[{"field":"' . ('x' x (1 + int rand 300)) . '","direction":"UP"}]}';
        return ('hostile query', req('POST', $ROUTES[10 + int rand 9][1], $q));
    }
    if ($k == 15) {             # abort after sending part of the request
        my $raw = req($m, $p, $good, @hdr);
        return ('abort mid-request', substr($raw, 0, int rand length $raw), abort => 1);
    }
    if ($k == 16) {             # abort right after a full request
        return ('abort after request', req($m, $p, $good, @hdr), abort => 1);
    }
    if ($k == 17) {             # garbage request line / protocol
        my @r = ("GET\r\n\r\n", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                 "GET / HTTP/9.9\r\n\r\n", "POST /execution_failed/create_execution_failed HTTP/1.0\r\n\r\n",
                 "PUT /execution_failed/x/recover HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                 "PUT /execution_failed/x/recover HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                 rand_bytes(500));
        return ('garbage protocol', $r[int rand @r], half_close => 1, timeout => 6);
    }
    if ($k == 18) {             # pipelined requests, some broken
        my $raw = join '', map { req($m, $p, $_ % 2 ? $good : substr($good, 0, 10), @hdr) =~ s/Connection: close\r\n//r } 1 .. 5;
        return ('pipelined', $raw, half_close => 1, timeout => 6);
    }
    if ($k == 19) {             # wrong content types and methods
        my @r = (req($m, $p, $good, 'Content-Type: text/plain'),
                 req('PATCH', $p, $good), req('OPTIONS', $p), req('TRACE', $p),
                 req($m, $p, $good, 'Content-Type: application/json', 'Content-Type: text/html'),
                 req($m, $p, $good, 'Content-Encoding: gzip'));
        return ('wrong type/method', $r[int rand @r]);
    }
    if ($k == 20) {             # SSE accept on list routes with bad bodies
        return ('sse', req('POST', '/execution_failed/event/list', substr('{"condition":{"operator":"ALL"},"limit":3}', 0, int rand 40),
                           'Accept: text/event-stream'));
    }
    # the facade with hostile Command-Type / bodies
    my @t = ('create_execution_failed', 'nope', '', 'x' x 500, 'prepare_compensation');
    return ('facade', req('POST', '/wow/command/send', rand() < 0.5 ? $good : '{"id":' . ('[' x 1000) . '}',
                          'Command-Type: ' . $t[int rand @t], @hdr));
}

sub attacker {
    my $a = shift;
    srand($$ ^ time);
    my $n = int($o{requests} / $o{attackers});
    my (%kinds, %st, @fault);
    for (1 .. $n) {
        my ($kind, $raw, %opt) = hostile();
        $kinds{$kind}++;
        my ($s, $body, $head) = exchange($raw, %opt);
        $s //= 'none';
        $st{$s}++;
        # an error answer that is not JSON with Wow-Error-Code (nginx's HTML
        # page); commands answer a CommandResult, the rest an ErrorInfo
        push @fault, ("$kind: $s not JSON " . substr($body // '', 0, 120)
                      . ' <- ' . substr((split /\r\n/, $raw)[0] // '', 0, 100))
                     =~ s/[\r\n]+/ /gr
            if $s =~ /^[45]/ && @fault < 20
               && (($head // '') !~ /^Wow-Error-Code: \S/mi
                   || ($body // '') !~ /^\{"(errorCode|id)":"/);
        push @fault, ("$kind: $s " . substr($body // '', 0, 200)
                      . ' <- ' . substr((split /\r\n/, $raw)[0] // '', 0, 100))
                     =~ s/[\r\n]+/ /gr
            if $s =~ /^5/ && @fault < 20;
    }
    open my $out, '>', "$prefix/out/attacker$a" or die;
    print $out "kind $_ $kinds{$_}\n" for sort keys %kinds;
    print $out "status $_ $st{$_}\n" for sort keys %st;
    print $out "fault $_\n" for @fault;
    close $out;
}

# slow headers and slow bodies, a byte every 0.5 s, until nginx gives up
sub slowloris {
    my (@conns, $n);
    for my $i (1 .. $o{slow}) {
        my $s = connect_() or next;
        my $raw = $i % 2
            ? "GET /execution_failed/x/state HTTP/1.1\r\nHost: x\r\nX-A: "
              . ('a' x 200) . "\r\n\r\n"
            : req('POST', '/execution_failed/create_execution_failed',
                  create_body());
        # the body route: headers at once, then the body byte by byte
        my $at = $i % 2 ? 0 : index($raw, "\r\n\r\n") + 4;
        syswrite($s, substr($raw, 0, $at)) if $at;
        push @conns, [ $s, $raw, $at ];
        $n++;
    }
    my $closed = 0;
    local $SIG{PIPE} = 'IGNORE';
    for my $tick (1 .. 16) {
        sleep 0.5;
        for my $c (@conns) {
            next unless $c->[0];
            if (!defined syswrite($c->[0], substr($c->[1], $c->[2]++, 1))) {
                close $c->[0]; $c->[0] = undef; $closed++;
            }
        }
    }
    open my $out, '>', "$prefix/out/slow" or die;
    print $out "kind slowloris $n\n";
    close $out;
    close $_->[0] for grep { $_->[0] } @conns;
}

# --------------------------------------------------------------------------

sub verify {
    my $secs = shift;
    my @err;

    open my $v, '<', "$prefix/out/valid" or die "no valid client report\n";
    my ($ok, $bad) = split ' ', scalar <$v>;
    my @why = <$v>;
    chomp @why;
    push @err, "$bad valid requests failed: @why" if $bad;
    push @err, "no valid request succeeded" unless $ok;

    my (%kinds, %st, @faults);
    for my $f (glob "$prefix/out/attacker* $prefix/out/slow") {
        open my $fh, '<', $f or next;
        while (<$fh>) {
            chomp;
            if (/^kind (.*) (\d+)$/) { $kinds{$1} += $2 }
            elsif (/^status (\S+) (\d+)$/) { $st{$1} += $2 }
            elsif (/^fault (.*)$/) { push @faults, $1 }
        }
    }
    my $fired = 0;
    $fired += $_ for values %kinds;
    note(sprintf "%d hostile requests in %.1f s alongside %d valid ones",
         $fired, $secs, $ok + $bad);
    note("by kind: " . join(', ', map { "$_ $kinds{$_}" } sort keys %kinds));
    note("answers: " . join(', ', map { "$_: $st{$_}" } sort keys %st));

    for (grep { /: 500 / } @faults) { push @err, "server fault: $_" }
    for (grep { /: \d+ not JSON / } @faults) { push @err, "not JSON: $_" }

    my @w = sort { $a <=> $b } workers($master);
    push @err, "workers changed: @workers0 -> @w" if "@w" ne "@workers0";
    push @err, "the master is gone" unless kill 0, $master;

    push @err, map { "error.log: $_" } $t->bad_log_lines;

    if (@err) {
        print "not ok - bad input\n";
        print "# $_\n" for @err[0 .. ($#err < 30 ? $#err : 30)];
        print "# prefix kept: $prefix\n";
        return 1;
    }
    print "ok - bad input: $fired hostile requests, valid traffic all"
          . " succeeded ($ok), workers @w unchanged, no alert/crit\n";
    return 0;
}
