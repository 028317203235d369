
/*
 * ngx_compensation: the execution counts behind /actuator/prometheus.
 *
 * Plain C: no nginx; the counts are the store backend's (SQLite:
 * cf_sqlite_metrics.c).  Counts by status and by dashboard category
 * (spec 8.2) come from the snapshot_count rollup (a handful of rows kept by
 * triggers in the command's own transaction); only the parts that depend on
 * the clock (Executing, To Retry's prepared-and-timed-out executions, Next
 * Retry) are indexed COUNTs over the small ranges they name.  No scan of
 * the snapshot table.
 */


#ifndef _CF_METRICS_H_INCLUDED_
#define _CF_METRICS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include "cf_store.h"


/* the dashboard's six views (spec 8.2), in its order */
typedef enum {
    CF_CATEGORY_TO_RETRY = 0,
    CF_CATEGORY_EXECUTING,
    CF_CATEGORY_NEXT_RETRY,
    CF_CATEGORY_NON_RETRYABLE,
    CF_CATEGORY_SUCCEEDED,
    CF_CATEGORY_UNRECOVERABLE,
    CF_CATEGORY__COUNT
} cf_category_t;


typedef struct {
    int64_t  status[3];                  /* FAILED, PREPARED, SUCCEEDED
                                            (cf_status_t), not deleted */
    int64_t  deleted;                    /* deleted executions */
    int64_t  category[CF_CATEGORY__COUNT];
} cf_exec_counts_t;


/* the view's path in the dashboard: "to-retry", "executing", ... */
const char *cf_category_name(cf_category_t c);

/*
 * Fills *out as of now (epoch ms), in one read transaction.  0, or -1 with
 * the reason in errbuf.
 */
int cf_metrics_counts(cf_store_t *st, int64_t now, cf_exec_counts_t *out,
    char *errbuf, size_t errlen);


/* adds n executions of one rollup row (deleted, status, recoverable,
 * is_retryable, is_below_retry_threshold: the snapshot_count columns) to
 * the status and category counts; for the backends */
void cf_metrics_add_rollup(cf_exec_counts_t *out, int deleted,
    const char *status, const char *recoverable, int retryable, int below,
    int64_t n);


#endif /* _CF_METRICS_H_INCLUDED_ */
