/* nop.bpf.c - a probe that does nothing, for `make bench`: attached by nopprobe.c at
 * the entry and return of the functions ecaptureq probes, it measures what the uprobe
 * mechanism alone costs a call (the trap, the single-step, the return trampoline). */
#include <linux/bpf.h>

__attribute__((section("uprobe"), used)) int nop(void *ctx)
{
    (void)ctx;
    return 0;
}

char LICENSE[] __attribute__((section("license"), used)) = "GPL";
