
/*
 * ngx_compensation: the command routes (spec 2, 3.2-3.5).
 *
 * Reads and checks the request (Accept, body size, content type, JSON,
 * command headers), binds the body to a command, runs it through the command
 * pipeline (cf_service) and answers with a CommandResult, as JSON or as an
 * event stream.  Everything up to the SNAPSHOT stage is reached when the
 * transaction commits, so the answer comes as soon as the commit returns.
 */


#include "ngx_http_compensation_module.h"


typedef enum {
    NGX_HTTP_COMPENSATION_SENT = 0,
    NGX_HTTP_COMPENSATION_PROCESSED,
    NGX_HTTP_COMPENSATION_SNAPSHOT,
    NGX_HTTP_COMPENSATION_PROJECTED,
    NGX_HTTP_COMPENSATION_EVENT_HANDLED,
    NGX_HTTP_COMPENSATION_SAGA_HANDLED
} ngx_http_compensation_stage_e;


static const char  *ngx_http_compensation_stages[] = {
    "SENT", "PROCESSED", "SNAPSHOT", "PROJECTED", "EVENT_HANDLED",
    "SAGA_HANDLED", NULL
};


#define NGX_HTTP_COMPENSATION_WAIT_TIMEOUT  30000


/* the command headers of spec 3.2, parsed */
typedef struct {
    ngx_uint_t          stage;
    ngx_msec_t          wait_timeout;
    int64_t             expected_version;
    char               *aggregate_id;
    char               *request_id;
    char               *owner_id;
    json_t             *header;        /* the event stream's header */
} ngx_http_compensation_cmd_headers_t;


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


static void ngx_http_compensation_command_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_compensation_command_reply(
    ngx_http_compensation_pending_t *pending);
static ngx_http_compensation_cmd_t *ngx_http_compensation_cmd_create(
    ngx_http_request_t *r, ngx_http_compensation_cmd_headers_t *ch);
static void ngx_http_compensation_cmd_cleanup(void *data);
static void ngx_http_compensation_cmd_free(ngx_http_compensation_cmd_t *pc);

static ngx_int_t ngx_http_compensation_command_run(ngx_http_request_t *r,
    ngx_uint_t *queued);
/* a FunctionInfo of a CommandResult (spec 3.3) */
typedef struct {
    const char  *kind;
    const char  *context;
    const char  *processor;
    const char  *name;
} ngx_http_compensation_fn_t;

/* one signal of the wait: a CommandResult to write */
typedef struct {
    const char                        *stage;
    const cf_exec_output_t            *out;
    ngx_http_compensation_fn_t         fn;
    int64_t                            version;
} ngx_http_compensation_signal_t;


static size_t ngx_http_compensation_max_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_compensation_facade_id(ngx_http_request_t *r,
    json_t *body, char **id, cf_error_t *err);
static ngx_int_t ngx_http_compensation_parse_headers(ngx_http_request_t *r,
    ngx_http_compensation_cmd_headers_t *ch, cf_error_t *err);
static void ngx_http_compensation_result(cf_buf_t *b, const char *id,
    const cf_exec_output_t *out, const char *stage,
    const ngx_http_compensation_fn_t *fn, int64_t version, int64_t now);
static ngx_int_t ngx_http_compensation_respond(ngx_http_request_t *r,
    ngx_http_compensation_cmd_headers_t *ch, const cf_command_t *cmd,
    cf_exec_output_t *out, int64_t now);


