
/*
 * ngx_compensation: event streams and snapshots in the SQLite store
 * (cf_store.h): appends, loads and replays, snapshot rows, the state read's
 * fast path, id scans.  The statements are the connection's
 * (cf_sqlite_store.c), prepared once at open.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_sqlite_store.h"
#include "cf_bind.h"


static const char *cf_column_text(sqlite3_stmt *s, int col);
static int cf_tags_from_text(cf_aggregate_t *agg, const char *text);
static int cf_bind_text(cf_sqlite_store_t *st, sqlite3_stmt *s, int col,
    cf_buf_t *b);
static int cf_sqlite_which_unique(cf_sqlite_store_t *st,
    const cf_stream_row_t *row);


int
cf_sqlite_request_id_exists(cf_store_t *store, const char *request_id)
{
    int                 rc;
    sqlite3_stmt       *s;
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    s = st->stmt[CF_SQL_REQUEST_EXISTS];
    sqlite3_bind_text(s, 1, request_id, -1, SQLITE_STATIC);

    rc = sqlite3_step(s);

    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        cf_sqlite_set_error(st, "request id lookup");
    }

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);

    if (rc == SQLITE_ROW) {
        return 1;
    }

    return rc == SQLITE_DONE ? 0 : -1;
}


static const char *
cf_column_text(sqlite3_stmt *s, int col)
{
    const char  *p;

    p = (const char *) sqlite3_column_text(s, col);

    return p ? p : "";
}


static char *
cf_strdup(const char *s)
{
    size_t  n;
    char   *p;

    n = strlen(s);
    p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n + 1);
    }

    return p;
}


static int
cf_replace_str(char **dst, const char *src)
{
    char  *p;

    p = cf_strdup(src);
    if (p == NULL) {
        return -1;
    }

    free(*dst);
    *dst = p;

    return 0;
}


int
cf_sqlite_load(cf_store_t *store, cf_aggregate_t *agg, cf_error_t *err)
{
    int                 rc, ok;
    const char         *text;
    json_t             *state;
    sqlite3_stmt       *s;
    json_error_t        jerr;
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    s = st->stmt[CF_SQL_LOAD_SNAPSHOT];
    sqlite3_bind_text(s, 1, agg->state.id, -1, SQLITE_STATIC);

    rc = sqlite3_step(s);

    if (rc == SQLITE_ROW) {
        ok = 1;

        text = cf_column_text(s, 8);
        state = cf_json_loads(text, 0, &jerr);

        if (state == NULL
            || cf_state_from_json(&agg->state, state, err) != 0)
        {
            /* a damaged snapshot row: rebuild everything from the events */
            ok = 0;
        }

        json_decref(state);

        if (ok && cf_tags_from_text(agg, cf_column_text(s, 9)) != 0) {
            ok = 0;
        }

        if (ok) {
            agg->version = sqlite3_column_int64(s, 0);
            agg->deleted = sqlite3_column_int(s, 7) != 0;
            agg->first_event_time = sqlite3_column_int64(s, 5);
            agg->event_time = sqlite3_column_int64(s, 6);

            if (cf_replace_str(&agg->last_stream_id, cf_column_text(s, 1))
                || cf_replace_str(&agg->owner_id, cf_column_text(s, 2))
                || cf_replace_str(&agg->first_operator, cf_column_text(s, 3))
                || cf_replace_str(&agg->operator_, cf_column_text(s, 4)))
            {
                sqlite3_reset(s);
                sqlite3_clear_bindings(s);
                cf_error_set(err, CF_E_INTERNAL, "out of memory");
                return -1;
            }

        } else {
            cf_error_free(err);
            cf_error_init(err);

            text = agg->state.id;
            agg->state.id = NULL;
            cf_aggregate_free(agg);

            if (cf_aggregate_init(agg, text) != 0) {
                free((char *) text);
                sqlite3_reset(s);
                sqlite3_clear_bindings(s);
                cf_error_set(err, CF_E_INTERNAL, "out of memory");
                return -1;
            }

            free((char *) text);
        }

    } else if (rc != SQLITE_DONE) {
        cf_sqlite_set_error(st, "loading snapshot");
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        cf_error_set(err, CF_E_INTERNAL, "store: %s", st->errmsg);
        return -1;
    }

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);

    /* applies the event streams after agg->version */
    return cf_store_load_upto(&st->base, agg, INT64_MAX, INT64_MAX, err);
}


