// SPDX-License-Identifier: GPL-2.0 OR MIT
/* ecaptureq.bpf.c - uprobes on TLS libraries' read/write calls; every byte a call
 * really transferred goes to the ring buffer with the connection's socket tuple.
 *
 * How a chunk is attributed without per-library struct offsets: while a thread is
 * inside a probed TLS call, the raw tracepoints sock:sock_send_length and
 * sock:sock_recv_length tell which struct sock the library touched. That socket is
 * cached per (process, TLS object) because a read served from the library's own
 * buffer touches no socket; the cache entry goes on SSL_free/gnutls_deinit/PR_Close
 * and when the socket reaches TCP_CLOSE. */
#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "ecaptureq.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct ecq_bpf_cfg cfg = {0, 0xffffffff, 1 << 20};

#define TCP_CLOSE 7
#define FD_SCAN_MAX 65536

struct call {
    __u64 conn, buf, exptr, sk;
    __u32 depth;
    __u8 dir;
    __u8 need_sock;     /* NSPR: PR_Read/PR_Write also serve files and pipes */
};

struct conn_key {
    __u32 tgid, pad;
    __u64 conn;
};

struct conn_val {
    __u64 sk;
    __u32 tid;
    __s32 fd;
    __u16 lport, rport;
    __u8 family, pad[3];
    __u8 laddr[16], raddr[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, struct call);
} calls SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct conn_key);
    __type(value, struct conn_val);
} conns SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, __u64);
    __type(value, struct conn_key);
} sk_owner SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 32 << 20); /* the loader may resize it */
} rb SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct ecq_bpf_event);
} scratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, ECQ_CNT_MAX);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 idx, __u64 n)
{
    __u64 *v = bpf_map_lookup_elem(&counters, &idx);
    if (v) *v += n;
}

static __always_inline int enter(__u64 conn, __u64 buf, __u64 exptr, __u8 dir, __u8 need_sock)
{
    __u64 id = bpf_get_current_pid_tgid();
    struct call *c, n = {};
    if (cfg.tgid && (__u32)(id >> 32) != cfg.tgid) return 0;
    if (cfg.uid != 0xffffffff && (__u32)bpf_get_current_uid_gid() != cfg.uid) return 0;
    c = bpf_map_lookup_elem(&calls, &id);
    if (c) { /* a probed call inside another: the outer one reports the bytes */
        c->depth++;
        return 0;
    }
    n.conn = conn, n.buf = buf, n.exptr = exptr, n.dir = dir, n.need_sock = need_sock;
    bpf_map_update_elem(&calls, &id, &n, BPF_ANY);
    return 0;
}

SEC("uprobe")
int BPF_KPROBE(write_enter, void *conn, const void *buf)
{
    return enter((__u64)conn, (__u64)buf, 0, ECQ_DIR_WRITE, 0);
}

SEC("uprobe")
int BPF_KPROBE(read_enter, void *conn, void *buf)
{
    return enter((__u64)conn, (__u64)buf, 0, ECQ_DIR_READ, 0);
}

/* PR_Write/PR_Send/PR_Read/PR_Recv: reported only for a descriptor known to be a socket */
SEC("uprobe")
int BPF_KPROBE(nss_write_enter, void *fd, const void *buf)
{
    return enter((__u64)fd, (__u64)buf, 0, ECQ_DIR_WRITE, 1);
}

SEC("uprobe")
int BPF_KPROBE(nss_read_enter, void *fd, void *buf)
{
    return enter((__u64)fd, (__u64)buf, 0, ECQ_DIR_READ, 1);
}

/* SSL_write_ex(ssl, buf, num, size_t *written), SSL_read_ex(ssl, buf, num, size_t *readbytes) */
SEC("uprobe")
int BPF_KPROBE(write_ex_enter, void *conn, const void *buf, __u64 num, void *written)
{
    return enter((__u64)conn, (__u64)buf, (__u64)written, ECQ_DIR_WRITE, 0);
}

SEC("uprobe")
int BPF_KPROBE(read_ex_enter, void *conn, void *buf, __u64 num, void *readbytes)
{
    return enter((__u64)conn, (__u64)buf, (__u64)readbytes, ECQ_DIR_READ, 0);
}

/* the socket a thread inside a TLS call sends on or receives from */
static __always_inline int note_sock(struct sock *sk)
{
    __u64 id = bpf_get_current_pid_tgid();
    struct call *c = bpf_map_lookup_elem(&calls, &id);
    if (c && !c->sk) c->sk = (__u64)sk;
    return 0;
}

