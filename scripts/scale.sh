#!/usr/bin/env bash
# How Cosmonaut behaves as the store grows: loads ITEMS items of about 1 KB
# with the load generator (32 clients; it reports the load rate), then
# measures, at that size:
#   - 1 KB point reads and indexed equality queries, 8 clients, 10 s each;
#   - resident memory against --cache-mib, and the data dir's size;
#   - start after a clean shutdown, with the data file's checksum check
#     (the default) and with --skip-verify;
#   - start after kill -9 with 8 s of creates in the memtable and its log,
#     and point reads again after it.
#   scripts/scale.sh target/release/cosmonaut target/release/cosmonaut-bench ITEMS [CACHE_MIB] [PAYLOAD]
# Run it at two sizes and compare (docs/performance.md, "At scale").
set -euo pipefail
BIN=$1 BENCH=$2 ITEMS=$3 CACHE_MIB=${4:-256} PAYLOAD=${5:-words}
DIR=$(mktemp -d)
PID=""
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$DIR"' EXIT

start() {
  local log=$1; shift
  local begun
  begun=$(date +%s%N)
  "$BIN" serve --data-dir "$DIR/data" --port 0 --cache-mib "$CACHE_MIB" "$@" >"$log" 2>&1 &
  PID=$!
  for _ in $(seq 1 30000); do
    if grep -q "listening on https://" "$log" 2>/dev/null; then
      STARTED_MS=$(( ($(date +%s%N) - begun) / 1000000 ))
      ENDPOINT=$(grep -o -m1 'https://[^ ]*' "$log")
      return
    fi
    kill -0 "$PID" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.01
  done
  echo "the server did not start" >&2
  exit 1
}
stop() {
  kill -TERM "$PID"
  wait "$PID" || true
  PID=""
}
rss() { awk '/VmRSS/ {printf "%.0f MiB", $2 / 1024}' "/proc/$PID/status"; }

start "$DIR/first.log"
echo "== $ITEMS items, --cache-mib $CACHE_MIB, --payload $PAYLOAD"
"$BENCH" run --endpoint "$ENDPOINT" --workload read --clients 32 --duration 1s \
  --items "$ITEMS" --payload "$PAYLOAD" --keep | grep -E "^preloaded"
"$BENCH" run --endpoint "$ENDPOINT" --workload read,query-single --clients 8 --duration 10s \
  --items "$ITEMS" --payload "$PAYLOAD" --keep --reuse | grep -E "^(workload|point read|query)"
echo "resident after the load and reads: $(rss)"
stop
echo "data dir after a clean shutdown: $(du -sb "$DIR/data" | cut -f1) bytes"

start "$DIR/verified.log"
echo "start after a clean shutdown, checking the data file: $STARTED_MS ms"
stop
start "$DIR/unverified.log" --skip-verify
echo "start after a clean shutdown, --skip-verify: $STARTED_MS ms"
"$BENCH" run --endpoint "$ENDPOINT" --workload create --clients 16 --duration 8s \
  --items "$ITEMS" --payload "$PAYLOAD" --keep --reuse | grep -E "^create"
kill -9 "$PID"
wait "$PID" 2>/dev/null || true
start "$DIR/replayed.log" --skip-verify
echo "start after kill -9 with 8 s of creates in the log (--skip-verify): $STARTED_MS ms"
"$BENCH" run --endpoint "$ENDPOINT" --workload read --clients 8 --duration 10s \
  --items "$ITEMS" --payload "$PAYLOAD" --keep --reuse | grep -E "^point read"
echo "resident after reads: $(rss)"
stop
