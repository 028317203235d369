
/*
 * Unit tests of the query compiler (cf_query.c) and its execution
 * (cf_sqlite_query.c): the SQL and the bound values for a table of
 * conditions, the errors of bad queries, DST-correct day boundaries, and
 * queries run against a real store.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cf_test.h"
#include "cf_sqlite_store.h"
#include "cf_query.h"
#include "cf_store.h"


#define T_NOW  1719800000000LL     /* 2024-07-01T02:13:20Z */


static int
t_compile(cf_query_store_t store, cf_query_kind_t kind, const char *body,
    cf_query_t *q, cf_error_t *err)
{
    int                 rc;
    json_t             *j;
    cf_query_limits_t   lim;

    cf_query_limits_init(&lim);
    cf_error_init(err);

    j = cf_t_json(body);
    rc = cf_query_compile(q, store, kind, j, &lim, NULL, T_NOW, err);
    json_decref(j);

    return rc;
}


/* the WHERE text and the parameters of a snapshot count */
static void
t_where(const char *cond, const char *where, const char *params)
{
    cf_query_t  q;
    cf_error_t  err;

    if (!CHECK(t_compile(CF_QUERY_SNAPSHOT, CF_QUERY_COUNT, cond, &q, &err)
               == 0))
    {
        printf("#     %s: %s\n", cond, err.msg);
        return;
    }

    CHECK_STR(q.where, where);
    CHECK_JSON(q.params, params);
    cf_query_free(&q);
}


static void
test_sql_table(void)
{
    t_where("{}", "tenant_id = '(0)' AND deleted = 0 AND 1", "[]");

    t_where("{\"operator\":\"DELETED\",\"value\":\"DELETED\"}",
            "tenant_id = '(0)' AND (deleted = 1)", "[]");

    /* hot column, typed: a number never equals a status */
    t_where("{\"field\":\"state.status\",\"operator\":\"EQ\","
            "\"value\":\"FAILED\"}",
            "tenant_id = '(0)' AND deleted = 0 AND (status = ?1)",
            "[\"FAILED\"]");
    t_where("{\"field\":\"state.status\",\"operator\":\"EQ\",\"value\":3}",
            "tenant_id = '(0)' AND deleted = 0 AND 0", "[]");
    t_where("{\"field\":\"state.status\",\"operator\":\"NE\",\"value\":3}",
            "tenant_id = '(0)' AND deleted = 0 AND NOT 0", "[]");

    /* booleans are 0/1 columns */
    t_where("{\"field\":\"state.isRetryable\",\"operator\":\"TRUE\"}",
            "tenant_id = '(0)' AND deleted = 0 AND (is_retryable = 1)",
            "[]");

    /* state paths come from the fixed table, never from the request */
    t_where("{\"field\":\"state.function.processorName\",\"operator\":\"IN\","
            "\"value\":[\"A\",7,null]}",
            "tenant_id = '(0)' AND deleted = 0 AND"
            " ((json_extract(state, '$.function.processorName') IS NULL)"
            " OR (json_extract(state, '$.function.processorName')"
            " IN (?1)))",
            "[\"A\"]");

    t_where("{\"field\":\"version\",\"operator\":\"BETWEEN\","
            "\"value\":[1,5]}",
            "tenant_id = '(0)' AND deleted = 0 AND ((version >= ?1) AND"
            " (version <= ?2))", "[1,5]");

    t_where("{\"field\":\"aggregateId\",\"operator\":\"STARTS_WITH\","
            "\"value\":\"0U\"}",
            "tenant_id = '(0)' AND deleted = 0 AND (EXISTS (SELECT 1 FROM"
            " (SELECT aggregate_id AS x) AS s0 WHERE substr(s0.x, 1,"
            " length(?1)) = ?1))", "[\"0U\"]");

    /* through an array: any element */
    t_where("{\"field\":\"state.error.bindingErrors.name\","
            "\"operator\":\"EQ\",\"value\":\"a\"}",
            "tenant_id = '(0)' AND deleted = 0 AND EXISTS (SELECT 1 FROM"
            " json_each(state, '$.error.bindingErrors') AS j0 WHERE"
            " (json_extract(j0.value, '$.name') = ?1))", "[\"a\"]");

    /* the time operators bind computed bounds (UTC midnight here) */
    t_where("{\"field\":\"snapshotTime\",\"operator\":\"TODAY\","
            "\"options\":{\"zoneId\":\"UTC\"}}",
            "tenant_id = '(0)' AND deleted = 0 AND ((snapshot_time >= ?1)"
            " AND (snapshot_time <= ?2))",
            "[1719792000000,1719878399999]");
    t_where("{\"field\":\"snapshotTime\",\"operator\":\"EARLIER_DAYS\","
            "\"value\":3,\"options\":{\"zoneId\":\"UTC\"}}",
            "tenant_id = '(0)' AND deleted = 0 AND (snapshot_time < ?1)",
            "[1719619200000]");
    t_where("{\"field\":\"state.id\",\"operator\":\"TODAY\","
            "\"options\":{\"zoneId\":\"+08:00\","
            "\"datePattern\":\"yyyy-MM-dd HH:mm\"}}",
            "tenant_id = '(0)' AND deleted = 0 AND"
            " ((json_extract(state, '$.id') >= ?1) AND"
            " (json_extract(state, '$.id') <= ?2))",
            "[\"2024-07-01 00:00\",\"2024-07-01 23:59\"]");
}


