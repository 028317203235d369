/*
 * ngx_compensation: the PostgreSQL query dialect (cf_query_pg.c) against
 * SQLite's: the same executions written to a SQLite file and to
 * PostgreSQL, then every query of a generated set (each operator, sort,
 * limit/offset, pagination and projection) compiled in each dialect and
 * run on its store: the same documents in the same order, the same
 * counts, the same metrics.  And hostile names and values never reach the
 * SQL text.  Run by `make unit-pg` (test_pg.c's table).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cf_test.h"
#include "cf_store.h"
#include "cf_query.h"
#include "cf_metrics.h"
#include "cf_service.h"
#include "cf_exec.h"


#define T_NOW  CF_T_EXECUTE_AT

void test_pg_query_diff(void);
void test_pg_query_hostile(void);

cf_store_t *cf_pq_open_pg(void);
void cf_pq_reset_pg(void);
int cf_pq_step(cf_store_t *st, cf_aggregate_t *agg, cf_command_type_t type,
    const char *body, int64_t now);


/* the executions: statuses, retries, tags, times, errors, events */
static int
t_seed(cf_store_t *st)
{
    int             i, rc;
    char            id[16], body[1024];
    cf_aggregate_t  agg;

    static const char  *codes[] = {
        "BadRequest", "badrequest", "Timeout", "50%_off", "Ünïcode", "a\\\"b"
    };
    static const char  *msgs[] = {
        "boom", "Boom at node 3", "", "x_y%z", "MiXeD CaSe", "ÀÉ lower"
    };

    for (i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "q%02d", (i * 7) % 30);

        snprintf(body, sizeof(body),
            "{\"eventId\":{\"id\":\"ev%d\",\"aggregateId\":{\"contextName\":"
            "\"ctx%d\",\"aggregateName\":\"order\",\"aggregateId\":\"o%d\","
            "\"tenantId\":\"%s\"},\"version\":%d},"
            "\"function\":{\"functionKind\":\"%s\",\"contextName\":\"c%d\","
            "\"processorName\":\"P%d\",\"name\":\"n%d\"},"
            "\"error\":{\"errorCode\":\"%s\",\"errorMsg\":\"%s\","
            "\"stackTrace\":\"st\"%s},"
            "\"executeAt\":%lld%s}",
            i, i % 3, i, (i % 4) ? "(0)" : "t1", i % 5 + 1,
            (i % 2) ? "EVENT" : "STATE_EVENT", i % 3, i % 4, i,
            codes[i % 6], msgs[(i / 2) % 6],
            (i % 3 == 0) ? ",\"bindingErrors\":[{\"name\":\"a\",\"msg\":\"b\"},"
                           "{\"name\":\"f\",\"msg\":\"g\"}]"
                         : (i % 3 == 1) ? ",\"bindingErrors\":[]" : "",
            (long long) (T_NOW - 86400000LL * (i % 9) - 1000 * i),
            (i % 5 == 0) ? ",\"retrySpec\":{\"maxRetries\":1,"
                           "\"minBackoff\":1,\"executionTimeout\":10}"
                         : (i % 5 == 1) ? ",\"recoverable\":\"UNRECOVERABLE\""
                         : "");

        if (cf_aggregate_init(&agg, id) != 0) {
            return -1;
        }

        rc = cf_pq_step(st, &agg, CF_CMD_CREATE_EXECUTION_FAILED, body,
                        T_NOW - 3600000LL + i * 1000);

        if (rc == 0 && i % 3 == 0) {
            rc = cf_pq_step(st, &agg, CF_CMD_APPLY_RESOURCE_TAGS,
                            (i % 2) ? "{\"tags\":{\"dept\":[\"eng\",\"pm\"]}}"
                                    : "{\"tags\":{\"dept\":[\"ops\"]}}",
                            T_NOW - 3000000LL + i);
        }

        switch (rc == 0 ? i % 7 : -1) {
        case 1:
            rc = cf_pq_step(st, &agg, CF_CMD_PREPARE_COMPENSATION, NULL,
                            T_NOW - 2000000LL + i);
            if (rc == 0) {
                rc = cf_pq_step(st, &agg, CF_CMD_APPLY_EXECUTION_SUCCESS,
                                "{\"executeAt\":1719700000000}",
                                T_NOW - 1900000LL + i);
            }
            break;
        case 2:
            /* executing: within its timeout, or past it */
            rc = cf_pq_step(st, &agg, CF_CMD_PREPARE_COMPENSATION, NULL,
                            (i % 2) ? T_NOW - 10 : T_NOW - 1000000LL);
            break;
        case 3:
            rc = cf_pq_step(st, &agg, CF_CMD_PREPARE_COMPENSATION, NULL,
                            T_NOW - 2000000LL + i);
            if (rc == 0) {
                rc = cf_pq_step(st, &agg, CF_CMD_APPLY_EXECUTION_FAILED,
                                "{\"executeAt\":1719700000000,\"error\":{\"errorCode\":\"Again\","
                                "\"errorMsg\":\"again\",\"stackTrace\":\"s\","
                                "\"bindingErrors\":null}}",
                                T_NOW - 1800000LL + i);
            }
            break;
        case 4:
            rc = cf_pq_step(st, &agg, CF_CMD_MARK_RECOVERABLE,
                            (i % 5 == 1) ? "{\"recoverable\":\"RECOVERABLE\"}"
                                         : "{\"recoverable\":\"UNRECOVERABLE\"}",
                            T_NOW - 1700000LL + i);
            break;
        case 5:
            rc = cf_pq_step(st, &agg, CF_CMD_DELETE_AGGREGATE, NULL,
                            T_NOW - 1600000LL + i);
            break;
        case 6:
            rc = cf_pq_step(st, &agg, CF_CMD_APPLY_RETRY_SPEC,
                            "{\"maxRetries\":0,\"minBackoff\":5,"
                            "\"executionTimeout\":7}",
                            T_NOW - 1500000LL + i);
            break;
        default:
            break;
        }

        cf_aggregate_free(&agg);

        if (rc != 0) {
            printf("#   seeding %s (%d) failed\n", id, i);
            return -1;
        }
    }

    return 0;
}


