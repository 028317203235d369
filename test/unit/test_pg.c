
/*
 * ngx_compensation unit tests: the PostgreSQL store (cf_pg_*.c) on a live
 * server.  The run starts nothing: `make unit-pg` starts a throwaway cluster
 * (scripts/pg-cluster.sh), runs pg_tests with
 *   CF_TEST_PG_DSN      the store's DSN (a password login)
 *   CF_TEST_PG_RESTART  a command that restarts the server
 * and stops the cluster.  The tests share the database: each starts from
 * empty tables (cf_p_reset).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>

#include <sys/wait.h>

#include <libpq-fe.h>

#include "cf_test.h"
#include "cf_store.h"
#include "cf_dispatch.h"
#include "cf_exec.h"
#include "cf_pg_store.h"


#define CF_P_NOW  CF_T_EXECUTE_AT


static const cf_retry_spec_t  cf_p_spec = { 10, 180, 120 };


static const char *
cf_p_dsn(void)
{
    const char  *dsn;

    dsn = getenv("CF_TEST_PG_DSN");

    if (dsn == NULL || dsn[0] == '\0') {
        fprintf(stderr, "pg_tests: CF_TEST_PG_DSN is not set (make unit-pg"
                " starts a cluster and sets it)\n");
        exit(2);
    }

    return dsn;
}


static cf_store_t *
cf_p_open(void)
{
    char                errbuf[512];
    cf_store_t      *st;
    cf_store_options_t  opts;

    memset(&opts, 0, sizeof(opts));
    opts.busy_timeout_ms = 1000;

    st = cf_store_open(cf_p_dsn(), &opts, errbuf, sizeof(errbuf));

    if (st == NULL) {
        printf("#   cf_store_open: %s\n", errbuf);
    }

    return st;
}


static void
cf_p_notice(void *arg, const char *message)
{
    /* DROP TABLE IF EXISTS on a new database: not news */
}


/* a plain libpq connection of the test's own: SQL the store has no call for */
static PGconn *
cf_p_admin(void)
{
    PGconn  *c;

    c = PQconnectdb(cf_p_dsn());

    if (PQstatus(c) != CONNECTION_OK) {
        printf("#   admin connection: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }

    PQsetNoticeProcessor(c, cf_p_notice, NULL);

    return c;
}


static int
cf_p_sql(PGconn *c, const char *sql)
{
    int        ok;
    PGresult  *res;

    res = PQexec(c, sql);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK
         || PQresultStatus(res) == PGRES_TUPLES_OK;

    if (!ok) {
        printf("#   %s: %s", sql, PQresultErrorMessage(res));
    }

    PQclear(res);

    return ok ? 0 : -1;
}


static long long
cf_p_int(PGconn *c, const char *sql)
{
    long long  v;
    PGresult  *res;

    res = PQexec(c, sql);

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        printf("#   %s: %s", sql, PQresultErrorMessage(res));
        PQclear(res);
        return -999;
    }

    v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);

    return v;
}


static void
cf_p_reset(void)
{
    PGconn  *c;

    c = cf_p_admin();
    if (c == NULL) {
        return;
    }

    (void) cf_p_sql(c, "DROP TABLE IF EXISTS event_stream, snapshot,"
                       " comp_operation, compensation_schema,"
                       " snapshot_count");
    PQfinish(c);
}


/*
 * One command decided and applied to agg, as the service does, and the
 * event stream row that stores it (row's strings point into step).
 */
typedef struct {
    cf_event_t        ev;
    json_t           *header;
    char              sid[32];
    char              req[40];
    cf_stream_row_t   row;
} cf_p_step_t;


static int
cf_p_step(cf_aggregate_t *agg, cf_command_type_t type, const char *body,
    int64_t now, cf_p_step_t *s)
{
    int               rc, h;
    json_t           *b;
    cf_error_t        err;
    cf_command_t      cmd;
    cf_decide_ctx_t   ctx;
    cf_stream_meta_t  meta;

    memset(s, 0, sizeof(cf_p_step_t));
    cf_error_init(&err);

    b = body ? cf_t_json(body) : NULL;
    rc = cf_command_bind(type, b, &cmd, &err);
    json_decref(b);

    if (rc != 0) {
        printf("#   bind: %s\n", err.msg);
        cf_error_free(&err);
        return -1;
    }

    ctx.now = now;
    ctx.default_spec = &cf_p_spec;
    ctx.owner_id = NULL;
    ctx.expected_version = -1;

    rc = cf_decide(agg, &cmd, &ctx, &s->ev, &err, &h);
    cf_command_free(&cmd);

    if (rc != 0) {
        printf("#   decide: %s\n", err.msg);
        cf_error_free(&err);
        return -1;
    }

    snprintf(s->sid, sizeof(s->sid), "%s-s%lld", agg->state.id,
             (long long) agg->version + 1);
    snprintf(s->req, sizeof(s->req), "%s-r%lld", agg->state.id,
             (long long) agg->version + 1);

    s->header = json_pack("{s:s}", "command_operator",
                          agg->version ? "op" : "first-op");

    meta.stream_id = s->sid;
    meta.version = agg->version + 1;
    meta.create_time = now;
    meta.operator_ = agg->version ? "op" : "first-op";

    if (cf_aggregate_apply(agg, &meta, s->ev.type, s->ev.body, &err) != 0) {
        printf("#   apply: %s\n", err.msg);
        cf_error_free(&err);
        return -1;
    }

    s->row.id = s->sid;
    s->row.aggregate_id = agg->state.id;
    s->row.owner_id = agg->owner_id ? agg->owner_id : "";
    s->row.version = agg->version;
    s->row.request_id = s->req;
    s->row.command_id = s->sid;
    s->row.header = s->header;
    s->row.event_id = s->sid;
    s->row.event_name = cf_event_name(s->ev.type);
    s->row.event_body_type = cf_event_body_type(s->ev.type);
    s->row.event_body = s->ev.body;
    s->row.create_time = now;

    return 0;
}


static void
cf_p_step_free(cf_p_step_t *s)
{
    cf_event_free(&s->ev);
    json_decref(s->header);
}


/* a command's stream and snapshot in one transaction: 0 or the failure */
static int
cf_p_write(cf_store_t *st, cf_aggregate_t *agg, cf_p_step_t *s,
    int64_t now)
{
    int  rc;

    rc = cf_store_begin_immediate(st);
    if (rc != 0) {
        return rc;
    }

    rc = cf_store_append(st, &s->row);

    if (rc == 0) {
        rc = cf_store_save_snapshot(st, agg, now);
    }

    if (rc == 0) {
        return cf_store_commit(st);
    }

    cf_store_rollback(st);

    return rc;
}


/* an aggregate created at CF_P_NOW with its first event, for a test to build on */
static void
cf_p_seed(cf_store_t *st, cf_aggregate_t *agg, const char *id)
{
    cf_p_step_t  s;

    CHECK_INT(cf_aggregate_init(agg, id), 0);
    CHECK_INT(cf_p_step(agg, CF_CMD_CREATE_EXECUTION_FAILED,
                        cf_t_create_body, CF_P_NOW, &s), 0);
    CHECK_INT(cf_p_write(st, agg, &s, CF_P_NOW), 0);
    cf_p_step_free(&s);
}


/* a created execution with id, failed and due at `at` + backoff s */
static int
cf_p_create(cf_store_t *st, const char *id, int64_t at)
{
    int             rc;
    char            body[1024];
    cf_p_step_t     s;
    cf_aggregate_t  agg;

    snprintf(body, sizeof(body),
        "{\"eventId\":{\"id\":\"e\",\"aggregateId\":{\"contextName\":\"c\","
        "\"aggregateName\":\"o\",\"aggregateId\":\"a\",\"tenantId\":\"(0)\"},"
        "\"version\":1},\"function\":{\"functionKind\":\"EVENT\","
        "\"contextName\":\"c\",\"processorName\":\"p\",\"name\":\"n\"},"
        "\"error\":{\"errorCode\":\"X\",\"errorMsg\":\"m\",\"stackTrace\":\"\"},"
        "\"executeAt\":%lld,\"retrySpec\":{\"maxRetries\":3,"
        "\"minBackoff\":1,\"executionTimeout\":10},"
        "\"recoverable\":\"RECOVERABLE\"}", (long long) at);

    if (cf_aggregate_init(&agg, id) != 0) {
        return -1;
    }

    rc = cf_p_step(&agg, CF_CMD_CREATE_EXECUTION_FAILED, body, at, &s);

    if (rc == 0) {
        rc = cf_p_write(st, &agg, &s, at);
        cf_p_step_free(&s);
    }

    cf_aggregate_free(&agg);

    return rc;
}


static void *
cf_p_alloc(void *data, size_t size)
{
    return malloc(size);
}


/* ---- the tests ---- */


