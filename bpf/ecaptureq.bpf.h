/* ecaptureq.bpf.h - what the BPF programs and ecaptureq.c share: the ring-buffer
 * record, the counters and the load-time configuration. Plain fixed-width types so
 * that both sides agree on the layout without kernel headers. */
#ifndef ECAPTUREQ_BPF_H
#define ECAPTUREQ_BPF_H

/* Payload bytes per ring-buffer record; a larger TLS read or write is sent as
 * consecutive records of the same call (offset 0, ECQ_CHUNK, ...). */
#define ECQ_CHUNK 16384

/* "every user" for ecq_bpf_cfg.uid (ecaptureq.h's ECQ_ANY_UID; ecaptureq.c asserts
 * that they are equal) */
#define ECQ_BPF_ANY_UID 0xffffffffu

/* ECQ_DIR_CLOSE: a record without payload saying a connection ended (its TLS object
 * was freed or its socket closed): conn, seq, pid, conn_tid and fd name it */
enum ecq_dir { ECQ_DIR_WRITE = 0, ECQ_DIR_READ = 1, ECQ_DIR_CLOSE = 2 };

/* What a probe does: its BPF cookie, which on_enter and on_return dispatch on.
 * 0 is no handler. The numbers are a contract between the two sides: append only. */
enum ecq_handler {
    ECQ_H_WRITE_ENTER = 1,      /* SSL_write, gnutls_record_send, mbedtls_ssl_write, wolfSSL_write */
    ECQ_H_READ_ENTER,           /* SSL_read, gnutls_record_recv, mbedtls_ssl_read, wolfSSL_read */
    ECQ_H_WRITE_EX_ENTER,       /* SSL_write_ex */
    ECQ_H_READ_EX_ENTER,        /* SSL_read_ex */
    ECQ_H_NSS_WRITE_ENTER,      /* PR_Write, PR_Send */
    ECQ_H_NSS_READ_ENTER,       /* PR_Read, PR_Recv */
    ECQ_H_CONN_FREE,            /* SSL_free, gnutls_deinit, PR_Close, mbedtls_ssl_free, wolfSSL_free */
    ECQ_H_GO_READ_ENTER,        /* crypto/tls.(*Conn).Read */
    ECQ_H_GO_WRITE_ENTER,       /* crypto/tls.(*Conn).writeRecordLocked */
    ECQ_H_GO_HANDSHAKE_ENTER,   /* crypto/tls.(*Conn).serverHandshake, clientHandshake */
    ECQ_H_GO_RET,               /* a RET instruction of a probed Go function */
    ECQ_H_GO_CONN_FREE,         /* crypto/tls.(*Conn).Close */
    ECQ_H_RET_INT,              /* uretprobe: an int count (SSL_read/write, PR_*) */
    ECQ_H_RET_LONG,             /* uretprobe: an ssize_t count (gnutls) */
    ECQ_H_RET_EX,               /* uretprobe: 1, and the count in *written / *readbytes */
    ECQ_H_WRITE_EX2_ENTER,      /* SSL_write_ex2 (OpenSSL 3.3+): *written is its fifth argument */
    ECQ_H_RUST_WRITE_ENTER,     /* <rustls::conn::Writer as std::io::Write>::write */
    ECQ_H_RUST_READ_ENTER,      /* <rustls::conn::Reader as std::io::Read>::read */
    ECQ_H_RET_RUST,             /* uretprobe: an io::Result<usize> (x86-64: RAX:RDX or memory) */
    ECQ_H_MAX                   /* append new handlers above, never renumber (ecaptureq.c asserts it) */
};

/* Indexes of the per-CPU counters map. */
enum ecq_counter {
    ECQ_CNT_LOST_RECORDS = 0,   /* records not written: ring buffer full, or the buffer unreadable */
    ECQ_CNT_LOST_BYTES = 1,     /* payload bytes of those records */
    ECQ_CNT_LOST_CALLS = 2,     /* TLS calls not followed: the in-flight calls map refused an entry */
    ECQ_CNT_LOST_FILES = 3,     /* new executable files not reported: file_rb full */
    ECQ_CNT_MAX = 4
};

struct ecq_bpf_event {
    unsigned long long ts_ns;      /* bpf_ktime_get_ns(): a write's entry, a read's return */
    unsigned long long conn;       /* SSL *, gnutls_session_t, PRFileDesc *, Go *tls.Conn or rustls's connection */
    unsigned long long seq;        /* connection number (unique per socket); 0 if no socket */
    unsigned int pid;              /* tgid */
    unsigned int tid;              /* thread that made this call */
    unsigned int conn_tid;         /* thread that first used the socket: stable per connection */
    int fd;                        /* socket fd, -1 if not learned */
    unsigned int len;              /* payload bytes in this record */
    unsigned int total;            /* bytes the call transferred */
    unsigned int offset;           /* of this record within the call */
    unsigned short lport, rport;   /* local and peer port, host order; 0 if unknown */
    unsigned char dir;             /* enum ecq_dir */
    unsigned char family;          /* 0 unknown, 2 AF_INET, 10 AF_INET6 */
    unsigned char pad[2];
    unsigned char laddr[16];       /* local address: IPv4 in the first 4 bytes */
    unsigned char raddr[16];       /* peer address */
    char comm[16];                 /* process (thread group leader) name */
    unsigned char data[ECQ_CHUNK];
};

#define ECQ_EVENT_HDR_SIZE ((unsigned long)&((struct ecq_bpf_event *)0)->data)

/* A file as the kernel names it, the key of the files map: the device (the kernel's
 * encoding, major << 20 | minor, as in /proc/PID/maps), the inode and the inode's
 * generation, which tells a new file from an old one whose inode number was reused
 * (0 where the filesystem does not tell). */
struct ecq_bpf_file_key {
    unsigned long long dev, ino;
    unsigned int gen, pad;
};

/* A record of the file_rb ring: process pid mapped for execution (or executed) a file
 * the agent has not looked at yet. dev is the kernel's encoding (major << 20 | minor),
 * as in /proc/PID/maps. */
struct ecq_bpf_file {
    unsigned long long dev, ino;
    unsigned int gen;              /* the inode's generation: a reused inode number is a new file */
    unsigned int pid;
    unsigned int uid;              /* the process's user: discovery serves users in turn */
    unsigned int pad;
};

/* Set in .rodata by the loader before load. */
struct ecq_bpf_cfg {
    unsigned int tgid;             /* 0: every process */
    unsigned int uid;              /* ECQ_BPF_ANY_UID: every user */
    unsigned long long wake_bytes; /* wake the consumer when this much is pending */
};

#endif
