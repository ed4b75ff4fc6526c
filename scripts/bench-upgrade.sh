#!/usr/bin/env bash
# Benchmark of `lbc upgrade` against `copier update` (see docs/performance.md, issue #5),
# both measured in one run of this script:
#   - ONE git template repository serves both tools: 15 generated files of a small python
#     service (app, tests, Dockerfile, README, CI, Helm chart, config, a binary logo), a
#     template.toml for lbc and a copier.yml for copier declaring the same variables, the
#     `.jinja` suffix for rendered files in both. Tags: v1.0.0; v2.0.0 changes seven files;
#     v3.0.0 (used only by the merge-results part) changes a line, renames a file and
#     replaces the binary logo;
#   - each tool generates a project at v1.0.0, committed, then gets the SAME two local edits
#     (a section appended to README.md, a default changed in app/config.py: files that v2
#     also changes, elsewhere), committed;
#   - results first: one update to v2.0.0 with each tool; both trees must equal a fresh v2.0.0
#     rendering with the two edits applied (and so each other), path and content of every
#     file, apart from lbc's .lbc/ and copier's .copier-answers.yml; file modes are compared
#     too, and a difference is printed as a warning (it does not change the work timed);
#   - timing: hyperfine runs both updates in one invocation, each repository reset to its
#     pre-update commit before every run (`--prepare`, not timed);
#   - merge results (not timed): from v2.0.0 to v3.0.0, one project per tool and per case:
#     (a) a line changed on both sides, (b) a locally edited file that the template renamed,
#     (c) a binary file changed on both sides. The script prints what each tool did.
# Needs python3 with venv and network access to PyPI on the first run (copier is cached in
# $LBC_BENCH_DIR, default ~/.cache/lbc-bench; the hyperfine JSON is written there too).
# hyperfine comes from Debian's packages. LBC_BENCH_KEEP=1 keeps the template and projects.
# Usage: scripts/bench-upgrade.sh [--runs N]
set -euo pipefail

BENCH_NAME=bench-upgrade
# shellcheck source=scripts/bench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
RUNS=20
if [ "${1:-}" = "--runs" ]; then RUNS="$2"; fi
need_hyperfine
need_copier
build_lbc

WORK="$(mktemp -d)"
if [ -n "${LBC_BENCH_KEEP:-}" ]; then
  trap 'log "kept the template and projects in $WORK"' EXIT
else
  trap 'rm -rf "$WORK"' EXIT
fi
JSON_OUT="$BENCH_DIR/bench-upgrade.json"
mkdir -p "$BENCH_DIR"

# The same git configuration for this script, lbc and copier (which commits in its
# temporary copies), whatever the user's own configuration says.
cat > "$WORK/gitconfig" <<'INI'
[user]
	name = bench
	email = bench@example.invalid
[init]
	defaultBranch = main
[advice]
	detachedHead = false
[commit]
	gpgsign = false
INI
export GIT_CONFIG_GLOBAL="$WORK/gitconfig" GIT_CONFIG_NOSYSTEM=1

# --- the template: one git repository for both tools -----------------------------------
TPL="$WORK/template"
w() { mkdir -p "$(dirname "$TPL/$1")"; cat > "$TPL/$1"; }
mkdir -p "$TPL"
git -C "$TPL" init -q

w template.toml <<'TOML'
[template]
name = "acme-service"
version = "1.0.0"
description = "A small python HTTP service"
exclude = ["copier.yml", "{{ _copier_conf.answers_file }}.jinja"]

[variables.name]
default = "svc"
pattern = "[a-z]([-a-z0-9]*[a-z0-9])?"

[variables.description]
default = "A small HTTP service"

[variables.port]
type = "integer"
default = 8080
TOML
w copier.yml <<'YAML'
_templates_suffix: .jinja
_answers_file: .copier-answers.yml
_exclude: [template.toml, copier.yml, copier.yaml, .git, "~*", "*.py[co]", __pycache__]
name: {type: str, default: svc}
description: {type: str, default: A small HTTP service}
port: {type: int, default: 8080}
YAML
w '{{ _copier_conf.answers_file }}.jinja' <<'J'
# Changes here will be overwritten by Copier; NEVER EDIT MANUALLY
{{ _copier_answers|to_nice_yaml -}}
J