static void
test_pg_dsn(void)
{
    char                errbuf[512], dsn[1024];
    const char         *p;
    cf_store_t      *st;
    cf_store_options_t  opts;

    memset(&opts, 0, sizeof(opts));
    opts.busy_timeout_ms = 100;

    /* a wrong password: refused, named, never shown */
    p = strstr(cf_p_dsn(), "@");

    if (CHECK(p != NULL)) {
        snprintf(dsn, sizeof(dsn), "postgresql://compensation:Wr0ngSecret%s",
                 p);

        st = cf_store_open(dsn, &opts, errbuf, sizeof(errbuf));
        CHECK(st == NULL);
        CHECK(strstr(errbuf, "password authentication failed") != NULL);
        CHECK(strstr(errbuf, "Wr0ngSecret") == NULL);
        printf("#   %s\n", errbuf);
        cf_store_close(st);
    }

    /* a DSN libpq cannot parse: its message never quotes the password */
    st = cf_store_open("postgresql://u:S3cr%zzet@localhost:5432/db",
                          &opts, errbuf, sizeof(errbuf));
    CHECK(st == NULL);
    CHECK(strstr(errbuf, "S3cr") == NULL);
    CHECK(strstr(errbuf, "invalid PostgreSQL connection string") != NULL);
    printf("#   %s\n", errbuf);

    st = cf_store_open("host=/nonexistent-dir port=1 dbname=x"
                          " password=Pw0rdXyz", &opts, errbuf,
                          sizeof(errbuf));
    CHECK(st == NULL);
    CHECK(strstr(errbuf, "Pw0rdXyz") == NULL);
    CHECK(strstr(errbuf, "connecting to PostgreSQL") != NULL);
    printf("#   %s\n", errbuf);

    /* what nginx logs instead of the DSN: no password, no connection */
    cf_pg_dsn_target("postgresql://u1:Pw1xyz@db.example:6432/d1?sslmode=require",
                     errbuf, sizeof(errbuf));
    CHECK(strcmp(errbuf, "u1@db.example:6432/d1") == 0);

    cf_pg_dsn_target("host=/run/pg port=5433 dbname=d2 user=u2"
                     " password=Pw2xyz", errbuf, sizeof(errbuf));
    CHECK(strcmp(errbuf, "u2@/run/pg:5433/d2") == 0);

    cf_pg_dsn_target("postgresql://u:S3cr%zzet@localhost:5432/db", errbuf,
                     sizeof(errbuf));
    CHECK(strcmp(errbuf, "(an invalid connection string)") == 0);

    cf_pg_dsn_target("postgresql:///d3", errbuf, 4);
    CHECK(strcmp(errbuf, "@:/") == 0);
}


static void
test_pg_schema_twice(void)
{
    PGconn         *c;
    cf_store_t  *st;

    cf_p_reset();

    st = cf_p_open();
    CHECK(st != NULL);
    cf_store_close(st);

    /* idempotent: the second open finds version 1 and creates nothing */
    st = cf_p_open();
    CHECK(st != NULL);
    cf_store_close(st);

    c = cf_p_admin();
    if (!CHECK(c != NULL)) {
        return;
    }

    CHECK_INT(cf_p_int(c, "SELECT version FROM compensation_schema"), 3);
    CHECK_INT(cf_p_int(c, "SELECT count(*) FROM compensation_schema"), 1);
    CHECK_INT(cf_p_int(c, "SELECT count(*) FROM pg_class WHERE relname IN"
                          " ('event_stream', 'snapshot', 'comp_operation')"),
              3);

    /* a newer database than this module: refused, said so */
    CHECK(cf_p_sql(c, "UPDATE compensation_schema SET version = 99") == 0);
    st = cf_p_open();
    CHECK(st == NULL);
    cf_store_close(st);
    CHECK(cf_p_sql(c, "UPDATE compensation_schema SET version = 1") == 0);

    PQfinish(c);
}


