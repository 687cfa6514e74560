# The L3 datapath: pods wired only with vrctl (vifs, encap nexthops, /32 and /128 routes,
# a default route to a Receive nexthop) talk over IPv4 and IPv6; VRFs are isolated; TTL
# expiry, route deletion, ECMP spreading and bad input are checked against the counters.
# The topology is in l3_lib.sh.

. tests/vm/l3_lib.sh

test_l3_pods_ping_each_other_v4_and_v6() {
  setup
  ip netns exec vtnsa ping -c 2 -W 2 10.1.0.3 >/dev/null || fail "A -> B IPv4"
  ip netns exec vtnsb ping -c 2 -W 2 10.1.0.2 >/dev/null || fail "B -> A IPv4"
  ip netns exec vtnsa ping -6 -c 2 -W 2 fd00:1::3 >/dev/null || fail "A -> B IPv6"
  ip netns exec vtnsb ping -6 -c 2 -W 2 fd00:1::2 >/dev/null || fail "B -> A IPv6"
  # B was proxied: A's neighbour entries for it carry the vRouter MAC
  ip -n vtnsa neigh show 10.1.0.3 | grep -q "lladdr $GW" || fail "ARP for B not answered with $GW"
  ip -n vtnsa -6 neigh show fd00:1::3 | grep -q "lladdr $GW" || fail "ND for B not answered with $GW"
  ip -n vtnsa -6 neigh show fd00:1::3 | grep -q router || fail "NA lacks the router flag"
  [ "$(vrctl vrfstats --get 1 --json | jq .arp_virtual_proxys)" -ge 1 ] || fail "ARP proxy not counted"
  # counters: 20 echo requests from A reach B; B's 20 replies reach A. The neighbours are
  # pinned first: a slow kernel (the debug one) let A's entry go stale mid-count, and its
  # ARP probe was counted as a 21st packet.
  ip -n vtnsa neigh replace 10.1.0.3 lladdr "$GW" dev eth0 nud permanent
  ip -n vtnsb neigh replace 10.1.0.2 lladdr "$GW" dev eth0 nud permanent
  quiet 1; quiet 2
  a_rx=$(rx 1); a_tx=$(tx 1); b_rx=$(rx 2); b_tx=$(tx 2)
  ip netns exec vtnsa ping -c 20 -i 0.05 -W 2 10.1.0.3 >/dev/null || fail "A -> B 20 pings"
  expect_eq "A rx (requests sent by A)" 20 $(( $(rx 1) - a_rx ))
  expect_eq "B tx (requests delivered to B)" 20 $(( $(tx 2) - b_tx ))
  expect_eq "B rx (replies sent by B)" 20 $(( $(rx 2) - b_rx ))
  expect_eq "A tx (replies delivered to A)" 20 $(( $(tx 1) - a_tx ))
  vrctl vif --get 2 | grep -q "TX packets:$(tx 2)  bytes:" || fail "text listing disagrees with JSON"
}

test_l3_vrfs_are_isolated() {
  setup
  ip netns exec vtnsa ping -c 1 -W 2 10.1.0.3 >/dev/null || fail "A -> B"
  c_tx=$(tx 3)
  ip netns exec vtnsc ping -c 2 -W 1 10.1.0.3 >/dev/null 2>&1 && fail "C (VRF 2) reached B (VRF 1)"
  ip netns exec vtnsc ping -6 -c 2 -W 1 fd00:1::3 >/dev/null 2>&1 && fail "C (VRF 2) reached B over IPv6"
  # B talks to 10.1.0.2 in VRF 1: that is A, never C, which has the same address in VRF 2
  a_tx=$(tx 1)
  ip netns exec vtnsb ping -c 3 -W 2 10.1.0.2 >/dev/null || fail "B -> A"
  expect_eq "C got nothing" "$c_tx" "$(tx 3)"
  [ $(( $(tx 1) - a_tx )) -ge 3 ] || fail "A did not get B's pings"
  # and C's packets to its own gateway in VRF 2 reach the host (Receive nexthop: the
  # vhost vif sends them up; the host does not answer for 10.1.0.1, so no reply is due)
  local host_tx; host_tx=$(tx 0)
  ip netns exec vtnsc ping -c 1 -W 1 10.1.0.1 >/dev/null 2>&1 || :
  [ "$(tx 0)" -gt "$host_tx" ] || fail "C's packet to its gateway did not reach the host"
  vrctl rt --get 10.1.0.3/32 --vrf 2 >/dev/null 2>&1 && fail "VRF 2 has a route to B"
  true
}

