
/*
 * ngx_compensation: which store a compensation_store value names (see
 * cf_dsn.h).
 */


#include <string.h>

#include "cf_dsn.h"


/* the libpq keywords a keyword-form DSN may start with */
static const char  *cf_dsn_keywords[] = {
    "host", "hostaddr", "port", "dbname", "user", "password", "passfile",
    "service", "connect_timeout", "sslmode", "sslrootcert", "sslcert",
    "sslkey", "application_name", "options", "target_session_attrs",
    NULL
};


int
cf_dsn_is_postgresql(const char *dsn)
{
    size_t        n;
    const char  **k;

    if (strncmp(dsn, "postgresql://", 13) == 0
        || strncmp(dsn, "postgres://", 11) == 0)
    {
        return 1;
    }

    while (*dsn == ' ' || *dsn == '\t') {
        dsn++;
    }

    for (n = 0; (dsn[n] >= 'a' && dsn[n] <= 'z') || dsn[n] == '_'; n++) {
        /* the keyword */
    }

    if (n == 0) {
        return 0;
    }

    for (k = cf_dsn_keywords; *k; k++) {
        if (strlen(*k) == n && strncmp(*k, dsn, n) == 0) {
            dsn += n;

            while (*dsn == ' ' || *dsn == '\t') {
                dsn++;
            }

            return *dsn == '=';
        }
    }

    return 0;
}
