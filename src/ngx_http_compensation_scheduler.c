
/*
 * ngx_compensation: the dispatch scheduler.
 *
 * A timer in worker 0 (and in single-process mode) ticks every
 * "compensation_scheduler interval=".  Each tick claims due executions with
 * a lease in the store (cf_dispatch_claim: one transaction), issues
 * PrepareCompensation for each through cf_service_execute (the API's own
 * command path: same events, same retry arithmetic) and calls the service
 * that owns the failed event: "PUT <location>/<aggregateName>/<aggregateId>/
 * <version>/compensate" as an in-memory subrequest of a fake request to the
 * internal location named by "compensation_target <contextName> <uri>", so
 * proxy_pass, upstream{}, keepalive, timeouts and TLS are nginx's own.  The
 * fake request follows shared/notes/nginx-module-engineering.md 2.4 (the
 * njs js_periodic technique).  A second scheduler (reload overlap, a
 * respawned worker, another nginx on the file) cannot take a leased
 * execution, so no attempt is dispatched twice.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_scheduler.h"
#include "cf_dispatch.h"


#define NGX_HTTP_COMPENSATION_OPS_LIMIT  100


typedef struct ngx_http_compensation_sched_s  ngx_http_compensation_sched_t;
typedef struct ngx_http_compensation_batch_s  ngx_http_compensation_batch_t;


typedef struct {
    ngx_str_t                              context;
    ngx_str_t                              uri;
    ngx_uint_t                             sync;
} ngx_http_compensation_target_t;


struct ngx_http_compensation_sched_conf_s {
    ngx_flag_t                             enabled;
    ngx_msec_t                             interval;
    ngx_uint_t                             batch;
    ngx_uint_t                             concurrency;
    ngx_msec_t                             lease;
    ngx_msec_t                             cancel_check;
    ngx_array_t                            targets;
    ngx_http_conf_ctx_t                   *srv_ctx;  /* the targets' server */
    ngx_http_compensation_sched_t         *sched;    /* per process */
};


/* the first words are shaped like ngx_connection_t: with --with-debug the
 * timer code logs ngx_event_ident(ev->data), which reads its fd */
struct ngx_http_compensation_sched_s {
    void                                  *data;
    ngx_event_t                           *read;
    ngx_event_t                           *write;
    ngx_socket_t                           fd;

    ngx_event_t                            tick;
    ngx_log_t                              log;
    ngx_http_compensation_main_conf_t     *mcf;
    ngx_http_compensation_sched_conf_t    *scf;
    ngx_http_compensation_batch_t         *running;
};


typedef struct {
    ngx_http_compensation_batch_t         *batch;
    cf_claim_t                            *claim;
    ngx_http_compensation_target_t        *target;
    ngx_http_request_t                    *sr;
    int32_t                                attempt;
    unsigned                               started:1;
    unsigned                               done:1;
    unsigned                               cancelled:1;
} ngx_http_compensation_call_t;


struct ngx_http_compensation_batch_s {
    ngx_http_compensation_sched_t         *sched;
    ngx_pool_t                            *pool;
    ngx_http_connection_t                  hc;
    ngx_log_t                              log;
    ngx_http_log_ctx_t                     log_ctx;
    ngx_connection_t                      *c;
    ngx_http_request_t                    *r;
    cf_claim_t                            *claims;
    size_t                                 n;
    size_t                                 next;
    ngx_uint_t                             pending;
    ngx_http_compensation_call_t          *calls;
    ngx_uint_t                             notifying;  /* notifications
                                                          in flight */
    ngx_event_t                            check;
    unsigned                               warned:1;
};


static void ngx_http_compensation_sched_tick(ngx_event_t *ev);
static void ngx_http_compensation_sched_arm(
    ngx_http_compensation_sched_t *sched);
static ngx_int_t ngx_http_compensation_batch_start(
    ngx_http_compensation_sched_t *sched, cf_claim_t *claims, size_t n);
static void ngx_http_compensation_batch_pump(ngx_http_compensation_batch_t *b);
static void ngx_http_compensation_batch_handler(ngx_http_request_t *r);
static void ngx_http_compensation_batch_destroy(
    ngx_http_compensation_batch_t *b);
static void ngx_http_compensation_batch_check(ngx_event_t *ev);
static ngx_int_t ngx_http_compensation_call_start(
    ngx_http_compensation_batch_t *b, ngx_http_compensation_call_t *call);
static ngx_int_t ngx_http_compensation_call_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_compensation_call_result(
    ngx_http_compensation_call_t *call, ngx_uint_t status,
    ngx_str_t *error_code, ngx_str_t *body, const char *what);
static ngx_int_t ngx_http_compensation_sched_command(
    ngx_http_compensation_main_conf_t *mcf, cf_command_type_t type,
    json_t *body, const char *id, const char *request_id,
    const char *op_id, ngx_log_t *log, cf_error_t *err);
static u_char *ngx_http_compensation_sched_log_error(ngx_log_t *log,
    u_char *buf, size_t len);
static ngx_int_t ngx_http_compensation_segment_ok(const char *s);
static ngx_table_elt_t *ngx_http_compensation_push_header(
    ngx_http_request_t *sr, const char *key, const char *lowcase,
    u_char *value, size_t len);


static ngx_http_compensation_sched_conf_t *
ngx_http_compensation_sched_conf(ngx_conf_t *cf,
    ngx_http_compensation_main_conf_t *mcf)
{
    ngx_http_compensation_sched_conf_t  *scf;

    if (mcf->scheduler) {
        return mcf->scheduler;
    }

    scf = ngx_pcalloc(cf->pool, sizeof(ngx_http_compensation_sched_conf_t));
    if (scf == NULL) {
        return NULL;
    }

    scf->enabled = NGX_CONF_UNSET;
    scf->interval = 1000;
    scf->batch = 100;
    scf->concurrency = 16;
    scf->lease = 60000;
    scf->cancel_check = 100;

    if (ngx_array_init(&scf->targets, cf->pool, 4,
                       sizeof(ngx_http_compensation_target_t))
        != NGX_OK)
    {
        return NULL;
    }

    mcf->scheduler = scf;

    return scf;
}


/* compensation_scheduler off | [interval=] [batch=] [concurrency=]
 * [lease=] [cancel_check=] */
