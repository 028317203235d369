
/*
 * The JSON writer (cf_json.c): the same bytes as jansson's json_dumps
 * (JSON_COMPACT | JSON_ENCODE_ANY) for fixed cases and for random trees, and
 * cf_state_write the same bytes as the dump of cf_state_to_json; the reader
 * (cf_json_read.c) the same trees and errors as json_loadb.
 */


#include <stdio.h>
#include <stdlib.h>

#include "cf_test.h"


/* compares cf_json_write(j) with json_dumps(j); 1 when equal */
static int
same_as_jansson(json_t *j, const char *file, int line)
{
    int          ok;
    char        *want;
    cf_buf_t     b;
    const char  *got;

    cf_buf_init(&b);
    cf_json_write(&b, j);
    got = cf_buf_cstr(&b);

    want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

    ok = cf_test_check_str(got, want, "cf_json_write == json_dumps",
                           file, line);
    if (ok) {
        ok = cf_test_check_int((long long) b.len, (long long) strlen(want),
                               "length", file, line);
    }

    free(want);
    cf_buf_free(&b);

    return ok;
}

#define SAME(j)  same_as_jansson((j), __FILE__, __LINE__)


static void
test_json_fixed(void)
{
    int      c;
    char     s[2];
    size_t   i;
    json_t  *j, *a;

    static const json_int_t  ints[] = { 0, -1, 42, INT64_MIN, INT64_MAX };
    static const double      reals[] = { 1.5, 1e300, -0.0, 0.1 };

    /* every control character, the two mandatory escapes, '/', DEL */
    for (c = 0; c < 0x80; c++) {
        s[0] = (char) c;
        j = json_stringn(s, 1);
        CHECK(j != NULL);
        SAME(j);
        json_decref(j);
    }

    j = json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 a/b \"q\" \\");
    SAME(j);
    json_decref(j);

    j = json_stringn("nul\0inside", 10);
    SAME(j);
    json_decref(j);

    for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        j = json_integer(ints[i]);
        SAME(j);
        json_decref(j);
    }

    for (i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
        j = json_real(reals[i]);
        SAME(j);
        json_decref(j);
    }

    SAME(json_true());
    SAME(json_false());
    SAME(json_null());

    /* insertion order, escaped keys, empty containers, a key with a NUL */
    j = cf_t_json("{\"z\":1,\"a\":[],\"m\":{},\"k\\\"\\n\":[[],{},[1,[2]]],"
                  "\"u\":\"\\u0001\"}");
    json_object_setn_new(j, "n\0k", 3, json_string("v"));
    SAME(j);

    /* a replaced member keeps its place */
    json_object_set_new(j, "z", json_string("again"));
    SAME(j);
    json_decref(j);

    a = json_array();
    SAME(a);
    json_decref(a);
}


/* a deterministic generator, so a failure can be replayed */
static uint32_t  rnd_state = 12345;

static uint32_t
rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 8) & 0xffffff;
}


static json_t *
random_string(void)
{
    int           i, n;
    char          buf[64];
    size_t        len;
    const char   *piece;
    static const char *const  pieces[] = {
        "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f",
        "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "{", "]"
    };

    n = rnd() % 12;
    len = 0;

    for (i = 0; i < n; i++) {
        piece = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
        memcpy(buf + len, piece, strlen(piece));
        len += strlen(piece);
    }

    return json_stringn(buf, len);
}


static json_t *
random_value(int depth)
{
    int      i, n;
    json_t  *j, *k;

    switch (depth > 4 ? rnd() % 6 : rnd() % 8) {
    case 0:
        return random_string();
    case 1:
        return json_integer((json_int_t) (int64_t) (((uint64_t) rnd() << 40)
                                                    ^ rnd()));
    case 2:
        return json_real((double) (int32_t) rnd() / 7.0);
    case 3:
        return json_true();
    case 4:
        return json_false();
    case 5:
        return json_null();
    case 6:
        j = json_array();
        n = rnd() % 5;
        for (i = 0; i < n; i++) {
            json_array_append_new(j, random_value(depth + 1));
        }
        return j;
    default:
        j = json_object();
        n = rnd() % 5;
        for (i = 0; i < n; i++) {
            k = random_string();
            json_object_setn_new(j, json_string_value(k),
                                 json_string_length(k),
                                 random_value(depth + 1));
            json_decref(k);
        }
        return j;
    }
}


static void
test_json_random(void)
{
    int      i;
    json_t  *j;

    for (i = 0; i < 3000; i++) {
        j = random_value(0);
        CHECK(j != NULL);

        if (!SAME(j)) {
            fprintf(stderr, "# tree %d differs\n", i);
            json_decref(j);
            return;
        }

        json_decref(j);
    }
}


