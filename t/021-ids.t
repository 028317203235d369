# Ids (spec 6.4): GET /wow/id/global answers a CosId radix-62 id as
# text/plain; ids are time-ordered; "?count=N" (our extension) answers N.
# Machine ids: the worker's pid by default, or node * 1024 + a slot leased
# in shared memory with "compensation_machine_id <node>".
#
# Uniqueness across workers, 1,000,000 ids: one client request fetches a
# page whose SSI includes issue 100 subrequests at once, each proxied (a new
# upstream connection each) to a "reuseport" listener of this nginx, so the
# kernel spreads them over both workers, which draw 10,000 ids each
# concurrently.  The page is checked for 1,000,000 well-formed ids, no
# duplicate, ids of both workers' machine ids, each batch strictly
# increasing.  It runs in a few seconds.

use Test::Nginx::Socket 'no_plan';
use Compensation::Harness;    # ::log_has

no_root_location();
no_shuffle();
master_on();
workers(2);
worker_connections(1024);

our $HttpConfig = <<'_EOC_';
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
_EOC_

our $Config = <<'_EOC_';
    location / {
        compensation_api;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', $Config) unless defined $block->config;
    $block->set_value('no_error_log', "[error]\n[alert]\n[crit]\n")
        unless defined $block->no_error_log;
});

my @D = ('0' .. '9', 'A' .. 'Z', 'a' .. 'z');
my %V; @V{@D} = (0 .. 61);
sub dec { my $n = 0; $n = $n * 62 + $V{$_} for split //, shift; $n }

# checks a page of ids (one per line); returns '' or the first problem
our %MACHINES;
sub check_ids {
    my ($body, $expect, $batch) = @_;
    my @ids = split /\n+/, $body;
    return "got " . scalar(@ids) . " ids, expected $expect" if @ids != $expect;
    my %seen;
    %MACHINES = ();
    for my $i (0 .. $#ids) {
        my $id = $ids[$i];
        return "malformed id '$id' at $i" unless $id =~ /\A[0-9A-Za-z]{15}\z/;
        return "duplicate id $id" if $seen{$id}++;
        $MACHINES{dec(substr $id, 8, 4)}++;
        return "not increasing at $i: $ids[$i-1] then $id"
            if $i % $batch && $ids[$i-1] ge $id;
    }
    return '';
}

our $NOW = time() * 1000;

# each id is later than the one before it (across requests)
our $LAST = '';
sub newer { my $id = shift; my $ok = $id gt $LAST; $LAST = $id; $ok }

# a batch of 10,000: well-formed, unique, increasing, after the last id
sub batch_ok {
    my $body = shift;
    my $e = check_ids($body, 10000, 10000);
    Test::More::diag($e) if $e;
    return $e eq '' && newer((split /\n/, $body)[0]);
}

run_tests();

__DATA__

=== TEST 1: one id, text/plain, 15 radix-62 characters, timestamp now, machine id the pid of a live worker
--- request
GET /wow/id/global
--- response_headers
Content-Type: text/plain
Content-Length: 15
Wow-Error-Code: Ok
--- response_body_like eval
qr/\A([0-9A-Za-z]{8})([0-9A-Za-z]{4})[0-9A-Za-z]{3}\z(?(?{ abs(::dec($1) - $::NOW) < 60000 && kill(0, ::dec($2)) })|(*FAIL))/



=== TEST 2: ids are strictly increasing across requests and within a batch; count bounds
--- request eval
["GET /wow/id/global", "GET /wow/id/global", "GET /wow/id/global?count=10000",
 "GET /wow/id/global?count=0", "GET /wow/id/global?count=10001", "GET /wow/id/global?count=x",
 "GET /wow/id/global?count=", "POST /wow/id/global"]
--- error_code eval
[200, 200, 200, 400, 400, 400, 400, 405]
--- response_body_like eval
[qr/\A([0-9A-Za-z]{15})\z(?(?{ ::newer($1) })|(*FAIL))/,
 qr/\A([0-9A-Za-z]{15})\z(?(?{ ::newer($1) })|(*FAIL))/,
 qr/\A(.*)\z(?(?{ ::batch_ok($1) })|(*FAIL))/s,
 (qr/\A\{"errorCode":"IllegalArgument","errorMsg":"count must be an integer from 1 to 10000.","succeeded":false\}\z/) x 4,
 qr/"errorCode":"MethodNotAllowed"/]



=== TEST 3: compensation_machine_id 5: machine ids are 5 * 1024 + a slot of this nginx
--- skip_eval: 1: $ENV{TEST_NGINX_USE_VALGRIND}
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_machine_id 5;
--- request eval
["GET /wow/id/global", "GET /actuator/cosid/cosid"]
--- response_body_like eval
[::log_has(qr/\A[0-9A-Za-z]{8}([0-9A-Za-z]{4})[0-9A-Za-z]{3}\z(?(?{ ::dec($1) == 5120 || ::dec($1) == 5121 })|(*FAIL))/,
           'CosId machine id 5120 (slot 0, node 5)',
           'CosId machine id 5121 (slot 1, node 5)'),
 qr/"machineId":512[01],/]



=== TEST 4: invalid node ids are refused at startup
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_machine_id 14430;
--- must_die
--- error_log
invalid node id "14430": must be 0 to 14429



=== TEST 5: a duplicate compensation_machine_id is refused
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_machine_id 1;
    compensation_machine_id 2;
--- must_die
--- error_log
"compensation_machine_id" directive is duplicate



=== TEST 6: 1,000,000 ids drawn concurrently by two workers (100 x 10,000 through SSI and a reuseport listener): all unique
--- skip_eval: 1: $ENV{TEST_NGINX_USE_VALGRIND}
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 reuseport;
        location / {
            compensation_api;
        }
    }
--- config
    location = /fan.html {
        ssi on;
        ssi_types text/html;
        root html;
    }
    location /ids/ {
        rewrite ^ /wow/id/global?count=10000 break;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        proxy_buffers 64 16k;
    }
--- user_files eval
[["fan.html", CORE::join('', map { "<!--# include virtual=\"/ids/$_\" -->\n" } 1 .. 100)]]
--- request
GET /fan.html
--- timeout: 60
--- response_body_like eval
qr/\A(.*)\z(?(?{ my $e = ::check_ids($1, 1000000, 10000); Test::More::diag($e) if $e; $e eq '' && keys(%::MACHINES) == 2 })|(*FAIL))/s
