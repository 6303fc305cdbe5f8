# Capture tests (OpenSSL, GnuTLS, NSS), sourced by test.sh as root: real TLS clients and servers on loopback
# under the real BPF programs, checked through the stream by protoc-generated Python.

CERT=$OUT/cert.pem KEY=$OUT/key.pem
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$KEY" -out "$CERT" -days 2 -subj /CN=localhost 2>/dev/null

# the main agent is an ASan+UBSan build; the --pid/--uid agents are the release build
built ecaptureq-asan-tls || bad "the ASan+UBSan agent builds (tests/prebuild.sh)"
"$BIN/ecaptureq-asan-tls" tls --ecaptureq ws://127.0.0.1:0/ 2>"$OUT/tls.log" &
TLS_PID=$!
PIDS+=($TLS_PID)
if ! wait_log "$OUT/tls.log" "capturing" 20; then
  bad "ecaptureq tls starts and attaches (see $OUT/tls.log)"
  cat "$OUT/tls.log"
  return 0
fi
ok "ecaptureq tls starts and attaches"
AGENT=$(log_port "$OUT/tls.log")
check "OpenSSL, GnuTLS and NSS probes attached" bash -c "grep -q 'openssl: .*libssl.so.*: 5 of 5 functions probed, 9 probes' $OUT/tls.log && grep -q 'gnutls: .*libgnutls.*: 3 of 3 functions probed, 5 probes' $OUT/tls.log && grep -q 'nss: .*libnspr4.*: 5 of 5 functions probed, 9 probes' $OUT/tls.log"
# uprobe_multi links where the kernel has them (6.6+): a library's probes in two links
# (entries, uretprobes), so that detaching it waits for two RCU grace periods, not nine
if [ "$(printf '%s\n' 6.6 "$(uname -r | cut -d- -f1)" | sort -V | head -1)" = 6.6 ]; then want_links="2 link(s)"; else want_links="9 link(s)"; fi
check "Linux $(uname -r | cut -d- -f1): libssl's 9 probes are attached in $want_links" grep -q "libssl.so.*9 probes attached in $want_links" "$OUT/tls.log"

# the plan attach follows, printed by --list: made from the file's bytes, each entry at
# the symbol's address as readelf reads it, and as many probes as attach reported
for lib in libssl.so.3:libssl:9 libgnutls.so.30:gnutls:5 libnspr4.so:nss:9 libmbedtls.so.14:mbedtls:5 libwolfssl.so.35:wolfssl:5; do
  IFS=: read -r so opt n <<<"$lib"
  path=$(grep -o -m1 "/[^ ]*$so" "$OUT/tls.log")
  ./ecaptureq tls --$opt "$path" --list >"$OUT/list-$opt.txt" 2>&1; rc=$?
  readelf -W --dyn-syms "$path" >"$OUT/list-$opt.syms"
  check "tls --$opt $so --list: exit 0, every entry at readelf's address, $n probes planned as attached" \
    $PY - "$OUT/list-$opt.txt" "$OUT/list-$opt.syms" $rc $n <<'PYEOF'
import sys
plan = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
syms = {}
for l in open(sys.argv[2]):
    f = l.split()
    if len(f) >= 8 and f[6] != "UND" and f[0][:-1].isdigit():
        syms[f[7].split("@")[0]] = int(f[1], 16)
probes = sum(1 + p.count("uretprobe") + p.count("ret") for p in plan)
ok = sys.argv[3] == "0" and plan and all(len(p) >= 7 and int(p[2], 16) == syms.get(p[0]) and p[6] == p[2] for p in plan)
sys.exit(0 if ok and probes == int(sys.argv[4]) else 1)
PYEOF
done

start_ready srv4 $PY tests/tls_server.py 127.0.0.1 0 "$CERT" "$KEY" || return 0
SRV4=$HPID P4=$HPORT
start_ready srv6 $PY tests/tls_server.py ::1 0 "$CERT" "$KEY" || return 0
SRV6=$HPID P6=$HPORT

printf 'GET /%s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' s_client >"$OUT/req-s_client.txt"
printf 'GET /%s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' gnutls >"$OUT/req-gnutls.txt"
printf 'GET /%s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' nss >"$OUT/req-nss.txt"
rm -rf "$OUT/nssdb" && mkdir -p "$OUT/nssdb" && certutil -N -d "sql:$OUT/nssdb" --empty-password

consume clients $AGENT 60
client P_CURL4 curl -sk --max-time 10 -o "$OUT/curl4.out" https://127.0.0.1:$P4/curl4
client P_CURL6 curl -sk --max-time 10 -o "$OUT/curl6.out" "https://[::1]:$P6/curl6"
client P_SC openssl s_client -connect 127.0.0.1:$P4 -quiet <"$OUT/req-s_client.txt" >"$OUT/s_client.out" 2>/dev/null
client P_PY $PY tests/tls_client.py get 127.0.0.1 $P4 /python >"$OUT/py.out"
# gnutls-cli and tstclnt read the request from a pipe ($! is the pipeline's last command)
(cat "$OUT/req-gnutls.txt"; sleep 1) | gnutls-cli --insecure --port $P4 127.0.0.1 >"$OUT/gnutls.out" 2>&1 &
P_GN=$!; wait $P_GN
# tstclnt spins once its input ends: it is stopped when the answer is in
(cat "$OUT/req-nss.txt"; sleep 2) | tstclnt -d "sql:$OUT/nssdb" -h 127.0.0.1 -p $P4 -o >"$OUT/nss.out" 2>&1 &
P_NSS=$!
wait_log "$OUT/nss.out" "hello /nss" 5; kill $P_NSS 2>/dev/null; wait $P_NSS 2>/dev/null
settle
C="$PY tests/check_capture.py $OUT/clients.json exchange"
check "curl (OpenSSL SSL_write/SSL_read), IPv4: request and response, pid, pname, direction, type" \
  $C $P_CURL4 curl 127.0.0.1 $P4 "GET /curl4 HTTP/1.1" "hello /curl4"
check "curl over IPv6 (::1)" $C $P_CURL6 curl ::1 $P6 "GET /curl6 HTTP/1.1" "hello /curl6"
check "openssl s_client" $C $P_SC openssl 127.0.0.1 $P4 "GET /s_client HTTP/1.1" "hello /s_client"
check "Python urllib (OpenSSL SSL_write_ex/SSL_read_ex only)" $C $P_PY python3 127.0.0.1 $P4 "GET /python HTTP/1.1" "hello /python"
check "gnutls-cli (GnuTLS gnutls_record_send/recv)" $C $P_GN gnutls-cli 127.0.0.1 $P4 "GET /gnutls HTTP/1.1" "hello /gnutls"
check "NSS tstclnt (NSPR PR_Write/PR_Read)" $C $P_NSS tstclnt 127.0.0.1 $P4 "GET /nss HTTP/1.1" "hello /nss"
check "NSS: PR_Read/PR_Write on stdin/stdout (not sockets) are not reported" $PY - "$OUT/clients.json" $P_NSS <<'PYEOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"event_payload"' in l]
mine = [e for e in ev if e["pid"] == int(sys.argv[2])]
sys.exit(0 if mine and all(e["src_port"] and e["dst_port"] for e in mine) else 1)
PYEOF
check "the server side (Python ssl) is captured too: reads src=client, writes src=server" $PY - "$OUT/clients.json" $SRV4 $P4 <<'PYEOF'
import json, sys, base64
ev = [json.loads(l) for l in open(sys.argv[1]) if '"event_payload"' in l]
srv = [e for e in ev if e["pid"] == int(sys.argv[2])]
rd = [e for e in srv if base64.b64decode(e["payload_b64"]).startswith(b"GET /curl4") and e["dst_port"] == int(sys.argv[3])]
wr = [e for e in srv if base64.b64decode(e["payload_b64"]).startswith(b"HTTP/1.1 200") and e["src_port"] == int(sys.argv[3])]
sys.exit(0 if rd and wr and rd[0]["type"] == 1 and wr[0]["type"] == 3 else 1)
PYEOF

