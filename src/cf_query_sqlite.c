
/*
 * ngx_compensation: the query compiler's SQLite dialect (cf_query_int.h):
 * the SQL text of each predicate over the snapshot and event_stream
 * tables, with SQLite's JSON1 functions (json_extract, json_type,
 * json_each) for the document fields, and the full statement text
 * (cf_query_sql).  Values are always bound parameters ("?N").
 *
 * Semantics are those of the reference backend (MongoDB), see cf_query.c:
 * a field of the table is compared by its known type; a field of unknown
 * type or an array (CF_K_ANY, CF_K_ARR) is compared through its
 * "candidates": the value itself and, for an array, its elements, each
 * with its JSON type, so that type bracketing and "any element" hold.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_query_int.h"


static int cf_q_leaf(cf_qc_t *c, cf_q_ref_t *r, cf_q_leaf_t *lo);


/* binds a scalar compared with a typed column: booleans become 0/1 */
static int
cf_q_bind_typed(cf_qc_t *c, json_t *v)
{
    if (json_is_boolean(v)) {
        cf_sb_add(&c->sb, json_is_true(v) ? "1" : "0");
        return 0;
    }

    if (json_is_object(v) || json_is_array(v)) {
        return cf_q_bind_dump(c, v);
    }

    return cf_q_bind(c, v);
}


/* the value expression of a leaf */
static int
cf_q_expr(cf_qc_t *c, cf_q_ref_t *r)
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

    cf_sb_addf(&c->sb, "json_extract(%s, ", base);

    if (r->dynamic) {
        if (cf_q_bind_new(c, json_string(f->path)) != 0) {
            return -1;
        }

    } else {
        /* a path of the fixed table, never user text */
        cf_sb_addf(&c->sb, "'%s'", f->path);
    }

    cf_sb_add(&c->sb, ")");

    return 0;
}


/* json_type(base, path) of a JSON leaf */
static int
cf_q_type_expr(cf_qc_t *c, cf_q_ref_t *r)
{
    const cf_q_field_t  *f;

    f = r->f;
    c->rollup = 0;

    cf_sb_addf(&c->sb, "json_type(%s",
               f->column ? f->column : r->base);

    if (f->path) {
        cf_sb_add(&c->sb, ", ");

        if (r->dynamic) {
            if (cf_q_bind_new(c, json_string(f->path)) != 0) {
                return -1;
            }

        } else {
            cf_sb_addf(&c->sb, "'%s'", f->path);
        }
    }

    cf_sb_add(&c->sb, ")");

    return 0;
}


/* opens "EXISTS (SELECT 1 FROM <candidates of an ANY/ARR leaf> WHERE " and
 * sets the names of the value and type columns */
static int
cf_q_candidates(cf_qc_t *c, cf_q_ref_t *r, char *v, char *t, size_t len)
{
    int  a;

    a = c->aliases++;

    snprintf(v, len, "c%d.v", a);
    snprintf(t, len, "c%d.t", a);

    cf_sb_add(&c->sb, "EXISTS (SELECT 1 FROM (SELECT ");
    if (cf_q_expr(c, r) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, " AS v, ");
    if (cf_q_type_expr(c, r) != 0) {
        return -1;
    }

    /* and the elements when the value is an array */
    cf_sb_add(&c->sb, " AS t UNION ALL SELECT value, type FROM json_each(");
    cf_sb_add(&c->sb, r->f->column ? r->f->column : r->base);

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

    cf_sb_add(&c->sb, ") WHERE ");
    if (cf_q_type_expr(c, r) != 0) {
        return -1;
    }

    cf_sb_addf(&c->sb, " = 'array') AS c%d WHERE ", a);

    return 0;
}


