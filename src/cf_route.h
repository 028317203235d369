
/*
 * ngx_compensation: route matching (plain C, no nginx headers).
 *
 * The route table itself lives in ngx_http_compensation_router.c (it names
 * the nginx handlers); the router hands this matcher a view of it: each
 * entry's method bit, pattern and whether it is a command route.  Matching
 * is pure: a method mask and a path in, the winning entry and the {var}
 * segments out, or what a 404 / 405 (with Allow) needs.  Fuzzed by
 * fuzz/fuzz_route.c.
 */


#ifndef _CF_ROUTE_H_INCLUDED_
#define _CF_ROUTE_H_INCLUDED_


#include <stddef.h>


#define CF_ROUTE_MAX_SEGMENTS  8
#define CF_ROUTE_MAX_VARS      4

/* cf_route_find() results */
#define CF_ROUTE_FOUND         0
#define CF_ROUTE_NOT_ALLOWED   1     /* the path is known, not the method */
#define CF_ROUTE_NOT_FOUND     2


typedef struct {
    unsigned      method;     /* one bit; the caller's method values */
    const char   *pattern;    /* "/execution_failed/{id}/state" */
    int           command;    /* >= 0: a command route (wins ties) */
} cf_route_entry_t;

typedef struct {
    size_t        off;        /* into the path */
    size_t        len;        /* > 0 */
} cf_route_var_t;

typedef struct {
    int             index;    /* the route found, -1 when none */
    unsigned        methods;  /* methods of every route whose pattern
                                 matches the path: the 405's Allow */
    cf_route_var_t  vars[CF_ROUTE_MAX_VARS];
    int             nvars;
} cf_route_match_t;


/*
 * Finds the route for path (len bytes, starting with '/') among n entries.
 * accept is the set of method bits the request may be served by (HEAD:
 * HEAD | GET).  Among matching routes command routes win, then literal
 * segments win over {var} segments at the first position where two
 * patterns differ, then table order (spec 3.1).
 */
int cf_route_find(const cf_route_entry_t *routes, size_t n, unsigned accept,
    const char *path, size_t len, cf_route_match_t *m);

/*
 * The length of the location prefix to strip from uri so that the API's
 * paths keep their leading '/': loc without its trailing '/', or 0 when uri
 * does not start with it.
 */
size_t cf_route_prefix(const char *uri, size_t len, const char *loc,
    size_t loclen);

/*
 * 1 when the location name loc begins with a whole path segment that also
 * begins one of the n routes ("/execution_failed/", "/wow",
 * "/actuator/prometheus"): the location is named after the routes, so the
 * router must see the whole URI, not strip the name off.  0 for "/" and
 * for every other name.
 */
int cf_route_names_routes(const cf_route_entry_t *routes, size_t n,
    const char *loc, size_t loclen);

/* 1 when an aggregate id from a path or header is usable: 1 to max bytes of
 * well-formed UTF-8 without control characters */
int cf_route_id_valid(const char *id, size_t len, size_t max);


#endif /* _CF_ROUTE_H_INCLUDED_ */