/* the conditions: every operator, on columns, JSON paths, arrays, events */
static const char  *t_snapshot_conds[] = {
    "{}",
    "{\"operator\":\"ALL\"}",
    "{\"field\":\"state.status\",\"operator\":\"EQ\",\"value\":\"FAILED\"}",
    "{\"field\":\"state.status\",\"operator\":\"NE\",\"value\":\"FAILED\"}",
    "{\"field\":\"aggregateId\",\"operator\":\"GT\",\"value\":\"q1\"}",
    "{\"field\":\"aggregateId\",\"operator\":\"LTE\",\"value\":\"q15\"}",
    "{\"field\":\"tenantId\",\"operator\":\"IN\",\"value\":[\"t1\",\"x\"]}",
    "{\"field\":\"tenantId\",\"operator\":\"NOT_IN\",\"value\":[\"t1\"]}",
    "{\"field\":\"state.status\",\"operator\":\"IN\",\"value\":[\"FAILED\","
    "\"PREPARED\",null]}",
    "{\"field\":\"version\",\"operator\":\"GTE\",\"value\":2}",
    "{\"field\":\"version\",\"operator\":\"LT\",\"value\":2.5}",
    "{\"field\":\"version\",\"operator\":\"BETWEEN\",\"value\":[2,3]}",
    "{\"field\":\"state.retryState.retries\",\"operator\":\"GT\","
    "\"value\":0}",
    "{\"field\":\"state.retryState.nextRetryAt\",\"operator\":\"LTE\","
    "\"value\":1719800000000}",
    "{\"field\":\"state.isRetryable\",\"operator\":\"EQ\",\"value\":true}",
    "{\"field\":\"state.isBelowRetryThreshold\",\"operator\":\"EQ\","
    "\"value\":false}",
    "{\"field\":\"state.recoverable\",\"operator\":\"EQ\","
    "\"value\":\"UNRECOVERABLE\"}",
    "{\"field\":\"state.error.errorCode\",\"operator\":\"EQ\","
    "\"value\":\"BadRequest\"}",
    "{\"field\":\"state.error.errorCode\",\"operator\":\"GT\","
    "\"value\":\"a\"}",
    "{\"field\":\"state.error.errorCode\",\"operator\":\"LT\","
    "\"value\":\"Z\"}",
    "{\"field\":\"state.error.errorCode\",\"operator\":\"CONTAINS\","
    "\"value\":\"%_\"}",
    "{\"field\":\"state.error.errorCode\",\"operator\":\"CONTAINS\","
    "\"value\":\"request\",\"options\":{\"ignoreCase\":true}}",
    "{\"field\":\"state.error.errorMsg\",\"operator\":\"STARTS_WITH\","
    "\"value\":\"boom\",\"options\":{\"ignoreCase\":true}}",
    "{\"field\":\"state.error.errorMsg\",\"operator\":\"ENDS_WITH\","
    "\"value\":\"case\",\"options\":{\"ignoreCase\":true}}",
    "{\"field\":\"state.error.errorMsg\",\"operator\":\"CONTAINS\","
    "\"value\":\"àé\",\"options\":{\"ignoreCase\":true}}",
    "{\"field\":\"state.error.errorMsg\",\"operator\":\"CONTAINS\","
    "\"value\":\"\"}",
    "{\"field\":\"state.error.errorMsg\",\"operator\":\"ENDS_WITH\","
    "\"value\":\"3\"}",
    "{\"field\":\"state.error.errorCode\",\"operator\":\"EQ\","
    "\"value\":\"a\\\"b\"}",
    "{\"field\":\"state.error.bindingErrors.name\",\"operator\":\"EQ\","
    "\"value\":\"f\"}",
    "{\"field\":\"state.error.bindingErrors\",\"operator\":\"ELEM_MATCH\","
    "\"children\":[{\"field\":\"msg\",\"operator\":\"EQ\",\"value\":\"g\"}]}",
    "{\"field\":\"state.error.bindingErrors\",\"operator\":\"NULL\"}",
    "{\"field\":\"state.error.bindingErrors\",\"operator\":\"NOT_NULL\"}",
    "{\"field\":\"state.error.bindingErrors\",\"operator\":\"EXISTS\","
    "\"value\":false}",
    "{\"field\":\"state.error.bindingErrors\",\"operator\":\"EQ\","
    "\"value\":[]}",
    "{\"field\":\"state.error.bindingErrors.name\",\"operator\":\"ALL_IN\","
    "\"value\":[\"a\",\"f\"]}",
    "{\"field\":\"state.error.bindingErrors.name\",\"operator\":\"IN\","
    "\"value\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\","
    "\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\",\"r\"]}",
    "{\"field\":\"tenantId\",\"operator\":\"IN\","
    "\"value\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\","
    "\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\",\"t1\"]}",
    "{\"field\":\"state.retrySpec.maxRetries\",\"operator\":\"IN\","
    "\"value\":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}",
    "{\"field\":\"state.function.functionKind\",\"operator\":\"EQ\","
    "\"value\":\"EVENT\"}",
    "{\"field\":\"state.function\",\"operator\":\"EQ\",\"value\":"
    "{\"functionKind\":\"EVENT\",\"contextName\":\"c1\","
    "\"processorName\":\"P1\",\"name\":\"n1\"}}",
    "{\"field\":\"state.eventId.version\",\"operator\":\"GT\",\"value\":2}",
    "{\"field\":\"state.error.succeeded\",\"operator\":\"EQ\","
    "\"value\":false}",
    "{\"field\":\"state.executeAt\",\"operator\":\"TODAY\"}",
    "{\"field\":\"state.executeAt\",\"operator\":\"RECENT_DAYS\","
    "\"value\":3}",
    "{\"field\":\"state.executeAt\",\"operator\":\"EARLIER_DAYS\","
    "\"value\":3}",
    "{\"field\":\"state.executeAt\",\"operator\":\"BEFORE_TODAY\","
    "\"value\":\"06:00:00\"}",
    "{\"field\":\"state.executeAt\",\"operator\":\"THIS_WEEK\"}",
    "{\"field\":\"state.executeAt\",\"operator\":\"LAST_MONTH\"}",
    "{\"field\":\"deleted\",\"operator\":\"EQ\",\"value\":true}",
    "{\"operator\":\"DELETED\",\"value\":\"ALL\"}",
    "{\"operator\":\"DELETED\",\"value\":\"DELETED\"}",
    "{\"field\":\"tags\",\"operator\":\"EQ\","
    "\"value\":{\"dept\":[\"ops\"]}}",
    "{\"operator\":\"OR\",\"children\":[{\"field\":\"state.status\","
    "\"operator\":\"EQ\",\"value\":\"SUCCEEDED\"},{\"operator\":\"AND\","
    "\"children\":[{\"field\":\"state.status\",\"operator\":\"EQ\","
    "\"value\":\"PREPARED\"},{\"field\":\"state.retryState.timeoutAt\","
    "\"operator\":\"GT\",\"value\":1719800000000}]}]}",
    "{\"operator\":\"NOR\",\"children\":[{\"field\":\"state.status\","
    "\"operator\":\"EQ\",\"value\":\"FAILED\"}]}",
    "{\"field\":\"state.status\",\"operator\":\"EQ\",\"value\":1}",
    "{\"field\":\"version\",\"operator\":\"EQ\",\"value\":\"1\"}",
    "{\"field\":\"state.status\",\"operator\":\"NULL\"}",
    "{\"field\":\"contextName\",\"operator\":\"EQ\","
    "\"value\":\"compensation\"}",
    "{\"field\":\"_id\",\"operator\":\"ID\",\"value\":\"q03\"}",
    "{\"field\":\"_id\",\"operator\":\"IDS\",\"value\":[\"q03\",\"q04\"]}",
    NULL
};

