
/*
 * Deciding commands: generic checks (spec 2), handler preconditions and the
 * state machine (spec 2.1-2.10), end to end with sourcing.
 */


#include <stdio.h>
#include <stdlib.h>

#include "cf_test.h"


#define T0  (CF_T_EXECUTE_AT + 5)

#define FAILED_BODY                                                          \
    "{\"error\":{\"errorCode\":\"E2\",\"errorMsg\":\"again\","             \
    "\"stackTrace\":\"st2\"},\"executeAt\":%lld,"                          \
    "\"recoverable\":\"recoverable\"}"



static int
exec_ctx(cf_aggregate_t *agg, cf_command_type_t type, const char *body,
    int64_t now, int64_t expected, const char *owner, const char *code,
    int handler, int line)
{
    int          rc, h, ok;
    int64_t      version;
    cf_error_t   err;

    cf_error_init(&err);

    version = agg->version;

    rc = cf_t_exec(agg, type, body, now, expected, owner, &err, &h);

    if (code == NULL) {
        ok = cf_test_check(rc == 0, "succeeds", __FILE__, line);

        if (!ok) {
            printf("#     %s: %s\n", err.code, err.msg);
        }

    } else {
        ok = cf_test_check(rc == -1, "fails", __FILE__, line)
             && cf_test_check_str(err.code, code, "code", __FILE__, line)
             && cf_test_check_int(h, handler, "in_handler", __FILE__, line)
             && cf_test_check_int(agg->version, version, "version",
                                  __FILE__, line);
    }

    cf_error_free(&err);

    return ok;
}


#define EXEC_CTX(agg, type, body, now, expected, owner, code, handler)       \
    exec_ctx((agg), (type), (body), (now), (expected), (owner), (code),      \
             (handler), __LINE__)


static void
failed_body(char *buf, size_t size, int64_t at)
{
    snprintf(buf, size, FAILED_BODY, (long long) at);
}


static void
test_create(void)
{
    char             *s;
    json_t           *j;
    cf_aggregate_t    agg;

    cf_t_created(&agg);

    CHECK_INT(agg.version, 1);
    CHECK_INT(agg.state.status, CF_STATUS_FAILED);

    j = cf_state_to_json(&agg.state);
    CHECK_JSON(j,
        "{\"id\":\"agg-1\",\"eventId\":{\"id\":\"0U2mSzz10001001\","
        "\"aggregateId\":{\"contextName\":\"order-service\","
        "\"aggregateName\":\"order\",\"aggregateId\":\"0U2mSz9k0001000\","
        "\"tenantId\":\"(0)\"},\"version\":1},\"function\":"
        "{\"functionKind\":\"EVENT\",\"contextName\":\"order-service\","
        "\"processorName\":\"OrderProjector\",\"name\":\"onOrderCreated\"},"
        "\"error\":{\"errorCode\":\"BadRequest\",\"errorMsg\":\"boom\","
        "\"stackTrace\":\"java.lang...\",\"bindingErrors\":[{\"name\":\"a\","
        "\"msg\":\"b\"}],\"succeeded\":false},\"executeAt\":1719800000000,"
        "\"retrySpec\":{\"maxRetries\":10,\"minBackoff\":180,"
        "\"executionTimeout\":120},\"retryState\":{\"retries\":0,"
        "\"retryAt\":1719800000000,\"timeoutAt\":1719800120000,"
        "\"nextRetryAt\":1719800180000},\"status\":\"FAILED\","
        "\"recoverable\":\"UNKNOWN\",\"isBelowRetryThreshold\":true,"
        "\"isRetryable\":true}");
    json_decref(j);

    /* creating an existing id: expected version 0 != 1 */
    EXEC_CTX(&agg, CF_CMD_CREATE_EXECUTION_FAILED, cf_t_create_body, T0, -1,
             NULL, CF_E_EXPECT_VERSION_CONFLICT, 0);
    /* whatever the header says */
    EXEC_CTX(&agg, CF_CMD_CREATE_EXECUTION_FAILED, cf_t_create_body, T0, 1,
             NULL, CF_E_EXPECT_VERSION_CONFLICT, 0);

    cf_aggregate_free(&agg);

    /* the command's own spec drives the retry state ([HEAD]) */
    if (cf_aggregate_init(&agg, "agg-2") != 0) {
        abort();
    }

    j = cf_t_json(cf_t_create_body);
    json_object_set_new(j, "retrySpec",
                        json_pack("{s:i, s:i, s:i}", "maxRetries", 3,
                                  "minBackoff", 10, "executionTimeout", 60));
    json_object_set_new(j, "recoverable", json_string("unrecoverable"));
    s = cf_t_dump(j);
    json_decref(j);

    EXEC_OK(&agg, CF_CMD_CREATE_EXECUTION_FAILED, s, T0);
    free(s);

    CHECK_INT(agg.state.retry_spec.max_retries, 3);
    CHECK_INT(agg.state.retry_spec.min_backoff, 10);
    CHECK_INT(agg.state.retry_spec.execution_timeout, 60);
    CHECK_INT(agg.state.retry_state.retries, 0);
    CHECK_INT(agg.state.retry_state.retry_at, CF_T_EXECUTE_AT);
    CHECK_INT(agg.state.retry_state.next_retry_at, CF_T_EXECUTE_AT + 10000);
    CHECK_INT(agg.state.retry_state.timeout_at, CF_T_EXECUTE_AT + 60000);
    CHECK_INT(agg.state.recoverable, CF_UNRECOVERABLE);

    cf_aggregate_free(&agg);
}


