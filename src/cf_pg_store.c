
/*
 * ngx_compensation: the PostgreSQL store's event streams and snapshots (see
 * cf_pg_store.h).  The same rows, texts and answers as cf_store.c.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_pg.h"
#include "cf_bind.h"


#define CF_PG_SNAPSHOT_COLUMNS                                                \
    "version, event_id, owner_id, first_operator, operator,"                  \
    " first_event_time, event_time, deleted, state, tags"


static const cf_pg_stmt_t  cf_pg_sql[] = {

    { CF_PG_REQUEST_EXISTS, "cf_request_exists",
      "SELECT 1 AS found FROM event_stream WHERE request_id = $1 LIMIT 1", 1 },

    { CF_PG_LOAD_SNAPSHOT, "cf_load_snapshot",
      "SELECT " CF_PG_SNAPSHOT_COLUMNS " FROM snapshot"
      " WHERE aggregate_id = $1", 1 },

    /*
     * In a write transaction: the row lock makes two commands on one
     * aggregate run one after the other (as under SQLite's write lock),
     * and a row that changed while we waited is read as committed (READ
     * COMMITTED re-reads a locked row).  The streams are read by the next
     * statement, whose snapshot is taken after the lock.
     */
    { CF_PG_LOAD_SNAPSHOT_LOCKED, "cf_load_snapshot_locked",
      "SELECT " CF_PG_SNAPSHOT_COLUMNS " FROM snapshot"
      " WHERE aggregate_id = $1 FOR UPDATE", 1 },

    /*
     * Sent with CF_PG_LOAD_SNAPSHOT_LOCKED in one round trip: it runs
     * after the lock was taken, with a snapshot of its own, so it sees
     * what the lock's previous holder committed.  "after" is the version
     * it read (always one row: a NULL id when no stream follows), for the
     * load to check it against the locked row's.
     */
    { CF_PG_STREAMS_AFTER_SNAPSHOT, "cf_streams_after_snapshot",
      "SELECT a.after, e.id, e.aggregate_id, e.tenant_id, e.owner_id,"
      " e.version, e.request_id, e.command_id, e.header, e.body, e.size,"
      " e.create_time"
      " FROM (SELECT coalesce((SELECT version FROM snapshot"
      " WHERE aggregate_id = $1), 0) AS after) a"
      " LEFT JOIN event_stream e"
      " ON e.aggregate_id = $1 AND e.version > a.after"
      " ORDER BY e.version", 1 },

    { CF_PG_EACH_STREAM, "cf_each_stream",
      "SELECT id, aggregate_id, tenant_id, owner_id, version, request_id,"
      " command_id, header, body, size, create_time FROM event_stream"
      " WHERE aggregate_id = $1 AND version BETWEEN $2 AND $3"
      " ORDER BY version", 3 },

    { CF_PG_LATEST_VERSION, "cf_latest_version",
      "SELECT max(version) AS version FROM event_stream"
      " WHERE aggregate_id = $1", 1 },

    /* the lock of CF_PG_LOAD_SNAPSHOT_LOCKED, before reading the latest */
    { CF_PG_LATEST_VERSION_LOCKED, "cf_lock_aggregate",
      "SELECT 1 AS locked FROM snapshot WHERE aggregate_id = $1 FOR UPDATE",
      1 },

    /*
     * Before the row lock, in the same round trip: an aggregate that has no
     * row yet has nothing to lock, so two creates of one id would both
     * decide on "no aggregate" and the second meet the first's event at
     * its INSERT (EventVersionConflict, where SQLite's write lock makes it
     * read the first's aggregate: CommandExpectVersionConflict).  A
     * transaction-scoped advisory lock on the id orders them as the row
     * lock does (two ids sharing a hash only wait for each other); its wait
     * is bounded by lock_timeout like the row's.  Class "CF" + 1: the
     * schema's and the count slots' locks are class "CF" (cf_pg_schema.c).
     */
    { CF_PG_LOCK_AGGREGATE_ID, "cf_lock_aggregate_id",
      "SELECT pg_advisory_xact_lock(1128660993, hashtext($1))", 1 },

    { CF_PG_APPEND, "cf_append",
      "INSERT INTO event_stream (id, aggregate_id, tenant_id, owner_id,"
      " version, request_id, command_id, header, body, size, create_time)"
      " VALUES ($1, $2, '" CF_TENANT_ID "', $3, $4, $5, $6, $7, $8, 1, $9)",
      9 },

    { CF_PG_SAVE_SNAPSHOT, "cf_save_snapshot",
      "INSERT INTO snapshot (aggregate_id, tenant_id, owner_id, version,"
      " event_id, first_operator, operator, first_event_time, event_time,"
      " snapshot_time, deleted, state, status, recoverable, is_retryable,"
      " is_below_retry_threshold, retries, next_retry_at, timeout_at, tags)"
      " VALUES ($1, '" CF_TENANT_ID "', $2, $3, $4, $5, $6, $7, $8, $9, $10,"
      " $11, $12, $13, $14, $15, $16, $17, $18, $19)"
      " ON CONFLICT (aggregate_id) DO UPDATE SET"
      " owner_id = excluded.owner_id, version = excluded.version,"
      " event_id = excluded.event_id,"
      " first_operator = excluded.first_operator,"
      " operator = excluded.operator,"
      " first_event_time = excluded.first_event_time,"
      " event_time = excluded.event_time,"
      " snapshot_time = excluded.snapshot_time, deleted = excluded.deleted,"
      " state = excluded.state, status = excluded.status,"
      " recoverable = excluded.recoverable,"
      " is_retryable = excluded.is_retryable,"
      " is_below_retry_threshold = excluded.is_below_retry_threshold,"
      " retries = excluded.retries, next_retry_at = excluded.next_retry_at,"
      " timeout_at = excluded.timeout_at, tags = excluded.tags", 19 },

    { CF_PG_READ_SNAPSHOT, "cf_read_snapshot",
      "SELECT version, event_id, tenant_id, owner_id, first_operator,"
      " operator, first_event_time, event_time, snapshot_time, deleted,"
      " state, tags FROM snapshot WHERE aggregate_id = $1", 1 },

    /* the state read's fast path: the snapshot is the head when no stream
     * is newer (the unique (aggregate_id, version) index answers) */
    { CF_PG_STATE_TEXT, "cf_state_text",
      "SELECT s.version, s.deleted, s.state,"
      " (SELECT max(e.version) FROM event_stream e"
      " WHERE e.aggregate_id = $1) AS latest"
      " FROM snapshot s WHERE s.aggregate_id = $1", 1 },

    { CF_PG_SCAN_IDS, "cf_scan_ids",
      "SELECT aggregate_id FROM event_stream"
      " WHERE aggregate_id > $1 AND version = 1"
      " ORDER BY aggregate_id LIMIT $2", 2 }
};