char *
ngx_http_compensation_scheduler(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_compensation_main_conf_t  *mcf = conf;

    ngx_int_t                            n;
    ngx_msec_t                           ms;
    ngx_str_t                           *value, v;
    ngx_uint_t                           i;
    ngx_http_compensation_sched_conf_t  *scf;

    scf = ngx_http_compensation_sched_conf(cf, mcf);
    if (scf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (scf->enabled != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        scf->enabled = 0;
        return NGX_CONF_OK;
    }

    scf->enabled = 1;

    for (i = 1; i < cf->args->nelts; i++) {

#define NGX_SCHED_MSEC(name, field)                                          \
        if (ngx_strncmp(value[i].data, name "=", sizeof(name)) == 0) {        \
            v.data = value[i].data + sizeof(name);                           \
            v.len = value[i].len - sizeof(name);                             \
            ms = ngx_parse_time(&v, 0);                                      \
            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {                    \
                goto invalid;                                                \
            }                                                                \
            scf->field = ms;                                                 \
            continue;                                                        \
        }

#define NGX_SCHED_NUM(name, field, max)                                      \
        if (ngx_strncmp(value[i].data, name "=", sizeof(name)) == 0) {        \
            n = ngx_atoi(value[i].data + sizeof(name),                       \
                         value[i].len - sizeof(name));                       \
            if (n == NGX_ERROR || n < 1 || n > (max)) {                       \
                goto invalid;                                                \
            }                                                                \
            scf->field = n;                                                  \
            continue;                                                        \
        }

        NGX_SCHED_MSEC("interval", interval)
        NGX_SCHED_MSEC("lease", lease)
        NGX_SCHED_MSEC("cancel_check", cancel_check)
        NGX_SCHED_NUM("batch", batch, 10000)
        NGX_SCHED_NUM("concurrency", concurrency, 1024)

#undef NGX_SCHED_MSEC
#undef NGX_SCHED_NUM

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &value[i]);
    return NGX_CONF_ERROR;
}


/* compensation_target <contextName> <internal-location-uri> [mode=sync|async]
 * in server{}: every target must be in the same server{} */
char *
ngx_http_compensation_target(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                           *value;
    ngx_uint_t                           i;
    ngx_http_compensation_target_t      *t;
    ngx_http_compensation_sched_conf_t  *scf;
    ngx_http_compensation_main_conf_t   *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_compensation_module);

    scf = ngx_http_compensation_sched_conf(cf, mcf);
    if (scf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (scf->srv_ctx && scf->srv_ctx->srv_conf != ((ngx_http_conf_ctx_t *)
                                                   cf->ctx)->srv_conf)
    {
        return "must be in the same server{} as the other"
               " compensation_target directives";
    }

    scf->srv_ctx = cf->ctx;

    value = cf->args->elts;

    if (value[2].len == 0 || value[2].data[0] != '/'
        || value[2].data[value[2].len - 1] == '/')
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "the target location"
                           " \"%V\" must start with \"/\" and not end"
                           " with it", &value[2]);
        return NGX_CONF_ERROR;
    }

    t = scf->targets.elts;

    for (i = 0; i < scf->targets.nelts; i++) {
        if (t[i].context.len == value[1].len
            && ngx_strncmp(t[i].context.data, value[1].data, value[1].len)
               == 0)
        {
            return "is duplicate for this context";
        }
    }

    t = ngx_array_push(&scf->targets);
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    t->context = value[1];
    t->uri = value[2];
    t->sync = 0;

    if (cf->args->nelts == 4) {
        if (ngx_strcmp(value[3].data, "mode=sync") == 0) {
            t->sync = 1;

        } else if (ngx_strcmp(value[3].data, "mode=async") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[3]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_compensation_scheduler_init_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf)
{
    char                                 errbuf[256];
    ngx_http_compensation_sched_t       *sched;
    ngx_http_compensation_sched_conf_t  *scf;

    if (mcf->store == NULL) {
        return NGX_OK;
    }

    /* the operations table: every worker (retry action, cancel, listing) */
    if (cf_dispatch_schema(cf_store_db(mcf->store), errbuf, sizeof(errbuf))
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0, "compensation_store"
                      " \"%V\": creating the operations table failed: %s",
                      &mcf->store_path, errbuf);
        return NGX_OK;
    }

    scf = mcf->scheduler;

    if (scf == NULL || scf->enabled != 1 || ngx_worker != 0) {
        return NGX_OK;
    }

    if (scf->srv_ctx == NULL) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0, "compensation_scheduler:"
                      " no compensation_target is configured, due"
                      " executions stay due");
    }

    sched = ngx_pcalloc(cycle->pool, sizeof(ngx_http_compensation_sched_t));
    if (sched == NULL) {
        return NGX_ERROR;
    }

    sched->fd = (ngx_socket_t) -1;
    sched->log = *cycle->log;
    sched->mcf = mcf;
    sched->scf = scf;
    scf->sched = sched;

    sched->tick.handler = ngx_http_compensation_sched_tick;
    sched->tick.data = sched;
    sched->tick.log = &sched->log;
    sched->tick.cancelable = 1;

    ngx_add_timer(&sched->tick, scf->interval);

    return NGX_OK;
}


void
ngx_http_compensation_scheduler_exit_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf)
{
    ngx_http_compensation_sched_conf_t  *scf;

    scf = mcf->scheduler;

    if (scf == NULL || scf->sched == NULL) {
        return;
    }

    /* a batch still running here was cut short (terminate): its leases
     * expire and its executions are claimed again */
    scf->sched = NULL;
}


static void
ngx_http_compensation_sched_arm(ngx_http_compensation_sched_t *sched)
{
    if (ngx_terminate || ngx_exiting || ngx_quit) {
        return;
    }

    if (!sched->tick.timer_set) {
        ngx_add_timer(&sched->tick, sched->scf->interval);
    }
}


static void
ngx_http_compensation_sched_tick(ngx_event_t *ev)
{
    int                                  rc;
    size_t                               n;
    int64_t                              now;
    cf_claim_t                          *claims;
    ngx_http_compensation_sched_t       *sched = ev->data;
    ngx_http_compensation_main_conf_t   *mcf = sched->mcf;

    if (ngx_terminate || ngx_exiting || ngx_quit) {
        return;
    }

    if (sched->running || mcf->store == NULL) {
        /* re-armed when the batch ends */
        return;
    }

    now = ngx_http_compensation_now_ms();

    rc = cf_dispatch_claim(cf_store_db(mcf->store), now, sched->scf->lease,
                           ngx_pid, (int) sched->scf->batch, &claims, &n);

    if (rc != 0) {
        if (rc == -1) {
            ngx_log_error(NGX_LOG_ERR, &sched->log, 0,
                          "compensation scheduler: claiming due executions"
                          " failed: %s",
                          sqlite3_errmsg(cf_store_db(mcf->store)));
        }

        ngx_http_compensation_sched_arm(sched);
        return;
    }

    if (n == 0) {
        ngx_http_compensation_sched_arm(sched);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &sched->log, 0,
                   "compensation scheduler: claimed %uz", n);

    if (ngx_http_compensation_batch_start(sched, claims, n) != NGX_OK) {
        ngx_http_compensation_sched_arm(sched);
    }
}