/* value v (constant or dynamic) compared by op on untyped (vs, ts) */
static int
cf_q_any_cmp(cf_qc_t *c, const char *vs, const char *ts, const char *op,
    cf_q_val_t *val)
{
    json_t  *v;

    if (val->vsql) {
        /* dynamic: same JSON type class, then the values */
        cf_sb_addf(&c->sb, "((%s = %s OR (%s IN ('integer', 'real') AND %s"
                   " IN ('integer', 'real'))) AND %s %s %s)",
                   ts, val->tsql, ts, val->tsql, vs, op, val->vsql);
        return 0;
    }

    v = val->v;

    if (json_is_string(v)) {
        cf_sb_addf(&c->sb, "(%s = 'text' AND %s %s ", ts, vs, op);

    } else if (cf_q_is_number(v)) {
        cf_sb_addf(&c->sb, "(%s IN ('integer', 'real') AND %s %s ", ts, vs,
                   op);

    } else if (json_is_boolean(v)) {
        cf_sb_addf(&c->sb, "(%s IN ('true', 'false') AND %s %s %s)", ts, vs,
                   op, json_is_true(v) ? "1" : "0");
        return 0;

    } else if (json_is_object(v) || json_is_array(v)) {
        if (strcmp(op, "=") != 0) {
            cf_sb_add(&c->sb, "0");
            return 0;
        }

        cf_sb_addf(&c->sb, "(%s = '%s' AND %s = ", ts,
                   json_is_object(v) ? "object" : "array", vs);
        if (cf_q_bind_dump(c, v) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, ")");
        return 0;

    } else {
        /* null: only EQ reaches here, as "the value is null" */
        cf_sb_addf(&c->sb, "%s = 'null'", ts);
        return 0;
    }

    if (cf_q_bind(c, v) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, ")");

    return 0;
}


/*
 * leaf "field op value" for EQ and the orderings (op: = > < >= <=) on a
 * resolved leaf without hops
 */
static int
cf_q_leaf_cmp(cf_qc_t *c, cf_q_ref_t *r, const char *op, cf_q_val_t *val)
{
    char                 vs[32], ts[32];
    json_t              *v;
    cf_q_kind_t          kind;

    kind = r->f->kind;
    v = val->v;

    if (kind == CF_K_MISSING) {
        cf_sb_add(&c->sb, "0");
        return 0;
    }

    if (kind == CF_K_ANY || kind == CF_K_ARR) {

        if (kind == CF_K_ARR && strcmp(op, "=") == 0 && v
            && json_is_array(v))
        {
            /* the whole array, or an element that is this array */
            cf_sb_add(&c->sb, "(");
            if (cf_q_expr(c, r) != 0) {
                return -1;
            }

            cf_sb_add(&c->sb, " = ");
            if (cf_q_bind_dump(c, v) != 0) {
                return -1;
            }

            cf_sb_add(&c->sb, " OR ");
        } else {
            cf_sb_add(&c->sb, "(");
        }

        if (cf_q_candidates(c, r, vs, ts, sizeof(vs)) != 0) {
            return -1;
        }

        if (cf_q_any_cmp(c, vs, ts, op, val) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, "))");
        return 0;
    }

    if (val->vsql) {
        /* dynamic value against a typed leaf */
        static const char  *types[] = {
            "'text'", "'integer', 'real'", "'true', 'false'", "'object'"
        };

        cf_sb_addf(&c->sb, "(%s IN (%s) AND ", val->tsql, types[kind]);
        if (cf_q_expr(c, r) != 0) {
            return -1;
        }

        cf_sb_addf(&c->sb, " %s %s)", op, val->vsql);
        return 0;
    }

    if (!cf_q_kind_fits(kind, v)
        || (kind == CF_K_OBJ && strcmp(op, "=") != 0))
    {
        /* type bracketing: never equal, never ordered */
        cf_sb_add(&c->sb, "0");
        return 0;
    }

    cf_sb_add(&c->sb, "(");
    if (cf_q_expr(c, r) != 0) {
        return -1;
    }

    cf_sb_addf(&c->sb, " %s ", op);
    if (cf_q_bind_typed(c, v) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, ")");

    return 0;
}


/* leaf "missing or null" (positive form of NULL) */
static int
cf_q_leaf_null(cf_qc_t *c, cf_q_ref_t *r)
{
    char  vs[32], ts[32];

    if (r->f->kind == CF_K_MISSING) {
        cf_sb_add(&c->sb, "1");
        return 0;
    }

    if (r->f->kind == CF_K_ANY) {
        cf_sb_add(&c->sb, "(");
        if (cf_q_type_expr(c, r) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, " IS NULL OR ");
        if (cf_q_candidates(c, r, vs, ts, sizeof(vs)) != 0) {
            return -1;
        }

        cf_sb_addf(&c->sb, "%s = 'null'))", ts);
        return 0;
    }

    cf_sb_add(&c->sb, "(");
    if (cf_q_expr(c, r) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, " IS NULL)");

    return 0;
}


