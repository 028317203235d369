
/*
 * The state: predicates (spec 1.3), JSON (spec 1.2, 5.1), loading damaged
 * snapshots, events and sourcing (spec 2).
 */


#include <stdio.h>
#include <stdlib.h>

#include "cf_test.h"


/* the state of the spec 5.1 example, in wire order */
static const char  example_state[] =
    "{\"id\":\"0U2mT0zV0004002\","
    "\"eventId\":{\"id\":\"0U2mSzz10001001\",\"aggregateId\":"
    "{\"contextName\":\"order-service\",\"aggregateName\":\"order\","
    "\"aggregateId\":\"0U2mSz9k0001000\",\"tenantId\":\"(0)\"},"
    "\"version\":1},"
    "\"function\":{\"functionKind\":\"EVENT\","
    "\"contextName\":\"order-service\",\"processorName\":\"OrderProjector\","
    "\"name\":\"onOrderCreated\"},"
    "\"error\":{\"errorCode\":\"BadRequest\",\"errorMsg\":\"boom\","
    "\"stackTrace\":\"java.lang...\",\"succeeded\":false},"
    "\"executeAt\":1719800000000,"
    "\"retrySpec\":{\"maxRetries\":10,\"minBackoff\":180,"
    "\"executionTimeout\":120},"
    "\"retryState\":{\"retries\":1,\"retryAt\":1719800180500,"
    "\"timeoutAt\":1719800300500,\"nextRetryAt\":1719800540500},"
    "\"status\":\"PREPARED\",\"recoverable\":\"UNKNOWN\","
    "\"isBelowRetryThreshold\":true,\"isRetryable\":true}";


static int
load_state(cf_aggregate_t *agg, const char *id, const char *text)
{
    int          rc;
    json_t      *j;
    cf_error_t   err;

    if (cf_aggregate_init(agg, id) != 0) {
        abort();
    }

    cf_error_init(&err);

    j = cf_t_json(text);
    rc = cf_state_from_json(&agg->state, j, &err);
    json_decref(j);

    cf_error_free(&err);

    return rc;
}


static void
test_predicates(void)
{
    cf_state_t  st;

    memset(&st, 0, sizeof(st));

    st.retry_spec.max_retries = 10;
    st.retry_state.retries = 9;
    st.retry_state.timeout_at = 1000;

    st.status = CF_STATUS_FAILED;
    CHECK(cf_state_is_below_retry_threshold(&st));
    CHECK(cf_state_is_retryable(&st));
    CHECK(cf_state_can_force_retry(&st, 0));
    CHECK(cf_state_can_retry(&st, 0));

    st.status = CF_STATUS_PREPARED;
    CHECK(cf_state_is_retryable(&st));      /* time is not considered */
    CHECK(!cf_state_can_force_retry(&st, 999));
    CHECK(!cf_state_can_force_retry(&st, 1000));    /* strictly after */
    CHECK(cf_state_can_force_retry(&st, 1001));
    CHECK(!cf_state_can_retry(&st, 1000));
    CHECK(cf_state_can_retry(&st, 1001));

    st.status = CF_STATUS_SUCCEEDED;
    CHECK(!cf_state_is_retryable(&st));
    CHECK(cf_state_is_below_retry_threshold(&st));
    CHECK(!cf_state_can_force_retry(&st, INT64_MAX));
    CHECK(!cf_state_can_retry(&st, INT64_MAX));

    st.status = CF_STATUS_FAILED;
    st.retry_state.retries = 10;
    CHECK(!cf_state_is_below_retry_threshold(&st));
    CHECK(!cf_state_is_retryable(&st));
    CHECK(cf_state_can_force_retry(&st, 0));
    CHECK(!cf_state_can_retry(&st, 0));

    st.retry_state.retries = 11;
    st.status = CF_STATUS_PREPARED;
    CHECK(cf_state_can_force_retry(&st, 1001));
    CHECK(!cf_state_can_retry(&st, 1001));
}


static void
test_state_example(void)
{
    json_t          *j;
    cf_aggregate_t   agg;

    CHECK_INT(load_state(&agg, "0U2mT0zV0004002", example_state), 0);

    CHECK_INT(agg.state.status, CF_STATUS_PREPARED);
    CHECK_INT(agg.state.recoverable, CF_RECOVERABLE_UNKNOWN);
    CHECK_INT(agg.state.retry_state.retries, 1);
    CHECK_INT(agg.state.retry_state.next_retry_at, 1719800540500LL);
    CHECK_INT(agg.state.retry_spec.min_backoff, 180);
    CHECK_INT(agg.state.execute_at, 1719800000000LL);

    /* "succeeded" is computed, never stored */
    CHECK(json_object_get(agg.state.error, "succeeded") == NULL);

    j = cf_state_to_json(&agg.state);
    CHECK_JSON(j, example_state);
    json_decref(j);

    cf_aggregate_free(&agg);
}


