# fuzzers, valgrind, fault injection against gen
section "robustness: fuzzing, valgrind, faults, sanitizers"
tally < <(make -s fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-4} 2>&1)
tally < <(make -s valgrind 2>&1)
start_gen faults --rate 100
tally < <($PY tests/faults.py cycles $PORT $GEN_PID 2>&1)
tally < <($PY tests/faults.py random $PORT $GEN_PID 2>&1)
kill $GEN_PID; wait $GEN_PID 2>/dev/null
ECQ="prlimit --nofile=40:40 ./ecaptureq" start_gen emfile --rate 100
tally < <($PY tests/faults.py emfile $PORT $GEN_PID 2>&1)
check "EMFILE is logged (not once per retry), and the recovery" bash -c "test \$(grep -c 'Too many open files' $OUT/emfile.log) = 1 && grep -q 'accepting connections again' $OUT/emfile.log"
kill $GEN_PID; wait $GEN_PID 2>/dev/null
echo s3cret-token >"$OUT/token"
start_gen limits --handshake-timeout 500 --token-file "$OUT/token"
tally < <(unpriv $PY tests/faults.py slow $PORT 2>&1)
tally < <(unpriv $PY tests/faults.py token $PORT s3cret-token 2>&1)
tally < <(unpriv $PY tests/faults.py gui $PORT s3cret-token 2>&1)
kill $GEN_PID; wait $GEN_PID 2>/dev/null
check "the token never appears in the run log" bash -c "! grep -q s3cret $OUT/limits.log"
start_gen full --max-clients 3
tally < <(unpriv $PY tests/faults.py full $PORT 3 2>&1)
kill $GEN_PID; wait $GEN_PID 2>/dev/null

start_gen hello --size 8000 --rate 2000 --client-buffer 4096
tally < <($PY tests/faults.py hello $PORT 2>&1)
kill $GEN_PID; wait $GEN_PID 2>/dev/null
start_gen idle --rate 100 --max-clients 3 --max-pending 16
tally < <($PY tests/faults.py idle $PORT 10 16 $GEN_PID 2>&1)
tally < <(ulimit -n 4096; $PY tests/faults.py idle $PORT 2000 16 $GEN_PID 2>&1)
check "dropped handshakes are summarised, not logged one line each" \
  bash -c "grep -q 'had not completed their handshake (over --max-pending 16' $OUT/idle.log && test \$(grep -c 'had not completed' $OUT/idle.log) -lt 5"
kill $GEN_PID; wait $GEN_PID 2>/dev/null
for sz in 0 256 4096; do
  start_gen "stall-$sz" --size $sz --client-buffer 16777216
  tally < <($PY tests/faults.py stall $PORT $GEN_PID 16777216 2>&1 | sed "s/^\(n*o*t* *ok - \)/\1--size $sz: /")
  kill $GEN_PID; wait $GEN_PID 2>/dev/null
done
start_gen flood --rate 100000 --size 200
tally < <($PY tests/faults.py flood $PORT 2>&1)
kill $GEN_PID; wait $GEN_PID 2>/dev/null

# stderr on a pipe nobody reads: logging never blocks the loop; connection churn is summarised
rm -f "$OUT/stuck.fifo" && mkfifo "$OUT/stuck.fifo"
sleep 600 <"$OUT/stuck.fifo" & HOLD=$!    # holds the read end open, never reads
./ecaptureq gen --ecaptureq ws://127.0.0.1:0/ --rate 200 2>"$OUT/stuck.fifo" & SG=$!
PIDS+=($HOLD $SG)
SP=""
for i in $(seq 50); do SP=$(ss -ltnpH 2>/dev/null | grep "pid=$SG," | grep -o '127.0.0.1:[0-9]*' | cut -d: -f2 | head -1); [ -n "$SP" ] && break; sleep 0.1; done
if [ -n "$SP" ]; then
  tally < <($PY tests/faults.py churn $SP 3000 2>&1)
  # 400 events at 200/s: it is still connected when the churn's one-second window is summed up
  $PY tests/consume.py ws://127.0.0.1:$SP/ --events 400 --seconds 10 >"$OUT/stuck.json"
  check "with stderr stuck and 3,000 connections churned: a consumer still gets its events" \
    test "$(grep -c '"event_payload"' "$OUT/stuck.json")" = 400
  check "... and its run log summarises the churn instead of a line per connection" \
    bash -c "grep -q 'more connection line(s) not logged one by one' $OUT/stuck.json && test \$(grep -c 'connected (' $OUT/stuck.json) -lt 130"
  t0=$(date +%s%N); kill -TERM $SG; wait $SG; rc=$?; t1=$(date +%s%N)
  check "... SIGTERM ends it at once (exit 0 in $(( (t1 - t0) / 1000000 )) ms)" bash -c "test $rc = 0 && test $(( (t1 - t0) / 1000000 )) -lt 3000"
else
  bad "gen with a stuck stderr did not start listening"
fi
kill $HOLD 2>/dev/null; wait $HOLD 2>/dev/null
