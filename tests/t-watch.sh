# ecaptureq watch against gen, a third-party Python server and broken servers
section "ecaptureq watch"
start_gen watch --events 500 --size 200 --wait-clients 2 --rate 2000
./ecaptureq watch ws://127.0.0.1:$PORT/ --json >"$OUT/watch.json" 2>"$OUT/watch.err" &
W=$!
$PY tests/consume.py ws://127.0.0.1:$PORT/ --events 500 --seconds 30 >"$OUT/watch-py.json"
wait $GEN_PID; wait $W; rc=$?
check "watch --json gives the same field values as the protoc Python decoder (500 events)" \
  $PY tests/compare_watch.py "$OUT/watch.json" "$OUT/watch-py.json" 500
check "watch exits 0 after the server's clean close, with a summary" bash -c "test $rc = 0 && grep -q '500 events' $OUT/watch.err"
check "watch --json lines parse with jq" bash -c "jq -e -s 'map(select(.kind==\"event\")) | length == 500' $OUT/watch.json >/dev/null"
# jq (1.6, Debian 12) holds numbers as doubles: the nanosecond number loses its last
# digits, the "time" string beside it carries them all (issue 25)
check "watch --json: jq reads \"time\" exactly, the UTC form of every event's and heartbeat's integer timestamp" bash -c "
  grep '\"kind\":\"event\"' $OUT/watch.json | grep -o '\"timestamp\":[0-9]*' | cut -d: -f2 | while read -r t; do
    printf '%s.%09dZ\\n' \"\$(date -u -d @\$((t / 1000000000)) +%Y-%m-%dT%H:%M:%S)\" \$((t % 1000000000)); done >$OUT/time.want
  grep '\"kind\":\"heartbeat\"' $OUT/watch.json | grep -o '\"timestamp\":[0-9]*' | cut -d: -f2 | while read -r t; do
    date -u -d @\$t +%Y-%m-%dT%H:%M:%SZ; done >>$OUT/time.want
  { jq -r 'select(.kind==\"event\") | .time' $OUT/watch.json; jq -r 'select(.kind==\"heartbeat\") | .time' $OUT/watch.json; } >$OUT/time.got
  test \$(grep -c . $OUT/time.want) -gt 500 && cmp -s $OUT/time.want $OUT/time.got"
start_gen watch2 --events 40 --size 100 --wait-clients 6 --rate 2000
./ecaptureq watch ws://127.0.0.1:$PORT/ --json --pid 1000 >"$OUT/w-pid.json" 2>/dev/null &
./ecaptureq watch ws://127.0.0.1:$PORT/ --json --type response >"$OUT/w-type.json" 2>/dev/null &
./ecaptureq watch ws://127.0.0.1:$PORT/ --json --port 40003 >"$OUT/w-port.json" 2>/dev/null &
./ecaptureq watch ws://127.0.0.1:$PORT/ --json --pname nobody >"$OUT/w-pname.json" 2>/dev/null &
./ecaptureq watch ws://127.0.0.1:$PORT/ --compact >"$OUT/w-compact.txt" 2>/dev/null &
./ecaptureq watch ws://127.0.0.1:$PORT/ --hex --max-payload 40 --verbose >"$OUT/w-hex.txt" 2>/dev/null &
wait $GEN_PID; sleep 1
check "watch --pid: only that pid's events" bash -c "test \$(grep -c '\"kind\":\"event\"' $OUT/w-pid.json) = 2 && ! grep '\"kind\":\"event\"' $OUT/w-pid.json | grep -qv '\"pid\":1000,'"
check "watch --type response: only type 3" bash -c "test \$(grep -c '\"kind\":\"event\"' $OUT/w-type.json) = 20 && ! grep '\"kind\":\"event\"' $OUT/w-type.json | grep -qv '\"type\":3,'"
check "watch --port: src or dst port" bash -c "test \$(grep -c '\"kind\":\"event\"' $OUT/w-port.json) = 2"
check "watch --pname: no match, no events" bash -c "! grep -q '\"kind\":\"event\"' $OUT/w-pname.json && grep -q run_log $OUT/w-pname.json"
check "watch --compact: one line per event" bash -c "test \$(grep -c ' -> ' $OUT/w-compact.txt) = 40 && test \$(grep -c 'HTTP/1.x response' $OUT/w-compact.txt) = 20"
check "watch --hex --max-payload 40 --verbose: hex dump, cut count, heartbeats" bash -c "grep -q '^  00000000  50 4f 53 54 20 2f' $OUT/w-hex.txt && grep -q '60 more bytes not shown' $OUT/w-hex.txt && grep -q 'heartbeat 0' $OUT/w-hex.txt"
check "watch prints no colour codes when not on a terminal" bash -c "! grep -q \$'\\033' $OUT/w-compact.txt $OUT/w-hex.txt"

