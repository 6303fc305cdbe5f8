// SPDX-License-Identifier: GPL-2.0 OR MIT
/* ecaptureq.bpf.c - uprobes on TLS libraries' read/write calls; every byte a call
 * really transferred goes to the ring buffer with the connection's socket tuple.
 *
 * How a chunk is attributed without per-library struct offsets: while a thread (or,
 * for Go, a goroutine) is inside a probed TLS call, the raw tracepoints
 * sock:sock_send_length and sock:sock_recv_length tell which struct sock the library
 * touched. That socket is cached per (process, TLS object) because a read served from
 * the library's own buffer touches no socket; the cache entry goes when the TLS object
 * is freed (SSL_free, gnutls_deinit, PR_Close, mbedtls_ssl_free, wolfSSL_free, Go's
 * (*Conn).Close) and when the socket reaches TCP_CLOSE.
 *
 * C libraries are followed per thread with an entry uprobe and a uretprobe. Go is
 * followed per goroutine, and never with a uretprobe (it rewrites the return address
 * on the goroutine stack, which Go's runtime later walks and copies): the loader
 * places plain uprobes on every RET instruction of the function instead. */
#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "ecaptureq.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct ecq_bpf_cfg cfg = {0, ECQ_BPF_ANY_UID, 1 << 20};

#define AF_INET 2
#define AF_INET6 10
#define TCP_ESTABLISHED 1
#define TCP_CLOSE 7
#define TCP_CLOSE_WAIT 8
#define FD_SCAN_MAX 65536
#define GO_RECORD_APPDATA 23 /* crypto/tls recordTypeApplicationData */

/* Who is inside a probed call: a thread (C libraries) or a goroutine (Go). */
enum call_kind { CALL_THREAD = 1, CALL_GOROUTINE = 2 };

/* How the byte count is found when a call returns. */
enum ret_mode {
    RET_INT,        /* SSL_read/SSL_write, PR_Read/PR_Write, mbedTLS, wolfSSL: int return value */
    RET_LONG,       /* gnutls_record_recv/send: ssize_t return value */
    RET_EX,         /* SSL_read_ex/SSL_write_ex/SSL_write_ex2: 1 on success, count in *exptr */
};

struct call_key {
    __u32 tgid;
    __u16 kind;         /* enum call_kind */
    __u16 depth;        /* a thread's call 0, or 1: one a callback made from inside call 0 */
    __u64 id;           /* thread id, or the goroutine's g pointer */
};

struct conn_key {
    __u32 tgid, pad;
    __u64 conn;
};

struct conn_val {
    __u64 sk;
    __u64 seq;          /* the socket's number, unique for the agent's lifetime */
    __u32 tid;
    __s32 fd;
    __u16 lport, rport;
    __u8 family, pad[3];
    __u8 laddr[16], raddr[16];
};

struct call {
    __u64 conn, buf, exptr;
    __u64 sk;           /* the socket the call used, from the tracepoints; 0 none yet */
    struct conn_val peer; /* sk's tuple and fd, read while the call used it */
    __u64 frame;        /* thread: SP at entry; goroutine: distance of SP from the stack top */
    __u64 born;         /* thread: the task's start time, to tell a reused thread id */
    __u64 ts;           /* bpf_ktime_get_ns() at entry: a write's time */
    __u8 dir;           /* enum ecq_dir */
    __u8 need_sock;     /* NSPR: PR_Read/PR_Write also serve files and pipes */
    __u8 report;        /* 0: learn the socket only (Go handshake and alert records) */
    __u8 emitted;       /* a Go write reported at entry: a second entry hit at the same
                         * frame is the call restarting after its stack grew */
    __u32 uid;          /* whose share of the table the entry takes */
    __u64 rust[4];      /* rustls: the first four argument registers at entry; which
                         * calling convention the program uses is known at return */
};

/* calls: call_key -> call. The TLS calls in progress. Written by the entry probes,
 * filled in (sk) by the socket tracepoints, read and deleted by the return probes.
 * A thread has a second entry (depth 1) while a callback run from inside its call
 * (Node: the handshake's end, inside SSL_read, runs JavaScript that writes the
 * request) makes a TLS call of its own. An entry is replaced when the same thread or goroutine enters a call at the same
 * or an outer stack level (its old frame is gone) or when the thread id belongs to a
 * new thread; a thread's entry goes when it exits, a process's goroutine entries when
 * the process does (proc_exit). Not LRU: an entry is never pushed out by others (a
 * Go server parks a Read per idle connection for hours); a call that finds no room is
 * refused and counted. Each user may hold CALLS_PER_UID of them (call_share), so one
 * user's parked calls leave room for everyone else's. */
#define CALLS_MAX 65536
#define CALLS_PER_UID (CALLS_MAX / 4)
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, CALLS_MAX);
    __type(key, struct call_key);
    __type(value, struct call);
} calls SEC(".maps");

/* call_share: uid -> entries of calls it holds. LRU so that a host with ever more
 * users never runs out of keys; a count evicted and made again starts low, and its
 * decrements stop at 0, so the worst is a share briefly larger than a quarter. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u32);
    __type(value, __u32);
} call_share SEC(".maps");

/* go_procs: tgid -> 1 for a process that has had goroutine entries in calls, which
 * proc_exit then clears (threads' entries go one by one as their threads exit). Not
 * LRU: a process pushed out would leave its goroutine entries behind for good; a
 * goroutine's call is made only once its process is here (else refused, counted), and
 * an entry lives as long as its process. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, CALLS_MAX);
    __type(key, __u32);
    __type(value, __u8);
} go_procs SEC(".maps");

/* conns: (tgid, TLS object) -> the socket's tuple and fd. Written at the return of a
 * call that touched a socket; deleted by the conn_free probes and by sock_state when
 * the socket closes (through sk_owner). LRU bounds what leaked objects leave. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct conn_key);
    __type(value, struct conn_val);
} conns SEC(".maps");

/* sk_owner: struct sock * -> the conns key that caches it. Written with conns,
 * deleted with it. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, __u64);
    __type(value, struct conn_key);
} sk_owner SEC(".maps");

/* last_sock: task -> the last socket the thread sent on or received from outside any
 * TLS call. Written by the socket tracepoints, read by a TLS call that ends having
 * touched no socket while its object has none cached: a memory-BIO TLS object (Python
 * asyncio, Node), whose ciphertext the thread moves itself right before a read (the
 * recv that fed it) or around a write. Task storage: freed with the thread. */
