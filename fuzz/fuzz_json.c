
/*
 * Fuzz target: the JSON reader's fast path (src/cf_json_read.c) against
 * jansson.  For any bytes, cf_json_loadb and cf_json_loads must answer
 * exactly as json_loadb and json_loads do, with and without
 * JSON_REJECT_DUPLICATES: both fail with the same error text and position,
 * or both give trees with the same serialisation (which includes the key
 * order).  Whatever cf_json_read accepts alone must be a tree jansson gives.
 */


#include <string.h>

#include "cf_fuzz.h"
#include "cf_json.h"


static void
fz_same(json_t *mine, json_error_t *me, json_t *ref, json_error_t *re)
{
    char  *a, *b;

    FZ_ASSERT((mine == NULL) == (ref == NULL));

    if (ref == NULL) {
        FZ_ASSERT(strcmp(me->text, re->text) == 0);
        FZ_ASSERT(me->position == re->position);
        return;
    }

    a = json_dumps(mine, JSON_COMPACT | JSON_ENCODE_ANY);
    b = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
    FZ_ASSERT(a != NULL && b != NULL);
    FZ_ASSERT(strcmp(a, b) == 0);
    FZ_ASSERT(json_equal(mine, ref));
    free(a);
    free(b);

    FZ_ASSERT(me->line == re->line && me->column == re->column);
    FZ_ASSERT(strcmp(me->source, re->source) == 0);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            i;
    char          *text;
    json_t        *mine, *ref, *fast;
    size_t         flags;
    json_error_t   me, re;

    for (i = 0; i < 2; i++) {
        flags = i ? JSON_REJECT_DUPLICATES : 0;

        mine = cf_json_loadb((const char *) data, size, flags, &me);
        ref = json_loadb((const char *) data, size, flags, &re);
        fz_same(mine, &me, ref, &re);
        json_decref(mine);
        json_decref(ref);
    }

    fast = cf_json_read((const char *) data, size);

    if (fast != NULL) {
        ref = json_loadb((const char *) data, size, 0, &re);
        FZ_ASSERT(ref != NULL && json_equal(fast, ref));
        json_decref(ref);
        json_decref(fast);
    }

    /* the NUL-terminated variant stops at the first NUL, as jansson's */
    text = malloc(size + 1);
    FZ_ASSERT(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';

    mine = cf_json_loads(text, 0, &me);
    ref = json_loads(text, 0, &re);
    fz_same(mine, &me, ref, &re);
    json_decref(mine);
    json_decref(ref);

    free(text);

    return 0;
}
