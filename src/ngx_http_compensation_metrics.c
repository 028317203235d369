
/*
 * ngx_compensation: metrics, "GET /actuator/prometheus" in the Prometheus
 * text exposition format (version 0.0.4).
 *
 * Counters live in a shared zone ("compensation_metrics") as atomics, as
 * nginx's stub_status keeps ngx_stat_*: every worker (and its store thread)
 * adds to them with one atomic add, and a scrape on any worker reads them
 * all.  The zone survives reloads, so counters run from the master's start.
 * Gauges about the store are read at scrape time: the execution counts
 * from the count rollup (cf_metrics_counts(), no scan), the file sizes by
 * stat().
 *
 * Names follow Micrometer's Prometheus naming (base units, "_seconds" and
 * "_bytes" suffixes, "_total" on counters, an "outcome" label with
 * Micrometer's Outcome values for HTTP-like results).
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_metrics.h"
#include "ngx_http_compensation_response.h"
#include "ngx_http_compensation_read.h"
#include "cf_metrics.h"
#include "cf_dispatch.h"


#define NGX_HTTP_COMPENSATION_OUTCOMES  4   /* SUCCESS, CLIENT_ERROR,
                                               SERVER_ERROR, UNKNOWN */
#define NGX_HTTP_COMPENSATION_LAT_BUCKETS    13
#define NGX_HTTP_COMPENSATION_LATE_BUCKETS   12
#define NGX_HTTP_COMPENSATION_GROUP_BUCKETS  10
#define NGX_HTTP_COMPENSATION_SINK_KINDS     3
#define NGX_HTTP_COMPENSATION_DISPATCH_OUTS  6


/* bucket bounds: ms for times, commands for group sizes */
static const ngx_uint_t  ngx_http_compensation_lat_le[] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

static const ngx_uint_t  ngx_http_compensation_late_le[] = {
    100, 500, 1000, 2000, 5000, 10000, 30000, 60000, 300000, 600000,
    1800000, 3600000
};

static const ngx_uint_t  ngx_http_compensation_group_le[] = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512
};

static const char  *ngx_http_compensation_outcomes[] = {
    "SUCCESS", "CLIENT_ERROR", "SERVER_ERROR", "UNKNOWN"
};

static const char  *ngx_http_compensation_sink_kinds[] = {
    "state_event", "event_stream", "notification"
};

/* final states of a dispatch operation (cf_dispatch.h) */
static const char  *ngx_http_compensation_dispatch_outs[] = {
    "Succeeded", "Completed", "Failed", "Released", "Cancelled", "other"
};


typedef struct {
    ngx_atomic_t   count;
    ngx_atomic_t   sum;                 /* ms, or commands */
    ngx_atomic_t   bucket[16];          /* not cumulative */
} ngx_http_compensation_histogram_t;


/* in the zone's slab pool (see ngx_http_compensation_id.c for why) */
typedef struct {
    ngx_http_compensation_histogram_t  command[CF_CMD__COUNT]
                                              [NGX_HTTP_COMPENSATION_OUTCOMES];
    ngx_http_compensation_histogram_t  lateness;
    ngx_http_compensation_histogram_t  group;
    ngx_atomic_t                       dispatch[
                                          NGX_HTTP_COMPENSATION_DISPATCH_OUTS];
    ngx_atomic_t                       sink[NGX_HTTP_COMPENSATION_SINK_KINDS]
                                           [2];    /* failure, success */
} ngx_http_compensation_metrics_t;


static ngx_int_t ngx_http_compensation_metrics_init_zone(
    ngx_shm_zone_t *shm_zone, void *data);
static ngx_int_t ngx_http_compensation_metrics_log(ngx_http_request_t *r);
static void ngx_http_compensation_observe(
    ngx_http_compensation_histogram_t *h, const ngx_uint_t *le,
    ngx_uint_t n, ngx_uint_t v);
static void ngx_http_compensation_dispatch_finished(const char *state);


/* this process's zone (init_process): the hooks have no configuration at
 * hand, and the store thread none at all */
static ngx_http_compensation_metrics_t  *ngx_http_compensation_metrics;


