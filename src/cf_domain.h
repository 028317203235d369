
/*
 * ngx_compensation: the execution_failed domain.
 *
 * Plain C (jansson only, no nginx, no SQLite) so that it can be unit-tested
 * directly.  It knows the aggregate state, the commands and their events,
 * validation of command bodies, the retry arithmetic, error codes and their
 * HTTP status, and the id generator.  "spec N.M" names a section of the
 * wire contract of the original Wow compensation service (docs/api.md).
 */


#ifndef _CF_DOMAIN_H_INCLUDED_
#define _CF_DOMAIN_H_INCLUDED_


#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include <jansson.h>

#include "cf_json.h"


#define CF_CONTEXT_NAME      "compensation-service"
#define CF_CONTEXT_ALIAS     "compensation"
#define CF_AGGREGATE_NAME    "execution_failed"
#define CF_TENANT_ID         "(0)"
#define CF_PROCESSOR_NAME    "ExecutionFailed"
#define CF_EVENT_REVISION    "0.0.1"

#define CF_ID_LEN            15      /* CosId radix-62 string, spec 6.4 */


/* error codes (spec 3.5); the pointers are compared by strcmp, not address */

#define CF_OK                           "Ok"
#define CF_E_NOT_FOUND                  "NotFound"
#define CF_E_BAD_REQUEST                "BadRequest"
#define CF_E_ILLEGAL_ARGUMENT           "IllegalArgument"
#define CF_E_ILLEGAL_STATE              "IllegalState"
#define CF_E_COMMAND_VALIDATION         "CommandValidation"
#define CF_E_DUPLICATE_REQUEST_ID       "DuplicateRequestId"
#define CF_E_DUPLICATE_AGGREGATE_ID     "DuplicateAggregateId"
#define CF_E_REQUEST_TIMEOUT            "RequestTimeout"
#define CF_E_TOO_MANY_REQUESTS          "TooManyRequests"
#define CF_E_EVENT_VERSION_CONFLICT     "EventVersionConflict"
#define CF_E_EXPECT_VERSION_CONFLICT    "CommandExpectVersionConflict"
#define CF_E_SOURCING_VERSION_CONFLICT  "SourcingVersionConflict"
#define CF_E_DELETED_AGGREGATE          "IllegalAccessDeletedAggregate"
#define CF_E_OWNER_AGGREGATE            "IllegalAccessOwnerAggregate"
#define CF_E_INTERNAL                   "InternalServerError"
#define CF_E_SERVICE_UNAVAILABLE        "ServiceUnavailable"


typedef struct {
    const char  *code;              /* one of the CF_* strings above */
    char         msg[512];          /* errorMsg, NUL-terminated */
    json_t      *binding_errors;    /* array of {name, msg}, or NULL */
} cf_error_t;


void cf_error_init(cf_error_t *err);          /* code = CF_OK, msg = "" */
#if defined(__GNUC__)
#define CF_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#else
#define CF_PRINTF(f, a)
#endif

void cf_error_set(cf_error_t *err, const char *code, const char *fmt, ...)
    CF_PRINTF(3, 4);
/* appends {name, msg} to binding_errors; sets code to IllegalArgument and
 * msg to "<name>: <msg>" when code is still Ok */
void cf_error_add_binding(cf_error_t *err, const char *name,
    const char *fmt, ...) CF_PRINTF(3, 4);
void cf_error_free(cf_error_t *err);          /* drops binding_errors */
int cf_error_is_ok(const cf_error_t *err);
/* HTTP status of an error code (spec 3.5; unmapped codes give 400) */
int cf_error_http_status(const char *code);
/* {errorCode, errorMsg, bindingErrors? (omitted when empty), succeeded} */
json_t *cf_error_to_json(const cf_error_t *err);


/* enums: names are the wire names; parsing is case-insensitive */

typedef enum {
    CF_STATUS_FAILED = 0,
    CF_STATUS_PREPARED,
    CF_STATUS_SUCCEEDED
} cf_status_t;

