
/*
 * ngx_compensation: the route table and the router.
 *
 * One location serves every route below its prefix.  Among the routes whose
 * pattern matches the path, command routes win (they are registered first in
 * the original), then literal segments win over {var} segments at the first
 * position where two patterns differ (spec 3.1).  A known path with another
 * method gets 405 with Allow; an unknown path a JSON 404.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_actuator.h"
#include "ngx_http_compensation_bi.h"
#include "ngx_http_compensation_command.h"
#include "ngx_http_compensation_event.h"
#include "ngx_http_compensation_id.h"
#include "ngx_http_compensation_metrics.h"
#include "ngx_http_compensation_openapi.h"
#include "ngx_http_compensation_operations.h"
#include "ngx_http_compensation_query.h"
#include "ngx_http_compensation_response.h"
#include "ngx_http_compensation_router.h"
#include "ngx_http_compensation_snapshot.h"
#include "ngx_http_compensation_state.h"
#include "ngx_http_compensation_wow.h"
#include "cf_route.h"


/*
 * The last field of every entry is "mutating": 1 for a route that writes
 * (a command, a snapshot regeneration, a sink delivery, anything that is not
 * a read or a query).  When compensation_auth_token is set, the access
 * phase answers 401 to a mutating route without the right X-Auth-Token;
 * compensation_read_token guards the other routes that use the store
 * (ngx_http_compensation_auth.c).  A new route that writes MUST set it.
 */
#define MUTATING  1
#define READ_ONLY 0

#define CMD(method, path, type, summary)                                      \
    { method, path, ngx_http_compensation_command_handler, type, summary, 1, \
      0, MUTATING }

/* a route served without the store: health must be able to say DOWN, and
 * ids, metadata, the BI script and the documents need no store */
#define GLOBAL(method, path, handler, summary)                                \
    { method, path, handler, -1, summary, 0, 1, READ_ONLY }


