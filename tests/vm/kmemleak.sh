#!/usr/bin/env bash
# kmemleak around the debug kernel's test run: `start` forgets what the kernel reported
# before the tests; `check` (after the last test unloaded the module) scans and fails on
# any unreferenced object allocated by vrouter code: a frame naming vrouter, or a raw
# address (one that no longer resolves because it was in the unloaded module).
set -u
k=/sys/kernel/debug/kmemleak
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null
case ${1:-} in
  start)
    # no automatic scans: one walks all of memory holding kmemleak's locks, which in TCG
    # stalls every allocation for minutes; `check` scans once, at the end
    if echo scan=off > $k 2>/dev/null && echo clear > $k; then echo "kmemleak: cleared"; else echo "kmemleak: off in this kernel"; fi ;;
  check)
    rmmod vrouter 2>/dev/null
    sleep 5
    echo scan > $k 2>/dev/null || { echo "kmemleak: off in this kernel"; exit 0; }
    sleep 5; echo scan > $k
    # one report per "unreferenced object" line; keep those with a frame of ours
    ours=$(awk '/^unreferenced object/ { if (ours) printf "%s", block; block = ""; ours = 0 }
      { block = block $0 "\n" }
      /vrouter|[] ]0xffffffff[0-9a-f]+ *$/ { ours = 1 }
      END { if (ours) printf "%s", block }' $k)
    total=$(grep -c '^unreferenced object' $k)
    echo "kmemleak: $total unreferenced objects after the tests, $(grep -c '^unreferenced object' <<< "$ours") of them vrouter's"
    if [ -n "$ours" ]; then echo "$ours" | head -60; exit 1; fi ;;
  *) echo "usage: $0 start|check" >&2; exit 64 ;;
esac
