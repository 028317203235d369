
/*
 * ngx_compensation: dispatch operations and scheduler leases in the SQLite
 * store (cf_dispatch.h, cf_store_backend.h).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cf_sqlite_store.h"


#define CF_DISPATCH_SCHEMA_RETRIES  100

#define CF_ACTIVE  "('Running','RollingBack')"


static const char  cf_dispatch_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS comp_operation ("
    " job_id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " execution_id TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " manual INTEGER NOT NULL DEFAULT 0,"
    " cancel_requested INTEGER NOT NULL DEFAULT 0,"
    " owner INTEGER NOT NULL DEFAULT 0,"
    " lease_until INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL,"
    " result TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS comp_operation_execution"
    " ON comp_operation (execution_id, state);"
    "CREATE INDEX IF NOT EXISTS comp_operation_state"
    " ON comp_operation (state, lease_until);";


enum {
    CF_DS_EXPIRE = 0,
    CF_DS_PENDING,
    CF_DS_DUE,
    CF_DS_RUN_PENDING,
    CF_DS_INSERT,
    CF_DS_FINISH,
    CF_DS_CANCEL_ASKED,
    CF_DS_HELD,
    CF_DS_ENQ_BUSY,
    CF_DS_ENQ_INSERT,
    CF_DS_GET,
    CF_DS_LIST,
    CF_DS_CANCEL_PENDING,
    CF_DS_CANCEL_RUNNING,
    CF_DS_CANCEL_FORCE,
    CF_DS_N
};


#define CF_OP_COLUMNS  "job_id, id, execution_id, state, cancel_requested," \
                       " owner, lease_until, created, updated, result"


static const char  *cf_dispatch_sql[CF_DS_N] = {

    /* dead leases: the owner crashed or was killed mid-dispatch */
    "UPDATE comp_operation SET state = 'Expired', updated = ?1"
    " WHERE state IN " CF_ACTIVE " AND lease_until <= ?1",

    /* the retry action's queue first: "now, regardless of nextRetryAt" */
    "SELECT o.execution_id, s.state, o.job_id, o.id FROM comp_operation o"
    " JOIN snapshot s ON s.aggregate_id = o.execution_id"
    " WHERE o.state = 'Pending' ORDER BY o.job_id LIMIT ?1",

    /*
     * spec 7.2, SnapshotFindNextRetry, plus the lease.  Ordered by
     * nextRetryAt alone: the retry index (tenant_id, deleted, is_retryable,
     * next_retry_at, ...) gives that order and the scan stops at the limit.
     * A second key made SQLite sort every execution sharing a nextRetryAt
     * (in a burst: all of them) on each claim.
     */
    "SELECT s.aggregate_id, s.state FROM snapshot s"
    " WHERE s.tenant_id = '" CF_TENANT_ID "'"
    " AND s.deleted = 0 AND s.is_retryable = 1"
    " AND s.next_retry_at <= ?1"
    " AND s.recoverable IN ('RECOVERABLE', 'UNKNOWN')"
    " AND (s.status = 'FAILED'"
    " OR (s.status = 'PREPARED' AND s.timeout_at <= ?1))"
    " AND NOT EXISTS (SELECT 1 FROM comp_operation o"
    " WHERE o.execution_id = s.aggregate_id"
    " AND o.state IN ('Pending', 'Running', 'RollingBack'))"
    " ORDER BY s.next_retry_at LIMIT ?2",

    "UPDATE comp_operation SET state = 'Running', owner = ?2,"
    " lease_until = ?3, updated = ?4 WHERE job_id = ?1",

    "INSERT INTO comp_operation (id, execution_id, state, owner,"
    " lease_until, created, updated) VALUES (?5, ?6, 'Running', ?2, ?3,"
    " ?4, ?4)",

    "UPDATE comp_operation SET state = ?2, result = ?3, lease_until = 0,"
    " updated = ?4 WHERE job_id = ?1 AND state IN " CF_ACTIVE,

    "SELECT cancel_requested, state FROM comp_operation WHERE job_id = ?1",

    "SELECT 1 FROM comp_operation WHERE job_id = ?1 AND state = 'Running'"
    " AND lease_until > ?2",

    /* the retry action: an execution has an active or queued operation */
    "SELECT 1 FROM comp_operation"
    " WHERE execution_id = ?1 AND (state = 'Pending'"
    " OR (state IN " CF_ACTIVE " AND lease_until > ?2)) LIMIT 1",

    "INSERT INTO comp_operation (id, execution_id,"
    " state, manual, created, updated) VALUES"
    " (?1, ?2, 'Pending', 1, ?3, ?3)",

    "SELECT " CF_OP_COLUMNS " FROM comp_operation WHERE id = lower(?1)",

    "SELECT " CF_OP_COLUMNS " FROM comp_operation"
    " WHERE execution_id = ?1 ORDER BY job_id DESC LIMIT ?2",

    /* Cancel: a queued one has no call to stop, it is cancelled at once */
    "UPDATE comp_operation SET state = 'Cancelled',"
    " cancel_requested = 1, result = 'cancelled',"
    " updated = ?2 WHERE job_id = ?1",

    "UPDATE comp_operation SET state = 'RollingBack',"
    " cancel_requested = 1, updated = ?2 WHERE job_id = ?1",

    "UPDATE comp_operation SET state = 'ForceCancelled',"
    " result = 'force cancelled', lease_until = 0, updated = ?2"
    " WHERE job_id = ?1"
};


