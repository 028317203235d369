
/*
 * ngx_compensation: the PostgreSQL store's connection, statements and
 * transactions (see cf_pg_store.h).
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>

#include "cf_pg.h"


static const cf_pg_stmt_t  cf_pg_tx[] = {
    { CF_PG_BEGIN, "cf_begin", "BEGIN ISOLATION LEVEL READ COMMITTED", 0 },
    /* the reads of a group's decisions share one snapshot, as in SQLite */
    { CF_PG_BEGIN_READ, "cf_begin_read",
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0 },
    { CF_PG_COMMIT, "cf_commit", "COMMIT", 0 },
    { CF_PG_ROLLBACK, "cf_rollback", "ROLLBACK", 0 },
    { CF_PG_SAVEPOINT, "cf_savepoint", "SAVEPOINT cf_command", 0 },
    { CF_PG_RELEASE, "cf_release", "RELEASE SAVEPOINT cf_command", 0 },
    { CF_PG_ROLLBACK_TO, "cf_rollback_to",
      "ROLLBACK TO SAVEPOINT cf_command", 0 },
    /*
     * Session-wide: a read transaction sets it before its BEGIN, a write
     * transaction inside (no round trip of its own), where a rollback
     * undoes it (then it is set again: cf_pg_store_rollback)
     */
    { CF_PG_LOCK_TIMEOUT, "cf_lock_timeout",
      "SELECT set_config('lock_timeout', $1, false)", 1 },
    { CF_PG_PING, "cf_ping", "SELECT 1", 0 }
};


static void cf_pg_scrub(const char *secret, char *msg);
static char *cf_pg_guess_secret(const char *dsn);
static void cf_pg_result_error(cf_pg_store_t *st, PGresult *res,
    const char *what);
static void cf_pg_describe(cf_pg_store_t *st);
static void cf_pg_notice(void *arg, const char *message);
static void cf_pg_chomp(char *s);
static int cf_pg_send(cf_pg_store_t *st, const cf_pg_stmt_t *stmt,
    const char *const *values, const char *what, int keep, int deferred);
static int cf_pg_sync(cf_pg_store_t *st, PGresult **res, int n);
static void cf_pg_queue_clear(cf_pg_store_t *st);
static void cf_pg_pipeline_end(cf_pg_store_t *st);
static int cf_pg_begin_send(cf_pg_store_t *st);
static void cf_pg_lost_in_tx(cf_pg_store_t *st, const char *what);


cf_pg_store_t *
cf_pg_store_open(const char *dsn, const cf_store_options_t *opts,
    char *errbuf, size_t errlen)
{
    char               *perr, msg[512];
    const char         *enc;
    cf_pg_store_t      *st;
    PQconninfoOption   *o, *parsed;

    /*
     * Defaults first: what the DSN says wins (expand_dbname, last wins).
     * A server that vanished without closing the connection (a host down,
     * a network cut) would hold a call for the kernel's TCP timeouts, about
     * 15 minutes: sent data unacknowledged for 30 s, or an idle connection
     * unanswered for 30 s + 3 x 10 s, ends it instead.
     */
    static const char  *keywords[] = {
        "connect_timeout", "application_name", "client_encoding",
        "tcp_user_timeout", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "dbname", NULL
    };
    const char         *values[10];

    st = calloc(1, sizeof(cf_pg_store_t));
    if (st == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }

    st->base.backend = &cf_pg_store_backend;
    st->busy_limit_ms = opts->busy_timeout_ms;
    st->lock_timeout_ms = -1;

    /* the password, to keep it out of every message */
    perr = NULL;
    parsed = PQconninfoParse(dsn, &perr);

    if (parsed == NULL) {
        st->secret = cf_pg_guess_secret(dsn);
        snprintf(msg, sizeof(msg), "%s", perr ? perr : "out of memory");
        PQfreemem(perr);
        cf_pg_chomp(msg);
        cf_pg_scrub(st->secret, msg);
        snprintf(errbuf, errlen, "invalid PostgreSQL connection string: %s",
                 msg);
        goto failed;
    }

    for (o = parsed; o->keyword; o++) {
        if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0]) {
            st->secret = strdup(o->val);
        }
    }

    PQconninfoFree(parsed);

    values[0] = "10";
    values[1] = opts->application_name ? opts->application_name
                                       : "ngx_compensation";
    values[2] = "UTF8";
    values[3] = "30000";
    values[4] = "1";
    values[5] = "30";
    values[6] = "10";
    values[7] = "3";
    values[8] = dsn;
    values[9] = NULL;

    st->conn = PQconnectdbParams(keywords, values, 1);

    if (st->conn == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto failed;
    }

    cf_pg_describe(st);

    /* libpq prints notices on stderr (nginx's error log, unformatted):
     * the schema's "already exists, skipping" and the like are not news */
    PQsetNoticeProcessor(st->conn, cf_pg_notice, NULL);

    if (PQstatus(st->conn) != CONNECTION_OK) {
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(st->conn));
        cf_pg_chomp(msg);
        cf_pg_scrub(st->secret, msg);
        snprintf(errbuf, errlen, "connecting to PostgreSQL %s failed: %s",
                 st->target, msg);
        goto failed;
    }

    /* the JSON texts are stored and served as sent: no conversion */
    enc = PQparameterStatus(st->conn, "server_encoding");

    if (enc == NULL || strcmp(enc, "UTF8") != 0) {
        snprintf(errbuf, errlen, "PostgreSQL %s: the database's encoding is"
                 " %s, UTF8 is required", st->target, enc ? enc : "unknown");
        goto failed;
    }

    if (cf_pg_schema(st) != 0) {
        snprintf(errbuf, errlen, "PostgreSQL %s: creating the schema"
                 " failed: %s", st->target, st->errmsg);
        goto failed;
    }

    return st;