struct last_sock_val {
    __u64 sk;
};

struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct last_sock_val);
} last_sock SEC(".maps");

/* sk_seq: struct sock * -> its connection number. Written (once, BPF_NOEXIST) when a
 * TLS call first uses the socket, deleted by sock_state when it closes, so a socket
 * allocated later at the same address gets a new number. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, __u64);
    __type(value, __u64);
} sk_seq SEC(".maps");

/* the last connection number given out */
__u64 conn_seq = 0;

/* rb: struct ecq_bpf_event records (header + len payload bytes) to user space. */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 32 << 20); /* the loader may resize it */
} rb SEC(".maps");

/* scratch: one record per CPU, built before it is copied to the ring buffer. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct ecq_bpf_event);
} scratch SEC(".maps");

/* files: (dev, inode, generation) -> 0 reported, waiting for the loader / 1 looked at. Every file a
 * process maps for execution or executes. Written here (0, once: BPF_NOEXIST) and by
 * the loader (1, once it has classified the file, and for files it probed itself);
 * the loader deletes an entry it could not look at, so the next mapping reports it
 * again. LRU: a host that keeps starting new files forgets the oldest. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct ecq_bpf_file_key);
    __type(value, __u8);
} files SEC(".maps");

/* missed: pid -> uid of processes whose new file found file_rb full: the loader looks
 * at every file they map again (its catch-up), since a process may map a library
 * once and never again. LRU: a storm of many processes forgets the oldest. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 8192);
    __type(key, __u32);
    __type(value, __u32);
} missed SEC(".maps");

/* file_rb: struct ecq_bpf_file records to the loader: a file nobody looked at yet. */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 << 10);
} file_rb SEC(".maps");

/* idle: 1 while the consumer has gone idle and waits on the ring's descriptor instead
 * of a timer; then each record wakes it (it clears this at once, so only the records
 * of the first moment after a quiet spell do). Written by the loader only. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} idle SEC(".maps");

/* counters: enum ecq_counter -> per-CPU totals, summed by the loader. */
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

static __always_inline int wanted(__u64 id)
{
    if (cfg.tgid && (__u32)(id >> 32) != cfg.tgid) return 0;
    if (cfg.uid != ECQ_BPF_ANY_UID && (__u32)bpf_get_current_uid_gid() != cfg.uid) return 0;
    return 1;
}

/* uid's share of calls moves by d (+1, -1); for +1, 0 if uid may take one more */
static __always_inline int share(__u32 uid, int d)
{
    __u32 one = 1, *n = bpf_map_lookup_elem(&call_share, &uid);
    if (d < 0) {
        if (n && *n) __sync_fetch_and_add(n, -1);
        return 0;
    }
    if (!n) { /* the user's first entry; another CPU may be making it at this moment */
        if (bpf_map_update_elem(&call_share, &uid, &one, BPF_NOEXIST) == 0) return 0;
        if (!(n = bpf_map_lookup_elem(&call_share, &uid))) return -1;
    }
    if (*n >= CALLS_PER_UID) return -1;
    __sync_fetch_and_add(n, 1);
    return 0;
}

/* whether o, the entry of the same thread or goroutine, is a call still in progress
 * around call n that enters now: same thread (not a reused id) and a frame the stack
 * has not left */
static __always_inline int encloses(const struct call_key *k, const struct call *o, const struct call *n)
{
    if (!o || o->born != n->born) return 0;
    return k->kind == CALL_THREAD ? o->frame > n->frame : o->frame < n->frame;
}

/* n becomes k's entry in place of old (NULL: none). A new entry takes one of its
 * user's share; a call refused (share used up, table full) counts. */
static __always_inline void put(struct call_key *k, struct call *old, struct call *n)
{
    if (k->kind == CALL_GOROUTINE && !bpf_map_lookup_elem(&go_procs, &k->tgid)) {
        __u8 one = 1; /* the process's exit clears what its goroutines leave */
        if (bpf_map_update_elem(&go_procs, &k->tgid, &one, BPF_NOEXIST) < 0 &&
            !bpf_map_lookup_elem(&go_procs, &k->tgid)) {
            count(ECQ_CNT_LOST_CALLS, 1);
            return;
        }
    }
    if (old && old->uid != n->uid) share(old->uid, -1);
    if ((!old || old->uid != n->uid) && share(n->uid, 1) < 0) {
        if (old) bpf_map_delete_elem(&calls, k);
        count(ECQ_CNT_LOST_CALLS, 1);
        return;
    }
    if (bpf_map_update_elem(&calls, k, n, BPF_ANY) < 0) {
        if (!old || old->uid != n->uid) share(n->uid, -1);
        count(ECQ_CNT_LOST_CALLS, 1);
    }
}

/* A call is over: its entry goes, and with it its user's share. */
static __always_inline void end_call(struct call_key *k, __u32 uid)
{
    if (bpf_map_delete_elem(&calls, k) == 0) share(uid, -1);
}

/* the thread's depth-1 entry goes (its call 0 ended or was replaced: it is stale) */
static __always_inline void end_inner(struct call_key *k)
{
    struct call_key k1 = *k;
    struct call *in;
    k1.depth = 1;
    if ((in = bpf_map_lookup_elem(&calls, &k1))) end_call(&k1, in->uid);
}

