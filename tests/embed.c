/* embed.c - a host program with its own poll() loop: it reads lines on stdin and
 * streams each as an event, with run-log lines of its own, the stream server's
 * descriptors added to its poll set (ecq_server_fds / ecq_server_service). Built with
 * -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN (libc only); with -DECQ_VIEWER='"web/viewer.html"'
 * too, a browser opening its URL gets the viewer. Prints "ready PORT"; stdin's end
 * closes the server cleanly and exits 0. */
#include "../ecaptureq.h"
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
    struct ecq_config cfg;
    struct ecq_server *srv;
    struct pollfd *fds = NULL;
    int cap = 0, seq = 0;
    char line[4096];
    size_t have = 0;
    ecq_config_init(&cfg);
    cfg.url = "ws://127.0.0.1:0/";
    cfg.page = ecq_viewer_page(&cfg.page_len); /* NULL unless built with -DECQ_VIEWER */
    if (ecq_server_open(&srv, &cfg) < 0) return 1;
    printf("ready %s\n", strrchr(ecq_server_url(srv), ':') + 1);
    fflush(stdout);
    ecq_server_log(srv, "embed: streaming stdin, one event per line");
    for (;;) {
        int timeout = -1, n;
        /* the host's own descriptor first, then the server's */
        while ((n = ecq_server_fds(srv, cap > 1 ? fds + 1 : NULL, cap > 1 ? cap - 1 : 0, &timeout)) > cap - 1) {
            struct pollfd *p = realloc(fds, (size_t)(n + 1) * sizeof *p);
            if (!p) return 1;
            fds = p, cap = n + 1;
            timeout = -1;
        }
        fds[0] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
        if (poll(fds, (nfds_t)(n + 1), timeout) < 0) continue;
        ecq_server_service(srv, fds + 1, n);
        if (!(fds[0].revents & (POLLIN | POLLHUP))) continue;
        ssize_t r = read(STDIN_FILENO, line + have, sizeof line - 1 - have);
        if (r <= 0) break;
        have += (size_t)r;
        char *nl;
        while ((nl = memchr(line, '\n', have))) {
            size_t len = (size_t)(nl - line);
            char uuid[32];
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            snprintf(uuid, sizeof uuid, "embed_%d", seq);
            struct ecq_event ev = {.timestamp = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, .pid = getpid(),
                                   .src_port = 1, .dst_port = 2, .length = (uint32_t)len};
            ev.uuid = (struct ecq_bytes){uuid, strlen(uuid)};
            ev.pname = (struct ecq_bytes){"embed", 5};
            ev.src_ip = ev.dst_ip = (struct ecq_bytes){"127.0.0.1", 9};
            ev.payload = (struct ecq_bytes){line, len};
            ev.type = ecq_classify(line, len);
            if (ecq_server_event(srv, &ev) < 0) return 1;
            ecq_server_log(srv, "embed: line %d, %zu bytes", seq++, len);
            memmove(line, nl + 1, have - len - 1);
            have -= len + 1;
        }
        if (have == sizeof line - 1) have = 0; /* a line too long for this demo: dropped */
    }
    ecq_server_log(srv, "embed: stdin ended after %d lines", seq);
    ecq_server_close(srv, 2000);
    free(fds);
    return 0;
}
