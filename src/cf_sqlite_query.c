
/*
 * ngx_compensation: running compiled queries in the SQLite store (see
 * cf_query.h): the query indexes and rollup, counts and rows.
 *
 * Read-only: statements are prepared per query on the worker's connection
 * (the SQL text depends on the condition), bound from the compiled
 * parameters and finalized on every path.  Documents are built by the
 * history layer (cf_history.c) so that every route answers the same shapes,
 * and projected by cf_query_project.c.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cf_sqlite_store.h"
#include "cf_history.h"


#define CF_QUERY_SCHEMA_RETRIES  200      /* x 10 ms */


/*
 * The query indexes (schema version 3).  Every index starts with the
 * columns every snapshot query constrains by equality (tenant, deletion),
 * and the dashboard's pages (sorted by aggregateId) and the time-dependent
 * counts are answered from an index alone.
 *
 * A command writes every index its row is in, a page or two each per
 * commit, so the rows are in as few as the queries allow:
 *   - snapshot_q_status, every row: status then aggregate_id (a page of a
 *     status, Succeeded's and Executing's among them), then every hot
 *     column, so that any condition on them is answered from this index
 *     without reading the table (version 2's full indexes each covered a
 *     few);
 *   - three partial indexes, each holding only the rows its categories
 *     can match: a create (FAILED, retryable) is in snapshot_q_retryable
 *     only, and gets into the others once past its retry threshold or
 *     unrecoverable.
 * SQLite uses a partial index when the query's WHERE has its condition as
 * a term: the compiler writes booleans as the literals 0 and 1, and a
 * string bound to a parameter matches once the statement is prepared
 * again with the value (sqlite3_prepare_v2 does that at the first step).
 * The column of the condition is in the index too, or the index would not
 * cover the query.  Version 2's indexes (snapshot_q_timeout, _retry,
 * _below, _recoverable, and a snapshot_q_status without the hot columns)
 * are dropped by cf_sqlite_query_migrate.
 *
 * snapshot_count is a rollup of the low-cardinality columns kept by
 * triggers: a count whose condition only uses those columns (Succeeded,
 * Non Retryable, Unrecoverable, match-all ...) sums a few rows instead of
 * scanning an index.
 */