consume big $AGENT 60
client P_POST $PY tests/tls_client.py post 127.0.0.1 $P4 1048576 7 >"$OUT/post.out"
settle
check "a 1 MiB POST body in one SSL_write_ex arrives complete and byte-exact, in order" \
  $PY tests/check_capture.py "$OUT/big.json" body $P_POST $P4 1048576 7
check "the server really got that body" grep -q "got 1048576" "$OUT/post.out"

consume many $AGENT 120
client P_MANY $PY tests/tls_client.py writes 127.0.0.1 $P4 10000 100 >"$OUT/many.out"
settle
check "10,000 small writes give exactly 10,000 write events, 1,000,000 bytes" \
  $PY tests/check_capture.py "$OUT/many.json" writes $P_MANY 10000 100

# --pid: a second agent that follows only the IPv4 server
start_agent tls-pid tls --pid $SRV4
TLS2=$AGENT_PID A2=$AGENT_PORT
consume pid $A2 20
timeout 10 curl -sk https://127.0.0.1:$P4/pidonly >/dev/null
timeout 10 curl -sk "https://[::1]:$P6/other" >/dev/null
settle
check "--pid N: libraries found in /proc/N/maps, opened through /proc/N/map_files" grep -q "openssl: .*libssl.so.* (pid $SRV4): 5 of 5 functions probed" "$OUT/tls-pid.log"
check "--pid N: events only from N (not curl, not the other server)" $PY tests/check_capture.py "$OUT/pid.json" only $SRV4
kill $SRV4; wait $SRV4 2>/dev/null
sleep 1.5
check "--pid N: the target exiting is logged and capture goes on" bash -c "grep -q 'process $SRV4 exited' $OUT/tls-pid.log && kill -0 $TLS2"
kill -TERM $TLS2; wait $TLS2 2>/dev/null

# HTTP/2 (issue 21): curl --http2 against nghttpd (both OpenSSL, both captured); every
# frame is typed by the side that sent it, the client's HEADERS too
mkdir -p "$OUT/h2www" && echo "hello h2" >"$OUT/h2www/index.html"
nghttpd -d "$OUT/h2www" 0 "$KEY" "$CERT" >"$OUT/nghttpd.log" 2>&1 &
NGH=$!; PIDS+=($NGH)
NGP=
for ((i = 0; i < 100 && !NGP; i++)); do # nghttpd binds port 0 but does not print it: the kernel tells
  NGP=$(ss -Hltnp | awk -v p="pid=$NGH," 'index($0, p) && $4 ~ /^0\.0\.0\.0:/ {sub(/.*:/, "", $4); print $4; exit}')
  [ -n "$NGP" ] || sleep 0.1
done
./ecaptureq watch ws://127.0.0.1:$AGENT/ --pname curl --max-payload 4096 >"$OUT/h2-watch.txt" 2>&1 &
H2W=$!
./ecaptureq watch ws://127.0.0.1:$AGENT/ --http --json --pname curl >"$OUT/h2-http.json" 2>"$OUT/h2-http.err" &
H2X=$!
./ecaptureq watch ws://127.0.0.1:$AGENT/ --http --pname curl >"$OUT/h2-http.txt" 2>&1 &
H2T=$!
wait_log "$OUT/h2-http.txt" "^\[log\]" 5
wait_log "$OUT/h2-watch.txt" "^\[log\]" 5
wait_log "$OUT/h2-http.json" "run_log" 5
consume h2 $AGENT 30
client P_H2 curl -sk --http2 --max-time 10 -o "$OUT/h2.out" "https://127.0.0.1:$NGP/index.html"
client P_H1X curl -sk --http1.1 --max-time 10 -o /dev/null "https://[::1]:$P6/h1x"
settle
kill -INT $H2W $H2X $H2T; wait $H2W $H2X $H2T 2>/dev/null
check "curl --http2 gets the page from nghttpd (port $NGP)" grep -q "hello h2" "$OUT/h2.out"
check "HTTP/2: curl's and nghttpd's frames are typed 2 from the client (its HEADERS too), 4 from the server" \
  $PY - "$OUT/h2.json" $P_H2 $NGH $NGP <<'PYEOF'
import base64, json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"event_payload"' in l]
curl, ngh, port = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def typed(pid, to_server):
    return [e["type"] for e in ev if e["pid"] == pid and (e["dst_port"] == port) == to_server and e["type"]]
def headers(pid, to_server):
    out = []
    for e in ev:
        d = base64.b64decode(e["payload_b64"])
        if d.startswith(b"PRI * HTTP/2.0"):
            d = d[24:]
        if e["pid"] == pid and (e["dst_port"] == port) == to_server and len(d) > 9 and d[3] == 1:
            out.append(e["type"])
    return out
ok = True
for pid, name in ((curl, "curl"), (ngh, "nghttpd")):
    up, down = typed(pid, True), typed(pid, False)
    print("#", name, "client->server types", sorted(set(up)), len(up), "server->client", sorted(set(down)), len(down))
    ok &= bool(up) and bool(down) and set(up) == {2} and set(down) == {4}
ok &= headers(curl, True) != [] and set(headers(curl, True)) == {2}
sys.exit(0 if ok else 1)
PYEOF
W="$OUT/h2-watch.txt"
check "watch shows curl's real HTTP/2 exchange decoded: its request's header list, the response's :status, the page as DATA" \
  bash -c "grep -q '^  connection preface (the client)' $W && grep -q '^    :method: GET' $W && grep -q '^    :path: /index.html' $W &&
           grep -q '^    :status: 200' $W && grep -A1 '^  DATA stream 1' $W | grep -q '^    hello h2'"
check "watch --http on real traffic: curl --http2's GET /index.html -> 200 with the page, its HTTP/1.1 GET /h1x -> 200" \
  $PY - "$OUT/h2-http.json" $P_H2 $P_H1X <<'PYEOF'
import json, sys
x = [d for d in map(json.loads, (l for l in open(sys.argv[1]) if l.startswith("{"))) if d["kind"] == "exchange"]
for d in x:
    print("#", d["pid"], d["protocol"], d["method"], d["path"], d["status"], d["latency_ms"], "ms", d["response_bytes"], "B")
h2 = [d for d in x if d["pid"] == int(sys.argv[2]) and d["protocol"] == "HTTP/2" and d["path"] == "/index.html"]
h1 = [d for d in x if d["pid"] == int(sys.argv[3]) and d["protocol"] == "HTTP/1.1" and d["path"] == "/h1x"]
ok = h2 and h2[0]["status"] == 200 and h2[0]["response_body"] == "hello h2\n" and h2[0]["method"] == "GET"
ok = ok and h1 and h1[0]["status"] == 200 and h1[0]["response_body"] == "hello /h1x\n" and h1[0]["latency_ms"] is not None
ok = ok and h1[0]["client"].startswith("[::1]:") and h1[0]["server"].startswith("[::1]:")
sys.exit(0 if ok else 1)
PYEOF
check "watch --http (text) on the same traffic: a block per exchange" \
  bash -c "grep -q '^GET /index.html -> 200 ' $OUT/h2-http.txt && grep -q '^GET /h1x -> 200 ' $OUT/h2-http.txt && grep -q '^  < hello h2' $OUT/h2-http.txt"
