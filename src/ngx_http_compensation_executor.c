
/*
 * ngx_compensation: the store executor of a worker (issue 15); see
 * ngx_http_compensation_executor.h for what a job is and where it runs.
 *
 * Why a thread of the module by default rather than nginx's "default" thread
 * pool: the pool exists only when something asks for it, and then starts 32
 * threads per worker, of which the executor would use one at a time (its
 * connection takes one job at a time); nginx's pools also queue the file
 * reads of "aio threads" in front of the store's work.  The module's thread
 * needs its own way back into the event loop: nginx's ngx_notify() belongs
 * to the thread pools (one handler per process), so the thread writes a byte
 * into a pipe whose read end is a connection of the event module, like
 * nginx's channel between the master and the workers.
 */


#include "ngx_http_compensation_executor.h"

#include <pthread.h>
#include <signal.h>


#define NGX_HTTP_COMPENSATION_EXEC_INLINE  0
#define NGX_HTTP_COMPENSATION_EXEC_THREAD  1
#define NGX_HTTP_COMPENSATION_EXEC_POOL    2

/*
 * A worker told to quit (reload, stop) exits once no timer is left, and a
 * job off the event loop has none of its own: this timer is armed while a
 * job runs or waits, so that the worker stays until the job is answered.
 */
#define NGX_HTTP_COMPENSATION_EXEC_HOLD    1000

/* nginx's thread pool refused the task (its queue is full): tried again */
#define NGX_HTTP_COMPENSATION_EXEC_AGAIN   10


struct ngx_http_compensation_executor_s {
    ngx_http_compensation_main_conf_t  *mcf;
    ngx_uint_t                          mode;
    cf_store_t                         *store;      /* own; NULL: inline */
    ngx_http_compensation_job_t        *head;       /* the FIFO */
    ngx_http_compensation_job_t       **tail;
    ngx_http_compensation_job_t        *current;    /* started, not done */
    ngx_event_t                         hold;
    ngx_event_t                         again;
    ngx_log_t                          *log;
    const char                         *what;       /* "store", "read" */
    cf_store_options_t                  opts;       /* the read thread's
                                                       connection */
    ngx_uint_t                          connect_failed;  /* the thread's:
                                                            no bit-field */
    ngx_uint_t                          reads;      /* the read executor */
    unsigned                            inline_busy:1;

    /* the module's thread */
    unsigned                            started:1;
    pthread_t                           thread;
    pthread_mutex_t                     mutex;
    pthread_cond_t                      cond;
    ngx_http_compensation_job_t        *todo;       /* for the thread */
    ngx_http_compensation_job_t        *finished;   /* for the event loop */
    ngx_uint_t                          quit;
    ngx_socket_t                        wake;       /* the pipe's write end */
    ngx_connection_t                   *c;          /* its read end */

#if (NGX_THREADS)
    ngx_thread_pool_t                  *pool;
    ngx_thread_task_t                  *task;
#endif
};


static ngx_int_t ngx_http_compensation_executor_create(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf, cf_store_options_t *opts,
    ngx_uint_t reads);
static void ngx_http_compensation_executor_stop_one(
    ngx_http_compensation_executor_t *ex);
static ngx_int_t ngx_http_compensation_executor_start(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf,
    ngx_http_compensation_executor_t *ex);
static ngx_int_t ngx_http_compensation_executor_thread_start(
    ngx_cycle_t *cycle, ngx_http_compensation_executor_t *ex);
static void *ngx_http_compensation_executor_main(void *data);
static void ngx_http_compensation_executor_connect(
    ngx_http_compensation_executor_t *ex);
static void ngx_http_compensation_executor_wake(ngx_event_t *rev);
static void ngx_http_compensation_executor_next(
    ngx_http_compensation_executor_t *ex);
static void ngx_http_compensation_executor_complete(
    ngx_http_compensation_executor_t *ex, ngx_http_compensation_job_t *job);
static void ngx_http_compensation_executor_hold(ngx_event_t *ev);
static void ngx_http_compensation_executor_again(ngx_event_t *ev);
#if (NGX_THREADS)
static void ngx_http_compensation_executor_task(void *data, ngx_log_t *log);
static void ngx_http_compensation_executor_task_done(ngx_event_t *ev);
#endif


