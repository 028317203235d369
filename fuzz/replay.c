
/*
 * Replays files through a fuzz target without libFuzzer: every argument is
 * a file, or a directory whose regular files are replayed in name order.
 * Built with any C compiler (ASan + UBSan in test/unit), so the regression
 * inputs and the seed corpus run in `make unit` without clang.
 */


#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cf_fuzz.h"


__attribute__((weak)) int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}


static int
replay_file(const char *path)
{
    long     len;
    FILE    *f;
    uint8_t *buf;

    f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return -1;
    }

    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        fclose(f);
        return -1;
    }

    /* an exact-size heap copy: ASan sees a read past the input */
    buf = malloc(len ? (size_t) len : 1);
    if (buf == NULL || fread(buf, 1, (size_t) len, f) != (size_t) len) {
        free(buf);
        fclose(f);
        return -1;
    }

    fclose(f);

    (void) LLVMFuzzerTestOneInput(buf, (size_t) len);
    free(buf);

    return 0;
}


static int
cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


static int
replay(const char *path, int *n)
{
    int             rc;
    char          **names, buf[4096];
    size_t          i, count, cap;
    DIR            *d;
    struct stat     sb;
    struct dirent  *de;

    if (stat(path, &sb) != 0) {
        /* an absent directory is an empty corpus */
        return 0;
    }

    if (!S_ISDIR(sb.st_mode)) {
        (*n)++;
        return replay_file(path);
    }

    d = opendir(path);
    if (d == NULL) {
        perror(path);
        return -1;
    }

    names = NULL;
    count = cap = 0;

    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }

        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof(char *));
            if (names == NULL) {
                closedir(d);
                return -1;
            }
        }

        names[count++] = strdup(de->d_name);
    }

    closedir(d);

    if (count) {
        qsort(names, count, sizeof(char *), cmp);
    }

    rc = 0;

    for (i = 0; i < count; i++) {
        snprintf(buf, sizeof(buf), "%s/%s", path, names[i]);
        if (rc == 0 && replay(buf, n) != 0) {
            rc = -1;
        }
        free(names[i]);
    }

    free(names);

    return rc;
}


int
main(int argc, char **argv)
{
    int  i, n;

    (void) LLVMFuzzerInitialize(&argc, &argv);

    n = 0;

    for (i = 1; i < argc; i++) {
        if (replay(argv[i], &n) != 0) {
            return 1;
        }
    }

    printf("%s: %d inputs replayed\n", argv[0], n);

    return 0;
}
