// SPDX-License-Identifier: MIT
/* ecaptureq.h - public API of ecaptureq: an eCaptureQ-compatible WebSocket +
 * protobuf stream server, usable on its own from any C program.
 *
 * Copy ecaptureq.c and ecaptureq.h into your project and compile with
 *   -DECAPTUREQ_NO_BPF   leave out TLS capture (no libbpf/libelf/zlib needed)
 *   -DECAPTUREQ_NO_MAIN  leave out the command-line program (main)
 *   -DECQ_VIEWER='"web/viewer.html"'  embed the browser viewer (ecq_viewer_page);
 *                        then set cfg.page = ecq_viewer_page(&cfg.page_len)
 *
 * A minimal host program (./test.sh embed extracts and compiles both examples):
 *
 *   #include "ecaptureq.h"
 *   #include <string.h>
 *
 *   int main(void)
 *   {
 *       struct ecq_config cfg;
 *       struct ecq_server *srv;
 *       static const char req[] = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
 *       struct ecq_event ev = {
 *           .timestamp = 1700000000000000000, .pid = 42, .src_port = 50000, .dst_port = 443,
 *           .uuid = {"42_42_demo_3", 12}, .pname = {"demo", 4},
 *           .src_ip = {"127.0.0.1", 9}, .dst_ip = {"127.0.0.1", 9},
 *           .type = ECQ_TYPE_HTTP1_REQUEST, .length = sizeof req - 1, .payload = {req, sizeof req - 1},
 *       };
 *       ecq_config_init(&cfg);
 *       cfg.url = "ws://127.0.0.1:28257/";
 *       if (ecq_server_open(&srv, &cfg) < 0) return 1;
 *       ecq_server_log(srv, "hello from %s", "my program");
 *       for (int i = 0; i < 10; i++) {
 *           ecq_server_poll(srv, NULL, 0, 1000);   // serve clients, heartbeats
 *           ecq_server_event(srv, &ev);            // broadcast a captured chunk
 *       }
 *       ecq_server_close(srv, 1000);               // close 1001, flush up to 1 s
 *       return 0;
 *   }
 *
 * With capture (no ECAPTUREQ_NO_BPF, link -lbpf -lelf -lz, and -pthread on a glibc before
 * 2.34, define ECQ_BPF_OBJ), the
 * same loop also drains TLS plaintext into the server:
 *
 *   #include <poll.h>
 *
 *   int capture(struct ecq_server *srv, volatile int *stop)
 *   {
 *       struct ecq_capture_opts co;
 *       struct ecq_capture *cap;
 *       ecq_capture_opts_init(&co);
 *       if (ecq_capture_open(&cap, srv, &co) < 0) return -1;  // root, or CAP_BPF+CAP_PERFMON
 *       ecq_capture_attach(cap, NULL, NULL);                   // discover every TLS stack
 *       struct pollfd pf = {.fd = ecq_capture_fd(cap), .events = POLLIN};
 *       while (!*stop) {
 *           int us = ecq_capture_next_us(cap);                 // short while records flow
 *           ecq_server_poll(srv, &pf, 1, (us + 999) / 1000);
 *           ecq_capture_step(cap);                             // ring buffer -> events
 *       }
 *       ecq_capture_close(cap);
 *       return 0;
 *   }
 *
 * A host with its own poll() loop takes the server's descriptors with ecq_server_fds
 * and hands back what poll() saw with ecq_server_service (tests/embed.c).
 *
 * All functions are for one thread. The library keeps no global mutable state, with two
 * exceptions in capture, both process-wide by nature and both the host's again when
 * the call returns: while an ecq_capture_* call runs, libbpf's message hook is
 * capture's (a thread-local pointer names the capture whose log gets libbpf's
 * warnings); and while it parses a file another process maps, a SIGBUS handler is
 * armed (thread-local state), so that a file truncated under the parse fails that
 * parse instead of killing the process; any other SIGBUS goes to the host's handler.
 *
 * How functions report errors (one convention per kind of result):
 *   int, an operation        0 or a count on success, a negative errno on failure
 *                            (ecq_server_*, ecq_capture_*)
 *   int, a check or parser   0 / 1, 0 / -1 or 0 / a negative named constant, as documented
 *                            at the function (ecq_url_parse, ecq_pb_decode_entry,
 *                            ecq_utf8_valid, ecq_elf_find_func);
 *                            a reason, where there is one, comes back as a static string
 *   int, an HTTP check       the HTTP status to answer (ecq_http_check_upgrade)
 *   size_t                   a length; 0 means "did not fit" (ecq_pb_encode_entry)
 *   long                     a length, or -1 (ecq_base64_decode)
 *   void                     cannot fail
 */
#ifndef ECAPTUREQ_H
#define ECAPTUREQ_H

#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ECQ_VERSION "0.1.0"
#define ECQ_DEFAULT_URL "ws://127.0.0.1:28257/"

/* Defaults of struct ecq_config (and of the command line). */
#define ECQ_DEFAULT_HEARTBEAT_SEC 15
#define ECQ_DEFAULT_CLIENT_BUFFER 16777216      /* 16 MiB */
#define ECQ_DEFAULT_MAX_MESSAGE 1048576         /* 1 MiB */
#define ECQ_DEFAULT_MAX_CLIENTS 1024
#define ECQ_DEFAULT_MAX_PENDING 1024
#define ECQ_DEFAULT_HANDSHAKE_TIMEOUT_MS 5000

/* ---------------------------------------------------------------------------
 * Bundled primitives (pure functions)
 * ------------------------------------------------------------------------- */

/* SHA-1 of len bytes into out[20]. */
void ecq_sha1(const void *data, size_t len, uint8_t out[20]);

/* Standard base64 (RFC 4648 §4, with padding) of len bytes into out, NUL-terminated.
 * out must hold 4*((len+2)/3)+1 bytes. Returns the number of characters written. */
size_t ecq_base64_encode(const void *data, size_t len, char *out);

/* Strict base64 decode: padding required, no whitespace, non-canonical trailing bits
 * refused. Returns the decoded length, or -1 if the text is not valid or does not fit
 * in cap bytes. */
long ecq_base64_decode(const char *text, size_t len, uint8_t *out, size_t cap);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2) into out[29]. */
void ecq_ws_accept(const char *key, size_t key_len, char out[29]);

/* 1 if the bytes are complete, valid UTF-8 (no overlongs, surrogates, > U+10FFFF). */
int ecq_utf8_valid(const void *data, size_t len);

/* ---------------------------------------------------------------------------
 * Protobuf: the LogEntry message of ecaptureq.proto (package event)
 * ------------------------------------------------------------------------- */

/* A byte range; strings are UTF-8 and not NUL-terminated. */
struct ecq_bytes {
    const char *ptr;
    size_t len;
};

enum ecq_log_type {
    ECQ_LOG_HEARTBEAT = 0,
    ECQ_LOG_PROCESS_LOG = 1,
    ECQ_LOG_EVENT = 2,
};

