
/*
 * ngx_compensation: X-Auth-Token in the access phase (compensation_auth_token,
 * compensation_read_token and their _file forms).
 */


#ifndef _NGX_HTTP_COMPENSATION_AUTH_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_AUTH_H_INCLUDED_


#include "ngx_http_compensation_module.h"


char *ngx_http_compensation_token_post(ngx_conf_t *cf, void *post,
    void *data);
char *ngx_http_compensation_token_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_compensation_auth_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_COMPENSATION_AUTH_H_INCLUDED_ */
