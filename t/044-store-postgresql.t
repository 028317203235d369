# compensation_store naming a PostgreSQL database (docs/postgresql.md): the
# file starts a throwaway cluster of its own (scripts/pg-cluster.sh, as
# "make unit-pg" does; port $PG_PORT, else the nginx port + 9) and stops it
# at the end.  nginx -t connects and creates the schema: a good URI or
# keyword string passes (a password in a passfile too), a missing database, a
# refused login, a closed port or an unparsable DSN fail with the cause, and
# the password is never in the log.  Commands, reads, the scheduler (its
# lease owner: machine id and pid) and health through nginx; the server
# stopped under a running nginx: health DOWN with the cause and commands 503
# ServiceUnavailable, then UP and 200 once it is back, without a reload.
#
# Every block starts with the server running (the preprocessor starts it
# again when a block stopped it).  The "--- init" blocks run under both
# harnesses; the "--- poll" blocks (the whole stop/start cycle in one nginx)
# under the in-tree one only.

use Test::Nginx::Socket;
use Compensation::Harness;    # --- poll blocks: skipped under openresty's Test::Nginx
use File::Basename ();
use File::Spec ();
use File::Temp ();

our ($Cluster, $Dir, $Dsn, $TcpDsn, $Password, $PgPort, $PassFile);

BEGIN {
    $Cluster = File::Spec->rel2abs(File::Basename::dirname(__FILE__)
                                   . '/../scripts/pg-cluster.sh');
}

sub pg_bindir {
    my $b = $ENV{PG_BINDIR};
    if (!$b) {
        $b = `pg_config --bindir 2>/dev/null`;
        chomp $b;
    }
    $b = '/usr/lib/postgresql/15/bin' unless $b && -x "$b/initdb";
    return -x "$b/initdb" && -x "$b/pg_ctl" ? $b : undef;
}

if ($ENV{TEST_COMPENSATION_STORE}) {
    # make prove-pg: every block would be rewritten onto its cluster, and
    # this file starts one of its own (make prove runs it)
    plan(skip_all => 'the file runs its own cluster and tests the DSN'
                     . ' itself: make prove runs it');
} elsif (!pg_bindir()) {
    plan(skip_all => 'the PostgreSQL server binaries (initdb, pg_ctl) are not'
                     . ' installed: make deps installs postgresql-15');
} else {
    plan('no_plan');
}

$PgPort = $ENV{PG_PORT} || (($ENV{TEST_NGINX_PORT} || 1984) + 9);
$Dir = File::Temp::tempdir('/tmp/cf-t044-XXXXXX', CLEANUP => 0);
rmdir $Dir;    # pg-cluster.sh makes it, with its marker

$Dsn = `'$Cluster' start '$Dir' $PgPort`;
die "starting the PostgreSQL cluster failed\n" if $? != 0;
chomp $Dsn;
$TcpDsn = `'$Cluster' dsn '$Dir' tcp`;
chomp $TcpDsn;
($Password) = $TcpDsn =~ m{://[^:]+:([^@]+)@};

# a passfile (libpq ignores one that others can read)
my $pf = File::Temp->new(UNLINK => 1);
chmod 0600, $pf->filename;
print $pf "127.0.0.1:$PgPort:compensation:compensation:$Password\n";
close $pf;
$PassFile = $pf;

END {
    local $?;
    system("'$Cluster' stop '$Dir'") if $Dir;
}

sub pg { system("'$Cluster' @_ '$Dir' >/dev/null") == 0 or die "pg-cluster.sh @_ failed\n" }
sub pg_psql {
    my $sql = shift;
    my $out = `'$Cluster' psql '$Dir' -At -c "$sql"`;
    chomp $out;
    return $out;
}
sub pg_running { -e "$Dir/data/postmaster.pid" }

# the read thread's connection cut, and no new one for the module's role
# (existing sessions stay: the store thread's keeps working); the next
# block's preprocessor lifts the limit
our $ReadsCut;
sub pg_cut_reads {
    pg_wait_connected(1);
    pg_psql("ALTER ROLE compensation CONNECTION LIMIT 0");
    pg_psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            . " WHERE application_name = 'ngx_compensation reads'");
    $ReadsCut = 1;
}
sub pg_uncut_reads {
    pg_psql("ALTER ROLE compensation CONNECTION LIMIT -1") if $ReadsCut;
    $ReadsCut = 0;
}

