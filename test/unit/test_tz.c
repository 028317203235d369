
/*
 * Unit tests of the time-zone rules (cf_tz.c): offsets and local-time
 * inversions checked against glibc's localtime_r()/mktime() (TZ is set
 * here, in the test only) over many instants and zones, the POSIX rules of
 * the footers, and malformed files.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_test.h"
#include "cf_tz.h"
#include "cf_query.h"


#define T_ZONEINFO  "/usr/share/zoneinfo/"


static const char  *t_zones[] = {
    "UTC", "America/New_York", "Europe/London", "Europe/Dublin",
    "Australia/Sydney", "Australia/Lord_Howe", "Asia/Kolkata",
    "America/Sao_Paulo", "Pacific/Chatham", "Africa/Casablanca",
    "Asia/Tehran", "America/St_Johns", "Pacific/Apia", "Antarctica/Troll",
    "America/Santiago", "Asia/Shanghai", "Europe/Moscow", "Pacific/Kiritimati",
    NULL
};


static void
t_set_tz(const char *zone)
{
    setenv("TZ", zone, 1);
    tzset();
}


static uint64_t  t_rand_state = 88172645463325252ULL;

static uint64_t
t_rand(void)
{
    t_rand_state ^= t_rand_state << 13;
    t_rand_state ^= t_rand_state >> 7;
    t_rand_state ^= t_rand_state << 17;
    return t_rand_state;
}


/* cf_tz_offset == glibc's tm_gmtoff, 1901..2100, 4,000 instants a zone */
static void
test_tz_offsets_match_glibc(void)
{
    int             i, bad;
    time_t          t;
    struct tm       tm;
    const cf_tz_t  *tz;
    const char    **z;

    for (z = t_zones; *z; z++) {
        tz = cf_tz_zone(T_ZONEINFO, *z);
        if (!CHECK(tz != NULL)) {
            printf("#   zone %s\n", *z);
            continue;
        }

        t_set_tz(*z);
        bad = 0;

        for (i = 0; i < 4000; i++) {
            /* 1901-12-14 .. 2100 */
            t = (time_t) (-2147483000LL
                          + (int64_t) (t_rand() % 6250000000ULL));

            if (localtime_r(&t, &tm) == NULL) {
                continue;
            }

            if (cf_tz_offset(tz, (int64_t) t) != tm.tm_gmtoff && bad++ < 3) {
                printf("#   %s at %lld: %ld, glibc %ld\n", *z, (long long) t,
                       cf_tz_offset(tz, (int64_t) t), (long) tm.tm_gmtoff);
            }
        }

        CHECK_INT(bad, 0);
    }

    unsetenv("TZ");
    tzset();
}


/* local midnights turned into instants, as the query time operators do,
 * against mktime(tm_isdst = -1), 1970..2060 */
static void
test_tz_midnights_match_glibc(void)
{
    int             i, bad;
    time_t          t, local;
    struct tm       tm, g;
    const cf_tz_t  *tz;
    const char    **z;

    for (z = t_zones; *z; z++) {
        tz = cf_tz_zone(T_ZONEINFO, *z);
        if (tz == NULL) {
            continue;
        }

        t_set_tz(*z);
        bad = 0;

        for (i = 0; i < 2000; i++) {
            t = (time_t) (t_rand() % 2840000000ULL);

            localtime_r(&t, &tm);
            tm.tm_hour = 0;
            tm.tm_min = 0;
            tm.tm_sec = 0;
            tm.tm_isdst = -1;
            g = tm;

            local = timegm(&tm);

            if ((time_t) cf_tz_utc(tz, (int64_t) local) != mktime(&g)
                && bad++ < 3)
            {
                printf("#   %s midnight of %lld: %lld, glibc %lld\n", *z,
                       (long long) t,
                       (long long) cf_tz_utc(tz, (int64_t) local),
                       (long long) mktime(&g));
            }
        }

        CHECK_INT(bad, 0);
    }

    unsetenv("TZ");
    tzset();
}


