/*
 * ngx_compensation: the query compiler's PostgreSQL dialect
 * (cf_query_int.h): the SQL text of each predicate over the PostgreSQL
 * store's tables (cf_pg_schema.c), and the statement text
 * (cf_query_pg_sql).  Values are always bound ("$N", sent as text and
 * cast where they are used); JSON paths of the fixed table are literals,
 * every other path is bound segment by segment.
 *
 * The semantics are SQLite's dialect's (cf_query_sqlite.c), made to hold
 * where the engines differ:
 *   - the JSON documents are json (the text as written), read with
 *     json_extract_path: an object compares by its stored compact text,
 *     as SQLite's json_extract returns it;
 *   - strings order by bytes (COLLATE "C"), SQLite's BINARY collation;
 *   - the case-insensitive operators fold ASCII letters only, as SQLite's
 *     lower() does;
 *   - NULLs sort first ascending and last descending (the dialect's sort
 *     suffixes), SQLite's order;
 *   - booleans are the integers 0 and 1 (json true/false become 1/0);
 *   - a value of unknown type (header keys, event payloads) is a json
 *     value and its json_typeof, compared only within its type class.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_query_int.h"


#define CF_PG_FOLD  "'ABCDEFGHIJKLMNOPQRSTUVWXYZ'," \
                    " 'abcdefghijklmnopqrstuvwxyz'"


static int cf_pg_leaf(cf_qc_t *c, cf_q_ref_t *r, cf_q_leaf_t *lo);


/* a placeholder with its cast; v decides the type */
static int
cf_pg_bind(cf_qc_t *c, json_t *v)
{
    if (json_is_object(v) || json_is_array(v)) {
        if (cf_q_bind_dump(c, v) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, "::text");
        return 0;
    }

    if (cf_q_bind(c, v) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, json_is_integer(v) ? "::bigint"
                      : json_is_real(v) ? "::numeric" : "::text");

    return 0;
}


/*
 * Writes json_extract_path's path arguments (", 'a', 'b'") of a path of
 * the form $.a.b or $."quoted key": literal when the path is the fixed
 * table's, else one bound text each.
 */
static int
cf_pg_path_args(cf_qc_t *c, cf_q_ref_t *r)
{
    char        seg[CF_Q_MAX_PATH];
    size_t      n;
    const char *p;

    p = r->f->path;

    if (p[0] == '$') {
        p++;
    }

    while (*p == '.') {
        p++;
        n = 0;

        if (*p == '"') {
            p++;
            while (*p && *p != '"' && n < sizeof(seg) - 1) {
                seg[n++] = *p++;
            }
            if (*p == '"') {
                p++;
            }

        } else {
            while (*p && *p != '.' && n < sizeof(seg) - 1) {
                seg[n++] = *p++;
            }
        }

        seg[n] = '\0';

        cf_sb_add(&c->sb, ", ");

        if (r->dynamic) {
            if (cf_q_bind_new(c, json_string(seg)) != 0) {
                return -1;
            }

            cf_sb_add(&c->sb, "::text");

        } else {
            /* the fixed table's names: letters only, never user text */
            cf_sb_addf(&c->sb, "'%s'", seg);
        }
    }

    return 0;
}


/* the json value of a JSON leaf (NULL when missing) */
static int
cf_pg_json(cf_qc_t *c, cf_q_ref_t *r)
{
    const char  *base;

    c->rollup = 0;
    base = r->f->column ? r->f->column : r->base;

    if (r->f->path == NULL) {
        cf_sb_add(&c->sb, base);
        return 0;
    }

    cf_sb_addf(&c->sb, "json_extract_path(%s", base);

    if (cf_pg_path_args(c, r) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, ")");

    return 0;
}


