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

# the default config, preprocessor and helpers (t/lib/Compensation)
use Compensation::Commands;

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
