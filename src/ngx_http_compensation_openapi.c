
/*
 * ngx_compensation: "GET /v3/api-docs", an OpenAPI 3.1 document of every
 * route.
 *
 * The operations, schemas, responses, parameters and request bodies are a
 * static asset, src/ngx_http_compensation_openapi.json, compiled in (the
 * module's config turns it into ngx_http_compensation_openapi_json.h in the
 * build directory, which is on the include path).  They are
 * shaped as a Wow server's, so that Wow's client generator resolves the
 * aggregate from them.  The paths are the router's own table
 * (ngx_http_compensation_route_table()): each route takes the asset's
 * operation for its method and path, or a generic one built here when the
 * asset has none, and a path of the asset that is not routed is left out,
 * so the document lists exactly what is served.  The document is built once
 * per configuration (init_main_conf); a request only adds the server URL.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_bi.h"
#include "ngx_http_compensation_command.h"
#include "ngx_http_compensation_id.h"
#include "ngx_http_compensation_metrics.h"
#include "ngx_http_compensation_openapi.h"
#include "ngx_http_compensation_request.h"
#include "ngx_http_compensation_response.h"
#include "ngx_http_compensation_router.h"
#include "ngx_http_compensation_wow.h"
#include "ngx_http_compensation_openapi_json.h"


/* stands for the server URL in the built text; split out there */
#define NGX_HTTP_COMPENSATION_OAS_SERVER  "@ngx_compensation_server_url@"


static json_t *ngx_http_compensation_oas_operation(
    const ngx_http_compensation_route_t *route);
static json_t *ngx_http_compensation_oas_path(const char *pattern);
static const char *ngx_http_compensation_oas_method(ngx_uint_t method);
static const char *ngx_http_compensation_oas_tag(const char *pattern);
static json_t *ngx_http_compensation_oas_content(const char **types,
    json_t *schema);


/* the command headers of spec 3.2, as header parameters */
static const char  *ngx_http_compensation_oas_headers[] = {
    "Command-Wait-Stage", "Command-Wait-Context", "Command-Wait-Processor",
    "Command-Wait-Function", "Command-Wait-Timeout", "Command-Wait-Timout",
    "Command-Aggregate-Id", "Command-Aggregate-Version",
    "Command-Request-Id", "Command-Local-First", "Command-Tenant-Id",
    "Command-Owner-Id", NULL
};


static const char *
ngx_http_compensation_oas_method(ngx_uint_t method)
{
    switch (method) {
    case NGX_HTTP_GET:
        return "get";
    case NGX_HTTP_POST:
        return "post";
    case NGX_HTTP_PUT:
        return "put";
    case NGX_HTTP_DELETE:
        return "delete";
    default:
        return NULL;
    }
}


static const char *
ngx_http_compensation_oas_tag(const char *pattern)
{
    if (ngx_strncmp(pattern, "/wow/", 5) == 0) {
        return "wow";
    }

    if (ngx_strncmp(pattern, "/actuator", 9) == 0) {
        return "Actuator";
    }

    if (ngx_strncmp(pattern, "/v3/", 4) == 0) {
        return "OpenAPI";
    }

    return CF_CONTEXT_ALIAS "." CF_AGGREGATE_NAME;
}


/* "{*path}" (a catch-all in Spring's syntax) is "{path}" in OpenAPI */
static json_t *
ngx_http_compensation_oas_path(const char *pattern)
{
    char    buf[256];
    size_t  n;

    for (n = 0; *pattern && n < sizeof(buf) - 1; pattern++) {
        if (*pattern == '*' && n && buf[n - 1] == '{') {
            continue;
        }

        buf[n++] = *pattern;
    }

    return json_stringn(buf, n);
}


/* {"<type>": {"schema": schema}, ...}; schema is stolen */
static json_t *
ngx_http_compensation_oas_content(const char **types, json_t *schema)
{
    json_t  *content, *mt;

    content = json_object();

    if (content == NULL || schema == NULL) {
        json_decref(content);
        json_decref(schema);
        return NULL;
    }

    for (/* void */; *types; types++) {
        mt = json_pack("{s:O}", "schema", schema);

        if (json_object_set_new(content, *types, mt) != 0) {
            json_decref(content);
            json_decref(schema);
            return NULL;
        }
    }

    json_decref(schema);

    return content;
}