/* the SQL value of a typed leaf, as SQLite's json_extract gives it */
static int
cf_pg_expr(cf_qc_t *c, cf_q_ref_t *r)
{
    const cf_q_field_t  *f;

    f = r->f;

    if (f->kind == CF_K_MISSING) {
        cf_sb_add(&c->sb, "NULL");
        return 0;
    }

    if (!f->rollup) {
        c->rollup = 0;
    }

    if (f->path == NULL && f->column) {
        if (f->kind == CF_K_OBJ || f->kind == CF_K_ARR) {
            cf_sb_addf(&c->sb, "(%s)::text", f->column);

        } else if (f->column[0] == '\'') {
            /* a constant: typed, so that ORDER BY takes it */
            cf_sb_addf(&c->sb, "(%s::text)", f->column);

        } else {
            cf_sb_add(&c->sb, f->column);
        }

        return 0;
    }

    switch (f->kind) {

    case CF_K_STR:
        cf_sb_add(&c->sb, "(CASE WHEN json_typeof(");
        if (cf_pg_json(c, r) != 0) {
            return -1;
        }
        cf_sb_add(&c->sb, ") <> 'null' THEN ");
        if (cf_pg_json(c, r) != 0) {
            return -1;
        }
        cf_sb_add(&c->sb, " #>> '{}' END)");
        return 0;

    case CF_K_INT:
        cf_sb_add(&c->sb, "(CASE WHEN json_typeof(");
        if (cf_pg_json(c, r) != 0) {
            return -1;
        }
        cf_sb_add(&c->sb, ") = 'number' THEN (");
        if (cf_pg_json(c, r) != 0) {
            return -1;
        }
        cf_sb_add(&c->sb, " #>> '{}')::numeric END)");
        return 0;

    case CF_K_BOOL:
        cf_sb_add(&c->sb, "(CASE json_typeof(");
        if (cf_pg_json(c, r) != 0) {
            return -1;
        }
        cf_sb_add(&c->sb, ") WHEN 'boolean' THEN CASE WHEN (");
        if (cf_pg_json(c, r) != 0) {
            return -1;
        }
        cf_sb_add(&c->sb, " #>> '{}') = 'true' THEN 1 ELSE 0 END END)");
        return 0;

    default:
        cf_sb_add(&c->sb, "(CASE WHEN json_typeof(");
        if (cf_pg_json(c, r) != 0) {
            return -1;
        }
        cf_sb_add(&c->sb, ") <> 'null' THEN (");
        if (cf_pg_json(c, r) != 0) {
            return -1;
        }
        cf_sb_add(&c->sb, ")::text END)");
        return 0;
    }
}


/*
 * Opens "EXISTS (SELECT 1 FROM <the value and, for an array, its
 * elements> AS cN WHERE " and sets the names of a candidate's json value
 * and its json type.
 */
static int
cf_pg_candidates(cf_qc_t *c, cf_q_ref_t *r, char *v, char *t, size_t len)
{
    int  a;

    a = c->aliases++;

    snprintf(v, len, "c%d.v", a);
    snprintf(t, len, "json_typeof(c%d.v)", a);

    cf_sb_add(&c->sb, "EXISTS (SELECT 1 FROM (SELECT ");
    if (cf_pg_json(c, r) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, " AS v UNION ALL SELECT json_array_elements(CASE WHEN"
                      " json_typeof(");
    if (cf_pg_json(c, r) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, ") = 'array' THEN ");
    if (cf_pg_json(c, r) != 0) {
        return -1;
    }

    cf_sb_addf(&c->sb, " END)) AS c%d WHERE ", a);

    return 0;
}


/* a candidate (json vs, type ts) compared by op with val */
static int
cf_pg_any_cmp(cf_qc_t *c, const char *vs, const char *ts, const char *op,
    cf_q_val_t *val)
{
    int      ord;
    json_t  *v;

    ord = strcmp(op, "=") != 0;

    if (val->vsql) {
        /* a value of a bound list: same type, then the values (only "=") */
        cf_sb_addf(&c->sb, "(%s = %s AND CASE %s"
                   " WHEN 'number' THEN (%s #>> '{}')::numeric"
                   " = (%s #>> '{}')::numeric"
                   " WHEN 'string' THEN (%s #>> '{}') = (%s #>> '{}')"
                   " WHEN 'boolean' THEN (%s #>> '{}') = (%s #>> '{}')"
                   " WHEN 'null' THEN false"
                   " ELSE %s::text = %s::text END)",
                   ts, val->tsql, ts, vs, val->vsql, vs, val->vsql, vs,
                   val->vsql, vs, val->vsql);
        return 0;
    }

    v = val->v;

    if (json_is_string(v)) {
        cf_sb_addf(&c->sb, "(%s = 'string' AND (%s #>> '{}')%s %s ", ts, vs,
                   ord ? " COLLATE \"C\"" : "", op);

    } else if (cf_q_is_number(v)) {
        cf_sb_addf(&c->sb, "(%s = 'number' AND (%s #>> '{}')::numeric %s ",
                   ts, vs, op);

    } else if (json_is_boolean(v)) {
        cf_sb_addf(&c->sb, "(%s = 'boolean' AND (CASE WHEN (%s #>> '{}') ="
                   " 'true' THEN 1 ELSE 0 END) %s %s)", ts, vs, op,
                   json_is_true(v) ? "1" : "0");
        return 0;

    } else if (json_is_object(v) || json_is_array(v)) {
        if (ord) {
            cf_sb_add(&c->sb, "false");
            return 0;
        }

        cf_sb_addf(&c->sb, "(%s = '%s' AND %s::text = ", ts,
                   json_is_object(v) ? "object" : "array", vs);
        if (cf_pg_bind(c, v) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, ")");
        return 0;

    } else {
        cf_sb_addf(&c->sb, "%s = 'null'", ts);
        return 0;
    }

    if (cf_pg_bind(c, v) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, ")");

    return 0;
}


