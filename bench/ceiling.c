
/*
 * ngx_compensation benchmark: the durable-write ceiling (issue 7).
 *
 * Does the SQLite work of one create_execution_failed and nothing else, in a
 * loop: per transaction BEGIN IMMEDIATE, one event_stream insert, one
 * snapshot upsert (which fires the snapshot_count trigger and updates every
 * query index), COMMIT.  Same statements, same pragmas (WAL,
 * synchronous=NORMAL, temp_store=MEMORY), the same busy-handler and
 * checkpoint policies as src/cf_sqlite_store.c, against
 * a store whose schema the module itself created (start nginx with
 * compensation_store on the file once).  The JSON texts are the sizes the
 * module writes for a create.
 *
 *   ceiling [-p processes] [-d seconds] [-g group] [-s full] [-b default]
 *           [-c sqlite] store.db
 *
 * -p: processes writing concurrently (the module runs one per worker);
 * -b default: SQLite's own busy handler (sqlite3_busy_timeout, sleeps of
 *     1, 2, 5 ... 100 ms) instead of the module's (20 us growing to 1 ms);
 * -c sqlite: SQLite's auto-checkpoint instead of the module's checkpoint
 *     policy (see wal_hook below);
 * -g: transactions grouped per COMMIT (1 = one per command, the ceiling of
 *     a store that commits each command; >1 models group commit with a
 *     SAVEPOINT per command).
 * Prints "CEILING <tx/s> <p50 us> <p99 us>" (per command, summed over
 * processes; latency of one transaction, or one group).
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <sqlite3.h>


#define MAX_SAMPLES  (1 << 20)


static const char  sql_append[] =
    "INSERT INTO event_stream (id, aggregate_id, tenant_id, owner_id,"
    " version, request_id, command_id, header, body, size, create_time)"
    " VALUES (?1, ?2, '(0)', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

static const char  sql_snapshot[] =
    "INSERT INTO snapshot (aggregate_id, tenant_id, owner_id, version,"
    " event_id, first_operator, operator, first_event_time, event_time,"
    " snapshot_time, deleted, state, status, recoverable, is_retryable,"
    " is_below_retry_threshold, retries, next_retry_at, timeout_at)"
    " VALUES (?1, '(0)', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
    " ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
    " ON CONFLICT (aggregate_id) DO UPDATE SET"
    " owner_id = excluded.owner_id, version = excluded.version,"
    " event_id = excluded.event_id, first_operator = excluded.first_operator,"
    " operator = excluded.operator,"
    " first_event_time = excluded.first_event_time,"
    " event_time = excluded.event_time,"
    " snapshot_time = excluded.snapshot_time, deleted = excluded.deleted,"
    " state = excluded.state, status = excluded.status,"
    " recoverable = excluded.recoverable,"
    " is_retryable = excluded.is_retryable,"
    " is_below_retry_threshold = excluded.is_below_retry_threshold,"
    " retries = excluded.retries, next_retry_at = excluded.next_retry_at,"
    " timeout_at = excluded.timeout_at";

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


static struct timespec  busy_start;
static int              busy_limit_ms = 1000;
static int              busy_default;


/* the policy of cf_store_busy() in src/cf_sqlite_store.c */
static int
busy(void *data, int count)
{
    long             elapsed_ms, step_us;
    struct timespec  now;

    (void) data;

    clock_gettime(CLOCK_MONOTONIC, &now);

    if (count == 0) {
        busy_start = now;

    } else {
        elapsed_ms = (now.tv_sec - busy_start.tv_sec) * 1000
                     + (now.tv_nsec - busy_start.tv_nsec) / 1000000;
        if (elapsed_ms >= busy_limit_ms) {
            return 0;
        }
    }

    step_us = 20L << (count < 6 ? count : 6);
    usleep(step_us < 1000 ? step_us : 1000);

    return 1;
}


/*
 * The checkpoint policy of cf_store_wal_hook() and cf_store_wal_restart() in
 * src/cf_sqlite_store.c (-c sqlite: SQLite's own auto-checkpoint instead): PASSIVE
 * every 256 frames added since the last backfill seen, and once the WAL
 * holds 16,384 frames a RESTART that never waits, before the next BEGIN.
 */
