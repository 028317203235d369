
/*
 * ngx_compensation: the command routes (spec 2, 3.2-3.5).
 */


#ifndef _NGX_HTTP_COMPENSATION_COMMAND_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_COMMAND_H_INCLUDED_


#include "ngx_http_compensation_module.h"


ngx_int_t ngx_http_compensation_command_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_COMPENSATION_COMMAND_H_INCLUDED_ */