static const char  *t_event_conds[] = {
    "{}",
    "{\"field\":\"version\",\"operator\":\"GT\",\"value\":1}",
    "{\"field\":\"aggregateId\",\"operator\":\"EQ\",\"value\":\"q07\"}",
    "{\"field\":\"header.command_operator\",\"operator\":\"EQ\","
    "\"value\":\"op\"}",
    "{\"field\":\"header.command_operator\",\"operator\":\"STARTS_WITH\","
    "\"value\":\"FIRST\",\"options\":{\"ignoreCase\":true}}",
    "{\"field\":\"body.name\",\"operator\":\"EQ\","
    "\"value\":\"execution_failed_created\"}",
    "{\"field\":\"body.body.error.errorCode\",\"operator\":\"EQ\","
    "\"value\":\"Timeout\"}",
    "{\"field\":\"body.body.retries\",\"operator\":\"GTE\",\"value\":1}",
    "{\"field\":\"body.body.recoverable\",\"operator\":\"NULL\"}",
    "{\"field\":\"body.body.error.bindingErrors\",\"operator\":\"EQ\","
    "\"value\":[]}",
    "{\"field\":\"body.body.error.errorMsg\",\"operator\":\"CONTAINS\","
    "\"value\":\"OO\",\"options\":{\"ignoreCase\":true}}",
    "{\"field\":\"body\",\"operator\":\"ELEM_MATCH\",\"children\":"
    "[{\"field\":\"body.tags.dept\",\"operator\":\"IN\",\"value\":"
    "[\"eng\",\"x\",\"y\",\"z\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\","
    "\"8\",\"9\",\"10\",\"11\",\"12\",\"13\"]}]}",
    "{\"field\":\"body.body.tags.dept\",\"operator\":\"ALL_IN\",\"value\":"
    "[\"eng\",\"pm\"]}",
    "{\"field\":\"body.body.executeAt\",\"operator\":\"LT\","
    "\"value\":\"x\"}",
    "{\"field\":\"createTime\",\"operator\":\"RECENT_DAYS\",\"value\":1}",
    "{\"field\":\"deleted\",\"operator\":\"NULL\"}",
    "{\"field\":\"header.trace_id\",\"operator\":\"NULL\"}",
    "{\"field\":\"header.trace_id\",\"operator\":\"GT\",\"value\":\"T3\"}",
    NULL
};

