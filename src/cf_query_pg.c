/*
 * ngx_compensation: the query compiler's PostgreSQL dialect
 * (cf_query_int.h): its spellings and its JSON access over the PostgreSQL
 * store's tables (cf_pg_schema.c), and the statement text
 * (cf_query_pg_sql).  The emitter (cf_query_emit.c) writes the predicates
 * with them; values are always bound ("$N", sent as text and cast where
 * they are used); JSON paths of the fixed table are literals, every other
 * path is bound segment by segment.
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


/* s with its ASCII letters folded to lower case */
#define CF_PG_FOLD(s)  "translate(" s ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',"      \
                       " 'abcdefghijklmnopqrstuvwxyz')"


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


/* json_typeof of a JSON leaf (NULL when missing) */
static int
cf_pg_type(cf_qc_t *c, cf_q_ref_t *r)
{
    cf_sb_add(&c->sb, "json_typeof(");
    if (cf_pg_json(c, r) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, ")");

    return 0;
}


/* the elements of an array leaf (none when it is not one): a column v */
static int
cf_pg_elements(cf_qc_t *c, cf_q_ref_t *r)
{
    cf_sb_add(&c->sb, "json_array_elements(CASE WHEN json_typeof(");
    if (cf_pg_json(c, r) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, ") = 'array' THEN ");
    if (cf_pg_json(c, r) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, " END)");

    return 0;
}


/* the json value and, for an array, its elements: a column v, typed by
 * json_typeof */
static int
cf_pg_candidates(cf_qc_t *c, cf_q_ref_t *r)
{
    if (cf_pg_json(c, r) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, " AS v UNION ALL SELECT ");

    return cf_pg_elements(c, r);
}


char *
cf_query_pg_sql(const cf_query_t *q, int count)
{
    return cf_q_statement(&cf_query_pg_dialect, q, count);
}


const cf_query_dialect_t  cf_query_pg_dialect = {
    "postgresql",
    "$",
    "false",
    "true",
    " NULLS FIRST",
    " NULLS LAST",
    " COLLATE \"C\"",
    "::text",
    "::bigint",
    "::numeric",

    { "'string'", "'number'", "'boolean'", "'object'" },
    { "(%s #>> '{}')", "(%s #>> '{}')::numeric",
      "(CASE WHEN (%s #>> '{}') = 'true' THEN 1 ELSE 0 END)", "%s::text" },
    "(%1$s = %2$s AND CASE %1$s"
    " WHEN 'number' THEN (%3$s #>> '{}')::numeric = (%4$s #>> '{}')::numeric"
    " WHEN 'string' THEN (%3$s #>> '{}') = (%4$s #>> '{}')"
    " WHEN 'boolean' THEN (%3$s #>> '{}') = (%4$s #>> '{}')"
    " WHEN 'null' THEN false"
    " ELSE %3$s::text = %4$s::text END)",
    "json_array_elements(",
    "::json)",
    "(v)",
    "%s.v",
    "json_typeof(%s.v)",
    "json_typeof(%s.v)",
    {
        { "strpos(%1$s, %2$s) > 0",
          "left(%1$s, length(%2$s)) = %2$s",
          "right(%1$s, length(%2$s)) = %2$s",
          "%1$s IS NOT NULL" },
        /* SQLite's lower() folds ASCII letters only */
        { "strpos(" CF_PG_FOLD("%1$s") ", " CF_PG_FOLD("%2$s") ") > 0",
          "left(" CF_PG_FOLD("%1$s") ", length(" CF_PG_FOLD("%2$s") "))"
          " = " CF_PG_FOLD("%2$s"),
          "right(" CF_PG_FOLD("%1$s") ", length(" CF_PG_FOLD("%2$s") "))"
          " = " CF_PG_FOLD("%2$s"),
          CF_PG_FOLD("%1$s") " IS NOT NULL" }
    },
    1,

    /* the count rollup of schema version 3 (cf_pg_schema.c) */
    "SELECT coalesce(sum(n), 0) FROM snapshot_count WHERE ",
    NULL,

    cf_pg_expr,
    cf_pg_json,
    cf_pg_type,
    cf_pg_elements,
    cf_pg_candidates,
    cf_q_in_rows
};
