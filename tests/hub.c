/* hub.c - the hub's queueing, bounds and close logic, in one process: clients are
 * socketpair()s handed to the server with ecq_server_adopt, so there are no ports and
 * no sleeps but one (for a heartbeat to fall due); every step is an ecq_server_poll
 * with timeout 0. Built with ASan+UBSan by test.sh; one "ok"/"not ok" line per check. */
#include "../ecaptureq.h"
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int failures;

#define CHECK(name, cond)                                                   \
    do {                                                                    \
        if (cond) printf("ok - hub: %s\n", name);                           \
        else printf("not ok - hub: %s (%s:%d)\n", name, __FILE__, __LINE__), failures++; \
    } while (0)

static const char request[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/* what one test client has seen */
struct peer {
    int fd;
    char head[1024];
    size_t head_len;
    int upgraded;                   /* the 101 head was complete */
    struct ecq_ws_reader rd;
    int events, logs, beats, bad;
    long last_pid;                  /* events carry pid = 1, 2, 3 ... in order */
    int in_order;
    int close_code, pongs, eof;
    char pong[126];
    struct {                        /* the first heartbeats: count, text, events read before */
        long count;
        int events;
        char text[256];
    } beat[8];
};

static struct peer *peer_new(struct ecq_server *s, int rcvbuf)
{
    int sv[2];
    struct peer *p = calloc(1, sizeof *p);
    if (!p || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) abort();
    if (rcvbuf) {
        setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof rcvbuf);
    }
    p->fd = sv[0];
    p->in_order = 1;
    p->close_code = -1;
    p->rd.max_message = 1 << 24;
    p->rd.keep_data = 1;
    if (ecq_server_adopt(s, sv[1], "test peer") < 0) abort();
    if (write(p->fd, request, sizeof request - 1) != (ssize_t)(sizeof request - 1)) abort();
    return p;
}

/* a masked client frame */
static void peer_send(struct peer *p, int op, const void *data, size_t n, int masked)
{
    uint8_t f[256] = {(uint8_t)(0x80 | op), (uint8_t)((masked ? 0x80 : 0) | n)};
    uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    size_t h = 2;
    if (masked) memcpy(f + 2, mask, 4), h = 6;
    for (size_t i = 0; i < n; i++) f[h + i] = ((const uint8_t *)data)[i] ^ (masked ? mask[i % 4] : 0);
    if (write(p->fd, f, h + n) != (ssize_t)(h + n)) abort();
}

