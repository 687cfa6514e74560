#!/usr/bin/env bash
# make test's tiers after the host checks: the debug tier starts first, in the background
# (its kernel may still be building at the lowest priority; kmod-debug waits for it),
# beside the VM tier's shards and then the Kubernetes tiers. Every tier runs whatever
# another's result; the debug tier's output is printed when it is done, at the end.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mkdir -p out
make -s test-debug > out/test-debug.log 2>&1 &
debug=$!
failed=()
make test-vm || failed+=(test-vm)
make test-k8s || failed+=(test-k8s)
wait "$debug" || failed+=(test-debug)
echo "---- test-debug (ran beside the others) ----"
cat out/test-debug.log
if (( ${#failed[@]} )); then
  echo "failed tiers: ${failed[*]}"
  exit 1
fi
echo "every tier passed"
