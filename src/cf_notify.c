
/*
 * ngx_compensation: notification messages (see cf_notify.h).
 */


#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_notify.h"


#define CF_NOTIFY_MAX_ERROR  512     /* bytes of errorMsg in a Markdown
                                        message (WeCom takes 4096 in all) */


static const char *const  cf_notify_titles[CF_EV__COUNT] = {
    "Execution Failed",             /* execution_failed_created */
    "Compensation Prepared",        /* compensation_prepared */
    "Execution Succeeded",          /* execution_success_applied */
    "Execution Failed Again",       /* execution_failed_applied */
    NULL, NULL,
    "Recoverable Marked",           /* recoverable_marked */
    NULL, NULL
};


int
cf_notify_event(cf_command_type_t command)
{
    switch (command) {
    case CF_CMD_CREATE_EXECUTION_FAILED:
        return CF_EV_EXECUTION_FAILED_CREATED;
    case CF_CMD_PREPARE_COMPENSATION:
    case CF_CMD_FORCE_PREPARE_COMPENSATION:
        return CF_EV_COMPENSATION_PREPARED;
    case CF_CMD_APPLY_EXECUTION_SUCCESS:
        return CF_EV_EXECUTION_SUCCESS_APPLIED;
    case CF_CMD_APPLY_EXECUTION_FAILED:
        return CF_EV_EXECUTION_FAILED_APPLIED;
    case CF_CMD_MARK_RECOVERABLE:
        return CF_EV_RECOVERABLE_MARKED;
    default:
        return -1;
    }
}


unsigned
cf_notify_bit(cf_event_type_t ev)
{
    if ((int) ev < 0 || ev >= CF_EV__COUNT || cf_notify_titles[ev] == NULL) {
        return 0;
    }

    return 1u << ev;
}


unsigned
cf_notify_default_events(void)
{
    return cf_notify_bit(CF_EV_EXECUTION_FAILED_CREATED)
           | cf_notify_bit(CF_EV_EXECUTION_FAILED_APPLIED)
           | cf_notify_bit(CF_EV_EXECUTION_SUCCESS_APPLIED)
           | cf_notify_bit(CF_EV_RECOVERABLE_MARKED);
}


unsigned
cf_notify_parse_event(const char *name, size_t len)
{
    int          i;
    const char  *n;

    for (i = 0; i < CF_EV__COUNT; i++) {
        n = cf_event_name((cf_event_type_t) i);

        if (cf_notify_titles[i] && strlen(n) == len
            && memcmp(n, name, len) == 0)
        {
            return 1u << i;
        }
    }

    return 0;
}


static const char *
cf_notify_str(json_t *o, const char *key)
{
    const char  *s;

    s = json_string_value(json_object_get(o, key));

    return s ? s : "";
}


/*
 * The dashboard's view of the execution (the original's QuickNavigation):
 * <host>/<view>?id=<id>, the id percent-encoded (ids may be chosen by
 * clients).
 */
static void
cf_notify_link(cf_buf_t *b, json_t *state, const char *host, size_t host_len)
{
    char                  hex[4];
    const char           *view, *rec, *status;
    const unsigned char  *p;

    rec = cf_notify_str(state, "recoverable");
    status = cf_notify_str(state, "status");

    if (strcmp(rec, "UNRECOVERABLE") == 0) {
        view = "/unrecoverable";
    } else if (strcmp(status, "SUCCEEDED") == 0) {
        view = "/succeeded";
    } else if (json_is_false(json_object_get(state,
                                             "isBelowRetryThreshold")))
    {
        view = "/non-retryable";
    } else {
        view = "/to-retry";
    }

    while (host_len && host[host_len - 1] == '/') {
        host_len--;
    }

    cf_buf_add(b, host, host_len);
    cf_buf_add_str(b, view);
    cf_buf_add_str(b, "?id=");

    for (p = (const unsigned char *) cf_notify_str(state, "id"); *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'
            || *p == '.' || *p == '~')
        {
            cf_buf_add(b, (const char *) p, 1);

        } else {
            snprintf(hex, sizeof(hex), "%%%02X", *p);
            cf_buf_add(b, hex, 3);
        }
    }
}