/* Event.type values. */
enum ecq_event_type {
    ECQ_TYPE_UNKNOWN = 0,
    ECQ_TYPE_HTTP1_REQUEST = 1,
    ECQ_TYPE_HTTP2_REQUEST = 2,
    ECQ_TYPE_HTTP1_RESPONSE = 3,
    ECQ_TYPE_HTTP2_RESPONSE = 4,
};

struct ecq_event {
    int64_t timestamp;          /* ns since the Unix epoch */
    struct ecq_bytes uuid;      /* connection id */
    struct ecq_bytes src_ip;    /* sender, textual IPv4/IPv6 */
    uint32_t src_port;
    struct ecq_bytes dst_ip;    /* receiver */
    uint32_t dst_port;
    int64_t pid;
    struct ecq_bytes pname;
    uint32_t type;              /* enum ecq_event_type */
    uint32_t length;            /* bytes in payload */
    struct ecq_bytes payload;
};

struct ecq_heartbeat {
    int64_t timestamp;          /* Unix seconds */
    int64_t count;
    struct ecq_bytes message;
};

/* Which member of the LogEntry oneof is present (its field number), or NONE. */
enum ecq_payload_case {
    ECQ_PAYLOAD_NONE = 0,
    ECQ_PAYLOAD_EVENT = 2,
    ECQ_PAYLOAD_HEARTBEAT = 3,
    ECQ_PAYLOAD_RUN_LOG = 4,
};

struct ecq_entry {
    int32_t log_type;           /* enum ecq_log_type; other values pass through */
    int payload_case;           /* enum ecq_payload_case */
    struct ecq_event event;
    struct ecq_heartbeat heartbeat;
    struct ecq_bytes run_log;
};

/* Serialized size of e in bytes. */
size_t ecq_pb_entry_size(const struct ecq_entry *e);

/* Serializes e into buf. Returns the number of bytes written, or 0 if cap is too small
 * (nothing useful is left in buf then). Strings should be valid UTF-8: decoders such as
 * protobuf's own refuse a message whose string fields are not. */
size_t ecq_pb_encode_entry(const struct ecq_entry *e, uint8_t *buf, size_t cap);

/* Parses a serialized LogEntry. Byte fields point into buf (no copies). Unknown fields
 * of every wire type are skipped. Returns 0, or -1 with *err_offset and *err_reason
 * (a static string) describing the first problem. */
int ecq_pb_decode_entry(const uint8_t *buf, size_t len, struct ecq_entry *out,
                        size_t *err_offset, const char **err_reason);

/* Event.type for a chunk of plaintext: an HTTP/2 client preface, an HTTP/1.x status
 * line, an HTTP/1.x request line, a complete HTTP/2 frame, else unknown. A frame is
 * ECQ_TYPE_HTTP2_REQUEST when it is a HEADERS frame whose block starts with a request
 * pseudo-header (:method, :path, :scheme, :authority), else ECQ_TYPE_HTTP2_RESPONSE:
 * which side sent other frames takes the connection's state (ecq_h2_type; capture keeps
 * it per connection). */
uint32_t ecq_classify(const void *data, size_t len);

/* ---------------------------------------------------------------------------
 * pcapng: events as synthetic TCP for Wireshark
 * ------------------------------------------------------------------------- */

/* A pcapng writer. Each event becomes TCP segments of its connection on its real
 * addresses and ports, IPv4 or IPv6: a synthetic three-way handshake when a connection
 * is first seen, sequence and acknowledgement numbers per direction so that Wireshark
 * reassembles the stream, payloads cut into segments under 64 KiB, correct IP and TCP
 * checksums, nanosecond time stamps, and the process (pid, name, uuid) in each packet's
 * comment. A connection is its tuple: when both ends are captured (two uuids, one
 * writing what the other reads) its bytes are written once. A connection whose tuple
 * is unknown is its uuid, on a stable made-up pair in 198.18.0.0/15 (the comment says
 * so). When a new connection comes on the fd of one it follows (uuid
 * pid_tid_comm_fd_N, another N), that one is closed with FINs.
 * Interface 0 holds the traffic (LINKTYPE_RAW); interface 1 the run log and heartbeats
 * as text lines, never as traffic. At most 4096 connections are followed (the least
 * recently seen is forgotten). */
struct ecq_pcapng;

/* Writes the section header and both interface descriptions to f, which stays the
 * caller's (it is neither flushed nor closed but by the calls below). Returns 0 and
 * *out, -ENOMEM, or the write's negative errno. */
int ecq_pcapng_open(struct ecq_pcapng **out, FILE *f);

/* Writes one event's packets. Returns 0, or the negative errno of the first write
 * that failed (every later call returns it too, writing nothing). */
int ecq_pcapng_event(struct ecq_pcapng *p, const struct ecq_event *ev);

/* Writes a run-log line or a heartbeat's text (len bytes, any bytes; past 65,000 cut)
 * on interface 1 at ts_ns (ns since the Unix epoch; 0: now). Returns as
 * ecq_pcapng_event. */
int ecq_pcapng_log(struct ecq_pcapng *p, int64_t ts_ns, const char *text, size_t len);

/* fflush of the file: a live reader (wireshark -k -i -) sees what was written.
 * Returns as ecq_pcapng_event. */
int ecq_pcapng_flush(struct ecq_pcapng *p);

/* Flushes and frees the writer (f stays open); NULL is allowed. Returns as
 * ecq_pcapng_event. */
int ecq_pcapng_close(struct ecq_pcapng *p);

/* ---------------------------------------------------------------------------
 * HTTP decoding (pure: bytes in, decoded fields out; no I/O, never on capture's
 * path). HPACK (RFC 7541) here, HTTP/2 frames and gRPC below.
 * ------------------------------------------------------------------------- */

/* Bounds of one HPACK decoder (one direction of a connection): */
#define ECQ_HPACK_MAX_TABLE 65536   /* dynamic table size kept (RFC 7541 §4.1 sizes); the
                                     * table's bytes take at most twice this, its entry
                                     * list 20 bytes per 32 of it */
#define ECQ_HPACK_MAX_STRING 65536  /* bytes of one decoded Huffman string shown (ECQ_HDR_CUT);
                                     * a scratch buffer holds at most two */
/* So one decoder holds at most about 300 KiB, grown as a peer's headers need it (a few
 * KiB for a usual 4 KiB table). */

/* One decoded header field. name and value are valid until the next call on the
 * decoder; they are not NUL-terminated. */
struct ecq_header {
    struct ecq_bytes name, value;
    uint32_t index;                 /* the table index it came from or took its name from; 0: none */
    unsigned flags;                 /* ECQ_HDR_* */
};
#define ECQ_HDR_NAME_UNKNOWN 1u     /* name and/or value were a dynamic-table entry this */
#define ECQ_HDR_VALUE_UNKNOWN 2u    /* decoder never saw (attached mid-connection): empty */
#define ECQ_HDR_NEVER_INDEXED 4u    /* the sender marked it sensitive (§6.2.3) */
#define ECQ_HDR_CUT 8u              /* a Huffman string over ECQ_HPACK_MAX_STRING, cut there */

