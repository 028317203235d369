
/*
 * ngx_compensation: reading a request (see the header).  Every route that
 * takes a body reads it here, so that a body too large, of another content
 * type or not JSON gets the same answer on every route (spec 3.2: malformed
 * JSON is IllegalArgument, 400, with the binding error "body").
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_request.h"
#include "ngx_http_compensation_response.h"


static void ngx_http_compensation_request_body_read(ngx_http_request_t *r);
static ngx_int_t ngx_http_compensation_too_large(ngx_http_request_t *r);


ngx_int_t
ngx_http_compensation_request_body(ngx_http_request_t *r,
    ngx_http_compensation_body_run_pt run)
{
    ngx_int_t                          rc;
    ngx_http_compensation_ctx_t       *ctx;
    ngx_http_compensation_loc_conf_t  *lcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_compensation_module);

    if (r->headers_in.content_length_n > (off_t) lcf->max_body_size) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "compensation: request body of %O bytes is larger"
                      " than compensation_max_body_size %uz",
                      r->headers_in.content_length_n, lcf->max_body_size);

        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_compensation_too_large(r);
    }

    /* the body handler has no argument of its own: run waits in the ctx */
    ctx->body_run = run;

    rc = ngx_http_read_client_request_body(r,
                                       ngx_http_compensation_request_body_read);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_compensation_request_body_read(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_http_compensation_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);

    rc = ctx->body_run(r);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


/* the connection is closed after it: the rest of the body is not read */
static ngx_int_t
ngx_http_compensation_too_large(ngx_http_request_t *r)
{
    ngx_http_compensation_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_compensation_module);

    r->keepalive = 0;

    return ngx_http_compensation_send_error_code(r,
               NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "PayloadTooLarge",
               "The request body is larger than %uz bytes.",
               lcf->max_body_size);
}


ngx_int_t
ngx_http_compensation_read_json(ngx_http_request_t *r, json_t **json,
    ngx_int_t *rc)
{
    u_char        *p;
    json_t        *body;
    ngx_str_t      raw;
    cf_error_t     err;
    json_error_t   jerr;

    *json = NULL;

    *rc = ngx_http_compensation_read_body(r, &raw);

    if (*rc == NGX_DECLINED) {
        /* chunked: no Content-Length was there to check up front */
        *rc = ngx_http_compensation_too_large(r);
        return NGX_DECLINED;
    }

    if (*rc != NGX_OK) {
        return NGX_DECLINED;
    }

    /* a body of only whitespace is an empty body */
    for (p = raw.data; p < raw.data + raw.len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            break;
        }
    }

    if (p == raw.data + raw.len) {
        return NGX_OK;
    }

    if (ngx_http_compensation_json_content_type(r) != NGX_OK) {
        *rc = ngx_http_compensation_send_error_code(r,
                  NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType",
                  "Content type must be application/json.");
        return NGX_DECLINED;
    }

    body = cf_json_loadb((char *) raw.data, raw.len, JSON_REJECT_DUPLICATES,
                         &jerr);

    if (body == NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "compensation: malformed JSON body: %s at %d",
                      jerr.text, jerr.position);

        cf_error_init(&err);
        cf_error_set(&err, CF_E_ILLEGAL_ARGUMENT,
                     "Failed to read HTTP message: %s", jerr.text);
        cf_error_add_binding(&err, "body", "%s (line %d, column %d)",
                             jerr.text, jerr.line, jerr.column);
        *rc = ngx_http_compensation_send_error(r, &err);
        cf_error_free(&err);
        return NGX_DECLINED;
    }

    if (ngx_http_compensation_json_cleanup(r->pool, body) != NGX_OK) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DECLINED;
    }

    *json = body;

    return NGX_OK;
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


ngx_int_t
ngx_http_compensation_no_body(ngx_http_request_t *r, ngx_uint_t sse_allowed,
    ngx_uint_t *sse, ngx_int_t *rc)
{
    ngx_uint_t  dummy;

    *rc = ngx_http_discard_request_body(r);

    if (*rc != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_http_compensation_accepts(r, sse_allowed,
                                      sse ? sse : &dummy) != NGX_OK)
    {
        *rc = ngx_http_compensation_not_acceptable(r, sse_allowed);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_compensation_read_prelude(ngx_http_request_t *r,
    ngx_uint_t sse_allowed, ngx_uint_t *sse, char **id, ngx_int_t *rc)
{
    ngx_http_compensation_ctx_t  *ctx;

    if (ngx_http_compensation_no_body(r, sse_allowed, sse, rc) != NGX_OK) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);

    return ngx_http_compensation_path_id(r, &ctx->vars[0], id, rc);
}


ngx_int_t
ngx_http_compensation_batch_prelude(ngx_http_request_t *r, char **after,
    int64_t *limit, ngx_int_t *rc)
{
    ngx_http_compensation_ctx_t  *ctx;

    if (ngx_http_compensation_read_prelude(r, 0, NULL, after, rc) != NGX_OK) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);

    return ngx_http_compensation_path_int(r, &ctx->vars[1], "limit", 1,
                                          NGX_HTTP_COMPENSATION_MAX_BATCH,
                                          limit, rc);
}


