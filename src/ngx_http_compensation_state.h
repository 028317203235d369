
/*
 * ngx_compensation: the state read routes (spec 3.6, 5.3): latest, versioned
 * and time-based state, tracing.
 */


#ifndef _NGX_HTTP_COMPENSATION_STATE_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_STATE_H_INCLUDED_


#include "ngx_http_compensation_module.h"


ngx_int_t ngx_http_compensation_state_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_versioned_state_handler(
    ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_time_state_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_tracing_handler(ngx_http_request_t *r);

/* posted once per event-loop iteration: ends the shared read transaction */
void ngx_http_compensation_read_release(ngx_event_t *ev);


#endif /* _NGX_HTTP_COMPENSATION_STATE_H_INCLUDED_ */
