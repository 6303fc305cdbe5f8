/* fuzz.c - libFuzzer targets for ecaptureq's parsers, all in one binary (one build):
 * started as tests/bin/fuzz-NAME (a link to tests/bin/fuzz) or with ECQ_FUZZ=NAME, it
 * runs target NAME; -DFUZZ_REPLAY builds a main without libFuzzer (cross builds):
 *   handshake  ecq_http_head_length + ecq_http_check_upgrade (with and without a token)
 *   frames     ecq_ws_read, server and client side, fed whole and split at every byte
 *              boundary the input picks: both must agree
 *   protobuf   ecq_pb_decode_entry, then re-encode and decode again: same fields
 *   url        ecq_url_parse
 *   x86        ecq_x86_insn_len, ecq_x86_find_returns: lengths 1..15, returns on boundaries;
 *              ecq_arm64_find_returns: every offset is a RET word on a 4-byte boundary
 *   elf        ecq_elf_find_func, ecq_go_version, ecq_boringssl_find on arbitrary files: a function found is
 *              in executable code, "over the bounds" holds for every name alike, and
 *              the found function decodes; -timeout catches a lookup that does not end
 *   plan       ecq_plan_file for every library on arbitrary files (built with capture)
 *   pcapng     ecq_pcapng_event/_log on arbitrary events (tuples, uuids, fd reuse, sizes):
 *              every block well formed, every packet's IP and TCP checksums right
 *   http       the HTTP decoders on a conversation: after a mode byte, chunks of a length
 *              byte (bit 7: the direction) and bytes, fed to the HTTP/2 reader and the
 *              HTTP/1 reader (with zlib); the whole input also to HPACK, Huffman and the
 *              protobuf text; the same chunks as events through a merger (tls --merge),
 *              which hands on every byte once, in order (a chunk of length 0 ends the
 *              connection). Bounds hold, and HTTP/2 fed a byte at a time reads what it
 *              read fed by chunks, once it never had to skip
 * Run longer:  tests/bin/fuzz-frames -max_total_time=3600 tests/corpus/frames */
#include "../ecaptureq.h"
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* ---- handshake ---- */
static int fuzz_handshake(const uint8_t *d, size_t n)
{
    static const char *const origins[] = {"https://gui.example"};
    struct ecq_http_policy p = {.path = "/", .check_host = 1, .bind_host = "127.0.0.1",
                                .origins = origins, .norigins = 1};
    char acc[29];
    size_t head = ecq_http_head_length((const char *)d, n);
    assert(head <= n);
    size_t len = head ? head : n;
    int rc = ecq_http_check_upgrade((const char *)d, len, &p, acc);
    assert(rc == 101 || rc == 200 || rc == 400 || rc == 403 || rc == 404 || rc == 405 || rc == 426);
    if (rc == 101) assert(strlen(acc) == 28);
    int plain = rc == 200;
    p.token = "t0k3n";
    rc = ecq_http_check_upgrade((const char *)d, len, &p, acc);
    assert(rc == 101 || rc == 200 || rc == 400 || rc == 401 || rc == 403 || rc == 404 || rc == 405 || rc == 426);
    assert(plain == (rc == 200)); /* the page (200) needs no token; a token never makes one */
    return 0;
}
/* ---- frames ---- */
/* runs the reader over in[0..n) in pieces of at most step bytes; returns a trace */
static unsigned long trace(const uint8_t *in, size_t n, size_t step, int from_client)
{
    struct ecq_ws_reader r = {.from_client = from_client, .keep_data = !from_client, .max_message = 4096};
    unsigned long h = 1469598103u;
    size_t off = 0, used;
    while (off < n) {
        size_t len = n - off < step ? n - off : step;
        int rc = ecq_ws_read(&r, in + off, len, &used);
        assert(used <= len);
        off += used;
        if (rc != ECQ_WS_MORE) h = h * 31 + (unsigned long)(rc + 2000);
        if (rc == ECQ_WS_MESSAGE && !from_client) h = h * 31 + r.data_len;
        if (rc == ECQ_WS_PING || rc == ECQ_WS_CLOSE) assert(r.ctl_len <= 125);
        if (rc < 0) break;
        if (rc == ECQ_WS_MORE) assert(used == len);
    }
    ecq_ws_reader_free(&r);
    return h;
}