static int  wal_sqlite;
static int  wal_frames, wal_backfilled, wal_restart;


static int
wal_hook(void *data, sqlite3 *db, const char *name, int frames)
{
    int  log, backfilled;

    (void) data;

    if (frames < wal_frames || frames < wal_backfilled) {
        wal_backfilled = 0;
    }

    wal_frames = frames;
    wal_restart = frames >= 16384;

    if (frames - wal_backfilled < 256) {
        return SQLITE_OK;
    }

    if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log,
                                  &backfilled)
        == SQLITE_OK && backfilled >= 0)
    {
        wal_backfilled = backfilled;

    } else {
        wal_backfilled = frames;
    }

    return SQLITE_OK;
}


static void
wal_restart_now(sqlite3 *db)
{
    int  log, backfilled, limit;

    limit = busy_limit_ms;
    busy_limit_ms = 0;
    backfilled = -1;

    if (sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_RESTART, &log,
                                  &backfilled)
        == SQLITE_OK)
    {
        wal_restart = 0;
    }

    if (backfilled > wal_backfilled) {
        wal_backfilled = backfilled;
    }

    busy_limit_ms = limit;
}


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


static int
step(sqlite3 *db, sqlite3_stmt *s, const char *what)
{
    int  rc;

    rc = sqlite3_step(s);
    sqlite3_reset(s);

    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        return -1;
    }

    return 0;
}