/* Records a call in progress. A call entered while an outer probed call of the same
 * thread or goroutine is in progress (its frame still live, deeper on the stack) is
 * the outer one's when it is on the same object in the same direction (SSL_write_ex
 * calls SSL_write_ex2; a Go handshake runs inside Read or Write): the outer one
 * reports the bytes. On a thread, any other nested call was made by a callback the
 * library ran from inside the outer call (Node runs JavaScript when SSL_read ends a
 * handshake, and that code writes the request at once), and is followed as the
 * thread's depth-1 entry; deeper than that is not followed. */
static __always_inline void begin(struct call_key *k, struct call *n)
{
    struct call *old = bpf_map_lookup_elem(&calls, k);
    n->uid = (__u32)bpf_get_current_uid_gid();
    if (encloses(k, old, n)) {
        struct call_key k1 = *k;
        struct call *in;
        if (k->kind != CALL_THREAD || (old->conn == n->conn && old->dir == n->dir)) return;
        k1.depth = 1;
        in = bpf_map_lookup_elem(&calls, &k1);
        if (!encloses(&k1, in, n)) put(&k1, in, n);
        return;
    }
    if (k->kind == CALL_THREAD) end_inner(k);
    put(k, old, n);
}

static __always_inline int enter(struct pt_regs *ctx, __u64 conn, __u64 buf, __u64 exptr, __u8 dir, __u8 need_sock)
{
    __u64 id = bpf_get_current_pid_tgid();
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct call_key k = {.tgid = id >> 32, .kind = CALL_THREAD, .id = (__u32)id};
    struct call n = {.conn = conn, .buf = buf, .exptr = exptr, .dir = dir, .need_sock = need_sock, .report = 1};
    if (!wanted(id)) return 0;
    n.ts = bpf_ktime_get_ns();
    n.frame = PT_REGS_SP(ctx);
    n.born = BPF_CORE_READ(task, start_time);
    begin(&k, &n);
    return 0;
}

/* Go's register ABI (amd64 from Go 1.17, arm64 from 1.18; the registers are in
 * kernel.h, ECQ_GO_*): integer arguments in order, a slice taking three (ptr, len,
 * cap); results likewise; the running goroutine's g in a register of its own. The
 * first field of runtime.g is its stack {lo, hi}: the distance of SP from hi names a
 * frame even after the runtime moved the stack. On both, SP at a RET instruction is SP
 * at the function's entry. */
static __always_inline int go_key(struct pt_regs *ctx, struct call_key *k, __u64 *frame)
{
    __u64 g = ECQ_GO_G(ctx), sp = PT_REGS_SP(ctx), hi = 0;
    if (!g || bpf_probe_read_user(&hi, sizeof hi, (void *)(g + 8)) < 0 || hi < sp) return -1;
    k->tgid = bpf_get_current_pid_tgid() >> 32;
    k->kind = CALL_GOROUTINE;
    k->depth = 0;
    k->id = g;
    *frame = hi - sp;
    return 0;
}

static __always_inline int go_enter(struct pt_regs *ctx, __u64 buf, __u8 dir, __u8 report)
{
    struct call_key k;
    struct call n = {.conn = ECQ_GO_PARM1(ctx), .buf = buf, .dir = dir, .report = report};
    if (!wanted(bpf_get_current_pid_tgid()) || go_key(ctx, &k, &n.frame) < 0) return 0;
    n.ts = bpf_ktime_get_ns();
    begin(&k, &n);
    return 0;
}

/* Discovery: a process maps a file for execution or executes one. Only a file not
 * seen before becomes a record, so a host starting thousands of processes of known
 * executables costs one hash lookup each. */
#define PROT_EXEC 0x4

static __always_inline int seen_file(struct file *f)
{
    __u64 id = bpf_get_current_pid_tgid();
    struct ecq_bpf_file_key k;
    struct ecq_bpf_file r = {};
    __u8 fresh = 0;
    if (!f || !wanted(id)) return 0;
    __builtin_memset(&k, 0, sizeof k);
    k.ino = BPF_CORE_READ(f, f_inode, i_ino);
    k.dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
    k.gen = BPF_CORE_READ(f, f_inode, i_generation);
    if (bpf_map_update_elem(&files, &k, &fresh, BPF_NOEXIST) < 0) return 0; /* known, or reported */
    r.dev = k.dev, r.ino = k.ino, r.gen = k.gen, r.pid = id >> 32;
    r.uid = (__u32)bpf_get_current_uid_gid();
    /* rare, and the process may make its first TLS call within milliseconds: wake the
     * agent now, idle or not */
    if (bpf_ringbuf_output(&file_rb, &r, sizeof r, BPF_RB_FORCE_WAKEUP) < 0) {
        bpf_map_delete_elem(&files, &k);
        bpf_map_update_elem(&missed, &r.pid, &r.uid, BPF_ANY);
        count(ECQ_CNT_LOST_FILES, 1);
    }
    return 0;
}

/* proc_exit's walk: one goroutine entry of the exited process goes */
static long drop_goroutine(void *map, struct call_key *k, struct call *c, __u32 *tgid)
{
    if (k->tgid == *tgid && k->kind == CALL_GOROUTINE) end_call(k, c->uid);
    return 0;
}

/* TP: sched_process_exit(struct task_struct *p), in the exiting thread. Its calls
 * entry goes (a thread killed inside a TLS call never returns from it); when the last
 * thread of a process that had goroutine entries exits, those go too (one walk of the
 * table, for Go processes only). */
SEC("raw_tracepoint/sched_process_exit")
int proc_exit(struct bpf_raw_tracepoint_args *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32;
    struct call_key k = {.tgid = tgid, .kind = CALL_THREAD, .id = (__u32)id};
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct call *c = bpf_map_lookup_elem(&calls, &k);
    if (c) end_call(&k, c->uid);
    end_inner(&k);
    if (BPF_CORE_READ(t, signal, live.counter) != 0 || !bpf_map_lookup_elem(&go_procs, &tgid)) return 0;
    bpf_map_delete_elem(&go_procs, &tgid);
    bpf_for_each_map_elem(&calls, drop_goroutine, &tgid, 0);
    return 0;
}

