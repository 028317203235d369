
/*
 * ngx_compensation: the query DSL compiler (see cf_query.h).
 *
 * Semantics are those of the reference backend (MongoDB) as spec 4.2
 * describes them:
 *
 *   - a value of another type never equals or orders against a field
 *     (type bracketing): such a comparison matches nothing, NE/NOT_IN
 *     match everything;
 *   - NE, NOT_IN and NOT_NULL also match a missing field, NULL matches a
 *     missing or null field;
 *   - a path through an array (state.error.bindingErrors.name, body.name)
 *     matches when any element matches; EQ/IN on an array field match an
 *     element or the whole array; negations negate the whole "any";
 *   - BETWEEN is GTE AND LTE, each of which may be met by another element;
 *   - string operators are literal, ignoreCase folds ASCII letters.
 *
 * The field table (cf_query_fields.c) knows each field's type, so most
 * predicates are plain comparisons of a column or a document path with a
 * bound value; the hot snapshot columns (status, recoverable, ...) are used
 * instead of the state document so that the dashboard's conditions run on
 * indexes.  This file is the dialect-neutral compiler: operators,
 * validation, limits, conditions, sort, projection; the SQL text of each
 * predicate comes from the emitter (cf_query_emit.c) in the query's
 * dialect (cf_query_int.h), the time ranges from cf_query_time.c.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>

#include "cf_query_int.h"


/* operators (spec 4.2) */

typedef enum {
    CF_OP_AND = 0, CF_OP_OR, CF_OP_NOR, CF_OP_ALL,
    CF_OP_ID, CF_OP_IDS, CF_OP_AGGREGATE_ID, CF_OP_AGGREGATE_IDS,
    CF_OP_TENANT_ID, CF_OP_OWNER_ID, CF_OP_SPACE_ID, CF_OP_DELETED,
    CF_OP_EQ, CF_OP_NE, CF_OP_GT, CF_OP_LT, CF_OP_GTE, CF_OP_LTE,
    CF_OP_CONTAINS, CF_OP_IN, CF_OP_NOT_IN, CF_OP_BETWEEN, CF_OP_ALL_IN,
    CF_OP_STARTS_WITH, CF_OP_ENDS_WITH, CF_OP_ELEM_MATCH,
    CF_OP_NULL, CF_OP_NOT_NULL, CF_OP_TRUE, CF_OP_FALSE, CF_OP_EXISTS,
    CF_OP_TODAY, CF_OP_BEFORE_TODAY, CF_OP_TOMORROW, CF_OP_THIS_WEEK,
    CF_OP_NEXT_WEEK, CF_OP_LAST_WEEK, CF_OP_THIS_MONTH, CF_OP_LAST_MONTH,
    CF_OP_RECENT_DAYS, CF_OP_EARLIER_DAYS, CF_OP_RAW, CF_OP_MATCH,
    CF_OP__COUNT
} cf_q_op_t;


static const char *const  cf_q_op_names[CF_OP__COUNT] = {
    "AND", "OR", "NOR", "ALL",
    "ID", "IDS", "AGGREGATE_ID", "AGGREGATE_IDS",
    "TENANT_ID", "OWNER_ID", "SPACE_ID", "DELETED",
    "EQ", "NE", "GT", "LT", "GTE", "LTE",
    "CONTAINS", "IN", "NOT_IN", "BETWEEN", "ALL_IN",
    "STARTS_WITH", "ENDS_WITH", "ELEM_MATCH",
    "NULL", "NOT_NULL", "TRUE", "FALSE", "EXISTS",
    "TODAY", "BEFORE_TODAY", "TOMORROW", "THIS_WEEK",
    "NEXT_WEEK", "LAST_WEEK", "THIS_MONTH", "LAST_MONTH",
    "RECENT_DAYS", "EARLIER_DAYS", "RAW", "MATCH"
};


/* --- string builder ------------------------------------------------------ */

void
cf_sb_addn(cf_sb_t *sb, const char *s, size_t n)
{
    char    *p;
    size_t   cap;

    if (sb->oom) {
        return;
    }

    if (sb->len + n + 1 > sb->cap) {
        cap = sb->cap ? sb->cap * 2 : 256;

        while (cap < sb->len + n + 1) {
            cap *= 2;
        }

        p = realloc(sb->p, cap);
        if (p == NULL) {
            sb->oom = 1;
            return;
        }

        sb->p = p;
        sb->cap = cap;
    }

    memcpy(sb->p + sb->len, s, n);
    sb->len += n;
    sb->p[sb->len] = '\0';
}


void
cf_sb_add(cf_sb_t *sb, const char *s)
{
    cf_sb_addn(sb, s, strlen(s));
}


void
cf_sb_addf(cf_sb_t *sb, const char *fmt, ...)
{
    int      n;
    char     buf[512];
    va_list  args;

    va_start(args, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);

    if (n < 0 || (size_t) n >= sizeof(buf)) {
        sb->oom = 1;
        return;
    }

    cf_sb_addn(sb, buf, (size_t) n);
}


/* --- helpers ------------------------------------------------------------- */

int
cf_q_fail(cf_qc_t *c, const char *fmt, ...)
{
    va_list  args;

    if (cf_error_is_ok(c->err)) {
        c->err->code = CF_E_ILLEGAL_ARGUMENT;
        va_start(args, fmt);
        vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, args);
        va_end(args);
    }

    return -1;
}


/* appends a parameter (a new reference is taken); returns its number */
int
cf_q_param(cf_qc_t *c, json_t *v)
{
    if (json_array_size(c->params) >= CF_Q_MAX_PARAMS) {
        cf_q_fail(c, "The query has more than %d values in total.",
                  CF_Q_MAX_PARAMS);
        return 0;
    }

    if (json_array_append(c->params, v) != 0) {
        c->sb.oom = 1;
        return 0;
    }

    return (int) json_array_size(c->params);
}


