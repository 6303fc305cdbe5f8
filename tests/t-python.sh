# a third-party consumer: python3-websockets with protoc-generated python3-protobuf
section "third-party client: python3-websockets + protoc-generated python3-protobuf"
start_gen py --events 3000 --size 300 --wait-clients 1 --heartbeat 1
$PY tests/consume.py ws://127.0.0.1:$PORT/ --events 3000 --seconds 30 >"$OUT/py.json"
check "replay, heartbeat 0, then 3000 gen events with every field as sent" $PY tests/check_gen.py "$OUT/py.json" 3000 300
start_gen hb --heartbeat 1 --rate 10
$PY tests/consume.py ws://127.0.0.1:$PORT/ --seconds 4.5 >"$OUT/hb.json"
check "heartbeats every --heartbeat seconds, counting up, Unix-seconds timestamps" $PY - "$OUT/hb.json" <<'PYEOF'
import json, sys, time
hb = [json.loads(l) for l in open(sys.argv[1]) if '"heartbeat_payload"' in l]
counts = [h["count"] for h in hb]
ok = counts[:4] == [0, 1, 2, 3] and all(h["message"].startswith("heartbeat:%d" % h["count"]) for h in hb)
ok = ok and all(abs(h["timestamp"] - time.time()) < 60 for h in hb)
sys.exit(0 if ok else 1)
PYEOF
check "client connects are logged and broadcast as run_log" bash -c "grep -q 'connected (1 open)' $OUT/hb.log && grep -q 'connected (1 open)' $OUT/hb.json"
kill $GEN_PID; wait $GEN_PID 2>/dev/null

section "gen to the Python client: 100,000 events, nothing lost"
start_gen lossless --events 100000 --wait-clients 1
$PY tests/consume.py ws://127.0.0.1:$PORT/ --events 100000 --seconds 120 >"$OUT/100k.json"
check "100,000 events of 256 bytes, every one decoded and as sent" $PY tests/check_gen.py "$OUT/100k.json" 100000 256
wait $GEN_PID

