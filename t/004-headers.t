# The command headers of spec 3.2 and the generic checks of spec 2 they
# drive: optimistic versions (Command-Aggregate-Version, 409), idempotent
# request ids (Command-Request-Id, DuplicateRequestId 400, nothing written),
# owners (Command-Owner-Id, 403), the order of the generic checks, and the
# headers copied into the stored event stream (Command-Header-<X>,
# X-Forwarded-For, User-Agent, Command-Local-First).
#
# Whether a command wrote something is seen over HTTP: a later command with
# Command-Aggregate-Version proves the version did not move.  The stored
# event-stream header is not readable over HTTP yet; the last block's store
# is read with the sqlite3 CLI after run_tests() when it is installed.

use Test::Nginx::Socket 'no_plan';
use JSON::PP ();

no_root_location();
no_shuffle();

# the default config, preprocessor and helpers (t/lib/Compensation)
use Compensation::Commands;

our $MARK_R = "PUT /execution_failed/x1/mark_recoverable\n{\"recoverable\":\"RECOVERABLE\"}";
# A DuplicateRequestId answer: a CommandResult or an ErrorInfo (the spec
# does not say which the gateway's refusal produces), failed, with that code.
our $DUP = qr/\A\{.*"errorCode":"DuplicateRequestId","errorMsg":"[^"]+",.*"succeeded":false\}\z/;
our $MARK_U = "PUT /execution_failed/x1/mark_recoverable\n{\"recoverable\":\"UNRECOVERABLE\"}";


run_tests();

# --- the stored event-stream header of the last block (TEST 21) ------------

SKIP: {
    my $db = "$ENV{TEST_NGINX_SERVER_ROOT}/logs/c.db";
    my $sqlite = '/usr/bin/sqlite3';
    skip 'the sqlite3 CLI is not installed', 4 unless -x $sqlite;
    skip "no store left by the last block at $db", 4 unless -f $db;

    my @rows = map { JSON::PP->new->decode($_) }
               grep { /\S/ } split /\n/,
               `$sqlite -readonly '$db' "SELECT header FROM event_stream WHERE aggregate_id = 'h1' ORDER BY version"`;

    is(scalar @rows, 3, 'stored header: three event streams of h1 (the duplicate wrote nothing)');
    is_deeply({ map { $_ => $rows[0]{$_} } qw(Trace tenant-note remote_ip user_agent local_first command_wait_stage) },
              { 'Trace' => 'abc 123', 'tenant-note' => 'x', remote_ip => '203.0.113.7',
                user_agent => 'wow-test/1.0', local_first => 'false',
                command_wait_stage => 'SNAPSHOT' },
              'stored header: Command-Header-*, X-Forwarded-For (leftmost), User-Agent, local_first, wait stage');
    is_deeply({ map { $_ => $rows[1]{$_} } qw(remote_ip local_first command_wait_stage) },
              { remote_ip => '127.0.0.1', local_first => 'true', command_wait_stage => 'PROCESSED' },
              'stored header: defaults (peer address, local_first true, PROCESSED)');
    ok(!exists $rows[1]{Trace} && !exists $rows[1]{user_agent},
       'stored header: nothing leaks from one command to the next');
}

__DATA__

=== TEST 1: Command-Aggregate-Version equal to the current version passes; any other is 409, nothing written
--- request eval
[::create_req(), "PUT $::U/prepare_compensation", $::MARK_R, $::MARK_R, $::MARK_R, $::MARK_R,
 "GET $::U/state"]
--- more_headers eval
[$::H, "Command-Aggregate-Version: 1", "$::CT\nCommand-Aggregate-Version: 1",
 "$::CT\nCommand-Aggregate-Version: 0", "$::CT\nCommand-Aggregate-Version: 99",
 "$::CT\nCommand-Aggregate-Version: 2", ""]
--- error_code eval
[200, 200, 409, 409, 409, 200, 200]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: Ok", ("Wow-Error-Code: CommandExpectVersionConflict") x 3,
 "Wow-Error-Code: Ok", "Wow-Error-Code: Ok"]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2),
 (::fail_re('CommandExpectVersionConflict', undef, 'process')) x 3,
 ::ok_re('onMarkRecoverable', 3),
 ::state_re(status => 'PREPARED', recoverable => 'RECOVERABLE',
            retryState => ::rs_re(retries => 1, min => 180, to => 120))]



=== TEST 2: a version conflict is checked before existence (spec 2, check 1 before 2)
--- request eval
["PUT /execution_failed/nope/prepare_compensation", "PUT /execution_failed/nope/prepare_compensation",
 "PUT /execution_failed/nope/prepare_compensation"]
