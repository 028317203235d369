
/*
 * ngx_compensation: running commands against the store (issue 7).
 *
 * Group commit (compensation_group_commit).  The commands whose bodies
 * complete in one event-loop iteration of a worker are queued; a posted
 * event (run after every I/O event of the iteration) executes them under one
 * BEGIN IMMEDIATE, each in its own savepoint, so one command's failure rolls
 * back only its own work.  No reply leaves before the COMMIT that contains
 * it: a 200 still means "committed".  Per command, idempotency, the
 * expected-version check and the errors are those of cf_service_execute;
 * the lock wait of the group is the shortest wait any of its commands
 * allows.
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


/* one group and where it runs */
typedef struct {
    cf_store_t    *store;
    cf_id_gen_t   *ids;
    ngx_msec_t     busy_timeout;
    ngx_flag_t     grouped;        /* one transaction for all */
    ngx_queue_t    group;          /* ngx_http_compensation_pending_t */
} ngx_http_compensation_group_run_t;


static void ngx_http_compensation_group_flush(ngx_event_t *ev);
static void ngx_http_compensation_group_take(ngx_queue_t *from,
    ngx_queue_t *to);
static void ngx_http_compensation_group_execute(
    ngx_http_compensation_group_run_t *run);
static void ngx_http_compensation_group_reply(ngx_queue_t *group);
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

    ngx_queue_init(&mcf->group);

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
    run->store = st;
    run->ids = &mcf->ids;
    run->busy_timeout = mcf->busy_timeout;
    run->grouped = mcf->group_commit;
    ngx_queue_init(&run->group);

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

    cf_store_close(run->store);
    run->store = NULL;
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


/* the reference read_client_request_body took is kept until the reply */
void
ngx_http_compensation_group_add(ngx_http_compensation_main_conf_t *mcf,
    ngx_http_compensation_pending_t *pc)
{
    ngx_queue_insert_tail(&mcf->group, &pc->queue);

    if (!mcf->group_event.posted) {
        ngx_post_event(&mcf->group_event, &ngx_posted_events);
    }
}


