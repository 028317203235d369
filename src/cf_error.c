
/*
 * ngx_compensation: error codes, their HTTP status and their JSON form
 * (spec 3.4, 3.5).
 */


#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cf_domain.h"


/* a hostile body must not turn into an unbounded error document */
#define CF_MAX_BINDING_ERRORS  32


typedef struct {
    const char  *code;
    int          status;
} cf_error_status_t;


static void cf_utf8_sanitize(char *s);


static const cf_error_status_t  cf_error_statuses[] = {
    { CF_OK,                          200 },
    { CF_E_NOT_FOUND,                 404 },
    { CF_E_BAD_REQUEST,               400 },
    { CF_E_ILLEGAL_ARGUMENT,          400 },
    { CF_E_ILLEGAL_STATE,             400 },
    { CF_E_COMMAND_VALIDATION,        400 },
    { CF_E_DUPLICATE_REQUEST_ID,      400 },
    { CF_E_DUPLICATE_AGGREGATE_ID,    400 },
    { CF_E_REQUEST_TIMEOUT,           408 },
    { CF_E_TOO_MANY_REQUESTS,         429 },
    { CF_E_EVENT_VERSION_CONFLICT,    409 },
    { CF_E_EXPECT_VERSION_CONFLICT,   409 },
    { CF_E_SOURCING_VERSION_CONFLICT, 409 },
    { CF_E_DELETED_AGGREGATE,         410 },
    { CF_E_OWNER_AGGREGATE,           403 },
    { CF_E_INTERNAL,                  500 },
    { CF_E_SERVICE_UNAVAILABLE,       503 },
    { NULL,                           0 }
};


void
cf_error_init(cf_error_t *err)
{
    err->code = CF_OK;
    err->msg[0] = '\0';
    err->binding_errors = NULL;
}


void
cf_error_set(cf_error_t *err, const char *code, const char *fmt, ...)
{
    char     msg[sizeof(err->msg)];
    va_list  args;

    /* formatted apart: an argument may be err->msg itself */
    va_start(args, fmt);
    vsnprintf(msg, sizeof(msg), fmt, args);
    va_end(args);

    err->code = code;
    memcpy(err->msg, msg, sizeof(msg));

    cf_utf8_sanitize(err->msg);
}


void
cf_error_add_binding(cf_error_t *err, const char *name, const char *fmt, ...)
{
    char      msg[256], nm[256];
    json_t   *item;
    va_list   args;

    va_start(args, fmt);
    vsnprintf(msg, sizeof(msg), fmt, args);
    va_end(args);

    snprintf(nm, sizeof(nm), "%s", name);
    name = nm;

    cf_utf8_sanitize(msg);
    cf_utf8_sanitize(nm);

    if (cf_error_is_ok(err)) {
        cf_error_set(err, CF_E_ILLEGAL_ARGUMENT, "%s: %s", name, msg);
    }

    if (err->binding_errors == NULL) {
        err->binding_errors = json_array();
        if (err->binding_errors == NULL) {
            return;
        }
    }

    if (json_array_size(err->binding_errors) >= CF_MAX_BINDING_ERRORS) {
        return;
    }

    /* best effort: without memory the message above still tells the story */
    item = json_pack("{s:s, s:s}", "name", name, "msg", msg);
    if (item != NULL) {
        json_array_append_new(err->binding_errors, item);
    }
}


void
cf_error_free(cf_error_t *err)
{
    json_decref(err->binding_errors);
    err->binding_errors = NULL;
}


int
cf_error_is_ok(const cf_error_t *err)
{
    return err->code == NULL || strcmp(err->code, CF_OK) == 0;
}


int
cf_error_http_status(const char *code)
{
    const cf_error_status_t  *e;

    if (code == NULL) {
        return 200;
    }

    for (e = cf_error_statuses; e->code; e++) {
        if (strcmp(e->code, code) == 0) {
            return e->status;
        }
    }

    return 400;
}


json_t *
cf_error_to_json(const cf_error_t *err)
{
    json_t      *j, *be;
    const char  *code;

    code = err->code ? err->code : CF_OK;

    j = json_object();
    if (j == NULL) {
        return NULL;
    }

    if (json_object_set_new(j, "errorCode", json_string(code)) != 0
        || json_object_set_new(j, "errorMsg", json_string(err->msg)) != 0)
    {
        goto failed;
    }

    if (json_array_size(err->binding_errors) > 0) {
        be = json_deep_copy(err->binding_errors);
        if (json_object_set_new(j, "bindingErrors", be) != 0) {
            goto failed;
        }
    }

    if (json_object_set_new(j, "succeeded",
                            json_boolean(strcmp(code, CF_OK) == 0))
        != 0)
    {
        goto failed;
    }

    return j;

failed:

    json_decref(j);
    return NULL;
}


/*
 * Replaces every byte that does not start a valid UTF-8 sequence with '?':
 * messages may quote ids or be cut in the middle of a character, and jansson
 * refuses invalid UTF-8.
 */
static void
cf_utf8_sanitize(char *s)
{
    size_t          i, n, k;
    unsigned char  *p, lo, hi;

    p = (unsigned char *) s;

    for (i = 0; p[i]; i += n) {

        lo = 0x80;
        hi = 0xbf;

        if (p[i] < 0x80) {
            n = 1;
            continue;
        }

        if (p[i] >= 0xc2 && p[i] <= 0xdf) {
            n = 2;

        } else if (p[i] >= 0xe0 && p[i] <= 0xef) {
            n = 3;
            if (p[i] == 0xe0) {
                lo = 0xa0;
            } else if (p[i] == 0xed) {
                hi = 0x9f;
            }

        } else if (p[i] >= 0xf0 && p[i] <= 0xf4) {
            n = 4;
            if (p[i] == 0xf0) {
                lo = 0x90;
            } else if (p[i] == 0xf4) {
                hi = 0x8f;
            }

        } else {
            p[i] = '?';
            n = 1;
            continue;
        }

        /* the second byte has the narrowed range, the others 80-bf */
        for (k = 1; k < n; k++) {
            if (p[i + k] < (k == 1 ? lo : 0x80)
                || p[i + k] > (k == 1 ? hi : 0xbf))
            {
                break;
            }
        }

        if (k < n) {
            p[i] = '?';
            n = 1;
        }
    }
}