w README.md.jinja <<'MD'
# {{ name }}

{{ description }}

## Run locally

    lbc deploy local
    curl http://localhost:{{ port }}/healthz

## Tests

    lbc test unit

## Configuration

Settings come from the environment (see `app/config.py`):

| variable | default |
| --- | --- |
| `PORT` | `{{ port }}` |
| `LOG_LEVEL` | `info` |
| `WORKERS` | `2` |

## Deploying

Tags `vX.Y.Z` deploy to staging; production is promoted by hand:

    lbc promote staging production
MD
w lbc.toml.jinja <<'TOML'
schema = 2

[project]
name = "{{ name }}"
description = {{ description | tojson }}

[image]
repository = "registry.example.com/{{ name }}"
target = "runtime"

[tasks.test-unit]
run = ["python3", "-m", "unittest", "discover", "-s", "tests", "-t", ".", "-v"]
stage = "test"

[env.local]
kind = "docker"
health = "/healthz"

[deploy]
chart = "deploy/chart"
TOML
w Dockerfile.jinja <<'DOCKER'
ARG BUILDER_IMAGE=python:3.11-slim
ARG RUNTIME_IMAGE=python:3.11-slim

FROM ${BUILDER_IMAGE} AS test
WORKDIR /src
COPY . .
RUN python3 -m unittest discover -s tests -t .

FROM ${RUNTIME_IMAGE} AS runtime
WORKDIR /app
COPY app ./app
USER 65532:65532
ENV PORT={{ port }}
EXPOSE {{ port }}
HEALTHCHECK CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{{ port }}/healthz')"]
CMD ["python3", "-m", "app.main"]
DOCKER
w .gitignore <<'TXT'
__pycache__/
*.pyc
.venv/
.lbc/state/
TXT
w .dockerignore <<'TXT'
.git
.lbc
deploy
__pycache__
TXT
w app/__init__.py <<'PY'
"""The service."""
PY
w app/main.py <<'PY'
"""HTTP entry point: / and /healthz."""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app import config


def route(path):
    """Status and JSON body for a path."""
    if path == "/healthz":
        return 200, {"status": "ok"}
    if path == "/":
        return 200, {"service": config.NAME}
    return 404, {"error": "not found"}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        status, body = route(self.path)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        if config.LOG_LEVEL == "debug":
            super().log_message(fmt, *args)


def main():
    server = ThreadingHTTPServer(("0.0.0.0", config.PORT), Handler)
    server.timeout = config.TIMEOUT_SECONDS
    server.serve_forever()


if __name__ == "__main__":
    main()
PY
w app/config.py.jinja <<'PY'
"""Settings of the service, read from the environment."""

import os

NAME = "{{ name }}"
PORT = int(os.environ.get("PORT", "{{ port }}"))
LOG_LEVEL = os.environ.get("LOG_LEVEL", "info")
WORKERS = int(os.environ.get("WORKERS", "2"))

# Requests slower than this are cut.
TIMEOUT_SECONDS = float(os.environ.get("TIMEOUT_SECONDS", "5"))


def summary():
    """The effective settings, for the start-up log."""
    return {
        "name": NAME,
        "port": PORT,
        "log_level": LOG_LEVEL,
        "workers": WORKERS,
    }
PY
w tests/test_main.py <<'PY'
import unittest

from app.main import route


class RouteTest(unittest.TestCase):
    def test_healthz(self):
        self.assertEqual(route("/healthz"), (200, {"status": "ok"}))

    def test_unknown(self):
        self.assertEqual(route("/nope")[0], 404)


if __name__ == "__main__":
    unittest.main()
PY
w requirements.txt <<'TXT'
# The service uses the standard library only.
TXT
w .github/workflows/ci.yml <<'YAML'
name: ci
on:
  push:
    branches: [main]
    tags: ["v*"]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v3
      - run: lbc test unit
  build:
    needs: test
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v3
      - run: lbc build --push
        env:
          REGISTRY_USER: ${{ secrets.REGISTRY_USER }}
          REGISTRY_PASSWORD: ${{ secrets.REGISTRY_PASSWORD }}
YAML
w deploy/chart/Chart.yaml.jinja <<'YAML'
apiVersion: v2
name: {{ name }}
description: {{ description | tojson }}
type: application
version: 0.1.0
YAML
w deploy/chart/values.yaml.jinja <<'YAML'
image:
  repository: registry.example.com/{{ name }}
  tag: latest
