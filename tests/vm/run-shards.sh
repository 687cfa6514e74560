#!/usr/bin/env bash
# The in-VM tests split over N VMs that run at once (tests/vm/run-all.sh's VR_SHARD): one
# TCG guest keeps about 1.2 of the host's cores busy, two keep both.
#   tests/vm/run-shards.sh N [FILTER]
# Each VM's output is printed when all are done, in shard order; the exit status is 0
# only if every shard passed. A FILTER runs in one VM (a shard could match nothing).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
shards=$1 filter=${2:-}
[ -n "$filter" ] && shards=1
mkdir -p "$top/out"
pids=()
for i in $(seq 0 $((shards - 1))); do
  VR_VM_LOG=$top/out/vm-console-$i.log "$top/qemu/vm-run.sh" \
    "VR_SHARD=$i/$shards tests/vm/run-all.sh $(printf '%q' "$filter")" > "$top/out/test-vm-$i.log" 2>&1 &
  pids+=($!)
done
rc=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || rc=1
  echo "---- VM $((i + 1)) of $shards ----"
  cat "$top/out/test-vm-$i.log"
done
exit "$rc"
