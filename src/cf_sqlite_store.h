
/*
 * ngx_compensation: the SQLite backend's own header (cf_sqlite_*.c and the
 * tests; nothing else includes <sqlite3.h>): the connection, and the
 * backend's functions for the table in cf_sqlite_store.c, each with the
 * signature of the interface function it implements (cf_store_backend.h).
 */


#ifndef _CF_SQLITE_STORE_H_INCLUDED_
#define _CF_SQLITE_STORE_H_INCLUDED_


#include <time.h>
#include <sys/types.h>
#include <sqlite3.h>

#include "cf_store_backend.h"
#include "cf_json.h"


/*
 * PRAGMA user_version: 2 has snapshot.tags (cf_sqlite_migrate), 3 the
 * partial query indexes (cf_sqlite_query.c)
 */
#define CF_SQLITE_SCHEMA_VERSION  3


typedef struct cf_sqlite_store_s  cf_sqlite_store_t;


/* the connection's statements, prepared at open (cf_sqlite_store.c) */
typedef enum {
    CF_SQL_BEGIN = 0,
    CF_SQL_COMMIT,
    CF_SQL_ROLLBACK,
    CF_SQL_REQUEST_EXISTS,
    CF_SQL_LOAD_SNAPSHOT,
    CF_SQL_APPEND,
    CF_SQL_SAVE_SNAPSHOT,
    CF_SQL_PING,
    CF_SQL_EACH_STREAM,
    CF_SQL_READ_SNAPSHOT,
    CF_SQL_SCAN_IDS,
    CF_SQL_STATE_TEXT,
    CF_SQL_LATEST_VERSION,
    CF_SQL_BEGIN_READ,
    CF_SQL__COUNT
} cf_sql_id_t;


struct cf_sqlite_store_s {
    cf_store_t       base;             /* first: a cf_store_t * is one */
    sqlite3         *db;
    sqlite3_stmt    *stmt[CF_SQL__COUNT];
    /* texts of the JSON columns being bound (SQLITE_STATIC until reset) */
    cf_buf_t         text[2];
    int              busy_timeout_ms;
    int              busy_limit_ms;     /* in force for the next waits */
    struct timespec  busy_start;
    int              wal_checkpoint_frames;
    int              wal_restart_frames;
    int              wal_frames;        /* in the WAL after our last commit */
    int              wal_backfilled;    /* copied by our last checkpoint */
    int              wal_restart;       /* wanted before our next write */
    int              wal_restart_after; /* WAL frames: no retry before */
    int              wal_restarts;      /* RESTART checkpoints that worked */
    int              wal_restart_wait_ms;
    cf_checkpointer_t *checkpointer;    /* NULL: checkpoints in the hook */
    int              command_changes;   /* sqlite3_total_changes() when the
                                           group's command began */
    int              errcode;           /* extended code of the last error */
    int              replaced;          /* the file left its path: sticky */
    int              wal_known;         /* wal_dev, wal_ino are set */
    dev_t            wal_dev;           /* the WAL this connection has open */
    ino_t            wal_ino;
    cf_dispatch_t   *dispatch;          /* cf_sqlite_dispatch.c's own */
    char            *path;
    char            *wal_path;
    char             errmsg[256];
};


/* cf_sqlite_store.c: the connection, transactions, the WAL policy */

/* the connection's last error, with what failed, as cf_store_errmsg's */
void cf_sqlite_set_error(cf_sqlite_store_t *st, const char *what);
/* runs a statement without rows: 0, CF_STORE_BUSY or -1 (error set) */
int cf_sqlite_exec(cf_sqlite_store_t *st, cf_sql_id_t id);
/* the file's schema version (PRAGMA user_version): an SQLite code */
int cf_sqlite_user_version(sqlite3 *db, int *version);


/* the connection of a store the SQLite backend opened: its dispatch,
 * metrics and query statements, and the tests' hooks */