static ngx_int_t
ngx_http_compensation_batch_start(ngx_http_compensation_sched_t *sched,
    cf_claim_t *claims, size_t n)
{
    size_t                          i;
    int64_t                         now;
    ngx_pool_t                     *pool;
    ngx_connection_t               *c;
    ngx_http_request_t             *r;
    ngx_http_compensation_batch_t  *b;

    pool = ngx_create_pool(4096, &sched->log);
    if (pool == NULL) {
        goto release;
    }

    b = ngx_pcalloc(pool, sizeof(ngx_http_compensation_batch_t));
    if (b == NULL) {
        ngx_destroy_pool(pool);
        goto release;
    }

    b->calls = ngx_pcalloc(pool, n * sizeof(ngx_http_compensation_call_t));
    if (b->calls == NULL) {
        ngx_destroy_pool(pool);
        goto release;
    }

    b->sched = sched;
    b->pool = pool;
    b->claims = claims;
    b->n = n;

    for (i = 0; i < n; i++) {
        b->calls[i].batch = b;
        b->calls[i].claim = &claims[i];
    }

    if (sched->scf->srv_ctx == NULL) {
        /* nothing to call: release them all (pump warns) */
        b->c = NULL;
        sched->running = b;
        ngx_http_compensation_batch_pump(b);
        return NGX_OK;
    }

    b->log = sched->log;
    b->log.data = &b->log_ctx;
    b->log.handler = ngx_http_compensation_sched_log_error;
    b->log.action = "dispatching compensations";

    c = ngx_get_connection(0, &b->log);
    if (c == NULL) {
        ngx_destroy_pool(pool);
        goto release;
    }

    c->fd = (ngx_socket_t) -1;
    c->read->active = 1;
    c->write->active = 1;
    c->log = &b->log;
    c->read->log = &b->log;
    c->write->log = &b->log;

    b->log_ctx.connection = c;
    b->hc.conf_ctx = sched->scf->srv_ctx;
    c->data = &b->hc;

    r = ngx_http_create_request(c);
    if (r == NULL) {
        c->fd = 0;
        ngx_free_connection(c);
        c->fd = (ngx_socket_t) -1;
        ngx_destroy_pool(pool);
        goto release;
    }

    c->data = r;
    c->pool = r->pool;

    r->method = NGX_HTTP_GET;
    ngx_str_set(&r->method_name, "GET");
    ngx_str_set(&r->uri, "/");
    ngx_str_set(&r->unparsed_uri, "/");
    ngx_str_set(&r->http_protocol, "HTTP/1.1");
    r->http_version = NGX_HTTP_VERSION_11;
    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_compensation_batch_handler;
    ngx_http_set_ctx(r, b, ngx_http_compensation_module);

    b->c = c;
    b->r = r;

    b->check.handler = ngx_http_compensation_batch_check;
    b->check.data = sched;    /* fd-shaped */
    b->check.log = &sched->log;
    b->check.cancelable = 1;

    sched->running = b;

    ngx_http_compensation_batch_pump(b);

    if (sched->running == b) {
        ngx_http_run_posted_requests(c);
    }

    return NGX_OK;

release:

    now = ngx_http_compensation_now_ms();

    for (i = 0; i < n; i++) {
        cf_dispatch_finish(cf_store_db(sched->mcf->store), claims[i].job_id,
                           "Released", "no memory", now);
    }

    cf_claims_free(claims, n);
    return NGX_ERROR;
}


/* starts calls up to the concurrency; destroys the batch when all ended */
static void
ngx_http_compensation_batch_pump(ngx_http_compensation_batch_t *b)
{
    ngx_http_compensation_call_t        *call;
    ngx_http_compensation_sched_conf_t  *scf = b->sched->scf;

    while (b->pending < scf->concurrency && b->next < b->n) {
        call = &b->calls[b->next++];

        if (ngx_http_compensation_call_start(b, call) == NGX_OK) {
            call->started = 1;
            b->pending++;
        }
    }

    if (b->pending) {
        if (!b->check.timer_set) {
            ngx_add_timer(&b->check, scf->cancel_check);
        }
        return;
    }

    /* notifications (background subrequests of r) end before r is freed;
     * each one posts r when it ends, which comes back here */
    if (b->next == b->n && b->notifying == 0) {
        ngx_http_compensation_batch_destroy(b);
    }
}


static void
ngx_http_compensation_batch_handler(ngx_http_request_t *r)
{
    ngx_http_compensation_batch_t  *b;

    b = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    if (b == NULL) {
        return;
    }

    ngx_http_compensation_batch_pump(b);
}


static void
ngx_http_compensation_batch_destroy(ngx_http_compensation_batch_t *b)
{
    ngx_connection_t               *c;
    ngx_http_request_t             *r;
    ngx_http_compensation_sched_t  *sched = b->sched;

    if (b->check.timer_set) {
        ngx_del_timer(&b->check);
    }

    cf_claims_free(b->claims, b->n);

    c = b->c;
    r = b->r;

    if (r) {
        r->logged = 1;
        ngx_http_free_request(r, NGX_OK);
    }

    if (c) {
        c->fd = 0;
        ngx_free_connection(c);
        c->fd = (ngx_socket_t) -1;
        c->pool = NULL;
        c->destroyed = 1;
    }

    sched->running = NULL;
    ngx_destroy_pool(b->pool);

    ngx_http_compensation_sched_arm(sched);
}


/*
 * Every cancel_check while calls are in flight: a graceful cancel asked
 * through any worker (the store says so) aborts the call here and rolls
 * the execution back to FAILED.
 */