/*
 * a generic operation, for a route the asset does not describe: its path
 * parameters, the command headers, and the module's own result shapes
 */
static json_t *
ngx_http_compensation_oas_operation(const ngx_http_compensation_route_t *route)
{
    u_char        id[256], *p, *last;
    json_t       *op, *params, *param, *ok, *body, *responses;
    const char   *s, *q, *method;
    ngx_uint_t    i, command_like, create;

    static const char  *json_types[] = { "application/json", NULL };
    static const char  *cmd_types[] = { "application/json",
                                        "text/event-stream", NULL };
    static const char  *text_types[] = { "text/plain", NULL };
    static const char  *sql_types[] = { "application/sql",
                                        "application/json", NULL };

    method = ngx_http_compensation_oas_method(route->method);
    command_like = (route->handler == ngx_http_compensation_command_handler
                    || route->handler == ngx_http_compensation_send_handler);
    create = route->command >= 0
             && cf_command_info((cf_command_type_t) route->command)
                ->is_create;

    /* operationId: the original's for commands, else method_path */

    last = id + sizeof(id) - 1;

    if (route->command >= 0) {
        p = ngx_slprintf(id, last, CF_CONTEXT_ALIAS "." CF_AGGREGATE_NAME
                         ".%s",
                         cf_command_info((cf_command_type_t) route->command)
                         ->name);

    } else {
        p = ngx_slprintf(id, last, "%s", method);

        for (s = route->pattern; *s && p < last; s++) {
            if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
                || (*s >= '0' && *s <= '9'))
            {
                *p++ = *s;

            } else if (*s == '/' || *s == '-' || *s == '{') {
                *p++ = '_';
            }
        }
    }

    *p = '\0';

    params = json_array();
    if (params == NULL) {
        return NULL;
    }

    for (s = route->pattern; (s = ngx_strchr(s, '{')) != NULL; s = q) {
        s++;

        if (*s == '*') {
            s++;
        }

        q = ngx_strchr(s, '}');
        if (q == NULL) {
            break;
        }

        param = json_pack("{s:s%, s:s, s:b, s:{s:s}}",
                          "name", s, (size_t) (q - s), "in", "path",
                          "required", 1, "schema", "type", "string");

        if (json_array_append_new(params, param) != 0) {
            json_decref(params);
            return NULL;
        }
    }

    if (command_like) {
        if (route->handler == ngx_http_compensation_send_handler) {
            param = json_pack("{s:s, s:s, s:b, s:{s:s}}",
                              "name", "Command-Type", "in", "header",
                              "required", 1, "schema", "type", "string");
            if (json_array_append_new(params, param) != 0) {
                json_decref(params);
                return NULL;
            }

            param = json_pack("{s:s, s:s, s:b, s:{s:s}}",
                              "name", "Command-Aggregate-Context",
                              "in", "header", "required", 0,
                              "schema", "type", "string");
            if (json_array_append_new(params, param) != 0) {
                json_decref(params);
                return NULL;
            }

            param = json_pack("{s:s, s:s, s:b, s:{s:s}}",
                              "name", "Command-Aggregate-Name",
                              "in", "header", "required", 0,
                              "schema", "type", "string");
            if (json_array_append_new(params, param) != 0) {
                json_decref(params);
                return NULL;
            }
        }

        for (i = 0; ngx_http_compensation_oas_headers[i]; i++) {
            param = json_pack("{s:s, s:s, s:b, s:{s:s}}",
                              "name", ngx_http_compensation_oas_headers[i],
                              "in", "header", "required", 0,
                              "schema", "type", "string");

            if (json_array_append_new(params, param) != 0) {
                json_decref(params);
                return NULL;
            }
        }
    }

    if (route->handler == ngx_http_compensation_bi_handler) {
        param = json_pack("{s:s, s:s, s:b, s:{s:s, s:[s, s]}}",
                          "name", "Wow-BI-Header-Sql-Type", "in", "header",
                          "required", 0, "schema", "type", "string",
                          "enum", "MAP", "STRING");
        if (json_array_append_new(params, param) != 0) {
            json_decref(params);
            return NULL;
        }
    }

    if (route->handler == ngx_http_compensation_global_id_handler) {
        param = json_pack("{s:s, s:s, s:b, s:s, s:{s:s, s:i, s:i}}",
                          "name", "count", "in", "query", "required", 0,
                          "description", "extension: ids per response,"
                          " one per line",
                          "schema", "type", "integer", "minimum", 1,
                          "maximum", 10000);
        if (json_array_append_new(params, param) != 0) {
            json_decref(params);
            return NULL;
        }
    }

    if (command_like) {
        ok = ngx_http_compensation_oas_content(cmd_types,
                 json_pack("{s:s}", "$ref",
                           "#/components/schemas/wow.command.CommandResult"));

    } else if (route->handler == ngx_http_compensation_global_id_handler
               || route->handler == ngx_http_compensation_prometheus_handler
               || (route->handler
                   == ngx_http_compensation_cosid_generate_handler
                   && ngx_strstr(route->pattern, "String")))
    {
        ok = ngx_http_compensation_oas_content(text_types,
                 json_pack("{s:s}", "type", "string"));

    } else if (route->handler == ngx_http_compensation_bi_handler) {
        ok = ngx_http_compensation_oas_content(sql_types,
                 json_pack("{s:s}", "type", "string"));

    } else if (route->handler == ngx_http_compensation_wait_handler) {
        ok = json_object();

    } else {
        ok = ngx_http_compensation_oas_content(json_types,
                 json_pack("{s:s}", "type", "object"));
    }

    responses = json_pack("{s:{s:s, s:o}, s:{s:s, s:{s:{s:{s:s}}}}}",
                          "200", "description", "OK", "content", ok,
                          "default", "description",
                          "An error: ErrorInfo, its code in Wow-Error-Code",
                          "content", "application/json", "schema", "$ref",
                          "#/components/schemas/wow.api.DefaultErrorInfo");

    op = json_pack("{s:[s], s:s, s:s, s:o, s:o}",
                   "tags", ngx_http_compensation_oas_tag(route->pattern),
                   "summary", route->summary,
                   "operationId", (char *) id,
                   "parameters", params,
                   "responses", responses);
    if (op == NULL) {
        return NULL;
    }

    if (command_like
        || route->handler == ngx_http_compensation_wait_handler
        || (route->handler == ngx_http_compensation_bi_handler
            && route->method == NGX_HTTP_POST))
    {
        body = json_pack("{s:b, s:{s:{s:{s:s}}}}",
                         "required",
                         create
                         || route->handler
                            == ngx_http_compensation_wait_handler,
                         "content", "application/json", "schema",
                         "type", "object");

        if (json_object_set_new(op, "requestBody", body) != 0) {
            json_decref(op);
            return NULL;
        }
    }

    return op;
}