static const char  *t_sorts[] = {
    "",
    ",\"sort\":[{\"field\":\"aggregateId\",\"direction\":\"DESC\"}]",
    ",\"sort\":[{\"field\":\"state.status\",\"direction\":\"ASC\"}]",
    ",\"sort\":[{\"field\":\"state.retryState.nextRetryAt\","
    "\"direction\":\"DESC\"},{\"field\":\"version\"}]",
    ",\"sort\":[{\"field\":\"state.error.errorCode\"}]",
    ",\"sort\":[{\"field\":\"state.error.errorMsg\",\"direction\":\"DESC\"}]",
    ",\"sort\":[{\"field\":\"state.error.succeeded\"}]",
    ",\"sort\":[{\"field\":\"state.function\"}]",
    ",\"sort\":[{\"field\":\"contextName\"},{\"field\":\"tenantId\","
    "\"direction\":\"DESC\"}]",
    NULL
};

static const char  *t_event_sorts[] = {
    "",
    ",\"sort\":[{\"field\":\"createTime\",\"direction\":\"DESC\"}]",
    ",\"sort\":[{\"field\":\"header.command_operator\"},"
    "{\"field\":\"version\",\"direction\":\"DESC\"}]",
    ",\"sort\":[{\"field\":\"header.trace_id\"},{\"field\":\"id\"}]",
    ",\"sort\":[{\"field\":\"header.trace_id\",\"direction\":\"DESC\"}]",
    NULL
};

static const char  *t_shapes[] = {
    ",\"limit\":100",
    ",\"limit\":3",
    ",\"limit\":5,\"projection\":{\"include\":[\"aggregateId\","
    "\"state.status\",\"state.error\"]}",
    ",\"limit\":50,\"projection\":{\"exclude\":[\"state\"]}",
    NULL
};


static int
t_doc_cb(void *data, json_t *doc)
{
    char      *s;
    cf_buf_t  *b;

    b = data;
    s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);

    if (s == NULL) {
        return -1;
    }

    cf_buf_add(b, s, strlen(s));
    cf_buf_add(b, "\n", 1);
    free(s);

    return 0;
}


