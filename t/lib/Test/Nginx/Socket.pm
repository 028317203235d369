package Test::Nginx::Socket;

# A small, self-contained work-alike of openresty's Test::Nginx::Socket,
# built on Test::Base. Test files written for it are meant to stay valid
# for the real Test::Nginx (same section names, same meaning). See
# t/lib/README.md for the supported sections.
#
# Written from the documented test-nginx data format; not a copy of its code.

use strict;
use warnings;

# -base (lower case): make this package a Test::Base subclass without
# Spiffy's source filter. Test::Base's import then serves `use
# Test::Nginx::Socket 'no_plan'` in test files (plan arguments + exports).
use Test::Base -base;

use List::Util ();
use Time::HiRes ();
use Test::Nginx::Util qw(
    :DEFAULT expand_env build_request send_http parse_http_response
    write_config_file start_nginx stop_nginx nginx_pid nginx_is_running
    prepare_servroot reset_block_dirs write_user_files read_log_lines
    log_size start_tcp_server stop_tcp_server parse_time nginx_version
    valgrind_errors
);

our $VERSION = '0.01';

# Set only by this in-tree harness: t/lib/Compensation/Harness.pm tells it
# apart from openresty's Test::Nginx with it.
our $IN_TREE = 1;

our @EXPORT = (qw(
    run_tests run_test error_log_data access_log_data add_cleanup_handler
), @Test::Nginx::Util::EXPORT);

my $PrevConfig;
my @CleanupHandlers;

sub add_cleanup_handler ($) { push @CleanupHandlers, shift }

# error.log position of the last check: like Test::Nginx, each error-log
# check of a block (one after every request but the last, one at the end)
# reads only the lines written since the previous one, unless
# check_accum_error_log() (or TEST_NGINX_CHECK_ACCUM_ERR_LOG) is set.
my $ErrLogPos = 0;

# Test::Nginx's pause before reading the log (lines of the log phase come
# after the response): 3 x TEST_NGINX_SLEEP (0.015 s)
my $LogSleep = 3 * ($ENV{TEST_NGINX_SLEEP} || 0.015);

# Lines of error.log since the previous check (array ref), then the position
# moves to the end: the semantics of Test::Nginx's error_log_data().
sub error_log_data () {
    Time::HiRes::sleep($LogSleep);
    if ($Test::Nginx::Util::CheckAccumErrLog) {
        return [ read_log_lines(0) ];
    }
    my $size = log_size();
    my @lines = read_log_lines($ErrLogPos);
    $ErrLogPos = $size if $size > $ErrLogPos;
    return \@lines;
}

sub access_log_data () {
    return [ read_log_lines(0, "$Test::Nginx::Util::LogDir/access.log") ];
}

# ---------------------------------------------------------------------------

sub run_tests () {
    my $tb = Test::More->builder;
    Test::More::plan('no_plan') unless $tb->has_plan;

    my ($ver) = nginx_version();
    if ($ver eq '0.0.0') {
        bail_out("cannot run \"$Test::Nginx::Util::NginxBinary -V\" "
                 . "(set TEST_NGINX_BINARY)");
    }

    prepare_servroot();
    undef $PrevConfig;

    my @blocks = blocks();
    @blocks = List::Util::shuffle(@blocks) unless $Test::Nginx::Util::NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @Test::Nginx::Util::BlockPreprocessors;
        for my $rep (0 .. $Test::Nginx::Util::RepeatEach - 1) {
            run_test($block, $rep);
        }
    }

    stop_nginx();
    stop_tcp_server();
    $_->() for @CleanupHandlers;
}

