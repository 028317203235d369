
/*
 * ngx_compensation: the PostgreSQL store (docs/postgresql.md).
 *
 * The PostgreSQL backend of the store interface (cf_store_backend.h:
 * cf_pg_store_backend): cf_store_open opens it for a postgresql:// or
 * postgres:// URI or a libpq keyword string, and every cf_store_*,
 * cf_dispatch_* operation then runs on one libpq connection per process,
 * used by one thread at a time.  The calls block on the network: they
 * never run on an event loop.  Plain C, no nginx headers.  Every
 * statement is parameterised and prepared once per connection (on first
 * use, again after a reconnect).
 *
 * Differences a caller sees (docs/postgresql.md):
 *   - a write transaction takes no lock at BEGIN; inside one, cf_store_load
 *     and cf_store_latest_version lock the aggregate's snapshot row first,
 *     so that two commands on one aggregate run one after the other, as
 *     under SQLite's write lock; lock waits end after the busy timeout
 *     (lock_timeout) with CF_STORE_BUSY;
 *   - an error inside a transaction aborts it (PostgreSQL): after any
 *     failure but a savepoint's, only a rollback is left;
 *   - a lost connection fails the call (cf_store_errcode: CF_STORE_FAULT
 *     set); the next call reconnects.  A BEGIN or a read outside a
 *     transaction that finds the connection lost reconnects and runs again
 *     once (nothing was done yet);
 *   - a COMMIT that fails, that the server turns into a ROLLBACK (the
 *     transaction had failed), or whose answer is lost with the connection
 *     returns -1: never reported as done;
 *   - the metrics' counts and the compiled queries are not there yet: they
 *     fail with a message saying so.
 */


#ifndef _CF_PG_STORE_H_INCLUDED_
#define _CF_PG_STORE_H_INCLUDED_


#include "cf_store.h"


#define CF_PG_SCHEMA_VERSION  3


/*
 * What a DSN names, for logs, without connecting and without its password:
 * "user@host:port/dbname" (a part the DSN leaves to libpq's defaults is
 * empty), or "(an invalid connection string)".  Always NUL-terminated.
 */
void cf_pg_dsn_target(const char *dsn, char *buf, size_t len);

/*
 * 1 when a cf_store_errcode() code of a PostgreSQL store says the server
 * was unreachable (a connection lost or refused), which a working ping
 * ends; 0 for the other faults (out of resources, a read-only server),
 * which only a working write ends
 */
int cf_pg_store_code_unreachable(int code);

/* for a store cf_store_open opened on PostgreSQL only: */

/* the SQLSTATE of the last error ("" when none) */
const char *cf_pg_store_sqlstate(cf_store_t *st);
/* forgets the last error: a connection that never commits (the reads')
 * tells then whether the failure of its next call was the server's */
void cf_pg_store_clear_error(cf_store_t *st);
/* the connection's description for logs: user@host:port/db, no password */
const char *cf_pg_store_target(cf_store_t *st);
/* the server process of the connection (logs, pg_stat_activity) */
int cf_pg_store_backend_pid(cf_store_t *st);


#endif /* _CF_PG_STORE_H_INCLUDED_ */
