
/*
 * ngx_compensation: replays and snapshot regeneration, built on the store
 * interface (cf_store.h) and the same for every backend.
 */


#include <stdint.h>

#include "cf_store.h"


typedef struct {
    cf_aggregate_t  *agg;
    int64_t          max_time;
    cf_error_t      *err;
} cf_replay_ctx_t;


static int
cf_store_replay_stream(void *data, const cf_stream_view_t *row)
{
    cf_replay_ctx_t  *rc = data;

    if (row->create_time > rc->max_time) {
        return 1;
    }

    return cf_stream_apply(rc->agg, row, rc->err) == 0 ? 0 : -1;
}


int
cf_store_load_upto(cf_store_t *st, cf_aggregate_t *agg, int64_t tail_version,
    int64_t max_time, cf_error_t *err)
{
    cf_replay_ctx_t  ctx;

    if (tail_version <= agg->version) {
        return 0;
    }

    ctx.agg = agg;
    ctx.max_time = max_time;
    ctx.err = err;

    return cf_store_each_stream(st, agg->state.id, agg->version + 1,
                                tail_version, cf_store_replay_stream, &ctx,
                                err) < 0 ? -1 : 0;
}


int
cf_stream_apply(cf_aggregate_t *agg, const cf_stream_view_t *row,
    cf_error_t *err)
{
    size_t            i;
    json_t           *ev, *name, *op;
    cf_event_type_t   type;
    cf_stream_meta_t  meta;

    if (row->version != agg->version + 1) {
        cf_error_set(err, CF_E_INTERNAL,
                     "event stream %s of aggregate %s has version %lld,"
                     " expected %lld", row->id, row->aggregate_id,
                     (long long) row->version,
                     (long long) agg->version + 1);
        return -1;
    }

    op = json_object_get(row->header, "command_operator");

    meta.stream_id = row->id;
    meta.version = row->version;
    meta.create_time = row->create_time;
    meta.operator_ = json_is_string(op) ? json_string_value(op) : "";

    json_array_foreach(row->body, i, ev) {
        name = json_object_get(ev, "name");

        if (!json_is_string(name)
            || cf_event_parse_name(json_string_value(name), &type) != 0
            || cf_aggregate_apply(agg, &meta, type,
                                  json_object_get(ev, "body"), err) != 0)
        {
            if (cf_error_is_ok(err)) {
                cf_error_set(err, CF_E_INTERNAL,
                             "damaged event in stream %s", row->id);
            }

            return -1;
        }
    }

    return 0;
}


int
cf_store_regenerate_snapshot(cf_store_t *st, const char *aggregate_id,
    int64_t now, cf_error_t *err)
{
    int             rc;
    cf_aggregate_t  agg;

    if (cf_aggregate_init(&agg, aggregate_id) != 0) {
        cf_error_set(err, CF_E_INTERNAL, "out of memory");
        return -1;
    }

    rc = cf_store_begin_immediate(st);
    if (rc != 0) {
        cf_aggregate_free(&agg);
        cf_error_set(err, rc == CF_STORE_BUSY ? CF_E_REQUEST_TIMEOUT
                                              : CF_E_INTERNAL,
                     "store: %s", cf_store_errmsg(st));
        return rc == CF_STORE_BUSY ? CF_STORE_BUSY : -1;
    }

    /* always from the first event: the old row may be damaged or stale */

    if (cf_store_load_upto(st, &agg, INT64_MAX, INT64_MAX, err) != 0) {
        cf_store_rollback(st);
        cf_aggregate_free(&agg);
        return -1;
    }

    if (agg.version == 0) {
        cf_store_rollback(st);
        cf_aggregate_free(&agg);
        return CF_STORE_NOT_FOUND;
    }

    rc = cf_store_save_snapshot(st, &agg, now);
    cf_aggregate_free(&agg);

    if (rc == 0) {
        rc = cf_store_commit(st);
    }

    if (rc != 0) {
        cf_store_rollback(st);
        cf_error_set(err, rc == CF_STORE_BUSY ? CF_E_REQUEST_TIMEOUT
                                              : CF_E_INTERNAL,
                     "store: %s", cf_store_errmsg(st));
        return rc == CF_STORE_BUSY ? CF_STORE_BUSY : -1;
    }

    return 0;
}
