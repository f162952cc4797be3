#!/usr/bin/env bash
# Runs the property-based fuzz targets for a fixed budget, longer than the
# test suite gives them: the SQL parser (crates/query/tests/fuzz.rs) and
# everything the gateway parses from a client, up to whole signed HTTP
# requests (crates/gateway/tests/hostile_input.rs).
#
#   bash scripts/fuzz.sh            # 50,000 cases per target
#   CASES=500000 bash scripts/fuzz.sh
#
# A failure prints the smallest input that breaks the property; proptest
# also records it under proptest-regressions/ so the next run tries it first.
set -euo pipefail
cd "$(dirname "$0")/.."
export PROPTEST_CASES=${CASES:-50000}
echo "fuzzing with $PROPTEST_CASES cases per target"
cargo test --release -q -p cosmonaut-query --test fuzz
cargo test --release -q -p cosmonaut-gateway --test hostile_input
