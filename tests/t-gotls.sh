# Go crypto/tls capture, sourced by test.sh as root: a Go HTTPS server and clients
# (tests/gotls, built here with Debian's golang-go and with Go 1.21-1.27 from Debian's
# archive, normal and stripped) under the real probes, checked through the stream by
# protoc-generated Python.
section "Go crypto/tls capture"
# Go caches (the build cache and the fetched toolchains) live outside the clone, so a
# second run does not fetch or compile the standard library again; a fresh machine
# fills them once (about a minute).
CACHE=${ECQ_TEST_CACHE:-/var/cache/ecaptureq-tests}
export GOCACHE=$CACHE/go-build GOPATH=$OUT/go-path GO111MODULE=off GOFLAGS= GOTOOLCHAIN=local HOME=${HOME:-/root}
mkdir -p "$GOCACHE"
# The toolchains: Debian 12's golang-go (1.19, the 0xfffffff0 symbol table layout) and
# every later Go release Debian's archive carries (1.21 to 1.27, layout 0xfffffff1).
GOS=("$(go env GOVERSION) $(command -v go)")
mapfile -t -O 1 GOS < <(tests/go-toolchains.sh "$CACHE/toolchains" 1.21 1.22 1.23 1.24 1.25 1.26 1.27 2>"$OUT/go-toolchains.log")
check "Go toolchains from Debian's archive: ${#GOS[@]} of 8 ($(printf '%s\n' "${GOS[@]}" | cut -d' ' -f1 | tr '\n' ' '))" \
  bash -c "test ${#GOS[@]} = 8 || { cat $OUT/go-toolchains.log >&2; false; }"