/* reads everything the server has written so far */
static void peer_read(struct peer *p)
{
    uint8_t buf[65536];
    ssize_t n;
    while ((n = recv(p->fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
        size_t off = 0, used;
        while (!p->upgraded && off < (size_t)n) {
            p->head[p->head_len++] = (char)buf[off++];
            if (p->head_len >= 4 && !memcmp(p->head + p->head_len - 4, "\r\n\r\n", 4)) p->upgraded = 1;
            if (p->head_len == sizeof p->head - 1) return;
        }
        while (off < (size_t)n) {
            int r = ecq_ws_read(&p->rd, buf + off, (size_t)n - off, &used);
            off += used;
            if (r < 0) {
                p->bad++;
                break;
            }
            if (r == ECQ_WS_MESSAGE) {
                struct ecq_entry e;
                size_t eo;
                const char *why;
                if (ecq_pb_decode_entry(p->rd.data, p->rd.data_len, &e, &eo, &why) < 0) p->bad++;
                else if (e.payload_case == ECQ_PAYLOAD_EVENT) {
                    p->events++;
                    if (e.event.pid != p->last_pid + 1) p->in_order = 0;
                    p->last_pid = e.event.pid;
                } else if (e.payload_case == ECQ_PAYLOAD_RUN_LOG) p->logs++;
                else if (e.payload_case == ECQ_PAYLOAD_HEARTBEAT && p->beats < 8) {
                    int len = (int)(e.heartbeat.message.len < 255 ? e.heartbeat.message.len : 255);
                    p->beat[p->beats].count = (long)e.heartbeat.count;
                    p->beat[p->beats].events = p->events;
                    snprintf(p->beat[p->beats++].text, 256, "%.*s", len, e.heartbeat.message.ptr);
                } else if (e.payload_case == ECQ_PAYLOAD_HEARTBEAT) p->beats++;
            } else if (r == ECQ_WS_CLOSE) {
                p->close_code = p->rd.ctl_len >= 2 ? p->rd.ctl[0] << 8 | p->rd.ctl[1] : 0;
            } else if (r == ECQ_WS_PONG) {
                p->pongs++;
                memcpy(p->pong, p->rd.ctl, p->rd.ctl_len);
                p->pong[p->rd.ctl_len] = 0;
            }
        }
    }
    if (n == 0) p->eof = 1;
}

/* lets the server run until nothing changes for a few rounds */
static void pump(struct ecq_server *s, struct peer **ps, int n)
{
    for (int i = 0; i < 200; i++) {
        if (ecq_server_poll(s, NULL, 0, 0) < 0) abort();
        for (int k = 0; k < n; k++) peer_read(ps[k]);
    }
}

static void peer_free(struct peer *p)
{
    ecq_ws_reader_free(&p->rd);
    close(p->fd);
    free(p);
}

static struct ecq_event event(long i, const char *payload, size_t n)
{
    struct ecq_event ev = {.timestamp = 1, .pid = i, .payload = {payload, n}, .length = (uint32_t)n};
    ev.uuid = (struct ecq_bytes){"u", 1};
    return ev;
}

/* Issue 20, item 7: a consumer far behind the stream reads a heartbeat whose counts
 * are true when it reaches its socket, not when it fell due, and that says how much
 * older traffic follows. A second server (heartbeat every second) queues 30 MB for a
 * client that reads nothing; a heartbeat falls due; then the capture side reports
 * 88,394 lost, and only then does the client read. */
static void lagging_consumer(void)
{
    struct ecq_config cfg;
    struct ecq_server *s;
    static char big[60000];
    memset(big, 'y', sizeof big);
    ecq_config_init(&cfg);
    cfg.url = "ws://127.0.0.1:0/";
    cfg.client_buffer = 64 << 20;
    cfg.heartbeat_sec = 1;
    if (ecq_server_open(&s, &cfg) < 0) abort();
    struct peer *p = peer_new(s, 65536);
    pump(s, &p, 1);
    int before = p->events;
    for (long i = 1; i <= 500; i++) {
        struct ecq_event ev = event(before + i, big, sizeof big);
        ecq_server_event(s, &ev);
        if (ecq_server_poll(s, NULL, 0, 0) < 0) abort(); /* p reads nothing */
    }
    struct timespec due = {1, 100 * 1000000};
    nanosleep(&due, NULL);
    for (int i = 0; i < 5; i++) ecq_server_poll(s, NULL, 0, 0); /* heartbeat 1 falls due */
    ecq_server_set_lost(s, 88394);
    pump(s, &p, 1);
    for (int i = 0; i < 5000 && p->events < before + 500 && !p->bad; i++) pump(s, &p, 1);
    const char *t = p->beats >= 2 ? p->beat[1].text : "";
    const char *bl = strstr(t, " backlog=");
    CHECK("a consumer 30 MB behind: heartbeat 0 on connect, then heartbeat 1", p->beats >= 2 &&
          p->beat[0].count == 0 && p->beat[1].count == 1 && p->events == before + 500 && p->in_order && !p->bad);
    CHECK("... heartbeat 1 reads lost=88394, set after it fell due, before the client read", strstr(t, " lost=88394") != NULL);
    CHECK("... it came ahead of the backlog (at most 10 of 500 queued events before it)",
          p->beats >= 2 && p->beat[1].events - before <= 10);
    CHECK("... and says how many bytes of older traffic follow it (over 20 MB)", bl && strtoull(bl + 9, NULL, 10) > 20000000);
    if (p->beats >= 2) printf("# heartbeat 1 after %d of 500 queued events: %s\n", p->beat[1].events - before, t);
    peer_free(p);
    ecq_server_close(s, 0);
}

int main(void)
{
    struct ecq_config cfg;
    struct ecq_server *s;
    struct ecq_stats st;
    static char big[60000];
    memset(big, 'x', sizeof big);
    ecq_config_init(&cfg);
    cfg.url = "ws://127.0.0.1:0/";
    cfg.client_buffer = 1 << 20;
    cfg.log_sink = NULL;
    if (ecq_server_open(&s, &cfg) < 0) {
        printf("not ok - hub: server opens\n");
        return 1;
    }
    ecq_server_log(s, "first line");

    /* a client: 101 first, then the replay, heartbeat 0, then events in order */
    struct peer *a = peer_new(s, 0), *b;
    pump(s, &a, 1);
    CHECK("a valid upgrade gets a complete 101 first", a->upgraded && !strncmp(a->head, "HTTP/1.1 101 ", 13) &&
                                                            strstr(a->head, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    CHECK("the replayed run log and heartbeat 0 follow", a->logs >= 1 && a->beats == 1 && a->bad == 0);
    for (long i = 1; i <= 1000; i++) {
        struct ecq_event ev = event(i, "hello", 5);
        ecq_server_event(s, &ev);
    }
    pump(s, &a, 1);
    CHECK("1000 events arrive whole and in order", a->events == 1000 && a->in_order && a->bad == 0);

    /* ping -> pong with the same payload */
    peer_send(a, 9, "are you there", 13, 1);
    pump(s, &a, 1);
    CHECK("a ping gets a pong with its payload", a->pongs == 1 && !strcmp(a->pong, "are you there"));

    /* a reader next to a client that never reads: the stalled one is closed (1008) at
     * its bound, the reader gets everything, and capture never waits */
    b = peer_new(s, 4096);
    struct peer *both[2] = {a, b};
    pump(s, both, 2);
    int base = a->events;
    for (long i = 1; i <= 200; i++) {
        struct ecq_event ev = event(base + i, big, sizeof big);
        ecq_server_event(s, &ev);
        if (ecq_server_poll(s, NULL, 0, 0) < 0) abort();
        peer_read(a); /* b reads nothing */
    }
    pump(s, &a, 1);
    ecq_server_stats(s, &st);
    CHECK("a stalled client is dropped at its bound while the other gets all 200 events",
          st.clients_dropped == 1 && a->events == base + 200 && a->in_order);
    CHECK("the stalled client's queue never exceeded its bound", ecq_server_backlog(s) <= cfg.client_buffer);
    pump(s, &b, 1);
    CHECK("... and, read later, it holds the 101, then frames, then close 1008", b->upgraded && b->close_code == 1008);
    peer_free(b);

    /* protocol errors: an unmasked frame from a client is closed with 1002 */
    b = peer_new(s, 0);
    pump(s, &b, 1);
    peer_send(b, 9, "x", 1, 0);
    pump(s, &b, 1);
    CHECK("an unmasked client frame is answered with close 1002", b->close_code == 1002 && b->eof);
    peer_free(b);

    /* a control frame sent in the same write as the upgrade request */
    b = calloc(1, sizeof *b);
    {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) abort();
        b->fd = sv[0], b->close_code = -1, b->rd.keep_data = 1, b->rd.max_message = 1 << 24, b->last_pid = 0;
        ecq_server_adopt(s, sv[1], NULL);
        uint8_t msg[sizeof request + 16];
        memcpy(msg, request, sizeof request - 1);
        uint8_t ping[] = {0x89, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
        memcpy(msg + sizeof request - 1, ping, sizeof ping);
        if (write(b->fd, msg, sizeof request - 1 + sizeof ping) < 0) abort();
    }
    pump(s, &b, 1);
    CHECK("a ping right behind the upgrade request is answered", b->upgraded && b->pongs == 1 && !strcmp(b->pong, "hi"));
    /* the client closes: the server answers with the same code and shuts down */
    peer_send(b, 8, "\x03\xe8", 2, 1);
    pump(s, &b, 1);
    CHECK("a client's close 1000 is echoed, then EOF", b->close_code == 1000 && b->eof);
    peer_free(b);

    /* a half-sent request head that never completes is not a client */
    ecq_server_stats(s, &st);
    int open_before = st.clients;
    b = calloc(1, sizeof *b);
    {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) abort();
        b->fd = sv[0], b->close_code = -1;
        ecq_server_adopt(s, sv[1], NULL);
        if (write(b->fd, "GET / HTTP/1.1\r\n", 16) < 0) abort();
    }
    pump(s, &b, 1);
    ecq_server_stats(s, &st);
    CHECK("an unfinished handshake does not count as an open client", st.clients == open_before && !b->upgraded);
    peer_free(b);

    lagging_consumer();

    /* shutting down: the remaining client gets close 1001 */
    ecq_server_close(s, 200);
    peer_read(a);
    CHECK("ecq_server_close sends close 1001", a->close_code == 1001);
    peer_free(a);

    /* stderr on a pipe nobody reads: logging never blocks, and once the pipe is read
     * again the lines it missed are counted there */
    int pp[2], saved = dup(STDERR_FILENO);
    if (pipe(pp) < 0 || saved < 0) abort();
    dup2(pp[1], STDERR_FILENO);
    close(pp[1]);
    if (ecq_server_open(&s, &cfg) < 0) abort();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 5000; i++) ecq_server_log(s, "line %d of a log nobody reads, padded to some length", i);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    CHECK("5000 run-log lines into a stuck stderr pipe return without blocking", ms < 2000);
    static char drained[1 << 20];
    size_t got = 0;
    fcntl(pp[0], F_SETFL, O_NONBLOCK);
    for (int round = 0; round < 50; round++) { /* read the pipe while the server flushes what it kept */
        ssize_t r;
        while ((r = read(pp[0], drained + got, sizeof drained - 1 - got)) > 0) got += (size_t)r;
        ecq_server_poll(s, NULL, 0, 10);
    }
    drained[got] = 0;
    CHECK("... and once it is read, the dropped lines are counted there",
          strstr(drained, "run-log line(s) dropped: stderr was not being read") != NULL);
    ecq_server_close(s, 0);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(pp[0]);
    return failures != 0;
}
