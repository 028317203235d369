
/*
 * ngx_compensation: the command pipeline (see cf_service.h).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_service.h"


static void cf_copy_id(char *dst, const char *src);
static int cf_service_run(cf_store_t *st, cf_id_gen_t *ids,
    const cf_exec_input_t *in, cf_exec_output_t *out, int grouped,
    cf_prepared_t *pre);
static int cf_service_decide(cf_store_t *st, cf_id_gen_t *ids,
    const cf_exec_input_t *in, const char *aggregate_id, cf_prepared_t *d);
static int cf_service_store_failed(cf_store_t *st, cf_exec_output_t *out,
    int rc, const char *what);
static int cf_service_tx_failed(cf_store_t *st, cf_exec_output_t *out);


static void
cf_copy_id(char *dst, const char *src)
{
    size_t  n;

    n = strlen(src);
    if (n > CF_MAX_ID_LEN) {
        n = CF_MAX_ID_LEN;
    }

    memcpy(dst, src, n);
    dst[n] = '\0';
}


int
cf_service_execute(cf_store_t *st, cf_id_gen_t *ids,
    const cf_exec_input_t *in, cf_exec_output_t *out)
{
    return cf_service_run(st, ids, in, out, 0, NULL);
}


int
cf_service_execute_grouped(cf_store_t *st, cf_id_gen_t *ids,
    const cf_exec_input_t *in, cf_exec_output_t *out, cf_prepared_t *pre)
{
    return cf_service_run(st, ids, in, out, 1, pre);
}


/*
 * Optimistic group commit: the group's commands are loaded, decided and
 * applied before the write lock, while the other worker holds it (the
 * decision reads the state as of the caller's read transaction); under the
 * lock, cf_service_run keeps a decision if the aggregate has no event since,
 * and decides again otherwise.  A create without an aggregate id gets its
 * id here, so that it too is decided outside the lock.
 */
void
cf_service_prepare(cf_store_t *st, cf_id_gen_t *ids,
    const cf_exec_input_t *in, cf_prepared_t *pre)
{
    char  id[CF_ID_BUF];

    memset(pre, 0, sizeof(cf_prepared_t));
    cf_error_init(&pre->err);
    pre->version = -1;

    if (in->aggregate_id && in->aggregate_id[0]) {
        cf_copy_id(id, in->aggregate_id);

    } else {
        /*
         * A create of a generated id: the id is drawn now, and the run
         * under the lock uses it.  Nothing can have been written to a new
         * id in between, so the decision is always kept, and the group's
         * creates are decided, like its other commands, outside the lock.
         */
        cf_id_next(ids, in->now, pre->aggregate_id);
        cf_copy_id(id, pre->aggregate_id);
    }

    if (cf_service_decide(st, ids, in, id, pre) < 0) {
        /* the store failed: the lock path will meet it, or not */
        cf_prepared_free(pre);
    }
}


void
cf_prepared_free(cf_prepared_t *pre)
{
    if (pre->state == CF_PREPARED_APPLIED) {
        cf_event_free(&pre->ev);
        cf_aggregate_free(&pre->agg);
    }

    cf_error_free(&pre->err);
    cf_error_init(&pre->err);
    pre->state = CF_PREPARED_NONE;
}


/*
 * Loads the aggregate, decides and applies: 0 when applied (d->agg and d->ev
 * hold the result), 1 when the command was refused (d->err, d->in_handler),
 * -1 on an internal error (d->err).  d->version is the version the decision
 * was made on (-1 if the load failed).
 */
