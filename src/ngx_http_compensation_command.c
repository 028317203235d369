
/*
 * ngx_compensation: the command routes (spec 2, 3.2-3.5).
 *
 * Takes the request's JSON body (ngx_http_compensation_request.c) and its
 * command headers (ngx_http_compensation_command_headers.c), binds the body
 * to a command and hands it to the group glue (ngx_http_compensation_
 * group.c), which runs it against the store; once its transaction is over,
 * the reply answers with a CommandResult (ngx_http_compensation_result.c).
 * Everything up to the SNAPSHOT stage is reached when the transaction
 * commits, so the answer comes as soon as the commit returns.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_command.h"
#include "ngx_http_compensation_command_headers.h"
#include "ngx_http_compensation_group.h"
#include "ngx_http_compensation_notify.h"
#include "ngx_http_compensation_request.h"
#include "ngx_http_compensation_response.h"
#include "ngx_http_compensation_result.h"


/*
 * A command between its body and its reply.  Allocated with ngx_alloc, not
 * from r->pool: a request can be freed while its command is queued or in the
 * store thread (worker_shutdown_timeout, a reset HTTP/2 stream), so what the
 * store reads (the input, its strings, the stream header) is owned here.
 */
typedef struct {
    ngx_http_compensation_pending_t       pending;  /* first: the queue's */
    cf_command_t                          cmd;
    ngx_http_compensation_cmd_headers_t   ch;
    int64_t                               now;
    json_t                               *header;   /* a reference */
    char                                 *aggregate_id;   /* copies */
    char                                 *request_id;
    char                                 *owner_id;
} ngx_http_compensation_cmd_t;


static ngx_int_t ngx_http_compensation_command_run(ngx_http_request_t *r);
static ngx_int_t ngx_http_compensation_command_reply(
    ngx_http_compensation_pending_t *pending);
static ngx_http_compensation_cmd_t *ngx_http_compensation_cmd_create(
    ngx_http_request_t *r, ngx_http_compensation_cmd_headers_t *ch);
static void ngx_http_compensation_cmd_cleanup(void *data);
static void ngx_http_compensation_cmd_free(ngx_http_compensation_cmd_t *pc);
static ngx_int_t ngx_http_compensation_facade_id(ngx_http_request_t *r,
    json_t *body, char **id, cf_error_t *err);


ngx_int_t
ngx_http_compensation_command_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_uint_t                    sse;
    ngx_http_compensation_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);

    if (ngx_http_compensation_accepts(r, 1, &sse) != NGX_OK) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_compensation_not_acceptable(r, 1);
    }

    ctx->sse = sse;

    return ngx_http_compensation_request_body(r,
                                            ngx_http_compensation_command_run);
}


