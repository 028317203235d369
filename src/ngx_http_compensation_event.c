
/*
 * ngx_compensation: the event routes (spec 3.8): load the event streams of
 * an aggregate (JSON or SSE), resend state events and event compensate.
 * The original republishes on its message bus; here the bus is the
 * compensation_sink location (ngx_http_compensation_sink.c).
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_event.h"
#include "ngx_http_compensation_read.h"
#include "ngx_http_compensation_request.h"
#include "ngx_http_compensation_response.h"
#include "ngx_http_compensation_sink.h"
#include "cf_history.h"


#define NGX_HTTP_COMPENSATION_SINK_NOT_CONFIGURED  "SinkNotConfigured"
#define NGX_HTTP_COMPENSATION_SINK_FAILED          "SinkDeliveryFailed"


/* the event streams' read job (ngx_http_compensation_read.h) */
typedef struct {
    ngx_http_compensation_read_t   rd;
    int64_t                        head, tail;
    ngx_uint_t                     sse;
    ngx_http_compensation_body_t  *body;
    cf_error_t                    *err;
    char                          *id;           /* after the struct */
} ngx_http_compensation_event_load_t;


/* documents to deliver, built while replaying (in a read job's pool) */
typedef struct {
    ngx_pool_t           *pool;
    cf_buf_t             *text;       /* NULL: the worker's buffer */
    ngx_array_t           docs;       /* ngx_str_t */
    cf_aggregate_t        agg;
    json_t               *extra;      /* compensation headers */
    int64_t               only;       /* emit only this version; 0: all */
    ngx_uint_t            kind;       /* CF_KIND_EVENT or CF_KIND_STATE_EVENT */
    size_t                size;       /* bytes of docs so far */
    size_t                max;        /* compensation_read_max_size */
    unsigned              too_large:1;
    cf_error_t           *err;
} ngx_http_compensation_docs_t;


typedef struct {
    ngx_str_t             after;      /* the request cursor */
    char                **ids;        /* pool copies */
    ngx_uint_t           *ends;       /* docs index after each aggregate */
    ngx_uint_t            naggs;
    cf_error_t            first;
} ngx_http_compensation_resend_t;


/* what the two jobs below begin with (docs_free) */
typedef struct {
    ngx_http_compensation_read_t     rd;
    ngx_http_compensation_docs_t     d;
} ngx_http_compensation_docs_job_t;


/* the resend's reads, a read job; its reply posts to the sink */
typedef struct {
    ngx_http_compensation_read_t     rd;
    ngx_http_compensation_docs_t     d;
    int64_t                          limit;
    ngx_http_compensation_resend_t  *rs;          /* in rd.pool */
    char                            *after;       /* after the struct */
} ngx_http_compensation_resend_job_t;


/* the compensate's read, a read job; its reply posts to the sink */
typedef struct {
    ngx_http_compensation_read_t     rd;
    ngx_http_compensation_docs_t     d;
    int64_t                          version;
    char                            *id;          /* after the struct */
} ngx_http_compensation_compensate_job_t;


static void ngx_http_compensation_event_load_work(
    ngx_http_compensation_read_t *rd, cf_store_t *st);
static ngx_int_t ngx_http_compensation_event_load_reply(
    ngx_http_compensation_read_t *rd, ngx_http_request_t *r);
static int ngx_http_compensation_event_doc(void *data,
    const cf_stream_view_t *row);
static ngx_int_t ngx_http_compensation_send_event_sse(ngx_http_request_t *r,
    ngx_chain_t *events);
static ngx_int_t ngx_http_compensation_no_sink(ngx_http_request_t *r);
static json_t *ngx_http_compensation_target_header(const char *id,
    json_t *function);
static int ngx_http_compensation_collect(void *data,
    const cf_stream_view_t *row);
static ngx_int_t ngx_http_compensation_push_doc(
    ngx_http_compensation_docs_t *d, json_t *doc);
static void ngx_http_compensation_resend_work(
    ngx_http_compensation_read_t *rd, cf_store_t *st);