/* several processes open a new database at once: all of them work */
static void
test_pg_schema_concurrent(void)
{
    int     i, status, fds[2], ok;
    char    go;
    pid_t   pids[4];
    PGconn *c;

    cf_p_reset();

    if (!CHECK(pipe(fds) == 0)) {
        return;
    }

    for (i = 0; i < 4; i++) {
        pids[i] = fork();

        if (pids[i] == 0) {
            cf_store_t  *st;

            close(fds[1]);
            /* all start when the parent closes the pipe */
            (void) read(fds[0], &go, 1);
            st = cf_p_open();
            ok = st != NULL;
            cf_store_close(st);
            _exit(ok ? 0 : 1);
        }
    }

    close(fds[0]);
    close(fds[1]);

    for (i = 0; i < 4; i++) {
        if (pids[i] < 0 || waitpid(pids[i], &status, 0) != pids[i]) {
            CHECK(0);
            continue;
        }

        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    c = cf_p_admin();
    if (CHECK(c != NULL)) {
        CHECK_INT(cf_p_int(c, "SELECT version FROM compensation_schema"), 3);
        PQfinish(c);
    }
}


/*
 * The same commands into the SQLite store and into PostgreSQL: the stored
 * state text (the fast path's answer), the event bodies and the replays are
 * the same bytes.
 */
static void
test_pg_same_as_sqlite(void)
{
    int                 i, rc;
    char                path[] = "/tmp/cf_pg_sqliteXXXXXX", errbuf[256];
    char               *a, *b, *ta, *tb;
    size_t              la, lb;
    cf_buf_t            wa, wb;
    cf_store_t         *lite;
    cf_error_t          err;
    cf_p_step_t         s;
    cf_store_t      *st;
    cf_aggregate_t      agg, ra, rb;
    cf_snapshot_row_t   rowa, rowb;
    cf_store_options_t  opts;

    static const struct {
        cf_command_type_t   type;
        const char         *body;
    }  cmds[] = {
        { CF_CMD_CREATE_EXECUTION_FAILED, cf_t_create_body },
        { CF_CMD_PREPARE_COMPENSATION, NULL },
        { CF_CMD_APPLY_EXECUTION_FAILED,
          "{\"error\":{\"errorCode\":\"E\",\"errorMsg\":"
          "\"\\u00e9\\\"\\n\\u2028 \\ud83d\\ude00\",\"stackTrace\":\"at x\"},"
          "\"executeAt\":1719800002000,\"recoverable\":\"RECOVERABLE\"}" },
        { CF_CMD_APPLY_RESOURCE_TAGS,
          "{\"tags\":{\"dept\":[\"eng\",\"pm\"],\"a\":[\"\\u00fc\"]}}" },
        { CF_CMD_PREPARE_COMPENSATION, NULL }
    };

    cf_p_reset();

    st = cf_p_open();
    if (!CHECK(st != NULL)) {
        return;
    }

    i = mkstemp(path);
    if (!CHECK(i >= 0)) {
        cf_store_close(st);
        return;
    }
    close(i);

    memset(&opts, 0, sizeof(opts));
    opts.busy_timeout_ms = 1000;
    lite = cf_store_open(path, &opts, errbuf, sizeof(errbuf));

    if (!CHECK(lite != NULL)) {
        cf_store_close(st);
        unlink(path);
        return;
    }

    CHECK_INT(cf_aggregate_init(&agg, "same-1"), 0);

    for (i = 0; i < (int) (sizeof(cmds) / sizeof(cmds[0])); i++) {
        if (!CHECK(cf_p_step(&agg, cmds[i].type, cmds[i].body,
                             CF_P_NOW + i * 1000, &s) == 0))
        {
            break;
        }

        CHECK_INT(cf_p_write(st, &agg, &s, CF_P_NOW + i * 1000), 0);

        rc = cf_store_begin_immediate(lite);
        if (rc == 0) {
            rc = cf_store_append(lite, &s.row);
        }
        if (rc == 0) {
            rc = cf_store_save_snapshot(lite, &agg, CF_P_NOW + i * 1000);
        }
        CHECK_INT(rc == 0 ? cf_store_commit(lite) : rc, 0);

        cf_p_step_free(&s);

        /* the state text after each command, byte for byte */
        ta = NULL;
        tb = NULL;
        CHECK_INT(cf_store_state_text(lite, "same-1", cf_p_alloc, NULL, &ta,
                                      &la), 1);
        CHECK_INT(cf_store_state_text(st, "same-1", cf_p_alloc, NULL, &tb,
                                         &lb), 1);

        if (ta && tb) {
            CHECK_INT(la, lb);
            CHECK(la == lb && memcmp(ta, tb, la) == 0);
        }

        free(ta);
        free(tb);
    }

    /* the snapshot rows */
    CHECK_INT(cf_store_read_snapshot(lite, "same-1", &rowa), 0);
    CHECK_INT(cf_store_read_snapshot(st, "same-1", &rowb), 0);
    CHECK_STR(rowb.state, rowa.state);
    CHECK_STR(rowb.tags, rowa.tags);
    CHECK_STR(rowb.event_id, rowa.event_id);
    CHECK_STR(rowb.tenant_id, rowa.tenant_id);
    CHECK_STR(rowb.first_operator, rowa.first_operator);
    CHECK_STR(rowb.operator_, rowa.operator_);
    CHECK_INT(rowb.version, rowa.version);
    CHECK_INT(rowb.version, 5);
    CHECK_INT(rowb.first_event_time, rowa.first_event_time);
    CHECK_INT(rowb.event_time, rowa.event_time);
    CHECK_INT(rowb.deleted, rowa.deleted);
    cf_snapshot_row_free(&rowa);
    cf_snapshot_row_free(&rowb);

    /* loads: from the snapshot, and replayed from the first event */
    cf_error_init(&err);
    cf_buf_init(&wa);
    cf_buf_init(&wb);

    CHECK_INT(cf_aggregate_init(&ra, "same-1"), 0);
    CHECK_INT(cf_aggregate_init(&rb, "same-1"), 0);
    CHECK_INT(cf_store_load(st, &ra, &err), 0);
    CHECK_INT(cf_store_load_upto(st, &rb, INT64_MAX, INT64_MAX, &err), 0);
    CHECK_INT(ra.version, 5);
    CHECK_INT(rb.version, 5);
    cf_state_write(&wa, &ra.state);
    cf_state_write(&wb, &rb.state);
    a = (char *) cf_buf_cstr(&wa);
    b = (char *) cf_buf_cstr(&wb);
    CHECK_STR(a, b);
    cf_buf_reset(&wb);
    cf_state_write(&wb, &agg.state);
    CHECK_STR(a, cf_buf_cstr(&wb));
    a = cf_t_dump(ra.tags);
    CHECK_STR(a, "{\"dept\":[\"eng\",\"pm\"],\"a\":[\"\xc3\xbc\"]}");
    free(a);
    cf_aggregate_free(&ra);
    cf_aggregate_free(&rb);

    /* replay up to a time: the first two streams only */
    CHECK_INT(cf_aggregate_init(&ra, "same-1"), 0);
    CHECK_INT(cf_store_load_upto(st, &ra, INT64_MAX, CF_P_NOW + 1000,
                                    &err), 0);
    CHECK_INT(ra.version, 2);
    cf_aggregate_free(&ra);

    /* a regenerated snapshot is the same row */
    CHECK_INT(cf_store_regenerate_snapshot(st, "same-1", CF_P_NOW + 9000,
                                              &err), 0);
    CHECK_INT(cf_store_regenerate_snapshot(st, "nothing", CF_P_NOW,
                                              &err), CF_STORE_NOT_FOUND);
    CHECK_INT(cf_store_read_snapshot(st, "same-1", &rowb), 0);
    CHECK_STR(rowb.state, cf_buf_cstr(&wb));
    CHECK_INT(rowb.snapshot_time, CF_P_NOW + 9000);
    cf_snapshot_row_free(&rowb);

    cf_buf_free(&wa);
    cf_buf_free(&wb);
    cf_aggregate_free(&agg);
    cf_error_free(&err);

    cf_store_close(lite);
    unlink(path);
    snprintf(errbuf, sizeof(errbuf), "%s-wal", path);
    unlink(errbuf);
    snprintf(errbuf, sizeof(errbuf), "%s-shm", path);
    unlink(errbuf);

    cf_store_close(st);
}


/*
 * The service through the store interface: the same groups of commands
 * (cf_exec_run: decided before the lock, one transaction, a savepoint
 * each) on a SQLite file and on PostgreSQL give the same answers, and the
 * same state bytes.
 */
typedef struct {
    cf_store_t        *st;
    cf_id_gen_t        ids;
    cf_retry_spec_t    spec;
    cf_exec_t          ex;
    cf_exec_queue_t    q;
    cf_exec_cmd_t      c[4];
    cf_command_t       cmd[4];
    int                n;
} cf_p_exec_t;


static void
cf_p_exec_init(cf_p_exec_t *e, cf_store_t *st)
{
    memset(e, 0, sizeof(cf_p_exec_t));

    e->st = st;
    cf_id_init(&e->ids, 7);
    e->spec.max_retries = 10;
    e->spec.min_backoff = 180;
    e->spec.execution_timeout = 120;
    e->ex.store = st;
    e->ex.ids = &e->ids;
    e->ex.busy_timeout_ms = 5000;
    e->ex.grouped = 1;
    cf_exec_queue_init(&e->q);
}


static void
cf_p_exec_add(cf_p_exec_t *e, cf_command_type_t type, const char *id,
    const char *request_id, const char *body, int64_t now)
{
    json_t         *j;
    cf_error_t      err;
    cf_exec_cmd_t  *c;

    c = &e->c[e->n];
    memset(c, 0, sizeof(cf_exec_cmd_t));

    j = body ? cf_t_json(body) : NULL;
    cf_error_init(&err);

    if (cf_command_bind(type, j, &e->cmd[e->n], &err) != 0) {
        abort();
    }

    json_decref(j);

    c->in.command = &e->cmd[e->n];
    c->in.aggregate_id = id;
    c->in.request_id = request_id;
    c->in.expected_version = -1;
    c->in.header = json_pack("{s:s}", "remote_ip", "127.0.0.1");
    c->in.now = now;
    c->in.default_spec = &e->spec;
    c->deadline = cf_exec_deadline(&e->ex, -1);

    e->n++;
    cf_exec_queue_push(&e->q, c);
}


static void
cf_p_exec_free(cf_p_exec_t *e)
{
    int  i;

    for (i = 0; i < e->n; i++) {
        cf_error_free(&e->c[i].out.err);
        json_decref(e->c[i].in.header);
        cf_command_free(&e->cmd[i]);
    }

    e->n = 0;
    cf_exec_queue_init(&e->q);
}


static void
test_pg_service(void)
{
    int                 i, k;
    char                path[] = "/tmp/cf_pg_svcXXXXXX", errbuf[256];
    char               *ta, *tb;
    size_t              la, lb;
    cf_store_t         *st[2];
    cf_p_exec_t         e[2];
    cf_store_options_t  opts;

    static const char  *ids[] = { "g1", "g2" };

    cf_p_reset();

    st[1] = cf_p_open();
    i = mkstemp(path);

    if (!CHECK(st[1] != NULL && i >= 0)) {
        cf_store_close(st[1]);
        return;
    }

    close(i);
    memset(&opts, 0, sizeof(opts));
    opts.busy_timeout_ms = 5000;
    st[0] = cf_store_open(path, &opts, errbuf, sizeof(errbuf));

    if (!CHECK(st[0] != NULL)) {
        cf_store_close(st[1]);
        unlink(path);
        return;
    }

    for (k = 0; k < 2; k++) {
        cf_p_exec_init(&e[k], st[k]);

        /* two creates, a second create of g1, a reused request id */
        cf_p_exec_add(&e[k], CF_CMD_CREATE_EXECUTION_FAILED, "g1", "rq-1",
                      cf_t_create_body, CF_P_NOW);
        cf_p_exec_add(&e[k], CF_CMD_CREATE_EXECUTION_FAILED, "g2", "rq-2",
                      cf_t_create_body, CF_P_NOW);
        cf_p_exec_add(&e[k], CF_CMD_CREATE_EXECUTION_FAILED, "g1", "rq-3",
                      cf_t_create_body, CF_P_NOW);
        cf_p_exec_add(&e[k], CF_CMD_CREATE_EXECUTION_FAILED, "g3", "rq-2",
                      cf_t_create_body, CF_P_NOW);
        cf_exec_run(&e[k].ex, &e[k].q);
    }

    for (i = 0; i < 4; i++) {
        CHECK_INT(e[1].c[i].rc, e[0].c[i].rc);
        CHECK_STR(e[1].c[i].out.err.code, e[0].c[i].out.err.code);
        CHECK_STR(e[1].c[i].out.err.msg, e[0].c[i].out.err.msg);
        CHECK_INT(e[1].c[i].out.version, e[0].c[i].out.version);
        CHECK_INT(e[1].c[i].out.committed, e[0].c[i].out.committed);
    }

    CHECK_STR(e[1].c[0].out.err.code, CF_OK);
    CHECK_STR(e[1].c[3].out.err.code, CF_E_DUPLICATE_REQUEST_ID);

    /* then each one alone (no group): g1 prepared, then its call failed */
    for (k = 0; k < 2; k++) {
        cf_p_exec_free(&e[k]);
        e[k].ex.grouped = 0;
        cf_p_exec_add(&e[k], CF_CMD_PREPARE_COMPENSATION, "g1", NULL, NULL,
                      CF_P_NOW + 1000);
        cf_p_exec_add(&e[k], CF_CMD_APPLY_EXECUTION_FAILED, "g1", NULL,
                      "{\"error\":{\"errorCode\":\"E\",\"errorMsg\":"
                      "\"\\u00e9\",\"stackTrace\":\"\"},"
                      "\"executeAt\":1719800002000}", CF_P_NOW + 2000);
        cf_exec_run(&e[k].ex, &e[k].q);
    }

    for (i = 0; i < 2; i++) {
        CHECK_STR(e[1].c[i].out.err.code, e[0].c[i].out.err.code);
        CHECK_INT(e[1].c[i].out.version, e[0].c[i].out.version);
    }

    CHECK_STR(e[1].c[1].out.err.code, CF_OK);
    CHECK_INT(e[1].c[1].out.version, 3);

    for (i = 0; i < 2; i++) {
        ta = NULL;
        tb = NULL;
        CHECK_INT(cf_store_state_text(st[0], ids[i], cf_p_alloc, NULL, &ta,
                                      &la), 1);
        CHECK_INT(cf_store_state_text(st[1], ids[i], cf_p_alloc, NULL, &tb,
                                      &lb), 1);
        CHECK(ta && tb && la == lb && memcmp(ta, tb, la) == 0);
        free(ta);
        free(tb);
    }

    cf_p_exec_free(&e[0]);
    cf_p_exec_free(&e[1]);
    cf_store_close(st[0]);
    cf_store_close(st[1]);
    unlink(path);
    snprintf(errbuf, sizeof(errbuf), "%s-wal", path);
    unlink(errbuf);
    snprintf(errbuf, sizeof(errbuf), "%s-shm", path);
    unlink(errbuf);
}


/*
 * Several processes (as several nginx, each with its own machine id) send
 * commands to the same aggregates at once through the service: every
 * command succeeds (the aggregate's row lock makes them wait for each
 * other, not conflict), the versions are contiguous, and replaying the
 * streams gives the snapshot's state, byte for byte.
 */
#define CF_P_PROCS  4
#define CF_P_EACH   15
#define CF_P_AGGS   3

typedef struct {
    int64_t      expected;
    int64_t      seen;
    int          gaps;
} cf_p_versions_t;


static int
cf_p_version_cb(void *data, const cf_stream_view_t *row)
{
    cf_p_versions_t  *v = data;

    if (row->version != v->seen + 1) {
        v->gaps++;
    }

    v->seen = row->version;

    return 0;
}


static int
cf_p_service_one(cf_store_t *st, cf_id_gen_t *ids, cf_command_type_t type,
    const char *id, const char *body, int64_t now)
{
    int               rc, ok;
    json_t           *j;
    cf_error_t        err;
    cf_command_t      cmd;
    cf_exec_input_t   in;
    cf_exec_output_t  out;

    static const cf_retry_spec_t  spec = { 10, 180, 120 };

    j = cf_t_json(body);
    cf_error_init(&err);

    if (cf_command_bind(type, j, &cmd, &err) != 0) {
        json_decref(j);
        cf_error_free(&err);
        return -1;
    }

    json_decref(j);

    memset(&in, 0, sizeof(in));
    in.command = &cmd;
    in.aggregate_id = id;
    in.expected_version = -1;
    in.header = json_pack("{s:s}", "remote_ip", "127.0.0.1");
    in.now = now;
    in.default_spec = &spec;

    rc = cf_service_execute(st, ids, &in, &out);
    ok = rc == 0 && out.committed && strcmp(out.err.code, CF_OK) == 0;

    if (!ok) {
        printf("#   %s on %s: %s %s\n", cf_command_info(type)->name, id,
               out.err.code, out.err.msg);
    }

    json_decref(in.header);
    cf_command_free(&cmd);
    cf_error_free(&out.err);

    return ok ? 0 : -1;
}


static void
test_pg_concurrent_commands(void)
{
    int                 p, k, a, status, failed;
    char                id[16], body[128];
    pid_t               pids[CF_P_PROCS];
    cf_buf_t            w;
    cf_store_t         *st;
    cf_error_t          err;
    cf_id_gen_t         ids;
    cf_aggregate_t      agg;
    cf_p_versions_t     v;
    cf_snapshot_row_t   row;

    cf_p_reset();

    st = cf_p_open();
    if (!CHECK(st != NULL)) {
        return;
    }

    cf_id_init(&ids, 1);

    for (a = 0; a < CF_P_AGGS; a++) {
        snprintf(id, sizeof(id), "cc%d", a);
        CHECK_INT(cf_p_service_one(st, &ids, CF_CMD_CREATE_EXECUTION_FAILED,
                                   id, cf_t_create_body, CF_P_NOW), 0);
    }

    cf_store_close(st);

    for (p = 0; p < CF_P_PROCS; p++) {
        pids[p] = fork();

        if (pids[p] == 0) {
            failed = 0;
            st = cf_p_open();

            if (st == NULL) {
                _exit(100);
            }

            /* a machine id of its own: stream ids never collide */
            cf_id_init(&ids, 10 + p);

            for (k = 0; k < CF_P_EACH; k++) {
                snprintf(id, sizeof(id), "cc%d", (p + k) % CF_P_AGGS);
                snprintf(body, sizeof(body), "{\"maxRetries\":%d,"
                         "\"minBackoff\":%d,\"executionTimeout\":30}",
                         p + 1, k + 1);

                if (cf_p_service_one(st, &ids, CF_CMD_APPLY_RETRY_SPEC, id,
                                     body, CF_P_NOW + 1000 + k) != 0)
                {
                    failed++;
                }
            }

            cf_store_close(st);
            _exit(failed);
        }
    }

    for (p = 0; p < CF_P_PROCS; p++) {
        CHECK(pids[p] > 0 && waitpid(pids[p], &status, 0) == pids[p]
              && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    st = cf_p_open();
    if (!CHECK(st != NULL)) {
        return;
    }

    cf_error_init(&err);
    cf_buf_init(&w);

    for (a = 0; a < CF_P_AGGS; a++) {
        snprintf(id, sizeof(id), "cc%d", a);

        /* 1 create, then the commands this aggregate got */
        memset(&v, 0, sizeof(v));
        v.expected = 1;

        for (p = 0; p < CF_P_PROCS; p++) {
            for (k = 0; k < CF_P_EACH; k++) {
                v.expected += (p + k) % CF_P_AGGS == a;
            }
        }

        CHECK_INT(cf_store_each_stream(st, id, 1, INT64_MAX, cf_p_version_cb,
                                       &v, &err), v.expected);
        CHECK_INT(v.seen, v.expected);
        CHECK_INT(v.gaps, 0);

        /* the replay from the first event is the snapshot's state */
        CHECK_INT(cf_aggregate_init(&agg, id), 0);
        CHECK_INT(cf_store_load_upto(st, &agg, INT64_MAX, INT64_MAX, &err),
                  0);
        CHECK_INT(agg.version, v.expected);
        CHECK_INT(cf_store_read_snapshot(st, id, &row), 0);
        CHECK_INT(row.version, v.expected);

        cf_buf_reset(&w);
        cf_state_write(&w, &agg.state);
        CHECK_STR(row.state, cf_buf_cstr(&w));

        cf_snapshot_row_free(&row);
        cf_aggregate_free(&agg);
    }

    cf_buf_free(&w);
    cf_error_free(&err);
    cf_store_close(st);
}


static void
test_pg_conflicts(void)
{
    int64_t          v;
    cf_error_t       err;
    cf_p_step_t      s;
    cf_store_t      *st;
    cf_aggregate_t   agg, other;

    cf_p_reset();

    st = cf_p_open();
    if (!CHECK(st != NULL)) {
        return;
    }

    cf_error_init(&err);
    CHECK_INT(cf_aggregate_init(&agg, "c1"), 0);
    CHECK_INT(cf_p_step(&agg, CF_CMD_CREATE_EXECUTION_FAILED,
                        cf_t_create_body, CF_P_NOW, &s), 0);
    CHECK_INT(cf_p_write(st, &agg, &s, CF_P_NOW), 0);
    CHECK_INT(cf_store_request_id_exists(st, "c1-r1"), 1);
    CHECK_INT(cf_store_request_id_exists(st, "nope"), 0);

    /* version 1 again, another request id: the version's key */
    s.row.id = "c1-other";
    s.row.request_id = "c1-r-other";
    CHECK_INT(cf_p_write(st, &agg, &s, CF_P_NOW), CF_STORE_VERSION_TAKEN);
    CHECK_STR(cf_pg_store_sqlstate(st), "23505");

    /* the request id again, a new version: the request id's key */
    s.row.request_id = "c1-r1";
    s.row.version = 2;
    CHECK_INT(cf_p_write(st, &agg, &s, CF_P_NOW), CF_STORE_DUPLICATE_REQ);

    /* both keys broken: the request id's, as the SQLite store says */
    s.row.version = 1;
    CHECK_INT(cf_p_write(st, &agg, &s, CF_P_NOW), CF_STORE_DUPLICATE_REQ);

    /* the stream id (primary key): a conflict */
    s.row.id = "c1-s1";
    s.row.request_id = "c1-r-third";
    s.row.version = 7;
    CHECK_INT(cf_p_write(st, &agg, &s, CF_P_NOW), CF_STORE_VERSION_TAKEN);
    cf_p_step_free(&s);

    CHECK_INT(cf_store_latest_version(st, "c1", &v, &err), 0);
    CHECK_INT(v, 1);

    /* another aggregate may use the same request id (the key is per
     * aggregate, as in SQLite) */
    CHECK_INT(cf_aggregate_init(&other, "c2"), 0);
    CHECK_INT(cf_p_step(&other, CF_CMD_CREATE_EXECUTION_FAILED,
                        cf_t_create_body, CF_P_NOW, &s), 0);
    s.row.request_id = "c1-r1";
    CHECK_INT(cf_p_write(st, &other, &s, CF_P_NOW), 0);
    cf_p_step_free(&s);

    cf_aggregate_free(&agg);
    cf_aggregate_free(&other);
    cf_error_free(&err);
    cf_store_close(st);
}


/* a rolled back transaction leaves nothing; savepoints undo one command */
static void
test_pg_rollback_savepoints(void)
{
    int64_t             v;
    PGconn             *c;
    cf_error_t          err;
    cf_p_step_t         s1, s2, s3;
    cf_store_t      *st;
    cf_aggregate_t      a, b, d;
    cf_snapshot_row_t   row;

    cf_p_reset();

    st = cf_p_open();
    c = cf_p_admin();
    if (!CHECK(st != NULL && c != NULL)) {
        cf_store_close(st);
        PQfinish(c);
        return;
    }

    cf_error_init(&err);
    CHECK_INT(cf_aggregate_init(&a, "r1"), 0);
    CHECK_INT(cf_aggregate_init(&b, "r2"), 0);
    CHECK_INT(cf_aggregate_init(&d, "r3"), 0);
    CHECK_INT(cf_p_step(&a, CF_CMD_CREATE_EXECUTION_FAILED, cf_t_create_body,
                        CF_P_NOW, &s1), 0);
    CHECK_INT(cf_p_step(&b, CF_CMD_CREATE_EXECUTION_FAILED, cf_t_create_body,
                        CF_P_NOW, &s2), 0);
    CHECK_INT(cf_p_step(&d, CF_CMD_CREATE_EXECUTION_FAILED, cf_t_create_body,
                        CF_P_NOW, &s3), 0);

    /* rollback */
    CHECK_INT(cf_store_in_transaction(st), 0);
    CHECK_INT(cf_store_begin_immediate(st), 0);
    CHECK_INT(cf_store_in_transaction(st), 1);
    CHECK_INT(cf_store_append(st, &s1.row), 0);
    CHECK_INT(cf_store_save_snapshot(st, &a, CF_P_NOW), 0);
    cf_store_rollback(st);
    CHECK_INT(cf_store_in_transaction(st), 0);

    CHECK_INT(cf_store_read_snapshot(st, "r1", &row), CF_STORE_NOT_FOUND);
    CHECK_INT(cf_store_latest_version(st, "r1", &v, &err), 0);
    CHECK_INT(v, 0);
    CHECK_INT(cf_p_int(c, "SELECT count(*) FROM event_stream"), 0);

    /*
     * a group: r1 written and released; a conflicting append in the
     * second savepoint (the transaction is aborted until ROLLBACK TO);
     * r3 written; one COMMIT keeps r1 and r3
     */
    CHECK_INT(cf_store_begin_immediate(st), 0);

    CHECK_INT(cf_store_savepoint(st), 0);
    CHECK_INT(cf_store_append(st, &s1.row), 0);
    CHECK_INT(cf_store_save_snapshot(st, &a, CF_P_NOW), 0);
    CHECK_INT(cf_store_release(st), 0);

    CHECK_INT(cf_store_savepoint(st), 0);
    CHECK_INT(cf_store_append(st, &s2.row), 0);
    s1.row.request_id = "another";
    CHECK_INT(cf_store_append(st, &s1.row), CF_STORE_VERSION_TAKEN);
    CHECK_INT(cf_store_in_transaction(st), 1);
    CHECK_INT(cf_store_rollback_to(st), 0);

    CHECK_INT(cf_store_savepoint(st), 0);
    CHECK_INT(cf_store_append(st, &s3.row), 0);
    CHECK_INT(cf_store_save_snapshot(st, &d, CF_P_NOW), 0);
    CHECK_INT(cf_store_release(st), 0);

    CHECK_INT(cf_store_commit(st), 0);
    CHECK_INT(cf_store_errcode(st), 0);

    CHECK_INT(cf_p_int(c, "SELECT count(*) FROM event_stream"), 2);
    CHECK_INT(cf_p_int(c, "SELECT count(*) FROM event_stream"
                          " WHERE aggregate_id = 'r2'"), 0);
    CHECK_INT(cf_p_int(c, "SELECT count(*) FROM snapshot"), 2);

    /* scan_ids: binary order, paged */
    {
        char   **ids;
        size_t   n;

        CHECK_INT(cf_store_scan_ids(st, "", 1, &ids, &n), 0);
        CHECK_INT(n, 1);
        if (n == 1) {
            CHECK_STR(ids[0], "r1");
        }
        cf_ids_free(ids, n);

        CHECK_INT(cf_store_scan_ids(st, "r1", 10, &ids, &n), 0);
        CHECK_INT(n, 1);
        if (n == 1) {
            CHECK_STR(ids[0], "r3");
        }
        cf_ids_free(ids, n);
    }

    cf_p_step_free(&s1);
    cf_p_step_free(&s2);
    cf_p_step_free(&s3);
    cf_aggregate_free(&a);
    cf_aggregate_free(&b);
    cf_aggregate_free(&d);
    cf_error_free(&err);
    PQfinish(c);
    cf_store_close(st);
}


/*
 * Two commands on one aggregate: the second waits for the first's row lock
 * (as SQLite's write lock makes it wait), at most its busy timeout, then
 * reads what the first committed.
 */
static void
test_pg_aggregate_lock(void)
{
    cf_error_t       err;
    cf_p_step_t      s;
    cf_store_t      *a, *b;
    cf_aggregate_t   agg, la, lb;

    cf_p_reset();

    a = cf_p_open();
    b = cf_p_open();
    if (!CHECK(a != NULL && b != NULL)) {
        cf_store_close(a);
        cf_store_close(b);
        return;
    }

    cf_error_init(&err);
    cf_p_seed(a, &agg, "w1");

    /* A loads in a write transaction: it holds the aggregate */
    CHECK_INT(cf_aggregate_init(&la, "w1"), 0);
    CHECK_INT(cf_store_begin_immediate(a), 0);
    CHECK_INT(cf_store_load(a, &la, &err), 0);
    CHECK_INT(la.version, 1);

    /* B's load in a write transaction gives up after its busy timeout */
    cf_store_set_busy_timeout(b, 50);
    CHECK_INT(cf_aggregate_init(&lb, "w1"), 0);
    CHECK_INT(cf_store_begin_immediate(b), 0);
    CHECK_INT(cf_store_load(b, &lb, &err), -1);
    CHECK_STR(err.code, CF_E_REQUEST_TIMEOUT);
    CHECK_STR(cf_pg_store_sqlstate(b), "55P03");
    cf_store_rollback(b);
    cf_aggregate_free(&lb);
    cf_error_free(&err);
    cf_error_init(&err);

    /* a read outside a write transaction does not wait */
    CHECK_INT(cf_aggregate_init(&lb, "w1"), 0);
    CHECK_INT(cf_store_load(b, &lb, &err), 0);
    CHECK_INT(lb.version, 1);
    cf_aggregate_free(&lb);

    /* A writes version 2 and commits; B then loads version 2 */
    CHECK_INT(cf_p_step(&la, CF_CMD_PREPARE_COMPENSATION, NULL,
                        CF_P_NOW + 1000, &s), 0);
    CHECK_INT(cf_store_append(a, &s.row), 0);
    CHECK_INT(cf_store_save_snapshot(a, &la, CF_P_NOW + 1000), 0);
    CHECK_INT(cf_store_commit(a), 0);
    cf_p_step_free(&s);

    CHECK_INT(cf_aggregate_init(&lb, "w1"), 0);
    CHECK_INT(cf_store_begin_immediate(b), 0);
    CHECK_INT(cf_store_load(b, &lb, &err), 0);
    CHECK_INT(lb.version, 2);
    cf_store_rollback(b);
    cf_aggregate_free(&lb);

    cf_aggregate_free(&la);
    cf_aggregate_free(&agg);
    cf_error_free(&err);
    cf_store_close(a);
    cf_store_close(b);
}


/*
 * A command whose aggregate another transaction holds past the busy timeout
 * gets the answer SQLite gives when its write lock is held at BEGIN (408,
 * the same message, nothing written), alone and in a group's savepoint,
 * and succeeds once the lock is gone; it was a 500 (the row lock's timeout
 * is met inside the transaction, where an error was taken for an internal
 * one).
 */
static int
cf_p_service_out(cf_store_t *st, cf_id_gen_t *ids, int grouped,
    const char *id, const char *rid, cf_exec_output_t *out)
{
    int               rc;
    json_t           *j;
    cf_error_t        err;
    cf_command_t      cmd;
    cf_exec_input_t   in;

    j = cf_t_json("{\"functionKind\":\"STATE_EVENT\",\"contextName\":\"c\","
                  "\"processorName\":\"p\",\"name\":\"n\"}");
    cf_error_init(&err);

    if (cf_command_bind(CF_CMD_CHANGE_FUNCTION, j, &cmd, &err) != 0) {
        json_decref(j);
        cf_error_free(&err);
        return -2;
    }

    json_decref(j);

    memset(&in, 0, sizeof(in));
    in.command = &cmd;
    in.aggregate_id = id;
    in.request_id = rid;
    in.expected_version = -1;
    in.header = json_pack("{s:s}", "remote_ip", "127.0.0.1");
    in.now = CF_P_NOW + 5000;
    in.default_spec = &cf_p_spec;

    rc = grouped ? cf_service_execute_grouped(st, ids, &in, out, NULL)
                 : cf_service_execute(st, ids, &in, out);

    json_decref(in.header);
    cf_command_free(&cmd);

    return rc;
}


/* the answer SQLite gives when its write lock is held at BEGIN: 408, nothing committed */
static void
cf_p_expect_busy(int rc, cf_exec_output_t *out)
{
    CHECK_INT(rc, 0);
    CHECK_STR(out->err.code, CF_E_REQUEST_TIMEOUT);
    CHECK_STR(out->err.msg, "The store is busy: the command could not be"
                            " processed within the wait timeout.");
    CHECK_INT(out->committed, 0);
}


static void
test_pg_lock_timeout_answer(void)
{
    int                rc;
    int64_t            v;
    cf_error_t         err;
    cf_store_t        *a, *b;
    cf_id_gen_t        ids;
    cf_aggregate_t     agg, la;
    cf_exec_output_t   out;

    cf_p_reset();
    cf_id_init(&ids, 3);

    a = cf_p_open();
    b = cf_p_open();
    if (!CHECK(a != NULL && b != NULL)) {
        cf_store_close(a);
        cf_store_close(b);
        return;
    }

    cf_error_init(&err);
    cf_p_seed(a, &agg, "lt1");

    /* A holds the aggregate */
    CHECK_INT(cf_aggregate_init(&la, "lt1"), 0);
    CHECK_INT(cf_store_begin_immediate(a), 0);
    CHECK_INT(cf_store_load(a, &la, &err), 0);

    cf_store_set_busy_timeout(b, 50);

    /* alone: the command's own transaction */
    rc = cf_p_service_out(b, &ids, 0, "lt1", "lt-r1", &out);
    cf_p_expect_busy(rc, &out);
    CHECK_INT(out.at_gateway, 1);
    CHECK_INT(out.store_rc, 0);
    CHECK_INT(cf_store_in_transaction(b), 0);
    cf_error_free(&out.err);

    /* in a group: its savepoint is undone, the group's transaction goes on */
    CHECK_INT(cf_store_begin_immediate(b), 0);
    rc = cf_p_service_out(b, &ids, 1, "lt1", "lt-r2", &out);
    cf_p_expect_busy(rc, &out);
    cf_error_free(&out.err);
    CHECK_INT(cf_store_in_transaction(b), 1);
    CHECK_INT(cf_store_commit(b), 0);

    /* nothing written; once A is gone the command is applied */
    cf_store_rollback(a);
    CHECK_INT(cf_store_latest_version(b, "lt1", &v, &err), 0);
    CHECK_INT(v, 1);

    cf_store_set_busy_timeout(b, 1000);
    rc = cf_p_service_out(b, &ids, 0, "lt1", "lt-r3", &out);
    CHECK_INT(rc, 0);
    CHECK_STR(out.err.code, CF_OK);
    CHECK_INT(out.committed, 1);
    CHECK_INT(out.version, 2);
    cf_error_free(&out.err);

    cf_aggregate_free(&la);
    cf_aggregate_free(&agg);
    cf_error_free(&err);
    cf_store_close(a);
    cf_store_close(b);
}


/* a COMMIT that did not commit is never reported as done */
static void
test_pg_commit_failure(void)
{
    char             sql[128];
    PGconn          *c;
    cf_p_step_t      s;
    cf_store_t      *st;
    cf_aggregate_t   a;

    cf_p_reset();

    st = cf_p_open();
    c = cf_p_admin();
    if (!CHECK(st != NULL && c != NULL)) {
        cf_store_close(st);
        PQfinish(c);
        return;
    }

    CHECK_INT(cf_aggregate_init(&a, "k1"), 0);
    CHECK_INT(cf_p_step(&a, CF_CMD_CREATE_EXECUTION_FAILED, cf_t_create_body,
                        CF_P_NOW, &s), 0);
    CHECK_INT(cf_p_write(st, &a, &s, CF_P_NOW), 0);

    /* a failed statement, then COMMIT: the server answers ROLLBACK */
    CHECK_INT(cf_store_begin_immediate(st), 0);
    s.row.request_id = "k1-again";
    CHECK_INT(cf_store_append(st, &s.row), CF_STORE_VERSION_TAKEN);
    CHECK_INT(cf_store_commit(st), -1);
    CHECK(strstr(cf_store_errmsg(st), "rolled back") != NULL);
    printf("#   %s\n", cf_store_errmsg(st));
    CHECK_INT(cf_store_in_transaction(st), 0);

    /* the connection dies before COMMIT: -1, the outcome unknown */
    s.row.id = "k1-s2";
    s.row.request_id = "k1-r2";
    s.row.version = 2;
    CHECK_INT(cf_store_begin_immediate(st), 0);
    CHECK_INT(cf_store_append(st, &s.row), 0);

    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)::int",
             cf_pg_store_backend_pid(st));
    CHECK_INT(cf_p_int(c, sql), 1);

    CHECK_INT(cf_store_commit(st), -1);
    CHECK(strstr(cf_store_errmsg(st), "COMMIT") != NULL);
    CHECK(cf_store_errcode(st) & CF_STORE_FAULT);
    printf("#   %s\n", cf_store_errmsg(st));
    CHECK_INT(cf_store_in_transaction(st), 0);
    cf_store_rollback(st);

    /* the next call reconnects; nothing of the lost transaction stayed */
    CHECK_INT(cf_store_ping(st), 0);
    CHECK_INT(cf_p_int(c, "SELECT count(*) FROM event_stream"), 1);
    CHECK_INT(cf_p_write(st, &a, &s, CF_P_NOW), 0);
    CHECK_INT(cf_p_int(c, "SELECT count(*) FROM event_stream"), 2);

    cf_p_step_free(&s);
    cf_aggregate_free(&a);
    PQfinish(c);
    cf_store_close(st);
}


/*
 * The write transaction's pipeline (cf_pg_conn.c): what a deferred
 * statement's failure, a conflict between queued statements and a lost
 * connection with statements queued do.
 */
static void
test_pg_pipeline(void)
{
    int              i;
    char             sql[128], *saved;
    PGconn          *c;
    cf_error_t       err;
    cf_p_step_t      s[3], f;
    cf_store_t      *st;
    cf_aggregate_t   a[3], fa;
    static const char  *ids[3] = { "p1", "p2", "p3" };

    cf_p_reset();

    st = cf_p_open();
    c = cf_p_admin();
    if (!CHECK(st != NULL && c != NULL)) {
        cf_store_close(st);
        PQfinish(c);
        return;
    }

    cf_error_init(&err);

    for (i = 0; i < 3; i++) {
        CHECK_INT(cf_aggregate_init(&a[i], ids[i]), 0);
        CHECK_INT(cf_p_step(&a[i], CF_CMD_CREATE_EXECUTION_FAILED,
                            cf_t_create_body, CF_P_NOW, &s[i]), 0);
    }

    /* a group whose middle command conflicts with the first one's queued
     * writes: that command alone is undone, the others commit */
    CHECK_INT(cf_store_begin_immediate(st), 0);
    CHECK_INT(cf_store_savepoint(st), 0);
    CHECK_INT(cf_store_request_id_exists(st, "p1-r1"), 0);
    CHECK_INT(cf_store_append(st, &s[0].row), 0);
    CHECK_INT(cf_store_save_snapshot(st, &a[0], CF_P_NOW), 0);
    CHECK_INT(cf_store_release(st), 0);

    CHECK_INT(cf_store_savepoint(st), 0);
    s[1].row.aggregate_id = "p1";              /* p1's version 1 again */
    CHECK_INT(cf_store_append(st, &s[1].row), CF_STORE_VERSION_TAKEN);
    CHECK_INT(cf_store_rollback_to(st), 0);
    CHECK_INT(cf_store_in_transaction(st), 1);

    CHECK_INT(cf_store_savepoint(st), 0);
    s[1].row.aggregate_id = "p2";
    s[1].row.request_id = "p1-r1";             /* p1's request id, on p2 */
    CHECK_INT(cf_store_request_id_exists(st, "p1-r1"), 1);
    CHECK_INT(cf_store_rollback_to(st), 0);

    CHECK_INT(cf_store_savepoint(st), 0);
    s[2].row.request_id = "p3-r1";
    CHECK_INT(cf_store_append(st, &s[2].row), 0);
    s[2].row.id = "p3-again";
    s[2].row.version = 2;                      /* its request id again */
    CHECK_INT(cf_store_append(st, &s[2].row), CF_STORE_DUPLICATE_REQ);
    CHECK_INT(cf_store_rollback_to(st), 0);

    CHECK_INT(cf_store_savepoint(st), 0);
    s[2].row.id = "p3-s1";
    s[2].row.version = 1;
    CHECK_INT(cf_store_append(st, &s[2].row), 0);
    CHECK_INT(cf_store_save_snapshot(st, &a[2], CF_P_NOW), 0);
    CHECK_INT(cf_store_release(st), 0);
    CHECK_INT(cf_store_commit(st), 0);
    CHECK_INT(cf_store_errcode(st), 0);

    CHECK_INT(cf_p_int(c, "SELECT count(*) FROM event_stream"), 2);
    CHECK_INT(cf_p_int(c, "SELECT count(*) FROM snapshot"
                          " WHERE aggregate_id IN ('p1', 'p3')"), 2);

    /*
     * A deferred statement that fails (a CHECK the test adds): the calls
     * that queued it answered 0, so the transaction fails as a whole, and
     * a ROLLBACK TO SAVEPOINT does not revive it; the COMMIT returns the
     * failure, nothing was written.
     */
    CHECK_INT(cf_p_sql(c, "ALTER TABLE snapshot ADD CONSTRAINT cf_test_fail"
                          " CHECK (first_operator <> 'fail-me')"), 0);

    CHECK_INT(cf_aggregate_init(&fa, "p4"), 0);
    CHECK_INT(cf_p_step(&fa, CF_CMD_CREATE_EXECUTION_FAILED,
                        cf_t_create_body, CF_P_NOW, &f), 0);
    saved = fa.first_operator;
    fa.first_operator = "fail-me";

    CHECK_INT(cf_store_begin_immediate(st), 0);
    CHECK_INT(cf_store_append(st, &f.row), 0);
    CHECK_INT(cf_store_save_snapshot(st, &fa, CF_P_NOW), 0);
    CHECK(cf_store_commit(st) != 0);
    printf("#   %s\n", cf_store_errmsg(st));
    CHECK(strstr(cf_store_errmsg(st), "saving snapshot") != NULL);
    CHECK_STR(cf_pg_store_sqlstate(st), "23514");
    CHECK_INT(cf_store_in_transaction(st), 0);

    /* a read after it reports it, and so does every later call and the
     * COMMIT: the failed statement's writes are never committed */
    CHECK_INT(cf_store_begin_immediate(st), 0);
    CHECK_INT(cf_store_append(st, &f.row), 0);
    CHECK_INT(cf_store_save_snapshot(st, &fa, CF_P_NOW), 0);
    CHECK_INT(cf_store_request_id_exists(st, "p5-r1"), -1);
    CHECK(strstr(cf_store_errmsg(st), "saving snapshot") != NULL);
    CHECK_INT(cf_store_in_transaction(st), 1);
    CHECK_INT(cf_store_latest_version(st, "p1", &s[0].row.version, &err),
              -1);
    cf_error_free(&err);
    cf_error_init(&err);
    CHECK_INT(cf_store_commit(st), -1);
    CHECK(strstr(cf_store_errmsg(st), "saving snapshot") != NULL);
    CHECK_INT(cf_store_in_transaction(st), 0);

    /* a command of a group (in its savepoint) waits for the upsert's
     * answer: its failure is that command's alone, as before pipelining */
    CHECK_INT(cf_store_begin_immediate(st), 0);
    CHECK_INT(cf_store_savepoint(st), 0);
    CHECK_INT(cf_store_append(st, &f.row), 0);
    CHECK_INT(cf_store_save_snapshot(st, &fa, CF_P_NOW), -1);
    CHECK_STR(cf_pg_store_sqlstate(st), "23514");
    CHECK_INT(cf_store_rollback_to(st), 0);
    CHECK_INT(cf_store_savepoint(st), 0);
    CHECK_INT(cf_store_request_id_exists(st, "p5-r1"), 0);
    CHECK_INT(cf_store_release(st), 0);
    CHECK_INT(cf_store_commit(st), 0);

    CHECK_INT(cf_p_int(c, "SELECT count(*) FROM event_stream"
                          " WHERE aggregate_id = 'p4'"), 0);
    fa.first_operator = saved;

    /* the next transaction works */
    CHECK_INT(cf_p_write(st, &fa, &f, CF_P_NOW), 0);
    CHECK_INT(cf_p_int(c, "SELECT count(*) FROM event_stream"
                          " WHERE aggregate_id = 'p4'"), 1);

    /* the connection dies with the snapshot upsert queued: the COMMIT's
     * outcome is unknown, never a success */
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)::int",
             cf_pg_store_backend_pid(st));

    s[1].row.aggregate_id = "p2";
    s[1].row.request_id = "p2-r1";
    CHECK_INT(cf_store_begin_immediate(st), 0);
    CHECK_INT(cf_store_request_id_exists(st, "p2-r1"), 0);
    CHECK_INT(cf_store_append(st, &s[1].row), 0);
    CHECK_INT(cf_store_save_snapshot(st, &a[1], CF_P_NOW), 0);
    CHECK_INT(cf_p_int(c, sql), 1);
    CHECK_INT(cf_store_commit(st), -1);
    CHECK(strstr(cf_store_errmsg(st), "unknown") != NULL);
    CHECK(cf_store_errcode(st) & CF_STORE_FAULT);
    CHECK_INT(cf_store_in_transaction(st), 0);
    cf_store_rollback(st);

    /* lost between two reads: the second fails, the transaction is gone */
    CHECK_INT(cf_store_begin_immediate(st), 0);
    CHECK_INT(cf_store_request_id_exists(st, "p2-r1"), 0);
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)::int",
             cf_pg_store_backend_pid(st));
    CHECK_INT(cf_p_int(c, sql), 1);
    CHECK_INT(cf_store_latest_version(st, "p2", &s[1].row.version, &err),
              -1);
    CHECK(cf_store_errcode(st) & CF_STORE_FAULT);
    CHECK_INT(cf_store_in_transaction(st), 0);
    cf_error_free(&err);
    cf_error_init(&err);
    cf_store_rollback(st);

    /* lost before the transaction read anything: it begins again on a new
     * session, and commits */
    s[1].row.version = 1;
    CHECK_INT(cf_store_begin_immediate(st), 0);
    CHECK_INT(cf_store_savepoint(st), 0);
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)::int",
             cf_pg_store_backend_pid(st));
    CHECK_INT(cf_p_int(c, sql), 1);
    CHECK_INT(cf_store_request_id_exists(st, "p2-r1"), 0);
    CHECK_INT(cf_store_append(st, &s[1].row), 0);
    CHECK_INT(cf_store_save_snapshot(st, &a[1], CF_P_NOW), 0);
    CHECK_INT(cf_store_release(st), 0);
    CHECK_INT(cf_store_commit(st), 0);
    CHECK_INT(cf_p_int(c, "SELECT count(*) FROM event_stream"
                          " WHERE aggregate_id = 'p2'"), 1);
    CHECK_INT(cf_p_int(c, "SELECT count(*) FROM snapshot"
                          " WHERE aggregate_id = 'p2'"), 1);

    /* the load's two statements in one round trip: the state as stored */
    cf_aggregate_free(&a[1]);
    CHECK_INT(cf_aggregate_init(&a[1], "p2"), 0);
    CHECK_INT(cf_store_begin_immediate(st), 0);
    CHECK_INT(cf_store_load(st, &a[1], &err), 0);
    CHECK_INT(a[1].version, 1);
    cf_store_rollback(st);

    (void) cf_p_sql(c, "ALTER TABLE snapshot DROP CONSTRAINT cf_test_fail");

    for (i = 0; i < 3; i++) {
        cf_p_step_free(&s[i]);
        cf_aggregate_free(&a[i]);
    }

    cf_p_step_free(&f);
    cf_aggregate_free(&fa);
    cf_error_free(&err);
    PQfinish(c);
    cf_store_close(st);
}


