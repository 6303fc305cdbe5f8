# the command line: bad URLs, flags, ports, bind addresses
section "command line"
./ecaptureq gen --ecaptureq ws://127.0.0.1:28257/x?y >/dev/null 2>"$OUT/e1"; rc=$?
check "a URL with a query exits 2 with one line and an example" bash -c "test $rc = 2 && test \$(wc -l <$OUT/e1) = 1 && grep -q 'ws://127.0.0.1:28257/' $OUT/e1"
# the eCaptureQ GUI's form: no path (RFC 6455 §3: it is "/"), for the server and for watch
start_srv nopath ws://127.0.0.1:0 --events 5 --wait-clients 1 &&
  timeout 10 ./ecaptureq watch ws://127.0.0.1:$PORT --json >"$OUT/nopath.json" 2>&1
check "a URL without a path (ws://127.0.0.1:PORT, as the eCaptureQ GUI writes it): served as /, watch connects, 5 events" \
  bash -c "grep -q 'listening on ws://127.0.0.1:$PORT/' $OUT/nopath.log && test \$(grep -c '\"kind\":\"event\"' $OUT/nopath.json) = 5"
check "gen --events 5 says how many it sends" grep -q "gen: sending 5 events of 256 bytes" "$OUT/nopath.log"

# run-log entries are complete lines (eCapture's end in a newline), text or eCapture's JSON
start_gen logtext --events 2 --wait-clients 1 && $PY tests/consume.py ws://127.0.0.1:$PORT --events 2 >"$OUT/logtext.json"
start_gen logjson --events 2 --wait-clients 1 --log-format json && $PY tests/consume.py ws://127.0.0.1:$PORT --events 2 >"$OUT/logjson.json"
check "run-log entries end in a newline; --log-format json gives eCapture's {level,time,message} lines, on stderr too" \
  $PY - "$OUT/logtext.json" "$OUT/logjson.json" "$OUT/logjson.log" <<'PYEOF'
import json, re, sys
def logs(path):
    return [d["run_log"] for d in map(json.loads, open(path)) if d.get("payload") == "run_log"]
text, js = logs(sys.argv[1]), logs(sys.argv[2])
ok = len(text) >= 3 and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [^\n]+\n", l) for l in text)
parsed = [json.loads(l) for l in js]
ok = ok and len(js) >= 3 and all(l.endswith("}\n") and l.count("\n") == 1 for l in js)
ok = ok and all(set(p) == {"level", "time", "message"} and p["level"] == "info" for p in parsed)
ok = ok and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", p["time"]) for p in parsed)
ok = ok and any(p["message"].startswith("listening on ws://") for p in parsed)
err = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
ok = ok and len(err) >= 3 and err[1]["message"] == parsed[1]["message"]
sys.exit(0 if ok else 1)
PYEOF
for a in "gen --max-pending abc" "gen --max-pending 0" "watch --max-message 10" "watch --idle-timeout -1" \
         "watch --token-file $OUT/no-such-token-file" "gen --stay=yes" "gen --no-viewer=1" "tls --perf-uprobes=yes" \
         "tls --merge-idle 0" "tls --merge-idle 3600001" "tls --merge=1" "tls --merge -w $OUT/never.pcapng"; do
  ./ecaptureq $a >/dev/null 2>"$OUT/e-new.err"; rc=$?
  check "'$a': refused with one line (exit 2, or 1 for an unreadable file)" \
    bash -c "test $rc = 2 -o $rc = 1 && test \$(wc -l <$OUT/e-new.err) = 1"
done
./ecaptureq gen --log-format xml >/dev/null 2>"$OUT/e9"; rc=$?
check "--log-format xml exits 2 with one line" bash -c "test $rc = 2 && test \$(wc -l <$OUT/e9) = 1"
head -c 5000 /dev/zero | tr '\0' t >"$OUT/longtoken"
./ecaptureq gen --token-file "$OUT/longtoken" >/dev/null 2>"$OUT/e10"; rc=$?
check "--token-file with a token longer than 4096 bytes: exit 2, one line (not cut silently)" \
  bash -c "test $rc = 2 && test \$(wc -l <$OUT/e10) = 1 && grep -q 'longer than 4096' $OUT/e10"

# eCapture's command-line forms: its options that mean nothing here get one line naming them
for a in "tls -m keylog" "tls -i eth0" "tls --hex" "tls -k keys.log" \
         "tls --mapsize 1024" "tls -l /tmp/x.log" "tls --eventaddr tcp://127.0.0.1:1" "tls -t 100" "tls -b 1" "tls -d" \
         "tls --ssl_version 3.0" "tls --cgroup_path /sys/fs/cgroup" "tls --listen localhost:28256" "gotls -m keylog" "gnutls --hex"; do
  opt=$(echo "$a" | awk '{print $2}'); opt=${opt%%=*}
  ./ecaptureq $a >/dev/null 2>"$OUT/ecap.err"; rc=$?
  check "eCapture's '$a': exit 2, one line naming $opt" \
    bash -c "test $rc = 2 && test \$(wc -l <$OUT/ecap.err) = 1 && grep -q -- '$opt' $OUT/ecap.err && grep -q 'eCapture option' $OUT/ecap.err"
