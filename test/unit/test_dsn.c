
/*
 * ngx_compensation unit tests: which store a compensation_store value names
 * (cf_dsn.c).
 */


#include "cf_test.h"
#include "cf_dsn.h"


static void
test_dsn_forms(void)
{
    /* libpq's URIs and keyword strings */
    CHECK(cf_dsn_is_postgresql("postgresql://u:p@h/db"));
    CHECK(cf_dsn_is_postgresql("postgres:///db?host=/tmp"));
    CHECK(cf_dsn_is_postgresql("host=/tmp dbname=x"));
    CHECK(cf_dsn_is_postgresql("  dbname = x"));
    CHECK(cf_dsn_is_postgresql("service=compensation"));

    /* file paths, and names that only look alike */
    CHECK(!cf_dsn_is_postgresql("/var/lib/compensation/store.db"));
    CHECK(!cf_dsn_is_postgresql("store.db"));
    CHECK(!cf_dsn_is_postgresql("logs/c.db"));
    CHECK(!cf_dsn_is_postgresql("hosts=1"));
    CHECK(!cf_dsn_is_postgresql("var/x=y.db"));
    CHECK(!cf_dsn_is_postgresql("host"));
    CHECK(!cf_dsn_is_postgresql("postgresql:/x"));
    CHECK(!cf_dsn_is_postgresql("./postgresql://x"));
    CHECK(!cf_dsn_is_postgresql(""));
}


const cf_test_t  cf_tests_dsn[] = {
    { "dsn: PostgreSQL URIs and keyword strings, not file paths",
      test_dsn_forms },
    { NULL, NULL }
};
