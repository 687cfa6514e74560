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
measure() {
  ip netns exec vtnsb iperf3 -s -D -1 -p 5201 >/dev/null; sleep 0.3
  TCP[$1]=$(ip netns exec vtnsa iperf3 -c "$BADDR" -p 5201 -t "$SECS" -J | jq '.end.sum_received.bits_per_second / 1e9')
  ip netns exec vtnsb iperf3 -s -D -1 -p 5202 >/dev/null; sleep 0.3
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