static void
test_state_round_trip(void)
{
    int              i;
    char            *a, *b;
    json_t          *j1, *j2;
    cf_error_t       err;
    cf_aggregate_t   agg, copy;

    /* a created state with binding errors, then a few transitions */
    cf_t_created(&agg);

    for (i = 0; i < 4; i++) {
        switch (i) {
        case 1:
            EXEC_OK(&agg, CF_CMD_PREPARE_COMPENSATION, NULL,
                    CF_T_EXECUTE_AT + 1000);
            break;
        case 2:
            EXEC_OK(&agg, CF_CMD_APPLY_EXECUTION_FAILED,
                    "{\"error\":{\"errorCode\":\"E\",\"errorMsg\":"
                    "\"\\u00e9\\\"\\n\",\"stackTrace\":\"\"},"
                    "\"executeAt\":-1,\"recoverable\":\"unrecoverable\"}",
                    CF_T_EXECUTE_AT + 2000);
            break;
        case 3:
            EXEC_OK(&agg, CF_CMD_APPLY_RETRY_SPEC,
                    "{\"maxRetries\":0,\"minBackoff\":0,"
                    "\"executionTimeout\":2147483647}",
                    CF_T_EXECUTE_AT + 3000);
            break;
        default:
            break;
        }

        j1 = cf_state_to_json(&agg.state);
        CHECK(j1 != NULL);

        if (cf_aggregate_init(&copy, NULL) != 0) {
            abort();
        }

        free(copy.state.id);
        copy.state.id = NULL;

        cf_error_init(&err);
        CHECK_INT(cf_state_from_json(&copy.state, j1, &err), 0);
        cf_error_free(&err);

        j2 = cf_state_to_json(&copy.state);

        a = cf_t_dump(j1);
        b = cf_t_dump(j2);
        CHECK_STR(b, a);
        free(a);
        free(b);

        json_decref(j1);
        json_decref(j2);
        cf_aggregate_free(&copy);
    }

    cf_aggregate_free(&agg);

    /* an uninitialized state round-trips too */
    if (cf_aggregate_init(&agg, "new") != 0) {
        abort();
    }

    j1 = cf_state_to_json(&agg.state);
    CHECK_JSON(j1, "{\"id\":\"new\",\"eventId\":null,\"function\":null,"
                   "\"error\":null,\"executeAt\":0,\"retrySpec\":"
                   "{\"maxRetries\":0,\"minBackoff\":0,"
                   "\"executionTimeout\":0},\"retryState\":{\"retries\":0,"
                   "\"retryAt\":0,\"timeoutAt\":0,\"nextRetryAt\":0},"
                   "\"status\":\"FAILED\",\"recoverable\":\"UNKNOWN\","
                   "\"isBelowRetryThreshold\":false,"
                   "\"isRetryable\":false}");

    cf_error_init(&err);
    CHECK_INT(cf_state_from_json(&agg.state, j1, &err), 0);
    cf_error_free(&err);

    j2 = cf_state_to_json(&agg.state);
    a = cf_t_dump(j1);
    b = cf_t_dump(j2);
    CHECK_STR(b, a);
    free(a);
    free(b);
    json_decref(j1);
    json_decref(j2);
    cf_aggregate_free(&agg);
}


