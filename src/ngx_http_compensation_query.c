
/*
 * ngx_compensation: the snapshot and event-stream query routes (spec 3.7,
 * 3.8, 4): count, list, paged and single, with their /state variants.
 * The body is compiled by cf_query (validation, limits, field whitelist,
 * bound parameters) on the event loop, and run as a read job (read.h).
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_query.h"
#include "ngx_http_compensation_read.h"
#include "ngx_http_compensation_request.h"
#include "ngx_http_compensation_response.h"
#include "cf_query.h"
#include "cf_store.h"


/* the query's store work: a read job (ngx_http_compensation_read.h) */
typedef struct {
    ngx_http_compensation_read_t   rd;
    cf_query_t                     q;
    cf_query_store_t               store;
    cf_query_kind_t                kind;
    ngx_uint_t                     state_only;
    ngx_uint_t                     sse;
    ngx_http_compensation_body_t  *body;
} ngx_http_compensation_query_job_t;


typedef struct {
    cf_query_store_t   store;
    cf_query_kind_t    kind;
    ngx_uint_t         state_only;
} ngx_http_compensation_query_route_t;


static ngx_int_t ngx_http_compensation_query_start(ngx_http_request_t *r,
    ngx_uint_t sse_allowed);
static ngx_int_t ngx_http_compensation_query_run(ngx_http_request_t *r);
static void ngx_http_compensation_query_work(ngx_http_compensation_read_t *rd,
    cf_store_t *st);
static void ngx_http_compensation_query_free(
    ngx_http_compensation_read_t *rd);
static int ngx_http_compensation_query_first(void *data, json_t *doc);
static int ngx_http_compensation_query_doc(void *data, json_t *doc);


/* the route of the request, by its handler */
static const ngx_http_compensation_query_route_t *
ngx_http_compensation_query_route(ngx_http_request_t *r)
{
    ngx_http_compensation_ctx_t  *ctx;

    static const ngx_http_compensation_query_route_t  routes[] = {
        { CF_QUERY_SNAPSHOT, CF_QUERY_COUNT, 0 },
        { CF_QUERY_SNAPSHOT, CF_QUERY_LIST, 0 },
        { CF_QUERY_SNAPSHOT, CF_QUERY_LIST, 1 },
        { CF_QUERY_SNAPSHOT, CF_QUERY_PAGED, 0 },
        { CF_QUERY_SNAPSHOT, CF_QUERY_PAGED, 1 },
        { CF_QUERY_SNAPSHOT, CF_QUERY_SINGLE, 0 },
        { CF_QUERY_SNAPSHOT, CF_QUERY_SINGLE, 1 },
        { CF_QUERY_EVENT, CF_QUERY_COUNT, 0 },
        { CF_QUERY_EVENT, CF_QUERY_LIST, 0 },
        { CF_QUERY_EVENT, CF_QUERY_PAGED, 0 }
    };

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);

    return &routes[ctx->query_route];
}


#define NGX_HTTP_COMPENSATION_QUERY_HANDLER(name, n, sse)                     \
ngx_int_t                                                                     \
name(ngx_http_request_t *r)                                                   \
{                                                                             \
    ngx_http_compensation_ctx_t  *ctx;                                        \
                                                                              \
    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);           \
    ctx->query_route = n;                                                     \
                                                                              \
    return ngx_http_compensation_query_start(r, sse);                         \
}

NGX_HTTP_COMPENSATION_QUERY_HANDLER(
    ngx_http_compensation_snapshot_count_handler, 0, 0)
NGX_HTTP_COMPENSATION_QUERY_HANDLER(
    ngx_http_compensation_snapshot_list_handler, 1, 1)
NGX_HTTP_COMPENSATION_QUERY_HANDLER(
    ngx_http_compensation_snapshot_list_state_handler, 2, 1)
NGX_HTTP_COMPENSATION_QUERY_HANDLER(
    ngx_http_compensation_snapshot_paged_handler, 3, 0)
NGX_HTTP_COMPENSATION_QUERY_HANDLER(
    ngx_http_compensation_snapshot_paged_state_handler, 4, 0)
NGX_HTTP_COMPENSATION_QUERY_HANDLER(
    ngx_http_compensation_snapshot_single_handler, 5, 0)
NGX_HTTP_COMPENSATION_QUERY_HANDLER(
    ngx_http_compensation_snapshot_single_state_handler, 6, 0)
NGX_HTTP_COMPENSATION_QUERY_HANDLER(
    ngx_http_compensation_event_count_handler, 7, 0)
NGX_HTTP_COMPENSATION_QUERY_HANDLER(
    ngx_http_compensation_event_list_handler, 8, 1)
NGX_HTTP_COMPENSATION_QUERY_HANDLER(
    ngx_http_compensation_event_paged_handler, 9, 0)


