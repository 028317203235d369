
/*
 * ngx_compensation: the answer of a command (spec 3.3): a CommandResult for
 * the last stage reached, or with Accept: text/event-stream one per stage.
 */


#ifndef _NGX_HTTP_COMPENSATION_RESULT_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_RESULT_H_INCLUDED_


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_command_headers.h"


/* answers the command of type command (cf_command_type_t) with out */
ngx_int_t ngx_http_compensation_result_send(ngx_http_request_t *r,
    ngx_http_compensation_cmd_headers_t *ch, ngx_int_t command,
    cf_exec_output_t *out, int64_t now);


#endif /* _NGX_HTTP_COMPENSATION_RESULT_H_INCLUDED_ */
