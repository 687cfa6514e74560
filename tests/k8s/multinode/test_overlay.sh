# Two nodes (K8S_NODES=2): pods on different nodes talk through vrouter's tunnels over the
# fabric (the project's bridge), with each encapsulation; the node keeps its own traffic
# on the fabric NIC that vrouter holds; a node that leaves takes its routes with it.
# These run in node 1; node 2 is reached with on_node (cluster/node-control.py).

# set_encapsulation ENCAPSULATION: the cluster setting, then both nodes' tunnels use it
set_encapsulation() {
  kubectl -n kube-system create configmap vrouter-overlay --from-literal=encapsulation="$1" \
    --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  local t0=$SECONDS
  until has_encap "$(node_ip 2)" "$1" && on_node 2 "has_encap $(node_ip 1) $1" >/dev/null; do
    (( SECONDS - t0 > 60 )) && fail "$1: tunnels not switched after 60s (node 1: flags $(tunnel_flags "$(node_ip 2)"))"
    sleep 0.5
  done
  echo "    $1: both nodes' tunnels switched in $((SECONDS - t0))s"
}

# fabric_filter ENCAPSULATION LABEL SRC DST: a tcpdump filter for that tunnel's packets
# from SRC to DST carrying LABEL (MPLS: the label's 20 bits and the bottom-of-stack bit;
# VXLAN: the I flag and the VNI). The outer IPv4 header has no options (IHL 5).
fabric_filter() {
  local hosts="src host $3 and dst host $4"
  case $1 in
    mpls-over-udp) printf '%s and udp dst port 6635 and (udp[8:4] & 0xfffff100) = 0x%x' "$hosts" $(( ($2 << 12) | 0x100 )) ;;
    mpls-over-gre) printf '%s and ip proto 47 and ip[22:2] = 0x8847 and (ip[24:4] & 0xfffff100) = 0x%x' "$hosts" $(( ($2 << 12) | 0x100 )) ;;
    vxlan) printf '%s and udp dst port 4789 and (udp[8:1] & 0x08) = 0x08 and (udp[12:4] & 0xffffff00) = 0x%x' "$hosts" $(( $2 << 8 )) ;;
  esac
}

# xfer FROM_NODE FROM_POD TO_POD TO_ADDRESS: 2 MB over TCP from FROM_POD (on node
# FROM_NODE) to TO_POD (on node 1) at TO_ADDRESS, every byte checked (sha256)
xfer() {
  local got=/tmp/xfer.got ready=/tmp/xfer.ready sent
  rm -f "$got" "$ready"
  in_pod ov "$3" python3 tests/vm/tools/tcp_xfer.py serve 5300 "$ready" > "$got" 2>&1 &
  local server=$! t0=$SECONDS
  until [ -e "$ready" ]; do
    (( SECONDS - t0 > 120 )) && fail "TCP server in $3 not listening after 120s: $(cat "$got")"
    sleep 0.2
  done
  sent=$(on_node "$1" "in_pod ov $2 python3 tests/vm/tools/tcp_xfer.py send $4 5300 2097152") || fail "TCP $2 -> $3: the sender failed: $sent"
  wait "$server"
  expect_eq "TCP $2 -> $3 ($4): bytes and sha256" "$sent" "$(cat "$got")"
}

