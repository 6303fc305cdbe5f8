# pure functions (ASan+UBSan) and our protobuf against protoc
section "unit: SHA-1, base64, accept key, UTF-8, URL, handshake, frames, protobuf (ASan+UBSan)"
tally < <("$BIN/unit" 2>&1; echo "exit $?" >"$OUT/unit.rc")
grep -q "exit 0" "$OUT/unit.rc" || bad "unit binary exits 0 (sanitizer report or failure above)"

section "the hub in one process: socketpair clients (ASan+UBSan)"
tally < <("$BIN/hub" 2>"$OUT/hub.err"; echo "exit $?" >"$OUT/hub.rc")
check "hub binary exits 0 with no sanitizer report" bash -c "grep -q 'exit 0' $OUT/hub.rc && ! grep -q 'Sanitizer\|runtime error' $OUT/hub.err"

section "protobuf against protoc"
mkdir -p "$OUT/pb"
"$BIN/unit" samples "$OUT/pb"
pdecode() { protoc --decode=event.LogEntry --proto_path=. ecaptureq.proto <"$OUT/pb/$1.bin"; }
check "protoc decodes a C-encoded event with every field" bash -c "$(declare -f pdecode); OUT=$OUT; pdecode event | tr -d '\n' | grep -q 'log_type: LOG_TYPE_EVENTevent_payload {  timestamp: 1795663888085399074  uuid: \"2785_2785_curl_5\"  src_ip: \"127.0.0.1\"  src_port: 34722  dst_ip: \"::1\"  dst_port: 8443  pid: 2785  pname: \"curl\"  type: 1  length: 27  payload: \"GET / HTTP/1.1\\\\r\\\\nHost: a\\\\r\\\\n\\\\r\\\\n\"}'"
check "protoc decodes a heartbeat (log_type 0 omitted, starts with field 3)" bash -c "OUT=$OUT; $(declare -f pdecode); pdecode heartbeat | tr -d '\n' | grep -qx 'heartbeat_payload {  timestamp: 1795663888  count: 3  message: \"heartbeat:3\"}' && head -c1 $OUT/pb/heartbeat.bin | od -An -tx1 | grep -q 1a"
check "protoc decodes negative and minimal int64" bash -c "OUT=$OUT; $(declare -f pdecode); pdecode negative | tr -d '\n' | grep -qx 'heartbeat_payload {  timestamp: -9223372036854775808  count: -1}'"
check "protoc decodes a UTF-8 run log" bash -c "OUT=$OUT; $(declare -f pdecode); pdecode runlog | grep -q 'run_log: \"caf\\\\303\\\\251 run log'"
check "protoc decodes a 2 MiB payload with maximal values and empty fields omitted" bash -c "OUT=$OUT; $(declare -f pdecode); pdecode big >$OUT/big.txt && grep -q 'timestamp: 9223372036854775807' $OUT/big.txt && grep -q 'src_port: 4294967295' $OUT/big.txt && grep -q 'length: 2097152' $OUT/big.txt && ! grep -q 'uuid\|dst_port' $OUT/big.txt && test \$(grep payload: $OUT/big.txt | wc -c) -gt 2097152"
check "protoc decodes an empty event (the oneof member is still present)" bash -c "OUT=$OUT; $(declare -f pdecode); pdecode emptyevent | tr -d '\n ' | grep -qx 'log_type:LOG_TYPE_EVENTevent_payload{}'"
printf '%s\n' 'log_type: 2' 'event_payload { timestamp: 42 uuid: "u" pid: -7 pname: "x" payload: "abc" extra_double: 2.5 extra_fixed: 9 extra_packed: [1, 2, 300] extra_sub { note: "n" } }' \
  'extra_tail: "tail" extra_fixed64: 77 extra_sint: -3' >"$OUT/ext.txt"
protoc --encode=event.LogEntry --proto_path=tests tests/extended.proto <"$OUT/ext.txt" >"$OUT/ext.bin"
check "our decoder skips unknown fields of every wire type (message from extended.proto)" \
  bash -c "$BIN/unit decode $OUT/ext.bin | tr '\n' ' ' | grep -q 'log_type=2 case=2 timestamp=42 uuid=u src=:0 dst=:0 pid=-7 pname=x type=0 length=0 payload=abc'"

