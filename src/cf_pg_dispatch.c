
/*
 * ngx_compensation: dispatch operations and scheduler leases on the
 * PostgreSQL store (see cf_pg_store.h and cf_dispatch.h, whose states and
 * answers these are).
 *
 * Several nginx share one database: a claim locks the due snapshot rows it
 * takes (FOR UPDATE SKIP LOCKED: another node's claim skips them instead of
 * waiting), and inserts their operations with ON CONFLICT DO NOTHING on the
 * partial unique index of active operations.  The index is what makes a
 * claim exactly-once: a READ COMMITTED claim that started before another
 * node's claim committed does not see that node's operation in its NOT
 * EXISTS, and finds the snapshot row unlocked once that node committed;
 * its insert then conflicts and claims nothing.  Operation ids are version
 * 7 UUIDs made by the server (CF_PG_UUID7), job ids an identity: no
 * collision across nodes.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_pg.h"


#define CF_PG_ACTIVE  "('Pending', 'Running', 'RollingBack')"
#define CF_PG_LEASED  "('Running', 'RollingBack')"

/*
 * A version 7 UUID of the epoch ms ms (cf_uuid7: ids that follow the clock
 * are added at the end of the indexes), from the random digits of three
 * gen_random_uuid() calls (PostgreSQL has uuidv7() only from 18): the
 * version 4 text is "xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx", V the variant.
 * Called once per row: no subquery, which the planner would run once.
 */
#define CF_PG_UUID7(ms)                                                       \
    "(substr(lpad(to_hex(" ms "::bigint), 12, '0'), 1, 8) || '-'"             \
    " || substr(lpad(to_hex(" ms "::bigint), 12, '0'), 9, 4) || '-7'"         \
    " || substr(gen_random_uuid()::text, 16, 3) || '-'"                       \
    " || substr(gen_random_uuid()::text, 20, 4) || '-'"                       \
    " || substr(gen_random_uuid()::text, 25, 12))"

#define CF_PG_OP_COLUMNS                                                      \
    "job_id, id, execution_id, state, cancel_requested, owner, lease_until,"  \
    " created, updated, result"


