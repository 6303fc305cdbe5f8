/* ssl35_client.c - an HTTPS GET through OpenSSL 3.3+'s calls: the request line with
 * SSL_write_ex2 (flags 0), the rest of the request with SSL_write_ex (which OpenSSL
 * 3.3+ implements by calling SSL_write_ex2), the answer with SSL_read_ex; the answer
 * to stdout. Built against OpenSSL 3.5's headers and run on its libraries (the
 * capture test links it with trixie's, unpacked outside the system).
 * usage: ssl35_client HOST PORT PATH [DELAY_MS]
 * DELAY_MS: wait before connecting (a library nobody mapped before is probed some
 * 10-20 ms after the program maps it; see tls_static.c) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#if OPENSSL_VERSION_NUMBER < 0x30300000L
#error "ssl35_client needs OpenSSL 3.3 or later (SSL_write_ex2)"
#endif

int main(int argc, char **argv)
{
    char line[256], rest[256], buf[4096];
    struct sockaddr_in a = {.sin_family = AF_INET};
    size_t done = 0;
    int fd, n1, n2;
    if (argc != 4 && argc != 5) return 2;
    if (argc == 5) usleep((useconds_t)atoi(argv[4]) * 1000);
    a.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) return 2;
    if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) return 1;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    if (!ssl || !SSL_set_fd(ssl, fd) || SSL_connect(ssl) != 1) return 1;
    n1 = snprintf(line, sizeof line, "GET %s HTTP/1.1\r\n", argv[3]);
    n2 = snprintf(rest, sizeof rest, "Host: %s\r\nConnection: close\r\n\r\n", argv[1]);
    if (!SSL_write_ex2(ssl, line, (size_t)n1, 0, &done) || done != (size_t)n1) return 1;
    if (!SSL_write_ex(ssl, rest, (size_t)n2, &done) || done != (size_t)n2) return 1;
    while (SSL_read_ex(ssl, buf, sizeof buf, &done)) fwrite(buf, 1, done, stdout);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return 0;
}
