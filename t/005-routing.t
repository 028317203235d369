# Routing (spec 3.1): JSON 404 for unknown paths, 405 with Allow for a known
# path with another method, HEAD, the API below a location prefix, path ids
# (length, escapes), and the configuration directives: what nginx must
# refuse to start with (--- must_die) and what it must accept.

use Test::Nginx::Socket 'no_plan';
use JSON::PP ();

no_root_location();
no_shuffle();

# Defaults for blocks that do not set these sections themselves.
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

# --- helpers (called as ::name from "eval" sections) -----------------------
#
# Bodies are built with JSON::PP; expected bodies are regexes anchored at
# both ends, so key order and every value is checked.  Checks that need
# arithmetic (the backoff relations of spec 1.4) are regex code blocks.

use re 'eval';          # the regexes built below contain code blocks
use Time::HiRes ();

our $ID15 = '[0-9A-Za-z]{15}';
our $STR  = '(?:[^"\\\\]|\\\\.)*';          # the inside of a JSON string
our $CT   = 'Content-Type: application/json';
our $DEL  = \'delete';                        # create_body: remove the key
our $ANYV = '(?:\d+|null)';                   # any aggregateVersion

our $EVENT_ID = '{"id":"0U2mSzz10001001","aggregateId":{"contextName":"order-service","aggregateName":"order","aggregateId":"0U2mSz9k0001000","tenantId":"(0)"},"version":1}';
our $FUNCTION = '{"functionKind":"EVENT","contextName":"order-service","processorName":"OrderProjector","name":"onOrderCreated"}';
our $ERROR    = '{"errorCode":"BadRequest","errorMsg":"boom","stackTrace":"java.lang.IllegalStateException: boom","succeeded":false}';

# The create command of the worked example (spec 1.4, 5.1), with overrides
# by dotted path ("retrySpec.maxRetries" => 3); $::DEL removes a key, undef
# is JSON null.
sub create_body {
    my @over = @_;
    my $b = {
        eventId => {
            id => '0U2mSzz10001001',
            aggregateId => { contextName => 'order-service',
                             aggregateName => 'order',
                             aggregateId => '0U2mSz9k0001000',
                             tenantId => '(0)' },
            version => 1,
        },
        function => { functionKind => 'EVENT', contextName => 'order-service',
                      processorName => 'OrderProjector',
                      name => 'onOrderCreated' },
        error => { errorCode => 'BadRequest', errorMsg => 'boom',
                   stackTrace => 'java.lang.IllegalStateException: boom' },
        executeAt => 1719800000000,
    };
    while (my ($path, $v) = splice @over, 0, 2) {
        my @k = split /\./, $path;
        my $last = pop @k;
        my $h = $b;
        $h = ($h->{$_} ||= {}) for @k;
        if (ref $v && $v == $DEL) { delete $h->{$last} } else { $h->{$last} = $v }
    }
    return JSON::PP->new->canonical->encode($b);
}

sub create_req { "POST /execution_failed/create_execution_failed\n" . create_body(@_) }

# {maxRetries, minBackoff, executionTimeout}
sub spec { my ($m, $b, $t) = @_; { maxRetries => $m, minBackoff => $b, executionTimeout => $t } }
sub spec_json { my ($m, $b, $t) = @_; qq'{"maxRetries":$m,"minBackoff":$b,"executionTimeout":$t}' }

sub fn_json {
    my $fn = shift;
    return '{"functionKind":"COMMAND","contextName":"wow","processorName":"SimpleCommandAggregate","name":"process"}'
        if $fn eq 'process';
    return '{"functionKind":"COMMAND","contextName":"wow","processorName":"CommandGateway","name":"send"}'
        if $fn eq 'send';
    return qq'{"functionKind":"COMMAND","contextName":"compensation-service","processorName":"ExecutionFailed","name":"$fn"}';
}

