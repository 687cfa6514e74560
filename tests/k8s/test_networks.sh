# Networks from the API with TF's namespace semantics: isolation by annotation, custom
# networks (VirtualNetwork objects) picked by a namespace or a pod, and a clear answer for
# a network that does not exist.

# vrf_of NS NAME: the VRF the VirtualNetwork got (empty until allocated)
vrf_of() { kubectl -n "$1" get vn "$2" -o jsonpath='{.status.vrf}' 2>/dev/null; }
# pod_vrf NS POD: the VRF of the pod's vif in the kernel
pod_vrf() {
  local ip; ip=$(kubectl -n "$1" get pod "$2" -o jsonpath='{.status.podIP}')
  vrctl vif --list --json | jq -r --arg ip "$ip" '.[] | select(.ip == $ip) | .vrf'
}
# make_vn NS NAME: a VirtualNetwork (its VRF comes from the agents)
make_vn() {
  kubectl apply -f - >/dev/null <<EOF2
apiVersion: vrouter.io/v1alpha1
kind: VirtualNetwork
metadata: {name: $2, namespace: $1}
spec: {}
EOF2
}
first_pod() { kubectl -n "$1" get pods -l "app=$2" -o jsonpath='{.items[0].metadata.name}'; }
# dial FROM_IP TO_IP: what agnhost at FROM_IP gets back when it asks TO_IP:8080 for its
# hostname (one try); empty when it cannot connect
dial() {
  curl -sf --max-time 10 "http://$1:8080/dial?request=hostname&host=$2&port=8080&protocol=http&tries=1" \
    | jq -r '.responses[0] // empty'
}

test_isolated_namespace_gets_its_own_network_live() {
  local t0 vrf iso1 iso2 open1 ips
  test_ns open
  agnhost_deployment open web 1
  test_ns iso
  # the annotation on a live namespace: the agent makes its network, allocates a VRF, and
  # the VRF's routes are in the kernel
  t0=$(date +%s.%N)
  kubectl annotate namespace iso opencontrail.org/isolation=true >/dev/null
  until vrf=$(vrf_of iso k8s-iso-pod-network) && [ -n "$vrf" ] && vrctl rt --dump "$vrf" 2>/dev/null | grep -q '/32'; do
    (( $(echo "$(date +%s.%N) - $t0 > 60" | bc) )) && fail "no VRF for namespace iso in the kernel after 60s"
    sleep 0.1
  done
  printf '    figure: namespace annotation -> VRF %s in the kernel: %.2fs\n' "$vrf" "$(echo "$(date +%s.%N) - $t0" | bc)"
  [ "$vrf" != 1 ] || fail "the isolated network got the default network's VRF"
  agnhost_deployment iso web 2
  wait_ready iso web 2 600
  wait_ready open web 1 600
  ips=($(pod_ips iso app=web)); open1=$(pod_ips open app=web)
  for p in $(kubectl -n iso get pods -o jsonpath='{.items[*].metadata.name}'); do
    expect_eq "VRF of iso pod $p" "$vrf" "$(pod_vrf iso "$p")"
  done
  vrctl rt --dump "$vrf" | grep -q "${ips[0]}/32" || fail "rt --dump $vrf lacks ${ips[0]}/32"
  # inside the isolated network: reachable
  [ -n "$(dial "${ips[0]}" "${ips[1]}")" ] || fail "iso pod -> iso pod"
  # from the default network: no connection opens
  [ -z "$(dial "$open1" "${ips[0]}")" ] || fail "a default-network pod reached an isolated pod"
}

test_custom_network_for_a_namespace_and_for_a_pod() {
  local vrf
  test_ns team
  make_vn team blue
  kubectl annotate namespace team opencontrail.org/network=blue >/dev/null
  agnhost_deployment team web 1
  wait_ready team web 1 600
  vrf=$(vrf_of team blue)
  [ -n "$vrf" ] && [ "$vrf" != 1 ] || fail "VirtualNetwork team/blue has VRF '$vrf'"
  expect_eq "VRF of the team pod" "$vrf" "$(pod_vrf team "$(first_pod team web)")"
  # a pod of another namespace picks the network itself (TF's JSON form)
  test_ns guest
  kubectl -n guest run one --image="$AGNHOST_IMAGE" --image-pull-policy=Never \
    --annotations='opencontrail.org/network={"domain":"default-domain","project":"k8s-team","name":"blue"}' \
    -- netexec --http-port=8080 >/dev/null
  kubectl -n guest wait pod/one --for=condition=Ready --timeout=600s >/dev/null || fail "pod guest/one not Ready"
  expect_eq "VRF of guest/one" "$vrf" "$(pod_vrf guest one)"
  kubectl get vn -A | grep -q "^team *blue *$vrf " || fail "kubectl get vn: $(kubectl get vn -A)"
}

test_missing_network_is_reported_and_nothing_leaks() {
  local ports0 t0 msg
  ports0=$(agent_ports)
  test_ns lost
  kubectl annotate namespace lost opencontrail.org/network=nowhere >/dev/null
  kubectl -n lost run one --image="$AGNHOST_IMAGE" --image-pull-policy=Never -- netexec --http-port=8080 >/dev/null
  # kubelet's event carries the CNI error, which carries the agent's reason
  t0=$SECONDS
  until msg=$(kubectl -n lost get events --field-selector involvedObject.name=one -o jsonpath='{.items[*].message}') \
      && [[ $msg == *"network lost/nowhere does not exist"* ]]; do
    (( SECONDS - t0 > 300 )) && fail "no event naming the missing network; events: $msg"
    sleep 2
  done
  expect_eq "ports (no leak)" "$ports0" "$(agent_ports)"
  expect_eq "pod vifs (nothing half-made)" "$ports0" "$(virtual_vifs)"
  # the network appears: kubelet's next try succeeds
  make_vn lost nowhere
  kubectl -n lost wait pod/one --for=condition=Ready --timeout=600s >/dev/null || fail "pod lost/one not Ready once its network exists"
  expect_eq "VRF of lost/one" "$(vrf_of lost nowhere)" "$(pod_vrf lost one)"
}
