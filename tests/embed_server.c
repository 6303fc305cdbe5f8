/* embed_server.c - the stream server alone inside a host program, as ecaptureq.h's
 * example shows: built with -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN (libc only). Listens
 * on any free port (printed as "ready PORT"), waits for one client, sends it N events
 * from its own poll() loop, then closes cleanly. usage: embed_server N */
#include "../ecaptureq.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    struct ecq_config cfg;
    struct ecq_server *srv;
    struct ecq_stats st;
    int n = argc > 1 ? atoi(argv[1]) : 10;
    char payload[64], uuid[32];
    ecq_config_init(&cfg);
    cfg.url = "ws://127.0.0.1:0/";
    if (ecq_server_open(&srv, &cfg) < 0) return 1;
    printf("ready %s\n", strrchr(ecq_server_url(srv), ':') + 1);
    fflush(stdout);
    ecq_server_log(srv, "hello from %s", "embed_server");
    do {
        if (ecq_server_poll(srv, NULL, 0, 100) < 0) return 1;
        ecq_server_stats(srv, &st);
    } while (st.clients == 0);
    for (int i = 0; i < n; i++) {
        int len = snprintf(payload, sizeof payload, "GET /embedded/%d HTTP/1.1\r\n\r\n", i);
        snprintf(uuid, sizeof uuid, "embed_%d", i);
        struct ecq_event ev = {.timestamp = 1700000000000000000 + i, .pid = 4242, .src_port = 1, .dst_port = 443};
        ev.uuid = (struct ecq_bytes){uuid, strlen(uuid)};
        ev.src_ip = (struct ecq_bytes){"192.0.2.1", 9};
        ev.dst_ip = (struct ecq_bytes){"192.0.2.2", 9};
        ev.pname = (struct ecq_bytes){"embed", 5};
        ev.payload = (struct ecq_bytes){payload, (size_t)len};
        ev.length = (uint32_t)len;
        ev.type = ecq_classify(payload, (size_t)len);
        if (ecq_server_event(srv, &ev) < 0) return 1;
    }
    while (ecq_server_backlog(srv) > 0) ecq_server_poll(srv, NULL, 0, 50);
    ecq_server_close(srv, 1000);
    return 0;
}
