# compensation_store naming a PostgreSQL database (a postgresql:// or
# postgres:// URI, or libpq's keyword form): the PostgreSQL store exists
# (src/cf_pg_*.c, docs/postgresql.md) but nginx does not use it yet, so the
# configuration is refused with a message that says so, and never quotes
# the value (it may hold a password).

use Test::Nginx::Socket 'no_plan';

no_root_location();
no_shuffle();

our $Config = <<'_EOC_';
    location / {
        compensation_api;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('config', $Config) unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: a postgresql:// URI is refused, the password never logged
--- http_config
    compensation_store postgresql://compensation:S3cretPw@127.0.0.1:5432/compensation;
--- must_die
--- error_log
compensation_store names a PostgreSQL database
the PostgreSQL store is not wired into nginx yet
--- no_error_log
S3cretPw



=== TEST 2: a postgres:// URI is refused
--- http_config
    compensation_store postgres:///compensation?host=/run/postgresql;
--- must_die
--- error_log
compensation_store names a PostgreSQL database



=== TEST 3: libpq's keyword form is refused, the password never logged
--- http_config
    compensation_store "host=/run/postgresql dbname=compensation password=Kw0rdPw";
--- must_die
--- error_log
compensation_store names a PostgreSQL database
--- no_error_log
Kw0rdPw



=== TEST 4: a file path still opens the SQLite store
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/dbname=c.db;
--- request
GET /actuator/health
--- error_code: 200
