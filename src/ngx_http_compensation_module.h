
/*
 * ngx_compensation: the Wow compensation service as an nginx HTTP module.
 * Shared declarations of the nginx glue.
 */


#ifndef _NGX_HTTP_COMPENSATION_MODULE_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif

#include "cf_domain.h"
#include "cf_store.h"
#include "cf_service.h"
#include "cf_exec.h"
#include "cf_query.h"
#include "cf_cosid.h"
#include "cf_int.h"


#define NGX_HTTP_COMPENSATION_NOT_ACCEPTABLE  406
#define NGX_HTTP_COMPENSATION_MAX_HEADER_LEN  4096
#define NGX_HTTP_COMPENSATION_MAX_EXT_HEADERS 64


typedef struct ngx_http_compensation_sched_conf_s
    ngx_http_compensation_sched_conf_t;
typedef struct ngx_http_compensation_executor_s
    ngx_http_compensation_executor_t;
typedef struct ngx_http_compensation_job_s  ngx_http_compensation_job_t;


typedef struct {
    ngx_str_t                 store_path;      /* absolute, NUL-terminated */
    ngx_flag_t                sync_full;
    ngx_msec_t                busy_timeout;
    off_t                     mmap_size;       /* compensation_store_mmap_
                                                  size; 0: off */
    ngx_int_t                 machine_node;    /* compensation_machine_id;
                                                  NGX_CONF_UNSET: pid */
    ngx_shm_zone_t           *cosid_zone;      /* slot leases, generators */
    ngx_shm_zone_t           *metrics_zone;    /* counters (metrics.c) */
    cf_retry_spec_t           default_spec;
    ngx_flag_t                default_spec_set;

    /* the query guard (compensation_query_*, spec 4.7) */
    ngx_int_t                 q_max_list_size;
    ngx_int_t                 q_max_page_size;
    ngx_int_t                 q_max_page_window;
    ngx_int_t                 q_max_condition_nodes;
    ngx_int_t                 q_max_condition_values;
    ngx_flag_t                q_allow_expensive;
    ngx_flag_t                q_allow_match_all;
    ngx_str_t                 q_zone;          /* NUL-terminated or empty */
    cf_query_limits_t         query_limits;

    /* read budgets (compensation_read_max_size, _read_memory) */
    size_t                    read_max_size;
    size_t                    read_memory;

    /* compensation_scheduler, compensation_target (scheduler.c) */
    ngx_http_compensation_sched_conf_t  *scheduler;

    /* per worker process, set in init_process */
    cf_store_t               *store;
    cf_checkpointer_t        *checkpointer;    /* NULL: commits checkpoint */
    cf_store_t               *read_store;      /* the state read's; NULL:
                                                  it uses store */
    ngx_event_t               read_release;    /* posted: ends the read
                                                  transaction */
    cf_id_gen_t               ids;
    ngx_int_t                 cosid_slot;      /* -1: none leased */
    cf_snowflake_t            snowflake;       /* the "__share__" generator */
    ngx_log_t                *log;

    /*
     * The store's health as this worker's writes meet it (module.c): the
     * SQLite code of the failing writes (0: they work), for health and for
     * a log line per interval instead of one per failure
     */
    int                       fault_rc;
    ngx_uint_t                fault_count;     /* failures since fault_rc */
    ngx_uint_t                fault_unlogged;  /* not in a log line yet */
    ngx_msec_t                fault_logged;    /* the last line's time */
    u_char                    fault_msg[256];
    unsigned                  replaced_logged:1;
    ngx_event_t               store_retry;     /* timer: opens the store
                                                  again while it is NULL */

    /* group commit (compensation_group_commit), per worker */
    ngx_flag_t                group_commit;
    cf_exec_queue_t           group;           /* commands waiting */
    ngx_event_t               group_event;     /* posted: runs the group */

    /* where store work that can wait runs (compensation_thread_pool;
     * ngx_http_compensation_executor.c): the module's thread per worker by
     * default, a thread of a named nginx pool, or the event loop (off) */
#if (NGX_THREADS)
    ngx_thread_pool_t        *thread_pool;     /* NULL: not a named pool */
#endif
    ngx_flag_t                thread_off;      /* "off": the event loop */
    ngx_http_compensation_executor_t  *executor;   /* per worker */
    ngx_http_compensation_job_t       *group_job;  /* the command groups' */
    ngx_flag_t                thread_pool_set;

    /* GET /v3/api-docs, built once per configuration: the document's
     * text before and after the server URL (openapi.c) */
    ngx_str_t                 openapi_head;
    ngx_str_t                 openapi_tail;
} ngx_http_compensation_main_conf_t;


