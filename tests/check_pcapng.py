#!/usr/bin/python3
"""Reads an ecaptureq pcapng with Debian's tshark and checks it; prints one
"ok - ..." / "not ok - ..." line per check (lib.sh's tally counts them). usage:
  check_pcapng.py gen PCAP JSON            watch --pcapng of gen's events; JSON: watch --json of the same run
  check_pcapng.py madeup PCAP              watch --pcapng of ws_server.py (events without a tuple)
  check_pcapng.py exchange PCAP PORT PIDS PATH BODY FAMILY   an HTTP/1 exchange captured by the agent; PIDS: the
                                            client's and the server's (a comment names the end seen first)
  check_pcapng.py body PCAP PORT BYTES SEED    tls_client.py's POST body, reassembled byte-exact
  check_pcapng.py h2 PCAP PORT PATH        HTTP/2 headers (curl --http2 against nginx)
  check_pcapng.py reuse PCAP PORT PATH1 PATH2   two connections on one server fd: two streams, the first closed
  check_pcapng.py clean PCAP               checksums, no expert warnings of TCP analysis, the run log on interface 1"""
import base64, json, random, re, subprocess, sys

PREFS = ["-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"]


def say(ok, name):
    print(("ok - " if ok else "not ok - ") + name, flush=True)
    return ok


def tshark(pcap, *args):
    r = subprocess.run(["tshark", "-r", pcap, *PREFS, *args], capture_output=True, text=True, errors="replace")
    return r.stdout


def rows(pcap, flt, *names, extra=()):
    out = tshark(pcap, *extra, "-Y", flt, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|",
                 *sum((["-e", n] for n in names), []))
    return [line.split("\t") for line in out.splitlines()]


def follow(pcap, streams):
    """stream -> (node 0 "addr:port", bytes node 0 -> 1, bytes node 1 -> 0)"""
    out = tshark(pcap, "-q", *sum((["-z", "follow,tcp,raw,%d" % s] for s in streams), []))
    res, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"Filter: tcp.stream eq (\d+)", line)
        if m:
            cur = res.setdefault(int(m.group(1)), ["", bytearray(), bytearray()])
        elif cur is not None and line.startswith("Node 0: "):
            cur[0] = line[8:]
        elif cur is not None and re.fullmatch(r"\t?[0-9a-f]+", line):
            cur[2 if line.startswith("\t") else 1] += bytes.fromhex(line.strip())
    return res


