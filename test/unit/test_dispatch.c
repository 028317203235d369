
/*
 * ngx_compensation unit tests: dispatch operations and scheduler leases
 * (cf_dispatch.c, cf_sqlite_dispatch.c) against a temporary database
 * shared by two connections, as two schedulers (reload overlap, a second
 * nginx) would share it.
 */


#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cf_test.h"
#include "cf_store.h"
#include "cf_service.h"
#include "cf_dispatch.h"


#define T0  1719800000000LL


typedef struct {
    char             dir[64];
    char             path[96];
    cf_store_t      *a;
    cf_store_t      *b;
    cf_id_gen_t      ids;
    cf_retry_spec_t  spec;
} cf_d_env_t;


static cf_store_t *
cf_d_open(cf_d_env_t *env)
{
    char                 errbuf[256];
    cf_store_t          *st;
    cf_store_options_t   opts;

    memset(&opts, 0, sizeof(opts));
    opts.synchronous_full = 0;
    opts.busy_timeout_ms = 1000;

    st = cf_store_open(env->path, &opts, errbuf, sizeof(errbuf));
    if (st == NULL) {
        fprintf(stderr, "# %s\n", errbuf);
        return NULL;
    }

    if (cf_dispatch_schema(st, errbuf, sizeof(errbuf)) != 0) {
        fprintf(stderr, "# %s\n", errbuf);
        cf_store_close(st);
        return NULL;
    }

    return st;
}


static int
cf_d_env_open(cf_d_env_t *env)
{
    memset(env, 0, sizeof(cf_d_env_t));

    snprintf(env->dir, sizeof(env->dir), "/tmp/cf-unit-XXXXXX");
    if (mkdtemp(env->dir) == NULL) {
        return -1;
    }

    snprintf(env->path, sizeof(env->path), "%s/d.db", env->dir);

    env->a = cf_d_open(env);
    env->b = cf_d_open(env);

    cf_id_init(&env->ids, 9);
    env->spec.max_retries = 10;
    env->spec.min_backoff = 180;
    env->spec.execution_timeout = 120;

    return env->a && env->b ? 0 : -1;
}


static void
cf_d_env_close(cf_d_env_t *env)
{
    char  cmd[160];

    cf_store_close(env->a);
    cf_store_close(env->b);

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", env->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "# cleanup of %s failed\n", env->dir);
    }
}


/* creates an execution with executeAt at, minBackoff backoff (s) */
static int
cf_d_create(cf_d_env_t *env, const char *id, int64_t at, int backoff,
    const char *recoverable)
{
    int               rc;
    char              body[1024];
    json_t           *j;
    cf_error_t        err;
    cf_command_t      cmd;
    cf_exec_input_t   in;
    cf_exec_output_t  out;

    snprintf(body, sizeof(body),
        "{\"eventId\":{\"id\":\"e\",\"aggregateId\":{\"contextName\":\"c\","
        "\"aggregateName\":\"o\",\"aggregateId\":\"a\",\"tenantId\":\"(0)\"},"
        "\"version\":1},\"function\":{\"functionKind\":\"EVENT\","
        "\"contextName\":\"c\",\"processorName\":\"p\",\"name\":\"n\"},"
        "\"error\":{\"errorCode\":\"X\",\"errorMsg\":\"m\",\"stackTrace\":\"\"},"
        "\"executeAt\":%lld,\"retrySpec\":{\"maxRetries\":3,"
        "\"minBackoff\":%d,\"executionTimeout\":10},\"recoverable\":\"%s\"}",
        (long long) at, backoff, recoverable);

    j = cf_t_json(body);
    cf_error_init(&err);

    if (cf_command_bind(CF_CMD_CREATE_EXECUTION_FAILED, j, &cmd, &err) != 0) {
        cf_error_free(&err);
        json_decref(j);
        return -1;
    }

    json_decref(j);

    memset(&in, 0, sizeof(in));
    in.command = &cmd;
    in.aggregate_id = id;
    in.expected_version = -1;
    in.header = json_object();
    in.now = at;
    in.default_spec = &env->spec;

    rc = cf_service_execute(env->a, &env->ids, &in, &out);

    json_decref(in.header);
    cf_command_free(&cmd);
    cf_error_free(&out.err);

    return rc == 0 && out.committed ? 0 : -1;
}


