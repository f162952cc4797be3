#!/usr/bin/env bash
# Runs every test of Cosmonaut:
#   1. formatting, clippy, the packaging checks (tests/packaging), and the Rust
#      unit and integration tests;
#   2. the SDK conformance suites (Python azure-cosmos, JavaScript @azure/cosmos,
#      Rust azure_data_cosmos) against a real `cosmonaut serve` process over
#      HTTPS, once with 1 and once with 4 physical partitions per container;
#   3. the crash tests (kill -9 under load), which start servers of their own;
#   4. the backup tests, against a folder, Azurite (Azure Blob) and moto (S3);
#   5. the azure-cosmos Python SDK's own test files (fetched at test time) on
#      1 and 4 physical partitions, less tests/sdk-python-official/excluded.txt;
#   6. the Data Explorer (/_explorer/) in headless Chromium and Firefox, against
#      servers the tests start, and the MongoDB endpoint through pymongo and the
#      Node.js driver;
#   7. the PostgreSQL store: the backend's own tests, the Python, JavaScript
#      and Rust SDK suites spread over three gateways sharing one PostgreSQL
#      (1 and 4 partitions),
#      and the cluster tests (gateways agreeing, a gateway killed, PostgreSQL
#      crashing, a standby promoted, regions and SDK failover, migration),
#      against PostgreSQL servers the tests start on loopback.
# It installs the suites' own dependencies (a Python venv, npm packages) when
# they are missing; system packages are .ci/run's business.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

step() { printf '\n==> %s\n' "$*"; }

step "Test dependencies"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/sdk-python/requirements.txt \
  -r tests/backup/requirements.txt -r tests/sdk-python-official/requirements.txt \
  -r tests/packaging/requirements.txt -r tests/mongo/requirements.txt
(cd tests/sdk-js && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/backup && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/explorer && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/mongo/js && npm ci --no-audit --no-fund --loglevel=error)

step "Format and lint"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "Packaging (Dockerfile, compose, Kubernetes manifests, Helm chart)"
(cd tests/packaging && "$ROOT/.venv/bin/python" -m pytest -q check.py)

step "Rust unit and integration tests"
cargo test --quiet
cargo build --quiet -p cosmonaut -p cosmonaut-bench
cargo test --quiet -p sdk-rust-conformance --no-run

SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID"
  fi
  SERVER_PID=""
}
trap stop_server EXIT

start_server() {
  local partitions=$1 data
  data=$(mktemp -d)
  "$ROOT/target/debug/cosmonaut" serve --data-dir "$data" --port 0 --partitions "$partitions" \
    >"$data/server.log" 2>"$data/server.err" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    if grep -q "listening on https://" "$data/server.log"; then break; fi
    sleep 0.1
  done
  COSMONAUT_ENDPOINT=$(grep -o -m1 'https://[^ ]*' "$data/server.log")
  "$ROOT/target/debug/cosmonaut" cert export --data-dir "$data" --out "$data/cert.pem"
  export COSMONAUT_ENDPOINT COSMONAUT_PARTITIONS=$partitions COSMONAUT_CERT="$data/cert.pem"
  export COSMONAUT_BIN="$ROOT/target/debug/cosmonaut"
  echo "server with $partitions partition(s) at $COSMONAUT_ENDPOINT"
}

for partitions in 1 4; do
  start_server "$partitions"

  step "Python SDK suite ($partitions partitions)"
  # The crash tests run their own servers; once is enough.
  crash_filter=$([ "$partitions" = 1 ] && echo "" || echo "not crash")
  (cd tests/sdk-python && "$ROOT/.venv/bin/python" -m pytest -q -k "$crash_filter")

  step "JavaScript SDK suite ($partitions partitions)"
  # The server's certificate is self-signed; the suite checks that itself.
  (cd tests/sdk-js && NODE_TLS_REJECT_UNAUTHORIZED=0 node --test --test-concurrency=1 --test-reporter=spec test/)

  step "Rust SDK suite ($partitions partitions)"
  # By default the Rust SDK sends item bodies as Cosmos binary JSON; run it
  # that way and in text mode.
  cargo test --quiet -p sdk-rust-conformance
  AZURE_COSMOS_BINARY_ENCODING_ENABLED=false cargo test --quiet -p sdk-rust-conformance

  if [ "$partitions" = 1 ]; then
    step "Load generator smoke run"
    "$ROOT/target/debug/cosmonaut-bench" run --endpoint "$COSMONAUT_ENDPOINT" \
      --clients 4 --duration 1s --items 200
    # Rounds alternate two endpoints per workload; here both are this server.
    "$ROOT/target/debug/cosmonaut-bench" run --endpoint "$COSMONAUT_ENDPOINT" \
      --compare-endpoint "$COSMONAUT_ENDPOINT" --rounds 2 --workload create,read,mixed-a \
      --clients 2 --duration 1s --items 50

    step "Load generator smoke run on the fjall backend (kept for comparison)"
    fjall_dir=$(mktemp -d)
    "$ROOT/target/debug/cosmonaut" serve --data-dir "$fjall_dir" --port 0 --storage-engine fjall \
      >"$fjall_dir/server.log" 2>&1 &
    fjall_pid=$!
    for _ in $(seq 1 100); do
      if grep -q "listening on https://" "$fjall_dir/server.log"; then break; fi
      sleep 0.1
    done
    "$ROOT/target/debug/cosmonaut-bench" run \
      --endpoint "$(grep -o -m1 'https://[^ ]*' "$fjall_dir/server.log")" \
      --workload create,read,query-single --clients 2 --duration 1s --items 50 --payload words
    kill -TERM "$fjall_pid"
    wait "$fjall_pid" && echo "fjall server exited cleanly"
  fi

  step "Graceful shutdown"
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" && echo "server exited cleanly"
  SERVER_PID=""