ngx_int_t
ngx_http_compensation_openapi_init(ngx_conf_t *cf,
    ngx_http_compensation_main_conf_t *mcf)
{
    char                                 *text, *mark;
    json_t                               *doc, *apaths, *paths, *item, *op;
    json_t                               *path, *server;
    const char                           *method;
    json_error_t                          jerr;
    const ngx_http_compensation_route_t  *route;

    doc = json_loads(ngx_http_compensation_openapi_json, 0, &jerr);

    if (doc == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "compensation: the compiled-in OpenAPI document"
                           " is not JSON: %s (line %d)", jerr.text,
                           jerr.line);
        return NGX_ERROR;
    }

    apaths = json_object_get(doc, "paths");
    paths = json_object();
    text = NULL;

    if (paths == NULL) {
        goto failed;
    }

    for (route = ngx_http_compensation_route_table(); route->pattern;
         route++)
    {
        method = ngx_http_compensation_oas_method(route->method);
        path = ngx_http_compensation_oas_path(route->pattern);

        if (method == NULL || path == NULL) {
            json_decref(path);
            goto failed;
        }

        item = json_object_get(paths, json_string_value(path));

        if (item == NULL) {
            item = json_object();

            if (json_object_set_new(paths, json_string_value(path), item)
                != 0)
            {
                json_decref(path);
                goto failed;
            }
        }

        op = json_object_get(json_object_get(apaths,
                                             json_string_value(path)),
                             method);
        json_decref(path);

        if (op != NULL) {
            json_incref(op);

        } else {
            op = ngx_http_compensation_oas_operation(route);
        }

        if (op == NULL || json_object_set_new(item, method, op) != 0) {
            goto failed;
        }
    }

    server = json_pack("[{s:s, s:s}]", "url", NGX_HTTP_COMPENSATION_OAS_SERVER,
                       "description", "the location serving"
                       " compensation_api");

    if (json_object_set_new(doc, "paths", paths) != 0) {
        paths = NULL;
        json_decref(server);
        goto failed;
    }

    paths = NULL;

    if (server == NULL || json_object_set_new(doc, "servers", server) != 0) {
        goto failed;
    }

    text = json_dumps(doc, JSON_COMPACT);
    if (text == NULL) {
        goto failed;
    }

    mark = ngx_strstr(text, NGX_HTTP_COMPENSATION_OAS_SERVER);
    if (mark == NULL) {
        goto failed;
    }

    mcf->openapi_head.len = mark - text;
    mcf->openapi_head.data = ngx_pnalloc(cf->pool, mcf->openapi_head.len);

    mark += sizeof(NGX_HTTP_COMPENSATION_OAS_SERVER) - 1;

    mcf->openapi_tail.len = ngx_strlen(mark);
    mcf->openapi_tail.data = ngx_pnalloc(cf->pool, mcf->openapi_tail.len);

    if (mcf->openapi_head.data == NULL || mcf->openapi_tail.data == NULL) {
        goto failed;
    }

    ngx_memcpy(mcf->openapi_head.data, text, mcf->openapi_head.len);
    ngx_memcpy(mcf->openapi_tail.data, mark, mcf->openapi_tail.len);

    free(text);
    json_decref(doc);

    return NGX_OK;

