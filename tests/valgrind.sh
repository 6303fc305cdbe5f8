#!/usr/bin/env bash
# make valgrind: the long-running server scenarios under valgrind memcheck; any error
# or leak fails. Prints "ok - ..."/"not ok - ..." lines (test.sh counts them).
set -u
cd "$(dirname "$0")/.."
OUT=tests/out/valgrind
mkdir -p "$OUT" tests/bin
make -s ecaptureq >/dev/null
[ -x tests/bin/wsclients ] || cc -O2 -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -o tests/bin/wsclients tests/wsclients.c ecaptureq.c
VG=(valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --track-fds=no)
PY=/usr/bin/python3
result() { if [ "$2" = 0 ]; then echo "ok - $1"; else echo "not ok - $1 (see $3)"; fi; }
wait_log() { local i; for ((i = 0; i < 400; i++)); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# 1: gen to 3 readers and 1 stalled client, exits by itself
"${VG[@]}" ./ecaptureq gen --ecaptureq ws://127.0.0.1:0/ --events 10000 --size 1000 --wait-clients 4 \
  --client-buffer 100000 2>"$OUT/gen.log" &
vg=$!
wait_log "$OUT/gen.log" "listening on" || { echo "not ok - valgrind: gen did not start"; exit 0; }
port=$(grep -o -m1 'listening on ws://127.0.0.1:[0-9]*' "$OUT/gen.log" | grep -o '[0-9]*$')
tests/bin/wsclients 127.0.0.1 $port -c 3 -s 1 -n 10000 -t 300 >"$OUT/clients.txt"; crc=$?
wait $vg; rc=$?
result "valgrind: gen to 3 readers + a stalled one (closed 1008): all events delivered, no errors, no leaks" \
  $((rc + crc)) "$OUT/gen.log"

# 2: endless gen; raw protocol abuse, connect cycles, random bytes; then SIGTERM
"${VG[@]}" ./ecaptureq gen --ecaptureq ws://127.0.0.1:0/ --rate 200 --heartbeat 1 2>"$OUT/raw.log" &
vg=$!
wait_log "$OUT/raw.log" "listening on" || { echo "not ok - valgrind: gen did not start"; exit 0; }
port=$(grep -o -m1 'listening on ws://127.0.0.1:[0-9]*' "$OUT/raw.log" | grep -o '[0-9]*$')
$PY tests/wsraw.py 127.0.0.1 $port >"$OUT/wsraw.txt" 2>&1; r1=$?
RSS_SLACK_KIB=100000 SETTLE_SECONDS=20 $PY tests/faults.py cycles $port $vg 1000 >"$OUT/cycles.txt" 2>&1
grep -q '^ok' "$OUT/cycles.txt"; r2=$?
$PY tests/faults.py random $port $vg >"$OUT/random.txt" 2>&1
! grep -q '^not ok' "$OUT/random.txt"; r3=$?
kill -TERM $vg; wait $vg; rc=$?
result "valgrind: RFC 6455 abuse, 1,000 connect cycles, random bytes, SIGTERM: no errors, no leaks" \
  $((rc + r1 + r2 + r3)) "$OUT/raw.log"
