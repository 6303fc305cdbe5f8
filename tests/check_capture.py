#!/usr/bin/python3
"""Asserts on captured events (consume.py's JSON lines).
  check_capture.py FILE exchange PID PNAME IP PORT REQUEST BODY
      PID wrote a chunk holding REQUEST to IP:PORT (src = the client's end, type 1) and
      read the response on the same uuid: a status line (src and dst reversed, type 3)
      and BODY.
      PID "any": the pid of the first event holding REQUEST (a browser's network process),
      of PNAME unless that is "any" too (the server's read of it holds REQUEST as well);
      PNAME "any": that event's pname, printed (then the same on the response and the uuid).
  check_capture.py FILE exact PID PORT SENT RECEIVED
      PID's writes to PORT, joined, are the bytes of file SENT and its reads from PORT
      the bytes of file RECEIVED: nothing lost, added or changed (one connection).
  check_capture.py FILE body PID PORT BYTES SEED
      PID's writes on one connection hold the whole POST body byte-exact, in order.
  check_capture.py FILE writes PID COUNT SIZE
      PID's write events carry exactly COUNT*SIZE body bytes ('w'), COUNT events.
  check_capture.py FILE served PID PNAME PORT PATH BODY
      the server PID read a request for PATH on PORT (src = the client's end, type 1) and
      wrote the response on the same uuid: a status line and BODY (src = PORT, type 3).
  check_capture.py FILE none PID...
      no event is from any of these PIDs.
  check_capture.py FILE only PID
      there are events, and every one is from PID.
  check_capture.py FILE gobody PID PORT BYTES SEED
      as body, for the Go test program's generated body (byte i = i*31 + i/251 + seed).
  check_capture.py FILE goread PID PORT BYTES SEED
      PID's reads from PORT on one connection hold a response whose body is that
      generated body, byte-exact, in order.
  check_capture.py FILE parallel PID N
      PID requested /par/0 .. /par/N-1 on N connections: each request and its response
      are on one uuid of their own, and no event of one is on another's uuid."""
import base64, json, random, sys

path, mode = sys.argv[1], sys.argv[2]
events = []
for line in open(path):
    d = json.loads(line)
    if d.get("payload") == "event_payload":
        d["data"] = base64.b64decode(d.pop("payload_b64"))
        events.append(d)


def fail(msg):
    print("FAIL:", msg)
    for e in events[:40]:
        print("  ", {k: v for k, v in e.items() if k != "data"}, e["data"][:60])
    sys.exit(1)


if mode == "exchange":
    pname, ip, port, req, body = sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7].encode(), sys.argv[8].encode()
    pid = int(sys.argv[3]) if sys.argv[3] != "any" else next((e["pid"] for e in events if req in e["data"] and pname in ("any", e["pname"])), -1)
    mine = [e for e in events if e["pid"] == pid]
    w = [e for e in mine if req in e["data"]]
    if not w:
        fail("no event from pid %d holds %r" % (pid, req))
    w = w[0]
    if pname == "any":  # a browser's process: its own name, the same on every event
        pname = w["pname"]
        print("pid %d pname %s" % (pid, pname))
    reads = [e for e in mine if e["uuid"] == w["uuid"] and e["src_port"] == port]
    status = [e for e in reads if e["data"].startswith(b"HTTP/1.1 200")]
    if not status or body not in b"".join(e["data"] for e in reads):
        fail("no response (status line and %r) read by pid %d on %s" % (body, pid, w["uuid"]))
    r = status[0]
    checks = {
        "pname": w["pname"] == pname and r["pname"] == pname,
        "write goes client -> server": w["src_ip"] == ip and w["dst_ip"] == ip and w["dst_port"] == port and 0 < w["src_port"] != port,
        "read goes server -> client": r["src_ip"] == ip and r["dst_ip"] == ip and r["src_port"] == port and r["dst_port"] == w["src_port"],
        "types": w["type"] == 1 and r["type"] == 3,
        "uuid pid_tid_comm_fd": w["uuid"].startswith("%d_" % pid) and ("_%s_" % pname) in w["uuid"] and w["uuid"].rsplit("_", 1)[1].isdigit(),
        "length": w["length"] == len(w["data"]) and r["length"] == len(r["data"]),
        "timestamp ns": w["timestamp"] > 1.6e18 and r["timestamp"] >= w["timestamp"],
    }
    bad = [k for k, v in checks.items() if not v]
    if bad:
        print("write:", {k: v for k, v in w.items() if k != "data"})
        print("read: ", {k: v for k, v in r.items() if k != "data"})
        fail("wrong: " + ", ".join(bad))
elif mode == "exact":
    pid, port = int(sys.argv[3]), int(sys.argv[4])
    sent, got = open(sys.argv[5], "rb").read(), open(sys.argv[6], "rb").read()
    mine = [e for e in events if e["pid"] == pid]
    w = b"".join(e["data"] for e in mine if e["dst_port"] == port)
    r = b"".join(e["data"] for e in mine if e["src_port"] == port)
    if w != sent or r != got:
        fail("pid %d: wrote %r (want %r), read %d bytes (want %d: %s)" % (pid, w[:80], sent[:80], len(r), len(got), r == got))
