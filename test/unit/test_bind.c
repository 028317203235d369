
/*
 * The command table and the binding of request bodies (spec 2.1-2.9, 3.2).
 */


#include <stdio.h>
#include <stdlib.h>

#include "cf_test.h"


/* binds text (NULL: empty body); returns the normalized dump or NULL */
static char *
bind(cf_command_type_t type, const char *text, cf_error_t *err)
{
    int            rc;
    char          *s;
    json_t        *b;
    cf_command_t   cmd;

    b = text ? cf_t_json(text) : NULL;

    cf_error_init(err);
    rc = cf_command_bind(type, b, &cmd, err);
    json_decref(b);

    if (rc != 0) {
        CHECK(cmd.body == NULL);
        CHECK(!cf_error_is_ok(err));
        return NULL;
    }

    CHECK(cf_error_is_ok(err));
    CHECK_INT(cmd.type, type);

    s = cf_t_dump(cmd.body);
    cf_command_free(&cmd);
    CHECK(cmd.body == NULL);

    return s;
}


static int
bind_ok(cf_command_type_t type, const char *text, const char *expected,
    int line)
{
    int          ok;
    char        *s;
    cf_error_t   err;

    s = bind(type, text, &err);

    /* expected NULL: any normalized body */
    ok = expected ? cf_test_check_str(s, expected, "normalized body",
                                      __FILE__, line)
                  : cf_test_check(s != NULL, "binding succeeds", __FILE__,
                                  line);

    if (!ok) {
        printf("#     error: %s: %s\n", err.code, err.msg);
    }

    free(s);
    cf_error_free(&err);

    return ok;
}


/* expects failure with a binding error (name, msg) among the first ones */
static int
bind_fail(cf_command_type_t type, const char *text, const char *name,
    const char *msg, int line)
{
    int          ok;
    char        *s;
    size_t       i;
    json_t      *e;
    cf_error_t   err;

    s = bind(type, text, &err);

    ok = cf_test_check(s == NULL, "binding fails", __FILE__, line)
         && cf_test_check_str(err.code, CF_E_ILLEGAL_ARGUMENT, "code",
                              __FILE__, line);

    if (ok && name) {
        ok = 0;

        json_array_foreach(err.binding_errors, i, e) {
            if (strcmp(json_string_value(json_object_get(e, "name")), name)
                == 0
                && (msg == NULL
                    || strcmp(json_string_value(json_object_get(e, "msg")),
                              msg) == 0))
            {
                ok = 1;
            }
        }

        if (!cf_test_check(ok, "binding error present", __FILE__, line)) {
            s = cf_t_dump(err.binding_errors);
            printf("#     wanted %s: %s\n#     got %s\n", name,
                   msg ? msg : "*", s ? s : "(none)");
        }
    }

    free(s);
    cf_error_free(&err);

    return ok;
}


#define BIND_OK(t, text, expected)  bind_ok((t), (text), (expected), __LINE__)
#define BIND_FAIL(t, text, name, msg)                                        \
    bind_fail((t), (text), (name), (msg), __LINE__)