static void
test_dispatch_lease(void)
{
    size_t       n, m;
    cf_d_env_t   env;
    cf_claim_t  *c, *d;

    if (!CHECK(cf_d_env_open(&env) == 0)) {
        return;
    }

    /* due at T0 + 1 s; x3 only at T0 + 100 s; x4 is UNRECOVERABLE */
    CHECK(cf_d_create(&env, "x1", T0, 1, "UNKNOWN") == 0);
    CHECK(cf_d_create(&env, "x2", T0, 1, "RECOVERABLE") == 0);
    CHECK(cf_d_create(&env, "x3", T0, 100, "UNKNOWN") == 0);
    CHECK(cf_d_create(&env, "x4", T0, 1, "UNRECOVERABLE") == 0);

    /* not due yet */
    CHECK_INT(cf_dispatch_claim(env.a, T0, 5000, 1, 10, &c, &n),
              0);
    CHECK_INT(n, 0);
    cf_claims_free(c, n);

    /* scheduler A takes both due ones (same nextRetryAt: in either
     * order), with state */
    CHECK_INT(cf_dispatch_claim(env.a, T0 + 2000, 5000, 1, 10,
                                &c, &n), 0);
    CHECK_INT(n, 2);

    if (n == 2) {
        CHECK(strcmp(c[0].execution_id, c[1].execution_id) != 0);
        CHECK(strcmp(c[0].execution_id, "x1") == 0
              || strcmp(c[0].execution_id, "x2") == 0);
        CHECK(strcmp(c[1].execution_id, "x1") == 0
              || strcmp(c[1].execution_id, "x2") == 0);
        CHECK(strstr(c[0].state, "\"status\":\"FAILED\"") != NULL);
        CHECK(cf_uuid_is_valid(c[0].op_id, strlen(c[0].op_id)));
        CHECK(strcmp(c[0].op_id, c[1].op_id) != 0);
        CHECK_INT(c[1].job_id, c[0].job_id + 1);
    }

    /* scheduler B, same file, same moment: nothing (the leases) */
    CHECK_INT(cf_dispatch_claim(env.b, T0 + 2000, 5000, 2, 10,
                                &d, &m), 0);
    CHECK_INT(m, 0);
    cf_claims_free(d, m);

    /* A finishes its second: B may take it (still FAILED and due), not
     * the first */
    if (n == 2) {
        CHECK_INT(cf_dispatch_finish(env.a, c[1].job_id,
                                     "Released", "no target", T0 + 2100), 0);
        CHECK_INT(cf_dispatch_finish(env.a, c[1].job_id,
                                     "Failed", "twice", T0 + 2100),
                  CF_DISPATCH_NOT_FOUND);
    }

    CHECK_INT(cf_dispatch_claim(env.b, T0 + 2200, 5000, 2, 10,
                                &d, &m), 0);
    CHECK_INT(m, 1);
    if (m == 1 && n == 2) {
        CHECK_STR(d[0].execution_id, c[1].execution_id);
    }
    cf_claims_free(d, m);

    /* A "crashed" holding the first: once its lease expired, B claims it */
    CHECK_INT(cf_dispatch_claim(env.b, T0 + 7001, 5000, 2, 10,
                                &d, &m), 0);
    CHECK_INT(m, 1);
    if (m == 1 && n == 2) {
        CHECK_STR(d[0].execution_id, c[0].execution_id);
    }
    cf_claims_free(d, m);

    CHECK_INT(cf_dispatch_finish(env.a, n ? c[0].job_id : 0,
                                 "Succeeded", "late", T0 + 7002),
              CF_DISPATCH_NOT_FOUND);

    cf_claims_free(c, n);
    cf_d_env_close(&env);
}


