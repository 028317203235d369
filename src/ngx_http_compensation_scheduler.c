
/*
 * ngx_compensation: the dispatch scheduler: the timer, the dispatch
 * transaction (a job of the store executor), the fake request and its calls.
 * Its directives are ngx_http_compensation_scheduler_conf.c, its HTTP routes
 * (operations, Cancel, the retry action) ngx_http_compensation_operations.c.
 *
 * Every worker (and the single process) runs one: a timer ticks every
 * "compensation_scheduler interval=", and a posted event (the work) does
 * the store's side of dispatching in one BEGIN IMMEDIATE transaction, a job
 * of the store executor (the worker's store thread): it settles the calls answered since the last one
 * (ApplyExecutionSuccess/Failed and the operation's final state), claims
 * due executions with a lease (cf_dispatch_claim_in), and issues
 * PrepareCompensation for each (cf_service_execute_grouped: the API's own
 * command path, each command in its own savepoint).  After the COMMIT it
 * calls the service that owns each failed event: "PUT <location>/
 * <aggregateName>/<aggregateId>/<version>/compensate" as an in-memory
 * subrequest of a fake request to the internal location named by
 * "compensation_target <contextName> <uri>", so proxy_pass, upstream{},
 * keepalive, timeouts and TLS are nginx's own.  The fake request is the
 * technique of njs's js_periodic (a request with no client connection).
 * A claim takes only as many executions as there are free
 * call slots, and a freed slot posts the work again, so a backlog drains
 * continuously.  The workers, and other nginx on the same file, share the
 * backlog through the leases: none can take a leased execution, so no
 * attempt is dispatched twice.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_executor.h"
#include "ngx_http_compensation_metrics.h"
#include "ngx_http_compensation_notify.h"
#include "ngx_http_compensation_scheduler.h"
#include "ngx_http_compensation_scheduler_conf.h"
#include "cf_dispatch.h"


/* answered calls settled per transaction at most: keeps it short */
#define NGX_HTTP_COMPENSATION_SETTLE_MAX   256

/*
 * While the worker's API commands wait for the store executor, a step (the
 * turn between two command groups) is smaller: at most this many answers,
 * and claims of at most NGX_HTTP_COMPENSATION_CLAIM_SHARED executions (their
 * prepares are the next step's), so that a command waits a few milliseconds
 * behind a retry storm's drain, not tens (bench/dispatch.sh fair)
 */
#define NGX_HTTP_COMPENSATION_SETTLE_SHARED  32
#define NGX_HTTP_COMPENSATION_CLAIM_SHARED   16

/* the next try after the store refused a dispatch transaction (busy) */
#define NGX_HTTP_COMPENSATION_SCHED_RETRY  50


typedef struct ngx_http_compensation_batch_s  ngx_http_compensation_batch_t;


/*
 * One dispatch transaction, a job of the store executor: the event loop
 * hands it the claims to prepare and the answers to settle, the store
 * thread runs it on the executor's connection, and the event loop starts
 * the calls it prepared.  Only one is queued or running per worker.
 */
typedef struct {
    ngx_http_compensation_job_t            job;
    ngx_http_compensation_sched_t         *sched;
    /* in */
    int64_t                                now;
    int                                    k;        /* claims at most */
    int                                    exiting;
    ngx_http_compensation_batch_t         *claimed;  /* to prepare */
    ngx_queue_t                            settling; /* answered calls */
    /* out */
    int                                    rc;       /* 0: committed */
    int                                    busy;     /* BEGIN refused */
    cf_claim_t                            *claims;
    size_t                                 n;
    cf_exec_output_t                       outcome;  /* store_outcome's */
    unsigned                               has_outcome:1;
    char                                   errmsg[256];
} ngx_http_compensation_step_t;


/*
 * A database server's cancel check (a read of the store: a network round
 * trip), a job of the store executor: its start takes the job ids of the
 * calls in flight, its run reads which were cancelled, its done aborts
 * those still in flight.
 */
typedef struct {
    ngx_http_compensation_job_t            job;
    ngx_http_compensation_sched_t         *sched;
    int64_t                               *job_ids;
    u_char                                *asked;
    size_t                                 n;
    size_t                                 cap;
} ngx_http_compensation_check_t;


/* the first words are shaped like ngx_connection_t: with --with-debug the
 * timer code logs ngx_event_ident(ev->data), which reads its fd */
struct ngx_http_compensation_sched_s {
    void                                  *data;
    ngx_event_t                           *read;
    ngx_event_t                           *write;
    ngx_socket_t                           fd;

    ngx_event_t                            tick;     /* every interval */
    ngx_event_t                            work;     /* posted */
    ngx_event_t                            retry;    /* the store was busy */
    ngx_event_t                            check;    /* cancel checks */
    ngx_log_t                              log;
    ngx_http_compensation_main_conf_t     *mcf;
    ngx_http_compensation_sched_conf_t    *scf;
    cf_dispatch_t                         *dispatch;
    ngx_queue_t                            calls;    /* in flight */
    ngx_queue_t                            answered; /* to settle */
    ngx_queue_t                            finished; /* batches to free */
    ngx_http_compensation_batch_t         *claimed;  /* to prepare next */
    ngx_http_compensation_step_t           step;     /* the transaction */
    cf_dispatch_t                         *dispatch_loop;  /* the event
                                                        loop's reads (NULL
                                                        for a server store:
                                                        checker) */
    ngx_http_compensation_check_t          checker;
    int64_t                                owner;    /* of the leases */
    ngx_uint_t                             in_flight;
    unsigned                               due:1;    /* the tick fired */
    unsigned                               backlog:1;   /* last claim full */
    unsigned                               warned:1;
};


/* a command of the scheduler through cf_service (the API's pipeline), in
 * its own savepoint of the dispatch transaction */
typedef struct {
    cf_command_t                           cmd;
    json_t                                *header;
    cf_exec_input_t                        in;
    cf_prepared_t                          pre;
    char                                   req_id[CF_UUID_LEN + 16];
    char                                  *state;    /* the state it left,
                                                        for a notification
                                                        (heap) */
    unsigned                               bound:1;
    unsigned                               decided:1;
} ngx_http_compensation_sched_cmd_t;


typedef struct {
    ngx_queue_t                            queue;    /* calls or answered */
    ngx_http_compensation_batch_t         *batch;
    cf_claim_t                            *claim;
    ngx_http_compensation_target_t        *target;
    ngx_http_request_t                    *sr;
    cf_dispatch_call_t                     info;
    int32_t                                attempt;
    ngx_uint_t                             status;
    cf_recoverable_t                       recoverable;
    char                                   code[128];
    char                                   msg[400];
    ngx_http_compensation_sched_cmd_t      prep;     /* the prepare's */
    ngx_http_compensation_sched_cmd_t      result;   /* the settle's */
    const char                            *why;      /* not callable */
    /*
     * Written by the dispatch step, which runs off the event loop: whole
     * bytes, never bit-fields that share a word with the event loop's flags
     * below (a call being settled can still be in flight: a cancel)
     */
    u_char                                 prepared;
    u_char                                 settle_done;
    u_char                                 ok;          /* 2xx */
    u_char                                 cancelled;
    u_char                                 result_ok;   /* its command
                                                           applied */
    /* the event loop's */
    unsigned                               in_flight:1;
    unsigned                               in_calls:1;
    unsigned                               answered:1;
    unsigned                               settled:1;   /* committed */
    unsigned                               own:1;       /* not the target's
                                                           answer */
} ngx_http_compensation_call_t;


/* the calls of one claim: one fake request and one pool */
struct ngx_http_compensation_batch_s {
    ngx_queue_t                            queue;    /* sched->finished */
    ngx_http_compensation_sched_t         *sched;
    ngx_pool_t                            *pool;
    ngx_http_connection_t                  hc;
    ngx_log_t                              log;
    ngx_http_log_ctx_t                     log_ctx;
    ngx_connection_t                      *c;
    ngx_http_request_t                    *r;
    cf_claim_t                            *claims;
    size_t                                 n;
    ngx_uint_t                             live;     /* in flight or not
                                                        settled */
    ngx_uint_t                             notifying;   /* notifications
                                                           in flight */
    ngx_http_compensation_call_t          *calls;
    unsigned                               queued:1;    /* to be freed */
};