static void
test_bind_tags(void)
{
    int     i;
    char   *big;
    size_t  n;

    BIND_OK(CF_CMD_APPLY_RESOURCE_TAGS,
            "{\"tags\":{\"dept\":[\"eng\",\"pm\"],\"role\":[],"
            "\"\":[\"*\"]},\"x\":1}",
            "{\"tags\":{\"dept\":[\"eng\",\"pm\"],\"role\":[],"
            "\"\":[\"*\"]}}");
    BIND_OK(CF_CMD_APPLY_RESOURCE_TAGS, "{\"tags\":{}}", "{\"tags\":{}}");

    BIND_FAIL(CF_CMD_APPLY_RESOURCE_TAGS, NULL, "tags", "must not be null");
    BIND_FAIL(CF_CMD_APPLY_RESOURCE_TAGS, "{}", "tags", "must not be null");
    BIND_FAIL(CF_CMD_APPLY_RESOURCE_TAGS, "{\"tags\":null}", "tags",
              "must not be null");
    BIND_FAIL(CF_CMD_APPLY_RESOURCE_TAGS, "{\"tags\":[]}", "tags",
              "must be an object");
    BIND_FAIL(CF_CMD_APPLY_RESOURCE_TAGS, "{\"tags\":{\"a\":\"b\"}}",
              "tags.a", "must be an array of strings");
    BIND_FAIL(CF_CMD_APPLY_RESOURCE_TAGS, "{\"tags\":{\"a\":[\"b\",1]}}",
              "tags.a[1]", "must be a string");
    BIND_FAIL(CF_CMD_APPLY_RESOURCE_TAGS,
              "{\"tags\":{\"a\":[\"b\\u0000c\"]}}",
              "tags.a[0]", "must not contain NUL characters");
    /* every bad key is reported, not only the first */
    BIND_FAIL(CF_CMD_APPLY_RESOURCE_TAGS,
              "{\"tags\":{\"a\":1,\"b\":[null]}}", "tags.b[0]",
              "must be a string");

    /* at most 1024 keys, 1024 values per key */
    n = 16 + 12 * 1100;
    big = malloc(n);
    if (!CHECK(big != NULL)) {
        return;
    }

    strcpy(big, "{\"tags\":{");
    for (i = 0; i < 1025; i++) {
        sprintf(big + strlen(big), "%s\"k%d\":[]", i ? "," : "", i);
    }
    strcat(big, "}}");
    BIND_FAIL(CF_CMD_APPLY_RESOURCE_TAGS, big, "tags",
              "must have at most 1024 keys");

    strcpy(big, "{\"tags\":{\"k\":[");
    for (i = 0; i < 1025; i++) {
        strcat(big, i ? ",\"v\"" : "\"v\"");
    }
    strcat(big, "]}}");
    BIND_FAIL(CF_CMD_APPLY_RESOURCE_TAGS, big, "tags.k",
              "must have at most 1024 values");

    free(big);
}


static void
test_command_table(void)
{
    int                       i;
    cf_command_type_t         t;
    const cf_command_info_t  *info;

    static const char *const  expect[][3] = {
        { "create_execution_failed",
          "me.ahoo.wow.compensation.api.CreateExecutionFailed", "onCreate" },
        { "prepare_compensation",
          "me.ahoo.wow.compensation.api.PrepareCompensation", "onPrepare" },
        { "force_prepare_compensation",
          "me.ahoo.wow.compensation.api.ForcePrepareCompensation",
          "onForcePrepare" },
        { "apply_execution_success",
          "me.ahoo.wow.compensation.api.ApplyExecutionSuccess", "onSucceed" },
        { "apply_execution_failed",
          "me.ahoo.wow.compensation.api.ApplyExecutionFailed", "onFailed" },
        { "apply_retry_spec",
          "me.ahoo.wow.compensation.api.ApplyRetrySpec", "onApplyRetrySpec" },
        { "change_function",
          "me.ahoo.wow.compensation.api.ChangeFunction", "onChangeFunction" },
        { "mark_recoverable",
          "me.ahoo.wow.compensation.api.MarkRecoverable",
          "onMarkRecoverable" },
        { "delete_aggregate",
          "me.ahoo.wow.api.command.DefaultDeleteAggregate", "onDelete" },
        { "recover_aggregate",
          "me.ahoo.wow.api.command.DefaultRecoverAggregate", "onRecover" },
        { "apply_resource_tags",
          "me.ahoo.wow.api.abac.DefaultApplyResourceTags",
          "onApplyResourceTags" }
    };

    CHECK_INT(CF_CMD__COUNT, 11);

    for (i = 0; i < CF_CMD__COUNT; i++) {
        info = cf_command_info((cf_command_type_t) i);

        if (!CHECK(info != NULL)) {
            continue;
        }

        CHECK_INT(info->type, i);
        CHECK_STR(info->name, expect[i][0]);
        CHECK_STR(info->type_name, expect[i][1]);
        CHECK_STR(info->handler, expect[i][2]);
        CHECK_INT(info->is_create, i == CF_CMD_CREATE_EXECUTION_FAILED);
        CHECK_INT(info->body_required, i == CF_CMD_CREATE_EXECUTION_FAILED);

        t = CF_CMD__COUNT;
        CHECK(cf_command_lookup(expect[i][0], &t) == 0 && (int) t == i);
        t = CF_CMD__COUNT;
        CHECK(cf_command_lookup(expect[i][1], &t) == 0 && (int) t == i);
    }

    CHECK(cf_command_info(CF_CMD__COUNT) == NULL);
    CHECK(cf_command_info((cf_command_type_t) -1) == NULL);

    CHECK(cf_command_lookup("Prepare_Compensation", &t) == 0
          && t == CF_CMD_PREPARE_COMPENSATION);
    CHECK(cf_command_lookup("me.ahoo.wow.compensation.api.preparecompensation",
                            &t) == -1);
    CHECK(cf_command_lookup("PrepareCompensation", &t) == -1);
    CHECK(cf_command_lookup("prepare_compensation ", &t) == -1);
    CHECK(cf_command_lookup("", &t) == -1);
    CHECK(cf_command_lookup(NULL, &t) == -1);
}


