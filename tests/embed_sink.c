/* embed_sink.c - TLS capture with no stream server at all: events and run-log lines
 * reach the host's own callbacks (struct ecq_capture_opts on_event, on_log). Public API
 * only; built with -DECAPTUREQ_NO_MAIN and the embedded BPF object. Prints "ready 0"
 * once the host's libssl is probed, then one line per event ("event PID PNAME TYPE
 * SRC:PORT > DST:PORT LEN FIRSTLINE") and per log line ("log LINE"); on SIGTERM or
 * SIGINT the counts ("events N bytes B lost L").
 * usage: embed_sink */
#include "../ecaptureq.h"
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct counts {
    unsigned long long events, bytes;
};

static void on_event(void *user, const struct ecq_event *ev)
{
    struct counts *n = user;
    size_t line = 0;
    while (line < ev->payload.len && line < 80 && ev->payload.ptr[line] != '\r' && ev->payload.ptr[line] != '\n')
        line++;
    n->events++, n->bytes += ev->length;
    printf("event %lld %.*s %u %.*s:%u > %.*s:%u %u %.*s\n", (long long)ev->pid, (int)ev->pname.len, ev->pname.ptr,
           ev->type, (int)ev->src_ip.len, ev->src_ip.ptr, ev->src_port, (int)ev->dst_ip.len, ev->dst_ip.ptr,
           ev->dst_port, ev->length, (int)line, ev->payload.ptr);
    fflush(stdout);
}

static void on_log(void *user, const char *line)
{
    (void)user;
    printf("log %s\n", line);
    fflush(stdout);
}

int main(void)
{
    struct ecq_capture_opts co;
    struct ecq_capture *cap;
    struct ecq_capture_stats st;
    struct counts n = {0, 0};
    sigset_t set;
    int rc;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    ecq_capture_opts_init(&co);
    co.on_event = on_event, co.on_log = on_log, co.user = &n;
    if ((rc = ecq_capture_open(&cap, NULL, &co)) < 0) {
        fprintf(stderr, "embed_sink: capture: %s\n", strerror(-rc));
        return 1;
    }
    if ((rc = ecq_capture_attach(cap, "openssl", NULL)) <= 0) {
        fprintf(stderr, "embed_sink: attach: %s\n", strerror(-rc));
        return 1;
    }
    struct pollfd fds[2] = {{.fd = signalfd(-1, &set, SFD_CLOEXEC), .events = POLLIN},
                            {.fd = ecq_capture_fd(cap), .events = POLLIN}};
    printf("ready 0\n");
    fflush(stdout);
    for (;;) {
        int us = ecq_capture_next_us(cap);
        if (poll(fds, 2, (us + 999) / 1000) < 0 || (fds[0].revents & POLLIN)) break;
        if (ecq_capture_step(cap) < 0) break;
    }
    ecq_capture_stats(cap, &st);
    ecq_capture_close(cap); /* the rest reaches on_event before it returns */
    printf("events %llu bytes %llu lost %llu\n", n.events, n.bytes,
           (unsigned long long)(st.lost_records + st.lost_calls + st.dropped));
    close(fds[0].fd);
    return 0;
}
