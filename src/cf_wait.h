
/*
 * ngx_compensation: the wait signal of "POST /wow/command/wait" (spec 6.1),
 * validated as the original's SimpleWaitSignal binds it.  Plain C.
 */


#ifndef _CF_WAIT_H_INCLUDED_
#define _CF_WAIT_H_INCLUDED_


#include "cf_domain.h"


/* SENT ... SAGA_HANDLED, case-insensitive; -1 when unknown */
int cf_wait_stage_parse(const char *s);
const char *cf_wait_stage_name(int stage);

/*
 * Validates a wait signal body (a JSON object): id, waitCommandId,
 * commandId, aggregateId {contextName, aggregateName, aggregateId,
 * tenantId}, stage and function are required; aggregateVersion (integer or
 * null), isLastProjection (boolean), errorCode, errorMsg (strings),
 * bindingErrors ([{name, msg}]), result (object or null), commands
 * (strings) and signalTime (integer) are optional.  0, or -1 with one
 * binding error per bad field (IllegalArgument).
 */
int cf_wait_signal_validate(json_t *body, cf_error_t *err);


#endif /* _CF_WAIT_H_INCLUDED_ */