static void
test_create_bad_spec(void)
{
    char            *s;
    json_t          *j;
    cf_aggregate_t   agg;

    if (cf_aggregate_init(&agg, "agg-3") != 0) {
        abort();
    }

    j = cf_t_json(cf_t_create_body);

    json_object_set_new(j, "retrySpec",
                        json_pack("{s:i, s:i, s:i}", "maxRetries", -1,
                                  "minBackoff", 10, "executionTimeout", 60));
    s = cf_t_dump(j);
    EXEC_FAIL(&agg, CF_CMD_CREATE_EXECUTION_FAILED, s, T0,
              CF_E_ILLEGAL_ARGUMENT,
              "maxRetries must be greater than or equal to 0.", 1);
    free(s);

    json_object_set_new(j, "retrySpec",
                        json_pack("{s:i, s:i, s:i}", "maxRetries", 32,
                                  "minBackoff", INT32_MAX,
                                  "executionTimeout", 60));
    s = cf_t_dump(j);
    EXEC_FAIL(&agg, CF_CMD_CREATE_EXECUTION_FAILED, s, T0, CF_E_BAD_REQUEST,
              "long overflow", 1);
    free(s);

    /* executeAt near the end of time: the retry state overflows */
    json_object_del(j, "retrySpec");
    json_object_set_new(j, "executeAt", json_integer(INT64_MAX - 1000));
    s = cf_t_dump(j);
    EXEC_FAIL(&agg, CF_CMD_CREATE_EXECUTION_FAILED, s, T0, CF_E_BAD_REQUEST,
              "long overflow", 1);
    free(s);

    /* a binding error never reaches decide */
    EXEC_FAIL(&agg, CF_CMD_CREATE_EXECUTION_FAILED, NULL, T0,
              CF_E_ILLEGAL_ARGUMENT, "Command can not be empty.", -1);

    json_decref(j);

    CHECK_INT(agg.version, 0);

    cf_aggregate_free(&agg);
}


static void
test_generic_checks(void)
{
    int              i;
    cf_error_t       err;
    cf_aggregate_t   agg;

    /* not initialized */
    if (cf_aggregate_init(&agg, "ghost") != 0) {
        abort();
    }

    for (i = 1; i < CF_CMD__COUNT; i++) {
        EXEC_FAIL(&agg, (cf_command_type_t) i, i == 3 ? "{\"executeAt\":1}"
                  : i == 5 ? "{\"maxRetries\":1,\"minBackoff\":1,"
                             "\"executionTimeout\":1}"
                  : i == 6 ? "{\"functionKind\":\"EVENT\",\"contextName\":"
                             "\"c\",\"processorName\":\"p\",\"name\":\"n\"}"
                  : i == 7 ? "{\"recoverable\":\"UNKNOWN\"}"
                  : i == 4 ? "{\"executeAt\":1,\"error\":{\"errorCode\":"
                             "\"a\",\"errorMsg\":\"b\",\"stackTrace\":"
                             "\"c\"}}"
                  : i == CF_CMD_APPLY_RESOURCE_TAGS ? "{\"tags\":{}}"
                  : NULL, T0, CF_E_NOT_FOUND,
                  "ghost is not initialized.", 0);
    }

    /* the expected version is checked first */
    EXEC_CTX(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, T0, 1, NULL,
             CF_E_EXPECT_VERSION_CONFLICT, 0);
    EXEC_CTX(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, T0, 0, NULL,
             CF_E_NOT_FOUND, 0);

    cf_aggregate_free(&agg);

    cf_t_created(&agg);
    EXEC_OK(&agg, CF_CMD_MARK_RECOVERABLE, "{\"recoverable\":\"RECOVERABLE\"}",
            T0);

    /* version */
    {
        int  h;

        cf_error_init(&err);
        CHECK_INT(cf_t_exec(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, T0, 3,
                            NULL, &err, &h), -1);
        CHECK_STR(err.code, CF_E_EXPECT_VERSION_CONFLICT);
        CHECK_STR(err.msg, "Expected version 3 does not match current "
                           "version 2.");
        CHECK_INT(cf_error_http_status(err.code), 409);
        CHECK_INT(h, 0);
        cf_error_free(&err);
    }

    EXEC_CTX(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, T0, 1, NULL,
             CF_E_EXPECT_VERSION_CONFLICT, 0);
    EXEC_CTX(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, T0, 2, NULL, NULL, 0);
    CHECK_INT(agg.version, 3);

    /* owner: any non-blank owner differs from "" */
    EXEC_CTX(&agg, CF_CMD_FORCE_PREPARE_COMPENSATION, NULL, INT64_MAX - 1,
             -1, "someone", CF_E_OWNER_AGGREGATE, 0);
    CHECK_INT(cf_error_http_status(CF_E_OWNER_AGGREGATE), 403);
    EXEC_CTX(&agg, CF_CMD_DELETE_AGGREGATE, NULL, T0, -1, " x ",
             CF_E_OWNER_AGGREGATE, 0);
    EXEC_CTX(&agg, CF_CMD_CREATE_EXECUTION_FAILED, cf_t_create_body, T0, -1,
             "someone", CF_E_EXPECT_VERSION_CONFLICT, 0);

    /* blank owners are no owner */
    EXEC_CTX(&agg, CF_CMD_MARK_RECOVERABLE, "{\"recoverable\":\"UNKNOWN\"}",
             T0, -1, "", NULL, 0);
    EXEC_CTX(&agg, CF_CMD_MARK_RECOVERABLE, "{\"recoverable\":\"RECOVERABLE\"}",
             T0, -1, " \t", NULL, 0);

    /* an owned aggregate accepts its owner */
    free(agg.owner_id);
    agg.owner_id = strdup("o1");
    EXEC_CTX(&agg, CF_CMD_MARK_RECOVERABLE, "{\"recoverable\":\"UNKNOWN\"}",
             T0, -1, "o1", NULL, 0);
    EXEC_CTX(&agg, CF_CMD_MARK_RECOVERABLE, "{\"recoverable\":\"RECOVERABLE\"}",
             T0, -1, "o2", CF_E_OWNER_AGGREGATE, 0);
    EXEC_CTX(&agg, CF_CMD_MARK_RECOVERABLE, "{\"recoverable\":\"RECOVERABLE\"}",
             T0, -1, NULL, NULL, 0);

    cf_aggregate_free(&agg);
}


