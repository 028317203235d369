
/*
 * ngx_compensation: the request handlers' reads; see
 * ngx_http_compensation_read.h for where they run and what they own.
 */


#include "ngx_http_compensation_read.h"
#include "cf_pg_store.h"


static void ngx_http_compensation_read_run(ngx_http_compensation_rjob_t *rj,
    cf_store_t *st);
static ngx_int_t ngx_http_compensation_read_reply(
    ngx_http_compensation_rjob_t *rj);
static void ngx_http_compensation_read_free(ngx_http_compensation_rjob_t *rj);
static ngx_int_t ngx_http_compensation_read_answer(
    ngx_http_compensation_read_t *rd, ngx_http_request_t *r);
static void ngx_http_compensation_read_release(
    ngx_http_compensation_read_t *rd);
static void ngx_http_compensation_read_pool_destroy(void *data);


ngx_uint_t
ngx_http_compensation_read_threaded(ngx_http_request_t *r)
{
    ngx_http_compensation_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    return mcf->read_executor ? 1 : 0;
}


void *
ngx_http_compensation_read_alloc(ngx_http_request_t *r, size_t size)
{
    ngx_http_compensation_read_t       *rd;
    ngx_http_compensation_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    if (mcf->read_executor == NULL) {
        /* inline: the request outlives the read */
        rd = ngx_pcalloc(r->pool, size);
        if (rd == NULL) {
            return NULL;
        }

        rd->pool = r->pool;
        rd->read_max_size = mcf->read_max_size;

        return rd;
    }

    rd = ngx_http_compensation_rjob_alloc(r, size);
    if (rd == NULL) {
        return NULL;
    }

    /* a job never posted is the caller's to free: not this one, then */
    rd->pool = ngx_create_pool(1024, ngx_cycle->log);
    if (rd->pool == NULL) {
        ngx_free(rd);
        return NULL;
    }

    rd->threaded = 1;
    rd->read_max_size = mcf->read_max_size;
    rd->rj.ex = mcf->read_executor;
    rd->rj.work = ngx_http_compensation_read_run;
    rd->rj.reply = ngx_http_compensation_read_reply;
    rd->rj.free = ngx_http_compensation_read_free;

    return rd;
}


