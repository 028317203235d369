
/*
 * ngx_compensation: the PostgreSQL store as a backend of the store
 * interface (cf_store_backend.h): the table, and the casts from the
 * interface's cf_store_t * (the first member of cf_pg_store_t) to the
 * store's operations.  The dispatch statements' handle is the interface's
 * cf_dispatch_t: they are prepared on the store's connection.
 */


#include <stdio.h>
#include <stdlib.h>

#include "cf_pg.h"


#define CF_PG(s)  ((cf_pg_store_t *) (s))


static cf_store_t *
cf_pgb_open(const char *dsn, const cf_store_options_t *opts, char *errbuf,
    size_t errlen)
{
    cf_pg_store_t  *st;

    st = cf_pg_store_open(dsn, opts, errbuf, errlen);

    return st ? &st->base : NULL;
}


static void
cf_pgb_close(cf_store_t *s)
{
    cf_pg_store_close(CF_PG(s));
}


static const char *
cf_pgb_errmsg(cf_store_t *s)
{
    return cf_pg_store_errmsg(CF_PG(s));
}


static int
cf_pgb_errcode(cf_store_t *s)
{
    return cf_pg_store_errcode(CF_PG(s));
}


/* no file: the connection's user@host:port/db names the store in logs */
static const char *
cf_pgb_path(cf_store_t *s)
{
    return CF_PG(s)->target;
}


static void
cf_pgb_set_busy_timeout(cf_store_t *s, int ms)
{
    cf_pg_store_set_busy_timeout(CF_PG(s), ms);
}


static int
cf_pgb_begin_immediate(cf_store_t *s)
{
    return cf_pg_store_begin_immediate(CF_PG(s));
}


static int
cf_pgb_commit(cf_store_t *s)
{
    return cf_pg_store_commit(CF_PG(s));
}


static void
cf_pgb_rollback(cf_store_t *s)
{
    cf_pg_store_rollback(CF_PG(s));
}


static int
cf_pgb_savepoint(cf_store_t *s)
{
    return cf_pg_store_savepoint(CF_PG(s));
}


static int
cf_pgb_release(cf_store_t *s)
{
    return cf_pg_store_release(CF_PG(s));
}


static int
cf_pgb_rollback_to(cf_store_t *s)
{
    return cf_pg_store_rollback_to(CF_PG(s));
}


static int
cf_pgb_in_transaction(cf_store_t *s)
{
    return cf_pg_store_in_transaction(CF_PG(s));
}


static int
cf_pgb_read_hold(cf_store_t *s)
{
    return cf_pg_store_read_hold(CF_PG(s));
}


static void
cf_pgb_read_release(cf_store_t *s)
{
    cf_pg_store_read_release(CF_PG(s));
}


static int
cf_pgb_request_id_exists(cf_store_t *s, const char *request_id)
{
    return cf_pg_store_request_id_exists(CF_PG(s), request_id);
}


static int
cf_pgb_load(cf_store_t *s, cf_aggregate_t *agg, cf_error_t *err)
{
    return cf_pg_store_load(CF_PG(s), agg, err);
}


static int
cf_pgb_each_stream(cf_store_t *s, const char *aggregate_id, int64_t head,
    int64_t tail, cf_stream_cb_pt cb, void *data, cf_error_t *err)
{
    return cf_pg_store_each_stream(CF_PG(s), aggregate_id, head, tail, cb,
                                   data, err);
}


static int
cf_pgb_latest_version(cf_store_t *s, const char *aggregate_id,
    int64_t *version, cf_error_t *err)
{
    return cf_pg_store_latest_version(CF_PG(s), aggregate_id, version, err);
}


static int
cf_pgb_append(cf_store_t *s, const cf_stream_row_t *row)
{
    return cf_pg_store_append(CF_PG(s), row);
}


static int
cf_pgb_save_snapshot(cf_store_t *s, const cf_aggregate_t *agg,
    int64_t snapshot_time)
{
    return cf_pg_store_save_snapshot(CF_PG(s), agg, snapshot_time);
}


static int
cf_pgb_read_snapshot(cf_store_t *s, const char *aggregate_id,
    cf_snapshot_row_t *row)
{
    return cf_pg_store_read_snapshot(CF_PG(s), aggregate_id, row);
}


static int
cf_pgb_state_text(cf_store_t *s, const char *aggregate_id,
    void *(*alloc)(void *data, size_t size), void *data, char **text,
    size_t *len)
{
    return cf_pg_store_state_text(CF_PG(s), aggregate_id, alloc, data, text,
                                  len);
}


static int
cf_pgb_scan_ids(cf_store_t *s, const char *after_id, int64_t limit,
    char ***ids, size_t *n)
{
    return cf_pg_store_scan_ids(CF_PG(s), after_id, limit, ids, n);
}


static int
cf_pgb_ping(cf_store_t *s)
{
    return cf_pg_store_ping(CF_PG(s));
}


/* no file that could be deleted or replaced under the store */
static int
cf_pgb_check_file(cf_store_t *s)
{
    return 0;
}


/* the dispatch table is created with the store's schema (cf_pg_schema.c) */
static int
cf_pgb_dispatch_schema(cf_store_t *s, char *errbuf, size_t errlen)
{
    return 0;
}


static int
cf_pgb_dispatch_claim(cf_store_t *s, int64_t now, int64_t lease_ms,
    int64_t owner, int limit, cf_claim_t **claims, size_t *n)
{
    return cf_pg_dispatch_claim(CF_PG(s), now, lease_ms, owner, limit,
                                claims, n);
}


static int
cf_pgb_dispatch_finish(cf_store_t *s, int64_t job_id, const char *state,
    const char *result, int64_t now)
{
    return cf_pg_dispatch_finish(CF_PG(s), job_id, state, result, now);
}


