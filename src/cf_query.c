
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
 * The field table knows each field's type, so most predicates are plain
 * comparisons of a column or json_extract() with a bound value; the hot
 * snapshot columns (status, recoverable, ...) are used instead of the
 * state document so that the dashboard's conditions run on indexes.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <ctype.h>
#include <time.h>
#include <sys/stat.h>

#include "cf_query.h"
#include "cf_tz.h"


#define CF_Q_SHORT_LIST     16        /* IN lists up to this use "?, ?" */
#define CF_Q_MAX_PARAMS     30000     /* below SQLite's 32766 variables */
#define CF_Q_MAX_PATH       256
#define CF_Q_MAX_SEGMENTS   8
#define CF_Q_ZONEINFO       "/usr/share/zoneinfo/"


typedef enum {
    CF_K_STR = 0,
    CF_K_INT,
    CF_K_BOOL,
    CF_K_OBJ,
    CF_K_ARR,
    CF_K_ANY,
    CF_K_MISSING
} cf_q_kind_t;


typedef enum {
    CF_S_SNAPSHOT = 0,
    CF_S_EVENT,
    CF_S_BINDING_ERROR,
    CF_S_BODY,
    CF_S__COUNT
} cf_q_scope_t;


typedef struct {
    const char   *name;
    const char   *column;     /* a column or SQL literal; NULL: the base */
    const char   *path;       /* JSON path in column/base, or NULL */
    cf_q_kind_t   kind;
    int           elem;       /* CF_K_ARR: the scope of its elements */
    int           rollup;     /* a column of the snapshot_count rollup */
} cf_q_field_t;


