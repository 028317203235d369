
/*
 * Error codes, their HTTP status (spec 3.5), their JSON, and the enums.
 */


#include <stdio.h>
#include <stdlib.h>

#include "cf_test.h"


static void
test_status_table(void)
{
    CHECK_INT(cf_error_http_status(CF_OK), 200);
    CHECK_INT(cf_error_http_status(CF_E_NOT_FOUND), 404);
    CHECK_INT(cf_error_http_status(CF_E_BAD_REQUEST), 400);
    CHECK_INT(cf_error_http_status(CF_E_ILLEGAL_ARGUMENT), 400);
    CHECK_INT(cf_error_http_status(CF_E_ILLEGAL_STATE), 400);
    CHECK_INT(cf_error_http_status(CF_E_COMMAND_VALIDATION), 400);
    CHECK_INT(cf_error_http_status(CF_E_DUPLICATE_REQUEST_ID), 400);
    CHECK_INT(cf_error_http_status(CF_E_DUPLICATE_AGGREGATE_ID), 400);
    CHECK_INT(cf_error_http_status(CF_E_REQUEST_TIMEOUT), 408);
    CHECK_INT(cf_error_http_status(CF_E_TOO_MANY_REQUESTS), 429);
    CHECK_INT(cf_error_http_status(CF_E_EVENT_VERSION_CONFLICT), 409);
    CHECK_INT(cf_error_http_status(CF_E_EXPECT_VERSION_CONFLICT), 409);
    CHECK_INT(cf_error_http_status(CF_E_SOURCING_VERSION_CONFLICT), 409);
    CHECK_INT(cf_error_http_status(CF_E_DELETED_AGGREGATE), 410);
    CHECK_INT(cf_error_http_status(CF_E_OWNER_AGGREGATE), 403);
    CHECK_INT(cf_error_http_status(CF_E_INTERNAL), 500);

    /* unmapped codes default to 400; comparison is by content */
    CHECK_INT(cf_error_http_status("CommandVersionConflict"), 400);
    CHECK_INT(cf_error_http_status("notfound"), 400);
    CHECK_INT(cf_error_http_status(""), 400);
    {
        char  code[] = "NotFound";
        CHECK_INT(cf_error_http_status(code), 404);
    }
}


static void
test_error_json(void)
{
    json_t      *j;
    cf_error_t   err;

    cf_error_init(&err);
    CHECK(cf_error_is_ok(&err));
    CHECK_STR(err.msg, "");

    j = cf_error_to_json(&err);
    CHECK_JSON(j, "{\"errorCode\":\"Ok\",\"errorMsg\":\"\","
                  "\"succeeded\":true}");
    json_decref(j);

    cf_error_set(&err, CF_E_NOT_FOUND, "%s is not initialized.", "x1");
    CHECK(!cf_error_is_ok(&err));

    j = cf_error_to_json(&err);
    CHECK_JSON(j, "{\"errorCode\":\"NotFound\","
                  "\"errorMsg\":\"x1 is not initialized.\","
                  "\"succeeded\":false}");
    json_decref(j);

    /* an empty array is omitted too */
    err.binding_errors = json_array();
    j = cf_error_to_json(&err);
    CHECK_JSON(j, "{\"errorCode\":\"NotFound\","
                  "\"errorMsg\":\"x1 is not initialized.\","
                  "\"succeeded\":false}");
    json_decref(j);

    cf_error_free(&err);
    CHECK(err.binding_errors == NULL);
    cf_error_free(&err);
}


static void
test_error_binding(void)
{
    int          i;
    json_t      *j;
    cf_error_t   err;

    cf_error_init(&err);

    cf_error_add_binding(&err, "eventId", "must not be null");
    CHECK_STR(err.code, CF_E_ILLEGAL_ARGUMENT);
    CHECK_STR(err.msg, "eventId: must not be null");

    cf_error_add_binding(&err, "executeAt", "must be an %s", "integer");
    CHECK_STR(err.msg, "eventId: must not be null");

    j = cf_error_to_json(&err);
    CHECK_JSON(j, "{\"errorCode\":\"IllegalArgument\","
                  "\"errorMsg\":\"eventId: must not be null\","
                  "\"bindingErrors\":[{\"name\":\"eventId\","
                  "\"msg\":\"must not be null\"},{\"name\":\"executeAt\","
                  "\"msg\":\"must be an integer\"}],\"succeeded\":false}");
    json_decref(j);

    /* capped */
    for (i = 0; i < 100; i++) {
        cf_error_add_binding(&err, "x", "bad %d", i);
    }

    CHECK_INT(json_array_size(err.binding_errors), 32);

    cf_error_free(&err);

    /* a code already set is kept */
    cf_error_init(&err);
    cf_error_set(&err, CF_E_INTERNAL, "out of memory");
    cf_error_add_binding(&err, "x", "y");
    CHECK_STR(err.code, CF_E_INTERNAL);
    CHECK_STR(err.msg, "out of memory");
    cf_error_free(&err);
}