static int
cf_pg_leaf_cmp(cf_qc_t *c, cf_q_ref_t *r, const char *op, cf_q_val_t *val)
{
    int           ord;
    char          vs[32], ts[48];
    json_t       *v;
    cf_q_kind_t   kind;

    kind = r->f->kind;
    v = val->v;
    ord = strcmp(op, "=") != 0;

    if (kind == CF_K_MISSING) {
        cf_sb_add(&c->sb, "false");
        return 0;
    }

    if (kind == CF_K_ANY || kind == CF_K_ARR) {

        cf_sb_add(&c->sb, "(");

        if (kind == CF_K_ARR && !ord && v && json_is_array(v)) {
            /* the whole array, or an element that is this array */
            if (cf_pg_json(c, r) != 0) {
                return -1;
            }

            cf_sb_add(&c->sb, "::text = ");
            if (cf_pg_bind(c, v) != 0) {
                return -1;
            }

            cf_sb_add(&c->sb, " OR ");
        }

        if (cf_pg_candidates(c, r, vs, ts, sizeof(vs)) != 0) {
            return -1;
        }

        if (cf_pg_any_cmp(c, vs, ts, op, val) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, "))");
        return 0;
    }

    if (val->vsql) {
        /* a value of a bound list against a typed leaf (only "=") */
        static const char  *types[] = {
            "'string'", "'number'", "'boolean'", "'object'"
        };
        static const char  *conv[] = {
            "(%s #>> '{}')", "(%s #>> '{}')::numeric",
            "(CASE WHEN (%s #>> '{}') = 'true' THEN 1 ELSE 0 END)",
            "%s::text"
        };

        cf_sb_addf(&c->sb, "(%s IN (%s) AND ", val->tsql, types[kind]);
        if (cf_pg_expr(c, r) != 0) {
            return -1;
        }

        cf_sb_addf(&c->sb, " %s ", op);
        cf_sb_addf(&c->sb, conv[kind], val->vsql);
        cf_sb_add(&c->sb, ")");
        return 0;
    }

    if (!cf_q_kind_fits(kind, v) || (kind == CF_K_OBJ && ord)) {
        cf_sb_add(&c->sb, "false");
        return 0;
    }

    cf_sb_add(&c->sb, "(");
    if (cf_pg_expr(c, r) != 0) {
        return -1;
    }

    cf_sb_addf(&c->sb, "%s %s ",
               (ord && kind == CF_K_STR) ? " COLLATE \"C\"" : "", op);

    if (json_is_boolean(v)) {
        cf_sb_add(&c->sb, json_is_true(v) ? "1" : "0");

    } else if (cf_pg_bind(c, v) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, ")");

    return 0;
}


