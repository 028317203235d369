
/*
 * ngx_compensation unit tests: the store executor's core (cf_exec.c) against
 * a temporary database file, on a clock of the test's own.
 */


#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cf_test.h"
#include "cf_sqlite_store.h"
#include "cf_exec.h"


#define CF_T_CMDS  4

typedef struct {
    char              dir[64];
    char              path[96];
    cf_store_t       *st;
    cf_id_gen_t       ids;
    cf_retry_spec_t   spec;
    volatile int64_t  now;             /* the executor's clock */
    cf_exec_t         ex;
    cf_exec_queue_t   q;
    cf_exec_cmd_t     c[CF_T_CMDS];
    cf_command_t      cmd[CF_T_CMDS];
    int               n;
} cf_t_exec_env_t;


static int64_t cf_t_clock(void *data);
static int cf_t_open(cf_t_exec_env_t *env, int grouped);
static void cf_t_close(cf_t_exec_env_t *env);
static cf_exec_cmd_t *cf_t_add(cf_t_exec_env_t *env, cf_command_type_t type,
    const char *id, const char *body, int64_t wait);
static void cf_t_free_cmds(cf_t_exec_env_t *env);
static long long cf_t_count(cf_t_exec_env_t *env, const char *id);
static cf_store_t *cf_t_locker(cf_t_exec_env_t *env);


static int64_t
cf_t_clock(void *data)
{
    cf_t_exec_env_t  *env = data;

    return env->now;
}


static int
cf_t_open(cf_t_exec_env_t *env, int grouped)
{
    char                errbuf[256];
    cf_store_options_t  opts;

    memset(env, 0, sizeof(cf_t_exec_env_t));

    snprintf(env->dir, sizeof(env->dir), "/tmp/cf-unit-XXXXXX");
    if (mkdtemp(env->dir) == NULL) {
        return -1;
    }

    snprintf(env->path, sizeof(env->path), "%s/t.db", env->dir);

    memset(&opts, 0, sizeof(cf_store_options_t));
    opts.busy_timeout_ms = 30000;

    env->st = cf_store_open(env->path, &opts, errbuf, sizeof(errbuf));
    if (env->st == NULL) {
        fprintf(stderr, "# %s\n", errbuf);
        return -1;
    }

    cf_id_init(&env->ids, 7);

    env->spec.max_retries = 10;
    env->spec.min_backoff = 180;
    env->spec.execution_timeout = 120;

    env->now = 1000;

    env->ex.store = env->st;
    env->ex.ids = &env->ids;
    env->ex.busy_timeout_ms = 30000;
    env->ex.grouped = grouped;
    env->ex.clock = cf_t_clock;
    env->ex.clock_data = env;

    cf_exec_queue_init(&env->q);

    return 0;
}


static void
cf_t_close(cf_t_exec_env_t *env)
{
    char  cmd[160];

    cf_t_free_cmds(env);
    cf_store_close(env->st);

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", env->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "# cleanup of %s failed\n", env->dir);
    }
}


/* queues a command as the nginx glue does, its deadline from env's clock */
static cf_exec_cmd_t *
cf_t_add(cf_t_exec_env_t *env, cf_command_type_t type, const char *id,
    const char *body, int64_t wait)
{
    json_t         *j;
    cf_error_t      err;
    cf_exec_cmd_t  *c;

    if (env->n == CF_T_CMDS) {
        abort();
    }

    c = &env->c[env->n];
    memset(c, 0, sizeof(cf_exec_cmd_t));

    j = body ? cf_t_json(body) : NULL;
    cf_error_init(&err);

    if (cf_command_bind(type, j, &env->cmd[env->n], &err) != 0) {
        fprintf(stderr, "# bind failed: %s\n", err.msg);
        abort();
    }

    json_decref(j);

    c->in.command = &env->cmd[env->n];
    c->in.aggregate_id = id;
    c->in.expected_version = -1;
    c->in.header = json_pack("{s:s}", "remote_ip", "127.0.0.1");
    c->in.now = CF_T_EXECUTE_AT;
    c->in.default_spec = &env->spec;
    c->deadline = cf_exec_deadline(&env->ex, wait);

    env->n++;

    cf_exec_queue_push(&env->q, c);

    return c;
}


