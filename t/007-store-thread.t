# The store thread: commands (and every other store write that can wait) run
# in a thread, on a store connection of their own, while the event loop keeps
# serving reads (docs/architecture.md, "The store executor").  Blocks 1-9:
# a thread of an nginx pool (compensation_thread_pool <name>); blocks 10-13:
# the default, the module's own thread per worker.
#
# The suites t/001-006 also run whole with the store thread
# (make prove-threads); this file checks what is particular to it.

use Test::Nginx::Socket 'no_plan';
use Compensation::Harness;    # --- poll blocks: skipped under openresty's Test::Nginx
use IO::Select ();
use IO::Socket::INET ();

no_root_location();
no_shuffle();

use Compensation::Commands;

# the config of the blocks that run commands in the thread (busy timeout
# long enough for the blocks that hold the write lock from outside)
our $ThreadMainConfig = <<'_EOC_';
    thread_pool compensation threads=1;
_EOC_

our $ThreadHttpConfig = <<'_EOC_';
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_store_busy_timeout 10s;
    compensation_thread_pool compensation;
_EOC_

# the default configuration: the module's store thread
our $DefaultHttpConfig = <<'_EOC_';
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_store_busy_timeout 10s;
_EOC_

# A command in the thread has no timer: a worker told to quit (reload, stop)
# must still wait for it, as it waits for any request in progress
master_on();

# Another process (sqlite3) holds the store's write lock for $secs seconds;
# returns the pipe to it (close waits for the end).
sub hold_write_lock {
    my $secs = shift;
    my $root = $ENV{TEST_NGINX_SERVER_ROOT};
    my $flag = "$root/logs/locked";

    unlink $flag;
    open my $sq, '|-', "sqlite3 $root/logs/c.db >/dev/null"
        or die "sqlite3: $!";
    $sq->autoflush(1);
    print $sq "BEGIN IMMEDIATE;\nCREATE TABLE IF NOT EXISTS t_lock (x);\n"
              . ".shell touch $flag\n.shell sleep $secs\nCOMMIT;\n";
    for (1 .. 100) { last if -e $flag; Time::HiRes::sleep(0.05) }
    Test::More::ok(-e $flag, "sqlite3 holds the write lock");
    return $sq;
}

# sends "$line HTTP/1.1" with the header lines $headers (each ending in
# \r\n) and $body on a new connection, without reading
sub send_req {
    my ($line, $headers, $body) = @_;
    my $s = IO::Socket::INET->new(
        PeerAddr => "127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}")
        or die "connect: $!";
    print $s "$line HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
             . ($headers // '') . "\r\n" . ($body // '');
    return $s;
}

# sends a create of aggregate $id (with the header line $extra) on a new
# connection, without reading
sub send_create {
    my ($id, $extra) = @_;
    my $body = ::create_body();
    my $s = send_req("POST /execution_failed/create_execution_failed",
                     "Content-Type: application/json\r\n"
                     . "Command-Aggregate-Id: $id\r\n"
                     . ($extra ? "$extra\r\n" : "")
                     . "Content-Length: " . length($body) . "\r\n", $body);
    # it is in the thread once the (one) worker has read it
    Time::HiRes::sleep(0.3);
    return $s;
}

# While $waiter's request waits for the lock $sq holds, a state read of r1
# must be answered; then the lock is released.  Returns $waiter's answer.
sub read_beside {
    my ($sq, $waiter, $waiting_name) = @_;
    my $r = send_req("GET /execution_failed/r1/state");
    my $read = do { local $/; <$r> };
    my $waiting = !IO::Select->new($waiter)->can_read(0);

    my $answer = do { local $/; <$waiter> };
    close $sq;

    Test::More::like($read, qr{\AHTTP/1\.1 200 .*"id":"r1"}s,
                     "the state read is answered");
    Test::More::ok($waiting, $waiting_name);
    return $answer;
}

# A create waits for the lock in the store thread; a state read sent next
# must be answered while the create is still waiting, and the create must
# commit once the lock is released.  On the event loop (no thread pool) the
# read would wait behind the create's lock wait.
sub read_beside_waiting_write {
    my $sq = hold_write_lock(3);
    my $w = send_create('w1');
    my $write = read_beside($sq, $w,
                            "... while the create still waits for the lock");

    Test::More::like($write, qr{\AHTTP/1\.1 200 .*"stage":"PROCESSED"}s,
                     "the create commits once the lock is released");

    return "GET /execution_failed/w1/state";
}

# The same with a batch snapshot regeneration (a job of the store executor)
# waiting for the lock instead of a create.
sub read_beside_waiting_regen {
    my $sq = hold_write_lock(3);
    my $g = send_req("PUT /execution_failed/snapshot/0/10");
    Time::HiRes::sleep(0.3);
    my $regen = read_beside($sq, $g,
                            "... while the regeneration waits for the lock");

    Test::More::like($regen, qr{\AHTTP/1\.1 200 .*"size":1}s,
                     "the regeneration is done once the lock is released");

    return "GET /execution_failed/r1/state";
}

# the worker processes of the master (ppid in /proc/<pid>/stat)
sub workers_of {
    my $master = shift;
    my @w;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        push @w, $1 if $line =~ /^(\d+) \(.*\) \S+ (\d+) / && $2 == $master;
    }
    return @w;
}