/* A decoder: ecq_hpack_init, feed it the complete header blocks of one direction in
 * order, ecq_hpack_free. Attached mid-connection, the peer refers to entries made
 * before: such a reference comes back flagged unknown (never a wrong value) and the
 * rest of the block still decodes; entries added from then on are known. */
struct ecq_hpack {
    uint32_t cap;                   /* the table's maximum size now (4096; size updates) */
    uint32_t size;                  /* the entries' total size (§4.1) */
    uint32_t count;                 /* entries held, newest at index 62 */
    uint32_t unknown;               /* references to entries never seen, so far */
    int late;                       /* entries not seen may exist (after an error, a
                                     * cut block, a size over the bound) */
    /* internal */
    struct ecq__hent *ent;
    uint32_t ent_cap, head;
    uint8_t *buf, *scratch;
    uint32_t buf_cap, lo, hi, scratch_cap;
};

void ecq_hpack_init(struct ecq_hpack *h);
void ecq_hpack_free(struct ecq_hpack *h);

/* Decodes one complete header block, calling fn with each field in order. Returns the
 * number of fields, or -1 with *why (a static string) at the first malformed
 * representation; the table is then forgotten (ecq_hpack_forget), since what the rest
 * of the block did to it is not known. */
int ecq_hpack_decode(struct ecq_hpack *h, const uint8_t *block, size_t len,
                     void (*fn)(void *user, const struct ecq_header *hd), void *user, const char **why);

/* Forgets the dynamic table (after a block that was lost or cut): later references to
 * older entries come back unknown. */
void ecq_hpack_forget(struct ecq_hpack *h);

/* Table entry index (1..61 static, 62.. dynamic, newest first) into *out, valid until
 * the next decode. Returns 1, or 0 (flags unknown, empty strings) if there is none. */
int ecq_hpack_entry(const struct ecq_hpack *h, uint32_t index, struct ecq_header *out);

/* An HPACK integer (§5.1) with a prefix of 1..8 bits at p[0]: bytes used and *value,
 * 0 if it runs past len, -1 if it exceeds 32 bits. */
int ecq_hpack_int(const uint8_t *p, size_t len, int prefix, uint32_t *value);

/* A Huffman-coded string (§5.2, Appendix B) into out: its length, or -1 if it breaks
 * the code (EOS, bad padding) or does not fit in cap bytes. */
long ecq_hpack_huffman_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* HTTP/2 (RFC 9113): one reader per connection, fed each direction's bytes in order
 * (one TLS call at a time), reporting what it reads as items to a callback. It knows
 * the client's side from the preface, or, attached mid-connection, from the first
 * header block with :method or :status (or as the host sets it: the listening side is
 * the server). Attached mid-connection it takes each call as starting at a frame; bytes
 * that are not a plausible frame header lose that call's rest (ECQ_H2_NOTE).
 * Bounds per connection, besides two HPACK decoders (above): */
#define ECQ_H2_MAX_FRAME 65536          /* payload bytes of one frame other than DATA kept;
                                         * past it the frame is cut (a header block too) */
#define ECQ_H2_MAX_HEADER_BLOCK 262144  /* one header block (HEADERS + CONTINUATION); past
                                         * it the block is cut with a note and not decoded */
#define ECQ_H2_MAX_STREAMS 64           /* streams followed at once; the oldest gives way */
#define ECQ_GRPC_MAX_MESSAGE 16384      /* bytes of one gRPC message kept for display, per
                                         * stream and direction */
/* With its two HPACK decoders, a connection's reader holds at most about 3.3 MiB (2 x
 * 300 KiB of HPACK, 2 x 320 KiB of frame and block, 64 x 2 x 16 KiB of gRPC), each
 * part allocated when first needed. */

enum ecq_h2_kind {
    ECQ_H2_PREFACE = 1,     /* the client's connection preface */
    ECQ_H2_FRAME = 2,       /* a frame header, as soon as its 9 bytes are in */
    ECQ_H2_FRAME_END = 3,   /* a frame complete; data: its payload (cut at ECQ_H2_MAX_FRAME;
                             * empty for DATA, whose bytes came as ECQ_H2_DATA) */
    ECQ_H2_HEADER = 4,      /* one field of a decoded header block (HEADERS, PUSH_PROMISE) */
    ECQ_H2_DATA = 5,        /* DATA bytes, padding removed, in pieces as they arrive */
    ECQ_H2_GRPC = 6,        /* a gRPC message complete on a stream whose content-type is
                             * application/grpc*: data (cut at ECQ_GRPC_MAX_MESSAGE) */
    ECQ_H2_NOTE = 7,        /* what a reader should know (a cut block, lost bytes): data */
};

enum ecq_h2_frame_type {
    ECQ_H2_DATA_FRAME = 0, ECQ_H2_HEADERS = 1, ECQ_H2_PRIORITY = 2, ECQ_H2_RST_STREAM = 3,
    ECQ_H2_SETTINGS = 4, ECQ_H2_PUSH_PROMISE = 5, ECQ_H2_PING = 6, ECQ_H2_GOAWAY = 7,
    ECQ_H2_WINDOW_UPDATE = 8, ECQ_H2_CONTINUATION = 9,
};

struct ecq_h2_item {
    int kind;                   /* enum ecq_h2_kind */
    int dir;                    /* the direction fed (0 or 1) */
    uint8_t type, flags;        /* the frame's (for a header block: the HEADERS or PUSH_PROMISE) */
    uint32_t stream;            /* its stream */
    uint32_t length;            /* its payload length; ECQ_H2_GRPC: the message's length */
    struct ecq_header header;   /* ECQ_H2_HEADER */
    struct ecq_bytes data;      /* see the kinds */
    int cut;                    /* data is shorter than the whole */
    int grpc_compressed;        /* ECQ_H2_GRPC: the message's compressed flag */
};

struct ecq__h2_dir;
struct ecq__h2_stream;

struct ecq_h2 {
    int client;                 /* the client's direction, 0 or 1; -1: not known yet */
    uint64_t frames[2];         /* frame headers read per direction */
    /* internal */
    struct ecq__h2_dir *d[2];
    struct ecq__h2_stream *streams;
    unsigned nstreams;
    uint32_t stamp;
};

/* Initializes c (nothing is allocated until bytes come). */
void ecq_h2_init(struct ecq_h2 *c);

/* Feeds bytes one direction sent, in order (a TLS call's worth, say); items go to fn
 * during the call, their bytes valid during the call only. Returns the number of frame
 * headers read, or -ENOMEM (the direction is then lost until the next call). */
int ecq_h2_feed(struct ecq_h2 *c, int dir, const void *data, size_t len,
                void (*fn)(void *user, const struct ecq_h2_item *it), void *user);

/* Says that bytes of a direction were lost (a capture gap): the frame under way is
 * dropped, the next call is taken as starting a frame, the HPACK table is forgotten. */
void ecq_h2_gap(struct ecq_h2 *c, int dir);

/* Event.type for what direction dir sends on this connection: ECQ_TYPE_HTTP2_REQUEST
 * from the client, ECQ_TYPE_HTTP2_RESPONSE from the server, ECQ_TYPE_UNKNOWN while the
 * reader has not seen HTTP/2 in that direction or does not know the sides. */
