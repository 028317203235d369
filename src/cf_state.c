
/*
 * ngx_compensation: the ExecutionFailed state (spec 1.2, 1.3), its JSON form,
 * the aggregate around it, the events and their sourcing (spec 2).
 */


#include <stdlib.h>
#include <string.h>

#include "cf_bind.h"


typedef struct {
    const char          *name;
    const char          *body_type;
    const cf_field_t    *fields;
} cf_event_info_t;


static int cf_state_fail(cf_error_t *err, cf_error_t *bind_err,
    const char *what);
static char *cf_strdup(const char *s);


#define CF_API_PREFIX    "me.ahoo.wow.compensation.api."
#define CF_EVENT_PREFIX  "me.ahoo.wow.api.event."
#define CF_ABAC_PREFIX   "me.ahoo.wow.api.abac."


static const cf_field_t  cf_fields_state[] = {
    { "id",          CF_FT_STRING,      0, NULL, NULL },
    { "eventId",     CF_FT_OBJECT,      1, NULL, cf_fields_event_id },
    { "function",    CF_FT_OBJECT,      1, NULL, cf_fields_function },
    { "error",       CF_FT_OBJECT,      1, NULL, cf_fields_error },
    { "executeAt",   CF_FT_INT64,       0, NULL, NULL },
    { "retrySpec",   CF_FT_OBJECT,      0, NULL, cf_fields_retry_spec },
    { "retryState",  CF_FT_OBJECT,      0, NULL, cf_fields_retry_state },
    { "status",      CF_FT_STATUS,      0, NULL, NULL },
    { "recoverable", CF_FT_RECOVERABLE, 0, NULL, NULL },
    { NULL,          CF_FT_STRING,      0, NULL, NULL }
};


/* event bodies as decided; sourcing reads them back through these tables */

static const cf_field_t  cf_fields_ev_created[] = {
    { "eventId",     CF_FT_OBJECT,      0, NULL, cf_fields_event_id },
    { "function",    CF_FT_OBJECT,      0, NULL, cf_fields_function },
    { "error",       CF_FT_OBJECT,      0, NULL, cf_fields_error },
    { "executeAt",   CF_FT_INT64,       0, NULL, NULL },
    { "retryState",  CF_FT_OBJECT,      0, NULL, cf_fields_retry_state },
    { "retrySpec",   CF_FT_OBJECT,      0, NULL, cf_fields_retry_spec },
    { "recoverable", CF_FT_RECOVERABLE, 1, "UNKNOWN", NULL },
    { NULL,          CF_FT_STRING,      0, NULL, NULL }
};

static const cf_field_t  cf_fields_ev_prepared[] = {
    /* copies of the state for listeners; sourcing needs only retryState */
    { "eventId",     CF_FT_OBJECT,      1, NULL, cf_fields_event_id },
    { "function",    CF_FT_OBJECT,      1, NULL, cf_fields_function },
    { "retryState",  CF_FT_OBJECT,      0, NULL, cf_fields_retry_state },
    { NULL,          CF_FT_STRING,      0, NULL, NULL }
};

static const cf_field_t  cf_fields_ev_success[] = {
    { "executeAt",   CF_FT_INT64,       0, NULL, NULL },
    { NULL,          CF_FT_STRING,      0, NULL, NULL }
};

static const cf_field_t  cf_fields_ev_failed[] = {
    { "error",       CF_FT_OBJECT,      0, NULL, cf_fields_error },
    { "executeAt",   CF_FT_INT64,       0, NULL, NULL },
    { "recoverable", CF_FT_RECOVERABLE, 1, "UNKNOWN", NULL },
    { NULL,          CF_FT_STRING,      0, NULL, NULL }
};

static const cf_field_t  cf_fields_ev_recoverable[] = {
    { "recoverable", CF_FT_RECOVERABLE, 0, NULL, NULL },
    { NULL,          CF_FT_STRING,      0, NULL, NULL }
};

static const cf_field_t  cf_fields_ev_empty[] = {
    { NULL,          CF_FT_STRING,      0, NULL, NULL }
};

static const cf_field_t  cf_fields_ev_tags[] = {
    { "tags",        CF_FT_TAGS,        0, NULL, NULL },
    { NULL,          CF_FT_STRING,      0, NULL, NULL }
};


