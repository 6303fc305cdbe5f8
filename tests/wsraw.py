#!/usr/bin/python3
"""Raw-socket checks of the server's RFC 6455 side: handshakes (whole, split, refused)
and client frame rules, each answered with the right HTTP status or close code.
Standard library only. usage: wsraw.py HOST PORT [--slow-ms N] [--max-clients N]
Prints one "ok - name" / "not ok - name: why" line per check."""
import os, socket, struct, sys, time, base64, hashlib

HOST, PORT = sys.argv[1], int(sys.argv[2])
ARGS = sys.argv[3:]
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
GOOD = ("GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (PORT, KEY)).encode()
failures = 0


def report(name, cond, why=""):
    global failures
    if cond:
        print("ok - " + name)
    else:
        failures += 1
        print("not ok - %s: %s" % (name, why))


def conn():
    s = socket.create_connection((HOST, PORT), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_head(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin1"), rest


def read_all(s):
    out = b""
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            out += c
    except (socket.timeout, ConnectionResetError):
        pass
    return out


def status_of(request, chunks=1):
    s = conn()
    if chunks == 1:
        s.sendall(request)
    else:
        for i in range(0, len(request), chunks):
            s.sendall(request[i:i + chunks])
    head, rest = read_head(s)
    body = b"" if head.startswith("HTTP/1.1 101") else rest + read_all(s)
    s.close()
    parts = head.split(" ", 2)
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0), head, body


def mask_frame(b0, payload, mask=b"\x11\x22\x33\x44", length=None):
    n = len(payload) if length is None else length
    if n < 126:
        h = bytes([b0, 0x80 | n])
    elif n < 65536:
        h = bytes([b0, 0x80 | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, 0x80 | 127]) + struct.pack(">Q", n)
    return h + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


class Frames:
    """Server frames off an open connection."""

    def __init__(self, s, rest=b""):
        self.s, self.buf = s, rest

    def _need(self, n):
        while len(self.buf) < n:
            c = self.s.recv(65536)
            if not c:
                raise EOFError
            self.buf += c

    def next(self):
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        if b1 & 0x80:
            raise ValueError("server frame is masked")
        n, h = b1 & 0x7F, 2
        if n == 126:
            self._need(4); n = struct.unpack(">H", self.buf[2:4])[0]; h = 4
        elif n == 127:
            self._need(10); n = struct.unpack(">Q", self.buf[2:10])[0]; h = 10
        self._need(h + n)
        payload = self.buf[h:h + n]
        self.buf = self.buf[h + n:]
        return b0 & 0x0F, b0 >> 7, payload

    def until(self, opcode):
        """payload of the next frame with this opcode, skipping others; None on EOF"""
        try:
            while True:
                op, fin, p = self.next()
                if op == opcode:
                    return p
        except (EOFError, socket.timeout, ConnectionResetError):
            return None


def opened():
    s = conn()
    s.sendall(GOOD)
    head, rest = read_head(s)
    assert head.startswith("HTTP/1.1 101"), head
    return s, Frames(s, rest)


def padded(total):
    """GOOD grown by an X-Pad field to exactly total bytes (the limit is 8192)"""
    pad = total - len(GOOD) - len("X-Pad: \r\n")
    assert pad >= 0
    return GOOD[:-2] + b"X-Pad: " + b"a" * pad + b"\r\n\r\n"


def long_head(total, cuts=()):
    """A head of total bytes with two pings and a close behind it, sent in one write, or
    cut at the given offsets into writes the server reads one by one. Every byte after
    the head must reach the frame reader: both pongs, in order, then the close echoed.
    Returns None if so, else what went wrong."""
    p1, p2 = bytes(range(3, 128)), b"second ping %d" % total
    data = padded(total) + mask_frame(0x89, p1) + mask_frame(0x89, p2) + mask_frame(0x88, struct.pack(">H", 1000))
    s = conn()
    s.settimeout(1)  # the answers come at once, or never (a stream out of step)
    try:
        at = 0
        for cut in list(cuts) + [len(data)]:
            s.sendall(data[at:cut])
            at = cut
            time.sleep(0.02)  # each piece its own read on the server
        head, rest = read_head(s)
        if not head.startswith("HTTP/1.1 101"):
            return "no 101: %r" % head[:60]
        f, got, end = Frames(s, rest), [], time.time() + 3
        try:  # events and heartbeats keep coming: a deadline, not a quiet socket, ends the wait
            while len(got) < 3 and time.time() < end:
                op, _, p = f.next()
                if op in (8, 10):
                    got.append((op, p))
        except EOFError:
            pass
        if got != [(10, p1), (10, p2), (8, struct.pack(">H", 1000))]:
            return "after the head: %r" % ([(op, p[:20]) for op, p in got],)
        return None
    except (socket.timeout, OSError) as e:
        return "%s" % e
    finally:
        s.close()


def long_heads():
    """Issue 20, item 6: bytes after a long request head are kept, whatever the head's
    length up to the limit and however the bytes are split across reads."""
    def failures(cases, most=3):  # a few are enough to show it, and each costs a timeout
        bad = []
        for case in cases:
            why = long_head(*case)
            if why:
                bad.append((case, why))
                if len(bad) == most:
                    break
        return bad

    lengths = [len(GOOD) + 9, 4096, 8163] + list(range(8192 - 130, 8193))
    bad = failures([(n,) for n in lengths])
    report("frames in the same write as a head of %d..8192 bytes (%d lengths): pong, pong, close each" %
           (len(GOOD) + 9, len(lengths)), not bad, "failed: %r" % bad)
    splits = [(8163, (8000,)), (8163, (8163,)), (8163, (8170,)), (8192, (8191,)), (8192, (8192,)),
              (8192, (8193, 8194)), (8192, (8198,)), (8192, (100, 8192 + 60)), (8100, (8150, 8199, 8240))]
    bad = failures(splits)
    report("... and split across reads at %d different places" % len(splits), not bad, "failed: %r" % bad)
    code, head, _ = status_of(padded(8193) + mask_frame(0x89, b"x"))
    report("a head of 8193 bytes is still 431", code == 431, head)


def close_code_after(frames_bytes, name):
    s, f = opened()
    s.sendall(frames_bytes)
    p = f.until(8)
    code = struct.unpack(">H", p[:2])[0] if p and len(p) >= 2 else None
    eof = read_all(s) == b""
    s.close()
    return code, eof


def main():
    watcher, wf = opened()  # stays connected through everything: must be unaffected

    code, head, _ = status_of(GOOD)
    report("101 with the RFC accept value", code == 101 and "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head, head)
    s = conn()
    for b in GOOD:  # one byte per TCP segment
        s.send(bytes([b]))
        time.sleep(0.0005)
    head, _ = read_head(s)
    s.close()
    report("handshake split into one-byte segments", head.startswith("HTTP/1.1 101"), head)

    def bad(name, req, want, extra=None):
        code, head, body = status_of(req)
        ok = code == want and "Content-Length:" in head and body.startswith(str(want).encode())
        # every refusal: plain text a browser must not sniff as markup nor run anything from
        ok = ok and "\r\nX-Content-Type-Options: nosniff\r\n" in head + "\r\n"
        ok = ok and "\r\nContent-Security-Policy: default-src 'none'" in head
        if extra:
            ok = ok and extra in head
        report(name, ok, "got %d: %r %r" % (code, head, body))

    code, head, _ = status_of(GOOD.replace(b"GET / ", b"GET ?a=b ", 1))
    report("101 for a target that is only a query (ws://host:port?a=b): the root path", code == 101, head)
    code, head, _ = status_of(b"GET ?a=b HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % PORT)
    root, _, _ = status_of(b"GET /?a=b HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % PORT)
    # the viewer page where the build has one (200), else the refusal of a plain GET
    report("a plain GET of a query-only target is answered as GET /?a=b is (%d)" % root,
           code == root and code in (200, 400), head)
    bad("404 for a target of only a fragment", GOOD.replace(b"GET / ", b"GET #a ", 1), 404)
    bad("405 for POST", GOOD.replace(b"GET", b"POST", 1), 405, "Allow: GET")
    bad("404 for another path", GOOD.replace(b"GET / ", b"GET /other ", 1), 404)
    bad("426 for version 8", GOOD.replace(b"Version: 13", b"Version: 8"), 426, "Sec-WebSocket-Version: 13")
    bad("400 for a missing key", GOOD.replace(b"Sec-WebSocket-Key: " + KEY.encode() + b"\r\n", b""), 400)
    bad("400 for a key of 15 bytes", GOOD.replace(KEY.encode(), base64.b64encode(b"x" * 15)), 400)
    bad("400 without Upgrade", GOOD.replace(b"Upgrade: websocket\r\n", b""), 400)
    bad("400 without Connection: upgrade", GOOD.replace(b"Connection: Upgrade", b"Connection: close"), 400)
    bad("400 for HTTP/1.0", GOOD.replace(b"HTTP/1.1", b"HTTP/1.0", 1), 400)
    bad("400 for garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400)
    bad("403 for a foreign Origin", GOOD.replace(b"\r\n\r\n", b"\r\nOrigin: https://evil.example\r\n\r\n"), 403)
    bad("403 for a rebinding Host", GOOD.replace(b"Host: 127.0.0.1", b"Host: evil.example"), 403)
    bad("431 for a head over 8 KiB", GOOD.replace(b"\r\n\r\n", b"\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n"), 431)
    code, head, body = status_of(b"GET / HTTP/1.1\r\nX: " + b"b" * 20000)
    report("431 before the head even ends", code == 431, head)

    long_heads()

    # frames
    def expect_close(name, data, want):
        code, eof = close_code_after(data, name)
        report(name, code == want and eof, "close code %r, eof %r" % (code, eof))

    s, f = opened()
    s.sendall(mask_frame(0x89, b"ping-payload"))
    report("ping gets a pong with the same payload", f.until(10) == b"ping-payload")
    s.sendall(mask_frame(0x81, "text is read and dropped \u20ac".encode()) + mask_frame(0x82, os.urandom(70000)))
    s.sendall(mask_frame(0x89, b"again"))
    report("data messages are discarded, connection stays", f.until(10) == b"again")
    s.sendall(mask_frame(0x88, struct.pack(">H", 1000) + b"bye"))
    p = f.until(8)
    eof = read_all(s) == b""
    report("close is echoed, then TCP closes", p is not None and p[:2] == struct.pack(">H", 1000) and eof, repr(p))
    s.close()

    expect_close("unmasked frame -> 1002", bytes([0x82, 0x02, 1, 2]), 1002)
    expect_close("RSV1 set -> 1002", mask_frame(0xC2, b"x"), 1002)
    expect_close("reserved opcode 3 -> 1002", mask_frame(0x83, b"x"), 1002)
    expect_close("reserved control opcode 0xB -> 1002", mask_frame(0x8B, b"x"), 1002)
    expect_close("fragmented ping -> 1002", mask_frame(0x09, b"x"), 1002)
    expect_close("126-byte ping -> 1002", mask_frame(0x89, b"p" * 126), 1002)
    expect_close("continuation without start -> 1002", mask_frame(0x80, b"x"), 1002)
    expect_close("new data frame inside a fragmented message -> 1002", mask_frame(0x01, b"a") + mask_frame(0x81, b"b"), 1002)
    expect_close("1-byte close payload -> 1002", mask_frame(0x88, b"\x03"), 1002)
    expect_close("close code 1005 -> 1002", mask_frame(0x88, struct.pack(">H", 1005)), 1002)
    expect_close("close code 2999 -> 1002", mask_frame(0x88, struct.pack(">H", 2999)), 1002)
    expect_close("invalid UTF-8 text -> 1007", mask_frame(0x81, b"ok \xff\xfe"), 1007)
    expect_close("invalid UTF-8 across fragments -> 1007", mask_frame(0x01, b"\xe2\x82") + mask_frame(0x80, b"\x41"), 1007)
    expect_close("invalid UTF-8 close reason -> 1007", mask_frame(0x88, struct.pack(">H", 1000) + b"\xc0\xaf"), 1007)
    # only the header of a 2 MiB message: refused at once, nothing buffered
    expect_close("2 MiB message -> 1009 from its header", mask_frame(0x82, b"", length=2 << 20)[:14], 1009)
    expect_close("fragments adding up over 1 MiB -> 1009",
                 mask_frame(0x02, b"a" * 600000) + mask_frame(0x00, b"b" * 600000), 1009)

    # a client killed in the middle of a frame does not disturb anyone
    s, f = opened()
    s.sendall(mask_frame(0x82, b"z" * 1000)[:300])
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()

    watcher.sendall(mask_frame(0x89, b"still-here"))
    report("a connected client is unaffected by all of the above", wf.until(10) == b"still-here")
    watcher.sendall(mask_frame(0x88, struct.pack(">H", 1000)))
    wf.until(8)
    watcher.close()
    print("raw checks: %d failed" % failures)
    return 1 if failures else 0


sys.exit(main())
