
/*
 * ngx_compensation benchmark: the PostgreSQL durable-write ceiling (issue
 * 16), the counterpart of bench/ceiling.c.
 *
 * The PostgreSQL store's writes of one create_execution_failed and nothing
 * else, in a loop over libpq: per transaction BEGIN, one event_stream
 * insert, one snapshot upsert, COMMIT, each a statement prepared once per
 * connection (the store's texts, src/cf_pg_store.c), four round trips.
 * The schema is the store's own: the program opens the store once
 * (cf_store_open creates or migrates it) before measuring.  The JSON
 * texts are those of bench/ceiling.c.
 *
 *   pg-ceiling [-p connections] [-d seconds] [-g group] [-m store] DSN
 *
 * -p: processes, one connection each, writing concurrently;
 * -g: commands per transaction (a SAVEPOINT each when > 1);
 * -m store: instead, a create as the service runs it through the store
 *     (cf_store.h, on its PostgreSQL backend): BEGIN, the request id check, the load (the snapshot
 *     row locked, then the streams), bind, decide and apply the create,
 *     append, the snapshot upsert, COMMIT: what nginx will do per command
 *     but HTTP, with its extra round trips (-g is ignored);
 * -m cycle: the prepare/apply cycle through the service (cf_service_execute,
 *     one transaction per command, as nginx without group commit): on one
 *     aggregate per connection create, then force_prepare_compensation and
 *     apply_execution_failed in turn, 80 of them (the retries' backoff
 *     overflows a long after 45), then a new aggregate
 *     (bench/bench.sh's cycle.lua, without HTTP);
 * -m group: creates in groups of -g through the group commit (cf_exec_run,
 *     as nginx's store thread runs them: the decisions before the lock,
 *     one transaction, a savepoint per command), against -g's ceiling.
 * Prints "CEILING <tx/s> <p50 us> <p99 us>" (commands per second summed
 * over the connections; latency of one transaction, or one group).
 *
 * Build (bench/pg-ceiling.sh does): cc -O2 -Isrc -I$(pg_config --includedir)
 *   bench/pg-ceiling.c src/cf_*.c -ljansson -lsqlite3 -lpq -lpthread
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <libpq-fe.h>

#include "cf_pg_store.h"
#include "cf_service.h"
#include "cf_exec.h"


#define MAX_SAMPLES  (1 << 20)


static const char  sql_append[] =
    "INSERT INTO event_stream (id, aggregate_id, tenant_id, owner_id,"
    " version, request_id, command_id, header, body, size, create_time)"
    " VALUES ($1, $2, '(0)', $3, $4, $5, $6, $7, $8, 1, $9)";

static const char  sql_snapshot[] =
    "INSERT INTO snapshot (aggregate_id, tenant_id, owner_id, version,"
    " event_id, first_operator, operator, first_event_time, event_time,"
    " snapshot_time, deleted, state, status, recoverable, is_retryable,"
    " is_below_retry_threshold, retries, next_retry_at, timeout_at, tags)"
    " VALUES ($1, '(0)', $2, $3, $4, $5, $6, $7, $8, $9, $10,"
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
    " timeout_at = excluded.timeout_at, tags = excluded.tags";

/* what a create writes (sizes as the module's rows) */
static const char  header_json[] =
    "{\"remote_ip\":\"127.0.0.1\",\"user_agent\":\"wrk\"}";

static const char  body_json[] =
    "[{\"id\":\"0Vbk6Jok055l005\",\"name\":\"execution_failed_created\","
    "\"revision\":\"0.0.1\",\"bodyType\":\"me.ahoo.wow.compensation.api."
    "ExecutionFailedCreated\",\"body\":{\"eventId\":{\"id\":\"0U2mSzz10001001"
    "\",\"version\":1,\"aggregateId\":{\"contextName\":\"order-service\","
    "\"aggregateName\":\"order\",\"aggregateId\":\"0U2mSz9k0001000\","
    "\"tenantId\":\"(0)\"}},\"function\":{\"functionKind\":\"EVENT\","
    "\"contextName\":\"order-service\",\"processorName\":\"OrderProjector\","
    "\"name\":\"onOrderCreated\"},\"error\":{\"errorCode\":\"BadRequest\","
    "\"errorMsg\":\"boom\",\"stackTrace\":\"java.lang.IllegalStateException\"},"
    "\"executeAt\":1719800000000,\"retryState\":{\"retries\":0,"
    "\"retrySpec\":{\"maxRetries\":10,\"minBackoff\":180,"
    "\"executionTimeout\":120},\"retryAt\":1719800000000,"
    "\"timeoutAt\":1719800120000,\"nextRetryAt\":1719800180000},"
    "\"retrySpec\":{\"maxRetries\":10,\"minBackoff\":180,"
    "\"executionTimeout\":120},\"recoverable\":\"UNKNOWN\"}}]";

