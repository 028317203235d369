
/*
 * ngx_compensation: the command headers of spec 3.2 (see the header).
 * Values that cannot be what they claim are an IllegalArgument with a
 * binding error naming the header; every header is checked, so that one
 * answer names them all.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_command_headers.h"
#include "ngx_http_compensation_request.h"


static const char  *ngx_http_compensation_stages[] = {
    "SENT", "PROCESSED", "SNAPSHOT", "PROJECTED", "EVENT_HANDLED",
    "SAGA_HANDLED", NULL
};


#define ngx_http_compensation_is(h, s)                                        \
    ((h)->key.len == sizeof(s) - 1                                            \
     && ngx_strncasecmp((h)->key.data, (u_char *) s, sizeof(s) - 1) == 0)


ngx_int_t
ngx_http_compensation_command_headers(ngx_http_request_t *r,
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


