/* wsclients.c - many WebSocket clients in one process, for tests and benchmarks.
 *
 *   wsclients HOST PORT -c CLIENTS -n EVENTS [-s STALLED] [-t SECONDS] [-a] [-p PNAME] [-L]
 *
 * Each client handshakes (the Sec-WebSocket-Accept is verified), reads every frame,
 * decodes it with ecaptureq's decoder and checks that it gets gen's events 0..N-1 in
 * order, none missing, none twice. STALLED more clients handshake and then read nothing
 * until the others are done; then they drain their socket and report the close code
 * the server sent them. Prints one summary line; exit 0 when every reading client got
 * every event (and, with -s, every stalled client was closed with 1008). With -a any
 * events count (captured traffic, not gen's): the run ends after N of them; -p counts
 * only events of processes named PNAME. -L: the latency of each counted event, arrival
 * (CLOCK_REALTIME when decoded) minus Event.timestamp, summed up as p50/p99/max. */
#define _GNU_SOURCE
#include "../ecaptureq.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct cl {
    int fd, open, done, stalled, close_code;
    char head[4096];
    size_t head_len;
    struct ecq_ws_reader rd;
    uint64_t next, events, bytes;
    int bad;
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* the index gen put in event i's payload */
static long seq_of(const struct ecq_event *e)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Seq: ";
    const char *p = e->payload.ptr, *k;
    size_t n = e->payload.len;
    /* where gen puts it, without a search: the readers must cost less than the server */
    if (n > 12 && !memcmp(p, "POST /items/", 12)) return strtol(p + 12, NULL, 10);
    if (n > sizeof resp - 1 && !memcmp(p, resp, sizeof resp - 1)) return strtol(p + sizeof resp - 1, NULL, 10);
    if ((k = memmem(p, n, "POST /items/", 12))) return strtol(k + 12, NULL, 10);
    if ((k = memmem(p, n, "X-Seq: ", 7))) return strtol(k + 7, NULL, 10);
    return -1;
}

static int any_events;
static const char *only_pname;
static int64_t *lat;                /* -L: one latency per counted event, ns */
static size_t nlat, caplat;

static int64_t realtime_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void on_message(struct cl *c, uint64_t want)
{
    struct ecq_entry e;
    size_t off;
    const char *why;
    if (ecq_pb_decode_entry(c->rd.data, c->rd.data_len, &e, &off, &why) < 0) {
        fprintf(stderr, "decode error at %zu: %s\n", off, why);
        c->bad++;
        return;
    }
    if (e.payload_case != ECQ_PAYLOAD_EVENT) return;
    if (only_pname && (e.event.pname.len != strlen(only_pname) || memcmp(e.event.pname.ptr, only_pname, e.event.pname.len)))
        return;
    if (caplat) {
        if (nlat == caplat) lat = realloc(lat, (caplat *= 2) * sizeof *lat);
        lat[nlat++] = realtime_ns() - e.event.timestamp;
    }
    long s = any_events ? (long)c->next : seq_of(&e.event);
    if (s != (long)c->next) {
        if (c->bad++ < 3) fprintf(stderr, "client fd %d: event %ld, expected %llu\n", c->fd, s, (unsigned long long)c->next);
    }
    c->next = (uint64_t)s + 1;
    c->events++;
    if (c->events == want && !c->stalled) c->done = 1;
}

/* a stalled client gets a small receive buffer so that it fills up quickly */
static int connect_to(const char *host, const char *port, int small)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    int fd, sz = 4096;
    if (getaddrinfo(host, port, &hints, &ai)) return -1;
    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && small) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) close(fd), fd = -1;
    freeaddrinfo(ai);
    return fd;
}

static void feed(struct cl *c, const uint8_t *buf, size_t n, uint64_t want)
{
    size_t off = 0, used;
    if (!c->open) {
        size_t take = n < sizeof c->head - c->head_len ? n : sizeof c->head - c->head_len;
        memcpy(c->head + c->head_len, buf, take);
        c->head_len += take;
        size_t hl = ecq_http_head_length(c->head, c->head_len);
        if (!hl) return;
        if (!memmem(c->head, hl, "101", 3) || !memmem(c->head, hl, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 50)) {
            fprintf(stderr, "bad handshake answer: %.*s\n", (int)hl, c->head);
            c->bad++;
            c->done = 1;
            return;
        }
        c->open = 1;
        c->rd.keep_data = 1;
        c->rd.max_message = 1u << 30;
        if (c->head_len > hl) feed(c, (const uint8_t *)c->head + hl, c->head_len - hl, want);
        off = take < n ? take : n;
        if (off < n) feed(c, buf + off, n - off, want);
        return;
    }
    while (off < n) {
        int rc = ecq_ws_read(&c->rd, buf + off, n - off, &used);
        off += used;
        if (rc == ECQ_WS_MESSAGE) on_message(c, want);
        else if (rc == ECQ_WS_CLOSE) {
            c->close_code = c->rd.ctl_len >= 2 ? c->rd.ctl[0] << 8 | c->rd.ctl[1] : 1005;
            c->done = 1;
            return;
        } else if (rc < 0) {
            fprintf(stderr, "protocol error %d from server\n", -rc);
            c->bad++;
            c->done = 1;
            return;
        }
    }
}

