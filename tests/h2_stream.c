/* h2_stream.c - a stream server (the library alone) that sends HTTP/2 conversations as
 * capture sends them, one event per TLS call, for watch's decoding (issue 21):
 *   h2_a  curl-like: preface, SETTINGS and HEADERS in one write; the server's frame
 *         header read alone (9 bytes, as Go reads), then its payload; DATA
 *   h2_b  gRPC: a request message split over two DATA frames, the reply, trailers
 *   h2_c  attached mid-connection: the server's HEADERS refer to a table entry made
 *         before (unknown), then a literal (decoded)
 *   h1_d  HTTP/1.1 pipelined requests, a chunked response, a gzip one
 * Prints "ready PORT", waits for K clients (argument, default 1), sends, closes. Built
 * with -DECQ_VIEWER it serves the viewer page too (./test.sh viewer). */
#include "../ecaptureq.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static struct ecq_server *srv;
static int64_t ts = 1700000000000000000;

static size_t frame(uint8_t *out, int type, int flags, uint32_t stream, const void *payload, size_t len)
{
    out[0] = (uint8_t)(len >> 16), out[1] = (uint8_t)(len >> 8), out[2] = (uint8_t)len;
    out[3] = (uint8_t)type, out[4] = (uint8_t)flags;
    out[5] = (uint8_t)(stream >> 24), out[6] = (uint8_t)(stream >> 16), out[7] = (uint8_t)(stream >> 8), out[8] = (uint8_t)stream;
    if (len) memcpy(out + 9, payload, len);
    return 9 + len;
}

/* one event: from the client (port 50000 -> 443) or the server; typed as capture types it */
static void send_event(const char *uuid, int from_client, const uint8_t *p, size_t n, uint32_t type)
{
    struct ecq_event ev = {.timestamp = ts++, .pid = 4242, .type = type, .length = (uint32_t)n};
    ev.src_port = from_client ? 50000 : 443, ev.dst_port = from_client ? 443 : 50000;
    ev.uuid = (struct ecq_bytes){uuid, strlen(uuid)};
    ev.src_ip = (struct ecq_bytes){"192.0.2.1", 9}, ev.dst_ip = (struct ecq_bytes){"192.0.2.1", 9};
    ev.pname = (struct ecq_bytes){"h2test", 6};
    ev.payload = (struct ecq_bytes){(const char *)p, n};
    if (ecq_server_event(srv, &ev) < 0) exit(1);
}