/* the snapshot document of spec 5.1, stored in columns and "state" */
static const cf_q_field_t  cf_q_snapshot_fields[] = {
    { "aggregateId", "aggregate_id", NULL, CF_K_STR, 0, 0 },
    { "_id", "aggregate_id", NULL, CF_K_STR, 0, 0 },
    { "contextName", "'" CF_CONTEXT_NAME "'", NULL, CF_K_STR, 0, 1 },
    { "aggregateName", "'" CF_AGGREGATE_NAME "'", NULL, CF_K_STR, 0, 1 },
    { "tenantId", "tenant_id", NULL, CF_K_STR, 0, 1 },
    { "ownerId", "owner_id", NULL, CF_K_STR, 0, 1 },
    /* [HEAD]: no spaces here, every spaceId is ""; the tags are whole
     * objects (conditions on "tags.<key>" are not served) */
    { "spaceId", "''", NULL, CF_K_STR, 0, 1 },
    { "tags", "tags", NULL, CF_K_OBJ, 0, 0 },
    { "version", "version", NULL, CF_K_INT, 0, 0 },
    { "eventId", "event_id", NULL, CF_K_STR, 0, 0 },
    { "firstOperator", "first_operator", NULL, CF_K_STR, 0, 0 },
    { "operator", "operator", NULL, CF_K_STR, 0, 0 },
    { "firstEventTime", "first_event_time", NULL, CF_K_INT, 0, 0 },
    { "eventTime", "event_time", NULL, CF_K_INT, 0, 0 },
    { "snapshotTime", "snapshot_time", NULL, CF_K_INT, 0, 0 },
    { "deleted", "deleted", NULL, CF_K_BOOL, 0, 1 },
    { "state", "state", NULL, CF_K_OBJ, 0, 0 },

    /* the hot columns, always equal to their state value */
    { "state.status", "status", NULL, CF_K_STR, 0, 1 },
    { "state.recoverable", "recoverable", NULL, CF_K_STR, 0, 1 },
    { "state.isRetryable", "is_retryable", NULL, CF_K_BOOL, 0, 1 },
    { "state.isBelowRetryThreshold", "is_below_retry_threshold", NULL,
      CF_K_BOOL, 0, 1 },
    { "state.retryState.retries", "retries", NULL, CF_K_INT, 0, 0 },
    { "state.retryState.nextRetryAt", "next_retry_at", NULL, CF_K_INT, 0, 0 },
    { "state.retryState.timeoutAt", "timeout_at", NULL, CF_K_INT, 0, 0 },

    { "state.id", "state", "$.id", CF_K_STR, 0, 0 },
    { "state.eventId", "state", "$.eventId", CF_K_OBJ, 0, 0 },
    { "state.eventId.id", "state", "$.eventId.id", CF_K_STR, 0, 0 },
    { "state.eventId.version", "state", "$.eventId.version", CF_K_INT, 0, 0 },
    { "state.eventId.aggregateId", "state", "$.eventId.aggregateId",
      CF_K_OBJ, 0, 0 },
    { "state.eventId.aggregateId.contextName", "state",
      "$.eventId.aggregateId.contextName", CF_K_STR, 0, 0 },
    { "state.eventId.aggregateId.aggregateName", "state",
      "$.eventId.aggregateId.aggregateName", CF_K_STR, 0, 0 },
    { "state.eventId.aggregateId.aggregateId", "state",
      "$.eventId.aggregateId.aggregateId", CF_K_STR, 0, 0 },
    { "state.eventId.aggregateId.tenantId", "state",
      "$.eventId.aggregateId.tenantId", CF_K_STR, 0, 0 },
    { "state.function", "state", "$.function", CF_K_OBJ, 0, 0 },
    { "state.function.functionKind", "state", "$.function.functionKind",
      CF_K_STR, 0, 0 },
    { "state.function.contextName", "state", "$.function.contextName",
      CF_K_STR, 0, 0 },
    { "state.function.processorName", "state", "$.function.processorName",
      CF_K_STR, 0, 0 },
    { "state.function.name", "state", "$.function.name", CF_K_STR, 0, 0 },
    { "state.error", "state", "$.error", CF_K_OBJ, 0, 0 },
    { "state.error.errorCode", "state", "$.error.errorCode", CF_K_STR, 0, 0 },
    { "state.error.errorMsg", "state", "$.error.errorMsg", CF_K_STR, 0, 0 },
    { "state.error.stackTrace", "state", "$.error.stackTrace",
      CF_K_STR, 0, 0 },
    { "state.error.succeeded", "state", "$.error.succeeded", CF_K_BOOL, 0, 0 },
    { "state.error.bindingErrors", "state", "$.error.bindingErrors",
      CF_K_ARR, CF_S_BINDING_ERROR, 0 },
    { "state.executeAt", "state", "$.executeAt", CF_K_INT, 0, 0 },
    { "state.retrySpec", "state", "$.retrySpec", CF_K_OBJ, 0, 0 },
    { "state.retrySpec.maxRetries", "state", "$.retrySpec.maxRetries",
      CF_K_INT, 0, 0 },
    { "state.retrySpec.minBackoff", "state", "$.retrySpec.minBackoff",
      CF_K_INT, 0, 0 },
    { "state.retrySpec.executionTimeout", "state",
      "$.retrySpec.executionTimeout", CF_K_INT, 0, 0 },
    { "state.retryState", "state", "$.retryState", CF_K_OBJ, 0, 0 },
    { "state.retryState.retryAt", "state", "$.retryState.retryAt",
      CF_K_INT, 0, 0 },
    { NULL, NULL, NULL, 0, 0, 0 }
};


