
/*
 * ngx_compensation: wait signal validation (spec 6.1).
 */


#include <string.h>
#include <strings.h>

#include "cf_wait.h"
#include "cf_bind.h"


static const char  *cf_wait_stages[] = {
    "SENT", "PROCESSED", "SNAPSHOT", "PROJECTED", "EVENT_HANDLED",
    "SAGA_HANDLED", NULL
};


static const cf_field_t  cf_wait_fields_aggregate_id[] = {
    { "contextName",   CF_FT_STRING, 0, NULL, NULL },
    { "aggregateName", CF_FT_STRING, 0, NULL, NULL },
    { "aggregateId",   CF_FT_STRING, 0, NULL, NULL },
    { "tenantId",      CF_FT_STRING, 0, NULL, NULL },
    { NULL,            CF_FT_STRING, 0, NULL, NULL }
};


static void cf_wait_string(json_t *body, const char *key, int required,
    cf_error_t *err);
static void cf_wait_object(json_t *body, const char *key,
    const cf_field_t *fields, cf_error_t *err);


int
cf_wait_stage_parse(const char *s)
{
    int  i;

    if (s == NULL) {
        return -1;
    }

    for (i = 0; cf_wait_stages[i]; i++) {
        if (strcasecmp(s, cf_wait_stages[i]) == 0) {
            return i;
        }
    }

    return -1;
}


const char *
cf_wait_stage_name(int stage)
{
    if (stage < 0 || stage > 5) {
        return NULL;
    }

    return cf_wait_stages[stage];
}


static void
cf_wait_string(json_t *body, const char *key, int required, cf_error_t *err)
{
    json_t  *v;

    v = json_object_get(body, key);

    if (v == NULL || json_is_null(v)) {
        if (required) {
            cf_error_add_binding(err, key, "must not be null");
        }
        return;
    }

    if (!json_is_string(v)) {
        cf_error_add_binding(err, key, "must be a string");
        return;
    }

    if (json_string_length(v) > CF_BIND_MAX_STRING) {
        cf_error_add_binding(err, key, "must be at most %d bytes",
                             CF_BIND_MAX_STRING);
        return;
    }

    if (required && json_string_length(v) == 0) {
        cf_error_add_binding(err, key, "must not be empty");
    }
}


/* a required object bound by the shared binder; its errors are copied */
static void
cf_wait_object(json_t *body, const char *key, const cf_field_t *fields,
    cf_error_t *err)
{
    size_t       i;
    json_t      *v, *out, *e;
    cf_error_t   sub;

    v = json_object_get(body, key);

    if (v == NULL || json_is_null(v)) {
        cf_error_add_binding(err, key, "must not be null");
        return;
    }

    cf_error_init(&sub);

    if (cf_bind_object(v, fields, key, &out, &sub) == 0) {
        json_decref(out);
        cf_error_free(&sub);
        return;
    }

    if (sub.binding_errors == NULL
        || json_array_size(sub.binding_errors) == 0)
    {
        cf_error_add_binding(err, key, "%s", sub.msg);
    }

    json_array_foreach(sub.binding_errors, i, e) {
        cf_error_add_binding(err,
            json_string_value(json_object_get(e, "name")),
            "%s", json_string_value(json_object_get(e, "msg")));
    }

    cf_error_free(&sub);
}


int
cf_wait_signal_validate(json_t *body, cf_error_t *err)
{
    size_t   i;
    json_t  *v, *e;

    if (!json_is_object(body)) {
        cf_error_add_binding(err, "body", "must be a JSON object");
        return -1;
    }

    cf_wait_string(body, "id", 1, err);
    cf_wait_string(body, "waitCommandId", 1, err);
    cf_wait_string(body, "commandId", 1, err);
    cf_wait_object(body, "aggregateId", cf_wait_fields_aggregate_id, err);

    v = json_object_get(body, "stage");

    if (v == NULL || json_is_null(v)) {
        cf_error_add_binding(err, "stage", "must not be null");

    } else if (cf_wait_stage_parse(json_string_value(v)) < 0) {
        cf_error_add_binding(err, "stage", "must be one of [SENT, PROCESSED,"
                             " SNAPSHOT, PROJECTED, EVENT_HANDLED,"
                             " SAGA_HANDLED]");
    }

    cf_wait_object(body, "function", cf_fields_function, err);

    v = json_object_get(body, "aggregateVersion");

    if (v && !json_is_null(v)
        && (!json_is_integer(v) || json_integer_value(v) < 0
            || json_integer_value(v) > INT32_MAX))
    {
        cf_error_add_binding(err, "aggregateVersion",
                             "must be a non-negative 32-bit integer or null");
    }

    v = json_object_get(body, "isLastProjection");

    if (v && !json_is_null(v) && !json_is_boolean(v)) {
        cf_error_add_binding(err, "isLastProjection", "must be a boolean");
    }

    cf_wait_string(body, "errorCode", 0, err);
    cf_wait_string(body, "errorMsg", 0, err);

    v = json_object_get(body, "bindingErrors");

    if (v && !json_is_null(v)) {
        if (!json_is_array(v)) {
            cf_error_add_binding(err, "bindingErrors", "must be an array");

        } else {
            json_array_foreach(v, i, e) {
                if (!json_is_object(e)
                    || !json_is_string(json_object_get(e, "name"))
                    || !json_is_string(json_object_get(e, "msg")))
                {
                    cf_error_add_binding(err, "bindingErrors",
                                         "must hold {name, msg} strings");
                    break;
                }
            }
        }
    }

    v = json_object_get(body, "result");

    if (v && !json_is_null(v) && !json_is_object(v)) {
        cf_error_add_binding(err, "result", "must be an object");
    }

    v = json_object_get(body, "commands");

    if (v && !json_is_null(v)) {
        if (!json_is_array(v)) {
            cf_error_add_binding(err, "commands", "must be an array");

        } else {
            json_array_foreach(v, i, e) {
                if (!json_is_string(e)) {
                    cf_error_add_binding(err, "commands",
                                         "must hold strings only");
                    break;
                }
            }
        }
    }

    v = json_object_get(body, "signalTime");

    if (v && !json_is_null(v)
        && (!json_is_integer(v) || json_integer_value(v) < 0))
    {
        cf_error_add_binding(err, "signalTime",
                             "must be a non-negative integer (epoch ms)");
    }

    return cf_error_is_ok(err) ? 0 : -1;
}