ngx_int_t
ngx_http_compensation_read_post(ngx_http_request_t *r,
    ngx_http_compensation_read_t *rd)
{
    ngx_int_t                           rc;
    ngx_http_compensation_main_conf_t  *mcf;

    if (rd->threaded) {
        return ngx_http_compensation_rjob_post(r, &rd->rj);
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    if (mcf->store == NULL) {
        /* a server store whose read thread did not start (logged then):
         * the event loop has no connection to read on */
        ngx_http_compensation_answer_error(rd, NGX_HTTP_SERVICE_UNAVAILABLE,
            CF_E_SERVICE_UNAVAILABLE,
            "The compensation store is not available.");

    } else {
        rd->work(rd, mcf->store);
    }

    rc = ngx_http_compensation_read_answer(rd, r);
    ngx_http_compensation_read_release(rd);

    return rc;
}


/*
 * read_post from a request body handler (ngx_http_read_client_request_body):
 * once the job holds r (NGX_DONE), the body reading's reference is let go;
 * the body handler's caller finalizes every other return
 */
ngx_int_t
ngx_http_compensation_read_post_body(ngx_http_request_t *r,
    ngx_http_compensation_read_t *rd)
{
    ngx_int_t  rc;

    rc = ngx_http_compensation_read_post(r, rd);

    if (rc == NGX_DONE) {
        ngx_http_finalize_request(r, NGX_DONE);
    }

    return rc;
}


/* on the read executor's thread */
static void
ngx_http_compensation_read_run(ngx_http_compensation_rjob_t *rj,
    cf_store_t *st)
{
    int                            server;
    ngx_http_compensation_read_t  *rd = (ngx_http_compensation_read_t *) rj;

    if (st == NULL) {
        /* the read thread's connection did not open (it logged why) */
        ngx_http_compensation_answer_error(rd, NGX_HTTP_SERVICE_UNAVAILABLE,
            CF_E_SERVICE_UNAVAILABLE,
            "The compensation store is not available.");
        return;
    }

    server = cf_store_is_server(st);

    cf_store_clear_error(st);

    rd->work(rd, st);

    /*
     * A server that could not be reached (its connection lost and not made
     * again) is the store's unavailability, as for a command: 503, not an
     * internal error
     */
    if (server
        && rd->kind == NGX_HTTP_COMPENSATION_READ_ERROR
        && rd->status == NGX_HTTP_INTERNAL_SERVER_ERROR
        && cf_pg_store_code_unreachable(cf_store_errcode(st)))
    {
        ngx_http_compensation_answer_error(rd, NGX_HTTP_SERVICE_UNAVAILABLE,
            CF_E_SERVICE_UNAVAILABLE,
            "The compensation store is not available.");
    }
}


/* back on the event loop, r alive: the answer's memory becomes r's */
static ngx_int_t
ngx_http_compensation_read_reply(ngx_http_compensation_rjob_t *rj)
{
    ngx_http_request_t            *r = rj->r;
    ngx_pool_cleanup_t            *cln;
    ngx_http_compensation_read_t  *rd = (ngx_http_compensation_read_t *) rj;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_compensation_read_pool_destroy;
    cln->data = rd->pool;
    rd->pool = NULL;

    return ngx_http_compensation_read_answer(rd, r);
}


static void
ngx_http_compensation_read_free(ngx_http_compensation_rjob_t *rj)
{
    ngx_http_compensation_read_release((ngx_http_compensation_read_t *) rj);
}


static void
ngx_http_compensation_read_pool_destroy(void *data)
{
    ngx_destroy_pool(data);
}


static ngx_int_t
ngx_http_compensation_read_answer(ngx_http_compensation_read_t *rd,
    ngx_http_request_t *r)
{
    ngx_uint_t  i;

    for (i = 0; i < rd->nlog; i++) {
        ngx_log_error(rd->log_level[i], r->connection->log, 0, "%s",
                      rd->log[i]);
    }

    switch (rd->kind) {

    case NGX_HTTP_COMPENSATION_READ_JSON:
        return ngx_http_compensation_send_json(r, rd->status, rd->code,
                                               rd->json);

    case NGX_HTTP_COMPENSATION_READ_RAW:
        return ngx_http_compensation_send_raw(r, rd->status, rd->code,
                                              rd->data, rd->len);

    case NGX_HTTP_COMPENSATION_READ_BODY:
        return ngx_http_compensation_body_send(r, &rd->body, rd->sse);

    case NGX_HTTP_COMPENSATION_READ_ERROR:
        return ngx_http_compensation_send_error_code(r, rd->status, rd->code,
                                                     "%s", rd->msg);

    case NGX_HTTP_COMPENSATION_READ_CUSTOM:
        return rd->reply(rd, r);

    default: /* NGX_HTTP_COMPENSATION_READ_STATUS */
        return rd->status ? (ngx_int_t) rd->status
                          : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


/* what the job owns, on the event loop */
static void
ngx_http_compensation_read_release(ngx_http_compensation_read_t *rd)
{
    if (rd->free) {
        rd->free(rd);
    }

    if (rd->json) {
        json_decref(rd->json);
        rd->json = NULL;
    }

    cf_buf_free(&rd->text);

    if (rd->threaded && rd->pool) {
        ngx_destroy_pool(rd->pool);
        rd->pool = NULL;
    }
}


void
ngx_http_compensation_answer_json(ngx_http_compensation_read_t *rd,
    ngx_uint_t status, const char *code, json_t *json)
{
    if (json == NULL) {
        ngx_http_compensation_answer_status(rd, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rd->kind = NGX_HTTP_COMPENSATION_READ_JSON;
    rd->status = status;
    rd->code = code;
    rd->json = json;
}


void
ngx_http_compensation_answer_status(ngx_http_compensation_read_t *rd,
    ngx_uint_t status)
{
    rd->kind = NGX_HTTP_COMPENSATION_READ_STATUS;
    rd->status = status;
}


void
ngx_http_compensation_answer_error(ngx_http_compensation_read_t *rd,
    ngx_uint_t status, const char *code, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    /* the text send_error_code would have formatted */
    va_start(args, fmt);
    p = ngx_vslprintf((u_char *) rd->msg,
                      (u_char *) rd->msg + sizeof(rd->msg) - 1, fmt, args);
    va_end(args);

    *p = '\0';

    rd->kind = NGX_HTTP_COMPENSATION_READ_ERROR;
    rd->status = status;
    rd->code = code;
}


void
ngx_http_compensation_answer_internal_error(ngx_http_compensation_read_t *rd,
    const char *what, cf_error_t *err)
{
    ngx_http_compensation_answer_log(rd, NGX_LOG_ERR,
                                   "compensation: %s failed: %s", what,
                                   err && err->msg[0] ? err->msg
                                                      : "(no detail)");

    ngx_http_compensation_answer_error(rd, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     CF_E_INTERNAL,
                                     "Unexpected server error");
}


void
ngx_http_compensation_answer_log(ngx_http_compensation_read_t *rd,
    ngx_uint_t level, const char *fmt, ...)
{
    u_char      *p;
    va_list      args;
    ngx_uint_t   i;

    /* a route logs at most two lines (a detail, then the failure) */
    i = ngx_min(rd->nlog, 1);

    va_start(args, fmt);
    p = ngx_vslprintf((u_char *) rd->log[i],
                      (u_char *) rd->log[i] + sizeof(rd->log[i]) - 1, fmt,
                      args);
    va_end(args);

    *p = '\0';
    rd->log_level[i] = level;
    rd->nlog = i + 1;
}


ngx_http_compensation_body_t *
ngx_http_compensation_answer_body(ngx_http_compensation_read_t *rd,
    ngx_uint_t sse)
{
    /* inline, the worker's text buffer, as every response on the loop */
    ngx_http_compensation_body_init_pool(&rd->body, rd->pool,
                                         rd->read_max_size,
                                         rd->threaded ? &rd->text : NULL);

    rd->kind = NGX_HTTP_COMPENSATION_READ_BODY;
    rd->status = NGX_HTTP_OK;
    rd->sse = sse;

    return &rd->body;
}