static const cf_pg_stmt_t  cf_pg_ds[] = {

    /* dead leases (the owner died mid-call); rows another node's claim
     * holds are its to expire */
    { CF_PG_DS_EXPIRE, "cf_ds_expire",
      "UPDATE comp_operation SET state = 'Expired', updated = $1"
      " WHERE job_id IN (SELECT job_id FROM comp_operation"
      " WHERE state IN " CF_PG_LEASED " AND lease_until <= $1"
      " FOR UPDATE SKIP LOCKED)", 1 },

    /* the retry action's queue first: "now, regardless of nextRetryAt" */
    { CF_PG_DS_PENDING, "cf_ds_pending",
      "WITH c AS (SELECT o.job_id FROM comp_operation o"
      " JOIN snapshot s ON s.aggregate_id = o.execution_id"
      " WHERE o.state = 'Pending' ORDER BY o.job_id LIMIT $1"
      " FOR UPDATE OF o SKIP LOCKED),"
      " u AS (UPDATE comp_operation o SET state = 'Running', owner = $2,"
      " lease_until = $3, updated = $4 FROM c"
      " WHERE o.job_id = c.job_id AND o.state = 'Pending'"
      " RETURNING o.job_id, o.id, o.execution_id)"
      " SELECT u.execution_id, s.state, u.job_id, u.id FROM u"
      " JOIN snapshot s ON s.aggregate_id = u.execution_id"
      " ORDER BY u.job_id", 4 },

    /* spec 7.2, SnapshotFindNextRetry, plus the lease (cf_dispatch.c) */
    { CF_PG_DS_DUE, "cf_ds_due",
      "WITH due AS (SELECT s.aggregate_id, s.state, s.next_retry_at"
      " FROM snapshot s"
      " WHERE s.tenant_id = '" CF_TENANT_ID "'"
      " AND s.deleted = 0 AND s.is_retryable = 1"
      " AND s.next_retry_at <= $1"
      " AND s.recoverable IN ('RECOVERABLE', 'UNKNOWN')"
      " AND (s.status = 'FAILED'"
      " OR (s.status = 'PREPARED' AND s.timeout_at <= $1))"
      " AND NOT EXISTS (SELECT 1 FROM comp_operation o"
      " WHERE o.execution_id = s.aggregate_id"
      " AND o.state IN " CF_PG_ACTIVE ")"
      " ORDER BY s.next_retry_at LIMIT $2"
      " FOR UPDATE OF s SKIP LOCKED),"
      " ins AS (INSERT INTO comp_operation (id, execution_id, state, owner,"
      " lease_until, created, updated)"
      " SELECT " CF_PG_UUID7("$1") ", d.aggregate_id, 'Running', $3, $4,"
      " $1, $1 FROM due d"
      " ON CONFLICT (execution_id) WHERE state IN " CF_PG_ACTIVE
      " DO NOTHING RETURNING job_id, id, execution_id)"
      " SELECT i.execution_id, d.state, i.job_id, i.id FROM ins i"
      " JOIN due d ON d.aggregate_id = i.execution_id"
      " ORDER BY d.next_retry_at, i.job_id", 4 },

    { CF_PG_DS_FINISH, "cf_ds_finish",
      "UPDATE comp_operation SET state = $2, result = $3, lease_until = 0,"
      " updated = $4 WHERE job_id = $1 AND state IN " CF_PG_LEASED, 4 },

    { CF_PG_DS_CANCEL_ASKED, "cf_ds_cancel_asked",
      "SELECT cancel_requested, state FROM comp_operation"
      " WHERE job_id = $1", 1 },

    { CF_PG_DS_HELD, "cf_ds_held",
      "SELECT 1 AS held FROM comp_operation WHERE job_id = $1"
      " AND state = 'Running' AND lease_until > $2", 2 },

    /* the retry action: an execution's dead lease ends first */
    { CF_PG_DS_EXPIRE_ONE, "cf_ds_expire_one",
      "UPDATE comp_operation SET state = 'Expired', updated = $2"
      " WHERE execution_id = $1 AND state IN " CF_PG_LEASED
      " AND lease_until <= $2", 2 },

    { CF_PG_DS_ENQUEUE, "cf_ds_enqueue",
      "INSERT INTO comp_operation (id, execution_id, state, manual, created,"
      " updated) VALUES (" CF_PG_UUID7("$2") ", $1, 'Pending', 1, $2, $2)"
      " ON CONFLICT (execution_id) WHERE state IN " CF_PG_ACTIVE
      " DO NOTHING RETURNING job_id, id", 2 },

    { CF_PG_DS_GET, "cf_ds_get",
      "SELECT " CF_PG_OP_COLUMNS " FROM comp_operation"
      " WHERE id = lower($1)", 1 },

    { CF_PG_DS_GET_LOCKED, "cf_ds_get_locked",
      "SELECT " CF_PG_OP_COLUMNS " FROM comp_operation"
      " WHERE id = lower($1) FOR UPDATE", 1 },

    { CF_PG_DS_LIST, "cf_ds_list",
      "SELECT " CF_PG_OP_COLUMNS " FROM comp_operation"
      " WHERE execution_id = $1 ORDER BY job_id DESC LIMIT $2", 2 },

    /* cf_pg_dispatch_cancel's three moves in one statement */
    { CF_PG_DS_CANCEL, "cf_ds_cancel",
      "UPDATE comp_operation SET state = $2,"
      " cancel_requested = cancel_requested | $3::smallint,"
      " result = CASE WHEN $4 = '' THEN result ELSE $4 END,"
      " lease_until = CASE WHEN $5::boolean THEN 0 ELSE lease_until END,"
      " updated = $6 WHERE job_id = $1", 6 }
};

#define CF_PG_DS(slot)  (&cf_pg_ds[(slot) - CF_PG_DS_EXPIRE])


static int cf_pg_claims_push(PGresult *res, int manual, cf_claim_t **claims,
    size_t *n);
static void cf_pg_operation(const PGresult *res, int row,
    cf_operation_t *op);


