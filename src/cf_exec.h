
/*
 * ngx_compensation: the store executor's core, without nginx.
 *
 * Commands are queued, then run as one group on one store connection: on the
 * event loop, or in the worker's store thread (the nginx glue,
 * ngx_http_compensation_group.c, only decides where, and hands the results
 * back).  Grouped, the commands are decided before the write lock in one read
 * transaction, then written under one BEGIN IMMEDIATE, each in a savepoint of
 * its own (cf_service_execute_grouped), and answered only after the COMMIT.
 *
 * Each command keeps its own deadline: when its turn comes after it, the
 * command is answered 408 RequestTimeout and writes nothing, and the other
 * commands of its group are not affected.  The group's lock wait is the
 * longest any of its commands still allows.
 */


#ifndef _CF_EXEC_H_INCLUDED_
#define _CF_EXEC_H_INCLUDED_


#include "cf_service.h"


/*
 * Deadlines are kept to the millisecond: a command is late once its clock
 * reading is more than this past its deadline, so that a wait of 0 ("do not
 * wait for the lock") still runs when its turn comes at once.  "At once"
 * includes the handoff to the store thread (a posted event, a condition
 * variable, the thread's wake-up), which on a loaded machine took more than
 * 1 ms (t/004's Command-Wait-Timeout 0 answered 408).  The slack only decides
 * whether a command runs; its lock wait is still what its deadline leaves.
 */
#define CF_EXEC_LATE_MS  10


typedef struct cf_exec_cmd_s  cf_exec_cmd_t;

struct cf_exec_cmd_s {
    cf_exec_input_t     in;
    cf_exec_output_t    out;
    cf_prepared_t       pre;          /* decided before the lock */
    int64_t             deadline;     /* cf_exec_now() ms; cf_exec_deadline */
    int                 rc;           /* as cf_service_execute's */
    int                 answered;     /* out and rc are final */
    cf_exec_cmd_t      *next;         /* the queue's */
};


/* a FIFO of commands, linked through their next */
typedef struct {
    cf_exec_cmd_t      *head;
    cf_exec_cmd_t     **tail;
} cf_exec_queue_t;


typedef int64_t (*cf_exec_clock_pt)(void *data);

typedef struct {
    cf_store_t         *store;
    cf_id_gen_t        *ids;
    int                 busy_timeout_ms;  /* the store's: the longest wait */
    int                 grouped;          /* one transaction for a group */
    cf_exec_clock_pt    clock;            /* NULL: CLOCK_MONOTONIC, in ms */
    void               *clock_data;
} cf_exec_t;


void cf_exec_queue_init(cf_exec_queue_t *q);
int cf_exec_queue_empty(const cf_exec_queue_t *q);
void cf_exec_queue_push(cf_exec_queue_t *q, cf_exec_cmd_t *c);
/* the head, unlinked; NULL when empty */
cf_exec_cmd_t *cf_exec_queue_pop(cf_exec_queue_t *q);
/* moves every command of from to the end of to, leaving from empty */
void cf_exec_queue_move(cf_exec_queue_t *from, cf_exec_queue_t *to);

int64_t cf_exec_now(const cf_exec_t *ex);

/* the deadline of a command queued now that allows wait_ms (negative: the
 * store's busy timeout), bounded by the store's busy timeout */
int64_t cf_exec_deadline(const cf_exec_t *ex, int64_t wait_ms);

/*
 * Runs every command of group on ex->store, in queue order, and fills each
 * one's out and rc; the commands stay queued.  Touches nothing but the
 * store, the id generator and the commands, so it may run in a thread of
 * its own while another thread fills the next queue.
 */
void cf_exec_run(cf_exec_t *ex, cf_exec_queue_t *group);


#endif /* _CF_EXEC_H_INCLUDED_ */
