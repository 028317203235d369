
/*
 * ngx_compensation: the command pipeline, without HTTP.
 *
 * One call runs one bound command in one BEGIN IMMEDIATE transaction:
 * idempotency check, load, generic checks and decision (domain), append the
 * event stream, upsert the snapshot, commit.  The HTTP routes, the command
 * facade and the scheduler all go through here, so they cannot drift apart.
 */


#ifndef _CF_SERVICE_H_INCLUDED_
#define _CF_SERVICE_H_INCLUDED_


#include "cf_domain.h"
#include "cf_store.h"


/* ids from paths and headers are at most this long (bytes) */
#define CF_MAX_ID_LEN  256
#define CF_ID_BUF      (CF_MAX_ID_LEN + 1)


typedef struct {
    const cf_command_t     *command;         /* bound by cf_command_bind */
    const char             *aggregate_id;    /* NULL: create generates one */
    const char             *request_id;      /* NULL: the command id */
    const char             *owner_id;        /* NULL or "" : none */
    int64_t                 expected_version;    /* -1: not given */
    json_t                 *header;          /* stream header, borrowed */
    int64_t                 now;             /* epoch ms */
    const cf_retry_spec_t  *default_spec;
    int                     want_state;      /* a notification needs the
                                                state the command leaves:
                                                out->state */
    int                     request_id_scoped;  /* the request id can only
                                                have been used on this
                                                aggregate (the scheduler's
                                                names its operation): no
                                                lookup in the whole store,
                                                the event stream's UNIQUE
                                                (aggregate_id, request_id)
                                                refuses a repeat */
} cf_exec_input_t;


typedef struct {
    cf_error_t              err;             /* Ok or the failure */
    int                     in_handler;      /* failure came from the handler */
    int                     at_gateway;      /* failure before processing
                                                (duplicate request id, busy) */
    int                     committed;       /* event stream written */
    char                    aggregate_id[CF_ID_BUF];
    char                    command_id[CF_ID_LEN + 1];
    char                    request_id[CF_ID_BUF];
    int64_t                 version;         /* after the command, or the
                                                current one; -1 unknown */
    int                     store_rc;        /* a store failure: SQLite's
                                                extended code, else 0 */
    char                    store_msg[256];  /* a server store's failure
                                                as the store says it: for
                                                logs and health, never for
                                                the client ("" else) */
    char                   *state;           /* in->want_state and written:
                                                the snapshot's state
                                                document as stored (heap;
                                                cf_exec_output_free) */
} cf_exec_output_t;


/* frees what an output owns (its error, its state document) */
void cf_exec_output_free(cf_exec_output_t *out);

/* 0 when the command was processed (successfully or not: see out->err);
 * -1 when out->err holds an internal error.  out->err must be freed with
 * cf_error_free. */
int cf_service_execute(cf_store_t *st, cf_id_gen_t *ids,
    const cf_exec_input_t *in, cf_exec_output_t *out);


/* a command decided before the write lock (cf_service_prepare) */
typedef enum {
    CF_PREPARED_NONE = 0,       /* not decided: decide under the lock */
    CF_PREPARED_APPLIED,        /* agg and ev hold the result */
    CF_PREPARED_REFUSED,        /* err: the handler's refusal */
    CF_PREPARED_FAILED          /* err: an internal error */
} cf_prepared_state_t;

typedef struct {
    cf_prepared_state_t     state;
    int64_t                 version;         /* decided on; -1 unknown */
    cf_aggregate_t          agg;
    cf_event_t              ev;
    cf_error_t              err;
    int                     in_handler;
    char                    stream_id[CF_ID_LEN + 1];
    char                    event_id[CF_ID_LEN + 1];
    /* a create without an aggregate id: the id generated for it here */
    char                    aggregate_id[CF_ID_LEN + 1];
} cf_prepared_t;


/* group commit, before the write lock, in a read transaction the caller
 * holds: decides the command on the state it reads.  Whatever happens, pre
 * is then passed to cf_service_execute_grouped or to cf_prepared_free. */
void cf_service_prepare(cf_store_t *st, cf_id_gen_t *ids,
    const cf_exec_input_t *in, cf_prepared_t *pre);
void cf_prepared_free(cf_prepared_t *pre);

/* the same inside a transaction the caller began with
 * cf_store_begin_immediate (group commit), in a savepoint of its own: on
 * success out->committed is set but the caller must still COMMIT, and must
 * turn every such output into an error when that COMMIT fails.  pre (NULL,
 * or as cf_service_prepare left it) is kept if the aggregate has no new
 * event since, and is freed in every case. */
int cf_service_execute_grouped(cf_store_t *st, cf_id_gen_t *ids,
    const cf_exec_input_t *in, cf_exec_output_t *out, cf_prepared_t *pre);

/* group commit: the outputs cf_service_execute gives when its own BEGIN
 * (the command never ran) or COMMIT fails; the return is as its */
int cf_service_not_run(cf_store_t *st, cf_id_gen_t *ids,
    const cf_exec_input_t *in, cf_exec_output_t *out, int rc);
int cf_service_commit_failed(cf_store_t *st, cf_exec_output_t *out, int rc);

#endif /* _CF_SERVICE_H_INCLUDED_ */
