
/*
 * ngx_compensation: the snapshot routes: one snapshot, its regeneration, the
 * batch.
 */


#ifndef _NGX_HTTP_COMPENSATION_SNAPSHOT_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_SNAPSHOT_H_INCLUDED_


#include "ngx_http_compensation_module.h"


ngx_int_t ngx_http_compensation_snapshot_get_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_snapshot_put_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_snapshot_batch_handler(
    ngx_http_request_t *r);


#endif /* _NGX_HTTP_COMPENSATION_SNAPSHOT_H_INCLUDED_ */
