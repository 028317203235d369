
/*
 * ngx_compensation: the query compiler's own header (cf_query*.c): the
 * compiler's state, the field table's types, and the SQL dialect the
 * compiler writes through.
 *
 * The dialect-neutral part (cf_query.c: operators, validation, limits,
 * conditions, sort and projection; cf_query_fields.c: the fields
 * whitelist; cf_query_time.c: zones and the time operators' ranges) writes
 * only the boolean glue of standard SQL (parentheses, AND, OR, NOT).  The
 * predicates of the resolved fields, the walks through arrays' elements
 * and the statements are written by one emitter (cf_query_emit.c) through
 * a dialect: its spellings and its JSON access (cf_query_sqlite.c: SQLite's
 * JSON1 functions; cf_query_pg.c: PostgreSQL's json functions).
 */


#ifndef _CF_QUERY_INT_H_INCLUDED_
#define _CF_QUERY_INT_H_INCLUDED_


#include "cf_query.h"


#define CF_Q_SHORT_LIST     16        /* IN lists up to this use "?, ?" */
#define CF_Q_MAX_PARAMS     30000     /* below SQLite's 32766 variables */
#define CF_Q_MAX_PATH       256
#define CF_Q_MAX_SEGMENTS   8


typedef enum {
    CF_K_STR = 0,
    CF_K_INT,
    CF_K_BOOL,
    CF_K_OBJ,
    CF_K_ARR,
    CF_K_ANY,
    CF_K_MISSING
} cf_q_kind_t;


typedef enum {
    CF_S_SNAPSHOT = 0,
    CF_S_EVENT,
    CF_S_BINDING_ERROR,
    CF_S_BODY,
    CF_S__COUNT
} cf_q_scope_t;


typedef struct {
    const char   *name;
    const char   *column;     /* a column or SQL literal; NULL: the base */
    const char   *path;       /* JSON path in column/base, or NULL */
    cf_q_kind_t   kind;
    int           elem;       /* CF_K_ARR: the scope of its elements */
    int           rollup;     /* a column of the snapshot_count rollup */
} cf_q_field_t;


/* a string builder; oom latches */
typedef struct {
    char    *p;
    size_t   len;
    size_t   cap;
    int      oom;
} cf_sb_t;


/* the compiler's state */
typedef struct {
    cf_sb_t                   sb;
    json_t                   *params;
    const cf_query_limits_t  *lim;
    cf_error_t               *err;
    cf_query_store_t          store;
    int64_t                   now_ms;
    int64_t                   nodes;
    int                       aliases;
    int                       rollup;
    json_t                   *empty;
    const cf_query_dialect_t *dialect;
} cf_qc_t;


/* a resolved field: a leaf to compare, or a hop through an array */
typedef struct {
    const cf_q_field_t  *f;         /* the table entry (a copy for dyn) */
    cf_q_field_t         dyn;       /* header.<key>, body.<payload path> */
    char                 path[CF_Q_MAX_PATH];
    const char          *base;      /* SQL of the base (element alias) */
    const char          *rest;      /* after an array field: hop */
    int                  dynamic;   /* path is bound, not literal */
} cf_q_ref_t;


/* a comparison value: a constant, or SQL expressions (value, json type) */
typedef struct {
    json_t      *v;
    const char  *vsql;
    const char  *tsql;
} cf_q_val_t;


typedef enum {
    CF_L_CMP = 0,       /* cmp with val */
    CF_L_IN,            /* list (nulls mean "missing or null") */
    CF_L_NULL,          /* missing or null */
    CF_L_NOT_NULL,
    CF_L_EXISTS,
    CF_L_STRING,        /* mode, val.v, icase */
    CF_L_ELEM           /* child condition on the elements */
} cf_q_leaf_op_t;


typedef struct {
    cf_q_leaf_op_t   op;
    const char      *cmp;
    cf_q_val_t       val;
    json_t          *list;
    int              mode;
    int              icase;
    json_t          *child;
    int              depth;
} cf_q_leaf_t;


/*
 * An SQL dialect: the spellings where the engines differ, and the JSON
 * access that is each engine's own.  The one emitter of the leaf
 * operators (cf_query_emit.c) writes every predicate through it; a
 * dialect file (cf_query_sqlite.c, cf_query_pg.c) holds only its table and
 * its JSON access functions.
 *
 * A "candidate" is a value an untyped leaf (CF_K_ANY, CF_K_ARR) is
 * compared through: the value itself and, for an array, its elements; a
 * "row" is an element of a JSON array read as a table (ELEM_MATCH, a hop
 * through an array, a bound list).
 */
struct cf_query_dialect_s {
    const char  *name;
    /* the placeholder of parameter N: prefix then N ("?1", "$1") */
    const char  *param_prefix;
    /* predicates that are always false, always true */
    const char  *never;
    const char  *always;
    /* appended to ASC and DESC of a key that may be NULL, so that NULLs
     * sort first ascending as in SQLite (NULL: the engine does so) */
    const char  *nulls_first;
    const char  *nulls_last;
    /* after a string ordered or sorted, for byte order ("": the engine's
     * default is) */
    const char  *collate;
    /* after the placeholder of a value bound as text, integer, real */
    const char  *cast_text;
    const char  *cast_int;
    const char  *cast_real;

