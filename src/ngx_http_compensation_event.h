
/*
 * ngx_compensation: the event-stream routes: load, the state-event resend and
 * event compensate (through the sink).
 */


#ifndef _NGX_HTTP_COMPENSATION_EVENT_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_EVENT_H_INCLUDED_


#include "ngx_http_compensation_module.h"


ngx_int_t ngx_http_compensation_event_load_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_resend_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_compensate_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_COMPENSATION_EVENT_H_INCLUDED_ */