static void
test_sql_rollup_and_order(void)
{
    char        *sql;
    cf_query_t   q;
    cf_error_t   err;

    CHECK(t_compile(CF_QUERY_SNAPSHOT, CF_QUERY_COUNT,
                    "{\"field\":\"state.recoverable\",\"operator\":\"EQ\","
                    "\"value\":\"UNRECOVERABLE\"}", &q, &err) == 0);
    CHECK_INT(q.rollup, 1);
    sql = cf_query_sql(&q, 1);
    CHECK(sql && strncmp(sql, "SELECT coalesce(sum(n), 0) FROM"
                         " snapshot_count", 45) == 0);
    free(sql);
    cf_query_free(&q);

    /* sorting by a non-rollup column keeps the count on the rollup */
    CHECK(t_compile(CF_QUERY_SNAPSHOT, CF_QUERY_PAGED,
                    "{\"condition\":{\"field\":\"state.status\","
                    "\"operator\":\"EQ\",\"value\":\"SUCCEEDED\"},"
                    "\"sort\":[{\"field\":\"aggregateId\","
                    "\"direction\":\"DESC\"}]}", &q, &err) == 0);
    CHECK_INT(q.rollup, 1);
    cf_query_free(&q);

    CHECK(t_compile(CF_QUERY_SNAPSHOT, CF_QUERY_PAGED,
                    "{\"condition\":{\"field\":\"state.retryState.timeoutAt\","
                    "\"operator\":\"GT\",\"value\":1},"
                    "\"sort\":[{\"field\":\"aggregateId\","
                    "\"direction\":\"desc\"}],"
                    "\"pagination\":{\"index\":3,\"size\":20}}", &q, &err)
          == 0);
    CHECK_INT(q.rollup, 0);
    CHECK_STR(q.order, "ORDER BY aggregate_id DESC");
    CHECK_INT(q.limit, 20);
    CHECK_INT(q.offset, 40);
    cf_query_free(&q);

    /* events: ID is the stream id, header keys are bound paths */
    CHECK(t_compile(CF_QUERY_EVENT, CF_QUERY_LIST,
                    "{\"condition\":{\"operator\":\"AND\",\"children\":["
                    "{\"operator\":\"ID\",\"value\":\"s1\"},"
                    "{\"field\":\"header.trace_id\",\"operator\":\"EQ\","
                    "\"value\":\"t\"}]},\"sort\":[{\"field\":\"version\"}]}",
                    &q, &err) == 0);
    CHECK_STR(q.where, "tenant_id = '(0)' AND ((id = ?1) AND"
                       " (json_extract(header, ?2) = ?3))");
    CHECK_JSON(q.params, "[\"s1\",\"$.\\\"trace_id\\\"\",\"t\"]");
    CHECK_STR(q.order, "ORDER BY version ASC, id");
    CHECK_INT(q.limit, 10);
    cf_query_free(&q);
}


/* the WHERE text and parameters of a row query in a dialect (NULL:
 * SQLite's) */
static void
t_where_in(const cf_query_dialect_t *d, cf_query_store_t store,
    const char *cond, const char *where, const char *params)
{
    char                body[2048];
    json_t             *j;
    cf_query_t          q;
    cf_error_t          err;
    cf_query_limits_t   lim;

    cf_query_limits_init(&lim);
    lim.dialect = d;
    cf_error_init(&err);

    snprintf(body, sizeof(body), "{\"condition\":%s}", cond);
    j = cf_t_json(body);

    if (!CHECK(cf_query_compile(&q, store, CF_QUERY_LIST, j, &lim, NULL,
                                T_NOW, &err) == 0))
    {
        printf("#     %s: %s\n", cond, err.msg);
        json_decref(j);
        return;
    }

    json_decref(j);
    CHECK_STR(q.where, where);
    CHECK_JSON(q.params, params);
    cf_query_free(&q);
}


/*
 * The one emitter (cf_query_emit.c) in each dialect: the PostgreSQL text
 * compiled here without a server (test_pg_query.c runs it), SQLite's for
 * the operators the table above does not reach.
 */
