#!/usr/bin/env bash
# In-VM benchmark (make bench): the same two namespaces talk through vrouter, through a
# Linux bridge and through plain Linux routing, in one boot; then 100,000 IPv4 routes go
# in through `vrctl rt --batch` and through `ip -batch`. Prints figures and ratios.
cd "$(dirname "$0")/../.."
. tests/vm/lib.sh
set -e
SECS=${VR_BENCH_SECS:-5}
GW=00:00:5e:00:01:00
declare -A TCP UDP

ns_pair() { # <a-addr/len> <b-addr/len>
  mkveth vta vtnsa; mkveth vtb vtnsb
  ip -n vtnsa addr add "$1" dev eth0; ip -n vtnsb addr add "$2" dev eth0
}
# measure <label>: iperf3 TCP throughput and 64-byte-frame UDP packet rate from A to B
# (the server in namespace $BNS, vtnsb unless told)
measure() {
  local bns=${BNS:-vtnsb}
  ip netns exec "$bns" iperf3 -s -D -1 -p 5201 >/dev/null; sleep 0.3
  TCP[$1]=$(ip netns exec vtnsa iperf3 -c "$BADDR" -p 5201 -t "$SECS" -J | jq '.end.sum_received.bits_per_second / 1e9')
  ip netns exec "$bns" iperf3 -s -D -1 -p 5202 >/dev/null; sleep 0.3
  # 22 bytes of UDP payload: a 64-byte Ethernet frame with FCS
  UDP[$1]=$(ip netns exec vtnsa iperf3 -c "$BADDR" -p 5202 -u -b 0 -l 22 -t "$SECS" -J |
    jq '(.end.sum.packets - .end.sum.lost_packets) / .end.sum.seconds')
  printf '  %-10s TCP %8.3f Gbit/s   UDP 64B %10.0f pkt/s received\n' "$1" "${TCP[$1]}" "${UDP[$1]}"
}

echo "== forwarding between two namespaces ($SECS s each, TCG unless VR_ACCEL=kvm)"
# vrouter: pods wired with vrctl, as in tests/vm/test_l3.sh
cleanup; load
ns_pair 10.1.0.2/24 10.1.0.3/24
for ns in vtnsa vtnsb; do ip -n $ns route add default via 10.1.0.1; done
vrctl vif --add vta --type virtual --vrf 1 >/dev/null
vrctl vif --add vtb --type virtual --vrf 1 >/dev/null
vrctl nh --create 10 --type encap --oif 0 --dmac "$(ip -n vtnsa -br link show eth0 | awk '{print $3}')" --smac $GW >/dev/null
vrctl nh --create 11 --type encap --oif 1 --dmac "$(ip -n vtnsb -br link show eth0 | awk '{print $3}')" --smac $GW >/dev/null
vrctl rt -c -v 1 -p 10.1.0.2/32 -n 10 -P >/dev/null
vrctl rt -c -v 1 -p 10.1.0.3/32 -n 11 -P >/dev/null
BADDR=10.1.0.3 measure vrouter

# Linux bridge
cleanup
ns_pair 10.1.0.2/24 10.1.0.3/24
ip link add vtbr type bridge; ip link set vtbr up
ip link set vta master vtbr; ip link set vtb master vtbr
BADDR=10.1.0.3 measure bridge
ip link del vtbr

# plain Linux routing between veths
cleanup
ns_pair 10.1.0.2/24 10.2.0.2/24
ip addr add 10.1.0.1/24 dev vta; ip addr add 10.2.0.1/24 dev vtb
ip -n vtnsa route add default via 10.1.0.1; ip -n vtnsb route add default via 10.2.0.1
sysctl -qw net.ipv4.ip_forward=1
BADDR=10.2.0.2 measure routing
sysctl -qw net.ipv4.ip_forward=0
cleanup

ratio() { echo "$1 $2" | awk '{ if ($2 > 0) printf "%.2f", $1 / $2; else print "n/a" }'; }
echo "  ratios vrouter/bridge:  TCP $(ratio "${TCP[vrouter]}" "${TCP[bridge]}")  UDP $(ratio "${UDP[vrouter]}" "${UDP[bridge]}")"
echo "  ratios vrouter/routing: TCP $(ratio "${TCP[vrouter]}" "${TCP[routing]}")  UDP $(ratio "${UDP[vrouter]}" "${UDP[routing]}")"

