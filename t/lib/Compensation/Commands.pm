# The shared setup of the command suites (t/001-006): the default
# http{}/server{} config, the block preprocessor, and the request and
# response helpers they call as ::name from "eval" sections.  Loaded with
# "use Compensation::Commands;" after "use Test::Nginx::Socket".

package main;

use strict;
use warnings;
use JSON::PP ();

our $HttpConfig = <<'_EOC_';
    compensation_store $TEST_NGINX_SERVER_ROOT/logs/c.db;
_EOC_

# make prove-threads: the same blocks with the store work in a thread of
# nginx's pool "default" (TEST_COMPENSATION_THREAD_POOL=1), or on the event
# loop (=off); unset: the default, the module's store thread
our $ThreadPool = !$ENV{TEST_COMPENSATION_THREAD_POOL} ? ''
    : $ENV{TEST_COMPENSATION_THREAD_POOL} eq 'off'
    ? "    compensation_thread_pool off;\n"
    : "    compensation_thread_pool default;\n";
$HttpConfig .= $ThreadPool;

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

1;