static int fuzz_frames(const uint8_t *d, size_t n)
{
    if (n < 1) return 0;
    size_t step = (size_t)d[0] % 17 + 1;
    for (int side = 0; side < 2; side++)
        assert(trace(d + 1, n - 1, n, side) == trace(d + 1, n - 1, step, side));
    return 0;
}
/* ---- protobuf ---- */
static int same(struct ecq_bytes a, struct ecq_bytes b) { return a.len == b.len && (!a.len || !memcmp(a.ptr, b.ptr, a.len)); }

static int fuzz_protobuf(const uint8_t *d, size_t n)
{
    struct ecq_entry e, f;
    size_t off;
    const char *why;
    if (ecq_pb_decode_entry(d, n, &e, &off, &why) < 0) {
        assert(off <= n && why);
        return 0;
    }
    size_t need = ecq_pb_entry_size(&e);
    uint8_t *buf = malloc(need + 1);
    assert(ecq_pb_encode_entry(&e, buf, need) == need);
    assert(need == 0 || ecq_pb_encode_entry(&e, buf, need - 1) == 0);
    assert(ecq_pb_decode_entry(buf, need, &f, &off, &why) == 0);
    assert(f.log_type == e.log_type && f.payload_case == e.payload_case);
    if (e.payload_case == ECQ_PAYLOAD_EVENT)
        assert(f.event.timestamp == e.event.timestamp && f.event.pid == e.event.pid && same(f.event.uuid, e.event.uuid) &&
               same(f.event.payload, e.event.payload) && f.event.src_port == e.event.src_port);
    if (e.payload_case == ECQ_PAYLOAD_HEARTBEAT)
        assert(f.heartbeat.count == e.heartbeat.count && same(f.heartbeat.message, e.heartbeat.message));
    if (e.payload_case == ECQ_PAYLOAD_RUN_LOG) assert(same(f.run_log, e.run_log));
    free(buf);
    return 0;
}
/* ---- url ---- */
static int fuzz_url(const uint8_t *d, size_t n)
{
    char *s = malloc(n + 1);
    struct ecq_url u;
    const char *why = NULL;
    memcpy(s, d, n);
    s[n] = 0;
    if (ecq_url_parse(s, &u, &why) == 0) {
        assert(u.path[0] == '/' && u.host[0]);
    } else {
        assert(why);
    }
    free(s);
    return 0;
}
/* ---- x86 ---- */
static int fuzz_x86(const uint8_t *d, size_t n)
{
    uint32_t rets[16];
    size_t bad = 0, off = 0;
    int k = ecq_x86_find_returns(d, n, rets, 16, &bad);
    assert(k >= -1);
    if (k < 0) assert(bad < n);
    /* every offset reported is where a linear decode puts an instruction start */
    for (int i = 0; k > 0 && i < k && i < 16; i++) {
        while (off < rets[i]) {
            int len = ecq_x86_insn_len(d + off, n - off);
            assert(len >= 1 && len <= 15);
            off += (size_t)len;
        }
        assert(off == rets[i]);
    }
    for (size_t i = 0; i < n && i < 64; i++) {
        int len = ecq_x86_insn_len(d + i, n - i);
        assert(len == -1 || (len >= 0 && len <= 15 && (size_t)len <= n - i));
    }
    k = ecq_arm64_find_returns(d, n, rets, 16, &bad);
    assert(k < 0 ? n % 4 && bad == n - n % 4 : n % 4 == 0);
    for (int i = 0; i < k && i < 16; i++)
        assert(rets[i] % 4 == 0 && rets[i] < n && !memcmp(d + rets[i], "\xc0\x03\x5f\xd6", 4));
    return 0;
}
/* ---- elf ---- */
#include <elf.h>
/* whether [off, off + len) is in the file part of an executable PT_LOAD that maps it at
 * addr: the check ecq_elf_find_func promises, written again from <elf.h> */
