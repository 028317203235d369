
/*
 * ngx_compensation: the scheduler's directives: "compensation_scheduler"
 * (interval, batch, concurrency, lease, cancel_check) and
 * "compensation_target <contextName> <uri> [mode=sync|async]".
 *
 * Dependencies: ngx_http_compensation_scheduler_conf.h.
 */


#include "ngx_http_compensation_scheduler_conf.h"


static ngx_http_compensation_sched_conf_t *
ngx_http_compensation_sched_conf(ngx_conf_t *cf,
    ngx_http_compensation_main_conf_t *mcf)
{
    ngx_http_compensation_sched_conf_t  *scf;

    if (mcf->scheduler) {
        return mcf->scheduler;
    }

    scf = ngx_pcalloc(cf->pool, sizeof(ngx_http_compensation_sched_conf_t));
    if (scf == NULL) {
        return NULL;
    }

    scf->enabled = NGX_CONF_UNSET;
    scf->interval = 1000;
    scf->batch = 100;
    scf->concurrency = 16;
    scf->lease = 60000;
    scf->cancel_check = 100;

    if (ngx_array_init(&scf->targets, cf->pool, 4,
                       sizeof(ngx_http_compensation_target_t))
        != NGX_OK)
    {
        return NULL;
    }

    mcf->scheduler = scf;

    return scf;
}


/* compensation_scheduler off | [interval=] [batch=] [concurrency=]
 * [lease=] [cancel_check=] */
char *
ngx_http_compensation_scheduler(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_compensation_main_conf_t  *mcf = conf;

    ngx_int_t                            n;
    ngx_msec_t                           ms;
    ngx_str_t                           *value, v;
    ngx_uint_t                           i;
    ngx_http_compensation_sched_conf_t  *scf;

    scf = ngx_http_compensation_sched_conf(cf, mcf);
    if (scf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (scf->enabled != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        scf->enabled = 0;
        return NGX_CONF_OK;
    }

    scf->enabled = 1;

    for (i = 1; i < cf->args->nelts; i++) {

#define NGX_SCHED_MSEC(name, field)                                          \
        if (ngx_strncmp(value[i].data, name "=", sizeof(name)) == 0) {        \
            v.data = value[i].data + sizeof(name);                           \
            v.len = value[i].len - sizeof(name);                             \
            ms = ngx_parse_time(&v, 0);                                      \
            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {                    \
                goto invalid;                                                \
            }                                                                \
            scf->field = ms;                                                 \
            continue;                                                        \
        }

#define NGX_SCHED_NUM(name, field, max)                                      \
        if (ngx_strncmp(value[i].data, name "=", sizeof(name)) == 0) {        \
            n = ngx_atoi(value[i].data + sizeof(name),                       \
                         value[i].len - sizeof(name));                       \
            if (n == NGX_ERROR || n < 1 || n > (max)) {                       \
                goto invalid;                                                \
            }                                                                \
            scf->field = n;                                                  \
            continue;                                                        \
        }

        NGX_SCHED_MSEC("interval", interval)
        NGX_SCHED_MSEC("lease", lease)
        NGX_SCHED_MSEC("cancel_check", cancel_check)
        NGX_SCHED_NUM("batch", batch, 10000)
        NGX_SCHED_NUM("concurrency", concurrency, 1024)

#undef NGX_SCHED_MSEC
#undef NGX_SCHED_NUM

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &value[i]);
    return NGX_CONF_ERROR;
}


/* compensation_target <contextName> <internal-location-uri> [mode=sync|async]
 * in server{}: every target must be in the same server{} */
char *
ngx_http_compensation_target(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                           *value;
    ngx_uint_t                           i;
    ngx_http_compensation_target_t      *t;
    ngx_http_compensation_sched_conf_t  *scf;
    ngx_http_compensation_main_conf_t   *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_compensation_module);

    scf = ngx_http_compensation_sched_conf(cf, mcf);
    if (scf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (scf->srv_ctx && scf->srv_ctx->srv_conf != ((ngx_http_conf_ctx_t *)
                                                   cf->ctx)->srv_conf)
    {
        return "must be in the same server{} as the other"
               " compensation_target directives";
    }

    scf->srv_ctx = cf->ctx;

    value = cf->args->elts;

    if (value[2].len == 0 || value[2].data[0] != '/'
        || value[2].data[value[2].len - 1] == '/')
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "the target location"
                           " \"%V\" must start with \"/\" and not end"
                           " with it", &value[2]);
        return NGX_CONF_ERROR;
    }

    t = scf->targets.elts;

    for (i = 0; i < scf->targets.nelts; i++) {
        if (t[i].context.len == value[1].len
            && ngx_strncmp(t[i].context.data, value[1].data, value[1].len)
               == 0)
        {
            return "is duplicate for this context";
        }
    }

    t = ngx_array_push(&scf->targets);
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    t->context = value[1];
    t->uri = value[2];
    t->sync = 0;

    if (cf->args->nelts == 4) {
        if (ngx_strcmp(value[3].data, "mode=sync") == 0) {
            t->sync = 1;

        } else if (ngx_strcmp(value[3].data, "mode=async") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[3]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}