# A whole CommandResult (spec 3.3), keys in order.  agg and version are
# regex fragments; msg is literal (msg_re: a fragment); fn: a handler name,
# "process" (generic check) or "send" (gateway); fn_json: literal JSON;
# req: the literal request id (default: the command id).
sub result_re {
    my %a = (stage => 'PROCESSED', agg => 'x1', version => '\d+',
             fn => 'onCreate', code => 'Ok', msg => '', @_);
    my $fn  = defined $a{fn_json} ? $a{fn_json} : fn_json($a{fn});
    my $msg = defined $a{msg_re} ? $a{msg_re} : quotemeta $a{msg};
    my $req = defined $a{req} ? quotemeta $a{req} : '\k<cid>';
    my $re = '\A\{"id":"' . $ID15 . '","waitCommandId":"(?<cid>' . $ID15 . ')"'
        . ',"stage":"' . $a{stage} . '"'
        . ',"contextName":"compensation-service","aggregateName":"execution_failed"'
        . ',"tenantId":"\(0\)","aggregateId":"' . $a{agg} . '"'
        . ',"aggregateVersion":' . $a{version}
        . ',"requestId":"' . $req . '","commandId":"\k<cid>"'
        . ',"function":' . quotemeta($fn)
        . ',"errorCode":"' . $a{code} . '","errorMsg":"' . $msg . '"'
        . ',"result":\{\},"signalTime":\d{13}'
        . ',"succeeded":' . ($a{code} eq 'Ok' ? 'true' : 'false') . '\}\z';
    return qr/$re/;
}

# A successful command on x1 that produced version $v, handled by $fn.
sub ok_re { my ($fn, $v, @more) = @_; result_re(fn => $fn, version => $v, @more) }

# A failed command: code, literal message, function (as in result_re).
sub fail_re {
    my ($code, $msg, $fn, @more) = @_;
    result_re(code => $code, (defined $msg ? (msg => $msg) : (msg_re => $STR)),
              fn => $fn, version => $ANYV, @more);
}

# An ErrorInfo (spec 3.4) whose bindingErrors name exactly @names, in order.
sub error_re {
    my ($code, $msg_re, @names) = @_;
    $msg_re = $STR unless defined $msg_re;
    my $b = @names
        ? ',"bindingErrors":\[' . join(',', map {
              '\{"name":"' . quotemeta($_) . '","msg":"' . $STR . '"\}' } @names)
          . '\]'
        : '';
    my $re = '\A\{"errorCode":"' . $code . '","errorMsg":"' . $msg_re . '"'
             . $b . ',"succeeded":false\}\z';
    return qr/$re/;
}

sub exact { my $s = shift; return qr/\A\Q$s\E\z/ }

our %STATE_DEFAULTS = (
    id => 'x1', eventId => $EVENT_ID, function => $FUNCTION,
    error => $ERROR, executeAt => '1719800000000',
    retrySpec => '{"maxRetries":10,"minBackoff":180,"executionTimeout":120}',
    retryState => '{"retries":0,"retryAt":1719800000000,"timeoutAt":1719800120000,"nextRetryAt":1719800180000}',
    status => 'FAILED', recoverable => 'UNKNOWN',
    isBelowRetryThreshold => 'true', isRetryable => 'true');

sub _state {
    my %s = @_;
    return qq'{"id":"$s{id}","eventId":$s{eventId},"function":$s{function}'
        . qq',"error":$s{error},"executeAt":$s{executeAt}'
        . qq',"retrySpec":$s{retrySpec},"retryState":$s{retryState}'
        . qq',"status":"$s{status}","recoverable":"$s{recoverable}"'
        . qq',"isBelowRetryThreshold":$s{isBelowRetryThreshold}'
        . qq',"isRetryable":$s{isRetryable}}';
}

# The state JSON (spec 1.2) of the worked example; overrides are literal
# JSON for the named top-level fields.
sub state_json { _state(%STATE_DEFAULTS, @_) }

# The same as a regex: the defaults are literal, the overrides fragments.
sub state_re {
    my %s = ((map { $_ => quotemeta $STATE_DEFAULTS{$_} } keys %STATE_DEFAULTS), @_);
    my $re = _state(%s);
    # _state wrote literal braces/quotes around the fragments: escape them
    $re =~ s/^\{/\\{/;
    $re =~ s/\}$/\\}/;
    return qr/\A$re\z/;
}

# A retryState after a prepare (spec 1.4): retries k, retryAt = the server
# clock (within a minute of ours) or $base, nextRetryAt = retryAt +
# minBackoff*2^k s (retryAt when minBackoff is 0), timeoutAt = retryAt +
# executionTimeout s.  A regex fragment with named captures.
sub rs_re {
    my %a = @_;
    my ($k, $min, $to) = @a{qw(retries min to)};
    my $backoff = $min == 0 ? 0 : $min * 1000 * 2 ** $k;
    my $check = "\$+{na} - \$+{ra} == $backoff && \$+{ta} - \$+{ra} == " . $to * 1000;
    $check .= defined $a{base}
        ? " && \$+{ra} == $a{base}"
        : ' && abs($+{ra} - Time::HiRes::time() * 1000) < 60000';
    return '\{"retries":' . $k . ',"retryAt":(?<ra>\d+),"timeoutAt":(?<ta>\d+)'
         . ',"nextRetryAt":(?<na>\d+)\}(?(?{ ' . $check . ' })|(*FAIL))';
}

