# Flow policy end to end: pods made by the CNI plugin, the agent deciding every new flow
# from its config (rules, services), the kernel holding the first packet until then.
. tests/vm/agent_lib.sh

# Ingress to the default network: TCP 8080, UDP 5353 and ICMP only.
POLICY=$(ingress_policy deny tcp:8080 udp:5353 icmp)
# An empty policy table: everything allowed, but every flow goes through the agent.
OPEN='[networks.policy]'

# pod_up <netns>: a pod through the CNI plugin; prints its IPv4 address
pod_up() {
  ip netns add "$1"
  local r; r=$(cni_ok ADD "c-$1" "$1" eth0 "$(conf 1.0.0)") || exit 1
  r=$(jq -r '.ips[0].address' <<<"$r"); echo "${r%/*}"
}
drops() { vrctl dropstats --json | jq -r ".$1 // 0"; }
# tcp_server <netns> <port> <name>: answers every connection with <name>
tcp_server() {
  ip netns exec "$1" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(64)
while True:
    c, _ = s.accept(); c.sendall(sys.argv[2].encode()); c.close()' "$2" "$3" &
}
# udp_echo <netns> <port>: answers every datagram with "<its name>"
udp_echo() {
  ip netns exec "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    d, a = s.recvfrom(100); s.sendto(sys.argv[2].encode(), a)' "$2" "$3" &
}
# tcp_get <netns> <ip> <port> [timeout]: prints what the server said; fails when no connection
tcp_get() {
  ip netns exec "$1" python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
print(s.recv(100).decode())' "$2" "$3" "${4:-5}" 2>/dev/null
}
# udp_get <netns> <ip> <port>: prints "<answer> <source ip>:<source port>"
udp_get() {
  ip netns exec "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(b"q", (sys.argv[1], int(sys.argv[2]))); d, a = s.recvfrom(100)
print(d.decode(), "%s:%d" % a)' "$2" "$3" 2>/dev/null
}
flows_json() { vrctl flow -l --json | jq '.flows'; }

test_policy_allows_denies_and_ages_flows() {
  load
  AGENT_NET_EXTRA=$POLICY AGENT_TAIL=$'[flows]\naging-seconds = 20' agent_start
  a=$(pod_up vtpa); b=$(pod_up vtpb)
  expect_eq "pod vifs with policy" 2 "$(vrctl vif --list | grep -c 'Type:Virtual' )"
  expect_eq "policy flag on both" 2 "$(vrctl vif --list | grep -c 'Flags:PL3L2')"
  tcp_server vtpb 8080 b; tcp_server vtpb 9090 b; udp_echo vtpb 5353 b
  sleep 1
  expect_eq "allowed TCP" b "$(tcp_get vtpa "$b" 8080)"
  out=$(udp_get vtpa "$b" 5353) || fail "allowed UDP got no answer"
  expect_eq "UDP answer" "b $b:5353" "$out"
  ip netns exec vtpa ping -c 2 -W 2 "$b" >/dev/null || fail "allowed ICMP"
  before=$(drops flow_action_drop)
  tcp_get vtpa "$b" 9090 2 && fail "denied TCP port connected"
  [ "$(drops flow_action_drop)" -gt "$before" ] || fail "denied traffic not counted as Flow Action Drop"
  # the listing: the UDP pair, linked both ways, with the packets of each direction (the
  # JSON and the text taken together: the pair ages out 20 s after its last packet, and
  # on a loaded host the checks between two dumps took that long)
  f=$(flows_json)
  text=$(vrctl flow -l)
  u=$(jq -c --arg a "$a" --arg b "$b" '.[] | select(.src == $a and .dst == $b and .dport == 5353)' <<<"$f")
  [ -n "$u" ] || fail "no forward UDP entry in: $f"
  r=$(jq -c --argjson i "$(jq .rindex <<<"$u")" '.[] | select(.index == $i)' <<<"$f")
  expect_eq "reverse entry's key" "$b:5353>$a" "$(jq -r '"\(.src):\(.sport)>\(.dst)"' <<<"$r")"
  expect_eq "reverse links back" "$(jq .index <<<"$u")" "$(jq .rindex <<<"$r")"
  expect_eq "forward packets" 1 "$(jq .packets <<<"$u")"
  expect_eq "reverse packets" 1 "$(jq .packets <<<"$r")"
  d=$(jq -c --arg a "$a" --arg b "$b" '.[] | select(.src == $a and .dst == $b and .dport == 9090)' <<<"$f")
  expect_eq "denied flow's action" drop "$(jq -r .action <<<"$d")"
  grep -q "<=>" <<<"$text" || fail "flow -l shows no linked pair: $text"
  grep -q "$a:[0-9]* *17 (1)" <<<"$text" || fail "flow -l lacks the UDP entry: $text"
  grep -q "Action:D(Flow Action Drop)" <<<"$text" || fail "flow -l lacks the dropped flow: $text"
  # closed TCP connections go at the next sweep; idle flows after the aging time
  wait_for 5 bash -c "! vrctl flow -l --json | jq -e '.flows[] | select(.dport == 8080)'" || fail "closed TCP flow not removed"
  wait_for 45 bash -c "[ \"\$(vrctl flow -l --json | jq '.flows | length')\" = 0 ]" || fail "flows not aged out: $(vrctl flow -l)"
  m=$(curl -sf "$AGENT_URL/metrics")
  grep -Eq 'vrouter_agent_flow_events_total\{event="setup"\} [1-9]' <<<"$m" || fail "no setups in metrics"
  grep -Eq 'vrouter_agent_flow_events_total\{event="denied"\} [1-9]' <<<"$m" || fail "no denials in metrics"
  grep -Eq 'vrouter_agent_flow_events_total\{event="aged"\} [1-9]' <<<"$m" || fail "no aged flows in metrics"
}