static void
test_state_from_json_normalizes(void)
{
    json_t          *j;
    cf_aggregate_t   agg;

    /* shuffled keys, lower-case enums, stale computed fields, extras */
    CHECK_INT(load_state(&agg, "s1",
        "{\"isRetryable\":false,\"status\":\"succeeded\",\"extra\":[1,2],"
        "\"recoverable\":\"recoverable\",\"executeAt\":5,"
        "\"retryState\":{\"nextRetryAt\":4,\"timeoutAt\":3,\"retryAt\":2,"
        "\"retries\":1},\"retrySpec\":{\"executionTimeout\":3,"
        "\"minBackoff\":2,\"maxRetries\":1},\"error\":{\"succeeded\":true,"
        "\"stackTrace\":\"s\",\"errorMsg\":\"m\",\"errorCode\":\"Ok\","
        "\"bindingErrors\":[]},\"function\":{\"name\":\"n\","
        "\"processorName\":\"p\",\"contextName\":\"c\","
        "\"functionKind\":\"state_event\"},\"eventId\":{\"version\":2,"
        "\"aggregateId\":{\"tenantId\":\"t\",\"aggregateId\":\"a\","
        "\"aggregateName\":\"n\",\"contextName\":\"c\"},\"id\":\"e\"},"
        "\"id\":\"s1\",\"isBelowRetryThreshold\":true}"), 0);

    j = cf_state_to_json(&agg.state);
    CHECK_JSON(j, "{\"id\":\"s1\",\"eventId\":{\"id\":\"e\",\"aggregateId\":"
                  "{\"contextName\":\"c\",\"aggregateName\":\"n\","
                  "\"aggregateId\":\"a\",\"tenantId\":\"t\"},\"version\":2},"
                  "\"function\":{\"functionKind\":\"STATE_EVENT\","
                  "\"contextName\":\"c\",\"processorName\":\"p\","
                  "\"name\":\"n\"},\"error\":{\"errorCode\":\"Ok\","
                  "\"errorMsg\":\"m\",\"stackTrace\":\"s\","
                  "\"succeeded\":true},\"executeAt\":5,\"retrySpec\":"
                  "{\"maxRetries\":1,\"minBackoff\":2,"
                  "\"executionTimeout\":3},\"retryState\":{\"retries\":1,"
                  "\"retryAt\":2,\"timeoutAt\":3,\"nextRetryAt\":4},"
                  "\"status\":\"SUCCEEDED\",\"recoverable\":\"RECOVERABLE\","
                  "\"isBelowRetryThreshold\":false,\"isRetryable\":false}");
    json_decref(j);
    cf_aggregate_free(&agg);
}


static void
test_state_from_json_damaged(void)
{
    size_t           i;
    char            *before, *after;
    json_t          *j, *bad;
    cf_error_t       err;
    cf_aggregate_t   agg;

    static const char *const  damaged[] = {
        "[]", "null", "\"x\"", "1", "{}",
        "{\"id\":\"0U2mT0zV0004002\"}",
        /* each of these replaces one key of the example */
        "{\"id\":5}", "{\"id\":\"other\"}", "{\"id\":\"a\\u0000b\"}",
        "{\"eventId\":[]}", "{\"eventId\":{\"id\":\"x\"}}",
        "{\"function\":{\"functionKind\":\"NOPE\",\"contextName\":\"c\","
        "\"processorName\":\"p\",\"name\":\"n\"}}",
        "{\"error\":{\"errorCode\":1}}",
        "{\"error\":{\"errorCode\":\"a\",\"errorMsg\":\"b\","
        "\"stackTrace\":\"c\",\"bindingErrors\":{}}}",
        "{\"executeAt\":1.5}", "{\"executeAt\":\"1\"}",
        "{\"executeAt\":null}", "{\"retrySpec\":null}",
        "{\"retrySpec\":{\"maxRetries\":10,\"minBackoff\":180,"
        "\"executionTimeout\":2147483648}}",
        "{\"retryState\":{\"retries\":true}}",
        "{\"status\":\"DONE\"}", "{\"status\":null}",
        "{\"recoverable\":[\"UNKNOWN\"]}"
    };

    for (i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
        CHECK_INT(load_state(&agg, "0U2mT0zV0004002", example_state), 0);

        j = cf_state_to_json(&agg.state);
        before = cf_t_dump(j);

        bad = cf_t_json(damaged[i]);

        if (i >= 6) {
            /* a patch of the valid example */
            json_object_update(j, bad);
            json_decref(bad);
            bad = j;

        } else {
            json_decref(j);
        }

        cf_error_init(&err);

        if (!CHECK_INT(cf_state_from_json(&agg.state, bad, &err), -1)) {
            printf("#     damaged[%zu] = %s\n", i, damaged[i]);
        }

        CHECK_STR(err.code, CF_E_INTERNAL);
        cf_error_free(&err);

        json_decref(bad);

        /* unchanged */
        j = cf_state_to_json(&agg.state);
        after = cf_t_dump(j);
        CHECK_STR(after, before);
        json_decref(j);

        free(before);
        free(after);
        cf_aggregate_free(&agg);
    }
}


