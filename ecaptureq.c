// SPDX-License-Identifier: MIT
/* ecaptureq.c - capture TLS plaintext with eBPF and stream it over WebSocket as
 * eCaptureQ protobuf LogEntry messages.
 *
 * What this file is
 *   One C file, read top to bottom:
 *     1. bundled primitives: SHA-1, base64, UTF-8
 *     2. protobuf: the LogEntry encoder (one walk sizes and writes) and decoder
 *     3. the endpoint URL
 *     4. WebSocket: handshake checks and the frame reader
 *     5. the hub: server, clients, shared frames, heartbeats, replay
 *     6. payload classification (Event.type); events as pcapng (synthetic TCP)
 *     7. executable analysis: ELF and Go symbol tables, x86-64 and arm64 RET sites
 *     8. TLS capture with libbpf: the kernel it needs (a table of BPF features, kept
 *        in the server-only build too), the library table, attach, ring buffer -> events
 *     9. the command line: gen, watch, tls/gotls, main
 *   The public API is declared and documented in ecaptureq.h; everything else is
 *   static and prefixed ecq__.
 *
 * Dropping it into another project
 *   cc -c ecaptureq.c -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN
 *     the stream server alone: no libbpf, libelf or zlib, just libc.
 *   cc -c ecaptureq.c -DECAPTUREQ_NO_MAIN -DECQ_BPF_OBJ='"bpf/ecaptureq.bpf.o"'
 *     the server and TLS capture (sections 1-8); link with -lbpf -lelf -lz.
 *
 * Switches
 *   ECAPTUREQ_NO_BPF   no capture (section 8 and the tls/gotls commands are left out)
 *   ECAPTUREQ_NO_MAIN  no command line (section 9)
 *   ECQ_BPF_OBJ        path of the compiled BPF object to embed (set by the Makefile)
 *   ECQ_VIEWER         path of the viewer page to embed (web/viewer.html; the Makefile
 *                      sets it); without it ecq_viewer_page() returns NULL
 *
 * Wire format
 *   ecaptureq.proto: each server->client binary message is one LogEntry. On connect a
 *   client gets the first 128 run-log lines, then a heartbeat with count 0, then live
 *   entries; a heartbeat follows every --heartbeat seconds.
 */
#define _GNU_SOURCE
#include "ecaptureq.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>

#if !defined(ECAPTUREQ_NO_BPF) && !defined(ECQ_HAVE_ZLIB)
#define ECQ_HAVE_ZLIB 1 /* capture links zlib (libbpf needs it): HTTP bodies inflate for display */
#endif
#ifdef ECQ_HAVE_ZLIB
#include <zlib.h>
#endif

#define ECQ__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ECQ__STR_(x) #x
#define ECQ__STR(x) ECQ__STR_(x)

/* =========================================================================
 * Bundled primitives: SHA-1 (FIPS 180-4), base64 (RFC 4648), UTF-8
 * ========================================================================= */

struct ecq__sha1 {
    uint32_t h[5];
    uint64_t total;
    uint8_t block[64];
    size_t fill;
};

static uint32_t ecq__rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void ecq__sha1_block(struct ecq__sha1 *c, const uint8_t *p)
{
    uint32_t w[80], a, b, d, e, f, k, t, cc;
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = ecq__rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3], e = c->h[4];
    for (int i = 0; i < 80; i++) {
        if (i < 20)
            f = (b & cc) | (~b & d), k = 0x5A827999;
        else if (i < 40)
            f = b ^ cc ^ d, k = 0x6ED9EBA1;
        else if (i < 60)
            f = (b & cc) | (b & d) | (cc & d), k = 0x8F1BBCDC;
        else
            f = b ^ cc ^ d, k = 0xCA62C1D6;
        t = ecq__rol(a, 5) + f + e + k + w[i];
        e = d, d = cc, cc = ecq__rol(b, 30), b = a, a = t;
    }
    c->h[0] += a, c->h[1] += b, c->h[2] += cc, c->h[3] += d, c->h[4] += e;
}

static void ecq__sha1_update(struct ecq__sha1 *c, const uint8_t *p, size_t n)
{
    c->total += n;
    while (n) {
        size_t take = 64 - c->fill < n ? 64 - c->fill : n;
        memcpy(c->block + c->fill, p, take);
        c->fill += take, p += take, n -= take;
        if (c->fill == 64) {
            ecq__sha1_block(c, c->block);
            c->fill = 0;
        }
    }
}

void ecq_sha1(const void *data, size_t len, uint8_t out[20])
{
    struct ecq__sha1 c = {{0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0}, 0, {0}, 0};
    uint8_t pad[72] = {0x80};
    uint64_t bits = (uint64_t)len * 8;
    ecq__sha1_update(&c, data, len);
    size_t padlen = (c.fill < 56 ? 56 : 120) - c.fill;
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
    ecq__sha1_update(&c, pad, padlen + 8);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (uint8_t)(c.h[i] >> (24 - 8 * j));
}

static const char ecq__b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t ecq_base64_encode(const void *data, size_t len, char *out)
{
    const uint8_t *p = data;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len) v |= p[i + 2];
        out[o++] = ecq__b64[v >> 18 & 63];
        out[o++] = ecq__b64[v >> 12 & 63];
        out[o++] = i + 1 < len ? ecq__b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? ecq__b64[v & 63] : '=';
    }
    out[o] = 0;
    return o;
}

static int ecq__b64_value(char ch)
{
    const char *p = ch ? strchr(ecq__b64, ch) : NULL;
    return p ? (int)(p - ecq__b64) : -1;
}

long ecq_base64_decode(const char *text, size_t len, uint8_t *out, size_t cap)
{
    size_t o = 0;
    if (len % 4) return -1;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pads = 0;
        for (int j = 0; j < 4; j++) {
            if (text[i + j] == '=' && i + 4 == len && j >= 2) {
                v[j] = 0, pads++;
                continue;
            }
            if (pads || (v[j] = ecq__b64_value(text[i + j])) < 0) return -1;
        }
        uint32_t q = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        if ((pads == 1 && (q & 0xFF)) || (pads == 2 && (q & 0xFFFF))) return -1;
        if (o + 3 - pads > cap) return -1;
        out[o++] = (uint8_t)(q >> 16);
        if (pads < 2) out[o++] = (uint8_t)(q >> 8);
        if (pads < 1) out[o++] = (uint8_t)q;
    }
    return (long)o;
}

void ecq_ws_accept(const char *key, size_t key_len, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char joined[128 + sizeof guid];
    uint8_t digest[20];
    if (key_len > 128) key_len = 128;
    memcpy(joined, key, key_len);
    memcpy(joined + key_len, guid, sizeof guid - 1);
    ecq_sha1(joined, key_len + sizeof guid - 1, digest);
    ecq_base64_encode(digest, 20, out);
}

/* Incremental UTF-8 check. State: bits 0-1 continuation bytes still expected, bits 8-15
 * lowest and 16-23 highest allowed value of the next one; 0xFFFFFFFF once invalid. */
#define ECQ__UTF8_BAD 0xFFFFFFFFu

static uint32_t ecq__utf8_step(uint32_t st, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n && st != ECQ__UTF8_BAD; i++) {
        uint8_t b = p[i];
        unsigned need = st & 3, lo = (st >> 8) & 0xFF, hi = (st >> 16) & 0xFF;
        if (need) {
            if (b < lo || b > hi) return ECQ__UTF8_BAD;
            st = (need - 1) | 0x80u << 8 | 0xBFu << 16;
            continue;
        }
        if (b < 0x80) continue;
        if (b >= 0xC2 && b <= 0xDF) need = 1, lo = 0x80, hi = 0xBF;
        else if (b == 0xE0) need = 2, lo = 0xA0, hi = 0xBF;
        else if (b == 0xED) need = 2, lo = 0x80, hi = 0x9F;
        else if (b >= 0xE1 && b <= 0xEF) need = 2, lo = 0x80, hi = 0xBF;
        else if (b == 0xF0) need = 3, lo = 0x90, hi = 0xBF;
        else if (b >= 0xF1 && b <= 0xF3) need = 3, lo = 0x80, hi = 0xBF;
        else if (b == 0xF4) need = 3, lo = 0x80, hi = 0x8F;
        else return ECQ__UTF8_BAD;
        st = need | lo << 8 | hi << 16;
    }
    return st;
}

int ecq_utf8_valid(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t any = 0, w;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) memcpy(&w, p + i, 8), any |= w;
    for (; i < len; i++) any |= p[i];
    if (!(any & 0x8080808080808080u)) return 1; /* ASCII: names, addresses, most text */
    uint32_t st = ecq__utf8_step(0, data, len);
    return st != ECQ__UTF8_BAD && (st & 3) == 0;
}

/* length of the valid UTF-8 character at p (1 to 4; an ASCII byte is 1), 0 if the
 * bytes there are not one */
static size_t ecq__utf8_char(const char *p, size_t n)
{
    unsigned char c = (unsigned char)*p;
    size_t k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return k <= n && ecq_utf8_valid(p, k) ? k : 0;
}

/* A character that shows as something other than itself, or as nothing, so that a
 * string holding it can pass for another: C1 controls (U+009B is CSI to terminals),
 * bidirectional controls (the embeddings and overrides U+202A..202E, the isolates
 * U+2066..2069, the marks U+200E, 200F, 061C), and invisible format characters
 * (zero-width space and joiners, word joiner and invisible operators, BOM, soft hyphen,
 * Hangul fillers, Mongolian vowel separator, interlinear annotation, musical format
 * controls, tag characters, line and paragraph separators). Returns its code point if
 * p (n bytes) starts with one, else 0. */
static uint32_t ecq__hidden_char(const char *p, size_t n)
{
    static const uint32_t hidden[][2] = {
        {0x80, 0x9F},     {0xAD, 0xAD},     {0x61C, 0x61C},   {0x115F, 0x1160}, {0x180E, 0x180E},
        {0x200B, 0x200F}, {0x2028, 0x202E}, {0x2060, 0x206F}, {0x3164, 0x3164}, {0xFEFF, 0xFEFF},
        {0xFFA0, 0xFFA0}, {0xFFF9, 0xFFFB}, {0x1D173, 0x1D17A}, {0xE0000, 0xE007F}};
    const unsigned char *u = (const unsigned char *)p;
    size_t k = ecq__utf8_char(p, n);
    uint32_t cp = k == 2 ? (u[0] & 0x1Fu) << 6 | (u[1] & 0x3Fu)
                : k == 3 ? (u[0] & 0x0Fu) << 12 | (u[1] & 0x3Fu) << 6 | (u[2] & 0x3Fu)
                : k == 4 ? (u[0] & 0x07u) << 18 | (u[1] & 0x3Fu) << 12 | (u[2] & 0x3Fu) << 6 | (u[3] & 0x3Fu)
                         : 0;
    for (size_t i = 0; cp && i < ECQ__ARRAY_LEN(hidden); i++)
        if (cp >= hidden[i][0] && cp <= hidden[i][1]) return cp;
    return 0;
}

/* The one JSON string escaper, a character at a time: the escaped form of the
 * character at p into out (at most 12 bytes), its length returned and its bytes in *k.
 * Always valid UTF-8 and safe to show: a byte that starts no valid sequence becomes
 * U+FFFD; quote and backslash, controls, C1 controls and the other hidden characters
 * (bidi overrides, zero-width...) are escaped, as a UTF-16 pair past the BMP. */
static size_t ecq__json_char(const char *p, size_t n, char out[16], size_t *k)
{
    unsigned char c = (unsigned char)*p;
    size_t len = c < 0x80 ? 1 : ecq__utf8_char(p, n);
    uint32_t h = c < 0x80 ? 0 : ecq__hidden_char(p, n);
    *k = len ? len : 1;
    if (c == '"' || c == '\\') return out[0] = '\\', out[1] = (char)c, 2;
    if (c == '\n') return memcpy(out, "\\n", 2), 2;
    if (c == '\r') return memcpy(out, "\\r", 2), 2;
    if (c == '\t') return memcpy(out, "\\t", 2), 2;
    if (c < 0x20 || c == 0x7f) return (size_t)snprintf(out, 16, "\\u%04x", c);
    if (c < 0x80) return out[0] = (char)c, 1;
    if (h > 0xFFFF)
        return (size_t)snprintf(out, 16, "\\u%04x\\u%04x", 0xD800 + ((h - 0x10000) >> 10), 0xDC00 + ((h - 0x10000) & 0x3FF));
    if (h) return (size_t)snprintf(out, 16, "\\u%04x", h);
    if (len) return memcpy(out, p, len), len;
    return memcpy(out, "\\ufffd", 6), 6;
}

/* v in decimal at o; returns the digits written */
static inline size_t ecq__dec(char *o, uint64_t v)
{
    char t[20];
    size_t n = 0;
    do t[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    for (size_t k = 0; k < n; k++) o[k] = t[n - 1 - k];
    return n;
}

static inline size_t ecq__put(char *o, const char *lit)
{
    size_t n = strlen(lit);
    memcpy(o, lit, n);
    return n;
}

/* n random bytes from the kernel (a WebSocket key, a page's CSP nonce) */
static void ecq__rand(void *buf, size_t n)
{
    struct timespec ts;
    if (getrandom(buf, n, 0) == (ssize_t)n) return;
    clock_gettime(CLOCK_REALTIME, &ts); /* never expected; still never a fixed value */
    for (size_t i = 0; i < n; i++) ((uint8_t *)buf)[i] ^= (uint8_t)((uint64_t)ts.tv_nsec >> (i % 4 * 8));
}

/* =========================================================================
 * Protobuf: hand-written encoder and decoder for LogEntry
 * ========================================================================= */

enum { ECQ__PB_VARINT = 0, ECQ__PB_I64 = 1, ECQ__PB_LEN = 2, ECQ__PB_I32 = 5 };

/* Output stream, after nanopb: with buf NULL it only counts, so sizing and encoding
 * are one walk over the message and cannot disagree. Writes never pass end. The walk
 * is inlined into its two users, so the compiler specialises it: counting folds to
 * arithmetic, writing to stores. */
#define ECQ__INLINE static inline __attribute__((always_inline))
struct ecq__pb_out {
    uint8_t *buf, *end;
    size_t n;                       /* bytes written (or counted) so far */
    int overflow;
    const void *lent;               /* bytes at this address are not copied, only counted:
                                     * the frame points at them (ecq__msg_entry) */
};

ECQ__INLINE size_t ecq__varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) v >>= 7, n++;
    return n;
}

/* room for len more bytes; when counting there is always room */
ECQ__INLINE int ecq__out_room(struct ecq__pb_out *o, size_t len)
{
    if (!o->buf) return 0;
    if (o->overflow || len > (size_t)(o->end - o->buf) - o->n) return o->overflow = 1, 0;
    return 1;
}

ECQ__INLINE void ecq__out(struct ecq__pb_out *o, const void *src, size_t len)
{
    if (ecq__out_room(o, len) && src != o->lent) memcpy(o->buf + o->n, src, len);
    o->n += len;
}

ECQ__INLINE void ecq__out_varint(struct ecq__pb_out *o, uint64_t v)
{
    if (o->buf && !o->overflow && (size_t)(o->end - o->buf) - o->n >= 10) { /* room for any varint */
        uint8_t *p = o->buf + o->n;
        while (v >= 0x80) *p++ = (uint8_t)(v | 0x80), v >>= 7;
        *p++ = (uint8_t)v;
        o->n = (size_t)(p - o->buf);
        return;
    }
    size_t len = ecq__varint_size(v);
    if (ecq__out_room(o, len)) {
        uint8_t *p = o->buf + o->n;
        while (v >= 0x80) *p++ = (uint8_t)(v | 0x80), v >>= 7;
        *p = (uint8_t)v;
    }
    o->n += len;
}

ECQ__INLINE void ecq__out_tag(struct ecq__pb_out *o, int field, int wt) { ecq__out_varint(o, (uint64_t)(field << 3 | wt)); }

/* proto3: a scalar equal to its default is not written */
ECQ__INLINE void ecq__out_field_varint(struct ecq__pb_out *o, int field, uint64_t v)
{
    if (!v) return;
    ecq__out_tag(o, field, ECQ__PB_VARINT);
    ecq__out_varint(o, v);
}

ECQ__INLINE void ecq__out_field_bytes(struct ecq__pb_out *o, int field, struct ecq_bytes b)
{
    if (!b.len) return;
    ecq__out_tag(o, field, ECQ__PB_LEN);
    ecq__out_varint(o, b.len);
    ecq__out(o, b.ptr, b.len);
}

/* The oneof member's own bytes (without its tag and length). */
ECQ__INLINE void ecq__out_payload(struct ecq__pb_out *o, const struct ecq_entry *e)
{
    if (e->payload_case == ECQ_PAYLOAD_EVENT) {
        const struct ecq_event *v = &e->event;
        ecq__out_field_varint(o, 1, (uint64_t)v->timestamp);
        ecq__out_field_bytes(o, 2, v->uuid);
        ecq__out_field_bytes(o, 3, v->src_ip);
        ecq__out_field_varint(o, 4, v->src_port);
        ecq__out_field_bytes(o, 5, v->dst_ip);
        ecq__out_field_varint(o, 6, v->dst_port);
        ecq__out_field_varint(o, 7, (uint64_t)v->pid);
        ecq__out_field_bytes(o, 8, v->pname);
        ecq__out_field_varint(o, 9, v->type);
        ecq__out_field_varint(o, 10, v->length);
        ecq__out_field_bytes(o, 11, v->payload);
    } else if (e->payload_case == ECQ_PAYLOAD_HEARTBEAT) {
        const struct ecq_heartbeat *h = &e->heartbeat;
        ecq__out_field_varint(o, 1, (uint64_t)h->timestamp);
        ecq__out_field_varint(o, 2, (uint64_t)h->count);
        ecq__out_field_bytes(o, 3, h->message);
    } else if (e->payload_case == ECQ_PAYLOAD_RUN_LOG) {
        ecq__out(o, e->run_log.ptr, e->run_log.len);
    }
}

/* The LogEntry's own fields in front of its oneof member, which is inner bytes long. */
ECQ__INLINE void ecq__out_entry_head(struct ecq__pb_out *o, const struct ecq_entry *e, size_t inner)
{
    /* enums are int32 on the wire: negative values are sign-extended to ten bytes */
    ecq__out_field_varint(o, 1, (uint64_t)(int64_t)e->log_type);
    if (e->payload_case == ECQ_PAYLOAD_NONE) return;
    /* the oneof member itself is written even when empty: its presence is the message */
    ecq__out_tag(o, e->payload_case, ECQ__PB_LEN);
    ecq__out_varint(o, inner);
}

static size_t ecq__payload_size(const struct ecq_entry *e)
{
    struct ecq__pb_out o = {0};
    ecq__out_payload(&o, e);
    return o.n;
}

/* the entry's size given its oneof member's size */
static size_t ecq__entry_size(const struct ecq_entry *e, size_t inner)
{
    struct ecq__pb_out o = {0};
    ecq__out_entry_head(&o, e, inner);
    return o.n + (e->payload_case != ECQ_PAYLOAD_NONE ? inner : 0);
}

size_t ecq_pb_entry_size(const struct ecq_entry *e) { return ecq__entry_size(e, ecq__payload_size(e)); }

/* Encodes e, sized by the same walk as inner and size bytes, into buf. Returns size,
 * or 0 if it did not fit or the writing walk disagreed with the sizing walk. */
static size_t ecq__encode_entry(const struct ecq_entry *e, size_t inner, size_t size, uint8_t *buf, size_t cap,
                                const void *lent)
{
    struct ecq__pb_out o = {buf, buf + cap, 0, 0, lent};
    if (size > cap) return 0;
    ecq__out_entry_head(&o, e, inner);
    if (e->payload_case != ECQ_PAYLOAD_NONE) ecq__out_payload(&o, e);
    return o.overflow || o.n != size ? 0 : o.n;
}

size_t ecq_pb_encode_entry(const struct ecq_entry *e, uint8_t *buf, size_t cap)
{
    size_t inner = ecq__payload_size(e);
    return ecq__encode_entry(e, inner, ecq__entry_size(e, inner), buf, cap, NULL);
}

struct ecq__pb_in {
    const uint8_t *p, *start, *end;
    const char *err;
};

static int ecq__get_varint(struct ecq__pb_in *in, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (in->p >= in->end) return in->err = "truncated varint", -1;
        uint8_t b = *in->p++;
        if (shift == 63 && b > 1) return in->err = "varint over 64 bits", -1;
        r |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) return *v = r, 0;
    }
    return in->err = "varint over 10 bytes", -1;
}

/* Reads one tag and its value: varints into *v, length-delimited fields into *b; other
 * wire types are skipped. Returns the field number, 0 at the end, -1 on error. */
static int ecq__get_field(struct ecq__pb_in *in, int *wt, uint64_t *v, struct ecq_bytes *b)
{
    uint64_t tag, n;
    if (in->p == in->end) return 0;
    if (ecq__get_varint(in, &tag) < 0) return -1;
    if (tag >> 3 == 0 || tag >> 3 > 0x1FFFFFFF) return in->err = "invalid field number", -1;
    *wt = (int)(tag & 7);
    switch (*wt) {
    case ECQ__PB_VARINT:
        if (ecq__get_varint(in, v) < 0) return -1;
        break;
    case ECQ__PB_I64:
    case ECQ__PB_I32:
        n = *wt == ECQ__PB_I64 ? 8 : 4;
        if ((uint64_t)(in->end - in->p) < n) return in->err = "truncated fixed field", -1;
        in->p += n;
        break;
    case ECQ__PB_LEN:
        if (ecq__get_varint(in, &n) < 0) return -1;
        if (n > (uint64_t)(in->end - in->p)) return in->err = "length past end", -1;
        b->ptr = (const char *)in->p, b->len = (size_t)n;
        in->p += n;
        break;
    case 3: { /* group: skip to the matching end-group tag */
        int depth = 1;
        while (depth) {
            uint64_t t2, tmp;
            if (ecq__get_varint(in, &t2) < 0) return -1;
            switch (t2 & 7) {
            case 0: if (ecq__get_varint(in, &tmp) < 0) return -1; break;
            case 1: case 5:
                n = (t2 & 7) == 1 ? 8 : 4;
                if ((uint64_t)(in->end - in->p) < n) return in->err = "truncated fixed field", -1;
                in->p += n;
                break;
            case 2:
                if (ecq__get_varint(in, &n) < 0) return -1;
                if (n > (uint64_t)(in->end - in->p)) return in->err = "length past end", -1;
                in->p += n;
                break;
            case 3: depth++; break;
            case 4: depth--; break;
            default: return in->err = "invalid wire type", -1;
            }
            if (depth > 64) return in->err = "groups nested too deep", -1;
        }
        break;
    }
    default:
        return in->err = "invalid wire type", -1;
    }
    return (int)(tag >> 3);
}

static int ecq__decode_event(struct ecq__pb_in *in, struct ecq_event *e)
{
    int f, wt;
    uint64_t v = 0;
    struct ecq_bytes b = {0};
    while ((f = ecq__get_field(in, &wt, &v, &b)) > 0) {
        if (wt == ECQ__PB_VARINT) {
            switch (f) {
            case 1: e->timestamp = (int64_t)v; break;
            case 4: e->src_port = (uint32_t)v; break;
            case 6: e->dst_port = (uint32_t)v; break;
            case 7: e->pid = (int64_t)v; break;
            case 9: e->type = (uint32_t)v; break;
            case 10: e->length = (uint32_t)v; break;
            }
        } else if (wt == ECQ__PB_LEN) {
            switch (f) {
            case 2: e->uuid = b; break;
            case 3: e->src_ip = b; break;
            case 5: e->dst_ip = b; break;
            case 8: e->pname = b; break;
            case 11: e->payload = b; break;
            }
        }
    }
    return f;
}

static int ecq__decode_heartbeat(struct ecq__pb_in *in, struct ecq_heartbeat *h)
{
    int f, wt;
    uint64_t v = 0;
    struct ecq_bytes b = {0};
    while ((f = ecq__get_field(in, &wt, &v, &b)) > 0) {
        if (wt == ECQ__PB_VARINT && f == 1) h->timestamp = (int64_t)v;
        else if (wt == ECQ__PB_VARINT && f == 2) h->count = (int64_t)v;
        else if (wt == ECQ__PB_LEN && f == 3) h->message = b;
    }
    return f;
}

int ecq_pb_decode_entry(const uint8_t *buf, size_t len, struct ecq_entry *out,
                        size_t *err_offset, const char **err_reason)
{
    struct ecq__pb_in in = {buf, buf, buf + len, NULL};
    int f, wt;
    uint64_t v = 0;
    struct ecq_bytes b = {0};
    memset(out, 0, sizeof *out);
    while ((f = ecq__get_field(&in, &wt, &v, &b)) > 0) {
        if (f == 1 && wt == ECQ__PB_VARINT) {
            out->log_type = (int32_t)v;
        } else if (f >= 2 && f <= 4 && wt == ECQ__PB_LEN) {
            /* a oneof member replaces another; the same message member merges */
            struct ecq__pb_in sub = {(const uint8_t *)b.ptr, buf, (const uint8_t *)b.ptr + b.len, NULL};
            int r = 0;
            if (out->payload_case != f) {
                memset(&out->event, 0, sizeof out->event);
                memset(&out->heartbeat, 0, sizeof out->heartbeat);
                memset(&out->run_log, 0, sizeof out->run_log);
            }
            out->payload_case = f;
            if (f == 2) r = ecq__decode_event(&sub, &out->event);
            else if (f == 3) r = ecq__decode_heartbeat(&sub, &out->heartbeat);
            else out->run_log = b;
            if (r < 0) {
                in.p = sub.p, in.err = sub.err;
                f = -1;
                break;
            }
        }
    }
    if (f < 0) {
        if (err_offset) *err_offset = (size_t)(in.p - buf);
        if (err_reason) *err_reason = in.err;
        return -1;
    }
    return 0;
}

/* =========================================================================
 * Endpoint URL: ws://HOST:PORT/PATH
 * ========================================================================= */

int ecq_url_parse(const char *url, struct ecq_url *out, const char **why)
{
    const char *p, *host, *host_end, *port_end;
    size_t hl;
    unsigned long port = 0;
    memset(out, 0, sizeof *out);
    if (!url || strncasecmp(url, "ws://", 5) != 0)
        return *why = "the scheme must be ws://", -1;
    host = p = url + 5;
    if (*p == '[') {
        host = ++p;
        while (*p && *p != ']') p++;
        if (*p != ']') return *why = "an IPv6 address needs its closing ']'", -1;
        host_end = p++;
        out->ipv6_literal = 1;
        struct in6_addr a6;
        char tmp[64];
        hl = (size_t)(host_end - host);
        if (hl == 0 || hl >= sizeof tmp) return *why = "bad IPv6 address", -1;
        memcpy(tmp, host, hl), tmp[hl] = 0;
        if (inet_pton(AF_INET6, tmp, &a6) != 1) return *why = "bad IPv6 address", -1;
    } else {
        while (*p && *p != ':' && *p != '/' && *p != '?' && *p != '#' && *p != '@') p++;
        host_end = p;
        for (const char *q = host; q < host_end; q++)
            if (!isalnum((unsigned char)*q) && *q != '.' && *q != '-' && *q != '_')
                return *why = "bad character in host", -1;
    }
    hl = (size_t)(host_end - host);
    if (hl == 0) return *why = "the host is missing", -1;
    if (hl >= sizeof out->host) return *why = "the host is too long", -1;
    memcpy(out->host, host, hl);
    if (*p != ':') return *why = "the port is missing", -1;
    p++;
    port_end = p;
    while (*port_end >= '0' && *port_end <= '9' && port_end - p < 6) port = port * 10 + (unsigned long)(*port_end++ - '0');
    if (port_end == p || port > 65535 || (*port_end >= '0' && *port_end <= '9'))
        return *why = "the port must be 0-65535", -1;
    p = port_end;
    if (!*p) p = "/"; /* RFC 6455 §3: an empty path is "/" */
    if (*p != '/') return *why = "the path must start with '/'", -1;
    if (strlen(p) >= sizeof out->path) return *why = "the path is too long", -1;
    for (const char *q = p; *q; q++)
        if ((unsigned char)*q <= 0x20 || *q == '?' || *q == '#' || (unsigned char)*q >= 0x7F)
            return *why = "the path may not hold spaces, '?', '#' or non-ASCII bytes", -1;
    strcpy(out->path, p);
    out->port = (uint16_t)port;
    return 0;
}

/* The loopback address a name stands for without asking the resolver (RFC 6761 §6.3:
 * localhost and *.localhost are loopback; Debian's ip6-localhost and ip6-loopback are
 * ::1), so that a static binary in an empty container needs no /etc/hosts or NSS for
 * them; NULL for every other name. */
static const char *ecq__loopback_for(const char *host)
{
    size_t n = strlen(host);
    if (n && host[n - 1] == '.') n--; /* the absolute form, "localhost." */
    if ((n == 9 && !strncasecmp(host, "localhost", 9)) || (n > 10 && !strncasecmp(host + n - 10, ".localhost", 10)))
        return "127.0.0.1";
    if ((n == 13 && !strncasecmp(host, "ip6-localhost", 13)) || (n == 12 && !strncasecmp(host, "ip6-loopback", 12)))
        return "::1";
    return NULL;
}

/* The one test of a loopback address: 127.0.0.0/8 or ::1. */
static int ecq__loopback_ip(int family, const void *addr)
{
    if (family == AF_INET) return (ntohl(((const struct in_addr *)addr)->s_addr) >> 24) == 127;
    return family == AF_INET6 && IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)addr);
}

/* getaddrinfo, but loopback names resolve to their address without the resolver */
static int ecq__getaddrinfo(const char *host, const char *port, const struct addrinfo *hints, struct addrinfo **ai)
{
    const char *lo = ecq__loopback_for(host);
    struct addrinfo h = *hints;
    if (!lo) return getaddrinfo(host, port, hints, ai);
    h.ai_flags |= AI_NUMERICHOST;
    return getaddrinfo(lo, port, &h, ai);
}

/* =========================================================================
 * WebSocket handshake (RFC 6455 §4.2)
 * ========================================================================= */

size_t ecq_http_head_length(const char *buf, size_t len)
{
    for (size_t i = 3; i < len; i++)
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
            return i + 1;
    return 0;
}

static int ecq__is_tchar(int c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* does the comma-separated list hold token (case-insensitive)? */
static int ecq__list_has(struct ecq_bytes list, const char *token)
{
    size_t tl = strlen(token), i = 0;
    while (i < list.len) {
        size_t s, e;
        while (i < list.len && (list.ptr[i] == ' ' || list.ptr[i] == '\t' || list.ptr[i] == ',')) i++;
        s = i;
        while (i < list.len && list.ptr[i] != ',') i++;
        e = i;
        while (e > s && (list.ptr[e - 1] == ' ' || list.ptr[e - 1] == '\t')) e--;
        if (e - s == tl && strncasecmp(list.ptr + s, token, tl) == 0) return 1;
    }
    return 0;
}

static int ecq__bytes_ieq(struct ecq_bytes b, const char *s)
{
    return b.len == strlen(s) && strncasecmp(b.ptr, s, b.len) == 0;
}

/* host part of "host", "host:port", "[v6]" or "[v6]:port"; 0 if malformed */
static int ecq__split_hostport(struct ecq_bytes hp, char *host, size_t cap)
{
    const char *p = hp.ptr, *end = hp.ptr + hp.len, *h, *he;
    if (p < end && *p == '[') {
        h = ++p;
        while (p < end && *p != ']') p++;
        if (p == end) return 0;
        he = p++;
    } else {
        h = p;
        while (p < end && *p != ':') p++;
        he = p;
    }
    if (p < end) {
        if (*p != ':' || p + 1 == end) return 0;
        for (p++; p < end; p++)
            if (*p < '0' || *p > '9') return 0;
    }
    if (he == h || (size_t)(he - h) >= cap) return 0;
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = 0;
    return 1;
}

static int ecq__is_loopback_name(const char *h)
{
    struct in6_addr a; /* room for either family */
    if (ecq__loopback_for(h)) return 1;
    if (inet_pton(AF_INET, h, &a) == 1) return ecq__loopback_ip(AF_INET, &a);
    return inet_pton(AF_INET6, h, &a) == 1 && ecq__loopback_ip(AF_INET6, &a);
}

static int ecq__origin_allowed(struct ecq_bytes origin, struct ecq_bytes hosthdr,
                               const struct ecq_http_policy *p)
{
    char host[256];
    size_t skip;
    for (int i = 0; i < p->norigins; i++)
        if (p->origins[i] && ecq__bytes_ieq(origin, p->origins[i])) return 1;
    if (origin.len > 7 && strncasecmp(origin.ptr, "http://", 7) == 0) skip = 7;
    else if (origin.len > 8 && strncasecmp(origin.ptr, "https://", 8) == 0) skip = 8;
    else return 0;
    struct ecq_bytes hp = {origin.ptr + skip, origin.len - skip};
    if (hp.len && hp.ptr[hp.len - 1] == '/') hp.len--;
    /* same origin: the page came from the host:port this request is addressed to */
    if (hosthdr.len && hp.len == hosthdr.len && strncasecmp(hp.ptr, hosthdr.ptr, hp.len) == 0)
        return 1;
    if (!ecq__split_hostport(hp, host, sizeof host)) return 0;
    return ecq__is_loopback_name(host);
}

static int ecq__hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* token comparison whose time does not depend on where the strings differ */
static int ecq__token_equal(const char *given, size_t glen, const char *want)
{
    uint8_t a[20], b[20], diff = 0;
    ecq_sha1(given, glen, a);
    ecq_sha1(want, strlen(want), b);
    for (int i = 0; i < 20; i++) diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

/* value of ?token= in the query, percent-decoded into out; 0 if absent */
static int ecq__query_token(struct ecq_bytes q, char *out, size_t cap, size_t *olen)
{
    size_t i = 0;
    while (i < q.len) {
        size_t s = i;
        while (i < q.len && q.ptr[i] != '&') i++;
        if (i - s > 6 && memcmp(q.ptr + s, "token=", 6) == 0) {
            size_t o = 0;
            for (size_t j = s + 6; j < i; j++) {
                int c = (unsigned char)q.ptr[j];
                if (c == '%' && j + 2 < i && ecq__hexval(q.ptr[j + 1]) >= 0 && ecq__hexval(q.ptr[j + 2]) >= 0) {
                    c = ecq__hexval(q.ptr[j + 1]) * 16 + ecq__hexval(q.ptr[j + 2]);
                    j += 2;
                } else if (c == '+') {
                    c = ' ';
                }
                if (o + 1 >= cap) return 0;
                out[o++] = (char)c;
            }
            *olen = o;
            return 1;
        }
        i++;
    }
    return 0;
}

/* The request line, METHOD SP TARGET SP HTTP/1.1: 0 (with *eol at its end and the
 * target's query), or the status to answer. */
static int ecq__request_line(const char *cur, size_t len, const char *want_path, const char **eol_out,
                             struct ecq_bytes *query)
{
    const char *eol, *sp1, *sp2;
    struct ecq_bytes path;
    eol = memchr(cur, '\n', len);
    if (!eol || eol == cur || eol[-1] != '\r') return 400;
    sp1 = memchr(cur, ' ', (size_t)(eol - cur));
    if (!sp1 || sp1 == cur) return 400;
    for (const char *q = cur; q < sp1; q++)
        if (!ecq__is_tchar((unsigned char)*q)) return 400;
    sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
    if (!sp2 || sp2 == sp1 + 1) return 400;
    if (eol - 1 - (sp2 + 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)sp2[8]))
        return 400;
    if (sp1 - cur != 3 || memcmp(cur, "GET", 3) != 0) return 405;
    if (sp2[8] == '0') return 400; /* RFC 6455 §4.1: HTTP/1.1 or later */
    path.ptr = sp1 + 1, path.len = (size_t)(sp2 - sp1 - 1);
    for (size_t i = 0; i < path.len; i++)
        if ((unsigned char)path.ptr[i] < 0x21 || (unsigned char)path.ptr[i] > 0x7E) return 400;
    const char *qm = memchr(path.ptr, '?', path.len);
    if (qm) {
        query->ptr = qm + 1, query->len = path.len - (size_t)(qm + 1 - path.ptr);
        path.len = (size_t)(qm - path.ptr);
    }
    /* "?token=T" alone is what a client sends for ws://host:port?token=T (tungstenite
     * writes the URL's path-and-query as it stands): an empty path with a query, which
     * RFC 3986 §3.3 and §6.2.3 make the root path. Only the query form; an empty
     * target is refused above, and every other target must match the path exactly. */
    if (qm == path.ptr) path.ptr = "/", path.len = 1;
    if (path.len != strlen(want_path) || memcmp(path.ptr, want_path, path.len) != 0) return 404;
    *eol_out = eol;
    return 0;
}

int ecq_http_check_upgrade(const char *head, size_t len, const struct ecq_http_policy *p,
                           char accept[29])
{
    const char *cur, *end = head + len, *eol;
    struct ecq_bytes host = {0}, upgrade = {0}, conn = {0}, key = {0}, version = {0}, origin = {0}, auth = {0},
                     query = {0};
    int nhost = 0, nupgrade = 0, nkey = 0, nversion = 0, norigin = 0, nauth = 0, plain;
    uint8_t raw[18];
    int rc = ecq__request_line(head, len, p && p->path ? p->path : "/", &eol, &query);
    if (rc) return rc;

    /* header fields */
    for (cur = eol + 1; cur < end; cur = eol + 1) {
        const char *colon, *v, *ve;
        eol = memchr(cur, '\n', (size_t)(end - cur));
        if (!eol || eol == cur || eol[-1] != '\r') return 400;
        if (eol - 1 == cur) break; /* the empty line */
        colon = memchr(cur, ':', (size_t)(eol - cur));
        if (!colon || colon == cur) return 400;
        for (const char *q = cur; q < colon; q++)
            if (!ecq__is_tchar((unsigned char)*q)) return 400; /* also refuses obs-fold */
        v = colon + 1, ve = eol - 1;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        for (const char *q = v; q < ve; q++)
            if ((unsigned char)*q < 0x20 && *q != '\t') return 400;
        struct ecq_bytes name = {cur, (size_t)(colon - cur)}, val = {v, (size_t)(ve - v)};
        if (ecq__bytes_ieq(name, "Host")) host = val, nhost++;
        else if (ecq__bytes_ieq(name, "Upgrade")) upgrade = val, nupgrade++;
        else if (ecq__bytes_ieq(name, "Connection")) conn = val;
        else if (ecq__bytes_ieq(name, "Sec-WebSocket-Key")) key = val, nkey++;
        else if (ecq__bytes_ieq(name, "Sec-WebSocket-Version")) version = val, nversion++;
        else if (ecq__bytes_ieq(name, "Origin")) origin = val, norigin++;
        else if (ecq__bytes_ieq(name, "Authorization")) auth = val, nauth++;
    }
    if (nhost != 1 || host.len == 0 || norigin > 1 || nauth > 1) return 400;
    /* a plain GET (a browser opening the URL) names no WebSocket field at all */
    plain = !nupgrade && !nkey && !nversion;
    if (!plain) {
        if (nkey != 1 || !ecq__list_has(upgrade, "websocket") || !ecq__list_has(conn, "upgrade")) return 400;
        if (key.len != 24 || ecq_base64_decode(key.ptr, key.len, raw, sizeof raw) != 16) return 400;
        if (nversion == 0) return 400;
        if (nversion != 1 || !ecq__bytes_ieq(version, "13")) return 426;
    }

    /* who may connect */
    if (p && p->check_host) {
        char h[256];
        if (!ecq__split_hostport(host, h, sizeof h)) return 400;
        if (!ecq__is_loopback_name(h) && !(p->bind_host && strcasecmp(h, p->bind_host) == 0)) return 403;
    }
    if (plain) return 200; /* the page holds no data: Origin and token guard the stream */
    if (norigin && !ecq__origin_allowed(origin, host, p ? p : &(struct ecq_http_policy){0})) return 403;
    if (p && p->token) {
        char qt[512];
        size_t qtl = 0;
        int ok = 0;
        if (nauth && auth.len > 7 && strncasecmp(auth.ptr, "Bearer ", 7) == 0) {
            struct ecq_bytes t = {auth.ptr + 7, auth.len - 7};
            while (t.len && *t.ptr == ' ') t.ptr++, t.len--;
            ok = ecq__token_equal(t.ptr, t.len, p->token);
        }
        if (!ok && ecq__query_token(query, qt, sizeof qt, &qtl)) ok = ecq__token_equal(qt, qtl, p->token);
        if (!ok) return 401;
    }
    ecq_ws_accept(key.ptr, key.len, accept);
    return 101;
}

/* =========================================================================
 * WebSocket frames (RFC 6455 §5)
 * ========================================================================= */

size_t ecq_ws_frame_header(uint8_t out[10], int op, uint64_t len)
{
    out[0] = (uint8_t)(0x80 | (op & 0x0F));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len < 65536) {
        out[1] = 126, out[2] = (uint8_t)(len >> 8), out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

static int ecq__close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

static int ecq__ws_frame_end(struct ecq_ws_reader *r)
{
    r->hdr_len = 0;
    if (r->opcode >= 8) {
        if (r->opcode == 8 && r->ctl_len >= 1) {
            if (r->ctl_len == 1) return -1002;
            if (!ecq__close_code_valid((unsigned)r->ctl[0] << 8 | r->ctl[1])) return -1002;
            if (!ecq_utf8_valid(r->ctl + 2, r->ctl_len - 2)) return -1007;
        }
        return r->opcode == 8 ? ECQ_WS_CLOSE : r->opcode == 9 ? ECQ_WS_PING : ECQ_WS_PONG;
    }
    if (!r->fin) return ECQ_WS_MORE;
    if (r->msg_opcode == 1 && (r->utf8 & 3)) return -1007; /* text ends inside a character */
    r->opcode = r->msg_opcode;
    r->msg_opcode = 0;
    return ECQ_WS_MESSAGE;
}

static int ecq__ws_header_done(struct ecq_ws_reader *r)
{
    const uint8_t *h = r->hdr;
    uint64_t n = h[1] & 0x7F;
    if (h[0] & 0x70) return -1002;
    r->fin = h[0] >> 7, r->opcode = h[0] & 0x0F, r->masked = h[1] >> 7;
    if ((r->opcode > 2 && r->opcode < 8) || r->opcode > 10) return -1002;
    if (r->masked != (r->from_client != 0)) return -1002;
    if (n == 126) {
        n = (uint64_t)h[2] << 8 | h[3];
        if (n < 126) return -1002;
    } else if (n == 127) {
        n = 0;
        for (int i = 0; i < 8; i++) n = n << 8 | h[2 + i];
        if (n >> 63 || n < 65536) return -1002;
    }
    if (r->masked) memcpy(r->mask, h + r->hdr_len - 4, 4);
    if (r->opcode >= 8) {
        if (!r->fin || n > 125) return -1002;
        r->ctl_len = 0;
    } else {
        if (r->opcode == 0 && !r->msg_opcode) return -1002;
        if (r->opcode != 0 && r->msg_opcode) return -1002;
        if (r->opcode != 0) r->msg_opcode = r->opcode, r->msg_len = 0, r->utf8 = 0, r->data_len = 0;
        if (n > r->max_message || r->msg_len + n > r->max_message) return -1009;
        r->msg_len += n;
        if (r->keep_data && r->data_len + n > r->data_cap) {
            size_t cap = r->data_cap ? r->data_cap : 4096;
            while (cap < r->data_len + n) cap *= 2;
            uint8_t *d = realloc(r->data, cap);
            if (!d) return -1009;
            r->data = d, r->data_cap = cap;
        }
    }
    r->remaining = n, r->done = 0;
    return 0;
}

int ecq_ws_read(struct ecq_ws_reader *r, const uint8_t *in, size_t len, size_t *used)
{
    size_t i = 0;
    int rc;
    while (i < len) {
        if (r->remaining == 0 && r->hdr_len < 2) {
            r->hdr[r->hdr_len++] = in[i++];
            if (r->hdr_len < 2) continue;
        }
        if (r->remaining == 0 && r->hdr_len >= 2) {
            unsigned ext = (r->hdr[1] & 0x7F) == 126 ? 2 : (r->hdr[1] & 0x7F) == 127 ? 8 : 0;
            unsigned need = 2 + ext + ((r->hdr[1] & 0x80) ? 4 : 0);
            while (r->hdr_len < need && i < len) r->hdr[r->hdr_len++] = in[i++];
            if (r->hdr_len < need) break;
            if ((rc = ecq__ws_header_done(r)) < 0) return *used = i, rc;
            r->frames++;
            if (r->remaining == 0) {
                rc = ecq__ws_frame_end(r);
                if (rc != ECQ_WS_MORE) return *used = i, rc;
                continue;
            }
            r->hdr_len = 0xFF; /* header consumed; payload follows */
            continue;
        }
        size_t take = len - i < r->remaining ? len - i : (size_t)r->remaining;
        uint8_t tmp[4096];
        while (take) {
            size_t n = take;
            const uint8_t *src = in + i; /* a server's frames: the bytes as they are */
            if (r->masked) {             /* a client's: unmasked through tmp */
                n = take < sizeof tmp ? take : sizeof tmp;
                for (size_t j = 0; j < n; j++) tmp[j] = in[i + j] ^ r->mask[(r->done + j) & 3];
                src = tmp;
            }
            if (r->opcode >= 8) {
                memcpy(r->ctl + r->ctl_len, src, n);
                r->ctl_len += (unsigned)n;
            } else {
                if (r->msg_opcode == 1 && (r->utf8 = ecq__utf8_step(r->utf8, src, n)) == ECQ__UTF8_BAD)
                    return *used = i + n, -1007;
                if (r->keep_data) memcpy(r->data + r->data_len, src, n), r->data_len += n;
            }
            r->done += n, r->remaining -= n, i += n, take -= n;
        }
        if (r->remaining == 0) {
            rc = ecq__ws_frame_end(r);
            if (rc != ECQ_WS_MORE) return *used = i, rc;
        }
    }
    *used = i;
    return ECQ_WS_MORE;
}

void ecq_ws_reader_free(struct ecq_ws_reader *r)
{
    free(r->data);
    r->data = NULL, r->data_len = r->data_cap = 0;
}

/* =========================================================================
 * The hub: server, clients, shared frames, heartbeats, startup replay
 * ========================================================================= */

#define ECQ__REPLAY_MAX 128
#define ECQ__HEAD_MAX 8192              /* an HTTP request or response head, both ways */
#define ECQ__POOL_CLASSES 13        /* 256 B .. 1 MiB */
#define ECQ__POOL_DEPTH 32
#define ECQ__CLOSE_GRACE_MS 5000      /* to get a close frame out past what the kernel holds */
#define ECQ__LINGER_MS 2000           /* then to wait for the peer's EOF */
#define ECQ__IOV_MAX 256
#define ECQ__FRAME_HDR_MAX 10         /* a server frame header: 2, 4 or 10 bytes */
#define ECQ__LEND_MIN 4096            /* payloads lent to frames, not copied, from this size:
                                       * below it the copy costs less than the second iovec */

/* One encoded, framed message, shared by every client that has it queued. */
struct ecq__msg {
    uint32_t refs;
    uint32_t off, len;              /* frame bytes: buf[off .. off+len) */
    uint32_t cls;                   /* pool class, or ECQ__POOL_CLASSES if not pooled */
    uint32_t mem;                   /* what holding it costs: its allocation, malloc's
                                     * header, a queue slot with the ring's slack */
    const void *batch_of;           /* the client whose batch this is (ecq__client_batch) */
    struct ecq__msg *next;          /* pool free list; the lent list (ecq__server_settle) */
    const uint8_t *lent;            /* frame bytes [lent_at, len) are here, not in buf: */
    uint32_t lent_at;               /* borrowed capture memory, until ecq__server_settle */
    uint8_t buf[];
};

enum ecq__state {
    ECQ__HANDSHAKE,                 /* reading the request head */
    ECQ__OPEN,                      /* receives every broadcast */
    ECQ__CLOSING,                   /* last frames queued; then shut down */
    ECQ__LINGER,                    /* write side shut; drain input until EOF or deadline */
    ECQ__DEAD,                      /* reaped at the end of the step */
};

struct ecq__client {
    int fd;
    enum ecq__state state;
    char addr[64];
    char *head;                     /* handshake bytes, ECQ__HEAD_MAX */
    size_t head_len;
    struct ecq_ws_reader rd;
    struct ecq__msg **q;            /* ring of queued frames */
    uint32_t qcap, qhead, qlen;
    size_t qoff;                    /* bytes of q[qhead] already written */
    size_t qbytes;                  /* unwritten bytes queued */
    size_t qmem;                    /* memory the queued messages hold (their mem) */
    int blocked;                    /* the socket said EAGAIN: wait for POLLOUT */
    int64_t hb_count, hb_due_ms;
    int hb_owed;                    /* a heartbeat is due: made when it can be written */
    struct ecq__msg *hb_msg;        /* a heartbeat queued, not yet written whole */
    int64_t deadline_ms;            /* handshake timeout or close grace; 0 none */
    const char *why;                /* reason for the disconnect log line */
    int opened;                     /* completed the handshake */
    int64_t frames_since_ms;        /* the client's frame rate: frames read since then */
    uint64_t frames_mark;           /* rd.frames at frames_since_ms */
    int hello_queued;               /* the 101 is the queue's head, not yet written whole:
                                     * whatever else is dropped, it is kept */
    int batch;                      /* asked for ECQ__BATCH_PROTOCOL: events in batches */
    struct ecq__client *next_dead;
};

#define ECQ__LOG_BUF (64 * 1024)       /* run-log bytes waiting for a slow stderr */
#define ECQ__CONN_LINES_PER_S 20        /* connection lines logged one by one per second */

struct ecq_server {
    struct ecq_config cfg;
    int log_fd;                     /* stderr, reopened non-blocking where it can block */
    int log_sock;                   /* stderr is a socket (a journal stream): send(MSG_DONTWAIT) */
    char *log_buf;                  /* lines not written yet: at most ECQ__LOG_BUF */
    size_t log_len;
    uint64_t log_dropped;           /* lines that found the buffer full, not yet reported */
    int64_t conn_window_ms;         /* connection lines: this second's count, and the */
    int conn_lines;                 /* lines summarised instead of logged */
    uint64_t conn_quiet;
    int64_t pending_logged_ms;      /* the last "dropped pending connections" line */
    uint64_t pending_logged;        /* pending_dropped as of that line */
    struct ecq_url url;
    struct ecq_http_policy pol;
    int lfd;
    struct ecq__client **cl;
    int ncl, capcl;
    struct pollfd *pfd;
    int pfd_cap;
    struct ecq__msg *replay[ECQ__REPLAY_MAX];
    int nreplay;
    struct ecq__msg *pool[ECQ__POOL_CLASSES];
    int pool_n[ECQ__POOL_CLASSES];
    struct ecq__msg *lent;          /* frames pointing at capture memory (ecq__msg_entry) */
    uint64_t lent_n, lent_copied;   /* such frames, and those copied for a client behind */
    struct ecq_stats st;
    int64_t accept_resume_ms;
    int accept_failing;             /* 1 accept hit a resource limit, 2 and that was logged */
    int64_t accept_logged_ms;
    char url_text[sizeof "ws://[]:65535" + 256 + 256];
    char status[64];                /* ecq_server_set_status: appended to heartbeats */
    uint8_t rx[65536];
};

/* the monotonic clock in nanoseconds (BPF's clock), microseconds (discovery's budget)
 * and milliseconds */
static int64_t ecq__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t ecq__now_us(void) { return ecq__mono_ns() / 1000; }

static int64_t ecq__now_ms(void) { return ecq__now_us() / 1000; }

/* the one place defaults are applied: every unset (zero or negative) setting */
static void ecq__config_defaults(struct ecq_config *c)
{
    if (!c->url) c->url = ECQ_DEFAULT_URL;
    if (c->heartbeat_sec <= 0) c->heartbeat_sec = ECQ_DEFAULT_HEARTBEAT_SEC;
    if (!c->client_buffer) c->client_buffer = ECQ_DEFAULT_CLIENT_BUFFER;
    if (!c->max_message) c->max_message = ECQ_DEFAULT_MAX_MESSAGE;
    if (c->max_clients <= 0) c->max_clients = ECQ_DEFAULT_MAX_CLIENTS;
    if (c->max_pending <= 0) c->max_pending = ECQ_DEFAULT_MAX_PENDING;
    if (c->handshake_timeout_ms <= 0) c->handshake_timeout_ms = ECQ_DEFAULT_HANDSHAKE_TIMEOUT_MS;
}

void ecq_config_init(struct ecq_config *c)
{
    memset(c, 0, sizeof *c);
    ecq__config_defaults(c);
}

/* ---- shared messages ---------------------------------------------------- */

/* A message with room for a frame header and payload bytes; the payload starts at
 * buf[ECQ__FRAME_HDR_MAX], the header goes right in front of it. */
static struct ecq__msg *ecq__msg_new(struct ecq_server *s, size_t payload)
{
    size_t need = sizeof(struct ecq__msg) + ECQ__FRAME_HDR_MAX + payload;
    uint32_t cls = 0;
    struct ecq__msg *m;
    if (payload > UINT32_MAX - 64) return NULL;
    while (cls < ECQ__POOL_CLASSES && ((size_t)256 << cls) < need) cls++;
    if (cls < ECQ__POOL_CLASSES && s->pool[cls]) {
        m = s->pool[cls];
        s->pool[cls] = m->next;
        s->pool_n[cls]--;
    } else {
        m = malloc(cls < ECQ__POOL_CLASSES ? (size_t)256 << cls : need);
        if (!m) return NULL;
    }
    m->refs = 1, m->cls = cls, m->next = NULL, m->off = ECQ__FRAME_HDR_MAX, m->len = 0, m->batch_of = NULL;
    m->lent = NULL, m->lent_at = 0;
    m->mem = (uint32_t)((cls < ECQ__POOL_CLASSES ? (size_t)256 << cls : need) + 32);
    return m;
}

/* puts the frame header in front of the len payload bytes at buf[at] */
static void ecq__msg_frame(struct ecq__msg *m, int op, size_t at, size_t len)
{
    uint8_t h[ECQ__FRAME_HDR_MAX];
    size_t hl = ecq_ws_frame_header(h, op, len);
    m->off = (uint32_t)(at - hl);
    memcpy(m->buf + m->off, h, hl);
    m->len = (uint32_t)(hl + len);
}

static void ecq__msg_unref(struct ecq_server *s, struct ecq__msg *m)
{
    if (--m->refs) return;
    if (m->cls < ECQ__POOL_CLASSES && s->pool_n[m->cls] < ECQ__POOL_DEPTH) {
        m->next = s->pool[m->cls];
        s->pool[m->cls] = m;
        s->pool_n[m->cls]++;
        return;
    }
    free(m);
}

/* A framed LogEntry, sized once and encoded straight into the frame; NULL on
 * allocation failure. A large payload (the entry's last bytes) is
 * placed at the same address mod 64 as where it comes from: a copy between addresses
 * that differ mod 64 is several times slower on some CPUs (rep movsb). With lend, a
 * large payload is not copied at all: the frame points at it (m->lent) until
 * ecq__server_settle, which copies it in for the clients that have not written it yet. */
static struct ecq__msg *ecq__msg_entry(struct ecq_server *s, const struct ecq_entry *e, int lend)
{
    size_t inner = ecq__payload_size(e), n = ecq__entry_size(e, inner), at = ECQ__FRAME_HDR_MAX;
    int big = e->payload_case == ECQ_PAYLOAD_EVENT && e->event.payload.len >= 1024;
    const void *lent = lend && e->payload_case == ECQ_PAYLOAD_EVENT && e->event.payload.len >= ECQ__LEND_MIN
                           ? e->event.payload.ptr : NULL;
    struct ecq__msg *m = ecq__msg_new(s, n + (big ? 64 : 0));
    if (!m) return NULL;
    if (big) at += ((uintptr_t)e->event.payload.ptr - (uintptr_t)(m->buf + at + n - e->event.payload.len)) & 63;
    if (ecq__encode_entry(e, inner, n, m->buf + at, n, lent) != n) { /* cannot happen: one walk sizes and writes */
        ecq__msg_unref(s, m);
        return NULL;
    }
    ecq__msg_frame(m, 2, at, n);
    if (lent) {
        m->lent = lent;
        m->lent_at = m->len - (uint32_t)e->event.payload.len;
        m->refs++; /* the lent list's */
        s->lent_n++;
        m->next = s->lent;
        s->lent = m;
    }
    return m;
}

/* the frame's bytes from skip on, as at most two pieces (its own, the lent): their count */
static int ecq__msg_iov(const struct ecq__msg *m, size_t skip, struct iovec *iov)
{
    size_t own = m->lent ? m->lent_at : m->len;
    int n = 0;
    if (skip < own) iov[n++] = (struct iovec){(void *)(m->buf + m->off + skip), own - skip};
    if (m->lent) {
        size_t from = skip > own ? skip - own : 0;
        iov[n++] = (struct iovec){(void *)(m->lent + from), m->len - own - from};
    }
    return n;
}

static struct ecq__msg *ecq__msg_raw(struct ecq_server *s, int op, const void *data, size_t n)
{
    struct ecq__msg *m = ecq__msg_new(s, n);
    if (!m) return NULL;
    memcpy(m->buf + ECQ__FRAME_HDR_MAX, data, n);
    if (op < 0) { /* not a frame: raw bytes such as an HTTP response */
        m->len = (uint32_t)n;
        return m;
    }
    ecq__msg_frame(m, op, ECQ__FRAME_HDR_MAX, n);
    return m;
}

/* ---- per-client output -------------------------------------------------- */

/* counts a client out of the open set when it leaves ECQ__OPEN */
static void ecq__client_leave_open(struct ecq_server *s, struct ecq__client *c)
{
    if (c->state == ECQ__OPEN) s->st.clients--;
}

static void ecq__client_kill(struct ecq_server *s, struct ecq__client *c, const char *why)
{
    if (c->state == ECQ__DEAD) return;
    ecq__client_leave_open(s, c);
    if (!c->why) c->why = why;
    c->state = ECQ__DEAD;
}

static void ecq__client_drop_queue(struct ecq_server *s, struct ecq__client *c, int keep_partial)
{
    uint32_t keep = (keep_partial && c->qoff) || c->hello_queued ? 1 : 0;
    while (c->qlen > keep) {
        uint32_t last = (c->qhead + c->qlen - 1) % c->qcap;
        if (c->q[last] == c->hb_msg) c->hb_msg = NULL;
        c->qbytes -= c->q[last]->len;
        c->qmem -= c->q[last]->mem;
        ecq__msg_unref(s, c->q[last]);
        c->qlen--;
    }
    if (!c->qlen) c->qoff = 0, c->qbytes = 0, c->qmem = 0;
}

static void ecq__heartbeat_jump(struct ecq_server *s, struct ecq__client *c);

/* Writes as much of the queue as the socket takes, a heartbeat that is owed first. 0,
 * or -1 if the client died. */
static int ecq__client_flush(struct ecq_server *s, struct ecq__client *c)
{
    for (;;) {
        if (c->hb_owed && !c->hb_msg && !c->hello_queued && c->state == ECQ__OPEN) {
            ecq__heartbeat_jump(s, c);
            if (c->state == ECQ__DEAD) return -1;
        }
        if (!c->qlen) break;
        struct iovec iov[ECQ__IOV_MAX];
        int n = 0;
        for (uint32_t i = 0; i < c->qlen && n + 2 <= ECQ__IOV_MAX; i++)
            n += ecq__msg_iov(c->q[(c->qhead + i) % c->qcap], i == 0 ? c->qoff : 0, iov + n);
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return c->blocked = 1, 0;
            if (errno == EINTR) continue;
            ecq__client_kill(s, c, errno == EPIPE || errno == ECONNRESET ? "connection reset" : "write error");
            return -1;
        }
        s->st.bytes += (uint64_t)w;
        c->qbytes -= (size_t)w;
        while (w > 0) {
            struct ecq__msg *m = c->q[c->qhead];
            size_t left = m->len - c->qoff;
            if ((size_t)w < left) {
                c->qoff += (size_t)w;
                break;
            }
            w -= (ssize_t)left;
            c->qoff = 0;
            c->hello_queued = 0; /* the head, written whole: the 101 went first */
            if (m == c->hb_msg) c->hb_msg = NULL;
            c->qmem -= m->mem;
            ecq__msg_unref(s, m);
            c->qhead = (c->qhead + 1) % c->qcap;
            c->qlen--;
        }
    }
    if (c->state == ECQ__CLOSING) {
        shutdown(c->fd, SHUT_WR);
        c->state = ECQ__LINGER;
        c->deadline_ms = ecq__now_ms() + ECQ__LINGER_MS;
    }
    return 0;
}

/* room for one more queued frame: 0, or -1 out of memory */
static int ecq__client_room(struct ecq__client *c)
{
    if (c->qlen < c->qcap) return 0;
    uint32_t cap = c->qcap ? c->qcap * 2 : 16;
    struct ecq__msg **q = malloc(cap * sizeof *q);
    if (!q) return -1;
    for (uint32_t i = 0; i < c->qlen; i++) q[i] = c->q[(c->qhead + i) % c->qcap];
    free(c->q);
    c->q = q, c->qcap = cap, c->qhead = 0;
    return 0;
}

/* Queues m last, or first (jump): ahead of everything not yet begun, behind the frame
 * being written if one is (a frame once begun must end before another starts). */
static int ecq__client_queue(struct ecq__client *c, struct ecq__msg *m, int jump)
{
    if (ecq__client_room(c) < 0) return -1;
    m->refs++;
    if (!jump) {
        c->q[(c->qhead + c->qlen) % c->qcap] = m;
    } else {
        c->qhead = (c->qhead + c->qcap - 1) % c->qcap;
        if (c->qlen && c->qoff) { /* the partly written frame stays first */
            c->q[c->qhead] = c->q[(c->qhead + 1) % c->qcap];
            c->q[(c->qhead + 1) % c->qcap] = m;
        } else {
            c->q[c->qhead] = m;
        }
    }
    c->qlen++;
    c->qbytes += m->len;
    c->qmem += m->mem;
    return 0;
}

static int ecq__client_push(struct ecq__client *c, struct ecq__msg *m) { return ecq__client_queue(c, m, 0); }

static void ecq__client_close(struct ecq_server *s, struct ecq__client *c, unsigned code, const char *why);

/* Queues m for c. Queues are written by ecq_server_poll, many frames per sendmsg, so
 * that a burst of events costs each client one system call, not one per event. */
static void ecq__client_send(struct ecq_server *s, struct ecq__client *c, struct ecq__msg *m)
{
    if (c->state != ECQ__OPEN) return;
    /* the bound is on memory held, not frame bytes: a 60-byte frame sits in a 256-byte
     * allocation, so counting bytes let a stalled client hold 3-4 times its bound */
    if (c->qmem + m->mem > s->cfg.client_buffer) {
        s->st.clients_dropped++;
        ecq__client_drop_queue(s, c, 1);
        ecq__client_close(s, c, 1008, "output bound exceeded (consumer too slow)");
        /* logged once c is out of the open set: the line is broadcast too */
        ecq_server_log(s, "client %s: output over %zu bytes (consumer too slow); closing with 1008", c->addr,
                       s->cfg.client_buffer);
        return;
    }
    if (ecq__client_push(c, m) < 0) ecq__client_kill(s, c, "out of memory");
}

/* Starts the closing handshake: a close frame after what is queued, then shutdown. */
static void ecq__client_close(struct ecq_server *s, struct ecq__client *c, unsigned code, const char *why)
{
    uint8_t payload[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    struct ecq__msg *m;
    if (c->state != ECQ__OPEN) return;
    c->why = why;
    m = ecq__msg_raw(s, 8, payload, code ? 2 : 0);
    if (!m || ecq__client_push(c, m) < 0) {
        if (m) ecq__msg_unref(s, m);
        ecq__client_kill(s, c, why);
        return;
    }
    ecq__msg_unref(s, m);
    ecq__client_leave_open(s, c);
    c->state = ECQ__CLOSING;
    c->deadline_ms = ecq__now_ms() + ECQ__CLOSE_GRACE_MS;
    (void)ecq__client_flush(s, c); /* a client that died is reaped; nothing else to do */
}

/* ---- logging ------------------------------------------------------------ */

/* Where run-log lines go when there is no sink: stderr, written without ever blocking
 * the loop. A pipe, terminal or socket is reopened as a description of our own with
 * O_NONBLOCK (setting it on the shared one would surprise the shell); a regular file
 * never blocks and keeps fd 2 (and its offset, shared with stdout under 2>&1). */
static void ecq__log_open(struct ecq_server *s)
{
    struct stat st;
    s->log_fd = STDERR_FILENO;
    if (fstat(STDERR_FILENO, &st) < 0 || S_ISREG(st.st_mode)) return;
    if (S_ISSOCK(st.st_mode)) { /* /proc/self/fd/N cannot reopen a socket */
        s->log_sock = 1;
        return;
    }
    int fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0) s->log_fd = fd;
}

/* writes what is buffered, as far as the sink takes it now */
static void ecq__log_flush(struct ecq_server *s)
{
    while (s->log_len) {
        ssize_t w = s->log_sock ? send(s->log_fd, s->log_buf, s->log_len, MSG_DONTWAIT | MSG_NOSIGNAL)
                                : write(s->log_fd, s->log_buf, s->log_len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* EAGAIN: later; another error: the lines stay until the bound */
        memmove(s->log_buf, s->log_buf + w, s->log_len - (size_t)w);
        s->log_len -= (size_t)w;
    }
    if (s->log_dropped) { /* the sink is back: say what it missed */
        char note[128];
        int n = snprintf(note, sizeof note, "ecaptureq: %" PRIu64 " run-log line(s) dropped: stderr was not being read\n",
                         s->log_dropped);
        s->log_dropped = 0;
        if (n > 0) memcpy(s->log_buf, note, (size_t)n), s->log_len = (size_t)n;
        ecq__log_flush(s);
    }
}

static void ecq__log_write(struct ecq_server *s, const char *line)
{
    size_t n = strlen(line);
    if (!s->log_buf && !(s->log_buf = malloc(ECQ__LOG_BUF))) return;
    if (s->log_len + n + 1 > ECQ__LOG_BUF) {
        ecq__log_flush(s);
        if (s->log_len + n + 1 > ECQ__LOG_BUF) {
            s->log_dropped++;
            return;
        }
    }
    memcpy(s->log_buf + s->log_len, line, n);
    s->log_buf[s->log_len + n] = '\n';
    s->log_len += n + 1;
    ecq__log_flush(s);
}

/* A line about one connection (connected, disconnected, refused): logged as it is
 * unless more than ECQ__CONN_LINES_PER_S came this second; then counted and summed up
 * in one line, so that a connect loop cannot flood stderr or every consumer's run log. */
static void ecq__conn_window(struct ecq_server *s, int64_t now)
{
    if (now - s->conn_window_ms < 1000) return;
    uint64_t quiet = s->conn_quiet;
    s->conn_window_ms = now, s->conn_lines = 0, s->conn_quiet = 0;
    if (quiet) ecq_server_log(s, "%" PRIu64 " more connection line(s) not logged one by one (connection churn)", quiet);
}

static int ecq__conn_line_ok(struct ecq_server *s)
{
    ecq__conn_window(s, ecq__now_ms());
    if (s->conn_lines++ < ECQ__CONN_LINES_PER_S) return 1;
    s->conn_quiet++;
    return 0;
}


/* copies b into buf with each byte that does not start valid UTF-8 replaced by '?' */
static struct ecq_bytes ecq__utf8_fix(struct ecq_bytes b, char *buf, size_t cap)
{
    size_t o = 0;
    if (ecq_utf8_valid(b.ptr, b.len)) return b;
    for (size_t i = 0; i < b.len && o < cap;) {
        size_t k = ecq__utf8_char(b.ptr + i, b.len - i);
        if (k && o + k <= cap) {
            memcpy(buf + o, b.ptr + i, k);
            o += k, i += k;
        } else {
            buf[o++] = (uint8_t)b.ptr[i] < 0x80 ? b.ptr[i] : '?';
            i++;
        }
    }
    return (struct ecq_bytes){buf, o};
}

/* Many small WebSocket messages cost a browser far more than their bytes: Chromium's
 * page took about 7,000 a second here, whatever it did with them. A client that asks
 * for the subprotocol ECQ__BATCH_PROTOCOL (the viewer does) gets the broadcast LogEntry
 * messages gathered: one binary message holds many, each as field 15 of a wrapper
 * (tag 0x7a, its length as a varint, its bytes), up to ECQ__BATCH_BYTES; a message that
 * does not start with 0x7a is one LogEntry as usual (the replay, heartbeats, one too big
 * for a batch). A batch grows while it waits in the client's queue, and is closed once
 * its first byte is written. */
#define ECQ__BATCH_PROTOCOL "ecaptureq.batch"
#define ECQ__BATCH_BYTES ((32u << 10) - 64) /* with the message's head, a 32 KiB allocation */
#define ECQ__BATCH_FIELD 15 /* the wrapper's field: tag 0x7a */

/* m added to c's open batch, or to a new one queued for c: 1, or 0 to send m as it is */
static int ecq__client_batch(struct ecq_server *s, struct ecq__client *c, const struct ecq__msg *m)
{
    const uint8_t *f = m->buf + m->off;
    if (c->state != ECQ__OPEN || m->len < 2 || f[0] != (0x80 | 2)) return 0; /* whole binary frames only */
    size_t hl = (f[1] & 0x7f) == 127 ? 10 : (f[1] & 0x7f) == 126 ? 4 : 2, n = m->len - hl, vl = ecq__varint_size(n);
    if (1 + vl + n > ECQ__BATCH_BYTES) return 0;
    struct ecq__msg *b = c->qlen ? c->q[(c->qhead + c->qlen - 1) % c->qcap] : NULL;
    size_t used = b ? b->off + b->len - ECQ__FRAME_HDR_MAX : 0;
    if (!b || b->batch_of != c || (c->qlen == 1 && c->qoff) || used + 1 + vl + n > ECQ__BATCH_BYTES) {
        if (!(b = ecq__msg_new(s, ECQ__BATCH_BYTES))) return 0;
        b->batch_of = c;
        ecq__msg_frame(b, 2, ECQ__FRAME_HDR_MAX, 0);
        ecq__client_send(s, c, b); /* under the client's bound like any frame */
        ecq__msg_unref(s, b);
        if (c->state != ECQ__OPEN) return 1; /* closed for it: the event goes as for any closed client */
        used = 0;
    }
    uint8_t *o = b->buf + ECQ__FRAME_HDR_MAX + used;
    struct ecq__pb_out po = {o, o + 1 + vl + n, 0, 0, NULL};
    ecq__out_tag(&po, ECQ__BATCH_FIELD, ECQ__PB_LEN);
    ecq__out_varint(&po, n);
    size_t own = (m->lent ? m->lent_at : m->len) - hl; /* the entry's own bytes, then a lent payload */
    ecq__out(&po, f + hl, own);
    if (m->lent) ecq__out(&po, m->lent, n - own);
    c->qbytes -= b->len;
    ecq__msg_frame(b, 2, ECQ__FRAME_HDR_MAX, used + 1 + vl + n);
    c->qbytes += b->len;
    return 1;
}

static void ecq__broadcast(struct ecq_server *s, struct ecq__msg *m)
{
    for (int i = 0; i < s->ncl; i++)
        if (!s->cl[i]->batch || !ecq__client_batch(s, s->cl[i], m)) ecq__client_send(s, s->cl[i], m);
}

/* sec (and frac_ns of it, 0 to 999999999) as an RFC 3339 UTC time with digits (0 to 9)
 * of the fraction, cut not rounded: "2026-12-05T14:15:59.775169123Z". Returns its
 * length, or 0 for a time RFC 3339 cannot write (a year outside 0000-9999). */
static size_t ecq__utc_stamp(char *out, size_t cap, int64_t sec, long frac_ns, int digits)
{
    struct tm tm;
    time_t t = (time_t)sec;
    long div = 1;
    if (sec < -62167219200 || sec > 253402300799 || !gmtime_r(&t, &tm)) return 0; /* 0000-01-01 .. 9999-12-31 */
    for (int i = digits; i < 9; i++) div *= 10;
    int n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
    if (n > 0 && (size_t)n < cap && digits) n += snprintf(out + n, cap - (size_t)n, ".%0*ld", digits, frac_ns / div);
    if (n > 0 && (size_t)n < cap) n += snprintf(out + n, cap - (size_t)n, "Z");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* JSON string body of text (quotes not included): returns the length written, at most cap-1 */
static size_t ecq__json_escape(char *out, size_t cap, const char *text)
{
    size_t o = 0, n = strlen(text);
    char esc[16];
    for (size_t i = 0, k, e; i < n && (e = ecq__json_char(text + i, n - i, esc, &k)) < cap - o; i += k)
        memcpy(out + o, esc, e), o += e;
    out[o] = 0;
    return o;
}

/* A run-log entry is one complete line, "\n" included (as eCapture's are): with
 * log_json eCapture's zerolog shape {"level","time","message"}, else "TIME message".
 * The level is the message's own "error: " or "warning: " prefix, else info. */
static void ecq__vlog(struct ecq_server *s, const char *fmt, va_list ap)
{
    char line[1024], text[2400], fixed[2400], esc[2200], stamp[64] = "";
    const char *msg = line, *level = "info";
    struct timespec ts;
    int n;
    vsnprintf(line, sizeof line, fmt, ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    ecq__utc_stamp(stamp, sizeof stamp, ts.tv_sec, ts.tv_nsec, 3);
    if (s->cfg.log_json) {
        if (!strncmp(line, "error: ", 7)) level = "error", msg = line + 7;
        else if (!strncmp(line, "warning: ", 9)) level = "warn", msg = line + 9;
        ecq__json_escape(esc, sizeof esc, msg);
        n = snprintf(text, sizeof text, "{\"level\":\"%s\",\"time\":\"%s\",\"message\":\"%s\"}", level, stamp, esc);
    } else {
        n = snprintf(text, sizeof text, "%s %s", stamp, line);
    }
    if (n < 0) return;
    if (s->cfg.log_sink) s->cfg.log_sink(s->cfg.log_user, text);
    else ecq__log_write(s, text);
    n = (int)strlen(text);
    if (n > (int)sizeof text - 2) n = (int)sizeof text - 2; /* not reached: the formats above fit */
    text[n] = '\n', text[n + 1] = 0;
    struct ecq_entry e = {.log_type = ECQ_LOG_PROCESS_LOG, .payload_case = ECQ_PAYLOAD_RUN_LOG};
    e.run_log = ecq__utf8_fix((struct ecq_bytes){text, (size_t)n + 1}, fixed, sizeof fixed);
    struct ecq__msg *m = ecq__msg_entry(s, &e, 0);
    if (!m) return;
    if (s->nreplay < ECQ__REPLAY_MAX) {
        m->refs++;
        s->replay[s->nreplay++] = m;
    }
    ecq__broadcast(s, m);
    ecq__msg_unref(s, m);
}

void ecq_server_log(struct ecq_server *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ecq__vlog(s, fmt, ap);
    va_end(ap);
}

/* ---- events and heartbeats ---------------------------------------------- */

/* ecq_server_event; with lend, a large payload's bytes are not copied: they must stay
 * where they are until ecq__server_settle (the capture's ring records, until it moves
 * the ring's consumer position past them) */
static int ecq__server_event(struct ecq_server *s, const struct ecq_event *ev, int lend)
{
    struct ecq_entry e = {.log_type = ECQ_LOG_EVENT, .payload_case = ECQ_PAYLOAD_EVENT, .event = *ev};
    char b1[128], b2[64], b3[64], b4[64];
    struct ecq__msg *m;
    s->st.events++;
    if (s->st.clients == 0) return 0;
    e.event.uuid = ecq__utf8_fix(ev->uuid, b1, sizeof b1);
    e.event.src_ip = ecq__utf8_fix(ev->src_ip, b2, sizeof b2);
    e.event.dst_ip = ecq__utf8_fix(ev->dst_ip, b3, sizeof b3);
    e.event.pname = ecq__utf8_fix(ev->pname, b4, sizeof b4);
    if (!(m = ecq__msg_entry(s, &e, lend))) return -ENOMEM;
    ecq__broadcast(s, m);
    ecq__msg_unref(s, m);
    return 0;
}

int ecq_server_event(struct ecq_server *s, const struct ecq_event *ev) { return ecq__server_event(s, ev, 0); }

/* Ends every loan of ecq__msg_entry: a frame some client still has queued (its socket
 * was full, or took part of it) gets the lent bytes copied into its own buffer, which
 * has room for them; the rest were written from where they lay and are let go. */
static void ecq__server_settle(struct ecq_server *s)
{
    while (s->lent) {
        struct ecq__msg *m = s->lent;
        s->lent = m->next;
        m->next = NULL;
        if (m->refs > 1) {
            memcpy(m->buf + m->off + m->lent_at, m->lent, m->len - m->lent_at);
            s->lent_copied++;
        }
        m->lent = NULL;
        ecq__msg_unref(s, m);
    }
}

/* c's next heartbeat, its counts as of now; backlog: bytes of older messages that
 * will still be queued for c behind it (said only when there are any) */
static struct ecq__msg *ecq__heartbeat_msg(struct ecq_server *s, struct ecq__client *c, size_t backlog)
{
    char text[240], behind[48] = "";
    if (backlog) snprintf(behind, sizeof behind, " backlog=%zu", backlog);
    int n = snprintf(text, sizeof text, "heartbeat:%" PRId64 " events=%" PRIu64 " lost=%" PRIu64 " clients=%d%s%s%s",
                     c->hb_count, s->st.events, s->st.lost, s->st.clients, s->status[0] ? " " : "", s->status, behind);
    struct ecq_entry e = {.log_type = ECQ_LOG_HEARTBEAT, .payload_case = ECQ_PAYLOAD_HEARTBEAT};
    e.heartbeat.timestamp = (int64_t)time(NULL);
    e.heartbeat.count = c->hb_count;
    e.heartbeat.message = (struct ecq_bytes){text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1};
    struct ecq__msg *m = ecq__msg_entry(s, &e, 0);
    if (m) c->hb_count++;
    return m;
}

/* Heartbeat 0, on connect: queued in order, behind the 101 and the replay. */
static void ecq__send_first_heartbeat(struct ecq_server *s, struct ecq__client *c)
{
    struct ecq__msg *m = ecq__heartbeat_msg(s, c, 0);
    c->hb_due_ms = ecq__now_ms() + (int64_t)s->cfg.heartbeat_sec * 1000;
    if (!m) return;
    ecq__client_send(s, c, m);
    if (c->qlen && c->q[(c->qhead + c->qlen - 1) % c->qcap] == m) c->hb_msg = m;
    ecq__msg_unref(s, m);
}

/* Every later heartbeat is made as the socket takes it (ecq__client_flush), not when it
 * falls due, and goes ahead of what is queued: a consumer minutes behind the stream
 * still reads counts that are true when they reach its socket, and backlog= says how
 * much older traffic follows. One at a time (never two queued, so never out of order),
 * and outside the client's output bound, which it can pass by one heartbeat at most. */
static void ecq__heartbeat_jump(struct ecq_server *s, struct ecq__client *c)
{
    size_t begun = c->qlen && c->qoff ? c->q[c->qhead]->len - c->qoff : 0;
    struct ecq__msg *m = ecq__heartbeat_msg(s, c, c->qbytes - begun);
    c->hb_owed = 0;
    if (!m) return;
    if (ecq__client_queue(c, m, 1) < 0) ecq__client_kill(s, c, "out of memory");
    else c->hb_msg = m;
    ecq__msg_unref(s, m);
}

/* A heartbeat fell due: owed, and written now unless the socket is full (then on POLLOUT). */
static void ecq__heartbeat_due(struct ecq_server *s, struct ecq__client *c, int64_t now)
{
    c->hb_owed = 1;
    c->hb_due_ms = now + (int64_t)s->cfg.heartbeat_sec * 1000;
    if (!c->blocked) (void)ecq__client_flush(s, c); /* a client that died is reaped */
}

size_t ecq_server_backlog(const struct ecq_server *s)
{
    size_t most = 0;
    for (int i = 0; i < s->ncl; i++)
        if (s->cl[i]->state == ECQ__OPEN && s->cl[i]->qmem > most) most = s->cl[i]->qmem;
    return most;
}

void ecq_server_stats(const struct ecq_server *s, struct ecq_stats *st) { *st = s->st; }

void ecq_server_set_lost(struct ecq_server *s, uint64_t lost) { s->st.lost = lost; }

void ecq_server_set_status(struct ecq_server *s, const char *status)
{
    snprintf(s->status, sizeof s->status, "%s", status ? status : "");
}

/* ---- the viewer page ---------------------------------------------------- */

#ifdef ECQ_VIEWER
/* web/viewer.html, embedded at build time like the BPF object */
__asm__(".section .rodata\n"
        "ecq__viewer:\n"
        ".incbin \"" ECQ_VIEWER "\"\n"
        "ecq__viewer_end:\n"
        ".previous\n");
extern const char ecq__viewer[], ecq__viewer_end[];

const char *ecq_viewer_page(size_t *len)
{
    *len = (size_t)(ecq__viewer_end - ecq__viewer);
    return ecq__viewer;
}
#else
const char *ecq_viewer_page(size_t *len)
{
    *len = 0;
    return NULL;
}
#endif

/* ---- connections -------------------------------------------------------- */

static const char *ecq__status_text(int code)
{
    switch (code) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

/* Queues a complete HTTP response (m, taken over; NULL: out of memory) and closes
 * once it is out. */
static void ecq__client_answer(struct ecq_server *s, struct ecq__client *c, struct ecq__msg *m, const char *what)
{
    if (ecq__conn_line_ok(s)) ecq_server_log(s, "client %s %s", c->addr, what);
    c->why = "";
    if (!m || ecq__client_push(c, m) < 0) {
        if (m) ecq__msg_unref(s, m);
        ecq__client_kill(s, c, "");
        return;
    }
    ecq__msg_unref(s, m);
    c->state = ECQ__CLOSING;
    c->deadline_ms = ecq__now_ms() + ECQ__CLOSE_GRACE_MS;
    (void)ecq__client_flush(s, c); /* a client that died is reaped; nothing else to do */
}

/* Answers a refused request with a complete HTTP response, then closes. The body is
 * plain text that a browser must neither sniff as markup nor run anything from. */
static void ecq__client_reject(struct ecq_server *s, struct ecq__client *c, int code)
{
    char resp[640], body[128], why[64];
    int bl = snprintf(body, sizeof body, "%d %s\n", code, ecq__status_text(code));
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
                     "X-Content-Type-Options: nosniff\r\nContent-Security-Policy: default-src 'none'; "
                     "frame-ancestors 'none'\r\nCache-Control: no-store\r\nConnection: close\r\n%s%s%s\r\n%s",
                     code, ecq__status_text(code), bl, code == 426 ? "Sec-WebSocket-Version: 13\r\n" : "",
                     code == 405 ? "Allow: GET\r\n" : "", code == 401 ? "WWW-Authenticate: Bearer\r\n" : "", body);
    snprintf(why, sizeof why, "refused with %d %s", code, ecq__status_text(code));
    ecq__client_answer(s, c, ecq__msg_raw(s, -1, resp, (size_t)n), why);
}

/* The page with each "{{nonce}}" and "{{auth}}" replaced; writes to out unless it is
 * NULL, returns the length either way. */
static size_t ecq__page_fill(const char *pg, size_t n, const char *nonce, const char *auth, char *out)
{
    static const char *const ph[2] = {"{{nonce}}", "{{auth}}"};
    const char *end = pg + n;
    size_t len = 0;
    while (pg < end) {
        const char *b = memchr(pg, '{', (size_t)(end - pg)), *put = NULL;
        size_t skip = 0;
        if (!b) b = end;
        for (int i = 0; i < 2 && b < end; i++)
            if ((size_t)(end - b) >= strlen(ph[i]) && memcmp(b, ph[i], strlen(ph[i])) == 0)
                put = i ? auth : nonce, skip = strlen(ph[i]);
        if (b < end && !put) b++; /* a '{' of no placeholder is text */
        if (out) memcpy(out + len, pg, (size_t)(b - pg));
        len += (size_t)(b - pg);
        if (put) {
            if (out) memcpy(out + len, put, strlen(put));
            len += strlen(put);
            b += skip;
        }
        pg = b;
    }
    return len;
}

/* Answers a plain GET with the page under a policy that lets only its own scripts and
 * styles (those carrying this response's nonce) run, and lets them connect only back
 * to this origin; then closes. */
static void ecq__client_page(struct ecq_server *s, struct ecq__client *c)
{
    const char *auth = s->pol.token ? "token" : "none";
    uint8_t raw[18];
    char nonce[25], head[768];
    ecq__rand(raw, sizeof raw);
    ecq_base64_encode(raw, sizeof raw, nonce);
    size_t body = ecq__page_fill(s->cfg.page, s->cfg.page_len, nonce, auth, NULL);
    size_t hl = (size_t)snprintf(head, sizeof head,
                                 "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %zu\r\n"
                                 "Content-Security-Policy: default-src 'none'; script-src 'nonce-%s'; style-src 'nonce-%s'; "
                                 "connect-src 'self'; worker-src blob:; img-src data:; base-uri 'none'; form-action 'none'; "
                                 "frame-ancestors 'none'\r\nX-Content-Type-Options: nosniff\r\n"
                                 "Referrer-Policy: no-referrer\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                                 body, nonce, nonce);
    struct ecq__msg *m = ecq__msg_new(s, hl + body);
    if (m) {
        char *o = (char *)m->buf + m->off;
        memcpy(o, head, hl);
        ecq__page_fill(s->cfg.page, s->cfg.page_len, nonce, auth, o + hl);
        m->len = (uint32_t)(hl + body);
    }
    ecq__client_answer(s, c, m, m ? "got the page" : "got no page (out of memory)");
}

/* The value of the next header field called name in an HTTP head, from *at on (NULL:
 * after the status or request line), blanks trimmed, a line ending in CR LF or a bare
 * LF; {NULL, 0} when there is none. *at moves past the field found. */
static struct ecq_bytes ecq__head_next(const char *head, size_t hl, const char *name, const char **at)
{
    size_t nl = strlen(name);
    const char *end = head + hl, *p = *at ? *at : memchr(head, '\n', hl);
    while (p && ++p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) break;
        if ((size_t)(eol - p) > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
            const char *v = p + nl + 1, *e = eol;
            while (v < e && (*v == ' ' || *v == '\t')) v++;
            while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) e--;
            *at = eol;
            return (struct ecq_bytes){v, (size_t)(e - v)};
        }
        p = eol;
    }
    return (struct ecq_bytes){NULL, 0};
}

/* whether a request head (one ecq_http_check_upgrade took) offers the subprotocol proto,
 * in any of its Sec-WebSocket-Protocol fields */
static int ecq__head_offers(const char *head, size_t len, const char *proto)
{
    const char *at = NULL;
    for (struct ecq_bytes v; (v = ecq__head_next(head, len, "Sec-WebSocket-Protocol", &at)).ptr;)
        if (ecq__list_has(v, proto)) return 1;
    return 0;
}

static void ecq__client_open(struct ecq_server *s, struct ecq__client *c, const char *accept)
{
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n%s\r\n", accept,
                     c->batch ? "Sec-WebSocket-Protocol: " ECQ__BATCH_PROTOCOL "\r\n" : "");
    struct ecq__msg *m = ecq__msg_raw(s, -1, resp, (size_t)n);
    if (!m) {
        ecq__client_kill(s, c, "out of memory");
        return;
    }
    c->state = ECQ__OPEN;
    c->opened = 1;
    c->deadline_ms = 0;
    c->rd.from_client = 1;
    c->rd.max_message = s->cfg.max_message;
    s->st.clients++;
    s->st.clients_total++;
    ecq__client_send(s, c, m);
    ecq__msg_unref(s, m);
    c->hello_queued = c->qlen == 1;
    for (int i = 0; i < s->nreplay; i++) ecq__client_send(s, c, s->replay[i]);
    ecq__send_first_heartbeat(s, c);
    if (ecq__conn_line_ok(s)) ecq_server_log(s, "client %s connected (%d open)", c->addr, s->st.clients);
}

/* Handles a frame event from an open client. */
static void ecq__client_frame(struct ecq_server *s, struct ecq__client *c, int r)
{
    if (r < 0) {
        const char *why = r == -1007 ? "invalid UTF-8 (1007)" : r == -1009 ? "message too big (1009)" : "protocol error (1002)";
        ecq__client_close(s, c, (unsigned)-r, why);
    } else if (r == ECQ_WS_PING) {
        struct ecq__msg *m = ecq__msg_raw(s, 10, c->rd.ctl, c->rd.ctl_len);
        if (m) {
            ecq__client_send(s, c, m);
            ecq__msg_unref(s, m);
        }
    } else if (r == ECQ_WS_CLOSE) {
        unsigned code = c->rd.ctl_len >= 2 ? (unsigned)c->rd.ctl[0] << 8 | c->rd.ctl[1] : 0;
        ecq__client_close(s, c, code, "closed by client");
    }
}

/* Feeds bytes from an open client to its frame reader and acts on each frame. A
 * consumer sends little (pongs, a ping now and then, a close): one that sends more
 * than ECQ__CLIENT_FRAMES_PER_S frames in a second (pings or empty fragments as fast
 * as it can) is closed with 1008, so that it cannot take the loop from the others. */
#define ECQ__CLIENT_FRAMES_PER_S 2000
static void ecq__client_frames(struct ecq_server *s, struct ecq__client *c, const uint8_t *in, size_t n)
{
    size_t off = 0, used;
    int64_t now = ecq__now_ms();
    if (now - c->frames_since_ms >= 1000) c->frames_since_ms = now, c->frames_mark = c->rd.frames;
    while (off < n && c->state == ECQ__OPEN) {
        int r = ecq_ws_read(&c->rd, in + off, n - off, &used);
        off += used;
        if (r != ECQ_WS_MORE) ecq__client_frame(s, c, r);
        if (c->rd.frames - c->frames_mark > ECQ__CLIENT_FRAMES_PER_S && c->state == ECQ__OPEN) {
            ecq__client_close(s, c, 1008, "too many frames (over 2000 a second)");
            break;
        }
    }
}

/* Adds n bytes read in the handshake to the head. Once the head is complete, what
 * follows it (frames sent right behind the request, in the same write or not) goes to
 * the frame reader: the bytes of this read past the head buffer's room as well as those
 * already in it, so that a head near ECQ__HEAD_MAX loses nothing behind it. */
static void ecq__client_handshake(struct ecq_server *s, struct ecq__client *c, const uint8_t *in, size_t n)
{
    size_t room = ECQ__HEAD_MAX - c->head_len, take = n < room ? n : room, head;
    size_t from = c->head_len > 3 ? c->head_len - 3 : 0; /* no end before: only new bytes can make one */
    char accept[29];
    memcpy(c->head + c->head_len, in, take);
    c->head_len += take;
    head = ecq_http_head_length(c->head + from, c->head_len - from);
    if (head) head += from;
    if (!head) {
        if (c->head_len == ECQ__HEAD_MAX) ecq__client_reject(s, c, 431);
        return;
    }
    int code = ecq_http_check_upgrade(c->head, head, &s->pol, accept);
    if (code == 101 && s->st.clients >= s->cfg.max_clients) code = 503; /* only open clients take a slot */
    if (code == 200 && s->cfg.page) {
        ecq__client_page(s, c);
        return;
    }
    if (code == 200) code = 400; /* no page here: a plain GET is not a handshake */
    if (code != 101) {
        ecq__client_reject(s, c, code);
        return;
    }
    c->batch = ecq__head_offers(c->head, head, ECQ__BATCH_PROTOCOL);
    ecq__client_open(s, c, accept);
    ecq__client_frames(s, c, (const uint8_t *)c->head + head, c->head_len - head);
    ecq__client_frames(s, c, in + take, n - take);
    free(c->head);
    c->head = NULL;
}

static void ecq__client_readable(struct ecq_server *s, struct ecq__client *c)
{
    for (int rounds = 0; rounds < 4 && c->state != ECQ__DEAD; rounds++) {
        ssize_t n = recv(c->fd, s->rx, sizeof s->rx, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) ecq__client_kill(s, c, "connection reset");
            return;
        }
        if (n == 0) {
            ecq__client_kill(s, c, c->state == ECQ__OPEN ? "connection closed without a close frame" : NULL);
            return;
        }
        if (c->state == ECQ__HANDSHAKE) {
            ecq__client_handshake(s, c, s->rx, (size_t)n);
        } else if (c->state == ECQ__OPEN) {
            ecq__client_frames(s, c, s->rx, (size_t)n);
        }
        /* CLOSING and LINGER: input is read and dropped until EOF */
        if ((size_t)n < sizeof s->rx) return;
    }
}

static void ecq__accept(struct ecq_server *s)
{
    for (int k = 0; k < 64; k++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* they wait in the backlog; try again shortly rather than spin */
                int64_t now = ecq__now_ms();
                if (!s->accept_failing && now - s->accept_logged_ms >= 5000) {
                    ecq_server_log(s, "accept: %s; new connections wait while %d are open", strerror(errno), s->ncl);
                    s->accept_logged_ms = now;
                    s->accept_failing = 2; /* logged */
                } else if (!s->accept_failing) {
                    s->accept_failing = 1;
                }
                s->accept_resume_ms = now + 100;
            }
            return;
        }
        if (s->accept_failing == 2) ecq_server_log(s, "accepting connections again");
        s->accept_failing = 0;
        char host[INET6_ADDRSTRLEN] = "?", addr[64];
        int port = 0, one = 1;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
            port = ntohs(a->sin6_port);
        }
        snprintf(addr, sizeof addr, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* latency only */
        (void)ecq_server_adopt(s, fd, addr); /* a failure is logged there */
    }
}

int ecq_server_adopt(struct ecq_server *s, int fd, const char *peer)
{
    struct ecq__client *c = calloc(1, sizeof *c);
    char name[32];
    if (!peer) snprintf(name, sizeof name, "fd %d", fd), peer = name;
    if (c && s->ncl == s->capcl) {
        int cap = s->capcl ? s->capcl * 2 : 64;
        struct ecq__client **cl = realloc(s->cl, (size_t)cap * sizeof *cl);
        if (cl) s->cl = cl, s->capcl = cap;
    }
    if (!c || s->ncl == s->capcl || !(c->head = malloc(ECQ__HEAD_MAX))) {
        free(c);
        close(fd);
        ecq_server_log(s, "client %s dropped: out of memory", peer);
        return -ENOMEM;
    }
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); /* every call on it passes MSG_DONTWAIT too */
    c->fd = fd;
    c->state = ECQ__HANDSHAKE;
    snprintf(c->addr, sizeof c->addr, "%s", peer);
    c->deadline_ms = ecq__now_ms() + s->cfg.handshake_timeout_ms;
    s->cl[s->ncl++] = c;
    /* connections still in their handshake have a bound of their own and never take a
     * client's slot; over it, the oldest one goes, so idle sockets cannot lock out a
     * client that completes its handshake */
    int pending = 0;
    struct ecq__client *oldest = NULL;
    for (int i = 0; i < s->ncl; i++)
        if (s->cl[i]->state == ECQ__HANDSHAKE) {
            pending++;
            if (!oldest) oldest = s->cl[i];
        }
    if (pending > s->cfg.max_pending && oldest) {
        s->st.pending_dropped++;
        ecq__client_kill(s, oldest, NULL);
        int64_t now = ecq__now_ms(); /* one line per 5 s under a flood, not one per socket */
        if (now - s->pending_logged_ms >= 5000) {
            ecq_server_log(s, "dropped %" PRIu64 " connection(s) that had not completed their handshake (over "
                              "--max-pending %d; %" PRIu64 " in all)", s->st.pending_dropped - s->pending_logged,
                           s->cfg.max_pending, s->st.pending_dropped);
            s->pending_logged_ms = now, s->pending_logged = s->st.pending_dropped;
        }
    }
    return 0;
}

const char *ecq_server_url(const struct ecq_server *s) { return s->url_text; }

static void ecq__client_free(struct ecq_server *s, struct ecq__client *c)
{
    ecq__client_drop_queue(s, c, 0);
    free(c->q);
    free(c->head);
    ecq_ws_reader_free(&c->rd);
    close(c->fd);
    free(c);
}

/* Frees dead clients; those that had completed the handshake get a log line. */
static void ecq__reap(struct ecq_server *s)
{
    int j = 0, n = s->ncl;
    struct ecq__client *dead = NULL;
    for (int i = 0; i < n; i++) {
        struct ecq__client *c = s->cl[i];
        if (c->state != ECQ__DEAD) {
            s->cl[j++] = c;
            continue;
        }
        c->next_dead = dead;
        dead = c;
    }
    s->ncl = j;
    while (dead) {
        struct ecq__client *c = dead;
        dead = c->next_dead;
        if (c->opened && ecq__conn_line_ok(s))
            ecq_server_log(s, "client %s disconnected: %s (%d open)", c->addr, c->why ? c->why : "closed",
                           s->st.clients);
        ecq__client_free(s, c);
    }
}

/* Binds and listens on s->url: 0 and whether the address is loopback, or a negative
 * errno. */
static int ecq__listen(struct ecq_server *s, int *loopback)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *ai = NULL;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    char port[8];
    int one = 1, rc;
    snprintf(port, sizeof port, "%u", s->url.port);
    if ((rc = ecq__getaddrinfo(s->url.host, port, &hints, &ai)) != 0 || !ai)
        return rc == EAI_MEMORY ? -ENOMEM : -EADDRNOTAVAIL;
    s->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    rc = s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
                 bind(s->lfd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(s->lfd, SOMAXCONN) < 0
             ? -errno : 0;
    *loopback = ecq__loopback_ip(ai->ai_family, ai->ai_family == AF_INET6
                                                    ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                                                    : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr);
    freeaddrinfo(ai);
    if (rc == 0 && getsockname(s->lfd, (struct sockaddr *)&bound, &blen) == 0)
        s->url.port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                        : ((struct sockaddr_in *)&bound)->sin_port);
    return rc;
}

int ecq_server_open(struct ecq_server **out, const struct ecq_config *cfg)
{
    struct ecq_server *s;
    const char *why;
    int loopback = 0, rc = 0;
    *out = NULL;
    if (!(s = calloc(1, sizeof *s))) return -ENOMEM;
    s->cfg = *cfg;
    ecq__config_defaults(&s->cfg);
    s->lfd = -1;
    ecq__log_open(s);
    if (ecq_url_parse(s->cfg.url, &s->url, &why) < 0) {
        ecq_server_log(s, "error: bad URL '%s': %s", s->cfg.url, why);
        rc = -EINVAL;
    } else if (!s->cfg.no_listen && (rc = ecq__listen(s, &loopback)) < 0) {
        ecq_server_log(s, "error: cannot listen on %s: %s", s->cfg.url, strerror(-rc));
    }
    if (rc < 0) { /* the one way out: what was opened is closed (the log's descriptor too) */
        ecq_server_close(s, 0);
        return rc;
    }
    if (!s->cfg.no_listen)
        snprintf(s->url_text, sizeof s->url_text, s->url.ipv6_literal ? "ws://[%s]:%u%s" : "ws://%s:%u%s", s->url.host,
                 s->url.port, s->url.path);
    s->pol.path = s->url.path;
    s->pol.token = s->cfg.token && *s->cfg.token ? s->cfg.token : NULL;
    s->pol.origins = s->cfg.origins;
    s->pol.norigins = s->cfg.norigins;
    s->pol.check_host = loopback;
    s->pol.bind_host = s->url.host;
    *out = s;
    if (!loopback && !s->pol.token && !s->cfg.no_listen)
        ecq_server_log(s, "warning: listening on non-loopback %s without --token: anyone who can reach it "
                          "reads the decrypted traffic", s->url_text);
    return 0;
}

/* Writes what the clients have queued, as far as their sockets take it: the number of
 * clients still with frames queued. */
static int ecq__server_flush(struct ecq_server *s)
{
    int behind = 0;
    for (int i = 0; i < s->ncl; i++)
        if (s->cl[i]->qlen && !s->cl[i]->blocked && s->cl[i]->state != ECQ__DEAD)
            (void)ecq__client_flush(s, s->cl[i]); /* dead clients are reaped by the service */
    for (int i = 0; i < s->ncl; i++) behind += s->cl[i]->qlen > 0;
    return behind;
}

int ecq_server_fds(struct ecq_server *s, struct pollfd *fds, int max, int *timeout_ms)
{
    int64_t now = ecq__now_ms(), due = *timeout_ms < 0 ? INT64_MAX : now + *timeout_ms;
    int n = 0, accepting = now >= s->accept_resume_ms;
    if (s->conn_quiet) ecq__conn_window(s, now); /* the churn's sum, once its second is over */
    if (s->conn_quiet && s->conn_window_ms + 1000 < due) due = s->conn_window_ms + 1000;
    if (s->log_len || s->log_dropped) ecq__log_flush(s); /* a slow stderr: retried every pass, at least every 100 ms */
    if ((s->log_len || s->log_dropped) && now + 100 < due) due = now + 100;
    (void)ecq__server_flush(s);
    if (n < max) fds[n] = (struct pollfd){.fd = accepting ? s->lfd : -1, .events = POLLIN};
    n++;
    if (!accepting && s->accept_resume_ms < due) due = s->accept_resume_ms;
    for (int i = 0; i < s->ncl; i++, n++) {
        struct ecq__client *c = s->cl[i];
        if (n < max) fds[n] = (struct pollfd){.fd = c->fd, .events = (short)(POLLIN | (c->qlen ? POLLOUT : 0))};
        if (c->deadline_ms && c->deadline_ms < due) due = c->deadline_ms;
        if (c->state == ECQ__OPEN && c->hb_due_ms < due) due = c->hb_due_ms;
    }
    *timeout_ms = due == INT64_MAX ? -1 : due <= now ? 0 : (int)(due - now > INT_MAX ? INT_MAX : due - now);
    return n;
}

void ecq_server_service(struct ecq_server *s, const struct pollfd *fds, int n)
{
    int64_t now;
    if (n > 0 && fds[0].fd >= 0 && fds[0].fd == s->lfd && (fds[0].revents & POLLIN)) ecq__accept(s);
    now = ecq__now_ms();
    /* fds[1 + i] is client i as ecq_server_fds saw it; clients accepted just now come
     * after the polled set */
    for (int i = 0; i < s->ncl; i++) {
        struct ecq__client *c = s->cl[i];
        short re = 1 + i < n && fds[1 + i].fd == c->fd ? fds[1 + i].revents : 0;
        if (re & (POLLIN | POLLHUP | POLLERR)) ecq__client_readable(s, c);
        if ((re & POLLOUT) && c->state != ECQ__DEAD) {
            c->blocked = 0;
            (void)ecq__client_flush(s, c);
        }
        if (c->deadline_ms && now >= c->deadline_ms && c->state != ECQ__DEAD) {
            if (c->state == ECQ__HANDSHAKE) ecq__client_reject(s, c, 408);
            else ecq__client_kill(s, c, c->state == ECQ__LINGER ? NULL : "close timed out");
        }
        if (c->state == ECQ__OPEN && now >= c->hb_due_ms) ecq__heartbeat_due(s, c, now);
    }
    ecq__reap(s);
}

/* ecq_server_poll with a timeout in microseconds (negative: none), for capture's
 * sub-millisecond drain */
static int ecq__server_poll_us(struct ecq_server *s, struct pollfd *extra, int nextra, int64_t timeout_us)
{
    int need = nextra + 1 + s->ncl, n, rc, hits = 0, wait = -1;
    if (s->pfd_cap < need) {
        int cap = need * 2;
        struct pollfd *p = realloc(s->pfd, (size_t)cap * sizeof *p);
        if (!p) return -ENOMEM;
        s->pfd = p, s->pfd_cap = cap;
    }
    for (int i = 0; i < nextra; i++) s->pfd[i] = extra[i];
    n = ecq_server_fds(s, s->pfd + nextra, s->pfd_cap - nextra, &wait);
    if (wait >= 0 && (timeout_us < 0 || (int64_t)wait * 1000 < timeout_us)) timeout_us = (int64_t)wait * 1000;
    struct timespec ts = {(time_t)(timeout_us / 1000000), (long)(timeout_us % 1000000) * 1000};
    rc = ppoll(s->pfd, (nfds_t)(nextra + n), timeout_us < 0 ? NULL : &ts, NULL);
    if (rc < 0 && errno != EINTR) return -errno;
    if (rc <= 0)
        for (int i = 0; i < nextra + n; i++) s->pfd[i].revents = 0;
    for (int i = 0; i < nextra; i++)
        if ((extra[i].revents = s->pfd[i].revents)) hits++;
    ecq_server_service(s, s->pfd + nextra, n);
    return hits;
}

int ecq_server_poll(struct ecq_server *s, struct pollfd *extra, int nextra, int timeout_ms)
{
    return ecq__server_poll_us(s, extra, nextra, timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000);
}

void ecq_server_close(struct ecq_server *s, int flush_ms)
{
    if (!s) return;
    for (int i = 0; i < s->ncl; i++) ecq__client_close(s, s->cl[i], 1001, "server shutting down");
    int64_t end = ecq__now_ms() + flush_ms;
    while (s->ncl && ecq__now_ms() < end) {
        int busy = 0;
        for (int i = 0; i < s->ncl; i++) busy |= s->cl[i]->state == ECQ__CLOSING;
        if (!busy) break;
        ecq_server_poll(s, NULL, 0, 10);
    }
    for (int i = 0; i < s->ncl; i++) ecq__client_free(s, s->cl[i]);
    ecq__server_settle(s); /* empty (the capture settles every drain); no client holds any now */
    for (int i = 0; i < s->nreplay; i++) ecq__msg_unref(s, s->replay[i]);
    for (int k = 0; k < ECQ__POOL_CLASSES; k++)
        while (s->pool[k]) {
            struct ecq__msg *m = s->pool[k];
            s->pool[k] = m->next;
            free(m);
        }
    free(s->cl);
    free(s->pfd);
    if (s->lfd >= 0) close(s->lfd);
    if (s->log_len) { /* last lines: a short wait for a slow sink, never forever */
        struct pollfd lp = {.fd = s->log_fd, .events = POLLOUT};
        for (int i = 0; i < 10 && s->log_len && poll(&lp, 1, 100) > 0; i++) ecq__log_flush(s);
    }
    if (s->log_fd != STDERR_FILENO) close(s->log_fd);
    free(s->log_buf);
    free(s);
}

/* =========================================================================
 * Payload classification (Event.type)
 * ========================================================================= */

static int ecq__starts(const uint8_t *p, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n >= l && memcmp(p, lit, l) == 0;
}

/* Which side sent the HTTP/2 bytes at p, from them alone: the client for the preface
 * or a HEADERS frame whose block starts with a request pseudo-header (:authority,
 * :method, :path, :scheme: static indexes 1-7, whole or as a literal's name), the
 * server for one that starts with :status (8-14); else unknown. No HPACK state is
 * needed: the static table is the same on every connection. */
static uint32_t ecq__h2_side(const uint8_t *p, size_t n)
{
    if (n >= 24 && !memcmp(p, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24)) return ECQ_TYPE_HTTP2_REQUEST;
    if (n < 10 || p[3] != 1) return ECQ_TYPE_UNKNOWN;
    size_t at = 9 + (p[4] & 0x8 ? 1 : 0) + (p[4] & 0x20 ? 5 : 0);
    if (at < n && (p[at] & 0xe0) == 0x20 && (p[at] & 0x1f) != 0x1f) at++; /* a short size update */
    if (at >= n) return ECQ_TYPE_UNKNOWN;
    unsigned b = p[at], idx = b & 0x80 ? b & 0x7f : (b & 0xc0) == 0x40 ? b & 0x3f : (b & 0xe0) == 0 ? b & 0x0f : 0;
    if (idx >= 1 && idx <= 7) return ECQ_TYPE_HTTP2_REQUEST;
    if (idx >= 8 && idx <= 14) return ECQ_TYPE_HTTP2_RESPONSE;
    return ECQ_TYPE_UNKNOWN;
}

uint32_t ecq_classify(const void *data, size_t n)
{
    const uint8_t *p = data;
    static const char *const methods[] = {"GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ",
                                          "PATCH ", "CONNECT ", "TRACE "};
    if (ecq__starts(p, n, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")) return ECQ_TYPE_HTTP2_REQUEST;
    if (ecq__starts(p, n, "HTTP/1.")) return ECQ_TYPE_HTTP1_RESPONSE;
    for (size_t i = 0; i < ECQ__ARRAY_LEN(methods); i++) {
        if (!ecq__starts(p, n, methods[i])) continue;
        size_t look = n < ECQ__HEAD_MAX ? n : ECQ__HEAD_MAX; /* a request line longer than a head is not one */
        const uint8_t *eol = memchr(p, '\n', look);
        size_t line = eol ? (size_t)(eol - p) : look;
        return memmem(p, line, " HTTP/1.", 8) ? ECQ_TYPE_HTTP1_REQUEST : ECQ_TYPE_UNKNOWN;
    }
    /* an HTTP/2 frame header: 24-bit length, known type, R bit clear, frame complete */
    if (n >= 9 && p[3] <= 9 && !(p[5] & 0x80)) {
        size_t flen = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
        if (flen <= 16777215 && 9 + flen <= n)
            return ecq__h2_side(p, n) == ECQ_TYPE_HTTP2_REQUEST ? ECQ_TYPE_HTTP2_REQUEST : ECQ_TYPE_HTTP2_RESPONSE;
    }
    return ECQ_TYPE_UNKNOWN;
}

/* =========================================================================
 * pcapng: events as synthetic TCP segments, for Wireshark
 *
 * pcapng (draft-ietf-opsawg-pcapng): a Section Header Block, Interface Description
 * Blocks, then Enhanced Packet Blocks; block fields in the host's byte order (the
 * SHB's byte-order magic tells the reader), packet bytes in network order, blocks and
 * options padded to 32 bits. Interface 0 carries the events as raw IPv4/IPv6 packets
 * (LINKTYPE_RAW); interface 1 the run log and heartbeats as exported text PDUs
 * (LINKTYPE_WIRESHARK_UPPER_PDU, dissector "data-text-lines"), so that no log line
 * passes for traffic. Both stamp nanoseconds (if_tsresol 9).
 * ========================================================================= */

#define ECQ__PCAP_CONNS 4096        /* connections followed; the least recently seen goes */
#define ECQ__PCAP_BUCKETS 8192      /* hash buckets over the connections' keys (a power of two) */
#define ECQ__PCAP_SEG 65000         /* payload bytes per segment: under IPv4's 65535 total */
#define ECQ__PCAP_KEY 200           /* key bytes kept; past them keys differ by their hash */
#define ECQ__PCAP_WSCALE 14         /* window scale in the SYNs: the receive window is 1 GiB,
                                       so data no one acknowledges never fills it */
#define ECQ__LINKTYPE_RAW 101
#define ECQ__LINKTYPE_UPPER_PDU 252

/* One end's view of a connection: the events of one uuid. When both ends are captured
 * (a client and a server on this host) each byte comes twice, once written and once
 * read: per direction a view's offset says which of its bytes were already written. */
struct ecq__pview {
    uint64_t hash;                  /* of the uuid */
    uint64_t fd_hash;               /* of its pid_tid_comm_fd; 0: the uuid names no fd */
    uint64_t off[2];                /* bytes this view saw from side 0, from side 1 */
};

/* A connection, known by its tuple (both orders alike) or, when the tuple is unknown,
 * by the uuid. Side 0 is the client (it sends the SYN), side 1 the server. */
struct ecq__pconn {
    uint64_t hash;                  /* of the key */
    int newer, older;               /* the recency list's neighbours, or -1 */
    uint64_t sent[2];               /* bytes written from each side: the views' highest offset */
    struct ecq__pview view[2];
    int nviews;
    int next;                       /* the next in its bucket, or -1 */
    uint8_t v6, made_up;
    uint8_t addr[2][16];
    uint16_t port[2];
    uint32_t seq[2];                /* the next sequence number each side sends */
    uint16_t keylen;
    char key[ECQ__PCAP_KEY];
};

struct ecq_pcapng {
    FILE *f;
    int err;                        /* the first write error, a negative errno */
    int newest, oldest;             /* the ends of the recency list, or -1 */
    int nconns;
    int bucket[ECQ__PCAP_BUCKETS];
    struct ecq__pconn conns[ECQ__PCAP_CONNS];
};

static uint64_t ecq__fnv(const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h ? h : 1;
}

static void ecq__pcap_put(struct ecq_pcapng *p, const void *d, size_t n)
{
    if (!p->err && n && fwrite(d, 1, n, p->f) != n) p->err = errno ? -errno : -EIO;
}

static void ecq__pcap_pad(struct ecq_pcapng *p, size_t n)
{
    static const uint8_t zero[4];
    ecq__pcap_put(p, zero, (4 - n % 4) % 4);
}

/* the bytes an option of n value bytes takes */
static size_t ecq__pcap_optlen(size_t n) { return 4 + n + (4 - n % 4) % 4; }

static void ecq__pcap_opt(struct ecq_pcapng *p, uint16_t code, const void *v, size_t n)
{
    uint16_t h[2] = {code, (uint16_t)n};
    ecq__pcap_put(p, h, 4);
    ecq__pcap_put(p, v, n);
    ecq__pcap_pad(p, n);
}

/* an Interface Description Block: a name and nanosecond time stamps */
static void ecq__pcap_idb(struct ecq_pcapng *p, uint16_t linktype, const char *name)
{
    size_t nl = strlen(name);
    uint32_t total = (uint32_t)(16 + ecq__pcap_optlen(nl) + ecq__pcap_optlen(1) + 4 + 4);
    uint32_t h[4] = {1, total, linktype, 262144}; /* linktype, reserved 0; snaplen */
    uint8_t nine = 9, end[4] = {0};
    ecq__pcap_put(p, h, 16);
    ecq__pcap_opt(p, 2, name, nl);  /* if_name */
    ecq__pcap_opt(p, 9, &nine, 1);  /* if_tsresol: 10^-9 s */
    ecq__pcap_put(p, end, 4);       /* opt_endofopt */
    ecq__pcap_put(p, &total, 4);
}

/* an Enhanced Packet Block: the packet is head then body; a comment if cl */
static void ecq__pcap_epb(struct ecq_pcapng *p, uint32_t ifc, int64_t ns, const void *head, size_t hl,
                          const void *body, size_t bl, const char *comment, size_t cl)
{
    size_t len = hl + bl;
    uint32_t total = (uint32_t)(28 + len + (4 - len % 4) % 4 + (cl ? ecq__pcap_optlen(cl) + 4 : 0) + 4);
    uint64_t t = ns > 0 ? (uint64_t)ns : 0;
    uint32_t h[7] = {6, total, ifc, (uint32_t)(t >> 32), (uint32_t)t, (uint32_t)len, (uint32_t)len};
    uint8_t end[4] = {0};
    ecq__pcap_put(p, h, sizeof h);
    ecq__pcap_put(p, head, hl);
    ecq__pcap_put(p, body, bl);
    ecq__pcap_pad(p, len);
    if (cl) {
        ecq__pcap_opt(p, 1, comment, cl); /* opt_comment */
        ecq__pcap_put(p, end, 4);
    }
    ecq__pcap_put(p, &total, 4);
}

int ecq_pcapng_open(struct ecq_pcapng **out, FILE *f)
{
    struct ecq_pcapng *p = calloc(1, sizeof *p);
    static const char app[] = "ecaptureq " ECQ_VERSION;
    if (!p) return -ENOMEM;
    p->f = f;
    memset(p->bucket, 0xff, sizeof p->bucket); /* -1: empty */
    p->newest = p->oldest = -1;
    uint32_t total = (uint32_t)(24 + ecq__pcap_optlen(sizeof app - 1) + 4 + 4);
    uint32_t h[3] = {0x0A0D0D0A, total, 0x1A2B3C4D};
    uint16_t version[2] = {1, 0};
    int64_t section_len = -1; /* not given: the file is written as it goes */
    uint8_t end[4] = {0};
    ecq__pcap_put(p, h, sizeof h);
    ecq__pcap_put(p, version, sizeof version);
    ecq__pcap_put(p, &section_len, 8);
    ecq__pcap_opt(p, 4, app, sizeof app - 1); /* shb_userappl */
    ecq__pcap_put(p, end, 4);
    ecq__pcap_put(p, &total, 4);
    ecq__pcap_idb(p, ECQ__LINKTYPE_RAW, "ecaptureq: TLS plaintext as synthetic TCP");
    ecq__pcap_idb(p, ECQ__LINKTYPE_UPPER_PDU, "ecaptureq: run log and heartbeats");
    if (p->err) {
        int err = p->err;
        free(p);
        return err;
    }
    *out = p;
    return 0;
}

int ecq_pcapng_log(struct ecq_pcapng *p, int64_t ts_ns, const char *text, size_t len)
{
    /* exported-PDU tags: the dissector's name (NUL-padded to 32 bits), then the end */
    static const uint8_t tags[] = {0, 12, 0, 16, 'd', 'a', 't', 'a', '-', 't', 'e', 'x', 't', '-',
                                   'l', 'i', 'n', 'e', 's', 0, 0, 0, 0, 0};
    if (!ts_ns) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        ts_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    }
    if (len > ECQ__PCAP_SEG) len = ECQ__PCAP_SEG;
    ecq__pcap_epb(p, 1, ts_ns, tags, sizeof tags, text, len, NULL, 0);
    return p->err;
}

int ecq_pcapng_flush(struct ecq_pcapng *p)
{
    if (!p->err && fflush(p->f) != 0) p->err = errno ? -errno : -EIO;
    return p->err;
}

int ecq_pcapng_close(struct ecq_pcapng *p)
{
    if (!p) return 0;
    int err = ecq_pcapng_flush(p);
    free(p);
    return err;
}

/* the Internet checksum's running sum of n bytes as big-endian 16-bit words */
static uint64_t ecq__csum_add(uint64_t s, const uint8_t *b, size_t n)
{
    for (; n > 1; b += 2, n -= 2) s += (uint32_t)b[0] << 8 | b[1];
    if (n) s += (uint32_t)b[0] << 8;
    return s;
}

static uint16_t ecq__csum_fold(uint64_t s)
{
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void ecq__be16(uint8_t *o, uint32_t v) { o[0] = (uint8_t)(v >> 8), o[1] = (uint8_t)v; }
static void ecq__be32(uint8_t *o, uint32_t v) { ecq__be16(o, v >> 16), ecq__be16(o + 2, v); }

#define ECQ__TCP_FIN 0x01
#define ECQ__TCP_SYN 0x02
#define ECQ__TCP_PSH 0x08
#define ECQ__TCP_ACK 0x10

/* One segment from side `from` of c: its IP and TCP headers into h (up to 64 bytes),
 * checksums over them and the n payload bytes. Returns the headers' length. */
static size_t ecq__pcap_headers(const struct ecq__pconn *c, int from, uint8_t flags, const void *data, size_t n,
                                uint8_t *h)
{
    size_t ip = c->v6 ? 40 : 20, th = flags & ECQ__TCP_SYN ? 24 : 20, alen = c->v6 ? 16 : 4;
    uint8_t *t = h + ip;
    uint32_t tcplen = (uint32_t)(th + n);
    memset(h, 0, ip + th);
    if (c->v6) {
        h[0] = 0x60;
        ecq__be16(h + 4, tcplen);
        h[6] = 6, h[7] = 64; /* next header TCP, hop limit */
        memcpy(h + 8, c->addr[from], 16), memcpy(h + 24, c->addr[!from], 16);
    } else {
        h[0] = 0x45;
        ecq__be16(h + 2, (uint32_t)ip + tcplen);
        h[6] = 0x40, h[8] = 64, h[9] = 6; /* don't fragment, TTL, TCP */
        memcpy(h + 12, c->addr[from], 4), memcpy(h + 16, c->addr[!from], 4);
        ecq__be16(h + 10, ecq__csum_fold(ecq__csum_add(0, h, 20)));
    }
    ecq__be16(t, c->port[from]), ecq__be16(t + 2, c->port[!from]);
    ecq__be32(t + 4, c->seq[from]);
    if (flags & ECQ__TCP_ACK) ecq__be32(t + 8, c->seq[!from]);
    t[12] = (uint8_t)(th / 4) << 4, t[13] = flags;
    ecq__be16(t + 14, 65535);
    if (th == 24) t[20] = 1, t[21] = 3, t[22] = 3, t[23] = ECQ__PCAP_WSCALE; /* NOP, window scale */
    /* the pseudo-header: both addresses, the protocol and the TCP length */
    uint64_t s = ecq__csum_add(0, c->addr[from], alen) + ecq__csum_add(0, c->addr[!from], alen) + 6 + tcplen;
    s = ecq__csum_add(ecq__csum_add(s, t, th), data, n);
    ecq__be16(t + 16, ecq__csum_fold(s));
    return ip + th;
}

/* one segment, its packet block and the sequence number it uses up */
static void ecq__pcap_segment(struct ecq_pcapng *p, struct ecq__pconn *c, int from, uint8_t flags, int64_t ts,
                              const void *data, size_t n, const char *comment, size_t cl)
{
    uint8_t h[64];
    size_t hl = ecq__pcap_headers(c, from, flags, data, n, h);
    ecq__pcap_epb(p, 0, ts, h, hl, data, n, comment, cl);
    c->seq[from] += (uint32_t)n + (flags & (ECQ__TCP_SYN | ECQ__TCP_FIN) ? 1 : 0);
}

/* ---- connections: found by tuple, opened with a handshake, closed with FINs ---- */

static int *ecq__pcap_link_to(struct ecq_pcapng *p, int i)
{
    int *at = &p->bucket[p->conns[i].hash & (ECQ__PCAP_BUCKETS - 1)];
    while (*at != i) at = &p->conns[*at].next;
    return at;
}

/* connection i out of the recency list */
static void ecq__pcap_unlist(struct ecq_pcapng *p, int i)
{
    struct ecq__pconn *c = &p->conns[i];
    if (c->newer >= 0) p->conns[c->newer].older = c->older;
    else p->newest = c->older;
    if (c->older >= 0) p->conns[c->older].newer = c->newer;
    else p->oldest = c->newer;
}

/* connection i at the recency list's newest end */
static void ecq__pcap_list_newest(struct ecq_pcapng *p, int i)
{
    struct ecq__pconn *c = &p->conns[i];
    c->newer = -1, c->older = p->newest;
    if (p->newest >= 0) p->conns[p->newest].newer = i;
    else p->oldest = i;
    p->newest = i;
}

/* connection i is forgotten: the last one takes its slot, in its bucket and its place
 * in the recency list */
static void ecq__pcap_forget(struct ecq_pcapng *p, int i)
{
    int last = --p->nconns;
    *ecq__pcap_link_to(p, i) = p->conns[i].next;
    ecq__pcap_unlist(p, i);
    if (i == last) return;
    struct ecq__pconn *m = &p->conns[last];
    *ecq__pcap_link_to(p, last) = i;
    if (m->newer >= 0) p->conns[m->newer].older = i;
    else p->newest = i;
    if (m->older >= 0) p->conns[m->older].newer = i;
    else p->oldest = i;
    p->conns[i] = *m;
}

static struct ecq__pconn *ecq__pcap_find(struct ecq_pcapng *p, const uint8_t *key, size_t kl, uint64_t h)
{
    for (int i = p->bucket[h & (ECQ__PCAP_BUCKETS - 1)]; i >= 0; i = p->conns[i].next) {
        struct ecq__pconn *c = &p->conns[i];
        if (c->hash == h && c->keylen == kl && !memcmp(c->key, key, kl)) return c;
    }
    return NULL;
}

/* the hash of pid_tid_comm_fd when the uuid is pid_tid_comm_fd_N (N: the socket's
 * number; a new N on the same fd means the old socket was closed), else 0 */
static uint64_t ecq__pcap_fd_hash(struct ecq_bytes u)
{
    size_t i = u.len, end = 0;
    for (int part = 0; part < 2; part++) { /* _N, then _fd: digits after an underscore */
        size_t digits = 0;
        while (i && u.ptr[i - 1] >= '0' && u.ptr[i - 1] <= '9') i--, digits++;
        if (!digits || !i || u.ptr[i - 1] != '_') return 0;
        if (!part) end = --i;
    }
    return ecq__fnv(u.ptr, end);
}

/* an address's text into out[16]: 4 (IPv4), 6 (IPv6) or 0 (none) */
static int ecq__pcap_addr(struct ecq_bytes b, uint8_t out[16])
{
    char s[64];
    memset(out, 0, 16);
    if (!b.len || b.len >= sizeof s) return 0;
    memcpy(s, b.ptr, b.len);
    s[b.len] = 0;
    if (inet_pton(AF_INET, s, out) == 1) return 4;
    return inet_pton(AF_INET6, s, out) == 1 ? 6 : 0;
}

/* 4 or 6 if the event has a whole tuple (its ends' addresses and ports in a), else 0 */
static int ecq__pcap_ends(const struct ecq_event *ev, uint8_t a[2][18])
{
    int fs = ecq__pcap_addr(ev->src_ip, a[0]), fd = ecq__pcap_addr(ev->dst_ip, a[1]);
    if (!fs || fs != fd || !ev->src_port || !ev->dst_port || ev->src_port > 65535 || ev->dst_port > 65535) return 0;
    ecq__be16(a[0] + 16, ev->src_port), ecq__be16(a[1] + 16, ev->dst_port);
    return fs;
}

/* An event's connection key into key[ECQ__PCAP_KEY]: the family and both ends in a
 * fixed order, so that the views of the two ends meet; without a tuple 'u' and the
 * uuid. Returns its length; *h its hash (for a uuid, of the whole uuid). */
static size_t ecq__pcap_key(const struct ecq_event *ev, uint8_t *key, uint64_t *h)
{
    uint8_t a[2][18];
    int fam = ecq__pcap_ends(ev, a);
    if (fam) {
        int lo = memcmp(a[0], a[1], 18) > 0;
        key[0] = (uint8_t)fam;
        memcpy(key + 1, a[lo], 18), memcpy(key + 19, a[!lo], 18);
        *h = ecq__fnv(key, 37);
        return 37;
    }
    size_t n = ev->uuid.len < ECQ__PCAP_KEY - 1 ? ev->uuid.len : ECQ__PCAP_KEY - 1;
    key[0] = 'u';
    if (n) memcpy(key + 1, ev->uuid.ptr, n); /* an unset uuid may have no pointer */
    *h = ecq__fnv(ev->uuid.ptr, ev->uuid.len);
    return n + 1;
}

/* c's ends from the event's tuple: the client is the sender of a request, the receiver
 * of a response, else the end with the higher (ephemeral) port. No tuple: a pair made
 * up from the uuid's hash h, client 198.18.x.x, server 198.19.x.x port 80. */
static void ecq__pcap_tuple(struct ecq__pconn *c, const struct ecq_event *ev, uint64_t h)
{
    uint8_t a[2][18];
    int fam = ecq__pcap_ends(ev, a);
    if (fam) {
        uint32_t sp = ev->src_port, dp = ev->dst_port;
        int src_is_client = ev->type == ECQ_TYPE_HTTP1_REQUEST || ev->type == ECQ_TYPE_HTTP2_REQUEST ? 1
                          : ev->type == ECQ_TYPE_HTTP1_RESPONSE                                      ? 0
                                                                                                     : sp >= dp;
        int s = !src_is_client;
        c->v6 = fam == 6;
        memcpy(c->addr[s], a[0], 16), memcpy(c->addr[!s], a[1], 16);
        c->port[s] = (uint16_t)sp, c->port[!s] = (uint16_t)dp;
        return;
    }
    c->made_up = 1;
    memcpy(c->addr[0], (uint8_t[4]){198, 18, (uint8_t)(h >> 8), (uint8_t)h}, 4);
    memcpy(c->addr[1], (uint8_t[4]){198, 19, (uint8_t)(h >> 16), (uint8_t)(h >> 24)}, 4);
    c->port[0] = (uint16_t)(49152 + (h >> 32) % 16384), c->port[1] = 80;
}

/* the side an event comes from: its sender's end; with a made-up pair, a response
 * comes from the server and everything else from the client */
static int ecq__pcap_from(const struct ecq__pconn *c, const struct ecq_event *ev)
{
    uint8_t a[16];
    if (c->made_up) return ev->type == ECQ_TYPE_HTTP1_RESPONSE || ev->type == ECQ_TYPE_HTTP2_RESPONSE;
    int f = ecq__pcap_addr(ev->src_ip, a);
    return !(f == (c->v6 ? 6 : 4) && !memcmp(a, c->addr[0], 16) && ev->src_port == c->port[0]);
}

/* bytes from a peer as comment text: printable ASCII as it is, else \xNN; cut at cap */
static size_t ecq__pcap_text(char *o, size_t cap, struct ecq_bytes b)
{
    size_t n = 0;
    for (size_t i = 0; i < b.len && n + 5 < cap; i++) {
        unsigned char ch = (unsigned char)b.ptr[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\') o[n++] = (char)ch;
        else n += (size_t)snprintf(o + n, cap - n, "\\x%02x", ch);
    }
    o[n] = 0;
    return n;
}

/* a packet's comment: what it is, the process, the uuid, and whether the pair is made up */
static size_t ecq__pcap_comment(char *out, size_t cap, const char *what, const struct ecq_event *ev, int made_up)
{
    char name[80], uuid[600];
    ecq__pcap_text(name, sizeof name, ev->pname);
    ecq__pcap_text(uuid, sizeof uuid, ev->uuid);
    int n = snprintf(out, cap, "%spid %" PRId64 " %s uuid %s%s", what, ev->pid, name, uuid,
                     made_up ? "; tuple unknown: made-up addresses, direction guessed from the payload" : "");
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* client FIN, server FIN, client ACK; then connection i is forgotten */
static void ecq__pcap_close_conn(struct ecq_pcapng *p, int i, int64_t ts)
{
    static const char why[] = "ecaptureq: synthetic close (the connection's fd went to a new one, or its tuple did)";
    struct ecq__pconn *c = &p->conns[i];
    ecq__pcap_segment(p, c, 0, ECQ__TCP_FIN | ECQ__TCP_ACK, ts, NULL, 0, why, sizeof why - 1);
    ecq__pcap_segment(p, c, 1, ECQ__TCP_FIN | ECQ__TCP_ACK, ts, NULL, 0, why, sizeof why - 1);
    ecq__pcap_segment(p, c, 0, ECQ__TCP_ACK, ts, NULL, 0, why, sizeof why - 1);
    ecq__pcap_forget(p, i);
}

/* a uuid on an fd some connection's view had (pid_tid_comm_fd, another N): that
 * connection is over */
static void ecq__pcap_fd_reused(struct ecq_pcapng *p, uint64_t fh, int64_t ts)
{
    for (int i = 0; fh && i < p->nconns; i++)
        for (int v = 0; v < p->conns[i].nviews; v++)
            if (p->conns[i].view[v].fd_hash == fh) {
                ecq__pcap_close_conn(p, i, ts);
                return;
            }
}

/* a connection seen for the first time: room made, its ends found, and the three-way
 * handshake written */
static struct ecq__pconn *ecq__pcap_open_conn(struct ecq_pcapng *p, const struct ecq_event *ev, const uint8_t *key,
                                              size_t kl, uint64_t h)
{
    if (p->nconns == ECQ__PCAP_CONNS) ecq__pcap_forget(p, p->oldest); /* full: the least recently seen goes */
    int i = p->nconns++;
    struct ecq__pconn *c = &p->conns[i];
    char comment[800];
    memset(c, 0, sizeof *c);
    c->hash = h;
    c->keylen = (uint16_t)kl;
    memcpy(c->key, key, kl);
    c->next = p->bucket[h & (ECQ__PCAP_BUCKETS - 1)];
    p->bucket[h & (ECQ__PCAP_BUCKETS - 1)] = i;
    ecq__pcap_list_newest(p, i);
    ecq__pcap_tuple(c, ev, ecq__fnv(ev->uuid.ptr, ev->uuid.len));
    c->seq[0] = (uint32_t)h, c->seq[1] = (uint32_t)(h >> 32); /* initial sequence numbers */
    size_t cl = ecq__pcap_comment(comment, sizeof comment, "ecaptureq: synthetic handshake (connection first seen); ",
                                  ev, c->made_up);
    ecq__pcap_segment(p, c, 0, ECQ__TCP_SYN, ev->timestamp, NULL, 0, comment, cl);
    ecq__pcap_segment(p, c, 1, ECQ__TCP_SYN | ECQ__TCP_ACK, ev->timestamp, NULL, 0, comment, cl);
    ecq__pcap_segment(p, c, 0, ECQ__TCP_ACK, ev->timestamp, NULL, 0, comment, cl);
    return c;
}

/* The event's connection, and in *view its uuid's view of it. A uuid new to its tuple
 * joins the connection as its other end; a third one, or one on a reused fd, means a
 * new connection. */
static struct ecq__pconn *ecq__pcap_conn(struct ecq_pcapng *p, const struct ecq_event *ev, struct ecq__pview **view)
{
    uint8_t key[ECQ__PCAP_KEY];
    uint64_t h, uh = ecq__fnv(ev->uuid.ptr, ev->uuid.len);
    size_t kl = ecq__pcap_key(ev, key, &h);
    struct ecq__pconn *c = ecq__pcap_find(p, key, kl, h);
    for (int v = 0; c && v < c->nviews; v++)
        if (c->view[v].hash == uh) return *view = &c->view[v], c;
    uint64_t fh = ecq__pcap_fd_hash(ev->uuid);
    ecq__pcap_fd_reused(p, fh, ev->timestamp);
    c = ecq__pcap_find(p, key, kl, h); /* closing moves connections */
    if (c && c->nviews == 2) ecq__pcap_close_conn(p, (int)(c - p->conns), ev->timestamp), c = NULL;
    if (!c) c = ecq__pcap_open_conn(p, ev, key, kl, h);
    *view = &c->view[c->nviews++];
    (*view)->hash = uh, (*view)->fd_hash = fh;
    return c;
}

int ecq_pcapng_event(struct ecq_pcapng *p, const struct ecq_event *ev)
{
    char comment[800];
    struct ecq__pview *v;
    if (p->err) return p->err;
    struct ecq__pconn *c = ecq__pcap_conn(p, ev, &v);
    int from = ecq__pcap_from(c, ev);
    uint64_t at = v->off[from], n = ev->payload.len;
    int i = (int)(c - p->conns);
    if (p->newest != i) ecq__pcap_unlist(p, i), ecq__pcap_list_newest(p, i);
    v->off[from] += n;
    if (at + n <= c->sent[from]) return p->err; /* the other end's view wrote these bytes */
    size_t skip = (size_t)(c->sent[from] > at ? c->sent[from] - at : 0);
    c->sent[from] = at + n;
    size_t cl = ecq__pcap_comment(comment, sizeof comment, "", ev, c->made_up);
    const char *d = ev->payload.ptr + skip;
    for (size_t left = (size_t)n - skip, k; left; d += k, left -= k) {
        k = left < ECQ__PCAP_SEG ? left : ECQ__PCAP_SEG;
        ecq__pcap_segment(p, c, from, ECQ__TCP_PSH | ECQ__TCP_ACK, ev->timestamp, d, k, comment, cl);
    }
    return p->err;
}

/* =========================================================================
 * HTTP decoding: HPACK (RFC 7541), HTTP/2 frames (RFC 9113), gRPC
 *
 * Pure functions and per-connection state fed with bytes in order: no I/O, no global
 * state, never on capture's path (watch uses it). Every bound is in ecaptureq.h.
 * ========================================================================= */

/* RFC 7541 Appendix A */
static const char *const ecq__hpack_static[61][2] = {
    {":authority", ""}, {":method", "GET"}, {":method", "POST"}, {":path", "/"},
    {":path", "/index.html"}, {":scheme", "http"}, {":scheme", "https"}, {":status", "200"},
    {":status", "204"}, {":status", "206"}, {":status", "304"}, {":status", "400"},
    {":status", "404"}, {":status", "500"}, {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"}, {"accept-language", ""}, {"accept-ranges", ""},
    {"accept", ""}, {"access-control-allow-origin", ""}, {"age", ""}, {"allow", ""},
    {"authorization", ""}, {"cache-control", ""}, {"content-disposition", ""},
    {"content-encoding", ""}, {"content-language", ""}, {"content-length", ""},
    {"content-location", ""}, {"content-range", ""}, {"content-type", ""}, {"cookie", ""},
    {"date", ""}, {"etag", ""}, {"expect", ""}, {"expires", ""}, {"from", ""}, {"host", ""},
    {"if-match", ""}, {"if-modified-since", ""}, {"if-none-match", ""}, {"if-range", ""},
    {"if-unmodified-since", ""}, {"last-modified", ""}, {"link", ""}, {"location", ""},
    {"max-forwards", ""}, {"proxy-authenticate", ""}, {"proxy-authorization", ""},
    {"range", ""}, {"referer", ""}, {"refresh", ""}, {"retry-after", ""}, {"server", ""},
    {"set-cookie", ""}, {"strict-transport-security", ""}, {"transfer-encoding", ""},
    {"user-agent", ""}, {"vary", ""}, {"via", ""}, {"www-authenticate", ""},
};

/* RFC 7541 Appendix B. The code is canonical (codes of one length are consecutive in
 * symbol order, each length starting where the shorter one ended, shifted), so the
 * table is stored as the number of codes of each length (1..30) and the symbols in
 * code order; tests/unit.c checks all 257 codes of the RFC's table against it. */
static const uint8_t ecq__huff_count[31] = {0, 0, 0, 0, 0, 10, 26, 32, 6, 0, 5, 3, 2, 6, 2, 3, 0, 0, 0, 3, 8, 13, 26, 29, 12, 4, 15, 19, 29, 0, 4};
static const uint16_t ecq__huff_sym[257] = {
    48, 49, 50, 97, 99, 101, 105, 111, 115, 116, 32, 37, 45, 46, 47, 51,
    52, 53, 54, 55, 56, 57, 61, 65, 95, 98, 100, 102, 103, 104, 108, 109,
    110, 112, 114, 117, 58, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76,
    77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 89, 106, 107, 113, 118,
    119, 120, 121, 122, 38, 42, 44, 59, 88, 90, 33, 34, 40, 41, 63, 39,
    43, 124, 35, 62, 0, 36, 64, 91, 93, 126, 94, 125, 60, 96, 123, 92,
    195, 208, 128, 130, 131, 162, 184, 194, 224, 226, 153, 161, 167, 172, 176, 177,
    179, 209, 216, 217, 227, 229, 230, 129, 132, 133, 134, 136, 146, 154, 156, 160,
    163, 164, 169, 170, 173, 178, 181, 185, 186, 187, 189, 190, 196, 198, 228, 232,
    233, 1, 135, 137, 138, 139, 140, 141, 143, 147, 149, 150, 151, 152, 155, 157,
    158, 165, 166, 168, 174, 175, 180, 182, 183, 188, 191, 197, 231, 239, 9, 142,
    144, 145, 148, 159, 171, 206, 215, 225, 236, 237, 199, 207, 234, 235, 192, 193,
    200, 201, 202, 205, 210, 213, 218, 219, 238, 240, 242, 243, 255, 203, 204, 211,
    212, 214, 221, 222, 223, 241, 244, 245, 246, 247, 248, 250, 251, 252, 253, 254,
    2, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 16, 17, 18, 19, 20,
    21, 23, 24, 25, 26, 27, 28, 29, 30, 31, 127, 220, 249, 10, 13, 22,
    256,
};

int ecq_hpack_int(const uint8_t *p, size_t len, int prefix, uint32_t *value)
{
    if (!len || prefix < 1 || prefix > 8) return 0;
    uint32_t max = (1u << prefix) - 1, v = p[0] & max;
    if (v < max) {
        *value = v;
        return 1;
    }
    for (size_t i = 1; i < len && i < 6; i++) {
        uint64_t add = (uint64_t)(p[i] & 0x7f) << (7 * (i - 1));
        if ((uint64_t)v + add > UINT32_MAX) return -1;
        v += (uint32_t)add;
        if (!(p[i] & 0x80)) {
            *value = v;
            return (int)i + 1;
        }
    }
    return len >= 6 ? -1 : 0;
}

/* Huffman string (§5.2) into out: the decoded length, or -1 when the string breaks the
 * code (EOS inside, padding not a prefix of EOS or over 7 bits). Past cap bytes the
 * rest is not decoded and *cut is set. */
static long ecq__huffman(const uint8_t *in, size_t len, uint8_t *out, size_t cap, int *cut)
{
    size_t o = 0;
    uint64_t bits = (uint64_t)len * 8, pos = 0;
    while (pos < bits) {
        uint32_t code = 0, first = 0, index = 0, ones = 1;
        uint64_t start = pos;
        int sym = -1;
        for (int l = 1; l <= 30 && pos < bits; l++, pos++) {
            uint32_t bit = in[pos >> 3] >> (7 - (pos & 7)) & 1;
            ones &= bit;
            code |= bit;
            uint32_t count = ecq__huff_count[l];
            if (code - first < count) {
                sym = ecq__huff_sym[index + code - first];
                pos++;
                break;
            }
            index += count, first = (first + count) << 1, code <<= 1;
        }
        if (sym < 0) /* the input ended inside a code: padding, at most 7 bits of 1 */
            return pos - start <= 7 && ones ? (long)o : -1;
        if (sym == 256) return -1;
        if (o == cap) {
            *cut = 1;
            return (long)o;
        }
        out[o++] = (uint8_t)sym;
    }
    return (long)o;
}

long ecq_hpack_huffman_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    int cut = 0;
    long n = ecq__huffman(in, len, out, cap, &cut);
    return cut ? -1 : n;
}

struct ecq__hent {
    uint32_t off, nlen, vlen;       /* bytes in the table's buffer */
    uint32_t size;                  /* RFC 7541 §4.1 size: full lengths + 32 */
    uint32_t flags;                 /* ECQ_HDR_* the entry was made with */
};

void ecq_hpack_init(struct ecq_hpack *h)
{
    memset(h, 0, sizeof *h);
    h->cap = 4096; /* SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 §6.5.2) */
}

void ecq_hpack_free(struct ecq_hpack *h)
{
    free(h->ent);
    free(h->buf);
    free(h->scratch);
    h->ent = NULL, h->buf = h->scratch = NULL;
    h->ent_cap = h->buf_cap = h->scratch_cap = 0;
    h->count = h->size = h->head = h->lo = h->hi = 0;
}

void ecq_hpack_forget(struct ecq_hpack *h)
{
    h->count = h->size = h->head = h->lo = h->hi = 0;
    h->late = 1;
}

static void ecq__hpack_evict(struct ecq_hpack *h, uint32_t room)
{
    while (h->count && h->size + room > h->cap) {
        struct ecq__hent *e = &h->ent[h->head];
        h->lo += e->nlen + e->vlen;
        h->size -= e->size;
        h->head = (h->head + 1) & (h->ent_cap - 1);
        h->count--;
    }
    if (!h->count) h->size = h->head = h->lo = h->hi = 0;
}

/* Room for one more entry of need bytes: the ring of entries doubles (kept in order),
 * the bytes move to the front or the buffer doubles. 0, or -1 without memory. */
static int ecq__hpack_room(struct ecq_hpack *h, uint32_t need)
{
    if (h->count == h->ent_cap) {
        uint32_t nc = h->ent_cap ? 2 * h->ent_cap : 16;
        struct ecq__hent *ne = malloc(nc * sizeof *ne);
        if (!ne) return -1;
        for (uint32_t i = 0; i < h->count; i++) ne[i] = h->ent[(h->head + i) & (h->ent_cap - 1)];
        free(h->ent);
        h->ent = ne, h->ent_cap = nc, h->head = 0;
    }
    if (h->buf && h->hi + need <= h->buf_cap) return 0; /* (entries of empty strings point into buf too) */
    if (h->lo) {
        memmove(h->buf, h->buf + h->lo, h->hi - h->lo);
        for (uint32_t i = 0; i < h->count; i++) h->ent[(h->head + i) & (h->ent_cap - 1)].off -= h->lo;
        h->hi -= h->lo, h->lo = 0;
    }
    if (h->buf && h->hi + need <= h->buf_cap) return 0;
    uint32_t nb = h->buf_cap ? 2 * h->buf_cap : 256;
    while (nb < h->hi + need) nb *= 2;
    uint8_t *b = realloc(h->buf, nb);
    if (!b) return -1;
    h->buf = b, h->buf_cap = nb;
    return 0;
}

/* Adds an entry (RFC 7541 §4.4): older entries make room, one larger than the table
 * empties it. name and value must not point into the table. */
static void ecq__hpack_insert(struct ecq_hpack *h, const struct ecq_header *hd, uint32_t size)
{
    ecq__hpack_evict(h, size);
    if (size > h->cap) return;
    uint32_t nl = (uint32_t)hd->name.len, vl = (uint32_t)hd->value.len;
    if (ecq__hpack_room(h, nl + vl) < 0) { /* without memory: forgotten, never wrong */
        ecq_hpack_forget(h);
        return;
    }
    struct ecq__hent *e = &h->ent[(h->head + h->count) & (h->ent_cap - 1)];
    *e = (struct ecq__hent){h->hi, nl, vl, size, hd->flags & (ECQ_HDR_NAME_UNKNOWN | ECQ_HDR_VALUE_UNKNOWN | ECQ_HDR_CUT)};
    if (nl) memcpy(h->buf + h->hi, hd->name.ptr, nl);
    if (vl) memcpy(h->buf + h->hi + nl, hd->value.ptr, vl);
    h->hi += nl + vl;
    h->count++;
    h->size += size;
}

int ecq_hpack_entry(const struct ecq_hpack *h, uint32_t index, struct ecq_header *out)
{
    memset(out, 0, sizeof *out);
    if (index >= 1 && index <= 61) {
        out->name = (struct ecq_bytes){ecq__hpack_static[index - 1][0], strlen(ecq__hpack_static[index - 1][0])};
        out->value = (struct ecq_bytes){ecq__hpack_static[index - 1][1], strlen(ecq__hpack_static[index - 1][1])};
        return 1;
    }
    if (index < 62 || index - 62 >= h->count) {
        out->name = (struct ecq_bytes){"", 0}, out->value = (struct ecq_bytes){"", 0};
        out->flags = ECQ_HDR_NAME_UNKNOWN | ECQ_HDR_VALUE_UNKNOWN;
        return 0;
    }
    const struct ecq__hent *e = &h->ent[(h->head + h->count - 1 - (index - 62)) & (h->ent_cap - 1)];
    out->name = (struct ecq_bytes){(const char *)h->buf + e->off, e->nlen};
    out->value = (struct ecq_bytes){(const char *)h->buf + e->off + e->nlen, e->vlen};
    out->flags = e->flags;
    return 1;
}

/* A string literal's head (§5.2): H bit and length. Bytes of head, 0 when it runs past n
 * or its length does, -1 when it is too large. */
static int ecq__hpack_str_head(const uint8_t *p, size_t n, int *huff, uint32_t *len)
{
    int k = ecq_hpack_int(p, n, 7, len);
    if (k <= 0) return k ? -1 : 0;
    if (*len > n - (size_t)k) return 0;
    *huff = p[0] >> 7;
    return k;
}

/* Decodes a string whose head is at p into out: raw bytes point into the block,
 * Huffman goes to the scratch at *soff, cut at ECQ_HPACK_MAX_STRING. */
static int ecq__hpack_str(struct ecq_hpack *h, const uint8_t *p, int hk, int huff, uint32_t len,
                          uint32_t *soff, struct ecq_header *hd, int is_name)
{
    struct ecq_bytes *out = is_name ? &hd->name : &hd->value;
    if (!huff) {
        *out = (struct ecq_bytes){(const char *)p + hk, len};
        return 0;
    }
    int cut = 0;
    long got = ecq__huffman(p + hk, len, h->scratch + *soff, ECQ_HPACK_MAX_STRING, &cut);
    if (got < 0) return -1;
    if (cut) hd->flags |= ECQ_HDR_CUT;
    *out = (struct ecq_bytes){(const char *)h->scratch + *soff, (size_t)got};
    *soff += (uint32_t)got;
    return 0;
}

static uint32_t ecq__huff_room(int huff, uint32_t len)
{
    uint64_t most = huff ? (uint64_t)len * 8 / 5 + 1 : 0;
    return most > ECQ_HPACK_MAX_STRING ? ECQ_HPACK_MAX_STRING : (uint32_t)most;
}

static int ecq__hpack_scratch(struct ecq_hpack *h, uint32_t need)
{
    if (need <= h->scratch_cap) return 0;
    uint8_t *s = realloc(h->scratch, need);
    if (!s) return -1;
    h->scratch = s, h->scratch_cap = need;
    return 0;
}

/* A literal field (§6.2) whose name index (0: a literal name follows) was read in k
 * bytes; indexing: add it to the table. Returns the bytes used, 0 if incomplete, -1. */
static long ecq__hpack_literal(struct ecq_hpack *h, const uint8_t *p, size_t n, int k, uint32_t idx,
                               int indexing, struct ecq_header *hd, const char **why)
{
    int nh = 0, nk = 0, vh = 0, vk;
    uint32_t nlen = 0, vlen, soff = 0, need;
    size_t pos = (size_t)k;
    struct ecq_header named;
    if (idx) {
        ecq_hpack_entry(h, idx, &named);
        if (named.flags & ECQ_HDR_NAME_UNKNOWN) h->unknown++;
        hd->flags |= named.flags & (ECQ_HDR_NAME_UNKNOWN | ECQ_HDR_CUT);
        need = idx > 61 ? (uint32_t)named.name.len : 0;
    } else {
        if ((nk = ecq__hpack_str_head(p + pos, n - pos, &nh, &nlen)) <= 0) goto short_or_bad;
        need = ecq__huff_room(nh, nlen);
        pos += (size_t)nk + nlen;
    }
    if ((vk = ecq__hpack_str_head(p + pos, n - pos, &vh, &vlen)) <= 0) {
        nk = vk;
        goto short_or_bad;
    }
    if (ecq__hpack_scratch(h, need + ecq__huff_room(vh, vlen)) < 0) return *why = "out of memory", -1;
    if (idx > 61) { /* the entry may be evicted by this very insertion (§4.4) */
        if (named.name.len) memcpy(h->scratch, named.name.ptr, named.name.len);
        hd->name = (struct ecq_bytes){(const char *)h->scratch, named.name.len};
        soff = (uint32_t)named.name.len;
    } else if (idx) {
        hd->name = named.name;
    } else if (ecq__hpack_str(h, p + k, nk, nh, nlen, &soff, hd, 1) < 0) {
        return *why = "bad Huffman code in a name", -1;
    }
    if (ecq__hpack_str(h, p + pos, vk, vh, vlen, &soff, hd, 0) < 0) return *why = "bad Huffman code in a value", -1;
    pos += (size_t)vk + vlen;
    if (indexing) {
        uint64_t size = (uint64_t)hd->name.len + hd->value.len + 32;
        if (hd->flags & ECQ_HDR_CUT) size = UINT32_MAX; /* larger than any table */
        ecq__hpack_insert(h, hd, size > UINT32_MAX ? UINT32_MAX : (uint32_t)size);
    }
    return (long)pos;
short_or_bad:
    if (nk < 0) return *why = "string length too large", -1;
    return 0;
}

/* A table size update (§6.3): evicts to the new size. A size over the bound keeps the
 * bound; entries the peer keeps past it are then shown unknown. */
static void ecq__hpack_resize(struct ecq_hpack *h, uint32_t size)
{
    if (size > ECQ_HPACK_MAX_TABLE) size = ECQ_HPACK_MAX_TABLE, h->late = 1;
    h->cap = size;
    ecq__hpack_evict(h, 0);
}

/* One field representation (§6): 1 and *hd, 0 for a size update, -1 with *why; *used
 * bytes. A representation running past n is an error: a block is decoded whole. */
static int ecq__hpack_field(struct ecq_hpack *h, const uint8_t *p, size_t n, size_t *used,
                            struct ecq_header *hd, const char **why)
{
    static const struct { uint8_t mask, bits; int prefix, indexing; unsigned flags; } kinds[] = {
        {0xc0, 0x40, 6, 1, 0},                      /* literal, incremental indexing */
        {0xf0, 0x00, 4, 0, 0},                      /* literal without indexing */
        {0xf0, 0x10, 4, 0, ECQ_HDR_NEVER_INDEXED},  /* literal never indexed */
    };
    uint32_t v;
    memset(hd, 0, sizeof *hd);
    if (p[0] & 0x80 || (p[0] & 0xe0) == 0x20) {
        int prefix = p[0] & 0x80 ? 7 : 5, k = ecq_hpack_int(p, n, prefix, &v);
        if (k <= 0) return *why = k ? "integer too large" : "truncated integer", -1;
        *used = (size_t)k;
        if (prefix == 5) {
            ecq__hpack_resize(h, v);
            return 0;
        }
        if (!v) return *why = "index 0", -1;
        if (!ecq_hpack_entry(h, v, hd)) h->unknown++;
        hd->index = v;
        return 1;
    }
    for (size_t i = 0; i < ECQ__ARRAY_LEN(kinds); i++) {
        if ((p[0] & kinds[i].mask) != kinds[i].bits) continue;
        int k = ecq_hpack_int(p, n, kinds[i].prefix, &v);
        if (k <= 0) return *why = k ? "integer too large" : "truncated integer", -1;
        hd->flags = kinds[i].flags;
        hd->index = v;
        long got = ecq__hpack_literal(h, p, n, k, v, kinds[i].indexing, hd, why);
        if (got <= 0) return got < 0 ? -1 : (*why = "truncated literal", -1);
        *used = (size_t)got;
        return 1;
    }
    return *why = "unreachable", -1;
}

int ecq_hpack_decode(struct ecq_hpack *h, const uint8_t *block, size_t len,
                     void (*fn)(void *user, const struct ecq_header *hd), void *user, const char **why)
{
    int count = 0;
    size_t pos = 0, used = 0;
    struct ecq_header hd;
    *why = NULL;
    while (pos < len) {
        int r = ecq__hpack_field(h, block + pos, len - pos, &used, &hd, why);
        if (r < 0) {
            ecq_hpack_forget(h); /* what the rest of the block did to the table is not known */
            return -1;
        }
        pos += used;
        if (r && fn) fn(user, &hd);
        count += r;
    }
    return count;
}

/* ---- HTTP/2 frames (RFC 9113 §4-6) ---- */

static const char ecq__h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum { ECQ__H2_START, ECQ__H2_PREFACE, ECQ__H2_HEAD, ECQ__H2_PAYLOAD, ECQ__H2_LOST };

struct ecq__h2_dir {
    struct ecq_hpack hpack;
    int state;
    int synced;                     /* a frame was read whole: later bytes continue frames */
    size_t preface;                 /* bytes of the preface matched */
    uint8_t hdr[9];
    unsigned hdr_len;
    uint8_t type, flags;
    uint32_t stream, length, got;   /* the frame being read; payload bytes in */
    uint32_t pad;                   /* DATA: padding length (first byte when PADDED) */
    uint8_t *buf;                   /* payload of a frame other than DATA */
    uint32_t buf_len, buf_cap;
    int buf_cut;
    uint8_t *block;                 /* header block being gathered */
    uint32_t block_len, block_cap, block_total, block_stream;
    uint8_t block_type, block_flags;
    int in_block, block_cut;
};

struct ecq__h2_msg {                /* a gRPC message being gathered */
    uint8_t prefix[5];
    uint32_t prefix_len, len, got;
    uint8_t *buf;                   /* ECQ_GRPC_MAX_MESSAGE, allocated on first use */
};

struct ecq__h2_stream {
    uint32_t id, stamp;
    int grpc;                       /* content-type application/grpc* */
    int ended[2];                   /* END_STREAM seen per direction */
    struct ecq__h2_msg msg[2];
};

const char *ecq_h2_frame_name(unsigned type)
{
    static const char *const names[] = {"DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS",
                                        "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"};
    return type < ECQ__ARRAY_LEN(names) ? names[type] : "UNKNOWN";
}

void ecq_h2_init(struct ecq_h2 *c)
{
    memset(c, 0, sizeof *c);
    c->client = -1;
}

void ecq_h2_free(struct ecq_h2 *c)
{
    for (int i = 0; i < 2; i++) {
        if (!c->d[i]) continue;
        ecq_hpack_free(&c->d[i]->hpack);
        free(c->d[i]->buf);
        free(c->d[i]->block);
        free(c->d[i]);
    }
    for (unsigned i = 0; i < c->nstreams; i++) free(c->streams[i].msg[0].buf), free(c->streams[i].msg[1].buf);
    free(c->streams);
    ecq_h2_init(c);
}

uint32_t ecq_h2_type(const struct ecq_h2 *c, int dir)
{
    if (c->client < 0 || dir < 0 || dir > 1 || !c->d[dir] || (!c->frames[dir] && c->client != dir))
        return ECQ_TYPE_UNKNOWN;
    return c->client == dir ? ECQ_TYPE_HTTP2_REQUEST : ECQ_TYPE_HTTP2_RESPONSE;
}

void ecq_h2_gap(struct ecq_h2 *c, int dir)
{
    struct ecq__h2_dir *d = dir == 0 || dir == 1 ? c->d[dir] : NULL;
    if (!d) return;
    d->state = ECQ__H2_HEAD, d->hdr_len = 0, d->synced = 0;
    d->in_block = 0, d->block_len = 0;
    ecq_hpack_forget(&d->hpack);
}

struct ecq__h2_out {                /* where items go */
    struct ecq_h2 *c;
    int dir;
    void (*fn)(void *user, const struct ecq_h2_item *it);
    void *user;
};

static void ecq__h2_note(const struct ecq__h2_out *o, const struct ecq__h2_dir *d, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ecq__h2_note(const struct ecq__h2_out *o, const struct ecq__h2_dir *d, const char *fmt, ...)
{
    char text[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    struct ecq_h2_item it = {.kind = ECQ_H2_NOTE, .dir = o->dir, .type = d->type, .flags = d->flags,
                             .stream = d->stream, .length = d->length};
    it.data = (struct ecq_bytes){text, n < 0 ? 0 : (size_t)n >= sizeof text ? sizeof text - 1 : (size_t)n};
    o->fn(o->user, &it);
}

/* The stream's state, made on first sight; the stream seen least recently gives way. */
static struct ecq__h2_stream *ecq__h2_stream(struct ecq_h2 *c, uint32_t id, int make)
{
    struct ecq__h2_stream *old = NULL;
    for (unsigned i = 0; i < c->nstreams; i++) {
        struct ecq__h2_stream *s = &c->streams[i];
        if (s->id == id) {
            s->stamp = ++c->stamp;
            return s;
        }
        if (!old || s->stamp < old->stamp) old = s;
    }
    if (!make || !id) return NULL;
    if (!c->streams) {
        c->streams = calloc(ECQ_H2_MAX_STREAMS, sizeof *c->streams);
        if (!c->streams) return NULL;
    }
    struct ecq__h2_stream *s = c->nstreams < ECQ_H2_MAX_STREAMS ? &c->streams[c->nstreams++] : old;
    free(s->msg[0].buf), free(s->msg[1].buf);
    memset(s, 0, sizeof *s);
    s->id = id, s->stamp = ++c->stamp;
    return s;
}

static void ecq__h2_stream_end(struct ecq_h2 *c, struct ecq__h2_stream *s, int dir)
{
    s->ended[dir] = 1;
    if (!s->ended[!dir]) return;
    free(s->msg[0].buf), free(s->msg[1].buf);
    *s = c->streams[--c->nstreams];
    memset(&c->streams[c->nstreams], 0, sizeof *s);
}

struct ecq__h2_hdrs {               /* a header block's fields go out as items */
    const struct ecq__h2_out *o;
    const struct ecq__h2_dir *d;
    struct ecq__h2_stream *s;
    int method, status;
};

static int ecq__name_is(const struct ecq_bytes *b, const char *lit)
{
    size_t l = strlen(lit);
    return b->len == l && memcmp(b->ptr, lit, l) == 0;
}

static void ecq__h2_field(void *user, const struct ecq_header *hd)
{
    struct ecq__h2_hdrs *h = user;
    struct ecq_h2_item it = {.kind = ECQ_H2_HEADER, .dir = h->o->dir, .type = h->d->block_type,
                             .flags = h->d->block_flags, .stream = h->d->block_stream, .header = *hd};
    if (ecq__name_is(&hd->name, ":method")) h->method = 1;
    if (ecq__name_is(&hd->name, ":status")) h->status = 1;
    if (h->s && ecq__name_is(&hd->name, "content-type") && hd->value.len >= 16 &&
        !memcmp(hd->value.ptr, "application/grpc", 16))
        h->s->grpc = 1;
    h->o->fn(h->o->user, &it);
}

/* A header block is complete (END_HEADERS): decode it, or say why not. */
static void ecq__h2_block(const struct ecq__h2_out *o, struct ecq__h2_dir *d)
{
    struct ecq_h2 *c = o->c;
    struct ecq__h2_hdrs h = {o, d, NULL, 0, 0};
    const char *why;
    d->in_block = 0;
    if (d->block_type == ECQ_H2_HEADERS) h.s = ecq__h2_stream(c, d->block_stream, 1);
    if (d->block_cut) {
        ecq_hpack_forget(&d->hpack);
        ecq__h2_note(o, d, "header block of %u bytes over %u: not decoded; the table is forgotten",
                     d->block_total, ECQ_H2_MAX_HEADER_BLOCK);
    } else if (ecq_hpack_decode(&d->hpack, d->block, d->block_len, ecq__h2_field, &h, &why) < 0) {
        ecq__h2_note(o, d, "header block: %s; the table is forgotten", why);
    }
    if (c->client < 0 && (h.method || h.status)) c->client = h.method ? o->dir : !o->dir;
    d->block_len = d->block_total = 0;
    d->block_cut = 0;
    if (h.s && d->block_flags & 0x1) ecq__h2_stream_end(c, h.s, o->dir);
}

/* Adds a fragment to the block; past ECQ_H2_MAX_HEADER_BLOCK only counts it. */
static void ecq__h2_fragment(struct ecq__h2_dir *d, const uint8_t *p, uint32_t n)
{
    d->block_total = d->block_total + n < d->block_total ? UINT32_MAX : d->block_total + n;
    if (d->block_cut || d->block_len + n > ECQ_H2_MAX_HEADER_BLOCK) {
        d->block_cut = 1;
        return;
    }
    if (d->block_len + n > d->block_cap) {
        uint32_t nc = d->block_cap ? d->block_cap : 1024;
        while (nc < d->block_len + n) nc *= 2;
        uint8_t *b = realloc(d->block, nc);
        if (!b) {
            d->block_cut = 1;
            return;
        }
        d->block = b, d->block_cap = nc;
    }
    memcpy(d->block + d->block_len, p, n);
    d->block_len += n;
}

/* HEADERS or PUSH_PROMISE (padding, priority, promised stream removed) or CONTINUATION */
static void ecq__h2_headers(const struct ecq__h2_out *o, struct ecq__h2_dir *d)
{
    const uint8_t *p = d->buf;
    uint32_t n = d->buf_len, skip = 0, pad = 0;
    if (d->type == ECQ_H2_CONTINUATION) {
        if (!d->in_block || d->stream != d->block_stream) {
            ecq__h2_note(o, d, "CONTINUATION outside a header block");
            if (d->in_block) ecq_hpack_forget(&d->hpack); /* the block's rest is lost */
            d->in_block = 0;
            return;
        }
    } else {
        d->in_block = 1, d->block_len = d->block_total = 0, d->block_cut = 0;
        d->block_type = d->type, d->block_flags = d->flags, d->block_stream = d->stream;
        if (d->flags & 0x8) pad = n ? p[0] : 0, skip = 1;
        if (d->type == ECQ_H2_HEADERS && d->flags & 0x20) skip += 5;
        if (d->type == ECQ_H2_PUSH_PROMISE) skip += 4;
        if (skip + pad > n && !d->buf_cut) {
            ecq__h2_note(o, d, "%s: padding past the frame", ecq_h2_frame_name(d->type));
            d->in_block = 0;
            ecq_hpack_forget(&d->hpack);
            return;
        }
    }
    if (d->buf_cut) { /* over ECQ_H2_MAX_FRAME: the block is cut */
        d->block_cut = 1;
        d->block_total = d->block_total + d->length < d->block_total ? UINT32_MAX : d->block_total + d->length;
    } else if (n > skip + pad) {
        ecq__h2_fragment(d, p + skip, n - skip - pad);
    }
    if (d->flags & 0x4) ecq__h2_block(o, d);
}

/* DATA bytes of a gRPC stream: 5-byte prefixes (compressed flag, length), messages */
static void ecq__h2_grpc(const struct ecq__h2_out *o, const struct ecq__h2_dir *d, struct ecq__h2_msg *m,
                         const uint8_t *p, size_t n)
{
    while (n) {
        if (m->prefix_len < 5) {
            m->prefix[m->prefix_len++] = *p++, n--;
            if (m->prefix_len < 5) continue;
            m->len = (uint32_t)m->prefix[1] << 24 | (uint32_t)m->prefix[2] << 16 | (uint32_t)m->prefix[3] << 8 | m->prefix[4];
            m->got = 0;
            if (!m->buf && !(m->buf = malloc(ECQ_GRPC_MAX_MESSAGE))) {
                ecq__h2_note(o, d, "gRPC message not shown: out of memory");
                m->prefix_len = 0;
                return;
            }
        }
        size_t take = m->len - m->got < n ? m->len - m->got : n;
        if (m->got < ECQ_GRPC_MAX_MESSAGE) {
            size_t keep = ECQ_GRPC_MAX_MESSAGE - m->got < take ? ECQ_GRPC_MAX_MESSAGE - m->got : take;
            memcpy(m->buf + m->got, p, keep);
        }
        m->got += (uint32_t)take, p += take, n -= take;
        if (m->got < m->len) return;
        struct ecq_h2_item it = {.kind = ECQ_H2_GRPC, .dir = o->dir, .type = d->type, .flags = d->flags,
                                 .stream = d->stream, .length = m->len, .grpc_compressed = m->prefix[0] & 1};
        it.cut = m->len > ECQ_GRPC_MAX_MESSAGE;
        it.data = (struct ecq_bytes){(const char *)m->buf, it.cut ? ECQ_GRPC_MAX_MESSAGE : m->len};
        o->fn(o->user, &it);
        m->prefix_len = 0;
    }
}

/* A piece [off, off + n) of a DATA frame's payload: the pad length, data, padding */
static void ecq__h2_data(const struct ecq__h2_out *o, struct ecq__h2_dir *d, const uint8_t *p, uint32_t n, uint32_t off)
{
    if (d->flags & 0x8 && off == 0 && n) {
        d->pad = p[0];
        if (d->pad >= d->length) ecq__h2_note(o, d, "DATA: padding past the frame");
        p++, n--, off++;
    }
    uint32_t start = d->flags & 0x8 ? 1 : 0;
    uint32_t end = d->flags & 0x8 ? (d->pad + 1 > d->length ? start : d->length - d->pad) : d->length;
    if (off >= end || !n) return;
    if (off + n > end) n = end - off;
    struct ecq_h2_item it = {.kind = ECQ_H2_DATA, .dir = o->dir, .type = d->type, .flags = d->flags,
                             .stream = d->stream, .length = d->length, .data = {(const char *)p, n}};
    o->fn(o->user, &it);
    struct ecq__h2_stream *s = ecq__h2_stream(o->c, d->stream, 0);
    if (s && s->grpc) ecq__h2_grpc(o, d, &s->msg[o->dir], p, n);
}

/* A frame is complete: report it, then what it means. */
static void ecq__h2_frame_end(const struct ecq__h2_out *o, struct ecq__h2_dir *d)
{
    struct ecq_h2_item it = {.kind = ECQ_H2_FRAME_END, .dir = o->dir, .type = d->type, .flags = d->flags,
                             .stream = d->stream, .length = d->length, .cut = d->buf_cut};
    if (d->type != ECQ_H2_DATA_FRAME) it.data = (struct ecq_bytes){(const char *)d->buf, d->buf_len};
    d->synced = 1;
    if (d->in_block && d->type != ECQ_H2_CONTINUATION) {
        ecq__h2_note(o, d, "header block on stream %u cut by a %s frame; the table is forgotten", d->block_stream,
                     ecq_h2_frame_name(d->type));
        d->in_block = 0;
        ecq_hpack_forget(&d->hpack);
    }
    if (d->type == ECQ_H2_HEADERS || d->type == ECQ_H2_PUSH_PROMISE || d->type == ECQ_H2_CONTINUATION)
        ecq__h2_headers(o, d);
    o->fn(o->user, &it);
    struct ecq__h2_stream *s = d->stream ? ecq__h2_stream(o->c, d->stream, 0) : NULL;
    if (s && d->type == ECQ_H2_DATA_FRAME && d->flags & 0x1) ecq__h2_stream_end(o->c, s, o->dir);
    else if (s && d->type == ECQ_H2_RST_STREAM) s->ended[!o->dir] = 1, ecq__h2_stream_end(o->c, s, o->dir);
    d->buf_len = 0, d->buf_cut = 0, d->hdr_len = 0, d->got = 0, d->pad = 0;
    d->state = ECQ__H2_HEAD;
}

/* The 9-byte frame header is in. Attached mid-connection (nothing read whole yet), a
 * header that cannot be one loses the rest of the call. */
static int ecq__h2_head(const struct ecq__h2_out *o, struct ecq__h2_dir *d)
{
    const uint8_t *h = d->hdr;
    d->length = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
    d->type = h[3], d->flags = h[4];
    d->stream = ((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8]) & 0x7fffffff;
    int zero_stream = d->type == ECQ_H2_SETTINGS || d->type == ECQ_H2_PING || d->type == ECQ_H2_GOAWAY;
    int plausible = d->type <= ECQ_H2_CONTINUATION && !(h[5] & 0x80) && zero_stream == !d->stream &&
                    d->length <= 16384 + 256 && (d->type != ECQ_H2_SETTINGS || d->length % 6 == 0);
    if (!d->synced && !plausible) {
        ecq__h2_note(o, d, "not an HTTP/2 frame here: the rest of this read is skipped");
        d->state = ECQ__H2_LOST;
        return -1;
    }
    o->c->frames[o->dir]++;
    struct ecq_h2_item it = {.kind = ECQ_H2_FRAME, .dir = o->dir, .type = d->type, .flags = d->flags,
                             .stream = d->stream, .length = d->length};
    o->fn(o->user, &it);
    d->got = 0, d->buf_len = 0, d->buf_cut = 0;
    d->state = ECQ__H2_PAYLOAD;
    if (!d->length) ecq__h2_frame_end(o, d);
    return 0;
}

/* Payload bytes: DATA goes out in pieces, other payloads are kept (ECQ_H2_MAX_FRAME). */
static int ecq__h2_payload(const struct ecq__h2_out *o, struct ecq__h2_dir *d, const uint8_t *p, uint32_t n)
{
    if (d->type == ECQ_H2_DATA_FRAME) {
        ecq__h2_data(o, d, p, n, d->got);
    } else if (!d->buf_cut) {
        uint32_t keep = n;
        if (d->buf_len + keep > ECQ_H2_MAX_FRAME) keep = ECQ_H2_MAX_FRAME - d->buf_len, d->buf_cut = 1;
        if (d->buf_len + keep > d->buf_cap) {
            uint32_t nc = d->buf_cap ? d->buf_cap : 256;
            while (nc < d->buf_len + keep) nc *= 2;
            uint8_t *b = realloc(d->buf, nc);
            if (!b) return -ENOMEM;
            d->buf = b, d->buf_cap = nc;
        }
        memcpy(d->buf + d->buf_len, p, keep);
        d->buf_len += keep;
    }
    d->got += n;
    if (d->got == d->length) ecq__h2_frame_end(o, d);
    return 0;
}

/* The client's preface, if these are the first bytes of the direction. */
static size_t ecq__h2_preface_bytes(const struct ecq__h2_out *o, struct ecq__h2_dir *d, const uint8_t *p, size_t n)
{
    size_t want = sizeof ecq__h2_preface - 1, take = want - d->preface < n ? want - d->preface : n, m = 0;
    while (m < take && p[m] == (uint8_t)ecq__h2_preface[d->preface + m]) m++;
    if (m < take) { /* the bytes that matched are dropped, however the reads were split */
        if (d->preface + m) ecq__h2_note(o, d, "a broken connection preface");
        d->state = ECQ__H2_HEAD;
        return m;
    }
    d->preface += take;
    if (d->preface == want) {
        struct ecq_h2_item it = {.kind = ECQ_H2_PREFACE, .dir = o->dir};
        o->c->client = o->dir;
        d->state = ECQ__H2_HEAD;
        o->fn(o->user, &it);
    }
    return take;
}

int ecq_h2_feed(struct ecq_h2 *c, int dir, const void *data, size_t len,
                void (*fn)(void *user, const struct ecq_h2_item *it), void *user)
{
    const uint8_t *p = data;
    struct ecq__h2_out o = {c, dir & 1, fn, user};
    struct ecq__h2_dir *d = c->d[o.dir];
    uint64_t before = c->frames[o.dir];
    if (!d) {
        if (!(d = c->d[o.dir] = calloc(1, sizeof *d))) return -ENOMEM;
        ecq_hpack_init(&d->hpack);
        d->state = ECQ__H2_PREFACE;
    }
    if (d->state == ECQ__H2_LOST) d->state = ECQ__H2_HEAD, d->hdr_len = 0;
    while (len && d->state != ECQ__H2_LOST) {
        size_t used;
        if (d->state == ECQ__H2_PREFACE) {
            used = ecq__h2_preface_bytes(&o, d, p, len);
        } else if (d->state == ECQ__H2_HEAD) {
            used = 9 - d->hdr_len < len ? 9 - d->hdr_len : len;
            memcpy(d->hdr + d->hdr_len, p, used);
            d->hdr_len += (unsigned)used;
            if (d->hdr_len == 9) ecq__h2_head(&o, d);
        } else {
            used = d->length - d->got < len ? d->length - d->got : len;
            if (ecq__h2_payload(&o, d, p, (uint32_t)used) < 0) {
                ecq_h2_gap(c, o.dir);
                d->state = ECQ__H2_LOST;
                return -ENOMEM;
            }
        }
        p += used, len -= used;
    }
    return (int)(c->frames[o.dir] - before);
}

/* ---- HTTP/1.x messages (RFC 9112 §6) ---- */

enum { ECQ__H1_HEAD, ECQ__H1_LEN, ECQ__H1_CHUNK_SIZE, ECQ__H1_CHUNK_DATA, ECQ__H1_CHUNK_END, ECQ__H1_TRAILER,
       ECQ__H1_CLOSE, ECQ__H1_RAW, ECQ__H1_LOST };

struct ecq__h1_dir {
    int state;
    char *head;
    size_t head_len, head_cap;
    uint64_t left, body;            /* bytes left in the body or chunk; body bytes so far */
    size_t line_len;                /* chunk-size or trailer line read so far */
    uint64_t chunk;                 /* the chunk size being read */
    int line_bad, line_ext;         /* chunk size: not hex; past the digits */
    uint64_t heads;                 /* heads read */
    int response, status;
    char method[8];
#ifdef ECQ_HAVE_ZLIB
    z_stream *z;                    /* inflating this message's body */
    uint64_t zout;
#endif
};

struct ecq__h1_out {
    struct ecq_h1 *c;
    int dir;
    void (*fn)(void *user, const struct ecq_h1_item *it);
    void *user;
    const uint8_t *base;            /* the bytes of this ecq_h1_feed call */
    const uint8_t **end;            /* where the message being ended ends in them */
};

void ecq_h1_init(struct ecq_h1 *c) { memset(c, 0, sizeof *c); }

static void ecq__h1_unzip_end(struct ecq__h1_dir *d)
{
#ifdef ECQ_HAVE_ZLIB
    if (d->z) inflateEnd(d->z), free(d->z), d->z = NULL;
#else
    (void)d;
#endif
}

void ecq_h1_free(struct ecq_h1 *c)
{
    for (int i = 0; i < 2; i++) {
        if (!c->d[i]) continue;
        ecq__h1_unzip_end(c->d[i]);
        free(c->d[i]->head);
        free(c->d[i]);
    }
    ecq_h1_init(c);
}

static void ecq__h1_emit(const struct ecq__h1_out *o, const struct ecq__h1_dir *d, int kind, const void *p, size_t n,
                         int decoded)
{
    struct ecq_h1_item it = {.kind = kind, .dir = o->dir, .response = d->response, .status = d->status,
                             .method = {d->method, strlen(d->method)}, .data = {p, n}, .decoded = decoded,
                             .body_len = d->body};
    if (kind == ECQ_H1_END && o->base) it.offset = (size_t)(*o->end - o->base);
    o->fn(o->user, &it);
}

static void ecq__h1_note(const struct ecq__h1_out *o, const struct ecq__h1_dir *d, const char *text)
{
    ecq__h1_emit(o, d, ECQ_H1_NOTE, text, strlen(text), 0);
}

static void ecq__h1_end(const struct ecq__h1_out *o, struct ecq__h1_dir *d)
{
    ecq__h1_unzip_end(d);
    ecq__h1_emit(o, d, ECQ_H1_END, NULL, 0, 0);
    d->state = ECQ__H1_HEAD;
    d->body = d->left = 0;
}

/* Body bytes: inflated for display when the message is compressed, else as they are. */
static void ecq__h1_body(const struct ecq__h1_out *o, struct ecq__h1_dir *d, const uint8_t *p, size_t n)
{
    d->body += n;
#ifdef ECQ_HAVE_ZLIB
    if (d->z) {
        uint8_t out[16384];
        d->z->next_in = (Bytef *)p, d->z->avail_in = (uInt)n;
        while (d->z && d->z->avail_in && d->zout < ECQ_H1_MAX_INFLATE) {
            d->z->next_out = out, d->z->avail_out = sizeof out;
            int rc = inflate(d->z, Z_NO_FLUSH);
            size_t got = sizeof out - d->z->avail_out;
            if (got > ECQ_H1_MAX_INFLATE - d->zout) got = (size_t)(ECQ_H1_MAX_INFLATE - d->zout);
            d->zout += got;
            if (got) ecq__h1_emit(o, d, ECQ_H1_BODY, out, got, 1);
            if (d->zout == ECQ_H1_MAX_INFLATE) ecq__h1_note(o, d, "body inflated to " ECQ__STR(ECQ_H1_MAX_INFLATE) " bytes: the rest is not shown");
            if (rc == Z_STREAM_END || (rc == Z_BUF_ERROR && !got)) break;
            if (rc != Z_OK && rc != Z_BUF_ERROR) {
                const uint8_t *rest = d->z->next_in;
                size_t left = d->z->avail_in;
                ecq__h1_note(o, d, "the compressed body does not inflate: the rest is shown as sent");
                ecq__h1_unzip_end(d);
                if (left) ecq__h1_emit(o, d, ECQ_H1_BODY, rest, left, 0);
            }
        }
        return;
    }
#endif
    ecq__h1_emit(o, d, ECQ_H1_BODY, p, n, 0);
}

/* The value of header field name in a head (the first one), or NULL. */
static const char *ecq__h1_field(const char *head, size_t len, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *end = head + len, *line = memchr(head, '\n', len);
    while (line && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol) break;
        if ((size_t)(eol - line) > nl && line[nl] == ':' && !strncasecmp(line, name, nl)) {
            const char *v = line + nl + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t')) v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        line = eol;
    }
    return NULL;
}

static int ecq__h1_has(const char *v, size_t n, const char *word)
{
    size_t wl = strlen(word);
    for (size_t i = 0; v && i + wl <= n; i++)
        if (!strncasecmp(v + i, word, wl)) return 1;
    return 0;
}

static void ecq__h1_unzip_start(const struct ecq__h1_out *o, struct ecq__h1_dir *d, const char *enc, size_t n)
{
#ifdef ECQ_HAVE_ZLIB
    if (!ecq__h1_has(enc, n, "gzip") && !ecq__h1_has(enc, n, "deflate")) return;
    d->z = calloc(1, sizeof *d->z);
    d->zout = 0;
    if (d->z && inflateInit2(d->z, 15 + 32) != Z_OK) free(d->z), d->z = NULL; /* 32: gzip or zlib header */
    if (!d->z) ecq__h1_note(o, d, "no memory to inflate the body: shown as sent");
#else
    (void)o, (void)d, (void)enc, (void)n;
#endif
}

/* A complete head is in d->head: report it, then how its body is framed. */
static void ecq__h1_message(const struct ecq__h1_out *o, struct ecq__h1_dir *d)
{
    struct ecq_h1 *c = o->c;
    const char *h = d->head, *v;
    size_t n = d->head_len, vl = 0, te_len = 0, ce_len = 0;
    d->response = n > 12 && !memcmp(h, "HTTP/1.", 7);
    d->status = d->response ? atoi(h + 9) : 0;
    d->body = 0;
    d->heads++;
    if (!d->response) {
        size_t m = strcspn(h, " ");
        snprintf(d->method, sizeof d->method, "%.*s", (int)(m < sizeof d->method ? m : sizeof d->method - 1), h);
        if (c->mcount < ECQ_H1_MAX_PIPELINE)
            memcpy(c->methods[(c->mfirst + c->mcount++) % ECQ_H1_MAX_PIPELINE], d->method, sizeof d->method);
    } else if (d->status >= 200 || d->status == 101 || d->status < 100) {
        d->method[0] = 0;
        if (c->mcount) {
            memcpy(d->method, c->methods[c->mfirst], sizeof d->method);
            c->mfirst = (c->mfirst + 1) % ECQ_H1_MAX_PIPELINE, c->mcount--;
        }
    }
    ecq__h1_emit(o, d, ECQ_H1_HEAD, h, n, 0);
    const char *te = ecq__h1_field(h, n, "transfer-encoding", &te_len);
    const char *ce = ecq__h1_field(h, n, "content-encoding", &ce_len);
    int chunked = ecq__h1_has(te, te_len, "chunked");
    int no_body = d->response && ((d->status >= 100 && d->status < 200) || d->status == 204 || d->status == 304 ||
                                  !strcmp(d->method, "HEAD") || (!strcmp(d->method, "CONNECT") && d->status / 100 == 2));
    if (d->response && (d->status == 101 || (!strcmp(d->method, "CONNECT") && d->status / 100 == 2))) {
        ecq__h1_end(o, d);
        c->raw = 1;
        return;
    }
    if (no_body) return ecq__h1_end(o, d);
    if (chunked) {
        d->state = ECQ__H1_CHUNK_SIZE, d->line_len = 0, d->chunk = 0, d->line_bad = 0, d->line_ext = 0;
    } else if ((v = ecq__h1_field(h, n, "content-length", &vl))) {
        char *e;
        d->left = strtoull(v, &e, 10);
        if (e == v || *v == '-') {
            ecq__h1_note(o, d, "a bad Content-Length: the rest of this read is raw");
            d->state = ECQ__H1_LOST;
            return;
        }
        d->state = ECQ__H1_LEN;
        if (!d->left) return ecq__h1_end(o, d);
    } else if (d->response) {
        d->state = ECQ__H1_CLOSE;
    } else {
        return ecq__h1_end(o, d);
    }
    ecq__h1_unzip_start(o, d, ce, ce_len);
}

/* Head bytes: gathered up to the empty line. Returns the bytes used of p. */
static size_t ecq__h1_head(const struct ecq__h1_out *o, struct ecq__h1_dir *d, const uint8_t *p, size_t n)
{
    if (!d->head_len) { /* a message starts: empty lines before it are allowed, else a plausible start */
        size_t skip = 0;
        while (skip < n && (p[skip] == '\r' || p[skip] == '\n')) skip++;
        if (skip) return skip;
        size_t k = 0;
        while (k < n && k < 16 && p[k] >= 'A' && p[k] <= 'Z') k++;
        if (!(k == n || (k >= 3 && p[k] == ' ') || (k == 4 && p[k] == '/' && !memcmp(p, "HTTP", 4)))) {
            d->state = ECQ__H1_LOST;
            return 0;
        }
    }
    size_t take = n < ECQ_H1_MAX_HEAD - d->head_len ? n : ECQ_H1_MAX_HEAD - d->head_len;
    if (d->head_len + take > d->head_cap) {
        size_t nc = d->head_cap ? d->head_cap : 1024;
        while (nc < d->head_len + take) nc *= 2;
        char *b = realloc(d->head, nc + 1);
        if (!b) return d->state = ECQ__H1_LOST, 0;
        d->head = b, d->head_cap = nc;
    }
    size_t from = d->head_len > 3 ? d->head_len - 3 : 0;
    memcpy(d->head + d->head_len, p, take);
    d->head_len += take;
    d->head[d->head_len] = 0;
    for (size_t i = from; i < d->head_len; i++) {
        if (d->head[i] != '\n' || !((i >= 1 && d->head[i - 1] == '\n') || (i >= 2 && d->head[i - 1] == '\r' && d->head[i - 2] == '\n')))
            continue;
        size_t used = take - (d->head_len - (i + 1));
        d->head_len = i + 1;
        d->head[i + 1] = 0;
        *o->end = p + used;
        ecq__h1_message(o, d);
        d->head_len = 0;
        return used;
    }
    if (d->head_len == ECQ_H1_MAX_HEAD) {
        ecq__h1_note(o, d, "a message head over " ECQ__STR(ECQ_H1_MAX_HEAD) " bytes: the rest of this read is raw");
        d->head_len = 0, d->state = ECQ__H1_LOST;
    }
    return take;
}

/* Chunked coding (RFC 9112 §7.1): size lines, data, CRLF, trailers. Returns bytes used. */
static size_t ecq__h1_chunked(const struct ecq__h1_out *o, struct ecq__h1_dir *d, const uint8_t *p, size_t n)
{
    if (d->state == ECQ__H1_CHUNK_DATA) {
        size_t take = d->left < n ? (size_t)d->left : n;
        ecq__h1_body(o, d, p, take);
        if (!(d->left -= take)) d->state = ECQ__H1_CHUNK_END;
        return take;
    }
    const uint8_t *eol = memchr(p, '\n', n);
    size_t used = eol ? (size_t)(eol - p) + 1 : n;
    if (d->state == ECQ__H1_CHUNK_SIZE) {
        for (size_t i = 0; i < used && !d->line_bad && !d->line_ext; i++) {
            int x = isxdigit(p[i]) ? (isdigit(p[i]) ? p[i] - '0' : (p[i] | 0x20) - 'a' + 10) : -1;
            if (x >= 0 && d->chunk >> 60 == 0) d->chunk = d->chunk << 4 | (uint64_t)x, d->line_len++;
            else if (x >= 0 || !d->line_len) d->line_bad = 1;
            else d->line_ext = 1; /* an extension or the line's end */
        }
        if (d->line_bad) {
            ecq__h1_note(o, d, "a bad chunk size: the rest of this read is raw");
            d->state = ECQ__H1_LOST;
            return 0;
        }
        if (!eol) return used;
        d->state = d->chunk ? ECQ__H1_CHUNK_DATA : ECQ__H1_TRAILER;
        d->left = d->chunk, d->chunk = 0, d->line_len = 0, d->line_ext = 0;
    } else if (d->state == ECQ__H1_CHUNK_END) {
        if (eol) d->state = ECQ__H1_CHUNK_SIZE, d->line_len = 0, d->line_ext = 0;
    } else { /* trailer lines until an empty one */
        for (size_t i = 0; i < used; i++)
            if (p[i] != '\r' && p[i] != '\n') d->line_len++;
        if (eol && !d->line_len) *o->end = p + used, ecq__h1_end(o, d);
        else if (eol) d->line_len = 0;
    }
    return used;
}

int ecq_h1_feed(struct ecq_h1 *c, int dir, const void *data, size_t len,
                void (*fn)(void *user, const struct ecq_h1_item *it), void *user)
{
    const uint8_t *p = data, *end = data;
    struct ecq__h1_out o = {c, dir & 1, fn, user, p, &end};
    struct ecq__h1_dir *d = c->d[o.dir];
    if (!d && !(d = c->d[o.dir] = calloc(1, sizeof *d))) return -ENOMEM;
    uint64_t before = d->heads;
    if (d->state == ECQ__H1_LOST) d->state = ECQ__H1_HEAD, d->head_len = 0;
    while (len) {
        size_t used;
        if (c->raw || d->state == ECQ__H1_LOST) {
            ecq__h1_emit(&o, d, ECQ_H1_RAW, p, len, 0);
            break;
        }
        if (d->state == ECQ__H1_HEAD) {
            used = ecq__h1_head(&o, d, p, len);
        } else if (d->state == ECQ__H1_LEN || d->state == ECQ__H1_CLOSE) {
            used = d->state == ECQ__H1_CLOSE || d->left > len ? len : (size_t)d->left;
            ecq__h1_body(&o, d, p, used);
            if (d->state == ECQ__H1_LEN && !(d->left -= used)) end = p + used, ecq__h1_end(&o, d);
        } else {
            used = ecq__h1_chunked(&o, d, p, len);
        }
        p += used, len -= used;
    }
    return (int)(d->heads - before);
}

void ecq_h1_close(struct ecq_h1 *c, void (*fn)(void *user, const struct ecq_h1_item *it), void *user)
{
    for (int i = 0; i < 2; i++) {
        struct ecq__h1_out o = {c, i, fn, user, NULL, NULL};
        if (c->d[i] && c->d[i]->state == ECQ__H1_CLOSE) ecq__h1_end(&o, c->d[i]);
    }
}

/* ---- Schema-less protobuf, for gRPC messages ---- */

struct ecq__text {                  /* a bounded text being written; cut with "..." */
    char *p;
    size_t cap, len;
    int cut;
};

static void ecq__text_put(struct ecq__text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ecq__text_put(struct ecq__text *t, const char *fmt, ...)
{
    if (t->cut || !t->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < t->cap - t->len) {
        t->len += (size_t)n;
        return;
    }
    t->cut = 1;
    t->len = t->cap > 4 ? t->cap - 4 : 0;
    snprintf(t->p + t->len, t->cap - t->len, "...");
    t->len = strlen(t->p);
}

/* A varint at p: its bytes (1..10), 0 if it runs past n or over 64 bits. */
static size_t ecq__pb_varint(const uint8_t *p, size_t n, uint64_t *v)
{
    *v = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        if (i == 9 && p[i] > 1) return 0;
        *v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) return i + 1;
    }
    return 0;
}

/* One field's tag and value at p: its bytes, 0 if it is not a field. */
static size_t ecq__pb_field(const uint8_t *p, size_t n, uint64_t *num, int *wt, uint64_t *v, const uint8_t **data)
{
    uint64_t tag;
    size_t k = ecq__pb_varint(p, n, &tag), m;
    *num = tag >> 3, *wt = (int)(tag & 7);
    if (!k || !*num || *num > 536870911) return 0;
    switch (*wt) {
    case 0: return (m = ecq__pb_varint(p + k, n - k, v)) ? k + m : 0;
    case 1: case 5:
        m = *wt == 1 ? 8 : 4;
        if (n - k < m) return 0;
        *v = 0;
        for (size_t i = m; i-- > 0;) *v = *v << 8 | p[k + i];
        return k + m;
    case 2:
        if (!(m = ecq__pb_varint(p + k, n - k, v)) || *v > n - k - m) return 0;
        *data = p + k + m;
        return k + m + (size_t)*v;
    }
    return 0;
}

static int ecq__pb_is_message(const uint8_t *p, size_t n)
{
    uint64_t num, v;
    int wt;
    const uint8_t *d;
    for (size_t k; n; p += k, n -= k)
        if (!(k = ecq__pb_field(p, n, &num, &wt, &v, &d))) return 0;
    return 1;
}

static int ecq__pb_printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 && p[i] != '\n' && p[i] != '\t' && p[i] != '\r') return 0;
    return ecq_utf8_valid(p, n);
}

static void ecq__pb_text(const uint8_t *p, size_t n, struct ecq__text *t, int depth)
{
    uint64_t num, v;
    int wt;
    const uint8_t *d = NULL;
    for (size_t k, first = 1; n && !t->cut; p += k, n -= k, first = 0) {
        k = ecq__pb_field(p, n, &num, &wt, &v, &d);
        ecq__text_put(t, "%s%" PRIu64, first ? "" : " ", num);
        if (wt == 0) ecq__text_put(t, ": %" PRIu64, v);
        else if (wt == 1) ecq__text_put(t, ": 0x%016" PRIx64, v);
        else if (wt == 5) ecq__text_put(t, ": 0x%08" PRIx64, v);
        else if (v && ecq__pb_printable(d, (size_t)v)) {
            ecq__text_put(t, ": \"");
            for (size_t i = 0; i < v && !t->cut; i++)
                ecq__text_put(t, d[i] == '"' || d[i] == '\\' ? "\\%c" : d[i] == '\n' ? "\\n" : d[i] < 0x20 ? "\\x%02x" : "%c", d[i]);
            ecq__text_put(t, "\"");
        } else if (v && depth < ECQ_PB_TEXT_DEPTH && ecq__pb_is_message(d, (size_t)v)) {
            ecq__text_put(t, " {");
            ecq__pb_text(d, (size_t)v, t, depth + 1);
            ecq__text_put(t, "}");
        } else {
            ecq__text_put(t, ": %s", v ? "0x" : "\"\"");
            for (size_t i = 0; i < v && !t->cut; i++) ecq__text_put(t, "%02x", d[i]);
        }
    }
}

int ecq_pb_text(const uint8_t *msg, size_t len, char *out, size_t cap)
{
    struct ecq__text t = {out, cap, 0, 0};
    if (cap) out[0] = 0;
    if (!ecq__pb_is_message(msg, len)) return 0;
    ecq__pb_text(msg, len, &t, 0);
    return 1;
}


/* =========================================================================
 * Text for people: bytes shown safely on a terminal, HTTP/2 frames as text
 * (watch prints it; tls --merge sends it as an event's payload)
 * ========================================================================= */

/* a hidden character (above) made visible as \uXXXX, or \UXXXXXXXX past the BMP */
static int ecq__hidden_text(char *out, size_t cap, uint32_t cp)
{
    return snprintf(out, cap, cp > 0xFFFF ? "\\U%08x" : "\\u%04x", cp);
}

/* Text for a terminal: printable ASCII and valid UTF-8 pass; C0 controls, ESC, DEL
 * and bytes that are not UTF-8 are shown as \xNN, C1 controls (such as CSI), bidi
 * controls and invisible characters as \uXXXX, so that a process name or a server's
 * string can neither drive the terminal nor pass for another name. Writes at most
 * cap-1 bytes and a NUL into out ("..." marks a cut); returns out. */
static const char *ecq__safe(char *out, size_t cap, const char *p, size_t n)
{
    size_t o = 0, i = 0;
    while (i < n && o + 12 < cap) {
        unsigned char c = (unsigned char)p[i];
        size_t k = ecq__utf8_char(p + i, n - i);
        uint32_t h = c >= 0x80 ? ecq__hidden_char(p + i, n - i) : 0;
        if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c, i++;
        } else if (h) {
            o += (size_t)ecq__hidden_text(out + o, cap - o, h), i += k;
        } else if (c >= 0x80 && k && o + k + 4 < cap) {
            memcpy(out + o, p + i, k), o += k, i += k;
        } else {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c), i++;
        }
    }
    if (i < n && cap >= 4) {
        if (o > cap - 4) o = cap - 4;
        memcpy(out + o, "...", 3), o += 3;
    }
    if (cap) out[o < cap ? o : cap - 1] = 0;
    return out;
}

/* the same, straight to f, for text of any length */
static void ecq__put_safe(FILE *f, const char *p, size_t n)
{
    char buf[1024];
    while (n) {
        size_t k = n < 200 ? n : 200;
        while (k < n && k > 196 && ((unsigned char)p[k] & 0xC0) == 0x80) k--; /* whole characters */
        fputs(ecq__safe(buf, sizeof buf, p, k), f);
        p += k, n -= k;
    }
}

/* payload shown as text: valid UTF-8 with no controls but newline, CR and tab */
static int ecq__printable(struct ecq_bytes b)
{
    if (!ecq_utf8_valid(b.ptr, b.len)) return 0;
    for (size_t i = 0; i < b.len; i++) {
        unsigned char c = (unsigned char)b.ptr[i];
        if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') return 0;
        if (c == 0x7f) return 0;
        if (c == 0xC2 && i + 1 < b.len && (unsigned char)b.ptr[i + 1] < 0xA0) return 0; /* C1 */
    }
    return 1;
}

/* a printable payload as it is, but for CR, and bidi controls and invisible
 * characters shown as \uXXXX */
static void ecq__put_text(FILE *f, struct ecq_bytes b)
{
    char esc[16];
    for (size_t i = 0; i < b.len;) {
        uint32_t h = (unsigned char)b.ptr[i] >= 0x80 ? ecq__hidden_char(b.ptr + i, b.len - i) : 0;
        if (h) {
            fwrite(esc, 1, (size_t)ecq__hidden_text(esc, sizeof esc, h), f);
            i += ecq__utf8_char(b.ptr + i, b.len - i);
            continue;
        }
        if (b.ptr[i] != '\r') fputc(b.ptr[i], f);
        i++;
    }
}

static void ecq__hexdump(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t off = 0; off < n; off += 16) {
        fprintf(f, "  %08zx  ", off);
        for (size_t i = 0; i < 16; i++) {
            if (off + i < n) fprintf(f, "%02x ", p[off + i]);
            else fputs("   ", f);
            if (i == 7) fputc(' ', f);
        }
        fputs(" |", f);
        for (size_t i = 0; i < 16 && off + i < n; i++) fputc(p[off + i] >= 0x20 && p[off + i] < 0x7f ? p[off + i] : '.', f);
        fputs("|\n", f);
    }
}

/* the terminal's colours, or none */
struct ecq__colors {
    const char *cyan, *yellow, *dim, *bold, *reset;
};

struct ecq__h2show {                /* one batch of HTTP/2 items as text */
    struct ecq__colors k;
    FILE *f;                        /* NULL: decoded, not shown (filtered out) */
    size_t left;                    /* --max-payload bytes of data still shown */
    uint64_t hidden;
};

static const char *ecq__h2_flag_names(unsigned type, unsigned flags, char *out, size_t cap)
{
    static const struct { uint8_t bit; const char *name; unsigned types; } fl[] = {
        {0x1, "END_STREAM", 1u << 0 | 1u << 1}, {0x1, "ACK", 1u << 4 | 1u << 6}, {0x4, "END_HEADERS", 1u << 1 | 1u << 5 | 1u << 9},
        {0x8, "PADDED", 1u << 0 | 1u << 1 | 1u << 5}, {0x20, "PRIORITY", 1u << 1}};
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < ECQ__ARRAY_LEN(fl); i++)
        if (flags & fl[i].bit && type < 10 && fl[i].types >> type & 1)
            n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? " " : "", fl[i].name);
    return out;
}

/* what a control frame says: SETTINGS, WINDOW_UPDATE, RST_STREAM, GOAWAY, PING */
static void ecq__h2_text_control(FILE *f, const struct ecq_h2_item *it)
{
    static const char *const settings[] = {"?", "HEADER_TABLE_SIZE", "ENABLE_PUSH", "MAX_CONCURRENT_STREAMS",
                                           "INITIAL_WINDOW_SIZE", "MAX_FRAME_SIZE", "MAX_HEADER_LIST_SIZE"};
    const uint8_t *p = (const uint8_t *)it->data.ptr;
    size_t n = it->data.len;
#define ECQ__BE32(q) ((uint32_t)(q)[0] << 24 | (uint32_t)(q)[1] << 16 | (uint32_t)(q)[2] << 8 | (q)[3])
    if (it->type == ECQ_H2_SETTINGS && n) {
        fputs("   ", f);
        for (size_t i = 0; i + 6 <= n; i += 6) {
            unsigned id = (unsigned)p[i] << 8 | p[i + 1];
            fprintf(f, " %s=%u", id < ECQ__ARRAY_LEN(settings) && id ? settings[id] : "?", ECQ__BE32(p + i + 2));
        }
        fputc('\n', f);
    } else if (it->type == ECQ_H2_WINDOW_UPDATE && n == 4) {
        fprintf(f, "    increment %u\n", ECQ__BE32(p) & 0x7fffffff);
    } else if (it->type == ECQ_H2_RST_STREAM && n == 4) {
        fprintf(f, "    error code %u\n", ECQ__BE32(p));
    } else if (it->type == ECQ_H2_GOAWAY && n >= 8) {
        fprintf(f, "    last stream %u, error code %u", ECQ__BE32(p) & 0x7fffffff, ECQ__BE32(p + 4));
        if (n > 8) fputs(", ", f), ecq__put_safe(f, (const char *)p + 8, n - 8);
        fputc('\n', f);
    } else if (it->type == ECQ_H2_PING && n == 8) {
        fputs("    opaque", f);
        for (size_t i = 0; i < 8; i++) fprintf(f, " %02x", p[i]);
        fputc('\n', f);
    }
#undef ECQ__BE32
}

/* data of a DATA frame (or a gRPC message's text), within --max-payload */
static void ecq__h2_text_bytes(struct ecq__h2show *s, struct ecq_bytes b)
{
    size_t show = b.len < s->left ? b.len : s->left;
    struct ecq_bytes shown = {b.ptr, show};
    s->left -= show, s->hidden += b.len - show;
    if (!show) return;
    if (ecq__printable(shown)) {
        fputs("    ", s->f);
        ecq__put_text(s->f, shown);
        if (shown.ptr[show - 1] != '\n') fputc('\n', s->f);
    } else {
        ecq__hexdump(s->f, (const uint8_t *)shown.ptr, show);
    }
}

static void ecq__h2_text_item(void *user, const struct ecq_h2_item *it)
{
    struct ecq__h2show *s = user;
    struct ecq__colors k = s->k;
    char flags[80], text[1024];
    if (!s->f) return;
    switch (it->kind) {
    case ECQ_H2_PREFACE: fprintf(s->f, "  %sconnection preface%s (the client)\n", k.yellow, k.reset); break;
    case ECQ_H2_FRAME:
        fprintf(s->f, "  %s%s%s stream %u, %u bytes%s%s\n", k.yellow, ecq_h2_frame_name(it->type), k.reset, it->stream,
                it->length, *ecq__h2_flag_names(it->type, it->flags, flags, sizeof flags) ? ", " : "", flags);
        break;
    case ECQ_H2_FRAME_END: ecq__h2_text_control(s->f, it); break;
    case ECQ_H2_HEADER:
        fputs("    ", s->f);
        if (it->header.flags & ECQ_HDR_NAME_UNKNOWN) fprintf(s->f, "%s?%s", k.dim, k.reset);
        ecq__put_safe(s->f, it->header.name.ptr, it->header.name.len);
        fputs(": ", s->f);
        if (it->header.flags & ECQ_HDR_VALUE_UNKNOWN) fprintf(s->f, "%s?%s", k.dim, k.reset);
        ecq__put_safe(s->f, it->header.value.ptr, it->header.value.len);
        if (it->header.flags & (ECQ_HDR_NAME_UNKNOWN | ECQ_HDR_VALUE_UNKNOWN))
            fprintf(s->f, "  %s(unknown: table entry %u was sent before watch attached)%s", k.dim, it->header.index, k.reset);
        fputc('\n', s->f);
        break;
    case ECQ_H2_DATA: ecq__h2_text_bytes(s, it->data); break;
    case ECQ_H2_GRPC:
        if (!ecq_pb_text((const uint8_t *)it->data.ptr, it->data.len, text, sizeof text)) snprintf(text, sizeof text, "(not protobuf)");
        fprintf(s->f, "    %sgRPC message%s %u bytes%s%s: %s\n", k.cyan, k.reset, it->length, it->grpc_compressed ? ", compressed" : "",
                it->cut ? ", shown in part" : "", text);
        break;
    case ECQ_H2_NOTE:
        fprintf(s->f, "    %snote: ", k.dim);
        ecq__put_safe(s->f, it->data.ptr, it->data.len);
        fprintf(s->f, "%s\n", k.reset);
        break;
    }
}

/* =========================================================================
 * Merging events for people (tls --merge): a sink stage between capture and its
 * sinks, or any host's events and its own
 * ========================================================================= */

struct ecq__mconn;

struct ecq__mdir {                  /* one direction's batch */
    struct ecq__mdir *prev, *next;  /* the batches held, in the order of their last chunk */
    struct ecq__mconn *c;
    uint8_t *buf;
    size_t len, cap;
    int64_t ts, last_ts;            /* the first chunk's and the last chunk's timestamps */
    int64_t last_us;                /* when the last chunk came (monotonic) */
    uint32_t type, src_port, dst_port;
    char src_ip[48], dst_ip[48];
    size_t src_len, dst_len;
    int held;
};

struct ecq__mconn {
    uint64_t key;
    struct ecq__mconn *next;        /* its bucket's chain */
    int slot;                       /* its index in the merger's list */
    uint64_t stamp;                 /* its last event */
    char uuid[128], pname[64];
    size_t uuid_len, pname_len;
    int64_t pid;
    int proto;                      /* 0 other, 1 HTTP/1.x, 2 HTTP/2 */
    uint32_t h1_type[2];            /* the HTTP/1 message each direction is in */
    struct ecq_h1 h1;
    struct ecq_h2 h2;
    struct ecq__mdir d[2];
};

#define ECQ__MERGE_BUCKETS 2048

struct ecq_merge {
    void (*emit)(void *user, const struct ecq_event *ev);
    void *user;
    int64_t idle_us;
    struct ecq__mconn *conns[ECQ_MERGE_MAX_CONNS], *bucket[ECQ__MERGE_BUCKETS];
    int nconns;
    uint64_t stamp;
    struct ecq__mdir *head, *tail;
    struct ecq_merge_stats st;
};

int ecq_merge_open(struct ecq_merge **out, unsigned idle_ms, void (*emit)(void *user, const struct ecq_event *ev),
                   void *user)
{
    struct ecq_merge *m = calloc(1, sizeof *m);
    if (!(*out = m)) return -ENOMEM;
    m->emit = emit, m->user = user;
    m->idle_us = (int64_t)(idle_ms ? idle_ms : ECQ_DEFAULT_MERGE_IDLE_MS) * 1000;
    return 0;
}

static void ecq__mdir_unlist(struct ecq_merge *m, struct ecq__mdir *d)
{
    *(d->prev ? &d->prev->next : &m->head) = d->next;
    *(d->next ? &d->next->prev : &m->tail) = d->prev;
    d->prev = d->next = NULL;
}

static void ecq__mdir_start(struct ecq__mdir *d, const struct ecq_event *ev, uint32_t type)
{
    d->held = 1, d->len = 0, d->ts = ev->timestamp, d->type = type;
    d->src_port = ev->src_port, d->dst_port = ev->dst_port;
    d->src_len = ev->src_ip.len < sizeof d->src_ip ? ev->src_ip.len : sizeof d->src_ip;
    d->dst_len = ev->dst_ip.len < sizeof d->dst_ip ? ev->dst_ip.len : sizeof d->dst_ip;
    if (d->src_len) memcpy(d->src_ip, ev->src_ip.ptr, d->src_len);
    if (d->dst_len) memcpy(d->dst_ip, ev->dst_ip.ptr, d->dst_len);
}

/* adds n bytes of ev to the direction's batch (started with type if none is held) */
static int ecq__mdir_add(struct ecq_merge *m, struct ecq__mdir *d, const struct ecq_event *ev, uint32_t type,
                         const void *p, size_t n)
{
    if (!d->held) ecq__mdir_start(d, ev, type);
    if (d->len + n > d->cap) {
        size_t nc = d->cap ? d->cap : 4096;
        while (nc < d->len + n) nc *= 2;
        uint8_t *b = realloc(d->buf, nc);
        if (!b) return -ENOMEM;
        d->buf = b, d->cap = nc;
    }
    if (n) memcpy(d->buf + d->len, p, n);
    d->len += n, m->st.bytes += n;
    d->last_ts = ev->timestamp, d->last_us = ecq__now_us();
    if (d->prev || m->head == d) ecq__mdir_unlist(m, d); /* listed: to the end */
    d->prev = m->tail, d->next = NULL;
    *(m->tail ? &m->tail->next : &m->head) = d;
    m->tail = d;
    return 0;
}

/* an HTTP/2 batch as the text watch prints; 0 if there is none (the bytes stay
 * with the reader, whose next batch shows them) */
static size_t ecq__merge_h2_text(struct ecq__mdir *d, int dir, char **txt)
{
    size_t tn = 0;
    FILE *f = open_memstream(txt, &tn);
    if (!f) return *txt = NULL, 0;
    struct ecq__h2show s = {{"", "", "", "", ""}, f, ECQ_MERGE_MAX_BYTES, 0};
    ecq_h2_feed(&d->c->h2, dir, d->buf, d->len, ecq__h2_text_item, &s);
    if (s.hidden) fprintf(f, "... %" PRIu64 " more bytes of data not shown\n", s.hidden);
    if (fclose(f) != 0) return free(*txt), *txt = NULL, 0;
    return tn;
}

/* hands the batch on (early: a bound made it go) and lets it go */
static void ecq__mdir_flush(struct ecq_merge *m, struct ecq__mdir *d, int early)
{
    struct ecq__mconn *c = d->c;
    int dir = (int)(d - c->d);
    char *txt = NULL;
    if (!d->held) return;
    struct ecq_event ev = {.timestamp = d->ts, .uuid = {c->uuid, c->uuid_len}, .src_ip = {d->src_ip, d->src_len},
                           .src_port = d->src_port, .dst_ip = {d->dst_ip, d->dst_len}, .dst_port = d->dst_port,
                           .pid = c->pid, .pname = {c->pname, c->pname_len}, .type = d->type,
                           .length = (uint32_t)d->len, .payload = {(const char *)d->buf, d->len}};
    if (c->proto == 2) {
        size_t tn = ecq__merge_h2_text(d, dir, &txt);
        ev.payload = (struct ecq_bytes){txt, tn}, ev.length = (uint32_t)tn;
        if (ev.type != ECQ_TYPE_HTTP2_REQUEST && ev.type != ECQ_TYPE_HTTP2_RESPONSE) ev.type = ecq_h2_type(&c->h2, dir);
    }
    if (ev.length) m->emit(m->user, &ev), m->st.out++;
    m->st.early += (uint64_t)early;
    free(txt);
    m->st.bytes -= d->len;
    if (d->prev || m->head == d) ecq__mdir_unlist(m, d);
    free(d->buf);
    d->buf = NULL, d->len = d->cap = 0, d->held = 0;
}

static struct ecq__mconn *ecq__mconn_find(struct ecq_merge *m, uint64_t key)
{
    struct ecq__mconn *c = m->bucket[key % ECQ__MERGE_BUCKETS];
    while (c && c->key != key) c = c->next;
    return c;
}

struct ecq__mh1 {                   /* an HTTP/1 chunk being cut into messages */
    struct ecq_merge *m;
    struct ecq__mconn *c;
    const struct ecq_event *ev;     /* NULL: the connection's close */
    size_t done;                    /* bytes of ev added to batches */
    int err;
};

static void ecq__merge_h1_item(void *user, const struct ecq_h1_item *it)
{
    struct ecq__mh1 *k = user;
    struct ecq__mdir *d = &k->c->d[it->dir];
    if (it->kind == ECQ_H1_HEAD) {
        k->c->h1_type[it->dir] = it->response ? ECQ_TYPE_HTTP1_RESPONSE : ECQ_TYPE_HTTP1_REQUEST;
        if (d->held) d->type = k->c->h1_type[it->dir]; /* the batch began with this message */
    }
    if (it->kind != ECQ_H1_END) return;
    if (k->ev && it->offset > k->done) {
        if (ecq__mdir_add(k->m, d, k->ev, k->c->h1_type[it->dir], k->ev->payload.ptr + k->done, it->offset - k->done) < 0)
            k->err = 1;
        k->done = it->offset;
    }
    ecq__mdir_flush(k->m, d, 0);
}

/* the connection ends: its batches handed on, the older first, and its slot freed */
static void ecq__mconn_end(struct ecq_merge *m, struct ecq__mconn *c, int early)
{
    struct ecq__mdir *first = &c->d[0], *second = &c->d[1];
    struct ecq__mh1 k = {m, c, NULL, 0, 0};
    if (c->proto == 1) ecq_h1_close(&c->h1, ecq__merge_h1_item, &k); /* a body read to the close ends */
    if (second->held && (!first->held || second->last_us < first->last_us)) first = &c->d[1], second = &c->d[0];
    ecq__mdir_flush(m, first, early && first->held);
    ecq__mdir_flush(m, second, early && second->held);
    ecq_h1_free(&c->h1);
    ecq_h2_free(&c->h2);
    struct ecq__mconn **at = &m->bucket[c->key % ECQ__MERGE_BUCKETS];
    while (*at && *at != c) at = &(*at)->next;
    if (*at) *at = c->next;
    m->conns[c->slot] = m->conns[--m->nconns];
    m->conns[c->slot]->slot = c->slot;
    free(c);
}

/* the connection of key, made for ev if new (the least recent one ends when all
 * slots are taken) */
static struct ecq__mconn *ecq__mconn_get(struct ecq_merge *m, uint64_t key, const struct ecq_event *ev)
{
    struct ecq__mconn *c = ecq__mconn_find(m, key);
    if (c) return c->stamp = ++m->stamp, c;
    if (m->nconns == ECQ_MERGE_MAX_CONNS) {
        struct ecq__mconn *old = m->conns[0];
        for (int i = 1; i < m->nconns; i++)
            if (m->conns[i]->stamp < old->stamp) old = m->conns[i];
        ecq__mconn_end(m, old, 1);
    }
    if (!(c = calloc(1, sizeof *c))) return NULL;
    c->slot = m->nconns, m->conns[m->nconns++] = c;
    c->key = key, c->stamp = ++m->stamp, c->pid = ev->pid;
    c->uuid_len = ev->uuid.len < sizeof c->uuid ? ev->uuid.len : sizeof c->uuid;
    c->pname_len = ev->pname.len < sizeof c->pname ? ev->pname.len : sizeof c->pname;
    if (c->uuid_len) memcpy(c->uuid, ev->uuid.ptr, c->uuid_len);
    if (c->pname_len) memcpy(c->pname, ev->pname.ptr, c->pname_len);
    ecq_h1_init(&c->h1);
    ecq_h2_init(&c->h2);
    for (int i = 0; i < 2; i++) c->d[i].c = c;
    c->next = m->bucket[key % ECQ__MERGE_BUCKETS];
    m->bucket[key % ECQ__MERGE_BUCKETS] = c;
    return c;
}

/* ev through the HTTP/1 reader: each message that ends goes on whole, the rest waits */
static int ecq__merge_h1(struct ecq_merge *m, struct ecq__mconn *c, const struct ecq_event *ev, int dir)
{
    struct ecq__mh1 k = {m, c, ev, 0, 0};
    if (ecq_h1_feed(&c->h1, dir, ev->payload.ptr, ev->payload.len, ecq__merge_h1_item, &k) < 0) return -ENOMEM;
    uint32_t type = c->h1_type[dir] ? c->h1_type[dir] : ev->type;
    if (k.done < ev->payload.len && ecq__mdir_add(m, &c->d[dir], ev, type, ev->payload.ptr + k.done, ev->payload.len - k.done) < 0)
        return -ENOMEM;
    return k.err ? -ENOMEM : 0;
}

static int ecq__merge_feed(struct ecq_merge *m, const struct ecq_event *ev, int dir, uint64_t key)
{
    struct ecq__mconn *c = ecq__mconn_get(m, key, ev);
    m->st.in++;
    if (!c) return m->emit(m->user, ev), m->st.out++, -ENOMEM;
    struct ecq__mdir *d = &c->d[dir & 1];
    int rc;
    int proto = ev->type == ECQ_TYPE_HTTP1_REQUEST || ev->type == ECQ_TYPE_HTTP1_RESPONSE   ? 1
                : ev->type == ECQ_TYPE_HTTP2_REQUEST || ev->type == ECQ_TYPE_HTTP2_RESPONSE ? 2 : 0;
    ecq__mdir_flush(m, &c->d[!(dir & 1)], 0); /* the other direction's turn is over */
    if (c->proto == 0 && proto) ecq__mdir_flush(m, d, 0), c->proto = proto; /* bytes before HTTP go alone */
    if (d->held && ev->timestamp - d->last_ts > m->idle_us * 1000) ecq__mdir_flush(m, d, 0); /* a pause */
    if (c->proto == 1) rc = ecq__merge_h1(m, c, ev, dir & 1);
    else rc = ecq__mdir_add(m, d, ev, ev->type, ev->payload.ptr, ev->payload.len);
    if (rc < 0) { /* what is held goes now, then the event as it is: nothing is lost */
        ecq__mdir_flush(m, d, 1);
        m->emit(m->user, ev), m->st.out++;
    }
    if (d->held && d->len >= ECQ_MERGE_MAX_BYTES) ecq__mdir_flush(m, d, 1);
    while (m->st.bytes > ECQ_MERGE_MAX_TOTAL && m->head) ecq__mdir_flush(m, m->head, 1);
    return rc;
}

/* a key for a uuid: capture keys connections by what their uuid says (ecq__conn_key) */
static uint64_t ecq__merge_key(struct ecq_bytes uuid)
{
    uint64_t k = 1469598103934665603ull;
    for (size_t i = 0; i < uuid.len; i++) k = (k ^ (uint8_t)uuid.ptr[i]) * 1099511628211ull;
    return k | 1;
}

int ecq_merge_event(struct ecq_merge *m, const struct ecq_event *ev, int dir)
{
    return ecq__merge_feed(m, ev, dir, ecq__merge_key(ev->uuid));
}

static void ecq__merge_end_key(struct ecq_merge *m, uint64_t key)
{
    struct ecq__mconn *c = ecq__mconn_find(m, key);
    if (c) ecq__mconn_end(m, c, 0);
}

void ecq_merge_end(struct ecq_merge *m, struct ecq_bytes uuid) { ecq__merge_end_key(m, ecq__merge_key(uuid)); }

/* microseconds until the oldest batch is idle (0: now), or -1 */
static int64_t ecq__merge_due_us(const struct ecq_merge *m)
{
    if (!m->head) return -1;
    int64_t left = m->head->last_us + m->idle_us - ecq__now_us();
    return left > 0 ? left : 0;
}

int ecq_merge_tick(struct ecq_merge *m)
{
    int64_t now = ecq__now_us();
    while (m->head && now - m->head->last_us >= m->idle_us) ecq__mdir_flush(m, m->head, 0);
    int64_t us = ecq__merge_due_us(m);
    return us < 0 ? -1 : (int)((us + 999) / 1000);
}

void ecq_merge_stats(const struct ecq_merge *m, struct ecq_merge_stats *st) { *st = m->st; }

void ecq_merge_close(struct ecq_merge *m)
{
    if (!m) return;
    while (m->head) ecq__mconn_end(m, m->head->c, 0); /* in the order their batches were last added to */
    while (m->nconns) ecq__mconn_end(m, m->conns[m->nconns - 1], 0);
    free(m);
}

/* =========================================================================
 * Executable analysis: ELF symbols, Go's symbol table, RET sites (x86-64 instruction
 * lengths, arm64's fixed-width instructions)
 *
 * Pure functions over a file's bytes, used by capture to find where to probe; they
 * need no libbpf and are fuzzed like the other parsers.
 * ========================================================================= */

/* Operand forms of the one-byte opcode map, one character per opcode:
 *   .  nothing after the opcode        m  ModRM
 *   b  imm8 (or rel8)                  B  ModRM + imm8
 *   z  imm32 (imm16 with 0x66)         Z  ModRM + imm32 (imm16 with 0x66)
 *   d  rel32 always                    w  imm16
 *   v  imm32, imm64 with REX.W         o  moffs: 8 bytes (4 with 0x67)
 *   e  imm16 + imm8 (ENTER)            f  ModRM, then an immediate if reg is 0 or 1 (TEST)
 *   p  legacy prefix   r  REX   c  VEX or EVEX escape   s  0x0F escape   x  invalid in 64-bit mode */
static const char ecq__x86_map1[256 + 1] =
    "mmmmbzxxmmmmbzxs" "mmmmbzxxmmmmbzxx" "mmmmbzpxmmmmbzpx" "mmmmbzpxmmmmbzpx"
    "rrrrrrrrrrrrrrrr" "................" "xxcmppppzZbB...." "bbbbbbbbbbbbbbbb"
    "BZxBmmmmmmmmmmmm" "..........x....." "oooo....bz......" "bbbbbbbbvvvvvvvv"
    "BBw.ccBZe.w..bx." "mmmmxxx.mmmmmmmm" "bbbbbbbbddxb...." "p.pp..ff......mm";

/* the 0x0F map; 0F 38 and 0F 3A are three-byte maps of ModRM (+ imm8) forms */
static const char ecq__x86_map2[256 + 1] =
    "mmmmx.....x.xm.B" "mmmmmmmmmmmmmmmm" "mmmmxxxxmmmmmmmm" "........xxxxxxxx"
    "mmmmmmmmmmmmmmmm" "mmmmmmmmmmmmmmmm" "mmmmmmmmmmmmmmmm" "BBBBmmm.mmxxmmmm"
    "dddddddddddddddd" "mmmmmmmmmmmmmmmm" "...mBmxx...mBmmm" "mmmmmmmmmmBmmmmm"
    "mmBmBBBm........" "mmmmmmmmmmmmmmmm" "mmmmmmmmmmmmmmmm" "mmmmmmmmmmmmmmmm";

#define ECQ__X86_MAX_INSN 15
#define ECQ__GO_CANDIDATES 16       /* pclntab headers tried in a file with no sections */

/* bytes taken by a ModRM byte at p[0] and what it implies (SIB, displacement) */
static int ecq__x86_modrm_len(const uint8_t *p, size_t avail)
{
    if (avail < 1) return 0;
    unsigned mod = p[0] >> 6, rm = p[0] & 7;
    int n = 1;
    if (mod == 3) return n;
    if (rm == 4) {
        if (avail < 2) return 0;
        n++;
        if (mod == 0 && (p[1] & 7) == 5) return n + 4;
    } else if (mod == 0 && rm == 5) {
        return n + 4; /* RIP-relative */
    }
    return n + (mod == 1 ? 1 : mod == 2 ? 4 : 0);
}

int ecq_x86_insn_len(const uint8_t *code, size_t avail)
{
    size_t i = 0;
    int opsize16 = 0, addr32 = 0, rexw = 0, m;
    char form;
    uint8_t op;
    for (;; i++) { /* prefixes, then at most one REX right before the opcode */
        if (i >= avail) return 0;
        if (i >= ECQ__X86_MAX_INSN) return -1;
        uint8_t b = code[i];
        char f = ecq__x86_map1[b];
        if (f == 'p') opsize16 |= b == 0x66, addr32 |= b == 0x67, rexw = 0;
        else if (f == 'r') rexw = (b & 8) != 0;
        else break;
    }
    op = code[i++];
    form = ecq__x86_map1[op];
    if (form == 'c') {
        /* VEX: C5 RvvvvLpp | C4 RXBmmmmm WvvvvLpp; EVEX (AVX-512, the 62 that was BOUND
         * outside 64-bit mode): 62 RXBR'0mmm Wvvvv1pp zL'LbV'aaa; then opcode and ModRM.
         * Maps: 1 = 0F, 2 = 0F38, 3 = 0F3A; EVEX also 5 and 6 (FP16), no immediates. */
        int evex = op == 0x62;
        size_t vlen = op == 0xC5 ? 1 : evex ? 3 : 2;
        unsigned map = 1;
        if (i + vlen >= avail) return 0;
        if (op == 0xC4) map = code[i] & 0x1F;
        if (evex) {
            map = code[i] & 0x0F;
            if (!(code[i + 1] & 4) || !(map == 1 || map == 2 || map == 3 || map == 5 || map == 6)) return -1;
        } else if (map < 1 || map > 3) {
            return -1;
        }
        i += vlen;
        op = code[i++];
        if (evex || map != 1 || op != 0x77) { /* all but VEX VZEROUPPER/VZEROALL have ModRM */
            m = ecq__x86_modrm_len(code + i, avail - i);
            if (!m) return 0;
            i += (size_t)m;
        }
        if (map == 3 || (map == 1 && ((op >= 0x70 && op <= 0x73) || op == 0xC2 || (op >= 0xC4 && op <= 0xC6)))) i++;
        return i > ECQ__X86_MAX_INSN ? -1 : i > avail ? 0 : (int)i;
    }
    if (form == 's') {
        if (i >= avail) return 0;
        op = code[i++];
        if (op == 0x38 || op == 0x3A) {
            if (i >= avail) return 0;
            i++;
            form = op == 0x3A ? 'B' : 'm';
        } else {
            form = ecq__x86_map2[op];
        }
    }
    size_t imm = 0;
    switch (form) {
    case '.': break;
    case 'b': imm = 1; break;
    case 'w': imm = 2; break;
    case 'e': imm = 3; break;
    case 'd': imm = 4; break;
    case 'z': imm = opsize16 && !rexw ? 2 : 4; break;
    case 'v': imm = rexw ? 8 : opsize16 ? 2 : 4; break;
    case 'o': imm = addr32 ? 4 : 8; break;
    case 'm': case 'B': case 'Z': case 'f':
        m = ecq__x86_modrm_len(code + i, avail - i);
        if (!m) return 0;
        if (form == 'f' && ((code[i] >> 3) & 7) < 2) imm = op == 0xF6 ? 1 : opsize16 && !rexw ? 2 : 4;
        i += (size_t)m;
        if (form == 'B') imm = 1;
        if (form == 'Z') imm = opsize16 && !rexw ? 2 : 4;
        break;
    default: return -1; /* invalid in 64-bit mode, or a REX or prefix with nothing after it */
    }
    i += imm;
    return i > ECQ__X86_MAX_INSN ? -1 : i > avail ? 0 : (int)i;
}

int ecq_x86_find_returns(const uint8_t *code, size_t len, uint32_t *offs, int max, size_t *bad_off)
{
    int found = 0;
    for (size_t i = 0; i < len;) {
        int n = ecq_x86_insn_len(code + i, len - i);
        if (n <= 0) {
            if (bad_off) *bad_off = i;
            return -1;
        }
        /* the opcode after any prefixes: C3 RET, C2 iw RET imm16 */
        size_t k = i;
        while (k < i + (size_t)n - 1 && (ecq__x86_map1[code[k]] == 'p' || ecq__x86_map1[code[k]] == 'r')) k++;
        if (code[k] == 0xC3 || code[k] == 0xC2) {
            if (found < max) offs[found] = (uint32_t)i;
            found++;
        }
        i += (size_t)n;
    }
    return found;
}

/* arm64: every instruction is 4 bytes at a 4-byte boundary, so a RET site is a word
 * equal to RET (to X30, what compilers emit). A constant pool inside a function could
 * hold that word too; Go and GCC place none in the functions capture probes. */
#define ECQ__ARM64_RET 0xd65f03c0u

int ecq_arm64_find_returns(const uint8_t *code, size_t len, uint32_t *offs, int max, size_t *bad_off)
{
    int found = 0;
    if (len % 4) { /* a function of whole instructions, or none */
        if (bad_off) *bad_off = len - len % 4;
        return -1;
    }
    for (size_t i = 0; i < len; i += 4) {
        uint32_t w = (uint32_t)code[i] | (uint32_t)code[i + 1] << 8 | (uint32_t)code[i + 2] << 16 |
                     (uint32_t)code[i + 3] << 24;
        if (w != ECQ__ARM64_RET) continue;
        if (found < max) offs[found] = (uint32_t)i;
        found++;
    }
    return found;
}

/* ---- ELF64 (little-endian; x86-64 or arm64) ------------------------------- */

/* Any user can make a process map a file, so every file is hostile input: each loop
 * here is bounded by a 16-bit header count or an ECQ_ELF_MAX_* bound and does constant
 * work per step. No string is scanned for its end (a table without NUL made that
 * quadratic); a name looked for is compared over its own length and one byte more. */

struct ecq__elf {
    const uint8_t *p;
    size_t n;
    uint64_t shoff, phoff;
    unsigned shnum, phnum;
    const uint8_t *shstr;       /* section name table */
    uint64_t shstr_len;
    unsigned machine;           /* ECQ_EM_X86_64 or ECQ_EM_AARCH64 */
};

static uint64_t ecq__le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* a byte range of the file, or NULL if it does not lie inside */
static const uint8_t *ecq__elf_at(const struct ecq__elf *e, uint64_t off, uint64_t len)
{
    return off <= e->n && len <= e->n - off ? e->p + off : NULL;
}

static const uint8_t *ecq__elf_shdr(const struct ecq__elf *e, unsigned i)
{
    return i < e->shnum ? ecq__elf_at(e, e->shoff + (uint64_t)i * 64, 64) : NULL;
}

static int ecq__elf_open(struct ecq__elf *e, const uint8_t *p, size_t n)
{
    memset(e, 0, sizeof *e);
    e->p = p, e->n = n;
    if (n < 64 || memcmp(p, "\177ELF", 4) != 0 || p[4] != 2 || p[5] != 1) return -1;
    e->machine = (unsigned)ecq__le(p + 18, 2);
    if (e->machine != ECQ_EM_X86_64 && e->machine != ECQ_EM_AARCH64) return -1;
    e->phoff = ecq__le(p + 32, 8), e->shoff = ecq__le(p + 40, 8);
    e->phnum = (unsigned)ecq__le(p + 56, 2), e->shnum = (unsigned)ecq__le(p + 60, 2);
    if ((e->phnum && ecq__le(p + 54, 2) != 56) || (e->shnum && ecq__le(p + 58, 2) != 64)) return -1;
    if (!ecq__elf_at(e, e->phoff, (uint64_t)e->phnum * 56)) e->phnum = 0;
    if (!ecq__elf_at(e, e->shoff, (uint64_t)e->shnum * 64)) e->shnum = 0;
    const uint8_t *sh = ecq__elf_shdr(e, (unsigned)ecq__le(p + 62, 2));
    if (sh) {
        e->shstr_len = ecq__le(sh + 32, 8);
        e->shstr = ecq__elf_at(e, ecq__le(sh + 24, 8), e->shstr_len);
    }
    return 0;
}

/* whether the string at off in a table of len bytes is name (l bytes long) or, when
 * versioned, name@VERSION; reads at most l + 1 bytes of the table */
static int ecq__elf_name_is(const uint8_t *tab, uint64_t len, uint64_t off, const char *name, size_t l,
                            int versioned)
{
    if (!tab || off >= len || len - off <= l || memcmp(tab + off, name, l) != 0) return 0;
    return tab[off + l] == 0 || (versioned && tab[off + l] == '@');
}

static const uint8_t *ecq__elf_section(const struct ecq__elf *e, const char *name)
{
    size_t l = strlen(name);
    for (unsigned i = 0; i < e->shnum; i++) {
        const uint8_t *sh = ecq__elf_shdr(e, i);
        if (ecq__elf_name_is(e->shstr, e->shstr_len, ecq__le(sh, 4), name, l, 0)) return sh;
    }
    return NULL;
}

/* File offset of [va, va + len) if it lies in the file part of one PT_LOAD segment,
 * one with PF_X when exec (a probe anywhere else is not on code the kernel runs:
 * a data segment, the zero-filled tail past p_filesz, across a segment's end), or -1 */
static int64_t ecq__elf_offset(const struct ecq__elf *e, uint64_t va, uint64_t len, int exec)
{
    for (unsigned i = 0; i < e->phnum; i++) {
        const uint8_t *ph = e->p + e->phoff + (uint64_t)i * 56;
        uint64_t off = ecq__le(ph + 8, 8), vaddr = ecq__le(ph + 16, 8), filesz = ecq__le(ph + 32, 8);
        if (ecq__le(ph, 4) != 1 || (exec && !(ecq__le(ph + 4, 4) & 1))) continue; /* PT_LOAD, PF_X */
        if (va < vaddr || va - vaddr > filesz || len > filesz - (va - vaddr)) continue;
        if (off > e->n || va - vaddr > e->n - off || !ecq__elf_at(e, off + (va - vaddr), len)) continue;
        return (int64_t)(off + (va - vaddr));
    }
    return -1;
}

/* one symbol table and its string table */
struct ecq__symtab {
    const uint8_t *syms, *str;
    uint64_t count, strsz;
};

/* The first section of type (SHT_SYMTAB 2, SHT_DYNSYM 11): the gABI allows one of each,
 * and taking every one would let a file list one table 65,535 times. 0, -1 if there is
 * none, ECQ_ELF_OVER_BOUNDS if it is too long to search. */
static int ecq__elf_symtab(const struct ecq__elf *e, uint32_t type, struct ecq__symtab *t)
{
    const uint8_t *sh = NULL, *strsh;
    memset(t, 0, sizeof *t);
    for (unsigned i = 0; i < e->shnum && !sh; i++) {
        const uint8_t *h = ecq__elf_shdr(e, i);
        if (ecq__le(h + 4, 4) == type) sh = h;
    }
    if (!sh || ecq__le(sh + 56, 8) != 24 || !(strsh = ecq__elf_shdr(e, (unsigned)ecq__le(sh + 40, 4)))) return -1;
    uint64_t symsz = ecq__le(sh + 32, 8);
    t->strsz = ecq__le(strsh + 32, 8);
    t->syms = ecq__elf_at(e, ecq__le(sh + 24, 8), symsz);
    t->str = ecq__elf_at(e, ecq__le(strsh + 24, 8), t->strsz);
    if (!t->syms || !t->str) return -1;
    t->count = symsz / 24;
    return t->count > ECQ_ELF_MAX_SYMBOLS ? ECQ_ELF_OVER_BOUNDS : 0;
}

/* ---- Rust symbol names: just enough demangling to match a path ------------ */

/* Output of a demangling that is only compared with want: it stops at the first byte
 * that differs, so a symbol of another crate costs a few bytes' work. */
struct ecq__rust_out {
    const char *want;
    size_t l, n;                    /* want's length; bytes written so far */
    int bad;
    int mute;                       /* v0: inside a part the demangler does not show */
};

static void ecq__rust_put(struct ecq__rust_out *o, const char *s, size_t n)
{
    if (o->mute) return;
    if (o->bad || n > o->l - o->n || memcmp(o->want + o->n, s, n) != 0) o->bad = 1;
    else o->n += n;
}

/* one legacy component (t, n bytes) as the demangler writes it: $LT$ <, .. ::, ... */
static void ecq__rust_legacy_ident(struct ecq__rust_out *o, const char *t, size_t n)
{
    static const char *const esc[][2] = {{"$LT$", "<"}, {"$GT$", ">"}, {"$RF$", "&"}, {"$BP$", "*"},
                                         {"$SP$", "@"}, {"$LP$", "("}, {"$RP$", ")"}, {"$C$", ","},
                                         {"$u20$", " "}, {"$u27$", "'"}, {"$u5b$", "["}, {"$u5d$", "]"},
                                         {"$u7b$", "{"}, {"$u7d$", "}"}, {"$u7e$", "~"}, {"$u3b$", ";"},
                                         {"$u2b$", "+"}, {"$u22$", "\""}};
    if (n >= 2 && t[0] == '_' && t[1] == '$') t++, n--;
    for (size_t i = 0; i < n && !o->bad;) {
        size_t k = 0;
        if (t[i] == '$') {
            for (k = 0; k < ECQ__ARRAY_LEN(esc); k++) {
                size_t el = strlen(esc[k][0]);
                if (el <= n - i && memcmp(t + i, esc[k][0], el) == 0) {
                    ecq__rust_put(o, esc[k][1], 1), i += el;
                    break;
                }
            }
            if (k == ECQ__ARRAY_LEN(esc)) o->bad = 1;
        } else if (t[i] == '.' && i + 1 < n && t[i + 1] == '.') {
            ecq__rust_put(o, "::", 2), i += 2;
        } else {
            ecq__rust_put(o, t + i, 1), i++;
        }
    }
}

/* Whether the legacy-mangled symbol s (_ZN 6rustls 4conn ... 17h<16 hex digits> E, at
 * most cap bytes) names the path o->want, its hash left out. */
static int ecq__rust_legacy_is(const char *s, size_t cap, struct ecq__rust_out *o)
{
    size_t i = 3;
    if (cap < 4 || memcmp(s, "_ZN", 3) != 0) return 0;
    for (int first = 1; i < cap && s[i] != 'E' && !o->bad; first = 0) {
        size_t n = 0;
        while (i < cap && s[i] >= '0' && s[i] <= '9' && n < cap) n = n * 10 + (size_t)(s[i++] - '0');
        if (!n || n > cap - i) return 0;
        int hash = n == 17 && s[i] == 'h' && i + n < cap && s[i + n] == 'E';
        if (!hash) {
            if (!first) ecq__rust_put(o, "::", 2);
            ecq__rust_legacy_ident(o, s + i, n);
        }
        i += n;
    }
    return i < cap && s[i] == 'E' && !o->bad && o->n == o->l;
}

/* v0 mangling (_R...; RFC 2603): a symbol being read, and where */
struct ecq__v0 {
    const char *s;
    size_t cap, at;
};

/* a base-62 number ("_" is 0, "x_" is x + 1); -1 if malformed */
static int64_t ecq__v0_number(struct ecq__v0 *v)
{
    uint64_t n = 0;
    if (v->at < v->cap && v->s[v->at] == '_') return v->at++, 0;
    for (; v->at < v->cap && v->s[v->at] != '_'; v->at++) {
        char c = v->s[v->at];
        int d = isdigit((unsigned char)c) ? c - '0' : islower((unsigned char)c) ? c - 'a' + 10
                                                  : isupper((unsigned char)c) ? c - 'A' + 36 : -1;
        if (d < 0) return -1;
        n = n * 62 + (uint64_t)d; /* a disambiguator is a 64-bit hash: it may wrap, unused */
    }
    return v->at < v->cap ? (v->at++, (int64_t)((n + 1) & INT64_MAX)) : -1;
}

/* an identifier: [disambiguator "s" number] decimal length ["_"] bytes; punycode
 * ("u") is not matched */
static int ecq__v0_ident(struct ecq__v0 *v, struct ecq__rust_out *o, int disamb)
{
    size_t n = 0;
    if (disamb && v->at < v->cap && v->s[v->at] == 's' && (v->at++, ecq__v0_number(v) < 0)) return -1;
    if (v->at >= v->cap || !isdigit((unsigned char)v->s[v->at])) return -1;
    while (v->at < v->cap && isdigit((unsigned char)v->s[v->at]) && n < v->cap) n = n * 10 + (size_t)(v->s[v->at++] - '0');
    if (v->at < v->cap && v->s[v->at] == '_') v->at++;
    if (n > v->cap - v->at) return -1;
    ecq__rust_put(o, v->s + v->at, n);
    v->at += n;
    return 0;
}

/* a path (or a type that is one) as the demangler shows it: crate::module::name,
 * <Type>, <Type as Trait>; generic arguments, closures and other types are not matched */
static int ecq__v0_path(struct ecq__v0 *v, struct ecq__rust_out *o, int depth)
{
    if (depth > 16 || v->at >= v->cap || o->bad) return -1;
    char tag = v->s[v->at++];
    int rc = 0;
    switch (tag) {
    case 'C': return ecq__v0_ident(v, o, 1);
    case 'N':
        if (v->at >= v->cap || !islower((unsigned char)v->s[v->at++])) return -1; /* closures, shims */
        if (ecq__v0_path(v, o, depth + 1) < 0) return -1;
        ecq__rust_put(o, "::", 2);
        return ecq__v0_ident(v, o, 1);
    case 'M': case 'X': /* an impl: [disambiguator] the impl's module (not shown), the type [, the trait] */
        if (v->at < v->cap && v->s[v->at] == 's' && (v->at++, ecq__v0_number(v) < 0)) return -1;
        o->mute++, rc = ecq__v0_path(v, o, depth + 1), o->mute--;
        /* fall through */
    case 'Y':
        ecq__rust_put(o, "<", 1);
        if (rc < 0 || ecq__v0_path(v, o, depth + 1) < 0) return -1;
        if (tag != 'M') {
            ecq__rust_put(o, " as ", 4);
            if (ecq__v0_path(v, o, depth + 1) < 0) return -1;
        }
        ecq__rust_put(o, ">", 1);
        return 0;
    case 'B': { /* the path at an earlier position, read again */
        size_t back = v->at - 1;
        int64_t at = ecq__v0_number(v);
        if (at < 0 || (uint64_t)at + 2 >= back) return -1; /* earlier only; positions count from after "_R" */
        struct ecq__v0 w = {v->s, v->cap, (size_t)at + 2};
        return ecq__v0_path(&w, o, depth + 1);
    }
    }
    return -1;
}

/* Whether the v0-mangled symbol s names the path o->want (the instantiating crate that
 * may follow it is not part of the name) */
static int ecq__rust_v0_is(const char *s, size_t cap, struct ecq__rust_out *o)
{
    struct ecq__v0 v = {s, cap, 2};
    if (memcmp(s, "_R", 2) != 0 || ecq__v0_path(&v, o, 0) < 0) return 0;
    return !o->bad && o->n == o->l;
}

/* Whether the string at tab[off] (a symbol name) is the Rust path name ("<rustls::conn::
 * Writer as std::io::Write>::write"), legacy-mangled or v0-mangled. */
static int ecq__rust_name_is(const uint8_t *tab, uint64_t len, uint64_t off, const char *name, size_t l)
{
    struct ecq__rust_out o = {name, l, 0, 0, 0};
    if (!tab || off >= len || len - off < 4 || tab[off] != '_') return 0;
    size_t cap = len - off > 4096 ? 4096 : (size_t)(len - off);
    const char *s = (const char *)tab + off;
    cap = strnlen(s, cap);
    if (s[1] == 'Z') return ecq__rust_legacy_is(s, cap, &o);
    return s[1] == 'R' && ecq__rust_v0_is(s, cap, &o);
}

/* a defined function symbol called name: 0 with its address and size, or -1. A name
 * that starts with '<' is a Rust path, matched against the demangled symbols. */
static int ecq__elf_symbol(const struct ecq__symtab *t, const char *name, uint64_t *addr, uint64_t *size)
{
    size_t l = strlen(name);
    for (uint64_t k = 0; k < t->count; k++) {
        const uint8_t *s = t->syms + k * 24;
        if ((s[4] & 0xF) != 2 || !ecq__le(s + 6, 2)) continue; /* STT_FUNC, defined */
        /* a versioned name in .symtab: SSL_read@@OPENSSL_3.0.0 */
        if (name[0] == '<' ? !ecq__rust_name_is(t->str, t->strsz, ecq__le(s, 4), name, l)
                           : !ecq__elf_name_is(t->str, t->strsz, ecq__le(s, 4), name, l, 1))
            continue;
        *addr = ecq__le(s + 8, 8), *size = ecq__le(s + 16, 8);
        return 0;
    }
    return -1;
}

/* ---- Go: pclntab (function table) and build information ------------------ */

/* Go's pclntab, the symbol table that stripped Go executables keep. Layouts:
 * 0xfffffff0 (Go 1.18, 1.19), 0xfffffff1 (1.20 and later): 32-bit entry offsets from
 * textStart; 0xfffffffa (1.16, 1.17): pointer-sized entries. The functab has nfunc + 1
 * entries {entry, funcoff}: a function ends where the next begins. */
struct ecq__pclntab {
    const uint8_t *t, *ftab;
    uint64_t len, nfunc, text, nameoff, pcln;
    int ent, v118;              /* bytes per functab entry; Go 1.18 or later */
};

/* A walk over the file part of every non-executable PT_LOAD segment (read-only data,
 * relro, data; with write only the writable ones) looking for a magic at an aligned
 * address, for files whose section headers are gone (sstrip, packers). Every walk of
 * one lookup draws on one budget: together they look at most ECQ_ELF_MAX_GO_SCAN bytes. */
struct ecq__scan {
    unsigned seg;
    int write;
    uint64_t at;                /* offset into the segment */
    uint64_t *left;             /* bytes the lookup may still look at */
};

/* The next match at or after the walk's place: its bytes, with its address in *va and
 * the bytes from it to the end of its segment's file part in *room; NULL at the end. */
static const uint8_t *ecq__elf_scan_next(const struct ecq__elf *e, struct ecq__scan *s, const char *magic,
                                         size_t mlen, uint64_t align, uint64_t *va, uint64_t *room)
{
    for (; s->seg < e->phnum; s->seg++, s->at = 0) {
        const uint8_t *ph = e->p + e->phoff + (uint64_t)s->seg * 56;
        uint64_t off = ecq__le(ph + 8, 8), vaddr = ecq__le(ph + 16, 8), filesz = ecq__le(ph + 32, 8);
        uint64_t flags = ecq__le(ph + 4, 4);
        if (ecq__le(ph, 4) != 1 || (flags & 1) || (s->write && !(flags & 2)) || !ecq__elf_at(e, off, filesz))
            continue;
        if (s->at == 0) s->at = (align - vaddr % align) % align;
        for (; s->at + mlen <= filesz; s->at += align) {
            if (*s->left < align) return NULL;
            *s->left -= align;
            const uint8_t *c = e->p + off + s->at;
            if (c[0] != (uint8_t)magic[0] || memcmp(c, magic, mlen) != 0) continue;
            *va = vaddr + s->at, *room = filesz - s->at;
            s->at += align;
            return e->p + off + s->at - align;
        }
    }
    return NULL;
}

/* Go's runtime.firstmoduledata for a pclntab at va, found in the writable data: its
 * first words are pcHeader (= va) and funcnametab.ptr (= va + nameoff), and word 22 is
 * text (the layout of Go 1.16 to 1.27), which replaces pclntab's textStart from Go 1.26
 * on. 0 with *text, or -1 if no module points at va. */
static int ecq__go_moduledata(const struct ecq__elf *e, uint64_t va, uint64_t nameoff, uint64_t *left,
                              uint64_t *text)
{
    uint8_t want[16];
    uint64_t at, room;
    const uint8_t *m;
    for (int i = 0; i < 8; i++) want[i] = (uint8_t)(va >> 8 * i), want[8 + i] = (uint8_t)((va + nameoff) >> 8 * i);
    struct ecq__scan s = {.write = 1, .left = left};
    while ((m = ecq__elf_scan_next(e, &s, (const char *)want, sizeof want, 8, &at, &room)) != NULL)
        if (room >= 23 * 8) return *text = ecq__le(m + 22 * 8, 8), 0;
    return -1;
}

/* The header of a pclntab of len bytes at t: 0, -1 if it is not one, ECQ_ELF_OVER_BOUNDS */
static int ecq__go_pclntab_parse(const struct ecq__elf *e, const uint8_t *t, uint64_t len, struct ecq__pclntab *g)
{
    memset(g, 0, sizeof *g);
    if (len < 72 || t[4] || t[5] || t[7] != 8) return -1;
    uint32_t magic = (uint32_t)ecq__le(t, 4);
    g->v118 = magic == 0xfffffff0 || magic == 0xfffffff1;
    if (!g->v118 && magic != 0xfffffffa) return -1;
    uint64_t hdr = g->v118 ? 32 : 24;
    g->t = t, g->len = len, g->nfunc = ecq__le(t + 8, 8), g->ent = g->v118 ? 8 : 16;
    if (g->v118 && !(g->text = ecq__le(t + 24, 8))) { /* position-independent: filled in at run time */
        const uint8_t *ts = ecq__elf_section(e, ".text");
        g->text = ts ? ecq__le(ts + 16, 8) : 0;
    }
    g->nameoff = ecq__le(t + hdr, 8), g->pcln = ecq__le(t + hdr + 32, 8);
    if (g->nameoff >= g->len || g->pcln >= g->len || g->nfunc >= (g->len - g->pcln) / (uint64_t)g->ent)
        return -1; /* nfunc + 1 entries must fit */
    g->ftab = t + g->pcln;
    return g->nfunc > ECQ_ELF_MAX_GO_FUNCS ? ECQ_ELF_OVER_BOUNDS : 0;
}

/* Where pclntab is: its section, .gopclntab or, in a PIE built by Go 1.19 to 1.25 (whose
 * linker put it among the data relocated at load), .data.rel.ro.gopclntab. A file with
 * no section headers at all is searched for the layout's magic in its data; a candidate
 * counts when its header parses and runtime.firstmoduledata points at it (a table of
 * strings that merely starts like one has no module pointing at it; from Go 1.26 on the
 * module also gives the text address pclntab no longer holds). At most
 * ECQ__GO_CANDIDATES candidates are tried, all the walks within one budget.
 * 0, -1 if the file has no usable pclntab, ECQ_ELF_OVER_BOUNDS if it is too long */
static int ecq__go_pclntab(const struct ecq__elf *e, struct ecq__pclntab *g)
{
    static const char *const magics[] = {"\xf1\xff\xff\xff", "\xf0\xff\xff\xff", "\xfa\xff\xff\xff"};
    const uint8_t *sh = ecq__elf_section(e, ".gopclntab"), *t;
    memset(g, 0, sizeof *g);
    if (sh || (sh = ecq__elf_section(e, ".data.rel.ro.gopclntab"))) {
        uint64_t len = ecq__le(sh + 32, 8);
        return (t = ecq__elf_at(e, ecq__le(sh + 24, 8), len)) ? ecq__go_pclntab_parse(e, t, len, g) : -1;
    }
    if (e->shnum && e->shstr) return -1; /* sections named, none of them Go's */
    int tries = 0;
    uint64_t left = ECQ_ELF_MAX_GO_SCAN;
    for (size_t m = 0; m < ECQ__ARRAY_LEN(magics); m++) {
        struct ecq__scan s = {.left = &left};
        uint64_t va, room;
        while ((t = ecq__elf_scan_next(e, &s, magics[m], 4, 8, &va, &room)) != NULL) {
            uint64_t text;
            int rc = ecq__go_pclntab_parse(e, t, room, g);
            if (rc == -1) continue;
            if (++tries > ECQ__GO_CANDIDATES) break;
            if (ecq__go_moduledata(e, va, g->nameoff, &left, &text) < 0) continue;
            if (g->v118 && !g->text) g->text = text;
            return g->v118 && !g->text ? -1 : rc;
        }
    }
    memset(g, 0, sizeof *g);
    return -1;
}

static int ecq__go_find(const struct ecq__pclntab *g, const char *name, uint64_t *addr, uint64_t *size)
{
    size_t l = strlen(name);
    int half = g->ent / 2;
    for (uint64_t i = 0; i < g->nfunc; i++) {
        const uint8_t *f = g->ftab + i * (uint64_t)g->ent;
        uint64_t foff = ecq__le(f + half, half);
        if (foff > g->len - 12 || g->pcln > g->len - 12 - foff) continue;
        foff += g->pcln;
        uint64_t nm = ecq__le(g->t + foff + (g->v118 ? 4 : 8), 4);
        if (!ecq__elf_name_is(g->t + g->nameoff, g->len - g->nameoff, nm, name, l, 0)) continue;
        uint64_t a = ecq__le(f, half), b = ecq__le(f + g->ent, half);
        if (b <= a) return -1;
        *addr = g->text + a, *size = b - a;
        return 0;
    }
    return -1;
}

/* one reason out of a lookup that returns no function */
static int ecq__elf_refuse(struct ecq_elf_func *out, int rc, const char *why)
{
    out->why = why;
    return rc;
}

int ecq_elf_find_func(const uint8_t *elf, size_t len, const char *name, struct ecq_elf_func *out)
{
    static const char *const sources[] = {".symtab", ".dynsym", ".gopclntab"};
    struct ecq__elf e;
    struct ecq__symtab sym[2];
    struct ecq__pclntab go;
    int rc[3], i;
    int64_t off;
    memset(out, 0, sizeof *out);
    if (ecq__elf_open(&e, elf, len) < 0) return ecq__elf_refuse(out, ECQ_ELF_NOT_FOUND, "not an x86-64 or arm64 ELF64 file");
    /* the bounds first, so a file is over them whatever name is looked for */
    rc[0] = ecq__elf_symtab(&e, 2, &sym[0]), rc[1] = ecq__elf_symtab(&e, 11, &sym[1]);
    rc[2] = ecq__go_pclntab(&e, &go);
    if (rc[0] == ECQ_ELF_OVER_BOUNDS || rc[1] == ECQ_ELF_OVER_BOUNDS)
        return ecq__elf_refuse(out, ECQ_ELF_OVER_BOUNDS,
                               "a symbol table of over " ECQ__STR(ECQ_ELF_MAX_SYMBOLS) " entries");
    if (rc[2] == ECQ_ELF_OVER_BOUNDS)
        return ecq__elf_refuse(out, ECQ_ELF_OVER_BOUNDS,
                               "a Go function table of over " ECQ__STR(ECQ_ELF_MAX_GO_FUNCS) " entries");
    for (i = 0; i < 3; i++)
        if (rc[i] == 0 && (i < 2 ? ecq__elf_symbol(&sym[i], name, &out->addr, &out->size)
                                 : ecq__go_find(&go, name, &out->addr, &out->size)) == 0)
            break;
    if (i == 3) return ecq__elf_refuse(out, ECQ_ELF_NOT_FOUND, "no such function");
    out->source = sources[i];
    if (out->size > ECQ_ELF_MAX_FUNC_SIZE)
        return ecq__elf_refuse(out, ECQ_ELF_OVER_BOUNDS, "a function of over " ECQ__STR(ECQ_ELF_MAX_FUNC_SIZE) " bytes");
    if ((off = ecq__elf_offset(&e, out->addr, out->size ? out->size : 1, 1)) < 0)
        return ecq__elf_refuse(out, ECQ_ELF_NOT_CODE, "not in the file part of an executable segment");
    out->offset = (uint64_t)off;
    return 0;
}

/* the first Go minor release with the register ABI on the machine (Go's internal ABI:
 * amd64 1.17, arm64 1.18) */
static int ecq__go_regabi_minor(unsigned machine)
{
    return machine == ECQ_EM_AARCH64 ? 18 : 17;
}

/* reads a Go string header {ptr, len} at virtual address va */
static int ecq__go_string(const struct ecq__elf *e, uint64_t va, char *out, size_t cap)
{
    int64_t h = ecq__elf_offset(e, va, 16, 0), s;
    if (h < 0) return -1;
    uint64_t ptr = ecq__le(e->p + h, 8), n = ecq__le(e->p + h + 8, 8);
    if (n == 0 || n >= cap || (s = ecq__elf_offset(e, ptr, n, 0)) < 0) return -1;
    memcpy(out, e->p + s, n);
    out[n] = 0;
    return 0;
}

int ecq_go_version(const uint8_t *elf, size_t len, char *out, size_t cap)
{
    static const char magic[] = "\xff Go buildinf:";
    struct ecq__elf e;
    const uint8_t *sh, *b = NULL;
    uint64_t at, room = 0;
    if (cap) out[0] = 0;
    if (!cap || ecq__elf_open(&e, elf, len) < 0) return -1;
    if ((sh = ecq__elf_section(&e, ".go.buildinfo")) != NULL) {
        at = ecq__le(sh + 24, 8), room = at < e.n ? e.n - at : 0;
        b = ecq__elf_at(&e, at, 32);
    } else if (!e.shnum || !e.shstr) { /* no section headers left: its magic, 16-byte aligned */
        uint64_t left = ECQ_ELF_MAX_GO_SCAN;
        struct ecq__scan s = {.left = &left};
        b = ecq__elf_scan_next(&e, &s, magic, 14, 16, &at, &room);
    }
    if (!b || room < 32 || memcmp(b, magic, 14) != 0) return -1;
    if (b[15] & 2) { /* Go 1.18 and later: the version inline, length-prefixed */
        uint64_t n = 0;
        int shift = 0;
        size_t i = 32;
        const uint8_t *v = room >= 42 ? b : NULL;
        for (; v && i < 42; i++, shift += 7) {
            n |= (uint64_t)(v[i] & 0x7F) << shift;
            if (!(v[i] & 0x80)) break;
        }
        if (!v || i == 42 || n == 0 || n >= cap || n > room - i - 1) return -1;
        memcpy(out, v + i + 1, n);
        out[n] = 0;
    } else if (b[14] != 8 || ecq__go_string(&e, ecq__le(b + 16, 8), out, cap) < 0) {
        return -1;
    }
    /* the register ABI arrived in Go 1.17 on amd64, in Go 1.18 on arm64 */
    const char *v = strstr(out, "go1.");
    if (!v) return strncmp(out, "devel", 5) == 0;
    return atoi(v + 4) >= ecq__go_regabi_minor(e.machine);
}

int ecq_elf_machine(const uint8_t *elf, size_t len, const char **name)
{
    struct ecq__elf e;
    if (ecq__elf_open(&e, elf, len) < 0) return *name = "not an x86-64 or arm64 ELF64 file", -1;
    *name = e.machine == ECQ_EM_AARCH64 ? "arm64" : "x86-64";
    return (int)e.machine;
}

/* ---- BoringSSL linked in, without symbols (Chromium, Electron, Envoy) ------ */

/* BoringSSL reports an error with OPENSSL_PUT_ERROR(SSL, reason), which compiles to
 * ERR_put_error(ERR_LIB_SSL = 16, 0, reason, __FILE__, __LINE__): every report in
 * ssl_lib.cc loads that file's name into the fourth argument (lea rcx, [rip + name];
 * mov ecx, name in code that is not position-independent)
 * next to the library, the reason and the line as immediates. The names of reasons
 * are BoringSSL's ABI (include/openssl/ssl.h, err.h) and the order of lines is its
 * source's, so they identify functions whatever the compiler laid out:
 *   SSL_write  the one function with ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED,
 *              SSL_R_UNINITIALIZED and SSL_R_SSL_HANDSHAKE_FAILURE reports on lines in
 *              that order (BoringSSL of 2021 to 2026);
 *   SSL_peek   the SHOULD_NOT_HAVE_BEEN_CALLED report on the line nearest before
 *              SSL_write's, which clang and gcc inline into SSL_read as well: the two
 *              functions holding it both call ssl_read_impl (with the UNINITIALIZED
 *              report), and SSL_read is the one whose calls are SSL_peek's and one
 *              more (consuming what it read).
 * A function's entry is the start of the FDE covering its report, when .eh_frame has
 * one; else (Chromium keeps no FDEs for BoringSSL) the nearest 16-byte aligned address
 * before the report that a direct call or jump in the file targets, follows padding
 * (int3, nop) or a return, and decodes instruction by instruction onto the report.
 * Every rule must hold exactly once, or nothing is identified. */

#define ECQ__BSSL_LIB_SSL 16u
#define ECQ__BSSL_NOT_CALLED 66u    /* ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED */
#define ECQ__BSSL_HS_FAILURE 215u   /* SSL_R_SSL_HANDSHAKE_FAILURE */
#define ECQ__BSSL_UNINIT 226u       /* SSL_R_UNINITIALIZED */
#define ECQ__BSSL_NAMES 4           /* copies of ssl_lib.cc's name looked at */
#define ECQ__BSSL_SITES 64          /* reports of the three kinds used (Chromium 156's
                                       ssl_lib.cc has 34 reports of every kind) */
#define ECQ__BSSL_TRIES 8           /* candidate entries decoded per report */
#define ECQ__BSSL_SPAN (1u << 20)   /* bytes between the first and last report used */
#define ECQ__BSSL_REACH 16384u      /* bytes from a function's entry to its report */
#define ECQ__BSSL_EXTENT 2048u      /* bytes of a function decoded for its calls */
#define ECQ__BSSL_CALLS 32          /* calls of one function compared */

struct ecq__bssl_site {
    uint64_t va, entry;             /* the report's lea; its function's entry, 0: none */
    uint32_t reason, line;
};

struct ecq__bssl {
    const struct ecq__elf *e;
    uint64_t name[ECQ__BSSL_NAMES], from[ECQ__BSSL_NAMES]; /* see ecq__bssl_names */
    int nnames, nsites;
    struct ecq__bssl_site site[ECQ__BSSL_SITES];
    uint64_t lo;                    /* bit i of entry: lo + 16 i is a call target */
    uint64_t left;                  /* bytes of code a pass may still look at */
    uint8_t entry[(ECQ__BSSL_SPAN + ECQ__BSSL_REACH) / 128 + 2];
};

/* the file part of segment i if it is a PT_LOAD with (exec) or without PF_X: its bytes, va, length */
static const uint8_t *ecq__elf_load(const struct ecq__elf *e, unsigned i, int exec, uint64_t *va, uint64_t *len)
{
    const uint8_t *ph = e->p + e->phoff + (uint64_t)i * 56;
    if (ecq__le(ph, 4) != 1 || !(ecq__le(ph + 4, 4) & 1) != !exec) return NULL;
    *va = ecq__le(ph + 16, 8), *len = ecq__le(ph + 32, 8);
    return ecq__elf_at(e, ecq__le(ph + 8, 8), *len);
}

/* where strings that end in "ssl/ssl_lib.cc" may start, in .rodata (or, without section
 * headers, in the read-only segments): name[i] is where that tail starts, from[i] the
 * first address after the NUL before it (at most 256 bytes before: strings and other
 * constants are mixed, so the name loaded may start anywhere from[i] .. name[i]); how many */
static int ecq__bssl_names(const struct ecq__elf *e, uint64_t *name, uint64_t *from, int max, uint64_t left)
{
    /* "ssl/ssl_lib.cc" and its NUL (OpenSSL's is ssl_lib.c), looked for in two parts:
     * whole, it would be in this file's own .rodata, and the agent would find itself */
    static const char tail[] = "/ssl_lib.cc";
    const uint8_t *sh = ecq__elf_section(e, ".rodata"), *p, *hit;
    int n = 0; /* left: bytes looked at, at most (segments may repeat one another) */
    for (unsigned i = 0; i < (sh ? 1u : e->phnum) && n < max; i++) {
        uint64_t len = 0, va = 0;
        if (sh) p = ecq__elf_at(e, ecq__le(sh + 24, 8), len = ecq__le(sh + 32, 8)), va = ecq__le(sh + 16, 8);
        else p = ecq__elf_load(e, i, 0, &va, &len);
        if (p && len > left) break;
        if (p) left -= len;
        const uint8_t *q = p;
        for (int tries = 0; q && n < max && tries < 4 * max && (hit = memmem(q, len - (uint64_t)(q - p), tail, sizeof tail));
             tries++, q = hit + sizeof tail) {
            const uint8_t *t = hit - 3, *s = t;
            if (hit - p < 3 || memcmp(t, "ssl", 3) != 0) continue;
            while (s > p && t - s < 256 && s[-1]) s--;
            from[n] = va + (uint64_t)(s - p), name[n++] = va + (uint64_t)(t - p);
        }
    }
    return n;
}

/* A report at code (the file's name loaded into rcx by an instruction of ilen bytes,
 * `before` bytes of code ahead of it): the library, reason and line set with it, after it up to the call (or the jump to
 * a call several reports share: clang) or right before it (gcc sets the line first);
 * 0, or -1 if these instructions are not one. */
static int ecq__bssl_report(const uint8_t *code, size_t ilen, size_t before, size_t avail, uint32_t *reason,
                            uint32_t *line)
{
    int lib = 0, have = 0;
    size_t i = ilen, b = 0;
    for (int k = 0; k < 4; k++) { /* mov r8d, imm32 | mov edx, imm32 | mov edi, imm32 | xor esi, esi */
        if (before - b >= 6 && code[-(long)b - 6] == 0x41 && code[-(long)b - 5] == 0xB8)
            *line = (uint32_t)ecq__le(code - b - 4, 4), have |= 2, b += 6;
        else if (before - b >= 5 && code[-(long)b - 5] == 0xBA) *reason = (uint32_t)ecq__le(code - b - 4, 4), have |= 1, b += 5;
        else if (before - b >= 5 && code[-(long)b - 5] == 0xBF) lib = ecq__le(code - b - 4, 4) == ECQ__BSSL_LIB_SSL, b += 5;
        else if (before - b >= 2 && code[-(long)b - 2] == 0x31 && code[-(long)b - 1] == 0xF6) b += 2;
        else break;
    }
    for (int k = 0; k < 8 && i < avail; k++) {
        int n = ecq_x86_insn_len(code + i, avail - i);
        if (n <= 0) return -1;
        const uint8_t *c = code + i;
        if (c[0] == 0xE8 || c[0] == 0xE9 || c[0] == 0xEB) break;
        if (n == 5 && c[0] == 0xBF) lib = (uint32_t)ecq__le(c + 1, 4) == ECQ__BSSL_LIB_SSL;
        if (n == 5 && c[0] == 0xBA) *reason = (uint32_t)ecq__le(c + 1, 4), have |= 1;
        if (n == 6 && c[0] == 0x41 && c[1] == 0xB8) *line = (uint32_t)ecq__le(c + 2, 4), have |= 2;
        i += (size_t)n;
    }
    return lib && have == 3 ? 0 : -1;
}

/* the reasons the rules use */
static int ecq__bssl_used(uint32_t r)
{
    return r == ECQ__BSSL_NOT_CALLED || r == ECQ__BSSL_HS_FAILURE || r == ECQ__BSSL_UNINIT;
}

/* every report in ssl_lib.cc of the kinds used: the executable segments searched for
 * the loads of its name */
static void ecq__bssl_sites(struct ecq__bssl *b)
{
    b->left = ECQ_ELF_MAX_CODE_SCAN; /* segments may repeat one another */
    for (unsigned i = 0; i < b->e->phnum; i++) {
        uint64_t va, len;
        const uint8_t *p = ecq__elf_load(b->e, i, 1, &va, &len);
        if (p && len > b->left) return;
        if (p) b->left -= len;
        for (uint64_t at = 0; p && len >= 7 && at <= len - 7; at++) {
            uint64_t to;
            size_t ilen;
            if (p[at] == 0x48 && p[at + 1] == 0x8D && p[at + 2] == 0x0D) /* lea rcx, [rip + disp32] */
                to = va + at + 7 + (uint64_t)(int64_t)(int32_t)ecq__le(p + at + 3, 4), ilen = 7;
            else if (p[at] == 0xB9) /* mov ecx, imm32: code that is not position-independent */
                to = ecq__le(p + at + 1, 4), ilen = 5;
            else
                continue;
            int named = 0;
            for (int k = 0; k < b->nnames; k++) named |= to >= b->from[k] && to <= b->name[k];
            struct ecq__bssl_site s = {va + at, 0, 0, 0};
            if (!named || ecq__bssl_report(p + at, ilen, at, len - at, &s.reason, &s.line) < 0 ||
                !ecq__bssl_used(s.reason))
                continue;
            if (b->nsites == ECQ__BSSL_SITES) return (void)(b->nsites = -1); /* more than BoringSSL has */
            b->site[b->nsites++] = s;
        }
    }
}

/* the 16-byte aligned targets of direct calls and jumps (E8, E9 rel32) in [lo, lo + span):
 * every byte of code that could start one is looked at (a stray byte pair at worst adds
 * a target the other rules must still accept) */
static void ecq__bssl_targets(struct ecq__bssl *b, uint64_t span)
{
    b->left = ECQ_ELF_MAX_CODE_SCAN; /* segments may repeat one another */
    for (unsigned i = 0; i < b->e->phnum; i++) {
        uint64_t va, len;
        const uint8_t *p = ecq__elf_load(b->e, i, 1, &va, &len);
        if (p && len > b->left) return;
        if (p) b->left -= len;
        for (uint64_t at = 0; p && len >= 5 && at <= len - 5; at++) {
            if ((p[at] & 0xFE) != 0xE8) continue;
            uint64_t to = va + at + 5 + (uint64_t)(int64_t)(int32_t)ecq__le(p + at + 1, 4) - b->lo;
            if (to < span && to % 16 == 0) b->entry[to / 128] |= (uint8_t)(1u << (to / 16 % 8));
        }
    }
}

/* the code at va in an executable segment's file part, with *avail bytes to its end */
static const uint8_t *ecq__elf_code(const struct ecq__elf *e, uint64_t va, uint64_t *avail)
{
    for (unsigned i = 0; i < e->phnum; i++) {
        uint64_t sva, len;
        const uint8_t *p = ecq__elf_load(e, i, 1, &sva, &len);
        if (p && va >= sva && va - sva < len) return *avail = len - (va - sva), p + (va - sva);
    }
    return NULL;
}

/* whether the instructions decoded from va reach to exactly (ECQ__BSSL_REACH bytes on at most) */
static int ecq__bssl_reaches(const struct ecq__elf *e, uint64_t va, uint64_t to)
{
    uint64_t avail, i = 0;
    const uint8_t *c = ecq__elf_code(e, va, &avail);
    if (!c || to < va || to - va > ECQ__BSSL_REACH || to - va >= avail) return 0;
    while (i < to - va) {
        int n = ecq_x86_insn_len(c + i, avail - i);
        if (n <= 0) return 0;
        i += (uint64_t)n;
    }
    return i == to - va;
}

/* The entry of the function holding va by its FDE, found through .eh_frame_hdr's
 * sorted table (binary search: log2 of its entries steps), or 0 if no FDE covers va or
 * the tables are not in the encodings every linker writes (table: datarel sdata4; the
 * FDE's pc_begin: pcrel sdata4, checked against the table's). Chromium keeps FDEs for a
 * few thousand functions only, none of BoringSSL's; a build with unwind tables has one
 * for every function. */
static uint64_t ecq__elf_fde_entry(const struct ecq__elf *e, uint64_t va)
{
    const uint8_t *sh = ecq__elf_section(e, ".eh_frame_hdr"), *h, *f;
    uint64_t hva, hlen;
    if (!sh || !(h = ecq__elf_at(e, ecq__le(sh + 24, 8), hlen = ecq__le(sh + 32, 8))) || hlen < 12) return 0;
    hva = ecq__le(sh + 16, 8);
    if (h[0] != 1 || h[2] != 0x03 || h[3] != 0x3b) return 0;
    uint64_t n = ecq__le(h + 8, 4), lo = 0, hi;
    if (n > (hlen - 12) / 8) n = (hlen - 12) / 8;
    hi = n;
    while (lo < hi) { /* the first entry past va */
        uint64_t mid = lo + (hi - lo) / 2;
        if (hva + (uint64_t)(int64_t)(int32_t)ecq__le(h + 12 + mid * 8, 4) <= va) lo = mid + 1;
        else hi = mid;
    }
    if (!lo) return 0;
    uint64_t start = hva + (uint64_t)(int64_t)(int32_t)ecq__le(h + 12 + (lo - 1) * 8, 4);
    uint64_t fva = hva + (uint64_t)(int64_t)(int32_t)ecq__le(h + 12 + (lo - 1) * 8 + 4, 4);
    int64_t off = ecq__elf_offset(e, fva, 16, 0);
    if (off < 0 || !(f = e->p + off) || ecq__le(f, 4) == 0xffffffffu || !ecq__le(f + 4, 4)) return 0;
    if (fva + 8 + (uint64_t)(int64_t)(int32_t)ecq__le(f + 8, 4) != start) return 0; /* not pcrel sdata4 */
    return va - start < ecq__le(f + 12, 4) ? start : 0;
}

/* the entry of the function holding the report at va (see above), or 0 */
static uint64_t ecq__bssl_entry(const struct ecq__bssl *b, uint64_t va)
{
    uint64_t avail, fde = ecq__elf_fde_entry(b->e, va);
    int tries = 0;
    if (fde) return ecq__bssl_reaches(b->e, fde, va) ? fde : 0;
    uint64_t top = va & ~(uint64_t)15;
    if (top < b->lo) return 0;
    for (uint64_t back = 0; back <= ECQ__BSSL_REACH && back <= top - b->lo && tries < ECQ__BSSL_TRIES; back += 16) {
        uint64_t t = top - back, k = (t - b->lo) / 16;
        if (!t || !(b->entry[k / 8] & (1u << (k % 8)))) continue;
        const uint8_t *c = ecq__elf_code(b->e, t - 1, &avail);
        if (!c || (c[0] != 0xCC && c[0] != 0x90 && c[0] != 0x00 && c[0] != 0xC3)) continue; /* padding, a return */
        if (tries++, ecq__bssl_reaches(b->e, t, va)) return t;
    }
    return 0;
}

/* the distinct targets of the direct calls in [va, end) (ECQ__BSSL_EXTENT bytes at most),
 * sorted; how many, or -1 if more than max or the code does not decode */
static int ecq__bssl_calls(const struct ecq__elf *e, uint64_t va, uint64_t end, uint64_t *out, int max)
{
    uint64_t avail, i = 0;
    const uint8_t *c = ecq__elf_code(e, va, &avail);
    int n = 0;
    if (!c) return -1;
    if (end - va > ECQ__BSSL_EXTENT || end < va) end = va + ECQ__BSSL_EXTENT;
    while (i < end - va && i < avail) {
        int l = ecq_x86_insn_len(c + i, avail - i), k;
        if (l <= 0) return -1;
        if (l == 5 && c[i] == 0xE8) {
            uint64_t to = va + i + 5 + (uint64_t)(int64_t)(int32_t)ecq__le(c + i + 1, 4);
            for (k = n; k > 0 && out[k - 1] > to; k--) {}
            if (!(k > 0 && out[k - 1] == to)) {
                if (n == max) return -1;
                memmove(out + k + 1, out + k, (size_t)(n - k) * sizeof *out);
                out[k] = to, n++;
            }
        }
        i += (uint64_t)l;
    }
    return n;
}

/* whether the sorted set a (na) holds every member of the sorted set b (nb) */
static int ecq__bssl_holds(const uint64_t *a, int na, const uint64_t *b, int nb)
{
    int i = 0;
    for (int j = 0; j < nb; j++) {
        while (i < na && a[i] < b[j]) i++;
        if (i == na || a[i] != b[j]) return 0;
    }
    return 1;
}

/* the nearest entry of a function with a report after va (where va's function ends at the latest) */
static uint64_t ecq__bssl_next(const struct ecq__bssl *b, uint64_t va)
{
    uint64_t next = va + ECQ__BSSL_EXTENT;
    for (int i = 0; i < b->nsites; i++)
        if (b->site[i].entry > va && b->site[i].entry < next) next = b->site[i].entry;
    return next;
}

/* SSL_write: the one function whose reports include ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED,
 * SSL_R_UNINITIALIZED and SSL_R_SSL_HANDSHAKE_FAILURE on lines in that order (its QUIC
 * check, its handshake check, the implicit handshake; ssl_read_impl inlined somewhere
 * has the last two before the first); its first report in *w66. NULL, or why not. */
static const char *ecq__bssl_write(struct ecq__bssl *b, const struct ecq__bssl_site **w66)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    int found = 0;
    for (int i = 0; i < b->nsites; i++) {
        const struct ecq__bssl_site *s = &b->site[i];
        if (ecq__bssl_used(s->reason)) lo = s->va < lo ? s->va : lo, hi = s->va > hi ? s->va : hi;
    }
    if (b->nsites < 0) return "more error reports than BoringSSL's ssl_lib.cc has";
    if (!hi) return "no reports of SSL_write's kinds";
    if (hi - lo > ECQ__BSSL_SPAN) return "its reports spread over more than 1 MiB of code";
    b->lo = (lo > ECQ__BSSL_REACH ? lo - ECQ__BSSL_REACH : 0) & ~(uint64_t)15;
    ecq__bssl_targets(b, hi + 1 - b->lo);
    for (int i = 0; i < b->nsites; i++)
        if (ecq__bssl_used(b->site[i].reason)) b->site[i].entry = ecq__bssl_entry(b, b->site[i].va);
    *w66 = NULL;
    for (int i = 0; i < b->nsites; i++) {
        const struct ecq__bssl_site *a = &b->site[i];
        int order = 0;
        if (a->reason != ECQ__BSSL_NOT_CALLED || !a->entry || (*w66 && (*w66)->entry == a->entry)) continue;
        for (int j = 0; j < b->nsites; j++) {
            const struct ecq__bssl_site *u = &b->site[j];
            if (u->entry != a->entry || u->reason != ECQ__BSSL_UNINIT || u->line <= a->line) continue;
            for (int k = 0; k < b->nsites; k++)
                order |= b->site[k].entry == a->entry && b->site[k].reason == ECQ__BSSL_HS_FAILURE && b->site[k].line > u->line;
        }
        if (order) *w66 = a, found++;
    }
    return found == 1 ? NULL : found ? "several functions shaped like SSL_write" : "no function shaped like SSL_write";
}

/* SSL_read's entry, from SSL_write's first report w66: NULL, or why not */
static const char *ecq__bssl_read(const struct ecq__bssl *b, const struct ecq__bssl_site *w66, uint64_t *read)
{
    uint64_t p[2], calls[2][ECQ__BSSL_CALLS];
    uint32_t lp = 0;
    int np = 0, nc[2];
    for (int i = 0; i < b->nsites; i++) { /* SSL_peek's check: the nearest one before SSL_write's */
        const struct ecq__bssl_site *s = &b->site[i];
        if (s->reason == ECQ__BSSL_NOT_CALLED && s->entry != w66->entry && s->line < w66->line && s->line > lp)
            lp = s->line;
    }
    for (int i = 0; i < b->nsites; i++) {
        const struct ecq__bssl_site *s = &b->site[i];
        if (s->reason != ECQ__BSSL_NOT_CALLED || s->line != lp || s->entry == w66->entry) continue;
        if (!s->entry) return "no entry of SSL_peek found";
        if (np && p[0] == s->entry) continue;
        if (np == 2) return "SSL_peek's check in more than two functions";
        p[np++] = s->entry;
    }
    if (np != 2) return "SSL_peek not inlined into SSL_read";
    for (int k = 0; k < 2; k++)
        if ((nc[k] = ecq__bssl_calls(b->e, p[k], ecq__bssl_next(b, p[k]), calls[k], ECQ__BSSL_CALLS)) < 0)
            return "SSL_peek does not decode";
    int impl = 0; /* ssl_read_impl: both call it, its UNINITIALIZED report comes before SSL_peek's */
    for (int i = 0; i < b->nsites; i++) {
        const struct ecq__bssl_site *s = &b->site[i];
        if (s->reason == ECQ__BSSL_UNINIT && s->line < lp && s->entry && ecq__bssl_holds(calls[0], nc[0], &s->entry, 1) &&
            ecq__bssl_holds(calls[1], nc[1], &s->entry, 1))
            impl = 1;
    }
    if (!impl) return "no ssl_read_impl called by SSL_read and SSL_peek";
    int r = nc[0] > nc[1] && ecq__bssl_holds(calls[0], nc[0], calls[1], nc[1])   ? 0
            : nc[1] > nc[0] && ecq__bssl_holds(calls[1], nc[1], calls[0], nc[0]) ? 1
                                                                               : -1;
    if (r < 0) return "SSL_read and SSL_peek not told apart";
    *read = p[r];
    return NULL;
}

/* a function identified at va into f; 0, or -1 if it is not at code */
static int ecq__bssl_func(const struct ecq__elf *e, uint64_t va, struct ecq_elf_func *f)
{
    int64_t off = ecq__elf_offset(e, va, 1, 1);
    if (off < 0) return -1;
    f->addr = va, f->size = 0, f->offset = (uint64_t)off, f->source = "BoringSSL's code";
    return 0;
}

int ecq_boringssl_find(const uint8_t *elf, size_t len, struct ecq_boringssl *out)
{
    struct ecq__elf e;
    struct ecq__bssl *b;
    const struct ecq__bssl_site *w66 = NULL;
    uint64_t read = 0;
    memset(out, 0, sizeof *out);
    if (ecq__elf_open(&e, elf, len) < 0) return out->why = "not an x86-64 or arm64 ELF64 file", ECQ_ELF_NOT_FOUND;
    if (!(b = calloc(1, sizeof *b))) return out->why = "out of memory", ECQ_ELF_NOT_FOUND;
    b->e = &e;
    b->nnames = ecq__bssl_names(&e, b->name, b->from, ECQ__BSSL_NAMES, ECQ_ELF_MAX_CODE_SCAN);
    out->present = b->nnames > 0;
    if (!out->present) out->why = "no BoringSSL (no ssl/ssl_lib.cc)";
    else if (e.machine != ECQ_EM_X86_64) out->why = "identified in x86-64 code only";
    else if (ecq__bssl_sites(b), !(out->why = ecq__bssl_write(b, &w66)) &&
             !(out->why = ecq__bssl_read(b, w66, &read)) &&
             (ecq__bssl_func(&e, w66->entry, &out->write) < 0 || ecq__bssl_func(&e, read, &out->read) < 0))
        out->why = "not in the file part of an executable segment";
    free(b);
    return out->why ? ECQ_ELF_NOT_FOUND : 0;
}


/* =========================================================================
 * The kernel capture needs: its BPF features, oldest first
 * ========================================================================= */

/* Every helper is probed in the program type that calls it (uprobes are kprobe-type
 * programs). Versions: the kernel's own history (iovisor/bcc docs/kernel-versions.md
 * lists each helper's commit); task storage reached tracing programs in 5.13
 * (a10787e6d58c, "bpf: Enable task local storage for tracing programs"; before, BPF
 * LSM only). Not listed, because an older kernel's answer is a fallback, not a failure:
 * uprobe_multi links (6.6; else one perf-event uprobe per probe), the
 * sock_send_length/sock_recv_length tracepoints (6.3; else kprobes on tcp_sendmsg and
 * tcp_recvmsg). Kernel BTF (5.4, /sys/kernel/btf/vmlinux) is checked before these. */
static const struct ecq_kernel_feature ecq__kernel_features[] = {
    {"the BPF ring buffer", 5, 8, "carries events to the agent", BPF_MAP_TYPE_RINGBUF, 0, 0},
    {"bpf_get_current_task_btf", 5, 11, "reads the calling thread", 0, BPF_PROG_TYPE_KPROBE,
     BPF_FUNC_get_current_task_btf},
    {"task storage in tracing programs", 5, 13, "remembers each thread's last socket", 0, BPF_PROG_TYPE_KPROBE,
     BPF_FUNC_task_storage_get},
    {"bpf_for_each_map_elem", 5, 13, "forgets an exited Go program's calls", 0, BPF_PROG_TYPE_RAW_TRACEPOINT,
     BPF_FUNC_for_each_map_elem},
    {"bpf_get_attach_cookie", 5, 15, "tells each probe's function apart", 0, BPF_PROG_TYPE_KPROBE,
     BPF_FUNC_get_attach_cookie},
    {"bpf_task_pt_regs", 5, 15, "reads a socket call's descriptor", 0, BPF_PROG_TYPE_KPROBE, BPF_FUNC_task_pt_regs},
    {"bpf_loop", 5, 17, "copies each payload in chunks", 0, BPF_PROG_TYPE_KPROBE, BPF_FUNC_loop},
};

const struct ecq_kernel_feature *ecq_kernel_feature(int i)
{
    return i >= 0 && (size_t)i < ECQ__ARRAY_LEN(ecq__kernel_features) ? &ecq__kernel_features[i] : NULL;
}

/* the feature that sets the minimum kernel */
static const struct ecq_kernel_feature *ecq__kernel_newest(void)
{
    const struct ecq_kernel_feature *m = ecq__kernel_features;
    for (size_t i = 1; i < ECQ__ARRAY_LEN(ecq__kernel_features); i++)
        if (ecq__kernel_features[i].major * 1000 + ecq__kernel_features[i].minor > m->major * 1000 + m->minor)
            m = &ecq__kernel_features[i];
    return m;
}

size_t ecq_kernel_lacks(char *out, size_t cap, const struct ecq_kernel_feature *f, const char *release)
{
    const struct ecq_kernel_feature *m = ecq__kernel_newest();
    int major = 0, minor = 0, n;
    int known = release && sscanf(release, "%d.%d", &major, &minor) == 2;
    int newer = known && major * 1000 + minor >= f->major * 1000 + f->minor;
    n = snprintf(out, cap, "%s%s lacks %s (Linux %d.%d+; %s): ", known ? "kernel " : "this kernel",
                 known ? release : "", f->name, f->major, f->minor, f->use);
    if (n < 0 || (size_t)n >= cap) return cap ? strlen(out) : 0;
    if (newer) n += snprintf(out + n, cap - (size_t)n, "its build leaves it out, and capture needs it");
    else n += snprintf(out + n, cap - (size_t)n, "capture needs Linux %d.%d or later", m->major, m->minor);
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

#ifndef ECAPTUREQ_NO_BPF
/* =========================================================================
 * TLS capture with libbpf: probes on TLS libraries and Go, records into a server
 * ========================================================================= */

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <pthread.h>
#include <dirent.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <grp.h>
#include "bpf/ecaptureq.bpf.h"

#ifndef ECQ_BPF_OBJ
#error "build with -DECQ_BPF_OBJ='\"bpf/ecaptureq.bpf.o\"' (see Makefile) or -DECAPTUREQ_NO_BPF"
#endif
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* the compiled BPF object, embedded at build time */
__asm__(".section .rodata\n"
        ".balign 8\n"
        "ecq__bpf_obj:\n"
        ".incbin \"" ECQ_BPF_OBJ "\"\n"
        "ecq__bpf_obj_end:\n"
        ".previous\n");
extern const char ecq__bpf_obj[], ecq__bpf_obj_end[];

/* Files are parsed through a mapping, which reads only the pages a parse touches (an
 * executable of hundreds of megabytes costs what its symbol tables cost). A mapping
 * has one hazard: the file's owner can truncate it while it is parsed, and touching a
 * page past the new end raises SIGBUS. For the length of each parse a SIGBUS handler
 * is armed that, for a fault inside that mapping on this thread, jumps out of the
 * parse (which then fails with -EFAULT); any other SIGBUS goes to the handler the
 * host had, which is put back when the parse ends. This, and libbpf's message hook,
 * are the process-wide state capture touches (ecaptureq.h says so). */
static __thread sigjmp_buf *ecq__bus_jmp;
static __thread const uint8_t *ecq__bus_lo;
static __thread size_t ecq__bus_len;
static __thread struct sigaction ecq__bus_host;

static void ecq__on_sigbus(int sig, siginfo_t *si, void *uc)
{
    if (ecq__bus_jmp && (uintptr_t)si->si_addr - (uintptr_t)ecq__bus_lo < ecq__bus_len) siglongjmp(*ecq__bus_jmp, 1);
    if (ecq__bus_host.sa_flags & SA_SIGINFO) {
        ecq__bus_host.sa_sigaction(sig, si, uc);
    } else if (ecq__bus_host.sa_handler != SIG_DFL && ecq__bus_host.sa_handler != SIG_IGN) {
        ecq__bus_host.sa_handler(sig);
    } else { /* the default action: the faulting instruction runs again and gets it */
        signal(SIGBUS, SIG_DFL);
    }
}

/* fn on the mapping m, its faults turned into -EFAULT (with the handler armed) */
static int ecq__guarded(int (*fn)(void *ctx, const uint8_t *f, size_t n), void *ctx, const uint8_t *m, size_t n)
{
    sigjmp_buf jb;
    int rc = -EFAULT; /* the file shrank under the parse */
    if (sigsetjmp(jb, 1) == 0) {
        ecq__bus_lo = m, ecq__bus_len = n, ecq__bus_jmp = &jb;
        rc = fn(ctx, m, n);
    }
    ecq__bus_jmp = NULL;
    return rc;
}

/* Maps the file open on fd (or path, when fd < 0) read-only and runs fn on its bytes.
 * Returns fn's result; -EFAULT if the file shrank under the parse; -EINVAL for an empty
 * or irregular file; or the errno of opening or mapping it.
 * MAP_SHARED on purpose: the kernel writes the breakpoints of uprobes (ours, another
 * agent's, a debugger's) into every private mapping of a probed file that could
 * execute, so a private mapping can show 0xCC where the file has an instruction, and
 * decoding it would put probes in the middle of instructions. A shared mapping shows
 * the file itself. */
static int ecq__with_file(int fd, const char *path, int (*fn)(void *ctx, const uint8_t *f, size_t n), void *ctx)
{
    struct stat st;
    struct sigaction bus = {.sa_sigaction = ecq__on_sigbus, .sa_flags = SA_SIGINFO};
    void *m = MAP_FAILED;
    int own = fd < 0, rc;
    if (own && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) return -errno;
    if (fstat(fd, &st) < 0) rc = -errno;
    else if (st.st_size <= 0 || !S_ISREG(st.st_mode)) rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    else rc = (m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED ? -errno : 0;
    if (own) close(fd);
    if (rc < 0) return rc;
    sigemptyset(&bus.sa_mask);
    if (sigaction(SIGBUS, &bus, &ecq__bus_host) < 0) {
        munmap(m, (size_t)st.st_size);
        return -errno;
    }
    rc = ecq__guarded(fn, ctx, m, (size_t)st.st_size);
    (void)sigaction(SIGBUS, &ecq__bus_host, NULL);
    munmap(m, (size_t)st.st_size);
    return rc;
}

/* a plan of one file, as an ecq__with_file callback */
struct ecq__plan_job {
    const char *lib;
    struct ecq_plan *plan;
    const struct ecq__bssl_known *known; /* see ecq__plan_boringssl */
};

struct ecq__bssl_known;
static int ecq__plan_file(const uint8_t *elf, size_t len, const char *lib, const struct ecq__bssl_known *known,
                          struct ecq_plan *out);

static int ecq__plan_fn(void *ctx, const uint8_t *f, size_t n)
{
    struct ecq__plan_job *j = ctx;
    return ecq__plan_file(f, n, j->lib, j->known, j->plan);
}

#define ECQ__FILE_PROBES 512        /* probes per file and link kind, at most (Go: 5 x 65) */
#define ECQ__CHECK_MS 1000          /* loss counters and clock offset are refreshed this often */
#define ECQ__BUSY_US 500            /* the drain interval while records flow: each wakeup
                                       costs the agent 13-20 us on the project's VM (a bare
                                       sleeper's own cost there, make bench section 3), so
                                       250 us spent 4k of them a second; 500 us keeps the
                                       reader's p99 under 1 ms with the slack below gone */
#define ECQ__RATE_WINDOW_NS 10000000 /* the record rate is judged over 10 ms */
#define ECQ__WAKE_MAX 40            /* records per window over which a wakeup per record
                                       costs more than the timer: drain on the timer */
#define ECQ__WAKE_MIN 25            /* under which the timer costs more: go idle, woken
                                       per record (on the project's VM a wakeup costs the
                                       agent 20-30 us: the timer's 3-4k a second cost
                                       more than a record's own up to 2.5k a second) */
#define ECQ__STEP_BYTES (2u << 20)  /* records handed to the sinks per step, at most */

/* This build's machine: the probes it attaches run its code, and a file of the other
 * machine is never probed. */
#if defined(__x86_64__)
#define ECQ__EM_NATIVE ECQ_EM_X86_64
#define ECQ__FOREIGN "an arm64 file: this ecaptureq is built for x86-64 (its arm64 build probes it as planned)"
#define ECQ__MULTIARCH "x86_64-linux-gnu"   /* Debian's library directories */
#define ECQ__CACHE_ARCH 0x0300              /* ld.so.cache: FLAG_X8664_LIB64 */
#elif defined(__aarch64__)
#define ECQ__EM_NATIVE ECQ_EM_AARCH64
#define ECQ__FOREIGN "an x86-64 file: this ecaptureq is built for arm64 (its x86-64 build probes it as planned)"
#define ECQ__MULTIARCH "aarch64-linux-gnu"
#define ECQ__CACHE_ARCH 0x0a00              /* ld.so.cache: FLAG_AARCH64_LIB64 */
#else
#error "ecaptureq's capture runs on x86-64 and arm64 (build the server part alone with -DECAPTUREQ_NO_BPF)"
#endif

/* ---- the library table: everything capture knows about a TLS implementation ---- */

/* The handler numbers are the BPF programs' contract (the probes' cookies): they are
 * appended to, never renumbered, and both sides see the same header. */
_Static_assert(ECQ_H_WRITE_ENTER == 1 && ECQ_H_GO_RET == 11 && ECQ_H_RET_EX == 15 && ECQ_H_WRITE_EX2_ENTER == 16 &&
                   ECQ_H_RET_RUST == 19 && ECQ_H_MAX == 20,
               "enum ecq_handler is append-only: bpf/ecaptureq.bpf.h and this file disagree");
_Static_assert(ECQ_ANY_UID == ECQ_BPF_ANY_UID, "ecaptureq.h and bpf/ecaptureq.bpf.h name 'every user' alike");

/* One function to probe: the handler of the probe at its entry and of the one at its
 * return (0: entry only). A function only newer versions have is optional: a file
 * without it is planned without it (not counted, not "not probed"). */
struct ecq__probe {
    const char *func;
    enum ecq_handler enter, ret;
    int optional;
};

/* how a function's return is probed */
enum ecq__returns {
    ECQ__RET_URETPROBE,             /* C calling convention: a uretprobe at the entry */
    ECQ__RET_SITES,                 /* Go: a uprobe on every RET instruction (a uretprobe
                                       rewrites the return address on a goroutine stack the
                                       runtime may move, and crashes it) */
};

/* how a library's file is found (bits of ecq__lib.find) */
#define ECQ__FIND_SONAME 1u         /* by name: the loader cache, library directories, maps */
#define ECQ__FIND_EXE 2u            /* a process's executable (/proc/PID/exe), which the
                                       row's check recognises; no host-wide search */
#define ECQ__FIND_SYMBOLS 4u        /* any ELF that defines its first two functions itself
                                       (static builds, BoringSSL inside an executable) */
#define ECQ__FIND_BORINGSSL 8u      /* any x86-64 ELF holding BoringSSL's ssl_lib.cc, its
                                       symbols gone (Chromium): SSL_write and SSL_read
                                       identified from its code (ecq_boringssl_find) */

/* One TLS implementation, the whole of it. Adding one with a C calling shape is one
 * row (and, for a new calling shape, handlers appended in bpf/ecaptureq.bpf.h). */
struct ecq__lib {
    const char *name;               /* what ecq_capture_attach takes */
    const char *what;               /* how people call it, in messages */
    const char *command, *command_alias; /* subcommand capturing it alone; NULL: tls only */
    const char *option, *option_alias;   /* --OPTION PATH forces its file */
    const char *sonames[4];         /* ECQ__FIND_SONAME: any version of these */
    unsigned find;                  /* ECQ__FIND_* */
    enum ecq__returns returns;
    /* optional: 0 if the file is one this row can probe (version into out), else a
     * negative errno and *why (a static string) */
    int (*check)(const uint8_t *f, size_t n, char *out, size_t cap, const char **why);
    const struct ecq__probe *funcs; /* ends with a NULL func */
    /* ECQ__FIND_EXE: the one line for a file the check accepts where none of funcs is
     * found (a stripped build); NULL: such a file is skipped without a line */
    const char *unidentified;
};

static const struct ecq__probe ecq__openssl_funcs[] = {
    {"SSL_write", ECQ_H_WRITE_ENTER, ECQ_H_RET_INT, 0},
    {"SSL_read", ECQ_H_READ_ENTER, ECQ_H_RET_INT, 0},
    {"SSL_write_ex", ECQ_H_WRITE_EX_ENTER, ECQ_H_RET_EX, 0},
    {"SSL_read_ex", ECQ_H_READ_EX_ENTER, ECQ_H_RET_EX, 0},
    {"SSL_free", ECQ_H_CONN_FREE, 0, 0},
    {"SSL_write_ex2", ECQ_H_WRITE_EX2_ENTER, ECQ_H_RET_EX, 1}, /* OpenSSL 3.3+ */
    {NULL, 0, 0, 0},
};
static const struct ecq__probe ecq__gnutls_funcs[] = {
    {"gnutls_record_send", ECQ_H_WRITE_ENTER, ECQ_H_RET_LONG, 0},
    {"gnutls_record_recv", ECQ_H_READ_ENTER, ECQ_H_RET_LONG, 0},
    {"gnutls_deinit", ECQ_H_CONN_FREE, 0, 0},
    {NULL, 0, 0, 0},
};
static const struct ecq__probe ecq__nss_funcs[] = {
    {"PR_Write", ECQ_H_NSS_WRITE_ENTER, ECQ_H_RET_INT, 0},
    {"PR_Send", ECQ_H_NSS_WRITE_ENTER, ECQ_H_RET_INT, 0},
    {"PR_Read", ECQ_H_NSS_READ_ENTER, ECQ_H_RET_INT, 0},
    {"PR_Recv", ECQ_H_NSS_READ_ENTER, ECQ_H_RET_INT, 0},
    {"PR_Close", ECQ_H_CONN_FREE, 0, 0},
    {NULL, 0, 0, 0},
};
/* mbedTLS and wolfSSL have OpenSSL's shape: (context, buffer, length) in, the bytes
 * moved or a negative error (wolfSSL: <= 0) out as an int, and the context freed once */
static const struct ecq__probe ecq__mbedtls_funcs[] = {
    {"mbedtls_ssl_write", ECQ_H_WRITE_ENTER, ECQ_H_RET_INT, 0},
    {"mbedtls_ssl_read", ECQ_H_READ_ENTER, ECQ_H_RET_INT, 0},
    {"mbedtls_ssl_free", ECQ_H_CONN_FREE, 0, 0},
    {NULL, 0, 0, 0},
};
static const struct ecq__probe ecq__wolfssl_funcs[] = {
    {"wolfSSL_write", ECQ_H_WRITE_ENTER, ECQ_H_RET_INT, 0},
    {"wolfSSL_read", ECQ_H_READ_ENTER, ECQ_H_RET_INT, 0},
    {"wolfSSL_free", ECQ_H_CONN_FREE, 0, 0},
    {NULL, 0, 0, 0},
};
static const struct ecq__probe ecq__go_funcs[] = {
    {"crypto/tls.(*Conn).Read", ECQ_H_GO_READ_ENTER, ECQ_H_GO_RET, 0},
    {"crypto/tls.(*Conn).writeRecordLocked", ECQ_H_GO_WRITE_ENTER, ECQ_H_GO_RET, 0},
    {"crypto/tls.(*Conn).serverHandshake", ECQ_H_GO_HANDSHAKE_ENTER, ECQ_H_GO_RET, 0},
    {"crypto/tls.(*Conn).clientHandshake", ECQ_H_GO_HANDSHAKE_ENTER, ECQ_H_GO_RET, 0},
    {"crypto/tls.(*Conn).Close", ECQ_H_GO_CONN_FREE, 0, 0},
    {NULL, 0, 0, 0},
};

/* rustls (0.20, 0.21): the plaintext a program hands to the connection and takes from
 * it. Neither is generic: each is compiled once, in the rustls crate, whatever the
 * program, and called (not inlined) from the program's own code. */
static const struct ecq__probe ecq__rustls_funcs[] = {
    {"<rustls::conn::Writer as std::io::Write>::write", ECQ_H_RUST_WRITE_ENTER, ECQ_H_RET_RUST, 0},
    {"<rustls::conn::Reader as std::io::Read>::read", ECQ_H_RUST_READ_ENTER, ECQ_H_RET_RUST, 0},
    {NULL, 0, 0, 0},
};

/* An executable with rustls linked in: its read-only data holds the path of rustls's
 * sources, kept for panic messages whether or not the file is stripped
 * (".../registry/rustls-0.20.8/src/conn.rs"), which gives the version. Only x86-64:
 * the return of an io::Result is read as shown on x86-64 (bpf/ecaptureq.bpf.c) and
 * not verified on arm64. Discovery runs this on every file in its loop: a .rodata over
 * ECQ_ELF_MAX_DATA_SCAN is not searched (why is then ecq__rustls_over). */
static const char ecq__rustls_over[] =
    "read-only data of over " ECQ__STR(ECQ_ELF_MAX_DATA_SCAN) " bytes, not searched for rustls";

static int ecq__rustls_check(const uint8_t *f, size_t n, char *out, size_t cap, const char **why)
{
    static const char mark[] = "/rustls-";
    struct ecq__elf e;
    const uint8_t *sh, *d, *p;
    if (ecq__elf_open(&e, f, n) < 0 || !(sh = ecq__elf_section(&e, ".rodata")))
        return *why = "not an ELF file with read-only data", -ENOEXEC;
    uint64_t size = ecq__le(sh + 32, 8);
    if (!(d = ecq__elf_at(&e, ecq__le(sh + 24, 8), size))) return *why = "its .rodata is out of the file", -ENOEXEC;
    if (size > ECQ_ELF_MAX_DATA_SCAN) return *why = ecq__rustls_over, -ENOEXEC;
    for (p = d; (p = memmem(p, size - (size_t)(p - d), mark, sizeof mark - 1)) != NULL; p++) {
        size_t i = sizeof mark - 1, left = size - (size_t)(p - d), v;
        for (v = i; v < left && v - i < 24 && (isdigit(p[v]) || p[v] == '.'); v++) {}
        if (v == i || !isdigit(p[i]) || left - v < 5 || memcmp(p + v, "/src/", 5) != 0) continue;
        const char *arch;
        if (ecq_elf_machine(f, n, &arch) != ECQ_EM_X86_64)
            return *why = "rustls on arm64: the return of its calls is not verified there", -ENOEXEC;
        if (cap) snprintf(out, cap, "%.*s", (int)(v - i), (const char *)p + i);
        return 0;
    }
    return *why = "no rustls in it", -ENOEXEC;
}

/* The refusal of a file that is not a Go executable capture supports, in one place. */
static const char *ecq__go_refusal(int regabi, int machine)
{
    return regabi < 0                  ? "not a Go executable (no Go build information)"
           : machine == ECQ_EM_AARCH64 ? "built by a Go before 1.18 (stack ABI on arm64), which is not supported"
                                       : "built by a Go before 1.17 (stack ABI), which is not supported";
}

static int ecq__go_check(const uint8_t *f, size_t n, char *out, size_t cap, const char **why)
{
    const char *arch;
    int regabi = ecq_go_version(f, n, out, cap);
    if (regabi == 1) return 0;
    *why = ecq__go_refusal(regabi, ecq_elf_machine(f, n, &arch));
    return -ENOEXEC;
}

static const struct ecq__lib ecq__libs[] = {
    {"openssl", "OpenSSL", NULL, NULL, "libssl", NULL, {"libssl.so.3", "libssl.so.1.1", "libssl.so"},
     ECQ__FIND_SONAME | ECQ__FIND_SYMBOLS | ECQ__FIND_BORINGSSL, ECQ__RET_URETPROBE, NULL, ecq__openssl_funcs, NULL},
    {"gnutls", "GnuTLS", "gnutls", NULL, "gnutls", NULL, {"libgnutls.so.30", "libgnutls.so"},
     ECQ__FIND_SONAME | ECQ__FIND_SYMBOLS, ECQ__RET_URETPROBE, NULL, ecq__gnutls_funcs, NULL},
    {"nss", "NSS", "nss", "nspr", "nss", "nspr", {"libnspr4.so"},
     ECQ__FIND_SONAME | ECQ__FIND_SYMBOLS, ECQ__RET_URETPROBE, NULL, ecq__nss_funcs, NULL},
    {"mbedtls", "mbedTLS", "mbedtls", NULL, "mbedtls", NULL, {"libmbedtls.so.14", "libmbedtls.so"},
     ECQ__FIND_SONAME | ECQ__FIND_SYMBOLS, ECQ__RET_URETPROBE, NULL, ecq__mbedtls_funcs, NULL},
    {"wolfssl", "wolfSSL", "wolfssl", NULL, "wolfssl", NULL, {"libwolfssl.so.35", "libwolfssl.so"},
     ECQ__FIND_SONAME | ECQ__FIND_SYMBOLS, ECQ__RET_URETPROBE, NULL, ecq__wolfssl_funcs, NULL},
    {"go", "Go crypto/tls", "gotls", NULL, "elfpath", NULL, {NULL},
     ECQ__FIND_EXE, ECQ__RET_SITES, ecq__go_check, ecq__go_funcs, NULL},
    {"rustls", "rustls", NULL, NULL, "rustls", NULL, {NULL},
     ECQ__FIND_EXE, ECQ__RET_URETPROBE, ecq__rustls_check, ecq__rustls_funcs,
     "rustls found, functions not identified (stripped, or inlined by link-time optimisation)"},
};
#define ECQ__NLIBS ECQ__ARRAY_LEN(ecq__libs)

/* a row by its name, option or either alias */
static const struct ecq__lib *ecq__lib_named(const char *name)
{
    for (size_t i = 0; i < ECQ__NLIBS; i++) {
        const struct ecq__lib *k = &ecq__libs[i];
        if (!strcmp(k->name, name) || !strcmp(k->option, name) || (k->option_alias && !strcmp(k->option_alias, name)))
            return k;
    }
    return NULL;
}

/* Whether a file's base name is one of lib's sonames, any version ("libssl.so.3"
 * matches "libssl.so*"). */
static int ecq__soname_match(const struct ecq__lib *k, const char *path)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    for (int i = 0; k->sonames[i]; i++) {
        const char *so = strstr(k->sonames[i], ".so");
        size_t stem = so ? (size_t)(so - k->sonames[i]) + 3 : strlen(k->sonames[i]);
        if (strncmp(base, k->sonames[i], stem) == 0) return 1;
    }
    return 0;
}

/* whether the file defines any of row k's functions (or a lookup stops short of saying
 * it does not: over the bounds, not at code; attaching then says why in one line) */
static int ecq__defines_any(const uint8_t *f, size_t size, const struct ecq__lib *k)
{
    struct ecq_elf_func fn;
    for (int i = 0; k->funcs[i].func; i++)
        if (ecq_elf_find_func(f, size, k->funcs[i].func, &fn) != ECQ_ELF_NOT_FOUND) return 1;
    return 0;
}

/* whether an x86-64 file holds BoringSSL (its ssl/ssl_lib.cc): reads at most
 * ECQ_ELF_MAX_DATA_SCAN bytes of .rodata (discovery asks in its loop) */
static int ecq__boringssl_present(const uint8_t *elf, size_t len)
{
    struct ecq__elf e;
    uint64_t name[1], from[1];
    return ecq__elf_open(&e, elf, len) == 0 && e.machine == ECQ_EM_X86_64 &&
           ecq__bssl_names(&e, name, from, 1, ECQ_ELF_MAX_DATA_SCAN) == 1;
}

/* What a file is: a TLS library by its name, an executable its row's check accepts
 * (Go, rustls) and that has the row's functions, or any ELF file that defines a row's
 * first two functions itself, or else an executable a row with an unidentified line
 * accepts (rustls stripped: named in that line). NULL: none (an ELF file of the other machine is none: discovery
 * leaves emulated programs alone); *over then says why if the file is over the ELF
 * bounds (it is skipped), and *plain is 1 for an executable a row's check accepts that
 * has none of its functions (a Go program without crypto/tls: the Go toolchain's
 * compile, link, asm...), which discovery skips without a line. */
static const struct ecq__lib *ecq__identify(const uint8_t *f, size_t size, const char *path, const char **over,
                                            int *plain)
{
    struct ecq_elf_func fn;
    char v[64];
    const char *why;
    *over = NULL, *plain = 0;
    int machine = ecq_elf_machine(f, size, &why);
    if (machine > 0 && machine != ECQ__EM_NATIVE) return NULL; /* an emulated program's: never probed */
    for (size_t i = 0; i < ECQ__NLIBS; i++)
        if ((ecq__libs[i].find & ECQ__FIND_SONAME) && ecq__soname_match(&ecq__libs[i], path)) return &ecq__libs[i];
    /* a row's file without its functions, named in one line unless another row's
     * functions are in it (rustup: rustls inlined away, OpenSSL linked in); one whose
     * check is over the bounds is skipped with a line if nothing else is found in it */
    const struct ecq__lib *unidentified = NULL;
    const char *unsearched = NULL;
    for (size_t i = 0; i < ECQ__NLIBS; i++) {
        if (!(ecq__libs[i].find & ECQ__FIND_EXE)) continue;
        if (ecq__libs[i].check(f, size, v, sizeof v, &why) < 0) {
            if (why == ecq__rustls_over) unsearched = why;
            continue;
        }
        if (ecq__defines_any(f, size, &ecq__libs[i])) return &ecq__libs[i];
        if (ecq__libs[i].unidentified && !unidentified) unidentified = &ecq__libs[i];
        else *plain = 1;
    }
    for (size_t i = 0; i < ECQ__NLIBS; i++) {
        const struct ecq__probe *p = ecq__libs[i].funcs;
        if (!(ecq__libs[i].find & ECQ__FIND_SYMBOLS) || !p[0].func || !p[1].func) continue;
        int rc = ecq_elf_find_func(f, size, p[0].func, &fn);
        if (rc == ECQ_ELF_OVER_BOUNDS) return *over = fn.why, *plain = 0, NULL; /* whatever the name: skipped */
        if (rc == 0 && ecq_elf_find_func(f, size, p[1].func, &fn) == 0) return *plain = 0, &ecq__libs[i];
    }
    for (size_t i = 0; i < ECQ__NLIBS; i++) /* its plan identifies the functions, or says in one line it cannot */
        if ((ecq__libs[i].find & ECQ__FIND_BORINGSSL) && ecq__boringssl_present(f, size)) return *plain = 0, &ecq__libs[i];
    if (unidentified) *plain = 0;
    else if (unsearched) *over = unsearched, *plain = 0;
    return unidentified;
}

struct ecq__identify_job {
    const char *path;
    const struct ecq__lib *lib;
    const char *over;               /* over the ELF bounds: why */
    int plain;                      /* an executable of a row without its functions */
};

static int ecq__identify_fn(void *ctx, const uint8_t *f, size_t n)
{
    struct ecq__identify_job *j = ctx;
    j->lib = ecq__identify(f, n, j->path, &j->over, &j->plain);
    return 0;
}

/* ---- the probe plan: what to probe in one file (pure) -------------------- */

/* One function of the plan, for machine's code; 0 with its probes in f, or a negative
 * errno with a note. */
static int ecq__plan_func(const uint8_t *file, size_t size, int machine, const struct ecq__lib *k,
                          const struct ecq__probe *p, struct ecq_plan_func *f)
{
    struct ecq_elf_func fn;
    size_t bad = 0;
    memset(f, 0, sizeof *f);
    f->name = p->func, f->enter = p->enter, f->ret = p->ret;
    int rc = ecq_elf_find_func(file, size, p->func, &fn);
    if (rc == ECQ_ELF_OVER_BOUNDS) return snprintf(f->note, sizeof f->note, "%s", fn.why), -E2BIG;
    if (rc < 0) return snprintf(f->note, sizeof f->note, "%s", fn.why), -ENOENT;
    f->source = fn.source, f->addr = fn.addr, f->size = fn.size, f->offset = fn.offset;
    f->probes = 1;
    if (!p->ret) return 0;
    if (k->returns == ECQ__RET_URETPROBE) {
        f->uretprobe = 1, f->probes++;
        return 0;
    }
    f->probes = 0; /* until its returns are found */
    if (machine == ECQ_EM_AARCH64 && fn.addr % 4)
        return snprintf(f->note, sizeof f->note, "not at a 4-byte instruction boundary"), -ENOEXEC;
    int n = machine == ECQ_EM_AARCH64 ? ecq_arm64_find_returns(file + fn.offset, fn.size, f->rets, ECQ_PLAN_MAX_RETS, &bad)
                                      : ecq_x86_find_returns(file + fn.offset, fn.size, f->rets, ECQ_PLAN_MAX_RETS, &bad);
    if (n < 0) return snprintf(f->note, sizeof f->note, "undecodable instruction at +0x%zx", bad), -ENOEXEC;
    if (n == 0 || n > ECQ_PLAN_MAX_RETS) return snprintf(f->note, sizeof f->note, "%d RET instructions", n), -ENOEXEC;
    f->nrets = n, f->probes = 1 + n;
    return 0;
}

/* BoringSSL's functions as a child identified them (b.present), or to be identified
 * apart (!b.present); us: how long it took */
struct ecq__bssl_known {
    struct ecq_boringssl b;
    int64_t us;
};

/* A file of row k where none of its functions has a symbol but BoringSSL is linked in:
 * SSL_write and SSL_read as ecq_boringssl_find identifies them, the rest noted; the time
 * it took in out->version. -ENOENT if the file holds no BoringSSL, -ENOEXEC with
 * out->refused if its functions are not identified for certain. */
static int ecq__plan_boringssl(const uint8_t *elf, size_t len, const struct ecq__lib *k,
                               const struct ecq__bssl_known *known, struct ecq_plan *out)
{
    struct ecq_boringssl b;
    int64_t t0 = ecq__now_us();
    if (known && !known->b.present) /* to be identified apart from the loop (ecq__bssl_start) */
        return snprintf(out->why, sizeof out->why, "BoringSSL: identification under way"), -EINPROGRESS;
    int rc = known ? (b = known->b, t0 -= known->us, b.why ? ECQ_ELF_NOT_FOUND : 0) : ecq_boringssl_find(elf, len, &b);
    if (!b.present) return -ENOENT;
    if (rc < 0) {
        snprintf(out->why, sizeof out->why, "BoringSSL found, functions not identified: %s", b.why);
        out->refused = out->why;
        for (int i = 0; i < out->nfuncs; i++) snprintf(out->funcs[i].note, sizeof out->funcs[i].note, "not identified");
        return -ENOEXEC;
    }
    snprintf(out->version, sizeof out->version, "BoringSSL without symbols: identified in %lld ms",
             (long long)(ecq__now_us() - t0) / 1000);
    for (int i = 0; i < out->nfuncs && k->funcs[i].func; i++) {
        struct ecq_plan_func *f = &out->funcs[i];
        const struct ecq_elf_func *fn = !strcmp(f->name, "SSL_write") ? &b.write : !strcmp(f->name, "SSL_read") ? &b.read : NULL;
        if (!fn) {
            snprintf(f->note, sizeof f->note, "not identified in BoringSSL without symbols");
            continue;
        }
        f->source = fn->source, f->addr = fn->addr, f->size = 0, f->offset = fn->offset;
        f->probes = 1 + (k->funcs[i].ret != 0), f->uretprobe = k->funcs[i].ret != 0, f->note[0] = 0;
        out->found++, out->probes += f->probes;
    }
    return out->probes;
}

/* ecq_plan_file; BoringSSL without symbols as known says, if given (see ecq__plan_boringssl) */
static int ecq__plan_file(const uint8_t *elf, size_t len, const char *lib, const struct ecq__bssl_known *known,
                          struct ecq_plan *out)
{
    const struct ecq__lib *k = lib ? ecq__lib_named(lib) : NULL;
    int machine;
    memset(out, 0, sizeof *out);
    if (!k) return -EINVAL;
    out->lib = k->name;
    if ((machine = ecq_elf_machine(elf, len, &out->arch)) < 0) out->arch = "";
    if (k->check) {
        int rc = k->check(elf, len, out->version, sizeof out->version, &out->refused);
        if (rc < 0) return rc;
    }
    for (int i = 0; k->funcs[i].func; i++) {
        if (out->nfuncs == ECQ_PLAN_MAX_FUNCS) return -E2BIG; /* a row longer than the plan holds */
        struct ecq_plan_func *f = &out->funcs[out->nfuncs++];
        int rc = ecq__plan_func(elf, len, machine, k, &k->funcs[i], f);
        if (rc == -ENOENT && k->funcs[i].optional) { /* an older version's file */
            out->nfuncs--;
            continue;
        }
        if (rc == -E2BIG) { /* the whole file is over the bounds: nothing of it is probed */
            out->refused = f->note; /* e.g. "a symbol table of over 1048576 entries" */
            out->found = out->probes = 0;
            for (int j = 0; j < out->nfuncs; j++) out->funcs[j].probes = 0;
            return -ENOEXEC;
        }
        if (rc < 0) continue;
        out->found++, out->probes += f->probes;
    }
    /* uprobes on another machine's code (a program run by an emulator) would break it */
    if (machine > 0 && machine != ECQ__EM_NATIVE) {
        out->foreign = 1, out->refused = ECQ__FOREIGN;
        return -ENOEXEC;
    }
    if (!out->found && (k->find & ECQ__FIND_BORINGSSL) && k->returns == ECQ__RET_URETPROBE) {
        int rc = ecq__plan_boringssl(elf, len, k, known, out);
        if (rc != -ENOENT) return rc;
    }
    return out->probes ? out->probes : -ENOENT;
}

int ecq_plan_file(const uint8_t *elf, size_t len, const char *lib, struct ecq_plan *out)
{
    return ecq__plan_file(elf, len, lib, NULL, out);
}

/* a file some process mapped that discovery still has to look at */
/* (dev, inode) pairs a scan has opened already: every process maps libc */
struct ecq__scan_set {
    struct ecq_bpf_file_key *slot;
    size_t cap;
};

struct ecq__pending {
    struct ecq_bpf_file_key id;
    uint32_t pid, uid;
    int64_t since_ms;
};

/* a process whose new files discovery may have missed: all its files are looked at,
 * from the mapping at address from on (where an earlier step stopped), and once more
 * if again (it missed more meanwhile) */
struct ecq__catchup {
    uint32_t pid, uid;
    uint64_t from;
    int again;
};

/* where a walk of a process's maps that a step cut short goes on: its maps text kept
 * open (read on, it costs the kernel nothing for the mappings given already) */
struct ecq__maps_cursor {
    FILE *f;                        /* NULL: open anew, skip mappings below from */
    uint32_t pid;
    uint64_t from;
};

/* ---- the capture's state, and its sinks: the host's callbacks, a server ----- */

#define ECQ__PENDING_MAX 256        /* new files waiting; more go to the catch-up */
#define ECQ__PENDING_WAIT_MS 20     /* an mmap still under way is done by then; else dropped */
#define ECQ__CATCHUP_MAX 1024       /* processes to look at again; more: every process */
#define ECQ__DISCOVERY_US 2000      /* discovery's share of one step: then clients and the
                                       ring come first again */
#define ECQ__STARTUP_SCAN_US 500000 /* the first scan of every process may hold up the start
                                       this long; the rest goes on a step at a time */

/* a file with probes: its links are links[first .. first+n) */
struct ecq__probed {
    struct ecq_bpf_file_key id;
    int first, n;
    int sticky;                     /* named by the caller, or the host's own: never detached */
    int probes;                     /* probes those links hold */
    char name[200];
};

/* a kernel attachment: a libbpf link (tracepoints, perf-event uprobes), or the fd of
 * a uprobe_multi link, which libbpf before 1.3 cannot make */
struct ecq__link {
    struct bpf_link *bl;
    int fd;
};

/* one file's probes, gathered before any is attached: [0] entry and RET-instruction
 * uprobes (program on_enter), [1] uretprobes (on_return); the cookie is the handler */
struct ecq__probeset {
    uint64_t off[2][ECQ__FILE_PROBES], cookie[2][ECQ__FILE_PROBES];
    uint32_t n[2];
};

/* Which end of an HTTP/2 connection is the client, learned from its preface or a
 * HEADERS frame (ecq__h2_side), so that every frame of it is typed by the side that
 * sent it, a lone 9-byte frame header too. Looked at only for records that are HTTP/2
 * frames; one slot per hash of the connection, a newer connection taking it over. */
#define ECQ__H2_CONNS 1024
struct ecq__h2conn {
    uint64_t key;                   /* ecq__conn_key, 0: free */
    int local_client;               /* the traced process is the client */
};

/* A latency histogram of the capture's own stages, logged when capture stops: 1 us
 * buckets up to 4 ms, then 1 ms buckets up to 1 s, the rest in the last; bounded memory
 * however long the agent runs. */
#define ECQ__LAG_FINE 4096
#define ECQ__LAG_BUCKETS (ECQ__LAG_FINE + 1000)
#define ECQ__STEP_TS 4096           /* records of a step whose write is timed, at most */

struct ecq__lag {
    uint32_t n[ECQ__LAG_BUCKETS];
    uint64_t count, max_us;
};

static void ecq__lag_add(struct ecq__lag *l, int64_t ns, uint32_t times)
{
    uint64_t us = ns > 0 ? (uint64_t)ns / 1000 : 0;
    size_t b = us < ECQ__LAG_FINE ? us : ECQ__LAG_FINE + (us - ECQ__LAG_FINE) / 1000;
    l->n[b < ECQ__LAG_BUCKETS ? b : ECQ__LAG_BUCKETS - 1] += times;
    l->count += times;
    if (us > l->max_us) l->max_us = us;
}

/* the value in us below which permille/1000 of the samples are */
static uint64_t ecq__lag_pct(const struct ecq__lag *l, unsigned permille)
{
    uint64_t want = (l->count * permille + 999) / 1000, seen = 0;
    for (size_t b = 0; b < ECQ__LAG_BUCKETS; b++)
        if ((seen += l->n[b]) >= want && want)
            return b < ECQ__LAG_FINE ? b : ECQ__LAG_FINE + (b - ECQ__LAG_FINE) * 1000;
    return l->max_us;
}


/* A file whose BoringSSL a child process identifies (ecq__bssl_start): the file held
 * open until its plan is finished with the child's answer. */
#define ECQ__BSSL_JOBS 2            /* children at once (one per file owner) */
#define ECQ__BSSL_WAIT_MS 30000     /* a child's time, at most (Chromium's: 0.5 - 2.1 s) */
#define ECQ__BSSL_POLL_US 10000     /* its answer is looked for this often */
struct ecq__bssl_job {
    pid_t pid;
    int rfd, fd;                    /* the child's answer; the file */
    uint32_t owner;                 /* the file's owner: one child per owner */
    const struct ecq__lib *k;
    int sticky;
    int64_t since_ms;
    char name[512];
};

struct ecq_capture {
    struct ecq_server *srv;         /* a sink, or NULL */
    struct ecq_capture_opts o;      /* with the host's callbacks, the other sinks */
    struct ecq_merge *merge;        /* o.merge: the stage before the sinks */
    struct bpf_object *obj;
    struct ring_buffer *rb;         /* the file ring's reader, and the epoll set of both */
    struct {                        /* the record ring, read here: its consumer position */
        uint64_t *cons;             /* moves once the step's frames no longer point into it */
        const uint64_t *prod;       /* (ecq__server_settle) */
        const uint8_t *data;        /* the data pages, mapped twice in a row */
        size_t size;
        long page;
    } ring;
    struct ecq__link *links;
    int nlinks, caplinks;
    int multi;                      /* uprobe_multi links: the kernel has them, not opted out */
    struct ecq__probeset *set;      /* the file being attached */
    struct ecq_plan *plan;          /* its plan */
    unsigned attached;              /* bit per ecq__libs row with probes attached */
    struct ecq__probed *probed;     /* files with probes, each once */
    int nprobed, capprobed;
    int64_t next_sweep_ms;
    struct ecq__pending pending[ECQ__PENDING_MAX];
    int npending;
    struct ecq__bssl_job bssl[ECQ__BSSL_JOBS]; /* BoringSSL identified apart: ecq__bssl_start */
    int nbssl;
    struct ecq__catchup catchup[ECQ__CATCHUP_MAX];
    int ncatchup, rescan_all;       /* rescan_all: the catch-up overflowed */
    uint32_t *scan;                 /* a scan of every process, a step at a time: the pids */
    int nscan, scan_at;             /* /proc listed, and the one it is at */
    struct ecq__maps_cursor scan_cur, catch_cur; /* the scan's, the catch-up's */
    struct ecq__scan_set scan_set;  /* the files it has looked at */
    uint32_t turn;                  /* the user discovery served last: users take turns */
    int64_t until_us;               /* a catch-up's walk stops here (0: no bound) */
    int64_t next_discovery_us;      /* discovery's next turn: it takes half the time at most */
    uint64_t deferred_logged;       /* st.deferred_files as last logged */
    int missed_fd;
    int follow;                     /* discovery keeps up with new processes */
    int files_fd, counters_fd;
    int idle_fd, idle;              /* adaptive drain: see ecq__step */
    int64_t win_start_ns;           /* the rate window's start, and its records so far */
    uint64_t win_records;
    struct ecq__lag lag_read, lag_sent; /* event to the agent's read, to its frame's write */
    uint64_t step_ts[ECQ__STEP_TS];  /* the step's records' times, for lag_sent */
    int nstep_ts;
    int64_t read_mono_ns;           /* when this drain began */
    int more;                       /* the last step stopped at ECQ__STEP_BYTES */
    int ring_reading;               /* in ecq__ring_read: record payloads may be lent */
    size_t step_bytes;
    int64_t mono_to_real_ns, next_check_ms;
    int target_gone;
    struct ecq_capture_stats st;
    char uuid[128];
    char libbpf_line[512];          /* libbpf's message so far, until its newline */
    struct ecq__h2conn h2conn[ECQ__H2_CONNS];
};

void ecq_capture_opts_init(struct ecq_capture_opts *o)
{
    memset(o, 0, sizeof *o);
    o->uid = ECQ_ANY_UID;
    o->ring_mb = ECQ_DEFAULT_RING_MB;
    o->detach_sec = ECQ_DEFAULT_DETACH_SEC;
    o->merge_idle_ms = ECQ_DEFAULT_MERGE_IDLE_MS;
}

/* One run-log line to the sinks: the host's on_log, and the server's log. */
static void ecq__log(struct ecq_capture *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ecq__log(struct ecq_capture *c, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (c->o.on_log) c->o.on_log(c->o.user, line);
    if (c->srv) ecq_server_log(c->srv, "%s", line);
}

/* libbpf's message hook is process-wide and has no user pointer: while a capture
 * function runs, the hook is ours and this (thread-local) names the capture whose log
 * gets libbpf's warnings; on return the host's own hook is back. The one piece of
 * global state capture has (ecaptureq.h says so). */
static __thread struct ecq_capture *ecq__libbpf_to;

static int ecq__libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    struct ecq_capture *c = ecq__libbpf_to;
    if (level == LIBBPF_DEBUG || level == LIBBPF_INFO || !c) return 0;
    size_t n = strlen(c->libbpf_line);
    vsnprintf(c->libbpf_line + n, sizeof c->libbpf_line - n, fmt, ap);
    char *nl;
    while ((nl = strchr(c->libbpf_line, '\n')) || strlen(c->libbpf_line) == sizeof c->libbpf_line - 1) {
        if (nl) *nl = 0;
        ecq__log(c, "%s", c->libbpf_line);
        n = nl ? strlen(nl + 1) : 0;
        memmove(c->libbpf_line, nl ? nl + 1 : "", n + 1);
    }
    return 0;
}

/* the hook is ours from here to ecq__libbpf_leave */
static libbpf_print_fn_t ecq__libbpf_enter(struct ecq_capture *c)
{
    ecq__libbpf_to = c;
    return libbpf_set_print(ecq__libbpf_print);
}

static void ecq__libbpf_leave(libbpf_print_fn_t host)
{
    (void)libbpf_set_print(host);
    ecq__libbpf_to = NULL;
}

/* /sys and /proc as capture reads them: a tree without them (an empty chroot, a
 * container without the host's /sys) is told apart from a kernel without BTF. libbpf
 * finds the uprobe and kprobe event types in /sys/bus/event_source; tracefs is not
 * used (raw tracepoints and perf-event probes need none). 0, or -ENOENT/-ENOTSUP. */
static int ecq__mounts_check(char *why, size_t cap)
{
    struct statfs sf;
    if (statfs("/proc/self", &sf) != 0 || sf.f_type != PROC_SUPER_MAGIC) {
        snprintf(why, cap, "cannot read /proc/self/maps: is /proc mounted? (capture finds libraries in /proc/PID/maps)");
        return -ENOENT;
    }
    if (access("/sys/kernel/btf/vmlinux", R_OK) == 0) return 0;
    if (statfs("/sys/kernel", &sf) != 0 || sf.f_type != SYSFS_MAGIC) {
        snprintf(why, cap, "cannot read /sys/kernel/btf/vmlinux: is /sys mounted?");
        return -ENOENT;
    }
    snprintf(why, cap, "this kernel exposes no BTF (/sys/kernel/btf/vmlinux, Linux 5.4+): capture needs CONFIG_DEBUG_INFO_BTF=y");
    return -ENOTSUP;
}

/* The kernel's answer for each row of ecq__kernel_features, asked as libbpf asks it
 * (a map made, a program calling the helper loaded). A plain map comes first: libbpf's
 * probes cannot tell a missing feature from a bpf() the kernel refuses (seccomp,
 * SELinux, AppArmor), so a refusal is named as such. 0, or -ENOTSUP, or that errno. */
static int ecq__kernel_check(char *why, size_t cap)
{
    struct utsname u;
    const struct ecq_kernel_feature *f;
    int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ecq_probe", 4, 4, 1, NULL);
    if (fd < 0) {
        int e = errno;
        snprintf(why, cap, "the kernel refuses bpf(): %s (a seccomp profile, SELinux or AppArmor; README: Deploy)",
                 strerror(e));
        return -e;
    }
    close(fd);
    for (int i = 0; (f = ecq_kernel_feature(i)); i++) {
        int r = f->map_type ? libbpf_probe_bpf_map_type((enum bpf_map_type)f->map_type, NULL)
                            : libbpf_probe_bpf_helper((enum bpf_prog_type)f->prog_type, (enum bpf_func_id)f->helper, NULL);
        if (r == 1) continue;
        ecq_kernel_lacks(why, cap, f, uname(&u) == 0 ? u.release : NULL);
        return -ENOTSUP;
    }
    snprintf(why, cap, "kernel %s has the %zu BPF features capture needs (Linux %d.%d+)", uname(&u) == 0 ? u.release : "?",
             ECQ__ARRAY_LEN(ecq__kernel_features), ecq__kernel_newest()->major, ecq__kernel_newest()->minor);
    return 0;
}

int ecq_capture_check(char *why, size_t cap)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0) return snprintf(why, cap, "capget: %s", strerror(errno)), -errno;
#define ECQ__HAS(c) ((d[(c) / 32].effective >> ((c) % 32)) & 1)
    int bpf = ECQ__HAS(CAP_BPF), perfmon = ECQ__HAS(CAP_PERFMON);
    if (!ECQ__HAS(CAP_SYS_ADMIN) && !(bpf && perfmon)) {
        snprintf(why, cap, "capture needs root, or CAP_BPF and CAP_PERFMON (missing: %s%s%s)", bpf ? "" : "CAP_BPF",
                 !bpf && !perfmon ? " and " : "", perfmon ? "" : "CAP_PERFMON");
        return -EPERM;
    }
#undef ECQ__HAS
    int rc = ecq__mounts_check(why, cap);
    return rc ? rc : ecq__kernel_check(why, cap);
}

/* ---- finding files: the loader's cache, the processes' maps ------------------ */

struct ecq__cache_job {
    const char *name;
    char *out;
    size_t cap;
};

/* the loader cache's entry for name (glibc's new format): 1 and out, or 0 */
static int ecq__cache_fn(void *ctx, const uint8_t *m, size_t size)
{
    static const char magic[] = "glibc-ld.so.cache1.1";
    enum { HDR = 48, ENTRY = 24 };
    struct ecq__cache_job *j = ctx;
    const char *h = memmem(m, size, magic, sizeof magic - 1);
    size_t base = h ? (size_t)(h - (const char *)m) : 0;
    uint32_t nlibs = 0;
    if (h && base + HDR <= size) memcpy(&nlibs, h + 20, 4);
    for (uint32_t i = 0; h && i < nlibs && base + HDR + (size_t)(i + 1) * ENTRY <= size; i++) {
        int32_t flags;
        uint32_t key, val;
        const char *e = h + HDR + (size_t)i * ENTRY;
        memcpy(&flags, e, 4), memcpy(&key, e + 4, 4), memcpy(&val, e + 8, 4);
        if (base + key >= size || base + val >= size || (flags & 0xff00) != ECQ__CACHE_ARCH) continue;
        if (!memchr(h + key, 0, size - base - key) || !memchr(h + val, 0, size - base - val)) continue;
        if (strcmp(h + key, j->name) == 0 && strlen(h + val) < j->cap) {
            snprintf(j->out, j->cap, "%s", h + val);
            if (access(j->out, R_OK) == 0) return 1;
        }
    }
    return 0;
}

/* Looks name up in the dynamic loader's cache (/etc/ld.so.cache), then in the loader's
 * default directories. */
static int ecq__find_library(const char *name, char *out, size_t cap)
{
    static const char *const dirs[] = {"/lib/" ECQ__MULTIARCH, "/usr/lib/" ECQ__MULTIARCH, "/lib64", "/usr/lib64",
                                       "/lib", "/usr/lib", "/usr/local/lib"};
    struct ecq__cache_job j = {name, out, cap};
    int found = ecq__with_file(-1, "/etc/ld.so.cache", ecq__cache_fn, &j) == 1;
    for (size_t i = 0; !found && i < ECQ__ARRAY_LEN(dirs); i++) {
        snprintf(out, cap, "%s/%s", dirs[i], name);
        found = access(out, R_OK) == 0;
    }
    return found ? 0 : -1;
}

/* One executable file mapping of a process, as its maps line shows it. */
struct ecq__mapping {
    unsigned long long lo, hi;
    struct ecq_bpf_file_key id;         /* without generation: maps does not show it */
    const char *path;
};

/* Walks /proc/PID/maps: fn gets each mapping of an executable file, and stops the walk
 * by returning nonzero. Returns the number of lines read (0: a zombie, no mappings
 * left), or -1 if the process is gone. */
static FILE *ecq__maps_open(uint32_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%u/maps", pid);
    return fopen(path, "re");
}

/* Calls fn for each executable mapping of a file in the maps text f has still to
 * give, until fn returns nonzero. Returns the lines read. (f may be read on later:
 * the kernel goes on from the last mapping given, with no work for those before.) */
static int ecq__maps_read(FILE *f, int (*fn)(void *ctx, const struct ecq__mapping *m), void *ctx)
{
    char line[4096], perms[8];
    int lines = 0, at;
    while (fgets(line, sizeof line, f)) {
        struct ecq__mapping m;
        unsigned long long off, ino;
        unsigned maj, min;
        lines++;
        at = 0;
        if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &m.lo, &m.hi, perms, &off, &maj, &min, &ino, &at) < 7 ||
            !at || perms[2] != 'x' || !ino || line[at] != '/')
            continue;
        line[strcspn(line, "\n")] = 0;
        m.id = (struct ecq_bpf_file_key){(uint64_t)maj << 20 | min, ino, 0, 0};
        m.path = line + at;
        if (fn(ctx, &m)) break;
    }
    return lines;
}

static int ecq__maps_walk(uint32_t pid, int (*fn)(void *ctx, const struct ecq__mapping *m), void *ctx)
{
    FILE *f = ecq__maps_open(pid);
    if (!f) return -1;
    int lines = ecq__maps_read(f, fn, ctx);
    fclose(f);
    return lines;
}

struct ecq__pid_lib {
    const struct ecq__lib *k;
    uint32_t pid;
    char *out;
    size_t cap;
    int found;
};

static int ecq__pid_lib_fn(void *ctx, const struct ecq__mapping *m)
{
    struct ecq__pid_lib *q = ctx;
    if (!ecq__soname_match(q->k, m->path)) return 0;
    q->found = snprintf(q->out, q->cap, "/proc/%u/map_files/%llx-%llx", q->pid, m->lo, m->hi) > 0;
    return 1;
}

/* The file of lib that process pid has mapped, as /proc/PID/map_files/LO-HI: the file
 * itself, whatever root (chroot) or mount namespace the process sees it through. */
static int ecq__pid_library(uint32_t pid, const struct ecq__lib *k, char *out, size_t cap)
{
    struct ecq__pid_lib q = {k, pid, out, cap, 0};
    (void)ecq__maps_walk(pid, ecq__pid_lib_fn, &q);
    return q.found ? 0 : -1;
}

/* ---- attaching: kernel links, one file's probes all or none ----------------- */

static struct bpf_program *ecq__prog(struct ecq_capture *c, const char *name)
{
    struct bpf_program *p = bpf_object__find_program_by_name(c->obj, name);
    if (!p) ecq__log(c, "error: the BPF object has no program %s", name);
    return p;
}

static void ecq__link_free(struct ecq__link *l)
{
    if (l->bl) bpf_link__destroy(l->bl);
    else if (l->fd >= 0) close(l->fd);
    *l = (struct ecq__link){NULL, -1};
}

/* keeps a libbpf link (bl) or a link fd (bl NULL); on failure it is detached */
static int ecq__keep_link(struct ecq_capture *c, struct bpf_link *bl, int fd)
{
    struct ecq__link l = {bl, bl ? -1 : fd};
    if (c->nlinks == c->caplinks) {
        int cap = c->caplinks ? c->caplinks * 2 : 64;
        struct ecq__link *n = realloc(c->links, (size_t)cap * sizeof *n);
        if (!n) {
            ecq__link_free(&l);
            return -ENOMEM;
        }
        c->links = n, c->caplinks = cap;
    }
    c->links[c->nlinks++] = l;
    c->st.links++;
    return 0;
}

/* uprobe_multi links (Linux 6.6+), made with the bpf() call itself: libbpf before 1.3
 * has no function for them. The attribute layout of BPF_LINK_CREATE for them: */
#define ECQ__BPF_TRACE_UPROBE_MULTI 48
#define ECQ__BPF_F_UPROBE_MULTI_RETURN 1u
struct ecq__uprobe_multi_attr {
    uint32_t prog_fd, target_fd, attach_type, flags;
    uint64_t path, offsets, ref_ctr_offsets, cookies;
    uint32_t cnt, multi_flags, pid, pad;
};

static int ecq__uprobe_multi(int prog_fd, const char *path, const uint64_t *offs, const uint64_t *cookies,
                             uint32_t n, int ret)
{
    struct ecq__uprobe_multi_attr a;
    memset(&a, 0, sizeof a);
    a.prog_fd = (uint32_t)prog_fd;
    a.attach_type = ECQ__BPF_TRACE_UPROBE_MULTI;
    a.path = (uintptr_t)path, a.offsets = (uintptr_t)offs, a.cookies = (uintptr_t)cookies;
    a.cnt = n;
    a.multi_flags = ret ? ECQ__BPF_F_UPROBE_MULTI_RETURN : 0;
    int fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &a, sizeof a);
    return fd < 0 ? -errno : fd;
}

/* 1 if the kernel makes uprobe_multi links: a program of that attach type loads, and
 * a link to "/" fails with EBADF (not a regular file), not EINVAL (no such links) */
static int ecq__have_uprobe_multi(void)
{
    static const struct bpf_insn ret0[] = {{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0},
                                           {.code = BPF_JMP | BPF_EXIT}};
    LIBBPF_OPTS(bpf_prog_load_opts, po, .expected_attach_type = ECQ__BPF_TRACE_UPROBE_MULTI);
    uint64_t off = 0;
    int prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, NULL, "GPL", ret0, 2, &po);
    if (prog < 0) return 0;
    int fd = ecq__uprobe_multi(prog, "/", &off, NULL, 1, 0);
    close(prog);
    if (fd >= 0) close(fd);
    return fd == -EBADF;
}

/* one probe into the file's set; attached later, all of them or none */
static int ecq__gather(struct ecq_capture *c, enum ecq_handler h, uint64_t off, int ret)
{
    struct ecq__probeset *ps = c->set;
    if (ps->n[ret] == ECQ__FILE_PROBES) return -E2BIG;
    ps->off[ret][ps->n[ret]] = off, ps->cookie[ret][ps->n[ret]++] = h;
    return 0;
}

/* detaches the links made since nlinks was first (a file's, when it failed) */
static void ecq__links_truncate(struct ecq_capture *c, int first)
{
    while (c->nlinks > first) ecq__link_free(&c->links[--c->nlinks]), c->st.links--;
}

/* Attaches the file's gathered set: as at most two uprobe_multi links where the
 * kernel has them (c->multi), else one perf-event uprobe per probe, each with its
 * cookie. 0, or a negative errno with nothing of the file attached. */
static int ecq__attach_set(struct ecq_capture *c, const char *path)
{
    static const char *const prog[2] = {"on_enter", "on_return"};
    struct bpf_program *p[2] = {ecq__prog(c, prog[0]), ecq__prog(c, prog[1])};
    int first = c->nlinks, rc = 0;
    if (!p[0] || !p[1]) return -ENOENT;
    for (int r = 0; r < 2 && rc == 0; r++)
        for (uint32_t i = 0; i < c->set->n[r] && rc == 0; i++) {
            if (c->multi) { /* the whole set of this kind at once */
                int fd = ecq__uprobe_multi(bpf_program__fd(p[r]), path, c->set->off[r], c->set->cookie[r],
                                           c->set->n[r], r);
                rc = fd >= 0 ? ecq__keep_link(c, NULL, fd) : fd;
                break;
            }
            LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = r != 0, .bpf_cookie = c->set->cookie[r][i]);
            struct bpf_link *l = bpf_program__attach_uprobe_opts(p[r], -1, path, (size_t)c->set->off[r][i], &o);
            rc = l ? ecq__keep_link(c, l, -1) : -errno;
        }
    if (rc < 0) {
        if (rc == -EACCES || rc == -EPERM) c->st.probes_denied++;
        ecq__links_truncate(c, first);
    }
    return rc;
}

/* the file open on fd (its generation where the filesystem tells, else 0) */
static int ecq__id_of_fd(int fd, struct ecq_bpf_file_key *id)
{
    struct stat st;
    long gen = 0;
    if (fstat(fd, &st) < 0) return -errno;
    if (ioctl(fd, FS_IOC_GETVERSION, &gen) < 0) gen = 0;
    *id = (struct ecq_bpf_file_key){(uint64_t)major(st.st_dev) << 20 | minor(st.st_dev), st.st_ino, (uint32_t)gen, 0};
    return 0;
}

/* marks a file as looked at, for the BPF side (no more records about it) */
static void ecq__mark_file(struct ecq_capture *c, struct ecq_bpf_file_key id)
{
    uint8_t done = 1;
    (void)bpf_map_update_elem(c->files_fd, &id, &done, BPF_ANY); /* LRU: cannot be full */
}

static int ecq__probed_id(const struct ecq_capture *c, struct ecq_bpf_file_key id)
{
    for (int i = 0; i < c->nprobed; i++)
        if (c->probed[i].id.dev == id.dev && c->probed[i].id.ino == id.ino && c->probed[i].id.gen == id.gen) return 1;
    return 0;
}

/* Gathers the plan's probes into the file's set. 0, or -E2BIG. */
static int ecq__gather_plan(struct ecq_capture *c, const struct ecq_plan *pl)
{
    c->set->n[0] = c->set->n[1] = 0;
    for (int i = 0; i < pl->nfuncs; i++) {
        const struct ecq_plan_func *f = &pl->funcs[i];
        int rc = f->probes ? ecq__gather(c, f->enter, f->offset, 0) : 0;
        if (rc == 0 && f->uretprobe) rc = ecq__gather(c, f->ret, f->offset, 1);
        for (int r = 0; rc == 0 && r < f->nrets; r++) rc = ecq__gather(c, f->ret, f->offset + f->rets[r], 0);
        if (rc < 0) return rc;
    }
    return 0;
}

/* "f1 (why), f2 (why)": the plan's functions that are not probed */
static void ecq__plan_missing(const struct ecq_plan *pl, char *out, size_t cap)
{
    out[0] = 0;
    for (int i = 0; i < pl->nfuncs; i++)
        if (!pl->funcs[i].probes)
            snprintf(out + strlen(out), cap - strlen(out), "%s %s (%s)", out[0] ? "," : "", pl->funcs[i].name,
                     pl->funcs[i].note);
}

/* remembers a probed file and its links[first ..] */
static void ecq__keep_probed(struct ecq_capture *c, struct ecq_bpf_file_key id, int first, int probes, int sticky,
                             const char *name)
{
    if (c->nprobed == c->capprobed) {
        int cap = c->capprobed ? c->capprobed * 2 : 16;
        struct ecq__probed *n = realloc(c->probed, (size_t)cap * sizeof *n);
        if (n) c->probed = n, c->capprobed = cap;
    }
    if (c->nprobed < c->capprobed) { /* else: kept attached for good, and may be probed twice, harmlessly */
        struct ecq__probed *e = &c->probed[c->nprobed++];
        e->id = id, e->first = first, e->n = c->nlinks - first, e->probes = probes, e->sticky = sticky;
        snprintf(e->name, sizeof e->name, "%s", name);
    }
}

/* ---- BoringSSL identified apart from the loop ----------------------------- */

/* Identifying BoringSSL reads all of an executable's code (Chromium's 236 MB: 0.5 - 2.1
 * s), and anyone can map a file shaped like it: discovery hands that to a short-lived
 * child (ecq__bssl_start), which drops to nobody, reads the file through the fd it
 * inherits and writes its answer to a pipe; each step reads the answers that came
 * (ecq__bssl_poll) and finishes the files' plans with them. A child at most per file
 * owner and ECQ__BSSL_JOBS at once: another file goes back to discovery (deferred,
 * counted, its process looked at again later), so one user's files cannot hold up
 * another's. A child over ECQ__BSSL_WAIT_MS is killed, its file refused in one line. */
static const struct ecq__bssl_known ecq__bssl_apart = {{0, {0}, {0}, NULL}, 0};

struct ecq__bssl_answer {
    int present, found;
    uint64_t waddr, woff, raddr, roff;
    int64_t us;
    char why[160];
};

static int ecq__bssl_child_fn(void *ctx, const uint8_t *f, size_t n)
{
    struct ecq__bssl_answer *a = ctx;
    struct ecq_boringssl b;
    int64_t t0 = ecq__now_us();
    a->found = ecq_boringssl_find(f, n, &b) == 0, a->present = b.present, a->us = ecq__now_us() - t0;
    a->waddr = b.write.addr, a->woff = b.write.offset, a->raddr = b.read.addr, a->roff = b.read.offset;
    snprintf(a->why, sizeof a->why, "%s", b.why ? b.why : "");
    return 0;
}

/* the child: never returns */
static void ecq__bssl_child(int fd, int wfd)
{
    struct ecq__bssl_answer a;
    memset(&a, 0, sizeof a);
    a.present = 1;
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    (void)setpriority(PRIO_PROCESS, 0, 10);
    /* only the file and the answer's pipe stay open: a child subverted by the file it
     * parses holds none of the agent's BPF objects, clients or logs */
    unsigned lo = (unsigned)(fd < wfd ? fd : wfd), hi = (unsigned)(fd < wfd ? wfd : fd);
    if (lo > 3) (void)syscall(SYS_close_range, 3u, lo - 1, 0u);
    if (hi > lo + 1) (void)syscall(SYS_close_range, lo + 1, hi - 1, 0u);
    (void)syscall(SYS_close_range, hi + 1, ~0u, 0u);
    if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
        snprintf(a.why, sizeof a.why, "could not drop to nobody to read it: %s", strerror(errno));
    else if (ecq__with_file(fd, "", ecq__bssl_child_fn, &a) < 0)
        snprintf(a.why, sizeof a.why, "it shrank while it was read");
    if (write(wfd, &a, sizeof a) != (ssize_t)sizeof a) _exit(1);
    _exit(0);
}

/* A child to identify the BoringSSL of file fd (row k; name, sticky: as the file is
 * attached); -EINPROGRESS, or -EAGAIN if it waits its turn (see above). */
static int ecq__bssl_start(struct ecq_capture *c, const struct ecq__lib *k, int fd, const char *name, int sticky)
{
    struct stat st;
    int p[2];
    if (fstat(fd, &st) < 0) return -errno;
    for (int i = 0; i < c->nbssl; i++)
        if (c->bssl[i].owner == st.st_uid) return c->st.deferred_files++, -EAGAIN;
    if (c->nbssl == ECQ__BSSL_JOBS) return c->st.deferred_files++, -EAGAIN;
    struct ecq__bssl_job *j = &c->bssl[c->nbssl];
    if ((j->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) return -errno;
    if (pipe2(p, O_CLOEXEC) < 0) return close(j->fd), -errno;
    if ((j->pid = fork()) == 0) ecq__bssl_child(fd, p[1]);
    close(p[1]);
    if (j->pid < 0) {
        int e = errno;
        return close(p[0]), close(j->fd), -e;
    }
    (void)fcntl(p[0], F_SETFL, O_NONBLOCK);
    j->rfd = p[0], j->owner = st.st_uid, j->k = k, j->sticky = sticky, j->since_ms = ecq__now_ms();
    snprintf(j->name, sizeof j->name, "%s", name);
    c->nbssl++;
    ecq__log(c, "discovery: %s: BoringSSL without symbols: identifying its functions apart (pid %d)", name, (int)j->pid);
    return -EINPROGRESS;
}

/* Probes one file (path: how to open it; name: how to show it; sticky: never detach
 * it) as ecq_plan_file plans it. 0 if that file (by device, inode and generation) is
 * probed already. */
static int ecq__attach_file(struct ecq_capture *c, const struct ecq__lib *k, const char *path, const char *name,
                            int sticky, const struct ecq__bssl_known *known)
{
    struct ecq_plan *pl = c->plan;
    struct ecq__plan_job job = {k->name, pl, known};
    struct ecq_bpf_file_key id;
    char missing[512];
    int first = c->nlinks, fd = open(path, O_RDONLY | O_CLOEXEC), rc = fd < 0 ? -errno : ecq__id_of_fd(fd, &id);
    if (rc == 0 && ecq__probed_id(c, id)) return close(fd), 0;
    int probes = rc == 0 ? ecq__with_file(fd, path, ecq__plan_fn, &job) : rc;
    if (probes == -EINPROGRESS) probes = ecq__bssl_start(c, k, fd, name, sticky);
    if (fd >= 0) close(fd);
    if (probes == -EINPROGRESS || probes == -EAGAIN) return probes; /* identified apart, or deferred */
    if (probes < 0 && probes != -ENOENT && probes != -ENOEXEC) {
        ecq__log(c, "error: %s: cannot read %s: %s", k->name, name,
                 probes == -EFAULT ? "it shrank while it was read" : strerror(-probes));
        return probes;
    }
    rc = 0;
    if (pl->refused) {
        ecq__log(c, "error: %s: %s: %s", k->name, name, pl->refused);
        return -ENOEXEC;
    }
    ecq__plan_missing(pl, missing, sizeof missing);
    if (probes > 0 && ((rc = ecq__gather_plan(c, pl)) < 0 || (rc = ecq__attach_set(c, path)) < 0)) {
        /* the kernel refused: none of the file's probes is attached */
        snprintf(missing, sizeof missing, " every function (%s)", strerror(-rc));
        pl->found = 0, probes = 0;
    }
    if (probes < 0) probes = 0;
    if (!pl->found && k->unidentified) {
        ecq__log(c, "%s: %s%s%s%s: %s", k->name, name, pl->version[0] ? " (" : "", pl->version,
                 pl->version[0] ? ")" : "", k->unidentified);
        ecq__mark_file(c, id);
        return -ENOENT;
    }
    ecq__log(c, "%s: %s%s%s%s: %d of %d functions probed, %d probes attached in %d link(s)%s%s", k->name, name,
             pl->version[0] ? " (" : "", pl->version, pl->version[0] ? ")" : "", pl->found, pl->nfuncs, probes,
             c->nlinks - first, missing[0] ? "; not probed:" : "", missing);
    ecq__mark_file(c, id);
    if (!probes) return -ENOENT;
    char shown[200];
    snprintf(shown, sizeof shown, "%s: %s", k->name, name);
    ecq__keep_probed(c, id, first, probes, sticky, shown);
    c->attached |= 1u << (k - ecq__libs);
    c->st.probes += probes;
    c->st.files++;
    return probes;
}

/* job i's answer, or how it failed (why), taken: the file's plan finished with it */
static void ecq__bssl_finish(struct ecq_capture *c, int i, const struct ecq__bssl_answer *a, const char *why)
{
    struct ecq__bssl_job *j = &c->bssl[i];
    struct ecq__bssl_known kn = {{1, {0}, {0}, NULL}, a ? a->us : 0};
    char path[64];
    if (!why && !a->present) why = "no BoringSSL (no ssl/ssl_lib.cc)";
    if (!why && !a->found) why = a->why[0] ? a->why : "not identified";
    kn.b.why = why;
    if (!why) {
        kn.b.write = (struct ecq_elf_func){a->waddr, 0, a->woff, "BoringSSL's code", NULL};
        kn.b.read = (struct ecq_elf_func){a->raddr, 0, a->roff, "BoringSSL's code", NULL};
    }
    (void)kill(j->pid, SIGKILL); /* done with, or late: its exit is a moment away */
    (void)waitpid(j->pid, NULL, 0);
    close(j->rfd);
    snprintf(path, sizeof path, "/proc/self/fd/%d", j->fd);
    (void)ecq__attach_file(c, j->k, path, j->name, j->sticky, &kn);
    close(j->fd);
    c->bssl[i] = c->bssl[--c->nbssl];
}

/* the children's answers that came, and those over their time */
static void ecq__bssl_poll(struct ecq_capture *c)
{
    for (int i = c->nbssl - 1; i >= 0; i--) {
        struct ecq__bssl_answer a;
        ssize_t n = read(c->bssl[i].rfd, &a, sizeof a);
        if (n == (ssize_t)sizeof a) a.why[sizeof a.why - 1] = 0, ecq__bssl_finish(c, i, &a, NULL);
        else if (n >= 0 || errno != EAGAIN) ecq__bssl_finish(c, i, NULL, "the process identifying it failed");
        else if (ecq__now_ms() - c->bssl[i].since_ms > ECQ__BSSL_WAIT_MS)
            ecq__bssl_finish(c, i, NULL, "its identification took over 30 s");
    }
}

/* the file of k to probe when none was given; 0 and out, or -1 */
static int ecq__locate(struct ecq_capture *c, const struct ecq__lib *k, char *out, size_t cap)
{
    if (k->find & ECQ__FIND_EXE) {
        char exe[64];
        struct ecq__plan_job job = {k->name, c->plan, NULL};
        if (!c->o.pid) return -1; /* every such executable on the host: not searched */
        snprintf(exe, sizeof exe, "/proc/%u/exe", c->o.pid);
        int rc = ecq__with_file(-1, exe, ecq__plan_fn, &job);
        if (rc < 0 && rc != -ENOENT && rc != -ENOEXEC) return -1;
        /* a row found only this way takes the executable anyway: attaching it says
         * in one line why it is refused */
        if (!c->plan->refused || !(k->find & ECQ__FIND_SONAME)) return snprintf(out, cap, "%s", exe), 0;
    }
    if (!(k->find & ECQ__FIND_SONAME)) return -1;
    if (c->o.pid) return ecq__pid_library(c->o.pid, k, out, cap);
    for (int i = 0; k->sonames[i]; i++)
        if (ecq__find_library(k->sonames[i], out, cap) == 0) return 0;
    return -1;
}

/* ---- discovery: every TLS stack any process maps; ecq_capture_attach ------ */

static int ecq__scan_seen(struct ecq__scan_set *set, const struct ecq_bpf_file_key *id)
{
    if (!set || !set->cap) return 0;
    size_t h = (size_t)((id->dev * 0x9E3779B97F4A7C15ull) ^ id->ino) & (set->cap - 1);
    for (size_t n = 0; n < set->cap; n++, h = (h + 1) & (set->cap - 1)) {
        struct ecq_bpf_file_key *e = &set->slot[h];
        if (!e->ino) return *e = *id, 0;
        if (e->dev == id->dev && e->ino == id->ino) return 1;
    }
    return 0; /* full: look again, harmlessly */
}

struct ecq__disc {
    struct ecq_capture *c;
    uint32_t pid;
    const struct ecq_bpf_file_key *want;
    struct ecq__scan_set *set;
    uint64_t from;                  /* mappings below this address: looked at already */
    int total, found, gone, cut;
};

static void ecq__catch_up(struct ecq_capture *c, uint32_t pid, uint32_t uid);

/* Why the file open on fd is not parsed, or NULL: one of over ECQ__SPARSE_MIN bytes
 * that is mostly holes. A hole costs its owner nothing, but reading it through a mapping
 * costs the reader a zeroed page (on tmpfs and memfd, memory allocated and charged to
 * the agent's cgroup, not to the owner's): a 1 GiB .rodata of holes held the loop 2.3 s,
 * and the memfd of a user kept what the agent's search allocated. An executable is not
 * sparse (a few holes of padding, on file systems that make holes of zeros): the data
 * extents are counted, ECQ__SPARSE_EXTENTS of them at most. */
#define ECQ__SPARSE_MIN (1 << 20)
#define ECQ__SPARSE_EXTENTS 256
static const char *ecq__sparse(int fd)
{
    struct stat st;
    off_t at = 0, data = 0, hole;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= ECQ__SPARSE_MIN) return NULL;
    for (int i = 0; i < ECQ__SPARSE_EXTENTS && at < st.st_size; i++) {
        if ((at = lseek(fd, at, SEEK_DATA)) < 0) break; /* ENXIO: holes to the end */
        if ((hole = lseek(fd, at, SEEK_HOLE)) < 0) return NULL; /* no SEEK_HOLE: all data */
        data += hole - at, at = hole;
    }
    return data < st.st_size / 2 ? "a sparse file (more than half of it holes)" : NULL;
}

/* one executable mapping of the process: classified once, probed if it holds TLS */
static int ecq__discover_one(struct ecq__disc *d, const struct ecq__mapping *mp)
{
    struct ecq_capture *c = d->c;
    struct ecq_bpf_file_key id = mp->id;
    char mf[96], name[4200];
    uint8_t state = 0;
    if (d->want && (id.dev != d->want->dev || id.ino != d->want->ino)) return 0;
    d->found = 1;
    if (ecq__scan_seen(d->set, &id)) return 0;
    snprintf(name, sizeof name, "%s (pid %u)", mp->path, d->pid);
    /* hold the file open: the probes are attached through /proc/self/fd/N, which
     * stays valid when a short-lived process exits before we are done */
    snprintf(mf, sizeof mf, "/proc/%u/map_files/%llx-%llx", d->pid, mp->lo, mp->hi);
    int fd = open(mf, O_RDONLY | O_CLOEXEC);
    if (fd < 0) /* gone meanwhile: a later mapping reports it again */
        return d->gone = d->want != NULL;
    if (d->want) id = *d->want; /* the kernel's own name for it */
    else if (ecq__id_of_fd(fd, &id) < 0) return close(fd), 0;
    /* looked at already: by a scan, when this is a new file's record, or the other way round */
    if (bpf_map_lookup_elem(c->files_fd, &id, &state) == 0 && state == 1) return close(fd), d->want != NULL;
    snprintf(mf, sizeof mf, "/proc/self/fd/%d", fd);
    struct ecq__identify_job job = {mp->path, NULL, ecq__sparse(fd), 0};
    int read = job.over ? 0 : ecq__with_file(fd, mf, ecq__identify_fn, &job);
    if (job.over) ecq__log(c, "discovery: %s: skipped: %s", name, job.over);
    if (read >= 0 && job.plain) c->st.go_no_tls++; /* once: the file is marked looked at below */
    int rc = job.lib ? ecq__attach_file(c, job.lib, mf, name, c->o.pid != 0, &ecq__bssl_apart) : 0;
    struct stat st;
    uint32_t owner = fstat(fd, &st) == 0 ? st.st_uid : 0;
    close(fd);
    if (rc > 0) d->total += rc;
    if (rc == -EAGAIN) { /* its BoringSSL waits its turn: the process looked at again later */
        (void)bpf_map_delete_elem(c->files_fd, &id);
        ecq__catch_up(c, d->pid, owner);
        return d->want != NULL;
    }
    if (read >= 0 && rc != -EFAULT) ecq__mark_file(c, id);
    else if (d->want) (void)bpf_map_delete_elem(c->files_fd, d->want); /* unreadable now: reported again */
    return d->want != NULL;
}

/* ... and the walk cut short once c->until_us is past: the rest next step, after this
 * mapping (so each step goes one further at least) */
static int ecq__discover_fn(void *ctx, const struct ecq__mapping *mp)
{
    struct ecq__disc *d = ctx;
    if (mp->lo < d->from) return 0; /* looked at by an earlier step */
    int stop = ecq__discover_one(d, mp);
    if (!stop && d->c->until_us && ecq__now_us() > d->c->until_us) d->from = mp->hi, stop = d->cut = 1;
    return stop;
}

/* Looks at the files process pid maps for execution (only the one named by want, if
 * given; where cur says, if given): each new one is classified once, through
 * /proc/PID/map_files (the file itself, whatever root or mount namespace the process
 * sees it in), and probed if it holds TLS. Returns probes attached, -1 if want is not
 * (yet) mapped, -2 if the process is gone (or a zombie: no mappings left), -3 if
 * c->until_us came first (cur: where to go on). */
static int ecq__discover_pid(struct ecq_capture *c, uint32_t pid, const struct ecq_bpf_file_key *want,
                             struct ecq__scan_set *set, struct ecq__maps_cursor *cur)
{
    struct ecq__maps_cursor none = {NULL, pid, 0};
    if (!cur) cur = &none;
    if (cur->f && cur->pid != pid) fclose(cur->f), cur->f = NULL; /* another's: from is kept */
    struct ecq__disc d = {c, pid, want, set, cur->from, 0, 0, 0, 0};
    FILE *f = cur->f ? cur->f : ecq__maps_open(pid);
    int lines = f ? ecq__maps_read(f, ecq__discover_fn, &d) : -1;
    cur->f = NULL, cur->pid = pid, cur->from = 0;
    if (d.cut && cur != &none) cur->f = f, cur->from = d.from; /* read on next step */
    else if (f) fclose(f);
    if (lines < 0) return want ? -2 : 0;
    if (d.gone) return -2;
    if (d.cut) return -3;
    return want && !d.found ? (lines ? -1 : -2) : d.total;
}

/* The scan of every process: at start, and when the catch-up overflowed. /proc is
 * listed at once (cheap); the processes are looked at a step at a time, so a user who
 * maps thousands of files holds up neither the start nor the loop. */
static void ecq__scan_start(struct ecq_capture *c)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int cap = c->nscan;
    c->nscan = c->scan_at = 0;
    if (c->scan_cur.f) fclose(c->scan_cur.f);
    c->scan_cur = (struct ecq__maps_cursor){0};
    if (!c->scan_set.slot && (c->scan_set.slot = calloc(1 << 14, sizeof(struct ecq_bpf_file_key))))
        c->scan_set.cap = 1 << 14;
    if (!d) return;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        if (c->nscan == cap) {
            uint32_t *n = realloc(c->scan, (size_t)(cap = cap ? cap * 2 : 1024) * sizeof *n);
            if (!n) break; /* the others' new files are still reported as they are mapped */
            c->scan = n;
        }
        c->scan[c->nscan++] = (uint32_t)atoi(e->d_name);
    }
    closedir(d);
}

/* the scan, until until_us; 1 when it is done */
static int ecq__scan_run(struct ecq_capture *c, int64_t until_us)
{
    c->until_us = until_us;
    while (c->scan_at < c->nscan) {
        if (ecq__discover_pid(c, c->scan[c->scan_at], NULL, &c->scan_set, &c->scan_cur) == -3) break;
        c->scan_at++;
        if (ecq__now_us() > until_us) break;
    }
    c->until_us = 0;
    if (c->scan_at < c->nscan) return 0;
    free(c->scan), free(c->scan_set.slot);
    c->scan = NULL, c->scan_set = (struct ecq__scan_set){0};
    c->nscan = c->scan_at = 0;
    ecq__log(c, "discovery: %d file(s) probed; following new processes (%d Go program(s) without crypto/tls "
                "skipped)", c->st.files, c->st.go_no_tls);
    return 1;
}

/* Discovery under a storm. Whoever maps new files by the thousand must not keep
 * anyone else's new library from being looked at: the queue of new files and the
 * catch-up serve users in turn (the next uid after the last one served), a user who
 * holds most of a full queue gives up a place to another, a file that finds no room
 * sends its process to the catch-up (all its files looked at again: it may map a
 * library once and never again), and one step spends at most ECQ__DISCOVERY_US on
 * discovery. Nothing is dropped without a count: deferred_files, lost_files. */

/* a process to look at again, once */
static void ecq__catch_up(struct ecq_capture *c, uint32_t pid, uint32_t uid)
{
    for (int i = 0; i < c->ncatchup; i++)
        if (c->catchup[i].pid == pid) return (void)(c->catchup[i].again = 1); /* once more when done */
    if (c->ncatchup == ECQ__CATCHUP_MAX) c->rescan_all = 1;
    else c->catchup[c->ncatchup++] = (struct ecq__catchup){pid, uid, 0, 0};
}

/* a file discovery will not look at now: reported again by its next mapping, and its
 * process caught up with */
static void ecq__defer(struct ecq_capture *c, const struct ecq_bpf_file_key *id, uint32_t pid, uint32_t uid)
{
    (void)bpf_map_delete_elem(c->files_fd, id);
    ecq__catch_up(c, pid, uid);
    c->st.deferred_files++;
}

/* A full queue: the user with the most places gives its newest one up to uid if uid
 * has fewer. 1 if there is room now. (Counted in one pass: it runs per record while
 * a storm lasts.) */
static int ecq__pending_room(struct ecq_capture *c, uint32_t uid)
{
    enum { SLOTS = 2 * ECQ__PENDING_MAX };
    struct { uint32_t uid; int n; } t[SLOTS];
    int mine = 0, top = 0, at = -1;
    memset(t, 0, sizeof t);
    for (int i = 0; i < c->npending; i++) {
        uint32_t u = c->pending[i].uid, h = (u * 2654435761u) % SLOTS;
        while (t[h].n && t[h].uid != u) h = (h + 1) % SLOTS;
        t[h].uid = u;
        if (++t[h].n >= top) top = t[h].n, at = i; /* the newest place of a top user */
        if (u == uid) mine = t[h].n;
    }
    if (at < 0 || mine + 1 >= top) return 0;
    struct ecq__pending *p = &c->pending[at];
    ecq__defer(c, &p->id, p->pid, p->uid);
    *p = c->pending[--c->npending];
    return 1;
}

/* a file_rb record: a process mapped a file nobody looked at yet */
static int ecq__on_file(void *ctx, void *data, size_t size)
{
    struct ecq_capture *c = ctx;
    const struct ecq_bpf_file *r = data;
    struct ecq_bpf_file_key id;
    if (size < sizeof *r) return 0;
    id = (struct ecq_bpf_file_key){r->dev, r->ino, r->gen, 0};
    if (!c->follow) return 0;
    if (c->npending == ECQ__PENDING_MAX && !ecq__pending_room(c, r->uid)) {
        ecq__defer(c, &id, r->pid, r->uid);
        return 0;
    }
    c->pending[c->npending++] = (struct ecq__pending){id, r->pid, r->uid, ecq__now_ms()};
    return 0;
}

/* The index of the entry whose user comes next after c->turn (uids in a circle), -1 if
 * none: each entry i has uid at base + i * stride. */
static int ecq__next_turn(const struct ecq_capture *c, const void *base, size_t stride, int n)
{
    int best = -1;
    uint32_t bestd = 0;
    for (int i = 0; i < n; i++) {
        uint32_t uid = *(const uint32_t *)((const char *)base + (size_t)i * stride);
        uint32_t d = uid - c->turn - 1; /* distance after the last served, wrapping */
        if (best < 0 || d < bestd) best = i, bestd = d;
    }
    return best;
}

/* One new file, looked at; 0 done, 1 kept for the next step (its mmap is under way).
 * Finding it reads its process's maps, which a user can grow to 65,530 mappings: a
 * search that is not done by until (or within ECQ__LOOKUP_US) hands the process to the
 * catch-up, which reads them a step at a time, and so do its next new files meanwhile. */
#define ECQ__LOOKUP_US 1000
static int ecq__pending_one(struct ecq_capture *c, struct ecq__pending *p, int64_t now_ms, int64_t until)
{
    for (int i = 0; i < c->ncatchup; i++)
        if (c->catchup[i].pid == p->pid) return ecq__defer(c, &p->id, p->pid, p->uid), 0;
    int64_t least = ecq__now_us() + ECQ__LOOKUP_US;
    c->until_us = until > least ? until : least;
    int rc = ecq__discover_pid(c, p->pid, &p->id, NULL, NULL);
    c->until_us = 0;
    if (rc == -3) return ecq__defer(c, &p->id, p->pid, p->uid), 0;
    if (rc >= 0) return 0;
    if (rc == -1 && now_ms - p->since_ms < ECQ__PENDING_WAIT_MS) return 1;
    (void)bpf_map_delete_elem(c->files_fd, &p->id); /* gone: the next process that maps it reports it */
    return 0;
}

/* Looks at new files and caught-up processes, users in turn, for ECQ__DISCOVERY_US at
 * most (half of it for a scan of every process, if one is under way, so no storm keeps
 * it from ending); a mapping not in its process's maps yet (mmap under way) is tried
 * next step. */
static void ecq__discover_pending(struct ecq_capture *c)
{
    int64_t until, now_ms = ecq__now_ms();
    struct ecq__pending later[ECQ__PENDING_MAX];
    int nlater = 0;
    if (c->nscan) (void)ecq__scan_run(c, ecq__now_us() + ECQ__DISCOVERY_US / 2);
    until = ecq__now_us() + (c->nscan ? ECQ__DISCOVERY_US / 2 : ECQ__DISCOVERY_US);
    while (c->npending && ecq__now_us() < until) {
        int i = ecq__next_turn(c, &c->pending[0].uid, sizeof c->pending[0], c->npending);
        struct ecq__pending p = c->pending[i];
        c->pending[i] = c->pending[--c->npending];
        c->turn = p.uid;
        if (ecq__pending_one(c, &p, now_ms, until)) later[nlater++] = p;
    }
    for (int i = 0; i < nlater; i++) c->pending[c->npending++] = later[i];
    while (c->ncatchup && ecq__now_us() < until) {
        int i = ecq__next_turn(c, &c->catchup[0].uid, sizeof c->catchup[0], c->ncatchup);
        struct ecq__catchup q = c->catchup[i];
        c->catchup[i] = c->catchup[--c->ncatchup];
        c->turn = q.uid;
        c->until_us = until;
        struct ecq__maps_cursor *cur = &c->catch_cur;
        if (cur->f && (cur->pid != q.pid || cur->from != q.from)) fclose(cur->f), cur->f = NULL;
        cur->from = q.from;
        if (ecq__discover_pid(c, q.pid, NULL, NULL, cur) == -3) /* the rest later */
            q.from = cur->from, c->catchup[c->ncatchup++] = q;
        else if (q.again) /* it missed more while it was looked at: once more */
            q.from = 0, q.again = 0, c->catchup[c->ncatchup++] = q;
        c->until_us = 0;
    }
    if (c->rescan_all && !c->ncatchup && !c->npending && !c->nscan) {
        c->rescan_all = 0;
        ecq__log(c, "discovery: more processes to catch up with than it holds; looking at every process");
        ecq__scan_start(c);
    }
}

/* processes whose new files found the BPF side's ring full, for the catch-up */
static void ecq__take_missed(struct ecq_capture *c)
{
    uint32_t pid, next, uid;
    for (int n = 0; n < ECQ__CATCHUP_MAX && bpf_map_get_next_key(c->missed_fd, NULL, &next) == 0; n++) {
        pid = next;
        if (bpf_map_lookup_and_delete_elem(c->missed_fd, &pid, &uid) < 0 &&
            (bpf_map_lookup_elem(c->missed_fd, &pid, &uid) < 0 || bpf_map_delete_elem(c->missed_fd, &pid) < 0))
            break;
        ecq__catch_up(c, pid, uid);
    }
}

/* adds a mapped file to the set of live ones */
static int ecq__live_fn(void *ctx, const struct ecq__mapping *m)
{
    (void)ecq__scan_seen(ctx, &m->id);
    return 0;
}

/* Detaches the probes of discovered files that no process maps any more, so a host
 * that runs containers for months does not pile up probes (and descriptors). */
static void ecq__sweep(struct ecq_capture *c)
{
    struct ecq__scan_set live = {calloc(1 << 15, sizeof(struct ecq_bpf_file_key)), 1 << 15};
    struct dirent *e;
    DIR *d;
    int any = 0, keep = 0, removed = 0;
    for (int i = 0; i < c->nprobed; i++) any |= !c->probed[i].sticky;
    if (!any || !live.slot || !(d = opendir("/proc"))) {
        free(live.slot);
        return;
    }
    while ((e = readdir(d)))
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
            (void)ecq__maps_walk((uint32_t)atoi(e->d_name), ecq__live_fn, &live);
    closedir(d);
    for (int i = 0; i < c->nprobed; i++) {
        struct ecq__probed *p = &c->probed[i];
        struct ecq_bpf_file_key key = {p->id.dev, p->id.ino, 0, 0};
        if (p->sticky || ecq__scan_seen(&live, &key)) { /* mapped: keep (seen() found it) */
            c->probed[keep++] = *p;
            continue;
        }
        for (int j = p->first; j < p->first + p->n; j++) ecq__link_free(&c->links[j]);
        ecq__log(c, "%s: no process maps it any more; %d probes detached", p->name, p->probes);
        (void)bpf_map_delete_elem(c->files_fd, &p->id); /* the next mapping reports it again */
        c->st.files--, c->st.probes -= p->probes, c->st.links -= p->n;
        removed++;
    }
    c->nprobed = keep;
    free(live.slot);
    if (!removed) return;
    /* close the gaps in links[], and move each file's range with them */
    int w = 0;
    for (int r = 0; r < c->nlinks; r++) {
        if (!c->links[r].bl && c->links[r].fd < 0) continue;
        for (int i = 0; i < c->nprobed; i++)
            if (c->probed[i].first == r) c->probed[i].first = w;
        c->links[w++] = c->links[r];
    }
    c->nlinks = w;
}

static int ecq__attach(struct ecq_capture *c, const char *lib, const char *path)
{
    char found[PATH_MAX];
    int total = 0, rc;
    if (lib) {
        const struct ecq__lib *k = ecq__lib_named(lib);
        if (!k) return -EINVAL;
        if (!path) {
            if (ecq__locate(c, k, found, sizeof found) < 0) {
                ecq__log(c, "%s: not found (%s)", k->name,
                               c->o.pid ? "not mapped by the target process" : "ld.so cache and library directories");
                return -ENOENT;
            }
            path = found;
        }
        return ecq__attach_file(c, k, path, path, 1, NULL);
    }
    if (c->o.pid) { /* that process: everything it maps now and later, whatever its root */
        total = ecq__discover_pid(c, c->o.pid, NULL, NULL, NULL);
        c->follow = 1; /* only its own new files are reported (the BPF side filters by pid) */
        return total > 0 ? total : -ENOENT;
    }
    /* the host's own libraries, which processes that start later will load */
    for (size_t i = 0; i < ECQ__NLIBS; i++) {
        if ((c->attached & (1u << i)) || !(ecq__libs[i].find & ECQ__FIND_SONAME)) continue;
        if (ecq__locate(c, &ecq__libs[i], found, sizeof found) < 0) {
            ecq__log(c, "%s: not in the ld.so cache or library directories", ecq__libs[i].name);
            continue;
        }
        if ((rc = ecq__attach_file(c, &ecq__libs[i], found, found, 1, NULL)) > 0) total += rc;
    }
    /* then every file every process maps now (what ECQ__STARTUP_SCAN_US leaves goes on
     * in ecq_capture_step), and from now on every new one */
    int before = c->st.probes;
    c->follow = 1;
    c->next_sweep_ms = ecq__now_ms() + (int64_t)c->o.detach_sec * 1000;
    ecq__scan_start(c);
    if (!ecq__scan_run(c, ecq__now_us() + ECQ__STARTUP_SCAN_US))
        ecq__log(c, "discovery: %d file(s) probed so far; %d of %d processes left, looked at while capturing",
                 c->st.files, c->nscan - c->scan_at, c->nscan);
    total += c->st.probes - before;
    return total ? total : c->nscan ? 0 : -ENOENT;
}

int ecq_capture_attach(struct ecq_capture *c, const char *lib, const char *path)
{
    libbpf_print_fn_t host = ecq__libbpf_enter(c);
    int rc = ecq__attach(c, lib, path);
    ecq__libbpf_leave(host);
    return rc;
}

/* ---- records -> events ----------------------------------------------------- */

/* an address as text, "" if unknown; IPv4 without printf (it runs for every record) */
static size_t ecq__addr_text(int family, const unsigned char *a, char *out, size_t cap)
{
    size_t n = 0;
    if (family == AF_INET) {
        for (int i = 0; i < 4; i++) {
            if (i) out[n++] = '.';
            n += ecq__dec(out + n, a[i]);
        }
        out[n] = 0;
        return n;
    }
    if (family != AF_INET6 || !inet_ntop(family, a, out, (socklen_t)cap)) out[0] = 0;
    return strlen(out);
}

/* a connection's identity (what its uuid says), hashed; never 0 */
static uint64_t ecq__conn_key(const struct ecq_bpf_event *r)
{
    uint64_t k = 1469598103934665603ull, v[4] = {(uint64_t)r->pid << 32 | r->conn_tid, (uint64_t)(uint32_t)r->fd, r->seq, r->conn};
    for (int i = 0; i < 4; i++) k = (k ^ v[i]) * 1099511628211ull, k ^= k >> 29;
    return k | 1;
}

/* Event.type of a record at the start of a call: ecq_classify, and for HTTP/2 frames
 * the side that sent them when the connection's client is known */
static uint32_t ecq__capture_type(struct ecq_capture *c, const struct ecq_bpf_event *r)
{
    uint32_t t = ecq_classify(r->data, r->len);
    int lone = r->len == 9 && r->data[3] <= 9 && !(r->data[5] & 0x80); /* Go reads frame headers alone */
    if (t != ECQ_TYPE_HTTP2_REQUEST && t != ECQ_TYPE_HTTP2_RESPONSE && !lone) return t;
    uint64_t key = ecq__conn_key(r);
    struct ecq__h2conn *e = &c->h2conn[key % ECQ__H2_CONNS];
    int w = r->dir == ECQ_DIR_WRITE;
    uint32_t side = ecq__h2_side(r->data, r->len);
    if (side != ECQ_TYPE_UNKNOWN) e->key = key, e->local_client = (side == ECQ_TYPE_HTTP2_REQUEST) == w;
    if (e->key != key) return t;
    return w == e->local_client ? ECQ_TYPE_HTTP2_REQUEST : ECQ_TYPE_HTTP2_RESPONSE;
}

/* an event to the sinks: the host's callback and the server */
static void ecq__capture_sink(void *ctx, const struct ecq_event *ev)
{
    struct ecq_capture *c = ctx;
    /* a payload in the record ring is lent to the frames, not copied (ecq__ring_read) */
    uintptr_t p = (uintptr_t)ev->payload.ptr, d = (uintptr_t)c->ring.data;
    int lend = c->ring_reading && p >= d && ev->payload.len <= 2 * c->ring.size &&
               p - d <= 2 * c->ring.size - ev->payload.len;
    if (c->o.on_event) c->o.on_event(c->o.user, ev);
    if (c->srv && ecq__server_event(c->srv, ev, lend) < 0) c->st.dropped++;
}

/* one ring-buffer record -> one Event to the sinks (through the merger, with merge);
 * a connection's end ends what the merger holds for it */
static int ecq__on_record(void *ctx, void *data, size_t size)
{
    struct ecq_capture *c = ctx;
    const struct ecq_bpf_event *r = data;
    char laddr[INET6_ADDRSTRLEN], raddr[INET6_ADDRSTRLEN], comm[17];
    struct ecq_event ev = {0};
    size_t n, cl, ll, rl;
    if (size < ECQ_EVENT_HDR_SIZE || r->len > size - ECQ_EVENT_HDR_SIZE) return 0;
    if (r->dir == ECQ_DIR_CLOSE) {
        if (c->merge) ecq__merge_end_key(c->merge, ecq__conn_key(r));
        return 0;
    }
    c->st.records++;
    ecq__lag_add(&c->lag_read, c->read_mono_ns - (int64_t)r->ts_ns, 1);
    if (c->nstep_ts < ECQ__STEP_TS) c->step_ts[c->nstep_ts++] = r->ts_ns;
    memcpy(comm, r->comm, 16);
    comm[16] = 0;
    cl = strlen(comm);
    ll = ecq__addr_text(r->family, r->laddr, laddr, sizeof laddr);
    rl = ecq__addr_text(r->family, r->raddr, raddr, sizeof raddr);
    /* eCapture's pid_tid_comm_fd, and the socket's number: fds are reused (written
     * without printf: this runs for every record) */
    n = ecq__dec(c->uuid, r->pid);
    c->uuid[n++] = '_';
    n += ecq__dec(c->uuid + n, r->conn_tid);
    c->uuid[n++] = '_';
    memcpy(c->uuid + n, comm, cl), n += cl;
    if (r->fd >= 0) {
        c->uuid[n++] = '_';
        n += ecq__dec(c->uuid + n, (uint64_t)r->fd);
        c->uuid[n++] = '_';
        n += ecq__dec(c->uuid + n, r->seq);
    } else {
        n += (size_t)snprintf(c->uuid + n, sizeof c->uuid - n, "_0x%llx", r->conn);
    }
    ev.timestamp = (int64_t)r->ts_ns + c->mono_to_real_ns;
    ev.uuid = (struct ecq_bytes){c->uuid, n};
    ev.pid = r->pid;
    ev.pname = (struct ecq_bytes){comm, cl};
    /* a write goes from the local end to the peer; a read the other way */
    int w = r->dir == ECQ_DIR_WRITE;
    ev.src_ip = (struct ecq_bytes){w ? laddr : raddr, w ? ll : rl};
    ev.dst_ip = (struct ecq_bytes){w ? raddr : laddr, w ? rl : ll};
    ev.src_port = r->family ? (w ? r->lport : r->rport) : 0;
    ev.dst_port = r->family ? (w ? r->rport : r->lport) : 0;
    ev.type = r->offset == 0 ? ecq__capture_type(c, r) : ECQ_TYPE_UNKNOWN;
    ev.length = r->len;
    ev.payload = (struct ecq_bytes){(const char *)r->data, r->len};
    if (c->merge) (void)ecq__merge_feed(c->merge, &ev, !w, ecq__conn_key(r)); /* -ENOMEM: passed on whole */
    else ecq__capture_sink(c, &ev);
    /* a step hands the server at most ECQ__STEP_BYTES: the rest waits in the ring until
     * the clients' sockets took this much, so a burst is not a slow consumer */
    c->step_bytes += size;
    return c->step_bytes >= ECQ__STEP_BYTES ? -EAGAIN : 0;
}

static int64_t ecq__mono_to_real(void)
{
    struct timespec m, r;
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_REALTIME, &r);
    return ((int64_t)r.tv_sec - m.tv_sec) * 1000000000 + (r.tv_nsec - m.tv_nsec);
}

/* sums the per-CPU loss counters; logs when they rose */
static void ecq__check_losses(struct ecq_capture *c)
{
    int ncpu = libbpf_num_possible_cpus();
    uint64_t sums[ECQ_CNT_MAX] = {0}, vals[512];
    if (ncpu <= 0 || ncpu > (int)ECQ__ARRAY_LEN(vals)) return;
    for (uint32_t k = 0; k < ECQ_CNT_MAX; k++) {
        if (bpf_map_lookup_elem(c->counters_fd, &k, vals) < 0) continue;
        for (int i = 0; i < ncpu; i++) sums[k] += vals[i];
    }
    if (sums[ECQ_CNT_LOST_RECORDS] > c->st.lost_records || sums[ECQ_CNT_LOST_CALLS] > c->st.lost_calls) {
        ecq__log(c, "capture lost %" PRIu64 " record(s), %" PRIu64 " bytes, and %" PRIu64 " call(s) "
                               "since the last report (ring buffer full, unreadable buffer, or the calls table "
                               "full); %" PRIu64 " records, %" PRIu64 " calls in all",
                       sums[ECQ_CNT_LOST_RECORDS] - c->st.lost_records, sums[ECQ_CNT_LOST_BYTES] - c->st.lost_bytes,
                       sums[ECQ_CNT_LOST_CALLS] - c->st.lost_calls, sums[ECQ_CNT_LOST_RECORDS],
                       sums[ECQ_CNT_LOST_CALLS]);
        c->st.lost_records = sums[ECQ_CNT_LOST_RECORDS];
        c->st.lost_bytes = sums[ECQ_CNT_LOST_BYTES];
        c->st.lost_calls = sums[ECQ_CNT_LOST_CALLS];
    }
    if (sums[ECQ_CNT_LOST_FILES] > c->st.lost_files) {
        ecq__log(c, "discovery: %" PRIu64 " new file(s) not reported (file ring full); their processes are "
                    "looked at again", sums[ECQ_CNT_LOST_FILES] - c->st.lost_files);
        c->st.lost_files = sums[ECQ_CNT_LOST_FILES];
    }
    if (c->st.deferred_files > c->deferred_logged) {
        ecq__log(c, "discovery: %" PRIu64 " new file(s) deferred (queue full, a process too big to look "
                    "one up in, or BoringSSL waiting its turn to be identified); their processes are looked at again, users in turn (%" PRIu64 " in all)", c->st.deferred_files - c->deferred_logged,
                 c->st.deferred_files);
        c->deferred_logged = c->st.deferred_files;
    }
}

/* ---- open, step, close ----------------------------------------------------- */

/* Libraries loaded later: the tracepoint of mmap alone, which costs the host's other
 * system calls least. A program on any system-call tracepoint sends every system call of
 * every task down the kernel's slow path; the raw sys_enter program then also runs on
 * each (measured on the project's VM: getppid() +15% under raw sys_enter, +6% under
 * sys_enter_mmap). Its id is read from tracefs, mounted here if nobody has; where that
 * fails, the raw tracepoint. */
static void ecq__attach_mmap(struct ecq_capture *c)
{
    struct bpf_program *tp = ecq__prog(c, "mmap_tp"), *raw = ecq__prog(c, "mmap_file");
    struct bpf_link *l = NULL;
    int err = ENOENT;
    if (access("/sys/kernel/tracing/events", F_OK) < 0 && access("/sys/kernel/debug/tracing/events", F_OK) < 0) {
        if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0)
            ecq__log(c, "discovery: mounted tracefs on /sys/kernel/tracing (the syscall tracepoints' names)");
        else
            err = errno;
    }
    if (tp && (access("/sys/kernel/tracing/events/syscalls/sys_enter_mmap", F_OK) == 0 ||
               access("/sys/kernel/debug/tracing/events/syscalls/sys_enter_mmap", F_OK) == 0))
        err = (l = bpf_program__attach_tracepoint(tp, "syscalls", "sys_enter_mmap")) ? 0 : errno;
    if (!l && raw && (l = bpf_program__attach_raw_tracepoint(raw, "sys_enter")))
        ecq__log(c, "discovery: tracepoint syscalls:sys_enter_mmap unavailable (%s); using raw sys_enter, "
                    "which runs on every system call", strerror(err));
    if (!l) {
        ecq__log(c, "warning: sys_enter unavailable (%s): libraries loaded later are not discovered", strerror(errno));
        return;
    }
    (void)ecq__keep_link(c, l, -1);
}

/* which socket a TLS call used: the sock tracepoints, else kprobes on the TCP calls */
static void ecq__attach_socket_probes(struct ecq_capture *c)
{
    static const struct { const char *prog, *tp, *kprog, *kfunc; } t[] = {
        {"sock_send", "sock_send_length", "kp_tcp_sendmsg", "tcp_sendmsg"},
        {"sock_recv", "sock_recv_length", "kp_tcp_recvmsg", "tcp_recvmsg"},
        {"sock_state", "inet_sock_set_state", NULL, NULL},
        {"exec_file", "sched_process_exec", NULL, NULL},
        {"proc_exit", "sched_process_exit", NULL, NULL},
    };
    for (size_t i = 0; i < ECQ__ARRAY_LEN(t); i++) {
        struct bpf_program *p = ecq__prog(c, t[i].prog);
        struct bpf_link *l = p ? bpf_program__attach_raw_tracepoint(p, t[i].tp) : NULL;
        if (!l && t[i].kprog && (p = ecq__prog(c, t[i].kprog)) && (l = bpf_program__attach_kprobe(p, false, t[i].kfunc)))
            ecq__log(c, "tracepoint %s unavailable; using a kprobe on %s", t[i].tp, t[i].kfunc);
        if (!l) {
            ecq__log(c, "warning: %s unavailable (%s): %s", t[i].tp, strerror(errno),
                           t[i].kprog ? "events will lack addresses"
                           : i == 2 ? "cached sockets expire only with their TLS object"
                           : i == 3 ? "new executables are not discovered"
                                    : "calls of killed processes hold their place in the calls table");
            continue;
        }
        (void)ecq__keep_link(c, l, -1); /* on failure the link is gone: a warning-level loss */
    }
    ecq__attach_mmap(c);
}

/* The record ring, mapped for reading here rather than through libbpf's reader, which
 * moves the consumer position past each record as soon as its callback returns: frames
 * point at the records' payloads (ecq__msg_entry, lend), so the position may move only
 * once ecq__server_settle ended those loans. Its descriptor joins the file ring's epoll
 * set (ecq_capture_fd), which libbpf's reader never waits on here (ring_buffer__consume). */
static int ecq__ring_map(struct ecq_capture *c, int fd, size_t size)
{
    long page = sysconf(_SC_PAGESIZE);
    struct epoll_event ev = {.events = EPOLLIN};
    void *cons, *prod;
    if (page <= 0 || !size || (size & (size - 1))) return -EINVAL;
    if ((cons = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) return -errno;
    c->ring.cons = cons, c->ring.page = page;
    if ((prod = mmap(NULL, (size_t)page + 2 * size, PROT_READ, MAP_SHARED, fd, page)) == MAP_FAILED) return -errno;
    c->ring.prod = prod, c->ring.data = (const uint8_t *)prod + page, c->ring.size = size;
    if (epoll_ctl(ring_buffer__epoll_fd(c->rb), EPOLL_CTL_ADD, fd, &ev) < 0) return -errno;
    return 0;
}

static void ecq__ring_unmap(struct ecq_capture *c)
{
    if (c->ring.cons) munmap(c->ring.cons, (size_t)c->ring.page);
    if (c->ring.prod) munmap((void *)c->ring.prod, (size_t)c->ring.page + 2 * c->ring.size);
    c->ring.cons = NULL, c->ring.prod = NULL;
}

/* Opens and loads the embedded BPF object, attaches the socket tracepoints and makes
 * the ring buffers. 0, or a negative errno (logged). */
static int ecq__load(struct ecq_capture *c)
{
    struct ecq_bpf_cfg bcfg;
    int rc;
    LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "ecaptureq");
    c->obj = bpf_object__open_mem(ecq__bpf_obj, (size_t)(ecq__bpf_obj_end - ecq__bpf_obj), &oo);
    if (!c->obj) {
        rc = -errno;
        ecq__log(c, "error: cannot open the embedded BPF object: %s", strerror(-rc));
        return rc;
    }
    struct bpf_map *rodata = bpf_object__find_map_by_name(c->obj, ".rodata");
    struct bpf_map *rb = bpf_object__find_map_by_name(c->obj, "rb");
    struct bpf_map *counters = bpf_object__find_map_by_name(c->obj, "counters");
    struct bpf_map *files = bpf_object__find_map_by_name(c->obj, "files");
    struct bpf_map *file_rb = bpf_object__find_map_by_name(c->obj, "file_rb");
    struct bpf_map *idle = bpf_object__find_map_by_name(c->obj, "idle");
    struct bpf_map *missed = bpf_object__find_map_by_name(c->obj, "missed");
    size_t rsz = 0;
    void *rv = rodata ? (void *)bpf_map__initial_value(rodata, &rsz) : NULL;
    if (!rv || rsz < sizeof bcfg || !rb || !counters || !files || !file_rb || !idle || !missed) {
        ecq__log(c, "error: the BPF object lacks its configuration or one of its maps");
        return -ENOENT;
    }
    bcfg = (struct ecq_bpf_cfg){c->o.pid, c->o.uid, ((uint64_t)c->o.ring_mb << 20) / 4};
    memcpy(rv, &bcfg, sizeof bcfg);
    c->multi = !c->o.perf_uprobes && ecq__have_uprobe_multi();
    for (int i = 0; c->multi && i < 2; i++) { /* programs for uprobe_multi links only, then */
        struct bpf_program *p = bpf_object__find_program_by_name(c->obj, i ? "on_return" : "on_enter");
        if (p) (void)bpf_program__set_expected_attach_type(p, (enum bpf_attach_type)ECQ__BPF_TRACE_UPROBE_MULTI);
    }
    if ((rc = bpf_map__set_max_entries(rb, c->o.ring_mb << 20)) < 0 || (rc = bpf_object__load(c->obj)) < 0) {
        ecq__log(c, "error: loading the BPF programs failed: %s", strerror(-rc));
        return rc;
    }
    ecq__attach_socket_probes(c);
    c->counters_fd = bpf_map__fd(counters);
    c->files_fd = bpf_map__fd(files);
    c->idle_fd = bpf_map__fd(idle);
    c->missed_fd = bpf_map__fd(missed);
    if (!(c->rb = ring_buffer__new(bpf_map__fd(file_rb), ecq__on_file, c, NULL)) ||
        (rc = ecq__ring_map(c, bpf_map__fd(rb), bpf_map__max_entries(rb))) < 0) {
        rc = c->rb ? rc : -errno;
        ecq__log(c, "error: ring buffer: %s", strerror(-rc));
        return rc;
    }
    return 0;
}

int ecq_capture_open(struct ecq_capture **out, struct ecq_server *srv, const struct ecq_capture_opts *opts)
{
    struct ecq_capture *c;
    char why[256];
    int rc;
    *out = NULL;
    if (!opts->ring_mb || (opts->ring_mb & (opts->ring_mb - 1)) || opts->ring_mb > 1024) return -EINVAL;
    if (!(c = calloc(1, sizeof *c)) || !(c->set = malloc(sizeof *c->set)) || !(c->plan = malloc(sizeof *c->plan))) {
        ecq_capture_close(c);
        return -ENOMEM;
    }
    c->srv = srv;
    c->o = *opts;
    if (opts->merge && ecq_merge_open(&c->merge, opts->merge_idle_ms, ecq__capture_sink, c) < 0) {
        ecq_capture_close(c);
        return -ENOMEM;
    }
    c->mono_to_real_ns = ecq__mono_to_real();
    c->next_check_ms = ecq__now_ms() + ECQ__CHECK_MS;
    if ((rc = ecq_capture_check(why, sizeof why)) < 0) {
        ecq__log(c, "error: %s", why);
    } else if (opts->pid && kill((pid_t)opts->pid, 0) < 0 && errno == ESRCH) {
        ecq__log(c, "error: process %u: no such process", opts->pid);
        rc = -ESRCH;
    } else {
        ecq__log(c, "%s", why); /* the kernel and its features */
        libbpf_print_fn_t host = ecq__libbpf_enter(c);
        rc = ecq__load(c);
        ecq__libbpf_leave(host);
    }
    if (rc < 0) {
        ecq_capture_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int ecq_capture_fd(const struct ecq_capture *c) { return ring_buffer__epoll_fd(c->rb); }

/* Hands the ring's records to ecq__on_record, as far as the producer has committed them
 * or until a step's worth (ECQ__STEP_BYTES: -EAGAIN). The step's frames are written to
 * the clients' sockets (timed from each record's event), what a full socket kept is
 * copied out of the ring, and only then does the consumer position move. Returns the
 * records taken, or -EAGAIN with more left. */
static int ecq__ring_read(struct ecq_capture *c)
{
    uint64_t cons = *c->ring.cons, prod = __atomic_load_n(c->ring.prod, __ATOMIC_ACQUIRE);
    int n = 0, rc = 0;
    c->ring_reading = 1;
    while (cons < prod && !rc) {
        const uint8_t *h = c->ring.data + (cons & (c->ring.size - 1));
        uint32_t len = __atomic_load_n((const uint32_t *)h, __ATOMIC_ACQUIRE);
        if (len & BPF_RINGBUF_BUSY_BIT) break; /* reserved, not yet committed: the next pass */
        cons += (BPF_RINGBUF_HDR_SZ + (len & ~(uint32_t)BPF_RINGBUF_DISCARD_BIT) + 7) & ~(uint64_t)7;
        if (len & BPF_RINGBUF_DISCARD_BIT) continue;
        rc = ecq__on_record(c, (void *)(h + BPF_RINGBUF_HDR_SZ), len);
        n++;
    }
    c->ring_reading = 0;
    if (c->srv) {
        int behind = ecq__server_flush(c->srv);
        if (!behind && c->srv->ncl) {
            int64_t now = ecq__mono_ns();
            for (int i = 0; i < c->nstep_ts; i++) ecq__lag_add(&c->lag_sent, now - (int64_t)c->step_ts[i], 1);
        }
        ecq__server_settle(c->srv);
    }
    __atomic_store_n(c->ring.cons, cons, __ATOMIC_RELEASE);
    return rc < 0 ? rc : n;
}

/* tells the BPF side whether records must wake the consumer (it went idle) */
static void ecq__set_idle(struct ecq_capture *c, int idle)
{
    uint32_t zero = 0, v = (uint32_t)idle;
    if (bpf_map_update_elem(c->idle_fd, &zero, &v, BPF_ANY) == 0) c->idle = idle;
    c->win_start_ns = c->read_mono_ns, c->win_records = 0;
}

/* One pass over the rings, handing the server at most ECQ__STEP_BYTES (c->more: it
 * stopped there, the next pass is due at once). Returns the records taken, or a
 * negative errno. */
static int ecq__drain(struct ecq_capture *c)
{
    uint64_t before = c->st.records;
    c->step_bytes = 0;
    c->nstep_ts = 0;
    c->read_mono_ns = ecq__mono_ns();
    int n = ecq__ring_read(c), f = ring_buffer__consume(c->rb); /* then the file ring */
    c->more = n == -EAGAIN;
    return c->more ? (int)(c->st.records - before) : n < 0 ? n : f < 0 ? f : n;
}

/* The drain adapts to the record rate, judged over ECQ__RATE_WINDOW_NS: while many
 * records flow, every ECQ__BUSY_US with no wakeup per record (which would cost each
 * uprobe hit a wakeup of its own); when few do, the consumer goes idle: it waits on the
 * ring's descriptor with no timer, and the BPF side wakes it with each record, which
 * costs less than the timer's wakeups and reaches the reader sooner. */
static int ecq__step(struct ecq_capture *c)
{
    int n = ecq__drain(c);
    if (n > 0) c->win_records += (uint64_t)n;
    if (c->idle && c->win_records > ECQ__WAKE_MAX) {
        ecq__set_idle(c, 0);
    } else if (c->read_mono_ns - c->win_start_ns >= ECQ__RATE_WINDOW_NS) {
        int low = !c->idle && c->win_records < ECQ__WAKE_MIN;
        c->win_start_ns = c->read_mono_ns, c->win_records = 0;
        if (low) {
            ecq__set_idle(c, 1);
            int m = ecq__drain(c); /* came before the flag did, and woke nobody */
            if (m > 0) n = n > 0 ? n + m : m;
        }
    }
    if (c->nbssl) ecq__bssl_poll(c);
    if ((c->npending || c->ncatchup || c->rescan_all || c->nscan) && ecq__now_us() >= c->next_discovery_us) {
        ecq__discover_pending(c); /* not on every wakeup a client's traffic makes: */
        c->next_discovery_us = ecq__now_us() + ECQ__DISCOVERY_US; /* as long again for the rest */
    }
    if (c->merge) ecq_merge_tick(c->merge); /* batches gone idle */
    int64_t now = ecq__now_ms();
    if (now >= c->next_check_ms) {
        c->next_check_ms = now + ECQ__CHECK_MS;
        c->mono_to_real_ns = ecq__mono_to_real();
        ecq__check_losses(c);
        if (c->follow) ecq__take_missed(c);
        if (c->follow && c->o.detach_sec && now >= c->next_sweep_ms) {
            c->next_sweep_ms = now + (int64_t)c->o.detach_sec * 1000;
            ecq__sweep(c);
        }
        if (c->o.pid && !c->target_gone && kill((pid_t)c->o.pid, 0) < 0 && errno == ESRCH) {
            c->target_gone = 1;
            ecq__log(c, "process %u exited; still capturing should it come back", c->o.pid);
        }
    }
    return n;
}

int ecq_capture_step(struct ecq_capture *c)
{
    libbpf_print_fn_t host = ecq__libbpf_enter(c);
    int n = ecq__step(c);
    ecq__libbpf_leave(host);
    return n;
}

static int ecq__capture_next_us(const struct ecq_capture *c);

static int ecq__next_us(const struct ecq_capture *c)
{
    int us = ecq__capture_next_us(c);
    int64_t merge = c->merge ? ecq__merge_due_us(c->merge) : -1;
    return merge >= 0 && merge < us ? (int)merge : us;
}

static int ecq__capture_next_us(const struct ecq_capture *c)
{
    if (c->more) return 0;
    if (c->npending || c->ncatchup || c->nscan || c->rescan_all) { /* discovery's next turn */
        int64_t wait = c->next_discovery_us - ecq__now_us();
        return wait < 0 ? 0 : wait < ECQ__BUSY_US || c->idle ? (int)wait : ECQ__BUSY_US;
    }
    if (!c->idle) return ECQ__BUSY_US;
    int64_t left = c->next_check_ms - ecq__now_ms();
    return left <= 0 ? 0 : left > INT_MAX / 1000 ? INT_MAX : (int)(left * 1000);
}

int ecq_capture_next_us(const struct ecq_capture *c)
{
    int us = ecq__next_us(c);
    return c->nbssl && us > ECQ__BSSL_POLL_US ? ECQ__BSSL_POLL_US : us; /* a child's answer, looked for */
}

void ecq_capture_stats(const struct ecq_capture *c, struct ecq_capture_stats *st)
{
    *st = c->st;
    st->scan_left = c->nscan - c->scan_at;
    if (c->merge) {
        struct ecq_merge_stats ms;
        ecq_merge_stats(c->merge, &ms);
        st->merged_out = ms.out, st->merged_early = ms.early;
    }
}

/* every ECQ__UNLINK_THREADS-th link from first on, detached */
struct ecq__unlink_job {
    struct ecq__link *links;
    int first, n;
};

#define ECQ__UNLINK_THREADS 16

static void *ecq__unlink(void *arg)
{
    struct ecq__unlink_job *j = arg;
    for (int i = j->first; i < j->n; i += ECQ__UNLINK_THREADS) ecq__link_free(&j->links[i]);
    return NULL;
}

/* Detaches every link. Each uprobe link waits for a grace period as it goes (tens of
 * milliseconds), one after another when one thread closes them: after a long run of
 * discovery, 58 links took 1.5 s to exit. Closed by up to 16 short-lived threads, the
 * waits overlap; the loop itself stays one thread, and a thread that cannot be made
 * leaves its share to this one. */
static void ecq__links_free_all(struct ecq_capture *c)
{
    pthread_t th[ECQ__UNLINK_THREADS];
    struct ecq__unlink_job jobs[ECQ__UNLINK_THREADS];
    int started[ECQ__UNLINK_THREADS] = {0}, nt = c->nlinks < ECQ__UNLINK_THREADS ? c->nlinks : ECQ__UNLINK_THREADS;
    for (int t = 0; t < nt; t++) {
        jobs[t] = (struct ecq__unlink_job){c->links, t, c->nlinks};
        started[t] = t > 0 && pthread_create(&th[t], NULL, ecq__unlink, &jobs[t]) == 0;
    }
    for (int t = 0; t < nt; t++)
        if (!started[t]) ecq__unlink(&jobs[t]);
    for (int t = 0; t < nt; t++)
        if (started[t]) pthread_join(th[t], NULL);
    c->st.links = 0;
}

/* at stop: how long records took through the agent, in percentiles */
static void ecq__log_lags(struct ecq_capture *c)
{
    const struct ecq__lag *r = &c->lag_read, *w = &c->lag_sent;
    if (!r->count) return;
    ecq__log(c, "latency: event to the agent's read p50 %" PRIu64 " p99 %" PRIu64 " max %" PRIu64 " us (%" PRIu64
                " records); to its frame written p50 %" PRIu64 " p99 %" PRIu64 " max %" PRIu64 " us (%" PRIu64 " timed)",
             ecq__lag_pct(r, 500), ecq__lag_pct(r, 990), r->max_us, r->count, ecq__lag_pct(w, 500), ecq__lag_pct(w, 990),
             w->max_us, w->count);
    if (c->srv && c->srv->lent_n)
        ecq__log(c, "payloads of %u bytes or more: %" PRIu64 " frame(s) written from the ring's memory, %" PRIu64
                    " of them copied out of it for a client behind", ECQ__LEND_MIN, c->srv->lent_n, c->srv->lent_copied);
}

void ecq_capture_close(struct ecq_capture *c)
{
    if (!c) return;
    for (int i = 0; i < c->nbssl; i++) /* children identifying BoringSSL: not waited for */
        kill(c->bssl[i].pid, SIGKILL), waitpid(c->bssl[i].pid, NULL, 0), close(c->bssl[i].rfd), close(c->bssl[i].fd);
    libbpf_print_fn_t host = ecq__libbpf_enter(c);
    /* detached first, so that nothing is written to the ring after the last drain */
    ecq__links_free_all(c);
    if (c->rb) {
        /* what is left, ECQ__STEP_BYTES at a time; nothing if the record ring could not be
         * mapped (the capture failed to open there: the file ring was made first) */
        while (c->ring.prod && (ecq__drain(c), c->more))
            ;
        ecq__check_losses(c);
        ecq__log_lags(c);
        ring_buffer__free(c->rb);
    }
    ecq__ring_unmap(c);
    ecq_merge_close(c->merge); /* what it holds, to the sinks */
    bpf_object__close(c->obj);
    ecq__libbpf_leave(host);
    free(c->links);
    free(c->set);
    free(c->plan);
    free(c->probed);
    free(c->scan);
    free(c->scan_set.slot);
    if (c->scan_cur.f) fclose(c->scan_cur.f);
    if (c->catch_cur.f) fclose(c->catch_cur.f);
    free(c);
}
#endif /* ECAPTUREQ_NO_BPF */

#ifndef ECAPTUREQ_NO_MAIN
/* =========================================================================
 * Command line
 * ========================================================================= */

#include <getopt.h>

struct ecq__opts {
    struct ecq_config cfg;
    const char *origins[16];
    int no_viewer;
    char token_buf[4098];       /* a token of up to 4096 bytes, its newline, NUL */
};

static int64_t ecq__realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void ecq__usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void ecq__usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("ecaptureq: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see ecaptureq --help)\n", stderr);
    exit(2);
}

static uint64_t ecq__num(const char *flag, const char *v, uint64_t lo, uint64_t hi)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (!*v || *end || errno || v[0] == '-' || n < lo || n > hi)
        ecq__usage_error("%s wants a whole number from %" PRIu64 " to %" PRIu64 ", not '%s'", flag, lo, hi, v);
    return n;
}

enum { ECQ__OPT_URL = 1000, ECQ__OPT_HB, ECQ__OPT_BUF, ECQ__OPT_MAXC, ECQ__OPT_MAXMSG, ECQ__OPT_TOKEN,
       ECQ__OPT_TOKENFILE, ECQ__OPT_ORIGIN, ECQ__OPT_HSTIMEOUT, ECQ__OPT_LOGFMT, ECQ__OPT_MAXPEND,
       ECQ__OPT_NOVIEWER };

#define ECQ__SERVER_LONGOPTS                                                                             \
    {"ecaptureq", required_argument, 0, ECQ__OPT_URL}, {"heartbeat", required_argument, 0, ECQ__OPT_HB}, \
    {"client-buffer", required_argument, 0, ECQ__OPT_BUF},                                               \
    {"max-clients", required_argument, 0, ECQ__OPT_MAXC},                                                \
    {"max-pending", required_argument, 0, ECQ__OPT_MAXPEND},                                             \
    {"max-message", required_argument, 0, ECQ__OPT_MAXMSG},                                              \
    {"token", required_argument, 0, ECQ__OPT_TOKEN}, {"token-file", required_argument, 0, ECQ__OPT_TOKENFILE}, \
    {"allow-origin", required_argument, 0, ECQ__OPT_ORIGIN},                                             \
    {"handshake-timeout", required_argument, 0, ECQ__OPT_HSTIMEOUT},                                     \
    {"log-format", required_argument, 0, ECQ__OPT_LOGFMT}, {"no-viewer", no_argument, 0, ECQ__OPT_NOVIEWER}, \
    {"help", no_argument, 0, 'h'}

/* The token in the first line of path, into buf; a missing file, an empty one or a
 * token longer than buf holds ends the program with one line */
static const char *ecq__token_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "ecaptureq: cannot read --token-file %s: %s\n", path, strerror(errno));
        exit(1);
    }
    if (!fgets(buf, (int)cap, f)) buf[0] = 0;
    fclose(f);
    if (strlen(buf) == cap - 1 && !strchr(buf, '\n'))
        ecq__usage_error("--token-file %s: the token is longer than %zu bytes", path, cap - 2);
    buf[strcspn(buf, "\r\n")] = 0;
    if (!buf[0]) ecq__usage_error("--token-file %s holds no token", path);
    return buf;
}

/* Handles the options every serving subcommand shares; 0 if opt is not one of them. */
static int ecq__server_opt(struct ecq__opts *o, int opt, const char *arg)
{
    struct ecq_url u;
    const char *why;
    switch (opt) {
    case ECQ__OPT_URL:
        if (ecq_url_parse(arg, &u, &why) < 0)
            ecq__usage_error("bad --ecaptureq URL '%s': %s; example: --ecaptureq ws://127.0.0.1:28257/", arg, why);
        o->cfg.url = arg;
        return 1;
    case ECQ__OPT_HB: o->cfg.heartbeat_sec = (int)ecq__num("--heartbeat", arg, 1, 86400); return 1;
    case ECQ__OPT_BUF: o->cfg.client_buffer = ecq__num("--client-buffer", arg, 4096, 1ull << 34); return 1;
    case ECQ__OPT_MAXC: o->cfg.max_clients = (int)ecq__num("--max-clients", arg, 1, 1000000); return 1;
    case ECQ__OPT_MAXPEND: o->cfg.max_pending = (int)ecq__num("--max-pending", arg, 1, 1000000); return 1;
    case ECQ__OPT_MAXMSG: o->cfg.max_message = ecq__num("--max-message", arg, 125, 1ull << 30); return 1;
    case ECQ__OPT_HSTIMEOUT: o->cfg.handshake_timeout_ms = (int)ecq__num("--handshake-timeout", arg, 100, 600000); return 1;
    case ECQ__OPT_LOGFMT:
        if (strcmp(arg, "text") && strcmp(arg, "json")) ecq__usage_error("--log-format is text or json, not '%s'", arg);
        o->cfg.log_json = !strcmp(arg, "json");
        return 1;
    case ECQ__OPT_TOKEN:
        if (!*arg) ecq__usage_error("--token may not be empty");
        o->cfg.token = arg;
        return 1;
    case ECQ__OPT_TOKENFILE:
        o->cfg.token = ecq__token_file(arg, o->token_buf, sizeof o->token_buf);
        return 1;
    case ECQ__OPT_NOVIEWER: o->no_viewer = 1; return 1;
    case ECQ__OPT_ORIGIN:
        if (o->cfg.norigins == (int)ECQ__ARRAY_LEN(o->origins)) ecq__usage_error("at most 16 --allow-origin");
        o->origins[o->cfg.norigins++] = arg;
        o->cfg.origins = o->origins;
        return 1;
    }
    return 0;
}

/* a server's room for many clients: the descriptor limit raised to its hard limit */
static void ecq__raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static struct ecq_server *ecq__serve(struct ecq__opts *o, const char *mode)
{
    struct ecq_server *s;
    struct utsname un;
    if (!o->no_viewer) o->cfg.page = ecq_viewer_page(&o->cfg.page_len);
    ecq__raise_nofile();
    int rc = ecq_server_open(&s, &o->cfg);
    if (rc < 0) exit(1); /* the server's log said why, in one line */
    uname(&un);
    ecq_server_log(s, "ecaptureq %s (%s %s %s), mode %s, pid %d", ECQ_VERSION, un.sysname, un.release, un.machine,
                   mode, (int)getpid());
    if (o->cfg.no_listen) ecq_server_log(s, "no WebSocket endpoint (--no-server): events go to the -w file only");
    else ecq_server_log(s, "listening on %s%s", ecq_server_url(s), o->cfg.token ? " (token required)" : "");
    return s;
}

/* SIGINT/SIGTERM arrive through a signalfd in the poll set; SIGPIPE is ignored. */
static int ecq__signal_fd(void)
{
    sigset_t set;
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static int ecq__signalled(struct pollfd *p)
{
    struct signalfd_siginfo si;
    return (p->revents & POLLIN) && read(p->fd, &si, sizeof si) == (ssize_t)sizeof si ? (int)si.ssi_signo : 0;
}

/* ---- gen: synthetic events through the same hub path ------------------- */

/* Event i of gen (the README describes it), built from fixed parts and the few numbers
 * that change, without printf: gen is the load every benchmark runs on. str holds the
 * uuid and the two addresses; buf (size + 64 bytes) the payload, placed so that its
 * padding and the tape it is copied from are aligned alike (a copy between addresses
 * that differ mod 64 is several times slower on some CPUs). */
static void ecq__gen_event(uint64_t i, size_t size, int64_t t0, const uint8_t *tape, uint8_t *buf, char str[3][64],
                           struct ecq_event *ev)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t conn = i / 2;
    int v6 = conn % 2, response = i % 2;
    unsigned cport = 40000 + (unsigned)(conn % 20000), sport = 443, h = (unsigned)(0x10 + conn % 200);
    char *client = str[response ? 2 : 1], head[128];
    const char *server = v6 ? "2001:db8::1bb" : "198.51.100.7";
    size_t cl, ul, hl;
    int64_t pid = 1000 + (int64_t)(conn % 50000);
    if (v6) cl = ecq__put(client, "2001:db8::"), client[cl++] = hex[h >> 4], client[cl++] = hex[h & 15];
    else cl = ecq__put(client, "192.0.2."), cl += ecq__dec(client + cl, 10 + conn % 200);
    ul = ecq__dec(str[0], (uint64_t)pid);
    str[0][ul++] = '_';
    ul += ecq__dec(str[0] + ul, (uint64_t)pid);
    ul += ecq__put(str[0] + ul, "_gen-curl_");
    ul += ecq__dec(str[0] + ul, 3 + conn % 100);
    memset(ev, 0, sizeof *ev);
    ev->timestamp = t0 + (int64_t)i * 1000;
    ev->pid = pid;
    ev->uuid = (struct ecq_bytes){str[0], ul};
    ev->pname = (struct ecq_bytes){"gen-curl", 8};
    ev->src_ip = response ? (struct ecq_bytes){server, strlen(server)} : (struct ecq_bytes){client, cl};
    ev->dst_ip = response ? (struct ecq_bytes){client, cl} : (struct ecq_bytes){server, strlen(server)};
    ev->src_port = response ? sport : cport;
    ev->dst_port = response ? cport : sport;
    if (response) {
        hl = ecq__put(head, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Seq: ");
        hl += ecq__dec(head + hl, i);
        hl += ecq__put(head + hl, "\r\n\r\n");
    } else {
        hl = ecq__put(head, "POST /items/");
        hl += ecq__dec(head + hl, i);
        hl += ecq__put(head + hl, " HTTP/1.1\r\nHost: example.test\r\n\r\n");
    }
    size_t take = hl < size ? hl : size;
    const uint8_t *from = tape + (i + take) % 26; /* byte k is 'a' + (i + k) % 26 */
    buf += ((uintptr_t)from - (uintptr_t)(buf + take)) & 63;
    memcpy(buf, head, take);
    memcpy(buf + take, from, size - take);
    ev->payload = (struct ecq_bytes){(const char *)buf, size};
    ev->length = (uint32_t)size;
    ev->type = take < hl ? ecq_classify(buf, size) : response ? ECQ_TYPE_HTTP1_RESPONSE : ECQ_TYPE_HTTP1_REQUEST;
}

/* what gen was asked for */
struct ecq__gen {
    struct ecq__opts o;
    uint64_t events, rate, wait_clients, size;
    int stay;
};

/* parses gen's command line into g: -1 to go on, else the exit code (-h) */
static int ecq__gen_args(int argc, char **argv, struct ecq__gen *g)
{
    static const struct option lo[] = {ECQ__SERVER_LONGOPTS, {"events", required_argument, 0, 'n'},
                                       {"size", required_argument, 0, 's'}, {"rate", required_argument, 0, 'r'},
                                       {"wait-clients", required_argument, 0, 'w'}, {"stay", no_argument, 0, 'S'},
                                       {0, 0, 0, 0}};
    int opt;
    ecq_config_init(&g->o.cfg);
    g->size = 256;
    while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (ecq__server_opt(&g->o, opt, optarg)) continue;
        switch (opt) {
        case 'n': g->events = ecq__num("--events", optarg, 1, UINT64_MAX); break;
        case 's': g->size = ecq__num("--size", optarg, 0, 64u << 20); break;
        case 'r': g->rate = ecq__num("--rate", optarg, 1, 100000000); break;
        case 'w': g->wait_clients = ecq__num("--wait-clients", optarg, 0, 1000000); break;
        case 'S': g->stay = 1; break;
        case 'h':
            puts("usage: ecaptureq gen [--ecaptureq URL] [--events N] [--size BYTES] [--rate PER_SEC] "
                 "[--wait-clients K] [--stay] [server options]");
            return 0;
        default: exit(2);
        }
    }
    if (optind < argc) ecq__usage_error("gen: unexpected argument '%s'", argv[optind]);
    return -1;
}

/* after the last event: until every client has been written everything, or a client
 * stopped reading for 2 s; 1 on a signal */
static int ecq__gen_drain(struct ecq_server *s, struct pollfd *sp)
{
    size_t left, last = 0;
    int64_t moved = ecq__now_ms();
    while ((left = ecq_server_backlog(s)) > 0) {
        if (left != last) last = left, moved = ecq__now_ms();
        if (ecq__now_ms() - moved > 2000) {
            ecq_server_log(s, "gen: a client stopped reading with %zu bytes queued; not waiting for it", left);
            return 0;
        }
        if (ecq_server_poll(s, sp, 1, 50) > 0 && ecq__signalled(sp)) return 1;
    }
    return 0;
}

/* sends g->events events (0: until a signal); *made and *dropped count them; 1 on a
 * signal. A generator can wait for slow consumers: it keeps every client under half
 * its bound, but waits at most a second for one, so that a consumer that stopped
 * reading is closed by its bound (as in capture) and does not stall the others. */
static int ecq__gen_send(struct ecq_server *s, struct pollfd *sp, const struct ecq__gen *g, const uint8_t *tape,
                         uint8_t *buf, uint64_t *made, uint64_t *dropped)
{
    struct ecq_stats st;
    struct ecq_event ev;
    char str[3][64];
    int64_t t0 = ecq__realtime_ns(), start = ecq__now_ms(), waiting_since = 0;
    size_t high = g->o.cfg.client_buffer / 2;
    size_t batch_bytes = g->o.cfg.client_buffer / 4 < (256u << 10) ? g->o.cfg.client_buffer / 4 : (256u << 10);
    uint64_t batch = batch_bytes / (g->size + 100) + 1; /* a batch never takes a reader past its bound */
    if (batch > 1024) batch = 1024;
    while (!g->events || *made < g->events) {
        int timeout = 0;
        ecq_server_stats(s, &st);
        if (st.clients == 0) {
            timeout = 100; /* nobody to send to: wait instead of spinning */
        } else if (ecq_server_backlog(s) > high) {
            int64_t now = ecq__now_ms();
            if (!waiting_since) waiting_since = now;
            if (now - waiting_since < 1000) timeout = 5;
        } else {
            waiting_since = 0;
        }
        if (!timeout && g->rate && *made >= (uint64_t)(ecq__now_ms() - start) * g->rate / 1000 + 1) timeout = 1;
        if (timeout) {
            if (ecq_server_poll(s, sp, 1, timeout) > 0 && ecq__signalled(sp)) return 1;
            continue;
        }
        ecq__gen_event(*made, g->size, t0, tape, buf, str, &ev);
        if (ecq_server_event(s, &ev) < 0) ++*dropped;
        /* written in batches of about 256 KiB: fewer, larger writes for server and readers */
        if (++*made % batch == 0 && ecq_server_poll(s, sp, 1, 0) > 0 && ecq__signalled(sp)) return 1;
    }
    return 0;
}

static int ecq__cmd_gen(int argc, char **argv)
{
    struct ecq__gen g = {0};
    uint64_t made = 0, dropped = 0;
    int sig = 0, rc = ecq__gen_args(argc, argv, &g);
    if (rc >= 0) return rc;
    struct pollfd sp = {.fd = ecq__signal_fd(), .events = POLLIN};
    struct ecq_server *s = ecq__serve(&g.o, "gen");
    struct ecq_stats st;
    uint8_t *buf = malloc(g.size + 64), *tape = malloc(g.size + 26); /* tape[j] = 'a' + j % 26 */
    if (!buf || !tape) {
        fprintf(stderr, "ecaptureq: gen: out of memory for --size %" PRIu64 "\n", g.size);
        return 1;
    }
    for (size_t j = 0; j < g.size + 26; j++) tape[j] = (uint8_t)('a' + j % 26);
    ecq_server_stats(s, &st);
    if (g.wait_clients) ecq_server_log(s, "gen: waiting for %" PRIu64 " client(s)", g.wait_clients);
    while (!sig && (uint64_t)st.clients < g.wait_clients) {
        if (ecq_server_poll(s, &sp, 1, 200) > 0) sig = ecq__signalled(&sp);
        ecq_server_stats(s, &st);
    }
    char count[32] = "endless";
    if (g.events) snprintf(count, sizeof count, "%" PRIu64, g.events);
    ecq_server_log(s, "gen: sending %s events of %" PRIu64 " bytes%s", count, g.size, g.rate ? " at a fixed rate" : "");
    int64_t start = ecq__now_ms();
    if (!sig) sig = ecq__gen_send(s, &sp, &g, tape, buf, &made, &dropped);
    if (!sig) sig = ecq__gen_drain(s, &sp);
    double secs = (double)(ecq__now_ms() - start) / 1000.0;
    ecq_server_stats(s, &st);
    ecq_server_log(s, "gen: %" PRIu64 " events in %.3f s (%.0f events/s), %" PRIu64 " bytes written, %" PRIu64
                      " client(s) dropped%s%s", made, secs, secs > 0 ? (double)made / secs : 0.0, st.bytes,
                   st.clients_dropped, dropped ? ", some events not sent (out of memory)" : "",
                   sig ? ", stopped by signal" : "");
    if (g.stay && !sig) ecq_server_log(s, "gen: done; serving on until a signal (--stay)");
    while (g.stay && !sig)
        if (ecq_server_poll(s, &sp, 1, -1) > 0) sig = ecq__signalled(&sp);
    ecq_server_close(s, 1000);
    free(buf);
    free(tape);
    close(sp.fd);
    return 0;
}

/* ---- pcapng files: watch --pcapng, tls -w --------------------------------- */

/* a pcapng file the command line writes; path "-" is stdout */
struct ecq__pcap_out {
    const char *path;               /* NULL: none */
    FILE *f;
    struct ecq_pcapng *w;
    int failed;                     /* a write failed (said once) */
};

/* what a writer call returned: 0 and on, or said once (failed set) */
static int ecq__pcap_out_check(struct ecq__pcap_out *o, int rc, const char *who)
{
    if (rc < 0 && !o->failed) {
        fprintf(stderr, "ecaptureq %s: %s: %s\n", who, strcmp(o->path, "-") ? o->path : "stdout", strerror(-rc));
        o->failed = 1;
    }
    return o->failed ? -1 : 0;
}

/* the file opened and its header written: 0, or 1 after one line saying why */
static int ecq__pcap_out_open(struct ecq__pcap_out *o, const char *who)
{
    int rc;
    o->f = strcmp(o->path, "-") ? fopen(o->path, "wbe") : stdout;
    if (!o->f) rc = -errno;
    else if ((rc = ecq_pcapng_open(&o->w, o->f)) == 0) rc = ecq_pcapng_flush(o->w);
    return ecq__pcap_out_check(o, rc, who) < 0;
}

/* the file's end: 0, or 1 when it is incomplete (said) */
static int ecq__pcap_out_close(struct ecq__pcap_out *o, const char *who)
{
    int rc = ecq_pcapng_close(o->w);
    o->w = NULL;
    if (o->f && o->f != stdout && fclose(o->f) != 0 && !rc) rc = -errno;
    o->f = NULL;
    return ecq__pcap_out_check(o, rc, who) < 0;
}

/* ---- watch: the client side of RFC 6455, and a stream debugger ---------- */

struct ecq__watch {
    int json, compact, hex, verbose, color;
    size_t max_payload;
    int64_t f_pid;
    const char *f_pname;
    long f_port, f_type;
    const char *token;
    uint64_t max_message;           /* a larger message from the server: close 1009 */
    int idle_sec;                   /* no byte for this long: ping; none after 10 s: lost */
    struct pollfd *sp;              /* the signal fd: SIGINT/SIGTERM end every wait at once */
    int *stop;
    struct ecq__pcap_out pcap;      /* --pcapng FILE ("-": stdout, and nothing else there) */
    /* counters for the summary */
    uint64_t msgs, events, logs, beats, other, bad, bytes;
    struct ecq__wconn *conns;       /* HTTP/2 connections being decoded */
    uint64_t conn_stamp;
    int http;                       /* --http: one block per exchange */
    int f_status;                   /* --status, or -1 */
    const char *f_method, *f_path;  /* --method, --path (a substring) */
};

static const char *ecq__type_name(uint32_t t)
{
    static const char *const names[] = {"unknown", "HTTP/1.x request", "HTTP/2 request", "HTTP/1.x response",
                                        "HTTP/2 response"};
    return t < 5 ? names[t] : "type?";
}

/* one masked client frame */
static int ecq__watch_send(int fd, int op, const void *data, size_t n)
{
    uint8_t f[14 + 125], mask[4];
    size_t h = 0;
    if (n > 125) return -1;
    ecq__rand(mask, 4);
    f[h++] = (uint8_t)(0x80 | op);
    f[h++] = (uint8_t)(0x80 | n);
    memcpy(f + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < n; i++) f[h + i] = ((const uint8_t *)data)[i] ^ mask[i & 3];
    /* never waits: a server that floods pings and reads nothing gets no pongs, and
     * Ctrl-C is never stuck behind a full socket */
    return send(fd, f, h + n, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)(h + n) ? 0 : -1;
}

/* Waits up to ms for events on fd, or for SIGINT/SIGTERM (then *w->stop is set and 0
 * is returned). 1 when fd is ready, 0 on timeout or signal. */
static int ecq__watch_wait(const struct ecq__watch *w, int fd, short events, int ms)
{
    struct pollfd p[2] = {{.fd = fd, .events = events}, *w->sp};
    int64_t end = ecq__now_ms() + ms;
    for (;;) {
        int64_t left = end - ecq__now_ms();
        int r = poll(p, 2, left > 0 ? (int)left : 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        if (ecq__signalled(&p[1])) return *w->stop = 1, 0;
        if (p[0].revents) return 1;
    }
}

/* The value of the first header field called name in an HTTP head (its status or
 * request line skipped), blanks trimmed; {NULL, 0} if there is none. */
static struct ecq_bytes ecq__head_field(const char *head, size_t hl, const char *name)
{
    const char *at = NULL;
    return ecq__head_next(head, hl, name, &at);
}

/* a TCP connection to the server's address (each address of its name in turn): the
 * socket, or -1 with why filled */
static int ecq__watch_dial(const struct ecq_url *u, const struct ecq__watch *w, char *why, size_t whycap)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL, *a;
    char port[8];
    int fd = -1, n;
    snprintf(port, sizeof port, "%u", u->port);
    if ((n = ecq__getaddrinfo(u->host, port, &hints, &ai)) != 0) {
        snprintf(why, whycap, "cannot resolve %s: %s", u->host, gai_strerror(n));
        return -1;
    }
    for (a = ai; a && fd < 0 && !*w->stop; a = a->ai_next) {
        int err = 0;
        socklen_t el = sizeof err;
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) err = errno;
        else if (ecq__watch_wait(w, fd, POLLOUT, 10000) <= 0) err = *w->stop ? EINTR : ETIMEDOUT;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) err = errno;
        if (err) {
            snprintf(why, whycap, "connect: %s", strerror(err));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    return fd;
}

/* the server's answer head (hl bytes) against RFC 6455 §4.1: 0 if it is a 101 we can
 * use (want: the accept value for our key), else -1 with why filled */
static int ecq__watch_check_101(const char *head, size_t hl, const char *want, char *why, size_t whycap)
{
    if (hl < 12 || memcmp(head, "HTTP/1.1 101", 12) != 0) {
        const char *eol = memchr(head, '\r', hl);
        snprintf(why, whycap, "server refused the handshake: %.*s", (int)(eol ? eol - head : 40), head);
        return -1;
    }
    /* Upgrade: websocket, Connection: Upgrade, and no extension or subprotocol that was
     * never asked for */
    struct ecq_bytes up = ecq__head_field(head, hl, "Upgrade"), conn = ecq__head_field(head, hl, "Connection");
    const char *bad = !up.ptr || up.len != 9 || strncasecmp(up.ptr, "websocket", 9) ? "no 'Upgrade: websocket'"
                    : !conn.ptr || !ecq__list_has(conn, "upgrade")             ? "no 'Connection: Upgrade'"
                    : ecq__head_field(head, hl, "Sec-WebSocket-Extensions").ptr ? "an extension we did not ask for"
                    : ecq__head_field(head, hl, "Sec-WebSocket-Protocol").ptr   ? "a subprotocol we did not ask for"
                                                                                : NULL;
    if (bad) {
        snprintf(why, whycap, "the server's 101 has %s (RFC 6455 §4.1); not a WebSocket server we can use", bad);
        return -1;
    }
    /* the accept value must be the one for our key */
    struct ecq_bytes acc = ecq__head_field(head, hl, "Sec-WebSocket-Accept");
    if (acc.len != 28 || memcmp(acc.ptr, want, 28) != 0) {
        snprintf(why, whycap, "Sec-WebSocket-Accept %s (expected %s for our key)", acc.ptr ? "does not match" : "missing",
                 want);
        return -1;
    }
    return 0;
}

/* Connects and handshakes. Returns the fd, or -1 with why filled; bytes that arrived
 * behind the 101 (the first frames) are left in head[0..*left). */
static int ecq__watch_connect(const struct ecq_url *u, const struct ecq__watch *w, char *head, size_t *left,
                              char *why, size_t whycap)
{
    char req[1024], key[25], want[29];
    uint8_t raw[16];
    int fd = ecq__watch_dial(u, w, why, whycap), n;
    size_t got = 0, hl = 0;
    if (fd < 0) return -1;
    ecq__rand(raw, 16);
    ecq_base64_encode(raw, 16, key);
    ecq_ws_accept(key, 24, want);
    n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s%s%s:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s\r\n", u->path,
                 u->ipv6_literal ? "[" : "", u->host, u->ipv6_literal ? "]" : "", u->port, key,
                 w->token ? "Authorization: Bearer " : "", w->token ? w->token : "", w->token ? "\r\n" : "");
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) goto io; /* a fresh socket takes 1 KiB */
    int64_t until = ecq__now_ms() + 10000;
    while (!(hl = ecq_http_head_length(head, got))) {
        int64_t left_ms = until - ecq__now_ms();
        int ready = left_ms > 0 ? ecq__watch_wait(w, fd, POLLIN, (int)left_ms) : 0;
        if (ready <= 0) {
            snprintf(why, whycap, *w->stop ? "interrupted" : "the server sent no handshake answer in 10 s");
            close(fd);
            return -1;
        }
        ssize_t r = got < ECQ__HEAD_MAX ? recv(fd, head + got, ECQ__HEAD_MAX - got, 0) : 0;
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (r <= 0) goto io;
        got += (size_t)r;
    }
    if (ecq__watch_check_101(head, hl, want, why, whycap) < 0) {
        close(fd);
        return -1;
    }
    *left = got - hl;
    memmove(head, head + hl, *left);
    return fd;
io:
    snprintf(why, whycap, "handshake: %s", got ? "connection closed" : strerror(errno ? errno : ECONNRESET));
    close(fd);
    return -1;
}

/* a JSON string of any bytes (ecq__json_char's rules), quotes included */
static void ecq__json_str(FILE *f, struct ecq_bytes b)
{
    char esc[16];
    fputc('"', f);
    for (size_t i = 0, k; i < b.len; i += k) fwrite(esc, 1, ecq__json_char(b.ptr + i, b.len - i, esc, &k), f);
    fputc('"', f);
}

static void ecq__watch_time(char *out, size_t cap, int64_t ns)
{
    int64_t sec = ns / 1000000000, frac = ns % 1000000000;
    struct tm tm;
    if (frac < 0) frac += 1000000000, sec--; /* before 1970: the second before, plus a fraction */
    time_t t = (time_t)sec;
    size_t n = localtime_r(&t, &tm) ? strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm) : 0;
    if (!n) n = (size_t)snprintf(out, cap, "@%" PRId64, sec); /* a year strftime cannot write */
    if (n < cap) snprintf(out + n, cap - n, ".%06ld", (long)(frac / 1000));
}

/* ,"time":"2026-12-05T14:15:59.775169123Z" beside a timestamp: the same instant as a
 * string, exact where a JSON reader keeps numbers as doubles (jq 1.6, JavaScript);
 * null for a time RFC 3339 cannot write. ns: nanoseconds, else seconds. */
static void ecq__json_time(FILE *f, int64_t t, int ns)
{
    char s[64];
    int64_t sec = ns ? t / 1000000000 : t, frac = ns ? t % 1000000000 : 0;
    if (frac < 0) frac += 1000000000, sec--; /* before 1970: the second before, plus a fraction */
    if (ecq__utc_stamp(s, sizeof s, sec, (long)frac, ns ? 9 : 0)) fprintf(f, ",\"time\":\"%s\"", s);
    else fputs(",\"time\":null", f);
}

static struct ecq__colors ecq__colors_for(const struct ecq__watch *w)
{
    return w->color ? (struct ecq__colors){"\033[36m", "\033[33m", "\033[2m", "\033[1m", "\033[0m"}
                    : (struct ecq__colors){"", "", "", "", ""};
}

static void ecq__watch_log(const struct ecq__watch *w, const struct ecq_entry *e, FILE *f)
{
    if (w->json) {
        fprintf(f, "{\"kind\":\"run_log\",\"log_type\":%d,\"run_log\":", e->log_type);
        ecq__json_str(f, e->run_log);
        fputs("}\n", f);
        return;
    }
    struct ecq__colors k = ecq__colors_for(w);
    size_t n = e->run_log.len; /* entries end in a newline (eCapture's and ours) */
    while (n && (e->run_log.ptr[n - 1] == '\n' || e->run_log.ptr[n - 1] == '\r')) n--;
    fprintf(f, "%s[log]%s ", k.dim, k.reset);
    ecq__put_safe(f, e->run_log.ptr, n);
    fputc('\n', f);
}

static void ecq__watch_beat(const struct ecq__watch *w, const struct ecq_entry *e, FILE *f)
{
    if (w->json) {
        fprintf(f, "{\"kind\":\"heartbeat\",\"log_type\":%d,\"timestamp\":%" PRId64, e->log_type, e->heartbeat.timestamp);
        ecq__json_time(f, e->heartbeat.timestamp, 0);
        fprintf(f, ",\"count\":%" PRId64 ",\"message\":", e->heartbeat.count);
        ecq__json_str(f, e->heartbeat.message);
        fputs("}\n", f);
    } else if (w->verbose) {
        struct ecq__colors k = ecq__colors_for(w);
        fprintf(f, "%s[heartbeat %" PRId64 "] ", k.dim, e->heartbeat.count);
        ecq__put_safe(f, e->heartbeat.message.ptr, e->heartbeat.message.len);
        fprintf(f, "%s\n", k.reset);
    }
}

/* 1 if the event passes watch's --pid/--pname/--port/--type filters */
static int ecq__watch_wanted(const struct ecq__watch *w, const struct ecq_event *v)
{
    if (w->f_pid >= 0 && v->pid != w->f_pid) return 0;
    if (w->f_pname && (v->pname.len != strlen(w->f_pname) || memcmp(v->pname.ptr, w->f_pname, v->pname.len))) return 0;
    if (w->f_port >= 0 && v->src_port != (uint32_t)w->f_port && v->dst_port != (uint32_t)w->f_port) return 0;
    return w->f_type < 0 || v->type == (uint32_t)w->f_type;
}

static void ecq__watch_event_json(const struct ecq_entry *e, FILE *f)
{
    const struct ecq_event *v = &e->event;
    char *b64 = malloc(4 * ((v->payload.len + 2) / 3) + 1);
    if (!b64) {
        fprintf(stderr, "watch: out of memory for a %zu-byte payload; event not written\n", v->payload.len);
        return;
    }
    ecq_base64_encode(v->payload.ptr, v->payload.len, b64);
    fprintf(f, "{\"kind\":\"event\",\"log_type\":%d,\"timestamp\":%" PRId64, e->log_type, v->timestamp);
    ecq__json_time(f, v->timestamp, 1);
    fputs(",\"uuid\":", f);
    ecq__json_str(f, v->uuid);
    fputs(",\"src_ip\":", f);
    ecq__json_str(f, v->src_ip);
    fprintf(f, ",\"src_port\":%u,\"dst_ip\":", v->src_port);
    ecq__json_str(f, v->dst_ip);
    fprintf(f, ",\"dst_port\":%u,\"pid\":%" PRId64 ",\"pname\":", v->dst_port, v->pid);
    ecq__json_str(f, v->pname);
    fprintf(f, ",\"type\":%u,\"length\":%u,\"payload\":\"%s\"}\n", v->type, v->length, b64);
    free(b64);
}

/* an event's header line */
static void ecq__watch_event_head(const struct ecq__watch *w, const struct ecq_event *v, FILE *f)
{
    struct ecq__colors k = ecq__colors_for(w);
    char when[64], uuid[300], pname[200], sip[200], dip[200];
    ecq__watch_time(when, sizeof when, v->timestamp);
    ecq__safe(uuid, sizeof uuid, v->uuid.ptr, v->uuid.len);
    ecq__safe(pname, sizeof pname, v->pname.ptr, v->pname.len);
    ecq__safe(sip, sizeof sip, v->src_ip.ptr, v->src_ip.len);
    ecq__safe(dip, sizeof dip, v->dst_ip.ptr, v->dst_ip.len);
    fprintf(f, "%s%s%s %s%s%s pid %" PRId64 " %s%s%s %s%s:%u -> %s:%u%s %s%s%s %u bytes\n", k.dim, when, k.reset, k.bold,
            uuid, k.reset, v->pid, k.bold, pname, k.reset, k.cyan, sip, v->src_port, dip, v->dst_port, k.reset, k.yellow,
            ecq__type_name(v->type), k.reset, v->length);
}

/* ---- watch: HTTP/2 decoded per connection (issue 21) ---- */

/* Connections watch decodes HTTP/2 on: from a connection's first event typed HTTP/2
 * on, every event of it goes through its reader; the least recently seen gives way. */
#define ECQ__WATCH_CONNS 256

struct ecq__wconn {
    char uuid[128];
    size_t uuid_len;
    uint32_t port0;                 /* the sender's port of direction 0 */
    uint64_t stamp;                 /* when last seen (0: free) */
    struct ecq_h2 h2;
    struct ecq__xconn *x;           /* watch --http: its exchanges */
};

static void ecq__wconn_free(struct ecq__wconn *c);
static void ecq__wconn_close(struct ecq__watch *w, struct ecq__wconn *c);
static void ecq__watch_event_text(const struct ecq__watch *w, const struct ecq_event *v, FILE *f);

/* pid and fd of a uuid pid_tid_comm_fd_N (comm may hold '_'): 0 if it has no fd */
static int ecq__uuid_fd(const char *u, size_t n, struct ecq_bytes *pid, struct ecq_bytes *fd)
{
    const char *first = memchr(u, '_', n), *last = NULL, *before = NULL;
    for (const char *p = u; p < u + n; p++)
        if (*p == '_') before = last, last = p;
    if (!first || !before || before <= first || (last + 1 < u + n && last[1] == '0' && last + 2 < u + n && last[2] == 'x'))
        return 0;
    *pid = (struct ecq_bytes){u, (size_t)(first - u)}, *fd = (struct ecq_bytes){before + 1, (size_t)(last - before - 1)};
    return 1;
}

/* A new connection on a descriptor of the same process: the one watch followed there
 * was closed (a descriptor is reused only then), so a body read to its close ends. */
static void ecq__watch_fd_reused(struct ecq__watch *w, const struct ecq_event *v)
{
    struct ecq_bytes pid, fd, p2, f2;
    if (!w->http || !ecq__uuid_fd(v->uuid.ptr, v->uuid.len, &pid, &fd)) return;
    for (int i = 0; i < ECQ__WATCH_CONNS; i++) {
        struct ecq__wconn *c = &w->conns[i];
        if (c->stamp && ecq__uuid_fd(c->uuid, c->uuid_len, &p2, &f2) && p2.len == pid.len && f2.len == fd.len &&
            !memcmp(p2.ptr, pid.ptr, pid.len) && !memcmp(f2.ptr, fd.ptr, fd.len))
            ecq__wconn_close(w, c), ecq__wconn_free(c);
    }
}

/* The connection's reader, made when the event is HTTP/2 (or, with --http, HTTP/1);
 * NULL if there is none. */
static struct ecq__wconn *ecq__watch_conn(struct ecq__watch *w, const struct ecq_event *v)
{
    struct ecq__wconn *free_one = NULL;
    if (!w->conns && !(w->conns = calloc(ECQ__WATCH_CONNS, sizeof *w->conns))) return NULL;
    for (int i = 0; i < ECQ__WATCH_CONNS; i++) {
        struct ecq__wconn *c = &w->conns[i];
        if (c->stamp && c->uuid_len == v->uuid.len && !memcmp(c->uuid, v->uuid.ptr, v->uuid.len)) {
            c->stamp = ++w->conn_stamp;
            return c;
        }
        if (!free_one || c->stamp < free_one->stamp) free_one = c;
    }
    int h2 = v->type == ECQ_TYPE_HTTP2_REQUEST || v->type == ECQ_TYPE_HTTP2_RESPONSE;
    if (!(h2 || (w->http && (v->type == ECQ_TYPE_HTTP1_REQUEST || v->type == ECQ_TYPE_HTTP1_RESPONSE))) ||
        v->uuid.len > sizeof free_one->uuid)
        return NULL;
    ecq__watch_fd_reused(w, v);
    if (free_one->stamp) ecq__wconn_close(w, free_one), ecq__wconn_free(free_one);
    memcpy(free_one->uuid, v->uuid.ptr, v->uuid.len);
    free_one->uuid_len = v->uuid.len;
    free_one->port0 = v->src_port;
    free_one->stamp = ++w->conn_stamp;
    ecq_h2_init(&free_one->h2);
    return free_one;
}

/* An HTTP/2 batch an agent with --merge decoded already: its text (frame lines start
 * with two spaces; a frame's first bytes would be a length over 2 MiB) */
static int ecq__merged_h2(const struct ecq_event *v)
{
    return (v->type == ECQ_TYPE_HTTP2_REQUEST || v->type == ECQ_TYPE_HTTP2_RESPONSE) && v->payload.len >= 2 &&
           !memcmp(v->payload.ptr, "  ", 2) && ecq__printable(v->payload);
}

/* An event of an HTTP/2 connection, decoded (shown on f when f is not NULL). Returns 0
 * if the event is not one. */
static int ecq__watch_h2(struct ecq__watch *w, const struct ecq_event *v, FILE *f)
{
    if (ecq__merged_h2(v)) { /* tls --merge: shown as the agent wrote it */
        if (f) ecq__watch_event_text(w, v, f);
        return 1;
    }
    struct ecq__wconn *c = ecq__watch_conn(w, v);
    if (!c) return 0;
    struct ecq__colors k = ecq__colors_for(w);
    struct ecq__h2show s = {ecq__colors_for(w), f, w->max_payload, 0};
    if (f) ecq__watch_event_head(w, v, f);
    ecq_h2_feed(&c->h2, v->src_port == c->port0 ? 0 : 1, v->payload.ptr, v->payload.len, ecq__h2_text_item, &s);
    if (f && s.hidden) fprintf(f, "%s... %" PRIu64 " more bytes of data not shown (--max-payload)%s\n", k.dim, s.hidden, k.reset);
    if (f) fputc('\n', f);
    return 1;
}

/* ---- watch --http: one block per exchange (issue 21) ---- */

#define ECQ__WATCH_XS 8             /* exchanges open per connection (HTTP/2 streams, pipelined requests) */
#define ECQ__XHEAD 2048             /* header lines kept per side */

struct ecq__xside {                 /* one side of an exchange, as shown */
    char head[ECQ__XHEAD];          /* "name: value\n" lines */
    size_t head_len;
    char *body;                     /* the first --max-payload bytes (inflated, or protobuf text) */
    size_t body_len;
    uint64_t bytes;                 /* body bytes on the wire */
    int64_t ts;                     /* its first event */
    int started, done;
};

struct ecq__exchange {
    int used;
    uint32_t stream;
    uint64_t seq;                   /* order of requests (HTTP/1 pipelining) */
    char method[16], path[512], grpc_status[12], grpc_message[256];
    int status;
    int reset;                      /* RST_STREAM before the response ended */
    int grpc;                       /* content-type application/grpc*: bodies shown as messages */
    struct ecq__xside req, resp;
};

struct ecq__xconn {                 /* a connection's exchanges */
    int proto;                      /* 1 HTTP/1.x, 2 HTTP/2 */
    struct ecq_h1 h1;
    int side[2];                    /* per direction: 1 sends requests, 2 responses, 0 not known */
    uint32_t h1_next;               /* HTTP/1 exchanges are numbered like streams */
    uint32_t cur[2];                /* HTTP/1: the exchange each direction's body belongs to */
    int64_t pid;
    char pname[64], client[80], server[80], uuid[128];
    uint64_t seq;
    struct ecq__exchange x[ECQ__WATCH_XS];
};

struct ecq__xctx {                  /* what an item callback needs */
    struct ecq__watch *w;
    struct ecq__wconn *c;
    const struct ecq_event *v;
    int64_t ts;
};

static void ecq__xside_add_head(struct ecq__xside *s, struct ecq_bytes name, struct ecq_bytes value)
{
    int n = snprintf(s->head + s->head_len, sizeof s->head - s->head_len, "%.*s: %.*s\n", (int)name.len, name.ptr,
                     (int)value.len, value.ptr);
    if (n > 0) s->head_len = s->head_len + (size_t)n < sizeof s->head ? s->head_len + (size_t)n : sizeof s->head - 1;
}

static void ecq__xside_add_body(const struct ecq__watch *w, struct ecq__xside *s, const char *p, size_t n)
{
    if (!s->body && w->max_payload && !(s->body = malloc(w->max_payload))) return;
    size_t take = w->max_payload - s->body_len < n ? w->max_payload - s->body_len : n;
    if (take) memcpy(s->body + s->body_len, p, take), s->body_len += take;
}

static void ecq__xside_start(struct ecq__xside *s, int64_t ts)
{
    if (!s->started) s->started = 1, s->ts = ts;
}

static struct ecq__exchange *ecq__x_find(struct ecq__xconn *xc, uint32_t stream, int make)
{
    struct ecq__exchange *old = NULL;
    for (int i = 0; i < ECQ__WATCH_XS; i++) {
        struct ecq__exchange *x = &xc->x[i];
        if (x->used && x->stream == stream) return x;
        if (!old || !x->used || (old->used && x->seq < old->seq)) old = x;
    }
    if (!make) return NULL;
    free(old->req.body), free(old->resp.body);
    memset(old, 0, sizeof *old);
    old->used = 1, old->stream = stream, old->seq = ++xc->seq;
    return old;
}

static void ecq__x_free(struct ecq__exchange *x)
{
    free(x->req.body), free(x->resp.body);
    memset(x, 0, sizeof *x);
}

/* --status, --method, --path */
static int ecq__x_wanted(const struct ecq__watch *w, const struct ecq__exchange *x)
{
    if (w->f_status >= 0 && x->status != w->f_status) return 0;
    if (w->f_method && strcasecmp(w->f_method, x->method)) return 0;
    return !w->f_path || strstr(x->path, w->f_path);
}

static void ecq__x_json_side(FILE *f, const char *name, const struct ecq__xside *s)
{
    fprintf(f, ",\"%s_bytes\":%" PRIu64 ",\"%s_headers\":[", name, s->bytes, name);
    for (const char *l = s->head, *e; *l && (e = strchr(l, '\n')); l = e + 1) {
        const char *colon = memchr(l + 1, ':', (size_t)(e - l - 1)); /* names may start with ':' */
        size_t nl = colon ? (size_t)(colon - l) : (size_t)(e - l);
        fputs(l == s->head ? "[" : ",[", f);
        ecq__json_str(f, (struct ecq_bytes){l, nl});
        fputc(',', f);
        ecq__json_str(f, colon ? (struct ecq_bytes){colon + 2, (size_t)(e - colon - 2)} : (struct ecq_bytes){"", 0});
        fputc(']', f);
    }
    fprintf(f, "],\"%s_body\":", name);
    ecq__json_str(f, (struct ecq_bytes){s->body ? s->body : "", s->body_len});
}

static void ecq__x_text_side(const struct ecq__watch *w, FILE *f, const char *mark, const struct ecq__xside *s)
{
    for (const char *l = s->head, *e; *l && (e = strchr(l, '\n')); l = e + 1) {
        fprintf(f, "  %s ", mark);
        ecq__put_safe(f, l, (size_t)(e - l));
        fputc('\n', f);
    }
    if (!s->body_len) return;
    fprintf(f, "  %s\n", mark); /* the empty line before the body */
    if (ecq__printable((struct ecq_bytes){s->body, s->body_len})) {
        for (const char *l = s->body, *end = s->body + s->body_len, *e; l < end; l = e + 1) {
            if (!(e = memchr(l, '\n', (size_t)(end - l)))) e = end;
            fprintf(f, "  %s ", mark);
            ecq__put_text(f, (struct ecq_bytes){l, (size_t)(e - l)});
            fputc('\n', f);
        }
    } else {
        ecq__hexdump(f, (const uint8_t *)s->body, s->body_len);
    }
    if (s->bytes > s->body_len && s->bytes > w->max_payload)
        fprintf(f, "  ... %" PRIu64 " bytes in all (--max-payload %zu)\n", s->bytes, w->max_payload);
}

/* an exchange is over: shown (when the filters want it) and forgotten */
static void ecq__x_show(struct ecq__watch *w, struct ecq__xconn *xc, struct ecq__exchange *x)
{
    FILE *f = stdout;
    char when[64], lat[32] = "";
    if (ecq__x_wanted(w, x)) {
        int64_t t0 = x->req.started ? x->req.ts : x->resp.ts;
        ecq__watch_time(when, sizeof when, t0);
        if (x->req.started && x->resp.started) snprintf(lat, sizeof lat, "%.3f", (double)(x->resp.ts - x->req.ts) / 1e6);
        if (w->json) {
            fprintf(f, "{\"kind\":\"exchange\",\"timestamp\":%" PRId64, t0);
            ecq__json_time(f, t0, 1);
            fprintf(f, ",\"pid\":%" PRId64 ",\"pname\":", xc->pid);
            ecq__json_str(f, (struct ecq_bytes){xc->pname, strlen(xc->pname)});
            const char *const strs[][2] = {{"uuid", xc->uuid}, {"client", xc->client}, {"server", xc->server}};
            for (size_t i = 0; i < ECQ__ARRAY_LEN(strs); i++) {
                fprintf(f, ",\"%s\":", strs[i][0]);
                ecq__json_str(f, (struct ecq_bytes){strs[i][1], strlen(strs[i][1])});
            }
            fprintf(f, ",\"protocol\":\"%s\",\"stream\":%u,\"method\":", xc->proto == 2 ? "HTTP/2" : "HTTP/1.1", x->stream);
            ecq__json_str(f, (struct ecq_bytes){x->method, strlen(x->method)});
            fputs(",\"path\":", f);
            ecq__json_str(f, (struct ecq_bytes){x->path, strlen(x->path)});
            fprintf(f, ",\"status\":%d,\"latency_ms\":%s", x->status, *lat ? lat : "null");
            if (*x->grpc_status) fprintf(f, ",\"grpc_status\":%d", atoi(x->grpc_status));
            ecq__x_json_side(f, "request", &x->req);
            ecq__x_json_side(f, "response", &x->resp);
            fprintf(f, ",\"reset\":%s}\n", x->reset ? "true" : "false");
        } else {
            struct ecq__colors k = ecq__colors_for(w);
            fprintf(f, "%s%s%s %s%s%s pid %" PRId64 " %s%s -> %s%s %s%s",
                    k.dim, when, k.reset, k.bold, xc->pname, k.reset, xc->pid, k.cyan, xc->client, xc->server, k.reset,
                    xc->proto == 2 ? "HTTP/2 stream " : "HTTP/1.1", k.dim);
            if (xc->proto == 2) fprintf(f, "%u", x->stream);
            fprintf(f, " %s%s\n%s%s ", xc->uuid, k.reset, k.bold, *x->method ? x->method : "?");
            ecq__put_safe(f, x->path, strlen(x->path));
            fprintf(f, " -> %d%s", x->status, k.reset);
            if (*x->grpc_status) fprintf(f, "  grpc-status %s%s%s", x->grpc_status, *x->grpc_message ? " " : "", x->grpc_message);
            if (x->reset) fputs("  (reset)", f);
            fprintf(f, "  %s%s%srequest %" PRIu64 " B, response %" PRIu64 " B\n", *lat ? lat : "", *lat ? " ms, " : "",
                    "", x->req.bytes, x->resp.bytes);
            ecq__x_text_side(w, f, ">", &x->req);
            ecq__x_text_side(w, f, "<", &x->resp);
            fputc('\n', f);
        }
        fflush(f);
    }
    ecq__x_free(x);
}

static void ecq__x_field(struct ecq__exchange *x, struct ecq__xside *s, struct ecq_bytes n, struct ecq_bytes v)
{
    if (ecq__name_is(&n, ":method")) snprintf(x->method, sizeof x->method, "%.*s", (int)v.len, v.ptr);
    else if (ecq__name_is(&n, ":path")) snprintf(x->path, sizeof x->path, "%.*s", (int)v.len, v.ptr);
    else if (ecq__name_is(&n, ":status")) x->status = atoi(v.ptr);
    else if (ecq__name_is(&n, "grpc-status")) snprintf(x->grpc_status, sizeof x->grpc_status, "%.*s", (int)v.len, v.ptr);
    else if (ecq__name_is(&n, "grpc-message")) snprintf(x->grpc_message, sizeof x->grpc_message, "%.*s", (int)v.len, v.ptr);
    else if (ecq__name_is(&n, "content-type") && v.len >= 16 && !strncmp(v.ptr, "application/grpc", 16)) x->grpc = 1;
    ecq__xside_add_head(s, n, v);
}

static void ecq__x_h2_item(void *user, const struct ecq_h2_item *it)
{
    struct ecq__xctx *k = user;
    struct ecq__xconn *xc = k->c->x;
    char text[1024];
    if (it->kind == ECQ_H2_HEADER && ecq__name_is(&it->header.name, ":method")) xc->side[it->dir] = 1;
    if (it->kind == ECQ_H2_HEADER && ecq__name_is(&it->header.name, ":status")) xc->side[it->dir] = 2;
    if (!it->stream || it->kind == ECQ_H2_FRAME || it->kind == ECQ_H2_NOTE) return;
    int req = xc->side[it->dir] ? xc->side[it->dir] == 1 : k->c->h2.client == it->dir;
    struct ecq__exchange *x = ecq__x_find(xc, it->stream, it->kind == ECQ_H2_HEADER);
    if (!x) return;
    struct ecq__xside *s = req ? &x->req : &x->resp;
    ecq__xside_start(s, k->ts);
    if (it->kind == ECQ_H2_HEADER) {
        ecq__x_field(x, s, it->header.name, it->header.value);
    } else if (it->kind == ECQ_H2_DATA) {
        s->bytes += it->data.len;
        if (!x->grpc) ecq__xside_add_body(k->w, s, it->data.ptr, it->data.len);
    } else if (it->kind == ECQ_H2_GRPC) {
        if (!ecq_pb_text((const uint8_t *)it->data.ptr, it->data.len, text, sizeof text - 1)) snprintf(text, sizeof text, "(not protobuf)");
        size_t n = strlen(text);
        text[n++] = '\n';
        ecq__xside_add_body(k->w, s, "message: ", 9);
        ecq__xside_add_body(k->w, s, text, n);
    } else if (it->kind == ECQ_H2_FRAME_END && it->type == ECQ_H2_RST_STREAM) {
        x->reset = 1;
        ecq__x_show(k->w, xc, x);
    } else if (it->kind == ECQ_H2_FRAME_END && (it->type == ECQ_H2_DATA_FRAME || it->type == ECQ_H2_HEADERS) && it->flags & 1) {
        s->done = 1;
        if (!req) ecq__x_show(k->w, xc, x);
    }
}

/* HTTP/1: a request opens an exchange; a response answers the oldest one unanswered */
static struct ecq__exchange *ecq__x_h1_head(struct ecq__xctx *k, const struct ecq_h1_item *it)
{
    struct ecq__xconn *xc = k->c->x;
    struct ecq__exchange *x = NULL;
    const char *h = it->data.ptr, *end = h + it->data.len, *eol = memchr(h, '\n', it->data.len);
    if (!it->response) {
        x = ecq__x_find(xc, ++xc->h1_next, 1);
        const char *sp = memchr(h, ' ', it->data.len), *sp2 = sp ? memchr(sp + 1, ' ', (size_t)(end - sp - 1)) : NULL;
        snprintf(x->method, sizeof x->method, "%.*s", (int)it->method.len, it->method.ptr);
        if (sp && sp2) snprintf(x->path, sizeof x->path, "%.*s", (int)(sp2 - sp - 1), sp + 1);
    } else {
        if (it->status >= 100 && it->status < 200 && it->status != 101) return NULL;
        for (int i = 0; i < ECQ__WATCH_XS; i++)
            if (xc->x[i].used && !xc->x[i].resp.started && (!x || xc->x[i].seq < x->seq)) x = &xc->x[i];
        if (!x) x = ecq__x_find(xc, ++xc->h1_next, 1); /* attached after the request */
        x->status = it->status;
    }
    struct ecq__xside *s = it->response ? &x->resp : &x->req;
    ecq__xside_start(s, k->ts);
    for (const char *l = eol ? eol + 1 : end, *e; l < end && (e = memchr(l, '\n', (size_t)(end - l))); l = e + 1) {
        const char *colon = memchr(l, ':', (size_t)(e - l)), *v = colon ? colon + 1 : e, *ve = e;
        while (v < ve && *v == ' ') v++;
        while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ')) ve--;
        if (colon) ecq__xside_add_head(s, (struct ecq_bytes){l, (size_t)(colon - l)}, (struct ecq_bytes){v, (size_t)(ve - v)});
    }
    return x;
}

static void ecq__x_h1_item(void *user, const struct ecq_h1_item *it)
{
    struct ecq__xctx *k = user;
    struct ecq__xconn *xc = k->c->x;
    if (it->kind == ECQ_H1_HEAD) {
        struct ecq__exchange *x = ecq__x_h1_head(k, it);
        xc->cur[it->dir] = x ? x->stream : 0;
        return;
    }
    struct ecq__exchange *x = xc->cur[it->dir] ? ecq__x_find(xc, xc->cur[it->dir], 0) : NULL;
    if (!x) return;
    struct ecq__xside *s = it->response ? &x->resp : &x->req;
    if (it->kind == ECQ_H1_BODY) ecq__xside_add_body(k->w, s, it->data.ptr, it->data.len);
    if (it->kind != ECQ_H1_END) return;
    s->bytes = it->body_len, s->done = 1;
    xc->cur[it->dir] = 0;
    if (it->response) ecq__x_show(k->w, xc, x);
}

/* watch --http: an event goes to its connection's reader, exchanges come out whole */
static void ecq__watch_http(struct ecq__watch *w, const struct ecq_event *v)
{
    if ((w->f_pid >= 0 && v->pid != w->f_pid) ||
        (w->f_pname && (v->pname.len != strlen(w->f_pname) || memcmp(v->pname.ptr, w->f_pname, v->pname.len))) ||
        (w->f_port >= 0 && v->src_port != (uint32_t)w->f_port && v->dst_port != (uint32_t)w->f_port))
        return;
    if (ecq__merged_h2(v)) return; /* text already (tls --merge): no frames to read exchanges from */
    struct ecq__wconn *c = ecq__watch_conn(w, v);
    if (!c) return;
    if (!c->x) {
        if (!(c->x = calloc(1, sizeof *c->x))) return;
        c->x->proto = v->type == ECQ_TYPE_HTTP2_REQUEST || v->type == ECQ_TYPE_HTTP2_RESPONSE ? 2 : 1;
        ecq_h1_init(&c->x->h1);
        c->x->pid = v->pid;
        ecq__safe(c->x->pname, sizeof c->x->pname, v->pname.ptr, v->pname.len);
        ecq__safe(c->x->uuid, sizeof c->x->uuid, v->uuid.ptr, v->uuid.len);
    }
    struct ecq__xconn *xc = c->x;
    int req = v->type == ECQ_TYPE_HTTP1_REQUEST || v->type == ECQ_TYPE_HTTP2_REQUEST;
    if (!*xc->client && (req || v->type == ECQ_TYPE_HTTP1_RESPONSE || v->type == ECQ_TYPE_HTTP2_RESPONSE)) {
        char sip[64], dip[64];
        ecq__safe(sip, sizeof sip, v->src_ip.ptr, v->src_ip.len);
        ecq__safe(dip, sizeof dip, v->dst_ip.ptr, v->dst_ip.len);
        int six = strchr(sip, ':') != NULL; /* [::1]:443 */
        snprintf(req ? xc->client : xc->server, sizeof xc->client, "%s%s%s:%u", six ? "[" : "", sip, six ? "]" : "", v->src_port);
        snprintf(req ? xc->server : xc->client, sizeof xc->client, "%s%s%s:%u", six ? "[" : "", dip, six ? "]" : "", v->dst_port);
    }
    struct ecq__xctx k = {w, c, v, v->timestamp};
    int dir = v->src_port == c->port0 ? 0 : 1;
    if (xc->proto == 2) ecq_h2_feed(&c->h2, dir, v->payload.ptr, v->payload.len, ecq__x_h2_item, &k);
    else ecq_h1_feed(&xc->h1, dir, v->payload.ptr, v->payload.len, ecq__x_h1_item, &k);
}

/* the connection closed (its descriptor reused, watch ends): an HTTP/1 body read to
 * the close ends, and its exchange is shown */
static void ecq__wconn_close(struct ecq__watch *w, struct ecq__wconn *c)
{
    if (!c->x || c->x->proto != 1) return;
    struct ecq__xctx k = {w, c, NULL, 0};
    ecq_h1_close(&c->x->h1, ecq__x_h1_item, &k);
}

static void ecq__wconn_free(struct ecq__wconn *c)
{
    ecq_h2_free(&c->h2);
    if (c->x) {
        for (int i = 0; i < ECQ__WATCH_XS; i++) ecq__x_free(&c->x->x[i]);
        ecq_h1_free(&c->x->h1);
        free(c->x);
    }
    memset(c, 0, sizeof *c);
}

/* an event for a terminal: one line (--compact), or a header line and the payload as
 * text or hex, at most --max-payload bytes */
static void ecq__watch_event_text(const struct ecq__watch *w, const struct ecq_event *v, FILE *f)
{
    struct ecq__colors k = ecq__colors_for(w);
    char when[64], uuid[300], pname[200], sip[200], dip[200];
    size_t show = v->payload.len < w->max_payload ? v->payload.len : w->max_payload;
    struct ecq_bytes shown = {v->payload.ptr, show};
    ecq__watch_time(when, sizeof when, v->timestamp);
    ecq__safe(uuid, sizeof uuid, v->uuid.ptr, v->uuid.len);
    ecq__safe(pname, sizeof pname, v->pname.ptr, v->pname.len);
    ecq__safe(sip, sizeof sip, v->src_ip.ptr, v->src_ip.len);
    ecq__safe(dip, sizeof dip, v->dst_ip.ptr, v->dst_ip.len);
    if (w->compact) {
        fprintf(f, "%s%s%s %" PRId64 " %s %s%s:%u -> %s:%u%s %s%s%s %u ", k.dim, when, k.reset, v->pid, pname, k.cyan,
                sip, v->src_port, dip, v->dst_port, k.reset, k.yellow, ecq__type_name(v->type), k.reset, v->length);
        ecq__json_str(f, (struct ecq_bytes){v->payload.ptr, show < 80 ? show : 80});
        fputc('\n', f);
        return;
    }
    ecq__watch_event_head(w, v, f);
    if (!w->hex && ecq__printable(shown)) {
        ecq__put_text(f, shown);
        if (show && shown.ptr[show - 1] != '\n') fputc('\n', f);
    } else {
        ecq__hexdump(f, (const uint8_t *)shown.ptr, show);
    }
    if (show < v->payload.len)
        fprintf(f, "%s... %zu more bytes not shown (--max-payload)%s\n", k.dim, v->payload.len - show, k.reset);
    fputc('\n', f);
}

/* an entry into --pcapng's file: events (those the filters pass) as packets, the run
 * log and heartbeats as text lines; a failed write stops watch */
static void ecq__watch_pcap(struct ecq__watch *w, const struct ecq_entry *e)
{
    char beat[300];
    int rc = 0;
    if (e->payload_case == ECQ_PAYLOAD_EVENT && ecq__watch_wanted(w, &e->event)) {
        rc = ecq_pcapng_event(w->pcap.w, &e->event);
    } else if (e->payload_case == ECQ_PAYLOAD_RUN_LOG) {
        rc = ecq_pcapng_log(w->pcap.w, 0, e->run_log.ptr, e->run_log.len);
    } else if (e->payload_case == ECQ_PAYLOAD_HEARTBEAT) {
        int n = snprintf(beat, sizeof beat, "heartbeat %" PRId64 ": %.*s", e->heartbeat.count,
                         (int)(e->heartbeat.message.len < 256 ? e->heartbeat.message.len : 256), e->heartbeat.message.ptr);
        int64_t ts = e->heartbeat.timestamp > 0 && e->heartbeat.timestamp < INT64_MAX / 1000000000
                         ? e->heartbeat.timestamp * 1000000000 : 0;
        rc = ecq_pcapng_log(w->pcap.w, ts, beat, n > 0 ? (size_t)n : 0);
    }
    if (ecq__pcap_out_check(&w->pcap, rc, "watch --pcapng") < 0) *w->stop = 1;
}

/* one message from the server: counted, decoded and shown as watch's mode says */
static void ecq__watch_entry(struct ecq__watch *w, const uint8_t *msg, size_t len)
{
    struct ecq_entry e;
    size_t off;
    const char *why;
    w->msgs++;
    w->bytes += len;
    if (ecq_pb_decode_entry(msg, len, &e, &off, &why) < 0) {
        w->bad++;
        fprintf(stderr, "watch: message %" PRIu64 " (%zu bytes) does not decode: %s at offset %zu\n", w->msgs, len, why, off);
        return;
    }
    if (w->pcap.w) ecq__watch_pcap(w, &e);
    if (w->pcap.w && !strcmp(w->pcap.path, "-")) { /* stdout is the file */
        w->logs += e.payload_case == ECQ_PAYLOAD_RUN_LOG, w->beats += e.payload_case == ECQ_PAYLOAD_HEARTBEAT;
        w->events += e.payload_case == ECQ_PAYLOAD_EVENT;
        return;
    }
    switch (e.payload_case) {
    case ECQ_PAYLOAD_RUN_LOG: w->logs++, ecq__watch_log(w, &e, stdout); return;
    case ECQ_PAYLOAD_HEARTBEAT: w->beats++, ecq__watch_beat(w, &e, stdout); return;
    case ECQ_PAYLOAD_EVENT:
        w->events++;
        if (w->http) return ecq__watch_http(w, &e.event);
        if (!w->json && !w->hex && !w->compact) { /* HTTP/2 decoded: every event of the connection feeds its reader */
            int want = ecq__watch_wanted(w, &e.event);
            if (ecq__watch_h2(w, &e.event, want ? stdout : NULL) || !want) return;
            ecq__watch_event_text(w, &e.event, stdout);
            return;
        }
        if (!ecq__watch_wanted(w, &e.event)) return;
        if (w->json) ecq__watch_event_json(&e, stdout);
        else ecq__watch_event_text(w, &e.event, stdout);
        return;
    default:
        w->other++;
        if (w->json) printf("{\"kind\":\"empty\",\"log_type\":%d}\n", e.log_type);
    }
}

/* Reads one connection to its end. 0: normal close (or signal), 1: lost. */
/* The frames in n bytes of the server's: messages shown, pings answered. -1 when all
 * were taken; else the session's end, 0 (a clean close) or 1 (the stream lost), with
 * why filled. */
static int ecq__watch_frames(struct ecq__watch *w, int fd, struct ecq_ws_reader *rd, const uint8_t *in, size_t n,
                             int closing, char *why, size_t whycap)
{
    for (size_t off = 0, used; off < n; off += used) {
        int r = ecq_ws_read(rd, in + off, n - off, &used);
        if (r == ECQ_WS_MESSAGE) {
            ecq__watch_entry(w, rd->data, rd->data_len);
            if (w->pcap.failed) return snprintf(why, whycap, "the --pcapng file failed"), 1;
            if (!w->pcap.w || strcmp(w->pcap.path, "-")) fflush(stdout); /* the file on stdout: per batch, below */
        } else if (r == ECQ_WS_PING) {
            ecq__watch_send(fd, 10, rd->ctl, rd->ctl_len);
        } else if (r == ECQ_WS_CLOSE) {
            unsigned code = rd->ctl_len >= 2 ? (unsigned)rd->ctl[0] << 8 | rd->ctl[1] : 1005;
            if (!closing) ecq__watch_send(fd, 8, rd->ctl, rd->ctl_len >= 2 ? 2 : 0);
            snprintf(why, whycap, "server closed the connection (%u%s%.*s)", code, rd->ctl_len > 2 ? " " : "",
                     rd->ctl_len > 2 ? (int)rd->ctl_len - 2 : 0, (const char *)rd->ctl + 2);
            return closing || code == 1000 || code == 1001 ? 0 : 1; /* a clean close; errors lose the stream */
        } else if (r < 0) {
            uint8_t cc[2] = {(uint8_t)(-r >> 8), (uint8_t)-r};
            ecq__watch_send(fd, 8, cc, 2);
            if (r == -1009)
                snprintf(why, whycap, "a message over --max-message %" PRIu64 " bytes (closed with 1009)", w->max_message);
            else
                snprintf(why, whycap, "protocol error from the server (closed with %d)", -r);
            return 1;
        }
    }
    if (w->pcap.w) (void)ecq_pcapng_flush(w->pcap.w); /* per batch: a live reader sees it now; errors: next write */
    return -1;
}

static int ecq__watch_session(struct ecq__watch *w, int fd, struct pollfd *sp, const uint8_t *early, size_t nearly,
                              int *stop, char *why, size_t whycap)
{
    struct ecq_ws_reader rd = {.from_client = 0, .keep_data = 1, .max_message = w->max_message};
    int64_t last_rx = ecq__now_ms(), pinged = 0;
    uint8_t buf[65536];
    int rc = 1, closing = 0;
    int64_t close_deadline = 0;
    const uint8_t *in = early;
    ssize_t n = (ssize_t)nearly;
    for (;;) {
        if ((rc = ecq__watch_frames(w, fd, &rd, in, (size_t)n, closing, why, whycap)) >= 0) goto out;
        rc = 1;
        n = 0; /* consumed */
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, *sp};
        int64_t now = ecq__now_ms();
        int t = closing ? (int)(close_deadline - now) : -1;
        if (closing && t <= 0) {
            snprintf(why, whycap, "closed");
            rc = 0;
            goto out;
        }
        if (!closing && w->idle_sec) { /* liveness: silence, then a ping, then lost */
            int64_t idle_ms = (int64_t)w->idle_sec * 1000;
            if (!pinged && now - last_rx >= idle_ms) {
                ecq__watch_send(fd, 9, "alive?", 6);
                pinged = now;
            }
            int64_t answer_ms = idle_ms < 10000 ? idle_ms : 10000; /* time the ping gets */
            if (pinged && now - pinged >= answer_ms) {
                snprintf(why, whycap, "connection lost: no message for %" PRId64 " s and no answer to a ping",
                         (idle_ms + answer_ms) / 1000);
                rc = 1;
                goto out;
            }
            int64_t next = pinged ? pinged + answer_ms : last_rx + idle_ms;
            t = (int)(next - now > 0 ? next - now : 0);
        }
        if (poll(p, 2, t) < 0 && errno != EINTR) break;
        if (!closing && ecq__signalled(&p[1])) {
            uint8_t cc[2] = {1000 >> 8, 1000 & 0xff};
            ecq__watch_send(fd, 8, cc, 2);
            closing = 1;
            *stop = 1;
            close_deadline = ecq__now_ms() + 500; /* the server's close, or not: Ctrl-C ends it within a second */
        }
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            n = 0;
            continue;
        }
        if (n > 0) last_rx = ecq__now_ms(), pinged = 0;
        if (n <= 0) {
            snprintf(why, whycap, "connection lost: %s", n == 0 ? "closed without a close frame" : strerror(errno));
            rc = closing ? 0 : 1;
            goto out;
        }
        in = buf;
    }
out:
    ecq_ws_reader_free(&rd);
    close(fd);
    return rc;
}

/* parses watch's command line into w and *url: -1 to go on, else the exit code (-h) */
static int ecq__watch_args(int argc, char **argv, struct ecq__watch *w, const char **url, int *reconnect)
{
    enum { O_JSON = 1, O_COMPACT, O_HEX, O_MAXP, O_NOCOLOR, O_PID, O_PNAME, O_PORT, O_TYPE, O_RECONNECT, O_TOKEN, O_VERBOSE,
           O_TOKENFILE, O_MAXMSG, O_IDLE, O_PCAPNG, O_HTTP, O_STATUS, O_METHOD, O_PATHSUB };
    static const struct option lo[] = {
        {"json", no_argument, 0, O_JSON}, {"compact", no_argument, 0, O_COMPACT}, {"hex", no_argument, 0, O_HEX},
        {"max-payload", required_argument, 0, O_MAXP}, {"no-color", no_argument, 0, O_NOCOLOR},
        {"pid", required_argument, 0, O_PID}, {"pname", required_argument, 0, O_PNAME},
        {"port", required_argument, 0, O_PORT}, {"type", required_argument, 0, O_TYPE},
        {"reconnect", no_argument, 0, O_RECONNECT}, {"token", required_argument, 0, O_TOKEN},
        {"verbose", no_argument, 0, O_VERBOSE}, {"token-file", required_argument, 0, O_TOKENFILE},
        {"max-message", required_argument, 0, O_MAXMSG}, {"idle-timeout", required_argument, 0, O_IDLE},
        {"pcapng", required_argument, 0, O_PCAPNG},
        {"http", no_argument, 0, O_HTTP}, {"status", required_argument, 0, O_STATUS},
        {"method", required_argument, 0, O_METHOD}, {"path", required_argument, 0, O_PATHSUB},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    static const char *const types[] = {"unknown", "request", "h2-request", "response", "h2-response"};
    static char token_buf[4098];
    const char *env = getenv("ECAPTUREQ_TOKEN"); /* not on the command line: /proc/PID/cmdline is public */
    int opt, nocolor = 0;
    if (env && *env) w->token = env;
    while ((opt = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
        switch (opt) {
        case O_JSON: w->json = 1; break;
        case O_COMPACT: w->compact = 1; break;
        case O_HEX: w->hex = 1; break;
        case O_MAXP: w->max_payload = ecq__num("--max-payload", optarg, 0, 1ull << 30); break;
        case O_NOCOLOR: nocolor = 1; break;
        case O_PID: w->f_pid = (int64_t)ecq__num("--pid", optarg, 0, INT64_MAX); break;
        case O_PNAME: w->f_pname = optarg; break;
        case O_PORT: w->f_port = (long)ecq__num("--port", optarg, 0, 65535); break;
        case O_TYPE:
            w->f_type = -1;
            for (long t = 0; t < (long)ECQ__ARRAY_LEN(types); t++)
                if (!strcmp(optarg, types[t])) w->f_type = t;
            if (w->f_type < 0) w->f_type = (long)ecq__num("--type", optarg, 0, 4);
            break;
        case O_RECONNECT: *reconnect = 1; break;
        case O_TOKEN: w->token = optarg; break;
        case O_TOKENFILE: w->token = ecq__token_file(optarg, token_buf, sizeof token_buf); break;
        case O_MAXMSG: w->max_message = ecq__num("--max-message", optarg, 125, 1ull << 31); break;
        case O_IDLE: w->idle_sec = (int)ecq__num("--idle-timeout", optarg, 0, 86400); break;
        case O_PCAPNG: w->pcap.path = optarg; break;
        case 'v': case O_VERBOSE: w->verbose = 1; break;
        case O_HTTP: w->http = 1; break;
        case O_STATUS: w->f_status = (int)ecq__num("--status", optarg, 100, 999); break;
        case O_METHOD: w->f_method = optarg; break;
        case O_PATHSUB: w->f_path = optarg; break;
        case 'h':
            puts("usage: ecaptureq watch [URL] [--json|--compact] [--hex] [--max-payload N] [--no-color] [--verbose]\n"
                 "                       [--pid N] [--pname NAME] [--port N] [--type request|response|h2-request|"
                 "h2-response|unknown|0-4]\n                       [--reconnect] [--token T | --token-file PATH]"
                 " [--max-message BYTES (16 MiB)]\n                       [--idle-timeout SECONDS (35; 0 off)]"
                 "  (or the token in $ECAPTUREQ_TOKEN)\n                       [--pcapng FILE|-]  events as synthetic TCP"
                 " for Wireshark (-: stdout, e.g. | wireshark -k -i -)\n"
                 "                       [--http [--status N] [--method M] [--path SUBSTRING]]  one block (or JSON"
                 " object) per HTTP exchange");
            return 0;
        default: exit(2);
        }
    }
    if (optind < argc) *url = argv[optind++];
    if (optind < argc) ecq__usage_error("watch: unexpected argument '%s'", argv[optind]);
    if (w->pcap.path && !strcmp(w->pcap.path, "-") && (w->json || w->compact || w->hex || w->verbose))
        ecq__usage_error("watch: --pcapng - writes the file to stdout; --json, --compact, --hex and --verbose "
                         "have nowhere to go");
    if (w->pcap.path && !strcmp(w->pcap.path, "-") && isatty(1))
        ecq__usage_error("watch: --pcapng -: stdout is a terminal; pipe it (| wireshark -k -i -) or give a file");
    w->color = !nocolor && !w->json && isatty(1);
    return -1;
}

static int ecq__cmd_watch(int argc, char **argv)
{
    struct ecq__watch w = {.max_payload = 1024, .f_pid = -1, .f_port = -1, .f_type = -1, .f_status = -1,
                           .max_message = 16u << 20, .idle_sec = 35};
    const char *url = ECQ_DEFAULT_URL, *why;
    int reconnect = 0, stop = 0, rc = ecq__watch_args(argc, argv, &w, &url, &reconnect);
    struct ecq_url u;
    if (rc >= 0) return rc;
    rc = 0;
    if (ecq_url_parse(url, &u, &why) < 0)
        ecq__usage_error("bad URL '%s': %s; example: ecaptureq watch ws://127.0.0.1:28257/", url, why);
    if (u.port == 0) ecq__usage_error("bad URL '%s': watch needs the server's port (1-65535)", url);
    if (w.pcap.path && ecq__pcap_out_open(&w.pcap, "watch --pcapng")) return 1;
    struct pollfd sp = {.fd = ecq__signal_fd(), .events = POLLIN};
    int64_t start = ecq__now_ms(), backoff = 500;
    w.sp = &sp, w.stop = &stop;
    char head[ECQ__HEAD_MAX], msg[512];
    while (!stop) {
        size_t left = 0;
        int fd = ecq__watch_connect(&u, &w, head, &left, msg, sizeof msg);
        char raw[sizeof msg];
        memcpy(raw, msg, sizeof raw); /* a server's words: made safe for the terminal below */
        if (fd < 0 && stop) break; /* Ctrl-C while connecting: a normal end */
        if (fd < 0) {
            ecq__safe(msg, sizeof msg, raw, strnlen(raw, sizeof raw));
            if (!reconnect) {
                fprintf(stderr, "ecaptureq watch: %s: %s\n", url, msg);
                rc = 1;
                break;
            }
        } else {
            if (reconnect) fprintf(stderr, "watch: connected to %s\n", url);
            backoff = 500;
            rc = ecq__watch_session(&w, fd, &sp, (const uint8_t *)head, left, &stop, raw, sizeof raw);
            if (stop) break;
            ecq__safe(msg, sizeof msg, raw, strnlen(raw, sizeof raw));
            if (!reconnect) {
                if (rc) fprintf(stderr, "ecaptureq watch: %s: %s\n", url, msg);
                break;
            }
        }
        fprintf(stderr, "watch: %s; reconnecting in %.1f s\n", msg, (double)backoff / 1000);
        struct pollfd p = sp;
        if (poll(&p, 1, (int)backoff) > 0 && ecq__signalled(&p)) stop = 1;
        backoff = backoff * 2 > 10000 ? 10000 : backoff * 2;
    }
    for (int i = 0; w.conns && i < ECQ__WATCH_CONNS; i++) /* bodies read to the close end with watch */
        if (w.conns[i].stamp) ecq__wconn_close(&w, &w.conns[i]);
    double secs = (double)(ecq__now_ms() - start) / 1000.0;
    fflush(stdout);
    fprintf(stderr, "watch: %" PRIu64 " messages (%" PRIu64 " events, %" PRIu64 " run logs, %" PRIu64 " heartbeats, %" PRIu64
                    " undecodable), %" PRIu64 " bytes in %.1f s, %.1f events/s\n", w.msgs, w.events, w.logs, w.beats,
            w.bad, w.bytes, secs, secs > 0 ? (double)w.events / secs : 0.0);
    for (int i = 0; w.conns && i < ECQ__WATCH_CONNS; i++)
        if (w.conns[i].stamp) ecq__wconn_free(&w.conns[i]);
    free(w.conns);
    close(sp.fd);
    if (w.pcap.path && ecq__pcap_out_close(&w.pcap, "watch --pcapng")) return 1;
    return stop ? 0 : rc;
}

/* ---- tls, gotls: capture, as option parsing plus calls to the capture API ---- */

#ifndef ECAPTUREQ_NO_BPF
/* --list: the plan attach would follow for a file, without BPF. 0 if every function
 * of the library is found, else 1. */
static int ecq__list(const struct ecq__lib *k, const char *path)
{
    struct ecq_plan pl;
    struct ecq__plan_job job = {k->name, &pl, NULL};
    int rc = ecq__with_file(-1, path, ecq__plan_fn, &job);
    if (rc < 0 && rc != -ENOENT && rc != -ENOEXEC) {
        fprintf(stderr, "ecaptureq: %s: %s\n", path, rc == -EFAULT ? "it shrank while it was read" : strerror(-rc));
        return 1;
    }
    printf("%s: %s%s%s\n", path, pl.version[0] ? pl.version : k->name, pl.refused ? ": " : "",
           pl.refused ? pl.refused : "");
    for (int i = 0; i < pl.nfuncs; i++) {
        const struct ecq_plan_func *fn = &pl.funcs[i];
        if (!fn->probes) {
            printf("%s %s\n", fn->name, fn->note);
            continue;
        }
        printf("%s %s 0x%" PRIx64 " size %" PRIu64 " offset 0x%" PRIx64 "%s", fn->name, fn->source, fn->addr,
               fn->size, fn->offset, fn->uretprobe ? " uretprobe" : "");
        for (int j = 0; j < fn->nrets; j++) printf(" ret 0x%" PRIx64, fn->addr + fn->rets[j]);
        putchar('\n');
    }
    return pl.refused || pl.found < pl.nfuncs;
}

/* the capture commands' own option ids; eCapture's options follow from ECQ__O_ECAP */
enum { ECQ__O_LIB = 1, ECQ__O_PID, ECQ__O_UID, ECQ__O_RING, ECQ__O_LIST, ECQ__O_DETACH, ECQ__O_PERF, ECQ__O_PCAP,
       ECQ__O_NOSERVER, ECQ__O_MERGE, ECQ__O_MERGE_IDLE, ECQ__O_ECAP = 0x100 };
/* besides these, each library's row in ecq__libs gives its --option PATH (and alias) */
static const struct option ecq__capture_base_opts[] = {
    ECQ__SERVER_LONGOPTS,
    {"pid", required_argument, 0, ECQ__O_PID}, {"uid", required_argument, 0, ECQ__O_UID},
    {"ringbuf-mb", required_argument, 0, ECQ__O_RING}, {"list", no_argument, 0, ECQ__O_LIST},
    {"detach-after", required_argument, 0, ECQ__O_DETACH}, {"perf-uprobes", no_argument, 0, ECQ__O_PERF},
    {"pcapfile", required_argument, 0, ECQ__O_PCAP}, {"no-server", no_argument, 0, ECQ__O_NOSERVER},
    {"merge", no_argument, 0, ECQ__O_MERGE}, {"merge-idle", required_argument, 0, ECQ__O_MERGE_IDLE}};

/* eCapture's options that ecaptureq does not have: each gets one line saying so */
static const struct {
    const char *name;
    int letter, arg;
    const char *why;
} ecq__ecapture_only[] = {
    {"model", 'm', 1, "ecaptureq streams plaintext events (-m text) and writes them as pcapng with -w FILE "
                      "(-m pcap); it writes no keylog"},
    {"keylogfile", 'k', 1, "ecaptureq writes no keylog (eCapture's -m keylog)"},
    {"ifname", 'i', 1, "ecaptureq's pcapng (-w) holds the plaintext on synthetic TCP packets, not an interface's "
                       "traffic, so it takes no interface"},
    {"hex", 0, 0, "payloads are streamed as bytes; consumers choose how to show them (watch --hex)"},
    {"debug", 'd', 0, "ecaptureq has no debug log; its run log goes to stderr and to every consumer"},
    {"btf", 'b', 1, "libbpf finds the kernel's BTF itself"},
    {"mapsize", 0, 1, "the ring buffer's size is --ringbuf-mb"},
    {"logaddr", 'l', 1, "the run log goes to stderr and to every --ecaptureq consumer"},
    {"eventaddr", 0, 1, "events go to --ecaptureq consumers (ecaptureq watch --json writes them to a file)"},
    {"eventroratesize", 0, 1, "events go to --ecaptureq consumers, no files"},
    {"eventroratetime", 0, 1, "events go to --ecaptureq consumers, no files"},
    {"listen", 0, 1, "there is no HTTP configuration server"},
    {"tsize", 't', 1, "events are never truncated"},
    {"ssl_version", 0, 1, "library versions need no offsets here: they are found by symbol"},
    {"cgroup_path", 0, 1, "there is no cgroup filter; use --pid or --uid"},
};

/* The capture commands come from the library table: tls takes every row; a row's own
 * command (gotls, gnutls, nss and its alias nspr, mbedtls, wolfssl) takes that row alone.
 * NULL: not one. */
static int ecq__capture_command(const char *cmd, const struct ecq__lib **only)
{
    *only = NULL;
    if (!strcmp(cmd, "tls")) return 1;
    for (size_t i = 0; i < ECQ__NLIBS; i++) {
        const struct ecq__lib *k = &ecq__libs[i];
        if ((k->command && !strcmp(cmd, k->command)) || (k->command_alias && !strcmp(cmd, k->command_alias)))
            return *only = k, 1;
    }
    return 0;
}

/* "[--libssl PATH] [--nss|--nspr PATH] ": the file options of a command */
static void ecq__lib_options_text(const struct ecq__lib *only, char *out, size_t cap)
{
    out[0] = 0;
    for (size_t i = 0; i < ECQ__NLIBS; i++) {
        const struct ecq__lib *k = &ecq__libs[i];
        if (only && k != only) continue;
        snprintf(out + strlen(out), cap - strlen(out), "[--%s%s%s PATH] ", k->option, k->option_alias ? "|--" : "",
                 k->option_alias ? k->option_alias : "");
    }
}

/* a row that cannot be found host-wide needs its file or a process to look in */
static int ecq__needs_target(const struct ecq__lib *k) { return k && !(k->find & ECQ__FIND_SONAME); }

/* what a capture command line asked for */
struct ecq__capture_cli {
    struct ecq__opts o;
    struct ecq_capture_opts co;
    struct { const struct ecq__lib *lib; const char *path; } forced[16]; /* --libssl/--gnutls/--nss/--elfpath... */
    int nforced, list;
    const struct ecq__lib *only; /* gotls, gnutls, nss: that one library; tls: NULL, every stack */
    struct ecq__pcap_out pcap;   /* -w FILE: a sink beside the server */
    int model_pcap;              /* -m pcap: needs -w */
};

/* the command's long options: its own, each library's, then eCapture's that it refuses
 * by name */
static void ecq__capture_longopts(struct option *lo, char *shortopts, size_t cap)
{
    size_t nlo = 0;
    for (size_t i = 0; i < ECQ__ARRAY_LEN(ecq__capture_base_opts); i++) lo[nlo++] = ecq__capture_base_opts[i];
    for (size_t i = 0; i < ECQ__NLIBS; i++) {
        lo[nlo++] = (struct option){ecq__libs[i].option, required_argument, 0, ECQ__O_LIB};
        if (ecq__libs[i].option_alias)
            lo[nlo++] = (struct option){ecq__libs[i].option_alias, required_argument, 0, ECQ__O_LIB};
    }
    for (size_t i = 0; i < ECQ__ARRAY_LEN(ecq__ecapture_only); i++) {
        int letter = ecq__ecapture_only[i].letter, arg = ecq__ecapture_only[i].arg;
        lo[nlo++] = (struct option){ecq__ecapture_only[i].name, arg ? required_argument : no_argument, 0,
                                    ECQ__O_ECAP + (int)i};
        size_t n = strlen(shortopts);
        if (letter && n + 2 < cap) {
            shortopts[n++] = (char)letter;
            if (arg) shortopts[n++] = ':';
            shortopts[n] = 0;
        }
    }
    lo[nlo] = (struct option){0, 0, 0, 0};
}

/* an eCapture option ecaptureq does not have: 2 (after one line saying why), or -1
 * for -m text, which is what ecaptureq does anyway */
static int ecq__capture_refuse(size_t i, const char *arg)
{
    if (i == 0 && !strcmp(arg, "text")) return -1;
    char name[40] = "";
    if (ecq__ecapture_only[i].letter) snprintf(name, sizeof name, "-%c/", ecq__ecapture_only[i].letter);
    fprintf(stderr, "ecaptureq: %s--%s%s%s is an eCapture option ecaptureq does not have: %s\n", name,
            ecq__ecapture_only[i].name, arg ? " " : "", arg ? arg : "", ecq__ecapture_only[i].why);
    return 2;
}

/* --OPTION PATH: the file of a library, checked for the command; -1 to go on, or the
 * exit code */
static int ecq__capture_file_opt(struct ecq__capture_cli *c, const char *mode, const char *opt, const char *path)
{
    const struct ecq__lib *k = ecq__lib_named(opt);
    if (c->only && k != c->only)
        ecq__usage_error("%s: --%s belongs to another command (ecaptureq %s --%s PATH)", mode, opt,
                         k->command ? k->command : "tls", opt);
    if (c->nforced == (int)ECQ__ARRAY_LEN(c->forced)) ecq__usage_error("at most 16 library paths");
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "ecaptureq: --%s %s: %s\n", opt, path, strerror(errno));
        return 1;
    }
    c->forced[c->nforced].lib = k, c->forced[c->nforced++].path = path;
    return -1;
}

static void ecq__capture_help(const char *mode, const struct ecq__capture_cli *c)
{
    char files[160];
    ecq__lib_options_text(c->only, files, sizeof files);
    printf("usage: ecaptureq %s [--ecaptureq URL] %s[--list] [-p|--pid N] [-u|--uid N] [--ringbuf-mb MB] "
           "[--detach-after SECONDS] [--perf-uprobes] [-w|--pcapfile FILE|-] [--no-server] [--merge] "
           "[--merge-idle MS] [server options]\n",
           mode, files);
}

/* parses a capture command line into c: -1 to go on, else the exit code (-h, refusals) */
static int ecq__capture_args(int argc, char **argv, const char *mode, struct ecq__capture_cli *c)
{
    struct option lo[ECQ__ARRAY_LEN(ecq__capture_base_opts) + 2 * ECQ__NLIBS + ECQ__ARRAY_LEN(ecq__ecapture_only) + 1];
    char shortopts[64] = "hp:u:w:";
    int opt, idx, rc;
    uint64_t ring_mb = ECQ_DEFAULT_RING_MB;
    ecq__capture_longopts(lo, shortopts, sizeof shortopts);
    (void)ecq__capture_command(mode, &c->only);
    ecq_config_init(&c->o.cfg);
    ecq_capture_opts_init(&c->co);
    while ((opt = getopt_long(argc, argv, shortopts, lo, &idx)) != -1) {
        if (ecq__server_opt(&c->o, opt, optarg)) continue;
        for (size_t i = 0; i < ECQ__ARRAY_LEN(ecq__ecapture_only); i++) /* eCapture's letters */
            if (ecq__ecapture_only[i].letter == opt) opt = ECQ__O_ECAP + (int)i;
        if (opt == ECQ__O_ECAP && (!strcmp(optarg, "pcap") || !strcmp(optarg, "pcapng"))) {
            c->model_pcap = 1; /* eCapture's -m pcap -w FILE */
            continue;
        }
        if (opt >= ECQ__O_ECAP && opt < ECQ__O_ECAP + (int)ECQ__ARRAY_LEN(ecq__ecapture_only)) {
            if ((rc = ecq__capture_refuse((size_t)(opt - ECQ__O_ECAP), optarg)) >= 0) return rc;
            continue;
        }
        switch (opt) {
        case ECQ__O_LIB:
            if ((rc = ecq__capture_file_opt(c, mode, lo[idx].name, optarg)) >= 0) return rc;
            break;
        case 'p':
        case ECQ__O_PID: c->co.pid = (uint32_t)ecq__num("--pid", optarg, 1, 4194304); break;
        case 'u':
        case ECQ__O_UID: c->co.uid = (uint32_t)ecq__num("--uid", optarg, 0, ECQ_ANY_UID - 1); break;
        case ECQ__O_RING: ring_mb = ecq__num("--ringbuf-mb", optarg, 1, 1024); break;
        case ECQ__O_LIST: c->list = 1; break;
        case ECQ__O_DETACH: c->co.detach_sec = (unsigned)ecq__num("--detach-after", optarg, 0, 86400); break;
        case ECQ__O_PERF: c->co.perf_uprobes = 1; break;
        case ECQ__O_MERGE: c->co.merge = 1; break;
        case ECQ__O_MERGE_IDLE: c->co.merge_idle_ms = (unsigned)ecq__num("--merge-idle", optarg, 1, 3600000); break;
        case 'w':
        case ECQ__O_PCAP: c->pcap.path = optarg; break;
        case ECQ__O_NOSERVER: c->o.cfg.no_listen = 1; break;
        case 'h': ecq__capture_help(mode, c); return 0;
        default: exit(2);
        }
    }
    if (optind < argc) ecq__usage_error("%s: unexpected argument '%s'", mode, argv[optind]);
    if ((ring_mb & (ring_mb - 1)) != 0) ecq__usage_error("--ringbuf-mb must be a power of two");
    c->co.ring_mb = (unsigned)ring_mb;
    if (ecq__needs_target(c->only) && !c->nforced && !c->co.pid)
        ecq__usage_error("%s needs --%s PATH or --pid N", mode, c->only->option);
    if (c->list && !c->nforced) ecq__usage_error("--list needs a file to plan (--%s PATH)", c->only ? c->only->option : "libssl");
    if (c->model_pcap && !c->pcap.path) ecq__usage_error("%s: -m pcap needs -w FILE (the pcapng to write)", mode);
    if (c->co.merge && c->pcap.path)
        ecq__usage_error("%s: --merge and -w: a pcapng holds each call's bytes (HTTP/2 as text is not HTTP/2 to "
                         "Wireshark); run them as two agents", mode);
    if (c->o.cfg.no_listen && !c->pcap.path)
        ecq__usage_error("%s: --no-server needs -w FILE (nothing else would get the events)", mode);
    if (c->pcap.path && !strcmp(c->pcap.path, "-") && isatty(1))
        ecq__usage_error("%s: -w -: stdout is a terminal; pipe it (| wireshark -k -i -) or give a file", mode);
    return -1;
}

/* what can be refused before anything starts, with one line: 0, or the exit code */
static int ecq__capture_precheck(const struct ecq__capture_cli *c)
{
    char why[256];
    for (int i = 0; i < c->nforced; i++) { /* a file the library's plan refuses, or finds nothing in */
        const struct ecq__lib *k = c->forced[i].lib;
        struct ecq_plan pl;
        struct ecq__plan_job job = {k->name, &pl, NULL};
        int rc = ecq__with_file(-1, c->forced[i].path, ecq__plan_fn, &job);
        if (rc > 0 || (rc != -ENOENT && rc != -ENOEXEC)) continue; /* unreadable: said when attaching */
        if (pl.refused) snprintf(why, sizeof why, "%s", pl.refused);
        else snprintf(why, sizeof why, "a file without %s (%s not found)", k->what, k->funcs[0].func);
        fprintf(stderr, "ecaptureq: --%s %s: %s\n", k->option, c->forced[i].path, why);
        return 1;
    }
    if (ecq_capture_check(why, sizeof why) < 0) {
        fprintf(stderr, "ecaptureq: %s\n", why);
        return 1;
    }
    if (c->co.pid && kill((pid_t)c->co.pid, 0) < 0 && errno == ESRCH) {
        fprintf(stderr, "ecaptureq: --pid %u: no such process\n", c->co.pid);
        return 1;
    }
    return 0;
}

/* attaches what the command line asked for: the number of probes attached; nothing
 * attached is said in one line, to stderr and to consumers */
static int ecq__capture_attach_all(struct ecq_capture *cap, struct ecq_server *srv,
                                   const struct ecq__capture_cli *c)
{
    int total = 0, rc;
    for (int i = 0; i < c->nforced; i++)
        if ((rc = ecq_capture_attach(cap, c->forced[i].lib->name, c->forced[i].path)) > 0) total += rc;
    /* tls: every TLS stack; a library's own command: the given files, else that library
     * as the target process or the host has it (gotls --pid N: that process's executable) */
    if (!c->only || !c->nforced || (ecq__needs_target(c->only) && c->co.pid))
        if ((rc = ecq_capture_attach(cap, c->only ? c->only->name : NULL, NULL)) > 0) total += rc;
    struct ecq_capture_stats st;
    ecq_capture_stats(cap, &st);
    if (total || st.scan_left) return 1; /* the scan of every process may find some yet */
    const char *m = "the kernel refused every uprobe (permission denied): on this kernel uprobes need "
                    "CAP_SYS_ADMIN (root), not only CAP_BPF and CAP_PERFMON";
    if (st.probes_denied) {
        ecq_server_log(srv, "error: %s", m);
        fprintf(stderr, "ecaptureq: %s\n", m);
    } else {
        const char *where = c->co.pid ? "the target process's maps and executable"
                                      : "/etc/ld.so.cache and the library directories";
        ecq_server_log(srv, "error: nothing to attach to: no TLS library found in %s", where);
        fprintf(stderr, "ecaptureq: nothing to attach to: searched %s\n", where);
    }
    return 0;
}

/* capture's counters into the server's heartbeats, when they changed */
static void ecq__capture_report(struct ecq_server *srv, const struct ecq_capture *cap, struct ecq_capture_stats *last)
{
    struct ecq_capture_stats st;
    ecq_capture_stats(cap, &st);
    uint64_t lost = st.lost_records + st.lost_calls + st.dropped;
    if (lost != last->lost_records + last->lost_calls + last->dropped) ecq_server_set_lost(srv, lost);
    if (st.files != last->files || st.probes != last->probes) {
        char status[64];
        snprintf(status, sizeof status, "files=%d probes=%d", st.files, st.probes);
        ecq_server_set_status(srv, status);
    }
    *last = st;
}

/* -w FILE: capture's sink for events and run-log lines */
static void ecq__capture_pcap_event(void *user, const struct ecq_event *ev)
{
    struct ecq__pcap_out *o = user;
    if (!o->failed) (void)ecq__pcap_out_check(o, ecq_pcapng_event(o->w, ev), "-w");
}

static void ecq__capture_pcap_log(void *user, const char *line)
{
    struct ecq__pcap_out *o = user;
    if (!o->failed) (void)ecq__pcap_out_check(o, ecq_pcapng_log(o->w, 0, line, strlen(line)), "-w");
}

static int ecq__cmd_capture(int argc, char **argv, const char *mode)
{
    struct ecq__capture_cli c = {0};
    struct ecq_capture *cap = NULL;
    struct ecq_capture_stats last = {0};
    int rc = ecq__capture_args(argc, argv, mode, &c), sig = 0, failed = 1;
    char who[64];
    if (rc >= 0) return rc;
    if (c.list) {
        for (int i = 0; i < c.nforced; i++) rc = ecq__list(c.forced[i].lib, c.forced[i].path) ? 1 : rc;
        return rc < 0 ? 0 : 1;
    }
    if ((rc = ecq__capture_precheck(&c)) != 0) return rc;
    if (c.pcap.path) {
        if (ecq__pcap_out_open(&c.pcap, "-w")) return 1;
        c.co.on_event = ecq__capture_pcap_event, c.co.on_log = ecq__capture_pcap_log, c.co.user = &c.pcap;
    }
    struct pollfd fds[2] = {{.fd = ecq__signal_fd(), .events = POLLIN}, {.fd = -1, .events = POLLIN}};
    /* the drain timer wakes on time: the default 50 us of slack went into every record's
     * latency, and a period that much shorter cost as many more wakeups */
    (void)prctl(PR_SET_TIMERSLACK, 1UL);
    struct ecq_server *srv = ecq__serve(&c.o, mode);
    if (ecq_capture_open(&cap, srv, &c.co) < 0 || !ecq__capture_attach_all(cap, srv, &c)) goto done;
    fds[1].fd = ecq_capture_fd(cap);
    snprintf(who, sizeof who, "%s", c.co.pid || c.co.uid != ECQ_ANY_UID ? " only" : " every process");
    if (c.co.pid) snprintf(who + strlen(who), sizeof who - strlen(who), " pid %u", c.co.pid);
    if (c.co.uid != ECQ_ANY_UID) snprintf(who + strlen(who), sizeof who - strlen(who), " uid %u", c.co.uid);
    ecq_server_log(srv, "capturing%s", who);
    ecq__capture_report(srv, cap, &last);
    while (!sig) {
        /* records come without wakeups while they flow: drain on a short timer */
        int n = ecq__server_poll_us(srv, fds, 2, ecq_capture_next_us(cap));
        if (n < 0) break;
        if (n > 0) sig = ecq__signalled(&fds[0]);
        (void)ecq_capture_step(cap); /* a failed drain shows as loss in the counters */
        if (c.pcap.w && !c.pcap.failed) (void)ecq__pcap_out_check(&c.pcap, ecq_pcapng_flush(c.pcap.w), "-w");
        ecq__capture_report(srv, cap, &last);
    }
    failed = 0;
    /* the backlog reaches clients a step at a time, each step written before the next */
    for (int i = 0; i < 16 && ecq_capture_step(cap) > 0; i++) ecq_server_poll(srv, NULL, 0, 0);
done:
    ecq_server_log(srv, "stopping%s", sig ? " on signal" : "");
    ecq_capture_close(cap);
    ecq_server_close(srv, 1000);
    close(fds[0].fd);
    if (c.pcap.path && ecq__pcap_out_close(&c.pcap, "-w")) failed = 1;
    return failed;
}
#endif /* ECAPTUREQ_NO_BPF */

#ifndef ECAPTUREQ_NO_BPF
/* the capture commands' lines of the usage, from the library table */
static void ecq__usage_capture(FILE *f)
{
    char files[160];
    ecq__lib_options_text(NULL, files, sizeof files);
    fprintf(f, "  tls    capture TLS plaintext with eBPF and stream it (needs root): every stack\n"
               "         %s[--list]\n"
               "         [--pid N] [--uid N] [--ringbuf-mb MB]\n"
               "         [--detach-after SECONDS]  (default " ECQ__STR(ECQ_DEFAULT_DETACH_SEC) "; 0: never)\n"
               "         [--perf-uprobes]  one perf event per probe, as on kernels before 6.6\n"
               "         [-w|--pcapfile FILE|-]  also write the events as pcapng (synthetic TCP; -: stdout)\n"
               "         [--no-server]  with -w: no WebSocket endpoint, the file only\n"
               "         [--merge]  events for people (the eCaptureQ GUI): one per HTTP/1 message, HTTP/2\n"
               "                    frames as text, other bytes of a direction merged until idle\n"
               "         [--merge-idle MS]  with --merge: idle after MS ms (default " ECQ__STR(ECQ_DEFAULT_MERGE_IDLE_MS) ")\n", files);
    for (size_t i = 0; i < ECQ__NLIBS; i++) {
        const struct ecq__lib *k = &ecq__libs[i];
        char name[32];
        if (!k->command) continue;
        ecq__lib_options_text(k, files, sizeof files);
        snprintf(name, sizeof name, "%s%s%s", k->command, k->command_alias ? ", " : "",
                 k->command_alias ? k->command_alias : "");
        fprintf(f, "  %-6s %s only: %s%s\n", name, k->what, files,
                ecq__needs_target(k) ? "(repeatable) or --pid N" : "or the host's");
    }
    fputs("         --list: the probes each PATH would get, without capturing; -p/-u are\n"
          "         --pid/--uid; eCapture options without a meaning here (-m pcap, -i, --hex, ...)\n"
          "         are refused with one line that says why\n", f);
}
#else
static void ecq__usage_capture(FILE *f) { fputs("  (tls, gotls, ...: this build has no capture)\n", f); }
#endif

static void ecq__usage(FILE *f)
{
    fputs("usage: ecaptureq COMMAND [options]\n", f);
    ecq__usage_capture(f);
    fputs("  gen    stream synthetic events (no root, no BPF)\n"
          "  watch  connect to a stream and show it (ecaptureq watch --help)\n"
          "  version\n"
          "server options (tls, gotls, gen):\n"
          "  --ecaptureq URL          endpoint, default " ECQ_DEFAULT_URL " (port 0: any free port)\n"
          "  --heartbeat SECONDS      heartbeat interval per client, default " ECQ__STR(ECQ_DEFAULT_HEARTBEAT_SEC) "\n"
          "  --client-buffer BYTES    per-client output bound, default " ECQ__STR(ECQ_DEFAULT_CLIENT_BUFFER) "\n"
          "  --max-clients N          open WebSocket clients, default " ECQ__STR(ECQ_DEFAULT_MAX_CLIENTS) "\n"
          "  --max-pending N          connections still in their handshake (the oldest goes), default "
          ECQ__STR(ECQ_DEFAULT_MAX_PENDING) "\n"
          "  --max-message BYTES      largest client message, default " ECQ__STR(ECQ_DEFAULT_MAX_MESSAGE) "\n"
          "  --handshake-timeout MS   default " ECQ__STR(ECQ_DEFAULT_HANDSHAKE_TIMEOUT_MS) "\n"
          "  --token T | --token-file PATH   require Authorization: Bearer T or ?token=T\n"
          "  --allow-origin ORIGIN    also accept this Origin (repeatable); a page opened from file://\n"
          "                           sends Origin: null (--allow-origin null)\n"
          "  --log-format text|json   run-log lines as 'TIME message' (default) or eCapture's JSON\n"
          "  --no-viewer              a plain GET gets 400, not the browser viewer page\n", f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        ecq__usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        ecq__usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("ecaptureq %s\n", ECQ_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "gen")) return ecq__cmd_gen(argc - 1, argv + 1);
    if (!strcmp(cmd, "watch")) return ecq__cmd_watch(argc - 1, argv + 1);
    static const char *const modules[] = {"bash", "zsh", "mysqld", "postgres"};
    for (size_t i = 0; i < ECQ__ARRAY_LEN(modules); i++)
        if (!strcmp(cmd, modules[i])) {
            fprintf(stderr, "ecaptureq: '%s' is an eCapture module ecaptureq does not have; it captures TLS "
                            "(see ecaptureq --help)\n", cmd);
            return 2;
        }
#ifndef ECAPTUREQ_NO_BPF
    const struct ecq__lib *only;
    if (ecq__capture_command(cmd, &only)) return ecq__cmd_capture(argc - 1, argv + 1, cmd);
#else
    if (!strcmp(cmd, "tls")) {
        fputs("ecaptureq: this build has no capture (built with ECAPTUREQ_NO_BPF)\n", stderr);
        return 1;
    }
#endif
    fprintf(stderr, "ecaptureq: unknown command '%s' (see ecaptureq --help)\n", cmd);
    return 2;
}
#endif /* ECAPTUREQ_NO_MAIN */
