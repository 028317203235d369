
/*
 * ngx_compensation: the X-Auth-Token checks.
 *
 * compensation_auth_token[_file] guards the routes that write,
 * compensation_read_token[_file] the routes that read the store.  The check
 * runs in nginx's access phase, like auth_basic, so that it composes with
 * allow/deny, auth_request and "satisfy any|all": NGX_OK when the request
 * carries a token the route accepts, 401 when it does not, NGX_DECLINED when
 * the route needs no token.  The 401 itself is nginx's special response,
 * which the error filter (ngx_http_compensation_errors.c) turns into the
 * JSON error of API locations.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_auth.h"
#include "ngx_http_compensation_request.h"
#include "ngx_http_compensation_router.h"
#include "cf_route.h"


/* a token longer than this is refused by nginx -t */
#define NGX_HTTP_COMPENSATION_TOKEN_MAX  4096

/* the first line of a token file is looked for in this many bytes: the
 * longest token plus room for trailing blanks and its line end */
#define NGX_HTTP_COMPENSATION_TOKEN_READ  (NGX_HTTP_COMPENSATION_TOKEN_MAX \
                                           + 1024)


static const char *ngx_http_compensation_token_invalid(ngx_str_t *token);
static ngx_int_t ngx_http_compensation_access_handler(ngx_http_request_t *r);
static ngx_uint_t ngx_http_compensation_token_equal(ngx_str_t *given,
    ngx_str_t *token);
static ngx_str_t *ngx_http_compensation_given_token(ngx_http_request_t *r);


/*
 * NULL when a token can be sent as an HTTP header value, else why not.
 * Header values are VCHAR, obs-text, SP and HTAB (RFC 9110, 5.5); nginx
 * refuses a NUL and strips blanks at both ends, so a token with any of
 * these could never match.
 */
static const char *
ngx_http_compensation_token_invalid(ngx_str_t *token)
{
    size_t  i;

    if (token->len > NGX_HTTP_COMPENSATION_TOKEN_MAX) {
        return "is longer than 4096 bytes";
    }

    for (i = 0; i < token->len; i++) {
        if ((token->data[i] < 0x20 && token->data[i] != '\t')
            || token->data[i] == 0x7f)
        {
            return "holds a control character (NUL, CR, LF, DEL or another"
                   " byte below 0x20) that cannot be sent in an HTTP header";
        }
    }

    if (token->len
        && (token->data[0] == ' ' || token->data[0] == '\t'
            || token->data[token->len - 1] == ' '
            || token->data[token->len - 1] == '\t'))
    {
        return "starts or ends with a blank, which HTTP strips from"
               " header values";
    }

    return NULL;
}


/* the post handler of compensation_auth_token and compensation_read_token */
char *
ngx_http_compensation_token_post(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *token = data;

    ngx_str_t   *value;
    const char  *why;

    why = ngx_http_compensation_token_invalid(token);

    if (why != NULL) {
        /* the message never shows the token */
        value = cf->args->elts;
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": the token %s",
                           &value[0], why);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * compensation_auth_token_file <path>;
 * compensation_read_token_file <path>;
 *
 * The token is the file's first line (trailing CR/LF and blanks removed),
 * read once at configuration time, so that it is not in nginx.conf.  The
 * limit applies to the token, not to the file.  Errors name the file, never
 * its content.
 */
char *
ngx_http_compensation_token_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    u_char           *buf, *last;
    size_t            size;
    ssize_t           n;
    ngx_str_t        *value, name, *field, token;
    const char       *why;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = name;
    file.log = cf->log;

    file.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &name);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &name);
        goto failed;
    }

    size = (size_t) ngx_min(ngx_file_size(&fi),
                            NGX_HTTP_COMPENSATION_TOKEN_READ);

    buf = ngx_pnalloc(cf->pool, size + 1);
    if (buf == NULL) {
        goto failed;
    }

    n = ngx_read_file(&file, buf, size, 0);
    if (n == NGX_ERROR || (size_t) n != size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\" \"%V\" cannot be read", &cmd->name, &name);
        goto failed;
    }

    (void) ngx_close_file(file.fd);

    /* the first line, without its line end and trailing blanks */

    for (last = buf; last < buf + size && *last != LF && *last != CR; last++) {
        /* void */
    }

    if (last == buf + size && ngx_file_size(&fi) > (off_t) size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" \"%V\": the token is longer than 4096"
                           " bytes", &cmd->name, &name);
        return NGX_CONF_ERROR;
    }

    while (last > buf && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    if (last == buf) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" \"%V\" holds an empty token",
                           &cmd->name, &name);
        return NGX_CONF_ERROR;
    }

    token.data = buf;
    token.len = last - buf;

    why = ngx_http_compensation_token_invalid(&token);

    if (why != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" \"%V\": the token %s",
                           &cmd->name, &name, why);
        return NGX_CONF_ERROR;
    }

    *field = token;

    return NGX_CONF_OK;