static int
state_same(const cf_state_t *st, const char *file, int line)
{
    int          ok;
    char        *want;
    json_t      *j;
    cf_buf_t     b;

    j = cf_state_to_json(st);
    want = json_dumps(j, JSON_COMPACT);
    json_decref(j);

    cf_buf_init(&b);
    cf_state_write(&b, st);

    ok = cf_test_check_str(cf_buf_cstr(&b), want,
                           "cf_state_write == dump of cf_state_to_json",
                           file, line);

    free(want);
    cf_buf_free(&b);

    return ok;
}

#define STATE_SAME(st)  state_same((st), __FILE__, __LINE__)


static void
test_json_state(void)
{
    cf_aggregate_t  agg;

    /* not yet created: nulls, zeros */
    if (cf_aggregate_init(&agg, "agg-\"1\"") != 0) {
        abort();
    }
    STATE_SAME(&agg.state);
    cf_aggregate_free(&agg);

    cf_t_created(&agg);
    STATE_SAME(&agg.state);

    EXEC_OK(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, CF_T_EXECUTE_AT + 1000);
    STATE_SAME(&agg.state);

    EXEC_OK(&agg, CF_CMD_APPLY_EXECUTION_FAILED,
            "{\"error\":{\"errorCode\":\"E\",\"errorMsg\":"
            "\"\\u00e9\\\"\\n\\u0002\",\"stackTrace\":\"at x/y\"},"
            "\"executeAt\":-1,\"recoverable\":\"unrecoverable\"}",
            CF_T_EXECUTE_AT + 2000);
    STATE_SAME(&agg.state);

    EXEC_OK(&agg, CF_CMD_APPLY_RETRY_SPEC,
            "{\"maxRetries\":0,\"minBackoff\":0,"
            "\"executionTimeout\":2147483647}", CF_T_EXECUTE_AT + 3000);
    STATE_SAME(&agg.state);

    EXEC_OK(&agg, CF_CMD_FORCE_PREPARE_COMPENSATION, NULL,
            CF_T_EXECUTE_AT + 4000);
    EXEC_OK(&agg, CF_CMD_APPLY_EXECUTION_SUCCESS, "{\"executeAt\":5}",
            CF_T_EXECUTE_AT + 5000);
    STATE_SAME(&agg.state);

    /* an error that says Ok, and one already carrying "succeeded" (in
     * place, as json_object_set keeps it) */
    json_object_set_new(agg.state.error, "errorCode", json_string(CF_OK));
    STATE_SAME(&agg.state);

    json_decref(agg.state.error);
    agg.state.error = cf_t_json("{\"errorCode\":\"X\",\"succeeded\":true,"
                                "\"errorMsg\":\"m\"}");
    STATE_SAME(&agg.state);

    json_decref(agg.state.error);
    agg.state.error = json_object();
    STATE_SAME(&agg.state);

    cf_aggregate_free(&agg);
}


static void
test_json_buffer(void)
{
    size_t       i;
    char        *big;
    cf_buf_t     b;
    json_t      *j;

    /* a string far past the first allocation, then reuse after reset */
    big = malloc(300000);
    CHECK(big != NULL);
    for (i = 0; i < 299999; i++) {
        big[i] = (char) ('a' + i % 26);
    }
    big[299999] = '\0';

    j = json_string(big);
    SAME(j);

    cf_buf_init(&b);
    cf_json_write(&b, j);
    CHECK_INT(b.len, 300001);
    CHECK(!b.failed);

    cf_buf_reset(&b);
    cf_json_write_int(&b, -42);
    CHECK_STR(cf_buf_cstr(&b), "-42");

    cf_buf_reset(&b);
    cf_json_write_key(&b, "name");
    cf_json_write_string(&b, "", 0);
    CHECK_STR(cf_buf_cstr(&b), "\"name\":\"\"");

    /* an allocation failure sticks until reset: no partial text escapes */
    b.failed = 1;
    cf_buf_add_str(&b, "more");
    CHECK(cf_buf_cstr(&b) == NULL);
    cf_buf_reset(&b);
    CHECK_STR(cf_buf_cstr(&b), "");

    cf_buf_free(&b);
    json_decref(j);
    free(big);
}


/* cf_json_loadb(text) and json_loadb(text): same tree or same error */
static int
read_same(const char *text, size_t len, size_t flags, const char *file,
    int line)
{
    int            ok;
    char          *got, *want;
    json_t        *mine, *ref;
    json_error_t   me, re;

    mine = cf_json_loadb(text, len, flags, &me);
    ref = json_loadb(text, len, flags, &re);

    if (mine == NULL || ref == NULL) {
        ok = cf_test_check_int(mine == NULL, ref == NULL,
                               "cf_json_loadb fails as json_loadb", file,
                               line)
             && (ref != NULL
                 || cf_test_check_str(me.text, re.text, "error text", file,
                                      line));

    } else {
        got = json_dumps(mine, JSON_COMPACT);
        want = json_dumps(ref, JSON_COMPACT);
        ok = cf_test_check_str(got, want, "cf_json_loadb == json_loadb",
                               file, line);
        free(got);
        free(want);
    }

    json_decref(mine);
    json_decref(ref);

    return ok;
}