--- more_headers eval
["Command-Aggregate-Version: 3", "Command-Aggregate-Version: 0", ""]
--- error_code eval
[409, 404, 404]
--- response_body_like eval
[::result_re(agg => 'nope', code => 'CommandExpectVersionConflict', msg_re => $::STR, fn => 'process', version => $::ANYV),
 ::result_re(agg => 'nope', code => 'NotFound', msg => 'nope is not initialized.', fn => 'process', version => 'null'),
 ::result_re(agg => 'nope', code => 'NotFound', msg => 'nope is not initialized.', fn => 'process', version => 'null')]



=== TEST 3: on a deleted aggregate the version is checked before the deletion; recover honours it too
--- request eval
[::create_req(), "DELETE $::U", "PUT $::U/prepare_compensation", "PUT $::U/prepare_compensation",
 "PUT $::U/recover", "PUT $::U/recover"]
--- more_headers eval
[$::H, "", "Command-Aggregate-Version: 1", "Command-Aggregate-Version: 2",
 "Command-Aggregate-Version: 1", "Command-Aggregate-Version: 2"]
--- error_code eval
[200, 200, 409, 410, 409, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onDelete', 2),
 ::fail_re('CommandExpectVersionConflict', undef, 'process'),
 ::fail_re('IllegalAccessDeletedAggregate', undef, 'process'),
 ::fail_re('CommandExpectVersionConflict', undef, 'process'),
 ::ok_re('onRecover', 3)]



=== TEST 4: the version check comes before the handler's precondition
--- request eval
[::create_req(), "PUT $::U/apply_execution_success\n{\"executeAt\":1}",
 "PUT $::U/apply_execution_success\n{\"executeAt\":1}"]
--- more_headers eval
[$::H, "$::CT\nCommand-Aggregate-Version: 5", "$::CT\nCommand-Aggregate-Version: 1"]
--- error_code eval
[200, 409, 400]
--- response_body_like eval
[::ok_re('onCreate', 1),
 ::fail_re('CommandExpectVersionConflict', undef, 'process'),
 ::fail_re('IllegalState', 'ExecutionFailed is not prepared.', 'onSucceed')]



=== TEST 5: Command-Request-Id becomes the requestId; a repeat is DuplicateRequestId 400 at the gateway and writes nothing
--- request eval
[::create_req(), "PUT $::U/prepare_compensation", "PUT $::U/prepare_compensation", $::MARK_R,
 "GET $::U/state"]
--- more_headers eval
["$::H\nCommand-Request-Id: req-1", "Command-Request-Id: req-2", "Command-Request-Id: req-2",
 "$::CT\nCommand-Request-Id: req-1\nCommand-Aggregate-Version: 2", ""]
--- error_code eval
[200, 200, 400, 400, 200]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: Ok", "Wow-Error-Code: DuplicateRequestId",
 "Wow-Error-Code: DuplicateRequestId", "Wow-Error-Code: Ok"]
--- response_body_like eval
[::ok_re('onCreate', 1, req => 'req-1'), ::ok_re('onPrepare', 2, req => 'req-2'),
 $::DUP, $::DUP,
 ::state_re(status => 'PREPARED', retryState => ::rs_re(retries => 1, min => 180, to => 120))]



=== TEST 6: after a duplicate the version has not moved: the next command expecting it passes
--- request eval
[::create_req(), $::MARK_R, $::MARK_U, $::MARK_U, "GET $::U/state"]
--- more_headers eval
[$::H, "$::CT\nCommand-Request-Id: r", "$::CT\nCommand-Request-Id: r",
 "$::CT\nCommand-Aggregate-Version: 2", ""]
--- error_code eval
[200, 200, 400, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onMarkRecoverable', 2, req => 'r'),
 $::DUP,
 ::ok_re('onMarkRecoverable', 3), ::exact(::state_json(recoverable => 'UNRECOVERABLE'))]



=== TEST 7: a duplicate request id on a create does not create the second aggregate
--- request eval
[::create_req(), ::create_req(), "GET /execution_failed/x2/state"]
--- more_headers eval
["$::H\nCommand-Request-Id: once", "$::CT\nCommand-Aggregate-Id: x2\nCommand-Request-Id: once", ""]
--- error_code eval
[200, 400, 404]
--- response_body_like eval
[::ok_re('onCreate', 1, req => 'once'),
 $::DUP,
 ::error_re('NotFound')]



=== TEST 8: without Command-Request-Id every command gets its own (the command id): no false duplicates
--- request eval
[::create_req(), $::MARK_R, $::MARK_U, $::MARK_R]
--- more_headers eval
$::H
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onMarkRecoverable', 2), ::ok_re('onMarkRecoverable', 3),
 ::ok_re('onMarkRecoverable', 4)]