ngx_int_t
ngx_http_compensation_command_handler(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_uint_t                         sse;
    ngx_http_compensation_ctx_t       *ctx;
    ngx_http_compensation_loc_conf_t  *lcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_compensation_module);

    if (ngx_http_compensation_accepts(r, 1, &sse) != NGX_OK) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_compensation_send_error_code(r,
                   NGX_HTTP_COMPENSATION_NOT_ACCEPTABLE, "NotAcceptable",
                   "Acceptable media types are application/json and"
                   " text/event-stream.");
    }

    ctx->sse = sse;

    if (r->headers_in.content_length_n > (off_t) lcf->max_body_size) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "compensation: request body of %O bytes is larger"
                      " than compensation_max_body_size %uz",
                      r->headers_in.content_length_n, lcf->max_body_size);

        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        r->keepalive = 0;

        return ngx_http_compensation_send_error_code(r,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "PayloadTooLarge",
                   "The request body is larger than %uz bytes.",
                   lcf->max_body_size);
    }

    rc = ngx_http_read_client_request_body(r,
                                        ngx_http_compensation_command_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_compensation_command_body(ngx_http_request_t *r)
{
    ngx_int_t   rc;
    ngx_uint_t  queued;

    queued = 0;

    rc = ngx_http_compensation_command_run(r, &queued);

    if (queued) {
        return;     /* in the group commit: finalized on its reply */
    }

    ngx_http_finalize_request(r, rc);
}


static ngx_int_t
ngx_http_compensation_command_run(ngx_http_request_t *r, ngx_uint_t *queued)
{
    u_char                              *p;
    json_t                              *body;
    ngx_int_t                            rc;
    ngx_str_t                            raw;
    cf_error_t                           err;
    cf_command_t                         cmd;
    json_error_t                         jerr;
    cf_exec_input_t                     *in;
    ngx_http_compensation_cmd_t         *pc;
    ngx_http_compensation_ctx_t         *ctx;
    ngx_http_compensation_main_conf_t   *mcf;
    ngx_http_compensation_cmd_headers_t  ch;

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    cf_error_init(&err);

    if (ctx->aggregate_id.len
        && ngx_http_compensation_check_id(r, &ctx->aggregate_id) != NGX_OK)
    {
        return ngx_http_compensation_send_error_code(r,
                   NGX_HTTP_BAD_REQUEST, CF_E_ILLEGAL_ARGUMENT,
                   "The aggregate id in the path must be 1 to %d"
                   " characters without control characters.",
                   CF_MAX_ID_LEN);
    }

    rc = ngx_http_compensation_read_body(r, &raw);

    if (rc == NGX_DECLINED) {
        r->keepalive = 0;

        return ngx_http_compensation_send_error_code(r,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "PayloadTooLarge",
                   "The request body is larger than %uz bytes.",
                   ngx_http_compensation_max_body(r));
    }

    if (rc != NGX_OK) {
        return rc;
    }

    /* a body of only whitespace is an empty body */
    for (p = raw.data; p < raw.data + raw.len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            break;
        }
    }

    body = NULL;

    if (p < raw.data + raw.len) {

        if (ngx_http_compensation_json_content_type(r) != NGX_OK) {
            return ngx_http_compensation_send_error_code(r,
                       NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                       "UnsupportedMediaType",
                       "Content type must be application/json.");
        }

        body = cf_json_loadb((char *) raw.data, raw.len, JSON_REJECT_DUPLICATES,
                          &jerr);

        if (body == NULL) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "compensation: malformed JSON body: %s at %d",
                          jerr.text, jerr.position);

            cf_error_set(&err, CF_E_ILLEGAL_ARGUMENT,
                         "Failed to read HTTP message: %s", jerr.text);
            cf_error_add_binding(&err, "body", "%s (line %d, column %d)",
                                 jerr.text, jerr.line, jerr.column);
            rc = ngx_http_compensation_send_error(r, &err);
            cf_error_free(&err);
            return rc;
        }

        if (ngx_http_compensation_json_cleanup(r->pool, body) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_memzero(&ch, sizeof(ch));

    if (ngx_http_compensation_parse_headers(r, &ch, &err) != NGX_OK) {
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

    /* the lock wait is bounded by the client's wait timeout */
    pc->pending.busy = ngx_min(mcf->busy_timeout, pc->ch.wait_timeout);

    if (ngx_http_compensation_group_queued(mcf)) {
        *queued = 1;
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
        cf_error_free(&out->err);
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
        cf_error_free(&out->err);

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
                                             out->aggregate_id, NULL);
    }

    if (ngx_strcmp(out->err.code, CF_E_REQUEST_TIMEOUT) == 0
        || ngx_strcmp(out->err.code, CF_E_SERVICE_UNAVAILABLE) == 0)
    {
        /* a wait timeout answers a plain ErrorInfo (spec 3.3), and so
         * does a store that refuses writes (503) */
        rc = ngx_http_compensation_send_error(r, &out->err);

    } else {
        rc = ngx_http_compensation_respond(r, &pc->ch, &pc->cmd, out,
                                           pc->now);
    }

    cf_command_free(&pc->cmd);
    cf_error_free(&out->err);

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


static size_t
ngx_http_compensation_max_body(ngx_http_request_t *r)
{
    ngx_http_compensation_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_compensation_module);

    return lcf->max_body_size;
}