#define CF_PG_STMT(slot)  (&cf_pg_sql[(slot) - CF_PG_REQUEST_EXISTS])


typedef struct {
    cf_aggregate_t  *agg;
    cf_error_t      *err;
} cf_pg_apply_ctx_t;


static int cf_pg_tags_from_text(cf_aggregate_t *agg, const char *text);
static int cf_pg_stream_rows(PGresult *res, const char *aggregate_id,
    cf_stream_cb_pt cb, void *data, cf_error_t *err);
static char *cf_pg_strdup(const char *s);


/* the store's last error as a command's: a lock wait that ran out is a
 * timeout (408), an unreachable server 503, anything else 500 */
static void
cf_pg_error(cf_pg_store_t *st, cf_error_t *err)
{
    cf_error_set(err, cf_pg_last_rc(st) == CF_STORE_BUSY
                      ? CF_E_REQUEST_TIMEOUT
                      : st->errcode == CF_PG_ERR_UNREACHABLE
                        ? CF_E_SERVICE_UNAVAILABLE : CF_E_INTERNAL,
                 "store: %s", st->errmsg);
}


int
cf_pg_store_request_id_exists(cf_pg_store_t *st, const char *request_id)
{
    int          found;
    PGresult    *res;
    const char  *v[1];

    v[0] = request_id;

    res = cf_pg_exec(st, CF_PG_STMT(CF_PG_REQUEST_EXISTS), v, NULL,
                     "request id lookup");
    if (res == NULL) {
        return -1;
    }

    found = PQntuples(res) > 0;
    PQclear(res);

    return found;
}


static char *
cf_pg_strdup(const char *s)
{
    size_t  n;
    char   *p;

    n = strlen(s);
    p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n + 1);
    }

    return p;
}


static int
cf_pg_replace_str(char **dst, const char *src)
{
    char  *p;

    p = cf_pg_strdup(src);
    if (p == NULL) {
        return -1;
    }

    free(*dst);
    *dst = p;

    return 0;
}


