
/*
 * ngx_compensation: POST/GET /wow/bi/script (spec 6.5).
 */


#ifndef _NGX_HTTP_COMPENSATION_BI_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_BI_H_INCLUDED_


#include "ngx_http_compensation_module.h"


ngx_int_t ngx_http_compensation_bi_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_COMPENSATION_BI_H_INCLUDED_ */
