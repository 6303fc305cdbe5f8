# arm64, sourced by test.sh: the cross build (make ARCH=arm64: the agent, the static
# binary, the BPF object) and everything of it that runs without an arm64 kernel, run
# under qemu-user (qemu-aarch64): the unit tests, the hub, the fuzzers' seeds, the stream server
# to a Python client, and the probe plan of arm64 Go programs checked against objdump;
# then the image of both architectures (make image), read back by skopeo.
# Not run here: capture itself on arm64 (the BPF programs loaded into an arm64 kernel);
# the BPF object is checked to be built for arm64's registers.
section "arm64: make ARCH=arm64 from x86-64, its tests under qemu-user"
A=build/arm64
QEMU=qemu-aarch64
XSAN="$SAN -Wall -Wextra -Werror"
# the arm64 test binaries' runtime (libasan, libubsan) is the cross compiler's; LeakSanitizer
# cannot run under qemu-user, ASan and UBSan can
XRUN="env ASAN_OPTIONS=detect_leaks=0 $QEMU -L /usr/aarch64-linux-gnu"
t0=$SECONDS
make -s ARCH=arm64 deps-cross-test >"$OUT/arm64-deps.log" 2>&1; drc=$?
echo "# install step: $((SECONDS - t0)) s"
check "install: Debian's aarch64 cross gcc, libbpf/libelf/zlib for arm64 beside amd64's (multiarch), qemu-user, skopeo" \
  bash -c "test $drc = 0 && dpkg-query -W -f='\${Status}\n' libbpf-dev:amd64 libbpf-dev:arm64 libelf-dev:arm64 zlib1g-dev:arm64 qemu-user skopeo | grep -c 'ok installed' | grep -qx 6 || { cat $OUT/arm64-deps.log >&2; false; }"

# the build: no warnings; the native outputs are not touched
native=$(sha256sum ecaptureq bpf/ecaptureq.bpf.o)
rm -rf "$A"
make -s ARCH=arm64 all static >"$OUT/arm64-build.log" 2>&1; brc=$?
check "make ARCH=arm64 all static: no warnings, into build/arm64/" \
  bash -c "test $brc = 0 && ! grep -q 'warning:' $OUT/arm64-build.log || { cat $OUT/arm64-build.log >&2; false; }"
check "the agent and the static binary are arm64 ELF executables" \
  bash -c "file $A/ecaptureq | grep -q 'ARM aarch64.*dynamically linked' && file $A/ecaptureq-static | grep -q 'ARM aarch64.*statically linked'"
check "the default build is untouched: ./ecaptureq and bpf/ecaptureq.bpf.o are the x86-64 ones, unchanged" \
  bash -c "test \"\$(sha256sum ecaptureq bpf/ecaptureq.bpf.o)\" = '$native' && file ecaptureq | grep -q x86-64"
# clang's own objdump (llvm-14, which clang's recommends bring; unversioned with Debian's llvm)
OBJDUMP=$(command -v llvm-objdump || command -v "$(clang -print-prog-name=llvm-objdump)" || ls /usr/bin/llvm-objdump-* 2>/dev/null | head -1)
progs() { $OBJDUMP -h "$1" | awk '{print $2}' | grep -E '^(uprobe|uretprobe|raw_tracepoint/|kprobe/)' | sort; }
check "the arm64 BPF object is ELF for BPF with the x86-64 object's programs ($(progs $A/ecaptureq.bpf.o | wc -l): uprobe, uretprobe, tracepoints, kprobes)" \
  bash -c "OBJDUMP=$OBJDUMP; $(declare -f progs); readelf -h $A/ecaptureq.bpf.o | grep -q 'Machine: *Linux BPF' && progs $A/ecaptureq.bpf.o | grep -qx 'uprobe' && diff <(progs $A/ecaptureq.bpf.o) <(progs bpf/ecaptureq.bpf.o) >&2"
# what differs is the registers: mmap is system call 222 (9 on x86-64), Go's g is X28
# (offset 28 * 8 = 224 in pt_regs), the uprobe context is user_pt_regs
$OBJDUMP -d --no-show-raw-insn "$A/ecaptureq.bpf.o" >"$OUT/arm64-bpf.txt"
$OBJDUMP -d --no-show-raw-insn bpf/ecaptureq.bpf.o >"$OUT/x86-bpf.txt"
check "the arm64 object reads arm64's registers: mmap is system call 222, g is read at X28 (pt_regs + 224)" \
  bash -c "grep -q 'if r[0-9] != 222 goto' $OUT/arm64-bpf.txt && grep -q 'if r[0-9] != 9 goto' $OUT/x86-bpf.txt && grep -q '(u64 \*)(r[0-9] + 224)' $OUT/arm64-bpf.txt && strings -a $A/ecaptureq.bpf.o | grep -qx user_pt_regs"