start_ready wss $PY tests/ws_server.py 0 "$OUT/pong.txt"
./ecaptureq watch ws://127.0.0.1:$HPORT/ --json >"$OUT/w-3p.json" 2>"$OUT/w-3p.err"; rc=$?
check "watch against a third-party Python server: unset fields, unknown fields, a fragmented 1 MiB message" $PY - "$OUT/w-3p.json" <<'PYEOF'
import base64, json, sys
d = [json.loads(l) for l in open(sys.argv[1])]
ev = [x for x in d if x["kind"] == "event"]
ok = [x["kind"] for x in d] == ["run_log", "event", "event", "event", "heartbeat"]
ok = ok and d[0]["run_log"] == "third-party server log \u20ac"
ok = ok and ev[0]["pid"] == 0 and base64.b64decode(ev[0]["payload"]) == b"only a payload, as eCapture sends"
ok = ok and ev[1]["pname"] == "binproc" and ev[1]["dst_ip"] == "::1" and base64.b64decode(ev[1]["payload"]) == bytes(range(256)) + b"\0" * 44
ok = ok and ev[2]["length"] == 1 << 20 and base64.b64decode(ev[2]["payload"]) == b"B" * (1 << 20)
ok = ok and d[4]["count"] == 5
sys.exit(0 if ok else 1)
PYEOF
check "watch answers the server's ping, and exits 0 on its close" bash -c "grep -q 'pong ok' $OUT/pong.txt && test $rc = 0"
check "watch reports a message that does not decode (offset, reason) and goes on" grep -q "does not decode: length past end at offset" "$OUT/w-3p.err"
start_ready wss2 $PY tests/ws_server.py 0 "$OUT/pong2.txt"
./ecaptureq watch ws://127.0.0.1:$HPORT/ --no-color >"$OUT/w-3p.txt" 2>&1
check "watch shows a binary payload as a hex dump with an ASCII column" grep -q '^  00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|' "$OUT/w-3p.txt"
check "watch cuts a 1 MiB payload at --max-payload and says how much" grep -q '1047552 more bytes not shown' "$OUT/w-3p.txt"
start_ready bad $PY tests/ws_server.py 0 x --bad-accept
./ecaptureq watch ws://127.0.0.1:$HPORT/ >/dev/null 2>"$OUT/bad.err"; rc=$?
check "watch refuses a wrong Sec-WebSocket-Accept: exit 1 with the reason" bash -c "test $rc = 1 && grep -q 'Sec-WebSocket-Accept does not match' $OUT/bad.err"
start_srv v6 "ws://[::1]:0/" --events 10 --wait-clients 1
./ecaptureq watch "ws://[::1]:$PORT/" --json >"$OUT/w-v6.json" 2>/dev/null
check "watch over IPv6" test "$(grep -c '"kind":"event"' "$OUT/w-v6.json")" = 10
wait $GEN_PID
start_gen tok --token t0k --rate 10
./ecaptureq watch ws://127.0.0.1:$PORT/ >/dev/null 2>"$OUT/w-tok.err"; rc=$?
check "watch without the token: exit 1, the server's 401 shown" bash -c "test $rc = 1 && grep -q '401' $OUT/w-tok.err"
timeout --preserve-status -s INT 2 ./ecaptureq watch ws://127.0.0.1:$PORT/ --token t0k --json >"$OUT/w-tok.json" 2>/dev/null; rc=$?
check "watch --token: accepted; Ctrl-C ends it with exit 0" bash -c "test $rc = 0 && grep -q '\"kind\":\"event\"' $OUT/w-tok.json"
printf 't0k\n' >"$OUT/w-tok.txt"
timeout --preserve-status -s INT 2 ./ecaptureq watch ws://127.0.0.1:$PORT/ --token-file "$OUT/w-tok.txt" --json >"$OUT/w-tokf.json" 2>/dev/null; rc=$?
ECAPTUREQ_TOKEN=t0k timeout --preserve-status -s INT 2 ./ecaptureq watch ws://127.0.0.1:$PORT/ --json >"$OUT/w-toke.json" 2>/dev/null; rc2=$?
check "watch --token-file and \$ECAPTUREQ_TOKEN: the token without putting it in /proc/PID/cmdline" \
  bash -c "test $rc = 0 && test $rc2 = 0 && grep -q '\"kind\":\"event\"' $OUT/w-tokf.json && grep -q '\"kind\":\"event\"' $OUT/w-toke.json"