replicas: 1
port: {{ port }}
resources:
  requests:
    cpu: 50m
    memory: 64Mi
  limits:
    memory: 128Mi
YAML
w deploy/chart/templates/deployment.yaml <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
        - name: app
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          ports: [{containerPort: {{ .Values.port }}}]
          readinessProbe: {httpGet: {path: /healthz, port: {{ .Values.port }}}}
          resources: {{ toYaml .Values.resources | nindent 12 }}
YAML
mkdir -p "$TPL/static"
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR logo v1\0\x01\x02' > "$TPL/static/logo.png"
git -C "$TPL" add -A
git -C "$TPL" commit -qm "template 1.0.0"
git -C "$TPL" tag v1.0.0

# v2.0.0: seven files change (none of the lines the projects edit locally).
sed -i 's/^version = "1.0.0"/version = "2.0.0"/' "$TPL/template.toml"
sed -i 's|^    curl http://localhost:{{ port }}/healthz$|&\n    curl http://localhost:{{ port }}/version|' "$TPL/README.md.jinja"
sed -i 's/python:3.11-slim/python:3.12-slim/' "$TPL/Dockerfile.jinja"
sed -i 's/actions\/checkout@v3/actions\/checkout@v4/' "$TPL/.github/workflows/ci.yml"
sed -i 's/^    memory: 128Mi$/    memory: 256Mi/' "$TPL/deploy/chart/values.yaml.jinja"
sed -i 's/^        "workers": WORKERS,$/&\n        "version": VERSION,/' "$TPL/app/config.py.jinja"
sed -i 's/^NAME = .*/&\nVERSION = os.environ.get("VERSION", "dev")/' "$TPL/app/config.py.jinja"
python3 - "$TPL" <<'PY'
import sys, pathlib
root = pathlib.Path(sys.argv[1])
p = root / "app/main.py"
p.write_text(p.read_text().replace(
    '    if path == "/":\n',
    '    if path == "/version":\n        return 200, {"version": config.VERSION}\n    if path == "/":\n'))
p = root / "tests/test_main.py"
p.write_text(p.read_text().replace(
    "    def test_unknown(self):\n",
    '    def test_version(self):\n        self.assertEqual(route("/version")[0], 200)\n\n    def test_unknown(self):\n'))
PY
git -C "$TPL" commit -qam "template 2.0.0"
git -C "$TPL" tag v2.0.0
CHANGED_V2=$(git -C "$TPL" diff --name-only v1.0.0 v2.0.0 | grep -vc '^template.toml$')

# v3.0.0 (merge results only): a changed line, a plain rename, new logo bytes.
sed -i 's/^version = "2.0.0"/version = "3.0.0"/' "$TPL/template.toml"
sed -i 's/"WORKERS", "2"/"WORKERS", "4"/' "$TPL/app/config.py.jinja"
git -C "$TPL" mv tests/test_main.py tests/test_app.py
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR logo v3 (template)\0\x03' > "$TPL/static/logo.png"
git -C "$TPL" commit -qam "template 3.0.0"
git -C "$TPL" tag v3.0.0

ANSWERS=("name=hello" "description=Says hello over HTTP" "port=8080")
LBC_SET=(); COPIER_DATA=()
for a in "${ANSWERS[@]}"; do LBC_SET+=(--set "$a"); COPIER_DATA+=(--data "$a"); done

gen_lbc() { # DIR VERSION
  "$LBC" -q init "$1" --template "$TPL" --template-version "$2" --yes "${LBC_SET[@]}" >/dev/null
}
gen_copier() { # DIR VERSION
  "$COPIER" copy --quiet --trust --defaults -r "$2" "${COPIER_DATA[@]}" "$TPL" "$1" >/dev/null
}
commit_all() { git -C "$1" add -A && git -C "$1" commit -qm "$2"; }
new_project() { # TOOL DIR VERSION
  "gen_$1" "$2" "$3"
  git -C "$2" init -q
  commit_all "$2" "generated at $3"
}
upgrade_lbc() { "$LBC" -q -C "$1" upgrade --to "$2"; }
upgrade_copier() { "$COPIER" update --quiet --trust --defaults -r "$2" "$1"; }

