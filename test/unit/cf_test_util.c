
/*
 * ngx_compensation unit tests: helpers that drive the domain as the nginx
 * glue does (bind, decide, apply).
 */


#include <stdio.h>
#include <stdlib.h>

#include "cf_test.h"


const char  cf_t_create_body[] =
    "{\"eventId\":{\"id\":\"0U2mSzz10001001\","
    "\"aggregateId\":{\"contextName\":\"order-service\","
    "\"aggregateName\":\"order\",\"aggregateId\":\"0U2mSz9k0001000\","
    "\"tenantId\":\"(0)\"},\"version\":1},"
    "\"function\":{\"functionKind\":\"EVENT\","
    "\"contextName\":\"order-service\","
    "\"processorName\":\"OrderProjector\",\"name\":\"onOrderCreated\"},"
    "\"error\":{\"errorCode\":\"BadRequest\",\"errorMsg\":\"boom\","
    "\"stackTrace\":\"java.lang...\","
    "\"bindingErrors\":[{\"name\":\"a\",\"msg\":\"b\"}]},"
    "\"executeAt\":1719800000000}";


static const cf_retry_spec_t  cf_t_default_spec = { 10, 180, 120 };


json_t *
cf_t_json(const char *text)
{
    json_t        *j;
    json_error_t   e;

    j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (j == NULL) {
        fprintf(stderr, "bad test JSON: %s: %s\n", e.text, text);
        abort();
    }

    return j;
}


char *
cf_t_dump(json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}


int
cf_t_exec(cf_aggregate_t *agg, cf_command_type_t type, const char *body,
    int64_t now, int64_t expected_version, const char *owner,
    cf_error_t *err, int *in_handler)
{
    int               rc;
    char              sid[32];
    json_t           *b;
    cf_event_t        ev;
    cf_command_t      cmd;
    cf_decide_ctx_t   ctx;
    cf_stream_meta_t  meta;

    b = body ? cf_t_json(body) : NULL;

    *in_handler = -1;

    rc = cf_command_bind(type, b, &cmd, err);
    json_decref(b);

    if (rc != 0) {
        return -1;
    }

    ctx.now = now;
    ctx.default_spec = &cf_t_default_spec;
    ctx.owner_id = owner;
    ctx.expected_version = expected_version;

    rc = cf_decide(agg, &cmd, &ctx, &ev, err, in_handler);
    cf_command_free(&cmd);

    if (rc != 0) {
        return -1;
    }

    snprintf(sid, sizeof(sid), "stream-%lld", (long long) agg->version + 1);

    meta.stream_id = sid;
    meta.version = agg->version + 1;
    meta.create_time = now;
    meta.operator_ = agg->version == 0 ? "first-op" : "op";

    rc = cf_aggregate_apply(agg, &meta, ev.type, ev.body, err);
    cf_event_free(&ev);

    return rc;
}


int
cf_t_exec_ok(cf_aggregate_t *agg, cf_command_type_t type, const char *body,
    int64_t now, const char *file, int line)
{
    int         rc, h;
    char        what[600];
    cf_error_t  err;

    cf_error_init(&err);

    rc = cf_t_exec(agg, type, body, now, -1, NULL, &err, &h);

    snprintf(what, sizeof(what), "%s succeeds (%s: %s)",
             cf_command_info(type)->name, err.code, err.msg);

    cf_test_check(rc == 0, what, file, line);

    cf_error_free(&err);

    return rc;
}


int
cf_t_exec_fail(cf_aggregate_t *agg, cf_command_type_t type,
    const char *body, int64_t now, const char *code, const char *msg,
    int handler, const char *file, int line)
{
    int          rc, h, ok;
    char         what[128];
    int64_t      version;
    cf_error_t   err;

    cf_error_init(&err);

    version = agg->version;

    rc = cf_t_exec(agg, type, body, now, -1, NULL, &err, &h);

    snprintf(what, sizeof(what), "%s fails", cf_command_info(type)->name);

    ok = cf_test_check(rc != 0, what, file, line)
         && cf_test_check_str(err.code, code, "error code", file, line)
         && (msg == NULL
             || cf_test_check_str(err.msg, msg, "error msg", file, line))
         && cf_test_check_int(h, handler, "in_handler", file, line)
         && cf_test_check_int(agg->version, version, "version unchanged",
                              file, line);

    cf_error_free(&err);

    return ok ? 0 : -1;
}


void
cf_t_created(cf_aggregate_t *agg)
{
    if (cf_aggregate_init(agg, "agg-1") != 0) {
        abort();
    }

    (void) EXEC_OK(agg, CF_CMD_CREATE_EXECUTION_FAILED, cf_t_create_body,
                   CF_T_EXECUTE_AT + 5);
}
