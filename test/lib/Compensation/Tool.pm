package Compensation::Tool;

# What the hardening tools share (test/crash/crash.pl,
# test/badinput/badinput.pl, test/memory/reads.pl): a private nginx (master +
# 2 workers) with the built module under a prefix var/<name> of the tree, on a
# free port or a given one; starting, stopping and SIGKILLing it; its workers
# from /proc; one HTTP exchange per connection.
#
#   my $t = Compensation::Tool->new(name => 'crash', port => $p,
#                                   thread_pool => 1, dirs => ['clients']);
#   $t->start;
#   my ($status, $body, $head) = $t->http('GET', '/actuator/health');
#   $t->stop;
#
# Environment: NGINX_BIN, MODULE (not NGINX: nginx itself reads that variable
# as inherited sockets, so it is deleted here).

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(note free_port workers proc_status);

delete $ENV{NGINX};     # nginx would take it for inherited listening sockets

# the source tree (test/lib/Compensation/Tool.pm is three levels down)
our $Root = abs_path(dirname(__FILE__) . '/../../..');

sub note { print "# @_\n" }

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1, ReuseAddr => 1) or die "$!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

# the children of $ppid (a master's workers), from /proc
sub workers {
    my $ppid = shift;
    my @w;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $l = <$fh> // next;
        # pid (comm) state ppid ...
        push @w, $1 if $l =~ /^(\d+) \(.*\) \S+ (\d+) / && $2 == $ppid;
    }
    return @w;
}

# VmRSS, VmHWM ... of a process, in kB
sub proc_status {
    my $pid = shift;
    my %s;
    open my $fh, '<', "/proc/$pid/status" or return \%s;
    while (my $l = <$fh>) { $s{$1} = $2 if $l =~ /^(Vm\w+):\s+(\d+) kB/ }
    return \%s;
}

# name: the prefix is var/<name> (emptied); port (0: a free one);
# thread_pool: compensation_thread_pool; error_log (level, info);
# worker_connections (512); http: more lines of the http{} block;
# dirs: more directories under the prefix; store: compensation_store's
# value (logs/c.db, or a PostgreSQL DSN); server: more lines of the server{}
sub new {
    my ($class, %a) = @_;
    my $self = bless {
        name    => $a{name},
        port    => $a{port} || free_port(),
        prefix  => "$Root/var/$a{name}",
        nginx   => $ENV{NGINX_BIN} || '/usr/sbin/nginx',
        module  => $ENV{MODULE}
                   || "$Root/build/ngx_http_compensation_module.so",
        owner   => $$,
        master  => undef,
    }, $class;

    -f $self->{module}
        or die "no module at $self->{module}: run make build\n";

    my $p = $self->{prefix};
    remove_tree($p);
    make_path("$p/logs", "$p/conf", map { "$p/$_" } @{ $a{dirs} || [] });

    my $threads = $a{thread_pool}
                  ? "    compensation_thread_pool default;\n" : '';
    my $level = $a{error_log} || 'info';
    my $conns = $a{worker_connections} || 512;
    my $http = $a{http} || '';
    my $server = $a{server} || '';
    my $store = $a{store} || 'logs/c.db';
    $self->{store} = $store;

    open my $cf, '>', "$p/conf/nginx.conf" or die "$!";
    print $cf <<"_EOC_";
load_module $self->{module};
worker_processes 2;
error_log logs/error.log $level;
pid logs/nginx.pid;
events { worker_connections $conns; }
http {
    access_log off;
    client_body_temp_path logs/cb;
    proxy_temp_path logs/px;
    fastcgi_temp_path logs/fc;
    uwsgi_temp_path logs/uw;
    scgi_temp_path logs/sc;
$http    compensation_store "$store";
$threads    server {
        listen 127.0.0.1:$self->{port};
$server        location / { compensation_api; }
    }
}
_EOC_
    close $cf;

    return $self;
}

