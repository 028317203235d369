# The state machine of spec 2.10 walked end to end, the backoff arithmetic of
# spec 1.4 over ten prepares (the worked example), forcing past maxRetries,
# reviving with apply_retry_spec, and delete/recover in every status.
#
# Prepare uses the server clock: retryAt is checked to be within a minute of
# the test's clock, and nextRetryAt/timeoutAt by their distance to retryAt.

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

our $FAILED_BODY = '{"error":{"errorCode":"E","errorMsg":"again","stackTrace":"s"},"executeAt":1719800600000}';
our $FAILED_ERROR = '{"errorCode":"E","errorMsg":"again","stackTrace":"s","succeeded":false}';

run_tests();

__DATA__

=== TEST 1: the whole state machine (spec 2.10): FAILED -> PREPARED -> (timed out) PREPARED -> FAILED -> ... -> SUCCEEDED
--- request eval
[
 # [*] --Create--> FAILED (maxRetries 2, no backoff, no execution window)
 ::create_req(retrySpec => ::spec(2, 0, 0)),
 "GET $::U/state",
 # FAILED --Prepare--> PREPARED (retries 1); the GETs let the 0 s window pass
 "PUT $::U/prepare_compensation",
 "GET $::U/state",
 "GET $::U/state",
 # PREPARED (timed out) --Prepare--> PREPARED (retries 2)
 "PUT $::U/prepare_compensation",
 "GET $::U/state",
 "GET $::U/state",
 # retries == maxRetries: Prepare refused even though timed out
 "PUT $::U/prepare_compensation",
 # PREPARED (timed out) --ForcePrepare--> PREPARED (retries 3)
 "PUT $::U/force_prepare_compensation",
 # PREPARED --ApplyExecutionFailed--> FAILED
 "PUT $::U/apply_execution_failed\n$::FAILED_BODY",
 "GET $::U/state",
 # FAILED but exhausted: Prepare refused, not retryable
 "PUT $::U/prepare_compensation",
 # any --ApplyRetrySpec--> same status: revives (maxRetries 5)
 "PUT $::U/apply_retry_spec\n{\"maxRetries\":5,\"minBackoff\":0,\"executionTimeout\":0}",
 "GET $::U/state",
 # FAILED --Prepare--> PREPARED (retries 4)
 "PUT $::U/prepare_compensation",
 # PREPARED --ApplyExecutionSuccess--> SUCCEEDED (terminal)
 "PUT $::U/apply_execution_success\n{\"executeAt\":1719800900000}",
 "GET $::U/state",
 "PUT $::U/prepare_compensation",
 "PUT $::U/force_prepare_compensation",
 "PUT $::U/apply_execution_failed\n$::FAILED_BODY",
 # any --ChangeFunction / MarkRecoverable--> same status
 "PUT $::U/change_function\n{\"functionKind\":\"EVENT\",\"contextName\":\"order-service\",\"processorName\":\"OrderProjector\",\"name\":\"v2\"}",
 "PUT $::U/mark_recoverable\n{\"recoverable\":\"UNRECOVERABLE\"}",
 "GET $::U/state",
 # delete and recover: back where it was
 "DELETE $::U",
 "GET $::U/state",
 "PUT $::U/recover",
 "GET $::U/state",
]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 400, 200, 200, 200, 400, 200, 200, 200, 200, 200,
 400, 400, 400, 200, 200, 200, 200, 404, 200, 200]
--- response_body_like eval
my $spec = quotemeta ::spec_json(2, 0, 0);
my $spec5 = quotemeta ::spec_json(5, 0, 0);
my $fn2 = quotemeta '{"functionKind":"EVENT","contextName":"order-service","processorName":"OrderProjector","name":"v2"}';
my $succeeded = ::state_re(status => 'SUCCEEDED', executeAt => '1719800900000',
    error => quotemeta($::FAILED_ERROR), retrySpec => $spec5, function => $fn2,
    recoverable => 'UNRECOVERABLE', retryState => ::rs_re(retries => 4, min => 0, to => 0),
    isRetryable => 'false');
