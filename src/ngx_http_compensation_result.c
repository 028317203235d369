
/*
 * ngx_compensation: the CommandResult of a command (spec 3.3), as JSON or
 * as an event stream of one result per stage reached.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_response.h"
#include "ngx_http_compensation_result.h"


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


static void ngx_http_compensation_result(cf_buf_t *b, const char *id,
    const cf_exec_output_t *out, const char *stage,
    const ngx_http_compensation_fn_t *fn, int64_t version, int64_t now);


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
ngx_int_t
ngx_http_compensation_result_send(ngx_http_request_t *r,
    ngx_http_compensation_cmd_headers_t *ch, ngx_int_t command,
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
    sig[1].fn.name = cf_command_info(command)->handler;

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
