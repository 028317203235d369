
/*
 * ngx_compensation: the query fields whitelist (spec 4.3, 4.4): each
 * queryable name of the snapshot and event documents, its column and JSON
 * path and its type.  A name not found here is an error: user text never
 * reaches the SQL text.  Dialect-neutral (cf_query_int.h).
 */


#include <stdio.h>
#include <string.h>
#include <ctype.h>

#include "cf_query_int.h"


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
int
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


int
cf_q_has_hop(int scope, const char *name)
{
    cf_q_ref_t  r;

    return cf_q_resolve(scope, "", name, &r) == 0 && r.rest != NULL;
}