/* leaf "present" (EXISTS true): columns always are */
static int
cf_q_leaf_exists(cf_qc_t *c, cf_q_ref_t *r)
{
    if (r->f->kind == CF_K_MISSING) {
        cf_sb_add(&c->sb, "0");
        return 0;
    }

    if (r->f->path == NULL && r->f->column) {
        if (!r->f->rollup) {
            c->rollup = 0;
        }

        cf_sb_add(&c->sb, "1");
        return 0;
    }

    cf_sb_add(&c->sb, "(");
    if (cf_q_type_expr(c, r) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, " IS NOT NULL)");

    return 0;
}


/* leaf string match: mode 0 contains, 1 starts, 2 ends */
static int
cf_q_leaf_string(cf_qc_t *c, cf_q_ref_t *r, int mode, json_t *v,
    int icase)
{
    int    pn;
    char   x[40], vs[32], ts[32];
    int    any;

    any = (r->f->kind == CF_K_ANY || r->f->kind == CF_K_ARR);

    if (!any && r->f->kind != CF_K_STR) {
        cf_sb_add(&c->sb, "0");
        return 0;
    }

    pn = cf_q_param(c, v);
    if (pn == 0) {
        return -1;
    }

    cf_sb_add(&c->sb, "(");

    if (any) {
        if (cf_q_candidates(c, r, vs, ts, sizeof(vs)) != 0) {
            return -1;
        }

        cf_sb_addf(&c->sb, "%s = 'text' AND ", ts);
        snprintf(x, sizeof(x), "%s", vs);

    } else {
        /* the leaf expression once, into a sub-select column */
        snprintf(x, sizeof(x), "s%d.x", c->aliases);
        cf_sb_add(&c->sb, "EXISTS (SELECT 1 FROM (SELECT ");
        if (cf_q_expr(c, r) != 0) {
            return -1;
        }

        cf_sb_addf(&c->sb, " AS x) AS s%d WHERE ", c->aliases++);
    }

    if (json_string_length(v) == 0) {
        /* the escaped empty regex matches every string */
        cf_sb_addf(&c->sb, "%s IS NOT NULL", x);

    } else if (mode == 0) {
        cf_sb_addf(&c->sb, icase ? "instr(lower(%s), lower(?%d)) > 0"
                                 : "instr(%s, ?%d) > 0", x, pn);

    } else if (mode == 1) {
        cf_sb_addf(&c->sb, icase ? "lower(substr(%s, 1, length(?%d)))"
                                   " = lower(?%d)"
                                 : "substr(%s, 1, length(?%d)) = ?%d",
                   x, pn, pn);

    } else {
        cf_sb_addf(&c->sb, icase ? "length(%s) >= length(?%d) AND"
                                   " lower(substr(%s, -length(?%d)))"
                                   " = lower(?%d)"
                                 : "length(%s) >= length(?%d) AND"
                                   " substr(%s, -length(?%d)) = ?%d",
                   x, pn, x, pn, pn);
    }

    cf_sb_add(&c->sb, any ? "))" : "))");

    return 0;
}


