
/*
 * ngx_compensation: the store executor's core (see cf_exec.h).
 */


#include <string.h>
#include <time.h>

#include "cf_exec.h"


static int cf_exec_late(cf_exec_cmd_t *c, int64_t now);
static void cf_exec_refuse(cf_exec_t *ex, cf_exec_cmd_t *c, int rc);
static int cf_exec_wait(cf_exec_cmd_t *c, int64_t now);
static void cf_exec_one_by_one(cf_exec_t *ex, cf_exec_queue_t *group);
static void cf_exec_group(cf_exec_t *ex, cf_exec_queue_t *group);


void
cf_exec_queue_init(cf_exec_queue_t *q)
{
    q->head = NULL;
    q->tail = &q->head;
}


int
cf_exec_queue_empty(const cf_exec_queue_t *q)
{
    return q->head == NULL;
}


void
cf_exec_queue_push(cf_exec_queue_t *q, cf_exec_cmd_t *c)
{
    c->next = NULL;
    *q->tail = c;
    q->tail = &c->next;
}


cf_exec_cmd_t *
cf_exec_queue_pop(cf_exec_queue_t *q)
{
    cf_exec_cmd_t  *c;

    c = q->head;

    if (c == NULL) {
        return NULL;
    }

    q->head = c->next;

    if (q->head == NULL) {
        q->tail = &q->head;
    }

    c->next = NULL;

    return c;
}


void
cf_exec_queue_move(cf_exec_queue_t *from, cf_exec_queue_t *to)
{
    if (from->head == NULL) {
        return;
    }

    *to->tail = from->head;
    to->tail = from->tail;

    cf_exec_queue_init(from);
}


int64_t
cf_exec_now(const cf_exec_t *ex)
{
    struct timespec  ts;

    if (ex->clock) {
        return ex->clock(ex->clock_data);
    }

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


int64_t
cf_exec_deadline(const cf_exec_t *ex, int64_t wait_ms)
{
    if (wait_ms < 0 || wait_ms > ex->busy_timeout_ms) {
        wait_ms = ex->busy_timeout_ms;
    }

    return cf_exec_now(ex) + wait_ms;
}


void
cf_exec_run(cf_exec_t *ex, cf_exec_queue_t *group)
{
    if (group->head == NULL) {
        return;
    }

    if (group->head->next == NULL || !ex->grouped) {
        /* alone, or group commit off: a plain transaction per command */
        cf_exec_one_by_one(ex, group);

    } else {
        cf_exec_group(ex, group);
    }

    cf_store_set_busy_timeout(ex->store, ex->busy_timeout_ms);
}


static int
cf_exec_late(cf_exec_cmd_t *c, int64_t now)
{
    return now - c->deadline > CF_EXEC_LATE_MS;
}


/* the answer of a command that never ran: rc CF_STORE_BUSY is a 408 */
static void
cf_exec_refuse(cf_exec_t *ex, cf_exec_cmd_t *c, int rc)
{
    cf_prepared_free(&c->pre);
    c->rc = cf_service_not_run(ex->store, ex->ids, &c->in, &c->out, rc);
    c->answered = 1;
}


/* the lock wait a command still allows at now, at least 0 */
static int
cf_exec_wait(cf_exec_cmd_t *c, int64_t now)
{
    return c->deadline > now ? (int) (c->deadline - now) : 0;
}


static void
cf_exec_one_by_one(cf_exec_t *ex, cf_exec_queue_t *group)
{
    int64_t         now;
    cf_exec_cmd_t  *c;

    for (c = group->head; c; c = c->next) {
        memset(&c->pre, 0, sizeof(cf_prepared_t));
        cf_error_init(&c->pre.err);
        c->answered = 0;

        now = cf_exec_now(ex);

        if (cf_exec_late(c, now)) {
            cf_exec_refuse(ex, c, CF_STORE_BUSY);
            continue;
        }

        cf_store_set_busy_timeout(ex->store, cf_exec_wait(c, now));
        c->rc = cf_service_execute(ex->store, ex->ids, &c->in, &c->out);
        c->answered = 1;
    }
}


/* one transaction for the group */
static void
cf_exec_group(cf_exec_t *ex, cf_exec_queue_t *group)
{
    int             rc, lost, wait, w, live;
    int64_t         now;
    cf_exec_cmd_t  *c;

    now = cf_exec_now(ex);
    live = 0;

    for (c = group->head; c; c = c->next) {
        memset(&c->pre, 0, sizeof(cf_prepared_t));
        cf_error_init(&c->pre.err);
        c->rc = 0;
        c->answered = 0;

        /* late before the group starts: nothing to decide for it */
        if (cf_exec_late(c, now)) {
            cf_exec_refuse(ex, c, CF_STORE_BUSY);
            continue;
        }

        live++;
    }

    if (live == 0) {
        return;
    }

    /*
     * Decide the commands first, outside the write lock: this overlaps with
     * the other workers' groups, and under the lock only the writes and a
     * version check remain (cf_service_prepare).  Without the read
     * transaction they are decided under the lock.
     */
    if (cf_store_read_hold(ex->store) == 0) {
        for (c = group->head; c; c = c->next) {
            if (!c->answered) {
                cf_service_prepare(ex->store, ex->ids, &c->in, &c->pre);
            }
        }
    }

    cf_store_read_release(ex->store);

    /* the lock wait: the longest any command still allows */
    now = cf_exec_now(ex);
    wait = 0;

    for (c = group->head; c; c = c->next) {
        if (!c->answered) {
            w = cf_exec_wait(c, now);
            wait = w > wait ? w : wait;
        }
    }

    cf_store_set_busy_timeout(ex->store, wait);

    rc = cf_store_begin_immediate(ex->store);

    if (rc != 0) {
        for (c = group->head; c; c = c->next) {
            if (!c->answered) {
                cf_exec_refuse(ex, c, rc);
            }
        }

        return;
    }

    lost = 0;
    now = cf_exec_now(ex);

    for (c = group->head; c; c = c->next) {
        if (c->answered) {
            continue;
        }

        if (lost) {
            cf_exec_refuse(ex, c, -1);
            continue;
        }

        if (cf_exec_late(c, now)) {
            /* the lock came after its deadline (a neighbour waited longer) */
            cf_exec_refuse(ex, c, CF_STORE_BUSY);
            continue;
        }

        c->rc = cf_service_execute_grouped(ex->store, ex->ids, &c->in,
                                           &c->out, &c->pre);
        c->answered = 1;

        if (!cf_store_in_transaction(ex->store)) {
            /* SQLite ended the transaction (an I/O error, disk full):
             * everything this group wrote so far is gone */
            lost = 1;
        }
    }

    rc = lost ? -1 : cf_store_commit(ex->store);

    if (rc == 0) {
        return;
    }

    /* no answer leaves before the COMMIT: a success becomes its failure */
    for (c = group->head; c; c = c->next) {
        if (c->rc == 0 && c->out.committed) {
            c->rc = cf_service_commit_failed(ex->store, &c->out, rc);
        }
    }
}