# A create of $id waits for the lock in its thread while the worker is told
# to quit gracefully (SIGQUIT, as on a reload or a stop); returns what the
# create's connection got.  $one: also check there is one worker.
sub quit_while_waiting {
    my ($id, $one) = @_;
    my $sq = hold_write_lock(2);
    my $w = send_create($id);

    my @workers = workers_of(Test::Nginx::Util::nginx_pid());
    Test::More::is(scalar @workers, 1, "one worker") if $one;
    kill 'QUIT', @workers;

    my $write = do { local $/; <$w> };
    close $sq;
    return $write;
}

# A graceful shutdown of the worker while a create waits for the lock in its
# thread: the worker stays until the create is answered (the master then
# starts a new one).
sub quit_beside_waiting_write {
    my $write = quit_while_waiting('h1', 1);

    Test::More::like($write // '', qr{\AHTTP/1\.1 200 .*"stage":"PROCESSED"}s,
                     "the create waiting in the thread over the worker's"
                     . " shutdown gets its 200");

    return "GET /execution_failed/h1/state";
}

# The same with worker_shutdown_timeout shorter than the lock wait: nginx
# closes the connection and frees the request while its create is in the
# thread; the create still commits, and its result is dropped (logged).
sub shutdown_timeout_beside_waiting_write {
    my $write = quit_while_waiting('o1', 0);

    Test::More::is($write // '', '', "the connection was closed unanswered");

    return "GET /execution_failed/o1/state";
}

# Per-command deadlines: a create waits for the lock in the thread; two more
# queue behind it, one allowing 200 ms, one 10 s.  Once the lock is free they
# run as the thread's next group: the first one's deadline passed while it
# was queued (408, nothing written), its neighbour is not affected (before,
# the group's wait was the shortest of its commands' and both ran).
sub deadline_passed_in_queue {
    my $sq = hold_write_lock(2);
    my @s = (send_create('d1'),
             send_create('d2', 'Command-Wait-Timeout: 200'),
             send_create('d3', 'Command-Wait-Timeout: 10000'));
    my @r = map { my $s = $_; local $/; <$s> // '' } @s;
    close $sq;

    Test::More::like($r[0], qr{\AHTTP/1\.1 200 .*"stage":"PROCESSED"}s,
                     "the create in the thread commits");
    Test::More::like($r[1],
                     qr{\AHTTP/1\.1 408 .*Wow-Error-Code: RequestTimeout}s,
                     "the create whose deadline passed in the queue is 408");
    Test::More::like($r[2], qr{\AHTTP/1\.1 200 .*"stage":"PROCESSED"}s,
                     "... and its neighbour in the group commits");

    return "GET /execution_failed/d2/state";
}

run_tests();

__DATA__

=== TEST 1: commands run in the store thread: create, prepare, apply, state
--- main_config eval: $::ThreadMainConfig
--- http_config eval: $::ThreadHttpConfig
--- request eval
[::create_req(), "PUT /execution_failed/x1/prepare_compensation\n{}",
 "PUT /execution_failed/x1/apply_execution_success\n{\"executeAt\":1719800001000}",
 "GET /execution_failed/x1/state"]
--- more_headers eval
[$::H, $::H, $::H, ""]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2), ::ok_re('onSucceed', 3),
 qr/"status":"SUCCEEDED"/]



=== TEST 2: a read is answered while a command waits for the write lock
--- main_config eval: $::ThreadMainConfig
--- http_config eval: $::ThreadHttpConfig
--- request eval
::create_req()
--- more_headers eval
"$::CT\nCommand-Aggregate-Id: r1"
--- error_code: 200
--- poll eval
[[\&::read_beside_waiting_write, qr/"id":"w1"/]]