static const cf_event_info_t  cf_events[CF_EV__COUNT] = {
    { "execution_failed_created",
      CF_API_PREFIX "ExecutionFailedCreated", cf_fields_ev_created },
    { "compensation_prepared",
      CF_API_PREFIX "CompensationPrepared", cf_fields_ev_prepared },
    { "execution_success_applied",
      CF_API_PREFIX "ExecutionSuccessApplied", cf_fields_ev_success },
    { "execution_failed_applied",
      CF_API_PREFIX "ExecutionFailedApplied", cf_fields_ev_failed },
    { "retry_spec_applied",
      CF_API_PREFIX "RetrySpecApplied", cf_fields_retry_spec },
    { "function_changed",
      CF_API_PREFIX "FunctionChanged", cf_fields_function },
    { "recoverable_marked",
      CF_API_PREFIX "RecoverableMarked", cf_fields_ev_recoverable },
    { "default_aggregate_deleted",
      CF_EVENT_PREFIX "DefaultAggregateDeleted", cf_fields_ev_empty },
    { "default_aggregate_recovered",
      CF_EVENT_PREFIX "DefaultAggregateRecovered", cf_fields_ev_empty },
    { "default_resource_tags_applied",
      CF_ABAC_PREFIX "DefaultResourceTagsApplied", cf_fields_ev_tags }
};


/* predicates (spec 1.3) */

int
cf_state_is_below_retry_threshold(const cf_state_t *st)
{
    return st->retry_state.retries < st->retry_spec.max_retries;
}


int
cf_state_is_retryable(const cf_state_t *st)
{
    return st->status != CF_STATUS_SUCCEEDED
           && cf_state_is_below_retry_threshold(st);
}


int
cf_state_can_force_retry(const cf_state_t *st, int64_t now)
{
    switch (st->status) {

    case CF_STATUS_FAILED:
        return 1;

    case CF_STATUS_PREPARED:
        /* the previous attempt's execution window must have passed */
        return now > st->retry_state.timeout_at;

    default:
        return 0;
    }
}


int
cf_state_can_retry(const cf_state_t *st, int64_t now)
{
    return cf_state_can_force_retry(st, now)
           && cf_state_is_below_retry_threshold(st);
}


json_t *
cf_state_to_json(const cf_state_t *st)
{
    json_t  *j;

    j = json_object();
    if (j == NULL) {
        return NULL;
    }

    if (json_object_set_new(j, "id", json_string(st->id ? st->id : ""))
        || json_object_set_new(j, "eventId",
                               st->event_id ? json_deep_copy(st->event_id)
                                            : json_null())
        || json_object_set_new(j, "function",
                               st->function ? json_deep_copy(st->function)
                                            : json_null())
        || json_object_set_new(j, "error",
                               st->error
                               ? cf_bind_error_with_succeeded(st->error)
                               : json_null())
        || json_object_set_new(j, "executeAt", json_integer(st->execute_at))
        || json_object_set_new(j, "retrySpec",
                               cf_bind_retry_spec_json(&st->retry_spec))
        || json_object_set_new(j, "retryState",
                               cf_bind_retry_state_json(&st->retry_state))
        || json_object_set_new(j, "status",
                               json_string(cf_status_name(st->status)))
        || json_object_set_new(j, "recoverable",
                               json_string(cf_recoverable_name(
                                               st->recoverable)))
        || json_object_set_new(j, "isBelowRetryThreshold",
                               json_boolean(
                                   cf_state_is_below_retry_threshold(st)))
        || json_object_set_new(j, "isRetryable",
                               json_boolean(cf_state_is_retryable(st))))
    {
        json_decref(j);
        return NULL;
    }

    return j;
}


/* the error object with its computed "succeeded" (as
 * cf_bind_error_with_succeeded: replaced in place, else appended) */
static void
cf_state_write_error(cf_buf_t *b, json_t *error)
{
    int          first, seen, ok;
    size_t       klen;
    json_t      *v;
    const char  *key, *code;

    code = json_string_value(json_object_get(error, "errorCode"));
    ok = code && strcmp(code, CF_OK) == 0;

    cf_buf_add(b, "{", 1);
    first = 1;
    seen = 0;

    json_object_keylen_foreach(error, key, klen, v) {
        if (!first) {
            cf_buf_add(b, ",", 1);
        }
        first = 0;

        cf_json_write_string(b, key, klen);
        cf_buf_add(b, ":", 1);

        if (klen == sizeof("succeeded") - 1
            && memcmp(key, "succeeded", klen) == 0)
        {
            cf_buf_add_str(b, ok ? "true" : "false");
            seen = 1;

        } else {
            cf_json_write(b, v);
        }
    }

    if (!seen) {
        cf_buf_add_str(b, first ? "\"succeeded\":" : ",\"succeeded\":");
        cf_buf_add_str(b, ok ? "true" : "false");
    }

    cf_buf_add(b, "}", 1);
}