/* the outputs and inputs of the queued commands; the queue is emptied */
static void
cf_t_free_cmds(cf_t_exec_env_t *env)
{
    int  i;

    for (i = 0; i < env->n; i++) {
        cf_error_free(&env->c[i].out.err);
        json_decref(env->c[i].in.header);
        cf_command_free(&env->cmd[i]);
    }

    env->n = 0;
    cf_exec_queue_init(&env->q);
}


/* the event streams of an aggregate, read on a connection of its own */
static long long
cf_t_count(cf_t_exec_env_t *env, const char *id)
{
    sqlite3       *db;
    long long      v;
    sqlite3_stmt  *s;

    v = -1;

    if (sqlite3_open(env->path, &db) != SQLITE_OK) {
        return -1;
    }

    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM event_stream"
                               " WHERE aggregate_id = ?", -1, &s, NULL)
        == SQLITE_OK)
    {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);

        if (sqlite3_step(s) == SQLITE_ROW) {
            v = sqlite3_column_int64(s, 0);
        }

        sqlite3_finalize(s);
    }

    sqlite3_close(db);

    return v;
}


/* a second connection holding the write lock, as another worker would */
static cf_store_t *
cf_t_locker(cf_t_exec_env_t *env)
{
    char                errbuf[256];
    cf_store_t         *other;
    cf_store_options_t  opts;

    memset(&opts, 0, sizeof(cf_store_options_t));
    opts.busy_timeout_ms = 1000;

    other = cf_store_open(env->path, &opts, errbuf, sizeof(errbuf));
    if (other == NULL) {
        fprintf(stderr, "# %s\n", errbuf);
        return NULL;
    }

    if (cf_store_begin_immediate(other) != 0) {
        cf_store_close(other);
        return NULL;
    }

    return other;
}


static void
test_exec_queue(void)
{
    cf_exec_cmd_t    a, b, c;
    cf_exec_queue_t  q, r;

    cf_exec_queue_init(&q);
    cf_exec_queue_init(&r);
    CHECK(cf_exec_queue_empty(&q));
    CHECK(cf_exec_queue_pop(&q) == NULL);

    cf_exec_queue_push(&q, &a);
    cf_exec_queue_push(&q, &b);
    cf_exec_queue_push(&r, &c);

    /* moved behind what r holds, in order; q is left empty and usable */
    cf_exec_queue_move(&q, &r);
    CHECK(cf_exec_queue_empty(&q));
    cf_exec_queue_move(&q, &r);

    CHECK(cf_exec_queue_pop(&r) == &c);
    CHECK(cf_exec_queue_pop(&r) == &a);
    CHECK(cf_exec_queue_pop(&r) == &b);
    CHECK(cf_exec_queue_pop(&r) == NULL);
    CHECK(cf_exec_queue_empty(&r));

    cf_exec_queue_push(&r, &a);
    CHECK(cf_exec_queue_pop(&r) == &a);
    CHECK(r.tail == &r.head);
}


/*
 * One group: every command in a savepoint of its own, so a refusal writes
 * nothing and its neighbours commit; a decision made before the lock on a
 * version that a neighbour then changed is made again under the lock
 */