/*
 * The locked snapshot row (or none) into agg: 0, 1 when the row is damaged
 * (agg is empty again: everything is rebuilt from the events), -1 (err).
 */
static int
cf_pg_load_row(cf_pg_store_t *st, cf_aggregate_t *agg, PGresult *res,
    cf_error_t *err)
{
    int      ok;
    char    *id;
    json_t  *state;

    if (PQntuples(res) != 1) {
        return 0;
    }

    ok = 1;

    state = cf_json_loads(cf_pg_text(res, 0, cf_pg_col(res, "state")), 0,
                          NULL);

    if (state == NULL || cf_state_from_json(&agg->state, state, err) != 0) {
        ok = 0;
    }

    json_decref(state);

    if (ok && cf_pg_tags_from_text(agg,
                  cf_pg_text(res, 0, cf_pg_col(res, "tags"))) != 0)
    {
        ok = 0;
    }

    if (ok) {
        agg->version = cf_pg_int(res, 0, cf_pg_col(res, "version"));
        agg->deleted = cf_pg_int(res, 0, cf_pg_col(res, "deleted")) != 0;
        agg->first_event_time = cf_pg_int(res, 0,
                                          cf_pg_col(res, "first_event_time"));
        agg->event_time = cf_pg_int(res, 0, cf_pg_col(res, "event_time"));

        if (cf_pg_replace_str(&agg->last_stream_id,
                  cf_pg_text(res, 0, cf_pg_col(res, "event_id")))
            || cf_pg_replace_str(&agg->owner_id,
                  cf_pg_text(res, 0, cf_pg_col(res, "owner_id")))
            || cf_pg_replace_str(&agg->first_operator,
                  cf_pg_text(res, 0, cf_pg_col(res, "first_operator")))
            || cf_pg_replace_str(&agg->operator_,
                  cf_pg_text(res, 0, cf_pg_col(res, "operator"))))
        {
            cf_error_set(err, CF_E_INTERNAL, "out of memory");
            return -1;
        }

        return 0;
    }

    /* a damaged snapshot row: rebuild everything from the events */
    cf_error_free(err);
    cf_error_init(err);

    id = agg->state.id;
    agg->state.id = NULL;
    cf_aggregate_free(agg);

    if (cf_aggregate_init(agg, id) != 0) {
        free(id);
        cf_error_set(err, CF_E_INTERNAL, "out of memory");
        return -1;
    }

    free(id);

    return 1;
}


static int
cf_pg_apply_stream(void *data, const cf_stream_view_t *row)
{
    cf_pg_apply_ctx_t  *ctx = data;

    return cf_stream_apply(ctx->agg, row, ctx->err) == 0 ? 0 : -1;
}


int
cf_pg_store_load(cf_pg_store_t *st, cf_aggregate_t *agg, cf_error_t *err)
{
    int                 rc;
    PGresult           *res[3];
    const char         *v[1];
    cf_pg_call_t        calls[3];
    cf_pg_apply_ctx_t   ctx;

    v[0] = agg->state.id;

    /*
     * The snapshot row and the streams after it in one round trip (see
     * CF_PG_STREAMS_AFTER_SNAPSHOT); in a write transaction the aggregate
     * is locked first (CF_PG_LOCK_AGGREGATE_ID, then its row).
     */
    calls[0].stmt = CF_PG_STMT(CF_PG_LOCK_AGGREGATE_ID);
    calls[0].values = v;
    calls[0].what = "locking the aggregate id";
    calls[1].stmt = CF_PG_STMT(st->write_tx ? CF_PG_LOAD_SNAPSHOT_LOCKED
                                            : CF_PG_LOAD_SNAPSHOT);
    calls[1].values = v;
    calls[1].what = "loading snapshot";
    calls[2].stmt = CF_PG_STMT(CF_PG_STREAMS_AFTER_SNAPSHOT);
    calls[2].values = v;
    calls[2].what = "loading event streams";

    if (st->write_tx) {
        if (cf_pg_exec_many(st, calls, 3, res) != 0) {
            cf_pg_error(st, err);
            return -1;
        }

        PQclear(res[0]);
        res[0] = res[1];
        res[1] = res[2];

    } else if (cf_pg_read_many(st, &calls[1], 2, res) != 0) {
        cf_pg_error(st, err);
        return -1;
    }

    rc = cf_pg_load_row(st, agg, res[0], err);
    PQclear(res[0]);

    if (rc == 0 && PQntuples(res[1]) > 0
        && cf_pg_int(res[1], 0, cf_pg_col(res[1], "after")) == agg->version)
    {
        ctx.agg = agg;
        ctx.err = err;

        rc = cf_pg_stream_rows(res[1], agg->state.id, cf_pg_apply_stream,
                               &ctx, err);
        PQclear(res[1]);

        return rc < 0 ? -1 : 0;
    }

    PQclear(res[1]);

    if (rc < 0) {
        return -1;
    }

    /*
     * A damaged row (rebuilt from the first stream), or a row that a
     * transaction committed between the two statements (when there was
     * none to lock, or outside a transaction): the streams after what was
     * loaded, as the replay reads them.
     */
    return cf_store_load_upto(&st->base, agg, INT64_MAX, INT64_MAX, err);
}