static void
test_dispatch_enqueue_and_cancel(void)
{
    char             op[CF_UUID_LEN + 1], state[16];
    size_t           n;
    int64_t          job;
    cf_d_env_t       env;
    cf_claim_t      *c;
    cf_operation_t   o, *ops;

    if (!CHECK(cf_d_env_open(&env) == 0)) {
        return;
    }

    CHECK(cf_d_create(&env, "y1", T0, 1000, "UNKNOWN") == 0);

    CHECK_INT(cf_dispatch_enqueue(env.a, "y1", T0, &job, op), 0);
    CHECK_INT(job, 1);
    CHECK_INT(cf_dispatch_enqueue(env.b, "y1", T0, &job, op),
              CF_DISPATCH_BUSY);

    /* the queued one is claimed although it is not due */
    CHECK_INT(cf_dispatch_claim(env.b, T0 + 1, 5000, 2, 10, &c,
                                &n), 0);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK(c[0].manual);
        CHECK_STR(c[0].op_id, op);
    }
    cf_claims_free(c, n);

    CHECK_INT(cf_dispatch_get(env.a, op, &o), 0);
    CHECK_STR(o.state, "Running");
    CHECK_INT(o.owner, 2);

    /* Force=true before a graceful cancel: refused */
    CHECK_INT(cf_dispatch_cancel(env.a, op, 1, T0 + 2, state),
              CF_DISPATCH_REFUSED);
    CHECK_STR(state, "Running");
    CHECK(!cf_dispatch_cancel_asked(env.b, 1));

    /* graceful: RollingBack (twice is fine), the owner sees it */
    CHECK_INT(cf_dispatch_cancel(env.a, op, 0, T0 + 3, state),
              0);
    CHECK_INT(cf_dispatch_cancel(env.a, op, 0, T0 + 3, state),
              0);
    CHECK_STR(state, "RollingBack");
    CHECK(cf_dispatch_cancel_asked(env.b, 1));

    /* then force: ForceCancelled; the owner's finish loses */
    CHECK_INT(cf_dispatch_cancel(env.a, op, 1, T0 + 4, state),
              0);
    CHECK_INT(cf_dispatch_get(env.a, op, &o), 0);
    CHECK_STR(o.state, "ForceCancelled");
    CHECK_INT(cf_dispatch_finish(env.b, 1, "Cancelled", "x",
                                 T0 + 5), CF_DISPATCH_NOT_FOUND);

    /* nothing more to cancel */
    CHECK_INT(cf_dispatch_cancel(env.a, op, 0, T0 + 6, state),
              CF_DISPATCH_REFUSED);
    CHECK_INT(cf_dispatch_cancel(env.a,
                                 "6c0e2a3c-54b4-4f4e-9c6f-0d41c2f7a0a1", 0,
                                 T0 + 6, state), CF_DISPATCH_NOT_FOUND);

    CHECK_INT(cf_dispatch_list(env.a, "y1", 10, &ops, &n), 0);
    CHECK_INT(n, 1);
    free(ops);

    cf_d_env_close(&env);
}