typedef enum {
    CF_RECOVERABLE = 0,
    CF_UNRECOVERABLE,
    CF_RECOVERABLE_UNKNOWN
} cf_recoverable_t;

typedef enum {
    CF_KIND_COMMAND = 0,
    CF_KIND_SOURCING,
    CF_KIND_EVENT,
    CF_KIND_STATE_EVENT,
    CF_KIND_ERROR
} cf_function_kind_t;

const char *cf_status_name(cf_status_t s);
const char *cf_recoverable_name(cf_recoverable_t r);
const char *cf_function_kind_name(cf_function_kind_t k);
/* return 0 and set *out, or -1 for an unknown name */
int cf_status_parse(const char *s, cf_status_t *out);
int cf_recoverable_parse(const char *s, cf_recoverable_t *out);
int cf_function_kind_parse(const char *s, cf_function_kind_t *out);


/* retry arithmetic (spec 1.4, the corrected [HEAD] behaviour) */

typedef struct {
    int32_t      max_retries;
    int32_t      min_backoff;        /* seconds */
    int32_t      execution_timeout;  /* seconds */
} cf_retry_spec_t;

typedef struct {
    int32_t      retries;
    int64_t      retry_at;           /* epoch ms */
    int64_t      timeout_at;
    int64_t      next_retry_at;
} cf_retry_state_t;

#define CF_ARITH_OK        0
#define CF_ARITH_ARGUMENT  1         /* negative input: IllegalArgument */
#define CF_ARITH_OVERFLOW  2         /* retries >= 63 or 64-bit overflow */

/* minBackoff == 0 gives base; otherwise base + minBackoff * 2^retries * 1000,
 * overflow-checked */
int cf_next_retry_at(int64_t min_backoff, int64_t retries, int64_t base,
    int64_t *out);
int cf_next_retry_state(const cf_retry_spec_t *spec, int32_t retries,
    int64_t retry_at, cf_retry_state_t *out);
/* maxRetries >= 0, minBackoff >= 0, executionTimeout >= 0 (IllegalArgument),
 * then a dry run of nextRetryState(spec, maxRetries, 0) (BadRequest on
 * overflow); returns 0 or -1 with err set */
int cf_retry_spec_validate(const cf_retry_spec_t *spec, cf_error_t *err);


/* the ExecutionFailed state (spec 1.2) */

typedef struct {
    char               *id;          /* aggregate id (malloc'ed) */
    /* normalized sub-objects, owned (one reference each), NULL before
     * creation; key order as on the wire:
     *   event_id: {id, aggregateId:{contextName, aggregateName, aggregateId,
     *             tenantId}, version}
     *   function: {functionKind, contextName, processorName, name}
     *   error:    {errorCode, errorMsg, stackTrace, bindingErrors?}
     *             (bindingErrors only when non-empty; "succeeded" is added
     *             by cf_state_to_json, never stored here) */
    json_t             *event_id;
    json_t             *function;
    json_t             *error;
    int64_t             execute_at;
    cf_retry_spec_t     retry_spec;
    cf_retry_state_t    retry_state;
    cf_status_t         status;
    cf_recoverable_t    recoverable;
} cf_state_t;

int cf_state_is_below_retry_threshold(const cf_state_t *st);
int cf_state_is_retryable(const cf_state_t *st);
int cf_state_can_force_retry(const cf_state_t *st, int64_t now);
int cf_state_can_retry(const cf_state_t *st, int64_t now);

/* {id, eventId, function, error{..., succeeded}, executeAt, retrySpec,
 *  retryState, status, recoverable, isBelowRetryThreshold, isRetryable};
 * returns a new reference, NULL on allocation failure */
json_t *cf_state_to_json(const cf_state_t *st);
/* the same document's compact text appended to b, without the tree */
void cf_state_write(cf_buf_t *b, const cf_state_t *st);
/* the inverse, for loading a stored snapshot; 0 or -1 */
int cf_state_from_json(cf_state_t *st, json_t *json, cf_error_t *err);