static void
ngx_http_compensation_group_flush(ngx_event_t *ev)
{
    ngx_http_compensation_group_run_t   run;
    ngx_http_compensation_main_conf_t  *mcf;

    mcf = ev->data;

    if (ngx_queue_empty(&mcf->group)) {
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

    run.store = mcf->store;
    run.ids = &mcf->ids;
    run.busy_timeout = mcf->busy_timeout;
    run.grouped = mcf->group_commit;

    /* take the group: commands queued while it runs form the next one */
    ngx_http_compensation_group_take(&mcf->group, &run.group);

    /*
     * The state reads' transaction of this iteration ends now: a checkpoint
     * after the commit may wait for the readers of the WAL, and this one
     * would not end before the group does
     */
    if (mcf->read_store) {
        cf_store_read_release(mcf->read_store);
    }

    ngx_http_compensation_group_execute(&run);
    ngx_http_compensation_group_reply(&run.group);
}


#if (NGX_THREADS)

static ngx_int_t
ngx_http_compensation_group_post(ngx_http_compensation_main_conf_t *mcf)
{
    ngx_http_compensation_group_run_t  *run;

    run = mcf->thread_task->ctx;

    ngx_http_compensation_group_take(&mcf->group, &run->group);

    if (ngx_thread_task_post(mcf->thread_pool, mcf->thread_task) == NGX_OK) {
        if (!mcf->thread_hold.timer_set) {
            ngx_add_timer(&mcf->thread_hold, NGX_HTTP_COMPENSATION_HOLD);
        }

        return NGX_OK;
    }

    /* give the group back (nothing was queued meanwhile: same thread) */
    ngx_http_compensation_group_take(&run->group, &mcf->group);

    return NGX_ERROR;
}


/* in the store thread: only the run's connection and commands are touched */
static void
ngx_http_compensation_group_thread(void *data, ngx_log_t *log)
{
    ngx_http_compensation_group_execute(data);
}


/* back on the event loop */
static void
ngx_http_compensation_group_done(ngx_event_t *ev)
{
    ngx_queue_t                         group;
    ngx_http_compensation_group_run_t  *run;
    ngx_http_compensation_main_conf_t  *mcf;

    mcf = ev->data;
    run = mcf->thread_task->ctx;

    ngx_http_compensation_group_take(&run->group, &group);
    ngx_http_compensation_group_reply(&group);

    if (ngx_queue_empty(&mcf->group)) {
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


/* moves every element of from to to (initialized), leaving from empty */
static void
ngx_http_compensation_group_take(ngx_queue_t *from, ngx_queue_t *to)
{
    if (ngx_queue_empty(from)) {
        ngx_queue_init(to);
        return;
    }

    *to = *from;
    to->next->prev = to;
    to->prev->next = to;

    ngx_queue_init(from);
}


/* runs a group on its connection; touches no nginx object but the queue */
static void
ngx_http_compensation_group_execute(ngx_http_compensation_group_run_t *run)
{
    int                               rc, lost, prepared;
    ngx_msec_t                        busy;
    ngx_uint_t                        n;
    cf_store_t                       *st;
    ngx_queue_t                      *q, *group;
    ngx_http_compensation_pending_t  *pc;

    st = run->store;
    group = &run->group;

    busy = run->busy_timeout;
    n = 0;

    for (q = ngx_queue_head(group); q != ngx_queue_sentinel(group);
         q = ngx_queue_next(q))
    {
        pc = ngx_queue_data(q, ngx_http_compensation_pending_t, queue);
        busy = ngx_min(busy, pc->busy);
        n++;
    }

    ngx_http_compensation_metrics_group(n);

    if (n == 1 || !run->grouped) {
        /* alone, or group commit off: a plain transaction per command */
        for (q = ngx_queue_head(group); q != ngx_queue_sentinel(group);
             q = ngx_queue_next(q))
        {
            pc = ngx_queue_data(q, ngx_http_compensation_pending_t, queue);

            cf_store_set_busy_timeout(st, (int) pc->busy);
            pc->rc = cf_service_execute(st, run->ids, &pc->in, &pc->out);
        }

        cf_store_set_busy_timeout(st, (int) run->busy_timeout);
        return;
    }

    /*
     * Decide the commands first, outside the write lock: this overlaps with
     * the other workers' groups, and under the lock only the writes and a
     * version check remain (cf_service_prepare)
     */
    prepared = cf_store_read_hold(st) == 0;

    for (q = ngx_queue_head(group); q != ngx_queue_sentinel(group);
         q = ngx_queue_next(q))
    {
        pc = ngx_queue_data(q, ngx_http_compensation_pending_t, queue);

        if (prepared) {
            cf_service_prepare(st, run->ids, &pc->in, &pc->pre);

        } else {
            memset(&pc->pre, 0, sizeof(cf_prepared_t));
            cf_error_init(&pc->pre.err);
        }
    }

    cf_store_read_release(st);

    cf_store_set_busy_timeout(st, (int) busy);

    rc = cf_store_begin_immediate(st);

    if (rc != 0) {
        for (q = ngx_queue_head(group); q != ngx_queue_sentinel(group);
             q = ngx_queue_next(q))
        {
            pc = ngx_queue_data(q, ngx_http_compensation_pending_t, queue);
            cf_prepared_free(&pc->pre);
            pc->rc = cf_service_not_run(st, run->ids, &pc->in, &pc->out, rc);
        }

        cf_store_set_busy_timeout(st, (int) run->busy_timeout);
        return;
    }

    lost = 0;

    for (q = ngx_queue_head(group); q != ngx_queue_sentinel(group);
         q = ngx_queue_next(q))
    {
        pc = ngx_queue_data(q, ngx_http_compensation_pending_t, queue);

        if (lost) {
            cf_prepared_free(&pc->pre);
            pc->rc = cf_service_not_run(st, run->ids, &pc->in, &pc->out, -1);
            continue;
        }

        pc->rc = cf_service_execute_grouped(st, run->ids, &pc->in, &pc->out,
                                            &pc->pre);

        if (!cf_store_in_transaction(st)) {
            /* SQLite ended the transaction (an I/O error, disk full):
             * everything this group wrote so far is gone */
            lost = 1;
        }
    }

    rc = lost ? -1 : cf_store_commit(st);

    cf_store_set_busy_timeout(st, (int) run->busy_timeout);

    if (rc == 0) {
        return;
    }

    for (q = ngx_queue_head(group); q != ngx_queue_sentinel(group);
         q = ngx_queue_next(q))
    {
        pc = ngx_queue_data(q, ngx_http_compensation_pending_t, queue);

        if (pc->rc == 0 && pc->out.committed) {
            pc->rc = cf_service_commit_failed(st, &pc->out, rc);
        }
    }
}


static void
ngx_http_compensation_group_reply(ngx_queue_t *group)
{
    ngx_queue_t                      *q;
    ngx_connection_t                 *c;
    ngx_http_request_t               *r;
    ngx_http_compensation_pending_t  *pc;

    while (!ngx_queue_empty(group)) {
        q = ngx_queue_head(group);
        ngx_queue_remove(q);

        pc = ngx_queue_data(q, ngx_http_compensation_pending_t, queue);
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
}
