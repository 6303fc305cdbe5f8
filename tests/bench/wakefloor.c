/* wakefloor.c - what a bare periodic wakeup costs on this machine, for `make bench`.
 *
 *   wakefloor MODE PERIOD_US SECONDS
 *
 * Sleeps and wakes every PERIOD_US for SECONDS doing nothing else (with the agent's
 * 1 ns timer slack), and prints the process's time on CPU (schedstat, as the bench
 * reads the agent's) per wakeup:
 *   sleep  ppoll() with no descriptors and the period as its timeout
 *   timer  a periodic timerfd (armed once), read() at each tick
 *   ring   ppoll() on the epoll descriptor of an empty BPF ring buffer with the period
 *          as its timeout, then ring_buffer__consume(): the agent's wait on its ring,
 *          with none of its work (needs root)
 * Prints "MODE PERIOD_US: W wakeups/s, X us on CPU per wakeup, late p50/p99 us". */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t cpu_ns(void)
{
    long long v = 0;
    FILE *f = fopen("/proc/self/schedstat", "r");
    if (!f || fscanf(f, "%lld", &v) != 1) v = -1;
    if (f) fclose(f);
    return v;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int on_record(void *ctx, void *data, size_t size) { return (void)ctx, (void)data, (void)size, 0; }

int main(int argc, char **argv)
{
    if (argc != 4 || atol(argv[2]) < 1 || atof(argv[3]) <= 0) {
        fprintf(stderr, "usage: wakefloor sleep|timer|ring PERIOD_US SECONDS\n");
        return 2;
    }
    const char *mode = argv[1];
    long period = atol(argv[2]);
    size_t want = (size_t)(atof(argv[3]) * 1e6 / (double)period), n = 0;
    int64_t *late = malloc(want * sizeof *late);
    struct timespec ts = {period / 1000000, period % 1000000 * 1000};
    struct ring_buffer *rb = NULL;
    struct pollfd p = {.fd = -1, .events = POLLIN};
    uint64_t ticks;
    if (!late) return 1;
    (void)prctl(PR_SET_TIMERSLACK, 1UL);
    if (!strcmp(mode, "timer")) {
        if ((p.fd = timerfd_create(CLOCK_MONOTONIC, 0)) < 0) return perror("timerfd"), 1;
    } else if (!strcmp(mode, "ring")) {
        int map = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "floor", 0, 0, 1 << 20, NULL);
        if (map < 0 || !(rb = ring_buffer__new(map, on_record, NULL, NULL))) return perror("ring buffer"), 1;
        p.fd = ring_buffer__epoll_fd(rb);
    } else if (strcmp(mode, "sleep")) {
        fprintf(stderr, "wakefloor: mode is sleep, timer or ring\n");
        return 2;
    }
    int64_t c0 = cpu_ns(), t0 = mono_ns(), due = t0;
    struct itimerspec it = {ts, ts};
    if (!strcmp(mode, "timer") && timerfd_settime(p.fd, 0, &it, NULL) < 0) return perror("timerfd"), 1;
    for (; n < want; n++) {
        due += period * 1000;
        if (!strcmp(mode, "timer")) {
            if (read(p.fd, &ticks, sizeof ticks) != sizeof ticks) return perror("read"), 1;
            due += (int64_t)(ticks - 1) * period * 1000; /* ticks missed while late */
        } else {
            ppoll(p.fd >= 0 ? &p : NULL, p.fd >= 0, &ts, NULL);
            if (rb) ring_buffer__consume(rb);
        }
        int64_t now = mono_ns();
        late[n] = now - due;
        if (strcmp(mode, "timer")) due = now; /* a timeout counts from the call */
    }
    int64_t c1 = cpu_ns(), t1 = mono_ns();
    qsort(late, n, sizeof *late, cmp64);
    printf("%s %ld: %.0f wakeups/s, %.2f us on CPU per wakeup, late p50/p99 %lld/%lld us\n", mode, period,
           (double)n * 1e9 / (double)(t1 - t0), (double)(c1 - c0) / 1e3 / (double)n, (long long)(late[n / 2] / 1000),
           (long long)(late[n * 99 / 100] / 1000));
    ring_buffer__free(rb);
    free(late);
    return 0;
}