static void
test_sql_dialects(void)
{
    const cf_query_dialect_t  *pg = &cf_query_pg_dialect;

    /* ignoreCase: ASCII folding on both sides (translate, not lower) */
    t_where_in(pg, CF_QUERY_SNAPSHOT,
        "{\"field\":\"state.error.errorMsg\",\"operator\":\"ENDS_WITH\","
        "\"value\":\"case\",\"options\":{\"ignoreCase\":true}}",
        "tenant_id = '(0)' AND deleted = 0 AND (EXISTS (SELECT 1 FROM"
        " (SELECT (CASE WHEN json_typeof(json_extract_path(state, 'error',"
        " 'errorMsg')) <> 'null' THEN json_extract_path(state, 'error',"
        " 'errorMsg') #>> '{}' END) AS x) AS s0 WHERE"
        " right(translate(s0.x, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',"
        " 'abcdefghijklmnopqrstuvwxyz'), length(translate($1::text,"
        " 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')))"
        " = translate($1::text, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',"
        " 'abcdefghijklmnopqrstuvwxyz')))", "[\"case\"]");
    t_where_in(NULL, CF_QUERY_SNAPSHOT,
        "{\"field\":\"state.error.errorMsg\",\"operator\":\"ENDS_WITH\","
        "\"value\":\"case\",\"options\":{\"ignoreCase\":true}}",
        "tenant_id = '(0)' AND deleted = 0 AND (EXISTS (SELECT 1 FROM"
        " (SELECT json_extract(state, '$.error.errorMsg') AS x) AS s0 WHERE"
        " length(s0.x) >= length(?1) AND lower(substr(s0.x, -length(?1)))"
        " = lower(?1)))", "[\"case\"]");

    /* a header key: its path bound, strings ordered by bytes */
    t_where_in(pg, CF_QUERY_EVENT,
        "{\"field\":\"header.trace_id\",\"operator\":\"GT\","
        "\"value\":\"T3\"}",
        "tenant_id = '(0)' AND ((CASE WHEN json_typeof(json_extract_path("
        "header, $1::text)) <> 'null' THEN json_extract_path(header,"
        " $2::text) #>> '{}' END) COLLATE \"C\" > $3::text)",
        "[\"trace_id\",\"trace_id\",\"T3\"]");

    /* a payload field of unknown type: its candidates, by JSON type */
    t_where_in(pg, CF_QUERY_EVENT,
        "{\"field\":\"body.body.retries\",\"operator\":\"GTE\","
        "\"value\":1}",
        "tenant_id = '(0)' AND EXISTS (SELECT 1 FROM json_array_elements("
        "CASE WHEN json_typeof(body) = 'array' THEN body END) AS j0(v) WHERE"
        " (EXISTS (SELECT 1 FROM (SELECT json_extract_path(j0.v, $1::text,"
        " $2::text) AS v UNION ALL SELECT json_array_elements(CASE WHEN"
        " json_typeof(json_extract_path(j0.v, $3::text, $4::text)) ="
        " 'array' THEN json_extract_path(j0.v, $5::text, $6::text) END))"
        " AS c1 WHERE (json_typeof(c1.v) = 'number' AND (c1.v #>>"
        " '{}')::numeric >= $7::bigint))))",
        "[\"body\",\"retries\",\"body\",\"retries\",\"body\","
        "\"retries\",1]");
    t_where_in(NULL, CF_QUERY_EVENT,
        "{\"field\":\"body.body.retries\",\"operator\":\"GTE\","
        "\"value\":1}",
        "tenant_id = '(0)' AND EXISTS (SELECT 1 FROM json_each(body) AS j0"
        " WHERE (EXISTS (SELECT 1 FROM (SELECT json_extract(j0.value, ?1)"
        " AS v, json_type(j0.value, ?2) AS t UNION ALL SELECT value, type"
        " FROM json_each(j0.value, ?3) WHERE json_type(j0.value, ?4) ="
        " 'array') AS c1 WHERE (c1.t IN ('integer', 'real') AND c1.v >="
        " ?5))))",
        "[\"$.body.retries\",\"$.body.retries\",\"$.body.retries\","
        "\"$.body.retries\",1]");

    /* an array: ELEM_MATCH over its objects, NULL by its JSON type */
    t_where_in(pg, CF_QUERY_SNAPSHOT,
        "{\"field\":\"state.error.bindingErrors\",\"operator\":"
        "\"ELEM_MATCH\",\"children\":[{\"field\":\"msg\",\"operator\":"
        "\"EQ\",\"value\":\"g\"}]}",
        "tenant_id = '(0)' AND deleted = 0 AND EXISTS (SELECT 1 FROM"
        " json_array_elements(CASE WHEN json_typeof(json_extract_path(state,"
        " 'error', 'bindingErrors')) = 'array' THEN json_extract_path(state,"
        " 'error', 'bindingErrors') END) AS e0(v) WHERE json_typeof(e0.v) ="
        " 'object' AND ((CASE WHEN json_typeof(json_extract_path(e0.v,"
        " 'msg')) <> 'null' THEN json_extract_path(e0.v, 'msg') #>> '{}'"
        " END) = $1::text))", "[\"g\"]");
    t_where_in(pg, CF_QUERY_SNAPSHOT,
        "{\"field\":\"state.error.bindingErrors\",\"operator\":"
        "\"NULL\"}",
        "tenant_id = '(0)' AND deleted = 0 AND ((coalesce(json_typeof("
        "json_extract_path(state, 'error', 'bindingErrors')), 'null') ="
        " 'null'))", "[]");

    /* a long list of a typed field: SQLite's IN over json_each (the
     * index serves it), PostgreSQL's rows compared by type */
    t_where_in(NULL, CF_QUERY_SNAPSHOT,
        "{\"field\":\"state.retrySpec.maxRetries\",\"operator\":\"IN\","
        "\"value\":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}",
        "tenant_id = '(0)' AND deleted = 0 AND (json_extract(state,"
        " '$.retrySpec.maxRetries') IN (SELECT value FROM json_each(?1)))",
        "[\"[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\"]");
    t_where_in(pg, CF_QUERY_SNAPSHOT,
        "{\"field\":\"state.retrySpec.maxRetries\",\"operator\":\"IN\","
        "\"value\":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}",
        "tenant_id = '(0)' AND deleted = 0 AND EXISTS (SELECT 1 FROM"
        " json_array_elements($1::json) AS l0(v) WHERE (json_typeof(l0.v) IN"
        " ('number') AND (CASE WHEN json_typeof(json_extract_path(state,"
        " 'retrySpec', 'maxRetries')) = 'number' THEN (json_extract_path("
        "state, 'retrySpec', 'maxRetries') #>> '{}')::numeric END) ="
        " (l0.v #>> '{}')::numeric))",
        "[\"[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\"]");

    /* booleans of a short list are the constants 1 and 0 in both */
    t_where_in(NULL, CF_QUERY_SNAPSHOT,
        "{\"field\":\"state.isRetryable\",\"operator\":\"IN\","
        "\"value\":[true,\"x\",false]}",
        "tenant_id = '(0)' AND deleted = 0 AND (is_retryable IN (1, 0))",
        "[]");
    t_where_in(pg, CF_QUERY_SNAPSHOT,
        "{\"field\":\"state.isRetryable\",\"operator\":\"IN\","
        "\"value\":[true,\"x\",false]}",
        "tenant_id = '(0)' AND deleted = 0 AND (is_retryable IN (1, 0))",
        "[]");
}