/* appends "?N" for a value (new reference taken); 0 or -1 */
int
cf_q_bind(cf_qc_t *c, json_t *v)
{
    int  n;

    n = cf_q_param(c, v);
    if (n == 0) {
        return -1;
    }

    cf_sb_addf(&c->sb, "%s%d", c->dialect->param_prefix, n);

    return 0;
}


int
cf_q_bind_new(cf_qc_t *c, json_t *v)
{
    int  rc;

    if (v == NULL) {
        c->sb.oom = 1;
        return -1;
    }

    rc = cf_q_bind(c, v);
    json_decref(v);

    return rc;
}


/* the compact JSON text of an object/array value, bound */
int
cf_q_bind_dump(cf_qc_t *c, json_t *v)
{
    char  *s;
    int    rc;

    s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL) {
        c->sb.oom = 1;
        return -1;
    }

    rc = cf_q_bind_new(c, json_string(s));
    free(s);

    return rc;
}


static int
cf_q_op_parse(const char *name)
{
    int  i;

    for (i = 0; i < CF_OP__COUNT; i++) {
        if (strcasecmp(name, cf_q_op_names[i]) == 0) {
            return i;
        }
    }

    return -1;
}


int
cf_q_is_number(json_t *v)
{
    return json_is_integer(v) || json_is_real(v);
}


/* does the JSON value's type fit the field kind? */
int
cf_q_kind_fits(cf_q_kind_t kind, json_t *v)
{
    switch (kind) {
    case CF_K_STR:
        return json_is_string(v);
    case CF_K_INT:
        return cf_q_is_number(v);
    case CF_K_BOOL:
        return json_is_boolean(v);
    case CF_K_OBJ:
        return json_is_object(v);
    default:
        return 0;
    }
}


/* may the sort key be NULL (a JSON path, a hot column of the state)? */
static int
cf_q_nullable(const cf_q_field_t *f)
{
    static const char  *nullable[] = {
        "status", "recoverable", "is_retryable", "is_below_retry_threshold",
        "retries", "next_retry_at", "timeout_at", NULL
    };
    const char  **n;

    if (f->path || f->column == NULL) {
        return 1;
    }

    for (n = nullable; *n; n++) {
        if (strcmp(f->column, *n) == 0) {
            return 1;
        }
    }

    return 0;
}


/* --- field-level predicates ---------------------------------------------- */

/* "field op ...": a leaf, or an EXISTS over the elements of each array
 * the name goes through */
static int
cf_q_field(cf_qc_t *c, int scope, const char *base, const char *name,
    cf_q_leaf_t *lo)
{
    char         eb[32];
    cf_q_ref_t   r;

    if (cf_q_resolve(scope, base, name, &r) != 0) {
        return cf_q_fail(c, "Unknown field \"%.128s\".", name);
    }

    if (r.rest == NULL) {
        return cf_q_leaf(c, &r, lo);
    }

    c->rollup = 0;

    if (cf_q_hop_open(c, &r, eb, sizeof(eb)) != 0) {
        return -1;
    }

    if (cf_q_field(c, r.f->elem, eb, r.rest, lo) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, ")");

    return 0;
}


/* NULL with the reference semantics: missing, null, or (through arrays)
 * no element with a value or an element with a null one */
static int
cf_q_null(cf_qc_t *c, int scope, const char *base, const char *name,
    int negate)
{
    cf_q_leaf_t  lo;

    memset(&lo, 0, sizeof(lo));

    cf_sb_add(&c->sb, negate ? "NOT (" : "(");

    if (cf_q_has_hop(scope, name)) {
        lo.op = CF_L_NOT_NULL;
        cf_sb_add(&c->sb, "NOT ");
        if (cf_q_field(c, scope, base, name, &lo) != 0) {
            return -1;
        }

        cf_sb_add(&c->sb, " OR ");
    }

    lo.op = CF_L_NULL;
    if (cf_q_field(c, scope, base, name, &lo) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, ")");

    return 0;
}


static int
cf_q_cmp(cf_qc_t *c, int scope, const char *base, const char *name,
    const char *cmp, json_t *v)
{
    cf_q_leaf_t  lo;

    memset(&lo, 0, sizeof(lo));
    lo.op = CF_L_CMP;
    lo.cmp = cmp;
    lo.val.v = v;

    return cf_q_field(c, scope, base, name, &lo);
}


/* EQ (also for null) */
static int
cf_q_eq(cf_qc_t *c, int scope, const char *base, const char *name,
    json_t *v)
{
    if (json_is_null(v)) {
        return cf_q_null(c, scope, base, name, 0);
    }

    return cf_q_cmp(c, scope, base, name, "=", v);
}


static int
cf_q_in(cf_qc_t *c, int scope, const char *base, const char *name,
    json_t *list)
{
    cf_q_leaf_t  lo;

    memset(&lo, 0, sizeof(lo));
    lo.op = CF_L_IN;
    lo.list = list;

    if (cf_q_has_hop(scope, name)) {
        size_t   i;
        json_t  *v;

        /* a null in the list has the NULL meaning for the whole path */
        json_array_foreach(list, i, v) {
            if (json_is_null(v)) {
                cf_sb_add(&c->sb, "(");
                if (cf_q_null(c, scope, base, name, 0) != 0) {
                    return -1;
                }

                cf_sb_add(&c->sb, " OR ");
                if (cf_q_field(c, scope, base, name, &lo) != 0) {
                    return -1;
                }

                cf_sb_add(&c->sb, ")");
                return 0;
            }
        }
    }

    return cf_q_field(c, scope, base, name, &lo);
}


