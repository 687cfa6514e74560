#!/usr/bin/env bash
# `make demo`: load the module, put two pods (network namespaces) on veth pairs, wire them
# with vrctl only (vifs, encap nexthops, /32 and /128 routes with proxy ARP, a gateway
# route to the host), then ping between them and show the tables TF operators know.
set -eu
cd "$(dirname "$0")/.."
GW=00:00:5e:00:01:00
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
step "insmod kmod/vrouter.ko"
insmod kmod/vrouter.ko
genl ctrl list | grep -A1 'Name: vrouter'
step "vhost0 (the host's vif) and a Receive nexthop to it"
run vrctl vif --create vhost0 --mac $GW --ip 10.44.255.1 --ip6 fd44:ff::1 >/dev/null
ip link set vhost0 up
run vrctl nh --create 1 --type rcv --oif 0 >/dev/null
for i in 1 2; do
  ip netns add pod$i
  ip link add tappod$i type veth peer name eth0 netns pod$i
  ip link set tappod$i up
  ip -n pod$i link set lo up
  ip -n pod$i link set eth0 up
  ip netns exec pod$i sysctl -qw net.ipv6.conf.eth0.accept_dad=0
  ip -n pod$i addr add 10.44.0.$((10 + i))/24 dev eth0
  ip -n pod$i addr add fd44::$((10 + i))/64 dev eth0 nodad
  ip -n pod$i route add default via 10.44.0.1
  ip -n pod$i -6 route add default via fd44::1
  mac=$(ip -n pod$i -br link show eth0 | awk '{print $3}')
  step "pod$i: 10.44.0.$((10 + i)), fd44::$((10 + i)), MAC $mac"
  run vrctl vif --add tappod$i --type virtual --vrf 1 >/dev/null
  run vrctl nh --create $((20 + i)) --type encap --oif $i --dmac "$mac" --smac $GW >/dev/null
  run vrctl rt -c -v 1 -p 10.44.0.$((10 + i))/32 -n $((20 + i)) -P >/dev/null
  run vrctl rt -c -v 1 -p fd44::$((10 + i))/128 -n $((20 + i)) -P >/dev/null
done
step "the gateway (10.44.0.1, fd44::1) is the host: Receive nexthop, proxy ARP/ND"
run vrctl rt -c -v 1 -p 10.44.0.1/32 -n 1 -P >/dev/null
run vrctl rt -c -v 1 -p fd44::1/128 -n 1 -P >/dev/null
step "pod1 -> pod2 through the Rust datapath, IPv4 and IPv6"
ip netns exec pod1 ping -c 3 -i 0.2 -W 2 10.44.0.12
ip netns exec pod1 ping -6 -c 3 -i 0.2 -W 2 fd44::12
step "TTL 1: the vRouter answers with ICMP time exceeded"
ip netns exec pod1 ping -c 1 -t 1 -W 2 10.44.0.12 || true
step "vrctl vif --list"
vrctl vif --list
step "vrctl nh --list"
vrctl nh --list
step "vrctl rt --dump 1 ; vrctl rt --dump 1 --family inet6"
vrctl rt --dump 1
vrctl rt --dump 1 --family inet6
step "vrctl dropstats ; vrctl vrfstats --get 1"
vrctl dropstats
vrctl vrfstats --get 1
step "vrctl vrouter --info"
vrctl vrouter --info
step "rmmod vrouter (vifs attached, routes installed)"
rmmod vrouter
echo "unloaded; vifs detached"
