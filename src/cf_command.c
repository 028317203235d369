
/*
 * ngx_compensation: the commands of execution_failed (spec 2.1-2.9): their
 * table, binding of request bodies, and the decision (generic checks, then
 * the command handler's precondition, then the event).
 */


#include <stdio.h>
#include <string.h>

#include "cf_bind.h"


static int cf_command_handle(const cf_aggregate_t *agg, json_t *body,
    cf_command_type_t type, const cf_decide_ctx_t *ctx, cf_event_t *ev,
    cf_error_t *err);
static int cf_command_create(json_t *body, const cf_decide_ctx_t *ctx,
    cf_event_t *ev, cf_error_t *err);
static int cf_command_prepare(const cf_state_t *st, const cf_decide_ctx_t *ctx,
    cf_event_t *ev, cf_error_t *err);
static int cf_command_arith_error(int rc, cf_error_t *err);
static int cf_command_oom(cf_error_t *err);
static int cf_ascii_casecmp(const char *a, const char *b);


#define CF_API_PREFIX      "me.ahoo.wow.compensation.api."
#define CF_COMMAND_PREFIX  "me.ahoo.wow.api.command."
#define CF_ABAC_PREFIX     "me.ahoo.wow.api.abac."


/* the server default of spec 1.5 when the caller has none */
static const cf_retry_spec_t  cf_default_spec = { 10, 180, 120 };


static const cf_command_info_t  cf_commands[CF_CMD__COUNT] = {
    { CF_CMD_CREATE_EXECUTION_FAILED, "create_execution_failed",
      CF_API_PREFIX "CreateExecutionFailed", "onCreate", 1, 1 },
    { CF_CMD_PREPARE_COMPENSATION, "prepare_compensation",
      CF_API_PREFIX "PrepareCompensation", "onPrepare", 0, 0 },
    { CF_CMD_FORCE_PREPARE_COMPENSATION, "force_prepare_compensation",
      CF_API_PREFIX "ForcePrepareCompensation", "onForcePrepare", 0, 0 },
    { CF_CMD_APPLY_EXECUTION_SUCCESS, "apply_execution_success",
      CF_API_PREFIX "ApplyExecutionSuccess", "onSucceed", 0, 0 },
    { CF_CMD_APPLY_EXECUTION_FAILED, "apply_execution_failed",
      CF_API_PREFIX "ApplyExecutionFailed", "onFailed", 0, 0 },
    { CF_CMD_APPLY_RETRY_SPEC, "apply_retry_spec",
      CF_API_PREFIX "ApplyRetrySpec", "onApplyRetrySpec", 0, 0 },
    { CF_CMD_CHANGE_FUNCTION, "change_function",
      CF_API_PREFIX "ChangeFunction", "onChangeFunction", 0, 0 },
    { CF_CMD_MARK_RECOVERABLE, "mark_recoverable",
      CF_API_PREFIX "MarkRecoverable", "onMarkRecoverable", 0, 0 },
    { CF_CMD_DELETE_AGGREGATE, "delete_aggregate",
      CF_COMMAND_PREFIX "DefaultDeleteAggregate", "onDelete", 0, 0 },
    { CF_CMD_RECOVER_AGGREGATE, "recover_aggregate",
      CF_COMMAND_PREFIX "DefaultRecoverAggregate", "onRecover", 0, 0 },
    { CF_CMD_APPLY_RESOURCE_TAGS, "apply_resource_tags",
      CF_ABAC_PREFIX "DefaultApplyResourceTags", "onApplyResourceTags", 0, 0 }
};


/* command bodies, in wire order */

static const cf_field_t  cf_fields_cmd_create[] = {
    { "eventId",     CF_FT_OBJECT,      0, NULL, cf_fields_event_id },
    { "function",    CF_FT_OBJECT,      0, NULL, cf_fields_function },
    { "error",       CF_FT_OBJECT,      0, NULL, cf_fields_error },
    { "executeAt",   CF_FT_INT64,       0, NULL, NULL },
    { "retrySpec",   CF_FT_OBJECT,      1, NULL, cf_fields_retry_spec },
    { "recoverable", CF_FT_RECOVERABLE, 1, "UNKNOWN", NULL },
    { NULL,          CF_FT_STRING,      0, NULL, NULL }
};