static const ngx_http_compensation_route_t  ngx_http_compensation_routes[] = {

    CMD(NGX_HTTP_POST, "/execution_failed/create_execution_failed",
        CF_CMD_CREATE_EXECUTION_FAILED, "create_execution_failed"),
    CMD(NGX_HTTP_PUT, "/execution_failed/{id}/prepare_compensation",
        CF_CMD_PREPARE_COMPENSATION, "prepare_compensation"),
    CMD(NGX_HTTP_PUT, "/execution_failed/{id}/force_prepare_compensation",
        CF_CMD_FORCE_PREPARE_COMPENSATION, "force_prepare_compensation"),
    CMD(NGX_HTTP_PUT, "/execution_failed/{id}/apply_execution_success",
        CF_CMD_APPLY_EXECUTION_SUCCESS, "apply_execution_success"),
    CMD(NGX_HTTP_PUT, "/execution_failed/{id}/apply_execution_failed",
        CF_CMD_APPLY_EXECUTION_FAILED, "apply_execution_failed"),
    CMD(NGX_HTTP_PUT, "/execution_failed/{id}/apply_retry_spec",
        CF_CMD_APPLY_RETRY_SPEC, "apply_retry_spec"),
    CMD(NGX_HTTP_PUT, "/execution_failed/{id}/change_function",
        CF_CMD_CHANGE_FUNCTION, "change_function"),
    CMD(NGX_HTTP_PUT, "/execution_failed/{id}/mark_recoverable",
        CF_CMD_MARK_RECOVERABLE, "mark_recoverable"),
    CMD(NGX_HTTP_DELETE, "/execution_failed/{id}",
        CF_CMD_DELETE_AGGREGATE, "Delete aggregate"),
    CMD(NGX_HTTP_PUT, "/execution_failed/{id}/recover",
        CF_CMD_RECOVER_AGGREGATE, "Recover deleted aggregate"),
    CMD(NGX_HTTP_PUT, "/execution_failed/{id}/tags",
        CF_CMD_APPLY_RESOURCE_TAGS, "Apply ABAC Resource Tags"),

    { NGX_HTTP_GET, "/execution_failed/{id}/state",
      ngx_http_compensation_state_handler, -1, "Load State Aggregate",
      0, 0, READ_ONLY },
    { NGX_HTTP_GET, "/execution_failed/{id}/state/{version}",
      ngx_http_compensation_versioned_state_handler, -1,
      "Load Versioned State Aggregate", 0, 0, READ_ONLY },
    { NGX_HTTP_GET, "/execution_failed/{id}/state/time/{createTime}",
      ngx_http_compensation_time_state_handler, -1,
      "Load Time Based State Aggregate", 0, 0, READ_ONLY },
    { NGX_HTTP_GET, "/execution_failed/{id}/state/tracing",
      ngx_http_compensation_tracing_handler, -1,
      "Get Aggregate Tracing", 0, 0, READ_ONLY },
    { NGX_HTTP_GET, "/execution_failed/{id}/snapshot",
      ngx_http_compensation_snapshot_get_handler, -1, "Get Snapshot",
      0, 0, READ_ONLY },
    { NGX_HTTP_PUT, "/execution_failed/{id}/snapshot",
      ngx_http_compensation_snapshot_put_handler, -1,
      "Regenerate Aggregate Snapshot", 0, 0, MUTATING },
    { NGX_HTTP_PUT, "/execution_failed/snapshot/{afterId}/{limit}",
      ngx_http_compensation_snapshot_batch_handler, -1,
      "Batch Regenerate Aggregate Snapshot", 0, 0, MUTATING },
    { NGX_HTTP_GET,
      "/execution_failed/{id}/event/{headVersion}/{tailVersion}",
      ngx_http_compensation_event_load_handler, -1,
      "Load Event Stream", 1, 0, READ_ONLY },
    { NGX_HTTP_PUT, "/execution_failed/{id}/{version}/compensate",
      ngx_http_compensation_compensate_handler, -1,
      "Event Compensate", 0, 0, MUTATING },
    { NGX_HTTP_POST, "/execution_failed/state/{afterId}/{limit}",
      ngx_http_compensation_resend_handler, -1,
      "Resend State Event", 0, 0, MUTATING },

    /* the query routes (spec 3.7, 3.8, 4) */
    { NGX_HTTP_POST, "/execution_failed/snapshot/count",
      ngx_http_compensation_snapshot_count_handler, -1,
      "Count Snapshot", 0, 0, READ_ONLY },
    { NGX_HTTP_POST, "/execution_failed/snapshot/list",
      ngx_http_compensation_snapshot_list_handler, -1,
      "List Query Snapshot", 1, 0, READ_ONLY },
    { NGX_HTTP_POST, "/execution_failed/snapshot/list/state",
      ngx_http_compensation_snapshot_list_state_handler, -1,
      "List Query Snapshot State", 1, 0, READ_ONLY },
    { NGX_HTTP_POST, "/execution_failed/snapshot/paged",
      ngx_http_compensation_snapshot_paged_handler, -1,
      "Paged Query Snapshot", 0, 0, READ_ONLY },
    { NGX_HTTP_POST, "/execution_failed/snapshot/paged/state",
      ngx_http_compensation_snapshot_paged_state_handler, -1,
      "Paged Query Snapshot State", 0, 0, READ_ONLY },
    { NGX_HTTP_POST, "/execution_failed/snapshot/single",
      ngx_http_compensation_snapshot_single_handler, -1,
      "Single Snapshot", 0, 0, READ_ONLY },
    { NGX_HTTP_POST, "/execution_failed/snapshot/single/state",
      ngx_http_compensation_snapshot_single_state_handler, -1,
      "Single Snapshot State", 0, 0, READ_ONLY },
    { NGX_HTTP_POST, "/execution_failed/event/count",
      ngx_http_compensation_event_count_handler, -1,
      "Count Event Stream", 0, 0, READ_ONLY },
    { NGX_HTTP_POST, "/execution_failed/event/list",
      ngx_http_compensation_event_list_handler, -1,
      "List Query Event Stream", 1, 0, READ_ONLY },
    { NGX_HTTP_POST, "/execution_failed/event/paged",
      ngx_http_compensation_event_paged_handler, -1,
      "Paged Query Event Stream", 0, 0, READ_ONLY },

    /* the global routes (spec 6, 11); the facade runs commands */

    { NGX_HTTP_POST, "/wow/command/send", ngx_http_compensation_send_handler,
      -1, "Unified Sending Endpoint For Command Messages", 1, 0, MUTATING },
    { NGX_HTTP_POST, "/wow/command/wait", ngx_http_compensation_wait_handler,
      -1, "The receiving endpoint of the wait signal", 0, 1, MUTATING },
    GLOBAL(NGX_HTTP_GET, "/wow/metadata",
           ngx_http_compensation_metadata_handler, "Get Wow Metadata"),
    GLOBAL(NGX_HTTP_GET, "/wow/id/global",
           ngx_http_compensation_global_id_handler, "Generate Global ID"),
    GLOBAL(NGX_HTTP_GET, "/wow/bi/script", ngx_http_compensation_bi_handler,
           "Generate BI Sync Script"),
    GLOBAL(NGX_HTTP_POST, "/wow/bi/script", ngx_http_compensation_bi_handler,
           "Generate BI Sync Script"),

    GLOBAL(NGX_HTTP_GET, "/actuator", ngx_http_compensation_actuator_handler,
           "Actuator root web endpoint"),
    GLOBAL(NGX_HTTP_GET, "/actuator/health",
           ngx_http_compensation_health_handler,
           "Actuator web endpoint 'health'"),
    GLOBAL(NGX_HTTP_GET, "/actuator/health/{*path}",
           ngx_http_compensation_health_handler,
           "Actuator web endpoint 'health-path'"),
    GLOBAL(NGX_HTTP_GET, "/actuator/cosid",
           ngx_http_compensation_cosid_handler,
           "Actuator web endpoint 'cosid'"),
    GLOBAL(NGX_HTTP_GET, "/actuator/cosid/{name}",
           ngx_http_compensation_cosid_handler,
           "Actuator web endpoint 'cosid-name'"),
    { NGX_HTTP_DELETE, "/actuator/cosid/{name}",
      ngx_http_compensation_cosid_handler, -1,
      "Actuator web endpoint 'cosid-name'", 0, 1, MUTATING },
    GLOBAL(NGX_HTTP_GET, "/actuator/cosidGenerator",
           ngx_http_compensation_cosid_generate_handler,
           "Actuator web endpoint 'cosidGenerator'"),
    GLOBAL(NGX_HTTP_GET, "/actuator/cosidGenerator/{name}",
           ngx_http_compensation_cosid_generate_handler,
           "Actuator web endpoint 'cosidGenerator-name'"),
    GLOBAL(NGX_HTTP_GET, "/actuator/cosidStringGenerator",
           ngx_http_compensation_cosid_generate_handler,
           "Actuator web endpoint 'cosidStringGenerator'"),
    GLOBAL(NGX_HTTP_GET, "/actuator/cosidStringGenerator/{name}",
           ngx_http_compensation_cosid_generate_handler,
           "Actuator web endpoint 'cosidStringGenerator-name'"),

    GLOBAL(NGX_HTTP_GET, "/actuator/prometheus",
           ngx_http_compensation_prometheus_handler,
           "Actuator web endpoint 'prometheus'"),

    GLOBAL(NGX_HTTP_GET, "/v3/api-docs", ngx_http_compensation_openapi_handler,
           "OpenAPI document of every route"),

    /* dispatch (ngx_http_compensation_scheduler.c) */
    { NGX_HTTP_PUT, "/execution_failed/{id}/actions",
      ngx_http_compensation_actions_handler, -1,
      "Retry action: dispatch one execution now", 0, 0, MUTATING },
    { NGX_HTTP_GET, "/execution_failed/{id}/operations",
      ngx_http_compensation_operations_handler, -1,
      "Dispatch operations of one execution", 0, 0, READ_ONLY },
    { NGX_HTTP_POST, "/Faults/$/Cancel",
      ngx_http_compensation_cancel_handler, -1,
      "Cancel a dispatch operation", 0, 0, MUTATING },

    { 0, NULL, NULL, -1, NULL, 0, 0, 0 }
};