typedef struct {
    cf_dispatch_t  base;             /* first: a cf_dispatch_t * is one */
    sqlite3       *db;
    sqlite3_stmt  *stmt[CF_DS_N];
} cf_sqlite_dispatch_t;


static int cf_dispatch_push(cf_sqlite_dispatch_t *d, int64_t now,
    int64_t lease_ms, int64_t owner, sqlite3_stmt *s, cf_claim_t **claims,
    size_t *n, size_t *cap, int manual);


int
cf_sqlite_dispatch_schema(cf_store_t *st, char *errbuf, size_t errlen)
{
    int       rc, i;
    sqlite3  *db;

    db = cf_sqlite_store_db(st);

    for (i = 0; i < CF_DISPATCH_SCHEMA_RETRIES; i++) {
        rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

        if (rc == SQLITE_OK) {
            rc = sqlite3_exec(db, cf_dispatch_schema_sql, NULL, NULL, NULL);

            if (rc == SQLITE_OK) {
                rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
                if (rc == SQLITE_OK) {
                    return 0;
                }
            }

            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        }

        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) {
            break;
        }

        usleep(10000);
    }

    snprintf(errbuf, errlen, "%s", sqlite3_errmsg(db));
    return -1;
}


cf_dispatch_t *
cf_sqlite_dispatch_open(cf_store_t *st)
{
    int                    i;
    cf_sqlite_dispatch_t  *d;

    d = calloc(1, sizeof(cf_sqlite_dispatch_t));
    if (d == NULL) {
        return NULL;
    }

    d->base.store = st;
    d->db = cf_sqlite_store_db(st);

    for (i = 0; i < CF_DS_N; i++) {
        if (sqlite3_prepare_v3(d->db, cf_dispatch_sql[i], -1,
                               SQLITE_PREPARE_PERSISTENT, &d->stmt[i], NULL)
            != SQLITE_OK)
        {
            cf_sqlite_store_db_error(st);
            cf_sqlite_dispatch_close(&d->base);
            return NULL;
        }
    }

    return &d->base;
}


void
cf_sqlite_dispatch_close(cf_dispatch_t *base)
{
    int                    i;
    cf_sqlite_dispatch_t  *d = (cf_sqlite_dispatch_t *) base;

    for (i = 0; i < CF_DS_N; i++) {
        sqlite3_finalize(d->stmt[i]);
    }

    free(d);
}


/* the statement back to its start, its bindings cleared */
static void
cf_dispatch_reset(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}


/* one step of a statement, then reset: SQLITE_ROW, SQLITE_DONE or the
 * error (a row's columns are gone: for "is there a row" statements) */
static int
cf_dispatch_step(sqlite3_stmt *s)
{
    int  rc;

    rc = sqlite3_step(s);
    cf_dispatch_reset(s);

    return rc;
}


/* runs a statement without rows */
static int
cf_dispatch_run(sqlite3_stmt *s)
{
    return cf_dispatch_step(s) == SQLITE_DONE ? 0 : -1;
}


/*
 * The connection's own statements for the operations outside a caller's
 * handle (the routes' retry action, listing and Cancel; the tests):
 * prepared at the first use, kept until the store closes.  NULL when they
 * cannot be prepared (no comp_operation table yet): the next call tries
 * again.
 */
static cf_sqlite_dispatch_t *
cf_dispatch_own(cf_store_t *store)
{
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    if (st->dispatch == NULL) {
        st->dispatch = cf_sqlite_dispatch_open(store);
    }

    return (cf_sqlite_dispatch_t *) st->dispatch;
}


/* the connection's own statements in a write transaction (BEGIN
 * IMMEDIATE): 0, CF_DISPATCH_BUSY (another writer holds the lock) or -1 */
