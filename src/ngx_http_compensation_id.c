
/*
 * ngx_compensation: ids.  The machine id of each worker (cf_cosid.h has the
 * scheme), the slot table in shared memory, "GET /wow/id/global" (spec 6.4)
 * and CosId's actuator endpoints (spec 11): /actuator/cosid[/{name}],
 * /actuator/cosidGenerator[/{name}], /actuator/cosidStringGenerator[/{name}].
 */


#include "ngx_http_compensation_module.h"
#include "ngx_http_compensation_id.h"
#include "ngx_http_compensation_router.h"
#include "ngx_http_compensation_request.h"
#include "ngx_http_compensation_response.h"


/* the most ids one "GET /wow/id/global?count=N" answers (an extension) */
#define NGX_HTTP_COMPENSATION_MAX_ID_COUNT  10000


/* the generators the actuator lists, by name */
#define NGX_HTTP_COMPENSATION_GEN_SHARE  0   /* numeric SnowflakeId */
#define NGX_HTTP_COMPENSATION_GEN_COSID  1   /* the service's string ids */
#define NGX_HTTP_COMPENSATION_GEN_COUNT  2

static const char  *ngx_http_compensation_gen_names[] = {
    "__share__", "cosid"
};


/*
 * Allocated from the zone's slab pool: nginx initialises every shared zone
 * as an ngx_slab_pool_t before the zone's init, and the master force-unlocks
 * that pool's mutex when a worker dies abnormally (ngx_unlock_mutexes()), so
 * the header must stay intact and the lock must be the pool's.
 */
typedef struct {
    ngx_slab_pool_t     *shpool;
    ngx_atomic_t         removed;           /* bit per generator */
    cf_cosid_lease_t     slots[CF_COSID_SLOTS];
} ngx_http_compensation_cosid_shm_t;


static ngx_int_t ngx_http_compensation_cosid_init_zone(
    ngx_shm_zone_t *shm_zone, void *data);
static ngx_http_compensation_cosid_shm_t *ngx_http_compensation_cosid_shm(
    ngx_http_compensation_main_conf_t *mcf);
static ngx_int_t ngx_http_compensation_gen_lookup(ngx_http_request_t *r,
    ngx_str_t *name);
static json_t *ngx_http_compensation_gen_stat(ngx_http_request_t *r,
    ngx_int_t gen);
static ngx_int_t ngx_http_compensation_id_count(ngx_http_request_t *r,
    ngx_uint_t *count);


/* compensation_machine_id <node>; */
char *
ngx_http_compensation_machine_id(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_compensation_main_conf_t  *mcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (mcf->machine_node != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || n > (ngx_int_t) CF_COSID_MAX_NODE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid node id \"%V\": must be 0 to %d",
                           &value[1], (int) CF_COSID_MAX_NODE);
        return NGX_CONF_ERROR;
    }

    mcf->machine_node = n;

    return NGX_CONF_OK;
}


/* the shared zone of this nginx: slot leases and the actuator's registry */
ngx_int_t
ngx_http_compensation_id_conf(ngx_conf_t *cf,
    ngx_http_compensation_main_conf_t *mcf)
{
    size_t     size;
    ngx_str_t  name = ngx_string("compensation_cosid");

    /* the slab pool's own pages, then room for the state */
    size = 8 * ngx_pagesize
           + ngx_align(sizeof(ngx_http_compensation_cosid_shm_t),
                       ngx_pagesize);

    mcf->cosid_zone = ngx_shared_memory_add(cf, &name, size,
                                            &ngx_http_compensation_module);
    if (mcf->cosid_zone == NULL) {
        return NGX_ERROR;
    }

    mcf->cosid_zone->init = ngx_http_compensation_cosid_init_zone;
    mcf->cosid_zone->data = mcf;

    return NGX_OK;
}


static ngx_int_t
ngx_http_compensation_cosid_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t                    *shpool;
    ngx_http_compensation_cosid_shm_t  *sh;

    if (data) {
        /* a reload: keep the leases of the workers still running */
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_compensation_cosid_shm_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->shpool = shpool;
    shpool->data = sh;
    shm_zone->data = sh;

    return NGX_OK;
}


