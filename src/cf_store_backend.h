
/*
 * ngx_compensation: the store backend table (for store implementations
 * only; the service and the glue use cf_store.h).
 *
 * A backend is one table of functions, one per operation of the store
 * interface, each with the signature of the cf_store.h, cf_dispatch.h,
 * cf_metrics.h or cf_query.h function it implements.  Its store embeds
 * struct cf_store_s as its first member (so that its functions cast the
 * cf_store_t * they get), its prepared dispatch statements struct
 * cf_dispatch_s.  cf_store.c selects the backend at open and dispatches.
 *
 * What every backend shares is built once on the operations, not in the
 * table: the replay and snapshot regeneration (cf_replay.c), the query
 * documents' projection (cf_query_project.c), the dispatch observer and
 * end states (cf_dispatch.c), the metrics' rollup arithmetic
 * (cf_metrics.c).
 *
 * A new backend is a file (or a few) defining its table, every pointer set
 * but the optional WAL ones, plus its sources and library in `config`; the
 * PostgreSQL one is found by name (cf_pg_store_backend, below).  Its query
 * SQL is a cf_query_dialect_t (cf_query_int.h), chosen through
 * cf_query_limits_t.dialect.
 */


#ifndef _CF_STORE_BACKEND_H_INCLUDED_
#define _CF_STORE_BACKEND_H_INCLUDED_


#include "cf_store.h"
#include "cf_dispatch.h"
#include "cf_metrics.h"
#include "cf_query.h"


typedef struct cf_store_backend_s  cf_store_backend_t;


struct cf_store_s {
    const cf_store_backend_t  *backend;
};


/* the states an operation ends in, as the observer counts them */
#define CF_DISPATCH_END_N  6

struct cf_dispatch_s {
    cf_store_t                *store;
    /* operations ended in the open transaction: observed once it commits,
     * forgotten if it rolls back (then it runs again) */
    unsigned                   ended[CF_DISPATCH_END_N];
};


struct cf_store_backend_s {
    const char  *name;

    cf_store_t *(*open)(const char *dsn, const cf_store_options_t *opts,
        char *errbuf, size_t errlen);
    void (*close)(cf_store_t *st);
    const char *(*errmsg)(cf_store_t *st);
    int (*errcode)(cf_store_t *st);
    /* forgets the connection's last error (NULL: nothing to forget) */
    void (*clear_error)(cf_store_t *st);
    const char *(*path)(cf_store_t *st);
    void (*set_busy_timeout)(cf_store_t *st, int ms);

    /* transactions */
    int (*begin_immediate)(cf_store_t *st);
    int (*commit)(cf_store_t *st);
    void (*rollback)(cf_store_t *st);
    int (*savepoint)(cf_store_t *st);
    int (*release)(cf_store_t *st);
    int (*rollback_to)(cf_store_t *st);
    int (*in_transaction)(cf_store_t *st);
    int (*read_hold)(cf_store_t *st);
    void (*read_release)(cf_store_t *st);

    /* event streams and snapshots */
    int (*request_id_exists)(cf_store_t *st, const char *request_id);
    int (*load)(cf_store_t *st, cf_aggregate_t *agg, cf_error_t *err);
    int (*each_stream)(cf_store_t *st, const char *aggregate_id,
        int64_t head, int64_t tail, cf_stream_cb_pt cb, void *data,
        cf_error_t *err);
    int (*latest_version)(cf_store_t *st, const char *aggregate_id,
        int64_t *version, cf_error_t *err);
    int (*append)(cf_store_t *st, const cf_stream_row_t *row);
    int (*save_snapshot)(cf_store_t *st, const cf_aggregate_t *agg,
        int64_t snapshot_time);
    int (*read_snapshot)(cf_store_t *st, const char *aggregate_id,
        cf_snapshot_row_t *row);
    int (*state_text)(cf_store_t *st, const char *aggregate_id,
        void *(*alloc)(void *data, size_t size), void *data, char **text,
        size_t *len);
    int (*scan_ids)(cf_store_t *st, const char *after_id, int64_t limit,
        char ***ids, size_t *n);

