
/*
 * ngx_compensation: the Wow compensation service as an nginx HTTP module.
 *
 * Directives, configuration, the per-worker store connection and the
 * content handler of "compensation_api" locations.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_actuator.h"
#include "ngx_http_compensation_auth.h"
#include "ngx_http_compensation_errors.h"
#include "ngx_http_compensation_executor.h"
#include "ngx_http_compensation_group.h"
#include "ngx_http_compensation_id.h"
#include "ngx_http_compensation_metrics.h"
#include "ngx_http_compensation_notify.h"
#include "ngx_http_compensation_openapi.h"
#include "ngx_http_compensation_query.h"
#include "ngx_http_compensation_response.h"
#include "ngx_http_compensation_router.h"
#include "ngx_http_compensation_scheduler.h"
#include "ngx_http_compensation_scheduler_conf.h"
#include "ngx_http_compensation_state.h"
#include "cf_route.h"
#include "cf_tz.h"
#include "cf_pg_store.h"


/* a worker without its store opens it again after this long (ms) */
#define NGX_HTTP_COMPENSATION_STORE_RETRY          1000

/* identical store failures: one log line per this many ms, with a count */
#define NGX_HTTP_COMPENSATION_FAULT_LOG_INTERVAL   10000


/* a request that came before the worker's first attach ended */
typedef struct {
    ngx_queue_t                         queue;
    ngx_http_request_t                 *r;
    unsigned                            queued:1;
} ngx_http_compensation_parked_t;


/* a server store's attach job (server_init) */
typedef struct {
    ngx_http_compensation_job_t         job;
    ngx_http_compensation_main_conf_t  *mcf;
    cf_store_options_t                  opts;
    /* opened in the store thread, handed over by the done */
    cf_store_t                         *exec_store;
    unsigned                            ok:1;      /* the thread has its
                                                      connection */
    char                                errbuf[512];
} ngx_http_compensation_attach_t;


static void *ngx_http_compensation_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_compensation_init_main_conf(ngx_conf_t *cf,
    void *conf);