/*
 * The whole body in one piece, reading the parts buffered to a file.
 * NGX_DECLINED: larger than compensation_max_body_size.
 */
ngx_int_t
ngx_http_compensation_read_body(ngx_http_request_t *r, ngx_str_t *body)
{
    off_t                              len;
    u_char                            *p;
    ssize_t                            n;
    ngx_buf_t                         *b;
    ngx_chain_t                       *cl;
    ngx_http_compensation_loc_conf_t  *lcf;

    body->len = 0;
    body->data = (u_char *) "";

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_compensation_module);

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len == 0) {
        return NGX_OK;
    }

    if (len > (off_t) lcf->max_body_size) {
        /* chunked bodies have no Content-Length to check up front */
        return NGX_DECLINED;
    }

    p = ngx_pnalloc(r->pool, (size_t) len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body->data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, (size_t) (b->file_last
                                                    - b->file_pos),
                              b->file_pos);

            if (n != b->file_last - b->file_pos) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "compensation: reading the buffered request"
                              " body failed");
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            p += n;
            continue;
        }

        if (b->last == b->pos) {
            /* a chunked body's last buffer may be empty with pos NULL, and
             * memcpy() from NULL is undefined even for 0 bytes (UBSan) */
            continue;
        }

        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    body->len = p - body->data;

    return NGX_OK;
}