static void
test_exec_group_stale_decision(void)
{
    cf_exec_cmd_t    *c1, *c2, *c3, *c4;
    cf_t_exec_env_t   env;

    if (!CHECK(cf_t_open(&env, 1) == 0)) {
        return;
    }

    (void) cf_t_add(&env, CF_CMD_CREATE_EXECUTION_FAILED, "g1",
                    cf_t_create_body, -1);
    cf_exec_run(&env.ex, &env.q);
    CHECK_STR(env.c[0].out.err.code, CF_OK);
    cf_t_free_cmds(&env);

    /*
     * c1 and c2 are both decided on version 1 (FAILED); c1 makes it 2
     * (PREPARED), so c2's decision is stale: made again, a second prepare
     * is refused.  Kept, it would have written version 2 twice.
     */
    c1 = cf_t_add(&env, CF_CMD_PREPARE_COMPENSATION, "g1", NULL, -1);
    c2 = cf_t_add(&env, CF_CMD_PREPARE_COMPENSATION, "g1", NULL, -1);
    c3 = cf_t_add(&env, CF_CMD_CREATE_EXECUTION_FAILED, "g2",
                  cf_t_create_body, -1);
    c4 = cf_t_add(&env, CF_CMD_MARK_RECOVERABLE, "nobody",
                  "{\"recoverable\":\"RECOVERABLE\"}", -1);

    cf_exec_run(&env.ex, &env.q);

    CHECK_INT(c1->rc, 0);
    CHECK_STR(c1->out.err.code, CF_OK);
    CHECK(c1->out.committed);
    CHECK_INT(c1->out.version, 2);

    CHECK_INT(c2->rc, 0);
    CHECK_STR(c2->out.err.code, CF_E_ILLEGAL_STATE);
    CHECK(!c2->out.committed);
    CHECK_INT(c2->out.version, 2);

    CHECK_INT(c3->rc, 0);
    CHECK_STR(c3->out.err.code, CF_OK);
    CHECK_INT(c3->out.version, 1);

    CHECK_INT(c4->rc, 0);
    CHECK_STR(c4->out.err.code, CF_E_NOT_FOUND);

    CHECK_INT(cf_t_count(&env, "g1"), 2);
    CHECK_INT(cf_t_count(&env, "g2"), 1);
    CHECK_INT(cf_t_count(&env, "nobody"), 0);

    /* the connection is left out of any transaction */
    CHECK(!cf_store_in_transaction(env.st));

    cf_t_close(&env);
}


/*
 * Deadlines that pass while the commands are queued: those commands are 408
 * RequestTimeout and write nothing, their neighbours run; a wait of 0 still
 * runs when its turn comes at once.  Grouped and one by one alike.
 */
static void
test_exec_deadline_queued(void)
{
    int               grouped;
    cf_exec_cmd_t    *c1, *c2, *c3;
    cf_t_exec_env_t   env;

    for (grouped = 0; grouped <= 1; grouped++) {
        if (!CHECK(cf_t_open(&env, grouped) == 0)) {
            return;
        }

        c1 = cf_t_add(&env, CF_CMD_CREATE_EXECUTION_FAILED, "late",
                      cf_t_create_body, 10);
        c2 = cf_t_add(&env, CF_CMD_CREATE_EXECUTION_FAILED, "soon",
                      cf_t_create_body, 500);
        /* bounded by the busy timeout: 30 s */
        c3 = cf_t_add(&env, CF_CMD_CREATE_EXECUTION_FAILED, "bounded",
                      cf_t_create_body, 1000000);
        CHECK_INT(c3->deadline, 1000 + 30000);

        env.now += 100;

        cf_exec_run(&env.ex, &env.q);

        CHECK_INT(c1->rc, 0);
        CHECK_STR(c1->out.err.code, CF_E_REQUEST_TIMEOUT);
        CHECK(c1->out.at_gateway);
        CHECK(!c1->out.committed);
        CHECK_STR(c1->out.aggregate_id, "late");
        CHECK_INT(cf_t_count(&env, "late"), 0);

        CHECK_STR(c2->out.err.code, CF_OK);
        CHECK_INT(cf_t_count(&env, "soon"), 1);
        CHECK_STR(c3->out.err.code, CF_OK);
        CHECK_INT(cf_t_count(&env, "bounded"), 1);

        cf_t_free_cmds(&env);

        /* a wait of 0: runs within its millisecond, is late after it */
        c1 = cf_t_add(&env, CF_CMD_PREPARE_COMPENSATION, "soon", NULL, 0);
        c2 = cf_t_add(&env, CF_CMD_PREPARE_COMPENSATION, "bounded", NULL, 0);
        env.now += CF_EXEC_LATE_MS;
        cf_exec_run(&env.ex, &env.q);
        CHECK_STR(c1->out.err.code, CF_OK);
        CHECK_STR(c2->out.err.code, CF_OK);
        cf_t_free_cmds(&env);

        c1 = cf_t_add(&env, CF_CMD_APPLY_EXECUTION_SUCCESS, "soon",
                      "{\"executeAt\":5}", 0);
        env.now += CF_EXEC_LATE_MS + 1;
        cf_exec_run(&env.ex, &env.q);
        CHECK_STR(c1->out.err.code, CF_E_REQUEST_TIMEOUT);
        CHECK_INT(cf_t_count(&env, "soon"), 2);

        cf_t_close(&env);
    }
}


