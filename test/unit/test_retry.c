
/*
 * Retry arithmetic (spec 1.4 [HEAD]).
 */


#include "cf_test.h"


static void
test_next_retry_at(void)
{
    int64_t  out;

    CHECK_INT(cf_next_retry_at(180, 0, 1000, &out), CF_ARITH_OK);
    CHECK_INT(out, 1000 + 180000);

    CHECK_INT(cf_next_retry_at(180, 3, 0, &out), CF_ARITH_OK);
    CHECK_INT(out, 180LL * 8 * 1000);

    /* zero backoff is the base, whatever the retries */
    out = -1;
    CHECK_INT(cf_next_retry_at(0, 5, 42, &out), CF_ARITH_OK);
    CHECK_INT(out, 42);
    out = -1;
    CHECK_INT(cf_next_retry_at(0, 63, 42, &out), CF_ARITH_OK);
    CHECK_INT(out, 42);
    out = -1;
    CHECK_INT(cf_next_retry_at(0, INT64_MAX, INT64_MAX, &out), CF_ARITH_OK);
    CHECK_INT(out, INT64_MAX);

    /* negative inputs */
    CHECK_INT(cf_next_retry_at(-1, 0, 0, &out), CF_ARITH_ARGUMENT);
    CHECK_INT(cf_next_retry_at(1, -1, 0, &out), CF_ARITH_ARGUMENT);
    CHECK_INT(cf_next_retry_at(0, -1, 0, &out), CF_ARITH_ARGUMENT);
    CHECK_INT(cf_next_retry_at(INT64_MIN, 0, 0, &out), CF_ARITH_ARGUMENT);

    /* 2^retries with retries >= 63 cannot be represented */
    CHECK_INT(cf_next_retry_at(1, 63, 0, &out), CF_ARITH_OVERFLOW);
    CHECK_INT(cf_next_retry_at(1, 64, 0, &out), CF_ARITH_OVERFLOW);
    CHECK_INT(cf_next_retry_at(1, INT64_MAX, 0, &out), CF_ARITH_OVERFLOW);

    /* 2^62 is representable but 2^62 * 1000 is not */
    CHECK_INT(cf_next_retry_at(1, 62, 0, &out), CF_ARITH_OVERFLOW);

    /* the largest exact power: 2^53 * 1000 < 2^63 - 1 < 2^54 * 1000 */
    CHECK_INT(cf_next_retry_at(1, 53, 0, &out), CF_ARITH_OK);
    CHECK_INT(out, (1LL << 53) * 1000);
    CHECK_INT(cf_next_retry_at(1, 54, 0, &out), CF_ARITH_OVERFLOW);

    /* INT32_MAX backoff: 2^31 * 2^22 * 1000 fits, 2^31 * 2^23 * 1000 not */
    CHECK_INT(cf_next_retry_at(INT32_MAX, 22, 0, &out), CF_ARITH_OK);
    CHECK_INT(out, (int64_t) INT32_MAX * (1LL << 22) * 1000);
    CHECK_INT(cf_next_retry_at(INT32_MAX, 23, 0, &out), CF_ARITH_OVERFLOW);
    CHECK_INT(cf_next_retry_at(INT32_MAX, 32, 0, &out), CF_ARITH_OVERFLOW);

    /* the addition to the base is checked too */
    CHECK_INT(cf_next_retry_at(1, 0, INT64_MAX - 999, &out),
              CF_ARITH_OVERFLOW);
    CHECK_INT(cf_next_retry_at(1, 0, INT64_MAX - 1000, &out), CF_ARITH_OK);
    CHECK_INT(out, INT64_MAX);

    /* a negative base is just a time */
    CHECK_INT(cf_next_retry_at(1, 0, -5000, &out), CF_ARITH_OK);
    CHECK_INT(out, -4000);
    CHECK_INT(cf_next_retry_at(1, 0, INT64_MIN, &out), CF_ARITH_OK);
}


static void
test_next_retry_state(void)
{
    cf_retry_spec_t   spec;
    cf_retry_state_t  rs;

    spec.max_retries = 10;
    spec.min_backoff = 180;
    spec.execution_timeout = 120;

    CHECK_INT(cf_next_retry_state(&spec, 2, 5000, &rs), CF_ARITH_OK);
    CHECK_INT(rs.retries, 2);
    CHECK_INT(rs.retry_at, 5000);
    CHECK_INT(rs.timeout_at, 5000 + 120000);
    CHECK_INT(rs.next_retry_at, 5000 + 720000);

    /* beyond 24.8 days: 64-bit, not the seed-era 32-bit product */
    spec.execution_timeout = INT32_MAX;
    CHECK_INT(cf_next_retry_state(&spec, 0, 1000, &rs), CF_ARITH_OK);
    CHECK_INT(rs.timeout_at, 1000 + (int64_t) INT32_MAX * 1000);

    spec.execution_timeout = 30 * 86400;
    CHECK_INT(cf_next_retry_state(&spec, 0, 0, &rs), CF_ARITH_OK);
    CHECK_INT(rs.timeout_at, 2592000000LL);

    CHECK_INT(cf_next_retry_state(&spec, 0, INT64_MAX, &rs),
              CF_ARITH_OVERFLOW);

    spec.execution_timeout = -1;
    CHECK_INT(cf_next_retry_state(&spec, 0, 0, &rs), CF_ARITH_ARGUMENT);
    spec.execution_timeout = 0;
    CHECK_INT(cf_next_retry_state(&spec, -1, 0, &rs), CF_ARITH_ARGUMENT);
    spec.min_backoff = -1;
    CHECK_INT(cf_next_retry_state(&spec, 0, 0, &rs), CF_ARITH_ARGUMENT);

    spec.min_backoff = 1;
    CHECK_INT(cf_next_retry_state(&spec, 63, 0, &rs), CF_ARITH_OVERFLOW);
    spec.min_backoff = 0;
    CHECK_INT(cf_next_retry_state(&spec, INT32_MAX, 7, &rs), CF_ARITH_OK);
    CHECK_INT(rs.next_retry_at, 7);
    CHECK_INT(rs.timeout_at, 7);
}


