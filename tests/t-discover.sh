# Discovery, sourced by test.sh as root: with no flags the agent finds every TLS stack
# on the host, also those that appear later: a chroot with its own copies of curl and
# its libraries, a mount namespace with another libssl bound over the host's, a
# library loaded late by python, a client with OpenSSL linked in statically, Node, nginx's
# connections, and a burst of short-lived processes.
section "discovery: every TLS stack on the host, with no flags"
CERT=$OUT/cert.pem KEY=$OUT/key.pem
[ -f "$CERT" ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout "$KEY" -out "$CERT" -days 2 -subj /CN=localhost 2>/dev/null
start_ready dsrv $PY tests/tls_server.py 127.0.0.1 0 "$CERT" "$KEY" || return 0
DSRV=$HPID DP=$HPORT

# Go programs without crypto/tls (the Go toolchain's own compile, link, asm...): skipped
# without a line, counted; one running before the agent starts, the others after
CACHE=${ECQ_TEST_CACHE:-/var/cache/ecaptureq-tests}
mkdir -p "$CACHE/go-build"
(cd tests/gonotls && GOCACHE=$CACHE/go-build GOPATH=$OUT/go-path GO111MODULE=off GOFLAGS= GOTOOLCHAIN=local \
  go build -o "$BIN/gonotls-before" main.go) >"$OUT/gonotls-build.log" 2>&1
cp "$BIN/gonotls-before" "$BIN/gonotls-after"
"$BIN/gonotls-before" 30 >/dev/null &
GNT=$!

start_agent disc tls || return 0
DA=$AGENT_PID DAP=$AGENT_PORT
check "at start: the running TLS server's libssl is found through its maps, each file probed once" \
  bash -c "grep -q 'discovery: .* file(s) probed; following new processes' $OUT/disc.log && test \$(grep -c 'openssl: .*libssl.so.3.*5 of 5 functions probed' $OUT/disc.log) = 1"
check "at start: a running Go program without crypto/tls is skipped without a line, and counted" \
  bash -c "! grep -q 'gonotls' $OUT/disc.log && grep -q 'following new processes ([1-9][0-9]* Go program(s) without crypto/tls skipped)' $OUT/disc.log"
kill $GNT 2>/dev/null; wait $GNT 2>/dev/null
# after the start: a Go program without crypto/tls and the Go toolchain's own tools,
# then a new libssl copy as a marker (discovery looks at new files in their order)
GOTOOLS=$(go env GOTOOLDIR)
"$BIN/gonotls-after" >/dev/null; "$BIN/gonotls-after" >/dev/null
for t in compile link asm; do "$GOTOOLS/$t" -V=full >/dev/null 2>&1; done
cp -L /lib/x86_64-linux-gnu/libssl.so.3 "$OUT/libssl-marker.so.3"
LD_PRELOAD="$OUT/libssl-marker.so.3" sleep 0.5
wait_log "$OUT/disc.log" "libssl-marker.so.3 (pid [0-9]*): 5 of 5" 5
check "after the start: a Go program without crypto/tls (run twice) and the Go toolchain's compile, link and asm: no line" \
  bash -c "grep -q 'libssl-marker.so.3 (pid [0-9]*): 5 of 5' $OUT/disc.log && ! grep -q 'gonotls\|/compile\|/link\|/asm\|0 of 5 functions' $OUT/disc.log"

# a chroot built from copies: curl, openssl and every library ldd names (new inodes)
ROOT=$OUT/chroot
rm -rf "$ROOT" && mkdir -p "$ROOT/usr/bin"
for b in curl openssl; do
  cp "$(command -v $b)" "$ROOT/usr/bin/"
  for l in $(ldd "$(command -v $b)" | grep -o '/[^ ]*'); do mkdir -p "$ROOT$(dirname "$l")"; cp -L "$l" "$ROOT$l"; done
done
printf 'GET /chroot-s_client HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >"$ROOT/req.txt"
printf 'GET /chroot-first HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >"$ROOT/req1.txt"
consume chroot $DAP 60
# the first program in the chroot maps the libssl copy: it is probed within the
# agent's reaction time; s_client writes its request a second after its handshake
(sleep 1; cat "$ROOT/req1.txt"; sleep 2) | chroot "$ROOT" /usr/bin/openssl s_client -connect 127.0.0.1:$DP -quiet >/dev/null 2>&1 &
P_CH1=$!; wait $P_CH1
# a second program there: the file is known, so it is captured from its first call
client P_CH chroot "$ROOT" /usr/bin/curl -sk --max-time 10 -o /dev/null https://127.0.0.1:$DP/chroot
settle
check "a chrooted s_client with the chroot's own libssl copy: request and response, pid, pname, tuple, direction" \
  $PY tests/check_capture.py "$OUT/chroot.json" exchange $P_CH1 openssl 127.0.0.1 $DP "GET /chroot-first HTTP/1.1" "hello /chroot-first"
check "... the chroot's libssl was probed as a file of its own, named by the path the host sees" \
  grep -q "openssl: $ROOT/.*libssl.so.3 (pid [0-9]*): 5 of 5 functions probed" "$OUT/disc.log"
check "... and a chrooted curl started after that is captured from its first call" \
  $PY tests/check_capture.py "$OUT/chroot.json" exchange $P_CH curl 127.0.0.1 $DP "GET /chroot HTTP/1.1" "hello /chroot"

# --pid on a chrooted process: the libraries are opened through /proc/N/map_files
(sleep 3; cat "$ROOT/req.txt"; sleep 3) | chroot "$ROOT" /usr/bin/openssl s_client -connect 127.0.0.1:$DP -quiet >"$OUT/ch-sc.out" 2>/dev/null &
P_CSC=$!
for ((i = 0; i < 40; i++)); do P_SC=$(pgrep -f "^/usr/bin/openssl s_client -connect 127.0.0.1:$DP" | head -1); [ -n "$P_SC" ] && break; sleep 0.05; done
start_agent disc-pid tls --pid "$P_SC"
DPA=$AGENT_PID
consume chpid "$AGENT_PORT" 30
wait $P_CSC 2>/dev/null
settle
kill -TERM $DPA; wait $DPA 2>/dev/null
check "--pid N on a chrooted process: attached (not 'failed to open'), its request and the answer captured" \
  bash -c "grep -q 'openssl: .*libssl.so.3 (pid $P_SC): 5 of 5 functions probed' $OUT/disc-pid.log && $PY tests/check_capture.py $OUT/chpid.json exchange $P_SC openssl 127.0.0.1 $DP 'GET /chroot-s_client HTTP/1.1' 'hello /chroot-s_client'"

# a mount namespace where another libssl (a copy) is bound over the host's path;
# s_client sends its request a moment after its handshake, as a person would: a
# library first mapped after the agent started is probed some 10-20 ms after the
# mmap (see README), and a client that writes sooner than that loses its first write
cp -L /lib/x86_64-linux-gnu/libssl.so.3 "$OUT/libssl-ns.so.3"
printf 'GET /namespace HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >"$OUT/req-ns.txt"
consume ns $DAP 60
(sleep 1; cat "$OUT/req-ns.txt"; sleep 2) | unshare --mount sh -c "mount --bind $OUT/libssl-ns.so.3 /lib/x86_64-linux-gnu/libssl.so.3 && exec openssl s_client -connect 127.0.0.1:$DP -quiet" >"$OUT/ns.out" 2>/dev/null &
P_NS=$!; wait $P_NS
settle
check "unshare --mount with a copy of libssl bound over the host's: that copy probed, the exchange captured" \
  bash -c "grep -q 'openssl: .*/libssl.so.3 (pid $P_NS): 5 of 5' $OUT/disc.log && $PY tests/check_capture.py $OUT/ns.json exchange $P_NS openssl 127.0.0.1 $DP 'GET /namespace HTTP/1.1' 'hello /namespace'"

# a library loaded late: python imports ssl (a libssl copy of its own) a second after start
mkdir -p "$OUT/late" && cp -L /lib/x86_64-linux-gnu/libssl.so.3 "$OUT/late/libssl.so.3"
consume late $DAP 60
client P_LATE env LD_LIBRARY_PATH="$OUT/late" $PY -c "import time; time.sleep(1); import ssl, urllib.request
c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
print(urllib.request.urlopen('https://127.0.0.1:$DP/late', context=c).read().decode())"
settle
check "python loading libssl late (import ssl after start): discovered at load, captured" \
  bash -c "grep -q 'openssl: $OUT/late/libssl.so.3 (pid $P_LATE): 5 of 5' $OUT/disc.log && $PY tests/check_capture.py $OUT/late.json exchange $P_LATE python3 127.0.0.1 $DP 'GET /late HTTP/1.1' 'hello /late'"

# TLS over memory BIOs: asyncio moves the ciphertext itself; the connection is
# inferred from the socket the thread used around each call
consume bio $DAP 60
client P_BIO $PY tests/tls_client.py asyncio 127.0.0.1 $DP /asyncio >"$OUT/bio.out"
settle
check "Python asyncio (memory BIOs): request and response with the real addresses and ports, both directions" \
  $PY tests/check_capture.py "$OUT/bio.json" exchange $P_BIO python3 127.0.0.1 $DP "GET /asyncio HTTP/1.1" "hello /asyncio"

# OpenSSL linked into the executable
cc -O2 -Wall -Wextra -o "$BIN/tls_static" tests/tls_static.c -Wl,-Bstatic -lssl -lcrypto -Wl,-Bdynamic -lpthread -ldl
check "tls_static has OpenSSL inside it (no libssl.so among its libraries)" bash -c "! ldd $BIN/tls_static | grep -q libssl && nm $BIN/tls_static | grep -q ' T SSL_write$'"
consume static $DAP 60
client P_ST "$BIN/tls_static" 127.0.0.1 $DP /static 300 >"$OUT/static.out"
settle
check "a client with OpenSSL linked in statically: its executable probed at exec, the exchange captured" \
  bash -c "grep -q 'openssl: $BIN/tls_static (pid [0-9]*): 5 of 5' $OUT/disc.log && $PY tests/check_capture.py $OUT/static.json exchange $P_ST tls_static 127.0.0.1 $DP 'GET /static HTTP/1.1' 'hello /static'"

# OpenSSL 3.5 (Debian 13's libssl3t64, with its libc), fetched from Debian's archive
# and unpacked outside the clone like the Go toolchains; the client runs on a fresh copy
# of its libssl and libcrypto, which no process mapped before: found by discovery
if O35=$(tests/trixie-openssl.sh "$CACHE/openssl35" 2>"$OUT/openssl35.log"); then
  read -r O35ROOT O35VER <<<"$O35"
  L35=$O35ROOT/usr/lib/x86_64-linux-gnu
  rm -rf "$OUT/o35" && mkdir -p "$OUT/o35" && cp "$L35/libssl.so.3" "$L35/libcrypto.so.3" "$OUT/o35/"
  # linked with that libc's loader; the rpath (not runpath) serves libssl's libcrypto too
  check "ssl35_client builds against OpenSSL $O35VER's headers and libraries" \
    cc -O2 -Wall -Wextra -Werror -I"$O35ROOT/usr/include/x86_64-linux-gnu" -I"$O35ROOT/usr/include" -o "$BIN/ssl35_client" \
    tests/ssl35_client.c "$OUT/o35/libssl.so.3" "$OUT/o35/libcrypto.so.3" \
    -Wl,--allow-shlib-undefined,--disable-new-dtags,-rpath,"$OUT/o35:$L35",--dynamic-linker="$L35/ld-linux-x86-64.so.2"
  consume o35 $DAP 60
  client P_35 "$BIN/ssl35_client" 127.0.0.1 $DP /openssl35 300 >"$OUT/o35.out"
  settle
  check "OpenSSL $O35VER (trixie): a never-seen copy of its libssl found by discovery, SSL_write_ex2 probed too (6 of 6, 11 probes)" \
    grep -q "openssl: $OUT/o35/libssl.so.3 (pid $P_35): 6 of 6 functions probed, 11 probes" "$OUT/disc.log"
  check "... SSL_write_ex2, then SSL_write_ex (which calls SSL_write_ex2), then SSL_read_ex: request and response, pid, pname, tuple, type" \
    $PY tests/check_capture.py "$OUT/o35.json" exchange $P_35 ssl35_client 127.0.0.1 $DP "GET /openssl35 HTTP/1.1" "hello /openssl35"
  check "... each write reported once, byte-exact, in order, on one connection" $PY - "$OUT/o35.json" $P_35 $DP <<'PYEOF'
import base64, json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"event_payload"' in l]
w = [e for e in ev if e["pid"] == int(sys.argv[2]) and e["dst_port"] == int(sys.argv[3])]
print([(e["uuid"], e["type"], base64.b64decode(e["payload_b64"])) for e in w])
sys.exit(0 if [base64.b64decode(e["payload_b64"]) for e in w] == [b"GET /openssl35 HTTP/1.1\r\n",
          b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n"] and w[0]["uuid"] == w[1]["uuid"] else 1)
PYEOF
else
  bad "OpenSSL 3.5 from Debian 13 (trixie) with a private apt configuration: $(cat "$OUT/openssl35.log")"
fi

# BoringSSL linked in and stripped, the shape Chromium, Electron and Envoy ship: built
# once from Debian's source into the cache (tests/boringssl-build.sh, some 3 minutes the
# first time), linked into tls_static with unwind tables (FDEs give the functions'
# bounds) and without (as Chromium: direct calls give them), then stripped. What the
# agent finds in a stripped file must be where the unstripped file's symbols say.
bssl_same() { # LIST UNSTRIPPED STRIPPED: no symbol left in STRIPPED; SSL_write and SSL_read
  local f a # planned at UNSTRIPPED's symbol addresses (which has SSL_peek beside SSL_read)
  [ -z "$(nm "$3" 2>/dev/null)" ] && nm "$2" | grep -q ' T SSL_peek$' || return 1
  for f in SSL_write SSL_read; do
    a=$(nm "$2" | awk -v f=$f '$3 == f {print $1}')
    [ -n "$a" ] && grep -q "^$f BoringSSL's code $(printf 0x%x $((16#$a))) " "$1" || return 1
  done
}
BSSL=$(tests/boringssl-build.sh "$CACHE/boringssl" 2>"$OUT/bssl-build.err")
if [ -z "$BSSL" ]; then
  bad "BoringSSL builds from Debian's source: $(cat "$OUT/bssl-build.err")"
else
  for v in fde nofde; do
    lib=$BSSL/lib/libssl-$([ $v = fde ] && echo unwind || echo nounwind).a
    clang -O2 -Wall -Wextra -I"$BSSL/include" -c tests/tls_static.c -o "$BIN/boring_$v.o" &&
      clang++ -o "$BIN/boring_$v.full" "$BIN/boring_$v.o" "$lib" "$BSSL/lib/libcrypto.a" -lpthread &&
      strip -s -o "$BIN/boring_$v" "$BIN/boring_$v.full"
    ./ecaptureq tls --libssl "$BIN/boring_$v" --list >"$OUT/boring_$v.list" 2>&1
    check "BoringSSL linked in, $v, stripped (no symbol left): SSL_write and SSL_read found at the unstripped build's symbol addresses" \
      bssl_same "$OUT/boring_$v.list" "$BIN/boring_$v.full" "$BIN/boring_$v"
  done
  printf 'GET /boringssl HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >"$OUT/boring.sent"
  consume boring $DAP 60
  client P_BS "$BIN/boring_nofde" 127.0.0.1 $DP /boringssl 300 >"$OUT/boring.out"
  settle
  check "a stripped client with BoringSSL linked in (no FDEs, as Chromium): probed at exec, identified from its code, one line" \
    grep -q "openssl: $BIN/boring_nofde (pid $P_BS) (BoringSSL without symbols: identified in [0-9]* ms): 2 of 5 functions probed, 4 probes" "$OUT/disc.log"
  check "... its request and response captured byte-exact: pid, pname, tuple, types" \
    bash -c "$PY tests/check_capture.py $OUT/boring.json exchange $P_BS boring_nofde 127.0.0.1 $DP 'GET /boringssl HTTP/1.1' 'hello /boringssl' && $PY tests/check_capture.py $OUT/boring.json exact $P_BS $DP $OUT/boring.sent $OUT/boring.out"
fi

# a shape the rules refuse (tests/fake_boringssl.c with SSL_peek's body apart from
# SSL_read's): planned as refused, and found by discovery, with one line and no probe
clang -O2 -fPIE -DPEEK_APART -fno-asynchronous-unwind-tables -fno-builtin -nostdlib -static -Wl,--build-id=none \
  -o "$BIN/boring_apart" tests/fake_boringssl.c && strip -s "$BIN/boring_apart"
./ecaptureq tls --libssl "$BIN/boring_apart" --list >"$OUT/boring_apart.list" 2>&1; rc=$?
"$BIN/boring_apart"
wait_log "$OUT/disc.log" "boring_apart (pid" 5
check "BoringSSL in a shape the rules refuse: --list exits 1, and discovery says 'BoringSSL found, functions not identified' in one line, no probe" \
  bash -c "test $rc = 1 && head -1 $OUT/boring_apart.list | grep -q 'BoringSSL found, functions not identified: SSL_peek not inlined into SSL_read' && test \$(grep boring_apart $OUT/disc.log | grep -vc 'identifying its functions apart') = 1 && grep -q '^.*error: openssl: $BIN/boring_apart (pid [0-9]*): BoringSSL found, functions not identified: SSL_peek not inlined into SSL_read\$' $OUT/disc.log"

# Chromium itself (Debian's, stripped, some 300 MB, no FDEs for BoringSSL): a first
# headless run maps the executable (identified once: the time is in the line), then a
# headless fetch of a page from the local server, whose network service process (the
# same executable) makes the connection
CHROME=/usr/lib/chromium/chromium
if [ -x "$CHROME" ]; then
  chrome() { timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --ignore-certificate-errors \
    --user-data-dir="$OUT/chromium-profile" --dump-dom "$@"; }
  # its 236 MB of code are read by a child: meanwhile the agent's loop answers. A client
  # connects once the agent says the identification started, pings, and looks at the
  # log when the pong comes: the identification is not done yet
  $PY - "$OUT/disc.log" $DAP "$CHROME" >"$OUT/chromium-during.out" 2>&1 <<'PYEOF' &
import asyncio, sys, time, websockets
log, port, exe = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
def said(what):
    return any(exe in l and what in l for l in open(log, "rb"))
end = time.monotonic() + 60
while not said(b"identifying its functions apart") and time.monotonic() < end:
    time.sleep(0.002)
async def main():
    async with websockets.connect(f"ws://127.0.0.1:{port}/", max_size=None) as ws:
        print("client", ws.local_address[1], flush=True)
        async def drain():  # the replay and heartbeats: read, or the pong waits behind them
            try:
                async for _ in ws: pass
            except websockets.exceptions.ConnectionClosed: pass
        reader = asyncio.ensure_future(drain())
        await (await ws.ping())
        print("pong while", "done" if said(b"BoringSSL without symbols: identified") else "identifying", flush=True)
        reader.cancel()
asyncio.run(main())
PYEOF
  DURING=$!
  chrome about:blank >/dev/null 2>"$OUT/chromium-first.err"
  wait_log "$OUT/disc.log" "openssl: $CHROME (pid [0-9]*) (BoringSSL without symbols" 30
  wait $DURING
  lport=$(awk '/^client/ {print $2}' "$OUT/chromium-during.out")
  check "while a child identifies Chromium's BoringSSL, the agent answers: a client's handshake (logged between 'identifying' and 'identified') and ping ($(tail -1 "$OUT/chromium-during.out"))" \
    bash -c "grep -q 'pong while identifying' $OUT/chromium-during.out && awk -v c='client 127.0.0.1:$lport connected' -v e='$CHROME (pid' \
      'index(\$0, e) && /identifying its functions apart/ {s = 1} s == 1 && index(\$0, c) {s = 2} s == 2 && index(\$0, e) && /identified in/ {s = 3} END {exit s != 3}' $OUT/disc.log"
  check "Chromium $(dpkg-query -W -f '${Version}' chromium 2>/dev/null): SSL_write and SSL_read identified in its code, one line with the time taken" \
    grep -q "openssl: $CHROME (pid [0-9]*) (BoringSSL without symbols: identified in [0-9]* ms): 2 of 5 functions probed, 4 probes" "$OUT/disc.log"
  consume chromium $DAP 90
  chrome "https://127.0.0.1:$DP/chromium" >"$OUT/chromium.out" 2>"$OUT/chromium.err"
  settle
  check "headless Chromium fetching https://127.0.0.1:PORT/chromium: request and response captured, pid, pname, tuple, types" \
    bash -c "grep -q 'hello /chromium' $OUT/chromium.out && $PY tests/check_capture.py $OUT/chromium.json exchange any chromium 127.0.0.1 $DP 'GET /chromium HTTP/1.1' 'hello /chromium' >$OUT/chromium.check"
else
  bad "Chromium is installed ($CHROME; make deps-test installs it)"
fi

# a file first mapped by processes that are gone before the agent opens it (ldd: the
# loader maps the program, lists, exits) is still probed when a process runs it for
# real. Found by CI: the file was left "reported" in the kernel's table when the
# process vanished between reading its maps and opening the file, and no later
# process reported it again (before the fix, about 1 copy in 8 was missed)
missed=
for k in $(seq 10); do
  cp "$BIN/tls_static" "$OUT/ldd_static_$k"
  for j in $(seq 30); do ldd "$OUT/ldd_static_$k" >/dev/null 2>&1; done
  "$OUT/ldd_static_$k" 127.0.0.1 1 /x 300 2>/dev/null
  wait_log "$OUT/disc.log" "ldd_static_$k (pid [0-9]*): 5 of 5" 2 || missed="$missed $k"
done
check "10 fresh copies each looked at by ldd 30 times, then run: every one probed at its run (missed:${missed:- none})" test -z "$missed"

# Node: upstream builds link OpenSSL into the executable and drive it through memory
# BIOs; a Debian build uses the shared libssl the same way. No warm-up: the first run.
if command -v node >/dev/null 2>&1; then
  NODE=$(command -v node)
  consume node $DAP 60
  client P_NODE "$NODE" -e "require('https').get({host:'127.0.0.1',port:$DP,path:'/node',rejectUnauthorized:false,agent:false},
    r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>console.log(b.trim()))}).on('error',e=>{console.error(e.message);process.exit(1)})" >"$OUT/node.out"
  settle
  if nm -D "$NODE" 2>/dev/null | grep -q ' T SSL_write$'; then how="OpenSSL inside the executable, probed at exec"; else how="the shared libssl"; fi
  check "Node's https ($how, memory BIOs): request and response on one uuid with the real addresses and ports" \
    $PY tests/check_capture.py "$OUT/node.json" exchange $P_NODE node 127.0.0.1 $DP "GET /node HTTP/1.1" "hello /node"
