
/*
 * ngx_compensation: the query compiler's SQLite dialect (cf_query_int.h):
 * its spellings and its JSON access over the snapshot and event_stream
 * tables with SQLite's JSON1 functions (json_extract, json_type,
 * json_each), and the full statement text (cf_query_sql).  The emitter
 * (cf_query_emit.c) writes the predicates with them; values are bound
 * parameters ("?N").
 *
 * JSON1 gives a document field as an SQL value of its own type (text,
 * integer, real; 1 or 0 for true and false; an object or array as its
 * compact text), so that a candidate's value compares as it is, once its
 * json_type is known.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_query_int.h"


/* "fn(<document>, <path>)" of a JSON leaf: the fixed table's path as a
 * literal (never user text), any other path bound */
static int
cf_sqlite_call(cf_qc_t *c, const char *fn, cf_q_ref_t *r)
{
    cf_sb_addf(&c->sb, "%s(%s", fn, r->f->column ? r->f->column : r->base);

    if (r->f->path) {
        cf_sb_add(&c->sb, ", ");

        if (r->dynamic) {
            if (cf_q_bind_new(c, json_string(r->f->path)) != 0) {
                return -1;
            }

        } else {
            cf_sb_addf(&c->sb, "'%s'", r->f->path);
        }
    }

    cf_sb_add(&c->sb, ")");

    return 0;
}


/* the value expression of a leaf */
static int
cf_sqlite_expr(cf_qc_t *c, cf_q_ref_t *r)
{
    const cf_q_field_t  *f;
    const char          *base;

    f = r->f;

    if (f->kind == CF_K_MISSING) {
        cf_sb_add(&c->sb, "NULL");
        return 0;
    }

    if (!f->rollup) {
        c->rollup = 0;
    }

    base = f->column ? f->column : r->base;

    if (f->path == NULL) {
        if (f->kind == CF_K_OBJ || f->kind == CF_K_ARR) {
            /* compared as compact text */
            cf_sb_addf(&c->sb, "json(%s)", base);
            return 0;
        }

        cf_sb_add(&c->sb, base);
        return 0;
    }

    return cf_sqlite_call(c, "json_extract", r);
}


/* json_type(base, path) of a JSON leaf */
static int
cf_sqlite_type(cf_qc_t *c, cf_q_ref_t *r)
{
    c->rollup = 0;

    return cf_sqlite_call(c, "json_type", r);
}


/* json_each(base, path): its columns value and type */
static int
cf_sqlite_elements(cf_qc_t *c, cf_q_ref_t *r)
{
    return cf_sqlite_call(c, "json_each", r);
}


/* the value with its type, and the elements when the value is an array */
static int
cf_sqlite_candidates(cf_qc_t *c, cf_q_ref_t *r)
{
    if (cf_sqlite_expr(c, r) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, " AS v, ");
    if (cf_sqlite_type(c, r) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, " AS t UNION ALL SELECT value, type FROM ");
    if (cf_sqlite_elements(c, r) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, " WHERE ");
    if (cf_sqlite_type(c, r) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, " = 'array'");

    return 0;
}


/*
 * "leaf IN (SELECT value FROM json_each(<the values of its kind>))": the
 * leaf's index still serves a long list.  Booleans are JSON1's 1 and 0,
 * objects their compact text.
 */
static int
cf_sqlite_in_long(cf_qc_t *c, cf_q_ref_t *r, json_t *list)
{
    int      rc;
    size_t   i;
    json_t  *v, *typed;

    typed = json_array();
    if (typed == NULL) {
        c->sb.oom = 1;
        return -1;
    }

    json_array_foreach(list, i, v) {
        if (!cf_q_kind_fits(r->f->kind, v)) {
            continue;
        }

        if (json_is_boolean(v)) {
            json_array_append_new(typed, json_integer(json_is_true(v)));

        } else if (json_is_object(v)) {
            char  *s = json_dumps(v, JSON_COMPACT);

            if (s) {
                json_array_append_new(typed, json_string(s));
                free(s);
            }

        } else {
            json_array_append(typed, v);
        }
    }

    cf_sb_add(&c->sb, "(");
    rc = cf_sqlite_expr(c, r);

    if (rc == 0) {
        cf_sb_add(&c->sb, " IN (SELECT value FROM json_each(");
        rc = cf_q_bind_dump(c, typed);
        cf_sb_add(&c->sb, ")))");
    }

    json_decref(typed);

    return rc;
}


char *
cf_query_sql(const cf_query_t *q, int count)
{
    return cf_q_statement(&cf_query_sqlite_dialect, q, count);
}


const cf_query_dialect_t  cf_query_sqlite_dialect = {
    "sqlite",
    "?",
    "0",
    "1",
    NULL,
    NULL,
    "",                               /* BINARY: bytes already */
    "",
    "",
    "",

    { "'text'", "'integer', 'real'", "'true', 'false'", "'object'" },
    { "%s", "%s", "%s", "%s" },
    "((%1$s = %2$s OR (%1$s IN ('integer', 'real') AND %2$s IN ('integer',"
    " 'real'))) AND %3$s = %4$s)",
    "json_each(",
    ")",
    "",
    "%s.value",
    "%s.type",
    "%s.t",
    {
        /* SQLite's lower() folds ASCII letters only */
        { "instr(%1$s, %2$s) > 0",
          "substr(%1$s, 1, length(%2$s)) = %2$s",
          "length(%1$s) >= length(%2$s) AND substr(%1$s, -length(%2$s))"
          " = %2$s",
          "%1$s IS NOT NULL" },
        { "instr(lower(%1$s), lower(%2$s)) > 0",
          "lower(substr(%1$s, 1, length(%2$s))) = lower(%2$s)",
          "length(%1$s) >= length(%2$s) AND lower(substr(%1$s,"
          " -length(%2$s))) = lower(%2$s)",
          "%1$s IS NOT NULL" }
    },
    0,

    "SELECT coalesce(sum(n), 0) FROM snapshot_count WHERE ",
    "rowid",

    cf_sqlite_expr,
    cf_sqlite_expr,
    cf_sqlite_type,
    cf_sqlite_elements,
    cf_sqlite_candidates,
    cf_sqlite_in_long
};