/* application/json or application/<x>+json, with any parameters */
ngx_int_t
ngx_http_compensation_json_content_type(ngx_http_request_t *r)
{
    u_char     *p, *last;
    ngx_str_t  *ct;

    if (r->headers_in.content_type == NULL) {
        return NGX_DECLINED;
    }

    ct = &r->headers_in.content_type->value;

    last = ct->data + ct->len;

    for (p = ct->data; p < last && *p != ';' && *p != ' '; p++) {
        /* void */
    }

    if ((size_t) (p - ct->data) == sizeof("application/json") - 1
        && ngx_strncasecmp(ct->data, (u_char *) "application/json",
                           sizeof("application/json") - 1) == 0)
    {
        return NGX_OK;
    }

    if ((size_t) (p - ct->data) > sizeof("application/+json") - 1
        && ngx_strncasecmp(ct->data, (u_char *) "application/",
                           sizeof("application/") - 1) == 0
        && ngx_strncasecmp(p - 5, (u_char *) "+json", 5) == 0)
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


#define ngx_http_compensation_is(h, s)                                        \
    ((h)->key.len == sizeof(s) - 1                                            \
     && ngx_strncasecmp((h)->key.data, (u_char *) s, sizeof(s) - 1) == 0)


/*
 * The command headers of spec 3.2.  Values that cannot be what they claim
 * are an IllegalArgument with a binding error naming the header.
 */
static ngx_int_t
ngx_http_compensation_parse_headers(ngx_http_request_t *r,
    ngx_http_compensation_cmd_headers_t *ch, cf_error_t *err)
{
    u_char           *p, *last;
    char             *key, *value;
    int64_t           n;
    ngx_str_t        *v, ip;
    ngx_uint_t        i, s, ext, timeout_set;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    ch->stage = NGX_HTTP_COMPENSATION_PROCESSED;
    ch->wait_timeout = NGX_HTTP_COMPENSATION_WAIT_TIMEOUT;
    ch->expected_version = -1;

    ch->header = json_object();
    if (ch->header == NULL
        || ngx_http_compensation_json_cleanup(r->pool, ch->header) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ext = 0;
    timeout_set = 0;

    part = &r->headers_in.headers.part;
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

        v = &h[i].value;

        if (ngx_http_compensation_is(&h[i], "Command-Wait-Stage")) {

            for (s = 0; ngx_http_compensation_stages[s]; s++) {
                if (v->len == ngx_strlen(ngx_http_compensation_stages[s])
                    && ngx_strncasecmp(v->data,
                           (u_char *) ngx_http_compensation_stages[s],
                           v->len) == 0)
                {
                    break;
                }
            }

            if (ngx_http_compensation_stages[s] == NULL) {
                cf_error_add_binding(err, "Command-Wait-Stage",
                                     "must be one of [SENT, PROCESSED,"
                                     " SNAPSHOT, PROJECTED, EVENT_HANDLED,"
                                     " SAGA_HANDLED]");
                continue;
            }

            ch->stage = s;
            continue;
        }

        /* the current name wins over the legacy misspelling */
        if (ngx_http_compensation_is(&h[i], "Command-Wait-Timeout")
            || (ngx_http_compensation_is(&h[i], "Command-Wait-Timout")
                && !timeout_set))
        {
            if (cf_int_parse(v->data, v->len, NGX_MAX_INT32_VALUE, &n) != 0)
            {
                cf_error_add_binding(err,
                                     (char *) ngx_http_compensation_strdup(
                                         r->pool, &h[i].key),
                                     "must be a number of milliseconds");
                continue;
            }

            ch->wait_timeout = (ngx_msec_t) n;
            timeout_set = ngx_http_compensation_is(&h[i],
                                                   "Command-Wait-Timeout");
            continue;
        }

        if (ngx_http_compensation_is(&h[i], "Command-Aggregate-Version")) {
            if (cf_int_parse(v->data, v->len, NGX_MAX_INT32_VALUE, &n) != 0)
            {
                cf_error_add_binding(err, "Command-Aggregate-Version",
                                     "must be a non-negative integer");
                continue;
            }

            ch->expected_version = n;
            continue;
        }

        if (ngx_http_compensation_is(&h[i], "Command-Aggregate-Id")) {
            if (ngx_http_compensation_check_id(r, v) != NGX_OK) {
                cf_error_add_binding(err, "Command-Aggregate-Id",
                                     "must be 1 to %d characters without"
                                     " control characters", CF_MAX_ID_LEN);
                continue;
            }

            ch->aggregate_id = ngx_http_compensation_strdup(r->pool, v);
            if (ch->aggregate_id == NULL) {
                return NGX_ERROR;
            }
            continue;
        }

        if (ngx_http_compensation_is(&h[i], "Command-Request-Id")) {
            if (ngx_http_compensation_check_id(r, v) != NGX_OK) {
                cf_error_add_binding(err, "Command-Request-Id",
                                     "must be 1 to %d characters without"
                                     " control characters", CF_MAX_ID_LEN);
                continue;
            }

            ch->request_id = ngx_http_compensation_strdup(r->pool, v);
            if (ch->request_id == NULL) {
                return NGX_ERROR;
            }
            continue;
        }

        if (ngx_http_compensation_is(&h[i], "Command-Owner-Id")) {
            if (v->len > CF_MAX_ID_LEN) {
                cf_error_add_binding(err, "Command-Owner-Id",
                                     "must be at most %d characters",
                                     CF_MAX_ID_LEN);
                continue;
            }

            ch->owner_id = ngx_http_compensation_strdup(r->pool, v);
            if (ch->owner_id == NULL) {
                return NGX_ERROR;
            }
            continue;
        }

        if (ngx_http_compensation_is(&h[i], "Command-Local-First")) {
            if ((v->len == 4 && ngx_strncasecmp(v->data, (u_char *) "true",
                                                4) == 0)
                || (v->len == 5
                    && ngx_strncasecmp(v->data, (u_char *) "false", 5) == 0))
            {
                value = ngx_http_compensation_strdup(r->pool, v);
                if (value == NULL) {
                    return NGX_ERROR;
                }

                ngx_strlow((u_char *) value, (u_char *) value, v->len);

                if (json_object_set_new(ch->header, "local_first",
                                        json_string(value)) != 0)
                {
                    return NGX_ERROR;
                }

            } else {
                cf_error_add_binding(err, "Command-Local-First",
                                     "must be true or false");
            }
            continue;
        }

        if (h[i].key.len > sizeof("Command-Header-") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Command-Header-",
                               sizeof("Command-Header-") - 1) == 0)
        {
            if (++ext > NGX_HTTP_COMPENSATION_MAX_EXT_HEADERS) {
                cf_error_add_binding(err, "Command-Header-*",
                                     "at most %d extension headers",
                                     NGX_HTTP_COMPENSATION_MAX_EXT_HEADERS);
                continue;
            }

            key = ngx_pnalloc(r->pool, h[i].key.len);
            if (key == NULL) {
                return NGX_ERROR;
            }

            p = ngx_cpymem(key,
                           h[i].key.data + sizeof("Command-Header-") - 1,
                           h[i].key.len - (sizeof("Command-Header-") - 1));
            *p = '\0';

            value = ngx_http_compensation_strdup(r->pool, v);
            if (value == NULL) {
                return NGX_ERROR;
            }

            /* json_stringn refuses invalid UTF-8: such a header is bad input */
            if (json_object_set_new(ch->header, key,
                                    json_stringn(value, v->len)) != 0)
            {
                cf_error_add_binding(err, "Command-Header-*",
                                     "names and values must be UTF-8");
            }
            continue;
        }
    }

    if (!cf_error_is_ok(err)) {
        return NGX_DECLINED;
    }

    if (json_object_get(ch->header, "local_first") == NULL
        && json_object_set_new(ch->header, "local_first",
                               json_string("true")) != 0)
    {
        return NGX_ERROR;
    }

    if (json_object_set_new(ch->header, "command_wait_stage",
                            json_string(ngx_http_compensation_stages[
                                            ch->stage])) != 0)
    {
        return NGX_ERROR;
    }

    /* remote_ip: the leftmost X-Forwarded-For entry, else the peer */

    v = ngx_http_compensation_header(r, "X-Forwarded-For",
                                     sizeof("X-Forwarded-For") - 1);

    if (v && v->len) {
        p = v->data;
        last = v->data + v->len;

        while (p < last && *p == ' ') {
            p++;
        }

        ip.data = p;

        while (p < last && *p != ',' && *p != ' ') {
            p++;
        }

        ip.len = p - ip.data;

    } else {
        ip = r->connection->addr_text;
    }

    if (ip.len && ip.len <= NGX_SOCKADDR_STRLEN) {
        if (json_object_set_new(ch->header, "remote_ip",
                                json_stringn((char *) ip.data, ip.len)) != 0)
        {
            /* not UTF-8: not an address either; leave it out */
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "compensation: ignoring a malformed"
                          " X-Forwarded-For");
        }
    }

    if (r->headers_in.user_agent
        && r->headers_in.user_agent->value.len
           <= NGX_HTTP_COMPENSATION_MAX_HEADER_LEN)
    {
        (void) json_object_set_new(ch->header, "user_agent",
                       json_stringn((char *) r->headers_in.user_agent->value.data,
                                    r->headers_in.user_agent->value.len));
    }

    return NGX_OK;
}


