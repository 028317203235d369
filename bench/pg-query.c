/*
 * ngx_compensation: the paged category query on PostgreSQL (bench/pg-query.sh).
 * For each dashboard category (spec 8.2: page 1, size 10, aggregateId
 * DESC, bench/query.sh's conditions) the query is compiled in the
 * PostgreSQL dialect and run through the store interface, count and page
 * (cf_query_count, then cf_query_each: documents built; timed apart),
 * N times on one
 * connection; the baseline is a "SELECT 1" round trip on the same
 * connection, measured in the same run.  Prints p50 and p90 in ms.
 *
 *   pg-query <dsn> <now ms> [N]
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>

#include "cf_store.h"
#include "cf_query.h"


#define T_R  "{\"field\":\"state.recoverable\",\"operator\":\"IN\"," \
             "\"value\":[\"RECOVERABLE\",\"UNKNOWN\"]}"
#define T_TO_RETRY                                                          \
    "{\"field\":\"state.isRetryable\",\"operator\":\"EQ\",\"value\":true},"  \
    "{\"operator\":\"OR\",\"children\":[{\"field\":\"state.status\","        \
    "\"operator\":\"EQ\",\"value\":\"FAILED\"},{\"operator\":\"AND\","       \
    "\"children\":[{\"field\":\"state.status\",\"operator\":\"EQ\","         \
    "\"value\":\"PREPARED\"},{\"field\":\"state.retryState.timeoutAt\","     \
    "\"operator\":\"LTE\",\"value\":%lld}]}]}"

static const struct {
    const char  *name;
    const char  *cond;
} cats[] = {
    { "To Retry", "{\"operator\":\"AND\",\"children\":[" T_R "," T_TO_RETRY
      "]}" },
    { "Executing", "{\"operator\":\"AND\",\"children\":[{\"field\":"
      "\"state.status\",\"operator\":\"EQ\",\"value\":\"PREPARED\"},"
      "{\"field\":\"state.retryState.timeoutAt\",\"operator\":\"GT\","
      "\"value\":%lld}]}" },
    { "Next Retry", "{\"operator\":\"AND\",\"children\":[" T_R ","
      T_TO_RETRY ",{\"field\":\"state.retryState.nextRetryAt\","
      "\"operator\":\"LTE\",\"value\":%lld}]}" },
    { "Non Retryable", "{\"operator\":\"AND\",\"children\":[" T_R
      ",{\"field\":\"state.status\",\"operator\":\"IN\",\"value\":"
      "[\"FAILED\",\"PREPARED\"]},{\"field\":\"state.isBelowRetryThreshold\","
      "\"operator\":\"EQ\",\"value\":false}]}" },
    { "Succeeded", "{\"field\":\"state.status\",\"operator\":\"EQ\","
      "\"value\":\"SUCCEEDED\"}" },
    { "Unrecoverable", "{\"operator\":\"AND\",\"children\":[{\"field\":"
      "\"state.recoverable\",\"operator\":\"EQ\",\"value\":"
      "\"UNRECOVERABLE\"},{\"field\":\"state.status\",\"operator\":\"IN\","
      "\"value\":[\"FAILED\",\"PREPARED\"]}]}" }
};


static double
ms_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}


static int
dcmp(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}


static int
drop_doc(void *data, json_t *doc)
{
    (*(int *) data)++;
    json_decref(doc);
    return 0;
}


static void
report(const char *name, double *t, int n, long long extra)
{
    qsort(t, n, sizeof(double), dcmp);
    printf("%-14s p50 %7.3f ms  p90 %7.3f ms  (%lld)\n", name, t[n / 2],
           t[n * 9 / 10], extra);
}


int
main(int argc, char **argv)
{
    int                 i, k, n, docs;
    char                cond[2048], body[2400], errbuf[512];
    int                 rollup;
    double             *t, *tp, *tr, t0;
    int64_t             now, count, rows;
    json_t             *j;
    PGconn             *c;
    PGresult           *r;
    cf_store_t         *st;
    cf_error_t          err;
    cf_query_t          q;
    cf_query_limits_t   lim;
    cf_store_options_t  opts;

    if (argc < 3) {
        fprintf(stderr, "usage: pg-query <dsn> <now ms> [N]\n");
        return 2;
    }

    now = atoll(argv[2]);
    n = argc > 3 ? atoi(argv[3]) : 200;
    t = calloc(n, sizeof(double));
    tp = calloc(n, sizeof(double));
    tr = calloc(n, sizeof(double));

    memset(&opts, 0, sizeof(opts));
    opts.busy_timeout_ms = 5000;
    st = cf_store_open(argv[1], &opts, errbuf, sizeof(errbuf));
    c = PQconnectdb(argv[1]);

    if (st == NULL || PQstatus(c) != CONNECTION_OK || t == NULL
        || tp == NULL || tr == NULL)
    {
        fprintf(stderr, "open: %s\n", st ? PQerrorMessage(c) : errbuf);
        return 1;
    }

    for (k = 0; k < (int) (sizeof(cats) / sizeof(cats[0])); k++) {
        snprintf(cond, sizeof(cond), cats[k].cond, (long long) now,
                 (long long) now);
        snprintf(body, sizeof(body), "{\"condition\":%s,\"sort\":[{\"field\":"
                 "\"aggregateId\",\"direction\":\"DESC\"}],\"pagination\":"
                 "{\"index\":1,\"size\":10}}", cond);

        cf_query_limits_init(&lim);
        lim.dialect = &cf_query_pg_dialect;
        lim.default_zone = "UTC";
        cf_error_init(&err);

        j = json_loads(body, 0, NULL);
        if (j == NULL || cf_query_compile(&q, CF_QUERY_SNAPSHOT,
                                          CF_QUERY_PAGED, j, &lim, NULL, now,
                                          &err) != 0)
        {
            fprintf(stderr, "%s: %s\n", cats[k].name, err.msg);
            return 1;
        }

        json_decref(j);
        count = 0;
        rows = 0;
        docs = 0;
        rollup = q.rollup;

        for (i = -5; i < n; i++) {
            t0 = ms_now();

            if (cf_query_count(st, &q, &count, errbuf, sizeof(errbuf)) != 0)
            {
                fprintf(stderr, "%s: %s\n", cats[k].name, errbuf);
                return 1;
            }

            if (i >= 0) {
                t[i] = ms_now() - t0;
            }

            if (rollup) {
                /* the same count over the rows, without the rollup (schema
                 * version 3): the baseline, in turn with it */
                q.rollup = 0;
                t0 = ms_now();

                if (cf_query_count(st, &q, &rows, errbuf, sizeof(errbuf))
                    != 0)
                {
                    fprintf(stderr, "%s: %s\n", cats[k].name, errbuf);
                    return 1;
                }

                if (i >= 0) {
                    tr[i] = ms_now() - t0;
                }

                q.rollup = 1;

                if (rows != count) {
                    fprintf(stderr, "%s: the rollup counts %lld, the rows"
                            " %lld\n", cats[k].name, (long long) count,
                            (long long) rows);
                    return 1;
                }
            }

            t0 = ms_now();

            if (cf_query_each(st, &q, 0, drop_doc, &docs, errbuf,
                              sizeof(errbuf)) < 0)
            {
                fprintf(stderr, "%s: %s\n", cats[k].name, errbuf);
                return 1;
            }

            if (i >= 0) {
                tp[i] = ms_now() - t0;
            }
        }

        printf("%s:\n", cats[k].name);
        report(rollup ? "  count rollup" : "  count", t, n,
               (long long) count);

        if (rollup) {
            report("  count(*)", tr, n, (long long) rows);
        }

        report("  page", tp, n, 10);
        cf_query_free(&q);
    }

    /* the baseline: one round trip on one connection */
    for (i = -5; i < n; i++) {
        t0 = ms_now();
        r = PQexec(c, "SELECT 1");
        PQclear(r);
        if (i >= 0) {
            t[i] = ms_now() - t0;
        }
    }

    report("SELECT 1", t, n, 1);

    PQfinish(c);
    cf_store_close(st);
    free(t);
    free(tp);
    free(tr);

    return 0;
}
