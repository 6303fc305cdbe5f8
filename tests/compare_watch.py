#!/usr/bin/python3
"""Compares `ecaptureq watch --json` output with consume.py's (protoc-generated Python)
for the same stream: the same events, in order, every field equal.
usage: compare_watch.py WATCH.json PYTHON.json N"""
import json, sys

w = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
p = [json.loads(l) for l in open(sys.argv[2])]
n = int(sys.argv[3])
we = [d for d in w if d["kind"] == "event"]
pe = [d for d in p if d.get("payload") == "event_payload"]
if len(we) != n or len(pe) != n:
    print("FAIL: %d watch events, %d python events, want %d" % (len(we), len(pe), n))
    sys.exit(1)
for i, (a, b) in enumerate(zip(we, pe)):
    for k in ("timestamp", "uuid", "src_ip", "src_port", "dst_ip", "dst_port", "pid", "pname", "type", "length"):
        if a[k] != b[k]:
            print("FAIL: event %d field %s: watch %r, python %r" % (i, k, a[k], b[k]))
            sys.exit(1)
    if a["payload"] != b["payload_b64"]:
        print("FAIL: event %d payload differs" % i)
        sys.exit(1)
wl = [d["run_log"] for d in w if d["kind"] == "run_log"]
pl = [d["run_log"] for d in p if d.get("payload") == "run_log"]
if wl[:3] != pl[:3]:
    print("FAIL: run logs differ: %r %r" % (wl[:3], pl[:3]))
    sys.exit(1)
