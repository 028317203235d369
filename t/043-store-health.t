# The store's health as the writes meet it (issue 20, items 2 and 3): a
# store file or WAL deleted or replaced under a running nginx refuses every
# write with 503 and a [crit] line naming the path, and health is DOWN; a
# worker started while the file is gone does not create a fresh one, and
# opens the store by itself once it is back; writes that fail (the files
# made immutable: EPERM on every write, even for root) make health DOWN with
# the cause, are logged once with a count, and health is UP again once a
# write works.

use Test::Nginx::Socket 'no_plan';
use Compensation::Harness;    # --- poll blocks: skipped under openresty's Test::Nginx
use Cwd ();
use File::Basename ();

no_root_location();
no_shuffle();

use Compensation::Commands;

sub store { "$Test::Nginx::Util::ServRoot/logs/c.db" }

# chattr +i: EPERM on writes through descriptors already open, as root too
# (ext4, xfs; not every file system has the flag)
sub chattr { system('chattr', @_) == 0 }
our $ImmutableWorks = do {
    my $dir = File::Basename::dirname($ENV{TEST_NGINX_SERVROOT}
                                      || Cwd::cwd() . '/t/servroot');
    my $probe = "$dir/.immutable-probe-$$";
    my $works = 0;
    if (open my $fh, '+>', $probe) {
        $fh->autoflush(1);
        if (chattr('+i', $probe)) {
            $works = !syswrite($fh, 'x');
            chattr('-i', $probe);
        }
        close $fh;
        unlink $probe;
    }
    $works;
};

sub immutable {
    my $flag = shift;
    chattr($flag, store() . $_) or die "chattr $flag " . store() . "$_"
        for '', '-wal';
}

# A full disk: a 4 MB tmpfs of its own for the store (root and mount(8)
# needed; the block is skipped otherwise), filled with a file that is
# removed again.  Outside the server root, which is wiped per file.
our $Small = "/tmp/ngx-compensation-t025-" . ($ENV{TEST_NGINX_PORT} || 1984);
our $SmallWorks = do {
    mkdir $Small;
    system("mountpoint -q $Small 2>/dev/null") == 0
        || system("mount -t tmpfs -o size=4m tmpfs $Small 2>/dev/null") == 0;
};
sub small_store { "$Small/c.db" }
sub fill_small {
    system("dd if=/dev/zero of=$Small/fill bs=64k 2>/dev/null");
    Test::More::ok(-s "$Small/fill", "the small file system is full");
}
sub empty_small { unlink "$Small/fill" or die "$Small/fill: $!" }
# a create whose event stream needs more WAL than a full disk has room for
sub big_create_req { ::create_req('error.stackTrace' => 'x' x 400_000) }

# never leave an immutable file or a mount behind: the next file wipes the
# server root
END {
    local $?;
    my @f = grep { -e } map { store() . $_ } '', '-wal';
    chattr('-i', @f) if @f;
    if ($SmallWorks) {
        system("umount $Small 2>/dev/null");
        rmdir $Small;
    }
}

# the pid of the one worker (master_on, workers 1)
sub worker {
    my $master = Test::Nginx::Util::nginx_pid();
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        return $1 if $line =~ /^(\d+) \(.*\) \S+ (\d+) / && $2 == $master;
    }
    return undef;
}

# The log lines a poll's actions cause are checked in poll steps too (the
# real Test::Nginx runs no poll, so its error_log checks would see nothing):
# the lines of error.log matching re, counted
sub log_count {
    my $re = shift;
    open my $fh, '<', "$Test::Nginx::Util::ServRoot/logs/error.log" or return 0;
    return scalar grep { $_ =~ $re } <$fh>;
}
sub log_is {
    my ($re, $n, $what) = @_;
    return sub { Test::More::is(log_count($re), $n, $what) };
}

