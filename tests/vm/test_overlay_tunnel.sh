# The overlay on the wire (issue 13, second slice): pods reach another node through
# MPLSoUDP, MPLSoGRE and VXLAN tunnels, and tunnel packets from it are decapsulated into
# the pod's VRF. The other node is a network namespace across the fabric veth, played by
# tests/vm/tools/tunnel_peer.py (the three encapsulations written from the RFCs) and by
# Linux's own VXLAN device (interoperation, TCP with GSO both ways). The fabric vif
# leaves the host's own traffic alone.
#
# Layout:
#   vif0/0 vtvhost0 (10.255.0.1), Receive nexthop 1
#   vif0/1 vtfab  physical, 192.168.77.1 on the NIC (the node's fabric address)
#            <-> eth0 in vtremote, 192.168.77.2: the other node
#   vif0/2 vta    pod vtnsa in VRF 1: 10.1.0.2, fd00:1::2 (Encap nexthop 10)
#   remote pods 10.2.0.0/24, fd00:2::/64 in VRF 1 -> Tunnel nexthop 21, label 100
#   incoming label/VNI 200 -> VRF translate nexthop 30 (VRF 1)

. tests/vm/l3_lib.sh

FMAC=02:00:00:00:0f:01 # the fabric NIC's MAC
RMAC=02:00:00:00:0f:02 # the other node's
peer() { ip netns exec vtremote python3 tests/vm/tools/tunnel_peer.py "$@" --dev eth0 \
  --local 192.168.77.2 --remote 192.168.77.1 --peer-mac $FMAC; }
# answering <encap> <count>: the peer answers in the background once it listens ($! is it)
answering() {
  rm -f /tmp/vt-peer.ready
  peer answer --encap "$1" --label 200 --expect-label 100 --count "$2" --ready /tmp/vt-peer.ready \
    > /tmp/vt-peer.json &
  for _ in $(seq 100); do [ -e /tmp/vt-peer.ready ] && return; sleep 0.1; done
  fail "the tunnel peer did not start"
}

tunnel_setup() {
  load
  vrctl vif --create vtvhost0 --mac $GW --ip 10.255.0.1 >/dev/null
  ip link set vtvhost0 up
  ip netns add vtremote
  ip link add vtfab address $FMAC type veth peer name eth0 address $RMAC netns vtremote
  ip link set vtfab up; ip -n vtremote link set lo up; ip -n vtremote link set eth0 up
  ip addr add 192.168.77.1/24 dev vtfab
  ip -n vtremote addr add 192.168.77.2/24 dev eth0
  vrctl vif --add vtfab --type physical --ip 192.168.77.1 >/dev/null
  vrctl nh --create 1 --type rcv --oif 0 >/dev/null
  pod vtnsa vta 1 10.1.0.2 fd00:1::2
  encap 10 2 vtnsa
  route 1 10.1.0.1/32 1 -P; route 1 fd00:1::1/128 1 -P
  route 1 10.1.0.2/32 10 -P; route 1 fd00:1::2/128 10 -P
  vrctl nh --create 30 --type vrf-translate --vrf 1 >/dev/null
  vrctl mpls --create 200 --nh 30 >/dev/null
  vrctl vxlan --create 200 --nh 30 >/dev/null
}

# use_tunnel <udp|gre|vxlan> [label] [routed]: remote pods through Tunnel nexthop 21 of
# that kind; with "routed" the nexthop has no underlay header and the host's routing
# (and ARP) finds the other node
use_tunnel() {
  local flag l2="--smac $FMAC --dmac $RMAC"
  case $1 in udp) flag=--udp ;; gre) flag= ;; vxlan) flag=--vxlan ;; esac
  [ "${3:-}" = routed ] && l2=
  vrctl nh --create 21 --type tunnel --oif 1 $l2 \
    --sip 192.168.77.1 --dip 192.168.77.2 $flag >/dev/null
  route 1 10.2.0.0/24 21 "-t ${2:-100}"; route 1 fd00:2::/64 21 "-t ${2:-100}"
}
tunnels() { vrctl vrfstats --get 1 --json | jq "[.udp_mpls_tunnels, .gre_mpls_tunnels, .vxlan_tunnels] | join(\" \")" -r; }

