
/*
 * ngx_compensation: the Wow routes of spec 6: the command facade, wait signals,
 * metadata.
 */


#ifndef _NGX_HTTP_COMPENSATION_WOW_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_WOW_H_INCLUDED_


#include "ngx_http_compensation_module.h"


ngx_int_t ngx_http_compensation_send_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_wait_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_metadata_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_COMPENSATION_WOW_H_INCLUDED_ */