/*
 * The bytes json_dumps(cf_state_to_json(st), JSON_COMPACT) gives, without
 * building the tree: this is the snapshot's stored state text, served as is
 * by the state read.
 */
void
cf_state_write(cf_buf_t *b, const cf_state_t *st)
{
    const char  *id;

    id = st->id ? st->id : "";

    cf_buf_add_str(b, "{\"id\":");
    cf_json_write_string(b, id, strlen(id));

    cf_buf_add_str(b, ",\"eventId\":");
    if (st->event_id) {
        cf_json_write(b, st->event_id);
    } else {
        cf_buf_add_str(b, "null");
    }

    cf_buf_add_str(b, ",\"function\":");
    if (st->function) {
        cf_json_write(b, st->function);
    } else {
        cf_buf_add_str(b, "null");
    }

    cf_buf_add_str(b, ",\"error\":");
    if (st->error) {
        cf_state_write_error(b, st->error);
    } else {
        cf_buf_add_str(b, "null");
    }

    cf_json_write_int_after(b, ",\"executeAt\":", st->execute_at);

    cf_json_write_int_after(b, ",\"retrySpec\":{\"maxRetries\":",
                            st->retry_spec.max_retries);
    cf_json_write_int_after(b, ",\"minBackoff\":", st->retry_spec.min_backoff);
    cf_json_write_int_after(b, ",\"executionTimeout\":",
                            st->retry_spec.execution_timeout);

    cf_json_write_int_after(b, "},\"retryState\":{\"retries\":",
                            st->retry_state.retries);
    cf_json_write_int_after(b, ",\"retryAt\":", st->retry_state.retry_at);
    cf_json_write_int_after(b, ",\"timeoutAt\":", st->retry_state.timeout_at);
    cf_json_write_int_after(b, ",\"nextRetryAt\":",
                            st->retry_state.next_retry_at);

    cf_buf_add_str(b, "},\"status\":\"");
    cf_buf_add_str(b, cf_status_name(st->status));
    cf_buf_add_str(b, "\",\"recoverable\":\"");
    cf_buf_add_str(b, cf_recoverable_name(st->recoverable));
    cf_buf_add_str(b, "\",\"isBelowRetryThreshold\":");
    cf_buf_add_str(b, cf_state_is_below_retry_threshold(st) ? "true"
                                                             : "false");
    cf_buf_add_str(b, ",\"isRetryable\":");
    cf_buf_add_str(b, cf_state_is_retryable(st) ? "true" : "false");
    cf_buf_add(b, "}", 1);
}


/*
 * st must be zeroed or hold a state (its id, if any, must match); on failure
 * it is left unchanged.  The computed booleans are recomputed, not read.
 */
int
cf_state_from_json(cf_state_t *st, json_t *json, cf_error_t *err)
{
    char              *id;
    json_t            *n, *v;
    cf_error_t         be;
    cf_state_t         tmp;
    cf_status_t        status;
    cf_recoverable_t   rec;

    status = CF_STATUS_FAILED;
    rec = CF_RECOVERABLE_UNKNOWN;

    cf_error_init(&be);

    if (cf_bind_object(json, cf_fields_state, "state", &n, &be) != 0) {
        return cf_state_fail(err, &be, "damaged snapshot state");
    }

    cf_error_free(&be);

    if (st->id
        && strcmp(st->id, json_string_value(json_object_get(n, "id"))) != 0)
    {
        json_decref(n);
        cf_error_set(err, CF_E_INTERNAL,
                     "damaged snapshot state: id does not match %s", st->id);
        return -1;
    }

    id = cf_strdup(json_string_value(json_object_get(n, "id")));
    if (id == NULL) {
        json_decref(n);
        cf_error_set(err, CF_E_INTERNAL, "out of memory");
        return -1;
    }

    /* normalized enums always parse */
    (void) cf_status_parse(json_string_value(json_object_get(n, "status")),
                           &status);
    (void) cf_recoverable_parse(json_string_value(json_object_get(n,
                                                      "recoverable")),
                                &rec);

    memset(&tmp, 0, sizeof(tmp));

    tmp.id = id;

    v = json_object_get(n, "eventId");
    tmp.event_id = json_is_object(v) ? json_incref(v) : NULL;
    v = json_object_get(n, "function");
    tmp.function = json_is_object(v) ? json_incref(v) : NULL;
    v = json_object_get(n, "error");
    tmp.error = json_is_object(v) ? json_incref(v) : NULL;

    tmp.execute_at = cf_bind_int(n, "executeAt");
    cf_bind_retry_spec_read(json_object_get(n, "retrySpec"),
                            &tmp.retry_spec);
    cf_bind_retry_state_read(json_object_get(n, "retryState"),
                             &tmp.retry_state);
    tmp.status = status;
    tmp.recoverable = rec;

    json_decref(n);

    free(st->id);
    json_decref(st->event_id);
    json_decref(st->function);
    json_decref(st->error);

    *st = tmp;

    return 0;
}