static void
test_error_utf8(void)
{
    int          i;
    char         big[1024];
    json_t      *j;
    cf_error_t   err;

    cf_error_init(&err);

    /* invalid bytes in a quoted id must not break the JSON */
    cf_error_set(&err, CF_E_NOT_FOUND, "%s is not initialized.",
                 "a\xff\xc0\x80\xed\xa0\x80z");
    j = cf_error_to_json(&err);
    CHECK(j != NULL);
    CHECK_STR(err.msg, "a??????z is not initialized.");
    json_decref(j);

    /* a message cut in the middle of a 3-byte character */
    for (i = 0; i + 3 < (int) sizeof(big); i += 3) {
        memcpy(big + i, "\xe2\x82\xac", 3);
    }
    big[i] = '\0';

    cf_error_set(&err, CF_E_BAD_REQUEST, "x%s", big);
    j = cf_error_to_json(&err);
    CHECK(j != NULL);
    json_decref(j);

    cf_error_add_binding(&err, "n\xff", "m\xfe");
    j = cf_error_to_json(&err);
    CHECK(j != NULL);
    CHECK_JSON(json_array_get(err.binding_errors, 0),
               "{\"name\":\"n?\",\"msg\":\"m?\"}");
    json_decref(j);

    /* the message may quote itself */
    cf_error_set(&err, CF_E_BAD_REQUEST, "inner");
    cf_error_set(&err, CF_E_INTERNAL, "outer: %s", err.msg);
    CHECK_STR(err.msg, "outer: inner");
    CHECK_STR(err.code, CF_E_INTERNAL);

    /* valid multi-byte text is kept */
    cf_error_set(&err, CF_E_BAD_REQUEST, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    CHECK_STR(err.msg, "caf\xc3\xa9 \xf0\x9f\x98\x80");

    cf_error_free(&err);
}


static void
test_enums(void)
{
    cf_status_t         s;
    cf_recoverable_t    r;
    cf_function_kind_t  k;

    CHECK_STR(cf_status_name(CF_STATUS_FAILED), "FAILED");
    CHECK_STR(cf_status_name(CF_STATUS_PREPARED), "PREPARED");
    CHECK_STR(cf_status_name(CF_STATUS_SUCCEEDED), "SUCCEEDED");
    CHECK_STR(cf_recoverable_name(CF_RECOVERABLE), "RECOVERABLE");
    CHECK_STR(cf_recoverable_name(CF_UNRECOVERABLE), "UNRECOVERABLE");
    CHECK_STR(cf_recoverable_name(CF_RECOVERABLE_UNKNOWN), "UNKNOWN");
    CHECK_STR(cf_function_kind_name(CF_KIND_COMMAND), "COMMAND");
    CHECK_STR(cf_function_kind_name(CF_KIND_SOURCING), "SOURCING");
    CHECK_STR(cf_function_kind_name(CF_KIND_EVENT), "EVENT");
    CHECK_STR(cf_function_kind_name(CF_KIND_STATE_EVENT), "STATE_EVENT");
    CHECK_STR(cf_function_kind_name(CF_KIND_ERROR), "ERROR");
    CHECK_STR(cf_status_name((cf_status_t) 7), "");

    CHECK(cf_status_parse("failed", &s) == 0 && s == CF_STATUS_FAILED);
    CHECK(cf_status_parse("Prepared", &s) == 0 && s == CF_STATUS_PREPARED);
    CHECK(cf_status_parse("SUCCEEDED", &s) == 0
          && s == CF_STATUS_SUCCEEDED);
    CHECK(cf_status_parse("FAILEDX", &s) == -1);
    CHECK(cf_status_parse("FAILE", &s) == -1);
    CHECK(cf_status_parse("", &s) == -1);
    CHECK(cf_status_parse(NULL, &s) == -1);

    CHECK(cf_recoverable_parse("unknown", &r) == 0
          && r == CF_RECOVERABLE_UNKNOWN);
    CHECK(cf_recoverable_parse("unRecoverable", &r) == 0
          && r == CF_UNRECOVERABLE);
    CHECK(cf_recoverable_parse("recoverable", &r) == 0
          && r == CF_RECOVERABLE);
    CHECK(cf_recoverable_parse("RECOVERABLE ", &r) == -1);

    CHECK(cf_function_kind_parse("Event", &k) == 0 && k == CF_KIND_EVENT);
    CHECK(cf_function_kind_parse("state_event", &k) == 0
          && k == CF_KIND_STATE_EVENT);
    CHECK(cf_function_kind_parse("STATE-EVENT", &k) == -1);
    /* ASCII-only folding: the dotless i is not an i */
    CHECK(cf_function_kind_parse("\xc4\xb1", &k) == -1);
    CHECK(cf_function_kind_parse("error", &k) == 0 && k == CF_KIND_ERROR);
}


const cf_test_t  cf_tests_error[] = {
    { "error: code to HTTP status table (spec 3.5)", test_status_table },
    { "error: JSON form", test_error_json },
    { "error: binding errors, message, cap", test_error_binding },
    { "error: messages stay valid UTF-8", test_error_utf8 },
    { "enums: names and case-insensitive parsing", test_enums },
    { NULL, NULL }
};