static void *ngx_http_compensation_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_compensation_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_compensation_store(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_compensation_store_server(ngx_conf_t *cf,
    ngx_http_compensation_main_conf_t *mcf, ngx_str_t *dsn);
static char *ngx_http_compensation_retry_spec(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_compensation_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_compensation_init_module(ngx_cycle_t *cycle);
static char *ngx_http_compensation_thread_pool(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_compensation_init_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_compensation_store_attach(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf);
static void ngx_http_compensation_store_retry(ngx_event_t *ev);
static ngx_int_t ngx_http_compensation_server_init(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf);
static void ngx_http_compensation_attach_run(
    ngx_http_compensation_job_t *job, cf_store_t *st);
static void ngx_http_compensation_attach_done(
    ngx_http_compensation_job_t *job);
static ngx_int_t ngx_http_compensation_park(ngx_http_request_t *r,
    ngx_http_compensation_main_conf_t *mcf);
static void ngx_http_compensation_park_cleanup(void *data);
static void ngx_http_compensation_unpark(
    ngx_http_compensation_main_conf_t *mcf);
static void ngx_http_compensation_store_unusable(
    ngx_http_compensation_main_conf_t *mcf, ngx_log_t *log,
    const char *errbuf);
static void ngx_http_compensation_exit_process(ngx_cycle_t *cycle);
static void ngx_http_compensation_exit_master(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_compensation_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_compensation_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_compensation_create_srv_conf(ngx_conf_t *cf);
static void ngx_http_compensation_store_options(
    ngx_http_compensation_main_conf_t *mcf, cf_store_options_t *opts);


static ngx_conf_post_t  ngx_http_compensation_token_post_check =
    { ngx_http_compensation_token_post };


static ngx_conf_enum_t  ngx_http_compensation_synchronous[] = {
    { ngx_string("normal"), 0 },
    { ngx_string("full"), 1 },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_compensation_commands[] = {

    { ngx_string("compensation_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_compensation_store,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("compensation_scheduler"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_compensation_scheduler,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("compensation_target"),
      NGX_HTTP_SRV_CONF|NGX_CONF_TAKE23,
      ngx_http_compensation_target,
      0,
      0,
      NULL },

    { ngx_string("compensation_store_synchronous"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_compensation_main_conf_t, sync_full),
      &ngx_http_compensation_synchronous },

    { ngx_string("compensation_group_commit"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_compensation_main_conf_t, group_commit),
      NULL },

    { ngx_string("compensation_store_mmap_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_compensation_main_conf_t, mmap_size),
      NULL },

    { ngx_string("compensation_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_compensation_thread_pool,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("compensation_store_busy_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_compensation_main_conf_t, busy_timeout),
      NULL },

    { ngx_string("compensation_retry_spec"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_compensation_retry_spec,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("compensation_machine_id"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_compensation_machine_id,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("compensation_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_compensation_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("compensation_max_body_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_compensation_loc_conf_t, max_body_size),
      NULL },

    { ngx_string("compensation_sink"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_compensation_loc_conf_t, sink),
      NULL },

    { ngx_string("compensation_notify"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_compensation_notify,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("compensation_auth_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_compensation_loc_conf_t, auth_token),
      &ngx_http_compensation_token_post_check },

    { ngx_string("compensation_auth_token_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_compensation_token_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_compensation_loc_conf_t, auth_token),
      NULL },

    { ngx_string("compensation_read_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_compensation_loc_conf_t, read_token),
      &ngx_http_compensation_token_post_check },

    { ngx_string("compensation_read_token_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_compensation_token_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_compensation_loc_conf_t, read_token),
      NULL },

    { ngx_string("compensation_read_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_compensation_main_conf_t, read_max_size),
      NULL },

    { ngx_string("compensation_read_memory"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_compensation_main_conf_t, read_memory),
      NULL },

    { ngx_string("compensation_query_max_list_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_compensation_main_conf_t, q_max_list_size),
      NULL },

    { ngx_string("compensation_query_max_page_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_compensation_main_conf_t, q_max_page_size),
      NULL },

    { ngx_string("compensation_query_max_page_window"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_compensation_main_conf_t, q_max_page_window),
      NULL },

    { ngx_string("compensation_query_max_condition_nodes"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_compensation_main_conf_t, q_max_condition_nodes),
      NULL },

    { ngx_string("compensation_query_max_condition_values"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_compensation_main_conf_t, q_max_condition_values),
      NULL },

    { ngx_string("compensation_query_allow_expensive"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_compensation_main_conf_t, q_allow_expensive),
      NULL },

    { ngx_string("compensation_query_allow_match_all"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_compensation_main_conf_t, q_allow_match_all),
      NULL },

    { ngx_string("compensation_query_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_compensation_main_conf_t, q_zone),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_compensation_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_compensation_postconfiguration, /* postconfiguration */

    ngx_http_compensation_create_main_conf,  /* create main configuration */
    ngx_http_compensation_init_main_conf,  /* init main configuration */

    ngx_http_compensation_create_srv_conf, /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_compensation_create_loc_conf, /* create location configuration */
    ngx_http_compensation_merge_loc_conf   /* merge location configuration */
};


ngx_module_t  ngx_http_compensation_module = {
    NGX_MODULE_V1,
    &ngx_http_compensation_module_ctx,     /* module context */
    ngx_http_compensation_commands,        /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_compensation_init_module,     /* init module */
    ngx_http_compensation_init_process,    /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_compensation_exit_process,    /* exit process */
    ngx_http_compensation_exit_master,     /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_compensation_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_compensation_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_compensation_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mcf->store_path = { 0, NULL };
     *     mcf->store = NULL;
     *     mcf->default_spec_set = 0;
     */

    mcf->sync_full = NGX_CONF_UNSET;
    mcf->busy_timeout = NGX_CONF_UNSET_MSEC;
    mcf->mmap_size = NGX_CONF_UNSET;
    mcf->group_commit = NGX_CONF_UNSET;
    mcf->read_max_size = NGX_CONF_UNSET_SIZE;
    mcf->read_memory = NGX_CONF_UNSET_SIZE;
    mcf->q_max_list_size = NGX_CONF_UNSET;
    mcf->q_max_page_size = NGX_CONF_UNSET;
    mcf->q_max_page_window = NGX_CONF_UNSET;
    mcf->q_max_condition_nodes = NGX_CONF_UNSET;
    mcf->q_max_condition_values = NGX_CONF_UNSET;
    mcf->q_allow_expensive = NGX_CONF_UNSET;
    mcf->q_allow_match_all = NGX_CONF_UNSET;
    mcf->machine_node = NGX_CONF_UNSET;
    mcf->cosid_slot = -1;

    return mcf;
}


static char *
ngx_http_compensation_init_main_conf(ngx_conf_t *cf, void *conf)
{
    char                               *test;
    ngx_http_compensation_main_conf_t  *mcf = conf;

    ngx_conf_init_value(mcf->sync_full, 0);
    ngx_conf_init_msec_value(mcf->busy_timeout, 1000);
    if (mcf->mmap_size == NGX_CONF_UNSET) {
        mcf->mmap_size = 0;
    }

    ngx_conf_init_value(mcf->group_commit, 1);

    ngx_conf_init_size_value(mcf->read_max_size, 8 * 1024 * 1024);
    ngx_conf_init_size_value(mcf->read_memory, 32 * 1024 * 1024);

    if (mcf->read_max_size < 1024
        || mcf->read_memory < mcf->read_max_size)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "compensation_read_max_size must be at least 1k,"
                           " and compensation_read_memory at least"
                           " compensation_read_max_size");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_compensation_query_conf(cf, mcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * A test hook (docs/testing.md): a SQLite file's reads on the read
     * executor, as a server store's are.  Read here, in the master: a
     * worker's environment keeps only the "env" directive's variables.
     */
    test = getenv("TEST_COMPENSATION_READ_THREAD");
    mcf->read_thread_test = (test && test[0] && test[0] != '0') ? 1 : 0;

    if (!mcf->default_spec_set) {
        /* the @Retry annotation defaults (spec 1.5) */
        mcf->default_spec.max_retries = 10;
        mcf->default_spec.min_backoff = 180;
        mcf->default_spec.execution_timeout = 120;
    }

    if (mcf->store_server && mcf->thread_off) {
        /* every call waits on the network: never on the event loop */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"compensation_thread_pool off\" cannot be used"
                           " with a PostgreSQL compensation_store: its work"
                           " must run off the event loop");
        return NGX_CONF_ERROR;
    }

    if (mcf->store_server && mcf->machine_node == NGX_CONF_UNSET) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "compensation_store names a PostgreSQL database"
                           " but \"compensation_machine_id\" is not set: ids"
                           " and dispatch leases are unique on this host"
                           " only, every nginx sharing the database needs a"
                           " machine id of its own");
    }

    if (mcf->store_path.data
        && ngx_http_compensation_id_conf(cf, mcf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (mcf->store_path.data
        && ngx_http_compensation_metrics_conf(cf, mcf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_compensation_openapi_init(cf, mcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_compensation_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_compensation_loc_conf_t  *lcf;

    lcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_compensation_loc_conf_t));
    if (lcf == NULL) {
        return NULL;
    }

    lcf->api = NGX_CONF_UNSET;
    lcf->max_body_size = NGX_CONF_UNSET_SIZE;
    lcf->notify = NGX_CONF_UNSET_PTR;

    return lcf;
}


static char *
ngx_http_compensation_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_compensation_loc_conf_t  *prev = parent;
    ngx_http_compensation_loc_conf_t  *conf = child;

    ngx_conf_merge_value(conf->api, prev->api, 0);
    ngx_conf_merge_size_value(conf->max_body_size, prev->max_body_size,
                              1024 * 1024);
    ngx_conf_merge_str_value(conf->sink, prev->sink, "");
    ngx_conf_merge_ptr_value(conf->notify, prev->notify, NULL);
    ngx_conf_merge_str_value(conf->auth_token, prev->auth_token, "");
    ngx_conf_merge_str_value(conf->read_token, prev->read_token, "");

    if (conf->sink.len && conf->sink.data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "compensation_sink \"%V\" must be a location"
                           " path starting with \"/\"", &conf->sink);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_compensation_create_srv_conf(ngx_conf_t *cf)
{
    /* api: 0 until a compensation_api location of the server sets it */
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_compensation_srv_conf_t));
}


static ngx_int_t
ngx_http_compensation_postconfiguration(ngx_conf_t *cf)
{
    if (ngx_http_compensation_auth_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_compensation_metrics_postconf(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_compensation_errors_init(cf);
}


/*
 * compensation_store <path>;
 *
 * The file's directory is registered as an nginx path, so the master creates
 * it and hands it to the worker user as it does for temp paths; SQLite in WAL
 * mode needs to create "-wal" and "-shm" files beside the database.
 */
static char *
ngx_http_compensation_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_compensation_main_conf_t  *mcf = conf;

    u_char           *p, *slash;
    ngx_str_t        *value;
    ngx_path_t       *path;
    ngx_file_info_t   fi;

    if (mcf->store_path.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "requires a file path";
    }

    /*
     * A PostgreSQL URI or keyword string (docs/postgresql.md): no file, no
     * directory.  The value may hold a password: it is never logged, logs
     * name the database as libpq parses it, without the password.  The
     * parser NUL-terminates every argument, as cf_store_open needs.
     */
    if (!cf_store_dsn_is_file((const char *) value[1].data)) {
        return ngx_http_compensation_store_server(cf, mcf, &value[1]);
    }

    mcf->store_path = value[1];

    if (ngx_conf_full_name(cf->cycle, &mcf->store_path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* ngx_conf_full_name() leaves a NUL after the name for cf_store_open */

    mcf->store_name = mcf->store_path;

    if (ngx_file_info(mcf->store_path.data, &fi) != NGX_FILE_ERROR) {
        if (!ngx_is_file(&fi)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "compensation_store \"%V\" is not a regular"
                               " file", &mcf->store_path);
            return NGX_CONF_ERROR;
        }

    } else if (ngx_errno != NGX_ENOENT) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "compensation_store \"%V\" is not usable",
                           &mcf->store_path);
        return NGX_CONF_ERROR;
    }

    slash = NULL;
    for (p = mcf->store_path.data;
         p < mcf->store_path.data + mcf->store_path.len;
         p++)
    {
        if (*p == '/') {
            slash = p;
        }
    }

    if (slash == NULL
        || slash == mcf->store_path.data + mcf->store_path.len - 1)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "compensation_store \"%V\" must name a file",
                           &mcf->store_path);
        return NGX_CONF_ERROR;
    }

    if (slash == mcf->store_path.data) {
        /* a file in "/": no directory to create */
        return NGX_CONF_OK;
    }

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    path->name.len = slash - mcf->store_path.data;
    path->name.data = ngx_pnalloc(cf->pool, path->name.len + 1);
    if (path->name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(path->name.data, mcf->store_path.data, path->name.len);
    path->name.data[path->name.len] = '\0';

    /*
     * create the directory now rather than leave it to ngx_create_paths():
     * its mkdir() error would not say which directive wanted the directory;
     * ngx_add_path() below still hands it to the worker user
     */

    if (ngx_file_info(path->name.data, &fi) == NGX_FILE_ERROR) {

        if (ngx_errno != NGX_ENOENT
            || ngx_create_dir(path->name.data, 0700) == NGX_FILE_ERROR)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "compensation_store \"%V\": directory \"%V\""
                               " cannot be created", &mcf->store_path,
                               &path->name);
            return NGX_CONF_ERROR;
        }

    } else if (!ngx_is_dir(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "compensation_store \"%V\": \"%V\" is not a"
                           " directory", &mcf->store_path, &path->name);
        return NGX_CONF_ERROR;
    }

    path->conf_file = cf->conf_file->file.name.data;
    path->line = cf->conf_file->line;

    if (ngx_add_path(cf, &path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* compensation_store <DSN>: a PostgreSQL database */
static char *
ngx_http_compensation_store_server(ngx_conf_t *cf,
    ngx_http_compensation_main_conf_t *mcf, ngx_str_t *dsn)
{
    char    target[256];
    size_t  len;

    cf_pg_dsn_target((const char *) dsn->data, target, sizeof(target));

    len = sizeof("PostgreSQL ") - 1 + ngx_strlen(target);

    mcf->store_name.data = ngx_pnalloc(cf->pool, len + 1);
    if (mcf->store_name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(mcf->store_name.data, "PostgreSQL %s%Z", target);
    mcf->store_name.len = len;

    mcf->store_path = *dsn;
    mcf->store_server = 1;

    return NGX_CONF_OK;
}


/*
 * compensation_retry_spec max_retries=10 min_backoff=180s
 *                         execution_timeout=120s;
 *
 * The server default used by create commands without a retrySpec.
 */
static char *
ngx_http_compensation_retry_spec(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_compensation_main_conf_t  *mcf = conf;

    ngx_int_t         n;
    ngx_str_t        *value, s;
    ngx_uint_t        i;
    cf_error_t        err;
    cf_retry_spec_t   spec;

    if (mcf->default_spec_set) {
        return "is duplicate";
    }

    spec.max_retries = 10;
    spec.min_backoff = 180;
    spec.execution_timeout = 120;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max_retries=", 12) == 0) {
            n = ngx_atoi(value[i].data + 12, value[i].len - 12);
            if (n == NGX_ERROR || n > NGX_MAX_INT32_VALUE) {
                goto invalid;
            }
            spec.max_retries = (int32_t) n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "min_backoff=", 12) == 0) {
            s.data = value[i].data + 12;
            s.len = value[i].len - 12;
            n = ngx_parse_time(&s, 1);
            if (n == NGX_ERROR || n > NGX_MAX_INT32_VALUE) {
                goto invalid;
            }
            spec.min_backoff = (int32_t) n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "execution_timeout=", 18) == 0) {
            s.data = value[i].data + 18;
            s.len = value[i].len - 18;
            n = ngx_parse_time(&s, 1);
            if (n == NGX_ERROR || n > NGX_MAX_INT32_VALUE) {
                goto invalid;
            }
            spec.execution_timeout = (int32_t) n;
            continue;
        }

        goto invalid;
    }

    cf_error_init(&err);

    if (cf_retry_spec_validate(&spec, &err) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid retry spec: %s", err.msg);
        cf_error_free(&err);
        return NGX_CONF_ERROR;
    }

    cf_error_free(&err);

    mcf->default_spec = spec;
    mcf->default_spec_set = 1;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_compensation_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_compensation_loc_conf_t  *lcf = conf;

    ngx_http_core_loc_conf_t           *clcf;
    ngx_http_compensation_srv_conf_t   *scf;
    ngx_http_compensation_main_conf_t  *mcf;

    if (lcf->api != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_compensation_module);

    if (mcf->store_path.data == NULL) {
        return "requires \"compensation_store\" earlier in the \"http\" block";
    }

    lcf->api = 1;

    /* nginx's errors before a location is chosen become JSON in this server */
    scf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_compensation_module);
    scf->api = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_compensation_handler;

    return NGX_CONF_OK;
}


static void
ngx_http_compensation_store_options(ngx_http_compensation_main_conf_t *mcf,
    cf_store_options_t *opts)
{
    ngx_memzero(opts, sizeof(cf_store_options_t));

    opts->synchronous_full = mcf->sync_full ? 1 : 0;
    opts->busy_timeout_ms = (int) mcf->busy_timeout;
    opts->mmap_size = (int64_t) mcf->mmap_size;

    /*
     * Temporary files in memory: a statement that fires triggers (the count
     * rollup) has a statement journal, otherwise a temporary file (open,
     * unlink and a pwrite per page it changes); and SQLite never looks up a
     * temporary directory with getenv()
     */
    opts->temp_store_memory = 1;
}


/*
 * The master creates the schema once, so that "nginx -t" reports an unusable
 * store and workers start on a ready file; it never keeps the connection
 * across fork().  A PostgreSQL store is created or migrated the same way
 * (under the schema's advisory lock: nginx starting at once on several
 * hosts do not race), and "nginx -t" fails on a database that does not
 * exist, a refused login or an unreachable server, naming the cause and
 * never the password (cf_pg_conn.c scrubs it).  A failing init_module is
 * fatal to the master even on reload, so only the first start and
 * "nginx -t" fail hard.
 */
static ngx_int_t
ngx_http_compensation_init_module(ngx_cycle_t *cycle)
{
    char                                errbuf[512];
    ngx_uint_t                          i;
    cf_store_t                         *st;
    ngx_core_conf_t                    *ccf;
    cf_store_options_t                  opts;
    ngx_http_compensation_main_conf_t  *mcf;

    static const char  *suffixes[] = { "", "-wal", "-shm" };

    mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                              ngx_http_compensation_module);
    if (mcf == NULL || mcf->store_path.data == NULL) {
        return NGX_OK;
    }

    ngx_http_compensation_store_options(mcf, &opts);

    st = cf_store_open((char *) mcf->store_path.data, &opts, errbuf,
                       sizeof(errbuf));

    if (st == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "compensation_store \"%V\" is not usable: %s",
                      &mcf->store_name, errbuf);

        if (ngx_test_config || ngx_is_init_cycle(cycle->old_cycle)) {
            return NGX_ERROR;
        }

        /* on reload the workers will retry and answer 503 meanwhile */
        return NGX_OK;
    }

    /* the query indexes and count rollup (ngx_http_compensation_query.c) */
    if (cf_query_schema(st, errbuf, sizeof(errbuf)) != 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "compensation_store \"%V\": creating the query"
                      " indexes failed: %s", &mcf->store_name, errbuf);
        cf_store_close(st);

        return (ngx_test_config || ngx_is_init_cycle(cycle->old_cycle))
               ? NGX_ERROR : NGX_OK;
    }

    cf_store_close(st);

    if (mcf->store_server) {
        /* no file to hand to the workers */
        return NGX_OK;
    }

    /* workers run as the "user" of nginx.conf: hand them the files */

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (geteuid() == 0 && ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT
        && !ngx_test_config)
    {
        for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
            ngx_snprintf((u_char *) errbuf, sizeof(errbuf), "%V%s%Z",
                         &mcf->store_path, suffixes[i]);

            if (chown(errbuf, ccf->user, (gid_t) -1) == -1
                && ngx_errno != NGX_ENOENT)
            {
                ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                              "chown(\"%s\", %d) failed", errbuf,
                              (int) ccf->user);
                return ngx_is_init_cycle(cycle->old_cycle) ? NGX_ERROR
                                                           : NGX_OK;
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_compensation_init_process(ngx_cycle_t *cycle)
{
    ngx_int_t                           rc;
    ngx_http_compensation_main_conf_t  *mcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                              ngx_http_compensation_module);

    ngx_http_compensation_metrics_init_process(mcf);

    if (mcf == NULL || mcf->store_path.data == NULL) {
        return NGX_OK;
    }

    mcf->log = cycle->log;

    ngx_http_compensation_router_init(cycle->log);

    /* the CosId machine id: the pid, or a node's leased slot */
    if (ngx_http_compensation_id_init_process(cycle, mcf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* empty until the store is attached: nothing is queued without it */
    cf_exec_queue_init(&mcf->group);

    mcf->store_retry.handler = ngx_http_compensation_store_retry;
    mcf->store_retry.data = mcf;
    mcf->store_retry.log = cycle->log;
    mcf->store_retry.cancelable = 1;

    if (mcf->store_server) {
        return ngx_http_compensation_server_init(cycle, mcf);
    }

    rc = ngx_http_compensation_store_attach(cycle, mcf);

    if (rc == NGX_DECLINED) {
        /* keep the worker: other servers it serves must not go down */
        ngx_add_timer(&mcf->store_retry, NGX_HTTP_COMPENSATION_STORE_RETRY);
        return NGX_OK;
    }

    return rc;
}


/*
 * Opens this worker's connections to the store and starts what needs them:
 * NGX_OK, NGX_DECLINED when the store is not usable (logged, store NULL:
 * the API answers 503), NGX_ERROR.  Without creating the file: the master
 * creates the file (init_module), so that a worker started after the file
 * was deleted does not write a fresh one beside the deleted file the other
 * workers still write; it retries instead (store_retry).
 */
static ngx_int_t
ngx_http_compensation_store_attach(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf)
{
    char                errbuf[512];
    cf_store_options_t  opts;

    ngx_http_compensation_store_options(mcf, &opts);
    opts.no_create = 1;

    mcf->store = cf_store_open((char *) mcf->store_path.data, &opts, errbuf,
                               sizeof(errbuf));

    if (mcf->store == NULL) {
        ngx_http_compensation_store_unusable(mcf, cycle->log, errbuf);
        return NGX_DECLINED;
    }

    if (cf_query_schema(mcf->store, errbuf, sizeof(errbuf))
        != 0)
    {
        ngx_http_compensation_store_unusable(mcf, cycle->log, errbuf);
        cf_store_close(mcf->store);
        mcf->store = NULL;
        return NGX_DECLINED;
    }

    if (mcf->fault_count) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "compensation_store \"%V\" is usable again after %ui"
                      " failed attempts to open it", &mcf->store_name,
                      mcf->fault_count);
    }

    mcf->fault_rc = 0;
    mcf->fault_count = 0;
    mcf->fault_unlogged = 0;

    /*
     * Checkpoints whose syncs stall no writer (cf_checkpoint.h): with the
     * groups on the event loop (compensation_thread_pool off) they would
     * stall it; with the store thread they stall the commands queued
     * behind the commit (idle machine: p99 -17% for creates, -19% for the
     * cycle, same rates; docs/benchmarks.md).  With one transaction per
     * command the extra thread made the p99 worse.
     */
    if (mcf->group_commit) {
        mcf->checkpointer = cf_checkpointer_start(
                                (char *) mcf->store_path.data, errbuf,
                                sizeof(errbuf));
        if (mcf->checkpointer == NULL) {
            ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                          "compensation_store \"%V\": starting the"
                          " checkpointer failed, commits checkpoint: %s",
                          &mcf->store_name, errbuf);

        } else {
            cf_store_set_checkpointer(mcf->store, mcf->checkpointer);
        }
    }

    /* the state read's connection (ngx_http_compensation_state.c) */
    mcf->read_store = cf_store_open((char *) mcf->store_path.data, &opts,
                                    errbuf, sizeof(errbuf));
    if (mcf->read_store == NULL) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "compensation_store \"%V\": opening the state"
                      " read's connection failed, state reads use the"
                      " main one: %s", &mcf->store_name, errbuf);
    }

    mcf->read_release.handler = ngx_http_compensation_read_release;
    mcf->read_release.data = mcf;
    mcf->read_release.log = cycle->log;

    /* the command queue, and the store thread's connection */
    if (ngx_http_compensation_group_init_process(cycle, mcf, &opts)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the operations table, and the scheduler of this worker */
    return ngx_http_compensation_scheduler_init_process(cycle, mcf);
}


/*
 * A database server's store (PostgreSQL): connecting is a network round trip,
 * so it never happens on the event loop.  The executor's thread starts
 * without a connection, and its first job (attach) opens the worker's
 * connections; until its done the worker has no store (the API answers
 * 503, health is DOWN).  A failed attach is logged (once per interval) and
 * tried again each second by the same job, so a worker started while the
 * database was down serves once it is back, by itself.
 */
static ngx_int_t
ngx_http_compensation_server_init(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf)
{
    cf_store_options_t               opts;
    ngx_http_compensation_attach_t  *at;

    ngx_http_compensation_store_options(mcf, &opts);

    /* the command queue and the executor (its thread, no connection yet) */
    if (ngx_http_compensation_group_init_process(cycle, mcf, &opts)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!ngx_http_compensation_executor_threaded(mcf)) {
        /* logged by the executor; the loop must never wait on the server */
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "compensation_store \"%V\": the store thread did not"
                      " start, this worker answers 503", &mcf->store_name);
        mcf->fault_rc = CF_STORE_FAULT;
        ngx_cpystrn(mcf->fault_msg, (u_char *) "the store thread did not"
                    " start", sizeof(mcf->fault_msg));
        return NGX_OK;
    }

    at = ngx_pcalloc(cycle->pool, sizeof(ngx_http_compensation_attach_t));
    if (at == NULL) {
        return NGX_ERROR;
    }

    at->mcf = mcf;
    at->opts = opts;
    at->job.run = ngx_http_compensation_attach_run;
    at->job.done = ngx_http_compensation_attach_done;
    at->job.data = at;
    mcf->attach_job = &at->job;

    ngx_cpystrn(mcf->fault_msg, (u_char *) "connecting to the store",
                sizeof(mcf->fault_msg));

    /* the API's requests of the first milliseconds wait for it */
    ngx_queue_init(&mcf->attach_waiting);
    mcf->attach_pending = 1;

    ngx_http_compensation_executor_post(mcf, &at->job);

    return NGX_OK;
}


/* in the store thread: st is the executor's connection, NULL at first */
static void
ngx_http_compensation_attach_run(ngx_http_compensation_job_t *job,
    cf_store_t *st)
{
    ngx_http_compensation_attach_t     *at = job->data;
    ngx_http_compensation_main_conf_t  *mcf = at->mcf;

    at->errbuf[0] = '\0';
    at->ok = (st != NULL);

    if (st == NULL && at->exec_store == NULL) {
        at->exec_store = cf_store_open((char *) mcf->store_path.data,
                                       &at->opts, at->errbuf,
                                       sizeof(at->errbuf));
        at->ok = (at->exec_store != NULL);
    }
}


/* back on the event loop: the worker's store is there, or it retries */
static void
ngx_http_compensation_attach_done(ngx_http_compensation_job_t *job)
{
    ngx_cycle_t                        *cycle;
    ngx_http_compensation_attach_t     *at = job->data;
    ngx_http_compensation_main_conf_t  *mcf = at->mcf;

    cycle = (ngx_cycle_t *) ngx_cycle;

    if (at->exec_store) {
        ngx_http_compensation_executor_set_store(mcf, at->exec_store);
        at->exec_store = NULL;
    }

    if (!at->ok) {
        ngx_http_compensation_store_unusable(mcf, cycle->log, at->errbuf);

        if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
            ngx_add_timer(&mcf->store_retry,
                          NGX_HTTP_COMPENSATION_STORE_RETRY);
        }

        /* the waiting requests are answered 503 */
        ngx_http_compensation_unpark(mcf);

        return;
    }

    mcf->attached = 1;

    if (mcf->fault_count) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "compensation_store \"%V\" is usable again after %ui"
                      " failed attempts to connect", &mcf->store_name,
                      mcf->fault_count);
    }

    mcf->fault_rc = 0;
    mcf->fault_count = 0;
    mcf->fault_unlogged = 0;

    /* the scheduler of this worker: its dispatch steps are jobs too */
    if (ngx_http_compensation_scheduler_init_process(cycle, mcf) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "compensation_store \"%V\": starting the scheduler"
                      " failed", &mcf->store_name);
    }

    ngx_http_compensation_unpark(mcf);
}


/*
 * A request that needs the store, before the worker's first attach ended
 * (its first milliseconds): it waits for the attach instead of a 503
 * (bounded by the connect timeout, connect_timeout=10 unless the DSN says
 * otherwise).  The reference taken here is the one its resumed handler's
 * finalize drops.
 */
static ngx_int_t
ngx_http_compensation_park(ngx_http_request_t *r,
    ngx_http_compensation_main_conf_t *mcf)
{
    ngx_pool_cleanup_t              *cln;
    ngx_http_compensation_parked_t  *pk;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_compensation_parked_t));
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pk = cln->data;
    pk->r = r;
    pk->queued = 1;
    ngx_queue_insert_tail(&mcf->attach_waiting, &pk->queue);

    cln->handler = ngx_http_compensation_park_cleanup;

    r->main->count++;

    return NGX_DONE;
}


/* the request was freed while it waited (worker shutdown, a timeout) */
static void
ngx_http_compensation_park_cleanup(void *data)
{
    ngx_http_compensation_parked_t  *pk = data;

    if (pk->queued) {
        ngx_queue_remove(&pk->queue);
        pk->queued = 0;
    }
}


/* the first attach ended: the waiting requests run (or answer 503) */
static void
ngx_http_compensation_unpark(ngx_http_compensation_main_conf_t *mcf)
{
    ngx_queue_t                     *q;
    ngx_connection_t                *c;
    ngx_http_request_t              *r;
    ngx_http_compensation_parked_t  *pk;

    if (!mcf->attach_pending) {
        return;
    }

    mcf->attach_pending = 0;

    while (!ngx_queue_empty(&mcf->attach_waiting)) {
        q = ngx_queue_head(&mcf->attach_waiting);
        ngx_queue_remove(q);

        pk = ngx_queue_data(q, ngx_http_compensation_parked_t, queue);
        pk->queued = 0;

        r = pk->r;
        c = r->connection;

        ngx_http_finalize_request(r, ngx_http_compensation_handler(r));
        ngx_http_run_posted_requests(c);
    }
}


/*
 * A worker without its store opens it again each second, by itself: a
 * store that was missing, locked or unreadable at start works once it is
 * back, without a reload.  Failures are logged once per interval.
 */
static void
ngx_http_compensation_store_retry(ngx_event_t *ev)
{
    ngx_int_t                           rc;
    ngx_http_compensation_main_conf_t  *mcf;

    mcf = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit
        || ngx_http_compensation_store_ready(mcf))
    {
        return;
    }

    if (mcf->store_server) {
        /* the attach job's done arms this timer again if it fails */
        ngx_http_compensation_executor_post(mcf, mcf->attach_job);
        return;
    }

    rc = ngx_http_compensation_store_attach((ngx_cycle_t *) ngx_cycle, mcf);

    if (rc == NGX_DECLINED) {
        ngx_add_timer(ev, NGX_HTTP_COMPENSATION_STORE_RETRY);
        return;
    }

    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, ev->log, 0,
                      "compensation_store \"%V\": starting the store's"
                      " consumers failed", &mcf->store_name);
    }
}