static const cf_field_t  cf_fields_cmd_success[] = {
    { "executeAt",   CF_FT_INT64,       0, NULL, NULL },
    { NULL,          CF_FT_STRING,      0, NULL, NULL }
};

static const cf_field_t  cf_fields_cmd_failed[] = {
    { "error",       CF_FT_OBJECT,      0, NULL, cf_fields_error },
    { "executeAt",   CF_FT_INT64,       0, NULL, NULL },
    { "recoverable", CF_FT_RECOVERABLE, 1, "UNKNOWN", NULL },
    { NULL,          CF_FT_STRING,      0, NULL, NULL }
};

static const cf_field_t  cf_fields_cmd_recoverable[] = {
    { "recoverable", CF_FT_RECOVERABLE, 0, NULL, NULL },
    { NULL,          CF_FT_STRING,      0, NULL, NULL }
};

static const cf_field_t  cf_fields_cmd_empty[] = {
    { NULL,          CF_FT_STRING,      0, NULL, NULL }
};

/* DefaultApplyResourceTags(tags: AbacTags): tags are required */
static const cf_field_t  cf_fields_cmd_tags[] = {
    { "tags",        CF_FT_TAGS,        0, NULL, NULL },
    { NULL,          CF_FT_STRING,      0, NULL, NULL }
};

static const cf_field_t *const  cf_command_fields[CF_CMD__COUNT] = {
    cf_fields_cmd_create,
    cf_fields_cmd_empty,
    cf_fields_cmd_empty,
    cf_fields_cmd_success,
    cf_fields_cmd_failed,
    cf_fields_retry_spec,
    cf_fields_function,
    cf_fields_cmd_recoverable,
    cf_fields_cmd_empty,
    cf_fields_cmd_empty,
    cf_fields_cmd_tags
};


const cf_command_info_t *
cf_command_info(cf_command_type_t t)
{
    return ((int) t >= 0 && t < CF_CMD__COUNT) ? &cf_commands[t] : NULL;
}


int
cf_command_lookup(const char *name, cf_command_type_t *out)
{
    int  i;

    if (name == NULL) {
        return -1;
    }

    for (i = 0; i < CF_CMD__COUNT; i++) {
        if (cf_ascii_casecmp(name, cf_commands[i].name) == 0
            || strcmp(name, cf_commands[i].type_name) == 0)
        {
            *out = (cf_command_type_t) i;
            return 0;
        }
    }

    return -1;
}


int
cf_command_bind(cf_command_type_t type, json_t *body, cf_command_t *cmd,
    cf_error_t *err)
{
    char     tail[48];
    size_t   more;
    json_t  *n, *first, *empty;

    cmd->type = type;
    cmd->body = NULL;

    if ((int) type < 0 || type >= CF_CMD__COUNT) {
        cf_error_set(err, CF_E_ILLEGAL_ARGUMENT, "Unknown command type.");
        return -1;
    }

    empty = NULL;

    if (body == NULL || json_is_null(body)) {
        if (cf_commands[type].body_required) {
            cf_error_set(err, CF_E_ILLEGAL_ARGUMENT,
                         "Command can not be empty.");
            return -1;
        }

        empty = json_object();
        if (empty == NULL) {
            return cf_command_oom(err);
        }

        body = empty;
    }

    if (cf_bind_object(body, cf_command_fields[type], "", &n, err) != 0) {
        json_decref(empty);

        first = json_array_get(err->binding_errors, 0);

        if (strcmp(err->code, CF_E_ILLEGAL_ARGUMENT) == 0 && first) {
            more = json_array_size(err->binding_errors) - 1;

            tail[0] = '\0';

            if (more) {
                snprintf(tail, sizeof(tail), " (and %zu more)", more);
            }

            cf_error_set(err, CF_E_ILLEGAL_ARGUMENT,
                         "Command validation failed: %.200s: %.200s%s",
                         json_string_value(json_object_get(first, "name")),
                         json_string_value(json_object_get(first, "msg")),
                         tail);
        }

        return -1;
    }

    json_decref(empty);

    cmd->body = n;

    return 0;
}