static int in_code(const uint8_t *d, size_t n, uint64_t addr, uint64_t off, uint64_t len)
{
    Elf64_Ehdr eh;
    Elf64_Phdr ph;
    memcpy(&eh, d, sizeof eh); /* ecq_elf_find_func found something: the header is there */
    for (int i = 0; i < eh.e_phnum; i++) {
        if (eh.e_phoff > n || n - eh.e_phoff < (i + 1) * sizeof ph) return 0;
        memcpy(&ph, d + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) && addr >= ph.p_vaddr && off >= ph.p_offset &&
            addr - ph.p_vaddr == off - ph.p_offset && off - ph.p_offset <= ph.p_filesz &&
            len <= ph.p_filesz - (off - ph.p_offset))
            return 1;
    }
    return 0;
}

static int fuzz_elf(const uint8_t *d, size_t n)
{
    static const char *const names[] = {"crypto/tls.(*Conn).Read", "SSL_read", "main",
                                        "<rustls::conn::Writer as std::io::Write>::write"};
    struct ecq_elf_func fn;
    uint32_t rets[16];
    size_t bad;
    char v[64];
    int over = -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int rc = ecq_elf_find_func(d, n, names[i], &fn);
        assert(rc == 0 || rc == ECQ_ELF_NOT_FOUND || rc == ECQ_ELF_OVER_BOUNDS || rc == ECQ_ELF_NOT_CODE);
        assert((rc == 0) == (fn.why == NULL));
        if (over != -1 && fn.size <= ECQ_ELF_MAX_FUNC_SIZE) assert(over == (rc == ECQ_ELF_OVER_BOUNDS));
        if (fn.size <= ECQ_ELF_MAX_FUNC_SIZE) over = rc == ECQ_ELF_OVER_BOUNDS; /* by table: for every name */
        if (rc != 0) continue;
        assert(fn.offset <= n && fn.size <= n - fn.offset && fn.size <= ECQ_ELF_MAX_FUNC_SIZE);
        assert(in_code(d, n, fn.addr, fn.offset, fn.size ? fn.size : 1));
        const char *arch;
        if (ecq_elf_machine(d, n, &arch) == ECQ_EM_AARCH64) /* what capture decodes next */
            (void)ecq_arm64_find_returns(d + fn.offset, fn.size, rets, 16, &bad);
        else
            (void)ecq_x86_find_returns(d + fn.offset, fn.size, rets, 16, &bad);
    }
    int r = ecq_go_version(d, n, v, sizeof v);
    assert(r >= -1 && r <= 1 && strlen(v) < sizeof v);
    /* BoringSSL without symbols: two distinct functions in executable code, or why not */
    struct ecq_boringssl bs;
    int b = ecq_boringssl_find(d, n, &bs);
    assert((b == 0 || b == ECQ_ELF_NOT_FOUND) && (b == 0) == (bs.why == NULL) && (b != 0 || bs.present));
    if (b == 0)
        assert(in_code(d, n, bs.write.addr, bs.write.offset, 1) && in_code(d, n, bs.read.addr, bs.read.offset, 1) &&
               bs.write.addr != bs.read.addr);
    return 0;
}
/* ---- plan ---- */
#ifndef ECAPTUREQ_NO_BPF /* the planner is capture's */
/* every library's plan of arbitrary bytes: whatever is planned lies inside the file,
 * the counts add up, and a refusal says why */