/* a failed open: the first one, then one line per interval with a count */
static void
ngx_http_compensation_store_unusable(ngx_http_compensation_main_conf_t *mcf,
    ngx_log_t *log, const char *errbuf)
{
    mcf->fault_count++;
    mcf->fault_rc = CF_STORE_FAULT;
    ngx_cpystrn(mcf->fault_msg, (u_char *) errbuf, sizeof(mcf->fault_msg));

    if (mcf->fault_count > 1
        && ngx_current_msec - mcf->fault_logged
           < NGX_HTTP_COMPENSATION_FAULT_LOG_INTERVAL)
    {
        mcf->fault_unlogged++;
        return;
    }

    if (mcf->fault_count == 1) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "compensation_store \"%V\" is not usable, the API"
                      " answers 503 and the worker retries: %s",
                      &mcf->store_name, errbuf);

    } else {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "compensation_store \"%V\" is still not usable after"
                      " %ui attempts (%ui since the last line): %s",
                      &mcf->store_name, mcf->fault_count,
                      mcf->fault_unlogged + 1, errbuf);
    }

    mcf->fault_logged = ngx_current_msec;
    mcf->fault_unlogged = 0;
}


/*
 * The outcome of one write, on the event loop.  A store failure that
 * outlasts the transaction (disk full, a read-only or unwritable file, an
 * I/O error, a damaged or replaced file) makes the health DOWN until a
 * write commits again.  Identical failures are logged once per interval
 * with their count, not once each.
 */