void
cf_command_free(cf_command_t *cmd)
{
    json_decref(cmd->body);
    cmd->body = NULL;
}


int
cf_decide(const cf_aggregate_t *agg, const cf_command_t *cmd,
    const cf_decide_ctx_t *ctx, cf_event_t *ev, cf_error_t *err,
    int *in_handler)
{
    int                       rc;
    int64_t                   expected;
    const char               *id, *owner;
    cf_command_t              bound;
    const cf_command_info_t  *info;

    if (in_handler) {
        *in_handler = 0;
    }

    ev->body = NULL;

    id = agg->state.id ? agg->state.id : "";

    info = cf_command_info(cmd->type);
    if (info == NULL) {
        cf_error_set(err, CF_E_ILLEGAL_ARGUMENT, "Unknown command type.");
        return -1;
    }

    /* 1. expected version; a create command always expects 0 */
    expected = info->is_create ? 0 : ctx->expected_version;

    if (expected >= 0 && expected != agg->version) {
        cf_error_set(err, CF_E_EXPECT_VERSION_CONFLICT,
                     "Expected version %lld does not match "
                     "current version %lld.",
                     (long long) expected, (long long) agg->version);
        return -1;
    }

    /* 2. existence */
    if (agg->version == 0 && !info->is_create) {
        cf_error_set(err, CF_E_NOT_FOUND, "%s is not initialized.", id);
        return -1;
    }

    /* 3. owner: a non-blank owner must be the aggregate's */
    owner = ctx->owner_id;

    if (owner != NULL && owner[strspn(owner, " \t\r\n")] != '\0'
        && strcmp(owner, agg->owner_id ? agg->owner_id : "") != 0)
    {
        cf_error_set(err, CF_E_OWNER_AGGREGATE,
                     "Illegal access to the aggregate %s: "
                     "the owner does not match.", id);
        return -1;
    }

    /* 4. deletion */
    if (agg->deleted && cmd->type != CF_CMD_RECOVER_AGGREGATE) {
        cf_error_set(err, CF_E_DELETED_AGGREGATE,
                     "Illegal access to the deleted aggregate %s.", id);
        return -1;
    }

    if (!agg->deleted && cmd->type == CF_CMD_RECOVER_AGGREGATE) {
        cf_error_set(err, CF_E_ILLEGAL_STATE,
                     "The aggregate %s is not deleted.", id);
        return -1;
    }

    /* the body is re-bound: decide never trusts its input's shape */
    if (cf_command_bind(cmd->type, cmd->body, &bound, err) != 0) {
        return -1;
    }

    if (in_handler) {
        *in_handler = 1;
    }

    /* on success too: the handler ran and names the result's function */
    rc = cf_command_handle(agg, bound.body, cmd->type, ctx, ev, err);

    cf_command_free(&bound);

    return rc;
}


