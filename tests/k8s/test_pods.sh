# Pods scheduled by Kubernetes, networked by vrouter: probes from kubelet, pod-to-pod
# HTTP, exec, and nothing left behind when they go.

# (10 pods: the 30-pod rollout in test_faults.sh is the one at scale)
test_deployment_of_10_pods_is_ready_and_leaves_nothing_behind() {
  local ips n ip peer vifs0 nhs0
  vifs0=$(vrctl vif --list --json | jq length)
  nhs0=$(vrctl nh --list --json | jq length)
  test_ns web
  agnhost_deployment web web 10
  wait_ready web web 10 600
  ips=$(pod_ips web app=web)
  expect_eq "distinct pod addresses" 10 "$(sort -u <<< "$ips" | grep -c .)"
  expect_eq "ports at the agent" 10 "$(agent_ports)"
  # each pod's vif shows its addresses, as TF's vif --list does
  ip=$(head -1 <<< "$ips")
  vrctl vif --list | grep -q "IPaddr:$ip\b" || fail "vif --list has no IPaddr:$ip"
  ip6=$(kubectl -n web get pods -l app=web -o jsonpath="{.items[?(@.status.podIP==\"$ip\")].status.podIPs[1].ip}")
  [ -n "$ip6" ] || fail "the pod has no IPv6 address"
  vrctl vif --list | grep -q "IP6addr:$ip6\b" || fail "vif --list has no IP6addr:$ip6"
  # pod to pod by pod IP: every pod asks the next one for its hostname
  peer=$(tail -1 <<< "$ips")
  for ip in $ips; do
    [ -n "$(netexec_dial "$ip" "$peer" 8080 http hostname 1 5)" ] || fail "HTTP from $ip to $peer: no answer"
    peer=$ip
  done
  # kubectl exec: apiserver -> kubelet -> containerd -> the pod; kubelet wrote the pod's
  # /etc/hosts with its name and address
  pod=$(kubectl -n web get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
  ip=$(kubectl -n web get pod "$pod" -o jsonpath='{.status.podIP}')
  kubectl -n web exec "$pod" -- /agnhost etc-hosts | grep -qE "^$ip\s+$pod\b" || fail "exec: no '$ip $pod' in the pod's /etc/hosts"
  kubectl delete namespace web --wait=true --timeout=180s >/dev/null
  wait_ports 0 30
  expect_eq "vifs after delete" "$vifs0" "$(vrctl vif --list --json | jq length)"
  expect_eq "nexthops after delete" "$nhs0" "$(vrctl nh --list --json | jq length)"
}