/* the server restarts: the store reconnects by itself */
static void
test_pg_restart(void)
{
    const char      *cmd;
    cf_p_step_t      s;
    cf_store_t      *st;
    cf_aggregate_t   a;

    cmd = getenv("CF_TEST_PG_RESTART");

    if (!CHECK(cmd != NULL && cmd[0] != '\0')) {
        printf("#   CF_TEST_PG_RESTART is not set\n");
        return;
    }

    cf_p_reset();

    st = cf_p_open();
    if (!CHECK(st != NULL)) {
        return;
    }

    CHECK_INT(cf_aggregate_init(&a, "t1"), 0);
    CHECK_INT(cf_p_step(&a, CF_CMD_CREATE_EXECUTION_FAILED, cf_t_create_body,
                        CF_P_NOW, &s), 0);

    CHECK_INT(cf_store_ping(st), 0);

    /* while idle: the next BEGIN finds the session gone, reconnects */
    CHECK_INT(system(cmd), 0);
    CHECK_INT(cf_p_write(st, &a, &s, CF_P_NOW), 0);
    CHECK_INT(cf_store_request_id_exists(st, "t1-r1"), 1);

    /* a transaction that read nothing yet: its BEGIN is still queued
     * (pipeline mode), it begins again on a new session */
    s.row.id = "t1-s2";
    s.row.request_id = "t1-r2";
    s.row.version = 2;
    CHECK_INT(cf_store_begin_immediate(st), 0);
    CHECK_INT(system(cmd), 0);
    CHECK_INT(cf_store_request_id_exists(st, "t1-r2"), 0);
    CHECK_INT(cf_store_in_transaction(st), 1);
    cf_store_rollback(st);

    /* inside a transaction: that transaction fails, the next one works */
    CHECK_INT(cf_store_begin_immediate(st), 0);
    CHECK_INT(cf_store_request_id_exists(st, "t1-r2"), 0);
    CHECK_INT(system(cmd), 0);
    CHECK_INT(cf_store_append(st, &s.row), -1);
    CHECK(cf_store_errcode(st) & CF_STORE_FAULT);
    printf("#   %s\n", cf_store_errmsg(st));
    CHECK_INT(cf_store_in_transaction(st), 0);
    cf_store_rollback(st);

    CHECK_INT(cf_p_write(st, &a, &s, CF_P_NOW), 0);
    CHECK_INT(cf_store_request_id_exists(st, "t1-r2"), 1);

    cf_p_step_free(&s);
    cf_aggregate_free(&a);
    cf_store_close(st);
}