static int
cf_command_handle(const cf_aggregate_t *agg, json_t *body,
    cf_command_type_t type, const cf_decide_ctx_t *ctx, cf_event_t *ev,
    cf_error_t *err)
{
    int                 same;
    char                text[512];
    json_t             *cur, *e;
    const char         *k;
    cf_retry_spec_t     spec;
    const cf_state_t   *st;
    cf_recoverable_t    rec;

    st = &agg->state;

    switch (type) {

    case CF_CMD_CREATE_EXECUTION_FAILED:
        return cf_command_create(body, ctx, ev, err);

    case CF_CMD_PREPARE_COMPENSATION:
        if (!cf_state_can_retry(st, ctx->now)) {
            cf_error_set(err, CF_E_ILLEGAL_STATE,
                         "ExecutionFailed can not retry.");
            return -1;
        }

        return cf_command_prepare(st, ctx, ev, err);

    case CF_CMD_FORCE_PREPARE_COMPENSATION:
        if (!cf_state_can_force_retry(st, ctx->now)) {
            cf_error_set(err, CF_E_ILLEGAL_STATE,
                         "ExecutionFailed can not force retry.");
            return -1;
        }

        return cf_command_prepare(st, ctx, ev, err);

    case CF_CMD_APPLY_EXECUTION_SUCCESS:
    case CF_CMD_APPLY_EXECUTION_FAILED:
        if (st->status != CF_STATUS_PREPARED) {
            cf_error_set(err, CF_E_ILLEGAL_STATE,
                         "ExecutionFailed is not prepared.");
            return -1;
        }

        if (type == CF_CMD_APPLY_EXECUTION_SUCCESS) {
            ev->type = CF_EV_EXECUTION_SUCCESS_APPLIED;
            ev->body = json_deep_copy(body);
            break;
        }

        ev->type = CF_EV_EXECUTION_FAILED_APPLIED;
        ev->body = json_deep_copy(body);

        if (ev->body == NULL) {
            break;
        }

        /* the event carries the error as serialized, with "succeeded" */
        e = cf_bind_error_with_succeeded(json_object_get(body, "error"));

        if (json_object_set_new(ev->body, "error", e) != 0) {
            cf_event_free(ev);
        }

        break;

    case CF_CMD_APPLY_RETRY_SPEC:
        cf_bind_retry_spec_read(body, &spec);

        if (cf_retry_spec_validate(&spec, err) != 0) {
            return -1;
        }

        ev->type = CF_EV_RETRY_SPEC_APPLIED;
        ev->body = json_deep_copy(body);
        break;

    case CF_CMD_CHANGE_FUNCTION:
        cur = st->function;
        same = cur != NULL;

        if (same) {
            json_object_foreach(body, k, e) {
                if (!json_equal(e, json_object_get(cur, k))) {
                    same = 0;
                    break;
                }
            }
        }

        if (same) {
            cf_bind_function_text(cur, text, sizeof(text));
            cf_error_set(err, CF_E_ILLEGAL_ARGUMENT,
                         "ExecutionFailed function is already changed "
                         "to %s.", text);
            return -1;
        }

        ev->type = CF_EV_FUNCTION_CHANGED;
        ev->body = json_deep_copy(body);
        break;

    case CF_CMD_MARK_RECOVERABLE:
        rec = CF_RECOVERABLE_UNKNOWN;
        (void) cf_recoverable_parse(
                   json_string_value(json_object_get(body, "recoverable")),
                   &rec);

        if (rec == st->recoverable) {
            cf_error_set(err, CF_E_ILLEGAL_ARGUMENT,
                         "ExecutionFailed recoverable is already marked "
                         "to %s.", cf_recoverable_name(st->recoverable));
            return -1;
        }

        ev->type = CF_EV_RECOVERABLE_MARKED;
        ev->body = json_deep_copy(body);
        break;

    case CF_CMD_DELETE_AGGREGATE:
        ev->type = CF_EV_AGGREGATE_DELETED;
        ev->body = json_object();
        break;

    case CF_CMD_RECOVER_AGGREGATE:
        ev->type = CF_EV_AGGREGATE_RECOVERED;
        ev->body = json_object();
        break;

    case CF_CMD_APPLY_RESOURCE_TAGS:
        /* no precondition: the tags replace the aggregate's, as they are */
        ev->type = CF_EV_RESOURCE_TAGS_APPLIED;
        ev->body = json_deep_copy(body);
        break;

    default:
        cf_error_set(err, CF_E_ILLEGAL_ARGUMENT, "Unknown command type.");
        return -1;
    }

    if (ev->body == NULL) {
        return cf_command_oom(err);
    }

    return 0;
}


