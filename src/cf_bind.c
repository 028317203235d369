
/*
 * ngx_compensation: table-driven binding of JSON objects.  Every input is
 * hostile: any JSON shape yields binding errors, never a crash.  Recursion is
 * bounded by the tables (three levels), not by the input.
 */


#include <stdio.h>
#include <string.h>

#include "cf_bind.h"


static int cf_bind_value(json_t *v, const cf_field_t *f, const char *name,
    json_t **out, cf_error_t *err);
static int cf_bind_string(json_t *v, size_t max, const char *name,
    json_t **out, cf_error_t *err);
static int cf_bind_integer(json_t *v, int64_t min, int64_t max,
    const char *name, json_t **out, cf_error_t *err);
static int cf_bind_enum(json_t *v, const cf_field_t *f, const char *name,
    json_t **out, cf_error_t *err);
static int cf_bind_binding_errors(json_t *v, const char *name, json_t **out,
    cf_error_t *err);
static int cf_bind_tags(json_t *v, const char *name, json_t **out,
    cf_error_t *err);
static int cf_bind_default(const cf_field_t *f, json_t *dst, cf_error_t *err);
static int cf_bind_oom(cf_error_t *err);
static const char *cf_bind_str(json_t *obj, const char *key);
static void cf_bind_name(char *name, const char *path, const char *key);


static const cf_field_t  cf_fields_aggregate_id[] = {
    { "contextName",   CF_FT_STRING, 0, NULL, NULL },
    { "aggregateName", CF_FT_STRING, 0, NULL, NULL },
    { "aggregateId",   CF_FT_STRING, 0, NULL, NULL },
    { "tenantId",      CF_FT_STRING, 0, NULL, NULL },
    { NULL,            CF_FT_STRING, 0, NULL, NULL }
};

const cf_field_t  cf_fields_event_id[] = {
    { "id",            CF_FT_STRING, 0, NULL, NULL },
    { "aggregateId",   CF_FT_OBJECT, 0, NULL, cf_fields_aggregate_id },
    { "version",       CF_FT_INT32,  0, NULL, NULL },
    { NULL,            CF_FT_STRING, 0, NULL, NULL }
};

const cf_field_t  cf_fields_function[] = {
    { "functionKind",  CF_FT_FUNCTION_KIND, 0, NULL, NULL },
    { "contextName",   CF_FT_STRING,        0, NULL, NULL },
    { "processorName", CF_FT_STRING,        0, NULL, NULL },
    { "name",          CF_FT_STRING,        0, NULL, NULL },
    { NULL,            CF_FT_STRING,        0, NULL, NULL }
};

static const cf_field_t  cf_fields_binding_error[] = {
    { "name",          CF_FT_STRING, 0, NULL, NULL },
    { "msg",           CF_FT_STRING, 0, NULL, NULL },
    { NULL,            CF_FT_STRING, 0, NULL, NULL }
};

const cf_field_t  cf_fields_error[] = {
    { "errorCode",     CF_FT_STRING,         0, NULL, NULL },
    { "errorMsg",      CF_FT_STRING,         0, NULL, NULL },
    { "stackTrace",    CF_FT_TEXT,           0, NULL, NULL },
    { "bindingErrors", CF_FT_BINDING_ERRORS, 1, NULL, NULL },
    { NULL,            CF_FT_STRING,         0, NULL, NULL }
};

const cf_field_t  cf_fields_retry_spec[] = {
    { "maxRetries",       CF_FT_INT32, 0, NULL, NULL },
    { "minBackoff",       CF_FT_INT32, 0, NULL, NULL },
    { "executionTimeout", CF_FT_INT32, 0, NULL, NULL },
    { NULL,               CF_FT_INT32, 0, NULL, NULL }
};

const cf_field_t  cf_fields_retry_state[] = {
    { "retries",       CF_FT_INT32, 0, NULL, NULL },
    { "retryAt",       CF_FT_INT64, 0, NULL, NULL },
    { "timeoutAt",     CF_FT_INT64, 0, NULL, NULL },
    { "nextRetryAt",   CF_FT_INT64, 0, NULL, NULL },
    { NULL,            CF_FT_INT64, 0, NULL, NULL }
};


/* "path.key" (or "key"), as "%.200s.%.50s" would give: this runs for every
 * field of every body, where snprintf was a visible cost */
