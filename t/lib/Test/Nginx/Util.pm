package Test::Nginx::Util;

# Infrastructure shared by our Test::Nginx::Socket work-alike: settings,
# nginx.conf generation, nginx process management, a raw-socket HTTP
# client, error.log access and a mock TCP backend.
#
# Written from the documented behaviour of openresty's test-nginx; this is
# not a copy of its code.

use strict;
use warnings;

use Exporter 'import';
use Cwd ();
use Errno ();
use File::Path ();
use File::Spec ();
use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use POSIX ();
use Socket ();
use Test::More ();
use Time::HiRes ();

our $VERSION = '0.01';

# ---------------------------------------------------------------------------
# Settings (names follow Test::Nginx::Util so that `$Test::Nginx::...` uses
# in test files keep working)
# ---------------------------------------------------------------------------

our $NginxBinary   = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Workers       = 1;
our $WorkerConnections = 64;
our $LogLevel      = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled = 'on';
our $ServerAddr    = '127.0.0.1';
our $ServerName    = 'localhost';
our $ServerPort    = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $ServRoot      = $ENV{TEST_NGINX_SERVROOT}
                     || File::Spec->catdir(Cwd::cwd(), 't', 'servroot');
$ServRoot = File::Spec->rel2abs($ServRoot);
our $HtmlDir       = "$ServRoot/html";
our $LogDir        = "$ServRoot/logs";
our $ConfDir       = "$ServRoot/conf";
our $ConfFile      = "$ConfDir/nginx.conf";
our $ErrLogFile    = "$LogDir/error.log";
our $AccLogFile    = "$LogDir/access.log";
our $PidFile       = "$LogDir/nginx.pid";
our $StderrFile    = "$LogDir/stderr.log";
our $ValgrindLog   = "$LogDir/valgrind.log";

our $RepeatEach    = 1;
our $NoShuffle     = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $NoLongString  = 0;
our $NoRootLocation = 0;
our $CheckAccumErrLog = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG} || 0;
our $ConfigPreamble = '';
our $Timeout       = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $UseValgrind   = $ENV{TEST_NGINX_USE_VALGRIND};
our $Verbose       = $ENV{TEST_NGINX_VERBOSE};
our @EnvToNginx;
our @BlockPreprocessors;

our $PollInterval  = 0.01;    # seconds between polls of pid files, ports...

# Exported to configuration sections as $TEST_NGINX_SERVER_PORT and
# $TEST_NGINX_SERVER_ROOT, the two Test::Nginx defines (the html directory is
# $TEST_NGINX_SERVER_ROOT/html)
$ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our @EXPORT = qw(
    repeat_each master_on master_off master_process_enabled workers
    worker_connections log_level no_shuffle no_long_string
    no_root_location server_name server_root server_port
    server_port_for_client server_addr html_dir env_to_nginx
    add_block_preprocessor check_accum_error_log bail_out config_preamble
    timeout
    $ServerPort $ServerPortForClient $ServerAddr $ServRoot $HtmlDir
    $NginxBinary $RepeatEach $LogLevel $Workers $ErrLogFile $PidFile
);

our @EXPORT_OK = qw(
    expand_env build_request send_http parse_http_response decode_chunked
    write_config_file start_nginx stop_nginx nginx_pid nginx_is_running
    prepare_servroot reset_block_dirs write_user_files read_log_lines
    log_size start_tcp_server stop_tcp_server parse_time nginx_version
    is_running kill_stale_nginx valgrind_errors
);

# ---------------------------------------------------------------------------
# Public setters / getters (same names and meaning as Test::Nginx)
# ---------------------------------------------------------------------------

sub repeat_each (@) {
    $RepeatEach = shift if @_;
    return $RepeatEach;
}

sub master_on ()  { $MasterProcessEnabled = 'on' }
sub master_off () { $MasterProcessEnabled = 'off' }

sub master_process_enabled (@) {
    if (@_) {
        $MasterProcessEnabled = $_[0] ? 'on' : 'off';
    }
    return $MasterProcessEnabled eq 'on';
}

sub workers (@) {
    $Workers = shift if @_;
    return $Workers;
}

sub worker_connections (@) {
    $WorkerConnections = shift if @_;
    return $WorkerConnections;
}

sub log_level (@) {
    $LogLevel = shift if @_;
    return $LogLevel;
}

sub no_shuffle ()       { $NoShuffle = 1 }
sub no_long_string ()   { $NoLongString = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }

sub server_name (@) {
    $ServerName = shift if @_;
    return $ServerName;
}

sub server_root ()            { $ServRoot }
sub html_dir ()               { $HtmlDir }
sub server_addr (@)           { $ServerAddr = shift if @_; $ServerAddr }
sub server_port_for_client () { $ServerPortForClient }