static void
test_dispatch_classify(void)
{
    char  u[CF_UUID_LEN + 1], v[CF_UUID_LEN + 1];

    CHECK_INT(cf_dispatch_classify(0), CF_RECOVERABLE);
    CHECK_INT(cf_dispatch_classify(502), CF_RECOVERABLE);
    CHECK_INT(cf_dispatch_classify(504), CF_RECOVERABLE);
    CHECK_INT(cf_dispatch_classify(500), CF_RECOVERABLE);
    CHECK_INT(cf_dispatch_classify(408), CF_RECOVERABLE);
    CHECK_INT(cf_dispatch_classify(429), CF_RECOVERABLE);
    CHECK_INT(cf_dispatch_classify(400), CF_UNRECOVERABLE);
    CHECK_INT(cf_dispatch_classify(404), CF_UNRECOVERABLE);
    CHECK_INT(cf_dispatch_classify(409), CF_UNRECOVERABLE);
    CHECK_INT(cf_dispatch_classify(302), CF_RECOVERABLE_UNKNOWN);

    CHECK_STR(cf_dispatch_error_code(502), "BadGateway");
    CHECK_STR(cf_dispatch_error_code(504), "GatewayTimeout");
    CHECK_STR(cf_dispatch_error_code(0), "CompensationCallFailed");
    CHECK_STR(cf_dispatch_error_code(418), "BadRequest");

    /* version 7: the ms first (0x01906c116e00), then random */
    cf_uuid7(u, CF_T_EXECUTE_AT);
    CHECK(cf_uuid_is_valid(u, strlen(u)));
    CHECK(strncmp(u, "01906c11-6e00-7", 15) == 0);
    CHECK(strchr("89ab", u[19]) != NULL);
    cf_uuid7(v, CF_T_EXECUTE_AT);
    CHECK(strcmp(u, v) != 0);
    cf_uuid7(v, CF_T_EXECUTE_AT + 1);
    CHECK(strcmp(u, v) < 0);
    CHECK(!cf_uuid_is_valid("6c0e2a3c-54b4-4f4e-9c6f-0d41c2f7a0a", 35));
    CHECK(!cf_uuid_is_valid("6c0e2a3c+54b4-4f4e-9c6f-0d41c2f7a0a1", 36));
    CHECK(!cf_uuid_is_valid("6c0e2a3c-54b4-4f4e-9c6f-0d41c2f7a0ag", 36));
    CHECK(cf_uuid_is_valid("6C0E2A3C-54B4-4F4E-9C6F-0D41C2F7A0A1", 36));
}


/* PrepareCompensation inside the caller's transaction, as the scheduler's
 * work runs it */
static int
cf_d_prepare_grouped(cf_d_env_t *env, cf_store_t *st, const char *id,
    const char *req_id, int64_t now)
{
    int               rc;
    json_t           *j;
    cf_error_t        err;
    cf_command_t      cmd;
    cf_exec_input_t   in;
    cf_exec_output_t  out;

    j = json_object();
    cf_error_init(&err);

    if (cf_command_bind(CF_CMD_PREPARE_COMPENSATION, j, &cmd, &err) != 0) {
        cf_error_free(&err);
        json_decref(j);
        return -1;
    }

    json_decref(j);

    memset(&in, 0, sizeof(in));
    in.command = &cmd;
    in.aggregate_id = id;
    in.request_id = req_id;
    in.expected_version = -1;
    in.header = json_object();
    in.now = now;
    in.default_spec = &env->spec;

    rc = cf_service_execute_grouped(st, &env->ids, &in, &out, NULL);

    json_decref(in.header);
    cf_command_free(&cmd);
    cf_error_free(&out.err);

    return rc == 0 && out.committed ? 0 : -1;
}