static void
ngx_http_compensation_batch_check(ngx_event_t *ev)
{
    size_t                          i;
    ngx_str_t                       code;
    ngx_http_upstream_t            *u;
    ngx_http_compensation_call_t   *call;
    ngx_http_compensation_batch_t  *b;
    ngx_http_compensation_sched_t  *sched = ev->data;

    b = sched->running;
    if (b == NULL || b->c == NULL) {
        return;
    }

    for (i = 0; i < b->next; i++) {
        call = &b->calls[i];

        if (!call->started || call->done || call->cancelled) {
            continue;
        }

        if (!cf_dispatch_cancel_asked(cf_store_db(sched->mcf->store),
                                      call->claim->job_id))
        {
            continue;
        }

        call->cancelled = 1;

        ngx_log_error(NGX_LOG_INFO, &b->log, 0, "compensation: operation %s"
                      " of execution \"%s\" cancelled, aborting the call",
                      call->claim->op_id, call->claim->execution_id);

        ngx_str_set(&code, "Cancelled");
        ngx_http_compensation_call_result(call, 0, &code, NULL,
                                          "cancelled");
        call->done = 1;

        /*
         * Stop the upstream through nginx's own timeout path: with one try
         * left, the upstream finalizes the subrequest (504) and closes the
         * peer connection; the post-subrequest handler sees done.  A call
         * not connected yet is ignored when it ends.
         */
        u = call->sr ? call->sr->upstream : NULL;

        if (u && u->peer.connection) {
            u->peer.tries = 1;
            u->peer.connection->read->timedout = 1;
            ngx_post_event(u->peer.connection->read, &ngx_posted_events);
        }
    }

    if (sched->running == b && b->pending) {
        ngx_add_timer(&b->check, sched->scf->cancel_check);
    }
}


static ngx_int_t
ngx_http_compensation_segment_ok(const char *s)
{
    const u_char  *p;

    if (s[0] == '\0' || ngx_strcmp(s, ".") == 0 || ngx_strcmp(s, "..") == 0
        || ngx_strlen(s) > 256)
    {
        return 0;
    }

    for (p = (const u_char *) s; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f || *p == '/' || *p == '?' || *p == '#'
            || *p == '%' || *p == '\\')
        {
            return 0;
        }
    }

    return 1;
}