void
ngx_http_compensation_store_outcome(ngx_http_compensation_main_conf_t *mcf,
    ngx_log_t *log, const cf_exec_output_t *out)
{
    const char  *msg;

    if (out->store_rc == 0) {
        if (out->committed && mcf->fault_rc
            && ngx_http_compensation_store_ready(mcf))
        {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "compensation_store \"%V\": writes work again"
                          " after %ui failed writes", &mcf->store_name,
                          mcf->fault_count);
            mcf->fault_rc = 0;
            mcf->fault_count = 0;
            mcf->fault_unlogged = 0;
        }

        return;
    }

    if (ngx_http_compensation_store_replaced(mcf, log) != NGX_OK) {
        /* logged once as [crit]; the failures are counted */
        mcf->fault_count++;
        return;
    }

    /* a server store's own words: the client's answer is generic */
    msg = out->store_msg[0] ? out->store_msg : out->err.msg;

    if (!(out->store_rc & CF_STORE_FAULT)) {
        /* an error of this write alone: not the store's health */
        ngx_log_error(NGX_LOG_ERR, log, 0, "compensation: a write on \"%s\""
                      " failed: %s", out->aggregate_id, msg);
        return;
    }

    mcf->fault_count++;

    if (mcf->fault_rc == out->store_rc
        && ngx_current_msec - mcf->fault_logged
           < NGX_HTTP_COMPENSATION_FAULT_LOG_INTERVAL)
    {
        mcf->fault_unlogged++;
        return;
    }

    if (mcf->fault_rc == out->store_rc) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "compensation_store \"%V\": writes fail, %ui times"
                      " since the last line: %s", &mcf->store_name,
                      mcf->fault_unlogged + 1, msg);

    } else {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "compensation_store \"%V\": writes fail, health is"
                      " DOWN until one works (repeats are logged once per"
                      " %ui s with a count): %s", &mcf->store_name,
                      (ngx_uint_t) NGX_HTTP_COMPENSATION_FAULT_LOG_INTERVAL
                      / 1000, msg);
    }

    mcf->fault_rc = out->store_rc;
    mcf->fault_by_ping = 0;
    mcf->fault_logged = ngx_current_msec;
    mcf->fault_unlogged = 0;
    ngx_cpystrn(mcf->fault_msg, (u_char *) msg,
                sizeof(mcf->fault_msg));
}