uint32_t ecq_h2_type(const struct ecq_h2 *c, int dir);

/* Frees what c holds. */
void ecq_h2_free(struct ecq_h2 *c);

/* The name of a frame type ("HEADERS"), or "UNKNOWN". */
const char *ecq_h2_frame_name(unsigned type);

/* Schema-less protobuf as text, for gRPC messages: "1: 150 2: \"hi\" 3 {1: 1}" (field
 * numbers; varints as numbers, fixed64/fixed32 as 0x hex, length-delimited as a nested
 * message where it parses as one (up to ECQ_PB_TEXT_DEPTH), else as a string when it
 * is printable UTF-8, else as hex). Writes at most cap bytes including a NUL, cutting
 * with "..."; returns 0 if the bytes are not a protobuf message, else 1. */
#define ECQ_PB_TEXT_DEPTH 8
int ecq_pb_text(const uint8_t *msg, size_t len, char *out, size_t cap);

/* HTTP/1.x (RFC 9112): one reader per connection, fed each direction's bytes in order.
 * It finds message boundaries (Content-Length, chunked, to the connection's close;
 * 1xx, HEAD, 204 and 304 without a body; requests pipelined ahead of responses),
 * hands the rest of a connection to raw after 101 Switching Protocols or a CONNECT's
 * 2xx, and, in a build with zlib (capture's; ECQ_HAVE_ZLIB), inflates gzip and
 * deflate bodies for display. Bounds per connection: */
#define ECQ_H1_MAX_HEAD 65536           /* a message head; a longer one makes the direction raw */
#define ECQ_H1_MAX_PIPELINE 64          /* requests waiting for their responses */
#define ECQ_H1_MAX_INFLATE 1048576      /* bytes inflated per message; the rest is not shown */

enum ecq_h1_kind {
    ECQ_H1_HEAD = 1,        /* a message head (start line to the empty line): data */
    ECQ_H1_BODY = 2,        /* body bytes, chunked coding removed, in pieces; inflated
                             * when decoded is set */
    ECQ_H1_END = 3,         /* the message is complete */
    ECQ_H1_RAW = 4,         /* bytes after an upgrade, or not HTTP/1 */
    ECQ_H1_NOTE = 5,        /* what a reader should know: data */
};

struct ecq_h1_item {
    int kind;                   /* enum ecq_h1_kind */
    int dir;                    /* the direction fed (0 or 1) */
    int response;               /* the message is a response */
    int status;                 /* a response's status */
    struct ecq_bytes method;    /* a request's method; for a response, its request's */
    struct ecq_bytes data;      /* see the kinds */
    int decoded;                /* ECQ_H1_BODY: inflated from Content-Encoding */
    uint64_t body_len;          /* ECQ_H1_END: body bytes (without chunked coding) */
    size_t offset;              /* ECQ_H1_END: where the message ends in the bytes of this
                                 * ecq_h1_feed call (0 from ecq_h1_close) */
};

struct ecq__h1_dir;

struct ecq_h1 {
    /* internal */
    struct ecq__h1_dir *d[2];
    char methods[ECQ_H1_MAX_PIPELINE][8]; /* methods of requests not answered yet */
    unsigned mfirst, mcount;
    int raw;                        /* upgraded: both directions are raw */
};

void ecq_h1_init(struct ecq_h1 *c);

/* Feeds bytes one direction sent, in order; items go to fn during the call. Returns
 * the number of message heads read, or -ENOMEM. */
int ecq_h1_feed(struct ecq_h1 *c, int dir, const void *data, size_t len,
                void (*fn)(void *user, const struct ecq_h1_item *it), void *user);

/* The connection closed: ends a body that was read to the close. */
void ecq_h1_close(struct ecq_h1 *c, void (*fn)(void *user, const struct ecq_h1_item *it), void *user);

void ecq_h1_free(struct ecq_h1 *c);

/* ---------------------------------------------------------------------------
 * Merging events for people (tls --merge; the eCaptureQ GUI): a sink stage
 * ------------------------------------------------------------------------- */

/* A merger takes events one TLS call each, in order, and hands on fewer, larger ones:
 * per connection (uuid) and direction,
 *   HTTP/1.x (the connection's first event typed 1 or 3): one event per message, head
 *     and whole body as sent (chunked coding and gzip kept: the bytes are exact), cut
 *     where its framing ends it (Content-Length, chunked, 1xx, HEAD/204/304), a body
 *     read to the close ended by ecq_merge_end;
 *   HTTP/2 (typed 2 or 4): the frames of one batch decoded as text, the text watch
 *     prints (frame lines, header lists, DATA as text or hex, gRPC messages as
 *     protobuf text); the event's length is the text's;
 *   anything else: consecutive chunks merged.
 * A batch is handed on when its message is complete (HTTP/1), when no chunk came for
 * idle_ms (ecq_merge_tick), when the other direction sends, when the connection ends
 * (ecq_merge_end), at ECQ_MERGE_MAX_BYTES, and by ecq_merge_close. An event handed on
 * keeps its first chunk's timestamp and the connection's uuid, pid, name, addresses,
 * ports and type; length and payload are the merged ones. Bounds: */
#define ECQ_DEFAULT_MERGE_IDLE_MS 100
#define ECQ_MERGE_MAX_BYTES 1048576     /* one direction's batch; at it the batch goes early */
#define ECQ_MERGE_MAX_TOTAL 67108864    /* all batches held; past it the oldest goes early */
#define ECQ_MERGE_MAX_CONNS 1024        /* connections held; a new one ends the least recent */

struct ecq_merge;

struct ecq_merge_stats {
    uint64_t in, out;                   /* events taken, events handed on */
    uint64_t early;                     /* batches handed on early (a bound above) */
    uint64_t bytes;                     /* bytes held now */
};

/* Opens a merger that hands events to emit (ev and its bytes valid during the call).
 * idle_ms 0 takes the default. Returns 0 and *out, or -ENOMEM. */
int ecq_merge_open(struct ecq_merge **out, unsigned idle_ms, void (*emit)(void *user, const struct ecq_event *ev),
                   void *user);

/* Takes one event; dir tells the connection's two directions apart (0 or 1, the same
 * for all a side sends; capture: 0 what the process wrote, 1 what it read). Events
 * may be handed on during the call. Returns 0, or -ENOMEM (ev was handed on as it is). */
int ecq_merge_event(struct ecq_merge *m, const struct ecq_event *ev, int dir);

/* The connection closed: what it holds is handed on and it is forgotten. */
void ecq_merge_end(struct ecq_merge *m, struct ecq_bytes uuid);

/* Hands on the batches idle for idle_ms. Returns the milliseconds until the next one
 * is due, or -1 if none is held: a host calls it at least that often. */
int ecq_merge_tick(struct ecq_merge *m);

void ecq_merge_stats(const struct ecq_merge *m, struct ecq_merge_stats *st);

/* Hands on everything held and frees m (NULL is fine). */
void ecq_merge_close(struct ecq_merge *m);