our $H = "$CT\nCommand-Aggregate-Id: x1";
our $U = '/execution_failed/x1';

run_tests();

__DATA__

=== TEST 1: an unknown path is a JSON 404 NotFound
--- request
GET /nope
--- error_code: 404
--- response_headers
Wow-Error-Code: NotFound
Content-Type: application/json
--- response_body_like eval
::error_re('NotFound')



=== TEST 2: unknown paths next to the routes are JSON 404s, and the worker survives them
--- request eval
["GET /execution_failed", "GET /execution_failed/", "PUT /execution_failed/x1/no_such_command",
 "GET /execution_failed/x1/state/", "GET /other/x1/state", "GET /execution_failed/x1/state/1/2/3/4/5/6/7/8",
 "GET /", ::create_req()]
--- more_headers eval
["", "", "", "", "", "", "", $::H]
--- error_code eval
[404, 404, 404, 404, 404, 404, 404, 200]
--- response_headers eval
[("Wow-Error-Code: NotFound") x 7, "Wow-Error-Code: Ok"]
--- response_body_like eval
[(::error_re('NotFound')) x 7, ::ok_re('onCreate', 1)]



=== TEST 3: a known path with another method is 405 MethodNotAllowed with Allow
--- request
GET /execution_failed/x1/prepare_compensation
--- error_code: 405
--- response_headers
Allow: PUT
Wow-Error-Code: MethodNotAllowed
Content-Type: application/json
--- response_body_like eval
::error_re('MethodNotAllowed')



=== TEST 4: 405 for every route, with the methods the path has in Allow; the worker survives them
--- request eval
["POST /execution_failed/x1/prepare_compensation\n{}",
 "DELETE /execution_failed/x1/recover",
 "POST /execution_failed/x1",
 "PUT /execution_failed/x1/state",
 "DELETE /execution_failed/x1/state",
 "GET /execution_failed/create_execution_failed",
 "PUT /execution_failed/x1/mark_recoverable/",
 ::create_req()]
--- more_headers eval
[$::CT, "", "", "", "", "", "", $::H]
--- error_code eval
[405, 405, 405, 405, 405, 405, 404, 200]
--- response_headers eval
["Allow: PUT\nWow-Error-Code: MethodNotAllowed", "Allow: PUT\nWow-Error-Code: MethodNotAllowed",
 "Allow: DELETE\nWow-Error-Code: MethodNotAllowed", "Allow: GET, HEAD\nWow-Error-Code: MethodNotAllowed",
 "Allow: GET, HEAD\nWow-Error-Code: MethodNotAllowed", "Allow: POST, DELETE\nWow-Error-Code: MethodNotAllowed",
 "Wow-Error-Code: NotFound", "Wow-Error-Code: Ok"]
--- response_body_like eval
[(::error_re('MethodNotAllowed')) x 6, ::error_re('NotFound'), ::ok_re('onCreate', 1)]



=== TEST 5: HEAD on the state route: the GET headers without a body
--- request eval
[::create_req(), "HEAD $::U/state", "HEAD /execution_failed/nope/state"]
--- more_headers eval
[$::H, "", ""]
--- error_code eval
[200, 200, 404]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: Ok\nContent-Type: application/json", "Wow-Error-Code: NotFound"]
--- response_body_like eval
[qr/"succeeded":true/, qr/\A\z/, qr/\A\z/]



=== TEST 6: HEAD on a command route is 405
--- request
HEAD /execution_failed/x1/prepare_compensation
--- error_code: 405
--- response_headers
Allow: PUT
Wow-Error-Code: MethodNotAllowed
--- response_body:



=== TEST 7: the state route answers JSON only: Accept text/html or text/event-stream alone is 406
--- request eval
[::create_req(), "GET $::U/state", "GET $::U/state", "GET $::U/state", "GET $::U/state"]
--- more_headers eval
[$::H, "Accept: text/html", "Accept: text/event-stream", "Accept: application/json", "Accept: text/event-stream, */*;q=0.1"]
--- error_code eval
[200, 406, 406, 200, 200]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: NotAcceptable", "Wow-Error-Code: NotAcceptable",
 "Wow-Error-Code: Ok\nContent-Type: application/json", "Wow-Error-Code: Ok\nContent-Type: application/json"]
