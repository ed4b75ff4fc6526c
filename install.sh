#!/usr/bin/env bash
# Install lbc and make sure the README's first command can run on this machine:
#   1. build lbc with cargo and install it (default ~/.local/bin);
#   2. make sure a Docker engine answers: as root on Debian/Ubuntu, install Debian's
#      docker.io and start it when needed; otherwise say what to do;
#   3. make the base images of the stacks available: pulled from the public registry
#      when it is reachable, else built locally from a debootstrapped Debian (as the test
#      environment does), with the base-image catalogue (~/.config/lbc/catalog.toml)
#      pointed at them.
#
#   ./install.sh                          installs to $LBC_INSTALL_DIR, else ~/.local/bin
#   LBC_INSTALL_DIR=/usr/local/bin ./install.sh
#   LBC_INSTALL_STACKS="python node" ./install.sh   base images of these stacks (default: python)
#   LBC_INSTALL_DOCKER=0 ./install.sh     only install lbc (steps 2 and 3 skipped)
#
# Exit codes: 0 ready; 4 a tool is missing or the Docker engine cannot be reached or
# started (the message says what to do); 1 anything else.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${LBC_INSTALL_DIR:-$HOME/.local/bin}"
STACKS="${LBC_INSTALL_STACKS:-python}"
CONFIG_DIR="${XDG_CONFIG_HOME:-$HOME/.config}/lbc"

say() { printf 'install.sh: %s\n' "$*" >&2; }
fail() { # CODE MESSAGE HINT
    printf 'error: %s\n' "$2" >&2
    [ -z "${3:-}" ] || printf 'hint: %s\n' "$3" >&2
    exit "$1"
}
have() { command -v "$1" >/dev/null 2>&1; }
docker_up() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# ------------------------------------------------------------------------------ 1. lbc
have cargo || fail 4 "cargo was not found on PATH" \
    "install Rust with rustup (https://rustup.rs) or your distribution's cargo package (apt-get install cargo)"
say "building lbc (release) ..."
cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
mkdir -p "$DEST"
install -m 0755 "$TARGET_DIR/release/lbc" "$DEST/lbc.new"
mv -f "$DEST/lbc.new" "$DEST/lbc"
say "installed $("$DEST/lbc" --version) to $DEST/lbc"
case ":$PATH:" in
    *":$DEST:"*) ;;
    *) say "note: $DEST is not on your PATH; add it: export PATH=\"$DEST:\$PATH\"" ;;
esac

[ "${LBC_INSTALL_DOCKER:-1}" != 0 ] || exit 0

# ------------------------------------------------------------------------------ 2. Docker
if ! docker_up; then
    if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST}" != "unix:///var/run/docker.sock" ]; then
        fail 4 "DOCKER_HOST=$DOCKER_HOST does not answer" \
            "start the engine it names, or unset DOCKER_HOST to use this machine's engine"
    fi
    if [ "$(id -u)" -ne 0 ]; then
        if have docker; then
            fail 4 "the Docker engine does not answer" \
                "start it (\`sudo systemctl start docker\`), and make sure your user may use it (\`sudo usermod -aG docker $USER\`, then log in again); then run ./install.sh again"
        fi
        fail 4 "Docker is not installed" \
            "install the engine (Debian/Ubuntu: \`sudo apt-get install docker.io\`; elsewhere https://docs.docker.com/engine/install/), start it, then run ./install.sh again"
    fi
    if ! have dockerd && [ ! -x /usr/sbin/dockerd ]; then
        have apt-get || fail 4 "Docker is not installed and this is not a Debian-like system" \
            "install the Docker engine (https://docs.docker.com/engine/install/), start it, then run ./install.sh again"
        say "installing Debian's docker.io (apt-get) ..."
        DEBIAN_FRONTEND=noninteractive apt-get -q update >&2
        DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends docker.io >&2
    fi
    if have systemctl && [ -d /run/systemd/system ]; then
        say "starting docker (systemctl) ..."
        systemctl start docker >&2 || true
    fi
    if ! docker_up; then
        log=/var/log/lbc-dockerd.log
        say "starting dockerd in the background (log: $log) ..."
        setsid "$(command -v dockerd || echo /usr/sbin/dockerd)" >>"$log" 2>&1 </dev/null &
        for _ in $(seq 1 120); do
            docker_up && break
            sleep 0.5
        done
    fi
    docker_up || fail 4 "the Docker engine did not start" \
        "see /var/log/lbc-dockerd.log (or \`journalctl -u docker\`), fix it, then run ./install.sh again"
fi
say "Docker engine $(docker version --format '{{.Server.Version}}') answers"

# ------------------------------------------------------------------------------ 3. base images
# The images the catalogue's defaults name, per stack (see src/catalog.rs).
upstream_for() {
    case "$1" in
        python) echo "python:3.12-slim-bookworm" ;;
        node) echo "node:22-bookworm-slim" ;;
        go) echo "golang:1.23-bookworm debian:bookworm-slim" ;;
        rust) echo "rust:1-bookworm debian:bookworm-slim" ;;
        java) echo "eclipse-temurin:21-jdk eclipse-temurin:21-jre" ;;
        static) echo "busybox:1.36" ;;
        *) fail 1 "unknown stack '$1' in LBC_INSTALL_STACKS" "known stacks: python node go rust java static" ;;
    esac
}
catalog="$CONFIG_DIR/catalog.toml"
if [ -n "${LBC_CATALOG:-}" ] || [ -f "$catalog" ]; then
    say "a base-image catalogue is already set (${LBC_CATALOG:-$catalog}); keeping it (\`lbc catalog\` shows it)"
    exit 0
fi
missing=()
for stack in $STACKS; do
    for image in $(upstream_for "$stack"); do
        if docker image inspect "$image" >/dev/null 2>&1; then continue; fi
        say "pulling $image ..."
        if ! timeout 120 docker pull --quiet "$image" >/dev/null 2>&1; then
            missing+=("$stack")
            break
        fi
    done
done
if [ "${#missing[@]}" -eq 0 ]; then
    say "the base images of: $STACKS are on this machine"
    exit 0
fi
# No public registry: build the stacks' images locally from a debootstrapped Debian.
[ "$(id -u)" -eq 0 ] || fail 4 "the base images of ${missing[*]} cannot be pulled, and building them locally needs root (debootstrap)" \
    "run ./install.sh as root, or write $catalog mapping the catalogue names (\`lbc catalog\`) to images your registry serves"
say "no public registry answers: building the base images of ${missing[*]} locally (a few minutes) ..."
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
bash "$ROOT/scripts/test-env.sh" images "${missing[@]}" >"$tmp"
mkdir -p "$CONFIG_DIR"
{
    echo "# Written by lbc's install.sh: base images built locally (no public registry was"
    echo "# reachable). \`lbc catalog\` shows the mapping; edit or delete this file freely."
    cat "$tmp"
} >"$catalog.new"
mv "$catalog.new" "$catalog"
say "base images ready; catalogue written to $catalog"