static int fuzz_plan(const uint8_t *d, size_t n)
{
    static const char *const libs[] = {"openssl", "gnutls", "nss", "mbedtls", "wolfssl", "go", "rustls"};
    static struct ecq_plan pl;
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        int rc = ecq_plan_file(d, n, libs[i], &pl), probes = 0, found = 0;
        assert(rc > 0 || rc == -ENOENT || rc == -ENOEXEC);
        assert((rc == -ENOEXEC) == (pl.refused != NULL) && strlen(pl.version) < sizeof pl.version);
        for (int f = 0; f < pl.nfuncs; f++) {
            const struct ecq_plan_func *p = &pl.funcs[f];
            assert(p->probes >= 0 && p->nrets >= 0 && p->nrets <= ECQ_PLAN_MAX_RETS);
            if (!p->probes) continue;
            found++, probes += p->probes;
            assert(p->offset <= n && p->size <= n - p->offset && p->enter != 0);
            assert(p->probes == 1 + p->uretprobe + p->nrets && !(p->uretprobe && p->nrets));
            for (int r = 0; r < p->nrets; r++) assert(p->rets[r] < p->size);
        }
        /* a file of the other machine is refused with its plan (what that build probes) */
        assert(found == pl.found && probes == pl.probes && (rc > 0 ? rc == probes : probes == 0 || pl.foreign));
        assert(!pl.foreign || (rc == -ENOEXEC && pl.refused));
    }
    return 0;
}
#endif
/* ---- pcapng ---- */
#include <stdio.h>
/* the Internet checksum over n bytes, added to s */
static uint32_t sum16(uint32_t s, const uint8_t *b, size_t n)
{
    for (; n > 1; b += 2, n -= 2) s += (uint32_t)b[0] << 8 | b[1];
    if (n) s += (uint32_t)b[0] << 8;
    return s;
}
static int folds_to_ffff(uint32_t s)
{
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return s == 0xffff;
}
/* one packet of interface 0: a whole IPv4/IPv6 header and TCP segment, both checksums right */
static void check_packet(const uint8_t *p, size_t n)
{
    int v6 = p[0] >> 4 == 6;
    size_t ip = v6 ? 40 : 20, alen = v6 ? 16 : 4;
    assert(n >= ip + 20 && (p[0] >> 4 == 4 || v6));
    assert(n - ip - 20 < 65536 - 40);
    if (!v6) assert(folds_to_ffff(sum16(0, p, 20)) && (size_t)(p[2] << 8 | p[3]) == n);
    else assert((size_t)(p[4] << 8 | p[5]) == n - 40);
    uint32_t s = sum16(0, p + (v6 ? 8 : 12), 2 * alen) + 6 + (uint32_t)(n - ip);
    assert(folds_to_ffff(sum16(s, p + ip, n - ip)));
}
/* Records in the input: a flags byte (bit 0: a log line), two ports, a type, then
 * uuid, src, dst (a length byte each) and a payload (two length bytes). Every event
 * and line goes to one writer; the file it wrote is walked block by block. */