static const char  state_json[] =
    "{\"id\":\"0Vbk6Jok055l001\",\"eventId\":{\"id\":\"0U2mSzz10001001\","
    "\"version\":1,\"aggregateId\":{\"contextName\":\"order-service\","
    "\"aggregateName\":\"order\",\"aggregateId\":\"0U2mSz9k0001000\","
    "\"tenantId\":\"(0)\"}},\"function\":{\"functionKind\":\"EVENT\","
    "\"contextName\":\"order-service\",\"processorName\":\"OrderProjector\","
    "\"name\":\"onOrderCreated\"},\"retrySpec\":{\"maxRetries\":10,"
    "\"minBackoff\":180,\"executionTimeout\":120},\"retryState\":{"
    "\"retries\":0,\"retryAt\":1719800000000,\"timeoutAt\":1719800120000,"
    "\"nextRetryAt\":1719800180000},\"status\":\"FAILED\",\"error\":{"
    "\"errorCode\":\"BadRequest\",\"errorMsg\":\"boom\",\"stackTrace\":"
    "\"java.lang.IllegalStateException\"},\"recoverable\":\"UNKNOWN\","
    "\"isRetryable\":true,\"isBelowRetryThreshold\":true}";



static int64_t
now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


static int
cmp64(const void *a, const void *b)
{
    int64_t  x = *(const int64_t *) a, y = *(const int64_t *) b;

    return x < y ? -1 : x > y;
}


/* one latency sample, the time since t0, while there is room for it */
static void
sample(int64_t t0, int64_t *lat, int64_t *nlat)
{
    if (*nlat < MAX_SAMPLES) {
        lat[(*nlat)++] = now_us() - t0;
    }
}


static int
run(PGconn *c, const char *name, int n, const char *const *v)
{
    PGresult        *res;
    ExecStatusType   st;

    res = PQexecPrepared(c, name, n, v, NULL, NULL, 0);
    st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "%s: %s", name, PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }

    /* a COMMIT the server turned into ROLLBACK is no commit */
    if (strcmp(name, "commit") == 0 && strcmp(PQcmdStatus(res), "COMMIT")) {
        fprintf(stderr, "commit: rolled back\n");
        PQclear(res);
        return -1;
    }

    PQclear(res);
    return 0;
}


static int
prepare(PGconn *c, const char *name, const char *sql, int n)
{
    PGresult  *res;
    int        ok;

    res = PQprepare(c, name, sql, n, NULL);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;

    if (!ok) {
        fprintf(stderr, "prepare %s: %s", name, PQresultErrorMessage(res));
    }

    PQclear(res);
    return ok ? 0 : -1;
}