static void ngx_http_compensation_sched_tick(ngx_event_t *ev);
static void ngx_http_compensation_sched_work(ngx_event_t *ev);
static void ngx_http_compensation_sched_post(
    ngx_http_compensation_sched_t *sched);
static void ngx_http_compensation_sched_arm(
    ngx_http_compensation_sched_t *sched);
static void ngx_http_compensation_step_run(ngx_http_compensation_job_t *job,
    cf_store_t *st);
static void ngx_http_compensation_step_done(ngx_http_compensation_job_t *job);
static void ngx_http_compensation_prepare_init(
    ngx_http_compensation_step_t *step, cf_store_t *st,
    ngx_http_compensation_call_t *call);
static void ngx_http_compensation_prepare_run(
    ngx_http_compensation_step_t *step, cf_store_t *st,
    ngx_http_compensation_call_t *call);
static void ngx_http_compensation_sched_settle(
    ngx_http_compensation_step_t *step, cf_store_t *st,
    ngx_http_compensation_call_t *call);
static ngx_http_compensation_batch_t *ngx_http_compensation_batch_create(
    ngx_http_compensation_sched_t *sched, cf_claim_t *claims, size_t n);
static void ngx_http_compensation_batch_start(
    ngx_http_compensation_batch_t *b);
static void ngx_http_compensation_batch_handler(ngx_http_request_t *r);
static void ngx_http_compensation_batch_unref(
    ngx_http_compensation_batch_t *b);
static void ngx_http_compensation_batch_destroy(
    ngx_http_compensation_batch_t *b);
static void ngx_http_compensation_sched_check(ngx_event_t *ev);
static void ngx_http_compensation_call_cancel(
    ngx_http_compensation_call_t *call);
static ngx_int_t ngx_http_compensation_check_start(
    ngx_http_compensation_job_t *job);
static void ngx_http_compensation_check_run(
    ngx_http_compensation_job_t *job, cf_store_t *st);
static void ngx_http_compensation_check_done(
    ngx_http_compensation_job_t *job);
static ngx_int_t ngx_http_compensation_call_start(
    ngx_http_compensation_batch_t *b, ngx_http_compensation_call_t *call);
static ngx_int_t ngx_http_compensation_call_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_compensation_call_answer(
    ngx_http_compensation_call_t *call, ngx_uint_t status,
    ngx_str_t *error_code, ngx_str_t *body, const char *what);
static ngx_int_t ngx_http_compensation_cmd_init(
    ngx_http_compensation_main_conf_t *mcf,
    ngx_http_compensation_sched_cmd_t *sc, cf_command_type_t type,
    json_t *body, cf_claim_t *claim, const char *what, int64_t now,
    cf_error_t *err);
static ngx_int_t ngx_http_compensation_cmd_run(
    ngx_http_compensation_step_t *step, cf_store_t *st,
    ngx_http_compensation_sched_cmd_t *sc, cf_error_t *err);
static void ngx_http_compensation_cmd_free(
    ngx_http_compensation_sched_cmd_t *sc);
static void ngx_http_compensation_settle_init(
    ngx_http_compensation_step_t *step, ngx_http_compensation_call_t *call);
static u_char *ngx_http_compensation_sched_log_error(ngx_log_t *log,
    u_char *buf, size_t len);
static ngx_table_elt_t *ngx_http_compensation_push_header(
    ngx_http_request_t *sr, const char *key, const char *lowcase,
    u_char *value, size_t len);


ngx_int_t
ngx_http_compensation_scheduler_init_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf)
{
    char                                 errbuf[256];
    cf_store_t                          *st;
    ngx_http_compensation_sched_t       *sched;
    ngx_http_compensation_sched_conf_t  *scf;

    if (!ngx_http_compensation_store_ready(mcf)) {
        return NGX_OK;
    }

    /* the operations table: every worker (retry action, cancel, listing);
     * a server store's is in its schema, made when it was opened */
    if (!mcf->store_server
        && cf_dispatch_schema(mcf->store, errbuf, sizeof(errbuf)) != 0)
    {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0, "compensation_store"
                      " \"%V\": creating the operations table failed: %s",
                      &mcf->store_name, errbuf);
        return NGX_OK;
    }

    scf = mcf->scheduler;

    if (scf == NULL || scf->enabled != 1) {
        return NGX_OK;
    }

    if (scf->srv_ctx == NULL) {
        if (ngx_worker == 0) {
            ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                          "compensation_scheduler: no compensation_target is"
                          " configured, due executions stay due");
        }

        return NGX_OK;
    }

    sched = ngx_pcalloc(cycle->pool, sizeof(ngx_http_compensation_sched_t));
    if (sched == NULL) {
        return NGX_ERROR;
    }

    /*
     * The statements, prepared once on the connection the dispatch
     * transactions run on (the store executor's), and for the cancel checks
     * (reads) on the event loop's
     */
    st = ngx_http_compensation_executor_store(mcf);

    sched->dispatch = cf_dispatch_open(st);

    if (sched->dispatch == NULL) {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0, "compensation_scheduler:"
                      " preparing the dispatch statements failed: %s",
                      cf_store_errmsg(st));
        return NGX_OK;
    }

    sched->dispatch_loop = sched->dispatch;

    if (mcf->store_server) {
        /* no read on the event loop: the cancel checks are jobs */
        sched->dispatch_loop = NULL;
        sched->checker.sched = sched;
        sched->checker.job.start = ngx_http_compensation_check_start;
        sched->checker.job.run = ngx_http_compensation_check_run;
        sched->checker.job.done = ngx_http_compensation_check_done;
        sched->checker.job.data = &sched->checker;

    } else if (st != mcf->store) {
        sched->dispatch_loop = cf_dispatch_open(mcf->store);

        if (sched->dispatch_loop == NULL) {
            ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                          "compensation_scheduler: preparing the dispatch"
                          " statements failed: %s",
                          cf_store_errmsg(mcf->store));
            cf_dispatch_close(sched->dispatch);
            sched->dispatch = NULL;
            return NGX_OK;
        }
    }

    sched->step.sched = sched;
    sched->step.job.run = ngx_http_compensation_step_run;
    sched->step.job.done = ngx_http_compensation_step_done;
    sched->step.job.data = &sched->step;
    ngx_queue_init(&sched->step.settling);

    /*
     * The lease owner: this nginx's compensation_machine_id and the worker's
     * pid (pid_max is at most 2^22), so that the leases of several hosts on
     * one database tell their nodes apart: node * 10^7 + pid, the pid alone
     * without a machine id
     */
    sched->owner = (int64_t) ngx_pid;

    if (mcf->machine_node != NGX_CONF_UNSET) {
        sched->owner += (int64_t) mcf->machine_node * 10000000;
    }

    sched->fd = (ngx_socket_t) -1;
    sched->log = *cycle->log;
    sched->mcf = mcf;
    sched->scf = scf;
    scf->sched = sched;

    ngx_queue_init(&sched->calls);
    ngx_queue_init(&sched->answered);
    ngx_queue_init(&sched->finished);

    sched->tick.handler = ngx_http_compensation_sched_tick;
    sched->tick.data = sched;
    sched->tick.log = &sched->log;
    sched->tick.cancelable = 1;

    sched->work.handler = ngx_http_compensation_sched_work;
    sched->work.data = sched;
    sched->work.log = &sched->log;

    /* not cancelable: answers still to be written keep an exiting worker */
    sched->retry.handler = ngx_http_compensation_sched_work;
    sched->retry.data = sched;
    sched->retry.log = &sched->log;

    sched->check.handler = ngx_http_compensation_sched_check;
    sched->check.data = sched;
    sched->check.log = &sched->log;
    sched->check.cancelable = 1;

    ngx_add_timer(&sched->tick, scf->interval);

    return NGX_OK;
}