/* two connections claiming at once never get the same execution */
static void
test_pg_claims_interleaved(void)
{
    int              i;
    char             id[16];
    size_t           na, nb, nc, k, j;
    cf_claim_t      *ca, *cb, *cc;
    cf_store_t      *a, *b;
    cf_dispatch_t   *da, *db;

    cf_p_reset();

    a = cf_p_open();
    b = cf_p_open();
    if (!CHECK(a != NULL && b != NULL)) {
        cf_store_close(a);
        cf_store_close(b);
        return;
    }

    for (i = 0; i < 12; i++) {
        snprintf(id, sizeof(id), "x%02d", i);
        CHECK_INT(cf_p_create(a, id, CF_P_NOW), 0);
    }

    da = cf_dispatch_open(a);
    db = cf_dispatch_open(b);
    if (!CHECK(da != NULL && db != NULL)) {
        cf_dispatch_close(da);
        cf_dispatch_close(db);
        cf_store_close(a);
        cf_store_close(b);
        return;
    }

    /* not due yet */
    CHECK_INT(cf_dispatch_claim(a, CF_P_NOW, 5000, 1, 10, &ca, &na), 0);
    CHECK_INT(na, 0);
    cf_claims_free(ca, na);

    /* A holds 5 claims in an open transaction; B claims meanwhile: it
     * skips A's rows instead of waiting, and takes the others */
    CHECK_INT(cf_store_begin_immediate(a), 0);
    CHECK_INT(cf_dispatch_claim_in(da, CF_P_NOW + 60000, 5000, 1, 5, &ca,
                                      &na), 0);
    CHECK_INT(na, 5);

    CHECK_INT(cf_store_begin_immediate(b), 0);
    CHECK_INT(cf_dispatch_claim_in(db, CF_P_NOW + 60000, 5000, 2, 100, &cb,
                                      &nb), 0);
    CHECK_INT(nb, 7);

    for (k = 0; k < na; k++) {
        CHECK(ca[k].manual == 0);
        CHECK(cf_uuid_is_valid(ca[k].op_id, strlen(ca[k].op_id)));
        CHECK(strstr(ca[k].state, "\"status\":\"FAILED\"") != NULL);

        for (j = 0; j < nb; j++) {
            CHECK(strcmp(ca[k].execution_id, cb[j].execution_id) != 0);
            CHECK(ca[k].job_id != cb[j].job_id);
        }
    }

    CHECK_INT(cf_store_commit(b), 0);

    /* B's claims are in; A's rows are still locked: nothing for B */
    CHECK_INT(cf_dispatch_claim(b, CF_P_NOW + 60000, 5000, 2, 100, &cc,
                                   &nc), 0);
    CHECK_INT(nc, 0);
    cf_claims_free(cc, nc);

    CHECK_INT(cf_store_commit(a), 0);

    /* every execution is claimed: nothing left for anyone */
    CHECK_INT(cf_dispatch_claim(b, CF_P_NOW + 60000, 5000, 2, 100, &cc,
                                   &nc), 0);
    CHECK_INT(nc, 0);
    cf_claims_free(cc, nc);

    /* A's call ended: B may take that execution again (still due), once */
    if (na > 0) {
        CHECK_INT(cf_dispatch_finish(a, ca[0].job_id, "Released", "",
                                        CF_P_NOW + 61000), 0);
        CHECK_INT(cf_dispatch_finish(a, ca[0].job_id, "Released", "",
                                        CF_P_NOW + 61000),
                  CF_DISPATCH_NOT_FOUND);
        CHECK_INT(cf_dispatch_claim(b, CF_P_NOW + 61000, 5000, 2, 100,
                                       &cc, &nc), 0);
        CHECK_INT(nc, 1);
        if (nc == 1) {
            CHECK_STR(cc[0].execution_id, ca[0].execution_id);
            CHECK(cf_dispatch_held_in(db, cc[0].job_id, CF_P_NOW + 61000));
            CHECK(!cf_dispatch_held_in(db, cc[0].job_id, CF_P_NOW + 70000));
        }
        cf_claims_free(cc, nc);
    }

    /* leases run out (a node died): the next claim takes everything over */
    CHECK_INT(cf_dispatch_claim(b, CF_P_NOW + 120000, 5000, 2, 100, &cc,
                                   &nc), 0);
    CHECK_INT(nc, 12);
    cf_claims_free(cc, nc);

    cf_claims_free(ca, na);
    cf_claims_free(cb, nb);
    cf_dispatch_close(da);
    cf_dispatch_close(db);
    cf_store_close(a);
    cf_store_close(b);
}


