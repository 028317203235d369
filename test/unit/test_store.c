
/*
 * ngx_compensation unit tests: the SQLite store and the command pipeline
 * (cf_store.c, cf_sqlite_store.c, cf_service.c) against a temporary
 * database file.
 */


#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include "cf_test.h"
#include "cf_sqlite_store.h"
#include "cf_store.h"
#include "cf_service.h"
#include "cf_history.h"
#include "cf_query.h"


typedef struct {
    char             dir[64];
    char             path[96];
    cf_store_t      *st;
    cf_id_gen_t      ids;
    cf_retry_spec_t  spec;
} cf_t_env_t;


static void cf_t_options(cf_store_options_t *opts);
static cf_store_t *cf_t_connect(cf_t_env_t *env,
    const cf_store_options_t *opts);
static int cf_t_env_open(cf_t_env_t *env);
static void cf_t_env_close(cf_t_env_t *env);
static cf_store_t *cf_t_env_open_pair(cf_t_env_t *env);
typedef struct {
    cf_command_t     cmd;
    cf_exec_input_t  in;
} cf_t_input_t;

static int cf_t_input(cf_t_env_t *env, cf_command_type_t type,
    const char *id, const char *body, const char *request_id,
    int64_t expected_version, int64_t now, cf_t_input_t *t);
static void cf_t_input_free(cf_t_input_t *t);
static int cf_t_run(cf_t_env_t *env, cf_command_type_t type, const char *id,
    const char *body, const char *request_id, int64_t expected_version,
    int64_t now, cf_exec_output_t *out);
static long long cf_t_sql_int(cf_t_env_t *env, const char *sql);
static void cf_t_sql_exec(cf_t_env_t *env, const char *sql);


/* the options every test connection starts from (NORMAL, 1 s busy wait) */
static void
cf_t_options(cf_store_options_t *opts)
{
    memset(opts, 0, sizeof(cf_store_options_t));
    opts->busy_timeout_ms = 1000;
}


/* another connection to env's file, as a second worker opens one */
static cf_store_t *
cf_t_connect(cf_t_env_t *env, const cf_store_options_t *opts)
{
    char         errbuf[256];
    cf_store_t  *st;

    st = cf_store_open(env->path, opts, errbuf, sizeof(errbuf));
    if (st == NULL) {
        fprintf(stderr, "# %s\n", errbuf);
    }

    return st;
}


static int
cf_t_env_open(cf_t_env_t *env)
{
    cf_store_options_t  opts;

    memset(env, 0, sizeof(cf_t_env_t));

    snprintf(env->dir, sizeof(env->dir), "/tmp/cf-unit-XXXXXX");
    if (mkdtemp(env->dir) == NULL) {
        return -1;
    }

    snprintf(env->path, sizeof(env->path), "%s/t.db", env->dir);

    cf_t_options(&opts);

    env->st = cf_t_connect(env, &opts);
    if (env->st == NULL) {
        return -1;
    }

    cf_id_init(&env->ids, 7);

    env->spec.max_retries = 10;
    env->spec.min_backoff = 180;
    env->spec.execution_timeout = 120;

    return 0;
}


static void
cf_t_env_close(cf_t_env_t *env)
{
    char  cmd[160];

    cf_store_close(env->st);

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", env->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "# cleanup of %s failed\n", env->dir);
    }
}


/*
 * env and a second connection on its file, as a second worker opens one;
 * NULL (and nothing open) on failure
 */
static cf_store_t *
cf_t_env_open_pair(cf_t_env_t *env)
{
    cf_store_t          *other;
    cf_store_options_t   opts;

    if (!CHECK(cf_t_env_open(env) == 0)) {
        return NULL;
    }

    cf_t_options(&opts);

    other = cf_t_connect(env, &opts);
    if (!CHECK(other != NULL)) {
        cf_t_env_close(env);
        return NULL;
    }

    return other;
}


/* a command's input as the nginx glue makes it: 0, or -1 if body is bad */
static int
cf_t_input(cf_t_env_t *env, cf_command_type_t type, const char *id,
    const char *body, const char *request_id, int64_t expected_version,
    int64_t now, cf_t_input_t *t)
{
    json_t      *j;
    cf_error_t   err;

    memset(t, 0, sizeof(cf_t_input_t));

    j = body ? cf_t_json(body) : NULL;

    cf_error_init(&err);

    if (cf_command_bind(type, j, &t->cmd, &err) != 0) {
        fprintf(stderr, "# bind failed: %s\n", err.msg);
        cf_error_free(&err);
        json_decref(j);
        return -1;
    }

    json_decref(j);

    t->in.command = &t->cmd;
    t->in.aggregate_id = id;
    t->in.request_id = request_id;
    t->in.owner_id = NULL;
    t->in.expected_version = expected_version;
    t->in.header = json_pack("{s:s}", "remote_ip", "127.0.0.1");
    t->in.now = now;
    t->in.default_spec = &env->spec;

    return 0;
}


static void
cf_t_input_free(cf_t_input_t *t)
{
    json_decref(t->in.header);
    cf_command_free(&t->cmd);
}


/* binds body and executes; returns cf_service_execute's result, or -2 */
static int
cf_t_run(cf_t_env_t *env, cf_command_type_t type, const char *id,
    const char *body, const char *request_id, int64_t expected_version,
    int64_t now, cf_exec_output_t *out)
{
    int           rc;
    cf_t_input_t  t;

    if (cf_t_input(env, type, id, body, request_id, expected_version, now,
                   &t)
        != 0)
    {
        return -2;
    }

    rc = cf_service_execute(env->st, &env->ids, &t.in, out);

    cf_t_input_free(&t);

    return rc;
}


static long long
cf_t_sql_int(cf_t_env_t *env, const char *sql)
{
    sqlite3       *db;
    long long      v;
    sqlite3_stmt  *s;

    v = -1;

    if (sqlite3_open(env->path, &db) != SQLITE_OK) {
        return -1;
    }

    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW) {
            v = sqlite3_column_int64(s, 0);
        }
        sqlite3_finalize(s);
    }

    sqlite3_close(db);

    return v;
}


static void
cf_t_sql_exec(cf_t_env_t *env, const char *sql)
{
    sqlite3  *db;

    if (sqlite3_open(env->path, &db) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 1000);
        CHECK_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    }

    sqlite3_close(db);
}


static void
test_store_create_and_load(void)
{
    cf_t_env_t        env;
    cf_error_t        err;
    cf_aggregate_t    agg;
    cf_exec_output_t  out;

    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, "a1",
                       cf_t_create_body, NULL, -1, CF_T_EXECUTE_AT, &out), 0);
    CHECK_STR(out.err.code, CF_OK);
    CHECK(out.committed);
    CHECK_INT(out.version, 1);
    CHECK_STR(out.aggregate_id, "a1");
    CHECK_STR(out.request_id, out.command_id);
    cf_error_free(&out.err);

    CHECK_INT(cf_t_sql_int(&env, "SELECT count(*) FROM event_stream"), 1);
    CHECK_INT(cf_t_sql_int(&env, "SELECT version FROM snapshot"), 1);
    CHECK_INT(cf_t_sql_int(&env,
                  "SELECT next_retry_at FROM snapshot WHERE aggregate_id"
                  " = 'a1'"), CF_T_EXECUTE_AT + 180000);

    /* a generated id when none is given */
    CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, NULL,
                       cf_t_create_body, NULL, -1, CF_T_EXECUTE_AT, &out), 0);
    CHECK(cf_id_is_valid(out.aggregate_id, strlen(out.aggregate_id)));
    cf_error_free(&out.err);

    cf_error_init(&err);
    CHECK_INT(cf_aggregate_init(&agg, "a1"), 0);
    CHECK_INT(cf_store_load(env.st, &agg, &err), 0);
    CHECK_INT(agg.version, 1);
    CHECK_INT(agg.state.status, CF_STATUS_FAILED);
    CHECK_INT(agg.state.retry_state.next_retry_at, CF_T_EXECUTE_AT + 180000);
    cf_aggregate_free(&agg);
    cf_error_free(&err);

    cf_t_env_close(&env);
}