# The two local edits of the timed case.
local_edits() {
  printf '\n## Our notes\n\nOn call: team-a (#team-a on chat).\n' >> "$1/README.md"
  sed -i 's/"TIMEOUT_SECONDS", "5"/"TIMEOUT_SECONDS", "30"/' "$1/app/config.py"
}

# A tree as "path sha256 mode" lines, without .git and each tool's own records (lbc's
# .lbc/template.toml and git-ignored .lbc/state/, copier's .copier-answers.yml).
snapshot() {
  (cd "$1" && find . \( -path ./.git -o -path ./.lbc/state \) -prune -o -type f -printf '%P\n' \
    | grep -vxE '\.lbc/template\.toml|\.copier-answers\.yml' | LC_ALL=C sort \
    | while read -r f; do printf '%s %s %s\n' "$f" "$(sha256sum < "$f" | cut -c1-16)" "$(stat -c %a "$f")"; done)
}

# --- results first: the clean case --------------------------------------------------------
P_LBC="$WORK/lbc/hello"
P_COPIER="$WORK/copier/hello"
EXPECTED="$WORK/expected/hello"
mkdir -p "$WORK/lbc" "$WORK/copier" "$WORK/expected"
for tool in lbc copier; do
  dir="$WORK/$tool/hello"
  new_project "$tool" "$dir" v1.0.0
  local_edits "$dir"
  commit_all "$dir" "local edits"
done
PRE_LBC=$(git -C "$P_LBC" rev-parse HEAD)
PRE_COPIER=$(git -C "$P_COPIER" rev-parse HEAD)
FILES=$(snapshot "$P_LBC" | wc -l)
if ! diff <(snapshot "$P_LBC") <(snapshot "$P_COPIER") >&2; then
  log "the two tools generate different projects at v1.0.0: the comparison would be unfair"
  exit 1
fi
log "both tools generate the same $FILES files at v1.0.0; the two local edits are committed"

# What a correct merge gives: a fresh v2.0.0 rendering with the same two edits.
gen_lbc "$EXPECTED" v2.0.0
local_edits "$EXPECTED"

rc_lbc=0; upgrade_lbc "$P_LBC" v2.0.0 >/dev/null 2>"$WORK/lbc.err" || rc_lbc=$?
rc_copier=0; upgrade_copier "$P_COPIER" v2.0.0 >/dev/null 2>"$WORK/copier.err" || rc_copier=$?
log "clean case, v1.0.0 -> v2.0.0 ($CHANGED_V2 files changed by the template): lbc exit $rc_lbc, copier exit $rc_copier"
snapshot "$EXPECTED" > "$WORK/expected.snap"
# Paths and contents must match; file modes are compared too, but a mode difference is
# reported (MODE_NOTES) rather than fatal: it does not change the work being timed.
ok=1
MODE_NOTES=""
for tool in lbc copier; do
  dir="$WORK/$tool/hello"
  snapshot "$dir" > "$WORK/$tool.snap"
  if diff -q <(cut -d' ' -f1,2 "$WORK/expected.snap") <(cut -d' ' -f1,2 "$WORK/$tool.snap") >/dev/null; then
    log "  $tool: every file has the path and content of v2.0.0 plus the two local edits"
  else
    ok=0
    log "  $tool: differs from v2.0.0 plus the two local edits (path, sha256):"
    diff <(cut -d' ' -f1,2 "$WORK/expected.snap") <(cut -d' ' -f1,2 "$WORK/$tool.snap") | sed 's/^/      /' >&2 || true
    (cd "$EXPECTED" && find . -type f -printf '%P\n') | while read -r f; do
      if [ -f "$dir/$f" ] && ! cmp -s "$EXPECTED/$f" "$dir/$f"; then
        diff -u --label "expected/$f" --label "$tool/$f" "$EXPECTED/$f" "$dir/$f" | sed 's/^/      /' >&2 || true
      fi
    done
  fi
  modes="$(join <(cut -d' ' -f1,3 "$WORK/expected.snap") <(cut -d' ' -f1,3 "$WORK/$tool.snap") \
    | awk '$2 != $3 {print $1 " " $2 "->" $3}')"
  if [ -n "$modes" ]; then
    n=$(printf '%s\n' "$modes" | wc -l)
    note="$tool changed the mode of $n files: $(printf '%s\n' "$modes" | paste -sd, - | sed 's/,/, /g')"
    log "  WARNING: $note"
    MODE_NOTES="$MODE_NOTES- $note"$'\n'
  else
    log "  $tool: file modes as in a fresh rendering"
  fi