static void
test_dispatch_in_transaction(void)
{
    int             i;
    char            id[16], req[64], op[CF_UUID_LEN + 1], state[16];
    size_t          n, m, k;
    int64_t         job;
    cf_d_env_t      env;
    cf_claim_t     *c, *d;
    cf_dispatch_t  *h;

    if (!CHECK(cf_d_env_open(&env) == 0)) {
        return;
    }

    for (i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "z%d", i);
        CHECK(cf_d_create(&env, id, T0, 1, "UNKNOWN") == 0);
    }

    CHECK(cf_d_create(&env, "later", T0, 100, "UNKNOWN") == 0);

    h = cf_dispatch_open(env.a);
    if (!CHECK(h != NULL)) {
        cf_d_env_close(&env);
        return;
    }

    /* a claim rolled back leases nothing */
    CHECK_INT(cf_store_begin_immediate(env.a), 0);
    CHECK_INT(cf_dispatch_claim_in(h, T0 + 2000, 5000, 1, 3, &c, &n), 0);
    CHECK_INT(n, 3);
    cf_claims_free(c, n);
    cf_store_rollback(env.a);

    /* the same statements in the next transaction: claim 3 and prepare
     * them, with the claim, in one transaction */
    CHECK_INT(cf_store_begin_immediate(env.a), 0);
    CHECK_INT(cf_dispatch_claim_in(h, T0 + 2000, 5000, 1, 3, &c, &n), 0);
    CHECK_INT(n, 3);

    for (k = 0; k < n; k++) {
        snprintf(req, sizeof(req), "%s:prepare", c[k].op_id);
        CHECK_INT(cf_d_prepare_grouped(&env, env.a, c[k].execution_id, req,
                                       T0 + 2000), 0);
    }

    CHECK_INT(cf_store_commit(env.a), 0);

    /* scheduler B gets the other two, none of A's */
    CHECK_INT(cf_dispatch_claim(env.b, T0 + 2000, 5000, 2, 10,
                                &d, &m), 0);
    CHECK_INT(m, 2);

    for (k = 0; k < m && n == 3; k++) {
        CHECK(strcmp(d[k].execution_id, c[0].execution_id) != 0);
        CHECK(strcmp(d[k].execution_id, c[1].execution_id) != 0);
        CHECK(strcmp(d[k].execution_id, c[2].execution_id) != 0);
    }

    cf_claims_free(d, m);

    /* many short transactions on the prepared statements: nothing due */
    for (i = 0; i < 50; i++) {
        CHECK_INT(cf_store_begin_immediate(env.a), 0);
        CHECK_INT(cf_dispatch_claim_in(h, T0 + 2000 + i, 5000, 1, 10, &d,
                                       &m), 0);
        CHECK_INT(m, 0);
        cf_claims_free(d, m);
        CHECK_INT(cf_store_commit(env.a), 0);
    }

    /* settle: the finish on the prepared statement, once only */
    if (n == 3) {
        /* held while Running and leased (until T0 + 7000) */
        CHECK(cf_dispatch_held_in(h, c[0].job_id, T0 + 2100));
        CHECK(!cf_dispatch_held_in(h, c[0].job_id, T0 + 7000));

        CHECK_INT(cf_dispatch_finish_in(h, c[0].job_id, "Succeeded", "ok",
                                        T0 + 2100), 0);
        CHECK_INT(cf_dispatch_finish_in(h, c[0].job_id, "Failed", "twice",
                                        T0 + 2100), CF_DISPATCH_NOT_FOUND);
        CHECK(!cf_dispatch_held_in(h, c[0].job_id, T0 + 2100));

        /* a graceful cancel asked through the other connection */
        CHECK(!cf_dispatch_cancel_asked_in(h, c[1].job_id));
        CHECK_INT(cf_dispatch_get(env.b, c[1].op_id,
                                  &(cf_operation_t) { 0 }), 0);
        CHECK_INT(cf_dispatch_cancel(env.b, c[1].op_id, 0,
                                     T0 + 2200, state), 0);
        CHECK(cf_dispatch_cancel_asked_in(h, c[1].job_id));
        CHECK(!cf_dispatch_cancel_asked_in(h, c[2].job_id));
    }

    /* the retry action's queue comes first, regardless of nextRetryAt */
    CHECK_INT(cf_dispatch_enqueue(env.b, "later", T0 + 3000,
                                  &job, op), 0);
    CHECK_INT(cf_store_begin_immediate(env.a), 0);
    CHECK_INT(cf_dispatch_claim_in(h, T0 + 3000, 5000, 1, 1, &d, &m), 0);
    CHECK_INT(cf_store_commit(env.a), 0);
    CHECK_INT(m, 1);

    if (m == 1) {
        CHECK_STR(d[0].execution_id, "later");
        CHECK_STR(d[0].op_id, op);
        CHECK(d[0].manual);
    }

    cf_claims_free(d, m);
    cf_claims_free(c, n);
    cf_dispatch_close(h);
    cf_d_env_close(&env);
}