static int
cf_pgb_dispatch_enqueue(cf_store_t *s, const char *execution_id, int64_t now,
    int64_t *job_id, char op_id[CF_UUID_LEN + 1])
{
    return cf_pg_dispatch_enqueue(CF_PG(s), execution_id, now, job_id,
                                  op_id);
}


static int
cf_pgb_dispatch_get(cf_store_t *s, const char *op_id, cf_operation_t *op)
{
    return cf_pg_dispatch_get(CF_PG(s), op_id, op);
}


static int
cf_pgb_dispatch_list(cf_store_t *s, const char *execution_id, int limit,
    cf_operation_t **ops, size_t *n)
{
    return cf_pg_dispatch_list(CF_PG(s), execution_id, limit, ops, n);
}


static int
cf_pgb_dispatch_cancel(cf_store_t *s, const char *op_id, int force,
    int64_t now, char state[16])
{
    return cf_pg_dispatch_cancel(CF_PG(s), op_id, force, now, state);
}


static int
cf_pgb_dispatch_cancel_asked(cf_store_t *s, int64_t job_id)
{
    return cf_pg_dispatch_cancel_asked_in(CF_PG(s), job_id);
}


/* the statements are the connection's, prepared on first use */
static cf_dispatch_t *
cf_pgb_dispatch_open(cf_store_t *s)
{
    cf_dispatch_t  *d;

    d = calloc(1, sizeof(cf_dispatch_t));
    if (d == NULL) {
        return NULL;
    }

    d->store = s;

    return d;
}


static void
cf_pgb_dispatch_close(cf_dispatch_t *d)
{
    free(d);
}


static int
cf_pgb_dispatch_claim_in(cf_dispatch_t *d, int64_t now, int64_t lease_ms,
    int64_t owner, int limit, cf_claim_t **claims, size_t *n)
{
    return cf_pg_dispatch_claim_in(CF_PG(d->store), now, lease_ms, owner,
                                   limit, claims, n);
}


static int
cf_pgb_dispatch_finish_in(cf_dispatch_t *d, int64_t job_id,
    const char *state, const char *result, int64_t now)
{
    int  rc;

    rc = cf_pg_dispatch_finish_in(CF_PG(d->store), job_id, state, result,
                                  now);

    if (rc == 0) {
        /* observed once the caller's transaction commits */
        cf_dispatch_ended(d, state);
    }

    return rc;
}


static int
cf_pgb_dispatch_cancel_asked_in(cf_dispatch_t *d, int64_t job_id)
{
    return cf_pg_dispatch_cancel_asked_in(CF_PG(d->store), job_id);
}


static int
cf_pgb_dispatch_held_in(cf_dispatch_t *d, int64_t job_id, int64_t now)
{
    return cf_pg_dispatch_held_in(CF_PG(d->store), job_id, now);
}


/* the metrics' counts and the compiled queries: cf_pg_query.c; the query
 * indexes are part of the schema (cf_pg_schema.c) */
static int
cf_pgb_metrics_counts(cf_store_t *s, int64_t now, cf_exec_counts_t *out,
    char *errbuf, size_t errlen)
{
    return cf_pg_metrics_counts(CF_PG(s), now, out, errbuf, errlen);
}


static int
cf_pgb_query_schema(cf_store_t *s, char *errbuf, size_t errlen)
{
    return 0;
}


static int
cf_pgb_query_count(cf_store_t *s, const cf_query_t *q, int64_t *count,
    char *errbuf, size_t errlen)
{
    return cf_pg_query_count(CF_PG(s), q, count, errbuf, errlen);
}


static int
cf_pgb_query_each(cf_store_t *s, const cf_query_t *q, int state_only,
    cf_query_doc_pt cb, void *data, char *errbuf, size_t errlen)
{
    return cf_pg_query_each(CF_PG(s), q, state_only, cb, data, errbuf,
                            errlen);
}


const cf_store_backend_t  cf_pg_store_backend = {
    "postgresql",

    cf_pgb_open,
    cf_pgb_close,
    cf_pgb_errmsg,
    cf_pgb_errcode,
    cf_pg_store_clear_error,
    cf_pgb_path,
    cf_pgb_set_busy_timeout,

    cf_pgb_begin_immediate,
    cf_pgb_commit,
    cf_pgb_rollback,
    cf_pgb_savepoint,
    cf_pgb_release,
    cf_pgb_rollback_to,
    cf_pgb_in_transaction,
    cf_pgb_read_hold,
    cf_pgb_read_release,

    cf_pgb_request_id_exists,
    cf_pgb_load,
    cf_pgb_each_stream,
    cf_pgb_latest_version,
    cf_pgb_append,
    cf_pgb_save_snapshot,
    cf_pgb_read_snapshot,
    cf_pgb_state_text,
    cf_pgb_scan_ids,

    cf_pgb_ping,
    cf_pgb_check_file,
    NULL,                                   /* no WAL file of ours */
    NULL,

    cf_pgb_dispatch_schema,
    cf_pgb_dispatch_claim,
    cf_pgb_dispatch_finish,
    cf_pgb_dispatch_enqueue,
    cf_pgb_dispatch_get,
    cf_pgb_dispatch_list,
    cf_pgb_dispatch_cancel,
    cf_pgb_dispatch_cancel_asked,

    cf_pgb_dispatch_open,
    cf_pgb_dispatch_close,
    cf_pgb_dispatch_claim_in,
    cf_pgb_dispatch_finish_in,
    cf_pgb_dispatch_cancel_asked_in,
    cf_pgb_dispatch_held_in,

    cf_pgb_metrics_counts,

    cf_pgb_query_schema,
    cf_pgb_query_count,
    cf_pgb_query_each
};
