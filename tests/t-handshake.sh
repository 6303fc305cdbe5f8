# curl-style handshake tests and RFC 6455 probes over raw sockets against gen
section "curl handshake and refusals"
start_gen curl --rate 20 --heartbeat 1 || return 0
curl -si -N --max-time 2 -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
  -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' http://127.0.0.1:$PORT/ >"$OUT/curl101.txt" 2>/dev/null
check "curl gets 101 with Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" \
  bash -c "head -1 $OUT/curl101.txt | grep -q '^HTTP/1.1 101' && grep -q \$'^Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\$' $OUT/curl101.txt"
check "curl then receives binary frames (replay and events)" bash -c "test \$(wc -c <$OUT/curl101.txt) -gt 400 && grep -aq 'listening on' $OUT/curl101.txt"
cstatus() { curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@"; }
H=(-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==')
check "curl: version 8 -> 426" test "$(cstatus "${H[@]}" -H 'Sec-WebSocket-Version: 8' http://127.0.0.1:$PORT/)" = 426
check "curl: POST -> 405" test "$(cstatus -X POST "${H[@]}" -H 'Sec-WebSocket-Version: 13' http://127.0.0.1:$PORT/)" = 405
check "curl: other path -> 404" test "$(cstatus "${H[@]}" -H 'Sec-WebSocket-Version: 13' http://127.0.0.1:$PORT/nope)" = 404
check "curl: plain GET -> 400" test "$(cstatus http://127.0.0.1:$PORT/)" = 400
check "curl: bad key -> 400" test "$(cstatus -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: abc' http://127.0.0.1:$PORT/)" = 400
check "curl: 9 KiB header -> 431" test "$(cstatus "${H[@]}" -H 'Sec-WebSocket-Version: 13' -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" http://127.0.0.1:$PORT/)" = 431
check "curl: foreign Origin -> 403" test "$(cstatus "${H[@]}" -H 'Sec-WebSocket-Version: 13' -H 'Origin: https://evil.example' http://127.0.0.1:$PORT/)" = 403
check "curl: rebinding Host -> 403" test "$(cstatus "${H[@]}" -H 'Sec-WebSocket-Version: 13' -H "Host: evil.example:$PORT" http://127.0.0.1:$PORT/)" = 403

section "RFC 6455 over raw sockets"
tally < <($PY tests/wsraw.py 127.0.0.1 $PORT 2>&1)
check "the server logged each refusal and kept running" bash -c "grep -q 'refused with 431' $OUT/curl.log && kill -0 $GEN_PID"
kill $GEN_PID; wait $GEN_PID 2>/dev/null