static void
test_events_table(void)
{
    int               i;
    cf_event_type_t   t;

    static const char *const  names[] = {
        "execution_failed_created", "compensation_prepared",
        "execution_success_applied", "execution_failed_applied",
        "retry_spec_applied", "function_changed", "recoverable_marked",
        "default_aggregate_deleted", "default_aggregate_recovered",
        "default_resource_tags_applied"
    };

    static const char *const  types[] = {
        "me.ahoo.wow.compensation.api.ExecutionFailedCreated",
        "me.ahoo.wow.compensation.api.CompensationPrepared",
        "me.ahoo.wow.compensation.api.ExecutionSuccessApplied",
        "me.ahoo.wow.compensation.api.ExecutionFailedApplied",
        "me.ahoo.wow.compensation.api.RetrySpecApplied",
        "me.ahoo.wow.compensation.api.FunctionChanged",
        "me.ahoo.wow.compensation.api.RecoverableMarked",
        "me.ahoo.wow.api.event.DefaultAggregateDeleted",
        "me.ahoo.wow.api.event.DefaultAggregateRecovered",
        "me.ahoo.wow.api.abac.DefaultResourceTagsApplied"
    };

    CHECK_INT(CF_EV__COUNT, 10);

    for (i = 0; i < CF_EV__COUNT; i++) {
        CHECK_STR(cf_event_name((cf_event_type_t) i), names[i]);
        CHECK_STR(cf_event_body_type((cf_event_type_t) i), types[i]);

        t = CF_EV__COUNT;
        CHECK(cf_event_parse_name(names[i], &t) == 0 && (int) t == i);
        t = CF_EV__COUNT;
        CHECK(cf_event_parse_name(types[i], &t) == 0 && (int) t == i);
    }

    CHECK(cf_event_parse_name("Execution_failed_created", &t) == -1);
    CHECK(cf_event_parse_name("", &t) == -1);
    CHECK(cf_event_parse_name(NULL, &t) == -1);
    CHECK_STR(cf_event_name(CF_EV__COUNT), "");
    CHECK_STR(cf_event_body_type((cf_event_type_t) -1), "");
}


static int
apply(cf_aggregate_t *agg, int64_t version, cf_event_type_t type,
    const char *body, const char *op)
{
    int               rc;
    json_t           *b;
    cf_error_t        err;
    cf_stream_meta_t  meta;

    meta.stream_id = "s";
    meta.version = version;
    meta.create_time = 100 + version;
    meta.operator_ = op;

    b = body ? cf_t_json(body) : NULL;

    cf_error_init(&err);
    rc = cf_aggregate_apply(agg, &meta, type, b, &err);

    if (rc != 0) {
        CHECK_STR(err.code, CF_E_INTERNAL);
        CHECK(err.msg[0] != '\0');
    }

    cf_error_free(&err);
    json_decref(b);

    return rc;
}


static void
test_apply_metadata(void)
{
    cf_aggregate_t   agg;

    cf_t_created(&agg);

    CHECK_INT(agg.version, 1);
    CHECK_STR(agg.last_stream_id, "stream-1");
    CHECK_STR(agg.first_operator, "first-op");
    CHECK_STR(agg.operator_, "first-op");
    CHECK_INT(agg.first_event_time, CF_T_EXECUTE_AT + 5);
    CHECK_INT(agg.event_time, CF_T_EXECUTE_AT + 5);
    CHECK_STR(agg.owner_id, "");
    CHECK_STR(agg.state.id, "agg-1");
    CHECK_INT(agg.state.status, CF_STATUS_FAILED);

    EXEC_OK(&agg, CF_CMD_MARK_RECOVERABLE, "{\"recoverable\":\"Recoverable\"}",
            CF_T_EXECUTE_AT + 77);

    CHECK_INT(agg.version, 2);
    CHECK_STR(agg.last_stream_id, "stream-2");
    CHECK_STR(agg.first_operator, "first-op");
    CHECK_STR(agg.operator_, "op");
    CHECK_INT(agg.first_event_time, CF_T_EXECUTE_AT + 5);
    CHECK_INT(agg.event_time, CF_T_EXECUTE_AT + 77);
    CHECK_INT(agg.state.recoverable, CF_RECOVERABLE);

    /* a NULL operator is "" */
    CHECK_INT(apply(&agg, 3, CF_EV_AGGREGATE_DELETED, "{}", NULL), 0);
    CHECK_STR(agg.operator_, "");
    CHECK(agg.deleted);
    CHECK_INT(apply(&agg, 4, CF_EV_AGGREGATE_RECOVERED, NULL, "x"), 0);
    CHECK(!agg.deleted);
    CHECK_INT(agg.version, 4);

    cf_aggregate_free(&agg);
}


