
/*
 * ngx_compensation: running commands against the store (issue 7).
 *
 * The nginx side of the store executor: the group-commit algorithm itself
 * (deciding before the lock, BEGIN, savepoints, deadlines, commit failures)
 * is cf_exec.c; this file only hands its queue to the event loop or to the
 * store thread, and the answers back to the requests.
 *
 * Group commit (compensation_group_commit).  The commands whose bodies
 * complete in one event-loop iteration of a worker are queued; a posted
 * event (run after every I/O event of the iteration) executes them under one
 * BEGIN IMMEDIATE, each in its own savepoint, so one command's failure rolls
 * back only its own work.  No reply leaves before the COMMIT that contains
 * it: a 200 still means "committed".  Each command's deadline is set when it
 * is queued (Command-Wait-Timeout, bounded by
 * compensation_store_busy_timeout).
 *
 * The store thread (compensation_thread_pool).  The group runs in a thread
 * of an nginx thread pool, on a second connection of the worker that only
 * that thread uses.  The event loop goes on serving reads (a WAL reader
 * never waits for the writer) while the group waits for the write lock, for
 * its fsync or for the checkpoint its COMMIT triggers.  One group per worker
 * is in the thread at a time, so the connection is never shared; commands
 * arriving meanwhile form the next group, which grows with the load.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_group.h"
#include "ngx_http_compensation_metrics.h"


/* one group and where it runs */
typedef struct {
    cf_exec_t         exec;
    cf_exec_queue_t   group;
} ngx_http_compensation_group_run_t;


static void ngx_http_compensation_group_flush(ngx_event_t *ev);
static void ngx_http_compensation_group_exec(
    ngx_http_compensation_main_conf_t *mcf, cf_exec_t *ex);
static void ngx_http_compensation_group_reply(cf_exec_queue_t *group);
#if (NGX_THREADS)
static ngx_int_t ngx_http_compensation_group_post(
    ngx_http_compensation_main_conf_t *mcf);
static void ngx_http_compensation_group_thread(void *data, ngx_log_t *log);
static void ngx_http_compensation_group_done(ngx_event_t *ev);
static void ngx_http_compensation_group_hold(ngx_event_t *ev);
#endif


/*
 * A worker told to quit (reload, stop) exits once no timer is left, and a
 * command in the thread has none (its body is read, its reply not started):
 * this timer is armed while the thread has work, so that the worker stays
 * and answers.
 */
#define NGX_HTTP_COMPENSATION_HOLD  1000


ngx_int_t
ngx_http_compensation_group_init_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf, cf_store_options_t *opts)
{
    ngx_event_t                        *ev;
#if (NGX_THREADS)
    char                                errbuf[512];
    cf_store_t                         *st;
    ngx_thread_task_t                  *task;
    cf_store_options_t                  thread_opts;
    ngx_http_compensation_group_run_t  *run;
#endif

    cf_exec_queue_init(&mcf->group);

    ev = &mcf->group_event;
    ev->handler = ngx_http_compensation_group_flush;
    ev->data = mcf;
    ev->log = cycle->log;

#if (NGX_THREADS)

    if (mcf->thread_pool == NULL || mcf->store == NULL) {
        return NGX_OK;
    }

    thread_opts = *opts;
    thread_opts.temp_store_memory = 1;
    /* off the event loop: the restart before a write may wait for readers */
    thread_opts.wal_restart_wait_ms = 200;

    st = cf_store_open((char *) mcf->store_path.data, &thread_opts, errbuf,
                       sizeof(errbuf));

    if (st == NULL) {
        /* commands still run, on the event loop's connection */
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "compensation_thread_pool: opening the store thread's"
                      " connection to \"%V\" failed, commands run on the"
                      " event loop: %s", &mcf->store_path, errbuf);
        return NGX_OK;
    }

    task = ngx_thread_task_alloc(cycle->pool,
                                 sizeof(ngx_http_compensation_group_run_t));
    if (task == NULL) {
        cf_store_close(st);
        return NGX_ERROR;
    }

    run = task->ctx;
    ngx_http_compensation_group_exec(mcf, &run->exec);
    run->exec.store = st;
    cf_exec_queue_init(&run->group);

    task->handler = ngx_http_compensation_group_thread;
    task->event.handler = ngx_http_compensation_group_done;
    task->event.data = mcf;
    task->event.log = cycle->log;

    mcf->thread_task = task;

    mcf->thread_hold.handler = ngx_http_compensation_group_hold;
    mcf->thread_hold.data = mcf;
    mcf->thread_hold.log = cycle->log;

