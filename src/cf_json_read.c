
/*
 * ngx_compensation: a fast path in front of jansson's parser (see cf_json.h).
 *
 * jansson's lexer reads through a per-character callback and a growable
 * string buffer: parsing a 700-byte snapshot state took 17 us, five times
 * the cost of building the same tree.  This parser walks the bytes once and
 * builds the tree with jansson's checked constructors.  It only knows the
 * common shapes (no \u escapes, no reals, no duplicate keys, a bounded
 * depth); for anything else it gives up and jansson parses the text from
 * the start, so that every verdict and every error message stays jansson's.
 */


#include <string.h>

#include "cf_json.h"


#define CF_JSON_READ_DEPTH  32
#define CF_JSON_READ_KEY    256     /* longer unescaped keys: jansson's */


typedef struct {
    const char  *p;
    const char  *end;
    cf_buf_t     tmp;       /* unescaped strings */
} cf_json_reader_t;


static json_t *cf_json_read_value(cf_json_reader_t *rd, int depth);
static json_t *cf_json_read_object(cf_json_reader_t *rd, int depth);
static json_t *cf_json_read_array(cf_json_reader_t *rd, int depth);
static int cf_json_read_string(cf_json_reader_t *rd, const char **s,
    size_t *n);
static json_t *cf_json_read_integer(cf_json_reader_t *rd);
static json_t *cf_json_read_literal(cf_json_reader_t *rd, const char *word,
    size_t n, json_t *value);
static int cf_json_read_next(cf_json_reader_t *rd, char close);
static void cf_json_read_space(cf_json_reader_t *rd);
static void cf_json_read_success(json_error_t *error, const char *source);


json_t *
cf_json_read(const char *text, size_t len)
{
    json_t            *j;
    cf_json_reader_t   rd;

    rd.p = text;
    rd.end = text + len;
    cf_buf_init(&rd.tmp);

    cf_json_read_space(&rd);

    /* jansson without JSON_DECODE_ANY: an object or an array */
    if (rd.p == rd.end || (*rd.p != '{' && *rd.p != '[')) {
        return NULL;
    }

    j = cf_json_read_value(&rd, 0);

    if (j != NULL) {
        cf_json_read_space(&rd);

        if (rd.p != rd.end) {
            json_decref(j);
            j = NULL;
        }
    }

    cf_buf_free(&rd.tmp);

    return j;
}


json_t *
cf_json_loads(const char *text, size_t flags, json_error_t *error)
{
    json_t  *j;

    j = cf_json_read(text, strlen(text));

    if (j == NULL) {
        return json_loads(text, flags, error);
    }

    cf_json_read_success(error, "<string>");

    return j;
}


json_t *
cf_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *error)
{
    json_t  *j;

    j = cf_json_read(buf, len);

    if (j == NULL) {
        return json_loadb(buf, len, flags, error);
    }

    cf_json_read_success(error, "<buffer>");

    return j;
}


/* what jansson leaves in *error after a success */
static void
cf_json_read_success(json_error_t *error, const char *source)
{
    if (error == NULL) {
        return;
    }

    memset(error, 0, sizeof(json_error_t));
    error->line = -1;
    error->column = -1;
    strcpy(error->source, source);
}


static json_t *
cf_json_read_value(cf_json_reader_t *rd, int depth)
{
    size_t       n;
    const char  *s;

    if (rd->p == rd->end) {
        return NULL;
    }

    switch (*rd->p) {

    case '{':
        return cf_json_read_object(rd, depth + 1);

    case '[':
        return cf_json_read_array(rd, depth + 1);

    case '"':
        if (cf_json_read_string(rd, &s, &n) != 0) {
            return NULL;
        }

        /* checks the UTF-8, as jansson's lexer does */
        return json_stringn(s, n);

    case 't':
        return cf_json_read_literal(rd, "true", 4, json_true());

    case 'f':
        return cf_json_read_literal(rd, "false", 5, json_false());

    case 'n':
        return cf_json_read_literal(rd, "null", 4, json_null());

    default:
        return cf_json_read_integer(rd);
    }
}


static json_t *
cf_json_read_object(cf_json_reader_t *rd, int depth)
{
    size_t       n;
    json_t      *obj, *v;
    const char  *key;
    char         copy[CF_JSON_READ_KEY];

    if (depth > CF_JSON_READ_DEPTH) {
        return NULL;
    }

    rd->p++;    /* '{' */

    obj = json_object();
    if (obj == NULL) {
        return NULL;
    }

    cf_json_read_space(rd);

    if (rd->p < rd->end && *rd->p == '}') {
        rd->p++;
        return obj;
    }

    for ( ;; ) {
        if (rd->p == rd->end || *rd->p != '"'
            || cf_json_read_string(rd, &key, &n) != 0)
        {
            goto failed;
        }

        /* a duplicate is an error or a replacement, by jansson's flag */
        if (json_object_getn(obj, key, n) != NULL) {
            goto failed;
        }

        if (key == rd->tmp.data) {
            /* an unescaped key: the value's strings reuse rd->tmp */
            if (n > sizeof(copy)) {
                goto failed;
            }

            memcpy(copy, key, n);
            key = copy;
        }

        cf_json_read_space(rd);

        if (rd->p == rd->end || *rd->p != ':') {
            goto failed;
        }

        rd->p++;
        cf_json_read_space(rd);

        v = cf_json_read_value(rd, depth);
        if (v == NULL) {
            goto failed;
        }

        /* checks the key's UTF-8; drops v on failure */
        if (json_object_setn_new(obj, key, n, v) != 0) {
            goto failed;
        }

        switch (cf_json_read_next(rd, '}')) {
        case 1:
            return obj;
        case -1:
            goto failed;
        }
    }

failed:

    json_decref(obj);
    return NULL;
}


