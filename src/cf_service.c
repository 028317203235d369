
/*
 * ngx_compensation: the command pipeline (see cf_service.h).
 */


#include <stdio.h>
#include <string.h>

#include "cf_service.h"


static void cf_copy_id(char *dst, const char *src);
static int cf_service_run(cf_store_t *st, cf_id_gen_t *ids,
    const cf_exec_input_t *in, cf_exec_output_t *out, int grouped);


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
    return cf_service_run(st, ids, in, out, 0);
}


int
cf_service_execute_grouped(cf_store_t *st, cf_id_gen_t *ids,
    const cf_exec_input_t *in, cf_exec_output_t *out)
{
    return cf_service_run(st, ids, in, out, 1);
}


/*
 * grouped: the caller holds a BEGIN IMMEDIATE transaction; the command runs
 * in a savepoint of it, released on success (out->committed then means
 * "written, commits with the group") and rolled back on failure, so one
 * command's failure leaves the others of the group alone.
 */
static int
cf_service_run(cf_store_t *st, cf_id_gen_t *ids, const cf_exec_input_t *in,
    cf_exec_output_t *out, int grouped)
{
    int               rc, exists, ret;
    char              stream_id[CF_ID_LEN + 1], event_id[CF_ID_LEN + 1];
    cf_event_t        ev;
    cf_aggregate_t    agg;
    cf_decide_ctx_t   dctx;
    cf_stream_row_t   row;
    cf_stream_meta_t  meta;

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

    memset(&ev, 0, sizeof(cf_event_t));

    if (cf_aggregate_init(&agg, out->aggregate_id) != 0) {
        cf_error_set(&out->err, CF_E_INTERNAL, "out of memory");
        return -1;
    }

    rc = grouped ? cf_store_savepoint(st) : cf_store_begin_immediate(st);

    if (rc != 0) {
        out->at_gateway = 1;

        if (rc == CF_STORE_BUSY) {
            cf_error_set(&out->err, CF_E_REQUEST_TIMEOUT,
                         "The store is busy: the command could not be"
                         " processed within the wait timeout.");
            ret = 0;

        } else {
            cf_error_set(&out->err, CF_E_INTERNAL, "store: %s",
                         cf_store_errmsg(st));
            ret = -1;
        }

        cf_aggregate_free(&agg);
        return ret;
    }

    ret = 0;

    /* idempotency: the request id is checked inside the write lock */
    exists = cf_store_request_id_exists(st, out->request_id);

    if (exists != 0) {
        out->at_gateway = 1;

        if (exists == 1) {
            cf_error_set(&out->err, CF_E_DUPLICATE_REQUEST_ID,
                         "Duplicate request ID[%s].", out->request_id);
        } else {
            cf_error_set(&out->err, CF_E_INTERNAL, "store: %s",
                         cf_store_errmsg(st));
            ret = -1;
        }

        goto rollback;
    }

    if (cf_store_load(st, &agg, &out->err) != 0) {
        ret = -1;
        goto rollback;
    }

    out->version = agg.version;

    dctx.now = in->now;
    dctx.default_spec = in->default_spec;
    dctx.owner_id = in->owner_id;
    dctx.expected_version = in->expected_version;

    if (cf_decide(&agg, in->command, &dctx, &ev, &out->err,
                  &out->in_handler)
        != 0)
    {
        goto rollback;
    }

    cf_id_next(ids, in->now, stream_id);

    meta.stream_id = stream_id;
    meta.version = agg.version + 1;
    meta.create_time = in->now;
    meta.operator_ = "";

    if (cf_aggregate_apply(&agg, &meta, ev.type, ev.body, &out->err) != 0) {
        ret = -1;
        goto rollback;
    }

    row.id = stream_id;
    row.aggregate_id = out->aggregate_id;
    row.owner_id = agg.owner_id ? agg.owner_id : "";
    row.version = agg.version;
    row.request_id = out->request_id;
    row.command_id = out->command_id;
    row.header = in->header;
    row.create_time = in->now;
    cf_id_next(ids, in->now, event_id);

    row.event_id = event_id;
    row.event_name = cf_event_name(ev.type);
    row.event_body_type = cf_event_body_type(ev.type);
    row.event_body = ev.body;

    rc = cf_store_append(st, &row);

    if (rc != 0) {
        switch (rc) {

        case CF_STORE_VERSION_TAKEN:
            cf_error_set(&out->err, CF_E_EVENT_VERSION_CONFLICT,
                         "Event stream version %lld of aggregate %s"
                         " already exists.",
                         (long long) agg.version, out->aggregate_id);
            break;

        case CF_STORE_DUPLICATE_REQ:
            out->at_gateway = 1;
            cf_error_set(&out->err, CF_E_DUPLICATE_REQUEST_ID,
                         "Duplicate request ID[%s].", out->request_id);
            break;

        default:
            cf_error_set(&out->err, CF_E_INTERNAL, "store: %s",
                         cf_store_errmsg(st));
            ret = -1;
        }

        goto rollback;
    }

    if (cf_store_save_snapshot(st, &agg, in->now) != 0) {
        cf_error_set(&out->err, CF_E_INTERNAL, "store: %s",
                     cf_store_errmsg(st));
        ret = -1;
        goto rollback;
    }

    rc = grouped ? cf_store_release(st) : cf_store_commit(st);

    if (rc != 0) {
        if (grouped) {
            (void) cf_store_rollback_to(st);
        }

        cf_error_set(&out->err,
                     rc == CF_STORE_BUSY ? CF_E_REQUEST_TIMEOUT
                                         : CF_E_INTERNAL,
                     "store: commit failed: %s", cf_store_errmsg(st));
        ret = rc == CF_STORE_BUSY ? 0 : -1;
        cf_event_free(&ev);
        cf_aggregate_free(&agg);
        return ret;
    }

    out->committed = 1;
    out->version = agg.version;

    cf_event_free(&ev);
    cf_aggregate_free(&agg);

    return 0;

rollback:

    if (grouped) {
        /* the caller sees a lost transaction (cf_store_in_transaction) */
        (void) cf_store_rollback_to(st);

    } else {
        cf_store_rollback(st);
    }
    cf_event_free(&ev);
    cf_aggregate_free(&agg);

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

    if (rc == CF_STORE_BUSY) {
        cf_error_set(&out->err, CF_E_REQUEST_TIMEOUT,
                     "The store is busy: the command could not be"
                     " processed within the wait timeout.");
        return 0;
    }

    cf_error_set(&out->err, CF_E_INTERNAL, "store: %s", cf_store_errmsg(st));

    return -1;
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

    out->committed = 0;
    out->version--;          /* the version before the command */

    cf_error_set(&out->err,
                 rc == CF_STORE_BUSY ? CF_E_REQUEST_TIMEOUT : CF_E_INTERNAL,
                 "store: commit failed: %s", cf_store_errmsg(st));

    return rc == CF_STORE_BUSY ? 0 : -1;
}