/* "2024-07-01 02:13:20" (UTC) */
static void
cf_notify_time(cf_buf_t *b, json_t *ms)
{
    char       out[32];
    time_t     t;
    struct tm  tm;

    if (!json_is_integer(ms)) {
        cf_buf_add_str(b, "-");
        return;
    }

    t = (time_t) (json_integer_value(ms) / 1000);

    if (gmtime_r(&t, &tm) == NULL
        || strftime(out, sizeof(out), "%Y-%m-%d %H:%M:%S", &tm) == 0)
    {
        cf_buf_add_str(b, "-");
        return;
    }

    cf_buf_add_str(b, out);
}


static void
cf_notify_int(cf_buf_t *b, json_t *v)
{
    char  out[32];

    snprintf(out, sizeof(out), "%lld", (long long) json_integer_value(v));
    cf_buf_add_str(b, out);
}


/* at most max bytes of s, cut before a UTF-8 sequence, not inside it */
static void
cf_notify_cut(cf_buf_t *b, const char *s, size_t max)
{
    size_t  n;

    n = strlen(s);

    if (n > max) {
        n = max;

        while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80) {
            n--;
        }
    }

    cf_buf_add(b, s, n);

    if (n < strlen(s)) {
        cf_buf_add_str(b, "...");
    }
}


static const char *
cf_notify_color(const char *value)
{
    if (strcmp(value, "FAILED") == 0 || strcmp(value, "UNRECOVERABLE") == 0) {
        return "warning";
    }

    if (strcmp(value, "SUCCEEDED") == 0 || strcmp(value, "RECOVERABLE") == 0) {
        return "info";
    }

    return "comment";
}


