
/*
 * ngx_compensation: documents of an aggregate's history (spec 5.1-5.3):
 * event streams, state events (tracing), snapshots and batch results.
 * Plain C (jansson, the store's row types), no nginx.
 */


#ifndef _CF_HISTORY_H_INCLUDED_
#define _CF_HISTORY_H_INCLUDED_


#include "cf_domain.h"
#include "cf_store.h"


/* the "(0)" start cursor of batch routes (AggregateIdScanner.FIRST_ID) */
#define CF_FIRST_ID  "(0)"

/*
 * The DomainEventStream document of spec 5.2: id, contextName,
 * aggregateName, header, aggregateId, tenantId, ownerId, commandId,
 * requestId, version, body, createTime, then size when with_size (the
 * stored document of the event-stream queries).  extra_header, when not
 * NULL, is merged into the header (compensation headers, spec 7.3).
 * A new reference or NULL.
 */
json_t *cf_stream_to_json(const cf_stream_view_t *row, int with_size,
    json_t *extra_header);

/*
 * A StateEvent (spec 5.3): the stream document (no size) plus
 * firstOperator, firstEventTime, state (after the stream) and deleted.
 */
json_t *cf_state_event_to_json(const cf_stream_view_t *row,
    const cf_aggregate_t *agg, json_t *extra_header);

/*
 * The MaterializedSnapshot document of spec 5.1 from a stored row; NULL when
 * the row's state is not a JSON object (a damaged row) or out of memory.
 */
json_t *cf_snapshot_to_json(const cf_snapshot_row_t *row);

/* BatchResult {afterId, size, errorCode, errorMsg} (spec 3.7) */
json_t *cf_batch_result_to_json(const char *after_id, int64_t size,
    const char *error_code, const char *error_msg);

/*
 * Tracing window (spec 5.3 [HEAD]): the versions emitted for the query
 * parameters, given the latest version.  head >= 1, tail >= head (tail
 * INT64_MAX when absent), limit >= 0 (-1 when absent).  Sets *from, *to;
 * an empty window has *from > *to.
 */
void cf_tracing_window(int64_t latest, int64_t head, int64_t tail,
    int64_t limit, int64_t *from, int64_t *to);


#endif /* _CF_HISTORY_H_INCLUDED_ */