static void
test_bind_create(void)
{
    char        *s;
    cf_error_t   err;

    /* empty request body */
    s = bind(CF_CMD_CREATE_EXECUTION_FAILED, NULL, &err);
    CHECK(s == NULL);
    CHECK_STR(err.code, CF_E_ILLEGAL_ARGUMENT);
    CHECK_STR(err.msg, "Command can not be empty.");
    CHECK(json_array_size(err.binding_errors) == 0);
    cf_error_free(&err);

    s = bind(CF_CMD_CREATE_EXECUTION_FAILED, "null", &err);
    CHECK(s == NULL);
    CHECK_STR(err.msg, "Command can not be empty.");
    cf_error_free(&err);

    /* the normalized shape: wire order, defaults, no unknown keys */
    BIND_OK(CF_CMD_CREATE_EXECUTION_FAILED, cf_t_create_body,
            "{\"eventId\":{\"id\":\"0U2mSzz10001001\",\"aggregateId\":"
            "{\"contextName\":\"order-service\",\"aggregateName\":\"order\","
            "\"aggregateId\":\"0U2mSz9k0001000\",\"tenantId\":\"(0)\"},"
            "\"version\":1},\"function\":{\"functionKind\":\"EVENT\","
            "\"contextName\":\"order-service\","
            "\"processorName\":\"OrderProjector\","
            "\"name\":\"onOrderCreated\"},\"error\":{\"errorCode\":"
            "\"BadRequest\",\"errorMsg\":\"boom\",\"stackTrace\":"
            "\"java.lang...\",\"bindingErrors\":[{\"name\":\"a\","
            "\"msg\":\"b\"}]},\"executeAt\":1719800000000,"
            "\"retrySpec\":null,\"recoverable\":\"UNKNOWN\"}");

    BIND_OK(CF_CMD_CREATE_EXECUTION_FAILED,
            "{\"zzz\":{\"deep\":[[[[]]]]},\"recoverable\":\"unrecoverable\","
            "\"retrySpec\":{\"extra\":1,\"executionTimeout\":3,"
            "\"minBackoff\":2,\"maxRetries\":1},\"executeAt\":-7,"
            "\"error\":{\"succeeded\":true,\"bindingErrors\":[],"
            "\"stackTrace\":\"\",\"errorMsg\":\"\",\"errorCode\":\"\"},"
            "\"function\":{\"name\":\"\",\"processorName\":\"\","
            "\"contextName\":\"\",\"functionKind\":\"state_EVENT\"},"
            "\"eventId\":{\"version\":-2147483648,\"aggregateId\":"
            "{\"tenantId\":\"\",\"aggregateId\":\"\",\"aggregateName\":\"\","
            "\"contextName\":\"\",\"x\":null},\"id\":\"\"},\"id\":\"x\"}",
            "{\"eventId\":{\"id\":\"\",\"aggregateId\":{\"contextName\":\"\","
            "\"aggregateName\":\"\",\"aggregateId\":\"\",\"tenantId\":\"\"},"
            "\"version\":-2147483648},\"function\":{\"functionKind\":"
            "\"STATE_EVENT\",\"contextName\":\"\",\"processorName\":\"\","
            "\"name\":\"\"},\"error\":{\"errorCode\":\"\",\"errorMsg\":\"\","
            "\"stackTrace\":\"\"},\"executeAt\":-7,\"retrySpec\":"
            "{\"maxRetries\":1,\"minBackoff\":2,\"executionTimeout\":3},"
            "\"recoverable\":\"UNRECOVERABLE\"}");

    /* explicit nulls of optional fields take the defaults */
    BIND_OK(CF_CMD_APPLY_EXECUTION_FAILED,
            "{\"error\":{\"errorCode\":\"a\",\"errorMsg\":\"b\","
            "\"stackTrace\":\"c\",\"bindingErrors\":null},"
            "\"executeAt\":9223372036854775807,\"recoverable\":null}",
            "{\"error\":{\"errorCode\":\"a\",\"errorMsg\":\"b\","
            "\"stackTrace\":\"c\"},\"executeAt\":9223372036854775807,"
            "\"recoverable\":\"UNKNOWN\"}");

    /* an empty object names every missing field */
    s = bind(CF_CMD_CREATE_EXECUTION_FAILED, "{}", &err);
    CHECK(s == NULL);
    CHECK_STR(err.code, CF_E_ILLEGAL_ARGUMENT);
    CHECK_STR(err.msg, "Command validation failed: eventId: must not be null "
                       "(and 3 more)");
    CHECK_JSON(err.binding_errors,
               "[{\"name\":\"eventId\",\"msg\":\"must not be null\"},"
               "{\"name\":\"function\",\"msg\":\"must not be null\"},"
               "{\"name\":\"error\",\"msg\":\"must not be null\"},"
               "{\"name\":\"executeAt\",\"msg\":\"must not be null\"}]");
    cf_error_free(&err);

    s = bind(CF_CMD_APPLY_EXECUTION_SUCCESS, "{\"executeAt\":\"1\"}", &err);
    CHECK(s == NULL);
    CHECK_STR(err.msg, "Command validation failed: executeAt: "
                       "must be an integer");
    cf_error_free(&err);
}


