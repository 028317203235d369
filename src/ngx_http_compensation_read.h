
/*
 * ngx_compensation: the request handlers' reads (issue 16).
 *
 * A read route's store work is a read job: its work part runs against the
 * cf_store_t it is given and leaves the whole answer in the job (status,
 * Wow-Error-Code, the body: a JSON document, a text, the chunks of a listed
 * body, an ErrorInfo, a line for the error log); the event loop then sends
 * it.  One code path for both stores, two places it runs:
 *
 *   a SQLite file   inline: in the handler, on the event loop's connection,
 *                   the answer in the request's pool (a WAL reader never
 *                   waits for the writer: no thread hop, no extra latency)
 *   a server store  on the read executor (mcf->read_executor), a thread of
 *                   the worker with its own connection: a round trip never
 *                   blocks the event loop, and reads do not queue behind
 *                   the command groups of the store executor
 *
 * Off the event loop the work touches only the job: its own pool (given to
 * the request's pool when the answer is sent, freed with the job when the
 * request went away meanwhile, see the rjob in the executor's header), its
 * own text buffer, and copies of what it needs of the request.  The read
 * budgets hold as before: a listed body's compensation_read_max_size is
 * checked while it is built, its compensation_read_memory when it is sent,
 * on the event loop, so the worker's held bytes stay the event loop's.
 *
 * Dependencies: ngx_http_compensation_executor.h (the rjob),
 * ngx_http_compensation_response.h (the bodies and senders).
 */


#ifndef _NGX_HTTP_COMPENSATION_READ_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_READ_H_INCLUDED_


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_executor.h"
#include "ngx_http_compensation_response.h"


typedef struct ngx_http_compensation_read_s  ngx_http_compensation_read_t;


/* what the answer is */
typedef enum {
    NGX_HTTP_COMPENSATION_READ_STATUS = 0,  /* nginx's answer to status */
    NGX_HTTP_COMPENSATION_READ_JSON,        /* json, serialised when sent */
    NGX_HTTP_COMPENSATION_READ_RAW,         /* a JSON text in the pool */
    NGX_HTTP_COMPENSATION_READ_BODY,        /* body (listed documents) */
    NGX_HTTP_COMPENSATION_READ_ERROR,       /* ErrorInfo: code, msg */
    NGX_HTTP_COMPENSATION_READ_CUSTOM       /* the route's reply */
} ngx_http_compensation_read_kind_e;


struct ngx_http_compensation_read_s {
    ngx_http_compensation_rjob_t   rj;               /* the read executor's */

    /* off the event loop (or inline): the job's fields and st only */
    void                         (*work)(ngx_http_compensation_read_t *rd,
                                         cf_store_t *st);
    /* on the event loop, for READ_CUSTOM: its return finalizes r */
    ngx_int_t                    (*reply)(ngx_http_compensation_read_t *rd,
                                          ngx_http_request_t *r);
    /* last, on the event loop (may be NULL): what the route's fields own */
    void                         (*free)(ngx_http_compensation_read_t *rd);

    ngx_pool_t                    *pool;             /* the answer's */
    cf_buf_t                       text;             /* off the loop */
    size_t                         read_max_size;

    /* the answer */
    ngx_uint_t                     kind;
    ngx_uint_t                     status;
    const char                    *code;             /* static */
    json_t                        *json;             /* READ_JSON, owned */
    u_char                        *data;             /* READ_RAW */
    size_t                         len;
    ngx_http_compensation_body_t   body;             /* READ_BODY */
    ngx_uint_t                     sse;              /* body's type */
    char                           msg[512];         /* READ_ERROR */
    /* lines for the error log, in their order */
    ngx_uint_t                     nlog;
    ngx_uint_t                     log_level[2];
    char                           log[2][1024];

    unsigned                       threaded:1;
};


/*
 * A read job of size bytes (a struct whose first member is the read),
 * zeroed: in r's pool when the read runs inline, outside it when it runs on
 * the read executor.  NULL: no memory.
 */
void *ngx_http_compensation_read_alloc(ngx_http_request_t *r, size_t size);

/*
 * Runs it: inline, the answer's return (the handler returns it); on the
 * read executor, NGX_DONE (the reply finalizes r)
 */
ngx_int_t ngx_http_compensation_read_post(ngx_http_request_t *r,
    ngx_http_compensation_read_t *rd);
/* the same from a request body handler: NGX_DONE lets the body reading's
 * reference go */
ngx_int_t ngx_http_compensation_read_post_body(ngx_http_request_t *r,
    ngx_http_compensation_read_t *rd);

/* 1 when this worker's reads run on the read executor */
ngx_uint_t ngx_http_compensation_read_threaded(ngx_http_request_t *r);

/* the answers a work part gives */
void ngx_http_compensation_answer_json(ngx_http_compensation_read_t *rd,
    ngx_uint_t status, const char *code, json_t *json);
void ngx_http_compensation_answer_status(ngx_http_compensation_read_t *rd,
    ngx_uint_t status);
void ngx_http_compensation_answer_error(ngx_http_compensation_read_t *rd,
    ngx_uint_t status, const char *code, const char *fmt, ...);
/* as ngx_http_compensation_internal_error: logs the detail, answers 500 */
void ngx_http_compensation_answer_internal_error(
    ngx_http_compensation_read_t *rd, const char *what, cf_error_t *err);
/* a line for the error log (r's), written when the answer is sent */
void ngx_http_compensation_answer_log(ngx_http_compensation_read_t *rd,
    ngx_uint_t level, const char *fmt, ...);
/* the listed body, in the job's pool under compensation_read_max_size */
ngx_http_compensation_body_t *ngx_http_compensation_answer_body(
    ngx_http_compensation_read_t *rd, ngx_uint_t sse);


#endif /* _NGX_HTTP_COMPENSATION_READ_H_INCLUDED_ */
