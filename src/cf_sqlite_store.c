
/*
 * ngx_compensation: the SQLite store backend (cf_store.h,
 * cf_store_backend.h): one file shared by every worker, one connection per
 * process, in WAL mode.  This file: the connection (open, pragmas, schema
 * and migrations, the statements), transactions and savepoints, the busy
 * handler and the WAL policy, the file's identity; the backend table.
 * Event streams and snapshots: cf_sqlite_stream.c.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <sys/stat.h>

#include "cf_store_backend.h"
#include "cf_sqlite_store.h"


#define CF_SCHEMA_RETRIES     200     /* x 10 ms: other workers at startup */


/* checkpoint policy defaults (cf_sqlite_wal_hook), in WAL frames (pages) */
#define CF_WAL_CHECKPOINT_FRAMES  256       /* 1 MB of 4 KB pages */
#define CF_WAL_RESTART_FRAMES     16384     /* 64 MB */


static const char *cf_sql_text[CF_SQL__COUNT] = {
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",

    "SELECT 1 FROM event_stream WHERE request_id = ?1 LIMIT 1",

    "SELECT version, event_id, owner_id, first_operator, operator,"
    " first_event_time, event_time, deleted, state, tags"
    " FROM snapshot WHERE aggregate_id = ?1",

    "INSERT INTO event_stream (id, aggregate_id, tenant_id, owner_id,"
    " version, request_id, command_id, header, body, size, create_time)"
    " VALUES (?1, ?2, '" CF_TENANT_ID "', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",

    "INSERT INTO snapshot (aggregate_id, tenant_id, owner_id, version,"
    " event_id, first_operator, operator, first_event_time, event_time,"
    " snapshot_time, deleted, state, status, recoverable, is_retryable,"
    " is_below_retry_threshold, retries, next_retry_at, timeout_at, tags)"
    " VALUES (?1, '" CF_TENANT_ID "', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
    " ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
    " ON CONFLICT (aggregate_id) DO UPDATE SET"
    " owner_id = excluded.owner_id, version = excluded.version,"
    " event_id = excluded.event_id, first_operator = excluded.first_operator,"
    " operator = excluded.operator,"
    " first_event_time = excluded.first_event_time,"
    " event_time = excluded.event_time,"
    " snapshot_time = excluded.snapshot_time, deleted = excluded.deleted,"
    " state = excluded.state, status = excluded.status,"
    " recoverable = excluded.recoverable,"
    " is_retryable = excluded.is_retryable,"
    " is_below_retry_threshold = excluded.is_below_retry_threshold,"
    " retries = excluded.retries, next_retry_at = excluded.next_retry_at,"
    " timeout_at = excluded.timeout_at, tags = excluded.tags",

    "SELECT count(*) FROM sqlite_master",

    "SELECT id, aggregate_id, tenant_id, owner_id, version, request_id,"
    " command_id, header, body, size, create_time FROM event_stream"
    " WHERE aggregate_id = ?1 AND version BETWEEN ?2 AND ?3"
    " ORDER BY version",

    "SELECT version, event_id, tenant_id, owner_id, first_operator, operator,"
    " first_event_time, event_time, snapshot_time, deleted, state, tags"
    " FROM snapshot WHERE aggregate_id = ?1",

    /* the unique (aggregate_id, version) index gives the order */
    "SELECT aggregate_id FROM event_stream"
    " WHERE aggregate_id > ?1 AND version = 1"
    " ORDER BY aggregate_id LIMIT ?2",

    /* the state read's fast path: the snapshot is the head when no event
     * stream is newer, exactly when cf_sqlite_load would replay nothing
     * (the unique (aggregate_id, version) index answers) */
    "SELECT s.version, s.deleted, s.state,"
    " (SELECT max(version) FROM event_stream WHERE aggregate_id = ?1)"
    " FROM snapshot s WHERE s.aggregate_id = ?1",

    /* the unique (aggregate_id, version) index answers */
    "SELECT max(version) FROM event_stream WHERE aggregate_id = ?1",

    /* a read transaction held over several reads (cf_sqlite_read_hold) */
    "BEGIN"
};