# golist_key FILE: function name, address and RET addresses of a --list
golist_key() { awk 'NR > 1 {print $1, $3; for (i = 8; i <= NF; i++) if ($i == "ret") print $(i + 1)}' "$1"; }
BUILDS=()     # what the agent probes, then what the capture checks run on
SEEN=" "
for ((t = 0; t < ${#GOS[@]}; t++)); do
  read -r GOV GO <<<"${GOS[$t]}"
  case $SEEN in *" $GOV "*) continue ;; esac  # the system's Go may be one of the fetched releases
  SEEN="$SEEN$GOV "
  B=$BIN/$GOV         # the name is the process name: 15 characters at most
  if ! (cd tests/gotls && "$GO" build -o "$B" main.go && "$GO" build -ldflags='-s -w' -o "$B-s" main.go) >"$OUT/build-$GOV.log" 2>&1; then
    bad "$GOV: the Go test program builds (see $OUT/build-$GOV.log)"
    continue
  fi
  ok "$GOV: the Go test program builds, normal and stripped (-ldflags='-s -w')"
  check "$GOV: the stripped build has no .symtab, only .gopclntab" bash -c "! readelf -S $B-s | grep -q ' .symtab' && readelf -S $B-s | grep -q .gopclntab"
  # where the probes go: .symtab and .gopclntab agree, and every RET is objdump's
  ./ecaptureq gotls --elfpath "$B" --list >"$OUT/golist-$GOV.txt" 2>&1; r1=$?
  ./ecaptureq gotls --elfpath "$B-s" --list >"$OUT/golist-$GOV-s.txt" 2>&1; r2=$?
  check "$GOV: gotls --list finds Read, writeRecordLocked, serverHandshake, clientHandshake and Close through .symtab" \
    bash -c "test $r1 = 0 && test \$(grep -c '^crypto/tls.(\*Conn).* .symtab 0x' $OUT/golist-$GOV.txt) = 5 && grep -q '^$B: $GOV\$' $OUT/golist-$GOV.txt"
  same=$(diff <(golist_key "$OUT/golist-$GOV.txt") <(golist_key "$OUT/golist-$GOV-s.txt") >/dev/null && echo yes)
  check "$GOV: ... and the same functions and RET addresses through .gopclntab in the stripped build" \
    bash -c "test $r2 = 0 && test \$(grep -c ' .gopclntab 0x' $OUT/golist-$GOV-s.txt) = 5 && test '$same' = yes"
  objdump -d -j .text --no-show-raw-insn "$B" >"$OUT/insns-objdump.txt"
  for fn in 'crypto/tls.(*Conn).Read' 'crypto/tls.(*Conn).writeRecordLocked'; do
    want=$(awk -v f="<$fn>:" '$2 == f {on=1; next} on && /^$/ {exit} on && $2 == "ret" {sub(":", "", $1); print "0x" $1}' "$OUT/insns-objdump.txt" | tr '\n' ' ')
    got=$(grep -F "$fn " "$OUT/golist-$GOV.txt" | grep -o 'ret 0x[0-9a-f]*' | cut -c5- | tr '\n' ' ')
    check "$GOV: $fn: our RET addresses are objdump's ($got)" test -n "$got" -a "$got" = "$want"
  done
  "$BIN/unit" insns "$B" >"$OUT/insns-ours.txt"
  cmp=$($PY tests/insn_compare.py "$OUT/insns-ours.txt" "$OUT/insns-objdump.txt"); crc=$?
  check "$GOV: the instruction decoder agrees with objdump on the whole .text: $cmp" test $crc = 0
  # Debian's Go and the newest: both builds through every check; the releases between:
  # the stripped build (how Go ships). As a stripped PIE too (how Fedora, Arch and Alpine
  # package Go programs): 1.19 to 1.25 put pclntab in .data.rel.ro.gopclntab, 1.26 on in
  # .gopclntab; a copy of the 1.21 PIE with its section headers removed (as sstrip and
  # packers leave a file) is found by pclntab's magic and runtime.firstmoduledata
  case $GOV in go1.19*|go1.21*|go1.25*) pie=1 ;; *) pie=$((t == ${#GOS[@]} - 1)) ;; esac
  if [ $pie = 1 ]; then
    sec=.gopclntab; case $GOV in go1.19*|go1.2[0-5]*) sec=.data.rel.ro.gopclntab ;; esac
    if (cd tests/gotls && "$GO" build -buildmode=pie -ldflags='-s -w' -o "$B-pie" main.go) >>"$OUT/build-$GOV.log" 2>&1 &&
       ./ecaptureq gotls --elfpath "$B-pie" --list >"$OUT/golist-$GOV-pie.txt" 2>&1 &&
       file "$B-pie" | grep -q 'pie executable' && readelf -SW "$B-pie" | grep -q " $sec " &&
       test "$(grep -c ' .gopclntab 0x' "$OUT/golist-$GOV-pie.txt")" = 5; then
      ok "$GOV: a stripped PIE build (-buildmode=pie), pclntab in $sec: the 5 functions are found"
      BUILDS+=("$B-pie")
    else
      bad "$GOV: a stripped PIE build (-buildmode=pie), pclntab in $sec: the 5 functions are found (see $OUT/build-$GOV.log, $OUT/golist-$GOV-pie.txt)"
    fi
    case $GOV in go1.21*|go1.27*)
      $PY tests/elf_noshdr.py "$B-pie" "$B-pie-n" && chmod +x "$B-pie-n"
      ./ecaptureq gotls --elfpath "$B-pie-n" --list >"$OUT/golist-$GOV-pie-n.txt" 2>&1; rc=$?
      check "$GOV: ... and with its section headers removed: the same plan, through pclntab's magic and runtime.firstmoduledata" \
        bash -c "test $rc = 0 && test -z \"\$(readelf -S $B-pie-n 2>&1 | grep '\.text')\" && grep -q '^$B-pie-n: $GOV\$' $OUT/golist-$GOV-pie-n.txt && diff <(tail -n +2 $OUT/golist-$GOV-pie.txt) <(tail -n +2 $OUT/golist-$GOV-pie-n.txt)"
      case $GOV in go1.21*) BUILDS+=("$B-pie-n") ;; esac ;;
    esac
  fi
  if [ $t = 0 ] || [ $t = $((${#GOS[@]} - 1)) ]; then BUILDS+=("$B" "$B-s"); else BUILDS+=("$B-s"); fi
done
GOV=$(go env GOVERSION)
rm -f "$OUT/insns-ours.txt" "$OUT/insns-objdump.txt"

# refusals: one line, exit 1
./ecaptureq gotls --elfpath /bin/true --ecaptureq ws://127.0.0.1:0/ >/dev/null 2>"$OUT/go-notgo.txt"; rc=$?
check "gotls on a non-Go executable: exit 1, one line naming the reason" \
  bash -c "test $rc = 1 && test \$(wc -l <$OUT/go-notgo.txt) = 1 && grep -q 'not a Go executable' $OUT/go-notgo.txt"
$PY - "$BIN/$GOV" "$OUT/gotls-old" <<'PYEOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.find(b"\xff Go buildinf:")
v = b.find(b"go1.", i)
b[v:v + 5] = b"go1.1"
b[v + 5:v + 6] = b"6"   # go1.16...: a Go from before the register ABI
open(sys.argv[2], "wb").write(b)
PYEOF
./ecaptureq gotls --elfpath "$OUT/gotls-old" --ecaptureq ws://127.0.0.1:0/ >/dev/null 2>"$OUT/go-old.txt"; rc=$?
check "gotls on a Go 1.16 executable (stack ABI): exit 1, one line naming the reason" \
  bash -c "test $rc = 1 && test \$(wc -l <$OUT/go-old.txt) = 1 && grep -q 'before 1.17' $OUT/go-old.txt"

(cd tests/gonotls && go build -o "$BIN/gonotls" main.go)
./ecaptureq gotls --elfpath "$BIN/gonotls" --ecaptureq ws://127.0.0.1:0/ >/dev/null 2>"$OUT/go-notls.txt"; rc=$?
check "gotls on a Go executable without crypto/tls: exit 1, one line naming the reason" \
  bash -c "test $rc = 1 && test \$(wc -l <$OUT/go-notls.txt) = 1 && grep -q 'without Go crypto/tls' $OUT/go-notls.txt"

CERT=$OUT/cert.pem KEY=$OUT/key.pem
[ -f "$CERT" ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout "$KEY" -out "$CERT" -days 2 -subj /CN=localhost 2>/dev/null

ELF=(); for b in "${BUILDS[@]}"; do ELF+=(--elfpath "$b"); done
start_agent gotls gotls "${ELF[@]}" || return 0
GA=$AGENT_PID GAP=$AGENT_PORT
./ecaptureq gotls --elfpath "$BIN/$GOV" --list >"$OUT/golist-probed.txt" 2>&1
check "the file is read as it is on disk, not with another agent's breakpoints in it: --list is unchanged while probed" \
  cmp -s "$OUT/golist-$GOV.txt" "$OUT/golist-probed.txt"
probed=0
for b in "${BUILDS[@]}"; do grep -q "go: $b (go1[.0-9]*): 5 of 5 functions probed" "$OUT/gotls.log" && probed=$((probed + 1)); done
check "gotls probes all ${#BUILDS[@]} builds: 5 functions each, RETs included ($probed)" test $probed = ${#BUILDS[@]}
# --list prints the plan attach follows: as many probes (entries and RETs) as attached
same=0
for b in "${BUILDS[@]}"; do
  planned=$(./ecaptureq gotls --elfpath "$b" --list | awk 'NR > 1 && $3 ~ /^0x/ {n++; for (i = 4; i <= NF; i++) if ($i == "ret") n++} END {print n + 0}')
  grep -q "go: $b (go1[.0-9]*): 5 of 5 functions probed, $planned probes attached" "$OUT/gotls.log" && same=$((same + 1))
done
check "for every build, gotls --list plans exactly the probes attach attached ($same of ${#BUILDS[@]})" test $same = ${#BUILDS[@]}

for G in "${BUILDS[@]}"; do
  build=${G##*/} LOOP=3000
  case $build in "$GOV"|"$GOV-s"|"${BUILDS[-1]##*/}"|"${BUILDS[-2]##*/}") ;; *) LOOP=1000 ;; esac
  start_ready "$build-srv" "$G" server 127.0.0.1:0 "$CERT" "$KEY" || continue
  GS=$HPID GP=$HPORT
  consume "$build-a" $GAP 60
  "$G" get https://127.0.0.1:$GP/hello-$build >"$OUT/$build-get.out" & P_GET=$!; wait $P_GET
  # watch --http on the same stream: the h2 exchange of a Go client with a Go server
  ./ecaptureq watch "ws://127.0.0.1:$GAP/" --reconnect --http --path "/h2-$build" --no-color \
    >"$OUT/$build-http.txt" 2>"$OUT/$build-http.err" & WH=$!
  wait_log "$OUT/$build-http.err" "watch: connected" 5
  "$G" get https://127.0.0.1:$GP/h2-$build h2 >/dev/null & P_H2=$!; wait $P_H2
  "$G" post https://127.0.0.1:$GP/ 1048576 7 >"$OUT/$build-post.out" & P_POST=$!; wait $P_POST
  "$G" bigget https://127.0.0.1:$GP 1048576 9 >"$OUT/$build-big.out" & P_BIG=$!; wait $P_BIG
  "$G" writes 127.0.0.1:$GP 10000 100 >"$OUT/$build-writes.out" 2>"$OUT/$build-writes.err" & P_W=$!; wait $P_W
  GOMAXPROCS=2 "$G" parallel https://127.0.0.1:$GP 64 >"$OUT/$build-par.out" & P_PAR=$!; wait $P_PAR; prc=$?
  settle
  kill -INT $WH 2>/dev/null; wait $WH
  J=$OUT/$build-a.json
  check "$build: watch --http: the Go client's h2 GET and the Go server's answer as one exchange, from both ends (HPACK decoded)" \
    bash -c "test \$(grep -c '^GET /h2-$build -> 200 ' $OUT/$build-http.txt) = 2 && test \$(grep -c '^  < hello /h2-$build\$' $OUT/$build-http.txt) = 2"
  check "$build: a client GET: write from the client's pid (src = client, dst = server port, type 1), the response read on the same uuid" \
    $PY tests/check_capture.py "$J" exchange $P_GET $build 127.0.0.1 $GP "GET /hello-$build HTTP/1.1" "hello /hello-$build"
  check "$build: the server side too: it reads the request (src = client) and writes the response (src = server)" $PY - "$J" $GS "/hello-$build" <<'PYEOF'
import base64, json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"event_payload"' in l]
srv = [e for e in ev if e["pid"] == int(sys.argv[2])]
data = lambda e: base64.b64decode(e["payload_b64"])
rd = [e for e in srv if data(e).startswith(b"GET " + sys.argv[3].encode())]
wr = [e for e in srv if data(e).startswith(b"HTTP/1.1 200") and e["uuid"] in {r["uuid"] for r in rd}]
ok = rd and wr and rd[0]["type"] == 1 and wr[0]["type"] == 3
ok = ok and rd[0]["src_port"] == wr[0]["dst_port"] and rd[0]["dst_port"] == wr[0]["src_port"] and rd[0]["src_ip"] == "127.0.0.1"
sys.exit(0 if ok else 1)
PYEOF
  check "$build: HTTP/2 (ALPN h2): every frame typed by its sender, 2 from the client, 4 from the server, on both ends (lone 9-byte frame header reads too)" \
    $PY - "$J" $P_H2 $GS $GP <<'PYEOF'
import base64, json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"event_payload"' in l]
client, server, port = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
data = lambda e: base64.b64decode(e["payload_b64"])
mine = [e for e in ev if e["pid"] == client]
pre = [e for e in mine if data(e).startswith(b"PRI * HTTP/2.0")]
srv_pre = [e for e in ev if e["pid"] == server and data(e).startswith(b"PRI * HTTP/2.0")]
conn = [e for e in ev if srv_pre and e["uuid"] == srv_pre[0]["uuid"]] + [e for e in mine if pre and e["uuid"] == pre[0]["uuid"]]
up = {e["type"] for e in conn if e["dst_port"] == port and e["type"]}
down = {e["type"] for e in conn if e["src_port"] == port and e["type"]}
lone = [e["type"] for e in conn if e["pid"] == server and e["dst_port"] == port and e["length"] == 9 and data(e)[3] <= 9]
print("# client->server types", up, "server->client", down, "lone 9-byte reads by the server", len(lone), set(lone))
sys.exit(0 if pre and srv_pre and up == {2} and down == {4} and set(lone) <= {2} else 1)
PYEOF
  check "$build: a 1 MiB request body arrives complete and byte-exact, in order, on one uuid" \
    $PY tests/check_capture.py "$J" gobody $P_POST $GP 1048576 7
  check "$build: ... and the server read that body (its own sha256)" grep -q "got 1048576 sha256" "$OUT/$build-post.out"
  check "$build: a 1 MiB response body read by the client arrives complete and byte-exact, in order, on one uuid" \
    $PY tests/check_capture.py "$J" goread $P_BIG $GP 1048576 9
  check "$build: 10,000 small writes give exactly 10,000 write events, 1,000,000 bytes" \
    $PY tests/check_capture.py "$J" writes $P_W 10000 100
  check "$build: 64 goroutines on 64 connections (GOMAXPROCS=2): every event on its own connection's uuid" \
    bash -c "test $prc = 0 && $PY tests/check_capture.py $J parallel $P_PAR 64"
  "$G" loop https://127.0.0.1:$GP $LOOP >"$OUT/$build-loop.out" 2>&1; lrc=$?
  check "$build: $LOOP requests under the probes: client exits 0, the server still runs" \
    bash -c "test $lrc = 0 && grep -q 'loop $LOOP ok' $OUT/$build-loop.out && kill -0 $GS"
  kill $GS; wait $GS 2>/dev/null
done

check "the gotls agent reports no loss and still runs" bash -c "kill -0 $GA && ! grep -q 'capture lost' $OUT/gotls.log"
kill -TERM $GA; wait $GA; rc=$?
check "SIGTERM stops gotls with exit 0" test $rc = 0

# --perf-uprobes: the RET-instruction uprobes one perf event each (kernels before 6.6)
start_ready goperf-srv "$BIN/$GOV-s" server 127.0.0.1:0 "$CERT" "$KEY" && {
  GS=$HPID GP=$HPORT
  start_agent goperf gotls --elfpath "$BIN/$GOV-s" --elfpath "$BIN/$GOV" --perf-uprobes && {
    GT=$AGENT_PID
    consume goperf $AGENT_PORT 30
    "$BIN/$GOV" get https://127.0.0.1:$GP/perf >/dev/null & P_GET=$!; wait $P_GET
    GOMAXPROCS=2 "$BIN/$GOV" parallel https://127.0.0.1:$GP 64 >/dev/null & P_PAR=$!; wait $P_PAR; prc=$?
    settle
    n=$(grep -o -m1 "$BIN/$GOV-s ($GOV): 5 of 5 functions probed, [0-9]* probes attached in [0-9]* link(s)" $OUT/goperf.log | grep -o '[0-9]* probes attached in [0-9]*' | awk '{print ($1 == $5) ? "same" : "differ"}')
    check "--perf-uprobes on Go: one link per probe ($n)" test "$n" = same
    check "--perf-uprobes on Go: a GET on the client's uuid, request and response" \
      $PY tests/check_capture.py $OUT/goperf.json exchange $P_GET $GOV 127.0.0.1 $GP "GET /perf HTTP/1.1" "hello /perf"
    check "--perf-uprobes on Go: 64 goroutines on 64 connections, every event on its own uuid" \
      bash -c "test $prc = 0 && $PY tests/check_capture.py $OUT/goperf.json parallel $P_PAR 64"
    kill -TERM $GT; wait $GT 2>/dev/null
  }
  kill $GS; wait $GS 2>/dev/null
}

# tls --pid N on a Go process finds its executable and probes it
start_ready gopid-srv "${BUILDS[-1]}" server 127.0.0.1:0 "$CERT" "$KEY" && {
  GS=$HPID GP=$HPORT
  start_agent gopid tls --pid $GS
  GT=$AGENT_PID GAP=$AGENT_PORT
  consume gopid $GAP 30
  "$BIN/$GOV" get https://127.0.0.1:$GP/by-pid >/dev/null
  settle
  check "tls --pid N on a Go server: its executable is probed, and only its events come" \
    bash -c "grep -q 'go: ${BUILDS[-1]} (pid $GS) (${GOS[-1]%% *}): 5 of 5 functions probed' $OUT/gopid.log && $PY tests/check_capture.py $OUT/gopid.json only $GS"
  kill -TERM $GT; wait $GT 2>/dev/null
  kill $GS; wait $GS 2>/dev/null
}
