#!/usr/bin/env bash
# Benchmarks of lbc's own overhead, each ratio measured in one run (see docs/performance.md):
#   1. verb overhead: `lbc test unit` whose task is `true`, against `make test-unit` doing the same;
#   2. no-op build: `lbc build` with unchanged inputs, against a fully cached `docker build`
#      of the same context;
#   3. no-op deploy: `lbc deploy` of an unchanged release, against `helm upgrade` of it,
#      on the Kubernetes API emulator.
# Needs the Docker engine (run scripts/test-env.sh first) and hyperfine (installed from
# Debian's packages when missing). Usage: scripts/bench.sh [--runs N]
set -euo pipefail

BENCH_NAME=bench
# shellcheck source=scripts/bench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
RUNS=200
BUILD_RUNS=20
if [ "${1:-}" = "--runs" ]; then RUNS="$2"; fi
need_hyperfine
build_lbc

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

# --- 3. no-op deploy ---------------------------------------------------------
# lbc deploy of an unchanged release against `helm upgrade` of the same release, both
# against the Kubernetes API emulator (tests/support/kube-emulator).
PY_EMU="${LBC_TEST_PYTHON:-python3}"
HELM="${LBC_TEST_HELM:-helm}"
mkdir -p "$WORK/kube"
export KUBECONFIG="$WORK/kube/kubeconfig" HELM_CACHE_HOME="$WORK/kube/hc" HELM_CONFIG_HOME="$WORK/kube/hcf" \
  HELM_DATA_HOME="$WORK/kube/hd" KUBECACHEDIR="$WORK/kube/kc"
"$PY_EMU" "$ROOT/tests/support/kube-emulator/emulator.py" --port 0 --port-file "$WORK/kube/port" \
  --kubeconfig-out "$KUBECONFIG" --context bench >"$WORK/kube/emu.log" 2>&1 &
EMU_PID=$!
trap 'kill -TERM $EMU_PID 2>/dev/null; wait $EMU_PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do [ -s "$WORK/kube/port" ] && grep -q bench "$KUBECONFIG" 2>/dev/null && break; sleep 0.1; done
mkdir -p "$WORK/kube/proj/deploy" && cd "$WORK/kube/proj"
"$HELM" create deploy/chart >/dev/null
cat > lbc.toml <<'TOML'
[project]
name = "bench"
[image]
repository = "registry.example.com/bench/app"
[env.staging]
context = "bench"
namespace = "bench"
TOML
git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm init
IMG="registry.example.com/bench/app:1.0"
"$LBC" -q deploy staging --image "$IMG" >/dev/null
echo "## no-op deploy: lbc deploy (unchanged) vs helm upgrade of the same release ($BUILD_RUNS runs each)" >&2
NO_COLOR=1 hyperfine -N --warmup 3 --runs "$BUILD_RUNS" --export-json "$WORK/deploy.json" \
  "$LBC -q deploy staging --image $IMG" \
  "$HELM upgrade --install bench deploy/chart --kube-context bench --namespace bench --set-string image.repository=registry.example.com/bench/app --set-string image.tag=1.0 --wait --timeout 60s --labels lbc-deploy-hash=unchanged" >&2
cd "$ROOT"

python3 - "$WORK/verb.json" "$WORK/build.json" "$WORK/deploy.json" <<'PY'
import json, sys
def means(path):
    r = json.load(open(path))["results"]
    return [(x["command"], x["mean"] * 1000, x["stddev"] * 1000) for x in r]
(v_lbc, v_make) = means(sys.argv[1])
(b_lbc, b_docker) = means(sys.argv[2])
(d_lbc, d_helm) = means(sys.argv[3])
print("| benchmark | lbc (ms) | baseline (ms) | ratio | goal |")
print("| --- | --- | --- | --- | --- |")
print(f"| `lbc test unit` (task `true`) vs `make test-unit` | {v_lbc[1]:.2f} ± {v_lbc[2]:.2f} | {v_make[1]:.2f} ± {v_make[2]:.2f} | {v_lbc[1]/v_make[1]:.2f}x | <= 1.2x |")
print(f"| `lbc build` no-op vs cached `docker build` | {b_lbc[1]:.1f} ± {b_lbc[2]:.1f} | {b_docker[1]:.1f} ± {b_docker[2]:.1f} | {b_lbc[1]/b_docker[1]:.2f}x | <= 0.2x |")
print(f"| `lbc deploy` no-op vs `helm upgrade` (emulator) | {d_lbc[1]:.1f} ± {d_lbc[2]:.1f} | {d_helm[1]:.1f} ± {d_helm[2]:.1f} | {d_lbc[1]/d_helm[1]:.2f}x | <= 0.2x |")
PY
docker rmi -f bench-cached:latest >/dev/null 2>&1 || true