static int
worker(const char *dsn, int proc, double seconds, int group, int64_t *count,
    int64_t *lat, int64_t *nlat)
{
    int          g;
    char         id[64], ev[64], req[64], msb[24], nrb[24], tob[24];
    int64_t      t0, end, n, ms;
    PGconn      *c;
    const char  *va[9], *vs[19];

    c = PQconnectdb(dsn);

    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s", PQerrorMessage(c));
        return -1;
    }

    if (prepare(c, "begin", "BEGIN ISOLATION LEVEL READ COMMITTED", 0)
        || prepare(c, "commit", "COMMIT", 0)
        || prepare(c, "sp", "SAVEPOINT c", 0)
        || prepare(c, "rel", "RELEASE SAVEPOINT c", 0)
        || prepare(c, "append", sql_append, 9)
        || prepare(c, "snapshot", sql_snapshot, 19))
    {
        return -1;
    }

    n = 0;
    *nlat = 0;
    end = now_us() + (int64_t) (seconds * 1e6);

    while ((t0 = now_us()) < end) {

        if (run(c, "begin", 0, NULL) != 0) {
            return -1;
        }

        for (g = 0; g < group; g++, n++) {
            snprintf(id, sizeof(id), "ceil-%d-%lld-%lld", proc,
                     (long long) getpid(), (long long) n);
            snprintf(ev, sizeof(ev), "ev-%d-%lld-%lld", proc,
                     (long long) getpid(), (long long) n);
            snprintf(req, sizeof(req), "rq-%d-%lld-%lld", proc,
                     (long long) getpid(), (long long) n);
            ms = (int64_t) time(NULL) * 1000;
            snprintf(msb, sizeof(msb), "%lld", (long long) ms);
            snprintf(nrb, sizeof(nrb), "%lld", (long long) ms + 180000);
            snprintf(tob, sizeof(tob), "%lld", (long long) ms + 120000);

            if (group > 1 && run(c, "sp", 0, NULL) != 0) {
                return -1;
            }

            va[0] = ev;
            va[1] = id;
            va[2] = "";
            va[3] = "1";
            va[4] = req;
            va[5] = req;
            va[6] = header_json;
            va[7] = body_json;
            va[8] = msb;

            if (run(c, "append", 9, va) != 0) {
                return -1;
            }

            vs[0] = id;
            vs[1] = "";
            vs[2] = "1";
            vs[3] = ev;
            vs[4] = "";
            vs[5] = "";
            vs[6] = msb;
            vs[7] = msb;
            vs[8] = msb;
            vs[9] = "0";
            vs[10] = state_json;
            vs[11] = "FAILED";
            vs[12] = "UNKNOWN";
            vs[13] = "1";
            vs[14] = "1";
            vs[15] = "0";
            vs[16] = nrb;
            vs[17] = tob;
            vs[18] = "{}";

            if (run(c, "snapshot", 19, vs) != 0) {
                return -1;
            }

            if (group > 1 && run(c, "rel", 0, NULL) != 0) {
                return -1;
            }
        }

        if (run(c, "commit", 0, NULL) != 0) {
            return -1;
        }

        sample(t0, lat, nlat);
    }

    *count = n;

    PQfinish(c);

    return 0;
}


static const char  create_body[] =
    "{\"eventId\":{\"id\":\"0U2mSzz10001001\","
    "\"aggregateId\":{\"contextName\":\"order-service\","
    "\"aggregateName\":\"order\",\"aggregateId\":\"0U2mSz9k0001000\","
    "\"tenantId\":\"(0)\"},\"version\":1},"
    "\"function\":{\"functionKind\":\"EVENT\","
    "\"contextName\":\"order-service\","
    "\"processorName\":\"OrderProjector\",\"name\":\"onOrderCreated\"},"
    "\"error\":{\"errorCode\":\"BadRequest\",\"errorMsg\":\"boom\","
    "\"stackTrace\":\"java.lang.IllegalStateException\"},"
    "\"executeAt\":1719800000000}";


/* the store connection every store-level worker runs on */
static cf_store_t *
store_open(const char *dsn)
{
    char                 errbuf[512];
    cf_store_t          *st;
    cf_store_options_t   opts;

    memset(&opts, 0, sizeof(opts));
    opts.busy_timeout_ms = 1000;

    st = cf_store_open(dsn, &opts, errbuf, sizeof(errbuf));
    if (st == NULL) {
        fprintf(stderr, "%s\n", errbuf);
    }

    return st;
}


/* the same, with the create command bound once for all the worker's runs */
static cf_store_t *
store_open_bound(const char *dsn, json_t **body, json_t **header,
    cf_command_t *cmd, cf_error_t *err)
{
    cf_store_t  *st;

    st = store_open(dsn);
    if (st == NULL) {
        return NULL;
    }

    cf_error_init(err);
    *body = json_loads(create_body, 0, NULL);
    *header = json_loads(header_json, 0, NULL);

    if (*body == NULL || *header == NULL
        || cf_command_bind(CF_CMD_CREATE_EXECUTION_FAILED, *body, cmd, err)
           != 0)
    {
        fprintf(stderr, "bind: %s\n", err->msg);
        return NULL;
    }

    return st;
}