/* a notified command keeps the state document its transaction stored */
static void
test_store_want_state(void)
{
    char              *stored;
    cf_t_env_t         env;
    cf_t_input_t       t;
    cf_snapshot_row_t  row;
    cf_exec_output_t   out;

    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    /* not asked: none */
    CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, "w1",
                       cf_t_create_body, NULL, -1, CF_T_EXECUTE_AT, &out), 0);
    CHECK(out.committed);
    CHECK(out.state == NULL);
    cf_exec_output_free(&out);

    /* asked: the snapshot's document, byte for byte */
    if (!CHECK(cf_t_input(&env, CF_CMD_PREPARE_COMPENSATION, "w1", NULL, NULL,
                          -1, CF_T_EXECUTE_AT + 1000, &t) == 0))
    {
        cf_t_env_close(&env);
        return;
    }

    t.in.want_state = 1;
    CHECK_INT(cf_service_execute(env.st, &env.ids, &t.in, &out), 0);
    CHECK_STR(out.err.code, CF_OK);
    CHECK(out.committed);

    if (CHECK(out.state != NULL)
        && CHECK_INT(cf_store_read_snapshot(env.st, "w1", &row), 0))
    {
        stored = row.state;
        CHECK_STR(out.state, stored);
        CHECK(strstr(out.state, "\"status\":\"PREPARED\"") != NULL);
        cf_snapshot_row_free(&row);
    }

    cf_exec_output_free(&out);
    CHECK(out.state == NULL);

    /* refused (already PREPARED): nothing written, no state */
    CHECK_INT(cf_service_execute(env.st, &env.ids, &t.in, &out), 0);
    CHECK(!out.committed);
    CHECK(out.state == NULL);
    cf_exec_output_free(&out);

    cf_t_input_free(&t);

    /* a group whose COMMIT failed: the state goes with the success */
    CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, "w2",
                       cf_t_create_body, NULL, -1, CF_T_EXECUTE_AT, &out), 0);
    out.state = strdup("{}");
    (void) cf_service_commit_failed(env.st, &out, CF_STORE_FAULT | 1);
    CHECK(!out.committed);
    CHECK(out.state == NULL);
    cf_exec_output_free(&out);

    cf_t_env_close(&env);
}


static void
test_store_tags(void)
{
    char               *text;
    cf_t_env_t          env;
    cf_error_t          err;
    cf_aggregate_t      agg;
    cf_exec_output_t    out;
    cf_snapshot_row_t   row;
    cf_store_options_t  opts;

    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    CHECK_INT(cf_t_sql_int(&env, "PRAGMA user_version"), 2);

    CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, "a1",
                       cf_t_create_body, NULL, -1, CF_T_EXECUTE_AT, &out), 0);
    cf_error_free(&out.err);
    CHECK_INT(cf_t_sql_int(&env, "SELECT tags = '{}' FROM snapshot"), 1);

    CHECK_INT(cf_t_run(&env, CF_CMD_APPLY_RESOURCE_TAGS, "a1",
                       "{\"tags\":{\"dept\":[\"eng\",\"pm\"]}}", NULL, -1,
                       CF_T_EXECUTE_AT, &out), 0);
    CHECK_STR(out.err.code, CF_OK);
    CHECK_INT(out.version, 2);
    cf_error_free(&out.err);

    CHECK_INT(cf_t_sql_int(&env, "SELECT tags = '{\"dept\":[\"eng\",\"pm\"]}'"
                                 " FROM snapshot"), 1);

    /* loaded from the snapshot row: the tags come back */
    cf_error_init(&err);
    CHECK_INT(cf_aggregate_init(&agg, "a1"), 0);
    CHECK_INT(cf_store_load(env.st, &agg, &err), 0);
    text = cf_t_dump(agg.tags);
    CHECK_STR(text, "{\"dept\":[\"eng\",\"pm\"]}");
    free(text);
    cf_aggregate_free(&agg);

    CHECK_INT(cf_store_read_snapshot(env.st, "a1", &row), 0);
    CHECK_STR(row.tags, "{\"dept\":[\"eng\",\"pm\"]}");
    cf_snapshot_row_free(&row);

    /* a damaged tags column is rebuilt from the events */
    cf_t_sql_exec(&env, "UPDATE snapshot SET tags = '[1'");
    CHECK_INT(cf_aggregate_init(&agg, "a1"), 0);
    CHECK_INT(cf_store_load(env.st, &agg, &err), 0);
    text = cf_t_dump(agg.tags);
    CHECK_STR(text, "{\"dept\":[\"eng\",\"pm\"]}");
    free(text);
    cf_aggregate_free(&agg);

    /* a file of schema version 1 (no tags column) gets it on open */
    cf_store_close(env.st);
    cf_t_sql_exec(&env, "ALTER TABLE snapshot DROP COLUMN tags");
    cf_t_sql_exec(&env, "PRAGMA user_version = 1");
    CHECK_INT(cf_t_sql_int(&env, "SELECT count(*) FROM"
                                 " pragma_table_info('snapshot')"
                                 " WHERE name = 'tags'"), 0);

    cf_t_options(&opts);
    env.st = cf_t_connect(&env, &opts);
    if (!CHECK(env.st != NULL)) {
        cf_error_free(&err);
        return;
    }

    CHECK_INT(cf_t_sql_int(&env, "PRAGMA user_version"), 2);
    CHECK_INT(cf_t_sql_int(&env, "SELECT tags = '{}' FROM snapshot"), 1);

    /* the snapshot says {} now: a snapshot is what a load starts from */
    CHECK_INT(cf_aggregate_init(&agg, "a1"), 0);
    CHECK_INT(cf_store_load(env.st, &agg, &err), 0);
    CHECK_INT(agg.version, 2);
    cf_aggregate_free(&agg);

    CHECK_INT(cf_t_run(&env, CF_CMD_APPLY_RESOURCE_TAGS, "a1",
                       "{\"tags\":{\"r\":[\"x\"]}}", NULL, -1,
                       CF_T_EXECUTE_AT, &out), 0);
    CHECK_STR(out.err.code, CF_OK);
    cf_error_free(&out.err);
    CHECK_INT(cf_t_sql_int(&env, "SELECT tags = '{\"r\":[\"x\"]}'"
                                 " FROM snapshot"), 1);

    cf_error_free(&err);
    cf_t_env_close(&env);
}


static void
test_store_failed_command_writes_nothing(void)
{
    cf_t_env_t        env;
    cf_exec_output_t  out;

    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    /* not found */
    CHECK_INT(cf_t_run(&env, CF_CMD_PREPARE_COMPENSATION, "nope", NULL, NULL,
                       -1, CF_T_EXECUTE_AT, &out), 0);
    CHECK_STR(out.err.code, CF_E_NOT_FOUND);
    CHECK(!out.committed);
    cf_error_free(&out.err);

    CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, "a1",
                       cf_t_create_body, NULL, -1, CF_T_EXECUTE_AT, &out), 0);
    cf_error_free(&out.err);

    /* a precondition failure: not prepared */
    CHECK_INT(cf_t_run(&env, CF_CMD_APPLY_EXECUTION_SUCCESS, "a1",
                       "{\"executeAt\":1}", NULL, -1, CF_T_EXECUTE_AT, &out),
              0);
    CHECK_STR(out.err.code, CF_E_ILLEGAL_STATE);
    CHECK(out.in_handler);
    CHECK_INT(out.version, 1);
    cf_error_free(&out.err);

    /* an expected-version conflict */
    CHECK_INT(cf_t_run(&env, CF_CMD_PREPARE_COMPENSATION, "a1", NULL, NULL, 5,
                       CF_T_EXECUTE_AT, &out), 0);
    CHECK_STR(out.err.code, CF_E_EXPECT_VERSION_CONFLICT);
    CHECK(!out.in_handler);
    cf_error_free(&out.err);

    CHECK_INT(cf_t_sql_int(&env, "SELECT count(*) FROM event_stream"), 1);
    CHECK_INT(cf_t_sql_int(&env, "SELECT version FROM snapshot"), 1);

    cf_t_env_close(&env);
}


static void
test_store_request_id_idempotent(void)
{
    cf_t_env_t        env;
    cf_exec_output_t  out;

    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, NULL,
                       cf_t_create_body, "req-1", -1, CF_T_EXECUTE_AT, &out),
              0);
    CHECK_STR(out.err.code, CF_OK);
    CHECK_STR(out.request_id, "req-1");
    cf_error_free(&out.err);

    /* the same request again, even for a new aggregate: refused */
    CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, NULL,
                       cf_t_create_body, "req-1", -1, CF_T_EXECUTE_AT, &out),
              0);
    CHECK_STR(out.err.code, CF_E_DUPLICATE_REQUEST_ID);
    CHECK(out.at_gateway);
    CHECK(!out.committed);
    cf_error_free(&out.err);

    CHECK_INT(cf_t_sql_int(&env, "SELECT count(*) FROM event_stream"), 1);
    CHECK_INT(cf_t_sql_int(&env, "SELECT count(*) FROM snapshot"), 1);

    cf_t_env_close(&env);
}


