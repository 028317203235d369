
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
 *     nginx's shared memory, keyed by pid and reclaimed only when its pid is
 *     gone.  Node ids 0..14429 (CF_COSID_MAX_NODE); each nginx needs its own.
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

/*
 * Leases a slot of a table of n pids (0: free) to pid: its own slot if it
 * has one, else a free slot, else one whose pid is no longer alive (alive()
 * returns 0 for a pid that does not exist).  The caller holds the table's
 * lock.  Returns the slot, or -1 when every slot belongs to a live process.
 */
int cf_cosid_slot_claim(int32_t *slots, uint32_t n, int32_t pid,
    int (*alive)(int32_t pid));
/* frees pid's slot; never touches another pid's */
void cf_cosid_slot_release(int32_t *slots, uint32_t n, int32_t pid);


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