static int
cf_dispatch_begin(cf_store_t *store, cf_sqlite_dispatch_t **dp)
{
    int  rc;

    *dp = cf_dispatch_own(store);
    if (*dp == NULL) {
        return -1;
    }

    rc = sqlite3_exec((*dp)->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return (rc & 0xff) == SQLITE_BUSY ? CF_DISPATCH_BUSY : -1;
    }

    return 0;
}


/* ends cf_dispatch_begin's transaction: COMMIT when rc is 0 (rc turns -1
 * when it fails), else ROLLBACK; returns rc */
static int
cf_dispatch_end(cf_sqlite_dispatch_t *d, int rc)
{
    if (rc == 0 && sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL)
                   == SQLITE_OK)
    {
        return 0;
    }

    sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);

    return rc == 0 ? -1 : rc;
}


static int
cf_dispatch_push(cf_sqlite_dispatch_t *d, int64_t now, int64_t lease_ms,
    int64_t owner, sqlite3_stmt *s, cf_claim_t **claims, size_t *n,
    size_t *cap, int manual)
{
    int            rc;
    cf_claim_t    *c, *nc;
    const char    *id, *state;
    sqlite3_stmt  *u;

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {

        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            nc = realloc(*claims, *cap * sizeof(cf_claim_t));
            if (nc == NULL) {
                return -1;
            }
            *claims = nc;
        }

        c = &(*claims)[*n];
        memset(c, 0, sizeof(cf_claim_t));

        id = (const char *) sqlite3_column_text(s, 0);
        state = (const char *) sqlite3_column_text(s, 1);

        if (id == NULL || state == NULL) {
            continue;
        }

        c->execution_id = strdup(id);
        c->state = strdup(state);
        c->manual = manual;

        if (c->execution_id == NULL || c->state == NULL) {
            free(c->execution_id);
            free(c->state);
            return -1;
        }

        (*n)++;

        if (manual) {
            c->job_id = sqlite3_column_int64(s, 2);
            snprintf(c->op_id, sizeof(c->op_id), "%s",
                     (const char *) sqlite3_column_text(s, 3));
            u = d->stmt[CF_DS_RUN_PENDING];

        } else {
            cf_uuid7(c->op_id, now);
            u = d->stmt[CF_DS_INSERT];
        }

        sqlite3_bind_int64(u, 1, c->job_id);
        sqlite3_bind_int64(u, 2, owner);
        sqlite3_bind_int64(u, 3, now + lease_ms);
        sqlite3_bind_int64(u, 4, now);

        if (!manual) {
            sqlite3_bind_text(u, 5, c->op_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(u, 6, c->execution_id, -1, SQLITE_STATIC);
        }

        if (cf_dispatch_run(u) != 0) {
            return -1;
        }

        if (!manual) {
            c->job_id = sqlite3_last_insert_rowid(d->db);
        }
    }

    return rc == SQLITE_DONE ? 0 : -1;
}


int
cf_sqlite_dispatch_claim_in(cf_dispatch_t *base, int64_t now,
    int64_t lease_ms, int64_t owner, int limit, cf_claim_t **claims,
    size_t *n)
{
    int                    rc;
    size_t                 cap;
    sqlite3_stmt          *s;
    cf_sqlite_dispatch_t  *d = (cf_sqlite_dispatch_t *) base;

    *claims = NULL;
    *n = 0;
    cap = 0;

    s = d->stmt[CF_DS_EXPIRE];
    sqlite3_bind_int64(s, 1, now);

    if (cf_dispatch_run(s) != 0) {
        goto failed;
    }

    s = d->stmt[CF_DS_PENDING];
    sqlite3_bind_int(s, 1, limit);

    rc = cf_dispatch_push(d, now, lease_ms, owner, s, claims, n, &cap, 1);
    cf_dispatch_reset(s);

    if (rc != 0) {
        goto failed;
    }

    if ((int) *n < limit) {
        s = d->stmt[CF_DS_DUE];
        sqlite3_bind_int64(s, 1, now);
        sqlite3_bind_int(s, 2, limit - (int) *n);

        rc = cf_dispatch_push(d, now, lease_ms, owner, s, claims, n, &cap, 0);
        cf_dispatch_reset(s);

        if (rc != 0) {
            goto failed;
        }
    }

    return 0;

failed:

    cf_claims_free(*claims, *n);
    *claims = NULL;
    *n = 0;

    return -1;
}