int
cf_pg_dispatch_claim_in(cf_pg_store_t *st, int64_t now, int64_t lease_ms,
    int64_t owner, int limit, cf_claim_t **claims, size_t *n)
{
    char         nbuf[24], lbuf[24], obuf[24], ubuf[24];
    PGresult    *res;
    const char  *v[4];

    *claims = NULL;
    *n = 0;

    v[0] = cf_pg_i64(nbuf, now);

    if (cf_pg_run(st, CF_PG_DS(CF_PG_DS_EXPIRE), v, NULL,
                  "expiring dead leases", NULL) != 0)
    {
        return cf_pg_last_rc(st) == CF_STORE_BUSY ? CF_DISPATCH_BUSY : -1;
    }

    v[0] = cf_pg_i64(lbuf, limit);
    v[1] = cf_pg_i64(obuf, owner);
    v[2] = cf_pg_i64(ubuf, now + lease_ms);
    v[3] = nbuf;

    res = cf_pg_exec(st, CF_PG_DS(CF_PG_DS_PENDING), v, NULL,
                     "claiming queued operations");
    if (res == NULL) {
        goto failed;
    }

    if (cf_pg_claims_push(res, 1, claims, n) != 0) {
        PQclear(res);
        goto nomem;
    }

    PQclear(res);

    if ((int) *n < limit) {
        v[0] = nbuf;
        v[1] = cf_pg_i64(lbuf, limit - (int) *n);
        v[2] = obuf;
        v[3] = ubuf;

        res = cf_pg_exec(st, CF_PG_DS(CF_PG_DS_DUE), v, NULL,
                         "claiming due executions");
        if (res == NULL) {
            goto failed;
        }

        if (cf_pg_claims_push(res, 0, claims, n) != 0) {
            PQclear(res);
            goto nomem;
        }

        PQclear(res);
    }

    return 0;

nomem:

    cf_pg_set_error(st, "out of memory");

failed:

    cf_claims_free(*claims, *n);
    *claims = NULL;
    *n = 0;

    return cf_pg_last_rc(st) == CF_STORE_BUSY ? CF_DISPATCH_BUSY : -1;
}


static int
cf_pg_claims_push(PGresult *res, int manual, cf_claim_t **claims, size_t *n)
{
    int          i, rows, c_exec, c_state, c_job, c_id;
    cf_claim_t  *c, *nc;

    rows = PQntuples(res);

    if (rows == 0) {
        return 0;
    }

    nc = realloc(*claims, (*n + rows) * sizeof(cf_claim_t));
    if (nc == NULL) {
        return -1;
    }

    *claims = nc;

    c_exec = cf_pg_col(res, "execution_id");
    c_state = cf_pg_col(res, "state");
    c_job = cf_pg_col(res, "job_id");
    c_id = cf_pg_col(res, "id");

    for (i = 0; i < rows; i++) {
        c = &(*claims)[*n];
        memset(c, 0, sizeof(cf_claim_t));

        c->job_id = cf_pg_int(res, i, c_job);
        snprintf(c->op_id, sizeof(c->op_id), "%s", cf_pg_text(res, i, c_id));
        c->execution_id = strdup(cf_pg_text(res, i, c_exec));
        c->state = strdup(cf_pg_text(res, i, c_state));
        c->manual = manual;

        if (c->execution_id == NULL || c->state == NULL) {
            free(c->execution_id);
            free(c->state);
            return -1;
        }

        (*n)++;
    }

    return 0;
}


int
cf_pg_dispatch_claim(cf_pg_store_t *st, int64_t now, int64_t lease_ms,
    int64_t owner, int limit, cf_claim_t **claims, size_t *n)
{
    int  rc;

    *claims = NULL;
    *n = 0;

    if (cf_pg_store_begin_immediate(st) != 0) {
        return -1;
    }

    rc = cf_pg_dispatch_claim_in(st, now, lease_ms, owner, limit, claims, n);

    if (rc == 0) {
        rc = cf_pg_store_commit(st);

        if (rc == 0) {
            return 0;
        }

        rc = rc == CF_STORE_BUSY ? CF_DISPATCH_BUSY : -1;
    }

    cf_pg_store_rollback(st);
    cf_claims_free(*claims, *n);
    *claims = NULL;
    *n = 0;

    return rc;
}


int
cf_pg_dispatch_finish_in(cf_pg_store_t *st, int64_t job_id,
    const char *state, const char *result, int64_t now)
{
    char         jbuf[24], nbuf[24];
    int64_t      changed;
    const char  *v[4];

    v[0] = cf_pg_i64(jbuf, job_id);
    v[1] = state;
    v[2] = result ? result : "";
    v[3] = cf_pg_i64(nbuf, now);

    if (cf_pg_run(st, CF_PG_DS(CF_PG_DS_FINISH), v, NULL,
                  "ending an operation", &changed) != 0)
    {
        return -1;
    }

    return changed == 0 ? CF_DISPATCH_NOT_FOUND : 0;
}


