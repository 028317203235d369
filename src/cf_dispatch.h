
/*
 * ngx_compensation: dispatch operations and scheduler leases.
 *
 * Plain C (jansson): no nginx.  The statements are the store backend's
 * (cf_store_backend.h; SQLite: cf_sqlite_dispatch.c).  Every dispatch of an execution to
 * its owning service is an operation row (a UUID and a job number) in the
 * table comp_operation.  An operation in state Running or RollingBack holds
 * a lease (owner pid, lease_until): while the lease lives no other scheduler
 * (another worker, a reload's new workers, a respawned worker, another nginx
 * on the same file) claims that execution.  A lease that expired (crashed worker) is
 * turned into Expired by the next claim, and the execution is due again by
 * the usual condition.
 *
 * States: Pending (queued by the retry action, no lease yet) -> Running
 * (claimed, leased) -> Completed (the call was accepted, async mode) |
 * Succeeded | Failed (the call's result was applied, sync mode) | Released
 * (not dispatched: no target, shutting down, prepare refused) | Expired;
 * Running -> RollingBack (graceful cancel asked) -> Cancelled; Running or
 * RollingBack -> ForceCancelled.
 */


#ifndef _CF_DISPATCH_H_INCLUDED_
#define _CF_DISPATCH_H_INCLUDED_


#include "cf_domain.h"
#include "cf_store.h"


#define CF_UUID_LEN  36

/* results besides 0 and -1 */
#define CF_DISPATCH_NOT_FOUND  1
#define CF_DISPATCH_BUSY       2     /* an operation is already active */
#define CF_DISPATCH_REFUSED    3     /* cancel: not allowed in this state */


typedef struct {
    int64_t      job_id;
    char         op_id[CF_UUID_LEN + 1];
    char        *execution_id;       /* malloc'ed */
    char        *state;              /* the snapshot's state JSON, malloc'ed */
    int          manual;             /* queued by the retry action */
} cf_claim_t;


typedef struct {
    int64_t      job_id;
    char         op_id[CF_UUID_LEN + 1];
    char         execution_id[257];
    char         state[16];
    int          cancel_requested;
    int64_t      owner;
    int64_t      lease_until;
    int64_t      created;
    int64_t      updated;
    char         result[512];
} cf_operation_t;


int cf_dispatch_schema(cf_store_t *st, char *errbuf, size_t errlen);

/* a time-ordered (version 7) UUID of now_ms, lowercase, NUL-terminated */
void cf_uuid7(char out[CF_UUID_LEN + 1], int64_t now_ms);
/* 1 when s is shaped like a UUID (8-4-4-4-12 hex digits) */
int cf_uuid_is_valid(const char *s, size_t len);

/*
 * In one BEGIN IMMEDIATE transaction: expires dead leases, claims the
 * Pending operations (the retry action), then the due executions (spec 7.2:
 * not UNRECOVERABLE, retryable, nextRetryAt <= now, FAILED or PREPARED and
 * timeoutAt <= now, not deleted) that have no active operation, at most
 * limit in all, ordered by nextRetryAt; every claimed one gets a Running
 * operation leased to owner until now + lease_ms.  *claims is malloc'ed
 * (cf_claims_free).  0, CF_DISPATCH_BUSY (lock not obtained) or -1.
 */
int cf_dispatch_claim(cf_store_t *st, int64_t now, int64_t lease_ms,
    int64_t owner, int limit, cf_claim_t **claims, size_t *n);
void cf_claims_free(cf_claim_t *claims, size_t n);

/*
 * Ends an active (Running or RollingBack) operation: state and a result
 * text, lease dropped.  0, CF_DISPATCH_NOT_FOUND (not active any more: a
 * force cancel won) or -1.
 */
int cf_dispatch_finish(cf_store_t *st, int64_t job_id, const char *state,
    const char *result, int64_t now);

/* called with the state of every operation cf_dispatch_finish ended (the
 * metrics' counter); one per process, set at configuration */
void cf_dispatch_set_observer(void (*observer)(const char *state));

/* queues a Pending operation for the retry action; CF_DISPATCH_BUSY when
 * the execution has an active one */
int cf_dispatch_enqueue(cf_store_t *st, const char *execution_id, int64_t now,
    int64_t *job_id, char op_id[CF_UUID_LEN + 1]);

/* the operation by UUID; 0, CF_DISPATCH_NOT_FOUND or -1 */
int cf_dispatch_get(cf_store_t *st, const char *op_id, cf_operation_t *op);

