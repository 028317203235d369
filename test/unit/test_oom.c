
/*
 * Out of memory: the Nth jansson allocation fails, for every N a scenario
 * reaches.  Every step must then fail cleanly (ASan/LSan watch for crashes
 * and leaks) and leave the aggregate usable.
 */


#include <stdio.h>
#include <stdlib.h>

#include "cf_test.h"


/* the allocation counter of the injector; test-only state */
static size_t  oom_count;
static size_t  oom_fail_at;


static void *
oom_malloc(size_t n)
{
    if (oom_fail_at && ++oom_count == oom_fail_at) {
        return NULL;
    }

    return malloc(n);
}


static void
oom_free(void *p)
{
    free(p);
}


static void
scenario(json_t *create, json_t *failed, json_t *bad, json_t *state)
{
    int               h, rc;
    json_t           *j;
    cf_error_t        err;
    cf_event_t        ev;
    cf_command_t      cmd;
    cf_aggregate_t    agg, other;
    cf_decide_ctx_t   ctx;
    cf_stream_meta_t  meta = { "s", 0, 1, "op" };
    cf_retry_spec_t   spec = { 10, 180, 120 };

    static const cf_command_type_t  steps[] = {
        CF_CMD_CREATE_EXECUTION_FAILED, CF_CMD_PREPARE_COMPENSATION,
        CF_CMD_APPLY_EXECUTION_FAILED, CF_CMD_FORCE_PREPARE_COMPENSATION,
        CF_CMD_CREATE_EXECUTION_FAILED, CF_CMD_DELETE_AGGREGATE
    };

    size_t  i;

    ctx.now = CF_T_EXECUTE_AT + 1;
    ctx.default_spec = &spec;
    ctx.owner_id = NULL;
    ctx.expected_version = -1;

    if (cf_aggregate_init(&agg, "agg-1") != 0) {
        abort();
    }

    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        cf_error_init(&err);

        rc = cf_command_bind(steps[i],
                             steps[i] == CF_CMD_CREATE_EXECUTION_FAILED
                             ? (i == 0 ? create : bad)
                             : steps[i] == CF_CMD_APPLY_EXECUTION_FAILED
                             ? failed : NULL,
                             &cmd, &err);

        if (rc == 0) {
            if (cf_decide(&agg, &cmd, &ctx, &ev, &err, &h) == 0) {
                meta.version = agg.version + 1;

                if (cf_aggregate_apply(&agg, &meta, ev.type, ev.body, &err)
                    != 0)
                {
                    CHECK(!cf_error_is_ok(&err));
                }

                cf_event_free(&ev);

            } else {
                CHECK(ev.body == NULL);
            }

            cf_command_free(&cmd);

        } else {
            CHECK(cmd.body == NULL);
            CHECK(!cf_error_is_ok(&err));
        }

        j = cf_error_to_json(&err);
        json_decref(j);

        cf_error_free(&err);

        ctx.now += 1000000;
    }

    j = cf_state_to_json(&agg.state);

    if (cf_aggregate_init(&other, NULL) != 0) {
        abort();
    }

    free(other.state.id);
    other.state.id = NULL;

    cf_error_init(&err);
    (void) cf_state_from_json(&other.state, j ? j : state, &err);
    cf_error_free(&err);

    json_decref(j);

    cf_aggregate_free(&other);
    cf_aggregate_free(&agg);
}


static void
test_oom(void)
{
    size_t   n, reached;
    json_t  *create, *failed, *bad, *state;

    create = cf_t_json(cf_t_create_body);
    failed = cf_t_json("{\"error\":{\"errorCode\":\"E\",\"errorMsg\":\"m\","
                       "\"stackTrace\":\"s\",\"bindingErrors\":"
                       "[{\"name\":\"a\",\"msg\":\"b\"}]},\"executeAt\":1}");
    bad = cf_t_json("{\"eventId\":1,\"function\":[],\"error\":{},"
                    "\"executeAt\":\"x\"}");
    state = cf_t_json("{}");

    reached = 0;

    for (n = 1; n < 100000; n++) {
        oom_count = 0;
        oom_fail_at = n;

        json_set_alloc_funcs(oom_malloc, oom_free);
        scenario(create, failed, bad, state);
        json_set_alloc_funcs(malloc, free);

        if (oom_count < n) {
            /* the scenario ran out of allocations before the Nth */
            break;
        }

        reached = n;
    }

    oom_fail_at = 0;

    printf("#   %zu allocation failures injected\n", reached);

    /* the scenario allocates enough to have exercised many paths */
    CHECK(reached > 200);
    CHECK(n < 100000);

    json_decref(create);
    json_decref(failed);
    json_decref(bad);
    json_decref(state);
}


const cf_test_t  cf_tests_oom[] = {
    { "oom: every jansson allocation failing once", test_oom },
    { NULL, NULL }
};
