#!/usr/bin/env bash
# Server instructions per operation, counted by callgrind: a measure that,
# unlike throughput, does not move with what else the machine is doing, so
# two builds can be compared on a busy or drifting VM. It counts user-space
# instructions only (no kernel, no cache misses): use it to compare builds,
# and cosmonaut-bench throughput to say how fast a build is.
#
#   scripts/count-instructions.sh <cosmonaut binary> [workload ...]
#
# Workloads are cosmonaut-bench's (read, create, upsert, replace, ...;
# default: read create replace). For each one the script starts the server
# under callgrind on a fresh data dir, warms it up with a short run, zeroes
# the counters, runs the workload for 10 s with 8 clients and divides the
# instructions counted by the operations done. The load generator is the
# release build in target/release (cargo build --release -p cosmonaut-bench).
# COSMONAUT_COUNT_ITEM_BYTES sets the item size (default 1024).
# With COSMONAUT_COUNT_KEEP=<dir>, each workload's callgrind dump is kept
# there as <workload>.callgrind, for callgrind_annotate.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BINARY=${1:?usage: count-instructions.sh <cosmonaut binary> [workload ...]}
shift
if [ $# -gt 0 ]; then WORKLOADS=("$@"); else WORKLOADS=(read create replace); fi
BENCH=$ROOT/target/release/cosmonaut-bench
HTTP_PORT=${COSMONAUT_COUNT_PORT:-8194}
ITEM_BYTES=${COSMONAUT_COUNT_ITEM_BYTES:-1024}
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 1; }
[ -x "$BENCH" ] || { echo "build the load generator: cargo build --release -p cosmonaut-bench" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

for workload in "${WORKLOADS[@]}"; do
  data=$WORK/data-$workload
  mkdir -p "$data"
  valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.%p" \
    "$BINARY" serve --data-dir "$data" --port 0 --http-port "$HTTP_PORT" \
    >"$WORK/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 200); do
    grep -q "listening on" "$WORK/server.log" && break
    sleep 0.3
  done
  endpoint=http://127.0.0.1:$HTTP_PORT/
  "$BENCH" run --endpoint "$endpoint" --workload "$workload" --clients 8 --duration 2s \
    --items 100 --item-size "$ITEM_BYTES" >/dev/null
  callgrind_control --zero "$server" >/dev/null 2>&1
  # --keep: dropping the database afterwards (every item written, and its
  # index) is not the workload's cost.
  line=$("$BENCH" run --endpoint "$endpoint" --workload "$workload" --clients 8 --duration 10s \
    --items 100 --item-size "$ITEM_BYTES" --keep | grep -E "^(point read|create|upsert|replace|query|cross|YCSB)")
  callgrind_control --dump "$server" >/dev/null 2>&1
  sleep 1
  kill -TERM "$server"
  wait "$server" || true
  # The dump after zeroing holds what the workload cost.
  dump=$(ls -t "$WORK"/callgrind.*.1 | head -1)
  instructions=$(callgrind_annotate "$dump" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  ops_per_second=$(echo "$line" | awk '{print $(NF-4)}')
  operations=$((ops_per_second * 10))
  if [ -n "${COSMONAUT_COUNT_KEEP:-}" ]; then
    mkdir -p "$COSMONAUT_COUNT_KEEP"
    cp "$dump" "$COSMONAUT_COUNT_KEEP/$workload.callgrind"
  fi
  echo "$workload: $operations operations, $instructions instructions, $((instructions / operations)) per operation"
  rm -f "$WORK"/callgrind.*
done