static json_t *
cf_json_read_array(cf_json_reader_t *rd, int depth)
{
    json_t  *arr, *v;

    if (depth > CF_JSON_READ_DEPTH) {
        return NULL;
    }

    rd->p++;    /* '[' */

    arr = json_array();
    if (arr == NULL) {
        return NULL;
    }

    cf_json_read_space(rd);

    if (rd->p < rd->end && *rd->p == ']') {
        rd->p++;
        return arr;
    }

    for ( ;; ) {
        v = cf_json_read_value(rd, depth);

        if (v == NULL || json_array_append_new(arr, v) != 0) {
            goto failed;
        }

        switch (cf_json_read_next(rd, ']')) {
        case 1:
            return arr;
        case -1:
            goto failed;
        }
    }

failed:

    json_decref(arr);
    return NULL;
}


/*
 * At the opening quote.  *s is either in the text (no escape) or in
 * rd->tmp, valid until the next string.  The bytes' UTF-8 is the
 * caller's (jansson's constructors) to check.
 */
static int
cf_json_read_string(cf_json_reader_t *rd, const char **s, size_t *n)
{
    char           c;
    const char    *p, *start;
    unsigned char  u;

    start = ++rd->p;

    for (p = start; p < rd->end; p++) {
        u = (unsigned char) *p;

        if (u == '"') {
            *s = start;
            *n = p - start;
            rd->p = p + 1;
            return 0;
        }

        if (u == '\\' || u < 0x20) {
            break;
        }
    }

    if (p == rd->end || (unsigned char) *p < 0x20) {
        /* unterminated, or a raw control character: invalid JSON */
        return -1;
    }

    /* escapes: unescape into rd->tmp */
    cf_buf_reset(&rd->tmp);
    cf_buf_add(&rd->tmp, start, p - start);

    while (p < rd->end) {
        u = (unsigned char) *p;

        if (u == '"') {
            if (rd->tmp.failed) {
                return -1;
            }

            *s = rd->tmp.len ? rd->tmp.data : "";
            *n = rd->tmp.len;
            rd->p = p + 1;
            return 0;
        }

        if (u < 0x20) {
            return -1;
        }

        if (u != '\\') {
            start = p;

            while (p < rd->end && *p != '"' && *p != '\\'
                   && (unsigned char) *p >= 0x20)
            {
                p++;
            }

            cf_buf_add(&rd->tmp, start, p - start);
            continue;
        }

        if (++p == rd->end) {
            return -1;
        }

        switch (*p) {
        case '"':  c = '"';  break;
        case '\\': c = '\\'; break;
        case '/':  c = '/';  break;
        case 'b':  c = '\b'; break;
        case 'f':  c = '\f'; break;
        case 'n':  c = '\n'; break;
        case 'r':  c = '\r'; break;
        case 't':  c = '\t'; break;

        default:
            /* \u (surrogates, NUL) and invalid escapes: jansson's */
            return -1;
        }

        cf_buf_add(&rd->tmp, &c, 1);
        p++;
    }

    return -1;
}


/* -?(0|[1-9][0-9]*) within int64; a fraction or an exponent is jansson's */
static json_t *
cf_json_read_integer(cf_json_reader_t *rd)
{
    int          neg;
    uint64_t     v, limit;
    const char  *p;

    p = rd->p;
    neg = 0;

    if (*p == '-') {
        neg = 1;
        p++;
    }

    if (p == rd->end || *p < '0' || *p > '9') {
        return NULL;
    }

    limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
    v = 0;

    if (*p == '0') {
        p++;

    } else {
        while (p < rd->end && *p >= '0' && *p <= '9') {
            if (v > (limit - (uint64_t) (*p - '0')) / 10) {
                return NULL;
            }

            v = v * 10 + (uint64_t) (*p - '0');
            p++;
        }
    }

    if (p < rd->end
        && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9')))
    {
        return NULL;
    }

    rd->p = p;

    if (neg) {
        return json_integer(v == (uint64_t) INT64_MAX + 1
                            ? INT64_MIN : -(json_int_t) v);
    }

    return json_integer((json_int_t) v);
}


static json_t *
cf_json_read_literal(cf_json_reader_t *rd, const char *word, size_t n,
    json_t *value)
{
    const char  *p;

    if ((size_t) (rd->end - rd->p) < n || memcmp(rd->p, word, n) != 0) {
        return NULL;
    }

    p = rd->p + n;

    /* jansson reads a whole word: "truex" is not "true" then "x" */
    if (p < rd->end
        && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
    {
        return NULL;
    }

    rd->p = p;

    return value;
}


/* after a member or an element: 1 at the closing bracket, 0 after a comma */
static int
cf_json_read_next(cf_json_reader_t *rd, char close)
{
    cf_json_read_space(rd);

    if (rd->p == rd->end) {
        return -1;
    }

    if (*rd->p == close) {
        rd->p++;
        return 1;
    }

    if (*rd->p != ',') {
        return -1;
    }

    rd->p++;
    cf_json_read_space(rd);

    return 0;
}


static void
cf_json_read_space(cf_json_reader_t *rd)
{
    while (rd->p < rd->end
           && (*rd->p == ' ' || *rd->p == '\t' || *rd->p == '\n'
               || *rd->p == '\r'))
    {
        rd->p++;
    }
}