else
  skip "Node's https: no node on this machine"
fi

# nginx: every connection its own uuid, even on a reused fd
mkdir -p "$OUT/nginx/html"
for i in 1 2 3 4 5 6 7 8; do echo "page $i" >"$OUT/nginx/html/p$i"; done
start_nginx "$OUT/nginx" p1
consume nginx $DAP 60
for i in 1 2 3; do curl -sk -o /dev/null https://127.0.0.1:$NGP/p$i; done
PAR=()
for i in 4 5 6 7 8; do curl -sk --max-time 10 -o /dev/null https://127.0.0.1:$NGP/p$i & PAR+=($!); done
wait "${PAR[@]}"
settle
check "nginx: three sequential connections (one fd, reused) get three uuids; parallel ones one each" $PY - "$OUT/nginx.json" <<'PYEOF'
import base64, json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"event_payload"' in l]
ng = [e for e in ev if e["pname"] == "nginx"]
uu = {}
for i in range(1, 9):
    req = [e for e in ng if base64.b64decode(e["payload_b64"]).startswith(b"GET /p%d HTTP/1.1" % i)]
    if len(req) != 1:
        print("p%d: %d request events" % (i, len(req))); sys.exit(1)
    uu[i] = req[0]["uuid"]
    resp = [e for e in ng if e["uuid"] == uu[i] and base64.b64decode(e["payload_b64"]).startswith(b"HTTP/1.1 200")]
    if len(resp) != 1:
        print("p%d: %d responses on its uuid" % (i, len(resp))); sys.exit(1)