failed:

    cf_pg_store_close(st);
    return NULL;
}


void
cf_pg_store_close(cf_pg_store_t *st)
{
    if (st == NULL) {
        return;
    }

    cf_pg_queue_clear(st);

    if (st->conn) {
        PQfinish(st->conn);
    }

    cf_buf_free(&st->text[0]);
    cf_buf_free(&st->text[1]);

    if (st->secret) {
        memset(st->secret, 0, strlen(st->secret));
        free(st->secret);
    }

    free(st);
}


const char *
cf_pg_store_errmsg(cf_pg_store_t *st)
{
    return st->errmsg;
}


/* what outlasts the transaction is the store's health (cf_store.h) */
int
cf_pg_store_errcode(cf_pg_store_t *st)
{
    switch (st->errcode) {

    case CF_PG_ERR_UNREACHABLE:
    case CF_PG_ERR_FULL:
    case CF_PG_ERR_READONLY:
        return st->errcode | CF_STORE_FAULT;

    default:
        return st->errcode;
    }
}


const char *
cf_pg_store_sqlstate(cf_store_t *store)
{
    return ((cf_pg_store_t *) store)->sqlstate;
}


void
cf_pg_store_clear_error(cf_store_t *store)
{
    cf_pg_store_t  *st = (cf_pg_store_t *) store;

    st->errcode = 0;
    st->sqlstate[0] = '\0';
}


const char *
cf_pg_store_target(cf_store_t *store)
{
    return ((cf_pg_store_t *) store)->target;
}


int
cf_pg_store_backend_pid(cf_store_t *store)
{
    return PQbackendPID(((cf_pg_store_t *) store)->conn);
}


static void
cf_pg_notice(void *arg, const char *message)
{
}


/* user@host:port/db: what the logs may say of the connection */
static void
cf_pg_describe(cf_pg_store_t *st)
{
    const char  *user, *host, *port, *db;

    user = PQuser(st->conn);
    host = PQhost(st->conn);
    port = PQport(st->conn);
    db = PQdb(st->conn);

    snprintf(st->target, sizeof(st->target), "%s@%s:%s/%s",
             user ? user : "", host ? host : "", port ? port : "",
             db ? db : "");
}


void
cf_pg_dsn_target(const char *dsn, char *buf, size_t len)
{
    char              *perr;
    const char        *user, *host, *port, *db;
    PQconninfoOption  *o, *parsed;

    perr = NULL;
    parsed = PQconninfoParse(dsn, &perr);
    PQfreemem(perr);

    if (parsed == NULL) {
        /* libpq's message may quote the DSN, password included */
        snprintf(buf, len, "(an invalid connection string)");
        return;
    }

    user = host = port = db = "";

    for (o = parsed; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        if (strcmp(o->keyword, "user") == 0) {
            user = o->val;

        } else if (strcmp(o->keyword, "host") == 0
                   || (strcmp(o->keyword, "hostaddr") == 0 && host[0] == 0))
        {
            host = o->val;

        } else if (strcmp(o->keyword, "port") == 0) {
            port = o->val;

        } else if (strcmp(o->keyword, "dbname") == 0) {
            db = o->val;

        } else if (strcmp(o->keyword, "service") == 0 && db[0] == 0) {
            db = o->val;
        }
    }

    snprintf(buf, len, "%s@%s:%s/%s", user, host, port, db);

    PQconninfoFree(parsed);
}


int
cf_pg_store_code_unreachable(int code)
{
    return (code & ~CF_STORE_FAULT) == CF_PG_ERR_UNREACHABLE;
}


/* replaces every occurrence of secret in msg */
static void
cf_pg_scrub(const char *secret, char *msg)
{
    char    *p;
    size_t   n;

    if (secret == NULL || secret[0] == '\0') {
        return;
    }

    n = strlen(secret);

    while ((p = strstr(msg, secret)) != NULL) {
        memset(p, '*', n);
    }
}


