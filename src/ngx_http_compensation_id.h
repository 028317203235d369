
/*
 * ngx_compensation: ids: compensation_machine_id, the CosId zone and its
 * leases, the id routes (spec 6.4).
 */


#ifndef _NGX_HTTP_COMPENSATION_ID_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_ID_H_INCLUDED_


#include "ngx_http_compensation_module.h"


ngx_int_t ngx_http_compensation_global_id_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_cosid_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_cosid_generate_handler(
    ngx_http_request_t *r);

char *ngx_http_compensation_machine_id(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_compensation_id_conf(ngx_conf_t *cf,
    ngx_http_compensation_main_conf_t *mcf);
ngx_int_t ngx_http_compensation_id_init_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf);
void ngx_http_compensation_id_exit_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf);


#endif /* _NGX_HTTP_COMPENSATION_ID_H_INCLUDED_ */