/*
 * Schema version 2 (1 had no snapshot.tags: cf_sqlite_migrate adds it);
 * version 3 changed only the query indexes (cf_sqlite_query.c).
 * Unique (aggregate_id, version) is the optimistic lock of
 * the event store; unique (aggregate_id, request_id) and the request_id index
 * make Command-Request-Id idempotent.  The snapshot keeps the state document
 * plus the columns the scheduler and the dashboard filter on.
 */
static const char cf_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS event_stream ("
    " id TEXT NOT NULL PRIMARY KEY,"
    " aggregate_id TEXT NOT NULL,"
    " tenant_id TEXT NOT NULL,"
    " owner_id TEXT NOT NULL DEFAULT '',"
    " version INTEGER NOT NULL,"
    " request_id TEXT NOT NULL,"
    " command_id TEXT NOT NULL,"
    " header TEXT NOT NULL,"
    " body TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " create_time INTEGER NOT NULL,"
    " UNIQUE (aggregate_id, version),"
    " UNIQUE (aggregate_id, request_id));"
    "CREATE INDEX IF NOT EXISTS event_stream_request_id"
    " ON event_stream (request_id);"
    "CREATE TABLE IF NOT EXISTS snapshot ("
    " aggregate_id TEXT NOT NULL PRIMARY KEY,"
    " tenant_id TEXT NOT NULL,"
    " owner_id TEXT NOT NULL DEFAULT '',"
    " version INTEGER NOT NULL,"
    " event_id TEXT NOT NULL,"
    " first_operator TEXT NOT NULL DEFAULT '',"
    " operator TEXT NOT NULL DEFAULT '',"
    " first_event_time INTEGER NOT NULL,"
    " event_time INTEGER NOT NULL,"
    " snapshot_time INTEGER NOT NULL,"
    " deleted INTEGER NOT NULL DEFAULT 0,"
    " state TEXT NOT NULL,"
    " status TEXT,"
    " recoverable TEXT,"
    " is_retryable INTEGER,"
    " is_below_retry_threshold INTEGER,"
    " retries INTEGER,"
    " next_retry_at INTEGER,"
    " timeout_at INTEGER,"
    " tags TEXT NOT NULL DEFAULT '{}');";


/* the ABAC tags of newer servers (spec 2.9 [HEAD]) on a version 1 file */
static const char cf_migrate_tags_sql[] =
    "ALTER TABLE snapshot ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';";


static cf_store_t *cf_sqlite_open(const char *path,
    const cf_store_options_t *opts, char *errbuf, size_t errlen);
static void cf_sqlite_close(cf_store_t *store);
static const char *cf_sqlite_errmsg(cf_store_t *store);
static void cf_sqlite_set_busy_timeout(cf_store_t *store, int ms);
static void cf_sqlite_set_checkpointer(cf_store_t *store,
    cf_checkpointer_t *ck);
static int cf_sqlite_wal_restarts(cf_store_t *store);
static int cf_sqlite_begin_immediate(cf_store_t *store);
static int cf_sqlite_commit(cf_store_t *store);
static void cf_sqlite_rollback(cf_store_t *store);
static int cf_sqlite_ping(cf_store_t *store);
static int cf_sqlite_savepoint(cf_store_t *store);
static int cf_sqlite_release(cf_store_t *store);
static int cf_sqlite_rollback_to(cf_store_t *store);
static int cf_sqlite_in_transaction(cf_store_t *store);
static int cf_sqlite_read_hold(cf_store_t *store);
static void cf_sqlite_read_release(cf_store_t *store);
static int cf_sqlite_check_file(cf_store_t *store);
static int cf_sqlite_errcode(cf_store_t *store);
static const char *cf_sqlite_path(cf_store_t *store);
static int cf_sqlite_create_schema(cf_sqlite_store_t *st);
static int cf_sqlite_migrate(cf_sqlite_store_t *st, int version,
    char **msg);
static int cf_sqlite_busy(void *data, int count);
static int cf_sqlite_wal_hook(void *data, sqlite3 *db, const char *name,
    int frames);
static void cf_sqlite_wal_restart(cf_sqlite_store_t *st);
static void cf_sqlite_note_wal(cf_sqlite_store_t *st);


static cf_store_t *
cf_sqlite_open(const char *path, const cf_store_options_t *opts, char *errbuf,
    size_t errlen)
{
    int                 rc, i;
    char                pragma[96];
    cf_sqlite_store_t  *st;

    st = calloc(1, sizeof(cf_sqlite_store_t));
    if (st == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }

    st->base.backend = &cf_sqlite_store_backend;

    st->path = strdup(path);
    st->wal_path = malloc(strlen(path) + sizeof("-wal"));
    if (st->path == NULL || st->wal_path == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto failed;
    }

    sprintf(st->wal_path, "%s-wal", path);

    /*
     * NOMUTEX: one connection per process, used by one thread at a time.
     * Without create: a missing file is an error, not a fresh empty store
     * beside the one the other processes still write (cf_store.h).
     */
    rc = sqlite3_open_v2(path, &st->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
                         | (opts->no_create ? 0 : SQLITE_OPEN_CREATE), NULL);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "sqlite3_open_v2(\"%s\") failed: %s", path,
                 st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        goto failed;
    }

    sqlite3_extended_result_codes(st->db, 1);

    st->busy_timeout_ms = opts->busy_timeout_ms;
    st->busy_limit_ms = opts->busy_timeout_ms;
    sqlite3_busy_handler(st->db, cf_sqlite_busy, st);

    st->wal_checkpoint_frames = opts->wal_checkpoint_frames > 0
                                ? opts->wal_checkpoint_frames
                                : CF_WAL_CHECKPOINT_FRAMES;
    st->wal_restart_frames = opts->wal_restart_frames > 0
                             ? opts->wal_restart_frames
                             : CF_WAL_RESTART_FRAMES;
    st->wal_restart_wait_ms = opts->wal_restart_wait_ms;
    sqlite3_wal_hook(st->db, cf_sqlite_wal_hook, st);

    /* journal_mode=WAL is persistent; the others are per connection */
    snprintf(pragma, sizeof(pragma),
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;",
             opts->synchronous_full ? "FULL" : "NORMAL");

    for (i = 0; i < CF_SCHEMA_RETRIES; i++) {
        rc = sqlite3_exec(st->db, pragma, NULL, NULL, NULL);
        if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
            break;
        }
        usleep(10000);
    }

    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "setting pragmas on \"%s\" failed: %s",
                 path, sqlite3_errmsg(st->db));
        goto failed;
    }

    /*
     * No temporary files: a statement journal per SAVEPOINT otherwise, and
     * SQLite would look up their directory with getenv()
     */
    if (opts->temp_store_memory
        && sqlite3_exec(st->db, "PRAGMA temp_store=MEMORY;", NULL, NULL, NULL)
           != SQLITE_OK)
    {
        snprintf(errbuf, errlen, "setting temp_store on \"%s\" failed: %s",
                 path, sqlite3_errmsg(st->db));
        goto failed;
    }

    /* reads through the mapping: no read() and no copy per page */
    if (opts->mmap_size > 0) {
        snprintf(pragma, sizeof(pragma), "PRAGMA mmap_size=%lld;",
                 (long long) opts->mmap_size);

        rc = sqlite3_exec(st->db, pragma, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            snprintf(errbuf, errlen, "setting mmap_size on \"%s\" failed:"
                     " %s", path, sqlite3_errmsg(st->db));
            goto failed;
        }
    }

    if (cf_sqlite_create_schema(st) != 0) {
        snprintf(errbuf, errlen, "creating the schema in \"%s\" failed: %s",
                 path, st->errmsg);
        goto failed;
    }

    for (i = 0; i < CF_SQL__COUNT; i++) {
        rc = sqlite3_prepare_v3(st->db, cf_sql_text[i], -1,
                                SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
                                NULL);
        if (rc != SQLITE_OK) {
            snprintf(errbuf, errlen, "preparing \"%s\" failed: %s",
                     cf_sql_text[i], sqlite3_errmsg(st->db));
            goto failed;
        }
    }

    /* the WAL the schema's transactions opened (cf_sqlite_check_file) */
    cf_sqlite_note_wal(st);

    return &st->base;

