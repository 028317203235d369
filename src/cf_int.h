
/*
 * ngx_compensation: the one integer parser for request input (headers,
 * path segments, query arguments).  Plain C, no nginx headers.
 */


#ifndef _CF_INT_H_INCLUDED_
#define _CF_INT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * A non-negative decimal integer of len bytes, digits only (no sign, no
 * blanks), at most max (max >= 0).  0 and *out set, or -1 for an empty,
 * non-digit, overflowing or too large value; *out is untouched then.
 */
int cf_int_parse(const unsigned char *p, size_t len, int64_t max,
    int64_t *out);


#endif /* _CF_INT_H_INCLUDED_ */