typedef struct {
    cf_t_exec_env_t  *env;
    cf_store_t       *locker;
} cf_t_release_t;


/* the other worker: holds the lock a while, moves the clock, lets go */
static void *
cf_t_release(void *data)
{
    cf_t_release_t  *rel = data;

    usleep(100 * 1000);
    rel->env->now += 50;
    cf_store_rollback(rel->locker);

    return NULL;
}


/*
 * Another connection holds the write lock.  The group waits as long as its
 * most patient command allows; the lock comes after the deadline of one
 * command, which is 408 with nothing written, and before its neighbour's,
 * which commits.  When the lock never comes, every command is 408.
 */
static void
test_exec_deadline_lock_wait(void)
{
    pthread_t         t;
    cf_store_t       *locker;
    cf_exec_cmd_t    *c1, *c2;
    cf_t_release_t    rel;
    cf_t_exec_env_t   env;

    if (!CHECK(cf_t_open(&env, 1) == 0)) {
        return;
    }

    locker = cf_t_locker(&env);
    if (!CHECK(locker != NULL)) {
        cf_t_close(&env);
        return;
    }

    c1 = cf_t_add(&env, CF_CMD_CREATE_EXECUTION_FAILED, "impatient",
                  cf_t_create_body, 10);
    c2 = cf_t_add(&env, CF_CMD_CREATE_EXECUTION_FAILED, "patient",
                  cf_t_create_body, 20000);

    rel.env = &env;
    rel.locker = locker;

    if (!CHECK(pthread_create(&t, NULL, cf_t_release, &rel) == 0)) {
        cf_store_rollback(locker);
        cf_store_close(locker);
        cf_t_close(&env);
        return;
    }

    cf_exec_run(&env.ex, &env.q);
    pthread_join(t, NULL);

    CHECK_STR(c1->out.err.code, CF_E_REQUEST_TIMEOUT);
    CHECK_INT(cf_t_count(&env, "impatient"), 0);
    CHECK_STR(c2->out.err.code, CF_OK);
    CHECK(c2->out.committed);
    CHECK_INT(cf_t_count(&env, "patient"), 1);
    cf_t_free_cmds(&env);

    /* held throughout: the group's BEGIN gives up, nobody writes */
    CHECK_INT(cf_store_begin_immediate(locker), 0);

    c1 = cf_t_add(&env, CF_CMD_CREATE_EXECUTION_FAILED, "a", cf_t_create_body,
                  20);
    c2 = cf_t_add(&env, CF_CMD_CREATE_EXECUTION_FAILED, "b", cf_t_create_body,
                  40);
    cf_exec_run(&env.ex, &env.q);

    CHECK_INT(c1->rc, 0);
    CHECK_STR(c1->out.err.code, CF_E_REQUEST_TIMEOUT);
    CHECK_INT(c2->rc, 0);
    CHECK_STR(c2->out.err.code, CF_E_REQUEST_TIMEOUT);

    cf_store_rollback(locker);
    cf_store_close(locker);

    CHECK_INT(cf_t_count(&env, "a"), 0);
    CHECK_INT(cf_t_count(&env, "b"), 0);

    cf_t_close(&env);
}


