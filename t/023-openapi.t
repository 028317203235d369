# GET /v3/api-docs: an OpenAPI 3.1 document of every route.  The test reads
# the route table from the C source (src/ngx_http_compensation_router.c) and
# requires the document to have exactly its (method, path) pairs, so neither
# can drift from the other; the compiled-in asset
# (src/ngx_http_compensation_openapi.json) must describe no route that is not
# served.  It checks what Wow's client generator needs to resolve the
# aggregate, and runs the OpenAPI validator (test/openapi/validate.mjs).

use Test::Nginx::Socket 'no_plan';
use JSON::PP ();
use FindBin ();
use File::Temp ();
use File::Spec ();

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

# the command routes of the table: their operation ids
sub table_commands {
    my $file = "$FindBin::Bin/../src/ngx_http_compensation_router.c";
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    my $src = <$fh>;
    my @c;
    while ($src =~ /\bCMD\(NGX_HTTP_(\w+),\s*"([^"]+)"/g) {
        push @c, lc($1) . " $2";
    }
    return @c;
}

our @COMMANDS = table_commands();

sub asset {
    my $file = "$FindBin::Bin/../src/ngx_http_compensation_openapi.json";
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    return JSON::PP->new->decode(scalar <$fh>);
}

# "#/components/x/y" of the document, or undef
sub deref {
    my ($doc, $node) = @_;
    return $node unless ref $node eq 'HASH' && defined $node->{'$ref'};
    my ($kind, $name) = $node->{'$ref'} =~ m{^#/components/([^/]+)/(.+)$}
        or return undef;
    return $doc->{components}{$kind}{$name};
}

sub doc_ok {
    my ($body, $prefix) = @_;
    my $doc = eval { JSON::PP->new->decode($body) };
    return fail_with("not JSON: $@") unless $doc;
    return fail_with("openapi $doc->{openapi}") unless ($doc->{openapi} // '') =~ /^3\.1\./;
    return fail_with("server") unless $doc->{servers}[0]{url} eq $prefix;
    my %want = map { $_ => 1 } @ROUTES;
    my %got;
    for my $path (keys %{ $doc->{paths} }) {
        for my $m (keys %{ $doc->{paths}{$path} }) {
            my $op = $doc->{paths}{$path}{$m};
            $got{"$m $path"} = 1;
            return fail_with("$m $path: no summary/operationId/responses")
                unless $op->{summary} && $op->{operationId}
                    && grep { /^2\d\d$/ } keys %{ $op->{responses} // {} };
            my @vars = $path =~ /\{(\w+)\}/g;
            my %params;
            for my $p (@{ $op->{parameters} // [] }) {
                my $d = deref($doc, $p)
                    or return fail_with("$m $path: parameter $p->{'$ref'} unresolved");
                $params{ $d->{name} } = $d->{in};
            }
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

# the asset describes only served routes (nothing of it is silently dropped)
sub asset_ok {
    my $asset = asset();
    my %want = map { $_ => 1 } @ROUTES;
    my @dead;
    for my $path (sort keys %{ $asset->{paths} }) {
        for my $m (grep { /^(get|put|post|delete|patch)$/ } sort keys %{ $asset->{paths}{$path} }) {
            push @dead, "$m $path" unless $want{"$m $path"};
        }
    }
    return fail_with("in the asset, not routed: @dead") if @dead;
    return 1;
}

# what fetcher-generator's AggregateResolver reads (packages/generator/src/
# aggregate/aggregateResolver.ts): an aggregate tag, command operations,
# the state, the fields and the events
sub generator_ok {
    my ($body) = @_;
    my $doc = JSON::PP->new->decode($body);
    my $tag = 'compensation.execution_failed';
    return fail_with("no root tag $tag")
        unless grep { $_->{name} eq $tag } @{ $doc->{tags} };
    return fail_with("x-wow-context-alias")
        unless ($doc->{info}{'x-wow-context-alias'} // '') eq 'compensation';
    my %by_id;
    for my $path (keys %{ $doc->{paths} }) {
        for my $m (keys %{ $doc->{paths}{$path} }) {
            my $op = $doc->{paths}{$path}{$m};
            $by_id{ $op->{operationId} } = $op;
        }
    }
    # every command route: 200 is wow.CommandOk, a body $ref'ing a schema
    for my $c (@COMMANDS) {
        my ($m, $path) = split / /, $c, 2;
        my $op = $doc->{paths}{$path}{$m} or return fail_with("no $c");
        return fail_with("$c: operationId $op->{operationId}")
            unless $op->{operationId} =~ /^\Q$tag\E\.[a-z_]+$/;
        return fail_with("$c: tags") unless grep { $_ eq $tag } @{ $op->{tags} };
        return fail_with("$c: 200 is not wow.CommandOk")
            unless ($op->{responses}{200}{'$ref'} // '') eq '#/components/responses/wow.CommandOk';
        my $ref = $op->{requestBody}{content}{'application/json'}{schema}
            or return fail_with("$c: no request body schema");
        deref($doc, $ref) or return fail_with("$c: body schema unresolved");
        for my $code (qw(400 404 409 410)) {
            my $r = deref($doc, $op->{responses}{$code})
                or return fail_with("$c: no $code");
            my $s = $r->{content}{'application/json'}{schema};
            my @refs = map { $_->{'$ref'} // () } ($s, @{ $s->{anyOf} // [] });
            return fail_with("$c: $code is not a CommandResult")
                unless grep { $_ eq '#/components/schemas/wow.command.CommandResult' } @refs;
        }
    }
    for (qw(default_delete_aggregate default_recover_aggregate)) {
        return fail_with("no $tag.$_") unless $by_id{"$tag.$_"};
    }
    # the state
    my $single = $by_id{"$tag.snapshot_state.single"}
        or return fail_with("no snapshot_state.single");
    my $state = $single->{responses}{200}{content}{'application/json'}{schema};
    my $st = deref($doc, $state);
    return fail_with("state schema") unless $state->{'$ref'} && $st
        && $st->{properties}{retryState} && $st->{properties}{status};
    # the fields: count's requestBodies entry -> condition -> field enum
    my $count = $by_id{"$tag.snapshot.count"} or return fail_with("no snapshot.count");
    my $rb = deref($doc, $count->{requestBody});
    return fail_with("count body is not a requestBodies \$ref")
        unless $count->{requestBody}{'$ref'} && $rb;
    my $cond = deref($doc, $rb->{content}{'application/json'}{schema});
    my $fields = deref($doc, $cond->{properties}{field});
    return fail_with("fields enum")
        unless $fields && grep { $_ eq 'state.status' } @{ $fields->{enum} };
    # the events
    my $list = $by_id{"$tag.event.list_query"} or return fail_with("no event.list_query");
    my $stream = deref($doc, $list->{responses}{200}{content}{'application/json'}{schema}{items});
    my @events = @{ $stream->{properties}{body}{items}{anyOf} // [] };
    return fail_with("only " . @events . " events") if @events < 7;
    for my $e (@events) {
        return fail_with("event without title/name/body")
            unless $e->{title} && $e->{properties}{name}{const}
                && deref($doc, $e->{properties}{body});
    }
    return 1;
}

# the validator (test/openapi/validate.mjs, installed by make deps)
sub valid_openapi {
    my ($body) = @_;
    # absolute, from this file: the validator's place whatever the cwd of
    # the harness that runs this (in-tree or openresty's Test::Nginx)
    my $dir = File::Spec->catdir($FindBin::RealBin, File::Spec->updir, 'test', 'openapi');
    return fail_with("no validator in $dir/node_modules: run scripts/install-deps.sh")
        unless -d "$dir/node_modules/\@seriousme/openapi-schema-validator";
    my $tmp = File::Temp->new(SUFFIX => '.json');
    print $tmp $body;
    close $tmp;
    my $out = `cd "$dir" && node validate.mjs "$tmp" 2>&1`;
    return fail_with("validator: $out") if $? != 0 || $out !~ /^valid OpenAPI 3\.1/;
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
 qr/"\/wow\/command\/send":\{"post":\{[^}]*"operationId":"wow\.command\.send","parameters":\[\{"\$ref":"#\/components\/parameters\/wow\.Command-Type"\}/]



=== TEST 3: 406 for a non-JSON Accept, 405 for POST
--- request eval
["GET /v3/api-docs", "POST /v3/api-docs"]
--- more_headers eval
["Accept: text/html", ""]
--- error_code eval
[406, 405]
--- response_body_like eval
[qr/"errorCode":"NotAcceptable"/, qr/"errorCode":"MethodNotAllowed"/]



=== TEST 4: what Wow's client generator needs to resolve the aggregate; the asset describes only served routes
--- request
GET /v3/api-docs
--- response_body_like eval
qr/\A(.*)\z(?(?{ ::generator_ok($1) && ::asset_ok() })|(*FAIL))/s



=== TEST 5: the document is valid OpenAPI 3.1 and every $ref resolves (test/openapi/validate.mjs)
--- request
GET /v3/api-docs
--- response_body_like eval
qr/\A(.*)\z(?(?{ ::valid_openapi($1) })|(*FAIL))/s



=== TEST 6: a location prefix that needs escaping in JSON stays valid JSON
--- config
    location /a"b/ {
        compensation_api;
    }
--- request
GET /a%22b/v3/api-docs
--- response_body_like eval
qr/\A(.*)\z(?(?{ ::doc_ok($1, '\/a"b') })|(*FAIL))/s
