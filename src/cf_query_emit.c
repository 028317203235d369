
/*
 * ngx_compensation: the query compiler's SQL emitter (cf_query_int.h):
 * the SQL text of every leaf operator, the walks through arrays and the
 * statements, written once for every dialect.  Where the engines differ
 * the text comes from the dialect: its spellings (placeholders, casts,
 * JSON type names, collation, case folding, the rows of a JSON array) and
 * its JSON access (cf_query_sqlite.c, cf_query_pg.c).  Values are always
 * bound parameters.
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


#define CF_Q_NAME  48     /* a candidate's or row's value or type */


/* the placeholder of a scalar, cast as its type; an object or array is
 * its compact text; a boolean is the constant 1 or 0 */
static int
cf_q_value(cf_qc_t *c, json_t *v)
{
    const cf_query_dialect_t  *d = c->dialect;

    if (json_is_boolean(v)) {
        cf_sb_add(&c->sb, json_is_true(v) ? "1" : "0");
        return 0;
    }

    if (json_is_object(v) || json_is_array(v)) {
        if (cf_q_bind_dump(c, v) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, d->cast_text);
        return 0;
    }

    if (cf_q_bind(c, v) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, json_is_integer(v) ? d->cast_int
                      : json_is_real(v) ? d->cast_real : d->cast_text);

    return 0;
}


/* " op <value>)" after an SQL value of kind: strings ordered by bytes */
static int
cf_q_op_value(cf_qc_t *c, cf_q_kind_t kind, const char *op, json_t *v)
{
    cf_sb_addf(&c->sb, "%s %s ",
               (kind == CF_K_STR && strcmp(op, "=") != 0)
               ? c->dialect->collate : "", op);

    if (cf_q_value(c, v) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, ")");

    return 0;
}


/* "ts is a JSON value of kind" (its type names: one, or a list) */
static void
cf_q_type_is(cf_qc_t *c, const char *ts, cf_q_kind_t kind)
{
    const char  *types = c->dialect->types[kind];

    cf_sb_addf(&c->sb, strchr(types, ',') ? "%s IN (%s)" : "%s = %s", ts,
               types);
}


/* "<source> AS <alias><cols> WHERE " with the names of the alias's row
 * value and (rt not NULL) type; the source is the array leaf r, or the
 * bound list */
static int
cf_q_rows(cf_qc_t *c, cf_q_ref_t *r, json_t *list, char letter, int a,
    char *rv, char *rt, size_t len)
{
    char                       alias[16];
    const cf_query_dialect_t  *d = c->dialect;

    snprintf(alias, sizeof(alias), "%c%d", letter, a);
    snprintf(rv, len, d->row_value, alias);

    if (rt) {
        snprintf(rt, len, d->row_type, alias);
    }

    if (r) {
        if (d->elements(c, r) != 0) {
            return -1;
        }

    } else {
        cf_sb_add(&c->sb, d->list_open);
        if (cf_q_bind_dump(c, list) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, d->list_close);
    }

    cf_sb_addf(&c->sb, " AS %s%s WHERE ", alias, d->row_cols);

    return 0;
}


/* opens "EXISTS (SELECT 1 FROM <candidates of an ANY/ARR leaf> WHERE " and
 * sets the names of a candidate's value and type */
static int
cf_q_candidates(cf_qc_t *c, cf_q_ref_t *r, char *v, char *t, size_t len)
{
    int   a;
    char  alias[16];

    a = c->aliases++;
    snprintf(alias, sizeof(alias), "c%d", a);
    snprintf(v, len, "%s.v", alias);
    snprintf(t, len, c->dialect->cand_type, alias);

    cf_sb_add(&c->sb, "EXISTS (SELECT 1 FROM (SELECT ");
    if (c->dialect->candidates(c, r) != 0) {
        return -1;
    }

    cf_sb_addf(&c->sb, ") AS %s WHERE ", alias);

    return 0;
}


