
/*
 * ngx_compensation: the ClickHouse BI sync script (see cf_bi.h).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>

#include "cf_bi.h"


#define CF_BI_TABLE  CF_CONTEXT_ALIAS "_" CF_AGGREGATE_NAME


typedef struct {
    char        *data;
    size_t       len;
    size_t       cap;
    int          failed;
} cf_bi_buf_t;


typedef struct {
    const char  *name;
    const char  *type;           /* ClickHouse type; "%T": DateTime64 */
    const char  *expr;           /* over "data"; "%H": the header */
} cf_bi_column_t;


static void cf_bi_printf(cf_bi_buf_t *b, const char *fmt, ...)
    CF_PRINTF(2, 3);
static int cf_bi_charset(const char *s, const char *extra, size_t max);
static void cf_bi_on_cluster(cf_bi_buf_t *b, const cf_bi_options_t *o);
static void cf_bi_engine(cf_bi_buf_t *b, const cf_bi_options_t *o,
    const char *table, const char *engine, const char *args);
static void cf_bi_columns(cf_bi_buf_t *b, const cf_bi_options_t *o,
    const cf_bi_column_t *cols, int with_expr);
static void cf_bi_topic(cf_bi_buf_t *b, const cf_bi_options_t *o,
    const char *kind, const cf_bi_column_t *cols, const char *order,
    const char *version);
static void cf_bi_state_last(cf_bi_buf_t *b, const cf_bi_options_t *o);
static void cf_bi_drop(cf_bi_buf_t *b, const cf_bi_options_t *o);


/* a CommandMessage as Wow sends it to the command topic */
static const cf_bi_column_t  cf_bi_command_columns[] = {
    { "id", "String", "JSONExtractString(data, 'id')" },
    { "contextName", "String", "JSONExtractString(data, 'contextName')" },
    { "aggregateName", "String",
      "JSONExtractString(data, 'aggregateName')" },
    { "name", "String", "JSONExtractString(data, 'name')" },
    { "header", "%H", "%H" },
    { "aggregateId", "String", "JSONExtractString(data, 'aggregateId')" },
    { "tenantId", "String", "JSONExtractString(data, 'tenantId')" },
    { "ownerId", "String", "JSONExtractString(data, 'ownerId')" },
    { "requestId", "String", "JSONExtractString(data, 'requestId')" },
    { "aggregateVersion", "Nullable(UInt32)",
      "JSONExtract(data, 'aggregateVersion', 'Nullable(UInt32)')" },
    { "isCreate", "Bool", "JSONExtractBool(data, 'isCreate')" },
    { "allowCreate", "Bool", "JSONExtractBool(data, 'allowCreate')" },
    { "isVoid", "Bool", "JSONExtractBool(data, 'isVoid')" },
    { "bodyType", "String", "JSONExtractString(data, 'bodyType')" },
    { "body", "String", "JSONExtractRaw(data, 'body')" },
    { "createTime", "%T",
      "fromUnixTimestamp64Milli(JSONExtractInt(data, 'createTime'))" },
    { NULL, NULL, NULL }
};

/* a StateEvent (event stream + state) as Wow sends it to the state topic */
static const cf_bi_column_t  cf_bi_state_columns[] = {
    { "id", "String", "JSONExtractString(data, 'id')" },
    { "contextName", "String", "JSONExtractString(data, 'contextName')" },
    { "aggregateName", "String",
      "JSONExtractString(data, 'aggregateName')" },
    { "header", "%H", "%H" },
    { "aggregateId", "String", "JSONExtractString(data, 'aggregateId')" },
    { "tenantId", "String", "JSONExtractString(data, 'tenantId')" },
    { "ownerId", "String", "JSONExtractString(data, 'ownerId')" },
    { "commandId", "String", "JSONExtractString(data, 'commandId')" },
    { "requestId", "String", "JSONExtractString(data, 'requestId')" },
    { "version", "UInt32", "JSONExtractUInt(data, 'version')" },
    { "state", "String", "JSONExtractRaw(data, 'state')" },
    { "body", "String", "JSONExtractRaw(data, 'body')" },
    { "firstOperator", "String",
      "JSONExtractString(data, 'firstOperator')" },
    { "firstEventTime", "%T",
      "fromUnixTimestamp64Milli(JSONExtractInt(data, 'firstEventTime'))" },
    { "createTime", "%T",
      "fromUnixTimestamp64Milli(JSONExtractInt(data, 'createTime'))" },
    { "deleted", "Bool", "JSONExtractBool(data, 'deleted')" },
    { NULL, NULL, NULL }
};

