
/*
 * ngx_compensation: the scheduler's configuration (compensation_scheduler,
 * compensation_target), shared by its directives and the scheduler.
 *
 * Dependencies: ngx_http_compensation_module.h.
 */


#ifndef _NGX_HTTP_COMPENSATION_SCHEDULER_CONF_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_SCHEDULER_CONF_H_INCLUDED_


#include "ngx_http_compensation_module.h"


/* the scheduler of a process (ngx_http_compensation_scheduler.c) */
typedef struct ngx_http_compensation_sched_s  ngx_http_compensation_sched_t;


typedef struct {
    ngx_str_t                              context;
    ngx_str_t                              uri;
    ngx_uint_t                             sync;
} ngx_http_compensation_target_t;


struct ngx_http_compensation_sched_conf_s {
    ngx_flag_t                             enabled;
    ngx_msec_t                             interval;
    ngx_uint_t                             batch;
    ngx_uint_t                             concurrency;
    ngx_msec_t                             lease;
    ngx_msec_t                             cancel_check;
    ngx_array_t                            targets;
    ngx_http_conf_ctx_t                   *srv_ctx;  /* the targets' server */
    ngx_http_compensation_sched_t         *sched;    /* per process */
};


char *ngx_http_compensation_scheduler(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_compensation_target(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_COMPENSATION_SCHEDULER_CONF_H_INCLUDED_ */
