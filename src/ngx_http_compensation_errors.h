
/*
 * ngx_compensation: nginx's own error responses (413, 400, 414, ...) as the
 * JSON ErrorInfo in API locations.
 */


#ifndef _NGX_HTTP_COMPENSATION_ERRORS_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_ERRORS_H_INCLUDED_


#include "ngx_http_compensation_module.h"


ngx_int_t ngx_http_compensation_errors_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_COMPENSATION_ERRORS_H_INCLUDED_ */
