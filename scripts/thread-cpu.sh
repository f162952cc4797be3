#!/usr/bin/env bash
# CPU time per operation, for each kind of server thread: the request
# workers (tokio-rt-worker), the group-commit writer (cosmonaut-write), the
# log sync (cosmonaut-sync) and the memtable flush (cosmonaut-flush). Unlike
# callgrind's instruction counts, this includes the kernel's share and the
# cost of cache misses, at full speed; like any timing on a shared VM it
# drifts, so alternate the builds being compared and run each a few times.
#
#   scripts/thread-cpu.sh <cosmonaut binary> [workload] [seconds] [item bytes]
#
# The workload is cosmonaut-bench's (default: create), run with 32 clients
# for the given seconds (default: 20) on items of the given size (default:
# 1024) against a server on a fresh data dir,
# after a 1 s warm-up. The load generator is the release build in
# target/release (cargo build --release -p cosmonaut-bench). Linux only:
# it reads each thread's user and system time from /proc.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BINARY=${1:?usage: thread-cpu.sh <cosmonaut binary> [workload] [seconds] [item bytes]}
WORKLOAD=${2:-create}
SECONDS_RUN=${3:-20}
ITEM_BYTES=${4:-1024}
BENCH=$ROOT/target/release/cosmonaut-bench
HTTP_PORT=${COSMONAUT_THREAD_CPU_PORT:-8196}
[ -x "$BENCH" ] || { echo "build the load generator: cargo build --release -p cosmonaut-bench" >&2; exit 1; }

WORK=$(mktemp -d)
"$BINARY" serve --data-dir "$WORK/data" --port 0 --http-port "$HTTP_PORT" >"$WORK/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  grep -q "listening on" "$WORK/server.log" && break
  sleep 0.1
done
endpoint=http://127.0.0.1:$HTTP_PORT/

# Clock ticks of user + system time, summed per thread name.
ticks() {
  for task in /proc/"$server"/task/*; do
    # Fields after the command name: utime and stime are the 12th and 13th.
    read -r -a fields <<<"$(sed 's/.*) //' "$task/stat")"
    echo "$(cat "$task/comm") $((fields[11] + fields[12]))"
  done | awk '{sum[$1] += $2} END {for (name in sum) print name, sum[name]}' | sort
}

"$BENCH" run --endpoint "$endpoint" --workload "$WORKLOAD" --clients 32 --duration 1s \
  --items 10000 --item-size "$ITEM_BYTES" >/dev/null
ticks >"$WORK/before"
# --keep: dropping the database afterwards (every item written, and its
# index) is not the workload's cost.
line=$("$BENCH" run --endpoint "$endpoint" --workload "$WORKLOAD" --clients 32 \
  --duration "${SECONDS_RUN}s" --items 100 --item-size "$ITEM_BYTES" --keep | grep -E "^(point read|create|upsert|replace|query|cross|YCSB)")
ticks >"$WORK/after"
ops_per_second=$(echo "$line" | awk '{print $(NF-4)}')
hz=$(getconf CLK_TCK)
join "$WORK/before" "$WORK/after" | awk -v ops="$ops_per_second" -v secs="$SECONDS_RUN" -v hz="$hz" '
  { us = ($3 - $2) * 1e6 / hz / (ops * secs); total += us
    if (us > 0.05) printf "%-16s %7.1f us/op\n", $1, us }
  END { printf "%-16s %7.1f us/op at %d ops/s\n", "all threads", total, ops }'
