
/*
 * ngx_compensation: the state read routes (spec 3.6, 5.3): the latest,
 * versioned and time-based state, and the tracing (one StateEvent per event
 * stream).  Also the helpers every history route shares.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_request.h"
#include "ngx_http_compensation_response.h"
#include "ngx_http_compensation_state.h"
#include "ngx_http_compensation_read.h"
#include "cf_history.h"


/* a state route's store work: a read job (ngx_http_compensation_read.h) */
typedef struct {
    ngx_http_compensation_read_t   rd;
    /* inline: the connection of the state reads' shared transaction */
    cf_store_t                    *text_st;
    int64_t                        version;      /* < 0: the time-based */
    int64_t                        max_time;
    int64_t                        head, tail, limit;     /* tracing */
    char                          *id;           /* after the struct */

    /* tracing: written as replayed */
    cf_aggregate_t                 agg;
    int64_t                        from;         /* the first version with
                                                    an element */
    ngx_http_compensation_body_t  *body;
    cf_error_t                    *err;
} ngx_http_compensation_state_job_t;


static ngx_http_compensation_state_job_t *ngx_http_compensation_state_job(
    ngx_http_request_t *r, const char *id);
static void ngx_http_compensation_state_answer(
    ngx_http_compensation_read_t *rd, cf_aggregate_t *agg);
static void ngx_http_compensation_state_work(ngx_http_compensation_read_t *rd,
    cf_store_t *st);
static void ngx_http_compensation_load_state_work(
    ngx_http_compensation_read_t *rd, cf_store_t *st);
static void ngx_http_compensation_tracing_work(
    ngx_http_compensation_read_t *rd, cf_store_t *st);
static ngx_int_t ngx_http_compensation_load_state(ngx_http_request_t *r,
    int64_t version, int64_t max_time);
static void *ngx_http_compensation_pool_alloc(void *data, size_t size);
static ngx_int_t ngx_http_compensation_tracing_arg(ngx_http_request_t *r,
    const char *name, int64_t min, int64_t *value, cf_error_t *err);
static int ngx_http_compensation_tracing_stream(void *data,
    const cf_stream_view_t *row);


static ngx_http_compensation_state_job_t *
ngx_http_compensation_state_job(ngx_http_request_t *r, const char *id)
{
    size_t                              len;
    ngx_http_compensation_state_job_t  *sj;

    len = ngx_strlen(id);

    sj = ngx_http_compensation_read_alloc(r,
             sizeof(ngx_http_compensation_state_job_t) + len + 1);
    if (sj == NULL) {
        return NULL;
    }

    sj->id = (char *) (sj + 1);
    ngx_memcpy(sj->id, id, len + 1);

    return sj;
}


/* the bare state, or 404 when not initialized or deleted (spec 3.6) */
static void
ngx_http_compensation_state_answer(ngx_http_compensation_read_t *rd,
    cf_aggregate_t *agg)
{
    if (agg->version == 0 || agg->deleted) {
        ngx_http_compensation_answer_error(rd, NGX_HTTP_NOT_FOUND,
                                         CF_E_NOT_FOUND,
                                         "%s is not initialized or deleted.",
                                         agg->state.id);
        return;
    }

    ngx_http_compensation_answer_json(rd, NGX_HTTP_OK, CF_OK,
                                    cf_state_to_json(&agg->state));
}


