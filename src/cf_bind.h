
/*
 * ngx_compensation: table-driven binding of JSON objects (domain-internal).
 *
 * One binder validates command bodies, stored event bodies and stored
 * snapshots alike, so every input path has the same limits and yields the
 * same normalized shape: known keys only, in table order, enums upper-case,
 * defaults filled.
 */


#ifndef _CF_BIND_H_INCLUDED_
#define _CF_BIND_H_INCLUDED_


#include "cf_domain.h"


#define CF_BIND_MAX_STRING  65536        /* bytes, any string field */
#define CF_BIND_MAX_TEXT    1048576      /* bytes, stack traces */
#define CF_BIND_MAX_TAGS    1024         /* keys, and values per key */


typedef enum {
    CF_FT_STRING = 0,
    CF_FT_TEXT,
    CF_FT_INT32,
    CF_FT_INT64,
    CF_FT_FUNCTION_KIND,
    CF_FT_RECOVERABLE,
    CF_FT_STATUS,
    CF_FT_OBJECT,
    CF_FT_BINDING_ERRORS,       /* array of {name, msg}; omitted when empty */
    CF_FT_TAGS                  /* ABAC tags: {key: [string, ...]} */
} cf_field_type_t;


typedef struct cf_field_s  cf_field_t;

struct cf_field_s {
    const char          *key;           /* NULL ends a table */
    cf_field_type_t      type;
    unsigned             optional:1;    /* absent or null allowed */
    const char          *def;           /* optional enum: its default;
                                           optional object: NULL gives null */
    const cf_field_t    *fields;        /* CF_FT_OBJECT */
};


extern const cf_field_t  cf_fields_event_id[];
extern const cf_field_t  cf_fields_function[];
extern const cf_field_t  cf_fields_error[];
extern const cf_field_t  cf_fields_retry_spec[];
extern const cf_field_t  cf_fields_retry_state[];


/*
 * Binds src (any JSON value) to a new normalized object in *out.  path is
 * the dotted name of src, "" at the top.  0 on success; -1 with binding
 * errors in err (IllegalArgument), or InternalServerError when memory ran
 * out, and *out NULL.
 */
int cf_bind_object(json_t *src, const cf_field_t *fields, const char *path,
    json_t **out, cf_error_t *err);

/* retry spec and state <-> their normalized JSON objects */
json_t *cf_bind_retry_spec_json(const cf_retry_spec_t *spec);
json_t *cf_bind_retry_state_json(const cf_retry_state_t *rs);
void cf_bind_retry_spec_read(json_t *obj, cf_retry_spec_t *spec);
void cf_bind_retry_state_read(json_t *obj, cf_retry_state_t *rs);
/* the integer at key of a normalized object, 0 when missing */
int64_t cf_bind_int(json_t *obj, const char *key);

/* "FunctionInfoData(functionKind=..., ...)" for messages */
void cf_bind_function_text(json_t *function, char *buf, size_t size);

/* a deep copy of a normalized error with "succeeded" appended */
json_t *cf_bind_error_with_succeeded(json_t *error);


#endif /* _CF_BIND_H_INCLUDED_ */