static void
t_bad(cf_query_kind_t kind, const char *body, const char *msg)
{
    cf_query_t  q;
    cf_error_t  err;

    if (!CHECK(t_compile(CF_QUERY_SNAPSHOT, kind, body, &q, &err) != 0)) {
        printf("#     accepted: %s\n", body);
        cf_query_free(&q);
        return;
    }

    CHECK_STR(err.code, CF_E_ILLEGAL_ARGUMENT);

    if (!CHECK(strstr(err.msg, msg) != NULL)) {
        printf("#     %s\n#     got \"%s\"\n", body, err.msg);
    }
}


static void
test_bad_queries(void)
{
    char    *big;
    size_t   i;

    t_bad(CF_QUERY_COUNT, "[]", "must be a JSON object");
    t_bad(CF_QUERY_COUNT, "{\"operator\":\"OR\",\"children\":[]}",
          "OR children cannot be empty");
    t_bad(CF_QUERY_COUNT, "{\"operator\":\"EQ\",\"value\":1}",
          "EQ needs a field");
    t_bad(CF_QUERY_COUNT, "{\"operator\":\"EQ\",\"field\":\"a\\\"b\","
          "\"value\":1}", "Unknown field");
    t_bad(CF_QUERY_COUNT, "{\"operator\":\"EQ\",\"field\":\"state.nope\","
          "\"value\":1}", "Unknown field \"state.nope\"");
    t_bad(CF_QUERY_COUNT, "{\"operator\":\"RAW\",\"value\":\"{}\"}",
          "RAW conditions are not supported");
    t_bad(CF_QUERY_COUNT, "{\"operator\":\"BETWEEN\",\"field\":\"version\","
          "\"value\":[1]}", "BETWEEN needs an array of two values");
    t_bad(CF_QUERY_COUNT, "{\"operator\":\"ELEM_MATCH\",\"field\":\"version\","
          "\"children\":[{}]}", "needs an array field");
    t_bad(CF_QUERY_COUNT, "{\"operator\":\"CONTAINS\",\"field\":\"version\","
          "\"value\":\"1\",\"options\":{\"ignoreCase\":\"yes\"}}",
          "ignoreCase must be a boolean");
    t_bad(CF_QUERY_COUNT, "{\"operator\":\"TODAY\",\"field\":\"version\","
          "\"options\":{\"zoneId\":\"/etc/passwd\"}}", "Unknown zoneId");
    t_bad(CF_QUERY_COUNT, "{\"operator\":\"TODAY\",\"field\":\"version\","
          "\"options\":{\"datePattern\":\"yyyy-QQ\"}}",
          "Unsupported datePattern");
    t_bad(CF_QUERY_COUNT, "{\"operator\":\"BEFORE_TODAY\","
          "\"field\":\"version\",\"value\":\"25:00\"}", "invalid time");
    t_bad(CF_QUERY_LIST, "{\"condition\":{},\"limit\":0}",
          "compensation_query_max_list_size");
    t_bad(CF_QUERY_PAGED, "{\"condition\":{},\"pagination\":"
          "{\"index\":0}}", "index must be at least 1");
    t_bad(CF_QUERY_PAGED, "{\"condition\":{},\"pagination\":"
          "{\"index\":\"1\"}}", "index must be an integer");
    t_bad(CF_QUERY_LIST, "{\"condition\":{},\"sort\":[{\"field\":"
          "\"state.error.bindingErrors.name\"}]}", "inside an array");

    /* 65 nodes */
    big = malloc(65 * 64 + 64);
    CHECK(big != NULL);
    strcpy(big, "{\"operator\":\"AND\",\"children\":[");
    for (i = 0; i < 64; i++) {
        strcat(big, i ? ",{}" : "{}");
    }
    strcat(big, "]}");
    t_bad(CF_QUERY_COUNT, big, "compensation_query_max_condition_nodes");
    free(big);
}


static void
test_zones(void)
{
    const char  *tz;

    tz = getenv("TZ");

    CHECK_INT(cf_query_zone_valid("Asia/Shanghai"), 0);
    CHECK_INT(cf_query_zone_valid("UTC+8"), 0);
    CHECK_INT(cf_query_zone_valid("-03:30"), 0);
    CHECK_INT(cf_query_zone_valid("Z"), 0);
    CHECK(cf_query_zone_valid("Mars/Olympus") != 0);
    CHECK(cf_query_zone_valid("../zoneinfo/UTC") != 0);
    CHECK(cf_query_zone_valid("Europe/../UTC") != 0);
    CHECK(cf_query_zone_valid("+25:00") != 0);

    /* 2024-03-10 in New York has 23 hours (DST starts at 02:00) */
    CHECK_INT(cf_query_day_start("America/New_York", 1710079200000LL, 0),
              1710046800000LL);
    CHECK_INT(cf_query_day_start("America/New_York", 1710079200000LL, 1),
              1710129600000LL);

    /* Monday of the ISO week, first of the month, a fixed offset */
    CHECK_INT(cf_query_week_start("UTC", T_NOW, 0), 1719792000000LL);
    CHECK_INT(cf_query_month_start("UTC", T_NOW, -1), 1717200000000LL);
    CHECK_INT(cf_query_day_start("+05:30", T_NOW, 0), 1719772200000LL);

    /* the process's TZ is restored */
    CHECK(getenv("TZ") == tz || (tz && getenv("TZ")
                                 && strcmp(getenv("TZ"), tz) == 0));
}


