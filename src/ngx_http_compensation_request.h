
/*
 * ngx_compensation: what the route handlers read from a request: its body
 * (read once, bounded by compensation_max_body_size, parsed as JSON with the
 * one error shape of spec 3.2), its headers, its path segments.
 */


#ifndef _NGX_HTTP_COMPENSATION_REQUEST_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_REQUEST_H_INCLUDED_


#include "ngx_http_compensation_module.h"


/*
 * Runs a handler on the request body once it is read.  What a content
 * handler returns: a Content-Length over compensation_max_body_size is
 * answered 413 PayloadTooLarge at once (the body is discarded).  run's
 * return finalizes r unless it is NGX_DONE (run keeps r: it finalizes it
 * itself later).
 */
typedef ngx_int_t (*ngx_http_compensation_body_run_pt)(ngx_http_request_t *r);

ngx_int_t ngx_http_compensation_request_body(ngx_http_request_t *r,
    ngx_http_compensation_body_run_pt run);

/*
 * The body as JSON (duplicate keys rejected), released with r's pool;
 * *json is NULL for an empty body or one of only whitespace.  NGX_OK;
 * otherwise NGX_DECLINED and *rc is what the handler returns: the error was
 * sent (413 PayloadTooLarge, 415 UnsupportedMediaType, or 400
 * IllegalArgument with the binding error "body") or could not be.
 */
ngx_int_t ngx_http_compensation_read_json(ngx_http_request_t *r,
    json_t **json, ngx_int_t *rc);

/* the whole body in one piece (NGX_DECLINED: over compensation_max_body_
 * size, nothing sent) and whether its Content-Type is JSON (NGX_OK) */
ngx_int_t ngx_http_compensation_read_body(ngx_http_request_t *r,
    ngx_str_t *body);
ngx_int_t ngx_http_compensation_json_content_type(ngx_http_request_t *r);

/*
 * The start of a route without a body: the body discarded, an acceptable
 * Accept (JSON; or SSE when sse_allowed, *sse set).  NGX_OK; otherwise
 * NGX_DECLINED and *rc is what the handler returns (406 sent, or failed).
 */
ngx_int_t ngx_http_compensation_no_body(ngx_http_request_t *r,
    ngx_uint_t sse_allowed, ngx_uint_t *sse, ngx_int_t *rc);

/*
 * The common start of the read routes: no request body, an acceptable
 * Accept, a well-formed {id}.  NGX_OK with *id set (pool memory); otherwise
 * NGX_DECLINED and *rc is what the handler returns.
 */
ngx_int_t ngx_http_compensation_read_prelude(ngx_http_request_t *r,
    ngx_uint_t sse_allowed, ngx_uint_t *sse, char **id, ngx_int_t *rc);

/*
 * The start of a batch route (POST .../{cursor}/{limit}): a read prelude
 * whose {id} is the cursor, and a limit of 1 to
 * NGX_HTTP_COMPENSATION_MAX_BATCH.  NGX_OK; otherwise NGX_DECLINED and *rc.
 */
#define NGX_HTTP_COMPENSATION_MAX_BATCH  1000

ngx_int_t ngx_http_compensation_batch_prelude(ngx_http_request_t *r,
    char **after, int64_t *limit, ngx_int_t *rc);

/*
 * The aggregate id of the path: NGX_OK with *id (pool memory; id NULL:
 * only checked); otherwise NGX_DECLINED, the 400 sent and *rc.
 */
ngx_int_t ngx_http_compensation_path_id(ngx_http_request_t *r, ngx_str_t *v,
    char **id, ngx_int_t *rc);

/*
 * A path segment as an integer from min to max (cf_int_parse: digits only).
 * NGX_OK; otherwise NGX_DECLINED, a 400 IllegalArgument naming name and
 * the value sent, and *rc.
 */
ngx_int_t ngx_http_compensation_path_int(ngx_http_request_t *r, ngx_str_t *v,
    const char *name, int64_t min, int64_t max, int64_t *value,
    ngx_int_t *rc);

/*
 * The Accept predicate of spec 3.1: a route answers JSON, and SSE where
 * allowed; no Accept means any type.  *sse: the client asks for an event
 * stream.  NGX_DECLINED: nothing acceptable (406).
 */
ngx_int_t ngx_http_compensation_accepts(ngx_http_request_t *r,
    ngx_uint_t sse_allowed, ngx_uint_t *sse);

/* the first request header of that name (case-insensitive), or NULL;
 * headers() also counts them all (*n) */
ngx_str_t *ngx_http_compensation_header(ngx_http_request_t *r,
    const char *name, size_t len);
ngx_str_t *ngx_http_compensation_headers(ngx_http_request_t *r,
    const char *name, size_t len, ngx_uint_t *n);


#endif /* _NGX_HTTP_COMPENSATION_REQUEST_H_INCLUDED_ */
