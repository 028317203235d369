
/*
 * ngx_compensation: documents of an aggregate's history (see cf_history.h).
 */


#include "cf_history.h"


json_t *
cf_stream_to_json(const cf_stream_view_t *row, int with_size,
    json_t *extra_header)
{
    json_t  *doc, *header, *body;

    header = json_deep_copy(row->header);
    body = json_deep_copy(row->body);

    if (header == NULL || body == NULL) {
        json_decref(header);
        json_decref(body);
        return NULL;
    }

    if (extra_header && json_object_update(header, extra_header) != 0) {
        json_decref(header);
        json_decref(body);
        return NULL;
    }

    /* [HEAD] shape: spaceId after ownerId (spec 5.2) */
    doc = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:s,"
                    " s:I, s:o, s:I}",
                    "id", row->id,
                    "contextName", CF_CONTEXT_NAME,
                    "aggregateName", CF_AGGREGATE_NAME,
                    "header", header,
                    "aggregateId", row->aggregate_id,
                    "tenantId", row->tenant_id,
                    "ownerId", row->owner_id,
                    "spaceId", CF_SPACE_ID,
                    "commandId", row->command_id,
                    "requestId", row->request_id,
                    "version", (json_int_t) row->version,
                    "body", body,
                    "createTime", (json_int_t) row->create_time);

    /* "o" steals the references even when packing fails */

    if (doc == NULL) {
        return NULL;
    }

    if (with_size
        && json_object_set_new(doc, "size", json_integer(row->size)) != 0)
    {
        json_decref(doc);
        return NULL;
    }

    return doc;
}


json_t *
cf_state_event_to_json(const cf_stream_view_t *row,
    const cf_aggregate_t *agg, json_t *extra_header)
{
    json_t  *doc, *state;

    doc = cf_stream_to_json(row, 0, extra_header);
    if (doc == NULL) {
        return NULL;
    }

    state = cf_state_to_json(&agg->state);

    /* [HEAD] shape: the tags after the state (spec 5.3) */
    if (state == NULL
        || json_object_set_new(doc, "firstOperator",
               json_string(agg->first_operator ? agg->first_operator : ""))
        || json_object_set_new(doc, "firstEventTime",
                               json_integer(agg->first_event_time))
        || json_object_set_new(doc, "state", state)
        || json_object_set_new(doc, "tags",
               agg->tags ? json_deep_copy(agg->tags) : json_object())
        || json_object_set_new(doc, "deleted", json_boolean(agg->deleted)))
    {
        /* json_object_set_new consumes state even on failure */
        json_decref(doc);
        return NULL;
    }

    return doc;
}


/* [HEAD] shape: spaceId after ownerId, tags before deleted (spec 5.1) */
json_t *
cf_snapshot_to_json(const cf_snapshot_row_t *row)
{
    json_t  *state, *tags;

    state = cf_json_loads(row->state, 0, NULL);

    if (!json_is_object(state)) {
        json_decref(state);
        return NULL;
    }

    tags = cf_json_loads(row->tags ? row->tags : "{}", 0, NULL);

    if (!json_is_object(tags)) {
        json_decref(tags);
        json_decref(state);
        return NULL;
    }

    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s,"
                     " s:I, s:I, s:I, s:o, s:b, s:o}",
                     "contextName", CF_CONTEXT_NAME,
                     "aggregateName", CF_AGGREGATE_NAME,
                     "tenantId", row->tenant_id,
                     "ownerId", row->owner_id,
                     "spaceId", CF_SPACE_ID,
                     "aggregateId", row->aggregate_id,
                     "version", (json_int_t) row->version,
                     "eventId", row->event_id,
                     "firstOperator", row->first_operator,
                     "operator", row->operator_,
                     "firstEventTime", (json_int_t) row->first_event_time,
                     "eventTime", (json_int_t) row->event_time,
                     "snapshotTime", (json_int_t) row->snapshot_time,
                     "tags", tags,
                     "deleted", row->deleted,
                     "state", state);
}


json_t *
cf_batch_result_to_json(const char *after_id, int64_t size,
    const char *error_code, const char *error_msg)
{
    return json_pack("{s:s, s:I, s:s, s:s}",
                     "afterId", after_id,
                     "size", (json_int_t) size,
                     "errorCode", error_code,
                     "errorMsg", error_msg);
}


void
cf_tracing_window(int64_t latest, int64_t head, int64_t tail, int64_t limit,
    int64_t *from, int64_t *to)
{
    if (tail > latest) {
        tail = latest;
    }

    if (limit >= 0 && tail - head + 1 > limit) {
        head = tail - limit + 1;
    }

    *from = head;
    *to = tail;
}
