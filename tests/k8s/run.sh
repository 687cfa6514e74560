#!/usr/bin/env bash
# The Kubernetes tests: the control plane on the host (cluster/control-plane.sh), node 1 as
# a VM on its bridge; inside it, node_up (cluster/node.sh) then the tests (see
# tests/k8s/in-node.sh), "N passed, N failed" at the end.
#   tests/k8s/run.sh [FILTER]
# K8S_NODES=N (2 or 3) boots nodes 2..N beside node 1 (tests/k8s/serve-node.sh) and runs
# the multi-node tests, tests/k8s/multinode/test_*.sh, instead of the single-node ones.
# K8S_GUEST runs another script in node 1 instead (make demo: tests/k8s/demo.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/cluster/env.sh"
nodes=${K8S_NODES:-1}
(( nodes >= 1 && nodes <= VRK8S_MAX_NODES )) || { echo "K8S_NODES: 1 to $VRK8S_MAX_NODES" >&2; exit 64; }
# a filter that names no test of this run's set: nothing to boot
if [ -n "${1:-}" ] && [ -z "${K8S_GUEST:-}" ]; then
  files=("$top"/tests/k8s/test_*.sh)
  (( nodes > 1 )) && files=("$top"/tests/k8s/multinode/test_*.sh)
  if ! for f in "${files[@]}"; do bash -c ". $f; declare -F"; done | awk '{print $3}' | grep -qE -- "$1"; then
    echo "k8s ($nodes node(s)): no test matches '$1'"
    exit 0
  fi
fi
cp=$top/cluster/control-plane.sh
trap 'bash "$cp" down' EXIT
bash "$cp" up

# node_vm N SCRIPT...: node N's VM, its console in out/k8s-node<N>-console.log
node_vm() {
  local n=$1; shift
  bash "$cp" tap "$n"
  VR_VM_NET="$VRK8S_NETNS $(tap_name "$n") 52:54:00:77:00:0$n" VR_VM_MEM=${VR_VM_MEM:-4G} \
    VR_VM_LOG=$top/out/k8s-node$n-console.log \
    "$top/qemu/vm-run.sh" "VRK8S_CACHE=$VRK8S_CACHE VRK8S_NODE=$n VRK8S_NODES=$nodes $*"
}

others=()
for n in $(seq 2 "$nodes"); do
  node_vm "$n" bash tests/k8s/serve-node.sh > "$top/out/k8s-node$n.log" 2>&1 &
  others+=($!)
done
rc=0
node_vm 1 bash "${K8S_GUEST:-tests/k8s/in-node.sh}" "$(printf %q "${1:-}")" || rc=$?
# then the others: POST /exit to their node-control (node 1 does it too when its tests
# end; this covers a node 1 that failed early), a VM that does not end within 3 minutes
# is stopped with the namespace (control-plane.sh down)
for n in $(seq 2 "$nodes"); do
  ip netns exec "$VRK8S_NETNS" curl -s --max-time 5 -X POST "http://$(node_ip "$n"):7071/exit" >/dev/null || true
done
for i in "${!others[@]}"; do
  n=$((i + 2)) t0=$SECONDS
  while kill -0 "${others[i]}" 2>/dev/null && (( SECONDS - t0 < 180 )); do sleep 1; done
  kill -0 "${others[i]}" 2>/dev/null && { echo "[k8s] node $n's VM did not stop: stopping the cluster" >&2; bash "$cp" down; }
  if ! wait "${others[i]}"; then
    echo "[k8s] node $n's VM failed (out/k8s-node$n.log):" >&2
    tail -n 60 "$top/out/k8s-node$n.log" >&2
    rc=1
  fi
done
exit "$rc"
