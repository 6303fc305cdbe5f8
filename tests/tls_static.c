/* tls_static.c - an HTTPS GET over OpenSSL linked into the executable itself (the test
 * links libssl.a and libcrypto.a), so no libssl.so is ever mapped: capture must find
 * SSL_write/SSL_read in this file. usage: tls_static HOST PORT PATH [DELAY_MS]
 * DELAY_MS: wait before connecting (a program that starts and talks within the agent's
 * reaction time, some 10-20 ms, is probed only after its first calls). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char req[256], buf[4096];
    struct sockaddr_in a = {.sin_family = AF_INET};
    int fd, n;
    if (argc != 4 && argc != 5) return 2;
    if (argc == 5) usleep((useconds_t)atoi(argv[4]) * 1000);
    a.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) return 2;
    if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) return 1;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    if (!ssl || !SSL_set_fd(ssl, fd) || SSL_connect(ssl) != 1) return 1;
    n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", argv[3], argv[1]);
    if (SSL_write(ssl, req, n) != n) return 1;
    while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) fwrite(buf, 1, (size_t)n, stdout);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return 0;
}
