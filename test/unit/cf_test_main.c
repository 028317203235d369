
/*
 * ngx_compensation unit tests: the TAP runner.  Prints "1..N", one line per
 * test, and a last plain line "N passed, N failed"; exits 1 on any failure.
 */


#include <stdio.h>
#include <stdlib.h>

#include "cf_test.h"


/* built twice: run_tests, and with CF_TEST_PG pg_tests (a live server) */
static const cf_test_t *const  cf_suites[] = {
#if (CF_TEST_PG)
    cf_tests_pg,
#else
    cf_tests_error,
    cf_tests_retry,
    cf_tests_state,
    cf_tests_bind,
    cf_tests_decide,
    cf_tests_id,
    cf_tests_fuzz,
    cf_tests_oom,
    cf_tests_store,
    cf_tests_cosid,
    cf_tests_query,
    cf_tests_dispatch,
    cf_tests_route,
    cf_tests_json,
    cf_tests_notify,
    cf_tests_int,
    cf_tests_tz,
    cf_tests_exec,
#endif
    NULL
};


/* failed checks of the running test */
static int  cf_test_failures;


static void
cf_test_fail_header(const char *expr, const char *file, int line)
{
    cf_test_failures++;
    printf("#   check failed at %s:%d: %s\n", file, line, expr);
}


int
cf_test_check(int ok, const char *expr, const char *file, int line)
{
    if (!ok) {
        cf_test_fail_header(expr, file, line);
    }

    return ok;
}


int
cf_test_check_int(long long a, long long b, const char *expr,
    const char *file, int line)
{
    if (a != b) {
        cf_test_fail_header(expr, file, line);
        printf("#     got %lld, expected %lld\n", a, b);
        return 0;
    }

    return 1;
}


int
cf_test_check_str(const char *a, const char *b, const char *expr,
    const char *file, int line)
{
    if (a == NULL || b == NULL || strcmp(a, b) != 0) {
        cf_test_fail_header(expr, file, line);
        printf("#     got      \"%s\"\n#     expected \"%s\"\n",
               a ? a : "(null)", b ? b : "(null)");
        return 0;
    }

    return 1;
}


int
cf_test_check_json(json_t *j, const char *text, const char *expr,
    const char *file, int line)
{
    int    ok;
    char  *s;

    s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

    ok = cf_test_check_str(s, text, expr, file, line);

    free(s);

    return ok;
}


int
main(void)
{
    int                       n, passed, failed;
    const cf_test_t          *t;
    const cf_test_t *const   *suite;

    setvbuf(stdout, NULL, _IOLBF, 0);

    n = 0;

    for (suite = cf_suites; *suite; suite++) {
        for (t = *suite; t->name; t++) {
            n++;
        }
    }

    printf("1..%d\n", n);

    n = 0;
    passed = 0;
    failed = 0;

    for (suite = cf_suites; *suite; suite++) {
        for (t = *suite; t->name; t++) {
            cf_test_failures = 0;

            t->fn();

            n++;

            if (cf_test_failures == 0) {
                passed++;
                printf("ok %d - %s\n", n, t->name);

            } else {
                failed++;
                printf("not ok %d - %s\n", n, t->name);
            }
        }
    }

    printf("%d passed, %d failed\n", passed, failed);

    return failed ? 1 : 0;
}
