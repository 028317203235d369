
/*
 * Unit tests of the request integer parser (cf_int.c): every bound, the
 * overflow that once wrapped a header negative, and what is not a number.
 */


#include <stdio.h>
#include <string.h>

#include "cf_test.h"
#include "cf_int.h"


static int
parse(const char *s, int64_t max, int64_t *out)
{
    return cf_int_parse((const unsigned char *) s, strlen(s), max, out);
}


static void
test_int_valid(void)
{
    int64_t  n;

    CHECK_INT(parse("0", INT64_MAX, &n), 0);
    CHECK_INT(n, 0);
    CHECK_INT(parse("42", INT64_MAX, &n), 0);
    CHECK_INT(n, 42);
    CHECK_INT(parse("007", 100, &n), 0);
    CHECK_INT(n, 7);
    CHECK_INT(parse("9223372036854775807", INT64_MAX, &n), 0);
    CHECK(n == INT64_MAX);
    CHECK_INT(parse("2147483647", INT32_MAX, &n), 0);
    CHECK_INT(n, INT32_MAX);
    CHECK_INT(parse("5", 5, &n), 0);
    CHECK_INT(n, 5);
}


static void
test_int_overflow(void)
{
    int64_t  n;

    n = 77;

    /* wrapped negative in the old header parser and was accepted */
    CHECK_INT(parse("9999999999999999999", INT32_MAX, &n), -1);
    CHECK_INT(parse("9999999999999999999", INT64_MAX, &n), -1);
    CHECK_INT(parse("9223372036854775808", INT64_MAX, &n), -1);
    CHECK_INT(parse("18446744073709551616", INT64_MAX, &n), -1);
    CHECK_INT(parse("000000000000000000000000000001", INT64_MAX, &n), 0);
    CHECK_INT(n, 1);
    n = 77;
    CHECK_INT(parse("2147483648", INT32_MAX, &n), -1);
    CHECK_INT(parse("6", 5, &n), -1);
    CHECK_INT(parse("10", 9, &n), -1);
    CHECK_INT(parse("1", 0, &n), -1);
    CHECK_INT(n, 77);
}


static void
test_int_not_a_number(void)
{
    int64_t  n;

    CHECK_INT(parse("", INT64_MAX, &n), -1);
    CHECK_INT(parse("-1", INT64_MAX, &n), -1);
    CHECK_INT(parse("+1", INT64_MAX, &n), -1);
    CHECK_INT(parse(" 1", INT64_MAX, &n), -1);
    CHECK_INT(parse("1 ", INT64_MAX, &n), -1);
    CHECK_INT(parse("1e3", INT64_MAX, &n), -1);
    CHECK_INT(parse("0x10", INT64_MAX, &n), -1);
    CHECK_INT(parse("1", -1, &n), -1);
    CHECK_INT(cf_int_parse((const unsigned char *) "1\0", 2, INT64_MAX, &n),
              -1);
}


const cf_test_t  cf_tests_int[] = {
    { "int: valid values up to each bound", test_int_valid },
    { "int: overflow and values over the bound are refused",
      test_int_overflow },
    { "int: signs, blanks, exponents, hex and NUL are refused",
      test_int_not_a_number },
    { NULL, NULL }
};
