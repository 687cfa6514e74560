#!/usr/bin/env bash
# Flow setup figures, in one VM boot:
# - `vrctl flow -p 100000`: flows created (and deleted) through netlink per second;
# - new TCP connections per second between two pods: policy off (no flow table), policy
#   on (every connection a miss, a Hold, an agent verdict), and Linux conntrack (two
#   namespaces routed by the host with nft `ct state new accept` in the forward hook).
# Each connection rate is one client doing connect/recv/close for $SECS seconds.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/vm/lib.sh
. tests/vm/agent_lib.sh
SECS=${SECS:-5}

conn_rate() { # conn_rate <client netns> <server ip>: connections per second ("n/a" if stuck)
  timeout $((SECS + 60)) ip netns exec "$1" python3 -c '
import socket, sys, time
n, end = 0, time.time() + float(sys.argv[2])
while time.time() < end:
    s = socket.create_connection((sys.argv[1], 8080), timeout=5); s.recv(10); s.close(); n += 1
print(round(n / float(sys.argv[2])))' "$2" "$SECS" || echo n/a
}
# server <netns>: accepts and closes connections on 8080; $! is its pid (ip netns exec
# execs it). Its output goes nowhere: started inside $(vrouter_rate), a server holding
# the pipe would keep the substitution open forever.
server() {
  ip netns exec "$1" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(512)
while True:
    c, _ = s.accept(); c.sendall(b"x"); c.close()' >/dev/null 2>&1 &
}
pods() { # pods: two CNI pods vtfa, vtfb; prints b's address
  local r
  ip netns add vtfa; ip netns add vtfb
  cni_ok ADD c-vtfa vtfa eth0 "$(conf 1.0.0)" >/dev/null
  r=$(cni_ok ADD c-vtfb vtfb eth0 "$(conf 1.0.0)")
  r=$(jq -r '.ips[0].address' <<<"$r"); echo "${r%/*}"
}
vrouter_rate() { # vrouter_rate <agent network extra>: connections/s between two CNI pods
  cleanup; load
  AGENT_LOG_LEVEL=warn AGENT_NET_EXTRA="$1" agent_start
  local b; b=$(pods)
  server vtfb; local spid=$!; sleep 1
  ip netns exec vtfa ping -c 1 -W 5 "$b" >/dev/null || true
  conn_rate vtfa "$b"
  kill "$spid"
}

cleanup; load
# Every step is bounded, so a stuck one costs its limit and the other figures still print.
out=$(timeout 600 vrctl flow -p 100000 --json || echo '{"created": 0, "create_ms": 0, "delete_ms": 0}')
create_ms=$(jq .create_ms <<<"$out"); created=$(jq .created <<<"$out"); delete_ms=$(jq .delete_ms <<<"$out")

off=$(vrouter_rate "")
on=$(vrouter_rate "[networks.policy]")
setups=$(curl -sf "$AGENT_URL/metrics" | awk -F' ' '/flow_events_total\{event="setup"\}/ {print $2}')

# Linux: the host routes between two veths, conntrack on through nft.
cleanup
mkveth vtca vtla; mkveth vtcb vtlb
ip addr add 10.97.1.1/24 dev vtca; ip -n vtla addr add 10.97.1.2/24 dev eth0; ip -n vtla route add default via 10.97.1.1
ip addr add 10.97.2.1/24 dev vtcb; ip -n vtlb addr add 10.97.2.2/24 dev eth0; ip -n vtlb route add default via 10.97.2.1
sysctl -qw net.ipv4.ip_forward=1
nft -f - <<'EOF'
table inet vtbench {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    ct state new accept
  }
}
EOF
server vtlb; spid=$!; sleep 1
ct=$(conn_rate vtla 10.97.2.2)
kill "$spid"
nft delete table inet vtbench

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "flow setup"
awk -v n="$created" -v c="$create_ms" -v d="$delete_ms" \
  'BEGIN {printf "  vrctl flow -p 100000: %d created in %.0f ms (%.0f flows/s), deleted in %.0f ms\n", n, c, (c > 0 ? n / (c / 1000) : 0), d}'
echo "  new TCP connections/s between two pods ($SECS s, one client):"
printf '    vrouter, policy off   %6s\n' "$off"
printf '    vrouter, policy on    %6s   (agent setups: %s)\n' "$on" "${setups:-?}"
printf '    Linux conntrack (nft) %6s\n' "$ct"
echo "  ratios: policy on/off $(ratio "$on" "$off"), policy on/conntrack $(ratio "$on" "$ct"), policy off/conntrack $(ratio "$off" "$ct")"
cleanup