test_l3_ttl_expiry_returns_time_exceeded() {
  setup
  before=$(drops ttl_exceeded)
  out=$(ip netns exec vtnsa ping -c 1 -t 1 -W 2 10.1.0.3 2>&1)
  case "$out" in *"From 10.255.0.1"*"Time to live exceeded"*) ;; *) fail "IPv4 TTL 1: $out";; esac
  out=$(ip netns exec vtnsa ping -6 -c 1 -t 1 -W 2 fd00:1::3 2>&1)
  case "$out" in *"From fd00:ff::1"*"Time exceeded: Hop limit"*) ;; *) fail "IPv6 hop limit 1: $out";; esac
  expect_eq "TTL Exceeded drops" $((before + 2)) "$(drops ttl_exceeded)"
  vrctl dropstats | grep -Eq '^TTL Exceeded +2$' || fail "dropstats text: $(vrctl dropstats)"
  # TTL 2 is enough for one router
  ip netns exec vtnsa ping -c 1 -t 2 -W 2 10.1.0.3 >/dev/null || fail "TTL 2 did not get through"
}

test_l3_deleting_a_route_stops_traffic() {
  setup
  vrctl rt -d -v 1 -p 0.0.0.0/0 >/dev/null
  ip netns exec vtnsa ping -c 1 -W 2 10.1.0.3 >/dev/null || fail "A -> B before delete"
  before=$(drops discards)
  vrctl rt -d -v 1 -p 10.1.0.3/32 >/dev/null
  ip netns exec vtnsa ping -c 3 -i 0.2 -W 1 10.1.0.3 >/dev/null 2>&1 && fail "traffic flowed after the route was deleted"
  expect_eq "Discards after delete" $((before + 3)) "$(drops discards)"
  [ "$(vrctl vrfstats --get 1 --json | jq .discards)" -ge 3 ] || fail "vrfstats discards"
  vrctl rt --get 10.1.0.3/32 --vrf 1 >/dev/null 2>&1 && fail "route still there"
  # the nexthop is free now, and deleting it works
  vrctl rt -d -v 1 -p fd00:1::3/128 >/dev/null
  vrctl nh --delete 11 || fail "nexthop 11 still referenced"
}

test_l3_default_route_reaches_the_host() {
  setup
  ip addr add 10.99.0.1/32 dev vtvhost0
  ip route add 10.1.0.0/24 dev vtvhost0
  route 0 10.1.0.2/32 10 -P
  recv=$(vrctl vrfstats --get 1 --json | jq .receives)
  ip netns exec vtnsa ping -c 2 -W 2 10.99.0.1 >/dev/null || fail "pod -> host -> pod round trip"
  [ "$(vrctl vrfstats --get 1 --json | jq .receives)" -ge $((recv + 2)) ] || fail "Receives not counted"
}