/* the answer of one query on one store as text ("error: ..." on errors) */
static char *
t_answer(cf_store_t *st, cf_query_store_t store, cf_query_kind_t kind,
    const char *body, const cf_query_dialect_t *dialect, const char *owner)
{
    int                 rc;
    char                errbuf[1024], head[64];
    const char         *a;
    json_t             *j;
    int64_t             n;
    cf_buf_t            b;
    cf_error_t          err;
    cf_query_t          q;
    cf_query_limits_t   lim;

    cf_buf_init(&b);
    cf_query_limits_init(&lim);
    lim.default_zone = "UTC";
    lim.dialect = dialect;
    cf_error_init(&err);

    j = cf_t_json(body);
    rc = cf_query_compile(&q, store, kind, j, &lim, owner, T_NOW, &err);
    json_decref(j);

    if (rc != 0) {
        snprintf(errbuf, sizeof(errbuf), "compile: %s", err.msg);
        cf_error_free(&err);
        return strdup(errbuf);
    }

    errbuf[0] = '\0';

    if (cf_query_count(st, &q, &n, errbuf, sizeof(errbuf)) != 0) {
        cf_query_free(&q);
        return strdup(errbuf);
    }

    snprintf(head, sizeof(head), "count %lld\n", (long long) n);
    cf_buf_add(&b, head, strlen(head));

    if (kind != CF_QUERY_COUNT
        && cf_query_each(st, &q, 0, t_doc_cb, &b, errbuf, sizeof(errbuf))
           < 0)
    {
        cf_query_free(&q);
        cf_buf_free(&b);
        return strdup(errbuf);
    }

    cf_query_free(&q);

    a = cf_buf_cstr(&b);
    a = a ? strdup(a) : NULL;
    cf_buf_free(&b);

    return (char *) a;
}


static int
t_line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


/* an answer's lines in byte order, in place (an unsorted query's order is
 * the engine's: only its set of documents is compared) */
static void
t_sort_lines(char *a)
{
    size_t   n, i, len;
    char    *p, **lines, *out;

    n = 0;
    for (p = a; *p; p++) {
        n += (*p == '\n');
    }

    lines = calloc(n + 1, sizeof(char *));
    out = malloc(strlen(a) + 1);

    if (lines == NULL || out == NULL) {
        free(lines);
        free(out);
        return;
    }

    n = 0;
    for (p = strtok(a, "\n"); p; p = strtok(NULL, "\n")) {
        lines[n++] = p;
    }

    qsort(lines, n, sizeof(char *), t_line_cmp);

    len = 0;
    for (i = 0; i < n; i++) {
        len += sprintf(out + len, "%s\n", lines[i]);
    }

    memcpy(a, out, len + 1);
    free(out);
    free(lines);
}


static int
t_same(cf_store_t *sl, cf_store_t *pg, cf_query_store_t store,
    cf_query_kind_t kind, const char *body, const char *owner)
{
    int    same;
    char  *a, *b;

    a = t_answer(sl, store, kind, body, NULL, owner);
    b = t_answer(pg, store, kind, body, &cf_query_pg_dialect, owner);

    if (a && b && strstr(body, "\"sort\"") == NULL) {
        t_sort_lines(a);
        t_sort_lines(b);
    }

    same = a && b && strcmp(a, b) == 0 && strncmp(a, "count ", 6) == 0;

    if (!same) {
        printf("#   differs: %s (owner %s)\n#   sqlite: %.600s\n"
               "#   postgresql: %.600s\n", body, owner ? owner : "-",
               a ? a : "(null)", b ? b : "(null)");
    }

    free(a);
    free(b);

    return same;
}


/*
 * A count the rollup answers (schema version 3): the compiler marks it
 * (q.rollup), and its sum equals count(*) of the same condition on
 * PostgreSQL and SQLite's count.  1 when all three agree.
 */
static int
t_rollup_exact(cf_store_t *sl, cf_store_t *pg, const char *cond,
    const char *owner)
{
    int                 ok;
    char                body[1024], errbuf[512];
    json_t             *j;
    int64_t             sum, rows, lite;
    cf_error_t          err;
    cf_query_t          q, ql;
    cf_query_limits_t   lim;

    snprintf(body, sizeof(body), "{\"condition\":%s}", cond);

    cf_query_limits_init(&lim);
    lim.default_zone = "UTC";
    cf_error_init(&err);

    j = cf_t_json(body);
    ok = cf_query_compile(&ql, CF_QUERY_SNAPSHOT, CF_QUERY_COUNT, j, &lim,
                          owner, T_NOW, &err) == 0;
    lim.dialect = &cf_query_pg_dialect;
    ok = ok && cf_query_compile(&q, CF_QUERY_SNAPSHOT, CF_QUERY_COUNT, j,
                                &lim, owner, T_NOW, &err) == 0;
    json_decref(j);

    if (!ok) {
        printf("#   compile %s: %s\n", body, err.msg);
        cf_error_free(&err);
        return 0;
    }

    sum = rows = lite = -1;

    ok = q.rollup
         && cf_query_count(pg, &q, &sum, errbuf, sizeof(errbuf)) == 0
         && cf_query_count(sl, &ql, &lite, errbuf, sizeof(errbuf)) == 0;

    /* the same condition counted over the rows */
    q.rollup = 0;
    ok = ok && cf_query_count(pg, &q, &rows, errbuf, sizeof(errbuf)) == 0
         && sum == rows && rows == lite;

    if (!ok) {
        printf("#   rollup %s (owner %s): sum %lld, count(*) %lld, SQLite"
               " %lld %s\n", body, owner ? owner : "-", (long long) sum,
               (long long) rows, (long long) lite, errbuf);
    }

    cf_query_free(&q);
    cf_query_free(&ql);

    return ok;
}