static void conversation_a(void)
{
    static const uint8_t block[] = {0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff};
    static const uint8_t settings[] = {0, 1, 0, 0, 0x10, 0, 0, 3, 0, 0, 0, 100};
    static const uint8_t resp[] = {0x88, 0x5f, 0x0a, 't', 'e', 'x', 't', '/', 'p', 'l', 'a', 'i', 'n'};
    uint8_t b[256];
    size_t n = 24;
    memcpy(b, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    n += frame(b + n, 4, 0, 0, settings, sizeof settings);
    n += frame(b + n, 1, 5, 1, block, sizeof block);
    send_event("h2_a", 1, b, n, ECQ_TYPE_HTTP2_REQUEST);
    n = frame(b, 4, 0, 0, NULL, 0);
    n += frame(b + n, 4, 1, 0, NULL, 0);
    send_event("h2_a", 0, b, n, ECQ_TYPE_HTTP2_RESPONSE);
    frame(b, 1, 4, 1, resp, sizeof resp);
    send_event("h2_a", 0, b, 9, ECQ_TYPE_HTTP2_RESPONSE);
    send_event("h2_a", 0, b + 9, sizeof resp, ECQ_TYPE_UNKNOWN);
    n = frame(b, 0, 1, 1, "hello from h2\n", 14);
    send_event("h2_a", 0, b, n, ECQ_TYPE_HTTP2_RESPONSE);
}

static void conversation_b(void)
{
    static const uint8_t msg[] = {0, 0, 0, 0, 14, 0x0a, 5, 'h', 'e', 'l', 'l', 'o', 0x10, 0x96, 0x01, 0x1a, 2, 0x08, 7};
    uint8_t b[512], h[64];
    size_t n = 24, k = 0;
    memcpy(b, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    h[k++] = 0x83, h[k++] = 0x04, h[k++] = 14, memcpy(h + k, "/echo.Echo/Say", 14), k += 14;
    h[k++] = 0x0f, h[k++] = 0x10, h[k++] = 16, memcpy(h + k, "application/grpc", 16), k += 16;
    n += frame(b + n, 1, 4, 1, h, k);
    n += frame(b + n, 0, 0, 1, msg, 8);
    n += frame(b + n, 0, 1, 1, msg + 8, sizeof msg - 8);
    send_event("h2_b", 1, b, n, ECQ_TYPE_HTTP2_REQUEST);
    k = 0;
    h[k++] = 0x88, h[k++] = 0x0f, h[k++] = 0x10, h[k++] = 16, memcpy(h + k, "application/grpc", 16), k += 16;
    n = frame(b, 1, 4, 1, h, k);
    n += frame(b + n, 0, 0, 1, msg, sizeof msg);
    k = 0;
    h[k++] = 0x40, h[k++] = 11, memcpy(h + k, "grpc-status", 11), k += 11, h[k++] = 1, h[k++] = '0';
    n += frame(b + n, 1, 5, 1, h, k);
    send_event("h2_b", 0, b, n, ECQ_TYPE_HTTP2_RESPONSE);
}

static void conversation_c(void)
{
    uint8_t b[64], h[32];
    size_t k = 0;
    h[k++] = 0x88, h[k++] = 0xbe, h[k++] = 0x00, h[k++] = 7, memcpy(h + k, "x-after", 7), k += 7, h[k++] = 6;
    memcpy(h + k, "attach", 6), k += 6;
    size_t n = frame(b, 1, 4, 3, h, k);
    send_event("h2_c", 0, b, n, ECQ_TYPE_HTTP2_RESPONSE);
}

/* HTTP/1.1: two requests pipelined in one write; a chunked response in pieces, then a
 * gzip one (Content-Length) */
static void conversation_d(void)
{
    static const char reqs[] = "GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\n\r\n";
    static const char r1[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst \r\n";
    static const char r1b[] = "5\r\nreply\r\n0\r\n\r\n";
    uint8_t z[256], msg[512];
    char text[] = "second reply, gzip-compressed on the wire, inflated by watch";
    z_stream s = {0};
    deflateInit2(&s, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    s.next_in = (Bytef *)text, s.avail_in = (uInt)strlen(text), s.next_out = z, s.avail_out = sizeof z;
    deflate(&s, Z_FINISH);
    size_t zn = sizeof z - s.avail_out;
    deflateEnd(&s);
    int hn = snprintf((char *)msg, sizeof msg, "HTTP/1.1 404 Not Found\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zn);
    memcpy(msg + hn, z, zn);
    send_event("h1_d", 1, (const uint8_t *)reqs, strlen(reqs), ECQ_TYPE_HTTP1_REQUEST);
    send_event("h1_d", 0, (const uint8_t *)r1, strlen(r1), ECQ_TYPE_HTTP1_RESPONSE);
    send_event("h1_d", 0, (const uint8_t *)r1b, strlen(r1b), ECQ_TYPE_UNKNOWN);
    send_event("h1_d", 0, msg, (size_t)hn + zn, ECQ_TYPE_HTTP1_RESPONSE);
}

int main(int argc, char **argv)
{
    struct ecq_config cfg;
    struct ecq_stats st;
    int want = argc > 1 ? atoi(argv[1]) : 1;
    ecq_config_init(&cfg);
    cfg.url = "ws://127.0.0.1:0/";
    cfg.page = ecq_viewer_page(&cfg.page_len); /* the viewer, when built with -DECQ_VIEWER */
    if (ecq_server_open(&srv, &cfg) < 0) return 1;
    printf("ready %d\n", atoi(strrchr(ecq_server_url(srv), ':') + 1));
    fflush(stdout);
    do {
        if (ecq_server_poll(srv, NULL, 0, 100) < 0) return 1;
        ecq_server_stats(srv, &st);
    } while (st.clients < want);
    conversation_a();
    conversation_b();
    conversation_c();
    conversation_d();
    while (ecq_server_backlog(srv) > 0) ecq_server_poll(srv, NULL, 0, 50);
    ecq_server_close(srv, 1000);
    return 0;
}
