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

# files made to stall or mislead the ELF parser (tests/hostile_elf.py), mapped for
# execution by nobody: one over the bounds is skipped with one line, probes go only
# on code, and the agent keeps serving
/usr/bin/python3 tests/hostile_elf.py "$HD/elf" >/dev/null && mkdir "$HD/elf/fake" &&
  cp "$HD/elf/fake-libssl.so.3" "$HD/elf/fake/libssl.so.3" && chown -R 65534:65534 "$HD/elf"
"${NOBODY[@]}" /usr/bin/python3 -c "import mmap, sys, time
files = [open(f, 'rb') for f in sys.argv[1:]]
maps = [mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ | mmap.PROT_EXEC) for f in files]
time.sleep(3)" "$HD"/elf/*.* "$HD/elf/fake/libssl.so.3" &
HM=$!
sleep 1
check "nobody mapping the hostile ELF files: the agent answers a new consumer meanwhile" \
  bash -c "$PY tests/consume.py ws://127.0.0.1:$HAP/ --seconds 1 | grep -q heartbeat_payload"
wait $HM
check "... a file over the bounds is skipped with one line naming the bound" \
  bash -c "test \$(grep -c 'symbols-over.so (pid $HM): skipped: a symbol table of over 1048576 entries' $OUT/hostile.log) = 1"
check "... a fake libssl.so.3 gets probes only on code: SSL_free alone, the rest refused as not code" \
  grep -q "fake/libssl.so.3 (pid $HM): 1 of 5 functions probed.*SSL_write (not in the file part of an executable segment)" "$OUT/hostile.log"
check "... and under another name it is not taken for OpenSSL at all (its SSL_write is not code)" \
  bash -c "! grep -q 'openssl: .*fake-libssl.so.3' $OUT/hostile.log"

# files that cost their owner nothing and a reader a great deal (tests/sparse_elf.py): a
# 64 GiB file of holes and a 64 GiB memfd of holes, each a .rodata searched for rustls
# (before: the loop held 2.3 s per GiB, and reading the memfd allocated what it read, to
# the agent), and 96 MiB of read-only data written out. Each is skipped with one line,
# unread; and a file on a FUSE file system nobody mounts in a namespace of its own, which
# stops answering OPEN once mapped (tests/fuse_stall.py): the kernel refuses root's open
# there (no allow_other), so the agent does not wait on it. A root process mapping a
# fresh libssl meanwhile is probed and captured
section "hostile users: files of holes, big read-only data, a FUSE file that never opens"
mkdir -p "$HD/sparse" "$OUT/victim-sp" && cp tests/sparse_elf.py tests/fuse_stall.py "$HD/" &&
  chown 65534:65534 "$HD/sparse" "$HD/sparse_elf.py" "$HD/fuse_stall.py"
cp -L "$(ldconfig -p | grep -o '/[^ ]*libssl.so.3$' | head -1)" "$OUT/victim-sp/libssl.so.3"
start_ready ssrv $PY tests/tls_server.py 127.0.0.1 0 "$HD/cert.pem" "$HD/key.pem" || return 0
SSRV=$HPID SSP=$HPORT
consume sparse $HAP 60
"${NOBODY[@]}" /usr/bin/python3 "$HD/sparse_elf.py" "$HD/sparse" 10 >"$OUT/sparse.out" 2>&1 &
SPA=$!
wait_log "$OUT/sparse.out" '^mapped' 60
cp "$OUT/victim-sp/libssl.so.3" "$HD/fuse-libssl.so.3" && chmod 644 "$HD/fuse-libssl.so.3"
"${NOBODY[@]}" /usr/bin/python3 "$HD/fuse_stall.py" "$HD/fuse-libssl.so.3" 10 >"$OUT/fuse.out" 2>&1 &
FZ=$!
wait_log "$OUT/fuse.out" '^mapped\|^no ' 10
client P_VS env LD_LIBRARY_PATH="$OUT/victim-sp" $PY -c "import ssl, time, urllib.request
time.sleep(0.5)
c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
print(urllib.request.urlopen('https://127.0.0.1:$SSP/beside-holes', context=c).read().decode())" >"$OUT/victim-sp.out"
settle
wait $SPA $FZ
kill $SSRV 2>/dev/null; wait $SSRV 2>/dev/null
check "nobody mapping a 64 GiB file of holes, a 64 GiB memfd of holes and 96 MiB of read-only data: root's python mapping a fresh libssl meanwhile is probed and its request captured" \
  bash -c "grep -q 'openssl: $OUT/victim-sp/libssl.so.3 (pid $P_VS): 5 of 5' $OUT/hostile.log && $PY tests/check_capture.py $OUT/sparse.json exchange $P_VS python3 127.0.0.1 $SSP 'GET /beside-holes HTTP/1.1' 'hello /beside-holes'"
