
/*
 * ngx_compensation: the enums of the domain and their wire names.  Parsing
 * is case-insensitive as the reference server accepts it (spec 3.2); the
 * comparison is ASCII only, so that no locale can change it.
 */


#include <string.h>

#include "cf_domain.h"


static int cf_enum_parse(const char *const *names, int n, const char *s);


static const char *const  cf_status_names[] = {
    "FAILED", "PREPARED", "SUCCEEDED"
};

static const char *const  cf_recoverable_names[] = {
    "RECOVERABLE", "UNRECOVERABLE", "UNKNOWN"
};

static const char *const  cf_kind_names[] = {
    "COMMAND", "SOURCING", "EVENT", "STATE_EVENT", "ERROR"
};


#define cf_nelts(a)  ((int) (sizeof(a) / sizeof((a)[0])))


const char *
cf_status_name(cf_status_t s)
{
    return ((int) s >= 0 && (int) s < cf_nelts(cf_status_names))
           ? cf_status_names[s] : "";
}


const char *
cf_recoverable_name(cf_recoverable_t r)
{
    return ((int) r >= 0 && (int) r < cf_nelts(cf_recoverable_names))
           ? cf_recoverable_names[r] : "";
}


const char *
cf_function_kind_name(cf_function_kind_t k)
{
    return ((int) k >= 0 && (int) k < cf_nelts(cf_kind_names))
           ? cf_kind_names[k] : "";
}


int
cf_status_parse(const char *s, cf_status_t *out)
{
    int  i;

    i = cf_enum_parse(cf_status_names, cf_nelts(cf_status_names), s);
    if (i < 0) {
        return -1;
    }

    *out = (cf_status_t) i;

    return 0;
}


int
cf_recoverable_parse(const char *s, cf_recoverable_t *out)
{
    int  i;

    i = cf_enum_parse(cf_recoverable_names, cf_nelts(cf_recoverable_names),
                      s);
    if (i < 0) {
        return -1;
    }

    *out = (cf_recoverable_t) i;

    return 0;
}


int
cf_function_kind_parse(const char *s, cf_function_kind_t *out)
{
    int  i;

    i = cf_enum_parse(cf_kind_names, cf_nelts(cf_kind_names), s);
    if (i < 0) {
        return -1;
    }

    *out = (cf_function_kind_t) i;

    return 0;
}


static int
cf_enum_parse(const char *const *names, int n, const char *s)
{
    int            i;
    size_t         k;
    unsigned char  a, b;

    if (s == NULL) {
        return -1;
    }

    for (i = 0; i < n; i++) {

        for (k = 0; ; k++) {
            a = (unsigned char) s[k];
            b = (unsigned char) names[i][k];

            if (a >= 'a' && a <= 'z') {
                a = (unsigned char) (a - 'a' + 'A');
            }

            if (a != b || b == '\0') {
                break;
            }
        }

        if (a == b) {
            return i;
        }
    }

    return -1;
}
