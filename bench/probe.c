/*
 * ngx_compensation benchmark: the edge-isolation probe (bench/isolation.sh).
 *
 * A light client: CONNS keep-alive connections, one request in flight at a
 * time (round robin over the connections), a pause of PAUSE_US between
 * requests.  It measures each request's latency (send to the end of the
 * response) and prints:
 *   PROBE <requests> <errors> <p50 ms> <p99 ms> <p99.9 ms> <max ms>
 *
 *   probe HOST PORT PATH SECONDS [CONNS=4] [PAUSE_US=1000]
 *
 * The response must have a Content-Length (or be a 204): that is all a
 * `return 204` / `return 200` location answers.
 */

#define _GNU_SOURCE     /* strcasestr */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS  64

static double
now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
connect_to(const char *host, int port)
{
    int                 fd, one = 1;
    struct sockaddr_in  sa;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, host, &sa.sin_addr);

    if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    return fd;
}

/* one request and its whole response: 0, or -1 (the connection is lost) */
static int
exchange(int fd, const char *req, size_t len, int *status)
{
    char     buf[8192], *end, *cl;
    size_t   have = 0, need;
    ssize_t  n;

    if (write(fd, req, len) != (ssize_t) len) {
        return -1;
    }

    for ( ;; ) {
        n = read(fd, buf + have, sizeof(buf) - 1 - have);
        if (n <= 0) {
            return -1;
        }

        have += n;
        buf[have] = '\0';

        end = strstr(buf, "\r\n\r\n");
        if (end == NULL) {
            if (have == sizeof(buf) - 1) {
                return -1;
            }
            continue;
        }

        *status = atoi(buf + 9);
        need = end + 4 - buf;

        cl = strcasestr(buf, "\r\nContent-Length:");
        if (cl && cl < end) {
            need += strtoul(cl + 17, NULL, 10);
        }

        if (have >= need) {
            return 0;
        }

        if (need > sizeof(buf) - 1) {
            return -1;
        }
    }
}

static int
cmp(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    int      port, conns, pause_us, fd[MAX_CONNS], i, status;
    char     req[512];
    size_t   len, n = 0, cap = 1 << 16, errors = 0;
    double   t0, t, end, *lat;

    if (argc < 5) {
        fprintf(stderr, "usage: probe HOST PORT PATH SECONDS [CONNS]"
                " [PAUSE_US]\n");
        return 2;
    }

    port = atoi(argv[2]);
    conns = argc > 5 ? atoi(argv[5]) : 4;
    pause_us = argc > 6 ? atoi(argv[6]) : 1000;

    if (conns < 1 || conns > MAX_CONNS) {
        return 2;
    }

    len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: probe\r\n\r\n",
                   argv[3]);

    for (i = 0; i < conns; i++) {
        fd[i] = connect_to(argv[1], port);
        if (fd[i] < 0) {
            perror("connect");
            return 1;
        }
    }

    lat = malloc(cap * sizeof(double));
    if (lat == NULL) {
        return 1;
    }

    end = now_ms() + atof(argv[4]) * 1e3;

    for (i = 0; (t0 = now_ms()) < end; i = (i + 1) % conns) {
        if (exchange(fd[i], req, len, &status) != 0 || status >= 400) {
            errors++;
            close(fd[i]);
            fd[i] = connect_to(argv[1], port);
            if (fd[i] < 0) {
                return 1;
            }
            continue;
        }

        t = now_ms() - t0;

        if (n == cap) {
            cap *= 2;
            lat = realloc(lat, cap * sizeof(double));
            if (lat == NULL) {
                return 1;
            }
        }

        lat[n++] = t;

        if (pause_us) {
            usleep(pause_us);
        }
    }

    if (n == 0) {
        printf("PROBE 0 %zu 0 0 0 0\n", errors);
        return 1;
    }

    qsort(lat, n, sizeof(double), cmp);

    printf("PROBE %zu %zu %.3f %.3f %.3f %.3f\n", n, errors,
           lat[n * 50 / 100], lat[n * 99 / 100], lat[n * 999 / 1000],
           lat[n - 1]);

    return 0;
}