static ngx_int_t ngx_http_compensation_resend_reply(
    ngx_http_compensation_read_t *rd, ngx_http_request_t *r);
static void ngx_http_compensation_docs_free(
    ngx_http_compensation_read_t *rd);
static void ngx_http_compensation_compensate_work(
    ngx_http_compensation_read_t *rd, cf_store_t *st);
static ngx_int_t ngx_http_compensation_compensate_reply(
    ngx_http_compensation_read_t *rd, ngx_http_request_t *r);
static void ngx_http_compensation_resend_done(ngx_http_request_t *r,
    void *data, ngx_uint_t delivered, ngx_uint_t status);
static ngx_int_t ngx_http_compensation_compensate_run(ngx_http_request_t *r);
static void ngx_http_compensation_compensate_done(ngx_http_request_t *r,
    void *data, ngx_uint_t delivered, ngx_uint_t status);


/* GET /execution_failed/{id}/event/{headVersion}/{tailVersion} */
ngx_int_t
ngx_http_compensation_event_load_handler(ngx_http_request_t *r)
{
    char                                *id;
    size_t                               len;
    int64_t                              head, tail;
    ngx_int_t                            rc;
    ngx_str_t                           *v;
    ngx_uint_t                           sse;
    ngx_http_compensation_ctx_t         *ctx;
    ngx_http_compensation_event_load_t  *el;

    if (ngx_http_compensation_read_prelude(r, 1, &sse, &id, &rc)
        != NGX_OK)
    {
        return rc;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);

    v = &ctx->vars[1];
    if (cf_int_parse(v->data, v->len, INT64_MAX, &head) != 0) {
        goto bad;
    }

    v = &ctx->vars[2];
    if (cf_int_parse(v->data, v->len, INT64_MAX, &tail) != 0
        || tail < head)
    {
        goto bad;
    }

    len = ngx_strlen(id);

    el = ngx_http_compensation_read_alloc(r,
             sizeof(ngx_http_compensation_event_load_t) + len + 1);
    if (el == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    el->id = (char *) (el + 1);
    ngx_memcpy(el->id, id, len + 1);
    el->head = head;
    el->tail = tail;
    el->sse = sse;
    el->rd.work = ngx_http_compensation_event_load_work;
    el->rd.reply = ngx_http_compensation_event_load_reply;

    return ngx_http_compensation_read_post(r, &el->rd);

bad:

    return ngx_http_compensation_send_error_code(r, NGX_HTTP_BAD_REQUEST,
               CF_E_ILLEGAL_ARGUMENT,
               "headVersion and tailVersion must be non-negative integers"
               " with headVersion <= tailVersion, not \"%V\" and \"%V\".",
               &ctx->vars[1], &ctx->vars[2]);
}


static void
ngx_http_compensation_event_load_work(ngx_http_compensation_read_t *rd,
    cf_store_t *st)
{
    cf_error_t                           err;
    ngx_http_compensation_event_load_t  *el;

    el = (ngx_http_compensation_event_load_t *) rd;

    cf_error_init(&err);

    /* each stream is written into the body as it is read (a budget) */
    el->body = ngx_http_compensation_answer_body(rd, el->sse);
    el->err = &err;

    if (!el->sse
        && ngx_http_compensation_body_add(el->body, (u_char *) "[", 1)
           != NGX_OK)
    {
        ngx_http_compensation_answer_status(rd,
                                            NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (cf_store_each_stream(st, el->id, el->head, el->tail,
                             ngx_http_compensation_event_doc, el, &err)
        < 0
        && !el->body->too_large)
    {
        ngx_http_compensation_answer_internal_error(rd,
            "loading event streams", &err);
        cf_error_free(&err);
        return;
    }

    cf_error_free(&err);

    if (!el->sse && !el->body->too_large
        && ngx_http_compensation_body_add(el->body, (u_char *) "]", 1)
           == NGX_ERROR)
    {
        ngx_http_compensation_answer_status(rd,
                                            NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (el->sse && el->body->size == 0) {
        /* an empty stream: its own answer (event_load_reply) */
        rd->kind = NGX_HTTP_COMPENSATION_READ_CUSTOM;
    }
}


static ngx_int_t
ngx_http_compensation_event_load_reply(ngx_http_compensation_read_t *rd,
    ngx_http_request_t *r)
{
    return ngx_http_compensation_send_event_sse(r, NULL);
}


static int
ngx_http_compensation_event_doc(void *data, const cf_stream_view_t *row)
{
    json_t                              *doc;
    ngx_int_t                            rc;
    ngx_http_compensation_event_load_t  *el = data;

    doc = cf_stream_to_json(row, 1, NULL);
    if (doc == NULL) {
        goto nomem;
    }

    if (el->sse) {
        rc = ngx_http_compensation_body_add(el->body, (u_char *) "id:", 3);

        if (rc == NGX_OK) {
            rc = ngx_http_compensation_body_add(el->body,
                                                (u_char *) row->id,
                                                ngx_strlen(row->id));
        }

        if (rc == NGX_OK) {
            rc = ngx_http_compensation_body_add_json(el->body,
                                                     "\nevent:message\ndata:",
                                                     doc, "\n\n");
        }

    } else {
        rc = ngx_http_compensation_body_add_json(el->body,
                                                 el->body->n ? "," : "", doc,
                                                 "");
    }

    json_decref(doc);

    if (rc == NGX_DECLINED) {
        /* over the budget: the caller answers the error naming it */
        cf_error_set(el->err, CF_E_ILLEGAL_ARGUMENT, "too large");
        return -1;
    }

    if (rc != NGX_OK) {
        goto nomem;
    }

    return 0;

nomem:

    cf_error_set(el->err, CF_E_INTERNAL, "out of memory");
    return -1;
}


/* an event stream, possibly empty */
static ngx_int_t
ngx_http_compensation_send_event_sse(ngx_http_request_t *r,
    ngx_chain_t *events)
{
    ngx_int_t         rc;
    ngx_table_elt_t  *h;

    if (events) {
        return ngx_http_compensation_send_sse(r, CF_OK, events);
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Wow-Error-Code");
    ngx_str_set(&h->value, CF_OK);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = 0;
    ngx_str_set(&r->headers_out.content_type, "text/event-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->header_only = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_send_special(r, NGX_HTTP_LAST);
}


static ngx_int_t
ngx_http_compensation_no_sink(ngx_http_request_t *r)
{
    return ngx_http_compensation_send_error_code(r,
               NGX_HTTP_NOT_IMPLEMENTED,
               NGX_HTTP_COMPENSATION_SINK_NOT_CONFIGURED,
               "No compensation_sink is configured for this location:"
               " there is nowhere to publish to.");
}


/* the compensation headers of spec 7.3 */
static json_t *
ngx_http_compensation_target_header(const char *id, json_t *function)
{
    return json_pack("{s:s, s:O, s:O, s:O}",
                     "compensate.id", id,
                     "compensate.context",
                     json_object_get(function, "contextName"),
                     "compensate.processor",
                     json_object_get(function, "processorName"),
                     "compensate.function",
                     json_object_get(function, "name"));
}


static ngx_int_t
ngx_http_compensation_push_doc(ngx_http_compensation_docs_t *d, json_t *doc)
{
    ngx_str_t  *s;

    cf_buf_t  *text;

    s = ngx_array_push(&d->docs);
    if (s == NULL) {
        return NGX_ERROR;
    }

    if (d->text == NULL) {
        if (ngx_http_compensation_json_text(d->pool, doc, s) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        /* off the event loop: the job's own buffer */
        text = d->text;
        cf_buf_reset(text);
        cf_json_write(text, doc);

        if (text->failed) {
            return NGX_ERROR;
        }

        s->len = text->len;
        s->data = ngx_pnalloc(d->pool, text->len ? text->len : 1);
        if (s->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(s->data, text->data, text->len);
    }

    /* what a batch holds is bounded as a read's body is */
    if (d->max && d->size + s->len > d->max) {
        d->docs.nelts--;
        d->too_large = 1;
        return NGX_DECLINED;
    }

    d->size += s->len;

    return NGX_OK;
}


/* replays; makes a state event (or the stream, for EVENT) per version */
static int
ngx_http_compensation_collect(void *data, const cf_stream_view_t *row)
{
    json_t                        *doc;
    ngx_int_t                      rc;
    ngx_http_compensation_docs_t  *d = data;

    /* EVENT reads the one stream: nothing to replay */

    if (d->kind != CF_KIND_EVENT
        && cf_stream_apply(&d->agg, row, d->err) != 0)
    {
        return -1;
    }

    if (d->only && row->version != d->only) {
        return 0;
    }

    if (d->kind == CF_KIND_EVENT) {
        doc = cf_stream_to_json(row, 0, d->extra);

    } else {
        doc = cf_state_event_to_json(row, &d->agg, d->extra);
    }

    if (doc == NULL) {
        cf_error_set(d->err, CF_E_INTERNAL, "out of memory");
        return -1;
    }

    rc = ngx_http_compensation_push_doc(d, doc);
    json_decref(doc);

    if (rc == NGX_DECLINED) {
        cf_error_set(d->err, CF_E_ILLEGAL_ARGUMENT, "too large");
        return -1;
    }

    if (rc != NGX_OK) {
        cf_error_set(d->err, CF_E_INTERNAL, "out of memory");
        return -1;
    }

    return 0;
}


/*
 * POST /execution_failed/state/{afterId}/{limit}: for each of the next
 * `limit` aggregates, every state event (the state after each stream) is
 * POSTed to the sink in version order, with the compensation target
 * {STATE_EVENT, wow, ResendStateEventHandler, Resend}.
 */
ngx_int_t
ngx_http_compensation_resend_handler(ngx_http_request_t *r)
{
    char                                *after, idbuf[CF_ID_LEN + 1];
    size_t                               len;
    json_t                              *function, *extra;
    int64_t                              limit;
    ngx_int_t                            rc;
    ngx_http_compensation_resend_job_t  *rj;
    ngx_http_compensation_loc_conf_t    *lcf;
    ngx_http_compensation_main_conf_t   *mcf;

    if (ngx_http_compensation_batch_prelude(r, &after, &limit, &rc)
        != NGX_OK)
    {
        return rc;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_compensation_module);
    if (lcf->sink.len == 0) {
        return ngx_http_compensation_no_sink(r);
    }

    mcf = ngx_http_compensation_store_conf(r);

    function = json_pack("{s:s, s:s, s:s, s:s}",
                         "functionKind", "STATE_EVENT",
                         "contextName", "wow",
                         "processorName", "ResendStateEventHandler",
                         "name", "Resend");

    cf_id_next(&mcf->ids, ngx_http_compensation_now_ms(), idbuf);

    extra = function ? ngx_http_compensation_target_header(idbuf, function)
                     : NULL;
    json_decref(function);

    if (extra == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_strlen(after);

    rj = ngx_http_compensation_read_alloc(r,
             sizeof(ngx_http_compensation_resend_job_t) + len + 1);
    if (rj == NULL) {
        json_decref(extra);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rj->after = (char *) (rj + 1);
    ngx_memcpy(rj->after, after, len + 1);
    rj->limit = limit;
    rj->d.extra = extra;
    rj->rd.work = ngx_http_compensation_resend_work;
    rj->rd.reply = ngx_http_compensation_resend_reply;
    rj->rd.free = ngx_http_compensation_docs_free;

    return ngx_http_compensation_read_post(r, &rj->rd);
}


/* the job's documents: their json is the job's */
static void
ngx_http_compensation_docs_free(ngx_http_compensation_read_t *rd)
{
    ngx_http_compensation_docs_job_t  *dj;

    dj = (ngx_http_compensation_docs_job_t *) rd;

    json_decref(dj->d.extra);
    dj->d.extra = NULL;
}


static void
ngx_http_compensation_resend_work(ngx_http_compensation_read_t *rd,
    cf_store_t *st)
{
    char                                **ids;
    size_t                                n, i;
    ngx_int_t                             rc;
    ngx_str_t                             name;
    cf_error_t                            err;
    ngx_http_compensation_docs_t         *d;
    ngx_http_compensation_resend_t       *rs;
    ngx_http_compensation_resend_job_t   *rj;

    rj = (ngx_http_compensation_resend_job_t *) rd;
    d = &rj->d;

    rs = ngx_pcalloc(rd->pool, sizeof(ngx_http_compensation_resend_t));
    if (rs == NULL) {
        ngx_http_compensation_answer_status(rd,
                                            NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cf_error_init(&rs->first);

    if (cf_store_scan_ids(st, rj->after, rj->limit, &ids, &n) != 0) {
        ngx_http_compensation_answer_log(rd, NGX_LOG_ERR,
                                         "compensation: scanning aggregate"
                                         " ids failed: %s",
                                         cf_store_errmsg(st));
        ngx_http_compensation_answer_internal_error(rd, "a resend", NULL);
        return;
    }

    rs->ids = ngx_pcalloc(rd->pool, (n + 1) * sizeof(char *));
    rs->ends = ngx_pcalloc(rd->pool, (n + 1) * sizeof(ngx_uint_t));

    d->pool = rd->pool;
    d->text = rd->threaded ? &rd->text : NULL;
    d->only = 0;
    d->kind = CF_KIND_STATE_EVENT;
    d->size = 0;
    d->max = rd->read_max_size;
    d->too_large = 0;

    if (rs->ids == NULL || rs->ends == NULL
        || ngx_array_init(&d->docs, rd->pool, 16, sizeof(ngx_str_t))
           != NGX_OK)
    {
        cf_ids_free(ids, n);
        ngx_http_compensation_answer_status(rd,
                                            NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    for (i = 0; i < n; i++) {
        cf_error_init(&err);
        d->err = &err;

        if (cf_aggregate_init(&d->agg, ids[i]) != 0) {
            cf_error_set(&err, CF_E_INTERNAL, "out of memory");
            rc = -1;

        } else {
            rc = cf_store_each_stream(st, ids[i], 1, INT64_MAX,
                                      ngx_http_compensation_collect, d,
                                      &err);
            cf_aggregate_free(&d->agg);
        }

        if (rc < 0 && d->too_large) {
            /*
             * the documents would pass compensation_read_max_size: the
             * batch ends before this aggregate, whose cursor the answer
             * gives; alone over it, it is refused
             */
            d->docs.nelts = i ? rs->ends[i - 1] : 0;
            cf_error_free(&err);

            if (i == 0) {
                ngx_http_compensation_answer_log(rd, NGX_LOG_INFO,
                    "compensation: the state events of \"%s\" exceed"
                    " compensation_read_max_size (%uz bytes)", ids[i],
                    d->max);
                cf_error_set(&rs->first, CF_E_ILLEGAL_ARGUMENT,
                             "The state events of %s exceed %zu bytes"
                             " (compensation_read_max_size).", ids[i],
                             d->max);
            }

            break;
        }

        if (rc < 0) {
            /* stop here: the cursor must not pass an undelivered id */
            ngx_http_compensation_answer_log(rd, NGX_LOG_ERR,
                "compensation: replaying \"%s\" for a resend failed: %s",
                ids[i], err.msg);
            cf_error_set(&rs->first, CF_E_INTERNAL, "%s: %s", ids[i],
                         "Unexpected server error");
            d->docs.nelts = i ? rs->ends[i - 1] : 0;
            cf_error_free(&err);
            break;
        }

        cf_error_free(&err);

        name.len = ngx_strlen(ids[i]);
        name.data = (u_char *) ids[i];

        rs->ids[i] = ngx_pnalloc(rd->pool, name.len + 1);
        if (rs->ids[i] == NULL) {
            break;
        }

        ngx_memcpy(rs->ids[i], name.data, name.len + 1);

        rs->ends[i] = d->docs.nelts;
        rs->naggs = i + 1;
    }

    cf_ids_free(ids, n);

    rj->rs = rs;
    rd->kind = NGX_HTTP_COMPENSATION_READ_CUSTOM;
}


/* on the event loop: the documents go to the sink */
static ngx_int_t
ngx_http_compensation_resend_reply(ngx_http_compensation_read_t *rd,
    ngx_http_request_t *r)
{
    ngx_http_compensation_ctx_t         *ctx;
    ngx_http_compensation_resend_t      *rs;
    ngx_http_compensation_resend_job_t  *rj;

    rj = (ngx_http_compensation_resend_job_t *) rd;
    rs = rj->rs;

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    rs->after = ctx->vars[0];

    r->main->count++;

    if (ngx_http_compensation_sink_batch(r, rj->d.docs.elts,
                                         rj->d.docs.nelts, "state_event",
                                         ngx_http_compensation_resend_done,
                                         rs)
        != NGX_OK)
    {
        r->main->count--;
        return ngx_http_compensation_internal_error(r,
                   "posting to the sink", NULL);
    }

    return NGX_DONE;
}


static void
ngx_http_compensation_resend_done(ngx_http_request_t *r, void *data,
    ngx_uint_t delivered, ngx_uint_t status)
{
    json_t                          *res;
    ngx_int_t                        rc;
    ngx_uint_t                       i, done;
    const char                      *after;
    ngx_http_compensation_resend_t  *rs = data;

    /* the aggregates whose state events were all delivered */

    done = 0;

    for (i = 0; i < rs->naggs; i++) {
        if (rs->ends[i] > delivered) {
            break;
        }

        done = i + 1;
    }

    if (done < rs->naggs && cf_error_is_ok(&rs->first)) {
        cf_error_set(&rs->first, NGX_HTTP_COMPENSATION_SINK_FAILED,
                     "The sink answered %u to a state event of %s.",
                     (unsigned) status, rs->ids[done]);
    }

    after = done ? rs->ids[done - 1]
                 : ngx_http_compensation_strdup(r->pool, &rs->after);

    res = after ? cf_batch_result_to_json(after, (int64_t) done,
                                          rs->first.code, rs->first.msg)
                : NULL;

    rc = res ? ngx_http_compensation_send_json(r, NGX_HTTP_OK,
                                               rs->first.code, res)
             : NGX_HTTP_INTERNAL_SERVER_ERROR;

    json_decref(res);
    cf_error_free(&rs->first);

    ngx_http_finalize_request(r, rc);
}


/*
 * PUT /execution_failed/{id}/{version}/compensate, body CompensationTarget
 * {id?, function:{functionKind, contextName, processorName, name}}: the
 * stream at exactly {version} (EVENT) or the state event after it
 * (STATE_EVENT) is POSTed to the sink with the compensation headers.
 * Answers the number of streams resent, 1.
 */
ngx_int_t
ngx_http_compensation_compensate_handler(ngx_http_request_t *r)
{
    ngx_int_t   rc;
    ngx_uint_t  sse;

    if (ngx_http_compensation_accepts(r, 0, &sse) != NGX_OK) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_compensation_not_acceptable(r, 0);
    }

    return ngx_http_compensation_request_body(r,
                                        ngx_http_compensation_compensate_run);
}


/* NGX_DONE: the sink's subrequest is in flight (compensate_done ends r) */
static ngx_int_t
ngx_http_compensation_compensate_run(ngx_http_request_t *r)
{
    char                                     idbuf[CF_ID_LEN + 1];
    const char                              *target_id;
    json_t                                  *body, *function, *j, *extra;
    int64_t                                  version;
    ngx_int_t                                rc;
    cf_error_t                               err;
    cf_function_kind_t                       kind;
    ngx_http_compensation_ctx_t             *ctx;
    ngx_http_compensation_loc_conf_t        *lcf;
    ngx_http_compensation_main_conf_t       *mcf;
    ngx_http_compensation_compensate_job_t  *cj;

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_compensation_module);
    mcf = ngx_http_compensation_store_conf(r);

    if (ngx_http_compensation_path_id(r, &ctx->vars[0], NULL, &rc)
        != NGX_OK
        || ngx_http_compensation_path_int(r, &ctx->vars[1], "version", 1,
                                          INT64_MAX, &version, &rc)
           != NGX_OK)
    {
        return rc;
    }

    if (ngx_http_compensation_read_json(r, &body, &rc) != NGX_OK) {
        return rc;
    }

    if (body == NULL) {
        return ngx_http_compensation_send_error_code(r, NGX_HTTP_BAD_REQUEST,
                   CF_E_ILLEGAL_ARGUMENT,
                   "The CompensationTarget body can not be empty.");
    }

    if (!json_is_object(body)) {
        return ngx_http_compensation_send_error_code(r, NGX_HTTP_BAD_REQUEST,
                   CF_E_ILLEGAL_ARGUMENT,
                   "The CompensationTarget body must be a JSON object.");
    }

    /* CompensationTarget */

    cf_error_init(&err);
    kind = CF_KIND_COMMAND;

    function = json_object_get(body, "function");
    j = json_object_get(body, "id");

    if (j && !json_is_null(j)
        && (!json_is_string(j) || json_string_length(j) == 0
            || json_string_length(j) > CF_MAX_ID_LEN))
    {
        cf_error_add_binding(&err, "id",
                             "must be a non-empty string of at most %d"
                             " characters", CF_MAX_ID_LEN);
    }

    if (!json_is_object(function)) {
        cf_error_add_binding(&err, "function", "must not be null");

    } else {
        j = json_object_get(function, "functionKind");

        if (!json_is_string(j)
            || cf_function_kind_parse(json_string_value(j), &kind) != 0)
        {
            cf_error_add_binding(&err, "function.functionKind",
                                 "must be one of COMMAND, SOURCING, EVENT,"
                                 " STATE_EVENT, ERROR");
        }

#define NGX_HTTP_COMPENSATION_NAME(key)                                       \
        j = json_object_get(function, key);                                   \
        if (!json_is_string(j) || json_string_length(j) == 0                  \
            || json_string_length(j) > 1024)                                  \
        {                                                                     \
            cf_error_add_binding(&err, "function." key,                       \
                                 "must be a non-empty string");               \
        }

        NGX_HTTP_COMPENSATION_NAME("contextName")
        NGX_HTTP_COMPENSATION_NAME("processorName")
        NGX_HTTP_COMPENSATION_NAME("name")

#undef NGX_HTTP_COMPENSATION_NAME
    }

    if (!cf_error_is_ok(&err)) {
        rc = ngx_http_compensation_send_error(r, &err);
        cf_error_free(&err);
        return rc;
    }

    if (kind != CF_KIND_EVENT && kind != CF_KIND_STATE_EVENT) {
        return ngx_http_compensation_send_error_code(r, NGX_HTTP_BAD_REQUEST,
                   CF_E_ILLEGAL_ARGUMENT, "Unsupported FunctionKind:%s",
                   cf_function_kind_name(kind));
    }

    if (lcf->sink.len == 0) {
        return ngx_http_compensation_no_sink(r);
    }

    j = json_object_get(body, "id");

    if (json_is_string(j)) {
        target_id = json_string_value(j);

    } else {
        cf_id_next(&mcf->ids, ngx_http_compensation_now_ms(), idbuf);
        target_id = idbuf;
    }

    extra = ngx_http_compensation_target_header(target_id, function);
    if (extra == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cj = ngx_http_compensation_read_alloc(r,
             sizeof(ngx_http_compensation_compensate_job_t)
             + ctx->vars[0].len + 1);
    if (cj == NULL) {
        json_decref(extra);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cj->id = (char *) (cj + 1);
    *ngx_cpymem(cj->id, ctx->vars[0].data, ctx->vars[0].len) = '\0';
    cj->version = version;

    cj->d.extra = extra;
    cj->d.only = version;
    cj->d.kind = kind;
    cj->d.max = 0;              /* one document */

    cj->rd.work = ngx_http_compensation_compensate_work;
    cj->rd.reply = ngx_http_compensation_compensate_reply;
    cj->rd.free = ngx_http_compensation_docs_free;

    return ngx_http_compensation_read_post_body(r, &cj->rd);
}


static void
ngx_http_compensation_compensate_work(ngx_http_compensation_read_t *rd,
    cf_store_t *st)
{
    int                                      n;
    cf_error_t                               err;
    ngx_http_compensation_docs_t            *d;
    ngx_http_compensation_compensate_job_t  *cj;

    cj = (ngx_http_compensation_compensate_job_t *) rd;
    d = &cj->d;

    cf_error_init(&err);

    d->pool = rd->pool;
    d->text = rd->threaded ? &rd->text : NULL;
    d->size = 0;
    d->too_large = 0;
    d->err = &err;

    if (ngx_array_init(&d->docs, rd->pool, 1, sizeof(ngx_str_t)) != NGX_OK
        || cf_aggregate_init(&d->agg, cj->id) != 0)
    {
        ngx_http_compensation_answer_status(rd,
                                            NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* EVENT needs only that stream; STATE_EVENT the replay up to it */

    n = cf_store_each_stream(st, cj->id,
                             d->kind == CF_KIND_EVENT ? cj->version : 1,
                             cj->version, ngx_http_compensation_collect, d,
                             &err);

    cf_aggregate_free(&d->agg);

    if (n < 0) {
        ngx_http_compensation_answer_internal_error(rd, "loading the stream",
                                                    &err);
        cf_error_free(&err);
        return;
    }

    cf_error_free(&err);

    if (d->docs.nelts == 0) {
        ngx_http_compensation_answer_error(rd, NGX_HTTP_NOT_FOUND,
            CF_E_NOT_FOUND, "%s has no event stream of version %L.",
            cj->id, cj->version);
        return;
    }

    rd->kind = NGX_HTTP_COMPENSATION_READ_CUSTOM;
}


/* on the event loop: the document goes to the sink */
static ngx_int_t
ngx_http_compensation_compensate_reply(ngx_http_compensation_read_t *rd,
    ngx_http_request_t *r)
{
    ngx_http_compensation_compensate_job_t  *cj;

    cj = (ngx_http_compensation_compensate_job_t *) rd;

    r->main->count++;

    if (ngx_http_compensation_sink_batch(r, cj->d.docs.elts,
                                         cj->d.docs.nelts,
                                         cj->d.kind == CF_KIND_EVENT
                                         ? "event_stream" : "state_event",
                                         ngx_http_compensation_compensate_done,
                                         NULL)
        != NGX_OK)
    {
        r->main->count--;
        return ngx_http_compensation_internal_error(r,
                   "posting to the sink", NULL);
    }

    return NGX_DONE;
}


static void
ngx_http_compensation_compensate_done(ngx_http_request_t *r, void *data,
    ngx_uint_t delivered, ngx_uint_t status)
{
    json_t     *n;
    ngx_int_t   rc;

    if (delivered == 0) {
        rc = ngx_http_compensation_send_error_code(r, NGX_HTTP_BAD_GATEWAY,
                 NGX_HTTP_COMPENSATION_SINK_FAILED,
                 "The sink answered %ui.", status);
        ngx_http_finalize_request(r, rc);
        return;
    }

    n = json_integer((json_int_t) delivered);

    rc = n ? ngx_http_compensation_send_json(r, NGX_HTTP_OK, CF_OK, n)
           : NGX_HTTP_INTERNAL_SERVER_ERROR;

    json_decref(n);

    ngx_http_finalize_request(r, rc);
}
