/* truncator.c - a hostile local user against discovery: maps copies of an ELF file for
 * execution (so the agent looks at each), waits for the agent to open the copy
 * (inotify tells the file's owner), and truncates it while the agent parses it; then
 * grows it back and maps it again. Run as an unprivileged user.
 * usage: truncator SRC DIR ROUNDS   (copies are DIR/N/libssl.so.3)
 * prints "done ROUNDS opened N": N times the agent was seen opening a copy */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void pause_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* 1 if someone opened the watched file within ms */
static int opened(int in, int ms)
{
    char buf[4096];
    struct pollfd p = {.fd = in, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0) return 0;
    return read(in, buf, sizeof buf) > 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: truncator SRC DIR ROUNDS\n");
        return 2;
    }
    int src = open(argv[1], O_RDONLY), rounds = atoi(argv[3]), seen = 0;
    struct stat st;
    if (src < 0 || fstat(src, &st) < 0) return perror(argv[1]), 1;
    char *data = malloc((size_t)st.st_size);
    if (!data || pread(src, data, (size_t)st.st_size, 0) != st.st_size) return perror("read"), 1;
    srand((unsigned)getpid());
    for (int i = 0; i < rounds; i++) {
        char dir[4096], path[4200];
        snprintf(dir, sizeof dir, "%s/%d", argv[2], i);
        snprintf(path, sizeof path, "%s/libssl.so.3", dir);
        if (mkdir(dir, 0755) < 0) return perror(dir), 1;
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0755);
        if (fd < 0 || write(fd, data, (size_t)st.st_size) != st.st_size) return perror(path), 1;
        int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (in < 0 || inotify_add_watch(in, path, IN_OPEN) < 0) return perror("inotify"), 1;
        for (int k = 0; k < 4; k++) { /* map; when the agent opens it, cut it under the parse */
            void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
            if (m == MAP_FAILED) return perror("mmap"), 1;
            if (opened(in, 200)) seen++, pause_us(rand() % 400);
            if (ftruncate(fd, 4096) < 0) return perror("ftruncate"), 1;
            pause_us(2000);
            munmap(m, (size_t)st.st_size);
            if (pwrite(fd, data, (size_t)st.st_size, 0) != st.st_size) return perror("pwrite"), 1;
        }
        close(in);
        close(fd);
    }
    printf("done %d opened %d\n", rounds, seen);
    return 0;
}
