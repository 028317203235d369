
/*
 * ngx_compensation: the sink, this service's message bus.
 *
 * "compensation_sink /uri;" names a location (normally "internal" and
 * proxy_pass'ing to an upstream{}): documents are POSTed to it as
 * application/json through background subrequests of the client request,
 * so timeouts, keepalive, load balancing and TLS are nginx's own.  The
 * request header "Wow-Sink-Kind" says what the document is (state_event,
 * event_stream).  A 2xx answer means delivered.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_metrics.h"
#include "ngx_http_compensation_sink.h"


typedef struct {
    ngx_http_request_t                    *r;        /* the main request */
    ngx_http_compensation_sink_done_pt     done;
    void                                  *data;
    const char                            *kind;
    unsigned                               fired:1;
} ngx_http_compensation_sink_post_t;


typedef struct {
    ngx_str_t                             *docs;
    ngx_uint_t                             n;
    ngx_uint_t                             next;
    const char                            *kind;
    ngx_uint_t                             status;
    ngx_http_compensation_sink_batch_pt    done;
    void                                  *data;
} ngx_http_compensation_sink_batch_t;


static ngx_int_t ngx_http_compensation_sink_finished(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_compensation_sink_batch_step(ngx_http_request_t *r,
    void *data, ngx_uint_t ok, ngx_uint_t status);
static void ngx_http_compensation_sink_resume(ngx_http_request_t *r);


ngx_int_t
ngx_http_compensation_sink_post(ngx_http_request_t *r, ngx_str_t *doc,
    const char *kind, ngx_http_compensation_sink_done_pt done, void *data)
{
    ngx_http_compensation_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_compensation_module);

    if (lcf->sink.len == 0) {
        return NGX_DECLINED;
    }

    return ngx_http_compensation_sink_post_to(r, &lcf->sink, doc, kind, done,
                                              data);
}


