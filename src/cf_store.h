
/*
 * ngx_compensation: the SQLite store.
 *
 * Event streams and snapshots of execution_failed in one SQLite file shared
 * by every worker (one connection per process).  Plain C: no nginx headers,
 * so the store can be driven by unit tests and tools.  Every transaction that
 * may write starts with BEGIN IMMEDIATE: a deferred one could fail with
 * SQLITE_BUSY_SNAPSHOT, which no busy handler retries.
 */


#ifndef _CF_STORE_H_INCLUDED_
#define _CF_STORE_H_INCLUDED_


#include <sqlite3.h>
#include "cf_domain.h"


#define CF_STORE_SCHEMA_VERSION  1

/* results besides 0 (ok) and -1 (error, message in cf_store_errmsg) */
#define CF_STORE_NOT_FOUND       1
#define CF_STORE_BUSY            2    /* lock not obtained in time */
#define CF_STORE_VERSION_TAKEN   3    /* unique (aggregate_id, version) */
#define CF_STORE_DUPLICATE_REQ   4    /* request id already used */


typedef struct cf_store_s  cf_store_t;

typedef struct {
    int          synchronous_full;   /* PRAGMA synchronous=FULL, else NORMAL */
    int          busy_timeout_ms;
} cf_store_options_t;


/* One event stream row: one command's events (one here) and its header. */
typedef struct {
    const char  *id;
    const char  *aggregate_id;
    const char  *owner_id;
    int64_t      version;
    const char  *request_id;
    const char  *command_id;
    json_t      *header;           /* object of strings */
    json_t      *body;             /* array of {id,name,revision,bodyType,body} */
    int64_t      create_time;
} cf_stream_row_t;


/*
 * Opens (creating the file and the schema when missing) and prepares the
 * statements.  create_schema may need to retry while another process holds
 * the lock; that is bounded.  Returns NULL and fills errbuf on failure.
 */
cf_store_t *cf_store_open(const char *path, const cf_store_options_t *opts,
    char *errbuf, size_t errlen);
void cf_store_close(cf_store_t *st);
const char *cf_store_errmsg(cf_store_t *st);

/* temporarily lowers the busy timeout (a command's wait timeout) */
void cf_store_set_busy_timeout(cf_store_t *st, int ms);

int cf_store_begin_immediate(cf_store_t *st);
int cf_store_commit(cf_store_t *st);
void cf_store_rollback(cf_store_t *st);

/* 1 when any event stream already carries request_id, 0 when not, -1 */
int cf_store_request_id_exists(cf_store_t *st, const char *request_id);

/*
 * Loads the aggregate: its snapshot row, then the event streams after the
 * snapshot's version (so a missing or stale snapshot is repaired in memory).
 * agg must be cf_aggregate_init()ed with the id.  0 when loaded (version may
 * still be 0: not initialized), -1 on error (err filled).
 */
int cf_store_load(cf_store_t *st, cf_aggregate_t *agg, cf_error_t *err);

/* appends one event stream: 0, CF_STORE_VERSION_TAKEN, CF_STORE_DUPLICATE_REQ
 * or -1 */
int cf_store_append(cf_store_t *st, const cf_stream_row_t *row);

/* upserts the snapshot row of agg, with the hot query columns */
int cf_store_save_snapshot(cf_store_t *st, const cf_aggregate_t *agg,
    int64_t snapshot_time);

/* quick liveness check for health endpoints and tests: 0 or -1 */
int cf_store_ping(cf_store_t *st);


#endif /* _CF_STORE_H_INCLUDED_ */
