/* ecaptureq.bpf.h - what the BPF programs and ecaptureq.c share: the ring-buffer
 * record, the counters and the load-time configuration. Plain fixed-width types so
 * that both sides agree on the layout without kernel headers. */
#ifndef ECAPTUREQ_BPF_H
#define ECAPTUREQ_BPF_H

/* Payload bytes per ring-buffer record; a larger TLS read or write is sent as
 * consecutive records of the same call (offset 0, ECQ_CHUNK, ...). */
#define ECQ_CHUNK 16384

/* "every user" for ecq_bpf_cfg.uid */
#define ECQ_BPF_ANY_UID 0xffffffffu

enum ecq_dir { ECQ_DIR_WRITE = 0, ECQ_DIR_READ = 1 };

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
    unsigned long long conn;       /* SSL *, gnutls_session_t, PRFileDesc * or Go *tls.Conn */
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

/* A record of the file_rb ring: process pid mapped for execution (or executed) a file
 * the agent has not looked at yet. dev is the kernel's encoding (major << 20 | minor),
 * as in /proc/PID/maps. */
struct ecq_bpf_file {
    unsigned long long dev, ino;
    unsigned int gen;              /* the inode's generation: a reused inode number is a new file */
    unsigned int pid;
};

/* Set in .rodata by the loader before load. */
struct ecq_bpf_cfg {
    unsigned int tgid;             /* 0: every process */
    unsigned int uid;              /* ECQ_BPF_ANY_UID: every user */
    unsigned long long wake_bytes; /* wake the consumer when this much is pending */
};

#endif