[
 ::ok_re('onCreate', 1),
 ::exact(::state_json(retrySpec => ::spec_json(2, 0, 0),
     retryState => '{"retries":0,"retryAt":1719800000000,"timeoutAt":1719800000000,"nextRetryAt":1719800000000}')),
 ::ok_re('onPrepare', 2),
 (::state_re(status => 'PREPARED', retrySpec => $spec, retryState => ::rs_re(retries => 1, min => 0, to => 0))) x 2,
 ::ok_re('onPrepare', 3),
 (::state_re(status => 'PREPARED', retrySpec => $spec, retryState => ::rs_re(retries => 2, min => 0, to => 0),
             isBelowRetryThreshold => 'false', isRetryable => 'false')) x 2,
 ::fail_re('IllegalState', 'ExecutionFailed can not retry.', 'onPrepare'),
 ::ok_re('onForcePrepare', 4),
 ::ok_re('onFailed', 5),
 ::state_re(status => 'FAILED', executeAt => '1719800600000', error => quotemeta($::FAILED_ERROR),
            retrySpec => $spec, retryState => ::rs_re(retries => 3, min => 0, to => 0),
            isBelowRetryThreshold => 'false', isRetryable => 'false'),
 ::fail_re('IllegalState', 'ExecutionFailed can not retry.', 'onPrepare'),
 ::ok_re('onApplyRetrySpec', 6),
 ::state_re(status => 'FAILED', executeAt => '1719800600000', error => quotemeta($::FAILED_ERROR),
            retrySpec => $spec5, retryState => ::rs_re(retries => 3, min => 0, to => 0)),
 ::ok_re('onPrepare', 7),
 ::ok_re('onSucceed', 8),
 ::state_re(status => 'SUCCEEDED', executeAt => '1719800900000', error => quotemeta($::FAILED_ERROR),
            retrySpec => $spec5, retryState => ::rs_re(retries => 4, min => 0, to => 0),
            isRetryable => 'false'),
 ::fail_re('IllegalState', 'ExecutionFailed can not retry.', 'onPrepare'),
 ::fail_re('IllegalState', 'ExecutionFailed can not force retry.', 'onForcePrepare'),
 ::fail_re('IllegalState', 'ExecutionFailed is not prepared.', 'onFailed'),
 ::ok_re('onChangeFunction', 9),
 ::ok_re('onMarkRecoverable', 10),
 $succeeded,
 ::ok_re('onDelete', 11),
 ::error_re('NotFound'),
 ::ok_re('onRecover', 12),
 $succeeded,
]



