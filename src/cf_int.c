
/*
 * ngx_compensation: the one integer parser for request input (cf_int.h).
 */


#include "cf_int.h"


int
cf_int_parse(const unsigned char *p, size_t len, int64_t max, int64_t *out)
{
    int64_t               n, d;
    const unsigned char  *last;

    if (len == 0 || max < 0) {
        return -1;
    }

    n = 0;

    for (last = p + len; p < last; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }

        d = *p - '0';

        /* n * 10 + d > max, checked without overflowing */
        if (d > max || n > (max - d) / 10) {
            return -1;
        }

        n = n * 10 + d;
    }

    *out = n;

    return 0;
}
