
/*
 * ngx_compensation unit tests: notification messages (cf_notify.c) and the
 * execution counts of the metrics (cf_metrics.c, cf_sqlite_metrics.c) on a
 * temporary store.
 */


#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cf_test.h"
#include "cf_sqlite_store.h"
#include "cf_store.h"
#include "cf_query.h"
#include "cf_notify.h"
#include "cf_metrics.h"


static const char  cf_n_state[] =
    "{\"id\":\"a b/1\",\"eventId\":{\"id\":\"e1\",\"aggregateId\":"
    "{\"contextName\":\"order-service\",\"aggregateName\":\"order\","
    "\"aggregateId\":\"o1\",\"tenantId\":\"(0)\"},\"version\":3},"
    "\"function\":{\"functionKind\":\"EVENT\",\"contextName\":\"order-service\","
    "\"processorName\":\"P\",\"name\":\"onX\"},"
    "\"error\":{\"errorCode\":\"Boom\",\"errorMsg\":\"%s\",\"stackTrace\":\"\"},"
    "\"executeAt\":0,\"retrySpec\":{\"maxRetries\":10,\"minBackoff\":180,"
    "\"executionTimeout\":120},\"retryState\":{\"retries\":2,\"retryAt\":0,"
    "\"timeoutAt\":120000,\"nextRetryAt\":86400000},\"status\":\"%s\","
    "\"recoverable\":\"%s\",\"isBelowRetryThreshold\":%s,\"isRetryable\":true}";


static char *
cf_n_render(cf_notify_format_t f, cf_event_type_t ev, const char *msg,
    const char *status, const char *rec, const char *below, const char *host)
{
    char      state[2048];
    char     *out;
    cf_buf_t  b;

    snprintf(state, sizeof(state), cf_n_state, msg, status, rec, below);

    cf_buf_init(&b);

    if (cf_notify_render(&b, f, ev, state, strlen(state), host,
                         strlen(host), 1700000000000LL) != 0)
    {
        cf_buf_free(&b);
        return NULL;
    }

    out = strdup(cf_buf_cstr(&b));
    cf_buf_free(&b);

    return out;
}


static void
test_notify_events(void)
{
    unsigned  all;

    CHECK_INT(cf_notify_event(CF_CMD_CREATE_EXECUTION_FAILED),
              CF_EV_EXECUTION_FAILED_CREATED);
    CHECK_INT(cf_notify_event(CF_CMD_FORCE_PREPARE_COMPENSATION),
              CF_EV_COMPENSATION_PREPARED);
    CHECK_INT(cf_notify_event(CF_CMD_APPLY_RETRY_SPEC), -1);
    CHECK_INT(cf_notify_event(CF_CMD_DELETE_AGGREGATE), -1);

    all = cf_notify_default_events();
    CHECK(all & cf_notify_bit(CF_EV_EXECUTION_FAILED_CREATED));
    CHECK(all & cf_notify_bit(CF_EV_RECOVERABLE_MARKED));
    CHECK(!(all & cf_notify_bit(CF_EV_COMPENSATION_PREPARED)));
    CHECK_INT(cf_notify_bit(CF_EV_FUNCTION_CHANGED), 0);

    CHECK_INT(cf_notify_parse_event("compensation_prepared", 21),
              cf_notify_bit(CF_EV_COMPENSATION_PREPARED));
    CHECK_INT(cf_notify_parse_event("compensation_prepare", 20), 0);
    CHECK_INT(cf_notify_parse_event("function_changed", 16), 0);
    CHECK_INT(cf_notify_parse_event("", 0), 0);
}