ngx_int_t
ngx_http_compensation_path_id(ngx_http_request_t *r, ngx_str_t *v,
    char **id, ngx_int_t *rc)
{
    if (ngx_http_compensation_check_id(r, v) != NGX_OK) {
        *rc = ngx_http_compensation_send_error_code(r,
                  NGX_HTTP_BAD_REQUEST, CF_E_ILLEGAL_ARGUMENT,
                  "The aggregate id in the path must be 1 to %d"
                  " characters without control characters.",
                  CF_MAX_ID_LEN);
        return NGX_DECLINED;
    }

    if (id == NULL) {
        return NGX_OK;
    }

    *id = ngx_http_compensation_strdup(r->pool, v);
    if (*id == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_compensation_path_int(ngx_http_request_t *r, ngx_str_t *v,
    const char *name, int64_t min, int64_t max, int64_t *value,
    ngx_int_t *rc)
{
    if (cf_int_parse(v->data, v->len, max, value) == 0 && *value >= min) {
        return NGX_OK;
    }

    if (max == INT64_MAX && (min == 0 || min == 1)) {
        *rc = ngx_http_compensation_send_error_code(r, NGX_HTTP_BAD_REQUEST,
                  CF_E_ILLEGAL_ARGUMENT, "%s must be a %s integer, not \"%V\".",
                  name, min ? "positive" : "non-negative", v);

    } else {
        *rc = ngx_http_compensation_send_error_code(r, NGX_HTTP_BAD_REQUEST,
                  CF_E_ILLEGAL_ARGUMENT,
                  "%s must be an integer from %L to %L, not \"%V\".",
                  name, min, max, v);
    }

    return NGX_DECLINED;
}


/*
 * The Accept predicate of spec 3.1: a route answers JSON, and SSE where
 * allowed; a missing Accept means any type.  Sets *sse when the client asks for an
 * event stream.  NGX_DECLINED: nothing acceptable (406).
 */
ngx_int_t
ngx_http_compensation_accepts(ngx_http_request_t *r, ngx_uint_t sse_allowed,
    ngx_uint_t *sse)
{
    u_char     *p, *last, *start, *end;
    ngx_str_t  *accept;
    ngx_uint_t  json_ok, sse_ok;

    *sse = 0;

    accept = ngx_http_compensation_header(r, "Accept", sizeof("Accept") - 1);

    if (accept == NULL || accept->len == 0) {
        return NGX_OK;
    }

    json_ok = 0;
    sse_ok = 0;

    p = accept->data;
    last = accept->data + accept->len;

    while (p < last) {

        while (p < last && (*p == ' ' || *p == ',')) {
            p++;
        }

        start = p;

        while (p < last && *p != ',' && *p != ';') {
            p++;
        }

        end = p;

        while (end > start && end[-1] == ' ') {
            end--;
        }

        while (p < last && *p != ',') {
            p++;     /* parameters (q=...) are ignored */
        }

#define IS(s)  ((size_t) (end - start) == sizeof(s) - 1                       \
                && ngx_strncasecmp(start, (u_char *) s, sizeof(s) - 1) == 0)

        if (IS("*/*") || IS("application/*") || IS("application/json")
            || IS("application/problem+json"))
        {
            json_ok = 1;

        } else if (IS("text/event-stream")) {
            sse_ok = 1;
        }

#undef IS
    }

    /* an explicit text/event-stream wins where the route can stream */
    if (sse_ok && sse_allowed) {
        *sse = 1;
        return NGX_OK;
    }

    if (json_ok) {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


ngx_str_t *
ngx_http_compensation_header(ngx_http_request_t *r, const char *name,
    size_t len)
{
    return ngx_http_compensation_headers(r, name, len, NULL);
}


ngx_str_t *
ngx_http_compensation_headers(ngx_http_request_t *r, const char *name,
    size_t len, ngx_uint_t *n)
{
    ngx_uint_t        i;
    ngx_str_t        *first;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    first = NULL;

    if (n) {
        *n = 0;
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return first;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            if (n == NULL) {
                return &h[i].value;
            }

            if (first == NULL) {
                first = &h[i].value;
            }

            (*n)++;
        }
    }
}
