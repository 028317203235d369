
/*
 * ngx_compensation: the dispatch's HTTP routes: the retry action (seed 004),
 * the operations listing and Cancel.  The listing reads on the event loop (a
 * WAL reader never waits for the writer); the retry action's and Cancel's
 * writes are jobs of the store executor (ngx_http_compensation_rjob_t).
 *
 * Dependencies: ngx_http_compensation_operations.h,
 * ngx_http_compensation_executor.h, ngx_http_compensation_request.h,
 * ngx_http_compensation_response.h, cf_dispatch.h.
 */


#include "ngx_http_compensation_operations.h"
#include "ngx_http_compensation_executor.h"
#include "ngx_http_compensation_read.h"
#include "ngx_http_compensation_request.h"
#include "ngx_http_compensation_response.h"
#include "cf_dispatch.h"


#define NGX_HTTP_COMPENSATION_OPS_LIMIT    100


/*
 * the retry action, in the store executor: its preconditions (a read of
 * the aggregate, off the event loop as the write is), then its write
 */
typedef struct {
    ngx_http_compensation_rjob_t           rj;
    int64_t                                now;
    ngx_uint_t                             refused;  /* a precondition's
                                                        answer; 0: none */
    int                                    rc;
    int64_t                                job_id;
    char                                   op_id[CF_UUID_LEN + 1];
    json_t                                *doc;      /* the answer so far */
    char                                  *id;       /* after the struct */
} ngx_http_compensation_retry_job_t;


/* Cancel's write, in the store executor */
typedef struct {
    ngx_http_compensation_rjob_t           rj;
    int64_t                                now;
    int                                    rc;
    int                                    force;
    char                                   op_id[CF_UUID_LEN + 1];
    char                                   state[16];
} ngx_http_compensation_cancel_job_t;


static void ngx_http_compensation_retry_work(
    ngx_http_compensation_rjob_t *rj, cf_store_t *st);
static ngx_int_t ngx_http_compensation_retry_reply(
    ngx_http_compensation_rjob_t *rj);
static void ngx_http_compensation_retry_free(
    ngx_http_compensation_rjob_t *rj);
static void ngx_http_compensation_cancel_work(
    ngx_http_compensation_rjob_t *rj, cf_store_t *st);