/* run against a real store: documents, rollup counts, projection */
static void
test_exec(void)
{
    char            dir[] = "/tmp/cf-query-XXXXXX", path[64], eb[256];
    json_t         *rows, *j;
    int64_t         n1, n2;
    cf_store_t     *st;
    cf_query_t      q;
    cf_error_t      err;
    cf_query_limits_t  lim;
    cf_store_options_t opts = { .busy_timeout_ms = 1000 };

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/q.db", dir);

    st = cf_store_open(path, &opts, eb, sizeof(eb));
    if (!CHECK(st != NULL)) {
        return;
    }

    CHECK_INT(cf_query_schema(st, eb, sizeof(eb)), 0);

    CHECK_INT(sqlite3_exec(cf_sqlite_store_db(st),
        "INSERT INTO snapshot (aggregate_id, tenant_id, owner_id, version,"
        " event_id, first_event_time, event_time, snapshot_time, deleted,"
        " state, status, recoverable, is_retryable,"
        " is_below_retry_threshold, retries, next_retry_at, timeout_at)"
        " VALUES"
        " ('a', '(0)', '', 1, 'e1', 1, 2, 3, 0, '{\"id\":\"a\",\"error\":"
        "{\"bindingErrors\":[{\"name\":\"x\",\"msg\":\"m\"}]}}', 'FAILED',"
        " 'UNKNOWN', 1, 1, 0, 5, 6),"
        " ('b', '(0)', '', 2, 'e2', 1, 2, 3, 0, '{\"id\":\"b\"}', 'SUCCEEDED',"
        " 'UNKNOWN', 0, 1, 1, 5, 6),"
        " ('c', '(0)', '', 2, 'e3', 1, 2, 3, 1, '{\"id\":\"c\"}', 'FAILED',"
        " 'UNKNOWN', 1, 1, 1, 5, 6)", NULL, NULL, NULL), SQLITE_OK);

    /* the rollup agrees with a scan */
    CHECK(t_compile(CF_QUERY_SNAPSHOT, CF_QUERY_COUNT,
                    "{\"field\":\"state.status\",\"operator\":\"EQ\","
                    "\"value\":\"FAILED\"}", &q, &err) == 0);
    CHECK_INT(q.rollup, 1);
    CHECK_INT(cf_query_count(st, &q, &n1, eb, sizeof(eb)), 0);
    q.rollup = 0;
    CHECK_INT(cf_query_count(st, &q, &n2, eb, sizeof(eb)), 0);
    CHECK_INT(n1, 1);
    CHECK_INT(n2, 1);
    cf_query_free(&q);

    /* ELEM_MATCH and projection of a nested path through an array */
    cf_query_limits_init(&lim);
    cf_error_init(&err);
    j = cf_t_json("{\"condition\":{\"field\":\"state.error.bindingErrors\","
                  "\"operator\":\"ELEM_MATCH\",\"children\":[{\"field\":"
                  "\"name\",\"operator\":\"EQ\",\"value\":\"x\"}]},"
                  "\"projection\":{\"include\":"
                  "[\"state.error.bindingErrors.msg\"]}}");
    CHECK_INT(cf_query_compile(&q, CF_QUERY_SNAPSHOT, CF_QUERY_LIST, j, &lim,
                               NULL, T_NOW, &err), 0);
    json_decref(j);

    rows = cf_query_rows(st, &q, 0, eb, sizeof(eb));
    CHECK_JSON(rows, "[{\"aggregateId\":\"a\",\"state\":{\"error\":"
                     "{\"bindingErrors\":[{\"msg\":\"m\"}]}}}]");
    json_decref(rows);
    cf_query_free(&q);

    /* a path included twice (aggregateId is always included): one copy,
     * no leak (valgrind found one per row; LeakSanitizer checks it here) */
    CHECK(t_compile(CF_QUERY_SNAPSHOT, CF_QUERY_LIST,
                    "{\"condition\":{\"operator\":\"ID\",\"value\":\"b\"},"
                    "\"projection\":{\"include\":[\"aggregateId\","
                    "\"aggregateId\",\"state.id\",\"state.id\"]}}",
                    &q, &err) == 0);
    rows = cf_query_rows(st, &q, 0, eb, sizeof(eb));
    CHECK_JSON(rows, "[{\"aggregateId\":\"b\",\"state\":{\"id\":\"b\"}}]");
    json_decref(rows);
    cf_query_free(&q);

    /* list state, sorted DESC, deleted hidden */
    CHECK(t_compile(CF_QUERY_SNAPSHOT, CF_QUERY_LIST,
                    "{\"condition\":{},\"sort\":[{\"field\":\"aggregateId\","
                    "\"direction\":\"DESC\"}]}", &q, &err) == 0);
    rows = cf_query_rows(st, &q, 1, eb, sizeof(eb));
    CHECK_JSON(rows, "[{\"id\":\"b\"},{\"id\":\"a\",\"error\":"
                     "{\"bindingErrors\":[{\"name\":\"x\",\"msg\":\"m\"}]}}]");
    json_decref(rows);
    cf_query_free(&q);

    /*
     * fuzz/regressions/query/sort-header-paged-count: a paged event query
     * sorted by a header key binds that key for the ORDER BY, which the
     * count text does not have ("column index out of range": a 500)
     */
    CHECK(t_compile(CF_QUERY_EVENT, CF_QUERY_PAGED,
                    "{\"condition\":{},\"sort\":[{\"field\":"
                    "\"header.remote_ip\"}]}", &q, &err) == 0);
    CHECK(json_array_size(q.params) > 0);
    n1 = -1;
    CHECK_INT(cf_query_count(st, &q, &n1, eb, sizeof(eb)), 0);
    CHECK_INT(n1, 0);
    rows = cf_query_rows(st, &q, 0, eb, sizeof(eb));
    CHECK_JSON(rows, "[]");
    json_decref(rows);
    cf_query_free(&q);

    /*
     * fuzz/regressions/query/projection-duplicate-path: a path included
     * twice (or a path and then its parent) leaked the first copy
     */
    cf_error_init(&err);
    j = cf_t_json("{\"condition\":{\"operator\":\"AGGREGATE_ID\","
                  "\"value\":\"a\"},\"projection\":{\"include\":"
                  "[\"firstEventTime\",\"firstEventTime\","
                  "\"state.error.bindingErrors.msg\",\"state.error\"]}}");
    CHECK_INT(cf_query_compile(&q, CF_QUERY_SNAPSHOT, CF_QUERY_LIST, j, &lim,
                               NULL, T_NOW, &err), 0);
    json_decref(j);
    rows = cf_query_rows(st, &q, 0, eb, sizeof(eb));
    CHECK_JSON(rows, "[{\"aggregateId\":\"a\",\"firstEventTime\":1,"
                     "\"state\":{\"error\":"
                     "{\"bindingErrors\":[{\"name\":\"x\",\"msg\":"
                     "\"m\"}]}}}]");
    json_decref(rows);
    cf_query_free(&q);

    cf_store_close(st);
    snprintf(eb, sizeof(eb), "rm -rf %s", dir);
    CHECK(system(eb) == 0);
}