SEC("raw_tracepoint/sock_send_length")
int sock_send(struct bpf_raw_tracepoint_args *ctx)
{
    return note_sock((struct sock *)ctx->args[0]);
}

SEC("raw_tracepoint/sock_recv_length")
int sock_recv(struct bpf_raw_tracepoint_args *ctx)
{
    return note_sock((struct sock *)ctx->args[0]);
}

/* Fallback for kernels without the sock_*_length tracepoints (before 6.3): the same
 * information from kprobes on tcp_sendmsg/tcp_recvmsg, where kprobes exist. */
SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(kp_tcp_sendmsg, struct sock *sk)
{
    return note_sock(sk);
}

SEC("kprobe/tcp_recvmsg")
int BPF_KPROBE(kp_tcp_recvmsg, struct sock *sk)
{
    return note_sock(sk);
}

SEC("raw_tracepoint/inet_sock_set_state")
int sock_state(struct bpf_raw_tracepoint_args *ctx)
{
    __u64 sk = ctx->args[0];
    struct conn_key *k;
    struct conn_val *v;
    if ((int)ctx->args[2] != TCP_CLOSE) return 0;
    k = bpf_map_lookup_elem(&sk_owner, &sk);
    if (!k) return 0;
    v = bpf_map_lookup_elem(&conns, k);
    if (v && v->sk == sk) bpf_map_delete_elem(&conns, k);
    bpf_map_delete_elem(&sk_owner, &sk);
    return 0;
}

/* SSL_free(ssl), gnutls_deinit(session), PR_Close(fd) */
SEC("uprobe")
int BPF_KPROBE(conn_free, void *conn)
{
    struct conn_key k = {.tgid = bpf_get_current_pid_tgid() >> 32, .conn = (__u64)conn};
    struct conn_val *v = bpf_map_lookup_elem(&conns, &k);
    if (v) {
        __u64 sk = v->sk;
        bpf_map_delete_elem(&sk_owner, &sk);
        bpf_map_delete_elem(&conns, &k);
    }
    return 0;
}

struct fd_scan {
    struct file **fds;
    struct file *want;
    __s32 found;
};

static long fd_scan_cb(__u32 i, void *arg)
{
    struct fd_scan *s = arg;
    struct file *f = 0;
    bpf_probe_read_kernel(&f, sizeof f, &s->fds[i]);
    if (f == s->want) {
        s->found = (__s32)i;
        return 1;
    }
    return 0;
}

/* the descriptor number of sk in the current process, -1 if not found */
static __always_inline __s32 sock_fd(struct sock *sk)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct fd_scan s = {.found = -1};
    __u32 max = BPF_CORE_READ(task, files, fdt, max_fds);
    s.fds = BPF_CORE_READ(task, files, fdt, fd);
    s.want = BPF_CORE_READ(sk, sk_socket, file);
    if (!s.fds || !s.want) return -1;
    if (max > FD_SCAN_MAX) max = FD_SCAN_MAX;
    bpf_loop(max, fd_scan_cb, &s, 0);
    return s.found;
}

static __always_inline void read_tuple(struct sock *sk, struct conn_val *v)
{
    __u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
    v->family = (__u8)fam;
    v->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
    v->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
    if (fam == 2) {
        BPF_CORE_READ_INTO(&v->laddr, sk, __sk_common.skc_rcv_saddr);
        BPF_CORE_READ_INTO(&v->raddr, sk, __sk_common.skc_daddr);
    } else if (fam == 10) {
        BPF_CORE_READ_INTO(&v->laddr, sk, __sk_common.skc_v6_rcv_saddr);
        BPF_CORE_READ_INTO(&v->raddr, sk, __sk_common.skc_v6_daddr);
    } else {
        v->family = 0;
    }
}

struct emit_ctx {
    struct ecq_bpf_event *ev;
    __u64 buf;
    __u32 total;
};

