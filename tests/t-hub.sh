# the hub under load and abuse, with the release build and again with ASan+UBSan
# The hub's scenarios; run with the release build and again with ASan+UBSan.
hub_suite() {
local tag=$1
section "hub ($tag): 1,000 clients, a stalled client, SIGTERM"
start_gen many --events 2000 --wait-clients 1000
check "$tag: 1,000 concurrent clients each receive all 2000 events in order" "$BIN/wsclients" 127.0.0.1 $PORT -c 1000 -n 2000 -t 120
wait $GEN_PID; rc=$?
check "$tag: gen --events exits 0 once everything is written" test $rc = 0
start_gen stall --events 60000 --size 1000 --wait-clients 5 --client-buffer 1000000
check "$tag: a client that never reads is closed with 1008 while 4 others get all 60000 events" \
  "$BIN/wsclients" 127.0.0.1 $PORT -c 4 -s 1 -n 60000 -t 120
wait $GEN_PID
check "$tag: the stalled client's close is in the run log" grep -q 'consumer too slow); closing with 1008' "$OUT/stall.log"
start_gen term --rate 10
$PY tests/consume.py ws://127.0.0.1:$PORT/ --seconds 10 >"$OUT/term.json" &
CPID=$!
sleep 1
kill -TERM $GEN_PID; wait $GEN_PID; rc=$?; wait $CPID
check "$tag: SIGTERM: every client gets close 1001 and the process exits 0" bash -c "test $rc = 0 && grep -q '\"closed\": 1001' $OUT/term.json"
start_gen pipe --rate 1000
for i in 1 2 3; do timeout -s KILL 0.3 $PY tests/consume.py ws://127.0.0.1:$PORT/ --seconds 5 >/dev/null 2>&1; done
check "$tag: clients that vanish mid-stream (SIGPIPE) do not kill the server" kill -0 $GEN_PID
kill $GEN_PID; wait $GEN_PID 2>/dev/null

}

hub_suite release

built ecaptureq-asan || bad "the ASan+UBSan server builds (tests/prebuild.sh)"
ECQ=$BIN/ecaptureq-asan
start_gen asan-raw --rate 50
tally < <(unpriv $PY tests/wsraw.py 127.0.0.1 $PORT 2>&1 | sed 's/^\(not \)\{0,1\}ok - /&asan: /')
kill -TERM $GEN_PID; wait $GEN_PID; rc=$?
check "asan: server exits 0 after the raw abuse" test $rc = 0
hub_suite asan
check "asan: no sanitizer report in any server log" bash -c "! grep -l 'Sanitizer\|runtime error' $OUT/*.log"
ECQ=./ecaptureq