static void
test_notify_render(void)
{
    char  *s, big[1200];

    /* JSON: the link's view follows the state, the id percent-encoded */
    s = cf_n_render(CF_NOTIFY_JSON, CF_EV_EXECUTION_FAILED_APPLIED, "m",
                    "FAILED", "RECOVERABLE", "true", "https://d.example//");
    CHECK(s && strncmp(s, "{\"event\":\"execution_failed_applied\","
                       "\"eventTime\":1700000000000,\"id\":\"a b/1\","
                       "\"link\":\"https://d.example/to-retry?id=a%20b%2F1\","
                       "\"state\":{\"id\":\"a b/1\",", 126) == 0);
    free(s);

    s = cf_n_render(CF_NOTIFY_JSON, CF_EV_EXECUTION_SUCCESS_APPLIED, "m",
                    "SUCCEEDED", "RECOVERABLE", "true", "http://h");
    CHECK(s && strstr(s, "\"link\":\"http://h/succeeded?id=") != NULL);
    free(s);

    s = cf_n_render(CF_NOTIFY_JSON, CF_EV_EXECUTION_FAILED_APPLIED, "m",
                    "FAILED", "UNKNOWN", "false", "http://h");
    CHECK(s && strstr(s, "\"link\":\"http://h/non-retryable?id=") != NULL);
    free(s);

    s = cf_n_render(CF_NOTIFY_JSON, CF_EV_RECOVERABLE_MARKED, "m",
                    "SUCCEEDED", "UNRECOVERABLE", "true", "");
    CHECK(s && strstr(s, "\"link\"") == NULL);
    free(s);

    /* Markdown: times in UTC, the error cut at a character boundary */
    memset(big, 'x', sizeof(big));
    memcpy(big + 510, "\xc3\xa9\xc3\xa9", 4);
    big[sizeof(big) - 1] = '\0';

    s = cf_n_render(CF_NOTIFY_WECOM, CF_EV_EXECUTION_FAILED_CREATED, big,
                    "FAILED", "RECOVERABLE", "true", "");
    CHECK(s && strncmp(s, "{\"msgtype\":\"markdown\",\"markdown\":{\"content\":"
                       "\"# Execution Failed - 2\\n- Id: `a b/1`\\n", 67) == 0);
    CHECK(s && strstr(s, "- NextRetryAt: 1970-01-02 00:00:00 UTC") != NULL);
    CHECK(s && strstr(s, "xx\xc3\xa9...\"}}") != NULL);
    free(s);

    /* not one of the five, or not a state */
    CHECK(cf_n_render(CF_NOTIFY_JSON, CF_EV_FUNCTION_CHANGED, "m", "FAILED",
                      "RECOVERABLE", "true", "") == NULL);
    CHECK(cf_n_render(CF_NOTIFY_JSON, CF_EV_EXECUTION_FAILED_CREATED, "\"",
                      "FAILED", "RECOVERABLE", "true", "") == NULL);
}


