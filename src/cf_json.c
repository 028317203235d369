
/*
 * ngx_compensation: a growable byte buffer and a compact JSON writer (see
 * cf_json.h).
 */


#include <stdlib.h>
#include <string.h>

#include "cf_json.h"


#define CF_BUF_MIN  1024


static int cf_buf_grow(cf_buf_t *b, size_t n);
static void cf_json_write_real(cf_buf_t *b, const json_t *j);


void
cf_buf_init(cf_buf_t *b)
{
    memset(b, 0, sizeof(cf_buf_t));
}


void
cf_buf_free(cf_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof(cf_buf_t));
}


void
cf_buf_reset(cf_buf_t *b)
{
    b->len = 0;
    b->failed = 0;
}


/* room for n more bytes and a terminating NUL */
static int
cf_buf_grow(cf_buf_t *b, size_t n)
{
    char    *p;
    size_t   cap;

    if (b->failed) {
        return -1;
    }

    if (n < b->cap - b->len) {
        return 0;
    }

    if (n > ((size_t) -1) / 4 - b->len) {
        b->failed = 1;
        return -1;
    }

    cap = b->cap ? b->cap : CF_BUF_MIN;

    while (cap - b->len <= n) {
        cap *= 2;
    }

    p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }

    b->data = p;
    b->cap = cap;

    return 0;
}


void
cf_buf_add(cf_buf_t *b, const char *p, size_t n)
{
    if (n == 0 || cf_buf_grow(b, n) != 0) {
        return;
    }

    memcpy(b->data + b->len, p, n);
    b->len += n;
}


void
cf_buf_add_str(cf_buf_t *b, const char *s)
{
    cf_buf_add(b, s, strlen(s));
}


const char *
cf_buf_cstr(cf_buf_t *b)
{
    if (cf_buf_grow(b, 0) != 0) {
        return NULL;
    }

    b->data[b->len] = '\0';

    return b->data;
}


void
cf_json_write_int(cf_buf_t *b, int64_t v)
{
    char       tmp[24], *p;
    uint64_t   u;

    p = tmp + sizeof(tmp);
    u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;

    do {
        *--p = (char) ('0' + u % 10);
        u /= 10;
    } while (u);

    if (v < 0) {
        *--p = '-';
    }

    cf_buf_add(b, p, (size_t) (tmp + sizeof(tmp) - p));
}


void
cf_json_write_int_after(cf_buf_t *b, const char *text, int64_t v)
{
    cf_buf_add_str(b, text);
    cf_json_write_int(b, v);
}


/*
 * jansson's escapes: \" \\ \b \f \n \r \t, other control characters as
 * \u00XX (upper-case hex); '/' and non-ASCII are written as they are.  The
 * strings come from jansson values or from the callers, already valid UTF-8.
 */
void
cf_json_write_string(cf_buf_t *b, const char *s, size_t n)
{
    char                  esc[6];
    size_t                i, start;
    unsigned char         c;
    static const char     hex[] = "0123456789ABCDEF";

    cf_buf_add(b, "\"", 1);

    start = 0;

    for (i = 0; i < n; i++) {
        c = (unsigned char) s[i];

        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }

        cf_buf_add(b, s + start, i - start);
        start = i + 1;

        switch (c) {
        case '"':  cf_buf_add(b, "\\\"", 2); break;
        case '\\': cf_buf_add(b, "\\\\", 2); break;
        case '\b': cf_buf_add(b, "\\b", 2); break;
        case '\f': cf_buf_add(b, "\\f", 2); break;
        case '\n': cf_buf_add(b, "\\n", 2); break;
        case '\r': cf_buf_add(b, "\\r", 2); break;
        case '\t': cf_buf_add(b, "\\t", 2); break;
        default:
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            cf_buf_add(b, esc, 6);
        }
    }

    cf_buf_add(b, s + start, n - start);
    cf_buf_add(b, "\"", 1);
}


void
cf_json_write_key(cf_buf_t *b, const char *name)
{
    size_t  n;

    n = strlen(name);

    if (cf_buf_grow(b, n + 3) != 0) {
        return;
    }

    b->data[b->len++] = '"';
    memcpy(b->data + b->len, name, n);
    b->len += n;
    b->data[b->len++] = '"';
    b->data[b->len++] = ':';
}


/* reals are rare here (none in the domain): jansson's own formatting */
static void
cf_json_write_real(cf_buf_t *b, const json_t *j)
{
    char  *text;

    text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL) {
        b->failed = 1;
        return;
    }

    cf_buf_add_str(b, text);
    free(text);
}


void
cf_json_write(cf_buf_t *b, const json_t *j)
{
    int          first;
    size_t       i, n, klen;
    json_t      *v;
    const char  *key, *s;

    if (j == NULL) {
        b->failed = 1;
        return;
    }

    switch (json_typeof(j)) {

    case JSON_OBJECT:
        cf_buf_add(b, "{", 1);
        first = 1;

        json_object_keylen_foreach((json_t *) j, key, klen, v) {
            if (!first) {
                cf_buf_add(b, ",", 1);
            }
            first = 0;

            cf_json_write_string(b, key, klen);
            cf_buf_add(b, ":", 1);
            cf_json_write(b, v);
        }

        cf_buf_add(b, "}", 1);
        return;

    case JSON_ARRAY:
        cf_buf_add(b, "[", 1);
        n = json_array_size(j);

        for (i = 0; i < n; i++) {
            if (i) {
                cf_buf_add(b, ",", 1);
            }
            cf_json_write(b, json_array_get(j, i));
        }

        cf_buf_add(b, "]", 1);
        return;

    case JSON_STRING:
        s = json_string_value(j);
        cf_json_write_string(b, s, json_string_length(j));
        return;

    case JSON_INTEGER:
        cf_json_write_int(b, (int64_t) json_integer_value(j));
        return;

    case JSON_REAL:
        cf_json_write_real(b, j);
        return;

    case JSON_TRUE:
        cf_buf_add(b, "true", 4);
        return;

    case JSON_FALSE:
        cf_buf_add(b, "false", 5);
        return;

    case JSON_NULL:
        cf_buf_add(b, "null", 4);
        return;
    }

    b->failed = 1;
}