/* NGX_DONE: queued in the group commit, finalized on its reply */
static ngx_int_t
ngx_http_compensation_command_run(ngx_http_request_t *r)
{
    json_t                              *body;
    ngx_int_t                            rc;
    cf_error_t                           err;
    cf_command_t                         cmd;
    cf_exec_input_t                     *in;
    ngx_http_compensation_cmd_t         *pc;
    ngx_http_compensation_ctx_t         *ctx;
    ngx_http_compensation_main_conf_t   *mcf;
    ngx_http_compensation_cmd_headers_t  ch;

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    cf_error_init(&err);

    if (ctx->aggregate_id.len
        && ngx_http_compensation_path_id(r, &ctx->aggregate_id, NULL, &rc)
           != NGX_OK)
    {
        return rc;
    }

    if (ngx_http_compensation_read_json(r, &body, &rc) != NGX_OK) {
        return rc;
    }

    ngx_memzero(&ch, sizeof(ch));

    if (ngx_http_compensation_command_headers(r, &ch, &err) != NGX_OK) {
        if (cf_error_is_ok(&err)) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_compensation_send_error(r, &err);
        cf_error_free(&err);
        return rc;
    }

    if (ctx->facade && ch.aggregate_id == NULL) {
        rc = ngx_http_compensation_facade_id(r, body, &ch.aggregate_id,
                                             &err);
        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_DECLINED) {
            rc = ngx_http_compensation_send_error(r, &err);
            cf_error_free(&err);
            return rc;
        }
    }

    if (cf_command_bind(ctx->command, body, &cmd, &err) != 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "compensation: %s command rejected: %s",
                      cf_command_info(ctx->command)->name, err.msg);
        rc = ngx_http_compensation_send_error(r, &err);
        cf_error_free(&err);
        return rc;
    }

    if (ctx->aggregate_id.len) {
        /* the path's id wins over Command-Aggregate-Id, as in the original */
        ch.aggregate_id = ngx_http_compensation_strdup(r->pool,
                                                       &ctx->aggregate_id);
        if (ch.aggregate_id == NULL) {
            cf_command_free(&cmd);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    pc = ngx_http_compensation_cmd_create(r, &ch);
    if (pc == NULL) {
        cf_command_free(&cmd);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pc->cmd = cmd;
    pc->now = ngx_http_compensation_now_ms();

    in = &pc->pending.exec.in;
    in->command = &pc->cmd;
    in->aggregate_id = pc->aggregate_id;
    in->request_id = pc->request_id;
    in->owner_id = pc->owner_id;
    in->expected_version = pc->ch.expected_version;
    in->header = pc->header;
    in->now = pc->now;
    in->default_spec = &mcf->default_spec;
    in->want_state = ngx_http_compensation_notify_wanted(
                         ngx_http_get_module_loc_conf(r,
                                             ngx_http_compensation_module),
                         pc->cmd.type);

    /* the lock wait is bounded by the client's wait timeout */
    pc->pending.busy = ngx_min(mcf->busy_timeout, pc->ch.wait_timeout);

    if (ngx_http_compensation_group_queued(mcf)) {
        pc->pending.queued = 1;
        ngx_http_compensation_group_add(mcf, &pc->pending);
        return NGX_DONE;
    }

    ngx_http_compensation_group_run(mcf, &pc->pending);

    return ngx_http_compensation_command_reply(&pc->pending);
}


/*
 * The command and what it owns, freed with the request's pool; a command
 * still queued or in the store thread is only marked orphan (its request is
 * gone): the group frees it through reply once it has run.
 */
static ngx_http_compensation_cmd_t *
ngx_http_compensation_cmd_create(ngx_http_request_t *r,
    ngx_http_compensation_cmd_headers_t *ch)
{
    u_char                       *p;
    size_t                        a, q, o;
    ngx_pool_cleanup_t           *cln;
    ngx_http_compensation_cmd_t  *pc;

    a = ch->aggregate_id ? ngx_strlen(ch->aggregate_id) + 1 : 0;
    q = ch->request_id ? ngx_strlen(ch->request_id) + 1 : 0;
    o = ch->owner_id ? ngx_strlen(ch->owner_id) + 1 : 0;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    p = ngx_alloc(sizeof(ngx_http_compensation_cmd_t) + a + q + o,
                  r->connection->log);
    if (p == NULL) {
        return NULL;
    }

    pc = (ngx_http_compensation_cmd_t *) p;
    ngx_memzero(pc, sizeof(ngx_http_compensation_cmd_t));
    p += sizeof(ngx_http_compensation_cmd_t);

    if (a) {
        pc->aggregate_id = (char *) p;
        p = ngx_cpymem(p, ch->aggregate_id, a);
    }

    if (q) {
        pc->request_id = (char *) p;
        p = ngx_cpymem(p, ch->request_id, q);
    }

    if (o) {
        pc->owner_id = (char *) p;
        ngx_memcpy(p, ch->owner_id, o);
    }

    pc->header = json_incref(ch->header);
    pc->ch = *ch;
    pc->pending.r = r;
    pc->pending.reply = ngx_http_compensation_command_reply;

    cln->handler = ngx_http_compensation_cmd_cleanup;
    cln->data = pc;

    return pc;
}


static void
ngx_http_compensation_cmd_cleanup(void *data)
{
    ngx_http_compensation_cmd_t  *pc = data;

    if (pc->pending.queued) {
        pc->pending.r = NULL;
        return;
    }

    ngx_http_compensation_cmd_free(pc);
}


static void
ngx_http_compensation_cmd_free(ngx_http_compensation_cmd_t *pc)
{
    json_decref(pc->header);
    ngx_free(pc);
}


/*
 * Answers a command once its transaction is over; frees an orphan command
 * (its request is gone: the result had no one to go to).
 */
static ngx_int_t
ngx_http_compensation_command_reply(ngx_http_compensation_pending_t *pending)
{
    ngx_int_t                     rc;
    cf_exec_output_t             *out;
    ngx_http_request_t           *r;
    ngx_http_compensation_cmd_t  *pc;

    pc = (ngx_http_compensation_cmd_t *) pending;   /* its first member */
    r = pending->r;
    out = &pending->exec.out;

    pending->queued = 0;

    ngx_http_compensation_store_outcome(
        ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                            ngx_http_compensation_module),
        r ? r->connection->log : ngx_cycle->log, out);

    if (r == NULL) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "compensation: %s on \"%s\" ran after its request"
                      " was closed: %s", cf_command_info(pc->cmd.type)->name,
                      out->aggregate_id, out->err.code);
        cf_command_free(&pc->cmd);
        cf_exec_output_free(out);
        ngx_http_compensation_cmd_free(pc);

        return NGX_DONE;
    }

    if (pending->exec.rc != 0) {
        /* a store failure was logged (once per interval) by store_outcome */
        if (out->store_rc == 0) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "compensation: %s on \"%s\" failed: %s",
                          cf_command_info(pc->cmd.type)->name,
                          out->aggregate_id, out->err.msg);
        }

        cf_command_free(&pc->cmd);
        cf_exec_output_free(out);

        return ngx_http_compensation_send_error_code(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, CF_E_INTERNAL,
                   "Unexpected server error");
    }

    if (!cf_error_is_ok(&out->err)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "compensation: %s on \"%s\": %s: %s",
                      cf_command_info(pc->cmd.type)->name, out->aggregate_id,
                      out->err.code, out->err.msg);
    }

    if (cf_error_is_ok(&out->err) && out->committed && !out->at_gateway) {
        /* compensation_notify: posted now, sent after this reply */
        ngx_http_compensation_notify_command(r, pc->cmd.type,
                                             out->aggregate_id, out->state,
                                             NULL);
    }

    if (ngx_strcmp(out->err.code, CF_E_REQUEST_TIMEOUT) == 0
        || ngx_strcmp(out->err.code, CF_E_SERVICE_UNAVAILABLE) == 0)
    {
        /* a wait timeout answers a plain ErrorInfo (spec 3.3), and so
         * does a store that refuses writes (503) */
        rc = ngx_http_compensation_send_error(r, &out->err);

    } else {
        rc = ngx_http_compensation_result_send(r, &pc->ch, pc->cmd.type,
                                               out, pc->now);
    }

    cf_command_free(&pc->cmd);
    cf_exec_output_free(out);

    return rc;
}