kill $NGH 2>/dev/null; wait $NGH 2>/dev/null

# tls --merge (issue 21): events for people. M1 (ASan, default --merge-idle 100) and M2
# (--merge-idle 600000: nothing goes by the idle timer there, only by framing, the other
# direction's turn, the connection's close and SIGTERM) see the same real traffic: curl
# --http2 against nghttpd, curl --http1.1 against tests/h1_server.py (Content-Length,
# chunked, gzip, to the close; 150,000-byte bodies), openssl s_client against s_server
# (not HTTP). Consumers: protoc's Python (consume.py) and watch.
section "tls --merge"
"$BIN/ecaptureq-asan-tls" tls --merge --ecaptureq ws://127.0.0.1:0/ 2>"$OUT/merge1.log" &
M1=$!; PIDS+=($M1)
start_agent merge2 tls --merge --merge-idle 600000 || return 0
M2=$AGENT_PID MP2=$AGENT_PORT
wait_log "$OUT/merge1.log" capturing 20 && MP1=$(log_port "$OUT/merge1.log")
check "tls --merge and --merge-idle start" test -n "$MP1"
nghttpd -d "$OUT/h2www" 0 "$KEY" "$CERT" >"$OUT/nghttpd-m.log" 2>&1 &
NGH=$!; PIDS+=($NGH)
NGP=
for ((i = 0; i < 100 && !NGP; i++)); do
  NGP=$(ss -Hltnp | awk -v p="pid=$NGH," 'index($0, p) && $4 ~ /^0\.0\.0\.0:/ {sub(/.*:/, "", $4); print $4; exit}')
  [ -n "$NGP" ] || sleep 0.1
done
start_ready h1srv $PY tests/h1_server.py 127.0.0.1 0 "$CERT" "$KEY" || return 0
H1P=$HPORT H1PID=$HPID
rm -f "$OUT/ss.fifo"; mkfifo "$OUT/ss.fifo"; exec 9<>"$OUT/ss.fifo" # s_server's stdin: never at its end
sserver() { # sserver NAME: openssl s_server for one connection; sets SSP to its port
  openssl s_server -accept 0 -naccept 1 -cert "$CERT" -key "$KEY" <&9 >"$OUT/$1.out" 2>&1 &
  PIDS+=($!)
  wait_log "$OUT/$1.out" "^ACCEPT" 10
  SSP=$(grep -o -m1 'ACCEPT .*:[0-9]*' "$OUT/$1.out" | grep -o '[0-9]*$')
}
sserver ssa; SSA=$SSP
sserver ssb; SSB=$SSP
./ecaptureq watch ws://127.0.0.1:$MP1/ --pname curl --max-payload 4096 >"$OUT/merge-watch.txt" 2>&1 &
MW=$!
rm -f "$OUT/merge1.ready" "$OUT/merge2.ready"
$PY tests/consume.py ws://127.0.0.1:$MP1/ --seconds 120 --ready "$OUT/merge1.ready" >"$OUT/merge1.json" &
C1=$!
$PY tests/consume.py ws://127.0.0.1:$MP2/ --seconds 120 --ready "$OUT/merge2.ready" >"$OUT/merge2.json" &
C2=$!
wait_file "$OUT/merge1.ready" 10; wait_file "$OUT/merge2.ready" 10; wait_log "$OUT/merge-watch.txt" "^\[log\]" 5
client P_MH2 curl -sk --http2 --max-time 10 -o "$OUT/merge-h2.out" "https://127.0.0.1:$NGP/index.html"
for k in cl chunked gzip close; do
  client "P_M_$k" curl -sk --http1.1 --max-time 20 -o "$OUT/merge-$k.out" "https://127.0.0.1:$H1P/$k/150000"
done
# s_client A writes three lines 0.3 s apart (times taken before each) and stays connected
# until M1 has handed its bytes on by the idle timer; then it closes
rm -f "$OUT/sca.fifo" "$OUT/sca.times"; mkfifo "$OUT/sca.fifo"
openssl s_client -connect 127.0.0.1:$SSA <"$OUT/sca.fifo" >"$OUT/sca.out" 2>&1 &
SCA=$!; PIDS+=($SCA)
exec 7>"$OUT/sca.fifo"
wait_log "$OUT/sca.out" "^---" 10; sleep 0.5
for l in one two three; do date +%s%N >>"$OUT/sca.times"; echo "line $l" >&7; sleep 0.3; done
idle_seen=0 sca_open=0 # M1's idle timer hands all three lines on, s_client still connected
# (one event or more: how they are cut depends on when the agent's steps run)
for ((i = 0; i < 200; i++)); do
  $PY - "$OUT/merge1.json" $SCA $SSA <<'PYEOF' && { idle_seen=1; break; }
import base64, json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"event_payload"' in l]
w = b"".join(base64.b64decode(e["payload_b64"]) for e in ev if e["pid"] == int(sys.argv[2]) and e["dst_port"] == int(sys.argv[3]))
sys.exit(0 if w == b"line one\nline two\nline three\n" else 1)
PYEOF
  sleep 0.1
done
kill -0 $SCA 2>/dev/null && sca_open=1
exec 7>&-
wait $SCA 2>/dev/null
# s_client B writes one line and stays connected through M2's SIGTERM
rm -f "$OUT/scb.fifo"; mkfifo "$OUT/scb.fifo"
openssl s_client -connect 127.0.0.1:$SSB <"$OUT/scb.fifo" >"$OUT/scb.out" 2>&1 &
SCB=$!; PIDS+=($SCB)
exec 8>"$OUT/scb.fifo"
wait_log "$OUT/scb.out" "^---" 10; sleep 0.5
echo "pending at SIGTERM" >&8
CONS=$C1 settle
kill -INT $MW; wait $MW 2>/dev/null
kill -TERM $M2; wait $M2; rc2=$?
wait $C2
exec 8>&-
wait $SCB 2>/dev/null
check "tls --merge: SIGTERM stops the agent with exit 0" test $rc2 = 0
check "tls --merge: curl got every page" bash -c "grep -q 'hello h2' $OUT/merge-h2.out && test \$(stat -c %s $OUT/merge-cl.out) = 150000 && test \$(stat -c %s $OUT/merge-chunked.out) = 150000 && test \$(stat -c %s $OUT/merge-close.out) = 150000"
for a in merge2; do # M1's idle timer could cut a body that stalls over 100 ms: exactness is M2's
  check "tls --merge: one event per HTTP/1 message, exact bytes: a 150,000-byte body by Content-Length, chunked (decoded: the same bytes), gzip (as sent; inflates to the same), to the close" \
    $PY - "$OUT/$a.json" "$OUT" $P_M_cl $P_M_chunked $P_M_gzip $P_M_close <<'PYEOF'
import base64, gzip, json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"event_payload"' in l]
out, ok = sys.argv[2], True
def dechunk(b):
    o = b""
    while True:
        size, _, b = b.partition(b"\r\n")
        n = int(size.split(b";")[0], 16)
        if not n:
            return o
        o, b = o + b[:n], b[n + 2:]