/*
 * The password of a DSN libpq could not parse (its message may quote the
 * DSN): a URI's userinfo after ':', or a password= value.
 */
static char *
cf_pg_guess_secret(const char *dsn)
{
    size_t       n;
    const char  *p, *at, *colon;

    p = strstr(dsn, "://");

    if (p) {
        p += 3;
        at = strchr(p, '@');
        colon = strchr(p, ':');

        if (at && colon && colon < at) {
            return strndup(colon + 1, at - colon - 1);
        }

        p = strstr(p, "password=");

    } else {
        p = strstr(dsn, "password");

        if (p) {
            p = strchr(p, '=');
        }
    }

    if (p == NULL) {
        return NULL;
    }

    p = strchr(p, '=') + 1;

    while (*p == ' ' || *p == '\'') {
        p++;
    }

    n = strcspn(p, " '&");

    return n ? strndup(p, n) : NULL;
}


static void
cf_pg_chomp(char *s)
{
    size_t  n;

    n = strlen(s);

    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ')) {
        s[--n] = '\0';
    }

    /* libpq's messages may span lines: keep them on one log line */
    for (; *s; s++) {
        if (*s == '\n' || *s == '\t') {
            *s = ' ';
        }
    }
}


void
cf_pg_set_error(cf_pg_store_t *st, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, args);
    va_end(args);

    cf_pg_chomp(st->errmsg);
    cf_pg_scrub(st->secret, st->errmsg);
}


static void
cf_pg_result_error(cf_pg_store_t *st, PGresult *res, const char *what)
{
    const char  *state, *primary, *constraint;

    constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME)
                     : NULL;
    snprintf(st->constraint, sizeof(st->constraint), "%s",
             constraint ? constraint : "");

    if (PQstatus(st->conn) != CONNECTION_OK) {
        snprintf(st->sqlstate, sizeof(st->sqlstate), "08006");
        st->errcode = CF_PG_ERR_UNREACHABLE;
        cf_pg_set_error(st, "%s: the connection to PostgreSQL %s was lost:"
                        " %s", what, st->target, PQerrorMessage(st->conn));
        return;
    }

    state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    snprintf(st->sqlstate, sizeof(st->sqlstate), "%s", state ? state : "");

    if (strncmp(st->sqlstate, "53", 2) == 0) {
        st->errcode = CF_PG_ERR_FULL;

    } else if (strcmp(st->sqlstate, "25006") == 0) {
        st->errcode = CF_PG_ERR_READONLY;

    } else if (strncmp(st->sqlstate, "08", 2) == 0
               || strncmp(st->sqlstate, "57P", 3) == 0)
    {
        st->errcode = CF_PG_ERR_UNREACHABLE;

    } else {
        st->errcode = CF_PG_ERR_OTHER;
    }

    cf_pg_set_error(st, "%s: %s (SQLSTATE %s)", what,
                    primary ? primary : PQerrorMessage(st->conn),
                    st->sqlstate[0] ? st->sqlstate : "none");
}


int
cf_pg_last_rc(cf_pg_store_t *st)
{
    /* the waits the busy timeout bounds, and the conflicts a retry of
     * the whole command resolves */
    if (strcmp(st->sqlstate, "55P03") == 0
        || strcmp(st->sqlstate, "40P01") == 0
        || strcmp(st->sqlstate, "40001") == 0)
    {
        return CF_STORE_BUSY;
    }

    return -1;
}


/* PQreset: the same parameters; every statement is prepared again */
int
cf_pg_reconnect(cf_pg_store_t *st)
{
    PQreset(st->conn);

    /* the old session's answers will never come; the new one is out of
     * pipeline mode (PQreset) */
    cf_pg_queue_clear(st);
    memset(st->prepared, 0, sizeof(st->prepared));
    st->lock_timeout_ms = -1;

    if (PQstatus(st->conn) != CONNECTION_OK) {
        snprintf(st->sqlstate, sizeof(st->sqlstate), "08001");
        st->errcode = CF_PG_ERR_UNREACHABLE;
        cf_pg_set_error(st, "PostgreSQL %s is unreachable: %s", st->target,
                        PQerrorMessage(st->conn));
        return -1;
    }

    /* a new session: its own slot of the count rollup */
    cf_pg_count_slot(st);

    return 0;
}


