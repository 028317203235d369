
/*
 * ngx_compensation: the store executor of a worker (issue 15).
 *
 * Store work that can wait (a write transaction and its lock wait, its
 * fsync, the checkpoint its COMMIT triggers) is a job: the event loop posts
 * it, a thread runs it on a connection of its own, and the event loop gets
 * it back to answer.  One job runs at a time per worker, so the connection is
 * never shared; the jobs wait in one FIFO, and a kind of work that wants to
 * go again (the command group, the dispatch step) queues itself behind the
 * others, so command groups and dispatch steps take turns.
 *
 * A worker has a second instance on a server store, the read executor: the
 * request handlers' reads (ngx_http_compensation_read.h) run there, on a
 * connection and a thread of their own, so that they do not queue behind
 * the command groups.
 *
 * Where a job runs:
 *   default                      a thread of this module, one per worker,
 *                                woken through a condition variable; it
 *                                wakes the event loop through a pipe
 *                                registered with nginx's event module
 *   compensation_thread_pool N   a task of nginx's thread pool N
 *   compensation_thread_pool off on the event loop, on the worker's
 *                                connection (the store's waits block it)
 *
 * Dependencies: ngx_http_compensation_module.h (the main configuration),
 * cf_store.h (the connection).
 */


#ifndef _NGX_HTTP_COMPENSATION_EXECUTOR_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_EXECUTOR_H_INCLUDED_


#include "ngx_http_compensation_module.h"


/* ngx_http_compensation_job_t is declared in the module's header */
struct ngx_http_compensation_job_s {
    ngx_http_compensation_job_t  *next;          /* the FIFO's */
    /* on the event loop, when its turn comes: NGX_DECLINED drops it */
    ngx_int_t                   (*start)(ngx_http_compensation_job_t *job);
    /* off the event loop (or on it, inline): touches only what the job
     * owns and the store connection it is given */
    void                        (*run)(ngx_http_compensation_job_t *job,
                                       cf_store_t *st);
    /* back on the event loop */
    void                        (*done)(ngx_http_compensation_job_t *job);
    void                         *data;
    unsigned                      queued:1;      /* in the FIFO */
    unsigned                      running:1;     /* start..done */
};


/* the store executor, and the read executor where the handlers' reads
 * need one (mcf->read_executor: a server store) */
ngx_int_t ngx_http_compensation_executor_init(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf, cf_store_options_t *opts);
/* joins the threads (a job still running ends first); the connections stay
 * open for the statements prepared on them (executor_close) */
void ngx_http_compensation_executor_stop(
    ngx_http_compensation_main_conf_t *mcf);
void ngx_http_compensation_executor_close(
    ngx_http_compensation_main_conf_t *mcf);

/* queues the job at the end of the FIFO (nothing if already queued or
 * running: a running job queues itself again in its done if it must) */
void ngx_http_compensation_executor_post(
    ngx_http_compensation_main_conf_t *mcf, ngx_http_compensation_job_t *job);
/* the same on another instance (mcf->read_executor) */
void ngx_http_compensation_executor_post_to(
    ngx_http_compensation_main_conf_t *mcf,
    ngx_http_compensation_executor_t *ex, ngx_http_compensation_job_t *job);

/* the connection the jobs run on: the executor's own, or the event loop's
 * in inline mode (NULL: no store) */
cf_store_t *ngx_http_compensation_executor_store(
    ngx_http_compensation_main_conf_t *mcf);

/* a server store's executor connection, opened by a job (module.c) */
void ngx_http_compensation_executor_set_store(
    ngx_http_compensation_main_conf_t *mcf, cf_store_t *st);

/* 1 when the jobs run off the event loop */
ngx_uint_t ngx_http_compensation_executor_threaded(
    ngx_http_compensation_main_conf_t *mcf);


/*
 * A request's store work as a job (snapshot regeneration, Cancel, the retry
 * action): allocated outside the request's pool, because the request can be
 * freed while its job runs (worker_shutdown_timeout, a reset HTTP/2 stream);
 * then its answer is dropped.  The request is kept (r->main->count) until
 * reply's return finalizes it.
 */
typedef struct ngx_http_compensation_rjob_s  ngx_http_compensation_rjob_t;

struct ngx_http_compensation_rjob_s {
    ngx_http_compensation_job_t   job;
    /* the executor it runs on; NULL at post: the store executor */
    ngx_http_compensation_executor_t  *ex;
    ngx_http_request_t           *r;             /* NULL: freed meanwhile */
    ngx_pool_cleanup_t           *cln;
    /* off the event loop: only the job's own fields and st */
    void                        (*work)(ngx_http_compensation_rjob_t *rj,
                                        cf_store_t *st);
    /* on the event loop, r alive: its return finalizes r */
    ngx_int_t                   (*reply)(ngx_http_compensation_rjob_t *rj);
    /* on the event loop, last (may be NULL) */
    void                        (*free)(ngx_http_compensation_rjob_t *rj);
    unsigned                      posting:1;
    /* set by work: not finished, it goes again after the jobs queued
     * meanwhile (a long job takes turns with the command groups) */
    unsigned                      again:1;
};

/* size bytes (a struct whose first member is the rjob), zeroed; NULL: no
 * memory */
void *ngx_http_compensation_rjob_alloc(ngx_http_request_t *r, size_t size);
/* queues it; returns NGX_DONE for the handler (or the body handler) to
 * return or finalize with */
ngx_int_t ngx_http_compensation_rjob_post(ngx_http_request_t *r,
    ngx_http_compensation_rjob_t *rj);


#endif /* _NGX_HTTP_COMPENSATION_EXECUTOR_H_INCLUDED_ */