ngx_int_t
ngx_http_compensation_metrics_conf(ngx_conf_t *cf,
    ngx_http_compensation_main_conf_t *mcf)
{
    size_t     size;
    ngx_str_t  name = ngx_string("compensation_metrics");

    size = 8 * ngx_pagesize
           + ngx_align(sizeof(ngx_http_compensation_metrics_t), ngx_pagesize);

    mcf->metrics_zone = ngx_shared_memory_add(cf, &name, size,
                                              &ngx_http_compensation_module);
    if (mcf->metrics_zone == NULL) {
        return NGX_ERROR;
    }

    mcf->metrics_zone->init = ngx_http_compensation_metrics_init_zone;
    mcf->metrics_zone->data = mcf;

    cf_dispatch_set_observer(ngx_http_compensation_dispatch_finished);

    return NGX_OK;
}


/* postconfiguration (phases exist only then) */
ngx_int_t
ngx_http_compensation_metrics_postconf(ngx_conf_t *cf)
{
    ngx_http_handler_pt                *h;
    ngx_http_core_main_conf_t          *cmcf;
    ngx_http_compensation_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_compensation_module);

    if (mcf->metrics_zone == NULL) {
        return NGX_OK;
    }

    /* the command timer: every finished command request, whatever path
     * answered it (bad body, refusal, commit) */
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_compensation_metrics_log;

    return NGX_OK;
}


static ngx_int_t
ngx_http_compensation_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    if (data) {
        /* a reload: the counters go on */
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    shm_zone->data = ngx_slab_calloc(shpool,
                                     sizeof(ngx_http_compensation_metrics_t));
    if (shm_zone->data == NULL) {
        return NGX_ERROR;
    }

    shpool->data = shm_zone->data;

    return NGX_OK;
}


/*
 * Per worker: the zone of the worker's own cycle (a global set by the
 * master could outlive a reload that failed after creating a new zone).
 */
void
ngx_http_compensation_metrics_init_process(
    ngx_http_compensation_main_conf_t *mcf)
{
    ngx_http_compensation_metrics = (mcf && mcf->metrics_zone)
                                    ? mcf->metrics_zone->data : NULL;
}


static void
ngx_http_compensation_observe(ngx_http_compensation_histogram_t *h,
    const ngx_uint_t *le, ngx_uint_t n, ngx_uint_t v)
{
    ngx_uint_t  i;

    for (i = 0; i < n && v > le[i]; i++) { /* void */ }

    /* i == n: above every bound, only in +Inf (count) */
    if (i < n) {
        (void) ngx_atomic_fetch_add(&h->bucket[i], 1);
    }

    (void) ngx_atomic_fetch_add(&h->sum, v);
    (void) ngx_atomic_fetch_add(&h->count, 1);
}


/* the log phase: a command route's request is over */
static ngx_int_t
ngx_http_compensation_metrics_log(ngx_http_request_t *r)
{
    ngx_int_t                     ms;
    ngx_uint_t                    status, outcome;
    ngx_time_t                   *tp;
    ngx_http_compensation_ctx_t  *ctx;

    if (ngx_http_compensation_metrics == NULL) {
        return NGX_OK;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);

    if (ctx == NULL || ctx->route == NULL || ctx->command < 0
        || ctx->command >= CF_CMD__COUNT)
    {
        return NGX_OK;
    }

    status = r->err_status ? r->err_status : r->headers_out.status;

    if (status >= 200 && status < 300) {
        outcome = 0;
    } else if (status >= 400 && status < 500 && status != 499) {
        outcome = 1;
    } else if (status >= 500) {
        outcome = 2;
    } else {
        outcome = 3;        /* no answer: the client went away */
    }

    tp = ngx_timeofday();

    ms = (ngx_int_t) ((tp->sec - r->start_sec) * 1000
                      + (tp->msec - r->start_msec));
    ms = ngx_max(ms, 0);

    ngx_http_compensation_observe(
        &ngx_http_compensation_metrics->command[ctx->command][outcome],
        ngx_http_compensation_lat_le, NGX_HTTP_COMPENSATION_LAT_BUCKETS,
        (ngx_uint_t) ms);

    return NGX_OK;
}


void
ngx_http_compensation_metrics_group(ngx_uint_t n)
{
    if (ngx_http_compensation_metrics == NULL) {
        return;
    }

    ngx_http_compensation_observe(&ngx_http_compensation_metrics->group,
        ngx_http_compensation_group_le, NGX_HTTP_COMPENSATION_GROUP_BUCKETS,
        n);
}