PGresult *
cf_pg_exec(cf_pg_store_t *st, const cf_pg_stmt_t *stmt,
    const char *const *values, const int *lengths, const char *what)
{
    int              attempt, idle;
    PGresult        *res;
    cf_pg_call_t     call;
    ExecStatusType   status;

    if (st->tx_open && st->write_tx) {
        call.stmt = stmt;
        call.values = values;
        call.what = what;

        return cf_pg_exec_many(st, &call, 1, &res) == 0 ? res : NULL;
    }

    /* left over by a failure */
    cf_pg_pipeline_end(st);

    for (attempt = 0; attempt < 2; attempt++) {

        if (PQstatus(st->conn) != CONNECTION_OK) {
            if (st->tx_open) {
                /* a new session must not run the rest of a transaction */
                snprintf(st->sqlstate, sizeof(st->sqlstate), "08006");
                st->errcode = CF_PG_ERR_UNREACHABLE;
                cf_pg_set_error(st, "%s: the connection to PostgreSQL %s was"
                                " lost in this transaction", what,
                                st->target);
                return NULL;
            }

            if (cf_pg_reconnect(st) != 0) {
                return NULL;
            }
        }

        idle = !st->tx_open
               && PQtransactionStatus(st->conn) == PQTRANS_IDLE;

        if (!st->prepared[stmt->slot]) {
            res = PQprepare(st->conn, stmt->name, stmt->sql, stmt->nparams,
                            NULL);

            if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                cf_pg_result_error(st, res, what);
                PQclear(res);

                if (idle && attempt == 0
                    && PQstatus(st->conn) != CONNECTION_OK)
                {
                    continue;
                }

                return NULL;
            }

            PQclear(res);
            st->prepared[stmt->slot] = 1;
        }

        res = PQexecPrepared(st->conn, stmt->name, stmt->nparams, values,
                             lengths, NULL, 0);
        status = PQresultStatus(res);

        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
            return res;
        }

        cf_pg_result_error(st, res, what);
        PQclear(res);

        /* lost before anything was done: once more, on a new session */
        if (idle && attempt == 0 && PQstatus(st->conn) != CONNECTION_OK) {
            continue;
        }

        return NULL;
    }

    return NULL;
}


int
cf_pg_run(cf_pg_store_t *st, const cf_pg_stmt_t *stmt,
    const char *const *values, const int *lengths, const char *what,
    int64_t *changed)
{
    PGresult  *res;

    res = cf_pg_exec(st, stmt, values, lengths, what);
    if (res == NULL) {
        return -1;
    }

    if (changed) {
        *changed = strtoll(PQcmdTuples(res), NULL, 10);
    }

    PQclear(res);

    return 0;
}


int
cf_pg_col(const PGresult *res, const char *name)
{
    return PQfnumber(res, name);
}


const char *
cf_pg_text(const PGresult *res, int row, int col)
{
    if (col < 0 || PQgetisnull(res, row, col)) {
        return "";
    }

    return PQgetvalue(res, row, col);
}


int64_t
cf_pg_int(const PGresult *res, int row, int col)
{
    if (col < 0 || PQgetisnull(res, row, col)) {
        return 0;
    }

    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}


const char *
cf_pg_i64(char *buf, int64_t v)
{
    sprintf(buf, "%" PRId64, v);
    return buf;
}


/* ---- a write transaction's pipeline ---- */


int
cf_pg_pipelined(cf_pg_store_t *st)
{
    return PQpipelineStatus(st->conn) != PQ_PIPELINE_OFF;
}


static void
cf_pg_queue_clear(cf_pg_store_t *st)
{
    int  i;

    for (i = 0; i < st->nqueue; i++) {
        PQclear(st->queue[i].res);
    }

    st->nqueue = 0;
}


static void
cf_pg_lost_in_tx(cf_pg_store_t *st, const char *what)
{
    /* a new session must not run the rest of a transaction */
    snprintf(st->sqlstate, sizeof(st->sqlstate), "08006");
    st->errcode = CF_PG_ERR_UNREACHABLE;
    cf_pg_set_error(st, "%s: the connection to PostgreSQL %s was lost in"
                    " this transaction", what, st->target);
}


/* queues a statement (its Parse first, once per session) */
static int
cf_pg_send(cf_pg_store_t *st, const cf_pg_stmt_t *stmt,
    const char *const *values, const char *what, int keep, int deferred)
{
    cf_pg_pending_t  *q;

    if (st->nqueue + 2 > CF_PG_QUEUE_MAX) {
        st->errcode = CF_PG_ERR_OTHER;
        st->sqlstate[0] = '\0';
        cf_pg_set_error(st, "%s: too many statements queued", what);
        return -1;
    }

    if (!st->prepared[stmt->slot]) {
        if (!PQsendPrepare(st->conn, stmt->name, stmt->sql, stmt->nparams,
                           NULL))
        {
            cf_pg_result_error(st, NULL, what);
            return -1;
        }

        /* the statement's own answer comes after the Parse's: undone when
         * the Parse fails or is skipped (cf_pg_sync) */
        st->prepared[stmt->slot] = 1;

        q = &st->queue[st->nqueue++];
        memset(q, 0, sizeof(cf_pg_pending_t));
        q->stmt = stmt;
        q->what = what;
        q->prepare = 1;
        q->deferred = deferred;
    }

    /* the values are copied into libpq's buffer here */
    if (!PQsendQueryPrepared(st->conn, stmt->name, stmt->nparams, values,
                             NULL, NULL, 0))
    {
        cf_pg_result_error(st, NULL, what);
        return -1;
    }

    q = &st->queue[st->nqueue++];
    memset(q, 0, sizeof(cf_pg_pending_t));
    q->stmt = stmt;
    q->what = what;
    q->keep = keep;
    q->deferred = deferred;

    return 0;
}


