# GET /v3/api-docs: an OpenAPI 3 document generated from the router's own
# route table.  The test reads that table from the C source
# (src/ngx_http_compensation_router.c) and requires the document to have
# exactly its (method, path) pairs, so neither can drift from the other.

use Test::Nginx::Socket 'no_plan';
use JSON::PP ();
use FindBin ();

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

# (method, path) of every entry of ngx_http_compensation_routes[]
sub table_routes {
    my $file = "$FindBin::Bin/../src/ngx_http_compensation_router.c";
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    my $src = <$fh>;
    my ($table) = $src =~ /ngx_http_compensation_routes\[\]\s*=\s*\{(.*?)\n\};/s
        or die "no route table in $file";
    my @r;
    while ($table =~ /(?:\b(?:CMD|GLOBAL)\(|\{)\s*NGX_HTTP_(GET|POST|PUT|DELETE),\s*"([^"]+)"/g) {
        push @r, lc($1) . ' ' . ($2 =~ s/\{\*/{/gr);
    }
    return @r;
}

our @ROUTES = table_routes();

sub doc_ok {
    my ($body, $prefix) = @_;
    my $doc = eval { JSON::PP->new->decode($body) };
    return fail_with("not JSON: $@") unless $doc;
    return fail_with("openapi $doc->{openapi}") unless ($doc->{openapi} // '') =~ /^3\./;
    return fail_with("server") unless $doc->{servers}[0]{url} eq $prefix;
    my %want = map { $_ => 1 } @ROUTES;
    my %got;
    for my $path (keys %{ $doc->{paths} }) {
        for my $m (keys %{ $doc->{paths}{$path} }) {
            my $op = $doc->{paths}{$path}{$m};
            $got{"$m $path"} = 1;
            return fail_with("$m $path: no summary/operationId/responses")
                unless $op->{summary} && $op->{operationId} && $op->{responses}{200};
            my @vars = $path =~ /\{(\w+)\}/g;
            my %params = map { $_->{name} => $_->{in} } @{ $op->{parameters} };
            for (@vars) {
                return fail_with("$m $path: path parameter $_ missing")
                    unless ($params{$_} // '') eq 'path';
            }
        }
    }
    my @missing = grep { !$got{$_} } sort keys %want;
    my @extra = grep { !$want{$_} } sort keys %got;
    return fail_with("missing from the document: @missing") if @missing;
    return fail_with("not in the route table: @extra") if @extra;
    return fail_with("only " . scalar(@ROUTES) . " routes parsed") if @ROUTES < 30;
    my %ids;
    for my $path (keys %{ $doc->{paths} }) {
        for my $op (values %{ $doc->{paths}{$path} }) {
            return fail_with("duplicate operationId $op->{operationId}")
                if $ids{$op->{operationId}}++;
        }
    }
    return 1;
}

sub fail_with { Test::More::diag(shift); return 0 }

run_tests();

__DATA__

=== TEST 1: every route of the table is in the document, and nothing else
--- request
GET /v3/api-docs
--- response_headers
Content-Type: application/json
Wow-Error-Code: Ok
--- response_body_like eval
qr/\A(.*)\z(?(?{ ::doc_ok($1, '\/') })|(*FAIL))/s



=== TEST 2: under a prefix the server URL is the prefix; commands carry their operation ids and headers
--- config
    location /compensation/ {
        compensation_api;
    }
--- request eval
[("GET /compensation/v3/api-docs") x 4]
--- response_body_like eval
[qr/\A(.*)\z(?(?{ ::doc_ok($1, '\/compensation') })|(*FAIL))/s,
 qr/"operationId":"compensation\.execution_failed\.prepare_compensation"/,
 qr/"\/actuator\/health\/\{path\}":\{"get":/,
 qr/"\/wow\/command\/send":\{"post":\{[^}]*"operationId":"post_wow_command_send","parameters":\[\{"name":"Command-Type","in":"header","required":true/]



=== TEST 3: 406 for a non-JSON Accept, 405 for POST
--- request eval
["GET /v3/api-docs", "POST /v3/api-docs"]
--- more_headers eval
["Accept: text/html", ""]
--- error_code eval
[406, 405]
--- response_body_like eval
[qr/"errorCode":"NotAcceptable"/, qr/"errorCode":"MethodNotAllowed"/]