/* calls cb for each stream row of res (a row without one is skipped): the
 * number passed, or -1 (err set) */
static int
cf_pg_stream_rows(PGresult *res, const char *aggregate_id,
    cf_stream_cb_pt cb, void *data, cf_error_t *err)
{
    int                i, rows, ret, n;
    int                c_id, c_agg, c_tenant, c_owner, c_version, c_req,
                       c_cmd, c_header, c_body, c_size, c_time;
    cf_stream_view_t   row;

    c_id = cf_pg_col(res, "id");
    c_agg = cf_pg_col(res, "aggregate_id");
    c_tenant = cf_pg_col(res, "tenant_id");
    c_owner = cf_pg_col(res, "owner_id");
    c_version = cf_pg_col(res, "version");
    c_req = cf_pg_col(res, "request_id");
    c_cmd = cf_pg_col(res, "command_id");
    c_header = cf_pg_col(res, "header");
    c_body = cf_pg_col(res, "body");
    c_size = cf_pg_col(res, "size");
    c_time = cf_pg_col(res, "create_time");

    rows = PQntuples(res);
    ret = 0;
    n = 0;

    for (i = 0; i < rows; i++) {
        if (c_id < 0 || PQgetisnull(res, i, c_id)) {
            continue;
        }

        row.id = cf_pg_text(res, i, c_id);
        row.aggregate_id = cf_pg_text(res, i, c_agg);
        row.tenant_id = cf_pg_text(res, i, c_tenant);
        row.owner_id = cf_pg_text(res, i, c_owner);
        row.version = cf_pg_int(res, i, c_version);
        row.request_id = cf_pg_text(res, i, c_req);
        row.command_id = cf_pg_text(res, i, c_cmd);
        row.header = cf_json_loads(cf_pg_text(res, i, c_header), 0, NULL);
        row.body = cf_json_loads(cf_pg_text(res, i, c_body), 0, NULL);
        row.size = cf_pg_int(res, i, c_size);
        row.create_time = cf_pg_int(res, i, c_time);

        if (!json_is_object(row.header) || !json_is_array(row.body)) {
            cf_error_set(err, CF_E_INTERNAL,
                         "damaged event stream %s of aggregate %s",
                         row.id, aggregate_id);
            json_decref(row.header);
            json_decref(row.body);
            ret = -1;
            break;
        }

        ret = cb(data, &row);

        json_decref(row.header);
        json_decref(row.body);

        if (ret != 0) {
            break;
        }

        n++;
    }

    if (ret < 0) {
        if (cf_error_is_ok(err)) {
            cf_error_set(err, CF_E_INTERNAL, "reading event streams failed");
        }

        return -1;
    }

    return n;
}


int
cf_pg_store_each_stream(cf_pg_store_t *st, const char *aggregate_id,
    int64_t head, int64_t tail, cf_stream_cb_pt cb, void *data,
    cf_error_t *err)
{
    int                n;
    char               hbuf[24], tbuf[24];
    PGresult          *res;
    const char        *v[3];

    v[0] = aggregate_id;
    v[1] = cf_pg_i64(hbuf, head);
    v[2] = cf_pg_i64(tbuf, tail);

    res = cf_pg_exec(st, CF_PG_STMT(CF_PG_EACH_STREAM), v, NULL,
                     "loading event streams");
    if (res == NULL) {
        cf_pg_error(st, err);
        return -1;
    }

    n = cf_pg_stream_rows(res, aggregate_id, cb, data, err);
    PQclear(res);

    return n;
}