failed:

    cf_sqlite_close(&st->base);
    return NULL;
}


static void
cf_sqlite_close(cf_store_t *store)
{
    int                 i;
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    if (st == NULL) {
        return;
    }

    /* before the connection: its statements would keep it open */
    if (st->dispatch) {
        cf_sqlite_dispatch_close(st->dispatch);
    }

    for (i = 0; i < CF_SQL__COUNT; i++) {
        if (st->stmt[i]) {
            sqlite3_finalize(st->stmt[i]);
        }
    }

    if (st->db) {
        sqlite3_close(st->db);
    }

    cf_buf_free(&st->text[0]);
    cf_buf_free(&st->text[1]);

    free(st->path);
    free(st->wal_path);
    free(st);
}


static const char *
cf_sqlite_errmsg(cf_store_t *store)
{
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    return st->errmsg;
}


static void
cf_sqlite_set_busy_timeout(cf_store_t *store, int ms)
{
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    st->busy_limit_ms = ms;
}


/*
 * SQLite's own busy handler sleeps 1, 2, 5 ... 100 ms between tries, which is
 * far longer than a write transaction here (tens of microseconds): two
 * workers contending for the lock turned that into a 275 ms p99.  Retry in
 * steps growing from 20 us to 1 ms instead, up to the time limit.
 */