/* one field of a valid create body replaced by a bad value */
static void
create_with(const char *path, const char *value, const char *name,
    const char *msg, int line)
{
    char         *s, *dot, key[128];
    json_t       *body, *obj, *v;
    const char   *p;

    body = cf_t_json(cf_t_create_body);
    v = cf_t_json(value);

    obj = body;
    p = path;

    /* walk "a.b.c" */
    for ( ;; ) {
        dot = strchr(p, '.');

        if (dot == NULL) {
            json_object_set_new(obj, p, v);
            break;
        }

        snprintf(key, sizeof(key), "%.*s", (int) (dot - p), p);
        obj = json_object_get(obj, key);
        p = dot + 1;
    }

    s = cf_t_dump(body);

    if (name == NULL) {
        /* no error expected */
        bind_ok(CF_CMD_CREATE_EXECUTION_FAILED, s, NULL, line);

    } else {
        bind_fail(CF_CMD_CREATE_EXECUTION_FAILED, s, name, msg, line);
    }

    free(s);
    json_decref(body);
}


#define CREATE_WITH(path, value, name, msg)                                  \
    create_with((path), (value), (name), (msg), __LINE__)


static void
test_bind_create_fields(void)
{
    static const char *const  strings[] = {
        "eventId.id",
        "eventId.aggregateId.contextName",
        "eventId.aggregateId.aggregateName",
        "eventId.aggregateId.aggregateId",
        "eventId.aggregateId.tenantId",
        "function.contextName",
        "function.processorName",
        "function.name",
        "error.errorCode",
        "error.errorMsg",
        "error.stackTrace"
    };

    static const char *const  not_strings[] = {
        "1", "1.5", "true", "false", "[]", "{}", "[\"x\"]"
    };

    static const char *const  not_ints[] = {
        "1.0", "1.5", "\"1\"", "true", "[]", "{}", "1e3"
    };

    static const char *const  not_objects[] = {
        "1", "\"x\"", "true", "[]", "[{}]", "1.5"
    };

    static const char *const  objects[] = {
        "eventId", "eventId.aggregateId", "function", "error", "retrySpec"
    };

    static const char *const  required[] = {
        "eventId", "eventId.id", "eventId.aggregateId",
        "eventId.aggregateId.contextName", "eventId.aggregateId.tenantId",
        "eventId.version", "function", "function.functionKind",
        "function.name", "error", "error.errorCode", "error.stackTrace",
        "executeAt"
    };

    size_t  i, k;

    for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        for (k = 0; k < sizeof(not_strings) / sizeof(not_strings[0]); k++) {
            CREATE_WITH(strings[i], not_strings[k], strings[i],
                        "must be a string");
        }

        CREATE_WITH(strings[i], "\"a\\u0000b\"", strings[i],
                    "must not contain NUL characters");
        CREATE_WITH(strings[i], "null", strings[i], "must not be null");
    }

    for (k = 0; k < sizeof(not_ints) / sizeof(not_ints[0]); k++) {
        CREATE_WITH("eventId.version", not_ints[k], "eventId.version",
                    "must be an integer");
        CREATE_WITH("executeAt", not_ints[k], "executeAt",
                    "must be an integer");
    }

    CREATE_WITH("retrySpec", "{\"maxRetries\":1,\"minBackoff\":1,"
                "\"executionTimeout\":1}", NULL, NULL);

    CREATE_WITH("eventId.version", "2147483648", "eventId.version",
                "must be between -2147483648 and 2147483647");
    CREATE_WITH("eventId.version", "-2147483649", "eventId.version", NULL);
    CREATE_WITH("executeAt", "-9223372036854775808", NULL, NULL);

    for (i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
        for (k = 0; k < sizeof(not_objects) / sizeof(not_objects[0]); k++) {
            CREATE_WITH(objects[i], not_objects[k], objects[i],
                        "must be an object");
        }
    }

    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        CREATE_WITH(required[i], "null", required[i], "must not be null");
    }

    /* enums */
    CREATE_WITH("function.functionKind", "\"EVENTS\"",
                "function.functionKind",
                "must be one of [COMMAND, SOURCING, EVENT, STATE_EVENT, "
                "ERROR]");
    CREATE_WITH("function.functionKind", "2", "function.functionKind", NULL);
    CREATE_WITH("function.functionKind", "\"EVENT\\u0000\"",
                "function.functionKind", NULL);
    CREATE_WITH("recoverable", "\"yes\"", "recoverable",
                "must be one of [RECOVERABLE, UNRECOVERABLE, UNKNOWN]");
    CREATE_WITH("recoverable", "0", "recoverable", NULL);

    /* retrySpec: all three fields when present */
    CREATE_WITH("retrySpec", "{\"maxRetries\":1,\"minBackoff\":1}",
                "retrySpec.executionTimeout", "must not be null");
    CREATE_WITH("retrySpec", "{}", "retrySpec.maxRetries", NULL);
    CREATE_WITH("retrySpec", "{\"maxRetries\":1.0,\"minBackoff\":1,"
                "\"executionTimeout\":1}", "retrySpec.maxRetries",
                "must be an integer");
    CREATE_WITH("retrySpec", "{\"maxRetries\":1,\"minBackoff\":4294967296,"
                "\"executionTimeout\":1}", "retrySpec.minBackoff", NULL);

    /* bindingErrors: an optional array of {name, msg} */
    CREATE_WITH("error.bindingErrors", "{}", "error.bindingErrors",
                "must be an array");
    CREATE_WITH("error.bindingErrors", "\"x\"", "error.bindingErrors", NULL);
    CREATE_WITH("error.bindingErrors", "[1]", "error.bindingErrors[0]",
                "must be an object");
    CREATE_WITH("error.bindingErrors", "[{\"name\":\"a\",\"msg\":\"b\"},"
                "{\"name\":\"a\"}]", "error.bindingErrors[1].msg",
                "must not be null");
    CREATE_WITH("error.bindingErrors", "[{\"name\":1,\"msg\":\"b\"}]",
                "error.bindingErrors[0].name", "must be a string");
    CREATE_WITH("error.bindingErrors", "[null]", "error.bindingErrors[0]",
                NULL);
}


