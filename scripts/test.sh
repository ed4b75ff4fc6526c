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
# The Kubernetes scenarios once more with helm v3 (lbc passes --atomic instead of v4's
# --rollback-on-failure, and reads release labels from the storage Secret; the backing
# services' migration hook, #10).
if [ -n "${LBC_TEST_HELM3:-}" ] && [ $# -eq 0 ]; then
  echo "== the Kubernetes scenarios with helm v3 ($("$LBC_TEST_HELM3" version --short))"
  LBC_TEST_HELM="$LBC_TEST_HELM3" cargo test --locked --test cli -- k8s_deploy \
    k8s_instances::fail_fast k8s_instances::each_instance \
    k8s_services::provisioned k8s_services::an_external
fi
cargo test --locked "$@"