/* the event stream document of spec 5.2 */
static const cf_q_field_t  cf_q_event_fields[] = {
    { "id", "id", NULL, CF_K_STR, 0, 0 },
    { "_id", "id", NULL, CF_K_STR, 0, 0 },
    { "contextName", "'" CF_CONTEXT_NAME "'", NULL, CF_K_STR, 0, 0 },
    { "aggregateName", "'" CF_AGGREGATE_NAME "'", NULL, CF_K_STR, 0, 0 },
    { "aggregateId", "aggregate_id", NULL, CF_K_STR, 0, 0 },
    { "tenantId", "tenant_id", NULL, CF_K_STR, 0, 0 },
    { "ownerId", "owner_id", NULL, CF_K_STR, 0, 0 },
    { "spaceId", "''", NULL, CF_K_STR, 0, 0 },
    { "commandId", "command_id", NULL, CF_K_STR, 0, 0 },
    { "requestId", "request_id", NULL, CF_K_STR, 0, 0 },
    { "version", "version", NULL, CF_K_INT, 0, 0 },
    { "createTime", "create_time", NULL, CF_K_INT, 0, 0 },
    { "size", "size", NULL, CF_K_INT, 0, 0 },
    { "deleted", NULL, NULL, CF_K_MISSING, 0, 0 },
    { "header", "header", NULL, CF_K_OBJ, 0, 0 },
    { "body", "body", NULL, CF_K_ARR, CF_S_BODY, 0 },
    { NULL, NULL, NULL, 0, 0, 0 }
};


static const cf_q_field_t  cf_q_binding_error_fields[] = {
    { "name", NULL, "$.name", CF_K_STR, 0, 0 },
    { "msg", NULL, "$.msg", CF_K_STR, 0, 0 },
    { NULL, NULL, NULL, 0, 0, 0 }
};


/* an element of an event stream's body; body.<path> is the payload */
static const cf_q_field_t  cf_q_body_fields[] = {
    { "id", NULL, "$.id", CF_K_STR, 0, 0 },
    { "name", NULL, "$.name", CF_K_STR, 0, 0 },
    { "revision", NULL, "$.revision", CF_K_STR, 0, 0 },
    { "bodyType", NULL, "$.bodyType", CF_K_STR, 0, 0 },
    { "body", NULL, "$.body", CF_K_OBJ, 0, 0 },
    { "body.error.bindingErrors", NULL, "$.body.error.bindingErrors",
      CF_K_ARR, CF_S_BINDING_ERROR, 0 },
    { NULL, NULL, NULL, 0, 0, 0 }
};


static const cf_q_field_t *const  cf_q_scopes[CF_S__COUNT] = {
    cf_q_snapshot_fields,
    cf_q_event_fields,
    cf_q_binding_error_fields,
    cf_q_body_fields
};


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


/* a string builder; oom latches */
typedef struct {
    char    *p;
    size_t   len;
    size_t   cap;
    int      oom;
} cf_sb_t;


/* the compiler's state */
typedef struct {
    cf_sb_t                   sb;
    json_t                   *params;
    const cf_query_limits_t  *lim;
    cf_error_t               *err;
    cf_query_store_t          store;
    int64_t                   now_ms;
    int64_t                   nodes;
    int                       aliases;
    int                       rollup;
    json_t                   *empty;
} cf_qc_t;


/* a resolved field: a leaf to compare, or a hop through an array */
typedef struct {
    const cf_q_field_t  *f;         /* the table entry (a copy for dyn) */
    cf_q_field_t         dyn;       /* header.<key>, body.<payload path> */
    char                 path[CF_Q_MAX_PATH];
    const char          *base;      /* SQL of the base (element alias) */
    const char          *rest;      /* after an array field: hop */
    int                  dynamic;   /* path is bound, not literal */
} cf_q_ref_t;


/* a comparison value: a constant, or SQL expressions (value, json type) */
typedef struct {
    json_t      *v;
    const char  *vsql;
    const char  *tsql;
} cf_q_val_t;


static int cf_q_condition(cf_qc_t *c, json_t *cond, int scope,
    const char *base, int depth);


/* --- string builder ------------------------------------------------------ */

static void
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


static void
cf_sb_add(cf_sb_t *sb, const char *s)
{
    cf_sb_addn(sb, s, strlen(s));
}


static void CF_PRINTF(2, 3)
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

static int
cf_q_fail(cf_qc_t *c, const char *fmt, ...) CF_PRINTF(2, 3);

static int
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
static int
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
static int
cf_q_bind(cf_qc_t *c, json_t *v)
{
    int  n;

    n = cf_q_param(c, v);
    if (n == 0) {
        return -1;
    }

    cf_sb_addf(&c->sb, "?%d", n);

    return 0;
}