static int
validate(int32_t max, int32_t backoff, int32_t timeout, const char *code,
    const char *msg)
{
    int              rc, ok;
    cf_error_t       err;
    cf_retry_spec_t  spec;

    spec.max_retries = max;
    spec.min_backoff = backoff;
    spec.execution_timeout = timeout;

    cf_error_init(&err);

    rc = cf_retry_spec_validate(&spec, &err);

    if (code == NULL) {
        ok = CHECK_INT(rc, 0) && CHECK(cf_error_is_ok(&err));

    } else {
        ok = CHECK_INT(rc, -1) && CHECK_STR(err.code, code)
             && CHECK_STR(err.msg, msg);
    }

    cf_error_free(&err);

    return ok;
}


static void
test_validate(void)
{
    validate(10, 180, 120, NULL, NULL);
    validate(0, 0, 0, NULL, NULL);
    validate(INT32_MAX, 0, INT32_MAX, NULL, NULL);
    validate(53, 1, 0, NULL, NULL);
    validate(22, INT32_MAX, 0, NULL, NULL);

    validate(-1, 180, 120, CF_E_ILLEGAL_ARGUMENT,
             "maxRetries must be greater than or equal to 0.");
    validate(10, -1, 120, CF_E_ILLEGAL_ARGUMENT,
             "minBackoff must be greater than or equal to 0.");
    validate(10, 180, -1, CF_E_ILLEGAL_ARGUMENT,
             "executionTimeout must be greater than or equal to 0.");
    validate(INT32_MIN, INT32_MIN, INT32_MIN, CF_E_ILLEGAL_ARGUMENT,
             "maxRetries must be greater than or equal to 0.");

    /* the spec's test case, and the exact boundaries */
    validate(32, INT32_MAX, 120, CF_E_BAD_REQUEST, "long overflow");
    validate(23, INT32_MAX, 120, CF_E_BAD_REQUEST, "long overflow");
    validate(54, 1, 0, CF_E_BAD_REQUEST, "long overflow");
    validate(63, 1, 0, CF_E_BAD_REQUEST, "long overflow");
    validate(INT32_MAX, 1, 0, CF_E_BAD_REQUEST, "long overflow");

    CHECK_INT(cf_error_http_status(CF_E_BAD_REQUEST), 400);
}


/* spec 1.4: defaults 10 / 180 s / 120 s */
static void
test_worked_example(void)
{
    int               k;
    int64_t           now;
    cf_retry_spec_t   spec = { 10, 180, 120 };
    cf_retry_state_t  rs;

    CHECK_INT(cf_next_retry_state(&spec, 0, CF_T_EXECUTE_AT, &rs),
              CF_ARITH_OK);
    CHECK_INT(rs.retries, 0);
    CHECK_INT(rs.retry_at, CF_T_EXECUTE_AT);
    CHECK_INT(rs.next_retry_at, CF_T_EXECUTE_AT + 180000);
    CHECK_INT(rs.timeout_at, CF_T_EXECUTE_AT + 120000);

    for (k = 1; k <= 10; k++) {
        now = CF_T_EXECUTE_AT + k * 1000000LL;

        CHECK_INT(cf_next_retry_state(&spec, k, now, &rs), CF_ARITH_OK);
        CHECK_INT(rs.retries, k);
        CHECK_INT(rs.retry_at, now);
        CHECK_INT(rs.next_retry_at, now + 180LL * (1LL << k) * 1000);
        CHECK_INT(rs.timeout_at, now + 120000);

        if (k == 1) {
            CHECK_INT(rs.next_retry_at - now, 360000);
        }

        if (k == 2) {
            CHECK_INT(rs.next_retry_at - now, 720000);
        }

        if (k == 9) {
            CHECK_INT(rs.next_retry_at - now, 92160LL * 1000);
        }
    }
}


const cf_test_t  cf_tests_retry[] = {
    { "retry: nextRetryAt edges (zero, negative, 2^63, exact bounds)",
      test_next_retry_at },
    { "retry: nextRetryState, 64-bit execution timeout",
      test_next_retry_state },
    { "retry: spec validation (IllegalArgument, BadRequest)",
      test_validate },
    { "retry: the worked example of spec 1.4", test_worked_example },
    { NULL, NULL }
};