# the store threads' connections (one per worker, application_name
# "ngx_compensation"; a worker's read thread, "ngx_compensation reads",
# connects at its first read; the event loop has none), up to 10 s: the
# store thread connects after the worker starts
sub pg_wait_connected {
    my $want = shift || 1;
    for (1 .. 200) {
        my $n = pg_psql("SELECT count(*) FROM pg_stat_activity"
                        . " WHERE application_name = 'ngx_compensation'");
        return 1 if $n >= $want;
        select(undef, undef, undef, 0.05);
    }
    die "nginx did not connect to PostgreSQL\n";
}

use Compensation::Dispatch;

# the dispatch suites' setup (Compensation::Dispatch) on this database, with
# a machine id
$::HttpConfig =~ s{compensation_store [^;]*;}
                  {compensation_store "$Dsn";\n    compensation_machine_id 7;};

no_root_location();
no_shuffle();

our $ApiConfig = <<'_EOC_';
    location / {
        compensation_api;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    pg('start') unless pg_running();
    pg_uncut_reads();
    # the API alone; the blocks that dispatch take Compensation::Dispatch's
    $block->set_value('config', $ApiConfig) unless defined $block->config;
    # openresty's Test::Nginx skips a poll block (Compensation::Harness)
    # but still runs its init
    $block->set_value('init', '')
        if defined $block->poll && !Compensation::Harness::in_tree_harness();
    if (defined $block->two_workers) {
        master_on();
        workers(2);
    } else {
        master_off();
        workers(1);
    }
    $block->set_value('no_error_log', "[alert]\n[crit]\n[emerg]\n$Password\n")
        unless defined $block->no_error_log;
});