/* ---------------------------------------------------------------------------
 * Endpoint URL
 * ------------------------------------------------------------------------- */

struct ecq_url {
    char host[256];             /* without brackets */
    uint16_t port;
    char path[256];             /* starts with '/' */
    int ipv6_literal;           /* host was given as [addr] */
};

/* Parses ws://HOST:PORT/PATH. HOST is a name, IPv4 or [IPv6]; PORT 0..65535 is
 * required (0: a server picks a free port; a client refuses it); an empty path is "/"
 * (RFC 6455 §3: ws://127.0.0.1:28257 is ws://127.0.0.1:28257/). Returns 0, or -1
 * with *why set. */
int ecq_url_parse(const char *url, struct ecq_url *out, const char **why);

/* ---------------------------------------------------------------------------
 * WebSocket handshake (RFC 6455 §4) and frames (§5)
 * ------------------------------------------------------------------------- */

/* Who may connect. Every pointer may be NULL. */
struct ecq_http_policy {
    const char *path;               /* endpoint path, default "/" */
    const char *token;              /* required bearer token, or NULL */
    const char *const *origins;     /* extra allowed Origin values */
    int norigins;
    int check_host;                 /* refuse Host other than loopback/bind address */
    const char *bind_host;          /* the server's host as configured */
};

/* Checks one complete request head (request line to the empty line). Returns the HTTP
 * status to answer: 101 (then accept[29] holds Sec-WebSocket-Accept), 400, 401, 403,
 * 404, 405 or 426; or 200 for a plain GET of the path (no Upgrade, Sec-WebSocket-Key or
 * -Version field) that passes the Host check: a browser opening the URL, which a
 * server with a page answers with it (struct ecq_config.page) and one without with 400.
 * A target that is only a query ("?token=T", sent for ws://host:port?token=T) is the
 * root path "/" with that query (RFC 3986 §3.3). */
int ecq_http_check_upgrade(const char *head, size_t len, const struct ecq_http_policy *p,
                           char accept[29]);

/* Length of the request head in buf including the final CRLFCRLF, 0 if it is not
 * complete yet. */
size_t ecq_http_head_length(const char *buf, size_t len);

/* Writes a server frame header for a FIN frame of opcode op carrying len bytes into
 * out[10]. Returns the header length (2, 4 or 10). */
size_t ecq_ws_frame_header(uint8_t out[10], int op, uint64_t len);

enum ecq_ws_result {
    ECQ_WS_MORE = 0,            /* all input consumed, nothing complete yet */
    ECQ_WS_MESSAGE = 1,         /* a complete data message (kept if keep_data) */
    ECQ_WS_CLOSE = 8,           /* close frame; ctl/ctl_len hold the payload */
    ECQ_WS_PING = 9,            /* ping; ctl/ctl_len hold the payload */
    ECQ_WS_PONG = 10,
};

/* Incremental frame reader. Zero it, set the three settings, feed bytes. */
struct ecq_ws_reader {
    int from_client;            /* setting: frames must be masked (server side) */
    int keep_data;              /* setting: collect data messages (else discard them) */
    uint64_t max_message;       /* setting: larger messages fail with 1009 */
    /* state */
    uint8_t hdr[14];
    unsigned hdr_len;
    int opcode, fin, masked;
    uint8_t mask[4];
    uint64_t remaining, done;   /* of the current frame's payload */
    int msg_opcode;             /* 1 or 2 while a data message is open */
    uint64_t msg_len;
    uint32_t utf8;              /* incremental validator state */
    uint8_t ctl[125];
    unsigned ctl_len;
    uint8_t *data;              /* keep_data: the message, data_len bytes */
    size_t data_len, data_cap;
    uint64_t frames;            /* frame headers read so far (for rate limits) */
};

/* Consumes bytes from in. Returns an enum ecq_ws_result (with *used bytes consumed;
 * call again with the rest), or a negative close code (-1002, -1007, -1009) once the
 * peer broke the protocol. For ECQ_WS_MESSAGE, opcode is 1 (text) or 2 (binary) and,
 * with keep_data, data/data_len hold the message until the next call. */
int ecq_ws_read(struct ecq_ws_reader *r, const uint8_t *in, size_t len, size_t *used);

/* Frees what the reader allocated (keep_data only). */
void ecq_ws_reader_free(struct ecq_ws_reader *r);

/* ---------------------------------------------------------------------------
 * Server: the hub
 * ------------------------------------------------------------------------- */

/* Zero or negative numbers take the ECQ_DEFAULT_* values. */
struct ecq_config {
    const char *url;                /* default ECQ_DEFAULT_URL */
    int heartbeat_sec;              /* a heartbeat per client this often; each one after
                                     * the first is made when its socket takes it and goes
                                     * ahead of the client's backlog ("backlog=BYTES") */
    size_t client_buffer;           /* per-client bound on the memory its queue holds */
    size_t max_message;             /* largest client message */
    int max_clients;                /* open WebSocket clients; one more gets 503 */
    int max_pending;                /* connections in their handshake; over it the oldest is closed */
    int handshake_timeout_ms;
    const char *token;              /* require this bearer token, or NULL */
    const char *const *origins;     /* extra allowed Origin values */
    int norigins;
    /* Called with every run-log line (no newline), e.g. to print it; NULL: stderr. The
     * entry consumers get is the same line ending in "\n". */
    void (*log_sink)(void *user, const char *line);
    void *log_user;
    /* 1: run-log lines in eCapture's JSON shape, {"level":"info","time":"...","message":"..."};
     * 0 (default): "2026-01-02T03:04:05.678Z message". */
    int log_json;
    /* An HTML page answered with 200 to a plain GET of the endpoint path, such as the
     * built-in viewer from ecq_viewer_page(); NULL (default): such a GET gets 400. Each
     * "{{nonce}}" in it becomes a fresh random value, the only one the response's
     * Content-Security-Policy lets scripts and styles run with (no outside source, no
     * request but WebSocket to the page's own origin); each "{{auth}}" becomes "token"
     * when the server requires one, else "none". Used, not copied. */
    const char *page;
    size_t page_len;
    /* 1: no listening socket (url is not used): the server keeps the run log and serves
     * only sockets handed to ecq_server_adopt; ecq_server_url() is "". 0 (default): listen. */
    int no_listen;
};

/* The viewer page, when this file was built with -DECQ_VIEWER='"web/viewer.html"' (the
 * Makefile's binaries are): a live table of the stream for a browser, to put in
 * struct ecq_config.page. Returns NULL and *len 0 when it was left out. */
const char *ecq_viewer_page(size_t *len);

struct ecq_server;

/* Counters, for status lines and tests. */
struct ecq_stats {
    uint64_t events;                /* events broadcast */
    uint64_t bytes;                 /* frame bytes written to sockets */
    uint64_t clients_total;         /* handshakes completed */
    uint64_t clients_dropped;       /* closed for exceeding client_buffer */
    uint64_t pending_dropped;       /* handshakes cut off to stay under max_pending */
    uint64_t lost;                  /* set by the host with ecq_server_set_lost */
    int clients;                    /* open WebSocket clients now */
};