int
cf_sqlite_dispatch_claim(cf_store_t *st, int64_t now, int64_t lease_ms,
    int64_t owner, int limit, cf_claim_t **claims, size_t *n)
{
    int                    rc;
    cf_sqlite_dispatch_t  *d;

    *claims = NULL;
    *n = 0;

    rc = cf_dispatch_begin(st, &d);
    if (rc != 0) {
        return rc;
    }

    rc = cf_sqlite_dispatch_claim_in(&d->base, now, lease_ms, owner, limit,
                                     claims, n);

    if (cf_dispatch_end(d, rc) != 0) {
        cf_claims_free(*claims, *n);
        *claims = NULL;
        *n = 0;
        return -1;
    }

    return 0;
}


/* an active operation ends in state: 0, CF_DISPATCH_NOT_FOUND or -1 */
static int
cf_dispatch_finish_stmt(cf_sqlite_dispatch_t *d, int64_t job_id,
    const char *state, const char *result, int64_t now)
{
    sqlite3_stmt  *s;

    s = d->stmt[CF_DS_FINISH];

    sqlite3_bind_int64(s, 1, job_id);
    sqlite3_bind_text(s, 2, state, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, result ? result : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now);

    if (cf_dispatch_run(s) != 0) {
        return -1;
    }

    return sqlite3_changes(d->db) == 0 ? CF_DISPATCH_NOT_FOUND : 0;
}


int
cf_sqlite_dispatch_finish_in(cf_dispatch_t *base, int64_t job_id,
    const char *state, const char *result, int64_t now)
{
    int  rc;

    rc = cf_dispatch_finish_stmt((cf_sqlite_dispatch_t *) base, job_id,
                                 state, result, now);

    if (rc == 0) {
        /* observed when the caller's transaction commits */
        cf_dispatch_ended(base, state);
    }

    return rc;
}


int
cf_sqlite_dispatch_cancel_asked_in(cf_dispatch_t *base, int64_t job_id)
{
    int                    asked;
    const char            *state;
    sqlite3_stmt          *s;
    cf_sqlite_dispatch_t  *d = (cf_sqlite_dispatch_t *) base;

    s = d->stmt[CF_DS_CANCEL_ASKED];
    sqlite3_bind_int64(s, 1, job_id);
    asked = 0;

    if (sqlite3_step(s) == SQLITE_ROW) {
        state = (const char *) sqlite3_column_text(s, 1);
        asked = sqlite3_column_int(s, 0) != 0
                || (state && strcmp(state, "ForceCancelled") == 0);
    }

    cf_dispatch_reset(s);

    return asked;
}


int
cf_sqlite_dispatch_held_in(cf_dispatch_t *base, int64_t job_id, int64_t now)
{
    int                    held;
    sqlite3_stmt          *s;
    cf_sqlite_dispatch_t  *d = (cf_sqlite_dispatch_t *) base;

    s = d->stmt[CF_DS_HELD];
    sqlite3_bind_int64(s, 1, job_id);
    sqlite3_bind_int64(s, 2, now);

    held = cf_dispatch_step(s) == SQLITE_ROW;

    return held;
}


int
cf_sqlite_dispatch_finish(cf_store_t *st, int64_t job_id, const char *state,
    const char *result, int64_t now)
{
    int                    rc;
    cf_sqlite_dispatch_t  *d;

    d = cf_dispatch_own(st);
    if (d == NULL) {
        return -1;
    }

    rc = cf_dispatch_finish_stmt(d, job_id, state, result, now);

    if (rc == 0) {
        cf_dispatch_observe(state);
    }

    return rc;
}


int
cf_sqlite_dispatch_enqueue(cf_store_t *st, const char *execution_id,
    int64_t now, int64_t *job_id, char op_id[CF_UUID_LEN + 1])
{
    int                    rc;
    sqlite3_stmt          *s;
    cf_sqlite_dispatch_t  *d;

    /* a busy lock is a failure here: CF_DISPATCH_BUSY means "active" */
    if (cf_dispatch_begin(st, &d) != 0) {
        return -1;
    }

    s = d->stmt[CF_DS_ENQ_BUSY];
    sqlite3_bind_text(s, 1, execution_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);

    switch (cf_dispatch_step(s)) {

    case SQLITE_ROW:
        rc = CF_DISPATCH_BUSY;
        break;

    case SQLITE_DONE:
        cf_uuid7(op_id, now);

        s = d->stmt[CF_DS_ENQ_INSERT];
        sqlite3_bind_text(s, 1, op_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, execution_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, now);

        rc = cf_dispatch_run(s);

        if (rc == 0) {
            *job_id = sqlite3_last_insert_rowid(d->db);
        }

        break;

    default:
        rc = -1;
        break;
    }

    return cf_dispatch_end(d, rc);
}