done
./ecaptureq tls -m text --ringbuf-mb 3 >/dev/null 2>"$OUT/e11"; rc=$?
check "tls -m text is what ecaptureq does: accepted (the next option is the one refused)" bash -c "test $rc = 2 && grep -q 'power of two' $OUT/e11"
./ecaptureq tls -m pcap -w "$OUT/never.pcapng" --ringbuf-mb 3 >/dev/null 2>"$OUT/e14"; rc=$?
check "tls -m pcap -w FILE is eCapture's pcapng form: accepted (the next option is the one refused)" \
  bash -c "test $rc = 2 && grep -q 'power of two' $OUT/e14 && test ! -e $OUT/never.pcapng"
./ecaptureq tls --model=pcapng >/dev/null 2>"$OUT/e15"; rc=$?
check "tls -m pcapng without -w: exit 2, one line asking for -w FILE" \
  bash -c "test $rc = 2 && test \$(wc -l <$OUT/e15) = 1 && grep -q 'needs -w FILE' $OUT/e15"
./ecaptureq tls --no-server >/dev/null 2>"$OUT/e17"; rc=$?
check "tls --no-server without -w FILE: exit 2, one line" \
  bash -c "test $rc = 2 && test \$(wc -l <$OUT/e17) = 1 && grep -q 'needs -w FILE' $OUT/e17"
./ecaptureq watch --pcapng - --json ws://127.0.0.1:9/ >/dev/null 2>"$OUT/e16"; rc=$?
check "watch --pcapng - --json: exit 2, one line (stdout is the file)" \
  bash -c "test $rc = 2 && test \$(wc -l <$OUT/e16) = 1 && grep -q 'pcapng -' $OUT/e16"
./ecaptureq bash >/dev/null 2>"$OUT/e12"; rc=$?
check "eCapture's bash module: exit 2, one line saying ecaptureq captures TLS" bash -c "test $rc = 2 && test \$(wc -l <$OUT/e12) = 1 && grep -q 'TLS' $OUT/e12"
./ecaptureq gnutls --libssl /x >/dev/null 2>"$OUT/e13"; rc=$?
check "gnutls --libssl: exit 2, names the command that takes it" bash -c "test $rc = 2 && grep -q 'ecaptureq tls --libssl' $OUT/e13"
./ecaptureq gen --ecaptureq http://127.0.0.1:1/ >/dev/null 2>"$OUT/e2"; rc=$?
check "other scheme exits 2" bash -c "test $rc = 2 && grep -q 'ws://' $OUT/e2"
./ecaptureq gen --ecaptureq ws://127.0.0.1:99999/ >/dev/null 2>"$OUT/e3"; rc=$?
check "bad port exits 2" bash -c "test $rc = 2 && grep -q 'port' $OUT/e3"
./ecaptureq gen --bogus >/dev/null 2>&1; rc=$?
check "unknown flag exits 2" test $rc = 2
./ecaptureq gen --events abc >/dev/null 2>&1; rc=$?
check "non-numeric --events exits 2" test $rc = 2
start_ready busy $PY -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print("ready", s.getsockname()[1], flush=True); time.sleep(5)'
./ecaptureq gen --ecaptureq ws://127.0.0.1:$HPORT/ >/dev/null 2>"$OUT/e4"; rc=$?
check "port in use exits 1 and says so" bash -c "test $rc = 1 && grep -qi 'in use' $OUT/e4"
for u in "ws://[::1]:0/" "ws://localhost:0/" "ws://0.0.0.0:0/" "ws://[::]:0/"; do
  timeout 1 ./ecaptureq gen --ecaptureq "$u" 2>"$OUT/bind.log" >/dev/null
  got=$(grep -o 'listening on ws://[^ ]*' "$OUT/bind.log" | cut -d' ' -f3)
  check "listens on $u (the port the kernel gave is logged: $got)" bash -c "[[ '$got' == '${u%0/}'[1-9]*/ ]]"
done
check "a non-loopback bind without --token warns" grep -q "warning: listening on non-loopback" "$OUT/bind.log"

./ecaptureq tls --detach-after abc >/dev/null 2>"$OUT/e5"; rc=$?
check "tls --detach-after abc exits 2 with one line" bash -c "test $rc = 2 && test \$(wc -l <$OUT/e5) = 1 && grep -q 'detach-after' $OUT/e5"
./ecaptureq gotls >/dev/null 2>"$OUT/e6"; rc=$?
check "gotls without --elfpath or --pid exits 2 and says what it needs" bash -c "test $rc = 2 && grep -q 'elfpath' $OUT/e6"
./ecaptureq tls --ringbuf-mb 3 >/dev/null 2>"$OUT/e7"; rc=$?
check "tls --ringbuf-mb 3 (not a power of two) exits 2" bash -c "test $rc = 2 && grep -q 'power of two' $OUT/e7"
./ecaptureq gotls --elfpath "$OUT/e7" --list >"$OUT/e8" 2>&1; rc=$?
check "gotls --list on a file that is not ELF: exit 1, says it is not a Go executable" bash -c "test $rc = 1 && grep -q 'not a Go executable' $OUT/e8"