/* Fills c with the defaults above. */
void ecq_config_init(struct ecq_config *c);

/* Parses the URL, binds and listens. Returns 0 and *out, or a negative errno
 * (-EINVAL for a bad URL, -EADDRINUSE, ...). The strings and arrays c points to (url,
 * token, origins) are used, not copied: keep them alive until ecq_server_close. */
int ecq_server_open(struct ecq_server **out, const struct ecq_config *c);

/* The URL the server listens on, with the port it really bound (useful with port 0). */
const char *ecq_server_url(const struct ecq_server *s);

/* Hands the server a connected stream socket (socket activation, socketpair, a
 * listener of the host's own): it becomes a client that must still complete the
 * WebSocket handshake. The server owns fd from now on, also on failure. peer names it
 * in log lines (NULL: "fd N"). Returns 0 or -ENOMEM. */
int ecq_server_adopt(struct ecq_server *s, int fd, const char *peer);

/* Waits up to timeout_ms for activity on the server's sockets and on the caller's
 * extra fds (their revents are filled in), serves the clients, sends due heartbeats.
 * Returns the number of extra fds with revents set, or a negative errno. */
int ecq_server_poll(struct ecq_server *s, struct pollfd *extra, int nextra, int timeout_ms);

/* The same as two calls, for a host that runs its own poll() loop: ecq_server_fds
 * writes the server's descriptors into fds (at most max; returns how many it needs:
 * when that is more than max, give it more room and call again before polling) and
 * lowers *timeout_ms (-1: none yet) to when the server next has work; after the
 * host's poll(), ecq_server_service handles their revents (fds and n exactly as
 * ecq_server_fds filled them, with nothing but events and logs in between). */
int ecq_server_fds(struct ecq_server *s, struct pollfd *fds, int max, int *timeout_ms);
void ecq_server_service(struct ecq_server *s, const struct pollfd *fds, int n);

/* Logs one line: to the sink (stderr by default) and as a run_log entry queued to
 * every client; the first 128 lines are replayed to each new client. */