sub server_port (@) {
    if (@_) {
        $ServerPort = shift;
        $ServerPortForClient = $ServerPort;
        $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;
    }
    return $ServerPort;
}

sub timeout (@) {
    $Timeout = shift if @_;
    return $Timeout;
}

sub config_preamble (@) {
    $ConfigPreamble = shift if @_;
    return $ConfigPreamble;
}

sub env_to_nginx (@) {
    push @EnvToNginx, @_;
}

# Like Test::Nginx, the preprocessor added last runs first.
sub add_block_preprocessor (&) {
    unshift @BlockPreprocessors, shift;
}

sub bail_out (@) {
    my $msg = join '', @_;
    stop_nginx();
    stop_tcp_server();
    Test::More::BAIL_OUT($msg);
}

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

sub _now { Time::HiRes::time() }

sub _slurp {
    my $file = shift;
    open my $fh, '<', $file or return undef;
    binmode $fh;
    local $/;
    my $data = <$fh>;
    close $fh;
    return defined $data ? $data : '';
}

sub _spew {
    my ($file, $data) = @_;
    open my $fh, '>', $file or die "cannot write $file: $!\n";
    binmode $fh;
    print {$fh} $data;
    close $fh or die "cannot close $file: $!\n";
}

# "3", "0.5", "500ms", "2s" -> seconds (float); undef stays undef.
sub parse_time {
    my $t = shift;
    return undef unless defined $t;
    $t =~ s/^\s+|\s+$//g;
    return undef if $t eq '';
    if ($t =~ /^(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)?$/) {
        return defined $2 && $2 eq 'ms' ? $1 / 1000 : $1 + 0;
    }
    warn "WARNING: bad time value \"$t\", using it verbatim\n";
    return $t + 0;
}

# Expand $TEST_NGINX_* environment variables like Test::Nginx does.
# $TEST_NGINX_RAND_PORT_<n> get a free port on first use.
sub expand_env {
    my ($text, $name) = @_;
    return $text if !defined $text || ref $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{_env_value($1, $name)}ge;
    return $text;
}

sub _env_value {
    my ($var, $name) = @_;
    if (!defined $ENV{$var} && $var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
        $ENV{$var} = _pick_free_port();
    }
    if (!defined $ENV{$var}) {
        bail_out(($name ? "$name - " : '')
                 . "No environment variable $var defined.");
    }
    return $ENV{$var};
}

sub _pick_free_port {
    my %taken = ($ServerPort => 1);
    for my $k (keys %ENV) {
        $taken{$ENV{$k}} = 1 if $k =~ /^TEST_NGINX_RAND_PORT_/;
    }
    for (1 .. 100) {
        my $sock = IO::Socket::INET->new(
            LocalAddr => $ServerAddr, LocalPort => 0, Proto => 'tcp',
            Listen => 1, ReuseAddr => 1,
        ) or next;
        my $port = $sock->sockport;
        close $sock;
        return $port unless $taken{$port};
    }
    bail_out("cannot find a free TCP port");
}

my ($NginxVersion, $NginxV);

# Returns (version string like "1.22.1", full `nginx -V` output).
sub nginx_version {
    if (!defined $NginxVersion) {
        my $out = `$NginxBinary -V 2>&1`;
        $NginxV = defined $out ? $out : '';
        $NginxVersion = $NginxV =~ m{nginx/(\d+\.\d+\.\d+)} ? $1 : '0.0.0';
    }
    return wantarray ? ($NginxVersion, $NginxV) : $NginxVersion;
}

# ---------------------------------------------------------------------------
# /proc helpers (Linux)
# ---------------------------------------------------------------------------

sub _proc_stat {
    my $pid = shift;
    my $stat = _slurp("/proc/$pid/stat");
    return unless defined $stat;
    # comm may contain spaces and parentheses: split after the last ')'.
    my $rp = rindex($stat, ')');
    return if $rp < 0;
    my @f = split ' ', substr($stat, $rp + 2);
    return (state => $f[0], ppid => $f[1]);
}

sub is_running {
    my $pid = shift;
    return 0 unless $pid && $pid =~ /^\d+$/;
    return 0 unless kill 0, $pid;
    my %st = _proc_stat($pid);
    return 0 if %st && ($st{state} eq 'Z' || $st{state} eq 'X');
    return 1;
}

sub _children_of {
    my $ppid = shift;
    my @kids;
    opendir my $dh, '/proc' or return;
    for my $p (readdir $dh) {
        next unless $p =~ /^\d+$/;
        my %st = _proc_stat($p);
        push @kids, $p if %st && $st{ppid} == $ppid && $st{state} ne 'Z';
    }
    closedir $dh;
    return @kids;
}