/* the aggregate: state plus what the generic checks and snapshots need */

typedef struct {
    cf_state_t   state;
    int64_t      version;           /* streams applied; 0: not initialized */
    int          deleted;
    char        *owner_id;          /* "" unless set */
    char        *last_stream_id;    /* snapshot "eventId" */
    char        *first_operator;
    char        *operator_;
    int64_t      first_event_time;
    int64_t      event_time;
    json_t      *tags;              /* ABAC resource tags (spec 2.9 [HEAD]):
                                       {key: [value, ...]}, owned; NULL
                                       until tags are applied (= {}) */
} cf_aggregate_t;

/* the space id of newer servers' snapshots and streams: always "", the
 * module has no spaces (spec 5.1 [HEAD]) */
#define CF_SPACE_ID          ""

/* id is copied; everything else empty/zero, owner "" */
int cf_aggregate_init(cf_aggregate_t *agg, const char *id);
void cf_aggregate_free(cf_aggregate_t *agg);


/* events (spec 2) */

typedef enum {
    CF_EV_EXECUTION_FAILED_CREATED = 0,
    CF_EV_COMPENSATION_PREPARED,
    CF_EV_EXECUTION_SUCCESS_APPLIED,
    CF_EV_EXECUTION_FAILED_APPLIED,
    CF_EV_RETRY_SPEC_APPLIED,
    CF_EV_FUNCTION_CHANGED,
    CF_EV_RECOVERABLE_MARKED,
    CF_EV_AGGREGATE_DELETED,
    CF_EV_AGGREGATE_RECOVERED,
    CF_EV_RESOURCE_TAGS_APPLIED,
    CF_EV__COUNT
} cf_event_type_t;

/* "execution_failed_created", ..., "default_aggregate_deleted",
 * "default_aggregate_recovered", "default_resource_tags_applied" */
const char *cf_event_name(cf_event_type_t t);
/* "me.ahoo.wow.compensation.api.ExecutionFailedCreated", ...,
 * "me.ahoo.wow.api.event.DefaultAggregateDeleted",
 * "me.ahoo.wow.api.event.DefaultAggregateRecovered",
 * "me.ahoo.wow.api.abac.DefaultResourceTagsApplied" */
const char *cf_event_body_type(cf_event_type_t t);
int cf_event_parse_name(const char *name, cf_event_type_t *out);

typedef struct {
    cf_event_type_t  type;
    json_t          *body;          /* owned; the wire payload of spec 2.x */
} cf_event_t;

void cf_event_free(cf_event_t *ev);

/* metadata of the event stream an event arrives in */
typedef struct {
    const char  *stream_id;
    int64_t      version;            /* the aggregate version after it */
    int64_t      create_time;
    const char  *operator_;          /* command_operator header, "" if none */
} cf_stream_meta_t;

/* Sourcing: applies one event (from a command just decided, or replayed from
 * the store) to the aggregate and its metadata.  Validates the body as far as
 * needed to stay memory-safe (a damaged stored event is an error, never a
 * crash).  0 or -1 with err set (InternalServerError). */
int cf_aggregate_apply(cf_aggregate_t *agg, const cf_stream_meta_t *meta,
    cf_event_type_t type, json_t *body, cf_error_t *err);


/* commands (spec 2.1-2.9) */

typedef enum {
    CF_CMD_CREATE_EXECUTION_FAILED = 0,
    CF_CMD_PREPARE_COMPENSATION,
    CF_CMD_FORCE_PREPARE_COMPENSATION,
    CF_CMD_APPLY_EXECUTION_SUCCESS,
    CF_CMD_APPLY_EXECUTION_FAILED,
    CF_CMD_APPLY_RETRY_SPEC,
    CF_CMD_CHANGE_FUNCTION,
    CF_CMD_MARK_RECOVERABLE,
    CF_CMD_DELETE_AGGREGATE,
    CF_CMD_RECOVER_AGGREGATE,
    CF_CMD_APPLY_RESOURCE_TAGS,     /* PUT {id}/tags, spec 2.9 [HEAD] */
    CF_CMD__COUNT
} cf_command_type_t;

