#!/usr/bin/env bash
# make bench: the hub's throughput, ecaptureq gen -> N WebSocket clients on loopback,
# 256-byte payloads (about 356 bytes a frame). Each client is a C reader that decodes
# every LogEntry and checks the sequence, so the figure is for events delivered whole.
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

