#!/usr/bin/env bash
# prebuild.sh AREA...: the programs later areas build from ecaptureq.c (sanitizer builds
# take seconds each), built one after another in the background while the first areas
# run: their tests mostly wait on sockets, so the second CPU is free. Each program NAME
# goes to tests/bin/NAME; tests/out/prebuild/NAME.rc holds its compiler's exit status
# and NAME.log its output. An area waits for its program with `built NAME` (lib.sh).
set -u
cd "$(dirname "$0")/.."
BIN=tests/bin OUT=tests/out/prebuild
SAN=${SAN:?the sanitizer flags, from tests/lib.sh (test.sh passes them)}
CAP=(-DECQ_BPF_OBJ='"bpf/ecaptureq.bpf.o"')
mkdir -p "$OUT"
build() {
  local name=$1; shift
  rm -f "$BIN/$name"
  "$@" >"$OUT/$name.log" 2>&1
  echo $? >"$OUT/$name.rc.tmp" && mv "$OUT/$name.rc.tmp" "$OUT/$name.rc"
}
for area in "$@"; do
  case $area in
    hub) build ecaptureq-asan cc $SAN -Wall -Wextra -DECAPTUREQ_NO_BPF -o $BIN/ecaptureq-asan ecaptureq.c ;;
    watch) build h2_stream cc -O1 -g -Wall -Wextra -Werror -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -o $BIN/h2_stream tests/h2_stream.c ecaptureq.c -lz ;;
    embed)
      build embed_server cc $SAN -Wall -Wextra -Werror -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -o $BIN/embed_server tests/embed_server.c ecaptureq.c
      build embed cc $SAN -Wall -Wextra -Werror -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -o $BIN/embed tests/embed.c ecaptureq.c
      build embed_capture cc $SAN -Wall -Wextra -Werror -DECAPTUREQ_NO_MAIN "${CAP[@]}" -o $BIN/embed_capture tests/embed_capture.c ecaptureq.c -lbpf -lelf -lz
      build embed_sink cc $SAN -Wall -Wextra -Werror -DECAPTUREQ_NO_MAIN "${CAP[@]}" -o $BIN/embed_sink tests/embed_sink.c ecaptureq.c -lbpf -lelf -lz ;;
    capture) build ecaptureq-asan-tls cc $SAN -Wall -Wextra "${CAP[@]}" -o $BIN/ecaptureq-asan-tls ecaptureq.c -lbpf -lelf -lz ;;
  esac
done