test_overlay_pods_reach_the_other_node_in_each_encapsulation() {
  tunnel_setup
  for e in udp gre vxlan; do
    use_tunnel $e
    # the pod pings a remote pod; the peer answers inside the tunnel
    answering $e 6
    ip netns exec vtnsa ping -c 3 -i 0.2 -W 5 10.2.0.2 >/dev/null || fail "$e: IPv4 ping to the other node"
    ip netns exec vtnsa ping -c 3 -i 0.2 -W 5 fd00:2::2 >/dev/null || fail "$e: IPv6 ping to the other node"
    wait $! || fail "$e: the peer saw: $(cat /tmp/vt-peer.json)"
    # and the other way: the peer's pods ping ours through the tunnel
    out=$(peer ping --encap $e --label 200 --expect-label 100 --src 10.2.0.9 --dst 10.1.0.2) \
      || fail "$e: IPv4 from the other node: $out"
    out=$(peer ping --encap $e --label 200 --expect-label 100 --src fd00:2::9 --dst fd00:1::2) \
      || fail "$e: IPv6 from the other node: $out"
  done
  # 12 packets out per encapsulation (6 requests, 6 replies), counted where they went
  expect_eq "tunnels counted (udp gre vxlan)" "12 12 12" "$(tunnels)"
  # without an underlay header the host's routing sends the outer packet (ARP included)
  use_tunnel udp 100 routed
  ip neigh flush dev vtfab
  answering udp 2
  ip netns exec vtnsa ping -c 2 -i 0.2 -W 5 10.2.0.2 >/dev/null || fail "IPv4 ping through a host-routed tunnel"
  wait $! || fail "host-routed tunnel: the peer saw: $(cat /tmp/vt-peer.json)"
}

# xfer <server ns> <client ns> <server address> <what>: 8 MB over TCP, every byte checked
xfer() {
  rm -f /tmp/vt-xfer.ready
  ip netns exec "$1" python3 tests/vm/tools/tcp_xfer.py serve 5300 /tmp/vt-xfer.ready > /tmp/vt-got &
  local server=$! sent
  for _ in $(seq 100); do [ -e /tmp/vt-xfer.ready ] && break; sleep 0.1; done
  sent=$(ip netns exec "$2" python3 tests/vm/tools/tcp_xfer.py send "$3" 5300 8388608) || fail "TCP $4: the sender failed"
  wait $server || fail "TCP $4: the receiver failed"
  expect_eq "TCP $4 (bytes, sha256)" "$sent" "$(cat /tmp/vt-got)"
}

test_overlay_vxlan_interoperates_with_linux_tcp_both_ways() {
  tunnel_setup
  use_tunnel vxlan 200
  # Linux's VXLAN device on the other node, VNI 200 both ways; inner frames to the
  # vRouter's MAC (it routes, it does not learn)
  ip -n vtremote link add vx0 address $GW type vxlan id 200 local 192.168.77.2 \
    remote 192.168.77.1 dstport 4789 dev eth0
  ip -n vtremote link set vx0 up
  ip -n vtremote addr add 10.2.0.2/24 dev vx0
  ip -n vtremote addr add fd00:2::2/64 dev vx0 nodad
  ip -n vtremote route add 10.1.0.0/24 dev vx0
  ip -n vtremote route add fd00:1::/64 dev vx0
  ip -n vtremote neigh add 10.1.0.2 lladdr $GW dev vx0
  ip -n vtremote neigh add fd00:1::2 lladdr $GW dev vx0
  ip netns exec vtnsa ping -c 2 -W 2 10.2.0.2 >/dev/null || fail "IPv4 ping to Linux's VXLAN"
  ip netns exec vtnsa ping -c 2 -W 2 fd00:2::2 >/dev/null || fail "IPv6 ping to Linux's VXLAN"
  # TCP both ways: the pod's GSO packets go into the tunnel whole and are segmented
  # after it (the veth carries them whole to the other node, as Linux's own VXLAN
  # does); Linux's arrive as GSO packets and are decapsulated whole. The pod's MTU
  # leaves room for VXLAN's 50 bytes, as Linux's VXLAN device does for its own.
  ip -n vtnsa link set eth0 mtu 1450
  xfer vtremote vtnsa 10.2.0.2 "pod -> Linux"
  xfer vtnsa vtremote 10.1.0.2 "Linux -> pod"
  xfer vtremote vtnsa fd00:2::2 "pod -> Linux, IPv6"
  # and how fast, for the record
  ip netns exec vtremote iperf3 -s -D -1 -p 5201 >/dev/null; sleep 0.3
  ip netns exec vtnsa iperf3 -c 10.2.0.2 -p 5201 -t 3 -J > /tmp/vt-up.json || fail "iperf3 pod -> Linux"
  echo "    vxlan TCP pod -> Linux: $(jq '.end.sum_received.bits_per_second / 1e6 | floor' /tmp/vt-up.json) Mbit/s"
}

