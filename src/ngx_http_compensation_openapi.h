
/*
 * ngx_compensation: GET /v3/api-docs, built once per configuration.
 */


#ifndef _NGX_HTTP_COMPENSATION_OPENAPI_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_OPENAPI_H_INCLUDED_


#include "ngx_http_compensation_module.h"


ngx_int_t ngx_http_compensation_openapi_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_openapi_init(ngx_conf_t *cf,
    ngx_http_compensation_main_conf_t *mcf);


#endif /* _NGX_HTTP_COMPENSATION_OPENAPI_H_INCLUDED_ */