=== TEST 9: a duplicate request id with Accept: text/event-stream is a stream error event
--- request eval
[::create_req(), "PUT $::U/prepare_compensation", "PUT $::U/prepare_compensation"]
--- more_headers eval
[$::H, "Command-Request-Id: dup", "Command-Request-Id: dup\nAccept: text/event-stream"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["Wow-Error-Code: Ok", "Wow-Error-Code: Ok", "Content-Type: text/event-stream"]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2, req => 'dup'),
 qr/(?:\A|\n\n)id:\w{15}\nevent:DuplicateRequestId\ndata:\{"errorCode":"DuplicateRequestId","errorMsg":"[^"\n]*","succeeded":false\}\n\n\z/]



=== TEST 10: a bad Command-Request-Id is 400 naming the header
--- request eval
[::create_req(), ::create_req()]
--- more_headers eval
["$::H\nCommand-Request-Id: " . ('r' x 300), "$::H\nCommand-Request-Id: " . ('r' x 256)]
--- error_code eval
[400, 200]
--- response_body_like eval
[::error_re('IllegalArgument', undef, 'Command-Request-Id'),
 ::ok_re('onCreate', 1, req => 'r' x 256)]



=== TEST 11: Command-Owner-Id on a compensation aggregate (owner "") is 403 IllegalAccessOwnerAggregate for every command
--- request eval
[::create_req(),
 "PUT $::U/prepare_compensation", "PUT $::U/force_prepare_compensation",
 "PUT $::U/apply_execution_success\n{\"executeAt\":1}",
 "PUT $::U/apply_execution_failed\n{\"error\":{\"errorCode\":\"E\",\"errorMsg\":\"m\",\"stackTrace\":\"s\"},\"executeAt\":1}",
 "PUT $::U/apply_retry_spec\n{\"maxRetries\":3,\"minBackoff\":1,\"executionTimeout\":1}",
 "PUT $::U/change_function\n{\"functionKind\":\"EVENT\",\"contextName\":\"c\",\"processorName\":\"p\",\"name\":\"n\"}",
 $::MARK_R, "DELETE $::U", "GET $::U/state"]
--- more_headers eval
[$::H, ("$::CT\nCommand-Owner-Id: someone") x 8, ""]
--- error_code eval
[200, (403) x 8, 200]
--- response_headers eval
["Wow-Error-Code: Ok", ("Wow-Error-Code: IllegalAccessOwnerAggregate") x 8, "Wow-Error-Code: Ok"]
--- response_body_like eval
[::ok_re('onCreate', 1), (::fail_re('IllegalAccessOwnerAggregate', undef, 'process')) x 8,
 ::exact(::state_json())]



=== TEST 12: a blank Command-Owner-Id is no owner
--- request eval
[::create_req(), $::MARK_R]
--- more_headers eval
[$::H, "$::CT\nCommand-Owner-Id:    "]
--- error_code eval
[200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onMarkRecoverable', 2)]



=== TEST 13: generic check order: existence before owner, owner before deletion (spec 2, checks 2, 3, 5)
--- request eval
["PUT /execution_failed/nope/prepare_compensation", ::create_req(), "DELETE $::U",
 "PUT $::U/recover", "PUT $::U/prepare_compensation", "PUT $::U/recover"]
--- more_headers eval
["Command-Owner-Id: someone", $::H, "", "Command-Owner-Id: someone", "Command-Owner-Id: someone", ""]
--- error_code eval
[404, 200, 200, 403, 403, 200]
--- response_body_like eval
[::result_re(agg => 'nope', code => 'NotFound', msg => 'nope is not initialized.', fn => 'process', version => 'null'),
 ::ok_re('onCreate', 1), ::ok_re('onDelete', 2),
 ::fail_re('IllegalAccessOwnerAggregate', undef, 'process'),
 ::fail_re('IllegalAccessOwnerAggregate', undef, 'process'),
 ::ok_re('onRecover', 3)]



=== TEST 14: Command-Tenant-Id is ignored: the tenant is always "(0)" (spec 1.1)
--- request eval
[::create_req(), "PUT $::U/prepare_compensation"]
--- more_headers eval
["$::H\nCommand-Tenant-Id: other", "Command-Tenant-Id: other"]
--- error_code eval
[200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2)]



=== TEST 15: Command-Header-<X>, X-Forwarded-For, User-Agent and Command-Local-First are accepted
--- request eval
[::create_req(), $::MARK_R, $::MARK_U]
--- more_headers eval
["$::H\nCommand-Header-Trace: abc\nX-Forwarded-For: 203.0.113.7, 10.0.0.1\nUser-Agent: wow-test/1.0\nCommand-Local-First: false",
 "$::CT\nCommand-Header-A: 1\nCommand-Header-B: 2\nCommand-Local-First: TRUE",
 "$::CT\nX-Forwarded-For: \nUser-Agent: "]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onMarkRecoverable', 2), ::ok_re('onMarkRecoverable', 3)]



