
/*
 * ngx_compensation: notification messages (spec 7.4).
 *
 * Plain C (jansson): no nginx.  A committed command whose event is one of
 * the five the original notifies (created, failed applied, success
 * applied, prepared, recoverable marked) is turned into a message about the
 * execution's state after it: a generic JSON document, or the WeCom
 * group-bot Markdown message of the original.  Links point at the
 * dashboard's view of the execution (QuickNavigation of the original).
 */


#ifndef _CF_NOTIFY_H_INCLUDED_
#define _CF_NOTIFY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "cf_domain.h"
#include "cf_json.h"


typedef enum {
    CF_NOTIFY_JSON = 0,
    CF_NOTIFY_WECOM
} cf_notify_format_t;


/* the event a command notifies about, or -1 (not one of the five) */
int cf_notify_event(cf_command_type_t command);

/* the bit of an event in an event set; 0 for the others */
unsigned cf_notify_bit(cf_event_type_t ev);

/* the original's default set: every event but compensation_prepared */
unsigned cf_notify_default_events(void);

/* the event set bit of a name ("execution_failed_created", ...), or 0 */
unsigned cf_notify_parse_event(const char *name, size_t len);

/*
 * Writes the message into b.  state is the execution's state document
 * after the event (JSON text), host the dashboard's base URL (may be
 * empty: no link), now the event's time (epoch ms).  0, or -1 when the
 * state cannot be read or memory ran out.
 */
int cf_notify_render(cf_buf_t *b, cf_notify_format_t format,
    cf_event_type_t ev, const char *state, size_t state_len,
    const char *host, size_t host_len, int64_t now);


#endif /* _CF_NOTIFY_H_INCLUDED_ */