/* GET /execution_failed/{id}/state: snapshot plus later events */
ngx_int_t
ngx_http_compensation_state_handler(ngx_http_request_t *r)
{
    char                               *id;
    ngx_int_t                           rc;
    ngx_http_compensation_state_job_t  *sj;
    ngx_http_compensation_main_conf_t  *mcf;

    if (ngx_http_compensation_read_prelude(r, 0, NULL, &id, &rc)
        != NGX_OK)
    {
        return rc;
    }

    mcf = ngx_http_compensation_store_conf(r);

    sj = ngx_http_compensation_state_job(r, id);
    if (sj == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * Inline, the state reads of one event-loop iteration share one read
     * transaction on their own connection, ended by a posted event after
     * the iteration's I/O: the store's locks are taken once per iteration
     * instead of once per read.  The snapshot they share is at most one
     * iteration old, and a client's next request is always read in a later
     * iteration than the reply to its previous one.  On the read executor
     * the reads run one after another on its connection.
     */
    if (!ngx_http_compensation_read_threaded(r) && mcf->read_store) {
        sj->text_st = mcf->read_store;

        if (!mcf->read_release.posted
            && cf_store_read_hold(sj->text_st) == 0)
        {
            ngx_post_event(&mcf->read_release, &ngx_posted_events);
        }
    }

    sj->rd.work = ngx_http_compensation_state_work;

    return ngx_http_compensation_read_post(r, &sj->rd);
}


static void
ngx_http_compensation_state_work(ngx_http_compensation_read_t *rd,
    cf_store_t *st)
{
    char                               *text;
    size_t                              len;
    cf_error_t                          err;
    cf_store_t                         *ts;
    cf_aggregate_t                      agg;
    ngx_http_compensation_state_job_t  *sj;

    sj = (ngx_http_compensation_state_job_t *) rd;
    ts = sj->text_st ? sj->text_st : st;

    /* the stored state document as it is, when the snapshot is the head */
    switch (cf_store_state_text(ts, sj->id, ngx_http_compensation_pool_alloc,
                                rd->pool, &text, &len))
    {
    case 1:
        rd->kind = NGX_HTTP_COMPENSATION_READ_RAW;
        rd->status = NGX_HTTP_OK;
        rd->code = CF_OK;
        rd->data = (u_char *) text;
        rd->len = len;
        return;

    case 0:
        break;

    default:
        ngx_http_compensation_answer_log(rd, NGX_LOG_ERR,
                                       "compensation: reading the state"
                                       " failed: %s", cf_store_errmsg(ts));
        ngx_http_compensation_answer_error(rd, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                         CF_E_INTERNAL,
                                         "Unexpected server error");
        return;
    }

    if (cf_aggregate_init(&agg, sj->id) != 0) {
        ngx_http_compensation_answer_status(rd, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cf_error_init(&err);

    if (cf_store_load(st, &agg, &err) != 0) {
        ngx_http_compensation_answer_internal_error(rd, "loading the state",
                                                  &err);
        cf_error_free(&err);
        cf_aggregate_free(&agg);
        return;
    }

    ngx_http_compensation_state_answer(rd, &agg);
    cf_aggregate_free(&agg);
}


/* the posted end of the state reads' shared transaction */
void
ngx_http_compensation_read_release(ngx_event_t *ev)
{
    ngx_http_compensation_main_conf_t  *mcf;

    mcf = ev->data;

    if (mcf->read_store) {
        cf_store_read_release(mcf->read_store);
    }
}


static void *
ngx_http_compensation_pool_alloc(void *data, size_t size)
{
    return ngx_pnalloc(data, size);
}


/*
 * Replays from the first event up to a version or a time (spec 3.6).
 * version < 0: the time-based load.
 */
static ngx_int_t
ngx_http_compensation_load_state(ngx_http_request_t *r, int64_t version,
    int64_t max_time)
{
    char                               *id;
    ngx_int_t                           rc;
    ngx_http_compensation_ctx_t        *ctx;
    ngx_http_compensation_state_job_t  *sj;

    if (ngx_http_compensation_read_prelude(r, 0, NULL, &id, &rc)
        != NGX_OK)
    {
        return rc;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    if (ngx_http_compensation_path_int(r, &ctx->vars[1],
                                       version < 0 ? "createTime" : "version",
                                       0, INT64_MAX,
                                       version < 0 ? &max_time : &version,
                                       &rc)
        != NGX_OK)
    {
        return rc;
    }

    sj = ngx_http_compensation_state_job(r, id);
    if (sj == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sj->version = version;
    sj->max_time = max_time;
    sj->rd.work = ngx_http_compensation_load_state_work;

    return ngx_http_compensation_read_post(r, &sj->rd);
}


static void
ngx_http_compensation_load_state_work(ngx_http_compensation_read_t *rd,
    cf_store_t *st)
{
    int64_t                             version;
    cf_error_t                          err;
    cf_aggregate_t                      agg;
    ngx_http_compensation_state_job_t  *sj;

    sj = (ngx_http_compensation_state_job_t *) rd;
    version = sj->version;

    if (cf_aggregate_init(&agg, sj->id) != 0) {
        ngx_http_compensation_answer_status(rd, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cf_error_init(&err);

    if (cf_store_load_upto(st, &agg, version < 0 ? INT64_MAX : version,
                           sj->max_time, &err)
        != 0)
    {
        ngx_http_compensation_answer_internal_error(rd, "replaying the state",
                                                  &err);
        cf_error_free(&err);
        cf_aggregate_free(&agg);
        return;
    }

    if (version >= 0 && agg.version != 0 && agg.version != version) {
        ngx_http_compensation_answer_error(rd, NGX_HTTP_BAD_REQUEST,
            CF_E_ILLEGAL_STATE,
            "The version of %s is %L, the requested version %L"
            " does not exist.", sj->id, agg.version, version);
        cf_aggregate_free(&agg);
        return;
    }

    ngx_http_compensation_state_answer(rd, &agg);
    cf_aggregate_free(&agg);
}


/* GET /execution_failed/{id}/state/{version} */
ngx_int_t
ngx_http_compensation_versioned_state_handler(ngx_http_request_t *r)
{
    return ngx_http_compensation_load_state(r, 0, INT64_MAX);
}


/* GET /execution_failed/{id}/state/time/{createTime} */
ngx_int_t
ngx_http_compensation_time_state_handler(ngx_http_request_t *r)
{
    return ngx_http_compensation_load_state(r, -1, INT64_MAX);
}


/*
 * GET /execution_failed/{id}/state/tracing[?headVersion=&tailVersion=&limit=]
 * (spec 5.3): the elements of versions headVersion..tailVersion (the last
 * `limit` of them).  The window comes from the latest version
 * (cf_tracing_window); replay always starts at version 1 and stops at the
 * window's end, and only the window's elements are built.
 */
ngx_int_t
ngx_http_compensation_tracing_handler(ngx_http_request_t *r)
{
    char                               *id;
    int64_t                             head, tail, limit;
    ngx_int_t                           rc;
    cf_error_t                          err;
    ngx_http_compensation_state_job_t  *sj;

    if (ngx_http_compensation_read_prelude(r, 0, NULL, &id, &rc)
        != NGX_OK)
    {
        return rc;
    }

    cf_error_init(&err);

    head = 1;
    tail = INT64_MAX;
    limit = -1;

    if (ngx_http_compensation_tracing_arg(r, "headVersion", 1, &head, &err)
        != NGX_OK
        || ngx_http_compensation_tracing_arg(r, "tailVersion", head, &tail,
                                             &err)
           != NGX_OK
        || ngx_http_compensation_tracing_arg(r, "limit", 0, &limit, &err)
           != NGX_OK)
    {
        rc = ngx_http_compensation_send_error(r, &err);
        cf_error_free(&err);
        return rc;
    }

    sj = ngx_http_compensation_state_job(r, id);
    if (sj == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sj->head = head;
    sj->tail = tail;
    sj->limit = limit;
    sj->rd.work = ngx_http_compensation_tracing_work;

    return ngx_http_compensation_read_post(r, &sj->rd);
}


static void
ngx_http_compensation_tracing_work(ngx_http_compensation_read_t *rd,
    cf_store_t *st)
{
    int64_t                             latest, from, to;
    cf_error_t                          err;
    ngx_http_compensation_state_job_t  *t;

    t = (ngx_http_compensation_state_job_t *) rd;

    cf_error_init(&err);

    /*
     * versions are 1..latest without gaps (cf_stream_apply refuses a gap),
     * so the window is a range of versions; the streams up to latest are
     * never rewritten, so a command committing meanwhile changes nothing
     * below it
     */

    latest = 0;

    if (t->limit != 0
        && cf_store_latest_version(st, t->id, &latest, &err) != 0)
    {
        ngx_http_compensation_answer_internal_error(rd, "tracing", &err);
        cf_error_free(&err);
        return;
    }

    cf_tracing_window(latest, t->head, t->tail, t->limit, &from, &to);

    if (cf_aggregate_init(&t->agg, t->id) != 0) {
        ngx_http_compensation_answer_status(rd, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    t->from = from;
    t->err = &err;
    t->body = ngx_http_compensation_answer_body(rd, 0);

    if (ngx_http_compensation_body_add(t->body, (u_char *) "[", 1)
        != NGX_OK)
    {
        cf_aggregate_free(&t->agg);
        ngx_http_compensation_answer_status(rd, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* an empty window needs no replay */

    if (from <= to
        && cf_store_each_stream(st, t->id, 1, to,
                                ngx_http_compensation_tracing_stream, t,
                                &err)
           < 0
        && !t->body->too_large)
    {
        ngx_http_compensation_answer_internal_error(rd, "tracing", &err);
        cf_error_free(&err);
        cf_aggregate_free(&t->agg);
        return;
    }

    cf_error_free(&err);
    cf_aggregate_free(&t->agg);

    if (!t->body->too_large
        && ngx_http_compensation_body_add(t->body, (u_char *) "]", 1)
           == NGX_ERROR)
    {
        ngx_http_compensation_answer_status(rd, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static int
ngx_http_compensation_tracing_stream(void *data, const cf_stream_view_t *row)
{
    json_t                             *doc;
    ngx_int_t                           rc;
    ngx_http_compensation_state_job_t  *t = data;

    if (cf_stream_apply(&t->agg, row, t->err) != 0) {
        return -1;
    }

    if (row->version < t->from) {
        return 0;
    }

    doc = cf_state_event_to_json(row, &t->agg, NULL);

    if (doc == NULL) {
        cf_error_set(t->err, CF_E_INTERNAL, "out of memory");
        return -1;
    }

    rc = ngx_http_compensation_body_add_json(t->body,
                                             t->body->n ? "," : "", doc, "");
    json_decref(doc);

    if (rc == NGX_DECLINED) {
        /* over the budget: the handler answers the error naming it */
        cf_error_set(t->err, CF_E_ILLEGAL_ARGUMENT, "too large");
        return -1;
    }

    if (rc != NGX_OK) {
        cf_error_set(t->err, CF_E_INTERNAL, "out of memory");
        return -1;
    }

    return 0;
}


/* an optional integer query parameter >= min; blank or bad: 400 */
static ngx_int_t
ngx_http_compensation_tracing_arg(ngx_http_request_t *r, const char *name,
    int64_t min, int64_t *value, cf_error_t *err)
{
    size_t     len;
    ngx_str_t  v;

    len = ngx_strlen(name);

    if (ngx_http_arg(r, (u_char *) name, len, &v) != NGX_OK) {
        return NGX_OK;
    }

    if (cf_int_parse(v.data, v.len, INT64_MAX, value) != 0
        || *value < min)
    {
        cf_error_add_binding(err, name,
                             "must be an integer >= %lld, not \"%.*s\"",
                             (long long) min,
                             (int) ngx_min(v.len, 64), v.data);
        return NGX_ERROR;
    }

    return NGX_OK;
}