static const char  cf_query_schema_sql[] =
    "CREATE INDEX IF NOT EXISTS snapshot_q_status ON snapshot"
    " (tenant_id, deleted, status, aggregate_id, recoverable, is_retryable,"
    " is_below_retry_threshold, retries, next_retry_at, timeout_at);"
    /* To Retry, Next Retry, the scheduler's claim (by next_retry_at) */
    "CREATE INDEX IF NOT EXISTS snapshot_q_retryable ON snapshot"
    " (tenant_id, deleted, is_retryable, next_retry_at, status, timeout_at,"
    " recoverable, aggregate_id) WHERE is_retryable = 1;"
    /* Non Retryable */
    "CREATE INDEX IF NOT EXISTS snapshot_q_over_threshold ON snapshot"
    " (tenant_id, deleted, is_below_retry_threshold, recoverable, status,"
    " aggregate_id) WHERE is_below_retry_threshold = 0;"
    /* Unrecoverable */
    "CREATE INDEX IF NOT EXISTS snapshot_q_unrecoverable ON snapshot"
    " (tenant_id, deleted, recoverable, status, aggregate_id)"
    " WHERE recoverable = 'UNRECOVERABLE';"
    /* (aggregate_id, version) is already the table's UNIQUE index: a
     * second copy only cost a page write per command */
    "DROP INDEX IF EXISTS event_stream_q_aggregate;"
    "CREATE INDEX IF NOT EXISTS event_stream_q_time ON event_stream"
    " (create_time);"

    "CREATE TABLE IF NOT EXISTS snapshot_count ("
    " tenant_id TEXT NOT NULL, owner_id TEXT NOT NULL,"
    " deleted INTEGER NOT NULL, status TEXT NOT NULL,"
    " recoverable TEXT NOT NULL, is_retryable INTEGER NOT NULL,"
    " is_below_retry_threshold INTEGER NOT NULL, n INTEGER NOT NULL,"
    " PRIMARY KEY (tenant_id, owner_id, deleted, status, recoverable,"
    " is_retryable, is_below_retry_threshold)) WITHOUT ROWID;"

    "CREATE TRIGGER IF NOT EXISTS snapshot_count_insert AFTER INSERT ON"
    " snapshot BEGIN"
    " INSERT INTO snapshot_count VALUES (new.tenant_id, new.owner_id,"
    " new.deleted, ifnull(new.status, ''), ifnull(new.recoverable, ''),"
    " ifnull(new.is_retryable, 0), ifnull(new.is_below_retry_threshold, 0),"
    " 1) ON CONFLICT DO UPDATE SET n = n + 1; END;"

    "CREATE TRIGGER IF NOT EXISTS snapshot_count_delete AFTER DELETE ON"
    " snapshot BEGIN"
    " UPDATE snapshot_count SET n = n - 1 WHERE tenant_id = old.tenant_id"
    " AND owner_id = old.owner_id AND deleted = old.deleted"
    " AND status = ifnull(old.status, '')"
    " AND recoverable = ifnull(old.recoverable, '')"
    " AND is_retryable = ifnull(old.is_retryable, 0)"
    " AND is_below_retry_threshold = ifnull(old.is_below_retry_threshold, 0);"
    " END;"

    "CREATE TRIGGER IF NOT EXISTS snapshot_count_update AFTER UPDATE OF"
    " tenant_id, owner_id, deleted, status, recoverable, is_retryable,"
    " is_below_retry_threshold ON snapshot BEGIN"
    " UPDATE snapshot_count SET n = n - 1 WHERE tenant_id = old.tenant_id"
    " AND owner_id = old.owner_id AND deleted = old.deleted"
    " AND status = ifnull(old.status, '')"
    " AND recoverable = ifnull(old.recoverable, '')"
    " AND is_retryable = ifnull(old.is_retryable, 0)"
    " AND is_below_retry_threshold = ifnull(old.is_below_retry_threshold, 0);"
    " INSERT INTO snapshot_count VALUES (new.tenant_id, new.owner_id,"
    " new.deleted, ifnull(new.status, ''), ifnull(new.recoverable, ''),"
    " ifnull(new.is_retryable, 0), ifnull(new.is_below_retry_threshold, 0),"
    " 1) ON CONFLICT DO UPDATE SET n = n + 1; END;";


/* version 2 -> 3: the indexes the ones above replace */
static const char  cf_query_migrate_v3_sql[] =
    "DROP INDEX IF EXISTS snapshot_q_status;"
    "DROP INDEX IF EXISTS snapshot_q_timeout;"
    "DROP INDEX IF EXISTS snapshot_q_retry;"
    "DROP INDEX IF EXISTS snapshot_q_below;"
    "DROP INDEX IF EXISTS snapshot_q_recoverable;";


/* fills the rollup when it was just created over existing snapshots */
static const char  cf_query_rollup_fill_sql[] =
    "INSERT INTO snapshot_count SELECT tenant_id, owner_id, deleted,"
    " ifnull(status, ''), ifnull(recoverable, ''), ifnull(is_retryable, 0),"
    " ifnull(is_below_retry_threshold, 0), count(*) FROM snapshot"
    " GROUP BY 1, 2, 3, 4, 5, 6, 7";


/*
 * Brings the query indexes to schema version 3 inside the schema
 * transaction, once: a file of version 2 or older loses its indexes
 * before the new ones are created (from the table, once each: seconds
 * for a million executions, while the other processes wait for the
 * schema lock).
 */
static int
cf_sqlite_query_migrate(sqlite3 *db)
{
    int   rc, version;
    char  sql[48];

    rc = cf_sqlite_user_version(db, &version);
    if (rc != SQLITE_OK) {
        return rc;
    }

    if (version >= CF_SQLITE_SCHEMA_VERSION) {
        return SQLITE_OK;
    }

    rc = sqlite3_exec(db, cf_query_migrate_v3_sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return rc;
    }

    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
             CF_SQLITE_SCHEMA_VERSION);

    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}