# Is something listening on $port (IPv4 loopback or wildcard)?
# Returns undef when /proc/net/tcp cannot be read.
sub _port_listening {
    my $port = shift;
    my $hexport = sprintf '%04X', $port;
    my $found;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $f or next;
        $found ||= 0;
        while (<$fh>) {
            my @c = split ' ';
            next unless @c > 3 && $c[1] =~ /:([0-9A-F]{4})$/i;
            if (uc($1) eq $hexport && $c[3] eq '0A') {
                $found = 1;
                last;
            }
        }
        close $fh;
        return 1 if $found;
    }
    return $found;
}

# ---------------------------------------------------------------------------
# Server root and configuration
# ---------------------------------------------------------------------------

my @TempDirs = qw(client_body proxy fastcgi uwsgi scgi);

sub prepare_servroot {
    kill_stale_nginx();
    File::Path::rmtree($ServRoot) if -d $ServRoot;
    File::Path::mkpath([$ServRoot, $LogDir, $ConfDir, $HtmlDir]);
}

# Each block starts from empty logs/, html/, conf/ and temp dirs.
sub reset_block_dirs {
    for my $d ($LogDir, $HtmlDir, $ConfDir,
               map { "$ServRoot/${_}_temp" } @TempDirs)
    {
        File::Path::rmtree($d) if -e $d;
    }
    File::Path::mkpath([$LogDir, $HtmlDir, $ConfDir]);
}

# An nginx left over from an aborted earlier run would hold our port.
sub kill_stale_nginx {
    my $pid = _slurp($PidFile);
    return unless defined $pid && $pid =~ /^\s*(\d+)\s*$/;
    $pid = $1;
    my $cmd = _slurp("/proc/$pid/cmdline") || '';
    return unless is_running($pid) && $cmd =~ /nginx|valgrind/;
    _terminate($pid, 5);
}

# Write user files into html/: string form ">>> name [mtime]\ncontent...",
# or an array ref of [name, content, mtime?].
sub write_user_files {
    my $spec = shift;
    return unless defined $spec;
    my @files;
    if (ref $spec eq 'ARRAY') {
        @files = map { [@$_] } @$spec;
    } else {
        my $cur;
        for my $line (split /^/m, $spec) {
            if ($line =~ /^>>> (\S+)(?:\s+(\d+))?\s*$/) {
                $cur = [$1, '', $2];
                push @files, $cur;
            } elsif ($cur) {
                $cur->[1] .= $line;
            }
        }
    }
    for my $f (@files) {
        my ($name, $body, $mtime) = @$f;
        my $path = $name =~ m{^/} ? $name : "$HtmlDir/$name";
        my ($vol, $dir) = File::Spec->splitpath($path);
        File::Path::mkpath($dir) unless -d $dir;
        _spew($path, defined $body ? $body : '');
        utime $mtime, $mtime, $path if defined $mtime;
    }
}

# %a: main_config, http_config, config, post_main_config, block_text
# (everything the test supplied, to detect directives it sets itself).
sub write_config_file {
    my %a = @_;
    my $user_text = join "\n", map { defined $_ ? $_ : '' }
                    @a{qw(main_config http_config config post_main_config)};
    my (undef, $vout) = nginx_version();

    my $conf = "# generated by t/lib/Test/Nginx/Util.pm\n";

    for my $mod (split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '') {
        $mod = File::Spec->rel2abs($mod);
        $conf .= "load_module $mod;\n";
    }

    # Workers would otherwise run as nobody and fail to write under servroot.
    $conf .= "user root;\n" if $> == 0 && $user_text !~ /^\s*user\s/m;

    my ($daemon, $master) = ($DaemonEnabled, $MasterProcessEnabled);
    ($daemon, $master) = ('off', 'off') if $UseValgrind;

    $conf .= "worker_processes $Workers;\n"
           . "daemon $daemon;\n"
           . "master_process $master;\n"
           . "error_log $ErrLogFile $a{log_level};\n"
           . "pid $PidFile;\n";
    $conf .= "env $_;\n" for @EnvToNginx;

    $conf .= "\n# main_config\n" . (defined $a{main_config} ? $a{main_config} : '') . "\n";

    $conf .= "http {\n"
           . "    access_log $AccLogFile;\n"
           . "    default_type text/plain;\n"
           . "    keepalive_timeout 68;\n";
    for my $t (@TempDirs) {
        my $directive = $t eq 'client_body' ? 'client_body_temp_path'
                                            : "${t}_temp_path";
        next if $t ne 'client_body' && $vout =~ /--without-http_${t}_module/;
        next if $user_text =~ /\b\Q$directive\E\b/;
        $conf .= "    $directive $ServRoot/${t}_temp;\n";
    }
    $conf .= "\n    # http_config\n"
           . (defined $a{http_config} ? $a{http_config} : '') . "\n"
           . "    server {\n"
           . "        listen $ServerAddr:$ServerPort;\n"
           . "        server_name '$ServerName';\n"
           . "        client_max_body_size 30M;\n"
           . "        # preamble\n$ConfigPreamble\n"
           . "        # config\n"
           . (defined $a{config} ? $a{config} : '') . "\n";
    if (!$NoRootLocation) {
        $conf .= "        location / {\n"
               . "            root $HtmlDir;\n"
               . "            index index.html index.htm;\n"
               . "        }\n";
    }
    $conf .= "    }\n}\n\n"
           . "# post_main_config\n"
           . (defined $a{post_main_config} ? $a{post_main_config} : '') . "\n"
           . "events {\n"
           . "    accept_mutex off;\n"
           . "    worker_connections $WorkerConnections;\n"
           . "}\n";

    _spew($ConfFile, $conf);
    return $conf;
}