/* NGX_OK while the open store file is the one at the path */
ngx_int_t
ngx_http_compensation_store_replaced(ngx_http_compensation_main_conf_t *mcf,
    ngx_log_t *log)
{
    if (mcf->store == NULL || cf_store_check_file(mcf->store) == 0) {
        return NGX_OK;
    }

    if (!mcf->replaced_logged) {
        mcf->replaced_logged = 1;
        ngx_log_error(NGX_LOG_CRIT, log, 0, "compensation_store \"%V\": %s",
                      &mcf->store_name, cf_store_errmsg(mcf->store));
    }

    return NGX_DECLINED;
}


/* why the store is DOWN for this worker, or NULL when it is UP */
const char *
ngx_http_compensation_store_down(ngx_http_compensation_main_conf_t *mcf,
    ngx_log_t *log)
{
    if (!ngx_http_compensation_store_ready(mcf)) {
        return mcf->fault_rc ? (const char *) mcf->fault_msg
                             : "this worker has no store connection";
    }

    if (ngx_http_compensation_store_replaced(mcf, log) != NGX_OK) {
        return cf_store_errmsg(mcf->store);
    }

    if (mcf->fault_rc) {
        return (const char *) mcf->fault_msg;
    }

    if (mcf->store_server) {
        /* no round trip here: the health route pings in a job first
         * (store_pinged), and the writes report their faults */
        return NULL;
    }

    if (cf_store_ping(mcf->store) != 0) {
        return cf_store_errmsg(mcf->store);
    }

    return NULL;
}


