
/*
 * Unit tests of the route matcher (cf_route.c): precedence, variables,
 * 404 / 405, the location prefix and path ids.
 */


#include <stdio.h>
#include <string.h>

#include "cf_test.h"
#include "cf_route.h"


#define GET     0x02
#define HEAD    0x04
#define POST    0x08
#define PUT     0x10
#define DELETE  0x20


static const cf_route_entry_t  routes[] = {
    { POST, "/execution_failed/create_execution_failed", 0 },
    { PUT, "/execution_failed/{id}/prepare_compensation", 1 },
    { DELETE, "/execution_failed/{id}", 8 },
    { GET, "/execution_failed/{id}/state", -1 },
    { GET, "/execution_failed/{id}/state/{version}", -1 },
    { GET, "/execution_failed/{id}/state/tracing", -1 },
    { PUT, "/execution_failed/snapshot/{afterId}/{limit}", -1 },
    { PUT, "/execution_failed/{id}/{version}/compensate", -1 },
    { GET, "/actuator/health/{*path}", -1 },
    { 0, NULL, -1 }
};

#define NROUTES  (sizeof(routes) / sizeof(routes[0]))


static int
find(unsigned method, const char *path, cf_route_match_t *m)
{
    return cf_route_find(routes, NROUTES,
                         method | (method == HEAD ? GET : 0), path,
                         strlen(path), m);
}


static void
test_match(void)
{
    const char        *p;
    cf_route_match_t   m;

    p = "/execution_failed/abc/state";
    CHECK_INT(find(GET, p, &m), CF_ROUTE_FOUND);
    CHECK_INT(m.index, 3);
    CHECK_INT(m.nvars, 1);
    CHECK_INT(m.vars[0].off, 18);
    CHECK_INT(m.vars[0].len, 3);

    /* HEAD is served by GET routes */
    CHECK_INT(find(HEAD, p, &m), CF_ROUTE_FOUND);
    CHECK_INT(m.index, 3);

    /* a literal beats a variable: tracing, not version "tracing" */
    CHECK_INT(find(GET, "/execution_failed/a/state/tracing", &m),
              CF_ROUTE_FOUND);
    CHECK_INT(m.index, 5);
    CHECK_INT(find(GET, "/execution_failed/a/state/7", &m), CF_ROUTE_FOUND);
    CHECK_INT(m.index, 4);
    CHECK_INT(m.nvars, 2);

    /* snapshot batch, not compensate with id "snapshot" */
    CHECK_INT(find(PUT, "/execution_failed/snapshot/x/compensate", &m),
              CF_ROUTE_FOUND);
    CHECK_INT(m.index, 6);

    /* a variable never matches an empty segment */
    CHECK_INT(find(GET, "/execution_failed//state", &m), CF_ROUTE_NOT_FOUND);
    CHECK_INT(find(DELETE, "/execution_failed/", &m), CF_ROUTE_NOT_FOUND);

    /* 405 with the methods of the path; 404 */
    CHECK_INT(find(POST, "/execution_failed/a/state", &m),
              CF_ROUTE_NOT_ALLOWED);
    CHECK_INT(m.methods, GET);
    CHECK_INT(m.index, -1);
    CHECK_INT(find(GET, "/execution_failed/a", &m), CF_ROUTE_NOT_ALLOWED);
    CHECK_INT(m.methods, DELETE);
    CHECK_INT(find(GET, "/nope", &m), CF_ROUTE_NOT_FOUND);
    CHECK_INT(m.methods, 0);
    CHECK_INT(find(GET, "", &m), CF_ROUTE_NOT_FOUND);
    CHECK_INT(find(GET, "execution_failed/a/state", &m), CF_ROUTE_NOT_FOUND);
    CHECK_INT(find(GET, "/a/b/c/d/e/f/g/h/i", &m), CF_ROUTE_NOT_FOUND);
    CHECK_INT(find(GET, "/execution_failed/a/state/", &m),
              CF_ROUTE_NOT_FOUND);

    /* a path with a NUL byte is compared as bytes */
    CHECK_INT(cf_route_find(routes, NROUTES, GET,
                            "/execution_failed/a/st\0te", 25, &m),
              CF_ROUTE_NOT_FOUND);
}