int
cf_aggregate_init(cf_aggregate_t *agg, const char *id)
{
    memset(agg, 0, sizeof(*agg));

    agg->state.status = CF_STATUS_FAILED;
    agg->state.recoverable = CF_RECOVERABLE_UNKNOWN;

    agg->state.id = cf_strdup(id ? id : "");
    agg->owner_id = cf_strdup("");
    agg->last_stream_id = cf_strdup("");
    agg->first_operator = cf_strdup("");
    agg->operator_ = cf_strdup("");

    if (agg->state.id == NULL || agg->owner_id == NULL
        || agg->last_stream_id == NULL || agg->first_operator == NULL
        || agg->operator_ == NULL)
    {
        cf_aggregate_free(agg);
        return -1;
    }

    return 0;
}


void
cf_aggregate_free(cf_aggregate_t *agg)
{
    free(agg->state.id);
    json_decref(agg->state.event_id);
    json_decref(agg->state.function);
    json_decref(agg->state.error);

    free(agg->owner_id);
    free(agg->last_stream_id);
    free(agg->first_operator);
    free(agg->operator_);
    json_decref(agg->tags);

    memset(agg, 0, sizeof(*agg));
}


const char *
cf_event_name(cf_event_type_t t)
{
    return ((int) t >= 0 && t < CF_EV__COUNT) ? cf_events[t].name : "";
}


const char *
cf_event_body_type(cf_event_type_t t)
{
    return ((int) t >= 0 && t < CF_EV__COUNT) ? cf_events[t].body_type : "";
}


/* by event name or by body type, exactly */
int
cf_event_parse_name(const char *name, cf_event_type_t *out)
{
    int  i;

    if (name == NULL) {
        return -1;
    }

    for (i = 0; i < CF_EV__COUNT; i++) {
        if (strcmp(name, cf_events[i].name) == 0
            || strcmp(name, cf_events[i].body_type) == 0)
        {
            *out = (cf_event_type_t) i;
            return 0;
        }
    }

    return -1;
}


void
cf_event_free(cf_event_t *ev)
{
    json_decref(ev->body);
    ev->body = NULL;
}


/*
 * Everything that can fail (binding the body, copying the metadata) happens
 * before the aggregate is touched, so a failure leaves it as it was.
 */