void
ngx_http_compensation_scheduler_exit_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf)
{
    ngx_queue_t                         *q;
    ngx_http_compensation_sched_t       *sched;
    ngx_http_compensation_sched_conf_t  *scf;

    scf = mcf->scheduler;

    if (scf == NULL || scf->sched == NULL) {
        return;
    }

    sched = scf->sched;

    if (sched->work.posted) {
        ngx_delete_posted_event(&sched->work);
    }

    while (!ngx_queue_empty(&sched->finished)) {
        q = ngx_queue_head(&sched->finished);
        ngx_queue_remove(q);
        ngx_http_compensation_batch_destroy(
            ngx_queue_data(q, ngx_http_compensation_batch_t, queue));
    }

    if (sched->claimed) {
        /* claimed, not prepared (terminate): the leases expire */
        ngx_http_compensation_batch_destroy(sched->claimed);
        sched->claimed = NULL;
    }

    /* a step whose done never came (terminate; the thread is joined) */
    if (sched->step.claimed) {
        ngx_http_compensation_batch_destroy(sched->step.claimed);
        sched->step.claimed = NULL;
    }

    if (sched->step.claims) {
        cf_claims_free(sched->step.claims, sched->step.n);
        sched->step.claims = NULL;
    }

    /* calls still in flight here were cut short (terminate): their leases
     * expire and their executions are claimed again; the statements go
     * before the store's connection closes */
    if (sched->dispatch_loop != sched->dispatch) {
        cf_dispatch_close(sched->dispatch_loop);
    }

    if (sched->checker.job_ids) {
        ngx_free(sched->checker.job_ids);
        ngx_free(sched->checker.asked);
        sched->checker.job_ids = NULL;
        sched->checker.asked = NULL;
    }

    cf_dispatch_close(sched->dispatch);
    sched->dispatch = NULL;
    sched->dispatch_loop = NULL;
    scf->sched = NULL;
}


static void
ngx_http_compensation_sched_arm(ngx_http_compensation_sched_t *sched)
{
    if (ngx_terminate || ngx_exiting || ngx_quit) {
        return;
    }

    if (!sched->tick.timer_set) {
        ngx_add_timer(&sched->tick, sched->scf->interval);
    }
}


static void
ngx_http_compensation_sched_post(ngx_http_compensation_sched_t *sched)
{
    if (!sched->work.posted) {
        ngx_post_event(&sched->work, &ngx_posted_events);
    }
}


static void
ngx_http_compensation_sched_tick(ngx_event_t *ev)
{
    ngx_http_compensation_sched_t  *sched = ev->data;

    if (ngx_terminate || ngx_exiting || ngx_quit) {
        return;
    }

    sched->due = 1;
    ngx_http_compensation_sched_work(&sched->work);
}


/*
 * The work, on the event loop: hands the next dispatch transaction (the
 * step) to the store executor.  The step prepares the executions the
 * previous one claimed (decided before the lock), settles the answered
 * calls (decided before the lock too), and claims as many due executions
 * as there are free call slots (at most batch).  After its COMMIT
 * (step_done, back on the event loop) the prepared ones are called, and the
 * next step, which prepares the new claims, follows.  Each step is bounded
 * by batch claims, batch prepares and NGX_HTTP_COMPENSATION_SETTLE_MAX
 * answers, and a step and a command group of the worker take turns in the
 * executor: a burst's drain never holds the API's commands for longer than
 * one step.
 */
static void
ngx_http_compensation_sched_work(ngx_event_t *ev)
{
    int                                  k, exiting;
    ngx_uint_t                           settled, used, settle_max, shared;
    ngx_queue_t                         *q;
    ngx_http_compensation_batch_t       *claimed;
    ngx_http_compensation_step_t        *step;
    ngx_http_compensation_sched_t       *sched = ev->data;
    ngx_http_compensation_sched_conf_t  *scf = sched->scf;

    if (sched->work.posted) {
        ngx_delete_posted_event(&sched->work);
    }

    /* batches whose calls all ended and were written */
    while (!ngx_queue_empty(&sched->finished)) {
        q = ngx_queue_head(&sched->finished);
        ngx_queue_remove(q);
        ngx_http_compensation_batch_destroy(
            ngx_queue_data(q, ngx_http_compensation_batch_t, queue));
    }

    step = &sched->step;

    if (!ngx_http_compensation_store_ready(sched->mcf)
        || sched->dispatch == NULL)
    {
        return;
    }

    if (step->job.queued || step->job.running) {
        /* its done looks again */
        return;
    }

    exiting = ngx_terminate || ngx_exiting || ngx_quit;
    claimed = sched->claimed;
    used = sched->in_flight + (claimed ? claimed->n : 0);
    k = 0;

    /* the API's commands are waiting, or queued: a smaller turn */
    shared = !cf_exec_queue_empty(&sched->mcf->group)
             || (sched->mcf->group_job
                 && (sched->mcf->group_job->queued
                     || sched->mcf->group_job->running));

    settle_max = shared ? NGX_HTTP_COMPENSATION_SETTLE_SHARED
                        : NGX_HTTP_COMPENSATION_SETTLE_MAX;

    if (!exiting && (sched->due || sched->backlog)) {
        k = cf_dispatch_claim_size((int) scf->batch, (int) scf->concurrency,
                                   (int) used);

        if (shared && k > NGX_HTTP_COMPENSATION_CLAIM_SHARED) {
            k = NGX_HTTP_COMPENSATION_CLAIM_SHARED;
        }
    }

    if (k == 0 && ngx_queue_empty(&sched->answered) && claimed == NULL) {
        ngx_http_compensation_sched_arm(sched);
        return;
    }

    if (sched->retry.timer_set) {
        ngx_del_timer(&sched->retry);
    }

    step->now = ngx_http_compensation_now_ms();
    step->k = k;
    step->exiting = exiting;
    step->claimed = claimed;
    step->rc = 0;
    step->busy = 0;
    step->claims = NULL;
    step->n = 0;
    step->has_outcome = 0;
    step->errmsg[0] = '\0';

    sched->claimed = NULL;

    /* the answers it settles are its own until its done */
    ngx_queue_init(&step->settling);

    for (settled = 0;
         settled < settle_max && !ngx_queue_empty(&sched->answered);
         settled++)
    {
        q = ngx_queue_head(&sched->answered);
        ngx_queue_remove(q);
        ngx_queue_insert_tail(&step->settling, q);
    }

    ngx_http_compensation_executor_post(sched->mcf, &step->job);
}


/*
 * The dispatch transaction, in the store thread (or on the event loop with
 * compensation_thread_pool off): touches only the step, its calls, the
 * connection it is given and the dispatch statements prepared on it.
 */
static void
ngx_http_compensation_step_run(ngx_http_compensation_job_t *job,
    cf_store_t *st)
{
    int                                  rc, lost;
    size_t                               i;
    ngx_queue_t                         *q;
    ngx_http_compensation_call_t        *call;
    ngx_http_compensation_step_t        *step = job->data;
    ngx_http_compensation_batch_t       *claimed = step->claimed;
    ngx_http_compensation_sched_t       *sched = step->sched;
    ngx_http_compensation_sched_conf_t  *scf = sched->scf;

    /*
     * The commands are decided before the lock, in one read transaction,
     * while the other workers hold it (cf_service_prepare, as the command
     * groups do): under the lock they cost a version check and their
     * writes.
     */
    if (cf_store_read_hold(st) == 0) {
        for (i = 0; claimed && !step->exiting && i < claimed->n; i++) {
            ngx_http_compensation_prepare_init(step, st, &claimed->calls[i]);
        }

        for (q = ngx_queue_head(&step->settling);
             q != ngx_queue_sentinel(&step->settling);
             q = ngx_queue_next(q))
        {
            call = ngx_queue_data(q, ngx_http_compensation_call_t, queue);
            ngx_http_compensation_settle_init(step, call);

            if (call->result.bound && !call->result.decided) {
                cf_service_prepare(st, &sched->mcf->ids, &call->result.in,
                                   &call->result.pre);
                call->result.decided = 1;
            }
        }
    }

    /* a read transaction held on this connection would make BEGIN fail */
    cf_store_read_release(st);

    if (cf_store_begin_immediate(st) != 0) {
        step->busy = 1;
        step->rc = -1;
        ngx_cpystrn((u_char *) step->errmsg, (u_char *) cf_store_errmsg(st),
                    sizeof(step->errmsg));
        return;
    }

    lost = 0;

    for (i = 0; claimed && i < claimed->n; i++) {
        call = &claimed->calls[i];

        if (step->exiting) {
            /* not prepared: the executions are due for the next worker */
            (void) cf_dispatch_finish_in(sched->dispatch,
                                         call->claim->job_id, "Released",
                                         "shutting down", step->now);
            continue;
        }

        ngx_http_compensation_prepare_run(step, st, call);

        if (!cf_store_in_transaction(st)) {
            lost = 1;
            break;
        }
    }

    for (q = ngx_queue_head(&step->settling);
         !lost && q != ngx_queue_sentinel(&step->settling);
         q = ngx_queue_next(q))
    {
        call = ngx_queue_data(q, ngx_http_compensation_call_t, queue);
        ngx_http_compensation_sched_settle(step, st, call);

        if (!cf_store_in_transaction(st)) {
            lost = 1;
        }
    }

    if (!lost && step->k > 0) {
        if (cf_dispatch_claim_in(sched->dispatch, step->now, scf->lease,
                                 sched->owner, step->k, &step->claims,
                                 &step->n)
            != 0)
        {
            lost = 1;
        }
    }

    rc = lost ? -1 : cf_store_commit(st);

    /* the metrics count the operations this transaction ended once it
     * committed */
    cf_dispatch_end_transaction(sched->dispatch, rc == 0);

    if (rc != 0) {
        ngx_cpystrn((u_char *) step->errmsg, (u_char *) cf_store_errmsg(st),
                    sizeof(step->errmsg));
        cf_store_rollback(st);

        if (step->claims) {
            cf_claims_free(step->claims, step->n);
            step->claims = NULL;
            step->n = 0;
        }

        step->rc = -1;
    }
}