sub run_test {
    my ($block, $rep) = @_;
    $rep ||= 0;
    my $name = $block->name;
    $name .= " (repeat $rep)" if $Test::Nginx::Util::RepeatEach > 1;

    my ($nskip, $why) = _should_skip($block);
    if ($nskip) {
        SKIP: { Test::More::skip("$name - $why", $nskip) }
        return;
    }

    my $tb = Test::More->builder;
    my $todo = _v($block, 'todo');
    if (defined $todo) {
        (my $reason = $todo) =~ s/^\s*\d+\s*:\s*//;
        $tb->todo_start($reason =~ /\S/ ? $reason : 'todo');
    }

    my $ok = eval { _run_block($block, $name, $rep); 1 };
    my $err = $@;

    $tb->todo_end if defined $todo;

    if (!$ok) {
        stop_nginx();
        stop_tcp_server();
        die $err;
    }
}

# Returns (number of tests to skip, reason) or ().
sub _should_skip {
    my $block = shift;
    my ($ver) = nginx_version();
    my $canon = sub { sprintf '%d.%03d%03d', split /\./, shift };
    for my $sec (qw(skip_nginx skip_nginx2)) {
        my $v = $block->$sec;
        next unless defined $v;
        if ($v !~ /^\s*(\d+)\s*:\s*(.*?)\s*$/) {
            bail_out($block->name . " - bad --- $sec value: $v");
        }
        my ($n, $cond) = ($1, $2);
        my @terms = split /\s+(and|or)\s+/, $cond;
        my $acc;
        my $op = 'or';
        for my $t (@terms) {
            if ($t eq 'and' || $t eq 'or') { $op = $t; next }
            $t =~ /^(<=|>=|==|!=|<|>)\s*(\d+\.\d+\.\d+)$/
                or bail_out($block->name . " - bad --- $sec condition: $t");
            my ($a, $b) = ($canon->($ver), $canon->($2));
            my $r = $1 eq '<'  ? $a <  $b : $1 eq '<=' ? $a <= $b
                  : $1 eq '>'  ? $a >  $b : $1 eq '>=' ? $a >= $b
                  : $1 eq '==' ? $a == $b : $a != $b;
            $acc = !defined $acc ? $r : $op eq 'and' ? ($acc && $r) : ($acc || $r);
        }
        return ($n, "nginx $ver $cond") if $acc;
    }
    if (defined(my $v = _v($block, 'skip_eval'))) {
        if ($v =~ /^\s*(\d+)\s*:\s*(.*)$/s) {
            my ($n, $code) = ($1, $2);
            my $r = eval "package main; $code";
            bail_out($block->name . " - skip_eval failed: $@") if $@;
            return ($n, "skip_eval: $code") if $r;
        }
    }
    return ();
}

# A section's value in scalar context (block accessors return lists, and
# nothing at all for a missing section, which would shift argument lists).
sub _v {
    my ($block, $sec) = @_;
    my $v = $block->$sec;
    return $v;
}

sub _trim {
    my $s = shift;
    return $s unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    return $s;
}

