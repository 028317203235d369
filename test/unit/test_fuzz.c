
/*
 * Hostile input: random JSON of every shape, and valid documents with random
 * mutations, thrown at binding, sourcing and snapshot loading.  Nothing may
 * crash or leak (ASan/LSan watch), and anything accepted is normalized.
 */


#include <stdio.h>
#include <stdlib.h>

#include "cf_test.h"


typedef struct {
    uint64_t  s;
} rnd_t;


static uint32_t
rnd(rnd_t *r)
{
    /* xorshift64* */
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;

    return (uint32_t) ((r->s * 2685821657736338717ULL) >> 32);
}


static const char *const  keys[] = {
    "eventId", "id", "aggregateId", "contextName", "aggregateName",
    "tenantId", "version", "function", "functionKind", "processorName",
    "name", "error", "errorCode", "errorMsg", "stackTrace", "bindingErrors",
    "msg", "executeAt", "retrySpec", "maxRetries", "minBackoff",
    "executionTimeout", "retryState", "retries", "retryAt", "timeoutAt",
    "nextRetryAt", "status", "recoverable", "x", ""
};

#define NKEYS  (sizeof(keys) / sizeof(keys[0]))


static json_t *
random_value(rnd_t *r, int depth)
{
    int      i, n;
    json_t  *v;

    static const char *const  strings[] = {
        "", "EVENT", "event", "UNKNOWN", "recoverable", "FAILED", "x",
        "\xc3\xa9", "STATE_EVENT", "Prepared"
    };

    switch (rnd(r) % (depth > 3 ? 7 : 9)) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(rnd(r) & 1);
    case 2:
        switch (rnd(r) % 6) {
        case 0: return json_integer(INT64_MAX);
        case 1: return json_integer(INT64_MIN);
        case 2: return json_integer((json_int_t) INT32_MAX + 1);
        case 3: return json_integer(-1);
        default: return json_integer(rnd(r) % 100);
        }
    case 3:
        return json_real((double) rnd(r) / 7.0);
    case 4:
        return json_string(strings[rnd(r) % 10]);
    case 5:
        return json_stringn("a\0b", 3);
    case 6:
        return json_integer(rnd(r));
    case 7:
        v = json_array();
        n = rnd(r) % 4;
        for (i = 0; i < n; i++) {
            json_array_append_new(v, random_value(r, depth + 1));
        }
        return v;
    default:
        v = json_object();
        n = rnd(r) % 6;
        for (i = 0; i < n; i++) {
            json_object_set_new(v, keys[rnd(r) % NKEYS],
                                random_value(r, depth + 1));
        }
        return v;
    }
}


/* replaces a random value somewhere inside j */
static void
mutate(rnd_t *r, json_t *j, int depth)
{
    size_t       n, k;
    json_t      *child;
    const char  *key;

    if (json_is_object(j) && json_object_size(j) > 0) {
        n = rnd(r) % json_object_size(j);
        k = 0;

        json_object_foreach(j, key, child) {
            if (k++ == n) {
                break;
            }
        }

        if (depth < 4 && (json_is_object(child) || json_is_array(child))
            && rnd(r) % 2)
        {
            mutate(r, child, depth + 1);

        } else if (rnd(r) % 5 == 0) {
            json_object_del(j, key);

        } else {
            json_object_set_new(j, key, random_value(r, 2));
        }

    } else if (json_is_array(j) && json_array_size(j) > 0) {
        json_array_set_new(j, rnd(r) % json_array_size(j),
                           random_value(r, 2));
    }
}


static void
check_normalized(json_t *body)
{
    char    *s;
    json_t  *again;

    /* accepted bodies are objects that survive a dump/load cycle */
    CHECK(json_is_object(body));

    s = json_dumps(body, JSON_COMPACT);
    CHECK(s != NULL);
    again = s ? json_loads(s, 0, NULL) : NULL;
    CHECK(again != NULL);
    json_decref(again);
    free(s);
}


static void
test_fuzz_bind(void)
{
    int            i, t, accepted;
    rnd_t          r;
    json_t        *j;
    cf_error_t     err;
    cf_command_t   cmd;

    r.s = 0x9e3779b97f4a7c15ULL;
    accepted = 0;

    for (i = 0; i < 20000; i++) {
        t = (int) (rnd(&r) % CF_CMD__COUNT);

        if (rnd(&r) % 2) {
            j = random_value(&r, 0);

        } else {
            j = cf_t_json(t == CF_CMD_CREATE_EXECUTION_FAILED
                          ? cf_t_create_body
                          : t == CF_CMD_APPLY_RETRY_SPEC
                          ? "{\"maxRetries\":1,\"minBackoff\":1,"
                            "\"executionTimeout\":1}"
                          : "{\"executeAt\":1,\"recoverable\":\"UNKNOWN\","
                            "\"error\":{\"errorCode\":\"a\",\"errorMsg\":"
                            "\"b\",\"stackTrace\":\"c\"},\"functionKind\":"
                            "\"EVENT\",\"contextName\":\"c\","
                            "\"processorName\":\"p\",\"name\":\"n\"}");
            mutate(&r, j, 0);
            mutate(&r, j, 0);
        }

        cf_error_init(&err);

        if (cf_command_bind((cf_command_type_t) t, j, &cmd, &err) == 0) {
            accepted++;
            CHECK(cf_error_is_ok(&err));
            check_normalized(cmd.body);
            cf_command_free(&cmd);

        } else {
            CHECK(cmd.body == NULL);
            CHECK_STR(err.code, CF_E_ILLEGAL_ARGUMENT);
            CHECK(err.msg[0] != '\0');
            CHECK(json_array_size(err.binding_errors) <= 32);
        }

        cf_error_free(&err);
        json_decref(j);
    }

    /* the mutations leave some bodies valid */
    CHECK(accepted > 100);
}