/* back on the event loop: the calls start, or the step is tried again */
static void
ngx_http_compensation_step_done(ngx_http_compensation_job_t *job)
{
    size_t                               i;
    ngx_uint_t                           started, used;
    ngx_queue_t                         *q;
    ngx_http_compensation_call_t        *call;
    ngx_http_compensation_batch_t       *b, *claimed;
    ngx_http_compensation_step_t        *step = job->data;
    ngx_http_compensation_sched_t       *sched = step->sched;
    ngx_http_compensation_sched_conf_t  *scf = sched->scf;

    if (step->has_outcome) {
        ngx_http_compensation_store_outcome(sched->mcf, &sched->log,
                                            &step->outcome);
    }

    claimed = step->claimed;
    step->claimed = NULL;

    if (step->rc != 0) {
        if (step->busy) {
            ngx_log_error(NGX_LOG_WARN, &sched->log, 0, "compensation"
                          " scheduler: the store is busy, dispatch deferred:"
                          " %s", step->errmsg);

        } else {
            ngx_log_error(NGX_LOG_ERR, &sched->log, 0, "compensation"
                          " scheduler: the dispatch transaction failed,"
                          " nothing of it was written: %s", step->errmsg);
        }

        /* the prepares and settles are undone as well: tried again (the
         * claims of the previous transaction are still leased) */
        for (i = 0; claimed && i < claimed->n; i++) {
            claimed->calls[i].prepared = 0;
        }

        sched->claimed = claimed;

        while (!ngx_queue_empty(&step->settling)) {
            q = ngx_queue_last(&step->settling);
            ngx_queue_remove(q);

            call = ngx_queue_data(q, ngx_http_compensation_call_t, queue);
            call->settle_done = 0;

            ngx_queue_insert_head(&sched->answered, q);
        }

        goto retry;
    }

    b = NULL;

    if (step->n) {
        b = ngx_http_compensation_batch_create(sched, step->claims, step->n);

        if (b == NULL) {
            /* committed as Running: their leases expire, then they are due */
            ngx_log_error(NGX_LOG_ERR, &sched->log, 0, "compensation"
                          " scheduler: no memory for %uz claimed executions,"
                          " due again when their leases end", step->n);
            cf_claims_free(step->claims, step->n);
        }

        step->claims = NULL;
    }

    /* committed: the settled calls are done with */
    while (!ngx_queue_empty(&step->settling)) {
        q = ngx_queue_head(&step->settling);
        ngx_queue_remove(q);

        call = ngx_queue_data(q, ngx_http_compensation_call_t, queue);
        call->settled = 1;

        if (call->result_ok) {
            /* compensation_notify: the result is committed now */
            ngx_http_compensation_notify_command(call->batch->r,
                call->ok ? CF_CMD_APPLY_EXECUTION_SUCCESS
                         : CF_CMD_APPLY_EXECUTION_FAILED,
                call->claim->execution_id, call->result.state,
                &call->batch->notifying);

            /* its subrequest starts now, not at the batch's next event */
            if (call->batch->c) {
                ngx_http_run_posted_requests(call->batch->c);
            }
        }

        if (!call->in_flight) {
            ngx_http_compensation_batch_unref(call->batch);
        }
    }

    started = 0;

    if (claimed) {
        ngx_http_compensation_batch_start(claimed);

        for (i = 0; i < claimed->n; i++) {
            started += claimed->calls[i].prepared;
        }

        ngx_http_compensation_batch_unref(claimed);
    }

    sched->claimed = b;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, &sched->log, 0,
                   "compensation scheduler: started %ui, claimed %uz of %d",
                   started, b ? b->n : 0, step->k);

    if (step->k > 0) {
        sched->due = 0;
        sched->backlog = b && (int) b->n == step->k;
    }

    /*
     * More to do: the new claims' prepares, answers beyond the bound, a
     * backlog with free slots.  In the store thread the next step goes at
     * once (the event loop serves its I/O meanwhile, and answers arriving
     * while the step runs join the one after); on the event loop at the
     * next iteration, so that I/O events get their turn first.  The timer
     * is not cancelable: claims and answers keep an exiting worker until
     * they are written.
     */
    used = sched->in_flight + (b ? b->n : 0);

    if (b || !ngx_queue_empty(&sched->answered)
        || !ngx_queue_empty(&sched->finished)
        || (sched->backlog
            && cf_dispatch_claim_size((int) scf->batch,
                                      (int) scf->concurrency, (int) used)))
    {
        if (ngx_http_compensation_executor_threaded(sched->mcf)) {
            ngx_http_compensation_sched_post(sched);

        } else {
            ngx_add_timer(&sched->retry, 0);
        }
    }

    ngx_http_compensation_sched_arm(sched);

    return;

retry:

    if (!ngx_queue_empty(&sched->answered) || sched->claimed
        || sched->due || sched->backlog)
    {
        ngx_add_timer(&sched->retry, NGX_HTTP_COMPENSATION_SCHED_RETRY);
    }

    ngx_http_compensation_sched_arm(sched);
}


/*
 * Before the lock: what a claim's state names, its target, and the
 * decision of its PrepareCompensation.  A claim that cannot be called keeps
 * the reason (call->why): it is released under the lock.
 */
static void
ngx_http_compensation_prepare_init(ngx_http_compensation_step_t *step,
    cf_store_t *st, ngx_http_compensation_call_t *call)
{
    ngx_uint_t                           i;
    cf_error_t                           err;
    cf_claim_t                          *claim = call->claim;
    ngx_http_compensation_target_t      *t;
    ngx_http_compensation_sched_t       *sched = step->sched;
    ngx_http_compensation_sched_conf_t  *scf = sched->scf;

    if (call->why || call->prep.bound) {
        return;
    }

    if (call->info.root == NULL) {
        if (cf_dispatch_call_parse(claim->state, &call->info) != 0) {
            call->why = "the state has no eventId or function";
            return;
        }

        call->attempt = call->info.attempt;

        t = scf->targets.elts;

        for (i = 0; i < scf->targets.nelts; i++) {
            if (t[i].context.len == ngx_strlen(call->info.context)
                && ngx_strncmp(t[i].context.data, call->info.context,
                               t[i].context.len)
                   == 0)
            {
                break;
            }
        }

        if (i == scf->targets.nelts) {
            if (!sched->warned) {
                sched->warned = 1;
                ngx_log_error(NGX_LOG_WARN, &sched->log, 0, "compensation"
                              " scheduler: no compensation_target for"
                              " context \"%s\" (execution \"%s\"), left"
                              " due", call->info.context,
                              claim->execution_id);
            }

            call->why = "no target";
            return;
        }

        call->target = &t[i];

        if (!cf_dispatch_segment_ok(call->info.aggregate_name)
            || !cf_dispatch_segment_ok(call->info.aggregate_id))
        {
            ngx_log_error(NGX_LOG_WARN, &sched->log, 0, "compensation"
                          " scheduler: execution \"%s\" names an aggregate"
                          " that cannot be a path segment, not dispatched",
                          claim->execution_id);
            call->why = "bad aggregate path segment";
            return;
        }
    }

    /* PrepareCompensation, exactly as the API route would run it */
    if (ngx_http_compensation_cmd_init(sched->mcf, &call->prep,
                                       CF_CMD_PREPARE_COMPENSATION,
                                       json_object(), claim, "prepare",
                                       step->now, &err)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, &sched->log, 0, "compensation"
                      " scheduler: the prepare of \"%s\" cannot be a"
                      " command: %s: %s", claim->execution_id, err.code,
                      err.msg);
        cf_error_free(&err);
        return;
    }

    if (cf_store_in_transaction(st)) {
        cf_service_prepare(st, &sched->mcf->ids, &call->prep.in,
                           &call->prep.pre);
        call->prep.decided = 1;
    }
}


