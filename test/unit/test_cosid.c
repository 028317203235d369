
/*
 * Machine ids, slot leases, the numeric SnowflakeId, the wait signal and
 * the BI script options (cf_cosid.c, cf_wait.c, cf_bi.c).
 */


#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cf_test.h"
#include "cf_cosid.h"
#include "cf_wait.h"
#include "cf_bi.h"


#define T_DRAWS  1000000


static int
t_cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, CF_ID_LEN);
}


/*
 * Two generators (two workers, or two nginx) drawing 1,000,000 ids in
 * total, interleaved on one clock that advances every 50 draws (so both
 * fill the same milliseconds and overflow sequences): no id repeats.
 */
static void
test_cosid_two_generators_unique(void)
{
    int          i, dups;
    char        *all, out[CF_ID_LEN + 1];
    int64_t      now, ms;
    uint32_t     m, seq;
    cf_id_gen_t  g[2];

    all = malloc((size_t) T_DRAWS * CF_ID_LEN);
    if (!CHECK(all != NULL)) {
        return;
    }

    /* pid mode on one host and slot mode of two nodes give other ids */
    cf_id_init(&g[0], cf_cosid_machine_id(3, 0, 0));
    cf_id_init(&g[1], cf_cosid_machine_id(4, 0, 0));
    CHECK_INT(g[0].machine_id, 3 * 1024);
    CHECK_INT(g[1].machine_id, 4 * 1024);

    now = 1719800000000LL;

    for (i = 0; i < T_DRAWS; i++) {
        if (i % 50 == 0) {
            now++;
        }

        cf_id_next(&g[i % 2], now, out);
        memcpy(all + (size_t) i * CF_ID_LEN, out, CF_ID_LEN);
    }

    qsort(all, T_DRAWS, CF_ID_LEN, t_cmp_id);

    dups = 0;
    for (i = 1; i < T_DRAWS; i++) {
        if (memcmp(all + (size_t) (i - 1) * CF_ID_LEN,
                   all + (size_t) i * CF_ID_LEN, CF_ID_LEN) == 0)
        {
            dups++;
        }
    }

    CHECK_INT(dups, 0);

    CHECK_INT(cf_id_parse(all, CF_ID_LEN, &ms, &m, &seq), 0);
    CHECK(m == 3 * 1024 || m == 4 * 1024);

    free(all);
}


static void
test_cosid_machine_ids(void)
{
    int64_t   ms;
    uint32_t  m, seq;

    /* pid mode: the pid; Linux's largest pid_max fits */
    CHECK_INT(cf_cosid_machine_id(-1, 5, 4194304), 4194304);
    /* node mode: node * 1024 + slot */
    CHECK_INT(cf_cosid_machine_id(0, 0, 77), 0);
    CHECK_INT(cf_cosid_machine_id(7, 1023, 77), 7 * 1024 + 1023);
    CHECK_INT(cf_cosid_machine_id(CF_COSID_MAX_NODE, 1023, 0),
              CF_COSID_MAX_NODE * 1024 + 1023);
    CHECK(cf_cosid_machine_id(CF_COSID_MAX_NODE, 1023, 0)
          <= CF_ID_MAX_MACHINE);
    CHECK_INT(CF_COSID_MAX_NODE, 14429);

    CHECK_INT(cf_id_parse("0TEXPEbg0001001", 15, &ms, &m, &seq), 0);
    CHECK_INT(ms, 1660526325024LL);
    CHECK_INT(m, 1);
    CHECK_INT(seq, 1);
    CHECK_INT(cf_id_parse("0TEXPEbg0001-01", 15, &ms, &m, &seq), -1);
}


static int  t_dead_pid;
static uint64_t  t_start_of_102;

/* 102 may be alive with another start time: its pid was reused */
static int
t_alive(int32_t pid, uint64_t start)
{
    if (pid == t_dead_pid) {
        return 0;
    }

    return pid != 102 || t_start_of_102 == 0 || start == t_start_of_102;
}