/* --- conditions ---------------------------------------------------------- */

static int
cf_q_check_list(cf_qc_t *c, const char *op, json_t *v, int strings)
{
    size_t   i;
    json_t  *e;

    if (!json_is_array(v)) {
        return cf_q_fail(c, "%s needs an array value.", op);
    }

    if ((int64_t) json_array_size(v) > c->lim->max_condition_values) {
        return cf_q_fail(c, "%s has %zu values, more than the limit of %lld"
                         " (compensation_query_max_condition_values).", op,
                         json_array_size(v),
                         (long long) c->lim->max_condition_values);
    }

    if (strings) {
        json_array_foreach(v, i, e) {
            if (!json_is_string(e)) {
                return cf_q_fail(c, "%s needs an array of strings.", op);
            }
        }
    }

    return 0;
}


static int
cf_q_expensive(cf_qc_t *c, const char *op)
{
    if (c->lim->allow_expensive) {
        return 0;
    }

    return cf_q_fail(c, "%s is an expensive operator, refused by"
                     " \"compensation_query_allow_expensive off\".", op);
}


static int
cf_q_time(cf_qc_t *c, int op, int scope, const char *base, const char *field,
    json_t *value, json_t *options)
{
    int          rc;
    long         hms;
    char         s1[128], s2[128];
    json_t      *zv, *pv, *b1, *b2;
    int64_t      lo, hi, n;
    const char  *zone, *pattern;

    zone = c->lim->default_zone;
    pattern = NULL;

    zv = options ? json_object_get(options, "zoneId") : NULL;
    pv = options ? json_object_get(options, "datePattern") : NULL;

    if (zv && !json_is_null(zv)) {
        if (!json_is_string(zv)) {
            return cf_q_fail(c, "Option zoneId must be a string.");
        }

        zone = json_string_value(zv);

        if (zone[0] == '\0') {
            zone = c->lim->default_zone;
        }
    }

    if (cf_query_zone_valid(zone) != 0) {
        return cf_q_fail(c, "Unknown zoneId \"%.64s\".", zone);
    }

    if (pv && !json_is_null(pv)) {
        if (!json_is_string(pv)) {
            return cf_q_fail(c, "Option datePattern must be a string.");
        }

        pattern = json_string_value(pv);

        if (pattern[0] == '\0') {
            pattern = NULL;
        }
    }

    lo = -1;
    hi = -1;

    switch (op) {
    case CF_OP_TODAY:
        lo = cf_query_day_start(zone, c->now_ms, 0);
        hi = cf_query_day_start(zone, c->now_ms, 1);
        break;
    case CF_OP_TOMORROW:
        lo = cf_query_day_start(zone, c->now_ms, 1);
        hi = cf_query_day_start(zone, c->now_ms, 2);
        break;
    case CF_OP_THIS_WEEK:
        lo = cf_query_week_start(zone, c->now_ms, 0);
        hi = cf_query_week_start(zone, c->now_ms, 1);
        break;
    case CF_OP_NEXT_WEEK:
        lo = cf_query_week_start(zone, c->now_ms, 1);
        hi = cf_query_week_start(zone, c->now_ms, 2);
        break;
    case CF_OP_LAST_WEEK:
        lo = cf_query_week_start(zone, c->now_ms, -1);
        hi = cf_query_week_start(zone, c->now_ms, 0);
        break;
    case CF_OP_THIS_MONTH:
        lo = cf_query_month_start(zone, c->now_ms, 0);
        hi = cf_query_month_start(zone, c->now_ms, 1);
        break;
    case CF_OP_LAST_MONTH:
        lo = cf_query_month_start(zone, c->now_ms, -1);
        hi = cf_query_month_start(zone, c->now_ms, 0);
        break;

    case CF_OP_RECENT_DAYS:
    case CF_OP_EARLIER_DAYS:
        if (!json_is_integer(value) || json_integer_value(value) < 0
            || json_integer_value(value) > 100000)
        {
            return cf_q_fail(c, "%s needs a number of days from 0 to 100000"
                             " as value.", cf_q_op_names[op]);
        }

        n = json_integer_value(value);
        lo = cf_query_day_start(zone, c->now_ms, -(n - 1));
        hi = cf_query_day_start(zone, c->now_ms, 1);
        break;

    case CF_OP_BEFORE_TODAY:
        if (json_is_integer(value)) {
            hms = (long) json_integer_value(value);

            if (hms < 0 || hms >= 86400) {
                return cf_q_fail(c, "BEFORE_TODAY needs seconds of the day"
                                 " (0 to 86399) or a time HH:mm[:ss].");
            }

        } else if (json_is_string(value)) {
            int  h, m, s, k;
            const char *t = json_string_value(value);

            h = m = s = 0;
            k = -1;

            if ((sscanf(t, "%2d:%2d:%2d%n", &h, &m, &s, &k) == 3
                 && k == (int) strlen(t))
                || (s = 0, k = -1,
                    sscanf(t, "%2d:%2d%n", &h, &m, &k) == 2
                    && k == (int) strlen(t)))
            {
                if (h > 23 || m > 59 || s > 59 || h < 0 || m < 0 || s < 0
                    || strlen(t) < 5 || t[2] != ':')
                {
                    return cf_q_fail(c, "BEFORE_TODAY: invalid time"
                                     " \"%.32s\".", t);
                }

            } else {
                return cf_q_fail(c, "BEFORE_TODAY: invalid time \"%.32s\""
                                 " (HH:mm or HH:mm:ss).", t);
            }

            hms = h * 3600L + m * 60L + s;

        } else {
            return cf_q_fail(c, "BEFORE_TODAY needs seconds of the day or a"
                             " time HH:mm[:ss] as value.");
        }

        lo = cf_q_local_start(zone, c->now_ms, 0, 0, hms);
        hi = 0;
        break;
    }

    if (lo == -1 || hi == -1) {
        return cf_q_fail(c, "%s: the time range cannot be computed.",
                         cf_q_op_names[op]);
    }

    /* "field < lo" or "lo <= field <= hi - 1 ms" */

    if (pattern) {
        if (cf_q_format(zone, lo, pattern, s1, sizeof(s1)) != 0
            || cf_q_format(zone, hi - 1, pattern, s2, sizeof(s2)) != 0)
        {
            return cf_q_fail(c, "Unsupported datePattern \"%.64s\".",
                             pattern);
        }

        b1 = json_string(s1);
        b2 = json_string(s2);

    } else {
        b1 = json_integer(lo);
        b2 = json_integer(hi - 1);
    }

    if (b1 == NULL || b2 == NULL) {
        json_decref(b1);
        json_decref(b2);
        c->sb.oom = 1;
        return -1;
    }

    if (op == CF_OP_EARLIER_DAYS || op == CF_OP_BEFORE_TODAY) {
        rc = cf_q_cmp(c, scope, base, field, "<", b1);

    } else {
        cf_sb_add(&c->sb, "(");
        rc = cf_q_cmp(c, scope, base, field, ">=", b1);
        if (rc == 0) {
            cf_sb_add(&c->sb, " AND ");
            rc = cf_q_cmp(c, scope, base, field, "<=", b2);
        }
        cf_sb_add(&c->sb, ")");
    }

    json_decref(b1);
    json_decref(b2);

    return rc;
}


