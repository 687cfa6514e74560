#!/usr/bin/env bash
# Pod create-to-Ready under one kubelet, one boot: 30 agnhost pods (HTTP probes) networked
# by vrouter, then the same 30 with the reference bridge + host-local plugins. Runs in node
# VM 1 (make bench-k8s: K8S_GUEST=tests/bench/k8s-pod-ready.sh tests/k8s/run.sh).
# Times are from each pod's creationTimestamp to its Ready condition (the API's clock,
# one-second resolution), p50 and p99 over the 30.
cd "$(dirname "$0")/../.."
. cluster/node.sh
. tests/k8s/lib.sh
N=${N:-30}
node_up || { k8s_dump_logs; exit 1; }

# ready_times NS: seconds from creation to Ready of every pod in NS, one a line, sorted
ready_times() {
  kubectl -n "$1" get pods -o json | jq -r '.items[] | ((.status.conditions[] | select(.type == "Ready") |
    .lastTransitionTime | fromdate) - (.metadata.creationTimestamp | fromdate))' | sort -n
}
# pct P: the P-th percentile (nearest rank) of the numbers on stdin
pct() { awk -v p="$1" '{v[NR] = $1} END {i = int((p / 100) * NR + 0.999); if (i < 1) i = 1; print v[i]}'; }

measure() { # measure LABEL NS
  test_ns "$2"
  local t0=$SECONDS
  agnhost_deployment "$2" web "$N"
  wait_ready "$2" web "$N" 1200
  local times; times=$(ready_times "$2")
  printf '%-28s %3d pods  all Ready after %4ds  create->Ready p50 %3ss  p99 %3ss\n' "$1" "$N" \
    $((SECONDS - t0)) "$(pct 50 <<< "$times")" "$(pct 99 <<< "$times")"
  eval "P50_$2=$(pct 50 <<< "$times") P99_$2=$(pct 99 <<< "$times")"
  kubectl delete namespace "$2" --wait=true --timeout=300s >/dev/null
}

measure "vrouter-cni + agent" vr
wait_ports 0 60
# the reference plugins: containerd takes the first config of /etc/cni/net.d by name
install -m 0755 /usr/lib/cni/bridge /usr/lib/cni/host-local /opt/cni/bin/
cat > /etc/cni/net.d/05-bridge.conflist <<EOC
{"cniVersion": "1.0.0", "name": "bench-bridge", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]}
EOC
sleep 2   # containerd reloads its CNI config on the file event
measure "bridge + host-local" br
rm -f /etc/cni/net.d/05-bridge.conflist
awk -v a="$P50_vr" -v b="$P50_br" -v c="$P99_vr" -v d="$P99_br" \
  'BEGIN {printf "vrouter/bridge ratio: p50 %.2f  p99 %.2f\n", (b ? a / b : 0), (d ? c / d : 0)}'
