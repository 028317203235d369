
/*
 * ngx_compensation: the snapshot routes (spec 3.7, 5.1): get the stored
 * snapshot document, regenerate one snapshot from its events, and the batch
 * regeneration with the BatchResult cursor.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_executor.h"
#include "ngx_http_compensation_read.h"
#include "ngx_http_compensation_request.h"
#include "ngx_http_compensation_response.h"
#include "ngx_http_compensation_snapshot.h"
#include "cf_history.h"


/*
 * Snapshots a batch regenerates per turn of the store executor: the command
 * groups queued meanwhile go between two turns, so a batch of 1,000 does
 * not hold them past their deadlines
 */
#define NGX_HTTP_COMPENSATION_BATCH_TURN  32


static ngx_int_t ngx_http_compensation_send_empty(ngx_http_request_t *r);


/* GET /execution_failed/{id}/snapshot: a read job */
typedef struct {
    ngx_http_compensation_read_t   rd;
    char                          *id;           /* after the struct */
} ngx_http_compensation_snapshot_read_t;


static void ngx_http_compensation_snapshot_read_work(
    ngx_http_compensation_read_t *rd, cf_store_t *st);


ngx_int_t
ngx_http_compensation_snapshot_get_handler(ngx_http_request_t *r)
{
    char                                  *id;
    size_t                                 len;
    ngx_int_t                              rc;
    ngx_http_compensation_snapshot_read_t  *g;

    if (ngx_http_compensation_read_prelude(r, 0, NULL, &id, &rc)
        != NGX_OK)
    {
        return rc;
    }

    len = ngx_strlen(id);

    g = ngx_http_compensation_read_alloc(r,
            sizeof(ngx_http_compensation_snapshot_read_t) + len + 1);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    g->id = (char *) (g + 1);
    ngx_memcpy(g->id, id, len + 1);
    g->rd.work = ngx_http_compensation_snapshot_read_work;

    return ngx_http_compensation_read_post(r, &g->rd);
}


static void
ngx_http_compensation_snapshot_read_work(ngx_http_compensation_read_t *rd,
    cf_store_t *st)
{
    int                                     rc_store;
    json_t                                 *doc;
    cf_snapshot_row_t                       row;
    ngx_http_compensation_snapshot_read_t  *g;

    g = (ngx_http_compensation_snapshot_read_t *) rd;

    rc_store = cf_store_read_snapshot(st, g->id, &row);

    if (rc_store == CF_STORE_NOT_FOUND || (rc_store == 0 && row.deleted)) {
        if (rc_store == 0) {
            cf_snapshot_row_free(&row);
        }

        /* the implicit not-deleted filter of the snapshot queries */
        ngx_http_compensation_answer_error(rd, NGX_HTTP_NOT_FOUND,
                                         CF_E_NOT_FOUND, "No snapshot of %s.",
                                         g->id);
        return;
    }

    if (rc_store != 0) {
        ngx_http_compensation_answer_log(rd, NGX_LOG_ERR,
                                       "compensation: reading the snapshot"
                                       " of \"%s\" failed: %s", g->id,
                                       cf_store_errmsg(st));
        ngx_http_compensation_answer_internal_error(rd, "reading a snapshot",
                                                  NULL);
        return;
    }

    doc = cf_snapshot_to_json(&row);
    cf_snapshot_row_free(&row);

    if (doc == NULL) {
        ngx_http_compensation_answer_log(rd, NGX_LOG_ERR,
                                       "compensation: the snapshot row of"
                                       " \"%s\" is damaged; PUT"
                                       " .../execution_failed/%s/snapshot"
                                       " regenerates it from the events",
                                       g->id, g->id);
        ngx_http_compensation_answer_error(rd, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                         CF_E_INTERNAL,
                                         "Unexpected server error");
        return;
    }

    ngx_http_compensation_answer_json(rd, NGX_HTTP_OK, CF_OK, doc);
}


/* the regeneration of one snapshot, in the store thread */
typedef struct {
    ngx_http_compensation_rjob_t   rj;
    int                            rc_store;
    cf_error_t                     err;
    char                          *id;           /* after the struct */
} ngx_http_compensation_regen_t;