static const char  *t_rollup_conds[] = {
    "{}",
    "{\"operator\":\"ALL\"}",
    "{\"operator\":\"DELETED\",\"value\":\"ALL\"}",
    "{\"operator\":\"DELETED\",\"value\":\"DELETED\"}",
    "{\"field\":\"state.status\",\"operator\":\"EQ\",\"value\":\"SUCCEEDED\"}",
    "{\"field\":\"state.status\",\"operator\":\"EQ\",\"value\":\"FAILED\"}",
    "{\"field\":\"state.status\",\"operator\":\"NE\",\"value\":\"FAILED\"}",
    "{\"field\":\"state.status\",\"operator\":\"IN\",\"value\":[\"FAILED\","
    "\"PREPARED\"]}",
    "{\"field\":\"state.recoverable\",\"operator\":\"EQ\","
    "\"value\":\"UNRECOVERABLE\"}",
    "{\"field\":\"state.isBelowRetryThreshold\",\"operator\":\"EQ\","
    "\"value\":false}",
    "{\"field\":\"state.isRetryable\",\"operator\":\"EQ\",\"value\":true}",
    "{\"field\":\"tenantId\",\"operator\":\"EQ\",\"value\":\"t1\"}",
    NULL
};


/* every rollup condition, with and without an owner: the count of those
 * that differ */
static int
t_rollup_all(cf_store_t *sl, cf_store_t *pg)
{
    int  i, bad;

    bad = 0;

    for (i = 0; t_rollup_conds[i]; i++) {
        bad += !t_rollup_exact(sl, pg, t_rollup_conds[i], NULL);
        bad += !t_rollup_exact(sl, pg, t_rollup_conds[i], "alice");
    }

    return bad;
}


/* one more command on an execution of both stores (loaded from each) */
static int
t_more(cf_store_t *st, const char *id, cf_command_type_t type,
    const char *body, int64_t now)
{
    int             rc;
    cf_error_t      err;
    cf_aggregate_t  agg;

    cf_error_init(&err);

    if (cf_aggregate_init(&agg, id) != 0) {
        return -1;
    }

    rc = cf_store_load(st, &agg, &err);

    if (rc == 0) {
        rc = cf_pq_step(st, &agg, type, body, now);
    }

    cf_error_free(&err);
    cf_aggregate_free(&agg);

    return rc;
}


