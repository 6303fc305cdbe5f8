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
  # the page's HPACK decoder, cut out the same way, on RFC 7541 C.2-C.6 as the C decoder decoded them
  timeout 120 node tests/web/hpack.mjs web/viewer.html "$OUT/pb" >"$OUT/hpack.out" 2>&1
  tally <"$OUT/hpack.out"
  check "viewer: the page's HPACK checks all ran (see $OUT/hpack.out)" grep -q '^# hpack.mjs: every check ran' "$OUT/hpack.out"
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
  cc -O1 -g -Wall -Wextra -Werror -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -DECQ_VIEWER='"web/viewer.html"' \
    -o "$BIN/h2_stream-viewer" tests/h2_stream.c ecaptureq.c -lz
  tally < <(timeout 600 node tests/web/viewer.mjs ./ecaptureq "$BIN/embed-viewer" "$OUT" "$BIN/h2_stream-viewer" 2>&1)
  check "viewer: the screenshots were taken (tests/out/viewer.png, viewer-narrow.png)" \
    bash -c "test -s $OUT/viewer.png && test -s $OUT/viewer-narrow.png"
fi

# a real capture (root): ecaptureq tls while curl --http2 fetches from nghttpd (IPv4 and
# IPv6) and curl -6 --http1.1 from a Python TLS server on ::1; the page against watch --http
section "viewer: a real capture, HTTP/2 decoded in the page"
if [ "$(id -u)" != 0 ]; then
  skip "viewer capture: needs root"
elif ! command -v chromium >/dev/null 2>&1 || [ ! -d tests/web/node_modules/playwright-core ] || ! command -v nghttpd >/dev/null; then
  bad "viewer capture: chromium, playwright-core and nghttpd are installed"
else
  VCERT=$OUT/vcert.pem VKEY=$OUT/vkey.pem
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$VKEY" -out "$VCERT" -days 2 -subj /CN=localhost 2>/dev/null
  mkdir -p "$OUT/vwww" && echo "hello h2 viewer" >"$OUT/vwww/index.html" && echo "hello v6" >"$OUT/vwww/v6.html"
  if start_agent viewer-tls tls && start_ready vsrv6 $PY tests/tls_server.py ::1 0 "$VCERT" "$VKEY"; then
    VAG=$AGENT_PID
    nghttpd -d "$OUT/vwww" 0 "$VKEY" "$VCERT" >"$OUT/vnghttpd.log" 2>&1 &
    VNG=$!; PIDS+=($VNG)
    VP4= VP6=
    for ((i = 0; i < 100 && (!VP4 || !VP6); i++)); do # nghttpd binds port 0 on each family and does not print them
      VP4=$(ss -Hltnp | awk -v p="pid=$VNG," 'index($0, p) && $4 ~ /^0\.0\.0\.0:/ {sub(/.*:/, "", $4); print $4; exit}')
      VP6=$(ss -Hltnp | awk -v p="pid=$VNG," 'index($0, p) && $4 ~ /^\[::\]:/ {sub(/.*:/, "", $4); print $4; exit}')
      [ -n "$VP4" ] && [ -n "$VP6" ] || sleep 0.1
    done
    tally < <(timeout 180 node tests/web/capture.mjs ./ecaptureq "$AGENT_PORT" "$VP4" "$VP6" "$HPORT" "$OUT" 2>&1)
    check "viewer capture: the screenshots were taken (tests/out/viewer-h2.png, viewer-h2-events.png)" \
      bash -c "test -s $OUT/viewer-h2.png && test -s $OUT/viewer-h2-events.png"
    kill $VNG $HPID 2>/dev/null; kill -TERM $VAG; wait $VNG $HPID $VAG 2>/dev/null
  fi
fi