typedef struct ngx_http_compensation_notify_conf_s
    ngx_http_compensation_notify_conf_t;

typedef struct {
    ngx_flag_t                api;
    size_t                    max_body_size;
    ngx_str_t                 sink;            /* compensation_sink uri */
    ngx_http_compensation_notify_conf_t  *notify;  /* compensation_notify;
                                                  NULL: off */
    ngx_str_t                 auth_token;      /* compensation_auth_token[_
                                                  file]; unset: data NULL,
                                                  empty: no token needed */
    ngx_str_t                 read_token;      /* compensation_read_token[_
                                                  file]: the same, reads */
} ngx_http_compensation_loc_conf_t;


typedef struct {
    ngx_flag_t                api;             /* the server has a
                                                  compensation_api location:
                                                  its own errors are JSON */
} ngx_http_compensation_srv_conf_t;


typedef struct ngx_http_compensation_route_s  ngx_http_compensation_route_t;

typedef ngx_int_t (*ngx_http_compensation_handler_pt)(ngx_http_request_t *r);

#define NGX_HTTP_COMPENSATION_MAX_VARS  4

/* what the router found for a request; the request ctx */
typedef struct {
    const ngx_http_compensation_route_t   *route;
    ngx_str_t                              vars[NGX_HTTP_COMPENSATION_MAX_VARS];
    ngx_uint_t                             nvars;
    /* the command to run (cf_command_type_t): the route's, or the one a
     * facade chose (Command-Type); -1 for non-command routes */
    ngx_int_t                              command;
    /* the aggregate id: the {id} path variable, or chosen by a facade;
     * empty: Command-Aggregate-Id or a generated id (create) */
    ngx_str_t                              aggregate_id;
    /* the sink batch in flight (ngx_http_compensation_sink.c) */
    void                                  *sink_batch;
    /* the query route (ngx_http_compensation_query.c) */
    ngx_uint_t                             query_route;
    unsigned                               sse:1;
    /* the command facade: no path id, the body's "id" may name it */
    unsigned                               facade:1;
    /* the access phase refused the X-Auth-Token (auth.c) */
    unsigned                               token_refused:1;
    /* nginx's own error response replaced by JSON (errors.c) */
    unsigned                               special_sent:1;
    const char                            *special_code;
    const char                            *special_msg;
} ngx_http_compensation_ctx_t;


struct ngx_http_compensation_route_s {
    ngx_uint_t                             method;     /* NGX_HTTP_GET, ... */
    const char                            *pattern;    /* "/execution_failed/{id}" */
    ngx_http_compensation_handler_pt       handler;
    ngx_int_t                              command;    /* cf_command_type_t
                                                          or -1 */
    const char                            *summary;
    unsigned                               sse:1;      /* may answer SSE */
    unsigned                               no_store:1; /* served without
                                                          the store */
    unsigned                               mutating:1; /* writes: needs
                                                          X-Auth-Token when
                                                          compensation_auth_
                                                          token is set */
};


extern ngx_module_t  ngx_http_compensation_module;


/* router */
ngx_int_t ngx_http_compensation_route(ngx_http_request_t *r,
    ngx_http_compensation_ctx_t *ctx);
