
/*
 * CosId radix-62 ids (spec 6.4).
 */


#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "cf_test.h"


static void
test_id_published_example(void)
{
    char         out[CF_ID_LEN + 1];
    cf_id_gen_t  gen;

    /* timestamp 1660526325024, machine 1, sequence 1 */
    cf_id_init(&gen, 1);
    gen.last_ms = 1660526325024LL;
    gen.seq = 0;

    cf_id_next(&gen, 1660526325024LL, out);
    CHECK_STR(out, "0TEXPEbg0001001");
    CHECK_INT(gen.seq, 1);
}


static void
test_id_format(void)
{
    char         out[CF_ID_LEN + 1];
    cf_id_gen_t  gen;

    cf_id_init(&gen, 0);

    /* the first id of a millisecond has sequence 0 */
    cf_id_next(&gen, 0, out);
    CHECK_STR(out, "000000000000000");
    cf_id_next(&gen, 0, out);
    CHECK_STR(out, "000000000000001");

    cf_id_init(&gen, CF_ID_MAX_MACHINE);
    cf_id_next(&gen, 62, out);
    CHECK_STR(out, "00000010zzzz000");

    /* machine ids wrap into 4 digits */
    cf_id_init(&gen, CF_ID_MAX_MACHINE + 2);
    CHECK_INT(gen.machine_id, 1);

    /* the largest 8-digit timestamp */
    cf_id_init(&gen, 61);
    cf_id_next(&gen, 218340105584895LL, out);
    CHECK_STR(out, "zzzzzzzz000z000");

    /* a negative clock is clamped */
    cf_id_init(&gen, 1);
    cf_id_next(&gen, -5, out);
    CHECK_STR(out, "000000000001000");

    CHECK(cf_id_is_valid(out, CF_ID_LEN));
    CHECK(cf_id_is_valid("0TEXPEbg0001001", 15));
    CHECK(cf_id_is_valid("zzzzzzzzzzzzzzz", 15));
    CHECK(!cf_id_is_valid("0TEXPEbg000100", 14));
    CHECK(!cf_id_is_valid("0TEXPEbg00010011", 16));
    CHECK(!cf_id_is_valid("0TEXPEbg000100-", 15));
    CHECK(!cf_id_is_valid("0TEXPEbg000100 ", 15));
    CHECK(!cf_id_is_valid("0TEXPEbg00\0" "1001", 15));
    CHECK(!cf_id_is_valid("0TEXPEbg000100\xc3", 15));
    CHECK(!cf_id_is_valid("", 0));
    CHECK(!cf_id_is_valid(NULL, 15));
}


static void
test_id_monotonic(void)
{
    int          i, bad, dup;
    char         prev[CF_ID_LEN + 1], out[CF_ID_LEN + 1];
    int64_t      now;
    uint32_t     r;
    cf_id_gen_t  gen;

    cf_id_init(&gen, 4242);

    now = 1719800000000LL;
    r = 12345;
    bad = 0;
    dup = 0;
    prev[0] = '\0';

    for (i = 0; i < 1000000; i++) {
        /* a clock that mostly stands, sometimes moves, sometimes steps back */
        r = r * 1103515245u + 12345u;

        switch ((r >> 16) % 64) {
        case 0:
            now -= (r >> 8) % 5000;
            break;
        case 1:
        case 2:
        case 3:
            now += (r >> 8) % 50;
            break;
        default:
            break;
        }

        cf_id_next(&gen, now, out);

        if (!cf_id_is_valid(out, strlen(out))) {
            bad++;
        }

        if (strcmp(prev, out) >= 0) {
            dup++;
        }

        memcpy(prev, out, sizeof(out));
    }

    CHECK_INT(bad, 0);
    CHECK_INT(dup, 0);
}


