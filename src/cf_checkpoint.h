
/*
 * ngx_compensation: WAL checkpoints whose syncs do not block the writers.
 *
 * SQLite's checkpoint syncs the WAL and the database file inside the call,
 * and on a large store the database file's fdatasync() takes 8-32 ms
 * (docs/benchmarks.md): run by a committing worker, it stalls its event
 * loop; run in another thread with SQLite's syncs, it holds the checkpoint
 * and read-mark locks meanwhile and stalls the writers.  A checkpointer is
 * a thread with two connections of its own that, when woken, does:
 *   1. a read transaction on the guard connection: SQLite starts the WAL
 *      over only when no reader holds a read mark above 0, so from here on
 *      the WAL keeps every frame it has;
 *   2. a sync (fdatasync()) of the WAL: the frames the guard sees are
 *      durable;
 *   3. a PASSIVE checkpoint on a connection with synchronous=OFF: it copies
 *      those frames into the database file and syncs nothing;
 *   4. a sync of the database file;
 *   5. the end of the guard's transaction;
 *   6. when the WAL holds the bound's frames or more, a TRUNCATE checkpoint
 *      with SQLite's own syncs that waits up to 200 ms for older readers;
 *      and once no wake came for a second after a run, the same to
 *      truncate the WAL file while the load allows it.
 * Until 4 is done the copied pages may not be on disk, but their frames are
 * (2) and stay in the WAL (1): after a power loss, recovery indexes them
 * again and the next checkpoint copies them again.  Plain C and pthreads,
 * no nginx.
 */


#ifndef _CF_CHECKPOINT_H_INCLUDED_
#define _CF_CHECKPOINT_H_INCLUDED_


#include <stddef.h>


typedef struct cf_checkpointer_s  cf_checkpointer_t;


/*
 * path: an existing store in WAL mode.  The syncs go through the
 * checkpointer's own connections' VFS files (no descriptor of its own), so
 * it can be started and stopped at any time around the process's other
 * connections.
 */
cf_checkpointer_t *cf_checkpointer_start(const char *path, char *errbuf,
    size_t errlen);
/* asks for a checkpoint (any thread); requests while one runs merge */
void cf_checkpointer_wake(cf_checkpointer_t *ck);
/* waits for the running checkpoint, joins the thread, frees */
void cf_checkpointer_stop(cf_checkpointer_t *ck);
/* checkpoints done so far (tests) */
long cf_checkpointer_runs(cf_checkpointer_t *ck);
/*
 * The WAL bound, in frames (0: none): a run that leaves at least that many
 * frames in the WAL then starts it over with a TRUNCATE checkpoint, which
 * waits briefly for the readers that still use the WAL (step 6 below).
 */
void cf_checkpointer_set_bound(cf_checkpointer_t *ck, int frames);
/* TRUNCATE checkpoints that succeeded (tests) */
long cf_checkpointer_truncates(cf_checkpointer_t *ck);


#endif /* _CF_CHECKPOINT_H_INCLUDED_ */
