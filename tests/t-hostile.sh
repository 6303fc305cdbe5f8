# Hostile local users against the root agent, sourced by test.sh as root: each attack
# runs as nobody (setpriv --reuid=65534) against an agent started with no flags, and
# the agent must stay alive, keep serving and keep capturing others. What nobody runs
# and reads lives in a directory of its own under /tmp (the clone may be unreadable to
# it).
section "hostile users: files changed under discovery"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
HD=$(mktemp -d /tmp/ecq-hostile.XXXXXX) && chmod 755 "$HD"
cc -O2 -Wall -Wextra -o "$HD/truncator" tests/truncator.c
cc -O2 -Wall -Wextra -o "$HD/big_write" tests/big_write.c -lssl -lcrypto
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$HD/key.pem" -out "$HD/cert.pem" -days 2 -subj /CN=localhost 2>/dev/null
mkdir -p "$HD/files" && chown -R 65534:65534 "$HD"
start_agent hostile tls || return 0
HA=$AGENT_PID HAP=$AGENT_PORT
CRYPTO=$(ldconfig -p | grep -o '/[^ ]*libcrypto.so.3$' | head -1)

# the owner truncates a file while the agent parses it through its mapping (SIGBUS)
timeout 300 "${NOBODY[@]}" "$HD/truncator" "$CRYPTO" "$HD/files" 120 >"$OUT/truncator.out" 2>&1
check "nobody truncating 120 files under the parse, 480 times: the agent lives ($(grep -c 'shrank while it was read' "$OUT/hostile.log") parses cut short, each said in one line; $(cat "$OUT/truncator.out"))" \
  bash -c "grep -q '^done 120' $OUT/truncator.out && kill -0 $HA"
check "... and still serves a consumer (its replay and a heartbeat)" \
  bash -c "$PY tests/consume.py ws://127.0.0.1:$HAP/ --seconds 2 | grep -q heartbeat_payload"
rm -rf "$HD/files"

# a single TLS call of 2 GiB and more does not fit the records: counted, never silent
timeout 120 "${NOBODY[@]}" "$HD/big_write" "$HD/cert.pem" "$HD/key.pem" >"$OUT/big_write.out" 2>&1
wait_log "$OUT/hostile.log" 'capture lost 1 record(s), 2147483653 bytes' 5
check "one SSL_write_ex of 2 GiB + 5 bytes by nobody: counted lost in the run log (1 record, 2147483653 bytes)" \
  bash -c "grep -q '^wrote 2147483653' $OUT/big_write.out && grep -q 'capture lost 1 record(s), 2147483653 bytes' $OUT/hostile.log"

# nobody parks more Go reads than its share of the calls table: others' calls still
# find room, and what nobody could not park is counted, not silently pushed out
section "hostile users: parked calls"
CACHE=${ECQ_TEST_CACHE:-/var/cache/ecaptureq-tests}
mkdir -p "$CACHE/go-build"
(cd tests/gopark && GOCACHE=$CACHE/go-build GOPATH=$OUT/go-path GO111MODULE=off GOFLAGS= GOTOOLCHAIN=local \
  go build -o "$HD/gopark" .) >"$OUT/gopark-build.log" 2>&1 && chown 65534:65534 "$HD/gopark"
"${NOBODY[@]}" "$HD/gopark" 9000 >"$OUT/gopark.out" 2>&1 &
GP=$!
PIDS+=($GP)
if wait_log "$OUT/gopark.out" "^parked 18000" 90; then
  start_ready hsrv $PY tests/tls_server.py 127.0.0.1 0 "$HD/cert.pem" "$HD/key.pem" || return 0
  HSRV=$HPID
  consume parked $HAP 30
  client P_V curl -sk --max-time 10 -o /dev/null https://127.0.0.1:$HPORT/victim
  settle
  sleep 1.5 # the loss counters are read once a second
  check "nobody parking 18,000 Go reads: root's curl still captured, request and response" \
    $PY tests/check_capture.py "$OUT/parked.json" exchange $P_V curl 127.0.0.1 $HPORT "GET /victim HTTP/1.1" "hello /victim"
  check "... and nobody's reads over its share of the calls table are counted lost ($(grep -o '[0-9]* calls in all' "$OUT/hostile.log" | tail -1))" \
    grep -q 'capture lost .* and [1-9][0-9]* call(s)' "$OUT/hostile.log"
  kill $HSRV 2>/dev/null; wait $HSRV 2>/dev/null
else
  bad "nobody's gopark parks 18,000 reads (see $OUT/gopark.out, $OUT/gopark-build.log)"
fi
kill $GP 2>/dev/null; wait $GP 2>/dev/null

kill -TERM $HA; wait $HA 2>/dev/null
rm -rf "$HD"