/*
 * A server store's ping, run as a job of the executor on its connection
 * (actuator.c): a failure that outlasts the call (unreachable, out of
 * connections, read-only) makes the health DOWN, a ping that works makes it
 * UP again (the connection was made again).  The writes keep telling too
 * (store_outcome).
 */
void
ngx_http_compensation_store_pinged(ngx_http_compensation_main_conf_t *mcf,
    ngx_log_t *log, int rc, int code, const char *msg)
{
    if (rc == 0) {
        /*
         * A ping (SELECT 1) proves the server reachable, not writable: a
         * read-only server (a standby after a failover) or a full disk
         * stays DOWN until a write works (store_outcome)
         */
        if (mcf->fault_rc && ngx_http_compensation_store_ready(mcf)
            && (mcf->fault_by_ping
                || cf_pg_store_code_unreachable(mcf->fault_rc)))
        {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "compensation_store \"%V\" answers again after %ui"
                          " failures", &mcf->store_name, mcf->fault_count);
            mcf->fault_rc = 0;
            mcf->fault_count = 0;
            mcf->fault_unlogged = 0;
        }

        return;
    }

    if (!(code & CF_STORE_FAULT)) {
        code = CF_STORE_FAULT;
    }

    mcf->fault_count++;

    if (mcf->fault_rc != code
        || ngx_current_msec - mcf->fault_logged
           >= NGX_HTTP_COMPENSATION_FAULT_LOG_INTERVAL)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "compensation_store \"%V\": the health check failed,"
                      " health is DOWN until the store answers: %s",
                      &mcf->store_name, msg);
        mcf->fault_logged = ngx_current_msec;
        mcf->fault_unlogged = 0;

    } else {
        mcf->fault_unlogged++;
    }

    mcf->fault_rc = code;
    mcf->fault_by_ping = 1;
    ngx_cpystrn(mcf->fault_msg, (u_char *) msg, sizeof(mcf->fault_msg));
}


