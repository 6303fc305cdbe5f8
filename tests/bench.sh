#!/usr/bin/env bash
# make bench: ecaptureq against the limits, each limit measured in the same run, with
# the ratio printed. Writes the tables to tests/out/bench.md (and prints them).
#   1. hub throughput: gen -> K = 1, 8, 64 C readers (tests/wsclients.c: decode every
#      frame, check the sequence) at 256 B and 4 KiB, against tests/rawwriter.c, which
#      replays the same bytes recorded from gen with nothing per event
#   2. capture overhead (root): SSL_write loops (tests/bench/sslbench.c) bare, under a
#      do-nothing probe set on the same functions (tests/bench/nop.bpf.c), under the
#      agent, and under the agent with one reader; rounds interleaved, medians
#   3. capture latency and the agent's CPU (root): Event.timestamp to the agent's read,
#      to its frame written, to the reader, at 1k, 10k, 50k writes/s, the machine's own
#      wakeup latency (a 500 us sleep) as the reference; the agent's CPU per event and
#      per wakeup, against a bare program's wakeup at the same period (tests/bench/wakefloor.c)
#   4. capture ceiling (root): the SSL_write rate every event of which reaches a reader
#   5. memory: RSS idle, with 100 idle clients, with a stalled client; binary sizes
#   6. Go (root, with Go installed): a Go client's writes bare, under do-nothing probes
#      at the same places, and under gotls
#   7. stopping (root, with Go): SIGTERM to exit with uprobe_multi links and with one
#      perf event per probe
#   8. the host's system-call tax (root): getppid() in a loop with no agent and under
#      `ecaptureq tls` (tests/bench/sysloop.c)
# ROUNDS (default 3; 5 for capture overhead) and QUICK=1 (smaller runs) change the size.
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
OUT=tests/out BIN=tests/bin
R=$OUT/bench.md
mkdir -p $OUT $BIN
make -s ecaptureq || exit 1
cc -O2 -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -o $BIN/wsclients tests/wsclients.c ecaptureq.c &&
cc -O2 -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -o $BIN/rawwriter tests/rawwriter.c ecaptureq.c || exit 1
ROUNDS=${ROUNDS:-3}
Q=${QUICK:-0}
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null' EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }
port_of() { # FILE: the port a server logged
  local i p
  for i in $(seq 200); do
    p=$(grep -o -m1 -E 'listening on ws://127.0.0.1:[0-9]+|^ready [0-9]+' "$1" 2>/dev/null | grep -o '[0-9]*$') && [ -n "$p" ] && { echo $p; return 0; }
    sleep 0.05
  done
  echo "bench: the server of $1 did not start" >&2; return 1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
fmt() { awk -v v="$1" 'BEGIN { if (v >= 1e6) printf "%.2f M", v / 1e6; else if (v >= 1e3) printf "%.0f k", v / 1e3; else printf "%.0f", v }'; }

{
  echo "# make bench"
  echo
  echo "$(date -u +%Y-%m-%d), $(uname -r), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/ {print $2}') GiB;"
  echo "ecaptureq $(git rev-parse --short HEAD 2>/dev/null || echo '?'); server and readers share the CPUs."
} >$R

# ---- 1. hub throughput ------------------------------------------------------
gen_run() { # K N SIZE -> events/s the readers got from gen
  ./ecaptureq gen --ecaptureq ws://127.0.0.1:0/ --events $2 --size $3 --wait-clients $1 2>$OUT/bench-gen.log &
  local g=$! p; p=$(port_of $OUT/bench-gen.log) || { kill $g; return 1; }
  $BIN/wsclients 127.0.0.1 $p -c $1 -n $2 -t 300 | grep -o 'events_per_s=[0-9]*' | cut -d= -f2
  wait $g
}
raw_run() { # K N SIZE -> events/s the readers got from the raw writer
  ./ecaptureq gen --ecaptureq ws://127.0.0.1:0/ --events $2 --size $3 --wait-clients 1 2>$OUT/bench-gen.log &
  local g=$! p rp; p=$(port_of $OUT/bench-gen.log) || { kill $g; return 1; }
  $BIN/rawwriter 127.0.0.1 $p -c $1 >$OUT/bench-raw.out &
  local w=$!
  rp=$(port_of $OUT/bench-raw.out) || { kill $w $g; return 1; }
  $BIN/wsclients 127.0.0.1 $rp -c $1 -n $2 -t 300 | grep -o 'events_per_s=[0-9]*' | cut -d= -f2
  wait $w $g
}
{
  echo
  echo "## 1. Hub throughput: gen to K readers, lossless, events/s summed over the readers (median of $ROUNDS)"
  echo
  echo "| K | payload | raw pre-encoded writer (limit) | ecaptureq gen | ratio |"
  echo "|---|---|---|---|---|"
} >>$R
for size in 256 4096; do
  for k in 1 8 64; do
    total=$((size == 256 ? 2000000 : 400000)); [ $Q = 1 ] && total=$((total / 10))
    n=$((total / k))
    ours=() raws=()
    for r in $(seq $ROUNDS); do raws+=($(raw_run $k $n $size)); ours+=($(gen_run $k $n $size)); done
    o=$(printf '%s\n' "${ours[@]}" | median) w=$(printf '%s\n' "${raws[@]}" | median)
    echo "| $k | $size B | $(fmt $w) | $(fmt $o) | **$(ratio $o $w)** |" >>$R
    echo "hub K=$k size=$size: raw ${raws[*]}, gen ${ours[*]}"
  done
done

# ---- capture parts: root and BPF -------------------------------------------
if [ "$(id -u)" = 0 ] && cc -O2 -Wall -o $BIN/sslbench tests/bench/sslbench.c -lssl -lcrypto 2>/dev/null &&
   clang -O2 -g -target bpf -idirafter /usr/include/$(cc -print-multiarch) -c tests/bench/nop.bpf.c -o $BIN/nop.bpf.o &&
   cc -O2 -Wall -o $BIN/nopprobe tests/bench/nopprobe.c -lbpf; then
  [ -f $OUT/cert.pem ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout $OUT/key.pem -out $OUT/cert.pem -days 2 -subj /CN=localhost 2>/dev/null
  LIB=$(ldconfig -p | awk '/libssl.so.3 / {print $NF; exit}')
  SB="$BIN/sslbench -c $OUT/cert.pem -k $OUT/key.pem"
  us_per() { $SB "$@" | grep -m1 -o '[0-9.]* us per write' | cut -d' ' -f1; }
  agent_on() {
    ./ecaptureq tls --ecaptureq ws://127.0.0.1:0/ 2>$OUT/bench-agent.log &
    AGENT=$!
    for i in $(seq 200); do grep -q capturing $OUT/bench-agent.log && break; sleep 0.05; done
    APORT=$(port_of $OUT/bench-agent.log)
  }
  agent_off() { kill -TERM $AGENT; wait $AGENT 2>/dev/null; }
  cpu_ns() { awk '{print $1}' /proc/$1/schedstat; } # PID's time on CPU, ns

  # ---- 2. capture overhead --------------------------------------------------
  CR=${CROUNDS:-5}
  {
    echo
    echo "## 2. Capture overhead: µs per SSL_write over loopback TLS (a reader process SSL_reads it), median of $CR interleaved rounds"
    echo
    echo "| payload | bare | do-nothing probes (limit) | agent, no reader | agent + one C reader | agent+reader / do-nothing (limit 1.25) | the agent's CPU per write, with the reader |"
    echo "|---|---|---|---|---|---|---|"
  } >>$R
  for size in 100 1024 16384; do
    n=$((size == 16384 ? 5000 : 20000)); [ $Q = 1 ] && n=$((n / 4))
    b=() z=() a=() c=() u=()
    for r in $(seq $CR); do
      b+=($(us_per -n $n -s $size))
      $BIN/nopprobe $BIN/nop.bpf.o $LIB SSL_write SSL_read SSL_write_ex SSL_read_ex SSL_free:entry >$OUT/bench-nop.out 2>&1 &
      np=$!
      for i in $(seq 100); do grep -q attached $OUT/bench-nop.out && break; sleep 0.05; done
      z+=($(us_per -n $n -s $size))
      kill $np; wait $np 2>/dev/null
      agent_on
      a+=($(us_per -n $n -s $size))
      $BIN/wsclients 127.0.0.1 $APORT -c 1 -a -n 1000000000 -t 600 >/dev/null 2>&1 &
      rd=$!
      sleep 0.3
      t0=$(cpu_ns $AGENT)
      c+=($(us_per -n $n -s $size))
      u+=($(awk -v a=$t0 -v b=$(cpu_ns $AGENT) -v n=$n 'BEGIN { printf "%.2f", (b - a) / n / 1000 }'))
      kill $rd; wait $rd 2>/dev/null
      agent_off
      LENT=$(grep -o '[0-9]* frame(s) written from the ring.s memory, [0-9]* of them' $OUT/bench-agent.log)
    done
    mb=$(printf '%s\n' "${b[@]}" | median) mz=$(printf '%s\n' "${z[@]}" | median)
    ma=$(printf '%s\n' "${a[@]}" | median) mc=$(printf '%s\n' "${c[@]}" | median)
    echo "| $size B | $mb | $mz | $ma | $mc | **$(ratio $mc $mz)×** | $(printf '%s\n' "${u[@]}" | median) µs |" >>$R
    echo "overhead size=$size: bare ${b[*]} | nop ${z[*]} | agent ${a[*]} | agent+reader ${c[*]} | agent CPU ${u[*]}"
    [ "$size" = 16384 ] && LENT16=$LENT
  done
  {
    echo
    echo "Copies of a payload's bytes: the probe's into the ring, the kernel's into the reader's socket and out of it;"
    echo "from 4 KiB on the agent writes frames straight from the ring's memory and copies a payload only for a client"
    echo "whose socket is full (the last 16 KiB round, the agent's own count: ${LENT16:-none} copied)."
  } >>$R

  # ---- 3. capture latency ---------------------------------------------------
  cat >$OUT/tslack.c <<'EOF'
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
static long long ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
static int cmp(const void *a, const void *b) { long long x = *(const long long *)a, y = *(const long long *)b; return x < y ? -1 : x > y; }
int main(void)
{
    static long long d[20000];
    struct timespec ts = {0, 500000};
    prctl(PR_SET_TIMERSLACK, 1UL); /* as the agent's drain timer */
    for (int i = 0; i < 20000; i++) { long long t = ns(); ppoll(NULL, 0, &ts, NULL); d[i] = ns() - t - 500000; }
    qsort(d, 20000, sizeof d[0], cmp);
    printf("%lld %lld %lld\n", d[10000] / 1000, d[19800] / 1000, d[19999] / 1000);
    return 0;
}
EOF
  cc -O2 -o $BIN/tslack $OUT/tslack.c
  cc -O2 -Wall -o $BIN/wakefloor tests/bench/wakefloor.c -lbpf || exit 1
  {
    echo
    echo "## 3. Capture latency and the agent's CPU: 1 KiB SSL_writes paced, one C reader; a fresh agent per rate"
    echo
    echo "Latency per stage, from the event's timestamp (the probe's clock) to: the agent's read of its record, its frame written"
    echo "to the reader's socket (both from the agent's own log at stop), and the frame decoded by the reader; p50 / p99 / max in µs."
    echo "Limit: p99 at the reader ≤ 1000 µs. CPU: the agent's time on CPU (schedstat) over the events it handled (each write"
    echo "is two: the writer's SSL_write and the reader's SSL_read); limit ≤ 1.5 µs per event at 10k writes/s. Per wakeup: the"
    echo "agent's CPU over its context switches, against the floor rows: a bare program (tests/bench/wakefloor.c) that only"
    echo "sleeps at the agent's drain period, alone and on an empty BPF ring's epoll descriptor (median of $ROUNDS)."
    echo
    echo "| writes/s asked | done | agent read | frame written | reader got | reader p99 / 1 ms | agent CPU | µs per event | wakeups/s | µs per wakeup |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
  } >>$R
  switches() { awk '/ctxt_switches/ {s += $2} END {print s}' /proc/$1/status; }
  usersys() { awk '{print $14, $15}' /proc/$1/stat; } # clock ticks in user and system mode
  for rate in 1000 10000 50000; do
    n=$((rate * 3)); [ $n -gt 60000 ] && n=60000; [ $Q = 1 ] && n=$((n / 3))
    agent_on
    $BIN/wsclients 127.0.0.1 $APORT -c 1 -a -p sslbench-w -L -n $n -t 60 >$OUT/bench-lat.out 2>&1 &
    rd=$!
    sleep 0.3
    c0=$(cpu_ns $AGENT) s0=$(switches $AGENT) t0=$(date +%s%N); read -r u0 k0 < <(usersys $AGENT)
    done_rate=$($SB -n $n -s 1024 -r $rate | grep -o 'total: [0-9]*' | grep -o '[0-9]*')
    wait $rd
    c1=$(cpu_ns $AGENT) s1=$(switches $AGENT) t1=$(date +%s%N); read -r u1 k1 < <(usersys $AGENT)
    agent_off
    l=$(grep -o 'p50=[0-9]* p99=[0-9]* max=[0-9]*' $OUT/bench-lat.out)
    read -r ar50 ar99 armax aw50 aw99 awmax < <(grep -o 'latency: .*' $OUT/bench-agent.log | tail -1 |
      sed -E 's/.*read p50 ([0-9]+) p99 ([0-9]+) max ([0-9]+) us.*written p50 ([0-9]+) p99 ([0-9]+) max ([0-9]+) us.*/\1 \2 \3 \4 \5 \6/')
    read -r c50 c99 cmax < <(echo $l | sed -E 's/p50=([0-9]+) p99=([0-9]+) max=([0-9]+)/\1 \2 \3/')
    cpu=$(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v u=$((u1 - u0)) -v k=$((k1 - k0)) \
      'BEGIN {printf "%.1f%% (%.0f%% in the kernel)", 100 * c / t, (u + k > 0 ? 100 * k / (u + k) : 0)}')
    per=$(awk -v c=$((c1 - c0)) -v n=$((2 * n)) 'BEGIN {printf "%.2f", c / 1000 / n}')
    wk=$(awk -v s=$((s1 - s0)) -v t=$((t1 - t0)) 'BEGIN {printf "%.0f", s / (t / 1e9)}')
    pw=$(awk -v c=$((c1 - c0)) -v s=$((s1 - s0)) 'BEGIN {if (s > 0) printf "%.1f", c / 1000 / s}')
    echo "| $(fmt $rate) | $(fmt $done_rate) | $ar50 / $ar99 / $armax | $aw50 / $aw99 / $awmax | $c50 / $c99 / $cmax | **$(ratio ${c99:-0} 1000)** | $cpu | $per$([ $rate = 10000 ] && echo " (**$(ratio $per 1.5)** of 1.5)") | $wk | $pw |" >>$R
    echo "latency rate=$rate done=$done_rate: $l; agent $(grep -o 'latency: .*' $OUT/bench-agent.log | tail -1); cpu $cpu, $per us/event, $wk wakeups/s"
  done
  read -r s50 s99 smax < <($BIN/tslack)
  echo "| reference: a 500 µs sleep (1 ns slack, as the agent's drain) on this machine oversleeps by | | | | $s50 / $s99 / $smax | | | | | |" >>$R
  for m in sleep ring; do # the machine's own cost of a wakeup at the agent's drain period
    fl=() fw=()
    for r in $(seq $ROUNDS); do
      read -r w u < <($BIN/wakefloor $m 500 2 | sed -E 's/.*: ([0-9]+) wakeups\/s, ([0-9.]+) us.*/\1 \2/')
      fl+=($u) fw+=($w)
    done
    echo "floor $m 500 us: ${fl[*]} us per wakeup, ${fw[*]} wakeups/s"
    echo "| floor: a bare program woken every 500 µs, $([ $m = sleep ] && echo "ppoll() with no descriptor" || echo "ppoll() on an empty BPF ring's epoll fd") | | | | | | | | $(printf '%s\n' "${fw[@]}" | median) | $(printf '%s\n' "${fl[@]}" | median) |" >>$R
  done
  # the 50k row's writer: how fast it goes under the do-nothing probes alone (no agent)
  $BIN/nopprobe $BIN/nop.bpf.o $LIB SSL_write SSL_read SSL_write_ex SSL_read_ex SSL_free:entry >$OUT/bench-nop.out 2>&1 &
  np=$!
  for i in $(seq 100); do grep -q attached $OUT/bench-nop.out && break; sleep 0.05; done
  nw=$($SB -n $((Q == 1 ? 10000 : 40000)) -s 1024 | grep -o 'total: [0-9]*' | grep -o '[0-9]*')
  kill $np; wait $np 2>/dev/null
  echo "| reference: the same writer and reader at full speed under the do-nothing probes, no agent | $(fmt $nw) | | | | | | | | |" >>$R

  # ---- 4. capture ceiling ---------------------------------------------------
  {
    echo
    echo "## 4. Capture ceiling: 1 KiB SSL_writes at full speed, every event to one reader?"
    echo
    echo "| writers | writes | writes/s (all writers) | events at the reader | lost (agent's count) |"
    echo "|---|---|---|---|---|"
  } >>$R
  for w in 1 2; do
    n=$((Q == 1 ? 20000 : 100000))
    agent_on
    $BIN/wsclients 127.0.0.1 $APORT -c 1 -a -p sslbench-w -n $((n * w)) -t 120 >$OUT/bench-ceil.out 2>&1 &
    rd=$!
    sleep 0.3
    wr=$($SB -n $n -s 1024 -w $w | grep -o 'total: [0-9]*' | grep -o '[0-9]*')
    wait $rd
    got=$(grep -o 'received=[0-9]*' $OUT/bench-ceil.out | cut -d= -f2)
    agent_off
    lost=$(grep -o '[0-9]* records, [0-9]* calls in all' $OUT/bench-agent.log | tail -1 | sed 's/ in all//'); lost=${lost:-none}
    echo "| $w | $((n * w)) | $(fmt $wr) | $got | $lost |" >>$R
    echo "ceiling writers=$w: $wr writes/s, $got of $((n * w)) events, lost $lost"
  done
else
  echo >>$R; echo "(capture parts skipped: they need root, clang, libbpf and libssl-dev)" >>$R
fi

# ---- 5. memory ----------------------------------------------------------------
rss() { awk '/^VmRSS/ {print $2}' /proc/$1/status; }
hwm() { awk '/^VmHWM/ {print $2}' /proc/$1/status; }
{
  echo
  echo "## 5. Memory (kB)"
  echo
  echo "| what | RSS |"
  echo "|---|---|"
} >>$R
./ecaptureq gen --ecaptureq ws://127.0.0.1:0/ --events 1 --stay 2>$OUT/bench-mem.log &
g=$!; p=$(port_of $OUT/bench-mem.log)
sleep 0.3
echo "| gen, idle, no client | $(rss $g) |" >>$R
$BIN/wsclients 127.0.0.1 $p -c 100 -n 2 -t 3 >/dev/null 2>&1 &
c=$!
sleep 1
echo "| gen, 100 idle clients | $(rss $g) |" >>$R
wait $c; kill $g; wait $g 2>/dev/null
./ecaptureq gen --ecaptureq ws://127.0.0.1:0/ --events 100000 --size 1000 --wait-clients 2 --client-buffer 16777216 --stay 2>$OUT/bench-mem.log &
g=$!; p=$(port_of $OUT/bench-mem.log)
$BIN/wsclients 127.0.0.1 $p -c 1 -s 1 -n 100000 -t 60 >/dev/null 2>&1
echo "| gen, one reader and one stalled client (--client-buffer 16 MiB: closed with 1008 at its bound), peak | $(hwm $g) |" >>$R
kill $g; wait $g 2>/dev/null
if [ "$(id -u)" = 0 ]; then
  ./ecaptureq tls --ecaptureq ws://127.0.0.1:0/ 2>$OUT/bench-agent.log &
  a=$!
  for i in $(seq 200); do grep -q capturing $OUT/bench-agent.log && break; sleep 0.05; done
  sleep 0.5
  echo "| tls, idle: all of it / anonymous memory (the rest is the binary and the 8 MiB ring, which the kernel maps twice) | $(rss $a) / $(awk '/^RssAnon/ {print $2}' /proc/$a/status) |" >>$R
  kill $a; wait $a 2>/dev/null
fi
make -s static >/dev/null 2>&1
echo "| binary sizes (bytes): ecaptureq $(stat -c %s ecaptureq), ecaptureq-static (stripped) $(stat -c %s ecaptureq-static 2>/dev/null || echo -) | |" >>$R

# ---- 6. Go crypto/tls -----------------------------------------------------------
# the cost of the probes on a Go client's writes, bare, under do-nothing uprobes at the
# very places ecaptureq probes (each function's entry and every RET, from `gotls
# --list`), and with `ecaptureq gotls` attached and a reader connected. Client and
# server are the same executable, so both ends are probed (client writes, server reads).
if [ "$(id -u)" = 0 ] && command -v go >/dev/null && [ -x $BIN/nopprobe ]; then
  export GOCACHE=${ECQ_TEST_CACHE:-/var/cache/ecaptureq-tests}/go-build GOPATH=$TOP/$OUT/go-path GO111MODULE=off GOFLAGS=
  (cd tests/gotls && go build -o ../bin/gotls main.go)
  CR=${CROUNDS:-5}
  # go_places EXE: "@FILE-OFFSET" of every entry and RET ecaptureq probes in EXE
  go_places() {
    ./ecaptureq gotls --elfpath "$1" --list | awk 'NR > 1 {printf "%s %s", $3, $7; for (i = 8; i < NF; i++) if ($i == "ret") printf " %s", $(i + 1); print ""}' |
      while read -r va off rets; do echo "@$off"; for r in $rets; do printf '@0x%x\n' $((off + r - va)); done; done
  }
  PLACES=$(go_places $BIN/gotls)
  $BIN/gotls server 127.0.0.1:0 $OUT/cert.pem $OUT/key.pem >$OUT/bench-gosrv.out 2>&1 &
  srv=$!
  for i in $(seq 100); do grep -q ready $OUT/bench-gosrv.out && break; sleep 0.05; done
  gp=$(awk '{print $2}' $OUT/bench-gosrv.out)
  go_us() { $BIN/gotls writes 127.0.0.1:$gp $1 $2 2>&1 >/dev/null | grep -o '[0-9.]* us per write' | cut -d' ' -f1; }
  {
    echo
    echo "## 6. Go ($(go env GOVERSION)): µs per tls.Conn write to a Go server, both ends probed (client writes, server reads), median of $CR interleaved rounds"
    echo
    echo "| payload | bare | do-nothing probes at the same $(echo $PLACES | wc -w) places (limit) | gotls + one C reader | agent+reader / do-nothing (limit 1.25) | lost |"
    echo "|---|---|---|---|---|---|"
  } >>$R
  for size in 100 1024 16384; do
    n=$((size == 16384 ? 5000 : 20000)); [ $Q = 1 ] && n=$((n / 4))
    b=() z=() c=()
    for r in $(seq $CR); do
      b+=($(go_us $n $size))
      $BIN/nopprobe $BIN/nop.bpf.o $BIN/gotls $PLACES >$OUT/bench-nop.out 2>&1 &
      np=$!
      for i in $(seq 100); do grep -q attached $OUT/bench-nop.out && break; sleep 0.05; done
      z+=($(go_us $n $size))
      kill $np; wait $np 2>/dev/null
      ./ecaptureq gotls --elfpath $BIN/gotls --ecaptureq ws://127.0.0.1:0/ 2>$OUT/bench-agent.log &
      AGENT=$!
      for i in $(seq 200); do grep -q capturing $OUT/bench-agent.log && break; sleep 0.05; done
      APORT=$(port_of $OUT/bench-agent.log)
      $BIN/wsclients 127.0.0.1 $APORT -c 1 -a -n 1000000000 -t 600 >/dev/null 2>&1 &
      rd=$!
      sleep 0.3
      c+=($(go_us $n $size))
      kill $rd; wait $rd 2>/dev/null
      kill -TERM $AGENT; wait $AGENT 2>/dev/null
    done
    lost=$(grep -o '[0-9]* records, [0-9]* calls in all' $OUT/bench-agent.log | tail -1 | sed 's/ in all//')
    mb=$(printf '%s\n' "${b[@]}" | median) mz=$(printf '%s\n' "${z[@]}" | median) mc=$(printf '%s\n' "${c[@]}" | median)
    echo "| $size B | $mb | $mz | $mc | **$(ratio $mc $mz)×** | ${lost:-none} |" >>$R
    echo "go size=$size: bare ${b[*]} | nop ${z[*]} | agent+reader ${c[*]}"
  done
  kill $srv; wait $srv 2>/dev/null

  # ---- 7. detaching ------------------------------------------------------------
  # SIGTERM to exit, with the probes in uprobe_multi links and with one perf event per
  # probe: the kernel waits for RCU grace periods before each detached link's close returns
  stop_ms() { # ARGS...: ms from SIGTERM until the agent is gone; the probe count on stdout
    ./ecaptureq "$@" --ecaptureq ws://127.0.0.1:0/ 2>$OUT/bench-stop.log &
    local a=$! i s e
    for i in $(seq 200); do grep -q capturing $OUT/bench-stop.log && break; sleep 0.05; done
    s=$(date +%s%N); kill -TERM $a; wait $a 2>/dev/null; e=$(date +%s%N)
    echo "$(grep -o '[0-9]* probes attached' $OUT/bench-stop.log | awk '{n += $1} END {print n}') $(( (e - s) / 1000000 ))"
  }
  (cd tests/gotls && go build -ldflags='-s -w' -o ../bin/gotls-s main.go)
  {
    echo
    echo "## 7. Stopping: ms from SIGTERM until the agent is gone, median of $CR"
    echo
    echo "| probed | probes | uprobe_multi links | one perf event per probe |"
    echo "|---|---|---|---|"
  } >>$R
  for what in "tls" "gotls --elfpath $BIN/gotls --elfpath $BIN/gotls-s"; do
    m=() p=() np=0
    for r in $(seq $CR); do
      read -r np t < <(stop_ms $what); m+=($t)
      read -r np t < <(stop_ms $what --perf-uprobes); p+=($t)
    done
    label=$([ "$what" = tls ] && echo "the host's libssl, libgnutls, libnspr4 (tls)" || echo "two Go executables (gotls)")
    echo "| $label | $np | $(printf '%s\n' "${m[@]}" | median) | $(printf '%s\n' "${p[@]}" | median) |" >>$R
    echo "stop $what: multi ${m[*]} | perf ${p[*]}"
  done
fi

# ---- 8. the host's system-call tax ----------------------------------------------
# getppid() in a loop (tests/bench/sysloop.c) with no agent and with `ecaptureq tls`
# running, rounds interleaved: discovery's hook on mmap puts every system call of every
# process on the kernel's slow path
if [ "$(id -u)" = 0 ] && cc -O2 -Wall -o $BIN/sysloop tests/bench/sysloop.c; then
  TR=${TROUNDS:-7}
  bare=() under=()
  for r in $(seq $TR); do
    bare+=($($BIN/sysloop | cut -d' ' -f1))
    ./ecaptureq tls --ecaptureq ws://127.0.0.1:0/ 2>$OUT/bench-agent.log &
    a=$!
    for i in $(seq 200); do grep -q capturing $OUT/bench-agent.log && break; sleep 0.05; done
    under+=($($BIN/sysloop | cut -d' ' -f1))
    kill -TERM $a; wait $a 2>/dev/null
  done
  hook=$(grep -q 'using raw sys_enter' $OUT/bench-agent.log && echo "raw sys_enter (every system call)" || echo "syscalls:sys_enter_mmap")
  mb=$(printf '%s\n' "${bare[@]}" | median) mu=$(printf '%s\n' "${under[@]}" | median)
  {
    echo
    echo "## 8. The host's system-call tax: ns per getppid() (10th percentile of 100 rounds of 20000 calls), median of $TR interleaved rounds"
    echo
    echo "| no agent (limit) | ecaptureq tls, discovery on $hook | ratio (limit 1.03) |"
    echo "|---|---|---|"
    echo "| $mb | $mu | **$(ratio $mu $mb)** |"
  } >>$R
  echo "syscall tax: bare ${bare[*]} | agent ${under[*]}"
fi

echo
cat $R