/* the original's Markdown layout, in English */
static void
cf_notify_markdown(cf_buf_t *b, cf_event_type_t ev, json_t *state,
    const char *host, size_t host_len)
{
    json_t      *fn, *eid, *agg, *rs, *spec, *error;
    const char  *id, *rec, *status;

    fn = json_object_get(state, "function");
    eid = json_object_get(state, "eventId");
    agg = json_object_get(eid, "aggregateId");
    rs = json_object_get(state, "retryState");
    spec = json_object_get(state, "retrySpec");
    error = json_object_get(state, "error");

    id = cf_notify_str(state, "id");
    rec = cf_notify_str(state, "recoverable");
    status = cf_notify_str(state, "status");

    cf_buf_add_str(b, "# ");
    cf_buf_add_str(b, cf_notify_titles[ev]);
    cf_buf_add_str(b, " - ");
    cf_notify_int(b, json_object_get(rs, "retries"));

    cf_buf_add_str(b, "\n- Id: ");

    if (host_len) {
        cf_buf_add_str(b, "[");
        cf_buf_add_str(b, id);
        cf_buf_add_str(b, "](");
        cf_notify_link(b, state, host, host_len);
        cf_buf_add_str(b, ")");

    } else {
        cf_buf_add_str(b, "`");
        cf_buf_add_str(b, id);
        cf_buf_add_str(b, "`");
    }

    cf_buf_add_str(b, "\n- Processor: ");
    cf_buf_add_str(b, cf_notify_str(fn, "processorName"));
    cf_buf_add_str(b, "@");
    cf_buf_add_str(b, cf_notify_str(fn, "contextName"));
    cf_buf_add_str(b, "\n- Function: ");
    cf_buf_add_str(b, cf_notify_str(fn, "name"));
    cf_buf_add_str(b, "\n- ExecuteAt: ");
    cf_notify_time(b, json_object_get(state, "executeAt"));
    cf_buf_add_str(b, " UTC\n- Recoverable: <font color=\"");
    cf_buf_add_str(b, cf_notify_color(rec));
    cf_buf_add_str(b, "\">");
    cf_buf_add_str(b, rec);
    cf_buf_add_str(b, "</font>\n## Event Id\n- Aggregate: ");
    cf_buf_add_str(b, cf_notify_str(agg, "aggregateName"));
    cf_buf_add_str(b, "@");
    cf_buf_add_str(b, cf_notify_str(agg, "contextName"));
    cf_buf_add_str(b, "\n- AggregateId: `");
    cf_buf_add_str(b, cf_notify_str(agg, "aggregateId"));
    cf_buf_add_str(b, "`\n- Id: `");
    cf_buf_add_str(b, cf_notify_str(eid, "id"));
    cf_buf_add_str(b, "`\n- Version: `");
    cf_notify_int(b, json_object_get(eid, "version"));
    cf_buf_add_str(b, "`\n## Retry State\n- Retries: ");
    cf_notify_int(b, json_object_get(rs, "retries"));
    cf_buf_add_str(b, "(");
    cf_notify_int(b, json_object_get(spec, "maxRetries"));
    cf_buf_add_str(b, ")\n- RetryAt: ");
    cf_notify_time(b, json_object_get(rs, "retryAt"));
    cf_buf_add_str(b, " UTC\n- NextRetryAt: ");
    cf_notify_time(b, json_object_get(rs, "nextRetryAt"));
    cf_buf_add_str(b, " UTC\n- Status: <font color=\"");
    cf_buf_add_str(b, cf_notify_color(status));
    cf_buf_add_str(b, "\">");
    cf_buf_add_str(b, status);
    cf_buf_add_str(b, "</font>");

    if (error && strcmp(status, "SUCCEEDED") != 0) {
        cf_buf_add_str(b, "\n## Error\n- ErrorCode: ");
        cf_buf_add_str(b, cf_notify_str(error, "errorCode"));
        cf_buf_add_str(b, "\n- ErrorMsg: ");
        cf_notify_cut(b, cf_notify_str(error, "errorMsg"),
                      CF_NOTIFY_MAX_ERROR);
    }
}


int
cf_notify_render(cf_buf_t *b, cf_notify_format_t format, cf_event_type_t ev,
    const char *state, size_t state_len, const char *host, size_t host_len,
    int64_t now)
{
    json_t    *doc;
    cf_buf_t   md;

    if (cf_notify_bit(ev) == 0) {
        return -1;
    }

    doc = cf_json_loadb(state, state_len, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return -1;
    }

    if (format == CF_NOTIFY_WECOM) {
        cf_buf_init(&md);
        cf_notify_markdown(&md, ev, doc, host, host_len);

        cf_buf_add_str(b, "{\"msgtype\":\"markdown\",\"markdown\":{"
                          "\"content\":");
        cf_json_write_string(b, md.data ? md.data : "", md.len);
        cf_buf_add_str(b, "}}");

        if (md.failed) {
            b->failed = 1;
        }

        cf_buf_free(&md);

    } else {
        cf_buf_add_str(b, "{\"event\":\"");
        cf_buf_add_str(b, cf_event_name(ev));
        cf_json_write_int_after(b, "\",\"eventTime\":", now);
        cf_buf_add_str(b, ",\"id\":");
        cf_json_write_string(b, cf_notify_str(doc, "id"),
                             strlen(cf_notify_str(doc, "id")));

        if (host_len) {
            cf_buf_init(&md);
            cf_notify_link(&md, doc, host, host_len);
            cf_buf_add_str(b, ",\"link\":");
            cf_json_write_string(b, md.data ? md.data : "", md.len);

            if (md.failed) {
                b->failed = 1;
            }

            cf_buf_free(&md);
        }

        cf_buf_add_str(b, ",\"state\":");
        cf_buf_add(b, state, state_len);
        cf_buf_add_str(b, "}");
    }

    json_decref(doc);

    return b->failed ? -1 : 0;
}