test_pods_on_two_nodes_talk_over_each_encapsulation() {
  local a4 a6 b4 b6 vrf enc cap out
  test_ns ov
  agnhost_pod ov a 1
  agnhost_pod ov b 2
  wait_pods ov 300 a b
  a4=$(pod_ip ov a) a6=$(pod_ip ov a 1) b4=$(pod_ip ov b) b6=$(pod_ip ov b 1)
  [ -n "$a6" ] && [ -n "$b6" ] || fail "pods without IPv6 ($a6, $b6)"
  # the label (and VNI) is 16 + the pods' VRF, the same on both nodes
  vrf=$(vrctl vif --list --json | jq -r --arg ip "$a4" '.[] | select(.ip == $ip) | .vrf')
  [ -n "$vrf" ] || fail "no vif with $a4"
  for enc in mpls-over-udp mpls-over-gre vxlan; do
    set_encapsulation "$enc"
    # the request leaves node 1 and the reply arrives in the tunnel, with the label
    cap=/tmp/cap.$enc
    timeout 60 tcpdump -i eth0 -nn -c 1 "$(fabric_filter "$enc" $((16 + vrf)) "$(node_ip 1)" "$(node_ip 2)")" > "$cap.out" 2>/dev/null &
    local out_pid=$!
    timeout 60 tcpdump -i eth0 -nn -c 1 "$(fabric_filter "$enc" $((16 + vrf)) "$(node_ip 2)" "$(node_ip 1)")" > "$cap.in" 2>/dev/null &
    local in_pid=$!
    sleep 2   # tcpdump's filter attached
    in_pod ov a ping -c 3 -i 0.3 -W 3 "$b4" > "$cap.ping" || fail "$enc: ping a -> b ($b4): $(cat "$cap.ping")"
    wait "$out_pid" || fail "$enc: no tunnel packet node 1 -> node 2 with label $((16 + vrf)) on the fabric"
    wait "$in_pid" || fail "$enc: no tunnel packet node 2 -> node 1 with label $((16 + vrf)) on the fabric"
    in_pod ov a ping -6 -c 2 -i 0.3 -W 3 "$b6" >/dev/null || fail "$enc: ping -6 a -> b ($b6)"
    out=$(on_node 2 "in_pod ov b ping -c 2 -i 0.3 -W 3 $a4 && in_pod ov b ping -6 -c 2 -i 0.3 -W 3 $a6") || fail "$enc: ping b -> a: $out"
    # TCP and UDP, both families, both ways (netexec's /dial)
    expect_eq "$enc: TCP a -> b" b "$(dial ov a "$b4" http)"
    expect_eq "$enc: UDP a -> b" b "$(dial ov a "$b4" udp)"
    expect_eq "$enc: TCP a -> b (IPv6)" b "$(dial ov a "$b6" http)"
    expect_eq "$enc: UDP a -> b (IPv6)" b "$(dial ov a "$b6" udp)"
    expect_eq "$enc: TCP b -> a" a "$(on_node 2 "dial ov b $a4 http")"
    expect_eq "$enc: UDP b -> a (IPv6)" a "$(on_node 2 "dial ov b $a6 udp")"
    # a full-size stream across the tunnel: pods' MTU leaves room for the outer headers
    # (IPv6's 20 more bytes of header once, with VXLAN: the MTU check is the same code)
    xfer 2 b a "$a4"
    if [ "$enc" = vxlan ]; then xfer 2 b a "$a6"; fi
  done
  # a value no node knows is reported and changes nothing
  kubectl -n kube-system create configmap vrouter-overlay --from-literal=encapsulation=ipip \
    --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  local t0=$SECONDS
  until kubectl get events -A --field-selector reason=BadEncapsulation -o name | grep -q .; do
    (( SECONDS - t0 > 30 )) && fail "no BadEncapsulation event for 'ipip'"
    sleep 0.5
  done
  has_encap "$(node_ip 2)" vxlan || fail "the tunnel changed on a bad value: flags $(tunnel_flags "$(node_ip 2)")"
  expect_eq "TCP a -> b after the bad value" b "$(dial ov a "$b4" http)"
  kubectl -n kube-system delete configmap vrouter-overlay >/dev/null
}

test_node_keeps_its_own_traffic_on_the_fabric_nic() {
  local fab loss
  # vrouter holds eth0 as the Physical vif, with the node's address
  fab=$(vrctl vif --list --json | jq -r '.[] | select(.type_name == "Physical") | "\(.name) \(.ip)"')
  expect_eq "the fabric vif" "eth0 $(node_ip 1)" "$fab"
  fab=$(on_node 2 "vrctl vif --list --json | jq -r '.[] | select(.type_name == \"Physical\") | \"\(.name) \(.ip)\"'")
  expect_eq "node 2's fabric vif" "eth0 $(node_ip 2)" "$fab"
  # the host's own traffic on it: the apiserver, both nodes Ready, ICMP and TCP to the
  # other node's address (node-control is TCP to node 2's address), no loss
  kubectl get --raw /readyz >/dev/null || fail "apiserver not reachable"
  wait_nodes_ready 2 10 || fail "a node is not Ready"
  loss=$(ping -c 20 -i 0.1 -q "$(node_ip 2)" | awk '/packet loss/ {print $6}')
  expect_eq "ping node 1 -> node 2 loss" 0% "$loss"
  expect_eq "TCP to node 2's address" ok "$(on_node 2 'echo ok')"
  # and the agent's restart (the fabric vif detached and attached again) cuts nothing
  ping -i 0.1 -q "$(node_ip 2)" > /tmp/fab.ping &
  local pinger=$!
  on_node 2 'node_restart agent' >/dev/null || fail "node 2's agent did not restart"
  sleep 1
  kill -INT "$pinger"; wait "$pinger"
  # every request answered, but the one in flight when ping was interrupted
  read -r sent got < <(awk '/packets transmitted/ {print $1, $4}' /tmp/fab.ping)
  (( got >= sent - 1 )) || fail "ping while node 2's agent restarted: $got of $sent answered"
  echo "    ping while node 2's agent restarted: $got of $sent answered"
  kubectl get --raw /readyz >/dev/null || fail "apiserver not reachable after node 2's agent restart"
}

# routes_to_node N: node 1's routes (default network's VRF and the host's) to node N's pod CIDR
routes_to_node() {
  local cidr
  cidr=$(kubectl get node "$(node_name "$1")" -o jsonpath='{.spec.podCIDRs[0]}' 2>/dev/null)
  echo "cidr=$cidr"
  vrctl rt --dump 0 --json | jq -r --arg p "$cidr" '.[] | select(.prefix == $p) | "vrf0 \(.prefix) nh \(.nh) label \(.label)"'
  ip -4 route show proto 118 | grep -v "^$(kubectl get node "$(node_name 1)" -o jsonpath='{.spec.podCIDRs[0]}')" || true
}

