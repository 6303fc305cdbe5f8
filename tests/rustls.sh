# rustls capture tests, sourced by tests/t-capture.sh: a client and a server built from
# Debian 12's packaged rustls 0.20 (tests/rustls-build.sh, cached outside the clone like
# the Go toolchains), found by discovery with no flags, legacy and v0 symbol names, and
# a stripped build named in one line.
section "rustls (Debian 12's librust-rustls-dev 0.20, cargo and rustc 1.63)"
RUSTLS_CACHE=${ECQ_TEST_CACHE:-/var/cache/ecaptureq-tests}/rustls
mapfile -t RUSTLS < <(tests/rustls-build.sh "$RUSTLS_CACHE" 2>"$OUT/rustls-build.log" | cut -d' ' -f2)
check "the rustls program builds offline from Debian's crates (legacy and v0 names, and stripped)" \
  bash -c "test ${#RUSTLS[@]} = 3 || { cat $OUT/rustls-build.log >&2; false; }"
[ ${#RUSTLS[@]} = 3 ] || return 0
RL_LEGACY=${RUSTLS[0]} RL_V0=${RUSTLS[1]} RL_STRIP=${RUSTLS[2]}
openssl x509 -in "$CERT" -outform DER -out "$OUT/rustls-cert.der"
openssl pkcs8 -topk8 -nocrypt -in "$KEY" -outform DER -out "$OUT/rustls-key.der"
start_agent rustls tls || return 0
RA=$AGENT_PID
start_ready rustls-pysrv $PY tests/tls_server.py 127.0.0.1 0 "$CERT" "$KEY" || return 0
RPY=$HPID RPP=$HPORT
start_ready rustls-srv "$RL_LEGACY" server 0 "$OUT/rustls-cert.der" "$OUT/rustls-key.der" || return 0
RSRV=$HPID RSP=$HPORT
# a file new to the agent is probed 11-23 ms after its first process maps it (README,
# Discovery): a client's first calls may fall in that window. The server already maps
# the legacy build; the v0 build is run once (its usage line) to be found first.
"$RL_V0" >/dev/null 2>&1
wait_log "$OUT/rustls.log" "rustls: $RL_LEGACY (pid $RSRV)" 10
wait_log "$OUT/rustls.log" "rustls: $RL_V0 " 10
consume rustls $AGENT_PORT 60
client P_RL "$RL_LEGACY" client 127.0.0.1 $RPP /rustls-legacy >"$OUT/rustls-legacy.out"
client P_RV "$RL_V0" client 127.0.0.1 $RPP /rustls-v0 >"$OUT/rustls-v0.out"
client P_RS "$RL_STRIP" client 127.0.0.1 $RPP /rustls-stripped >"$OUT/rustls-stripped.out"
client P_RC $PY tests/tls_client.py get 127.0.0.1 $RSP /to-rustls >"$OUT/rustls-server-client.out"
# five connections one after another: each one's ClientConnection at the same stack
# address, so the TLS object is the same pointer five times over
client P_RQ "$RL_LEGACY" client 127.0.0.1 $RPP /seq 5 >"$OUT/rustls-seq.out"
wait $RSRV 2>/dev/null
settle
# the server started first: the file is probed once, for every process running it
check "discovery, no flags: the rustls program (legacy names) probed, version from its sources' path" \
  grep -q "rustls: $RL_LEGACY (pid $RSRV) (0.20.8): 2 of 2 functions probed" "$OUT/rustls.log"
check "discovery, no flags: the v0-mangled build probed too" \
  grep -q "rustls: $RL_V0 (pid [0-9]*) (0.20.8): 2 of 2 functions probed" "$OUT/rustls.log"
# byte-exact: every write of the client on its connection is the request, every read the
# response as the client printed it
rustls_exact() {
  $PY - "$OUT/rustls.json" "$1" "$2" "$3" "$4" <<'PYEOF'
import base64, json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"event_payload"' in l]
pid, port, resp = int(sys.argv[2]), int(sys.argv[3]), open(sys.argv[5], "rb").read()
req = b"GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % sys.argv[4].encode()
mine = [e for e in ev if e["pid"] == pid]
w = [e for e in mine if e["type"] != 3 and e["dst_port"] == port]
r = [e for e in mine if e["src_port"] == port]
ok = (mine and len({e["uuid"] for e in mine}) == 1 and all(e["pname"] == "rustls-peer" for e in mine)
      and b"".join(base64.b64decode(e["payload_b64"]) for e in w) == req
      and b"".join(base64.b64decode(e["payload_b64"]) for e in r) == resp and len(resp) > 0
      and len(w) + len(r) == len(mine) and w[0]["type"] == 1 and r[0]["type"] == 3
      and all(e["src_ip"] == e["dst_ip"] == "127.0.0.1" for e in mine)
      and all(e["src_port"] == r[0]["dst_port"] for e in w) and r[0]["dst_port"] not in (0, port))
if not ok:
    for e in mine: print({k: v for k, v in e.items() if k != "payload_b64"}, base64.b64decode(e["payload_b64"])[:60])
sys.exit(0 if ok else 1)
PYEOF
}
check "rustls client, legacy names: request and response byte-exact, pid, pname, one uuid, tuple, types" \
  rustls_exact $P_RL $RPP /rustls-legacy "$OUT/rustls-legacy.out"
check "rustls client, v0 names: the same" \
  rustls_exact $P_RV $RPP /rustls-v0 "$OUT/rustls-v0.out"
check "rustls server (Writer::write, Reader::read on the accepted socket): reads the request, writes the response" \
  $PY tests/check_capture.py "$OUT/rustls.json" served $RSRV rustls-peer $RSP /to-rustls "hello /to-rustls"
check "rustls, 5 connections in turn, one TLS object address: each its own uuid and its own tuple, never the last one's" \
  $PY - "$OUT/rustls.json" $P_RQ $RPP <<'PYEOF'
import base64, json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"event_payload"' in l]
pid, port = int(sys.argv[2]), int(sys.argv[3])
mine = [dict(e, data=base64.b64decode(e["payload_b64"])) for e in ev if e["pid"] == pid]
seen = set()
for i in range(5):
    w = [e for e in mine if e["data"].startswith(b"GET /seq-%d " % i)]
    r = [e for e in mine if b"hello /seq-%d\n" % i in e["data"]]
    if len(w) != 1 or len(r) != 1 or w[0]["uuid"] != r[0]["uuid"] or w[0]["uuid"] in seen \
       or w[0]["dst_port"] != port or r[0]["src_port"] != port or w[0]["src_port"] != r[0]["dst_port"]:
        for e in mine: print({k: v for k, v in e.items() if k not in ("payload_b64", "data")}, e["data"][:40])
        sys.exit(1)
    seen.add(w[0]["uuid"])
PYEOF
check "a stripped rustls build: one line, rustls found, functions not identified" \
  grep -qx ".*rustls: $RL_STRIP (pid $P_RS) (0.20.8): rustls found, functions not identified (stripped, or inlined by link-time optimisation)" "$OUT/rustls.log"
check "the stripped build's exchange worked and gave no event (nothing made up)" \
  bash -c "grep -q 'hello /rustls-stripped' $OUT/rustls-stripped.out && $PY tests/check_capture.py $OUT/rustls.json none $P_RS"
check "the rustls agent reports no loss and still runs" bash -c "kill -0 $RA && ! grep -q 'capture lost' $OUT/rustls.log"
kill -TERM $RA $RPY 2>/dev/null; wait $RA $RPY 2>/dev/null
