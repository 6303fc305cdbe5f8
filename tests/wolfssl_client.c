/* wolfssl_client.c - a minimal HTTPS client on wolfSSL (wolfSSL_write/wolfSSL_read), for
 * the capture tests: wolfssl_client IP PORT PATH sends "GET PATH HTTP/1.1" with
 * Connection: close and prints the whole response. The test's server certificate is
 * self-signed: not verified. Exit 0 when a response came. */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    char req[512], buf[4096];
    int fd, n, total = 0;
    if (argc != 4 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
        fprintf(stderr, "usage: wolfssl_client IP PORT PATH\n");
        return 2;
    }
    a.sin_port = htons((unsigned short)atoi(argv[2]));
    if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("connect");
        return 1;
    }
    wolfSSL_Init();
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfTLS_client_method());
    WOLFSSL *ssl = ctx ? wolfSSL_new(ctx) : NULL;
    if (!ssl) return fprintf(stderr, "wolfSSL_new failed\n"), 1;
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
    wolfSSL_set_verify(ssl, WOLFSSL_VERIFY_NONE, NULL);
    wolfSSL_set_fd(ssl, fd);
    n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", argv[3]);
    if (wolfSSL_write(ssl, req, n) != n) return fprintf(stderr, "wolfSSL_write failed\n"), 1;
    while ((n = wolfSSL_read(ssl, buf, sizeof buf)) > 0) {
        fwrite(buf, 1, (size_t)n, stdout);
        total += n;
    }
    wolfSSL_free(ssl);
    wolfSSL_CTX_free(ctx);
    wolfSSL_Cleanup();
    close(fd);
    return total > 0 ? 0 : 1;
}