static int
cf_pg_leaf_null(cf_qc_t *c, cf_q_ref_t *r)
{
    char  vs[32], ts[48];

    if (r->f->kind == CF_K_MISSING) {
        cf_sb_add(&c->sb, "true");
        return 0;
    }

    if (r->f->kind == CF_K_ANY) {
        cf_sb_add(&c->sb, "(json_typeof(");
        if (cf_pg_json(c, r) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, ") IS NULL OR ");
        if (cf_pg_candidates(c, r, vs, ts, sizeof(vs)) != 0) {
            return -1;
        }

        cf_sb_addf(&c->sb, "%s = 'null'))", ts);
        return 0;
    }

    cf_sb_add(&c->sb, "(");

    if (r->f->kind == CF_K_ARR) {
        /* SQLite: json_extract of an array is its text, null for null */
        cf_sb_add(&c->sb, "coalesce(json_typeof(");
        if (cf_pg_json(c, r) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, "), 'null') = 'null')");
        return 0;
    }

    if (cf_pg_expr(c, r) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, " IS NULL)");

    return 0;
}


static int
cf_pg_leaf_exists(cf_qc_t *c, cf_q_ref_t *r)
{
    if (r->f->kind == CF_K_MISSING) {
        cf_sb_add(&c->sb, "false");
        return 0;
    }

    if (r->f->path == NULL && r->f->column) {
        if (!r->f->rollup) {
            c->rollup = 0;
        }

        cf_sb_add(&c->sb, "true");
        return 0;
    }

    cf_sb_add(&c->sb, "(json_typeof(");
    if (cf_pg_json(c, r) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, ") IS NOT NULL)");

    return 0;
}


/* string match: mode 0 contains, 1 starts, 2 ends */
static int
cf_pg_leaf_string(cf_qc_t *c, cf_q_ref_t *r, int mode, json_t *v,
    int icase)
{
    int    pn, any;
    char   x[160], p[120], vs[32], ts[48];

    any = (r->f->kind == CF_K_ANY || r->f->kind == CF_K_ARR);

    if (!any && r->f->kind != CF_K_STR) {
        cf_sb_add(&c->sb, "false");
        return 0;
    }

    pn = cf_q_param(c, v);
    if (pn == 0) {
        return -1;
    }

    cf_sb_add(&c->sb, "(");

    if (any) {
        if (cf_pg_candidates(c, r, vs, ts, sizeof(vs)) != 0) {
            return -1;
        }

        cf_sb_addf(&c->sb, "%s = 'string' AND ", ts);
        snprintf(x, sizeof(x), "(%s #>> '{}')", vs);

    } else {
        snprintf(x, sizeof(x), "s%d.x", c->aliases);
        cf_sb_add(&c->sb, "EXISTS (SELECT 1 FROM (SELECT ");
        if (cf_pg_expr(c, r) != 0) {
            return -1;
        }

        cf_sb_addf(&c->sb, " AS x) AS s%d WHERE ", c->aliases++);
    }

    if (icase) {
        /* SQLite's lower() folds ASCII letters only */
        char  t[64];

        snprintf(t, sizeof(t), "%.60s", x);
        snprintf(x, sizeof(x), "translate(%s, " CF_PG_FOLD ")", t);
        snprintf(p, sizeof(p), "translate($%d::text, " CF_PG_FOLD ")", pn);

    } else {
        snprintf(p, sizeof(p), "$%d::text", pn);
    }

    if (json_string_length(v) == 0) {
        cf_sb_addf(&c->sb, "%s IS NOT NULL", x);

    } else if (mode == 0) {
        cf_sb_addf(&c->sb, "strpos(%s, %s) > 0", x, p);

    } else if (mode == 1) {
        cf_sb_addf(&c->sb, "left(%s, length(%s)) = %s", x, p, p);

    } else {
        cf_sb_addf(&c->sb, "right(%s, length(%s)) = %s", x, p, p);
    }

    cf_sb_add(&c->sb, "))");

    return 0;
}