int
cf_sqlite_each_stream(cf_store_t *store, const char *aggregate_id,
    int64_t head, int64_t tail, cf_stream_cb_pt cb, void *data,
    cf_error_t *err)
{
    int                 rc, ret, n;
    sqlite3_stmt       *s;
    cf_stream_view_t    row;
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    s = st->stmt[CF_SQL_EACH_STREAM];
    sqlite3_bind_text(s, 1, aggregate_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, head);
    sqlite3_bind_int64(s, 3, tail);

    ret = 0;
    n = 0;

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {

        row.id = cf_column_text(s, 0);
        row.aggregate_id = cf_column_text(s, 1);
        row.tenant_id = cf_column_text(s, 2);
        row.owner_id = cf_column_text(s, 3);
        row.version = sqlite3_column_int64(s, 4);
        row.request_id = cf_column_text(s, 5);
        row.command_id = cf_column_text(s, 6);
        row.header = cf_json_loads(cf_column_text(s, 7), 0, NULL);
        row.body = cf_json_loads(cf_column_text(s, 8), 0, NULL);
        row.size = sqlite3_column_int64(s, 9);
        row.create_time = sqlite3_column_int64(s, 10);

        if (!json_is_object(row.header) || !json_is_array(row.body)) {
            cf_error_set(err, CF_E_INTERNAL,
                         "damaged event stream %s of aggregate %s",
                         row.id, aggregate_id);
            json_decref(row.header);
            json_decref(row.body);
            ret = -1;
            break;
        }

        ret = cb(data, &row);

        json_decref(row.header);
        json_decref(row.body);

        if (ret != 0) {
            break;
        }

        n++;
    }

    if (ret == 0 && rc != SQLITE_DONE) {
        cf_sqlite_set_error(st, "loading event streams");
        cf_error_set(err, CF_E_INTERNAL, "store: %s", st->errmsg);
        ret = -1;
    }

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);

    if (ret < 0) {
        if (cf_error_is_ok(err)) {
            cf_error_set(err, CF_E_INTERNAL, "reading event streams failed");
        }

        return -1;
    }

    return n;
}


int
cf_sqlite_latest_version(cf_store_t *store, const char *aggregate_id,
    int64_t *version, cf_error_t *err)
{
    int                 rc;
    sqlite3_stmt       *s;
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    s = st->stmt[CF_SQL_LATEST_VERSION];
    sqlite3_bind_text(s, 1, aggregate_id, -1, SQLITE_STATIC);

    rc = sqlite3_step(s);

    if (rc == SQLITE_ROW) {
        /* max() of no row is NULL, read as 0 */
        *version = sqlite3_column_int64(s, 0);

    } else {
        cf_sqlite_set_error(st, "reading the latest version");
        cf_error_set(err, CF_E_INTERNAL, "store: %s", st->errmsg);
    }

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);

    return rc == SQLITE_ROW ? 0 : -1;
}


/* the snapshot's tags column into agg->tags; -1 for a damaged column */
static int
cf_tags_from_text(cf_aggregate_t *agg, const char *text)
{
    json_t      *tags, *bound;
    cf_error_t   err;

    static const cf_field_t  fields[] = {
        { "tags", CF_FT_TAGS,   0, NULL, NULL },
        { NULL,   CF_FT_STRING, 0, NULL, NULL }
    };

    tags = cf_json_loads(text, 0, NULL);
    if (tags == NULL) {
        return -1;
    }

    bound = json_pack("{s:o}", "tags", tags);
    if (bound == NULL) {
        return -1;
    }

    cf_error_init(&err);

    /* the same binder as the event's: a stored value is input too */
    if (cf_bind_object(bound, fields, "", &tags, &err) != 0) {
        cf_error_free(&err);
        json_decref(bound);
        return -1;
    }

    json_decref(bound);
    json_decref(agg->tags);
    agg->tags = json_incref(json_object_get(tags, "tags"));
    json_decref(tags);

    return agg->tags ? 0 : -1;
}