done
if diff <(cut -d' ' -f1,2 "$WORK/lbc.snap") <(cut -d' ' -f1,2 "$WORK/copier.snap") >/dev/null; then
  log "lbc and copier produced the same paths and contents ($(wc -l < "$WORK/lbc.snap") files)"
else
  log "lbc and copier produced different trees:"
  diff <(cut -d' ' -f1,2 "$WORK/lbc.snap") <(cut -d' ' -f1,2 "$WORK/copier.snap") | sed 's/^/    /' >&2 || true
  ok=0
fi
if [ "$rc_lbc" != 0 ] || [ "$rc_copier" != 0 ] || [ "$ok" != 1 ]; then
  sed 's/^/    lbc: /' "$WORK/lbc.err" >&2; sed 's/^/    copier: /' "$WORK/copier.err" >&2
  log "the clean case does not give the same, correct result with both tools: not timing it"
  exit 1
fi

# --- timing ----------------------------------------------------------------------------
q() { printf '%q ' "$@"; }
cat > "$WORK/reset.sh" <<'SH'
#!/bin/sh
git -C "$1" reset -q --hard "$2" && git -C "$1" clean -qfdx
SH
LBC_CMD="$(q "$LBC" -q -C "$P_LBC" upgrade --to v2.0.0)"
COPIER_CMD="$(q "$COPIER" update --quiet --trust --defaults -r v2.0.0 "$P_COPIER")"
hyperfine --style basic --runs "$RUNS" --warmup 2 --shell=none \
  --prepare "sh $WORK/reset.sh $P_LBC $PRE_LBC" \
  --prepare "sh $WORK/reset.sh $P_COPIER $PRE_COPIER" \
  --export-json "$JSON_OUT" \
  -n "lbc upgrade" "$LBC_CMD" \
  -n "copier update" "$COPIER_CMD" >&2
# The last timed run must still have produced the right result.
for tool in lbc copier; do
  snapshot "$WORK/$tool/hello" | cut -d' ' -f1,2 | diff -q <(cut -d' ' -f1,2 "$WORK/expected.snap") - >/dev/null \
    || { log "after timing, $tool's tree is not the expected one"; exit 1; }
done
log "hyperfine results: $JSON_OUT"

# --- merge results, v2.0.0 -> v3.0.0 (not timed) -------------------------------------------
# One project per tool and case, generated at v2.0.0 and committed, one local edit committed.
LOGO_V2="$(git -C "$TPL" show v2.0.0:static/logo.png | sha256sum | cut -c1-16)"
LOGO_V3="$(git -C "$TPL" show v3.0.0:static/logo.png | sha256sum | cut -c1-16)"
edit_a() { sed -i 's/"WORKERS", "2"/"WORKERS", "8"/' "$1/app/config.py"; }
edit_b() { printf '\n\nclass LocalTest(unittest.TestCase):\n    def test_local(self):\n        self.assertTrue(True)  # local test\n' >> "$1/tests/test_main.py"; }
logo_local() { printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR logo (local)\0\x04'; }
edit_c() { logo_local > "$1/static/logo.png"; }
LOGO_LOCAL="$(logo_local | sha256sum | cut -c1-16)"

# Files the update created that neither the template nor the project has (side files).
extra_files() {
  git -C "$1" status --porcelain --untracked-files=all | sed -n 's/^?? //p' \
    | grep -vxE '\.lbc/template\.toml|\.copier-answers\.yml|tests/test_app\.py' | paste -sd, - || true
}
index_state() { # DIR PATH: git's view of the path after the update
  local s; s="$(git -C "$1" status --porcelain -- "$2" | cut -c1-2)"
  local gone=""; [ -e "$1/$2" ] || gone=", file gone"
  case "$s" in "") echo "unchanged$gone";; UU|AA|DU|UD) echo "unmerged ($s)$gone";; *) echo "'$s'$gone";; esac
}