static int
worker(const char *path, int proc, double seconds, int group, int full,
    int64_t *count, int64_t *lat, int64_t *nlat)
{
    int            i, g;
    char           id[64], ev[64], req[64], pragma[96];
    int64_t        t0, t1, end, n, ms;
    sqlite3       *db;
    sqlite3_stmt  *begin, *commit, *sp, *rel, *app, *snap;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL)
        != SQLITE_OK)
    {
        fprintf(stderr, "open %s: %s\n", path, sqlite3_errmsg(db));
        return -1;
    }

    if (busy_default) {
        sqlite3_busy_timeout(db, busy_limit_ms);

    } else {
        sqlite3_busy_handler(db, busy, NULL);
    }

    if (!wal_sqlite) {
        sqlite3_wal_hook(db, wal_hook, NULL);
    }

    snprintf(pragma, sizeof(pragma),
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;"
             " PRAGMA temp_store=MEMORY;", full ? "FULL" : "NORMAL");

    /* as the module: the two processes race on the pragmas at start */
    for (i = 0; i < 200; i++) {
        if (sqlite3_exec(db, pragma, NULL, NULL, NULL) == SQLITE_OK) {
            break;
        }
        usleep(10000);
    }

    if (i == 200
        || sqlite3_prepare_v3(db, "BEGIN IMMEDIATE", -1,
                              SQLITE_PREPARE_PERSISTENT, &begin, NULL)
        || sqlite3_prepare_v3(db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT,
                              &commit, NULL)
        || sqlite3_prepare_v3(db, "SAVEPOINT c", -1,
                              SQLITE_PREPARE_PERSISTENT, &sp, NULL)
        || sqlite3_prepare_v3(db, "RELEASE c", -1, SQLITE_PREPARE_PERSISTENT,
                              &rel, NULL)
        || sqlite3_prepare_v3(db, sql_append, -1, SQLITE_PREPARE_PERSISTENT,
                              &app, NULL)
        || sqlite3_prepare_v3(db, sql_snapshot, -1,
                              SQLITE_PREPARE_PERSISTENT, &snap, NULL))
    {
        fprintf(stderr, "prepare: %s\n", sqlite3_errmsg(db));
        return -1;
    }

    n = 0;
    *nlat = 0;
    end = now_us() + (int64_t) (seconds * 1e6);

    while ((t0 = now_us()) < end) {

        if (wal_restart) {
            wal_restart_now(db);
        }

        if (step(db, begin, "begin") != 0) {
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

            if (group > 1 && step(db, sp, "savepoint") != 0) {
                return -1;
            }

            sqlite3_bind_text(app, 1, ev, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(app, 2, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(app, 3, "", -1, SQLITE_STATIC);
            sqlite3_bind_int64(app, 4, 1);
            sqlite3_bind_text(app, 5, req, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(app, 6, req, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(app, 7, header_json, -1, SQLITE_STATIC);
            sqlite3_bind_text(app, 8, body_json, -1, SQLITE_STATIC);
            sqlite3_bind_int64(app, 9, 1);
            sqlite3_bind_int64(app, 10, ms);

            if (step(db, app, "append") != 0) {
                return -1;
            }

            sqlite3_bind_text(snap, 1, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(snap, 2, "", -1, SQLITE_STATIC);
            sqlite3_bind_int64(snap, 3, 1);
            sqlite3_bind_text(snap, 4, ev, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(snap, 5, "", -1, SQLITE_STATIC);
            sqlite3_bind_text(snap, 6, "", -1, SQLITE_STATIC);
            sqlite3_bind_int64(snap, 7, ms);
            sqlite3_bind_int64(snap, 8, ms);
            sqlite3_bind_int64(snap, 9, ms);
            sqlite3_bind_int(snap, 10, 0);
            sqlite3_bind_text(snap, 11, state_json, -1, SQLITE_STATIC);
            sqlite3_bind_text(snap, 12, "FAILED", -1, SQLITE_STATIC);
            sqlite3_bind_text(snap, 13, "UNKNOWN", -1, SQLITE_STATIC);
            sqlite3_bind_int(snap, 14, 1);
            sqlite3_bind_int(snap, 15, 1);
            sqlite3_bind_int64(snap, 16, 0);
            sqlite3_bind_int64(snap, 17, ms + 180000);
            sqlite3_bind_int64(snap, 18, ms + 120000);

            if (step(db, snap, "snapshot") != 0) {
                return -1;
            }

            if (group > 1 && step(db, rel, "release") != 0) {
                return -1;
            }
        }

        if (step(db, commit, "commit") != 0) {
            return -1;
        }

        t1 = now_us();

        if (*nlat < MAX_SAMPLES) {
            lat[(*nlat)++] = t1 - t0;
        }
    }

    *count = n;

    for (i = 0; i < 1; i++) {
        sqlite3_finalize(begin);
        sqlite3_finalize(commit);
        sqlite3_finalize(sp);
        sqlite3_finalize(rel);
        sqlite3_finalize(app);
        sqlite3_finalize(snap);
    }

    sqlite3_close(db);

    return 0;
}


int
main(int argc, char **argv)
{
    int       c, procs, group, full, p, status, failed;
    double    seconds;
    int64_t  *shared, *lat, total, nlat, k;
    pid_t     pid;
    size_t    size;

    procs = 1;
    group = 1;
    full = 0;
    seconds = 5;

    while ((c = getopt(argc, argv, "p:d:g:s:b:c:")) != -1) {
        switch (c) {
        case 'b': busy_default = strcmp(optarg, "default") == 0; break;
        case 'c': wal_sqlite = strcmp(optarg, "sqlite") == 0; break;
        case 'p': procs = atoi(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'g': group = atoi(optarg); break;
        case 's': full = strcmp(optarg, "full") == 0; break;
        default:
            fprintf(stderr, "usage: ceiling [-p procs] [-d seconds] [-g group]"
                    " [-s normal|full] [-b default] [-c sqlite] store.db\n");
            return 2;
        }
    }

    if (optind >= argc || procs < 1 || procs > 16 || group < 1) {
        fprintf(stderr, "usage: ceiling [-p procs] [-d seconds] [-g group]"
                " [-s normal|full] [-b default] [-c sqlite] store.db\n");
        return 2;
    }

    /* per process: count, nlat, MAX_SAMPLES latencies */
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
            _exit(worker(argv[optind], p, seconds, group, full, &me[0],
                         &me[2], &me[1]) == 0 ? 0 : 1);
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
           nlat ? (long long) lat[nlat / 2] : 0LL,
           nlat ? (long long) lat[(nlat * 99) / 100] : 0LL);

    return 0;
}
