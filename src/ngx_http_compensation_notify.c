
/*
 * ngx_compensation: notifications (spec 7.4), "compensation_notify".
 *
 * When a command of the API commits one of the events the original
 * notifies about, and the configured event set has it, a message about the
 * execution's new state is POSTed to the compensation_notify location
 * through the sink's background subrequest (ngx_http_compensation_sink.c):
 * nginx's proxy to an upstream{} does the delivery, its timeouts and TLS.
 * The command's reply is sent as usual and never waits for it; a failed
 * delivery is logged and counted (compensation_sink_deliveries_total,
 * kind "notification"), never retried.
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_metrics.h"
#include "ngx_http_compensation_notify.h"
#include "ngx_http_compensation_response.h"
#include "ngx_http_compensation_sink.h"
#include "cf_notify.h"


/* the scheduler's batch request, woken when a delivery ends */
typedef struct {
    ngx_http_request_t    *r;
    ngx_uint_t            *inflight;
} ngx_http_compensation_notify_wake_t;


struct ngx_http_compensation_notify_conf_s {
    ngx_str_t              uri;
    cf_notify_format_t     format;
    unsigned               events;
    ngx_str_t              host;
};


static void ngx_http_compensation_notify_done(ngx_http_request_t *r,
    void *data, ngx_uint_t ok, ngx_uint_t status);


/*
 * compensation_notify <uri> [format=json|wecom] [events=<e>,<e>...]
 *                     [host=<dashboard url>];
 * compensation_notify off;
 */
char *
ngx_http_compensation_notify(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_compensation_loc_conf_t  *lcf = conf;

    u_char                              *p, *last, *comma;
    unsigned                             bit;
    ngx_str_t                           *value, s;
    ngx_uint_t                           i;
    ngx_http_compensation_notify_conf_t *nc;

    if (lcf->notify != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        lcf->notify = NULL;
        return NGX_CONF_OK;
    }

    if (value[1].len == 0 || value[1].data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "compensation_notify \"%V\""
                           " must be a location path starting with \"/\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    nc = ngx_pcalloc(cf->pool, sizeof(ngx_http_compensation_notify_conf_t));
    if (nc == NULL) {
        return NGX_CONF_ERROR;
    }

    nc->uri = value[1];
    nc->format = CF_NOTIFY_JSON;
    nc->events = cf_notify_default_events();

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "format=json") == 0) {
            nc->format = CF_NOTIFY_JSON;
            continue;
        }

        if (ngx_strcmp(value[i].data, "format=wecom") == 0) {
            nc->format = CF_NOTIFY_WECOM;
            continue;
        }

        if (ngx_strncmp(value[i].data, "host=", 5) == 0) {
            nc->host.data = value[i].data + 5;
            nc->host.len = value[i].len - 5;

            if (ngx_strncmp(nc->host.data, "http://", 7) != 0
                && ngx_strncmp(nc->host.data, "https://", 8) != 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "compensation_notify: \"%V\" must be an"
                                   " http:// or https:// URL", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "events=", 7) == 0) {
            nc->events = 0;
            p = value[i].data + 7;
            last = value[i].data + value[i].len;

            while (p <= last) {
                comma = ngx_strlchr(p, last, ',');
                if (comma == NULL) {
                    comma = last;
                }

                s.data = p;
                s.len = comma - p;

                bit = cf_notify_parse_event((char *) s.data, s.len);

                if (bit == 0) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                        "compensation_notify: unknown event \"%V\" (one of"
                        " execution_failed_created, execution_failed_applied,"
                        " execution_success_applied, compensation_prepared,"
                        " recoverable_marked)", &s);
                    return NGX_CONF_ERROR;
                }

                nc->events |= bit;
                p = comma + 1;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "compensation_notify: invalid parameter \"%V\"",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    lcf->notify = nc;

    return NGX_CONF_OK;
}


ngx_uint_t
ngx_http_compensation_notify_wanted(ngx_http_compensation_loc_conf_t *lcf,
    ngx_int_t command)
{
    int                                   ev;
    ngx_http_compensation_notify_conf_t  *nc;

    nc = lcf->notify;

    if (nc == NULL || nc == NGX_CONF_UNSET_PTR) {
        return 0;
    }

    ev = cf_notify_event((cf_command_type_t) command);

    return ev >= 0 && (nc->events & cf_notify_bit((cf_event_type_t) ev));
}


/*
 * A command committed on r: notify when its event is configured.  state is
 * the document its transaction stored (the write kept it because
 * notify_wanted said so: no read of the store here, the event loop never
 * waits on it).  Called before the reply is sent; the subrequest runs after
 * it.  inflight (the scheduler's batch, whose request r must outlive the
 * delivery) counts the deliveries in flight; r is posted again when each
 * ends.
 */
void
ngx_http_compensation_notify_command(ngx_http_request_t *r,
    ngx_int_t command, const char *aggregate_id, const char *state,
    ngx_uint_t *inflight)
{
    int                                   ev;
    u_char                               *p;
    cf_buf_t                             *text;
    ngx_str_t                             doc;
    ngx_http_compensation_notify_conf_t  *nc;
    ngx_http_compensation_notify_wake_t  *wake;
    ngx_http_compensation_loc_conf_t     *lcf;

    if (r == NULL) {
        return;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_compensation_module);

    if (!ngx_http_compensation_notify_wanted(lcf, command)) {
        return;
    }

    nc = lcf->notify;
    ev = cf_notify_event((cf_command_type_t) command);

    if (state == NULL) {
        /* the write could not keep it (out of memory) */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "compensation: notify: the state of \"%s\" is not"
                      " known, no message", aggregate_id);
        ngx_http_compensation_metrics_sink("notification", 0);
        return;
    }

    text = ngx_http_compensation_text_buffer();

    if (cf_notify_render(text, nc->format, (cf_event_type_t) ev, state,
                         ngx_strlen(state), (char *) nc->host.data,
                         nc->host.len, ngx_http_compensation_now_ms())
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "compensation: notify: cannot render the message"
                      " about \"%s\"", aggregate_id);
        ngx_http_compensation_metrics_sink("notification", 0);
        return;
    }

    p = ngx_pnalloc(r->pool, text->len);
    if (p == NULL) {
        ngx_http_compensation_metrics_sink("notification", 0);
        return;
    }

    doc.data = ngx_cpymem(p, text->data, text->len) - text->len;
    doc.len = text->len;

    wake = NULL;

    if (inflight) {
        wake = ngx_palloc(r->pool, sizeof(ngx_http_compensation_notify_wake_t));
        if (wake == NULL) {
            ngx_http_compensation_metrics_sink("notification", 0);
            return;
        }

        wake->r = r;
        wake->inflight = inflight;
    }

    if (ngx_http_compensation_sink_post_to(r, &nc->uri, &doc, "notification",
                                           ngx_http_compensation_notify_done,
                                           wake)
        == NGX_OK)
    {
        if (inflight) {
            (*inflight)++;
        }

    } else {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "compensation: notify: cannot post the message about"
                      " \"%s\" to \"%V\"", aggregate_id, &nc->uri);
        ngx_http_compensation_metrics_sink("notification", 0);
    }
}


/* the sink has logged a failure and counted the delivery */
static void
ngx_http_compensation_notify_done(ngx_http_request_t *r, void *data,
    ngx_uint_t ok, ngx_uint_t status)
{
    ngx_http_compensation_notify_wake_t  *wake = data;

    if (wake) {
        (*wake->inflight)--;

        /* runs once the subrequest has let go of its count */
        (void) ngx_http_post_request(wake->r, NULL);
    }
}