static ngx_int_t ngx_http_compensation_cancel_reply(
    ngx_http_compensation_rjob_t *rj);
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
    ngx_int_t                           rc;
    char                               *id;
    size_t                              len;
    json_t                             *body, *action;
    int64_t                             now;
    ngx_str_t                           raw;
    ngx_http_compensation_ctx_t        *ctx;
    ngx_http_compensation_retry_job_t  *rt;

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);

    if (ngx_http_compensation_check_id(r, &ctx->vars[0]) != NGX_OK) {
        return ngx_http_compensation_action_error(r, NGX_HTTP_BAD_REQUEST,
                   "CF.00000400", "The execution id is not valid.");
    }

    rc = ngx_http_compensation_read_body(r, &raw);

    /* a failed read (an allocation, a buffered body's file) is a 500 */
    if (rc == NGX_HTTP_INTERNAL_SERVER_ERROR || rc == NGX_ERROR) {
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

    now = ngx_http_compensation_now_ms();

    /* the operation's write: the store executor's work */
    len = ngx_strlen(id);

    rt = ngx_http_compensation_rjob_alloc(r,
             sizeof(ngx_http_compensation_retry_job_t) + len + 1);
    if (rt == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rt->id = (char *) (rt + 1);
    ngx_memcpy(rt->id, id, len + 1);
    rt->now = now;

    rt->rj.work = ngx_http_compensation_retry_work;
    rt->rj.reply = ngx_http_compensation_retry_reply;
    rt->rj.free = ngx_http_compensation_retry_free;

    return ngx_http_compensation_rjob_post(r, &rt->rj);
}


/* the answers of the retry's preconditions, by rt->refused */
#define NGX_HTTP_COMPENSATION_RETRY_NOMEM    1
#define NGX_HTTP_COMPENSATION_RETRY_STORE    2
#define NGX_HTTP_COMPENSATION_RETRY_MISSING  3
#define NGX_HTTP_COMPENSATION_RETRY_DELETED  4
#define NGX_HTTP_COMPENSATION_RETRY_STATE    5
#define NGX_HTTP_COMPENSATION_RETRY_DOC      6


static void
ngx_http_compensation_retry_work(ngx_http_compensation_rjob_t *rj,
    cf_store_t *st)
{
    const char                         *name;
    cf_error_t                          err;
    cf_aggregate_t                      agg;
    ngx_http_compensation_retry_job_t  *rt;

    rt = (ngx_http_compensation_retry_job_t *) rj;

    /* the same preconditions as PrepareCompensation (spec 2.2) */

    cf_error_init(&err);

    if (cf_aggregate_init(&agg, rt->id) != 0) {
        rt->refused = NGX_HTTP_COMPENSATION_RETRY_NOMEM;
        return;
    }

    if (cf_store_load(st, &agg, &err) != 0) {
        cf_aggregate_free(&agg);
        cf_error_free(&err);
        rt->refused = NGX_HTTP_COMPENSATION_RETRY_STORE;
        return;
    }

    if (agg.version == 0) {
        rt->refused = NGX_HTTP_COMPENSATION_RETRY_MISSING;

    } else if (agg.deleted) {
        rt->refused = NGX_HTTP_COMPENSATION_RETRY_DELETED;

    } else if (!cf_state_can_retry(&agg.state, rt->now)) {
        rt->refused = NGX_HTTP_COMPENSATION_RETRY_STATE;

    } else {
        name = json_string_value(json_object_get(agg.state.function,
                                                 "name"));

        rt->doc = json_pack("{s:s, s:s, s:I, s:s}", "id", rt->id, "name",
                            name ? name : "", "jobId", (json_int_t) 0,
                            "operationId", "");

        if (rt->doc == NULL) {
            rt->refused = NGX_HTTP_COMPENSATION_RETRY_DOC;
        }
    }

    cf_aggregate_free(&agg);

    if (rt->refused) {
        return;
    }

    rt->rc = cf_dispatch_enqueue(st, rt->id, rt->now,
                                 &rt->job_id, rt->op_id);
}


static ngx_int_t
ngx_http_compensation_retry_reply(ngx_http_compensation_rjob_t *rj)
{
    json_t                             *j;
    ngx_http_request_t                 *r = rj->r;
    ngx_http_compensation_retry_job_t  *rt;

    rt = (ngx_http_compensation_retry_job_t *) rj;

    switch (rt->refused) {

    case 0:
        break;

    case NGX_HTTP_COMPENSATION_RETRY_NOMEM:
        return ngx_http_compensation_action_error(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, "CF.00000500",
                   "out of memory");

    case NGX_HTTP_COMPENSATION_RETRY_STORE:
        return ngx_http_compensation_action_error(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, "CF.00000500",
                   "The store failed.");

    case NGX_HTTP_COMPENSATION_RETRY_MISSING:
        return ngx_http_compensation_action_error(r, NGX_HTTP_BAD_REQUEST,
                   "CF.00000404", "No execution has this id.");

    case NGX_HTTP_COMPENSATION_RETRY_DELETED:
        return ngx_http_compensation_action_error(r, NGX_HTTP_BAD_REQUEST,
                   "CF.00000410", "The execution is deleted.");

    case NGX_HTTP_COMPENSATION_RETRY_STATE:
        return ngx_http_compensation_action_error(r, NGX_HTTP_BAD_REQUEST,
                   CF_E_ILLEGAL_STATE, "ExecutionFailed can not retry.");

    default: /* NGX_HTTP_COMPENSATION_RETRY_DOC */
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rt->rc == CF_DISPATCH_BUSY) {
        return ngx_http_compensation_action_error(r, NGX_HTTP_BAD_REQUEST,
                   CF_E_ILLEGAL_STATE,
                   "The execution is already being dispatched.");
    }

    if (rt->rc != 0) {
        return ngx_http_compensation_action_error(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, "CF.00000500",
                   "The store failed.");
    }

    j = rt->doc;
    rt->doc = NULL;

    json_object_set_new(j, "jobId", json_integer(rt->job_id));
    json_object_set_new(j, "operationId", json_string(rt->op_id));

    return ngx_http_compensation_sched_send(r, NGX_HTTP_OK, CF_OK, j);
}


static void
ngx_http_compensation_retry_free(ngx_http_compensation_rjob_t *rj)
{
    json_decref(((ngx_http_compensation_retry_job_t *) rj)->doc);
}


/* GET the operations of an execution: a read job (read.h) */
typedef struct {
    ngx_http_compensation_read_t           rd;
    char                                  *id;       /* after the struct */
} ngx_http_compensation_ops_read_t;


static void ngx_http_compensation_operations_work(
    ngx_http_compensation_read_t *rd, cf_store_t *st);


ngx_int_t
ngx_http_compensation_operations_handler(ngx_http_request_t *r)
{
    ngx_str_t                          *v;
    ngx_http_compensation_ctx_t        *ctx;
    ngx_http_compensation_ops_read_t   *or;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    v = &ctx->vars[0];

    if (ngx_http_compensation_check_id(r, v) != NGX_OK) {
        return ngx_http_compensation_action_error(r, NGX_HTTP_BAD_REQUEST,
                   "CF.00000400", "The execution id is not valid.");
    }

    or = ngx_http_compensation_read_alloc(r,
             sizeof(ngx_http_compensation_ops_read_t) + v->len + 1);
    if (or == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    or->id = (char *) (or + 1);
    *ngx_cpymem(or->id, v->data, v->len) = '\0';
    or->rd.work = ngx_http_compensation_operations_work;

    return ngx_http_compensation_read_post(r, &or->rd);
}


static void
ngx_http_compensation_operations_work(ngx_http_compensation_read_t *rd,
    cf_store_t *st)
{
    size_t                             n, i;
    json_t                            *a, *o;
    cf_operation_t                    *ops;
    ngx_http_compensation_ops_read_t  *or;

    or = (ngx_http_compensation_ops_read_t *) rd;

    if (cf_dispatch_list(st, or->id, NGX_HTTP_COMPENSATION_OPS_LIMIT, &ops,
                         &n)
        != 0)
    {
        /* as action_error */
        ngx_http_compensation_answer_json(rd,
            NGX_HTTP_INTERNAL_SERVER_ERROR, "CF.00000500",
            json_pack("{s:s, s:s}", "error_code", "CF.00000500",
                      "error_msg", "The store failed."));
        return;
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

    ngx_http_compensation_answer_json(rd, NGX_HTTP_OK, CF_OK, a);
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
    int                                  force;
    char                                 op_id[CF_UUID_LEN + 1];
    ngx_str_t                            v;
    int64_t                              n;
    ngx_http_compensation_cancel_job_t  *cj;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

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

    /* the operation's write: the store executor's work */
    cj = ngx_http_compensation_rjob_alloc(r,
             sizeof(ngx_http_compensation_cancel_job_t));
    if (cj == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(cj->op_id, op_id, CF_UUID_LEN + 1);
    cj->force = force;
    cj->now = ngx_http_compensation_now_ms();

    cj->rj.work = ngx_http_compensation_cancel_work;
    cj->rj.reply = ngx_http_compensation_cancel_reply;

    return ngx_http_compensation_rjob_post(r, &cj->rj);
}


static void
ngx_http_compensation_cancel_work(ngx_http_compensation_rjob_t *rj,
    cf_store_t *st)
{
    ngx_http_compensation_cancel_job_t  *cj;

    cj = (ngx_http_compensation_cancel_job_t *) rj;

    cj->rc = cf_dispatch_cancel(st, cj->op_id, cj->force,
                                cj->now, cj->state);
}


static ngx_int_t
ngx_http_compensation_cancel_reply(ngx_http_compensation_rjob_t *rj)
{
    int                                  force;
    ngx_http_request_t                  *r = rj->r;
    ngx_http_compensation_cancel_job_t  *cj;

    cj = (ngx_http_compensation_cancel_job_t *) rj;
    force = cj->force;

    switch (cj->rc) {

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