failed:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "compensation: building the OpenAPI document failed");
    free(text);
    json_decref(paths);
    json_decref(doc);

    return NGX_ERROR;
}


ngx_int_t
ngx_http_compensation_openapi_handler(ngx_http_request_t *r)
{
    u_char                             *p;
    size_t                              len;
    ngx_int_t                           rc;
    ngx_str_t                           server;
    ngx_buf_t                          *b[3];
    ngx_uint_t                          i;
    ngx_chain_t                         out[3];
    ngx_http_compensation_main_conf_t  *mcf;

    if (ngx_http_compensation_no_body(r, 0, NULL, &rc) != NGX_OK) {
        return rc;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    /* the routes sit below the location's prefix */

    server.data = r->uri.data;
    server.len = r->uri.len > sizeof("/v3/api-docs") - 1
                 ? r->uri.len - (sizeof("/v3/api-docs") - 1) : 0;

    if (server.len == 0) {
        ngx_str_set(&server, "/");
    }

    len = server.len + ngx_escape_json(NULL, server.data, server.len);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_escape_json(p, server.data, server.len);

    for (i = 0; i < 3; i++) {
        b[i] = ngx_calloc_buf(r->pool);
        if (b[i] == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b[i]->memory = 1;
        out[i].buf = b[i];
        out[i].next = (i < 2) ? &out[i + 1] : NULL;
    }

    b[0]->pos = mcf->openapi_head.data;
    b[0]->last = b[0]->pos + mcf->openapi_head.len;
    b[1]->pos = p;
    b[1]->last = p + len;
    b[2]->pos = mcf->openapi_tail.data;
    b[2]->last = b[2]->pos + mcf->openapi_tail.len;
    b[2]->last_buf = (r == r->main) ? 1 : 0;
    b[2]->last_in_chain = 1;

    return ngx_http_compensation_send_chain(r, NGX_HTTP_OK, CF_OK, out,
               mcf->openapi_head.len + len + mcf->openapi_tail.len);
}