static ngx_int_t
ngx_http_compensation_call_start(ngx_http_compensation_batch_t *b,
    ngx_http_compensation_call_t *call)
{
    int                                  prepared;
    char                                 req_id[CF_UUID_LEN + 16];
    json_t                              *state, *eid, *agg, *fn, *body;
    int64_t                              now, version;
    size_t                               len;
    u_char                              *p;
    ngx_str_t                            uri;
    cf_error_t                           err;
    ngx_uint_t                           i;
    const char                          *ctxname, *aggname, *aggid, *why;
    cf_claim_t                          *claim = call->claim;
    ngx_buf_t                           *buf;
    ngx_chain_t                         *cl;
    ngx_http_request_t                  *sr;
    ngx_http_post_subrequest_t          *ps;
    ngx_http_compensation_target_t      *t;
    ngx_http_compensation_sched_t       *sched = b->sched;
    ngx_http_compensation_sched_conf_t  *scf = sched->scf;
    sqlite3                             *db;
    char                                *doc;
    u_char                               idem[300];

    db = cf_store_db(sched->mcf->store);
    now = ngx_http_compensation_now_ms();
    prepared = 0;
    why = NULL;
    doc = NULL;

    if (ngx_terminate || ngx_exiting || ngx_quit) {
        cf_dispatch_finish(db, claim->job_id, "Released", "shutting down",
                           now);
        return NGX_DECLINED;
    }

    state = cf_json_loads(claim->state, 0, NULL);

    eid = json_object_get(state, "eventId");
    agg = json_object_get(eid, "aggregateId");
    fn = json_object_get(state, "function");

    ctxname = json_string_value(json_object_get(agg, "contextName"));
    aggname = json_string_value(json_object_get(agg, "aggregateName"));
    aggid = json_string_value(json_object_get(agg, "aggregateId"));
    version = json_integer_value(json_object_get(eid, "version"));
    call->attempt = (int32_t) json_integer_value(
        json_object_get(json_object_get(state, "retryState"), "retries")) + 1;

    if (ctxname == NULL || aggname == NULL || aggid == NULL || fn == NULL) {
        why = "the state has no eventId or function";
        goto release;
    }

    t = NULL;

    if (b->c) {
        t = scf->targets.elts;

        for (i = 0; i < scf->targets.nelts; i++) {
            if (t[i].context.len == ngx_strlen(ctxname)
                && ngx_strncmp(t[i].context.data, ctxname, t[i].context.len)
                   == 0)
            {
                break;
            }
        }

        t = i < scf->targets.nelts ? &t[i] : NULL;
    }

    if (t == NULL) {
        if (!b->warned) {
            b->warned = 1;
            ngx_log_error(NGX_LOG_WARN, &sched->log, 0, "compensation"
                          " scheduler: no compensation_target for context"
                          " \"%s\" (execution \"%s\"), left due", ctxname,
                          claim->execution_id);
        }

        why = "no target";
        goto release;
    }

    call->target = t;

    if (!ngx_http_compensation_segment_ok(aggname)
        || !ngx_http_compensation_segment_ok(aggid))
    {
        ngx_log_error(NGX_LOG_WARN, &sched->log, 0, "compensation"
                      " scheduler: execution \"%s\" names an aggregate that"
                      " cannot be a path segment, not dispatched",
                      claim->execution_id);
        why = "bad aggregate path segment";
        goto release;
    }

    /* PrepareCompensation, exactly as the API route would run it */
    body = json_object();
    ngx_snprintf((u_char *) req_id, sizeof(req_id), "%s:prepare%Z",
                 claim->op_id);

    if (ngx_http_compensation_sched_command(sched->mcf,
            CF_CMD_PREPARE_COMPENSATION, body, claim->execution_id, req_id,
            claim->op_id, &sched->log, &err)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, &sched->log, 0, "compensation"
                      " scheduler: prepare of \"%s\" refused: %s: %s",
                      claim->execution_id, err.code, err.msg);
        cf_dispatch_finish(db, claim->job_id, "Failed", err.msg, now);
        cf_error_free(&err);
        json_decref(state);
        return NGX_DECLINED;
    }

    prepared = 1;

    ngx_http_compensation_metrics_dispatch_start(state, now);
    ngx_http_compensation_notify_command(b->r, CF_CMD_PREPARE_COMPENSATION,
                                         claim->execution_id, &b->notifying);

    body = json_pack("{s:s, s:O}", "id", claim->execution_id,
                     "function", fn);
    doc = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);

    if (doc == NULL) {
        why = "no memory";
        goto release;
    }

    len = t->uri.len + 1 + ngx_strlen(aggname) + 1 + ngx_strlen(aggid)
          + 1 + NGX_INT64_LEN + sizeof("/compensate");

    uri.data = ngx_pnalloc(b->pool, len);
    p = ngx_pnalloc(b->pool, ngx_strlen(doc));
    buf = ngx_calloc_buf(b->pool);
    cl = ngx_alloc_chain_link(b->pool);
    ps = ngx_palloc(b->pool, sizeof(ngx_http_post_subrequest_t));

    if (uri.data == NULL || p == NULL || buf == NULL || cl == NULL
        || ps == NULL)
    {
        why = "no memory";
        goto release;
    }

    uri.len = ngx_snprintf(uri.data, len, "%V/%s/%s/%L/compensate", &t->uri,
                           aggname, aggid, version)
              - uri.data;

    buf->pos = p;
    buf->last = ngx_cpymem(p, doc, ngx_strlen(doc));
    buf->memory = 1;
    buf->last_buf = 1;
    cl->buf = buf;
    cl->next = NULL;

    free(doc);
    doc = NULL;

    ps->handler = ngx_http_compensation_call_done;
    ps->data = call;

    if (ngx_http_subrequest(b->r, &uri, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_IN_MEMORY
                            | NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        why = "cannot start a subrequest";
        goto release;
    }

    call->sr = sr;

    sr->method = NGX_HTTP_PUT;
    ngx_str_set(&sr->method_name, "PUT");

    sr->request_body = ngx_pcalloc(b->pool, sizeof(ngx_http_request_body_t));
    if (sr->request_body == NULL) {
        why = "no memory";
        goto release_sr;
    }

    sr->request_body->bufs = cl;
    sr->discard_body = 0;

    ngx_memzero(&sr->headers_in, sizeof(ngx_http_headers_in_t));

    if (ngx_list_init(&sr->headers_in.headers, b->pool, 4,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        why = "no memory";
        goto release_sr;
    }

    sr->headers_in.content_length_n = buf->last - buf->pos;
    sr->headers_in.keep_alive_n = -1;

    sr->headers_in.content_type = ngx_http_compensation_push_header(sr,
                                      "Content-Type", "content-type",
                                      (u_char *) "application/json",
                                      sizeof("application/json") - 1);

    p = ngx_snprintf(idem, sizeof(idem), "%s:%D", claim->execution_id,
                     call->attempt);

    if (sr->headers_in.content_type == NULL
        || ngx_http_compensation_push_header(sr, "Idempotency-Key",
               "idempotency-key", ngx_pstrdup(b->pool, &(ngx_str_t)
                                   { p - idem, idem }), p - idem)
           == NULL
        || ngx_http_compensation_push_header(sr, "Wow-Operation-Id",
               "wow-operation-id", (u_char *) claim->op_id, CF_UUID_LEN)
           == NULL)
    {
        why = "no memory";
        goto release_sr;
    }

    ngx_log_error(NGX_LOG_INFO, &sched->log, 0, "compensation: dispatching"
                  " execution \"%s\" attempt %D (operation %s, job %L) to"
                  " \"%V\"", claim->execution_id, call->attempt,
                  claim->op_id, claim->job_id, &uri);

    json_decref(state);
    return NGX_OK;

release_sr:

    /* the subrequest is posted: let it run into an empty location */
    call->done = 1;

release:

    free(doc);
    json_decref(state);

    if (prepared) {
        ngx_str_t  code = ngx_string("CompensationCallFailed");

        /* PREPARED now: record the failure so that it is due again */
        ngx_http_compensation_call_result(call, 0, &code, NULL, why);
        return call->done ? NGX_OK : NGX_DECLINED;
    }

    cf_dispatch_finish(db, claim->job_id, "Released", why, now);
    return NGX_DECLINED;
}


static ngx_table_elt_t *
ngx_http_compensation_push_header(ngx_http_request_t *sr, const char *key,
    const char *lowcase, u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    if (value == NULL) {
        return NULL;
    }

    h = ngx_list_push(&sr->headers_in.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->lowcase_key = (u_char *) lowcase;
    h->value.data = value;
    h->value.len = len;

    return h;
}


static ngx_int_t
ngx_http_compensation_call_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_uint_t                      status, i;
    ngx_str_t                       code, body, *pcode;
    ngx_list_part_t                *part;
    ngx_table_elt_t                *h;
    ngx_http_compensation_call_t   *call = data;
    ngx_http_compensation_batch_t  *b = call->batch;

    if (call->started) {
        call->started = 0;
        b->pending--;
    }

    if (!call->done) {
        call->done = 1;

        status = sr->headers_out.status;

        if (sr->upstream && sr->upstream->state
            && sr->upstream->state->status)
        {
            status = sr->upstream->state->status;
        }

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE && (status == 0
                                                || status < 300))
        {
            status = rc;
        }

        if (rc == NGX_ERROR && status < 300) {
            status = 0;
        }

        pcode = NULL;
        part = &sr->headers_out.headers.part;
        h = part->elts;

        for (i = 0; /* void */ ; i++) {
            if (i >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }
                part = part->next;
                h = part->elts;
                i = 0;
            }

            if (h[i].hash && h[i].key.len == sizeof("Wow-Error-Code") - 1
                && ngx_strncasecmp(h[i].key.data, (u_char *) "Wow-Error-Code",
                                   h[i].key.len) == 0)
            {
                code = h[i].value;
                pcode = &code;
            }
        }

        ngx_str_null(&body);

        if (sr->out && sr->out->buf) {
            body.data = sr->out->buf->pos;
            body.len = sr->out->buf->last - sr->out->buf->pos;
        }

        ngx_http_compensation_call_result(call, status, pcode, &body, NULL);
    }

    if (sr != b->c->data) {
        b->c->data = sr;
    }

    ngx_http_post_request(sr->parent, NULL);

    if (rc == NGX_ERROR || rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return NGX_OK;
    }

    return rc;
}


/*
 * The outcome of one call.  status 0: no answer (connect failure, reset,
 * cancel); what: a reason of our own.  Async targets: a 2xx only starts
 * the re-execution (the service reports back), anything else failed.
 */
