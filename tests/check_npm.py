#!/usr/bin/python3
"""Asserts on the capture of npm against the registry stand-in (tests/npm_registry.js).
  check_npm.py FILE REGISTRY_LOG REGISTRY_PID PORT NPM_PID...
Every request the registry logged ("GET /path" lines in REGISTRY_LOG, each path once:
a log of the NPM_PIDs' requests only) must be, on
both sides, byte-exact where it can be checked and on the right connection:
  - one write by one of the NPM_PIDs holding "GET /path HTTP/1.1", type 1, from
    127.0.0.1:p (p a real port, not PORT) to 127.0.0.1:PORT;
  - one read by the same process on the same uuid of the answer to it ("X-Request:
    GET /path"), type 3, from 127.0.0.1:PORT to 127.0.0.1:p; for a tarball, the body
    the registry sent (the .tgz next to the log) follows it on that uuid, byte-exact;
  - the registry read that request (type 1) from port p: the client's
    connection and the server's, each inferred on its own, agree.
No event of these processes has half a tuple (an address without its port, a port
0): a tuple is whole or empty. Prints how many requests and connections."""
import base64, json, os, re, sys

path, log, rpid, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
npm = {int(p) for p in sys.argv[5:]}
events = []
for line in open(path):
    d = json.loads(line)
    if d.get("payload") == "event_payload":
        d["data"] = base64.b64decode(d.pop("payload_b64"))
        events.append(d)
wanted = [l.split(" ", 1)[1] for l in open(log).read().split("\n") if l.startswith("GET ")]
mine = [e for e in events if e["pid"] in npm]
server = [e for e in events if e["pid"] == rpid]
errors = []
for e in mine + server:
    half = [(ip, p) for ip, p in ((e["src_ip"], e["src_port"]), (e["dst_ip"], e["dst_port"])) if bool(ip) != bool(p)]
    if half:
        errors.append("half a tuple %s on %s: %r" % (half, e["uuid"], e["data"][:40]))


def stream(evs, uuid, first):
    """the bytes read on uuid from event first on"""
    on = [e for e in evs if e["uuid"] == uuid and e["type"] in (3, 0) and e["timestamp"] >= first["timestamp"]]
    on.sort(key=lambda e: e["timestamp"])
    return b"".join(e["data"] for e in on[on.index(first):])


ports = set()
for p in wanted:
    req = [e for e in mine if e["data"].startswith(("GET %s HTTP/1.1\r\n" % p).encode())]
    if len(req) != 1:
        errors.append("%s: %d requests captured from npm" % (p, len(req)))
        continue
    w = req[0]
    cp = w["src_port"]
    if not (w["type"] == 1 and w["src_ip"] == w["dst_ip"] == "127.0.0.1" and w["dst_port"] == port and 0 < cp != port):
        errors.append("%s: request %s:%s -> %s:%s type %d" % (p, w["src_ip"], cp, w["dst_ip"], w["dst_port"], w["type"]))
        continue
    ports.add(cp)
    mark = ("X-Request: GET %s\r\n" % p).encode()
    ans = [e for e in mine if e["pid"] == w["pid"] and e["data"].startswith(b"HTTP/1.1 ") and mark in e["data"]]
    if len(ans) != 1 or ans[0]["uuid"] != w["uuid"]:
        errors.append("%s: %d answers, on %s (the request on %s)" % (p, len(ans), [a["uuid"] for a in ans], w["uuid"]))
        continue
    r = ans[0]
    if not (r["type"] == 3 and r["src_port"] == port and r["dst_port"] == cp and r["src_ip"] == r["dst_ip"] == "127.0.0.1"):
        errors.append("%s: answer %s:%s -> %s:%s type %d" % (p, r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"], r["type"]))
    if p.endswith(".tgz"):
        tgz = open(os.path.join(os.path.dirname(log), "tgz", p.rsplit("/", 1)[1]), "rb").read()
        got = stream(mine, w["uuid"], r)
        body = got[got.find(b"\r\n\r\n") + 4:][:len(tgz)]
        if body != tgz:
            errors.append("%s: the tarball read is not the one sent (%d of %d bytes match)" % (p, len(body), len(tgz)))
    seen = [e for e in server if e["data"].startswith(("GET %s HTTP/1.1\r\n" % p).encode())]
    if len([e for e in seen if e["src_port"] == cp and e["dst_port"] == port and e["type"] == 1]) != 1:
        errors.append("%s: the registry's reads of it: %s (the client sent from port %d)" %
                      (p, [(e["src_port"], e["dst_port"], e["type"]) for e in seen], cp))
for e in errors[:20]:
    print(e)
print("%d requests, %d connections, %d errors" % (len(wanted), len(ports), len(errors)))
sys.exit(0 if wanted and not errors else 1)