kill $GEN_PID; wait $GEN_PID 2>/dev/null
RP=$(free_port)
./ecaptureq watch ws://127.0.0.1:$RP/ --reconnect --json >"$OUT/w-re.json" 2>"$OUT/w-re.err" &
W=$!
sleep 1
start_srv re1 ws://127.0.0.1:$RP/ --rate 20
sleep 1.5; kill $GEN_PID; wait $GEN_PID 2>/dev/null
start_srv re2 ws://127.0.0.1:$RP/ --rate 20
sleep 2.5
kill -INT $W; wait $W; rc=$?
P1=$(grep -o 'pid [0-9]*' "$OUT/re1.log" | head -1); P2=$(grep -o 'pid [0-9]*' "$OUT/re2.log" | head -1)
check "watch --reconnect: waits for the server, follows it across a restart, says so on stderr" \
  bash -c "test $rc = 0 && grep -q 'mode gen, $P1' $OUT/w-re.json && grep -q 'mode gen, $P2' $OUT/w-re.json && grep -q 'reconnecting in' $OUT/w-re.err"
kill $GEN_PID; wait $GEN_PID 2>/dev/null
start_gen lost --rate 20
./ecaptureq watch ws://127.0.0.1:$PORT/ >/dev/null 2>"$OUT/w-lost.err" &
W=$!; sleep 1; kill -9 $GEN_PID; wait $W; rc=$?
check "watch without --reconnect: a lost connection exits 1 with the reason" bash -c "test $rc = 1 && grep -q 'connection lost' $OUT/w-lost.err"


# a hostile server: escapes in every string, timestamps before 1970, strings that are not UTF-8
for m in text compact json; do
  start_ready "evil-$m" $PY tests/evil_server.py inject || continue
  case $m in text) f=--no-color ;; compact) f=--compact ;; json) f=--json ;; esac
  TZ=UTC timeout 10 ./ecaptureq watch ws://127.0.0.1:$HPORT/ $f --verbose >"$OUT/evil-$m.out" 2>"$OUT/evil-$m.err"
done
check "watch text and compact modes: no ESC, BEL or C1 control from the server reaches the terminal (shown as \\xNN, \\uXXXX)" \
  $PY - "$OUT/evil-text.out" "$OUT/evil-text.err" "$OUT/evil-compact.out" "$OUT/evil-compact.err" <<'PYEOF'