static void
store_close_bound(cf_store_t *st, json_t *body, json_t *header,
    cf_command_t *cmd)
{
    cf_command_free(cmd);
    json_decref(body);
    json_decref(header);
    cf_store_close(st);
}



static int
store_worker(const char *dsn, int proc, double seconds, int64_t *count,
    int64_t *lat, int64_t *nlat)
{
    int                  h, rc;
    char                 id[64], ev[64], req[64];
    json_t              *body, *header;
    int64_t              t0, end, n;
    cf_error_t           err;
    cf_event_t           event;
    cf_command_t         cmd;
    cf_store_t       *st;
    cf_aggregate_t       agg;
    cf_stream_row_t      row;
    cf_decide_ctx_t      ctx;
    cf_stream_meta_t     meta;

    static const cf_retry_spec_t  spec = { 10, 180, 120 };

    st = store_open_bound(dsn, &body, &header, &cmd, &err);
    if (st == NULL) {
        return -1;
    }

    n = 0;
    *nlat = 0;
    end = now_us() + (int64_t) (seconds * 1e6);

    while ((t0 = now_us()) < end) {
        snprintf(id, sizeof(id), "st-%d-%lld-%lld", proc,
                 (long long) getpid(), (long long) n);
        snprintf(ev, sizeof(ev), "sev-%d-%lld-%lld", proc,
                 (long long) getpid(), (long long) n);
        snprintf(req, sizeof(req), "srq-%d-%lld-%lld", proc,
                 (long long) getpid(), (long long) n);

        if (cf_aggregate_init(&agg, id) != 0
            || cf_store_begin_immediate(st) != 0
            || cf_store_request_id_exists(st, req) != 0
            || cf_store_load(st, &agg, &err) != 0)
        {
            fprintf(stderr, "store: %s\n", cf_store_errmsg(st));
            return -1;
        }

        ctx.now = (int64_t) time(NULL) * 1000;
        ctx.default_spec = &spec;
        ctx.owner_id = NULL;
        ctx.expected_version = -1;

        if (cf_decide(&agg, &cmd, &ctx, &event, &err, &h) != 0) {
            fprintf(stderr, "decide: %s\n", err.msg);
            return -1;
        }

        meta.stream_id = ev;
        meta.version = agg.version + 1;
        meta.create_time = ctx.now;
        meta.operator_ = "";

        if (cf_aggregate_apply(&agg, &meta, event.type, event.body, &err)
            != 0)
        {
            fprintf(stderr, "apply: %s\n", err.msg);
            return -1;
        }

        row.id = ev;
        row.aggregate_id = id;
        row.owner_id = "";
        row.version = agg.version;
        row.request_id = req;
        row.command_id = req;
        row.header = header;
        row.event_id = ev;
        row.event_name = cf_event_name(event.type);
        row.event_body_type = cf_event_body_type(event.type);
        row.event_body = event.body;
        row.create_time = ctx.now;

        rc = cf_store_append(st, &row);
        if (rc == 0) {
            rc = cf_store_save_snapshot(st, &agg, ctx.now);
        }
        if (rc == 0) {
            rc = cf_store_commit(st);
        }

        cf_event_free(&event);
        cf_aggregate_free(&agg);

        if (rc != 0) {
            fprintf(stderr, "store: %s\n", cf_store_errmsg(st));
            return -1;
        }

        n++;
        sample(t0, lat, nlat);
    }

    *count = n;

    store_close_bound(st, body, header, &cmd);

    return 0;
}


static const char  failed_body[] =
    "{\"error\":{\"errorCode\":\"E\",\"errorMsg\":\"again\","
    "\"stackTrace\":\"\"},\"executeAt\":1719800000000}";