int
cf_sqlite_read_snapshot(cf_store_t *store, const char *aggregate_id,
    cf_snapshot_row_t *out)
{
    int                 rc, ret;
    sqlite3_stmt       *s;
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    memset(out, 0, sizeof(cf_snapshot_row_t));

    s = st->stmt[CF_SQL_READ_SNAPSHOT];
    sqlite3_bind_text(s, 1, aggregate_id, -1, SQLITE_STATIC);

    rc = sqlite3_step(s);

    if (rc == SQLITE_ROW) {
        out->version = sqlite3_column_int64(s, 0);
        out->first_event_time = sqlite3_column_int64(s, 6);
        out->event_time = sqlite3_column_int64(s, 7);
        out->snapshot_time = sqlite3_column_int64(s, 8);
        out->deleted = sqlite3_column_int(s, 9) != 0;

        out->aggregate_id = cf_strdup(aggregate_id);
        out->event_id = cf_strdup(cf_column_text(s, 1));
        out->tenant_id = cf_strdup(cf_column_text(s, 2));
        out->owner_id = cf_strdup(cf_column_text(s, 3));
        out->first_operator = cf_strdup(cf_column_text(s, 4));
        out->operator_ = cf_strdup(cf_column_text(s, 5));
        out->state = cf_strdup(cf_column_text(s, 10));
        out->tags = cf_strdup(cf_column_text(s, 11));

        ret = 0;

        if (out->aggregate_id == NULL || out->event_id == NULL
            || out->tenant_id == NULL || out->owner_id == NULL
            || out->first_operator == NULL || out->operator_ == NULL
            || out->state == NULL || out->tags == NULL)
        {
            snprintf(st->errmsg, sizeof(st->errmsg), "out of memory");
            cf_snapshot_row_free(out);
            ret = -1;
        }

    } else if (rc == SQLITE_DONE) {
        ret = CF_STORE_NOT_FOUND;

    } else {
        cf_sqlite_set_error(st, "reading snapshot");
        ret = -1;
    }

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);

    return ret;
}


int
cf_sqlite_scan_ids(cf_store_t *store, const char *after_id, int64_t limit,
    char ***ids, size_t *n)
{
    int                 rc;
    char              **a, **na, *id;
    size_t              cap, len;
    sqlite3_stmt       *s;
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    *ids = NULL;
    *n = 0;

    a = NULL;
    cap = 0;
    len = 0;

    s = st->stmt[CF_SQL_SCAN_IDS];
    sqlite3_bind_text(s, 1, after_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, limit);

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {

        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            na = realloc(a, cap * sizeof(char *));
            if (na == NULL) {
                goto nomem;
            }
            a = na;
        }

        id = cf_strdup(cf_column_text(s, 0));
        if (id == NULL) {
            goto nomem;
        }

        a[len++] = id;
    }

    if (rc != SQLITE_DONE) {
        cf_sqlite_set_error(st, "scanning aggregate ids");
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        cf_ids_free(a, len);
        return -1;
    }

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);

    *ids = a;
    *n = len;

    return 0;

nomem:

    snprintf(st->errmsg, sizeof(st->errmsg), "out of memory");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    cf_ids_free(a, len);

    return -1;
}


static int
cf_bind_text(cf_sqlite_store_t *st, sqlite3_stmt *s, int col, cf_buf_t *b)
{
    const char  *text;

    text = cf_buf_cstr(b);
    if (text == NULL) {
        snprintf(st->errmsg, sizeof(st->errmsg), "out of memory");
        return -1;
    }

    if (sqlite3_bind_text(s, col, text, (int) b->len, SQLITE_STATIC)
        != SQLITE_OK)
    {
        cf_sqlite_set_error(st, "binding a JSON column");
        return -1;
    }

    return 0;
}


