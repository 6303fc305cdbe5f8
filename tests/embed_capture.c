/* embed_capture.c - TLS capture and the stream server inside a host program's own
 * poll() loop, through the public API only: built with -DECAPTUREQ_NO_MAIN and the
 * embedded BPF object, linked with -lbpf -lelf -lz. Listens on any free port (printed
 * as "ready PORT" once the probes are attached) and runs until SIGTERM or SIGINT.
 * usage: embed_capture */
#include "../ecaptureq.h"
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

int main(void)
{
    struct ecq_config cfg;
    struct ecq_server *srv;
    struct ecq_capture_opts co;
    struct ecq_capture *cap;
    struct ecq_capture_stats cs;
    sigset_t set;
    int rc;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    ecq_config_init(&cfg);
    cfg.url = "ws://127.0.0.1:0/";
    if ((rc = ecq_server_open(&srv, &cfg)) < 0) {
        fprintf(stderr, "embed_capture: server: %s\n", strerror(-rc));
        return 1;
    }
    ecq_capture_opts_init(&co);
    if ((rc = ecq_capture_open(&cap, srv, &co)) < 0) {
        fprintf(stderr, "embed_capture: capture: %s\n", strerror(-rc));
        return 1;
    }
    if ((rc = ecq_capture_attach(cap, "openssl", NULL)) <= 0) {
        fprintf(stderr, "embed_capture: attach: %s\n", strerror(-rc));
        return 1;
    }
    struct pollfd fds[2] = {{.fd = signalfd(-1, &set, SFD_CLOEXEC), .events = POLLIN},
                            {.fd = ecq_capture_fd(cap), .events = POLLIN}};
    ecq_server_log(srv, "embed_capture: %d probes", rc);
    printf("ready %s\n", strrchr(ecq_server_url(srv), ':') + 1);
    fflush(stdout);
    for (;;) {
        int n = ecq_server_poll(srv, fds, 2, ECQ_CAPTURE_DRAIN_MS);
        if (n < 0 || (fds[0].revents & POLLIN)) break;
        if (ecq_capture_step(cap) < 0) break;
    }
    ecq_capture_stats(cap, &cs);
    ecq_server_log(srv, "embed_capture: %llu records, %llu lost", (unsigned long long)cs.records,
                   (unsigned long long)(cs.lost_records + cs.lost_calls + cs.dropped));
    ecq_capture_close(cap);
    ecq_server_close(srv, 1000);
    close(fds[0].fd);
    return 0;
}
