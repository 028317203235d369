
/*
 * ngx_compensation: the store interface.
 *
 * Event streams and snapshots of execution_failed, the dispatch operations
 * and the query and metrics reads, behind one interface: every operation
 * below dispatches to the backend the store was opened with
 * (cf_store_backend.h).  The SQLite backend (cf_sqlite_*.c) keeps the store
 * in one file shared by every worker, one connection per process; a
 * PostgreSQL one plugs in the same way.  Plain C, no backend's header and
 * no nginx: the service, the glue and the tests see only this.
 *
 * Every transaction that may write starts with cf_store_begin_immediate:
 * it takes the write lock at once (SQLite: a deferred transaction could
 * fail with a busy snapshot, which no busy handler retries).
 */


#ifndef _CF_STORE_H_INCLUDED_
#define _CF_STORE_H_INCLUDED_


#include "cf_domain.h"
#include "cf_checkpoint.h"


/* results besides 0 (ok) and -1 (error, message in cf_store_errmsg) */
#define CF_STORE_NOT_FOUND       1
#define CF_STORE_BUSY            2    /* lock not obtained in time */
#define CF_STORE_VERSION_TAKEN   3    /* unique (aggregate_id, version) */
#define CF_STORE_DUPLICATE_REQ   4    /* request id already used */
#define CF_STORE_REPLACED        5    /* the open file left its path */

/*
 * Set in a cf_store_errcode() code when the failure is the store's as a
 * whole (disk full, a read-only, unreadable, damaged, unopenable or replaced
 * store), not one write's: the health is DOWN until a write works again.
 * The rest of the code is the backend's own (SQLite: the extended result
 * code), compared only for equality.
 */
#define CF_STORE_FAULT           0x40000000


typedef struct cf_store_s  cf_store_t;

typedef struct {
    int          synchronous_full;   /* PRAGMA synchronous=FULL, else NORMAL */
    int          busy_timeout_ms;
    int64_t      mmap_size;          /* PRAGMA mmap_size in bytes; 0: off */
    int          temp_store_memory;  /* PRAGMA temp_store=MEMORY */
    /* checkpoint policy (cf_sqlite_store.c), in WAL frames; 0: the defaults */
    int          wal_checkpoint_frames;
    int          wal_restart_frames;
    /* how long the restart before a write may wait for readers (then a
     * TRUNCATE checkpoint); 0: never waits (a connection of an event loop) */
    int          wal_restart_wait_ms;
    /* a missing file is an error (the nginx workers: only the master
     * creates the store, so that a worker never writes a fresh file while
     * the others write a deleted one) */
    int          no_create;
    /* a server store's application_name when the DSN names none (what the
     * connection is for, in pg_stat_activity); NULL: "ngx_compensation" */
    const char  *application_name;
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
    /* the one event; stored as [{id, name, revision, bodyType, body}] */
    const char  *event_id;
    const char  *event_name;
    const char  *event_body_type;
    json_t      *event_body;
    int64_t      create_time;
} cf_stream_row_t;


/*
 * Opens the store dsn names (creating the file or the tables and the schema
 * when missing) and prepares the statements: a PostgreSQL URI
 * (postgresql://, postgres://) or libpq keyword string ("host=... dbname=
 * ...") opens the PostgreSQL backend when the build has one, anything else
 * is the path of a SQLite file.  Creating the schema may retry while
 * another process holds the lock; that is bounded.  Returns NULL and fills
 * errbuf on failure.
 */
cf_store_t *cf_store_open(const char *dsn, const cf_store_options_t *opts,
    char *errbuf, size_t errlen);
/* 1 when dsn names a SQLite file (cf_store_open), 0 for a database server */
int cf_store_dsn_is_file(const char *dsn);
void cf_store_close(cf_store_t *st);
const char *cf_store_errmsg(cf_store_t *st);
/*
 * Forgets the connection's last error, so that what a read then finds is
 * its own (a server store's read connection outlives its errors)
 */
void cf_store_clear_error(cf_store_t *st);

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

/*
 * 0 while the open database file and its WAL are the files at the store's
 * path; CF_STORE_REPLACED (sticky, errmsg names the file) once either was
 * deleted or replaced.  Two stat() calls.  cf_store_commit checks it after
 * each COMMIT: a transaction that committed into a replaced file returns
 * CF_STORE_REPLACED and must not be acknowledged; cf_store_begin_immediate
 * refuses (CF_STORE_REPLACED) once it is known.
 */
int cf_store_check_file(cf_store_t *st);
/* the code of the last error (0: the last commit worked), with
 * CF_STORE_FAULT when it is the store's; a store fault once replaced */
int cf_store_errcode(cf_store_t *st);
/* 1 for a database server's store (PostgreSQL), 0 for a SQLite file */
int cf_store_is_server(cf_store_t *st);
/* the dsn the store was opened with */
const char *cf_store_path(cf_store_t *st);

/* RESTART checkpoints that succeeded on this connection (the WAL started
 * over after each); 0 for a backend without a WAL file */
