#!/usr/bin/env bash
# make test's tiers after the host checks: the VM tests over two VMs at once, the debug
# tier taking the first VM slot that frees up (its kernel may still be building at the
# lowest priority: kmod-debug waits for it), then the Kubernetes tiers. Every tier runs
# whatever another's result.
set -uo pipefail
cd "$(dirname "$0")/.."
failed=()
make -s kmod tools || exit 1
tests/vm/run-shards.sh 2 '' make -s test-debug || failed+=("test-vm or test-debug")
make test-k8s || failed+=(test-k8s)
if (( ${#failed[@]} )); then
  echo "failed: ${failed[*]}"
  exit 1
fi
echo "every tier passed"