static void
test_dispatch_claim_size(void)
{
    /* idle: as many as the slots, at most batch */
    CHECK_INT(cf_dispatch_claim_size(100, 64, 0), 64);
    CHECK_INT(cf_dispatch_claim_size(10, 64, 0), 10);
    /* busy: only once a quarter of the slots is free */
    CHECK_INT(cf_dispatch_claim_size(100, 64, 49), 0);
    CHECK_INT(cf_dispatch_claim_size(100, 64, 48), 16);
    CHECK_INT(cf_dispatch_claim_size(8, 64, 10), 8);
    CHECK_INT(cf_dispatch_claim_size(100, 64, 64), 0);
    CHECK_INT(cf_dispatch_claim_size(100, 64, 70), 0);
    /* one slot: always when free */
    CHECK_INT(cf_dispatch_claim_size(100, 1, 0), 1);
    CHECK_INT(cf_dispatch_claim_size(100, 1, 1), 0);
    CHECK_INT(cf_dispatch_claim_size(100, 3, 2), 1);
    CHECK_INT(cf_dispatch_claim_size(0, 64, 0), 0);
}


static void
test_dispatch_call_parse(void)
{
    cf_dispatch_call_t  call;

    CHECK_INT(cf_dispatch_call_parse("{\"eventId\":{\"id\":\"e\",\"version\":7,"
        "\"aggregateId\":{\"contextName\":\"order-service\","
        "\"aggregateName\":\"order\",\"aggregateId\":\"o1\"}},"
        "\"function\":{\"name\":\"n\"},\"retryState\":{\"retries\":2}}",
        &call), 0);
    CHECK_STR(call.context, "order-service");
    CHECK_STR(call.aggregate_name, "order");
    CHECK_STR(call.aggregate_id, "o1");
    CHECK_INT(call.version, 7);
    CHECK_INT(call.attempt, 3);
    CHECK(json_is_object(call.function));
    json_decref(call.root);

    /* no retry state yet: the first attempt */
    CHECK_INT(cf_dispatch_call_parse("{\"eventId\":{\"version\":1,"
        "\"aggregateId\":{\"contextName\":\"c\",\"aggregateName\":\"a\","
        "\"aggregateId\":\"i\"}},\"function\":{}}", &call), 0);
    CHECK_INT(call.attempt, 1);
    json_decref(call.root);

    CHECK_INT(cf_dispatch_call_parse("{\"eventId\":{\"version\":1,"
        "\"aggregateId\":{\"contextName\":\"c\",\"aggregateName\":\"a\","
        "\"aggregateId\":\"i\"}}}", &call), -1);
    json_decref(call.root);
    CHECK_INT(cf_dispatch_call_parse("{\"eventId\":{\"aggregateId\":"
        "{\"contextName\":\"c\",\"aggregateName\":7,\"aggregateId\":\"i\"}},"
        "\"function\":{}}", &call), -1);
    json_decref(call.root);
    CHECK_INT(cf_dispatch_call_parse("not json", &call), -1);
    CHECK(call.root == NULL);

    CHECK(cf_dispatch_segment_ok("order"));
    CHECK(cf_dispatch_segment_ok("0U2mSz9k0001000"));
    CHECK(!cf_dispatch_segment_ok(""));
    CHECK(!cf_dispatch_segment_ok("."));
    CHECK(!cf_dispatch_segment_ok(".."));
    CHECK(cf_dispatch_segment_ok("..."));
    CHECK(!cf_dispatch_segment_ok("a/b"));
    CHECK(!cf_dispatch_segment_ok("a b"));
    CHECK(!cf_dispatch_segment_ok("a%2f"));
    CHECK(!cf_dispatch_segment_ok("a?b"));
    CHECK(!cf_dispatch_segment_ok("a#b"));
    CHECK(!cf_dispatch_segment_ok("a\\b"));
    CHECK(!cf_dispatch_segment_ok("a\x7f"));
}


const cf_test_t  cf_tests_dispatch[] = {
    { "dispatch: leases: one claim per attempt, expiry, release",
      test_dispatch_lease },
    { "dispatch: retry queue and the cancel state machine",
      test_dispatch_enqueue_and_cancel },
    { "dispatch: classification, error codes, UUIDs",
      test_dispatch_classify },
    { "dispatch: claim, prepare and settle in the caller's transaction",
      test_dispatch_in_transaction },
    { "dispatch: claim size from the free call slots",
      test_dispatch_claim_size },
    { "dispatch: a claim's call from its state; path segments",
      test_dispatch_call_parse },
    { NULL, NULL }
};