static void
test_store_repairs_snapshot(void)
{
    char              *a, *b;
    json_t            *ja, *jb;
    cf_t_env_t         env;
    cf_error_t         err;
    cf_aggregate_t     agg;
    cf_exec_output_t   out;

    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, "a1",
                       cf_t_create_body, NULL, -1, CF_T_EXECUTE_AT, &out), 0);
    cf_error_free(&out.err);
    CHECK_INT(cf_t_run(&env, CF_CMD_PREPARE_COMPENSATION, "a1", NULL, NULL,
                       -1, CF_T_EXECUTE_AT + 1000, &out), 0);
    CHECK_STR(out.err.code, CF_OK);
    cf_error_free(&out.err);

    cf_error_init(&err);
    cf_aggregate_init(&agg, "a1");
    CHECK_INT(cf_store_load(env.st, &agg, &err), 0);
    ja = cf_state_to_json(&agg.state);
    cf_aggregate_free(&agg);

    /* a damaged state document: the events rebuild it */
    cf_t_sql_exec(&env, "UPDATE snapshot SET state = '{broken'");
    cf_aggregate_init(&agg, "a1");
    CHECK_INT(cf_store_load(env.st, &agg, &err), 0);
    CHECK_INT(agg.version, 2);
    jb = cf_state_to_json(&agg.state);
    cf_aggregate_free(&agg);

    a = cf_t_dump(ja);
    b = cf_t_dump(jb);
    CHECK_STR(b, a);
    free(b);
    json_decref(jb);

    /* a missing row, and a stale one (version 1 of 2) */
    cf_t_sql_exec(&env, "DELETE FROM snapshot");
    cf_aggregate_init(&agg, "a1");
    CHECK_INT(cf_store_load(env.st, &agg, &err), 0);
    CHECK_INT(agg.version, 2);
    jb = cf_state_to_json(&agg.state);
    cf_aggregate_free(&agg);
    b = cf_t_dump(jb);
    CHECK_STR(b, a);
    free(b);
    json_decref(jb);

    /* a command on the damaged store rewrites a whole snapshot */
    CHECK_INT(cf_t_run(&env, CF_CMD_MARK_RECOVERABLE, "a1",
                       "{\"recoverable\":\"RECOVERABLE\"}", NULL, -1,
                       CF_T_EXECUTE_AT + 2000, &out), 0);
    CHECK_STR(out.err.code, CF_OK);
    CHECK_INT(out.version, 3);
    cf_error_free(&out.err);
    CHECK_INT(cf_t_sql_int(&env, "SELECT version FROM snapshot"), 3);

    /* a damaged event stream is an error, never a crash */
    cf_t_sql_exec(&env, "UPDATE event_stream SET body = '[{\"name\":1}]'"
                        " WHERE version = 2");
    cf_t_sql_exec(&env, "DELETE FROM snapshot");
    cf_aggregate_init(&agg, "a1");
    CHECK_INT(cf_store_load(env.st, &agg, &err), -1);
    CHECK_STR(err.code, CF_E_INTERNAL);
    cf_aggregate_free(&agg);
    cf_error_free(&err);

    free(a);
    json_decref(ja);

    cf_t_env_close(&env);
}


static void
test_store_two_connections(void)
{
    cf_t_env_t          env;
    cf_store_t         *other;
    cf_exec_output_t    out;

    other = cf_t_env_open_pair(&env);
    if (other == NULL) {
        return;
    }

    /* while the other holds the write lock, a command times out cleanly */
    CHECK_INT(cf_store_begin_immediate(other), 0);
    cf_store_set_busy_timeout(env.st, 50);

    CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, "a1",
                       cf_t_create_body, NULL, -1, CF_T_EXECUTE_AT, &out), 0);
    CHECK_STR(out.err.code, CF_E_REQUEST_TIMEOUT);
    CHECK(!out.committed);
    cf_error_free(&out.err);

    cf_store_rollback(other);
    cf_store_set_busy_timeout(env.st, 1000);

    CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, "a1",
                       cf_t_create_body, NULL, -1, CF_T_EXECUTE_AT, &out), 0);
    CHECK_STR(out.err.code, CF_OK);
    cf_error_free(&out.err);

    CHECK_INT(cf_store_ping(other), 0);
    cf_store_close(other);

    cf_t_env_close(&env);
}


/* issue 3: replays up to a version / a time, regeneration, id scans */
static void
test_store_history(void)
{
    int               i;
    char             *a, *b, **ids;
    size_t            n;
    json_t           *j1, *j2;
    int64_t           version;
    cf_t_env_t        env;
    cf_error_t        err;
    cf_aggregate_t    agg, full;
    cf_exec_output_t  out;
    cf_snapshot_row_t row;
    static const char *fn[] = {
        "{\"functionKind\":\"EVENT\",\"contextName\":\"c\","
        "\"processorName\":\"p\",\"name\":\"a\"}",
        "{\"functionKind\":\"EVENT\",\"contextName\":\"c\","
        "\"processorName\":\"p\",\"name\":\"b\"}"
    };

    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, "h1",
                       cf_t_create_body, NULL, -1, 1000, &out), 0);
    cf_error_free(&out.err);

    for (i = 0; i < 2; i++) {
        CHECK_INT(cf_t_run(&env, CF_CMD_CHANGE_FUNCTION, "h1", fn[i], NULL,
                           -1, 2000 + 1000 * i, &out), 0);
        cf_error_free(&out.err);
    }

    for (i = 2; i <= 5; i++) {
        char  id[16];

        snprintf(id, sizeof(id), "h%d", i);
        CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, id,
                           cf_t_create_body, NULL, -1, 1000, &out), 0);
        cf_error_free(&out.err);
    }

    cf_error_init(&err);

    /* up to a version */
    cf_aggregate_init(&agg, "h1");
    CHECK_INT(cf_store_load_upto(env.st, &agg, 2, INT64_MAX, &err), 0);
    CHECK_INT(agg.version, 2);
    j1 = cf_state_to_json(&agg.state);
    cf_aggregate_free(&agg);

    /* up to a time: 2500 is after version 2, before version 3 */
    cf_aggregate_init(&agg, "h1");
    CHECK_INT(cf_store_load_upto(env.st, &agg, INT64_MAX, 2500, &err), 0);
    CHECK_INT(agg.version, 2);
    j2 = cf_state_to_json(&agg.state);
    a = cf_t_dump(j1);
    b = cf_t_dump(j2);
    CHECK_STR(a, b);
    free(a);
    free(b);
    json_decref(j1);
    json_decref(j2);
    cf_aggregate_free(&agg);

    cf_aggregate_init(&agg, "h1");
    CHECK_INT(cf_store_load_upto(env.st, &agg, INT64_MAX, 999, &err), 0);
    CHECK_INT(agg.version, 0);
    cf_aggregate_free(&agg);

    /* a damaged row is regenerated from the events, equal to a replay */
    cf_t_sql_exec(&env, "UPDATE snapshot SET state = '{broken',"
                        " version = 1 WHERE aggregate_id = 'h1'");
    CHECK_INT(cf_store_regenerate_snapshot(env.st, "h1", 9000, &err), 0);
    CHECK_INT(cf_store_regenerate_snapshot(env.st, "nope", 9000, &err),
              CF_STORE_NOT_FOUND);

    CHECK_INT(cf_store_read_snapshot(env.st, "h1", &row), 0);
    CHECK_INT(row.version, 3);
    CHECK_INT(row.snapshot_time, 9000);
    CHECK_INT(row.first_event_time, 1000);
    CHECK_INT(row.event_time, 3000);

    cf_aggregate_init(&full, "h1");
    CHECK_INT(cf_store_load_upto(env.st, &full, INT64_MAX, INT64_MAX, &err),
              0);
    j1 = cf_state_to_json(&full.state);
    a = cf_t_dump(j1);
    CHECK_STR(row.state, a);
    free(a);
    json_decref(j1);
    cf_aggregate_free(&full);
    cf_snapshot_row_free(&row);

    CHECK_INT(cf_store_read_snapshot(env.st, "nope", &row),
              CF_STORE_NOT_FOUND);

    /* the latest event stream's version (the tracing window's end) */
    version = -1;
    CHECK_INT(cf_store_latest_version(env.st, "h1", &version, &err), 0);
    CHECK_INT(version, 3);
    CHECK_INT(cf_store_latest_version(env.st, "h2", &version, &err), 0);
    CHECK_INT(version, 1);
    CHECK_INT(cf_store_latest_version(env.st, "nope", &version, &err), 0);
    CHECK_INT(version, 0);

    /* the id scan: > after, ascending, at most limit */
    CHECK_INT(cf_store_scan_ids(env.st, "(0)", 2, &ids, &n), 0);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(ids[0], "h1");
        CHECK_STR(ids[1], "h2");
    }
    cf_ids_free(ids, n);

    CHECK_INT(cf_store_scan_ids(env.st, "h2", 10, &ids, &n), 0);
    CHECK_INT(n, 3);
    cf_ids_free(ids, n);

    CHECK_INT(cf_store_scan_ids(env.st, "h5", 10, &ids, &n), 0);
    CHECK_INT(n, 0);
    cf_ids_free(ids, n);

    /* a damaged stream is an error, never a crash */
    cf_t_sql_exec(&env, "UPDATE event_stream SET body = '[{\"name\":1}]'"
                        " WHERE aggregate_id = 'h2'");
    cf_aggregate_init(&agg, "h2");
    CHECK_INT(cf_store_load_upto(env.st, &agg, INT64_MAX, INT64_MAX, &err),
              -1);
    CHECK_STR(err.code, CF_E_INTERNAL);
    cf_aggregate_free(&agg);
    cf_error_free(&err);

    cf_t_env_close(&env);
}