ngx_int_t
ngx_http_compensation_executor_init(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf, cf_store_options_t *opts)
{
    if (ngx_http_compensation_executor_create(cycle, mcf, opts, 0)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /*
     * The handlers' reads: on a server store each one is a round trip, so
     * they get a thread of their own (they do not queue behind the command
     * groups); a SQLite file's reads stay inline (read.c)
     */
    if (!mcf->thread_off
        && (mcf->store_server
            || mcf->read_thread_test))
    {
        return ngx_http_compensation_executor_create(cycle, mcf, opts, 1);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_compensation_executor_create(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf, cf_store_options_t *opts,
    ngx_uint_t reads)
{
    char                               errbuf[512];
    cf_store_options_t                 thread_opts;
    ngx_http_compensation_executor_t  *ex;

    ex = ngx_pcalloc(cycle->pool, sizeof(ngx_http_compensation_executor_t));
    if (ex == NULL) {
        return NGX_ERROR;
    }

    ex->mcf = mcf;
    ex->log = cycle->log;
    ex->tail = &ex->head;
    ex->wake = (ngx_socket_t) -1;
    ex->mode = NGX_HTTP_COMPENSATION_EXEC_INLINE;
    ex->what = reads ? "read" : "store";
    ex->reads = reads ? 1 : 0;

    ex->hold.handler = ngx_http_compensation_executor_hold;
    ex->hold.data = ex;
    ex->hold.log = cycle->log;

    ex->again.handler = ngx_http_compensation_executor_again;
    ex->again.data = ex;
    ex->again.log = cycle->log;

    if (!reads) {
        mcf->executor = ex;

        if (mcf->thread_off) {
            return NGX_OK;
        }
    }

    thread_opts = *opts;
    thread_opts.temp_store_memory = 1;
    /* off the event loop: the restart before a write may wait for readers */
    thread_opts.wal_restart_wait_ms = 200;

    if (reads) {
        /*
         * The read thread opens its connection itself, before its first
         * job: a server store's connect is round trips the event loop must
         * not wait for.  Until it is open the reads answer 503 (read.c).
         */
        ex->opts = thread_opts;
        ex->opts.application_name = "ngx_compensation reads";

        if (ngx_http_compensation_executor_thread_start(cycle, ex)
            != NGX_OK)
        {
            return NGX_OK;
        }

        ex->mode = NGX_HTTP_COMPENSATION_EXEC_THREAD;
        mcf->read_executor = ex;

        return NGX_OK;
    }

    if (mcf->store_server) {
        /*
         * A database server: the thread starts without a connection, its
         * first job opens it (module.c, attach), so that no connect is a
         * round trip on the event loop.  Never inline.
         */
        return ngx_http_compensation_executor_start(cycle, mcf, ex);
    }

    ex->store = cf_store_open((char *) mcf->store_path.data, &thread_opts,
                              errbuf, sizeof(errbuf));

    if (ex->store && mcf->checkpointer) {
        /* its commits wake the worker's checkpointer (module.c) */
        cf_store_set_checkpointer(ex->store, mcf->checkpointer);
    }

    if (ex->store == NULL) {
        /* the work still runs, on the event loop's connection */
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "compensation: opening the store thread's connection"
                      " to \"%V\" failed, store work runs on the event"
                      " loop: %s", &mcf->store_name, errbuf);
        return NGX_OK;
    }

#if (NGX_THREADS)

    if (mcf->thread_pool) {
        ex->task = ngx_thread_task_alloc(cycle->pool, 0);
        if (ex->task == NULL) {
            return NGX_ERROR;
        }

        ex->pool = mcf->thread_pool;
        ex->task->ctx = ex;
        ex->task->handler = ngx_http_compensation_executor_task;
        ex->task->event.handler = ngx_http_compensation_executor_task_done;
        ex->task->event.data = ex;
        ex->task->event.log = cycle->log;
        ex->mode = NGX_HTTP_COMPENSATION_EXEC_POOL;

        return NGX_OK;
    }

#endif

    if (ngx_http_compensation_executor_thread_start(cycle, ex) != NGX_OK) {
        cf_store_close(ex->store);
        ex->store = NULL;
        return NGX_OK;
    }

    ex->mode = NGX_HTTP_COMPENSATION_EXEC_THREAD;

    return NGX_OK;
}


/* the thread (or the pool's task) of a server store: no connection yet */
static ngx_int_t
ngx_http_compensation_executor_start(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf,
    ngx_http_compensation_executor_t *ex)
{
#if (NGX_THREADS)

    if (mcf->thread_pool) {
        ex->task = ngx_thread_task_alloc(cycle->pool, 0);
        if (ex->task == NULL) {
            return NGX_ERROR;
        }

        ex->pool = mcf->thread_pool;
        ex->task->ctx = ex;
        ex->task->handler = ngx_http_compensation_executor_task;
        ex->task->event.handler = ngx_http_compensation_executor_task_done;
        ex->task->event.data = ex;
        ex->task->event.log = cycle->log;
        ex->mode = NGX_HTTP_COMPENSATION_EXEC_POOL;

        return NGX_OK;
    }

#endif

    if (ngx_http_compensation_executor_thread_start(cycle, ex) == NGX_OK) {
        ex->mode = NGX_HTTP_COMPENSATION_EXEC_THREAD;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_compensation_executor_thread_start(ngx_cycle_t *cycle,
    ngx_http_compensation_executor_t *ex)
{
    int                fd[2], rc;
    sigset_t           set, old;
    ngx_connection_t  *c;

    if (pipe(fd) == -1) {
        ngx_log_error(NGX_LOG_ERR, cycle->log, ngx_errno, "compensation:"
                      " pipe() for the %s thread failed, %s",
                      ex->reads ? "read" : "store",
                      ex->reads ? "reads on a server store answer 503"
                                : "store work runs on the event loop");
        return NGX_ERROR;
    }

    if (ngx_nonblocking(fd[0]) == -1 || ngx_nonblocking(fd[1]) == -1) {
        ngx_log_error(NGX_LOG_ERR, cycle->log, ngx_socket_errno,
                      "compensation: " ngx_nonblocking_n " for the %s thread"
                      " failed, %s", ex->reads ? "read" : "store",
                      ex->reads ? "reads on a server store answer 503"
                                : "store work runs on the event loop");
        goto failed;
    }

    c = ngx_get_connection(fd[0], cycle->log);
    if (c == NULL) {
        goto failed;
    }

    c->data = ex;
    c->read->handler = ngx_http_compensation_executor_wake;
    c->read->log = cycle->log;
    c->write->log = cycle->log;

    /*
     * As nginx's channel: neither the worker_shutdown_timeout's close nor
     * the exit's check of open sockets is for this connection (closed in
     * executor_stop, after the thread)
     */
    c->read->channel = 1;
    c->write->channel = 1;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_close_connection(c);
        (void) close(fd[1]);
        return NGX_ERROR;
    }

    pthread_mutex_init(&ex->mutex, NULL);
    pthread_cond_init(&ex->cond, NULL);

    /*
     * Every signal stays with the event loop's thread, as in nginx's thread
     * pools: nginx's handlers only set flags the event loop reads when the
     * signal wakes it
     */
    sigfillset(&set);
    sigdelset(&set, SIGILL);
    sigdelset(&set, SIGFPE);
    sigdelset(&set, SIGSEGV);
    sigdelset(&set, SIGBUS);

    pthread_sigmask(SIG_SETMASK, &set, &old);
    rc = pthread_create(&ex->thread, NULL,
                        ngx_http_compensation_executor_main, ex);
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, cycle->log, rc, "compensation:"
                      " pthread_create() of the %s thread failed, %s",
                      ex->reads ? "read" : "store",
                      ex->reads ? "reads on a server store answer 503"
                                : "store work runs on the event loop");
        pthread_cond_destroy(&ex->cond);
        pthread_mutex_destroy(&ex->mutex);
        ngx_close_connection(c);
        (void) close(fd[1]);
        return NGX_ERROR;
    }

    ex->c = c;
    ex->wake = fd[1];
    ex->started = 1;

    return NGX_OK;

failed:

    (void) close(fd[0]);
    (void) close(fd[1]);

    return NGX_ERROR;
}


/* the store thread: only the job it is given and its connection */
static void *
ngx_http_compensation_executor_main(void *data)
{
    ngx_http_compensation_executor_t  *ex = data;

    u_char                        b = 1;
    ngx_http_compensation_job_t  *job;

    pthread_mutex_lock(&ex->mutex);

    for ( ;; ) {
        while (ex->todo == NULL && !ex->quit) {
            pthread_cond_wait(&ex->cond, &ex->mutex);
        }

        job = ex->todo;

        if (job == NULL) {
            break;
        }

        pthread_mutex_unlock(&ex->mutex);

        if (ex->reads && ex->store == NULL) {
            ngx_http_compensation_executor_connect(ex);
        }

        job->run(job, ex->store);

        pthread_mutex_lock(&ex->mutex);

        ex->todo = NULL;
        ex->finished = job;

        /* a full pipe already wakes the event loop */
        (void) write(ex->wake, &b, 1);
    }

    pthread_mutex_unlock(&ex->mutex);

    return NULL;
}


/*
 * In the read thread: its connection, opened before a job when it is not
 * (the first job, or after a failed open).  Logged from the thread, as
 * nginx's thread pools do; once per failure streak.
 */
static void
ngx_http_compensation_executor_connect(ngx_http_compensation_executor_t *ex)
{
    char  errbuf[512];

    ex->store = cf_store_open((char *) ex->mcf->store_path.data, &ex->opts,
                              errbuf, sizeof(errbuf));

    if (ex->store == NULL) {
        if (!ex->connect_failed) {
            ngx_log_error(NGX_LOG_ERR, ex->log, 0,
                          "compensation: opening the read thread's"
                          " connection to \"%V\" failed, reads answer 503"
                          " until it opens: %s", &ex->mcf->store_name,
                          errbuf);
        }

        ex->connect_failed = 1;
        return;
    }

    if (ex->connect_failed) {
        ngx_log_error(NGX_LOG_NOTICE, ex->log, 0,
                      "compensation: the read thread's connection to \"%V\""
                      " is open", &ex->mcf->store_name);
    }

    ex->connect_failed = 0;
}


/* the thread's job ended: back on the event loop */
static void
ngx_http_compensation_executor_wake(ngx_event_t *rev)
{
    u_char                             buf[64];
    ssize_t                            n;
    ngx_connection_t                  *c;
    ngx_http_compensation_job_t       *job;
    ngx_http_compensation_executor_t  *ex;

    c = rev->data;
    ex = c->data;

    do {
        n = read(c->fd, buf, sizeof(buf));
    } while (n > 0);

    pthread_mutex_lock(&ex->mutex);
    job = ex->finished;
    ex->finished = NULL;
    pthread_mutex_unlock(&ex->mutex);

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, ex->log, 0, "compensation: the %s"
                      " thread's wake-up could not be armed again",
                      ex->reads ? "read" : "store");
    }

    if (job) {
        ngx_http_compensation_executor_complete(ex, job);
    }
}