static void
cf_dispatch_row(sqlite3_stmt *s, cf_operation_t *op)
{
    const char  *t;

    memset(op, 0, sizeof(cf_operation_t));

    op->job_id = sqlite3_column_int64(s, 0);
    t = (const char *) sqlite3_column_text(s, 1);
    snprintf(op->op_id, sizeof(op->op_id), "%s", t ? t : "");
    t = (const char *) sqlite3_column_text(s, 2);
    snprintf(op->execution_id, sizeof(op->execution_id), "%s", t ? t : "");
    t = (const char *) sqlite3_column_text(s, 3);
    snprintf(op->state, sizeof(op->state), "%s", t ? t : "");
    op->cancel_requested = sqlite3_column_int(s, 4);
    op->owner = sqlite3_column_int64(s, 5);
    op->lease_until = sqlite3_column_int64(s, 6);
    op->created = sqlite3_column_int64(s, 7);
    op->updated = sqlite3_column_int64(s, 8);
    t = (const char *) sqlite3_column_text(s, 9);
    snprintf(op->result, sizeof(op->result), "%s", t ? t : "");
}


int
cf_sqlite_dispatch_get(cf_store_t *st, const char *op_id, cf_operation_t *op)
{
    int                    rc;
    sqlite3_stmt          *s;
    cf_sqlite_dispatch_t  *d;

    d = cf_dispatch_own(st);
    if (d == NULL) {
        return -1;
    }

    s = d->stmt[CF_DS_GET];
    sqlite3_bind_text(s, 1, op_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);

    if (rc == SQLITE_ROW) {
        cf_dispatch_row(s, op);
        rc = 0;

    } else {
        rc = rc == SQLITE_DONE ? CF_DISPATCH_NOT_FOUND : -1;
    }

    cf_dispatch_reset(s);

    return rc;
}


int
cf_sqlite_dispatch_list(cf_store_t *st, const char *execution_id, int limit,
    cf_operation_t **ops, size_t *n)
{
    int                    rc;
    sqlite3_stmt          *s;
    cf_operation_t        *a;
    cf_sqlite_dispatch_t  *d;

    *ops = NULL;
    *n = 0;

    d = cf_dispatch_own(st);
    if (d == NULL) {
        return -1;
    }

    a = calloc(limit > 0 ? limit : 1, sizeof(cf_operation_t));
    if (a == NULL) {
        return -1;
    }

    s = d->stmt[CF_DS_LIST];
    sqlite3_bind_text(s, 1, execution_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, limit);

    while ((rc = sqlite3_step(s)) == SQLITE_ROW && (int) *n < limit) {
        cf_dispatch_row(s, &a[(*n)++]);
    }

    cf_dispatch_reset(s);

    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        free(a);
        *n = 0;
        return -1;
    }

    *ops = a;
    return 0;
}


int
cf_sqlite_dispatch_cancel(cf_store_t *st, const char *op_id, int force,
    int64_t now, char state[16])
{
    int                    rc, stmt;
    sqlite3_stmt          *s;
    cf_operation_t         op;
    cf_sqlite_dispatch_t  *d;

    if (cf_dispatch_begin(st, &d) != 0) {
        return -1;
    }

    rc = cf_sqlite_dispatch_get(st, op_id, &op);
    if (rc != 0) {
        return cf_dispatch_end(d, rc);
    }

    snprintf(state, 16, "%s", op.state);

    if (!force) {
        if (strcmp(op.state, "RollingBack") == 0) {
            /* asked already: nothing to write */
            return cf_dispatch_end(d, 0);
        }

        if (strcmp(op.state, "Running") != 0
            && strcmp(op.state, "Pending") != 0)
        {
            return cf_dispatch_end(d, CF_DISPATCH_REFUSED);
        }

        /* a queued one has no call to stop: it is cancelled at once */
        stmt = strcmp(op.state, "Pending") == 0 ? CF_DS_CANCEL_PENDING
                                                : CF_DS_CANCEL_RUNNING;

    } else {
        if (strcmp(op.state, "RollingBack") != 0) {
            return cf_dispatch_end(d, CF_DISPATCH_REFUSED);
        }

        stmt = CF_DS_CANCEL_FORCE;
    }

    s = d->stmt[stmt];
    sqlite3_bind_int64(s, 1, op.job_id);
    sqlite3_bind_int64(s, 2, now);

    return cf_dispatch_end(d, cf_dispatch_run(s));
}


int
cf_sqlite_dispatch_cancel_asked(cf_store_t *st, int64_t job_id)
{
    cf_sqlite_dispatch_t  *d;

    d = cf_dispatch_own(st);
    if (d == NULL) {
        return 0;
    }

    return cf_sqlite_dispatch_cancel_asked_in(&d->base, job_id);
}