/*
 * The facade (POST /wow/command/send) has no path: without
 * Command-Aggregate-Id the aggregate id is the body's own "id" (spec 6.2).
 * Only a create may go without one (a new id is generated).  NGX_OK,
 * NGX_DECLINED (err set) or NGX_ERROR.
 */
static ngx_int_t
ngx_http_compensation_facade_id(ngx_http_request_t *r, json_t *body,
    char **id, cf_error_t *err)
{
    json_t                       *v;
    ngx_str_t                     s;
    ngx_http_compensation_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);

    v = json_is_object(body) ? json_object_get(body, "id") : NULL;

    if (v && !json_is_null(v)) {
        s.data = (u_char *) json_string_value(v);
        s.len = json_is_string(v) ? json_string_length(v) : 0;

        if (s.data == NULL
            || ngx_http_compensation_check_id(r, &s) != NGX_OK)
        {
            cf_error_add_binding(err, "id", "must be a string of 1 to %d"
                                 " characters without control characters",
                                 CF_MAX_ID_LEN);
            return NGX_DECLINED;
        }

        *id = ngx_http_compensation_strdup(r->pool, &s);
        if (*id == NULL) {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (!cf_command_info(ctx->command)->is_create) {
        cf_error_set(err, CF_E_ILLEGAL_ARGUMENT,
                     "%s needs an aggregate id: the Command-Aggregate-Id"
                     " header or the command's id.",
                     cf_command_info(ctx->command)->name);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