static void
test_fuzz_apply_and_load(void)
{
    int               i, t;
    char             *before, *after;
    rnd_t             r;
    json_t           *j, *s;
    cf_error_t        err;
    cf_aggregate_t    agg;
    cf_stream_meta_t  meta;

    r.s = 0x0123456789abcdefULL;

    cf_t_created(&agg);
    EXEC_OK(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, CF_T_EXECUTE_AT + 10);

    meta.stream_id = "fuzz";
    meta.create_time = 1;
    meta.operator_ = "f";

    for (i = 0; i < 20000; i++) {
        t = (int) (rnd(&r) % CF_EV__COUNT);

        j = random_value(&r, 0);

        s = cf_state_to_json(&agg.state);
        before = cf_t_dump(s);
        json_decref(s);

        meta.version = agg.version + 1;

        cf_error_init(&err);

        if (t == CF_EV_EXECUTION_FAILED_CREATED) {
            /* must always fail: the aggregate exists */
            CHECK_INT(cf_aggregate_apply(&agg, &meta, (cf_event_type_t) t, j,
                                         &err), -1);

        } else if (cf_aggregate_apply(&agg, &meta, (cf_event_type_t) t, j,
                                      &err) != 0)
        {
            CHECK_STR(err.code, CF_E_INTERNAL);

            s = cf_state_to_json(&agg.state);
            after = cf_t_dump(s);
            json_decref(s);
            CHECK_STR(after, before);
            free(after);
        }

        cf_error_free(&err);
        json_decref(j);
        free(before);

        /* snapshot loading: random, and the real state mutated */
        j = rnd(&r) % 2 ? random_value(&r, 0) : cf_state_to_json(&agg.state);
        mutate(&r, j, 0);

        cf_error_init(&err);

        {
            cf_aggregate_t  other;

            if (cf_aggregate_init(&other, "agg-1") != 0) {
                abort();
            }

            if (cf_state_from_json(&other.state, j, &err) == 0) {
                s = cf_state_to_json(&other.state);
                CHECK(s != NULL);
                json_decref(s);

            } else {
                CHECK_STR(err.code, CF_E_INTERNAL);
            }

            cf_aggregate_free(&other);
        }

        cf_error_free(&err);
        json_decref(j);
    }

    cf_aggregate_free(&agg);
}


static void
test_fuzz_decide(void)
{
    int               i, t, h, rc;
    rnd_t             r;
    json_t           *j;
    cf_error_t        err;
    cf_event_t        ev;
    cf_command_t      cmd;
    cf_aggregate_t    agg;
    cf_decide_ctx_t   ctx;
    cf_stream_meta_t  meta;
    cf_retry_spec_t   spec = { 10, 180, 120 };

    static const char *const  bodies[CF_CMD__COUNT] = {
        NULL, NULL, NULL,
        "{\"executeAt\":1}",
        "{\"executeAt\":1,\"error\":{\"errorCode\":\"a\",\"errorMsg\":\"b\","
        "\"stackTrace\":\"c\"}}",
        "{\"maxRetries\":12,\"minBackoff\":1,\"executionTimeout\":1}",
        "{\"functionKind\":\"EVENT\",\"contextName\":\"c\","
        "\"processorName\":\"p\",\"name\":\"n\"}",
        "{\"recoverable\":\"RECOVERABLE\"}",
        NULL, NULL,
        "{\"tags\":{\"dept\":[\"eng\",\"pm\"]}}"
    };

    r.s = 42;

    cf_t_created(&agg);

    ctx.default_spec = &spec;
    ctx.owner_id = NULL;
    ctx.expected_version = -1;
    ctx.now = CF_T_EXECUTE_AT;

    meta.stream_id = "d";
    meta.create_time = 1;
    meta.operator_ = "";

    /* random walks through the state machine; every event applies */
    for (i = 0; i < 20000; i++) {
        t = 1 + (int) (rnd(&r) % (CF_CMD__COUNT - 1));
        ctx.now += rnd(&r) % 200000;

        j = bodies[t] ? cf_t_json(bodies[t]) : NULL;

        if (t == CF_CMD_MARK_RECOVERABLE && rnd(&r) % 2) {
            json_object_set_new(j, "recoverable",
                                json_string(rnd(&r) % 2 ? "UNKNOWN"
                                                        : "UNRECOVERABLE"));
        }

        cf_error_init(&err);
        rc = cf_command_bind((cf_command_type_t) t, j, &cmd, &err);
        CHECK_INT(rc, 0);
        json_decref(j);

        if (cf_decide(&agg, &cmd, &ctx, &ev, &err, &h) == 0) {
            meta.version = agg.version + 1;
            CHECK_INT(cf_aggregate_apply(&agg, &meta, ev.type, ev.body, &err),
                      0);
            cf_event_free(&ev);

        } else {
            CHECK(ev.body == NULL);
            CHECK(!cf_error_is_ok(&err));
        }

        cf_command_free(&cmd);
        cf_error_free(&err);
    }

    CHECK(agg.version > 1000);

    cf_aggregate_free(&agg);
}


const cf_test_t  cf_tests_fuzz[] = {
    { "fuzz: binding random and mutated bodies", test_fuzz_bind },
    { "fuzz: sourcing and loading random documents",
      test_fuzz_apply_and_load },
    { "fuzz: random command walks stay consistent", test_fuzz_decide },
    { NULL, NULL }
};
