/* sslbench.c - OpenSSL SSL_write loops over loopback TLS, for `make bench`.
 *
 *   sslbench -c CERT -k KEY [-n WRITES] [-s SIZE] [-r RATE] [-w WRITERS]
 *
 * Starts a reader process (comm "sslbench-r": accepts WRITERS connections, SSL_read
 * until EOF) and WRITERS writer processes (comm "sslbench-w"), each making WRITES calls
 * SSL_write(SIZE bytes) on its own connection, as fast as it can or, with -r, RATE calls
 * per second in all (evenly spaced, on an absolute schedule). Linked against the host's
 * shared libssl, so whatever probes that library probes these calls. Prints one line per
 * writer: "writer N: WRITES writes of SIZE bytes in S s: X us per write, Y writes/s",
 * then "total: Y writes/s". Exit 0 when every write succeeded. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void fail(const char *what)
{
    fprintf(stderr, "sslbench: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static void reader(int lfd, SSL_CTX *ctx, int writers)
{
    prctl(PR_SET_NAME, "sslbench-r");
    for (int i = 0; i < writers; i++) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) fail("accept");
        if (fork() == 0) {
            static char buf[1 << 16];
            SSL *ssl = SSL_new(ctx);
            SSL_set_fd(ssl, fd);
            if (SSL_accept(ssl) != 1) fail("SSL_accept");
            while (SSL_read(ssl, buf, sizeof buf) > 0) {}
            SSL_free(ssl);
            _exit(0);
        }
        close(fd);
    }
    while (wait(NULL) > 0) {}
    _exit(0);
}

int main(int argc, char **argv)
{
    const char *cert = NULL, *key = NULL;
    long writes = 100000, size = 1024, writers = 1;
    double rate = 0;
    int opt, one = 1;
    while ((opt = getopt(argc, argv, "c:k:n:s:r:w:")) != -1) {
        if (opt == 'c') cert = optarg;
        else if (opt == 'k') key = optarg;
        else if (opt == 'n') writes = atol(optarg);
        else if (opt == 's') size = atol(optarg);
        else if (opt == 'r') rate = atof(optarg);
        else if (opt == 'w') writers = atol(optarg);
        else return 2;
    }
    if (!cert || !key || writes < 1 || size < 1 || size > (1 << 20) || writers < 1 || writers > 64) {
        fprintf(stderr, "usage: sslbench -c CERT -k KEY [-n WRITES] [-s SIZE 1..1048576] [-r RATE] [-w WRITERS 1..64]\n");
        return 2;
    }
    SSL_CTX *sctx = SSL_CTX_new(TLS_server_method()), *cctx = SSL_CTX_new(TLS_client_method());
    if (!sctx || !cctx || SSL_CTX_use_certificate_chain_file(sctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(sctx, key, SSL_FILETYPE_PEM) != 1)
        fail("certificate");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 64) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) < 0)
        fail("listen");
    pid_t rd = fork();
    if (rd == 0) reader(lfd, sctx, (int)writers);
    close(lfd);
    int pipes[64][2];
    for (long w = 0; w < writers; w++) {
        if (pipe(pipes[w]) < 0) fail("pipe");
        if (fork() == 0) {
            prctl(PR_SET_NAME, "sslbench-w");
            char *buf = malloc((size_t)size);
            memset(buf, 'w', (size_t)size);
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) fail("connect");
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            SSL *ssl = SSL_new(cctx);
            SSL_set_fd(ssl, fd);
            if (SSL_connect(ssl) != 1) fail("SSL_connect");
            double period = rate > 0 ? (double)writers / rate : 0, t0 = now();
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            for (long i = 0; i < writes; i++) {
                if (period > 0) { /* on an absolute schedule: late calls do not push the next ones */
                    double due = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + (double)i * period;
                    struct timespec d = {(time_t)due, (long)((due - (double)(time_t)due) * 1e9)};
                    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL);
                }
                if (SSL_write(ssl, buf, (int)size) != size) fail("SSL_write");
            }
            double secs = now() - t0;
            SSL_shutdown(ssl);
            SSL_free(ssl);
            close(fd);
            char line[200];
            int n = snprintf(line, sizeof line, "writer %ld: %ld writes of %ld bytes in %.3f s: %.2f us per write, %.0f writes/s\n",
                             w, writes, size, secs, secs * 1e6 / (double)writes, (double)writes / secs);
            if (write(pipes[w][1], line, (size_t)n) != n) _exit(1);
            _exit(0);
        }
        close(pipes[w][1]);
    }
    double total = 0;
    int ok = 1;
    for (long w = 0; w < writers; w++) {
        char line[200] = "";
        ssize_t n = read(pipes[w][0], line, sizeof line - 1);
        if (n <= 0) ok = 0;
        else line[n] = 0, fputs(line, stdout);
        char *p = strstr(line, "us per write, ");
        if (p) total += atof(p + 14);
    }
    for (int st; wait(&st) > 0;)
        if (!WIFEXITED(st) || WEXITSTATUS(st)) ok = 0;
    printf("total: %.0f writes/s\n", total);
    return ok ? 0 : 1;
}
