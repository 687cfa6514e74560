#!/usr/bin/env bash
# The Kubernetes tests: the control plane on the host (cluster/control-plane.sh), node 1 as
# a VM on its bridge; inside it, node_up (cluster/node.sh) then every tests/k8s/test_*.sh
# function (or those matching the regular expression $1), "N passed, N failed" at the end.
#   tests/k8s/run.sh [FILTER]
# K8S_GUEST runs another script in the node instead (make demo: tests/k8s/demo.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/cluster/env.sh"
cp=$top/cluster/control-plane.sh
trap 'bash "$cp" down' EXIT
bash "$cp" up
bash "$cp" tap 1
VR_VM_NET="$VRK8S_NETNS $(tap_name 1) 52:54:00:77:00:01" VR_VM_MEM=${VR_VM_MEM:-4G} VR_VM_LOG=$top/out/k8s-node1-console.log \
  "$top/qemu/vm-run.sh" "VRK8S_CACHE=$VRK8S_CACHE VRK8S_NODE=1 bash ${K8S_GUEST:-tests/k8s/in-node.sh} $(printf %q "${1:-}")"
