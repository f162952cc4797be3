#!/usr/bin/env bash
# Runs the azure-cosmos Python SDK's own test files against a real
# `cosmonaut serve` at https://localhost:8081/ (the address the suite treats as
# the emulator), on a fresh data dir.
#
#   run.sh PARTITIONS [pytest args...]
#
# The SDK's source distribution is downloaded at test time (nothing of it is
# kept in the repo); this folder adds the stand-in for the helper package the
# tests import, the pytest configuration, and excluded.txt: the tests that need
# what a single local server cannot be (several regions, a real partition split,
# live Azure), each with its reason; excluded-N-partitions.txt adds those that
# assert the partition count the service would give a container's throughput,
# which a server forced to N partitions per container does not.
#
# Environment: PYTHON (a Python with requirements.txt installed), COSMONAUT_BIN
# (the server binary), OFFICIAL_FILES (a subset of the files, as "crud query").
# Exits with pytest's status; the server's log is left in
# target/sdk-python-official/server-PARTITIONS.err.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PARTITIONS=${1:?usage: run.sh PARTITIONS [pytest args...]}
shift
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
COSMONAUT_BIN=${COSMONAUT_BIN:-$ROOT/target/debug/cosmonaut}
VERSION=4.17.1

# The files that cover the NoSQL data plane, each with its async twin: the
# issue's list, then throughput, resource ids and writes without response bodies.
FILES=(${OFFICIAL_FILES:-
  crud crud_container crud_subpartition query query_cross_partition orderby aggregate
  multi_orderby transactional_batch ttl change_feed headers session partition_key
  query_execution_context user_configs computed_properties backwards_compatibility
  feed_range latest_session_token full_text_policy vector_policy
  auto_scale resource_id crud_response_payload_on_write_disabled
})

CACHE=$ROOT/target/sdk-python-official
SDIST=$CACHE/azure_cosmos-$VERSION
if [ ! -d "$SDIST/tests" ]; then
  mkdir -p "$CACHE"
  "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
    --dest "$CACHE" "azure-cosmos==$VERSION"
  tar -xzf "$CACHE/azure_cosmos-$VERSION.tar.gz" -C "$CACHE"
fi

# A scratch copy of the tests with our additions beside them.
WORK=$(mktemp -d)
DATA=$WORK/data
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
cp -r "$SDIST/tests" "$WORK/tests"
cp -r "$HERE/devtools_testutils" "$WORK/tests/"
cp "$HERE/pytest.ini" "$WORK/tests/"

"$COSMONAUT_BIN" serve --data-dir "$DATA" --port 8081 --partitions "$PARTITIONS" \
  >"$WORK/server.log" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  grep -q "listening on https://" "$WORK/server.log" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err"; exit 1; }
  sleep 0.1
done

args=()
for f in "${FILES[@]}"; do
  args+=("test_$f.py")
  [ -f "$WORK/tests/test_${f}_async.py" ] && args+=("test_${f}_async.py")
done
# excluded.txt, and excluded-N-partitions.txt for a run with N: "node id  # reason" per line.
for list in "$HERE/excluded.txt" "$HERE/excluded-$PARTITIONS-partitions.txt"; do
  [ -f "$list" ] || continue
  while read -r node _; do
    [ -n "$node" ] && args+=(--deselect "$node")
  done < <(grep -v '^\s*#' "$list" | sed 's/#.*//')
done

status=0
(cd "$WORK/tests" && "$PYTHON" -m pytest -p no:cacheprovider "${args[@]}" "$@") || status=$?
cp "$WORK/server.err" "$CACHE/server-$PARTITIONS.err"
if [ "$status" -ne 0 ] && [ -s "$WORK/server.err" ]; then
  echo "--- server stderr (last 20 lines)"
  tail -n 20 "$WORK/server.err"
fi
exit "$status"
