
/*
 * ngx_compensation: the state read routes (spec 3.6).
 */


#include "ngx_http_compensation_module.h"


/* GET /execution_failed/{id}/state: the bare state, 404 if absent/deleted */
ngx_int_t
ngx_http_compensation_state_handler(ngx_http_request_t *r)
{
    char                               *id;
    json_t                             *state;
    ngx_int_t                           rc;
    ngx_uint_t                          sse;
    cf_error_t                          err;
    cf_aggregate_t                      agg;
    ngx_http_compensation_ctx_t        *ctx;
    ngx_http_compensation_main_conf_t  *mcf;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_compensation_accepts(r, 0, &sse) != NGX_OK) {
        return ngx_http_compensation_send_error_code(r,
                   NGX_HTTP_COMPENSATION_NOT_ACCEPTABLE, "NotAcceptable",
                   "The acceptable media type is application/json.");
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    if (ngx_http_compensation_check_id(r, &ctx->vars[0]) != NGX_OK) {
        return ngx_http_compensation_send_error_code(r,
                   NGX_HTTP_BAD_REQUEST, CF_E_ILLEGAL_ARGUMENT,
                   "The aggregate id in the path must be 1 to %d"
                   " characters without control characters.",
                   CF_MAX_ID_LEN);
    }

    id = ngx_http_compensation_strdup(r->pool, &ctx->vars[0]);
    if (id == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (cf_aggregate_init(&agg, id) != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cf_error_init(&err);

    if (cf_store_load(mcf->store, &agg, &err) != 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "compensation: loading \"%s\" failed: %s", id,
                      err.msg);
        cf_error_free(&err);
        cf_aggregate_free(&agg);

        return ngx_http_compensation_send_error_code(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, CF_E_INTERNAL,
                   "Unexpected server error");
    }

    if (agg.version == 0 || agg.deleted) {
        cf_aggregate_free(&agg);

        return ngx_http_compensation_send_error_code(r, NGX_HTTP_NOT_FOUND,
                   CF_E_NOT_FOUND, "%s is not initialized or deleted.", id);
    }

    state = cf_state_to_json(&agg.state);
    cf_aggregate_free(&agg);

    if (state == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_compensation_send_json(r, NGX_HTTP_OK, CF_OK, state);
    json_decref(state);

    return rc;
}