static int
cf_t_refuse_commit(void *data)
{
    return 1;
}


/*
 * A failed COMMIT: no success leaves, every command that had succeeded is an
 * internal error with the version before it, a refusal stays a refusal, and
 * nothing is written
 */
static void
test_exec_commit_failed(void)
{
    cf_exec_cmd_t    *c1, *c2, *c3;
    cf_t_exec_env_t   env;

    if (!CHECK(cf_t_open(&env, 1) == 0)) {
        return;
    }

    (void) cf_t_add(&env, CF_CMD_CREATE_EXECUTION_FAILED, "f1",
                    cf_t_create_body, -1);
    cf_exec_run(&env.ex, &env.q);
    CHECK_STR(env.c[0].out.err.code, CF_OK);
    cf_t_free_cmds(&env);

    c1 = cf_t_add(&env, CF_CMD_PREPARE_COMPENSATION, "f1", NULL, -1);
    c2 = cf_t_add(&env, CF_CMD_CREATE_EXECUTION_FAILED, "f2",
                  cf_t_create_body, -1);
    c3 = cf_t_add(&env, CF_CMD_PREPARE_COMPENSATION, "f1", NULL, -1);

    sqlite3_commit_hook(cf_sqlite_store_db(env.st), cf_t_refuse_commit, NULL);
    cf_exec_run(&env.ex, &env.q);
    sqlite3_commit_hook(cf_sqlite_store_db(env.st), NULL, NULL);

    CHECK_INT(c1->rc, -1);
    CHECK_STR(c1->out.err.code, CF_E_INTERNAL);
    CHECK(!c1->out.committed);
    CHECK_INT(c1->out.version, 1);

    CHECK_INT(c2->rc, -1);
    CHECK_STR(c2->out.err.code, CF_E_INTERNAL);
    CHECK(!c2->out.committed);

    /* a second prepare, refused on c1's PREPARED: a refusal stays one */
    CHECK_INT(c3->rc, 0);
    CHECK_STR(c3->out.err.code, CF_E_ILLEGAL_STATE);
    CHECK(!c3->out.committed);

    CHECK_INT(cf_t_count(&env, "f1"), 1);
    CHECK_INT(cf_t_count(&env, "f2"), 0);
    CHECK(!cf_store_in_transaction(env.st));
    cf_t_free_cmds(&env);

    /* the connection is usable again */
    c1 = cf_t_add(&env, CF_CMD_PREPARE_COMPENSATION, "f1", NULL, -1);
    c2 = cf_t_add(&env, CF_CMD_CREATE_EXECUTION_FAILED, "f2",
                  cf_t_create_body, -1);
    cf_exec_run(&env.ex, &env.q);
    CHECK_STR(c1->out.err.code, CF_OK);
    CHECK_STR(c2->out.err.code, CF_OK);
    CHECK_INT(cf_t_count(&env, "f1"), 2);
    CHECK_INT(cf_t_count(&env, "f2"), 1);

    cf_t_close(&env);
}


const cf_test_t  cf_tests_exec[] = {
    { "exec: the queue keeps its order through moves", test_exec_queue },
    { "exec: a group in savepoints; a stale decision is made again",
      test_exec_group_stale_decision },
    { "exec: deadlines passed while queued are 408, neighbours unaffected",
      test_exec_deadline_queued },
    { "exec: the lock comes after one deadline and before another",
      test_exec_deadline_lock_wait },
    { "exec: a failed COMMIT turns every success into an error",
      test_exec_commit_failed },
    { NULL, NULL }
};