static void
test_delete_recover(void)
{
    int              i;
    char             body[512];
    cf_aggregate_t   agg;

    static const char *const  bodies[CF_CMD__COUNT] = {
        NULL, NULL, NULL,
        "{\"executeAt\":1}",
        NULL,
        "{\"maxRetries\":1,\"minBackoff\":1,\"executionTimeout\":1}",
        "{\"functionKind\":\"EVENT\",\"contextName\":\"c\","
        "\"processorName\":\"p\",\"name\":\"n\"}",
        "{\"recoverable\":\"RECOVERABLE\"}",
        NULL, NULL,
        "{\"tags\":{\"dept\":[\"eng\"]}}"
    };

    cf_t_created(&agg);

    /* recover on a live aggregate: IllegalState, before the handler */
    EXEC_FAIL(&agg, CF_CMD_RECOVER_AGGREGATE, NULL, T0, CF_E_ILLEGAL_STATE,
              NULL, 0);

    EXEC_OK(&agg, CF_CMD_DELETE_AGGREGATE, NULL, T0);
    CHECK(agg.deleted);
    CHECK_INT(agg.version, 2);

    failed_body(body, sizeof(body), 1);

    for (i = 1; i < CF_CMD__COUNT; i++) {
        if (i == CF_CMD_RECOVER_AGGREGATE) {
            continue;
        }

        EXEC_FAIL(&agg, (cf_command_type_t) i,
                  i == CF_CMD_APPLY_EXECUTION_FAILED ? body : bodies[i],
                  T0, CF_E_DELETED_AGGREGATE, NULL, 0);
    }

    CHECK_INT(cf_error_http_status(CF_E_DELETED_AGGREGATE), 410);

    /* create on a deleted id is still a version conflict */
    EXEC_FAIL(&agg, CF_CMD_CREATE_EXECUTION_FAILED, cf_t_create_body, T0,
              CF_E_EXPECT_VERSION_CONFLICT, NULL, 0);

    /* the owner is checked before deletion */
    EXEC_CTX(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, T0, -1, "x",
             CF_E_OWNER_AGGREGATE, 0);

    EXEC_OK(&agg, CF_CMD_RECOVER_AGGREGATE, "{\"ignored\":true}", T0);
    CHECK(!agg.deleted);
    CHECK_INT(agg.version, 3);

    EXEC_FAIL(&agg, CF_CMD_RECOVER_AGGREGATE, NULL, T0, CF_E_ILLEGAL_STATE,
              NULL, 0);

    /* the state survived */
    EXEC_OK(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, T0);
    CHECK_INT(agg.state.status, CF_STATUS_PREPARED);

    /* a successful execution can still be deleted */
    EXEC_OK(&agg, CF_CMD_APPLY_EXECUTION_SUCCESS, "{\"executeAt\":2}", T0);
    EXEC_OK(&agg, CF_CMD_DELETE_AGGREGATE, NULL, T0);
    EXEC_FAIL(&agg, CF_CMD_DELETE_AGGREGATE, NULL, T0,
              CF_E_DELETED_AGGREGATE, NULL, 0);

    cf_aggregate_free(&agg);
}