int
cf_aggregate_apply(cf_aggregate_t *agg, const cf_stream_meta_t *meta,
    cf_event_type_t type, json_t *body, cf_error_t *err)
{
    char              *stream_id, *op, *first_op;
    json_t            *n;
    cf_error_t         be;
    cf_state_t        *st;
    cf_recoverable_t   rec;

    if ((int) type < 0 || type >= CF_EV__COUNT || meta == NULL) {
        cf_error_set(err, CF_E_INTERNAL, "unknown event type");
        return -1;
    }

    st = &agg->state;
    rec = CF_RECOVERABLE_UNKNOWN;

    if (type == CF_EV_EXECUTION_FAILED_CREATED) {
        if (agg->version != 0) {
            cf_error_set(err, CF_E_INTERNAL,
                         "damaged event stream: %s applied to the "
                         "initialized aggregate %s",
                         cf_events[type].name, st->id ? st->id : "");
            return -1;
        }

    } else if (agg->version == 0) {
        cf_error_set(err, CF_E_INTERNAL,
                     "damaged event stream: %s applied to the "
                     "uninitialized aggregate %s",
                     cf_events[type].name, st->id ? st->id : "");
        return -1;
    }

    n = NULL;

    if (cf_events[type].fields[0].key != NULL
        || (body != NULL && !json_is_null(body)))
    {
        /* deleted/recovered carry nothing, but if they carry, it is {} */
        cf_error_init(&be);

        if (cf_bind_object(body, cf_events[type].fields, cf_events[type].name,
                           &n, &be)
            != 0)
        {
            return cf_state_fail(err, &be, "damaged event");
        }

        cf_error_free(&be);
    }

    stream_id = cf_strdup(meta->stream_id ? meta->stream_id : "");
    op = cf_strdup(meta->operator_ ? meta->operator_ : "");
    first_op = meta->version == 1
               ? cf_strdup(meta->operator_ ? meta->operator_ : "") : NULL;

    if (stream_id == NULL || op == NULL
        || (meta->version == 1 && first_op == NULL))
    {
        free(stream_id);
        free(op);
        free(first_op);
        json_decref(n);
        cf_error_set(err, CF_E_INTERNAL, "out of memory");
        return -1;
    }

    switch (type) {

    case CF_EV_EXECUTION_FAILED_CREATED:
        json_decref(st->event_id);
        json_decref(st->function);
        json_decref(st->error);

        st->event_id = json_incref(json_object_get(n, "eventId"));
        st->function = json_incref(json_object_get(n, "function"));
        st->error = json_incref(json_object_get(n, "error"));
        st->execute_at = cf_bind_int(n, "executeAt");
        cf_bind_retry_state_read(json_object_get(n, "retryState"),
                                 &st->retry_state);
        cf_bind_retry_spec_read(json_object_get(n, "retrySpec"),
                                &st->retry_spec);
        (void) cf_recoverable_parse(
                   json_string_value(json_object_get(n, "recoverable")), &rec);
        st->recoverable = rec;
        st->status = CF_STATUS_FAILED;
        break;

    case CF_EV_COMPENSATION_PREPARED:
        cf_bind_retry_state_read(json_object_get(n, "retryState"),
                                 &st->retry_state);
        st->status = CF_STATUS_PREPARED;
        break;

    case CF_EV_EXECUTION_SUCCESS_APPLIED:
        st->execute_at = cf_bind_int(n, "executeAt");
        st->status = CF_STATUS_SUCCEEDED;
        break;

    case CF_EV_EXECUTION_FAILED_APPLIED:
        json_decref(st->error);
        st->error = json_incref(json_object_get(n, "error"));
        st->execute_at = cf_bind_int(n, "executeAt");
        (void) cf_recoverable_parse(
                   json_string_value(json_object_get(n, "recoverable")), &rec);
        st->recoverable = rec;
        st->status = CF_STATUS_FAILED;
        break;

    case CF_EV_RETRY_SPEC_APPLIED:
        /* retryState is deliberately not recomputed (spec 2.6) */
        cf_bind_retry_spec_read(n, &st->retry_spec);
        break;

    case CF_EV_FUNCTION_CHANGED:
        json_decref(st->function);
        st->function = json_incref(n);
        break;

    case CF_EV_RECOVERABLE_MARKED:
        (void) cf_recoverable_parse(
                   json_string_value(json_object_get(n, "recoverable")), &rec);
        st->recoverable = rec;
        break;

    case CF_EV_AGGREGATE_DELETED:
        agg->deleted = 1;
        break;

    case CF_EV_AGGREGATE_RECOVERED:
        agg->deleted = 0;
        break;

    case CF_EV_RESOURCE_TAGS_APPLIED:
        /* the event's tags replace the aggregate's (Wow's sourcing) */
        json_decref(agg->tags);
        agg->tags = json_incref(json_object_get(n, "tags"));
        break;

    default:
        break;
    }

    json_decref(n);

    agg->version = meta->version;
    agg->event_time = meta->create_time;

    free(agg->last_stream_id);
    agg->last_stream_id = stream_id;

    free(agg->operator_);
    agg->operator_ = op;

    if (meta->version == 1) {
        free(agg->first_operator);
        agg->first_operator = first_op;
        agg->first_event_time = meta->create_time;
    }

    return 0;
}


static int
cf_state_fail(cf_error_t *err, cf_error_t *bind_err, const char *what)
{
    if (strcmp(bind_err->code, CF_E_INTERNAL) == 0) {
        cf_error_set(err, CF_E_INTERNAL, "out of memory");

    } else {
        cf_error_set(err, CF_E_INTERNAL, "%s: %s", what, bind_err->msg);
    }

    cf_error_free(bind_err);

    return -1;
}


static char *
cf_strdup(const char *s)
{
    size_t   len;
    char    *p;

    len = strlen(s);

    p = malloc(len + 1);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, s, len + 1);

    return p;
}
