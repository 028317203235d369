
/*
 * ngx_compensation: the store interface (see cf_store.h): the backend a dsn
 * names, and every operation dispatched to it (cf_store_backend.h).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_store_backend.h"


/* libpq's connection keywords (PQconndefaults of libpq 15): one of them
 * starts a keyword/value connection string */
static const char *const  cf_store_pg_keywords[] = {
    "host", "hostaddr", "port", "dbname", "user", "password", "passfile",
    "service", "options", "application_name", "fallback_application_name",
    "client_encoding", "connect_timeout", "channel_binding", "keepalives",
    "keepalives_idle", "keepalives_interval", "keepalives_count",
    "tcp_user_timeout", "sslmode", "sslcompression", "sslcert", "sslkey",
    "sslpassword", "sslrootcert", "sslcrl", "sslcrldir", "sslsni",
    "ssl_min_protocol_version", "ssl_max_protocol_version", "requirepeer",
    "gssencmode", "krbsrvname", "gsslib", "replication",
    "target_session_attrs", NULL
};


int
cf_store_dsn_is_file(const char *dsn)
{
    size_t              n;
    const char         *p;
    const char *const  *k;

    if (strncmp(dsn, "postgresql://", sizeof("postgresql://") - 1) == 0
        || strncmp(dsn, "postgres://", sizeof("postgres://") - 1) == 0)
    {
        return 0;
    }

    /*
     * "host=... dbname=...", "dbname = x" (libpq allows white space around
     * '='): a file name with a '=' in its first word is still a file
     * unless that word is one of libpq's keywords
     */
    while (*dsn == ' ' || *dsn == '\t') {
        dsn++;
    }

    for (k = cf_store_pg_keywords; *k; k++) {
        n = strlen(*k);

        if (strncmp(dsn, *k, n) != 0) {
            continue;
        }

        for (p = dsn + n; *p == ' ' || *p == '\t'; p++) {
            /* void */
        }

        if (*p == '=') {
            return 0;
        }
    }

    return 1;
}


cf_store_t *
cf_store_open(const char *dsn, const cf_store_options_t *opts, char *errbuf,
    size_t errlen)
{
    const cf_store_backend_t  *be;

    if (cf_store_dsn_is_file(dsn)) {
        be = &cf_sqlite_store_backend;

    } else {
        be = &cf_pg_store_backend;

        if (be == NULL) {
            /* not quoted: a DSN may hold a password */
            snprintf(errbuf, errlen, "the store names a PostgreSQL database,"
                     " but this build has no PostgreSQL store");
            return NULL;
        }
    }

    return be->open(dsn, opts, errbuf, errlen);
}


void
cf_store_close(cf_store_t *st)
{
    if (st != NULL) {
        st->backend->close(st);
    }
}


int
cf_store_wal_restarts(cf_store_t *st)
{
    return st->backend->wal_restarts ? st->backend->wal_restarts(st) : 0;
}


void
cf_store_set_checkpointer(cf_store_t *st, cf_checkpointer_t *ck)
{
    if (st->backend->set_checkpointer) {
        st->backend->set_checkpointer(st, ck);
    }
}


void
cf_dispatch_close(cf_dispatch_t *d)
{
    if (d != NULL) {
        d->store->backend->dispatch_close(d);
    }
}


const char *
cf_store_errmsg(cf_store_t *st)
{
    return st->backend->errmsg(st);
}


int
cf_store_errcode(cf_store_t *st)
{
    return st->backend->errcode(st);
}


void
cf_store_clear_error(cf_store_t *st)
{
    if (st->backend->clear_error) {
        st->backend->clear_error(st);
    }
}


const char *
cf_store_path(cf_store_t *st)
{
    return st->backend->path(st);
}


void
cf_store_set_busy_timeout(cf_store_t *st, int ms)
{
    st->backend->set_busy_timeout(st, ms);
}


int
cf_store_begin_immediate(cf_store_t *st)
{
    return st->backend->begin_immediate(st);
}


int
cf_store_commit(cf_store_t *st)
{
    return st->backend->commit(st);
}


void
cf_store_rollback(cf_store_t *st)
{
    st->backend->rollback(st);
}


int
cf_store_savepoint(cf_store_t *st)
{
    return st->backend->savepoint(st);
}


int
cf_store_release(cf_store_t *st)
{
    return st->backend->release(st);
}


int
cf_store_rollback_to(cf_store_t *st)
{
    return st->backend->rollback_to(st);
}


int
cf_store_in_transaction(cf_store_t *st)
{
    return st->backend->in_transaction(st);
}


int
cf_store_read_hold(cf_store_t *st)
{
    return st->backend->read_hold(st);
}


void
cf_store_read_release(cf_store_t *st)
{
    st->backend->read_release(st);
}


int
cf_store_request_id_exists(cf_store_t *st, const char *request_id)
{
    return st->backend->request_id_exists(st, request_id);
}


int
cf_store_load(cf_store_t *st, cf_aggregate_t *agg, cf_error_t *err)
{
    return st->backend->load(st, agg, err);
}


int
cf_store_each_stream(cf_store_t *st, const char *aggregate_id, int64_t head,
    int64_t tail, cf_stream_cb_pt cb, void *data, cf_error_t *err)
{
    return st->backend->each_stream(st, aggregate_id, head, tail, cb, data,
                                    err);
}


int
cf_store_latest_version(cf_store_t *st, const char *aggregate_id,
    int64_t *version, cf_error_t *err)
{
    return st->backend->latest_version(st, aggregate_id, version, err);
}