static void
test_bind_limits(void)
{
    char        *s, *body;
    size_t       n;
    json_t      *j;
    cf_error_t   err;

    /* 64 KiB strings, 1 MiB stack traces, exactly at and one past */
    n = 65536;
    body = malloc(n + 2);
    memset(body, 'x', n + 1);
    body[n + 1] = '\0';

    j = cf_t_json(cf_t_create_body);
    json_object_set_new(json_object_get(j, "error"), "errorMsg",
                        json_stringn(body, n));
    s = cf_t_dump(j);
    free(bind(CF_CMD_CREATE_EXECUTION_FAILED, s, &err));
    CHECK(cf_error_is_ok(&err));
    free(s);
    cf_error_free(&err);

    json_object_set_new(json_object_get(j, "error"), "errorMsg",
                        json_stringn(body, n + 1));
    s = cf_t_dump(j);
    BIND_FAIL(CF_CMD_CREATE_EXECUTION_FAILED, s, "error.errorMsg",
              "must be at most 65536 bytes long");
    free(s);
    json_decref(j);
    free(body);

    n = 1048576;
    body = malloc(n + 2);
    memset(body, 'y', n + 1);
    body[n + 1] = '\0';

    j = cf_t_json(cf_t_create_body);
    json_object_set_new(json_object_get(j, "error"), "stackTrace",
                        json_stringn(body, n));
    s = cf_t_dump(j);
    free(bind(CF_CMD_CREATE_EXECUTION_FAILED, s, &err));
    CHECK(cf_error_is_ok(&err));
    free(s);
    cf_error_free(&err);

    json_object_set_new(json_object_get(j, "error"), "stackTrace",
                        json_stringn(body, n + 1));
    s = cf_t_dump(j);
    BIND_FAIL(CF_CMD_CREATE_EXECUTION_FAILED, s, "error.stackTrace",
              "must be at most 1048576 bytes long");
    free(s);

    /* a 1 MiB name elsewhere is still too long */
    json_object_set_new(json_object_get(j, "error"), "stackTrace",
                        json_string("ok"));
    json_object_set_new(json_object_get(j, "function"), "name",
                        json_stringn(body, n));
    s = cf_t_dump(j);
    BIND_FAIL(CF_CMD_CREATE_EXECUTION_FAILED, s, "function.name", NULL);
    free(s);
    json_decref(j);
    free(body);

    /* many bad items: the error list is capped */
    j = cf_t_json(cf_t_create_body);
    {
        int      i;
        json_t  *arr;

        arr = json_array();
        for (i = 0; i < 5000; i++) {
            json_array_append_new(arr, json_integer(i));
        }

        json_object_set_new(json_object_get(j, "error"), "bindingErrors",
                            arr);
    }

    s = cf_t_dump(j);
    json_decref(j);

    j = cf_t_json(s);
    free(s);

    cf_error_init(&err);
    {
        cf_command_t  cmd;

        CHECK_INT(cf_command_bind(CF_CMD_CREATE_EXECUTION_FAILED, j, &cmd,
                                  &err), -1);
    }
    CHECK_INT(json_array_size(err.binding_errors), 32);
    CHECK_STR(err.msg, "Command validation failed: error.bindingErrors[0]: "
                       "must be an object (and 31 more)");
    cf_error_free(&err);
    json_decref(j);
}