int
cf_sqlite_append(cf_store_t *store, const cf_stream_row_t *row)
{
    int                 rc, ret;
    cf_buf_t           *b;
    sqlite3_stmt       *s;
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    s = st->stmt[CF_SQL_APPEND];

    sqlite3_bind_text(s, 1, row->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, row->aggregate_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, row->owner_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, row->version);
    sqlite3_bind_text(s, 5, row->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, row->command_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 9, 1);
    sqlite3_bind_int64(s, 10, row->create_time);

    cf_buf_reset(&st->text[0]);
    cf_json_write(&st->text[0], row->header);

    b = &st->text[1];
    cf_buf_reset(b);
    cf_buf_add_str(b, "[{\"id\":");
    cf_json_write_string(b, row->event_id, strlen(row->event_id));
    cf_buf_add_str(b, ",\"name\":");
    cf_json_write_string(b, row->event_name, strlen(row->event_name));
    cf_buf_add_str(b, ",\"revision\":\"" CF_EVENT_REVISION "\",\"bodyType\":");
    cf_json_write_string(b, row->event_body_type,
                         strlen(row->event_body_type));
    cf_buf_add_str(b, ",\"body\":");
    cf_json_write(b, row->event_body);
    cf_buf_add_str(b, "}]");

    if (cf_bind_text(st, s, 7, &st->text[0]) != 0
        || cf_bind_text(st, s, 8, b) != 0)
    {
        sqlite3_clear_bindings(s);
        return -1;
    }

    rc = sqlite3_step(s);

    ret = 0;

    if (rc != SQLITE_DONE) {
        cf_sqlite_set_error(st, "appending event stream");

        if (rc == SQLITE_CONSTRAINT_UNIQUE
            || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        {
            ret = cf_sqlite_which_unique(st, row);

        } else if ((rc & 0xff) == SQLITE_BUSY) {
            ret = CF_STORE_BUSY;

        } else {
            ret = -1;
        }
    }

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);

    return ret;
}


/*
 * Which unique constraint an event stream row broke, from the rows, not
 * from SQLite's error text: the (aggregate_id, request_id) one when the
 * aggregate already has the request id, else (aggregate_id, version) or the
 * stream id (a conflict either way).  In the failed write's transaction, so
 * under the same lock.  Rare: prepared on the spot.
 */
static int
cf_sqlite_which_unique(cf_sqlite_store_t *st, const cf_stream_row_t *row)
{
    int            rc, ret;
    sqlite3_stmt  *s;

    ret = CF_STORE_VERSION_TAKEN;

    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM event_stream"
                           " WHERE aggregate_id = ?1 AND request_id = ?2",
                           -1, &s, NULL)
        != SQLITE_OK)
    {
        return ret;
    }

    if (sqlite3_bind_text(s, 1, row->aggregate_id, -1, SQLITE_STATIC)
        == SQLITE_OK
        && sqlite3_bind_text(s, 2, row->request_id, -1, SQLITE_STATIC)
           == SQLITE_OK)
    {
        rc = sqlite3_step(s);

        if (rc == SQLITE_ROW) {
            ret = CF_STORE_DUPLICATE_REQ;
        }
    }

    sqlite3_finalize(s);

    return ret;
}