/* an ordered comparison; null compares with nothing */
static int
cf_q_order(cf_qc_t *c, int scope, const char *base, const char *name,
    const char *cmp, json_t *v)
{
    cf_q_ref_t  r;

    if (json_is_null(v)) {
        if (cf_q_resolve(scope, base, name, &r) != 0) {
            return cf_q_fail(c, "Unknown field \"%.128s\".", name);
        }

        cf_sb_add(&c->sb, c->dialect->never);
        return 0;
    }

    if (json_is_object(v) || json_is_array(v)) {
        return cf_q_fail(c, "Ordered comparisons need a number, string or"
                         " boolean value.");
    }

    return cf_q_cmp(c, scope, base, name, cmp, v);
}


static int
cf_q_between(cf_qc_t *c, int scope, const char *base, const char *name,
    json_t *v)
{
    cf_sb_add(&c->sb, "(");

    if (cf_q_order(c, scope, base, name, ">=", json_array_get(v, 0)) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, " AND ");

    if (cf_q_order(c, scope, base, name, "<=", json_array_get(v, 1)) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, ")");

    return 0;
}


/* every value is matched (by the field or an element of it) */
static int
cf_q_all_in(cf_qc_t *c, int scope, const char *base, const char *name,
    json_t *list)
{
    char         lv[32], lt[32];
    size_t       i;
    json_t      *v;
    cf_q_ref_t   r;
    cf_q_leaf_t  lo;

    if (cf_q_resolve(scope, base, name, &r) != 0) {
        return cf_q_fail(c, "Unknown field \"%.128s\".", name);
    }

    if (json_array_size(list) == 0) {
        cf_sb_add(&c->sb, c->dialect->never);
        return 0;
    }

    if (json_array_size(list) <= CF_Q_SHORT_LIST) {
        cf_sb_add(&c->sb, "(");

        json_array_foreach(list, i, v) {
            if (i) {
                cf_sb_add(&c->sb, " AND ");
            }

            if (cf_q_eq(c, scope, base, name, v) != 0) {
                return -1;
            }
        }

        cf_sb_add(&c->sb, ")");
        return 0;
    }

    if (cf_q_all_open(c, list, lv, lt, sizeof(lv)) != 0) {
        return -1;
    }

    memset(&lo, 0, sizeof(lo));
    lo.op = CF_L_CMP;
    lo.cmp = "=";
    lo.val.vsql = lv;
    lo.val.tsql = lt;

    if (cf_q_field(c, scope, base, name, &lo) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, ")");

    return 0;
}


static int
cf_q_logical(cf_qc_t *c, int op, json_t *children, int scope,
    const char *base, int depth)
{
    size_t   i;
    json_t  *child;

    if (children == NULL || json_array_size(children) == 0) {
        return cf_q_fail(c, "%s children cannot be empty.",
                         cf_q_op_names[op]);
    }

    if (op == CF_OP_NOR && cf_q_expensive(c, "NOR") != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, op == CF_OP_NOR ? "NOT (" : "(");

    json_array_foreach(children, i, child) {
        if (i) {
            cf_sb_add(&c->sb, op == CF_OP_AND ? " AND " : " OR ");
        }

        if (cf_q_condition(c, child, scope, base, depth + 1) != 0) {
            return -1;
        }
    }

    cf_sb_add(&c->sb, ")");

    return 0;
}


/* DeletionState: ACTIVE, DELETED, ALL (any case) or a boolean */
static int
cf_q_deletion_state(json_t *v)
{
    const char  *s;

    if (json_is_boolean(v)) {
        return json_is_true(v) ? 1 : 0;
    }

    if (!json_is_string(v)) {
        return -1;
    }

    s = json_string_value(v);

    if (strcasecmp(s, "ACTIVE") == 0) {
        return 0;
    }

    if (strcasecmp(s, "DELETED") == 0) {
        return 1;
    }

    if (strcasecmp(s, "ALL") == 0) {
        return 2;
    }

    return -1;
}


