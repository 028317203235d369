
/*
 * ngx_compensation: WAL checkpoints whose syncs do not block the writers
 * (see cf_checkpoint.h).
 */


#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cf_checkpoint.h"


struct cf_checkpointer_s {
    pthread_t         thread;
    pthread_mutex_t   mutex;
    pthread_cond_t    cond;
    int               wanted;       /* a checkpoint was asked for */
    int               stopping;
    int               unsynced;     /* 4 failed: the guard is still held */
    long              runs;
    long              truncates;    /* TRUNCATE checkpoints that worked */
    int               bound;        /* WAL frames: TRUNCATE from here */
    int               wal_frames;   /* in the WAL after the last run */
    int               idle_pending; /* a run since the last idle truncate */
    sqlite3          *guard;        /* holds the WAL during a checkpoint */
    sqlite3          *copy;         /* synchronous=OFF: copies only */
};


static void *cf_checkpointer_main(void *data);
static void cf_checkpointer_run(cf_checkpointer_t *ck);
static int cf_checkpointer_sync(sqlite3 *db, int which);
static void cf_checkpointer_free(cf_checkpointer_t *ck);
static int cf_checkpointer_truncate(cf_checkpointer_t *ck, int wait_ms);


/*
 * How long a TRUNCATE checkpoint waits for the readers that still see the
 * frames it must drop: readers hold a snapshot for one event-loop iteration
 * or one query, and those that start meanwhile read the database file alone
 * (the WAL is all copied), so the wait ends once the older ones are gone.
 * Writers wait behind it for as long (their busy timeout covers it).
 */
#define CF_CHECKPOINT_TRUNCATE_WAIT_MS  200
/* no wake for this long: the load allows the WAL file to be truncated */
#define CF_CHECKPOINT_IDLE_MS           1000


cf_checkpointer_t *
cf_checkpointer_start(const char *path, char *errbuf, size_t errlen)
{
    int                 rc;
    sigset_t            set, old;
    cf_checkpointer_t  *ck;

    ck = calloc(1, sizeof(cf_checkpointer_t));
    if (ck == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }

    if (sqlite3_open_v2(path, &ck->guard,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL)
        != SQLITE_OK
        || sqlite3_open_v2(path, &ck->copy,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL)
           != SQLITE_OK
        || sqlite3_exec(ck->copy, "PRAGMA synchronous=OFF;", NULL, NULL,
                        NULL)
           != SQLITE_OK)
    {
        snprintf(errbuf, errlen, "opening the checkpointer's connections"
                 " to \"%s\" failed", path);
        cf_checkpointer_free(ck);
        return NULL;
    }

    pthread_mutex_init(&ck->mutex, NULL);
    pthread_cond_init(&ck->cond, NULL);

    /*
     * The thread starts with every signal blocked, as nginx's thread pools
     * do: a signal meant for the process (SIGQUIT, SIGHUP, ...) must reach
     * the thread whose epoll_wait() it interrupts; caught here, its flag
     * waits for the next event or timer.  Faults stay deliverable.
     */
    sigfillset(&set);
    sigdelset(&set, SIGILL);
    sigdelset(&set, SIGFPE);
    sigdelset(&set, SIGSEGV);
    sigdelset(&set, SIGBUS);

    pthread_sigmask(SIG_SETMASK, &set, &old);
    rc = pthread_create(&ck->thread, NULL, cf_checkpointer_main, ck);
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (rc != 0) {
        snprintf(errbuf, errlen, "pthread_create() failed: %s",
                 strerror(rc));
        pthread_cond_destroy(&ck->cond);
        pthread_mutex_destroy(&ck->mutex);
        cf_checkpointer_free(ck);
        return NULL;
    }

    return ck;
}


void
cf_checkpointer_wake(cf_checkpointer_t *ck)
{
    pthread_mutex_lock(&ck->mutex);
    ck->wanted = 1;
    pthread_cond_signal(&ck->cond);
    pthread_mutex_unlock(&ck->mutex);
}


void
cf_checkpointer_stop(cf_checkpointer_t *ck)
{
    if (ck == NULL) {
        return;
    }

    pthread_mutex_lock(&ck->mutex);
    ck->stopping = 1;
    pthread_cond_signal(&ck->cond);
    pthread_mutex_unlock(&ck->mutex);

    pthread_join(ck->thread, NULL);

    if (ck->unsynced) {
        (void) cf_checkpointer_sync(ck->copy, SQLITE_FCNTL_FILE_POINTER);
    }

    pthread_cond_destroy(&ck->cond);
    pthread_mutex_destroy(&ck->mutex);
    cf_checkpointer_free(ck);
}


void
cf_checkpointer_set_bound(cf_checkpointer_t *ck, int frames)
{
    pthread_mutex_lock(&ck->mutex);
    ck->bound = frames;
    pthread_mutex_unlock(&ck->mutex);
}


long
cf_checkpointer_truncates(cf_checkpointer_t *ck)
{
    long  n;

    pthread_mutex_lock(&ck->mutex);
    n = ck->truncates;
    pthread_mutex_unlock(&ck->mutex);

    return n;
}


long
cf_checkpointer_runs(cf_checkpointer_t *ck)
{
    long  runs;

    pthread_mutex_lock(&ck->mutex);
    runs = ck->runs;
    pthread_mutex_unlock(&ck->mutex);

    return runs;
}


