# Hostile local users against the root agent, sourced by test.sh as root: each attack
# runs as nobody (setpriv --reuid=65534) against an agent started with no flags, and
# the agent must stay alive, keep serving and keep capturing others.
section "hostile users: files changed under discovery"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
cc -O2 -Wall -Wextra -o "$BIN/truncator" tests/truncator.c
start_agent hostile tls || return 0
HA=$AGENT_PID HAP=$AGENT_PORT
HD=$(mktemp -d /tmp/ecq-hostile.XXXXXX) && chmod 755 "$HD" && chown 65534:65534 "$HD"
CRYPTO=$(ldconfig -p | grep -o '/[^ ]*libcrypto.so.3$' | head -1)

# 1. the owner truncates a file while the agent parses it through its mapping (SIGBUS)
timeout 300 "${NOBODY[@]}" "$BIN/truncator" "$CRYPTO" "$HD" 120 >"$OUT/truncator.out" 2>&1
check "nobody truncating 120 files under the parse, 480 times: the agent lives ($(grep -c 'shrank while it was read' "$OUT/hostile.log") parses cut short, each said in one line; $(cat "$OUT/truncator.out"))" \
  bash -c "grep -q '^done 120' $OUT/truncator.out && kill -0 $HA"
check "... and still serves a consumer (its replay and a heartbeat)" \
  bash -c "$PY tests/consume.py ws://127.0.0.1:$HAP/ --seconds 2 | grep -q heartbeat_payload"
rm -rf "$HD"
