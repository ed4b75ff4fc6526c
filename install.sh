#!/usr/bin/env bash
# Build lbc with cargo and install it into a bin directory on PATH.
#   ./install.sh                 installs to $LBC_INSTALL_DIR, else ~/.local/bin
#   LBC_INSTALL_DIR=/usr/local/bin ./install.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${LBC_INSTALL_DIR:-$HOME/.local/bin}"

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo was not found on PATH" >&2
  echo "hint: install Rust with rustup (https://rustup.rs) or your distribution's cargo package" >&2
  exit 4
fi

echo "building lbc (release) ..." >&2
cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"
mkdir -p "$DEST"
install -m 0755 "$ROOT/target/release/lbc" "$DEST/lbc.new"
mv -f "$DEST/lbc.new" "$DEST/lbc"
echo "installed $("$DEST/lbc" --version) to $DEST/lbc" >&2

case ":$PATH:" in
  *":$DEST:"*) ;;
  *) echo "note: $DEST is not on your PATH; add it: export PATH=\"$DEST:\$PATH\"" >&2 ;;
esac
if ! command -v docker >/dev/null 2>&1; then
  echo "note: lbc drives Docker; install the Docker engine to build and run services (\`lbc doctor\` checks)" >&2
fi