/*
 * Sends a Sync and reads every queued answer, in order: 0 with the kept
 * results in res[0..n-1], or -1 with the first failure as the error (the
 * statements after it were skipped by the server).  A deferred statement's
 * failure fails the transaction: an earlier call answered 0 for it.
 */
static int
cf_pg_sync(cf_pg_store_t *st, PGresult **res, int n)
{
    int               i, k, failed;
    PGresult         *r;
    ExecStatusType    status;
    cf_pg_pending_t  *q;

    failed = 0;

    if (!PQpipelineSync(st->conn)) {
        cf_pg_result_error(st, NULL, st->nqueue ? st->queue[0].what
                                                : "sending");
        st->tx_failed = 1;
        cf_pg_queue_clear(st);
        return -1;
    }

    for (i = 0; i < st->nqueue; i++) {
        q = &st->queue[i];
        r = PQgetResult(st->conn);

        if (r == NULL) {
            /* no answer at all: the connection is gone */
            if (!failed) {
                cf_pg_result_error(st, NULL, q->what);
                failed = 1;
            }

            break;
        }

        status = PQresultStatus(r);

        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
            if (q->keep) {
                q->res = r;
                r = NULL;
            }

        } else {
            if (q->prepare) {
                st->prepared[q->stmt->slot] = 0;
            }

            if (status != PGRES_PIPELINE_ABORTED && !failed) {
                cf_pg_result_error(st, r, q->what);
                failed = 1;

                if (q->deferred) {
                    st->tx_failed = 1;
                }
            }
        }

        PQclear(r);

        if (PQstatus(st->conn) != CONNECTION_OK) {
            if (!failed) {
                cf_pg_result_error(st, NULL, q->what);
                failed = 1;
            }

            break;
        }

        /* each statement's answers end with NULL */
        while ((r = PQgetResult(st->conn)) != NULL) {
            PQclear(r);
        }
    }

    if (PQstatus(st->conn) == CONNECTION_OK) {
        r = PQgetResult(st->conn);
        status = PQresultStatus(r);
        PQclear(r);

        if (status != PGRES_PIPELINE_SYNC && !failed) {
            st->errcode = CF_PG_ERR_OTHER;
            st->sqlstate[0] = '\0';
            cf_pg_set_error(st, "PostgreSQL %s: an unexpected answer in the"
                            " pipeline", st->target);
            st->tx_failed = 1;
            failed = 1;
        }

    } else {
        st->tx_failed = 1;
    }

    if (failed) {
        cf_pg_queue_clear(st);
        return -1;
    }

    for (i = 0, k = 0; i < st->nqueue; i++) {
        if (st->queue[i].keep && k < n) {
            res[k++] = st->queue[i].res;
            st->queue[i].res = NULL;
        }
    }

    cf_pg_queue_clear(st);

    return 0;
}


int
cf_pg_exec_many(cf_pg_store_t *st, const cf_pg_call_t *calls, int n,
    PGresult **res)
{
    int           i, attempt, retry, savepoint;
    cf_pg_slot_t  slot;

    for (attempt = 0; attempt < 2; attempt++) {

        if (st->tx_failed) {
            /* the failed statement's error stays the message */
            return -1;
        }

        if (PQstatus(st->conn) != CONNECTION_OK || !cf_pg_pipelined(st)) {
            cf_pg_lost_in_tx(st, calls[0].what);
            return -1;
        }

        /*
         * Until something of the transaction was read, the queue holds its
         * BEGIN (and a SAVEPOINT) only: a session found lost had done
         * nothing that commits, the transaction begins again on a new one.
         */
        retry = st->tx_fresh && attempt == 0;
        savepoint = 0;

        for (i = 0; i < st->nqueue; i++) {
            slot = st->queue[i].stmt->slot;

            if (slot == CF_PG_SAVEPOINT) {
                savepoint = 1;

            } else if (slot != CF_PG_BEGIN && slot != CF_PG_LOCK_TIMEOUT) {
                retry = 0;
            }
        }

        for (i = 0; i < n; i++) {
            if (cf_pg_send(st, calls[i].stmt, calls[i].values,
                           calls[i].what, 1, 0)
                != 0)
            {
                break;
            }
        }

        if (i == n && cf_pg_sync(st, res, n) == 0) {
            st->tx_fresh = 0;
            return 0;
        }

        if (i < n) {
            /* not sent: what was queued is unanswerable */
            st->tx_failed = 1;
        }

        if (!retry || PQstatus(st->conn) == CONNECTION_OK) {
            return -1;
        }

        if (cf_pg_reconnect(st) != 0) {
            return -1;
        }

        st->tx_failed = 0;

        if (cf_pg_begin_send(st) != 0
            || (savepoint && cf_pg_send(st, &cf_pg_tx[CF_PG_SAVEPOINT], NULL,
                                        "SAVEPOINT", 0, 1) != 0))
        {
            st->tx_failed = 1;
            return -1;
        }
    }

    return -1;
}


