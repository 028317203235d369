
/*
 * ngx_compensation: JSON and SSE responses.
 *
 * Every response carries "Wow-Error-Code" (spec 3.4).  Errors are sent as our
 * own JSON bodies with the mapped status, never as nginx's HTML pages.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_request.h"
#include "ngx_http_compensation_response.h"


static void ngx_http_compensation_json_decref(void *data);
static ngx_int_t ngx_http_compensation_send_out(ngx_http_request_t *r,
    ngx_uint_t status, const char *error_code, const char *content_type,
    ngx_chain_t *out, size_t len);
static ngx_chain_t *ngx_http_compensation_chain(ngx_http_request_t *r,
    u_char *data, size_t len);
static ngx_int_t ngx_http_compensation_hold(ngx_http_request_t *r,
    size_t size);
static ngx_int_t ngx_http_compensation_send_busy(ngx_http_request_t *r);


static void
ngx_http_compensation_json_decref(void *data)
{
    json_decref((json_t *) data);
}


/* ties a json_t reference to the pool: released on every path */
ngx_int_t
ngx_http_compensation_json_cleanup(ngx_pool_t *pool, json_t *json)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        json_decref(json);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_compensation_json_decref;
    cln->data = json;

    return NGX_OK;
}


/*
 * The wall clock in ms, read for the caller alone: updating nginx's time here
 * would move nginx's cached time and ngx_current_msec, the base of every
 * timer, under the event loop in the middle of a handler.  A clock read
 * costs a vDSO call; ids stay unique through their sequence (cf_id_next).
 */
int64_t
ngx_http_compensation_now_ms(void)
{
    struct timeval  tv;

    ngx_gettimeofday(&tv);

    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


char *
ngx_http_compensation_strdup(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return (char *) p;
}


/* Wow-Error-Code: code (a static string) */
ngx_int_t
ngx_http_compensation_error_header(ngx_http_request_t *r, const char *code)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Wow-Error-Code");
    h->value.data = (u_char *) code;
    h->value.len = ngx_strlen(code);

    return NGX_OK;
}


/*
 * The compact text of json in pool memory: serialised by cf_json_write into
 * a buffer the worker reuses (only the event loop serialises responses),
 * then copied once.
 */
/* responses are serialised on the event loop only: one buffer per worker */
static cf_buf_t  ngx_http_compensation_text;


/* the worker's buffer for a response's text, emptied */
cf_buf_t *
ngx_http_compensation_text_buffer(void)
{
    cf_buf_reset(&ngx_http_compensation_text);

    return &ngx_http_compensation_text;
}


/*
 * At process exit: nginx unloads the module, and memory only its static
 * data points to would then be lost (valgrind says so).
 */
void
ngx_http_compensation_text_buffer_free(void)
{
    cf_buf_free(&ngx_http_compensation_text);
}


ngx_int_t
ngx_http_compensation_json_text(ngx_pool_t *pool, json_t *json,
    ngx_str_t *out)
{
    cf_buf_t  *text;

    text = ngx_http_compensation_text_buffer();
    cf_json_write(text, json);

    if (text->failed) {
        return NGX_ERROR;
    }

    out->len = text->len;
    out->data = ngx_pnalloc(pool, text->len ? text->len : 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, text->data, text->len);

    /* one huge document (an event page) should not pin its size forever */
    if (text->cap > 1024 * 1024) {
        cf_buf_free(text);
    }

    return NGX_OK;
}


/* sends json (a reference the caller keeps) with status and Wow-Error-Code */
ngx_int_t
ngx_http_compensation_send_json(ngx_http_request_t *r, ngx_uint_t status,
    const char *error_code, json_t *json)
{
    ngx_str_t  text;

    if (ngx_http_compensation_json_text(r->pool, json, &text) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "compensation: cannot serialize a response");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_compensation_send_raw(r, status, error_code, text.data,
                                          text.len);
}