ROWS="$WORK/rows.md"
: > "$ROWS"
for case in a b c; do
  for tool in lbc copier; do
    dir="$WORK/cases/$case-$tool/hello"
    mkdir -p "$(dirname "$dir")"
    new_project "$tool" "$dir" v2.0.0
    "edit_$case" "$dir"
    commit_all "$dir" "local edit ($case)"
    rc=0; "upgrade_$tool" "$dir" v3.0.0 >"$WORK/out" 2>&1 || rc=$?
    case "$case" in
      a)
        f="$dir/app/config.py"
        markers=$(grep -c '^<<<<<<<' "$f" || true)
        has_local=$(grep -q '"WORKERS", "8"' "$f" && echo yes || echo no)
        has_tpl=$(grep -q '"WORKERS", "4"' "$f" && echo yes || echo no)
        what="conflict markers: $markers region(s); local \`8\` kept: $has_local; template's \`4\` shown: $has_tpl; git index: $(index_state "$dir" app/config.py)"
        ;;
      b)
        old=no; [ -e "$dir/tests/test_main.py" ] && old=yes
        new=no; [ -e "$dir/tests/test_app.py" ] && new=yes
        kept=no; grep -q 'local test' "$dir/tests/test_app.py" 2>/dev/null && kept=yes
        kept_old=no; grep -q 'local test' "$dir/tests/test_main.py" 2>/dev/null && kept_old=yes
        what="tests/test_app.py exists: $new, has the local test: $kept; old tests/test_main.py left: $old (with the local test: $kept_old); git index of the old path: $(index_state "$dir" tests/test_main.py)"
        ;;
      c)
        got="$(sha256sum < "$dir/static/logo.png" | cut -c1-16)"
        case "$got" in
          "$LOGO_LOCAL") bytes="the local bytes";;
          "$LOGO_V3") bytes="the template's v3 bytes";;
          "$LOGO_V2") bytes="the v2 (base) bytes";;
          *) bytes="other bytes ($got)";;
        esac
        side=""
        if [ -f "$dir/static/logo.png.lbc-new" ]; then
          [ "$(sha256sum < "$dir/static/logo.png.lbc-new" | cut -c1-16)" = "$LOGO_V3" ] && side=" (= template v3)"
        fi
        what="static/logo.png holds $bytes; git index: $(index_state "$dir" static/logo.png)"
        ;;
    esac
    extra="$(extra_files "$dir")"
    what="$what; new side files: ${extra:-none}${side:-}"
    side=""
    printf '| %s | %s | %s | %s |\n' "$case" "$tool" "$rc" "$what" >> "$ROWS"
    cp "$WORK/out" "$WORK/out-$case-$tool"
  done
done

# --- report ------------------------------------------------------------------------------
python3 - "$JSON_OUT" "$FILES" "$CHANGED_V2" "$COPIER_VERSION" "$("$LBC" --version)" "$RUNS" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))["results"]
files, changed, copier_version, lbc_version, runs = sys.argv[2:7]
by = {r["command"]: r for r in data}
lbc, copier = by["lbc upgrade"], by["copier update"]
ratio = copier["mean"] / lbc["mean"]
print(f"\nTemplate: {files} files, {changed} changed by v2.0.0, 2 local edits merged; "
      f"{lbc_version}; copier {copier_version}; {runs} runs each.\n")
print("| command | mean ± σ | median | min … max | user + sys |")
print("| --- | --- | --- | --- | --- |")
for name, r in (("lbc upgrade --to v2.0.0", lbc), ("copier update -r v2.0.0", copier)):
    print(f"| `{name}` | {r['mean']*1000:.1f} ± {r['stddev']*1000:.1f} ms | {r['median']*1000:.1f} ms "
          f"| {r['min']*1000:.1f} … {r['max']*1000:.1f} ms | {r['user']*1000:.1f} + {r['system']*1000:.1f} ms |")
print(f"\ncopier / lbc (means): **{ratio:.0f}×** — goal ≥ 50×: {'met' if ratio >= 50 else 'MISSED'}")
PY
if [ -n "$MODE_NOTES" ]; then
  echo
  echo "File modes after the clean update (a fresh rendering has 644):"
  echo
  printf '%s' "$MODE_NOTES"
fi
echo
echo "Merge results, v2.0.0 -> v3.0.0 (one project per tool and case):"
echo
echo "| case | tool | exit | result |"
echo "| --- | --- | --- | --- |"
cat "$ROWS"