static void
test_apply_damaged(void)
{
    size_t           i;
    char            *before, *after;
    json_t          *j;
    cf_aggregate_t   agg, fresh;

    static const struct {
        cf_event_type_t   type;
        const char       *body;
    } damaged[] = {
        { CF_EV_COMPENSATION_PREPARED, NULL },
        { CF_EV_COMPENSATION_PREPARED, "[]" },
        { CF_EV_COMPENSATION_PREPARED, "{}" },
        { CF_EV_COMPENSATION_PREPARED, "{\"retryState\":{\"retries\":1}}" },
        { CF_EV_COMPENSATION_PREPARED, "{\"eventId\":5,\"retryState\":"
          "{\"retries\":1,\"retryAt\":1,\"timeoutAt\":1,\"nextRetryAt\":1}}" },
        { CF_EV_EXECUTION_SUCCESS_APPLIED, "{\"executeAt\":\"x\"}" },
        { CF_EV_EXECUTION_FAILED_APPLIED, "{\"executeAt\":1}" },
        { CF_EV_EXECUTION_FAILED_APPLIED, "{\"executeAt\":1,\"error\":"
          "{\"errorCode\":\"a\",\"errorMsg\":\"b\",\"stackTrace\":\"c\"},"
          "\"recoverable\":\"MAYBE\"}" },
        { CF_EV_RETRY_SPEC_APPLIED, "{\"maxRetries\":1,\"minBackoff\":1}" },
        { CF_EV_FUNCTION_CHANGED, "\"EVENT\"" },
        { CF_EV_RECOVERABLE_MARKED, "{\"recoverable\":null}" },
        { CF_EV_AGGREGATE_DELETED, "[]" },
        { CF_EV_AGGREGATE_RECOVERED, "7" },
        { CF_EV_RESOURCE_TAGS_APPLIED, "{}" },
        { CF_EV_RESOURCE_TAGS_APPLIED, "{\"tags\":[\"a\"]}" },
        { CF_EV_RESOURCE_TAGS_APPLIED, "{\"tags\":{\"a\":[1]}}" },
        /* created twice */
        { CF_EV_EXECUTION_FAILED_CREATED, NULL },
        { (cf_event_type_t) CF_EV__COUNT, "{}" },
        { (cf_event_type_t) -1, "{}" }
    };

    cf_t_created(&agg);

    j = cf_state_to_json(&agg.state);
    before = cf_t_dump(j);
    json_decref(j);

    for (i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
        if (!CHECK_INT(apply(&agg, 2, damaged[i].type, damaged[i].body, "x"),
                       -1))
        {
            printf("#     damaged[%zu]\n", i);
        }

        CHECK_INT(agg.version, 1);
        CHECK_STR(agg.operator_, "first-op");
        CHECK(!agg.deleted);
    }

    j = cf_state_to_json(&agg.state);
    after = cf_t_dump(j);
    json_decref(j);
    CHECK_STR(after, before);
    free(before);
    free(after);

    /* anything but created on an uninitialized aggregate */
    if (cf_aggregate_init(&fresh, "f") != 0) {
        abort();
    }

    CHECK_INT(apply(&fresh, 1, CF_EV_AGGREGATE_DELETED, "{}", "x"), -1);
    CHECK_INT(apply(&fresh, 1, CF_EV_EXECUTION_SUCCESS_APPLIED,
                    "{\"executeAt\":1}", "x"), -1);
    CHECK_INT(apply(&fresh, 1, CF_EV_EXECUTION_FAILED_CREATED,
                    "{\"eventId\":null}", "x"), -1);
    CHECK_INT(fresh.version, 0);

    cf_aggregate_free(&fresh);
    cf_aggregate_free(&agg);
}


