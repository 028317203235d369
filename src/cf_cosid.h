
/*
 * ngx_compensation: the CosId side of ids, beyond the string generator of
 * cf_domain.h: machine ids for several processes and several nginx, the
 * numeric SnowflakeId of CosId's shared generator, and the statistics the
 * actuator shows.  Plain C, no nginx.
 *
 * Machine ids (the 4 radix-62 digits of a string id, 62^4 = 14,776,336
 * values) are unique among every process that may generate ids into one
 * store at the same time:
 *
 *   - without a node id (compensation_machine_id unset): the process id.
 *     Unique among the processes alive on one host, so any number of nginx
 *     on ONE host may share a store.  pid_max is at most 2^22 < 62^4.
 *
 *   - with a node id n (several hosts sharing a store): n * 1024 + slot,
 *     where slot (0..1023) is leased by the worker from a table in this
 *     nginx's shared memory, keyed by pid and the process's start time and
 *     reclaimed only when that process is gone (its pid alone may have been
 *     reused by another process since).  Node ids 0..14429
 *     (CF_COSID_MAX_NODE); each nginx needs its own.
 */


#ifndef _CF_COSID_H_INCLUDED_
#define _CF_COSID_H_INCLUDED_


#include <stdint.h>
#include <stddef.h>

#include "cf_domain.h"


#define CF_COSID_SLOTS       1024u
#define CF_COSID_MAX_NODE    ((CF_ID_MAX_MACHINE + 1) / CF_COSID_SLOTS - 1)

/* CosId's MillisecondSnowflakeId defaults: epoch 2019-12-25 00:00 +08:00,
 * 41 bits of ms, 10 bits of machine, 12 bits of sequence */
#define CF_SNOWFLAKE_EPOCH   1577203200000LL
#define CF_SNOWFLAKE_MACHINE_BITS  10
#define CF_SNOWFLAKE_SEQ_BITS      12

#define CF_SNOWFLAKE_STR_LEN 11      /* radix-62 of a positive int64 */


/* the machine id of a node's slot, or of a pid when node < 0 */
uint32_t cf_cosid_machine_id(int32_t node, uint32_t slot, int64_t pid);

/* a slot's holder: a process is its pid and its start time */
typedef struct {
    int32_t      pid;              /* 0: free */
    uint64_t     start;            /* clock ticks after boot; 0: unknown */
} cf_cosid_lease_t;

/*
 * Leases a slot of a table of n leases to the process (pid, start): its own
 * slot if it has one, else a free slot, else one whose holder is no longer
 * alive (alive(pid, start) returns 0 when no process with that pid and
 * start time exists: cf_cosid_lease_alive).  The caller holds the table's
 * lock.  Returns the slot, or -1 when every slot belongs to a live process.
 */
int cf_cosid_slot_claim(cf_cosid_lease_t *slots, uint32_t n, int32_t pid,
    uint64_t start, int (*alive)(int32_t pid, uint64_t start));
/* frees pid's slot; never touches another pid's */
void cf_cosid_slot_release(cf_cosid_lease_t *slots, uint32_t n, int32_t pid);

/*
 * 1 when the process pid exists and started at start (a start of 0 is not
 * compared), from /proc/<pid>/stat; without /proc, kill(pid, 0) decides.
 * A pid reused by another process since is not alive.
 */
int cf_cosid_lease_alive(int32_t pid, uint64_t start);
/* the start time of process pid (/proc/<pid>/stat): 0, or -1 */
int cf_cosid_pid_start(int32_t pid, uint64_t *start);
/* the start time (field 22) from the text of a /proc/<pid>/stat: 0, -1 */
int cf_cosid_parse_stat(const char *text, size_t len, uint64_t *start);


typedef struct {
    uint32_t     machine_id;         /* low CF_SNOWFLAKE_MACHINE_BITS used */
    int64_t      last_ms;            /* ms since CF_SNOWFLAKE_EPOCH */
    uint32_t     seq;
} cf_snowflake_t;

void cf_snowflake_init(cf_snowflake_t *sf, uint32_t machine_id);
/* monotonic, like cf_id_next; a positive int64 */
int64_t cf_snowflake_next(cf_snowflake_t *sf, int64_t now_ms);
/* CosId's Radix62IdConverter form: 11 characters, left-padded with '0' */
void cf_snowflake_to_string(int64_t id, char out[CF_SNOWFLAKE_STR_LEN + 1]);


/* decodes the parts of a string id; -1 when it is not one */
int cf_id_parse(const char *s, size_t len, int64_t *ms, uint32_t *machine,
    uint32_t *seq);


#endif /* _CF_COSID_H_INCLUDED_ */