static int
cf_service_decide(cf_store_t *st, cf_id_gen_t *ids, const cf_exec_input_t *in,
    const char *aggregate_id, cf_prepared_t *d)
{
    cf_decide_ctx_t   dctx;
    cf_stream_meta_t  meta;

    memset(&d->ev, 0, sizeof(cf_event_t));

    if (cf_aggregate_init(&d->agg, aggregate_id) != 0) {
        cf_error_set(&d->err, CF_E_INTERNAL, "out of memory");
        d->state = CF_PREPARED_FAILED;
        return -1;
    }

    if (cf_store_load(st, &d->agg, &d->err) != 0) {
        goto failed;
    }

    d->version = d->agg.version;

    dctx.now = in->now;
    dctx.default_spec = in->default_spec;
    dctx.owner_id = in->owner_id;
    dctx.expected_version = in->expected_version;

    if (cf_decide(&d->agg, in->command, &dctx, &d->ev, &d->err,
                  &d->in_handler)
        != 0)
    {
        cf_event_free(&d->ev);
        cf_aggregate_free(&d->agg);
        d->state = CF_PREPARED_REFUSED;
        return 1;
    }

    cf_id_next(ids, in->now, d->stream_id);

    meta.stream_id = d->stream_id;
    meta.version = d->agg.version + 1;
    meta.create_time = in->now;
    meta.operator_ = "";

    if (cf_aggregate_apply(&d->agg, &meta, d->ev.type, d->ev.body, &d->err)
        != 0)
    {
        goto failed;
    }

    cf_id_next(ids, in->now, d->event_id);

    d->state = CF_PREPARED_APPLIED;

    return 0;

failed:

    cf_event_free(&d->ev);
    cf_aggregate_free(&d->agg);
    d->state = CF_PREPARED_FAILED;

    return -1;
}


/* the state document as the stores write it (cf_state_write), on the heap */
static char *
cf_service_state_text(const cf_state_t *sv)
{
    char      *text;
    cf_buf_t   b;

    cf_buf_init(&b);
    cf_state_write(&b, sv);

    text = cf_buf_cstr(&b) ? strdup(b.data) : NULL;

    cf_buf_free(&b);

    return text;
}


void
cf_exec_output_free(cf_exec_output_t *out)
{
    cf_error_free(&out->err);
    free(out->state);
    out->state = NULL;
}


/*
 * grouped: the caller holds a BEGIN IMMEDIATE transaction; the command runs
 * in a savepoint of it, released on success (out->committed then means
 * "written, commits with the group") and rolled back on failure, so one
 * command's failure leaves the others of the group alone.  pre (grouped
 * only, or NULL): the command as cf_service_prepare decided it; always freed.
 */
