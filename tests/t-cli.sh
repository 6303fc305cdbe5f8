# the command line: bad URLs, flags, ports, bind addresses
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
start_ready busy $PY -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print("ready", s.getsockname()[1], flush=True); time.sleep(5)'
./ecaptureq gen --ecaptureq ws://127.0.0.1:$HPORT/ >/dev/null 2>"$OUT/e4"; rc=$?
check "port in use exits 1 and says so" bash -c "test $rc = 1 && grep -qi 'in use' $OUT/e4"
for u in "ws://[::1]:0/" "ws://localhost:0/" "ws://0.0.0.0:0/" "ws://[::]:0/"; do
  timeout 1 ./ecaptureq gen --ecaptureq "$u" 2>"$OUT/bind.log" >/dev/null
  got=$(grep -o 'listening on ws://[^ ]*' "$OUT/bind.log" | cut -d' ' -f3)
  check "listens on $u (the port the kernel gave is logged: $got)" bash -c "[[ '$got' == '${u%0/}'[1-9]*/ ]]"
done
check "a non-loopback bind without --token warns" grep -q "warning: listening on non-loopback" "$OUT/bind.log"

./ecaptureq tls --detach-after abc >/dev/null 2>"$OUT/e5"; rc=$?
check "tls --detach-after abc exits 2 with one line" bash -c "test $rc = 2 && test \$(wc -l <$OUT/e5) = 1 && grep -q 'detach-after' $OUT/e5"
./ecaptureq gotls >/dev/null 2>"$OUT/e6"; rc=$?
check "gotls without --elfpath or --pid exits 2 and says what it needs" bash -c "test $rc = 2 && grep -q 'elfpath' $OUT/e6"
./ecaptureq tls --ringbuf-mb 3 >/dev/null 2>"$OUT/e7"; rc=$?
check "tls --ringbuf-mb 3 (not a power of two) exits 2" bash -c "test $rc = 2 && grep -q 'power of two' $OUT/e7"
./ecaptureq gotls --elfpath "$OUT/e7" --list >"$OUT/e8" 2>&1; rc=$?
check "gotls --list on a file that is not ELF: exit 1, says it is not a Go executable" bash -c "test $rc = 1 && grep -q 'not a Go executable' $OUT/e8"