static void
cf_bind_name(char *name, const char *path, const char *key)
{
    size_t  n, k;

    n = strnlen(path, 200);
    memcpy(name, path, n);

    if (n) {
        name[n++] = '.';
    }

    k = strnlen(key, n ? 50 : 200);
    memcpy(name + n, key, k);
    name[n + k] = '\0';
}


int
cf_bind_object(json_t *src, const cf_field_t *fields, const char *path,
    json_t **out, cf_error_t *err)
{
    int                rc;
    char               name[256];
    json_t            *dst, *v, *val;
    const cf_field_t  *f;

    *out = NULL;

    if (!json_is_object(src)) {
        cf_error_add_binding(err, path[0] ? path : "body",
                             "must be an object");
        return -1;
    }

    dst = json_object();
    if (dst == NULL) {
        return cf_bind_oom(err);
    }

    rc = 0;

    for (f = fields; f->key; f++) {

        cf_bind_name(name, path, f->key);

        v = json_object_get(src, f->key);

        if (v == NULL || json_is_null(v)) {

            if (!f->optional) {
                cf_error_add_binding(err, name, "must not be null");
                rc = -1;
                continue;
            }

            if (cf_bind_default(f, dst, err) != 0) {
                rc = -1;
                break;
            }

            continue;
        }

        if (cf_bind_value(v, f, name, &val, err) != 0) {
            if (!cf_error_is_ok(err)
                && strcmp(err->code, CF_E_INTERNAL) == 0)
            {
                rc = -1;
                break;
            }

            rc = -1;
            continue;
        }

        /* an empty bindingErrors array is omitted, as on the wire */
        if (val == NULL) {
            continue;
        }

        if (json_object_set_new(dst, f->key, val) != 0) {
            rc = cf_bind_oom(err);
            break;
        }
    }

    if (rc != 0) {
        json_decref(dst);
        return -1;
    }

    *out = dst;

    return 0;
}


static int
cf_bind_value(json_t *v, const cf_field_t *f, const char *name,
    json_t **out, cf_error_t *err)
{
    *out = NULL;

    switch (f->type) {

    case CF_FT_STRING:
        return cf_bind_string(v, CF_BIND_MAX_STRING, name, out, err);

    case CF_FT_TEXT:
        return cf_bind_string(v, CF_BIND_MAX_TEXT, name, out, err);

    case CF_FT_INT32:
        return cf_bind_integer(v, INT32_MIN, INT32_MAX, name, out, err);

    case CF_FT_INT64:
        return cf_bind_integer(v, INT64_MIN, INT64_MAX, name, out, err);

    case CF_FT_FUNCTION_KIND:
    case CF_FT_RECOVERABLE:
    case CF_FT_STATUS:
        return cf_bind_enum(v, f, name, out, err);

    case CF_FT_OBJECT:
        return cf_bind_object(v, f->fields, name, out, err);

    case CF_FT_BINDING_ERRORS:
        return cf_bind_binding_errors(v, name, out, err);

    case CF_FT_TAGS:
        return cf_bind_tags(v, name, out, err);
    }

    cf_error_add_binding(err, name, "has an unknown type");

    return -1;
}


static int
cf_bind_string(json_t *v, size_t max, const char *name, json_t **out,
    cf_error_t *err)
{
    size_t       len;
    const char  *s;

    if (!json_is_string(v)) {
        cf_error_add_binding(err, name, "must be a string");
        return -1;
    }

    s = json_string_value(v);
    len = json_string_length(v);

    if (memchr(s, '\0', len) != NULL) {
        cf_error_add_binding(err, name, "must not contain NUL characters");
        return -1;
    }

    if (len > max) {
        cf_error_add_binding(err, name, "must be at most %zu bytes long",
                             max);
        return -1;
    }

    /*
     * Shared, not copied: the bound document and its source may hold the
     * same leaf.  Leaves are never changed in place here (no
     * json_string_set), and jansson's reference counts are atomic, so the
     * store thread may drop its reference while the event loop holds one.
     */
    *out = json_incref(v);

    return 0;
}


static int
cf_bind_integer(json_t *v, int64_t min, int64_t max, const char *name,
    json_t **out, cf_error_t *err)
{
    json_int_t  n;

    if (!json_is_integer(v)) {
        cf_error_add_binding(err, name, "must be an integer");
        return -1;
    }

    n = json_integer_value(v);

    if (n < min || n > max) {
        cf_error_add_binding(err, name, "must be between %lld and %lld",
                             (long long) min, (long long) max);
        return -1;
    }

    *out = json_incref(v);      /* shared, as strings are */

    return 0;
}


