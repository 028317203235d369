
/*
 * ngx_compensation: the global "wow" routes (spec 6.1-6.3).
 *
 *   POST /wow/command/send   the command facade: picks the command from
 *                            Command-Type, then runs the same handler as the
 *                            per-command routes
 *   POST /wow/command/wait   receives wait signals
 *   GET  /wow/metadata       the service's metadata
 *
 * "GET /wow/id/global" is in ngx_http_compensation_id.c, the BI script in
 * ngx_http_compensation_bi.c.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_command.h"
#include "ngx_http_compensation_request.h"
#include "ngx_http_compensation_response.h"
#include "ngx_http_compensation_wow.h"
#include "cf_wait.h"


static ngx_int_t ngx_http_compensation_reject(ngx_http_request_t *r,
    const char *name, const char *fmt, ...);
static ngx_int_t ngx_http_compensation_wait_run(ngx_http_request_t *r);


/* a 400 IllegalArgument with one binding error naming a header */
static ngx_int_t
ngx_http_compensation_reject(ngx_http_request_t *r, const char *name,
    const char *fmt, ...)
{
    u_char      msg[256], *p;
    va_list     args;
    ngx_int_t   rc;
    cf_error_t  err;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg) - 1, fmt, args);
    va_end(args);
    *p = '\0';

    cf_error_init(&err);
    cf_error_set(&err, CF_E_ILLEGAL_ARGUMENT, "%s", (char *) msg);
    cf_error_add_binding(&err, name, "%s", (char *) msg);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "compensation: command facade: %s", msg);

    rc = ngx_http_compensation_send_error(r, &err);
    cf_error_free(&err);

    return rc;
}


/*
 * POST /wow/command/send (spec 6.2).  Command-Type is the command body's
 * fully qualified class name (or its snake_case name); the optional
 * Command-Aggregate-Context (the context name) and Command-Aggregate-Name
 * must name this service's aggregate.  Everything else - headers, body,
 * CommandResult, statuses - is the per-command routes' own code path.
 */
ngx_int_t
ngx_http_compensation_send_handler(ngx_http_request_t *r)
{
    char                         *type;
    ngx_str_t                    *v, *context, *name;
    cf_command_type_t             cmd;
    ngx_http_compensation_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);

    v = ngx_http_compensation_header(r, "Command-Type",
                                     sizeof("Command-Type") - 1);

    if (v == NULL || v->len == 0) {
        return ngx_http_compensation_reject(r, "Command-Type",
                                            "Command-Type can not be empty.");
    }

    if (v->len > 256) {
        return ngx_http_compensation_reject(r, "Command-Type",
                   "Command-Type is longer than 256 characters.");
    }

    type = ngx_http_compensation_strdup(r->pool, v);
    if (type == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (cf_command_lookup(type, &cmd) != 0) {
        return ngx_http_compensation_reject(r, "Command-Type",
                   "Command-Type [%V] is not a command of"
                   " " CF_CONTEXT_NAME "." CF_AGGREGATE_NAME ".", v);
    }

    context = ngx_http_compensation_header(r, "Command-Aggregate-Context",
                  sizeof("Command-Aggregate-Context") - 1);
    name = ngx_http_compensation_header(r, "Command-Aggregate-Name",
               sizeof("Command-Aggregate-Name") - 1);

    if (context && context->len) {
        if (context->len != sizeof(CF_CONTEXT_NAME) - 1
            || ngx_strncmp(context->data, CF_CONTEXT_NAME, context->len)
               != 0)
        {
            return ngx_http_compensation_reject(r,
                       "Command-Aggregate-Context",
                       "Unknown bounded context [%V]: this service is"
                       " \"" CF_CONTEXT_NAME "\".", context);
        }

        if (name == NULL || name->len == 0) {
            return ngx_http_compensation_reject(r, "Command-Aggregate-Name",
                       "Command-Aggregate-Name can not be empty when"
                       " Command-Aggregate-Context is given.");
        }
    }

    if (name && name->len
        && (name->len != sizeof(CF_AGGREGATE_NAME) - 1
            || ngx_strncmp(name->data, CF_AGGREGATE_NAME, name->len) != 0))
    {
        return ngx_http_compensation_reject(r, "Command-Aggregate-Name",
                   "Unknown aggregate [%V] in " CF_CONTEXT_NAME ".", name);
    }

    ctx->command = cmd;
    ctx->facade = 1;
    ngx_str_null(&ctx->aggregate_id);

    return ngx_http_compensation_command_handler(r);
}


