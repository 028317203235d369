
/*
 * ngx_compensation: a growable byte buffer and a compact JSON writer.
 *
 * The hot paths (snapshot and event rows, command replies) used to build a
 * jansson tree only to serialise it with json_dumps, whose per-piece
 * callbacks, snprintf'd integers and doubling reallocations were a tenth of a
 * worker's time per command (docs/benchmarks.md).  cf_json_write produces the
 * same bytes as json_dumps(JSON_COMPACT | JSON_ENCODE_ANY) into a buffer the
 * caller reuses, and the cf_json_* pieces let a caller write a document
 * without building its tree at all.  Plain C, no nginx.
 */


#ifndef _CF_JSON_H_INCLUDED_
#define _CF_JSON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <jansson.h>


typedef struct {
    char    *data;      /* NUL-terminated once cf_buf_cstr was called */
    size_t   len;
    size_t   cap;
    int      failed;    /* an allocation failed: the content is incomplete */
} cf_buf_t;


void cf_buf_init(cf_buf_t *b);
void cf_buf_free(cf_buf_t *b);
/* empties the buffer and keeps its memory */
void cf_buf_reset(cf_buf_t *b);
void cf_buf_add(cf_buf_t *b, const char *p, size_t n);
void cf_buf_add_str(cf_buf_t *b, const char *s);
/* the content as a C string, or NULL if an allocation failed */
const char *cf_buf_cstr(cf_buf_t *b);


/* any jansson value, as json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) */
void cf_json_write(cf_buf_t *b, const json_t *j);
/* a JSON string literal: quotes and jansson's escapes */
void cf_json_write_string(cf_buf_t *b, const char *s, size_t n);
void cf_json_write_int(cf_buf_t *b, int64_t v);
/* text (literal JSON: punctuation and a member name), then v */
void cf_json_write_int_after(cf_buf_t *b, const char *text, int64_t v);
/* "name": for a name that needs no escaping (the callers' literals) */
void cf_json_write_key(cf_buf_t *b, const char *name);


/*
 * The reader (cf_json_read.c).  cf_json_read parses the common shapes of
 * JSON (objects, arrays, strings without \u escapes, integers, literals)
 * and returns NULL for anything else, valid or not; cf_json_loads and
 * cf_json_loadb are json_loads and json_loadb with that fast path first:
 * same trees, same verdicts, same errors.
 */
json_t *cf_json_read(const char *text, size_t len);
json_t *cf_json_loads(const char *text, size_t flags, json_error_t *error);
json_t *cf_json_loadb(const char *buf, size_t len, size_t flags,
    json_error_t *error);


#endif /* _CF_JSON_H_INCLUDED_ */
