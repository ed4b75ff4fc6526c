#!/usr/bin/env bash
# Benchmarks of lbc's own overhead, each ratio measured in one run (see docs/performance.md):
#   1. verb overhead: `lbc test unit` whose task is `true`, against `make test-unit` doing the same;
#   2. no-op build: `lbc build` with unchanged inputs, against a fully cached `docker build`
#      of the same context.
# Needs the Docker engine (run scripts/test-env.sh first) and hyperfine (installed from
# Debian's packages when missing). Usage: scripts/bench.sh [--runs N]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=200
BUILD_RUNS=20
if [ "${1:-}" = "--runs" ]; then RUNS="$2"; fi

if ! command -v hyperfine >/dev/null; then
  echo "[bench] installing hyperfine" >&2
  apt-get install -y -qq hyperfine >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
fi
cargo build --release --locked -q --manifest-path "$ROOT/Cargo.toml"
LBC="$ROOT/target/release/lbc"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# --- 1. verb overhead -------------------------------------------------------
mkdir -p "$WORK/verb"
cat > "$WORK/verb/lbc.toml" <<'TOML'
[project]
name = "bench"
[image]
repository = "127.0.0.1:5055/bench/verb"
[tasks]
test-unit = ["true"]
TOML
printf 'test-unit:\n\ttrue\n' > "$WORK/verb/Makefile"
( cd "$WORK/verb" && git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm init )

echo "## verb overhead: lbc test unit vs make test-unit ($RUNS runs each)" >&2
( cd "$WORK/verb" && NO_COLOR=1 hyperfine -N --warmup 20 --runs "$RUNS" \
    --export-json "$WORK/verb.json" \
    "$LBC -q test unit" "make -s test-unit" >&2 )

# --- 2. no-op build ---------------------------------------------------------
BASE="${LBC_TEST_BASE_IMAGE:-lbc-test/debian:bookworm}"
mkdir -p "$WORK/build/src"
for i in $(seq 1 50); do head -c 2048 /dev/urandom | base64 > "$WORK/build/src/file$i.txt"; done
cat > "$WORK/build/Dockerfile" <<DOCKER
FROM $BASE
COPY src /srv/src
RUN ls /srv/src | wc -l > /srv/count
DOCKER
cat > "$WORK/build/lbc.toml" <<'TOML'
[project]
name = "bench"
[image]
repository = "127.0.0.1:5055/bench/build"
TOML
( cd "$WORK/build" && git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm init )
( cd "$WORK/build" && "$LBC" -q build >/dev/null && docker build -q -t bench-cached:latest . >/dev/null )

echo "## no-op build: lbc build (up to date) vs cached docker build ($BUILD_RUNS runs each)" >&2
( cd "$WORK/build" && NO_COLOR=1 hyperfine -N --warmup 3 --runs "$BUILD_RUNS" \
    --export-json "$WORK/build.json" \
    "$LBC -q build" "docker build -q -t bench-cached:latest ." >&2 )

python3 - "$WORK/verb.json" "$WORK/build.json" <<'PY'
import json, sys
def means(path):
    r = json.load(open(path))["results"]
    return [(x["command"], x["mean"] * 1000, x["stddev"] * 1000) for x in r]
(v_lbc, v_make) = means(sys.argv[1])
(b_lbc, b_docker) = means(sys.argv[2])
print("| benchmark | lbc (ms) | baseline (ms) | ratio | goal |")
print("| --- | --- | --- | --- | --- |")
print(f"| `lbc test unit` (task `true`) vs `make test-unit` | {v_lbc[1]:.2f} ± {v_lbc[2]:.2f} | {v_make[1]:.2f} ± {v_make[2]:.2f} | {v_lbc[1]/v_make[1]:.2f}x | <= 1.2x |")
print(f"| `lbc build` no-op vs cached `docker build` | {b_lbc[1]:.1f} ± {b_lbc[2]:.1f} | {b_docker[1]:.1f} ± {b_docker[2]:.1f} | {b_lbc[1]/b_docker[1]:.2f}x | <= 0.2x |")
PY
docker rmi -f bench-cached:latest >/dev/null 2>&1 || true