int
cf_pg_store_latest_version(cf_pg_store_t *st, const char *aggregate_id,
    int64_t *version, cf_error_t *err)
{
    PGresult      *res[3];
    const char    *v[1];
    cf_pg_call_t   calls[3];

    v[0] = aggregate_id;

    if (st->write_tx) {
        /* the aggregate's locks first (see CF_PG_LOCK_AGGREGATE_ID), the
         * read after them: one round trip */
        calls[0].stmt = CF_PG_STMT(CF_PG_LOCK_AGGREGATE_ID);
        calls[0].values = v;
        calls[0].what = "locking the aggregate id";
        calls[1].stmt = CF_PG_STMT(CF_PG_LATEST_VERSION_LOCKED);
        calls[1].values = v;
        calls[1].what = "locking the aggregate";
        calls[2].stmt = CF_PG_STMT(CF_PG_LATEST_VERSION);
        calls[2].values = v;
        calls[2].what = "reading the latest version";

        if (cf_pg_exec_many(st, calls, 3, res) != 0) {
            goto failed;
        }

        PQclear(res[0]);
        PQclear(res[1]);
        res[1] = res[2];

    } else {
        res[1] = cf_pg_exec(st, CF_PG_STMT(CF_PG_LATEST_VERSION), v, NULL,
                            "reading the latest version");
        if (res[1] == NULL) {
            goto failed;
        }
    }

    /* max() of no row is NULL, read as 0 */
    *version = PQntuples(res[1])
               ? cf_pg_int(res[1], 0, cf_pg_col(res[1], "version")) : 0;
    PQclear(res[1]);

    return 0;

failed:

    cf_pg_error(st, err);
    return -1;
}


int
cf_pg_store_append(cf_pg_store_t *st, const cf_stream_row_t *row)
{
    char         vbuf[24], tbuf[24];
    cf_buf_t    *b;
    PGresult    *res;
    const char  *v[9], *constraint;

    cf_buf_reset(&st->text[0]);
    cf_json_write(&st->text[0], row->header);

    /* the body exactly as cf_store_append writes it */
    b = &st->text[1];
    cf_buf_reset(b);
    cf_buf_add_str(b, "[{\"id\":");
    cf_json_write_string(b, row->event_id, strlen(row->event_id));
    cf_buf_add_str(b, ",\"name\":");
    cf_json_write_string(b, row->event_name, strlen(row->event_name));
    cf_buf_add_str(b, ",\"revision\":\"" CF_EVENT_REVISION "\",\"bodyType\":");
    cf_json_write_string(b, row->event_body_type,
                         strlen(row->event_body_type));
    cf_buf_add_str(b, ",\"body\":");
    cf_json_write(b, row->event_body);
    cf_buf_add_str(b, "}]");

    v[0] = row->id;
    v[1] = row->aggregate_id;
    v[2] = row->owner_id;
    v[3] = cf_pg_i64(vbuf, row->version);
    v[4] = row->request_id;
    v[5] = row->command_id;
    v[6] = cf_buf_cstr(&st->text[0]);
    v[7] = cf_buf_cstr(b);
    v[8] = cf_pg_i64(tbuf, row->create_time);

    if (v[6] == NULL || v[7] == NULL) {
        cf_pg_set_error(st, "out of memory");
        return -1;
    }

    res = cf_pg_exec(st, CF_PG_STMT(CF_PG_APPEND), v, NULL,
                     "appending event stream");
    if (res != NULL) {
        PQclear(res);
        return 0;
    }

    if (strcmp(st->sqlstate, "23505") != 0) {
        return cf_pg_last_rc(st);
    }

    /*
     * Which unique key, by the constraint's name (never by the message's
     * text, which is translated): the request id's, else a version (or,
     * never in practice, a stream id) already taken.
     */
    constraint = st->constraint;

    if (strcmp(constraint, "event_stream_request") == 0) {
        return CF_STORE_DUPLICATE_REQ;
    }

    return CF_STORE_VERSION_TAKEN;
}


