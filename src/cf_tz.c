
/*
 * ngx_compensation: time-zone rules from TZif files and POSIX TZ strings
 * (cf_tz.h).
 */


#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "cf_tz.h"


#define CF_TZ_MAX_FILE    (256 * 1024)
#define CF_TZ_MAX_ZONES   1024      /* tzdata has about 600 names */
#define CF_TZ_MAX_NAME    128


/* a POSIX TZ rule's change date: Jn, n or Mm.w.d, at time seconds */
typedef struct {
    int          kind;           /* 'J', 'n' or 'M' */
    int          n, m, w, d;
    long         time;           /* local seconds after midnight */
} cf_tz_date_t;


typedef struct {
    int           valid;         /* a rule exists */
    int           has_dst;
    long          std_off;       /* seconds east of UTC */
    long          dst_off;
    cf_tz_date_t  start, end;    /* DST starts, ends */
} cf_tz_rule_t;


struct cf_tz_s {
    size_t        n;             /* transitions */
    int64_t      *at;            /* UTC instants, ascending */
    long         *off;           /* offset in force from at[i] on */
    long          first_off;     /* before the first transition */
    cf_tz_rule_t  rule;          /* after the last one (the footer) */
};


typedef struct {
    char         name[CF_TZ_MAX_NAME];
    cf_tz_t     *tz;
} cf_tz_cached_t;


static cf_tz_cached_t   cf_tz_cache[CF_TZ_MAX_ZONES];
static size_t           cf_tz_ncached;
static pthread_mutex_t  cf_tz_lock = PTHREAD_MUTEX_INITIALIZER;


static int64_t
cf_tz_floor_div(int64_t a, int64_t b)
{
    return (a >= 0) ? a / b : -((-a + b - 1) / b);
}


/* days since 1970-01-01 of a proleptic Gregorian date (m 1..12) */
static int64_t
cf_tz_days(int64_t y, int m, int d)
{
    int64_t  era, yoe, doy, doe;

    y -= m <= 2;
    era = cf_tz_floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


/* the year of a day count (days since 1970-01-01) */
static int64_t
cf_tz_year(int64_t days)
{
    int64_t  z, era, doe, yoe, doy, mp, y;

    z = days + 719468;
    era = cf_tz_floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;

    return y + (mp >= 10);
}


static int
cf_tz_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}


/* local seconds since the epoch at which date falls in year y */
static int64_t
cf_tz_date_local(const cf_tz_date_t *date, int64_t y)
{
    int      wd0, day, mdays;
    int64_t  days;

    static const int  cf_tz_mdays[] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    switch (date->kind) {

    case 'J':
        /* 1..365, February 29 never counted */
        days = cf_tz_days(y, 1, 1) + date->n - 1
               + (cf_tz_leap(y) && date->n >= 60);
        break;

    case 'n':
        days = cf_tz_days(y, 1, 1) + date->n;
        break;

    default:
        days = cf_tz_days(y, date->m, 1);
        /* 1970-01-01 was a Thursday (4) */
        wd0 = (int) ((cf_tz_floor_div(days, 1) % 7 + 7 + 4) % 7);
        day = 1 + (date->d - wd0 + 7) % 7 + (date->w - 1) * 7;
        mdays = cf_tz_mdays[date->m - 1]
                + (date->m == 2 && cf_tz_leap(y));

        while (day > mdays) {
            day -= 7;
        }

        days += day - 1;
        break;
    }

    return days * 86400 + date->time;
}


static long
cf_tz_rule_offset(const cf_tz_rule_t *r, int64_t t)
{
    int64_t  y, start, end;

    if (!r->has_dst) {
        return r->std_off;
    }

    y = cf_tz_year(cf_tz_floor_div(t + r->std_off, 86400));

    /* the start is given in standard time, the end in daylight time */
    start = cf_tz_date_local(&r->start, y) - r->std_off;
    end = cf_tz_date_local(&r->end, y) - r->dst_off;

    if (start < end) {
        return (t >= start && t < end) ? r->dst_off : r->std_off;
    }

    /* the southern hemisphere: DST spans the new year */
    return (t >= end && t < start) ? r->std_off : r->dst_off;
}