int
cf_q_condition(cf_qc_t *c, json_t *cond, int scope, const char *base,
    int depth)
{
    int          op, ds, doc;
    json_t      *jf, *jop, *value, *children, *options, *ic, *ev;
    const char  *field, *col, *opname;
    cf_q_leaf_t  lo;

    if (!json_is_object(cond)) {
        return cf_q_fail(c, "A condition must be a JSON object.");
    }

    if (++c->nodes > c->lim->max_condition_nodes) {
        return cf_q_fail(c, "The condition has more than %lld nodes"
                         " (compensation_query_max_condition_nodes).",
                         (long long) c->lim->max_condition_nodes);
    }

    if (depth > 64) {
        return cf_q_fail(c, "The condition is nested deeper than 64.");
    }

    jf = json_object_get(cond, "field");
    jop = json_object_get(cond, "operator");
    value = json_object_get(cond, "value");
    children = json_object_get(cond, "children");
    options = json_object_get(cond, "options");

    if (jf && !json_is_null(jf) && !json_is_string(jf)) {
        return cf_q_fail(c, "Condition field must be a string.");
    }

    field = (jf && json_is_string(jf)) ? json_string_value(jf) : "";

    if (jop && !json_is_null(jop) && !json_is_string(jop)) {
        return cf_q_fail(c, "Condition operator must be a string.");
    }

    opname = (jop && json_is_string(jop)) ? json_string_value(jop) : "ALL";

    op = cf_q_op_parse(opname);
    if (op < 0) {
        return cf_q_fail(c, "Unknown operator \"%.64s\".", opname);
    }

    if (children && !json_is_null(children) && !json_is_array(children)) {
        return cf_q_fail(c, "Condition children must be an array.");
    }

    if (children && json_is_null(children)) {
        children = NULL;
    }

    if (options && !json_is_null(options) && !json_is_object(options)) {
        return cf_q_fail(c, "Condition options must be an object.");
    }

    if (options && json_is_null(options)) {
        options = NULL;
    }

    if (value == NULL) {
        value = c->empty;            /* the default value, "" */
    }

    doc = (scope == CF_S_SNAPSHOT || scope == CF_S_EVENT);

    switch (op) {
    case CF_OP_AND:
    case CF_OP_OR:
    case CF_OP_NOR:
        return cf_q_logical(c, op, children, scope, base, depth);

    case CF_OP_ALL:
        cf_sb_add(&c->sb, c->dialect->always);
        return 0;

    case CF_OP_RAW:
        return cf_q_fail(c, "RAW conditions are not supported: a raw"
                         " backend query cannot be made safe here; use the"
                         " other operators.");

    case CF_OP_MATCH:
        return cf_q_fail(c, "MATCH (full text) is not supported.");

    case CF_OP_ID:
    case CF_OP_AGGREGATE_ID:
    case CF_OP_TENANT_ID:
    case CF_OP_OWNER_ID:
    case CF_OP_SPACE_ID:
    case CF_OP_IDS:
    case CF_OP_AGGREGATE_IDS:
    case CF_OP_DELETED:
        if (!doc) {
            return cf_q_fail(c, "%s cannot be used inside ELEM_MATCH.",
                             cf_q_op_names[op]);
        }
        break;

    default:
        if (field[0] == '\0') {
            return cf_q_fail(c, "%s needs a field.", cf_q_op_names[op]);
        }
        break;
    }

    col = NULL;

    switch (op) {

    case CF_OP_ID:
    case CF_OP_IDS:
        col = (scope == CF_S_SNAPSHOT) ? "aggregateId" : "id";
        break;
    case CF_OP_AGGREGATE_ID:
    case CF_OP_AGGREGATE_IDS:
        col = "aggregateId";
        break;
    case CF_OP_TENANT_ID:
        col = "tenantId";
        break;
    case CF_OP_OWNER_ID:
        col = "ownerId";
        break;
    case CF_OP_SPACE_ID:
        col = "spaceId";
        break;
    default:
        break;
    }

    switch (op) {

    case CF_OP_ID:
    case CF_OP_AGGREGATE_ID:
    case CF_OP_TENANT_ID:
    case CF_OP_OWNER_ID:
    case CF_OP_SPACE_ID:
        if (!json_is_string(value)) {
            return cf_q_fail(c, "%s needs a string value.",
                             cf_q_op_names[op]);
        }

        return cf_q_cmp(c, scope, base, col, "=", value);

    case CF_OP_IDS:
    case CF_OP_AGGREGATE_IDS:
        if (cf_q_check_list(c, cf_q_op_names[op], value, 1) != 0) {
            return -1;
        }

        return cf_q_in(c, scope, base, col, value);

    case CF_OP_DELETED:
        ds = cf_q_deletion_state(value);

        if (ds < 0) {
            return cf_q_fail(c, "DELETED needs ACTIVE, DELETED, ALL or a"
                             " boolean as value.");
        }

        if (ds == 2) {
            cf_sb_add(&c->sb, c->dialect->always);
            return 0;
        }

        return cf_q_cmp(c, scope, base, "deleted", "=",
                        ds ? json_true() : json_false());

    case CF_OP_EQ:
        return cf_q_eq(c, scope, base, field, value);

    case CF_OP_NE:
        if (cf_q_expensive(c, "NE") != 0) {
            return -1;
        }

        if (json_is_null(value)) {
            return cf_q_null(c, scope, base, field, 1);
        }

        cf_sb_add(&c->sb, "NOT ");
        return cf_q_eq(c, scope, base, field, value);

    case CF_OP_GT:
    case CF_OP_LT:
    case CF_OP_GTE:
    case CF_OP_LTE:
        return cf_q_order(c, scope, base, field,
                        op == CF_OP_GT ? ">" : op == CF_OP_LT ? "<"
                        : op == CF_OP_GTE ? ">=" : "<=", value);

    case CF_OP_IN:
    case CF_OP_NOT_IN:
        if (cf_q_check_list(c, cf_q_op_names[op], value, 0) != 0) {
            return -1;
        }

        if (op == CF_OP_NOT_IN) {
            if (cf_q_expensive(c, "NOT_IN") != 0) {
                return -1;
            }

            cf_sb_add(&c->sb, "NOT ");
        }

        return cf_q_in(c, scope, base, field, value);

    case CF_OP_BETWEEN:
        if (!json_is_array(value) || json_array_size(value) < 2) {
            return cf_q_fail(c, "BETWEEN needs an array of two values"
                             " [start, end].");
        }

        return cf_q_between(c, scope, base, field, value);

    case CF_OP_ALL_IN:
        if (cf_q_check_list(c, "ALL_IN", value, 0) != 0) {
            return -1;
        }

        return cf_q_all_in(c, scope, base, field, value);

    case CF_OP_ELEM_MATCH:
        if (children == NULL || json_array_size(children) != 1) {
            return cf_q_fail(c, "ELEM_MATCH needs exactly one child"
                             " condition.");
        }

        memset(&lo, 0, sizeof(lo));
        lo.op = CF_L_ELEM;
        lo.child = json_array_get(children, 0);
        lo.depth = depth;

        return cf_q_field(c, scope, base, field, &lo);

    case CF_OP_CONTAINS:
    case CF_OP_STARTS_WITH:
    case CF_OP_ENDS_WITH:
        if (!json_is_string(value)) {
            return cf_q_fail(c, "%s needs a string value.",
                             cf_q_op_names[op]);
        }

        ic = options ? json_object_get(options, "ignoreCase") : NULL;

        if (ic && !json_is_null(ic) && !json_is_boolean(ic)) {
            return cf_q_fail(c, "Option ignoreCase must be a boolean.");
        }

        memset(&lo, 0, sizeof(lo));
        lo.op = CF_L_STRING;
        lo.mode = (op == CF_OP_CONTAINS) ? 0
                  : (op == CF_OP_STARTS_WITH) ? 1 : 2;
        lo.icase = ic && json_is_true(ic);
        lo.val.v = value;

        if ((op != CF_OP_STARTS_WITH
             || lo.icase || json_string_length(value) == 0)
            && cf_q_expensive(c, cf_q_op_names[op]) != 0)
        {
            return -1;
        }

        return cf_q_field(c, scope, base, field, &lo);

    case CF_OP_NULL:
    case CF_OP_NOT_NULL:
        if (cf_q_expensive(c, cf_q_op_names[op]) != 0) {
            return -1;
        }

        return cf_q_null(c, scope, base, field, op == CF_OP_NOT_NULL);

    case CF_OP_TRUE:
    case CF_OP_FALSE:
        return cf_q_cmp(c, scope, base, field, "=",
                        op == CF_OP_TRUE ? json_true() : json_false());

    case CF_OP_EXISTS:
        ev = value;

        if (json_is_string(ev) && json_string_length(ev) == 0) {
            ev = json_true();     /* the default */
        }

        if (!json_is_boolean(ev)) {
            return cf_q_fail(c, "EXISTS needs a boolean value.");
        }

        if (json_is_false(ev)) {
            if (cf_q_expensive(c, "EXISTS false") != 0) {
                return -1;
            }

            cf_sb_add(&c->sb, "NOT ");
        }

        memset(&lo, 0, sizeof(lo));
        lo.op = CF_L_EXISTS;

        return cf_q_field(c, scope, base, field, &lo);

    default:
        /* the time operators */
        return cf_q_time(c, op, scope, base, field, value, options);
    }
}