static ngx_int_t
ngx_http_compensation_query_start(ngx_http_request_t *r,
    ngx_uint_t sse_allowed)
{
    ngx_int_t                     rc;
    ngx_uint_t                    sse;
    ngx_http_compensation_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);

    if (ngx_http_compensation_accepts(r, sse_allowed, &sse) != NGX_OK) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_compensation_not_acceptable(r, sse_allowed);
    }

    ctx->sse = sse;

    return ngx_http_compensation_request_body(r,
                                              ngx_http_compensation_query_run);
}


static ngx_int_t
ngx_http_compensation_query_run(ngx_http_request_t *r)
{
    char                                      *owner;
    json_t                                    *body;
    ngx_int_t                                  rc;
    ngx_str_t                                 *v;
    cf_error_t                                 err;
    cf_query_t                                 q;
    ngx_http_compensation_ctx_t               *ctx;
    ngx_http_compensation_main_conf_t         *mcf;
    ngx_http_compensation_query_job_t         *qj;
    const ngx_http_compensation_query_route_t *qr;

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);
    qr = ngx_http_compensation_query_route(r);

    if (ngx_http_compensation_read_json(r, &body, &rc) != NGX_OK) {
        return rc;
    }

    if (body == NULL) {
        return ngx_http_compensation_send_error_code(r, NGX_HTTP_BAD_REQUEST,
                   CF_E_ILLEGAL_ARGUMENT, "A query body is required.");
    }

    /* spec 4.6: the request's owner; the tenant is static */
    owner = NULL;
    v = ngx_http_compensation_header(r, "Command-Owner-Id",
                                     sizeof("Command-Owner-Id") - 1);

    if (v && v->len) {
        owner = ngx_http_compensation_strdup(r->pool, v);
        if (owner == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    cf_error_init(&err);

    /* CPU only, on the event loop: the compiled query owns what it uses */
    if (cf_query_compile(&q, qr->store, qr->kind, body, &mcf->query_limits,
                         owner, ngx_http_compensation_now_ms(), &err)
        != 0)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "compensation: query refused: %s", err.msg);
        rc = ngx_http_compensation_send_error(r, &err);
        cf_error_free(&err);
        return rc;
    }

    qj = ngx_http_compensation_read_alloc(r,
             sizeof(ngx_http_compensation_query_job_t));
    if (qj == NULL) {
        cf_query_free(&q);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    qj->q = q;
    qj->store = qr->store;
    qj->kind = qr->kind;
    qj->state_only = qr->state_only;
    qj->sse = ctx->sse;
    qj->rd.work = ngx_http_compensation_query_work;
    qj->rd.free = ngx_http_compensation_query_free;

    return ngx_http_compensation_read_post_body(r, &qj->rd);
}


