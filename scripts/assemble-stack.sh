#!/usr/bin/env bash
# Assemble a built-in stack into a directory exactly as build.rs embeds it in lbc:
# templates/_shared/ (the chart and CI pipelines every stack shares), then the family's
# Dockerfile and .dockerignore when templates/_dockerfiles/STACK exists (all of the
# family but its template.toml; not for java and php, which keep their own), then
# templates/STACK/ over it (the stack's own files; one with a shared file's path replaces
# it). Uses: starting a custom template from a stack, the benchmarks, and freezing a
# stack's current version before its version is bumped (docs/templates.md):
#
#   bash scripts/assemble-stack.sh python templates/.releases/python/1.1.0
#
# The templates of `lbc init --adopt` are assembled the same way, from
# templates/_dockerfiles/FAMILY over the shared layer, under the name adopt-FAMILY:
#
#   bash scripts/assemble-stack.sh adopt-python templates/.releases/adopt-python/1.0.0
#
# DEST must not exist or be empty: nothing is overwritten.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ $# -ne 2 ]; then
  echo "usage: $0 STACK DEST" >&2
  exit 2
fi
stack="$1"
dest="$2"
case "$stack" in
  ""|.*|_*|*/*)
    echo "error: \`$stack\` is not a stack name (see templates/)" >&2
    exit 2
    ;;
esac
own="$ROOT/templates/$stack"
case "$stack" in
  adopt-*) own="$ROOT/templates/_dockerfiles/${stack#adopt-}" ;;
esac
if [ ! -f "$own/template.toml" ]; then
  echo "error: no built-in stack \`$stack\` (no ${own#"$ROOT"/}/template.toml)" >&2
  exit 2
fi
if [ -e "$dest" ] && [ -n "$(ls -A "$dest")" ]; then
  echo "error: $dest is not empty: choose a new directory" >&2
  exit 2
fi
mkdir -p "$dest"
cp -R "$ROOT/templates/_shared/." "$dest/"
family="$ROOT/templates/_dockerfiles/$stack"
case "$stack" in
  adopt-*|java|php) ;;
  *)
    if [ -d "$family" ]; then
      (cd "$family" && find . -type f ! -path ./template.toml) | while IFS= read -r f; do
        mkdir -p "$dest/$(dirname "$f")"
        cp -p "$family/$f" "$dest/$f"
      done
    fi
    ;;
esac
cp -R "$own/." "$dest/"