check "... the file and the memfd of holes are each skipped with one line, unread ($(grep -o '^memfd-bytes.*' "$OUT/sparse.out") after the agent looked)" \
  bash -c "test \$(grep -c 'sparse-64g.* (pid $SPA): skipped: a sparse file' $OUT/hostile.log) = 2 && test \$(awk '/^memfd-bytes/ {print \$2}' $OUT/sparse.out) -lt 1048576"
check "... the 96 MiB of read-only data is skipped with one line naming the bound" \
  bash -c "test \$(grep -c 'dense-96m.so (pid $SPA): skipped: read-only data of over 67108864 bytes' $OUT/hostile.log) = 1"
if grep -q '^mapped' "$OUT/fuse.out"; then
  check "... and nobody's FUSE file that stops answering OPEN once mapped ($(grep -c 'stalled an OPEN' "$OUT/fuse.out") OPEN(s) stalled) got no OPEN from the agent: the kernel refused it (no allow_other)" \
    bash -c "! grep -q 'stalled an OPEN from pid $HA\$' $OUT/fuse.out"
else
  skip "nobody's FUSE file that stops answering OPEN: the machine refuses the attacker's mount ($(head -1 "$OUT/fuse.out"))"
fi
rm -rf "$HD/sparse" "$HD/fuse-libssl.so.3"

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
  # its entries go with the process: the next 16,000 parked reads (under the share) all fit
  kill $GP 2>/dev/null; wait $GP 2>/dev/null
  sleep 1.5
  before=$(grep -o '[0-9]* calls in all' "$OUT/hostile.log" | tail -1)
  "${NOBODY[@]}" "$HD/gopark" 8000 >"$OUT/gopark2.out" 2>&1 &
  GP=$!
  PIDS+=($GP)
  wait_log "$OUT/gopark2.out" "^parked 16000" 90
  sleep 1.5
  check "... once it exits, its entries are gone: 16,000 parked reads of a new process all fit, none lost ($before before, $(grep -o '[0-9]* calls in all' "$OUT/hostile.log" | tail -1) after)" \
    bash -c "grep -q '^parked 16000' $OUT/gopark2.out && test '$before' = \"\$(grep -o '[0-9]* calls in all' $OUT/hostile.log | tail -1)\""
else
  bad "nobody's gopark parks 18,000 reads (see $OUT/gopark.out, $OUT/gopark-build.log)"
fi
kill $GP 2>/dev/null; wait $GP 2>/dev/null

# a storm of new executable mappings (800 new files a second for 30 s, every mapping
# kept) while a root process maps a never-seen libssl copy once, in the middle of it,
# and makes its TLS calls after it: discovery serves users in turn, so the victim is
# probed (and captured) however long nobody's queue is
section "hostile users: a storm of new executable files"
cc -O2 -Wall -Wextra -o "$HD/storm" tests/storm.c
mkdir -p "$HD/storm-files" "$OUT/victim" "$OUT/victim0" && chown 65534:65534 "$HD/storm-files"
cp -L "$(ldconfig -p | grep -o '/[^ ]*libssl.so.3$' | head -1)" "$OUT/victim/libssl.so.3"
cp "$OUT/victim/libssl.so.3" "$OUT/victim0/libssl.so.3"
start_ready vsrv $PY tests/tls_server.py 127.0.0.1 0 "$HD/cert.pem" "$HD/key.pem" || return 0
VSRV=$HPID VP=$HPORT
# a root process that has a copy of its own mapped before the storm, and makes its
# request once told: a second agent, started 18 s into the storm, must find it through
# its scan of every process (before, that scan held the start up 23.6 s; now half a
# second at most, the rest while capturing)
env LD_LIBRARY_PATH="$OUT/victim0" $PY -c "import os, ssl, time, urllib.request
for _ in range(900):
    if os.path.exists('$OUT/late.go'): break
    time.sleep(0.1)