/* An mmap(addr, len, prot, flags, fd, off) about to run: an executable mapping of a
 * file, such as the dynamic loader mapping a library, reports the file. */
static __always_inline int mmap_seen(unsigned long prot, long fd)
{
    struct task_struct *task;
    struct file **fds, *f = 0;
    if (!(prot & PROT_EXEC) || fd < 0 || fd >= FD_SCAN_MAX) return 0;
    task = (struct task_struct *)bpf_get_current_task();
    if (fd >= BPF_CORE_READ(task, files, fdt, max_fds)) return 0;
    fds = BPF_CORE_READ(task, files, fdt, fd);
    bpf_probe_read_kernel(&f, sizeof f, &fds[fd]);
    return seen_file(f);
}

/* TP: syscalls:sys_enter_mmap, the format's fields. The kernel runs it for mmap only
 * (the other system calls test one bit of a bitmap): the first choice. */
struct sys_enter_mmap_args {
    __u64 common;
    __s64 nr;
    __u64 addr, len, prot, flags, fd, off;
};

SEC("tracepoint/syscalls/sys_enter_mmap")
int mmap_tp(struct sys_enter_mmap_args *ctx)
{
    return mmap_seen(ctx->prot, (long)ctx->fd);
}

/* TP: sys_enter(struct pt_regs *regs, long id), where the syscall tracepoints cannot
 * be attached (no tracefs to name them): it runs for every system call, so the first
 * test is the cheapest. kprobes and fentry are not on every kernel. */
SEC("raw_tracepoint/sys_enter")
int mmap_file(struct bpf_raw_tracepoint_args *ctx)
{
    struct pt_regs *regs;
    unsigned long prot;
    long fd;
    if (ctx->args[1] != ECQ_NR_MMAP) return 0;
    regs = (struct pt_regs *)ctx->args[0];
    if (bpf_probe_read_kernel(&prot, sizeof prot, &regs->ECQ_SYSCALL_PARM3) < 0 ||
        bpf_probe_read_kernel(&fd, sizeof fd, &regs->ECQ_SYSCALL_PARM5) < 0)
        return 0;
    return mmap_seen(prot, fd);
}

/* TP: sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) */
SEC("raw_tracepoint/sched_process_exec")
int exec_file(struct bpf_raw_tracepoint_args *ctx)
{
    struct linux_binprm *b = (struct linux_binprm *)ctx->args[2];
    return seen_file(BPF_CORE_READ(b, file));
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
    if (fam == AF_INET) {
        BPF_CORE_READ_INTO(&v->laddr, sk, __sk_common.skc_rcv_saddr);
        BPF_CORE_READ_INTO(&v->raddr, sk, __sk_common.skc_daddr);
    } else if (fam == AF_INET6) {
        BPF_CORE_READ_INTO(&v->laddr, sk, __sk_common.skc_v6_rcv_saddr);
        BPF_CORE_READ_INTO(&v->raddr, sk, __sk_common.skc_v6_daddr);
    } else {
        v->family = 0;
    }
}

/* sk's tuple, descriptor and connection number */
static __always_inline void learn_peer(struct sock *sk, struct conn_val *p, __u32 tid)
{
    __u64 key = (__u64)sk, seq = __sync_fetch_and_add(&conn_seq, 1) + 1, *have;
    p->sk = (__u64)sk;
    p->tid = tid;
    read_tuple(sk, p);
    p->fd = sock_fd(sk);
    bpf_map_update_elem(&sk_seq, &key, &seq, BPF_NOEXIST);
    have = bpf_map_lookup_elem(&sk_seq, &key);
    p->seq = have ? *have : seq;
}

/* the socket a thread or goroutine inside a TLS call sends on or receives from (a
 * thread's innermost call's) */