done

for partitions in 1 4; do
  step "The azure-cosmos SDK's own tests ($partitions partitions)"
  PYTHON="$ROOT/.venv/bin/python" COSMONAUT_BIN="$ROOT/target/debug/cosmonaut" \
    bash tests/sdk-python-official/run.sh "$partitions" -q --tb=native -p no:randomly
done

# The MongoDB suites mostly wait on their servers; they run beside the
# backup and Data Explorer steps and report after them.
step "MongoDB wire protocol (pymongo and the Node.js driver), in the background"
MONGO_LOG=$(mktemp)
(
  cd tests/mongo
  COSMONAUT_BIN="$ROOT/target/debug/cosmonaut" "$ROOT/.venv/bin/python" -m pytest -q
  cd js && COSMONAUT_BIN="$ROOT/target/debug/cosmonaut" node --test
) >"$MONGO_LOG" 2>&1 &
MONGO_PID=$!

step "Backup and restore (folder, Azurite, moto S3)"
(cd tests/backup && "$ROOT/.venv/bin/python" -m pytest -q)

step "Data Explorer in headless Chromium and Firefox"
(cd tests/explorer && COSMONAUT_BIN="$ROOT/target/debug/cosmonaut" node --test)

step "MongoDB wire protocol: results"
if wait "$MONGO_PID"; then
  grep -E "^[0-9]+ passed" "$MONGO_LOG" || true
  tail -n 12 "$MONGO_LOG"
else
  cat "$MONGO_LOG"
  echo "the MongoDB suites failed"
  exit 1
fi

PG_DIR=$(mktemp -d)
CLUSTER_PIDS=()
stop_cluster() {
  for pid in "${CLUSTER_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null && wait "$pid" || true
  done
  CLUSTER_PIDS=()
}
trap 'stop_server; stop_cluster; bash tests/postgres/pg.sh stop "$PG_DIR" 2>/dev/null || true' EXIT
PG_URL=$(bash tests/postgres/pg.sh start "$PG_DIR")

step "PostgreSQL store: the backend against a real server"
COSMONAUT_TEST_POSTGRES=$PG_URL cargo test --quiet -p cosmonaut-storage-postgres

# Three gateways over one new database; the suite's clients take turns.
start_cluster() {
  local partitions=$1 db data endpoints=()
  db="suite$partitions"
  psql "$PG_URL" -qc "CREATE DATABASE $db"
  for gateway in 1 2 3; do
    data=$(mktemp -d)
    "$ROOT/target/debug/cosmonaut" serve --data-dir "$data" --port 0 --partitions "$partitions" \
      --store "${PG_URL/\/postgres\?//$db?}" >"$data/server.log" 2>"$data/server.err" &
    CLUSTER_PIDS+=($!)
    for _ in $(seq 1 100); do
      if grep -q "listening on https://" "$data/server.log"; then break; fi
      sleep 0.1
    done
    endpoints+=("$(grep -o -m1 'https://[^ ]*' "$data/server.log")")
    if [ "$gateway" = 1 ]; then
      "$ROOT/target/debug/cosmonaut" cert export --data-dir "$data" --out "$data/cert.pem"
      export COSMONAUT_CERT="$data/cert.pem"
    fi
  done
  COSMONAUT_ENDPOINT=${endpoints[0]}
  COSMONAUT_ENDPOINTS=$(IFS=,; echo "${endpoints[*]}")
  export COSMONAUT_ENDPOINT COSMONAUT_ENDPOINTS COSMONAUT_PARTITIONS=$partitions
  echo "gateways with $partitions partition(s) at $COSMONAUT_ENDPOINTS"
}

for partitions in 1 4; do
  start_cluster "$partitions"
  step "Python SDK suite on three gateways over PostgreSQL ($partitions partitions)"
  # The crash and disk tests are about the embedded store, and run above.
  (cd tests/sdk-python && "$ROOT/.venv/bin/python" -m pytest -q -k "not crash and not faults")
  step "JavaScript and Rust SDK suites on three gateways over PostgreSQL ($partitions partitions)"
  (cd tests/sdk-js && NODE_TLS_REJECT_UNAUTHORIZED=0 node --test --test-concurrency=1 --test-reporter=dot test/)
  cargo test --quiet -p sdk-rust-conformance
  stop_cluster
done
unset COSMONAUT_ENDPOINTS

step "PostgreSQL cluster: gateways agree, faults, failover to a standby, regions, migration"
(cd tests/postgres && COSMONAUT_BIN="$ROOT/target/debug/cosmonaut" "$ROOT/.venv/bin/python" -m pytest -q)

step "All tests passed"
