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
curl -s -D "$OUT/page.head" -o "$OUT/page.html" --max-time 3 http://127.0.0.1:$PORT/
check "curl: plain GET -> 200, the viewer page, with a nonce-only Content-Security-Policy" bash -c "
  head -1 $OUT/page.head | grep -q '^HTTP/1.1 200' && grep -qi '^Content-Type: text/html; charset=utf-8' $OUT/page.head &&
  n=\$(grep -io \"^Content-Security-Policy: default-src 'none'; script-src 'nonce-[A-Za-z0-9+/]*'\" $OUT/page.head | grep -o 'nonce-.*' | tr -d \"'\") &&
  test \$(grep -c \"nonce=\\\"\${n#nonce-}\\\"\" $OUT/page.html) = 2 && ! grep -q '{{' $OUT/page.html &&
  test \$(stat -c %s $OUT/page.html) = \$(grep -i '^Content-Length' $OUT/page.head | tr -dc 0-9)"
check "curl: two GETs get two different nonces" bash -c "test \"\$(curl -s -D - -o /dev/null http://127.0.0.1:$PORT/ | grep -i nonce)\" != \"\$(grep -i nonce $OUT/page.head)\""
check "curl: plain GET with a rebinding Host -> 403" test "$(cstatus -H "Host: evil.example:$PORT" http://127.0.0.1:$PORT/)" = 403
check "curl: plain GET of another path -> 404" test "$(cstatus http://127.0.0.1:$PORT/x)" = 404
check "curl: HEAD -> 405" test "$(cstatus -I http://127.0.0.1:$PORT/)" = 405
check "curl: bad key -> 400" test "$(cstatus -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: abc' http://127.0.0.1:$PORT/)" = 400
check "curl: 9 KiB header -> 431" test "$(cstatus "${H[@]}" -H 'Sec-WebSocket-Version: 13' -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" http://127.0.0.1:$PORT/)" = 431
check "curl: foreign Origin -> 403" test "$(cstatus "${H[@]}" -H 'Sec-WebSocket-Version: 13' -H 'Origin: https://evil.example' http://127.0.0.1:$PORT/)" = 403
check "curl: rebinding Host -> 403" test "$(cstatus "${H[@]}" -H 'Sec-WebSocket-Version: 13' -H "Host: evil.example:$PORT" http://127.0.0.1:$PORT/)" = 403
# Sec-WebSocket-Protocol: the answer names ecaptureq.batch only when it is offered as a
# whole token (RFC 6455 4.2.2: never a protocol the client did not offer)
proto_answer() { proto_fields "Sec-WebSocket-Protocol: $1"; }
proto_fields() { # the status and the protocol named, for the header fields given
  local f=() x
  for x in "$@"; do f+=(-H "$x"); done
  curl -s -N -D - -o /dev/null --max-time 1 "${H[@]}" -H 'Sec-WebSocket-Version: 13' "${f[@]}" \
    http://127.0.0.1:$PORT/ 2>/dev/null | tr -d '\r' | awk 'NR == 1 {print $2} tolower($1) == "sec-websocket-protocol:" {print $2}' | tr '\n' ' '
}
check "curl: Sec-WebSocket-Protocol 'chat,  ecaptureq.batch ' -> 101 naming ecaptureq.batch" test "$(proto_answer 'chat,  ecaptureq.batch ')" = "101 ecaptureq.batch "
for v in 'ecaptureq.batchx' 'xecaptureq.batch, chat' 'ecaptureq.batch.v2' ',,,' '""' 'ecaptureq batch'; do
  check "curl: Sec-WebSocket-Protocol '$v' -> 101 naming no protocol" test "$(proto_answer "$v")" = "101 "
done
check "curl: two Sec-WebSocket-Protocol fields, 'chat' then 'ecaptureq.batch' -> 101 naming ecaptureq.batch" \
  test "$(proto_fields 'Sec-WebSocket-Protocol: chat' 'Sec-WebSocket-Protocol: ecaptureq.batch')" = "101 ecaptureq.batch "
check "curl: ecaptureq.batch in fields that only look like it (X-Sec-WebSocket-Protocol, Sec-WebSocket-Protocols) -> 101 naming no protocol" \
  test "$(proto_fields 'X-Sec-WebSocket-Protocol: ecaptureq.batch' 'Sec-WebSocket-Protocols: ecaptureq.batch')" = "101 "

section "RFC 6455 over raw sockets"
tally < <(unpriv $PY tests/wsraw.py 127.0.0.1 $PORT 2>&1)
tally < <(unpriv $PY tests/faults.py gui $PORT 2>&1)
check "the server logged each refusal and kept running" bash -c "grep -q 'refused with 431' $OUT/curl.log && kill -0 $GEN_PID"
kill $GEN_PID; wait $GEN_PID 2>/dev/null
start_gen noviewer --no-viewer || return 0
check "curl: plain GET with --no-viewer -> 400 (a GET is not a handshake)" test "$(cstatus http://127.0.0.1:$PORT/)" = 400
kill $GEN_PID; wait $GEN_PID 2>/dev/null

section "the subprotocol ecaptureq.batch (the viewer's): many LogEntry to a message"
start_gen batch --events 3000 --wait-clients 2 --stay || return 0
tally < <(unpriv timeout 60 $PY tests/batch.py $PORT 3000 2>&1)
kill $GEN_PID; wait $GEN_PID 2>/dev/null