static int
cf_sqlite_busy(void *data, int count)
{
    cf_sqlite_store_t       *st = data;
    long              elapsed_ms, step_us;
    struct timespec   now;

    clock_gettime(CLOCK_MONOTONIC, &now);

    if (count == 0) {
        st->busy_start = now;

    } else {
        elapsed_ms = (now.tv_sec - st->busy_start.tv_sec) * 1000
                     + (now.tv_nsec - st->busy_start.tv_nsec) / 1000000;

        if (elapsed_ms >= st->busy_limit_ms) {
            return 0;
        }
    }

    step_us = 20L << (count < 6 ? count : 6);

    usleep(step_us < 1000 ? step_us : 1000);

    return 1;
}


/*
 * Checkpoints, replacing SQLite's auto-checkpoint (which checkpoints after
 * every commit that leaves 1000 frames or more in the WAL).
 *
 * Under a sustained load of two workers the WAL is never started over: a
 * writer restarts it only when a checkpoint has caught up with it and no
 * commit came since, and the other worker always commits meanwhile.  The WAL
 * file then grows for as long as the load lasts (to 100-370 MB in a 10 s
 * benchmark), and once it holds 1000 frames every commit checkpoints.  So:
 *   - a commit checkpoints (PASSIVE, never waiting) once wal_checkpoint_frames
 *     were added since the backfill this connection last saw.  Small, frequent
 *     checkpoints: the 1000-frame ones made the slowest commits slower
 *     (docs/benchmarks.md);
 *   - once the WAL holds wal_restart_frames, the connection's next write
 *     transaction first tries a RESTART checkpoint (cf_sqlite_wal_restart).
 *     It takes the write lock, which that transaction is about to take
 *     anyway, copies what is left, and succeeds if no reader uses the WAL:
 *     the next commit then starts the WAL over.  It never waits: when the
 *     other writer or a reader is there, it is tried again once another
 *     wal_checkpoint_frames were written (a failed attempt still checkpoints
 *     what is new, with its fsyncs).  At the start of a transaction, not
 *     after a commit, it delays no reply.
 * With a checkpointer (cf_checkpoint.h, the workers'), the PASSIVE
 * checkpoint is its thread's, whose syncs block no writer; the RESTART
 * stays here.  The hook runs after the commit (no lock of ours is held), in
 * the thread that committed; what it does never fails the commit.
 */
