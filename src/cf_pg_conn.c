
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
    /* session-wide, set outside a transaction (a rollback would undo it) */
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
    values[1] = "ngx_compensation";
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

    memset(st->prepared, 0, sizeof(st->prepared));
    st->lock_timeout_ms = -1;

    if (PQstatus(st->conn) != CONNECTION_OK) {
        snprintf(st->sqlstate, sizeof(st->sqlstate), "08001");
        st->errcode = CF_PG_ERR_UNREACHABLE;
        cf_pg_set_error(st, "PostgreSQL %s is unreachable: %s", st->target,
                        PQerrorMessage(st->conn));
        return -1;
    }

    return 0;
}


PGresult *
cf_pg_exec(cf_pg_store_t *st, const cf_pg_stmt_t *stmt,
    const char *const *values, const int *lengths, const char *what)
{
    int              attempt, idle;
    PGresult        *res;
    ExecStatusType   status;

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

    ms = st->busy_limit_ms;

    if (ms != st->lock_timeout_ms) {
        /* 0 is "no limit" to PostgreSQL, "do not wait" to the caller */
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
    st->write_tx = (slot == CF_PG_BEGIN);

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


int
cf_pg_store_commit(cf_pg_store_t *st)
{
    int        ok;
    PGresult  *res;

    if (!st->tx_open) {
        cf_pg_set_error(st, "COMMIT: no transaction is open");
        st->errcode = CF_PG_ERR_OTHER;
        return -1;
    }

    res = cf_pg_exec(st, &cf_pg_tx[CF_PG_COMMIT], NULL, NULL, "COMMIT");

    if (res == NULL) {
        if (PQstatus(st->conn) != CONNECTION_OK) {
            /* the server may have committed: the caller must not say so */
            cf_pg_set_error(st, "COMMIT: the connection to PostgreSQL %s was"
                            " lost, the transaction's outcome is unknown",
                            st->target);
            st->tx_open = 0;
            st->write_tx = 0;
            return -1;
        }

        st->tx_open = 0;
        cf_pg_store_rollback(st);
        st->tx_open = 0;
        st->write_tx = 0;

        return cf_pg_last_rc(st);
    }

    /* the server answers ROLLBACK to the COMMIT of a failed transaction */
    ok = strcmp(PQcmdStatus(res), "COMMIT") == 0;
    PQclear(res);

    st->tx_open = 0;
    st->write_tx = 0;

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
    if (PQstatus(st->conn) == CONNECTION_OK
        && PQtransactionStatus(st->conn) != PQTRANS_IDLE)
    {
        /* not through cf_pg_exec: this must never reconnect */
        st->tx_open = 1;
        (void) cf_pg_run(st, &cf_pg_tx[CF_PG_ROLLBACK], NULL, NULL,
                         "ROLLBACK", NULL);
    }

    st->tx_open = 0;
    st->write_tx = 0;
}


int
cf_pg_store_savepoint(cf_pg_store_t *st)
{
    if (!st->tx_open) {
        cf_pg_set_error(st, "SAVEPOINT: no transaction is open");
        return -1;
    }

    return cf_pg_run(st, &cf_pg_tx[CF_PG_SAVEPOINT], NULL, NULL,
                     "SAVEPOINT", NULL) == 0 ? 0 : cf_pg_last_rc(st);
}


int
cf_pg_store_release(cf_pg_store_t *st)
{
    if (!st->tx_open) {
        cf_pg_set_error(st, "RELEASE: no transaction is open");
        return -1;
    }

    return cf_pg_run(st, &cf_pg_tx[CF_PG_RELEASE], NULL, NULL,
                     "RELEASE SAVEPOINT", NULL) == 0 ? 0 : cf_pg_last_rc(st);
}


/* undoes the savepoint's work (an aborted one's too) and ends it */
int
cf_pg_store_rollback_to(cf_pg_store_t *st)
{
    if (!cf_pg_store_in_transaction(st)) {
        return -1;
    }

    if (cf_pg_run(st, &cf_pg_tx[CF_PG_ROLLBACK_TO], NULL, NULL,
                  "ROLLBACK TO SAVEPOINT", NULL) != 0)
    {
        return -1;
    }

    return cf_pg_run(st, &cf_pg_tx[CF_PG_RELEASE], NULL, NULL,
                     "RELEASE SAVEPOINT", NULL);
}


/* 0 once the connection (so the transaction) is lost */
int
cf_pg_store_in_transaction(cf_pg_store_t *st)
{
    PGTransactionStatusType  ts;

    if (!st->tx_open || PQstatus(st->conn) != CONNECTION_OK) {
        return 0;
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