our $Down = qr/\A\{"status":"DOWN","components":\{"db":\{"status":"DOWN","details":\{"error":"PostgreSQL compensation@[^"]*:$PgPort\/compensation is unreachable: (?:[^"\\]|\\.)+"\}\},"ping":\{"status":"UP"\}\}\}\z/;
our $Up = qr/\A\{"status":"UP","components":\{"db":\{"status":"UP"\},"ping":\{"status":"UP"\}\}\}\z/;
our $ReadRefused = qr/\A\{"errorCode":"ServiceUnavailable","errorMsg":"The compensation store is not available\.","succeeded":false\}\z/;
our $Refused = qr/\A\{"errorCode":"ServiceUnavailable","errorMsg":"The compensation store is not available: the command was not processed\.","succeeded":false\}\z/;

sub h { "$::CT\nCommand-Aggregate-Id: $_[0]" }

run_tests();

__DATA__

=== TEST 1: a URI (Unix socket, password in it): create, state, snapshot, health UP; the password never logged
--- request eval
[::create('x1', 'order-service', 'ok'), ::state('x1'),
 "GET /execution_failed/x1/snapshot", "GET /actuator/health"]
--- more_headers eval
[::h('x1'), "", "", ""]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[qr/"aggregateId":"x1","aggregateVersion":1,.*"errorCode":"Ok"/,
 qr/\A\{"id":"x1",.*"status":"FAILED"/,
 qr/\A\{"contextName":"compensation-service",.*"aggregateId":"x1","version":1,/,
 $::Up]



=== TEST 2: the keyword form over TCP with the password in a passfile
--- http_config eval
qq{    compensation_store "host=127.0.0.1 port=$::PgPort dbname=compensation user=compensation passfile=$::PassFile";\n    compensation_machine_id 7;}
--- request eval
[::create('k1', 'order-service', 'ok'), ::state('k1'), "GET /actuator/health"]
--- more_headers eval
[::h('k1'), "", ""]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/"aggregateId":"k1","aggregateVersion":1,/, qr/\A\{"id":"k1",/, $::Up]



=== TEST 3: a database that does not exist fails nginx -t with the cause, not the password
--- http_config eval
(my $d = $::TcpDsn) =~ s{/compensation\z}{/nosuchdb};
"    compensation_store \"$d\";"
--- must_die
--- error_log eval
[qr/\[emerg\] .*compensation_store "PostgreSQL compensation\@127\.0\.0\.1:\d+\/nosuchdb" is not usable: .*database "nosuchdb" does not exist/]
--- no_error_log eval
[$::Password]



=== TEST 4: a refused login fails nginx -t with the cause, never the password
--- http_config eval
"    compensation_store \"postgresql://compensation:WrongPw9x\@127.0.0.1:$::PgPort/compensation\";"
--- must_die
--- error_log eval
[qr/\[emerg\] .*compensation_store "PostgreSQL compensation\@127\.0\.0\.1:\d+\/compensation" is not usable: .*password authentication failed for user "compensation"/]
--- no_error_log eval
["WrongPw9x", $::Password]



=== TEST 5: a closed port fails nginx -t with the cause, never the password
--- http_config eval
"    compensation_store \"host=127.0.0.1 port=" . ($::PgPort + 1) . " dbname=compensation user=compensation password=Kw0rdPw\";"
--- must_die
--- error_log eval
[qr/\[emerg\] .*compensation_store "PostgreSQL compensation\@127\.0\.0\.1:\d+\/compensation" is not usable: .*Connection refused/]
--- no_error_log
Kw0rdPw



=== TEST 6: an unparsable URI fails with libpq's reason, never the password
--- http_config
    compensation_store "postgresql://compensation:Pw0bogus@127.0.0.1:1/compensation?bogus=1";
--- must_die
--- error_log eval
[qr/\[emerg\] .*compensation_store "PostgreSQL \(an invalid connection string\)" is not usable: invalid PostgreSQL connection string: invalid URI query parameter: "bogus"/]
--- no_error_log
Pw0bogus



=== TEST 7: "compensation_thread_pool off" is refused with a PostgreSQL store
--- http_config eval
"    compensation_store \"$::Dsn\";\n    compensation_thread_pool off;"
--- must_die
--- error_log
"compensation_thread_pool off" cannot be used with a PostgreSQL compensation_store
--- no_error_log eval
[$::Password]



=== TEST 8: two workers: each connects in its store thread, commands through both
--- two_workers
--- init
::pg_wait_connected(2);
--- request eval
[map { ::create("w$_", 'order-service', 'ok') } 1 .. 6]
--- more_headers eval
[map { ::h("w$_") } 1 .. 6]
--- error_code eval
[(200) x 6]
--- response_body_like eval
[map { qr/"aggregateId":"w$_","aggregateVersion":1,/ } 1 .. 6]



=== TEST 9: the scheduler dispatches through the database; the lease owner is machine id 7 and the worker's pid
--- config eval: $::Config
--- request eval
[::create('s1', 'order-service', 'ok')]
--- more_headers eval
[::h('s1')]
--- poll eval
[[::state('s1'), qr/"status":"SUCCEEDED"/],
 [::ops('s1'), qr/^\[\{"operationId":"[0-9a-f-]{36}","jobId":\d+,"executionId":"s1","state":"Succeeded"/],
 sub {
     my $owner = ::pg_psql("SELECT owner FROM comp_operation WHERE execution_id = 's1'");
     my $pid = Test::Nginx::Util::nginx_pid();
     Test::More::is($owner, 7 * 10000000 + $pid,
                    "TEST 9 - the lease owner is 7 * 10^7 + the pid ($pid)");
 }]



=== TEST 10: the server stops under a running nginx: health DOWN with the cause, a command 503
--- init
::pg_wait_connected(1);
::pg('halt');
--- request eval
["GET /actuator/health", ::create('d1', 'order-service', 'ok'), "GET /actuator/health/db"]
--- more_headers eval
["", ::h('d1'), ""]
--- error_code eval
[503, 503, 503]
--- response_headers eval
["Wow-Error-Code: ServiceUnavailable", "Wow-Error-Code: ServiceUnavailable",
 "Wow-Error-Code: ServiceUnavailable"]
--- response_body_like eval
[$::Down, $::Refused, qr/\A\{"status":"DOWN","details":\{"error":"PostgreSQL [^"]* is unreachable: /]



=== TEST 11: the server restarted under a running nginx: the worker reconnects by itself
--- init
::pg_wait_connected(1);
::pg('restart');
--- request eval
["GET /actuator/health", ::create('r1', 'order-service', 'ok'), ::state('r1')]
--- more_headers eval
["", ::h('r1'), ""]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[$::Up, qr/"aggregateId":"r1","aggregateVersion":1,/, qr/\A\{"id":"r1",/]



=== TEST 12: stopped, then started again, in one nginx: DOWN and 503, then UP and 200, no reload
--- request eval
[::create('c1', 'order-service', 'ok')]
--- more_headers eval
[::h('c1')]
--- poll eval
[sub { ::pg('halt') },
 ["GET /actuator/health", $::Down, undef, 503],
 [::create('c2', 'order-service', 'ok'), $::Refused, ::h('c2'), 503],
 sub { ::pg('start') },
 ["GET /actuator/health", $::Up, undef, 200],
 [::create('c2', 'order-service', 'ok'), qr/"aggregateId":"c2","aggregateVersion":1,/, ::h('c2'), 200],
 [::state('c1'), qr/\A\{"id":"c1",/, undef, 200]]



=== TEST 13: a worker started while the server is down serves 503 and connects once it is back
--- two_workers
--- init
::pg_wait_connected(2);
--- request eval
[::create('h1', 'order-service', 'ok')]
--- more_headers eval
[::h('h1')]
--- poll eval
[sub { ::pg('halt') },
 'HUP',
 ["GET /actuator/health", qr/\A\{"status":"DOWN","components":\{"db":\{"status":"DOWN","details":\{"error":"connecting to PostgreSQL (?:[^"\\]|\\.)+"\}\}/, undef, 503],
 [::create('h2', 'order-service', 'ok'), qr/"errorCode":"ServiceUnavailable"/, ::h('h2'), 503],
 sub { ::pg('start') },
 ["GET /actuator/health", $::Up, undef, 200],
 [::create('h2', 'order-service', 'ok'), qr/"aggregateId":"h2","aggregateVersion":1,/, ::h('h2'), 200]]
--- no_error_log eval
["[alert]", "[crit]", qr/\[emerg\] (?!.*compensation_store "PostgreSQL [^"]+" is not usable: connecting)/]



=== TEST 14: the read thread cannot connect (the server refuses the module's role): a read answers 503 ServiceUnavailable
--- init
::pg_cut_reads();
--- request eval
::state('nowhere')
--- error_code: 503
--- response_headers
Wow-Error-Code: ServiceUnavailable
--- response_body_like eval
$::ReadRefused
--- error_log eval
qr/\[error\] .*compensation: opening the read thread's connection to "PostgreSQL compensation\@[^"]*" failed, reads answer 503 until it opens: .*too many connections for role "compensation"/



=== TEST 15: the read thread's connection lost under a running nginx: reads 503 while it cannot connect, commands 200 (the store thread's connection), then reads 200 again, no reload
--- request eval
[::create('q2', 'order-service', 'ok')]
--- more_headers eval
[::h('q2')]
--- poll eval
[[::state('q2'), qr/\A\{"id":"q2",/, undef, 200],
 sub { ::pg_cut_reads() },
 [::state('q2'), $::ReadRefused, undef, 503],
 ["GET /execution_failed/q2/snapshot", $::ReadRefused, undef, 503],
 [::create('q3', 'order-service', 'ok'), qr/"aggregateId":"q3","aggregateVersion":1,/, ::h('q3'), 200],
 sub { ::pg_uncut_reads() },
 [::state('q2'), qr/\A\{"id":"q2",/, undef, 200],
 ["GET /execution_failed/q3/snapshot", qr/"aggregateId":"q3","version":1,/, undef, 200]]
--- error_log eval
[qr/\[error\] .*compensation: reading the state failed: PostgreSQL compensation\@[^ ]* is unreachable: .*too many connections for role "compensation"/]



=== TEST 16: the Prometheus metrics on PostgreSQL: the counts from the database, no file size gauges
--- request eval
[::create('m1', 'order-service', 'ok'), "GET /actuator/prometheus"]
--- more_headers eval
[::h('m1'), ""]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"aggregateId":"m1","aggregateVersion":1,/,
 qr/^compensation_executions\{status="FAILED"\} [1-9]\d*$/m]
--- response_body_unlike eval
["", qr/compensation_store_(?:wal_)?size_bytes/]