static long emit_cb(__u32 i, void *arg)
{
    struct emit_ctx *e = arg;
    struct ecq_bpf_event *ev = e->ev;
    __u64 off = (__u64)i * ECQ_CHUNK, n;
    __u64 flags;
    if (off >= e->total) return 1;
    n = e->total - off;
    if (n > ECQ_CHUNK) n = ECQ_CHUNK;
    /* keep the clamped value in the register the helper call sees */
    asm volatile("" : "+r"(n));
    if (n == 0 || n > ECQ_CHUNK) return 1;
    ev->offset = (__u32)off;
    ev->len = (__u32)n;
    if (bpf_probe_read_user(ev->data, n, (void *)(e->buf + off)) < 0) {
        count(ECQ_CNT_LOST_RECORDS, 1);
        count(ECQ_CNT_LOST_BYTES, n);
        return 0;
    }
    /* batched wakeups: the consumer drains on a short timer and is woken early only
     * when a backlog builds up */
    flags = bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) > cfg.wake_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
    if (bpf_ringbuf_output(&rb, ev, ECQ_EVENT_HDR_SIZE + n, flags) < 0) {
        count(ECQ_CNT_LOST_RECORDS, 1);
        count(ECQ_CNT_LOST_BYTES, n);
    }
    return 0;
}

/* mode 0: return value is an int byte count, 1: a long (ssize_t), 2: _ex (1 = success,
 * count in *exptr) */
static __always_inline int leave(struct pt_regs *ctx, int mode)
{
    __u64 id = bpf_get_current_pid_tgid(), total;
    __u32 zero = 0;
    struct call *cp = bpf_map_lookup_elem(&calls, &id), c;
    struct conn_key k;
    struct conn_val *v, nv = {};
    struct ecq_bpf_event *ev;
    if (!cp) return 0;
    if (cp->depth) {
        cp->depth--;
        return 0;
    }
    c = *cp;
    bpf_map_delete_elem(&calls, &id);
    if (mode == 0) {
        int rc = (int)PT_REGS_RC(ctx);
        total = rc > 0 ? (__u64)rc : 0;
    } else if (mode == 1) {
        long rc = (long)PT_REGS_RC(ctx);
        total = rc > 0 ? (__u64)rc : 0;
    } else {
        total = 0;
        if ((int)PT_REGS_RC(ctx) == 1 && c.exptr) bpf_probe_read_user(&total, sizeof total, (void *)c.exptr);
    }
    if (!total || total > 0x7fffffff) return 0;

    k.tgid = id >> 32, k.pad = 0, k.conn = c.conn;
    v = bpf_map_lookup_elem(&conns, &k);
    if (c.sk && (!v || v->sk != c.sk)) {
        struct sock *sk = (struct sock *)c.sk;
        nv.sk = c.sk;
        nv.tid = (__u32)id;
        read_tuple(sk, &nv);
        nv.fd = sock_fd(sk);
        bpf_map_update_elem(&conns, &k, &nv, BPF_ANY);
        bpf_map_update_elem(&sk_owner, &c.sk, &k, BPF_ANY);
        v = &nv;
    }
    if (c.need_sock && !v) return 0;
    ev = bpf_map_lookup_elem(&scratch, &zero);
    if (!ev) return 0;
    ev->ts_ns = bpf_ktime_get_ns();
    ev->conn = c.conn;
    ev->pid = id >> 32;
    ev->tid = (__u32)id;
    ev->dir = c.dir;
    ev->total = (__u32)total;
    if (v) {
        ev->conn_tid = v->tid;
        ev->fd = v->fd;
        ev->family = v->family;
        ev->lport = v->lport;
        ev->rport = v->rport;
        __builtin_memcpy(ev->laddr, v->laddr, 16);
        __builtin_memcpy(ev->raddr, v->raddr, 16);
    } else {
        ev->conn_tid = (__u32)id;
        ev->fd = -1;
        ev->family = 0;
        ev->lport = ev->rport = 0;
        __builtin_memset(ev->laddr, 0, 16);
        __builtin_memset(ev->raddr, 0, 16);
    }
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    BPF_CORE_READ_STR_INTO(&ev->comm, task, group_leader, comm);
    struct emit_ctx e = {.ev = ev, .buf = c.buf, .total = (__u32)total};
    bpf_loop((__u32)((total + ECQ_CHUNK - 1) / ECQ_CHUNK), emit_cb, &e, 0);
    return 0;
}

SEC("uretprobe")
int ret_int(struct pt_regs *ctx)
{
    return leave(ctx, 0);
}

SEC("uretprobe")
int ret_long(struct pt_regs *ctx)
{
    return leave(ctx, 1);
}

SEC("uretprobe")
int ret_ex(struct pt_regs *ctx)
{
    return leave(ctx, 2);
}
