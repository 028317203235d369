
/*
 * ngx_compensation: the dispatch scheduler, the retry action and cancel.
 */


#ifndef _NGX_HTTP_COMPENSATION_SCHEDULER_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_SCHEDULER_H_INCLUDED_


#include "ngx_http_compensation_module.h"


char *ngx_http_compensation_scheduler(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_compensation_target(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_compensation_scheduler_init_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf);
void ngx_http_compensation_scheduler_exit_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf);

ngx_int_t ngx_http_compensation_actions_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_operations_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_cancel_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_api_version(ngx_str_t *v);


#endif /* _NGX_HTTP_COMPENSATION_SCHEDULER_H_INCLUDED_ */