static long long
t_int(sqlite3 *db, const char *sql)
{
    long long      v;
    sqlite3_stmt  *s;

    v = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW) {
            v = sqlite3_column_int64(s, 0);
        }

        sqlite3_finalize(s);
    }

    return v;
}


/* the dashboard's categories (spec 8.2, bench/query.sh) at T_NOW, and two
 * conditions of none */
#define T_R  "{\"field\":\"state.recoverable\",\"operator\":\"IN\"," \
             "\"value\":[\"RECOVERABLE\",\"UNKNOWN\"]}"
#define T_TO_RETRY                                                          \
    "{\"field\":\"state.isRetryable\",\"operator\":\"EQ\",\"value\":true},"  \
    "{\"operator\":\"OR\",\"children\":[{\"field\":\"state.status\","        \
    "\"operator\":\"EQ\",\"value\":\"FAILED\"},{\"operator\":\"AND\","       \
    "\"children\":[{\"field\":\"state.status\",\"operator\":\"EQ\","         \
    "\"value\":\"PREPARED\"},{\"field\":\"state.retryState.timeoutAt\","     \
    "\"operator\":\"LTE\",\"value\":1719800000000}]}]}"

static const struct {
    const char  *cond;
    const char  *index;         /* the plan reads the page from it */
} t_categories[] = {
    { "{\"operator\":\"AND\",\"children\":[" T_R "," T_TO_RETRY "]}",
      "COVERING INDEX snapshot_q_retryable" },
    { "{\"operator\":\"AND\",\"children\":[{\"field\":\"state.status\","
      "\"operator\":\"EQ\",\"value\":\"PREPARED\"},{\"field\":"
      "\"state.retryState.timeoutAt\",\"operator\":\"GT\","
      "\"value\":1719800000000}]}", "COVERING INDEX snapshot_q_status" },
    { "{\"operator\":\"AND\",\"children\":[" T_R "," T_TO_RETRY ","
      "{\"field\":\"state.retryState.nextRetryAt\",\"operator\":\"LTE\","
      "\"value\":1719800000000}]}", "COVERING INDEX snapshot_q_retryable" },
    { "{\"operator\":\"AND\",\"children\":[" T_R ",{\"field\":"
      "\"state.status\",\"operator\":\"IN\",\"value\":[\"FAILED\","
      "\"PREPARED\"]},{\"field\":\"state.isBelowRetryThreshold\","
      "\"operator\":\"EQ\",\"value\":false}]}",
      "COVERING INDEX snapshot_q_over_threshold" },
    { "{\"field\":\"state.status\",\"operator\":\"EQ\","
      "\"value\":\"SUCCEEDED\"}", "COVERING INDEX snapshot_q_status" },
    { "{\"operator\":\"AND\",\"children\":[{\"field\":"
      "\"state.recoverable\",\"operator\":\"EQ\",\"value\":"
      "\"UNRECOVERABLE\"},{\"field\":\"state.status\",\"operator\":\"IN\","
      "\"value\":[\"FAILED\",\"PREPARED\"]}]}",
      "COVERING INDEX snapshot_q_unrecoverable" },
    /* conditions of no category: the hot columns in snapshot_q_status */
    { "{\"field\":\"state.recoverable\",\"operator\":\"EQ\","
      "\"value\":\"RECOVERABLE\"}", "COVERING INDEX snapshot_q_status" },
    { "{\"field\":\"state.retryState.retries\",\"operator\":\"GT\","
      "\"value\":3}", "COVERING INDEX snapshot_q_status" }
};