/* the ExecutionFailedState (spec 1.2) of the latest state, typed */
static const cf_bi_column_t  cf_bi_root_columns[] = {
    { "id", NULL, "JSONExtractString(state, 'id')" },
    { "eventId__id", NULL, "JSONExtractString(state, 'eventId', 'id')" },
    { "eventId__version", NULL,
      "JSONExtractUInt(state, 'eventId', 'version')" },
    { "eventId__aggregateId__contextName", NULL,
      "JSONExtractString(state, 'eventId', 'aggregateId', 'contextName')" },
    { "eventId__aggregateId__aggregateName", NULL,
      "JSONExtractString(state, 'eventId', 'aggregateId', 'aggregateName')" },
    { "eventId__aggregateId__aggregateId", NULL,
      "JSONExtractString(state, 'eventId', 'aggregateId', 'aggregateId')" },
    { "eventId__aggregateId__tenantId", NULL,
      "JSONExtractString(state, 'eventId', 'aggregateId', 'tenantId')" },
    { "function__functionKind", NULL,
      "JSONExtractString(state, 'function', 'functionKind')" },
    { "function__contextName", NULL,
      "JSONExtractString(state, 'function', 'contextName')" },
    { "function__processorName", NULL,
      "JSONExtractString(state, 'function', 'processorName')" },
    { "function__name", NULL,
      "JSONExtractString(state, 'function', 'name')" },
    { "error__errorCode", NULL,
      "JSONExtractString(state, 'error', 'errorCode')" },
    { "error__errorMsg", NULL,
      "JSONExtractString(state, 'error', 'errorMsg')" },
    { "error__stackTrace", NULL,
      "JSONExtractString(state, 'error', 'stackTrace')" },
    { "error__bindingErrors", NULL,
      "JSONExtractRaw(state, 'error', 'bindingErrors')" },
    { "executeAt", NULL,
      "fromUnixTimestamp64Milli(JSONExtractInt(state, 'executeAt'))" },
    { "retrySpec__maxRetries", NULL,
      "JSONExtractInt(state, 'retrySpec', 'maxRetries')" },
    { "retrySpec__minBackoff", NULL,
      "JSONExtractInt(state, 'retrySpec', 'minBackoff')" },
    { "retrySpec__executionTimeout", NULL,
      "JSONExtractInt(state, 'retrySpec', 'executionTimeout')" },
    { "retryState__retries", NULL,
      "JSONExtractInt(state, 'retryState', 'retries')" },
    { "retryState__retryAt", NULL,
      "fromUnixTimestamp64Milli(JSONExtractInt(state, 'retryState',"
      " 'retryAt'))" },
    { "retryState__timeoutAt", NULL,
      "fromUnixTimestamp64Milli(JSONExtractInt(state, 'retryState',"
      " 'timeoutAt'))" },
    { "retryState__nextRetryAt", NULL,
      "fromUnixTimestamp64Milli(JSONExtractInt(state, 'retryState',"
      " 'nextRetryAt'))" },
    { "status", NULL, "JSONExtractString(state, 'status')" },
    { "recoverable", NULL, "JSONExtractString(state, 'recoverable')" },
    { "isBelowRetryThreshold", NULL,
      "JSONExtractBool(state, 'isBelowRetryThreshold')" },
    { "isRetryable", NULL, "JSONExtractBool(state, 'isRetryable')" },
    { NULL, NULL, NULL }
};


void
cf_bi_defaults(cf_bi_options_t *opts)
{
    memset(opts, 0, sizeof(cf_bi_options_t));

    opts->header_map = 1;
    opts->cluster = 1;
    opts->cluster_name = "{cluster}";
    opts->installation = "{installation}";
    opts->database = "bi_db";
    opts->consumer_database = "bi_db_consumer";
    opts->timezone = "UTC";
    opts->kafka_servers = "localhost:9092";
    opts->topic_prefix = "wow.";
}


/* 1 when s is 1..max characters of [A-Za-z0-9_] and extra */
static int
cf_bi_charset(const char *s, const char *extra, size_t max)
{
    size_t  n;

    if (s == NULL || s[0] == '\0') {
        return 0;
    }

    for (n = 0; s[n]; n++) {
        if (n == max) {
            return 0;
        }

        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z')
              || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'
              || strchr(extra, s[n]) != NULL))
        {
            return 0;
        }
    }

    return 1;
}