for kind, pid in zip(("cl", "chunked", "gzip", "close"), map(int, sys.argv[3:])):
    mine = [e for e in ev if e["pid"] == pid]
    req = [e for e in mine if e["type"] == 1]
    resp = [e for e in mine if e["type"] == 3]
    body = open("%s/merge-%s.out" % (out, kind), "rb").read()
    r = base64.b64decode(resp[0]["payload_b64"]) if len(resp) == 1 else b""
    head, _, got = r.partition(b"\r\n\r\n")
    if kind == "chunked":
        got = dechunk(got)
    good = (len(mine) == 2 and len(req) == 1 and len(resp) == 1 and resp[0]["length"] == len(r) and
            base64.b64decode(req[0]["payload_b64"]).startswith(b"GET /%s/150000 HTTP/1.1\r\n" % kind.encode()) and
            got == body and head.startswith(b"HTTP/1.1 200 OK"))
    if kind == "gzip":
        good = good and len(gzip.decompress(got)) == 150000 and b"Content-Length: %d" % len(got) in head
    print("#", kind, "events", len(mine), "response length", resp[0]["length"] if resp else None, "body", len(got), "ok" if good else "BAD")
    ok &= good
sys.exit(0 if ok else 1)
PYEOF
done
check "tls --merge: the to-the-close body goes when the connection closes (M2 has no idle timer), before SIGTERM" \
  bash -c "grep -q '\"closed\": 1001' $OUT/merge2.json && $PY -c '