/* the operations of one execution, newest first, at most limit; *ops
 * malloc'ed */
int cf_dispatch_list(cf_store_t *st, const char *execution_id, int limit,
    cf_operation_t **ops, size_t *n);

/*
 * Cancel (seed 003).  force == 0: Running -> RollingBack with
 * cancel_requested (the owning worker aborts its call and rolls back);
 * RollingBack stays (idempotent).  force == 1: allowed only when a graceful
 * cancel was asked or the operation is RollingBack: -> ForceCancelled.
 * 0, CF_DISPATCH_NOT_FOUND, CF_DISPATCH_REFUSED (*state holds the current
 * state) or -1.
 */
int cf_dispatch_cancel(cf_store_t *st, const char *op_id, int force,
    int64_t now, char state[16]);

/* 1 when the operation was asked to cancel (or is no longer active) */
int cf_dispatch_cancel_asked(cf_store_t *st, int64_t job_id);


/*
 * Classification of a synchronous call's outcome (docs/architecture.md):
 * status 0 (no response: connect failure, reset), 408, 425, 429 and 5xx
 * are RECOVERABLE (the target may recover); other 4xx are UNRECOVERABLE
 * (the target refuses this call and will again); anything else UNKNOWN.
 */
cf_recoverable_t cf_dispatch_classify(int status);

/*
 * The scheduler's statements, prepared once per connection (issue 17): a
 * dispatch is a few statements inside a transaction the caller holds, and
 * preparing them per call cost more than running them.
 */
typedef struct cf_dispatch_s  cf_dispatch_t;

/* NULL on error (out of memory, SQL: cf_store_errmsg); the schema must
 * exist */
cf_dispatch_t *cf_dispatch_open(cf_store_t *st);
void cf_dispatch_close(cf_dispatch_t *d);

/* after the transaction of cf_dispatch_finish_in calls: its ended
 * operations go to the observer (cf_dispatch_set_observer) if it committed,
 * and are forgotten if it rolled back */
void cf_dispatch_end_transaction(cf_dispatch_t *d, int committed);

/*
 * cf_dispatch_claim's work inside a write transaction the caller holds
 * (BEGIN IMMEDIATE ... COMMIT around it, possibly with other work): the
 * claims count only if that transaction commits.
 */
int cf_dispatch_claim_in(cf_dispatch_t *d, int64_t now, int64_t lease_ms,
    int64_t owner, int limit, cf_claim_t **claims, size_t *n);
/* cf_dispatch_finish and cf_dispatch_cancel_asked on the prepared
 * statements, inside or outside a transaction */
int cf_dispatch_finish_in(cf_dispatch_t *d, int64_t job_id,
    const char *state, const char *result, int64_t now);
int cf_dispatch_cancel_asked_in(cf_dispatch_t *d, int64_t job_id);
/* 1 when the claim is still Running and its lease has not run out: a
 * claim prepared in a later transaction than it was made in checks it */
int cf_dispatch_held_in(cf_dispatch_t *d, int64_t job_id, int64_t now);

/*
 * How many executions one dispatch transaction claims: only as many as
 * there are free call slots (every claim is called at once, none waits
 * prepared in memory), at most batch, and none while fewer than a quarter
 * of the slots are free and calls are in flight, so that a slot freed per
 * event-loop iteration does not cost a transaction per claim.
 */
int cf_dispatch_claim_size(int batch, int concurrency, int in_flight);

/* what a claimed execution's state names for the call */
typedef struct {
    const char  *context;            /* eventId.aggregateId.contextName */
    const char  *aggregate_name;
    const char  *aggregate_id;
    int64_t      version;            /* eventId.version */
    int32_t      attempt;            /* retryState.retries + 1 */
    json_t      *function;           /* borrowed from root */
    json_t      *root;               /* the parsed state: json_decref */
} cf_dispatch_call_t;

/* parses a claim's state: 0, or -1 when it has no eventId or function
 * (call->root is then NULL or still to be dropped: always json_decref) */
int cf_dispatch_call_parse(const char *state, cf_dispatch_call_t *call);

/* 1 when s can be one segment of the call's path (not empty, not . or ..,
 * at most 256 bytes, no control, space, /, ?, #, % or \) */
int cf_dispatch_segment_ok(const char *s);


/* the error code recorded for a failed call: the target's Wow-Error-Code
 * when given, else from the status */
const char *cf_dispatch_error_code(int status);


#endif /* _CF_DISPATCH_H_INCLUDED_ */