int
cf_bi_validate(const cf_bi_options_t *o, cf_error_t *err)
{
    /* identifiers are written unquoted, values inside '...' */

    if (!cf_bi_charset(o->database, "", 64)
        || (o->database[0] >= '0' && o->database[0] <= '9'))
    {
        cf_error_add_binding(err, "database",
                             "must be an identifier [A-Za-z_][A-Za-z0-9_]*");
    }

    if (!cf_bi_charset(o->consumer_database, "", 64)
        || (o->consumer_database[0] >= '0'
            && o->consumer_database[0] <= '9'))
    {
        cf_error_add_binding(err, "consumerDatabase",
                             "must be an identifier [A-Za-z_][A-Za-z0-9_]*");
    }

    if (o->database && o->consumer_database
        && strcmp(o->database, o->consumer_database) == 0)
    {
        cf_error_add_binding(err, "consumerDatabase",
                             "must differ from database");
    }

    if (!cf_bi_charset(o->cluster_name, "{}-", 64)) {
        cf_error_add_binding(err, "topology.cluster.name",
                             "must be 1 to 64 characters of"
                             " [A-Za-z0-9_{}-]");
    }

    if (!cf_bi_charset(o->installation, "{}-", 64)) {
        cf_error_add_binding(err, "topology.cluster.installation",
                             "must be 1 to 64 characters of"
                             " [A-Za-z0-9_{}-]");
    }

    if (!cf_bi_charset(o->timezone, "/+-", 64)) {
        cf_error_add_binding(err, "timezone",
                             "must be a time zone name such as UTC or"
                             " Asia/Shanghai");
    }

    if (!cf_bi_charset(o->kafka_servers, ".:,-", 1024)) {
        cf_error_add_binding(err, "kafkaBootstrapServers",
                             "must be host:port[,host:port...]");
    }

    if (!cf_bi_charset(o->topic_prefix, ".-", 128)) {
        cf_error_add_binding(err, "topicPrefix",
                             "must be 1 to 128 characters of"
                             " [A-Za-z0-9._-]");
    }

    return cf_error_is_ok(err) ? 0 : -1;
}


static void
cf_bi_printf(cf_bi_buf_t *b, const char *fmt, ...)
{
    int       n;
    char     *p;
    size_t    cap;
    va_list   args;

    if (b->failed) {
        return;
    }

    for ( ;; ) {
        va_start(args, fmt);
        n = vsnprintf(b->data ? b->data + b->len : NULL,
                      b->data ? b->cap - b->len : 0, fmt, args);
        va_end(args);

        if (n < 0) {
            b->failed = 1;
            return;
        }

        if (b->data && b->len + (size_t) n < b->cap) {
            b->len += (size_t) n;
            return;
        }

        cap = b->cap ? b->cap * 2 : 8192;

        while (cap <= b->len + (size_t) n) {
            cap *= 2;
        }

        p = realloc(b->data, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }

        b->data = p;
        b->cap = cap;
    }
}


static void
cf_bi_on_cluster(cf_bi_buf_t *b, const cf_bi_options_t *o)
{
    if (o->cluster) {
        cf_bi_printf(b, " ON CLUSTER '%s'", o->cluster_name);
    }
}


/* "ENGINE = [Replicated]<engine>(<args>)" for db.table */
static void
cf_bi_engine(cf_bi_buf_t *b, const cf_bi_options_t *o, const char *table,
    const char *engine, const char *args)
{
    if (o->cluster) {
        cf_bi_printf(b, "ENGINE = Replicated%s("
                     "'/clickhouse/%s/%s/tables/{shard}/%s/%s', '{replica}'"
                     "%s%s)\n", engine, o->installation, o->cluster_name,
                     o->database, table, args[0] ? ", " : "", args);

    } else {
        cf_bi_printf(b, "ENGINE = %s(%s)\n", engine, args);
    }
}


static void
cf_bi_columns(cf_bi_buf_t *b, const cf_bi_options_t *o,
    const cf_bi_column_t *cols, int with_expr)
{
    const char            *type, *expr;
    const cf_bi_column_t  *c;

    for (c = cols; c->name; c++) {
        if (with_expr) {
            expr = c->expr;

            if (strcmp(expr, "%H") == 0) {
                expr = o->header_map
                       ? "JSONExtract(data, 'header', 'Map(String, String)')"
                       : "JSONExtractRaw(data, 'header')";
            }

            cf_bi_printf(b, "    %s AS %s%s\n", expr, c->name,
                         c[1].name ? "," : "");
            continue;
        }

        type = c->type;

        if (strcmp(type, "%H") == 0) {
            type = o->header_map ? "Map(String, String)" : "String";
        }

        if (strcmp(type, "%T") == 0) {
            cf_bi_printf(b, "    %s DateTime64(3, '%s')%s\n", c->name,
                         o->timezone, c[1].name ? "," : "");

        } else {
            cf_bi_printf(b, "    %s %s%s\n", c->name, type,
                         c[1].name ? "," : "");
        }
    }
}


