# The shared setup of the query suites (t/030-031): the default config,
# the block preprocessor and the seeding and matching helpers.  Loaded
# with "use Compensation::Query;" after "use Test::Nginx::Socket".

package main;

use strict;
use warnings;
use JSON::PP ();

our $HttpConfig = <<'_EOC_';
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
_EOC_

our $Config = <<'_EOC_';
    location / {
        compensation_api;
    }
_EOC_

Test::Nginx::Socket::add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', $Config) unless defined $block->config;
    $block->set_value('no_error_log', "[error]\n[alert]\n[crit]\n")
        unless defined $block->no_error_log;
});

our $J = JSON::PP->new->canonical(0);

sub create {
    my ($id, %o) = @_;
    my $body = {
        eventId => { id => "ev-$id", aggregateId => { contextName => 'order-service',
            aggregateName => 'order', aggregateId => "order-$id", tenantId => '(0)' },
            version => 1 },
        function => { functionKind => 'EVENT', contextName => 'order-service',
            processorName => $o{processor} // 'OrderProjector', name => 'onOrderCreated' },
        error => { errorCode => 'BadRequest', errorMsg => 'boom',
            stackTrace => $o{stack} // 'java.lang.IllegalStateException: boom',
            ($o{binding} ? (bindingErrors => $o{binding}) : ()) },
        executeAt => 1719800000000,
    };
    return ["POST /execution_failed/create_execution_failed\n" . $J->encode($body),
            "Content-Type: application/json\nCommand-Aggregate-Id: $id"];
}

our @SEED = (
    create('q1', stack => 'Java.Lang.Boom'),
    create('q2', processor => 'PaymentSaga'),
    ["PUT /execution_failed/q2/prepare_compensation", ""],
    create('q3'),
    ["PUT /execution_failed/q3/prepare_compensation", ""],
    ["PUT /execution_failed/q3/apply_execution_success\n{\"executeAt\":1719800001000}",
     "Content-Type: application/json"],
    create('q4'),
    ["PUT /execution_failed/q4/mark_recoverable\n{\"recoverable\":\"UNRECOVERABLE\"}",
     "Content-Type: application/json"],
    create('q5', binding => [{ name => 'amount', msg => 'must be positive' }]),
    create('q6'),
    ["DELETE /execution_failed/q6", ""],
);

# seeds, then the queries: [path, body] pairs (JSON bodies)
sub reqs {
    my @q = @_;
    return [ (map { $_->[0] } @SEED),
             map { "POST /execution_failed/$_->[0]\n$_->[1]" } @q ];
}

sub heads {
    my ($n, $h) = @_;
    return [ (map { $_->[1] } @SEED),
             map { "Content-Type: application/json" . ($h ? "\n$h" : '') } 1 .. $n ];
}

sub codes { return [ (map { 200 } @SEED), @_ ] }
sub bodies { return [ (map { qr/.*/s } @SEED), @_ ] }
sub body_list { return [ (map { undef } @SEED), @_ ] }

# a list query returning the sorted ids of a condition
sub ids_query {
    my ($cond) = @_;
    return ['snapshot/list', '{"condition":' . $cond
        . ',"projection":{"include":["aggregateId"]},'
        . '"sort":[{"field":"aggregateId","direction":"ASC"}],"limit":100}'];
}

sub ids_body {
    return '[' . join(',', map { "{\"aggregateId\":\"$_\"}" } @_) . ']';
}

# blocks: [condition, expected ids...]

1;