our $CAUSE = '"details":\{"error":"(?:[^"\\\\]|\\\\.)*';
sub down {
    my $why = shift;
    qr/\A\{"status":"DOWN","components":\{"db":\{"status":"DOWN",$CAUSE\Q$why\E(?:[^"\\]|\\.)*"\}\},"ping":\{"status":"UP"\}\}\}\z/;
}
our $UP = qr/\A\{"status":"UP","components":\{"db":\{"status":"UP"\},"ping":\{"status":"UP"\}\}\}\z/;
our $REFUSED = qr/\A\{"errorCode":"ServiceUnavailable","errorMsg":"The compensation store file was deleted or replaced while open: writes are refused\.".*"succeeded":false\}\z/;

add_block_preprocessor(sub {
    my $block = shift;
    # the full-disk block: a fresh store on the small file system
    if ($block->name =~ /full disk/) {
        $block->set_value('http_config',
                          "    compensation_store $Small/c.db;\n$::ThreadPool");
        unlink((map { small_store() . $_ } '', '-wal', '-shm'), "$Small/fill");
    }
    if ($block->name =~ /worker started/) { master_on() } else { master_off() }
});

run_tests();

__DATA__

=== TEST 1: the store file deleted under nginx: writes 503 (never acknowledged), health DOWN, [crit] naming the path
--- request eval
[::create_req(), "GET /actuator/health"]
--- more_headers eval
[$::H, ""]
--- error_code eval
[200, 200]
--- poll eval
[sub { unlink ::store() or die ::store() . ": $!" },
 [::create_req(), $::REFUSED, "$::CT\nCommand-Aggregate-Id: x2", 503],
 ["PUT /execution_failed/x1/prepare_compensation", $::REFUSED, undef, 503],
 ["GET /actuator/health", ::down('the database file of \"' . ::store()
                                 . '\" was deleted or replaced while open'), undef, 503],
 ["GET /actuator/health/db", qr/\A\{"status":"DOWN","details":\{"error":"(?:[^"\\]|\\.)*deleted or replaced/, undef, 503],
 ::log_is(qr/\[crit\] .*compensation_store ".*\/c\.db": the database file of ".*\/c\.db" was deleted or replaced while open: writes are refused/,
          1, "one [crit] naming the path")]
--- no_error_log eval
["[alert]", "[emerg]", qr/\[crit\] (?!.*was deleted or replaced while open)/]



=== TEST 2: the WAL deleted under nginx: writes 503, health DOWN, [crit]
--- request eval
[::create_req(), "GET /actuator/health"]
--- more_headers eval
[$::H, ""]
--- error_code eval
[200, 200]
--- poll eval
[sub { unlink ::store() . '-wal' or die ::store() . "-wal: $!" },
 [::create_req(), $::REFUSED, "$::CT\nCommand-Aggregate-Id: x2", 503],
 ["GET /actuator/health", ::down('the WAL file of \"' . ::store()
                                 . '\" was deleted or replaced while open'), undef, 503],
 ::log_is(qr/\[crit\] .*compensation_store ".*\/c\.db": the WAL file of ".*\/c\.db" was deleted or replaced/,
          1, "one [crit] naming the WAL")]
--- no_error_log eval
["[alert]", "[emerg]", qr/\[crit\] (?!.*was deleted or replaced while open)/]



=== TEST 3: another file renamed over the store (a restored copy): writes 503, health DOWN
--- request eval
[::create_req(), "GET /actuator/health"]
--- more_headers eval
[$::H, ""]
--- error_code eval
[200, 200]
--- poll eval
[sub { my $n = ::store() . '.new'; open my $fh, '>', $n or die "$n: $!"; close $fh;
       rename $n, ::store() or die "rename: $!" },
 ["GET /actuator/health", ::down('was deleted or replaced while open'), undef, 503],
 [::create_req(), $::REFUSED, "$::CT\nCommand-Aggregate-Id: x2", 503],
 ::log_is(qr/\[crit\] .*the database file of ".*\/c\.db" was deleted or replaced/, 1,
          "one [crit] naming the path")]
--- no_error_log eval
["[alert]", "[emerg]", qr/\[crit\] (?!.*was deleted or replaced while open)/]



=== TEST 4: a worker started after the file was deleted creates no fresh store; it retries and works once a store is back, without a reload
--- skip_eval: 13: $ENV{TEST_NGINX_USE_VALGRIND}
--- request eval
[::create_req(), "GET /actuator/health"]
--- more_headers eval
[$::H, ""]
--- error_code eval
[200, 200]
--- poll eval
[sub { unlink map { ::store() . $_ } '', '-wal', '-shm';
       kill 'TERM', ::worker() or die "no worker" },
 ["GET /actuator/health", ::down('unable to open database file'), undef, 503],
 [::create_req(), qr/"errorMsg":"The compensation store is not available\."/,
  "$::CT\nCommand-Aggregate-Id: x2", 503],
 sub { Test::More::ok(!-e ::store(), "the new worker created no store file");
       open my $fh, '>', ::store() or die ::store() . ": $!"; close $fh },
 ["GET /actuator/health", $::UP, undef, 200],
 [::create_req(), qr/"aggregateId":"x3".*"succeeded":true/, "$::CT\nCommand-Aggregate-Id: x3", 200],
 ["GET /execution_failed/x3/state", qr/"id":"x3"/, undef, 200],
 ::log_is(qr/\[error\] .*compensation_store ".*\/c\.db" is not usable, the API answers 503 and the worker retries: sqlite3_open_v2\(".*\/c\.db"\) failed: unable to open database file/,
          1, "the failed open logged once"),
 ::log_is(qr/\[notice\] .*compensation_store ".*\/c\.db" is usable again after \d+ failed attempts to open it/,
          1, "the recovery logged")]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 5: writes that fail (I/O error): 500 each, health DOWN with the cause, one log line with a count; UP again once a write works
--- skip_eval: 13: !$::ImmutableWorks
--- request eval
[::create_req(), "GET /actuator/health"]
--- more_headers eval
[$::H, ""]
--- error_code eval
[200, 200]
--- poll eval
[sub { ::immutable('+i') },
 [::create_req(), qr/"errorCode":"InternalServerError"/, "$::CT\nCommand-Aggregate-Id: y1", 500],
 [::create_req(), qr/"errorCode":"InternalServerError"/, "$::CT\nCommand-Aggregate-Id: y2", 500],
 [::create_req(), qr/"errorCode":"InternalServerError"/, "$::CT\nCommand-Aggregate-Id: y3", 500],
 ["GET /actuator/health", ::down('disk I/O error'), undef, 503],
 ["GET /actuator/health/db", qr/\A\{"status":"DOWN","details":\{"error":"[^"]*disk I\/O error/, undef, 503],
 sub { ::immutable('-i') },
 [::create_req(), qr/"aggregateId":"y4".*"succeeded":true/, "$::CT\nCommand-Aggregate-Id: y4", 200],
 ["GET /actuator/health", $::UP, undef, 200],
 ::log_is(qr/writes fail/, 1, "three identical failures, one log line"),
 ::log_is(qr/\[error\] .*compensation_store ".*c\.db": writes fail, health is DOWN until one works \(repeats are logged once per 10 s with a count\): store: commit failed: COMMIT: disk I\/O error/,
          1, "the line names the store and the cause"),
 ::log_is(qr/\[notice\] .*compensation_store ".*c\.db": writes work again after 3 failed writes/, 1,
          "the recovery line counts them")]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 6: a full disk: writes 500, health DOWN ("database or disk is full"), one log line; UP once there is room
--- skip_eval: 12: !$::SmallWorks
--- request eval
[::create_req(), "GET /actuator/health"]
--- more_headers eval
[$::H, ""]
--- error_code eval
[200, 200]
--- poll eval
[\&::fill_small,
 [::big_create_req(), qr/"errorCode":"InternalServerError"/, "$::CT\nCommand-Aggregate-Id: f1", 500],
 [::big_create_req(), qr/"errorCode":"InternalServerError"/, "$::CT\nCommand-Aggregate-Id: f2", 500],
 ["GET /actuator/health", ::down('database or disk is full'), undef, 503],
 \&::empty_small,
 [::create_req(), qr/"aggregateId":"f3".*"succeeded":true/, "$::CT\nCommand-Aggregate-Id: f3", 200],
 ["GET /actuator/health", $::UP, undef, 200],
 ::log_is(qr/writes fail/, 1, "two identical failures, one log line"),
 ::log_is(qr/\[notice\] .*writes work again after 2 failed writes/, 1, "the recovery line counts them")]
--- no_error_log
[alert]
[crit]
[emerg]