check "the static binary and the agent (arm64 libbpf from multiarch) run under $QEMU" \
  bash -c "$QEMU $A/ecaptureq-static --version | grep -q '^ecaptureq ' && $QEMU -L / $A/ecaptureq --version | grep -q '^ecaptureq '"

# the tests of pure functions, built for arm64 with ASan and UBSan
xbuild() { rm -f "$1"; aarch64-linux-gnu-gcc $XSAN -o "$@" && test -x "$1"; }
rm -f "$BIN"/arm64-*
# the unit tests and the hub side by side (2 CPUs); the fuzzers' replay build (every
# target in one binary, with capture for the planner) goes on meanwhile, checked below
xbuild "$BIN/arm64-fuzz" -DFUZZ_REPLAY -DECQ_BPF_OBJ="\"$A/ecaptureq.bpf.o\"" -DECQ_HAVE_ZLIB -DECAPTUREQ_NO_MAIN \
  tests/fuzz.c ecaptureq.c -lbpf -lelf -lz >"$OUT/arm64-fuzz.build" 2>&1 & FZB=$!
xbuild "$BIN/arm64-unit" -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -DECQ_HAVE_ZLIB tests/unit.c ecaptureq.c -lz & UB=$!
xbuild "$BIN/arm64-hub" -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN tests/hub.c ecaptureq.c
wait $UB
check "the unit tests and the hub build for arm64 (ASan+UBSan, -Werror)" test -x "$BIN/arm64-hub" -a -x "$BIN/arm64-unit"
$XRUN "$BIN/arm64-unit" >"$OUT/arm64-unit.txt" 2>&1; urc=$?
"$BIN/unit" >"$OUT/x86-unit.txt" 2>&1
check "unit on arm64: SHA-1, base64, UTF-8, URL, handshake, frames, protobuf, ELF, RET sites: $(grep -c '^ok' "$OUT/arm64-unit.txt") pass, none fail, the same as on x86-64" \
  bash -c "test $urc = 0 && ! grep -q '^not ok\|runtime error\|Sanitizer' $OUT/arm64-unit.txt && diff <(grep '^ok' $OUT/arm64-unit.txt) <(grep '^ok' $OUT/x86-unit.txt) >&2"
rm -rf "$OUT/pb-arm64" "$OUT/pb-x86" && mkdir -p "$OUT/pb-arm64" "$OUT/pb-x86"
$XRUN "$BIN/arm64-unit" samples "$OUT/pb-arm64" && "$BIN/unit" samples "$OUT/pb-x86"
check "protobuf: the arm64 encoder writes the x86-64 encoder's bytes ($(ls "$OUT/pb-x86" | wc -l) samples, 2 MiB payload among them)" \
  diff -r "$OUT/pb-arm64" "$OUT/pb-x86"
$XRUN "$BIN/arm64-hub" >"$OUT/arm64-hub.txt" 2>"$OUT/arm64-hub.err"; hrc=$?
check "the hub on arm64 (socketpair WebSocket clients): $(grep -c '^ok' "$OUT/arm64-hub.txt") pass, exit 0, no sanitizer report" \
  bash -c "test $hrc = 0 && ! grep -q '^not ok' $OUT/arm64-hub.txt && ! grep -q 'runtime error\|Sanitizer' $OUT/arm64-hub.err"

# the stream server on arm64, its protobuf over WebSocket decoded by protoc's Python
ECQ="$QEMU $A/ecaptureq-static"
if start_gen arm64-py --events 3000 --size 300 --wait-clients 1 --heartbeat 1; then
  $PY tests/consume.py ws://127.0.0.1:$PORT/ --events 3000 --seconds 60 >"$OUT/arm64-py.json"
  check "the arm64 server to python3-websockets + protoc's Python: 3000 events with every field as sent" \
    $PY tests/check_gen.py "$OUT/arm64-py.json" 3000 300
  kill $GEN_PID 2>/dev/null; wait $GEN_PID 2>/dev/null
fi
ECQ=./ecaptureq