static int
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
static int
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


static int
cf_q_is_number(json_t *v)
{
    return json_is_integer(v) || json_is_real(v);
}


/* does the JSON value's type fit the field kind? */
static int
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


/* --- field resolution ---------------------------------------------------- */

/* "a.b_c" segments: [A-Za-z0-9_]+, at most CF_Q_MAX_SEGMENTS */
static int
cf_q_plain_path(const char *s)
{
    int          segs;
    const char  *p;

    segs = 1;

    if (*s == '\0' || *s == '.') {
        return 0;
    }

    for (p = s; *p; p++) {
        if (*p == '.') {
            if (p[1] == '\0' || p[1] == '.') {
                return 0;
            }

            segs++;
            continue;
        }

        if (!isalnum((unsigned char) *p) && *p != '_') {
            return 0;
        }
    }

    return segs <= CF_Q_MAX_SEGMENTS && p - s < CF_Q_MAX_PATH - 16;
}


/* header keys: HTTP token characters except '"' and '\\' */
static int
cf_q_header_key(const char *s)
{
    const char  *p;

    if (*s == '\0' || strlen(s) > 128) {
        return 0;
    }

    for (p = s; *p; p++) {
        if (!isalnum((unsigned char) *p) && strchr("!#$%&'*+-.^_`|~", *p)
            == NULL)
        {
            return 0;
        }
    }

    return 1;
}


/*
 * Resolves name in scope.  0 with r filled, or -1 (unknown field).
 * r->rest is set when the name goes through an array field r->f.
 */