/*
 * A CommandResult (spec 3.3), written without a jansson tree: this is the
 * answer of every command.  Its strings are ids checked as UTF-8, sanitised
 * messages (cf_error_set) and constants.
 */
static void
ngx_http_compensation_result(cf_buf_t *b, const char *id,
    const cf_exec_output_t *out, const char *stage,
    const ngx_http_compensation_fn_t *fn, int64_t version, int64_t now)
{
    cf_buf_add_str(b, "{\"id\":");
    cf_json_write_string(b, id, ngx_strlen(id));
    cf_buf_add_str(b, ",\"waitCommandId\":");
    cf_json_write_string(b, out->command_id, ngx_strlen(out->command_id));
    cf_buf_add_str(b, ",\"stage\":\"");
    cf_buf_add_str(b, stage);
    cf_buf_add_str(b, "\",\"contextName\":\"" CF_CONTEXT_NAME "\""
                   ",\"aggregateName\":\"" CF_AGGREGATE_NAME "\""
                   ",\"tenantId\":\"" CF_TENANT_ID "\",\"aggregateId\":");
    cf_json_write_string(b, out->aggregate_id,
                         ngx_strlen(out->aggregate_id));
    cf_buf_add_str(b, ",\"aggregateVersion\":");

    if (version > 0) {
        cf_json_write_int(b, version);

    } else {
        cf_buf_add_str(b, "null");
    }

    cf_buf_add_str(b, ",\"requestId\":");
    cf_json_write_string(b, out->request_id, ngx_strlen(out->request_id));
    cf_buf_add_str(b, ",\"commandId\":");
    cf_json_write_string(b, out->command_id, ngx_strlen(out->command_id));

    cf_buf_add_str(b, ",\"function\":{\"functionKind\":\"");
    cf_buf_add_str(b, fn->kind);
    cf_buf_add_str(b, "\",\"contextName\":\"");
    cf_buf_add_str(b, fn->context);
    cf_buf_add_str(b, "\",\"processorName\":\"");
    cf_buf_add_str(b, fn->processor);
    cf_buf_add_str(b, "\",\"name\":\"");
    cf_buf_add_str(b, fn->name);

    cf_buf_add_str(b, "\"},\"errorCode\":");
    cf_json_write_string(b, out->err.code, ngx_strlen(out->err.code));
    cf_buf_add_str(b, ",\"errorMsg\":");
    cf_json_write_string(b, out->err.msg, ngx_strlen(out->err.msg));

    if (out->err.binding_errors
        && json_array_size(out->err.binding_errors) > 0)
    {
        cf_buf_add_str(b, ",\"bindingErrors\":");
        cf_json_write(b, out->err.binding_errors);
    }

    cf_buf_add_str(b, ",\"result\":{},\"signalTime\":");
    cf_json_write_int(b, now);
    cf_buf_add_str(b, cf_error_is_ok(&out->err) ? ",\"succeeded\":true}"
                                                : ",\"succeeded\":false}");
}


