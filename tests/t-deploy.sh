# Deployment: the static binary in an empty tree (a FROM scratch image's view; without
# /sys, without /proc), bpf() refused by seccomp, the Dockerfile, and the DaemonSet
# manifest's fields and capability set (as root).
section "deploy: static binary in an empty tree, Dockerfile, DaemonSet"
make -s static >"$OUT/static-build.log" 2>&1
SIZE=$(stat -c %s ecaptureq-static 2>/dev/null || echo 0)
check "make static: one stripped, statically linked binary ($SIZE bytes)" \
  bash -c "test $SIZE -gt 0 && ! readelf -d ecaptureq-static 2>/dev/null | grep -q NEEDED && ! readelf -S ecaptureq-static | grep -q '\.symtab'"

# the tree a FROM scratch container sees: the binary, /proc and /sys, nothing else
ROOT=$OUT/empty-root
rm -rf "$ROOT" && mkdir -p "$ROOT/proc" "$ROOT/sys" && cp ecaptureq-static "$ROOT/ecaptureq"
mount --bind /proc "$ROOT/proc" && mount --rbind /sys "$ROOT/sys" && mount --make-rslave "$ROOT/sys"
check "the empty tree holds no /etc, no libc, no NSS" bash -c "test ! -e $ROOT/etc && test \$(ls $ROOT | wc -l) = 3"
chroot "$ROOT" /ecaptureq gen --ecaptureq ws://localhost:0/ --events 3 --wait-clients 1 2>"$OUT/chroot-gen.log" &
CG=$!
if wait_log "$OUT/chroot-gen.log" "listening on" 10; then
  CP=$(log_port "$OUT/chroot-gen.log")
  timeout 10 chroot "$ROOT" /ecaptureq watch ws://localhost:$CP/ --json >"$OUT/chroot-watch.json" 2>"$OUT/chroot-watch.err"
  wait $CG
  check "in the empty tree, ws://localhost:PORT/ works without NSS: gen binds 127.0.0.1, watch connects, 3 events" \
    bash -c "grep -q 'listening on ws://localhost:$CP/' $OUT/chroot-gen.log && test \$(grep -c '\"kind\":\"event\"' $OUT/chroot-watch.json) = 3"
else
  bad "gen in the empty tree did not start (see $OUT/chroot-gen.log)"; cat "$OUT/chroot-gen.log"
fi
timeout 2 chroot "$ROOT" /ecaptureq gen --ecaptureq ws://ip6-localhost:0/ 2>"$OUT/chroot-gen6.log" >/dev/null
check "... and ws://ip6-localhost:0/ is served too (on ::1)" grep -q 'listening on ws://ip6-localhost:' "$OUT/chroot-gen6.log"
timeout 5 chroot "$ROOT" /ecaptureq watch ws://no-such-host.invalid:1/ >/dev/null 2>"$OUT/chroot-nores.err"; rc=$?
check "... another name without a resolver: watch fails with a clear line, not a hang" \
  bash -c "test $rc != 0 && test $rc != 124 && grep -q 'cannot resolve no-such-host.invalid' $OUT/chroot-nores.err"