/*
 * In the dispatch transaction: PrepareCompensation of a claim still held
 * (its lease may have run out while the store was busy: then another
 * scheduler may have it).  A refused prepare fails the operation.
 */
static void
ngx_http_compensation_prepare_run(ngx_http_compensation_step_t *step,
    cf_store_t *st, ngx_http_compensation_call_t *call)
{
    cf_error_t                      err;
    cf_claim_t                     *claim = call->claim;
    int64_t                         now = step->now;
    ngx_http_compensation_sched_t  *sched = step->sched;

    call->prepared = 0;

    if (!cf_dispatch_held_in(sched->dispatch, claim->job_id, now)) {
        ngx_log_error(NGX_LOG_WARN, &sched->log, 0, "compensation"
                      " scheduler: the lease of \"%s\" (operation %s) ran"
                      " out before its prepare, not dispatched",
                      claim->execution_id, claim->op_id);
        ngx_http_compensation_cmd_free(&call->prep);
        return;
    }

    if (call->why) {
        (void) cf_dispatch_finish_in(sched->dispatch, claim->job_id,
                                     "Released", call->why, now);
        return;
    }

    ngx_http_compensation_prepare_init(step, st, call);

    if (!call->prep.bound) {
        (void) cf_dispatch_finish_in(sched->dispatch, claim->job_id,
                                     "Released", "no memory", now);
        return;
    }

    if (ngx_http_compensation_cmd_run(step, st, &call->prep, &err)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, &sched->log, 0, "compensation"
                      " scheduler: prepare of \"%s\" refused: %s: %s",
                      claim->execution_id, err.code, err.msg);
        (void) cf_dispatch_finish_in(sched->dispatch, claim->job_id,
                                     "Failed", err.msg, now);
        cf_error_free(&err);
        return;
    }

    call->prepared = 1;
}


/*
 * The command that writes the outcome of one call.  Sync targets: a 2xx
 * applies the success, anything else the failure; async targets: a 2xx
 * only started the re-execution (the service reports back): no command.
 */
static void
ngx_http_compensation_settle_init(ngx_http_compensation_step_t *step,
    ngx_http_compensation_call_t *call)
{
    json_t                         *cmd;
    cf_error_t                      err;
    int64_t                         now = step->now;
    ngx_http_compensation_sched_t  *sched = step->sched;

    if (call->result.bound) {
        return;
    }

    if (call->ok) {
        if (call->target && !call->target->sync) {
            return;
        }

        cmd = json_pack("{s:I}", "executeAt", (json_int_t) now);

    } else {
        cmd = json_pack("{s:{s:s, s:s, s:s}, s:I, s:s}",
                        "error", "errorCode", call->code, "errorMsg",
                        call->msg, "stackTrace", "",
                        "executeAt", (json_int_t) now,
                        "recoverable",
                        cf_recoverable_name(call->recoverable));
    }

    if (ngx_http_compensation_cmd_init(sched->mcf, &call->result,
            call->ok ? CF_CMD_APPLY_EXECUTION_SUCCESS
                     : CF_CMD_APPLY_EXECUTION_FAILED,
            cmd, call->claim, "result", now, &err)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, &sched->log, 0, "compensation: the"
                      " result of \"%s\" cannot be a command: %s: %s",
                      call->claim->execution_id, err.code, err.msg);
        cf_error_free(&err);
    }
}


/*
 * In the dispatch transaction: the outcome of one call, decided before
 * the lock when it could be (call->result.decided).
 */
static void
ngx_http_compensation_sched_settle(ngx_http_compensation_step_t *step,
    cf_store_t *st, ngx_http_compensation_call_t *call)
{
    cf_error_t                      err;
    cf_claim_t                     *claim = call->claim;
    int64_t                         now = step->now;
    ngx_http_compensation_sched_t  *sched = step->sched;

    if (!call->own && !call->cancelled
        && cf_dispatch_cancel_asked_in(sched->dispatch, claim->job_id))
    {
        /* cancelled (or force cancelled) while the answer was on its way */
        call->cancelled = 1;
        call->ok = 0;
        call->recoverable = CF_RECOVERABLE_UNKNOWN;
        ngx_snprintf((u_char *) call->code, sizeof(call->code),
                     "Cancelled%Z");
        ngx_snprintf((u_char *) call->msg, sizeof(call->msg),
                     "cancelled%Z");
        ngx_http_compensation_cmd_free(&call->result);
    }

    ngx_http_compensation_settle_init(step, call);

    if (call->ok && call->target && !call->target->sync) {
        ngx_log_error(NGX_LOG_INFO, &sched->log, 0, "compensation:"
                      " execution \"%s\" attempt %D accepted (%ui),"
                      " waiting for its report", claim->execution_id,
                      call->attempt, call->status);
        (void) cf_dispatch_finish_in(sched->dispatch, claim->job_id,
                                     "Completed", "accepted", now);
        call->settle_done = 1;
        return;
    }

    call->result_ok = 0;

    if (call->result.bound) {
        if (ngx_http_compensation_cmd_run(step, st, &call->result, &err)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_WARN, &sched->log, 0, "compensation:"
                          " applying the %s of \"%s\" failed: %s: %s",
                          call->ok ? "success" : "failure",
                          claim->execution_id, err.code, err.msg);
            cf_error_free(&err);

        } else {
            call->result_ok = 1;
        }
    }

    if (call->ok) {
        ngx_log_error(NGX_LOG_INFO, &sched->log, 0, "compensation:"
                      " execution \"%s\" attempt %D succeeded (%ui)",
                      claim->execution_id, call->attempt, call->status);

        (void) cf_dispatch_finish_in(sched->dispatch, claim->job_id,
                                     "Succeeded", "ok", now);
        call->settle_done = 1;
        return;
    }

    ngx_log_error(NGX_LOG_INFO, &sched->log, 0, "compensation: execution"
                  " \"%s\" attempt %D failed: %s: %s (%s)",
                  claim->execution_id, call->attempt, call->code, call->msg,
                  cf_recoverable_name(call->recoverable));

    /* RollingBack -> Cancelled; a force cancel may have won */
    (void) cf_dispatch_finish_in(sched->dispatch, claim->job_id,
                                 call->cancelled ? "Cancelled" : "Failed",
                                 call->cancelled ? "cancelled" : call->msg,
                                 now);
    call->settle_done = 1;
}


