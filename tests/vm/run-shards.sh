#!/usr/bin/env bash
# The in-VM tests split over N VMs that run at once (tests/vm/run-all.sh's VR_SHARD): one
# TCG guest keeps about 1.2 of the host's cores busy, two keep both (three slowed every
# test about threefold, and timing-sensitive ones failed).
#   tests/vm/run-shards.sh N [FILTER [CMD...]]
# CMD, when given, runs in the first VM slot that frees up (make test runs the debug tier
# there). The outputs are printed when all are done, in order; the exit status is 0 only
# if every one passed. A FILTER runs in one VM (a shard could match nothing).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
shards=$1 filter=${2:-}
shift; shift || true
[ -n "$filter" ] && shards=1
mkdir -p "$top/out"
logs=() pids=()
for i in $(seq 0 $((shards - 1))); do
  VR_VM_LOG=$top/out/vm-console-$i.log "$top/qemu/vm-run.sh" \
    "VR_SHARD=$i/$shards tests/vm/run-all.sh $(printf '%q' "$filter")" > "$top/out/test-vm-$i.log" 2>&1 &
  pids+=($!) logs+=("$top/out/test-vm-$i.log")
done
if [ $# -gt 0 ]; then
  wait -n "${pids[@]}"
  "$@" > "$top/out/test-vm-then.log" 2>&1 &
  pids+=($!) logs+=("$top/out/test-vm-then.log")
fi
rc=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || rc=1
  echo "---- $(basename "${logs[$i]}" .log) ----"
  cat "${logs[$i]}"
done
exit "$rc"
