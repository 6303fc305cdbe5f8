#!/usr/bin/python3
"""Fault scenarios against a running server (ecaptureq gen). usage:
  faults.py cycles  PORT PID [N]   N (10,000) connect/disconnect cycles; fds and RSS back
  faults.py random  PORT PID       random bytes at the port; a real client still served
  faults.py emfile  PORT PID       server at its fd limit keeps its clients, accepts later
  faults.py slow    PORT           a head that never completes gets 408 and is closed
  faults.py full    PORT N         the N+1st connection gets 503
  faults.py token   PORT TOKEN     401 without the token; 101 with Bearer or ?token=
  faults.py gui     PORT [TOKEN]   the GUI's URL forms (ws://h:p, ws://h:p?token=T, ws://h:p/?token=T)
Prints "ok - ..." / "not ok - ..." lines."""
import os, random, socket, struct, sys, time, urllib.parse

mode, port = sys.argv[1], int(sys.argv[2])
KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def req(extra="", target="/"):
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n" % (target, port, KEY, extra)).encode()


def report(name, cond, why=""):
    print(("ok - %s" % name) if cond else ("not ok - %s: %s" % (name, why)), flush=True)


HEADS = []  # the head of every answer status() read


def hardened(head):
    """an error answer a browser can neither sniff into markup nor run anything from"""
    h = head.lower()
    return b"\r\nx-content-type-options: nosniff\r\n" in h and b"\r\ncontent-security-policy: default-src 'none'" in h


def status(sock):
    data = b""
    sock.settimeout(5)
    try:
        while b"\r\n\r\n" not in data:
            c = sock.recv(4096)
            if not c:
                break
            data += c
    except socket.timeout:
        pass
    HEADS.append(data.partition(b"\r\n\r\n")[0] + b"\r\n")
    parts = data.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def connect():
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def handshake():
    s = connect()
    s.sendall(req())
    return s, status(s)


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def read_until(s, done, seconds=5):
    """what s sends until done(bytes so far), end of stream, or seconds"""
    buf, end = b"", time.time() + seconds
    s.settimeout(1)
    while time.time() < end and not done(buf):
        try:
            c = s.recv(65536)
        except socket.timeout:
            continue
        if not c:
            break
        buf += c
    return buf


def ping_ok(s):
    """a ping gets its pong on an open connection (server frames before it skipped)"""
    mask = b"\x01\x02\x03\x04"
    s.sendall(bytes([0x89, 0x84]) + mask + bytes(c ^ mask[i] for i, c in enumerate(b"ping")))
    pong = bytes([0x8A, 4]) + b"ping"
    return pong in read_until(s, lambda b: pong in b)


def settle(pid, want, seconds=float(os.environ.get("SETTLE_SECONDS", "5"))):
    """the process's fd count once it is back to want and stays there 0.2 s (under
    valgrind the count also moves by valgrind's own short-lived fds), else the last one"""
    end = time.time() + seconds
    while True:
        n = fds(pid)
        if n == want:
            time.sleep(0.2)
            if fds(pid) == want:
                return want
        if time.time() >= end:
            return n
        time.sleep(0.1)


if mode == "cycles":
    pid = int(sys.argv[3])
    s, _ = handshake()  # warm up allocator and pools
    s.close()
    time.sleep(0.5)
    f0, r0 = fds(pid), rss(pid)
    t0 = time.time()
    n_ok = 0
    cycles = int(sys.argv[4]) if len(sys.argv) > 4 else 10000
    for i in range(cycles):
        c = connect()
        kind = i % 4
        if kind == 0:      # full handshake, close without a close frame
            c.sendall(req()); n_ok += status(c) == 101
        elif kind == 1:    # full handshake, reset
            c.sendall(req()); n_ok += status(c) == 101
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif kind == 2:    # half a request head
            c.sendall(req()[:30]); n_ok += 1
        else:              # connect and go
            n_ok += 1
        c.close()
    f1 = settle(pid, f0)
    r1 = rss(pid)
    slack = int(os.environ.get("RSS_SLACK_KIB", "4096"))
    report("%d connect/disconnect cycles (%.1f s): fds %d -> %d, RSS %d -> %d KiB" % (cycles, time.time() - t0, f0, f1, r0, r1),
           n_ok == cycles and f1 == f0 and r1 <= r0 + slack, "handshakes ok %d" % n_ok)