void
test_pg_query_diff(void)
{
    int                i, k, m, n, bad;
    char               path[64], body[2048], errbuf[512];
    cf_store_t        *sl, *pg, *pg2, *pgi;
    cf_exec_counts_t   cs, cp;
    cf_store_options_t opts;

    cf_pq_reset_pg();

    snprintf(path, sizeof(path), "/tmp/cf_pg_query_%d.db", (int) getpid());
    unlink(path);

    memset(&opts, 0, sizeof(opts));
    opts.busy_timeout_ms = 1000;

    sl = cf_store_open(path, &opts, errbuf, sizeof(errbuf));
    pg = cf_pq_open_pg();

    if (!CHECK(sl != NULL && pg != NULL)) {
        goto done;
    }

    CHECK_INT(cf_query_schema(sl, errbuf, sizeof(errbuf)), 0);
    CHECK_INT(cf_query_schema(pg, errbuf, sizeof(errbuf)), 0);

    if (!CHECK_INT(t_seed(sl), 0) || !CHECK_INT(t_seed(pg), 0)) {
        goto done;
    }

    n = 0;
    bad = 0;

    for (i = 0; t_snapshot_conds[i]; i++) {
        for (k = 0; t_sorts[k]; k++) {
            for (m = 0; t_shapes[m]; m++) {
                if (k == 0 && (m == 1 || m == 2)) {
                    /* unsorted: no page of the same rows to compare */
                    continue;
                }

                snprintf(body, sizeof(body), "{\"condition\":%s%s%s}",
                         t_snapshot_conds[i], t_sorts[k], t_shapes[m]);
                n++;
                bad += !t_same(sl, pg, CF_QUERY_SNAPSHOT, CF_QUERY_LIST, body,
                               NULL);
            }
        }

        /* paged, a second page, and with an owner */
        snprintf(body, sizeof(body), "{\"condition\":%s,\"sort\":[{\"field\":"
                 "\"aggregateId\",\"direction\":\"DESC\"}],\"pagination\":"
                 "{\"index\":2,\"size\":4}}", t_snapshot_conds[i]);
        n += 2;
        bad += !t_same(sl, pg, CF_QUERY_SNAPSHOT, CF_QUERY_PAGED, body, NULL);
        bad += !t_same(sl, pg, CF_QUERY_SNAPSHOT, CF_QUERY_PAGED, body,
                       "alice");
    }

    for (i = 0; t_event_conds[i]; i++) {
        for (k = 0; t_event_sorts[k]; k++) {
            snprintf(body, sizeof(body), "{\"condition\":%s%s,\"limit\":200}",
                     t_event_conds[i], t_event_sorts[k]);
            n++;
            bad += !t_same(sl, pg, CF_QUERY_EVENT, CF_QUERY_LIST, body, NULL);
        }
    }

    printf("#   %d queries on both stores, %d differ\n", n, bad);
    CHECK_INT(bad, 0);

    /* the metrics, at several instants */
    for (i = 0; i < 3; i++) {
        int64_t  now = T_NOW + (int64_t) i * 200000000LL - 2000000LL;

        CHECK_INT(cf_metrics_counts(sl, now, &cs, errbuf, sizeof(errbuf)),
                  0);
        CHECK_INT(cf_metrics_counts(pg, now, &cp, errbuf, sizeof(errbuf)),
                  0);
        CHECK(memcmp(&cs, &cp, sizeof(cs)) == 0);
    }

    /*
     * The count rollup: exact after the seed, then after more commands
     * (deletes, recoveries, prepares and applies, recoverability) written
     * through two connections (two slots of the rollup), and after a
     * transaction that rolled back.
     */
    CHECK_INT(t_rollup_all(sl, pg), 0);

    pg2 = cf_pq_open_pg();

    if (CHECK(pg2 != NULL)) {
        /* each execution deleted or recovered, a third prepared and
         * succeeded, a quarter marked unrecoverable: a command either
         * store refuses is refused by both, only the rows matter */
        for (i = 0, n = 0; i < 30; i++) {
            int64_t  at = T_NOW + 1000 + i;

            snprintf(body, sizeof(body), "q%02d", i);
            pgi = (i % 2) ? pg2 : pg;

            k = t_more(sl, body, CF_CMD_DELETE_AGGREGATE, NULL, at);
            m = t_more(pgi, body, CF_CMD_DELETE_AGGREGATE, NULL, at);
            CHECK_INT(k, m);

            if (k != 0) {
                k = t_more(sl, body, CF_CMD_RECOVER_AGGREGATE, NULL, at);
                m = t_more(pgi, body, CF_CMD_RECOVER_AGGREGATE, NULL, at);
                CHECK_INT(k, m);
            }

            n += (k == 0);

            if (i % 3 == 0
                && t_more(sl, body, CF_CMD_FORCE_PREPARE_COMPENSATION, NULL,
                          at + 1) == 0)
            {
                CHECK_INT(t_more(pgi, body,
                                 CF_CMD_FORCE_PREPARE_COMPENSATION, NULL,
                                 at + 1), 0);
                k = t_more(sl, body, CF_CMD_APPLY_EXECUTION_SUCCESS,
                           "{\"executeAt\":1719700000000}", at + 2);
                CHECK_INT(t_more(pgi, body, CF_CMD_APPLY_EXECUTION_SUCCESS,
                                 "{\"executeAt\":1719700000000}", at + 2),
                          k);
                n += (k == 0);
            }

            if (i % 4 == 1) {
                k = t_more(sl, body, CF_CMD_MARK_RECOVERABLE,
                           "{\"recoverable\":\"UNRECOVERABLE\"}", at + 3);
                CHECK_INT(t_more(pg, body, CF_CMD_MARK_RECOVERABLE,
                                 "{\"recoverable\":\"UNRECOVERABLE\"}",
                                 at + 3), k);
                n += (k == 0);
            }
        }

        printf("#   %d more commands\n", n);
        CHECK(n >= 30);

        /* a write that rolls back leaves the counts as they were */
        {
            cf_error_t      err;
            cf_aggregate_t  agg;

            cf_error_init(&err);
            CHECK_INT(cf_aggregate_init(&agg, "q03"), 0);
            CHECK_INT(cf_store_begin_immediate(pg2), 0);
            CHECK_INT(cf_store_load(pg2, &agg, &err), 0);
            agg.deleted = !agg.deleted;
            CHECK_INT(cf_store_save_snapshot(pg2, &agg, T_NOW), 0);
            cf_store_rollback(pg2);
            cf_aggregate_free(&agg);
            cf_error_free(&err);
        }

        CHECK_INT(t_rollup_all(sl, pg), 0);

        for (i = 0; i < 2; i++) {
            CHECK_INT(cf_metrics_counts(sl, T_NOW, &cs, errbuf,
                                        sizeof(errbuf)), 0);
            CHECK_INT(cf_metrics_counts(i ? pg2 : pg, T_NOW, &cp, errbuf,
                                        sizeof(errbuf)), 0);
            CHECK(memcmp(&cs, &cp, sizeof(cs)) == 0);
        }

        cf_store_close(pg2);
    }

    /* after a server restart, a query and the metrics reconnect by
     * themselves and still answer as SQLite does */
    if (getenv("CF_TEST_PG_RESTART") != NULL
        && CHECK_INT(system(getenv("CF_TEST_PG_RESTART")), 0))
    {
        CHECK(t_same(sl, pg, CF_QUERY_SNAPSHOT, CF_QUERY_LIST,
                     "{\"condition\":{\"field\":\"state.status\","
                     "\"operator\":\"EQ\",\"value\":\"FAILED\"},"
                     "\"sort\":[{\"field\":\"aggregateId\"}]}", NULL));

        CHECK_INT(system(getenv("CF_TEST_PG_RESTART")), 0);
        CHECK_INT(cf_metrics_counts(pg, T_NOW, &cp, errbuf, sizeof(errbuf)),
                  0);
        CHECK_INT(cf_metrics_counts(sl, T_NOW, &cs, errbuf, sizeof(errbuf)),
                  0);
        CHECK(memcmp(&cs, &cp, sizeof(cs)) == 0);
    }

done:

    if (sl) {
        cf_store_close(sl);
    }

    if (pg) {
        cf_store_close(pg);
    }

    unlink(path);
}