/* candidate (value vs, type ts) compared by op with a value */
static int
cf_q_any_cmp(cf_qc_t *c, const char *vs, const char *ts, const char *op,
    cf_q_val_t *val)
{
    int                        ord;
    json_t                    *v;
    cf_q_kind_t                kind;
    const cf_query_dialect_t  *d = c->dialect;

    ord = strcmp(op, "=") != 0;

    if (val->vsql) {
        /* a row of a bound list (IN, ALL_IN: only "="): the same value */
        cf_sb_addf(&c->sb, d->same_value, ts, val->tsql, vs, val->vsql);
        return 0;
    }

    v = val->v;

    if (json_is_object(v) || json_is_array(v)) {
        if (ord) {
            cf_sb_add(&c->sb, d->never);
            return 0;
        }

        cf_sb_addf(&c->sb, "(%s = '%s' AND ", ts,
                   json_is_object(v) ? "object" : "array");
        cf_sb_addf(&c->sb, d->as_kind[CF_K_OBJ], vs);
        cf_sb_add(&c->sb, " = ");
        if (cf_q_value(c, v) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, ")");
        return 0;
    }

    if (json_is_null(v)) {
        /* only EQ reaches here, as "the value is null" */
        cf_sb_addf(&c->sb, "%s = 'null'", ts);
        return 0;
    }

    kind = json_is_string(v) ? CF_K_STR
           : json_is_boolean(v) ? CF_K_BOOL : CF_K_INT;

    cf_sb_add(&c->sb, "(");
    cf_q_type_is(c, ts, kind);
    cf_sb_add(&c->sb, " AND ");
    cf_sb_addf(&c->sb, d->as_kind[kind], vs);

    return cf_q_op_value(c, kind, op, v);
}


/*
 * leaf "field op value" for EQ and the orderings (op: = > < >= <=) on a
 * resolved leaf without hops
 */
