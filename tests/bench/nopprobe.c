/* nopprobe.c - attaches nop.bpf.o at the entry and the return of FUNC... in LIBRARY,
 * the same kind of probe set ecaptureq puts there, prints "attached N", and holds it
 * until SIGTERM or SIGINT. For `make bench`:
 *   nopprobe nop.bpf.o LIBRARY FUNC[:entry]...   (:entry: no return probe)
 *   nopprobe nop.bpf.o EXECUTABLE @OFFSET...     (a plain uprobe at a file offset, as
 *                                                 ecaptureq puts on a Go function's
 *                                                 entry and each of its RETs) */
#include <stdlib.h>
#include <bpf/libbpf.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: nopprobe nop.bpf.o LIBRARY FUNC[:entry]...\n");
        return 2;
    }
    struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
    if (!obj || bpf_object__load(obj)) {
        fprintf(stderr, "nopprobe: cannot load %s\n", argv[1]);
        return 1;
    }
    struct bpf_program *prog = bpf_object__find_program_by_name(obj, "nop");
    int n = 0;
    for (int i = 3; i < argc; i++) {
        char fn[256];
        if (argv[i][0] == '@') {
            LIBBPF_OPTS(bpf_uprobe_opts, o);
            if (!bpf_program__attach_uprobe_opts(prog, -1, argv[2], strtoul(argv[i] + 1, NULL, 0), &o)) {
                fprintf(stderr, "nopprobe: cannot attach at %s in %s\n", argv[i], argv[2]);
                return 1;
            }
            n++;
            continue;
        }
        snprintf(fn, sizeof fn, "%s", argv[i]);
        char *colon = strchr(fn, ':');
        int entry_only = colon != NULL;
        if (colon) *colon = 0;
        for (int ret = 0; ret <= !entry_only; ret++) {
            LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = fn, .retprobe = ret);
            if (!bpf_program__attach_uprobe_opts(prog, -1, argv[2], 0, &o)) {
                fprintf(stderr, "nopprobe: cannot attach to %s in %s\n", fn, argv[2]);
                return 1;
            }
            n++;
        }
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("attached %d\n", n);
    fflush(stdout);
    while (!stop) pause();
    bpf_object__close(obj);
    return 0;
}
