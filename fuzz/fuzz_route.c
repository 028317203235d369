
/*
 * Fuzz target: the router's matching (src/cf_route.c), checked against a
 * naive reference matcher written from the spec's rules (3.1).
 *
 * Input: byte 0 picks the method, byte 1 the location prefix and the table;
 * the rest is the URI.  With the real table (generated from
 * ngx_http_compensation_router.c into build/route_table.h) the rest is the
 * URI; with a fuzzed table (byte 1 bit 7) the rest is lines: each but the
 * last is a route (first byte: method and command flag, then a pattern),
 * the last is the URI.
 *
 * Checked: a found route accepts the method and its pattern with the
 * captured {var} segments put back is the path; the set of methods (Allow)
 * and the winner agree with the reference; 404 / 405 are exclusive.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_fuzz.h"
#include "cf_route.h"


static const cf_route_entry_t  fz_routes[] = {
#include "route_table.h"
};

#define FZ_NROUTES  (sizeof(fz_routes) / sizeof(fz_routes[0]))

#define FZ_MAX_TABLE  16


static const unsigned  fz_methods[] = {
    0x02, 0x04, 0x08, 0x10, 0x20, 0x01, 0x200, 0x4000
};

static const char *const  fz_locations[] = {
    "/", "/api/", "/api", "", "/execution_failed/", "/a/b/"
};


/* the segments of s (len bytes) after each '/'; -1 when s does not start
 * with '/' or has more than max segments */
static int
ref_split(const char *s, size_t len, const char **seg, size_t *seglen,
    int max)
{
    int          n;
    const char  *end, *p, *q;

    if (len == 0 || s[0] != '/') {
        return -1;
    }

    n = 0;
    end = s + len;

    for (p = s; p < end; p = q) {
        if (n == max) {
            return -1;
        }

        p++;                              /* the '/' */
        q = memchr(p, '/', end - p);
        if (q == NULL) {
            q = end;
        }

        seg[n] = p;
        seglen[n] = q - p;
        n++;
    }

    return n;
}


static int
ref_is_var(const char *seg, size_t len)
{
    return len > 0 && seg[0] == '{';
}


/* 1 when the pattern matches the path's segments (spec 3.1) */
static int
ref_match(const char *pattern, const char **seg, size_t *seglen, int n)
{
    int          pn, i, nvars;
    const char  *pseg[CF_ROUTE_MAX_SEGMENTS + 1];
    size_t       plen[CF_ROUTE_MAX_SEGMENTS + 1];

    pn = ref_split(pattern, strlen(pattern), pseg, plen,
                   CF_ROUTE_MAX_SEGMENTS + 1);
    if (pn != n) {
        return 0;
    }

    nvars = 0;

    for (i = 0; i < n; i++) {
        if (ref_is_var(pseg[i], plen[i])) {
            if (seglen[i] == 0 || ++nvars > CF_ROUTE_MAX_VARS) {
                return 0;
            }
            continue;
        }

        if (plen[i] != seglen[i] || memcmp(pseg[i], seg[i], plen[i]) != 0) {
            return 0;
        }
    }

    return 1;
}


/* 1 when a must win over b (both match the same path) */
static int
ref_wins(const cf_route_entry_t *a, const cf_route_entry_t *b)
{
    int          i, n, va, vb;
    const char  *sa[CF_ROUTE_MAX_SEGMENTS + 1], *sb[CF_ROUTE_MAX_SEGMENTS + 1];
    size_t       la[CF_ROUTE_MAX_SEGMENTS + 1], lb[CF_ROUTE_MAX_SEGMENTS + 1];

    if ((a->command >= 0) != (b->command >= 0)) {
        return a->command >= 0;
    }

    n = ref_split(a->pattern, strlen(a->pattern), sa, la,
                  CF_ROUTE_MAX_SEGMENTS + 1);
    (void) ref_split(b->pattern, strlen(b->pattern), sb, lb,
                     CF_ROUTE_MAX_SEGMENTS + 1);

    for (i = 0; i < n; i++) {
        va = ref_is_var(sa[i], la[i]);
        vb = ref_is_var(sb[i], lb[i]);

        if (va != vb) {
            return vb;
        }
    }

    return 0;
}


/* a pattern the table may hold: '/'-separated non-empty segments, a var
 * segment is "{...}" */
static int
fz_pattern_ok(const char *p)
{
    int          n;
    size_t       len[CF_ROUTE_MAX_SEGMENTS + 1];
    const char  *seg[CF_ROUTE_MAX_SEGMENTS + 1];

    n = ref_split(p, strlen(p), seg, len, CF_ROUTE_MAX_SEGMENTS + 1);

    if (n <= 0) {
        return 0;
    }

    while (n--) {
        if (len[n] == 0) {
            return 0;
        }

        if (memchr(seg[n], '{', len[n]) == NULL) {
            continue;
        }

        /* a var: one "{...}" */
        if (len[n] < 2 || seg[n][0] != '{' || seg[n][len[n] - 1] != '}'
            || memchr(seg[n] + 1, '{', len[n] - 1) != NULL)
        {
            return 0;
        }
    }

    return 1;
}