static int
cf_bind_enum(json_t *v, const cf_field_t *f, const char *name, json_t **out,
    cf_error_t *err)
{
    int                 rc;
    const char         *s, *canon, *choices;
    cf_status_t         st;
    cf_recoverable_t    rec;
    cf_function_kind_t  kind;

    switch (f->type) {

    case CF_FT_FUNCTION_KIND:
        choices = "[COMMAND, SOURCING, EVENT, STATE_EVENT, ERROR]";
        break;

    case CF_FT_RECOVERABLE:
        choices = "[RECOVERABLE, UNRECOVERABLE, UNKNOWN]";
        break;

    default: /* CF_FT_STATUS */
        choices = "[FAILED, PREPARED, SUCCEEDED]";
        break;
    }

    if (!json_is_string(v)
        || memchr(json_string_value(v), '\0', json_string_length(v)) != NULL)
    {
        cf_error_add_binding(err, name, "must be one of %s", choices);
        return -1;
    }

    s = json_string_value(v);
    canon = NULL;

    switch (f->type) {

    case CF_FT_FUNCTION_KIND:
        rc = cf_function_kind_parse(s, &kind);
        if (rc == 0) {
            canon = cf_function_kind_name(kind);
        }
        break;

    case CF_FT_RECOVERABLE:
        rc = cf_recoverable_parse(s, &rec);
        if (rc == 0) {
            canon = cf_recoverable_name(rec);
        }
        break;

    default:
        rc = cf_status_parse(s, &st);
        if (rc == 0) {
            canon = cf_status_name(st);
        }
        break;
    }

    if (canon == NULL) {
        cf_error_add_binding(err, name, "must be one of %s", choices);
        return -1;
    }

    *out = strcmp(s, canon) == 0 ? json_incref(v) : json_string(canon);
    if (*out == NULL) {
        return cf_bind_oom(err);
    }

    return 0;
}


static int
cf_bind_binding_errors(json_t *v, const char *name, json_t **out,
    cf_error_t *err)
{
    int      rc;
    char     item_name[256];
    size_t   i;
    json_t  *arr, *item, *bound;

    if (!json_is_array(v)) {
        cf_error_add_binding(err, name, "must be an array");
        return -1;
    }

    if (json_array_size(v) == 0) {
        *out = NULL;
        return 0;
    }

    arr = json_array();
    if (arr == NULL) {
        return cf_bind_oom(err);
    }

    rc = 0;

    json_array_foreach(v, i, item) {
        snprintf(item_name, sizeof(item_name), "%.200s[%zu]", name, i);

        if (cf_bind_object(item, cf_fields_binding_error, item_name, &bound,
                           err)
            != 0)
        {
            rc = -1;

            if (strcmp(err->code, CF_E_INTERNAL) == 0) {
                break;
            }

            continue;
        }

        if (json_array_append_new(arr, bound) != 0) {
            rc = cf_bind_oom(err);
            break;
        }
    }

    if (rc != 0) {
        json_decref(arr);
        return -1;
    }

    *out = arr;

    return 0;
}


/*
 * ABAC tags (Wow's AbacTags, Map<String, List<String>>): an object whose
 * values are arrays of strings.  Keys keep their order; a key or a value is
 * any string a string field takes (Wow filters none of them either).
 */