/*
 * compensation_thread_pool name | off: where a worker's store work that can
 * wait runs (ngx_http_compensation_executor.c).  Unset: a thread of the
 * module per worker; a name: a thread of that nginx pool (declared with
 * "thread_pool", or "default"); off: the event loop.
 */
static char *
ngx_http_compensation_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_compensation_main_conf_t  *mcf = conf;

    ngx_str_t  *value;

    if (mcf->thread_pool_set) {
        return "is duplicate";
    }

    mcf->thread_pool_set = 1;

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        mcf->thread_off = 1;
        return NGX_CONF_OK;
    }

#if (NGX_THREADS)

    mcf->thread_pool = ngx_thread_pool_add(cf, &value[1]);
    if (mcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

#else

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"compensation_thread_pool\" needs nginx built"
                       " with threads (--with-threads)");
    return NGX_CONF_ERROR;

#endif
}


/* the master, or nginx without one (master_process off), at exit */
static void
ngx_http_compensation_exit_master(ngx_cycle_t *cycle)
{
    ngx_http_compensation_text_buffer_free();
    cf_tz_cache_free();
}


static void
ngx_http_compensation_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_compensation_main_conf_t  *mcf;

    ngx_http_compensation_text_buffer_free();
    cf_tz_cache_free();

    mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                              ngx_http_compensation_module);
    if (mcf == NULL) {
        return;
    }

    ngx_http_compensation_id_exit_process(cycle, mcf);
    /* the thread first: the scheduler's statements are on its connection */
    ngx_http_compensation_executor_stop(mcf);
    ngx_http_compensation_scheduler_exit_process(cycle, mcf);
    ngx_http_compensation_group_exit_process(mcf);

    if (mcf->attach_job) {
        /* an attach whose done never came (the thread is joined) */
        ngx_http_compensation_attach_t  *at = mcf->attach_job->data;

        cf_store_close(at->exec_store);
        at->exec_store = NULL;
        mcf->attach_job = NULL;
    }

    if (mcf->read_store) {
        if (mcf->read_release.posted) {
            ngx_delete_posted_event(&mcf->read_release);
        }

        cf_store_read_release(mcf->read_store);
        cf_store_close(mcf->read_store);
        mcf->read_store = NULL;
    }

    if (mcf->store) {
        cf_store_close(mcf->store);
        mcf->store = NULL;
    }

    /* last: a sync it still owes (a failed one) goes before the exit */
    cf_checkpointer_stop(mcf->checkpointer);
    mcf->checkpointer = NULL;
}