static __always_inline int note_sock(struct sock *sk)
{
    __u64 id = bpf_get_current_pid_tgid();
    struct call_key k = {.tgid = id >> 32, .kind = CALL_THREAD, .depth = 1, .id = (__u32)id};
    struct call *c = bpf_map_lookup_elem(&calls, &k);
    if (!c) {
        k.depth = 0;
        c = bpf_map_lookup_elem(&calls, &k);
    }
    if (!c) {
        /* a Go program in a system call: g's register (R14, X28) was saved at its entry */
        struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
        __u64 g = 0;
        if (regs && bpf_probe_read_kernel(&g, sizeof g, &ECQ_GO_G(regs)) == 0 && g) {
            k.kind = CALL_GOROUTINE, k.id = g;
            c = bpf_map_lookup_elem(&calls, &k);
        }
    }
    if (!c) {
        __u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
        struct last_sock_val *ls;
        if (fam != AF_INET && fam != AF_INET6) return 0;
        ls = bpf_task_storage_get(&last_sock, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (ls) ls->sk = (__u64)sk;
        return 0;
    }
    if (c->sk) return 0;
    c->sk = (__u64)sk;
    /* read the tuple now, inside the system call: by the time the TLS call returns
     * the peer may have closed the connection (no local port, no descriptor) */
    struct conn_key ck = {.tgid = k.tgid, .conn = c->conn};
    struct conn_val *v = bpf_map_lookup_elem(&conns, &ck);
    if (v && v->sk == (__u64)sk) {
        c->peer = *v;
        return 0;
    }
    learn_peer(sk, &c->peer, (__u32)id);
    return 0;
}

/* TP: sock_send_length(struct sock *sk, int ret, int flags) */
SEC("raw_tracepoint/sock_send_length")
int sock_send(struct bpf_raw_tracepoint_args *ctx)
{
    return note_sock((struct sock *)ctx->args[0]);
}

/* TP: sock_recv_length(struct sock *sk, int ret, int flags) */
SEC("raw_tracepoint/sock_recv_length")
int sock_recv(struct bpf_raw_tracepoint_args *ctx)
{
    return note_sock((struct sock *)ctx->args[0]);
}

/* Fallback for kernels without the sock_*_length tracepoints (before 6.3): the same
 * information from kprobes, where kprobes exist.
 * int tcp_sendmsg(struct sock *sk, struct msghdr *msg, size_t size);
 * int tcp_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags, int *addr_len); */
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

/* A connection that records named ends (its object freed, its socket closed): a
 * record without payload, so that user space can end what it holds for it (tls
 * --merge). Only for connections in conns, once (the entry goes with it). */
static __always_inline void emit_close(const struct conn_key *k, const struct conn_val *v)
{
    struct ecq_bpf_event *rec = bpf_ringbuf_reserve(&rb, ECQ_EVENT_HDR_SIZE, 0);
    if (!rec) return;
    __builtin_memset(rec, 0, ECQ_EVENT_HDR_SIZE);
    rec->ts_ns = bpf_ktime_get_ns();
    rec->conn = k->conn;
    rec->seq = v->seq;
    rec->pid = k->tgid;
    rec->conn_tid = v->tid;
    rec->fd = v->fd;
    rec->dir = ECQ_DIR_CLOSE;
    bpf_ringbuf_submit(rec, 0);
}

/* TP: inet_sock_set_state(const struct sock *sk, const int oldstate, const int newstate) */
SEC("raw_tracepoint/inet_sock_set_state")
int sock_state(struct bpf_raw_tracepoint_args *ctx)
{
    __u64 sk = ctx->args[0];
    struct conn_key *k;
    struct conn_val *v;
    if ((int)ctx->args[2] != TCP_CLOSE) return 0;
    bpf_map_delete_elem(&sk_seq, &sk);
    k = bpf_map_lookup_elem(&sk_owner, &sk);
    if (!k) return 0;
    v = bpf_map_lookup_elem(&conns, k);
    if (v && v->sk == sk) {
        emit_close(k, v);
        bpf_map_delete_elem(&conns, k);
    }
    bpf_map_delete_elem(&sk_owner, &sk);
    return 0;
}

static __always_inline int forget_conn(__u64 conn)
{
    struct conn_key k = {.tgid = bpf_get_current_pid_tgid() >> 32, .conn = conn};
    struct conn_val *v = bpf_map_lookup_elem(&conns, &k);
    if (v) {
        __u64 sk = v->sk;
        emit_close(&k, v);
        bpf_map_delete_elem(&sk_owner, &sk);
        bpf_map_delete_elem(&conns, &k);
    }
    return 0;
}

struct emit_ctx {
    struct ecq_bpf_event *ev;
    __u64 buf;
    __u32 total;
};

/* a chunk that could not be read or had no room: counted, reported by the loader */
static __always_inline long lost_chunk(__u64 n)
{
    count(ECQ_CNT_LOST_RECORDS, 1);
    count(ECQ_CNT_LOST_BYTES, n);
    return 0;
}

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
    /* batched wakeups: while records flow the consumer drains on a short timer and is
     * woken early only when a backlog builds up; once it has gone idle, a record wakes it */
    __u32 zero = 0, *sleeping = bpf_map_lookup_elem(&idle, &zero);
    flags = (sleeping && *sleeping) || bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) > cfg.wake_bytes ? BPF_RB_FORCE_WAKEUP
                                                                                                  : BPF_RB_NO_WAKEUP;
    if (n > ECQ_CHUNK / 2) {
        /* a large chunk goes from the program's memory straight into a full-size ring
         * record: one copy instead of two (a half-empty record at worst) */
        struct ecq_bpf_event *rec = bpf_ringbuf_reserve(&rb, sizeof *rec, 0);
        if (!rec) return lost_chunk(n);
        __builtin_memcpy(rec, ev, ECQ_EVENT_HDR_SIZE);
        if (bpf_probe_read_user(rec->data, n, (void *)(e->buf + off)) < 0) {
            bpf_ringbuf_discard(rec, BPF_RB_NO_WAKEUP);
            return lost_chunk(n);
        }
        bpf_ringbuf_submit(rec, flags);
        return 0;
    }
    if (bpf_probe_read_user(ev->data, n, (void *)(e->buf + off)) < 0 ||
        bpf_ringbuf_output(&rb, ev, ECQ_EVENT_HDR_SIZE + n, flags) < 0)
        return lost_chunk(n);
    return 0;
}

/* A call ended having moved total bytes (ok: it succeeded): cache the socket it used
 * for its TLS object, then send the bytes with the connection's tuple. A write is
 * stamped with the time it was handed to the library, a read with the time it
 * returned, so a request always sorts before the response it caused. */