/*
 * POST /wow/command/wait (spec 6.1).  Commands of this service reach every
 * stage they can reach (up to SNAPSHOT) when their transaction commits, and
 * the answer is sent then; no request here is ever left waiting for a stage
 * that finishes elsewhere.  So a valid signal is acknowledged (200, empty
 * JSON response) and logged; there is no waiter for it to complete.
 */
ngx_int_t
ngx_http_compensation_wait_handler(ngx_http_request_t *r)
{
    return ngx_http_compensation_request_body(r,
                                              ngx_http_compensation_wait_run);
}


static ngx_int_t
ngx_http_compensation_wait_run(ngx_http_request_t *r)
{
    json_t                            *body;
    ngx_int_t                          rc;
    cf_error_t                         err;

    if (ngx_http_compensation_read_json(r, &body, &rc) != NGX_OK) {
        return rc;
    }

    cf_error_init(&err);

    if (body == NULL) {
        cf_error_set(&err, CF_E_ILLEGAL_ARGUMENT,
                     "The wait signal can not be empty.");
        goto invalid;
    }

    if (cf_wait_signal_validate(body, &err) != 0) {
        goto invalid;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "compensation: wait signal %s for command %s, stage %s:"
                  " no pending wait (commands complete at commit)",
                  json_string_value(json_object_get(body, "id")),
                  json_string_value(json_object_get(body, "commandId")),
                  cf_wait_stage_name(cf_wait_stage_parse(
                      json_string_value(json_object_get(body, "stage")))));

    return ngx_http_compensation_send_text(r, NGX_HTTP_OK,
                                           "application/json", NULL, 0);

invalid:

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "compensation: wait signal rejected: %s", err.msg);

    rc = ngx_http_compensation_send_error(r, &err);
    cf_error_free(&err);

    return rc;
}


/* GET /wow/metadata (spec 6.3) */
ngx_int_t
ngx_http_compensation_metadata_handler(ngx_http_request_t *r)
{
    int         i;
    json_t     *doc, *commands, *events;
    ngx_int_t   rc;

    if (ngx_http_compensation_no_body(r, 0, NULL, &rc) != NGX_OK) {
        return rc;
    }

    commands = json_array();
    events = json_array();

    if (commands == NULL || events == NULL) {
        goto failed;
    }

    /* the aggregate's own commands and events; delete, recover and the
     * resource tags are the framework's generic ones, declared by no
     * bounded context */

    for (i = 0; i < CF_CMD__COUNT; i++) {
        if (i == CF_CMD_DELETE_AGGREGATE || i == CF_CMD_RECOVER_AGGREGATE
            || i == CF_CMD_APPLY_RESOURCE_TAGS)
        {
            continue;
        }

        if (json_array_append_new(commands,
                json_string(cf_command_info((cf_command_type_t) i)
                            ->type_name)) != 0)
        {
            goto failed;
        }
    }

    for (i = 0; i < CF_EV__COUNT; i++) {
        if (i == CF_EV_AGGREGATE_DELETED || i == CF_EV_AGGREGATE_RECOVERED
            || i == CF_EV_RESOURCE_TAGS_APPLIED)
        {
            continue;
        }

        if (json_array_append_new(events,
                json_string(cf_event_body_type((cf_event_type_t) i))) != 0)
        {
            goto failed;
        }
    }

    doc = json_pack("{s:{s:{s:s, s:s, s:[s], s:{s:{s:[s], s:s, s:s,"
                    " s:O, s:O}}}}}",
                    "contexts", CF_CONTEXT_NAME,
                    "alias", CF_CONTEXT_ALIAS,
                    "description", "",
                    "scopes", "me.ahoo.wow.compensation",
                    "aggregates", CF_AGGREGATE_NAME,
                    "scopes", "me.ahoo.wow.compensation.api",
                    "type", "me.ahoo.wow.compensation.domain.ExecutionFailed",
                    "tenantId", CF_TENANT_ID,
                    "commands", commands,
                    "events", events);

    json_decref(commands);
    json_decref(events);

    if (doc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_compensation_send_json(r, NGX_HTTP_OK, CF_OK, doc);
    json_decref(doc);

    return rc;

failed:

    json_decref(commands);
    json_decref(events);

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}