static int
cycle_one(cf_store_t *st, cf_id_gen_t *ids, cf_command_type_t type,
    const char *body, const char *id, json_t *header)
{
    int                  rc, ok;
    json_t              *b;
    cf_error_t           err;
    cf_command_t         cmd;
    cf_exec_input_t      in;
    cf_exec_output_t     out;

    static const cf_retry_spec_t  spec = { 10, 180, 120 };

    cf_error_init(&err);
    b = json_loads(body, 0, NULL);

    if (b == NULL || cf_command_bind(type, b, &cmd, &err) != 0) {
        fprintf(stderr, "bind: %s\n", err.msg);
        return -1;
    }

    json_decref(b);

    memset(&in, 0, sizeof(in));
    in.command = &cmd;
    in.aggregate_id = id;
    in.expected_version = -1;
    in.header = header;
    in.now = (int64_t) time(NULL) * 1000;
    in.default_spec = &spec;

    rc = cf_service_execute(st, ids, &in, &out);
    ok = rc == 0 && out.committed && cf_error_is_ok(&out.err);

    if (!ok) {
        fprintf(stderr, "%s on %s: %s %s (%s)\n", cf_command_info(type)->name,
                id, out.err.code, out.err.msg, cf_store_errmsg(st));
    }

    cf_command_free(&cmd);
    cf_error_free(&out.err);

    return ok ? 0 : -1;
}


static int
cycle_worker(const char *dsn, int proc, double seconds, int64_t *count,
    int64_t *lat, int64_t *nlat)
{
    int                  step;
    char                 id[64];
    json_t              *header;
    int64_t              t0, end, n, k;
    cf_store_t          *st;
    cf_id_gen_t          ids;
    cf_command_type_t    type;

    st = store_open(dsn);
    if (st == NULL) {
        return -1;
    }

    cf_id_init(&ids, (uint32_t) (getpid() & 0xffff));
    header = json_loads(header_json, 0, NULL);

    n = 0;
    k = 0;
    step = 81;
    *nlat = 0;
    end = now_us() + (int64_t) (seconds * 1e6);

    while ((t0 = now_us()) < end) {
        if (step >= 81) {
            snprintf(id, sizeof(id), "cyc-%d-%lld-%lld", proc,
                     (long long) getpid(), (long long) k++);
            step = 0;
        }

        step++;
        type = step == 1 ? CF_CMD_CREATE_EXECUTION_FAILED
               : step % 2 == 0 ? CF_CMD_FORCE_PREPARE_COMPENSATION
               : CF_CMD_APPLY_EXECUTION_FAILED;

        if (cycle_one(st, &ids, type,
                      step == 1 ? create_body
                      : step % 2 == 0 ? "{}" : failed_body, id, header)
            != 0)
        {
            return -1;
        }

        n++;
        sample(t0, lat, nlat);
    }

    *count = n;

    json_decref(header);
    cf_store_close(st);

    return 0;
}


static int
group_worker(const char *dsn, int proc, double seconds, int group,
    int64_t *count, int64_t *lat, int64_t *nlat)
{
    int                  g, failed;
    char                 ids_buf[64][64];
    json_t              *body, *header;
    int64_t              t0, end, n;
    cf_error_t           err;
    cf_exec_t            ex;
    cf_store_t          *st;
    cf_id_gen_t          ids;
    cf_command_t         cmd;
    cf_exec_cmd_t        cmds[64];
    cf_exec_queue_t      q;

    static const cf_retry_spec_t  spec = { 10, 180, 120 };

    if (group > 64) {
        group = 64;
    }

    st = store_open_bound(dsn, &body, &header, &cmd, &err);
    if (st == NULL) {
        return -1;
    }

    cf_id_init(&ids, (uint32_t) (getpid() & 0xffff));

    memset(&ex, 0, sizeof(ex));
    ex.store = st;
    ex.ids = &ids;
    ex.busy_timeout_ms = 1000;
    ex.grouped = 1;

    n = 0;
    *nlat = 0;
    end = now_us() + (int64_t) (seconds * 1e6);

    while ((t0 = now_us()) < end) {
        cf_exec_queue_init(&q);

        for (g = 0; g < group; g++) {
            snprintf(ids_buf[g], sizeof(ids_buf[g]), "grp-%d-%lld-%lld",
                     proc, (long long) getpid(), (long long) (n + g));

            memset(&cmds[g], 0, sizeof(cf_exec_cmd_t));
            cmds[g].in.command = &cmd;
            cmds[g].in.aggregate_id = ids_buf[g];
            cmds[g].in.expected_version = -1;
            cmds[g].in.header = header;
            cmds[g].in.now = (int64_t) time(NULL) * 1000;
            cmds[g].in.default_spec = &spec;
            cmds[g].deadline = cf_exec_deadline(&ex, 1000);
            cf_exec_queue_push(&q, &cmds[g]);
        }

        cf_exec_run(&ex, &q);

        failed = 0;

        for (g = 0; g < group; g++) {
            if (cmds[g].rc != 0 || !cmds[g].out.committed) {
                fprintf(stderr, "group: %s %s (%s)\n", cmds[g].out.err.code,
                        cmds[g].out.err.msg, cf_store_errmsg(st));
                failed = 1;
            }

            cf_error_free(&cmds[g].out.err);
        }

        if (failed) {
            return -1;
        }

        n += group;
        sample(t0, lat, nlat);
    }

    *count = n;

    store_close_bound(st, body, header, &cmd);

    return 0;
}