static __always_inline int finish(struct call *c, __u64 total, int ok)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 zero = 0;
    struct conn_key k = {.tgid = id >> 32, .conn = c->conn};
    struct conn_val *v;
    struct ecq_bpf_event *ev;

    v = bpf_map_lookup_elem(&conns, &k);
    if (!c->sk && !v && !c->need_sock && ok) {
        /* a memory-BIO object: the connection is the socket this thread moved
         * ciphertext on just before (inferred; cached like a learned one), if that
         * socket is still connected: one closed since has no local port any more
         * (the kernel clears it), and may be another connection's than this call's */
        struct last_sock_val *ls = bpf_task_storage_get(&last_sock, bpf_get_current_task_btf(), 0, 0);
        if (ls && ls->sk) {
            read_tuple((struct sock *)ls->sk, &c->peer);
            if (c->peer.lport && c->peer.rport) {
                c->sk = ls->sk;
                learn_peer((struct sock *)ls->sk, &c->peer, (__u32)id);
            }
        }
    }
    if (c->sk && c->peer.sk == c->sk && (!v || v->sk != c->sk)) {
        /* a tuple without both ports (the socket closed while the call used it) is
         * no tuple: the event's ends are empty, never half made up. A call that
         * failed, or a socket that was already closing (no descriptor), is not
         * cached: the entry could outlive the socket's close and be taken by the
         * next TLS object at the same address */
        int whole = c->peer.lport && c->peer.rport;
        if (ok && whole && c->peer.fd >= 0) {
            bpf_map_update_elem(&conns, &k, &c->peer, BPF_ANY);
            bpf_map_update_elem(&sk_owner, &c->sk, &k, BPF_ANY);
        }
        v = whole ? &c->peer : 0;
    }
    if (!c->report || !total) return 0;
    /* one call of 2 GiB or more (SSL_write_ex, gnutls, Go take a size_t) does not fit
     * the records' 32-bit offsets: counted as lost, never dropped silently */
    if (total > 0x7fffffff) return lost_chunk(total);
    if (c->need_sock && !v) return 0;
    ev = bpf_map_lookup_elem(&scratch, &zero);
    if (!ev) return 0;
    ev->ts_ns = c->dir == ECQ_DIR_WRITE ? c->ts : bpf_ktime_get_ns();
    ev->conn = c->conn;
    ev->pid = id >> 32;
    ev->tid = (__u32)id;
    ev->dir = c->dir;
    ev->total = (__u32)total;
    if (v) {
        ev->conn_tid = v->tid;
        ev->seq = v->seq;
        ev->fd = v->fd;
        ev->family = v->family;
        ev->lport = v->lport;
        ev->rport = v->rport;
        __builtin_memcpy(ev->laddr, v->laddr, 16);
        __builtin_memcpy(ev->raddr, v->raddr, 16);
    } else {
        ev->conn_tid = (__u32)id;
        ev->seq = 0;
        ev->fd = -1;
        ev->family = 0;
        ev->lport = ev->rport = 0;
        __builtin_memset(ev->laddr, 0, 16);
        __builtin_memset(ev->raddr, 0, 16);
    }
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    BPF_CORE_READ_STR_INTO(&ev->comm, task, group_leader, comm);
    struct emit_ctx e = {.ev = ev, .buf = c->buf, .total = (__u32)total};
    bpf_loop((__u32)((total + ECQ_CHUNK - 1) / ECQ_CHUNK), emit_cb, &e, 0);
    return 0;
}

/* The call a thread's uretprobe returns from: the one whose SP is the entry's, less
 * what the return took off the stack (x86-64: the return address; arm64: nothing), of
 * the thread's depth-1 call or else of its call 0 (k has the thread's tgid and id). Its
 * entry is taken out of the table into *c; a call 0's ending also ends a stale depth-1
 * entry. -1: no call of this thread returns here (a nested call not followed). */
static __always_inline int returning(struct pt_regs *ctx, struct call_key *k, struct call *c)
{
    __u64 sp = PT_REGS_SP(ctx) - ECQ_RET_SP_DELTA;
    struct call *cp;
    k->depth = 1;
    cp = bpf_map_lookup_elem(&calls, k);
    if (!cp || cp->frame != sp) {
        k->depth = 0;
        cp = bpf_map_lookup_elem(&calls, k);
        if (!cp || cp->frame != sp) return -1;
    }
    *c = *cp;
    end_call(k, c->uid);
    if (k->depth == 0) end_inner(k);
    return 0;
}

/* uretprobe of a C library call (the call it returns from: returning()). A depth-1 call that used a socket itself
 * gives it to the outer call if that has none (TLS inside TLS: the outer object's
 * bytes travel through the inner one's calls, as before such calls were followed). */
static __always_inline int leave(struct pt_regs *ctx, enum ret_mode mode)
{
    __u64 id = bpf_get_current_pid_tgid(), total = 0;
    struct call_key k = {.tgid = id >> 32, .kind = CALL_THREAD, .id = (__u32)id};
    struct call c;
    if (returning(ctx, &k, &c) < 0) return 0;
    if (mode == RET_INT) {
        int rc = (int)PT_REGS_RC(ctx);
        total = rc > 0 ? (__u64)rc : 0;
    } else if (mode == RET_LONG) {
        long rc = (long)PT_REGS_RC(ctx);
        total = rc > 0 ? (__u64)rc : 0;
    } else if ((int)PT_REGS_RC(ctx) == 1 && c.exptr) {
        bpf_probe_read_user(&total, sizeof total, (void *)c.exptr);
    }
    if (k.depth == 1 && c.sk && c.peer.sk == c.sk) {
        struct call *outer;
        k.depth = 0;
        outer = bpf_map_lookup_elem(&calls, &k);
        if (outer && !outer->sk) {
            outer->sk = c.sk;
            outer->peer = c.peer;
        }
    }
    return finish(&c, total, total > 0);
}

/* rustls: fn write(&mut self, buf: &[u8]) -> io::Result<usize> of Writer, and read of
 * Reader (&mut [u8]). Rust has two ways of returning that 16-byte Result on x86-64,
 * seen in the same source built by two compilers: in memory (rustc 1.63, Debian 12's:
 * RDI the result's address, returned again in RAX; self, buf, len in RSI, RDX, RCX;
 * the Result at RDI is {tag u64, value u64}) or in registers (later rustc: self, buf,
 * len in RDI, RSI, RDX; tag in RAX, value in RDX). At the return, RAX equal to the
 * entry's RDI says memory: a tag is 0 or 1, never a user address. tag 0 is Ok. The
 * TLS object is what self points to first: Writer's sink (the connection) and Reader's
 * received_plaintext (a buffer inside it), stable for the connection's life. Neither
 * call touches a socket (a write only buffers, a read only copies out what an earlier
 * recv brought): the socket is inferred as for memory BIOs. */