/* doc must live as long as r's pool */
ngx_int_t
ngx_http_compensation_sink_post_to(ngx_http_request_t *r, ngx_str_t *uri,
    ngx_str_t *doc, const char *kind, ngx_http_compensation_sink_done_pt done,
    void *data)
{
    ngx_buf_t                          *b;
    ngx_chain_t                        *cl;
    ngx_table_elt_t                    *h;
    ngx_http_request_t                 *sr;
    ngx_http_post_subrequest_t         *ps;
    ngx_http_compensation_sink_post_t  *post;

    post = ngx_pcalloc(r->pool, sizeof(ngx_http_compensation_sink_post_t));
    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    b = ngx_calloc_buf(r->pool);
    cl = ngx_alloc_chain_link(r->pool);

    if (post == NULL || ps == NULL || b == NULL || cl == NULL) {
        return NGX_ERROR;
    }

    post->r = r->main;
    post->done = done;
    post->data = data;
    post->kind = kind;

    ps->handler = ngx_http_compensation_sink_finished;
    ps->data = post;

    if (ngx_http_subrequest(r, uri, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "compensation: cannot start a subrequest to the"
                      " sink \"%V\"", uri);
        return NGX_ERROR;
    }

    /* the subrequest runs later (it is posted): shape it as a JSON POST */

    sr->method = NGX_HTTP_POST;
    ngx_str_set(&sr->method_name, "POST");

    /* the sink's answer body is not wanted (and would stay postponed) */
    sr->header_only = 1;

    b->pos = doc->data;
    b->last = doc->data + doc->len;
    b->memory = 1;
    b->last_buf = 1;

    cl->buf = b;
    cl->next = NULL;

    sr->request_body = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (sr->request_body == NULL) {
        goto failed;
    }

    sr->request_body->bufs = cl;
    sr->discard_body = 0;

    /* none of the client's headers: only what describes the document */

    ngx_memzero(&sr->headers_in, sizeof(ngx_http_headers_in_t));

    if (ngx_list_init(&sr->headers_in.headers, r->pool, 4,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        goto failed;
    }

    sr->headers_in.content_length_n = doc->len;
    sr->headers_in.keep_alive_n = -1;

    h = ngx_list_push(&sr->headers_in.headers);
    if (h == NULL) {
        goto failed;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Content-Type");
    ngx_str_set(&h->value, "application/json");
    h->lowcase_key = (u_char *) "content-type";
    sr->headers_in.content_type = h;

    h = ngx_list_push(&sr->headers_in.headers);
    if (h == NULL) {
        goto failed;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Wow-Sink-Kind");
    h->value.data = (u_char *) kind;
    h->value.len = ngx_strlen(kind);
    h->lowcase_key = (u_char *) "wow-sink-kind";

    return NGX_OK;

failed:

    /* the subrequest still runs, but its end is not reported: the caller
     * takes this NGX_ERROR as the only outcome */
    post->fired = 1;

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_compensation_sink_finished(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_uint_t                          status, ok;
    ngx_http_compensation_sink_post_t  *post = data;

    if (post->fired) {
        return rc;
    }

    post->fired = 1;

    status = sr->headers_out.status;

    if (status == 0 && rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        status = rc;
    }

    ok = (rc == NGX_OK || rc == NGX_DONE)
         && status >= NGX_HTTP_OK && status < NGX_HTTP_SPECIAL_RESPONSE;

    if (!ok) {
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "compensation: the sink \"%V\" answered %ui (rc %i)",
                      &sr->uri, status, rc);
    }

    ngx_http_compensation_metrics_sink(post->kind, ok);

    post->done(post->r, post->data, ok, status);

    return rc;
}


/*
 * Sequential delivery keeps the documents in order (state events in
 * version order) and one subrequest in flight per client request.
 */
ngx_int_t
ngx_http_compensation_sink_batch(ngx_http_request_t *r, ngx_str_t *docs,
    ngx_uint_t n, const char *kind, ngx_http_compensation_sink_batch_pt done,
    void *data)
{
    ngx_http_compensation_sink_batch_t  *batch;

    batch = ngx_pcalloc(r->pool, sizeof(ngx_http_compensation_sink_batch_t));
    if (batch == NULL) {
        return NGX_ERROR;
    }

    batch->docs = docs;
    batch->n = n;
    batch->kind = kind;
    batch->done = done;
    batch->data = data;

    if (n == 0) {
        ngx_http_compensation_sink_batch_step(r, batch, 1, 0);
        return NGX_OK;
    }

    batch->next = 1;

    return ngx_http_compensation_sink_post(r, &docs[0], kind,
               ngx_http_compensation_sink_batch_step, batch);
}


static void
ngx_http_compensation_sink_batch_step(ngx_http_request_t *r, void *data,
    ngx_uint_t ok, ngx_uint_t status)
{
    ngx_http_compensation_ctx_t         *ctx;
    ngx_http_compensation_sink_batch_t  *batch = data;

    batch->status = status;

    if (ok && batch->next < batch->n) {
        if (ngx_http_compensation_sink_post(r, &batch->docs[batch->next],
                batch->kind, ngx_http_compensation_sink_batch_step, batch)
            == NGX_OK)
        {
            batch->next++;
            return;
        }

        batch->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        ok = 0;
    }

    if (!ok && batch->next > 0) {
        batch->next--;      /* the last one posted was not delivered */
    }

    /*
     * Answer from the main request's own turn, not from inside the
     * subrequest's finalization: post it to run after this event.
     */

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    ctx->sink_batch = batch;

    r->write_event_handler = ngx_http_compensation_sink_resume;

    if (ngx_http_post_request(r, NULL) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_ERROR);
    }
}


static void
ngx_http_compensation_sink_resume(ngx_http_request_t *r)
{
    ngx_http_compensation_ctx_t         *ctx;
    ngx_http_compensation_sink_batch_t  *batch;

    r->write_event_handler = ngx_http_request_empty_handler;

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    batch = ctx->sink_batch;

    batch->done(r, batch->data, batch->next, batch->status);
}
