
/*
 * ngx_compensation: machine ids, slot leases and the numeric SnowflakeId
 * (see cf_cosid.h for the scheme).
 */


#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <sys/stat.h>
#include <sys/types.h>

#include "cf_cosid.h"


#define CF_SNOWFLAKE_MAX_SEQ  ((1u << CF_SNOWFLAKE_SEQ_BITS) - 1)
#define CF_SNOWFLAKE_MAX_MS   ((1LL << 41) - 1)


static const char  cf_cosid_radix62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";


uint32_t
cf_cosid_machine_id(int32_t node, uint32_t slot, int64_t pid)
{
    if (node < 0) {
        return (uint32_t) ((uint64_t) pid % (CF_ID_MAX_MACHINE + 1));
    }

    return ((uint32_t) node * CF_COSID_SLOTS + slot % CF_COSID_SLOTS)
           % (CF_ID_MAX_MACHINE + 1);
}


int
cf_cosid_slot_claim(cf_cosid_lease_t *slots, uint32_t n, int32_t pid,
    uint64_t start, int (*alive)(int32_t pid, uint64_t start))
{
    uint32_t  i;

    for (i = 0; i < n; i++) {
        if (slots[i].pid == pid) {
            /* ours, or left by a dead process whose pid we now have */
            slots[i].start = start;
            return (int) i;
        }
    }

    for (i = 0; i < n; i++) {
        if (slots[i].pid == 0) {
            slots[i].pid = pid;
            slots[i].start = start;
            return (int) i;
        }
    }

    /* a process that died without releasing its slot (a crash) */
    for (i = 0; i < n; i++) {
        if (!alive(slots[i].pid, slots[i].start)) {
            slots[i].pid = pid;
            slots[i].start = start;
            return (int) i;
        }
    }

    return -1;
}


void
cf_cosid_slot_release(cf_cosid_lease_t *slots, uint32_t n, int32_t pid)
{
    uint32_t  i;

    for (i = 0; i < n; i++) {
        if (slots[i].pid == pid) {
            slots[i].pid = 0;
            slots[i].start = 0;
        }
    }
}


int
cf_cosid_parse_stat(const char *text, size_t len, uint64_t *start)
{
    int          field;
    uint64_t     v;
    const char  *p, *last;

    /* "pid (comm) state ...": comm may hold blanks and ')' itself */
    last = text + len;

    for (p = last; p > text && p[-1] != ')'; p--) { /* void */ }

    if (p == text) {
        return -1;
    }

    /* after ')' come fields 3 (state), 4, ...: the start time is 22 */
    field = 2;

    while (p < last) {
        while (p < last && *p == ' ') {
            p++;
        }

        if (p == last) {
            return -1;
        }

        field++;

        if (field == 22) {
            v = 0;

            if (*p < '0' || *p > '9') {
                return -1;
            }

            while (p < last && *p >= '0' && *p <= '9') {
                if (v > (UINT64_MAX - (uint64_t) (*p - '0')) / 10) {
                    return -1;
                }

                v = v * 10 + (uint64_t) (*p - '0');
                p++;
            }

            *start = v;
            return 0;
        }

        while (p < last && *p != ' ') {
            p++;
        }
    }

    return -1;
}


int
cf_cosid_pid_start(int32_t pid, uint64_t *start)
{
    int      fd;
    char     path[32], buf[1024];
    ssize_t  n;

    if (pid <= 0) {
        return -1;
    }

    snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return -1;
    }

    n = read(fd, buf, sizeof(buf));
    close(fd);

    if (n <= 0) {
        return -1;
    }

    return cf_cosid_parse_stat(buf, (size_t) n, start);
}


int
cf_cosid_lease_alive(int32_t pid, uint64_t start)
{
    uint64_t     now;
    struct stat  sb;

    if (pid <= 0) {
        return 0;
    }

    if (cf_cosid_pid_start(pid, &now) == 0) {
        return start == 0 || now == start;
    }

    if (stat("/proc/self/stat", &sb) == 0) {
        /* /proc works: the pid does not exist */
        return 0;
    }

    return kill((pid_t) pid, 0) == 0 || errno == EPERM;
}


void
cf_snowflake_init(cf_snowflake_t *sf, uint32_t machine_id)
{
    sf->machine_id = machine_id & ((1u << CF_SNOWFLAKE_MACHINE_BITS) - 1);
    sf->last_ms = -1;
    sf->seq = 0;
}


int64_t
cf_snowflake_next(cf_snowflake_t *sf, int64_t now_ms)
{
    int64_t  t;

    t = now_ms - CF_SNOWFLAKE_EPOCH;

    if (t < 0) {
        t = 0;
    }

    if (t > sf->last_ms) {
        sf->last_ms = t;
        sf->seq = 0;

    } else if (sf->seq < CF_SNOWFLAKE_MAX_SEQ) {
        sf->seq++;

    } else {
        sf->last_ms++;
        sf->seq = 0;
    }

    return ((sf->last_ms & CF_SNOWFLAKE_MAX_MS)
            << (CF_SNOWFLAKE_MACHINE_BITS + CF_SNOWFLAKE_SEQ_BITS))
           | ((int64_t) sf->machine_id << CF_SNOWFLAKE_SEQ_BITS)
           | sf->seq;
}


void
cf_snowflake_to_string(int64_t id, char out[CF_SNOWFLAKE_STR_LEN + 1])
{
    int       i;
    uint64_t  v;

    v = (uint64_t) id;

    for (i = CF_SNOWFLAKE_STR_LEN - 1; i >= 0; i--) {
        out[i] = cf_cosid_radix62[v % 62];
        v /= 62;
    }

    out[CF_SNOWFLAKE_STR_LEN] = '\0';
}


static int
cf_cosid_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'A' && c <= 'Z') {
        return c - 'A' + 10;
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 36;
    }

    return -1;
}


int
cf_id_parse(const char *s, size_t len, int64_t *ms, uint32_t *machine,
    uint32_t *seq)
{
    int       d;
    size_t    i;
    uint64_t  v[3];

    if (!cf_id_is_valid(s, len)) {
        return -1;
    }

    v[0] = v[1] = v[2] = 0;

    for (i = 0; i < CF_ID_LEN; i++) {
        d = cf_cosid_digit(s[i]);

        if (i < 8) {
            v[0] = v[0] * 62 + (uint64_t) d;

        } else if (i < 12) {
            v[1] = v[1] * 62 + (uint64_t) d;

        } else {
            v[2] = v[2] * 62 + (uint64_t) d;
        }
    }

    *ms = (int64_t) v[0];
    *machine = (uint32_t) v[1];
    *seq = (uint32_t) v[2];

    return 0;
}