/*
 * Several reads in one round trip outside a write transaction (in a read
 * transaction, or in none: then they share the Sync's implicit
 * transaction, each statement with its own snapshot).  Pipeline mode for
 * these statements only.  Outside a transaction, a connection found lost
 * is reset and the reads run once more, as cf_pg_exec does.
 */
int
cf_pg_read_many(cf_pg_store_t *st, const cf_pg_call_t *calls, int n,
    PGresult **res)
{
    int  i, rc, attempt, idle;

    for (attempt = 0; attempt < 2; attempt++) {

        /* left over by a failure */
        cf_pg_pipeline_end(st);

        if (PQstatus(st->conn) != CONNECTION_OK) {
            if (st->tx_open) {
                cf_pg_lost_in_tx(st, calls[0].what);
                return -1;
            }

            if (cf_pg_reconnect(st) != 0) {
                return -1;
            }
        }

        idle = !st->tx_open;

        if (!PQenterPipelineMode(st->conn)) {
            cf_pg_result_error(st, NULL, calls[0].what);
            return -1;
        }

        for (i = 0; i < n; i++) {
            if (cf_pg_send(st, calls[i].stmt, calls[i].values,
                           calls[i].what, 1, 0)
                != 0)
            {
                break;
            }
        }

        rc = (i == n) ? cf_pg_sync(st, res, n) : -1;

        /* a write transaction's notion: none is open */
        st->tx_failed = 0;

        cf_pg_pipeline_end(st);

        if (rc == 0) {
            return 0;
        }

        if (!idle || attempt > 0 || PQstatus(st->conn) == CONNECTION_OK) {
            return -1;
        }
    }

    return -1;
}


int
cf_pg_defer(cf_pg_store_t *st, const cf_pg_stmt_t *stmt,
    const char *const *values, const char *what)
{
    if (!st->tx_open || !st->write_tx) {
        return cf_pg_run(st, stmt, values, NULL, what, NULL);
    }

    if (st->tx_failed) {
        return -1;
    }

    if (PQstatus(st->conn) != CONNECTION_OK || !cf_pg_pipelined(st)) {
        cf_pg_lost_in_tx(st, what);
        return -1;
    }

    if (st->nqueue + 2 > CF_PG_QUEUE_MAX && cf_pg_sync(st, NULL, 0) != 0) {
        st->tx_failed = 1;
        return -1;
    }

    if (cf_pg_send(st, stmt, values, what, 0, 1) != 0) {
        st->tx_failed = 1;
        return -1;
    }

    return 0;
}


/* out of pipeline mode, whatever was left in it (answers are dropped) */
static void
cf_pg_pipeline_end(cf_pg_store_t *st)
{
    PGresult  *r;

    if (!cf_pg_pipelined(st)) {
        cf_pg_queue_clear(st);
        return;
    }

    if (PQstatus(st->conn) == CONNECTION_OK && st->nqueue) {
        (void) cf_pg_sync(st, &r, 0);
    }

    cf_pg_queue_clear(st);

    if (!PQexitPipelineMode(st->conn) && PQstatus(st->conn) == CONNECTION_OK)
    {
        /* answers in an unknown state: a session of known state instead */
        (void) cf_pg_reconnect(st);
    }
}


/* BEGIN (and the lock timeout) queued in pipeline mode */
static int
cf_pg_begin_send(cf_pg_store_t *st)
{
    int          ms;
    char         value[32];
    const char  *v[1];

    if (!PQenterPipelineMode(st->conn)) {
        cf_pg_result_error(st, NULL, "BEGIN");
        return -1;
    }

    if (cf_pg_send(st, &cf_pg_tx[CF_PG_BEGIN], NULL, "BEGIN", 0, 1) != 0) {
        return -1;
    }

    ms = st->busy_limit_ms;

    if (ms != st->lock_timeout_ms) {
        /* 0 is "no limit" to PostgreSQL, "do not wait" to the caller */
        snprintf(value, sizeof(value), "%dms", ms > 0 ? ms : 1);
        v[0] = value;

        if (cf_pg_send(st, &cf_pg_tx[CF_PG_LOCK_TIMEOUT], v,
                       "setting lock_timeout", 0, 1)
            != 0)
        {
            return -1;
        }

        /* kept when the transaction commits (cf_pg_store_rollback) */
        st->lock_timeout_ms = ms;
        st->lock_timeout_tx = 1;
    }

    return 0;
}