static void
ngx_http_compensation_call_result(ngx_http_compensation_call_t *call,
    ngx_uint_t status, ngx_str_t *error_code, ngx_str_t *body,
    const char *what)
{
    char                            req_id[CF_UUID_LEN + 16], code[128];
    char                            msg[400];
    json_t                         *jb, *cmd, *m;
    int64_t                         now;
    cf_error_t                      err;
    cf_recoverable_t                rec;
    cf_claim_t                     *claim = call->claim;
    ngx_http_compensation_sched_t  *sched = call->batch->sched;
    sqlite3                        *db;

    db = cf_store_db(sched->mcf->store);
    now = ngx_http_compensation_now_ms();

    ngx_snprintf((u_char *) req_id, sizeof(req_id), "%s:result%Z",
                 claim->op_id);

    if (what == NULL && cf_dispatch_cancel_asked(db, claim->job_id)) {
        /* cancelled (or force cancelled) while the answer was on its way */
        what = "cancelled";
        error_code = NULL;
    }

    if (what == NULL && status >= 200 && status < 300) {

        if (call->target && !call->target->sync) {
            ngx_log_error(NGX_LOG_INFO, &sched->log, 0, "compensation:"
                          " execution \"%s\" attempt %D accepted (%ui),"
                          " waiting for its report", claim->execution_id,
                          call->attempt, status);
            cf_dispatch_finish(db, claim->job_id, "Completed", "accepted",
                               now);
            return;
        }

        cmd = json_pack("{s:I}", "executeAt", (json_int_t) now);

        if (ngx_http_compensation_sched_command(sched->mcf,
                CF_CMD_APPLY_EXECUTION_SUCCESS, cmd, claim->execution_id,
                req_id, claim->op_id, &sched->log, &err)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_WARN, &sched->log, 0, "compensation:"
                          " applying the success of \"%s\" failed: %s: %s",
                          claim->execution_id, err.code, err.msg);
            cf_error_free(&err);

        } else {
            ngx_http_compensation_notify_command(call->batch->r,
                CF_CMD_APPLY_EXECUTION_SUCCESS, claim->execution_id,
                &call->batch->notifying);
        }

        ngx_log_error(NGX_LOG_INFO, &sched->log, 0, "compensation:"
                      " execution \"%s\" attempt %D succeeded (%ui)",
                      claim->execution_id, call->attempt, status);

        cf_dispatch_finish(db, claim->job_id, "Succeeded", "ok", now);
        return;
    }

    /* a failure: the error code, its message, the classification */

    if (what && ngx_strcmp(what, "cancelled") == 0) {
        ngx_snprintf((u_char *) code, sizeof(code), "Cancelled%Z");

    } else if (error_code && error_code->len) {
        ngx_snprintf((u_char *) code, sizeof(code), "%*s%Z",
                     (size_t) ngx_min(error_code->len, sizeof(code) - 1),
                     error_code->data);
    } else {
        ngx_snprintf((u_char *) code, sizeof(code), "%s%Z",
                     cf_dispatch_error_code((int) status));
    }

    msg[0] = '\0';

    if (what) {
        ngx_snprintf((u_char *) msg, sizeof(msg), "%s%Z", what);

    } else if (body && body->len) {
        jb = cf_json_loadb((char *) body->data, body->len, 0, NULL);
        m = json_object_get(jb, "errorMsg");

        if (json_is_string(m)) {
            ngx_snprintf((u_char *) msg, sizeof(msg), "%s%Z",
                         json_string_value(m));
        }

        json_decref(jb);
    }

    if (msg[0] == '\0') {
        if (status) {
            ngx_snprintf((u_char *) msg, sizeof(msg), "the target answered"
                         " %ui%Z", status);
        } else {
            ngx_snprintf((u_char *) msg, sizeof(msg), "the target could not"
                         " be reached%Z");
        }
    }

    rec = what && ngx_strcmp(what, "cancelled") == 0
          ? CF_RECOVERABLE_UNKNOWN : cf_dispatch_classify((int) status);

    cmd = json_pack("{s:{s:s, s:s, s:s}, s:I, s:s}",
                    "error", "errorCode", code, "errorMsg", msg,
                    "stackTrace", "",
                    "executeAt", (json_int_t) now,
                    "recoverable", cf_recoverable_name(rec));

    if (ngx_http_compensation_sched_command(sched->mcf,
            CF_CMD_APPLY_EXECUTION_FAILED, cmd, claim->execution_id,
            req_id, claim->op_id, &sched->log, &err)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, &sched->log, 0, "compensation:"
                      " applying the failure of \"%s\" failed: %s: %s",
                      claim->execution_id, err.code, err.msg);
        cf_error_free(&err);

    } else {
        ngx_http_compensation_notify_command(call->batch->r,
            CF_CMD_APPLY_EXECUTION_FAILED, claim->execution_id,
            &call->batch->notifying);
    }

    ngx_log_error(NGX_LOG_INFO, &sched->log, 0, "compensation: execution"
                  " \"%s\" attempt %D failed: %s: %s (%s)",
                  claim->execution_id, call->attempt, code, msg,
                  cf_recoverable_name(rec));

    if (what && ngx_strcmp(what, "cancelled") == 0) {
        /* RollingBack -> Cancelled; a force cancel may have won */
        cf_dispatch_finish(db, claim->job_id, "Cancelled", "cancelled", now);
        return;
    }

    cf_dispatch_finish(db, claim->job_id, "Failed", msg, now);
}


/* one command through cf_service (the API's pipeline); body is stolen */
static ngx_int_t
ngx_http_compensation_sched_command(ngx_http_compensation_main_conf_t *mcf,
    cf_command_type_t type, json_t *body, const char *id,
    const char *request_id, const char *op_id, ngx_log_t *log,
    cf_error_t *err)
{
    int                rc;
    json_t            *header;
    cf_command_t       cmd;
    cf_exec_input_t    in;
    cf_exec_output_t   out;

    cf_error_init(err);

    if (body == NULL) {
        cf_error_set(err, CF_E_INTERNAL, "out of memory");
        return NGX_ERROR;
    }

    rc = cf_command_bind(type, body, &cmd, err);
    json_decref(body);

    if (rc != 0) {
        return NGX_ERROR;
    }

    header = json_pack("{s:s, s:s}", "command_operator",
                       "compensation-scheduler", "compensation_operation",
                       op_id);

    ngx_memzero(&in, sizeof(cf_exec_input_t));
    in.command = &cmd;
    in.aggregate_id = id;
    in.request_id = request_id;
    in.owner_id = NULL;
    in.expected_version = -1;
    in.header = header;
    in.now = ngx_http_compensation_now_ms();
    in.default_spec = &mcf->default_spec;

    rc = cf_service_execute(mcf->store, &mcf->ids, &in, &out);

    ngx_http_compensation_store_outcome(mcf, ngx_cycle->log, &out);

    json_decref(header);
    cf_command_free(&cmd);

    if (rc != 0 || !out.committed) {
        *err = out.err;
        return NGX_ERROR;
    }

    cf_error_free(&out.err);

    return NGX_OK;
}