/* processes claiming in a loop at once: each execution claimed once */
static void
test_pg_claims_concurrent(void)
{
    int              i, p, status, fds[2], seen[60], dup, total;
    char             id[16], line[64];
    FILE            *in;
    pid_t            pids[3];
    cf_store_t      *st;

    cf_p_reset();

    st = cf_p_open();
    if (!CHECK(st != NULL)) {
        return;
    }

    for (i = 0; i < 60; i++) {
        snprintf(id, sizeof(id), "y%02d", i);
        CHECK_INT(cf_p_create(st, id, CF_P_NOW), 0);
    }

    cf_store_close(st);

    if (!CHECK(pipe(fds) == 0)) {
        return;
    }

    for (p = 0; p < 3; p++) {
        pids[p] = fork();

        if (pids[p] == 0) {
            size_t       n, k;
            cf_claim_t  *c;
            int          empty;

            close(fds[0]);

            st = cf_p_open();
            if (st == NULL) {
                _exit(1);
            }

            /* small batches until three empty rounds in a row */
            for (empty = 0; empty < 3; ) {
                if (cf_dispatch_claim(st, CF_P_NOW + 60000, 60000, p + 1,
                                         2, &c, &n)
                    != 0)
                {
                    _exit(2);
                }

                empty = n ? 0 : empty + 1;

                for (k = 0; k < n; k++) {
                    snprintf(line, sizeof(line), "%s\n", c[k].execution_id);
                    (void) write(fds[1], line, strlen(line));
                }

                cf_claims_free(c, n);
            }

            cf_store_close(st);
            _exit(0);
        }
    }

    close(fds[1]);

    memset(seen, 0, sizeof(seen));
    dup = 0;
    total = 0;

    in = fdopen(fds[0], "r");

    while (in && fgets(line, sizeof(line), in)) {
        i = atoi(line + 1);

        if (line[0] == 'y' && i >= 0 && i < 60) {
            if (seen[i]++) {
                dup++;
            }

            total++;
        }
    }

    if (in) {
        fclose(in);
    }

    for (p = 0; p < 3; p++) {
        CHECK(pids[p] > 0 && waitpid(pids[p], &status, 0) == pids[p]
              && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    CHECK_INT(dup, 0);
    CHECK_INT(total, 60);
}


/* the retry action's queue, Cancel, the operation reads */
static void
test_pg_operations(void)
{
    char             op[CF_UUID_LEN + 1], op2[CF_UUID_LEN + 1], state[16];
    size_t           n;
    int64_t          job, job2;
    cf_claim_t      *c;
    cf_store_t      *st;
    cf_operation_t   o, *ops;

    cf_p_reset();

    st = cf_p_open();
    if (!CHECK(st != NULL)) {
        return;
    }

    CHECK_INT(cf_p_create(st, "q1", CF_P_NOW), 0);

    /* queued, not due: claimed at once, as manual */
    CHECK_INT(cf_dispatch_enqueue(st, "q1", CF_P_NOW, &job, op), 0);
    CHECK(cf_uuid_is_valid(op, strlen(op)));
    CHECK_INT(cf_dispatch_enqueue(st, "q1", CF_P_NOW, &job2, op2),
              CF_DISPATCH_BUSY);

    CHECK_INT(cf_dispatch_get(st, op, &o), 0);
    CHECK_STR(o.state, "Pending");

    /* a queued one is cancelled at once */
    CHECK_INT(cf_dispatch_cancel(st, op, 0, CF_P_NOW, state), 0);
    CHECK_STR(state, "Pending");
    CHECK_INT(cf_dispatch_get(st, op, &o), 0);
    CHECK_STR(o.state, "Cancelled");
    CHECK_STR(o.result, "cancelled");

    CHECK_INT(cf_dispatch_enqueue(st, "q1", CF_P_NOW, &job, op), 0);
    CHECK_INT(cf_dispatch_claim(st, CF_P_NOW, 5000, 7, 10, &c, &n), 0);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK(c[0].manual);
        CHECK_INT(c[0].job_id, job);
        CHECK_STR(c[0].op_id, op);
    }
    cf_claims_free(c, n);

    /* force needs a graceful cancel first */
    CHECK_INT(cf_dispatch_cancel(st, op, 1, CF_P_NOW, state),
              CF_DISPATCH_REFUSED);
    CHECK_INT(cf_dispatch_cancel_asked(st, job), 0);
    CHECK_INT(cf_dispatch_cancel(st, op, 0, CF_P_NOW, state), 0);
    CHECK_STR(state, "Running");
    CHECK_INT(cf_dispatch_cancel_asked(st, job), 1);
    CHECK_INT(cf_dispatch_cancel(st, op, 0, CF_P_NOW, state), 0);
    CHECK_STR(state, "RollingBack");
    CHECK_INT(cf_dispatch_cancel(st, op, 1, CF_P_NOW + 1, state), 0);

    CHECK_INT(cf_dispatch_get(st, op, &o), 0);
    CHECK_STR(o.state, "ForceCancelled");
    CHECK_STR(o.result, "force cancelled");
    CHECK_INT(o.lease_until, 0);
    CHECK_INT(o.owner, 7);
    CHECK_INT(cf_dispatch_cancel(st, op, 0, CF_P_NOW, state),
              CF_DISPATCH_REFUSED);

    CHECK_INT(cf_dispatch_list(st, "q1", 10, &ops, &n), 0);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_INT(ops[0].job_id, job);
        CHECK_STR(ops[1].state, "Cancelled");
    }
    free(ops);

    CHECK_INT(cf_dispatch_get(st, "00000000-0000-4000-8000-000000000000",
                                 &o), CF_DISPATCH_NOT_FOUND);

    cf_store_close(st);
}