/* a batch regeneration, in the store thread */
typedef struct {
    ngx_http_compensation_rjob_t   rj;
    int64_t                        limit;
    char                         **ids;
    size_t                         n;
    size_t                         done;         /* regenerated so far */
    int                            scanned;
    int                            scan_failed;
    ngx_uint_t                     failed;
    cf_error_t                     first;        /* BatchResult's */
    char                           first_log[600];
    char                          *after;        /* after the struct */
} ngx_http_compensation_regen_batch_t;


static void ngx_http_compensation_regen_work(
    ngx_http_compensation_rjob_t *rj, cf_store_t *st);
static ngx_int_t ngx_http_compensation_regen_reply(
    ngx_http_compensation_rjob_t *rj);
static void ngx_http_compensation_regen_free(
    ngx_http_compensation_rjob_t *rj);
static void ngx_http_compensation_regen_batch_work(
    ngx_http_compensation_rjob_t *rj, cf_store_t *st);
static ngx_int_t ngx_http_compensation_regen_batch_reply(
    ngx_http_compensation_rjob_t *rj);
static void ngx_http_compensation_regen_batch_free(
    ngx_http_compensation_rjob_t *rj);


/*
 * PUT /execution_failed/{id}/snapshot: 200 with an empty body.  A write
 * transaction (it can wait for the write lock): the store executor's work.
 */
ngx_int_t
ngx_http_compensation_snapshot_put_handler(ngx_http_request_t *r)
{
    char                           *id;
    size_t                          len;
    ngx_int_t                       rc;
    ngx_http_compensation_regen_t  *g;

    if (ngx_http_compensation_read_prelude(r, 0, NULL, &id, &rc)
        != NGX_OK)
    {
        return rc;
    }

    len = ngx_strlen(id);

    g = ngx_http_compensation_rjob_alloc(r,
            sizeof(ngx_http_compensation_regen_t) + len + 1);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    g->id = (char *) (g + 1);
    ngx_memcpy(g->id, id, len + 1);
    cf_error_init(&g->err);

    g->rj.work = ngx_http_compensation_regen_work;
    g->rj.reply = ngx_http_compensation_regen_reply;
    g->rj.free = ngx_http_compensation_regen_free;

    return ngx_http_compensation_rjob_post(r, &g->rj);
}


static void
ngx_http_compensation_regen_work(ngx_http_compensation_rjob_t *rj,
    cf_store_t *st)
{
    ngx_http_compensation_regen_t  *g = (ngx_http_compensation_regen_t *) rj;

    g->rc_store = cf_store_regenerate_snapshot(st, g->id,
                                               ngx_http_compensation_now_ms(),
                                               &g->err);
}


static ngx_int_t
ngx_http_compensation_regen_reply(ngx_http_compensation_rjob_t *rj)
{
    ngx_int_t                       rc;
    ngx_http_request_t             *r = rj->r;
    ngx_http_compensation_regen_t  *g = (ngx_http_compensation_regen_t *) rj;

    switch (g->rc_store) {

    case 0:
        rc = ngx_http_compensation_send_empty(r);
        break;

    case CF_STORE_NOT_FOUND:
        rc = ngx_http_compensation_send_error_code(r, NGX_HTTP_NOT_FOUND,
                 CF_E_NOT_FOUND, "%s has no events to source.", g->id);
        break;

    case CF_STORE_BUSY:
        rc = ngx_http_compensation_send_error_code(r,
                 NGX_HTTP_REQUEST_TIME_OUT, CF_E_REQUEST_TIMEOUT,
                 "The store stayed locked by other writers.");
        break;

    default:
        rc = ngx_http_compensation_internal_error(r,
                 "regenerating a snapshot", &g->err);
    }

    return rc;
}


static void
ngx_http_compensation_regen_free(ngx_http_compensation_rjob_t *rj)
{
    cf_error_free(&((ngx_http_compensation_regen_t *) rj)->err);
}


/*
 * PUT /execution_failed/snapshot/{afterId}/{limit}: regenerates the
 * snapshots of the next `limit` aggregates after the cursor, one
 * transaction each, in the store executor (up to 1,000 replays: never on
 * the event loop), NGX_HTTP_COMPENSATION_BATCH_TURN per turn.  BatchResult:
 * afterId is the last id processed (the next cursor), size how many were processed, the first error's code and message.
 */