    /* health; the WAL policy (NULL: the backend has no WAL file) */
    int (*ping)(cf_store_t *st);
    int (*check_file)(cf_store_t *st);
    int (*wal_restarts)(cf_store_t *st);
    void (*set_checkpointer)(cf_store_t *st, cf_checkpointer_t *ck);

    /* dispatch operations and leases (cf_dispatch.h) */
    int (*dispatch_schema)(cf_store_t *st, char *errbuf, size_t errlen);
    int (*dispatch_claim)(cf_store_t *st, int64_t now, int64_t lease_ms,
        int64_t owner, int limit, cf_claim_t **claims, size_t *n);
    int (*dispatch_finish)(cf_store_t *st, int64_t job_id, const char *state,
        const char *result, int64_t now);
    int (*dispatch_enqueue)(cf_store_t *st, const char *execution_id,
        int64_t now, int64_t *job_id, char op_id[CF_UUID_LEN + 1]);
    int (*dispatch_get)(cf_store_t *st, const char *op_id,
        cf_operation_t *op);
    int (*dispatch_list)(cf_store_t *st, const char *execution_id, int limit,
        cf_operation_t **ops, size_t *n);
    int (*dispatch_cancel)(cf_store_t *st, const char *op_id, int force,
        int64_t now, char state[16]);
    int (*dispatch_cancel_asked)(cf_store_t *st, int64_t job_id);

    /* the prepared dispatch statements of one connection (issue 17) */
    cf_dispatch_t *(*dispatch_open)(cf_store_t *st);
    void (*dispatch_close)(cf_dispatch_t *d);
    int (*dispatch_claim_in)(cf_dispatch_t *d, int64_t now,
        int64_t lease_ms, int64_t owner, int limit, cf_claim_t **claims,
        size_t *n);
    int (*dispatch_finish_in)(cf_dispatch_t *d, int64_t job_id,
        const char *state, const char *result, int64_t now);
    int (*dispatch_cancel_asked_in)(cf_dispatch_t *d, int64_t job_id);
    int (*dispatch_held_in)(cf_dispatch_t *d, int64_t job_id, int64_t now);

    /* metrics (cf_metrics.h) */
    int (*metrics_counts)(cf_store_t *st, int64_t now, cf_exec_counts_t *out,
        char *errbuf, size_t errlen);

    /* compiled queries (cf_query.h) */
    int (*query_schema)(cf_store_t *st, char *errbuf, size_t errlen);
    int (*query_count)(cf_store_t *st, const cf_query_t *q, int64_t *count,
        char *errbuf, size_t errlen);
    int (*query_each)(cf_store_t *st, const cf_query_t *q, int state_only,
        cf_query_doc_pt cb, void *data, char *errbuf, size_t errlen);
};


/* the SQLite backend (cf_sqlite_store.c): always built */
extern const cf_store_backend_t  cf_sqlite_store_backend;

/*
 * The PostgreSQL backend: defined only when the build has it (weak: its
 * address is NULL otherwise, and cf_store_open says so).  No loader: the
 * build links it in or not.
 */
extern const cf_store_backend_t  cf_pg_store_backend
    __attribute__((weak));


/* for the dispatch backends (cf_dispatch.c) */

/* the operation d ended in state, for cf_dispatch_end_transaction */
void cf_dispatch_ended(cf_dispatch_t *d, const char *state);
/* the observer (cf_dispatch_set_observer) of one ended operation */
void cf_dispatch_observe(const char *state);

/*
 * For the query backends (cf_query_project.c): one row's document (its
 * reference is taken) projected as q asks, or its state only, to cb.
 * 0: go on; 1: cb stopped; -1: errbuf filled.
 */
int cf_query_deliver(const cf_query_t *q, int state_only, json_t *doc,
    cf_query_doc_pt cb, void *data, char *errbuf, size_t errlen);


#endif /* _CF_STORE_BACKEND_H_INCLUDED_ */
