/* big_write.c - one TLS call of more than 2 GiB: SSL_write_ex of 2 GiB + 5 bytes from a
 * client whose handshake with an in-process server ran over memory BIOs, and whose
 * ciphertext then goes to a null BIO (no peer has to read 2 GiB). Prints "wrote N".
 * usage: big_write CERT KEY */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>

/* moves what one side wrote to the other side's input */
static void pump(BIO *from, BIO *to)
{
    char buf[16384];
    int n;
    while ((n = BIO_read(from, buf, sizeof buf)) > 0) BIO_write(to, buf, n);
}

int main(int argc, char **argv)
{
    if (argc != 3) return fprintf(stderr, "usage: big_write CERT KEY\n"), 2;
    SSL_CTX *sc = SSL_CTX_new(TLS_server_method()), *cc = SSL_CTX_new(TLS_client_method());
    if (SSL_CTX_use_certificate_chain_file(sc, argv[1]) != 1 || SSL_CTX_use_PrivateKey_file(sc, argv[2], SSL_FILETYPE_PEM) != 1)
        return ERR_print_errors_fp(stderr), 1;
    SSL *c = SSL_new(cc), *s = SSL_new(sc);
    BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem()), *s_in = BIO_new(BIO_s_mem()),
        *s_out = BIO_new(BIO_s_mem());
    SSL_set_bio(c, c_in, c_out);
    SSL_set_bio(s, s_in, s_out);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    for (int i = 0; i < 20 && !(SSL_is_init_finished(c) && SSL_is_init_finished(s)); i++) {
        SSL_do_handshake(c);
        pump(c_out, s_in);
        SSL_do_handshake(s);
        pump(s_out, c_in);
    }
    if (!SSL_is_init_finished(c)) return fprintf(stderr, "big_write: no handshake\n"), 1;
    BIO_up_ref(c_in);
    SSL_set_bio(c, c_in, BIO_new(BIO_s_null()));
    size_t len = (1ul << 31) + 5, written = 0;
    char *buf = calloc(1, len); /* untouched pages: the zero page, no memory */
    if (!buf || SSL_write_ex(c, buf, len, &written) != 1) return ERR_print_errors_fp(stderr), 1;
    printf("wrote %zu\n", written);
    return 0;
}