/* spec 2.10: create -> prepare -> failed -> prepare -> success */
static void
test_state_machine(void)
{
    char             body[512];
    int64_t          now, t1;
    json_t           *old_error;
    cf_retry_state_t  rs;
    cf_aggregate_t   agg;

    cf_t_created(&agg);

    /* FAILED -> PREPARED */
    now = CF_T_EXECUTE_AT + 1000;
    EXEC_OK(&agg, CF_CMD_PREPARE_COMPENSATION, "{}", now);
    CHECK_INT(agg.state.status, CF_STATUS_PREPARED);
    CHECK_INT(agg.state.retry_state.retries, 1);
    CHECK_INT(agg.state.retry_state.retry_at, now);
    CHECK_INT(agg.state.retry_state.next_retry_at, now + 360000);
    CHECK_INT(agg.state.retry_state.timeout_at, now + 120000);

    /* a second prepare inside the execution window fails */
    EXEC_FAIL(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, now + 1,
              CF_E_ILLEGAL_STATE, "ExecutionFailed can not retry.", 1);
    EXEC_FAIL(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, now + 120000,
              CF_E_ILLEGAL_STATE, "ExecutionFailed can not retry.", 1);
    EXEC_FAIL(&agg, CF_CMD_FORCE_PREPARE_COMPENSATION, NULL, now + 120000,
              CF_E_ILLEGAL_STATE, "ExecutionFailed can not force retry.", 1);

    /* the attempt reports failure: back to FAILED, retryState kept */
    rs = agg.state.retry_state;
    failed_body(body, sizeof(body), now + 500);
    EXEC_OK(&agg, CF_CMD_APPLY_EXECUTION_FAILED, body, now + 600);
    CHECK_INT(agg.state.status, CF_STATUS_FAILED);
    CHECK_INT(agg.state.execute_at, now + 500);
    CHECK_INT(agg.state.recoverable, CF_RECOVERABLE);
    CHECK_INT(agg.state.retry_state.next_retry_at, rs.next_retry_at);
    CHECK_INT(agg.state.retry_state.retries, 1);
    CHECK_JSON(agg.state.error, "{\"errorCode\":\"E2\",\"errorMsg\":"
                                "\"again\",\"stackTrace\":\"st2\"}");

    /* FAILED: apply results need PREPARED */
    EXEC_FAIL(&agg, CF_CMD_APPLY_EXECUTION_SUCCESS, "{\"executeAt\":1}",
              now, CF_E_ILLEGAL_STATE, "ExecutionFailed is not prepared.", 1);
    EXEC_FAIL(&agg, CF_CMD_APPLY_EXECUTION_FAILED, body, now,
              CF_E_ILLEGAL_STATE, "ExecutionFailed is not prepared.", 1);

    /* FAILED -> PREPARED again */
    t1 = now + 1000;
    EXEC_OK(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, t1);
    CHECK_INT(agg.state.retry_state.retries, 2);
    CHECK_INT(agg.state.retry_state.next_retry_at, t1 + 720000);

    /* PREPARED -> SUCCEEDED; error, retryState, recoverable are kept */
    old_error = json_incref(agg.state.error);
    rs = agg.state.retry_state;
    EXEC_OK(&agg, CF_CMD_APPLY_EXECUTION_SUCCESS,
            "{\"executeAt\":1719800999999}", t1 + 10);
    CHECK_INT(agg.state.status, CF_STATUS_SUCCEEDED);
    CHECK_INT(agg.state.execute_at, 1719800999999LL);
    CHECK(json_equal(agg.state.error, old_error));
    CHECK_INT(agg.state.retry_state.next_retry_at, rs.next_retry_at);
    CHECK_INT(agg.state.recoverable, CF_RECOVERABLE);
    CHECK(!cf_state_is_retryable(&agg.state));
    json_decref(old_error);

    /* SUCCEEDED is terminal */
    EXEC_FAIL(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, INT64_MAX,
              CF_E_ILLEGAL_STATE, "ExecutionFailed can not retry.", 1);
    EXEC_FAIL(&agg, CF_CMD_FORCE_PREPARE_COMPENSATION, NULL, INT64_MAX,
              CF_E_ILLEGAL_STATE, "ExecutionFailed can not force retry.", 1);
    EXEC_FAIL(&agg, CF_CMD_APPLY_EXECUTION_SUCCESS, "{\"executeAt\":1}",
              INT64_MAX, CF_E_ILLEGAL_STATE,
              "ExecutionFailed is not prepared.", 1);
    EXEC_FAIL(&agg, CF_CMD_APPLY_EXECUTION_FAILED, body, INT64_MAX,
              CF_E_ILLEGAL_STATE, "ExecutionFailed is not prepared.", 1);

    /* but spec, function and recoverable still change */
    EXEC_OK(&agg, CF_CMD_APPLY_RETRY_SPEC,
            "{\"maxRetries\":20,\"minBackoff\":1,\"executionTimeout\":1}",
            t1 + 20);
    CHECK_INT(agg.state.status, CF_STATUS_SUCCEEDED);
    CHECK(!cf_state_is_retryable(&agg.state));
    EXEC_OK(&agg, CF_CMD_MARK_RECOVERABLE, "{\"recoverable\":\"UNKNOWN\"}",
            t1 + 30);
    EXEC_OK(&agg, CF_CMD_CHANGE_FUNCTION,
            "{\"functionKind\":\"STATE_EVENT\",\"contextName\":\"c\","
            "\"processorName\":\"p\",\"name\":\"n\"}", t1 + 40);
    CHECK_INT(agg.state.status, CF_STATUS_SUCCEEDED);

    cf_aggregate_free(&agg);
}


