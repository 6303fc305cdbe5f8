/* fake_boringssl.c - an executable shaped like BoringSSL's ssl_lib.cc (its error reports, SSL_peek
 * inlined into SSL_read, both calling ssl_read_impl), no libc: the ELF fuzzer's seeds
 *   clang -O2 -fPIE (or -fno-pie) -fno-asynchronous-unwind-tables -fno-builtin -nostdlib -static \
 *     -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,-z,noseparate-code -o F tests/fake_boringssl.c && strip -s F
 * (1.4 kB each; tests/corpus/elf/seed-boringssl-pie and -nopie); with -DPEEK_APART the shape
 * ./test.sh discover shows refused in one line */
#define PUT(reason) put_error(16, 0, reason, "../src/ssl/ssl_lib.cc", __LINE__)
struct ssl { int quic, hs, can_write, pending; char *data; };
__attribute__((noinline)) void put_error(int lib, int unused, int reason, const char *file, unsigned line)
{
    __asm__ volatile("" ::"r"(lib), "r"(unused), "r"(reason), "r"(file), "r"(line) : "memory");
}
__attribute__((noinline)) void consume(struct ssl *s) { __asm__ volatile("" ::"r"(s) : "memory"); s->pending = 0; }
__attribute__((noinline)) int do_handshake(struct ssl *s) { __asm__ volatile("" ::"r"(s) : "memory"); return s->hs; }
__attribute__((noinline)) static int read_impl(struct ssl *s)
{
    if (!s->hs) { PUT(226); return -1; }
    while (!s->pending) {
        int r = do_handshake(s);
        if (r < 0) return r;
        if (r == 0) { PUT(215); return -1; }
    }
    return 1;
}
#ifdef PEEK_APART /* SSL_peek's body not inlined into SSL_read: a shape the rules refuse (the test's) */
#define PEEK_ATTR __attribute__((noinline))
#else
#define PEEK_ATTR inline __attribute__((always_inline))
#endif
static PEEK_ATTR int peek(struct ssl *s, char *buf, int num)
{
    if (s->quic) { PUT(66); return -1; }
    int r = read_impl(s);
    if (r <= 0) return r;
    for (int i = 0; i < num && i < s->pending; i++) buf[i] = s->data[i];
    return num;
}
__attribute__((noinline)) int SSL_read(struct ssl *s, char *buf, int num)
{
    int r = peek(s, buf, num);
    if (r > 0) consume(s);
    return r;
}
__attribute__((noinline)) int SSL_peek(struct ssl *s, char *buf, int num) { return peek(s, buf, num); }
__attribute__((noinline)) int SSL_write(struct ssl *s, const char *buf, int num)
{
    if (s->quic) { PUT(66); return -1; }
    if (!s->hs) { PUT(226); return -1; }
    while (!s->can_write) {
        int r = do_handshake(s);
        if (r < 0) return r;
        if (r == 0) { PUT(215); return -1; }
    }
    s->data = (char *)buf;
    return num;
}
void _start(void)
{
    static struct ssl s;
    static char b[16];
    SSL_write(&s, b, 1), SSL_read(&s, b, 1), SSL_peek(&s, b, 1);
#ifdef PEEK_APART /* alive for half a second: discovery looks at a running process's files */
    static const struct { long s, ns; } half = {0, 500000000};
    __asm__ volatile("syscall" ::"a"(35), "D"(&half), "S"(0) : "rcx", "r11", "memory");
#endif
    __asm__ volatile("mov $60, %eax; xor %edi, %edi; syscall");
}