static void
fz_check(const cf_route_entry_t *routes, size_t nroutes, unsigned method,
    const char *uri, size_t urilen, const char *loc)
{
    int                rc, n, i, best;
    char              *rebuilt, *r;
    size_t             k, prefix, len, seglen[CF_ROUTE_MAX_SEGMENTS + 1];
    unsigned           accept, methods;
    const char        *path, *p, *seg[CF_ROUTE_MAX_SEGMENTS + 1];
    cf_route_match_t   m;

    prefix = cf_route_prefix(uri, urilen, loc, strlen(loc));
    FZ_ASSERT(prefix <= urilen);

    if (prefix) {
        /* what is stripped is the location without its trailing '/' */
        FZ_ASSERT(memcmp(uri, loc, prefix) == 0);
        FZ_ASSERT(prefix == strlen(loc) || prefix == strlen(loc) - 1);
    }

    /* a location named after the routes starts with '/' and a segment */
    if (cf_route_names_routes(routes, nroutes, loc, strlen(loc))) {
        FZ_ASSERT(strlen(loc) >= 2 && loc[0] == '/' && loc[1] != '/');
    }

    path = uri + prefix;
    len = urilen - prefix;

    accept = method | (method == 0x04 ? 0x02 : 0);

    rc = cf_route_find(routes, nroutes, accept, path, len, &m);

    /* the reference */

    n = ref_split(path, len, seg, seglen, CF_ROUTE_MAX_SEGMENTS);
    methods = 0;
    best = -1;

    for (k = 0; n > 0 && k < nroutes && routes[k].pattern; k++) {
        if (!ref_match(routes[k].pattern, seg, seglen, n)) {
            continue;
        }

        methods |= routes[k].method;

        if (!(routes[k].method & accept)) {
            continue;
        }

        if (best < 0 || ref_wins(&routes[k], &routes[best])) {
            best = (int) k;
        }
    }

    if (methods != m.methods || best != m.index) {
        fprintf(stderr, "route mismatch for %.*s (method %x): "
                "methods %x/%x, route %d/%d\n", (int) len, path, method,
                m.methods, methods, m.index, best);
        abort();
    }

    if (rc == CF_ROUTE_NOT_FOUND) {
        FZ_ASSERT(m.index < 0 && m.methods == 0);
        return;
    }

    if (rc == CF_ROUTE_NOT_ALLOWED) {
        FZ_ASSERT(m.index < 0 && m.methods != 0);
        FZ_ASSERT((m.methods & accept) == 0);
        return;
    }

    FZ_ASSERT(rc == CF_ROUTE_FOUND);
    FZ_ASSERT(m.index >= 0 && (size_t) m.index < nroutes);
    FZ_ASSERT(routes[m.index].method & accept);
    FZ_ASSERT(m.nvars >= 0 && m.nvars <= CF_ROUTE_MAX_VARS);

    /* the pattern with its vars put back is the path */

    rebuilt = malloc(len + strlen(routes[m.index].pattern) + 1);
    FZ_ASSERT(rebuilt != NULL);

    r = rebuilt;
    i = 0;

    for (p = routes[m.index].pattern; *p; ) {
        if (*p == '{') {
            FZ_ASSERT(i < m.nvars);
            FZ_ASSERT(m.vars[i].len > 0);
            FZ_ASSERT(m.vars[i].off + m.vars[i].len <= len);
            FZ_ASSERT(memchr(path + m.vars[i].off, '/', m.vars[i].len)
                      == NULL);

            memcpy(r, path + m.vars[i].off, m.vars[i].len);
            r += m.vars[i].len;

            (void) cf_route_id_valid(path + m.vars[i].off, m.vars[i].len,
                                     256);
            i++;

            while (*p && *p != '/') {
                p++;
            }

            continue;
        }

        *r++ = *p++;
    }

    FZ_ASSERT(i == m.nvars);
    FZ_ASSERT((size_t) (r - rebuilt) == len);
    FZ_ASSERT(memcmp(rebuilt, path, len) == 0);

    free(rebuilt);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 nt;
    char               *copy, *line, *next, *uri;
    size_t              urilen;
    unsigned            method;
    const char         *loc;
    cf_route_entry_t    table[FZ_MAX_TABLE + 1];

    if (size < 2) {
        return 0;
    }

    method = fz_methods[data[0] % (sizeof(fz_methods) / sizeof(unsigned))];
    loc = fz_locations[(data[1] & 0x7f)
                       % (sizeof(fz_locations) / sizeof(char *))];

    if (!(data[1] & 0x80)) {
        /* the real table; the URI as bytes (nginx's r->uri may hold NUL) */
        copy = malloc(size - 2 ? size - 2 : 1);
        FZ_ASSERT(copy != NULL);
        memcpy(copy, data + 2, size - 2);
        fz_check(fz_routes, FZ_NROUTES, method, copy, size - 2, loc);
        free(copy);
        return 0;
    }

    /* a fuzzed table: NUL-free text lines */

    copy = malloc(size - 1);
    FZ_ASSERT(copy != NULL);
    memcpy(copy, data + 2, size - 2);
    copy[size - 2] = '\0';

    if (strlen(copy) != size - 2) {
        free(copy);
        return 0;
    }

    nt = 0;
    line = copy;

    while ((next = strchr(line, '\n')) != NULL) {
        *next = '\0';

        if (nt < FZ_MAX_TABLE && line[0] && fz_pattern_ok(line + 1)) {
            table[nt].method = fz_methods[(unsigned char) line[0] % 5];
            table[nt].command = (line[0] & 0x40) ? 0 : -1;
            table[nt].pattern = line + 1;
            nt++;
        }

        line = next + 1;
    }

    table[nt].method = 0;
    table[nt].pattern = NULL;
    table[nt].command = -1;

    uri = line;
    urilen = strlen(uri);

    fz_check(table, (size_t) nt + 1, method, uri, urilen, loc);

    free(copy);

    return 0;
}