static ngx_http_compensation_cosid_shm_t *
ngx_http_compensation_cosid_shm(ngx_http_compensation_main_conf_t *mcf)
{
    if (mcf->cosid_zone == NULL) {
        return NULL;
    }

    return mcf->cosid_zone->data;
}


ngx_int_t
ngx_http_compensation_id_init_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf)
{
    int                                 slot;
    uint32_t                            machine;
    uint64_t                            start;
    ngx_http_compensation_cosid_shm_t  *sh;

    sh = ngx_http_compensation_cosid_shm(mcf);

    if (sh == NULL) {
        return NGX_OK;
    }

    /* the lease names this process, not only its pid: a pid is reused */
    if (cf_cosid_pid_start((int32_t) ngx_pid, &start) != 0) {
        start = 0;
    }

    ngx_shmtx_lock(&sh->shpool->mutex);
    slot = cf_cosid_slot_claim(sh->slots, CF_COSID_SLOTS, (int32_t) ngx_pid,
                               start, cf_cosid_lease_alive);
    ngx_shmtx_unlock(&sh->shpool->mutex);

    if (slot < 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "compensation: all %ui CosId machine slots of this"
                      " nginx belong to running processes",
                      (ngx_uint_t) CF_COSID_SLOTS);
        return NGX_ERROR;
    }

    mcf->cosid_slot = slot;

    machine = cf_cosid_machine_id(mcf->machine_node == NGX_CONF_UNSET
                                  ? -1 : (int32_t) mcf->machine_node,
                                  (uint32_t) slot, (int64_t) ngx_pid);

    cf_id_init(&mcf->ids, machine);
    cf_snowflake_init(&mcf->snowflake, (uint32_t) slot);

    ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                  "compensation: CosId machine id %uD (slot %d, node %i)",
                  machine, slot, mcf->machine_node == NGX_CONF_UNSET
                                 ? -1 : mcf->machine_node);

    return NGX_OK;
}


void
ngx_http_compensation_id_exit_process(ngx_cycle_t *cycle,
    ngx_http_compensation_main_conf_t *mcf)
{
    ngx_http_compensation_cosid_shm_t  *sh;

    sh = ngx_http_compensation_cosid_shm(mcf);

    if (sh == NULL || mcf->cosid_slot < 0) {
        return;
    }

    ngx_shmtx_lock(&sh->shpool->mutex);
    cf_cosid_slot_release(sh->slots, CF_COSID_SLOTS, (int32_t) ngx_pid);
    ngx_shmtx_unlock(&sh->shpool->mutex);

    mcf->cosid_slot = -1;
}


/* "count" of the query string: absent 1, else 1..MAX (our extension) */
static ngx_int_t
ngx_http_compensation_id_count(ngx_http_request_t *r, ngx_uint_t *count)
{
    int64_t    n;
    ngx_str_t  v;

    *count = 1;

    if (r->args.len == 0) {
        return NGX_OK;
    }

    if (ngx_http_arg(r, (u_char *) "count", 5, &v) != NGX_OK) {
        return NGX_OK;
    }

    if (cf_int_parse(v.data, v.len, NGX_HTTP_COMPENSATION_MAX_ID_COUNT, &n)
        != 0
        || n < 1)
    {
        return NGX_DECLINED;
    }

    *count = (ngx_uint_t) n;

    return NGX_OK;
}


/*
 * GET /wow/id/global: one new id as text/plain (spec 6.4).  Extension:
 * "?count=N" (1..10000) answers N ids, one per line, in generation order.
 */
ngx_int_t
ngx_http_compensation_global_id_handler(ngx_http_request_t *r)
{
    u_char                             *body, *p;
    int64_t                             now;
    ngx_int_t                           rc;
    ngx_uint_t                          i, count;
    ngx_http_compensation_main_conf_t  *mcf;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_compensation_id_count(r, &count) != NGX_OK) {
        return ngx_http_compensation_send_error_code(r, NGX_HTTP_BAD_REQUEST,
                   CF_E_ILLEGAL_ARGUMENT,
                   "count must be an integer from 1 to %d.",
                   NGX_HTTP_COMPENSATION_MAX_ID_COUNT);
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    body = ngx_pnalloc(r->pool, count * (CF_ID_LEN + 1) + 1);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    now = ngx_http_compensation_now_ms();
    p = body;

    for (i = 0; i < count; i++) {
        cf_id_next(&mcf->ids, now, (char *) p);
        p += CF_ID_LEN;

        if (count > 1) {
            *p++ = '\n';
        }
    }

    return ngx_http_compensation_send_text(r, NGX_HTTP_OK, "text/plain",
                                           body, p - body);
}


