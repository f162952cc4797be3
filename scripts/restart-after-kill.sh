#!/usr/bin/env bash
# Start after kill -9 with a full memtable: loads 1 KB creates for SECONDS
# (default 8, under the 10 s flush interval, so the log holds them all),
# kills the server with SIGKILL, and times the restart until it listens.
#   scripts/restart-after-kill.sh target/release/cosmonaut target/release/cosmonaut-bench [SECONDS]
set -euo pipefail
BIN=$1 BENCH=$2 SECONDS_OF_LOAD=${3:-8}
DIR=$(mktemp -d)
trap 'kill -9 "$PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT
wait_listening() {
  for _ in $(seq 1 1500); do grep -q "listening on https://" "$1" 2>/dev/null && return; sleep 0.02; done
  echo "the server did not start" >&2; exit 1
}
"$BIN" serve --data-dir "$DIR/data" --port 0 >"$DIR/out" 2>"$DIR/err" &
PID=$!
wait_listening "$DIR/out"
ENDPOINT=$(grep -o -m1 'https://[^ ]*' "$DIR/out")
"$BENCH" run --endpoint "$ENDPOINT" --workload create --clients 16 --duration "${SECONDS_OF_LOAD}s" \
  --items 1000 --item-size 1024 --keep | grep -E "^(workload|create)"
kill -9 "$PID"; wait "$PID" 2>/dev/null || true
START=$(date +%s%N)
"$BIN" serve --data-dir "$DIR/data" --port 0 >"$DIR/out2" 2>"$DIR/err2" &
PID=$!
wait_listening "$DIR/out2"
END=$(date +%s%N)
echo "restart to listening: $(( (END - START) / 1000000 )) ms"
grep -o 'records=[0-9]* writes=[0-9]*' "$DIR/err2" || echo "nothing to replay"
kill -TERM "$PID"; wait "$PID" || true
