
/*
 * Fuzz target: a command body as the nginx glue sees it, from the raw bytes
 * to the event applied to the aggregate.
 *
 * Input: byte 0 picks the command (or, with its high bit set, a stored
 * event type whose hostile body is replayed onto the aggregate), byte 1 the
 * aggregate the command meets (new, created, deleted), the rest is the body.
 * The body goes through cf_json_loadb() with JSON_REJECT_DUPLICATES exactly as
 * in ngx_http_compensation_request.c (an all-whitespace body is an empty
 * body), then cf_command_bind(), cf_decide() and cf_aggregate_apply(); the
 * resulting state is serialized and read back with cf_state_from_json().
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_fuzz.h"


static const char  fz_create_body[] =
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

static const cf_retry_spec_t  fz_default_spec = { 10, 180, 120 };

#define FZ_NOW  1719800000000LL


/* bind, decide and apply one command; 0 when it was applied */
static int
fz_exec(cf_aggregate_t *agg, cf_command_type_t type, json_t *body,
    int64_t now)
{
    int               rc, in_handler;
    char              sid[32];
    json_t           *j;
    cf_event_t        ev;
    cf_error_t        err;
    cf_command_t      cmd;
    cf_decide_ctx_t   ctx;
    cf_stream_meta_t  meta;

    cf_error_init(&err);

    rc = cf_command_bind(type, body, &cmd, &err);

    if (rc != 0) {
        FZ_ASSERT(cmd.body == NULL);
        FZ_ASSERT(!cf_error_is_ok(&err));
        j = cf_error_to_json(&err);
        json_decref(j);
        cf_error_free(&err);
        return -1;
    }

    FZ_ASSERT(json_is_object(cmd.body));

    /* a normalized body binds again to itself */
    {
        cf_command_t  again;
        cf_error_t    err2;

        cf_error_init(&err2);
        FZ_ASSERT(cf_command_bind(type, cmd.body, &again, &err2) == 0);
        FZ_ASSERT(json_equal(again.body, cmd.body));
        cf_command_free(&again);
        cf_error_free(&err2);
    }

    ctx.now = now;
    ctx.default_spec = &fz_default_spec;
    ctx.owner_id = NULL;
    ctx.expected_version = -1;

    rc = cf_decide(agg, &cmd, &ctx, &ev, &err, &in_handler);
    cf_command_free(&cmd);

    if (rc != 0) {
        FZ_ASSERT(!cf_error_is_ok(&err));
        j = cf_error_to_json(&err);
        json_decref(j);
        cf_error_free(&err);
        return -1;
    }

    snprintf(sid, sizeof(sid), "stream-%lld", (long long) agg->version + 1);
    meta.stream_id = sid;
    meta.version = agg->version + 1;
    meta.create_time = now;
    meta.operator_ = "op";

    rc = cf_aggregate_apply(agg, &meta, ev.type, ev.body, &err);
    /* an event the domain itself decided always applies */
    FZ_ASSERT(rc == 0);
    cf_event_free(&ev);
    cf_error_free(&err);

    return 0;
}


/* the state survives its JSON round trip */
static void
fz_roundtrip(cf_aggregate_t *agg)
{
    json_t          *j, *k;
    cf_error_t       err;
    cf_aggregate_t   back;

    if (agg->version == 0) {
        return;
    }

    j = cf_state_to_json(&agg->state);
    FZ_ASSERT(j != NULL);

    FZ_ASSERT(cf_aggregate_init(&back, agg->state.id) == 0);
    cf_error_init(&err);

    if (cf_state_from_json(&back.state, j, &err) != 0) {
        fprintf(stderr, "state does not read back: %s\n", err.msg);
        abort();
    }

    k = cf_state_to_json(&back.state);
    FZ_ASSERT(k != NULL);
    FZ_ASSERT(json_equal(j, k));

    json_decref(k);
    cf_aggregate_free(&back);
    cf_error_free(&err);
    json_decref(j);
}


/* a hostile stored snapshot state */
static void
fz_load_state(json_t *body)
{
    cf_error_t       err;
    cf_aggregate_t   back;

    if (cf_aggregate_init(&back, "agg-1") != 0) {
        return;
    }

    cf_error_init(&err);
    (void) cf_state_from_json(&back.state, body, &err);
    cf_error_free(&err);
    cf_aggregate_free(&back);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 i;
    uint8_t             sel, setup;
    json_t             *body, *created;
    cf_error_t          err;
    json_error_t        jerr;
    const uint8_t      *p, *last;
    cf_aggregate_t      agg;
    cf_stream_meta_t    meta;

    if (size < 2) {
        return 0;
    }

    sel = data[0];
    setup = data[1];
    data += 2;
    size -= 2;

    if (cf_aggregate_init(&agg, "agg-1") != 0) {
        return 0;
    }

    /* the aggregate the command meets */
    if (setup % 3 != 0) {
        created = json_loads(fz_create_body, 0, NULL);
        FZ_ASSERT(created != NULL);
        FZ_ASSERT(fz_exec(&agg, CF_CMD_CREATE_EXECUTION_FAILED, created,
                          FZ_NOW) == 0);
        json_decref(created);

        if (setup % 3 == 2) {
            FZ_ASSERT(fz_exec(&agg, CF_CMD_DELETE_AGGREGATE, NULL,
                              FZ_NOW + 1) == 0);
        }
    }

    /* a body of only whitespace is an empty body (as the glue does) */
    for (p = data, last = data + size; p < last; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            break;
        }
    }

    body = NULL;

    if (p < last) {
        body = cf_json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES,
                             &jerr);
        if (body == NULL) {
            goto done;
        }
    }

    if (sel & 0x80) {
        /* a stored event of any type with this body: replay must be safe */
        cf_error_init(&err);
        meta.stream_id = "stream-x";
        meta.version = agg.version + 1;
        meta.create_time = FZ_NOW + 2;
        meta.operator_ = "";

        if (body) {
            fz_load_state(body);
            (void) cf_aggregate_apply(&agg, &meta,
                                      (cf_event_type_t)
                                          ((sel & 0x7f) % CF_EV__COUNT),
                                      body, &err);
        }

        cf_error_free(&err);

    } else {
        (void) fz_exec(&agg, (cf_command_type_t) (sel % CF_CMD__COUNT),
                       body, FZ_NOW + 3);

        /* and the same body for every other command too */
        for (i = 0; i < CF_CMD__COUNT && (sel & 0x40); i++) {
            (void) fz_exec(&agg, (cf_command_type_t) i, body, FZ_NOW + 4 + i);
        }
    }

    fz_roundtrip(&agg);

    json_decref(body);

done:

    cf_aggregate_free(&agg);

    return 0;
}
