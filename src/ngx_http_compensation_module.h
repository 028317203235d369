
/*
 * ngx_compensation: the Wow compensation service as an nginx HTTP module.
 * What every file of the nginx glue shares: the configuration, the request
 * ctx, the store of the worker and its health.  Each glue file declares its
 * own functions in its own header (ngx_http_compensation_<file>.h).
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


typedef struct ngx_http_compensation_sched_conf_s
    ngx_http_compensation_sched_conf_t;
typedef struct ngx_http_compensation_executor_s
    ngx_http_compensation_executor_t;
typedef struct ngx_http_compensation_job_s  ngx_http_compensation_job_t;


typedef struct {
    ngx_str_t                 store_path;      /* absolute, NUL-terminated;
                                                  or a server's DSN: never
                                                  logged (a password) */
    ngx_str_t                 store_name;      /* for logs: the path, or
                                                  "PostgreSQL user@host:
                                                  port/db" */
    ngx_flag_t                store_server;    /* a database server's DSN
                                                  (PostgreSQL), not a file */
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

    /* per worker process, set in init_process; a SQLite file only (the
     * event loop's connection): see ngx_http_compensation_store_ready */
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
    unsigned                  fault_by_ping:1; /* fault_rc is a server
                                                  store's failed ping */
    ngx_event_t               store_retry;     /* timer: opens the store
                                                  again while it is NULL */
    ngx_http_compensation_job_t  *attach_job;  /* a server store's: opens
                                                  the connections in the
                                                  executor (module.c) */
    ngx_queue_t               attach_waiting;  /* requests that came before
                                                  its first done */
    unsigned                  attach_pending:1;
    unsigned                  attached:1;      /* a server store's executor
                                                  has its connection (the
                                                  event loop has none) */

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
    /* the request handlers' reads on a server store (read.c); NULL: they
     * run inline on the event loop's connection (a SQLite file) */
    ngx_http_compensation_executor_t  *read_executor;
    ngx_flag_t                read_thread_test; /* TEST_COMPENSATION_READ_
                                                   THREAD: a SQLite file's
                                                   reads on it too */
    ngx_http_compensation_job_t       *group_job;  /* the command groups' */
    ngx_flag_t                thread_pool_set;

    /* GET /v3/api-docs, built once per configuration: the document's
     * text before and after the server URL (openapi.c) */
    ngx_str_t                 openapi_head;
    ngx_str_t                 openapi_tail;
} ngx_http_compensation_main_conf_t;


/* this worker has its store: a SQLite file open on the event loop, or a
 * server store attached to the executor (whose connections are its
 * threads', never the event loop's) */
#define ngx_http_compensation_store_ready(mcf)                                \
    ((mcf)->store != NULL || (mcf)->attached)


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
    /* what runs once the request body is read (request.c) */
    ngx_int_t                            (*body_run)(ngx_http_request_t *r);
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


extern ngx_module_t  ngx_http_compensation_module;


/* the main conf of a request whose worker has a store */
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
/* a server store's ping, run as a job (actuator.c): rc 0 or -1, code
 * cf_store_errcode's, msg the store's message */
void ngx_http_compensation_store_pinged(
    ngx_http_compensation_main_conf_t *mcf, ngx_log_t *log, int rc,
    int code, const char *msg);

/* an aggregate or request id: 1 to CF_MAX_ID_LEN characters, no controls */
ngx_int_t ngx_http_compensation_check_id(ngx_http_request_t *r,
    ngx_str_t *id);

/* used by every glue file (ngx_http_compensation_response.c) */
ngx_int_t ngx_http_compensation_json_cleanup(ngx_pool_t *pool, json_t *json);
char *ngx_http_compensation_strdup(ngx_pool_t *pool, ngx_str_t *s);
int64_t ngx_http_compensation_now_ms(void);


#endif /* _NGX_HTTP_COMPENSATION_MODULE_H_INCLUDED_ */