static int
cf_bind_tags(json_t *v, const char *name, json_t **out, cf_error_t *err)
{
    int          rc;
    char         key_name[256], item_name[300];
    size_t       i;
    json_t      *dst, *values, *arr, *item, *bound;
    const char  *key;

    if (!json_is_object(v)) {
        cf_error_add_binding(err, name, "must be an object");
        return -1;
    }

    if (json_object_size(v) > CF_BIND_MAX_TAGS) {
        cf_error_add_binding(err, name, "must have at most %d keys",
                             CF_BIND_MAX_TAGS);
        return -1;
    }

    dst = json_object();
    if (dst == NULL) {
        return cf_bind_oom(err);
    }

    rc = 0;

    json_object_foreach(v, key, values) {
        cf_bind_name(key_name, name, key);

        if (strlen(key) > CF_BIND_MAX_STRING) {
            cf_error_add_binding(err, name, "keys must be at most %d bytes"
                                 " long", CF_BIND_MAX_STRING);
            rc = -1;
            continue;
        }

        if (!json_is_array(values)) {
            cf_error_add_binding(err, key_name,
                                 "must be an array of strings");
            rc = -1;
            continue;
        }

        if (json_array_size(values) > CF_BIND_MAX_TAGS) {
            cf_error_add_binding(err, key_name, "must have at most %d values",
                                 CF_BIND_MAX_TAGS);
            rc = -1;
            continue;
        }

        arr = json_array();
        if (arr == NULL) {
            rc = cf_bind_oom(err);
            break;
        }

        json_array_foreach(values, i, item) {
            snprintf(item_name, sizeof(item_name), "%.250s[%zu]", key_name,
                     i);

            if (cf_bind_string(item, CF_BIND_MAX_STRING, item_name, &bound,
                               err)
                != 0)
            {
                rc = -1;
                continue;
            }

            if (json_array_append_new(arr, bound) != 0) {
                json_decref(arr);
                arr = NULL;
                rc = cf_bind_oom(err);
                break;
            }
        }

        if (arr == NULL) {
            break;
        }

        if (rc != 0) {
            json_decref(arr);       /* only the binding errors matter now */
            continue;
        }

        if (json_object_set_new(dst, key, arr) != 0) {
            rc = cf_bind_oom(err);
            break;
        }
    }

    if (rc != 0) {
        json_decref(dst);
        return -1;
    }

    *out = dst;

    return 0;
}


static int
cf_bind_default(const cf_field_t *f, json_t *dst, cf_error_t *err)
{
    json_t  *val;

    if (f->type == CF_FT_BINDING_ERRORS) {
        return 0;
    }

    val = f->def ? json_string(f->def) : json_null();

    if (json_object_set_new(dst, f->key, val) != 0) {
        return cf_bind_oom(err);
    }

    return 0;
}


static int
cf_bind_oom(cf_error_t *err)
{
    cf_error_set(err, CF_E_INTERNAL, "out of memory");
    return -1;
}


void
cf_bind_function_text(json_t *function, char *buf, size_t size)
{
    snprintf(buf, size,
             "FunctionInfoData(functionKind=%s, contextName=%s, "
             "processorName=%s, name=%s)",
             cf_bind_str(function, "functionKind"),
             cf_bind_str(function, "contextName"),
             cf_bind_str(function, "processorName"),
             cf_bind_str(function, "name"));
}


static const char *
cf_bind_str(json_t *obj, const char *key)
{
    const char  *s;

    s = json_string_value(json_object_get(obj, key));

    return s ? s : "";
}


json_t *
cf_bind_error_with_succeeded(json_t *error)
{
    json_t      *copy;
    const char  *code;

    copy = json_deep_copy(error);
    if (copy == NULL) {
        return NULL;
    }

    code = json_string_value(json_object_get(copy, "errorCode"));

    if (json_object_set_new(copy, "succeeded",
                            json_boolean(code && strcmp(code, CF_OK) == 0))
        != 0)
    {
        json_decref(copy);
        return NULL;
    }

    return copy;
}


json_t *
cf_bind_retry_spec_json(const cf_retry_spec_t *spec)
{
    return json_pack("{s:i, s:i, s:i}",
                     "maxRetries", (int) spec->max_retries,
                     "minBackoff", (int) spec->min_backoff,
                     "executionTimeout", (int) spec->execution_timeout);
}


json_t *
cf_bind_retry_state_json(const cf_retry_state_t *rs)
{
    return json_pack("{s:i, s:I, s:I, s:I}",
                     "retries", (int) rs->retries,
                     "retryAt", (json_int_t) rs->retry_at,
                     "timeoutAt", (json_int_t) rs->timeout_at,
                     "nextRetryAt", (json_int_t) rs->next_retry_at);
}


void
cf_bind_retry_spec_read(json_t *obj, cf_retry_spec_t *spec)
{
    /* normalized objects hold int32 values only */
    spec->max_retries = (int32_t) cf_bind_int(obj, "maxRetries");
    spec->min_backoff = (int32_t) cf_bind_int(obj, "minBackoff");
    spec->execution_timeout = (int32_t) cf_bind_int(obj, "executionTimeout");
}


void
cf_bind_retry_state_read(json_t *obj, cf_retry_state_t *rs)
{
    rs->retries = (int32_t) cf_bind_int(obj, "retries");
    rs->retry_at = cf_bind_int(obj, "retryAt");
    rs->timeout_at = cf_bind_int(obj, "timeoutAt");
    rs->next_retry_at = cf_bind_int(obj, "nextRetryAt");
}


int64_t
cf_bind_int(json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}