test_a_node_that_leaves_takes_its_routes_and_one_that_joins_gets_them() {
  local cidr t0 before
  cidr=$(kubectl get node "$(node_name 2)" -o jsonpath='{.spec.podCIDRs[0]}')
  [ -n "$cidr" ] || fail "node 2 has no podCIDR"
  vrctl rt --dump 0 --json | jq -e --arg p "$cidr" 'any(.[]; .prefix == $p)' >/dev/null || fail "no route to $cidr in VRF 0"
  ip route show "$cidr" | grep -q vhost0 || fail "no host route to $cidr through vhost0"
  [ -n "$(tunnel_flags "$(node_ip 2)")" ] || fail "no tunnel to node 2"
  # node 2 leaves: kubelet stopped, the Node deleted
  on_node 2 '_node_stop kubelet' >/dev/null
  kubectl delete node "$(node_name 2)" --wait=true >/dev/null
  t0=$SECONDS
  while vrctl rt --dump 0 --json | jq -e --arg p "$cidr" 'any(.[]; .prefix == $p)' >/dev/null \
    || ip route show "$cidr" | grep -q . || [ -n "$(tunnel_flags "$(node_ip 2)")" ]; do
    (( SECONDS - t0 > 10 )) && fail "node 2's routes still on node 1 after 10s: $(routes_to_node 2)"
    sleep 0.2
  done
  echo "    node 2's routes and tunnel gone from node 1 in $((SECONDS - t0))s"
  # node 2 joins again (kubelet registers it; it may get another pod CIDR, which its
  # agent takes at a restart), and node 1 routes to it again
  on_node 2 '_node_kubelet' >/dev/null
  t0=$SECONDS
  until cidr=$(kubectl get node "$(node_name 2)" -o jsonpath='{.spec.podCIDRs[0]}' 2>/dev/null) && [ -n "$cidr" ]; do
    (( SECONDS - t0 > 120 )) && fail "node 2 did not register again"
    sleep 1
  done
  on_node 2 'node_restart agent' >/dev/null || fail "node 2's agent did not restart"
  wait_nodes_ready 2 300 || fail "node 2 not Ready again"
  t0=$SECONDS
  until vrctl rt --dump 0 --json | jq -e --arg p "$cidr" 'any(.[]; .prefix == $p)' >/dev/null \
    && ip route show "$cidr" | grep -q vhost0 && [ -n "$(tunnel_flags "$(node_ip 2)")" ]; do
    (( SECONDS - t0 > 30 )) && fail "no routes to node 2's $cidr after it joined: $(routes_to_node 2)"
    sleep 0.2
  done
  # and a pod there is reachable
  test_ns back
  agnhost_pod back b 2
  wait_pods back 300 b
  curl -sf --max-time 10 "http://$(pod_ip back b):8080/hostname" | grep -qx b || fail "node 1's host cannot reach a pod on node 2 after the rejoin"
}

# TF's namespace isolation (one-way, as its documents describe it) holds across nodes:
# the other node's pods are known by their namespace's network (the agent watches every
# pod), and a packet decapsulated for a policy-enabled pod passes the flow table in the
# VRF of its label, as the pod's own packets do.
test_isolated_namespace_spans_the_nodes() {
  local i1 i2 d2
  test_ns iso opencontrail.org/isolation=true
  test_ns dflt
  agnhost_pod iso i1 1
  agnhost_pod iso i2 2
  agnhost_pod dflt d2 2
  wait_pods iso 300 i1 i2
  wait_pods dflt 300 d2
  i1=$(pod_ip iso i1) i2=$(pod_ip iso i2) d2=$(pod_ip dflt d2)
  # the isolated namespace's pods reach each other across the nodes, both ways
  expect_eq "isolated i1 (node 1) -> i2 (node 2)" i2 "$(dial iso i1 "$i2" http)"
  expect_eq "isolated i2 (node 2) -> i1 (node 1)" i1 "$(on_node 2 "dial iso i2 $i1 http")"
  expect_eq "isolated i1 -> i2, UDP" i2 "$(dial iso i1 "$i2" udp)"
  # an isolated pod opens connections to the default network on the other node
  expect_eq "isolated i1 (node 1) -> default d2 (node 2)" d2 "$(dial iso i1 "$d2" http)"
  # the default network's pod on the other node opens none to it
  expect_eq "default d2 (node 2) -> isolated i1 (node 1)" "" "$(on_node 2 "dial dflt d2 $i1 http")"
  expect_eq "default d2 (node 2) -> isolated i1 (node 1), UDP" "" "$(on_node 2 "dial dflt d2 $i1 udp")"
}