int
cf_pg_store_save_snapshot(cf_pg_store_t *st, const cf_aggregate_t *agg,
    int64_t snapshot_time)
{
    char               b[9][24];
    PGresult          *res;
    const char        *v[19];
    const cf_state_t  *sv;

    sv = &agg->state;

    cf_buf_reset(&st->text[0]);
    cf_state_write(&st->text[0], sv);

    v[0] = sv->id;
    v[1] = agg->owner_id ? agg->owner_id : "";
    v[2] = cf_pg_i64(b[0], agg->version);
    v[3] = agg->last_stream_id ? agg->last_stream_id : "";
    v[4] = agg->first_operator ? agg->first_operator : "";
    v[5] = agg->operator_ ? agg->operator_ : "";
    v[6] = cf_pg_i64(b[1], agg->first_event_time);
    v[7] = cf_pg_i64(b[2], agg->event_time);
    v[8] = cf_pg_i64(b[3], snapshot_time);
    v[9] = agg->deleted ? "1" : "0";
    v[10] = cf_buf_cstr(&st->text[0]);
    v[11] = cf_status_name(sv->status);
    v[12] = cf_recoverable_name(sv->recoverable);
    v[13] = cf_state_is_retryable(sv) ? "1" : "0";
    v[14] = cf_state_is_below_retry_threshold(sv) ? "1" : "0";
    v[15] = cf_pg_i64(b[4], sv->retry_state.retries);
    v[16] = cf_pg_i64(b[5], sv->retry_state.next_retry_at);
    v[17] = cf_pg_i64(b[6], sv->retry_state.timeout_at);

    if (agg->tags == NULL || json_object_size(agg->tags) == 0) {
        v[18] = "{}";

    } else {
        cf_buf_reset(&st->text[1]);
        cf_json_write(&st->text[1], agg->tags);
        v[18] = cf_buf_cstr(&st->text[1]);
    }

    if (v[10] == NULL || v[18] == NULL) {
        cf_pg_set_error(st, "out of memory");
        return -1;
    }

    /*
     * A command alone in its transaction: sent with the COMMIT, which
     * reports the failure (the command fails either way).  A command of a
     * group (in its savepoint) waits for the answer: its failure must fail
     * that command alone, and the next statement is another command's.
     */
    if (!st->in_savepoint) {
        return cf_pg_defer(st, CF_PG_STMT(CF_PG_SAVE_SNAPSHOT), v,
                           "saving snapshot") == 0 ? 0 : cf_pg_last_rc(st);
    }

    res = cf_pg_exec(st, CF_PG_STMT(CF_PG_SAVE_SNAPSHOT), v, NULL,
                     "saving snapshot");
    if (res == NULL) {
        return cf_pg_last_rc(st);
    }

    PQclear(res);

    return 0;
}


int
cf_pg_store_read_snapshot(cf_pg_store_t *st, const char *aggregate_id,
    cf_snapshot_row_t *out)
{
    PGresult    *res;
    const char  *v[1];

    memset(out, 0, sizeof(cf_snapshot_row_t));

    v[0] = aggregate_id;

    res = cf_pg_exec(st, CF_PG_STMT(CF_PG_READ_SNAPSHOT), v, NULL,
                     "reading snapshot");
    if (res == NULL) {
        return -1;
    }

    if (PQntuples(res) == 0) {
        PQclear(res);
        return CF_STORE_NOT_FOUND;
    }

    out->version = cf_pg_int(res, 0, cf_pg_col(res, "version"));
    out->first_event_time = cf_pg_int(res, 0,
                                      cf_pg_col(res, "first_event_time"));
    out->event_time = cf_pg_int(res, 0, cf_pg_col(res, "event_time"));
    out->snapshot_time = cf_pg_int(res, 0, cf_pg_col(res, "snapshot_time"));
    out->deleted = cf_pg_int(res, 0, cf_pg_col(res, "deleted")) != 0;

    out->aggregate_id = cf_pg_strdup(aggregate_id);
    out->event_id = cf_pg_strdup(cf_pg_text(res, 0,
                                            cf_pg_col(res, "event_id")));
    out->tenant_id = cf_pg_strdup(cf_pg_text(res, 0,
                                             cf_pg_col(res, "tenant_id")));
    out->owner_id = cf_pg_strdup(cf_pg_text(res, 0,
                                            cf_pg_col(res, "owner_id")));
    out->first_operator = cf_pg_strdup(cf_pg_text(res, 0,
                                         cf_pg_col(res, "first_operator")));
    out->operator_ = cf_pg_strdup(cf_pg_text(res, 0,
                                             cf_pg_col(res, "operator")));
    out->state = cf_pg_strdup(cf_pg_text(res, 0, cf_pg_col(res, "state")));
    out->tags = cf_pg_strdup(cf_pg_text(res, 0, cf_pg_col(res, "tags")));

    PQclear(res);

    if (out->aggregate_id == NULL || out->event_id == NULL
        || out->tenant_id == NULL || out->owner_id == NULL
        || out->first_operator == NULL || out->operator_ == NULL
        || out->state == NULL || out->tags == NULL)
    {
        cf_pg_set_error(st, "out of memory");
        cf_snapshot_row_free(out);
        return -1;
    }

    return 0;
}