static int
cf_service_run(cf_store_t *st, cf_id_gen_t *ids, const cf_exec_input_t *in,
    cf_exec_output_t *out, int grouped, cf_prepared_t *pre)
{
    int               rc, exists, ret;
    int64_t           latest;
    cf_prepared_t     local, *d;
    cf_stream_row_t   row;

    memset(out, 0, sizeof(cf_exec_output_t));
    cf_error_init(&out->err);
    out->version = -1;

    cf_id_next(ids, in->now, out->command_id);

    if (in->aggregate_id && in->aggregate_id[0]) {
        cf_copy_id(out->aggregate_id, in->aggregate_id);

    } else if (pre && pre->aggregate_id[0]) {
        /* drawn by cf_service_prepare, which decided on it */
        cf_copy_id(out->aggregate_id, pre->aggregate_id);

    } else {
        cf_id_next(ids, in->now, out->aggregate_id);
    }

    cf_copy_id(out->request_id,
               in->request_id && in->request_id[0] ? in->request_id
                                                   : out->command_id);

    memset(&local, 0, sizeof(cf_prepared_t));
    cf_error_init(&local.err);
    local.version = -1;
    d = &local;

    rc = grouped ? cf_store_savepoint(st) : cf_store_begin_immediate(st);

    if (rc != 0) {
        out->at_gateway = 1;

        ret = cf_service_store_failed(st, out, rc, "");

        if (pre) {
            cf_prepared_free(pre);
        }

        return ret;
    }

    ret = 0;

    /* idempotency: the request id is checked inside the write lock */
    exists = in->request_id_scoped
             ? 0 : cf_store_request_id_exists(st, out->request_id);

    if (exists != 0) {
        out->at_gateway = 1;

        if (exists == 1) {
            cf_error_set(&out->err, CF_E_DUPLICATE_REQUEST_ID,
                         "Duplicate request ID[%s].", out->request_id);
        } else {
            ret = cf_service_store_failed(st, out, -1, "");
        }

        goto rollback;
    }

    if (pre && pre->state != CF_PREPARED_NONE) {
        if (cf_store_latest_version(st, out->aggregate_id, &latest,
                                    &out->err)
            != 0)
        {
            ret = cf_service_tx_failed(st, out);
            goto rollback;
        }

        if (latest == pre->version) {
            /* no event since the decision: it stands */
            d = pre;

        } else {
            cf_prepared_free(pre);
        }
    }

    if (d == &local) {
        rc = cf_service_decide(st, ids, in, out->aggregate_id, d);

    } else {
        rc = d->state == CF_PREPARED_APPLIED ? 0
             : d->state == CF_PREPARED_REFUSED ? 1 : -1;
    }

    out->version = d->version;

    if (rc != 0) {
        /* the decision's answer becomes the command's */
        cf_error_free(&out->err);
        out->err = d->err;
        cf_error_init(&d->err);
        out->in_handler = d->in_handler;
        ret = rc < 0 ? cf_service_tx_failed(st, out) : 0;
        goto rollback;
    }

    row.id = d->stream_id;
    row.aggregate_id = out->aggregate_id;
    row.owner_id = d->agg.owner_id ? d->agg.owner_id : "";
    row.version = d->agg.version;
    row.request_id = out->request_id;
    row.command_id = out->command_id;
    row.header = in->header;
    row.create_time = in->now;
    row.event_id = d->event_id;
    row.event_name = cf_event_name(d->ev.type);
    row.event_body_type = cf_event_body_type(d->ev.type);
    row.event_body = d->ev.body;

    rc = cf_store_append(st, &row);

    if (rc != 0) {
        switch (rc) {

        case CF_STORE_VERSION_TAKEN:
            cf_error_set(&out->err, CF_E_EVENT_VERSION_CONFLICT,
                         "Event stream version %lld of aggregate %s"
                         " already exists.",
                         (long long) d->agg.version, out->aggregate_id);
            break;

        case CF_STORE_DUPLICATE_REQ:
            out->at_gateway = 1;
            cf_error_set(&out->err, CF_E_DUPLICATE_REQUEST_ID,
                         "Duplicate request ID[%s].", out->request_id);
            break;

        default:
            ret = cf_service_store_failed(st, out, -1, "");
        }

        goto rollback;
    }

    if (cf_store_save_snapshot(st, &d->agg, in->now) != 0) {
        ret = cf_service_store_failed(st, out, -1, "");
        goto rollback;
    }

    rc = grouped ? cf_store_release(st) : cf_store_commit(st);

    if (rc != 0) {
        if (grouped) {
            (void) cf_store_rollback_to(st);
        }

        ret = cf_service_store_failed(st, out, rc, "commit failed: ");
        cf_prepared_free(d);
        return ret;
    }

    out->committed = 1;
    out->version = d->agg.version;

    if (in->want_state) {
        /* the document just stored: a notification tells this state, not
         * whatever a later command left (NULL when out of memory) */
        out->state = cf_service_state_text(&d->agg.state);
    }

    cf_prepared_free(d);

    return 0;

rollback:

    if (grouped) {
        /* the caller sees a lost transaction (cf_store_in_transaction) */
        (void) cf_store_rollback_to(st);

    } else {
        cf_store_rollback(st);
    }

    cf_prepared_free(&local);

    if (pre) {
        cf_prepared_free(pre);
    }

    return ret;
}


/*
 * Group commit: the answer of cf_service_execute when its own BEGIN fails
 * (rc: CF_STORE_BUSY or another error), for a command that never ran.
 */