static void
usage(void)
{
    fprintf(stderr, "usage: pg-ceiling [-p connections] [-d seconds]"
            " [-g group] [-m store|cycle|group] DSN\n");
    exit(2);
}


int
main(int argc, char **argv)
{
    int                  c, procs, group, p, status, failed, store;
    char                 errbuf[512];
    double               seconds;
    int64_t             *shared, *lat, total, nlat, k;
    pid_t                pid;
    size_t               size;
    cf_store_t       *st;
    cf_store_options_t   opts;

    procs = 1;
    group = 1;
    store = 0;
    seconds = 5;

    while ((c = getopt(argc, argv, "p:d:g:m:")) != -1) {
        switch (c) {
        case 'm': store = strcmp(optarg, "store") == 0 ? 1
                          : strcmp(optarg, "cycle") == 0 ? 2
                          : strcmp(optarg, "group") == 0 ? 3 : 0; break;
        case 'p': procs = atoi(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'g': group = atoi(optarg); break;
        default: usage();
        }
    }

    if (optind >= argc || procs < 1 || procs > 32 || group < 1) {
        usage();
    }

    /* the store's schema, as the module creates it */
    memset(&opts, 0, sizeof(opts));
    opts.busy_timeout_ms = 1000;

    st = cf_store_open(argv[optind], &opts, errbuf, sizeof(errbuf));
    if (st == NULL) {
        fprintf(stderr, "pg-ceiling: %s\n", errbuf);
        return 1;
    }

    cf_store_close(st);

    size = (size_t) procs * (2 + MAX_SAMPLES) * sizeof(int64_t);
    shared = mmap(NULL, size, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        perror("mmap");
        return 1;
    }

    for (p = 0; p < procs; p++) {
        pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }

        if (pid == 0) {
            int64_t *me = shared + (size_t) p * (2 + MAX_SAMPLES);
            _exit((store == 3 ? group_worker(argv[optind], p, seconds,
                                             group, &me[0], &me[2], &me[1])
                   : store == 2 ? cycle_worker(argv[optind], p, seconds,
                                               &me[0], &me[2], &me[1])
                   : store ? store_worker(argv[optind], p, seconds, &me[0],
                                          &me[2], &me[1])
                         : worker(argv[optind], p, seconds, group, &me[0],
                                  &me[2], &me[1])) == 0 ? 0 : 1);
        }
    }

    failed = 0;
    while (wait(&status) > 0) {
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failed = 1;
        }
    }

    if (failed) {
        return 1;
    }

    total = 0;
    nlat = 0;
    lat = malloc((size_t) procs * MAX_SAMPLES * sizeof(int64_t));
    if (lat == NULL) {
        return 1;
    }

    for (p = 0; p < procs; p++) {
        int64_t *me = shared + (size_t) p * (2 + MAX_SAMPLES);

        total += me[0];

        for (k = 0; k < me[1]; k++) {
            lat[nlat++] = me[2 + k];
        }
    }

    qsort(lat, (size_t) nlat, sizeof(int64_t), cmp64);

    printf("CEILING %.0f %lld %lld\n", total / seconds,
           nlat ? (long long) lat[nlat / 2] : 0,
           nlat ? (long long) lat[nlat * 99 / 100] : 0);

    return 0;
}
