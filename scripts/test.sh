#!/usr/bin/env bash
# The whole test suite, on a fresh machine too: provisions the real tools the tests drive
# (scripts/test-env.sh: Docker engine, registry, base images, helm, kubectl, the Kubernetes
# API emulator), then runs `cargo test` with that environment. Extra arguments go to
# `cargo test` (e.g. `bash scripts/test.sh core_docker`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

env_file="$(mktemp)"
trap 'rm -f "$env_file"' EXIT
bash "$ROOT/scripts/test-env.sh" > "$env_file"
# shellcheck disable=SC1090
source "$env_file"

cd "$ROOT"
cargo test --locked "$@"