static u_char *
ngx_http_compensation_sched_log_error(ngx_log_t *log, u_char *buf,
    size_t len)
{
    u_char  *p;

    p = buf;

    if (log->action) {
        p = ngx_snprintf(buf, len, " while %s", log->action);
        len -= p - buf;
        buf = p;
    }

    p = ngx_snprintf(buf, len, ", context: compensation scheduler");

    return p;
}


/* ---- the retry action (seed 004), the operations listing, cancel ---- */


static ngx_int_t ngx_http_compensation_action_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *msg);
static void ngx_http_compensation_actions_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_compensation_actions_run(ngx_http_request_t *r);
static ngx_int_t ngx_http_compensation_fabric_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *msg);


/* the "runtime" version: api-version 6.0 up to this one is accepted */
#define NGX_HTTP_COMPENSATION_RUNTIME_VERSION  "6.2"
#define NGX_HTTP_COMPENSATION_RUNTIME_MINOR    2


/* "6.<minor>" with 0 <= minor <= the runtime's */
ngx_int_t
ngx_http_compensation_api_version(ngx_str_t *v)
{
    int64_t  minor;

    if (v->len < 3 || v->len > 4 || v->data[0] != '6' || v->data[1] != '.') {
        return NGX_DECLINED;
    }

    if (cf_int_parse(v->data + 2, v->len - 2,
                     NGX_HTTP_COMPENSATION_RUNTIME_MINOR, &minor)
        != 0
        || (v->len == 4 && v->data[2] == '0'))
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* sends json and drops it */
static ngx_int_t
ngx_http_compensation_sched_send(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, json_t *json)
{
    ngx_int_t  rc;

    rc = ngx_http_compensation_send_json(r, status, code, json);
    json_decref(json);

    return rc;
}


static ngx_int_t
ngx_http_compensation_action_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *msg)
{
    json_t  *j;

    j = json_pack("{s:s, s:s}", "error_code", code, "error_msg", msg);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_compensation_sched_send(r, status, code, j);
}


ngx_int_t
ngx_http_compensation_actions_handler(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_http_compensation_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_compensation_module);

    if (r->headers_in.content_length_n > (off_t) lcf->max_body_size) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        r->keepalive = 0;

        return ngx_http_compensation_action_error(r, NGX_HTTP_BAD_REQUEST,
                   "CF.00000413", "The request body is too large.");
    }

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_compensation_actions_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_compensation_actions_body(ngx_http_request_t *r)
{
    ngx_http_finalize_request(r, ngx_http_compensation_actions_run(r));
}


static ngx_int_t
ngx_http_compensation_actions_run(ngx_http_request_t *r)
{
    int                                 rc;
    char                               *id, op_id[CF_UUID_LEN + 1];
    json_t                             *body, *action, *j;
    int64_t                             job_id, now;
    ngx_str_t                           raw;
    cf_error_t                          err;
    cf_aggregate_t                      agg;
    const char                         *name;
    ngx_http_compensation_ctx_t        *ctx;
    ngx_http_compensation_main_conf_t  *mcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    mcf = ngx_http_compensation_store_conf(r);

    if (ngx_http_compensation_check_id(r, &ctx->vars[0]) != NGX_OK) {
        return ngx_http_compensation_action_error(r, NGX_HTTP_BAD_REQUEST,
                   "CF.00000400", "The execution id is not valid.");
    }

    rc = ngx_http_compensation_read_body(r, &raw);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED || raw.len == 0) {
        return ngx_http_compensation_action_error(r, NGX_HTTP_BAD_REQUEST,
                   "CF.00000400", rc == NGX_DECLINED
                   ? "The request body is too large."
                   : "The request body is missing: {\"action\":\"Retry\"}.");
    }

    body = cf_json_loadb((char *) raw.data, raw.len, JSON_REJECT_DUPLICATES,
                      NULL);
    action = json_object_get(body, "action");

    if (!json_is_string(action)
        || ngx_strcmp(json_string_value(action), "Retry") != 0)
    {
        json_decref(body);
        return ngx_http_compensation_action_error(r, NGX_HTTP_BAD_REQUEST,
                   "CF.00000400", "The action must be \"Retry\".");
    }

    json_decref(body);

    id = ngx_http_compensation_strdup(r->pool, &ctx->vars[0]);
    if (id == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the same preconditions as PrepareCompensation (spec 2.2) */

    now = ngx_http_compensation_now_ms();
    cf_error_init(&err);

    if (cf_aggregate_init(&agg, id) != 0) {
        return ngx_http_compensation_action_error(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, "CF.00000500",
                   "out of memory");
    }

    if (cf_store_load(mcf->store, &agg, &err) != 0) {
        cf_aggregate_free(&agg);
        cf_error_free(&err);
        return ngx_http_compensation_action_error(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, "CF.00000500",
                   "The store failed.");
    }

    if (agg.version == 0) {
        cf_aggregate_free(&agg);
        return ngx_http_compensation_action_error(r, NGX_HTTP_BAD_REQUEST,
                   "CF.00000404", "No execution has this id.");
    }

    if (agg.deleted) {
        cf_aggregate_free(&agg);
        return ngx_http_compensation_action_error(r, NGX_HTTP_BAD_REQUEST,
                   "CF.00000410", "The execution is deleted.");
    }

    if (!cf_state_can_retry(&agg.state, now)) {
        cf_aggregate_free(&agg);
        return ngx_http_compensation_action_error(r, NGX_HTTP_BAD_REQUEST,
                   CF_E_ILLEGAL_STATE, "ExecutionFailed can not retry.");
    }

    name = json_string_value(json_object_get(agg.state.function, "name"));

    j = json_pack("{s:s, s:s, s:I, s:s}", "id", id, "name",
                  name ? name : "", "jobId", (json_int_t) 0,
                  "operationId", "");

    cf_aggregate_free(&agg);

    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = cf_dispatch_enqueue(cf_store_db(mcf->store), id, now, &job_id,
                             op_id);

    if (rc != 0) {
        json_decref(j);

        if (rc == CF_DISPATCH_BUSY) {
            return ngx_http_compensation_action_error(r,
                       NGX_HTTP_BAD_REQUEST, CF_E_ILLEGAL_STATE,
                       "The execution is already being dispatched.");
        }

        return ngx_http_compensation_action_error(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, "CF.00000500",
                   "The store failed.");
    }

    json_object_set_new(j, "jobId", json_integer(job_id));
    json_object_set_new(j, "operationId", json_string(op_id));

    return ngx_http_compensation_sched_send(r, NGX_HTTP_OK, CF_OK, j);
}