static int
cf_sqlite_wal_hook(void *data, sqlite3 *db, const char *name, int frames)
{
    int          log, backfilled;
    cf_sqlite_store_t  *st = data;

    if (frames < st->wal_frames || frames < st->wal_backfilled) {
        /* the WAL was started over since our last commit */
        st->wal_backfilled = 0;
        st->wal_restart_after = 0;
    }

    st->wal_frames = frames;
    st->wal_restart = frames >= st->wal_restart_frames
                      && frames >= st->wal_restart_after;

    if (frames - st->wal_backfilled < st->wal_checkpoint_frames) {
        return SQLITE_OK;
    }

    if (st->checkpointer) {
        /* its thread checkpoints; counted from this request on */
        st->wal_backfilled = frames;
        cf_checkpointer_wake(st->checkpointer);
        return SQLITE_OK;
    }

    if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log,
                                  &backfilled)
        == SQLITE_OK
        && backfilled >= 0)
    {
        st->wal_backfilled = backfilled;

    } else {
        /* another checkpoint runs (or this one failed): as many frames on */
        st->wal_backfilled = frames;
    }

    return SQLITE_OK;
}


static void
cf_sqlite_wal_restart(cf_sqlite_store_t *st)
{
    int  log, backfilled, limit;

    /*
     * No wait on an event loop: the busy handler gives up at once.  A
     * connection off the event loop (the store thread) waits a little for
     * the readers still on the WAL: under a sustained read load of several
     * workers one of them always is, and a RESTART that never waits never
     * succeeds.  Waiting, it also truncates the file (TRUNCATE).
     */
    limit = st->busy_limit_ms;
    st->busy_limit_ms = st->wal_restart_wait_ms;

    log = -1;
    backfilled = -1;

    if (sqlite3_wal_checkpoint_v2(st->db, NULL,
                                  st->wal_restart_wait_ms
                                  ? SQLITE_CHECKPOINT_TRUNCATE
                                  : SQLITE_CHECKPOINT_RESTART,
                                  &log, &backfilled)
        == SQLITE_OK)
    {
        st->wal_restarts++;

    } else {
        /*
         * A reader or the other writer was there.  The attempt still
         * checkpointed what was new (two fsyncs): trying again at every
         * write would do that at every write, so not before another
         * checkpoint's worth of frames
         */
        st->wal_restart_after = st->wal_frames + st->wal_checkpoint_frames;
    }

    st->wal_restart = 0;

    if (backfilled > st->wal_backfilled) {
        st->wal_backfilled = backfilled;
    }

    st->busy_limit_ms = limit;
}


static void
cf_sqlite_set_checkpointer(cf_store_t *store, cf_checkpointer_t *ck)
{
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    st->checkpointer = ck;

    if (ck) {
        cf_checkpointer_set_bound(ck, st->wal_restart_frames);
    }
}


static int
cf_sqlite_wal_restarts(cf_store_t *store)
{
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    return st->wal_restarts;
}


/*
 * Creating the schema races with the other workers (and a master, and a
 * second nginx) opening a fresh file: "database is locked" can come back
 * even with a busy timeout, so retry a bounded number of times.
 */
static int
cf_sqlite_create_schema(cf_sqlite_store_t *st)
{
    int   rc, i, version;
    char *msg;

    for (i = 0; i < CF_SCHEMA_RETRIES; i++) {

        rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

        if (rc == SQLITE_OK) {
            msg = NULL;
            rc = cf_sqlite_user_version(st->db, &version);

            if (rc == SQLITE_OK && version > CF_SQLITE_SCHEMA_VERSION) {
                /* a newer module's file: what this one would write (or
                 * migrate "back") could break it */
                snprintf(st->errmsg, sizeof(st->errmsg), "the file has"
                         " schema version %d, this module knows versions"
                         " up to %d: upgrade the module", version,
                         CF_SQLITE_SCHEMA_VERSION);
                sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
                return -1;
            }

            if (rc == SQLITE_OK) {
                rc = sqlite3_exec(st->db, cf_schema_sql, NULL, NULL, &msg);
            }

            if (rc == SQLITE_OK) {
                rc = cf_sqlite_migrate(st, version, &msg);
            }

            if (rc == SQLITE_OK) {
                rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
                if (rc == SQLITE_OK) {
                    return 0;
                }
            }

            if (msg) {
                snprintf(st->errmsg, sizeof(st->errmsg), "%s", msg);
                sqlite3_free(msg);
            }

            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        }

        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) {
            if (st->errmsg[0] == '\0') {
                cf_sqlite_set_error(st, "schema");
            }
            return -1;
        }

        usleep(10000);
    }

    cf_sqlite_set_error(st, "schema (still locked after retries)");
    return -1;
}


