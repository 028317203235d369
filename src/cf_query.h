
/*
 * ngx_compensation: the query DSL (spec 4).
 *
 * A Condition / ListQuery / PagedQuery / SingleQuery JSON document is
 * validated and compiled into the WHERE and ORDER BY text of one SELECT on
 * the snapshot or event_stream table, plus the values to bind.  Field names
 * are resolved against a fixed table (spec 4.3, 4.4): a name that is not
 * known is an error and user text never reaches the SQL text; values,
 * header keys and event payload paths are always bound parameters.
 *
 * Plain C (jansson): no nginx headers, unit-tested directly.  The store
 * backend runs the compiled query (SQLite: cf_sqlite_query.c).
 */


#ifndef _CF_QUERY_H_INCLUDED_
#define _CF_QUERY_H_INCLUDED_


#include "cf_domain.h"
#include "cf_store.h"


typedef enum {
    CF_QUERY_SNAPSHOT = 0,
    CF_QUERY_EVENT
} cf_query_store_t;

typedef enum {
    CF_QUERY_COUNT = 0,
    CF_QUERY_LIST,
    CF_QUERY_PAGED,
    CF_QUERY_SINGLE
} cf_query_kind_t;


/* the SQL dialect a query is compiled into (cf_query_int.h) */
typedef struct cf_query_dialect_s  cf_query_dialect_t;


/* the HTTP query guard of spec 4.7; defaults by cf_query_limits_init() */
typedef struct {
    int64_t      max_list_size;          /* 1000 */
    int64_t      max_page_size;          /* 100 */
    int64_t      max_page_window;        /* 10000 (index x size) */
    int64_t      max_condition_nodes;    /* 64 */
    int64_t      max_condition_values;   /* 1000 */
    int64_t      default_list_limit;     /* 10 (seed-era ListQuery) */
    int          allow_expensive;        /* 1: NE, NOT_IN, ... allowed */
    int          allow_match_all;        /* 1: match-all count/paged */
    const char  *default_zone;           /* NULL: the process's zone */
    const cf_query_dialect_t *dialect;   /* NULL: SQLite's */
} cf_query_limits_t;

#define CF_QUERY_MAX_SORT         16
#define CF_QUERY_MAX_PROJECTION   64
#define CF_QUERY_MAX_ZONE_LEN     64


/* a compiled query */
typedef struct {
    cf_query_store_t   store;
    cf_query_kind_t    kind;
    char              *where;       /* SQL boolean expression */
    char              *order;       /* "ORDER BY ..." or "" */
    json_t            *params;      /* values of ?1, ?2, ... in order */
    int64_t            limit;       /* -1: none */
    int64_t            offset;
    json_t            *include;     /* projection: array of paths or NULL */
    json_t            *exclude;
    /* only the low-cardinality snapshot columns are referenced: the count
     * may be answered by the snapshot_count rollup table */
    int                rollup;
} cf_query_t;


void cf_query_limits_init(cf_query_limits_t *lim);

/*
 * Compiles body (a Condition for counts; CountQuery {condition} is accepted
 * too) for one store and kind.  owner_id is the request's owner (spec 4.6,
 * NULL or "" for none); now_ms the request time for the time operators.
 * 0, or -1 with err set (IllegalArgument: a 400 naming the problem).
 */
int cf_query_compile(cf_query_t *q, cf_query_store_t store,
    cf_query_kind_t kind, json_t *body, const cf_query_limits_t *lim,
    const char *owner_id, int64_t now_ms, cf_error_t *err);
void cf_query_free(cf_query_t *q);

/* the full SQLite text (cf_query_sqlite.c): count ("SELECT count(*) ...")
 * or the row query; malloc()ed, NULL when out of memory */
char *cf_query_sql(const cf_query_t *q, int count);
/* the same statement in PostgreSQL's dialect (cf_query_pg.c) */
char *cf_query_pg_sql(const cf_query_t *q, int count);
/* the PostgreSQL dialect, for cf_query_limits_t.dialect */
extern const cf_query_dialect_t  cf_query_pg_dialect;


/* time helpers (exposed for the tests) */

/* 0 when zone is usable: NULL/"" (default), "Z", "UTC", "GMT", "+hh[:mm]",
 * "-hh[:mm]", "UTC+hh[:mm]", or an IANA name present in the zoneinfo
 * directory (strict character set, no "..") */
int cf_query_zone_valid(const char *zone);

/* epoch ms of local midnight of the day (now shifted by day_offset days)
 * in zone; -1 on error */
int64_t cf_query_day_start(const char *zone, int64_t now_ms,
    int64_t day_offset);

/* the start of the ISO week (Monday) or month containing now, shifted by
 * offset weeks/months; -1 on error */
int64_t cf_query_week_start(const char *zone, int64_t now_ms, int offset);
int64_t cf_query_month_start(const char *zone, int64_t now_ms, int offset);


/* execution, by the store backend (cf_store.h) */

/* creates the query indexes and the count rollup (once per connection
 * open; bounded retry while another process holds the lock); 0 or -1 */
int cf_query_schema(cf_store_t *st, char *errbuf, size_t errlen);

/* 0 or -1 (errbuf filled) */
int cf_query_count(cf_store_t *st, const cf_query_t *q, int64_t *count,
    char *errbuf, size_t errlen);

/*
 * The matching documents (spec 5.1 / 5.2), projected; state_only returns
 * the "state" object of each snapshot document.  A new array, or NULL on
 * error (errbuf filled).
 */
json_t *cf_query_rows(cf_store_t *st, const cf_query_t *q, int state_only,
    char *errbuf, size_t errlen);

/*
 * The same documents one at a time, as the statement yields them: cb takes
 * each document's reference and returns 0 (go on), 1 (stop) or -1 (out of
 * memory).  0: every row; 1: stopped by cb; -1: error (errbuf filled).
 */
typedef int (*cf_query_doc_pt)(void *data, json_t *doc);

int cf_query_each(cf_store_t *st, const cf_query_t *q, int state_only,
    cf_query_doc_pt cb, void *data, char *errbuf, size_t errlen);


#endif /* _CF_QUERY_H_INCLUDED_ */