/* --- queries ------------------------------------------------------------- */

void
cf_query_limits_init(cf_query_limits_t *lim)
{
    lim->max_list_size = 1000;
    lim->max_page_size = 100;
    lim->max_page_window = 10000;
    lim->max_condition_nodes = 64;
    lim->max_condition_values = 1000;
    lim->default_list_limit = 10;
    lim->allow_expensive = 1;
    lim->allow_match_all = 1;
    lim->default_zone = NULL;
    lim->dialect = NULL;
}


static int
cf_q_sort(cf_qc_t *c, cf_query_t *q, json_t *sort)
{
    int          scope, pk;
    size_t       i;
    json_t      *s, *jf, *jd;
    cf_sb_t      where;
    cf_q_ref_t   r;
    const char  *dir, *name;

    if (sort == NULL || json_is_null(sort)) {
        q->order = strdup("");
        return q->order ? 0 : -1;
    }

    if (!json_is_array(sort)) {
        return cf_q_fail(c, "sort must be an array of {field, direction}.");
    }

    if (json_array_size(sort) > CF_QUERY_MAX_SORT) {
        return cf_q_fail(c, "sort has more than %d keys.",
                         CF_QUERY_MAX_SORT);
    }

    if (json_array_size(sort) == 0) {
        q->order = strdup("");
        return q->order ? 0 : -1;
    }

    scope = (c->store == CF_QUERY_SNAPSHOT) ? CF_S_SNAPSHOT : CF_S_EVENT;

    /* the ORDER BY text goes to its own buffer; ?N numbering continues */
    where = c->sb;
    memset(&c->sb, 0, sizeof(cf_sb_t));

    cf_sb_add(&c->sb, "ORDER BY ");
    pk = 0;

    json_array_foreach(sort, i, s) {
        jf = json_is_object(s) ? json_object_get(s, "field") : NULL;
        jd = json_is_object(s) ? json_object_get(s, "direction") : NULL;

        if (jf == NULL || !json_is_string(jf)) {
            cf_q_fail(c, "Each sort key needs a string field.");
            goto failed;
        }

        name = json_string_value(jf);
        dir = "ASC";

        if (jd && !json_is_null(jd)) {
            if (!json_is_string(jd)
                || (strcasecmp(json_string_value(jd), "ASC") != 0
                    && strcasecmp(json_string_value(jd), "DESC") != 0))
            {
                cf_q_fail(c, "Sort direction must be ASC or DESC.");
                goto failed;
            }

            dir = strcasecmp(json_string_value(jd), "ASC") ? "DESC" : "ASC";
        }

        if (cf_q_resolve(scope, "", name, &r) != 0) {
            cf_q_fail(c, "Unknown sort field \"%.128s\".", name);
            goto failed;
        }

        if (r.rest || r.f->kind == CF_K_ARR || r.f->kind == CF_K_ANY) {
            cf_q_fail(c, "Cannot sort by \"%.128s\", a field inside an"
                      " array.", name);
            goto failed;
        }

        if (i) {
            cf_sb_add(&c->sb, ", ");
        }

        if (cf_q_sort_key(c, &r) != 0) {
            goto failed;
        }

        cf_sb_addf(&c->sb, " %s", dir);

        if (c->dialect->nulls_first && cf_q_nullable(r.f)) {
            cf_sb_add(&c->sb, dir[0] == 'A' ? c->dialect->nulls_first
                                            : c->dialect->nulls_last);
        }

        if (r.f->column && r.f->path == NULL
            && (strcmp(r.f->column, "aggregate_id") == 0
                || strcmp(r.f->column, "id") == 0)
            && (c->store == CF_QUERY_SNAPSHOT)
               == (strcmp(r.f->column, "aggregate_id") == 0))
        {
            pk = 1;
        }
    }

    /* a total order, so that pages never overlap */
    if (!pk) {
        cf_sb_add(&c->sb, c->store == CF_QUERY_SNAPSHOT ? ", aggregate_id"
                                                         : ", id");
    }

    if (c->sb.oom) {
        goto failed;
    }

    q->order = c->sb.p;
    c->sb = where;

    return 0;

failed:

    free(c->sb.p);
    c->sb = where;

    return -1;
}