static void
test_prepare_timeout(void)
{
    int64_t          now;
    cf_aggregate_t   agg;

    cf_t_created(&agg);

    now = CF_T_EXECUTE_AT + 1000;
    EXEC_OK(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, now);

    /* at timeoutAt exactly it has not timed out; one ms later it has */
    EXEC_FAIL(&agg, CF_CMD_PREPARE_COMPENSATION, NULL,
              agg.state.retry_state.timeout_at, CF_E_ILLEGAL_STATE, NULL, 1);

    now = agg.state.retry_state.timeout_at + 1;
    EXEC_OK(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, now);
    CHECK_INT(agg.state.status, CF_STATUS_PREPARED);
    CHECK_INT(agg.state.retry_state.retries, 2);
    CHECK_INT(agg.state.retry_state.retry_at, now);
    CHECK_INT(agg.state.retry_state.timeout_at, now + 120000);

    /* force prepare on a timed out PREPARED works too */
    now = agg.state.retry_state.timeout_at + 1;
    EXEC_OK(&agg, CF_CMD_FORCE_PREPARE_COMPENSATION, NULL, now);
    CHECK_INT(agg.state.retry_state.retries, 3);

    cf_aggregate_free(&agg);
}


/* the worked example of spec 1.4, through the commands */
static void
test_exhaust_and_force(void)
{
    int              k;
    int64_t          now;
    json_t          *j;
    cf_aggregate_t   agg;

    cf_t_created(&agg);

    now = CF_T_EXECUTE_AT;

    for (k = 1; k <= 10; k++) {
        now = agg.state.retry_state.timeout_at + 1;

        EXEC_OK(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, now);

        CHECK_INT(agg.state.retry_state.retries, k);
        CHECK_INT(agg.state.retry_state.retry_at, now);
        CHECK_INT(agg.state.retry_state.next_retry_at,
                  now + 180LL * (1LL << k) * 1000);
        CHECK_INT(agg.state.retry_state.timeout_at, now + 120000);

        if (k == 9) {
            CHECK_INT(agg.state.retry_state.next_retry_at - now,
                      92160000LL);
        }

        CHECK_INT(cf_state_is_retryable(&agg.state), k < 10);
    }

    CHECK_INT(agg.version, 11);
    CHECK(!cf_state_is_below_retry_threshold(&agg.state));

    j = cf_state_to_json(&agg.state);
    CHECK_JSON(json_object_get(j, "isRetryable"), "false");
    CHECK_JSON(json_object_get(j, "isBelowRetryThreshold"), "false");
    json_decref(j);

    /* exhausted: prepare refuses even when timed out, force goes on */
    now = agg.state.retry_state.timeout_at + 1;
    EXEC_FAIL(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, now,
              CF_E_ILLEGAL_STATE, "ExecutionFailed can not retry.", 1);

    EXEC_OK(&agg, CF_CMD_FORCE_PREPARE_COMPENSATION, NULL, now);
    CHECK_INT(agg.state.retry_state.retries, 11);
    CHECK_INT(agg.state.retry_state.next_retry_at,
              now + 180LL * 2048 * 1000);

    /* raising maxRetries revives it; retryState is not recomputed */
    now = agg.state.retry_state.timeout_at + 1;
    {
        cf_retry_state_t  rs = agg.state.retry_state;

        EXEC_OK(&agg, CF_CMD_APPLY_RETRY_SPEC,
                "{\"maxRetries\":20,\"minBackoff\":1,"
                "\"executionTimeout\":5}", now);
        CHECK_INT(agg.state.retry_spec.max_retries, 20);
        CHECK_INT(agg.state.retry_spec.min_backoff, 1);
        CHECK_INT(agg.state.retry_state.next_retry_at, rs.next_retry_at);
        CHECK_INT(agg.state.retry_state.timeout_at, rs.timeout_at);
        CHECK_INT(agg.state.retry_state.retries, 11);
    }

    CHECK(cf_state_is_retryable(&agg.state));

    EXEC_OK(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, now);
    CHECK_INT(agg.state.retry_state.retries, 12);
    /* the new spec applies from this prepare on */
    CHECK_INT(agg.state.retry_state.next_retry_at, now + 4096LL * 1000);
    CHECK_INT(agg.state.retry_state.timeout_at, now + 5000);

    cf_aggregate_free(&agg);
}