long
cf_tz_offset(const cf_tz_t *tz, int64_t t)
{
    size_t  lo, hi, mid;

    if (tz->n == 0 || t < tz->at[0]) {
        if (tz->n == 0 && tz->rule.valid) {
            return cf_tz_rule_offset(&tz->rule, t);
        }

        return tz->first_off;
    }

    if (t >= tz->at[tz->n - 1] && tz->rule.valid) {
        return cf_tz_rule_offset(&tz->rule, t);
    }

    /* the last transition at or before t */
    lo = 0;
    hi = tz->n;

    while (hi - lo > 1) {
        mid = lo + (hi - lo) / 2;

        if (tz->at[mid] <= t) {
            lo = mid;

        } else {
            hi = mid;
        }
    }

    return tz->off[lo];
}


int64_t
cf_tz_utc(const cf_tz_t *tz, int64_t local)
{
    long     before, after;
    int64_t  t1, t2;
    int      ok1, ok2;

    /* the offsets around that wall time: no zone changes twice in a day */
    before = cf_tz_offset(tz, local - 86400);
    after = cf_tz_offset(tz, local + 86400);

    t1 = local - before;
    t2 = local - after;
    ok1 = cf_tz_offset(tz, t1) == before;
    ok2 = cf_tz_offset(tz, t2) == after;

    if (ok1 && ok2) {
        /* twice (or the same instant): the first */
        return t1 < t2 ? t1 : t2;
    }

    if (ok1) {
        return t1;
    }

    if (ok2) {
        return t2;
    }

    /* a wall time skipped over: read with the offset before the change */
    return t1;
}


/* --- POSIX TZ strings ----------------------------------------------------- */


static const char *
cf_tz_posix_name(const char *p)
{
    const char  *start;

    if (*p == '<') {
        for (p++; *p && *p != '>'; p++) { /* void */ }
        return *p == '>' ? p + 1 : NULL;
    }

    for (start = p; isalpha((unsigned char) *p); p++) { /* void */ }

    return p - start >= 3 ? p : NULL;
}


/* [+-]hh[:mm[:ss]] into seconds; hours up to max */
static const char *
cf_tz_posix_time(const char *p, long max_hours, long *secs)
{
    int   i;
    long  sign, v, part;

    sign = 1;

    if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
    }

    v = 0;

    for (i = 0; i < 3; i++) {
        if (i > 0) {
            if (*p != ':') {
                break;
            }
            p++;
        }

        if (!isdigit((unsigned char) *p)) {
            return NULL;
        }

        part = 0;

        while (isdigit((unsigned char) *p)) {
            part = part * 10 + (*p - '0');
            p++;

            if (part > 999) {
                return NULL;
            }
        }

        if ((i == 0 && part > max_hours) || (i > 0 && part > 59)) {
            return NULL;
        }

        v += part * (i == 0 ? 3600 : (i == 1 ? 60 : 1));
    }

    *secs = sign * v;

    return p;
}


static const char *
cf_tz_posix_number(const char *p, int min, int max, int *v)
{
    int  n;

    if (!isdigit((unsigned char) *p)) {
        return NULL;
    }

    for (n = 0; isdigit((unsigned char) *p); p++) {
        n = n * 10 + (*p - '0');

        if (n > max) {
            return NULL;
        }
    }

    if (n < min) {
        return NULL;
    }

    *v = n;

    return p;
}