# ---------------------------------------------------------------------------
# nginx process management
# ---------------------------------------------------------------------------

my $CurPid;        # pid of the running nginx (master or single process)
my $ForkedPid;     # our direct child when nginx runs in the foreground

sub nginx_pid { $CurPid }

sub nginx_is_running { $CurPid && is_running($CurPid) }

# nginx itself never frees a few allocations when a single process exits
# (the environment copy, the event module's connection/event arrays, the
# PCRE2 compile context); these are not bugs of the module under test.
my $BuiltinSuppressions = <<'_EOS_';
{
   nginx-core-set-environment
   Memcheck:Leak
   match-leak-kinds: definite,indirect,possible
   fun:malloc
   fun:ngx_alloc
   fun:ngx_set_environment
}
{
   nginx-core-event-process-init
   Memcheck:Leak
   match-leak-kinds: definite,indirect,possible
   fun:malloc
   fun:ngx_alloc
   fun:ngx_event_process_init
}
{
   nginx-core-pcre2-compile-context
   Memcheck:Leak
   match-leak-kinds: definite,indirect,possible
   fun:malloc
   fun:ngx_alloc
   ...
   fun:pcre2_compile_context_create_8
   fun:ngx_regex_compile
}
{
   nginx-core-event-process-init-stripped
   Memcheck:Leak
   match-leak-kinds: definite,indirect,possible
   fun:malloc
   fun:ngx_alloc
   obj:*/nginx
   fun:ngx_single_process_cycle
}
_EOS_

sub _nginx_cmd {
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile);
    my ($ver) = nginx_version();
    my @v = split /\./, $ver;
    # -e (startup error log) exists since nginx 1.19.5
    if ($v[0] > 1 || ($v[0] == 1 && ($v[1] > 19 || ($v[1] == 19 && $v[2] >= 5)))) {
        push @cmd, '-e', $ErrLogFile;
    }
    if ($UseValgrind) {
        my $supp = "$ServRoot/valgrind-builtin.suppress";
        _spew($supp, $BuiltinSuppressions) unless -f $supp;
        my @vg = ('valgrind', '--tool=memcheck', '--leak-check=full',
                  '--keep-debuginfo=yes',
                  '--num-callers=50', '--error-exitcode=99',
                  "--log-file=$ValgrindLog", "--suppressions=$supp");
        push @vg, '--suppressions=' . File::Spec->rel2abs('valgrind.suppress')
            if -f 'valgrind.suppress';
        unshift @cmd, @vg;
    }
    return @cmd;
}

sub _spawn {
    my @cmd = @_;
    my $pid = fork;
    die "fork failed: $!\n" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $StderrFile;
        open STDERR, '>>', $StderrFile;
        exec { $cmd[0] } @cmd
            or print STDERR "exec $cmd[0] failed: $!\n";
        POSIX::_exit(127);
    }
    return $pid;
}

