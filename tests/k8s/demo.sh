#!/usr/bin/env bash
# `make demo`, inside node VM 1 (tests/k8s/run.sh boots it, and node 2 beside it): the
# nodes join the cluster, Kubernetes schedules agnhost pods onto both, vrouter networks
# them, they talk (across the nodes through MPLSoUDP tunnels), and the tables TF
# operators know show them.
cd "$(dirname "$0")/../.."
. cluster/node.sh
. tests/k8s/lib.sh
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

trap stop_other_nodes EXIT
step "nodes: containerd, vrouter.ko, vrouter-cni in /opt/cni/bin, kubelet, vrouter-agent"
node_up && wait_nodes_ready "${VRK8S_NODES:-1}" 600 || { k8s_dump_logs; exit 1; }
run kubectl get nodes -o wide

step "a Deployment of 3 agnhost pods (HTTP probes from kubelet, through vrouter)"
test_ns demo
agnhost_deployment demo web 3
wait_ready demo web 3 600
run kubectl -n demo get pods -o wide

step "an isolated namespace (TF's opencontrail.org/isolation): its own network and VRF"
test_ns demo-iso opencontrail.org/isolation=true
agnhost_deployment demo-iso web 1
wait_ready demo-iso web 1 600
run kubectl get virtualnetworks -A
run kubectl -n demo-iso get pods -o wide

step "pod to pod: each pod asks the next for its hostname (agnhost /dial)"
ips=($(pod_ips demo app=web))
for i in 0 1 2; do
  from=${ips[i]} to=${ips[(i + 1) % 3]}
  printf '%s -> %s: %s\n' "$from" "$to" \
    "$(curl -sf --max-time 5 "http://$from:8080/dial?request=hostname&host=$to&port=8080&protocol=http&tries=1" | jq -c .responses)"
done
iso=$(pod_ips demo-iso app=web)
printf '%s -> %s (isolated, another network): %s\n' "${ips[0]}" "$iso" \
  "$(curl -sf --max-time 5 "http://${ips[0]}:8080/dial?request=hostname&host=$iso&port=8080&protocol=http&tries=1" | jq -c '.errors // .responses')"
run kubectl -n demo exec "$(kubectl -n demo get pods -o jsonpath='{.items[0].metadata.name}')" -- /agnhost etc-hosts

step "a Service without kube-proxy: new connections to its cluster IP spread over the 3 pods"
kubectl -n demo expose deployment web --port=80 --target-port=8080 >/dev/null
run kubectl -n demo get svc web
vip=$(kubectl -n demo get svc web -o jsonpath='{.spec.clusterIP}')
until [ "$(kubectl -n demo get endpointslices -l kubernetes.io/service-name=web -o json | jq '[.items[].endpoints[]?] | length')" = 3 ]; do sleep 0.5; done
sleep 1   # the agent's pass after the slice
for i in 1 2 3 4 5 6; do
  printf '%s -> %s:80: %s\n' "${ips[0]}" "$vip" \
    "$(curl -sf --max-time 5 "http://${ips[0]}:8080/dial?request=hostname&host=$vip&port=80&protocol=http&tries=1" | jq -c .responses)"
done
echo "(the flows: each connection to the VIP is DNATed to a pod, its replies SNATed back)"
vrctl flow --list | grep -B1 -A2 "$vip" | head -24

if [ "${VRK8S_NODES:-1}" -gt 1 ]; then
  step "across nodes: a pod on each node, the overlay between them (MPLSoUDP over the fabric NIC)"
  agnhost_pod demo there 2
  agnhost_pod demo here 1
  wait_pods demo 300 here there
  run kubectl -n demo get pods -o wide
  here=$(pod_ip demo here) there=$(pod_ip demo there) there6=$(pod_ip demo there 1)
  timeout 30 tcpdump -i eth0 -nn -c 4 "udp port 6635" 2>/dev/null &
  sleep 2
  for to in "$there" "$there6"; do
    printf '%s (node 1) -> %s (node 2): %s\n' "$here" "$to" \
      "$(curl -sf --max-time 10 -G "http://$here:8080/dial" --data-urlencode "request=hostname" --data-urlencode "host=$to" \
        --data-urlencode port=8080 --data-urlencode protocol=http --data-urlencode tries=1 | jq -c .responses)"
  done
  wait
  run vrctl nh --list
  run vrctl mpls --dump
  echo "(node 2's view, through its node-control)"
  on_node 2 'vrctl vif --list; vrctl rt --dump 1 | head -20'
fi

step "the agent's ports, and the kernel's tables"
curl -sf http://127.0.0.1:9091/ports | jq -r '.[] | "\(.["vm-name"])  \(.["ip-address"])  \(.["host-ifname"])  vif \(.vif)  nh \(.nh)  \(.state)"'
run vrctl vif --list
run vrctl rt --dump 1
run vrctl rt --dump 0
run vrctl nh --list

step "delete the namespaces: ports, vifs, nexthops and routes go"
kubectl delete namespace demo demo-iso --wait=true --timeout=180s >/dev/null
wait_ports 0 60
run vrctl vif --list
