
/*
 * ngx_compensation: the execution counts behind /actuator/prometheus in the
 * SQLite store (see cf_metrics.h).
 */


#include <stdio.h>
#include <string.h>

#include "cf_sqlite_store.h"


/* the rollup: a few rows whatever the number of executions */
static const char  cf_metrics_rollup_sql[] =
    "SELECT deleted, status, recoverable, is_retryable,"
    " is_below_retry_threshold, sum(n) FROM snapshot_count"
    " GROUP BY 1, 2, 3, 4, 5";

/*
 * Prepared executions still within their timeout: Executing, and the part
 * of the prepared ones that To Retry leaves out.  One range of the index
 * snapshot_q_timeout per tenant: as many entries as executions in flight.
 */
static const char  cf_metrics_executing_sql[] =
    "SELECT count(*), coalesce(sum(s.is_retryable = 1 AND s.recoverable IN"
    " ('RECOVERABLE', 'UNKNOWN')), 0)"
    " FROM (SELECT DISTINCT tenant_id FROM snapshot_count"
    " WHERE deleted = 0 AND status = 'PREPARED' AND n > 0) t"
    " JOIN snapshot s ON s.tenant_id = t.tenant_id"
    " WHERE s.deleted = 0 AND s.status = 'PREPARED' AND s.timeout_at > ?1";

/*
 * Next Retry (the scheduler's own condition, spec 7.2): a range of the
 * index snapshot_q_retry per tenant, read from the index alone; as many
 * entries as executions due now.
 */
static const char  cf_metrics_next_retry_sql[] =
    "SELECT count(*)"
    " FROM (SELECT DISTINCT tenant_id FROM snapshot_count"
    " WHERE deleted = 0 AND is_retryable = 1 AND n > 0) t"
    " JOIN snapshot s ON s.tenant_id = t.tenant_id"
    " WHERE s.deleted = 0 AND s.is_retryable = 1 AND s.next_retry_at <= ?1"
    " AND s.recoverable IN ('RECOVERABLE', 'UNKNOWN')"
    " AND (s.status = 'FAILED'"
    " OR (s.status = 'PREPARED' AND s.timeout_at <= ?1))";


static int
cf_metrics_step(sqlite3 *db, const char *sql, int64_t now, int64_t *a,
    int64_t *b)
{
    int            rc;
    sqlite3_stmt  *s;

    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        return -1;
    }

    sqlite3_bind_int64(s, 1, now);

    rc = sqlite3_step(s);

    if (rc == SQLITE_ROW) {
        *a = sqlite3_column_int64(s, 0);

        if (b) {
            *b = sqlite3_column_int64(s, 1);
        }
    }

    sqlite3_finalize(s);

    return rc == SQLITE_ROW ? 0 : -1;
}


static int
cf_metrics_rollup(sqlite3 *db, cf_exec_counts_t *out)
{
    int            rc;
    sqlite3_stmt  *s;

    if (sqlite3_prepare_v2(db, cf_metrics_rollup_sql, -1, &s, NULL)
        != SQLITE_OK)
    {
        return -1;
    }

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        cf_metrics_add_rollup(out, sqlite3_column_int(s, 0),
                              (const char *) sqlite3_column_text(s, 1),
                              (const char *) sqlite3_column_text(s, 2),
                              sqlite3_column_int(s, 3),
                              sqlite3_column_int(s, 4),
                              sqlite3_column_int64(s, 5));
    }

    sqlite3_finalize(s);

    return rc == SQLITE_DONE ? 0 : -1;
}


int
cf_sqlite_metrics_counts(cf_store_t *st, int64_t now, cf_exec_counts_t *out,
    char *errbuf, size_t errlen)
{
    int       began, rc;
    int64_t   running, running_retryable;
    sqlite3  *db;

    db = cf_sqlite_store_db(st);

    memset(out, 0, sizeof(cf_exec_counts_t));

    /* one snapshot for every count, unless the caller holds one */
    began = 0;

    if (sqlite3_get_autocommit(db)) {
        if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
            snprintf(errbuf, errlen, "%s", sqlite3_errmsg(db));
            return -1;
        }

        began = 1;
    }

    running = 0;
    running_retryable = 0;

    rc = cf_metrics_rollup(db, out);

    if (rc == 0) {
        rc = cf_metrics_step(db, cf_metrics_executing_sql, now, &running,
                             &running_retryable);
    }

    if (rc == 0) {
        rc = cf_metrics_step(db, cf_metrics_next_retry_sql, now,
                             &out->category[CF_CATEGORY_NEXT_RETRY], NULL);
    }

    if (rc != 0) {
        snprintf(errbuf, errlen, "%s", sqlite3_errmsg(db));
    }

    if (began) {
        (void) sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }

    out->category[CF_CATEGORY_EXECUTING] = running;
    out->category[CF_CATEGORY_TO_RETRY] -= running_retryable;

    return rc;
}