int
cf_sqlite_save_snapshot(cf_store_t *store, const cf_aggregate_t *agg,
    int64_t snapshot_time)
{
    int                 rc;
    sqlite3_stmt       *s;
    const cf_state_t   *sv;
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    sv = &agg->state;

    cf_buf_reset(&st->text[0]);
    cf_state_write(&st->text[0], sv);

    s = st->stmt[CF_SQL_SAVE_SNAPSHOT];

    sqlite3_bind_text(s, 1, sv->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, agg->owner_id ? agg->owner_id : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, agg->version);
    sqlite3_bind_text(s, 4, agg->last_stream_id ? agg->last_stream_id : "",
                      -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, agg->first_operator ? agg->first_operator : "",
                      -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, agg->operator_ ? agg->operator_ : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, agg->first_event_time);
    sqlite3_bind_int64(s, 8, agg->event_time);
    sqlite3_bind_int64(s, 9, snapshot_time);
    sqlite3_bind_int(s, 10, agg->deleted ? 1 : 0);

    if (cf_bind_text(st, s, 11, &st->text[0]) != 0) {
        sqlite3_clear_bindings(s);
        return -1;
    }

    sqlite3_bind_text(s, 12, cf_status_name(sv->status), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 13, cf_recoverable_name(sv->recoverable), -1,
                      SQLITE_STATIC);
    sqlite3_bind_int(s, 14, cf_state_is_retryable(sv));
    sqlite3_bind_int(s, 15, cf_state_is_below_retry_threshold(sv));
    sqlite3_bind_int64(s, 16, sv->retry_state.retries);
    sqlite3_bind_int64(s, 17, sv->retry_state.next_retry_at);
    sqlite3_bind_int64(s, 18, sv->retry_state.timeout_at);

    if (agg->tags == NULL || json_object_size(agg->tags) == 0) {
        sqlite3_bind_text(s, 19, "{}", 2, SQLITE_STATIC);

    } else {
        cf_buf_reset(&st->text[1]);
        cf_json_write(&st->text[1], agg->tags);

        if (cf_bind_text(st, s, 19, &st->text[1]) != 0) {
            sqlite3_clear_bindings(s);
            return -1;
        }
    }

    rc = sqlite3_step(s);

    if (rc != SQLITE_DONE) {
        cf_sqlite_set_error(st, "saving snapshot");
    }

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);

    if (rc == SQLITE_DONE) {
        return 0;
    }

    return (rc & 0xff) == SQLITE_BUSY ? CF_STORE_BUSY : -1;
}


/*
 * The stored state document of a live aggregate whose snapshot is at the
 * head of its event stream, copied into memory from alloc(data, size):
 * served as it is, without parsing and serialising it again.  1 with *text
 * and *len set; 0 when the caller must take the full path (no snapshot,
 * deleted, events after the snapshot, not a JSON object); -1 on an error.
 */
int
cf_sqlite_state_text(cf_store_t *store, const char *aggregate_id,
    void *(*alloc)(void *data, size_t size), void *data, char **text,
    size_t *len)
{
    int                 rc, ret;
    size_t              n;
    const char         *p;
    sqlite3_stmt       *s;
    cf_sqlite_store_t  *st = (cf_sqlite_store_t *) store;

    s = st->stmt[CF_SQL_STATE_TEXT];
    sqlite3_bind_text(s, 1, aggregate_id, -1, SQLITE_STATIC);

    rc = sqlite3_step(s);
    ret = 0;

    if (rc == SQLITE_ROW) {
        p = (const char *) sqlite3_column_text(s, 2);
        n = (size_t) sqlite3_column_bytes(s, 2);

        if (sqlite3_column_int64(s, 0) > 0
            && sqlite3_column_int(s, 1) == 0
            && (sqlite3_column_type(s, 3) == SQLITE_NULL
                || sqlite3_column_int64(s, 3) <= sqlite3_column_int64(s, 0))
            && p != NULL && n >= 2 && p[0] == '{' && p[n - 1] == '}')
        {
            *text = alloc(data, n);

            if (*text == NULL) {
                snprintf(st->errmsg, sizeof(st->errmsg), "out of memory");
                ret = -1;

            } else {
                memcpy(*text, p, n);
                *len = n;
                ret = 1;
            }
        }

    } else if (rc != SQLITE_DONE) {
        cf_sqlite_set_error(st, "reading the state");
        ret = -1;
    }

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);

    return ret;
}
