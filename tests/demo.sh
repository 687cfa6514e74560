#!/usr/bin/env bash
# `make demo`: load the module, put two pods (network namespaces) on veth pairs, attach
# the host ends as virtual vifs, create vhost0, send a little traffic, show the table.
set -eu
cd "$(dirname "$0")/.."
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
step "insmod kmod/vrouter.ko"
insmod kmod/vrouter.ko
genl ctrl list | grep -A1 'Name: vrouter'
for i in 1 2; do
  ip netns add pod$i
  ip link add tappod$i type veth peer name eth0 netns pod$i
  ip link set tappod$i up
  ip -n pod$i link set eth0 up
  ip -n pod$i addr add 10.44.0.$((10 + i))/24 dev eth0
  step "vrctl vif --add tappod$i --type virtual --vrf 1"
  vrctl vif --add tappod$i --type virtual --vrf 1 --policy
done
step "vrctl vif --create vhost0 --mac 00:00:5e:00:01:00"
vrctl vif --create vhost0 --mac 00:00:5e:00:01:00
step "ping from pod1 (counted on its vif; forwarding arrives with the L3 datapath)"
ip netns exec pod1 ping -c 3 -i 0.2 -W 1 10.44.0.12 || true
step "vrctl vif --list"
vrctl vif --list
step "rmmod vrouter"
rmmod vrouter
echo "unloaded; vifs detached"
