
/*
 * ngx_compensation: dispatch operations and scheduler leases (see
 * cf_dispatch.h): what every store backend shares (operation ids, the
 * observer of ended operations, claim sizes, the call's parts and
 * outcome).  The statements are the backend's (cf_sqlite_dispatch.c).
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/random.h>

#include "cf_store_backend.h"
#include "cf_json.h"


/* the states an operation ends in, as the observer counts them */
static const char  *cf_dispatch_end_states[CF_DISPATCH_END_N] = {
    "Succeeded", "Completed", "Failed", "Released", "Cancelled", "other"
};

static void  (*cf_dispatch_observer)(const char *state);


/*
 * Random bytes from the kernel's generator (getrandom(2): no file, no
 * blocking once the pool is set up at boot).  Without it (a kernel before
 * 3.17) the bytes still differ per call, per process and over time, which
 * is all an operation id needs (a UNIQUE column catches the rest).
 */
static void
cf_random_bytes(unsigned char *buf, size_t len)
{
    size_t            i;
    ssize_t           n;
    uint64_t          x, z;
    struct timespec   ts;
    static uint64_t   counter;

    while (len > 0) {
        n = getrandom(buf, len, 0);

        if (n > 0) {
            buf += n;
            len -= (size_t) n;
            continue;
        }

        if (n < 0 && errno == EINTR) {
            continue;
        }

        clock_gettime(CLOCK_REALTIME, &ts);

        x = (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec
            + ((uint64_t) getpid() << 40) + ++counter;
        z = 0;

        for (i = 0; i < len; i++) {
            if (i % 8 == 0) {
                /* splitmix64 */
                x += 0x9e3779b97f4a7c15ULL;
                z = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
                z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
                z ^= z >> 31;
            }

            buf[i] = (unsigned char) (z >> (8 * (i % 8)));
        }

        return;
    }
}


/*
 * A version 7 UUID (RFC 9562): the creation time in ms in its first 48
 * bits, 74 random bits.  An operation id is the key of a unique index and,
 * as "<id>:prepare" and "<id>:result", the request id of its two commands
 * in the event stream's request id index: ids that follow the clock are
 * added at the end of those indexes, where random ones (version 4) touched
 * a random page of each per dispatch.  In a retry storm those pages were
 * most of the pages a transaction read and wrote, and the drain 1.5x slower
 * (docs/benchmarks.md, "Retry storms").
 */
void
cf_uuid7(char out[CF_UUID_LEN + 1], int64_t now_ms)
{
    static const char  hex[] = "0123456789abcdef";
    unsigned char      b[16];
    int                i, j;
    uint64_t           ms;

    cf_random_bytes(b + 6, sizeof(b) - 6);

    ms = (uint64_t) now_ms;

    for (i = 0; i < 6; i++) {
        b[i] = (unsigned char) (ms >> (40 - 8 * i));
    }

    b[6] = (b[6] & 0x0f) | 0x70;
    b[8] = (b[8] & 0x3f) | 0x80;

    for (i = 0, j = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[j++] = '-';
        }

        out[j++] = hex[b[i] >> 4];
        out[j++] = hex[b[i] & 0x0f];
    }

    out[j] = '\0';
}


int
cf_uuid_is_valid(const char *s, size_t len)
{
    size_t  i;
    char    c;

    if (len != CF_UUID_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = s[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return 0;
            }
            continue;
        }

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
              || (c >= 'A' && c <= 'F')))
        {
            return 0;
        }
    }

    return 1;
}


int
cf_dispatch_claim_size(int batch, int concurrency, int in_flight)
{
    int  free_slots;

    free_slots = concurrency - in_flight;

    if (free_slots <= 0 || batch <= 0) {
        return 0;
    }

    if (in_flight > 0 && free_slots < (concurrency + 3) / 4) {
        return 0;
    }

    return free_slots < batch ? free_slots : batch;
}


int
cf_dispatch_call_parse(const char *state, cf_dispatch_call_t *call)
{
    json_t  *eid, *agg;

    memset(call, 0, sizeof(cf_dispatch_call_t));

    call->root = cf_json_loads(state, 0, NULL);
    if (call->root == NULL) {
        return -1;
    }

    eid = json_object_get(call->root, "eventId");
    agg = json_object_get(eid, "aggregateId");
    call->function = json_object_get(call->root, "function");

    call->context = json_string_value(json_object_get(agg, "contextName"));
    call->aggregate_name = json_string_value(json_object_get(agg,
                                                         "aggregateName"));
    call->aggregate_id = json_string_value(json_object_get(agg,
                                                           "aggregateId"));
    call->version = json_integer_value(json_object_get(eid, "version"));
    call->attempt = (int32_t) json_integer_value(json_object_get(
                        json_object_get(call->root, "retryState"), "retries"))
                    + 1;

    if (call->context == NULL || call->aggregate_name == NULL
        || call->aggregate_id == NULL || call->function == NULL)
    {
        return -1;
    }

    return 0;
}


int
cf_dispatch_segment_ok(const char *s)
{
    const unsigned char  *p;

    if (s[0] == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0
        || strlen(s) > 256)
    {
        return 0;
    }

    for (p = (const unsigned char *) s; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f || *p == '/' || *p == '?' || *p == '#'
            || *p == '%' || *p == '\\')
        {
            return 0;
        }
    }

    return 1;
}


void
cf_claims_free(cf_claim_t *claims, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        free(claims[i].execution_id);
        free(claims[i].state);
    }

    free(claims);
}


void
cf_dispatch_set_observer(void (*observer)(const char *state))
{
    cf_dispatch_observer = observer;
}


cf_recoverable_t
cf_dispatch_classify(int status)
{
    if (status == 0 || status == 408 || status == 425 || status == 429
        || (status >= 500 && status <= 599))
    {
        return CF_RECOVERABLE;
    }

    if (status >= 400 && status <= 499) {
        return CF_UNRECOVERABLE;
    }

    return CF_RECOVERABLE_UNKNOWN;
}


const char *
cf_dispatch_error_code(int status)
{
    switch (status) {
    case 0:
        return "CompensationCallFailed";
    case 502:
        return "BadGateway";
    case 503:
        return "ServiceUnavailable";
    case 504:
        return "GatewayTimeout";
    case 404:
        return CF_E_NOT_FOUND;
    case 408:
        return CF_E_REQUEST_TIMEOUT;
    case 429:
        return CF_E_TOO_MANY_REQUESTS;
    default:
        return status >= 500 ? "InternalServerError" : "BadRequest";
    }
}


void
cf_dispatch_ended(cf_dispatch_t *d, const char *state)
{
    size_t  i;

    for (i = 0; i < CF_DISPATCH_END_N - 1; i++) {
        if (strcmp(state, cf_dispatch_end_states[i]) == 0) {
            break;
        }
    }

    d->ended[i]++;
}


void
cf_dispatch_end_transaction(cf_dispatch_t *d, int committed)
{
    size_t    i;
    unsigned  n;

    for (i = 0; i < CF_DISPATCH_END_N; i++) {
        n = d->ended[i];
        d->ended[i] = 0;

        while (committed && cf_dispatch_observer && n--) {
            cf_dispatch_observer(cf_dispatch_end_states[i]);
        }
    }
}


void
cf_dispatch_observe(const char *state)
{
    if (cf_dispatch_observer) {
        cf_dispatch_observer(state);
    }
}
