#!/usr/bin/env bash
# ecaptureq's tests: sudo ./test.sh
# Installs what the tests need (Debian/Ubuntu, as root), builds, then checks the real
# thing: real sockets, curl, protoc, Python websockets, real TLS programs under real
# BPF programs. Capture tests need root (they are skipped, and counted, otherwise).
# The last line is "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")"
TOP=$PWD
PY=/usr/bin/python3            # Debian's python, with python3-websockets and python3-protobuf
OUT=$TOP/tests/out
BIN=$TOP/tests/bin
PASS=0 FAIL=0 SKIP=0
PIDS=()

ok()   { PASS=$((PASS + 1)); echo "ok - $*"; }
bad()  { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
skip() { SKIP=$((SKIP + 1)); echo "skip - $*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
section() { echo; echo "# $*"; }
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

# counts a tool's "ok - ..." / "not ok - ..." lines
tally() {
  local line
  while IFS= read -r line; do
    echo "$line"
    case $line in
      "ok - "*) PASS=$((PASS + 1)) ;;
      "not ok - "*) FAIL=$((FAIL + 1)) ;;
    esac
  done
}

# wait_log FILE PATTERN [SECONDS]
wait_log() {
  local i
  for ((i = 0; i < ${3:-10} * 20; i++)); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

# start_gen NAME PORT ARGS...: $ECQ gen in the background, log in $OUT/NAME.log
ECQ=./ecaptureq
start_gen() {
  local name=$1 port=$2; shift 2
  $ECQ gen --ecaptureq "ws://127.0.0.1:$port/" "$@" 2>"$OUT/$name.log" &
  GEN_PID=$!
  PIDS+=("$GEN_PID")
  wait_log "$OUT/$name.log" "listening on" 5
}

section "setup"
if ! command -v make >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq make >/dev/null; fi
make -s deps-test || { echo "0 passed, 1 failed"; exit 1; }
rm -rf "$OUT" && mkdir -p "$OUT" "$BIN"
check "make builds with -Wall -Wextra and no warnings" \
  bash -c "rm -f ecaptureq bpf/ecaptureq.bpf.o && make -s 2>&1 | tee $OUT/build.log >/dev/null && ! grep -q 'warning:' $OUT/build.log && test -x ecaptureq"
check "the server part builds alone (no libbpf, no main) and exports only ecq_ names" make -s symbols
SAN="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
cc $SAN -Wall -Wextra -Werror -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -o "$BIN/unit" tests/unit.c ecaptureq.c &&
cc -O2 -g -Wall -Wextra -Werror -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -o "$BIN/wsclients" tests/wsclients.c ecaptureq.c &&
protoc --python_out="$OUT" --proto_path=. ecaptureq.proto || { bad "test tools build"; echo "$PASS passed, $FAIL failed, $SKIP skipped"; exit 1; }

section "unit: SHA-1, base64, accept key, UTF-8, URL, handshake, frames, protobuf (ASan+UBSan)"
tally < <("$BIN/unit" 2>&1; echo "exit $?" >"$OUT/unit.rc")
grep -q "exit 0" "$OUT/unit.rc" || bad "unit binary exits 0 (sanitizer report or failure above)"

section "protobuf against protoc"
mkdir -p "$OUT/pb"
"$BIN/unit" samples "$OUT/pb"
pdecode() { protoc --decode=event.LogEntry --proto_path=. ecaptureq.proto <"$OUT/pb/$1.bin"; }
check "protoc decodes a C-encoded event with every field" bash -c "$(declare -f pdecode); OUT=$OUT; pdecode event | tr -d '\n' | grep -q 'log_type: LOG_TYPE_EVENTevent_payload {  timestamp: 1795663888085399074  uuid: \"2785_2785_curl_5\"  src_ip: \"127.0.0.1\"  src_port: 34722  dst_ip: \"::1\"  dst_port: 8443  pid: 2785  pname: \"curl\"  type: 1  length: 27  payload: \"GET / HTTP/1.1\\\\r\\\\nHost: a\\\\r\\\\n\\\\r\\\\n\"}'"
check "protoc decodes a heartbeat (log_type 0 omitted, starts with field 3)" bash -c "OUT=$OUT; $(declare -f pdecode); pdecode heartbeat | tr -d '\n' | grep -qx 'heartbeat_payload {  timestamp: 1795663888  count: 3  message: \"heartbeat:3\"}' && head -c1 $OUT/pb/heartbeat.bin | od -An -tx1 | grep -q 1a"
check "protoc decodes negative and minimal int64" bash -c "OUT=$OUT; $(declare -f pdecode); pdecode negative | tr -d '\n' | grep -qx 'heartbeat_payload {  timestamp: -9223372036854775808  count: -1}'"
check "protoc decodes a UTF-8 run log" bash -c "OUT=$OUT; $(declare -f pdecode); pdecode runlog | grep -q 'run_log: \"caf\\\\303\\\\251 run log'"
check "protoc decodes a 2 MiB payload with maximal values and empty fields omitted" bash -c "OUT=$OUT; $(declare -f pdecode); pdecode big >$OUT/big.txt && grep -q 'timestamp: 9223372036854775807' $OUT/big.txt && grep -q 'src_port: 4294967295' $OUT/big.txt && grep -q 'length: 2097152' $OUT/big.txt && ! grep -q 'uuid\|dst_port' $OUT/big.txt && test \$(grep payload: $OUT/big.txt | wc -c) -gt 2097152"
check "protoc decodes an empty event (the oneof member is still present)" bash -c "OUT=$OUT; $(declare -f pdecode); pdecode emptyevent | tr -d '\n ' | grep -qx 'log_type:LOG_TYPE_EVENTevent_payload{}'"
printf '%s\n' 'log_type: 2' 'event_payload { timestamp: 42 uuid: "u" pid: -7 pname: "x" payload: "abc" extra_double: 2.5 extra_fixed: 9 extra_packed: [1, 2, 300] extra_sub { note: "n" } }' \
  'extra_tail: "tail" extra_fixed64: 77 extra_sint: -3' >"$OUT/ext.txt"
protoc --encode=event.LogEntry --proto_path=tests tests/extended.proto <"$OUT/ext.txt" >"$OUT/ext.bin"
check "our decoder skips unknown fields of every wire type (message from extended.proto)" \
  bash -c "$BIN/unit decode $OUT/ext.bin | tr '\n' ' ' | grep -q 'log_type=2 case=2 timestamp=42 uuid=u src=:0 dst=:0 pid=-7 pname=x type=0 length=0 payload=abc'"

section "curl handshake and refusals"
start_gen curl 29101 --rate 20 --heartbeat 1
curl -si -N --max-time 2 -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
  -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' http://127.0.0.1:29101/ >"$OUT/curl101.txt" 2>/dev/null
check "curl gets 101 with Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" \
  bash -c "head -1 $OUT/curl101.txt | grep -q '^HTTP/1.1 101' && grep -q \$'^Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\$' $OUT/curl101.txt"
check "curl then receives binary frames (replay and events)" bash -c "test \$(wc -c <$OUT/curl101.txt) -gt 400 && grep -aq 'listening on' $OUT/curl101.txt"
cstatus() { curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@"; }
H=(-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==')
check "curl: version 8 -> 426" test "$(cstatus "${H[@]}" -H 'Sec-WebSocket-Version: 8' http://127.0.0.1:29101/)" = 426
check "curl: POST -> 405" test "$(cstatus -X POST "${H[@]}" -H 'Sec-WebSocket-Version: 13' http://127.0.0.1:29101/)" = 405
check "curl: other path -> 404" test "$(cstatus "${H[@]}" -H 'Sec-WebSocket-Version: 13' http://127.0.0.1:29101/nope)" = 404
check "curl: plain GET -> 400" test "$(cstatus http://127.0.0.1:29101/)" = 400
check "curl: bad key -> 400" test "$(cstatus -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: abc' http://127.0.0.1:29101/)" = 400
check "curl: 9 KiB header -> 431" test "$(cstatus "${H[@]}" -H 'Sec-WebSocket-Version: 13' -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" http://127.0.0.1:29101/)" = 431
check "curl: foreign Origin -> 403" test "$(cstatus "${H[@]}" -H 'Sec-WebSocket-Version: 13' -H 'Origin: https://evil.example' http://127.0.0.1:29101/)" = 403
check "curl: rebinding Host -> 403" test "$(cstatus "${H[@]}" -H 'Sec-WebSocket-Version: 13' -H 'Host: evil.example:29101' http://127.0.0.1:29101/)" = 403

section "RFC 6455 over raw sockets"
tally < <($PY tests/wsraw.py 127.0.0.1 29101 2>&1)
check "the server logged each refusal and kept running" bash -c "grep -q 'refused with 431' $OUT/curl.log && kill -0 $GEN_PID"
kill $GEN_PID; wait $GEN_PID 2>/dev/null

section "command line"
./ecaptureq gen --ecaptureq ws://127.0.0.1:28257 >/dev/null 2>"$OUT/e1"; rc=$?
check "URL without trailing slash exits 2 with an example" bash -c "test $rc = 2 && test \$(wc -l <$OUT/e1) = 1 && grep -q 'ws://127.0.0.1:28257/' $OUT/e1"
./ecaptureq gen --ecaptureq http://127.0.0.1:1/ >/dev/null 2>"$OUT/e2"; rc=$?
check "other scheme exits 2" bash -c "test $rc = 2 && grep -q 'ws://' $OUT/e2"
./ecaptureq gen --ecaptureq ws://127.0.0.1:99999/ >/dev/null 2>"$OUT/e3"; rc=$?
check "bad port exits 2" bash -c "test $rc = 2 && grep -q 'port' $OUT/e3"
./ecaptureq gen --bogus >/dev/null 2>&1; rc=$?
check "unknown flag exits 2" test $rc = 2
./ecaptureq gen --events abc >/dev/null 2>&1; rc=$?
check "non-numeric --events exits 2" test $rc = 2
$PY -c 'import socket,time,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1",29102)); s.listen(); time.sleep(5)' &
PIDS+=($!); sleep 0.5
./ecaptureq gen --ecaptureq ws://127.0.0.1:29102/ >/dev/null 2>"$OUT/e4"; rc=$?
check "port in use exits 1 and says so" bash -c "test $rc = 1 && grep -qi 'in use' $OUT/e4"
for u in "ws://[::1]:29103/" "ws://localhost:29104/" "ws://0.0.0.0:29105/" "ws://[::]:29106/"; do
  timeout 1 ./ecaptureq gen --ecaptureq "$u" 2>"$OUT/bind.log" >/dev/null
  check "listens on $u" grep -qF "listening on $u" "$OUT/bind.log"
done
check "a non-loopback bind without --token warns" grep -q "warning: listening on non-loopback" "$OUT/bind.log"

section "third-party client: python3-websockets + protoc-generated python3-protobuf"
start_gen py 29110 --events 3000 --size 300 --wait-clients 1 --heartbeat 1
$PY tests/consume.py ws://127.0.0.1:29110/ --events 3000 --seconds 30 >"$OUT/py.json"
check "replay, heartbeat 0, then 3000 gen events with every field as sent" $PY tests/check_gen.py "$OUT/py.json" 3000 300
start_gen hb 29111 --heartbeat 1 --rate 10
$PY tests/consume.py ws://127.0.0.1:29111/ --seconds 4.5 >"$OUT/hb.json"
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

# The hub's scenarios; run with the release build and again with ASan+UBSan.
hub_suite() {
local tag=$1
section "hub ($tag): 1,000 clients, a stalled client, SIGTERM"
start_gen many 29120 --events 2000 --wait-clients 1000
check "$tag: 1,000 concurrent clients each receive all 2000 events in order" "$BIN/wsclients" 127.0.0.1 29120 -c 1000 -n 2000 -t 120
wait $GEN_PID; rc=$?
check "$tag: gen --events exits 0 once everything is written" test $rc = 0
start_gen stall 29121 --events 60000 --size 1000 --wait-clients 5 --client-buffer 1000000
check "$tag: a client that never reads is closed with 1008 while 4 others get all 60000 events" \
  "$BIN/wsclients" 127.0.0.1 29121 -c 4 -s 1 -n 60000 -t 120
wait $GEN_PID
check "$tag: the stalled client's close is in the run log" grep -q 'consumer too slow); closing with 1008' "$OUT/stall.log"
start_gen term 29122 --rate 10
$PY tests/consume.py ws://127.0.0.1:29122/ --seconds 10 >"$OUT/term.json" &
CPID=$!
sleep 1
kill -TERM $GEN_PID; wait $GEN_PID; rc=$?; wait $CPID
check "$tag: SIGTERM: every client gets close 1001 and the process exits 0" bash -c "test $rc = 0 && grep -q '\"closed\": 1001' $OUT/term.json"
start_gen pipe 29123 --rate 1000
for i in 1 2 3; do timeout -s KILL 0.3 $PY tests/consume.py ws://127.0.0.1:29123/ --seconds 5 >/dev/null 2>&1; done
check "$tag: clients that vanish mid-stream (SIGPIPE) do not kill the server" kill -0 $GEN_PID
kill $GEN_PID; wait $GEN_PID 2>/dev/null

}

hub_suite release

section "gen to the Python client: 100,000 events, nothing lost"
start_gen lossless 29130 --events 100000 --wait-clients 1
$PY tests/consume.py ws://127.0.0.1:29130/ --events 100000 --seconds 120 >"$OUT/100k.json"
check "100,000 events of 256 bytes, every one decoded and as sent" $PY tests/check_gen.py "$OUT/100k.json" 100000 256
wait $GEN_PID

section "ecaptureq watch"
start_gen watch 29160 --events 500 --size 200 --wait-clients 2 --rate 2000
./ecaptureq watch ws://127.0.0.1:29160/ --json >"$OUT/watch.json" 2>"$OUT/watch.err" &
W=$!
$PY tests/consume.py ws://127.0.0.1:29160/ --events 500 --seconds 30 >"$OUT/watch-py.json"
wait $GEN_PID; wait $W; rc=$?
check "watch --json gives the same field values as the protoc Python decoder (500 events)" \
  $PY tests/compare_watch.py "$OUT/watch.json" "$OUT/watch-py.json" 500
check "watch exits 0 after the server's clean close, with a summary" bash -c "test $rc = 0 && grep -q '500 events' $OUT/watch.err"
command -v jq >/dev/null && check "watch --json lines parse with jq" bash -c "jq -e -s 'map(select(.kind==\"event\")) | length == 500' $OUT/watch.json >/dev/null"
start_gen watch2 29161 --events 40 --size 100 --wait-clients 6 --rate 2000
./ecaptureq watch ws://127.0.0.1:29161/ --json --pid 1000 >"$OUT/w-pid.json" 2>/dev/null &
./ecaptureq watch ws://127.0.0.1:29161/ --json --type response >"$OUT/w-type.json" 2>/dev/null &
./ecaptureq watch ws://127.0.0.1:29161/ --json --port 40003 >"$OUT/w-port.json" 2>/dev/null &
./ecaptureq watch ws://127.0.0.1:29161/ --json --pname nobody >"$OUT/w-pname.json" 2>/dev/null &
./ecaptureq watch ws://127.0.0.1:29161/ --compact >"$OUT/w-compact.txt" 2>/dev/null &
./ecaptureq watch ws://127.0.0.1:29161/ --hex --max-payload 40 --verbose >"$OUT/w-hex.txt" 2>/dev/null &
wait $GEN_PID; sleep 1
check "watch --pid: only that pid's events" bash -c "test \$(grep -c '\"kind\":\"event\"' $OUT/w-pid.json) = 2 && ! grep '\"kind\":\"event\"' $OUT/w-pid.json | grep -qv '\"pid\":1000,'"
check "watch --type response: only type 3" bash -c "test \$(grep -c '\"kind\":\"event\"' $OUT/w-type.json) = 20 && ! grep '\"kind\":\"event\"' $OUT/w-type.json | grep -qv '\"type\":3,'"
check "watch --port: src or dst port" bash -c "test \$(grep -c '\"kind\":\"event\"' $OUT/w-port.json) = 2"
check "watch --pname: no match, no events" bash -c "! grep -q '\"kind\":\"event\"' $OUT/w-pname.json && grep -q run_log $OUT/w-pname.json"
check "watch --compact: one line per event" bash -c "test \$(grep -c ' -> ' $OUT/w-compact.txt) = 40 && test \$(grep -c 'HTTP/1.x response' $OUT/w-compact.txt) = 20"
check "watch --hex --max-payload 40 --verbose: hex dump, cut count, heartbeats" bash -c "grep -q '^  00000000  50 4f 53 54 20 2f' $OUT/w-hex.txt && grep -q '60 more bytes not shown' $OUT/w-hex.txt && grep -q 'heartbeat 0' $OUT/w-hex.txt"
check "watch prints no colour codes when not on a terminal" bash -c "! grep -q \$'\\033' $OUT/w-compact.txt $OUT/w-hex.txt"

$PY tests/ws_server.py 29162 "$OUT/pong.txt" >"$OUT/wss.out" 2>&1 &
PIDS+=($!); wait_log "$OUT/wss.out" ready 10
./ecaptureq watch ws://127.0.0.1:29162/ --json >"$OUT/w-3p.json" 2>"$OUT/w-3p.err"; rc=$?
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
$PY tests/ws_server.py 29163 "$OUT/pong2.txt" >"$OUT/wss2.out" 2>&1 &
PIDS+=($!); wait_log "$OUT/wss2.out" ready 10
./ecaptureq watch ws://127.0.0.1:29163/ --no-color >"$OUT/w-3p.txt" 2>&1
check "watch shows a binary payload as a hex dump with an ASCII column" grep -q '^  00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|' "$OUT/w-3p.txt"
check "watch cuts a 1 MiB payload at --max-payload and says how much" grep -q '1047552 more bytes not shown' "$OUT/w-3p.txt"
$PY tests/ws_server.py 29164 x --bad-accept >"$OUT/bad.out" 2>&1 &
PIDS+=($!); wait_log "$OUT/bad.out" ready 10
./ecaptureq watch ws://127.0.0.1:29164/ >/dev/null 2>"$OUT/bad.err"; rc=$?
check "watch refuses a wrong Sec-WebSocket-Accept: exit 1 with the reason" bash -c "test $rc = 1 && grep -q 'Sec-WebSocket-Accept does not match' $OUT/bad.err"
./ecaptureq gen --ecaptureq "ws://[::1]:29165/" --events 10 --wait-clients 1 2>"$OUT/v6.log" &
G6=$!; wait_log "$OUT/v6.log" "listening on" 5
./ecaptureq watch "ws://[::1]:29165/" --json >"$OUT/w-v6.json" 2>/dev/null
check "watch over IPv6" test "$(grep -c '"kind":"event"' "$OUT/w-v6.json")" = 10
wait $G6
start_gen tok 29166 --token t0k --rate 10
./ecaptureq watch ws://127.0.0.1:29166/ >/dev/null 2>"$OUT/w-tok.err"; rc=$?
check "watch without the token: exit 1, the server's 401 shown" bash -c "test $rc = 1 && grep -q '401' $OUT/w-tok.err"
timeout --preserve-status -s INT 2 ./ecaptureq watch ws://127.0.0.1:29166/ --token t0k --json >"$OUT/w-tok.json" 2>/dev/null; rc=$?
check "watch --token: accepted; Ctrl-C ends it with exit 0" bash -c "test $rc = 0 && grep -q '\"kind\":\"event\"' $OUT/w-tok.json"
kill $GEN_PID; wait $GEN_PID 2>/dev/null
./ecaptureq watch ws://127.0.0.1:29167/ --reconnect --json >"$OUT/w-re.json" 2>"$OUT/w-re.err" &
W=$!
sleep 1
start_gen re1 29167 --rate 20
sleep 1.5; kill $GEN_PID; wait $GEN_PID 2>/dev/null
start_gen re2 29167 --rate 20
sleep 2.5
kill -INT $W; wait $W; rc=$?
P1=$(grep -o 'pid [0-9]*' "$OUT/re1.log" | head -1); P2=$(grep -o 'pid [0-9]*' "$OUT/re2.log" | head -1)
check "watch --reconnect: waits for the server, follows it across a restart, says so on stderr" \
  bash -c "test $rc = 0 && grep -q 'mode gen, $P1' $OUT/w-re.json && grep -q 'mode gen, $P2' $OUT/w-re.json && grep -q 'reconnecting in' $OUT/w-re.err"
kill $GEN_PID; wait $GEN_PID 2>/dev/null
start_gen lost 29168 --rate 20
./ecaptureq watch ws://127.0.0.1:29168/ >/dev/null 2>"$OUT/w-lost.err" &
W=$!; sleep 1; kill -9 $GEN_PID; wait $W; rc=$?
check "watch without --reconnect: a lost connection exits 1 with the reason" bash -c "test $rc = 1 && grep -q 'connection lost' $OUT/w-lost.err"

section "robustness: fuzzing, valgrind, faults, sanitizers"
tally < <(make -s fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-15} 2>&1)
tally < <(make -s valgrind 2>&1)
start_gen faults 29140 --rate 100
tally < <($PY tests/faults.py cycles 29140 $GEN_PID 2>&1)
tally < <($PY tests/faults.py random 29140 $GEN_PID 2>&1)
kill $GEN_PID; wait $GEN_PID 2>/dev/null
prlimit --nofile=40:40 ./ecaptureq gen --ecaptureq ws://127.0.0.1:29141/ --rate 100 2>"$OUT/emfile.log" &
GEN_PID=$!; PIDS+=($GEN_PID); wait_log "$OUT/emfile.log" "listening on" 5
tally < <($PY tests/faults.py emfile 29141 $GEN_PID 2>&1)
check "EMFILE is logged (not once per retry), and the recovery" bash -c "test \$(grep -c 'Too many open files' $OUT/emfile.log) = 1 && grep -q 'accepting connections again' $OUT/emfile.log"
kill $GEN_PID; wait $GEN_PID 2>/dev/null
echo s3cret-token >"$OUT/token"
start_gen limits 29142 --handshake-timeout 500 --token-file "$OUT/token"
tally < <($PY tests/faults.py slow 29142 2>&1)
tally < <($PY tests/faults.py token 29142 s3cret-token 2>&1)
kill $GEN_PID; wait $GEN_PID 2>/dev/null
check "the token never appears in the run log" bash -c "! grep -q s3cret $OUT/limits.log"
start_gen full 29143 --max-clients 3
tally < <($PY tests/faults.py full 29143 3 2>&1)
kill $GEN_PID; wait $GEN_PID 2>/dev/null

cc $SAN -Wall -Wextra -DECAPTUREQ_NO_BPF -o "$BIN/ecaptureq-asan" ecaptureq.c
ECQ=$BIN/ecaptureq-asan
start_gen asan-raw 29150 --rate 50
tally < <($PY tests/wsraw.py 127.0.0.1 29150 2>&1 | sed 's/^\(not \)\{0,1\}ok - /&asan: /')
kill -TERM $GEN_PID; wait $GEN_PID; rc=$?
check "asan: server exits 0 after the raw abuse" test $rc = 0
hub_suite asan
check "asan: no sanitizer report in any server log" bash -c "! grep -l 'Sanitizer\|runtime error' $OUT/*.log"
ECQ=./ecaptureq

if [ -f tests/capture.sh ]; then
  section "TLS capture with BPF"
  if [ "$(id -u)" = 0 ]; then
    source tests/capture.sh
  else
    skip "capture tests need root"
  fi
fi

echo
echo "$PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" = 0 ]
