
/*
 * ngx_compensation: nginx's own error responses in the API's JSON shape.
 *
 * nginx answers some requests itself, with an HTML page: a body over
 * client_max_body_size (413), a malformed request (400), a request line or
 * header too long (414, 494 sent as 400), a missing Content-Length (411),
 * access refused by allow/deny, auth_request or the token check (403, 401),
 * limit_req (503), an internal error (500).  All of them go through
 * ngx_http_special_response_handler(), which sets r->err_status; the
 * module's own answers never do.  This header filter replaces such a
 * response with the ErrorInfo document and Wow-Error-Code, in locations
 * with compensation_api and, for the errors nginx finds before it chooses a
 * location, in servers that have one.  An error_page of the location wins:
 * nginx redirects before anything is sent.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_errors.h"
#include "ngx_http_compensation_response.h"
#include "ngx_http_compensation_router.h"


typedef struct {
    ngx_uint_t   status;
    const char  *code;
    const char  *msg;
} ngx_http_compensation_special_t;


static ngx_int_t ngx_http_compensation_errors_header_filter(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_compensation_errors_body_filter(
    ngx_http_request_t *r, ngx_chain_t *in);
static ngx_uint_t ngx_http_compensation_errors_apply(ngx_http_request_t *r);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static const ngx_http_compensation_special_t
    ngx_http_compensation_specials[] = {
    { NGX_HTTP_BAD_REQUEST, "BadRequest",
      "The request is malformed or its header is too large." },
    { NGX_HTTP_UNAUTHORIZED, "Unauthorized",
      "This route requires authorization." },
    { NGX_HTTP_FORBIDDEN, "Forbidden", "Access to this route is forbidden." },
    { NGX_HTTP_NOT_FOUND, "NotFound", "No such resource." },
    { NGX_HTTP_NOT_ALLOWED, "MethodNotAllowed",
      "The method is not allowed here." },
    { NGX_HTTP_REQUEST_TIME_OUT, "RequestTimeout",
      "The request was not received in time." },
    { NGX_HTTP_CONFLICT, "Conflict", "The request conflicts." },
    { NGX_HTTP_LENGTH_REQUIRED, "LengthRequired",
      "The request needs a Content-Length." },
    { NGX_HTTP_PRECONDITION_FAILED, "PreconditionFailed",
      "A precondition of the request failed." },
    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "PayloadTooLarge",
      "The request body is larger than client_max_body_size." },
    { NGX_HTTP_REQUEST_URI_TOO_LARGE, "UriTooLong",
      "The request URI is too long." },
    { NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType",
      "The media type is not supported." },
    { NGX_HTTP_RANGE_NOT_SATISFIABLE, "RangeNotSatisfiable",
      "The range cannot be satisfied." },
    { NGX_HTTP_MISDIRECTED_REQUEST, "MisdirectedRequest",
      "The request was sent to the wrong server." },
    { NGX_HTTP_TOO_MANY_REQUESTS, "TooManyRequests",
      "Too many requests." },
    { NGX_HTTP_INTERNAL_SERVER_ERROR, "InternalServerError",
      "Internal server error." },
    { NGX_HTTP_NOT_IMPLEMENTED, "NotImplemented",
      "The method is not implemented." },
    { NGX_HTTP_BAD_GATEWAY, "BadGateway", "Bad gateway." },
    { NGX_HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable",
      "The service is temporarily unavailable." },
    { NGX_HTTP_GATEWAY_TIME_OUT, "GatewayTimeout", "Gateway timeout." },
    { NGX_HTTP_VERSION_NOT_SUPPORTED, "HttpVersionNotSupported",
      "The HTTP version is not supported." },
    { NGX_HTTP_INSUFFICIENT_STORAGE, "InsufficientStorage",
      "Insufficient storage." },
    { 0, NULL, NULL }
};


/* the token check's own words for its 401 (auth.c) */
static const ngx_http_compensation_special_t
    ngx_http_compensation_token_special =
    { NGX_HTTP_UNAUTHORIZED, "Unauthorized",
      "This route requires a valid X-Auth-Token header." };

/* a status not in the table */
static const ngx_http_compensation_special_t
    ngx_http_compensation_other_4xx =
    { 0, "BadRequest", "The request cannot be served." };

static const ngx_http_compensation_special_t
    ngx_http_compensation_other_5xx =
    { 0, "InternalServerError", "The request cannot be served." };


ngx_int_t
ngx_http_compensation_errors_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_compensation_errors_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_compensation_errors_body_filter;

    return NGX_OK;
}


/* whether r's answer is nginx's error page that this filter replaces */
static ngx_uint_t
ngx_http_compensation_errors_apply(ngx_http_request_t *r)
{
    ngx_http_core_srv_conf_t          *cscf;
    ngx_http_compensation_srv_conf_t  *scf;
    ngx_http_compensation_loc_conf_t  *lcf;

    if (r != r->main || r->err_status < NGX_HTTP_BAD_REQUEST) {
        return 0;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_compensation_module);

    if (lcf != NULL && lcf->api == 1) {
        return 1;
    }

    /*
     * Still the server's own configuration: nginx found the error before
     * choosing a location (a bad request line or header, 414, 494), or no
     * location matched.  JSON when the server has an API location.
     */

    cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
    scf = ngx_http_get_module_srv_conf(r, ngx_http_compensation_module);

    return cscf != NULL && scf != NULL && scf->api
           && r->loc_conf == cscf->ctx->loc_conf;
}


static ngx_int_t
ngx_http_compensation_errors_header_filter(ngx_http_request_t *r)
{
    size_t                                  len;
    ngx_uint_t                              i, status;
    ngx_http_compensation_ctx_t            *ctx;
    const ngx_http_compensation_special_t  *sp;

    if (!ngx_http_compensation_errors_apply(r)) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_compensation_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    status = r->err_status;

    if (status == NGX_HTTP_UNAUTHORIZED && ctx->token_refused) {
        sp = &ngx_http_compensation_token_special;

    } else {
        sp = NULL;

        for (i = 0; ngx_http_compensation_specials[i].status; i++) {
            if (ngx_http_compensation_specials[i].status == status) {
                sp = &ngx_http_compensation_specials[i];
                break;
            }
        }

        if (sp == NULL) {
            sp = (status >= NGX_HTTP_INTERNAL_SERVER_ERROR)
                 ? &ngx_http_compensation_other_5xx
                 : &ngx_http_compensation_other_4xx;
        }
    }

    ctx->special_code = sp->code;
    ctx->special_msg = sp->msg;

    len = sizeof("{\"errorCode\":\"\",\"errorMsg\":\"\",\"succeeded\":false}")
          - 1 + ngx_strlen(sp->code) + ngx_strlen(sp->msg);

    r->headers_out.content_length_n = len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;

    if (ngx_http_compensation_error_header(r, sp->code) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


/* sends the document once, in place of nginx's page (dropped) */
static ngx_int_t
ngx_http_compensation_errors_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in)
{
    ngx_buf_t                    *b;
    ngx_chain_t                  *cl, out;
    ngx_http_compensation_ctx_t  *ctx;

    if (r != r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);

    if (ctx == NULL || ctx->special_code == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->special_sent) {
        return NGX_OK;
    }

    ctx->special_sent = 1;

    b = ngx_create_temp_buf(r->pool, r->headers_out.content_length_n);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_sprintf(b->last,
                          "{\"errorCode\":\"%s\",\"errorMsg\":\"%s\","
                          "\"succeeded\":false}",
                          ctx->special_code, ctx->special_msg);
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}
