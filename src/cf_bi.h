
/*
 * ngx_compensation: the BI sync script (spec 6.5), plain C.
 *
 * A ClickHouse script that consumes this aggregate's command and state
 * topics from Kafka into MergeTree tables: per topic a Kafka engine queue
 * (one JSON message per row), a materialized view parsing it into a table;
 * for the state also the latest state per aggregate (ReplacingMergeTree on
 * the version) and a view of its typed columns.  Every name or value a
 * client may override is checked against a strict character set before it
 * reaches the script.
 */


#ifndef _CF_BI_H_INCLUDED_
#define _CF_BI_H_INCLUDED_


#include "cf_domain.h"


typedef struct {
    int          header_map;           /* header as Map(String, String), or
                                          as a JSON String */
    int          reset;                /* RESET: drop everything first */
    int          cluster;              /* CLUSTER (1) or STANDALONE (0) */
    const char  *cluster_name;         /* "{cluster}" (a server macro) */
    const char  *installation;         /* "{installation}" */
    const char  *database;             /* "bi_db" */
    const char  *consumer_database;    /* "bi_db_consumer" */
    const char  *timezone;             /* "UTC" */
    const char  *kafka_servers;        /* "localhost:9092" */
    const char  *topic_prefix;         /* "wow." */
    int64_t      reset_id;             /* RESET: suffix of the new consumer
                                          group (replays from the earliest) */
} cf_bi_options_t;


void cf_bi_defaults(cf_bi_options_t *opts);

/* 0, or -1 with a binding error naming the bad option */
int cf_bi_validate(const cf_bi_options_t *opts, cf_error_t *err);

/* the script (malloc'ed, NUL-terminated) or NULL when memory ran out */
char *cf_bi_script(const cf_bi_options_t *opts, size_t *len);


#endif /* _CF_BI_H_INCLUDED_ */
