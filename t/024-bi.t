# /wow/bi/script (spec 6.5): a ClickHouse script for the command and state
# topics of execution_failed.  Every script is run through a small SQL
# checker: it splits statements at ';' outside quotes, identifiers and
# comments, and requires each to be a known ClickHouse DDL statement with
# balanced parentheses, closed quotes, only the expected objects, and every
# table a view reads or writes created earlier in the script.

use Test::Nginx::Socket 'no_plan';
use JSON::PP ();

no_root_location();
no_shuffle();

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

our $QUIET = 0;
sub fail_with { Test::More::diag(shift) unless $QUIET; return 0 }

# the checker expects the default cluster macro: rename the cluster 'bi'
sub named_cluster { my $b = shift; $b =~ s/'bi'/'{cluster}'/g; $b }

# statements of a script, comments removed; dies on unbalanced input
sub split_sql {
    my $sql = shift;
    my (@st, $cur, $depth, $q);
    $cur = ''; $depth = 0;
    my @c = split //, $sql;
    for (my $i = 0; $i < @c; $i++) {
        my $ch = $c[$i];
        if ($q) {
            $cur .= $ch;
            if ($ch eq '\\') { $cur .= $c[++$i]; next }
            $q = undef if $ch eq $q;
            next;
        }
        if ($ch eq '-' && ($c[$i + 1] // '') eq '-') {
            $i++ while $i < @c && $c[$i] ne "\n";
            next;
        }
        if ($ch eq "'" || $ch eq '"' || $ch eq '`') { $q = $ch; $cur .= $ch; next }
        if ($ch eq '(') { $depth++ }
        if ($ch eq ')') { die "unbalanced ')' in: $cur\n" if --$depth < 0 }
        if ($ch eq ';') {
            die "';' inside parentheses in: $cur\n" if $depth;
            push @st, $cur =~ s/^\s+|\s+$//gr;
            $cur = '';
            next;
        }
        $cur .= $ch;
    }
    die "unclosed quote\n" if $q;
    die "unbalanced parentheses\n" if $depth;
    die "text after the last ';': $cur\n" if $cur =~ /\S/;
    return grep { length } @st;
}

# checks a script; %o: cluster (bool), header (MAP|STRING), reset (bool),
# db, consumer (database names)
sub script_ok {
    my ($sql, %o) = @_;
    my @st = eval { split_sql($sql) };
    return fail_with("empty script") if !$@ && !@st;
    return fail_with("split: $@") if $@;
    my ($db, $cdb) = ($o{db} // 'bi_db', $o{consumer} // 'bi_db_consumer');
    my $t = 'compensation_execution_failed';
    my %created;
    my $drops = 0;
    for my $s (@st) {
        return fail_with("not DDL: $s")
            unless $s =~ /\A(?:CREATE (?:DATABASE|TABLE|MATERIALIZED VIEW|VIEW) IF NOT EXISTS|DROP (?:VIEW|TABLE) IF EXISTS) /;
        return fail_with("ON CLUSTER mismatch: $s")
            if !!$o{cluster} != !!($s =~ / ON CLUSTER '\{cluster\}'/);
        if ($s =~ /\ADROP (?:VIEW|TABLE) IF EXISTS (\w+)\.(\w+)/) {
            return fail_with("DROP after CREATE: $s") if %created;
            $drops++;
            next;
        }
        my ($name) = $s =~ /\ACREATE (?:DATABASE|TABLE|MATERIALIZED VIEW|VIEW) IF NOT EXISTS (\w+(?:\.\w+)?)/
            or return fail_with("no name: $s");
        my ($d) = split /\./, $name;
        return fail_with("unknown database in $name") if $name =~ /\./ && $d ne $db && $d ne $cdb;
        for my $ref ($s =~ /\b(?:FROM|TO|AS) ((?:$db|$cdb)\.\w+)/g) {
            return fail_with("$name uses $ref before it exists") unless $created{$ref};
        }
        if ($s =~ /\ACREATE TABLE/ && $s !~ /\bAS $db\.\w+\s*(?:ENGINE|\z)/) {
            return fail_with("no columns in $name") unless $s =~ /\(\s*\w+ /;
        }
        return fail_with("no ENGINE for $name") if $s =~ /\ACREATE TABLE/ && $s !~ /ENGINE = \w+\(/;
        $created{$name} = 1;
    }
    my @want = ("$db.${t}_command", "$db.${t}_state", "$db.${t}_state_last",
                "$db.${t}_state_last_root", "$cdb.${t}_command_queue",
                "$cdb.${t}_command_consumer", "$cdb.${t}_state_queue",
                "$cdb.${t}_state_consumer", "$db.${t}_state_last_consumer");
    push @want, "$db.${t}_command_local", "$db.${t}_state_local" if $o{cluster};
    for (@want) { return fail_with("$_ not created") unless $created{$_} }
    return fail_with("RESET without DROPs") if $o{reset} && !$drops;
    return fail_with("DEPLOY with DROPs") if !$o{reset} && $drops;
    my $h = ($o{header} // 'MAP') eq 'MAP' ? 'header Map\(String, String\)' : 'header String';
    return fail_with("header type is not $h") unless $sql =~ /^\s+$h,$/m;
    return 1;
}

sub json_ok {
    my ($body, %o) = @_;
    my $d = eval { JSON::PP->new->decode($body) } or return fail_with("not JSON");
    return fail_with("destructive") if !!$d->{destructive} != !!$o{reset};
    return fail_with("diagnostics") unless ref $d->{diagnostics} eq 'ARRAY';
    return script_ok($d->{script}, %o);
}

# the checker itself must reject broken scripts
sub checker_rejects {
    my @bad = ("CREATE TABLE IF NOT EXISTS bi_db.x (a String", "CREATE DATABASE IF NOT EXISTS bi_db",
               "SELECT 1;", "CREATE TABLE IF NOT EXISTS bi_db.x (a String) ENGINE = Memory(); ')");
    local $QUIET = 1;
    for (@bad) { return 0 if script_ok($_) }
    return 1;
}

run_tests();

__DATA__

=== TEST 1: GET: the seed-era form, application/sql, header as MAP by default, cluster topology
--- request
GET /wow/bi/script
--- response_headers
Content-Type: application/sql
Wow-Error-Code: Ok
Wow-BI-Diagnostic-Count: 0
--- response_body_like eval
qr/\A(.*)\z(?(?{ ::checker_rejects() && ::script_ok($1, cluster => 1) })|(*FAIL))/s



=== TEST 2: the header-type option: STRING, case-insensitive; MAP; invalid
--- request eval
["GET /wow/bi/script", "GET /wow/bi/script", "GET /wow/bi/script"]
--- more_headers eval
["Wow-BI-Header-Sql-Type: string\nAccept: application/sql", "Wow-BI-Header-Sql-Type: MAP", "Wow-BI-Header-Sql-Type: JSON"]
--- error_code eval
[200, 200, 400]
--- response_body_like eval
[qr/\A(.*)\z(?(?{ ::script_ok($1, cluster => 1, header => 'STRING') })|(*FAIL))/s,
 qr/\A(.*)\z(?(?{ ::script_ok($1, cluster => 1, header => 'MAP') })|(*FAIL))/s,
 qr/"bindingErrors":\[\{"name":"Wow-BI-Header-Sql-Type","msg":"must be MAP or STRING"\}\]/]



=== TEST 3: POST: standalone topology, own databases, time zone, Kafka; JSON answer; empty body = defaults
--- request eval
["POST /wow/bi/script\n{\"operation\":\"DEPLOY\",\"database\":\"dw\",\"consumerDatabase\":\"dw_in\",\"topology\":{\"mode\":\"STANDALONE\"},\"timezone\":\"Asia/Shanghai\",\"kafkaBootstrapServers\":\"k1:9092,k2:9092\",\"topicPrefix\":\"prod.wow.\",\"maxExpansionDepth\":3,\"unsupportedTypeStrategy\":\"RAW_JSON\"}",
 "POST /wow/bi/script\n{\"topology\":{\"mode\":\"CLUSTER\",\"cluster\":{\"name\":\"bi\",\"installation\":\"ch1\"}}}",
 "POST /wow/bi/script"]
--- more_headers eval
["Content-Type: application/json", "Content-Type: application/json\nAccept: application/json\nWow-BI-Header-Sql-Type: STRING", ""]
--- response_body_like eval
[qr/\A(?=.*DateTime64\(3, 'Asia\/Shanghai'\))(?=.*Kafka\('k1:9092,k2:9092', 'prod\.wow\.compensation-service\.execution_failed\.command')(.*)\z(?(?{ ::script_ok($1, db => 'dw', consumer => 'dw_in') })|(*FAIL))/s,
 qr/\A(?=.*ON CLUSTER 'bi')(?=.*\/clickhouse\/ch1\/bi\/tables)(.*)\z(?(?{ ::json_ok(::named_cluster($1), cluster => 1, header => 'STRING') })|(*FAIL))/s,
 qr/\A(.*)\z(?(?{ ::script_ok($1, cluster => 1) })|(*FAIL))/s]



=== TEST 4: RESET drops first, needs replayFromEarliestConfirmed; DEPLOY forbids it; destructive in JSON
--- request eval
["POST /wow/bi/script\n{\"operation\":\"reset\",\"replayFromEarliestConfirmed\":true}",
 "POST /wow/bi/script\n{\"operation\":\"RESET\",\"replayFromEarliestConfirmed\":true}",
 "POST /wow/bi/script\n{\"operation\":\"RESET\"}",
 "POST /wow/bi/script\n{\"operation\":\"DEPLOY\",\"replayFromEarliestConfirmed\":true}"]
--- more_headers eval
["Content-Type: application/json", "Content-Type: application/json\nAccept: application/json",
 "Content-Type: application/json", "Content-Type: application/json"]
--- error_code eval
[200, 200, 400, 400]
--- response_body_like eval
[qr/\A(?=.*'clickhouse_compensation_execution_failed_state_consumer_\d{13}')(.*)\z(?(?{ ::script_ok($1, cluster => 1, reset => 1) })|(*FAIL))/s,
 qr/\A(.*)\z(?(?{ ::json_ok($1, cluster => 1, reset => 1) })|(*FAIL))/s,
 qr/"bindingErrors":\[\{"name":"replayFromEarliestConfirmed","msg":"must be true for RESET/,
 qr/"bindingErrors":\[\{"name":"replayFromEarliestConfirmed","msg":"is only allowed with RESET"\}\]/]



=== TEST 5: hostile options never reach the script: each bad field is named
--- request eval
["POST /wow/bi/script\n{\"operation\":\"DROP\",\"database\":\"x; DROP DATABASE y\",\"consumerDatabase\":5,\"topology\":{\"mode\":\"MESH\",\"cluster\":{\"name\":\"a'b\"}},\"timezone\":\"UTC'\",\"kafkaBootstrapServers\":\"\",\"topicPrefix\":\"a b\",\"maxExpansionDepth\":0,\"unsupportedTypeStrategy\":\"IGNORE\"}",
 "POST /wow/bi/script\n{\"database\":\"x; DROP DATABASE y\",\"consumerDatabase\":\"bi\",\"topology\":{\"cluster\":{\"name\":\"a'b\"}},\"timezone\":\"UTC'\",\"kafkaBootstrapServers\":\"\",\"topicPrefix\":\"a b\"}",
 "POST /wow/bi/script\n{\"database\":\"bi\",\"consumerDatabase\":\"bi\"}",
 "POST /wow/bi/script\n[1]", "POST /wow/bi/script\n{\"x\":", "POST /wow/bi/script\n{}",
 "GET /wow/bi/script", "PUT /wow/bi/script"]
--- more_headers eval
[("Content-Type: application/json") x 5, "Content-Type: text/plain", "Accept: text/html", ""]
--- error_code eval
[400, 400, 400, 400, 400, 415, 406, 405]
--- response_body_like eval
[qr/"bindingErrors":\[\{"name":"operation".*\{"name":"consumerDatabase".*\{"name":"topology.mode".*\{"name":"maxExpansionDepth".*\{"name":"unsupportedTypeStrategy"/,
 qr/"bindingErrors":\[\{"name":"database".*\{"name":"topology.cluster.name".*\{"name":"timezone".*\{"name":"kafkaBootstrapServers".*\{"name":"topicPrefix"/,
 qr/"bindingErrors":\[\{"name":"consumerDatabase","msg":"must differ from database"\}\]/,
 qr/"bindingErrors":\[\{"name":"body","msg":"must be a JSON object"\}\]/,
 qr/"bindingErrors":\[\{"name":"body"/,
 qr/"errorCode":"UnsupportedMediaType"/, qr/"errorCode":"NotAcceptable"/, qr/"errorCode":"MethodNotAllowed"/]