#endif

    return NGX_OK;
}


/* after the thread pool's own exit_process: no task is running any more */
void
ngx_http_compensation_group_exit_process(
    ngx_http_compensation_main_conf_t *mcf)
{
#if (NGX_THREADS)
    ngx_http_compensation_group_run_t  *run;

    if (mcf->thread_task == NULL) {
        return;
    }

    run = mcf->thread_task->ctx;

    cf_store_close(run->exec.store);
    run->exec.store = NULL;
    mcf->thread_task = NULL;
#endif
}


/* 1 when commands go through the queue (group commit or the store thread) */
ngx_uint_t
ngx_http_compensation_group_queued(ngx_http_compensation_main_conf_t *mcf)
{
#if (NGX_THREADS)
    if (mcf->thread_task) {
        return 1;
    }
#endif

    return mcf->group_commit ? 1 : 0;
}


/* the executor of the event loop's connection */
static void
ngx_http_compensation_group_exec(ngx_http_compensation_main_conf_t *mcf,
    cf_exec_t *ex)
{
    ngx_memzero(ex, sizeof(cf_exec_t));

    ex->store = mcf->store;
    ex->ids = &mcf->ids;
    ex->busy_timeout_ms = (int) mcf->busy_timeout;
    ex->grouped = mcf->group_commit ? 1 : 0;
}


/*
 * The reference read_client_request_body took is kept until the reply.
 * The command's deadline starts now: waiting in the queue behind the store
 * thread counts as waiting for the store.
 */
void
ngx_http_compensation_group_add(ngx_http_compensation_main_conf_t *mcf,
    ngx_http_compensation_pending_t *pc)
{
    cf_exec_t  ex;

    ngx_http_compensation_group_exec(mcf, &ex);

    pc->exec.deadline = cf_exec_deadline(&ex, (int64_t) pc->busy);

    cf_exec_queue_push(&mcf->group, &pc->exec);

    if (!mcf->group_event.posted) {
        ngx_post_event(&mcf->group_event, &ngx_posted_events);
    }
}


/* group commit off and no store thread: the command runs here and now */
void
ngx_http_compensation_group_run(ngx_http_compensation_main_conf_t *mcf,
    ngx_http_compensation_pending_t *pc)
{
    cf_exec_t        ex;
    cf_exec_queue_t  one;

    ngx_http_compensation_group_exec(mcf, &ex);

    pc->exec.deadline = cf_exec_deadline(&ex, (int64_t) pc->busy);

    cf_exec_queue_init(&one);
    cf_exec_queue_push(&one, &pc->exec);

    cf_exec_run(&ex, &one);

    ngx_http_compensation_metrics_group(1);
}


static void
ngx_http_compensation_group_flush(ngx_event_t *ev)
{
    cf_exec_t                           ex;
    cf_exec_queue_t                     group;
    ngx_http_compensation_main_conf_t  *mcf;

    mcf = ev->data;

    if (cf_exec_queue_empty(&mcf->group)) {
        return;
    }

#if (NGX_THREADS)
    if (mcf->thread_task) {
        if (mcf->thread_task->event.active) {
            /* the thread's group ends first; its done handler comes back */
            return;
        }

        if (ngx_http_compensation_group_post(mcf) == NGX_OK) {
            return;
        }

        /* the pool's queue is full (nginx logged it): run here instead */
    }
#endif

    ngx_http_compensation_group_exec(mcf, &ex);

    /* take the group: commands queued while it runs form the next one */
    cf_exec_queue_init(&group);
    cf_exec_queue_move(&mcf->group, &group);

    /*
     * The state reads' transaction of this iteration ends now: a checkpoint
     * after the commit may wait for the readers of the WAL, and this one
     * would not end before the group does
     */
    if (mcf->read_store) {
        cf_store_read_release(mcf->read_store);
    }

    cf_exec_run(&ex, &group);
    ngx_http_compensation_group_reply(&group);
}


