
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
 * Where the group runs is the store executor's choice
 * (ngx_http_compensation_executor.c): by default the worker's store thread,
 * on a connection of the worker that only that thread uses.  The event loop
 * goes on serving reads (a WAL reader never waits for the writer) while the
 * group waits for the write lock, for its fsync or for the checkpoint its
 * COMMIT triggers.  One group per worker is in the thread at a time;
 * commands arriving meanwhile form the next group, which grows with the
 * load, and which takes its turn after the dispatch step already waiting.
 * With "compensation_thread_pool off" the group runs on the event loop.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_executor.h"
#include "ngx_http_compensation_group.h"
#include "ngx_http_compensation_metrics.h"


/* the command groups' job of the executor */
typedef struct {
    ngx_http_compensation_job_t         job;
    ngx_http_compensation_main_conf_t  *mcf;
    cf_exec_t                           exec;
    cf_exec_queue_t                     group;
} ngx_http_compensation_group_run_t;


static void ngx_http_compensation_group_flush(ngx_event_t *ev);
static void ngx_http_compensation_group_exec(
    ngx_http_compensation_main_conf_t *mcf, cf_exec_t *ex);
static ngx_int_t ngx_http_compensation_group_start(
    ngx_http_compensation_job_t *job);
static void ngx_http_compensation_group_thread(
    ngx_http_compensation_job_t *job, cf_store_t *st);
static void ngx_http_compensation_group_done(
    ngx_http_compensation_job_t *job);
static void ngx_http_compensation_group_reply(cf_exec_queue_t *group);


ngx_int_t
ngx_http_compensation_group_init_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf, cf_store_options_t *opts)
{
    ngx_event_t                        *ev;
    ngx_http_compensation_group_run_t  *run;

    cf_exec_queue_init(&mcf->group);

    ev = &mcf->group_event;
    ev->handler = ngx_http_compensation_group_flush;
    ev->data = mcf;
    ev->log = cycle->log;

    run = ngx_pcalloc(cycle->pool, sizeof(ngx_http_compensation_group_run_t));
    if (run == NULL) {
        return NGX_ERROR;
    }

    run->mcf = mcf;
    cf_exec_queue_init(&run->group);
    run->job.start = ngx_http_compensation_group_start;
    run->job.run = ngx_http_compensation_group_thread;
    run->job.done = ngx_http_compensation_group_done;
    run->job.data = run;
    mcf->group_job = &run->job;

    /* the store thread and its connection */
    return ngx_http_compensation_executor_init(cycle, mcf, opts);
}


/* after executor_stop, the scheduler's exit, and the thread pool module's
 * own exit_process: no job is running any more */
void
ngx_http_compensation_group_exit_process(
    ngx_http_compensation_main_conf_t *mcf)
{
    ngx_http_compensation_executor_close(mcf);
    mcf->group_job = NULL;
}


/* 1 when commands go through the queue (group commit or the store thread) */
ngx_uint_t
ngx_http_compensation_group_queued(ngx_http_compensation_main_conf_t *mcf)
{
    if (ngx_http_compensation_executor_threaded(mcf)) {
        return 1;
    }

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

    /* the commands of this iteration go as one group, after its I/O */
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


/* posted: the group goes to the executor (nothing if it is running one: its
 * done queues the next group) */
static void
ngx_http_compensation_group_flush(ngx_event_t *ev)
{
    ngx_http_compensation_main_conf_t  *mcf;

    mcf = ev->data;

    if (!cf_exec_queue_empty(&mcf->group) && mcf->group_job) {
        ngx_http_compensation_executor_post(mcf, mcf->group_job);
    }
}


/* its turn: takes the group, commands queued while it runs form the next */
static ngx_int_t
ngx_http_compensation_group_start(ngx_http_compensation_job_t *job)
{
    ngx_http_compensation_group_run_t  *run = job->data;
    ngx_http_compensation_main_conf_t  *mcf = run->mcf;

    if (cf_exec_queue_empty(&mcf->group)) {
        return NGX_DECLINED;
    }

    cf_exec_queue_move(&mcf->group, &run->group);
    ngx_http_compensation_group_exec(mcf, &run->exec);

    /*
     * On the event loop's connection, the state reads' transaction of this
     * iteration ends now: a checkpoint after the commit may wait for the
     * readers of the WAL, and this one would not end before the group does
     */
    if (!ngx_http_compensation_executor_threaded(mcf) && mcf->read_store) {
        cf_store_read_release(mcf->read_store);
    }

    return NGX_OK;
}


/* in the store thread: only the run's connection and commands are touched */
static void
ngx_http_compensation_group_thread(ngx_http_compensation_job_t *job,
    cf_store_t *st)
{
    ngx_http_compensation_group_run_t  *run = job->data;

    run->exec.store = st;
    cf_exec_run(&run->exec, &run->group);
}


/* back on the event loop */
static void
ngx_http_compensation_group_done(ngx_http_compensation_job_t *job)
{
    cf_exec_queue_t                     group;
    ngx_http_compensation_group_run_t  *run = job->data;
    ngx_http_compensation_main_conf_t  *mcf = run->mcf;

    cf_exec_queue_init(&group);
    cf_exec_queue_move(&run->group, &group);
    ngx_http_compensation_group_reply(&group);

    /*
     * The commands that came while the group ran queue now, not at the end
     * of this iteration: under load the iteration can be long (many reads),
     * and the thread would idle meanwhile.  They queue behind the work
     * already waiting (a dispatch step): the two take turns.
     */
    if (!cf_exec_queue_empty(&mcf->group)) {
        ngx_http_compensation_executor_post(mcf, job);
    }
}


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