# Go on arm64: a program built with GOARCH=arm64 by Debian's Go (symbol table layout
# 0xfffffff0) and the newest from Debian's archive (0xfffffff1), normal and stripped
CACHE=${ECQ_TEST_CACHE:-/var/cache/ecaptureq-tests}
export GOCACHE=$CACHE/go-build GOPATH=$OUT/go-path GO111MODULE=off GOFLAGS= GOTOOLCHAIN=local HOME=${HOME:-/root}
mkdir -p "$GOCACHE"
AGOS=("$(go env GOVERSION) $(command -v go)")
mapfile -t -O 1 AGOS < <(tests/go-toolchains.sh "$CACHE/toolchains" 1.27 2>"$OUT/arm64-go-toolchains.log")
# list_funcs FILE: the plan's function lines (what is probed where)
list_funcs() { grep '^crypto/tls' "$1"; }
for gv in "${AGOS[@]}"; do
  read -r GOV GO <<<"$gv"
  B=$BIN/arm64-$GOV
  if ! (cd tests/gotls && GOARCH=arm64 "$GO" build -o "$B" main.go && GOARCH=arm64 "$GO" build -ldflags='-s -w' -o "$B-s" main.go) >"$OUT/arm64-build-$GOV.log" 2>&1; then
    bad "$GOV: the Go test program builds with GOARCH=arm64 (see $OUT/arm64-build-$GOV.log)"
    continue
  fi
  $QEMU $A/ecaptureq-static gotls --elfpath "$B" --list >"$OUT/arm64-golist-$GOV.txt" 2>&1; r1=$?
  $QEMU $A/ecaptureq-static gotls --elfpath "$B-s" --list >"$OUT/arm64-golist-$GOV-s.txt" 2>&1; r2=$?
  check "$GOV GOARCH=arm64: the arm64 agent's gotls --list finds the 5 functions through .symtab" \
    bash -c "file $B | grep -q 'ARM aarch64' && test $r1 = 0 && test \$(grep -c '^crypto/tls.(\*Conn).* .symtab 0x' $OUT/arm64-golist-$GOV.txt) = 5 && grep -q '^$B: $GOV\$' $OUT/arm64-golist-$GOV.txt"
  same=$(diff <(list_funcs "$OUT/arm64-golist-$GOV.txt" | sed 's/ .symtab / /') <(list_funcs "$OUT/arm64-golist-$GOV-s.txt" | sed 's/ .gopclntab / /') >/dev/null && echo yes)
  check "$GOV GOARCH=arm64: ... and the same addresses and RETs through .gopclntab in the stripped build" \
    bash -c "test $r2 = 0 && test \$(grep -c ' .gopclntab 0x' $OUT/arm64-golist-$GOV-s.txt) = 5 && test '$same' = yes"
  aarch64-linux-gnu-objdump -d -j .text --no-show-raw-insn "$B" >"$OUT/arm64-objdump.txt"
  for fn in 'crypto/tls.(*Conn).Read' 'crypto/tls.(*Conn).writeRecordLocked' 'crypto/tls.(*Conn).serverHandshake' 'crypto/tls.(*Conn).clientHandshake'; do
    want=$(awk -v f="<$fn>:" '$2 == f {on=1; next} on && /^$/ {exit} on && $2 == "ret" {sub(":", "", $1); print "0x" $1}' "$OUT/arm64-objdump.txt" | tr '\n' ' ')
    got=$(grep -F "$fn " "$OUT/arm64-golist-$GOV.txt" | grep -o 'ret 0x[0-9a-f]*' | cut -c5- | tr '\n' ' ')
    check "$GOV GOARCH=arm64: $fn: the RET addresses are aarch64 objdump's ($got)" test -n "$got" -a "$got" = "$want"
  done
  rm -f "$OUT/arm64-objdump.txt"
  ./ecaptureq gotls --elfpath "$B-s" --list >"$OUT/x86-golist-$GOV-s.txt" 2>&1; r3=$?
  check "$GOV GOARCH=arm64: the x86-64 agent plans it as arm64 (the same lines) and refuses it: exit 1, one line why" \
    bash -c "$(declare -f list_funcs); test $r3 = 1 && grep -qx '$B-s: $GOV: an arm64 file: this ecaptureq is built for x86-64 (its arm64 build probes it as planned)' $OUT/x86-golist-$GOV-s.txt && diff <(list_funcs $OUT/x86-golist-$GOV-s.txt) <(list_funcs $OUT/arm64-golist-$GOV-s.txt) >&2"
