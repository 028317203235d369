
/*
 * ngx_compensation: machine ids, slot leases and the numeric SnowflakeId
 * (see cf_cosid.h for the scheme).
 */


#include "cf_cosid.h"


#define CF_SNOWFLAKE_MAX_SEQ  ((1u << CF_SNOWFLAKE_SEQ_BITS) - 1)
#define CF_SNOWFLAKE_MAX_MS   ((1LL << 41) - 1)


static const char  cf_cosid_radix62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";


uint32_t
cf_cosid_machine_id(int32_t node, uint32_t slot, int64_t pid)
{
    if (node < 0) {
        return (uint32_t) ((uint64_t) pid % (CF_ID_MAX_MACHINE + 1));
    }

    return ((uint32_t) node * CF_COSID_SLOTS + slot % CF_COSID_SLOTS)
           % (CF_ID_MAX_MACHINE + 1);
}


int
cf_cosid_slot_claim(int32_t *slots, uint32_t n, int32_t pid,
    int (*alive)(int32_t pid))
{
    uint32_t  i;

    for (i = 0; i < n; i++) {
        if (slots[i] == pid) {
            return (int) i;
        }
    }

    for (i = 0; i < n; i++) {
        if (slots[i] == 0) {
            slots[i] = pid;
            return (int) i;
        }
    }

    /* a process that died without releasing its slot (a crash) */
    for (i = 0; i < n; i++) {
        if (!alive(slots[i])) {
            slots[i] = pid;
            return (int) i;
        }
    }

    return -1;
}


void
cf_cosid_slot_release(int32_t *slots, uint32_t n, int32_t pid)
{
    uint32_t  i;

    for (i = 0; i < n; i++) {
        if (slots[i] == pid) {
            slots[i] = 0;
        }
    }
}


void
cf_snowflake_init(cf_snowflake_t *sf, uint32_t machine_id)
{
    sf->machine_id = machine_id & ((1u << CF_SNOWFLAKE_MACHINE_BITS) - 1);
    sf->last_ms = -1;
    sf->seq = 0;
}


int64_t
cf_snowflake_next(cf_snowflake_t *sf, int64_t now_ms)
{
    int64_t  t;

    t = now_ms - CF_SNOWFLAKE_EPOCH;

    if (t < 0) {
        t = 0;
    }

    if (t > sf->last_ms) {
        sf->last_ms = t;
        sf->seq = 0;

    } else if (sf->seq < CF_SNOWFLAKE_MAX_SEQ) {
        sf->seq++;

    } else {
        sf->last_ms++;
        sf->seq = 0;
    }

    return ((sf->last_ms & CF_SNOWFLAKE_MAX_MS)
            << (CF_SNOWFLAKE_MACHINE_BITS + CF_SNOWFLAKE_SEQ_BITS))
           | ((int64_t) sf->machine_id << CF_SNOWFLAKE_SEQ_BITS)
           | sf->seq;
}


void
cf_snowflake_to_string(int64_t id, char out[CF_SNOWFLAKE_STR_LEN + 1])
{
    int       i;
    uint64_t  v;

    v = (uint64_t) id;

    for (i = CF_SNOWFLAKE_STR_LEN - 1; i >= 0; i--) {
        out[i] = cf_cosid_radix62[v % 62];
        v /= 62;
    }

    out[CF_SNOWFLAKE_STR_LEN] = '\0';
}


static int
cf_cosid_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'A' && c <= 'Z') {
        return c - 'A' + 10;
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 36;
    }

    return -1;
}


int
cf_id_parse(const char *s, size_t len, int64_t *ms, uint32_t *machine,
    uint32_t *seq)
{
    int       d;
    size_t    i;
    uint64_t  v[3];

    if (!cf_id_is_valid(s, len)) {
        return -1;
    }

    v[0] = v[1] = v[2] = 0;

    for (i = 0; i < CF_ID_LEN; i++) {
        d = cf_cosid_digit(s[i]);

        if (i < 8) {
            v[0] = v[0] * 62 + (uint64_t) d;

        } else if (i < 12) {
            v[1] = v[1] * 62 + (uint64_t) d;

        } else {
            v[2] = v[2] * 62 + (uint64_t) d;
        }
    }

    *ms = (int64_t) v[0];
    *machine = (uint32_t) v[1];
    *seq = (uint32_t) v[2];

    return 0;
}