/*
 * The stages reached: SENT always (the command was accepted), PROCESSED when
 * the aggregate handled it, SNAPSHOT with the same commit.  Nothing in this
 * service projects or handles events, so PROJECTED and later stages are
 * answered honestly with the last stage reached, SNAPSHOT.  A failure ends
 * the wait at the stage that failed, as the original's wait strategy does.
 */
static ngx_int_t
ngx_http_compensation_respond(ngx_http_request_t *r,
    ngx_http_compensation_cmd_headers_t *ch, const cf_command_t *cmd,
    cf_exec_output_t *out, int64_t now)
{
    char                                id[CF_ID_LEN + 1];
    u_char                             *p;
    json_t                             *error;
    ngx_uint_t                          i, n, last;
    ngx_chain_t                        *head, **tail, *cl;
    cf_exec_output_t                    sent;
    ngx_http_compensation_ctx_t        *ctx;
    ngx_http_compensation_signal_t      sig[3];
    ngx_http_compensation_main_conf_t  *mcf;
    cf_buf_t                           *text;

    static const ngx_http_compensation_fn_t  gateway = {
        "COMMAND", "wow", "CommandGateway", "send"
    };
    static const ngx_http_compensation_fn_t  process = {
        "COMMAND", "wow", "SimpleCommandAggregate", "process"
    };
    static const ngx_http_compensation_fn_t  snapshot = {
        "STATE_EVENT", CF_CONTEXT_NAME, "SnapshotDispatcher", "save"
    };

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    n = 0;
    last = ngx_min(ch->stage, NGX_HTTP_COMPENSATION_SNAPSHOT);

    /* the handler's own FunctionInfo */
    sig[1].fn.kind = "COMMAND";
    sig[1].fn.context = CF_CONTEXT_NAME;
    sig[1].fn.processor = CF_PROCESSOR_NAME;
    sig[1].fn.name = cf_command_info(cmd->type)->handler;

    if (out->at_gateway) {
        /* refused before processing (duplicate request id) */
        sig[n].stage = "SENT";
        sig[n].out = out;
        sig[n].fn = gateway;
        sig[n++].version = -1;

    } else {
        /* the SENT signal itself succeeded */
        sent = *out;
        cf_error_init(&sent.err);

        sig[n].stage = "SENT";
        sig[n].out = &sent;
        sig[n].fn = gateway;
        sig[n++].version = -1;

        if (!cf_error_is_ok(&out->err)) {
            sig[n].stage = "PROCESSED";
            sig[n].out = out;
            if (!out->in_handler) {
                sig[n].fn = process;
            }
            sig[n++].version = out->version;

        } else if (last >= NGX_HTTP_COMPENSATION_PROCESSED) {
            sig[n].stage = "PROCESSED";
            sig[n].out = out;
            sig[n++].version = out->version;

            if (last >= NGX_HTTP_COMPENSATION_SNAPSHOT) {
                sig[n].stage = "SNAPSHOT";
                sig[n].out = out;
                sig[n].fn = snapshot;
                sig[n++].version = out->version;
            }
        }
    }

    if (!ctx->sse) {
        /* a plain answer is the last signal only */
        cf_id_next(&mcf->ids, now, id);

        text = ngx_http_compensation_text_buffer();
        ngx_http_compensation_result(text, id, sig[n - 1].out,
                                     sig[n - 1].stage, &sig[n - 1].fn,
                                     sig[n - 1].version, now);
        if (text->failed) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_pnalloc(r->pool, text->len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(p, text->data, text->len);

        return ngx_http_compensation_send_raw(r,
                                         cf_error_http_status(out->err.code),
                                         out->err.code, p, text->len);
    }

    head = NULL;
    tail = &head;

    for (i = 0; i < n; i++) {

        cf_id_next(&mcf->ids, now, id);

        if (out->at_gateway && !cf_error_is_ok(&out->err)) {
            /* a stream error: its code as the event, an ErrorInfo as data */
            error = cf_error_to_json(&out->err);
            if (error == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            cl = ngx_http_compensation_sse_event(r, id, out->err.code, error);
            json_decref(error);

        } else {
            text = ngx_http_compensation_text_buffer();
            ngx_http_compensation_result(text, id, sig[i].out, sig[i].stage,
                                         &sig[i].fn, sig[i].version, now);
            if (text->failed) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            cl = ngx_http_compensation_sse_text(r, id, sig[i].stage,
                                                (u_char *) text->data,
                                                text->len);
        }

        if (cl == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        *tail = cl;
        tail = &cl->next;
    }

    return ngx_http_compensation_send_sse(r, CF_OK, head);
}
