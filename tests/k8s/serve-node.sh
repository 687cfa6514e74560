#!/usr/bin/env bash
# Runs in node VM $VRK8S_NODE (2 and up) of a multi-node run (tests/k8s/run.sh with
# K8S_NODES > 1): brings the node up, then serves cluster/node-control.py on its fabric
# address so that the tests in node 1 can look at and act on this node, until they are
# done (POST /exit).
cd "$(dirname "$0")/../.."
. cluster/node.sh
. tests/k8s/lib.sh
if ! node_up; then
  k8s_dump_logs
  exit 1
fi
python3 cluster/node-control.py "$NODE_IP" 7071 "$PWD" 2>> "$NODE_LOGS/node-control.log"
rc=$?
node_down
exit $rc