import sys
blobs = [open(p, "rb").read() for p in sys.argv[1:]]
out = b"".join(blobs)
ok = all(b not in out for b in (b"\x1b", b"\x07", b"\xc2\x9b"))
ok = ok and b"\\x1b[5mevil" in blobs[0] and b"\\x1b]0;pwned" in blobs[0] and b"\\u009b31mbeat" in blobs[0]
ok = ok and b"\\x1b[5mevil" in blobs[2] and b"CSI \\u009b2J" in blobs[2]
sys.exit(0 if ok else 1)
PYEOF
check "watch prints times before 1970 right: -1 ns is 1969-12-31 23:59:59.999999, INT64_MIN 1677-09-21 00:12:43.145224" \
  bash -c "grep -q '1969-12-31 23:59:59.999999' $OUT/evil-text.out && grep -q '1677-09-21 00:12:43.145224' $OUT/evil-text.out"
check "watch --json \"time\" before 1970 and at the edges: -1 ns, INT64_MIN ns, heartbeat second 1, null past year 9999" \
  bash -c "jq -r 'select(.kind==\"event\" or .kind==\"heartbeat\") | .time' $OUT/evil-json.out | tr '\\n' ' ' |
  grep -qx '1970-01-01T00:00:01Z null 1969-12-31T23:59:59.999999999Z 1677-09-21T00:12:43.145224192Z 1970-01-01T00:00:00.000000001Z '"
check "watch --json is valid UTF-8 JSON even for 5,000-byte strings that are not UTF-8" $PY - "$OUT/evil-json.out" <<'PYEOF'
import json, sys
lines = open(sys.argv[1], "rb").read().decode("utf-8").splitlines()   # strict: raises on invalid UTF-8
d = [json.loads(l) for l in lines]
long = [x for x in d if x.get("kind") == "event" and len(x.get("pname", "")) > 4000]
sys.exit(0 if long and "\ufffd" in long[0]["pname"] and "é" in long[0]["pname"] else 1)
PYEOF
# names that pass for others: bidi overrides, invisible characters, C1 controls (issue 20)
for m in text compact json; do
  start_ready "spoof-$m" $PY tests/evil_server.py spoof || continue
  case $m in text) f=--no-color ;; compact) f=--compact ;; json) f=--json ;; esac
  unpriv ./ecaptureq watch ws://127.0.0.1:$HPORT/ $f --verbose >"$OUT/spoof-$m.out" 2>"$OUT/spoof-$m.err"
done
check "watch text and compact modes: bidi controls, invisible and C1 characters are shown as \\uXXXX, never raw" \
  $PY - "$OUT/spoof-text.out" "$OUT/spoof-compact.out" <<'PYEOF'
import sys
hidden = [chr(c) for c in list(range(0x80, 0xa0)) + list(range(0x202a, 0x202f)) + list(range(0x2066, 0x206a))]
hidden += ["\u200b", "\u200f", "\ufeff", "\u061c", "\U000e0041"]
text, compact = (open(p, "rb").read().decode("utf-8") for p in sys.argv[1:])
ok = not any(h in text or h in compact for h in hidden)
for want in ("sshd\\u202eexe.txt\\U000e0041", "\\u2066uuid\\u2069", "10.0.0.1\\u200b:1 -> 10.0.0.2\\u200f:2",
             "log \\u202a\\u202b\\u202c\\u202d\\u202eend", "beat \\u2066\\u2067\\u2068\\u2069 \\u0080\\u0085\\u009f",
             "GET /\\u202egpj.exe HTTP/1.1\nX: \\ufeff\\u2067\\u061c", "c1\\u0080\\u009b\\u0085"):
    ok = ok and want in text
ok = ok and "sshd\\u202eexe.txt\\U000e0041" in compact and '"GET /\\u202egpj.exe' in compact
sys.exit(0 if ok else 1)
PYEOF
check "watch --json: C1 controls (and bidi, invisible characters) escaped as \\u0080 etc., the strings intact" \
  $PY - "$OUT/spoof-json.out" <<'PYEOF'