static void
test_cosid_slots(void)
{
    cf_cosid_lease_t  slots[4];

    memset(slots, 0, sizeof(slots));
    t_dead_pid = -1;
    t_start_of_102 = 0;

    CHECK_INT(cf_cosid_slot_claim(slots, 4, 100, 7, t_alive), 0);
    CHECK_INT(cf_cosid_slot_claim(slots, 4, 101, 7, t_alive), 1);
    /* a process asking again keeps its slot */
    CHECK_INT(cf_cosid_slot_claim(slots, 4, 100, 7, t_alive), 0);
    CHECK_INT(cf_cosid_slot_claim(slots, 4, 102, 8, t_alive), 2);
    CHECK_INT(cf_cosid_slot_claim(slots, 4, 103, 9, t_alive), 3);
    /* full of live processes: refused, never shared */
    CHECK_INT(cf_cosid_slot_claim(slots, 4, 104, 9, t_alive), -1);

    /* a released slot is reused */
    cf_cosid_slot_release(slots, 4, 101);
    CHECK_INT(cf_cosid_slot_claim(slots, 4, 104, 9, t_alive), 1);

    /* pid 102 exists again, but as another process (pid reuse): its old
     * lease is reclaimed */
    t_start_of_102 = 50;
    CHECK_INT(cf_cosid_slot_claim(slots, 4, 106, 60, t_alive), 2);
    CHECK_INT(slots[2].pid, 106);
    CHECK_INT(cf_cosid_slot_claim(slots, 4, 107, 60, t_alive), -1);
    CHECK_INT(cf_cosid_slot_claim(slots, 4, 102, 50, t_alive), -1);

    /* a crashed process's slot is reclaimed, a live one's is not */
    t_dead_pid = 106;
    CHECK_INT(cf_cosid_slot_claim(slots, 4, 105, 61, t_alive), 2);
    CHECK_INT(slots[0].pid, 100);
    CHECK_INT(slots[3].pid, 103);
    CHECK_INT(slots[2].start, 61);

    /* releasing an unknown pid changes nothing */
    cf_cosid_slot_release(slots, 4, 999);
    CHECK_INT(slots[0].pid + slots[1].pid + slots[2].pid + slots[3].pid,
              100 + 104 + 105 + 103);
}


static void
test_cosid_snowflake(void)
{
    int             i, ok;
    char            s[CF_SNOWFLAKE_STR_LEN + 1];
    int64_t         id, prev, now;
    cf_snowflake_t  sf;

    cf_snowflake_init(&sf, 1024 + 5);
    CHECK_INT(sf.machine_id, 5);

    now = CF_SNOWFLAKE_EPOCH + 1000;
    id = cf_snowflake_next(&sf, now);
    CHECK_INT(id, (1000LL << 22) | (5 << 12));

    /* monotonic through 5000 draws in one ms (sequence overflow) */
    ok = 1;
    prev = id;
    for (i = 0; i < 5000; i++) {
        id = cf_snowflake_next(&sf, now);
        if (id <= prev) {
            ok = 0;
        }
        prev = id;
    }
    CHECK(ok);

    cf_snowflake_to_string(61, s);
    CHECK_STR(s, "0000000000z");
    cf_snowflake_to_string(INT64_MAX, s);
    CHECK_STR(s, "AzL8n0Y58m7");
}


static void
test_wait_signal(void)
{
    json_t      *j;
    cf_error_t   err;

    cf_error_init(&err);
    j = cf_t_json("{\"id\":\"a\",\"waitCommandId\":\"b\",\"commandId\":\"c\","
                  "\"aggregateId\":{\"contextName\":\"x\",\"aggregateName\":"
                  "\"y\",\"aggregateId\":\"z\",\"tenantId\":\"(0)\"},"
                  "\"stage\":\"snapshot\",\"function\":{\"functionKind\":"
                  "\"EVENT\",\"contextName\":\"a\",\"processorName\":\"b\","
                  "\"name\":\"c\"},\"aggregateVersion\":null,"
                  "\"commands\":[\"x\"],\"result\":{}}");
    CHECK_INT(cf_wait_signal_validate(j, &err), 0);
    CHECK_STR(err.code, CF_OK);
    json_decref(j);
    cf_error_free(&err);

    cf_error_init(&err);
    j = cf_t_json("{\"id\":1,\"stage\":\"NOPE\",\"aggregateVersion\":-1,"
                  "\"isLastProjection\":\"yes\",\"commands\":[1],"
                  "\"signalTime\":\"now\"}");
    CHECK_INT(cf_wait_signal_validate(j, &err), -1);
    CHECK_STR(err.code, CF_E_ILLEGAL_ARGUMENT);
    CHECK_INT(json_array_size(err.binding_errors), 10);
    json_decref(j);
    cf_error_free(&err);

    cf_error_init(&err);
    j = cf_t_json("[]");
    CHECK_INT(cf_wait_signal_validate(j, &err), -1);
    json_decref(j);
    cf_error_free(&err);

    CHECK_INT(cf_wait_stage_parse("saga_handled"), 5);
    CHECK_INT(cf_wait_stage_parse("x"), -1);
}


