
/*
 * ngx_compensation unit tests: a tiny TAP harness.  One test function is
 * one TAP line; a failed check prints a "#" diagnostic and fails its test.
 */


#ifndef _CF_TEST_H_INCLUDED_
#define _CF_TEST_H_INCLUDED_


#include <stdint.h>
#include <string.h>
#include <jansson.h>

#include "cf_domain.h"


typedef void (*cf_test_pt)(void);

typedef struct {
    const char  *name;
    cf_test_pt   fn;
} cf_test_t;


extern const cf_test_t  cf_tests_error[];
extern const cf_test_t  cf_tests_retry[];
extern const cf_test_t  cf_tests_state[];
extern const cf_test_t  cf_tests_bind[];
extern const cf_test_t  cf_tests_decide[];
extern const cf_test_t  cf_tests_id[];
extern const cf_test_t  cf_tests_fuzz[];
extern const cf_test_t  cf_tests_oom[];
extern const cf_test_t  cf_tests_store[];
extern const cf_test_t  cf_tests_cosid[];
extern const cf_test_t  cf_tests_query[];
extern const cf_test_t  cf_tests_dispatch[];
extern const cf_test_t  cf_tests_route[];
extern const cf_test_t  cf_tests_json[];
extern const cf_test_t  cf_tests_notify[];
extern const cf_test_t  cf_tests_int[];
extern const cf_test_t  cf_tests_tz[];
extern const cf_test_t  cf_tests_exec[];
extern const cf_test_t  cf_tests_pg[];      /* pg_tests only (test_pg.c) */


int cf_test_check(int ok, const char *expr, const char *file, int line);
int cf_test_check_int(long long a, long long b, const char *expr,
    const char *file, int line);
int cf_test_check_str(const char *a, const char *b, const char *expr,
    const char *file, int line);
/* compares the compact dump of j with text */
int cf_test_check_json(json_t *j, const char *text, const char *expr,
    const char *file, int line);

#define CHECK(e)                                                             \
    cf_test_check((e) != 0, #e, __FILE__, __LINE__)
#define CHECK_INT(a, b)                                                      \
    cf_test_check_int((long long) (a), (long long) (b), #a " == " #b,        \
                      __FILE__, __LINE__)
#define CHECK_STR(a, b)                                                      \
    cf_test_check_str((a), (b), #a " == " #b, __FILE__, __LINE__)
#define CHECK_JSON(j, text)                                                  \
    cf_test_check_json((j), (text), #j, __FILE__, __LINE__)


/* helpers shared by the test files (cf_test_util.c) */

#define CF_T_EXECUTE_AT  1719800000000LL

/* a valid create body; its error has one binding error */
extern const char  cf_t_create_body[];

json_t *cf_t_json(const char *text);     /* parses or aborts */
char *cf_t_dump(json_t *j);              /* compact; caller frees */

/*
 * Runs one command end to end as the server would: bind, decide with the
 * default spec 10/180/120, and apply the event as the next version.
 * body NULL means an empty request body.  0 or -1 (err set).
 */
int cf_t_exec(cf_aggregate_t *agg, cf_command_type_t type, const char *body,
    int64_t now, int64_t expected_version, const char *owner,
    cf_error_t *err, int *in_handler);

/* like cf_t_exec, but a failure fails the calling test */
#define EXEC_OK(agg, type, body, now)                                        \
    cf_t_exec_ok((agg), (type), (body), (now), __FILE__, __LINE__)
int cf_t_exec_ok(cf_aggregate_t *agg, cf_command_type_t type,
    const char *body, int64_t now, const char *file, int line);

/* expects failure with code (and msg when not NULL) and in_handler */
#define EXEC_FAIL(agg, type, body, now, code, msg, handler)                  \
    cf_t_exec_fail((agg), (type), (body), (now), (code), (msg), (handler),   \
                   __FILE__, __LINE__)
int cf_t_exec_fail(cf_aggregate_t *agg, cf_command_type_t type,
    const char *body, int64_t now, const char *code, const char *msg,
    int handler, const char *file, int line);

/* a created aggregate "agg-1" at CF_T_EXECUTE_AT */
void cf_t_created(cf_aggregate_t *agg);


#endif /* _CF_TEST_H_INCLUDED_ */