/* the generator named name, or -1 (unknown, or removed by a DELETE) */
static ngx_int_t
ngx_http_compensation_gen_lookup(ngx_http_request_t *r, ngx_str_t *name)
{
    ngx_int_t                           i;
    ngx_http_compensation_main_conf_t  *mcf;
    ngx_http_compensation_cosid_shm_t  *sh;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);
    sh = ngx_http_compensation_cosid_shm(mcf);

    for (i = 0; i < NGX_HTTP_COMPENSATION_GEN_COUNT; i++) {
        if (name->len == ngx_strlen(ngx_http_compensation_gen_names[i])
            && ngx_strncmp(name->data, ngx_http_compensation_gen_names[i],
                           name->len) == 0)
        {
            if (sh && (sh->removed & ((ngx_atomic_uint_t) 1 << i))) {
                return -1;
            }

            return i;
        }
    }

    return -1;
}


static json_t *
ngx_http_compensation_gen_stat(ngx_http_request_t *r, ngx_int_t gen)
{
    ngx_http_compensation_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    if (gen == NGX_HTTP_COMPENSATION_GEN_SHARE) {
        return json_pack("{s:s, s:I, s:I, s:i, s:i, s:i, s:I, s:i,"
                         " s:{s:s, s:b, s:i}}",
                         "kind", "MillisecondSnowflakeId",
                         "machineId", (json_int_t) mcf->snowflake.machine_id,
                         "epoch", (json_int_t) CF_SNOWFLAKE_EPOCH,
                         "timestampBit", 41,
                         "machineBit", CF_SNOWFLAKE_MACHINE_BITS,
                         "sequenceBit", CF_SNOWFLAKE_SEQ_BITS,
                         "lastTimestamp",
                         (json_int_t) (mcf->snowflake.last_ms < 0
                                       ? -1
                                       : mcf->snowflake.last_ms
                                         + CF_SNOWFLAKE_EPOCH),
                         "processId", (int) ngx_pid,
                         "converter",
                             "kind", "Radix62IdConverter",
                             "padStart", 1,
                             "charSize", CF_SNOWFLAKE_STR_LEN);
    }

    return json_pack("{s:s, s:I, s:I, s:I, s:i, s:{s:s, s:i, s:i, s:i}}",
                     "kind", "Radix62CosIdGenerator",
                     "machineId", (json_int_t) mcf->ids.machine_id,
                     "lastTimestamp", (json_int_t) mcf->ids.last_ms,
                     "sequence", (json_int_t) mcf->ids.seq,
                     "processId", (int) ngx_pid,
                     "converter",
                         "kind", "Radix62CosIdStateParser",
                         "timestampDigits", 8,
                         "machineDigits", 4,
                         "sequenceDigits", 3);
}


/*
 * GET /actuator/cosid: name -> statistics of every registered generator;
 * GET /actuator/cosid/{name}: one; DELETE /actuator/cosid/{name}: removes
 * it from the registry (for every worker) and answers its statistics.  As
 * in CosId, removing a generator from the registry does not stop the
 * service's own ids.
 */