static int
cf_pg_leaf_in(cf_qc_t *c, cf_q_ref_t *r, json_t *list)
{
    int          n, a, first;
    size_t       i;
    json_t      *v;
    char         vs[32], ts[48], lv[32], lt[48];
    cf_q_val_t   val;
    cf_q_kind_t  kind;

    kind = r->f->kind;

    if (kind == CF_K_MISSING || json_array_size(list) == 0) {
        cf_sb_add(&c->sb, "false");
        return 0;
    }

    if (kind == CF_K_ANY || kind == CF_K_ARR) {

        if (json_array_size(list) <= CF_Q_SHORT_LIST) {
            cf_sb_add(&c->sb, "(false");

            json_array_foreach(list, i, v) {
                cf_sb_add(&c->sb, " OR ");
                val.v = v;
                val.vsql = NULL;
                val.tsql = NULL;

                if (cf_pg_leaf_cmp(c, r, "=", &val) != 0) {
                    return -1;
                }
            }

            cf_sb_add(&c->sb, ")");
            return 0;
        }

        a = c->aliases++;
        cf_sb_add(&c->sb, "(");
        if (cf_pg_candidates(c, r, vs, ts, sizeof(vs)) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, "EXISTS (SELECT 1 FROM json_array_elements(");
        if (cf_q_bind_dump(c, list) != 0) {
            return -1;
        }

        cf_sb_addf(&c->sb, "::json) AS l%d(v) WHERE ", a);

        snprintf(lv, sizeof(lv), "l%d.v", a);
        snprintf(lt, sizeof(lt), "json_typeof(l%d.v)", a);
        val.v = NULL;
        val.vsql = lv;
        val.tsql = lt;

        if (cf_pg_any_cmp(c, vs, ts, "=", &val) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, ")))");
        return 0;
    }

    /* a typed leaf: only values of its type can match */

    n = 0;
    json_array_foreach(list, i, v) {
        if (cf_q_kind_fits(kind, v)) {
            n++;
        }
    }

    if (n == 0) {
        cf_sb_add(&c->sb, "false");
        return 0;
    }

    if (n > CF_Q_SHORT_LIST) {
        /* a long list: one bound json array, compared element by element */
        a = c->aliases++;
        snprintf(lv, sizeof(lv), "l%d.v", a);
        snprintf(lt, sizeof(lt), "json_typeof(l%d.v)", a);

        cf_sb_add(&c->sb, "EXISTS (SELECT 1 FROM json_array_elements(");
        if (cf_q_bind_dump(c, list) != 0) {
            return -1;
        }

        cf_sb_addf(&c->sb, "::json) AS l%d(v) WHERE ", a);

        val.v = NULL;
        val.vsql = lv;
        val.tsql = lt;

        if (cf_pg_leaf_cmp(c, r, "=", &val) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, ")");
        return 0;
    }

    cf_sb_add(&c->sb, "(");
    if (cf_pg_expr(c, r) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, " IN (");
    first = 1;

    json_array_foreach(list, i, v) {
        if (!cf_q_kind_fits(kind, v)) {
            continue;
        }

        if (!first) {
            cf_sb_add(&c->sb, ", ");
        }

        first = 0;

        if (json_is_boolean(v)) {
            cf_sb_add(&c->sb, json_is_true(v) ? "1" : "0");

        } else if (cf_pg_bind(c, v) != 0) {
            return -1;
        }
    }

    cf_sb_add(&c->sb, "))");

    return 0;
}


static int
cf_pg_leaf(cf_qc_t *c, cf_q_ref_t *r, cf_q_leaf_t *lo)
{
    int       a, has_null;
    char      eb[32];
    size_t    i;
    json_t   *v;

    switch (lo->op) {

    case CF_L_CMP:
        return cf_pg_leaf_cmp(c, r, lo->cmp, &lo->val);

    case CF_L_IN:
        has_null = 0;

        json_array_foreach(lo->list, i, v) {
            if (json_is_null(v)) {
                has_null = 1;
            }
        }

        if (has_null) {
            cf_sb_add(&c->sb, "(");
            if (cf_pg_leaf_null(c, r) != 0) {
                return -1;
            }

            cf_sb_add(&c->sb, " OR ");
        }

        if (cf_pg_leaf_in(c, r, lo->list) != 0) {
            return -1;
        }

        if (has_null) {
            cf_sb_add(&c->sb, ")");
        }

        return 0;

    case CF_L_NULL:
        return cf_pg_leaf_null(c, r);

    case CF_L_NOT_NULL:
        cf_sb_add(&c->sb, "NOT ");
        return cf_pg_leaf_null(c, r);

    case CF_L_EXISTS:
        return cf_pg_leaf_exists(c, r);

    case CF_L_STRING:
        return cf_pg_leaf_string(c, r, lo->mode, lo->val.v, lo->icase);

    case CF_L_ELEM:
        if (r->f->kind != CF_K_ARR) {
            return cf_q_fail(c, "ELEM_MATCH needs an array field, \"%s\" is"
                             " not one.", r->f->name);
        }

        c->rollup = 0;
        a = c->aliases++;
        snprintf(eb, sizeof(eb), "e%d.v", a);

        cf_sb_add(&c->sb, "EXISTS (SELECT 1 FROM json_array_elements(CASE"
                          " WHEN json_typeof(");
        if (cf_pg_json(c, r) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, ") = 'array' THEN ");
        if (cf_pg_json(c, r) != 0) {
            return -1;
        }

        cf_sb_addf(&c->sb, " END) AS e%d(v) WHERE json_typeof(e%d.v) ="
                   " 'object' AND ", a, a);

        if (cf_q_condition(c, lo->child, r->f->elem, eb, lo->depth + 1)
            != 0)
        {
            return -1;
        }

        cf_sb_add(&c->sb, ")");
        return 0;
    }

    return -1;
}


