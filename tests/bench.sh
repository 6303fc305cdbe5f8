#!/usr/bin/env bash
# make bench: the hub's throughput, ecaptureq gen -> N WebSocket clients on loopback,
# 256-byte payloads (about 356 bytes a frame). Each client is a C reader that decodes
# every LogEntry and checks the sequence, so the figure is for events delivered whole.
# Then, as root with Go installed, the cost of the Go probes on a Go client's writes.
# Numbers depend on the machine; the README says which one gave its figures.
set -eu
cd "$(dirname "$0")/.."
make -s ecaptureq
mkdir -p tests/bin tests/out
cc -O2 -DECAPTUREQ_NO_BPF -DECAPTUREQ_NO_MAIN -o tests/bin/wsclients tests/wsclients.c ecaptureq.c
EVENTS=${EVENTS:-1000000}
for clients in 1 8 100; do
  n=$EVENTS; [ "$clients" -gt 8 ] && n=$((EVENTS / 10))
  ./ecaptureq gen --ecaptureq ws://127.0.0.1:0/ --events "$n" --size 256 --wait-clients "$clients" 2>tests/out/bench.log &
  gen=$!
  port=
  for i in $(seq 100); do port=$(grep -o -m1 'listening on ws://127.0.0.1:[0-9]*' tests/out/bench.log | grep -o '[0-9]*$') && break; sleep 0.05; done
  [ -n "$port" ] || { echo "bench: gen did not start" >&2; exit 1; }
  out=$(tests/bin/wsclients 127.0.0.1 $port -c "$clients" -n "$n" -t 300)
  wait $gen
  rate=$(grep -o '[0-9]* events/s' tests/out/bench.log | head -1)
  echo "clients=$clients events=$n: gen $rate; readers: $out"
done


# Go crypto/tls: the cost of the probes on a Go client's writes (1 KiB each), bare and
# with `ecaptureq gotls` attached and a consumer reading the stream
if [ "$(id -u)" = 0 ] && command -v go >/dev/null; then
  export GOCACHE=$PWD/tests/out/go-cache GOPATH=$PWD/tests/out/go-path GO111MODULE=off GOFLAGS=
  (cd tests/gotls && go build -o ../bin/gotls main.go)
  [ -f tests/out/cert.pem ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout tests/out/key.pem -out tests/out/cert.pem -days 2 -subj /CN=localhost 2>/dev/null
  tests/bin/gotls server 127.0.0.1:0 tests/out/cert.pem tests/out/key.pem >tests/out/bench-gosrv.out 2>&1 &
  srv=$!
  for i in $(seq 100); do grep -q ready tests/out/bench-gosrv.out && break; sleep 0.05; done
  gp=$(awk '{print $2}' tests/out/bench-gosrv.out)
  N=${GO_WRITES:-100000}
  bare=$(tests/bin/gotls writes 127.0.0.1:$gp $N 1024 2>&1 >/dev/null | grep -o '[0-9.]* us per write')
  ./ecaptureq gotls --elfpath tests/bin/gotls --ecaptureq ws://127.0.0.1:0/ 2>tests/out/bench-agent.log &
  agent=$!
  for i in $(seq 100); do grep -q capturing tests/out/bench-agent.log && break; sleep 0.05; done
  ap=$(grep -o -m1 'listening on ws://127.0.0.1:[0-9]*' tests/out/bench-agent.log | grep -o '[0-9]*$')
  tests/bin/wsclients 127.0.0.1 "$ap" -c 1 -a -n 1000000000 -t 600 >/dev/null 2>&1 &
  reader=$!
  sleep 0.5
  probed=$(tests/bin/gotls writes 127.0.0.1:$gp $N 1024 2>&1 >/dev/null | grep -o '[0-9.]* us per write')
  kill $reader 2>/dev/null; kill -TERM $agent; wait $agent 2>/dev/null || true
  kill $srv; wait $srv 2>/dev/null || true
  lost=$(grep -c 'capture lost' tests/out/bench-agent.log || true)
  echo "go client, $N writes of 1 KiB: bare $bare; probed with a reader $probed; loss reports: $lost"
fi