const ngx_http_compensation_route_t *
ngx_http_compensation_route_table(void)
{
    return ngx_http_compensation_routes;
}


static ngx_int_t ngx_http_compensation_method_not_allowed(
    ngx_http_request_t *r, ngx_uint_t methods);


#define NGX_HTTP_COMPENSATION_NROUTES                                        \
    (sizeof(ngx_http_compensation_routes)                                    \
     / sizeof(ngx_http_compensation_routes[0]))

#if (NGX_HTTP_COMPENSATION_MAX_VARS != CF_ROUTE_MAX_VARS)
#error the router and cf_route.h disagree on the number of path variables
#endif


/*
 * The matcher's view of the table (cf_route.h), built by each process at
 * its start (init_process), never by a request
 */
static cf_route_entry_t
    ngx_http_compensation_route_entries[NGX_HTTP_COMPENSATION_NROUTES];


void
ngx_http_compensation_router_init(ngx_log_t *log)
{
    ngx_uint_t                            i;
    const ngx_http_compensation_route_t  *route;

    for (i = 0; i < NGX_HTTP_COMPENSATION_NROUTES; i++) {
        route = &ngx_http_compensation_routes[i];

        ngx_http_compensation_route_entries[i].method =
                                                   (unsigned) route->method;
        ngx_http_compensation_route_entries[i].pattern = route->pattern;
        ngx_http_compensation_route_entries[i].command = (int) route->command;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "compensation: route table of %ui routes built",
                   (ngx_uint_t) NGX_HTTP_COMPENSATION_NROUTES);
}


/* the request's ctx, created on first use (the access phase or the handler) */
ngx_http_compensation_ctx_t *
ngx_http_compensation_get_ctx(ngx_http_request_t *r)
{
    ngx_http_compensation_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_compensation_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_compensation_module);
    }

    return ctx;
}