static void
test_bi_options(void)
{
    char             *s;
    size_t            len;
    cf_error_t        err;
    cf_bi_options_t   o;

    cf_bi_defaults(&o);
    cf_error_init(&err);
    CHECK_INT(cf_bi_validate(&o, &err), 0);

    s = cf_bi_script(&o, &len);
    CHECK(s != NULL && len == strlen(s));
    CHECK(s && strstr(s, "ON CLUSTER '{cluster}'") != NULL);
    CHECK(s && strstr(s, "header Map(String, String)") != NULL);
    free(s);

    o.cluster = 0;
    o.header_map = 0;
    s = cf_bi_script(&o, &len);
    CHECK(s && strstr(s, "ON CLUSTER") == NULL);
    CHECK(s && strstr(s, "Distributed") == NULL);
    CHECK(s && strstr(s, "    header String,") != NULL);
    free(s);

    /* nothing a client sends reaches the script unchecked */
    o.database = "bi; DROP DATABASE x";
    o.timezone = "UTC'";
    o.kafka_servers = "a:1,b:2";
    o.topic_prefix = "wow.";
    CHECK_INT(cf_bi_validate(&o, &err), -1);
    CHECK_INT(json_array_size(err.binding_errors), 2);
    cf_error_free(&err);

    cf_bi_defaults(&o);
    cf_error_init(&err);
    o.consumer_database = o.database;
    CHECK_INT(cf_bi_validate(&o, &err), -1);
    cf_error_free(&err);
}



/* the start time in /proc/<pid>/stat, and liveness that survives pid reuse */
static void
test_cosid_proc_start(void)
{
    uint64_t     start, again;
    const char  *line;

    line = "4242 (nginx: worker) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2"
           " 0 0 20 0 1 0 987654 12345 67 18446744073709551615\n";
    CHECK_INT(cf_cosid_parse_stat(line, strlen(line), &start), 0);
    CHECK(start == 987654);

    /* a comm with ") " inside it: the last ')' ends it */
    line = "7 (a) b) c) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 31337 1 2";
    CHECK_INT(cf_cosid_parse_stat(line, strlen(line), &start), 0);
    CHECK(start == 31337);

    line = "7 (x) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1";
    CHECK_INT(cf_cosid_parse_stat(line, strlen(line), &start), -1);
    line = "7 x S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 31337";
    CHECK_INT(cf_cosid_parse_stat(line, strlen(line), &start), -1);
    line = "7 (x) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99999999999999999999";
    CHECK_INT(cf_cosid_parse_stat(line, strlen(line), &start), -1);

    /* this process: alive with its start time, not with another one */
    CHECK_INT(cf_cosid_pid_start((int32_t) getpid(), &start), 0);
    CHECK(start > 0);
    CHECK_INT(cf_cosid_pid_start((int32_t) getpid(), &again), 0);
    CHECK(again == start);
    CHECK_INT(cf_cosid_lease_alive((int32_t) getpid(), start), 1);
    CHECK_INT(cf_cosid_lease_alive((int32_t) getpid(), 0), 1);
    CHECK_INT(cf_cosid_lease_alive((int32_t) getpid(), start + 1), 0);
    CHECK_INT(cf_cosid_lease_alive(0, 0), 0);
    /* beyond pid_max: no such process */
    CHECK_INT(cf_cosid_lease_alive(0x7ffffff0, 0), 0);
}

const cf_test_t  cf_tests_cosid[] = {
    { "cosid: 1,000,000 ids of two generators, interleaved, all unique",
      test_cosid_two_generators_unique },
    { "cosid: machine ids of pids and node slots", test_cosid_machine_ids },
    { "cosid: slot leases, reclaimed only from dead pids", test_cosid_slots },
    { "cosid: a lease's process is its pid and start time (pid reuse)",
      test_cosid_proc_start },
    { "cosid: SnowflakeId layout and radix-62 form", test_cosid_snowflake },
    { "wait: signal validation", test_wait_signal },
    { "bi: options validated, script shapes", test_bi_options },
    { NULL, NULL }
};