static int fuzz_pcapng(const uint8_t *d, size_t n)
{
    char *buf = NULL;
    size_t len = 0, off = 0;
    FILE *f = open_memstream(&buf, &len);
    struct ecq_pcapng *w;
    assert(f && ecq_pcapng_open(&w, f) == 0);
    while (off + 6 <= n) {
        struct ecq_event ev = {.timestamp = 1700000000000000000 + (int64_t)off, .pid = (int64_t)off, .pname = {"fz", 2}};
        uint8_t flags = d[off];
        ev.src_port = (uint32_t)d[off + 1] << 8 | d[off + 2], ev.dst_port = (uint32_t)d[off + 3] << 8 | d[off + 4];
        ev.type = d[off + 5] % 6;
        off += 6;
        struct ecq_bytes *fld[3] = {&ev.uuid, &ev.src_ip, &ev.dst_ip};
        for (int i = 0; i < 3 && off < n; i++) {
            size_t l = d[off++];
            if (l > n - off) l = n - off;
            *fld[i] = (struct ecq_bytes){(const char *)d + off, l};
            off += l;
        }
        size_t pl = off + 2 <= n ? ((size_t)d[off] << 8 | d[off + 1]) * 7 : 0; /* up to 448 KiB: several segments */
        off += off + 2 <= n ? 2 : 0;
        static uint8_t big[65536 * 7];
        for (size_t i = 0; i < pl; i++) big[i] = (uint8_t)(i * 131 + off);
        ev.payload = (struct ecq_bytes){(const char *)big, pl}, ev.length = (uint32_t)pl;
        if (flags & 1) assert(ecq_pcapng_log(w, ev.timestamp, ev.uuid.ptr, ev.uuid.len) == 0);
        else assert(ecq_pcapng_event(w, &ev) == 0);
    }
    assert(ecq_pcapng_close(w) == 0 && fclose(f) == 0);
    const uint8_t *p = (const uint8_t *)buf;
    int blocks = 0;
    for (size_t at = 0; at < len; blocks++) { /* every block: its length twice, 32-bit aligned */
        uint32_t type, total, tail;
        assert(len - at >= 12);
        memcpy(&type, p + at, 4), memcpy(&total, p + at + 4, 4);
        assert(total % 4 == 0 && total >= 12 && total <= len - at);
        memcpy(&tail, p + at + total - 4, 4);
        assert(tail == total);
        if (type == 6) {
            uint32_t ifc, cap;
            memcpy(&ifc, p + at + 8, 4), memcpy(&cap, p + at + 20, 4);
            assert(ifc <= 1 && 28 + cap + 4 <= total);
            if (ifc == 0) check_packet(p + at + 28, cap);
        }
        at += total;
    }
    assert(blocks >= 3); /* the section header and both interfaces */
    free(buf);
    return 0;
}
/* ---- http ---- */
struct trace { unsigned long h; uint64_t data; int lost; };

static void mix(struct trace *t, uint64_t v) { t->h = t->h * 1099511628211ul ^ v; }
static void mix_bytes(struct trace *t, struct ecq_bytes b) { for (size_t i = 0; i < b.len; i++) mix(t, (uint8_t)b.ptr[i]); }

static void on_h2(void *user, const struct ecq_h2_item *it)
{
    struct trace *t = user;
    assert(it->kind >= ECQ_H2_PREFACE && it->kind <= ECQ_H2_NOTE && (it->dir == 0 || it->dir == 1));
    if (it->kind == ECQ_H2_DATA) { /* pieces depend on the split: only their sum counts */
        assert(it->data.len <= it->length);
        t->data += it->data.len;
        return;
    }
    if (it->kind == ECQ_H2_FRAME_END) assert(it->data.len <= ECQ_H2_MAX_FRAME);
    if (it->kind == ECQ_H2_GRPC) assert(it->data.len <= ECQ_GRPC_MAX_MESSAGE && it->data.len <= it->length);
    if (it->kind == ECQ_H2_NOTE && it->data.len >= 19 && !memcmp(it->data.ptr, "not an HTTP/2 frame", 19)) t->lost = 1;
    mix(t, (uint64_t)it->kind << 40 | (uint64_t)it->type << 32 | it->stream), mix(t, it->flags), mix(t, it->length);
    mix_bytes(t, it->header.name), mix_bytes(t, it->header.value), mix_bytes(t, it->data);
}

static void on_h1(void *user, const struct ecq_h1_item *it)
{
    (void)user;
    assert(it->kind >= ECQ_H1_HEAD && it->kind <= ECQ_H1_NOTE);
    if (it->kind == ECQ_H1_HEAD) assert(it->data.len <= ECQ_H1_MAX_HEAD);
}