elif mode == "random":
    pid = int(sys.argv[3])
    f0 = fds(pid)
    rnd = random.Random(1)
    for i in range(300):
        c = connect()
        c.sendall(rnd.randbytes(rnd.randint(1, 20000)))
        if i % 3 == 0:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    s, code = handshake()
    report("300 connections of random bytes: the server answers the next client", code == 101 and ping_ok(s))
    s.close()
    report("... and holds no fds for them", settle(pid, f0) == f0, "fds %d, want %d" % (fds(pid), f0))
elif mode == "emfile":
    pid = int(sys.argv[3])
    first, code = handshake()
    held = [first]
    extra = []
    for i in range(60):      # past the server's fd limit
        try:
            c = connect()
        except OSError:
            break
        c.sendall(req())
        extra.append(c)
    time.sleep(1)
    report("at EMFILE the server keeps serving the clients it has", ping_ok(first))
    for c in extra[:30]:
        c.close()
    # those still pending are accepted once fds free up
    got = 0
    for c in extra[30:]:
        got += status(c) in (101, 503)
    report("once fds free up, waiting connections are accepted and answered", got == len(extra) - 30,
           "%d of %d answered" % (got, len(extra) - 30))
    for c in extra[30:] + held:
        c.close()
elif mode == "slow":
    c = connect()
    c.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    t0 = time.time()
    code = status(c)
    c.settimeout(3)
    rest = b""
    try:
        while True:
            x = c.recv(4096)
            if not x:
                break
            rest += x
    except socket.timeout:
        rest = None
    report("slowloris: an unfinished head gets 408 (nosniff, CSP) and is closed (%.1f s)" % (time.time() - t0),
           code == 408 and hardened(HEADS[-1]) and rest is not None, repr(HEADS[-1]))
elif mode == "full":
    n = int(sys.argv[3])
    held = [handshake() for _ in range(n)]
    s, code = handshake()
    report("--max-clients %d: the next connection gets 503 (nosniff, CSP)" % n,
           all(c == 101 for _, c in held) and code == 503 and hardened(HEADS[-1]), "got %d: %r" % (code, HEADS[-1]))
    for h, _ in held:
        h.close()
    time.sleep(0.3)
    s, code = handshake()
    report("... and is served again once one leaves", code == 101, "got %d" % code)
elif mode == "token":
    tok = sys.argv[3]
    codes = {}
    for name, data in [("none", req()), ("wrong", req("Authorization: Bearer x%s\r\n" % tok)),
                       ("bearer", req("Authorization: Bearer %s\r\n" % tok)), ("query", req(target="/?token=" + tok)),
                       ("wrong query", req(target="/?token=no"))]:
        c = connect()
        c.sendall(data)
        codes[name] = status(c)
        c.close()
    report("--token: none 401, wrong 401, Bearer 101, ?token= 101, wrong query 401 (each 401 with nosniff, CSP)",
           codes == {"none": 401, "wrong": 401, "bearer": 101, "query": 101, "wrong query": 401} and
           all(hardened(h) for h in HEADS if h.startswith(b"HTTP/1.1 401")), repr(codes))
elif mode == "gui":
    # the URL forms the eCaptureQ GUI writes, sent as tungstenite sends them: the URL's
    # path-and-query as written ("/" when both are empty), so ws://h:p?token=T asks for
    # "?token=T" with no path at all
    tok = sys.argv[3] if len(sys.argv) > 3 else ""
    base = "ws://127.0.0.1:%d" % port

    def tungstenite_target(url):
        u = urllib.parse.urlsplit(url)
        return (u.path + ("?" + u.query if u.query else "")) or "/"

    want = {base: 401 if tok else 101, base + "/": 401 if tok else 101}
    if tok:
        for q in ("?token=" + tok, "/?token=" + tok):
            want[base + q] = 101
        for q in ("?token=x" + tok, "/?token=x" + tok, "?other=1"):
            want[base + q] = 401
    else:
        want[base + "?x=1"] = 101
    got = {}
    for url in want:
        c = connect()
        c.sendall(req(target=tungstenite_target(url)))
        got[url] = (tungstenite_target(url), status(c))
        c.close()
    for url, code in want.items():
        report("GUI URL %s (request-target %s) -> %d" % (url, got[url][0], code), got[url][1] == code,
               "got %d" % got[url][1])