static ngx_http_compensation_batch_t *
ngx_http_compensation_batch_create(ngx_http_compensation_sched_t *sched,
    cf_claim_t *claims, size_t n)
{
    size_t                          i;
    ngx_pool_t                     *pool;
    ngx_http_compensation_batch_t  *b;

    pool = ngx_create_pool(4096, &sched->log);
    if (pool == NULL) {
        return NULL;
    }

    b = ngx_pcalloc(pool, sizeof(ngx_http_compensation_batch_t));
    if (b == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    b->calls = ngx_pcalloc(pool, n * sizeof(ngx_http_compensation_call_t));
    if (b->calls == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    b->sched = sched;
    b->pool = pool;
    b->claims = claims;
    b->n = n;
    b->live = 1;            /* the dispatch transaction's, until started */

    for (i = 0; i < n; i++) {
        b->calls[i].batch = b;
        b->calls[i].claim = &claims[i];
    }

    return b;
}


/* after the COMMIT: calls every prepared claim */
static void
ngx_http_compensation_batch_start(ngx_http_compensation_batch_t *b)
{
    size_t                          i;
    ngx_uint_t                      any;
    ngx_str_t                       code = ngx_string("CompensationCallFailed");
    ngx_connection_t               *c;
    ngx_http_request_t             *r;
    ngx_http_compensation_call_t   *call;
    ngx_http_compensation_sched_t  *sched = b->sched;

    any = 0;

    for (i = 0; i < b->n; i++) {
        any |= b->calls[i].prepared;
    }

    c = NULL;

    if (!any) {
        goto done;
    }

    b->log = sched->log;
    b->log.data = &b->log_ctx;
    b->log.handler = ngx_http_compensation_sched_log_error;
    b->log.action = "dispatching compensations";

    c = ngx_get_connection(0, &b->log);
    if (c == NULL) {
        goto done;
    }

    c->fd = (ngx_socket_t) -1;
    c->read->active = 1;
    c->write->active = 1;
    c->log = &b->log;
    c->read->log = &b->log;
    c->write->log = &b->log;

    b->log_ctx.connection = c;
    b->hc.conf_ctx = sched->scf->srv_ctx;
    c->data = &b->hc;

    r = ngx_http_create_request(c);
    if (r == NULL) {
        c->fd = 0;
        ngx_free_connection(c);
        c->fd = (ngx_socket_t) -1;
        c = NULL;
        goto done;
    }

    c->data = r;
    c->pool = r->pool;

    r->method = NGX_HTTP_GET;
    ngx_str_set(&r->method_name, "GET");
    ngx_str_set(&r->uri, "/");
    ngx_str_set(&r->unparsed_uri, "/");
    ngx_str_set(&r->http_protocol, "HTTP/1.1");
    r->http_version = NGX_HTTP_VERSION_11;
    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_compensation_batch_handler;
    ngx_http_set_ctx(r, b, ngx_http_compensation_module);

    b->c = c;
    b->r = r;

done:

    for (i = 0; i < b->n; i++) {
        call = &b->calls[i];

        if (call->prepared) {
            /* held until its outcome is written and its call ended */
            b->live++;

            if (c == NULL) {
                /* PREPARED now: record the failure so that it is due
                 * again */
                ngx_http_compensation_call_answer(call, 0, &code, NULL,
                                                  "no memory");
            } else {
                ngx_http_compensation_metrics_dispatch_start(call->info.root,
                                            ngx_http_compensation_now_ms());
                ngx_http_compensation_notify_command(r,
                    CF_CMD_PREPARE_COMPENSATION, call->claim->execution_id,
                    call->prep.state, &b->notifying);

                (void) ngx_http_compensation_call_start(b, call);
            }
        }

        json_decref(call->info.root);
        call->info.root = NULL;
    }

    if (c) {
        ngx_http_run_posted_requests(c);
    }

    if (sched->in_flight && !sched->check.timer_set) {
        ngx_add_timer(&sched->check, sched->scf->cancel_check);
    }
}


/*
 * The parent of the calls and of the notifications: posted when a
 * notification ends (the work frees the batch once its calls ended and
 * were written and no notification is left)
 */
static void
ngx_http_compensation_batch_handler(ngx_http_request_t *r)
{
    ngx_http_compensation_batch_t  *b;

    b = ngx_http_get_module_ctx(r, ngx_http_compensation_module);

    if (b && b->live == 0 && b->notifying == 0 && !b->queued) {
        b->queued = 1;
        ngx_queue_insert_tail(&b->sched->finished, &b->queue);
        ngx_http_compensation_sched_post(b->sched);
    }
}


static void
ngx_http_compensation_batch_unref(ngx_http_compensation_batch_t *b)
{
    ngx_http_compensation_sched_t  *sched = b->sched;

    if (--b->live) {
        return;
    }

    if (b->notifying || b->queued) {
        /* the last notification's end queues it (batch_handler) */
        return;
    }

    /* freed by the work, never in a call's own handlers */
    b->queued = 1;
    ngx_queue_insert_tail(&sched->finished, &b->queue);
    ngx_http_compensation_sched_post(sched);
}


static void
ngx_http_compensation_batch_destroy(ngx_http_compensation_batch_t *b)
{
    size_t                         i;
    ngx_connection_t              *c;
    ngx_http_request_t            *r;
    ngx_http_compensation_call_t  *call;

    for (i = 0; i < b->n; i++) {
        call = &b->calls[i];
        json_decref(call->info.root);
        call->info.root = NULL;
        ngx_http_compensation_cmd_free(&call->prep);
        ngx_http_compensation_cmd_free(&call->result);
        ngx_free(call->prep.state);
        ngx_free(call->result.state);
    }

    cf_claims_free(b->claims, b->n);

    c = b->c;
    r = b->r;

    if (r) {
        r->logged = 1;
        ngx_http_free_request(r, NGX_OK);
    }

    if (c) {
        c->fd = 0;
        ngx_free_connection(c);
        c->fd = (ngx_socket_t) -1;
        c->pool = NULL;
        c->destroyed = 1;
    }

    ngx_destroy_pool(b->pool);
}


/*
 * Every cancel_check while calls are in flight: a graceful cancel asked
 * through any worker (the store says so) aborts the call here and rolls
 * the execution back to FAILED.
 */
static void
ngx_http_compensation_sched_check(ngx_event_t *ev)
{
    ngx_queue_t                    *q, *next;
    ngx_http_compensation_call_t   *call;
    ngx_http_compensation_sched_t  *sched = ev->data;

    if (sched->dispatch == NULL) {
        return;
    }

    if (sched->dispatch_loop == NULL) {
        /* a server store: the reads are a job (nothing if one is queued) */
        ngx_http_compensation_executor_post(sched->mcf, &sched->checker.job);

    } else {
        for (q = ngx_queue_head(&sched->calls);
             q != ngx_queue_sentinel(&sched->calls);
             q = next)
        {
            next = ngx_queue_next(q);
            call = ngx_queue_data(q, ngx_http_compensation_call_t, queue);

            if (cf_dispatch_cancel_asked_in(sched->dispatch_loop,
                                            call->claim->job_id))
            {
                ngx_http_compensation_call_cancel(call);
            }
        }
    }

    if (sched->in_flight && !sched->check.timer_set) {
        ngx_add_timer(&sched->check, sched->scf->cancel_check);
    }
}


/* a call whose operation was cancelled: answered, its upstream stopped */
static void
ngx_http_compensation_call_cancel(ngx_http_compensation_call_t *call)
{
    ngx_str_t             code;
    ngx_http_upstream_t  *u;

    ngx_log_error(NGX_LOG_INFO, &call->batch->log, 0, "compensation:"
                  " operation %s of execution \"%s\" cancelled, aborting"
                  " the call", call->claim->op_id, call->claim->execution_id);

    ngx_str_set(&code, "Cancelled");
    ngx_http_compensation_call_answer(call, 0, &code, NULL, "cancelled");

    /*
     * Stop the upstream through nginx's own timeout path: with one try
     * left, the upstream finalizes the subrequest (504) and closes the
     * peer connection; the post-subrequest handler sees it answered.
     * A call not connected yet is ignored when it ends.
     */
    u = call->sr ? call->sr->upstream : NULL;

    if (u && u->peer.connection) {
        u->peer.tries = 1;
        u->peer.connection->read->timedout = 1;
        ngx_post_event(u->peer.connection->read, &ngx_posted_events);
    }
}


/* its turn, on the event loop: the calls in flight now */
static ngx_int_t
ngx_http_compensation_check_start(ngx_http_compensation_job_t *job)
{
    size_t                          cap;
    u_char                         *asked;
    int64_t                        *ids;
    ngx_queue_t                    *q;
    ngx_http_compensation_call_t   *call;
    ngx_http_compensation_check_t  *ck = job->data;
    ngx_http_compensation_sched_t  *sched = ck->sched;

    ck->n = 0;

    if (ngx_terminate || ngx_exiting || ngx_quit) {
        return NGX_DECLINED;
    }

    for (q = ngx_queue_head(&sched->calls);
         q != ngx_queue_sentinel(&sched->calls);
         q = ngx_queue_next(q))
    {
        if (ck->n == ck->cap) {
            cap = ck->cap ? ck->cap * 2 : 64;

            ids = ngx_alloc(cap * sizeof(int64_t), &sched->log);
            asked = ngx_alloc(cap, &sched->log);

            if (ids == NULL || asked == NULL) {
                ngx_free(ids);
                ngx_free(asked);
                break;
            }

            if (ck->n) {
                ngx_memcpy(ids, ck->job_ids, ck->n * sizeof(int64_t));
            }

            ngx_free(ck->job_ids);
            ngx_free(ck->asked);
            ck->job_ids = ids;
            ck->asked = asked;
            ck->cap = cap;
        }

        call = ngx_queue_data(q, ngx_http_compensation_call_t, queue);
        ck->job_ids[ck->n++] = call->claim->job_id;
    }

    return ck->n ? NGX_OK : NGX_DECLINED;
}


/* in the store thread: only the check's arrays and the dispatch reads */
static void
ngx_http_compensation_check_run(ngx_http_compensation_job_t *job,
    cf_store_t *st)
{
    size_t                          i;
    ngx_http_compensation_check_t  *ck = job->data;

    for (i = 0; i < ck->n; i++) {
        ck->asked[i] = (u_char) (st && cf_dispatch_cancel_asked_in(
                                              ck->sched->dispatch,
                                              ck->job_ids[i]));
    }
}


/* back on the event loop: the calls still in flight that were cancelled */
static void
ngx_http_compensation_check_done(ngx_http_compensation_job_t *job)
{
    size_t                          i;
    ngx_queue_t                    *q, *next;
    ngx_http_compensation_call_t   *call;
    ngx_http_compensation_check_t  *ck = job->data;
    ngx_http_compensation_sched_t  *sched = ck->sched;

    for (i = 0; i < ck->n; i++) {
        if (!ck->asked[i]) {
            continue;
        }

        for (q = ngx_queue_head(&sched->calls);
             q != ngx_queue_sentinel(&sched->calls);
             q = next)
        {
            next = ngx_queue_next(q);
            call = ngx_queue_data(q, ngx_http_compensation_call_t, queue);

            if (call->claim->job_id == ck->job_ids[i]) {
                ngx_http_compensation_call_cancel(call);
                break;
            }
        }
    }

    ck->n = 0;
}


/* starts the subrequest of a prepared call; a call that cannot start is
 * answered as failed (CompensationCallFailed: due again) */
static ngx_int_t
ngx_http_compensation_call_start(ngx_http_compensation_batch_t *b,
    ngx_http_compensation_call_t *call)
{
    json_t                          *body;
    size_t                           len;
    u_char                          *p;
    ngx_str_t                        uri, code;
    const char                      *why;
    char                            *doc;
    cf_claim_t                      *claim = call->claim;
    ngx_buf_t                       *buf;
    ngx_chain_t                     *cl;
    ngx_http_request_t              *sr;
    ngx_http_post_subrequest_t      *ps;
    ngx_http_compensation_target_t  *t = call->target;
    ngx_http_compensation_sched_t   *sched = b->sched;
    u_char                           idem[300];

    body = json_pack("{s:s, s:O}", "id", claim->execution_id,
                     "function", call->info.function);
    doc = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);

    if (doc == NULL) {
        why = "no memory";
        goto failed;
    }

    len = t->uri.len + 1 + ngx_strlen(call->info.aggregate_name) + 1
          + ngx_strlen(call->info.aggregate_id) + 1 + NGX_INT64_LEN
          + sizeof("/compensate");

    uri.data = ngx_pnalloc(b->pool, len);
    p = ngx_pnalloc(b->pool, ngx_strlen(doc));
    buf = ngx_calloc_buf(b->pool);
    cl = ngx_alloc_chain_link(b->pool);
    ps = ngx_palloc(b->pool, sizeof(ngx_http_post_subrequest_t));

    if (uri.data == NULL || p == NULL || buf == NULL || cl == NULL
        || ps == NULL)
    {
        why = "no memory";
        goto failed;
    }

    uri.len = ngx_snprintf(uri.data, len, "%V/%s/%s/%L/compensate", &t->uri,
                           call->info.aggregate_name, call->info.aggregate_id,
                           call->info.version)
              - uri.data;

    buf->pos = p;
    buf->last = ngx_cpymem(p, doc, ngx_strlen(doc));
    buf->memory = 1;
    buf->last_buf = 1;
    cl->buf = buf;
    cl->next = NULL;

    free(doc);
    doc = NULL;

    ps->handler = ngx_http_compensation_call_done;
    ps->data = call;

    if (ngx_http_subrequest(b->r, &uri, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_IN_MEMORY
                            | NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        why = "cannot start a subrequest";
        goto failed;
    }

    call->sr = sr;
    call->in_flight = 1;
    sched->in_flight++;

    sr->method = NGX_HTTP_PUT;
    ngx_str_set(&sr->method_name, "PUT");

    sr->request_body = ngx_pcalloc(b->pool, sizeof(ngx_http_request_body_t));
    if (sr->request_body == NULL) {
        why = "no memory";
        goto failed;
    }

    sr->request_body->bufs = cl;
    sr->discard_body = 0;

    ngx_memzero(&sr->headers_in, sizeof(ngx_http_headers_in_t));

    if (ngx_list_init(&sr->headers_in.headers, b->pool, 4,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        why = "no memory";
        goto failed;
    }

    sr->headers_in.content_length_n = buf->last - buf->pos;
    sr->headers_in.keep_alive_n = -1;

    sr->headers_in.content_type = ngx_http_compensation_push_header(sr,
                                      "Content-Type", "content-type",
                                      (u_char *) "application/json",
                                      sizeof("application/json") - 1);

    p = ngx_snprintf(idem, sizeof(idem), "%s:%D", claim->execution_id,
                     call->attempt);

    if (sr->headers_in.content_type == NULL
        || ngx_http_compensation_push_header(sr, "Idempotency-Key",
               "idempotency-key", ngx_pstrdup(b->pool, &(ngx_str_t)
                                   { p - idem, idem }), p - idem)
           == NULL
        || ngx_http_compensation_push_header(sr, "Wow-Operation-Id",
               "wow-operation-id", (u_char *) claim->op_id, CF_UUID_LEN)
           == NULL)
    {
        why = "no memory";
        goto failed;
    }

    ngx_queue_insert_tail(&sched->calls, &call->queue);
    call->in_calls = 1;

    ngx_log_error(NGX_LOG_INFO, &sched->log, 0, "compensation: dispatching"
                  " execution \"%s\" attempt %D (operation %s, job %L) to"
                  " \"%V\"", claim->execution_id, call->attempt,
                  claim->op_id, claim->job_id, &uri);

    return NGX_OK;

failed:

    /* a subrequest already posted runs into an empty location; PREPARED
     * now: record the failure so that it is due again */
    free(doc);
    ngx_str_set(&code, "CompensationCallFailed");
    ngx_http_compensation_call_answer(call, 0, &code, NULL, why);

    return NGX_DECLINED;
}


static ngx_table_elt_t *
ngx_http_compensation_push_header(ngx_http_request_t *sr, const char *key,
    const char *lowcase, u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    if (value == NULL) {
        return NULL;
    }

    h = ngx_list_push(&sr->headers_in.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->lowcase_key = (u_char *) lowcase;
    h->value.data = value;
    h->value.len = len;

    return h;
}


static ngx_int_t
ngx_http_compensation_call_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_uint_t                      status, i;
    ngx_str_t                       code, body, *pcode;
    ngx_list_part_t                *part;
    ngx_table_elt_t                *h;
    ngx_http_compensation_call_t   *call = data;
    ngx_http_compensation_batch_t  *b = call->batch;
    ngx_http_compensation_sched_t  *sched = b->sched;

    call->sr = NULL;

    if (call->in_flight) {
        call->in_flight = 0;
        sched->in_flight--;
    }

    if (!call->answered) {
        status = sr->headers_out.status;

        if (sr->upstream && sr->upstream->state
            && sr->upstream->state->status)
        {
            status = sr->upstream->state->status;
        }

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE && (status == 0
                                                || status < 300))
        {
            status = rc;
        }

        if (rc == NGX_ERROR && status < 300) {
            status = 0;
        }

        pcode = NULL;
        part = &sr->headers_out.headers.part;
        h = part->elts;

        for (i = 0; /* void */ ; i++) {
            if (i >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }
                part = part->next;
                h = part->elts;
                i = 0;
            }

            if (h[i].hash && h[i].key.len == sizeof("Wow-Error-Code") - 1
                && ngx_strncasecmp(h[i].key.data, (u_char *) "Wow-Error-Code",
                                   h[i].key.len) == 0)
            {
                code = h[i].value;
                pcode = &code;
            }
        }

        ngx_str_null(&body);

        if (sr->out && sr->out->buf) {
            body.data = sr->out->buf->pos;
            body.len = sr->out->buf->last - sr->out->buf->pos;
        }

        ngx_http_compensation_call_answer(call, status, pcode, &body, NULL);

    } else if (call->settled) {
        /* answered earlier (cancelled) and written already */
        ngx_http_compensation_batch_unref(b);
    }

    /* a slot is free: the work may claim the next ones */
    ngx_http_compensation_sched_post(sched);

    if (sr != b->c->data) {
        b->c->data = sr;
    }

    ngx_http_post_request(sr->parent, NULL);

    if (rc == NGX_ERROR || rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return NGX_OK;
    }

    return rc;
}


/*
 * The outcome of one call, kept until the work writes it.  status 0: no
 * answer (connect failure, reset, cancel); what: a reason of our own.
 */
static void
ngx_http_compensation_call_answer(ngx_http_compensation_call_t *call,
    ngx_uint_t status, ngx_str_t *error_code, ngx_str_t *body,
    const char *what)
{
    json_t                         *jb, *m;
    ngx_http_compensation_sched_t  *sched = call->batch->sched;

    call->answered = 1;
    call->status = status;
    call->own = what != NULL;
    call->cancelled = what && ngx_strcmp(what, "cancelled") == 0;
    call->ok = what == NULL && status >= 200 && status < 300;

    if (call->in_calls) {
        ngx_queue_remove(&call->queue);
        call->in_calls = 0;
    }

    ngx_queue_insert_tail(&sched->answered, &call->queue);
    ngx_http_compensation_sched_post(sched);

    if (call->ok) {
        return;
    }

    /* a failure: the error code, its message, the classification */

    if (call->cancelled) {
        ngx_snprintf((u_char *) call->code, sizeof(call->code),
                     "Cancelled%Z");

    } else if (error_code && error_code->len) {
        ngx_snprintf((u_char *) call->code, sizeof(call->code), "%*s%Z",
                     (size_t) ngx_min(error_code->len,
                                      sizeof(call->code) - 1),
                     error_code->data);
    } else {
        ngx_snprintf((u_char *) call->code, sizeof(call->code), "%s%Z",
                     cf_dispatch_error_code((int) status));
    }

    call->msg[0] = '\0';

    if (what) {
        ngx_snprintf((u_char *) call->msg, sizeof(call->msg), "%s%Z", what);

    } else if (body && body->len) {
        jb = cf_json_loadb((char *) body->data, body->len, 0, NULL);
        m = json_object_get(jb, "errorMsg");

        if (json_is_string(m)) {
            ngx_snprintf((u_char *) call->msg, sizeof(call->msg), "%s%Z",
                         json_string_value(m));
        }

        json_decref(jb);
    }

    if (call->msg[0] == '\0') {
        if (status) {
            ngx_snprintf((u_char *) call->msg, sizeof(call->msg),
                         "the target answered %ui%Z", status);
        } else {
            ngx_snprintf((u_char *) call->msg, sizeof(call->msg),
                         "the target could not be reached%Z");
        }
    }

    call->recoverable = call->cancelled
                        ? CF_RECOVERABLE_UNKNOWN
                        : cf_dispatch_classify((int) status);
}


/* binds a command of the scheduler; body is stolen.  Request id
 * "<operation>:<what>", the operation in the stream header. */
static ngx_int_t
ngx_http_compensation_cmd_init(ngx_http_compensation_main_conf_t *mcf,
    ngx_http_compensation_sched_cmd_t *sc, cf_command_type_t type,
    json_t *body, cf_claim_t *claim, const char *what, int64_t now,
    cf_error_t *err)
{
    int  rc;

    ngx_memzero(sc, sizeof(ngx_http_compensation_sched_cmd_t));
    cf_error_init(err);

    if (body == NULL) {
        cf_error_set(err, CF_E_INTERNAL, "out of memory");
        return NGX_ERROR;
    }

    rc = cf_command_bind(type, body, &sc->cmd, err);
    json_decref(body);

    if (rc != 0) {
        return NGX_ERROR;
    }

    sc->header = json_pack("{s:s, s:s}", "command_operator",
                           "compensation-scheduler",
                           "compensation_operation", claim->op_id);

    ngx_snprintf((u_char *) sc->req_id, sizeof(sc->req_id), "%s:%s%Z",
                 claim->op_id, what);

    sc->in.command = &sc->cmd;
    sc->in.aggregate_id = claim->execution_id;
    sc->in.request_id = sc->req_id;
    sc->in.request_id_scoped = 1;     /* its operation's UUID */
    sc->in.owner_id = NULL;
    sc->in.expected_version = -1;
    sc->in.header = sc->header;
    sc->in.now = now;
    sc->in.default_spec = &mcf->default_spec;
    sc->bound = 1;

    /* the fake request's location is the server's (batch_create) */
    if (mcf->scheduler && mcf->scheduler->srv_ctx) {
        sc->in.want_state = ngx_http_compensation_notify_wanted(
            mcf->scheduler->srv_ctx->loc_conf[
                                    ngx_http_compensation_module.ctx_index],
            type);
    }

    return NGX_OK;
}


/* runs it in its own savepoint of the dispatch transaction, with its
 * decision when one was made before the lock; frees it */
static ngx_int_t
ngx_http_compensation_cmd_run(ngx_http_compensation_step_t *step,
    cf_store_t *st, ngx_http_compensation_sched_cmd_t *sc, cf_error_t *err)
{
    int                                 rc;
    cf_exec_output_t                    out;
    ngx_http_compensation_main_conf_t  *mcf = step->sched->mcf;

    rc = cf_service_execute_grouped(st, &mcf->ids, &sc->in, &out,
                                    sc->decided ? &sc->pre : NULL);
    sc->decided = 0;

    /*
     * The store's health is the event loop's (step_done): the first failure
     * of the step, else its last success
     */
    if (!step->has_outcome || step->outcome.store_rc == 0) {
        step->outcome = out;
        step->outcome.err.binding_errors = NULL;
        step->outcome.state = NULL;
        step->has_outcome = 1;
    }

    ngx_http_compensation_cmd_free(sc);

    if (rc != 0 || !out.committed) {
        *err = out.err;
        ngx_free(out.state);
        return NGX_ERROR;
    }

    sc->state = out.state;
    out.state = NULL;

    cf_exec_output_free(&out);

    return NGX_OK;
}


static void
ngx_http_compensation_cmd_free(ngx_http_compensation_sched_cmd_t *sc)
{
    if (sc->decided) {
        cf_prepared_free(&sc->pre);
        sc->decided = 0;
    }

    if (sc->bound) {
        json_decref(sc->header);
        cf_command_free(&sc->cmd);
        sc->bound = 0;
    }
}


static u_char *
ngx_http_compensation_sched_log_error(ngx_log_t *log, u_char *buf,
    size_t len)
{
    u_char  *p;

    p = buf;

    if (log->action) {
        p = ngx_snprintf(buf, len, " while %s", log->action);
        len -= p - buf;
        buf = p;
    }

    p = ngx_snprintf(buf, len, ", context: compensation scheduler");

    return p;
}