# service <vip> <port> <proto> <backend>...: a [[services]] table
service() {
  local vip=$1 port=$2 proto=$3; shift 3
  local list; list=$(printf '"%s",' "$@")
  printf '[[services]]\nname = "%s-%s"\nvip = "%s"\nport = %s\nproto = "%s"\nbackends = [%s]\n' "$proto" "$port" "$vip" "$port" "$proto" "${list%,}"
}

test_policy_service_vip_reaches_backends_and_answers_from_the_vip() {
  # A nexthop table smaller than the default: the agent reads its size (INFO_GET) and
  # places the VIP composites inside it.
  load vr_nexthops=1024
  AGENT_NET_EXTRA=$OPEN agent_start
  c=$(pod_up vtpc); b1=$(pod_up vtpb1); b2=$(pod_up vtpb2)
  agent_stop
  vip=10.96.0.10
  AGENT_NET_EXTRA=$OPEN AGENT_TAIL="$(service $vip 80 tcp "$b1:8080" "$b2:8080")
$(service $vip 53 udp "$b1:5353" "$b2:5353")" agent_config
  agent_start
  tcp_server vtpb1 8080 b1; tcp_server vtpb2 8080 b2; udp_echo vtpb1 5353 b1; udp_echo vtpb2 5353 b2
  wait_for 10 bash -c "vrctl rt --get $vip/32 --vrf 1 --json | jq -e 'select(.prefix == \"$vip/32\")'" || fail "no VIP route: $(vrctl rt --dump 1)"
  nh=$(vrctl rt --get $vip/32 --vrf 1 --json | jq -r '.nh')
  [ "$nh" -ge 100 ] && [ "$nh" -lt 1024 ] || fail "VIP composite id $nh is outside the agent's ids of a 1024-entry table"
  sleep 1
  seen=""
  for i in $(seq 10); do
    got=$(tcp_get vtpc $vip 80) || fail "connection $i to the VIP failed"
    seen="$seen $got"
  done
  n=$(tr ' ' '\n' <<<"$seen" | sort -u | grep -c .)
  [ "$n" -gt 1 ] || fail "10 connections reached one backend only:$seen"
  # UDP: the answer's source is the VIP and its port, not the backend
  out=$(udp_get vtpc $vip 53) || fail "UDP to the VIP got no answer"
  case "$out" in "b1 $vip:53"|"b2 $vip:53") ;; *) fail "UDP answer not from the VIP: $out";; esac
  # the forward entry rewrites the destination (DNAT+DPAT), the reverse the source
  f=$(flows_json)
  fw=$(jq -c --arg c "$c" --arg v "$vip" '.[] | select(.src == $c and .dst == $v and .dport == 53)' <<<"$f")
  expect_eq "VIP entry rewrites the destination" "nat dnat dpat" "$(jq -r '[.action, (.flag_names[] | select(test("nat|pat")))] | join(" ")' <<<"$fw")"
  rv=$(jq -c --argjson i "$(jq .rindex <<<"$fw")" '.[] | select(.index == $i)' <<<"$f")
  expect_eq "reply entry rewrites the source" "nat snat spat" "$(jq -r '[.action, (.flag_names[] | select(test("nat|pat")))] | join(" ")' <<<"$rv")"
  # b2 leaves the service: new connections all land on b1
  agent_stop
  AGENT_NET_EXTRA=$OPEN AGENT_TAIL="$(service $vip 80 tcp "$b1:8080")" agent_config
  agent_start
  seen=""
  for i in $(seq 10); do
    got=$(tcp_get vtpc $vip 80) || fail "connection $i after the change failed"
    seen="$seen $got"
  done
  expect_eq "backends after b2 left" "b1" "$(tr ' ' '\n' <<<"$seen" | sort -u | grep .)"
}