int
cf_service_not_run(cf_store_t *st, cf_id_gen_t *ids,
    const cf_exec_input_t *in, cf_exec_output_t *out, int rc)
{
    memset(out, 0, sizeof(cf_exec_output_t));
    cf_error_init(&out->err);
    out->version = -1;

    cf_id_next(ids, in->now, out->command_id);

    if (in->aggregate_id && in->aggregate_id[0]) {
        cf_copy_id(out->aggregate_id, in->aggregate_id);

    } else {
        cf_id_next(ids, in->now, out->aggregate_id);
    }

    cf_copy_id(out->request_id,
               in->request_id && in->request_id[0] ? in->request_id
                                                   : out->command_id);

    out->at_gateway = 1;

    return cf_service_store_failed(st, out, rc, "");
}


/*
 * Group commit: the answer of cf_service_execute when its COMMIT fails, for
 * a command of the group that had succeeded (out->committed).
 */
int
cf_service_commit_failed(cf_store_t *st, cf_exec_output_t *out, int rc)
{
    cf_error_free(&out->err);
    cf_error_init(&out->err);

    free(out->state);
    out->state = NULL;

    out->committed = 0;
    out->version--;          /* the version before the command */

    return cf_service_store_failed(st, out, rc, "commit failed: ");
}


/*
 * A store call inside the command's transaction failed (out->err): a lock
 * wait that ran out is the answer of a BEGIN that found the store busy (408,
 * the same bytes): the SQLite store waits for its write lock at BEGIN only,
 * the PostgreSQL store for the aggregate's row lock at its first read in the
 * transaction.  Anything else is an internal error (-1, out->err kept).
 */
static int
cf_service_tx_failed(cf_store_t *st, cf_exec_output_t *out)
{
    if (strcmp(out->err.code, CF_E_REQUEST_TIMEOUT) != 0) {
        return -1;
    }

    cf_error_free(&out->err);
    cf_error_init(&out->err);
    out->at_gateway = 1;

    return cf_service_store_failed(st, out, CF_STORE_BUSY, "");
}


/*
 * A store failure as the command's answer (0, or -1 for an internal
 * error): busy is a timeout (the wait ran out); a store file that was
 * deleted or replaced is 503, whether nothing was written (BEGIN) or the
 * write went into the lost file (COMMIT): never acknowledged either way.
 */
static int
cf_service_store_failed(cf_store_t *st, cf_exec_output_t *out, int rc,
    const char *what)
{
    out->store_rc = cf_store_errcode(st);

    if (rc == CF_STORE_BUSY) {
        out->store_rc = 0;
        cf_error_set(&out->err, CF_E_REQUEST_TIMEOUT,
                     "The store is busy: the command could not be"
                     " processed within the wait timeout.");
        return 0;
    }

    if (rc == CF_STORE_REPLACED) {
        cf_error_set(&out->err, CF_E_SERVICE_UNAVAILABLE,
                     "The compensation store file was deleted or replaced"
                     " while open: writes are refused.");
        return 0;
    }

    /*
     * A database server that is unreachable (stopped, restarting, failed
     * over, out of connections) is the service's unavailability, not an
     * internal error: 503, and the client tries again.  A COMMIT whose
     * answer was lost is never a success: its outcome is unknown, the
     * request id tells on a retry.
     */
    if ((out->store_rc & CF_STORE_FAULT) && cf_store_is_server(st)) {
        snprintf(out->store_msg, sizeof(out->store_msg), "%s%s", what,
                 cf_store_errmsg(st));
        cf_error_set(&out->err, CF_E_SERVICE_UNAVAILABLE, "%s",
                     what[0] ? "The compensation store became unavailable"
                               " during the commit: the command's outcome"
                               " is unknown, retry it with the same request"
                               " id."
                             : "The compensation store is not available:"
                               " the command was not processed.");
        return 0;
    }

    cf_error_set(&out->err, CF_E_INTERNAL, "store: %s%s", what,
                 cf_store_errmsg(st));

    return -1;
}