/*
 * The stored state document of a live aggregate whose snapshot is the head
 * of its stream, as stored (see cf_store_state_text): 1 served, 0 the
 * caller takes the full path, -1 an error.
 */
int
cf_pg_store_state_text(cf_pg_store_t *st, const char *aggregate_id,
    void *(*alloc)(void *data, size_t size), void *data, char **text,
    size_t *len)
{
    int          ret, c_latest;
    size_t       n;
    int64_t      version;
    PGresult    *res;
    const char  *p, *v[1];

    v[0] = aggregate_id;

    res = cf_pg_exec(st, CF_PG_STMT(CF_PG_STATE_TEXT), v, NULL,
                     "reading the state");
    if (res == NULL) {
        return -1;
    }

    ret = 0;

    if (PQntuples(res) == 1) {
        c_latest = cf_pg_col(res, "latest");
        version = cf_pg_int(res, 0, cf_pg_col(res, "version"));
        p = cf_pg_text(res, 0, cf_pg_col(res, "state"));
        n = (size_t) PQgetlength(res, 0, cf_pg_col(res, "state"));

        if (version > 0
            && cf_pg_int(res, 0, cf_pg_col(res, "deleted")) == 0
            && (PQgetisnull(res, 0, c_latest)
                || cf_pg_int(res, 0, c_latest) <= version)
            && n >= 2 && p[0] == '{' && p[n - 1] == '}')
        {
            *text = alloc(data, n);

            if (*text == NULL) {
                cf_pg_set_error(st, "out of memory");
                ret = -1;

            } else {
                memcpy(*text, p, n);
                *len = n;
                ret = 1;
            }
        }
    }

    PQclear(res);

    return ret;
}


int
cf_pg_store_scan_ids(cf_pg_store_t *st, const char *after_id, int64_t limit,
    char ***ids, size_t *n)
{
    int          i, rows, col;
    char       **a, lbuf[24];
    PGresult    *res;
    const char  *v[2];

    *ids = NULL;
    *n = 0;

    v[0] = after_id;
    v[1] = cf_pg_i64(lbuf, limit);

    res = cf_pg_exec(st, CF_PG_STMT(CF_PG_SCAN_IDS), v, NULL,
                     "scanning aggregate ids");
    if (res == NULL) {
        return -1;
    }

    rows = PQntuples(res);
    col = cf_pg_col(res, "aggregate_id");

    a = calloc(rows ? rows : 1, sizeof(char *));
    if (a == NULL) {
        PQclear(res);
        cf_pg_set_error(st, "out of memory");
        return -1;
    }

    for (i = 0; i < rows; i++) {
        a[i] = cf_pg_strdup(cf_pg_text(res, i, col));

        if (a[i] == NULL) {
            PQclear(res);
            cf_ids_free(a, i);
            cf_pg_set_error(st, "out of memory");
            return -1;
        }
    }

    PQclear(res);

    *ids = a;
    *n = rows;

    return 0;
}


/* the snapshot's tags column into agg->tags (as cf_store.c reads it) */
static int
cf_pg_tags_from_text(cf_aggregate_t *agg, const char *text)
{
    json_t      *tags, *bound;
    cf_error_t   err;

    static const cf_field_t  fields[] = {
        { "tags", CF_FT_TAGS,   0, NULL, NULL },
        { NULL,   CF_FT_STRING, 0, NULL, NULL }
    };

    tags = cf_json_loads(text, 0, NULL);
    if (tags == NULL) {
        return -1;
    }

    bound = json_pack("{s:o}", "tags", tags);
    if (bound == NULL) {
        return -1;
    }

    cf_error_init(&err);

    /* the same binder as the event's: a stored value is input too */
    if (cf_bind_object(bound, fields, "", &tags, &err) != 0) {
        cf_error_free(&err);
        json_decref(bound);
        return -1;
    }

    json_decref(bound);
    json_decref(agg->tags);
    agg->tags = json_incref(json_object_get(tags, "tags"));
    json_decref(tags);

    return agg->tags ? 0 : -1;
}
