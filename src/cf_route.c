
/*
 * ngx_compensation: route matching (see cf_route.h).  Moved out of
 * ngx_http_compensation_router.c unchanged in behaviour.
 */


#include <stdint.h>
#include <string.h>

#include "cf_route.h"


static size_t cf_route_utf8_len(const unsigned char *p, size_t avail);


typedef struct {
    const char   *data;
    size_t        len;
} cf_route_seg_t;


/* the path's segments; 0 when it does not start with '/', max + 1 when
 * it has more than max */
static size_t
cf_route_split(const char *p, const char *last, cf_route_seg_t *segs,
    size_t max)
{
    size_t       n;
    const char  *start;

    n = 0;

    if (p == last || *p != '/') {
        return 0;
    }

    while (p < last) {
        if (n == max) {
            return max + 1;
        }

        p++;
        start = p;

        while (p < last && *p != '/') {
            p++;
        }

        segs[n].data = start;
        segs[n].len = p - start;
        n++;
    }

    return n;
}


/* 0 when pattern matches the segments (vars filled when m is not NULL) */
static int
cf_route_match(const char *pattern, const char *path, cf_route_seg_t *segs,
    size_t n, cf_route_match_t *m)
{
    size_t       i, len;
    const char  *p, *start;
    int          nvars;

    p = pattern;
    nvars = 0;

    for (i = 0; i < n; i++) {

        if (*p != '/') {
            return -1;
        }

        start = ++p;

        while (*p && *p != '/') {
            p++;
        }

        len = p - start;

        if (start[0] == '{') {
            if (segs[i].len == 0 || nvars == CF_ROUTE_MAX_VARS) {
                return -1;
            }

            if (m) {
                m->vars[nvars].off = segs[i].data - path;
                m->vars[nvars].len = segs[i].len;
            }

            nvars++;
            continue;
        }

        if (len != segs[i].len || memcmp(start, segs[i].data, len) != 0) {
            return -1;
        }
    }

    if (*p != '\0') {
        return -1;
    }

    if (m) {
        m->nvars = nvars;
    }

    return 0;
}


/*
 * 1 when route a takes precedence over route b (both match the path, so
 * both have its number of segments): a command route, else the first
 * segment where one pattern has a literal and the other a {var} decides
 * for the literal.  Two {var}s are alike whatever their names.
 */
static int
cf_route_more_specific(const cf_route_entry_t *a, const cf_route_entry_t *b)
{
    int          va, vb;
    const char  *p, *q;

    if ((a->command >= 0) != (b->command >= 0)) {
        return a->command >= 0;
    }

    p = a->pattern;
    q = b->pattern;

    while (*p == '/' && *q == '/') {
        va = (p[1] == '{');
        vb = (q[1] == '{');

        if (va != vb) {
            return vb;
        }

        /* the next segment of each */
        for (p++; *p && *p != '/'; p++) { /* void */ }
        for (q++; *q && *q != '/'; q++) { /* void */ }
    }

    /* the same shape: keep table order */
    return 0;
}


int
cf_route_find(const cf_route_entry_t *routes, size_t n, unsigned accept,
    const char *path, size_t len, cf_route_match_t *m)
{
    size_t          i, nsegs;
    cf_route_seg_t  segs[CF_ROUTE_MAX_SEGMENTS];

    memset(m, 0, sizeof(*m));
    m->index = -1;

    nsegs = cf_route_split(path, path + len, segs, CF_ROUTE_MAX_SEGMENTS);

    if (nsegs == 0 || nsegs > CF_ROUTE_MAX_SEGMENTS) {
        return CF_ROUTE_NOT_FOUND;
    }

    for (i = 0; i < n && routes[i].pattern; i++) {

        if (cf_route_match(routes[i].pattern, path, segs, nsegs, NULL) != 0) {
            continue;
        }

        m->methods |= routes[i].method;

        if (!(routes[i].method & accept)) {
            continue;
        }

        if (m->index < 0
            || cf_route_more_specific(&routes[i], &routes[m->index]))
        {
            m->index = (int) i;
        }
    }

    if (m->index >= 0) {
        (void) cf_route_match(routes[m->index].pattern, path, segs, nsegs,
                              m);
        return CF_ROUTE_FOUND;
    }

    return m->methods ? CF_ROUTE_NOT_ALLOWED : CF_ROUTE_NOT_FOUND;
}


size_t
cf_route_prefix(const char *uri, size_t len, const char *loc, size_t loclen)
{
    if (loclen && loc[loclen - 1] == '/') {
        loclen--;
    }

    if (loclen > len || memcmp(uri, loc, loclen) != 0) {
        return 0;
    }

    return loclen;
}


int
cf_route_names_routes(const cf_route_entry_t *routes, size_t n,
    const char *loc, size_t loclen)
{
    size_t       i, seg;
    const char  *p;

    if (loclen < 2 || loc[0] != '/') {
        return 0;
    }

    for (seg = 1; seg < loclen && loc[seg] != '/'; seg++) { /* void */ }

    seg--;      /* the first segment's length, without its '/' */

    if (seg == 0) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        p = routes[i].pattern;

        if (p == NULL || p[0] != '/') {
            continue;
        }

        if (strncmp(p + 1, loc + 1, seg) == 0
            && (p[seg + 1] == '/' || p[seg + 1] == '\0'))
        {
            return 1;
        }
    }

    return 0;
}


int
cf_route_id_valid(const char *id, size_t len, size_t max)
{
    size_t  i, n;

    if (len == 0 || len > max) {
        return 0;
    }

    for (i = 0; i < len; /* void */) {
        n = cf_route_utf8_len((const unsigned char *) id + i, len - i);

        if (n == 0) {
            return 0;
        }

        if (n == 1
            && ((unsigned char) id[i] < 0x20 || id[i] == 0x7f))
        {
            return 0;
        }

        i += n;
    }

    return 1;
}


/*
 * The length of the well-formed UTF-8 sequence at p, 0 when it is not one
 * (overlong forms, surrogates, beyond U+10FFFF, truncated): ids end up in
 * JSON documents and jansson refuses invalid UTF-8.
 */
static size_t
cf_route_utf8_len(const unsigned char *p, size_t avail)
{
    size_t    n, k;
    uint32_t  u, min;

    if (p[0] < 0x80) {
        return 1;
    }

    if ((p[0] & 0xe0) == 0xc0) {
        n = 2; u = p[0] & 0x1f; min = 0x80;

    } else if ((p[0] & 0xf0) == 0xe0) {
        n = 3; u = p[0] & 0x0f; min = 0x800;

    } else if ((p[0] & 0xf8) == 0xf0) {
        n = 4; u = p[0] & 0x07; min = 0x10000;

    } else {
        return 0;
    }

    if (n > avail) {
        return 0;
    }

    for (k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80) {
            return 0;
        }

        u = (u << 6) | (p[k] & 0x3f);
    }

    if (u < min || u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff)) {
        return 0;
    }

    return n;
}