static void
test_id_clock_and_overflow(void)
{
    int          i;
    char         a[CF_ID_LEN + 1], b[CF_ID_LEN + 1];
    cf_id_gen_t  gen;

    cf_id_init(&gen, 7);

    cf_id_next(&gen, 1000, a);
    cf_id_next(&gen, 900, b);           /* the clock steps back */
    CHECK(strcmp(a, b) < 0);
    CHECK_INT(gen.last_ms, 1000);
    CHECK_INT(gen.seq, 1);
    CHECK(memcmp(a, b, 8) == 0);

    /* exhaust the sequence of ms 1000: 62^3 ids in all */
    for (i = 2; i <= 238327; i++) {
        cf_id_next(&gen, 1000, b);
    }

    CHECK_INT(gen.last_ms, 1000);
    CHECK_INT(gen.seq, 238327);
    CHECK_STR(b + 12, "zzz");

    cf_id_next(&gen, 1000, a);
    CHECK_INT(gen.last_ms, 1001);
    CHECK_INT(gen.seq, 0);
    CHECK(strcmp(b, a) < 0);
    CHECK_STR(a + 12, "000");

    /* the real clock catching up continues on the borrowed ms */
    cf_id_next(&gen, 1001, b);
    CHECK_INT(gen.last_ms, 1001);
    CHECK_INT(gen.seq, 1);
    CHECK(strcmp(a, b) < 0);

    cf_id_next(&gen, 5000, a);
    CHECK_INT(gen.last_ms, 5000);
    CHECK_INT(gen.seq, 0);
}


/* the event loop and the store thread of a worker share one generator */

#define CF_TEST_ID_DRAWS  100000

typedef struct {
    cf_id_gen_t  *gen;
    char        (*out)[CF_ID_LEN + 1];
} cf_test_id_drawer_t;


static void *
cf_test_id_draw(void *data)
{
    int                   i;
    cf_test_id_drawer_t  *d = data;

    for (i = 0; i < CF_TEST_ID_DRAWS; i++) {
        /* one ms for all: every id differs by its sequence only */
        cf_id_next(d->gen, 42, d->out[i]);
    }

    return NULL;
}


static int
cf_test_id_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}


static void
test_id_two_threads(void)
{
    int                  i, dups;
    char               (*all)[CF_ID_LEN + 1];
    pthread_t            t;
    cf_id_gen_t          gen;
    cf_test_id_drawer_t  d[2];

    all = malloc(2 * CF_TEST_ID_DRAWS * (CF_ID_LEN + 1));
    CHECK(all != NULL);
    if (all == NULL) {
        return;
    }

    cf_id_init(&gen, 3);

    d[0].gen = &gen;
    d[0].out = all;
    d[1].gen = &gen;
    d[1].out = all + CF_TEST_ID_DRAWS;

    CHECK(pthread_create(&t, NULL, cf_test_id_draw, &d[1]) == 0);
    cf_test_id_draw(&d[0]);
    CHECK(pthread_join(t, NULL) == 0);

    qsort(all, 2 * CF_TEST_ID_DRAWS, CF_ID_LEN + 1, cf_test_id_cmp);

    dups = 0;
    for (i = 1; i < 2 * CF_TEST_ID_DRAWS; i++) {
        dups += strcmp(all[i - 1], all[i]) == 0;
    }

    CHECK_INT(dups, 0);
    /* 200,000 draws fit in the 238,328 sequence numbers of ms 42 */
    CHECK_INT(gen.last_ms, 42);
    CHECK_INT(gen.seq, 2 * CF_TEST_ID_DRAWS - 1);

    free(all);
}


const cf_test_t  cf_tests_id[] = {
    { "id: CosId's published example 0TEXPEbg0001001",
      test_id_published_example },
    { "id: format, padding, validity", test_id_format },
    { "id: strictly increasing over 1,000,000 draws", test_id_monotonic },
    { "id: clock stepping back, sequence overflow",
      test_id_clock_and_overflow },
    { "id: one generator drawn from two threads, no duplicate",
      test_id_two_threads },
    { NULL, NULL }
};
