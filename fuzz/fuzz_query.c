
/*
 * Fuzz target: the query compiler (cf_query.c) and the SQL it emits.
 *
 * Input: byte 0 picks the store (bit 0), the query kind (bits 1-2), an owner
 * (bit 3), the "cheap queries only" guard (bit 4: expensive operators and
 * match-all refused) and a state-only row query (bit 5); the rest is the
 * request body, parsed as in ngx_http_compensation_query.c.
 *
 * A compiled query must be valid SQL: it is run (count and rows) against an
 * in-memory store with the real schema (cf_sqlite_store.c, cf_query_schema()) and
 * a few aggregates written by the real command pipeline.  An SQLite error
 * there is a finding: the route would answer 500 to a query it accepted.
 * The same body is compiled in the PostgreSQL dialect too: accepted and
 * refused alike, its statement written (not run: no server here).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_fuzz.h"
#include "cf_query.h"
#include "cf_store.h"
#include "cf_service.h"


#define FZ_NOW  1719800000000LL


static cf_store_t  *fz_store;


static const char  fz_create_body[] =
    "{\"eventId\":{\"id\":\"0U2mSzz10001001\","
    "\"aggregateId\":{\"contextName\":\"order-service\","
    "\"aggregateName\":\"order\",\"aggregateId\":\"0U2mSz9k0001000\","
    "\"tenantId\":\"(0)\"},\"version\":1},"
    "\"function\":{\"functionKind\":\"EVENT\","
    "\"contextName\":\"order-service\","
    "\"processorName\":\"OrderProjector\",\"name\":\"onOrderCreated\"},"
    "\"error\":{\"errorCode\":\"BadRequest\",\"errorMsg\":\"boom\","
    "\"stackTrace\":\"java.lang...\","
    "\"bindingErrors\":[{\"name\":\"a\",\"msg\":\"b\"}]},"
    "\"executeAt\":1719800000000}";


static void
fz_command(cf_id_gen_t *ids, cf_command_type_t type, const char *body,
    const char *id, const char *owner, int64_t now)
{
    json_t            *b, *header;
    cf_error_t         err;
    cf_command_t       cmd;
    cf_exec_input_t    in;
    cf_exec_output_t   out;
    static const cf_retry_spec_t  spec = { 10, 180, 120 };

    b = body ? json_loads(body, 0, NULL) : NULL;
    cf_error_init(&err);
    FZ_ASSERT(cf_command_bind(type, b, &cmd, &err) == 0);
    json_decref(b);

    header = json_pack("{s:s}", "trace", "x");

    memset(&in, 0, sizeof(in));
    in.command = &cmd;
    in.aggregate_id = id;
    in.owner_id = owner;
    in.expected_version = -1;
    in.header = header;
    in.now = now;
    in.default_spec = &spec;

    memset(&out, 0, sizeof(out));
    FZ_ASSERT(cf_service_execute(fz_store, ids, &in, &out) == 0);
    if (!cf_error_is_ok(&out.err)) {
        fprintf(stderr, "fuzz_query: seed command: %s\n", out.err.msg);
        abort();
    }

    cf_error_free(&out.err);

    cf_command_free(&cmd);
    json_decref(header);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char                 eb[256];
    cf_id_gen_t          ids;
    cf_store_options_t   opts = { .busy_timeout_ms = 1000 };

    fz_store = cf_store_open(":memory:", &opts, eb, sizeof(eb));
    if (fz_store == NULL) {
        fprintf(stderr, "fuzz_query: store: %s\n", eb);
        abort();
    }

    if (cf_query_schema(fz_store, eb, sizeof(eb)) != 0) {
        fprintf(stderr, "fuzz_query: query schema: %s\n", eb);
        abort();
    }

    cf_id_init(&ids, 1);

    fz_command(&ids, CF_CMD_CREATE_EXECUTION_FAILED, fz_create_body, "a1",
               NULL, FZ_NOW);
    fz_command(&ids, CF_CMD_CREATE_EXECUTION_FAILED, fz_create_body, "a2",
               NULL, FZ_NOW + 1);
    fz_command(&ids, CF_CMD_PREPARE_COMPENSATION, NULL, "a2", NULL,
               FZ_NOW + 2);
    fz_command(&ids, CF_CMD_CREATE_EXECUTION_FAILED, fz_create_body, "a3",
               NULL, FZ_NOW + 3);
    fz_command(&ids, CF_CMD_MARK_RECOVERABLE, "{\"recoverable\":\"RECOVERABLE\"}",
               "a3", NULL, FZ_NOW + 4);
    fz_command(&ids, CF_CMD_DELETE_AGGREGATE, NULL, "a3", NULL, FZ_NOW + 5);

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  rc, pg_rc;
    char                *sql, eb[256];
    json_t              *body, *rows;
    int64_t              count;
    uint8_t              sel;
    cf_error_t           err, pg_err;
    cf_query_t           q, pg_q;
    json_error_t         jerr;
    cf_query_kind_t      kind;
    cf_query_limits_t    lim, pg_lim;
    cf_query_store_t     store;

    if (fz_store == NULL) {
        /* replayed without libFuzzer's initialization hook */
        (void) LLVMFuzzerInitialize(NULL, NULL);
    }

    if (size < 1) {
        return 0;
    }

    sel = data[0];
    data++;
    size--;

    store = (sel & 1) ? CF_QUERY_EVENT : CF_QUERY_SNAPSHOT;
    kind = (cf_query_kind_t) ((sel >> 1) & 3);

    body = cf_json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES,
                         &jerr);
    if (body == NULL) {
        return 0;
    }

    cf_query_limits_init(&lim);

    if (sel & 0x10) {
        lim.allow_expensive = 0;
        lim.allow_match_all = 0;
    }

    cf_error_init(&err);

    rc = cf_query_compile(&q, store, kind, body, &lim,
                          (sel & 8) ? "owner-1" : NULL, FZ_NOW, &err);

    /* the PostgreSQL dialect accepts and refuses the same queries (this
     * target has no server to run them on) */
    pg_lim = lim;
    pg_lim.dialect = &cf_query_pg_dialect;
    cf_error_init(&pg_err);

    pg_rc = cf_query_compile(&pg_q, store, kind, body, &pg_lim,
                             (sel & 8) ? "owner-1" : NULL, FZ_NOW, &pg_err);
    json_decref(body);

    FZ_ASSERT(pg_rc == rc);

    if (pg_rc == 0) {
        sql = cf_query_pg_sql(&pg_q, kind == CF_QUERY_COUNT);
        FZ_ASSERT(sql != NULL);
        free(sql);
        cf_query_free(&pg_q);

    } else {
        FZ_ASSERT(strcmp(err.msg, pg_err.msg) == 0);
        FZ_ASSERT(pg_q.where == NULL);
    }

    cf_error_free(&pg_err);

    if (rc != 0) {
        FZ_ASSERT(!cf_error_is_ok(&err));
        cf_error_free(&err);
        return 0;
    }

    cf_error_free(&err);

    FZ_ASSERT(q.where != NULL);
    FZ_ASSERT(json_is_array(q.params));

    sql = cf_query_sql(&q, 1);
    FZ_ASSERT(sql != NULL);
    free(sql);
    sql = cf_query_sql(&q, 0);
    FZ_ASSERT(sql != NULL);
    free(sql);

    /* what the route does: a count for count and paged, rows otherwise */

    if (kind == CF_QUERY_COUNT || kind == CF_QUERY_PAGED) {
        if (cf_query_count(fz_store, &q, &count, eb,
                           sizeof(eb)) != 0)
        {
            fprintf(stderr, "count query failed: %s\n", eb);
            abort();
        }

        FZ_ASSERT(count >= 0);

        if (q.rollup) {
            /* the rollup answers as a scan would */
            int64_t  scan;

            q.rollup = 0;
            if (cf_query_count(fz_store, &q, &scan, eb,
                               sizeof(eb)) != 0)
            {
                fprintf(stderr, "count scan failed: %s\n", eb);
                abort();
            }

            FZ_ASSERT(scan == count);
            q.rollup = 1;
        }
    }

    if (kind != CF_QUERY_COUNT) {
        rows = cf_query_rows(fz_store, &q,
                             store == CF_QUERY_SNAPSHOT && (sel & 0x20),
                             eb, sizeof(eb));
        if (rows == NULL) {
            fprintf(stderr, "row query failed: %s\n", eb);
            abort();
        }

        FZ_ASSERT(json_is_array(rows));
        json_decref(rows);
    }

    cf_query_free(&q);

    return 0;
}