sub port   { $_[0]{port} }
sub store  { $_[0]{store} }
# the store is a PostgreSQL database (docs/postgresql.md, "DSN forms")
sub on_pg  { $_[0]{store} =~ m{^(?:postgres(?:ql)?://|[a-z_]+=)} }
sub prefix { $_[0]{prefix} }
sub master { $_[0]{master} }

# starts nginx; returns once the master has both workers and the API answers
sub start {
    my $self = shift;
    my $p = $self->{prefix};
    system($self->{nginx}, '-p', "$p/", '-c', 'conf/nginx.conf',
           '-e', 'logs/error.log') == 0
        or die "nginx did not start (see $p/logs/error.log)\n";
    for (1 .. 200) {
        if (open my $fh, '<', "$p/logs/nginx.pid") {
            my $l = <$fh>;
            if (defined $l && $l =~ /(\d+)/ && kill 0, $1) {
                $self->{master} = $1;
                if (workers($1) == 2) {
                    my ($st) = $self->http('GET', '/actuator/health');
                    return if defined $st;
                }
            }
        }
        sleep 0.05;
    }
    die "nginx did not come up\n";
}

# graceful stop (QUIT), then SIGKILL for what is left after 10 s
sub stop {
    my $self = shift;
    my $m = $self->{master} or return;
    return unless $$ == $self->{owner};
    kill 'QUIT', $m;
    for (1 .. 500) { last unless kill 0, -$m; sleep 0.02 }
    kill 'KILL', -$m if kill 0, -$m;
    unlink "$self->{prefix}/logs/nginx.pid";
    $self->{master} = undef;
}

# SIGKILL the master and its workers: the daemonised master leads its own
# process group (setsid), which its workers share, so one kill reaches
# every process of this nginx and nothing else.  The pids killed.
sub kill_all {
    my $self = shift;
    my $m = $self->{master} or return ();
    my @w = workers($m);
    kill 'KILL', -$m or kill 'KILL', $m;
    for (1 .. 500) {
        last unless kill 0, -$m;
        sleep 0.02;
    }
    die "processes of group $m survived SIGKILL\n" if kill 0, -$m;
    $self->{master} = undef;
    return ($m, @w);
}

# the lines of error.log that no run may have: [alert], [crit], [emerg],
# and workers that exited on a signal (except those that match $expected)
sub bad_log_lines {
    my ($self, $expected) = @_;
    open my $log, '<', "$self->{prefix}/logs/error.log" or return ();
    return grep {
        /\[(alert|crit|emerg)\]|exited on signal/
        && !(defined $expected && /$expected/)
    } <$log>;
}

# removes the prefix unless the run failed or keep is set
sub finish {
    my ($self, $fail, $keep) = @_;
    $self->stop;
    remove_tree($self->{prefix}) unless $fail || $keep;
}

sub connect {
    my $self = shift;
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                 PeerPort => $self->{port}, Timeout => 10);
}

# one HTTP/1.1 exchange on its own connection (Connection: close), a JSON
# body when given; (status, body, head), or () when there was no complete
# response (refused, reset, killed mid-way, cut short).  Options among the
# headers: slow => 1 reads 16 KB at a time with pauses (a slow reader).
sub http {
    my ($self, $method, $path, $body, %h) = @_;
    my $slow = delete $h{slow};
    my $s = $self->connect or return ();
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
        return () if length($b) != $1;      # cut short
    }
    return ($status, $b, $head);
}

# sends raw bytes and reads until the server closes or timeout (15 s);
# (status, body, head), ('abort', '') with abort => 1 (closed right after
# sending), or () without a response.  half_close => 1 shuts the writing
# side after sending.
sub exchange {
    my ($self, $raw, %opt) = @_;
    my $s = $self->connect or return ();
    local $SIG{PIPE} = 'IGNORE';
    syswrite($s, $raw) // return ();
    if ($opt{abort}) { close $s; return ('abort', '') }
    shutdown($s, 1) if $opt{half_close};
    my $resp = '';
    my $deadline = time + ($opt{timeout} || 15);
    while (time < $deadline) {
        my $rin = '';
        vec($rin, fileno($s), 1) = 1;
        last unless select($rin, undef, undef, 1) >= 0;
        next unless vec($rin, fileno($s), 1);
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $resp .= $buf;
    }
    close $s;
    return () unless $resp =~ m{^HTTP/1\.\d (\d{3})};
    my $st = $1;
    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    return ($st, $body // '', $head);
}

sub DESTROY {
    my $self = shift;
    $self->stop if $self->{master} && $$ == $self->{owner};
}

1;