ngx_int_t
ngx_http_compensation_cosid_handler(ngx_http_request_t *r)
{
    json_t                             *doc, *stat;
    ngx_int_t                           i, gen, rc;
    ngx_atomic_uint_t                   bit;
    ngx_str_t                           name;
    ngx_http_compensation_ctx_t        *ctx;
    ngx_http_compensation_main_conf_t  *mcf;
    ngx_http_compensation_cosid_shm_t  *sh;

    if (ngx_http_compensation_no_body(r, 0, NULL, &rc) != NGX_OK) {
        return rc;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    if (ctx->nvars == 0) {
        doc = json_object();
        if (doc == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        for (i = 0; i < NGX_HTTP_COMPENSATION_GEN_COUNT; i++) {
            name.data = (u_char *) ngx_http_compensation_gen_names[i];
            name.len = ngx_strlen(name.data);

            if (ngx_http_compensation_gen_lookup(r, &name) < 0) {
                continue;
            }

            stat = ngx_http_compensation_gen_stat(r, i);

            if (json_object_set_new(doc, ngx_http_compensation_gen_names[i],
                                    stat) != 0)
            {
                json_decref(doc);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        rc = ngx_http_compensation_send_json(r, NGX_HTTP_OK, CF_OK, doc);
        json_decref(doc);
        return rc;
    }

    gen = ngx_http_compensation_gen_lookup(r, &ctx->vars[0]);

    if (gen < 0) {
        return ngx_http_compensation_send_error_code(r, NGX_HTTP_NOT_FOUND,
                   CF_E_NOT_FOUND, "No id generator named \"%V\".",
                   &ctx->vars[0]);
    }

    stat = ngx_http_compensation_gen_stat(r, gen);
    if (stat == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_DELETE) {
        sh = ngx_http_compensation_cosid_shm(mcf);
        bit = (ngx_atomic_uint_t) 1 << gen;

        if (sh) {
            ngx_shmtx_lock(&sh->shpool->mutex);

            if (sh->removed & bit) {
                /* another request removed it meanwhile */
                ngx_shmtx_unlock(&sh->shpool->mutex);
                json_decref(stat);

                return ngx_http_compensation_send_error_code(r,
                           NGX_HTTP_NOT_FOUND, CF_E_NOT_FOUND,
                           "No id generator named \"%V\".", &ctx->vars[0]);
            }

            sh->removed |= bit;
            ngx_shmtx_unlock(&sh->shpool->mutex);
        }

        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "compensation: id generator \"%V\" removed from the"
                      " actuator registry", &ctx->vars[0]);
    }

    rc = ngx_http_compensation_send_json(r, NGX_HTTP_OK, CF_OK, stat);
    json_decref(stat);

    return rc;
}


/*
 * GET /actuator/cosidGenerator[/{name}]: a new numeric id (a JSON number);
 * GET /actuator/cosidStringGenerator[/{name}]: a new id as text.  Without a
 * name: the shared generator "__share__".
 */
ngx_int_t
ngx_http_compensation_cosid_generate_handler(ngx_http_request_t *r)
{
    u_char                             *p;
    json_t                             *num;
    int64_t                             now, id;
    ngx_int_t                           gen, rc;
    ngx_str_t                           share = ngx_string("__share__");
    ngx_uint_t                          as_string;
    ngx_http_compensation_ctx_t        *ctx;
    ngx_http_compensation_main_conf_t  *mcf;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_compensation_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_compensation_module);

    as_string = ngx_strstr(ctx->route->pattern, "String") != NULL;

    gen = ngx_http_compensation_gen_lookup(r, ctx->nvars ? &ctx->vars[0]
                                                         : &share);
    if (gen < 0) {
        return ngx_http_compensation_send_error_code(r, NGX_HTTP_NOT_FOUND,
                   CF_E_NOT_FOUND, "No id generator named \"%V\".",
                   ctx->nvars ? &ctx->vars[0] : &share);
    }

    now = ngx_http_compensation_now_ms();

    if (gen == NGX_HTTP_COMPENSATION_GEN_COSID) {
        if (!as_string) {
            return ngx_http_compensation_send_error_code(r,
                       NGX_HTTP_BAD_REQUEST, CF_E_ILLEGAL_ARGUMENT,
                       "The id generator \"cosid\" generates string ids"
                       " only: use /actuator/cosidStringGenerator/cosid.");
        }

        p = ngx_pnalloc(r->pool, CF_ID_LEN + 1);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cf_id_next(&mcf->ids, now, (char *) p);

        return ngx_http_compensation_send_text(r, NGX_HTTP_OK, "text/plain",
                                               p, CF_ID_LEN);
    }

    id = cf_snowflake_next(&mcf->snowflake, now);

    if (as_string) {
        p = ngx_pnalloc(r->pool, CF_SNOWFLAKE_STR_LEN + 1);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cf_snowflake_to_string(id, (char *) p);

        return ngx_http_compensation_send_text(r, NGX_HTTP_OK, "text/plain",
                                               p, CF_SNOWFLAKE_STR_LEN);
    }

    num = json_integer((json_int_t) id);
    if (num == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_compensation_send_json(r, NGX_HTTP_OK, CF_OK, num);
    json_decref(num);

    return rc;
}