/* the table, its distributed table, the Kafka queue and its consumer */
static void
cf_bi_topic(cf_bi_buf_t *b, const cf_bi_options_t *o, const char *kind,
    const cf_bi_column_t *cols, const char *order, const char *version)
{
    char  local[128], dist[128], args[64];

    snprintf(dist, sizeof(dist), "%s_%s", CF_BI_TABLE, kind);
    snprintf(local, sizeof(local), "%s_%s%s", CF_BI_TABLE, kind,
             o->cluster ? "_local" : "");
    snprintf(args, sizeof(args), "%s", version);

    cf_bi_printf(b, "\n-- " CF_CONTEXT_NAME "." CF_AGGREGATE_NAME ": the %s"
                 " topic --\n", kind);

    cf_bi_printf(b, "CREATE TABLE IF NOT EXISTS %s.%s", o->database, local);
    cf_bi_on_cluster(b, o);
    cf_bi_printf(b, "\n(\n");
    cf_bi_columns(b, o, cols, 0);
    cf_bi_printf(b, ")\n");
    cf_bi_engine(b, o, local, "ReplacingMergeTree", args);
    cf_bi_printf(b, "PARTITION BY toYYYYMM(createTime)\nORDER BY %s;\n",
                 order);

    if (o->cluster) {
        cf_bi_printf(b, "\nCREATE TABLE IF NOT EXISTS %s.%s", o->database,
                     dist);
        cf_bi_on_cluster(b, o);
        cf_bi_printf(b, "\nAS %s.%s\nENGINE = Distributed('%s', '%s', '%s',"
                     " sipHash64(aggregateId));\n", o->database, local,
                     o->cluster_name, o->database, local);
    }

    cf_bi_printf(b, "\nCREATE TABLE IF NOT EXISTS %s.%s_queue",
                 o->consumer_database, dist);
    cf_bi_on_cluster(b, o);
    cf_bi_printf(b, "\n(\n    data String\n)\n"
                 "ENGINE = Kafka('%s', '%s" CF_CONTEXT_NAME "."
                 CF_AGGREGATE_NAME ".%s', 'clickhouse_%s_consumer",
                 o->kafka_servers, o->topic_prefix, kind, dist);

    if (o->reset) {
        cf_bi_printf(b, "_%lld", (long long) o->reset_id);
    }

    cf_bi_printf(b, "', 'JSONAsString');\n");

    cf_bi_printf(b, "\nCREATE MATERIALIZED VIEW IF NOT EXISTS %s.%s_consumer",
                 o->consumer_database, dist);
    cf_bi_on_cluster(b, o);
    cf_bi_printf(b, "\nTO %s.%s\nAS\nSELECT\n", o->database, dist);
    cf_bi_columns(b, o, cols, 1);
    cf_bi_printf(b, "FROM %s.%s_queue;\n", o->consumer_database, dist);
}


/* the latest state of each aggregate, and its typed columns */
static void
cf_bi_state_last(cf_bi_buf_t *b, const cf_bi_options_t *o)
{
    char                   local[128], dist[128];
    const cf_bi_column_t  *c;

    snprintf(dist, sizeof(dist), "%s_state_last", CF_BI_TABLE);
    snprintf(local, sizeof(local), "%s_state_last%s", CF_BI_TABLE,
             o->cluster ? "_local" : "");

    cf_bi_printf(b, "\n-- " CF_CONTEXT_NAME "." CF_AGGREGATE_NAME ": the"
                 " latest state of each aggregate --\n");

    cf_bi_printf(b, "CREATE TABLE IF NOT EXISTS %s.%s", o->database, local);
    cf_bi_on_cluster(b, o);
    cf_bi_printf(b, "\nAS %s.%s_state%s\n", o->database, CF_BI_TABLE,
                 o->cluster ? "_local" : "");
    cf_bi_engine(b, o, local, "ReplacingMergeTree", "version");
    cf_bi_printf(b, "ORDER BY (tenantId, aggregateId);\n");

    if (o->cluster) {
        cf_bi_printf(b, "\nCREATE TABLE IF NOT EXISTS %s.%s", o->database,
                     dist);
        cf_bi_on_cluster(b, o);
        cf_bi_printf(b, "\nAS %s.%s\nENGINE = Distributed('%s', '%s', '%s',"
                     " sipHash64(aggregateId));\n", o->database, local,
                     o->cluster_name, o->database, local);
    }

    cf_bi_printf(b, "\nCREATE MATERIALIZED VIEW IF NOT EXISTS"
                 " %s.%s_consumer", o->database, dist);
    cf_bi_on_cluster(b, o);
    cf_bi_printf(b, "\nTO %s.%s\nAS\nSELECT *\nFROM %s.%s_state%s;\n",
                 o->database, dist, o->database, CF_BI_TABLE,
                 o->cluster ? "_local" : "");

    cf_bi_printf(b, "\nCREATE VIEW IF NOT EXISTS %s.%s_root", o->database,
                 dist);
    cf_bi_on_cluster(b, o);
    cf_bi_printf(b, "\nAS\nSELECT\n");

    for (c = cf_bi_root_columns; c->name; c++) {
        cf_bi_printf(b, "    %s AS %s,\n", c->expr, c->name);
    }

    cf_bi_printf(b, "    tenantId,\n    ownerId,\n    version,\n"
                 "    firstOperator,\n    firstEventTime,\n"
                 "    createTime,\n    deleted\n"
                 "FROM %s.%s FINAL;\n", o->database, dist);
}


