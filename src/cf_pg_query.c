/*
 * ngx_compensation: running compiled queries and the metrics' counts in
 * the PostgreSQL store (cf_query.h, cf_metrics.h): the PostgreSQL
 * counterpart of cf_sqlite_query.c and cf_sqlite_metrics.c.
 *
 * The statement text depends on the condition (cf_query_pg.c; a count the
 * rollup can answer sums snapshot_count, schema version 3), so it is not
 * prepared: one PQexecParams per query, every parameter sent as text
 * (the compiler's SQL casts each where it is used).  The query indexes
 * are part of the schema (cf_pg_schema.c, version 2).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_pg.h"
#include "cf_history.h"
#include "cf_metrics.h"


#define CF_PG_TEXTOID  25


/* the result of q's statement (count or rows), NULL with errbuf */
static PGresult *
cf_pg_query_exec(cf_pg_store_t *st, const cf_query_t *q, int count,
    char *errbuf, size_t errlen)
{
    int           n, i, attempt;
    char         *sql, *bufs;
    Oid          *types;
    size_t        k;
    json_t       *v;
    PGresult     *res;
    const char  **values;

    sql = cf_query_pg_sql(q, count);
    if (sql == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }

    n = (int) json_array_size(q->params);

    values = calloc(n + 1, sizeof(char *));
    types = calloc(n + 1, sizeof(Oid));
    bufs = calloc(n + 1, 32);

    if (values == NULL || types == NULL || bufs == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        res = NULL;
        goto done;
    }

    json_array_foreach(q->params, k, v) {
        i = (int) k;
        types[i] = CF_PG_TEXTOID;

        switch (json_typeof(v)) {
        case JSON_STRING:
            values[i] = json_string_value(v);
            break;
        case JSON_INTEGER:
            snprintf(bufs + 32 * i, 32, "%lld",
                     (long long) json_integer_value(v));
            values[i] = bufs + 32 * i;
            break;
        case JSON_REAL:
            snprintf(bufs + 32 * i, 32, "%.17g", json_real_value(v));
            values[i] = bufs + 32 * i;
            break;
        case JSON_TRUE:
            values[i] = "1";
            break;
        case JSON_FALSE:
            values[i] = "0";
            break;
        default:
            values[i] = NULL;
            break;
        }
    }

    /*
     * A read outside a transaction: a connection lost since the last call
     * (a server restart) is reset and the query runs once more, as
     * cf_pg_exec does for the prepared statements.
     */
    for (attempt = 0; attempt < 2; attempt++) {
        if (PQstatus(st->conn) != CONNECTION_OK && !st->tx_open
            && cf_pg_reconnect(st) != 0)
        {
            snprintf(errbuf, errlen, "%s", cf_pg_store_errmsg(st));
            res = NULL;
            goto done;
        }

        res = PQexecParams(st->conn, sql, n, types, values, NULL, NULL, 0);

        if (PQresultStatus(res) == PGRES_TUPLES_OK
            || PQstatus(st->conn) == CONNECTION_OK || st->tx_open)
        {
            break;
        }

        PQclear(res);
        res = NULL;
    }

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(errbuf, errlen, "querying failed: %s",
                 res ? PQresultErrorMessage(res) : PQerrorMessage(st->conn));
        PQclear(res);
        res = NULL;
    }

done:

    free(sql);
    free(values);
    free(types);
    free(bufs);

    return res;
}


int
cf_pg_query_count(cf_pg_store_t *st, const cf_query_t *q, int64_t *count,
    char *errbuf, size_t errlen)
{
    PGresult  *res;

    res = cf_pg_query_exec(st, q, 1, errbuf, errlen);
    if (res == NULL) {
        return -1;
    }

    *count = cf_pg_int(res, 0, 0);
    PQclear(res);

    return 0;
}


