
/*
 * ngx_compensation: the route table and the router (spec 3.1): a request's
 * route and its {var} segments, or 404 / 405 with Allow.
 */


#ifndef _NGX_HTTP_COMPENSATION_ROUTER_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_ROUTER_H_INCLUDED_


#include "ngx_http_compensation_module.h"


typedef ngx_int_t (*ngx_http_compensation_handler_pt)(ngx_http_request_t *r);


struct ngx_http_compensation_route_s {
    ngx_uint_t                             method;     /* NGX_HTTP_GET, ... */
    const char                            *pattern;    /* "/execution_failed/{id}" */
    ngx_http_compensation_handler_pt       handler;
    ngx_int_t                              command;    /* cf_command_type_t
                                                          or -1 */
    const char                            *summary;
    unsigned                               sse:1;      /* may answer SSE */
    unsigned                               no_store:1; /* served without
                                                          the store */
    unsigned                               mutating:1; /* writes: needs
                                                          X-Auth-Token when
                                                          compensation_auth_
                                                          token is set */
};


ngx_int_t ngx_http_compensation_route(ngx_http_request_t *r,
    ngx_http_compensation_ctx_t *ctx);
ngx_int_t ngx_http_compensation_route_match(ngx_http_request_t *r,
    ngx_http_compensation_ctx_t *ctx, ngx_uint_t *methods);
ngx_http_compensation_ctx_t *ngx_http_compensation_get_ctx(
    ngx_http_request_t *r);

/* the route table itself (ends with a NULL pattern), for the OpenAPI
 * document */
const ngx_http_compensation_route_t *ngx_http_compensation_route_table(
    void);
/* builds the matcher's table: once per process, at its start */
void ngx_http_compensation_router_init(ngx_log_t *log);


#endif /* _NGX_HTTP_COMPENSATION_ROUTER_H_INCLUDED_ */