/* A rustls connection's two objects (Writer's, Reader's) cache the socket apart, and
 * the socket's close forgets only the one sk_owner names; nor is there a free to probe.
 * A connection made later at the same address (a ClientConnection on the same stack
 * frame, the next time round) would take the old cache: it is dropped unless its socket
 * is the same one (its number unchanged) and still open on this side. */
static __always_inline void drop_stale(struct conn_key *ck)
{
    struct conn_val *v = bpf_map_lookup_elem(&conns, ck);
    __u64 sk, *seq;
    if (!v) return;
    sk = v->sk;
    seq = bpf_map_lookup_elem(&sk_seq, &sk);
    if (seq && *seq == v->seq) {
        __u8 st = BPF_CORE_READ((struct sock *)sk, __sk_common.skc_state);
        if (st == TCP_ESTABLISHED || st == TCP_CLOSE_WAIT) return;
    }
    bpf_map_delete_elem(&conns, ck);
}

static __always_inline int rust_leave(struct pt_regs *ctx)
{
    __u64 id = bpf_get_current_pid_tgid(), tag = 1, n = 0, self, len;
    struct call_key k = {.tgid = id >> 32, .kind = CALL_THREAD, .id = (__u32)id};
    struct call c;
    if (returning(ctx, &k, &c) < 0) return 0;
    if (PT_REGS_RC(ctx) == c.rust[0]) {
        __u64 r[2] = {1, 0};
        if (bpf_probe_read_user(r, sizeof r, (void *)c.rust[0]) < 0) return 0;
        tag = r[0], n = r[1];
        self = c.rust[1], c.buf = c.rust[2], len = c.rust[3];
    } else {
        tag = PT_REGS_RC(ctx), n = ECQ_RC2(ctx);
        self = c.rust[0], c.buf = c.rust[1], len = c.rust[2];
    }
    if (bpf_probe_read_user(&c.conn, sizeof c.conn, (void *)self) < 0 || !c.conn) return 0;
    struct conn_key ck = {.tgid = k.tgid, .conn = c.conn};
    drop_stale(&ck);
    /* a count over the buffer is a convention misread: nothing rather than garbage */
    if ((tag & 0xff) != 0 || n > len) n = 0;
    return finish(&c, n, n > 0);
}

static __always_inline int rust_enter(struct pt_regs *ctx, __u8 dir)
{
    struct call n = {.dir = dir, .report = 1};
    __u64 id = bpf_get_current_pid_tgid();
    struct call_key k = {.tgid = id >> 32, .kind = CALL_THREAD, .id = (__u32)id};
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    if (!wanted(id)) return 0;
    n.rust[0] = PT_REGS_PARM1(ctx), n.rust[1] = PT_REGS_PARM2(ctx);
    n.rust[2] = PT_REGS_PARM3(ctx), n.rust[3] = PT_REGS_PARM4(ctx);
    n.ts = bpf_ktime_get_ns();
    n.frame = PT_REGS_SP(ctx);
    n.born = BPF_CORE_READ(task, start_time);
    begin(&k, &n);
    return 0;
}

/* func (c *Conn) writeRecordLocked(typ recordType, data []byte) (int, error): c in the
 * first argument register (RAX, X0), typ in the second's low byte, data in the third
 * to fifth. It sends all of data or fails for good (the error
 * sticks to the Conn; nothing is retried), so application data on a connection whose
 * socket is known is reported here, at entry, len(data) bytes. Reported at a RET, the
 * last write of a program would be lost whenever the program exits while the writing
 * goroutine is between its send and the return (seen: the last of 64 parallel
 * requests, under load). A first write on an unknown connection waits for the RET to
 * learn the socket; handshake and alert records teach the socket only. */
static __always_inline int go_write(struct pt_regs *ctx)
{
    __u8 app = (__u8)ECQ_GO_PARM2(ctx) == GO_RECORD_APPDATA;
    if (app && wanted(bpf_get_current_pid_tgid())) {
        struct conn_key ck = {.tgid = bpf_get_current_pid_tgid() >> 32, .conn = ECQ_GO_PARM1(ctx)};
        struct conn_val *v = bpf_map_lookup_elem(&conns, &ck);
        if (v) {
            struct call c = {.conn = ECQ_GO_PARM1(ctx), .buf = ECQ_GO_PARM3(ctx), .dir = ECQ_DIR_WRITE, .report = 1}, *old;
            struct call_key k;
            if (go_key(ctx, &k, &c.frame) < 0) return 0;
            /* the prologue found the stack too small: the runtime grew it and entered
             * the function again (same frame, counted from the stack's top) */
            old = bpf_map_lookup_elem(&calls, &k);
            if (old && old->emitted && old->frame == c.frame) return 0;
            c.ts = bpf_ktime_get_ns();
            c.sk = v->sk;
            c.peer = *v;
            finish(&c, ECQ_GO_PARM4(ctx), 1);
            c.report = 0, c.emitted = 1; /* until a RET: marks this call as reported */
            begin(&k, &c);
            return 0;
        }
    }
    return go_enter(ctx, ECQ_GO_PARM3(ctx), ECQ_DIR_WRITE, app);
}

/* uprobe on a RET instruction of a Go function: SP is where it was at entry */
static __always_inline int go_return(struct pt_regs *ctx)
{
    struct call_key k;
    struct call *cp, c;
    __u64 frame;
    long n = (long)ECQ_GO_RC(ctx);
    if (go_key(ctx, &k, &frame) < 0) return 0;
    cp = bpf_map_lookup_elem(&calls, &k);
    if (!cp || cp->frame != frame) return 0;
    c = *cp;
    end_call(&k, c.uid);
    /* Read and writeRecordLocked return (n int, err error); the handshakes return an
     * error, nil (first result 0) on success */
    if (!c.report && c.dir == ECQ_DIR_READ) return finish(&c, 0, n == 0);
    return finish(&c, n > 0 ? (__u64)n : 0, n > 0);
}