done
GOV=$(go env GOVERSION)
# Go before 1.18 passed arguments on the stack on arm64: the version in the build
# information made 1.17 (1.17 is enough on amd64)
$PY - "$BIN/arm64-$GOV" "$OUT/arm64-go117" <<'PYEOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
v = b.find(b"go1.", b.find(b"\xff Go buildinf:"))
b[v:v + 6] = b"go1.17"
open(sys.argv[2], "wb").write(b)
PYEOF
$QEMU $A/ecaptureq-static gotls --elfpath "$OUT/arm64-go117" --list >"$OUT/arm64-go117.txt" 2>&1; r1=$?
check "a Go 1.17 arm64 build (stack ABI there) is refused: exit 1, 'built by a Go before 1.18 (stack ABI on arm64)'" \
  bash -c "test $r1 = 1 && head -1 $OUT/arm64-go117.txt | grep -q 'built by a Go before 1.18 (stack ABI on arm64)'"
(cd tests/gotls && go build -o "$BIN/x86-$GOV" main.go) >"$OUT/x86-build-$GOV.log" 2>&1
$QEMU $A/ecaptureq-static gotls --elfpath "$BIN/x86-$GOV" --list >"$OUT/arm64-x86go.txt" 2>&1; r1=$?
check "the arm64 agent on an x86-64 Go program: exit 1, 'an x86-64 file: this ecaptureq is built for arm64'" \
  bash -c "test $r1 = 1 && head -1 $OUT/arm64-x86go.txt | grep -q 'an x86-64 file: this ecaptureq is built for arm64'"

# Discovery never probes another machine's code: any process may map any file for
# execution, so an x86-64 process maps copies of arm64's and x86-64's libssl.so.3 the
# way a loader does (PROT_EXEC); the x86-64 one is probed, the arm64 one left alone
# without a word. (qemu-user itself maps guest code without PROT_EXEC on the host.)
if [ "$(id -u)" = 0 ] && start_agent arm64-disc tls; then
  D=$OUT/arm64-libs && rm -rf "$D" && mkdir -p "$D/arm64" "$D/x86"
  cp /usr/lib/aarch64-linux-gnu/libssl.so.3 "$D/arm64/" && cp "$(ldconfig -p | awk '$1 == "libssl.so.3" && /x86-64/ {print $NF; exit}')" "$D/x86/"
  $PY - "$D/arm64/libssl.so.3" "$D/x86/libssl.so.3" <<'PYEOF' &
import mmap, sys, time
files = [open(p, "rb") for p in sys.argv[1:]]
maps = [mmap.mmap(f.fileno(), 0, mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_EXEC) for f in files]
time.sleep(5)
PYEOF
  MP=$!
  wait_log "$OUT/arm64-disc.log" "openssl: $D/x86/libssl.so.3 (pid $MP): 5 of 5 functions probed" 5; seen=$?
  kill $MP 2>/dev/null; wait $MP 2>/dev/null
  check "discovery: an x86-64 process mapping arm64's libssl.so.3 executable gets no probe and no error; the x86-64 copy beside it is probed" \
    bash -c "test $seen = 0 && ! grep -q 'an arm64 file\|$D/arm64' $OUT/arm64-disc.log || { tail -5 $OUT/arm64-disc.log >&2; false; }"
  kill $AGENT_PID 2>/dev/null; wait $AGENT_PID 2>/dev/null
fi

# the fuzzers' seeds through the arm64 build (no libFuzzer for arm64 here: a replay main),
# two targets at a time
wait $FZB
check "the fuzzers' replay build for arm64 (every target in one binary, ASan+UBSan, -Werror)" \
  bash -c "test -x $BIN/arm64-fuzz || { cat $OUT/arm64-fuzz.build >&2; false; }"
FZ=(handshake frames protobuf url x86 elf plan pcapng http) FZP=()
for i in "${!FZ[@]}"; do
  f=${FZ[$i]} seeds=tests/corpus/${FZ[$i]} extra=()
  case $f in plan) seeds=tests/corpus/elf ;; esac
  case $f in elf|plan) extra=("$BIN"/arm64-go1* "$A/ecaptureq-static" ./ecaptureq) ;; esac
  ECQ_FUZZ=$f $XRUN "$BIN/arm64-fuzz" "$seeds" "${extra[@]}" >"$OUT/arm64-fuzz-$f.out" 2>"$OUT/arm64-fuzz-$f.err" &
  FZP+=($!)
  # by pid: a bare wait would also wait for what earlier areas left running
  if [ $((i % 2)) = 1 ]; then wait "${FZP[@]}"; FZP=(); fi