=== TEST 16: a bad Command-Local-First or a non-UTF-8 Command-Header-<X> is 400; nothing written
--- request eval
[::create_req(), ::create_req(), "GET $::U/state"]
--- more_headers eval
["$::H\nCommand-Local-First: maybe", "$::H\nCommand-Header-Note: \xff\xfe", ""]
--- error_code eval
[400, 400, 404]
--- response_body_like eval
[::error_re('IllegalArgument', undef, 'Command-Local-First'),
 ::error_re('IllegalArgument', undef, 'Command-Header-*'),
 ::error_re('NotFound')]



=== TEST 17: several bad headers: one binding error each, in header order
--- request eval
::create_req()
--- more_headers eval
"$::H\nCommand-Wait-Stage: NEVER\nCommand-Aggregate-Version: x\nCommand-Wait-Timeout: -1"
--- error_code: 400
--- response_body_like eval
::error_re('IllegalArgument', undef, 'Command-Wait-Stage', 'Command-Aggregate-Version', 'Command-Wait-Timeout')



=== TEST 18: header names are case-insensitive
--- request eval
[::create_req(), "PUT $::U/prepare_compensation", "PUT $::U/prepare_compensation"]
--- more_headers eval
["$::CT\ncommand-aggregate-id: x1\nCOMMAND-REQUEST-ID: abc", "command-request-id: abc",
 "command-aggregate-version: 7"]
--- error_code eval
[200, 400, 409]
--- response_body_like eval
[::ok_re('onCreate', 1, req => 'abc'), $::DUP,
 ::fail_re('CommandExpectVersionConflict', undef, 'process')]



=== TEST 19: Command-Wait-Timeout 0 still processes an uncontended command
--- request eval
[::create_req(), "PUT $::U/prepare_compensation"]
--- more_headers eval
["$::H\nCommand-Wait-Timeout: 0", "Command-Wait-Timout: 0"]
--- error_code eval
[200, 200]
--- response_body_like eval
[::ok_re('onCreate', 1), ::ok_re('onPrepare', 2)]



=== TEST 20: an integer header that overflows 64 bits is 400, not a version check turned off; nothing written
--- request eval
[::create_req(), "PUT $::U/prepare_compensation", "PUT $::U/prepare_compensation",
 "PUT $::U/prepare_compensation", "PUT $::U/prepare_compensation"]
--- more_headers eval
[$::H, "Command-Aggregate-Version: 9999999999999999999",
 "Command-Aggregate-Version: 18446744073709551617",
 "Command-Wait-Timeout: 9999999999999999999", "Command-Aggregate-Version: 1"]
--- error_code eval
[200, 400, 400, 400, 200]
--- response_body_like eval
[::ok_re('onCreate', 1),
 ::error_re('IllegalArgument', undef, 'Command-Aggregate-Version'),
 ::error_re('IllegalArgument', undef, 'Command-Aggregate-Version'),
 ::error_re('IllegalArgument', undef, 'Command-Wait-Timeout'),
 ::ok_re('onPrepare', 2)]



=== TEST 21: the stored event-stream header (checked with sqlite3 after run_tests; must stay the last block)
--- request eval
[::create_req(), "PUT /execution_failed/h1/prepare_compensation",
 "PUT /execution_failed/h1/prepare_compensation",
 "PUT /execution_failed/h1/apply_execution_failed\n{\"error\":{\"errorCode\":\"E\",\"errorMsg\":\"m\",\"stackTrace\":\"s\"},\"executeAt\":1}"]
--- more_headers eval
["$::CT\nCommand-Aggregate-Id: h1\nCommand-Header-Trace: abc 123\nCommand-Header-tenant-note: x\nX-Forwarded-For: 203.0.113.7, 10.0.0.1\nUser-Agent: wow-test/1.0\nCommand-Local-First: FALSE\nCommand-Wait-Stage: snapshot",
 "Command-Request-Id: p1", "Command-Request-Id: p1\nUser-Agent: other", $::CT]
--- error_code eval
[200, 200, 400, 200]
--- response_body_like eval
[::result_re(stage => 'SNAPSHOT', agg => 'h1', version => 1, fn_json => '{"functionKind":"STATE_EVENT","contextName":"compensation-service","processorName":"SnapshotDispatcher","name":"save"}'),
 ::ok_re('onPrepare', 2, agg => 'h1', req => 'p1'),
 $::DUP,
 ::ok_re('onFailed', 3, agg => 'h1')]
