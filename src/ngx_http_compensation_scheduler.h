
/*
 * ngx_compensation: the dispatch scheduler of a process (the timer, the
 * dispatch transaction, the calls).
 *
 * Dependencies: ngx_http_compensation_module.h.
 */


#ifndef _NGX_HTTP_COMPENSATION_SCHEDULER_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_SCHEDULER_H_INCLUDED_


#include "ngx_http_compensation_module.h"


ngx_int_t ngx_http_compensation_scheduler_init_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf);
void ngx_http_compensation_scheduler_exit_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf);


#endif /* _NGX_HTTP_COMPENSATION_SCHEDULER_H_INCLUDED_ */
