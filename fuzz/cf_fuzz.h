
/*
 * ngx_compensation fuzz targets: shared declarations.  Each target defines
 * LLVMFuzzerTestOneInput (and may define LLVMFuzzerInitialize); it is built
 * with libFuzzer (clang, fuzz/Makefile) or with replay.c (any compiler, the
 * regression replay of `make unit`).
 */


#ifndef _CF_FUZZ_H_INCLUDED_
#define _CF_FUZZ_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <jansson.h>

#include "cf_domain.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);


/* an invariant of the code under test: abort (a finding) when false */
#define FZ_ASSERT(e)                                                         \
    do {                                                                     \
        if (!(e)) {                                                          \
            fprintf(stderr, "%s:%d: invariant failed: %s\n",                 \
                    __FILE__, __LINE__, #e);                                 \
            abort();                                                         \
        }                                                                    \
    } while (0)


#endif /* _CF_FUZZ_H_INCLUDED_ */