import json, sys
raw = open(sys.argv[1], "rb").read()
ok = not any(bytes([0xc2, b]) in raw for b in range(0x80, 0xa0)) and b"\xe2\x80\xae" not in raw and b"\xf3\xa0" not in raw
d = [json.loads(l) for l in raw.decode("utf-8").splitlines()]
ev = [x for x in d if x["kind"] == "event"]
hb = [x for x in d if x["kind"] == "heartbeat"]
ok = ok and b'"pname":"c1\\u0080\\u009b\\u0085"' in raw and b"\\u202e" in raw and b"\\udb40\\udc41" in raw
ok = ok and len(ev) == 2 and ev[0]["pname"] == "sshd\u202eexe.txt\U000e0041" and ev[1]["pname"] == "c1\u0080\u009b\u0085"
ok = ok and hb and hb[0]["message"] == "beat \u2066\u2067\u2068\u2069 \u0080\u0085\u009f"
sys.exit(0 if ok else 1)
PYEOF

for m in noupgrade noconnection extension protocol; do
  start_ready "evil-$m" $PY tests/evil_server.py $m || continue
  timeout 10 ./ecaptureq watch ws://127.0.0.1:$HPORT/ >/dev/null 2>"$OUT/evil-$m.err"; rc=$?
  check "watch fails the connection on a 101 with $m (RFC 6455 §4.1): exit 1 and a clear line" \
    bash -c "test $rc = 1 && grep -q 'RFC 6455 §4.1' $OUT/evil-$m.err"
done

# Ctrl-C in every state, bounds, liveness
for m in silent pingflood; do
  start_ready "evil-$m" $PY tests/evil_server.py $m || continue
  ./ecaptureq watch ws://127.0.0.1:$HPORT/ >/dev/null 2>"$OUT/evil-$m.err" & W=$!
  sleep 1.5
  t0=$(date +%s%N); kill -INT $W; wait $W; rc=$?; t1=$(date +%s%N)
  ms=$(( (t1 - t0) / 1000000 ))
  check "watch against a server that is $m: Ctrl-C ends it in $ms ms, exit 0" bash -c "test $rc = 0 && test $ms -lt 1000"
  kill $HPID 2>/dev/null; wait $HPID 2>/dev/null
done
start_ready evil-big $PY tests/evil_server.py big && {
  timeout 10 ./ecaptureq watch ws://127.0.0.1:$HPORT/ >/dev/null 2>"$OUT/evil-big.err"; rc=$?
  check "watch: a message announced at 100 MB is refused at once (--max-message, default 16 MiB): close 1009, exit 1" \
    bash -c "test $rc = 1 && grep -q 'over --max-message 16777216 bytes (closed with 1009)' $OUT/evil-big.err"
}
start_ready evil-mute $PY tests/evil_server.py mute && {
  timeout 10 ./ecaptureq watch ws://127.0.0.1:$HPORT/ --idle-timeout 1 >/dev/null 2>"$OUT/evil-mute.err"; rc=$?
  check "watch --idle-timeout 1: a server gone silent gets a ping, then the connection counts as lost (exit 1)" \
    bash -c "test $rc = 1 && grep -q 'no answer to a ping' $OUT/evil-mute.err"
  kill $HPID 2>/dev/null; wait $HPID 2>/dev/null
}

section "watch --pcapng: the stream as synthetic TCP, read by Debian's tshark"
start_gen pcap --events 40 --size 100000 --wait-clients 2
./ecaptureq watch ws://127.0.0.1:$PORT/ --pcapng "$OUT/gen.pcapng" >"$OUT/w-pcap.txt" 2>"$OUT/w-pcap.err" & W=$!
./ecaptureq watch ws://127.0.0.1:$PORT/ --json >"$OUT/w-pcap.json" 2>/dev/null
wait $GEN_PID; wait $W; rc=$?
check "watch --pcapng FILE: exit 0, and the events still shown on stdout" bash -c "test $rc = 0 && grep -q 'POST /items/0' $OUT/w-pcap.txt"
tally < <($PY tests/check_pcapng.py gen "$OUT/gen.pcapng" "$OUT/w-pcap.json")
tally < <($PY tests/check_pcapng.py clean "$OUT/gen.pcapng")
start_ready wss3 $PY tests/ws_server.py 0 "$OUT/pong3.txt" && {
  ./ecaptureq watch ws://127.0.0.1:$HPORT/ --pcapng "$OUT/3p.pcapng" >/dev/null 2>&1
  tally < <($PY tests/check_pcapng.py madeup "$OUT/3p.pcapng")
}
# live: the file on stdout, a batch at a time, into tshark -i - while the stream is open
start_gen live --events 6 --size 300 --wait-clients 1 --stay
./ecaptureq watch --pcapng - ws://127.0.0.1:$PORT/ 2>"$OUT/w-live.err" |
  tshark -l -i - -d tcp.port==443,http -T fields -e frame.interface_id -e http.request.uri >"$OUT/w-live.txt" 2>"$OUT/tshark-live.err" &