/* the versions a tracing answers: [from, to], empty when from > to */
static void
test_tracing_window(void)
{
    size_t   i;
    int64_t  from, to;

    static const struct {
        int64_t  latest, head, tail, limit, from, to;
    } w[] = {
        /* no parameters: all; no event: empty */
        { 5, 1, INT64_MAX, -1, 1, 5 },
        { 0, 1, INT64_MAX, -1, 1, 0 },
        { 0, 1, INT64_MAX, 1, 1, 0 },

        /* limit under, at and over the window; 0 */
        { 5, 1, INT64_MAX, 1, 5, 5 },
        { 5, 1, INT64_MAX, 4, 2, 5 },
        { 5, 1, INT64_MAX, 5, 1, 5 },
        { 5, 1, INT64_MAX, 6, 1, 5 },
        { 5, 1, INT64_MAX, INT64_MAX, 1, 5 },
        { 5, 1, INT64_MAX, 0, 6, 5 },
        { 5, 2, 4, 2, 3, 4 },
        { 5, 2, 4, 3, 2, 4 },
        { 5, 2, 4, 4, 2, 4 },

        /* the tail is capped at the latest; the head may pass it */
        { 5, 4, 100, 1, 5, 5 },
        { 5, 1, INT64_MAX, 1, 5, 5 },
        { 5, 6, INT64_MAX, -1, 6, 5 },
        { 5, 6, INT64_MAX, 1, 6, 5 },
        { 5, INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX, 5 },
        { 5, 5, 5, -1, 5, 5 },
        { 5, 1, 1, 1, 1, 1 },

        /* the largest history */
        { INT64_MAX, 1, INT64_MAX, -1, 1, INT64_MAX },
        { INT64_MAX, 1, INT64_MAX, 1, INT64_MAX, INT64_MAX },
        { INT64_MAX, 1, INT64_MAX, INT64_MAX, 1, INT64_MAX },
    };

    for (i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
        cf_tracing_window(w[i].latest, w[i].head, w[i].tail, w[i].limit,
                          &from, &to);

        if (!CHECK_INT(from, w[i].from) | !CHECK_INT(to, w[i].to)) {
            printf("#     window %zu\n", i);
        }
    }
}


/* static: the state read's allocator */
static void *
cf_t_malloc(void *data, size_t size)
{
    return malloc(size);
}


/*
 * cf_store_read_hold: the reads share one snapshot until the release, even
 * when another connection commits meanwhile; after it they see the commit.
 */
static void
test_store_read_hold(void)
{
    int                 rc;
    char                *text;
    size_t              len;
    cf_t_env_t          env;
    cf_store_t         *reader;
    cf_exec_output_t    out;
    cf_store_options_t  opts;

    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    cf_t_options(&opts);

    reader = cf_t_connect(&env, &opts);
    if (!CHECK(reader != NULL)) {
        cf_t_env_close(&env);
        return;
    }

    CHECK_INT(cf_store_read_hold(reader), 0);
    CHECK_INT(cf_store_read_hold(reader), 0);       /* held already */
    CHECK(cf_store_in_transaction(reader));

    /* the first read takes the snapshot: no "h1" yet */
    CHECK_INT(cf_store_state_text(reader, "h1", cf_t_malloc, NULL, &text,
                                  &len), 0);

    CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, "h1",
                       cf_t_create_body, NULL, -1, CF_T_EXECUTE_AT, &out), 0);
    CHECK_STR(out.err.code, CF_OK);
    cf_error_free(&out.err);

    /* the writer committed; the held snapshot still does not show it */
    CHECK_INT(cf_store_state_text(reader, "h1", cf_t_malloc, NULL, &text,
                                  &len), 0);

    cf_store_read_release(reader);
    CHECK(!cf_store_in_transaction(reader));
    cf_store_read_release(reader);                  /* nothing held */

    rc = cf_store_state_text(reader, "h1", cf_t_malloc, NULL, &text, &len);
    CHECK_INT(rc, 1);
    if (rc == 1) {
        CHECK(len > 2 && text[0] == '{');
        free(text);
    }

    cf_store_close(reader);
    cf_t_env_close(&env);
}


/* compensation_store_mmap_size and temp_store: the pragmas are set */
static void
test_store_mmap_size(void)
{
    cf_t_env_t          env;
    cf_store_t         *st;
    sqlite3_stmt       *s;
    cf_store_options_t  opts;

    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    cf_t_options(&opts);
    opts.mmap_size = 1 << 20;
    opts.temp_store_memory = 1;

    st = cf_t_connect(&env, &opts);
    CHECK(st != NULL);

    if (st != NULL) {
        CHECK(sqlite3_prepare_v2(cf_sqlite_store_db(st), "PRAGMA mmap_size",
                                 -1, &s, NULL) == SQLITE_OK);
        CHECK(sqlite3_step(s) == SQLITE_ROW);
        CHECK_INT(sqlite3_column_int64(s, 0), 1 << 20);
        sqlite3_finalize(s);

        /* the store thread's connection: no temporary files (2: MEMORY) */
        CHECK(sqlite3_prepare_v2(cf_sqlite_store_db(st),
                                 "PRAGMA temp_store", -1, &s, NULL)
              == SQLITE_OK);
        CHECK(sqlite3_step(s) == SQLITE_ROW);
        CHECK_INT(sqlite3_column_int(s, 0), 2);
        sqlite3_finalize(s);

        cf_store_close(st);
    }

    cf_t_env_close(&env);
}


/*
 * The checkpoint policy (cf_store_wal_hook): two writers take turns, and a
 * reader holds a snapshot from before each commit until after it, so that
 * no checkpoint catches up and SQLite alone would never start the WAL over
 * (its file then grows with every commit).  The RESTART tried at the start of a write
 * transaction keeps the WAL near wal_restart_frames, and nothing is lost.
 */
static void
test_store_wal_restart(void)
{
    int                 i, restarts;
    char                wal[128], *text;
    size_t              len;
    cf_t_env_t          env;
    struct stat         sb;
    cf_store_t         *w[2], *reader;
    sqlite3_stmt       *s;
    cf_store_options_t  opts;

    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    cf_t_options(&opts);
    opts.wal_checkpoint_frames = 8;
    opts.wal_restart_frames = 64;

    w[0] = cf_t_connect(&env, &opts);
    w[1] = cf_t_connect(&env, &opts);
    reader = cf_t_connect(&env, &opts);

    if (!CHECK(w[0] && w[1] && reader)) {
        goto done;
    }

    cf_t_sql_exec(&env, "CREATE TABLE scratch (b BLOB)");

    snprintf(wal, sizeof(wal), "%s-wal", env.path);

    for (i = 0; i < 400; i++) {
        CHECK_INT(cf_store_begin_immediate(w[i % 2]), 0);

        /* a reader from before the commit: its checkpoint cannot catch up */
        CHECK_INT(cf_store_read_hold(reader), 0);
        CHECK_INT(cf_store_state_text(reader, "none", cf_t_malloc, NULL,
                                      &text, &len), 0);

        /* about 5 pages a commit: 2,000 frames in all */
        CHECK_INT(sqlite3_exec(cf_sqlite_store_db(w[i % 2]),
                               "INSERT INTO scratch VALUES"
                               " (randomblob(16000))", NULL, NULL, NULL),
                  SQLITE_OK);
        CHECK_INT(cf_store_commit(w[i % 2]), 0);

        cf_store_read_release(reader);

        if (!CHECK(stat(wal, &sb) == 0)) {
            break;
        }

        /* 64 frames, the commit that passed them, and the one after */
        if (!CHECK(sb.st_size < (64 + 20) * (4096 + 24) + 32)) {
            fprintf(stderr, "# WAL of %lld bytes after commit %d\n",
                    (long long) sb.st_size, i);
            break;
        }
    }

    restarts = cf_store_wal_restarts(w[0]) + cf_store_wal_restarts(w[1]);
    CHECK(restarts >= 20);

    if (sqlite3_prepare_v2(cf_sqlite_store_db(reader),
                           "SELECT count(*) FROM scratch", -1, &s, NULL)
        == SQLITE_OK)
    {
        CHECK_INT(sqlite3_step(s), SQLITE_ROW);
        CHECK_INT(sqlite3_column_int(s, 0), 400);
        sqlite3_finalize(s);
    }

done:

    cf_store_close(w[0]);
    cf_store_close(w[1]);
    cf_store_close(reader);
    cf_t_env_close(&env);
}


/*
 * The WAL bound under a sustained read load (issue 20): readers of several
 * workers overlap, so one of them always holds a snapshot older than the
 * last commit and the writers' RESTART (which never waits) never finds the
 * WAL free: it grew past its bound for as long as the reads went on and its
 * file never shrank.  Here a thread keeps two read transactions overlapping
 * (each about a millisecond) while two writers commit through a
 * checkpointer: the WAL must stay near wal_restart_frames, and once the
 * writes stop its file must be truncated while the reads go on.
 */
