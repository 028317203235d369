
/*
 * ngx_compensation: the PostgreSQL store (docs/postgresql.md).
 *
 * The same operations and answers as the SQLite store (cf_store.h), over
 * one libpq connection per process, used by one thread at a time: the
 * calls block on the network, so they never run on an event loop.  Plain
 * C, no nginx headers.  Every statement is parameterised and prepared once
 * per connection (on first use, again after a reconnect).
 *
 * Differences a caller sees:
 *   - a write transaction takes no lock at BEGIN; the row and unique-index
 *     locks it meets later wait at most the busy timeout (lock_timeout)
 *     and then fail with CF_STORE_BUSY.  Inside a write transaction,
 *     cf_pg_store_load and cf_pg_store_latest_version first take the
 *     aggregate's transaction-scoped advisory lock, so that two commands
 *     on one aggregate run one after the other, as under SQLite's write
 *     lock, instead of failing with a version conflict;
 *   - an error inside a transaction aborts it (PostgreSQL): after any
 *     failure but a savepoint's, only a rollback is left;
 *   - a lost connection fails the call (errcode: SQLITE_CANTOPEN, the
 *     health logic's "store unreachable"); the next call reconnects.  A
 *     BEGIN or a read outside a transaction that finds the connection
 *     lost reconnects and runs again once (nothing was done yet);
 *   - a COMMIT that fails, that the server turns into a ROLLBACK (the
 *     transaction had failed), or whose answer is lost with the connection
 *     returns -1: never reported as done.
 */


#ifndef _CF_PG_STORE_H_INCLUDED_
#define _CF_PG_STORE_H_INCLUDED_


#include "cf_store.h"
#include "cf_dispatch.h"
#include "cf_dsn.h"           /* cf_dsn_is_postgresql */


#define CF_PG_SCHEMA_VERSION  1


typedef struct cf_pg_store_s  cf_pg_store_t;


/*
 * Connects, checks the server (UTF8 database), creates or migrates the
 * schema under a transaction-scoped advisory lock (several nginx starting
 * at once).  Uses opts->busy_timeout_ms only.  NULL with errbuf set on
 * failure; errbuf never holds the password.
 */
cf_pg_store_t *cf_pg_store_open(const char *dsn,
    const cf_store_options_t *opts, char *errbuf, size_t errlen);
void cf_pg_store_close(cf_pg_store_t *st);
const char *cf_pg_store_errmsg(cf_pg_store_t *st);
/* SQLite result codes for the health logic: 0 after a commit worked,
 * SQLITE_CANTOPEN (unreachable), SQLITE_FULL (SQLSTATE class 53),
 * SQLITE_READONLY (a read-only server: a standby), else SQLITE_ERROR */
int cf_pg_store_errcode(cf_pg_store_t *st);
/* the SQLSTATE of the last error ("" when none) */
const char *cf_pg_store_sqlstate(cf_pg_store_t *st);
/* the connection's description for logs: user@host:port/db, no password */
const char *cf_pg_store_target(cf_pg_store_t *st);
/* the server process of the connection (logs, pg_stat_activity) */
int cf_pg_store_backend_pid(cf_pg_store_t *st);

void cf_pg_store_set_busy_timeout(cf_pg_store_t *st, int ms);

int cf_pg_store_begin_immediate(cf_pg_store_t *st);
int cf_pg_store_commit(cf_pg_store_t *st);
void cf_pg_store_rollback(cf_pg_store_t *st);
int cf_pg_store_savepoint(cf_pg_store_t *st);
int cf_pg_store_release(cf_pg_store_t *st);
int cf_pg_store_rollback_to(cf_pg_store_t *st);
int cf_pg_store_in_transaction(cf_pg_store_t *st);
int cf_pg_store_read_hold(cf_pg_store_t *st);
void cf_pg_store_read_release(cf_pg_store_t *st);