test_policy_flood_of_new_flows_is_bounded() {
  # A small Hold limit, so this VM's flood (a few thousand new flows a second under TCG)
  # outruns it while the agent is paused.
  load vr_flow_hold_limit=2048
  AGENT_NET_EXTRA=$OPEN agent_start
  a=$(pod_up vtpa); b=$(pod_up vtpb)
  ip netns exec vtpa ping -c 1 -W 3 "$b" >/dev/null || fail "first ping"
  mem0=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
  drops0=$(drops new_flow_drops)
  # an established flow keeps going during the flood
  ip netns exec vtpa ping -c 60 -i 0.1 -W 1 "$b" > /tmp/vt-flood-ping.out 2>&1 &
  pinger=$!
  sleep 1.5   # its flow is set up before the agent pauses
  [ -x out/udpflood ] || fail "out/udpflood missing (make tools builds it)"
  # 3 s of new UDP flows as fast as this VM makes them, the agent stopped meanwhile:
  # misses pile up to the limit, the rest are counted drops
  kill -STOP "$(cat "$AGENT_DIR/pid")"
  ip netns exec vtpa out/udpflood "$b" 3 > /tmp/vt-flood-sent &
  flooder=$!
  maxhold=0
  while kill -0 $flooder 2>/dev/null; do
    h=$(vrctl flow -s --interval 0.1 --json 2>/dev/null | jq .hold 2>/dev/null || echo 0)
    [ "${h:-0}" -gt "$maxhold" ] && maxhold=$h
  done
  h=$(vrctl flow -s --interval 0.1 --json | jq .hold); [ "$h" -gt "$maxhold" ] && maxhold=$h
  kill -CONT "$(cat "$AGENT_DIR/pid")"
  wait $flooder
  sent=$(cat /tmp/vt-flood-sent)
  limit=$(vrctl flow -s --interval 0.1 --json | jq .hold_limit)
  expect_eq "hold limit" 2048 "$limit"
  [ "$maxhold" -le "$limit" ] || fail "hold entries $maxhold above the limit $limit"
  dropped=$(( $(drops new_flow_drops) - drops0 ))
  [ "$dropped" -gt 0 ] || fail "no New Flow Drops although $sent new flows met a paused agent (max hold $maxhold)"
  wait $pinger
  received=$(grep -o '[0-9]* received' /tmp/vt-flood-ping.out | cut -d' ' -f1)
  [ "${received:-0}" -ge 48 ] || fail "established flow lost too much during the flood: $(tail -2 /tmp/vt-flood-ping.out)"
  # the agent catches up: no Hold entry is left waiting
  wait_for 60 bash -c "[ \"\$(vrctl flow -s --interval 0.1 --json | jq .hold)\" = 0 ]" || fail "Hold entries left: $(vrctl flow -s --interval 0.1)"
  mem1=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
  [ $(( mem0 - mem1 )) -lt 65536 ] || fail "memory grew by $(( (mem0 - mem1) / 1024 )) MiB during the flood"
  echo "    flood: sent $sent new flows in 3 s ($(( sent / 3 ))/s), max hold $maxhold/$limit, new-flow drops $dropped, ping $received/60, entries $(vrctl flow -s --interval 0.1 --json | jq .used), memory $(( (mem0 - mem1) / 1024 )) MiB" >&2
  curl -sf "$AGENT_URL/health" >/dev/null || fail "agent unhealthy after the flood"
}

test_policy_vrctl_flow_perf_creates_and_removes() {
  load
  out=$(vrctl flow -p 2000 --json) || fail "flow -p: $out"
  expect_eq "flows created by flow -p" 2000 "$(jq .created <<<"$out")"
  expect_eq "flows deleted by flow -p" 2000 "$(jq .deleted <<<"$out")"
  expect_eq "entries left by flow -p" 0 "$(vrctl flow -l --json | jq '.flows | length')"
}