static void
test_retry_spec_command(void)
{
    cf_aggregate_t   agg;

    cf_t_created(&agg);

    EXEC_FAIL(&agg, CF_CMD_APPLY_RETRY_SPEC,
              "{\"maxRetries\":-1,\"minBackoff\":1,\"executionTimeout\":1}",
              T0, CF_E_ILLEGAL_ARGUMENT,
              "maxRetries must be greater than or equal to 0.", 1);
    EXEC_FAIL(&agg, CF_CMD_APPLY_RETRY_SPEC,
              "{\"maxRetries\":1,\"minBackoff\":-1,\"executionTimeout\":1}",
              T0, CF_E_ILLEGAL_ARGUMENT,
              "minBackoff must be greater than or equal to 0.", 1);
    EXEC_FAIL(&agg, CF_CMD_APPLY_RETRY_SPEC,
              "{\"maxRetries\":1,\"minBackoff\":1,\"executionTimeout\":-1}",
              T0, CF_E_ILLEGAL_ARGUMENT,
              "executionTimeout must be greater than or equal to 0.", 1);
    EXEC_FAIL(&agg, CF_CMD_APPLY_RETRY_SPEC,
              "{\"maxRetries\":32,\"minBackoff\":2147483647,"
              "\"executionTimeout\":1}",
              T0, CF_E_BAD_REQUEST, "long overflow", 1);
    EXEC_FAIL(&agg, CF_CMD_APPLY_RETRY_SPEC,
              "{\"maxRetries\":32,\"minBackoff\":2147483648,"
              "\"executionTimeout\":1}",
              T0, CF_E_ILLEGAL_ARGUMENT, NULL, -1);

    /* the same spec again is allowed (no precondition) */
    EXEC_OK(&agg, CF_CMD_APPLY_RETRY_SPEC,
            "{\"maxRetries\":10,\"minBackoff\":180,\"executionTimeout\":120}",
            T0);
    CHECK_INT(agg.version, 2);

    /* forcing past a spec's safe range overflows cleanly */
    EXEC_OK(&agg, CF_CMD_APPLY_RETRY_SPEC,
            "{\"maxRetries\":0,\"minBackoff\":2147483647,"
            "\"executionTimeout\":0}", T0);
    agg.state.retry_state.retries = 22;
    EXEC_FAIL(&agg, CF_CMD_FORCE_PREPARE_COMPENSATION, NULL, T0,
              CF_E_BAD_REQUEST, "long overflow", 1);

    agg.state.retry_state.retries = INT32_MAX;
    EXEC_FAIL(&agg, CF_CMD_FORCE_PREPARE_COMPENSATION, NULL, T0,
              CF_E_BAD_REQUEST, NULL, 1);

    /* a damaged stored spec is refused, not computed with */
    agg.state.retry_state.retries = 0;
    agg.state.retry_spec.min_backoff = -1;
    EXEC_FAIL(&agg, CF_CMD_FORCE_PREPARE_COMPENSATION, NULL, T0,
              CF_E_ILLEGAL_ARGUMENT, NULL, 1);

    cf_aggregate_free(&agg);
}


static void
test_function_and_recoverable(void)
{
    cf_aggregate_t   agg;

    cf_t_created(&agg);

    EXEC_FAIL(&agg, CF_CMD_CHANGE_FUNCTION,
              "{\"name\":\"onOrderCreated\",\"processorName\":"
              "\"OrderProjector\",\"contextName\":\"order-service\","
              "\"functionKind\":\"event\"}", T0, CF_E_ILLEGAL_ARGUMENT,
              "ExecutionFailed function is already changed to "
              "FunctionInfoData(functionKind=EVENT, "
              "contextName=order-service, processorName=OrderProjector, "
              "name=onOrderCreated).", 1);

    /* any one field differing is a change */
    EXEC_OK(&agg, CF_CMD_CHANGE_FUNCTION,
            "{\"name\":\"onOrderCreated\",\"processorName\":"
            "\"OrderProjector\",\"contextName\":\"order-service\","
            "\"functionKind\":\"STATE_EVENT\"}", T0);
    CHECK_JSON(agg.state.function,
               "{\"functionKind\":\"STATE_EVENT\","
               "\"contextName\":\"order-service\","
               "\"processorName\":\"OrderProjector\","
               "\"name\":\"onOrderCreated\"}");
    EXEC_OK(&agg, CF_CMD_CHANGE_FUNCTION,
            "{\"name\":\"onOrderCreated\",\"processorName\":"
            "\"OrderProjector\",\"contextName\":\"order-service2\","
            "\"functionKind\":\"STATE_EVENT\"}", T0);
    /* functionKind is not validated (spec 2.7) */
    EXEC_OK(&agg, CF_CMD_CHANGE_FUNCTION,
            "{\"name\":\"x\",\"processorName\":\"y\",\"contextName\":\"z\","
            "\"functionKind\":\"COMMAND\"}", T0);

    /* recoverable: UNKNOWN at creation */
    EXEC_FAIL(&agg, CF_CMD_MARK_RECOVERABLE, "{\"recoverable\":\"unknown\"}",
              T0, CF_E_ILLEGAL_ARGUMENT,
              "ExecutionFailed recoverable is already marked to UNKNOWN.", 1);
    EXEC_OK(&agg, CF_CMD_MARK_RECOVERABLE,
            "{\"recoverable\":\"UNRECOVERABLE\"}", T0);
    CHECK_INT(agg.state.recoverable, CF_UNRECOVERABLE);
    EXEC_FAIL(&agg, CF_CMD_MARK_RECOVERABLE,
              "{\"recoverable\":\"Unrecoverable\"}", T0,
              CF_E_ILLEGAL_ARGUMENT,
              "ExecutionFailed recoverable is already marked to "
              "UNRECOVERABLE.", 1);

    cf_aggregate_free(&agg);
}