static int
cf_q_resolve(int scope, const char *base, const char *name, cf_q_ref_t *r)
{
    size_t               n;
    const cf_q_field_t  *f;

    memset(r, 0, sizeof(cf_q_ref_t));
    r->base = base;

    for (f = cf_q_scopes[scope]; f->name; f++) {
        if (strcmp(f->name, name) == 0) {
            r->f = f;
            return 0;
        }
    }

    /* through an array: "<array field>.<element field>" */

    for (f = cf_q_scopes[scope]; f->name; f++) {
        n = strlen(f->name);

        if (f->kind == CF_K_ARR && strncmp(f->name, name, n) == 0
            && name[n] == '.')
        {
            r->f = f;
            r->rest = name + n + 1;
            return 0;
        }
    }

    if (scope == CF_S_EVENT && strncmp(name, "header.", 7) == 0
        && cf_q_header_key(name + 7))
    {
        snprintf(r->path, sizeof(r->path), "$.\"%s\"", name + 7);
        r->dyn.name = name;
        r->dyn.column = "header";
        r->dyn.path = r->path;
        r->dyn.kind = CF_K_STR;
        r->f = &r->dyn;
        r->dynamic = 1;
        return 0;
    }

    if (scope == CF_S_BODY && strncmp(name, "body.", 5) == 0
        && cf_q_plain_path(name + 5))
    {
        snprintf(r->path, sizeof(r->path), "$.body.%s", name + 5);
        r->dyn.name = name;
        r->dyn.path = r->path;
        r->dyn.kind = CF_K_ANY;
        r->f = &r->dyn;
        r->dynamic = 1;
        return 0;
    }

    return -1;
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


/* --- leaf predicates ----------------------------------------------------- */

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


/* --- time zones (spec 4.2 time operators) -------------------------------- */

typedef struct {
    int            fixed;     /* a fixed offset, in offset */
    long           offset;    /* seconds east of UTC */
    const char    *name;      /* an IANA name; NULL: the process's zone */
} cf_q_zone_t;


static int
cf_q_zone_offset(const char *p, long *off)
{
    int   sign, h, m;

    if (*p == '\0') {
        *off = 0;
        return 0;
    }

    if (*p != '+' && *p != '-') {
        return -1;
    }

    sign = (*p == '-') ? -1 : 1;
    p++;

    if (!isdigit((unsigned char) p[0])) {
        return -1;
    }

    h = p[0] - '0';
    p++;

    if (isdigit((unsigned char) *p)) {
        h = h * 10 + (*p - '0');
        p++;
    }

    m = 0;

    if (*p == ':') {
        p++;
    }

    if (*p) {
        if (!isdigit((unsigned char) p[0]) || !isdigit((unsigned char) p[1])
            || p[2] != '\0')
        {
            return -1;
        }

        m = (p[0] - '0') * 10 + (p[1] - '0');
    }

    if (h > 18 || m > 59) {
        return -1;
    }

    *off = sign * (h * 3600L + m * 60L);

    return 0;
}


static int
cf_q_zone_parse(const char *zone, cf_q_zone_t *z)
{
    size_t       len;
    const char  *p;

    memset(z, 0, sizeof(cf_q_zone_t));

    if (zone == NULL || zone[0] == '\0') {
        return 0;
    }

    len = strlen(zone);

    if (len > CF_QUERY_MAX_ZONE_LEN) {
        return -1;
    }

    if (strcmp(zone, "Z") == 0 || zone[0] == '+' || zone[0] == '-') {
        z->fixed = 1;
        return cf_q_zone_offset(zone[0] == 'Z' ? "" : zone, &z->offset);
    }

    if (strncmp(zone, "UTC", 3) == 0 || strncmp(zone, "GMT", 3) == 0) {
        z->fixed = 1;
        if (cf_q_zone_offset(zone + 3, &z->offset) == 0) {
            return 0;
        }
    }

    if (strncmp(zone, "UT", 2) == 0 && (zone[2] == '\0' || zone[2] == '+'
                                        || zone[2] == '-'))
    {
        z->fixed = 1;
        return cf_q_zone_offset(zone + 2, &z->offset);
    }

    /* an IANA name: [A-Za-z0-9_+-] components separated by '/' */

    z->fixed = 0;

    if (!isalpha((unsigned char) zone[0])) {
        return -1;
    }

    for (p = zone; *p; p++) {
        if (*p == '/') {
            if (p[1] == '\0' || p[1] == '/' || p[1] == '.') {
                return -1;
            }

            continue;
        }

        if (!isalnum((unsigned char) *p) && *p != '_' && *p != '-'
            && *p != '+')
        {
            return -1;
        }
    }

    /* a readable TZif file: loaded once per process and kept (cf_tz.c) */
    if (cf_tz_zone(CF_Q_ZONEINFO, zone) == NULL) {
        return -1;
    }

    z->name = zone;

    return 0;
}


int
cf_query_zone_valid(const char *zone)
{
    cf_q_zone_t  z;

    return cf_q_zone_parse(zone, &z);
}


/*
 * Local times come from the zone's own rules (cf_tz.c: its TZif file, read
 * once per process), never from switching TZ for libc's local-time calls:
 * that changes process-wide state which nginx's log times and every other
 * thread read.
 */
static int
cf_q_breakdown(const cf_q_zone_t *z, time_t t, struct tm *tm)
{
    const cf_tz_t  *tz;

    if (z->fixed) {
        t += z->offset;
        return gmtime_r(&t, tm) ? 0 : -1;
    }

    tz = cf_tz_zone(CF_Q_ZONEINFO, z->name);
    if (tz == NULL) {
        return -1;
    }

    t += cf_tz_offset(tz, (int64_t) t);

    return gmtime_r(&t, tm) ? 0 : -1;
}


static int
cf_q_compose(const cf_q_zone_t *z, struct tm *tm, time_t *t)
{
    time_t          local;
    const cf_tz_t  *tz;

    /* timegm() normalizes the fields (a day 0, a month 13) */
    local = timegm(tm);

    if (z->fixed) {
        *t = local - z->offset;
        return 0;
    }

    tz = cf_tz_zone(CF_Q_ZONEINFO, z->name);
    if (tz == NULL) {
        return -1;
    }

    *t = (time_t) cf_tz_utc(tz, (int64_t) local);

    return 0;
}


static int64_t
cf_q_floor_div(int64_t a, int64_t b)
{
    return (a >= 0) ? a / b : -((-a + b - 1) / b);
}


/*
 * Local midnight of a day relative to now: what 0 = the day itself,
 * 1 = its ISO week's Monday, 2 = the 1st of its month; then shifted by
 * days (what 0), weeks (1) or months (2); hms: seconds into that day.
 */
static int64_t
cf_q_local_start(const char *zone, int64_t now_ms, int what, int64_t shift,
    long hms)
{
    time_t       t;
    struct tm    tm, st;
    cf_q_zone_t  z;

    if (cf_q_zone_parse(zone, &z) != 0) {
        return -1;
    }

    if (cf_q_breakdown(&z, (time_t) cf_q_floor_div(now_ms, 1000), &tm)
        != 0)
    {
        return -1;
    }

    memset(&st, 0, sizeof(st));
    st.tm_year = tm.tm_year;
    st.tm_mon = tm.tm_mon;
    st.tm_mday = tm.tm_mday;
    st.tm_hour = (int) (hms / 3600);
    st.tm_min = (int) (hms / 60 % 60);
    st.tm_sec = (int) (hms % 60);

    switch (what) {
    case 0:
        st.tm_mday += (int) shift;
        break;
    case 1:
        st.tm_mday += -((tm.tm_wday + 6) % 7) + 7 * (int) shift;
        break;
    default:
        st.tm_mday = 1;
        st.tm_mon += (int) shift;
        break;
    }

    if (cf_q_compose(&z, &st, &t) != 0) {
        return -1;
    }

    return (int64_t) t * 1000;
}


int64_t
cf_query_day_start(const char *zone, int64_t now_ms, int64_t day_offset)
{
    return cf_q_local_start(zone, now_ms, 0, day_offset, 0);
}


int64_t
cf_query_week_start(const char *zone, int64_t now_ms, int offset)
{
    return cf_q_local_start(zone, now_ms, 1, offset, 0);
}


int64_t
cf_query_month_start(const char *zone, int64_t now_ms, int offset)
{
    return cf_q_local_start(zone, now_ms, 2, offset, 0);
}


/*
 * Formats the instant ms in zone with a java.time pattern (datePattern):
 * y/u (year), M, d, H, h, m, s, S (fraction), a; 'quoted' literals; other
 * non-letters are literal.  0 or -1 (unsupported pattern).
 */
static int
cf_q_format(const char *zone, int64_t ms, const char *pat, char *out,
    size_t len)
{
    int          n, w, val;
    char        *o, *end;
    const char  *p;
    struct tm    tm;
    cf_q_zone_t  z;

    if (cf_q_zone_parse(zone, &z) != 0) {
        return -1;
    }

    n = cf_q_breakdown(&z, (time_t) cf_q_floor_div(ms, 1000), &tm);

    if (n != 0) {
        return -1;
    }

    o = out;
    end = out + len - 1;

    for (p = pat; *p; p += w) {

        if (end - o < 12) {
            return -1;
        }

        if (*p == '\'') {
            p++;

            while (*p && *p != '\'') {
                *o++ = *p++;

                if (o == end) {
                    return -1;
                }
            }

            if (*p != '\'') {
                return -1;
            }

            w = 1;
            continue;
        }

        for (w = 1; p[w] == *p; w++) { /* void */ }

        if (!isalpha((unsigned char) *p)) {
            if (w > 1) {
                w = 1;
            }

            *o++ = *p;
            continue;
        }

        switch (*p) {
        case 'y':
        case 'u':
            val = tm.tm_year + 1900;
            if (w == 2) {
                o += sprintf(o, "%02d", val % 100);
                continue;
            }
            break;
        case 'M':
            if (w > 2) {
                return -1;
            }
            val = tm.tm_mon + 1;
            break;
        case 'd':
            val = tm.tm_mday;
            break;
        case 'H':
            val = tm.tm_hour;
            break;
        case 'h':
            val = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
            break;
        case 'm':
            val = tm.tm_min;
            break;
        case 's':
            val = tm.tm_sec;
            break;
        case 'S':
            if (w > 3) {
                return -1;
            }
            val = (int) (ms - cf_q_floor_div(ms, 1000) * 1000);
            o += sprintf(o, "%0*d", w, w == 3 ? val : w == 2 ? val / 10
                                                              : val / 100);
            continue;
        case 'a':
            if (w > 1) {
                return -1;
            }
            o += sprintf(o, "%s", tm.tm_hour < 12 ? "AM" : "PM");
            continue;
        default:
            return -1;
        }

        if (w > 4 || (w > 2 && *p != 'y' && *p != 'u')) {
            return -1;
        }

        o += sprintf(o, "%0*d", w, val);
    }

    *o = '\0';

    return 0;
}


/* --- field-level predicates ---------------------------------------------- */

typedef enum {
    CF_L_CMP = 0,       /* cmp with val */
    CF_L_IN,            /* list (nulls mean "missing or null") */
    CF_L_NULL,          /* missing or null */
    CF_L_NOT_NULL,
    CF_L_EXISTS,
    CF_L_STRING,        /* mode, val.v, icase */
    CF_L_ELEM           /* child condition on the elements */
} cf_q_leaf_op_t;


typedef struct {
    cf_q_leaf_op_t   op;
    const char      *cmp;
    cf_q_val_t       val;
    json_t          *list;
    int              mode;
    int              icase;
    json_t          *child;
    int              depth;
} cf_q_leaf_t;


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


/* "field op ...": a leaf, or an EXISTS over the elements of each array
 * the name goes through */
static int
cf_q_field(cf_qc_t *c, int scope, const char *base, const char *name,
    cf_q_leaf_t *lo)
{
    int          a;
    char         eb[32];
    cf_q_ref_t   r;

    if (cf_q_resolve(scope, base, name, &r) != 0) {
        return cf_q_fail(c, "Unknown field \"%.128s\".", name);
    }

    if (r.rest == NULL) {
        return cf_q_leaf(c, &r, lo);
    }

    c->rollup = 0;
    a = c->aliases++;
    snprintf(eb, sizeof(eb), "j%d.value", a);

    cf_sb_addf(&c->sb, "EXISTS (SELECT 1 FROM json_each(%s",
               r.f->column ? r.f->column : base);

    if (r.f->path) {
        cf_sb_addf(&c->sb, ", '%s'", r.f->path);
    }

    cf_sb_addf(&c->sb, ") AS j%d WHERE ", a);

    if (cf_q_field(c, r.f->elem, eb, r.rest, lo) != 0) {
        return -1;
    }

    cf_sb_add(&c->sb, ")");

    return 0;
}


static int
cf_q_has_hop(int scope, const char *name)
{
    cf_q_ref_t  r;

    return cf_q_resolve(scope, "", name, &r) == 0 && r.rest != NULL;
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

        cf_sb_add(&c->sb, "0");
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
    int          a;
    char         lv[32], lt[32];
    size_t       i;
    json_t      *v;
    cf_q_ref_t   r;
    cf_q_leaf_t  lo;

    if (cf_q_resolve(scope, base, name, &r) != 0) {
        return cf_q_fail(c, "Unknown field \"%.128s\".", name);
    }

    if (json_array_size(list) == 0) {
        cf_sb_add(&c->sb, "0");
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

    a = c->aliases++;
    snprintf(lv, sizeof(lv), "l%d.value", a);
    snprintf(lt, sizeof(lt), "l%d.type", a);

    cf_sb_add(&c->sb, "NOT EXISTS (SELECT 1 FROM json_each(");
    if (cf_q_bind_dump(c, list) != 0) {
        return -1;
    }

    cf_sb_addf(&c->sb, ") AS l%d WHERE NOT ", a);

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


static int
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
        cf_sb_add(&c->sb, "1");
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
            cf_sb_add(&c->sb, "1");
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

        if (cf_q_expr(c, &r) != 0) {
            goto failed;
        }

        cf_sb_addf(&c->sb, " %s", dir);

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