static int
cf_q_projection(cf_qc_t *c, cf_query_t *q, json_t *proj)
{
    int          k, scope;
    size_t       i;
    json_t      *list, *v;
    cf_q_ref_t   r;
    const char  *keys[2] = { "include", "exclude" };

    if (proj == NULL || json_is_null(proj)) {
        return 0;
    }

    if (!json_is_object(proj)) {
        return cf_q_fail(c, "projection must be an object {include,"
                         " exclude}.");
    }

    scope = (c->store == CF_QUERY_SNAPSHOT) ? CF_S_SNAPSHOT : CF_S_EVENT;

    for (k = 0; k < 2; k++) {
        list = json_object_get(proj, keys[k]);

        if (list == NULL || json_is_null(list)) {
            continue;
        }

        if (!json_is_array(list)
            || json_array_size(list) > CF_QUERY_MAX_PROJECTION)
        {
            return cf_q_fail(c, "projection.%s must be an array of at most"
                             " %d field names.", keys[k],
                             CF_QUERY_MAX_PROJECTION);
        }

        json_array_foreach(list, i, v) {
            if (!json_is_string(v)
                || cf_q_resolve(scope, "", json_string_value(v), &r) != 0)
            {
                return cf_q_fail(c, "Unknown projection field \"%.128s\".",
                                 json_is_string(v) ? json_string_value(v)
                                                   : "(not a string)");
            }
        }

        if (json_array_size(list) == 0) {
            continue;
        }

        if (k == 0) {
            q->include = json_incref(list);

        } else {
            q->exclude = json_incref(list);
        }
    }

    return 0;
}


static int
cf_q_int_member(cf_qc_t *c, json_t *obj, const char *key, int64_t def,
    int64_t *out)
{
    json_t  *v;

    v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v)) {
        *out = def;
        return 0;
    }

    if (!json_is_integer(v)) {
        return cf_q_fail(c, "%s must be an integer.", key);
    }

    *out = json_integer_value(v);

    return 0;
}


/* the operator name of a condition object, or "" */
static const char *
cf_q_op_of(json_t *cond)
{
    json_t  *op;

    op = json_is_object(cond) ? json_object_get(cond, "operator") : NULL;

    if (op == NULL || json_is_null(op)) {
        return "ALL";
    }

    return json_is_string(op) ? json_string_value(op) : "";
}