static int
cf_command_create(json_t *body, const cf_decide_ctx_t *ctx, cf_event_t *ev,
    cf_error_t *err)
{
    int                rc;
    json_t            *b, *v;
    cf_retry_spec_t    spec;
    cf_retry_state_t   rs;

    /* the command's spec, else the server's (spec 1.5) */
    v = json_object_get(body, "retrySpec");

    if (json_is_object(v)) {
        cf_bind_retry_spec_read(v, &spec);

    } else {
        spec = ctx->default_spec ? *ctx->default_spec : cf_default_spec;
    }

    if (cf_retry_spec_validate(&spec, err) != 0) {
        return -1;
    }

    /* [HEAD]: the retry state comes from the chosen spec */
    rc = cf_next_retry_state(&spec, 0, cf_bind_int(body, "executeAt"), &rs);
    if (rc != CF_ARITH_OK) {
        return cf_command_arith_error(rc, err);
    }

    b = json_object();
    if (b == NULL) {
        return cf_command_oom(err);
    }

    if (json_object_set_new(b, "eventId",
                            json_deep_copy(json_object_get(body, "eventId")))
        || json_object_set_new(b, "function",
                               json_deep_copy(json_object_get(body,
                                                              "function")))
        || json_object_set_new(b, "error",
                               cf_bind_error_with_succeeded(
                                   json_object_get(body, "error")))
        || json_object_set_new(b, "executeAt",
                               json_deep_copy(json_object_get(body,
                                                              "executeAt")))
        || json_object_set_new(b, "retryState", cf_bind_retry_state_json(&rs))
        || json_object_set_new(b, "retrySpec", cf_bind_retry_spec_json(&spec))
        || json_object_set_new(b, "recoverable",
                               json_deep_copy(json_object_get(body,
                                                              "recoverable"))))
    {
        json_decref(b);
        return cf_command_oom(err);
    }

    ev->type = CF_EV_EXECUTION_FAILED_CREATED;
    ev->body = b;

    return 0;
}


static int
cf_command_prepare(const cf_state_t *st, const cf_decide_ctx_t *ctx,
    cf_event_t *ev, cf_error_t *err)
{
    int                rc;
    int32_t            retries;
    json_t            *b;
    cf_retry_state_t   rs;

    if (__builtin_add_overflow(st->retry_state.retries, 1, &retries)) {
        cf_error_set(err, CF_E_BAD_REQUEST, "integer overflow");
        return -1;
    }

    rc = cf_next_retry_state(&st->retry_spec, retries, ctx->now, &rs);
    if (rc != CF_ARITH_OK) {
        return cf_command_arith_error(rc, err);
    }

    b = json_object();
    if (b == NULL) {
        return cf_command_oom(err);
    }

    if (json_object_set_new(b, "eventId",
                            st->event_id ? json_deep_copy(st->event_id)
                                         : json_null())
        || json_object_set_new(b, "function",
                               st->function ? json_deep_copy(st->function)
                                            : json_null())
        || json_object_set_new(b, "retryState", cf_bind_retry_state_json(&rs)))
    {
        json_decref(b);
        return cf_command_oom(err);
    }

    ev->type = CF_EV_COMPENSATION_PREPARED;
    ev->body = b;

    return 0;
}


/* IllegalArgumentException and ArithmeticException of spec 2's table */
static int
cf_command_arith_error(int rc, cf_error_t *err)
{
    if (rc == CF_ARITH_ARGUMENT) {
        cf_error_set(err, CF_E_ILLEGAL_ARGUMENT,
                     "retries, minBackoff and executionTimeout must be "
                     "greater than or equal to 0.");

    } else {
        cf_error_set(err, CF_E_BAD_REQUEST, "long overflow");
    }

    return -1;
}


static int
cf_command_oom(cf_error_t *err)
{
    cf_error_set(err, CF_E_INTERNAL, "out of memory");
    return -1;
}


static int
cf_ascii_casecmp(const char *a, const char *b)
{
    unsigned char  ca, cb;

    for ( ;; ) {
        ca = (unsigned char) *a++;
        cb = (unsigned char) *b++;

        if (ca >= 'A' && ca <= 'Z') {
            ca = (unsigned char) (ca - 'A' + 'a');
        }

        if (cb >= 'A' && cb <= 'Z') {
            cb = (unsigned char) (cb - 'A' + 'a');
        }

        if (ca != cb || ca == '\0') {
            return ca - cb;
        }
    }
}
