
/*
 * ngx_compensation: the query routes (spec 4): count, list, paged and single
 * snapshots and event streams.
 */


#ifndef _NGX_HTTP_COMPENSATION_QUERY_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_QUERY_H_INCLUDED_


#include "ngx_http_compensation_module.h"


ngx_int_t ngx_http_compensation_query_conf(ngx_conf_t *cf,
    ngx_http_compensation_main_conf_t *mcf);
ngx_int_t ngx_http_compensation_snapshot_count_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_snapshot_list_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_snapshot_list_state_handler(
    ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_snapshot_paged_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_snapshot_paged_state_handler(
    ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_snapshot_single_handler(
    ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_snapshot_single_state_handler(
    ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_event_count_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_event_list_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_event_paged_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_COMPENSATION_QUERY_H_INCLUDED_ */