/* PRAGMA user_version: the file's schema version (0: a new file) */
int
cf_sqlite_user_version(sqlite3 *db, int *version)
{
    int            rc;
    sqlite3_stmt  *s;

    rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
    if (rc != SQLITE_OK) {
        return rc;
    }

    rc = sqlite3_step(s);
    *version = (rc == SQLITE_ROW) ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);

    return rc == SQLITE_ROW ? SQLITE_OK : rc;
}


/*
 * Brings a file of an older schema version (version) to version 2,
 * inside the schema transaction: version 1 lacks snapshot.tags (every row
 * then has the tags {}, as an aggregate that never had tags applied).
 * Version 3 is kept (the query indexes, cf_sqlite_query.c); a newer one
 * never gets here (cf_sqlite_create_schema refuses it).
 */
static int
cf_sqlite_migrate(cf_sqlite_store_t *st, int version, char **msg)
{
    int            rc, has_tags;
    sqlite3_stmt  *s;

    rc = sqlite3_prepare_v2(st->db,
                            "SELECT 1 FROM pragma_table_info('snapshot')"
                            " WHERE name = 'tags'", -1, &s, NULL);
    if (rc != SQLITE_OK) {
        return rc;
    }

    rc = sqlite3_step(s);
    has_tags = (rc == SQLITE_ROW);
    sqlite3_finalize(s);

    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return rc;
    }

    if (!has_tags) {
        rc = sqlite3_exec(st->db, cf_migrate_tags_sql, NULL, NULL, msg);
        if (rc != SQLITE_OK) {
            return rc;
        }

    } else if (version >= 2) {
        return SQLITE_OK;
    }

    return sqlite3_exec(st->db, "PRAGMA user_version = 2;", NULL, NULL, msg);
}


void
cf_sqlite_set_error(cf_sqlite_store_t *st, const char *what)
{
    st->errcode = sqlite3_extended_errcode(st->db);

    snprintf(st->errmsg, sizeof(st->errmsg), "%s: %s (%d)", what,
             sqlite3_errmsg(st->db), st->errcode);
}


int
cf_sqlite_exec(cf_sqlite_store_t *st, cf_sql_id_t id)
{
    int            rc;
    sqlite3_stmt  *s;

    s = st->stmt[id];
    rc = sqlite3_step(s);
    sqlite3_reset(s);

    if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
        return 0;
    }

    cf_sqlite_set_error(st, cf_sql_text[id]);

    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
        return CF_STORE_BUSY;
    }

    return -1;
}


static int
cf_sqlite_begin_immediate(cf_store_t *store)
{
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    /* nothing more is written into a file known to be no longer the
     * store (cf_sqlite_commit checks) */
    if (st->replaced) {
        return CF_STORE_REPLACED;
    }

    if (st->wal_restart && sqlite3_get_autocommit(st->db)) {
        cf_sqlite_wal_restart(st);
    }

    return cf_sqlite_exec(st, CF_SQL_BEGIN);
}


static int
cf_sqlite_commit(cf_store_t *store)
{
    int                 rc;
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    rc = cf_sqlite_exec(st, CF_SQL_COMMIT);

    if (rc != 0) {
        /* a failed COMMIT may leave the transaction open */
        if (!sqlite3_get_autocommit(st->db)) {
            (void) cf_sqlite_exec(st, CF_SQL_ROLLBACK);
        }

        return rc;
    }

    /*
     * Committed, but into the file at the path?  Checked after the COMMIT
     * so that a file deleted during the transaction is seen too: the
     * caller must not acknowledge the write.
     */
    if (cf_sqlite_check_file(&st->base) != 0) {
        return CF_STORE_REPLACED;
    }

    st->errcode = 0;

    return 0;
}