failed:

    (void) ngx_close_file(file.fd);

    return NGX_CONF_ERROR;
}


ngx_int_t
ngx_http_compensation_auth_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_compensation_access_handler;

    return NGX_OK;
}


/*
 * A route that writes takes the write token; a route that reads the store
 * takes the read token or the write token; the routes served without the
 * store (health, ids, metadata, documents) take none.  An unknown route is
 * left to the content handler's 404/405.
 */
static ngx_int_t
ngx_http_compensation_access_handler(ngx_http_request_t *r)
{
    ngx_str_t                          *given;
    ngx_uint_t                          ok;
    ngx_http_compensation_ctx_t        *ctx;
    ngx_http_compensation_loc_conf_t   *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_compensation_module);

    if (!lcf->api || (lcf->auth_token.len == 0 && lcf->read_token.len == 0)) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_compensation_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->route == NULL
        && ngx_http_compensation_route_match(r, ctx, NULL) != CF_ROUTE_FOUND)
    {
        return NGX_DECLINED;
    }

    if (ctx->route->mutating) {
        if (lcf->auth_token.len == 0) {
            return NGX_DECLINED;
        }

    } else if (ctx->route->no_store || lcf->read_token.len == 0) {
        return NGX_DECLINED;
    }

    given = ngx_http_compensation_given_token(r);

    ok = 0;

    if (given != NULL) {
        /* both comparisons always run: the time does not tell which */
        ok = ngx_http_compensation_token_equal(given, &lcf->auth_token);

        if (!ctx->route->mutating) {
            ok |= ngx_http_compensation_token_equal(given, &lcf->read_token);
        }
    }

    if (ok) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "compensation: missing or wrong X-Auth-Token for %V %V",
                  &r->method_name, &r->uri);

    ctx->token_refused = 1;

    return NGX_HTTP_UNAUTHORIZED;
}


/* the X-Auth-Token value when there is exactly one, else NULL */
static ngx_str_t *
ngx_http_compensation_given_token(ngx_http_request_t *r)
{
    ngx_uint_t   n;
    ngx_str_t   *given;

    given = ngx_http_compensation_headers(r, "X-Auth-Token",
                                          sizeof("X-Auth-Token") - 1, &n);

    return n == 1 ? given : NULL;
}


/*
 * 1 when given equals a configured (non-empty) token.  The comparison takes
 * the same time wherever the first difference is (it always walks the whole
 * configured token); only the length of the configured token can be timed.
 * Neither value is ever logged.
 */
static ngx_uint_t
ngx_http_compensation_token_equal(ngx_str_t *given, ngx_str_t *token)
{
    size_t      i;
    ngx_uint_t  diff;

    if (token->len == 0) {
        return 0;
    }

    diff = given->len ^ token->len;

    for (i = 0; i < token->len; i++) {
        diff |= (ngx_uint_t) (token->data[i]
                              ^ (i < given->len ? given->data[i] : 0));
    }

    return diff == 0;
}