[ -f "$OUT/cert.pem" ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout "$OUT/key.pem" -out "$OUT/cert.pem" -days 2 -subj /CN=localhost 2>/dev/null
start_ready deploy-tls $PY tests/tls_server.py 127.0.0.1 0 "$OUT/cert.pem" "$OUT/key.pem" && {
  DTLS=$HPID DP=$HPORT
  chroot "$ROOT" /ecaptureq tls --ecaptureq ws://localhost:0/ 2>"$OUT/chroot-tls.log" &
  CT=$!
  if wait_log "$OUT/chroot-tls.log" capturing 20; then
    consume chroot-tls "$(log_port "$OUT/chroot-tls.log")" 30
    client P_CC curl -sk --max-time 10 -o /dev/null https://127.0.0.1:$DP/from-host
    settle
    check "the static binary capturing from the empty tree: a curl on the host, request and response" \
      $PY tests/check_capture.py "$OUT/chroot-tls.json" exchange $P_CC curl 127.0.0.1 $DP "GET /from-host HTTP/1.1" "hello /from-host"
    check "... its kernel check asked this kernel for every BPF feature capture needs, and found them" \
      grep -q "kernel $(uname -r) has the [0-9]* BPF features capture needs (Linux 5.17+)" "$OUT/chroot-tls.log"
  else
    bad "tls in the empty tree did not start capturing (see $OUT/chroot-tls.log)"; cat "$OUT/chroot-tls.log"
  fi
  kill -TERM $CT 2>/dev/null; wait $CT 2>/dev/null
}
umount -R "$ROOT/sys" 2>/dev/null; umount "$ROOT/proc" 2>/dev/null
# the same tree without /sys, then without /proc: the missing mount is named, not
# taken for a kernel without BTF (issue 25)
mount --bind /proc "$ROOT/proc"
chroot "$ROOT" /ecaptureq tls --ecaptureq ws://localhost:0/ >/dev/null 2>"$OUT/nosys.err"; rc=$?
umount "$ROOT/proc"
check "in a tree without /sys: exit 1 and one line, 'cannot read /sys/kernel/btf/vmlinux: is /sys mounted?'" \
  bash -c "test $rc = 1 && test \$(wc -l <$OUT/nosys.err) = 1 && grep -qx 'ecaptureq: cannot read /sys/kernel/btf/vmlinux: is /sys mounted?' $OUT/nosys.err"
mount --rbind /sys "$ROOT/sys" && mount --make-rslave "$ROOT/sys"
chroot "$ROOT" /ecaptureq tls --ecaptureq ws://localhost:0/ >/dev/null 2>"$OUT/noproc.err"; rc=$?
umount -R "$ROOT/sys"
check "in a tree without /proc: exit 1 and one line, 'cannot read /proc/self/maps: is /proc mounted? …'" \
  bash -c "test $rc = 1 && test \$(wc -l <$OUT/noproc.err) = 1 && grep -q '^ecaptureq: cannot read /proc/self/maps: is /proc mounted?' $OUT/noproc.err"
check "the empty tree's mounts are gone again" bash -c "! grep -q '$ROOT' /proc/mounts"

check "Dockerfile: FROM scratch, the static binary, its entry point" \
  bash -c "grep -qx 'FROM scratch' Dockerfile && grep -qx 'COPY build/\${TARGETARCH}/ecaptureq-static /ecaptureq' Dockerfile && grep -q '^ENTRYPOINT \[\"/ecaptureq\"\]' Dockerfile"

CAPS=$($PY - deploy/daemonset.yaml >"$OUT/manifest.txt" <<'PYEOF'; tail -1 "$OUT/manifest.txt"
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
spec = d["spec"]["template"]["spec"]
c = spec["containers"][0]
args = c["args"]
vols = {v["name"]: v for v in spec.get("volumes", [])}
mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
tf = args[args.index("--token-file") + 1]
env = {e["name"]: e for e in c.get("env", [])}
caps = c["securityContext"]["capabilities"]
checks = {
    "a DaemonSet": d["kind"] == "DaemonSet" and d["apiVersion"] == "apps/v1",
    "hostPID": spec.get("hostPID") is True,
    "listens on the node's address": args[0] == "tls" and args[args.index("--ecaptureq") + 1] == "ws://$(NODE_IP):28257/"
        and env["NODE_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP" and spec.get("hostNetwork") is True,
    "token from a Secret": any(tf.startswith(p + "/") and "secret" in vols[n] for p, n in mounts.items()),
    "TCP readiness probe": c["readinessProbe"]["tcpSocket"]["port"] == 28257,
    "resource limits": "memory" in c["resources"]["limits"] and "cpu" in c["resources"]["limits"],
    "capabilities: drop ALL, add what capture needs": caps["drop"] == ["ALL"] and {"BPF", "PERFMON"} <= set(caps["add"]),
}
bad = [k for k, v in checks.items() if not v]
print("manifest:", "ok" if not bad else "missing " + ", ".join(bad))
print(",".join("+" + x.lower() for x in caps["add"]))
PYEOF
)
check "deploy/daemonset.yaml parses and carries hostPID, the node address, a Secret's token, a TCP readiness probe, limits, capabilities" \
  grep -qx "manifest: ok" "$OUT/manifest.txt"
# a seccomp profile that refuses bpf() (as a container runtime's may): named as a refusal,
# not as a missing kernel feature
cc -O2 -Wall -Wextra -Werror -o "$BIN/nobpf" tests/nobpf.c
"$BIN/nobpf" ./ecaptureq tls --ecaptureq ws://127.0.0.1:0/ >/dev/null 2>"$OUT/nobpf.err"; rc=$?
check "bpf() refused by seccomp (EPERM): exit 1 and one line, 'the kernel refuses bpf(): Operation not permitted …'" \
  bash -c "test $rc = 1 && test \$(wc -l <$OUT/nobpf.err) = 1 && grep -q '^ecaptureq: the kernel refuses bpf(): Operation not permitted (a seccomp profile, SELinux or AppArmor' $OUT/nobpf.err"
# the manifest's capabilities, and no more, are enough to capture
if [ -n "$CAPS" ] && start_ready deploy-tls2 $PY tests/tls_server.py 127.0.0.1 0 "$OUT/cert.pem" "$OUT/key.pem"; then
  DTLS2=$HPID DP2=$HPORT
  setpriv --bounding-set "-all,$CAPS" --inh-caps -all ./ecaptureq tls --ecaptureq ws://127.0.0.1:0/ 2>"$OUT/caps.log" &
  CA=$!
  if wait_log "$OUT/caps.log" capturing 20; then
    consume caps "$(log_port "$OUT/caps.log")" 30
    client P_CA curl -sk --max-time 10 -o /dev/null https://127.0.0.1:$DP2/caps
    settle
    check "the agent with exactly the manifest's capabilities ($CAPS) captures a curl" \
      bash -c "grep -q 'CapEff:.*' /proc/$CA/status && $PY tests/check_capture.py $OUT/caps.json exchange $P_CA curl 127.0.0.1 $DP2 'GET /caps HTTP/1.1' 'hello /caps'"
    check "... and with only those, its kernel check could ask the kernel for every feature" \
      grep -q "kernel $(uname -r) has the [0-9]* BPF features capture needs (Linux 5.17+)" "$OUT/caps.log"
  else
    bad "the agent with the manifest's capabilities ($CAPS) did not start capturing (see $OUT/caps.log)"; cat "$OUT/caps.log"
  fi
  kill -TERM $CA 2>/dev/null; wait $CA 2>/dev/null
  kill $DTLS2 2>/dev/null; wait $DTLS2 2>/dev/null
fi
kill $DTLS 2>/dev/null; wait $DTLS 2>/dev/null