import json, sys
lines = [json.loads(l) for l in open(\"$OUT/merge2.json\")]
ev = [i for i, e in enumerate(lines) if e.get(\"pid\") == $P_M_close and e.get(\"type\") == 3]
stop = [i for i, e in enumerate(lines) if \"stopping on signal\" in e.get(\"run_log\", \"\")]
sys.exit(0 if ev and stop and ev[0] < stop[0] else 1)'"
check "tls --merge: curl --http2 against nghttpd as HTTP/2 text batches: the request's header list (typed 2), :status, the page (typed 4)" \
  $PY - "$OUT/merge1.json" $P_MH2 $NGP <<'PYEOF'
import base64, json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"event_payload"' in l]
pid, port = int(sys.argv[2]), int(sys.argv[3])
up = [base64.b64decode(e["payload_b64"]).decode() for e in ev if e["pid"] == pid and e["dst_port"] == port]
down = [base64.b64decode(e["payload_b64"]).decode() for e in ev if e["pid"] == pid and e["src_port"] == port]
types = {(e["dst_port"] == port, e["type"]) for e in ev if e["pid"] == pid}
u, d = "".join(up), "".join(down)
print("# curl's HTTP/2: %d event(s) to the server, %d from it" % (len(up), len(down)))
ok = "  connection preface (the client)\n" in u and "    :method: GET\n    :path: /index.html\n" in u
ok = ok and "    :status: 200\n" in d and "  DATA stream 1, 9 bytes, END_STREAM\n    hello h2\n" in d
ok = ok and types == {(True, 2), (False, 4)} and all(e["length"] == len(base64.b64decode(e["payload_b64"])) for e in ev)
sys.exit(0 if ok else 1)
PYEOF
check "watch shows --merge's HTTP/2 text as it came (no frame decoding of text)" \
  bash -c "grep -q '^    :path: /index.html' $OUT/merge-watch.txt && grep -q '^    hello h2' $OUT/merge-watch.txt && ! grep -q 'not an HTTP/2 frame' $OUT/merge-watch.txt"
check "tls --merge: s_client's three writes, 0.3 s apart, are one event on M2 (no idle timer): the bytes, the first write's timestamp, the tuple; s_server's reads the same" \
  $PY - "$OUT/merge2.json" $SCA $SSA "$OUT/sca.times" <<'PYEOF'
import base64, json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"event_payload"' in l]
pid, port = int(sys.argv[2]), int(sys.argv[3])
t = [int(x) for x in open(sys.argv[4]).read().split()]
w = [e for e in ev if e["pid"] == pid and e["dst_port"] == port]
r = [e for e in ev if e["pid"] != pid and e["dst_port"] == port]
want = b"line one\nline two\nline three\n"
for e in w + r:
    print("#", e["pname"], e["uuid"], e["src_ip"], e["src_port"], "->", e["dst_ip"], e["dst_port"], e["length"], "bytes at", e["timestamp"], "writes at", t)
ok = len(w) == 1 and base64.b64decode(w[0]["payload_b64"]) == want and w[0]["length"] == len(want) and t[0] <= w[0]["timestamp"] < t[1]
ok = ok and w[0]["pname"] == "openssl" and w[0]["uuid"].startswith("%d_" % pid) and w[0]["src_ip"] == w[0]["dst_ip"] == "127.0.0.1"
ok = ok and len(r) == 1 and base64.b64decode(r[0]["payload_b64"]) == want and r[0]["src_port"] == w[0]["src_port"] and t[0] <= r[0]["timestamp"] < t[1]
sys.exit(0 if ok else 1)
PYEOF
check "tls --merge: on M1 (idle 100 ms) the same bytes went by the idle timer while s_client was still connected" \
  bash -c "test $idle_seen$sca_open = 11 && $PY -c '
import base64, json, sys
ev = [json.loads(l) for l in open(\"$OUT/merge1.json\") if \"event_payload\" in l]
w = [base64.b64decode(e[\"payload_b64\"]) for e in ev if e[\"pid\"] == $SCA and e[\"dst_port\"] == $SSA]
print(\"# M1: s_client wrote\", len(w), \"event(s)\")
sys.exit(0 if b\"\".join(w) == b\"line one\nline two\nline three\n\" else 1)'"
check "tls --merge: what a connection held at SIGTERM is handed on before the stream closes" \
  bash -c "$PY -c '
import base64, json, sys
lines = [json.loads(l) for l in open(\"$OUT/merge2.json\")]
ev = [i for i, e in enumerate(lines) if e.get(\"pid\") == $SCB and base64.b64decode(e.get(\"payload_b64\", \"\")) == b\"pending at SIGTERM\n\"]
end = [i for i, e in enumerate(lines) if e.get(\"closed\") == 1001]
sys.exit(0 if len(ev) == 1 and end and ev[0] < end[0] else 1)'"
# watch --http, one event per call (the main agent): a body read to the close is shown
# when watch learns of the close: the server's when its next connection takes the same
# descriptor, curl's (whose process is gone) when watch ends
./ecaptureq watch ws://127.0.0.1:$AGENT/ --http --json >"$OUT/close-http.json" 2>"$OUT/close-http.err" &
CW=$!
wait_log "$OUT/close-http.json" run_log 5
client P_CL1 curl -sk --http1.1 --max-time 20 -o "$OUT/close1.out" "https://127.0.0.1:$H1P/close/150000"
client P_CL2 curl -sk --http1.1 --max-time 20 -o /dev/null "https://127.0.0.1:$H1P/cl/10"
wait_log "$OUT/close-http.json" '"path":"/cl/10"' 10
kill -INT $CW; wait $CW
check "watch --http: a response read to the close is shown (150,000 bytes): the server's at its descriptor's next connection, curl's at watch's end" \
  $PY - "$OUT/close-http.json" $P_CL1 $H1PID <<'PYEOF'
import json, sys
x = [d for d in map(json.loads, (l for l in open(sys.argv[1]) if l.startswith("{"))) if d["kind"] == "exchange"]
curl, srv = int(sys.argv[2]), int(sys.argv[3])
order = [(d["pid"], d["path"], d["response_bytes"]) for d in x if d["pid"] in (curl, srv)]
print("#", order)
s = [i for i, o in enumerate(order) if o[0] == srv]
ok = len(s) == 2 and order[s[0]][1:] == ("/close/150000", 150000) and order[s[1]][1] == "/cl/10"
ok = ok and (curl, "/close/150000", 150000) in order
sys.exit(0 if ok else 1)
PYEOF
kill -TERM $M1; wait $M1; rc1=$?
check "tls --merge (ASan): exit 0, no sanitizer report" bash -c "test $rc1 = 0 && ! grep -q 'Sanitizer\|runtime error' $OUT/merge1.log"
kill $NGH 2>/dev/null; wait $NGH 2>/dev/null; exec 9>&-

check "the agent still runs and reports no losses" bash -c "kill -0 $TLS_PID && ! grep -q 'capture lost' $OUT/tls.log"
kill -TERM $TLS_PID; wait $TLS_PID; rc=$?
check "SIGTERM stops tls with exit 0" test $rc = 0
check "asan: no sanitizer report from the capturing agent" bash -c "! grep -q 'Sanitizer\|runtime error' $OUT/tls.log"

# --uid: a third agent that follows only user 65534
start_agent tls-uid tls --uid 65534
TLS3=$AGENT_PID A3=$AGENT_PORT
consume uid $A3 20
curl -sk --max-time 10 https://127.0.0.1:$P4/root >/dev/null 2>&1
curl -sk --max-time 10 "https://[::1]:$P6/root" >/dev/null
setpriv --reuid=65534 --regid=65534 --clear-groups curl -sk --max-time 10 "https://[::1]:$P6/nobody" >/dev/null &
P_NOBODY=$!; wait $P_NOBODY
settle
check "--uid N: events only from that user's processes" $PY tests/check_capture.py "$OUT/uid.json" only $P_NOBODY
kill -TERM $TLS3; wait $TLS3 2>/dev/null

# payloads of 4 KiB and more go from the ring's memory to the sockets, copied only for a
# client whose socket is full: a 1 MiB ring that 8 MiB of records wrap eight times,
# one client reading, one reading batches (ecaptureq.batch: copied from the ring as the
# events come), one stalled (tests/lent_check.py checks each byte for byte; the writer
# waits for the reading clients, so the ring never overflows however slow the agent is).
# The stalled client's queue comes within a few frames of the default 16 MiB bound (its
# 514 frames of 16 KiB each sit in a 32 KiB allocation): the bound is raised well over
# that, so that it is never closed for it
"$BIN/ecaptureq-asan-tls" tls --ringbuf-mb 1 --client-buffer 67108864 --ecaptureq ws://127.0.0.1:0/ 2>"$OUT/lent.log" &
LENT=$!; PIDS+=($LENT)
if wait_log "$OUT/lent.log" capturing 20; then
  check "4 MiB over TLS in 16 KiB writes, a 1 MiB ring: a reading client, a batching one and a stalled one (4 KiB receive buffer) each get the writer's and the reader's side byte-exact" \
    $PY tests/lent_check.py "$(log_port "$OUT/lent.log")" "$CERT" "$KEY" 4
  kill -TERM $LENT; wait $LENT; rc=$?
  check "... the payloads went from the ring's memory, those the stalled client held copied out (ASan agent: exit 0, no report, no loss)" \
    bash -c "test $rc = 0 && grep -q 'frame(s) written from the ring.s memory, [1-9][0-9]* of them copied' $OUT/lent.log && ! grep -q 'Sanitizer\|runtime error\|capture lost' $OUT/lent.log"
else
  bad "ecaptureq tls --ringbuf-mb 1 (ASan) starts (see $OUT/lent.log)"
fi
# the stalled client goes over its bound (--client-buffer 2 MiB: some 60 frames; its
# socket takes 4 MiB at most) while frames that point into the ring are queued for it:
# closed with 1008, what it got before is exact
"$BIN/ecaptureq-asan-tls" tls --ringbuf-mb 1 --client-buffer 2097152 --ecaptureq ws://127.0.0.1:0/ 2>"$OUT/lent-bound.log" &
LENT=$!; PIDS+=($LENT)
if wait_log "$OUT/lent-bound.log" capturing 20; then
  check "... a stalled client over --client-buffer 2 MiB is closed with 1008; the frames it got before parse and hold each side's first bytes exactly" \
    $PY tests/lent_check.py "$(log_port "$OUT/lent-bound.log")" "$CERT" "$KEY" 4 bound
  kill -TERM $LENT; wait $LENT; rc=$?
  check "... the ASan agent: exit 0, no report, no loss" \
    bash -c "test $rc = 0 && grep -q 'closing with 1008' $OUT/lent-bound.log && ! grep -q 'Sanitizer\|runtime error\|capture lost' $OUT/lent-bound.log"
else
  bad "ecaptureq tls --ringbuf-mb 1 --client-buffer 2097152 (ASan) starts (see $OUT/lent-bound.log)"
fi
# the record ring's mapping (twice its size) over the address-space limit: the capture
# fails to open with a clear line, not a crash in its cleanup (which drained the ring)
# (the agent's own address space is some 10 MiB before it)
prlimit --as=$((96 << 20)) ./ecaptureq tls --ringbuf-mb 64 --ecaptureq ws://127.0.0.1:0/ >/dev/null 2>"$OUT/ringmap.txt"; rc=$?
check "tls --ringbuf-mb 64 under a 96 MiB address-space limit (the ring maps 128 MiB): exit 1 and 'error: ring buffer: Cannot allocate memory', no crash" \
  bash -c "test $rc = 1 && grep -q 'error: ring buffer: Cannot allocate memory' $OUT/ringmap.txt"

if command -v setpriv >/dev/null; then
  setpriv --reuid=65534 --regid=65534 --clear-groups ./ecaptureq tls --ecaptureq ws://127.0.0.1:0/ >/dev/null 2>"$OUT/nonroot.txt"; rc=$?
  check "non-root: exit 1 with one line naming the missing capabilities" \
    bash -c "test $rc = 1 && test \$(wc -l <$OUT/nonroot.txt) = 1 && grep -q 'CAP_BPF' $OUT/nonroot.txt"
fi
./ecaptureq tls --ecaptureq ws://127.0.0.1:0/ --libssl /nonexistent/libssl.so >/dev/null 2>"$OUT/nolib.txt"; rc=$?
check "--libssl with a missing file: exit 1 and a clear line" bash -c "test $rc = 1 && grep -q 'nonexistent' $OUT/nolib.txt"

section "eCapture's command-line forms (ecaptureq as the eCaptureQ GUI's engine)"
# the GUI runs "<engine>" + its ecapture_args, " tls --ecaptureq ws://127.0.0.1:28257", and
# connects to ws://127.0.0.1:28257; the same string here, on a port probed free
GP=$(free_port)
GUI_ARGS=" tls --ecaptureq ws://127.0.0.1:$GP"
# shellcheck disable=SC2086 # split on blanks, as the GUI splits it
"$TOP/ecaptureq" $GUI_ARGS >/dev/null 2>"$OUT/gui.log" &
GUI=$!; PIDS+=($GUI)
if wait_log "$OUT/gui.log" capturing 20 && grep -q "listening on ws://127.0.0.1:$GP/" "$OUT/gui.log"; then
  rm -f "$OUT/gui.ready"
  $PY tests/consume.py "ws://127.0.0.1:$GP" --seconds 30 --ready "$OUT/gui.ready" >"$OUT/gui.json" & CONS=$!
  wait_file "$OUT/gui.ready" 5
  client P_GUI curl -sk --max-time 10 -o /dev/null "https://[::1]:$P6/gui"
  settle
  check "the GUI's argument string ('$GUI_ARGS'), its URL without a path: a curl exchange captured" \
    $PY tests/check_capture.py "$OUT/gui.json" exchange $P_GUI curl ::1 $P6 "GET /gui HTTP/1.1" "hello /gui"
else
  bad "the GUI's argument string: the agent did not start on port $GP (see $OUT/gui.log)"; cat "$OUT/gui.log"
fi
kill -TERM $GUI; wait $GUI 2>/dev/null

GNUTLS_LIB=$(ldconfig -p | grep -o '/[^ ]*libgnutls.so.30$' | head -1)
NSPR_LIB=$(ldconfig -p | grep -o '/[^ ]*libnspr4.so$' | head -1)
start_agent gnutls-mod gnutls --gnutls "$GNUTLS_LIB" -p $SRV6 && {
  kill -TERM $AGENT_PID; wait $AGENT_PID 2>/dev/null
  check "eCapture's 'gnutls --gnutls PATH -p PID': that library only (no OpenSSL, no discovery), only pid N" \
    bash -c "grep -q 'gnutls: $GNUTLS_LIB: 3 of 3 functions probed' $OUT/gnutls-mod.log && ! grep -q 'openssl:\|discovery:' $OUT/gnutls-mod.log && grep -q 'capturing only pid $SRV6' $OUT/gnutls-mod.log"
}
start_agent nss-mod nss --nspr "$NSPR_LIB" -u 0 && {
  kill -TERM $AGENT_PID; wait $AGENT_PID 2>/dev/null
  check "eCapture's 'nss --nspr PATH -u 0': NSPR only, only uid 0" \
    bash -c "grep -q 'nss: $NSPR_LIB: 5 of 5 functions probed' $OUT/nss-mod.log && ! grep -q 'openssl:\|gnutls:' $OUT/nss-mod.log && grep -q 'capturing only uid 0' $OUT/nss-mod.log"
}
start_agent gnutls-host gnutls && {
  kill -TERM $AGENT_PID; wait $AGENT_PID 2>/dev/null
  check "eCapture's 'gnutls' without a path: the host's libgnutls" \
    bash -c "grep -q 'gnutls: .*libgnutls.so.30: 3 of 3 functions probed' $OUT/gnutls-host.log && ! grep -q 'openssl:' $OUT/gnutls-host.log"
}
# --perf-uprobes: one perf-event uprobe per probe, as every kernel before 6.6 gets; the
# same programs behind them, the same capture
start_agent perf tls --perf-uprobes && {
  PA=$AGENT_PID
  consume perf $AGENT_PORT 30
  client P_PC curl -sk --max-time 10 -o /dev/null "https://[::1]:$P6/perf-curl"
  client P_PP $PY tests/tls_client.py get ::1 $P6 /perf-python >/dev/null
  printf 'GET /perf-gnutls HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >"$OUT/req-perf.txt"
  (cat "$OUT/req-perf.txt"; sleep 1) | gnutls-cli --insecure --port $P6 ::1 >/dev/null 2>&1 &
  P_PG=$!; wait $P_PG
  settle
  check "--perf-uprobes: one link per probe (libssl 9, libgnutls 5, libnspr4 9)" \
    bash -c "grep -q 'libssl.so.*9 probes attached in 9 link(s)' $OUT/perf.log && grep -q 'libgnutls.*5 probes attached in 5 link(s)' $OUT/perf.log && grep -q 'libnspr4.*9 probes attached in 9 link(s)' $OUT/perf.log"
  C="$PY tests/check_capture.py $OUT/perf.json exchange"
  check "--perf-uprobes: curl (SSL_write/SSL_read)" $C $P_PC curl ::1 $P6 "GET /perf-curl HTTP/1.1" "hello /perf-curl"
  check "--perf-uprobes: Python (SSL_write_ex/SSL_read_ex)" $C $P_PP python3 ::1 $P6 "GET /perf-python HTTP/1.1" "hello /perf-python"
  check "--perf-uprobes: gnutls-cli" $C $P_PG gnutls-cli ::1 $P6 "GET /perf-gnutls HTTP/1.1" "hello /perf-gnutls"
  kill -TERM $PA; wait $PA; rc=$?
  check "--perf-uprobes: SIGTERM detaches every probe and exits 0" test $rc = 0
}
kill $SRV6 2>/dev/null; wait $SRV6 2>/dev/null

section "pcapng: tls -w FILE and watch --pcapng - | tshark -i -, read by Debian's tshark"
start_ready psrv4 $PY tests/tls_server.py 127.0.0.1 0 "$CERT" "$KEY" && PS4=$HPID PP4=$HPORT &&
start_ready psrv6 $PY tests/tls_server.py ::1 0 "$CERT" "$KEY" && PS6=$HPID PP6=$HPORT &&
start_agent pcap tls -w "$OUT/agent.pcapng" && {
  PA=$AGENT_PID
  # nginx speaking HTTP/2 (ALPN h2), one worker: its sequential connections share one fd
  mkdir -p "$OUT/ngx2/html"
  for f in ready h2page reuse1 reuse2; do echo "page $f" >"$OUT/ngx2/html/$f"; done
  start_nginx "$OUT/ngx2" ready http2
  NGX2=$NGX
  # the same stream live: watch writes the file to stdout, tshark reads it as it comes
  ./ecaptureq watch --pcapng - ws://127.0.0.1:$AGENT_PORT/ 2>"$OUT/pwatch.err" | tee "$OUT/watch.pcapng" |
    tshark -l -i - -d tcp.port==$PP4,http -d tcp.port==$NGP,http -T fields -e frame.interface_id -e http.request.uri \
      >"$OUT/plive.txt" 2>"$OUT/plive.err" &
  PW=$!
  wait_log "$OUT/plive.txt" "^1" 20 # the agent's run log: watch is connected
  client P_C4 curl -sk --max-time 10 -o /dev/null https://127.0.0.1:$PP4/pcap-curl4
  client P_C6 curl -sk --max-time 10 -o /dev/null "https://[::1]:$PP6/pcap-curl6"
  client P_BIG $PY tests/tls_client.py post 127.0.0.1 $PP4 1048576 11 >"$OUT/pbig.out"
  client P_H2 curl -sk --http2 --max-time 10 -o "$OUT/h2.out" https://127.0.0.1:$NGP/h2page
  client P_R1 curl -sk --http1.1 --max-time 10 -o /dev/null https://127.0.0.1:$NGP/reuse1
  client P_R2 curl -sk --http1.1 --max-time 10 -o /dev/null https://127.0.0.1:$NGP/reuse2
  wait_log "$OUT/plive.txt" "/pcap-curl4" 20
  check "watch --pcapng - | tshark -i -: the curl request dissected live, while the agent still runs" \
    bash -c "grep -q /pcap-curl4 $OUT/plive.txt && kill -0 $PA"
  wait_log "$OUT/plive.txt" "/reuse2" 20 # the last request is through the agent: in its file too
  kill -TERM $PA; wait $PA; rc=$?
  wait $PW
  check "tls -w: SIGTERM, exit 0, the file complete" bash -c "test $rc = 0 && capinfos -T $OUT/agent.pcapng >/dev/null"
  check "the server answered curl --http2 and the 1 MiB POST" bash -c "grep -q 'page h2page' $OUT/h2.out && grep -q 'got 1048576' $OUT/pbig.out"
  C="$PY tests/check_pcapng.py"
  tally < <($C exchange "$OUT/agent.pcapng" $PP4 $P_C4,$PS4 /pcap-curl4 "hello /pcap-curl4" 4)
  tally < <($C exchange "$OUT/agent.pcapng" $PP6 $P_C6,$PS6 /pcap-curl6 "hello /pcap-curl6" 6)
  tally < <($C body "$OUT/agent.pcapng" $PP4 1048576 11)
  tally < <($C h2 "$OUT/agent.pcapng" $NGP /h2page)
  tally < <($C reuse "$OUT/agent.pcapng" $NGP /reuse1 /reuse2)
  tally < <($C clean "$OUT/agent.pcapng")
  tally < <($C exchange "$OUT/watch.pcapng" $PP4 $P_C4,$PS4 /pcap-curl4 "hello /pcap-curl4" 4 | sed 's/^\(not \)\{0,1\}ok - /&watch --pcapng: /')
  # the file alone: no WebSocket endpoint at all
  ./ecaptureq tls -w "$OUT/noserver.pcapng" --no-server 2>"$OUT/noserver.log" & NS=$!
  PIDS+=($NS)
  if wait_log "$OUT/noserver.log" capturing 20; then
    client P_NS curl -sk --max-time 10 -o /dev/null "https://[::1]:$PP6/no-server"
    check "tls -w FILE --no-server: no listening socket, says so" \
      bash -c "grep -q 'no WebSocket endpoint' $OUT/noserver.log && ! grep -q 'listening on' $OUT/noserver.log && ! ss -ltnpH | grep -q 'pid=$NS,'"
    kill -TERM $NS; wait $NS; rc=$?
    check "tls --no-server: SIGTERM, exit 0" test $rc = 0
    tally < <($C exchange "$OUT/noserver.pcapng" $PP6 $P_NS,$PS6 /no-server "hello /no-server" 6 | sed 's/^\(not \)\{0,1\}ok - /&--no-server: /')
  else
    bad "tls -w FILE --no-server starts (see $OUT/noserver.log)"
  fi
  kill $NGX2 $PS4 $PS6 2>/dev/null; wait $NGX2 $PS4 $PS6 2>/dev/null
}

# mbedTLS and wolfSSL: Debian's lighttpd with mod_mbedtls and with mod_wolfssl (server
# side; socket-activated on a port the kernel picked), pygit2 (libgit2, built on mbedTLS
# by Debian) and a small wolfSSL client (client side), found with no flags by soname;
# then each library's own command alone
section "mbedTLS and wolfSSL"
MBEDTLS_LIB=$(ldconfig -p | grep -o '/[^ ]*libmbedtls.so.14$' | head -1)
WOLFSSL_LIB=$(ldconfig -p | grep -o '/[^ ]*libwolfssl.so.35$' | head -1)
cc -Wall -Wextra -Werror -o "$BIN/wolfssl_client" tests/wolfssl_client.c -lwolfssl
mkdir -p "$OUT/www"
for m in mbedtls wolfssl; do
  echo "hello lighttpd $m" >"$OUT/www/hello-$m.txt"
  cat >"$OUT/lighttpd-$m.conf" <<EOF
server.modules = ("mod_$m")
server.document-root = "$OUT/www"
server.systemd-socket-activation = "enable"
server.bind = "127.0.0.1"
server.port = @PORT@
server.errorlog = "$OUT/lighttpd-$m.err"
ssl.engine = "enable"
ssl.pemfile = "$CERT"
ssl.privkey = "$KEY"
EOF
done
# lt_run NAME: the exchanges of one agent's run, into $OUT/NAME.json
lt_run() {
  consume "$1" $AGENT_PORT 60
  client P_CM curl -sk --http1.1 --max-time 10 -o /dev/null "https://127.0.0.1:$PM/hello-mbedtls.txt"
  client P_CW curl -sk --http1.1 --max-time 10 -o /dev/null "https://127.0.0.1:$PW/hello-wolfssl.txt"
  client P_WC "$BIN/wolfssl_client" 127.0.0.1 $PPY "/wolfssl-$1" >"$OUT/$1-wolfssl_client.out"
  rm -rf "$OUT/clone"
  client P_GIT $PY tests/git_client.py "https://127.0.0.1:$PPY/pygit2-$1.git" "$OUT/clone" >"$OUT/$1-pygit2.out"
  settle
}
start_ready lt-mbedtls $PY tests/activate.py "$OUT/lighttpd-mbedtls.conf" lighttpd -D -f @CONF@ && LM=$HPID PM=$HPORT &&
start_ready lt-wolfssl $PY tests/activate.py "$OUT/lighttpd-wolfssl.conf" lighttpd -D -f @CONF@ && LW=$HPID PW=$HPORT &&
start_ready srv-mw $PY tests/tls_server.py 127.0.0.1 0 "$CERT" "$KEY" && SPY=$HPID PPY=$HPORT && {
  start_agent mw tls && {
    MA=$AGENT_PID
    check "tls with no flags: mbedTLS and wolfSSL found by soname, 3 of 3 functions probed each" \
      bash -c "grep -q 'mbedtls: $MBEDTLS_LIB: 3 of 3 functions probed, 5 probes' $OUT/mw.log && grep -q 'wolfssl: $WOLFSSL_LIB: 3 of 3 functions probed, 5 probes' $OUT/mw.log"
    lt_run mw
    check "lighttpd with mod_mbedtls (mbedtls_ssl_read/write): reads the request, writes the response, one uuid, tuples and types" \
      $PY tests/check_capture.py "$OUT/mw.json" served $LM lighttpd $PM /hello-mbedtls.txt "hello lighttpd mbedtls"
    check "lighttpd with mod_wolfssl (wolfSSL_read/write): reads the request, writes the response, one uuid, tuples and types" \
      $PY tests/check_capture.py "$OUT/mw.json" served $LW lighttpd $PW /hello-wolfssl.txt "hello lighttpd wolfssl"
    check "a wolfSSL client (wolfSSL_write/wolfSSL_read): request and response, pid, pname, tuple, type" \
      $PY tests/check_capture.py "$OUT/mw.json" exchange $P_WC wolfssl_client 127.0.0.1 $PPY "GET /wolfssl-mw HTTP/1.1" "hello /wolfssl-mw"
    # libgit2 reads the answer's head and stops there (text/plain is not git's content type)
    check "pygit2 (libgit2 on mbedTLS): its smart-HTTP request and the answer's head, pid, pname, tuple, type" \
      $PY tests/check_capture.py "$OUT/mw.json" exchange $P_GIT python3 127.0.0.1 $PPY "GET /pygit2-mw.git/info/refs?service=git-upload-pack HTTP/1.1" "Content-Type: text/plain"
    check "the agent reports no loss and still runs" bash -c "kill -0 $MA && ! grep -q 'capture lost' $OUT/mw.log"
    kill -TERM $MA; wait $MA 2>/dev/null
  }
  # each library's own command: that library alone (the other's calls are not seen)
  start_agent mbedtls-only mbedtls && {
    lt_run mbedtls-only
    kill -TERM $AGENT_PID; wait $AGENT_PID 2>/dev/null
    check "'ecaptureq mbedtls': the host's libmbedtls only (no OpenSSL, no wolfSSL, no discovery)" \
      bash -c "grep -q 'mbedtls: $MBEDTLS_LIB: 3 of 3 functions probed' $OUT/mbedtls-only.log && ! grep -q 'openssl:\|wolfssl:\|discovery:' $OUT/mbedtls-only.log"
    check "'ecaptureq mbedtls': pygit2's request and answer's head and lighttpd's mod_mbedtls side, nothing of wolfSSL's" \
      bash -c "$PY tests/check_capture.py $OUT/mbedtls-only.json exchange $P_GIT python3 127.0.0.1 $PPY 'GET /pygit2-mbedtls-only.git/info/refs?service=git-upload-pack HTTP/1.1' 'Content-Type: text/plain' && $PY tests/check_capture.py $OUT/mbedtls-only.json served $LM lighttpd $PM /hello-mbedtls.txt 'hello lighttpd mbedtls' && $PY tests/check_capture.py $OUT/mbedtls-only.json none $LW $P_WC"
  }
  start_agent wolfssl-only wolfssl --wolfssl "$WOLFSSL_LIB" && {
    lt_run wolfssl-only
    kill -TERM $AGENT_PID; wait $AGENT_PID 2>/dev/null
    check "'ecaptureq wolfssl --wolfssl PATH': that library only (no OpenSSL, no mbedTLS, no discovery)" \
      bash -c "grep -q 'wolfssl: $WOLFSSL_LIB: 3 of 3 functions probed' $OUT/wolfssl-only.log && ! grep -q 'openssl:\|mbedtls:\|discovery:' $OUT/wolfssl-only.log"
    check "'ecaptureq wolfssl --wolfssl PATH': the wolfSSL client's exchange and lighttpd's mod_wolfssl side, nothing of mbedTLS's" \
      bash -c "$PY tests/check_capture.py $OUT/wolfssl-only.json exchange $P_WC wolfssl_client 127.0.0.1 $PPY 'GET /wolfssl-wolfssl-only HTTP/1.1' 'hello /wolfssl-wolfssl-only' && $PY tests/check_capture.py $OUT/wolfssl-only.json served $LW lighttpd $PW /hello-wolfssl.txt 'hello lighttpd wolfssl' && $PY tests/check_capture.py $OUT/wolfssl-only.json none $LM $P_GIT"
  }
}
kill $LM $LW $SPY 2>/dev/null; wait $LM $LW $SPY 2>/dev/null

# Node and npm (memory BIOs, many connections on one thread) against a stand-in for
# the npm registry: a Node HTTPS server with package metadata and tarballs
section "capture: Node and npm"
if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  { apt-get update -qq && apt-get install -y -qq nodejs npm; } >"$OUT/apt-npm.log" 2>&1
fi
if ! command -v npm >/dev/null 2>&1; then
  bad "Node and npm are installed (as root ./test.sh installs nodejs and npm; see $OUT/apt-npm.log)"
else
  NPM_N=40
  rm -rf "$OUT/npm" && mkdir -p "$OUT/npm/tgz" "$OUT/npm/proj"
  for i in $(seq $NPM_N); do
    rm -rf "$OUT/npm/w" && mkdir -p "$OUT/npm/w/package"
    printf '{"name": "ecq-pkg-%d", "version": "1.0.0", "main": "index.js"}\n' $i >"$OUT/npm/w/package/package.json"
    # sizes from 1 to 160 KiB: answers of one record and of many
    head -c $((i * 4096)) /dev/urandom | base64 >"$OUT/npm/w/package/index.js"
    tar -czf "$OUT/npm/tgz/ecq-pkg-$i-1.0.0.tgz" -C "$OUT/npm/w" package
  done
  node -e 'const d = {}; for (let i = 1; i <= +process.argv[1]; i++) d["ecq-pkg-" + i] = "1.0.0";
    console.log(JSON.stringify({name: "proj", version: "1.0.0", dependencies: d}))' $NPM_N >"$OUT/npm/proj/package.json"
  start_ready npm/registry node tests/npm_registry.js "$CERT" "$KEY" "$OUT/npm/tgz" && NREG=$HPID NRP=$HPORT &&
  start_ready node-reset node tests/node_tls.js reset-server "$CERT" "$KEY" && NRS=$HPID NRSP=$HPORT &&
  start_ready node-srv $PY tests/tls_server.py 127.0.0.1 0 "$CERT" "$KEY" && NSRV=$HPID NSP=$HPORT &&
  start_agent npm tls && {
    NA=$AGENT_PID
    NPMOPT=(--registry "https://127.0.0.1:$NRP/" --strict-ssl=false --fetch-retries=0 --no-audit --no-fund --no-update-notifier)
    consume npm $AGENT_PORT 120
    # npm view: reported losing its request 3 times of 3; each run with an empty cache
    NVIEW=()
    for k in 1 2 3; do
      client p npm view ecq-pkg-$k "${NPMOPT[@]}" --cache "$OUT/npm/cache-view-$k" >"$OUT/npm/view-$k.out"
      NVIEW+=($p)
    done
    cp "$OUT/npm/registry.out" "$OUT/npm/view.log"
    npm install --prefix "$OUT/npm/proj" "${NPMOPT[@]}" --cache "$OUT/npm/cache-install" >"$OUT/npm/install.out" 2>&1 &
    NINST=$!; wait $NINST
    tail -n +$(($(wc -l <"$OUT/npm/view.log") + 1)) "$OUT/npm/registry.out" >"$OUT/npm/install.log"
    # when Node writes: from inside SSL_read (the 'secureConnect' handler and its
    # promises), before the handshake, a loop turn later, after a reset
    for m in early secure promise later; do client P_N_$m node tests/node_tls.js $m $NSP /node-$m >"$OUT/node-$m.out"; done
    client P_NRESET node tests/node_tls.js reset $NRSP /node-reset
    settle
    check "npm view (3 runs, each a new process and connection): the request and the answer, right tuple, both sides agree" \
      $PY tests/check_npm.py "$OUT/npm.json" "$OUT/npm/view.log" $NREG $NRP "${NVIEW[@]}"
    check "npm install of $NPM_N packages ($(ls "$OUT/npm/proj/node_modules" 2>/dev/null | grep -c ecq-pkg) installed): $((NPM_N * 2)) requests on parallel connections, each request and answer (tarballs byte-exact) on its own connection's tuple" \
      bash -c "grep -q 'added $NPM_N packages' $OUT/npm/install.out && $PY tests/check_npm.py $OUT/npm.json $OUT/npm/install.log $NREG $NRP $NINST | tee $OUT/npm/check.out | tail -1 | grep -q ' 0 errors' && test \$(grep -o '[0-9]* connections' $OUT/npm/check.out | cut -d' ' -f1) -gt 1"
    for m in early secure promise later; do
      p=P_N_$m
      check "Node writing $m: request and response, pid, pname, tuple, type" \
        $PY tests/check_capture.py "$OUT/npm.json" exchange ${!p} node 127.0.0.1 $NSP "GET /node-$m HTTP/1.1" "hello /node-$m"
    done
    check "Node writing into a connection the peer reset (the kernel closed the socket): the request captured with an empty tuple, not 'address:0'" \
      $PY - "$OUT/npm.json" $P_NRESET <<'PYEOF'
import base64, json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"event_payload"' in l]
w = [e for e in ev if e["pid"] == int(sys.argv[2]) and base64.b64decode(e["payload_b64"]).startswith(b"GET /node-reset ")]
print([(e["src_ip"], e["src_port"], e["dst_ip"], e["dst_port"]) for e in w])
sys.exit(0 if len(w) == 1 and w[0]["src_ip"] == w[0]["dst_ip"] == "" and w[0]["src_port"] == w[0]["dst_port"] == 0 else 1)
PYEOF
    check "the agent reports no loss and still runs" bash -c "kill -0 $NA && ! grep -q 'capture lost' $OUT/npm.log"
    kill -TERM $NA; wait $NA 2>/dev/null
  }
  kill $NREG $NRS $NSRV 2>/dev/null; wait $NREG $NRS $NSRV 2>/dev/null
fi

source tests/rustls.sh