int
cf_pg_dispatch_finish(cf_pg_store_t *st, int64_t job_id, const char *state,
    const char *result, int64_t now)
{
    int  rc;

    if (cf_pg_store_begin_immediate(st) != 0) {
        return -1;
    }

    rc = cf_pg_dispatch_finish_in(st, job_id, state, result, now);

    if (rc == 0 || rc == CF_DISPATCH_NOT_FOUND) {
        if (cf_pg_store_commit(st) == 0) {
            if (rc == 0) {
                cf_dispatch_observe(state);
            }

            return rc;
        }
    }

    cf_pg_store_rollback(st);

    return -1;
}


int
cf_pg_dispatch_cancel_asked_in(cf_pg_store_t *st, int64_t job_id)
{
    int          asked;
    char         jbuf[24];
    PGresult    *res;
    const char  *v[1];

    v[0] = cf_pg_i64(jbuf, job_id);

    res = cf_pg_exec(st, CF_PG_DS(CF_PG_DS_CANCEL_ASKED), v, NULL,
                     "reading an operation");
    if (res == NULL) {
        return 0;
    }

    asked = PQntuples(res) == 1
            && (cf_pg_int(res, 0, cf_pg_col(res, "cancel_requested")) != 0
                || strcmp(cf_pg_text(res, 0, cf_pg_col(res, "state")),
                          "ForceCancelled") == 0);

    PQclear(res);

    return asked;
}


int
cf_pg_dispatch_held_in(cf_pg_store_t *st, int64_t job_id, int64_t now)
{
    int          held;
    char         jbuf[24], nbuf[24];
    PGresult    *res;
    const char  *v[2];

    v[0] = cf_pg_i64(jbuf, job_id);
    v[1] = cf_pg_i64(nbuf, now);

    res = cf_pg_exec(st, CF_PG_DS(CF_PG_DS_HELD), v, NULL,
                     "checking a lease");
    if (res == NULL) {
        return 0;
    }

    held = PQntuples(res) == 1;
    PQclear(res);

    return held;
}


int
cf_pg_dispatch_enqueue(cf_pg_store_t *st, const char *execution_id,
    int64_t now, int64_t *job_id, char op_id[CF_UUID_LEN + 1])
{
    int          rc;
    char         nbuf[24];
    PGresult    *res;
    const char  *v[2];

    if (cf_pg_store_begin_immediate(st) != 0) {
        return -1;
    }

    v[0] = execution_id;
    v[1] = cf_pg_i64(nbuf, now);

    if (cf_pg_run(st, CF_PG_DS(CF_PG_DS_EXPIRE_ONE), v, NULL,
                  "expiring a dead lease", NULL) != 0)
    {
        goto failed;
    }

    res = cf_pg_exec(st, CF_PG_DS(CF_PG_DS_ENQUEUE), v, NULL,
                     "queueing an operation");
    if (res == NULL) {
        goto failed;
    }

    if (PQntuples(res) == 0) {
        /* an active operation (the unique index said so) */
        PQclear(res);
        cf_pg_store_rollback(st);
        return CF_DISPATCH_BUSY;
    }

    *job_id = cf_pg_int(res, 0, cf_pg_col(res, "job_id"));
    snprintf(op_id, CF_UUID_LEN + 1, "%s",
             cf_pg_text(res, 0, cf_pg_col(res, "id")));
    PQclear(res);

    rc = cf_pg_store_commit(st);
    if (rc == 0) {
        return 0;
    }

failed:

    cf_pg_store_rollback(st);
    return -1;
}


static void
cf_pg_operation(const PGresult *res, int row, cf_operation_t *op)
{
    memset(op, 0, sizeof(cf_operation_t));

    op->job_id = cf_pg_int(res, row, cf_pg_col(res, "job_id"));
    snprintf(op->op_id, sizeof(op->op_id), "%s",
             cf_pg_text(res, row, cf_pg_col(res, "id")));
    snprintf(op->execution_id, sizeof(op->execution_id), "%s",
             cf_pg_text(res, row, cf_pg_col(res, "execution_id")));
    snprintf(op->state, sizeof(op->state), "%s",
             cf_pg_text(res, row, cf_pg_col(res, "state")));
    op->cancel_requested = (int) cf_pg_int(res, row,
                                       cf_pg_col(res, "cancel_requested"));
    op->owner = cf_pg_int(res, row, cf_pg_col(res, "owner"));
    op->lease_until = cf_pg_int(res, row, cf_pg_col(res, "lease_until"));
    op->created = cf_pg_int(res, row, cf_pg_col(res, "created"));
    op->updated = cf_pg_int(res, row, cf_pg_col(res, "updated"));
    snprintf(op->result, sizeof(op->result), "%s",
             cf_pg_text(res, row, cf_pg_col(res, "result")));
}


