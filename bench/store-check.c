
/*
 * ngx_compensation benchmark: the cost of the store's file identity check
 * (cf_store_check_file, issue 20): its two stat() calls per call, beside
 * one create's transaction (BEGIN IMMEDIATE, the two writes, COMMIT; the
 * module's own cf_service_execute, which checks once, after the COMMIT),
 * on a temporary store in DIR (default /tmp).
 *
 *   cc -O2 -Isrc -o store-check bench/store-check.c src/cf_*.c \
 *      -ljansson -lsqlite3 -lpthread && ./store-check [DIR]
 *
 * Prints "CHECK <ns per check>" and "CREATE <us per create>".
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cf_store.h"
#include "cf_service.h"


static double
cf_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


int
main(int argc, char **argv)
{
    int                 i, n;
    char                dir[256], path[300], id[32], cmd[300];
    double              t0, t;
    json_t             *body, *header;
    cf_store_t         *st;
    cf_id_gen_t         ids;
    cf_error_t          err;
    cf_command_t        c;
    cf_retry_spec_t     spec = { 10, 180, 120 };
    cf_exec_input_t     in;
    cf_exec_output_t    out;
    cf_store_options_t  opts = { .busy_timeout_ms = 1000,
                                 .temp_store_memory = 1 };

    snprintf(dir, sizeof(dir), "%s/store-check-XXXXXX",
             argc > 1 ? argv[1] : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }

    snprintf(path, sizeof(path), "%s/c.db", dir);

    st = cf_store_open(path, &opts, cmd, sizeof(cmd));
    if (st == NULL) {
        fprintf(stderr, "%s\n", cmd);
        return 1;
    }

    n = 1000000;
    t0 = cf_now();

    for (i = 0; i < n; i++) {
        if (cf_store_check_file(st) != 0) {
            fprintf(stderr, "check failed\n");
            return 1;
        }
    }

    t = cf_now() - t0;
    printf("CHECK %.0f\n", t / n * 1e9);

    body = json_loads("{\"id\":\"00000000000000A\",\"eventId\":{\"id\":\"0U2"
                      "mSzz10001001\",\"aggregateId\":{\"contextName\":\"o\""
                      ",\"aggregateName\":\"order\",\"aggregateId\":\"0U2mS"
                      "z9k0001000\",\"tenantId\":\"(0)\"},\"version\":1},\""
                      "function\":{\"functionKind\":\"EVENT\",\"contextName"
                      "\":\"o\",\"processorName\":\"P\",\"name\":\"n\"},\"er"
                      "ror\":{\"errorCode\":\"BadRequest\",\"errorMsg\":\"b"
                      "oom\",\"stackTrace\":\"x\",\"succeeded\":false},\"ex"
                      "ecuteAt\":1719800000000}", 0, NULL);
    header = json_object();
    cf_error_init(&err);
    cf_id_init(&ids, 1);

    if (body == NULL
        || cf_command_bind(CF_CMD_CREATE_EXECUTION_FAILED, body, &c, &err)
           != 0)
    {
        fprintf(stderr, "bind failed: %s\n", err.msg);
        return 1;
    }

    n = 5000;
    t0 = cf_now();

    for (i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "a%d", i);
        memset(&in, 0, sizeof(in));
        in.command = &c;
        in.aggregate_id = id;
        in.expected_version = -1;
        in.header = header;
        in.now = 1719800000000LL + i;
        in.default_spec = &spec;

        if (cf_service_execute(st, &ids, &in, &out) != 0 || !out.committed) {
            fprintf(stderr, "create failed: %s\n", out.err.msg);
            return 1;
        }

        cf_error_free(&out.err);
    }

    t = cf_now() - t0;
    printf("CREATE %.1f\n", t / n * 1e6);

    cf_command_free(&c);
    json_decref(body);
    json_decref(header);
    cf_store_close(st);

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);

    return system(cmd) == 0 ? 0 : 1;
}