static void
test_metrics_counts(void)
{
    int                  rc;
    char                 dir[64], path[96], errbuf[256];
    cf_store_t          *st;
    cf_exec_counts_t     c;
    cf_store_options_t   opts;

    /* now = 1000000; due: 500; later: 2000000 */
    static const char  rows[] =
        "INSERT INTO snapshot (aggregate_id, tenant_id, version, event_id,"
        " first_event_time, event_time, snapshot_time, deleted, state, status,"
        " recoverable, is_retryable, is_below_retry_threshold, retries,"
        " next_retry_at, timeout_at) VALUES"
        " ('a','t1',1,'e',0,0,0,0,'{}','FAILED','RECOVERABLE',1,1,0,500,500),"
        " ('b','t1',1,'e',0,0,0,0,'{}','FAILED','UNKNOWN',1,1,0,2000000,500),"
        " ('c','t1',1,'e',0,0,0,0,'{}','PREPARED','RECOVERABLE',1,1,1,500,"
        "2000000),"
        " ('d','t1',1,'e',0,0,0,0,'{}','PREPARED','RECOVERABLE',1,1,1,500,500),"
        " ('e','t1',1,'e',0,0,0,0,'{}','FAILED','RECOVERABLE',0,0,10,500,500),"
        " ('f','t1',1,'e',0,0,0,0,'{}','SUCCEEDED','RECOVERABLE',0,1,1,500,500),"
        " ('g','t1',1,'e',0,0,0,0,'{}','FAILED','UNRECOVERABLE',1,1,0,500,500),"
        " ('h','t1',1,'e',0,0,0,1,'{}','FAILED','RECOVERABLE',1,1,0,500,500),"
        " ('i','t2',1,'e',0,0,0,0,'{}','FAILED','RECOVERABLE',1,1,0,500,500)";

    snprintf(dir, sizeof(dir), "/tmp/cf-unit-XXXXXX");
    if (!CHECK(mkdtemp(dir) != NULL)) {
        return;
    }

    snprintf(path, sizeof(path), "%s/m.db", dir);

    memset(&opts, 0, sizeof(opts));
    opts.busy_timeout_ms = 1000;

    st = cf_store_open(path, &opts, errbuf, sizeof(errbuf));
    if (!CHECK(st != NULL)) {
        return;
    }

    CHECK_INT(cf_query_schema(st, errbuf, sizeof(errbuf)), 0);
    CHECK_INT(sqlite3_exec(cf_sqlite_store_db(st), rows, NULL, NULL, NULL),
              SQLITE_OK);

    rc = cf_metrics_counts(st, 1000000, &c, errbuf,
                           sizeof(errbuf));
    CHECK_INT(rc, 0);

    CHECK_INT(c.status[CF_STATUS_FAILED], 5);
    CHECK_INT(c.status[CF_STATUS_PREPARED], 2);
    CHECK_INT(c.status[CF_STATUS_SUCCEEDED], 1);
    CHECK_INT(c.deleted, 1);
    CHECK_INT(c.category[CF_CATEGORY_TO_RETRY], 4);         /* a b d i */
    CHECK_INT(c.category[CF_CATEGORY_EXECUTING], 1);        /* c */
    CHECK_INT(c.category[CF_CATEGORY_NEXT_RETRY], 3);       /* a d i */
    CHECK_INT(c.category[CF_CATEGORY_NON_RETRYABLE], 1);    /* e */
    CHECK_INT(c.category[CF_CATEGORY_SUCCEEDED], 1);        /* f */
    CHECK_INT(c.category[CF_CATEGORY_UNRECOVERABLE], 1);    /* g */
    CHECK_STR(cf_category_name(CF_CATEGORY_NEXT_RETRY), "next-retry");

    /* later: c timed out (To Retry, due), b due */
    rc = cf_metrics_counts(st, 3000000, &c, errbuf,
                           sizeof(errbuf));
    CHECK_INT(rc, 0);
    CHECK_INT(c.category[CF_CATEGORY_EXECUTING], 0);
    CHECK_INT(c.category[CF_CATEGORY_TO_RETRY], 5);
    CHECK_INT(c.category[CF_CATEGORY_NEXT_RETRY], 5);

    /* inside a transaction the caller holds */
    CHECK_INT(sqlite3_exec(cf_sqlite_store_db(st), "BEGIN", NULL, NULL, NULL),
              SQLITE_OK);
    CHECK_INT(cf_metrics_counts(st, 1000000, &c, errbuf,
                                sizeof(errbuf)), 0);
    CHECK_INT(sqlite3_get_autocommit(cf_sqlite_store_db(st)), 0);
    CHECK_INT(sqlite3_exec(cf_sqlite_store_db(st), "COMMIT", NULL, NULL, NULL),
              SQLITE_OK);

    cf_store_close(st);

    snprintf(errbuf, sizeof(errbuf), "%s/m.db", dir);
    unlink(errbuf);
    snprintf(errbuf, sizeof(errbuf), "%s/m.db-wal", dir);
    unlink(errbuf);
    snprintf(errbuf, sizeof(errbuf), "%s/m.db-shm", dir);
    unlink(errbuf);
    rmdir(dir);
}


const cf_test_t  cf_tests_notify[] = {
    { "notify: commands, events, the event set", test_notify_events },
    { "notify: JSON and WeCom messages, links, cuts", test_notify_render },
    { "metrics: counts by status and dashboard category",
      test_metrics_counts },
    { NULL, NULL }
};