typedef struct {
    const char    *path;
    volatile int   stop;
    long           reads;
} cf_t_readers_t;


static void *
cf_t_readers_main(void *data)
{
    int              k;
    sqlite3         *r[2];
    cf_t_readers_t  *rd = data;

    if (sqlite3_open_v2(rd->path, &r[0], SQLITE_OPEN_READWRITE, NULL)
        != SQLITE_OK
        || sqlite3_open_v2(rd->path, &r[1], SQLITE_OPEN_READWRITE, NULL)
           != SQLITE_OK)
    {
        return NULL;
    }

    sqlite3_busy_timeout(r[0], 1000);
    sqlite3_busy_timeout(r[1], 1000);

    k = 0;

    while (!rd->stop) {
        /* the next reader starts before the previous one ends */
        if (sqlite3_exec(r[k], "BEGIN; SELECT count(*) FROM scratch;", NULL,
                         NULL, NULL)
            == SQLITE_OK)
        {
            rd->reads++;
        }

        usleep(500);

        if (!sqlite3_get_autocommit(r[1 - k])) {
            (void) sqlite3_exec(r[1 - k], "COMMIT;", NULL, NULL, NULL);
        }

        usleep(500);
        k = 1 - k;
    }

    for (k = 0; k < 2; k++) {
        if (!sqlite3_get_autocommit(r[k])) {
            (void) sqlite3_exec(r[k], "COMMIT;", NULL, NULL, NULL);
        }

        sqlite3_close(r[k]);
    }

    return NULL;
}


static void
test_store_wal_bound_reads_with(int use_checkpointer)
{
    int                 i, started;
    char                wal[128], errbuf[256];
    off_t               largest;
    pthread_t           thread;
    cf_t_env_t          env;
    struct stat         sb;
    cf_store_t         *w[2];
    sqlite3_stmt       *s;
    cf_t_readers_t      rd;
    cf_checkpointer_t  *ck;
    cf_store_options_t  opts;

    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    cf_t_options(&opts);
    opts.wal_checkpoint_frames = 8;
    opts.wal_restart_frames = 64;

    /* without a checkpointer: writers off the event loop (store thread) */
    opts.wal_restart_wait_ms = use_checkpointer ? 0 : 200;

    w[0] = cf_t_connect(&env, &opts);
    w[1] = cf_t_connect(&env, &opts);
    ck = use_checkpointer ? cf_checkpointer_start(env.path, errbuf,
                                                  sizeof(errbuf))
                          : NULL;
    started = 0;

    if (!CHECK(w[0] && w[1] && (ck || !use_checkpointer))) {
        goto done;
    }

    if (ck) {
        cf_store_set_checkpointer(w[0], ck);
        cf_store_set_checkpointer(w[1], ck);
    }

    cf_t_sql_exec(&env, "CREATE TABLE scratch (b BLOB)");

    snprintf(wal, sizeof(wal), "%s-wal", env.path);

    rd.path = env.path;
    rd.stop = 0;
    rd.reads = 0;

    if (!CHECK(pthread_create(&thread, NULL, cf_t_readers_main, &rd) == 0)) {
        goto done;
    }

    started = 1;

    while (rd.reads < 2) {
        usleep(1000);
    }

    largest = 0;

    for (i = 0; i < 400; i++) {
        CHECK_INT(cf_store_begin_immediate(w[i % 2]), 0);

        /* about 5 pages a commit: 2,000 frames in all */
        CHECK_INT(sqlite3_exec(cf_sqlite_store_db(w[i % 2]),
                               "INSERT INTO scratch VALUES"
                               " (randomblob(16000))", NULL, NULL, NULL),
                  SQLITE_OK);
        CHECK_INT(cf_store_commit(w[i % 2]), 0);

        /* a commit every few milliseconds, as a loaded worker's groups */
        usleep(2000);

        if (stat(wal, &sb) == 0 && sb.st_size > largest) {
            largest = sb.st_size;
        }
    }

    /* the bound with room for the commits made while a run goes on */
    fprintf(stderr, "# largest WAL under reads: %lld bytes (%lld frames),"
            " %ld truncates, %d restarts, %ld reads\n", (long long) largest,
            (long long) (largest / (4096 + 24)),
            ck ? cf_checkpointer_truncates(ck) : 0,
            cf_store_wal_restarts(w[0]) + cf_store_wal_restarts(w[1]),
            rd.reads);

    CHECK(largest < (4 * 64) * (4096 + 24) + 32);

    /*
     * the writes stop, the reads go on: the checkpointer truncates the WAL
     * file (writers alone truncate it each time they start it over)
     */
    for (i = 0; i < 500 && ck; i++) {
        if (stat(wal, &sb) == 0 && sb.st_size == 0) {
            break;
        }

        usleep(10000);
    }

    if (ck && !CHECK(stat(wal, &sb) == 0 && sb.st_size == 0)) {
        fprintf(stderr, "# WAL of %lld bytes 5 s after the last commit\n",
                (long long) sb.st_size);
    }

    if (sqlite3_prepare_v2(cf_sqlite_store_db(w[0]),
                           "SELECT count(*) FROM scratch", -1, &s, NULL)
        == SQLITE_OK)
    {
        CHECK_INT(sqlite3_step(s), SQLITE_ROW);
        CHECK_INT(sqlite3_column_int(s, 0), 400);
        sqlite3_finalize(s);
    }

done:

    if (started) {
        rd.stop = 1;
        pthread_join(thread, NULL);
    }

    cf_store_close(w[0]);
    cf_store_close(w[1]);
    cf_checkpointer_stop(ck);
    cf_t_env_close(&env);
}


static void
test_store_wal_bound_reads(void)
{
    test_store_wal_bound_reads_with(1);
}


static void
test_store_wal_bound_reads_thread(void)
{
    test_store_wal_bound_reads_with(0);
}


/*
 * Optimistic group commit (cf_service_prepare): a decision made before the
 * write lock is written as made when the aggregate has no event since, and
 * made again when another writer came first.
 */
static int
cf_t_prepared_run(cf_t_env_t *env, cf_t_input_t *t, cf_prepared_t *pre,
    cf_exec_output_t *out)
{
    int  rc;

    if (cf_store_begin_immediate(env->st) != 0) {
        cf_prepared_free(pre);
        return -2;
    }

    rc = cf_service_execute_grouped(env->st, &env->ids, &t->in, out, pre);

    if (cf_store_commit(env->st) != 0) {
        return -2;
    }

    return rc;
}


static void
cf_t_prepare(cf_t_env_t *env, cf_t_input_t *t, cf_prepared_t *pre)
{
    CHECK_INT(cf_store_read_hold(env->st), 0);
    cf_service_prepare(env->st, &env->ids, &t->in, pre);
    cf_store_read_release(env->st);
}