# Start nginx with the current conf/nginx.conf.
# %opt: must_die => 1 (expect failure; don't wait for a server).
# Returns (ok, message). For must_die, ok means "nginx failed as expected".
sub start_nginx {
    my %opt = @_;
    my @cmd = _nginx_cmd();
    warn "starting: @cmd\n" if $Verbose;
    my $limit = $UseValgrind ? 30 : 10;

    my $pid = _spawn(@cmd);

    if (!$UseValgrind) {
        # daemon on: the launcher exits as soon as the configuration is
        # loaded and the listening sockets are open, non-zero on failure.
        my $deadline = _now() + $limit;
        while (waitpid($pid, POSIX::WNOHANG()) != $pid) {
            if (_now() > $deadline) {
                kill 'KILL', $pid;
                waitpid($pid, 0);
                return (0, "nginx launcher did not exit within ${limit}s"
                           . _startup_output());
            }
            Time::HiRes::sleep($PollInterval);
        }
        my $status = $?;
        if ($status != 0) {
            return ($opt{must_die} ? 1 : 0,
                    'nginx exited with status ' . ($status >> 8)
                    . _startup_output());
        }
        if ($opt{must_die}) {
            _wait_pidfile(5);    # so that stop_nginx() can find it
            return (0, 'nginx started although it was expected to die');
        }
    } else {
        # valgrind: nginx runs in the foreground as our child
        $ForkedPid = $pid;
    }

    # The pid file is written by the daemon after it forked.
    my $npid = _wait_pidfile($limit);
    if (!$npid) {
        my $why = "nginx did not write $PidFile within ${limit}s";
        if ($ForkedPid && waitpid($ForkedPid, POSIX::WNOHANG()) == $ForkedPid) {
            $why = 'nginx exited with status ' . ($? >> 8);
            undef $ForkedPid;
        }
        return (0, $why . _startup_output());
    }

    # Wait until the listening socket exists.
    my $deadline = _now() + $limit;
    while (1) {
        my $l = _port_listening($ServerPort);
        last if !defined $l || $l;
        if (!is_running($npid)) {
            return (0, "nginx (pid $npid) exited during startup"
                       . _startup_output());
        }
        if (_now() > $deadline) {
            return (0, "nginx is not listening on port $ServerPort after "
                       . "${limit}s" . _startup_output());
        }
        Time::HiRes::sleep($PollInterval);
    }

    # With a master process, wait for the workers to be forked.
    if ($MasterProcessEnabled eq 'on' && !$UseValgrind) {
        my $d = _now() + 5;
        while (_children_of($npid) < $Workers && _now() < $d) {
            Time::HiRes::sleep($PollInterval);
        }
    }

    return (1, "nginx started (pid $npid)");
}

sub _wait_pidfile {
    my ($limit) = @_;
    my $deadline = _now() + $limit;
    while (_now() < $deadline) {
        my $c = _slurp($PidFile);
        if (defined $c && $c =~ /^(\d+)\s*$/ && is_running($1)) {
            $CurPid = $1;
            return $CurPid;
        }
        # a foreground nginx that died will never write it
        return undef if $ForkedPid && !is_running($ForkedPid);
        Time::HiRes::sleep($PollInterval);
    }
    return undef;
}