static void
ngx_http_compensation_query_work(ngx_http_compensation_read_t *rd,
    cf_store_t *st)
{
    char                                errbuf[512];
    u_char                             *p, head[64];
    json_t                             *out;
    int64_t                             total;
    cf_query_t                         *q;
    ngx_http_compensation_query_job_t  *qj;

    qj = (ngx_http_compensation_query_job_t *) rd;
    q = &qj->q;

    if (qj->kind == CF_QUERY_COUNT) {
        if (cf_query_count(st, q, &total, errbuf, sizeof(errbuf)) != 0) {
            goto failed;
        }

        ngx_http_compensation_answer_json(rd, NGX_HTTP_OK, CF_OK,
                                        json_integer(total));
        return;
    }

    if (qj->kind == CF_QUERY_SINGLE) {
        out = NULL;

        if (cf_query_each(st, q, (int) qj->state_only,
                          ngx_http_compensation_query_first, &out, errbuf,
                          sizeof(errbuf))
            < 0)
        {
            goto failed;
        }

        if (out == NULL) {
            ngx_http_compensation_answer_error(rd, NGX_HTTP_NOT_FOUND,
                CF_E_NOT_FOUND, "No %s matches the query.",
                qj->store == CF_QUERY_SNAPSHOT ? "snapshot" : "event stream");
            return;
        }

        ngx_http_compensation_answer_json(rd, NGX_HTTP_OK, CF_OK, out);
        return;
    }

    /*
     * Lists: each document is written into the body as the statement
     * yields it, the bytes cf_json_write gives the whole list
     */

    qj->body = ngx_http_compensation_answer_body(rd, qj->sse);

    if (qj->kind == CF_QUERY_PAGED) {
        if (cf_query_count(st, q, &total, errbuf, sizeof(errbuf)) != 0) {
            goto failed;
        }

        p = ngx_sprintf(head, "{\"total\":%L,\"list\":[", total);

    } else {
        p = ngx_cpymem(head, "[", 1);
    }

    if (!qj->sse
        && ngx_http_compensation_body_add(qj->body, head, p - head)
           == NGX_ERROR)
    {
        ngx_http_compensation_answer_status(rd, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (!qj->body->too_large
        && cf_query_each(st, q, (int) qj->state_only,
                         ngx_http_compensation_query_doc, qj, errbuf,
                         sizeof(errbuf))
           < 0)
    {
        goto failed;
    }

    if (!qj->sse
        && ngx_http_compensation_body_add(qj->body, (u_char *) "]}",
                                          qj->kind == CF_QUERY_PAGED ? 2 : 1)
           == NGX_ERROR)
    {
        ngx_http_compensation_answer_status(rd, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }

    return;

failed:

    ngx_http_compensation_answer_log(rd, NGX_LOG_ERR,
                                   "compensation: query failed: %s", errbuf);
    ngx_http_compensation_answer_error(rd, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     CF_E_INTERNAL, "Unexpected server error");
}


static void
ngx_http_compensation_query_free(ngx_http_compensation_read_t *rd)
{
    cf_query_free(&((ngx_http_compensation_query_job_t *) rd)->q);
}


/* SINGLE: keeps the first document */
static int
ngx_http_compensation_query_first(void *data, json_t *doc)
{
    json_t  **out = data;

    *out = doc;

    return 1;
}


/*
 * LIST, PAGED: one document into the body, after a comma, or as one
 * "data:<document>" event of a stream (as a Flux is streamed).  Stops the
 * statement once the body is over its budget.
 */
static int
ngx_http_compensation_query_doc(void *data, json_t *doc)
{
    ngx_int_t                           rc;
    ngx_http_compensation_query_job_t  *qj = data;

    if (qj->sse) {
        rc = ngx_http_compensation_body_add_json(qj->body, "data:", doc,
                                                 "\n\n");

    } else {
        rc = ngx_http_compensation_body_add_json(qj->body,
                                                 qj->body->n ? "," : "", doc,
                                                 "");
    }

    json_decref(doc);

    if (rc == NGX_ERROR) {
        return -1;
    }

    /* over budget: body_send answers the error that names it */
    return rc == NGX_DECLINED ? 1 : 0;
}


/* compensation_query_*: the defaults of spec 4.7, checked */
ngx_int_t
ngx_http_compensation_query_conf(ngx_conf_t *cf,
    ngx_http_compensation_main_conf_t *mcf)
{
    cf_query_limits_t  *lim;

    lim = &mcf->query_limits;
    cf_query_limits_init(lim);

    ngx_conf_init_value(mcf->q_max_list_size, lim->max_list_size);
    ngx_conf_init_value(mcf->q_max_page_size, lim->max_page_size);
    ngx_conf_init_value(mcf->q_max_page_window, lim->max_page_window);
    ngx_conf_init_value(mcf->q_max_condition_nodes,
                        lim->max_condition_nodes);
    ngx_conf_init_value(mcf->q_max_condition_values,
                        lim->max_condition_values);
    ngx_conf_init_value(mcf->q_allow_expensive, 1);
    ngx_conf_init_value(mcf->q_allow_match_all, 1);

    if (mcf->q_max_list_size < 1 || mcf->q_max_page_size < 1
        || mcf->q_max_page_window < 1 || mcf->q_max_condition_values < 1
        || mcf->q_max_condition_nodes < 1
        || mcf->q_max_condition_nodes > 256)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "compensation_query_* limits must be at least 1,"
                           " and compensation_query_max_condition_nodes at"
                           " most 256");
        return NGX_ERROR;
    }

    lim->max_list_size = mcf->q_max_list_size;
    lim->max_page_size = mcf->q_max_page_size;
    lim->max_page_window = mcf->q_max_page_window;
    lim->max_condition_nodes = mcf->q_max_condition_nodes;
    lim->max_condition_values = mcf->q_max_condition_values;
    lim->allow_expensive = mcf->q_allow_expensive ? 1 : 0;
    lim->allow_match_all = mcf->q_allow_match_all ? 1 : 0;
    lim->default_list_limit = ngx_min(10, mcf->q_max_list_size);
    lim->default_zone = NULL;

    /* the store's SQL: a PostgreSQL DSN (NUL-terminated by the parser)
     * needs its dialect; NULL is SQLite's */
    lim->dialect = (mcf->store_path.data
                    && !cf_store_dsn_is_file((char *) mcf->store_path.data))
                   ? &cf_query_pg_dialect : NULL;

    if (mcf->q_zone.len) {
        /* ngx_conf_set_str_slot values are NUL-terminated */
        if (cf_query_zone_valid((char *) mcf->q_zone.data) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "compensation_query_zone \"%V\" is not a"
                               " known time zone", &mcf->q_zone);
            return NGX_ERROR;
        }

        lim->default_zone = (char *) mcf->q_zone.data;
    }

    return NGX_OK;
}
