#!/usr/bin/env bash
# Benchmark of per-customer instances (issue #12; see docs/performance.md), against the
# Kubernetes API emulator of the tests (tests/support/kube-emulator) with the real helm:
#   - planning: `lbc deploy staging --all-instances --dry-run` over 500 instances (goal:
#     well under 1 s; it includes the one query of the deployed releases);
#   - no-op: `lbc deploy staging --all-instances` over 100 instances that already run
#     that state (goal: < 2 s; one query, no helm process per instance);
#   - 50 changed instances with --jobs 8 against one changed instance (goal: <= 3x).
# Needs the test environment (`eval "$(bash scripts/test-env.sh env)"`: helm, kubectl and
# the emulator's python in LBC_TEST_HELM, LBC_TEST_KUBECTL, LBC_TEST_PYTHON).
# Usage: scripts/bench-instances.sh [--runs N]
set -euo pipefail

BENCH_NAME=bench-instances
# shellcheck source=scripts/bench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
RUNS=5
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    *) echo "usage: $0 [--runs N]" >&2; exit 2 ;;
  esac
done
: "${LBC_TEST_HELM:?run eval \"\$(bash scripts/test-env.sh env)\" first}"
: "${LBC_TEST_KUBECTL:?}" "${LBC_TEST_PYTHON:?}"
need_hyperfine
build_lbc
if [ -n "${CARGO_TARGET_DIR:-}" ]; then LBC="$CARGO_TARGET_DIR/release/lbc"; fi

WORK="$(mktemp -d)"
EMU_PID=""
cleanup() {
  if [ -n "$EMU_PID" ]; then kill "$EMU_PID" 2>/dev/null || true; wait "$EMU_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$BENCH_DIR"
JSON_OUT="$BENCH_DIR/bench-instances"

export KUBECONFIG="$WORK/kubeconfig" HELM_CACHE_HOME="$WORK/hc" HELM_CONFIG_HOME="$WORK/hf" HELM_DATA_HOME="$WORK/hd"
export PATH="$(dirname "$LBC_TEST_HELM"):$(dirname "$LBC_TEST_KUBECTL"):$PATH"
export GIT_CONFIG_GLOBAL="$WORK/gitconfig" GIT_CONFIG_NOSYSTEM=1
printf '[user]\n\tname = bench\n\temail = bench@example.invalid\n' > "$WORK/gitconfig"

start_emulator() {
  if [ -n "$EMU_PID" ]; then kill "$EMU_PID"; wait "$EMU_PID" 2>/dev/null || true; fi
  rm -f "$WORK/port" "$KUBECONFIG"
  "$LBC_TEST_PYTHON" "$ROOT/tests/support/kube-emulator/emulator.py" --host 127.0.0.1 --port 0 \
    --port-file "$WORK/port" --kubeconfig-out "$KUBECONFIG" --context bench \
    --progress-deadline 2 > "$WORK/emulator.log" 2>&1 &
  EMU_PID=$!
  for _ in $(seq 300); do
    [ -s "$WORK/port" ] && grep -q bench "$KUBECONFIG" 2>/dev/null && return 0
    sleep 0.05
  done
  log "the emulator did not start"; cat "$WORK/emulator.log" >&2; exit 1
}

# A project with `helm create`'s chart and N instances.
make_project() {
  local dir="$1" n="$2"
  mkdir -p "$dir/deploy" "$dir/instances"
  (cd "$dir/deploy" && helm create chart >/dev/null)
  cat > "$dir/lbc.toml" <<TOML
[project]
name = "b"
[image]
repository = "registry.example.com/bench"
[env.staging]
context = "bench"
namespace = "b-staging"
timeout = "60s"
domain = "apps.example.com"
TOML
  for i in $(seq -w 1 "$n"); do
    printf '[set]\nreplicaCount = "1"\n' > "$dir/instances/c$i.toml"
  done
  git -C "$dir" init -q && git -C "$dir" add -A && git -C "$dir" commit -q -m bench
}

IMG=registry.example.com/bench
start_emulator

# 1. Planning 500 instances (dry run: values, hash, one query, the plan printed).
make_project "$WORK/p500" 500
log "planning 500 instances"
hyperfine --runs "$RUNS" --warmup 1 --export-json "$JSON_OUT-plan.json" \
  -n "plan 500 instances" "$LBC -q -C $WORK/p500 deploy staging --all-instances --dry-run --image $IMG:1.0"

# 2. No-op over 100 instances that run the wanted state already.
make_project "$WORK/p100" 100
log "deploying 100 instances once (--jobs 8)"
"$LBC" -q -C "$WORK/p100" deploy staging --all-instances --image "$IMG:1.0" --jobs 8 > /dev/null
hyperfine --runs "$RUNS" --warmup 1 --export-json "$JSON_OUT-noop.json" \
  -n "no-op 100 instances" "$LBC -q -C $WORK/p100 deploy staging --all-instances --image $IMG:1.0"

# 3. 50 changed instances with --jobs 8 against one changed instance: each run deploys
# a new tag, so that every run changes them all.
start_emulator
make_project "$WORK/p50" 50
"$LBC" -q -C "$WORK/p50" deploy staging --all-instances --image "$IMG:1.0" --jobs 8 > /dev/null
echo 0 > "$WORK/n"
next_tag() { local n; n=$(( $(cat "$WORK/n") + 1 )); echo "$n" > "$WORK/n"; echo "2.$n"; }
export -f next_tag; export WORK LBC IMG
hyperfine --shell bash --runs "$RUNS" --export-json "$JSON_OUT-jobs.json" \
  -n "1 changed instance" "$LBC -q -C $WORK/p50 deploy staging --instance c01 --image $IMG:\$(next_tag)" \
  -n "50 changed instances, --jobs 8" "$LBC -q -C $WORK/p50 deploy staging --all-instances --jobs 8 --image $IMG:\$(next_tag)"
log "results in $JSON_OUT-*.json"