static void
test_bind_bodies(void)
{
    int           i;
    char         *s;
    cf_error_t    err;

    static const cf_command_type_t  no_body[] = {
        CF_CMD_PREPARE_COMPENSATION, CF_CMD_FORCE_PREPARE_COMPENSATION,
        CF_CMD_DELETE_AGGREGATE, CF_CMD_RECOVER_AGGREGATE
    };

    static const char *const  not_objects[] = {
        "[]", "[{}]", "\"x\"", "1", "1.5", "true", "false", "\"\""
    };

    size_t  k;

    for (i = 0; i < 4; i++) {
        BIND_OK(no_body[i], NULL, "{}");
        BIND_OK(no_body[i], "null", "{}");
        BIND_OK(no_body[i], "{}", "{}");
        BIND_OK(no_body[i], "{\"id\":\"x\",\"a\":[1,{\"b\":null}]}", "{}");
    }

    /* a non-object body is a binding error "body", for every command */
    for (i = 0; i < CF_CMD__COUNT; i++) {
        for (k = 0; k < sizeof(not_objects) / sizeof(not_objects[0]); k++) {
            BIND_FAIL((cf_command_type_t) i, not_objects[k], "body",
                      "must be an object");
        }
    }

    s = bind(CF_CMD_PREPARE_COMPENSATION, "[]", &err);
    CHECK_STR(err.msg, "Command validation failed: body: must be an object");
    CHECK_INT(json_array_size(err.binding_errors), 1);
    cf_error_free(&err);

    /* an unknown command type */
    s = bind((cf_command_type_t) CF_CMD__COUNT, "{}", &err);
    CHECK(s == NULL);
    CHECK_STR(err.code, CF_E_ILLEGAL_ARGUMENT);
    cf_error_free(&err);

    /* apply_execution_success */
    BIND_OK(CF_CMD_APPLY_EXECUTION_SUCCESS, "{\"executeAt\":5,\"x\":1}",
            "{\"executeAt\":5}");
    BIND_FAIL(CF_CMD_APPLY_EXECUTION_SUCCESS, NULL, "executeAt",
              "must not be null");
    BIND_FAIL(CF_CMD_APPLY_EXECUTION_SUCCESS, "{\"executeAt\":5.0}",
              "executeAt", "must be an integer");
    BIND_FAIL(CF_CMD_APPLY_EXECUTION_SUCCESS, "{\"executeAt\":true}",
              "executeAt", "must be an integer");

    /* apply_execution_failed */
    BIND_OK(CF_CMD_APPLY_EXECUTION_FAILED,
            "{\"recoverable\":\"Recoverable\",\"executeAt\":1,\"error\":"
            "{\"stackTrace\":\"c\",\"errorMsg\":\"b\",\"errorCode\":\"a\","
            "\"bindingErrors\":[{\"msg\":\"m\",\"name\":\"n\",\"z\":0}]}}",
            "{\"error\":{\"errorCode\":\"a\",\"errorMsg\":\"b\","
            "\"stackTrace\":\"c\",\"bindingErrors\":[{\"name\":\"n\","
            "\"msg\":\"m\"}]},\"executeAt\":1,\"recoverable\":"
            "\"RECOVERABLE\"}");
    BIND_FAIL(CF_CMD_APPLY_EXECUTION_FAILED, "{\"executeAt\":1}", "error",
              "must not be null");
    BIND_FAIL(CF_CMD_APPLY_EXECUTION_FAILED,
              "{\"executeAt\":1,\"error\":{\"errorCode\":\"a\","
              "\"errorMsg\":\"b\"}}", "error.stackTrace", NULL);
    BIND_FAIL(CF_CMD_APPLY_EXECUTION_FAILED,
              "{\"error\":{\"errorCode\":\"a\",\"errorMsg\":\"b\","
              "\"stackTrace\":\"c\"}}", "executeAt", NULL);

    /* apply_retry_spec */
    BIND_OK(CF_CMD_APPLY_RETRY_SPEC,
            "{\"executionTimeout\":-3,\"minBackoff\":-2,\"maxRetries\":-1}",
            "{\"maxRetries\":-1,\"minBackoff\":-2,\"executionTimeout\":-3}");
    BIND_FAIL(CF_CMD_APPLY_RETRY_SPEC, NULL, "maxRetries", NULL);
    BIND_FAIL(CF_CMD_APPLY_RETRY_SPEC, "{\"maxRetries\":1,\"minBackoff\":2}",
              "executionTimeout", "must not be null");
    BIND_FAIL(CF_CMD_APPLY_RETRY_SPEC, "{\"maxRetries\":2147483648,"
              "\"minBackoff\":2,\"executionTimeout\":3}", "maxRetries",
              "must be between -2147483648 and 2147483647");
    BIND_FAIL(CF_CMD_APPLY_RETRY_SPEC, "{\"maxRetries\":\"1\","
              "\"minBackoff\":2,\"executionTimeout\":3}", "maxRetries",
              "must be an integer");

    /* change_function: normalized to wire order */
    BIND_OK(CF_CMD_CHANGE_FUNCTION,
            "{\"name\":\"n\",\"processorName\":\"p\",\"contextName\":\"c\","
            "\"functionKind\":\"sourcing\"}",
            "{\"functionKind\":\"SOURCING\",\"contextName\":\"c\","
            "\"processorName\":\"p\",\"name\":\"n\"}");
    BIND_FAIL(CF_CMD_CHANGE_FUNCTION,
              "{\"name\":\"n\",\"processorName\":\"p\",\"contextName\":\"c\"}",
              "functionKind", "must not be null");
    BIND_FAIL(CF_CMD_CHANGE_FUNCTION,
              "{\"name\":\"n\",\"processorName\":\"p\",\"contextName\":\"c\","
              "\"functionKind\":\"SAGA\"}", "functionKind", NULL);
    BIND_FAIL(CF_CMD_CHANGE_FUNCTION, "{}", "name", "must not be null");

    /* mark_recoverable */
    BIND_OK(CF_CMD_MARK_RECOVERABLE, "{\"recoverable\":\"unknown\"}",
            "{\"recoverable\":\"UNKNOWN\"}");
    BIND_FAIL(CF_CMD_MARK_RECOVERABLE, NULL, "recoverable",
              "must not be null");
    BIND_FAIL(CF_CMD_MARK_RECOVERABLE, "{\"recoverable\":null}",
              "recoverable", "must not be null");
    BIND_FAIL(CF_CMD_MARK_RECOVERABLE, "{\"recoverable\":\"\"}",
              "recoverable",
              "must be one of [RECOVERABLE, UNRECOVERABLE, UNKNOWN]");
    BIND_FAIL(CF_CMD_MARK_RECOVERABLE, "{\"recoverable\":true}",
              "recoverable", NULL);
}