static json_t *
cf_pg_query_snapshot_doc(PGresult *res, int i)
{
    cf_snapshot_row_t  row;

    row.aggregate_id = (char *) cf_pg_text(res, i, 0);
    row.tenant_id = (char *) cf_pg_text(res, i, 1);
    row.owner_id = (char *) cf_pg_text(res, i, 2);
    row.version = cf_pg_int(res, i, 3);
    row.event_id = (char *) cf_pg_text(res, i, 4);
    row.first_operator = (char *) cf_pg_text(res, i, 5);
    row.operator_ = (char *) cf_pg_text(res, i, 6);
    row.first_event_time = cf_pg_int(res, i, 7);
    row.event_time = cf_pg_int(res, i, 8);
    row.state = (char *) cf_pg_text(res, i, 9);
    row.snapshot_time = cf_pg_int(res, i, 10);
    row.deleted = cf_pg_int(res, i, 11) != 0;
    row.tags = (char *) cf_pg_text(res, i, 12);

    return cf_snapshot_to_json(&row);
}


static json_t *
cf_pg_query_event_doc(PGresult *res, int i)
{
    json_t            *doc;
    cf_stream_view_t   row;

    row.id = cf_pg_text(res, i, 0);
    row.header = cf_json_loads(cf_pg_text(res, i, 1), 0, NULL);
    row.aggregate_id = cf_pg_text(res, i, 2);
    row.tenant_id = cf_pg_text(res, i, 3);
    row.owner_id = cf_pg_text(res, i, 4);
    row.command_id = cf_pg_text(res, i, 5);
    row.request_id = cf_pg_text(res, i, 6);
    row.version = cf_pg_int(res, i, 7);
    row.body = cf_json_loads(cf_pg_text(res, i, 8), 0, NULL);
    row.create_time = cf_pg_int(res, i, 9);
    row.size = cf_pg_int(res, i, 10);

    doc = NULL;

    if (json_is_object(row.header) && json_is_array(row.body)) {
        doc = cf_stream_to_json(&row, 1, NULL);
    }

    json_decref(row.header);
    json_decref(row.body);

    return doc;
}


/*
 * cb with each document of q's answer, in order (cb takes the reference).
 * A page is bounded by the query limits, so the rows come in one result.
 * 0: done; 1: cb stopped it; -1: errbuf.
 */
int
cf_pg_query_each(cf_pg_store_t *st, const cf_query_t *q, int state_only,
    cf_query_doc_pt cb, void *data, char *errbuf, size_t errlen)
{
    int        i, n, stop;
    json_t    *doc;
    PGresult  *res;

    res = cf_pg_query_exec(st, q, 0, errbuf, errlen);
    if (res == NULL) {
        return -1;
    }

    n = PQntuples(res);
    stop = 0;

    for (i = 0; i < n; i++) {
        doc = (q->store == CF_QUERY_SNAPSHOT)
              ? cf_pg_query_snapshot_doc(res, i)
              : cf_pg_query_event_doc(res, i);

        if (doc == NULL) {
            snprintf(errbuf, errlen, "a stored %s row is damaged",
                     q->store == CF_QUERY_SNAPSHOT ? "snapshot"
                                                   : "event stream");
            PQclear(res);
            return -1;
        }

        stop = cf_query_deliver(q, state_only, doc, cb, data, errbuf,
                                errlen);

        if (stop < 0) {
            PQclear(res);
            return -1;
        }

        if (stop) {
            break;
        }
    }

    PQclear(res);

    return stop ? 1 : 0;
}


/*
 * The metrics: the statements of cf_sqlite_metrics.c, the rollup's sums
 * (schema version 3) as SQLite's snapshot_count, in one read snapshot.
 */
static const char  cf_pg_metrics_rollup_sql[] =
    "SELECT deleted, status, recoverable, is_retryable,"
    " is_below_retry_threshold, sum(n) FROM snapshot_count"
    " GROUP BY 1, 2, 3, 4, 5";