/* sends a JSON text already in pool memory, as send_json would */
ngx_int_t
ngx_http_compensation_send_raw(ngx_http_request_t *r, ngx_uint_t status,
    const char *error_code, u_char *data, size_t len)
{
    ngx_int_t     rc;
    ngx_chain_t  *out;

    rc = ngx_http_compensation_hold(r, len);

    if (rc != NGX_OK) {
        return rc == NGX_DECLINED ? ngx_http_compensation_send_busy(r)
                                  : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    out = ngx_http_compensation_chain(r, data, len);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_compensation_send_chain(r, status, error_code, out, len);
}


/*
 * sends a JSON text made of the buffers of "out" (len bytes in all, the
 * last buffer marked last_buf/last_in_chain by the caller)
 */
ngx_int_t
ngx_http_compensation_send_chain(ngx_http_request_t *r, ngx_uint_t status,
    const char *error_code, ngx_chain_t *out, size_t len)
{
    return ngx_http_compensation_send_out(r, status, error_code,
                                          "application/json", out, len);
}


/*
 * sends body (pool memory, not counted against compensation_read_memory:
 * ids, scripts, metrics) as content_type; len 0: no body
 */
ngx_int_t
ngx_http_compensation_send_text(ngx_http_request_t *r, ngx_uint_t status,
    const char *content_type, u_char *body, size_t len)
{
    ngx_chain_t  *out;

    out = NULL;

    if (len) {
        out = ngx_http_compensation_chain(r, body, len);
        if (out == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_compensation_send_out(r, status, CF_OK, content_type,
                                          out, len);
}


/* the one place that sends a response: every one has Wow-Error-Code */
static ngx_int_t
ngx_http_compensation_send_out(ngx_http_request_t *r, ngx_uint_t status,
    const char *error_code, const char *content_type, ngx_chain_t *out,
    size_t len)
{
    ngx_int_t  rc;

    if (ngx_http_compensation_error_header(r, error_code) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type.data = (u_char *) content_type;
    r->headers_out.content_type.len = ngx_strlen(content_type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (out == NULL) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, out);
}


/* one memory buffer, the last of the response */
static ngx_chain_t *
ngx_http_compensation_chain(ngx_http_request_t *r, u_char *data, size_t len)
{
    ngx_buf_t    *b;
    ngx_chain_t  *out;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NULL;
    }

    b->pos = data;
    b->last = data + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out = ngx_alloc_chain_link(r->pool);
    if (out == NULL) {
        return NULL;
    }

    out->buf = b;
    out->next = NULL;

    return out;
}


/* an ErrorInfo body with the status mapped from its code */
ngx_int_t
ngx_http_compensation_send_error(ngx_http_request_t *r, cf_error_t *err)
{
    json_t     *json;
    ngx_int_t   rc;

    json = cf_error_to_json(err);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_compensation_send_json(r,
                                         cf_error_http_status(err->code),
                                         err->code, json);
    json_decref(json);

    return rc;
}


/* an ErrorInfo body with an explicit status (for HTTP-level errors) */
ngx_int_t
ngx_http_compensation_send_error_code(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *fmt, ...)
{
    u_char      msg[512], *p;
    va_list     args;
    json_t     *json;
    ngx_int_t   rc;

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg) - 1, fmt, args);
    va_end(args);

    *p = '\0';

    json = json_pack("{s:s, s:s%, s:b}", "errorCode", code,
                     "errorMsg", (char *) msg, (size_t) (p - msg),
                     "succeeded", 0);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_compensation_send_json(r, status, code, json);
    json_decref(json);

    return rc;
}


/* logs the detail, answers 500 "Unexpected server error" (spec 3.4) */
ngx_int_t
ngx_http_compensation_internal_error(ngx_http_request_t *r,
    const char *what, cf_error_t *err)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "compensation: %s failed: %s", what,
                  err && err->msg[0] ? err->msg : "(no detail)");

    return ngx_http_compensation_send_error_code(r,
               NGX_HTTP_INTERNAL_SERVER_ERROR, CF_E_INTERNAL,
               "Unexpected server error");
}


/* 406: what the route answers (JSON; SSE too where sse_allowed) */
ngx_int_t
ngx_http_compensation_not_acceptable(ngx_http_request_t *r,
    ngx_uint_t sse_allowed)
{
    return ngx_http_compensation_send_error_code(r,
               NGX_HTTP_COMPENSATION_NOT_ACCEPTABLE, "NotAcceptable",
               sse_allowed
               ? "Acceptable media types are application/json and"
                 " text/event-stream."
               : "The acceptable media type is application/json.");
}


/* one "id:..\nevent:..\ndata:..\n\n" frame; data is a JSON document */
ngx_chain_t *
ngx_http_compensation_sse_event(ngx_http_request_t *r, const char *id,
    const char *event, json_t *data)
{
    ngx_str_t  text;

    if (ngx_http_compensation_json_text(r->pool, data, &text) != NGX_OK) {
        return NULL;
    }

    return ngx_http_compensation_sse_text(r, id, event, text.data, text.len);
}