int
cf_store_append(cf_store_t *st, const cf_stream_row_t *row)
{
    return st->backend->append(st, row);
}


int
cf_store_save_snapshot(cf_store_t *st, const cf_aggregate_t *agg,
    int64_t snapshot_time)
{
    return st->backend->save_snapshot(st, agg, snapshot_time);
}


int
cf_store_read_snapshot(cf_store_t *st, const char *aggregate_id,
    cf_snapshot_row_t *row)
{
    return st->backend->read_snapshot(st, aggregate_id, row);
}


int
cf_store_state_text(cf_store_t *st, const char *aggregate_id,
    void *(*alloc)(void *data, size_t size), void *data, char **text,
    size_t *len)
{
    return st->backend->state_text(st, aggregate_id, alloc, data, text, len);
}


int
cf_store_scan_ids(cf_store_t *st, const char *after_id, int64_t limit,
    char ***ids, size_t *n)
{
    return st->backend->scan_ids(st, after_id, limit, ids, n);
}


int
cf_store_ping(cf_store_t *st)
{
    return st->backend->ping(st);
}


/* a database server's store (no file: no WAL, no file checks) */
int
cf_store_is_server(cf_store_t *st)
{
    return st->backend != &cf_sqlite_store_backend;
}


int
cf_store_check_file(cf_store_t *st)
{
    return st->backend->check_file(st);
}


int
cf_dispatch_schema(cf_store_t *st, char *errbuf, size_t errlen)
{
    return st->backend->dispatch_schema(st, errbuf, errlen);
}


int
cf_dispatch_claim(cf_store_t *st, int64_t now, int64_t lease_ms,
    int64_t owner, int limit, cf_claim_t **claims, size_t *n)
{
    return st->backend->dispatch_claim(st, now, lease_ms, owner, limit, claims,
                                       n);
}


int
cf_dispatch_finish(cf_store_t *st, int64_t job_id, const char *state,
    const char *result, int64_t now)
{
    return st->backend->dispatch_finish(st, job_id, state, result, now);
}


int
cf_dispatch_enqueue(cf_store_t *st, const char *execution_id,
    int64_t now, int64_t *job_id, char op_id[CF_UUID_LEN + 1])
{
    return st->backend->dispatch_enqueue(st, execution_id, now, job_id, op_id);
}


int
cf_dispatch_get(cf_store_t *st, const char *op_id, cf_operation_t *op)
{
    return st->backend->dispatch_get(st, op_id, op);
}


int
cf_dispatch_list(cf_store_t *st, const char *execution_id, int limit,
    cf_operation_t **ops, size_t *n)
{
    return st->backend->dispatch_list(st, execution_id, limit, ops, n);
}


int
cf_dispatch_cancel(cf_store_t *st, const char *op_id, int force,
    int64_t now, char state[16])
{
    return st->backend->dispatch_cancel(st, op_id, force, now, state);
}


int
cf_dispatch_cancel_asked(cf_store_t *st, int64_t job_id)
{
    return st->backend->dispatch_cancel_asked(st, job_id);
}


cf_dispatch_t *
cf_dispatch_open(cf_store_t *st)
{
    return st->backend->dispatch_open(st);
}


int
cf_dispatch_claim_in(cf_dispatch_t *d, int64_t now, int64_t lease_ms,
    int64_t owner, int limit, cf_claim_t **claims, size_t *n)
{
    return d->store->backend->dispatch_claim_in(d, now, lease_ms, owner, limit,
                                                claims, n);
}


int
cf_dispatch_finish_in(cf_dispatch_t *d, int64_t job_id,
    const char *state, const char *result, int64_t now)
{
    return d->store->backend->dispatch_finish_in(d, job_id, state, result,
                                                 now);
}


int
cf_dispatch_cancel_asked_in(cf_dispatch_t *d, int64_t job_id)
{
    return d->store->backend->dispatch_cancel_asked_in(d, job_id);
}


int
cf_dispatch_held_in(cf_dispatch_t *d, int64_t job_id, int64_t now)
{
    return d->store->backend->dispatch_held_in(d, job_id, now);
}


int
cf_metrics_counts(cf_store_t *st, int64_t now, cf_exec_counts_t *out,
    char *errbuf, size_t errlen)
{
    return st->backend->metrics_counts(st, now, out, errbuf, errlen);
}


int
cf_query_schema(cf_store_t *st, char *errbuf, size_t errlen)
{
    return st->backend->query_schema(st, errbuf, errlen);
}


int
cf_query_count(cf_store_t *st, const cf_query_t *q, int64_t *count,
    char *errbuf, size_t errlen)
{
    return st->backend->query_count(st, q, count, errbuf, errlen);
}


int
cf_query_each(cf_store_t *st, const cf_query_t *q, int state_only,
    cf_query_doc_pt cb, void *data, char *errbuf, size_t errlen)
{
    return st->backend->query_each(st, q, state_only, cb, data, errbuf,
                                   errlen);
}


void
cf_snapshot_row_free(cf_snapshot_row_t *row)
{
    free(row->aggregate_id);
    free(row->event_id);
    free(row->tenant_id);
    free(row->owner_id);
    free(row->first_operator);
    free(row->operator_);
    free(row->state);
    free(row->tags);

    memset(row, 0, sizeof(cf_snapshot_row_t));
}


void
cf_ids_free(char **ids, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        free(ids[i]);
    }

    free(ids);
}