#if (NGX_THREADS)

static ngx_int_t
ngx_http_compensation_group_post(ngx_http_compensation_main_conf_t *mcf)
{
    ngx_http_compensation_group_run_t  *run;

    run = mcf->thread_task->ctx;

    cf_exec_queue_move(&mcf->group, &run->group);

    if (ngx_thread_task_post(mcf->thread_pool, mcf->thread_task) == NGX_OK) {
        if (!mcf->thread_hold.timer_set) {
            ngx_add_timer(&mcf->thread_hold, NGX_HTTP_COMPENSATION_HOLD);
        }

        return NGX_OK;
    }

    /* give the group back (nothing was queued meanwhile: same thread) */
    cf_exec_queue_move(&run->group, &mcf->group);

    return NGX_ERROR;
}


/* in the store thread: only the run's connection and commands are touched */
static void
ngx_http_compensation_group_thread(void *data, ngx_log_t *log)
{
    ngx_http_compensation_group_run_t  *run;

    run = data;

    cf_exec_run(&run->exec, &run->group);
}


/* back on the event loop */
static void
ngx_http_compensation_group_done(ngx_event_t *ev)
{
    cf_exec_queue_t                     group;
    ngx_http_compensation_group_run_t  *run;
    ngx_http_compensation_main_conf_t  *mcf;

    mcf = ev->data;
    run = mcf->thread_task->ctx;

    cf_exec_queue_init(&group);
    cf_exec_queue_move(&run->group, &group);
    ngx_http_compensation_group_reply(&group);

    if (cf_exec_queue_empty(&mcf->group)) {
        if (mcf->thread_hold.timer_set) {
            ngx_del_timer(&mcf->thread_hold);
        }

        return;
    }

    /*
     * The commands that came while the thread ran go to it now, not at the
     * end of this iteration: under load the iteration can be long (many
     * reads), and the thread would idle meanwhile.
     */
    if (ngx_http_compensation_group_post(mcf) != NGX_OK
        && !mcf->group_event.posted)
    {
        ngx_post_event(&mcf->group_event, &ngx_posted_events);
    }
}


static void
ngx_http_compensation_group_hold(ngx_event_t *ev)
{
    ngx_http_compensation_main_conf_t  *mcf;

    mcf = ev->data;

    if (mcf->thread_task && mcf->thread_task->event.active) {
        ngx_add_timer(ev, NGX_HTTP_COMPENSATION_HOLD);
    }
}

#endif


static void
ngx_http_compensation_group_reply(cf_exec_queue_t *group)
{
    ngx_uint_t                        n;
    cf_exec_cmd_t                    *ec;
    ngx_connection_t                 *c;
    ngx_http_request_t               *r;
    ngx_http_compensation_pending_t  *pc;

    n = 0;

    for ( ;; ) {
        ec = cf_exec_queue_pop(group);
        if (ec == NULL) {
            break;
        }

        n++;

        pc = (ngx_http_compensation_pending_t *) ec;    /* its first member */
        r = pc->r;

        if (r == NULL) {
            /* its request is gone: reply frees it */
            (void) pc->reply(pc);
            continue;
        }

        c = r->connection;

        ngx_http_finalize_request(r, pc->reply(pc));
        ngx_http_run_posted_requests(c);
    }

    if (n) {
        ngx_http_compensation_metrics_group(n);
    }
}