#if (NGX_THREADS)

/* in a thread of nginx's pool */
static void
ngx_http_compensation_executor_task(void *data, ngx_log_t *log)
{
    ngx_http_compensation_executor_t  *ex = data;

    ex->todo->run(ex->todo, ex->store);
}


static void
ngx_http_compensation_executor_task_done(ngx_event_t *ev)
{
    ngx_http_compensation_job_t       *job;
    ngx_http_compensation_executor_t  *ex;

    ex = ev->data;
    job = ex->todo;
    ex->todo = NULL;

    if (job) {
        ngx_http_compensation_executor_complete(ex, job);
    }
}

#endif


static void
ngx_http_compensation_executor_complete(ngx_http_compensation_executor_t *ex,
    ngx_http_compensation_job_t *job)
{
    ex->current = NULL;
    job->running = 0;

    job->done(job);

    ngx_http_compensation_executor_next(ex);
}


void
ngx_http_compensation_executor_post(ngx_http_compensation_main_conf_t *mcf,
    ngx_http_compensation_job_t *job)
{
    ngx_http_compensation_executor_post_to(mcf, mcf->executor, job);
}


void
ngx_http_compensation_executor_post_to(ngx_http_compensation_main_conf_t *mcf,
    ngx_http_compensation_executor_t *ex, ngx_http_compensation_job_t *job)
{
    if (job->queued || job->running) {
        return;
    }

    if (ex == NULL) {
        /* no executor (never with a store): here and now, as inline */
        if (job->start == NULL || job->start(job) == NGX_OK) {
            job->running = 1;
            job->run(job, mcf->store);
            job->running = 0;
            job->done(job);
        }

        return;
    }

    job->next = NULL;
    job->queued = 1;
    *ex->tail = job;
    ex->tail = &job->next;

    ngx_http_compensation_executor_next(ex);
}


