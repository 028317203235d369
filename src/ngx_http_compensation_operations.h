
/*
 * ngx_compensation: the dispatch's HTTP routes: the retry action (POST
 * .../actions), the operations listing and Cancel (the fabric-style
 * routes); the writes run on the store executor.
 *
 * Dependencies: ngx_http_compensation_module.h.
 */


#ifndef _NGX_HTTP_COMPENSATION_OPERATIONS_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_OPERATIONS_H_INCLUDED_


#include "ngx_http_compensation_module.h"


ngx_int_t ngx_http_compensation_actions_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_operations_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_cancel_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_api_version(ngx_str_t *v);


#endif /* _NGX_HTTP_COMPENSATION_OPERATIONS_H_INCLUDED_ */