static const char *
cf_tz_posix_date(const char *p, cf_tz_date_t *date)
{
    memset(date, 0, sizeof(cf_tz_date_t));
    date->time = 7200;

    if (*p == 'J') {
        date->kind = 'J';
        p = cf_tz_posix_number(p + 1, 1, 365, &date->n);

    } else if (*p == 'M') {
        date->kind = 'M';
        p = cf_tz_posix_number(p + 1, 1, 12, &date->m);
        if (p == NULL || *p != '.') {
            return NULL;
        }
        p = cf_tz_posix_number(p + 1, 1, 5, &date->w);
        if (p == NULL || *p != '.') {
            return NULL;
        }
        p = cf_tz_posix_number(p + 1, 0, 6, &date->d);

    } else {
        date->kind = 'n';
        p = cf_tz_posix_number(p, 0, 365, &date->n);
    }

    if (p == NULL) {
        return NULL;
    }

    if (*p == '/') {
        /* RFC 8536 3.3.1: -167 to 167 hours */
        p = cf_tz_posix_time(p + 1, 167, &date->time);
    }

    return p;
}


static int
cf_tz_posix_rule(const char *p, cf_tz_rule_t *r)
{
    long  v;

    memset(r, 0, sizeof(cf_tz_rule_t));

    p = cf_tz_posix_name(p);
    if (p == NULL) {
        return -1;
    }

    p = cf_tz_posix_time(p, 24, &v);
    if (p == NULL) {
        return -1;
    }

    /* POSIX offsets are west of UTC */
    r->std_off = -v;
    r->valid = 1;

    if (*p == '\0') {
        return 0;
    }

    p = cf_tz_posix_name(p);
    if (p == NULL) {
        return -1;
    }

    r->has_dst = 1;
    r->dst_off = r->std_off + 3600;

    if (*p && *p != ',') {
        p = cf_tz_posix_time(p, 24, &v);
        if (p == NULL) {
            return -1;
        }

        r->dst_off = -v;
    }

    if (*p == '\0') {
        /* no rule given: the US rules, as POSIX implementations default */
        p = ",M3.2.0,M11.1.0";
    }

    if (*p != ',') {
        return -1;
    }

    p = cf_tz_posix_date(p + 1, &r->start);
    if (p == NULL || *p != ',') {
        return -1;
    }

    p = cf_tz_posix_date(p + 1, &r->end);
    if (p == NULL || *p != '\0') {
        return -1;
    }

    /* "DST" all year (e.g. "EST5EDT,0/0,J365/25"): daylight time always */
    if (r->start.kind == 'n' && r->start.n == 0 && r->start.time == 0
        && r->end.kind == 'J' && r->end.n == 365
        && r->end.time - (r->dst_off - r->std_off) >= 86400)
    {
        r->has_dst = 0;
        r->std_off = r->dst_off;
    }

    return 0;
}


cf_tz_t *
cf_tz_parse_posix(const char *s)
{
    cf_tz_t  *tz;

    tz = calloc(1, sizeof(cf_tz_t));
    if (tz == NULL) {
        return NULL;
    }

    if (cf_tz_posix_rule(s, &tz->rule) != 0) {
        free(tz);
        return NULL;
    }

    tz->first_off = tz->rule.std_off;

    return tz;
}


/* --- TZif files ----------------------------------------------------------- */


static int64_t
cf_tz_be(const unsigned char *p, int bytes)
{
    int       i;
    uint64_t  v;

    v = 0;

    for (i = 0; i < bytes; i++) {
        v = (v << 8) | p[i];
    }

    if (bytes == 4) {
        return (int64_t) (int32_t) (uint32_t) v;
    }

    return (int64_t) v;
}


typedef struct {
    uint32_t  isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} cf_tz_counts_t;


