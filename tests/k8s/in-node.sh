#!/usr/bin/env bash
# Runs in node VM $VRK8S_NODE: brings the node up, then runs the tests (see run.sh).
cd "$(dirname "$0")/../.."
. cluster/node.sh
. tests/k8s/lib.sh
filter=${1:-}
if ! node_up; then
  k8s_dump_logs
  echo "k8s: 0 passed, 1 failed (node_up)"
  exit 1
fi
pass=0 failed=0 failures=()
for f in tests/k8s/test_*.sh; do
  for t in $(bash -c ". $f; declare -F" | awk '$3 ~ /^test_/ {print $3}'); do
    [ -n "$filter" ] && ! [[ $t =~ $filter ]] && continue
    start=$SECONDS
    if (. "$f"; set -e; "$t"); then
      pass=$((pass + 1)); printf 'ok   %-50s %4ds\n' "$t" $((SECONDS - start))
    else
      failed=$((failed + 1)); failures+=("$t"); printf 'FAIL %s\n' "$t"
    fi
    k8s_cleanup
  done
done
[ "$failed" = 0 ] || { echo "failed: ${failures[*]}"; k8s_dump_logs; }
echo "k8s: $pass passed, $failed failed"
[ "$failed" = 0 ] && [ "$pass" -gt 0 ]