def ts_text(ns):
    return "%d.%09d" % (ns // 10**9, ns % 10**9)


def clean(pcap):
    st = rows(pcap, "tcp", "tcp.checksum.status", "ip.checksum.status", "tcp.len")
    say(st and all(r[0] == "1" and r[1] in ("1", "") for r in st),
        "%d TCP segments: every TCP checksum (and IPv4 header checksum) is right" % len(st))
    say(all(int(r[2]) < 65536 - 40 for r in st), "every segment is under 64 KiB with its headers")
    bad = rows(pcap, "tcp.analysis.flags && !tcp.analysis.window_update", "frame.number", "_ws.expert.message")
    say(not bad, "tshark's TCP analysis finds nothing wrong (no lost, retransmitted or out-of-order segment)"
        + ("" if not bad else ": %s" % bad[:3]))
    logs = rows(pcap, "frame.interface_id == 1", "data-text-lines", "tcp")
    say(logs and all(r[0] and not r[1] for r in logs),
        "the run log is on interface 1 as text lines (%d), never as TCP" % len(logs))


def gen(pcap, jpath):
    ev = [x for x in map(json.loads, open(jpath)) if x["kind"] == "event"]
    conns = {}
    for e in ev:
        conns.setdefault(e["uuid"], []).append(e)
    syn = rows(pcap, "tcp.flags.syn == 1 && tcp.flags.ack == 0", "tcp.stream", "ip.src", "ipv6.src")
    say(len(syn) == len(conns) and any(r[1] for r in syn) and any(r[2] for r in syn),
        "one synthetic handshake per connection (%d of %d), IPv4 and IPv6" % (len(syn), len(conns)))
    f = follow(pcap, [int(r[0]) for r in syn])
    by_client = {node: (a, b) for node, a, b in f.values()}
    good = 0
    for u, es in conns.items():
        req, resp = es[0], es[1]
        host = "[%s]" % req["src_ip"] if ":" in req["src_ip"] else req["src_ip"]
        a, b = by_client.get("%s:%d" % (host, req["src_port"]), (b"", b""))
        good += a == base64.b64decode(req["payload"]) and b == base64.b64decode(resp["payload"])
    say(good == len(conns), "follow,tcp,raw: each connection's two directions byte-exact (%d of %d)" % (good, len(conns)))
    data = rows(pcap, "tcp.len > 0", "frame.comment", "frame.time_epoch", "tcp.srcport")
    want = {(e["src_port"], ts_text(e["timestamp"])): "pid %d %s uuid %s" % (e["pid"], e["pname"], e["uuid"]) for e in ev}
    ok = data and all(want.get((int(r[2]), r[1])) == r[0] for r in data)
    say(ok, "each of %d segments: the event's time stamp to the nanosecond, pid, name and uuid in its comment" % len(data))
    big = max(len(base64.b64decode(e["payload"])) for e in ev)
    say(len(data) > len(ev) and big > 65536, "payloads of %d bytes are cut into segments (%d segments, %d events)"
        % (big, len(data), len(ev)))


def madeup(pcap):
    tcp = rows(pcap, "tcp", "ip.src", "ip.dst", "frame.comment", "tcp.stream")
    inside = all(re.match(r"198\.1[89]\.", r[0]) and re.match(r"198\.1[89]\.", r[1]) for r in tcp)
    say(tcp and inside and all("tuple unknown: made-up addresses" in r[2] for r in tcp),
        "events without a tuple (or with an IPv4 sender and an IPv6 receiver): made-up pairs in 198.18.0.0/15, "
        "said in every comment")
    streams = sorted({int(r[3]) for r in tcp})
    f = follow(pcap, streams)
    blobs = sorted(v[1] for v in f.values())
    say(len(streams) == 2 and blobs == sorted([b"only a payload, as eCapture sends" + b"B" * (1 << 20),
                                                bytes(range(256)) + b"\0" * 44]),
        "one stream per uuid; the 1 MiB payload byte-exact behind the first in its stream")


def exchange(pcap, port, pids, path, body, family):
    ip = "ipv6" if family == "6" else "ip"
    d = ["-d", "tcp.port==%s,http" % port]
    req = rows(pcap, "http.request.uri == \"%s\"" % path, "tcp.stream", "frame.comment", ip + ".src", extra=d)
    named = req and any(("pid %s " % p) in req[0][1] and " uuid " in req[0][1] for p in pids.split(","))
    say(len(req) == 1 and req[0][2] and named,
        "HTTP/1 request GET %s: one, over IPv%s, its comment names the process (pid, name, uuid)" % (path, family))
    if not req:
        return
    resp = rows(pcap, "tcp.stream == %s && http.response.code == 200" % req[0][0], "http.file_data", extra=d)
    text = resp[0][0] if resp else ""
    if re.fullmatch(r"[0-9a-f:]+", text):
        text = bytes.fromhex(text.replace(":", "")).decode(errors="replace")
    say(len(resp) == 1 and body in text, "its response in the same stream: 200, body '%s'" % body)


def body(pcap, port, n, seed):
    head = rows(pcap, "http.request.uri == \"/big\"", "tcp.stream", extra=["-d", "tcp.port==%s,http" % port])
    if not say(len(head) == 1, "the 1 MiB POST is one HTTP request (tshark reassembled it)"):
        return
    n, st = int(n), int(head[0][0])
    want_body = random.Random(int(seed)).randbytes(n)
    a = follow(pcap, [st]).get(st, ["", b"", b""])[1]
    i = a.find(b"\r\n\r\n")
    say(i > 0 and a[i + 4:] == want_body, "follow,tcp,raw: the %d-byte body byte-exact (%d bytes sent)" % (n, len(a)))


def h2(pcap, port, path):
    h = rows(pcap, "http2.header", "http2.header.name", "http2.header.value", extra=["-d", "tcp.port==%s,http2" % port])
    pairs = [(n, v) for r in h for n, v in zip(r[0].split("|"), r[1].split("|"))]
    say((":path", path) in pairs and (":status", "200") in pairs and (":method", "GET") in pairs,
        "HTTP/2: http2.header has :method GET, :path %s and :status 200" % path)


def reuse(pcap, port, p1, p2):
    st = {}
    for uri, stream in rows(pcap, "http.request", "http.request.uri", "tcp.stream", extra=["-d", "tcp.port==%s,http" % port]):
        st.setdefault(uri, set()).add(stream)
    s1, s2 = st.get(p1, set()), st.get(p2, set())
    say(len(s1) == 1 and len(s2) == 1 and s1 != s2, "two connections, one after the other: GET %s and GET %s in two "
        "TCP streams %s %s" % (p1, p2, sorted(s1), sorted(s2)))
    fin = rows(pcap, "tcp.stream == %s && tcp.flags.fin == 1" % (min(s1) if s1 else "-1"), "frame.comment")
    say(len(fin) == 2 and all("synthetic close" in f[0] for f in fin),
        "the first is closed with FINs when the server's fd goes to the second")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    try:
        {"gen": gen, "madeup": madeup, "exchange": exchange, "body": body, "h2": h2, "reuse": reuse,
         "clean": clean}[cmd](*args)
    except Exception as e:  # a check that cannot run is a failed check, never a silent one
        say(False, "check_pcapng.py %s: %s: %s" % (cmd, type(e).__name__, e))