static void
test_event_bodies(void)
{
    int               h;
    json_t           *b;
    cf_error_t        err;
    cf_event_t        ev;
    cf_command_t      cmd;
    cf_aggregate_t    agg;
    cf_decide_ctx_t   ctx;

    if (cf_aggregate_init(&agg, "ev") != 0) {
        abort();
    }

    ctx.now = 5;
    ctx.default_spec = NULL;        /* the built-in 10/180/120 */
    ctx.owner_id = NULL;
    ctx.expected_version = -1;

    cf_error_init(&err);

    b = cf_t_json(cf_t_create_body);
    CHECK_INT(cf_command_bind(CF_CMD_CREATE_EXECUTION_FAILED, b, &cmd, &err),
              0);
    json_decref(b);

    CHECK_INT(cf_decide(&agg, &cmd, &ctx, &ev, &err, &h), 0);
    CHECK_INT(ev.type, CF_EV_EXECUTION_FAILED_CREATED);
    CHECK_INT(h, 1);
    CHECK_JSON(ev.body,
        "{\"eventId\":{\"id\":\"0U2mSzz10001001\",\"aggregateId\":"
        "{\"contextName\":\"order-service\",\"aggregateName\":\"order\","
        "\"aggregateId\":\"0U2mSz9k0001000\",\"tenantId\":\"(0)\"},"
        "\"version\":1},\"function\":{\"functionKind\":\"EVENT\","
        "\"contextName\":\"order-service\","
        "\"processorName\":\"OrderProjector\","
        "\"name\":\"onOrderCreated\"},\"error\":{\"errorCode\":"
        "\"BadRequest\",\"errorMsg\":\"boom\",\"stackTrace\":"
        "\"java.lang...\",\"bindingErrors\":[{\"name\":\"a\","
        "\"msg\":\"b\"}],\"succeeded\":false},"
        "\"executeAt\":1719800000000,\"retryState\":{\"retries\":0,"
        "\"retryAt\":1719800000000,\"timeoutAt\":1719800120000,"
        "\"nextRetryAt\":1719800180000},\"retrySpec\":{\"maxRetries\":10,"
        "\"minBackoff\":180,\"executionTimeout\":120},"
        "\"recoverable\":\"UNKNOWN\"}");

    /* decide does not touch the aggregate */
    CHECK_INT(agg.version, 0);
    CHECK(agg.state.event_id == NULL);

    {
        cf_stream_meta_t  meta = { "s1", 1, 5, "" };

        CHECK_INT(cf_aggregate_apply(&agg, &meta, ev.type, ev.body, &err),
                  0);
    }

    cf_event_free(&ev);
    CHECK(ev.body == NULL);
    cf_command_free(&cmd);

    /* prepare */
    CHECK_INT(cf_command_bind(CF_CMD_PREPARE_COMPENSATION, NULL, &cmd, &err),
              0);
    ctx.now = 1719800000000LL + 1;
    CHECK_INT(cf_decide(&agg, &cmd, &ctx, &ev, &err, &h), 0);
    CHECK_INT(ev.type, CF_EV_COMPENSATION_PREPARED);
    CHECK_JSON(ev.body,
        "{\"eventId\":{\"id\":\"0U2mSzz10001001\",\"aggregateId\":"
        "{\"contextName\":\"order-service\",\"aggregateName\":\"order\","
        "\"aggregateId\":\"0U2mSz9k0001000\",\"tenantId\":\"(0)\"},"
        "\"version\":1},\"function\":{\"functionKind\":\"EVENT\","
        "\"contextName\":\"order-service\","
        "\"processorName\":\"OrderProjector\","
        "\"name\":\"onOrderCreated\"},\"retryState\":{\"retries\":1,"
        "\"retryAt\":1719800000001,\"timeoutAt\":1719800120001,"
        "\"nextRetryAt\":1719800360001}}");

    {
        cf_stream_meta_t  meta = { "s2", 2, 6, "" };

        CHECK_INT(cf_aggregate_apply(&agg, &meta, ev.type, ev.body, &err),
                  0);
    }

    cf_event_free(&ev);
    cf_command_free(&cmd);

    /* failed: the error carries "succeeded" as serialized */
    b = cf_t_json("{\"error\":{\"errorCode\":\"Ok\",\"errorMsg\":\"\","
                  "\"stackTrace\":\"\"},\"executeAt\":3}");
    CHECK_INT(cf_command_bind(CF_CMD_APPLY_EXECUTION_FAILED, b, &cmd, &err),
              0);
    json_decref(b);
    CHECK_INT(cf_decide(&agg, &cmd, &ctx, &ev, &err, &h), 0);
    CHECK_INT(ev.type, CF_EV_EXECUTION_FAILED_APPLIED);
    CHECK_JSON(ev.body, "{\"error\":{\"errorCode\":\"Ok\",\"errorMsg\":\"\","
                        "\"stackTrace\":\"\",\"succeeded\":true},"
                        "\"executeAt\":3,\"recoverable\":\"UNKNOWN\"}");
    cf_event_free(&ev);
    cf_command_free(&cmd);

    /* delete: {} */
    CHECK_INT(cf_command_bind(CF_CMD_DELETE_AGGREGATE, NULL, &cmd, &err), 0);
    CHECK_INT(cf_decide(&agg, &cmd, &ctx, &ev, &err, &h), 0);
    CHECK_INT(ev.type, CF_EV_AGGREGATE_DELETED);
    CHECK_JSON(ev.body, "{}");
    cf_event_free(&ev);

    /* in_handler may be NULL; a hand-made body is re-validated */
    json_decref(cmd.body);
    cmd.type = CF_CMD_MARK_RECOVERABLE;
    cmd.body = cf_t_json("{\"recoverable\":7}");
    CHECK_INT(cf_decide(&agg, &cmd, &ctx, &ev, &err, NULL), -1);
    CHECK_STR(err.code, CF_E_ILLEGAL_ARGUMENT);
    CHECK(ev.body == NULL);
    cf_error_free(&err);
    cf_command_free(&cmd);

    cf_error_init(&err);
    cmd.type = (cf_command_type_t) 99;
    cmd.body = NULL;
    CHECK_INT(cf_decide(&agg, &cmd, &ctx, &ev, &err, &h), -1);
    CHECK_STR(err.code, CF_E_ILLEGAL_ARGUMENT);
    cf_error_free(&err);

    cf_aggregate_free(&agg);
}