elif mode == "hello":
    # the server streams 8 KB events into a 4 KiB client bound: every client is over it at
    # once; each must still get the whole 101 first, then a close 1008
    good = 0
    for i in range(20):
        s = connect()
        s.sendall(req())
        data = read_until(s, lambda b: False)  # to the server's close
        s.close()
        head_end = data.find(b"\r\n\r\n")
        rest = data[head_end + 4:] if head_end > 0 else b""
        if data.startswith(b"HTTP/1.1 101 Switching Protocols\r\n") and rest[-4:-2] == b"\x88\x02" and rest[-2:] == struct.pack(">H", 1008):
            good += 1
    report("a client over its bound from the first burst gets the whole 101 first, then close 1008 (20 of 20)", good == 20, "%d of 20" % good)
elif mode == "idle":
    # N silent TCP connections (never a byte): a real client is still served at once,
    # and the server holds no more than --max-pending of them
    n, maxp, pid = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    idle = []
    for _ in range(n):
        idle.append(connect())
    time.sleep(0.3)
    t0 = time.time()
    s, code = handshake()
    took = time.time() - t0
    report("%d idle connections: a client with a valid handshake gets 101 at once" % n, code == 101 and took < 1, "got %d after %.2f s" % (code, took))
    held = fds(pid)
    report("... the server holds at most --max-pending (%d) of them (%d fds)" % (maxp, held), held < maxp + 20, "%d fds" % held)
    for c in idle:
        c.close()
elif mode == "stall":
    # a client that completes its handshake and never reads: the server's peak memory
    # grows by at most its --client-buffer plus a small constant, whatever the event size
    pid, bound = int(sys.argv[3]), int(sys.argv[4])

    def hwm():
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0
    base = hwm()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(req())
    time.sleep(float(sys.argv[5]) if len(sys.argv) > 5 else 4)
    grown = hwm() - base
    report("a stalled client (never reads) costs the server %.1f MB at its peak for a %.0f MB --client-buffer" %
           (grown / 1e6, bound / 1e6), grown <= bound + 6e6, "%.1f MB" % (grown / 1e6))
    s.close()
elif mode == "flood":
    # one client floods pings or empty fragments; a normal reader keeps >= 90% of its rate
    import threading

    def reader_rate(seconds):
        s, code = handshake()
        s.settimeout(1)
        got, end = 0, time.time() + seconds
        while time.time() < end:
            try:
                got += len(s.recv(1 << 20))
            except socket.timeout:
                pass
        s.close()
        return got / seconds

    def flooder(kind, result):
        s, code = handshake()
        mask = b"\x00\x00\x00\x00"
        if kind == "ping":
            unit = bytes([0x89, 0x80]) + mask
        else:  # an open binary message, then empty continuation fragments
            s.sendall(bytes([0x02, 0x80]) + mask)
            unit = bytes([0x00, 0x80]) + mask
        burst = unit * 10000
        t0, sent = time.time(), 0
        s.settimeout(0.05)
        data = b""
        while time.time() - t0 < 4:
            try:
                sent += s.send(burst)
            except (socket.timeout, BlockingIOError):
                pass
            except OSError:
                break
            try:
                c = s.recv(1 << 20)
                if not c:
                    break
                data += c
                if b"\x88\x02\x03\xf0" in data:  # close 1008
                    result["closed_after"] = time.time() - t0
                    break
            except socket.timeout:
                pass
        s.close()

    base = reader_rate(3)
    for kind in ("ping", "empty"):
        res = {}
        t = threading.Thread(target=flooder, args=(kind, res))
        t.start()
        rate = reader_rate(3)
        t.join()
        report("a client flooding %s frames is closed with 1008 (after %.2f s)" % (kind, res.get("closed_after", -1)),
               0 <= res.get("closed_after", -1) < 2, "not closed")
        report("... and a normal reader keeps %.0f%% of its rate meanwhile" % (100 * rate / base), rate >= 0.9 * base,
               "%.0f of %.0f bytes/s" % (rate, base))
elif mode == "churn":
    # N connect / handshake / close cycles as fast as they go; prints the time taken
    n, t0, ok = int(sys.argv[3]), time.time(), 0
    for _ in range(n):
        s, code = handshake()
        ok += code == 101
        s.close()
    report("%d connection cycles served while stderr is stuck (%.1f s)" % (n, time.time() - t0), ok == n, "%d of %d" % (ok, n))