/* starts the head of the FIFO if nothing runs */
static void
ngx_http_compensation_executor_next(ngx_http_compensation_executor_t *ex)
{
    ngx_http_compensation_job_t  *job;

    if (ex->inline_busy) {
        /* a job's done posted another: the loop below takes it */
        return;
    }

    while (ex->current == NULL && ex->head) {
        job = ex->head;
        ex->head = job->next;

        if (ex->head == NULL) {
            ex->tail = &ex->head;
        }

        job->next = NULL;
        job->queued = 0;

        if (job->start && job->start(job) != NGX_OK) {
            continue;
        }

        job->running = 1;
        ex->current = job;

        switch (ex->mode) {

        case NGX_HTTP_COMPENSATION_EXEC_THREAD:
            pthread_mutex_lock(&ex->mutex);
            ex->todo = job;
            pthread_cond_signal(&ex->cond);
            pthread_mutex_unlock(&ex->mutex);
            break;

#if (NGX_THREADS)
        case NGX_HTTP_COMPENSATION_EXEC_POOL:
            ex->todo = job;

            if (ngx_thread_task_post(ex->pool, ex->task) != NGX_OK) {
                /* nginx logged it; the job goes first when tried again */
                ex->todo = NULL;
                ex->current = NULL;
                job->running = 0;
                job->queued = 1;
                job->next = ex->head;
                ex->head = job;

                if (ex->tail == &ex->head) {
                    ex->tail = &job->next;
                }

                if (!ex->again.timer_set) {
                    ngx_add_timer(&ex->again, NGX_HTTP_COMPENSATION_EXEC_AGAIN);
                }

                return;
            }

            break;
#endif

        default: /* inline: here and now, on the event loop's connection */
            ex->inline_busy = 1;
            job->run(job, ex->mcf->store);
            ex->current = NULL;
            job->running = 0;
            job->done(job);
            ex->inline_busy = 0;
            break;
        }
    }

    if (ex->current || ex->head) {
        if (!ex->hold.timer_set) {
            ngx_add_timer(&ex->hold, NGX_HTTP_COMPENSATION_EXEC_HOLD);
        }

    } else if (ex->hold.timer_set) {
        ngx_del_timer(&ex->hold);
    }
}