ngx_int_t
ngx_http_compensation_operations_handler(ngx_http_request_t *r)
{
    char                               *id;
    size_t                              n, i;
    json_t                             *a, *o;
    cf_operation_t                     *ops;
    ngx_http_compensation_ctx_t        *ctx;
    ngx_http_compensation_main_conf_t  *mcf;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    mcf = ngx_http_compensation_store_conf(r);

    if (ngx_http_compensation_check_id(r, &ctx->vars[0]) != NGX_OK) {
        return ngx_http_compensation_action_error(r, NGX_HTTP_BAD_REQUEST,
                   "CF.00000400", "The execution id is not valid.");
    }

    id = ngx_http_compensation_strdup(r->pool, &ctx->vars[0]);
    if (id == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (cf_dispatch_list(cf_store_db(mcf->store), id,
                         NGX_HTTP_COMPENSATION_OPS_LIMIT, &ops, &n)
        != 0)
    {
        return ngx_http_compensation_action_error(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, "CF.00000500",
                   "The store failed.");
    }

    a = json_array();

    for (i = 0; a && i < n; i++) {
        o = json_pack("{s:s, s:I, s:s, s:s, s:b, s:I, s:I, s:s}",
                      "operationId", ops[i].op_id,
                      "jobId", (json_int_t) ops[i].job_id,
                      "executionId", ops[i].execution_id,
                      "state", ops[i].state,
                      "cancelRequested", ops[i].cancel_requested,
                      "createTime", (json_int_t) ops[i].created,
                      "updateTime", (json_int_t) ops[i].updated,
                      "result", ops[i].result);

        if (o == NULL || json_array_append_new(a, o) != 0) {
            json_decref(a);
            a = NULL;
        }
    }

    free(ops);

    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_compensation_sched_send(r, NGX_HTTP_OK, CF_OK, a);
}


static ngx_int_t
ngx_http_compensation_fabric_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *msg)
{
    json_t  *j;

    j = json_pack("{s:{s:s, s:s}}", "Error", "Code", code, "Message", msg);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_compensation_sched_send(r, status, code, j);
}


/*
 * POST /Faults/$/Cancel?api-version=6.0&OperationId=<uuid>&Force=<bool>
 * [&timeout=<s>] (seed 003)
 */
ngx_int_t
ngx_http_compensation_cancel_handler(ngx_http_request_t *r)
{
    int                                 rc, force;
    char                                state[16], op_id[CF_UUID_LEN + 1];
    ngx_str_t                           v;
    int64_t                             n;
    ngx_http_compensation_main_conf_t  *mcf;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    mcf = ngx_http_compensation_store_conf(r);

    /* api-version: required; "6.0" or a higher one up to the current */
    if (ngx_http_arg(r, (u_char *) "api-version", sizeof("api-version") - 1,
                     &v)
        != NGX_OK)
    {
        return ngx_http_compensation_fabric_error(r, NGX_HTTP_BAD_REQUEST,
                   "FABRIC_E_INVALID_ARGUMENT",
                   "The api-version parameter is required.");
    }

    if (ngx_http_compensation_api_version(&v) != NGX_OK) {
        return ngx_http_compensation_fabric_error(r, NGX_HTTP_BAD_REQUEST,
                   "FABRIC_E_INVALID_ARGUMENT",
                   "The api-version must be 6.0 (or a higher one up to the"
                   " runtime's " NGX_HTTP_COMPENSATION_RUNTIME_VERSION ").");
    }

    if (ngx_http_arg(r, (u_char *) "OperationId", sizeof("OperationId") - 1,
                     &v)
        != NGX_OK
        || !cf_uuid_is_valid((char *) v.data, v.len))
    {
        return ngx_http_compensation_fabric_error(r, NGX_HTTP_BAD_REQUEST,
                   "FABRIC_E_INVALID_ARGUMENT",
                   "OperationId is required and must be a UUID.");
    }

    ngx_memcpy(op_id, v.data, CF_UUID_LEN);
    op_id[CF_UUID_LEN] = '\0';

    if (ngx_http_arg(r, (u_char *) "Force", sizeof("Force") - 1, &v)
        != NGX_OK)
    {
        return ngx_http_compensation_fabric_error(r, NGX_HTTP_BAD_REQUEST,
                   "FABRIC_E_INVALID_ARGUMENT",
                   "The Force parameter is required.");
    }

    if (v.len == 4 && ngx_strncasecmp(v.data, (u_char *) "true", 4) == 0) {
        force = 1;

    } else if (v.len == 5
               && ngx_strncasecmp(v.data, (u_char *) "false", 5) == 0)
    {
        force = 0;

    } else {
        return ngx_http_compensation_fabric_error(r, NGX_HTTP_BAD_REQUEST,
                   "FABRIC_E_INVALID_ARGUMENT",
                   "Force must be true or false.");
    }

    if (ngx_http_arg(r, (u_char *) "timeout", sizeof("timeout") - 1, &v)
        == NGX_OK)
    {
        if (cf_int_parse(v.data, v.len, 4294967295LL, &n) != 0 || n < 1) {
            return ngx_http_compensation_fabric_error(r,
                       NGX_HTTP_BAD_REQUEST, "FABRIC_E_INVALID_ARGUMENT",
                       "timeout must be an integer from 1 to 4294967295.");
        }
    }

    rc = cf_dispatch_cancel(cf_store_db(mcf->store), op_id, force,
                            ngx_http_compensation_now_ms(), state);

    switch (rc) {

    case 0:
        return ngx_http_compensation_send_text(r, NGX_HTTP_OK,
                                               "application/json",
                                               (u_char *) "", 0);

    case CF_DISPATCH_NOT_FOUND:
        return ngx_http_compensation_fabric_error(r, NGX_HTTP_NOT_FOUND,
                   "FABRIC_E_TEST_COMMAND_OPERATION_ID_NOT_FOUND",
                   "No operation has this OperationId.");

    case CF_DISPATCH_REFUSED:
        return ngx_http_compensation_fabric_error(r, NGX_HTTP_BAD_REQUEST,
                   force ? "FABRIC_E_INVALID_OPERATION"
                         : "FABRIC_E_TEST_COMMAND_STATE_INVALID",
                   force ? "Force=true needs a graceful cancel first"
                           " (Force=false) or a RollingBack operation."
                         : "The operation is not running.");

    default:
        return ngx_http_compensation_fabric_error(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, "FABRIC_E_COMMUNICATION_ERROR",
                   "The store failed.");
    }
}