/*
 * A call is starting: how long after the execution became due (spec 7.2:
 * nextRetryAt, and for a PREPARED one also timeoutAt).  Calls the retry
 * action asked for are not late.
 */
void
ngx_http_compensation_metrics_dispatch_start(json_t *state, int64_t now)
{
    int64_t      due, timeout;
    const char  *status;

    if (ngx_http_compensation_metrics == NULL) {
        return;
    }

    due = json_integer_value(json_object_get(
              json_object_get(state, "retryState"), "nextRetryAt"));
    timeout = json_integer_value(json_object_get(
              json_object_get(state, "retryState"), "timeoutAt"));
    status = json_string_value(json_object_get(state, "status"));

    if (status && ngx_strcmp(status, "PREPARED") == 0 && timeout > due) {
        due = timeout;
    }

    ngx_http_compensation_observe(&ngx_http_compensation_metrics->lateness,
        ngx_http_compensation_late_le, NGX_HTTP_COMPENSATION_LATE_BUCKETS,
        (ngx_uint_t) (now > due ? now - due : 0));
}


static void
ngx_http_compensation_dispatch_finished(const char *state)
{
    ngx_uint_t  i;

    if (ngx_http_compensation_metrics == NULL) {
        return;
    }

    for (i = 0; i < NGX_HTTP_COMPENSATION_DISPATCH_OUTS - 1; i++) {
        if (ngx_strcmp(state, ngx_http_compensation_dispatch_outs[i]) == 0) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&ngx_http_compensation_metrics->dispatch[i],
                                1);
}


void
ngx_http_compensation_metrics_sink(const char *kind, ngx_uint_t ok)
{
    ngx_uint_t  i;

    if (ngx_http_compensation_metrics == NULL) {
        return;
    }

    for (i = 0; i < NGX_HTTP_COMPENSATION_SINK_KINDS; i++) {
        if (ngx_strcmp(kind, ngx_http_compensation_sink_kinds[i]) == 0) {
            (void) ngx_atomic_fetch_add(
                       &ngx_http_compensation_metrics->sink[i][ok ? 1 : 0], 1);
            return;
        }
    }
}


/* the text of the answer */

static void
ngx_http_compensation_line(cf_buf_t *b, const char *fmt, ...)
{
    u_char   line[512], *p;
    va_list  args;

    va_start(args, fmt);
    p = ngx_vslprintf(line, line + sizeof(line), fmt, args);
    va_end(args);

    cf_buf_add(b, (char *) line, p - line);
}


static void
ngx_http_compensation_head(cf_buf_t *b, const char *name, const char *type,
    const char *help)
{
    ngx_http_compensation_line(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
                               name, type);
}


/* ms as seconds: "1.250" */
#define ngx_http_compensation_seconds(ms)  (ms) / 1000, (ms) % 1000


static void
ngx_http_compensation_histogram(cf_buf_t *b, const char *name,
    const char *labels, ngx_http_compensation_histogram_t *h,
    const ngx_uint_t *le, ngx_uint_t n, ngx_uint_t seconds)
{
    ngx_uint_t   i, cumulative, sum;
    const char  *sep, *lb, *rb;

    sep = labels[0] ? "," : "";
    cumulative = 0;

    for (i = 0; i < n; i++) {
        cumulative += h->bucket[i];

        if (seconds) {
            ngx_http_compensation_line(b,
                "%s_bucket{%s%sle=\"%ui.%03ui\"} %ui\n", name, labels, sep,
                ngx_http_compensation_seconds(le[i]), cumulative);
        } else {
            ngx_http_compensation_line(b, "%s_bucket{%s%sle=\"%ui\"} %ui\n",
                                       name, labels, sep, le[i], cumulative);
        }
    }

    ngx_http_compensation_line(b, "%s_bucket{%s%sle=\"+Inf\"} %uA\n", name,
                               labels, sep, h->count);

    sum = h->sum;
    lb = labels[0] ? "{" : "";
    rb = labels[0] ? "}" : "";

    if (seconds) {
        ngx_http_compensation_line(b, "%s_sum%s%s%s %ui.%03ui\n", name, lb,
                                   labels, rb,
                                   ngx_http_compensation_seconds(sum));
    } else {
        ngx_http_compensation_line(b, "%s_sum%s%s%s %ui\n", name, lb,
                                   labels, rb, sum);
    }

    ngx_http_compensation_line(b, "%s_count%s%s%s %uA\n", name, lb, labels,
                               rb, h->count);
}