static void
test_apply_sourcing(void)
{
    json_t          *j;
    cf_aggregate_t   agg;

    cf_t_created(&agg);

    /* the created event sets everything and FAILED */
    CHECK_INT(agg.state.execute_at, CF_T_EXECUTE_AT);
    CHECK_INT(agg.state.retry_spec.max_retries, 10);
    CHECK_INT(agg.state.retry_state.retries, 0);
    CHECK_INT(agg.state.retry_state.retry_at, CF_T_EXECUTE_AT);
    CHECK_INT(agg.state.retry_state.next_retry_at, CF_T_EXECUTE_AT + 180000);
    CHECK_INT(agg.state.retry_state.timeout_at, CF_T_EXECUTE_AT + 120000);
    CHECK_INT(agg.state.recoverable, CF_RECOVERABLE_UNKNOWN);
    CHECK_JSON(agg.state.error, "{\"errorCode\":\"BadRequest\","
                                "\"errorMsg\":\"boom\","
                                "\"stackTrace\":\"java.lang...\","
                                "\"bindingErrors\":[{\"name\":\"a\","
                                "\"msg\":\"b\"}]}");

    /* the retry spec replaces the spec only */
    CHECK_INT(apply(&agg, 2, CF_EV_RETRY_SPEC_APPLIED,
                    "{\"maxRetries\":3,\"minBackoff\":1,"
                    "\"executionTimeout\":2}", "x"), 0);
    CHECK_INT(agg.state.retry_spec.max_retries, 3);
    CHECK_INT(agg.state.retry_spec.min_backoff, 1);
    CHECK_INT(agg.state.retry_spec.execution_timeout, 2);
    CHECK_INT(agg.state.retry_state.next_retry_at, CF_T_EXECUTE_AT + 180000);

    CHECK_INT(apply(&agg, 3, CF_EV_FUNCTION_CHANGED,
                    "{\"name\":\"n\",\"processorName\":\"p\","
                    "\"contextName\":\"c\",\"functionKind\":\"error\"}",
                    "x"), 0);
    CHECK_JSON(agg.state.function, "{\"functionKind\":\"ERROR\","
                                   "\"contextName\":\"c\","
                                   "\"processorName\":\"p\",\"name\":\"n\"}");

    CHECK_INT(apply(&agg, 4, CF_EV_COMPENSATION_PREPARED,
                    "{\"retryState\":{\"retries\":4,\"retryAt\":5,"
                    "\"timeoutAt\":6,\"nextRetryAt\":7}}", "x"), 0);
    CHECK_INT(agg.state.status, CF_STATUS_PREPARED);
    CHECK_INT(agg.state.retry_state.retries, 4);
    CHECK_INT(agg.state.retry_state.next_retry_at, 7);

    /* failed overwrites recoverable even with the UNKNOWN default */
    agg.state.recoverable = CF_RECOVERABLE;
    CHECK_INT(apply(&agg, 5, CF_EV_EXECUTION_FAILED_APPLIED,
                    "{\"error\":{\"errorCode\":\"X\",\"errorMsg\":\"y\","
                    "\"stackTrace\":\"z\",\"succeeded\":false},"
                    "\"executeAt\":9}", "x"), 0);
    CHECK_INT(agg.state.status, CF_STATUS_FAILED);
    CHECK_INT(agg.state.recoverable, CF_RECOVERABLE_UNKNOWN);
    CHECK_INT(agg.state.execute_at, 9);
    CHECK_INT(agg.state.retry_state.next_retry_at, 7);
    CHECK_JSON(agg.state.error, "{\"errorCode\":\"X\",\"errorMsg\":\"y\","
                                "\"stackTrace\":\"z\"}");

    CHECK_INT(apply(&agg, 6, CF_EV_EXECUTION_SUCCESS_APPLIED,
                    "{\"executeAt\":10}", "x"), 0);
    CHECK_INT(agg.state.status, CF_STATUS_SUCCEEDED);
    CHECK_INT(agg.state.execute_at, 10);
    CHECK_JSON(agg.state.error, "{\"errorCode\":\"X\",\"errorMsg\":\"y\","
                                "\"stackTrace\":\"z\"}");

    j = cf_state_to_json(&agg.state);
    CHECK_JSON(json_object_get(j, "isRetryable"), "false");
    json_decref(j);

    cf_aggregate_free(&agg);
}


const cf_test_t  cf_tests_state[] = {
    { "state: predicates (spec 1.3)", test_predicates },
    { "state: spec 5.1 example loads and serializes identically",
      test_state_example },
    { "state: JSON round trip is byte-identical", test_state_round_trip },
    { "state: loading normalizes order, case and computed fields",
      test_state_from_json_normalizes },
    { "state: damaged snapshots are rejected, state unchanged",
      test_state_from_json_damaged },
    { "events: names, body types, parsing", test_events_table },
    { "apply: stream metadata", test_apply_metadata },
    { "apply: damaged events are errors, aggregate unchanged",
      test_apply_damaged },
    { "apply: sourcing of every event", test_apply_sourcing },
    { NULL, NULL }
};
