#!/usr/bin/env bash
# Longer fuzzing runs (issue #9): the proptest targets of tests/hardening/fuzz.rs (the
# lbc.toml loader, the template manifest parser, the .dockerignore matcher, the
# three-way merge) with many more cases than the normal test run's few hundred.
#
#   bash scripts/fuzz.sh            # 20 000 cases per target
#   bash scripts/fuzz.sh 200000     # more
#
# A failure prints the minimal failing input; add it as a unit test before fixing.
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-20000}"
echo "fuzzing with PROPTEST_CASES=$cases" >&2
PROPTEST_CASES="$cases" cargo test --locked --test cli hardening::fuzz -- --test-threads=2