int cf_pg_store_request_id_exists(cf_pg_store_t *st, const char *request_id);
int cf_pg_store_load(cf_pg_store_t *st, cf_aggregate_t *agg,
    cf_error_t *err);
int cf_pg_store_load_upto(cf_pg_store_t *st, cf_aggregate_t *agg,
    int64_t tail_version, int64_t max_time, cf_error_t *err);
int cf_pg_store_each_stream(cf_pg_store_t *st, const char *aggregate_id,
    int64_t head, int64_t tail, cf_stream_cb_pt cb, void *data,
    cf_error_t *err);
int cf_pg_store_latest_version(cf_pg_store_t *st, const char *aggregate_id,
    int64_t *version, cf_error_t *err);
int cf_pg_store_append(cf_pg_store_t *st, const cf_stream_row_t *row);
int cf_pg_store_save_snapshot(cf_pg_store_t *st, const cf_aggregate_t *agg,
    int64_t snapshot_time);
int cf_pg_store_read_snapshot(cf_pg_store_t *st, const char *aggregate_id,
    cf_snapshot_row_t *row);
int cf_pg_store_state_text(cf_pg_store_t *st, const char *aggregate_id,
    void *(*alloc)(void *data, size_t size), void *data, char **text,
    size_t *len);
int cf_pg_store_regenerate_snapshot(cf_pg_store_t *st,
    const char *aggregate_id, int64_t now, cf_error_t *err);
int cf_pg_store_scan_ids(cf_pg_store_t *st, const char *after_id,
    int64_t limit, char ***ids, size_t *n);
int cf_pg_store_ping(cf_pg_store_t *st);


/*
 * Dispatch operations and leases (cf_dispatch.h) on the same connection.
 * Claims lock the due snapshot rows with FOR UPDATE SKIP LOCKED, and a
 * partial unique index allows one active (Pending, Running, RollingBack)
 * operation per execution: any number of nginx share the due executions,
 * each claimed once.  owner must tell the nodes apart (the machine id with
 * the pid, for example): nothing here reads it but cf_operation_t.
 */
int cf_pg_dispatch_claim(cf_pg_store_t *st, int64_t now, int64_t lease_ms,
    int64_t owner, int limit, cf_claim_t **claims, size_t *n);
int cf_pg_dispatch_claim_in(cf_pg_store_t *st, int64_t now,
    int64_t lease_ms, int64_t owner, int limit, cf_claim_t **claims,
    size_t *n);
int cf_pg_dispatch_finish_in(cf_pg_store_t *st, int64_t job_id,
    const char *state, const char *result, int64_t now);
int cf_pg_dispatch_finish(cf_pg_store_t *st, int64_t job_id,
    const char *state, const char *result, int64_t now);
/* the ended operations of the last transaction go to the observer (given
 * to cf_pg_dispatch_set_observer) when it committed */
void cf_pg_dispatch_end_transaction(cf_pg_store_t *st, int committed);
void cf_pg_dispatch_set_observer(cf_pg_store_t *st,
    void (*observer)(const char *state));
int cf_pg_dispatch_cancel_asked_in(cf_pg_store_t *st, int64_t job_id);
int cf_pg_dispatch_held_in(cf_pg_store_t *st, int64_t job_id, int64_t now);
int cf_pg_dispatch_enqueue(cf_pg_store_t *st, const char *execution_id,
    int64_t now, int64_t *job_id, char op_id[CF_UUID_LEN + 1]);
int cf_pg_dispatch_get(cf_pg_store_t *st, const char *op_id,
    cf_operation_t *op);
int cf_pg_dispatch_list(cf_pg_store_t *st, const char *execution_id,
    int limit, cf_operation_t **ops, size_t *n);
int cf_pg_dispatch_cancel(cf_pg_store_t *st, const char *op_id, int force,
    int64_t now, char state[16]);


#endif /* _CF_PG_STORE_H_INCLUDED_ */