TS=$!
wait_log "$OUT/w-live.txt" "/items/4" 20
check "watch --pcapng - | tshark -i -: requests dissected live, while the stream is still open" \
  bash -c "grep -q '/items/0' $OUT/w-live.txt && grep -q '/items/4' $OUT/w-live.txt && kill -0 $GEN_PID"
kill -TERM $GEN_PID; wait $GEN_PID 2>/dev/null; wait $TS
check "the live run log went to tshark on interface 1" grep -q '^1' "$OUT/w-live.txt"
./ecaptureq watch --pcapng /nonexistent/dir/x.pcapng ws://127.0.0.1:9/ >/dev/null 2>"$OUT/w-pcap-bad.err"; rc=$?
check "watch --pcapng into a directory that does not exist: exit 1, one line" \
  bash -c "test $rc = 1 && test \$(wc -l <$OUT/w-pcap-bad.err) = 1 && grep -q 'No such file' $OUT/w-pcap-bad.err"

section "watch decodes HTTP/2 (issue 21): frames, HPACK, gRPC, mid-connection; --hex keeps bytes"
built h2_stream || bad "h2_stream builds (tests/prebuild.sh)"
start_ready h2s "$BIN/h2_stream" 2 && {
  ./ecaptureq watch ws://127.0.0.1:$HPORT/ --hex >"$OUT/w-h2-hex.txt" 2>/dev/null &
  W2=$!
  ./ecaptureq watch ws://127.0.0.1:$HPORT/ >"$OUT/w-h2.txt" 2>"$OUT/w-h2.err"
  wait $W2
  W="$OUT/w-h2.txt"
  check "watch: the preface, SETTINGS with its values, a request's HEADERS decoded (RFC 7541 C.4.1, Huffman)" \
    bash -c "grep -q '^  connection preface (the client)' $W && grep -q '^    HEADER_TABLE_SIZE=4096 MAX_CONCURRENT_STREAMS=100' $W &&
             grep -A4 '^  HEADERS stream 1, 17 bytes, END_STREAM END_HEADERS' $W | tr '\n' '|' | grep -q ':method: GET|    :scheme: http|    :path: /|    :authority: www.example.com|'"
  check "watch: a frame header read alone (9 bytes), its payload in the next read: the header list under that read" \
    bash -c "grep -A1 'HTTP/2 response 9 bytes' $W | grep -q 'HEADERS stream 1, 13 bytes, END_HEADERS' && grep -A2 'unknown 13 bytes' $W | tr '\n' '|' | grep -q ':status: 200|    content-type: text/plain|'"
  check "watch: DATA as text" bash -c "grep -A1 'DATA stream 1, 14 bytes, END_STREAM' $W | grep -q '^    hello from h2'"
  check "watch: gRPC: :path as the method, messages split over DATA frames as schema-less protobuf, grpc-status" \
    bash -c "grep -q ':path: /echo.Echo/Say' $W && test \$(grep -c 'gRPC message 14 bytes: 1: \"hello\" 2: 150 3 {1: 7}' $W) = 2 && grep -q '^    grpc-status: 0' $W"
  check "watch attached mid-connection: a table entry never seen is unknown (said so), the literal after it decoded" \
    bash -c "grep -q '?: ?  (unknown: table entry 62 was sent before watch attached)' $W && grep -q '^    x-after: attach' $W"
  check "watch --hex keeps the raw bytes (the preface in hex)" \
    bash -c "grep -q '^  00000000  50 52 49 20 2a 20 48 54  54 50 2f 32 2e 30 0d 0a' $OUT/w-h2-hex.txt && ! grep -q ':authority' $OUT/w-h2-hex.txt"
}