static void
cf_sqlite_rollback(cf_store_t *store)
{
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    if (!sqlite3_get_autocommit(st->db)) {
        (void) cf_sqlite_exec(st, CF_SQL_ROLLBACK);
    }
}


static int
cf_sqlite_ping(cf_store_t *store)
{
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    return cf_sqlite_exec(st, CF_SQL_PING) == 0 ? 0 : -1;
}


sqlite3 *
cf_sqlite_store_db(cf_store_t *st)
{
    return ((cf_sqlite_store_t *) st)->db;
}


void
cf_sqlite_store_db_error(cf_store_t *store)
{
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    snprintf(st->errmsg, sizeof(st->errmsg), "%s", sqlite3_errmsg(st->db));
}


/*
 * Group commit (cf_service_execute_grouped) without SQL savepoints.  Under a
 * SAVEPOINT, SQLite copies each page a command then changes into its
 * statement journal (4 KB per page, in 1 KB pieces): its prepares and
 * results held the write lock 13-15% longer in a retry storm (docs/benchmarks.md, "Retry
 * storms").  They are not needed to keep one command's failure from its
 * neighbours: a command writes nothing before its checks pass, and SQLite
 * undoes a failed statement by itself (a broken UNIQUE constraint changes
 * nothing).  So a command's "savepoint" is the count of changed rows when it
 * began.  A command that fails after a write (an I/O error between its event
 * and its snapshot) cannot be undone alone: its rollback ends the whole
 * transaction, and the group sees it lost (cf_store_in_transaction), as it
 * would after SQLite's own rollback on a full disk.
 */
static int
cf_sqlite_savepoint(cf_store_t *store)
{
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    if (sqlite3_get_autocommit(st->db)) {
        snprintf(st->errmsg, sizeof(st->errmsg),
                 "a command of a group outside its transaction");
        return -1;
    }

    st->command_changes = sqlite3_total_changes(st->db);

    return 0;
}


static int
cf_sqlite_release(cf_store_t *store)
{
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    return sqlite3_get_autocommit(st->db) ? -1 : 0;
}


/* undoes the command's work: nothing to undo, or the whole transaction */
static int
cf_sqlite_rollback_to(cf_store_t *store)
{
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    if (sqlite3_get_autocommit(st->db)) {
        return -1;          /* SQLite rolled the whole transaction back */
    }

    if (sqlite3_total_changes(st->db) == st->command_changes) {
        return 0;
    }

    cf_sqlite_rollback(store);

    return -1;
}


static int
cf_sqlite_in_transaction(cf_store_t *store)
{
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    return !sqlite3_get_autocommit(st->db);
}


/*
 * A read transaction held over several reads: in WAL mode each transaction
 * takes and drops a shared lock on the database file and a read mark in
 * the -shm file (four fcntl() calls); reads that share one transaction
 * share them.  They also share one snapshot of the store, so the caller
 * releases it soon (ngx_http_compensation_state.c: at the end of the
 * event-loop iteration).  0, or -1 with the error set.
 */
static int
cf_sqlite_read_hold(cf_store_t *store)
{
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    if (!sqlite3_get_autocommit(st->db)) {
        return 0;                           /* held already */
    }

    return cf_sqlite_exec(st, CF_SQL_BEGIN_READ) == 0 ? 0 : -1;
}


static void
cf_sqlite_read_release(cf_store_t *store)
{
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    if (!sqlite3_get_autocommit(st->db)) {
        (void) cf_sqlite_exec(st, CF_SQL_COMMIT);
    }
}


/*
 * The open database file and its WAL are still the files at their paths:
 * SQLite's SQLITE_FCNTL_HAS_MOVED compares the inode of the open database
 * file with a stat() of its path (deleted: the stat fails; replaced:
 * another inode).  SQLite opens the WAL without the inode record that
 * needs, so the WAL's identity is taken by a stat() of its path when the
 * connection has just opened it (cf_sqlite_note_wal) and compared with a
 * stat() here: SQLite deletes a WAL only when its last connection closes,
 * never while this one is open.  Two stat() calls.  Once replaced, always
 * replaced: what was written since went into a file nobody opens again.
 */