int
cf_query_compile(cf_query_t *q, cf_query_store_t store,
    cf_query_kind_t kind, json_t *body, const cf_query_limits_t *lim,
    const char *owner_id, int64_t now_ms, cf_error_t *err)
{
    int          keep_deleted;
    size_t       i;
    json_t      *cond, *child, *pg, *owner;
    int64_t      index, size, limit = 0;
    cf_qc_t      c;
    const char  *op;

    memset(q, 0, sizeof(cf_query_t));
    memset(&c, 0, sizeof(cf_qc_t));

    q->store = store;
    q->kind = kind;
    q->limit = -1;

    c.lim = lim;
    c.dialect = lim->dialect ? lim->dialect : &cf_query_sqlite_dialect;
    c.err = err;
    c.store = store;
    c.now_ms = now_ms;
    c.rollup = (store == CF_QUERY_SNAPSHOT);
    c.params = json_array();
    c.empty = json_string("");

    if (c.params == NULL || c.empty == NULL) {
        goto oom;
    }

    if (!json_is_object(body)) {
        cf_q_fail(&c, "The query must be a JSON object.");
        goto failed;
    }

    if (kind == CF_QUERY_COUNT && json_object_get(body, "condition") == NULL)
    {
        cond = body;                 /* a bare Condition */

    } else {
        cond = json_object_get(body, "condition");

        if (cond == NULL || json_is_null(cond)) {
            cf_q_fail(&c, "condition is required.");
            goto failed;
        }
    }

    /* spec 4.7: paged and count queries may be refused when match-all */
    op = cf_q_op_of(cond);

    if (!lim->allow_match_all
        && (kind == CF_QUERY_COUNT || kind == CF_QUERY_PAGED)
        && (strcasecmp(op, "ALL") == 0
            || (strcasecmp(op, "DELETED") == 0
                && cf_q_deletion_state(json_object_get(cond, "value"))
                   == 2)))
    {
        cf_q_fail(&c, "A match-all condition is refused for count and paged"
                  " queries (compensation_query_allow_match_all off).");
        goto failed;
    }

    /*
     * Spec 4.5/4.6: the tenant (and the request's owner) are ANDed in, and
     * snapshots get "deleted == false" unless the condition is DELETED or
     * an AND with a direct DELETED child.  The original nests the user's
     * AND under the tenant's AND first, which hides such a child; here the
     * tenant joins the user's AND (see docs/api.md).
     */

    keep_deleted = 0;

    if (store == CF_QUERY_SNAPSHOT) {
        if (strcasecmp(op, "DELETED") == 0) {
            keep_deleted = 1;

        } else if (strcasecmp(op, "AND") == 0
                   && json_is_array(json_object_get(cond, "children")))
        {
            json_array_foreach(json_object_get(cond, "children"), i, child)
            {
                if (strcasecmp(cf_q_op_of(child), "DELETED") == 0) {
                    keep_deleted = 1;
                }
            }
        }
    }

    cf_sb_add(&c.sb, "tenant_id = '" CF_TENANT_ID "'");

    if (owner_id && owner_id[0]) {
        owner = json_string(owner_id);
        if (owner == NULL) {
            goto oom;
        }

        cf_sb_add(&c.sb, " AND owner_id = ");
        if (cf_q_bind_new(&c, owner) != 0) {
            goto failed;
        }
    }

    if (store == CF_QUERY_SNAPSHOT && !keep_deleted) {
        cf_sb_add(&c.sb, " AND deleted = 0");
    }

    cf_sb_add(&c.sb, " AND ");

    if (cf_q_condition(&c, cond, store == CF_QUERY_SNAPSHOT ? CF_S_SNAPSHOT
                                                            : CF_S_EVENT,
                       "", 0)
        != 0)
    {
        goto failed;
    }

    /* only the WHERE text decides whether the rollup can count */
    q->rollup = c.rollup;

    if (kind != CF_QUERY_COUNT) {
        if (cf_q_sort(&c, q, json_object_get(body, "sort")) != 0
            || cf_q_projection(&c, q, json_object_get(body, "projection"))
               != 0)
        {
            goto failed;
        }
    }

    switch (kind) {

    case CF_QUERY_LIST:
        if (cf_q_int_member(&c, body, "limit", lim->default_list_limit,
                            &limit) != 0)
        {
            goto failed;
        }

        if (limit < 1 || limit > lim->max_list_size) {
            cf_q_fail(&c, "limit must be between 1 and %lld"
                      " (compensation_query_max_list_size).",
                      (long long) lim->max_list_size);
            goto failed;
        }

        q->limit = limit;
        break;

    case CF_QUERY_PAGED:
        pg = json_object_get(body, "pagination");
        index = 1;
        size = 10;

        if (pg && !json_is_null(pg)) {
            if (!json_is_object(pg)) {
                cf_q_fail(&c, "pagination must be an object {index,"
                          " size}.");
                goto failed;
            }

            if (cf_q_int_member(&c, pg, "index", 1, &index) != 0
                || cf_q_int_member(&c, pg, "size", 10, &size) != 0)
            {
                goto failed;
            }
        }

        if (index < 1) {
            cf_q_fail(&c, "pagination.index must be at least 1.");
            goto failed;
        }

        if (size < 1 || size > lim->max_page_size) {
            cf_q_fail(&c, "pagination.size must be between 1 and %lld"
                      " (compensation_query_max_page_size).",
                      (long long) lim->max_page_size);
            goto failed;
        }

        if (index > lim->max_page_window / size) {
            cf_q_fail(&c, "pagination.index x pagination.size must not"
                      " exceed %lld (compensation_query_max_page_window).",
                      (long long) lim->max_page_window);
            goto failed;
        }

        q->limit = size;
        q->offset = (index - 1) * size;
        break;

    case CF_QUERY_SINGLE:
        q->limit = 1;
        break;

    default:
        break;
    }

    if (c.sb.oom) {
        goto oom;
    }

    q->where = c.sb.p;
    q->params = c.params;
    json_decref(c.empty);

    return 0;

oom:

    cf_error_set(err, CF_E_INTERNAL, "out of memory");

failed:

    if (cf_error_is_ok(err)) {
        cf_error_set(err, CF_E_INTERNAL, "out of memory");
    }

    free(c.sb.p);
    json_decref(c.params);
    json_decref(c.empty);
    cf_query_free(q);

    return -1;
}


void
cf_query_free(cf_query_t *q)
{
    free(q->where);
    free(q->order);
    json_decref(q->params);
    json_decref(q->include);
    json_decref(q->exclude);

    q->where = NULL;
    q->order = NULL;
    q->params = NULL;
    q->include = NULL;
    q->exclude = NULL;
}
