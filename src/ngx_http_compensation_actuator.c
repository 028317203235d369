
/*
 * ngx_compensation: Spring Boot's actuator endpoints (spec 11): the root
 * with its links and the health endpoints.  CosId's endpoints are in
 * ngx_http_compensation_id.c.
 *
 * Health has two components: "db", the store (DOWN while this worker has
 * no connection, the file was deleted or replaced, writes fail for a cause
 * that outlasts them, or a query fails; the cause in "details"), and
 * "ping", this worker answering at all.  DOWN is 503.
 *
 * A database server's store (PostgreSQL) is pinged in a job of the store
 * executor, on its connection (a ping is a network round trip, never on the
 * event loop); the answer follows the job.  The ping reconnects a lost
 * connection, so health is UP again once the server is back.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_actuator.h"
#include "ngx_http_compensation_executor.h"
#include "ngx_http_compensation_request.h"
#include "ngx_http_compensation_response.h"


static const struct {
    const char  *rel;
    const char  *path;
    unsigned     templated:1;
} ngx_http_compensation_links[] = {
    { "self", "", 0 },
    { "health", "/health", 0 },
    { "health-path", "/health/{*path}", 1 },
    { "prometheus", "/prometheus", 0 },
    { "cosid", "/cosid", 0 },
    { "cosid-name", "/cosid/{name}", 1 },
    { "cosidGenerator", "/cosidGenerator", 0 },
    { "cosidGenerator-name", "/cosidGenerator/{name}", 1 },
    { "cosidStringGenerator", "/cosidStringGenerator", 0 },
    { "cosidStringGenerator-name", "/cosidStringGenerator/{name}", 1 },
    { NULL, NULL, 0 }
};


/* a server store's ping, as a job */
typedef struct {
    ngx_http_compensation_rjob_t  rj;
    int                           rc;
    int                           code;
    char                          msg[256];
} ngx_http_compensation_ping_t;


static const char *ngx_http_compensation_db_status(ngx_http_request_t *r,
    const char **cause);
static ngx_int_t ngx_http_compensation_health_send(ngx_http_request_t *r);
static void ngx_http_compensation_ping_work(ngx_http_compensation_rjob_t *rj,
    cf_store_t *st);
static ngx_int_t ngx_http_compensation_ping_reply(
    ngx_http_compensation_rjob_t *rj);
static json_t *ngx_http_compensation_db_component(const char *db,
    const char *cause);


/*
 * GET /actuator: a link to every actuator endpoint, absolute, made of the
 * request's scheme and Host and the location's prefix.
 */
ngx_int_t
ngx_http_compensation_actuator_handler(ngx_http_request_t *r)
{
    u_char      *p;
    size_t       len;
    json_t      *links, *link, *doc;
    ngx_int_t    rc;
    ngx_str_t    scheme, host, base;
    ngx_uint_t   i;

    if (ngx_http_compensation_no_body(r, 0, NULL, &rc) != NGX_OK) {
        return rc;
    }

    ngx_str_set(&scheme, "http");

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        ngx_str_set(&scheme, "https");
    }
#endif

    if (r->headers_in.host && r->headers_in.host->value.len) {
        /* nginx has validated it (ngx_http_validate_host) */
        host = r->headers_in.host->value;

    } else {
        /* HTTP/1.0 without Host: the server's own address */
        host.data = ngx_pnalloc(r->pool, NGX_SOCKADDR_STRLEN);
        if (host.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_connection_local_sockaddr(r->connection, NULL, 0) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        host.len = ngx_sock_ntop(r->connection->local_sockaddr,
                                 r->connection->local_socklen, host.data,
                                 NGX_SOCKADDR_STRLEN, 1);
    }

    /* the route matched "/actuator" exactly at the end of the URI */
    base.len = r->uri.len - (sizeof("/actuator") - 1);
    base.data = r->uri.data;

    links = json_object();
    if (links == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; ngx_http_compensation_links[i].rel; i++) {
        len = scheme.len + sizeof("://") - 1 + host.len + base.len
              + sizeof("/actuator") - 1
              + ngx_strlen(ngx_http_compensation_links[i].path);

        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            json_decref(links);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        (void) ngx_sprintf(p, "%V://%V%V/actuator%s", &scheme, &host, &base,
                           ngx_http_compensation_links[i].path);

        link = json_pack("{s:s%, s:b}", "href", (char *) p, len,
                         "templated",
                         (int) ngx_http_compensation_links[i].templated);

        if (link == NULL) {
            /* not UTF-8: the Host or the URI is not a usable base */
            json_decref(links);

            return ngx_http_compensation_send_error_code(r,
                       NGX_HTTP_BAD_REQUEST, CF_E_ILLEGAL_ARGUMENT,
                       "The Host header or the path is not valid UTF-8.");
        }

        if (json_object_set_new(links, ngx_http_compensation_links[i].rel,
                                link) != 0)
        {
            json_decref(links);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    doc = json_pack("{s:o}", "_links", links);
    if (doc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_compensation_send_json(r, NGX_HTTP_OK, CF_OK, doc);
    json_decref(doc);

    return rc;
}


/* "UP", or "DOWN" with *cause set (the store's health, module.c) */
static const char *
ngx_http_compensation_db_status(ngx_http_request_t *r, const char **cause)
{
    ngx_http_compensation_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    *cause = ngx_http_compensation_store_down(mcf, r->connection->log);

    if (*cause == NULL) {
        return "UP";
    }

    if (!ngx_http_compensation_store_ready(mcf)) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "compensation: health: this worker has no store"
                      " connection: %s", *cause);

    } else {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "compensation: health: the store is DOWN: %s", *cause);
    }

    return "DOWN";
}