sub _run_block {
    my ($block, $name, $rep) = @_;

    stop_nginx();
    stop_tcp_server();
    reset_block_dirs();

    my $must_die = defined _v($block, 'must_die');
    # like Test::Nginx, must_die blocks never run under valgrind
    local $Test::Nginx::Util::UseValgrind =
        $must_die ? undef : $Test::Nginx::Util::UseValgrind;

    my $config = _v($block, 'config');
    $config = defined $PrevConfig ? $PrevConfig : '' unless defined $config;
    $PrevConfig = $config;

    my %conf = (
        main_config      => expand_env(_v($block, 'main_config'), $name),
        http_config      => expand_env(_v($block, 'http_config'), $name),
        config           => expand_env($config, $name),
        post_main_config => expand_env(_v($block, 'post_main_config'), $name),
        log_level        => _trim(_v($block, 'log_level')) || $Test::Nginx::Util::LogLevel,
    );
    write_user_files(_v($block, 'user_files'));
    write_config_file(%conf);

    if (defined _v($block, 'tcp_listen')) {
        my ($ok, $err) = start_tcp_server(
            port        => _trim(expand_env(_v($block, 'tcp_listen'), $name)),
            reply       => _v($block, 'tcp_reply'),
            reply_delay => parse_time(_v($block, 'tcp_reply_delay')),
            query_len   => _trim(_v($block, 'tcp_query_len')),
            query       => _v($block, 'tcp_query'),
            no_close    => defined _v($block, 'tcp_no_close'),
            timeout     => parse_time(_v($block, 'timeout')),
            dir         => $Test::Nginx::Util::LogDir,
        );
        if (!$ok) {
            Test::More::fail("$name - mock tcp server: $err");
            return;
        }
    }

    if ($must_die) {
        _run_must_die($block, $name, $rep);
        stop_tcp_server();
        return;
    }

    if (defined _v($block, 'poll') && !$INC{'Compensation/Harness.pm'}) {
        bail_out("$name - a block with --- poll needs 'use Compensation::Harness;' "
                 . "in its file, so that openresty's Test::Nginx skips it with a "
                 . "reason instead of passing it without the polls "
                 . "(t/lib/README.md)");
    }

    my ($started, $msg) = start_nginx();
    if (!$started) {
        Test::More::fail("$name - nginx failed to start");
        Test::More::diag($msg);
        if ($msg =~ /duplicate location "\/"/) {
            Test::More::diag("hint: like Test::Nginx, the harness adds a default "
                . "'location /' to the server; call no_root_location() in the "
                . "test file when a config defines its own 'location /'.");
        }
        stop_nginx();
        stop_tcp_server();
        return;
    }
    my $pid = nginx_pid();
    $ErrLogPos = 0;

    # like Test::Nginx: Perl code run once nginx is up, before the requests
    if (defined(my $init = _v($block, 'init'))) {
        package Test::Nginx::Util;
        eval $init;
        Test::Nginx::Socket::bail_out("$name - init failed: $@") if $@;
    }

    # like Test::Nginx: after each request but the last, --- wait then the
    # error-log checks on that request's lines; after the last one (and the
    # polls), --- wait then the checks on the lines left
    my $multi = _run_requests($block, $name, $rep);
    _run_polls($block, $name);

    _sleep_wait($block);

    _check_tcp_query($block, $name);

    _check_error_log($block, $name, error_log_data(), $rep,
                     $multi ? ' (last req)' : '');

    my $alive = nginx_is_running();
    my $pre_stop = log_size();
    my $graceful = stop_nginx();

    if (!$alive) {
        Test::More::fail("$name - nginx (pid $pid) is gone: it crashed or "
                         . "exited during the test");
    } elsif (defined $graceful && !$graceful) {
        Test::More::fail("$name - nginx (pid $pid) did not shut down on "
                         . "SIGQUIT and had to be killed");
    }

    _check_shutdown_log($block, $name, $pre_stop);

    # Whole block log, including shutdown: alerts, crits and crashes fail.
    _scan_for_trouble($block, $name, [ read_log_lines(0) ]);

    if ($Test::Nginx::Util::UseValgrind) {
        my @err = valgrind_errors();
        if (@err) {
            Test::More::fail("$name - valgrind reported errors");
            Test::More::diag(join "\n", @err[0 .. ($#err < 4 ? $#err : 4)]);
        }
    }

    stop_tcp_server();
}

sub _sleep_wait {
    my $block = shift;
    if (defined(my $w = parse_time(_v($block, 'wait')))) {
        Time::HiRes::sleep($w) if $w > 0;
    }
}

sub _run_must_die {
    my ($block, $name, $rep) = @_;

    my ($died, $msg) = start_nginx(must_die => 1);
    if ($died) {
        Test::More::pass("$name - nginx failed to start as expected");
    } else {
        Test::More::fail("$name - nginx should have failed to start");
        Test::More::diag($msg);
    }
    stop_nginx();

    my @lines = read_log_lines(0);
    push @lines, read_log_lines(0, $Test::Nginx::Util::StderrFile);
    _check_error_log($block, $name, \@lines, $rep);
}

# ---------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------

sub _idx {
    my ($v, $i) = @_;
    return ref $v eq 'ARRAY' ? $v->[$i] : $v;
}

# An expected value for response $i, as Test::Nginx picks it: with several
# requests (an array of requests, or pipelined_requests) every check section
# must be an array ref with one element per response; with one request an
# array ref gives its first element.
sub _pick {
    my ($name, $v, $i, $multi) = @_;
    return undef unless defined $v;
    if ($multi) {
        return $v->[$i] if ref $v eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }
    return ref $v eq 'ARRAY' ? $v->[0] : $v;
}

# --- more_headers as an array ref: one element per request, a missing one is
# an error (Test::Nginx bails out too)
sub _more_headers_for {
    my ($name, $more, $i) = @_;
    return $more unless ref $more eq 'ARRAY';
    bail_out("$name - --- more_headers lacks data for request $i")
        unless defined $more->[$i];
    return $more->[$i];
}

# Returns a list of { chunks => [...], heads => [bool...], n => responses }.
sub _build_requests {
    my ($block, $name) = @_;
    my $more = _v($block, 'more_headers');
    my @out;

    my $build = sub {
        my ($req, $i, $conn) = @_;
        my $mh = _more_headers_for($name, $more, $i);
        my ($raw, $head) = eval {
            build_request(expand_env($req, $name), expand_env($mh, $name), $conn)
        };
        bail_out("$name - $@") unless defined $raw;
        return ($raw, $head);
    };

    if (defined _v($block, 'raw_request')) {
        my $raw = _v($block, 'raw_request');
        my @chunks = map { ref $_ ? { %$_, value => expand_env($_->{value}, $name) }
                                  : expand_env($_, $name) }
                     ref $raw eq 'ARRAY' ? @$raw : ($raw);
        my $all = join '', map { ref $_ ? $_->{value} : $_ } @chunks;
        push @out, { chunks => \@chunks, heads => [ $all =~ /^\s*HEAD\s/ ? 1 : 0 ],
                     n => 1 };

    } elsif (defined _v($block, 'pipelined_requests')) {
        my $list = _v($block, 'pipelined_requests');
        bail_out("$name - --- pipelined_requests must be an array ref (use eval)")
            unless ref $list eq 'ARRAY';
        my ($all, @heads) = ('');
        for my $i (0 .. $#$list) {
            my ($raw, $head) = $build->($list->[$i], $i,
                                        $i == $#$list ? 'close' : 'keep-alive');
            $all .= $raw;
            push @heads, $head;
        }
        push @out, { chunks => [$all], heads => \@heads, n => scalar @$list };

    } elsif (defined _v($block, 'request')) {
        my $req = _v($block, 'request');
        my @list = ref $req eq 'ARRAY' ? @$req : ($req);
        for my $i (0 .. $#list) {
            my $one = $list[$i];
            if (ref $one eq 'ARRAY') {
                # a request given as packets (strings or {value, delay_before})
                my @pk = map { ref $_ ? {%$_} : { value => $_ } } @$one;
                my ($raw, $head) = $build->(join('', map { $_->{value} } @pk),
                                            $i, 'close');
                # keep the packet boundaries of the body; the first packet
                # absorbs the added headers
                my $extra = length($raw) - List::Util::sum(0, map { length $_->{value} } @pk);
                my $off = 0;
                for my $j (0 .. $#pk) {
                    my $len = length($pk[$j]{value}) + ($j == 0 ? $extra : 0);
                    $len = 0 if $len < 0;
                    $len = length($raw) - $off if $j == $#pk;
                    $pk[$j]{value} = substr($raw, $off, $len);
                    $off += $len;
                }
                push @out, { chunks => \@pk, heads => [$head], n => 1 };
            } else {
                my ($raw, $head) = $build->($one, $i, 'close');
                push @out, { chunks => [$raw], heads => [$head], n => 1 };
            }
        }
    }
    return @out;
}

sub _run_requests {
    my ($block, $name, $rep) = @_;
    my @reqs = _build_requests($block, $name);
    # a block that is not must_die needs a request, as in Test::Nginx
    bail_out("$name - request empty") unless @reqs;

    my $timeout = parse_time(_v($block, 'timeout'));
    $timeout = $Test::Nginx::Util::Timeout unless defined $timeout;
    my $total = List::Util::sum(map { $_->{n} } @reqs);
    my $multi = $total > 1;
    my $ridx = 0;

    for my $req (@reqs) {
        my %r = send_http(
            chunks       => $req->{chunks},
            timeout      => $timeout,
            middle_delay => parse_time(_v($block, 'raw_request_middle_delay')),
            shutdown     => defined _v($block, 'shutdown'),
        );
        my $sfx = $multi ? " (req $ridx)" : '';
        if ($r{error}) {
            Test::More::fail("$name - $r{error}$sfx");
        }
        if ($r{timed_out} && !defined _v($block, 'abort')) {
            Test::More::fail("$name - client socket timed out after ${timeout}s"
                             . " waiting for the response$sfx");
        }

        my $raw = $r{raw};
        for my $k (0 .. $req->{n} - 1) {
            my $sfx = $multi ? " (req $ridx)" : '';
            my ($res, $raw_headers, $left, $err) =
                parse_http_response($raw, $req->{heads}[$k]);
            if (!defined _v($block, 'ignore_response')) {
                if ($err && $err =~ /chunked/) {
                    Test::More::fail("$name - $err$sfx");
                } elsif ($err && $err ne 'empty response' && !$r{timed_out}) {
                    Test::More::diag("WARNING: $name - $err$sfx");
                }
                if (defined $left && $k == $req->{n} - 1) {
                    (my $l = substr($left, 0, 200)) =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge;
                    Test::More::diag("WARNING: $name - unexpected extra bytes "
                                     . "after the response$sfx: \"$l\"");
                }
                _check_response($block, $name, $res, $raw_headers, $ridx, $sfx,
                                $multi);
            }
            $raw = defined $left ? $left : '';
            if ($ridx < $total - 1) {
                _sleep_wait($block);
                _check_error_log($block, $name, error_log_data(), $rep, $sfx);
            }
            $ridx++;
        }
    }
    return $multi;
}

# Project extension (not in Test::Nginx): "--- poll eval" is an array ref of
# steps run after the requests, in order.  [REQUEST, qr//, MORE_HEADERS,
# STATUS] repeats the request (or a code ref giving it, called when the step
# starts) until its response body matches and, when STATUS is given, its
# status is STATUS (or TEST_NGINX_POLL_TIMEOUT seconds, default 15, pass: a
# failure shows the last status and body); the string 'HUP' sends SIGHUP to
# nginx (a reload, master_on only); a code ref step is run once, as an
# action between steps (e.g. changing a file under the server root).  It
# waits for state, never asserts timing.
sub _run_polls {
    my ($block, $name) = @_;
    my $polls = _v($block, 'poll');
    return unless defined $polls;
    bail_out("$name - --- poll must be an array ref (use eval)")
        unless ref $polls eq 'ARRAY';
    my $limit = $ENV{TEST_NGINX_POLL_TIMEOUT} || 15;
    for my $i (0 .. $#$polls) {
        my $step = $polls->[$i];
        if (!ref $step && $step eq 'HUP') {
            kill 'HUP', nginx_pid();
            next;
        }
        if (ref $step eq 'CODE') {
            $step->();
            next;
        }
        my ($req, $re, $more, $status) = @$step;
        $req = $req->() if ref $req eq 'CODE';
        my $deadline = Time::HiRes::time() + $limit;
        my $body = '';
        my $code = '';
        my $ok = 0;
        while (1) {
            my ($raw, $head) = build_request(expand_env($req, $name),
                                             expand_env($more, $name),
                                             'close');
            my %r = send_http(chunks => [$raw], timeout => 3);
            my ($res) = parse_http_response($r{raw}, $head);
            $body = $res ? $res->content : '';
            $body = '' unless defined $body;
            $code = $res && defined $res->code ? $res->code : '';
            if ($body =~ $re && (!defined $status || $code eq $status)) {
                $ok = 1;
                last;
            }
            last if Time::HiRes::time() > $deadline;
            Time::HiRes::sleep(0.05);
        }
        Test::More::ok($ok, "$name - poll $i ($req) matched");
        Test::More::diag("last status: $code, last body: $body") unless $ok;
    }
}

# ---------------------------------------------------------------------------
# Response checks
# ---------------------------------------------------------------------------

sub _check_response {
    my ($block, $name, $res, $raw_headers, $i, $sfx, $multi) = @_;
    my $code = $res && defined $res->code ? $res->code : '';
    my $pick = sub { _pick($name, _v($block, shift), $i, $multi) };
    $raw_headers = '' unless defined $raw_headers;
    my $port = $Test::Nginx::Util::ServerPort;

    # status
    if (defined _v($block, 'error_code_like')) {
        my $pat = _trim($pick->('error_code_like'));
        Test::More::like($code, ref $pat ? $pat : qr/$pat/sm,
                         "$name - status code ok$sfx");
    } else {
        my $exp = defined _v($block, 'error_code') ? _trim($pick->('error_code')) : 200;
        $exp = '' unless defined $exp;
        Test::More::is($code, $exp, "$name - status code ok$sfx");
    }

    # raw headers
    for my $sec (qw(raw_response_headers_like raw_response_headers_unlike)) {
        next unless defined _v($block, $sec);
        my $pat = $pick->($sec);
        next unless defined $pat;
        my $re = ref $pat ? $pat : qr/$pat/s;
        if ($sec =~ /unlike/) {
            Test::More::unlike($raw_headers, $re, "$name - raw resp headers unlike$sfx");
        } else {
            Test::More::like($raw_headers, $re, "$name - raw resp headers like$sfx");
        }
    }

    # headers
    if (defined _v($block, 'response_headers')) {
        for my $h (_parse_expected_headers($pick->('response_headers'))) {
            my ($k, $val) = @$h;
            if (!defined $val) {
                Test::More::unlike($raw_headers, qr/^\s*\Q$k\E\s*:/mi,
                                   "$name - header $k not present$sfx");
                next;
            }
            $val =~ s/\$ServerPort\b/$port/g;
            my $actual = $res ? $res->header($k) : undef;
            Test::More::is(defined $actual ? $actual : '', $val,
                           "$name - header $k ok$sfx");
        }
    }
    if (defined _v($block, 'response_headers_like')) {
        for my $h (_parse_expected_headers($pick->('response_headers_like'))) {
            my ($k, $val) = @$h;
            $val = '' unless defined $val;
            $val =~ s/\$ServerPort\b/$port/g;
            my $actual = $res ? $res->header($k) : undef;
            Test::More::like(defined $actual ? $actual : '', qr/^$val$/,
                             "$name - header $k like ok$sfx");
        }
    }

    # body
    my $content = $res ? $res->content : '';
    $content = '' unless defined $content;
    if (defined _v($block, 'response_body')) {
        my $exp = $pick->('response_body');
        if (ref $exp eq 'Regexp') {
            Test::More::like($content, $exp, "$name - response_body - like$sfx");
        } elsif (defined $exp) {
            $exp =~ s/\$ServerPort\b/$port/g;
            _is_string($content, $exp, "$name - response_body - response is expected$sfx");
        }
    } elsif (defined _v($block, 'response_body_like') || defined _v($block, 'response_body_unlike')) {
        my $like = defined _v($block, 'response_body_like');
        my $pat = $pick->($like ? 'response_body_like' : 'response_body_unlike');
        if (defined $pat) {
            if (!ref $pat) {
                $pat =~ s/\$ServerPort\b/$port/g;
                $pat = qr/$pat/s;
            }
            my $summary = _trim(substr $content, 0, 80);
            $summary =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge;
            my $label = "$name - response_body_" . ($like ? 'like' : 'unlike')
                      . " - response is expected ($summary)$sfx";
            $like ? Test::More::like($content, $pat, $label)
                  : Test::More::unlike($content, $pat, $label);
        }
    }
}

# "Name: value" lines; "!Name" (or a bare "Name") means the header must be
# absent; "Name:" with an empty value accepts an absent or empty header.
sub _parse_expected_headers {
    my $text = shift;
    my @h;
    return @h unless defined $text;
    for my $line (split /\n/, $text) {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '' || $line =~ /^#/;
        if ($line =~ s/^!\s*//) {
            push @h, [$line, undef];
            next;
        }
        my ($k, $v) = split /\s*:\s*/, $line, 2;
        push @h, [$k, $v];
    }
    return @h;
}

sub _is_string {
    my ($got, $exp, $label) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if ($got eq $exp) {
        return Test::More::pass($label);
    }
    if ($Test::Nginx::Util::NoLongString) {
        return Test::More::is($got, $exp, $label);
    }
    if (!$ENV{TEST_SHOW_NO_DIFFS} && ($exp =~ /\n./s || $got =~ /\n./s)
        && eval { require Text::Diff; 1 })
    {
        Test::More::ok(0, $label);
        Test::More::diag("response body differs (--- expected, +++ got):\n"
            . Text::Diff::diff(\$exp, \$got, { STYLE => 'Unified' }));
        return 0;
    }
    if (eval { require Test::LongString; 1 }) {
        return Test::LongString::is_string($got, $exp, $label);
    }
    return Test::More::is($got, $exp, $label);
}

# ---------------------------------------------------------------------------
# error.log checks
# ---------------------------------------------------------------------------

sub _patterns {
    my $v = shift;
    return () unless defined $v;
    return ($v) if ref $v eq 'Regexp';
    return grep { defined } @$v if ref $v eq 'ARRAY';
    chomp $v;
    return grep { $_ ne '' } split /\n+/, $v;
}

sub _line_matches {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

sub _fmt {
    my $s = shift;
    $s = "$s";
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

sub _value_contains {
    my ($v, $needle) = @_;
    return 0 unless defined $v;
    return index("$v", $needle) >= 0 unless ref $v eq 'ARRAY';
    for (@$v) { return 1 if _value_contains($_, $needle) }
    return 0;
}

# error_log / no_error_log / grep_error_log against @$lines
sub _check_error_log {
    my ($block, $name, $lines, $rep, $sfx) = @_;
    $sfx = '' unless defined $sfx;

    _check_patterns($name, $lines, _v($block, 'error_log'), _v($block, 'no_error_log'),
                    'error.log', $sfx);

    my $g = _v($block, 'grep_error_log');
    if (defined $g) {
        my $pat = ref $g eq 'ARRAY' ? $g->[$rep] : $g;
        my $exp = _v($block, 'grep_error_log_out');
        bail_out("$name - --- grep_error_log needs --- grep_error_log_out")
            unless defined $exp;
        $exp = $exp->[$rep] if ref $exp eq 'ARRAY';
        my $out = '';
        for my $line (@$lines) {
            if (ref $pat ? $line =~ $pat : $line =~ /\Q$pat\E/) {
                my $m = $&;
                $out .= "$m\n" unless $m =~ /\n/;
            }
        }
        if (ref $exp eq 'Regexp') {
            Test::More::like($out, $exp, "$name - grep_error_log_out$sfx");
        } else {
            _is_string($out, defined $exp ? $exp : '', "$name - grep_error_log_out$sfx");
        }
    }
}

# One assertion per pattern: each of $yes must match some line, none of
# $no may match any line.
sub _check_patterns {
    my ($name, $lines, $yes, $no, $where, $sfx) = @_;
    $sfx = '' unless defined $sfx;

    for my $pat (_patterns($yes)) {
        my $found = grep { _line_matches($_, $pat) } @$lines;
        Test::More::ok($found, "$name - pattern \"" . _fmt($pat)
                               . "\" matches a line in $where$sfx");
    }

    for my $pat (_patterns($no)) {
        my @m = grep { _line_matches($_, $pat) } @$lines;
        if (@m) {
            Test::More::fail("$name - pattern \"" . _fmt($pat) . "\" should not "
                             . "match any line in $where but matches line \""
                             . _fmt($m[0]) . "\"$sfx");
            Test::More::diag("also matches: $_") for @m[1 .. ($#m < 4 ? $#m : 4)];
        } else {
            Test::More::pass("$name - pattern \"" . _fmt($pat)
                             . "\" does not match a line in $where$sfx");
        }
    }
}

sub _check_shutdown_log {
    my ($block, $name, $offset) = @_;
    my $yes = _v($block, 'shutdown_error_log');
    my $no  = _v($block, 'no_shutdown_error_log');
    return unless defined $yes || defined $no;
    _check_patterns($name, [ read_log_lines($offset) ], $yes, $no,
                    'error.log (shutdown)');
}

# Project rule: [alert], [crit], [emerg] and worker crashes fail the test
# (unless the block's error_log/no_error_log patterns mention that level).
sub _scan_for_trouble {
    my ($block, $name, $lines) = @_;
    my %allowed;
    for my $sec (qw(error_log no_error_log shutdown_error_log no_shutdown_error_log)) {
        my $v = $block->$sec;
        next unless defined $v;
        for my $lvl (qw(alert crit emerg)) {
            $allowed{$lvl} = 1 if _value_contains($v, "[$lvl");
        }
    }
    my @bad;
    for my $l (@$lines) {
        if ($l =~ /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[(alert|crit|emerg)\]/) {
            push @bad, $l unless $allowed{$1};
        } elsif ($l =~ /exited on signal \d+|\bAssertion .* failed|
                        AddressSanitizer|LeakSanitizer|runtime\ error:/x)
        {
            push @bad, $l;
        }
    }
    # sanitizer / abort output that went to nginx's stderr
    for my $l (read_log_lines(0, $Test::Nginx::Util::StderrFile)) {
        push @bad, "stderr: $l"
            if $l =~ /AddressSanitizer|LeakSanitizer|runtime error:|Assertion .* failed|Segmentation fault/;
    }
    if (@bad) {
        Test::More::fail("$name - error.log has [alert]/[crit]/[emerg] "
                         . "or crash messages");
        Test::More::diag($_) for @bad[0 .. ($#bad < 19 ? $#bad : 19)];
        Test::More::diag('... (' . (@bad - 20) . ' more)') if @bad > 20;
    }
}

# ---------------------------------------------------------------------------
# mock tcp server checks
# ---------------------------------------------------------------------------

sub _check_tcp_query {
    my ($block, $name) = @_;
    return unless defined _v($block, 'tcp_listen');
    my $q    = _v($block, 'tcp_query');
    my $qlen = _trim(_v($block, 'tcp_query_len'));
    return unless defined $q || defined $qlen;

    my $file = "$Test::Nginx::Util::LogDir/tcp_query.1";
    my $deadline = Time::HiRes::time() + 1;
    Time::HiRes::sleep(0.01) while !-e $file && Time::HiRes::time() < $deadline;
    my $got;
    if (open my $fh, '<', $file) {
        binmode $fh;
        local $/;
        $got = <$fh>;
        close $fh;
    }
    if (!defined $got) {
        Test::More::fail("$name - tcp server received no connection");
        return;
    }
    if (defined $qlen) {
        Test::More::is(length $got, $qlen, "$name - tcp_query_len ok");
    }
    if (defined $q) {
        if (ref $q eq 'Regexp') {
            Test::More::like($got, $q, "$name - tcp_query ok");
        } else {
            _is_string($got, $q, "$name - tcp_query ok");
        }
    }
}

1;