section "watch --http: one block per exchange (HTTP/2, gRPC, HTTP/1.1 pipelined, chunked, gzip); --json; --status/--method/--path"
start_ready h2x "$BIN/h2_stream" 4 && {
  ./ecaptureq watch ws://127.0.0.1:$HPORT/ --http --json >"$OUT/w-http.json" 2>/dev/null &
  WJ=$!
  ./ecaptureq watch ws://127.0.0.1:$HPORT/ --http --status 404 >"$OUT/w-http-404.txt" 2>/dev/null &
  WS=$!
  ./ecaptureq watch ws://127.0.0.1:$HPORT/ --http --method post --path Echo --json >"$OUT/w-http-post.json" 2>/dev/null &
  WP=$!
  ./ecaptureq watch ws://127.0.0.1:$HPORT/ --http >"$OUT/w-http.txt" 2>/dev/null
  wait $WJ $WS $WP
  X="$OUT/w-http.txt"
  check "watch --http: GET / -> 200 over HTTP/2 with both header lists and the body" \
    bash -c "grep -A9 'HTTP/2 stream 1 h2_a' $X | tr '\n' '|' | grep -q '^[^|]*|GET / -> 200 .*|  > :authority: www.example.com|  < :status: 200|  < content-type: text/plain|  <|  < hello from h2|'"
  check "watch --http: gRPC: the method from :path, grpc-status, both messages as protobuf text" \
    bash -c "grep -q '^POST /echo.Echo/Say -> 200  grpc-status 0 ' $X && test \$(grep -c '  [<>] message: 1: \"hello\" 2: 150 3 {1: 7}' $X) = 2"
  check "watch --http: HTTP/1.1 pipelined requests answered in order, a chunked body joined, a gzip body inflated" \
    bash -c "grep -A5 '^GET /one -> 200 ' $X | grep -q '  < first reply' && grep -A6 '^GET /two -> 404 ' $X | grep -q '  < second reply, gzip-compressed on the wire, inflated by watch'"
  check "watch --http --json: one object per exchange (4), fields as in the text" $PY - "$OUT/w-http.json" <<'PYEOF'
import json, sys
x = [d for d in map(json.loads, open(sys.argv[1])) if d["kind"] == "exchange"]
ok = [(d["protocol"], d["method"], d["path"], d["status"]) for d in x] == [
    ("HTTP/2", "GET", "/", 200), ("HTTP/2", "POST", "/echo.Echo/Say", 200), ("HTTP/1.1", "GET", "/one", 200), ("HTTP/1.1", "GET", "/two", 404)]
ok = ok and x[0]["response_body"] == "hello from h2\n" and [":authority", "www.example.com"] in x[0]["request_headers"]
ok = ok and x[1]["grpc_status"] == 0 and x[3]["response_body"].startswith("second reply") and x[3]["response_bytes"] > 0
sys.exit(0 if ok else 1)
PYEOF
  check "watch --http --status 404: only that exchange" bash -c "grep -c '^[A-Z]* /.* -> [0-9]*  ' $OUT/w-http-404.txt | grep -qx 1 && grep -q '^GET /two -> 404' $OUT/w-http-404.txt"
  check "watch --http --method post --path Echo: only the gRPC call" \
    bash -c "test \$(grep -c '\"kind\":\"exchange\"' $OUT/w-http-post.json) = 1 && grep -q '\"path\":\"/echo.Echo/Say\"' $OUT/w-http-post.json"
}
