
/*
 * ngx_compensation: the snapshot routes (spec 3.7, 5.1): get the stored
 * snapshot document, regenerate one snapshot from its events, and the batch
 * regeneration with the BatchResult cursor.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_request.h"
#include "ngx_http_compensation_response.h"
#include "ngx_http_compensation_snapshot.h"
#include "cf_history.h"


/* the largest {limit} of a batch route: one request blocks its worker */

static ngx_int_t ngx_http_compensation_send_empty(ngx_http_request_t *r);


/* GET /execution_failed/{id}/snapshot */
ngx_int_t
ngx_http_compensation_snapshot_get_handler(ngx_http_request_t *r)
{
    int                                 rc_store;
    char                               *id;
    json_t                             *doc;
    ngx_int_t                           rc;
    cf_snapshot_row_t                   row;
    ngx_http_compensation_main_conf_t  *mcf;

    if (ngx_http_compensation_read_prelude(r, 0, NULL, &id, &rc)
        != NGX_OK)
    {
        return rc;
    }

    mcf = ngx_http_compensation_store_conf(r);

    rc_store = cf_store_read_snapshot(mcf->store, id, &row);

    if (rc_store == CF_STORE_NOT_FOUND || (rc_store == 0 && row.deleted)) {
        if (rc_store == 0) {
            cf_snapshot_row_free(&row);
        }

        /* the implicit not-deleted filter of the snapshot queries */
        return ngx_http_compensation_send_error_code(r, NGX_HTTP_NOT_FOUND,
                   CF_E_NOT_FOUND, "No snapshot of %s.", id);
    }

    if (rc_store != 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "compensation: reading the snapshot of \"%s\""
                      " failed: %s", id, cf_store_errmsg(mcf->store));
        return ngx_http_compensation_internal_error(r, "reading a snapshot",
                                                    NULL);
    }

    doc = cf_snapshot_to_json(&row);
    cf_snapshot_row_free(&row);

    if (doc == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "compensation: the snapshot row of \"%s\" is damaged;"
                      " PUT .../execution_failed/%s/snapshot regenerates it"
                      " from the events", id, id);
        return ngx_http_compensation_send_error_code(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, CF_E_INTERNAL,
                   "Unexpected server error");
    }

    rc = ngx_http_compensation_send_json(r, NGX_HTTP_OK, CF_OK, doc);
    json_decref(doc);

    return rc;
}


/* PUT /execution_failed/{id}/snapshot: 200 with an empty body */
ngx_int_t
ngx_http_compensation_snapshot_put_handler(ngx_http_request_t *r)
{
    int                                 rc_store;
    char                               *id;
    ngx_int_t                           rc;
    cf_error_t                          err;
    ngx_http_compensation_main_conf_t  *mcf;

    if (ngx_http_compensation_read_prelude(r, 0, NULL, &id, &rc)
        != NGX_OK)
    {
        return rc;
    }

    mcf = ngx_http_compensation_store_conf(r);

    cf_error_init(&err);

    rc_store = cf_store_regenerate_snapshot(mcf->store, id,
                                            ngx_http_compensation_now_ms(),
                                            &err);

    switch (rc_store) {

    case 0:
        rc = ngx_http_compensation_send_empty(r);
        break;

    case CF_STORE_NOT_FOUND:
        rc = ngx_http_compensation_send_error_code(r, NGX_HTTP_NOT_FOUND,
                 CF_E_NOT_FOUND, "%s has no events to source.", id);
        break;

    case CF_STORE_BUSY:
        rc = ngx_http_compensation_send_error_code(r,
                 NGX_HTTP_REQUEST_TIME_OUT, CF_E_REQUEST_TIMEOUT,
                 "The store stayed locked by other writers.");
        break;

    default:
        rc = ngx_http_compensation_internal_error(r,
                 "regenerating a snapshot", &err);
    }

    cf_error_free(&err);

    return rc;
}


/*
 * PUT /execution_failed/snapshot/{afterId}/{limit}: regenerates the
 * snapshots of the next `limit` aggregates after the cursor, one
 * transaction each.  BatchResult: afterId is the last id processed (the next
 * cursor), size how many were processed, the first error's code and message.
 */
ngx_int_t
ngx_http_compensation_snapshot_batch_handler(ngx_http_request_t *r)
{
    int                                 rc_store;
    char                               *after, **ids, *last;
    size_t                              n, i;
    json_t                             *res;
    int64_t                             limit;
    ngx_int_t                           rc;
    cf_error_t                          err, first;
    ngx_http_compensation_main_conf_t  *mcf;

    if (ngx_http_compensation_batch_prelude(r, &after, &limit, &rc)
        != NGX_OK)
    {
        return rc;
    }

    mcf = ngx_http_compensation_store_conf(r);

    if (cf_store_scan_ids(mcf->store, after, limit, &ids, &n) != 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "compensation: scanning aggregate ids failed: %s",
                      cf_store_errmsg(mcf->store));
        return ngx_http_compensation_internal_error(r, "a batch", NULL);
    }

    cf_error_init(&first);
    last = after;

    for (i = 0; i < n; i++) {
        cf_error_init(&err);

        rc_store = cf_store_regenerate_snapshot(mcf->store, ids[i],
                                                ngx_http_compensation_now_ms(),
                                                &err);

        if (rc_store != 0 && rc_store != CF_STORE_NOT_FOUND) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "compensation: regenerating the snapshot of \"%s\""
                          " failed: %s", ids[i], err.msg);

            if (cf_error_is_ok(&first)) {
                cf_error_set(&first, err.code, "%s: %s", ids[i],
                             rc_store == CF_STORE_BUSY
                             ? "the store stayed locked"
                             : "Unexpected server error");
            }
        }

        cf_error_free(&err);
        last = ids[i];
    }

    res = cf_batch_result_to_json(last, (int64_t) n, first.code, first.msg);
    rc = res ? ngx_http_compensation_send_json(r, NGX_HTTP_OK, first.code,
                                               res)
             : NGX_HTTP_INTERNAL_SERVER_ERROR;

    json_decref(res);
    cf_ids_free(ids, n);
    cf_error_free(&first);

    return rc;
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
