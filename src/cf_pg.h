
/*
 * ngx_compensation: the PostgreSQL store's internals, shared by its files
 * (cf_pg_conn.c: connection, statements, transactions; cf_pg_schema.c;
 * cf_pg_store.c: streams and snapshots; cf_pg_dispatch.c: leases;
 * cf_pg_backend.c: the backend table).  Only these files include it.
 */


#ifndef _CF_PG_H_INCLUDED_
#define _CF_PG_H_INCLUDED_


#include <libpq-fe.h>

#include "cf_pg_store.h"
#include "cf_store_backend.h"


/* every prepared statement of a connection: its slot in st->prepared */
typedef enum {
    CF_PG_BEGIN = 0,
    CF_PG_BEGIN_READ,
    CF_PG_COMMIT,
    CF_PG_ROLLBACK,
    CF_PG_SAVEPOINT,
    CF_PG_RELEASE,
    CF_PG_ROLLBACK_TO,
    CF_PG_LOCK_TIMEOUT,
    CF_PG_PING,

    CF_PG_REQUEST_EXISTS,
    CF_PG_LOAD_SNAPSHOT,
    CF_PG_LOAD_SNAPSHOT_LOCKED,
    CF_PG_STREAMS_AFTER_SNAPSHOT,
    CF_PG_EACH_STREAM,
    CF_PG_LATEST_VERSION,
    CF_PG_LATEST_VERSION_LOCKED,
    CF_PG_LOCK_AGGREGATE_ID,
    CF_PG_APPEND,
    CF_PG_SAVE_SNAPSHOT,
    CF_PG_READ_SNAPSHOT,
    CF_PG_STATE_TEXT,
    CF_PG_SCAN_IDS,

    CF_PG_DS_EXPIRE,
    CF_PG_DS_PENDING,
    CF_PG_DS_DUE,
    CF_PG_DS_FINISH,
    CF_PG_DS_CANCEL_ASKED,
    CF_PG_DS_HELD,
    CF_PG_DS_EXPIRE_ONE,
    CF_PG_DS_ENQUEUE,
    CF_PG_DS_GET,
    CF_PG_DS_GET_LOCKED,
    CF_PG_DS_LIST,
    CF_PG_DS_CANCEL,

    CF_PG__COUNT
} cf_pg_slot_t;


typedef struct {
    cf_pg_slot_t    slot;
    const char     *name;         /* the prepared statement's name */
    const char     *sql;
    int             nparams;
} cf_pg_stmt_t;


/* the backend's error codes (cf_pg_store_errcode; compared for equality) */
#define CF_PG_ERR_OTHER        1
#define CF_PG_ERR_UNREACHABLE  2    /* the connection is lost or refused */
#define CF_PG_ERR_FULL         3    /* SQLSTATE class 53: out of resources */
#define CF_PG_ERR_READONLY     4    /* 25006: a read-only server (standby) */


typedef struct cf_pg_store_s  cf_pg_store_t;


/*
 * A write transaction runs in libpq's pipeline mode: a statement whose
 * result only matters when it fails (BEGIN, SAVEPOINT, RELEASE, the
 * snapshot upsert, ...) is queued and sent with the next statement whose
 * result the caller needs, one round trip for both (cf_pg.h: cf_pg_defer).
 * One entry per message sent and not yet answered.
 */
#define CF_PG_QUEUE_MAX  32

typedef struct {
    const cf_pg_stmt_t  *stmt;
    const char          *what;
    PGresult            *res;        /* kept for the caller */
    unsigned             prepare:1;  /* the statement's Parse */
    unsigned             keep:1;
    unsigned             deferred:1; /* queued by an earlier call */
} cf_pg_pending_t;