static void
test_resource_tags(void)
{
    char            *s;
    cf_aggregate_t   agg;

    cf_t_created(&agg);
    CHECK(agg.tags == NULL);

    /* any state: FAILED here; the event carries the tags as bound */
    EXEC_OK(&agg, CF_CMD_APPLY_RESOURCE_TAGS,
            "{\"tags\":{\"dept\":[\"eng\",\"pm\"]},\"x\":1}", T0);
    CHECK_INT(agg.version, 2);
    s = cf_t_dump(agg.tags);
    CHECK_STR(s, "{\"dept\":[\"eng\",\"pm\"]}");
    free(s);
    CHECK_INT(agg.state.status, CF_STATUS_FAILED);

    /* the next tags replace the former ones; {} clears them */
    EXEC_OK(&agg, CF_CMD_APPLY_RESOURCE_TAGS,
            "{\"tags\":{\"role\":[\"admin\"]}}", T0);
    s = cf_t_dump(agg.tags);
    CHECK_STR(s, "{\"role\":[\"admin\"]}");
    free(s);
    EXEC_OK(&agg, CF_CMD_APPLY_RESOURCE_TAGS, "{\"tags\":{}}", T0);
    s = cf_t_dump(agg.tags);
    CHECK_STR(s, "{}");
    free(s);

    /* a bad body is refused before the handler */
    EXEC_FAIL(&agg, CF_CMD_APPLY_RESOURCE_TAGS, "{\"tags\":{\"a\":\"b\"}}",
              T0, CF_E_ILLEGAL_ARGUMENT, NULL, -1);

    /* owner 403, deleted 410 */
    EXEC_CTX(&agg, CF_CMD_APPLY_RESOURCE_TAGS, "{\"tags\":{}}", T0, -1,
             "someone", CF_E_OWNER_AGGREGATE, 0);
    EXEC_OK(&agg, CF_CMD_DELETE_AGGREGATE, NULL, T0);
    EXEC_FAIL(&agg, CF_CMD_APPLY_RESOURCE_TAGS, "{\"tags\":{}}", T0,
              CF_E_DELETED_AGGREGATE, NULL, 0);

    cf_aggregate_free(&agg);
}


const cf_test_t  cf_tests_decide[] = {
    { "decide: create, chosen spec drives the retry state ([HEAD])",
      test_create },
    { "decide: create with a bad spec or empty body", test_create_bad_spec },
    { "decide: generic checks (version 409, NotFound, owner 403)",
      test_generic_checks },
    { "decide: delete (410 for all), recover, recover on live 400",
      test_delete_recover },
    { "decide: FAILED->PREPARED->FAILED->PREPARED->SUCCEEDED, terminal",
      test_state_machine },
    { "decide: prepare on PREPARED only after the timeout (strict)",
      test_prepare_timeout },
    { "decide: retries exhausted, force 10->11, retry spec revives",
      test_exhaust_and_force },
    { "decide: apply_retry_spec validation and overflow",
      test_retry_spec_command },
    { "decide: change_function and mark_recoverable preconditions",
      test_function_and_recoverable },
    { "decide: event bodies on the wire", test_event_bodies },
    { "decide: apply_resource_tags (generic checks, event, sourcing)",
      test_resource_tags },
    { NULL, NULL }
};
