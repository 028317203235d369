
/*
 * ngx_compensation: the PostgreSQL store's internals, shared by its files
 * (cf_pg_conn.c: connection, statements, transactions; cf_pg_schema.c;
 * cf_pg_store.c: streams and snapshots; cf_pg_dispatch.c: leases).  Only
 * these files include it.
 */


#ifndef _CF_PG_H_INCLUDED_
#define _CF_PG_H_INCLUDED_


#include <libpq-fe.h>

#include "cf_pg_store.h"


/* every prepared statement of a connection: its slot in st->prepared */
typedef enum {
    CF_PG_BEGIN = 0,
    CF_PG_BEGIN_READ,
    CF_PG_COMMIT,
    CF_PG_ROLLBACK,
    CF_PG_SAVEPOINT,
    CF_PG_RELEASE,
    CF_PG_ROLLBACK_TO,
    CF_PG_LOCK_TIMEOUT,
    CF_PG_PING,

    CF_PG_REQUEST_EXISTS,
    CF_PG_LOAD_SNAPSHOT,
    CF_PG_LOAD_SNAPSHOT_LOCKED,
    CF_PG_EACH_STREAM,
    CF_PG_LATEST_VERSION,
    CF_PG_LATEST_VERSION_LOCKED,
    CF_PG_APPEND,
    CF_PG_SAVE_SNAPSHOT,
    CF_PG_READ_SNAPSHOT,
    CF_PG_STATE_TEXT,
    CF_PG_SCAN_IDS,

    CF_PG_DS_EXPIRE,
    CF_PG_DS_PENDING,
    CF_PG_DS_DUE,
    CF_PG_DS_FINISH,
    CF_PG_DS_CANCEL_ASKED,
    CF_PG_DS_HELD,
    CF_PG_DS_EXPIRE_ONE,
    CF_PG_DS_ENQUEUE,
    CF_PG_DS_GET,
    CF_PG_DS_GET_LOCKED,
    CF_PG_DS_LIST,
    CF_PG_DS_CANCEL,

    CF_PG__COUNT
} cf_pg_slot_t;


typedef struct {
    cf_pg_slot_t    slot;
    const char     *name;         /* the prepared statement's name */
    const char     *sql;
    int             nparams;
} cf_pg_stmt_t;


#define CF_PG_END_N  6             /* cf_pg_dispatch.c's ended states */

struct cf_pg_store_s {
    PGconn          *conn;
    unsigned char    prepared[CF_PG__COUNT];
    int              busy_limit_ms;   /* wanted for the next lock waits */
    int              lock_timeout_ms; /* in force in the session; -1: unset */
    int              errcode;
    int              tx_open;         /* a BEGIN of ours is open */
    int              write_tx;        /* it is a write transaction */
    char             sqlstate[6];
    char             constraint[64];  /* of the last error, "" when none */
    char            *secret;          /* the DSN's password: scrubbed */
    cf_buf_t         text[2];         /* JSON texts being sent */
    unsigned         ended[CF_PG_END_N];
    void           (*observer)(const char *state);
    char             target[192];
    char             errmsg[512];
};


/*
 * Runs a prepared statement (preparing it first on this connection when
 * needed) with text parameters (lengths NULL: NUL-terminated) and text
 * results.  The result when its status is PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK (PQclear it), else NULL with the error set (what names
 * the operation).  Outside a transaction, a lost connection is reset and
 * the statement runs once more.
 */
PGresult *cf_pg_exec(cf_pg_store_t *st, const cf_pg_stmt_t *stmt,
    const char *const *values, const int *lengths, const char *what);
/* cf_pg_exec for statements without rows: 0 or -1; *changed (when not
 * NULL) the rows the statement touched */
int cf_pg_run(cf_pg_store_t *st, const cf_pg_stmt_t *stmt,
    const char *const *values, const int *lengths, const char *what,
    int64_t *changed);

/* the result code of the last error: CF_STORE_BUSY for a lock timeout, a
 * deadlock or a serialization failure, else -1 */
int cf_pg_last_rc(cf_pg_store_t *st);
void cf_pg_set_error(cf_pg_store_t *st, const char *fmt, ...)
    CF_PRINTF(2, 3);

/* a column's index by name (-1 when absent) and its value ("" for NULL) */
int cf_pg_col(const PGresult *res, const char *name);
const char *cf_pg_text(const PGresult *res, int row, int col);
int64_t cf_pg_int(const PGresult *res, int row, int col);

/* writes v into buf (at least 24 bytes) and returns buf */
const char *cf_pg_i64(char *buf, int64_t v);

/* creates or migrates the schema in a transaction of its own (open) */
int cf_pg_schema(cf_pg_store_t *st);


#endif /* _CF_PG_H_INCLUDED_ */