void
cf_pg_store_set_busy_timeout(cf_pg_store_t *st, int ms)
{
    st->busy_limit_ms = ms;
}


static int
cf_pg_begin(cf_pg_store_t *st, cf_pg_slot_t slot)
{
    int        ms;
    char       value[32];
    PGresult  *res;
    const char *v[1];

    if (st->tx_open) {
        cf_pg_set_error(st, "BEGIN: a transaction is open already");
        st->errcode = CF_PG_ERR_OTHER;
        return -1;
    }

    /* left over by a failure */
    cf_pg_pipeline_end(st);

    if (slot == CF_PG_BEGIN) {
        /*
         * A write transaction: BEGIN is sent with the first statement that
         * needs an answer (cf_pg_exec_many), which begins it again on a
         * new session when the old one is found lost.
         */
        if (PQstatus(st->conn) != CONNECTION_OK && cf_pg_reconnect(st) != 0)
        {
            return -1;
        }

        st->tx_failed = 0;
        st->lock_timeout_tx = 0;

        if (cf_pg_begin_send(st) != 0) {
            cf_pg_pipeline_end(st);
            st->lock_timeout_ms = -1;
            st->lock_timeout_tx = 0;
            return -1;
        }

        st->tx_open = 1;
        st->write_tx = 1;
        st->tx_fresh = 1;

        return 0;
    }

    ms = st->busy_limit_ms;

    if (ms != st->lock_timeout_ms) {
        snprintf(value, sizeof(value), "%dms", ms > 0 ? ms : 1);
        v[0] = value;

        res = cf_pg_exec(st, &cf_pg_tx[CF_PG_LOCK_TIMEOUT], v, NULL,
                         "setting lock_timeout");
        if (res == NULL) {
            return -1;
        }

        PQclear(res);
        st->lock_timeout_ms = ms;
    }

    if (cf_pg_run(st, &cf_pg_tx[slot], NULL, NULL, "BEGIN", NULL) != 0) {
        return -1;
    }

    st->tx_open = 1;
    st->write_tx = 0;

    return 0;
}


int
cf_pg_store_begin_immediate(cf_pg_store_t *st)
{
    return cf_pg_begin(st, CF_PG_BEGIN);
}


int
cf_pg_store_read_hold(cf_pg_store_t *st)
{
    if (st->tx_open) {
        return 0;                               /* held already */
    }

    return cf_pg_begin(st, CF_PG_BEGIN_READ);
}


void
cf_pg_store_read_release(cf_pg_store_t *st)
{
    if (st->tx_open && !st->write_tx) {
        cf_pg_store_rollback(st);
    }
}


static void
cf_pg_tx_end(cf_pg_store_t *st)
{
    cf_pg_pipeline_end(st);

    st->tx_open = 0;
    st->write_tx = 0;
    st->tx_failed = 0;
    st->tx_fresh = 0;
    st->lock_timeout_tx = 0;
    st->in_savepoint = 0;
}


int
cf_pg_store_commit(cf_pg_store_t *st)
{
    int           ok, rc;
    PGresult     *res;
    cf_pg_call_t  call;

    if (!st->tx_open) {
        cf_pg_set_error(st, "COMMIT: no transaction is open");
        st->errcode = CF_PG_ERR_OTHER;
        return -1;
    }

    if (st->write_tx && st->tx_failed) {
        /* a deferred statement failed: its error is the answer (-1, as
         * the statement's own call would have answered) */
        cf_pg_store_rollback(st);
        return -1;
    }

    if (st->write_tx) {
        /* the deferred statements and the COMMIT in one round trip */
        call.stmt = &cf_pg_tx[CF_PG_COMMIT];
        call.values = NULL;
        call.what = "COMMIT";

        res = cf_pg_exec_many(st, &call, 1, &res) == 0 ? res : NULL;

    } else {
        res = cf_pg_exec(st, &cf_pg_tx[CF_PG_COMMIT], NULL, NULL, "COMMIT");
    }

    if (res == NULL) {
        if (PQstatus(st->conn) != CONNECTION_OK) {
            /* the server may have committed: the caller must not say so */
            cf_pg_set_error(st, "COMMIT: the connection to PostgreSQL %s was"
                            " lost, the transaction's outcome is unknown",
                            st->target);
            cf_pg_tx_end(st);
            return -1;
        }

        /* a deferred statement's failure (the COMMIT was skipped: -1, as
         * the statement's own call would have answered) or the COMMIT's
         * own: the error stays the answer */
        rc = st->tx_failed ? -1 : cf_pg_last_rc(st);
        cf_pg_store_rollback(st);

        return rc;
    }

    /* the server answers ROLLBACK to the COMMIT of a failed transaction */
    ok = strcmp(PQcmdStatus(res), "COMMIT") == 0;
    PQclear(res);

    if (!ok && st->lock_timeout_tx) {
        st->lock_timeout_ms = -1;
    }

    cf_pg_tx_end(st);

    if (!ok) {
        st->errcode = CF_PG_ERR_OTHER;
        snprintf(st->sqlstate, sizeof(st->sqlstate), "25P02");
        cf_pg_set_error(st, "COMMIT: the transaction had failed and was"
                        " rolled back");
        return -1;
    }

    st->errcode = 0;

    return 0;
}


