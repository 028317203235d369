
/*
 * ngx_compensation: /actuator/... : health and the route index.
 */


#ifndef _NGX_HTTP_COMPENSATION_ACTUATOR_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_ACTUATOR_H_INCLUDED_


#include "ngx_http_compensation_module.h"


ngx_int_t ngx_http_compensation_actuator_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_health_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_COMPENSATION_ACTUATOR_H_INCLUDED_ */