static void
test_bind_deep_nesting(void)
{
    int            i;
    json_t        *j, *inner, *outer;
    cf_error_t     err;
    cf_command_t   cmd;

    /* jansson limits parse depth; built documents are unbounded */
    inner = json_array();
    for (i = 0; i < 100000; i++) {
        outer = json_array();
        json_array_append_new(outer, inner);
        inner = outer;
    }

    j = cf_t_json(cf_t_create_body);
    json_object_set(j, "junk", inner);
    json_object_set(j, "eventId", inner);

    cf_error_init(&err);
    CHECK_INT(cf_command_bind(CF_CMD_CREATE_EXECUTION_FAILED, j, &cmd, &err),
              -1);
    CHECK_STR(err.msg, "Command validation failed: eventId: "
                       "must be an object");
    cf_error_free(&err);

    /* an unknown key may hold anything */
    json_object_del(j, "eventId");
    json_object_set_new(j, "eventId",
                        json_pack("{s:s, s:{s:s, s:s, s:s, s:s}, s:i}",
                                  "id", "e", "aggregateId",
                                  "contextName", "c", "aggregateName", "a",
                                  "aggregateId", "i", "tenantId", "t",
                                  "version", 1));

    cf_error_init(&err);
    CHECK_INT(cf_command_bind(CF_CMD_CREATE_EXECUTION_FAILED, j, &cmd, &err),
              0);
    CHECK(json_object_get(cmd.body, "junk") == NULL);
    cf_command_free(&cmd);
    cf_error_free(&err);

    json_decref(j);

    /* tear down iteratively: jansson frees recursively */
    while (json_array_size(inner) > 0) {
        outer = json_incref(json_array_get(inner, 0));
        json_decref(inner);
        inner = outer;
    }

    json_decref(inner);
}


const cf_test_t  cf_tests_bind[] = {
    { "commands: table and lookup", test_command_table },
    { "bind: create (empty, normalized, all missing)", test_bind_create },
    { "bind: create, every field with wrong types, nulls, NUL, ranges",
      test_bind_create_fields },
    { "bind: string limits (64 KiB, 1 MiB), binding error cap",
      test_bind_limits },
    { "bind: the other commands' bodies", test_bind_bodies },
    { "bind: deeply nested input", test_bind_deep_nesting },
    { "bind: apply_resource_tags (ABAC tags)", test_bind_tags },
    { NULL, NULL }
};