ngx_int_t
ngx_http_compensation_snapshot_batch_handler(ngx_http_request_t *r)
{
    char                                 *after;
    size_t                                len;
    int64_t                               limit;
    ngx_int_t                             rc;
    ngx_http_compensation_regen_batch_t  *g;

    if (ngx_http_compensation_batch_prelude(r, &after, &limit, &rc)
        != NGX_OK)
    {
        return rc;
    }

    len = ngx_strlen(after);

    g = ngx_http_compensation_rjob_alloc(r,
            sizeof(ngx_http_compensation_regen_batch_t) + len + 1);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    g->after = (char *) (g + 1);
    ngx_memcpy(g->after, after, len + 1);
    g->limit = limit;
    cf_error_init(&g->first);

    g->rj.work = ngx_http_compensation_regen_batch_work;
    g->rj.reply = ngx_http_compensation_regen_batch_reply;
    g->rj.free = ngx_http_compensation_regen_batch_free;

    return ngx_http_compensation_rjob_post(r, &g->rj);
}


static void
ngx_http_compensation_regen_batch_work(ngx_http_compensation_rjob_t *rj,
    cf_store_t *st)
{
    int                                   rc_store;
    size_t                                i;
    cf_error_t                            err;
    ngx_http_compensation_regen_batch_t  *g;

    g = (ngx_http_compensation_regen_batch_t *) rj;

    if (!g->scanned) {
        g->scanned = 1;

        if (cf_store_scan_ids(st, g->after, g->limit, &g->ids, &g->n) != 0)
        {
            g->scan_failed = 1;
            ngx_cpystrn((u_char *) g->first_log,
                        (u_char *) cf_store_errmsg(st), sizeof(g->first_log));
            g->ids = NULL;
            g->n = 0;
            return;
        }
    }

    for (i = g->done;
         i < g->n && i < g->done + NGX_HTTP_COMPENSATION_BATCH_TURN;
         i++)
    {
        cf_error_init(&err);

        rc_store = cf_store_regenerate_snapshot(st, g->ids[i],
                                                ngx_http_compensation_now_ms(),
                                                &err);

        if (rc_store != 0 && rc_store != CF_STORE_NOT_FOUND) {
            if (g->failed++ == 0) {
                ngx_snprintf((u_char *) g->first_log, sizeof(g->first_log),
                             "\"%s\": %s%Z", g->ids[i], err.msg);
            }

            if (cf_error_is_ok(&g->first)) {
                cf_error_set(&g->first, err.code, "%s: %s", g->ids[i],
                             rc_store == CF_STORE_BUSY
                             ? "the store stayed locked"
                             : "Unexpected server error");
            }
        }

        cf_error_free(&err);
    }

    g->done = i;

    /* the rest at its next turn */
    rj->again = g->done < g->n;
}


static ngx_int_t
ngx_http_compensation_regen_batch_reply(ngx_http_compensation_rjob_t *rj)
{
    json_t                               *res;
    ngx_int_t                             rc;
    ngx_http_request_t                   *r = rj->r;
    ngx_http_compensation_regen_batch_t  *g;

    g = (ngx_http_compensation_regen_batch_t *) rj;

    if (g->scan_failed) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "compensation: scanning aggregate ids failed: %s",
                      g->first_log);
        return ngx_http_compensation_internal_error(r, "a batch", NULL);
    }

    if (g->failed) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "compensation: regenerating %ui of %uz snapshots"
                      " failed, the first %s", g->failed, g->n,
                      g->first_log);
    }

    res = cf_batch_result_to_json(g->n ? g->ids[g->n - 1] : g->after,
                                  (int64_t) g->n, g->first.code,
                                  g->first.msg);
    rc = res ? ngx_http_compensation_send_json(r, NGX_HTTP_OK, g->first.code,
                                               res)
             : NGX_HTTP_INTERNAL_SERVER_ERROR;

    json_decref(res);

    return rc;
}


static void
ngx_http_compensation_regen_batch_free(ngx_http_compensation_rjob_t *rj)
{
    ngx_http_compensation_regen_batch_t  *g;

    g = (ngx_http_compensation_regen_batch_t *) rj;

    if (g->ids) {
        cf_ids_free(g->ids, g->n);
    }

    cf_error_free(&g->first);
}


/* 200, no body, Wow-Error-Code: Ok */
static ngx_int_t
ngx_http_compensation_send_empty(ngx_http_request_t *r)
{
    ngx_int_t         rc;
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Wow-Error-Code");
    ngx_str_set(&h->value, CF_OK);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_send_special(r, NGX_HTTP_LAST);
}