/* one event of a stream whose data is a JSON text (copied) */
ngx_chain_t *
ngx_http_compensation_sse_text(ngx_http_request_t *r, const char *id,
    const char *event, u_char *data, size_t n)
{
    size_t        len;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    len = sizeof("id:\nevent:\ndata:\n\n") - 1 + ngx_strlen(id)
          + ngx_strlen(event) + n;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    b->last = ngx_sprintf(b->last, "id:%s\nevent:%s\ndata:", id, event);
    b->last = ngx_cpymem(b->last, data, n);
    *b->last++ = '\n';
    *b->last++ = '\n';

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;

    return cl;
}


/* sends a complete event stream (already built) as text/event-stream */
ngx_int_t
ngx_http_compensation_send_sse(ngx_http_request_t *r, const char *error_code,
    ngx_chain_t *events)
{
    off_t         len;
    ngx_int_t     rc;
    ngx_chain_t  *cl, *last;

    len = 0;
    last = NULL;

    for (cl = events; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
        last = cl;
    }

    if (last == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_compensation_hold(r, (size_t) len);

    if (rc != NGX_OK) {
        return rc == NGX_DECLINED ? ngx_http_compensation_send_busy(r)
                                  : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last->buf->last_buf = (r == r->main) ? 1 : 0;
    last->buf->last_in_chain = 1;

    return ngx_http_compensation_send_out(r, NGX_HTTP_OK, error_code,
                                          "text/event-stream", events,
                                          (size_t) len);
}


/*
 * Read budgets.  A response body that lists documents is written into
 * fixed-size chunks as its documents are read, never as one tree of all of
 * them, and refused (400) once it would exceed compensation_read_max_size.
 * Every body of NGX_HTTP_COMPENSATION_HELD_MIN bytes or more counts against
 * the worker's compensation_read_memory until its request is freed; a body
 * that would exceed it is answered 503 instead.  Smaller bodies are not
 * counted: they are bounded by the connections a worker accepts.
 */

#define NGX_HTTP_COMPENSATION_CHUNK     65536
#define NGX_HTTP_COMPENSATION_HELD_MIN  65536


/* bytes of response bodies held by this worker's requests */
static size_t  ngx_http_compensation_held;


static void
ngx_http_compensation_unhold(void *data)
{
    size_t  *size = data;

    ngx_http_compensation_held -= *size;
}


/*
 * Counts size bytes against the worker's read memory until r's pool is
 * freed.  NGX_DECLINED: over the budget (nothing counted).
 */
static ngx_int_t
ngx_http_compensation_hold(ngx_http_request_t *r, size_t size)
{
    size_t                             *held;
    ngx_pool_cleanup_t                 *cln;
    ngx_http_compensation_main_conf_t  *mcf;

    if (size < NGX_HTTP_COMPENSATION_HELD_MIN) {
        return NGX_OK;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    if (ngx_http_compensation_held + size > mcf->read_memory) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "compensation: a response of %uz bytes refused:"
                      " %uz bytes of responses are held, the worker's"
                      " compensation_read_memory is %uz",
                      size, ngx_http_compensation_held, mcf->read_memory);
        return NGX_DECLINED;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(size_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    held = cln->data;
    *held = size;
    cln->handler = ngx_http_compensation_unhold;

    ngx_http_compensation_held += size;

    return NGX_OK;
}


static ngx_int_t
ngx_http_compensation_send_busy(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
    ngx_str_set(&h->value, "1");

    return ngx_http_compensation_send_error_code(r,
               NGX_HTTP_SERVICE_UNAVAILABLE, CF_E_INTERNAL,
               "The worker holds as many responses as"
               " compensation_read_memory allows; retry later.");
}


size_t
ngx_http_compensation_held_bytes(void)
{
    return ngx_http_compensation_held;
}


void
ngx_http_compensation_body_init(ngx_http_request_t *r,
    ngx_http_compensation_body_t *body)
{
    ngx_http_compensation_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    ngx_http_compensation_body_init_pool(body, r->pool, mcf->read_max_size,
                                         NULL);
}


void
ngx_http_compensation_body_init_pool(ngx_http_compensation_body_t *body,
    ngx_pool_t *pool, size_t max, cf_buf_t *text)
{
    ngx_memzero(body, sizeof(ngx_http_compensation_body_t));

    body->pool = pool;
    body->text = text;
    body->last = &body->head;
    body->max = max;
}


/* NGX_DECLINED: the body would exceed its budget (nothing added) */
ngx_int_t
ngx_http_compensation_body_add(ngx_http_compensation_body_t *body,
    const u_char *data, size_t len)
{
    size_t        n;
    ngx_chain_t  *cl;

    if (body->size + len > body->max) {
        body->too_large = 1;
        return NGX_DECLINED;
    }

    while (len) {

        if (body->buf == NULL || body->buf->last == body->buf->end) {
            cl = ngx_alloc_chain_link(body->pool);
            if (cl == NULL) {
                return NGX_ERROR;
            }

            cl->buf = ngx_create_temp_buf(body->pool,
                                          NGX_HTTP_COMPENSATION_CHUNK);
            if (cl->buf == NULL) {
                return NGX_ERROR;
            }

            cl->next = NULL;
            *body->last = cl;
            body->last = &cl->next;
            body->buf = cl->buf;
        }

        n = ngx_min(len, (size_t) (body->buf->end - body->buf->last));
        body->buf->last = ngx_cpymem(body->buf->last, data, n);
        data += n;
        len -= n;
        body->size += n;
    }

    return NGX_OK;
}


/* prefix, the compact text of doc, suffix; NGX_DECLINED: over budget */
ngx_int_t
ngx_http_compensation_body_add_json(ngx_http_compensation_body_t *body,
    const char *prefix, json_t *doc, const char *suffix)
{
    size_t      plen, slen;
    cf_buf_t   *text;
    ngx_int_t   rc;

    if (body->text) {
        text = body->text;
        cf_buf_reset(text);

    } else {
        text = ngx_http_compensation_text_buffer();
    }

    cf_json_write(text, doc);

    if (text->failed) {
        return NGX_ERROR;
    }

    plen = ngx_strlen(prefix);
    slen = ngx_strlen(suffix);

    if (body->size + plen + text->len + slen > body->max) {
        body->too_large = 1;
        rc = NGX_DECLINED;

    } else {
        rc = ngx_http_compensation_body_add(body, (u_char *) prefix, plen);

        if (rc == NGX_OK) {
            rc = ngx_http_compensation_body_add(body, (u_char *) text->data,
                                                text->len);
        }

        if (rc == NGX_OK) {
            rc = ngx_http_compensation_body_add(body, (u_char *) suffix,
                                                slen);
        }
    }

    /* one huge document should not pin its size forever */
    if (text->cap > 1024 * 1024) {
        cf_buf_free(text);
    }

    body->n++;

    return rc;
}


/*
 * Sends the body as application/json (or text/event-stream) with 200 and
 * Wow-Error-Code Ok; a body that grew too large is answered with the error
 * that names its directive.
 */
ngx_int_t
ngx_http_compensation_body_send(ngx_http_request_t *r,
    ngx_http_compensation_body_t *body, ngx_uint_t sse)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (body->too_large) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "compensation: a response would exceed"
                      " compensation_read_max_size (%uz bytes)", body->max);

        return ngx_http_compensation_send_error_code(r, NGX_HTTP_BAD_REQUEST,
                   CF_E_ILLEGAL_ARGUMENT,
                   "The response would exceed %uz bytes"
                   " (compensation_read_max_size): ask for fewer or smaller"
                   " documents (a lower limit, a projection).", body->max);
    }

    rc = ngx_http_compensation_hold(r, body->size);

    if (rc == NGX_DECLINED) {
        return ngx_http_compensation_send_busy(r);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (body->head == NULL) {
        /* an empty body: one buffer to carry last_buf */
        b = ngx_calloc_buf(r->pool);
        cl = ngx_alloc_chain_link(r->pool);

        if (b == NULL || cl == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->sync = 1;
        cl->buf = b;
        cl->next = NULL;
        body->head = cl;
        body->buf = b;
    }

    body->buf->last_buf = (r == r->main) ? 1 : 0;
    body->buf->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = body->size;

    if (sse) {
        ngx_str_set(&r->headers_out.content_type, "text/event-stream");

    } else {
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (ngx_http_compensation_error_header(r, CF_OK) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, body->head);
}