c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
print(urllib.request.urlopen('https://127.0.0.1:$VP/late-start', context=c).read().decode())" >"$OUT/late-victim.out" 2>&1 &
P_V0=$!
consume storm $HAP 90
SCONS=$CONS
"${NOBODY[@]}" "$HD/storm" "$HD/storm-files" 800 30 >"$OUT/storm.out" 2>&1 &
ST=$!
sleep 10
VSTART=$(($(date +%s%N) / 1000000))
STORM_END=$((VSTART + 20000))
# (not lib.sh's client: its watchdog is 20 s, and this one waits for the storm's end;
# env execs python, so P_VIC is the pid its events carry)
env LD_LIBRARY_PATH="$OUT/victim" $PY -c "import ssl, time, urllib.request
time.sleep(max(0, $STORM_END / 1000 + 1 - time.time()))
c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
print(urllib.request.urlopen('https://127.0.0.1:$VP/after-storm', context=c).read().decode())" >"$OUT/victim.out" 2>&1 &
P_VIC=$!
(sleep 60; kill -9 $P_VIC 2>/dev/null) & VWD=$!
sleep 8
t0=$(date +%s%N)
LATE_MS=
start_agent late tls && LATE_MS=$((($(date +%s%N) - t0) / 1000000)) LA=$AGENT_PID && consume late $AGENT_PORT 90
LCONS=$CONS
wait $ST
wait $P_VIC
kill $VWD 2>/dev/null; wait $VWD 2>/dev/null
touch "$OUT/late.go"; wait $P_V0
CONS=$SCONS settle
[ -n "$LATE_MS" ] && CONS=$LCONS settle
kill $VSRV 2>/dev/null; wait $VSRV 2>/dev/null
probed=$(grep -m1 "openssl: $OUT/victim/libssl.so.3 (pid $P_VIC)" "$OUT/hostile.log" | cut -d' ' -f1)
after=$([ -n "$probed" ] && echo "$(( $(date -d "$probed" +%s%3N) - VSTART )) ms after it started" || echo never)
check "nobody's storm ($(cat "$OUT/storm.out")): root's python, mapping a new libssl once 10 s into it, is probed ($after, with $(grep -c 'deferred (queue full' "$OUT/hostile.log") deferral line(s)) and its request after the storm captured" \
  bash -c "test -n '$probed' && $PY tests/check_capture.py $OUT/storm.json exchange $P_VIC python3 127.0.0.1 $VP 'GET /after-storm HTTP/1.1' 'hello /after-storm'"
check "... and the agent still serves a new consumer after the storm" \
  bash -c "$PY tests/consume.py ws://127.0.0.1:$HAP/ --seconds 2 | grep -q heartbeat_payload"
if [ -n "$LATE_MS" ]; then
  probed=$(grep -m1 "openssl: $OUT/victim0/libssl.so.3 (pid $P_V0)" "$OUT/late.log" | cut -d' ' -f1)
  check "an agent started 18 s into the storm: 'capturing' in $LATE_MS ms ($(grep -o 'discovery: [0-9]* file(s) probed so far.*' "$OUT/late.log" || echo 'its scan done before'); the scan $(grep -q 'following new processes' "$OUT/late.log" && echo done || echo 'NOT done')), and the root process mapping its copy since before is probed$([ -n "$probed" ] && echo " $(( $(date -d "$probed" +%s%3N) - t0 / 1000000 )) ms after the start") and its request captured" \
    bash -c "test -n '$probed' && grep -q 'following new processes' $OUT/late.log && $PY tests/check_capture.py $OUT/late.json exchange $P_V0 python3 127.0.0.1 $VP 'GET /late-start HTTP/1.1' 'hello /late-start'"
  kill $LA 2>/dev/null; wait $LA 2>/dev/null
fi
rm -rf "$HD/storm-files"

# a burst (8,000 new files a second for 5 s) overflows discovery's queue: a process
# whose one new library finds no room is caught up with (the agent before this never
# probed such a victim), and what was deferred is said
mkdir -p "$HD/burst-files" && chown 65534:65534 "$HD/burst-files"
cp "$OUT/victim/libssl.so.3" "$OUT/victim/libssl.so.3.tmp" && mv "$OUT/victim/libssl.so.3.tmp" "$OUT/victim/libssl.so.3" # a new inode
"${NOBODY[@]}" "$HD/storm" "$HD/burst-files" 8000 5 >"$OUT/burst.out" 2>&1 &
ST=$!
sleep 2
VSTART=$(($(date +%s%N) / 1000000))
env LD_LIBRARY_PATH="$OUT/victim" $PY -c "import ssl, time; time.sleep(5)" &
P_VIC2=$!
wait $ST; wait $P_VIC2
sleep 1.5
probed=$(grep -m1 "openssl: $OUT/victim/libssl.so.3 (pid $P_VIC2)" "$OUT/hostile.log" | cut -d' ' -f1)
after=$([ -n "$probed" ] && echo "$(( $(date -d "$probed" +%s%3N) - VSTART )) ms after it started" || echo never)
check "nobody's burst ($(cat "$OUT/burst.out")): root's python mapping a new libssl once in it is probed ($after; $(grep -o '[0-9]* in all)' "$OUT/hostile.log" | tail -1 | tr -d ')' || echo none) deferred)" \
  test -n "$probed"
