
/*
 * ngx_compensation: which store a compensation_store value names.
 *
 * A SQLite file path, or a PostgreSQL database (libpq's URI or keyword
 * form).  Plain C, no nginx, no libpq: the configuration reads it before
 * any store is opened.
 */


#ifndef _CF_DSN_H_INCLUDED_
#define _CF_DSN_H_INCLUDED_


/*
 * 1 when dsn names a PostgreSQL database: it starts with postgresql:// or
 * postgres://, or with one of libpq's connection keywords and "="
 * ("host=/run/postgresql dbname=compensation").  A file path never does:
 * it starts with "/", "." or a name that is no such keyword.
 */
int cf_dsn_is_postgresql(const char *dsn);


#endif /* _CF_DSN_H_INCLUDED_ */