--- response_body_like eval
[::ok_re('onCreate', 1), ::error_re('NotAcceptable'), ::error_re('NotAcceptable'),
 ::exact(::state_json()), ::exact(::state_json())]



=== TEST 8: the API below "location /compensation/": paths start with /compensation/execution_failed/
--- config
    location /compensation/ {
        compensation_api;
    }
--- request eval
["POST /compensation/execution_failed/create_execution_failed\n" . ::create_body(),
 "GET /compensation/execution_failed/x1/state",
 "PUT /compensation/execution_failed/x1/prepare_compensation",
 "DELETE /compensation/execution_failed/x1",
 "PUT /compensation/execution_failed/x1/recover",
 "GET /compensation/execution_failed/x1/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::exact(::state_json()), ::ok_re('onPrepare', 2), ::ok_re('onDelete', 3),
 ::ok_re('onRecover', 4),
 ::state_re(status => 'PREPARED', retryState => ::rs_re(retries => 1, min => 180, to => 120))]



=== TEST 9: below a prefix, unknown paths and wrong methods are JSON 404/405 too
--- config
    location /compensation/ {
        compensation_api;
    }
--- request eval
["GET /compensation/nope", "GET /compensation/execution_failed/x1/recover",
 "GET /compensation/compensation/execution_failed/x1/state"]
--- error_code eval
[404, 405, 404]
--- response_headers eval
["Wow-Error-Code: NotFound", "Allow: PUT\nWow-Error-Code: MethodNotAllowed", "Wow-Error-Code: NotFound"]
--- response_body_like eval
[::error_re('NotFound'), ::error_re('MethodNotAllowed'), ::error_re('NotFound')]



=== TEST 10: a deeper prefix and a prefix without a trailing slash; other locations are untouched
--- config
    location /api/v1/ {
        compensation_api;
    }
    location /svc {
        compensation_api;
    }
    location = /ping {
        return 200 "pong\n";
    }
--- request eval
["POST /api/v1/execution_failed/create_execution_failed\n" . ::create_body(),
 "GET /api/v1/execution_failed/x1/state",
 "PUT /svc/execution_failed/x1/prepare_compensation",
 "GET /ping"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::exact(::state_json()), ::ok_re('onPrepare', 2), qr/\Apong\n\z/]



=== TEST 11: two API locations share one store
--- config
    location /a/ {
        compensation_api;
    }
    location /b/ {
        compensation_api;
    }
--- request eval
["POST /a/execution_failed/create_execution_failed\n" . ::create_body(),
 "PUT /b/execution_failed/x1/prepare_compensation",
 "GET /a/execution_failed/x1/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2),
 ::state_re(status => 'PREPARED', retryState => ::rs_re(retries => 1, min => 180, to => 120))]



=== TEST 12: a path id longer than 256 characters is 400 IllegalArgument, on state and command routes
--- request eval
["GET /execution_failed/" . ('a' x 300) . "/state",
 "PUT /execution_failed/" . ('a' x 300) . "/prepare_compensation",
 "DELETE /execution_failed/" . ('a' x 257)]
--- error_code eval
[400, 400, 400]
--- response_headers eval
[("Wow-Error-Code: IllegalArgument") x 3]
--- response_body_like eval
[(::error_re('IllegalArgument')) x 3]



