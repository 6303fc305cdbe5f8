/* kernel.h - the few kernel types the BPF programs read, written by hand. Fields are
 * found by name at load time (CO-RE, preserve_access_index), so only the names and
 * sizes must match the running kernel, not the layout. No generated vmlinux.h. */
#ifndef ECAPTUREQ_KERNEL_H
#define ECAPTUREQ_KERNEL_H

#include <linux/types.h>
#include <linux/bpf.h>

/* Per architecture: the kernel's struct pt_regs (the uprobe context, and the registers
 * saved at a system call), read directly, not CO-RE: its layout is the kernel's ABI and
 * only its leading fields are declared. Then the registers the programs read by name:
 *   ECQ_GO_PARM1..4(r)  Go's register ABI, integer arguments 1-4
 *   ECQ_GO_RC(r)        Go's first integer result
 *   ECQ_GO_G(r)         the running goroutine's g (Go keeps it in a fixed register)
 *   ECQ_RC2(r)          the second return register (a 16-byte result's upper half)
 *   ECQ_SYSCALL_PARM3, ECQ_SYSCALL_PARM5  fields of the third and fifth system call
 *                       argument in the pt_regs a sys_enter tracepoint gets
 *   ECQ_NR_MMAP         mmap's system call number
 *   ECQ_RET_SP_DELTA    SP after a C function returned (where a uretprobe runs) less
 *                       SP at its entry */
#if defined(__TARGET_ARCH_x86)
struct pt_regs {
    unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
    unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};
/* Go 1.17+ on amd64: arguments and results in RAX, RBX, RCX, RDI, RSI, R8-R11; g in R14 */
#define ECQ_GO_PARM1(r) ((r)->ax)
#define ECQ_GO_PARM2(r) ((r)->bx)
#define ECQ_GO_PARM3(r) ((r)->cx)
#define ECQ_GO_PARM4(r) ((r)->di)
#define ECQ_GO_RC(r) ((r)->ax)
#define ECQ_GO_G(r) ((r)->r14)
#define ECQ_RC2(r) ((r)->dx)
#define ECQ_SYSCALL_PARM3 dx
#define ECQ_SYSCALL_PARM5 r8
#define ECQ_NR_MMAP 9
#define ECQ_RET_SP_DELTA 8          /* RET popped the return address the call pushed */
#elif defined(__TARGET_ARCH_arm64)
/* what bpf_tracing.h's PT_REGS_* read on arm64; the kernel's pt_regs starts with it */
struct user_pt_regs {
    __u64 regs[31];
    __u64 sp, pc, pstate;
};
struct pt_regs {
    __u64 regs[31];
    __u64 sp, pc, pstate;
    __u64 orig_x0;
};
/* Go 1.18+ on arm64: arguments and results in X0-X15; g in X28 */
#define ECQ_GO_PARM1(r) ((r)->regs[0])
#define ECQ_GO_PARM2(r) ((r)->regs[1])
#define ECQ_GO_PARM3(r) ((r)->regs[2])
#define ECQ_GO_PARM4(r) ((r)->regs[3])
#define ECQ_GO_RC(r) ((r)->regs[0])
#define ECQ_GO_G(r) ((r)->regs[28])
#define ECQ_RC2(r) ((r)->regs[1])
#define ECQ_SYSCALL_PARM3 regs[2]
#define ECQ_SYSCALL_PARM5 regs[4]
#define ECQ_NR_MMAP 222             /* the generic system call table */
#define ECQ_RET_SP_DELTA 0          /* the return address was in X30, not on the stack */
#else
#error "ecaptureq's BPF side supports x86-64 and arm64 (-D__TARGET_ARCH_x86 or -D__TARGET_ARCH_arm64)"
#endif
#define __VMLINUX_H__ /* tells bpf_tracing.h to use the kernel's register names */

#define __cr __attribute__((preserve_access_index))

struct in6_addr {
    union {
        __u8 u6_addr8[16];
    } in6_u;
} __cr;

struct sock_common {
    __be32 skc_daddr;
    __be32 skc_rcv_saddr;
    __be16 skc_dport;
    __u16 skc_num;
    unsigned short skc_family;
    unsigned char skc_state;
    struct in6_addr skc_v6_daddr;
    struct in6_addr skc_v6_rcv_saddr;
} __cr;

struct super_block {
    __u32 s_dev;
} __cr;

struct inode {
    unsigned long i_ino;
    __u32 i_generation;
    struct super_block *i_sb;
} __cr;

struct file {
    struct inode *f_inode;
} __cr;

struct linux_binprm {
    struct file *file;
} __cr;

struct socket {
    struct file *file;
} __cr;

struct sock {
    struct sock_common __sk_common;
    struct socket *sk_socket;
} __cr;

struct fdtable {
    unsigned int max_fds;
    struct file **fd;
} __cr;

struct files_struct {
    struct fdtable *fdt;
} __cr;

struct ecq_atomic {
    int counter;
};

struct signal_struct {
    struct ecq_atomic live;     /* threads not yet exited; 0 at the last one's exit */
} __cr;

struct task_struct {
    struct files_struct *files;
    struct signal_struct *signal;
    struct task_struct *group_leader;
    unsigned long long start_time;
    char comm[16];
} __cr;

#endif
