#!/usr/bin/env bash
# Run the README's first command word for word, as a new user would (issue #9): in a
# fresh clone of this repository's HEAD, with an empty HOME and a clean PATH, then check
# that the URL it printed answers, and remove what it started.
#
#   bash scripts/first-command.sh
#
# The command is read from README.md (the first ```sh block of "Try it"), so the README
# cannot drift from what is checked. It builds lbc in release mode (minutes). It needs
# port 8080 free (the python stack's default) and Rust through rustup or the system.
# Docker is shared with the machine: the script only removes what the command created
# (the container and image of `hello`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

cmd=$(awk '/^## Try it/{s=1} s && /^```sh/{getline; print; exit}' "$ROOT/README.md")
[ -n "$cmd" ] || { echo "error: no \`\`\`sh block under '## Try it' in README.md" >&2; exit 1; }
echo "first command: $cmd" >&2

work=$(mktemp -d /tmp/lbc-first-command.XXXXXX)
cleanup() {
    if [ -x "$work/home/.local/bin/lbc" ] && [ -d "$work/clone/hello" ]; then
        (cd "$work/clone/hello" && "$work/home/.local/bin/lbc" destroy local >&2) || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
git clone --quiet "$ROOT" "$work/clone"
git -C "$work/clone" checkout --quiet "$(git -C "$ROOT" rev-parse HEAD)"
mkdir -p "$work/home"

# A new user's environment: nothing of ours but the Rust toolchain.
env_vars=(HOME="$work/home" PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" TERM=dumb)
if [ -d "$HOME/.rustup" ]; then
    env_vars+=(RUSTUP_HOME="$HOME/.rustup" CARGO_HOME="$HOME/.cargo" PATH="$HOME/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
fi
out="$work/stdout"
(cd "$work/clone" && env -i "${env_vars[@]}" bash -c "$cmd") >"$out"
url=$(grep -E '^http://' "$out" | tail -n 1)
[ -n "$url" ] || { echo "error: the command printed no URL:" >&2; cat "$out" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/" || true)
echo "the service answers $code at $url" >&2
case "$code" in 2*|3*|404) ;; *) echo "error: $url does not answer" >&2; exit 1 ;; esac
image=$(grep -E '^[a-z0-9.:/-]+:[A-Za-z0-9_.-]+$' "$out" | head -n 1 || true)
(cd "$work/clone/hello" && "$work/home/.local/bin/lbc" destroy local >&2)
if [ -n "$image" ]; then docker rmi "$image" >/dev/null 2>&1 || true; fi
echo "ok: the README's first command works from a fresh clone" >&2