rm -rf "$HD/burst-files"

# nobody maps 12 files shaped like BoringSSL linked in (its ssl_lib.cc name, 48 MiB of
# code to read): each is identified apart from the loop (a child, nobody's one at a
# time, the rest deferred and looked at again), so a root process's fresh libssl copy
# mapped meanwhile is still probed and its request captured
section "hostile users: many files shaped like BoringSSL"
printf '%s\n' 'const char ecq_name[] = "../../third_party/boringssl/src/ssl/ssl_lib.cc";' \
  '__asm__(".section .text.pad,\"ax\",@progbits\n.fill 50331648,1,0x90\n.previous");' \
  'int main(void) { return ecq_name[0] == 0; }' >"$HD/bssl_shape.c"
mkdir -p "$HD/bssl-files" && cc -O2 -o "$HD/bssl-files/shape0" "$HD/bssl_shape.c" && strip -s "$HD/bssl-files/shape0"
for i in $(seq 11); do cp "$HD/bssl-files/shape0" "$HD/bssl-files/shape$i"; done
chown -R 65534:65534 "$HD/bssl-files"
start_ready bsrv $PY tests/tls_server.py 127.0.0.1 0 "$HD/cert.pem" "$HD/key.pem" || return 0
BSRV=$HPID BP=$HPORT
consume bshape $HAP 60
"${NOBODY[@]}" $PY -c "import glob, mmap, os, time
maps = [mmap.mmap(os.open(f, os.O_RDONLY), 0, prot=mmap.PROT_READ | mmap.PROT_EXEC) for f in sorted(glob.glob('$HD/bssl-files/shape*'))]
time.sleep(20)" >"$OUT/bshape.out" 2>&1 &
BSH=$!
wait_log "$OUT/hostile.log" "bssl-files/shape[0-9]* (pid $BSH): BoringSSL without symbols: identifying its functions apart" 20
cp "$OUT/victim/libssl.so.3" "$OUT/victim/libssl.so.3.tmp" && mv "$OUT/victim/libssl.so.3.tmp" "$OUT/victim/libssl.so.3" # a new inode
client P_VIC3 env LD_LIBRARY_PATH="$OUT/victim" $PY -c "import ssl, urllib.request
c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
print(urllib.request.urlopen('https://127.0.0.1:$BP/bssl-shaped', context=c).read().decode())" >"$OUT/victim3.out"
settle
kill $BSH $BSRV 2>/dev/null; wait $BSH $BSRV 2>/dev/null
apart=$(grep -c "bssl-files/shape[0-9]* (pid $BSH): BoringSSL without symbols: identifying" "$OUT/hostile.log")
check "nobody mapping 12 BoringSSL-shaped files of 48 MiB of code ($apart identified apart by then, the rest waiting their turn): root's python mapping a fresh libssl meanwhile is probed and its request captured" \
  bash -c "grep -q 'openssl: $OUT/victim/libssl.so.3 (pid $P_VIC3): 5 of 5' $OUT/hostile.log && $PY tests/check_capture.py $OUT/bshape.json exchange $P_VIC3 python3 127.0.0.1 $BP 'GET /bssl-shaped HTTP/1.1' 'hello /bssl-shaped'"
rm -rf "$HD/bssl-files"

# after all this (dozens of probed copies, their links), SIGTERM: a clean exit (the
# time is a figure, for make bench's section 7 to hold to account, not a bound)
links=$(grep -o 'in [0-9]* link(s)' "$OUT/hostile.log" | awk '{s += $2} END {print s + 0}')
t0=$(date +%s%N)
kill -TERM $HA; wait $HA; rc=$?
check "SIGTERM after the attacks ($links links made): exit 0 in $(( ($(date +%s%N) - t0) / 1000000 )) ms, 'stopping' said" \
  bash -c "test $rc = 0 && grep -q 'stopping on signal' $OUT/hostile.log"
rm -rf "$HD"