ngx_int_t ngx_http_compensation_route_match(ngx_http_request_t *r,
    ngx_http_compensation_ctx_t *ctx, ngx_uint_t *methods);
ngx_http_compensation_ctx_t *ngx_http_compensation_get_ctx(
    ngx_http_request_t *r);

/* X-Auth-Token (auth.c) */
char *ngx_http_compensation_token_post(ngx_conf_t *cf, void *post,
    void *data);
char *ngx_http_compensation_token_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_compensation_auth_init(ngx_conf_t *cf);

/* JSON for nginx's own error responses (errors.c) */
ngx_int_t ngx_http_compensation_errors_init(ngx_conf_t *cf);

/* responses */
ngx_int_t ngx_http_compensation_error_header(ngx_http_request_t *r,
    const char *code);

/* a response body written in chunks under a budget (response.c) */
typedef struct {
    ngx_http_request_t       *r;
    ngx_chain_t              *head;
    ngx_chain_t             **last;
    ngx_buf_t                *buf;             /* the chunk being filled */
    size_t                    size;
    size_t                    max;             /* compensation_read_max_
                                                  size */
    ngx_uint_t                n;               /* documents added */
    unsigned                  too_large:1;
} ngx_http_compensation_body_t;

void ngx_http_compensation_body_init(ngx_http_request_t *r,
    ngx_http_compensation_body_t *body);
ngx_int_t ngx_http_compensation_body_add(ngx_http_compensation_body_t *body,
    const u_char *data, size_t len);
ngx_int_t ngx_http_compensation_body_add_json(
    ngx_http_compensation_body_t *body, const char *prefix, json_t *doc,
    const char *suffix);
ngx_int_t ngx_http_compensation_body_send(ngx_http_compensation_body_t *body,
    ngx_uint_t sse);
size_t ngx_http_compensation_held_bytes(void);
cf_buf_t *ngx_http_compensation_text_buffer(void);
void ngx_http_compensation_text_buffer_free(void);
ngx_int_t ngx_http_compensation_json_text(ngx_pool_t *pool, json_t *json,
    ngx_str_t *out);
ngx_int_t ngx_http_compensation_send_json(ngx_http_request_t *r,
    ngx_uint_t status, const char *error_code, json_t *json);
ngx_int_t ngx_http_compensation_send_raw(ngx_http_request_t *r,
    ngx_uint_t status, const char *error_code, u_char *data, size_t len);
ngx_int_t ngx_http_compensation_send_chain(ngx_http_request_t *r,
    ngx_uint_t status, const char *error_code, ngx_chain_t *out, size_t len);
ngx_int_t ngx_http_compensation_send_error(ngx_http_request_t *r,
    cf_error_t *err);
ngx_int_t ngx_http_compensation_send_error_code(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *fmt, ...);
ngx_int_t ngx_http_compensation_send_sse(ngx_http_request_t *r,
    const char *error_code, ngx_chain_t *events);
ngx_chain_t *ngx_http_compensation_sse_event(ngx_http_request_t *r,
    const char *id, const char *event, json_t *data);
ngx_chain_t *ngx_http_compensation_sse_text(ngx_http_request_t *r,
    const char *id, const char *event, u_char *data, size_t n);
ngx_int_t ngx_http_compensation_json_cleanup(ngx_pool_t *pool, json_t *json);
ngx_int_t ngx_http_compensation_accepts(ngx_http_request_t *r,
    ngx_uint_t sse_allowed, ngx_uint_t *sse);
ngx_str_t *ngx_http_compensation_header(ngx_http_request_t *r,
    const char *name, size_t len);
char *ngx_http_compensation_strdup(ngx_pool_t *pool, ngx_str_t *s);
int64_t ngx_http_compensation_now_ms(void);

/* route handlers */
ngx_int_t ngx_http_compensation_command_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_state_handler(ngx_http_request_t *r);

