# lib.sh - what every test area uses, sourced by test.sh: counters, checks, and
# servers on ports the kernel picks (never a fixed port: nothing else on the machine
# can answer a test).
PY=/usr/bin/python3            # Debian's python, with python3-websockets and python3-protobuf
OUT=$TOP/tests/out
BIN=$TOP/tests/bin
SAN="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
PASS=0 FAIL=0 SKIP=0
PIDS=()
ECQ=./ecaptureq

ok()   { PASS=$((PASS + 1)); echo "ok - $*"; }
bad()  { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
skip() { SKIP=$((SKIP + 1)); echo "skip - $*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
section() { echo; echo "# $*"; }
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }

# built NAME: waits for tests/prebuild.sh's build of NAME (started by test.sh beside the
# first areas); true if it built. A failed build's compiler output goes to stderr.
built() {
  local rc=$OUT/prebuild/$1.rc i=0
  while [ ! -f "$rc" ] && [ $i -lt 6000 ]; do sleep 0.1; i=$((i + 1)); done
  [ "$(cat "$rc" 2>/dev/null)" = 0 ] && return 0
  cat "$OUT/prebuild/$1.log" >&2 2>/dev/null
  return 1
}

# unpriv CMD...: CMD as user and group 65534 (nobody) when we are root, as an attack
# from any local user would run; as we are otherwise
unpriv() {
  if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
  else
    "$@"
  fi
}

# counts a tool's "ok - ..." / "not ok - ..." lines
tally() {
  local line
  while IFS= read -r line; do
    echo "$line"
    case $line in
      "ok - "*) PASS=$((PASS + 1)) ;;
      "not ok - "*) FAIL=$((FAIL + 1)) ;;
    esac
  done
}

# wait_log FILE PATTERN [SECONDS]
wait_log() {
  local i
  for ((i = 0; i < ${3:-10} * 20; i++)); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

# log_port FILE: the port a server logged ("listening on ws://HOST:PORT/" or "ready PORT")
log_port() {
  grep -o -m1 -E 'listening on ws://(\[[^]]*\]|[^/]*):[0-9]+|^ready [0-9]+' "$1" | grep -o '[0-9]*$'
}

# free_port: a port that was free a moment ago, for the one test that must start a
# client before its server exists (watch --reconnect)
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_srv NAME URL ARGS...: $ECQ gen on URL in the background, log in $OUT/NAME.log;
# sets GEN_PID and PORT (the port it bound). A server that does not start fails loudly.
start_srv() {
  local name=$1 url=$2; shift 2
  $ECQ gen --ecaptureq "$url" "$@" 2>"$OUT/$name.log" &
  GEN_PID=$!
  PIDS+=("$GEN_PID")
  PORT=
  if wait_log "$OUT/$name.log" "listening on" 10; then PORT=$(log_port "$OUT/$name.log"); fi
  if [ -z "$PORT" ]; then
    bad "$name: the test's own server did not start (see $OUT/$name.log)"
    cat "$OUT/$name.log" >&2
    return 1
  fi
}

# start_gen NAME ARGS...: start_srv on 127.0.0.1, any free port
start_gen() { local name=$1; shift; start_srv "$name" "ws://127.0.0.1:0/" "$@"; }

# start_ready NAME CMD...: a helper server that prints "ready PORT"; sets HPID, HPORT
start_ready() {
  local name=$1; shift
  "$@" >"$OUT/$name.out" 2>&1 &
  HPID=$!
  PIDS+=("$HPID")
  HPORT=
  if wait_log "$OUT/$name.out" "^ready" 20; then HPORT=$(log_port "$OUT/$name.out"); fi
  if [ -z "$HPORT" ]; then
    bad "$name: the test's helper server did not start (see $OUT/$name.out)"
    cat "$OUT/$name.out" >&2
    return 1
  fi
}

# wait_file FILE [SECONDS]: until FILE exists
wait_file() {
  local i
  for ((i = 0; i < ${2:-10} * 20; i++)); do [ -e "$1" ] && return 0; sleep 0.05; done
  return 1
}

# consume NAME PORT SECONDS: a consumer of the agent on PORT, recording into
# $OUT/NAME.json (protoc-generated Python); returns once the stream is live. CONS: its pid
consume() {
  rm -f "$OUT/$1.ready"
  $PY tests/consume.py "ws://127.0.0.1:$2/" --seconds "$3" --ready "$OUT/$1.ready" >"$OUT/$1.json" &
  CONS=$!
  wait_file "$OUT/$1.ready" 5
}

# settle: once the consumer's output has stopped growing for 0.6 s (all delivered and
# decoded: the agent hands an event on within milliseconds, the consumer writes as it
# decodes), stop the consumer; two minutes at most
settle() {
  local f=/proc/$CONS/fd/1 last=-1 size i quiet=0
  for ((i = 0; i < 1200 && quiet < 6; i++)); do
    size=$(stat -L -c %s "$f" 2>/dev/null || echo gone)
    if [ "$size" = "$last" ]; then quiet=$((quiet + 1)); else quiet=0; fi
    last=$size
    sleep 0.1
  done
  kill -TERM $CONS 2>/dev/null; wait $CONS 2>/dev/null
}

# client VAR CMD...: runs a TLS client in the background with a 20 s watchdog, waits,
# and sets VAR to the client's own pid (the pid the events must carry)
client() {
  local var=$1; shift
  "$@" <&0 & local pid=$!
  (sleep 20; kill -9 $pid 2>/dev/null) & local wd=$!
  wait $pid; kill $wd 2>/dev/null; wait $wd 2>/dev/null
  printf -v "$var" %s "$pid"
}

# start_agent NAME ARGS...: ./ecaptureq ARGS on any free port in the background, log in
# $OUT/NAME.log; sets AGENT_PID and AGENT_PORT once it says "capturing". An agent that
# does not get there fails loudly (and returns 1).
start_agent() {
  local name=$1; shift
  ./ecaptureq "$@" --ecaptureq ws://127.0.0.1:0/ 2>"$OUT/$name.log" &
  AGENT_PID=$!
  PIDS+=("$AGENT_PID")
  AGENT_PORT=
  if wait_log "$OUT/$name.log" capturing 20; then AGENT_PORT=$(log_port "$OUT/$name.log"); fi
  if [ -z "$AGENT_PORT" ]; then
    bad "$name: ecaptureq $1 starts and attaches (see $OUT/$name.log)"
    cat "$OUT/$name.log" >&2
    return 1
  fi
}

# start_nginx DIR PAGE [LISTEN_WORDS...]: nginx with one worker (its connections one after
# another share one fd) serving DIR/html over TLS ($CERT, $KEY) on 127.0.0.1, any free
# port, the listen line's extra words added (http2); sets NGX and NGP once PAGE answers
start_nginx() {
  local dir=$1 page=$2 i
  shift 2
  NGP=$(free_port)
  mkdir -p "$dir/logs" "$dir/html"
  cat >"$dir/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
user root;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NGP ssl $*;
    ssl_certificate $CERT;
    ssl_certificate_key $KEY;
    root $dir/html;
  }
}
NGINX
  nginx -c "$dir/nginx.conf" -p "$dir" &
  NGX=$!
  PIDS+=("$NGX")
  for ((i = 0; i < 100; i++)); do curl -sk -o /dev/null "https://127.0.0.1:$NGP/$page" && break; sleep 0.1; done
}