elif mode == "served":
    pid, pname, port, path, body = int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6].encode(), sys.argv[7].encode()
    mine = [e for e in events if e["pid"] == pid]
    rd = [e for e in mine if e["data"].startswith(b"GET " + path + b" ")]
    if not rd:
        fail("pid %d read no request for %r" % (pid, path))
    rd = rd[0]
    wr = [e for e in mine if e["uuid"] == rd["uuid"] and e["src_port"] == port]
    status = [e for e in wr if e["data"].startswith(b"HTTP/1.1 200")]
    if not status or body not in b"".join(e["data"] for e in wr):
        fail("pid %d wrote no response (status line and %r) on %s" % (pid, body, rd["uuid"]))
    w = status[0]
    checks = {
        "pname": rd["pname"] == pname and w["pname"] == pname,
        "read goes client -> server": rd["dst_port"] == port and 0 < rd["src_port"] != port and rd["src_ip"] == rd["dst_ip"] == "127.0.0.1",
        "write goes server -> client": w["dst_port"] == rd["src_port"] and w["src_ip"] == w["dst_ip"] == "127.0.0.1",
        "types": rd["type"] == 1 and w["type"] == 3,
        "order": w["timestamp"] >= rd["timestamp"],
    }
    bad = [k for k, v in checks.items() if not v]
    if bad:
        fail("wrong: " + ", ".join(bad))
elif mode == "none":
    pids = {int(p) for p in sys.argv[3:]}
    theirs = [e for e in events if e["pid"] in pids]
    if theirs:
        fail("%d events from %s" % (len(theirs), sorted(pids)))
elif mode == "body":
    pid, port, n, seed = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    body = random.Random(seed).randbytes(n)
    writes = [e for e in events if e["pid"] == pid and e["dst_port"] == port]
    if not writes:
        fail("no writes from pid %d" % pid)
    uuids = {e["uuid"] for e in writes}
    if len(uuids) != 1:
        fail("writes carry %d uuids" % len(uuids))
    stream = b"".join(e["data"] for e in writes)
    if not stream.endswith(body) or stream.find(b"\r\n\r\n") + 4 + n != len(stream):
        fail("body differs: got %d bytes in %d events" % (len(stream), len(writes)))
    if max(len(e["data"]) for e in writes) >= n:
        fail("expected the body in several records")
elif mode in ("gobody", "goread"):
    pid, port, n, seed = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    body = bytes((i * 31 + i // 251 + seed) & 0xFF for i in range(n))
    if mode == "gobody":
        mine = [e for e in events if e["pid"] == pid and e["dst_port"] == port and e["src_port"] != port]
    else:
        mine = [e for e in events if e["pid"] == pid and e["src_port"] == port and e["dst_port"] != port]
    if not mine:
        fail("no %s events from pid %d" % ("write" if mode == "gobody" else "read", pid))
    # the connection that carried the body
    by = {}
    for e in mine:
        by.setdefault(e["uuid"], []).append(e)
    conn = max(by.values(), key=lambda es: sum(len(e["data"]) for e in es))
    stream = b"".join(e["data"] for e in conn)
    head = stream.find(b"\r\n\r\n")
    if head < 0 or stream[head + 4:] != body:
        fail("body differs: %d bytes on %s in %d events, head at %d" % (len(stream), conn[0]["uuid"], len(conn), head))
    if len({(e["src_ip"], e["src_port"], e["dst_ip"], e["dst_port"]) for e in conn}) != 1:
        fail("one uuid, several tuples")
elif mode == "parallel":
    pid, n = int(sys.argv[3]), int(sys.argv[4])
    mine = [e for e in events if e["pid"] == pid]
    owner = {}
    for i in range(n):
        req = [e for e in mine if b"GET /par/%d HTTP/1.1" % i in e["data"]]
        resp = [e for e in mine if b"hello /par/%d\n" % i in e["data"]]
        if len(req) != 1 or not resp:
            fail("/par/%d: %d request events, %d response events" % (i, len(req), len(resp)))
        u = req[0]["uuid"]
        if any(r["uuid"] != u for r in resp):
            fail("/par/%d: the response is on another uuid" % i)
        if u in owner.values():
            fail("/par/%d shares uuid %s with another request" % (i, u))
        owner[i] = u
    # every event on a request's uuid belongs to that request's connection: one tuple
    for i, u in owner.items():
        tuples = {tuple(sorted([(e["src_ip"], e["src_port"]), (e["dst_ip"], e["dst_port"])])) for e in mine if e["uuid"] == u}
        if len(tuples) != 1:
            fail("uuid %s carries %d connections" % (u, len(tuples)))
elif mode == "writes":
    pid, count, size = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    ws = [e for e in events if e["pid"] == pid and e["data"] == b"w" * size]
    total = sum(len(e["data"]) for e in ws)
    if len(ws) != count or total != count * size:
        print("FAIL: %d events, %d bytes; want %d, %d" % (len(ws), total, count, count * size))
        sys.exit(1)
elif mode == "only":
    pid = int(sys.argv[3])
    if not events:
        fail("no events")
    others = {e["pid"] for e in events if e["pid"] != pid}
    if others:
        fail("events from other pids: %r" % others)
