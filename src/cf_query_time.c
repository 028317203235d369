
/*
 * ngx_compensation: the time operators' ranges (spec 4.2: TODAY, THIS_WEEK,
 * RECENT_DAYS ... with zoneId and datePattern): zones, local midnights of
 * days, weeks and months, java.time patterns.  Dialect-neutral: the ranges
 * become bound values (cf_query.c).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <time.h>
#include <sys/stat.h>

#include "cf_query_int.h"
#include "cf_tz.h"


#define CF_Q_ZONEINFO       "/usr/share/zoneinfo/"


typedef struct {
    int            fixed;     /* a fixed offset, in offset */
    long           offset;    /* seconds east of UTC */
    const char    *name;      /* an IANA name; NULL: the process's zone */
} cf_q_zone_t;


static int
cf_q_zone_offset(const char *p, long *off)
{
    int   sign, h, m;

    if (*p == '\0') {
        *off = 0;
        return 0;
    }

    if (*p != '+' && *p != '-') {
        return -1;
    }

    sign = (*p == '-') ? -1 : 1;
    p++;

    if (!isdigit((unsigned char) p[0])) {
        return -1;
    }

    h = p[0] - '0';
    p++;

    if (isdigit((unsigned char) *p)) {
        h = h * 10 + (*p - '0');
        p++;
    }

    m = 0;

    if (*p == ':') {
        p++;
    }

    if (*p) {
        if (!isdigit((unsigned char) p[0]) || !isdigit((unsigned char) p[1])
            || p[2] != '\0')
        {
            return -1;
        }

        m = (p[0] - '0') * 10 + (p[1] - '0');
    }

    if (h > 18 || m > 59) {
        return -1;
    }

    *off = sign * (h * 3600L + m * 60L);

    return 0;
}


static int
cf_q_zone_parse(const char *zone, cf_q_zone_t *z)
{
    size_t       len;
    const char  *p;

    memset(z, 0, sizeof(cf_q_zone_t));

    if (zone == NULL || zone[0] == '\0') {
        return 0;
    }

    len = strlen(zone);

    if (len > CF_QUERY_MAX_ZONE_LEN) {
        return -1;
    }

    if (strcmp(zone, "Z") == 0 || zone[0] == '+' || zone[0] == '-') {
        z->fixed = 1;
        return cf_q_zone_offset(zone[0] == 'Z' ? "" : zone, &z->offset);
    }

    if (strncmp(zone, "UTC", 3) == 0 || strncmp(zone, "GMT", 3) == 0) {
        z->fixed = 1;
        if (cf_q_zone_offset(zone + 3, &z->offset) == 0) {
            return 0;
        }
    }

    if (strncmp(zone, "UT", 2) == 0 && (zone[2] == '\0' || zone[2] == '+'
                                        || zone[2] == '-'))
    {
        z->fixed = 1;
        return cf_q_zone_offset(zone + 2, &z->offset);
    }

    /* an IANA name: [A-Za-z0-9_+-] components separated by '/' */

    z->fixed = 0;

    if (!isalpha((unsigned char) zone[0])) {
        return -1;
    }

    for (p = zone; *p; p++) {
        if (*p == '/') {
            if (p[1] == '\0' || p[1] == '/' || p[1] == '.') {
                return -1;
            }

            continue;
        }

        if (!isalnum((unsigned char) *p) && *p != '_' && *p != '-'
            && *p != '+')
        {
            return -1;
        }
    }

    /* a readable TZif file: loaded once per process and kept (cf_tz.c) */
    if (cf_tz_zone(CF_Q_ZONEINFO, zone) == NULL) {
        return -1;
    }

    z->name = zone;

    return 0;
}


int
cf_query_zone_valid(const char *zone)
{
    cf_q_zone_t  z;

    return cf_q_zone_parse(zone, &z);
}


/*
 * Local times come from the zone's own rules (cf_tz.c: its TZif file, read
 * once per process), never from switching TZ for libc's local-time calls:
 * that changes process-wide state which nginx's log times and every other
 * thread read.
 */
static int
cf_q_breakdown(const cf_q_zone_t *z, time_t t, struct tm *tm)
{
    const cf_tz_t  *tz;

    if (z->fixed) {
        t += z->offset;
        return gmtime_r(&t, tm) ? 0 : -1;
    }

    tz = cf_tz_zone(CF_Q_ZONEINFO, z->name);
    if (tz == NULL) {
        return -1;
    }

    t += cf_tz_offset(tz, (int64_t) t);

    return gmtime_r(&t, tm) ? 0 : -1;
}


static int
cf_q_compose(const cf_q_zone_t *z, struct tm *tm, time_t *t)
{
    time_t          local;
    const cf_tz_t  *tz;

    /* timegm() normalizes the fields (a day 0, a month 13) */
    local = timegm(tm);

    if (z->fixed) {
        *t = local - z->offset;
        return 0;
    }

    tz = cf_tz_zone(CF_Q_ZONEINFO, z->name);
    if (tz == NULL) {
        return -1;
    }

    *t = (time_t) cf_tz_utc(tz, (int64_t) local);

    return 0;
}