static int
cf_pg_dispatch_get_by(cf_pg_store_t *st, cf_pg_slot_t slot,
    const char *op_id, cf_operation_t *op)
{
    PGresult    *res;
    const char  *v[1];

    v[0] = op_id;

    res = cf_pg_exec(st, CF_PG_DS(slot), v, NULL, "reading an operation");
    if (res == NULL) {
        return -1;
    }

    if (PQntuples(res) == 0) {
        PQclear(res);
        return CF_DISPATCH_NOT_FOUND;
    }

    cf_pg_operation(res, 0, op);
    PQclear(res);

    return 0;
}


int
cf_pg_dispatch_get(cf_pg_store_t *st, const char *op_id, cf_operation_t *op)
{
    return cf_pg_dispatch_get_by(st, CF_PG_DS_GET, op_id, op);
}


int
cf_pg_dispatch_list(cf_pg_store_t *st, const char *execution_id, int limit,
    cf_operation_t **ops, size_t *n)
{
    int              i, rows;
    char             lbuf[24];
    PGresult        *res;
    const char      *v[2];
    cf_operation_t  *a;

    *ops = NULL;
    *n = 0;

    v[0] = execution_id;
    v[1] = cf_pg_i64(lbuf, limit > 0 ? limit : 0);

    res = cf_pg_exec(st, CF_PG_DS(CF_PG_DS_LIST), v, NULL,
                     "listing operations");
    if (res == NULL) {
        return -1;
    }

    rows = PQntuples(res);

    a = calloc(rows ? rows : 1, sizeof(cf_operation_t));
    if (a == NULL) {
        PQclear(res);
        return -1;
    }

    for (i = 0; i < rows; i++) {
        cf_pg_operation(res, i, &a[i]);
    }

    PQclear(res);

    *ops = a;
    *n = rows;

    return 0;
}


/* Cancel (seed 003), as cf_dispatch_cancel decides it */
int
cf_pg_dispatch_cancel(cf_pg_store_t *st, const char *op_id, int force,
    int64_t now, char state[16])
{
    int             rc;
    char            jbuf[24], nbuf[24];
    const char     *v[6];
    cf_operation_t  op;

    if (cf_pg_store_begin_immediate(st) != 0) {
        return -1;
    }

    rc = cf_pg_dispatch_get_by(st, CF_PG_DS_GET_LOCKED, op_id, &op);
    if (rc != 0) {
        cf_pg_store_rollback(st);
        return rc;
    }

    snprintf(state, 16, "%s", op.state);

    v[0] = cf_pg_i64(jbuf, op.job_id);
    v[5] = cf_pg_i64(nbuf, now);

    if (!force) {
        if (strcmp(op.state, "RollingBack") == 0) {
            cf_pg_store_rollback(st);
            return 0;
        }

        if (strcmp(op.state, "Pending") == 0) {
            /* a queued one has no call to stop: cancelled at once */
            v[1] = "Cancelled";
            v[2] = "1";
            v[3] = "cancelled";
            v[4] = "false";

        } else if (strcmp(op.state, "Running") == 0) {
            v[1] = "RollingBack";
            v[2] = "1";
            v[3] = "";
            v[4] = "false";

        } else {
            cf_pg_store_rollback(st);
            return CF_DISPATCH_REFUSED;
        }

    } else {
        if (strcmp(op.state, "RollingBack") != 0) {
            cf_pg_store_rollback(st);
            return CF_DISPATCH_REFUSED;
        }

        v[1] = "ForceCancelled";
        v[2] = "0";
        v[3] = "force cancelled";
        v[4] = "true";
    }

    if (cf_pg_run(st, CF_PG_DS(CF_PG_DS_CANCEL), v, NULL,
                  "cancelling an operation", NULL) != 0
        || cf_pg_store_commit(st) != 0)
    {
        cf_pg_store_rollback(st);
        return -1;
    }

    return 0;
}