#define READ_SAME(t, f)  read_same((t), strlen(t), (f), __FILE__, __LINE__)


/* the fast path alone: 1 when it read text, 0 when it left it to jansson */
static int
read_fast(const char *text)
{
    json_t  *j;

    j = cf_json_read(text, strlen(text));
    json_decref(j);

    return j != NULL;
}


static void
test_json_read_fixed(void)
{
    size_t              i;
    cf_buf_t            b;
    cf_aggregate_t      agg;
    static const char  *fast[] = {
        "{}", "[]", " { } ", "[1,-2,0,-0,9223372036854775807,"
        "-9223372036854775808]", "{\"a\":{\"b\":[true,false,null,\"\"]}}",
        "{\"\\\"\\\\\\/\\b\\f\\n\\r\\t\":\"k\\n\"}",
        "{\"s\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}",
        "\t\r\n[ 1 , 2 ]\n", "{\"\":\"\"}"
    };
    static const char  *slow[] = {
        /* valid, but jansson's to read */
        "{\"a\":\"\\u00e9\"}", "[1.5]", "[1e3]", "{\"a\":1,\"a\":2}",
        "[9223372036854775808]", "[-9223372036854775809]",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        /* invalid */
        "", "  ", "\"top\"", "1", "{", "[1,]", "{\"a\"}", "{\"a\":}",
        "[01]", "[-]", "[tru]", "[truex]", "[nul]", "{\"a\":1}x",
        "[\"\x01\"]", "[\"\xc3\"]", "[\"\xc3\\n\"]", "{\"\xff\":1}",
        "[\"\\x\"]", "[\"abc", "{\"a\":1,}", "[1 2]"
    };

    for (i = 0; i < sizeof(fast) / sizeof(fast[0]); i++) {
        CHECK(read_fast(fast[i]));
        READ_SAME(fast[i], 0);
        READ_SAME(fast[i], JSON_REJECT_DUPLICATES);
    }

    for (i = 0; i < sizeof(slow) / sizeof(slow[0]); i++) {
        CHECK(!read_fast(slow[i]));
        READ_SAME(slow[i], 0);
        READ_SAME(slow[i], JSON_REJECT_DUPLICATES);
    }

    /* a NUL ends cf_json_loads' text, as json_loads' */
    CHECK(read_same("[1]\0x", 5, 0, __FILE__, __LINE__));

    /* the snapshot state, the document the command path reads most */
    cf_t_created(&agg);
    EXEC_OK(&agg, CF_CMD_PREPARE_COMPENSATION, NULL, CF_T_EXECUTE_AT + 1000);
    EXEC_OK(&agg, CF_CMD_APPLY_EXECUTION_FAILED,
            "{\"error\":{\"errorCode\":\"E\",\"errorMsg\":\"a\\tb\","
            "\"stackTrace\":\"at x/y\\n\"},\"executeAt\":5}",
            CF_T_EXECUTE_AT + 2000);

    cf_buf_init(&b);
    cf_state_write(&b, &agg.state);
    CHECK(read_fast(cf_buf_cstr(&b)));
    READ_SAME(cf_buf_cstr(&b), 0);
    cf_buf_free(&b);
    cf_aggregate_free(&agg);
}


static void
test_json_read_random(void)
{
    int       i, k;
    char     *text;
    json_t   *j;
    size_t    flags[] = { JSON_COMPACT, JSON_INDENT(2) };

    for (i = 0; i < 3000; i++) {
        j = random_value(0);
        CHECK(j != NULL);

        for (k = 0; k < 2; k++) {
            text = json_dumps(j, flags[k] | JSON_ENCODE_ANY);
            CHECK(text != NULL);

            if (!READ_SAME(text, 0)) {
                fprintf(stderr, "# tree %d read back differs: %s\n", i, text);
                free(text);
                json_decref(j);
                return;
            }

            free(text);
        }

        json_decref(j);
    }
}


const cf_test_t  cf_tests_json[] = {
    { "json: fixed values as jansson writes them", test_json_fixed },
    { "json: 3000 random trees as jansson writes them", test_json_random },
    { "json: the state text without its tree", test_json_state },
    { "json: buffer growth, reuse and failure", test_json_buffer },
    { "json: the reader's fast path and what it leaves to jansson",
      test_json_read_fixed },
    { "json: 3000 random trees read back as jansson reads them",
      test_json_read_random },
    { NULL, NULL }
};
