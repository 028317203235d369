
/*
 * ngx_compensation: CosId radix-62 ids (spec 6.4).  The alphabet is in ASCII
 * order and every part is fixed-width, so string order is time order.
 */


#include "cf_domain.h"


#define CF_ID_TS_DIGITS       8
#define CF_ID_MACHINE_DIGITS  4
#define CF_ID_SEQ_DIGITS      3
#define CF_ID_MAX_SEQ         238327u     /* 62^3 - 1 */


static void cf_id_encode(uint64_t v, char *out, int digits);


static const char  cf_radix62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";


void
cf_id_init(cf_id_gen_t *gen, uint32_t machine_id)
{
    gen->machine_id = machine_id % (CF_ID_MAX_MACHINE + 1);
    gen->last_ms = -1;
    gen->seq = 0;

    /* the default mutex: never fails on Linux */
    (void) pthread_mutex_init(&gen->mutex, NULL);
}


void
cf_id_next(cf_id_gen_t *gen, int64_t now_ms, char out[CF_ID_LEN + 1])
{
    uint64_t  ms, seq;

    if (now_ms < 0) {
        now_ms = 0;
    }

    (void) pthread_mutex_lock(&gen->mutex);

    if (now_ms > gen->last_ms) {
        gen->last_ms = now_ms;
        gen->seq = 0;

    } else if (gen->seq < CF_ID_MAX_SEQ) {
        /* same ms, or the clock stepped back: stay on last_ms */
        gen->seq++;

    } else {
        /* sequence exhausted: borrow the next ms */
        gen->last_ms++;
        gen->seq = 0;
    }

    ms = (uint64_t) gen->last_ms;
    seq = gen->seq;

    (void) pthread_mutex_unlock(&gen->mutex);

    cf_id_encode(ms, out, CF_ID_TS_DIGITS);
    cf_id_encode(gen->machine_id % (CF_ID_MAX_MACHINE + 1),
                 out + CF_ID_TS_DIGITS, CF_ID_MACHINE_DIGITS);
    cf_id_encode(seq, out + CF_ID_TS_DIGITS + CF_ID_MACHINE_DIGITS,
                 CF_ID_SEQ_DIGITS);

    out[CF_ID_LEN] = '\0';
}


int
cf_id_is_valid(const char *s, size_t len)
{
    size_t  i;
    char    c;

    if (s == NULL || len != CF_ID_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = s[i];

        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')
              || (c >= 'a' && c <= 'z')))
        {
            return 0;
        }
    }

    return 1;
}


/* the low digits of v, most significant first, left-padded with '0' */
static void
cf_id_encode(uint64_t v, char *out, int digits)
{
    int  i;

    for (i = digits - 1; i >= 0; i--) {
        out[i] = cf_radix62[v % 62];
        v /= 62;
    }
}