static void
ngx_http_compensation_executor_hold(ngx_event_t *ev)
{
    ngx_http_compensation_executor_t  *ex = ev->data;

    if (ex->current || ex->head) {
        ngx_add_timer(ev, NGX_HTTP_COMPENSATION_EXEC_HOLD);
    }
}


static void
ngx_http_compensation_executor_again(ngx_event_t *ev)
{
    ngx_http_compensation_executor_next(ev->data);
}


void
ngx_http_compensation_executor_stop(ngx_http_compensation_main_conf_t *mcf)
{
    ngx_http_compensation_executor_stop_one(mcf->executor);
    ngx_http_compensation_executor_stop_one(mcf->read_executor);
}


static void
ngx_http_compensation_executor_stop_one(ngx_http_compensation_executor_t *ex)
{
    if (ex == NULL || !ex->started) {
        return;
    }

    pthread_mutex_lock(&ex->mutex);
    ex->quit = 1;
    pthread_cond_signal(&ex->cond);
    pthread_mutex_unlock(&ex->mutex);

    (void) pthread_join(ex->thread, NULL);
    ex->started = 0;

    pthread_cond_destroy(&ex->cond);
    pthread_mutex_destroy(&ex->mutex);

    ngx_close_connection(ex->c);
    ex->c = NULL;

    (void) close(ex->wake);
    ex->wake = (ngx_socket_t) -1;
}


/* after executor_stop and after the thread pool module's own exit_process:
 * no job is running any more */
void
ngx_http_compensation_executor_close(ngx_http_compensation_main_conf_t *mcf)
{
    ngx_http_compensation_executor_t  *ex;

    ex = mcf->read_executor;

    if (ex && ex->store) {
        cf_store_close(ex->store);
        ex->store = NULL;
    }

    mcf->read_executor = NULL;

    ex = mcf->executor;

    if (ex == NULL) {
        return;
    }

    if (ex->store) {
        cf_store_close(ex->store);
        ex->store = NULL;
    }

    mcf->executor = NULL;
}