int
cf_sqlite_query_schema(cf_store_t *st, char *errbuf, size_t errlen)
{
    int            rc, i, fresh;
    sqlite3       *db;
    sqlite3_stmt  *s;

    db = cf_sqlite_store_db(st);

    for (i = 0; i < CF_QUERY_SCHEMA_RETRIES; i++) {

        rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

        if (rc == SQLITE_OK) {
            fresh = 0;

            rc = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE"
                                    " name = 'snapshot_count'", -1, &s,
                                    NULL);
            if (rc == SQLITE_OK) {
                fresh = (sqlite3_step(s) != SQLITE_ROW);
                sqlite3_finalize(s);

                rc = cf_sqlite_query_migrate(db);
            }

            if (rc == SQLITE_OK) {
                rc = sqlite3_exec(db, cf_query_schema_sql, NULL, NULL, NULL);
            }

            if (rc == SQLITE_OK && fresh) {
                rc = sqlite3_exec(db, cf_query_rollup_fill_sql, NULL, NULL,
                                  NULL);
            }

            if (rc == SQLITE_OK) {
                rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
            }

            if (rc == SQLITE_OK) {
                return 0;
            }

            snprintf(errbuf, errlen, "%s", sqlite3_errmsg(db));
            (void) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);

        } else {
            snprintf(errbuf, errlen, "%s", sqlite3_errmsg(db));
        }

        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) {
            return -1;
        }

        usleep(10000);
    }

    return -1;
}


static int
cf_query_prepare(sqlite3 *db, const cf_query_t *q, int count,
    sqlite3_stmt **sp, char *errbuf, size_t errlen)
{
    int            rc, n, max;
    char          *sql;
    size_t         i;
    json_t        *v;
    sqlite3_stmt  *s;

    sql = cf_query_sql(q, count);
    if (sql == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }

    rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "preparing a query failed: %s (%.200s)",
                 sqlite3_errmsg(db), sql);
        free(sql);
        return -1;
    }

    free(sql);

    /*
     * The count text has no ORDER BY: the values only the sort uses (a
     * header key, an event payload path) have no parameter there.
     */
    max = sqlite3_bind_parameter_count(s);

    json_array_foreach(q->params, i, v) {
        n = (int) i + 1;

        if (n > max) {
            break;
        }

        switch (json_typeof(v)) {
        case JSON_STRING:
            rc = sqlite3_bind_text(s, n, json_string_value(v),
                                   (int) json_string_length(v),
                                   SQLITE_TRANSIENT);
            break;
        case JSON_INTEGER:
            rc = sqlite3_bind_int64(s, n, json_integer_value(v));
            break;
        case JSON_REAL:
            rc = sqlite3_bind_double(s, n, json_real_value(v));
            break;
        case JSON_TRUE:
            rc = sqlite3_bind_int(s, n, 1);
            break;
        case JSON_FALSE:
            rc = sqlite3_bind_int(s, n, 0);
            break;
        default:
            rc = sqlite3_bind_null(s, n);
            break;
        }

        if (rc != SQLITE_OK) {
            snprintf(errbuf, errlen, "binding a query value failed: %s",
                     sqlite3_errmsg(db));
            sqlite3_finalize(s);
            return -1;
        }
    }

    *sp = s;

    return 0;
}


int
cf_sqlite_query_count(cf_store_t *st, const cf_query_t *q, int64_t *count,
    char *errbuf, size_t errlen)
{
    int            rc;
    sqlite3       *db;
    sqlite3_stmt  *s;

    db = cf_sqlite_store_db(st);

    if (cf_query_prepare(db, q, 1, &s, errbuf, errlen) != 0) {
        return -1;
    }

    rc = sqlite3_step(s);

    if (rc != SQLITE_ROW) {
        snprintf(errbuf, errlen, "counting failed: %s", sqlite3_errmsg(db));
        sqlite3_finalize(s);
        return -1;
    }

    *count = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);

    return 0;
}