static int64_t
cf_q_floor_div(int64_t a, int64_t b)
{
    return (a >= 0) ? a / b : -((-a + b - 1) / b);
}


/*
 * Local midnight of a day relative to now: what 0 = the day itself,
 * 1 = its ISO week's Monday, 2 = the 1st of its month; then shifted by
 * days (what 0), weeks (1) or months (2); hms: seconds into that day.
 */
int64_t
cf_q_local_start(const char *zone, int64_t now_ms, int what, int64_t shift,
    long hms)
{
    time_t       t;
    struct tm    tm, st;
    cf_q_zone_t  z;

    if (cf_q_zone_parse(zone, &z) != 0) {
        return -1;
    }

    if (cf_q_breakdown(&z, (time_t) cf_q_floor_div(now_ms, 1000), &tm)
        != 0)
    {
        return -1;
    }

    memset(&st, 0, sizeof(st));
    st.tm_year = tm.tm_year;
    st.tm_mon = tm.tm_mon;
    st.tm_mday = tm.tm_mday;
    st.tm_hour = (int) (hms / 3600);
    st.tm_min = (int) (hms / 60 % 60);
    st.tm_sec = (int) (hms % 60);

    switch (what) {
    case 0:
        st.tm_mday += (int) shift;
        break;
    case 1:
        st.tm_mday += -((tm.tm_wday + 6) % 7) + 7 * (int) shift;
        break;
    default:
        st.tm_mday = 1;
        st.tm_mon += (int) shift;
        break;
    }

    if (cf_q_compose(&z, &st, &t) != 0) {
        return -1;
    }

    return (int64_t) t * 1000;
}


int64_t
cf_query_day_start(const char *zone, int64_t now_ms, int64_t day_offset)
{
    return cf_q_local_start(zone, now_ms, 0, day_offset, 0);
}


int64_t
cf_query_week_start(const char *zone, int64_t now_ms, int offset)
{
    return cf_q_local_start(zone, now_ms, 1, offset, 0);
}


int64_t
cf_query_month_start(const char *zone, int64_t now_ms, int offset)
{
    return cf_q_local_start(zone, now_ms, 2, offset, 0);
}


/*
 * Formats the instant ms in zone with a java.time pattern (datePattern):
 * y/u (year), M, d, H, h, m, s, S (fraction), a; 'quoted' literals; other
 * non-letters are literal.  0 or -1 (unsupported pattern).
 */
int
cf_q_format(const char *zone, int64_t ms, const char *pat, char *out,
    size_t len)
{
    int          n, w, val;
    char        *o, *end;
    const char  *p;
    struct tm    tm;
    cf_q_zone_t  z;

    if (cf_q_zone_parse(zone, &z) != 0) {
        return -1;
    }

    n = cf_q_breakdown(&z, (time_t) cf_q_floor_div(ms, 1000), &tm);

    if (n != 0) {
        return -1;
    }

    o = out;
    end = out + len - 1;

    for (p = pat; *p; p += w) {

        if (end - o < 12) {
            return -1;
        }

        if (*p == '\'') {
            p++;

            while (*p && *p != '\'') {
                *o++ = *p++;

                if (o == end) {
                    return -1;
                }
            }

            if (*p != '\'') {
                return -1;
            }

            w = 1;
            continue;
        }

        for (w = 1; p[w] == *p; w++) { /* void */ }

        if (!isalpha((unsigned char) *p)) {
            if (w > 1) {
                w = 1;
            }

            *o++ = *p;
            continue;
        }

        switch (*p) {
        case 'y':
        case 'u':
            val = tm.tm_year + 1900;
            if (w == 2) {
                o += sprintf(o, "%02d", val % 100);
                continue;
            }
            break;
        case 'M':
            if (w > 2) {
                return -1;
            }
            val = tm.tm_mon + 1;
            break;
        case 'd':
            val = tm.tm_mday;
            break;
        case 'H':
            val = tm.tm_hour;
            break;
        case 'h':
            val = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
            break;
        case 'm':
            val = tm.tm_min;
            break;
        case 's':
            val = tm.tm_sec;
            break;
        case 'S':
            if (w > 3) {
                return -1;
            }
            val = (int) (ms - cf_q_floor_div(ms, 1000) * 1000);
            o += sprintf(o, "%0*d", w, w == 3 ? val : w == 2 ? val / 10
                                                              : val / 100);
            continue;
        case 'a':
            if (w > 1) {
                return -1;
            }
            o += sprintf(o, "%s", tm.tm_hour < 12 ? "AM" : "PM");
            continue;
        default:
            return -1;
        }

        if (w > 4 || (w > 2 && *p != 'y' && *p != 'u')) {
            return -1;
        }

        o += sprintf(o, "%0*d", w, val);
    }

    *o = '\0';

    return 0;
}