static const char  cf_pg_metrics_executing_sql[] =
    "SELECT count(*), count(*) FILTER (WHERE is_retryable = 1 AND"
    " recoverable IN ('RECOVERABLE', 'UNKNOWN'))"
    " FROM snapshot WHERE deleted = 0 AND status = 'PREPARED'"
    " AND timeout_at > $1::bigint";

static const char  cf_pg_metrics_next_retry_sql[] =
    "SELECT count(*), 0 FROM snapshot"
    " WHERE deleted = 0 AND is_retryable = 1 AND next_retry_at <= $1::bigint"
    " AND recoverable IN ('RECOVERABLE', 'UNKNOWN')"
    " AND (status = 'FAILED'"
    " OR (status = 'PREPARED' AND timeout_at <= $1::bigint))";


static PGresult *
cf_pg_metrics_exec(cf_pg_store_t *st, const char *sql, int64_t now,
    char *errbuf, size_t errlen)
{
    char         buf[24];
    Oid          type;
    PGresult    *res;
    const char  *value;

    type = CF_PG_TEXTOID;
    value = cf_pg_i64(buf, now);

    res = PQexecParams(st->conn, sql, sql == cf_pg_metrics_rollup_sql ? 0 : 1,
                       &type, &value, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(errbuf, errlen, "counting failed: %s",
                 res ? PQresultErrorMessage(res) : PQerrorMessage(st->conn));
        PQclear(res);
        return NULL;
    }

    return res;
}


int
cf_pg_metrics_counts(cf_pg_store_t *st, int64_t now, cf_exec_counts_t *out,
    char *errbuf, size_t errlen)
{
    int        i, rc, began;
    PGresult  *res;

    memset(out, 0, sizeof(cf_exec_counts_t));

    /* one snapshot for every count, unless the caller holds one */
    began = 0;

    if (!st->tx_open) {
        res = PQexec(st->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ"
                               " READ ONLY");

        if (PQresultStatus(res) != PGRES_COMMAND_OK
            && PQstatus(st->conn) != CONNECTION_OK)
        {
            /* lost since the last call: once more on a new connection */
            PQclear(res);
            res = NULL;

            if (cf_pg_reconnect(st) == 0) {
                res = PQexec(st->conn, "BEGIN ISOLATION LEVEL REPEATABLE"
                                       " READ READ ONLY");
            }
        }

        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            snprintf(errbuf, errlen, "counting failed: %s",
                     PQerrorMessage(st->conn));
            PQclear(res);
            return -1;
        }

        PQclear(res);
        began = 1;
    }

    rc = -1;

    res = cf_pg_metrics_exec(st, cf_pg_metrics_rollup_sql, now, errbuf,
                             errlen);
    if (res == NULL) {
        goto done;
    }

    for (i = 0; i < PQntuples(res); i++) {
        cf_metrics_add_rollup(out, (int) cf_pg_int(res, i, 0),
                              cf_pg_text(res, i, 1), cf_pg_text(res, i, 2),
                              (int) cf_pg_int(res, i, 3),
                              (int) cf_pg_int(res, i, 4),
                              cf_pg_int(res, i, 5));
    }

    PQclear(res);

    res = cf_pg_metrics_exec(st, cf_pg_metrics_executing_sql, now, errbuf,
                             errlen);
    if (res == NULL) {
        goto done;
    }

    out->category[CF_CATEGORY_EXECUTING] = cf_pg_int(res, 0, 0);
    out->category[CF_CATEGORY_TO_RETRY] -= cf_pg_int(res, 0, 1);
    PQclear(res);

    res = cf_pg_metrics_exec(st, cf_pg_metrics_next_retry_sql, now, errbuf,
                             errlen);
    if (res == NULL) {
        goto done;
    }

    out->category[CF_CATEGORY_NEXT_RETRY] = cf_pg_int(res, 0, 0);
    PQclear(res);

    rc = 0;

done:

    if (began) {
        res = PQexec(st->conn, rc == 0 ? "COMMIT" : "ROLLBACK");
        PQclear(res);
    }

    return rc;
}