static void
test_tz_posix(void)
{
    cf_tz_t  *tz;

    tz = cf_tz_parse_posix("EST5EDT,M3.2.0,M11.1.0");
    if (CHECK(tz != NULL)) {
        /* 2024-03-10 06:59:59Z EST, 07:00:00Z EDT; 2024-11-03 06:00Z EST */
        CHECK_INT(cf_tz_offset(tz, 1710053999), -18000);
        CHECK_INT(cf_tz_offset(tz, 1710054000), -14400);
        CHECK_INT(cf_tz_offset(tz, 1730613599), -14400);
        CHECK_INT(cf_tz_offset(tz, 1730613600), -18000);
        /* 2024-03-10 02:30 does not exist: read with EST */
        CHECK_INT(cf_tz_utc(tz, 1710037800), 1710037800 + 18000);
        /* 2024-11-03 01:30 occurs twice: the first (EDT) */
        CHECK_INT(cf_tz_utc(tz, 1730597400), 1730597400 + 14400);
        cf_tz_free(tz);
    }

    /* the southern hemisphere, an end time of 3:00 */
    tz = cf_tz_parse_posix("AEST-10AEDT,M10.1.0,M4.1.0/3");
    if (CHECK(tz != NULL)) {
        CHECK_INT(cf_tz_offset(tz, 1704067200), 39600);   /* January */
        CHECK_INT(cf_tz_offset(tz, 1719792000), 36000);   /* July */
        cf_tz_free(tz);
    }

    tz = cf_tz_parse_posix("<+0330>-3:30");
    if (CHECK(tz != NULL)) {
        CHECK_INT(cf_tz_offset(tz, 0), 12600);
        cf_tz_free(tz);
    }

    tz = cf_tz_parse_posix("<-03>3<-02>,M3.5.0/-2,M10.5.0/-1");
    if (CHECK(tz != NULL)) {
        CHECK_INT(cf_tz_offset(tz, 1719792000), -7200);   /* July */
        CHECK_INT(cf_tz_offset(tz, 1704067200), -10800);  /* January */
        cf_tz_free(tz);
    }

    CHECK(cf_tz_parse_posix("") == NULL);
    CHECK(cf_tz_parse_posix("E5") == NULL);
    CHECK(cf_tz_parse_posix("EST") == NULL);
    CHECK(cf_tz_parse_posix("EST99") == NULL);
    CHECK(cf_tz_parse_posix("EST5EDT,M13.1.0,M11.1.0") == NULL);
    CHECK(cf_tz_parse_posix("EST5EDT,M3.2.0") == NULL);
    CHECK(cf_tz_parse_posix("EST5EDT,M3.2.0,M11.1.0x") == NULL);
    CHECK(cf_tz_parse_posix("<EST5") == NULL);
}


/* truncated, damaged or random files are refused, never read past */
static void
test_tz_malformed(void)
{
    int             i, j;
    size_t          len, cut;
    cf_tz_t        *tz;
    FILE           *fp;
    unsigned char   buf[8192], copy[8192];

    fp = fopen(T_ZONEINFO "America/New_York", "rb");
    if (!CHECK(fp != NULL)) {
        return;
    }

    len = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    CHECK(len > 44);

    tz = cf_tz_parse(buf, len);
    CHECK(tz != NULL);
    cf_tz_free(tz);

    for (cut = 0; cut < len - 40; cut += 7) {
        tz = cf_tz_parse(buf, cut);
        /* the footer may be cut off: the rules then end with the table */
        if (tz) {
            cf_tz_free(tz);
        }
    }

    CHECK(cf_tz_parse(buf, 43) == NULL);
    CHECK(cf_tz_parse((const unsigned char *) "TZxf", 4) == NULL);

    for (i = 0; i < 2000; i++) {
        memcpy(copy, buf, len);

        for (j = 0; j < 4; j++) {
            copy[t_rand() % len] = (unsigned char) t_rand();
        }

        tz = cf_tz_parse(copy, len);
        if (tz) {
            (void) cf_tz_offset(tz, (int64_t) (t_rand() % 4000000000ULL));
            (void) cf_tz_utc(tz, (int64_t) (t_rand() % 4000000000ULL));
            cf_tz_free(tz);
        }
    }

    CHECK(cf_tz_load(T_ZONEINFO) == NULL);
    CHECK(cf_tz_load("/nonexistent/zone") == NULL);
    CHECK(cf_tz_zone(T_ZONEINFO, "Mars/Olympus") == NULL);
}


/* the query operators leave the process's zone alone */
static void
test_tz_queries_keep_env(void)
{
    setenv("TZ", "America/New_York", 1);
    tzset();

    CHECK_INT(cf_query_day_start("Asia/Tokyo", 1719835200000LL, 0),
              1719759600000LL);
    CHECK_STR(getenv("TZ"), "America/New_York");
    CHECK_STR(tzname[0], "EST");

    unsetenv("TZ");
    tzset();
}


const cf_test_t  cf_tests_tz[] = {
    { "tz: offsets of 18 zones match glibc, 1901..2100",
      test_tz_offsets_match_glibc },
    { "tz: local midnights to instants match mktime, 1970..2060",
      test_tz_midnights_match_glibc },
    { "tz: POSIX TZ rules (footers), gaps, overlaps, bad strings",
      test_tz_posix },
    { "tz: truncated, damaged and random TZif files", test_tz_malformed },
    { "tz: time operators never touch TZ", test_tz_queries_keep_env },
    { NULL, NULL }
};