print(uu)
sys.exit(0 if len(set(uu.values())) == 8 and len({u.rsplit("_", 1)[0] for u in list(uu.values())[:3]}) == 1 else 1)
PYEOF
kill $NGX 2>/dev/null; wait $NGX 2>/dev/null

# 2,000 short-lived processes: known executables cost the agent (nearly) nothing
ticks() { awk '{print $14 + $15}' /proc/$DA/stat; }
t0=$(ticks)
start=$(date +%s.%N)
for ((i = 0; i < 2000; i++)); do /bin/true; done
t1=$(ticks)
secs=$(echo "$(date +%s.%N) - $start" | bc)
hz=$(getconf CLK_TCK)
check "2,000 processes of /bin/true in ${secs%???????} s cost the agent $(( (t1 - t0) * 1000 / hz )) ms of CPU (bound: 500 ms)" \
  test $(( (t1 - t0) * 1000 / hz )) -le 500
consume after $DAP 30
client P_AFTER curl -sk --max-time 10 -o /dev/null https://127.0.0.1:$DP/after
settle
check "... and capture goes on after the burst; no loss reported" \
  bash -c "$PY tests/check_capture.py $OUT/after.json exchange $P_AFTER curl 127.0.0.1 $DP 'GET /after HTTP/1.1' 'hello /after' && ! grep -q 'capture lost' $OUT/disc.log && kill -0 $DA"