static int
cf_sqlite_check_file(cf_store_t *store)
{
    int                 moved;
    const char         *which;
    struct stat         sb;
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    if (st->replaced) {
        return CF_STORE_REPLACED;
    }

    moved = 0;
    which = NULL;

    if (sqlite3_file_control(st->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved)
        == SQLITE_OK
        && moved)
    {
        which = "database file";

    } else if (!st->wal_known) {
        cf_sqlite_note_wal(st);

    } else if (stat(st->wal_path, &sb) != 0
               || sb.st_ino != st->wal_ino || sb.st_dev != st->wal_dev)
    {
        which = "WAL file";
    }

    if (which == NULL) {
        return 0;
    }

    st->replaced = 1;
    st->errcode = SQLITE_CANTOPEN;

    snprintf(st->errmsg, sizeof(st->errmsg), "the %s of \"%s\" was deleted"
             " or replaced while open: writes are refused until a restart"
             " or reload", which, st->path);

    return CF_STORE_REPLACED;
}


static int
cf_sqlite_errcode(cf_store_t *store)
{
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    /* what outlasts the transaction is the store's health (cf_store.h) */
    switch (st->errcode & 0xff) {

    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        return st->errcode | CF_STORE_FAULT;

    default:
        return st->errcode;
    }
}


static const char *
cf_sqlite_path(cf_store_t *store)
{
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    return st->path;
}


/* the identity of the WAL this connection has open: its path's, now */
static void
cf_sqlite_note_wal(cf_sqlite_store_t *st)
{
    struct stat  sb;

    if (stat(st->wal_path, &sb) == 0) {
        st->wal_dev = sb.st_dev;
        st->wal_ino = sb.st_ino;
        st->wal_known = 1;
    }
}


const cf_store_backend_t  cf_sqlite_store_backend = {
    "sqlite",

    cf_sqlite_open,
    cf_sqlite_close,
    cf_sqlite_errmsg,
    cf_sqlite_errcode,
    NULL,                       /* clear_error: a read's error is its own */
    cf_sqlite_path,
    cf_sqlite_set_busy_timeout,

    cf_sqlite_begin_immediate,
    cf_sqlite_commit,
    cf_sqlite_rollback,
    cf_sqlite_savepoint,
    cf_sqlite_release,
    cf_sqlite_rollback_to,
    cf_sqlite_in_transaction,
    cf_sqlite_read_hold,
    cf_sqlite_read_release,

    cf_sqlite_request_id_exists,
    cf_sqlite_load,
    cf_sqlite_each_stream,
    cf_sqlite_latest_version,
    cf_sqlite_append,
    cf_sqlite_save_snapshot,
    cf_sqlite_read_snapshot,
    cf_sqlite_state_text,
    cf_sqlite_scan_ids,

    cf_sqlite_ping,
    cf_sqlite_check_file,
    cf_sqlite_wal_restarts,
    cf_sqlite_set_checkpointer,

    cf_sqlite_dispatch_schema,
    cf_sqlite_dispatch_claim,
    cf_sqlite_dispatch_finish,
    cf_sqlite_dispatch_enqueue,
    cf_sqlite_dispatch_get,
    cf_sqlite_dispatch_list,
    cf_sqlite_dispatch_cancel,
    cf_sqlite_dispatch_cancel_asked,

    cf_sqlite_dispatch_open,
    cf_sqlite_dispatch_close,
    cf_sqlite_dispatch_claim_in,
    cf_sqlite_dispatch_finish_in,
    cf_sqlite_dispatch_cancel_asked_in,
    cf_sqlite_dispatch_held_in,

    cf_sqlite_metrics_counts,

    cf_sqlite_query_schema,
    cf_sqlite_query_count,
    cf_sqlite_query_each
};