/* leaf IN over a list (no nulls; those are handled by the caller) */
static int
cf_q_leaf_in(cf_qc_t *c, cf_q_ref_t *r, json_t *list)
{
    int          n, a;
    size_t       i;
    json_t      *v, *typed;
    char         vs[32], ts[32], lv[32], lt[32];
    cf_q_val_t   val;
    cf_q_kind_t  kind;

    kind = r->f->kind;

    if (kind == CF_K_MISSING || json_array_size(list) == 0) {
        cf_sb_add(&c->sb, "0");
        return 0;
    }

    if (kind == CF_K_ANY || kind == CF_K_ARR) {

        if (json_array_size(list) <= CF_Q_SHORT_LIST) {
            cf_sb_add(&c->sb, "(0");

            json_array_foreach(list, i, v) {
                cf_sb_add(&c->sb, " OR ");
                val.v = v;
                val.vsql = NULL;
                val.tsql = NULL;

                if (cf_q_leaf_cmp(c, r, "=", &val) != 0) {
                    return -1;
                }
            }

            cf_sb_add(&c->sb, ")");
            return 0;
        }

        /* a long list: one bound JSON array */
        a = c->aliases++;
        cf_sb_add(&c->sb, "(");
        if (cf_q_candidates(c, r, vs, ts, sizeof(vs)) != 0) {
            return -1;
        }

        cf_sb_addf(&c->sb, "EXISTS (SELECT 1 FROM json_each(");
        if (cf_q_bind_dump(c, list) != 0) {
            return -1;
        }

        cf_sb_addf(&c->sb, ") AS l%d WHERE ", a);

        snprintf(lv, sizeof(lv), "l%d.value", a);
        snprintf(lt, sizeof(lt), "l%d.type", a);
        val.v = NULL;
        val.vsql = lv;
        val.tsql = lt;

        if (cf_q_any_cmp(c, vs, ts, "=", &val) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, ")))");
        return 0;
    }

    /* a typed leaf: only values of its type can match */

    typed = json_array();
    if (typed == NULL) {
        c->sb.oom = 1;
        return -1;
    }

    json_array_foreach(list, i, v) {
        if (cf_q_kind_fits(kind, v)) {
            if (json_is_boolean(v)) {
                v = json_integer(json_is_true(v));
                json_array_append_new(typed, v);

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
    }

    n = (int) json_array_size(typed);

    if (n == 0) {
        json_decref(typed);
        cf_sb_add(&c->sb, "0");
        return 0;
    }

    cf_sb_add(&c->sb, "(");
    if (cf_q_expr(c, r) != 0) {
        json_decref(typed);
        return -1;
    }

    if (n <= CF_Q_SHORT_LIST) {
        cf_sb_add(&c->sb, " IN (");

        json_array_foreach(typed, i, v) {
            if (i) {
                cf_sb_add(&c->sb, ", ");
            }

            if (cf_q_bind(c, v) != 0) {
                json_decref(typed);
                return -1;
            }
        }

        cf_sb_add(&c->sb, "))");

    } else {
        cf_sb_add(&c->sb, " IN (SELECT value FROM json_each(");
        if (cf_q_bind_dump(c, typed) != 0) {
            json_decref(typed);
            return -1;
        }

        cf_sb_add(&c->sb, ")))");
    }

    json_decref(typed);

    return 0;
}


static int
cf_q_leaf(cf_qc_t *c, cf_q_ref_t *r, cf_q_leaf_t *lo)
{
    int          a, has_null;
    char         eb[32];
    size_t       i;
    json_t      *v;

    switch (lo->op) {

    case CF_L_CMP:
        return cf_q_leaf_cmp(c, r, lo->cmp, &lo->val);

    case CF_L_IN:
        has_null = 0;

        json_array_foreach(lo->list, i, v) {
            if (json_is_null(v)) {
                has_null = 1;
            }
        }

        if (has_null) {
            cf_sb_add(&c->sb, "(");
            if (cf_q_leaf_null(c, r) != 0) {
                return -1;
            }

            cf_sb_add(&c->sb, " OR ");
        }

        if (cf_q_leaf_in(c, r, lo->list) != 0) {
            return -1;
        }

        if (has_null) {
            cf_sb_add(&c->sb, ")");
        }

        return 0;

    case CF_L_NULL:
        return cf_q_leaf_null(c, r);

    case CF_L_NOT_NULL:
        cf_sb_add(&c->sb, "NOT ");
        return cf_q_leaf_null(c, r);

    case CF_L_EXISTS:
        return cf_q_leaf_exists(c, r);

    case CF_L_STRING:
        return cf_q_leaf_string(c, r, lo->mode, lo->val.v, lo->icase);

    case CF_L_ELEM:
        if (r->f->kind != CF_K_ARR) {
            return cf_q_fail(c, "ELEM_MATCH needs an array field, \"%s\" is"
                             " not one.", r->f->name);
        }

        c->rollup = 0;
        a = c->aliases++;
        snprintf(eb, sizeof(eb), "e%d.value", a);

        cf_sb_addf(&c->sb, "EXISTS (SELECT 1 FROM json_each(%s",
                   r->f->column ? r->f->column : r->base);

        if (r->f->path) {
            cf_sb_addf(&c->sb, ", '%s'", r->f->path);
        }

        cf_sb_addf(&c->sb, ") AS e%d WHERE e%d.type = 'object' AND ", a, a);

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


/* "EXISTS (SELECT 1 FROM json_each(<array>) AS jN WHERE " */
static int
cf_q_sqlite_hop_open(cf_qc_t *c, cf_q_ref_t *r, const char *base, char *eb,
    size_t len)
{
    int  a;

    a = c->aliases++;
    snprintf(eb, len, "j%d.value", a);

    cf_sb_addf(&c->sb, "EXISTS (SELECT 1 FROM json_each(%s",
               r->f->column ? r->f->column : base);

    if (r->f->path) {
        cf_sb_addf(&c->sb, ", '%s'", r->f->path);
    }

    cf_sb_addf(&c->sb, ") AS j%d WHERE ", a);

    return 0;
}


/* "NOT EXISTS (SELECT 1 FROM json_each(<list>) AS lN WHERE NOT " */
static int
cf_q_sqlite_all_open(cf_qc_t *c, json_t *list, char *lv, char *lt,
    size_t len)
{
    int  a;

    a = c->aliases++;
    snprintf(lv, len, "l%d.value", a);
    snprintf(lt, len, "l%d.type", a);

    cf_sb_add(&c->sb, "NOT EXISTS (SELECT 1 FROM json_each(");
    if (cf_q_bind_dump(c, list) != 0) {
        return -1;
    }

    cf_sb_addf(&c->sb, ") AS l%d WHERE NOT ", a);

    return 0;
}


char *
cf_query_sql(const cf_query_t *q, int count)
{
    cf_sb_t  sb;

    memset(&sb, 0, sizeof(cf_sb_t));

    if (count) {
        if (q->store == CF_QUERY_SNAPSHOT && q->rollup) {
            cf_sb_add(&sb, "SELECT coalesce(sum(n), 0) FROM snapshot_count"
                           " WHERE ");
        } else {
            cf_sb_add(&sb, q->store == CF_QUERY_SNAPSHOT
                           ? "SELECT count(*) FROM snapshot WHERE "
                           : "SELECT count(*) FROM event_stream WHERE ");
        }

        cf_sb_add(&sb, q->where);

    } else {
        /*
         * Two steps: the rowids of the page are chosen (and sorted) on the
         * narrow index entries, then only those rows are read whole.
         */
        cf_sb_add(&sb, q->store == CF_QUERY_SNAPSHOT
                  ? "SELECT aggregate_id, tenant_id, owner_id, version,"
                    " event_id, first_operator, operator, first_event_time,"
                    " event_time, state, snapshot_time, deleted, tags"
                    " FROM snapshot WHERE rowid IN (SELECT rowid FROM"
                    " snapshot WHERE "
                  : "SELECT id, header, aggregate_id, tenant_id, owner_id,"
                    " command_id, request_id, version, body, create_time,"
                    " size FROM event_stream WHERE rowid IN (SELECT rowid"
                    " FROM event_stream WHERE ");
        cf_sb_add(&sb, q->where);

        if (q->order && q->order[0]) {
            cf_sb_add(&sb, " ");
            cf_sb_add(&sb, q->order);
        }

        if (q->limit >= 0) {
            cf_sb_addf(&sb, " LIMIT %lld OFFSET %lld", (long long) q->limit,
                       (long long) q->offset);
        }

        cf_sb_add(&sb, ")");

        if (q->order && q->order[0]) {
            cf_sb_add(&sb, " ");
            cf_sb_add(&sb, q->order);
        }
    }

    if (sb.oom) {
        free(sb.p);
        return NULL;
    }

    return sb.p;
}

const cf_query_dialect_t  cf_query_sqlite_dialect = {
    "sqlite",
    "?",
    "0",
    "1",
    NULL,
    NULL,
    cf_q_leaf,
    cf_q_sqlite_hop_open,
    cf_q_sqlite_all_open,
    cf_q_expr
};
