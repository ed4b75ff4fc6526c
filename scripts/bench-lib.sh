# Shared set-up of the benchmark scripts (sourced, not run): hyperfine from Debian's
# packages, copier from PyPI in a cached venv, and a release build of lbc.
# Needs BENCH_NAME set by the caller; sets ROOT, LBC and, after need_copier, COPIER.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_DIR="${LBC_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lbc-bench}"
COPIER_VERSION="${LBC_BENCH_COPIER_VERSION:-9.4.1}"

log() { printf '[%s] %s\n' "$BENCH_NAME" "$*" >&2; }

need_hyperfine() {
  if ! command -v hyperfine >/dev/null; then
    log "installing hyperfine"
    apt-get install -y -qq hyperfine >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
  fi
}

need_copier() {
  local venv="$BENCH_DIR/copier-$COPIER_VERSION"
  if [ ! -x "$venv/bin/copier" ]; then
    log "creating $venv with copier==$COPIER_VERSION (PyPI)"
    mkdir -p "$BENCH_DIR"
    python3 -m venv "$venv"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/pip" install -q "copier==$COPIER_VERSION"
  fi
  COPIER="$venv/bin/copier"
}

build_lbc() {
  cargo build --release --locked -q --manifest-path "$ROOT/Cargo.toml"
  LBC="$ROOT/target/release/lbc"
}
