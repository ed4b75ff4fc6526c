#!/usr/bin/env bash
# Benchmark of the dependency-cached Dockerfile layout of the stacks with dependencies
# (issue #11; docs/performance.md): for each stack, the rebuild after a one-line code
# change against the clean build of the same project. Goal: rebuild <= 15 % of clean.
#   - the project is `lbc init --stack STACK --yes` (add `--database TYPE` with
#     LBC_BENCH_DATABASE), committed to a fresh git repository, built once by `lbc build`
#     (so any image lbc derives first exists);
#   - clean: the exact `docker build` of `lbc build --dry-run --output json`, with
#     `--no-cache` added: every layer rebuilt, every dependency downloaded (PyPI, npm,
#     crates.io) and, for rust, compiled;
#   - rebuild: one line of the code changes (the greeting), then `lbc build`, timed as a
#     user sees it (lbc's planning and Docker's cache included); RUNS changes, the mean.
# Needs the test environment (`source /tmp/testenv.sh` or `eval "$(bash
# scripts/test-env.sh env)"`: LBC_CATALOG, Docker) and the registries reachable from
# builds. Uses LBC if set (a built lbc), else builds a release lbc.
# Usage: scripts/bench-rebuild.sh [--runs N] [STACK...]   (default: python node rust)
set -euo pipefail

BENCH_NAME=bench-rebuild
# shellcheck source=scripts/bench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
RUNS=3
if [ "${1:-}" = "--runs" ]; then RUNS="$2"; shift 2; fi
STACKS=("$@")
[ "${#STACKS[@]}" -gt 0 ] || STACKS=(python node rust)
if [ -z "${LBC:-}" ]; then build_lbc; fi
command -v docker >/dev/null || { log "docker is needed"; exit 1; }

WORK="$(mktemp -d)"
IMAGES=()
cleanup() {
  local i
  for i in "${IMAGES[@]}"; do docker image rm --force -- "$i" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }

# The file and the line a developer changes, per stack.
code_file() {
  case "$1" in
    python) echo app.py ;;
    node) echo src/server.js ;;
    rust) echo src/main.rs ;;
    *) log "unknown stack $1 (python, node, rust)"; exit 2 ;;
  esac
}

# The docker build argv of `lbc build`, one argument per line, with --no-cache. lbc builds
# from a rewritten copy of the Dockerfile in a private directory that is gone after the
# build: the copy is made again here (each `FROM ${BUILDER_IMAGE}` on the image lbc
# derived with the CA bundle, when it derived one) and the argv pointed at it.
clean_argv() {
  "$LBC" build --force --dry-run --output json | python3 -c '
import json, re, sys
plan = json.load(sys.stdin)["plan"]
steps = plan["steps"]
builds = [s["argv"] for s in steps if s.get("argv", [])[:2] == ["docker", "build"]]
derived = [a[len("--tag="):] for b in builds for a in b if a.startswith("--tag=lbc-trust/")]
# A derived image that is up to date is not built again: the plan names it in a note.
derived += [m for n in plan.get("notes", []) for m in re.findall(r"(lbc-trust/\S+) \(derived from", n)]
argv = builds[-1]
text = open("Dockerfile").read()
if derived:
    text = re.sub(r"^FROM \$\{BUILDER_IMAGE\}", "FROM " + derived[0], text, flags=re.M)
out = sys.argv[1]
open(out, "w").write(text)
argv = [("--file=" + out) if a.startswith("--file=") else a for a in argv]
argv.insert(2, "--no-cache")
print("\n".join(argv))' "$1"
}

printf '| stack | clean build (s) | rebuild after a one-line change (s, mean of %s) | ratio | goal |\n' "$RUNS"
printf '| --- | --- | --- | --- | --- |\n'
for stack in "${STACKS[@]}"; do
  file=$(code_file "$stack")
  name="bench-rebuild-$stack-$$"
  dir="$WORK/$name"
  extra=()
  if [ -n "${LBC_BENCH_DATABASE:-}" ]; then extra=(--database "$LBC_BENCH_DATABASE"); fi
  "$LBC" -q init "$dir" --stack "$stack" --yes --set ci=none "${extra[@]}" >/dev/null
  cd "$dir"
  git init -q && git add -A && git -c user.name=bench -c user.email=bench@example.com commit -qm init
  log "$stack: first lbc build (warms what lbc derives; not measured)"
  IMAGES+=("$("$LBC" -q build 2>/dev/null)")

  mapfile -t argv < <(clean_argv "$WORK/$stack.Dockerfile")
  log "$stack: clean build (docker build --no-cache)"
  t0=$(now)
  "${argv[@]}" >"$WORK/$stack-clean.log" 2>&1 || { tail -20 "$WORK/$stack-clean.log"; exit 1; }
  clean=$(secs "$t0" "$(now)")

  total=0
  for i in $(seq 1 "$RUNS"); do
    sed -i "s/hello from lbc[^\"']*/hello from lbc, change $i/" "$file"
    git -c user.name=bench -c user.email=bench@example.com commit -qam "change $i"
    log "$stack: rebuild $i after changing $file"
    t0=$(now)
    ref=$("$LBC" -q build 2>"$WORK/$stack-rebuild-$i.log") || { tail -20 "$WORK/$stack-rebuild-$i.log"; exit 1; }
    t=$(secs "$t0" "$(now)")
    IMAGES+=("$ref")
    total=$(python3 -c "import sys; print(float(sys.argv[1]) + float(sys.argv[2]))" "$total" "$t")
  done
  mean=$(python3 -c "import sys; print('%.1f' % (float(sys.argv[1]) / int(sys.argv[2])))" "$total" "$RUNS")
  ratio=$(python3 -c "import sys; print('%.1f %%' % (100 * float(sys.argv[1]) / float(sys.argv[2])))" "$mean" "$clean")
  met=$(python3 -c "import sys; print('met' if float(sys.argv[1]) <= 0.15 * float(sys.argv[2]) else '**missed**')" "$mean" "$clean")
  printf '| %s | %s | %s | %s | <= 15 %% — %s |\n' "$stack" "$clean" "$mean" "$ratio" "$met"
  cd "$WORK"
done