static int
cf_tz_header(const unsigned char *p, size_t len, cf_tz_counts_t *c,
    int *version)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0) {
        return -1;
    }

    *version = p[4] == 0 ? 1 : p[4] - '0';

    c->isutcnt = (uint32_t) cf_tz_be(p + 20, 4);
    c->isstdcnt = (uint32_t) cf_tz_be(p + 24, 4);
    c->leapcnt = (uint32_t) cf_tz_be(p + 28, 4);
    c->timecnt = (uint32_t) cf_tz_be(p + 32, 4);
    c->typecnt = (uint32_t) cf_tz_be(p + 36, 4);
    c->charcnt = (uint32_t) cf_tz_be(p + 40, 4);

    if (c->typecnt == 0 || c->typecnt > 256 || c->timecnt > 100000
        || c->leapcnt > 100000 || c->charcnt > 100000
        || (c->isutcnt != 0 && c->isutcnt != c->typecnt)
        || (c->isstdcnt != 0 && c->isstdcnt != c->typecnt))
    {
        return -1;
    }

    return 0;
}


static size_t
cf_tz_block_size(const cf_tz_counts_t *c, int tbytes)
{
    return (size_t) c->timecnt * tbytes + c->timecnt + c->typecnt * 6
           + c->charcnt + (size_t) c->leapcnt * (tbytes + 4)
           + c->isstdcnt + c->isutcnt;
}


cf_tz_t *
cf_tz_parse(const unsigned char *data, size_t len)
{
    int                   version, tbytes, idx, first;
    size_t                i, size;
    cf_tz_t              *tz;
    const char           *nl;
    cf_tz_counts_t        c;
    const unsigned char  *p, *end, *times, *idxs, *types;
    char                  footer[256];

    end = data + len;

    if (cf_tz_header(data, len, &c, &version) != 0) {
        return NULL;
    }

    p = data + 44;
    size = cf_tz_block_size(&c, 4);

    if ((size_t) (end - p) < size) {
        return NULL;
    }

    tbytes = 4;

    if (version >= 2) {
        /* the 64-bit block after the 32-bit one */
        p += size;

        if (cf_tz_header(p, (size_t) (end - p), &c, &version) != 0) {
            return NULL;
        }

        p += 44;
        size = cf_tz_block_size(&c, 8);

        if ((size_t) (end - p) < size) {
            return NULL;
        }

        tbytes = 8;
    }

    times = p;
    idxs = times + (size_t) c.timecnt * tbytes;
    types = idxs + c.timecnt;

    tz = calloc(1, sizeof(cf_tz_t));
    if (tz == NULL) {
        return NULL;
    }

    if (c.timecnt) {
        tz->at = malloc(c.timecnt * sizeof(int64_t));
        tz->off = malloc(c.timecnt * sizeof(long));

        if (tz->at == NULL || tz->off == NULL) {
            cf_tz_free(tz);
            return NULL;
        }
    }

    for (i = 0; i < c.timecnt; i++) {
        idx = idxs[i];

        if ((uint32_t) idx >= c.typecnt) {
            cf_tz_free(tz);
            return NULL;
        }

        tz->at[i] = cf_tz_be(times + i * tbytes, tbytes);
        tz->off[i] = (long) cf_tz_be(types + idx * 6, 4);

        if (i > 0 && tz->at[i] <= tz->at[i - 1]) {
            cf_tz_free(tz);
            return NULL;
        }
    }

    tz->n = c.timecnt;

    /* before the first transition: time type 0 (RFC 8536 3.2) */
    first = 0;
    tz->first_off = (long) cf_tz_be(types + first * 6, 4);

    /* the footer: "\n" TZ-string "\n" (version 2 and later) */
    p += size;

    if (version >= 2 && p < end && *p == '\n') {
        p++;
        nl = memchr(p, '\n', (size_t) (end - p));

        if (nl && (size_t) (nl - (const char *) p) < sizeof(footer)
            && nl > (const char *) p)
        {
            memcpy(footer, p, (size_t) (nl - (const char *) p));
            footer[nl - (const char *) p] = '\0';

            if (cf_tz_posix_rule(footer, &tz->rule) != 0) {
                memset(&tz->rule, 0, sizeof(cf_tz_rule_t));
            }
        }
    }

    return tz;
}