check "heartbeats say how many files and probes capture holds" \
  bash -c "grep -q '\"message\": \"heartbeat:0 events=[0-9]* lost=0 clients=1 files=[1-9][0-9]* probes=[1-9]' $OUT/after.json"
kill -TERM $DA; wait $DA 2>/dev/null
kill $DSRV 2>/dev/null; wait $DSRV 2>/dev/null

# files no process maps any more lose their probes (here after 1 s instead of 60)
cp -L /lib/x86_64-linux-gnu/libssl.so.3 "$OUT/libssl-gone.so.3"
start_agent detach tls --detach-after 1 && {
  LD_PRELOAD="$OUT/libssl-gone.so.3" sleep 1.5 &
  P_GONE=$!
  wait_log "$OUT/detach.log" "libssl-gone.so.3 (pid $P_GONE): 5 of 5" 5
  wait $P_GONE
  wait_log "$OUT/detach.log" "libssl-gone.so.3 (pid $P_GONE): no process maps it any more; 9 probes detached" 5
  LD_PRELOAD="$OUT/libssl-gone.so.3" sleep 1 &
  P_BACK=$!
  wait_log "$OUT/detach.log" "libssl-gone.so.3 (pid $P_BACK): 5 of 5" 5
  wait $P_BACK
  check "a library every process stopped mapping is detached, and probed again when mapped again" \
    bash -c "grep -q 'libssl-gone.so.3 (pid $P_GONE): no process maps it any more; 9 probes detached' $OUT/detach.log && grep -q 'libssl-gone.so.3 (pid $P_BACK): 5 of 5' $OUT/detach.log"
  check "... the host's own libraries stay probed" bash -c "! grep -q 'x86_64-linux-gnu/libssl.so.3: no process' $OUT/detach.log"
  kill -TERM $AGENT_PID; wait $AGENT_PID 2>/dev/null
}
