#!/usr/bin/env bash
# ecaptureq's tests: sudo ./test.sh [AREA...]
# Installs what the tests need (Debian/Ubuntu, as root), builds, then checks the real
# thing: real sockets, curl, protoc, Python websockets, real TLS programs (C and Go)
# under real BPF programs. Each area is one file, tests/t-AREA.sh; with no AREA every
# one runs. Capture areas need root (they are skipped, and counted, otherwise).
# The last line is "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")"
TOP=$PWD
AREAS="unit handshake cli python hub watch robust embed viewer capture gotls discover hostile deploy arm64"
source tests/lib.sh
trap cleanup EXIT

for a in "$@"; do
  case " $AREAS " in *" $a "*) ;; *) echo "unknown area '$a'; areas: $AREAS" >&2; exit 2 ;; esac
done

section "setup"
if ! command -v make >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq make >/dev/null; fi
make -s deps-test || { echo "0 passed, 1 failed"; exit 1; }
rm -rf "$OUT" && mkdir -p "$OUT" "$BIN"
check "make builds with -Wall -Wextra and no warnings" \
  bash -c "rm -f ecaptureq bpf/ecaptureq.bpf.o && make -s 2>&1 | tee $OUT/build.log >/dev/null && ! grep -q 'warning:' $OUT/build.log && test -x ecaptureq"
check "the server part builds alone (no libbpf, no main) and exports only ecq_ names" make -s symbols
# the test tools, built side by side (2 cores)
cc $SAN -Wall -Wextra -Werror -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -DECQ_HAVE_ZLIB -o "$BIN/unit" tests/unit.c ecaptureq.c -lz & T1=$!
cc $SAN -Wall -Wextra -Werror -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -o "$BIN/hub" tests/hub.c ecaptureq.c & T2=$!
cc -O2 -g -Wall -Wextra -Werror -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -o "$BIN/wsclients" tests/wsclients.c ecaptureq.c &&
wait $T1 && wait $T2 &&
protoc --python_out="$OUT" --proto_path=. ecaptureq.proto || { bad "test tools build"; echo "$PASS passed, $FAIL failed, $SKIP skipped"; exit 1; }

rm -rf "$OUT/prebuild" # no status of an earlier run: `built` waits for this run's builds
SAN=$SAN nice -n 10 tests/prebuild.sh ${*:-$AREAS} & PIDS+=($!)

for area in ${*:-$AREAS}; do
  case $area in
    capture|gotls|discover|hostile|deploy)
      if [ "$(id -u)" != 0 ]; then section "$area"; skip "$area: capture tests need root"; continue; fi ;;
  esac
  AREA_T0=$SECONDS
  source "tests/t-$area.sh"
  echo "# $area area: $((SECONDS - AREA_T0)) s"
done

echo
echo "$PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" = 0 ]
