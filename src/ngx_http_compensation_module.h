
/*
 * ngx_compensation: the Wow compensation service as an nginx HTTP module.
 * Shared declarations of the nginx glue.
 */


#ifndef _NGX_HTTP_COMPENSATION_MODULE_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "cf_domain.h"
#include "cf_store.h"
#include "cf_service.h"


#define NGX_HTTP_COMPENSATION_NOT_ACCEPTABLE  406
#define NGX_HTTP_COMPENSATION_MAX_HEADER_LEN  4096
#define NGX_HTTP_COMPENSATION_MAX_EXT_HEADERS 64


typedef struct {
    ngx_str_t                 store_path;      /* absolute, NUL-terminated */
    ngx_flag_t                sync_full;
    ngx_msec_t                busy_timeout;
    ngx_uint_t                machine_id;      /* NGX_CONF_UNSET_UINT: pid */
    cf_retry_spec_t           default_spec;
    ngx_flag_t                default_spec_set;

    /* per worker process, set in init_process */
    cf_store_t               *store;
    cf_id_gen_t               ids;
    ngx_log_t                *log;
} ngx_http_compensation_main_conf_t;


typedef struct {
    ngx_flag_t                api;
    size_t                    max_body_size;
} ngx_http_compensation_loc_conf_t;


typedef struct ngx_http_compensation_route_s  ngx_http_compensation_route_t;

typedef ngx_int_t (*ngx_http_compensation_handler_pt)(ngx_http_request_t *r);

#define NGX_HTTP_COMPENSATION_MAX_VARS  4

/* what the router found for a request; the request ctx */
typedef struct {
    const ngx_http_compensation_route_t   *route;
    ngx_str_t                              vars[NGX_HTTP_COMPENSATION_MAX_VARS];
    ngx_uint_t                             nvars;
    unsigned                               sse:1;
} ngx_http_compensation_ctx_t;


struct ngx_http_compensation_route_s {
    ngx_uint_t                             method;     /* NGX_HTTP_GET, ... */
    const char                            *pattern;    /* "/execution_failed/{id}" */
    ngx_http_compensation_handler_pt       handler;
    ngx_int_t                              command;    /* cf_command_type_t
                                                          or -1 */
    const char                            *summary;
    unsigned                               sse:1;      /* may answer SSE */
};


extern ngx_module_t  ngx_http_compensation_module;


/* router */
ngx_int_t ngx_http_compensation_route(ngx_http_request_t *r,
    ngx_http_compensation_ctx_t *ctx);

/* responses */
ngx_int_t ngx_http_compensation_send_json(ngx_http_request_t *r,
    ngx_uint_t status, const char *error_code, json_t *json);
ngx_int_t ngx_http_compensation_send_error(ngx_http_request_t *r,
    cf_error_t *err);
ngx_int_t ngx_http_compensation_send_error_code(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *fmt, ...);
ngx_int_t ngx_http_compensation_send_sse(ngx_http_request_t *r,
    const char *error_code, ngx_chain_t *events);
ngx_chain_t *ngx_http_compensation_sse_event(ngx_http_request_t *r,
    const char *id, const char *event, json_t *data);
ngx_int_t ngx_http_compensation_json_cleanup(ngx_pool_t *pool, json_t *json);
ngx_int_t ngx_http_compensation_accepts(ngx_http_request_t *r,
    ngx_uint_t sse_allowed, ngx_uint_t *sse);
ngx_str_t *ngx_http_compensation_header(ngx_http_request_t *r,
    const char *name, size_t len);
char *ngx_http_compensation_strdup(ngx_pool_t *pool, ngx_str_t *s);
int64_t ngx_http_compensation_now_ms(void);

/* route handlers */
ngx_int_t ngx_http_compensation_command_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_state_handler(ngx_http_request_t *r);

/* shared by handlers */
ngx_http_compensation_main_conf_t *ngx_http_compensation_store_conf(
    ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_check_id(ngx_http_request_t *r,
    ngx_str_t *id);


#endif /* _NGX_HTTP_COMPENSATION_MODULE_H_INCLUDED_ */