/* history routes (issue 3): state, tracing, snapshots, event streams */
ngx_int_t ngx_http_compensation_versioned_state_handler(
    ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_time_state_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_tracing_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_snapshot_get_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_snapshot_put_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_snapshot_batch_handler(
    ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_event_load_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_resend_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_compensate_handler(ngx_http_request_t *r);

/* query routes (ngx_http_compensation_query.c) */
ngx_int_t ngx_http_compensation_query_conf(ngx_conf_t *cf,
    ngx_http_compensation_main_conf_t *mcf);
ngx_int_t ngx_http_compensation_snapshot_count_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_snapshot_list_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_snapshot_list_state_handler(
    ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_snapshot_paged_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_snapshot_paged_state_handler(
    ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_snapshot_single_handler(
    ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_snapshot_single_state_handler(
    ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_event_count_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_event_list_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_event_paged_handler(ngx_http_request_t *r);

/* shared by the history routes (ngx_http_compensation_state.c) */
ngx_int_t ngx_http_compensation_read_prelude(ngx_http_request_t *r,
    ngx_uint_t sse_allowed, ngx_uint_t *sse, char **id, ngx_int_t *rc);
ngx_int_t ngx_http_compensation_internal_error(ngx_http_request_t *r,
    const char *what, cf_error_t *err);
void ngx_http_compensation_read_release(ngx_event_t *ev);

/*
 * The sink (ngx_http_compensation_sink.c): POSTs one JSON document to the
 * compensation_sink location through a background subrequest of r; done is
 * called when the sink answered (ok: a 2xx status) or failed.  Usable by
 * any handler that keeps r alive until done (the state-event resend, event
 * compensate and, later, notifications about new events).
 */
typedef void (*ngx_http_compensation_sink_done_pt)(ngx_http_request_t *r,
    void *data, ngx_uint_t ok, ngx_uint_t status);

ngx_int_t ngx_http_compensation_sink_post(ngx_http_request_t *r,
    ngx_str_t *doc, const char *kind,
    ngx_http_compensation_sink_done_pt done, void *data);

/* the same to another location (the notifications') */
ngx_int_t ngx_http_compensation_sink_post_to(ngx_http_request_t *r,
    ngx_str_t *uri, ngx_str_t *doc, const char *kind,
    ngx_http_compensation_sink_done_pt done, void *data);

/* notifications (ngx_http_compensation_notify.c) */
char *ngx_http_compensation_notify(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_compensation_notify_command(ngx_http_request_t *r,
    ngx_int_t command, const char *aggregate_id, ngx_uint_t *inflight);

/*
 * Sends docs[0..n) one after another to the sink and then calls done with
 * the number delivered (all, or up to the first failure).  The caller
 * returns NGX_DONE after r->main->count++ (or from a body handler) and
 * finalizes r in done.
 */
typedef void (*ngx_http_compensation_sink_batch_pt)(ngx_http_request_t *r,
    void *data, ngx_uint_t delivered, ngx_uint_t status);

ngx_int_t ngx_http_compensation_sink_batch(ngx_http_request_t *r,
    ngx_str_t *docs, ngx_uint_t n, const char *kind,
    ngx_http_compensation_sink_batch_pt done, void *data);

/* the global routes: /wow/..., /actuator/..., /v3/api-docs */
ngx_int_t ngx_http_compensation_send_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_wait_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_metadata_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_global_id_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_bi_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_actuator_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_health_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_cosid_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_cosid_generate_handler(
    ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_openapi_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_compensation_openapi_init(ngx_conf_t *cf,
    ngx_http_compensation_main_conf_t *mcf);

/* metrics (ngx_http_compensation_metrics.c): the zone, the route and the
 * counters other files feed; every hook is one atomic add */
ngx_int_t ngx_http_compensation_metrics_conf(ngx_conf_t *cf,
    ngx_http_compensation_main_conf_t *mcf);
ngx_int_t ngx_http_compensation_metrics_postconf(ngx_conf_t *cf);
ngx_int_t ngx_http_compensation_prometheus_handler(ngx_http_request_t *r);
void ngx_http_compensation_metrics_init_process(
    ngx_http_compensation_main_conf_t *mcf);
void ngx_http_compensation_metrics_group(ngx_uint_t n);
void ngx_http_compensation_metrics_dispatch_start(json_t *state,
    int64_t now);
void ngx_http_compensation_metrics_sink(const char *kind, ngx_uint_t ok);

/* the whole request body (NGX_DECLINED: over compensation_max_body_size)
 * and whether its Content-Type is JSON (NGX_OK) */
ngx_int_t ngx_http_compensation_read_body(ngx_http_request_t *r,
    ngx_str_t *body);
ngx_int_t ngx_http_compensation_json_content_type(ngx_http_request_t *r);

ngx_int_t ngx_http_compensation_send_text(ngx_http_request_t *r,
    ngx_uint_t status, const char *content_type, u_char *body, size_t len);

/* the route table itself (ends with a NULL pattern), for the OpenAPI
 * document */
const ngx_http_compensation_route_t *ngx_http_compensation_route_table(
    void);
/* builds the matcher's table: once per process, at its start */
void ngx_http_compensation_router_init(ngx_log_t *log);

/* ids (ngx_http_compensation_id.c) */
char *ngx_http_compensation_machine_id(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_compensation_id_conf(ngx_conf_t *cf,
    ngx_http_compensation_main_conf_t *mcf);
ngx_int_t ngx_http_compensation_id_init_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf);
void ngx_http_compensation_id_exit_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf);

/*
 * A command between its body and its reply (ngx_http_compensation_group.c):
 * queued, run against the store (on the event loop, or in the store thread),
 * then passed to reply on the event loop, whose return finalizes r.  r is
 * NULL when the request was freed while the command was queued (it still
 * runs): reply then frees the command and returns NGX_DONE.
 */
typedef struct ngx_http_compensation_pending_s
    ngx_http_compensation_pending_t;

struct ngx_http_compensation_pending_s {
    cf_exec_cmd_t              exec;           /* first: the executor's */
    ngx_http_request_t        *r;
    ngx_msec_t                 busy;           /* its wait: its deadline */
    unsigned                   queued:1;       /* in a group until reply */
    ngx_int_t                (*reply)(ngx_http_compensation_pending_t *pc);
};

ngx_int_t ngx_http_compensation_group_init_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf, cf_store_options_t *opts);
void ngx_http_compensation_group_exit_process(
    ngx_http_compensation_main_conf_t *mcf);
ngx_uint_t ngx_http_compensation_group_queued(
    ngx_http_compensation_main_conf_t *mcf);
void ngx_http_compensation_group_add(ngx_http_compensation_main_conf_t *mcf,
    ngx_http_compensation_pending_t *pc);
void ngx_http_compensation_group_run(ngx_http_compensation_main_conf_t *mcf,
    ngx_http_compensation_pending_t *pc);

/* shared by handlers */
ngx_http_compensation_main_conf_t *ngx_http_compensation_store_conf(
    ngx_http_request_t *r);

/*
 * The store's health (ngx_http_compensation_module.c): every write's
 * outcome goes to store_outcome; store_replaced checks that the open file is
 * still the one at the path (logs [crit] once when not); store_down is the
 * cause of a DOWN health, or NULL.
 */
void ngx_http_compensation_store_outcome(
    ngx_http_compensation_main_conf_t *mcf, ngx_log_t *log,
    const cf_exec_output_t *out);
ngx_int_t ngx_http_compensation_store_replaced(
    ngx_http_compensation_main_conf_t *mcf, ngx_log_t *log);
const char *ngx_http_compensation_store_down(
    ngx_http_compensation_main_conf_t *mcf, ngx_log_t *log);
ngx_int_t ngx_http_compensation_check_id(ngx_http_request_t *r,
    ngx_str_t *id);


#endif /* _NGX_HTTP_COMPENSATION_MODULE_H_INCLUDED_ */