static int
cf_pg_hop_open(cf_qc_t *c, cf_q_ref_t *r, const char *base, char *eb,
    size_t len)
{
    int         a;
    cf_q_ref_t  h;

    a = c->aliases++;
    snprintf(eb, len, "j%d.v", a);

    h = *r;
    h.base = base;

    cf_sb_add(&c->sb, "EXISTS (SELECT 1 FROM json_array_elements(CASE WHEN"
                      " json_typeof(");
    if (cf_pg_json(c, &h) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, ") = 'array' THEN ");
    if (cf_pg_json(c, &h) != 0) {
        return -1;
    }

    cf_sb_addf(&c->sb, " END) AS j%d(v) WHERE ", a);

    return 0;
}


static int
cf_pg_all_open(cf_qc_t *c, json_t *list, char *lv, char *lt, size_t len)
{
    int  a;

    a = c->aliases++;
    snprintf(lv, len, "l%d.v", a);
    snprintf(lt, len, "json_typeof(l%d.v)", a);

    cf_sb_add(&c->sb, "NOT EXISTS (SELECT 1 FROM json_array_elements(");
    if (cf_q_bind_dump(c, list) != 0) {
        return -1;
    }

    cf_sb_addf(&c->sb, "::json) AS l%d(v) WHERE NOT ", a);

    return 0;
}


/* the sort key: strings in byte order */
static int
cf_pg_sort_key(cf_qc_t *c, cf_q_ref_t *r)
{
    if (cf_pg_expr(c, r) != 0) {
        return -1;
    }

    if (r->f->kind == CF_K_STR || r->f->kind == CF_K_OBJ) {
        cf_sb_add(&c->sb, " COLLATE \"C\"");
    }

    return 0;
}


char *
cf_query_pg_sql(const cf_query_t *q, int count)
{
    cf_sb_t  sb;

    memset(&sb, 0, sizeof(cf_sb_t));

    if (count) {
        cf_sb_add(&sb, q->store == CF_QUERY_SNAPSHOT
                       ? "SELECT count(*) FROM snapshot WHERE "
                       : "SELECT count(*) FROM event_stream WHERE ");
        cf_sb_add(&sb, q->where);

    } else {
        cf_sb_add(&sb, q->store == CF_QUERY_SNAPSHOT
                  ? "SELECT aggregate_id, tenant_id, owner_id, version,"
                    " event_id, first_operator, operator, first_event_time,"
                    " event_time, state, snapshot_time, deleted, tags"
                    " FROM snapshot WHERE "
                  : "SELECT id, header, aggregate_id, tenant_id, owner_id,"
                    " command_id, request_id, version, body, create_time,"
                    " size FROM event_stream WHERE ");
        cf_sb_add(&sb, q->where);

        if (q->order && q->order[0]) {
            cf_sb_add(&sb, " ");
            cf_sb_add(&sb, q->order);
        }

        if (q->limit >= 0) {
            cf_sb_addf(&sb, " LIMIT %lld OFFSET %lld", (long long) q->limit,
                       (long long) q->offset);
        }
    }

    if (sb.oom) {
        free(sb.p);
        return NULL;
    }

    return sb.p;
}


const cf_query_dialect_t  cf_query_pg_dialect = {
    "postgresql",
    "$",
    "false",
    "true",
    " NULLS FIRST",
    " NULLS LAST",
    cf_pg_leaf,
    cf_pg_hop_open,
    cf_pg_all_open,
    cf_pg_sort_key
};