typedef struct ngx_http_compensation_counts_s
    ngx_http_compensation_counts_t;

static ngx_int_t ngx_http_compensation_prometheus_send(ngx_http_request_t *r,
    ngx_http_compensation_counts_t *mc);


/* the executions' counts: a read job (ngx_http_compensation_read.h) */
struct ngx_http_compensation_counts_s {
    ngx_http_compensation_read_t   rd;
    int64_t                        now;
    int                            rc;
    cf_exec_counts_t               counts;
    char                           errbuf[256];
};


static void
ngx_http_compensation_counts_work(ngx_http_compensation_read_t *rd,
    cf_store_t *st)
{
    ngx_http_compensation_counts_t  *mc;

    mc = (ngx_http_compensation_counts_t *) rd;

    mc->rc = cf_metrics_counts(st, mc->now, &mc->counts, mc->errbuf,
                               sizeof(mc->errbuf));

    rd->kind = NGX_HTTP_COMPENSATION_READ_CUSTOM;
}


static ngx_int_t
ngx_http_compensation_counts_reply(ngx_http_compensation_read_t *rd,
    ngx_http_request_t *r)
{
    return ngx_http_compensation_prometheus_send(r,
               (ngx_http_compensation_counts_t *) rd);
}


/* mc: the counts read (NULL: the worker has no store) */
static void
ngx_http_compensation_store_metrics(ngx_http_request_t *r, cf_buf_t *b,
    ngx_http_compensation_counts_t *mc)
{
    u_char                              path[NGX_MAX_PATH];
    ngx_uint_t                          i;
    ngx_file_info_t                     fi;
    cf_exec_counts_t                    counts;
    ngx_http_compensation_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    if (mcf->store_path.data == NULL) {
        return;
    }

    /* a database server's store has no file here to measure */
    if (!mcf->store_server) {
        ngx_http_compensation_head(b, "compensation_store_size_bytes",
                                   "gauge",
                                   "Size of the store's database file.");

        if (ngx_file_info(mcf->store_path.data, &fi) != NGX_FILE_ERROR) {
            ngx_http_compensation_line(b,
                                       "compensation_store_size_bytes %O\n",
                                       ngx_file_size(&fi));
        }

        ngx_http_compensation_head(b, "compensation_store_wal_size_bytes",
                                   "gauge", "Size of the store's write-ahead"
                                   " log file.");

        (void) ngx_snprintf(path, sizeof(path), "%V-wal%Z",
                            &mcf->store_path);

        ngx_http_compensation_line(b,
                                   "compensation_store_wal_size_bytes %O\n",
                                   ngx_file_info(path, &fi) != NGX_FILE_ERROR
                                   ? ngx_file_size(&fi) : (off_t) 0);
    }

    if (mc == NULL) {
        return;
    }

    if (mc->rc != 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "compensation: metrics: counting executions failed:"
                      " %s", mc->errbuf);
        return;
    }

    counts = mc->counts;

    ngx_http_compensation_head(b, "compensation_executions", "gauge",
                               "Executions that are not deleted, by status.");

    for (i = 0; i < 3; i++) {
        ngx_http_compensation_line(b,
            "compensation_executions{status=\"%s\"} %L\n",
            cf_status_name((cf_status_t) i), counts.status[i]);
    }

    ngx_http_compensation_head(b, "compensation_executions_deleted", "gauge",
                               "Deleted executions.");
    ngx_http_compensation_line(b, "compensation_executions_deleted %L\n",
                               counts.deleted);

    ngx_http_compensation_head(b, "compensation_executions_by_category",
                               "gauge", "Executions in each view of the"
                               " dashboard (an execution can be in several).");

    for (i = 0; i < CF_CATEGORY__COUNT; i++) {
        ngx_http_compensation_line(b,
            "compensation_executions_by_category{category=\"%s\"} %L\n",
            cf_category_name((cf_category_t) i), counts.category[i]);
    }
}


