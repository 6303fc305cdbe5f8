#!/usr/bin/python3
"""Checks consume.py's JSON lines against what `ecaptureq gen` sends (see README,
"ecaptureq gen"): the replay first, then heartbeat 0, then events 0..N-1 in order with
every field as generated. usage: check_gen.py FILE N SIZE"""
import base64, json, sys

path, want, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lines = [json.loads(l) for l in open(path)]
errors = []


def expect(i, ts0):
    conn = i // 2
    v6, response = conn % 2 == 1, i % 2 == 1
    client = "2001:db8::%x" % (0x10 + conn % 200) if v6 else "192.0.2.%d" % (10 + conn % 200)
    server = "2001:db8::1bb" if v6 else "198.51.100.7"
    cport = 40000 + conn % 20000
    pid = 1000 + conn % 50000
    if response:
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Seq: %d\r\n\r\n" % i
    else:
        head = "POST /items/%d HTTP/1.1\r\nHost: example.test\r\n\r\n" % i
    head = head.encode()[:size]
    body = bytes((ord("a") + (i + k) % 26) for k in range(len(head), size))
    payload = head + body
    typ = 0
    if payload.startswith(b"HTTP/1."):
        typ = 3
    elif payload.startswith(b"POST ") and b" HTTP/1." in payload.split(b"\n")[0]:
        typ = 1
    return dict(log_type=2, payload="event_payload", timestamp=ts0 + i * 1000, uuid="%d_%d_gen-curl_%d" % (pid, pid, 3 + conn % 100),
                src_ip=server if response else client, src_port=443 if response else cport,
                dst_ip=client if response else server, dst_port=cport if response else 443, pid=pid, pname="gen-curl",
                type=typ, length=size, payload_b64=base64.b64encode(payload).decode())


first_event = next((k for k, d in enumerate(lines) if d.get("payload") == "event_payload"), None)
first_hb = next((k for k, d in enumerate(lines) if d.get("payload") == "heartbeat_payload"), None)
if first_hb is None or first_event is None or first_hb > first_event:
    errors.append("no heartbeat before the first event")
else:
    hb = lines[first_hb]
    if hb["count"] != 0 or not hb["message"].startswith("heartbeat:0"):
        errors.append("first heartbeat is not count 0: %r" % hb)
    replay = [d for d in lines[:first_hb] if d.get("payload") == "run_log"]
    if len(replay) < 2 or "ecaptureq" not in replay[0]["run_log"] or "listening on" not in replay[1]["run_log"]:
        errors.append("replay missing before heartbeat: %r" % lines[:first_hb])
events = [d for d in lines if d.get("payload") == "event_payload"]
if len(events) != want:
    errors.append("got %d events, want %d" % (len(events), want))
ts0 = events[0]["timestamp"] if events else 0
for i, d in enumerate(events):
    e = expect(i, ts0)
    if d != e:
        diff = {k: (d.get(k), e[k]) for k in e if d.get(k) != e[k]}
        errors.append("event %d differs: %r" % (i, diff))
        if len(errors) > 5:
            break
if errors:
    print("\n".join(errors[:6]))
    sys.exit(1)
print("all %d events as sent, replay and heartbeat 0 first" % len(events))
