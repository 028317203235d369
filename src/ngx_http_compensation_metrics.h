
/*
 * ngx_compensation: the metrics: GET /actuator/prometheus, the
 * compensation_metrics zone of atomic counters and the hooks that feed it
 * (every hook is one atomic add).
 */


#ifndef _NGX_HTTP_COMPENSATION_METRICS_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_METRICS_H_INCLUDED_


#include "ngx_http_compensation_module.h"


ngx_int_t ngx_http_compensation_metrics_conf(ngx_conf_t *cf,
    ngx_http_compensation_main_conf_t *mcf);
ngx_int_t ngx_http_compensation_metrics_postconf(ngx_conf_t *cf);
ngx_int_t ngx_http_compensation_prometheus_handler(ngx_http_request_t *r);
void ngx_http_compensation_metrics_init_process(
    ngx_http_compensation_main_conf_t *mcf);
void ngx_http_compensation_metrics_group(ngx_uint_t n);
void ngx_http_compensation_metrics_dispatch_start(json_t *state,
    int64_t now);
void ngx_http_compensation_metrics_sink(const char *kind, ngx_uint_t ok);


#endif /* _NGX_HTTP_COMPENSATION_METRICS_H_INCLUDED_ */