void
cf_pg_store_rollback(cf_pg_store_t *st)
{
    int           errcode;
    char          sqlstate[sizeof(st->sqlstate)];
    char          errmsg[sizeof(st->errmsg)];
    PGresult     *res;

    if (st->lock_timeout_tx) {
        /* undone with the transaction */
        st->lock_timeout_ms = -1;
    }

    /* the caller's error is the failure that led here, not the ROLLBACK's */
    errcode = st->errcode;
    memcpy(sqlstate, st->sqlstate, sizeof(sqlstate));
    memcpy(errmsg, st->errmsg, sizeof(errmsg));

    if (st->tx_open && st->write_tx && cf_pg_pipelined(st)) {
        if (PQstatus(st->conn) == CONNECTION_OK
            && cf_pg_send(st, &cf_pg_tx[CF_PG_ROLLBACK], NULL, "ROLLBACK", 0,
                          0) == 0)
        {
            (void) cf_pg_sync(st, &res, 0);
        }

    } else if (PQstatus(st->conn) == CONNECTION_OK
               && !cf_pg_pipelined(st)
               && PQtransactionStatus(st->conn) != PQTRANS_IDLE)
    {
        /* not through cf_pg_exec: this must never reconnect */
        st->tx_open = 1;
        st->write_tx = 0;
        (void) cf_pg_run(st, &cf_pg_tx[CF_PG_ROLLBACK], NULL, NULL,
                         "ROLLBACK", NULL);
    }

    st->errcode = errcode;
    memcpy(st->sqlstate, sqlstate, sizeof(sqlstate));
    memcpy(st->errmsg, errmsg, sizeof(errmsg));

    cf_pg_tx_end(st);
}


int
cf_pg_store_savepoint(cf_pg_store_t *st)
{
    if (!st->tx_open) {
        cf_pg_set_error(st, "SAVEPOINT: no transaction is open");
        return -1;
    }

    if (cf_pg_defer(st, &cf_pg_tx[CF_PG_SAVEPOINT], NULL, "SAVEPOINT") != 0)
    {
        return cf_pg_last_rc(st);
    }

    st->in_savepoint = 1;

    return 0;
}


int
cf_pg_store_release(cf_pg_store_t *st)
{
    if (!st->tx_open) {
        cf_pg_set_error(st, "RELEASE: no transaction is open");
        return -1;
    }

    st->in_savepoint = 0;

    return cf_pg_defer(st, &cf_pg_tx[CF_PG_RELEASE], NULL,
                       "RELEASE SAVEPOINT") == 0 ? 0 : cf_pg_last_rc(st);
}


/* undoes the savepoint's work (an aborted one's too) and ends it */
int
cf_pg_store_rollback_to(cf_pg_store_t *st)
{
    if (!cf_pg_store_in_transaction(st)) {
        return -1;
    }

    st->in_savepoint = 0;

    if (cf_pg_defer(st, &cf_pg_tx[CF_PG_ROLLBACK_TO], NULL,
                    "ROLLBACK TO SAVEPOINT") != 0)
    {
        return -1;
    }

    return cf_pg_defer(st, &cf_pg_tx[CF_PG_RELEASE], NULL,
                       "RELEASE SAVEPOINT");
}


/* 0 once the connection (so the transaction) is lost */
int
cf_pg_store_in_transaction(cf_pg_store_t *st)
{
    PGTransactionStatusType  ts;

    if (!st->tx_open || PQstatus(st->conn) != CONNECTION_OK) {
        return 0;
    }

    if (cf_pg_pipelined(st)) {
        /* the server's status is known after a Sync only: its transaction
         * lasts until our COMMIT or ROLLBACK, a failed one too */
        return 1;
    }

    ts = PQtransactionStatus(st->conn);

    return ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR;
}


int
cf_pg_store_ping(cf_pg_store_t *st)
{
    if (st->tx_open) {
        return cf_pg_store_in_transaction(st) ? 0 : -1;
    }

    return cf_pg_run(st, &cf_pg_tx[CF_PG_PING], NULL, NULL, "ping", NULL);
}