static void
cf_bi_drop(cf_bi_buf_t *b, const cf_bi_options_t *o)
{
    int          i;
    const char  *kinds[] = { "command", "state" };

    cf_bi_printf(b, "\n-- RESET: drop the consumers, then the tables --\n");

    for (i = 0; i < 2; i++) {
        cf_bi_printf(b, "DROP VIEW IF EXISTS %s.%s_%s_consumer",
                     o->consumer_database, CF_BI_TABLE, kinds[i]);
        cf_bi_on_cluster(b, o);
        cf_bi_printf(b, " SYNC;\n");
        cf_bi_printf(b, "DROP TABLE IF EXISTS %s.%s_%s_queue",
                     o->consumer_database, CF_BI_TABLE, kinds[i]);
        cf_bi_on_cluster(b, o);
        cf_bi_printf(b, " SYNC;\n");
    }

    cf_bi_printf(b, "DROP VIEW IF EXISTS %s.%s_state_last_root",
                 o->database, CF_BI_TABLE);
    cf_bi_on_cluster(b, o);
    cf_bi_printf(b, " SYNC;\n");
    cf_bi_printf(b, "DROP VIEW IF EXISTS %s.%s_state_last_consumer",
                 o->database, CF_BI_TABLE);
    cf_bi_on_cluster(b, o);
    cf_bi_printf(b, " SYNC;\n");

    for (i = 0; i < 3; i++) {
        const char  *t = i == 0 ? "command" : i == 1 ? "state" : "state_last";

        cf_bi_printf(b, "DROP TABLE IF EXISTS %s.%s_%s", o->database,
                     CF_BI_TABLE, t);
        cf_bi_on_cluster(b, o);
        cf_bi_printf(b, " SYNC;\n");

        if (o->cluster) {
            cf_bi_printf(b, "DROP TABLE IF EXISTS %s.%s_%s_local",
                         o->database, CF_BI_TABLE, t);
            cf_bi_on_cluster(b, o);
            cf_bi_printf(b, " SYNC;\n");
        }
    }
}


char *
cf_bi_script(const cf_bi_options_t *o, size_t *len)
{
    cf_bi_buf_t  b;

    memset(&b, 0, sizeof(cf_bi_buf_t));

    cf_bi_printf(&b, "-- Wow BI sync script: " CF_CONTEXT_NAME " ("
                 CF_CONTEXT_ALIAS "), aggregate " CF_AGGREGATE_NAME " --\n"
                 "-- operation %s, topology %s, header as %s --\n",
                 o->reset ? "RESET" : "DEPLOY",
                 o->cluster ? "CLUSTER" : "STANDALONE",
                 o->header_map ? "MAP" : "STRING");

    if (o->reset) {
        cf_bi_drop(&b, o);
    }

    cf_bi_printf(&b, "\nCREATE DATABASE IF NOT EXISTS %s", o->database);
    cf_bi_on_cluster(&b, o);
    cf_bi_printf(&b, ";\nCREATE DATABASE IF NOT EXISTS %s",
                 o->consumer_database);
    cf_bi_on_cluster(&b, o);
    cf_bi_printf(&b, ";\n");

    cf_bi_topic(&b, o, "command", cf_bi_command_columns, "id", "createTime");
    cf_bi_topic(&b, o, "state", cf_bi_state_columns, "(aggregateId, version)",
                "createTime");
    cf_bi_state_last(&b, o);

    if (b.failed) {
        free(b.data);
        return NULL;
    }

    *len = b.len;

    return b.data;
}
