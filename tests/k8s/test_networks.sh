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
# hostname_via FROM-IP TO-IP: the hostname agnhost at FROM-IP gets from TO-IP over TCP in
# one try; empty when it cannot connect
hostname_via() { netexec_dial "$1" "$2" 8080 http hostname 1 10; }

test_isolated_namespace_gets_its_own_network_live() {
  local t0 vrf iso1 iso2 open1 ips
  test_ns open
  agnhost_deployment open web 1
  test_ns iso
  # the annotation on a live namespace: the agent makes its network, allocates a VRF, and
  # the VRF's routes are in the kernel. Timed from the moment kubectl has the change
  # accepted to the first route of that VRF, as the kernel's route monitor reports it.
  local mon=/tmp/rt-monitor.$$
  vrctl rt --monitor | while read -r l; do echo "$(date +%s.%N) $l"; done > "$mon" &
  local monpid=$!
  sleep 0.5   # the monitor has joined its multicast group
  kubectl annotate namespace iso opencontrail.org/isolation=true >/dev/null
  t0=$(date +%s.%N)
  until vrf=$(vrf_of iso k8s-iso-pod-network) && [ -n "$vrf" ] && grep -q "\"op\":\"add\",\"vrf\":$vrf," "$mon"; do
    (( $(echo "$(date +%s.%N) - $t0 > 60" | bc) )) && fail "no route of namespace iso's VRF in the kernel after 60s"
    sleep 0.2
  done
  kill "$monpid" 2>/dev/null; pkill -f 'vrctl rt --monitor' || true
  printf '    figure: namespace annotation -> VRF %s in the kernel: %.2fs\n' "$vrf" \
    "$(echo "$(grep -m1 "\"op\":\"add\",\"vrf\":$vrf," "$mon" | cut -d' ' -f1) - $t0" | bc)"
  vrctl rt --dump "$vrf" | grep -q '/32' || fail "rt --dump $vrf has no /32 route"
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
  [ -n "$(hostname_via "${ips[0]}" "${ips[1]}")" ] || fail "iso pod -> iso pod"
  # out of it (TF: isolated pods reach non-isolated ones): the connection opens and the
  # replies come back, through a flow pair that crosses the two VRFs
  local dvrf; dvrf=$(pod_vrf open "$(first_pod open web)")
  vrctl rt --dump "$vrf" | grep -q "$open1/32" || fail "rt --dump $vrf lacks the default pod $open1/32"
  expect_eq "iso pod -> default-network pod" "$(first_pod open web)" "$(hostname_via "${ips[0]}" "$open1")"
  # the pair of flow entries crosses the VRFs: UDP (netexec's port 8081), whose entries
  # stay until they age, where a closed TCP connection's go at the next sweep
  expect_eq "iso pod -> default-network pod over UDP" "$(first_pod open web)" \
    "$(netexec_dial "${ips[0]}" "$open1" 8081 udp hostname 1 10)"
  local flows fwd rev
  flows=$(vrctl flow -l --json)
  fwd=$(jq --arg a "${ips[0]}" --arg b "$open1" --argjson v "$vrf" \
    '[.flows[] | select(.proto == 17 and .action == "forward" and .vrf == $v and .src == $a and .dst == $b)] | length' <<< "$flows")
  rev=$(jq --arg a "${ips[0]}" --arg b "$open1" --argjson d "$dvrf" \
    '[.flows[] | select(.proto == 17 and .action == "forward" and .vrf == $d and .src == $b and .dst == $a)] | length' <<< "$flows")
  [ "$fwd" -ge 1 ] && [ "$rev" -ge 1 ] \
    || fail "no Forward pair $vrf:${ips[0]} -> $open1 ($fwd), $dvrf back ($rev): $(vrctl flow -l)"
  # from the default network no connection opens: the route back exists, the flow
  # verdict drops it
  local before; before=$(vrctl dropstats --json | jq -r '.flow_action_drop // 0')
  [ -z "$(hostname_via "$open1" "${ips[0]}")" ] || fail "a default-network pod reached an isolated pod"
  (( $(vrctl dropstats --json | jq -r '.flow_action_drop // 0') > before )) \
    || fail "the default pod's connection was not dropped by a flow verdict"
  # TF's service isolation: the isolated namespace's Service takes connections only from
  # it, until the namespace says opencontrail.org/isolation.service=false; its pods stay
  # closed to the default network either way
  kubectl -n iso create service clusterip web --tcp=8080:8080 >/dev/null   # selects app=web
  wait_endpoints iso web 2 60
  local vip; vip=$(service_ip iso web)
  [ -n "$(hostname_via "${ips[0]}" "$vip")" ] || fail "iso pod -> its own namespace's Service $vip"
  [ -z "$(hostname_via "$open1" "$vip")" ] || fail "a default-network pod reached the isolated namespace's Service $vip"
  kubectl annotate namespace iso opencontrail.org/isolation.service=false >/dev/null
  t0=$SECONDS
  until [ -n "$(hostname_via "$open1" "$vip")" ]; do
    (( SECONDS - t0 > 30 )) && fail "isolation.service=false: the default pod still cannot reach $vip after 30s"
  done
  echo "    isolation.service=false: the Service $vip opened to the default network in $((SECONDS - t0))s"
  [ -z "$(hostname_via "$open1" "${ips[1]}")" ] || fail "isolation.service=false opened the isolated pod ${ips[1]} itself"
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

# make_nad NS NAME [CONFIG]: a NetworkAttachmentDefinition (default: vrouter's, for the
# VirtualNetwork of the same name)
make_nad() {
  local conf=${3:-}
  [ -n "$conf" ] || conf='{"cniVersion":"1.1.0","type":"vrouter"}'
  kubectl apply -f - >/dev/null <<EOF2
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: $2, namespace: $1}
spec:
  config: '$conf'
EOF2
}
# run_pod NS NAME [ANNOTATION...]: one agnhost netexec pod
run_pod() {
  local ns=$1 name=$2; shift 2
  kubectl -n "$ns" run "$name" --image="$AGNHOST_IMAGE" --image-pull-policy=Never \
    "${@/#/--annotations=}" -- netexec --http-port=8080 >/dev/null
}
pod_ip() { kubectl -n "$1" get pod "$2" -o jsonpath='{.status.podIP}'; }
# status_ip NS POD IFNAME: the pod's IPv4 address on IFNAME, from its network-status
status_ip() {
  kubectl -n "$1" get pod "$2" -o jsonpath='{.metadata.annotations.k8s\.v1\.cni\.cncf\.io/network-status}' \
    | jq -r --arg i "$3" '.[] | select(.interface == $i) | .ips[0]'
}
vif_vrf_of_ip() { vrctl vif --list --json | jq -r --arg ip "$1" '.[] | select(.ip == $ip) | .vrf'; }