struct cf_pg_store_s {
    cf_store_t       base;            /* first: the interface's */
    PGconn          *conn;
    unsigned char    prepared[CF_PG__COUNT];
    int              busy_limit_ms;   /* wanted for the next lock waits */
    int              lock_timeout_ms; /* in force in the session; -1: unset */
    int              errcode;
    int              tx_open;         /* a BEGIN of ours is open */
    int              write_tx;        /* it is a write transaction */
    /* a deferred statement failed: the transaction can only roll back
     * (its earlier calls answered 0, their writes must not commit) */
    int              tx_failed;
    /* nothing was read of this transaction yet: a lost connection can be
     * replaced and the transaction begun again on the new session */
    int              tx_fresh;
    int              lock_timeout_tx; /* this transaction sets it */
    int              in_savepoint;    /* a command of a group is running */
    int              nqueue;
    cf_pg_pending_t  queue[CF_PG_QUEUE_MAX];
    char             sqlstate[6];
    char             constraint[64];  /* of the last error, "" when none */
    char            *secret;          /* the DSN's password: scrubbed */
    cf_buf_t         text[2];         /* JSON texts being sent */
    char             target[192];
    char             errmsg[512];
};


/*
 * Runs a prepared statement (preparing it first on this connection when
 * needed) with text parameters (lengths NULL: NUL-terminated) and text
 * results.  The result when its status is PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK (PQclear it), else NULL with the error set (what names
 * the operation).  Outside a transaction, a lost connection is reset and
 * the statement runs once more.
 */
PGresult *cf_pg_exec(cf_pg_store_t *st, const cf_pg_stmt_t *stmt,
    const char *const *values, const int *lengths, const char *what);
/*
 * Several statements in one round trip (a write transaction only: in
 * pipeline mode), each result in res[i] (PQclear them) when all worked;
 * else -1 with the first error set and no result.
 */
typedef struct {
    const cf_pg_stmt_t  *stmt;
    const char *const   *values;
    const char          *what;
} cf_pg_call_t;

int cf_pg_exec_many(cf_pg_store_t *st, const cf_pg_call_t *calls, int n,
    PGresult **res);
/* the same for reads outside a write transaction (pipeline mode for
 * them only) */
int cf_pg_read_many(cf_pg_store_t *st, const cf_pg_call_t *calls, int n,
    PGresult **res);
/* 1 in a write transaction's pipeline, where cf_pg_exec_many works */
int cf_pg_pipelined(cf_pg_store_t *st);
/*
 * A statement whose result is not needed unless it fails: in a write
 * transaction queued (0) and sent with the next statement that needs a
 * result; its failure then fails that statement and the transaction
 * (its COMMIT returns the failure).  Elsewhere it runs at once (cf_pg_run).
 */
int cf_pg_defer(cf_pg_store_t *st, const cf_pg_stmt_t *stmt,
    const char *const *values, const char *what);

/* cf_pg_exec for statements without rows: 0 or -1; *changed (when not
 * NULL) the rows the statement touched */
int cf_pg_run(cf_pg_store_t *st, const cf_pg_stmt_t *stmt,
    const char *const *values, const int *lengths, const char *what,
    int64_t *changed);

/* PQreset of a lost connection (outside a transaction): 0 or -1 with the
 * error set */
int cf_pg_reconnect(cf_pg_store_t *st);

/* the result code of the last error: CF_STORE_BUSY for a lock timeout, a
 * deadlock or a serialization failure, else -1 */
int cf_pg_last_rc(cf_pg_store_t *st);
void cf_pg_set_error(cf_pg_store_t *st, const char *fmt, ...)
    CF_PRINTF(2, 3);

/* a column's index by name (-1 when absent) and its value ("" for NULL) */
int cf_pg_col(const PGresult *res, const char *name);
const char *cf_pg_text(const PGresult *res, int row, int col);
int64_t cf_pg_int(const PGresult *res, int row, int col);

/* writes v into buf (at least 24 bytes) and returns buf */
const char *cf_pg_i64(char *buf, int64_t v);

/* compiled queries and the metrics' counts (cf_pg_query.c) */
int cf_pg_query_count(cf_pg_store_t *st, const cf_query_t *q, int64_t *count,
    char *errbuf, size_t errlen);
int cf_pg_query_each(cf_pg_store_t *st, const cf_query_t *q, int state_only,
    cf_query_doc_pt cb, void *data, char *errbuf, size_t errlen);
int cf_pg_metrics_counts(cf_pg_store_t *st, int64_t now,
    cf_exec_counts_t *out, char *errbuf, size_t errlen);

