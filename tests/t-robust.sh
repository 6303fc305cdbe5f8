# fuzzers, valgrind, fault injection against gen
section "robustness: fuzzing, valgrind, faults, sanitizers"
tally < <(make -s fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-15} 2>&1)
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
tally < <($PY tests/faults.py slow $PORT 2>&1)
tally < <($PY tests/faults.py token $PORT s3cret-token 2>&1)
kill $GEN_PID; wait $GEN_PID 2>/dev/null
check "the token never appears in the run log" bash -c "! grep -q s3cret $OUT/limits.log"
start_gen full --max-clients 3
tally < <($PY tests/faults.py full $PORT 3 2>&1)
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
