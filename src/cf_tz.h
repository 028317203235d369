
/*
 * ngx_compensation: time-zone rules read from TZif files (RFC 8536, the
 * files under /usr/share/zoneinfo) and the POSIX TZ rule of their footer,
 * so that local times are computed without setenv("TZ")/tzset(): the
 * process's environment and libc's zone state are never touched.  Plain C,
 * no nginx.
 */


#ifndef _CF_TZ_H_INCLUDED_
#define _CF_TZ_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


typedef struct cf_tz_s  cf_tz_t;


/* the rules of a TZif file's bytes (versions 1 to 4); NULL when malformed */
cf_tz_t *cf_tz_parse(const unsigned char *data, size_t len);
/* the rules of a POSIX TZ string ("EST5EDT,M3.2.0,M11.1.0"); NULL if bad */
cf_tz_t *cf_tz_parse_posix(const char *s);
/* reads and parses the TZif file at path; NULL on error */
cf_tz_t *cf_tz_load(const char *path);
void cf_tz_free(cf_tz_t *tz);

/* seconds east of UTC in force at the UTC instant t (seconds) */
long cf_tz_offset(const cf_tz_t *tz, int64_t t);

/*
 * The UTC instant of the local wall time local (seconds since the epoch
 * as if the wall time were UTC).  A wall time that occurs twice (clocks
 * set back) is its first occurrence; one that does not occur (clocks set
 * forward) is read with the offset before the change, as mktime() does.
 */
int64_t cf_tz_utc(const cf_tz_t *tz, int64_t local);

/*
 * The rules of zone name (a file under zoneinfo_dir, name already checked
 * to be a safe relative path), or of the process's own zone for NULL
 * (TZ when it names a zone, else /etc/localtime, else UTC): loaded once
 * per process and kept, so that a query never reads a file twice.  NULL
 * when the zone cannot be loaded.  Thread-safe.
 */
const cf_tz_t *cf_tz_zone(const char *zoneinfo_dir, const char *name);
/* frees every zone cf_tz_zone loaded (process exit) */
void cf_tz_cache_free(void);


#endif /* _CF_TZ_H_INCLUDED_ */