/* creates or migrates the schema in a transaction of its own (open) */
int cf_pg_schema(cf_pg_store_t *st);
/* claims the session's slot of the count rollup (cf_pg_schema.c) */
void cf_pg_count_slot(cf_pg_store_t *st);


/* the operations (cf_pg_backend.c puts them in the backend table) */

cf_pg_store_t *cf_pg_store_open(const char *dsn,
    const cf_store_options_t *opts, char *errbuf, size_t errlen);
void cf_pg_store_close(cf_pg_store_t *st);
const char *cf_pg_store_errmsg(cf_pg_store_t *st);
int cf_pg_store_errcode(cf_pg_store_t *st);
void cf_pg_store_set_busy_timeout(cf_pg_store_t *st, int ms);

int cf_pg_store_begin_immediate(cf_pg_store_t *st);
int cf_pg_store_commit(cf_pg_store_t *st);
void cf_pg_store_rollback(cf_pg_store_t *st);
int cf_pg_store_savepoint(cf_pg_store_t *st);
int cf_pg_store_release(cf_pg_store_t *st);
int cf_pg_store_rollback_to(cf_pg_store_t *st);
int cf_pg_store_in_transaction(cf_pg_store_t *st);
int cf_pg_store_read_hold(cf_pg_store_t *st);
void cf_pg_store_read_release(cf_pg_store_t *st);
int cf_pg_store_ping(cf_pg_store_t *st);

int cf_pg_store_request_id_exists(cf_pg_store_t *st, const char *request_id);
int cf_pg_store_load(cf_pg_store_t *st, cf_aggregate_t *agg,
    cf_error_t *err);
int cf_pg_store_each_stream(cf_pg_store_t *st, const char *aggregate_id,
    int64_t head, int64_t tail, cf_stream_cb_pt cb, void *data,
    cf_error_t *err);
int cf_pg_store_latest_version(cf_pg_store_t *st, const char *aggregate_id,
    int64_t *version, cf_error_t *err);
int cf_pg_store_append(cf_pg_store_t *st, const cf_stream_row_t *row);
int cf_pg_store_save_snapshot(cf_pg_store_t *st, const cf_aggregate_t *agg,
    int64_t snapshot_time);
int cf_pg_store_read_snapshot(cf_pg_store_t *st, const char *aggregate_id,
    cf_snapshot_row_t *row);
int cf_pg_store_state_text(cf_pg_store_t *st, const char *aggregate_id,
    void *(*alloc)(void *data, size_t size), void *data, char **text,
    size_t *len);
int cf_pg_store_scan_ids(cf_pg_store_t *st, const char *after_id,
    int64_t limit, char ***ids, size_t *n);

int cf_pg_dispatch_claim(cf_pg_store_t *st, int64_t now, int64_t lease_ms,
    int64_t owner, int limit, cf_claim_t **claims, size_t *n);
int cf_pg_dispatch_claim_in(cf_pg_store_t *st, int64_t now,
    int64_t lease_ms, int64_t owner, int limit, cf_claim_t **claims,
    size_t *n);
/* 0 (ended: the caller counts it), CF_DISPATCH_NOT_FOUND or -1 */
int cf_pg_dispatch_finish_in(cf_pg_store_t *st, int64_t job_id,
    const char *state, const char *result, int64_t now);
int cf_pg_dispatch_finish(cf_pg_store_t *st, int64_t job_id,
    const char *state, const char *result, int64_t now);
int cf_pg_dispatch_cancel_asked_in(cf_pg_store_t *st, int64_t job_id);
int cf_pg_dispatch_held_in(cf_pg_store_t *st, int64_t job_id, int64_t now);
int cf_pg_dispatch_enqueue(cf_pg_store_t *st, const char *execution_id,
    int64_t now, int64_t *job_id, char op_id[CF_UUID_LEN + 1]);
int cf_pg_dispatch_get(cf_pg_store_t *st, const char *op_id,
    cf_operation_t *op);
int cf_pg_dispatch_list(cf_pg_store_t *st, const char *execution_id,
    int limit, cf_operation_t **ops, size_t *n);
int cf_pg_dispatch_cancel(cf_pg_store_t *st, const char *op_id, int force,
    int64_t now, char state[16]);


#endif /* _CF_PG_H_INCLUDED_ */
