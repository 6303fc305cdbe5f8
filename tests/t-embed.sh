# ecaptureq.c/.h copied into other programs: the server alone (libc only), and capture
# plus server in a host's own poll() loop (as root, with a real curl)
section "embedding: the server alone, and capture + server in a host's loop"
cc $SAN -Wall -Wextra -Werror -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -o "$BIN/embed_server" tests/embed_server.c ecaptureq.c
check "embed_server builds with only libc (-DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN, -Werror)" test -x "$BIN/embed_server"
if start_ready embed-server "$BIN/embed_server" 25; then
  $PY tests/consume.py ws://127.0.0.1:$HPORT/ --events 25 --seconds 20 >"$OUT/embed-server.json"
  wait $HPID; rc=$?
  check "embed_server: a third-party client gets its run log and its 25 events, then a clean exit" $PY - "$OUT/embed-server.json" $rc <<'PYEOF'
import base64, json, sys
d = [json.loads(l) for l in open(sys.argv[1])]
ev = [x for x in d if x.get("payload") == "event_payload"]
logs = [x for x in d if x.get("payload") == "run_log"]
ok = sys.argv[2] == "0" and len(ev) == 25 and any("hello from embed_server" in x["run_log"] for x in logs)
ok = ok and all(base64.b64decode(e["payload_b64"]) == b"GET /embedded/%d HTTP/1.1\r\n\r\n" % i and e["type"] == 1 for i, e in enumerate(ev))
sys.exit(0 if ok else 1)
PYEOF
fi

if [ "$(id -u)" != 0 ]; then
  skip "embed_capture needs root"
  return 0
fi
cc $SAN -Wall -Wextra -Werror -DECAPTUREQ_NO_MAIN -DECQ_BPF_OBJ='"bpf/ecaptureq.bpf.o"' -o "$BIN/embed_capture" \
  tests/embed_capture.c ecaptureq.c -lbpf -lelf -lz
check "embed_capture builds with capture and without main (-DECAPTUREQ_NO_MAIN, -Werror)" test -x "$BIN/embed_capture"
[ -f "$OUT/cert.pem" ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout "$OUT/key.pem" -out "$OUT/cert.pem" -days 2 -subj /CN=localhost 2>/dev/null
start_ready embed-capture "$BIN/embed_capture" || return 0
EC=$HPID EP=$HPORT
start_ready embed-tls $PY tests/tls_server.py 127.0.0.1 0 "$OUT/cert.pem" "$OUT/key.pem" || return 0
ETLS=$HPID
rm -f "$OUT/embed.ready"
$PY tests/consume.py ws://127.0.0.1:$EP/ --seconds 20 --ready "$OUT/embed.ready" >"$OUT/embed.json" &
CONS=$!
wait_file "$OUT/embed.ready" 5
curl -sk --max-time 10 -o /dev/null https://127.0.0.1:$HPORT/embedded &
P_EC=$!; wait $P_EC
sleep 1; kill -TERM $CONS 2>/dev/null; wait $CONS 2>/dev/null
check "embed_capture: curl's request and response come through the host's own loop" \
  $PY tests/check_capture.py "$OUT/embed.json" exchange $P_EC curl 127.0.0.1 $HPORT "GET /embedded HTTP/1.1" "hello /embedded"
kill -TERM $EC; wait $EC; rc=$?
kill $ETLS 2>/dev/null; wait $ETLS 2>/dev/null
check "embed_capture: SIGTERM ends the host's loop, exit 0, no sanitizer report" \
  bash -c "test $rc = 0 && ! grep -q 'Sanitizer\|runtime error' $OUT/embed-capture.out"
