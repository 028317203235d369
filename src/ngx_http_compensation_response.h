
/*
 * ngx_compensation: every response of the API (JSON, SSE, text, ErrorInfo),
 * each with Wow-Error-Code (spec 3.4), and the read budgets of large bodies.
 */


#ifndef _NGX_HTTP_COMPENSATION_RESPONSE_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_RESPONSE_H_INCLUDED_


#include "ngx_http_compensation_module.h"


#define NGX_HTTP_COMPENSATION_NOT_ACCEPTABLE  406


/* a response body written in chunks under a budget */
typedef struct {
    ngx_pool_t               *pool;            /* the chunks' */
    cf_buf_t                 *text;            /* a document's text; NULL:
                                                  the worker's buffer (the
                                                  event loop only) */
    ngx_chain_t              *head;
    ngx_chain_t             **last;
    ngx_buf_t                *buf;             /* the chunk being filled */
    size_t                    size;
    size_t                    max;             /* compensation_read_max_
                                                  size */
    ngx_uint_t                n;               /* documents added */
    unsigned                  too_large:1;
} ngx_http_compensation_body_t;

void ngx_http_compensation_body_init(ngx_http_request_t *r,
    ngx_http_compensation_body_t *body);
/* a body built off the event loop, in memory a read job owns */
void ngx_http_compensation_body_init_pool(ngx_http_compensation_body_t *body,
    ngx_pool_t *pool, size_t max, cf_buf_t *text);
ngx_int_t ngx_http_compensation_body_add(ngx_http_compensation_body_t *body,
    const u_char *data, size_t len);
ngx_int_t ngx_http_compensation_body_add_json(
    ngx_http_compensation_body_t *body, const char *prefix, json_t *doc,
    const char *suffix);
/* on the event loop: the chunks must live as long as r */
ngx_int_t ngx_http_compensation_body_send(ngx_http_request_t *r,
    ngx_http_compensation_body_t *body, ngx_uint_t sse);
/* bytes of response bodies this worker's requests hold */
size_t ngx_http_compensation_held_bytes(void);

/* the worker's buffer for a response's text (emptied), freed at exit */
cf_buf_t *ngx_http_compensation_text_buffer(void);
void ngx_http_compensation_text_buffer_free(void);
/* the compact text of json in pool memory */
ngx_int_t ngx_http_compensation_json_text(ngx_pool_t *pool, json_t *json,
    ngx_str_t *out);

/* Wow-Error-Code: code (a static string) */
ngx_int_t ngx_http_compensation_error_header(ngx_http_request_t *r,
    const char *code);

ngx_int_t ngx_http_compensation_send_json(ngx_http_request_t *r,
    ngx_uint_t status, const char *error_code, json_t *json);
ngx_int_t ngx_http_compensation_send_raw(ngx_http_request_t *r,
    ngx_uint_t status, const char *error_code, u_char *data, size_t len);
ngx_int_t ngx_http_compensation_send_chain(ngx_http_request_t *r,
    ngx_uint_t status, const char *error_code, ngx_chain_t *out, size_t len);
ngx_int_t ngx_http_compensation_send_text(ngx_http_request_t *r,
    ngx_uint_t status, const char *content_type, u_char *body, size_t len);

/* ErrorInfo: from err (status mapped from its code), or status and code */
ngx_int_t ngx_http_compensation_send_error(ngx_http_request_t *r,
    cf_error_t *err);
ngx_int_t ngx_http_compensation_send_error_code(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *fmt, ...);
ngx_int_t ngx_http_compensation_not_acceptable(ngx_http_request_t *r,
    ngx_uint_t sse_allowed);
ngx_int_t ngx_http_compensation_internal_error(ngx_http_request_t *r,
    const char *what, cf_error_t *err);

/* event streams: frames, then the whole stream in one response */
ngx_int_t ngx_http_compensation_send_sse(ngx_http_request_t *r,
    const char *error_code, ngx_chain_t *events);
ngx_chain_t *ngx_http_compensation_sse_event(ngx_http_request_t *r,
    const char *id, const char *event, json_t *data);
ngx_chain_t *ngx_http_compensation_sse_text(ngx_http_request_t *r,
    const char *id, const char *event, u_char *data, size_t n);


#endif /* _NGX_HTTP_COMPENSATION_RESPONSE_H_INCLUDED_ */