test_pod_with_two_interfaces_answers_on_both() {
  local eth0 net1 peer plain vrf
  test_ns multi
  make_vn multi blue
  make_nad multi blue
  run_pod multi peer opencontrail.org/network=blue      # a pod of network blue
  run_pod multi plain                                   # a pod of the default network
  run_pod multi two k8s.v1.cni.cncf.io/networks=blue    # eth0 default, net1 in blue
  for p in peer plain two; do
    kubectl -n multi wait "pod/$p" --for=condition=Ready --timeout=600s >/dev/null || fail "pod $p not Ready"
  done
  eth0=$(status_ip multi two eth0); net1=$(status_ip multi two net1)
  [ -n "$eth0" ] && [ -n "$net1" ] || fail "network-status: $(kubectl -n multi get pod two -o yaml | grep network-status -A3)"
  expect_eq "podIP is eth0's address" "$(pod_ip multi two)" "$eth0"
  vrf=$(vrf_of multi blue)
  expect_eq "VRF of net1's vif" "$vrf" "$(vif_vrf_of_ip "$net1")"
  expect_eq "VRF of eth0's vif" 1 "$(vif_vrf_of_ip "$eth0")"
  peer=$(pod_ip multi peer); plain=$(pod_ip multi plain)
  # each network reaches the pod on its own interface, and only there
  expect_eq "blue peer -> net1" two "$(hostname_via "$peer" "$net1")"
  expect_eq "default pod -> eth0" two "$(hostname_via "$plain" "$eth0")"
  [ -z "$(hostname_via "$plain" "$net1")" ] || fail "a default-network pod reached net1 (network blue)"
  # the pod's answers on net1 leave through net1 (its own table), so kubelet's host path
  # reaches both addresses too
  for ip in "$eth0" "$net1"; do
    expect_eq "host -> $ip" two "$(curl -sf --max-time 10 "http://$ip:8080/hostname")"
  done
  # both ports go with the pod
  local before; before=$(agent_ports)
  kubectl -n multi delete pod two --wait=true --timeout=120s >/dev/null
  wait_ports $((before - 2)) 60
}

test_bad_network_attachments_are_reported_and_nothing_leaks() {
  local ports0 t0 msg
  ports0=$(agent_ports)
  test_ns nad
  make_nad nad broken '{not json'
  make_nad nad other '{"cniVersion":"1.1.0","type":"macvlan"}'
  run_pod nad a k8s.v1.cni.cncf.io/networks=broken
  run_pod nad b k8s.v1.cni.cncf.io/networks=other
  run_pod nad c k8s.v1.cni.cncf.io/networks=absent
  for want in "a:spec.config is not JSON" "b:is not \"vrouter\"" "c:NetworkAttachmentDefinition nad/absent does not exist"; do
    t0=$SECONDS
    until msg=$(kubectl -n nad get events --field-selector "involvedObject.name=${want%%:*}" -o jsonpath='{.items[*].message}') \
        && [[ $msg == *"${want#*:}"* ]]; do
      (( SECONDS - t0 > 300 )) && fail "pod ${want%%:*}: no event saying '${want#*:}'; events: $msg"
      sleep 2
    done
  done
  # the agent's own Warning on the bad object itself (kubectl describe shows it)
  t0=$SECONDS
  until kubectl -n nad get events -o jsonpath='{.items[*].message}' \
      --field-selector involvedObject.kind=NetworkAttachmentDefinition,involvedObject.name=broken \
      | grep -q "spec.config is not JSON"; do
    (( SECONDS - t0 > 60 )) && fail "no Warning event on NetworkAttachmentDefinition nad/broken"
    sleep 1
  done
  expect_eq "ports (nothing half-made: no eth0 without its net1)" "$ports0" "$(agent_ports)"
  expect_eq "pod vifs" "$ports0" "$(virtual_vifs)"
}
