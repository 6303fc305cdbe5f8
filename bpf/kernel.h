/* kernel.h - the few kernel types the BPF programs read, written by hand. Fields are
 * found by name at load time (CO-RE, preserve_access_index), so only the names and
 * sizes must match the running kernel, not the layout. No generated vmlinux.h. */
#ifndef ECAPTUREQ_KERNEL_H
#define ECAPTUREQ_KERNEL_H

#include <linux/types.h>
#include <linux/bpf.h>

/* uprobe context: the x86-64 kernel layout of struct pt_regs (read directly, not CO-RE) */
#if defined(__TARGET_ARCH_x86)
struct pt_regs {
    unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
    unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};
#else
#error "ecaptureq's BPF side supports x86-64 only for now"
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
