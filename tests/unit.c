/* unit.c - pure-function tests of ecaptureq.c (built with ECAPTUREQ_NO_BPF/NO_MAIN):
 * SHA-1, base64, accept key, UTF-8, URL, handshake checks, frame reader, protobuf,
 * x86-64 instruction lengths, arm64 RET sites, ELF lookups on crafted files, HPACK (RFC 7541
 * Appendix C), HTTP/1, HTTP/2, the merger of tls --merge.
 *   unit               run every test, one "ok"/"not ok" line each
 *   unit samples DIR   write sample LogEntry encodings for protoc --decode
 *   unit decode FILE   decode one LogEntry with our decoder, print its fields
 *   unit elfbench FILE...  time every lookup capture makes in each file, one line each */
#include "../ecaptureq.h"
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int failures;

#define CHECK(name, cond)                                                   \
    do {                                                                    \
        if (cond) printf("ok - %s\n", name);                                \
        else printf("not ok - %s (%s:%d)\n", name, __FILE__, __LINE__), failures++; \
    } while (0)

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

static int sha1_is(const void *data, size_t n, const char *want)
{
    uint8_t d[20];
    char h[41];
    ecq_sha1(data, n, d);
    hex(d, 20, h);
    return strcmp(h, want) == 0;
}

static void test_sha1(void)
{
    CHECK("sha1 empty", sha1_is("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709"));
    CHECK("sha1 abc", sha1_is("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d"));
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK("sha1 448-bit", sha1_is(m448, strlen(m448), "84983e441c3bd26ebaae4aa1f95129e5e54670f1"));
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    CHECK("sha1 896-bit", sha1_is(m896, strlen(m896), "a49b2446a02c645bf419f995b67091253a04a259"));
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    CHECK("sha1 million a", sha1_is(a, 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"));
    free(a);
    /* lengths around the padding boundary */
    CHECK("sha1 55 bytes", sha1_is("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 55,
                                  "c1c8bbdc22796e28c0e15163d20899b65621d65a"));
    CHECK("sha1 64 bytes", sha1_is("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64,
                                  "0098ba824b5c16427bd7a1122a5a442a25ec644d"));
}

static void test_base64(void)
{
    static const char *const v[][2] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
                                      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    char out[64];
    uint8_t back[64];
    int enc_ok = 1, dec_ok = 1;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        ecq_base64_encode(v[i][0], strlen(v[i][0]), out);
        if (strcmp(out, v[i][1])) enc_ok = 0;
        long n = ecq_base64_decode(v[i][1], strlen(v[i][1]), back, sizeof back);
        if (n != (long)strlen(v[i][0]) || memcmp(back, v[i][0], (size_t)n)) dec_ok = 0;
    }
    CHECK("base64 RFC 4648 encode vectors", enc_ok);
    CHECK("base64 RFC 4648 decode vectors", dec_ok);
    CHECK("base64 rejects bad length", ecq_base64_decode("Zm9", 3, back, sizeof back) < 0);
    CHECK("base64 rejects bad char", ecq_base64_decode("Zm9*", 4, back, sizeof back) < 0);
    CHECK("base64 rejects inner padding", ecq_base64_decode("Zg==Zm9v", 8, back, sizeof back) < 0);
    CHECK("base64 rejects non-canonical bits", ecq_base64_decode("Zh==", 4, back, sizeof back) < 0);
    CHECK("base64 rejects overflow", ecq_base64_decode("Zm9vYmFy", 8, back, 5) < 0);
    uint8_t all[256];
    char enc[400];
    for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
    ecq_base64_encode(all, 256, enc);
    CHECK("base64 round trip of all bytes",
          ecq_base64_decode(enc, strlen(enc), back, sizeof back) < 0 &&
          ({ uint8_t big[300]; long n = ecq_base64_decode(enc, strlen(enc), big, sizeof big);
             n == 256 && !memcmp(big, all, 256); }));
}

static void test_accept(void)
{
    char acc[29];
    ecq_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", 24, acc);
    CHECK("RFC 6455 example accept key", strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
}

static void test_utf8(void)
{
    CHECK("utf8 ascii", ecq_utf8_valid("hello", 5));
    CHECK("utf8 2/3/4-byte", ecq_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    CHECK("utf8 max code point", ecq_utf8_valid("\xf4\x8f\xbf\xbf", 4));
    CHECK("utf8 rejects overlong", !ecq_utf8_valid("\xc0\xaf", 2) && !ecq_utf8_valid("\xe0\x80\xaf", 3));
    CHECK("utf8 rejects surrogate", !ecq_utf8_valid("\xed\xa0\x80", 3));
    CHECK("utf8 rejects > U+10FFFF", !ecq_utf8_valid("\xf4\x90\x80\x80", 4));
    CHECK("utf8 rejects truncated", !ecq_utf8_valid("\xe2\x82", 2));
    CHECK("utf8 rejects stray continuation", !ecq_utf8_valid("\x80", 1));
}

static void test_url(void)
{
    struct ecq_url u;
    const char *why;
    CHECK("url default", ecq_url_parse("ws://127.0.0.1:28257/", &u, &why) == 0 && u.port == 28257 &&
                             !strcmp(u.host, "127.0.0.1") && !strcmp(u.path, "/"));
    CHECK("url ipv6", ecq_url_parse("ws://[::1]:9/", &u, &why) == 0 && !strcmp(u.host, "::1") && u.ipv6_literal);
    CHECK("url any ipv6", ecq_url_parse("ws://[::]:28257/", &u, &why) == 0 && !strcmp(u.host, "::"));
    CHECK("url localhost", ecq_url_parse("ws://localhost:1/", &u, &why) == 0);
    CHECK("url path", ecq_url_parse("ws://0.0.0.0:80/stream", &u, &why) == 0 && !strcmp(u.path, "/stream"));
    CHECK("url without a path is / (RFC 6455 §3)", ecq_url_parse("ws://127.0.0.1:28257", &u, &why) == 0 &&
          !strcmp(u.path, "/") && u.port == 28257);
    CHECK("url [::1]:9 without a path", ecq_url_parse("ws://[::1]:9", &u, &why) == 0 && !strcmp(u.path, "/"));
    CHECK("url query without a path refused", ecq_url_parse("ws://127.0.0.1:28257?x", &u, &why) < 0);
    CHECK("url other scheme", ecq_url_parse("http://127.0.0.1:28257/", &u, &why) < 0);
    CHECK("url wss refused", ecq_url_parse("wss://127.0.0.1:28257/", &u, &why) < 0);
    CHECK("url port 0 (a server picks a free one)", ecq_url_parse("ws://127.0.0.1:0/", &u, &why) == 0 && u.port == 0);
    CHECK("url port too big", ecq_url_parse("ws://127.0.0.1:65536/", &u, &why) < 0);
    CHECK("url port missing", ecq_url_parse("ws://127.0.0.1/", &u, &why) < 0);
    CHECK("url port junk", ecq_url_parse("ws://127.0.0.1:12a/", &u, &why) < 0);
    CHECK("url bad ipv6", ecq_url_parse("ws://[::g]:1/", &u, &why) < 0 && ecq_url_parse("ws://[::1:1/", &u, &why) < 0);
    CHECK("url userinfo refused", ecq_url_parse("ws://a@b:1/", &u, &why) < 0);
    CHECK("url empty host", ecq_url_parse("ws://:1/", &u, &why) < 0);
    CHECK("url NULL", ecq_url_parse(NULL, &u, &why) < 0);
}

#define REQ(extra) "GET / HTTP/1.1\r\nHost: 127.0.0.1:28257\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" extra "\r\n"

static int check(const char *req, const struct ecq_http_policy *p)
{
    char acc[29];
    return ecq_http_check_upgrade(req, strlen(req), p, acc);
}

static void test_http(void)
{
    struct ecq_http_policy p = {.path = "/", .check_host = 1, .bind_host = "127.0.0.1"};
    char acc[29] = "";
    const char *ok = REQ("");
    CHECK("http head length", ecq_http_head_length(ok, strlen(ok)) == strlen(ok) &&
                                  ecq_http_head_length(ok, strlen(ok) - 1) == 0);
    CHECK("http 101 + accept", ecq_http_check_upgrade(ok, strlen(ok), &p, acc) == 101 &&
                                   !strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    CHECK("http case-insensitive names and values",
          check("GET / HTTP/1.1\r\nhost: localhost\r\nupgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n"
                "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n", &p) == 101);
    CHECK("http 405 POST", check("POST / HTTP/1.1\r\nHost: x\r\n\r\n", &p) == 405);
    CHECK("http Host: every loopback name and address passes (one test: RFC 6761 names, 127/8, ::1)",
          check("GET / HTTP/1.1\r\nHost: app.localhost:8\r\n\r\n", &p) == 200 &&
          check("GET / HTTP/1.1\r\nHost: ip6-localhost\r\n\r\n", &p) == 200 &&
          check("GET / HTTP/1.1\r\nHost: 127.9.9.9\r\n\r\n", &p) == 200 &&
          check("GET / HTTP/1.1\r\nHost: [::1]:9\r\n\r\n", &p) == 200 &&
          check("GET / HTTP/1.1\r\nHost: localhost.evil.example\r\n\r\n", &p) == 403 &&
          check("GET / HTTP/1.1\r\nHost: 128.0.0.1\r\n\r\n", &p) == 403);
    CHECK("http 200 plain GET (a browser opening the page)",
          check("GET / HTTP/1.1\r\nHost: 127.0.0.1:28257\r\nAccept: text/html\r\nConnection: keep-alive\r\n\r\n", &p) == 200);
    CHECK("http plain GET: Host still checked, Origin and token not (the page holds no data)",
          check("GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n", &p) == 403 &&
          check("GET /?x HTTP/1.1\r\nHost: localhost\r\nOrigin: https://evil.example\r\n\r\n",
                &(struct ecq_http_policy){.token = "t", .check_host = 1}) == 200);
    CHECK("http a GET naming any WebSocket field is a handshake, not a page",
          check("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nSec-WebSocket-Version: 13\r\n\r\n", &p) == 400 &&
          check("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: h2c\r\n\r\n", &p) == 400 &&
          check("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade:\r\n\r\n", &p) == 400);
    CHECK("http 404 path", check("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &p) == 404);
    CHECK("http a target that is only a query is the root path with it (RFC 3986 §3.3)",
          check("GET ?a=b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &p) == 200 &&
          check("GET ? HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &p) == 200 &&
          check("GET ?a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &(struct ecq_http_policy){.path = "/ws"}) == 404 &&
          check("GET ?a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &(struct ecq_http_policy){.path = "/"}) == 200);
    CHECK("http every other target still matches the path exactly",
          check("GET * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &p) == 404 &&
          check("GET //?a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &p) == 404 &&
          check("GET #x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &p) == 404 &&
          check("GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &p) == 404 &&
          check("GET  HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &p) == 400);
    CHECK("http 400 HTTP/1.0", check("GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", &p) == 400);
    CHECK("http 400 garbage line", check("hello\r\n\r\n", &p) == 400);
    CHECK("http 400 no key", check("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                   "Sec-WebSocket-Version: 13\r\n\r\n", &p) == 400);
    CHECK("http 400 short key", check("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                      "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", &p) == 400);
    CHECK("http 400 no upgrade", check("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", &p) == 400);
    CHECK("http 400 connection without upgrade",
          check("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", &p) == 400);
    CHECK("http 400 no host", check("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", &p) == 400);
    CHECK("http 400 two hosts", check(REQ("Host: 127.0.0.1\r\n"), &p) == 400);
    CHECK("http 400 folded header", check(REQ(" folded\r\n"), &p) == 400);
    CHECK("http 400 no version", check("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", &p) == 400);
    CHECK("http 426 version 8", check("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", &p) == 426);
    CHECK("http origin localhost ok", check(REQ("Origin: http://localhost/\r\n"), &p) == 101);
    CHECK("http origin 127.x ok", check(REQ("Origin: http://127.0.0.2:8080\r\n"), &p) == 101);
    CHECK("http origin [::1] ok", check(REQ("Origin: https://[::1]:3000\r\n"), &p) == 101);
    CHECK("http origin same as host ok", check(REQ("Origin: http://127.0.0.1:28257\r\n"), &p) == 101);
    CHECK("http origin foreign 403", check(REQ("Origin: https://evil.example\r\n"), &p) == 403);
    CHECK("http origin null 403", check(REQ("Origin: null\r\n"), &p) == 403);
    CHECK("http origin lookalike 403", check(REQ("Origin: http://localhost.evil.example\r\n"), &p) == 403);
    const char *allowed[] = {"https://gui.example"};
    struct ecq_http_policy p2 = p;
    p2.origins = allowed, p2.norigins = 1;
    CHECK("http --allow-origin", check(REQ("Origin: https://gui.example\r\n"), &p2) == 101);
    CHECK("http rebinding Host 403",
          check("GET / HTTP/1.1\r\nHost: evil.example:28257\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", &p) == 403);
    struct ecq_http_policy p3 = p;
    p3.token = "s3cret";
    CHECK("http token missing 401", check(ok, &p3) == 401);
    CHECK("http token bearer", check(REQ("Authorization: Bearer s3cret\r\n"), &p3) == 101);
    CHECK("http token wrong 401", check(REQ("Authorization: Bearer s3cre\r\n"), &p3) == 401);
    CHECK("http token query",
          check("GET /?token=s3%63ret HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", &p3) == 101);
    CHECK("http token in a query-only target (ws://host:port?token=T): right 101, wrong 401",
          check("GET ?token=s3cret HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", &p3) == 101 &&
          check("GET ?token=s3cre HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", &p3) == 401);
}

/* a masked client frame */
static size_t frame(uint8_t *out, int b0, const void *payload, size_t n)
{
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t h = 0;
    out[h++] = (uint8_t)b0;
    if (n < 126) out[h++] = (uint8_t)(0x80 | n);
    else if (n < 65536) out[h++] = 0x80 | 126, out[h++] = (uint8_t)(n >> 8), out[h++] = (uint8_t)n;
    else {
        out[h++] = 0x80 | 127;
        for (int i = 0; i < 8; i++) out[h++] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    }
    memcpy(out + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < n; i++) out[h + i] = ((const uint8_t *)payload)[i] ^ mask[i & 3];
    return h + n;
}

static int feed(const uint8_t *buf, size_t n, int bytewise)
{
    struct ecq_ws_reader r = {.from_client = 1, .max_message = 1 << 20};
    size_t off = 0, used;
    int last = ECQ_WS_MORE;
    while (off < n) {
        size_t len = bytewise ? 1 : n - off;
        int rc = ecq_ws_read(&r, buf + off, len, &used);
        off += used;
        if (rc < 0) return rc;
        if (rc != ECQ_WS_MORE) last = rc;
    }
    return last;
}

static void test_frames(void)
{
    uint8_t b[300000];
    size_t n;
    n = frame(b, 0x89, "hi", 2);
    CHECK("frame ping", feed(b, n, 0) == ECQ_WS_PING && feed(b, n, 1) == ECQ_WS_PING);
    n = frame(b, 0x81, "hello", 5);
    CHECK("frame text", feed(b, n, 1) == ECQ_WS_MESSAGE);
    n = frame(b, 0x01, "he", 2);
    n += frame(b + n, 0x89, "", 0);
    n += frame(b + n, 0x80, "llo", 3);
    CHECK("frame fragmented text with ping inside", feed(b, n, 1) == ECQ_WS_MESSAGE);
    b[0] = 0x82, b[1] = 0x01, b[2] = 0;
    CHECK("frame unmasked 1002", feed(b, 3, 0) == -1002);
    n = frame(b, 0xC2, "x", 1);
    CHECK("frame RSV1 1002", feed(b, n, 0) == -1002);
    n = frame(b, 0x83, "x", 1);
    CHECK("frame opcode 3 1002", feed(b, n, 0) == -1002);
    n = frame(b, 0x8B, "x", 1);
    CHECK("frame opcode 11 1002", feed(b, n, 0) == -1002);
    n = frame(b, 0x09, "x", 1);
    CHECK("frame fragmented ping 1002", feed(b, n, 0) == -1002);
    memset(b + 1000, 'p', 126);
    n = frame(b, 0x89, b + 1000, 126);
    CHECK("frame 126-byte ping 1002", feed(b, n, 0) == -1002);
    n = frame(b, 0x80, "x", 1);
    CHECK("frame continuation without start 1002", feed(b, n, 0) == -1002);
    n = frame(b, 0x01, "a", 1);
    n += frame(b + n, 0x81, "b", 1);
    CHECK("frame new message inside fragmented 1002", feed(b, n, 0) == -1002);
    n = frame(b, 0x88, "\x03", 1);
    CHECK("frame 1-byte close 1002", feed(b, n, 0) == -1002);
    n = frame(b, 0x88, "\x03\xed", 2); /* 1005 */
    CHECK("frame close 1005 1002", feed(b, n, 0) == -1002);
    n = frame(b, 0x88, "\x03\xe7", 2); /* 999 */
    CHECK("frame close 999 1002", feed(b, n, 0) == -1002);
    n = frame(b, 0x88, "\x13\x88", 2); /* 5000 */
    CHECK("frame close 5000 1002", feed(b, n, 0) == -1002);
    n = frame(b, 0x88, "\x03\xe8ok", 4);
    CHECK("frame close 1000 + reason", feed(b, n, 1) == ECQ_WS_CLOSE);
    n = frame(b, 0x88, "\x0f\xa0", 2); /* 4000 */
    CHECK("frame close 4000", feed(b, n, 0) == ECQ_WS_CLOSE);
    n = frame(b, 0x88, "", 0);
    CHECK("frame empty close", feed(b, n, 0) == ECQ_WS_CLOSE);
    n = frame(b, 0x88, "\x03\xe8\xff", 3);
    CHECK("frame close bad UTF-8 1007", feed(b, n, 0) == -1007);
    n = frame(b, 0x81, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80", 14);
    CHECK("frame text bad UTF-8 1007", feed(b, n, 1) == -1007);
    n = frame(b, 0x01, "\xe2\x82", 2);
    n += frame(b + n, 0x80, "\xac", 1);
    CHECK("frame UTF-8 split across fragments ok", feed(b, n, 1) == ECQ_WS_MESSAGE);
    n = frame(b, 0x81, "\xe2\x82", 2);
    CHECK("frame text ends mid-character 1007", feed(b, n, 0) == -1007);
    n = frame(b, 0x82, "", 0);
    CHECK("frame binary anything", feed(b, n, 0) == ECQ_WS_MESSAGE);
    /* size limit: refused from the header alone */
    uint8_t h[14] = {0x82, 0x80 | 127, 0, 0, 0, 0, 0x10, 0, 0, 0, 1, 2, 3, 4};
    CHECK("frame 256 MiB message 1009 from header", feed(h, 14, 0) == -1009);
    n = frame(b, 0x02, b + 2000, 200000);
    CHECK("frame under limit ok", feed(b, n, 0) == ECQ_WS_MORE);
    struct ecq_ws_reader r = {.from_client = 1, .max_message = 250000};
    size_t used;
    n = frame(b, 0x02, b + 2000, 200000);
    int rc = ecq_ws_read(&r, b, n, &used);
    n = frame(b, 0x80, b + 2000, 60000);
    rc = ecq_ws_read(&r, b, n, &used);
    CHECK("frame fragments over limit 1009", rc == -1009);
    uint8_t nm[10] = {0x82, 0x80 | 126, 0, 5, 1, 2, 3, 4};
    CHECK("frame non-minimal length 1002", feed(nm, 8, 0) == -1002);
    struct ecq_ws_reader cr = {.from_client = 0, .keep_data = 1, .max_message = 1 << 20};
    uint8_t sf[] = {0x01, 3, 'a', 'b', 'c', 0x80, 2, 'd', 'e'};
    rc = ecq_ws_read(&cr, sf, sizeof sf, &used);
    CHECK("frame client side reassembles", rc == ECQ_WS_MESSAGE && cr.data_len == 5 && !memcmp(cr.data, "abcde", 5) &&
                                               cr.opcode == 1);
    ecq_ws_reader_free(&cr);
    uint8_t hdr[10];
    CHECK("frame header sizes", ecq_ws_frame_header(hdr, 2, 125) == 2 && ecq_ws_frame_header(hdr, 2, 126) == 4 &&
                                    ecq_ws_frame_header(hdr, 2, 65535) == 4 && ecq_ws_frame_header(hdr, 2, 65536) == 10);
}

static struct ecq_bytes B(const char *s) { return (struct ecq_bytes){s, strlen(s)}; }

static void sample_event(struct ecq_entry *e, const char *payload, size_t n)
{
    memset(e, 0, sizeof *e);
    e->log_type = ECQ_LOG_EVENT;
    e->payload_case = ECQ_PAYLOAD_EVENT;
    e->event.timestamp = 1795663888085399074LL;
    e->event.uuid = B("2785_2785_curl_5");
    e->event.src_ip = B("127.0.0.1");
    e->event.src_port = 34722;
    e->event.dst_ip = B("::1");
    e->event.dst_port = 8443;
    e->event.pid = 2785;
    e->event.pname = B("curl");
    e->event.type = 1;
    e->event.length = (uint32_t)n;
    e->event.payload = (struct ecq_bytes){payload, n};
}

/* Every field alone, at its largest value, and everything at once: the encoding is
 * exactly as long as ecq_pb_entry_size says, does not fit one byte shorter, and
 * decodes to the same value. */
static void test_pb_each_field(void)
{
    static uint8_t buf[1 << 20], big[70000];
    struct ecq_entry e, d;
    size_t off;
    const char *why;
    int bad = 0, cases = 0;
    memset(big, 'z', sizeof big);
    struct ecq_bytes s = {(const char *)big, sizeof big};
    for (int f = 0; f <= 16; f++) {
        memset(&e, 0, sizeof e);
        e.log_type = ECQ_LOG_EVENT, e.payload_case = ECQ_PAYLOAD_EVENT;
        struct ecq_event *v = &e.event;
        switch (f) {
        case 1: v->timestamp = INT64_MIN; break;
        case 2: v->uuid = s; break;
        case 3: v->src_ip = s; break;
        case 4: v->src_port = UINT32_MAX; break;
        case 5: v->dst_ip = s; break;
        case 6: v->dst_port = UINT32_MAX; break;
        case 7: v->pid = -1; break;
        case 8: v->pname = s; break;
        case 9: v->type = UINT32_MAX; break;
        case 10: v->length = UINT32_MAX; break;
        case 11: v->payload = s; break;
        case 12: e.payload_case = ECQ_PAYLOAD_HEARTBEAT, e.log_type = 0, e.heartbeat.timestamp = INT64_MAX; break;
        case 13: e.payload_case = ECQ_PAYLOAD_HEARTBEAT, e.log_type = 0, e.heartbeat.count = INT64_MIN; break;
        case 14: e.payload_case = ECQ_PAYLOAD_HEARTBEAT, e.log_type = 0, e.heartbeat.message = s; break;
        case 15: e.payload_case = ECQ_PAYLOAD_RUN_LOG, e.log_type = -5, e.run_log = s; break;
        case 16: /* all of them */
            v->timestamp = INT64_MAX, v->uuid = s, v->src_ip = s, v->src_port = 1, v->dst_ip = s, v->dst_port = 2;
            v->pid = INT64_MIN, v->pname = s, v->type = 3, v->length = 4, v->payload = s;
            break;
        }
        size_t want = ecq_pb_entry_size(&e), n = want <= sizeof buf ? ecq_pb_encode_entry(&e, buf, sizeof buf) : 0;
        cases++;
        if (!n || n != want || ecq_pb_encode_entry(&e, buf, want - 1) != 0) {
            printf("# field case %d: size %zu, encoded %zu\n", f, want, n);
            bad++;
            continue;
        }
        ecq_pb_encode_entry(&e, buf, want);
        if (ecq_pb_decode_entry(buf, n, &d, &off, &why) < 0 || d.payload_case != e.payload_case ||
            d.log_type != e.log_type || d.event.timestamp != e.event.timestamp || d.event.pid != e.event.pid ||
            d.event.src_port != e.event.src_port || d.event.dst_port != e.event.dst_port ||
            d.event.type != e.event.type || d.event.length != e.event.length || d.event.uuid.len != e.event.uuid.len ||
            d.event.src_ip.len != e.event.src_ip.len || d.event.dst_ip.len != e.event.dst_ip.len ||
            d.event.pname.len != e.event.pname.len || d.event.payload.len != e.event.payload.len ||
            d.heartbeat.timestamp != e.heartbeat.timestamp || d.heartbeat.count != e.heartbeat.count ||
            d.heartbeat.message.len != e.heartbeat.message.len || d.run_log.len != e.run_log.len) {
            printf("# field case %d: decodes differently\n", f);
            bad++;
        }
    }
    CHECK("pb: every field alone and all together: encoded length == computed size, one byte less refused, "
          "decodes back", bad == 0 && cases == 17);
}

static void test_pb(void)
{
    struct ecq_entry e, d;
    uint8_t buf[2 << 20];
    size_t n, off;
    const char *why;
    sample_event(&e, "GET / HTTP/1.1\r\n\r\n", 18);
    n = ecq_pb_encode_entry(&e, buf, sizeof buf);
    CHECK("pb size matches encoding", n == ecq_pb_entry_size(&e));
    CHECK("pb event round trip", ecq_pb_decode_entry(buf, n, &d, &off, &why) == 0 && d.payload_case == 2 &&
                                     d.log_type == 2 && d.event.timestamp == e.event.timestamp &&
                                     d.event.src_port == 34722 && d.event.dst_ip.len == 3 &&
                                     !memcmp(d.event.payload.ptr, "GET / HTTP/1.1\r\n\r\n", 18));
    CHECK("pb encode refuses small buffer", ecq_pb_encode_entry(&e, buf, n - 1) == 0);
    memset(&e, 0, sizeof e);
    e.payload_case = ECQ_PAYLOAD_HEARTBEAT;
    n = ecq_pb_encode_entry(&e, buf, sizeof buf);
    CHECK("pb empty heartbeat is field 3, length 0", n == 2 && buf[0] == 0x1a && buf[1] == 0);
    e.heartbeat.count = -1;
    n = ecq_pb_encode_entry(&e, buf, sizeof buf);
    CHECK("pb negative int64 is ten bytes", n == 2 + 1 + 10 && ecq_pb_decode_entry(buf, n, &d, &off, &why) == 0 &&
                                                d.heartbeat.count == -1);
    e.log_type = -5;
    n = ecq_pb_encode_entry(&e, buf, sizeof buf);
    CHECK("pb negative enum round trip", ecq_pb_decode_entry(buf, n, &d, &off, &why) == 0 && d.log_type == -5);
    static char big[1 << 20];
    memset(big, 'z', sizeof big);
    sample_event(&e, big, sizeof big);
    e.event.timestamp = INT64_MAX, e.event.pid = INT64_MIN, e.event.src_port = UINT32_MAX;
    n = ecq_pb_encode_entry(&e, buf, sizeof buf);
    CHECK("pb 1 MiB payload and extreme values", ecq_pb_decode_entry(buf, n, &d, &off, &why) == 0 &&
                                                     d.event.payload.len == sizeof big && d.event.pid == INT64_MIN &&
                                                     d.event.timestamp == INT64_MAX && d.event.src_port == UINT32_MAX);
    /* unknown fields of every wire type, in the entry and in the event */
    static const uint8_t unk[] = {0x08, 0x02,                                   /* log_type 2 */
                                  0x78, 0x05,                                   /* field 15 varint */
                                  0x81, 0x01, 1, 2, 3, 4, 5, 6, 7, 8,           /* field 16 fixed64 */
                                  0x8d, 0x01, 1, 2, 3, 4,                       /* field 17 fixed32 */
                                  0x92, 0x01, 0x02, 'h', 'i',                   /* field 18 bytes */
                                  0x9b, 0x01, 0x08, 0x01, 0x9c, 0x01,           /* field 19 group */
                                  0x12, 0x07, 0x38, 0x07, 0xa2, 0x06, 0x02, 'x', 'y' /* event: pid 7, f100 */};
    int rc = ecq_pb_decode_entry(unk, sizeof unk, &d, &off, &why);
    CHECK("pb decoder skips unknown fields", rc == 0 && d.payload_case == 2 && d.event.pid == 7);
    CHECK("pb truncated varint reported",
          ecq_pb_decode_entry((const uint8_t *)"\x08\x80", 2, &d, &off, &why) < 0 && off == 2 && why);
    CHECK("pb length past end reported", ecq_pb_decode_entry((const uint8_t *)"\x22\x05hi", 4, &d, &off, &why) < 0);
    CHECK("pb field 0 refused", ecq_pb_decode_entry((const uint8_t *)"\x00\x01", 2, &d, &off, &why) < 0);
    CHECK("pb wire type 7 refused", ecq_pb_decode_entry((const uint8_t *)"\x0f\x01", 2, &d, &off, &why) < 0);
    CHECK("pb 11-byte varint refused",
          ecq_pb_decode_entry((const uint8_t *)"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12, &d, &off, &why) < 0);
    CHECK("pb empty message ok", ecq_pb_decode_entry(buf, 0, &d, &off, &why) == 0 && d.payload_case == 0);
    CHECK("classify", ecq_classify("GET / HTTP/1.1\r\n", 16) == 1 && ecq_classify("HTTP/1.1 200 OK\r\n", 17) == 3 &&
                          ecq_classify("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24) == 2 &&
                          ecq_classify("\0\0\0\4\0\0\0\0\0", 9) == 4 && ecq_classify("hello world", 11) == 0 &&
                          ecq_classify("GET nothing", 11) == 0);
    CHECK("classify: a HEADERS frame starting with :method is a request, with :status a response, other frames response",
          ecq_classify("\0\0\1\1\5\0\0\0\1\x82", 10) == 2 && ecq_classify("\0\0\2\1\4\0\0\0\1\x41\x0f", 11) == 2 &&
          ecq_classify("\0\0\1\1\4\0\0\0\1\x88", 10) == 4 && ecq_classify("\0\0\2\1\4\0\0\0\1\x48\x03", 11) == 4 &&
          ecq_classify("\0\0\1\1\4\0\0\0\1\xbe", 10) == 4 && ecq_classify("\0\0\0\1\4\0\0\0\1", 9) == 4);
}

/* sample encodings for protoc --decode, named by what they hold */
static int samples(const char *dir)
{
    struct ecq_entry e;
    static uint8_t buf[3 << 20];
    char path[512];
    size_t n;
    FILE *f;
#define WRITE(name)                                                  \
    n = ecq_pb_encode_entry(&e, buf, sizeof buf);                    \
    snprintf(path, sizeof path, "%s/%s.bin", dir, name);             \
    if (!(f = fopen(path, "wb")) || fwrite(buf, 1, n, f) != n) return 1; \
    fclose(f);
    sample_event(&e, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27);
    WRITE("event");
    memset(&e, 0, sizeof e);
    e.payload_case = ECQ_PAYLOAD_HEARTBEAT;
    e.heartbeat.timestamp = 1795663888;
    e.heartbeat.count = 3;
    e.heartbeat.message = B("heartbeat:3");
    WRITE("heartbeat");
    e.heartbeat.count = -1;
    e.heartbeat.timestamp = INT64_MIN;
    e.heartbeat.message = B("");
    WRITE("negative");
    memset(&e, 0, sizeof e);
    e.log_type = 1;
    e.payload_case = ECQ_PAYLOAD_RUN_LOG;
    e.run_log = B("caf\xc3\xa9 run log \xe2\x82\xac");
    WRITE("runlog");
    static char big[2 << 20];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
    sample_event(&e, big, sizeof big);
    e.event.timestamp = INT64_MAX;
    e.event.pid = INT64_MAX;
    e.event.src_port = UINT32_MAX;
    e.event.dst_port = 0;
    e.event.uuid = B("");
    WRITE("big");
    memset(&e, 0, sizeof e);
    e.log_type = 2;
    e.payload_case = ECQ_PAYLOAD_EVENT;
    WRITE("emptyevent");
    return 0;
}

static int decode(const char *file)
{
    static uint8_t buf[4 << 20];
    FILE *f = fopen(file, "rb");
    size_t n, off;
    const char *why;
    struct ecq_entry e;
    if (!f) return 1;
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (ecq_pb_decode_entry(buf, n, &e, &off, &why) < 0) {
        printf("error at %zu: %s\n", off, why);
        return 1;
    }
    printf("log_type=%d case=%d\n", e.log_type, e.payload_case);
    if (e.payload_case == 2)
        printf("timestamp=%lld uuid=%.*s src=%.*s:%u dst=%.*s:%u pid=%lld pname=%.*s type=%u length=%u payload=%.*s\n",
               (long long)e.event.timestamp, (int)e.event.uuid.len, e.event.uuid.ptr, (int)e.event.src_ip.len,
               e.event.src_ip.ptr, e.event.src_port, (int)e.event.dst_ip.len, e.event.dst_ip.ptr, e.event.dst_port,
               (long long)e.event.pid, (int)e.event.pname.len, e.event.pname.ptr, e.event.type, e.event.length,
               (int)e.event.payload.len, e.event.payload.ptr);
    if (e.payload_case == 3)
        printf("timestamp=%lld count=%lld message=%.*s\n", (long long)e.heartbeat.timestamp,
               (long long)e.heartbeat.count, (int)e.heartbeat.message.len, e.heartbeat.message.ptr);
    if (e.payload_case == 4) printf("run_log=%.*s\n", (int)e.run_log.len, e.run_log.ptr);
    return 0;
}

/* instruction lengths against GNU as: legacy, VEX and EVEX (AVX-512, which Go 1.26's
 * runtime uses) forms, and what must be refused or asked for more bytes */
static void test_x86(void)
{
    static const struct { const char *hex; int len; const char *what; } t[] = {
        {"c3", 1, "ret"},
        {"c20800", 3, "ret $8"},
        {"48b88877665544332211", 10, "movabs imm64"},
        {"c5f877", 3, "VEX vzeroupper (no ModRM)"},
        {"c5edefd9", 4, "VEX vpxor ymm"},
        {"c4e36d02d905", 6, "VEX 0F3A vpblendd imm8"},
        {"62f1fe486f08", 6, "EVEX vmovdqu64 (%rax)"},
        {"62f1fe486f5001", 7, "EVEX vmovdqu64 disp8*N"},
        {"62f36d4825d996", 7, "EVEX 0F3A vpternlogd imm8"},
        {"62f17dc97064cc041b", 9, "EVEX vpshufd imm8, SIB + disp8, masking"},
        {"62f16c48c2d101", 7, "EVEX vcmpps imm8"},
        {"62f1d548d43578563412", 10, "EVEX vpaddq RIP-relative"},
        {"62f26d488dd9", 6, "EVEX 0F38 vpermb"},
        {"62f56c4858d9", 6, "EVEX map 5 vaddph (FP16)"},
        {"62f1ed4873d103", 7, "EVEX vpsrlq imm8"},
    };
    uint8_t b[16];
    char name[96];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        size_t n = strlen(t[i].hex) / 2;
        for (size_t k = 0; k < n; k++) sscanf(t[i].hex + 2 * k, "%2hhx", &b[k]);
        snprintf(name, sizeof name, "x86 length: %s = %d", t[i].what, t[i].len);
        CHECK(name, ecq_x86_insn_len(b, n) == t[i].len && ecq_x86_insn_len(b, n - 1) == 0);
    }
    static const uint8_t evex_map4[] = {0x62, 0xf4, 0x7c, 0x48, 0x00, 0xc0};   /* APX map 4: unknown */
    static const uint8_t evex_bit[] = {0x62, 0xf1, 0xfa, 0x48, 0x6f, 0x08};    /* P1 bit 2 clear */
    static const uint8_t bound[] = {0x62};
    CHECK("x86 length: EVEX map 4 and a clear EVEX fixed bit are refused",
          ecq_x86_insn_len(evex_map4, sizeof evex_map4) == -1 && ecq_x86_insn_len(evex_bit, sizeof evex_bit) == -1);
    CHECK("x86 length: a lone 62 asks for more bytes", ecq_x86_insn_len(bound, 1) == 0);
    static const uint8_t fn[] = {0x62, 0xf1, 0xfe, 0x48, 0x6f, 0x08, 0xb8, 0xc3, 0, 0, 0, 0xc3};
    uint32_t rets[4];
    CHECK("x86 returns: the C3 inside an immediate is not a RET",
          ecq_x86_find_returns(fn, sizeof fn, rets, 4, NULL) == 1 && rets[0] == 11);
}

/* arm64 RET sites: whole 4-byte words equal to RET (X30) on 4-byte boundaries, as
 * aarch64-linux-gnu-as assembles ret, ret x1, b, and a RET word straddling two words */
static void test_arm64(void)
{
    static const uint8_t fn[] = {
        0xfd, 0x7b, 0xc1, 0xa8,     /* ldp x29, x30, [sp], #16 */
        0xc0, 0x03, 0x5f, 0xd6,     /* ret */
        0x20, 0x00, 0x5f, 0xd6,     /* ret x1: not Go's or GCC's return */
        0xc0, 0x03, 0x00, 0x14,     /* b .+0xf00: "c0 03" then not "5f d6" */
        0x00, 0x00, 0xc0, 0x03,     /* "c0 03 5f d6" across two words is no instruction */
        0x5f, 0xd6, 0x00, 0x00,
        0xc0, 0x03, 0x5f, 0xd6,     /* ret */
    };
    uint32_t rets[4];
    size_t bad = 0;
    CHECK("arm64 returns: the RET words at +4 and +24, not ret x1, a branch or a straddling pattern",
          ecq_arm64_find_returns(fn, sizeof fn, rets, 4, NULL) == 2 && rets[0] == 4 && rets[1] == 24);
    CHECK("arm64 returns: only max offsets stored, every RET counted",
          ecq_arm64_find_returns(fn, sizeof fn, rets, 1, NULL) == 2 && rets[0] == 4);
    CHECK("arm64 returns: a length that is not whole instructions is refused at its last word",
          ecq_arm64_find_returns(fn, sizeof fn - 1, rets, 4, &bad) == -1 && bad == sizeof fn - 4);
}

/* A small library like a fake libssl.so.3: an executable PT_LOAD at 0x1000 (0x1000 bytes
 * in the file, 0x2000 in memory), a read-only one at 0x3000, .strtab at 0x4000, .symtab
 * at 0x5000 with one function per name (names[i] at addrs[i], sizes[i] bytes), section
 * headers at 0x6000. symtab_size, when not 0, overrides the table's sh_size. */
#define MINI_SIZE (0x6000 + 3 * sizeof(Elf64_Shdr))
static void mini_elf(uint8_t *f, const char *const *names, const uint64_t *addrs, const uint64_t *sizes, int n,
                     uint64_t symtab_size)
{
    Elf64_Ehdr *eh = (Elf64_Ehdr *)f;
    Elf64_Phdr *ph = (Elf64_Phdr *)(f + sizeof *eh);
    Elf64_Sym *sym = (Elf64_Sym *)(f + 0x5000);
    Elf64_Shdr *sh = (Elf64_Shdr *)(f + 0x6000);
    size_t str = 1;
    memset(f, 0, MINI_SIZE);
    memcpy(eh->e_ident, ELFMAG "\2\1\1", 7);
    eh->e_type = ET_DYN, eh->e_machine = EM_X86_64, eh->e_version = 1;
    eh->e_phoff = sizeof *eh, eh->e_phentsize = sizeof *ph, eh->e_phnum = 2;
    eh->e_shoff = 0x6000, eh->e_shentsize = sizeof *sh, eh->e_shnum = 3, eh->e_shstrndx = 1;
    ph[0] = (Elf64_Phdr){PT_LOAD, PF_R | PF_X, 0x1000, 0x1000, 0x1000, 0x1000, 0x2000, 0x1000};
    ph[1] = (Elf64_Phdr){PT_LOAD, PF_R, 0x3000, 0x3000, 0x3000, 0x1000, 0x1000, 0x1000};
    memset(f + 0x1000, 0xC3, 0x1000);
    for (int i = 0; i < n; i++) {
        sym[i + 1] = (Elf64_Sym){(uint32_t)str, ELF64_ST_INFO(STB_GLOBAL, STT_FUNC), 0, 1, addrs[i], sizes[i]};
        memcpy(f + 0x4000 + str, names[i], strlen(names[i]) + 1);
        str += strlen(names[i]) + 1;
    }
    sh[1] = (Elf64_Shdr){0, SHT_STRTAB, 0, 0, 0x4000, str, 0, 0, 1, 0};
    sh[2] = (Elf64_Shdr){0, SHT_SYMTAB, 0, 0, 0x5000, symtab_size ? symtab_size : (n + 1) * sizeof *sym, 1, 1, 8,
                         sizeof *sym};
}

/* what ecq_elf_find_func says of name: "0 @0x1100" or "-3 not in ..." */
static const char *lookup(const uint8_t *f, size_t n, const char *name)
{
    static char out[160];
    struct ecq_elf_func fn;
    int rc = ecq_elf_find_func(f, n, name, &fn);
    if (rc == 0) snprintf(out, sizeof out, "0 @0x%llx %s", (unsigned long long)fn.offset, fn.source);
    else snprintf(out, sizeof out, "%d %s", rc, fn.why ? fn.why : "(no reason)");
    return out;
}

/* Rust paths matched against mangled symbols, legacy and v0 (the v0 names are what
 * rustc 1.63 writes with -C symbol-mangling-version=v0 for rustls 0.20.8) */
static void test_rust_names(void)
{
    static const char *const names[] = {
        "_ZN55_$LT$rustls..conn..Writer$u20$as$u20$std..io..Write$GT$5flush17h06bc42bf410c15f8E",
        "_ZN55_$LT$rustls..conn..Writer$u20$as$u20$std..io..Write$GT$5write17h049104b41caa2a71E",
        "_RNvXs2_NtCs9GZPIeUFXe1_6rustls4connNtB5_6ReaderNtNtCsdyIG5SqMl5y_3std2io4Read4read",
        "_RNvXs5_NtCs9GZPIeUFXe1_6rustls4connNtB5_6WriterNtNtCsdyIG5SqMl5y_3std2io5Write5write",
        "_RNvXs2_NtCs9GZPIeUFXe1_6rustls4connNtBz_6ReaderNtNtCsdyIG5SqMl5y_3std2io4Read4read",
        "_ZN6rustls4conn6Writer3new17ha61c5156f00ae0cbE",
        "_ZN54_$LT$rustls..conn..Reader$u20$as$u20$std..io..Read$GT$4read17he039bc17977ebb73",
    };
    static const uint64_t addrs[] = {0x1100, 0x1200, 0x1300, 0x1400, 0x1500, 0x1600, 0x1700};
    static const uint64_t sizes[] = {8, 8, 8, 8, 8, 8, 8};
    static const struct { const char *name, *want; } t[] = {
        {"<rustls::conn::Writer as std::io::Write>::write", "0 @0x1200 .symtab"},   /* legacy; flush is not it */
        {"<rustls::conn::Reader as std::io::Read>::read", "0 @0x1300 .symtab"},     /* v0, a backref */
        {"<rustls::conn::Writer as std::io::Write>::flush", "0 @0x1100 .symtab"},
        {"rustls::conn::Writer::new", "-1 no such function"},  /* only names that start with '<' are demangled */
        {"<rustls::conn::Writer as std::io::Write>::writ", "-1 no such function"},
        {"<rustls::conn::Reader as std::io::Read>", "-1 no such function"},
    };
    uint8_t *f = calloc(1, MINI_SIZE);
    char name[200];
    mini_elf(f, names, addrs, sizes, 7, 0);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *got = lookup(f, MINI_SIZE, t[i].name);
        snprintf(name, sizeof name, "Rust names: %s -> %s%s%s", t[i].name, t[i].want,
                 strcmp(got, t[i].want) ? ", got " : "", strcmp(got, t[i].want) ? got : "");
        CHECK(name, strcmp(got, t[i].want) == 0);
    }
    /* the v0 Writer without its legacy twin: found through the v0 name alone */
    mini_elf(f, names + 3, addrs + 3, sizes + 3, 4, 0);
    CHECK("Rust names: v0 <rustls::conn::Writer as std::io::Write>::write",
          strcmp(lookup(f, MINI_SIZE, "<rustls::conn::Writer as std::io::Write>::write"), "0 @0x1400 .symtab") == 0);
    free(f);
}

/* issue 20, item 5: a probe goes only on code; item 2: bounds */
static void test_elf(void)
{
    static const char *const names[] = {"SSL_free", "SSL_write", "SSL_read_ex", "SSL_write_ex", "SSL_peek",
                                        "SSL_shutdown", "SSL_connect@@OPENSSL_3.0.0", "SSL_big", "SSL_accept"};
    static const uint64_t addrs[] = {0x1100, 0x3000, 0x2000, 0x1ff8, 0x1fff, 0x2000, 0x1200, 0x1000, 0x1300};
    static const uint64_t sizes[] = {32, 64, 16, 16, 0, 0, 40, ECQ_ELF_MAX_FUNC_SIZE + 1, 8};
    static const struct { const char *name, *want; } t[] = {
        {"SSL_free", "0 @0x1100 .symtab"},
        {"SSL_write", "-3 not in the file part of an executable segment"},       /* read-only segment */
        {"SSL_read_ex", "-3 not in the file part of an executable segment"},     /* past p_filesz */
        {"SSL_write_ex", "-3 not in the file part of an executable segment"},    /* across the end */
        {"SSL_peek", "0 @0x1fff .symtab"},                                       /* size 0: its first byte */
        {"SSL_shutdown", "-3 not in the file part of an executable segment"},    /* size 0, past the end */
        {"SSL_connect", "0 @0x1200 .symtab"},                                    /* versioned */
        {"SSL_connec", "-1 no such function"},
        {"SSL_big", "-2 a function of over 1048576 bytes"},
        {"SSL_accept", "-1 no such function"},          /* the table ends before its NUL */
    };
    size_t big = 0x5000 + (ECQ_ELF_MAX_SYMBOLS + 1) * sizeof(Elf64_Sym);
    uint8_t *f = calloc(1, big);
    char name[200];
    mini_elf(f, names, addrs, sizes, 9, 0);
    ((Elf64_Shdr *)(f + 0x6000))[1].sh_size--; /* SSL_accept's NUL outside .strtab */
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *got = lookup(f, MINI_SIZE, t[i].name);
        snprintf(name, sizeof name, "ELF: %s -> %s%s%s", t[i].name, t[i].want, strcmp(got, t[i].want) ? ", got " : "",
                 strcmp(got, t[i].want) ? got : "");
        CHECK(name, strcmp(got, t[i].want) == 0);
    }
    CHECK("ELF: a file cut inside its symbol table (its section headers gone) has no such function",
          strcmp(lookup(f, 0x5000 + 24, "SSL_free"), "-1 no such function") == 0);
    /* the section headers moved out of the way of a table of MAX + 1 entries */
    mini_elf(f, names, addrs, sizes, 1, (ECQ_ELF_MAX_SYMBOLS + 1) * sizeof(Elf64_Sym));
    memmove(f + big - 3 * sizeof(Elf64_Shdr), f + 0x6000, 3 * sizeof(Elf64_Shdr));
    ((Elf64_Ehdr *)f)->e_shoff = big - 3 * sizeof(Elf64_Shdr);
    CHECK("ELF: a symbol table of MAX_SYMBOLS + 1 entries puts the file over the bounds, whatever the name",
          !strcmp(lookup(f, big, "SSL_free"), "-2 a symbol table of over 1048576 entries") &&
          !strcmp(lookup(f, big, "nothing"), "-2 a symbol table of over 1048576 entries"));
    /* the same file as arm64, then as a machine capture does not know */
    const char *arch = NULL;
    mini_elf(f, names, addrs, sizes, 9, 0);
    CHECK("ELF: an x86-64 file's machine", ecq_elf_machine(f, MINI_SIZE, &arch) == ECQ_EM_X86_64 && !strcmp(arch, "x86-64"));
    ((Elf64_Ehdr *)f)->e_machine = EM_AARCH64;
    CHECK("ELF: an arm64 file's machine, and its functions found alike",
          ecq_elf_machine(f, MINI_SIZE, &arch) == ECQ_EM_AARCH64 && !strcmp(arch, "arm64") &&
          !strcmp(lookup(f, MINI_SIZE, "SSL_free"), "0 @0x1100 .symtab"));
    ((Elf64_Ehdr *)f)->e_machine = EM_RISCV;
    CHECK("ELF: a RISC-V file is refused, its machine named as unknown",
          ecq_elf_machine(f, MINI_SIZE, &arch) == -1 && !strcmp(arch, "not an x86-64 or arm64 ELF64 file") &&
          !strcmp(lookup(f, MINI_SIZE, "SSL_free"), "-1 not an x86-64 or arm64 ELF64 file"));
    free(f);
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* unit elfbench FILE...: "FILE NAME RC SECONDS SOURCE-OR-REASON" for every function
 * capture looks for, and "FILE (go version) RC SECONDS VERSION" */
static int elfbench(int argc, char **argv)
{
    static const char *const names[] = {
        "SSL_write", "SSL_read", "SSL_write_ex", "SSL_read_ex", "SSL_free", "gnutls_record_send",
        "gnutls_record_recv", "gnutls_deinit", "PR_Write", "PR_Send", "PR_Read", "PR_Recv", "PR_Close",
        "crypto/tls.(*Conn).Read", "crypto/tls.(*Conn).writeRecordLocked", "crypto/tls.(*Conn).serverHandshake",
        "crypto/tls.(*Conn).clientHandshake", "crypto/tls.(*Conn).Close"};
    for (int a = 0; a < argc; a++) {
        struct stat st;
        int fd = open(argv[a], O_RDONLY);
        const uint8_t *f = fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0
                               ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
        if (fd >= 0) close(fd);
        if (f == MAP_FAILED) return perror(argv[a]), 1;
        size_t n = (size_t)st.st_size;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            struct ecq_elf_func fn;
            uint32_t rets[64];
            size_t bad;
            double t = seconds();
            int rc = ecq_elf_find_func(f, n, names[i], &fn);
            if (rc == 0 && names[i][0] == 'c') (void)ecq_x86_find_returns(f + fn.offset, fn.size, rets, 64, &bad);
            printf("%s\t%s\t%d\t%.6f\t%s\n", argv[a], names[i], rc, seconds() - t, rc ? fn.why : fn.source);
        }
        char v[64];
        double t = seconds();
        int rc = ecq_go_version(f, n, v, sizeof v);
        printf("%s\t(go version)\t%d\t%.6f\t%s\n", argv[a], rc, seconds() - t, rc >= 0 ? v : "-");
        munmap((void *)f, n);
    }
    return 0;
}

/* unit insns FILE: the address of every instruction in FILE's .text as our decoder
 * sees it, one per line in hex, to compare with objdump's disassembly */
static int insns(const char *path)
{
    FILE *f = fopen(path, "rb");
    static uint8_t file[64 << 20];
    size_t n;
    if (!f) return 1;
    n = fread(file, 1, sizeof file, f);
    fclose(f);
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)file;
    if (n < sizeof *eh || eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > n) return 1;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(file + eh->e_shoff);
    const char *names = (const char *)file + sh[eh->e_shstrndx].sh_offset;
    for (int i = 0; i < eh->e_shnum; i++) {
        if (strcmp(names + sh[i].sh_name, ".text") != 0 || sh[i].sh_offset + sh[i].sh_size > n) continue;
        const uint8_t *code = file + sh[i].sh_offset;
        for (size_t off = 0; off < sh[i].sh_size;) {
            int len = ecq_x86_insn_len(code + off, sh[i].sh_size - off);
            printf("%llx\n", (unsigned long long)(sh[i].sh_addr + off));
            if (len <= 0) {
                printf("undecodable\n");
                return 1;
            }
            off += (size_t)len;
        }
        return 0;
    }
    return 1;
}

/* the kernel features and the line for a kernel without one (the probing itself runs
 * against the real kernel in ./test.sh deploy) */
static void test_kernel(void)
{
    const struct ecq_kernel_feature *f, *loop = NULL;
    char line[400], want[400];
    int n = 0, ascending = 1, probes = 1, prev = 0;
    for (; (f = ecq_kernel_feature(n)); n++) {
        ascending &= f->major * 1000 + f->minor >= prev;
        prev = f->major * 1000 + f->minor;
        probes &= f->map_type ? !f->prog_type && !f->helper : f->prog_type && f->helper;
        if (!strcmp(f->name, "bpf_loop")) loop = f;
    }
    CHECK("kernel: features oldest first, each a map type or a helper in a program type, bpf_loop (5.17) the newest",
          n >= 7 && ascending && probes && loop && loop->major == 5 && loop->minor == 17 && prev == 5017 &&
          !ecq_kernel_feature(-1) && !ecq_kernel_feature(n));
    ecq_kernel_lacks(line, sizeof line, loop, "5.15.0-91-generic");
    CHECK("kernel 5.15 (Ubuntu 22.04 GA) without bpf_loop: the feature, its kernel, the minimum",
          !strcmp(line, "kernel 5.15.0-91-generic lacks bpf_loop (Linux 5.17+; copies each payload in chunks): "
                        "capture needs Linux 5.17 or later"));
    ecq_kernel_lacks(line, sizeof line, loop, "6.1.0-13-amd64");
    CHECK("a kernel past the feature's release that still lacks it: its build leaves it out",
          !strcmp(line, "kernel 6.1.0-13-amd64 lacks bpf_loop (Linux 5.17+; copies each payload in chunks): "
                        "its build leaves it out, and capture needs it"));
    ecq_kernel_lacks(line, sizeof line, loop, NULL);
    CHECK("an unknown release: 'this kernel'", !strncmp(line, "this kernel lacks bpf_loop (Linux 5.17+;", 40) &&
                                                   strstr(line, "capture needs Linux 5.17 or later"));
    ecq_kernel_lacks(line, sizeof line, loop, "garbage");
    CHECK("a release that is not a version: 'this kernel'", !strncmp(line, "this kernel lacks", 17));
    int every = 1;
    for (int i = 0; (f = ecq_kernel_feature(i)); i++) { /* the release just before each feature's */
        char rel[32];
        snprintf(rel, sizeof rel, "%d.%d.0", f->minor ? f->major : f->major - 1, f->minor ? f->minor - 1 : 19);
        ecq_kernel_lacks(line, sizeof line, f, rel);
        snprintf(want, sizeof want, "kernel %s lacks %s (Linux %d.%d+; %s): capture needs Linux 5.17 or later", rel,
                 f->name, f->major, f->minor, f->use);
        every &= !strcmp(line, want);
    }
    CHECK("every feature, on the release before its own: named with its kernel, and the minimum 5.17", every);
    size_t len = ecq_kernel_lacks(line, 21, loop, "5.10.0-26-amd64");
    CHECK("the line is cut to the buffer, NUL-terminated", len == 20 && !strcmp(line, "kernel 5.10.0-26-amd"));
}

/* ---- HPACK (RFC 7541) ---- */

/* RFC 7541 Appendix B: every symbol's code (MSB first) and length; EOS last */
static const struct { uint32_t code; uint8_t len; } rfc7541_b[257] = {
    {0x1ff8, 13}, {0x7fffd8, 23}, {0xfffffe2, 28}, {0xfffffe3, 28}, {0xfffffe4, 28}, {0xfffffe5, 28},
    {0xfffffe6, 28}, {0xfffffe7, 28}, {0xfffffe8, 28}, {0xffffea, 24}, {0x3ffffffc, 30}, {0xfffffe9, 28},
    {0xfffffea, 28}, {0x3ffffffd, 30}, {0xfffffeb, 28}, {0xfffffec, 28}, {0xfffffed, 28}, {0xfffffee, 28},
    {0xfffffef, 28}, {0xffffff0, 28}, {0xffffff1, 28}, {0xffffff2, 28}, {0x3ffffffe, 30}, {0xffffff3, 28},
    {0xffffff4, 28}, {0xffffff5, 28}, {0xffffff6, 28}, {0xffffff7, 28}, {0xffffff8, 28}, {0xffffff9, 28},
    {0xffffffa, 28}, {0xffffffb, 28}, {0x14, 6}, {0x3f8, 10}, {0x3f9, 10}, {0xffa, 12},
    {0x1ff9, 13}, {0x15, 6}, {0xf8, 8}, {0x7fa, 11}, {0x3fa, 10}, {0x3fb, 10},
    {0xf9, 8}, {0x7fb, 11}, {0xfa, 8}, {0x16, 6}, {0x17, 6}, {0x18, 6},
    {0x0, 5}, {0x1, 5}, {0x2, 5}, {0x19, 6}, {0x1a, 6}, {0x1b, 6},
    {0x1c, 6}, {0x1d, 6}, {0x1e, 6}, {0x1f, 6}, {0x5c, 7}, {0xfb, 8},
    {0x7ffc, 15}, {0x20, 6}, {0xffb, 12}, {0x3fc, 10}, {0x1ffa, 13}, {0x21, 6},
    {0x5d, 7}, {0x5e, 7}, {0x5f, 7}, {0x60, 7}, {0x61, 7}, {0x62, 7},
    {0x63, 7}, {0x64, 7}, {0x65, 7}, {0x66, 7}, {0x67, 7}, {0x68, 7},
    {0x69, 7}, {0x6a, 7}, {0x6b, 7}, {0x6c, 7}, {0x6d, 7}, {0x6e, 7},
    {0x6f, 7}, {0x70, 7}, {0x71, 7}, {0x72, 7}, {0xfc, 8}, {0x73, 7},
    {0xfd, 8}, {0x1ffb, 13}, {0x7fff0, 19}, {0x1ffc, 13}, {0x3ffc, 14}, {0x22, 6},
    {0x7ffd, 15}, {0x3, 5}, {0x23, 6}, {0x4, 5}, {0x24, 6}, {0x5, 5},
    {0x25, 6}, {0x26, 6}, {0x27, 6}, {0x6, 5}, {0x74, 7}, {0x75, 7},
    {0x28, 6}, {0x29, 6}, {0x2a, 6}, {0x7, 5}, {0x2b, 6}, {0x76, 7},
    {0x2c, 6}, {0x8, 5}, {0x9, 5}, {0x2d, 6}, {0x77, 7}, {0x78, 7},
    {0x79, 7}, {0x7a, 7}, {0x7b, 7}, {0x7ffe, 15}, {0x7fc, 11}, {0x3ffd, 14},
    {0x1ffd, 13}, {0xffffffc, 28}, {0xfffe6, 20}, {0x3fffd2, 22}, {0xfffe7, 20}, {0xfffe8, 20},
    {0x3fffd3, 22}, {0x3fffd4, 22}, {0x3fffd5, 22}, {0x7fffd9, 23}, {0x3fffd6, 22}, {0x7fffda, 23},
    {0x7fffdb, 23}, {0x7fffdc, 23}, {0x7fffdd, 23}, {0x7fffde, 23}, {0xffffeb, 24}, {0x7fffdf, 23},
    {0xffffec, 24}, {0xffffed, 24}, {0x3fffd7, 22}, {0x7fffe0, 23}, {0xffffee, 24}, {0x7fffe1, 23},
    {0x7fffe2, 23}, {0x7fffe3, 23}, {0x7fffe4, 23}, {0x1fffdc, 21}, {0x3fffd8, 22}, {0x7fffe5, 23},
    {0x3fffd9, 22}, {0x7fffe6, 23}, {0x7fffe7, 23}, {0xffffef, 24}, {0x3fffda, 22}, {0x1fffdd, 21},
    {0xfffe9, 20}, {0x3fffdb, 22}, {0x3fffdc, 22}, {0x7fffe8, 23}, {0x7fffe9, 23}, {0x1fffde, 21},
    {0x7fffea, 23}, {0x3fffdd, 22}, {0x3fffde, 22}, {0xfffff0, 24}, {0x1fffdf, 21}, {0x3fffdf, 22},
    {0x7fffeb, 23}, {0x7fffec, 23}, {0x1fffe0, 21}, {0x1fffe1, 21}, {0x3fffe0, 22}, {0x1fffe2, 21},
    {0x7fffed, 23}, {0x3fffe1, 22}, {0x7fffee, 23}, {0x7fffef, 23}, {0xfffea, 20}, {0x3fffe2, 22},
    {0x3fffe3, 22}, {0x3fffe4, 22}, {0x7ffff0, 23}, {0x3fffe5, 22}, {0x3fffe6, 22}, {0x7ffff1, 23},
    {0x3ffffe0, 26}, {0x3ffffe1, 26}, {0xfffeb, 20}, {0x7fff1, 19}, {0x3fffe7, 22}, {0x7ffff2, 23},
    {0x3fffe8, 22}, {0x1ffffec, 25}, {0x3ffffe2, 26}, {0x3ffffe3, 26}, {0x3ffffe4, 26}, {0x7ffffde, 27},
    {0x7ffffdf, 27}, {0x3ffffe5, 26}, {0xfffff1, 24}, {0x1ffffed, 25}, {0x7fff2, 19}, {0x1fffe3, 21},
    {0x3ffffe6, 26}, {0x7ffffe0, 27}, {0x7ffffe1, 27}, {0x3ffffe7, 26}, {0x7ffffe2, 27}, {0xfffff2, 24},
    {0x1fffe4, 21}, {0x1fffe5, 21}, {0x3ffffe8, 26}, {0x3ffffe9, 26}, {0xffffffd, 28}, {0x7ffffe3, 27},
    {0x7ffffe4, 27}, {0x7ffffe5, 27}, {0xfffec, 20}, {0xfffff3, 24}, {0xfffed, 20}, {0x1fffe6, 21},
    {0x3fffe9, 22}, {0x1fffe7, 21}, {0x1fffe8, 21}, {0x7ffff3, 23}, {0x3fffea, 22}, {0x3fffeb, 22},
    {0x1ffffee, 25}, {0x1ffffef, 25}, {0xfffff4, 24}, {0xfffff5, 24}, {0x3ffffea, 26}, {0x7ffff4, 23},
    {0x3ffffeb, 26}, {0x7ffffe6, 27}, {0x3ffffec, 26}, {0x3ffffed, 26}, {0x7ffffe7, 27}, {0x7ffffe8, 27},
    {0x7ffffe9, 27}, {0x7ffffea, 27}, {0x7ffffeb, 27}, {0xffffffe, 28}, {0x7ffffec, 27}, {0x7ffffed, 27},
    {0x7ffffee, 27}, {0x7ffffef, 27}, {0x7fffff0, 27}, {0x3ffffee, 26}, {0x3fffffff, 30},
};

static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = 0;
    for (; *s; s++) {
        if (*s == ' ' || *s == '\n') continue;
        unsigned v;
        sscanf(s, "%2x", &v);
        out[n++] = (uint8_t)v;
        s++;
    }
    return n;
}

struct hlist { char text[2048]; size_t len; };

static void hlist_add(void *user, const struct ecq_header *hd)
{
    struct hlist *l = user;
    l->len += (size_t)snprintf(l->text + l->len, sizeof l->text - l->len, "%.*s: %.*s%s\n", (int)hd->name.len,
                               hd->name.ptr, (int)hd->value.len, hd->value.ptr,
                               hd->flags & (ECQ_HDR_NAME_UNKNOWN | ECQ_HDR_VALUE_UNKNOWN) ? " (unknown)" : "");
}

/* The dynamic table as the RFC prints it: "[  1] (s =  57) name: value" lines, then the size */
static void htable(const struct ecq_hpack *h, char *out, size_t cap)
{
    size_t n = 0;
    struct ecq_header e;
    for (uint32_t i = 0; i < h->count && ecq_hpack_entry(h, 62 + i, &e); i++)
        n += (size_t)snprintf(out + n, cap - n, "[%3u] (s = %3zu) %.*s: %.*s\n", i + 1, e.name.len + e.value.len + 32,
                              (int)e.name.len, e.name.ptr, (int)e.value.len, e.value.ptr);
    snprintf(out + n, cap - n, "      Table size: %3u\n", h->size);
}

/* Decodes one block (hex) and compares the header list and the table after it. */
static int hpack_step(struct ecq_hpack *h, const char *hexblock, const char *want_list, const char *want_table)
{
    uint8_t block[512];
    struct hlist l = {"", 0};
    char table[2048];
    const char *why;
    size_t n = unhex(hexblock, block);
    int got = ecq_hpack_decode(h, block, n, hlist_add, &l, &why);
    htable(h, table, sizeof table);
    int ok = got >= 0 && !strcmp(l.text, want_list) && !strcmp(table, want_table);
    if (!ok) printf("# got %d\n%s# table\n%s", got, l.text, table);
    return ok;
}

static const char c3_list1[] = ":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\n";
static const char c3_list2[] = ":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\ncache-control: no-cache\n";
static const char c3_list3[] = ":method: GET\n:scheme: https\n:path: /index.html\n:authority: www.example.com\ncustom-key: custom-value\n";
static const char c3_table1[] = "[  1] (s =  57) :authority: www.example.com\n      Table size:  57\n";
static const char c3_table2[] = "[  1] (s =  53) cache-control: no-cache\n[  2] (s =  57) :authority: www.example.com\n      Table size: 110\n";
static const char c3_table3[] = "[  1] (s =  54) custom-key: custom-value\n[  2] (s =  53) cache-control: no-cache\n"
                                "[  3] (s =  57) :authority: www.example.com\n      Table size: 164\n";
static const char c5_list1[] = ":status: 302\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:21 GMT\nlocation: https://www.example.com\n";
static const char c5_list2[] = ":status: 307\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:21 GMT\nlocation: https://www.example.com\n";
static const char c5_list3[] = ":status: 200\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:22 GMT\nlocation: https://www.example.com\n"
                               "content-encoding: gzip\nset-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1\n";
static const char c5_table1[] = "[  1] (s =  63) location: https://www.example.com\n[  2] (s =  65) date: Mon, 21 Oct 2013 20:13:21 GMT\n"
                                "[  3] (s =  52) cache-control: private\n[  4] (s =  42) :status: 302\n      Table size: 222\n";
static const char c5_table2[] = "[  1] (s =  42) :status: 307\n[  2] (s =  63) location: https://www.example.com\n"
                                "[  3] (s =  65) date: Mon, 21 Oct 2013 20:13:21 GMT\n[  4] (s =  52) cache-control: private\n      Table size: 222\n";
static const char c5_table3[] = "[  1] (s =  98) set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1\n"
                                "[  2] (s =  52) content-encoding: gzip\n[  3] (s =  65) date: Mon, 21 Oct 2013 20:13:22 GMT\n      Table size: 215\n";

/* RFC 7541 Appendix C.2-C.6 as steps: a block (hex), the header list and table after it;
 * reset: a new decoder (with SETTINGS_HEADER_TABLE_SIZE cap) before the step */
struct hpack_vec { const char *name; int reset; uint32_t cap; const char *hex, *list, *table; };
#define EMPTY_TABLE "      Table size:   0\n"
static const struct hpack_vec hpack_rfc[] = {
    {"C.2.1 literal with indexing", 1, 4096, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
     "custom-key: custom-header\n", "[  1] (s =  55) custom-key: custom-header\n      Table size:  55\n"},
    {"C.2.2 literal without indexing", 1, 4096, "040c 2f73 616d 706c 652f 7061 7468", ":path: /sample/path\n", EMPTY_TABLE},
    {"C.2.3 literal never indexed", 1, 4096, "1008 7061 7373 776f 7264 0673 6563 7265 74", "password: secret\n", EMPTY_TABLE},
    {"C.2.4 indexed field", 1, 4096, "82", ":method: GET\n", EMPTY_TABLE},
    {"C.3.1 first request", 1, 4096, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", c3_list1, c3_table1},
    {"C.3.2 second request", 0, 0, "8286 84be 5808 6e6f 2d63 6163 6865", c3_list2, c3_table2},
    {"C.3.3 third request", 0, 0, "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65", c3_list3, c3_table3},
    {"C.4.1 first request, Huffman", 1, 4096, "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", c3_list1, c3_table1},
    {"C.4.2 second request, Huffman", 0, 0, "8286 84be 5886 a8eb 1064 9cbf", c3_list2, c3_table2},
    {"C.4.3 third request, Huffman", 0, 0, "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", c3_list3, c3_table3},
    {"C.5.1 first response", 1, 256, "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133"
     "2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", c5_list1, c5_table1},
    {"C.5.2 second response (evicts :status 302)", 0, 0, "4803 3330 37c1 c0bf", c5_list2, c5_table2},
    {"C.5.3 third response (evicts during the block)", 0, 0, "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420"
     "3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049"
     "5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31", c5_list3, c5_table3},
    {"C.6.1 first response, Huffman", 1, 256, "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005"
     "9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3", c5_list1, c5_table1},
    {"C.6.2 second response, Huffman", 0, 0, "4883 640e ffc1 c0bf", c5_list2, c5_table2},
    {"C.6.3 third response, Huffman", 0, 0, "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d"
     "1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0"
     "03ed 4ee5 b106 3d50 07", c5_list3, c5_table3},
    /* attached mid-connection: C.3.3's block alone, entry 63 never seen; then the entry added since */
    {"attached mid-connection: a dynamic index never seen is unknown, the rest decodes", 1, 4096,
     "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
     ":method: GET\n:scheme: https\n:path: /index.html\n:  (unknown)\ncustom-key: custom-value\n",
     "[  1] (s =  54) custom-key: custom-value\n      Table size:  54\n"},
    {"attached mid-connection: the entry added since is known at 62, older ones unknown", 0, 0, "be bf 7f00 036f 6e65",
     "custom-key: custom-value\n:  (unknown)\n: one (unknown)\n", "[  1] (s =  35) : one\n[  2] (s =  54) custom-key: custom-value\n      Table size:  89\n"},
};

static void test_hpack_rfc(void)
{
    struct ecq_hpack h;
    ecq_hpack_init(&h);
    for (size_t i = 0; i < sizeof hpack_rfc / sizeof *hpack_rfc; i++) {
        const struct hpack_vec *v = &hpack_rfc[i];
        char name[160];
        if (v->reset) ecq_hpack_free(&h), ecq_hpack_init(&h), h.cap = v->cap;
        snprintf(name, sizeof name, "hpack %s", v->name);
        CHECK(name, hpack_step(&h, v->hex, v->list, v->table));
    }
    ecq_hpack_free(&h);
}

static void json_str(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* hpack.json for the viewer's decoder (tests/web/hpack.mjs): each step of hpack_rfc as
 * this decoder decodes it (list, table, unknown references), the static table, and
 * every symbol's Huffman code padded to a byte boundary */
static int hpack_samples(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/hpack.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    struct ecq_hpack h;
    ecq_hpack_init(&h);
    fputs("{\"steps\": [\n", f);
    for (size_t i = 0; i < sizeof hpack_rfc / sizeof *hpack_rfc; i++) {
        const struct hpack_vec *v = &hpack_rfc[i];
        uint8_t block[512];
        struct hlist l = {"", 0};
        char table[2048];
        const char *why;
        if (v->reset) ecq_hpack_free(&h), ecq_hpack_init(&h), h.cap = v->cap;
        size_t n = unhex(v->hex, block);
        int got = ecq_hpack_decode(&h, block, n, hlist_add, &l, &why);
        htable(&h, table, sizeof table);
        fprintf(f, "%s{\"name\": ", i ? ",\n" : "");
        json_str(f, v->name, strlen(v->name));
        fprintf(f, ", \"reset\": %d, \"cap\": %u, \"hex\": ", v->reset, v->cap);
        json_str(f, v->hex, strlen(v->hex));
        fprintf(f, ", \"rc\": %d, \"unknown\": %u, \"list\": ", got, (unsigned)h.unknown);
        json_str(f, l.text, l.len);
        fputs(", \"table\": ", f);
        json_str(f, table, strlen(table));
        fputc('}', f);
    }
    ecq_hpack_free(&h);
    fputs("],\n\"static\": [", f);
    for (uint32_t i = 1; i <= 61; i++) {
        struct ecq_header e;
        ecq_hpack_entry(&h, i, &e);
        fputs(i > 1 ? ", [" : "[", f);
        json_str(f, e.name.ptr, e.name.len);
        fputs(", ", f);
        json_str(f, e.value.ptr, e.value.len);
        fputc(']', f);
    }
    fputs("],\n\"huffman\": [", f);
    for (int s = 0; s < 256; s++) {
        unsigned len = rfc7541_b[s].len, bytes = (len + 7) / 8;
        uint64_t bits = (uint64_t)rfc7541_b[s].code << (64 - len) | ((1ull << (64 - len)) - 1);
        fprintf(f, "%s\"", s ? ", " : "");
        for (unsigned i = 0; i < bytes; i++) fprintf(f, "%02x", (unsigned)(uint8_t)(bits >> (56 - 8 * i)));
        fputc('"', f);
    }
    fputs("]}\n", f);
    return fclose(f) ? 1 : 0;
}

/* C.1 integers; every code of Appendix B; what the decoder refuses */
static void test_hpack_codes(void)
{
    uint32_t v = 0;
    uint8_t i1[] = {0x0a}, i2[] = {0x1f, 0x9a, 0x0a}, i3[] = {0x2a}, big[] = {0x1f, 0xff, 0xff, 0xff, 0xff, 0x0f};
    CHECK("hpack C.1.1 10 on a 5-bit prefix", ecq_hpack_int(i1, 1, 5, &v) == 1 && v == 10);
    CHECK("hpack C.1.2 1337 on a 5-bit prefix", ecq_hpack_int(i2, 3, 5, &v) == 3 && v == 1337);
    CHECK("hpack C.1.2 cut short: incomplete", ecq_hpack_int(i2, 2, 5, &v) == 0);
    CHECK("hpack C.1.3 42 on an 8-bit prefix", ecq_hpack_int(i3, 1, 8, &v) == 1 && v == 42);
    CHECK("hpack an integer over 32 bits is refused", ecq_hpack_int(big, 6, 5, &v) == -1);
    int all = 1;
    for (int s = 0; s < 256; s++) { /* each code, padded with the EOS prefix (1s) to a byte boundary */
        uint8_t in[8] = {0}, out[4];
        unsigned len = rfc7541_b[s].len, bytes = (len + 7) / 8;
        uint64_t bits = (uint64_t)rfc7541_b[s].code << (64 - len) | ((1ull << (64 - len)) - 1);
        for (unsigned i = 0; i < bytes; i++) in[i] = (uint8_t)(bits >> (56 - 8 * i));
        if (ecq_hpack_huffman_decode(in, bytes, out, sizeof out) != 1 || out[0] != s) all = 0;
    }
    CHECK("hpack Appendix B: each of the 256 codes decodes to its symbol", all);
    uint8_t eos[] = {0xff, 0xff, 0xff, 0xff}, pad8[] = {0x1f, 0xff}, zero_pad[] = {0x00}, out[16];
    CHECK("hpack Huffman: EOS in a string is refused", ecq_hpack_huffman_decode(eos, 4, out, sizeof out) == -1);
    CHECK("hpack Huffman: padding over 7 bits is refused", ecq_hpack_huffman_decode(pad8, 2, out, sizeof out) == -1);
    CHECK("hpack Huffman: padding not of 1s is refused", ecq_hpack_huffman_decode(zero_pad, 1, out, sizeof out) == -1);
}

/* Attached mid-connection: references to entries never seen are unknown, literals decode */
static void test_hpack_late(void)
{
    struct ecq_hpack h;
    ecq_hpack_init(&h);
    /* C.3.3's block alone: bf (entry 63, never seen) is unknown; the literal is added */
    CHECK("hpack mid-connection: a dynamic index never seen is unknown, the rest decodes",
          hpack_step(&h, "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
                     ":method: GET\n:scheme: https\n:path: /index.html\n:  (unknown)\ncustom-key: custom-value\n",
                     "[  1] (s =  54) custom-key: custom-value\n      Table size:  54\n") && h.unknown == 1);
    CHECK("hpack mid-connection: the entry added since is known at 62, older ones unknown",
          hpack_step(&h, "be bf 7f00 036f 6e65", "custom-key: custom-value\n:  (unknown)\n: one (unknown)\n",
                     "[  1] (s =  35) : one\n[  2] (s =  54) custom-key: custom-value\n      Table size:  89\n") &&
          h.unknown == 3);
    ecq_hpack_free(&h), ecq_hpack_init(&h);
    h.cap = 100;
    CHECK("hpack size update to 0 empties the table, then a new size keeps entries",
          hpack_step(&h, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572", "custom-key: custom-header\n",
                     "[  1] (s =  55) custom-key: custom-header\n      Table size:  55\n") &&
          hpack_step(&h, "20 3f45 be", ":  (unknown)\n", "      Table size:   0\n") && h.cap == 100);
    CHECK("hpack an entry larger than the table empties it and is not added",
          hpack_step(&h, "82 4005 6162 6364 6545 3132 3334 3536 3738 3930 3132 3334 3536 3738 3930 3132 3334 3536 3738"
                     "3930 3132 3334 3536 3738 3930 3132 3334 3536 3738 3930 3132 3334 3536 3738 3930 3132 3334 3536 3738 3930",
                     ":method: GET\nabcde: 123456789012345678901234567890123456789012345678901234567890123456789\n",
                     "      Table size:   0\n"));
    const char *why = NULL;
    uint8_t bad[] = {0x80}, cut[] = {0x40, 0x05, 'a'}, bigsize[] = {0x3f, 0xe1, 0xff, 0x7f};
    CHECK("hpack index 0 is refused with a reason", ecq_hpack_decode(&h, bad, 1, NULL, NULL, &why) == -1 && why);
    CHECK("hpack a literal running past the block is refused", ecq_hpack_decode(&h, cut, 3, NULL, NULL, &why) == -1 && h.late);
    CHECK("hpack a size update over the bound keeps the bound",
          ecq_hpack_decode(&h, bigsize, 4, NULL, NULL, &why) == 0 && h.cap == ECQ_HPACK_MAX_TABLE);
    ecq_hpack_free(&h);
}

/* ---- HTTP/2 frames, gRPC, schema-less protobuf ---- */

struct h2log { char text[8192]; size_t len; size_t data; };

static void h2log_add(void *user, const struct ecq_h2_item *it)
{
    struct h2log *l = user;
    char *o = l->text + l->len;
    size_t room = sizeof l->text - l->len;
    int n = 0;
    switch (it->kind) {
    case ECQ_H2_PREFACE: n = snprintf(o, room, "%d preface\n", it->dir); break;
    case ECQ_H2_FRAME: n = snprintf(o, room, "%d %s s%u f%x l%u\n", it->dir, ecq_h2_frame_name(it->type), it->stream, it->flags, it->length); break;
    case ECQ_H2_FRAME_END: n = snprintf(o, room, "%d end%s\n", it->dir, it->cut ? " cut" : ""); break;
    case ECQ_H2_HEADER:
        n = snprintf(o, room, "%d %.*s: %.*s%s\n", it->dir, (int)it->header.name.len, it->header.name.ptr, (int)it->header.value.len,
                     it->header.value.ptr, it->header.flags & ECQ_HDR_VALUE_UNKNOWN ? " (unknown)" : "");
        break;
    case ECQ_H2_DATA: n = snprintf(o, room, "%d data %.*s\n", it->dir, (int)it->data.len, it->data.ptr); l->data += it->data.len; break;
    case ECQ_H2_GRPC: {
        char pb[256];
        ecq_pb_text((const uint8_t *)it->data.ptr, it->data.len, pb, sizeof pb);
        n = snprintf(o, room, "%d grpc s%u %u: %s\n", it->dir, it->stream, it->length, pb);
        break;
    }
    case ECQ_H2_NOTE: n = snprintf(o, room, "%d note %.*s\n", it->dir, (int)it->data.len, it->data.ptr); break;
    }
    if (n > 0 && (size_t)n < room) l->len += (size_t)n;
}

static size_t h2frame(uint8_t *out, int type, int flags, uint32_t stream, const void *payload, size_t len)
{
    out[0] = (uint8_t)(len >> 16), out[1] = (uint8_t)(len >> 8), out[2] = (uint8_t)len;
    out[3] = (uint8_t)type, out[4] = (uint8_t)flags;
    out[5] = (uint8_t)(stream >> 24), out[6] = (uint8_t)(stream >> 16), out[7] = (uint8_t)(stream >> 8), out[8] = (uint8_t)stream;
    if (len) memcpy(out + 9, payload, len);
    return 9 + len;
}

/* feeds buf in pieces of step bytes (0: whole), returns the log */
static void h2feed(struct ecq_h2 *c, int dir, const uint8_t *buf, size_t n, size_t step, struct h2log *l)
{
    if (!step) step = n;
    for (size_t i = 0; i < n; i += step) ecq_h2_feed(c, dir, buf + i, n - i < step ? n - i : step, h2log_add, l);
}

static const char h2_client_log[] =
    "0 preface\n0 SETTINGS s0 f0 l6\n0 end\n0 HEADERS s1 f5 l17\n0 :method: GET\n0 :scheme: http\n0 :path: /\n"
    "0 :authority: www.example.com\n0 end\n";

static void test_h2_client(void)
{
    uint8_t buf[256], block[32], settings[6] = {0, 4, 0, 0, 0x40, 0};
    size_t n = sizeof "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" - 1;
    memcpy(buf, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", n);
    n += h2frame(buf + n, 4, 0, 0, settings, 6);
    size_t bl = unhex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", block);
    n += h2frame(buf + n, 1, 5, 1, block, bl);
    int same = 1;
    for (size_t step = 0; step <= 10; step++) {
        struct ecq_h2 c;
        struct h2log l = {"", 0, 0};
        ecq_h2_init(&c);
        h2feed(&c, 0, buf, n, step, &l);
        if (strcmp(l.text, h2_client_log) || c.client != 0) same = 0, printf("# step %zu\n%s", step, l.text);
        if (step == 0)
            CHECK("h2 client: the preface makes its side the client, a request's frames are typed 2, the other side's 4",
                  ecq_h2_type(&c, 0) == ECQ_TYPE_HTTP2_REQUEST && ecq_h2_type(&c, 1) == ECQ_TYPE_UNKNOWN);
        uint8_t hd[9];
        h2frame(hd, 4, 1, 0, NULL, 0);
        ecq_h2_feed(&c, 1, hd, 9, h2log_add, &l);
        if (step == 0) CHECK("h2 a lone 9-byte frame header from the server is typed 4", ecq_h2_type(&c, 1) == ECQ_TYPE_HTTP2_RESPONSE);
        ecq_h2_free(&c);
    }
    CHECK("h2 preface, SETTINGS, HEADERS (C.4.1): the same items whole and fed 1..10 bytes at a time", same);
}

static void test_h2_frames(void)
{
    uint8_t buf[1024], p[300];
    size_t n = 0;
    struct ecq_h2 c;
    struct h2log l = {"", 0, 0};
    /* HEADERS padded (3) with priority, the block split into a CONTINUATION */
    p[0] = 3, memset(p + 1, 0, 5), p[6] = 0x88, p[7] = 0x5f, p[8] = 0x0a; /* :status 200, content-type (literal, indexed name) */
    memset(p + 9, 0, 3);
    n += h2frame(buf + n, 1, 0x8 | 0x20, 3, p, 12);
    n += h2frame(buf + n, 9, 0x4, 3, "text/plain", 10);
    /* DATA padded: "hello world" with 4 bytes of padding, then an empty DATA ending the stream */
    p[0] = 4, memcpy(p + 1, "hello world", 11), memset(p + 12, 0, 4);
    n += h2frame(buf + n, 0, 0x8, 3, p, 16);
    n += h2frame(buf + n, 0, 0x1, 3, NULL, 0);
    n += h2frame(buf + n, 3, 0, 5, "\0\0\0\x08", 4);
    n += h2frame(buf + n, 8, 0, 0, "\0\0\x10\0", 4);
    n += h2frame(buf + n, 7, 0, 0, "\0\0\0\x03\0\0\0\0bye", 11);
    ecq_h2_init(&c);
    h2feed(&c, 1, buf, n, 0, &l);
    CHECK("h2 HEADERS padded with priority + CONTINUATION, padded DATA, RST_STREAM, WINDOW_UPDATE, GOAWAY",
          !strcmp(l.text, "1 HEADERS s3 f28 l12\n1 end\n1 CONTINUATION s3 f4 l10\n1 :status: 200\n1 content-type: text/plain\n1 end\n"
                          "1 DATA s3 f8 l16\n1 data hello world\n1 end\n1 DATA s3 f1 l0\n1 end\n1 RST_STREAM s5 f0 l4\n1 end\n"
                          "1 WINDOW_UPDATE s0 f0 l4\n1 end\n1 GOAWAY s0 f0 l11\n1 end\n"));
    CHECK("h2 the side that answers :status is the server", c.client == 0);
    struct h2log l2 = {"", 0, 0};
    ecq_h2_free(&c), ecq_h2_init(&c);
    h2feed(&c, 1, buf, n, 1, &l2);
    CHECK("h2 the same fed a byte at a time: the same frames, the same bytes of data",
          l2.data == 11 && strstr(l2.text, "1 :status: 200\n1 content-type: text/plain\n") && strstr(l2.text, "GOAWAY s0 f0 l11\n1 end\n"));
    ecq_h2_free(&c);
}

static void test_h2_hostile(void)
{
    static uint8_t buf[16384 + 9], junk[64];
    struct ecq_h2 c;
    struct h2log l = {"", 0, 0};
    ecq_h2_init(&c);
    memset(buf + 9, 0x82, 16384);
    h2frame(buf, 1, 0, 1, NULL, 0), buf[2] = 0, buf[1] = 0x40; /* HEADERS of 16384 bytes, no END_HEADERS */
    ecq_h2_feed(&c, 0, buf, sizeof buf, h2log_add, &l);
    buf[3] = 9;
    for (int i = 0; i < 300; i++) ecq_h2_feed(&c, 0, buf, sizeof buf, h2log_add, &l); /* 4.9 MB of CONTINUATION */
    buf[4] = 4;
    l.len = 0, l.text[0] = 0;
    ecq_h2_feed(&c, 0, buf, sizeof buf, h2log_add, &l);
    CHECK("h2 a header block of 4.9 MB (endless CONTINUATION) is cut with a note, not decoded",
          strstr(l.text, "note header block of 4947968 bytes over 262144: not decoded") != NULL);
    memset(junk, 'x', sizeof junk);
    struct h2log l2 = {"", 0, 0};
    ecq_h2_free(&c), ecq_h2_init(&c);
    ecq_h2_feed(&c, 1, junk, sizeof junk, h2log_add, &l2);
    uint8_t ping[32];
    size_t pn = h2frame(ping, 6, 0, 0, "12345678", 8);
    ecq_h2_feed(&c, 1, ping, pn, h2log_add, &l2);
    CHECK("h2 attached mid-connection: bytes that are no frame are skipped with a note, the next call decodes",
          !strcmp(l2.text, "1 note not an HTTP/2 frame here: the rest of this read is skipped\n1 PING s0 f0 l8\n1 end\n"));
    ecq_h2_free(&c);
}

static void test_h2_grpc(void)
{
    uint8_t buf[512], p[128];
    size_t n = 0;
    struct ecq_h2 c;
    struct h2log l = {"", 0, 0};
    /* :method POST, :path /echo.Echo/Say (literal, indexed name 4), content-type application/grpc */
    size_t k = 0;
    p[k++] = 0x83, p[k++] = 0x04, p[k++] = 13, memcpy(p + k, "/echo.Echo/Say", 14), p[k - 1] = 14, k += 14;
    p[k++] = 0x0f, p[k++] = 0x10, p[k++] = 16, memcpy(p + k, "application/grpc", 16), k += 16;
    n += h2frame(buf + n, 1, 4, 1, p, k);
    /* one message of 13 bytes: 1: "hello" 2: 150 3 {1: 7}, split over two DATA frames */
    static const uint8_t msg[] = {0, 0, 0, 0, 14, 0x0a, 5, 'h', 'e', 'l', 'l', 'o', 0x10, 0x96, 0x01, 0x1a, 2, 0x08, 7};
    n += h2frame(buf + n, 0, 0, 1, msg, 8);
    n += h2frame(buf + n, 0, 1, 1, msg + 8, sizeof msg - 8);
    ecq_h2_init(&c);
    h2feed(&c, 0, buf, n, 3, &l);
    CHECK("grpc: the message split over two DATA frames is one message, shown as schema-less protobuf",
          strstr(l.text, "0 :path: /echo.Echo/Say\n") && strstr(l.text, "0 grpc s1 14: 1: \"hello\" 2: 150 3 {1: 7}\n"));
    ecq_h2_free(&c);
    char out[64];
    static const uint8_t fixed[] = {0x09, 1, 0, 0, 0, 0, 0, 0, 0, 0x15, 2, 0, 0, 0, 0x22, 2, 0xff, 0xfe}, bad[] = {0x0a, 9, 1};
    CHECK("pb text: fixed64, fixed32, bytes as hex", ecq_pb_text(fixed, sizeof fixed, out, sizeof out) &&
          !strcmp(out, "1: 0x0000000000000001 2: 0x00000002 4: 0xfffe"));
    CHECK("pb text: a length past the end is no message", !ecq_pb_text(bad, sizeof bad, out, sizeof out));
    CHECK("pb text: cut at the buffer with ...", ecq_pb_text(fixed, sizeof fixed, out, 12) && !strcmp(out, "1: 0x000..."));
}

/* ---- HTTP/1.x messages ---- */

struct h1log { char text[8192]; size_t len; int last; }; /* last: 1 + dir after a body line */

static void h1log_add(void *user, const struct ecq_h1_item *it)
{
    struct h1log *l = user;
    char *o = l->text + l->len;
    size_t room = sizeof l->text - l->len;
    int n = 0, line = (int)strcspn(it->data.ptr ? it->data.ptr : "", "\r\n");
    switch (it->kind) {
    case ECQ_H1_HEAD: n = snprintf(o, room, "%d head %.*s [%.*s]\n", it->dir, line, it->data.ptr, (int)it->method.len, it->method.ptr); break;
    case ECQ_H1_BODY: /* consecutive pieces of one body join on one line */
        if (l->last == 1 + it->dir && l->len) o--, room++, l->len--;
        else n = snprintf(o, room, "%d body%s ", it->dir, it->decoded ? "(z)" : "");
        if (n > 0 && (size_t)n < room) o += n, room -= (size_t)n, l->len += (size_t)n;
        n = snprintf(o, room, "%.*s\n", (int)it->data.len, it->data.ptr);
        break;
    case ECQ_H1_END: n = snprintf(o, room, "%d end %llu\n", it->dir, (unsigned long long)it->body_len); break;
    case ECQ_H1_RAW: n = snprintf(o, room, "%d raw %zu\n", it->dir, it->data.len); break;
    case ECQ_H1_NOTE: n = snprintf(o, room, "%d note %.*s\n", it->dir, (int)it->data.len, it->data.ptr); break;
    }
    if (n > 0 && (size_t)n < room) l->len += (size_t)n;
    l->last = it->kind == ECQ_H1_BODY ? 1 + it->dir : 0;
}

static void h1feed(struct ecq_h1 *c, int dir, const char *s, size_t step, struct h1log *l)
{
    size_t n = strlen(s);
    if (!step) step = n;
    for (size_t i = 0; i < n; i += step) ecq_h1_feed(c, dir, s + i, n - i < step ? n - i : step, h1log_add, l);
}

static const char h1_req[] = "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloHEAD /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n"
                             "DELETE /d HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /e HTTP/1.1\r\n\r\n";
static const char h1_resp[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n"
                              "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
                              "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\nHTTP/1.1 200 OK\r\n\r\nto the close";
static const char h1_want[] =
    "0 head POST /a HTTP/1.1 [POST]\n0 body hello\n0 end 5\n0 head HEAD /b HTTP/1.1 [HEAD]\n0 end 0\n"
    "0 head GET /c HTTP/1.1 [GET]\n0 end 0\n0 head DELETE /d HTTP/1.1 [DELETE]\n0 body abc\n0 end 3\n0 head GET /e HTTP/1.1 [GET]\n0 end 0\n"
    "1 head HTTP/1.1 100 Continue []\n1 end 0\n1 head HTTP/1.1 200 OK [POST]\n1 body wikipedia\n1 end 9\n"
    "1 head HTTP/1.1 200 OK [HEAD]\n1 end 0\n1 head HTTP/1.1 204 No Content [GET]\n1 end 0\n"
    "1 head HTTP/1.1 304 Not Modified [DELETE]\n1 end 0\n1 head HTTP/1.1 200 OK [GET]\n1 body to the close\n1 end 12\n";

static void test_h1(void)
{
    int same = 1;
    for (size_t step = 0; step <= 7; step++) {
        struct ecq_h1 c;
        struct h1log l = {"", 0, 0};
        ecq_h1_init(&c);
        h1feed(&c, 0, h1_req, step, &l);
        h1feed(&c, 1, h1_resp, step, &l);
        ecq_h1_close(&c, h1log_add, &l);
        if (strcmp(l.text, h1_want)) same = 0, printf("# step %zu\n%s", step, l.text);
        ecq_h1_free(&c);
    }
    CHECK("h1 Content-Length, chunked (extension, trailer), pipelining, 1xx, HEAD/204/304 without a body, "
          "a body to the close: the same whole and fed 1..7 bytes at a time", same);
    struct ecq_h1 c;
    struct h1log l = {"", 0, 0};
    ecq_h1_init(&c);
    h1feed(&c, 0, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 0, &l);
    h1feed(&c, 1, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi", 0, &l);
    h1feed(&c, 0, "\x81\x82....ab", 0, &l);
    CHECK("h1 101 Switching Protocols hands both directions to raw",
          !strcmp(l.text, "0 head GET /ws HTTP/1.1 [GET]\n0 end 0\n1 head HTTP/1.1 101 Switching Protocols [GET]\n1 end 0\n1 raw 4\n0 raw 8\n"));
    ecq_h1_free(&c), ecq_h1_init(&c);
    l.len = 0, l.text[0] = 0;
    h1feed(&c, 0, "CONNECT a:443 HTTP/1.1\r\n\r\n", 0, &l);
    h1feed(&c, 1, "HTTP/1.1 200 OK\r\n\r\n\x16\x03\x01", 0, &l);
    CHECK("h1 a CONNECT's 2xx hands the connection to raw", strstr(l.text, "1 head HTTP/1.1 200 OK [CONNECT]\n1 end 0\n1 raw 3\n") != NULL);
    ecq_h1_free(&c), ecq_h1_init(&c);
    l.len = 0, l.text[0] = 0;
    h1feed(&c, 1, "\x17\x03\x03 mid-connection bytes", 0, &l);
    h1feed(&c, 1, "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno", 0, &l);
    h1feed(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", 0, &l);
    CHECK("h1 bytes that start no message are raw; the next read starts one; a bad Content-Length is said",
          !strcmp(l.text, "1 raw 24\n1 head HTTP/1.1 404 Not Found []\n1 body no\n1 end 2\n1 head HTTP/1.1 200 OK []\n"
                          "1 note a bad Content-Length: the rest of this read is raw\n"));
    ecq_h1_free(&c);
}

#ifdef ECQ_HAVE_ZLIB
#include <zlib.h>
static void test_h1_gzip(void)
{
    char body[4096], msg[8192];
    uint8_t z[4096];
    memset(body, 'a', sizeof body);
    memcpy(body, "gzip body: ", 11);
    z_stream s = {0};
    deflateInit2(&s, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    s.next_in = (Bytef *)body, s.avail_in = sizeof body, s.next_out = z, s.avail_out = sizeof z;
    deflate(&s, Z_FINISH);
    size_t zn = sizeof z - s.avail_out;
    deflateEnd(&s);
    int hn = snprintf(msg, sizeof msg, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zn);
    memcpy(msg + hn, z, zn);
    struct ecq_h1 c;
    struct h1log l = {"", 0, 0};
    ecq_h1_init(&c);
    for (size_t i = 0; i < hn + zn; i += 7) ecq_h1_feed(&c, 1, msg + i, hn + zn - i < 7 ? hn + zn - i : 7, h1log_add, &l);
    char want[8192];
    snprintf(want, sizeof want, "1 head HTTP/1.1 200 OK []\n1 body(z) %.*s\n1 end %zu\n", (int)sizeof body, body, zn);
    CHECK("h1 a gzip body (fed 7 bytes at a time) is inflated for display", !strcmp(l.text, want));
    ecq_h1_free(&c);
}
#endif

/* ---- tls --merge: the merger stage ---- */

struct mlog {
    int n;
    struct { int64_t ts; uint32_t type, length, src_port; char uuid[64]; char *data; size_t len; } e[64];
    char all[2][8192];              /* payloads per direction (src_port 1 or 2), joined */
    size_t all_len[2];
};

static void mlog_add(void *user, const struct ecq_event *ev)
{
    struct mlog *l = user;
    if (l->n < 64) {
        l->e[l->n].ts = ev->timestamp, l->e[l->n].type = ev->type, l->e[l->n].length = ev->length;
        l->e[l->n].src_port = ev->src_port, l->e[l->n].len = ev->payload.len;
        snprintf(l->e[l->n].uuid, sizeof l->e[l->n].uuid, "%.*s", (int)ev->uuid.len, ev->uuid.ptr);
        l->e[l->n].data = malloc(ev->payload.len + 1);
        memcpy(l->e[l->n].data, ev->payload.ptr, ev->payload.len);
        l->e[l->n].data[ev->payload.len] = 0;
    }
    l->n++;
    int d = ev->src_port == 2;
    if (l->all_len[d] + ev->payload.len < sizeof l->all[d])
        memcpy(l->all[d] + l->all_len[d], ev->payload.ptr, ev->payload.len), l->all_len[d] += ev->payload.len;
}

static void mlog_free(struct mlog *l)
{
    for (int i = 0; i < l->n && i < 64; i++) free(l->e[i].data);
    memset(l, 0, sizeof *l);
}

/* one chunk of a connection "c": dir 0 from port 1, dir 1 from port 2 */
static void mfeed(struct ecq_merge *m, int dir, int64_t ts, uint32_t type, const char *p, size_t n)
{
    struct ecq_event ev = {.timestamp = ts, .uuid = {"c", 1}, .src_ip = {"10.0.0.1", 8}, .dst_ip = {"10.0.0.2", 8},
                           .src_port = dir ? 2 : 1, .dst_port = dir ? 1 : 2, .pid = 7, .pname = {"p", 1},
                           .type = type, .length = (uint32_t)n, .payload = {p, n}};
    ecq_merge_event(m, &ev, dir);
}

static void test_merge_h1(void)
{
    struct mlog l = {0};
    struct ecq_merge *m;
    ecq_merge_open(&m, 60000, mlog_add, &l);
    int64_t ts = 1000;
    for (size_t i = 0, n = strlen(h1_req); i < n; i += 7) mfeed(m, 0, ts++, i ? 0 : 1, h1_req + i, n - i < 7 ? n - i : 7);
    for (size_t i = 0, n = strlen(h1_resp); i < n; i += 7) mfeed(m, 1, ts++, i ? 0 : 3, h1_resp + i, n - i < 7 ? n - i : 7);
    int before_end = l.n;
    ecq_merge_end(m, (struct ecq_bytes){"c", 1});
    int starts = 1;
    static const char *const first[] = {"POST", "HEAD", "GET /c", "DELETE", "GET /e", "HTTP/1.1 100", "HTTP/1.1 200",
                                        "HTTP/1.1 200", "HTTP/1.1 204", "HTTP/1.1 304", "HTTP/1.1 200 OK\r\n\r\nto"};
    for (int i = 0; i < 11 && i < l.n; i++)
        starts &= !strncmp(l.e[i].data, first[i], strlen(first[i])) && l.e[i].length == l.e[i].len &&
                  l.e[i].type == (i < 5 ? 1u : 3u) && !strcmp(l.e[i].uuid, "c");
    CHECK("merge: HTTP/1 fed 7 bytes an event: one event per message (pipelined, chunked, 1xx, HEAD/204/304), typed",
          l.n == 11 && starts);
    CHECK("merge: HTTP/1 messages are the bytes as sent, every one", l.all_len[0] == strlen(h1_req) &&
          !memcmp(l.all[0], h1_req, l.all_len[0]) && l.all_len[1] == strlen(h1_resp) && !memcmp(l.all[1], h1_resp, l.all_len[1]));
    CHECK("merge: a message's event has its first chunk's timestamp", l.n == 11 && l.e[0].ts == 1000 && l.e[1].ts == 1000 + 44 / 7);
    CHECK("merge: a body to the close goes when the connection ends", before_end == 10 && l.n == 11);
    ecq_merge_close(m);
    mlog_free(&l);
}

static void test_merge_other(void)
{
    struct mlog l = {0};
    struct ecq_merge *m;
    struct ecq_merge_stats st;
    ecq_merge_open(&m, 60000, mlog_add, &l);
    mfeed(m, 0, 10, 0, "abc", 3), mfeed(m, 0, 11, 0, "def", 3), mfeed(m, 0, 12, 0, "ghi", 3);
    CHECK("merge: other bytes are held while they come", l.n == 0 && ecq_merge_tick(m) > 0);
    mfeed(m, 1, 13, 0, "xy", 2);
    CHECK("merge: the other direction's turn hands them on as one event, first timestamp, merged length",
          l.n == 1 && l.e[0].ts == 10 && l.e[0].length == 9 && !strcmp(l.e[0].data, "abcdefghi") && l.e[0].src_port == 1);
    mfeed(m, 1, 13 + 60000000001, 0, "z", 1);
    CHECK("merge: a pause longer than idle between two chunks starts a new batch", l.n == 2 && !strcmp(l.e[1].data, "xy"));
    static char big[16384];
    memset(big, 'b', sizeof big);
    for (int i = 0; i < 96; i++) mfeed(m, 0, 100000000000 + i, 0, big, sizeof big);
    ecq_merge_stats(m, &st);
    CHECK("merge: a batch goes at 1 MiB, counted as early", l.n == 4 && l.e[3].length == ECQ_MERGE_MAX_BYTES && st.early == 1);
    ecq_merge_close(m);
    CHECK("merge: close hands on what is held", l.n == 5 && l.e[4].length == 32 * 16384);
    mlog_free(&l);
    ecq_merge_open(&m, 1, mlog_add, &l);
    mfeed(m, 0, 10, 0, "abc", 3);
    struct timespec nap = {0, 5000000};
    nanosleep(&nap, NULL);
    int next = ecq_merge_tick(m);
    CHECK("merge: idle for idle_ms, a batch goes on the tick; nothing is left to wait for", l.n == 1 && next == -1);
    char uuid[16];
    for (int i = 0; i <= ECQ_MERGE_MAX_CONNS; i++) {
        struct ecq_event ev = {.timestamp = i, .uuid = {uuid, (size_t)snprintf(uuid, sizeof uuid, "u%d", i)},
                               .length = 1, .payload = {"q", 1}};
        ecq_merge_event(m, &ev, 0);
    }
    ecq_merge_stats(m, &st);
    CHECK("merge: past ECQ_MERGE_MAX_CONNS the least recent connection is ended, counted",
          l.n == 2 && !strcmp(l.e[1].uuid, "u0") && st.early == 1);
    ecq_merge_close(m);
    CHECK("merge: every connection's byte handed on", l.n == 2 + ECQ_MERGE_MAX_CONNS);
    mlog_free(&l);
}

static void test_merge_h2(void)
{
    static const char a[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0\0\0\x03\x01";
    static const char b[] = "\x05\0\0\0\x01\x82\x84\x87";
    struct mlog l = {0};
    struct ecq_merge *m;
    ecq_merge_open(&m, 60000, mlog_add, &l);
    mfeed(m, 0, 50, 2, a, sizeof a - 1);
    mfeed(m, 0, 51, 0, b, sizeof b - 1);
    ecq_merge_close(m);
    CHECK("merge: HTTP/2 frames in two chunks go as one event of text, watch's, typed by the side",
          l.n == 1 && l.e[0].type == 2 && l.e[0].ts == 50 && l.e[0].length == l.e[0].len &&
          !strcmp(l.e[0].data, "  connection preface (the client)\n  SETTINGS stream 0, 0 bytes\n"
                               "  HEADERS stream 1, 3 bytes, END_STREAM END_HEADERS\n    :method: GET\n    :path: /\n    :scheme: https\n"));
    mlog_free(&l);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "samples")) return samples(argv[2]) || hpack_samples(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "decode")) return decode(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "insns")) return insns(argv[2]);
    if (argc >= 2 && !strcmp(argv[1], "elfbench")) return elfbench(argc - 2, argv + 2);
    test_sha1();
    test_x86();
    test_arm64();
    test_elf();
    test_rust_names();
    test_base64();
    test_accept();
    test_utf8();
    test_url();
    test_http();
    test_frames();
    test_pb();
    test_pb_each_field();
    test_kernel();
    test_hpack_rfc();
    test_hpack_codes();
    test_hpack_late();
    test_h2_client();
    test_h2_frames();
    test_h2_hostile();
    test_h2_grpc();
    test_h1();
    test_merge_h1();
    test_merge_other();
    test_merge_h2();
#ifdef ECQ_HAVE_ZLIB
    test_h1_gzip();
#endif
    return failures != 0;
}
