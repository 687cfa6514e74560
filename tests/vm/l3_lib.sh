# The L3 test topology (see the layout below), shared by the L3 and flow tests.
#
# Layout (VRF 1: A, B and D; VRF 2: C with A's addresses):
#   vhost0 vif0/0  10.255.0.1 fd00:ff::1  (the host; Receive nexthop 1)
#   A      vif0/1  10.1.0.2  fd00:1::2    nh 10      B  vif0/2  10.1.0.3  fd00:1::3  nh 11
#   C      vif0/3  10.1.0.2  fd00:1::2    nh 12      D  vif0/4  10.1.0.4            nh 13
# Gateway 10.1.0.1 / fd00:1::1: /32 and /128 routes to nexthop 1 with proxy ARP.
# VIF_POLICY=1 before `setup` turns policy (flow lookup) on for every pod vif.

GW=00:00:5e:00:01:00
# The kernel's YNL client; the spec is checked against the schema once, by test_module.
ynl() { python3 tests/vm/tools/ynl.py --spec kmod/uapi/vrouter.yaml --no-schema "$@"; }
mac_of() { ip -n "$1" -br link show eth0 | awk '{print $3}'; }
# pod <ns> <host end> <vrf> <ipv4> [ipv6]: a namespace behind a veth, attached as a vif
pod() {
  mkveth "$2" "$1"
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.eth0.accept_ra=0 \
    net.ipv6.conf.eth0.router_solicitations=0 net.ipv6.conf.eth0.accept_dad=0
  ip -n "$1" addr add "$4/24" dev eth0
  ip -n "$1" route add default via 10.1.0.1
  if [ -n "${5:-}" ]; then
    ip -n "$1" addr add "$5/64" dev eth0 nodad
    ip -n "$1" -6 route add default via fd00:1::1
  fi
  vrctl vif --add "$2" --type virtual --vrf "$3" ${VIF_POLICY:+--policy} >/dev/null
}
# encap <nh> <oif> <ns>: an Encap nexthop that rewrites to the pod's MAC
encap() { vrctl nh --create "$1" --type encap --oif "$2" --dmac "$(mac_of "$3")" --smac $GW >/dev/null; }
route() { vrctl rt -c -v "$1" -p "$2" -n "$3" ${4:-} >/dev/null; }
setup() { load; setup_topology; }
setup_topology() {
  vrctl vif --create vtvhost0 --mac $GW --ip 10.255.0.1 --ip6 fd00:ff::1 >/dev/null
  ip link set vtvhost0 up
  pod vtnsa vta 1 10.1.0.2 fd00:1::2
  pod vtnsb vtb 1 10.1.0.3 fd00:1::3
  pod vtnsc vtc 2 10.1.0.2 fd00:1::2
  pod vtnsd vtd 1 10.1.0.4
  vrctl nh --create 1 --type rcv --oif 0 >/dev/null
  encap 10 1 vtnsa; encap 11 2 vtnsb; encap 12 3 vtnsc; encap 13 4 vtnsd
  for v in 1 2; do route $v 10.1.0.1/32 1 -P; route $v fd00:1::1/128 1 -P; done
  route 1 10.1.0.2/32 10 -P; route 1 fd00:1::2/128 10 -P
  route 1 10.1.0.3/32 11 -P; route 1 fd00:1::3/128 11 -P
  route 1 10.1.0.4/32 13 -P
  route 2 10.1.0.2/32 12 -P; route 2 fd00:1::2/128 12 -P
  route 1 0.0.0.0/0 1; route 1 ::/0 1
}
tx() { vif_field "$1" .stats.tx_packets; }
rx() { vif_field "$1" .stats.rx_packets; }
# drops <counter>: a dropstats counter by its JSON name (a name that does not exist fails)
drops() { vrctl dropstats --json | jq -er --arg k "$1" 'if has($k) then .[$k] else error("no drop counter \($k)") end'; }
# quiet <vif>: waits until the vif's receive counter stops moving (IPv6 join reports)
quiet() {
  local a b i
  for i in $(seq 20); do a=$(rx "$1"); sleep 0.5; b=$(rx "$1"); [ "$a" = "$b" ] && return 0; done
  fail "vif $1 never went quiet"
}