int main(int argc, char **argv)
{
    int nclients = 1, nstalled = 0, opt;
    uint64_t want = 0;
    double timeout = 60;
    struct rlimit rl;
    while ((opt = getopt(argc, argv, "c:n:s:t:ap:L")) != -1) {
        if (opt == 'c') nclients = atoi(optarg);
        else if (opt == 'n') want = strtoull(optarg, NULL, 10);
        else if (opt == 's') nstalled = atoi(optarg);
        else if (opt == 't') timeout = atof(optarg);
        else if (opt == 'a') any_events = 1;
        else if (opt == 'p') only_pname = optarg;
        else if (opt == 'L') lat = malloc((caplat = 1 << 16) * sizeof *lat);
        else return 2;
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: wsclients HOST PORT -c CLIENTS -n EVENTS [-s STALLED] [-t SECONDS]\n");
        return 2;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) rl.rlim_cur = rl.rlim_max, setrlimit(RLIMIT_NOFILE, &rl);
    const char *host = argv[optind], *port = argv[optind + 1];
    int total = nclients + nstalled;
    struct cl *cs = calloc((size_t)total, sizeof *cs);
    struct pollfd *pf = calloc((size_t)total, sizeof *pf);
    static uint8_t buf[1 << 18];
    char req[512];
    int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", host, port);
    for (int i = 0; i < total; i++) {
        cs[i].stalled = i >= nclients;
        cs[i].fd = connect_to(host, port, cs[i].stalled);
        if (cs[i].fd < 0 || write(cs[i].fd, req, (size_t)n) != n) {
            fprintf(stderr, "connect %d: %s\n", i, strerror(errno));
            return 1;
        }
    }
    double t0 = now(), tfirst = 0, end = t0 + timeout;
    uint64_t bytes = 0;
    int left = nclients;
    while (left > 0 && now() < end) {
        int np = 0;
        for (int i = 0; i < total; i++) {
            /* a stalled client reads only its handshake answer */
            int want_read = !cs[i].done && (!cs[i].stalled || !cs[i].open);
            pf[i] = (struct pollfd){.fd = want_read ? cs[i].fd : -1, .events = POLLIN};
            np += want_read;
        }
        if (!np) break;
        if (poll(pf, (nfds_t)total, 200) <= 0) continue;
        for (int i = 0; i < total; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t r = cs[i].stalled ? recv(cs[i].fd, buf, 1, 0) : recv(cs[i].fd, buf, sizeof buf, 0);
            if (r <= 0) {
                if (!cs[i].stalled) cs[i].done = 1, left--;
                else cs[i].done = 1;
                continue;
            }
            if (!tfirst && cs[i].open) tfirst = now();
            bytes += (uint64_t)r;
            int was = cs[i].done;
            feed(&cs[i], buf, (size_t)r, want);
            if (!was && cs[i].done && !cs[i].stalled) left--;
        }
    }
    double t1 = now();
    int ok = 0, stalled_closed = 0, bad = 0;
    for (int i = 0; i < nclients; i++) {
        if (cs[i].events == want && !cs[i].bad) ok++;
        bad += cs[i].bad;
    }
    /* stalled clients: drain what the server left them, find its close frame */
    for (int i = nclients; i < total; i++) {
        double stop = now() + 10;
        struct timeval tv = {1, 0};
        setsockopt(cs[i].fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        cs[i].done = 0;
        while (!cs[i].done && now() < stop) {
            ssize_t r = recv(cs[i].fd, buf, sizeof buf, 0);
            if (r <= 0) break;
            feed(&cs[i], buf, (size_t)r, (uint64_t)-1);
        }
        if (cs[i].close_code == 1008) stalled_closed++;
        else fprintf(stderr, "stalled client %d: close code %d after %llu events\n", i, cs[i].close_code,
                     (unsigned long long)cs[i].events);
    }
    double secs = t1 - (tfirst ? tfirst : t0);
    uint64_t received = 0;
    for (int i = 0; i < nclients; i++) received += cs[i].events;
    printf("clients=%d events_each=%llu complete=%d received=%llu bad=%d stalled_closed_1008=%d/%d seconds=%.3f "
           "events_per_s=%.0f MB_per_s=%.1f\n", nclients, (unsigned long long)want, ok, (unsigned long long)received,
           bad, stalled_closed, nstalled, secs, secs > 0 ? (double)received / secs : 0,
           secs > 0 ? (double)bytes / secs / 1e6 : 0);
    if (caplat && nlat) {
        qsort(lat, nlat, sizeof *lat, cmp64);
        printf("latency_us p50=%.0f p99=%.0f max=%.0f n=%zu\n", (double)lat[nlat / 2] / 1e3,
               (double)lat[nlat * 99 / 100] / 1e3, (double)lat[nlat - 1] / 1e3, nlat);
    }
    free(lat);
    for (int i = 0; i < total; i++) close(cs[i].fd), ecq_ws_reader_free(&cs[i].rd);
    return ok == nclients && stalled_closed == nstalled ? 0 : 1;
}