echo "== across the fabric: VXLAN to another node (a namespace behind a veth, Linux's VXLAN"
echo "   device decapsulating there); the encapsulating side is vrouter, then Linux (flannel-style)"
# the other node: vtremote, 192.168.77.2, its pod address 10.2.0.2 on vx0 (VNI 200)
remote_node() {
  ip netns add vtremote
  ip link add vtfab address 02:00:00:00:0f:01 type veth peer name eth0 netns vtremote
  ip link set vtfab up; ip -n vtremote link set lo up; ip -n vtremote link set eth0 up
  ip addr add 192.168.77.1/24 dev vtfab; ip -n vtremote addr add 192.168.77.2/24 dev eth0
  ip -n vtremote link add vx0 address "$1" type vxlan id 200 local 192.168.77.2 \
    remote 192.168.77.1 dstport 4789 dev eth0
  ip -n vtremote link set vx0 up; ip -n vtremote addr add 10.2.0.2/24 dev vx0
  ip -n vtremote route add 10.1.0.0/24 dev vx0
  ip -n vtremote neigh add 10.1.0.2 lladdr "$1" dev vx0
}
cleanup; load
mkveth vta vtnsa; ip -n vtnsa addr add 10.1.0.2/24 dev eth0; ip -n vtnsa link set eth0 mtu 1450
ip -n vtnsa route add default via 10.1.0.1
remote_node $GW
vrctl vif --create vtvhost0 --mac $GW --ip 10.255.0.1 >/dev/null
vrctl vif --add vtfab --type physical --ip 192.168.77.1 >/dev/null
vrctl vif --add vta --type virtual --vrf 1 >/dev/null
vrctl nh --create 1 --type rcv --oif 0 >/dev/null
vrctl nh --create 10 --type encap --oif 2 --dmac "$(ip -n vtnsa -br link show eth0 | awk '{print $3}')" --smac $GW >/dev/null
vrctl nh --create 21 --type tunnel --oif 1 --smac 02:00:00:00:0f:01 \
  --dmac "$(ip -n vtremote -br link show eth0 | awk '{print $3}')" --sip 192.168.77.1 --dip 192.168.77.2 --vxlan >/dev/null
vrctl nh --create 30 --type vrf-translate --vrf 1 >/dev/null
vrctl vxlan --create 200 --nh 30 >/dev/null
vrctl rt -c -v 1 -p 10.1.0.1/32 -n 1 -P >/dev/null
vrctl rt -c -v 1 -p 10.1.0.2/32 -n 10 -P >/dev/null
vrctl rt -c -v 1 -p 10.2.0.0/24 -n 21 -t 200 >/dev/null
BNS=vtremote BADDR=10.2.0.2 measure vr-vxlan
# Linux: the pod's veth routed by the host into its own VXLAN device (flannel's vxlan backend)
cleanup
mkveth vta vtnsa; ip -n vtnsa addr add 10.1.0.2/24 dev eth0; ip -n vtnsa link set eth0 mtu 1450
ip addr add 10.1.0.1/24 dev vta; ip -n vtnsa route add default via 10.1.0.1
remote_node 02:00:00:00:0e:02
ip link add vtvx0 address 02:00:00:00:0e:01 type vxlan id 200 local 192.168.77.1 \
  remote 192.168.77.2 dstport 4789 dev vtfab
ip link set vtvx0 up; ip addr add 10.2.0.1/32 dev vtvx0
ip route add 10.2.0.0/24 dev vtvx0; ip neigh add 10.2.0.2 lladdr 02:00:00:00:0e:02 dev vtvx0
ip -n vtremote neigh replace 10.1.0.2 lladdr 02:00:00:00:0e:01 dev vx0
sysctl -qw net.ipv4.ip_forward=1
BNS=vtremote BADDR=10.2.0.2 measure linux-vxlan
sysctl -qw net.ipv4.ip_forward=0
ip link del vtvx0
cleanup
echo "  ratios vrouter/linux VXLAN: TCP $(ratio "${TCP[vr-vxlan]}" "${TCP[linux-vxlan]}")  UDP $(ratio "${UDP[vr-vxlan]}" "${UDP[linux-vxlan]}")"

echo "== route install: 100000 IPv4 /24 routes"
N=100000
python3 -c "
for i in range($N):
    print(f'add 1 {10 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}.0/24 1')" > /tmp/vt-rt.batch
python3 -c "
for i in range($N):
    print(f'route add {10 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}.0/24 dev vtdummy table 100')" > /tmp/vt-ip.batch
load
vrctl vif --create vtvhost0 --mac $GW >/dev/null
vrctl nh --create 1 --type rcv --oif 0 >/dev/null
t0=$(date +%s.%N); vrctl rt --batch /tmp/vt-rt.batch >/dev/null; t1=$(date +%s.%N)
[ "$(vrctl vrouter --info --json | jq .routes_v4)" = $N ] || { echo "vrouter did not install $N routes"; exit 1; }
ip link add vtdummy type dummy; ip link set vtdummy up
t2=$(date +%s.%N); ip -batch /tmp/vt-ip.batch; t3=$(date +%s.%N)
[ "$(ip route show table 100 | wc -l)" = $N ] || { echo "ip did not install $N routes"; exit 1; }
vr=$(echo "$N / ($t1 - $t0)" | bc); lx=$(echo "$N / ($t3 - $t2)" | bc)
printf '  vrctl rt --batch  %8d routes/s (%.2f s)\n' "$vr" "$(echo "$t1 - $t0" | bc)"
printf '  ip -batch         %8d routes/s (%.2f s)\n' "$lx" "$(echo "$t3 - $t2" | bc)"
echo "  ratio vrouter/ip-batch: $(ratio "$vr" "$lx")"
ip link del vtdummy
cleanup