/* Every probe: h, its BPF cookie, says which kind it is. */
static __always_inline int handle(struct pt_regs *ctx, __u64 h)
{
    __u64 a1 = PT_REGS_PARM1(ctx), a2 = PT_REGS_PARM2(ctx), a4 = PT_REGS_PARM4(ctx);
    switch (h) {
    /* int SSL_write(SSL *ssl, const void *buf, int num);
     * ssize_t gnutls_record_send(gnutls_session_t s, const void *data, size_t n);
     * int mbedtls_ssl_write(mbedtls_ssl_context *ssl, const unsigned char *buf, size_t len);
     * int wolfSSL_write(WOLFSSL *ssl, const void *data, int sz); */
    case ECQ_H_WRITE_ENTER: return enter(ctx, a1, a2, 0, ECQ_DIR_WRITE, 0);
    /* int SSL_read(SSL *ssl, void *buf, int num);
     * ssize_t gnutls_record_recv(gnutls_session_t s, void *data, size_t n);
     * int mbedtls_ssl_read(mbedtls_ssl_context *ssl, unsigned char *buf, size_t len);
     * int wolfSSL_read(WOLFSSL *ssl, void *data, int sz); */
    case ECQ_H_READ_ENTER: return enter(ctx, a1, a2, 0, ECQ_DIR_READ, 0);
    /* int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written); */
    case ECQ_H_WRITE_EX_ENTER: return enter(ctx, a1, a2, a4, ECQ_DIR_WRITE, 0);
    /* int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes); */
    case ECQ_H_READ_EX_ENTER: return enter(ctx, a1, a2, a4, ECQ_DIR_READ, 0);
    /* int SSL_write_ex2(SSL *s, const void *buf, size_t num, uint64_t flags, size_t *written);
     * SSL_write_ex calls it: that nested call is the outer one's (begin) */
    case ECQ_H_WRITE_EX2_ENTER: return enter(ctx, a1, a2, PT_REGS_PARM5(ctx), ECQ_DIR_WRITE, 0);
    /* PRInt32 PR_Write(PRFileDesc *fd, const void *buf, PRInt32 amount);
     * PRInt32 PR_Send(PRFileDesc *fd, const void *buf, PRInt32 amount, PRIntn flags, PRIntervalTime t);
     * reported only for a descriptor known to be a socket */
    case ECQ_H_NSS_WRITE_ENTER: return enter(ctx, a1, a2, 0, ECQ_DIR_WRITE, 1);
    /* PRInt32 PR_Read(PRFileDesc *fd, void *buf, PRInt32 amount);
     * PRInt32 PR_Recv(PRFileDesc *fd, void *buf, PRInt32 amount, PRIntn flags, PRIntervalTime t); */
    case ECQ_H_NSS_READ_ENTER: return enter(ctx, a1, a2, 0, ECQ_DIR_READ, 1);
    /* void SSL_free(SSL *ssl); void gnutls_deinit(gnutls_session_t session);
     * PRStatus PR_Close(PRFileDesc *fd); void mbedtls_ssl_free(mbedtls_ssl_context *ssl);
     * void wolfSSL_free(WOLFSSL *ssl); */
    case ECQ_H_CONN_FREE: return forget_conn(a1);
    /* func (c *Conn) Read(b []byte) (int, error): c in the first argument register, b in
     * the second to fourth */
    case ECQ_H_GO_READ_ENTER: return go_enter(ctx, ECQ_GO_PARM2(ctx), ECQ_DIR_READ, 1);
    /* func (c *Conn) writeRecordLocked(typ recordType, data []byte) (int, error) */
    case ECQ_H_GO_WRITE_ENTER: return go_write(ctx);
    /* func (c *Conn) serverHandshake(ctx context.Context) error, and clientHandshake: c
     * in the first argument register. They teach the socket only: a server may read its
     * peer's first bytes during the handshake, so that its first Read never touches the
     * socket. (Not handshakeContext: every Read and Write calls it, and each probe hit
     * costs a trap.) */
    case ECQ_H_GO_HANDSHAKE_ENTER: return go_enter(ctx, 0, ECQ_DIR_READ, 0);
    case ECQ_H_GO_RET: return go_return(ctx);
    /* func (c *Conn) Close() error */
    case ECQ_H_GO_CONN_FREE: return forget_conn(ECQ_GO_PARM1(ctx));
    case ECQ_H_RET_INT: return leave(ctx, RET_INT);
    case ECQ_H_RET_LONG: return leave(ctx, RET_LONG);
    case ECQ_H_RET_EX: return leave(ctx, RET_EX);
    /* impl io::Write for rustls::conn::Writer: fn write(&mut self, buf: &[u8]) -> io::Result<usize>
     * impl io::Read for rustls::conn::Reader: fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> */
    case ECQ_H_RUST_WRITE_ENTER: return rust_enter(ctx, ECQ_DIR_WRITE);
    case ECQ_H_RUST_READ_ENTER: return rust_enter(ctx, ECQ_DIR_READ);
    case ECQ_H_RET_RUST: return rust_leave(ctx);
    }
    return 0;
}

/* The two programs behind every probe: on_enter at function entries and Go RET
 * instructions, on_return as uretprobes. On Linux 6.6+ the loader attaches a file's
 * probes as uprobe_multi links (all its on_enter probes one link, its on_return
 * probes another), so that detaching it waits for one RCU grace period per link, where
 * perf-event uprobes wait for one (about 0.1 s) per probe; elsewhere one perf-event
 * uprobe per probe, with the same cookie. */
SEC("uprobe")
int on_enter(struct pt_regs *ctx)
{
    return handle(ctx, bpf_get_attach_cookie(ctx));
}

SEC("uretprobe")
int on_return(struct pt_regs *ctx)
{
    return handle(ctx, bpf_get_attach_cookie(ctx));
}