test_l3_ecmp_spreads_flows_and_keeps_each_on_one_member() {
  setup
  for ns in vtnsb vtnsd; do ip -n $ns addr add 10.1.0.100/32 dev lo; done
  vrctl nh --create 20 --type composite --ecmp --cni 11 --cni 13 >/dev/null
  route 1 10.1.0.100/32 20 -P
  vrctl nh --get 20 | grep -q 'Sub NH(label): 11(0) 13(0)' || fail "composite listing: $(vrctl nh --get 20)"
  # B and D answer with ICMP port unreachable: resolve A first so no ARP reply is counted
  for ns in vtnsb vtnsd; do ip netns exec $ns ping -c 1 -W 2 10.1.0.2 >/dev/null || fail "$ns -> A"; done
  quiet 2; quiet 4
  b=$(tx 2); d=$(tx 4)
  # 64 flows (distinct source ports), one datagram each
  ip netns exec vtnsa python3 -c '
import socket
for port in range(40000, 40064):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.1.0.2", port)); s.sendto(b"x", ("10.1.0.100", 9999)); s.close()'
  sleep 0.5
  db=$(( $(tx 2) - b )); dd=$(( $(tx 4) - d ))
  expect_eq "every flow delivered once" 64 $((db + dd))
  [ "$db" -ge 8 ] && [ "$dd" -ge 8 ] || fail "flows not spread: B $db, D $dd"
  # one flow, 50 datagrams: all on the same member
  b=$(tx 2); d=$(tx 4)
  ip netns exec vtnsa python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.1.0.2", 41000))
for _ in range(50): s.sendto(b"x", ("10.1.0.100", 9999))'
  sleep 0.5
  db=$(( $(tx 2) - b )); dd=$(( $(tx 4) - d ))
  [ "$db:$dd" = "50:0" ] || [ "$db:$dd" = "0:50" ] || fail "one flow split across members: B $db, D $dd"
  [ "$(vrctl vrfstats --get 1 --json | jq .ecmp_composites)" -ge 114 ] || fail "Ecmp Composites not counted"
  # members in use cannot go
  expect_fail 65 "in use" vrctl nh --delete 13
}

test_l3_bad_input_changes_nothing() {
  setup
  vrctl nh --create 20 --type composite --ecmp --cni 10 --cni 11 >/dev/null
  nh_before=$(vrctl nh --list --json); rt_before=$(vrctl rt --dump 1 --json; vrctl rt --dump 1 --family inet6 --json)
  expect_fail 65 "no vif with that index (oif) (ENOENT)" vrctl nh --create 30 --type encap --oif 99 --dmac 02:00:00:00:00:01 --smac $GW
  expect_fail 65 "no such nexthop (ENOENT)" vrctl rt -c -v 1 -p 10.1.0.50/32 -n 999
  expect_fail 65 "vrf beyond the limit (vr_vrfs) (ERANGE)" vrctl rt -c -v 4096 -p 10.1.0.50/32 -n 10
  expect_fail 65 "a composite cannot contain itself or another composite (EINVAL)" vrctl nh --create 40 --type composite --ecmp --cni 40 --cni 10
  expect_fail 65 "a composite cannot contain itself or another composite (EINVAL)" vrctl nh --create 40 --type composite --ecmp --cni 20
  expect_fail 65 "composite member nexthop does not exist (ENOENT)" vrctl nh --create 40 --type composite --ecmp --cni 10 --cni 998
  expect_fail 65 "encap data too long (at most 18 bytes) (ERANGE)" vrctl nh --create 41 --type encap --oif 1 --encap-hex "$(printf '00 %.0s' $(seq 20))"
  expect_fail 65 "encap data must be an Ethernet header" vrctl nh --create 41 --type encap --oif 1 --encap-hex "00 11 22"
  expect_fail 65 "nexthop 0 is the discard nexthop" vrctl nh --delete 0
  expect_fail 65 "nexthop in use by routes, composites, MPLS labels or VXLAN VNIs (EBUSY)" vrctl nh --delete 10
  expect_fail 65 "nexthop in use by routes, composites, MPLS labels or VXLAN VNIs (EBUSY)" vrctl nh --delete 11
  # what vrctl refuses to send, the kernel refuses too
  out=$(ynl --do rt-new --json '{"vrf": 1, "prefix": "0a010032", "prefix-len": 33, "nh-id": 10}' 2>&1) && fail "/33 accepted"
  case "$out" in *"prefix length beyond 32"*) ;; *) fail "/33: $out";; esac
  out=$(ynl --do rt-new --json '{"vrf": 1, "prefix": "fd000001000000000000000000000050", "prefix-len": 129, "nh-id": 10}' 2>&1) && fail "/129 accepted"
  case "$out" in *"prefix length beyond 128"*) ;; *) fail "/129: $out";; esac
  out=$(ynl --do rt-new --json '{"vrf": 1, "prefix": "0a010001", "prefix-len": 24, "nh-id": 10}' 2>&1) && fail "host bits accepted"
  case "$out" in *"bits set beyond its length"*) ;; *) fail "host bits: $out";; esac
  out=$(ynl --do nh-new --json '{"id": 1000000, "type": 5}' 2>&1) && fail "nh id beyond the table accepted"
  case "$out" in *"beyond the table size"*) ;; *) fail "nh id: $out";; esac
  expect_eq "nexthops unchanged" "$nh_before" "$(vrctl nh --list --json)"
  expect_eq "routes unchanged" "$rt_before" "$(vrctl rt --dump 1 --json; vrctl rt --dump 1 --family inet6 --json)"
  # unprivileged: reads work, changes are refused
  setpriv --reuid=65534 --regid=65534 --clear-groups vrctl rt --dump 1 >/dev/null || fail "unprivileged dump"
  expect_fail 77 "EPERM" setpriv --reuid=65534 --regid=65534 --clear-groups vrctl rt -c -v 1 -p 10.1.0.60/32 -n 10
  expect_fail 77 "EPERM" setpriv --reuid=65534 --regid=65534 --clear-groups vrctl dropstats --clear
}