=== TEST 3: conflicts and errors keep their answers in the thread (expected version, not found)
--- main_config eval: $::ThreadMainConfig
--- http_config eval: $::ThreadHttpConfig
--- request eval
[::create_req(), "PUT /execution_failed/x1/prepare_compensation\n{}",
 "PUT /execution_failed/nope/prepare_compensation\n{}"]
--- more_headers eval
[$::H, "$::CT\nCommand-Aggregate-Version: 7", $::CT]
--- error_code eval
[200, 409, 404]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: CommandExpectVersionConflict",
 "Wow-Error-Code: NotFound"]



=== TEST 4: the pool "default" needs no thread_pool line; off is accepted
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_thread_pool default;
--- request eval
[::create_req(), "GET /execution_failed/x1/state"]
--- more_headers eval
[$::H, ""]
--- error_code eval
[200, 200]



=== TEST 5: an undeclared pool is refused at startup
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_thread_pool nosuch;
--- must_die
--- error_log
unknown thread pool "nosuch"



=== TEST 6: a duplicate compensation_thread_pool is refused
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_thread_pool off;
    compensation_thread_pool default;
--- must_die
--- error_log
"compensation_thread_pool" directive is duplicate



=== TEST 7: a worker shut down gracefully while a command waits in its thread answers it before it exits
--- skip_eval: 6: $ENV{TEST_NGINX_USE_VALGRIND}
--- main_config eval: $::ThreadMainConfig
--- http_config eval: $::ThreadHttpConfig
--- request
GET /actuator/health
--- error_code: 200
--- poll eval
[[\&::quit_beside_waiting_write, qr/"id":"h1"/]]



=== TEST 8: worker_shutdown_timeout frees a request whose command is in the thread: the command commits, its result is dropped
--- skip_eval: 6: $ENV{TEST_NGINX_USE_VALGRIND}
--- main_config eval: $::ThreadMainConfig . "    worker_shutdown_timeout 300ms;\n"
--- http_config eval: $::ThreadHttpConfig
--- request
GET /actuator/health
--- error_code: 200
--- poll eval
[[\&::shutdown_timeout_beside_waiting_write, qr/"id":"o1"/]]
--- error_log
compensation: create_execution_failed on "o1" ran after its request was closed: Ok



=== TEST 9: a command whose deadline passed while queued is 408 and writes nothing; its group's neighbour commits
--- main_config eval: $::ThreadMainConfig
--- http_config eval: $::ThreadHttpConfig
--- request eval
["GET /actuator/health", "GET /execution_failed/d3/state"]
--- error_code eval
[200, 404]
--- poll eval
[[\&::deadline_passed_in_queue, qr/"errorCode":"NotFound"/, undef, 404],
 ["GET /execution_failed/d3/state", qr/"id":"d3"/, undef, 200]]



=== TEST 10: the default configuration: a read is answered while a command waits for the write lock in the module's store thread
--- http_config eval: $::DefaultHttpConfig
--- request eval
::create_req()
--- more_headers eval
"$::CT\nCommand-Aggregate-Id: r1"
--- error_code: 200
--- poll eval
[[\&::read_beside_waiting_write, qr/"id":"w1"/]]



=== TEST 11: the default configuration: a worker shut down gracefully while a command waits in the store thread answers it before it exits
--- skip_eval: 6: $ENV{TEST_NGINX_USE_VALGRIND}
--- http_config eval: $::DefaultHttpConfig
--- request
GET /actuator/health
--- error_code: 200
--- poll eval
[[\&::quit_beside_waiting_write, qr/"id":"h1"/]]



=== TEST 12: the default configuration: worker_shutdown_timeout frees a request whose command is in the store thread (the thread's wake-up connection stays)
--- skip_eval: 6: $ENV{TEST_NGINX_USE_VALGRIND}
--- main_config
    worker_shutdown_timeout 300ms;
--- http_config eval: $::DefaultHttpConfig
--- request
GET /actuator/health
--- error_code: 200
--- poll eval
[[\&::shutdown_timeout_beside_waiting_write, qr/"id":"o1"/]]
--- error_log
compensation: create_execution_failed on "o1" ran after its request was closed: Ok



=== TEST 13: the default configuration: a batch snapshot regeneration waits for the lock in the store thread, a read is answered meanwhile
--- http_config eval: $::DefaultHttpConfig
--- request eval
::create_req()
--- more_headers eval
"$::CT\nCommand-Aggregate-Id: r1"
--- error_code: 200
--- poll eval
[[\&::read_beside_waiting_regen, qr/"id":"r1"/]]
