
/*
 * ngx_compensation: the execution counts behind /actuator/prometheus (see
 * cf_metrics.h): the categories of the rollup's rows, for every backend.
 * The counts are the backend's (cf_sqlite_metrics.c).
 */


#include <string.h>

#include "cf_metrics.h"


static const char *const  cf_category_names[CF_CATEGORY__COUNT] = {
    "to-retry", "executing", "next-retry", "non-retryable", "succeeded",
    "unrecoverable"
};


const char *
cf_category_name(cf_category_t c)
{
    return ((int) c >= 0 && c < CF_CATEGORY__COUNT) ? cf_category_names[c]
                                                     : "";
}


void
cf_metrics_add_rollup(cf_exec_counts_t *out, int deleted,
    const char *name, const char *rec, int retryable, int below,
    int64_t n)
{
    int  status, ru;

    if (deleted) {
        out->deleted += n;
        return;
    }

    if (name == NULL || rec == NULL) {
        return;
    }

    if (strcmp(name, "FAILED") == 0) {
        status = 0;
    } else if (strcmp(name, "PREPARED") == 0) {
        status = 1;
    } else if (strcmp(name, "SUCCEEDED") == 0) {
        status = 2;
    } else {
        return;
    }

    out->status[status] += n;

    if (status == 2) {
        out->category[CF_CATEGORY_SUCCEEDED] += n;
        return;
    }

    /* FAILED or PREPARED from here on */

    ru = strcmp(rec, "RECOVERABLE") == 0 || strcmp(rec, "UNKNOWN") == 0;

    if (strcmp(rec, "UNRECOVERABLE") == 0) {
        out->category[CF_CATEGORY_UNRECOVERABLE] += n;
    }

    if (ru && !below) {
        out->category[CF_CATEGORY_NON_RETRYABLE] += n;
    }

    if (ru && retryable) {
        /* the backend takes out the prepared ones still running */
        out->category[CF_CATEGORY_TO_RETRY] += n;
    }
}