static void on_field(void *user, const struct ecq_header *hd)
{
    size_t *n = user;
    assert(!(hd->flags & ECQ_HDR_CUT) || hd->value.len <= ECQ_HPACK_MAX_STRING || hd->name.len <= ECQ_HPACK_MAX_STRING);
    *n += hd->name.len + hd->value.len;
}

/* the conversation's chunks to the HTTP/2 reader, whole or a byte at a time */
static struct trace run_h2(const uint8_t *d, size_t n, int bytewise)
{
    struct ecq_h2 c;
    struct trace t = {1469598103u, 0, 0};
    ecq_h2_init(&c);
    for (size_t i = 1; i < n;) {
        size_t len = d[i] & 0x7f, dir = d[i] >> 7;
        i++;
        if (len > n - i) len = n - i;
        for (size_t k = 0; k < len; k += bytewise ? 1 : len)
            ecq_h2_feed(&c, (int)dir, d + i + k, bytewise ? 1 : len, on_h2, &t);
        uint32_t ty = ecq_h2_type(&c, (int)dir);
        assert(ty == ECQ_TYPE_UNKNOWN || ty == ECQ_TYPE_HTTP2_REQUEST || ty == ECQ_TYPE_HTTP2_RESPONSE);
        i += len;
    }
    mix(&t, t.data);
    ecq_h2_free(&c);
    return t;
}

struct mcheck { unsigned long h[2]; uint64_t n[2]; int text; };

static void on_merged(void *user, const struct ecq_event *ev)
{
    struct mcheck *m = user;
    int dir = ev->src_port == 2;
    assert(ev->length == ev->payload.len && ev->length && ev->uuid.len == 1);
    m->n[dir] += ev->payload.len;
    for (size_t i = 0; i < ev->payload.len; i++) m->h[dir] = m->h[dir] * 1099511628211ul ^ (uint8_t)ev->payload.ptr[i];
}

/* the conversation as events through a merger: HTTP/1 and other bytes come out whole
 * and in order, each direction's; HTTP/2 as text */
static void run_merge(const uint8_t *d, size_t n)
{
    static const uint32_t types[4] = {ECQ_TYPE_UNKNOWN, ECQ_TYPE_HTTP1_REQUEST, ECQ_TYPE_HTTP2_REQUEST, ECQ_TYPE_HTTP1_RESPONSE};
    struct mcheck got = {{1, 1}, {0, 0}, (d[0] & 3) == 2}, want = got;
    struct ecq_merge *m;
    if (ecq_merge_open(&m, 100, on_merged, &got) < 0) return;
    for (size_t i = 1; i < n; i++) {
        size_t len = d[i] & 0x7f, dir = d[i] >> 7;
        if (len > n - i - 1) len = n - i - 1;
        struct ecq_event ev = {.timestamp = (int64_t)i, .uuid = {"c", 1}, .src_port = dir ? 2 : 1, .type = types[d[0] & 3],
                               .length = (uint32_t)len, .payload = {(const char *)d + i + 1, len}};
        if (!len) ecq_merge_end(m, ev.uuid);
        else ecq_merge_event(m, &ev, (int)dir);
        for (size_t k = 0; k < len; k++) want.h[dir] = want.h[dir] * 1099511628211ul ^ d[i + 1 + k];
        want.n[dir] += len;
        i += len;
    }
    ecq_merge_close(m);
    if (!got.text) assert(got.n[0] == want.n[0] && got.n[1] == want.n[1] && got.h[0] == want.h[0] && got.h[1] == want.h[1]);
}

