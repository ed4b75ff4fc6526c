#!/usr/bin/env bash
# Benchmark of `lbc init` against `copier copy` on the same template, both measured in one
# run of this script (see docs/performance.md, issue #3):
#   - the template is the built-in python stack (templates/_shared + templates/python,
#     assembled by scripts/assemble-stack.sh; 30 files generated);
#   - copier (PyPI, in a venv) gets the same files with a copier.yml declaring the same
#     variables; both tools get every answer on the command line and ask nothing;
#   - the two generated trees are compared first: apart from lbc's provenance file they
#     must be byte-identical, so both tools did the same work;
#   - then hyperfine times `lbc init --template DIR` (read from disk, like copier), and
#     `lbc init --stack python` (embedded) for reference, against `copier copy`.
# Needs python3 with venv and network access to PyPI on the first run (copier is cached in
# $LBC_BENCH_DIR, default ~/.cache/lbc-bench). hyperfine comes from Debian's packages.
# Usage: scripts/bench-init.sh [--runs N]
set -euo pipefail

BENCH_NAME=bench-init
# shellcheck source=scripts/bench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
RUNS=30
if [ "${1:-}" = "--runs" ]; then RUNS="$2"; fi
need_hyperfine
need_copier
build_lbc

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# --- the same template for both tools --------------------------------------------------
TPL="$WORK/lbc-template"
CTPL="$WORK/copier-template"
bash "$ROOT/scripts/assemble-stack.sh" python "$TPL"
bash "$ROOT/scripts/assemble-stack.sh" python "$CTPL"
# The stack's current version, as lbc gives it to the template.
TPL_VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$CTPL/template.toml" | head -n1)"
rm "$CTPL/template.toml"
# The answers, given to both tools explicitly.
ANSWERS=(
  "name=hello"
  "description=A tiny HTTP service"
  "registry=registry.example.com/hello"
  "domain=example.com"
  "kube_context=nonprod"
  "kube_context_production=prod"
  "local_port=8080"
  "ci=all"
)
cat > "$CTPL/copier.yml" <<YAML
_templates_suffix: .jinja
_exclude: [copier.yml, template.toml, .git]
_answers_file: .copier-answers.yml
# lbc provides \`template\` to every template; copier gets it as a fixed value.
template:
  type: yaml
  default: "{name: python, version: $TPL_VERSION}"
  when: false
name: {type: str, default: hello}
description: {type: str, default: A tiny HTTP service}
registry: {type: str, default: registry.example.com/hello}
domain: {type: str, default: example.com}
kube_context: {type: str, default: nonprod}
kube_context_production: {type: str, default: prod}
local_port: {type: int, default: 8080}
ci:
  type: str
  default: all
  choices: [all, gitlab, github, jenkins, none]
YAML

LBC_ARGS=()
COPIER_ARGS=()
for a in "${ANSWERS[@]}"; do
  LBC_ARGS+=(--set "$a")
  COPIER_ARGS+=(--data "$a")
done

# --- same output ----------------------------------------------------------------------
"$LBC" -q init "$WORK/out-lbc" --template "$TPL" --yes "${LBC_ARGS[@]}" >/dev/null
"$COPIER" copy --quiet --defaults --overwrite "${COPIER_ARGS[@]}" "$CTPL" "$WORK/out-copier" >/dev/null
rm -rf "$WORK/out-lbc/.lbc" "$WORK/out-copier/.copier-answers.yml"
if ! diff -r "$WORK/out-lbc" "$WORK/out-copier" >&2; then
  log "the two tools generated different trees: the comparison would be unfair"
  exit 1
fi
FILES=$(find "$WORK/out-lbc" -type f | wc -l)
log "both tools generate the same $FILES files (byte for byte)"

# --- timing ---------------------------------------------------------------------------
q() { printf '%q ' "$@"; }
LBC_DIR_CMD="$(q "$LBC" -q init "$WORK/t-lbc" --template "$TPL" --yes "${LBC_ARGS[@]}")"
LBC_EMB_CMD="$(q "$LBC" -q init "$WORK/t-emb" --stack python --yes "${LBC_ARGS[@]}")"
COPIER_CMD="$(q "$COPIER" copy --quiet --defaults --overwrite "${COPIER_ARGS[@]}" "$CTPL" "$WORK/t-copier")"
hyperfine --style basic --runs "$RUNS" --warmup 3 --shell=none \
  --prepare "rm -rf $WORK/t-lbc $WORK/t-emb $WORK/t-copier" \
  --export-json "$WORK/init.json" \
  -n "lbc init --template DIR" "$LBC_DIR_CMD" \
  -n "lbc init --stack python" "$LBC_EMB_CMD" \
  -n "copier copy" "$COPIER_CMD" >&2

python3 - "$WORK/init.json" "$FILES" "$COPIER_VERSION" "$("$LBC" --version)" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))["results"]
files, copier_version, lbc_version = sys.argv[2], sys.argv[3], sys.argv[4]
by = {r["command"]: r for r in data}
copier = by["copier copy"]["median"]
print(f"Template: the python stack, {files} files; {lbc_version}; copier {copier_version}.\n")
print("| command | median | mean ± σ | copier / this |")
print("| --- | --- | --- | --- |")
for name in ["lbc init --template DIR", "lbc init --stack python", "copier copy"]:
    r = by[name]
    ratio = copier / r["median"]
    print(f"| `{name}` | {r['median']*1000:.1f} ms | {r['mean']*1000:.1f} ± {r['stddev']*1000:.1f} ms | {ratio:.0f}× |")
PY
