
/*
 * ngx_compensation: compensation_notify: a message about a committed command,
 * posted through the sink after its reply.
 */


#ifndef _NGX_HTTP_COMPENSATION_NOTIFY_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_NOTIFY_H_INCLUDED_


#include "ngx_http_compensation_module.h"


char *ngx_http_compensation_notify(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* whether a command of this type in this location is notified about: its
 * write then keeps the state it leaves (cf_exec_input_t.want_state) */
ngx_uint_t ngx_http_compensation_notify_wanted(
    ngx_http_compensation_loc_conf_t *lcf, ngx_int_t command);
void ngx_http_compensation_notify_command(ngx_http_request_t *r,
    ngx_int_t command, const char *aggregate_id, const char *state,
    ngx_uint_t *inflight);


#endif /* _NGX_HTTP_COMPENSATION_NOTIFY_H_INCLUDED_ */