test_l3_listings_and_monitor() {
  load
  vrctl vif --create vtvhost0 --mac $GW >/dev/null
  vrctl nh --create 1 --type rcv --oif 0 >/dev/null
  vrctl rt --monitor > /tmp/vt-monitor.out &
  mon=$!
  sleep 0.5
  route 3 10.3.0.0/16 1 "-P"
  vrctl rt -c -v 3 -p 10.3.1.0/24 -n 1 -t 42 >/dev/null
  route 3 fd00:3::/48 1
  vrctl rt -d -v 3 -p 10.3.1.0/24 >/dev/null
  sleep 0.5; kill $mon; wait $mon 2>/dev/null
  expect_eq "monitor lines" 4 "$(wc -l < /tmp/vt-monitor.out)"
  expect_eq "monitor ops" "add add add del" "$(jq -r .op /tmp/vt-monitor.out | xargs)"
  vrctl rt --dump 3 | grep -Eq '^10\.3\.0\.0/16 +0 +P +- +1 +-$' || fail "rt --dump row: $(vrctl rt --dump 3)"
  vrctl rt --dump 3 --family inet6 | grep -q '^fd00:3::/48' || fail "inet6 dump: $(vrctl rt --dump 3 --family inet6)"
  vrctl rt --get 10.3.7.7/32 --vrf 3 | grep -q '^Match 10.3.0.0/16 in vRouter inet4 table 0/3/unicast' || fail "rt --get: $(vrctl rt --get 10.3.7.7/32 --vrf 3)"
  vrctl nh --list | grep -q '^Id:0 .*Type:Drop' || fail "nh list lacks the discard nexthop"
  vrctl nh --get 1 | grep -q 'Type:Receive' || fail "nh --get 1"
  info=$(vrctl vrouter --info)
  case "$info" in *"0.1.0"*) ;; *) fail "vrouter --info lacks the version: $info";; esac
  [ "$(vrctl vrouter --info --json | jq .routes_v4)" = 1 ] || fail "info routes_v4: $(vrctl vrouter --info --json)"
  [ "$(vrctl vrouter --info --json | jq .routes_v6)" = 1 ] || fail "info routes_v6"
  vrctl vrfstats --dump | grep -q '^Vrf: 3$' || fail "vrfstats --dump lacks VRF 3"
}

test_l3_batch_install_and_unload_with_routes() {
  load
  vrctl vif --create vtvhost0 --mac $GW >/dev/null
  vrctl nh --create 1 --type rcv --oif 0 >/dev/null
  python3 -c '
for i in range(20000):
    print(f"add 5 10.{(i >> 8) & 255}.{i & 255}.0/24 1")
print("add 5 10.0.0.0/33 1")
print("del 5 10.200.0.0/24")' > /tmp/vt-batch.txt
  out=$(vrctl rt --batch /tmp/vt-batch.txt 2>&1) && fail "batch with bad lines succeeded"
  case "$out" in *"20000 ok, 2 failed"*) ;; *) fail "batch summary: $out";; esac
  expect_eq "routes installed" 20000 "$(vrctl vrouter --info --json | jq .routes_v4)"
  expect_eq "dump size" 20000 "$(vrctl rt --dump 5 --json | jq length)"
  rmmod vrouter || fail "rmmod with 20000 routes"
}