/* hostile names are refused before SQL; hostile values are parameters */
void
test_pg_query_hostile(void)
{
    int                 i;
    json_t             *j;
    cf_error_t          err;
    cf_query_t          q;
    cf_query_limits_t   lim;

    static const char  *bad_names[] = {
        "state.status'; DROP TABLE snapshot; --",
        "header.a'b",
        "header.a\"b",
        "body.a'); SELECT 1; --",
        "body.a b",
        "state.$x",
        NULL
    };
    static const char  *values[] = {
        "'; DROP TABLE snapshot; --", "\\' OR 1=1 --", "x$1y", "%_\\",
        "\"x\" ::text", NULL
    };
    static const char  *ops[] = {
        "EQ", "GT", "CONTAINS", "STARTS_WITH", "ENDS_WITH", "IN", NULL
    };

    cf_query_limits_init(&lim);
    lim.dialect = &cf_query_pg_dialect;
    lim.default_zone = "UTC";

    for (i = 0; bad_names[i]; i++) {
        char  body[512];

        snprintf(body, sizeof(body), "{\"condition\":{\"field\":\"%s\","
                 "\"operator\":\"EQ\",\"value\":\"x\"}}", bad_names[i]);
        j = json_loads(body, 0, NULL);
        if (j == NULL) {
            j = json_pack("{s:{s:s,s:s,s:s}}", "condition", "field",
                          bad_names[i], "operator", "EQ", "value", "x");
        }
        cf_error_init(&err);

        /* refused, or (a header key) bound: never in the SQL text */
        if (cf_query_compile(&q, bad_names[i][0] == 's'
                             ? CF_QUERY_SNAPSHOT : CF_QUERY_EVENT,
                             CF_QUERY_LIST, j, &lim, NULL, T_NOW, &err) == 0)
        {
            CHECK(strncmp(bad_names[i], "header.", 7) == 0);
            CHECK(strstr(q.where, bad_names[i] + 7) == NULL);
            cf_query_free(&q);
        }

        cf_error_free(&err);
        json_decref(j);
    }

    for (i = 0; values[i]; i++) {
        int   o;

        for (o = 0; ops[o]; o++) {
            json_t  *v;

            v = json_string(values[i]);
            j = json_pack("{s:{s:s,s:s,s:o}}", "condition", "field",
                          strcmp(ops[o], "EQ") == 0 ? "header.k"
                                                    : "state.error.errorMsg",
                          "operator", ops[o], "value",
                          strcmp(ops[o], "IN") == 0
                          ? json_pack("[o]", v) : v);
            cf_error_init(&err);

            if (CHECK_INT(cf_query_compile(&q, strcmp(ops[o], "EQ") == 0
                                           ? CF_QUERY_EVENT
                                           : CF_QUERY_SNAPSHOT,
                                           CF_QUERY_LIST, j, &lim, NULL,
                                           T_NOW, &err), 0))
            {
                CHECK(strstr(q.where, values[i]) == NULL);
                CHECK(strstr(q.where, "DROP") == NULL);
                cf_query_free(&q);
            }

            cf_error_free(&err);
            json_decref(j);
        }
    }
}