=== TEST 13: percent-escapes in the path id are decoded; a control character is 400
--- request eval
[::create_req(), "GET /execution_failed/a%20b%3Ac/state", "PUT /execution_failed/a%20b%3Ac/prepare_compensation",
 "GET /execution_failed/a%0Ab/state", "PUT /execution_failed/a%09b/prepare_compensation"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: a b:c", "", "", "", ""]
--- error_code eval
[200, 200, 200, 400, 400]
--- response_body_like eval
[::ok_re('onCreate', 1, agg => 'a b:c'), ::exact(::state_json(id => 'a b:c')),
 ::ok_re('onPrepare', 2, agg => 'a b:c'),
 ::error_re('IllegalArgument'), ::error_re('IllegalArgument')]



=== TEST 14: a UTF-8 id round-trips
--- request eval
[::create_req(), "GET /execution_failed/%C3%A9t%C3%A9/state"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: été", ""]
--- error_code eval
[200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1, agg => 'été'), ::exact(::state_json(id => 'été'))]



=== TEST 15: the route segment "recover" with id "snapshot" is just an id (spec 3.1 edge case)
--- request eval
[::create_req(), "PUT /execution_failed/snapshot/recover"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: snapshot", ""]
--- error_code eval
[200, 400]
--- response_body_like eval
[::ok_re('onCreate', 1, agg => 'snapshot'),
 ::fail_re('IllegalState', undef, 'process', agg => 'snapshot')]



=== TEST 16: a relative compensation_store is relative to the nginx prefix
--- http_config
    compensation_store logs/relative.db;
--- request eval
[::create_req(), "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::exact(::state_json())]



=== TEST 17: the store's directory is created when it does not exist
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/store/c.db;
--- request eval
[::create_req(), "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::exact(::state_json())]



=== TEST 18: compensation_store_synchronous full and compensation_store_busy_timeout are accepted
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_store_synchronous full;
    compensation_store_busy_timeout 5s;
--- request eval
[::create_req(), "PUT $::U/prepare_compensation"]
--- more_headers eval
$::H
--- error_code eval
[200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2)]



=== TEST 19: compensation_max_body_size is inherited from the server level
--- config
    compensation_max_body_size 100;
    location / {
        compensation_api;
    }
--- request eval
[::create_req(), "PUT $::U/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}"]
--- more_headers eval
$::H
--- error_code eval
[413, 404]
--- response_body_like eval
[::error_re('PayloadTooLarge'), ::result_re(code => 'NotFound', msg => 'x1 is not initialized.', fn => 'process', version => 'null')]



=== TEST 20: compensation_api without compensation_store does not start
--- http_config
--- config
    location / {
        compensation_api;
    }
--- must_die
--- error_log
requires "compensation_store"
--- no_error_log
[alert]
[crit]



=== TEST 21: compensation_store in a directory that cannot be created: nginx does not start, the [emerg] names compensation_store
--- http_config
    compensation_store /proc/nope/x.db;
--- must_die
--- error_log eval
qr/\[emerg\].*compensation_store/
--- no_error_log
[alert]
[crit]



=== TEST 22: compensation_store that SQLite cannot open: nginx does not start
--- http_config
    compensation_store /proc/x.db;
--- must_die
--- error_log eval
qr/\[emerg\].*compensation_store "\/proc\/x\.db" is not usable/
--- no_error_log
[alert]
[crit]



=== TEST 23: compensation_store naming a directory: nginx does not start
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs;
--- must_die
--- error_log eval
qr/\[emerg\].*compensation_store ".*logs" is not a regular file/
--- no_error_log
[alert]
[crit]



=== TEST 24: compensation_store twice is a duplicate
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/a.db;
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/b.db;
--- must_die
--- error_log
"compensation_store" directive is duplicate
--- no_error_log
[alert]
[crit]



=== TEST 25: compensation_store is an http{}-level directive only
--- config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    location / {
        compensation_api;
    }
--- must_die
--- error_log
"compensation_store" directive is not allowed here
--- no_error_log
[alert]
[crit]



=== TEST 26: compensation_retry_spec with a negative max_retries does not start
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_retry_spec max_retries=-1;
--- must_die
--- error_log eval
qr/\[emerg\].*max_retries=-1/
--- no_error_log
[alert]
[crit]



=== TEST 27: compensation_retry_spec with an unknown parameter or a bad time does not start
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_retry_spec max_retries=3 min_backoff=soon;
--- must_die
--- error_log eval
qr/\[emerg\].*min_backoff=soon/
--- no_error_log
[alert]
[crit]



=== TEST 28: compensation_retry_spec whose largest backoff overflows does not start ([HEAD] validation)
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_retry_spec max_retries=32 min_backoff=2147483647s;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid retry spec/
--- no_error_log
[alert]
[crit]



=== TEST 29: compensation_retry_spec with another unknown key does not start
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_retry_spec retries=3;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid parameter "retries=3"/
--- no_error_log
[alert]
[crit]



=== TEST 30: compensation_api twice in one location is a duplicate
--- config
    location / {
        compensation_api;
        compensation_api;
    }
--- must_die
--- error_log
"compensation_api" directive is duplicate
--- no_error_log
[alert]
[crit]



=== TEST 31: compensation_store_synchronous accepts only normal or full
--- http_config
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
    compensation_store_synchronous off;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid value "off"/
--- no_error_log
[alert]
[crit]