    /* the JSON type names (an SQL list) of a value of kind CF_K_STR,
     * CF_K_INT, CF_K_BOOL, CF_K_OBJ, as a candidate's or row's type */
    const char  *types[4];
    /* a candidate's or row's value (%s) as the SQL value of that kind */
    const char  *as_kind[4];
    /* a candidate (type %1$s, value %3$s) and a row of a bound list (type
     * %2$s, value %4$s) are the same JSON value */
    const char  *same_value;
    /* the rows of a bound JSON array: its placeholder between open and
     * close; the column list after a row source's alias (AS x<cols>) */
    const char  *list_open;
    const char  *list_close;
    const char  *row_cols;
    /* a row's value and JSON type, a candidate's type (%s: the alias) */
    const char  *row_value;
    const char  *row_type;
    const char  *cand_type;
    /* the string matches [ignore case][contains, starts, ends, the empty
     * string]: %1$s the string, %2$s the pattern's placeholder */
    const char  *match[2][4];
    /* an array leaf is null when its JSON type is missing or "null" (the
     * engine keeps a JSON null apart from SQL's NULL) */
    int          arr_null_by_type;

    /* the statement: the count of a rollup query (NULL: no rollup table);
     * the key a page of rows is chosen by first (NULL: in one step) */
    const char  *count_rollup;
    const char  *page_key;

    /* the dialect's own JSON access; each writes SQL, 0 or -1 */

    /* the SQL value of a leaf (compared, sorted, matched) */
    int (*expr)(cf_qc_t *c, cf_q_ref_t *r);
    /* the leaf as JSON: an array or object as its compact text with
     * cast_text */
    int (*json)(cf_qc_t *c, cf_q_ref_t *r);
    /* the JSON type of a leaf, NULL when it is missing */
    int (*type)(cf_qc_t *c, cf_q_ref_t *r);
    /* a row source of the elements of an array leaf */
    int (*elements)(cf_qc_t *c, cf_q_ref_t *r);
    /* the select list of a leaf's candidates: columns v and (see
     * cand_type) its type */
    int (*candidates)(cf_qc_t *c, cf_q_ref_t *r);
    /* "typed leaf IN" a list of more than CF_Q_SHORT_LIST values of the
     * leaf's kind */
    int (*in_long)(cf_qc_t *c, cf_q_ref_t *r, json_t *list);
};


/* the SQLite dialect (cf_query_sqlite.c), the compiler's default */
extern const cf_query_dialect_t  cf_query_sqlite_dialect;


/* the emitter (cf_query_emit.c) */

/* the predicate of a resolved field without hops (every leaf operator;
 * ELEM_MATCH writes its child condition with cf_q_condition) */
int cf_q_leaf(cf_qc_t *c, cf_q_ref_t *r, cf_q_leaf_t *lo);
/* opens "some element of r's array field, named eb, satisfies (": the
 * caller writes the element's predicate and ")" */
int cf_q_hop_open(cf_qc_t *c, cf_q_ref_t *r, char *eb, size_t len);
/* opens "every value of list (bound) satisfies (" with the names of a
 * value and its JSON type in lv and lt: the caller writes the predicate
 * (with those names) and ")" */
int cf_q_all_open(cf_qc_t *c, json_t *list, char *lv, char *lt, size_t len);
/* the expression a sort key orders by */
int cf_q_sort_key(cf_qc_t *c, cf_q_ref_t *r);
/* "typed leaf IN list": some row of the bound list equals the leaf */
int cf_q_in_rows(cf_qc_t *c, cf_q_ref_t *r, json_t *list);
/* the statement text of a compiled query in dialect d; malloc()ed */
char *cf_q_statement(const cf_query_dialect_t *d, const cf_query_t *q,
    int count);


/* the string builder (cf_query.c) */
void cf_sb_addn(cf_sb_t *sb, const char *s, size_t n);
void cf_sb_add(cf_sb_t *sb, const char *s);
void cf_sb_addf(cf_sb_t *sb, const char *fmt, ...) CF_PRINTF(2, 3);

/* the compiler's helpers (cf_query.c) */
int cf_q_fail(cf_qc_t *c, const char *fmt, ...) CF_PRINTF(2, 3);
/* appends a parameter (a new reference is taken); returns its number, 0 */
int cf_q_param(cf_qc_t *c, json_t *v);
/* writes the placeholder of a new parameter v; 0 or -1 */
int cf_q_bind(cf_qc_t *c, json_t *v);
/* the same, taking v's reference (NULL: out of memory) */
int cf_q_bind_new(cf_qc_t *c, json_t *v);
/* the compact JSON text of an object/array value, bound */
int cf_q_bind_dump(cf_qc_t *c, json_t *v);
int cf_q_is_number(json_t *v);
/* does the JSON value's type fit the field kind? */
int cf_q_kind_fits(cf_q_kind_t kind, json_t *v);
/* a condition in scope on base (ELEM_MATCH's elements) */
int cf_q_condition(cf_qc_t *c, json_t *cond, int scope, const char *base,
    int depth);

/* the fields whitelist (cf_query_fields.c) */
int cf_q_resolve(int scope, const char *base, const char *name,
    cf_q_ref_t *r);
int cf_q_has_hop(int scope, const char *name);

/* time (cf_query_time.c) */
int64_t cf_q_local_start(const char *zone, int64_t now_ms, int what,
    int64_t shift, long hms);
int cf_q_format(const char *zone, int64_t ms, const char *pat, char *out,
    size_t len);


#endif /* _CF_QUERY_INT_H_INCLUDED_ */
