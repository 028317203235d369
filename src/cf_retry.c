
/*
 * ngx_compensation: backoff and timeout arithmetic (spec 1.4, the [HEAD]
 * behaviour: negative inputs are rejected, every step is overflow-checked
 * 64-bit arithmetic, 2^retries is exact).
 */


#include "cf_domain.h"


/* 2^63 does not fit in int64_t */
#define CF_MAX_SHIFT  63


int
cf_next_retry_at(int64_t min_backoff, int64_t retries, int64_t base,
    int64_t *out)
{
    int64_t  factor, ms;

    if (min_backoff < 0 || retries < 0) {
        return CF_ARITH_ARGUMENT;
    }

    if (min_backoff == 0) {
        *out = base;
        return CF_ARITH_OK;
    }

    if (retries >= CF_MAX_SHIFT) {
        return CF_ARITH_OVERFLOW;
    }

    factor = (int64_t) 1 << retries;

    if (__builtin_mul_overflow(min_backoff, factor, &ms)
        || __builtin_mul_overflow(ms, (int64_t) 1000, &ms)
        || __builtin_add_overflow(base, ms, out))
    {
        return CF_ARITH_OVERFLOW;
    }

    return CF_ARITH_OK;
}


int
cf_next_retry_state(const cf_retry_spec_t *spec, int32_t retries,
    int64_t retry_at, cf_retry_state_t *out)
{
    int      rc;
    int64_t  next, timeout, ms;

    if (retries < 0 || spec->min_backoff < 0 || spec->execution_timeout < 0) {
        return CF_ARITH_ARGUMENT;
    }

    rc = cf_next_retry_at(spec->min_backoff, retries, retry_at, &next);
    if (rc != CF_ARITH_OK) {
        return rc;
    }

    /* 64-bit: the seed-era 32-bit product overflowed after ~24.8 days */
    if (__builtin_mul_overflow((int64_t) spec->execution_timeout,
                               (int64_t) 1000, &ms)
        || __builtin_add_overflow(retry_at, ms, &timeout))
    {
        return CF_ARITH_OVERFLOW;
    }

    out->retries = retries;
    out->retry_at = retry_at;
    out->timeout_at = timeout;
    out->next_retry_at = next;

    return CF_ARITH_OK;
}


int
cf_retry_spec_validate(const cf_retry_spec_t *spec, cf_error_t *err)
{
    cf_retry_state_t  dry;

    if (spec->max_retries < 0) {
        cf_error_set(err, CF_E_ILLEGAL_ARGUMENT,
                     "maxRetries must be greater than or equal to 0.");
        return -1;
    }

    if (spec->min_backoff < 0) {
        cf_error_set(err, CF_E_ILLEGAL_ARGUMENT,
                     "minBackoff must be greater than or equal to 0.");
        return -1;
    }

    if (spec->execution_timeout < 0) {
        cf_error_set(err, CF_E_ILLEGAL_ARGUMENT,
                     "executionTimeout must be greater than or equal to 0.");
        return -1;
    }

    /* the largest backoff the spec can ask for must be representable */
    if (cf_next_retry_state(spec, spec->max_retries, 0, &dry)
        != CF_ARITH_OK)
    {
        cf_error_set(err, CF_E_BAD_REQUEST, "long overflow");
        return -1;
    }

    return 0;
}
