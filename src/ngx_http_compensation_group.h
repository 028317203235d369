
/*
 * ngx_compensation: a command between its body and its reply: queued, run
 * against the store (on the event loop, or in the store thread), then replied
 * to on the event loop.
 */


#ifndef _NGX_HTTP_COMPENSATION_GROUP_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_GROUP_H_INCLUDED_


#include "ngx_http_compensation_module.h"


/*
 * A command between its body and its reply (ngx_http_compensation_group.c):
 * queued, run against the store (on the event loop, or in the store thread),
 * then passed to reply on the event loop, whose return finalizes r.  r is
 * NULL when the request was freed while the command was queued (it still
 * runs): reply then frees the command and returns NGX_DONE.
 */
typedef struct ngx_http_compensation_pending_s
    ngx_http_compensation_pending_t;

struct ngx_http_compensation_pending_s {
    cf_exec_cmd_t              exec;           /* first: the executor's */
    ngx_http_request_t        *r;
    ngx_msec_t                 busy;           /* its wait: its deadline */
    unsigned                   queued:1;       /* in a group until reply */
    ngx_int_t                (*reply)(ngx_http_compensation_pending_t *pc);
};

ngx_int_t ngx_http_compensation_group_init_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf, cf_store_options_t *opts);
void ngx_http_compensation_group_exit_process(
    ngx_http_compensation_main_conf_t *mcf);
ngx_uint_t ngx_http_compensation_group_queued(
    ngx_http_compensation_main_conf_t *mcf);
void ngx_http_compensation_group_add(ngx_http_compensation_main_conf_t *mcf,
    ngx_http_compensation_pending_t *pc);
void ngx_http_compensation_group_run(ngx_http_compensation_main_conf_t *mcf,
    ngx_http_compensation_pending_t *pc);


#endif /* _NGX_HTTP_COMPENSATION_GROUP_H_INCLUDED_ */