static int
cf_q_leaf_cmp(cf_qc_t *c, cf_q_ref_t *r, const char *op, cf_q_val_t *val)
{
    int                        ord;
    char                       vs[CF_Q_NAME], ts[CF_Q_NAME];
    json_t                    *v;
    cf_q_kind_t                kind;
    const cf_query_dialect_t  *d = c->dialect;

    kind = r->f->kind;
    v = val->v;
    ord = strcmp(op, "=") != 0;

    if (kind == CF_K_MISSING) {
        cf_sb_add(&c->sb, d->never);
        return 0;
    }

    if (kind == CF_K_ANY || kind == CF_K_ARR) {

        cf_sb_add(&c->sb, "(");

        if (kind == CF_K_ARR && !ord && v && json_is_array(v)) {
            /* the whole array, or an element that is this array */
            if (d->json(c, r) != 0) {
                return -1;
            }

            cf_sb_add(&c->sb, d->cast_text);
            cf_sb_add(&c->sb, " = ");
            if (cf_q_value(c, v) != 0) {
                return -1;
            }

            cf_sb_add(&c->sb, " OR ");
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
        /* a row of a bound list against a typed leaf (only "=") */
        cf_sb_addf(&c->sb, "(%s IN (%s) AND ", val->tsql, d->types[kind]);
        if (d->expr(c, r) != 0) {
            return -1;
        }

        cf_sb_addf(&c->sb, " %s ", op);
        cf_sb_addf(&c->sb, d->as_kind[kind], val->vsql);
        cf_sb_add(&c->sb, ")");
        return 0;
    }

    if (!cf_q_kind_fits(kind, v) || (kind == CF_K_OBJ && ord)) {
        /* type bracketing: never equal, never ordered */
        cf_sb_add(&c->sb, d->never);
        return 0;
    }

    cf_sb_add(&c->sb, "(");
    if (d->expr(c, r) != 0) {
        return -1;
    }

    return cf_q_op_value(c, kind, op, v);
}


/* leaf "missing or null" (positive form of NULL) */
static int
cf_q_leaf_null(cf_qc_t *c, cf_q_ref_t *r)
{
    char                       vs[CF_Q_NAME], ts[CF_Q_NAME];
    const cf_query_dialect_t  *d = c->dialect;

    if (r->f->kind == CF_K_MISSING) {
        cf_sb_add(&c->sb, d->always);
        return 0;
    }

    cf_sb_add(&c->sb, "(");

    if (r->f->kind == CF_K_ANY) {
        if (d->type(c, r) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, " IS NULL OR ");
        if (cf_q_candidates(c, r, vs, ts, sizeof(vs)) != 0) {
            return -1;
        }

        cf_sb_addf(&c->sb, "%s = 'null'))", ts);
        return 0;
    }

    if (r->f->kind == CF_K_ARR && d->arr_null_by_type) {
        cf_sb_add(&c->sb, "coalesce(");
        if (d->type(c, r) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, ", 'null') = 'null')");
        return 0;
    }

    if (d->expr(c, r) != 0) {
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
        cf_sb_add(&c->sb, c->dialect->never);
        return 0;
    }

    if (r->f->path == NULL && r->f->column) {
        if (!r->f->rollup) {
            c->rollup = 0;
        }

        cf_sb_add(&c->sb, c->dialect->always);
        return 0;
    }

    cf_sb_add(&c->sb, "(");
    if (c->dialect->type(c, r) != 0) {
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
    int                        pn, any;
    char                       x[CF_Q_NAME + 32], p[32];
    char                       vs[CF_Q_NAME], ts[CF_Q_NAME];
    const cf_query_dialect_t  *d = c->dialect;

    any = (r->f->kind == CF_K_ANY || r->f->kind == CF_K_ARR);

    if (!any && r->f->kind != CF_K_STR) {
        cf_sb_add(&c->sb, d->never);
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

        cf_q_type_is(c, ts, CF_K_STR);
        cf_sb_add(&c->sb, " AND ");
        snprintf(x, sizeof(x), d->as_kind[CF_K_STR], vs);

    } else {
        /* the leaf expression once, into a sub-select column */
        snprintf(x, sizeof(x), "s%d.x", c->aliases);
        cf_sb_add(&c->sb, "EXISTS (SELECT 1 FROM (SELECT ");
        if (d->expr(c, r) != 0) {
            return -1;
        }

        cf_sb_addf(&c->sb, " AS x) AS s%d WHERE ", c->aliases++);
    }

    snprintf(p, sizeof(p), "%s%d%s", d->param_prefix, pn, d->cast_text);

    /* the escaped empty regex matches every string */
    cf_sb_addf(&c->sb, d->match[icase != 0]
                                [json_string_length(v) == 0 ? 3 : mode],
               x, p);

    cf_sb_add(&c->sb, "))");

    return 0;
}


/* "typed leaf IN list" through the rows of the bound list */
int
cf_q_in_rows(cf_qc_t *c, cf_q_ref_t *r, json_t *list)
{
    char        lv[CF_Q_NAME], lt[CF_Q_NAME];
    cf_q_val_t  val;

    cf_sb_add(&c->sb, "EXISTS (SELECT 1 FROM ");
    if (cf_q_rows(c, NULL, list, 'l', c->aliases++, lv, lt, sizeof(lv))
        != 0)
    {
        return -1;
    }

    val.v = NULL;
    val.vsql = lv;
    val.tsql = lt;

    if (cf_q_leaf_cmp(c, r, "=", &val) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, ")");

    return 0;
}


/* leaf IN over a list (no nulls; those are handled by the caller) */
static int
cf_q_leaf_in(cf_qc_t *c, cf_q_ref_t *r, json_t *list)
{
    int                        n, first;
    size_t                     i;
    json_t                    *v;
    char                       vs[CF_Q_NAME], ts[CF_Q_NAME];
    char                       lv[CF_Q_NAME], lt[CF_Q_NAME];
    cf_q_val_t                 val;
    cf_q_kind_t                kind;
    const cf_query_dialect_t  *d = c->dialect;

    kind = r->f->kind;

    if (kind == CF_K_MISSING || json_array_size(list) == 0) {
        cf_sb_add(&c->sb, d->never);
        return 0;
    }

    if (kind == CF_K_ANY || kind == CF_K_ARR) {

        if (json_array_size(list) <= CF_Q_SHORT_LIST) {
            cf_sb_addf(&c->sb, "(%s", d->never);

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
        n = c->aliases++;
        cf_sb_add(&c->sb, "(");
        if (cf_q_candidates(c, r, vs, ts, sizeof(vs)) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, "EXISTS (SELECT 1 FROM ");
        if (cf_q_rows(c, NULL, list, 'l', n, lv, lt, sizeof(lv)) != 0) {
            return -1;
        }

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

    n = 0;
    json_array_foreach(list, i, v) {
        if (cf_q_kind_fits(kind, v)) {
            n++;
        }
    }

    if (n == 0) {
        cf_sb_add(&c->sb, d->never);
        return 0;
    }

    if (n > CF_Q_SHORT_LIST) {
        return d->in_long(c, r, list);
    }

    cf_sb_add(&c->sb, "(");
    if (d->expr(c, r) != 0) {
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

        if (cf_q_value(c, v) != 0) {
            return -1;
        }
    }

    cf_sb_add(&c->sb, "))");

    return 0;
}


int
cf_q_leaf(cf_qc_t *c, cf_q_ref_t *r, cf_q_leaf_t *lo)
{
    int       has_null;
    char      eb[CF_Q_NAME], et[CF_Q_NAME];
    size_t    i;
    json_t   *v;

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
        cf_sb_add(&c->sb, "EXISTS (SELECT 1 FROM ");
        if (cf_q_rows(c, r, NULL, 'e', c->aliases++, eb, et, sizeof(eb))
            != 0)
        {
            return -1;
        }

        cf_sb_addf(&c->sb, "%s = 'object' AND ", et);

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


/* "EXISTS (SELECT 1 FROM <the elements of r's array> AS jN WHERE " */
int
cf_q_hop_open(cf_qc_t *c, cf_q_ref_t *r, char *eb, size_t len)
{
    cf_sb_add(&c->sb, "EXISTS (SELECT 1 FROM ");

    return cf_q_rows(c, r, NULL, 'j', c->aliases++, eb, NULL, len);
}


/* "NOT EXISTS (SELECT 1 FROM <the rows of list> AS lN WHERE NOT " */
int
cf_q_all_open(cf_qc_t *c, json_t *list, char *lv, char *lt, size_t len)
{
    cf_sb_add(&c->sb, "NOT EXISTS (SELECT 1 FROM ");
    if (cf_q_rows(c, NULL, list, 'l', c->aliases++, lv, lt, len) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, "NOT ");

    return 0;
}


/* the sort key: strings (and objects' text) in byte order */
int
cf_q_sort_key(cf_qc_t *c, cf_q_ref_t *r)
{
    if (c->dialect->expr(c, r) != 0) {
        return -1;
    }

    if (r->f->kind == CF_K_STR || r->f->kind == CF_K_OBJ) {
        cf_sb_add(&c->sb, c->dialect->collate);
    }

    return 0;
}


char *
cf_q_statement(const cf_query_dialect_t *d, const cf_query_t *q, int count)
{
    cf_sb_t      sb;
    const char  *table;

    memset(&sb, 0, sizeof(cf_sb_t));

    table = (q->store == CF_QUERY_SNAPSHOT) ? "snapshot" : "event_stream";

    if (count) {
        if (q->store == CF_QUERY_SNAPSHOT && q->rollup && d->count_rollup) {
            cf_sb_add(&sb, d->count_rollup);
        } else {
            cf_sb_addf(&sb, "SELECT count(*) FROM %s WHERE ", table);
        }

        cf_sb_add(&sb, q->where);

    } else {
        cf_sb_add(&sb, q->store == CF_QUERY_SNAPSHOT
                  ? "SELECT aggregate_id, tenant_id, owner_id, version,"
                    " event_id, first_operator, operator, first_event_time,"
                    " event_time, state, snapshot_time, deleted, tags"
                  : "SELECT id, header, aggregate_id, tenant_id, owner_id,"
                    " command_id, request_id, version, body, create_time,"
                    " size");
        cf_sb_addf(&sb, " FROM %s WHERE ", table);

        if (d->page_key) {
            /*
             * Two steps: the keys of the page are chosen (and sorted) on
             * the narrow index entries, then only those rows are read
             * whole.
             */
            cf_sb_addf(&sb, "%s IN (SELECT %s FROM %s WHERE ", d->page_key,
                       d->page_key, table);
        }

        cf_sb_add(&sb, q->where);

        if (q->order && q->order[0]) {
            cf_sb_add(&sb, " ");
            cf_sb_add(&sb, q->order);
        }

        if (q->limit >= 0) {
            cf_sb_addf(&sb, " LIMIT %lld OFFSET %lld", (long long) q->limit,
                       (long long) q->offset);
        }

        if (d->page_key) {
            cf_sb_add(&sb, ")");

            if (q->order && q->order[0]) {
                cf_sb_add(&sb, " ");
                cf_sb_add(&sb, q->order);
            }
        }
    }

    if (sb.oom) {
        free(sb.p);
        return NULL;
    }

    return sb.p;
}