done
wait "${FZP[@]}"
for f in "${FZ[@]}"; do
  n=$(grep -o '^[0-9]* inputs$' "$OUT/arm64-fuzz-$f.out")
  check "fuzz $f: its seeds$(case $f in elf|plan) echo ' and the arm64 Go programs and agents' ;; esac) through the arm64 build ($n), no assert or sanitizer report" \
    bash -c "test -n '$n' && ! grep -q 'runtime error\|Assertion\|Sanitizer' $OUT/arm64-fuzz-$f.err"
done
# the image of both architectures' static binaries, written without a container engine;
# skopeo (containers/image, what podman and CRI-O use) reads it as a registry client would
make -s image >"$OUT/image.log" 2>&1; irc=$?
check "make image: build/ecaptureq-image.tar (amd64 + arm64, $(stat -c %s build/ecaptureq-image.tar 2>/dev/null) bytes), one archive per architecture" \
  bash -c "test $irc = 0 && test -s build/ecaptureq-image.tar && test -s build/ecaptureq-image-amd64.tar && test -s build/ecaptureq-image-arm64.tar || { cat $OUT/image.log >&2; false; }"
check "skopeo: the archive's index lists linux/amd64 and linux/arm64, and copies whole (every digest and size checked)" \
  bash -c "skopeo inspect --raw oci-archive:build/ecaptureq-image.tar | $PY -c 'import json, sys; m = json.load(sys.stdin)[\"manifests\"]; sys.exit(sorted(d[\"platform\"][\"architecture\"] for d in m) != [\"amd64\", \"arm64\"])' && rm -rf $OUT/img-all && skopeo copy -q --all oci-archive:build/ecaptureq-image.tar oci:$OUT/img-all:t"
for a in amd64 arm64; do
  rm -rf "$OUT/img-$a" "$OUT/img-$a-root" && mkdir -p "$OUT/img-$a-root"
  skopeo copy -q --override-arch $a --override-os linux oci-archive:build/ecaptureq-image.tar dir:"$OUT/img-$a" &&
    layer=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"][7:])' "$OUT/img-$a/manifest.json") &&
    tar -xzf "$OUT/img-$a/$layer" -C "$OUT/img-$a-root"
  run=$([ $a = arm64 ] && echo $QEMU)
  check "image for $a: one file, /ecaptureq, mode 0755, build/$a/ecaptureq-static byte for byte; it runs$([ -n "$run" ] && echo ' (under qemu)')" \
    bash -c "test \"\$(cd $OUT/img-$a-root && find . -type f)\" = ./ecaptureq && test \$(stat -c %a $OUT/img-$a-root/ecaptureq) = 755 && cmp build/$a/ecaptureq-static $OUT/img-$a-root/ecaptureq && $run $OUT/img-$a-root/ecaptureq --version | grep -q '^ecaptureq '"
  check "image for $a: its config says $a, entry point /ecaptureq tls, port 28257; docker save's form reads alike" \
    bash -c "skopeo inspect --config --override-arch $a oci-archive:build/ecaptureq-image.tar | $PY -c 'import json, sys; c = json.load(sys.stdin); sys.exit(not (c[\"architecture\"] == \"$a\" and c[\"config\"][\"Entrypoint\"] == [\"/ecaptureq\"] and c[\"config\"][\"Cmd\"][0] == \"tls\" and \"28257/tcp\" in c[\"config\"][\"ExposedPorts\"]))' && skopeo inspect docker-archive:build/ecaptureq-image-$a.tar | grep -q '\"Architecture\": \"$a\"'"
done
deploy/oci-image.sh ecaptureq:latest "$OUT/img-again" amd64=build/amd64/ecaptureq-static arm64=build/arm64/ecaptureq-static >/dev/null
check "the image archive is reproducible: written again from the same binaries, the same bytes" cmp build/ecaptureq-image.tar "$OUT/img-again/ecaptureq-image.tar"

skip "capture on arm64 (BPF programs in an arm64 kernel, probes on arm64 TLS programs): needs an arm64 machine; checked here are the build, the BPF object's programs and registers, and the plan"