static const char *
cf_query_text(sqlite3_stmt *s, int col)
{
    const unsigned char  *t;

    t = sqlite3_column_text(s, col);

    return t ? (const char *) t : "";
}


static json_t *
cf_query_snapshot_doc(sqlite3_stmt *s)
{
    cf_snapshot_row_t  row;

    row.aggregate_id = (char *) cf_query_text(s, 0);
    row.tenant_id = (char *) cf_query_text(s, 1);
    row.owner_id = (char *) cf_query_text(s, 2);
    row.version = sqlite3_column_int64(s, 3);
    row.event_id = (char *) cf_query_text(s, 4);
    row.first_operator = (char *) cf_query_text(s, 5);
    row.operator_ = (char *) cf_query_text(s, 6);
    row.first_event_time = sqlite3_column_int64(s, 7);
    row.event_time = sqlite3_column_int64(s, 8);
    row.state = (char *) cf_query_text(s, 9);
    row.snapshot_time = sqlite3_column_int64(s, 10);
    row.deleted = sqlite3_column_int(s, 11) != 0;
    row.tags = (char *) cf_query_text(s, 12);

    return cf_snapshot_to_json(&row);
}


static json_t *
cf_query_event_doc(sqlite3_stmt *s)
{
    json_t            *doc;
    cf_stream_view_t   row;

    row.id = cf_query_text(s, 0);
    row.header = cf_json_loads(cf_query_text(s, 1), 0, NULL);
    row.aggregate_id = cf_query_text(s, 2);
    row.tenant_id = cf_query_text(s, 3);
    row.owner_id = cf_query_text(s, 4);
    row.command_id = cf_query_text(s, 5);
    row.request_id = cf_query_text(s, 6);
    row.version = sqlite3_column_int64(s, 7);
    row.body = cf_json_loads(cf_query_text(s, 8), 0, NULL);
    row.create_time = sqlite3_column_int64(s, 9);
    row.size = sqlite3_column_int64(s, 10);

    doc = NULL;

    if (json_is_object(row.header) && json_is_array(row.body)) {
        doc = cf_stream_to_json(&row, 1, NULL);
    }

    json_decref(row.header);
    json_decref(row.body);

    return doc;
}


/*
 * Calls cb with each document of q's answer, in order, as it is read from
 * the statement (cb takes the reference): no list of every document is
 * built.  0: done; 1: cb stopped it (cb returned non-zero); -1: errbuf.
 */
int
cf_sqlite_query_each(cf_store_t *st, const cf_query_t *q, int state_only,
    cf_query_doc_pt cb, void *data, char *errbuf, size_t errlen)
{
    int            rc, stop;
    json_t        *doc;
    sqlite3       *db;
    sqlite3_stmt  *s;

    db = cf_sqlite_store_db(st);

    if (cf_query_prepare(db, q, 0, &s, errbuf, errlen) != 0) {
        return -1;
    }

    stop = 0;

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {

        doc = (q->store == CF_QUERY_SNAPSHOT) ? cf_query_snapshot_doc(s)
                                              : cf_query_event_doc(s);
        if (doc == NULL) {
            snprintf(errbuf, errlen, "a stored %s row is damaged",
                     q->store == CF_QUERY_SNAPSHOT ? "snapshot"
                                                   : "event stream");
            goto failed;
        }

        stop = cf_query_deliver(q, state_only, doc, cb, data, errbuf,
                                errlen);

        if (stop < 0) {
            goto failed;
        }

        if (stop) {
            break;
        }
    }

    if (!stop && rc != SQLITE_DONE) {
        snprintf(errbuf, errlen, "querying failed: %s", sqlite3_errmsg(db));
        goto failed;
    }

    sqlite3_finalize(s);

    return stop ? 1 : 0;

failed:

    sqlite3_finalize(s);

    return -1;
}