sqlite3 *cf_sqlite_store_db(cf_store_t *st);
/* the connection's last error as the store's (cf_store_errmsg) */
void cf_sqlite_store_db_error(cf_store_t *st);


/* cf_sqlite_stream.c */
int cf_sqlite_request_id_exists(cf_store_t *store, const char *request_id);
int cf_sqlite_load(cf_store_t *store, cf_aggregate_t *agg, cf_error_t *err);
int cf_sqlite_each_stream(cf_store_t *store, const char *aggregate_id,
    int64_t head, int64_t tail, cf_stream_cb_pt cb, void *data,
    cf_error_t *err);
int cf_sqlite_latest_version(cf_store_t *store, const char *aggregate_id,
    int64_t *version, cf_error_t *err);
int cf_sqlite_read_snapshot(cf_store_t *store, const char *aggregate_id,
    cf_snapshot_row_t *out);
int cf_sqlite_scan_ids(cf_store_t *store, const char *after_id,
    int64_t limit, char ***ids, size_t *n);
int cf_sqlite_append(cf_store_t *store, const cf_stream_row_t *row);
int cf_sqlite_save_snapshot(cf_store_t *store, const cf_aggregate_t *agg,
    int64_t snapshot_time);
int cf_sqlite_state_text(cf_store_t *store, const char *aggregate_id,
    void *(*alloc)(void *data, size_t size), void *data, char **text,
    size_t *len);

/* cf_sqlite_dispatch.c */
int cf_sqlite_dispatch_schema(cf_store_t *st, char *errbuf, size_t errlen);
int cf_sqlite_dispatch_claim(cf_store_t *st, int64_t now, int64_t lease_ms,
    int64_t owner, int limit, cf_claim_t **claims, size_t *n);
int cf_sqlite_dispatch_finish(cf_store_t *st, int64_t job_id,
    const char *state, const char *result, int64_t now);
int cf_sqlite_dispatch_enqueue(cf_store_t *st, const char *execution_id,
    int64_t now, int64_t *job_id, char op_id[CF_UUID_LEN + 1]);
int cf_sqlite_dispatch_get(cf_store_t *st, const char *op_id,
    cf_operation_t *op);
int cf_sqlite_dispatch_list(cf_store_t *st, const char *execution_id,
    int limit, cf_operation_t **ops, size_t *n);
int cf_sqlite_dispatch_cancel(cf_store_t *st, const char *op_id, int force,
    int64_t now, char state[16]);
int cf_sqlite_dispatch_cancel_asked(cf_store_t *st, int64_t job_id);
cf_dispatch_t *cf_sqlite_dispatch_open(cf_store_t *st);
void cf_sqlite_dispatch_close(cf_dispatch_t *d);
int cf_sqlite_dispatch_claim_in(cf_dispatch_t *d, int64_t now,
    int64_t lease_ms, int64_t owner, int limit, cf_claim_t **claims,
    size_t *n);
int cf_sqlite_dispatch_finish_in(cf_dispatch_t *d, int64_t job_id,
    const char *state, const char *result, int64_t now);
int cf_sqlite_dispatch_cancel_asked_in(cf_dispatch_t *d, int64_t job_id);
int cf_sqlite_dispatch_held_in(cf_dispatch_t *d, int64_t job_id,
    int64_t now);

/* cf_sqlite_metrics.c */
int cf_sqlite_metrics_counts(cf_store_t *st, int64_t now,
    cf_exec_counts_t *out, char *errbuf, size_t errlen);

/* cf_sqlite_query.c */
int cf_sqlite_query_schema(cf_store_t *st, char *errbuf, size_t errlen);
int cf_sqlite_query_count(cf_store_t *st, const cf_query_t *q,
    int64_t *count, char *errbuf, size_t errlen);
int cf_sqlite_query_each(cf_store_t *st, const cf_query_t *q,
    int state_only, cf_query_doc_pt cb, void *data, char *errbuf,
    size_t errlen);


#endif /* _CF_SQLITE_STORE_H_INCLUDED_ */
