# pure functions (ASan+UBSan) and our protobuf against protoc
section "unit: SHA-1, base64, accept key, UTF-8, URL, handshake, frames, protobuf, ELF, HPACK, HTTP/2, gRPC, HTTP/1, merge (ASan+UBSan)"
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

section "ELF lookups on hostile files: bounded work, probes only on code (issue 20, items 2 and 5)"
python3 tests/hostile_elf.py "$OUT/hostile" >/dev/null
"$BIN/unit" elfbench "$OUT"/hostile/* >"$OUT/elfbench.txt" 2>&1
# one line per file: lookups, their total and the slowest (ASan+UBSan build; figures only)
awk -F'\t' '{n[$1]++; t[$1]+=$4; if ($4>w[$1]) w[$1]=$4} END {for (f in n) printf "# %s: %d lookups in %.3f s, slowest %.3f s\n", f, n[f], t[f], w[f]}' "$OUT/elfbench.txt" | sort
row() { awk -F'\t' -v f="$1" -v n="$2" '$1 ~ "/" f "$" && $2 == n {print $3 " " $5}' "$OUT/elfbench.txt"; }
rows_are() { local f=$1 want=$2 n; shift 2; for n; do [ "$(row "$f" "$n")" = "$want" ] || return 1; done; }
check "19 lookups in each of 9 hostile files, every one returns within 1 s (the old parser: 3.7 s to days)" \
  awk -F'\t' 'NF == 5 {n++; if ($4 >= 1) slow++} END {exit !(n == 171 && !slow)}' "$OUT/elfbench.txt"
check "a symbol table of 1,048,577 entries: the file is over the bounds for every name" \
  rows_are symbols-over.so "-2 a symbol table of over 1048576 entries" SSL_write PR_Close "crypto/tls.(*Conn).Read"
check "Go's function table of 1,048,577 entries: over the bounds" \
  rows_are pclntab-over.go "-2 a Go function table of over 1048576 entries" SSL_read "crypto/tls.(*Conn).Close"
check "fake libssl.so.3: SSL_write, SSL_read (read-only segment), SSL_read_ex (past p_filesz), SSL_write_ex (across the end) refused" \
  rows_are fake-libssl.so.3 "-3 not in the file part of an executable segment" SSL_write SSL_read SSL_read_ex SSL_write_ex
check "fake libssl.so.3: SSL_free, inside the executable segment, is found" rows_are fake-libssl.so.3 "0 .symtab" SSL_free
check "a Go function in a data segment (found in the pclntab) is refused" \
  rows_are pclntab-data.go "-3 not in the file part of an executable segment" "crypto/tls.(*Conn).Read"
libs=$(for l in libssl.so.3 libgnutls.so.30 libnspr4.so; do ldconfig -p | awk -v l=$l '$1 == l && /x86-64/ {print $NF; exit}'; done)
"$BIN/unit" elfbench $libs >"$OUT/elfbench-real.txt" 2>&1
check "the system's libssl, GnuTLS and NSPR: all 13 functions capture probes are found in executable code" \
  test "$(awk -F'\t' '$3 == 0' "$OUT/elfbench-real.txt" | wc -l)" = 13