static void
test_store_prepared(void)
{
    char                sql[200], id[CF_ID_BUF];
    cf_t_env_t          env;
    cf_store_t         *mine, *other;
    cf_t_input_t        t;
    cf_prepared_t       pre;
    cf_exec_output_t    out;

    other = cf_t_env_open_pair(&env);
    if (other == NULL) {
        return;
    }

    CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, "p1",
                       cf_t_create_body, NULL, -1, CF_T_EXECUTE_AT, &out), 0);
    cf_error_free(&out.err);

    /* kept: nothing was written in between; the event is the decided one */
    CHECK_INT(cf_t_input(&env, CF_CMD_PREPARE_COMPENSATION, "p1", NULL, NULL,
                         -1, CF_T_EXECUTE_AT + 1000, &t), 0);
    cf_t_prepare(&env, &t, &pre);
    CHECK_INT(pre.state, CF_PREPARED_APPLIED);
    CHECK_INT(pre.version, 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM event_stream"
             " WHERE id = '%s' AND version = 2", pre.stream_id);

    CHECK_INT(cf_t_prepared_run(&env, &t, &pre, &out), 0);
    CHECK_STR(out.err.code, CF_OK);
    CHECK(out.committed);
    CHECK_INT(out.version, 2);
    CHECK_INT(pre.state, CF_PREPARED_NONE);
    CHECK_INT(cf_t_sql_int(&env, sql), 1);
    cf_error_free(&out.err);
    cf_t_input_free(&t);

    /*
     * Made again: the success was decided on PREPARED, then another worker
     * applied a failure; on FAILED the success is refused (a stale write
     * would have been an EventVersionConflict)
     */
    CHECK_INT(cf_t_input(&env, CF_CMD_APPLY_EXECUTION_SUCCESS, "p1",
                         "{\"executeAt\":5}", NULL, -1,
                         CF_T_EXECUTE_AT + 2000, &t), 0);
    cf_t_prepare(&env, &t, &pre);
    CHECK_INT(pre.state, CF_PREPARED_APPLIED);

    mine = env.st;
    env.st = other;
    CHECK_INT(cf_t_run(&env, CF_CMD_APPLY_EXECUTION_FAILED, "p1",
                       "{\"error\":{\"errorCode\":\"E\",\"errorMsg\":"
                       "\"m\",\"stackTrace\":\"\"},\"executeAt\":6}",
                       NULL, -1, CF_T_EXECUTE_AT + 2500, &out), 0);
    CHECK_STR(out.err.code, CF_OK);
    cf_error_free(&out.err);
    env.st = mine;

    CHECK_INT(cf_t_prepared_run(&env, &t, &pre, &out), 0);
    CHECK_STR(out.err.code, CF_E_ILLEGAL_STATE);
    CHECK(!out.committed);
    CHECK_INT(out.version, 3);
    CHECK_INT(pre.state, CF_PREPARED_NONE);
    CHECK_INT(cf_t_sql_int(&env, "SELECT max(version) FROM event_stream"
                                 " WHERE aggregate_id = 'p1'"), 3);
    cf_error_free(&out.err);

    /* a refusal kept: the same command, nothing written since */
    cf_t_prepare(&env, &t, &pre);
    CHECK_INT(pre.state, CF_PREPARED_REFUSED);
    CHECK_INT(cf_t_prepared_run(&env, &t, &pre, &out), 0);
    CHECK_STR(out.err.code, CF_E_ILLEGAL_STATE);
    CHECK_INT(out.version, 3);
    CHECK_INT(pre.state, CF_PREPARED_NONE);
    cf_error_free(&out.err);

    /* and a refusal decided again: the other worker prepared it meanwhile */
    cf_t_prepare(&env, &t, &pre);
    CHECK_INT(pre.state, CF_PREPARED_REFUSED);

    env.st = other;
    CHECK_INT(cf_t_run(&env, CF_CMD_PREPARE_COMPENSATION, "p1", NULL, NULL,
                       -1, CF_T_EXECUTE_AT + 3000, &out), 0);
    CHECK_STR(out.err.code, CF_OK);
    cf_error_free(&out.err);
    env.st = mine;

    CHECK_INT(cf_t_prepared_run(&env, &t, &pre, &out), 0);
    CHECK_STR(out.err.code, CF_OK);
    CHECK(out.committed);
    CHECK_INT(out.version, 5);
    cf_error_free(&out.err);
    cf_t_input_free(&t);

    /*
     * A create of a generated id: the id is drawn before the lock, the
     * decision kept, and the event written is the decided one, under the
     * aggregate id the answer gives
     */
    CHECK_INT(cf_t_input(&env, CF_CMD_CREATE_EXECUTION_FAILED, NULL,
                         cf_t_create_body, NULL, -1, CF_T_EXECUTE_AT, &t), 0);
    cf_t_prepare(&env, &t, &pre);
    CHECK_INT(pre.state, CF_PREPARED_APPLIED);
    CHECK_INT(pre.version, 0);
    CHECK_INT((int) strlen(pre.aggregate_id), CF_ID_LEN);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM event_stream"
             " WHERE id = '%s' AND aggregate_id = '%s' AND version = 1",
             pre.stream_id, pre.aggregate_id);
    strcpy(id, pre.aggregate_id);

    CHECK_INT(cf_t_prepared_run(&env, &t, &pre, &out), 0);
    CHECK_STR(out.err.code, CF_OK);
    CHECK(out.committed);
    CHECK_INT(out.version, 1);
    CHECK_STR(out.aggregate_id, id);
    CHECK_INT(cf_t_sql_int(&env, sql), 1);
    cf_error_free(&out.err);

    /* the same input again: another id, another aggregate */
    cf_t_prepare(&env, &t, &pre);
    CHECK(strcmp(pre.aggregate_id, id) != 0);
    CHECK_INT(cf_t_prepared_run(&env, &t, &pre, &out), 0);
    CHECK_STR(out.err.code, CF_OK);
    CHECK_INT(out.version, 1);
    CHECK(strcmp(out.aggregate_id, id) != 0);
    cf_error_free(&out.err);

    /* unprepared (the read hold failed): the run draws the id itself */
    memset(&pre, 0, sizeof(cf_prepared_t));
    cf_error_init(&pre.err);
    CHECK_INT(cf_t_prepared_run(&env, &t, &pre, &out), 0);
    CHECK_STR(out.err.code, CF_OK);
    CHECK_INT(out.version, 1);
    CHECK_INT((int) strlen(out.aggregate_id), CF_ID_LEN);
    cf_error_free(&out.err);
    cf_t_input_free(&t);

    /* freed unused (the group's BEGIN failed): nothing leaks */
    CHECK_INT(cf_t_input(&env, CF_CMD_PREPARE_COMPENSATION, "p1", NULL, NULL,
                         -1, CF_T_EXECUTE_AT + 4000, &t), 0);
    cf_t_prepare(&env, &t, &pre);
    cf_prepared_free(&pre);
    CHECK_INT(pre.state, CF_PREPARED_NONE);
    cf_t_input_free(&t);

    cf_store_close(other);
    cf_t_env_close(&env);
}


/*
 * The checkpointer (cf_checkpoint.h): woken by a connection's commits, its
 * thread copies the WAL into the database file, and its guard transaction
 * ends with each run, so that a RESTART can then start the WAL over.
 */
static void
test_store_checkpointer(void)
{
    int                 i, busy, log, done;
    long                runs;
    char                errbuf[256];
    cf_t_env_t          env;
    struct stat         sb;
    cf_store_t         *w;
    sqlite3_stmt       *s;
    cf_checkpointer_t  *ck;
    cf_store_options_t  opts;

    /* a store that is not there: a clear error, no thread */
    CHECK(cf_checkpointer_start("/nonexistent/dir/store.db", errbuf,
                                sizeof(errbuf)) == NULL);
    CHECK(strstr(errbuf, "/nonexistent/dir/store.db") != NULL);

    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    cf_t_sql_exec(&env, "CREATE TABLE scratch (b BLOB)");

    ck = cf_checkpointer_start(env.path, errbuf, sizeof(errbuf));
    if (!CHECK(ck != NULL)) {
        fprintf(stderr, "# %s\n", errbuf);
        cf_t_env_close(&env);
        return;
    }

    cf_t_options(&opts);
    opts.wal_checkpoint_frames = 8;
    w = cf_t_connect(&env, &opts);

    if (!CHECK(w != NULL)) {
        goto done;
    }

    cf_store_set_checkpointer(w, ck);

    /* 3.2 MB in 200 commits of about 5 pages: the hook wakes it often */
    for (i = 0; i < 200; i++) {
        CHECK_INT(cf_store_begin_immediate(w), 0);
        CHECK_INT(sqlite3_exec(cf_sqlite_store_db(w),
                               "INSERT INTO scratch VALUES"
                               " (randomblob(16000))", NULL, NULL, NULL),
                  SQLITE_OK);
        CHECK_INT(cf_store_commit(w), 0);
    }

    /*
     * one whole run after the last commit: everything is in the file.  A
     * run may be going on when runs is read (woken by an earlier commit),
     * and its end would count; the second wake comes after a run ended
     */
    for (busy = 0; busy < 2; busy++) {
        runs = cf_checkpointer_runs(ck);
        cf_checkpointer_wake(ck);

        for (i = 0; i < 500 && cf_checkpointer_runs(ck) <= runs; i++) {
            usleep(10000);
        }

        CHECK(cf_checkpointer_runs(ck) > runs);
    }

    CHECK(stat(env.path, &sb) == 0 && sb.st_size >= 200 * 16000);

    /* no guard left behind: the WAL can start over */
    busy = -1;
    done = -1;
    if (sqlite3_prepare_v2(cf_sqlite_store_db(w),
                           "PRAGMA wal_checkpoint(RESTART)", -1, &s, NULL)
        == SQLITE_OK)
    {
        if (CHECK_INT(sqlite3_step(s), SQLITE_ROW)) {
            busy = sqlite3_column_int(s, 0);
            log = sqlite3_column_int(s, 1);
            done = sqlite3_column_int(s, 2);
            CHECK_INT(done, log);
        }

        sqlite3_finalize(s);
    }

    CHECK_INT(busy, 0);

    CHECK_INT(cf_t_sql_int(&env, "SELECT count(*) FROM scratch"), 200);

done:

    /* every connection to the file first (cf_checkpointer_stop) */
    cf_store_close(w);
    cf_store_close(env.st);
    env.st = NULL;
    cf_checkpointer_stop(ck);
    cf_t_env_close(&env);
}


static volatile sig_atomic_t  cf_t_caught;


static void
cf_t_catch(int signo)
{
    cf_t_caught = signo;
}


/*
 * A signal sent to the process must not be taken by the checkpointer's
 * thread: nginx sets its flags (ngx_quit, ngx_terminate, ...) in the
 * handler, and only the event loop's thread, woken by the signal, acts on
 * them.  Under valgrind, where nginx runs one process, SIGQUIT caught by the
 * thread left nginx running until the test harness killed it.  Here the
 * main thread blocks the signal once the thread runs: if the thread does
 * not block it too, the kernel hands it to the thread's handler; if it does,
 * the signal stays pending, and sigtimedwait() takes it afterwards.
 */
