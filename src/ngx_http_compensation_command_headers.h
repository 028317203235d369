
/*
 * ngx_compensation: the command headers of spec 3.2 (Command-Wait-Stage,
 * Command-Wait-Timeout, Command-Aggregate-Id/-Version, Command-Request-Id,
 * Command-Owner-Id, Command-Local-First, Command-Header-*), parsed into what
 * a command needs and the header of its event stream.
 */


#ifndef _NGX_HTTP_COMPENSATION_COMMAND_HEADERS_H_INCLUDED_
#define _NGX_HTTP_COMPENSATION_COMMAND_HEADERS_H_INCLUDED_


#include "ngx_http_compensation_module.h"


#define NGX_HTTP_COMPENSATION_MAX_HEADER_LEN   4096
#define NGX_HTTP_COMPENSATION_MAX_EXT_HEADERS  64


/* the wait stages of spec 3.2, in order */
typedef enum {
    NGX_HTTP_COMPENSATION_SENT = 0,
    NGX_HTTP_COMPENSATION_PROCESSED,
    NGX_HTTP_COMPENSATION_SNAPSHOT,
    NGX_HTTP_COMPENSATION_PROJECTED,
    NGX_HTTP_COMPENSATION_EVENT_HANDLED,
    NGX_HTTP_COMPENSATION_SAGA_HANDLED
} ngx_http_compensation_stage_e;


#define NGX_HTTP_COMPENSATION_WAIT_TIMEOUT  30000


/* the command headers of spec 3.2, parsed */
typedef struct {
    ngx_uint_t          stage;
    ngx_msec_t          wait_timeout;
    int64_t             expected_version;
    char               *aggregate_id;
    char               *request_id;
    char               *owner_id;
    json_t             *header;        /* the event stream's header */
} ngx_http_compensation_cmd_headers_t;



/*
 * Fills ch (strings in r's pool, the header object released with it).
 * NGX_OK; NGX_DECLINED: a header cannot be what it claims, err names it
 * (IllegalArgument with a binding error per header); NGX_ERROR.
 */
ngx_int_t ngx_http_compensation_command_headers(ngx_http_request_t *r,
    ngx_http_compensation_cmd_headers_t *ch, cf_error_t *err);


#endif /* _NGX_HTTP_COMPENSATION_COMMAND_HEADERS_H_INCLUDED_ */