/* found by fuzz/fuzz_route.c (fuzz/regressions/route/var-names-precedence):
 * two {var}s with different names used to end the comparison, so table
 * order, not the literal that follows, chose the route */
static void
test_var_names(void)
{
    cf_route_match_t  m;

    static const cf_route_entry_t  t[] = {
        { POST, "/a/{v}/{w}", -1 },
        { POST, "/a/{id}/x", -1 },
        { 0, NULL, -1 }
    };

    CHECK_INT(cf_route_find(t, 3, POST, "/a/q/x", 6, &m), CF_ROUTE_FOUND);
    CHECK_INT(m.index, 1);
    CHECK_INT(cf_route_find(t, 3, POST, "/a/q/y", 6, &m), CF_ROUTE_FOUND);
    CHECK_INT(m.index, 0);
    CHECK_INT(m.nvars, 2);
}


static void
test_prefix_and_ids(void)
{
    CHECK_INT(cf_route_prefix("/api/x", 6, "/api/", 5), 4);
    CHECK_INT(cf_route_prefix("/api/x", 6, "/api", 4), 4);
    CHECK_INT(cf_route_prefix("/api/x", 6, "/", 1), 0);
    CHECK_INT(cf_route_prefix("/ap", 3, "/api/", 5), 0);
    CHECK_INT(cf_route_prefix("/other/x", 8, "/api/", 5), 0);
    CHECK_INT(cf_route_prefix("/x", 2, "", 0), 0);

    /* locations named after the routes keep the whole URI */
    CHECK_INT(cf_route_names_routes(routes, NROUTES, "/execution_failed/",
                                    18), 1);
    CHECK_INT(cf_route_names_routes(routes, NROUTES, "/execution_failed",
                                    17), 1);
    CHECK_INT(cf_route_names_routes(routes, NROUTES, "/actuator/health",
                                    16), 1);
    CHECK_INT(cf_route_names_routes(routes, NROUTES, "/", 1), 0);
    CHECK_INT(cf_route_names_routes(routes, NROUTES, "", 0), 0);
    CHECK_INT(cf_route_names_routes(routes, NROUTES, "/compensation/", 14),
              0);
    CHECK_INT(cf_route_names_routes(routes, NROUTES, "/execution", 10), 0);
    CHECK_INT(cf_route_names_routes(routes, NROUTES, "/execution_failedx/",
                                    19), 0);
    CHECK_INT(cf_route_names_routes(routes, NROUTES, "/actuator", 9), 1);
    CHECK_INT(cf_route_names_routes(routes, NROUTES, "//", 2), 0);

    CHECK_INT(cf_route_id_valid("abc", 3, 256), 1);
    CHECK_INT(cf_route_id_valid("", 0, 256), 0);
    CHECK_INT(cf_route_id_valid("a\tb", 3, 256), 0);
    CHECK_INT(cf_route_id_valid("a\177", 2, 256), 0);
    CHECK_INT(cf_route_id_valid("a\0b", 3, 256), 0);
    CHECK_INT(cf_route_id_valid("\xc3\xa9", 2, 256), 1);
    CHECK_INT(cf_route_id_valid("abcd", 4, 3), 0);

    /* well-formed UTF-8 only (jansson refuses the rest) */
    CHECK_INT(cf_route_id_valid("\xe4\xb8\xad\xf0\x9f\x98\x80", 7, 256), 1);
    CHECK_INT(cf_route_id_valid("\xff\xfe", 2, 256), 0);
    CHECK_INT(cf_route_id_valid("a\xc3", 2, 256), 0);
    CHECK_INT(cf_route_id_valid("\xc0\xaf", 2, 256), 0);
    CHECK_INT(cf_route_id_valid("\xed\xa0\x80", 3, 256), 0);
    CHECK_INT(cf_route_id_valid("\xf4\x90\x80\x80", 4, 256), 0);
    CHECK_INT(cf_route_id_valid("\xc2\x85", 2, 256), 1);
}


const cf_test_t  cf_tests_route[] = {
    { "route: precedence, variables, 404 and 405", test_match },
    { "route: {var} names do not decide precedence", test_var_names },
    { "route: location prefix and path ids", test_prefix_and_ids },
    { NULL, NULL }
};