#define T_CATEGORIES  (sizeof(t_categories) / sizeof(t_categories[0]))


/*
 * Each category's total (counted from the table, not the rollup) and the
 * ids of its first two pages, sorted by aggregateId DESC, as one text;
 * plan: the query plan of the first page's statement is appended.
 */
static char *
t_category_answer(cf_store_t *st, size_t k, int plan)
{
    int            n;
    char           eb[256], body[2048], planned[1024], *sql, *text;
    size_t         i, len;
    json_t        *rows, *doc, *v;
    int64_t        count;
    cf_query_t     q;
    cf_error_t     err;
    sqlite3_stmt  *s;

    planned[0] = '\0';
    len = 8192;
    text = calloc(1, len);
    if (text == NULL) {
        return NULL;
    }

    for (n = 1; n <= 2; n++) {
        snprintf(body, sizeof(body), "{\"condition\":%s,\"sort\":[{\"field\":"
                 "\"aggregateId\",\"direction\":\"DESC\"}],\"pagination\":"
                 "{\"index\":%d,\"size\":10}}", t_categories[k].cond, n);

        if (!CHECK(t_compile(CF_QUERY_SNAPSHOT, CF_QUERY_PAGED, body, &q,
                             &err) == 0))
        {
            printf("#     %s\n", err.msg);
            return text;
        }

        if (n == 1) {
            q.rollup = 0;
            count = -1;
            CHECK_INT(cf_query_count(st, &q, &count, eb, sizeof(eb)), 0);
            snprintf(text + strlen(text), len - strlen(text), "%lld:",
                     (long long) count);
        }

        rows = cf_query_rows(st, &q, 0, eb, sizeof(eb));
        CHECK(json_is_array(rows));

        json_array_foreach(rows, i, doc) {
            v = json_object_get(doc, "aggregateId");
            snprintf(text + strlen(text), len - strlen(text), " %s",
                     json_string_value(v) ? json_string_value(v) : "?");
        }

        json_decref(rows);

        if (plan && n == 1) {
            sql = cf_query_sql(&q, 0);
            snprintf(body, sizeof(body), "EXPLAIN QUERY PLAN %s", sql);
            free(sql);

            CHECK_INT(sqlite3_prepare_v2(cf_sqlite_store_db(st), body, -1,
                                         &s, NULL), SQLITE_OK);

            /* bound as cf_sqlite_query.c binds them: the string values
             * decide which partial index applies */
            json_array_foreach(q.params, i, v) {
                if (json_is_string(v)) {
                    sqlite3_bind_text(s, (int) i + 1, json_string_value(v),
                                      -1, SQLITE_TRANSIENT);
                } else {
                    sqlite3_bind_int64(s, (int) i + 1,
                                       json_integer_value(v));
                }
            }

            strcpy(planned, " plan:");

            while (sqlite3_step(s) == SQLITE_ROW) {
                snprintf(planned + strlen(planned),
                         sizeof(planned) - strlen(planned), " %s;",
                         (const char *) sqlite3_column_text(s, 3));
            }

            sqlite3_finalize(s);
        }

        cf_query_free(&q);
    }

    strncat(text, planned, len - strlen(text) - 1);

    return text;
}


/* the version 2 query indexes, as version 2 created them */
static const char  t_v2_indexes[] =
    "DROP INDEX snapshot_q_status; DROP INDEX snapshot_q_retryable;"
    "DROP INDEX snapshot_q_over_threshold;"
    "DROP INDEX snapshot_q_unrecoverable;"
    "CREATE INDEX snapshot_q_status ON snapshot"
    " (tenant_id, deleted, status, aggregate_id);"
    "CREATE INDEX snapshot_q_timeout ON snapshot"
    " (tenant_id, deleted, status, timeout_at, aggregate_id);"
    "CREATE INDEX snapshot_q_retry ON snapshot"
    " (tenant_id, deleted, is_retryable, next_retry_at, status, timeout_at,"
    " recoverable, aggregate_id);"
    "CREATE INDEX snapshot_q_below ON snapshot"
    " (tenant_id, deleted, is_below_retry_threshold, recoverable, status,"
    " aggregate_id);"
    "CREATE INDEX snapshot_q_recoverable ON snapshot"
    " (tenant_id, deleted, recoverable, status, aggregate_id);"
    "PRAGMA user_version = 2;";


/*
 * Schema version 3 (partial query indexes) against a version 2 file: the
 * same answers for the dashboard's six categories, the migration runs
 * once when the file is opened, and each category's page is read from
 * its index.  The rows follow bench/query-seed.sql's distribution.
 */
