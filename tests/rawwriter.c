/* rawwriter.c - the least a WebSocket server could do, as the limit `make bench`
 * measures ecaptureq against.
 *
 *   rawwriter HOST PORT -c CLIENTS
 *
 * First it records a stream: it connects to the server at HOST:PORT (an `ecaptureq gen
 * --events N` run), completes the handshake and keeps every byte that follows until
 * the server closes: N events already encoded and framed, exactly as gen frames them.
 * Then it listens on 127.0.0.1 (a port the kernel picks, printed as "ready PORT"),
 * answers CLIENTS handshakes and writes the recorded bytes to each client in 1 MiB
 * non-blocking writes, with nothing per event: no encoding, no framing, no queue. The
 * same C readers (wsclients) that measure gen then measure this. */
#define _GNU_SOURCE
#include "../ecaptureq.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int die(const char *what)
{
    fprintf(stderr, "rawwriter: %s: %s\n", what, strerror(errno));
    return 1;
}

/* reads a request or response head (up to the empty line) a byte at a time */
static size_t read_head(int fd, char *head, size_t cap)
{
    size_t n = 0, hl = 0;
    while (n < cap && !hl) {
        if (read(fd, head + n, 1) != 1) return 0;
        hl = ecq_http_head_length(head, ++n);
    }
    return hl;
}

int main(int argc, char **argv)
{
    int nclients = 1, opt, one = 1;
    while ((opt = getopt(argc, argv, "c:")) != -1) {
        if (opt == 'c') nclients = atoi(optarg);
        else return 2;
    }
    if (argc - optind != 2 || nclients < 1) {
        fprintf(stderr, "usage: rawwriter HOST PORT -c CLIENTS\n");
        return 2;
    }
    /* 1. record */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[optind + 1]))};
    char head[4096], acc[29];
    inet_pton(AF_INET, argv[optind], &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) return die("connect");
    int n = snprintf(head, sizeof head, "GET / HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     argv[optind], argv[optind + 1]);
    if (write(fd, head, (size_t)n) != n || !read_head(fd, head, sizeof head)) return die("handshake");
    size_t cap = 1 << 24, len = 0;
    uint8_t *rec = malloc(cap);
    for (;;) {
        if (len == cap && !(rec = realloc(rec, cap *= 2))) return die("realloc");
        ssize_t r = read(fd, rec + len, cap - len);
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(fd);
    if (!rec || !len) return die("nothing recorded");

    /* 2. serve it */
    struct sockaddr_in l = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof l;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&l, sizeof l) < 0 || listen(lfd, 1024) < 0 ||
        getsockname(lfd, (struct sockaddr *)&l, &sl) < 0)
        return die("listen");
    printf("ready %d %zu\n", ntohs(l.sin_port), len);
    fflush(stdout);
    int *cfd = calloc((size_t)nclients, sizeof *cfd);
    size_t *off = calloc((size_t)nclients, sizeof *off);
    struct pollfd *pf = calloc((size_t)nclients, sizeof *pf);
    for (int i = 0; i < nclients; i++) {
        size_t hl;
        if ((cfd[i] = accept(lfd, NULL, NULL)) < 0) return die("accept");
        if (!(hl = read_head(cfd[i], head, sizeof head)) || ecq_http_check_upgrade(head, hl, NULL, acc) != 101)
            return die("client handshake");
        n = snprintf(head, sizeof head, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acc);
        if (write(cfd[i], head, (size_t)n) != n) return die("101");
        setsockopt(cfd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    for (int left = nclients; left > 0;) {
        for (int i = 0; i < nclients; i++) pf[i] = (struct pollfd){.fd = off[i] < len ? cfd[i] : -1, .events = POLLOUT};
        if (poll(pf, (nfds_t)nclients, 1000) < 0 && errno != EINTR) return die("poll");
        for (int i = 0; i < nclients; i++) {
            if (!(pf[i].revents & (POLLOUT | POLLERR | POLLHUP))) continue;
            size_t chunk = len - off[i] < (1u << 20) ? len - off[i] : (1u << 20);
            ssize_t w = send(cfd[i], rec + off[i], chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EINTR) off[i] = len; /* the reader left */
            if (w > 0) off[i] += (size_t)w;
            if (off[i] == len) left--, shutdown(cfd[i], SHUT_WR);
        }
    }
    for (int i = 0; i < nclients; i++) close(cfd[i]);
    free(rec), free(cfd), free(off), free(pf);
    return 0;
}