static void *
cf_checkpointer_main(void *data)
{
    int                 idle;
    struct timespec     ts;
    cf_checkpointer_t  *ck = data;

    for ( ;; ) {
        pthread_mutex_lock(&ck->mutex);

        idle = 0;

        while (!ck->wanted && !ck->stopping) {

            if (!ck->idle_pending || ck->unsynced) {
                pthread_cond_wait(&ck->cond, &ck->mutex);
                continue;
            }

            /*
             * commits came since the last truncate (the last ones may not
             * have woken us): truncate the WAL once they pause
             */
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += CF_CHECKPOINT_IDLE_MS / 1000;

            if (pthread_cond_timedwait(&ck->cond, &ck->mutex, &ts)
                == ETIMEDOUT
                && !ck->wanted && !ck->stopping)
            {
                idle = 1;
                break;
            }
        }

        if (ck->stopping) {
            pthread_mutex_unlock(&ck->mutex);
            return NULL;
        }

        ck->wanted = 0;
        pthread_mutex_unlock(&ck->mutex);

        if (idle) {
            /* tried once per pause: a reader that stays is not waited for */
            (void) cf_checkpointer_truncate(ck, CF_CHECKPOINT_TRUNCATE_WAIT_MS);
            ck->idle_pending = 0;
            continue;
        }

        cf_checkpointer_run(ck);
        ck->idle_pending = 1;

        pthread_mutex_lock(&ck->mutex);
        ck->runs++;
        pthread_mutex_unlock(&ck->mutex);
    }
}


/*
 * The five steps of cf_checkpoint.h.  If the database file's sync fails, the
 * guard is kept (the WAL cannot start over on pages that may not be on
 * disk) and the next run tries that sync again before anything else.
 */
static void
cf_checkpointer_run(cf_checkpointer_t *ck)
{
    int  log, backfilled, bound;

    if (ck->unsynced) {
        if (cf_checkpointer_sync(ck->copy, SQLITE_FCNTL_FILE_POINTER) != 0) {
            return;
        }

        ck->unsynced = 0;
        (void) sqlite3_exec(ck->guard, "COMMIT;", NULL, NULL, NULL);
    }

    /* 1: a read transaction, which takes a read mark */
    if (sqlite3_exec(ck->guard, "BEGIN; SELECT count(*) FROM sqlite_master;",
                     NULL, NULL, NULL)
        != SQLITE_OK)
    {
        goto done;
    }

    /* 2: the guard's read transaction has the WAL open */
    if (cf_checkpointer_sync(ck->guard, SQLITE_FCNTL_JOURNAL_POINTER) != 0) {
        goto done;
    }

    /* 3: never waits; copies up to the frames every reader can see */
    log = -1;
    backfilled = -1;

    (void) sqlite3_wal_checkpoint_v2(ck->copy, NULL,
                                     SQLITE_CHECKPOINT_PASSIVE, &log,
                                     &backfilled);

    if (log > 0) {
        ck->wal_frames = log;
    }

    /* 4 */
    if (cf_checkpointer_sync(ck->copy, SQLITE_FCNTL_FILE_POINTER) != 0) {
        ck->unsynced = 1;
        return;
    }

done:

    /* 5 */
    if (!sqlite3_get_autocommit(ck->guard)) {
        (void) sqlite3_exec(ck->guard, "COMMIT;", NULL, NULL, NULL);
    }

    /*
     * 6: past the bound, start the WAL over now.  The writers try that
     * too (cf_store_wal_restart), but never wait: under a sustained read
     * load, readers of several workers overlap, one of them always holds
     * a snapshot older than the last commit, and the WAL grew past the
     * bound for as long as the reads went on (82-84 MB for a 64 MB bound)
     */
    pthread_mutex_lock(&ck->mutex);
    bound = ck->bound;
    pthread_mutex_unlock(&ck->mutex);

    if (bound > 0 && ck->wal_frames >= bound) {
        (void) cf_checkpointer_truncate(ck, CF_CHECKPOINT_TRUNCATE_WAIT_MS);
    }
}


/*
 * A TRUNCATE checkpoint on the guard connection, whose syncs are SQLite's
 * (synchronous=FULL): it copies what is left, syncs the database file, and
 * only then empties the WAL file.  It waits at most wait_ms for the write
 * lock and for the readers that still use the WAL.  0, or -1: not now.
 */
static int
cf_checkpointer_truncate(cf_checkpointer_t *ck, int wait_ms)
{
    int  rc, log, backfilled;

    if (ck->unsynced) {
        return -1;
    }

    sqlite3_busy_timeout(ck->guard, wait_ms);

    rc = sqlite3_wal_checkpoint_v2(ck->guard, NULL,
                                   SQLITE_CHECKPOINT_TRUNCATE, &log,
                                   &backfilled);

    sqlite3_busy_timeout(ck->guard, 0);

    if (rc != SQLITE_OK) {
        return -1;
    }

    ck->wal_frames = 0;

    pthread_mutex_lock(&ck->mutex);
    ck->truncates++;
    pthread_mutex_unlock(&ck->mutex);

    return 0;
}


/*
 * Syncs the database file (SQLITE_FCNTL_FILE_POINTER) or the WAL
 * (SQLITE_FCNTL_JOURNAL_POINTER) of a connection through its VFS file: no
 * descriptor of our own, whose close() would drop the process's POSIX locks
 * on the file (the unix VFS defers its own closes for that reason).
 */
static int
cf_checkpointer_sync(sqlite3 *db, int which)
{
    sqlite3_file  *f;

    f = NULL;

    if (sqlite3_file_control(db, "main", which, &f) != SQLITE_OK
        || f == NULL || f->pMethods == NULL)
    {
        return -1;
    }

    return f->pMethods->xSync(f, SQLITE_SYNC_NORMAL) == SQLITE_OK ? 0 : -1;
}


static void
cf_checkpointer_free(cf_checkpointer_t *ck)
{
    sqlite3_close(ck->guard);
    sqlite3_close(ck->copy);

    free(ck);
}