/* GET /actuator/prometheus: the counts are read first (a read job) */
ngx_int_t
ngx_http_compensation_prometheus_handler(ngx_http_request_t *r)
{
    ngx_int_t                           rc;
    ngx_http_compensation_counts_t     *mc;
    ngx_http_compensation_main_conf_t  *mcf;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    if (mcf->store_path.data == NULL
        || !ngx_http_compensation_store_ready(mcf))
    {
        return ngx_http_compensation_prometheus_send(r, NULL);
    }

    mc = ngx_http_compensation_read_alloc(r,
             sizeof(ngx_http_compensation_counts_t));
    if (mc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    mc->now = ngx_http_compensation_now_ms();
    mc->rd.work = ngx_http_compensation_counts_work;
    mc->rd.reply = ngx_http_compensation_counts_reply;

    return ngx_http_compensation_read_post(r, &mc->rd);
}


static ngx_int_t
ngx_http_compensation_prometheus_send(ngx_http_request_t *r,
    ngx_http_compensation_counts_t *mc)
{
    u_char                           *p;
    u_char                            labels[128];
    ngx_uint_t                        i, j;
    cf_buf_t                         *b;
    ngx_http_compensation_metrics_t  *m;

    b = ngx_http_compensation_text_buffer();
    m = ngx_http_compensation_metrics;

    ngx_http_compensation_store_metrics(r, b, mc);

    if (m) {
        ngx_http_compensation_head(b, "compensation_command_seconds",
            "histogram", "Command requests by command and outcome, from"
            " the request's start to its answer.");

        for (i = 0; i < CF_CMD__COUNT; i++) {
            for (j = 0; j < NGX_HTTP_COMPENSATION_OUTCOMES; j++) {

                /* as Micrometer's meters: a series once it has a value */
                if (m->command[i][j].count == 0) {
                    continue;
                }

                p = ngx_snprintf(labels, sizeof(labels) - 1,
                                 "command=\"%s\",outcome=\"%s\"",
                                 cf_command_info((cf_command_type_t) i)->name,
                                 ngx_http_compensation_outcomes[j]);
                *p = '\0';

                ngx_http_compensation_histogram(b,
                    "compensation_command_seconds", (char *) labels,
                    &m->command[i][j], ngx_http_compensation_lat_le,
                    NGX_HTTP_COMPENSATION_LAT_BUCKETS, 1);
            }
        }

        ngx_http_compensation_head(b, "compensation_dispatch_calls_total",
            "counter", "Dispatch operations of the scheduler by final state"
            " (Succeeded, Completed: accepted by an async target, Failed,"
            " Released: not dispatched, Cancelled).");

        for (i = 0; i < NGX_HTTP_COMPENSATION_DISPATCH_OUTS; i++) {
            ngx_http_compensation_line(b,
                "compensation_dispatch_calls_total{outcome=\"%s\"} %uA\n",
                ngx_http_compensation_dispatch_outs[i], m->dispatch[i]);
        }

        ngx_http_compensation_head(b, "compensation_dispatch_lateness_seconds",
            "histogram", "How long after an execution became due its"
            " dispatch call started.");

        ngx_http_compensation_histogram(b,
            "compensation_dispatch_lateness_seconds", "", &m->lateness,
            ngx_http_compensation_late_le, NGX_HTTP_COMPENSATION_LATE_BUCKETS,
            1);

        ngx_http_compensation_head(b, "compensation_sink_deliveries_total",
            "counter", "Documents posted to the compensation_sink and"
            " compensation_notify locations, by kind and outcome.");

        for (i = 0; i < NGX_HTTP_COMPENSATION_SINK_KINDS; i++) {
            for (j = 0; j < 2; j++) {
                ngx_http_compensation_line(b,
                    "compensation_sink_deliveries_total{kind=\"%s\","
                    "outcome=\"%s\"} %uA\n",
                    ngx_http_compensation_sink_kinds[i],
                    j ? "SUCCESS" : "FAILURE", m->sink[i][j]);
            }
        }

        ngx_http_compensation_head(b, "compensation_group_commit_commands",
            "histogram", "Commands per group commit (one transaction).");

        ngx_http_compensation_histogram(b,
            "compensation_group_commit_commands", "", &m->group,
            ngx_http_compensation_group_le,
            NGX_HTTP_COMPENSATION_GROUP_BUCKETS, 0);
    }

    if (b->failed) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, b->len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(p, b->data, b->len);

    return ngx_http_compensation_send_text(r, NGX_HTTP_OK,
               "text/plain; version=0.0.4; charset=utf-8", p, b->len);
}