/* {"status":db} or, when DOWN, {"status":"DOWN","details":{"error":cause}} */
static json_t *
ngx_http_compensation_db_component(const char *db, const char *cause)
{
    if (cause == NULL) {
        return json_pack("{s:s}", "status", db);
    }

    return json_pack("{s:s, s:{s:s}}", "status", db, "details", "error",
                     cause);
}


/*
 * GET /actuator/health: {"status", "components": {"db", "ping"}};
 * GET /actuator/health/{*path}: one component ("db" or "ping").
 * 503 when DOWN.
 */
ngx_int_t
ngx_http_compensation_health_handler(ngx_http_request_t *r)
{
    ngx_int_t                           rc;
    ngx_http_compensation_ctx_t        *ctx;
    ngx_http_compensation_ping_t       *pj;
    ngx_http_compensation_main_conf_t  *mcf;

    if (ngx_http_compensation_no_body(r, 0, NULL, &rc) != NGX_OK) {
        return rc;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    if (mcf->store_server && mcf->attached
        && !(ctx->nvars == 1 && ctx->vars[0].len == 4
             && ngx_strncmp(ctx->vars[0].data, "ping", 4) == 0))
    {
        pj = ngx_http_compensation_rjob_alloc(r,
                 sizeof(ngx_http_compensation_ping_t));
        if (pj == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        pj->rj.work = ngx_http_compensation_ping_work;
        pj->rj.reply = ngx_http_compensation_ping_reply;

        return ngx_http_compensation_rjob_post(r, &pj->rj);
    }

    return ngx_http_compensation_health_send(r);
}


/* in the store thread: st is the executor's connection */
static void
ngx_http_compensation_ping_work(ngx_http_compensation_rjob_t *rj,
    cf_store_t *st)
{
    ngx_http_compensation_ping_t  *pj = (ngx_http_compensation_ping_t *) rj;

    if (st == NULL) {
        pj->rc = -1;
        pj->code = CF_STORE_FAULT;
        ngx_cpystrn((u_char *) pj->msg,
                    (u_char *) "this worker has no store connection",
                    sizeof(pj->msg));
        return;
    }

    pj->rc = cf_store_ping(st);

    if (pj->rc != 0) {
        pj->code = cf_store_errcode(st);
        ngx_cpystrn((u_char *) pj->msg, (u_char *) cf_store_errmsg(st),
                    sizeof(pj->msg));
    }
}


static ngx_int_t
ngx_http_compensation_ping_reply(ngx_http_compensation_rjob_t *rj)
{
    ngx_http_request_t                 *r = rj->r;
    ngx_http_compensation_ping_t       *pj;
    ngx_http_compensation_main_conf_t  *mcf;

    pj = (ngx_http_compensation_ping_t *) rj;
    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    ngx_http_compensation_store_pinged(mcf, r->connection->log, pj->rc,
                                       pj->code, pj->msg);

    return ngx_http_compensation_health_send(r);
}


static ngx_int_t
ngx_http_compensation_health_send(ngx_http_request_t *r)
{
    json_t                       *doc;
    ngx_int_t                     rc;
    ngx_uint_t                    up;
    const char                   *db, *cause;
    ngx_http_compensation_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);

    if (ctx->nvars == 0) {
        db = ngx_http_compensation_db_status(r, &cause);
        up = (db[0] == 'U');

        doc = json_pack("{s:s, s:{s:o, s:{s:s}}}",
                        "status", db,
                        "components",
                            "db", ngx_http_compensation_db_component(db,
                                                                     cause),
                            "ping", "status", "UP");

    } else if (ctx->vars[0].len == 2
               && ngx_strncmp(ctx->vars[0].data, "db", 2) == 0)
    {
        db = ngx_http_compensation_db_status(r, &cause);
        up = (db[0] == 'U');
        doc = ngx_http_compensation_db_component(db, cause);

    } else if (ctx->vars[0].len == 4
               && ngx_strncmp(ctx->vars[0].data, "ping", 4) == 0)
    {
        up = 1;
        doc = json_pack("{s:s}", "status", "UP");

    } else {
        return ngx_http_compensation_send_error_code(r, NGX_HTTP_NOT_FOUND,
                   CF_E_NOT_FOUND, "No health component \"%V\".",
                   &ctx->vars[0]);
    }

    if (doc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_compensation_send_json(r,
             up ? NGX_HTTP_OK : NGX_HTTP_SERVICE_UNAVAILABLE,
             up ? CF_OK : "ServiceUnavailable", doc);
    json_decref(doc);

    return rc;
}