=== TEST 2: the worked example of spec 1.4: ten prepares with the defaults (180 s doubling, 120 s window), then only force
--- request eval
[::create_req(), "GET $::U/state",
 (map { ("PUT $::U/prepare_compensation", "GET $::U/state",
         "PUT $::U/apply_execution_failed\n$::FAILED_BODY") } 1 .. 10),
 "PUT $::U/prepare_compensation",
 "PUT $::U/force_prepare_compensation", "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, (200) x 30, 400, 200, 200]
--- response_body_like eval
my $v = 1;
[::ok_re('onCreate', $v), ::exact(::state_json()),
 (map {
     my $k = $_;
     my $below = $k < 10 ? 'true' : 'false';
     (::ok_re('onPrepare', ++$v),
      ::state_re(status => 'PREPARED',
                 ($k > 1 ? (executeAt => '1719800600000', error => quotemeta($::FAILED_ERROR)) : ()),
                 retryState => ::rs_re(retries => $k, min => 180, to => 120),
                 isBelowRetryThreshold => $below, isRetryable => $below),
      ::ok_re('onFailed', ++$v))
  } 1 .. 10),
 ::fail_re('IllegalState', 'ExecutionFailed can not retry.', 'onPrepare'),
 ::ok_re('onForcePrepare', ++$v),
 ::state_re(status => 'PREPARED', executeAt => '1719800600000', error => quotemeta($::FAILED_ERROR),
            retryState => ::rs_re(retries => 11, min => 180, to => 120),
            isBelowRetryThreshold => 'false', isRetryable => 'false')]



=== TEST 3: the spec's numbers: +360 s after prepare #1, +720 s after #2, +92,160 s after #9
--- request eval
[::create_req(),
 (map { ("PUT $::U/force_prepare_compensation", "GET $::U/state",
         "PUT $::U/apply_execution_failed\n$::FAILED_BODY") } 1 .. 9)]
--- more_headers eval
$::H
--- error_code eval
[(200) x 28]
--- response_body_like eval
my %at = (1 => 360, 2 => 720, 9 => 92160);
[qr/"succeeded":true/,
 (map {
     my $k = $_;
     my $s = defined $at{$k} ? $at{$k} * 1000 : undef;
     (qr/"succeeded":true/,
      defined $s
        ? qr/"retryState":\{"retries":$k,"retryAt":(\d+),"timeoutAt":(\d+),"nextRetryAt":(\d+)\}(?(?{ $3 - $1 == $s && $2 - $1 == 120000 })|(*FAIL))/
        : qr/"retryState":\{"retries":$k,/,
      qr/"succeeded":true/)
  } 1 .. 9)]



=== TEST 4: apply_retry_spec does not recompute retryState; the new minBackoff applies from the next prepare
--- request eval
[::create_req(), "PUT $::U/prepare_compensation", "PUT $::U/apply_execution_failed\n$::FAILED_BODY",
 "PUT $::U/apply_retry_spec\n{\"maxRetries\":10,\"minBackoff\":10,\"executionTimeout\":5}",
 "GET $::U/state",
 "PUT $::U/prepare_compensation", "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2), ::ok_re('onFailed', 3), ::ok_re('onApplyRetrySpec', 4),
 ::state_re(status => 'FAILED', executeAt => '1719800600000', error => quotemeta($::FAILED_ERROR),
            retrySpec => quotemeta(::spec_json(10, 10, 5)),
            retryState => ::rs_re(retries => 1, min => 180, to => 120)),
 ::ok_re('onPrepare', 5),
 ::state_re(status => 'PREPARED', executeAt => '1719800600000', error => quotemeta($::FAILED_ERROR),
            retrySpec => quotemeta(::spec_json(10, 10, 5)),
            retryState => ::rs_re(retries => 2, min => 10, to => 5))]



=== TEST 5: lowering maxRetries below retries makes it not retryable; raising it again revives it
--- request eval
[::create_req(), "PUT $::U/prepare_compensation", "PUT $::U/apply_execution_failed\n$::FAILED_BODY",
 "PUT $::U/apply_retry_spec\n{\"maxRetries\":1,\"minBackoff\":180,\"executionTimeout\":120}",
 "GET $::U/state", "PUT $::U/prepare_compensation",
 "PUT $::U/apply_retry_spec\n{\"maxRetries\":2,\"minBackoff\":180,\"executionTimeout\":120}",
 "GET $::U/state", "PUT $::U/prepare_compensation", "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200, 200, 400, 200, 200, 200, 200]
--- response_body_like eval
my @failed = (executeAt => '1719800600000', error => quotemeta($::FAILED_ERROR));
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2), ::ok_re('onFailed', 3), ::ok_re('onApplyRetrySpec', 4),
 ::state_re(@failed, retrySpec => quotemeta(::spec_json(1, 180, 120)),
            retryState => ::rs_re(retries => 1, min => 180, to => 120),
            isBelowRetryThreshold => 'false', isRetryable => 'false'),
 ::fail_re('IllegalState', 'ExecutionFailed can not retry.', 'onPrepare'),
 ::ok_re('onApplyRetrySpec', 5),
 ::state_re(@failed, retrySpec => quotemeta(::spec_json(2, 180, 120)),
            retryState => ::rs_re(retries => 1, min => 180, to => 120)),
 ::ok_re('onPrepare', 6),
 ::state_re(@failed, status => 'PREPARED', retrySpec => quotemeta(::spec_json(2, 180, 120)),
            retryState => ::rs_re(retries => 2, min => 180, to => 120),
            isBelowRetryThreshold => 'false', isRetryable => 'false')]



=== TEST 6: a PREPARED execution is still "retryable" in the serialized state (spec 1.3 note), but cannot be prepared again
--- request eval
[::create_req(), "PUT $::U/prepare_compensation", "GET $::U/state", "PUT $::U/prepare_compensation"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 400]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2),
 ::state_re(status => 'PREPARED', retryState => ::rs_re(retries => 1, min => 180, to => 120),
            isBelowRetryThreshold => 'true', isRetryable => 'true'),
 ::fail_re('IllegalState', 'ExecutionFailed can not retry.', 'onPrepare')]



