#!/usr/bin/env bash
# Runs in node VM 1: brings the node up, then runs the tests (see run.sh): every test_*
# function of tests/k8s/test_*.sh, or with VRK8S_NODES > 1 of
# tests/k8s/multinode/test_*.sh once every node is Ready; only those matching the regular
# expression $1 if given.
cd "$(dirname "$0")/../.."
. cluster/node.sh
. tests/k8s/lib.sh
filter=${1:-}
nodes=${VRK8S_NODES:-1}
files=(tests/k8s/test_*.sh)
[ "$nodes" -gt 1 ] && files=(tests/k8s/multinode/test_*.sh)
trap 'stop_other_nodes' EXIT
if ! node_up || ! wait_nodes_ready "$nodes" 600; then
  k8s_dump_logs
  echo "k8s: 0 passed, 1 failed (node_up)"
  exit 1
fi
# node 1 serves node-control too (for a look from the host while the tests run:
# ip netns exec <cluster netns> curl --data-binary 'vrctl flow -l' 10.77.0.11:7071/run)
python3 cluster/node-control.py "$NODE_IP" 7071 "$PWD" 2>> "$NODE_LOGS/node-control.log" &
pass=0 failed=0 failures=()
for f in "${files[@]}"; do
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