cf_tz_t *
cf_tz_load(const char *path)
{
    int             fd;
    ssize_t         n;
    size_t          len;
    cf_tz_t        *tz;
    struct stat     sb;
    unsigned char  *buf;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return NULL;
    }

    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 44
        || sb.st_size > CF_TZ_MAX_FILE)
    {
        close(fd);
        return NULL;
    }

    buf = malloc((size_t) sb.st_size);
    if (buf == NULL) {
        close(fd);
        return NULL;
    }

    len = 0;

    while (len < (size_t) sb.st_size) {
        n = read(fd, buf + len, (size_t) sb.st_size - len);

        if (n <= 0) {
            if (n == -1 && errno == EINTR) {
                continue;
            }
            break;
        }

        len += (size_t) n;
    }

    close(fd);

    tz = len == (size_t) sb.st_size ? cf_tz_parse(buf, len) : NULL;

    free(buf);

    return tz;
}


void
cf_tz_free(cf_tz_t *tz)
{
    if (tz == NULL) {
        return;
    }

    free(tz->at);
    free(tz->off);
    free(tz);
}


/* the process's zone: TZ when it names one, else /etc/localtime, else UTC */
static cf_tz_t *
cf_tz_load_default(const char *zoneinfo_dir)
{
    char         path[512];
    cf_tz_t     *tz;
    const char  *env;

    env = getenv("TZ");

    if (env && *env) {
        if (*env == ':') {
            env++;
        }

        if (*env == '/') {
            tz = cf_tz_load(env);

        } else if (strstr(env, "..") == NULL) {
            snprintf(path, sizeof(path), "%s%s", zoneinfo_dir, env);
            tz = cf_tz_load(path);

        } else {
            tz = NULL;
        }

        if (tz == NULL) {
            tz = cf_tz_parse_posix(env);
        }

        if (tz) {
            return tz;
        }
    }

    tz = cf_tz_load("/etc/localtime");

    if (tz == NULL) {
        tz = cf_tz_parse_posix("UTC0");
    }

    return tz;
}


const cf_tz_t *
cf_tz_zone(const char *zoneinfo_dir, const char *name)
{
    char      path[512];
    size_t    i;
    cf_tz_t  *tz;

    if (name != NULL && strlen(name) >= CF_TZ_MAX_NAME) {
        return NULL;
    }

    pthread_mutex_lock(&cf_tz_lock);

    for (i = 0; i < cf_tz_ncached; i++) {
        if (name == NULL ? cf_tz_cache[i].name[0] == '\0'
                         : strcmp(cf_tz_cache[i].name, name) == 0)
        {
            tz = cf_tz_cache[i].tz;
            pthread_mutex_unlock(&cf_tz_lock);
            return tz;
        }
    }

    if (name == NULL) {
        tz = cf_tz_load_default(zoneinfo_dir);

    } else {
        snprintf(path, sizeof(path), "%s%s", zoneinfo_dir, name);
        tz = cf_tz_load(path);
    }

    /* room for every name of tzdata; beyond it, an error */
    if (tz && cf_tz_ncached < CF_TZ_MAX_ZONES) {
        snprintf(cf_tz_cache[cf_tz_ncached].name, CF_TZ_MAX_NAME, "%s",
                 name ? name : "");
        cf_tz_cache[cf_tz_ncached].tz = tz;
        cf_tz_ncached++;

    } else if (tz) {
        cf_tz_free(tz);
        tz = NULL;
    }

    pthread_mutex_unlock(&cf_tz_lock);

    return tz;
}


void
cf_tz_cache_free(void)
{
    size_t  i;

    pthread_mutex_lock(&cf_tz_lock);

    for (i = 0; i < cf_tz_ncached; i++) {
        cf_tz_free(cf_tz_cache[i].tz);
        cf_tz_cache[i].tz = NULL;
    }

    cf_tz_ncached = 0;

    pthread_mutex_unlock(&cf_tz_lock);
}
