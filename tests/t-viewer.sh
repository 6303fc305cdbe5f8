# the browser viewer: the page the agent serves to a plain GET, driven in Debian's
# headless Chromium by playwright-core (tests/web/viewer.mjs); screenshots in tests/out
section "viewer: the page in a real browser"
if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  { apt-get update -qq && apt-get install -y -qq nodejs npm; } >"$OUT/apt-node.log" 2>&1
fi
# npm ci when playwright-core is missing or is not the version the lockfile pins (a tree
# installed before the pin changed would otherwise test with the old one)
if command -v npm >/dev/null 2>&1 && ! (cd tests/web && node -e '
    const v = f => JSON.parse(require("fs").readFileSync(f, "utf8"));
    process.exit(v("node_modules/playwright-core/package.json").version ===
                 v("package-lock.json").packages["node_modules/playwright-core"].version ? 0 : 1)' 2>/dev/null); then
  (cd tests/web && npm ci --no-audit --no-fund --loglevel=error >"$OUT/npm.log" 2>&1)
fi
# the page's protobuf reader, cut out of the page as it is, in Node
if command -v node >/dev/null 2>&1; then
  mkdir -p "$OUT/pb" && "$BIN/unit" samples "$OUT/pb"
  printf '%s\n' 'log_type: 2' 'event_payload { timestamp: 42 uuid: "u" pid: -7 pname: "x" payload: "abc" extra_double: 2.5 extra_fixed: 9 extra_packed: [1, 2, 300] extra_sub { note: "n" } }' \
    'extra_tail: "tail" extra_fixed64: 77 extra_sint: -3' | protoc --encode=event.LogEntry --proto_path=tests tests/extended.proto >"$OUT/ext.bin"
  timeout 120 node tests/web/decode.mjs web/viewer.html "$OUT" >"$OUT/decode.out" 2>&1
  tally <"$OUT/decode.out"
  check "viewer: the page's protobuf reader checks all ran (no crash part-way, see $OUT/decode.out)" \
    grep -q '^# decode.mjs: every check ran' "$OUT/decode.out"
else
  bad "viewer: node is installed (as root ./test.sh installs nodejs and npm)"
fi
if ! command -v chromium >/dev/null 2>&1 || [ ! -d tests/web/node_modules/playwright-core ]; then
  bad "viewer: chromium and playwright-core are installed (see $OUT/npm.log; as root ./test.sh installs them)"
else
  # the library build with the page switched in, under ASan+UBSan: hostile payloads
  cc $SAN -Wall -Wextra -Werror -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -DECQ_VIEWER='"web/viewer.html"' \
    -o "$BIN/embed-viewer" tests/embed.c ecaptureq.c
  check "the library build takes the page with -DECQ_VIEWER (libc only, -Werror)" test -x "$BIN/embed-viewer"
  tally < <(timeout 300 node tests/web/viewer.mjs ./ecaptureq "$BIN/embed-viewer" "$OUT" 2>&1)
  check "viewer: the screenshots were taken (tests/out/viewer.png, viewer-narrow.png)" \
    bash -c "test -s $OUT/viewer.png && test -s $OUT/viewer-narrow.png"
fi
