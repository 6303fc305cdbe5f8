/* ecaptureq.h - public API of ecaptureq: an eCaptureQ-compatible WebSocket +
 * protobuf stream server, usable on its own from any C program.
 *
 * Copy ecaptureq.c and ecaptureq.h into your project and compile with
 *   -DECAPTUREQ_NO_BPF   leave out TLS capture (no libbpf/libelf/zlib needed)
 *   -DECAPTUREQ_NO_MAIN  leave out the command-line program (main)
 *
 * A minimal host program:
 *
 *   struct ecq_config cfg;
 *   struct ecq_server *srv;
 *   ecq_config_init(&cfg);
 *   cfg.url = "ws://127.0.0.1:28257/";
 *   if (ecq_server_open(&srv, &cfg) < 0) exit(1);
 *   ecq_server_log(srv, "hello from %s", "my program");
 *   for (;;) {
 *       ecq_server_poll(srv, NULL, 0, 1000);   // serve clients, heartbeats
 *       ecq_server_event(srv, &ev);            // broadcast a captured chunk
 *   }
 *   ecq_server_close(srv);
 *
 * All functions are for one thread; nothing here keeps global mutable state.
 * Errors are returned as negative errno values unless stated otherwise.
 */
#ifndef ECAPTUREQ_H
#define ECAPTUREQ_H

#include <stddef.h>
#include <stdint.h>
#include <poll.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ECQ_VERSION "0.1.0"
#define ECQ_DEFAULT_URL "ws://127.0.0.1:28257/"

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
 * line, an HTTP/1.x request line, a complete HTTP/2 frame header, else unknown. */
uint32_t ecq_classify(const void *data, size_t len);

/* ---------------------------------------------------------------------------
 * Endpoint URL
 * ------------------------------------------------------------------------- */

struct ecq_url {
    char host[256];             /* without brackets */
    uint16_t port;
    char path[256];             /* starts with '/' */
    int ipv6_literal;           /* host was given as [addr] */
};

/* Parses ws://HOST:PORT/PATH. HOST is a name, IPv4 or [IPv6]; PORT 1..65535 is
 * required; the path must at least be "/". Returns 0, or -1 with *why set. */
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
 * 404, 405 or 426. */
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

struct ecq_config {
    const char *url;                /* default ECQ_DEFAULT_URL */
    int heartbeat_sec;              /* default 15 */
    size_t client_buffer;           /* per-client output bound in bytes, default 16 MiB */
    size_t max_message;             /* largest client message, default 1 MiB */
    int max_clients;                /* default 1024 */
    int handshake_timeout_ms;       /* default 5000 */
    const char *token;              /* require this bearer token, or NULL */
    const char *const *origins;     /* extra allowed Origin values */
    int norigins;
    /* Called with every run-log line (no newline), e.g. to print it; NULL: stderr. */
    void (*log_sink)(void *user, const char *line);
    void *log_user;
};

struct ecq_server;

/* Counters, for status lines and tests. */
struct ecq_stats {
    uint64_t events;                /* events broadcast */
    uint64_t bytes;                 /* frame bytes written to sockets */
    uint64_t clients_total;         /* handshakes completed */
    uint64_t clients_dropped;       /* closed for exceeding client_buffer */
    uint64_t lost;                  /* set by the host with ecq_server_set_lost */
    int clients;                    /* open WebSocket clients now */
};

/* Fills c with the defaults above. */
void ecq_config_init(struct ecq_config *c);

/* Parses the URL, binds and listens. Returns 0 and *out, or a negative errno
 * (-EINVAL for a bad URL, -EADDRINUSE, ...). The strings and arrays c points to (url,
 * token, origins) are used, not copied: keep them alive until ecq_server_close. */
int ecq_server_open(struct ecq_server **out, const struct ecq_config *c);

/* Waits up to timeout_ms for activity on the server's sockets and on the caller's
 * extra fds (their revents are filled in), serves the clients, sends due heartbeats.
 * Returns the number of extra fds with revents set, or a negative errno. */
int ecq_server_poll(struct ecq_server *s, struct pollfd *extra, int nextra, int timeout_ms);

/* Logs one line: to the sink (stderr by default) and as a run_log entry queued to
 * every client; the first 128 lines are replayed to each new client. */
void ecq_server_log(struct ecq_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Encodes ev once and queues the frame to every open client (shared, reference-counted).
 * Queues are written by the next ecq_server_poll, many frames per system call. A
 * client whose queue would pass client_buffer is closed with 1008. Strings that are
 * not valid UTF-8 are sent with the bad bytes replaced by '?'. Returns 0 or -ENOMEM. */
int ecq_server_event(struct ecq_server *s, const struct ecq_event *ev);

/* Largest number of bytes queued for any client: a source that can wait (such as a
 * generator) keeps this below client_buffer to lose nothing. */
size_t ecq_server_backlog(const struct ecq_server *s);

/* Current counters. */
void ecq_server_stats(const struct ecq_server *s, struct ecq_stats *st);

/* Records how many events the capture side lost (shown in heartbeats). */
void ecq_server_set_lost(struct ecq_server *s, uint64_t lost);

/* Sends close 1001 to every client, flushes for up to flush_ms, frees everything. */
void ecq_server_close(struct ecq_server *s, int flush_ms);

#ifdef __cplusplus
}
#endif
#endif