=== TEST 7: a late failure report after a re-prepare applies to the current attempt (no attempt correlation)
--- request eval
[::create_req(retrySpec => ::spec(5, 0, 0)), "PUT $::U/prepare_compensation", "GET $::U/state",
 "GET $::U/state", "PUT $::U/prepare_compensation",
 "PUT $::U/apply_execution_failed\n$::FAILED_BODY",
 "PUT $::U/apply_execution_success\n{\"executeAt\":1719800900000}",
 "PUT $::U/prepare_compensation",
 "PUT $::U/apply_execution_success\n{\"executeAt\":1719800900000}",
 "GET $::U/state"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200, 200, 200, 400, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2), qr/"status":"PREPARED"/, qr/"status":"PREPARED"/,
 ::ok_re('onPrepare', 3),
 ::ok_re('onFailed', 4),
 ::fail_re('IllegalState', 'ExecutionFailed is not prepared.', 'onSucceed'),
 ::ok_re('onPrepare', 5), ::ok_re('onSucceed', 6),
 ::state_re(status => 'SUCCEEDED', executeAt => '1719800900000', error => quotemeta($::FAILED_ERROR),
            retrySpec => quotemeta(::spec_json(5, 0, 0)),
            retryState => ::rs_re(retries => 3, min => 0, to => 0), isRetryable => 'false')]



=== TEST 8: delete and recover from FAILED, PREPARED and SUCCEEDED keep the state and its rules
--- request eval
[::create_req(), "DELETE $::U", "PUT $::U/recover", "GET $::U/state",
 "PUT $::U/prepare_compensation", "DELETE $::U", "PUT $::U/recover", "PUT $::U/prepare_compensation",
 "PUT $::U/apply_execution_success\n{\"executeAt\":1719800900000}",
 "DELETE $::U", "GET $::U/state", "PUT $::U/recover", "GET $::U/state",
 "PUT $::U/force_prepare_compensation"]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 400, 200, 200, 404, 200, 200, 400]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onDelete', 2), ::ok_re('onRecover', 3), ::exact(::state_json()),
 ::ok_re('onPrepare', 4), ::ok_re('onDelete', 5), ::ok_re('onRecover', 6),
 ::fail_re('IllegalState', 'ExecutionFailed can not retry.', 'onPrepare'),
 ::ok_re('onSucceed', 7), ::ok_re('onDelete', 8), ::error_re('NotFound'), ::ok_re('onRecover', 9),
 ::state_re(status => 'SUCCEEDED', executeAt => '1719800900000',
            retryState => ::rs_re(retries => 1, min => 180, to => 120), isRetryable => 'false'),
 ::fail_re('IllegalState', 'ExecutionFailed can not force retry.', 'onForcePrepare')]



=== TEST 9: several aggregates are independent
--- request eval
[::create_req(), ::create_req(), ::create_req(),
 "PUT /execution_failed/x2/prepare_compensation", "DELETE /execution_failed/x3",
 "GET /execution_failed/x1/state", "GET /execution_failed/x2/state", "GET /execution_failed/x3/state"]
--- more_headers eval
["$::H", "$::CT\nCommand-Aggregate-Id: x2", "$::CT\nCommand-Aggregate-Id: x3", "", "", "", "", ""]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 404]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onCreate', 1, agg => 'x2'), ::ok_re('onCreate', 1, agg => 'x3'),
 ::ok_re('onPrepare', 2, agg => 'x2'), ::ok_re('onDelete', 2, agg => 'x3'),
 ::exact(::state_json()),
 ::state_re(id => 'x2', status => 'PREPARED', retryState => ::rs_re(retries => 1, min => 180, to => 120)),
 ::error_re('NotFound')]