test_overlay_fabric_vif_leaves_the_hosts_traffic_alone() {
  tunnel_setup
  vrctl vif --delete 1 >/dev/null
  ping -c 2 -W 2 192.168.77.2 >/dev/null || fail "fabric ping before attaching"
  vrctl vif --add vtfab --type physical --ip 192.168.77.1 >/dev/null
  ip neigh flush dev vtfab
  ping -c 3 -i 0.2 -W 2 192.168.77.2 >/dev/null || fail "fabric ping (and ARP) with the vif attached"
  ip netns exec vtremote iperf3 -s -D -1 -p 5202 >/dev/null; sleep 0.3
  iperf3 -c 192.168.77.2 -p 5202 -n 2M >/dev/null || fail "host TCP over the fabric with the vif attached"
  # a UDP packet to the tunnel ports of another address is the host's too
  expect_eq "nothing taken by the datapath" 0 "$(rx 1)"
  vrctl vif --delete 1 >/dev/null
  ping -c 2 -W 2 192.168.77.2 >/dev/null || fail "fabric ping after detaching"
}

test_overlay_bad_tunnel_packets_are_dropped_and_counted() {
  tunnel_setup
  use_tunnel udp
  local l v p
  l=$(drops invalid_label); v=$(drops invalid_vnid); p=$(drops invalid_packets)
  # a spoofed MPLSoUDP packet with a label nobody allocated
  peer spoof --encap udp --label 4000 --src 10.2.0.9 --dst 10.1.0.2 >/dev/null || fail "unknown label answered"
  peer spoof --encap gre --label 201 --src 10.2.0.9 --dst 10.1.0.2 >/dev/null || fail "unknown GRE label answered"
  peer spoof --encap vxlan --label 4000 --src 10.2.0.9 --dst 10.1.0.2 >/dev/null || fail "unknown VNI answered"
  expect_eq "Invalid Label drops" $((l + 2)) "$(drops invalid_label)"
  expect_eq "Invalid VNID drops" $((v + 1)) "$(drops invalid_vnid)"
  # a route to a tunnel without a label: dropped, never sent bare
  route 1 10.3.0.0/24 21
  l=$(drops invalid_label); tx1=$(tx 1)
  ip netns exec vtnsa ping -c 2 -i 0.2 -W 1 10.3.0.5 >/dev/null 2>&1 && fail "a ping through an unlabelled tunnel route was answered"
  expect_eq "unlabelled route drops" $((l + 2)) "$(drops invalid_label)"
  expect_eq "nothing sent on the fabric" "$tx1" "$(tx 1)"
  # a packet that cannot fit the fabric's MTU once encapsulated is dropped, not fragmented
  f=$(drops fragment_errors)
  ip netns exec vtnsa ping -c 1 -W 1 -M do -s 1472 10.2.0.2 >/dev/null 2>&1
  expect_eq "oversized for the tunnel" $((f + 1)) "$(drops fragment_errors)"
  expect_eq "no malformed packets" "$p" "$(drops invalid_packets)"
}
