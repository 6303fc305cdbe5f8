/* storm.c - a hostile local user against discovery: maps RATE new files a second for
 * execution, for SECONDS, and keeps every mapping (the process's maps grow with each),
 * so that the agent has a new file to look at every 1/RATE s. Run as an unprivileged
 * user. Prints "storm N files" at the end, then exits (its mappings go with it).
 * usage: storm DIR RATE SECONDS */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 4) return fprintf(stderr, "usage: storm DIR RATE SECONDS\n"), 2;
    int rate = atoi(argv[2]), n = 0;
    double start = now(), secs = atof(argv[3]);
    char page[4096];
    memset(page, 0x90, sizeof page);
    while (now() - start < secs) {
        char path[4200];
        snprintf(path, sizeof path, "%s/f%d", argv[1], n);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, page, sizeof page) != (ssize_t)sizeof page) return perror(path), 1;
        if (mmap(NULL, sizeof page, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0) == MAP_FAILED) return perror("mmap"), 1;
        close(fd);
        n++;
        double due = start + (double)n / rate, t = now(); /* paced, not bursting */
        if (due > t) {
            struct timespec ts = {(time_t)(due - t), (long)((due - t - (time_t)(due - t)) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    printf("storm %d files\n", n);
    return 0;
}
