# ecaptureq.c/.h copied into other programs: the server alone (libc only), and capture
# plus server in a host's own poll() loop (as root, with a real curl)
section "embedding: the server alone, and capture + server in a host's loop"
built embed_server
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

# the examples at the top of ecaptureq.h compile as they are written
awk '/A minimal host program/{on=1; next} /^ \* With capture/{on=0} on && sub(/^ \*   /, "")' ecaptureq.h >"$OUT/example1.c"
awk '/^ \* With capture/{on=1; next} /^ \* A host with its own poll/{on=0} on && sub(/^ \*   /, "")' ecaptureq.h >"$OUT/example2.c"
check "ecaptureq.h's server example compiles and links as written (-Wall -Wextra -Werror, libc only)" \
  cc -Wall -Wextra -Werror -I. -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -o "$BIN/example1" "$OUT/example1.c" ecaptureq.c
check "ecaptureq.h's capture example compiles as written (-Wall -Wextra -Werror)" \
  bash -c "grep -q ecq_capture_step $OUT/example2.c && cc -Wall -Wextra -Werror -I. -include ecaptureq.h -c -o $BIN/example2.o $OUT/example2.c"

# a host with its own poll() loop (stdin + the server's fds): each stdin line an event
built embed
rm -f "$OUT/embed.fifo" && mkfifo "$OUT/embed.fifo"
"$BIN/embed" <"$OUT/embed.fifo" >"$OUT/embed.out" 2>&1 & EMB=$!
exec 7>"$OUT/embed.fifo"
if wait_log "$OUT/embed.out" "^ready" 10; then
  EPORT=$(log_port "$OUT/embed.out")
  rm -f "$OUT/embed-host.ready"
  $PY tests/consume.py ws://127.0.0.1:$EPORT/ --events 3 --seconds 20 --ready "$OUT/embed-host.ready" >"$OUT/embed-host.json" & CONS=$!
  wait_file "$OUT/embed-host.ready" 5
  printf 'GET /from-stdin HTTP/1.1\r\nplain line two\ncaf\xc3\xa9 three\n' >&7
  wait $CONS
  exec 7>&-
  wait $EMB; rc=$?
  check "embed (own poll() loop, stdin + the server's fds): a third-party client gets its 3 lines as events and its run log; stdin's end: exit 0, no sanitizer report" \
    $PY - "$OUT/embed-host.json" $rc "$OUT/embed.out" <<'PYEOF'
import base64, json, sys
d = [json.loads(l) for l in open(sys.argv[1])]
ev = [base64.b64decode(x["payload_b64"]) for x in d if x.get("payload") == "event_payload"]
types = [x["type"] for x in d if x.get("payload") == "event_payload"]
logs = [x["run_log"] for x in d if x.get("payload") == "run_log"]
ok = sys.argv[2] == "0" and ev == [b"GET /from-stdin HTTP/1.1\r", b"plain line two", "café three".encode()]
ok = ok and types == [1, 0, 0] and any("embed: streaming stdin" in l for l in logs)
ok = ok and "Sanitizer" not in open(sys.argv[3]).read() and "runtime error" not in open(sys.argv[3]).read()
sys.exit(0 if ok else 1)
PYEOF
else
  exec 7>&-
  bad "embed: the host program did not start (see $OUT/embed.out)"
fi

if [ "$(id -u)" != 0 ]; then
  skip "embed_capture needs root"
  return 0
fi
built embed_capture
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

# a host with no server at all: capture's sinks are its own callbacks
built embed_sink
check "embed_sink (capture with no server, callbacks only) builds (-Werror)" test -x "$BIN/embed_sink"
start_ready embed-sink "$BIN/embed_sink" || return 0
ES=$HPID
start_ready sink-tls $PY tests/tls_server.py 127.0.0.1 0 "$OUT/cert.pem" "$OUT/key.pem" || return 0
STLS=$HPID
curl -sk --max-time 10 -o /dev/null https://127.0.0.1:$HPORT/no-server &
P_SC=$!; wait $P_SC
wait_log "$OUT/embed-sink.out" "^event $P_SC curl 3 " 5
kill -TERM $ES; wait $ES; rc=$?
kill $STLS 2>/dev/null; wait $STLS 2>/dev/null
check "embed_sink: on_log gets the attach line (libssl: 5 of 5 functions probed), no server involved" \
  grep -q "^log openssl: .*libssl.so.*: 5 of 5 functions probed" "$OUT/embed-sink.out"
check "embed_sink: on_event gets curl's request and the response, with curl's pid and the tuple" \
  bash -c "grep -q '^event $P_SC curl 1 127.0.0.1:[0-9]* > 127.0.0.1:$HPORT [0-9]* GET /no-server HTTP/1.1' $OUT/embed-sink.out &&
           grep -q '^event $P_SC curl 3 127.0.0.1:$HPORT > 127.0.0.1:[0-9]* [0-9]* HTTP/1' $OUT/embed-sink.out"
check "embed_sink: SIGTERM ends it with its counts, nothing lost, exit 0, no sanitizer report" \
  bash -c "test $rc = 0 && grep -q '^events [1-9][0-9]* bytes [0-9]* lost 0$' $OUT/embed-sink.out && ! grep -q 'Sanitizer\|runtime error' $OUT/embed-sink.out"