static void
test_store_checkpointer_signals(void)
{
    int                 signo;
    char                errbuf[256];
    sigset_t            usr1, old;
    cf_t_env_t          env;
    struct sigaction    sa, saved;
    struct timespec     wait;
    cf_checkpointer_t  *ck;

    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cf_t_catch;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &saved);

    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);

    /* the thread is created while this thread takes SIGUSR1 */
    pthread_sigmask(SIG_UNBLOCK, &usr1, &old);

    ck = cf_checkpointer_start(env.path, errbuf, sizeof(errbuf));
    if (!CHECK(ck != NULL)) {
        fprintf(stderr, "# %s\n", errbuf);
        goto done;
    }

    pthread_sigmask(SIG_BLOCK, &usr1, NULL);

    cf_t_caught = 0;
    kill(getpid(), SIGUSR1);

    /* time for the thread to take it, if it can: sigtimedwait() would win */
    usleep(200000);

    wait.tv_sec = 0;
    wait.tv_nsec = 0;
    signo = sigtimedwait(&usr1, NULL, &wait);

    CHECK_INT(signo, SIGUSR1);
    CHECK_INT(cf_t_caught, 0);

    cf_store_close(env.st);
    env.st = NULL;
    cf_checkpointer_stop(ck);

done:

    pthread_sigmask(SIG_SETMASK, &old, NULL);
    sigaction(SIGUSR1, &saved, NULL);
    cf_t_env_close(&env);
}


/*
 * A store whose file (or WAL) is deleted or replaced while open refuses
 * writes and never reports one as committed (issue 20, item 2); a missing
 * file is not created with no_create.
 */
static void
test_store_replaced(void)
{
    int                 i;
    char                wal[128], other[128];
    FILE               *fp;
    cf_t_env_t          env;
    cf_store_t         *st;
    cf_exec_output_t    out;
    cf_store_options_t  opts;
    char                errbuf[256];

    for (i = 0; i < 3; i++) {
        if (!CHECK(cf_t_env_open(&env) == 0)) {
            return;
        }

        CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, "a1",
                           cf_t_create_body, NULL, -1, CF_T_EXECUTE_AT, &out),
                  0);
        CHECK(out.committed);
        cf_error_free(&out.err);
        CHECK_INT(cf_store_check_file(env.st), 0);

        snprintf(wal, sizeof(wal), "%s-wal", env.path);
        snprintf(other, sizeof(other), "%s.new", env.path);

        if (i == 0) {
            /* the database file deleted */
            CHECK_INT(unlink(env.path), 0);

        } else if (i == 1) {
            /* the WAL deleted */
            CHECK_INT(unlink(wal), 0);

        } else {
            /* another file renamed over the path (a restored copy) */
            fp = fopen(other, "w");
            if (CHECK(fp != NULL)) {
                fclose(fp);
            }
            CHECK_INT(rename(other, env.path), 0);
        }

        if (!CHECK_INT(cf_store_check_file(env.st), CF_STORE_REPLACED)) {
            printf("#   case %d\n", i);
        }
        CHECK(strstr(cf_store_errmsg(env.st), env.path) != NULL);

        /* refused before anything is written: 503, not committed */
        CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, "a2",
                           cf_t_create_body, NULL, -1, CF_T_EXECUTE_AT, &out),
                  0);
        CHECK_STR(out.err.code, CF_E_SERVICE_UNAVAILABLE);
        CHECK_INT(cf_error_http_status(out.err.code), 503);
        CHECK(!out.committed);
        cf_error_free(&out.err);

        cf_t_env_close(&env);
    }

    /* deleted during the transaction: the COMMIT is not acknowledged */
    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    CHECK_INT(cf_store_begin_immediate(env.st), 0);
    CHECK_INT(sqlite3_exec(cf_sqlite_store_db(env.st),
                           "PRAGMA user_version = 7", NULL, NULL, NULL),
              SQLITE_OK);
    CHECK_INT(unlink(env.path), 0);
    CHECK_INT(cf_store_commit(env.st), CF_STORE_REPLACED);
    CHECK_INT(cf_store_errcode(env.st), CF_STORE_FAULT | SQLITE_CANTOPEN);

    /* no_create: a missing file is an error, not a fresh store */
    cf_t_options(&opts);
    opts.no_create = 1;
    st = cf_store_open(env.path, &opts, errbuf, sizeof(errbuf));
    CHECK(st == NULL);
    CHECK(access(env.path, F_OK) != 0);
    cf_store_close(st);

    cf_t_env_close(&env);
}


/* a unique violation is classified by the rows, not by SQLite's text */
static void
test_store_unique_violations(void)
{
    cf_t_env_t       env;
    json_t          *header, *body;
    cf_stream_row_t  row;

    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    header = json_object();
    body = json_object();

    memset(&row, 0, sizeof(row));
    row.id = "s1";
    row.aggregate_id = "a1";
    row.owner_id = "";
    row.version = 1;
    row.request_id = "r1";
    row.command_id = "c1";
    row.header = header;
    row.event_id = "e1";
    row.event_name = "execution_failed_created";
    row.event_body_type = "t";
    row.event_body = body;
    row.create_time = CF_T_EXECUTE_AT;

    CHECK_INT(cf_store_begin_immediate(env.st), 0);
    CHECK_INT(cf_store_append(env.st, &row), 0);

    /* (aggregate_id, version) taken */
    row.id = "s2";
    row.request_id = "r2";
    CHECK_INT(cf_store_append(env.st, &row), CF_STORE_VERSION_TAKEN);

    /* (aggregate_id, request_id) taken, even with a new version */
    row.version = 2;
    row.request_id = "r1";
    CHECK_INT(cf_store_append(env.st, &row), CF_STORE_DUPLICATE_REQ);

    /* a request id that is an index's name in SQLite's text, on another
     * aggregate: no duplicate there */
    row.aggregate_id = "a2";
    row.version = 1;
    row.request_id = "request_id";
    CHECK_INT(cf_store_append(env.st, &row), 0);

    /* the stream id (primary key) taken: a conflict */
    row.id = "s1";
    row.aggregate_id = "a3";
    row.request_id = "r3";
    CHECK_INT(cf_store_append(env.st, &row), CF_STORE_VERSION_TAKEN);

    CHECK_INT(cf_store_commit(env.st), 0);

    json_decref(header);
    json_decref(body);
    cf_t_env_close(&env);
}


/*
 * A file of a newer schema version (a newer module wrote it) is refused at
 * open, as the PostgreSQL backend refuses such a database: this module
 * would write it as an older version (an older build once set a version 3
 * file back to 2).  The file is left as it was.
 */
static void
test_store_newer_schema(void)
{
    char                errbuf[512], want[128];
    cf_t_env_t          env;
    cf_store_t         *st;
    cf_store_options_t  opts;

    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    CHECK_INT(cf_query_schema(env.st, errbuf, sizeof(errbuf)), 0);
    CHECK_INT(cf_t_sql_int(&env, "PRAGMA user_version"),
              CF_SQLITE_SCHEMA_VERSION);
    cf_store_close(env.st);
    env.st = NULL;

    cf_t_sql_exec(&env, "PRAGMA user_version = 4");

    cf_t_options(&opts);
    errbuf[0] = '\0';
    st = cf_store_open(env.path, &opts, errbuf, sizeof(errbuf));

    if (!CHECK(st == NULL)) {
        cf_store_close(st);
    }

    snprintf(want, sizeof(want), "the file has schema version 4, this"
             " module knows versions up to %d: upgrade the module",
             CF_SQLITE_SCHEMA_VERSION);
    if (!CHECK(strstr(errbuf, want) != NULL)) {
        printf("#     %s\n", errbuf);
    }

    CHECK_INT(cf_t_sql_int(&env, "PRAGMA user_version"), 4);

    /* its own version opens again */
    cf_t_sql_exec(&env, "PRAGMA user_version = 3");
    env.st = cf_t_connect(&env, &opts);
    CHECK(env.st != NULL);
    CHECK_INT(cf_t_sql_int(&env, "PRAGMA user_version"), 3);

    cf_t_env_close(&env);
}


/*
 * The backend a store's name selects (cf_store_open): PostgreSQL's URIs and
 * keyword strings go to its backend, which this build (the tests') lacks;
 * anything else is a SQLite file.
 */