static void
test_schema_v3(void)
{
    char                dir[] = "/tmp/cf-query-XXXXXX", path[64], eb[256];
    char               *v2[T_CATEGORIES], *v3;
    size_t              k;
    long long           n;
    sqlite3            *db;
    cf_store_t         *st;
    cf_store_options_t  opts = { .busy_timeout_ms = 1000 };

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/q.db", dir);

    st = cf_store_open(path, &opts, eb, sizeof(eb));
    if (!CHECK(st != NULL)) {
        return;
    }

    CHECK_INT(cf_query_schema(st, eb, sizeof(eb)), 0);
    db = cf_sqlite_store_db(st);
    CHECK_INT(t_int(db, "PRAGMA user_version"), 3);

    CHECK_INT(sqlite3_exec(db,
        "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c"
        " WHERE i < 2999),"
        " s AS (SELECT i, printf('0U2m%011d', i) AS id, i % 100 AS k,"
        " 1719800000000 - (3000 - i) * 60000 AS t FROM c),"
        " r AS (SELECT *,"
        " CASE WHEN k < 60 THEN 'SUCCEEDED' WHEN k IN (70, 71, 72)"
        " THEN 'PREPARED' ELSE 'FAILED' END AS status,"
        " CASE WHEN k >= 92 THEN 'UNRECOVERABLE' WHEN k % 2 = 0"
        " THEN 'UNKNOWN' ELSE 'RECOVERABLE' END AS recoverable,"
        " CASE WHEN k BETWEEN 73 AND 91 THEN 10 WHEN k < 60 THEN 1"
        " ELSE i % 10 END AS retries FROM s)"
        " INSERT INTO snapshot (aggregate_id, tenant_id, owner_id, version,"
        " event_id, first_event_time, event_time, snapshot_time, deleted,"
        " state, status, recoverable, is_retryable,"
        " is_below_retry_threshold, retries, next_retry_at, timeout_at)"
        " SELECT id, '(0)', '', 2, 'e' || id, t, t, t, (k < 3),"
        " json_object('id', id), status, recoverable,"
        " (status <> 'SUCCEEDED' AND retries < 10), (retries < 10), retries,"
        " CASE WHEN k BETWEEN 60 AND 64 THEN 1719800000000 - 60000"
        " WHEN k BETWEEN 65 AND 69 THEN 1719800000000 + 3600000"
        " ELSE t + 180000 END,"
        " CASE WHEN k = 70 THEN 1719800000000 + 60000 ELSE t + 120000 END"
        " FROM r", NULL, NULL, NULL), SQLITE_OK);

    /* the answers with version 2's full indexes */
    CHECK_INT(sqlite3_exec(db, t_v2_indexes, NULL, NULL, NULL), SQLITE_OK);

    for (k = 0; k < T_CATEGORIES; k++) {
        v2[k] = t_category_answer(st, k, 0);
    }

    /* a version 2 file opened: migrated once, in the schema transaction */
    cf_store_close(st);
    st = cf_store_open(path, &opts, eb, sizeof(eb));
    if (!CHECK(st != NULL)) {
        return;
    }

    db = cf_sqlite_store_db(st);
    CHECK_INT(t_int(db, "PRAGMA user_version"), 2);
    CHECK_INT(cf_query_schema(st, eb, sizeof(eb)), 0);
    CHECK_INT(t_int(db, "PRAGMA user_version"), 3);
    CHECK_INT(t_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN"
                           " ('snapshot_q_timeout', 'snapshot_q_retry',"
                           " 'snapshot_q_below', 'snapshot_q_recoverable')"),
              0);
    CHECK_INT(t_int(db, "SELECT count(*) FROM sqlite_master WHERE"
                           " type = 'index' AND name LIKE 'snapshot_q_%'"
                           " AND sql LIKE '% WHERE %'"), 3);
    CHECK_INT(t_int(db, "SELECT count(*) FROM pragma_index_info("
                        "'snapshot_q_status')"), 10);

    for (k = 0; k < T_CATEGORIES; k++) {
        v3 = t_category_answer(st, k, 1);

        if (!CHECK(v3 != NULL && v2[k] != NULL
                   && strncmp(v3, v2[k], strlen(v2[k])) == 0
                   && strstr(v3, t_categories[k].index) != NULL))
        {
            printf("#     category %zu, expected %s\n#     version 2: %s\n"
                   "#     version 3: %s\n", k, t_categories[k].index,
                   v2[k] ? v2[k] : "(null)", v3 ? v3 : "(null)");
        }

        free(v3);
        free(v2[k]);
    }

    /* opened again: version 3 stays, nothing is dropped or rebuilt */
    n = t_int(db, "SELECT sum(rootpage) FROM sqlite_master");
    cf_store_close(st);
    st = cf_store_open(path, &opts, eb, sizeof(eb));
    if (!CHECK(st != NULL)) {
        return;
    }

    db = cf_sqlite_store_db(st);
    CHECK_INT(t_int(db, "PRAGMA user_version"), 3);
    CHECK_INT(cf_query_schema(st, eb, sizeof(eb)), 0);
    CHECK_INT(t_int(db, "PRAGMA user_version"), 3);
    CHECK_INT(t_int(db, "SELECT sum(rootpage) FROM sqlite_master"), n);

    cf_store_close(st);
    snprintf(eb, sizeof(eb), "rm -rf %s", dir);
    CHECK(system(eb) == 0);
}


const cf_test_t  cf_tests_query[] = {
    { "query: SQL and parameters for a table of conditions",
      test_sql_table },
    { "query: rollup counts, sort, pagination, event fields",
      test_sql_rollup_and_order },
    { "query: the emitter's text in the SQLite and PostgreSQL dialects",
      test_sql_dialects },
    { "query: bad queries are IllegalArgument naming the problem",
      test_bad_queries },
    { "query: zones, DST-correct day boundaries, TZ restored", test_zones },
    { "query: execution against a store", test_exec },
    { "query: schema version 3 from a version 2 file, the six categories",
      test_schema_v3 },
    { NULL, NULL }
};