int cf_store_wal_restarts(cf_store_t *st);
/* the hook's checkpoints go to ck's thread instead (cf_checkpoint.h); NULL:
 * back in the hook.  ck must outlive st's commits.  Nothing for a backend
 * without a WAL file. */
void cf_store_set_checkpointer(cf_store_t *st, cf_checkpointer_t *ck);


/* ---- history (issue 3): event streams, replays, snapshot rows ---- */

/* one stored event stream, as read; valid during a callback only */
typedef struct {
    const char  *id;
    const char  *aggregate_id;
    const char  *tenant_id;
    const char  *owner_id;
    const char  *request_id;
    const char  *command_id;
    int64_t      version;
    int64_t      size;
    int64_t      create_time;
    json_t      *header;           /* an object (checked) */
    json_t      *body;             /* an array (checked) */
} cf_stream_view_t;

/* 0: go on, 1: stop (not an error), -1: error (err set by the callback) */
typedef int (*cf_stream_cb_pt)(void *data, const cf_stream_view_t *row);

/*
 * Calls cb for each event stream of the aggregate with head <= version <=
 * tail, in version order.  A stream whose header or body is not valid JSON
 * is an error.  Returns the number of streams passed to cb (>= 0), or -1
 * with err set.  cb must not call other cf_store functions that read
 * event streams (the statement is in use).
 */
int cf_store_each_stream(cf_store_t *st, const char *aggregate_id,
    int64_t head, int64_t tail, cf_stream_cb_pt cb, void *data,
    cf_error_t *err);

/*
 * The version of the aggregate's latest event stream, 0 when it has none:
 * 0 with *version set, or -1 (err set).
 */
int cf_store_latest_version(cf_store_t *st, const char *aggregate_id,
    int64_t *version, cf_error_t *err);

/* applies one stream to agg; its version must be agg->version + 1 */
int cf_stream_apply(cf_aggregate_t *agg, const cf_stream_view_t *row,
    cf_error_t *err);

/*
 * Replays onto agg (usually empty, from cf_aggregate_init) the streams after
 * agg->version up to tail_version, stopping at the first stream created
 * after max_time (INT64_MAX for no limit).  0 or -1 (err set).
 */
int cf_store_load_upto(cf_store_t *st, cf_aggregate_t *agg,
    int64_t tail_version, int64_t max_time, cf_error_t *err);

/* the snapshot row as stored (strings malloc'ed, state the raw text) */
typedef struct {
    char        *aggregate_id;
    char        *event_id;
    char        *tenant_id;
    char        *owner_id;
    char        *first_operator;
    char        *operator_;
    char        *state;
    char        *tags;              /* the ABAC tags' JSON text */
    int64_t      version;
    int64_t      first_event_time;
    int64_t      event_time;
    int64_t      snapshot_time;
    int          deleted;
} cf_snapshot_row_t;

/* 0, CF_STORE_NOT_FOUND or -1 */
int cf_store_read_snapshot(cf_store_t *st, const char *aggregate_id,
    cf_snapshot_row_t *row);
void cf_snapshot_row_free(cf_snapshot_row_t *row);

/* group commit: a savepoint per command inside BEGIN IMMEDIATE ... COMMIT */
int cf_store_savepoint(cf_store_t *st);
int cf_store_release(cf_store_t *st);
int cf_store_rollback_to(cf_store_t *st);
int cf_store_in_transaction(cf_store_t *st);

/* a read transaction shared by the reads until cf_store_read_release */
int cf_store_read_hold(cf_store_t *st);
void cf_store_read_release(cf_store_t *st);

/*
 * The state read's fast path: the stored state document of a live
 * aggregate whose snapshot is at the head of its event stream, copied into
 * memory from alloc(data, size), served without parsing it again.  1 with
 * *text and *len set; 0 when the caller must take the full path (no
 * snapshot, deleted, events after the snapshot, not a JSON object); -1.
 */
int cf_store_state_text(cf_store_t *st, const char *aggregate_id,
    void *(*alloc)(void *data, size_t size), void *data, char **text,
    size_t *len);

/*
 * Rebuilds the snapshot row from all the events (a damaged, stale or missing
 * row is replaced), in one BEGIN IMMEDIATE transaction.  0,
 * CF_STORE_NOT_FOUND (no events), CF_STORE_BUSY or -1; err set on errors.
 */
int cf_store_regenerate_snapshot(cf_store_t *st, const char *aggregate_id,
    int64_t now, cf_error_t *err);

/*
 * The ids of aggregates that have a first event stream, > after_id (binary
 * string order), ascending, at most limit.  *ids is malloc'ed (free with
 * cf_ids_free); 0 or -1.
 */
int cf_store_scan_ids(cf_store_t *st, const char *after_id, int64_t limit,
    char ***ids, size_t *n);
void cf_ids_free(char **ids, size_t n);


#endif /* _CF_STORE_H_INCLUDED_ */