sub _startup_output {
    my $out = '';
    my $stderr = _slurp($StderrFile);
    $out .= "\n--- nginx stderr:\n$stderr" if defined $stderr && $stderr =~ /\S/;
    my @lines = grep { /\[(?:emerg|alert|crit)\]/ } read_log_lines(0);
    $out .= "\n--- error.log:\n" . join("\n", @lines[0 .. ($#lines < 19 ? $#lines : 19)])
        if @lines;
    return $out;
}

# Send $sig, wait up to $limit seconds for exit, then KILL (workers too).
sub _terminate {
    my ($pid, $limit) = @_;
    return 1 unless is_running($pid);
    my @kids = _children_of($pid);
    kill 'QUIT', $pid;
    my $deadline = _now() + $limit;
    my $forked = $ForkedPid && $ForkedPid == $pid;
    while (_now() < $deadline) {
        if ($forked) {
            my $r = waitpid($pid, POSIX::WNOHANG());
            if ($r == $pid || $r == -1) { undef $ForkedPid; last }
        }
        last unless is_running($pid);
        Time::HiRes::sleep($PollInterval);
    }
    my $graceful = 1;
    if (is_running($pid)) {
        $graceful = 0;
        warn "WARNING: nginx (pid $pid) did not exit after SIGQUIT within "
             . "${limit}s, sending SIGKILL\n";
        push @kids, _children_of($pid);
        kill 'KILL', $pid, @kids;
        waitpid($pid, 0) if $forked;
        undef $ForkedPid if $forked;
        my $d = _now() + 2;
        Time::HiRes::sleep($PollInterval) while is_running($pid) && _now() < $d;
    }
    # Orphaned workers (e.g. the master crashed) must not keep the port.
    for my $k (@kids) {
        kill 'KILL', $k if is_running($k);
    }
    return $graceful;
}

# Stop the current nginx. Returns 1 on graceful exit, 0 if it had to be
# killed, undef if nothing was running.
sub stop_nginx {
    my $pid = $CurPid;
    if (!$pid) {
        my $c = _slurp($PidFile);
        $pid = $1 if defined $c && $c =~ /^(\d+)\s*$/ && is_running($1);
    }
    if (!$pid && $ForkedPid) {
        $pid = $ForkedPid;
    }
    undef $CurPid;
    if (!$pid) {
        return undef;
    }
    my $graceful = _terminate($pid, $UseValgrind ? 30 : 5);
    if ($ForkedPid) {
        waitpid($ForkedPid, POSIX::WNOHANG());
        undef $ForkedPid;
    }
    # The port must be free before the next start.
    my $d = _now() + 2;
    while (_now() < $d) {
        my $l = _port_listening($ServerPort);
        last if !$l;
        Time::HiRes::sleep($PollInterval);
    }
    return $graceful;
}

# Errors reported in logs/valgrind.log (empty list when clean / absent):
# memory errors and "definitely lost" leaks, one string per valgrind record.
sub valgrind_errors {
    my $log = _slurp($ValgrindLog);
    return () unless defined $log;
    my @err;
    for my $rec (split /\n==\d+== ?\n/, $log) {
        if ($rec =~ /Invalid[ ](?:read|write|free)|uninitialised|Mismatched[ ]free
                     |Syscall[ ]param|definitely[ ]lost[ ]in|Source[ ]and[ ]destination
                     |Jump[ ]to[ ]the[ ]invalid|Process[ ]terminating/x)
        {
            push @err, $rec;
        }
    }
    return @err;
}

# ---------------------------------------------------------------------------
# error.log access
# ---------------------------------------------------------------------------

sub log_size {
    my $file = shift || $ErrLogFile;
    return -s $file || 0;
}

# Lines of error.log (without newlines) starting at byte $offset.
sub read_log_lines {
    my ($offset, $file) = @_;
    $file ||= $ErrLogFile;
    open my $fh, '<', $file or return ();
    binmode $fh;
    seek $fh, $offset || 0, 0;
    my @lines = <$fh>;
    close $fh;
    chomp @lines;
    return @lines;
}

# ---------------------------------------------------------------------------
# HTTP client
# ---------------------------------------------------------------------------

# Parse "--- more_headers" text into "Name: value\r\n" lines.
# Returns (header text, is_chunked).
sub _parse_more_headers {
    my $in = shift;
    my ($out, $chunked) = ('', 0);
    return ($out, $chunked) unless defined $in;
    for my $line (split /\n+/, $in) {
        next if $line =~ /^\s*#/ || $line !~ /\S/;
        $line =~ s/\r$//;
        my ($k, $v) = split /:\s*/, $line, 2;
        $v = '' unless defined $v;
        $chunked = 1 if lc $k eq 'transfer-encoding' && $v =~ /chunked/i;
        $out .= "$k: $v\r\n";
    }
    return ($out, $chunked);
}

# Turn a "--- request" style string ("METHOD URI [HTTP/x.y]\nbody") into the
# bytes to send. Leading blank/comment lines are dropped; Host and
# Connection headers are added unless more_headers sets them; a body gets
# a Content-Length (after trimming surrounding whitespace, as Test::Nginx
# does) unless more_headers sets Content-Length or chunked encoding.
# Returns (raw request, is_head) or dies on a malformed request line.
sub build_request {
    my ($req, $more_headers, $conn) = @_;
    $conn ||= 'close';
    die "empty request\n" unless defined $req;
    1 while $req =~ s/\A[ \t\r\n]*#[^\n]*\n// || $req =~ s/\A\s+//;
    my ($first, $content) = split /\n/, $req, 2;
    $content = '' unless defined $content;
    $first = '' unless defined $first;
    $first =~ s/\s+$//;
    my ($meth, $uri, $ver) = split ' ', $first;
    die "bad request line \"$first\"\n" unless defined $meth && defined $uri;
    $ver = 'HTTP/1.1' unless defined $ver;

    my ($hdrs, $chunked) = _parse_more_headers($more_headers);
    my $head = '';
    $head .= "Host: $ServerName\r\n"     unless $hdrs =~ /^Host:/mi;
    $head .= "Connection: $conn\r\n"     unless $hdrs =~ /^Connection:/mi;
    $head .= $hdrs;
    if ($content ne '' && !$chunked && $hdrs !~ /^Content-Length:/mi) {
        $content =~ s/^\s+|\s+$//g;
        $head .= 'Content-Length: ' . length($content) . "\r\n";
    }
    return ("$meth $uri $ver\r\n$head\r\n$content", $meth eq 'HEAD' ? 1 : 0);
}

# Send the chunks (array ref of strings) over one connection and read the
# response until EOF. $timeout is an idle timeout (no progress for that
# long). Returns a hash: raw => bytes read, timed_out => bool,
# error => connect/IO error message or undef.
sub send_http {
    my %a = @_;
    my @chunks  = @{ $a{chunks} };
    my $timeout = $a{timeout} || $Timeout;
    my $delay   = $a{middle_delay};
    my $port    = $a{port} || $ServerPortForClient;

    my $sock;
    my $deadline = _now() + $timeout;
    while (1) {
        $sock = IO::Socket::INET->new(
            PeerAddr => $ServerAddr, PeerPort => $port, Proto => 'tcp',
            Timeout => $timeout,
        );
        last if $sock;
        my $err = "$!";
        if (_now() >= $deadline || $! != Errno::ECONNREFUSED()) {
            return (raw => '', timed_out => 0,
                    error => "cannot connect to $ServerAddr:$port: $err");
        }
        Time::HiRes::sleep(0.05);
    }
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    # A chunk is a string or { value => bytes, delay_before => seconds }.
    my $chunk_value = sub { my $c = shift; ref $c ? $c->{value} : $c };
    my ($resp, $wbuf, $woff, $writing) = ('', $chunk_value->(shift @chunks), 0, 1);
    $wbuf = '' unless defined $wbuf;
    my %r = (timed_out => 0, error => undef);
    $deadline = _now() + $timeout;

    while (1) {
        my $left = $deadline - _now();
        if ($left <= 0) { $r{timed_out} = 1; last }
        my $rsel = IO::Select->new($sock);
        my $wsel = $writing ? IO::Select->new($sock) : undef;
        my ($rr, $ww) = IO::Select->select($rsel, $wsel, undef, $left);
        if (!$rr && !$ww) {
            next if $! == Errno::EINTR();
            $r{timed_out} = 1;
            last;
        }
        if ($ww && @$ww && $writing) {
            my $n = syswrite($sock, $wbuf, length($wbuf) - $woff, $woff);
            if (!defined $n) {
                if ($! != Errno::EAGAIN() && $! != Errno::EINTR()) {
                    # Peer closed early (e.g. 413): stop writing, keep reading.
                    $writing = 0;
                }
            } else {
                $woff += $n;
                $deadline = _now() + $timeout;
            }
            if ($writing && $woff >= length $wbuf) {
                if (@chunks) {
                    my $next = shift @chunks;
                    my $d = ref $next && defined $next->{delay_before}
                          ? $next->{delay_before} : $delay;
                    Time::HiRes::sleep($d) if $d;
                    ($wbuf, $woff) = ($chunk_value->($next), 0);
                    $wbuf = '' unless defined $wbuf;
                    $deadline = _now() + $timeout;
                } else {
                    $writing = 0;
                    shutdown($sock, 1) if $a{shutdown};
                }
            }
        }
        if ($rr && @$rr) {
            my $n = sysread($sock, my $buf, 65536);
            if (!defined $n) {
                next if $! == Errno::EAGAIN() || $! == Errno::EINTR();
                $r{error} = "read failed: $!" unless $! == Errno::ECONNRESET();
                last;
            }
            last if $n == 0;
            $resp .= $buf;
            $deadline = _now() + $timeout;
        }
    }
    close $sock;
    $r{raw} = $resp;
    return %r;
}

# Decode a chunked body. Returns (decoded, leftover bytes after the last
# chunk, error message or undef).
sub decode_chunked {
    my $raw = shift;
    my $out = '';
    pos($raw) = 0;
    while (1) {
        if ($raw !~ /\G[ \t]*([0-9A-Fa-f]+)[^\r\n]*\r\n/gc) {
            my $rest = substr($raw, pos($raw) || 0);
            return ($out, undef,
                    $rest eq '' ? 'no last chunk found (truncated body)'
                                : "bad chunk header: " . substr($rest, 0, 40));
        }
        my $size = hex $1;
        if ($size == 0) {
            # optional trailers, then the final CRLF
            if ($raw =~ /\G((?:[^\r\n]+\r\n)*)\r\n/gc) {
                my $left = substr($raw, pos($raw));
                return ($out, $left eq '' ? undef : $left, undef);
            }
            return ($out, undef, 'last chunk not terminated by CRLF');
        }
        my $p = pos($raw);
        if (length($raw) - $p < $size) {
            return ($out, undef, "chunk of $size bytes truncated");
        }
        $out .= substr($raw, $p, $size);
        pos($raw) = $p + $size;
        if ($raw !~ /\G\r\n/gc) {
            return ($out, undef, 'chunk data not followed by CRLF');
        }
    }
}

# Parse one response off the front of $raw.
# Returns (HTTP::Response or undef, raw header text, leftover bytes, error).
sub parse_http_response {
    my ($raw, $is_head) = @_;
    return (undef, '', undef, 'empty response') if !defined $raw || $raw eq '';
    my $hend = index($raw, "\r\n\r\n");
    if ($hend < 0) {
        return (undef, $raw, undef, 'incomplete response header');
    }
    my $raw_headers = substr($raw, 0, $hend + 2);
    my $rest = substr($raw, $hend + 4);
    my ($status, @hlines) = split /\r\n/, substr($raw, 0, $hend);
    if ($status !~ m{^(HTTP/\d+\.\d+)\s+(\d{3})(?:\s+(.*))?$}) {
        return (undef, $raw_headers, undef, "bad status line \"$status\"");
    }
    my $res = HTTP::Response->new($2, defined $3 ? $3 : '');
    $res->protocol($1);
    for my $l (@hlines) {
        if ($l =~ /^([^:\s]+)\s*:\s*(.*?)\s*$/) {
            $res->push_header($1, $2);
        }
    }
    my $code = $res->code;
    my ($left, $err);
    my $te  = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    if ($is_head || $code =~ /^1/ || $code == 204 || $code == 304) {
        $res->content('');
        $left = $rest if $rest ne '';
    } elsif (defined $te && $te =~ /\bchunked\b/i) {
        my $body;
        ($body, $left, $err) = decode_chunked($rest);
        $res->content($body);
        $err = "invalid chunked body: $err" if $err;
    } elsif (defined $len && $len =~ /^\s*(\d+)\s*$/) {
        $len = $1;
        if (length($rest) < $len) {
            $err = "response body truncated: $len bytes expected, got "
                 . length($rest);
            $res->content($rest);
        } else {
            $res->content(substr($rest, 0, $len));
            $left = substr($rest, $len) if length($rest) > $len;
        }
    } else {
        $res->content($rest);
    }
    return ($res, $raw_headers, $left, $err);
}

# ---------------------------------------------------------------------------
# Mock TCP server (--- tcp_listen / tcp_reply / tcp_query ...)
# ---------------------------------------------------------------------------

my $TcpPid;

# %a: port, reply (string or array ref of chunks), reply_delay (s),
# query_len, query (expected string, used for its length), no_close,
# shutdown (close write side after reply), timeout, dir (where received
# queries are saved as tcp_query.<n>). Returns (ok, error message).
sub start_tcp_server {
    my %a = @_;
    my $srv = IO::Socket::INET->new(
        LocalAddr => $a{addr} || $ServerAddr, LocalPort => $a{port},
        Proto => 'tcp', Listen => 32, ReuseAddr => 1,
    ) or return (0, "cannot listen on port $a{port}: $!");
    my $pid = fork;
    return (0, "fork failed: $!") unless defined $pid;
    if ($pid) {
        close $srv;
        $TcpPid = $pid;
        return (1, undef);
    }

    # child: serve connections one at a time until killed
    $SIG{PIPE} = 'IGNORE';
    my @keep;
    my $n = 0;
    while (my $c = $srv->accept) {
        $n++;
        my $q = _tcp_read_query($c, \%a);
        my $tmp = "$a{dir}/.tcp_query.$n";
        if (open my $fh, '>', $tmp) {
            binmode $fh;
            print {$fh} $q;
            close $fh;
            rename $tmp, "$a{dir}/tcp_query.$n";
        }
        Time::HiRes::sleep($a{reply_delay}) if $a{reply_delay};
        my $reply = $a{reply};
        my @parts = ref $reply eq 'ARRAY' ? @$reply
                  : defined $reply ? ($reply) : ();
        for my $i (0 .. $#parts) {
            Time::HiRes::sleep($a{reply_delay}) if $i && $a{reply_delay};
            _write_all($c, $parts[$i]);
        }
        if ($a{no_close}) {
            push @keep, $c;
        } else {
            shutdown($c, 1);
            close $c;
        }
    }
    POSIX::_exit(0);
}

sub _write_all {
    my ($c, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($c, $data, length($data) - $off, $off);
        return unless defined $n;
        $off += $n;
    }
}

sub _tcp_read_query {
    my ($c, $a) = @_;
    my $want = defined $a->{query_len} ? $a->{query_len}
             : (defined $a->{query} && !ref $a->{query}) ? length $a->{query}
             : undef;
    my $timeout = $a->{timeout} || $Timeout;
    my $sel = IO::Select->new($c);
    my $buf = '';
    my $deadline = _now() + $timeout;
    while (1) {
        last if defined $want && length($buf) >= $want;
        if (!defined $want && $buf ne '' && _http_request_complete($buf)) {
            last;
        }
        my $wait = $deadline - _now();
        # Unknown query length and not HTTP: stop after 100 ms of silence.
        $wait = 0.1 if !defined $want && $buf ne '' && $wait > 0.1;
        last if $wait <= 0;
        last unless $sel->can_read($wait);
        my $n = sysread($c, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
    }
    return $buf;
}

sub _http_request_complete {
    my $buf = shift;
    my $i = index($buf, "\r\n\r\n");
    return 0 if $i < 0;
    my $head = substr($buf, 0, $i);
    return 0 unless $head =~ m{^[A-Z]+ \S+ HTTP/\d\.\d}; # not HTTP: use idle
    if ($head =~ /^Content-Length:\s*(\d+)/mi) {
        return length($buf) - $i - 4 >= $1;
    }
    if ($head =~ /^Transfer-Encoding:\s*chunked/mi) {
        return $buf =~ /\r\n0\r\n\r\n\z/ ? 1 : 0;
    }
    return 1;
}

sub stop_tcp_server {
    return unless $TcpPid;
    kill 'KILL', $TcpPid;
    waitpid($TcpPid, 0);
    undef $TcpPid;
}

# ---------------------------------------------------------------------------

my $OrigPid = $$;

END {
    # only the process that loaded us (not forked helpers) cleans up
    if ($$ == $OrigPid) {
        my $status = $?;
        stop_tcp_server();
        stop_nginx();
        $? = $status;
    }
}

1;