static void
test_store_backend_select(void)
{
    char                errbuf[256];
    cf_store_t         *st;
    cf_store_options_t  opts;

    CHECK(cf_store_dsn_is_file("/var/lib/compensation/store.db"));
    CHECK(cf_store_dsn_is_file("relative.db"));
    CHECK(cf_store_dsn_is_file("odd=name.db"));
    CHECK(!cf_store_dsn_is_file("postgresql://u@db/compensation"));
    CHECK(!cf_store_dsn_is_file("postgres://db/compensation"));
    CHECK(!cf_store_dsn_is_file("host=db dbname=compensation"));
    CHECK(!cf_store_dsn_is_file(" dbname=compensation"));
    /* libpq allows white space around '=' */
    CHECK(!cf_store_dsn_is_file("dbname = compensation host=db"));
    CHECK(!cf_store_dsn_is_file("\thost\t=db"));
    CHECK(!cf_store_dsn_is_file("sslrootcert =/etc/ca.pem dbname=c"));
    CHECK(cf_store_dsn_is_file("dbname.db"));
    CHECK(cf_store_dsn_is_file("hostname=x.db"));
    CHECK(cf_store_dsn_is_file("dbname x.db"));
    CHECK(cf_store_dsn_is_file("username = x.db"));

    cf_t_options(&opts);
    errbuf[0] = '\0';

    st = cf_store_open("postgresql://u@db/compensation", &opts, errbuf,
                       sizeof(errbuf));
    CHECK(st == NULL);
    CHECK(strstr(errbuf, "this build has no PostgreSQL store") != NULL);

    if (st) {
        cf_store_close(st);
    }
}


/*
 * Group commit without SQL savepoints (cf_sqlite_savepoint): a command that
 * wrote nothing (a statement SQLite undid by itself) has nothing to undo and
 * its group goes on; one that wrote and then failed ends the whole
 * transaction, and nothing of the group stays
 */
static void
test_store_group_marks(void)
{
    sqlite3           *db;
    long long          retries;
    cf_t_env_t         env;
    cf_exec_output_t   out;

    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, "m1",
                       cf_t_create_body, NULL, -1, CF_T_EXECUTE_AT, &out), 0);
    cf_error_free(&out.err);

    retries = cf_t_sql_int(&env, "SELECT retries FROM snapshot");
    db = cf_sqlite_store_db(env.st);

    CHECK_INT(cf_store_begin_immediate(env.st), 0);

    /* the group's first command */
    CHECK_INT(cf_store_savepoint(env.st), 0);
    CHECK_INT(sqlite3_exec(db, "UPDATE snapshot SET retries = 5", NULL, NULL,
                           NULL), SQLITE_OK);
    CHECK_INT(cf_store_release(env.st), 0);

    /* a refused one: its statement broke a constraint and changed nothing */
    CHECK_INT(cf_store_savepoint(env.st), 0);
    CHECK(sqlite3_exec(db, "INSERT INTO snapshot (aggregate_id) VALUES"
                       " ('m1')", NULL, NULL, NULL)
          != SQLITE_OK);
    CHECK_INT(cf_store_rollback_to(env.st), 0);
    CHECK(cf_store_in_transaction(env.st));

    /* one that wrote, then failed: the transaction ends */
    CHECK_INT(cf_store_savepoint(env.st), 0);
    CHECK_INT(sqlite3_exec(db, "UPDATE snapshot SET retries = 7", NULL, NULL,
                           NULL), SQLITE_OK);
    CHECK_INT(cf_store_rollback_to(env.st), -1);
    CHECK(!cf_store_in_transaction(env.st));

    CHECK_INT(cf_t_sql_int(&env, "SELECT retries FROM snapshot"), retries);

    /* the connection goes on */
    CHECK_INT(cf_store_begin_immediate(env.st), 0);
    CHECK_INT(cf_store_commit(env.st), 0);

    cf_t_env_close(&env);
}


/*
 * A scoped request id (the scheduler's, named after its operation) is not
 * looked up in the whole store: repeated on its aggregate, the event
 * stream's unique (aggregate_id, request_id) refuses it, nothing of it is
 * written and its group goes on; on another aggregate it is not a repeat
 */
static void
test_store_scoped_request_id(void)
{
    int                i, rc[2];
    cf_t_env_t         env;
    cf_t_input_t       t[2];
    cf_exec_output_t   out, o[2];

    if (!CHECK(cf_t_env_open(&env) == 0)) {
        return;
    }

    CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, "s1",
                       cf_t_create_body, NULL, -1, CF_T_EXECUTE_AT, &out), 0);
    cf_error_free(&out.err);

    for (i = 0; i < 2; i++) {
        if (!CHECK(cf_t_input(&env, CF_CMD_MARK_RECOVERABLE, "s1",
                              i == 0 ? "{\"recoverable\":\"RECOVERABLE\"}"
                                     : "{\"recoverable\":"
                                       "\"UNRECOVERABLE\"}",
                              "op-1:result", -1, CF_T_EXECUTE_AT + 1, &t[i])
                   == 0))
        {
            cf_t_env_close(&env);
            return;
        }

        t[i].in.request_id_scoped = 1;
    }

    CHECK_INT(cf_store_begin_immediate(env.st), 0);

    for (i = 0; i < 2; i++) {
        rc[i] = cf_service_execute_grouped(env.st, &env.ids, &t[i].in, &o[i],
                                           NULL);
        CHECK(cf_store_in_transaction(env.st));
    }

    CHECK_INT(cf_store_commit(env.st), 0);

    CHECK_INT(rc[0], 0);
    CHECK_STR(o[0].err.code, CF_OK);
    CHECK(o[0].committed);

    CHECK_INT(rc[1], 0);
    CHECK_STR(o[1].err.code, CF_E_DUPLICATE_REQUEST_ID);
    CHECK(!o[1].committed);

    CHECK_INT(cf_t_sql_int(&env, "SELECT count(*) FROM event_stream"
                           " WHERE aggregate_id = 's1'"), 2);
    CHECK_INT(cf_t_sql_int(&env, "SELECT version FROM snapshot"), 2);

    for (i = 0; i < 2; i++) {
        cf_exec_output_free(&o[i]);
        cf_t_input_free(&t[i]);
    }

    /* the same id on another aggregate: not looked up, so written */
    CHECK_INT(cf_t_run(&env, CF_CMD_CREATE_EXECUTION_FAILED, "s2",
                       cf_t_create_body, NULL, -1, CF_T_EXECUTE_AT, &out), 0);
    cf_error_free(&out.err);

    if (CHECK(cf_t_input(&env, CF_CMD_MARK_RECOVERABLE, "s2",
                         "{\"recoverable\":\"RECOVERABLE\"}", "op-1:result",
                         -1, CF_T_EXECUTE_AT + 1, &t[0])
              == 0))
    {
        t[0].in.request_id_scoped = 1;

        CHECK_INT(cf_store_begin_immediate(env.st), 0);
        CHECK_INT(cf_service_execute_grouped(env.st, &env.ids, &t[0].in,
                                             &o[0], NULL), 0);
        CHECK_INT(cf_store_commit(env.st), 0);

        CHECK_STR(o[0].err.code, CF_OK);
        CHECK(o[0].committed);

        cf_exec_output_free(&o[0]);
        cf_t_input_free(&t[0]);
    }

    cf_t_env_close(&env);
}


const cf_test_t  cf_tests_store[] = {
    { "store: create, columns, load", test_store_create_and_load },
    { "store: a notified command keeps the state it stored",
      test_store_want_state },
    { "store: resource tags in the snapshot; a version 1 file is migrated",
      test_store_tags },
    { "store: a file of a newer schema version is refused, left as it was",
      test_store_newer_schema },
    { "store: a failed command writes nothing",
      test_store_failed_command_writes_nothing },
    { "store: a group's commands without savepoints: undone alone or all",
      test_store_group_marks },
    { "store: a scoped request id is refused by the append on its aggregate",
      test_store_scoped_request_id },
    { "store: Command-Request-Id is idempotent",
      test_store_request_id_idempotent },
    { "store: damaged, missing and stale snapshots are rebuilt",
      test_store_repairs_snapshot },
    { "store: a second connection's lock gives RequestTimeout",
      test_store_two_connections },
    { "store: history: replays to a version or time, regeneration, scans",
      test_store_history },
    { "history: the tracing window (limit, head and tail edges)",
      test_tracing_window },
    { "store: mmap_size and temp_store are set on the connection",
      test_store_mmap_size },
    { "store: a held read transaction keeps one snapshot until released",
      test_store_read_hold },
    { "store: checkpoints start the WAL over under constant writes",
      test_store_wal_restart },
    { "store: decisions made before the write lock, kept or made again",
      test_store_prepared },
    { "store: the WAL stays bounded and is truncated under sustained reads",
      test_store_wal_bound_reads },
    { "store: the same without a checkpointer, writers off the event loop",
      test_store_wal_bound_reads_thread },
    { "store: the checkpointer copies the WAL and leaves no guard behind",
      test_store_checkpointer },
    { "store: signals sent to the process skip the checkpointer's thread",
      test_store_checkpointer_signals },
    { "store: a deleted or replaced file or WAL refuses writes, unacked",
      test_store_replaced },
    { "store: unique violations classified by the rows, not SQLite's text",
      test_store_unique_violations },
    { "store: the name selects the backend; no PostgreSQL in this build",
      test_store_backend_select },
    { NULL, NULL }
};
