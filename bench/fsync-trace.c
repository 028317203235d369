/*
 * ngx_compensation benchmark tool: an LD_PRELOAD library that times every
 * fdatasync() and fsync() of the process, apart for the WAL file and for
 * the others (the database file), and writes a summary per process to
 * $FSYNC_TRACE_DIR/fsync.<pid> every 100 calls and at exit.
 *
 *   cc -O2 -shared -fPIC -o fsync-trace.so bench/fsync-trace.c -ldl
 *   LD_PRELOAD=$PWD/fsync-trace.so FSYNC_TRACE_DIR=/tmp/ft nginx ...
 *
 * bench/fsync-trace.sh runs it against a store under the cycle load.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


#define FT_BUCKETS  8           /* < 0.5, 1, 2, 4, 8, 16, 32 ms, more */


static double  ft_sum[2];
static long    ft_count[2];
static long    ft_hist[2][FT_BUCKETS];


static double
ft_now_ms(void)
{
    struct timespec  t;

    clock_gettime(CLOCK_MONOTONIC, &t);

    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}


static void
ft_dump(void)
{
    int          k, b;
    char         path[512];
    FILE        *f;
    const char  *dir;

    dir = getenv("FSYNC_TRACE_DIR");
    if (dir == NULL) {
        return;
    }

    snprintf(path, sizeof(path), "%s/fsync.%d", dir, (int) getpid());

    f = fopen(path, "w");
    if (f == NULL) {
        return;
    }

    for (k = 0; k < 2; k++) {
        fprintf(f, "%s calls %ld total_ms %.0f"
                " ms(<0.5 <1 <2 <4 <8 <16 <32 more)",
                k == 0 ? "wal" : "db ", ft_count[k], ft_sum[k]);

        for (b = 0; b < FT_BUCKETS; b++) {
            fprintf(f, " %ld", ft_hist[k][b]);
        }

        fprintf(f, "\n");
    }

    fclose(f);
}


/* real: the libc function, looked up by name at its first call */
static int
ft_timed(const char *name, int (**real)(int), int fd)
{
    int      rc, k, b;
    char     link[64], target[512];
    double   t, ms;
    ssize_t  n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, target, sizeof(target) - 1);
    target[n > 0 ? n : 0] = '\0';

    k = strstr(target, "-wal") != NULL ? 0 : 1;

    if (*real == NULL) {
        *real = (int (*)(int)) dlsym(RTLD_NEXT, name);
    }

    t = ft_now_ms();
    rc = (*real)(fd);
    ms = ft_now_ms() - t;

    for (b = 0; b < FT_BUCKETS - 1 && ms >= 0.5 * (1 << b); b++) {
        /* void */
    }

    ft_sum[k] += ms;
    ft_count[k]++;
    ft_hist[k][b]++;

    if ((ft_count[0] + ft_count[1]) % 100 == 0) {
        ft_dump();
    }

    return rc;
}


int
fdatasync(int fd)
{
    static int  (*real)(int);

    return ft_timed("fdatasync", &real, fd);
}


int
fsync(int fd)
{
    static int  (*real)(int);

    return ft_timed("fsync", &real, fd);
}


/* at exit; processes that never synced leave no file */
__attribute__((destructor)) static void
ft_exit(void)
{
    if (ft_count[0] + ft_count[1] > 0) {
        ft_dump();
    }
}
