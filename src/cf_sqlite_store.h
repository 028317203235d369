
/*
 * ngx_compensation: the SQLite backend's own header (cf_sqlite_*.c and the
 * tests; nothing else includes <sqlite3.h>).  The backend's functions for
 * the table in cf_sqlite_store.c, each with the signature of the interface
 * function it implements (cf_store_backend.h).
 */


#ifndef _CF_SQLITE_STORE_H_INCLUDED_
#define _CF_SQLITE_STORE_H_INCLUDED_


#include <sqlite3.h>
#include "cf_store_backend.h"


typedef struct cf_sqlite_store_s  cf_sqlite_store_t;


/* the connection of a store the SQLite backend opened: its dispatch,
 * metrics and query statements, and the tests' hooks */
sqlite3 *cf_sqlite_store_db(cf_store_t *st);
/* the connection's last error as the store's (cf_store_errmsg) */
void cf_sqlite_store_db_error(cf_store_t *st);


/* cf_sqlite_dispatch.c */
int cf_sqlite_dispatch_schema(cf_store_t *st, char *errbuf, size_t errlen);
int cf_sqlite_dispatch_claim(cf_store_t *st, int64_t now, int64_t lease_ms,
    int64_t owner, int limit, cf_claim_t **claims, size_t *n);
int cf_sqlite_dispatch_finish(cf_store_t *st, int64_t job_id,
    const char *state, const char *result, int64_t now);
int cf_sqlite_dispatch_enqueue(cf_store_t *st, const char *execution_id,
    int64_t now, int64_t *job_id, char op_id[CF_UUID_LEN + 1]);
int cf_sqlite_dispatch_get(cf_store_t *st, const char *op_id,
    cf_operation_t *op);
int cf_sqlite_dispatch_list(cf_store_t *st, const char *execution_id,
    int limit, cf_operation_t **ops, size_t *n);
int cf_sqlite_dispatch_cancel(cf_store_t *st, const char *op_id, int force,
    int64_t now, char state[16]);
int cf_sqlite_dispatch_cancel_asked(cf_store_t *st, int64_t job_id);
cf_dispatch_t *cf_sqlite_dispatch_open(cf_store_t *st);
void cf_sqlite_dispatch_close(cf_dispatch_t *d);
int cf_sqlite_dispatch_claim_in(cf_dispatch_t *d, int64_t now,
    int64_t lease_ms, int64_t owner, int limit, cf_claim_t **claims,
    size_t *n);
int cf_sqlite_dispatch_finish_in(cf_dispatch_t *d, int64_t job_id,
    const char *state, const char *result, int64_t now);
int cf_sqlite_dispatch_cancel_asked_in(cf_dispatch_t *d, int64_t job_id);
int cf_sqlite_dispatch_held_in(cf_dispatch_t *d, int64_t job_id,
    int64_t now);

/* cf_sqlite_metrics.c */
int cf_sqlite_metrics_counts(cf_store_t *st, int64_t now,
    cf_exec_counts_t *out, char *errbuf, size_t errlen);

/* cf_sqlite_query.c */
int cf_sqlite_query_schema(cf_store_t *st, char *errbuf, size_t errlen);
int cf_sqlite_query_count(cf_store_t *st, const cf_query_t *q,
    int64_t *count, char *errbuf, size_t errlen);
int cf_sqlite_query_each(cf_store_t *st, const cf_query_t *q,
    int state_only, cf_query_doc_pt cb, void *data, char *errbuf,
    size_t errlen);


#endif /* _CF_SQLITE_STORE_H_INCLUDED_ */
