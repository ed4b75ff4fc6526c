#!/usr/bin/env bash
# Benchmark of `lbc fleet status` (issue #15; see docs/performance.md):
#   - 500 local repositories: copies of five seeds (python stack 1.0.0 unchanged, 1.0.0
#     with a local edit, 1.1.0, a git template's v1.0.0 with a local edit, a repository
#     that is not an lbc project), each a git repository with one commit;
#   - 500 remote repositories: a bare clone of each behind a file:// URL, already in
#     lbc's cache (one untimed run clones them), nothing new on the remotes: what a
#     nightly dashboard job does;
#   - hyperfine times `lbc fleet status` over each fleet (default --jobs: 4 per CPU), and,
#     for comparison, the bare `git fetch` of the 500 cache entries with the same flags and
#     parallelism as lbc's (the floor for the remote case: one git process per repository).
# Goals: local <= 5 s, remote (cached, nothing new) <= 10 s.
# Usage: scripts/bench-fleet.sh [--runs N] [--repos N]
# LBC_BENCH_KEEP=1 keeps the repositories; the hyperfine JSON goes to $LBC_BENCH_DIR.
set -euo pipefail

BENCH_NAME=bench-fleet
# shellcheck source=scripts/bench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
RUNS=5
N=500
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --repos) N="$2"; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--repos N]" >&2; exit 2 ;;
  esac
done
need_hyperfine
build_lbc
# build_lbc names ./target; a CARGO_TARGET_DIR elsewhere holds the binary instead.
if [ -n "${CARGO_TARGET_DIR:-}" ]; then LBC="$CARGO_TARGET_DIR/release/lbc"; fi
JOBS="$((4 * $(nproc)))"

WORK="$(mktemp -d)"
if [ -n "${LBC_BENCH_KEEP:-}" ]; then
  trap 'log "kept the repositories in $WORK"' EXIT
else
  trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$BENCH_DIR"
JSON_OUT="$BENCH_DIR/bench-fleet.json"

cat > "$WORK/gitconfig" <<'INI'
[user]
	name = bench
	email = bench@example.invalid
[init]
	defaultBranch = main
[commit]
	gpgsign = false
INI
export GIT_CONFIG_GLOBAL="$WORK/gitconfig" GIT_CONFIG_NOSYSTEM=1
export XDG_CACHE_HOME="$WORK/xdg"

commit_all() { git -C "$1" init -q && git -C "$1" add -A && git -C "$1" commit -q -m "$2"; }

# --- a git template with two tagged versions ------------------------------------------
TPL="$WORK/template"
mkdir -p "$TPL/config"
printf '[template]\nname = "acme"\nversion = "1.0.0"\n\n[variables.name]\ndefault = "svc"\n' > "$TPL/template.toml"
printf 'schema = 2\n\n[project]\nname = "{{ name }}"\n\n[env.staging]\nkind = "kubernetes"\ncontext = "nonprod"\n' > "$TPL/lbc.toml.jinja"
for i in $(seq 1 12); do printf 'line %s\n' $(seq 1 40) > "$TPL/config/file$i.txt"; done
printf 'one\ntwo\nthree\n' > "$TPL/notes.md"
commit_all "$TPL" v1 && git -C "$TPL" tag v1.0.0
sed -i 's/version = "1.0.0"/version = "1.1.0"/' "$TPL/template.toml"
printf 'one\ntwo\nTHREE\n' > "$TPL/notes.md"
git -C "$TPL" commit -q -am v1.1 && git -C "$TPL" tag v1.1.0

# --- five seeds --------------------------------------------------------------------------
SEEDS="$WORK/seeds"
mkdir -p "$SEEDS"
( cd "$SEEDS"
  "$LBC" -q init s0 --stack python --template-version 1.0.0 --yes --set ci=none >/dev/null
  "$LBC" -q init s1 --stack python --template-version 1.0.0 --yes --set ci=none >/dev/null
  printf '\n## ours\n' >> s1/README.md
  "$LBC" -q init s2 --stack python --yes --set ci=none >/dev/null
  "$LBC" -q init s3 --template "$TPL" --template-version v1.0.0 --yes >/dev/null
  printf 'ONE\ntwo\nthree\n' > s3/notes.md
  mkdir s4 && printf '# a library\n' > s4/README.md
)
for s in s0 s1 s2 s3 s4; do commit_all "$SEEDS/$s" seed; done

log "making $N local repositories and $N bare remotes"
mkdir -p "$WORK/local" "$WORK/remote"
{ echo "repos = ["; for i in $(seq 1 "$N"); do echo "  \"local/r$i\","; done; echo "]"; } > "$WORK/local.toml"
{ echo "repos = ["; for i in $(seq 1 "$N"); do echo "  \"file://$WORK/remote/r$i.git\","; done; echo "]"; } > "$WORK/remote.toml"
for i in $(seq 1 "$N"); do
  cp -a "$SEEDS/s$((i % 5))" "$WORK/local/r$i"
done
seq 1 "$N" | xargs -P "$JOBS" -I{} git clone -q --bare "$WORK/local/r{}" "$WORK/remote/r{}.git"

cd "$WORK"
log "first run over the remotes (clones $N repositories into the cache; timed once)"
start=$(date +%s.%N)
"$LBC" fleet status --fleet remote.toml > "$WORK/first.txt"
end=$(date +%s.%N)
log "first run: $(echo "$end - $start" | bc) s"
tail -1 "$WORK/first.txt" >&2
"$LBC" fleet status --fleet local.toml | tail -1 >&2

FETCH="ls -d $XDG_CACHE_HOME/lbc/fleet/repos/*.git | xargs -P $JOBS -I{} git -C {} -c maintenance.auto=false -c gc.auto=0 fetch --quiet --prune --no-write-fetch-head --no-tags origin '+refs/heads/*:refs/heads/*'"
hyperfine --runs "$RUNS" --warmup 1 --export-json "$JSON_OUT" \
  -n "fleet status, $N local" "$LBC fleet status --fleet local.toml" \
  -n "fleet status, $N remote (cached)" "$LBC fleet status --fleet remote.toml" \
  -n "git fetch alone, $N cache entries, -P $JOBS" "$FETCH"
log "hyperfine JSON: $JSON_OUT"