void ecq_server_log(struct ecq_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Encodes ev once and queues the frame to every open client (shared, reference-counted).
 * Queues are written by the next ecq_server_poll, many frames per system call. A
 * client whose queue would pass client_buffer is closed with 1008. Strings that are
 * not valid UTF-8 are sent with the bad bytes replaced by '?'. Returns 0 or -ENOMEM. */
int ecq_server_event(struct ecq_server *s, const struct ecq_event *ev);

/* The most memory any client's queue holds (what client_buffer bounds: the frames'
 * allocations, not only their bytes): a source that can wait (such as a generator)
 * keeps this below client_buffer to lose nothing. */
size_t ecq_server_backlog(const struct ecq_server *s);

/* Current counters. */
void ecq_server_stats(const struct ecq_server *s, struct ecq_stats *st);

/* Records how many events the capture side lost (shown in heartbeats). */
void ecq_server_set_lost(struct ecq_server *s, uint64_t lost);

/* Text added to every heartbeat message (up to 63 bytes, copied), such as capture's
 * "files=3 probes=23"; NULL or "" removes it. */
void ecq_server_set_status(struct ecq_server *s, const char *status);

/* Sends close 1001 to every client, flushes for up to flush_ms, frees everything. */
void ecq_server_close(struct ecq_server *s, int flush_ms);

/* ---------------------------------------------------------------------------
 * Executable analysis (pure functions; capture uses them to find probe points)
 * ------------------------------------------------------------------------- */

/* Length (1..15) of the x86-64 instruction at code, reading at most avail bytes; 0 if
 * it runs past avail, -1 if this decoder does not know it (EVEX/AVX-512, invalid
 * opcodes). Knows the legacy, REX, 0F, 0F38, 0F3A and VEX forms compilers emit. */
int ecq_x86_insn_len(const uint8_t *code, size_t avail);

/* Decodes a function's len bytes instruction by instruction and stores the offsets of
 * its RET instructions (up to max). Returns how many there are, or -1 with *bad_off at
 * the first byte that does not decode (no offset is then safe to probe). */
int ecq_x86_find_returns(const uint8_t *code, size_t len, uint32_t *offs, int max, size_t *bad_off);

/* The same for arm64 code (4-byte instructions): the offsets of its RET instructions
 * (0xd65f03c0, RET to X30), up to max. Returns how many, or -1 with *bad_off if len is
 * not a whole number of instructions. */
int ecq_arm64_find_returns(const uint8_t *code, size_t len, uint32_t *offs, int max, size_t *bad_off);

/* The ELF machines capture knows (e_machine). */
#define ECQ_EM_X86_64 62
#define ECQ_EM_AARCH64 183

/* The machine of an ELF64 file held in memory: ECQ_EM_X86_64 or ECQ_EM_AARCH64 with *name
 * "x86-64" or "arm64", or -1 (not a little-endian ELF64 file of either) with *name why. */
int ecq_elf_machine(const uint8_t *elf, size_t len, const char **name);

struct ecq_elf_func {
    uint64_t addr, size;            /* virtual address and length in bytes */
    uint64_t offset;                /* file offset of the first byte (what a uprobe takes) */
    const char *source;             /* ".symtab", ".dynsym" or ".gopclntab" */
    const char *why;                /* when not found: why, a static string */
};

/* What ecq_elf_find_func returns when it returns no function. */
#define ECQ_ELF_NOT_FOUND (-1)      /* not a little-endian x86-64 or arm64 ELF64 file, or no such function */
#define ECQ_ELF_OVER_BOUNDS (-2)    /* the file is over the bounds below: skip the whole file */
#define ECQ_ELF_NOT_CODE (-3)       /* the name is there but not at executable code: no probe */

/* The bounds of one lookup: whatever a file holds, ecq_elf_find_func reads at most
 * every section header (e_shnum is 16 bits), every program header, the first SHT_SYMTAB
 * and the first SHT_DYNSYM (the gABI allows one of each) and Go's function table, with
 * at most strlen(name) + 1 bytes compared per entry and no scan for a string's end; in a
 * file with no section headers, Go's tables are searched for by their magic in at most
 * ECQ_ELF_MAX_GO_SCAN bytes of its data, in 8-byte steps.
 * Tables longer than these put the whole file over the bounds, whatever the name. */
#define ECQ_ELF_MAX_SYMBOLS 1048576     /* entries in a symbol table (node's .symtab: 109,000) */
#define ECQ_ELF_MAX_GO_FUNCS 1048576    /* functions in Go's pclntab (a 127 MB Go program: 138,000) */
#define ECQ_ELF_MAX_FUNC_SIZE 1048576   /* bytes of the function found: a caller decodes them */
#define ECQ_ELF_MAX_CODE_SCAN 536870912 /* bytes of code (or read-only data) one pass of the BoringSSL
                                           identification looks at (Chromium 156: 236 MB) */
#define ECQ_ELF_MAX_GO_SCAN 134217728   /* bytes of data searched for Go's tables in a file whose
                                           section headers are gone (per lookup, all searches) */
#define ECQ_ELF_MAX_DATA_SCAN 67108864  /* bytes of read-only data searched for a stack's mark where
                                           discovery does it in its loop: rustls's source path, BoringSSL's
                                           ssl_lib.cc (Chromium 156's .rodata: 20.6 MB); a file with
                                           more is skipped with one line */

/* Finds function name in a little-endian x86-64 or arm64 ELF64 file held in memory: in
 * .symtab, then .dynsym, then Go's pclntab (stripped Go executables; the layouts of Go
 * 1.16/1.17, 1.18/1.19 and 1.20 onwards, tested up to 1.27). A function is returned only if all its
 * bytes (its first byte when its size is 0) lie in the file part of one executable
 * PT_LOAD segment; out->offset is computed from that segment.
 * Returns 0, or ECQ_ELF_NOT_FOUND, ECQ_ELF_OVER_BOUNDS or ECQ_ELF_NOT_CODE with out->why
 * saying why in a few words ("not in an executable segment", "a symbol table of over
 * 1048576 entries"): a caller names the file and the function around it. */
int ecq_elf_find_func(const uint8_t *elf, size_t len, const char *name, struct ecq_elf_func *out);

/* The Go version that built an ELF executable ("go1.19.8") into out. Returns 1 if that
 * Go passes arguments in registers on the file's machine (amd64: Go 1.17 and later;
 * arm64: 1.18 and later; capture supports it), 0 for an older Go, -1 if the file
 * carries no Go build information. */
int ecq_go_version(const uint8_t *elf, size_t len, char *out, size_t cap);

/* BoringSSL linked into an executable without its symbols (Chromium, Electron, Envoy):
 * SSL_write and SSL_read found from the code alone, by the error reports of ssl_lib.cc
 * (ERR_put_error with BoringSSL's library, reason codes and line order) and the calls
 * between SSL_read, SSL_peek and ssl_read_impl; x86-64 only. Returns 0 with both
 * functions (size 0: not known), or ECQ_ELF_NOT_FOUND with why (a static string) and
 * present = 1 if the file holds BoringSSL (its ssl/ssl_lib.cc) all the same. Reads
 * the executable segments twice (Chromium's 236 MB: about a second). */
struct ecq_boringssl {
    int present;                    /* the file holds BoringSSL's ssl_lib.cc */
    struct ecq_elf_func write, read; /* source "BoringSSL's code" */
    const char *why;                /* not identified: why */
};
int ecq_boringssl_find(const uint8_t *elf, size_t len, struct ecq_boringssl *out);

/* ---------------------------------------------------------------------------
 * The kernel capture needs (the check itself is ecq_capture_check; these are pure)
 * ------------------------------------------------------------------------- */

/* One BPF feature capture cannot do without, the first Linux release that has it, and
 * how the loader asks the kernel for it: a map type (map_type != 0) or a helper in a
 * program type (numbers of linux/bpf.h). */
struct ecq_kernel_feature {
    const char *name;               /* "bpf_loop" */
    int major, minor;               /* the first release with it: 5, 17 */
    const char *use;                /* what capture does with it */
    int map_type, prog_type, helper;
};

/* The i-th feature (from 0), oldest first; NULL past the last. The newest one is the
 * minimum kernel. */
const struct ecq_kernel_feature *ecq_kernel_feature(int i);

/* The one line for a kernel (release as uname -r gives it; NULL if unknown) that lacks
 * f: "kernel 5.15.0-91-generic lacks bpf_loop (Linux 5.17+; copies each payload in
 * chunks): capture needs Linux 5.17 or later". For a release at or past f's, the line
 * says its build leaves f out. Returns the length written (cut to cap - 1). */
size_t ecq_kernel_lacks(char *out, size_t cap, const struct ecq_kernel_feature *f, const char *release);

#ifndef ECAPTUREQ_NO_BPF
/* ---------------------------------------------------------------------------
 * TLS capture (libbpf): uprobes on OpenSSL, GnuTLS, NSS, mbedTLS, wolfSSL and Go's
 * crypto/tls; every chunk of plaintext becomes an Event on a server
 * ------------------------------------------------------------------------- */

#define ECQ_ANY_UID 0xffffffffu
/* 8 MiB: each record is written into memory the ring last used a whole ring ago, and
 * on the project's VM that costs the traced process more the larger the ring (a 16 KiB
 * record: 2.7 us at 1 MiB, 3.0 at 4, 4.1 at 8, 9.5 at 32; README: How capture works) */
#define ECQ_DEFAULT_RING_MB 8
#define ECQ_DEFAULT_DETACH_SEC 60
/* Records arrive without wakeups while they flow: a host that waits in milliseconds
 * calls ecq_capture_step at least this often (ecq_capture_next_us is finer). */
#define ECQ_CAPTURE_DRAIN_MS 1

/* What capture reports goes to sinks: the server given to ecq_capture_open (events are
 * broadcast, log lines join its run log), the callbacks below, or both. Either may be
 * missing; with neither, events and log lines are dropped (counters still count). */
struct ecq_capture_opts {
    /* Each captured chunk, as it is turned into an Event; ev and its bytes are valid
     * during the call only. */
    void (*on_event)(void *user, const struct ecq_event *ev);
    /* Each run-log line (one complete line, no trailing newline, no time stamp), among
     * them libbpf's own warnings; errors start with "error: ". */
    void (*on_log)(void *user, const char *line);
    void *user;                     /* passed to both */
    uint32_t pid;                   /* only this process (tgid); 0: every process */
    uint32_t uid;                   /* only this user's processes; ECQ_ANY_UID: every user */
    unsigned ring_mb;               /* ring buffer MiB, a power of two up to 1024 */
    unsigned detach_sec;            /* discovery: every this many seconds, files no process maps
                                       any more lose their probes; 0: never */
    int merge;                      /* 1: events go through a merger (ecq_merge_*) to the sinks:
                                       one per HTTP/1 message, HTTP/2 batches as text, other
                                       bytes merged until idle; 0 (default): one per TLS call */
    unsigned merge_idle_ms;         /* with merge: a batch goes after this long without a chunk */
    int perf_uprobes;               /* 1: one perf-event uprobe per probe even where the kernel
                                       has uprobe_multi links (6.6+), which are used otherwise:
                                       a file's probes in one or two links, detached with one
                                       RCU grace period each instead of one per probe */
};

/* Pulled by the host (ecq_capture_stats), e.g. into heartbeats: the command-line program
 * sets ecq_server_set_lost to lost_records + lost_calls + dropped and
 * ecq_server_set_status to "files=F probes=P". */
struct ecq_capture_stats {
    uint64_t records;               /* ring-buffer records turned into events */
    uint64_t dropped;               /* records the server could not take (no memory) */
    uint64_t lost_records, lost_bytes;  /* not written by BPF: ring full, unreadable buffer */
    uint64_t lost_calls;            /* TLS calls not followed: the in-flight table was full */
    uint64_t lost_files;            /* new files discovery heard of late (its ring was full) */
    uint64_t deferred_files;        /* new files its queue had no room for: their processes
                                       are looked at again (catch-up), users in turn */
    int probes, files;              /* probes attached, files probed */
    int links;                      /* kernel links holding those probes */
    int probes_denied;              /* uprobes the kernel refused (EACCES/EPERM): some
                                     * kernels allow them only with CAP_SYS_ADMIN */
    int scan_left;                  /* processes the scan of every process (at start, or
                                       after a catch-up overflowed) has still to look at */
    uint64_t merged_out;            /* with merge: events handed to the sinks */
    uint64_t merged_early;          /* with merge: batches handed on early (ECQ_MERGE_MAX_*) */
    int go_no_tls;                  /* Go executables discovery skipped without a line:
                                       no crypto/tls in them (the Go toolchain's own tools) */
};

struct ecq_capture;

/* Fills o with the defaults above. */
void ecq_capture_opts_init(struct ecq_capture_opts *o);

/* Whether this process may capture: 0, or a negative errno with a one-line reason in
 * why: -EPERM (capabilities), -ENOENT (/sys or /proc not mounted), -ENOTSUP (no kernel
 * BTF, or a feature of ecq_kernel_feature missing: ecq_kernel_lacks's line), or the
 * errno of a bpf() call the kernel refused (seccomp, SELinux, AppArmor); on 0, why
 * names the kernel and says it has them all. Loads no program beyond the kernel's
 * feature probes; needs no server. */
int ecq_capture_check(char *why, size_t cap);

/* Loads the embedded BPF programs and attaches the socket tracepoints; no TLS library
 * is probed yet. srv may be NULL (events and log lines reach only opts' callbacks).
 * Log lines (and errors, as "error: ...") go to the sinks. Returns 0 and *out,
 * or a negative errno: -EPERM/-ENOTSUP as ecq_capture_check, -ESRCH (opts->pid does
 * not exist), -EINVAL (bad ring_mb), or what loading failed with. */
int ecq_capture_open(struct ecq_capture **out, struct ecq_server *srv, const struct ecq_capture_opts *opts);

/* Probes TLS code. lib: "openssl", "gnutls", "nss", "mbedtls", "wolfssl" or "go" (or the command-line
 * spellings "libssl", "elfpath"); path: its file, a shared library or a Go executable.
 * path NULL looks for it: in the target process's maps (and its executable, for Go)
 * when opts.pid is set, else in the loader cache.
 * lib and path NULL: discovery. With opts.pid, every file that process maps (through
 * /proc/PID/map_files, so chroots and containers work) and, from then on, every file
 * it maps later. Without, the host's own TLS libraries, every file any process maps
 * now, and from then on every new file any process maps or executes (handled in
 * ecq_capture_step); discovered files no process maps any more are detached after
 * opts.detach_sec. The scan of every process holds this call up half a second at
 * most; the rest goes on in ecq_capture_step, a few milliseconds a step (stats'
 * scan_left), and "discovery: N file(s) probed; following new processes" is logged
 * when it is done. A file is probed if it is a TLS library by name, a Go executable,
 * or any ELF that defines SSL_write and SSL_read itself.
 * Each file probed is logged with what was found in it. Returns the number of probes
 * attached (> 0; 0 in discovery if none yet, the scan going on), or -EINVAL (unknown lib), -ENOENT (not found, or none of its
 * functions found), -ENOEXEC (not a Go >= 1.17 executable, or code that does not
 * decode), or another negative errno. */
int ecq_capture_attach(struct ecq_capture *c, const char *lib, const char *path);

/* The descriptor to poll for POLLIN next to the server's. */
int ecq_capture_fd(const struct ecq_capture *c);

/* Turns the records waiting in the ring buffer into events to the sinks (at most 2 MiB
 * of records a call); once a second also reads the loss counters (reported in the run
 * log; ecq_capture_stats has them).
 * Returns the number of records, or a negative errno. */
int ecq_capture_step(struct ecq_capture *c);

/* Microseconds until ecq_capture_step is due: 500 while records flow; once none came
 * for 10 ms, the time to the next once-a-second check, records then waking the
 * capture fd themselves (no timer while idle). A host that waits in milliseconds rounds
 * up: (us + 999) / 1000. */
int ecq_capture_next_us(const struct ecq_capture *c);

/* Current counters. */
void ecq_capture_stats(const struct ecq_capture *c, struct ecq_capture_stats *st);

/* What capture probes in one file, planned from its bytes alone (pure: no BPF, no
 * root; attach, `--list` and the command line's checks use the same plan). */
#define ECQ_PLAN_MAX_FUNCS 16
#define ECQ_PLAN_MAX_RETS 64            /* RET instructions probed per Go function */

struct ecq_plan_func {
    const char *name;               /* the function */
    int probes;                     /* probes planned; 0: not probed, note says why */
    const char *source;             /* where it was found: ".symtab", ".dynsym", ".gopclntab" */
    uint64_t addr, size, offset;    /* virtual address, length, file offset of its entry */
    uint32_t enter, ret;            /* BPF handlers (cookies, enum ecq_handler in
                                       bpf/ecaptureq.bpf.h) of its entry and return probes */
    int uretprobe;                  /* the return is a uretprobe at offset */
    int nrets;                      /* or uprobes on its RET instructions, at offset + rets[i] */
    uint32_t rets[ECQ_PLAN_MAX_RETS];
    char note[96];                  /* why not probed, when probes is 0 */
};

struct ecq_plan {
    const char *lib;                /* "openssl", "gnutls", "nss", "mbedtls", "wolfssl", "go" */
    char version[64];               /* what the library's check read ("go1.22.4"), or "" */
    const char *refused;            /* NULL, or why the whole file is refused (a version
                                       check, a file over ECQ_ELF_MAX_*, another machine): a
                                       static string or one in this plan */
    const char *arch;               /* the file's machine, "x86-64" or "arm64" ("" if neither) */
    int foreign;                    /* 1: not this build's machine: planned as that machine's
                                       build would probe it (funcs, found, probes), and refused */
    int nfuncs, found, probes;      /* functions looked for, found, probes planned */
    struct ecq_plan_func funcs[ECQ_PLAN_MAX_FUNCS];
    char why[128];                  /* what refused points at when the plan wrote it */
};

/* Plans lib's probes (names as ecq_capture_attach takes them) in the ELF file held in
 * memory, for the file's own machine (x86-64 or arm64: Go's RET sites and register ABI
 * differ). Returns the number of probes planned (> 0), or -EINVAL (unknown lib),
 * -ENOEXEC (refused: out->refused says why; a file of the other machine is refused
 * with its plan filled in, out->foreign), -ENOENT (none of its functions found), with
 * out filled in as far as it got. */
int ecq_plan_file(const uint8_t *elf, size_t len, const char *lib, struct ecq_plan *out);

/* Detaches every probe, drains what is left into the sinks and frees c (NULL is
 * fine). The server stays open. A host with a server first calls ecq_capture_step and
 * lets the server write (ecq_server_poll with timeout 0) until a step returns 0, so
 * that a large backlog reaches clients a step at a time, not in one queue. */
void ecq_capture_close(struct ecq_capture *c);
#endif /* ECAPTUREQ_NO_BPF */

#ifdef __cplusplus
}
#endif
#endif