/*
 * The path the routes are matched against.  The API sits below the location
 * prefix: strip it, keep its '/'.  A location named after the routes
 * ("location /execution_failed/", beside a dashboard at "/") serves them at
 * their own paths.
 */
static void
ngx_http_compensation_route_path(ngx_http_request_t *r, ngx_str_t *path)
{
    size_t                     prefix;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    prefix = 0;

#if (NGX_PCRE)
    if (clcf->regex == NULL)
#endif
    {
        if (!cf_route_names_routes(ngx_http_compensation_route_entries,
                                   NGX_HTTP_COMPENSATION_NROUTES,
                                   (char *) clcf->name.data, clcf->name.len))
        {
            prefix = cf_route_prefix((char *) r->uri.data, r->uri.len,
                                     (char *) clcf->name.data,
                                     clcf->name.len);
        }
    }

    path->data = r->uri.data + prefix;
    path->len = r->uri.len - prefix;
}


/*
 * Finds the route of r without answering: CF_ROUTE_FOUND (ctx filled in),
 * CF_ROUTE_NOT_ALLOWED (*methods: those the path takes) or not found.
 */
ngx_int_t
ngx_http_compensation_route_match(ngx_http_request_t *r,
    ngx_http_compensation_ctx_t *ctx, ngx_uint_t *methods)
{
    unsigned                              accept;
    ngx_str_t                             path;
    ngx_int_t                             i, found;
    cf_route_match_t                      m;
    const ngx_http_compensation_route_t  *best;

    ngx_http_compensation_route_path(r, &path);

    accept = (unsigned) r->method;

    if (r->method == NGX_HTTP_HEAD) {
        accept |= NGX_HTTP_GET;
    }

    found = cf_route_find(ngx_http_compensation_route_entries,
                       NGX_HTTP_COMPENSATION_NROUTES, accept,
                       (char *) path.data, path.len, &m);

    if (found == CF_ROUTE_FOUND) {
        best = &ngx_http_compensation_routes[m.index];

        ctx->route = best;
        ctx->command = best->command;
        ctx->nvars = m.nvars;

        for (i = 0; i < m.nvars; i++) {
            ctx->vars[i].data = path.data + m.vars[i].off;
            ctx->vars[i].len = m.vars[i].len;
        }

        if (best->command >= 0 && ctx->nvars) {
            ctx->aggregate_id = ctx->vars[0];
        }

    } else if (found == CF_ROUTE_NOT_ALLOWED && methods != NULL) {
        *methods = m.methods;
    }

    return found;
}


/* finds the route of r; answers 404 or 405 itself when there is none */
ngx_int_t
ngx_http_compensation_route(ngx_http_request_t *r,
    ngx_http_compensation_ctx_t *ctx)
{
    ngx_int_t   rc, found;
    ngx_str_t   path;
    ngx_uint_t  methods;

    methods = 0;

    found = ngx_http_compensation_route_match(r, ctx, &methods);

    if (found == CF_ROUTE_FOUND) {
        return NGX_OK;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (found == CF_ROUTE_NOT_ALLOWED) {
        return ngx_http_compensation_method_not_allowed(r, methods);
    }

    /* the path the routes were matched against, not the URI: below a
     * prefix the URI names a route that exists */
    ngx_http_compensation_route_path(r, &path);

    return ngx_http_compensation_send_error_code(r, NGX_HTTP_NOT_FOUND,
               CF_E_NOT_FOUND, "No route for %V %V.", &r->method_name,
               &path);
}


static ngx_int_t
ngx_http_compensation_method_not_allowed(ngx_http_request_t *r,
    ngx_uint_t methods)
{
    u_char           *p;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    static struct {
        ngx_uint_t   method;
        const char  *name;
    } names[] = {
        { NGX_HTTP_GET, "GET" },
        { NGX_HTTP_HEAD, "HEAD" },
        { NGX_HTTP_POST, "POST" },
        { NGX_HTTP_PUT, "PUT" },
        { NGX_HTTP_DELETE, "DELETE" }
    };

    if (methods & NGX_HTTP_GET) {
        methods |= NGX_HTTP_HEAD;
    }

    p = ngx_pnalloc(r->pool, sizeof("GET, HEAD, POST, PUT, DELETE") - 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    h->value.data = p;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(methods & names[i].method)) {
            continue;
        }

        if (p != h->value.data) {
            *p++ = ',';
            *p++ = ' ';
        }

        p = ngx_cpymem(p, names[i].name, ngx_strlen(names[i].name));
    }

    h->value.len = p - h->value.data;

    return ngx_http_compensation_send_error_code(r,
               NGX_HTTP_NOT_ALLOWED, "MethodNotAllowed",
               "Method %V is not allowed here; allowed: %V.",
               &r->method_name, &h->value);
}
