#!/usr/bin/env bash
# The kubelet half of `make soak` (inside node VM 1, run by tests/k8s/run.sh): a
# Deployment scaled up and down SOAK_K8S_ROUNDS times by SOAK_K8S_PODS pods, so that many
# pods go through kubelet, containerd, the CNI and the agent's pod watch, while two
# long-lived pods answer each other. Afterwards exactly the long-lived pods' state is
# left (ports, addresses, vifs, nexthops, routes, host ends), the agent's RSS is flat and
# the kernel's memory is back near its baseline. Prints the figures.
cd "$(dirname "$0")/../.."
. cluster/node.sh
. tests/k8s/lib.sh
ROUNDS=${SOAK_K8S_ROUNDS:-8} PODS=${SOAK_K8S_PODS:-25}

agent_rss() { awk '/^VmRSS:/ {print $2}' "/proc/$(cat "$NODE_RUN/agent.pid")/status"; }
kmem() { awk '/^SUnreclaim:|^VmallocUsed:/ {s += $2} END {print s}' /proc/meminfo; }
agent_nhs() { vrctl nh --list --json | jq '[.[] | select(.id >= 100)] | length'; }
routes() { vrctl rt --dump 1 --json | jq length; }
state() { echo "ports=$(agent_ports) vifs=$(virtual_vifs) nhs=$(agent_nhs) routes=$(routes)"; }

node_up || { k8s_dump_logs; exit 1; }
test_ns soak
agnhost_deployment soak keep 2
wait_ready soak keep 2 600
keep=($(pod_ips soak app=keep))
# one warm-up round, then the baseline
agnhost_deployment soak churn "$PODS"
wait_ready soak churn "$PODS" 900
scale soak churn 0
wait_ports 2 300
sleep 5
base_state=$(state) base_rss=$(agent_rss) base_kmem=$(kmem)
echo "k8s-soak: baseline $base_state kmem=${base_kmem}kB agent_rss=${base_rss}kB"

start=$SECONDS lost=0
for r in $(seq "$ROUNDS"); do
  scale soak churn "$PODS"
  wait_ready soak churn "$PODS" 900
  # the long-lived pods still talk while the churn comes and goes
  n=$(curl -sf --max-time 10 "http://${keep[0]}:8080/dial?request=hostname&host=${keep[1]}&port=8080&protocol=http&tries=1" | jq -r '.responses | length')
  [ "$n" = 1 ] || lost=$((lost + 1))
  scale soak churn 0
  wait_ports 2 300
  echo "k8s-soak: round $r/$ROUNDS ($((r * PODS)) pods) after $((SECONDS - start))s: $(state) kmem=$(kmem)kB agent_rss=$(agent_rss)kB"
done
sleep 5
end_state=$(state) end_rss=$(agent_rss) end_kmem=$(kmem)
echo "k8s-soak: $((ROUNDS * PODS)) pods through kubelet in $((SECONDS - start))s; keep-alive checks failed: $lost"
echo "k8s-soak: after $end_state kmem=${end_kmem}kB agent_rss=${end_rss}kB"
expect_eq "keep-alive checks that failed" 0 "$lost"
expect_eq "tables after the churn" "$base_state" "$end_state"
no_leaks 2
[ $((end_rss * 100 / base_rss)) -le 120 ] || fail "agent RSS grew from $base_rss to $end_rss kB"
[ $((end_kmem - base_kmem)) -lt 8192 ] || fail "kernel memory grew by $((end_kmem - base_kmem)) kB"
kubectl delete namespace soak --wait=true --timeout=300s >/dev/null
wait_ports 0 120
echo "k8s-soak: ok"