ngx_http_compensation_main_conf_t *
ngx_http_compensation_store_conf(ngx_http_request_t *r)
{
    return ngx_http_get_module_main_conf(r, ngx_http_compensation_module);
}


static ngx_int_t
ngx_http_compensation_handler(ngx_http_request_t *r)
{
    ngx_int_t                           rc;
    ngx_http_compensation_ctx_t        *ctx;
    ngx_http_compensation_main_conf_t  *mcf;

    /* the access phase may have routed the request already (auth.c) */

    ctx = ngx_http_compensation_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->route == NULL) {
        rc = ngx_http_compensation_route(r, ctx);

        if (rc != NGX_OK || ctx->route == NULL) {
            /* no route: the router has answered 404 or 405 itself */
            return rc;
        }
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    /* health tells the store's state and the metrics count executions:
     * they wait for the first attach too */
    if (!ngx_http_compensation_store_ready(mcf) && mcf->attach_pending
        && (!ctx->route->no_store
            || ctx->route->handler == ngx_http_compensation_health_handler
            || ctx->route->handler
               == ngx_http_compensation_prometheus_handler))
    {
        return ngx_http_compensation_park(r, mcf);
    }

    if (!ngx_http_compensation_store_ready(mcf) && !ctx->route->no_store) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_compensation_send_error_code(r,
                   NGX_HTTP_SERVICE_UNAVAILABLE, CF_E_SERVICE_UNAVAILABLE,
                   "The compensation store is not available.");
    }

    return ctx->route->handler(r);
}


ngx_int_t
ngx_http_compensation_check_id(ngx_http_request_t *r, ngx_str_t *id)
{
    return cf_route_id_valid((char *) id->data, id->len, CF_MAX_ID_LEN)
           ? NGX_OK : NGX_DECLINED;
}
