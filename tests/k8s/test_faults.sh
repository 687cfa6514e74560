# Faults on a live node: the agent killed during a rollout, kube-apiserver and kubelet
# restarted. Every pod ends Ready with an address of its own, and nothing leaks.

# host_control POST PATH: asks the host (cluster/host-control.py) for a control-plane fault
host_control() { curl -sf -X POST --max-time 300 "http://$VRK8S_API_IP:7070$1" >/dev/null; }

# kill -9 the agent once ten pods hold ports: ADDs are in flight (the CNI polls the agent
# while it is down) and more pods are being bound.
test_agent_killed_during_a_rollout_of_30_pods() {
  test_ns roll
  agnhost_deployment roll web 30
  local t0=$SECONDS
  until [ "$(agent_ports)" -ge 10 ]; do (( SECONDS - t0 > 300 )) && fail "no 10 ports in 300s"; sleep 0.2; done
  kill -9 "$(cat "$NODE_RUN/agent.pid")"
  sleep 2
  _node_agent
  wait_ready roll web 30 900
  expect_eq "distinct pod addresses" 30 "$(pod_ips roll app=web | sort -u | grep -c .)"
  no_leaks 30
  kubectl delete namespace roll --wait=true --timeout=300s >/dev/null
  no_leaks 0
}

test_apiserver_and_kubelet_restarts_lose_nothing() {
  test_ns rs
  agnhost_deployment rs web 6
  wait_ready rs web 6 600
  # the apiserver goes away and comes back while the deployment grows
  scale rs web 10
  host_control /restart/kube-apiserver || fail "restarting kube-apiserver"
  wait_ready rs web 10 600
  no_leaks 10
  # kubelet restarts: it finds its pods running, and new ones still get ports
  node_restart kubelet
  scale rs web 14
  wait_ready rs web 14 600
  expect_eq "distinct pod addresses" 14 "$(pod_ips rs app=web | sort -u | grep -c .)"
  no_leaks 14
  kubectl delete namespace rs --wait=true --timeout=300s >/dev/null
  no_leaks 0
}

# The agent restarts while kube-apiserver is down: it starts from its saved pool and
# records, its pods keep their ports and keep forwarding, and once the API is back it
# catches up (new pods get ports, nothing leaks).
test_agent_restarts_while_the_apiserver_is_down() {
  test_ns apidown
  agnhost_deployment apidown web 3
  wait_ready apidown web 3 600
  local ips ip logsize
  ips=($(pod_ips apidown app=web))
  host_control /stop/kube-apiserver || fail "stopping kube-apiserver"
  logsize=$(stat -c %s "$NODE_LOGS/agent.log")
  node_restart agent
  wait_ports 3 60
  sleep 5   # several resync passes without the API: nothing may be released
  expect_eq "ports with the API down" 3 "$(agent_ports)"
  for ip in "${ips[@]}"; do
    curl -sf --max-time 5 "http://$ip:8080/hostname" >/dev/null || fail "pod $ip unreachable with the API down"
  done
  tail -c +"$((logsize + 1))" "$NODE_LOGS/agent.log" | grep -q "using the pod CIDRs of the last run" \
    || fail "the agent did not start from its saved pool"
  host_control /start/kube-apiserver || fail "starting kube-apiserver"
  scale apidown web 5
  wait_ready apidown web 5 600
  no_leaks 5
  kubectl delete namespace apidown --wait=true --timeout=300s >/dev/null
  no_leaks 0
}