typedef struct {
    cf_command_type_t  type;
    const char        *name;         /* snake_case: "prepare_compensation",
                                        "delete_aggregate", "recover_aggregate",
                                        "apply_resource_tags" */
    const char        *type_name;    /* fully qualified class name; delete and
                                        recover: me.ahoo.wow.api.command.
                                        DefaultDeleteAggregate / RecoverAggregate;
                                        tags: me.ahoo.wow.api.abac.
                                        DefaultApplyResourceTags */
    const char        *handler;      /* processor function name, "onPrepare" */
    unsigned           is_create:1;
    unsigned           body_required:1;   /* only create */
} cf_command_info_t;

const cf_command_info_t *cf_command_info(cf_command_type_t t);
/* by snake_case name or fully qualified name; -1 when unknown */
int cf_command_lookup(const char *name, cf_command_type_t *out);

typedef struct {
    cf_command_type_t  type;
    json_t            *body;         /* owned, normalized (defaults filled) */
} cf_command_t;

/* Binds a request body to a command.  body is NULL for an empty request body
 * (then {} for every command but create, which fails with IllegalArgument
 * "Command can not be empty.").  Unknown keys are ignored, enums are
 * case-insensitive, integers must be JSON integers in range, required keys
 * must be present and non-null.  On failure: -1, err->code IllegalArgument,
 * one binding error per bad field (name = dotted path, e.g.
 * "eventId.aggregateId.contextName").  cmd->body is NULL on failure. */
int cf_command_bind(cf_command_type_t type, json_t *body, cf_command_t *cmd,
    cf_error_t *err);
void cf_command_free(cf_command_t *cmd);


typedef struct {
    int64_t                 now;            /* server clock, epoch ms */
    const cf_retry_spec_t  *default_spec;   /* server default (spec 1.5) */
    const char             *owner_id;       /* Command-Owner-Id or NULL */
    int64_t                 expected_version;   /* -1 when not given */
} cf_decide_ctx_t;

/* Generic checks (spec 2, in order: expected version (create: 0), existence,
 * owner, deleted / recover-on-not-deleted), then the command's own
 * precondition, then the event.  On success 0 and *ev filled (caller frees).
 * On failure -1, err set, and *in_handler says whether the failure came from
 * the command handler (1) or from the generic checks (0), which decides the
 * CommandResult's "function" (spec 3.3). */
int cf_decide(const cf_aggregate_t *agg, const cf_command_t *cmd,
    const cf_decide_ctx_t *ctx, cf_event_t *ev, cf_error_t *err,
    int *in_handler);


/* CosId radix-62 ids (spec 6.4): 8 digits of epoch ms, 4 of machine id,
 * 3 of per-ms sequence, alphabet 0-9A-Za-z.  Monotonic per generator even if
 * the clock steps back; a sequence overflow moves to the next ms.  A
 * generator may be shared by the event loop and the store thread of a
 * worker (compensation_thread_pool): cf_id_next takes its mutex. */

#define CF_ID_MAX_MACHINE  14776335u  /* 62^4 - 1 */

typedef struct {
    uint32_t         machine_id;
    int64_t          last_ms;
    uint32_t         seq;
    pthread_mutex_t  mutex;
} cf_id_gen_t;

void cf_id_init(cf_id_gen_t *gen, uint32_t machine_id);
/* writes CF_ID_LEN characters and a NUL */
void cf_id_next(cf_id_gen_t *gen, int64_t now_ms, char out[CF_ID_LEN + 1]);
/* 1 when s (len bytes) is shaped like a CosId: 15 radix-62 characters */
int cf_id_is_valid(const char *s, size_t len);


#endif /* _CF_DOMAIN_H_INCLUDED_ */