static int fuzz_http(const uint8_t *d, size_t n)
{
    if (!n) return 0;
    run_merge(d, n);
    struct trace whole = run_h2(d, n, 0);
    if (!whole.lost) {
        struct trace bytes = run_h2(d, n, 1);
        assert(bytes.h == whole.h);
    }
    struct ecq_h1 h1;
    ecq_h1_init(&h1);
    for (size_t i = 1; i < n;) {
        size_t len = d[i] & 0x7f, dir = d[i] >> 7;
        i++;
        if (len > n - i) len = n - i;
        ecq_h1_feed(&h1, (int)dir, d + i, len, on_h1, NULL);
        i += len;
    }
    ecq_h1_close(&h1, on_h1, NULL);
    ecq_h1_free(&h1);
    struct ecq_hpack hp;
    const char *why;
    size_t bytes = 0;
    ecq_hpack_init(&hp);
    hp.cap = d[0] * 64u;
    for (int round = 0; round < 2; round++) { /* the same block twice: the second sees the first's entries */
        int rc = ecq_hpack_decode(&hp, d + 1, n - 1, on_field, &bytes, &why);
        assert(rc >= 0 || why);
        assert(hp.size <= hp.cap && hp.count * 32 <= hp.size);
    }
    ecq_hpack_free(&hp);
    static uint8_t out[4096];
    long hl = ecq_hpack_huffman_decode(d, n, out, sizeof out);
    assert(hl >= -1 && hl <= (long)sizeof out);
    char text[200];
    if (ecq_pb_text(d, n, text, d[0] % sizeof text)) assert(!(d[0] % sizeof text) || strlen(text) < d[0] % sizeof text);
    return 0;
}

/* ---- one binary, every target: which one runs is named by $ECQ_FUZZ or by the name
 * it was started as (tests/bin/fuzz-NAME, a link to tests/bin/fuzz) ---- */
static const struct target {
    const char *name;
    int (*run)(const uint8_t *d, size_t n);
} targets[] = {
    {"handshake", fuzz_handshake}, {"frames", fuzz_frames}, {"protobuf", fuzz_protobuf},
    {"url", fuzz_url},             {"x86", fuzz_x86},       {"elf", fuzz_elf},
#ifndef ECAPTUREQ_NO_BPF
    {"plan", fuzz_plan},
#endif
    {"pcapng", fuzz_pcapng},       {"http", fuzz_http},
};
static int (*chosen)(const uint8_t *d, size_t n); /* set once, before the first input */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *want = getenv("ECQ_FUZZ"), *base = strrchr((*argv)[0], '/');
    base = base ? base + 1 : (*argv)[0];
    if (!want || !*want) want = strncmp(base, "fuzz-", 5) == 0 ? base + 5 : "";
    (void)argc;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (strcmp(want, targets[i].name) == 0) chosen = targets[i].run;
    if (!chosen) {
        fprintf(stderr, "fuzz: no target '%s': run as fuzz-NAME or with ECQ_FUZZ=NAME; targets:", want);
        for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) fprintf(stderr, " %s", targets[i].name);
        fputc('\n', stderr);
        exit(2);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return chosen(d, n); }

#ifdef FUZZ_REPLAY
/* Without libFuzzer (a cross build run under an emulator): every FILE argument, and
 * every file in a DIR argument, once through the target; the asserts above judge. */
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *d = NULL;
    size_t n = 0, cap = 0, got;
    if (!f) return perror(path), -1;
    do {
        if (n == cap && !(d = realloc(d, cap = cap ? cap * 2 : 65536))) abort();
        got = fread(d + n, 1, cap - n, f);
        n += got;
    } while (got);
    fclose(f);
    LLVMFuzzerTestOneInput(d, n);
    free(d);
    return 0;
}

int main(int argc, char **argv)
{
    int inputs = 0;
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        DIR *dir = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode) ? opendir(argv[i]) : NULL;
        struct dirent *de;
        if (!dir) {
            if (replay_file(argv[i]) < 0) return 1;
            inputs++;
            continue;
        }
        while ((de = readdir(dir))) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", argv[i], de->d_name);
            if (stat(p, &st) < 0 || !S_ISREG(st.st_mode)) continue;
            if (replay_file(p) < 0) return 1;
            inputs++;
        }
        closedir(dir);
    }
    printf("%d inputs\n", inputs);
    return 0;
}
#endif