/* for test_pg_query.c */
void test_pg_query_diff(void);
void test_pg_query_hostile(void);
cf_store_t *cf_pq_open_pg(void);
void cf_pq_reset_pg(void);
int cf_pq_step(cf_store_t *st, cf_aggregate_t *agg, cf_command_type_t type,
    const char *body, int64_t now);


cf_store_t *
cf_pq_open_pg(void)
{
    return cf_p_open();
}


void
cf_pq_reset_pg(void)
{
    cf_p_reset();
}


/* one command decided, applied to agg and written to st */
int
cf_pq_step(cf_store_t *st, cf_aggregate_t *agg, cf_command_type_t type,
    const char *body, int64_t now)
{
    int          rc;
    cf_p_step_t  s;

    rc = cf_p_step(agg, type, body, now, &s);

    if (rc == 0 && now % 3 == 0) {
        /* a header key some events have: sorts and NULLs by it */
        json_object_set_new(s.header, "trace_id",
                            json_sprintf("T%d", (int) (now % 7)));
    }

    if (rc == 0) {
        rc = cf_p_write(st, agg, &s, now);
        cf_p_step_free(&s);
    }

    return rc;
}


const cf_test_t  cf_tests_pg[] = {
    { "pg: refused logins and bad DSNs, no password in messages",
      test_pg_dsn },
    { "pg: schema created once, opened again, newer refused",
      test_pg_schema_twice },
    { "pg: four processes create the schema at once",
      test_pg_schema_concurrent },
    { "pg: same bytes as the SQLite store, replay equals snapshot",
      test_pg_same_as_sqlite },
    { "pg: the service's groups give SQLite's answers and bytes",
      test_pg_service },
    { "pg: four processes, commands on the same aggregates: all succeed,"
      " versions contiguous, replay equals snapshot",
      test_pg_concurrent_commands },
    { "pg: version and request id conflicts by constraint name",
      test_pg_conflicts },
    { "pg: rollback leaves nothing, savepoints undo one command",
      test_pg_rollback_savepoints },
    { "pg: one aggregate's write transactions wait for each other",
      test_pg_aggregate_lock },
    { "pg: a command that waits past the busy timeout for its aggregate"
      " is SQLite's 408, alone and grouped", test_pg_lock_timeout_answer },
    { "pg: a failed COMMIT is never a success", test_pg_commit_failure },
    { "pg: reconnects after the server restarts", test_pg_restart },
    { "pg: the write pipeline: a conflict mid-group, a deferred failure,"
      " a lost connection", test_pg_pipeline },
    { "pg: claims skip locked rows, leases expire",
      test_pg_claims_interleaved },
    { "pg: three processes claim, each execution once",
      test_pg_claims_concurrent },
    { "pg: queue, cancel, force cancel, operation reads",
      test_pg_operations },
    { "pg: every query gives SQLite's documents, order, counts, metrics",
      test_pg_query_diff },
    { "pg: hostile field names and values never reach the SQL text",
      test_pg_query_hostile },
    { NULL, NULL }
};
