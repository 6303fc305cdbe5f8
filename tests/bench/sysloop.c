/* sysloop.c - the host's system-call tax, for `make bench`: getppid() in a loop (a
 * system call that does nothing the kernel must wait for), ROUNDS short rounds of N
 * calls, printing the 10th-percentile round's nanoseconds per call: on a shared
 * machine other work only ever adds time, so the fast rounds are the loop's own cost.
 * Run bare and under the agent: any program on a system-call tracepoint sends every
 * system call of every process down the kernel's slow path.
 *   sysloop [N] [ROUNDS] */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000, rounds = argc > 2 ? atol(argv[2]) : 100;
    if (n < 1 || rounds < 1 || rounds > 999) return 2;
    double r[1000];
    for (long k = 0; k < rounds; k++) {
        long long t = now_ns();
        for (long i = 0; i < n; i++) syscall(SYS_getppid);
        r[k] = (double)(now_ns() - t) / (double)n;
    }
    qsort(r, (size_t)rounds, sizeof r[0], cmp);
    printf("%.1f ns per getppid (10th percentile of %ld rounds of %ld; median %.1f, min %.1f, max %.1f)\n", r[rounds / 10],
           rounds, n, r[rounds / 2], r[0], r[rounds - 1]);
    return 0;
}
