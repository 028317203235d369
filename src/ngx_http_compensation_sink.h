
/*
 * ngx_compensation: the sink: JSON documents POSTed to the compensation_sink
 * location through background subrequests.
 */


#ifndef _NGX_HTTP_COMPENSATION_SINK_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_SINK_H_INCLUDED_


#include "ngx_http_compensation_module.h"


/*
 * The sink (ngx_http_compensation_sink.c): POSTs one JSON document to the
 * compensation_sink location through a background subrequest of r; done is
 * called when the sink answered (ok: a 2xx status) or failed.  Usable by
 * any handler that keeps r alive until done (the state-event resend, event
 * compensate and, later, notifications about new events).
 */
typedef void (*ngx_http_compensation_sink_done_pt)(ngx_http_request_t *r,
    void *data, ngx_uint_t ok, ngx_uint_t status);

ngx_int_t ngx_http_compensation_sink_post(ngx_http_request_t *r,
    ngx_str_t *doc, const char *kind,
    ngx_http_compensation_sink_done_pt done, void *data);

/* the same to another location (the notifications') */
ngx_int_t ngx_http_compensation_sink_post_to(ngx_http_request_t *r,
    ngx_str_t *uri, ngx_str_t *doc, const char *kind,
    ngx_http_compensation_sink_done_pt done, void *data);

/*
 * Sends docs[0..n) one after another to the sink and then calls done with
 * the number delivered (all, or up to the first failure).  The caller
 * returns NGX_DONE after r->main->count++ (or from a body handler) and
 * finalizes r in done.
 */
typedef void (*ngx_http_compensation_sink_batch_pt)(ngx_http_request_t *r,
    void *data, ngx_uint_t delivered, ngx_uint_t status);

ngx_int_t ngx_http_compensation_sink_batch(ngx_http_request_t *r,
    ngx_str_t *docs, ngx_uint_t n, const char *kind,
    ngx_http_compensation_sink_batch_pt done, void *data);


#endif /* _NGX_HTTP_COMPENSATION_SINK_H_INCLUDED_ */