cf_store_t *
ngx_http_compensation_executor_store(ngx_http_compensation_main_conf_t *mcf)
{
    ngx_http_compensation_executor_t  *ex = mcf->executor;

    if (ex && ex->store) {
        return ex->store;
    }

    return mcf->store;
}


/* a server store's connection, opened by the attach job: on the event
 * loop, between two jobs (the next one runs on it) */
void
ngx_http_compensation_executor_set_store(
    ngx_http_compensation_main_conf_t *mcf, cf_store_t *st)
{
    ngx_http_compensation_executor_t  *ex = mcf->executor;

    if (ex == NULL || ex->store) {
        cf_store_close(st);
        return;
    }

    ex->store = st;
}


ngx_uint_t
ngx_http_compensation_executor_threaded(
    ngx_http_compensation_main_conf_t *mcf)
{
    ngx_http_compensation_executor_t  *ex = mcf->executor;

    return (ex && ex->mode != NGX_HTTP_COMPENSATION_EXEC_INLINE) ? 1 : 0;
}


static void ngx_http_compensation_rjob_run(ngx_http_compensation_job_t *job,
    cf_store_t *st);
static void ngx_http_compensation_rjob_done(ngx_http_compensation_job_t *job);
static void ngx_http_compensation_rjob_cleanup(void *data);


void *
ngx_http_compensation_rjob_alloc(ngx_http_request_t *r, size_t size)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_compensation_rjob_t  *rj;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    rj = ngx_calloc(size, r->connection->log);
    if (rj == NULL) {
        return NULL;
    }

    rj->r = r;
    rj->cln = cln;
    rj->job.run = ngx_http_compensation_rjob_run;
    rj->job.done = ngx_http_compensation_rjob_done;
    rj->job.data = rj;

    /* armed once posted: a job never posted is the caller's to free */
    cln->handler = NULL;
    cln->data = rj;

    return rj;
}


ngx_int_t
ngx_http_compensation_rjob_post(ngx_http_request_t *r,
    ngx_http_compensation_rjob_t *rj)
{
    ngx_http_compensation_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    rj->cln->handler = ngx_http_compensation_rjob_cleanup;
    r->main->count++;

    /*
     * Inline, the job is done (and freed) before the post returns, inside
     * the handler: the posted requests are the caller's to run
     */
    if (rj->ex == NULL) {
        rj->ex = mcf->executor;
    }

    rj->posting = (rj->ex && rj->ex->mode != NGX_HTTP_COMPENSATION_EXEC_INLINE)
                  ? 0 : 1;
    ngx_http_compensation_executor_post_to(mcf, rj->ex, &rj->job);

    return NGX_DONE;
}


static void
ngx_http_compensation_rjob_run(ngx_http_compensation_job_t *job,
    cf_store_t *st)
{
    ngx_http_compensation_rjob_t  *rj = job->data;

    rj->work(rj, st);
}


static void
ngx_http_compensation_rjob_done(ngx_http_compensation_job_t *job)
{
    ngx_uint_t                     posting;
    ngx_connection_t              *c;
    ngx_http_request_t            *r;
    ngx_http_compensation_rjob_t  *rj = job->data;

    r = rj->r;
    posting = rj->posting;

    if (r && rj->again) {
        rj->again = 0;
        ngx_http_compensation_executor_post_to(
            ngx_http_get_module_main_conf(r, ngx_http_compensation_module),
            rj->ex, &rj->job);
        return;
    }

    if (r) {
        rj->cln->handler = NULL;
        c = r->connection;

        ngx_http_finalize_request(r, rj->reply(rj));

        if (!posting) {
            ngx_http_run_posted_requests(c);
        }

    } else {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0, "compensation: a"
                      " request was freed while its store work ran, its"
                      " answer is dropped");
    }

    if (rj->free) {
        rj->free(rj);
    }

    ngx_free(rj);
}


/* the request is freed (its job runs on, and is freed by its done) */
static void
ngx_http_compensation_rjob_cleanup(void *data)
{
    ngx_http_compensation_rjob_t  *rj = data;

    rj->r = NULL;
}
