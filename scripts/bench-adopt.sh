#!/usr/bin/env bash
# Benchmark of the Dockerfiles `lbc init --adopt` writes (issue #11): per fixture with
# real dependencies (Django and FastAPI with pip, Express with npm), the clean build
# against the rebuild after a one-line code change. Goal: the rebuild takes <= 15 % of
# the clean build, because the dependencies are installed in a layer that a code change
# does not invalidate. One run each; docs/performance.md records the figures.
#
# Needs the test environment (`eval "$(bash scripts/test-env.sh env)"`: the Docker engine
# and the catalogue) and a network path to PyPI and npm (through the machine's CA, which
# lbc passes to build stages). Usage: scripts/bench-adopt.sh [FIXTURE...]
# (fixtures: adopt/django adopt-e2e/fastapi-notes adopt-e2e/express-todo).
# LBC=path/to/lbc uses that binary instead of a release build.
set -euo pipefail

BENCH_NAME=bench-adopt
# shellcheck source=scripts/bench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
if [ -z "${LBC:-}" ]; then build_lbc; fi
FIXTURES=("$@")
[ ${#FIXTURES[@]} -gt 0 ] || FIXTURES=(adopt/django adopt-e2e/fastapi-notes adopt-e2e/express-todo)

WORK="$(mktemp -d)"
IMAGES=()
cleanup() {
  for i in "${IMAGES[@]}"; do docker rmi -f "$i" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

seconds() { # COMMAND...: run it quietly, print the wall time in seconds
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$WORK/last.log" 2>&1 || { tail -20 "$WORK/last.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}

git_commit() { git -c user.email=bench@lbc.invalid -c user.name=bench commit -q "$@"; }

printf '| fixture | clean build (s) | rebuild after a one-line change (s) | ratio |\n| --- | --- | --- | --- |\n'
for f in "${FIXTURES[@]}"; do
  name="bench-$(basename "$f")-$$"
  dir="$WORK/$name"
  cp -R "$ROOT/tests/fixtures/$f" "$dir"
  cd "$dir"
  git init -q . && git add -A && git_commit -m fixture
  "$LBC" -q init --adopt --yes --name "$name" >/dev/null
  # A clean build: a label that no earlier build had, before the dependency layer, so
  # that no layer of an earlier run is reused (the base images stay: they are pulled once).
  sed -i "0,/ AS deps\$/s//&\nLABEL org.lbc.bench=\"$name\"/" Dockerfile
  git add -A && git_commit -m adopted
  clean=$(seconds "$LBC" build)
  IMAGES+=("$(cat "$WORK/last.log" | tail -1)")
  # One line of code changes.
  src=$(git ls-files '*.py' '*.js' | grep -v -e migrations -e test | head -1)
  case "$src" in
    *.js) echo "// one more line" >>"$src" ;;
    *) echo "# one more line" >>"$src" ;;
  esac
  git_commit -am "one line"
  rebuild=$(seconds "$LBC" build)
  IMAGES+=("$(cat "$WORK/last.log" | tail -1)")
  printf '| %s | %.1f | %.1f | %.1f %% |\n' "$f" "$clean" "$rebuild" "$(echo "100 * $rebuild / $clean" | bc -l)"
  cd "$WORK"
done
