# The flow table in the kernel, driven without the agent: pods on policy-enabled vifs
# (the L3 topology of l3_lib.sh), verdicts set by hand over netlink with the kernel's YNL
# client, so these tests check the module alone. The agent's policy is test_policy.sh.

. tests/vm/l3_lib.sh

hexip() { printf '%02x' ${1//./ }; }                      # 10.1.0.2 -> 0a010002
flows() { ynl --dump flow-get --output-json; }            # every entry, as JSON
ftable() { ynl --do flow-table-get --output-json; }
# hold_of <src ip> <dst ip> <proto>: "index gen" of the Hold entry for that pair
hold_of() {
  flows | jq -r --arg s "$(hexip "$1")" --arg d "$(hexip "$2")" --argjson p "$3" \
    '.[] | select(.src == $s and .dst == $d and .proto == $p and .action == "hold") | "\(.index) \(.gen)"' | head -1
}
wait_hold() { # wait_hold <src> <dst> <proto>: prints "index gen" once the entry exists
  local i h
  for i in $(seq 50); do h=$(hold_of "$@"); [ -n "$h" ] && { echo "$h"; return 0; }; sleep 0.1; done
  fail "no Hold entry for $1 -> $2 proto $3"
}
wait_for_file_text() { local i; for i in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# new_flow <json>: FLOW_NEW, prints the new entry's index
new_flow() { ynl --do flow-new --json "$1" --output-json | jq -r .index; }

# nat_pair_to_vip <backend vrf> <backend ip>: A's UDP flow 10.1.0.2:5000 -> "VIP"
# 10.1.0.99:7, DNATed to the backend's port 9, whose answers (keyed in its VRF) are
# SNATed back; prints "forward-index reverse-index"
nat_pair_to_vip() {
  local fwd rev gen
  fwd=$(new_flow "{\"vrf\": 1, \"family\": \"inet\", \"proto\": 17, \"src\": \"$(hexip 10.1.0.2)\", \"dst\": \"$(hexip 10.1.0.99)\", \"sport\": 5000, \"dport\": 7, \"action\": \"forward\"}")
  rev=$(new_flow "{\"vrf\": $1, \"family\": \"inet\", \"proto\": 17, \"src\": \"$(hexip "$2")\", \"dst\": \"$(hexip 10.1.0.2)\", \"sport\": 9, \"dport\": 5000, \"action\": \"nat\", \"flags\": [\"snat\", \"spat\"], \"rindex\": $fwd}")
  gen=$(flows | jq ".[] | select(.index == $fwd) | .gen")
  ynl --do flow-new --json "{\"index\": $fwd, \"gen\": $gen, \"action\": \"nat\", \"flags\": [\"dnat\", \"dpat\"], \"rindex\": $rev}" >/dev/null || fail "NAT verdict"
  echo "$fwd $rev"
}
# ask_vip: A asks 10.1.0.99:7 from port 5000; prints the answer, its source address and port
ask_vip() {
  ip netns exec vtnsa python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 5000)); s.settimeout(30)
s.sendto(b"hi", ("10.1.0.99", 7)); d, a = s.recvfrom(100)
print(d.decode(), a[0], a[1])'
}

test_flow_miss_holds_until_the_verdict_releases_the_packets() {
  VIF_POLICY=1 setup
  # B answers UDP port 7; A's question (from port 5555) waits in the kernel for a verdict
  # (the responder lives for the whole test: 120 s was too short on a loaded machine, and
  # the question waits up to 300 s: 90 s ran out beside another VM)
  ip netns exec vtnsb timeout 600 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 7))
while True:
    d, a = s.recvfrom(100); s.sendto(b"re:" + d, a)' &
  local responder=$!
  # a listener on the flows group sees the miss
  vrctl flow --monitor > /tmp/vt-ntf.json 2> /tmp/vt-mon.err &
  mon=$!
  wait_for_file_text /tmp/vt-mon.err listening || fail "flow monitor did not start: $(cat /tmp/vt-mon.err)"
  sleep 1
  ip netns exec vtnsa python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 5555)); s.settimeout(300)
s.sendto(b"q", ("10.1.0.3", 7)); print(s.recvfrom(100)[0].decode())' > /tmp/vt-udp.out 2>&1 &
  client=$!
  hold=$(wait_hold 10.1.0.2 10.1.0.3 17) || exit 1; read -r idx gen <<<"$hold"
  e=$(flows | jq -c ".[] | select(.index == $idx)")
  expect_eq "queued packets" 1 "$(jq .queued <<<"$e")"
  expect_eq "vif of the miss" 1 "$(jq .vif <<<"$e")"
  expect_eq "key ports" "5555 7" "$(jq -r '"\(.sport) \(.dport)"' <<<"$e")"
  expect_eq "hold entries" 1 "$(ftable | jq .hold)"
  kill -0 $client 2>/dev/null || fail "the question was not held: $(cat /tmp/vt-udp.out)"
  # the reverse (the answer's key), then the verdict linking it: the parked question goes
  # out, the answer comes back through the reverse entry
  rev=$(new_flow "{\"vrf\": 1, \"family\": \"inet\", \"proto\": 17, \"src\": \"$(hexip 10.1.0.3)\", \"dst\": \"$(hexip 10.1.0.2)\", \"sport\": 7, \"dport\": 5555, \"action\": \"forward\", \"rindex\": $idx}")
  [ -n "$rev" ] || fail "reverse flow not added"
  ynl --do flow-new --json "{\"index\": $idx, \"gen\": $gen, \"action\": \"forward\", \"rindex\": $rev}" >/dev/null || fail "verdict refused"
  wait $client || fail "held question got no answer after the verdict: $(cat /tmp/vt-udp.out)"
  expect_eq "answer" "re:q" "$(cat /tmp/vt-udp.out)"
  f=$(flows | jq -c ".[] | select(.index == $idx)")
  expect_eq "forward action" forward "$(jq -r .action <<<"$f")"
  expect_eq "forward links the reverse" "$rev" "$(jq .rindex <<<"$f")"
  expect_eq "forward packets" 1 "$(jq .packets <<<"$f")"
  expect_eq "reverse packets" 1 "$(flows | jq ".[] | select(.index == $rev) | .packets")"
  # (this entry, not the table's Hold count: a late packet of the new pod, an IPv6 report
  # or solicitation, can open a Hold entry of its own on the policy vif meanwhile)
  expect_eq "the entry after the verdict" "forward 0" "$(flows | jq -r ".[] | select(.index == $idx) | \"\\(.action) \\(.queued)\"")"
  # later packets of the flow hit the entries without new misses
  created=$(ftable | jq .created)
  ip netns exec vtnsa python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 5555)); s.settimeout(10)
for _ in range(3): s.sendto(b"q", ("10.1.0.3", 7)); s.recvfrom(100)' || fail "established flow"
  expect_eq "no new entries" "$created" "$(ftable | jq .created)"
  expect_eq "forward packets after 3 more" 4 "$(flows | jq ".[] | select(.index == $idx) | .packets")"
  kill $mon
  jq -e "select(.index == $idx and .gen == $gen and .vif == 1 and .sport == 5555 and .action == \"hold\" and .queued == 1)" /tmp/vt-ntf.json >/dev/null \
    || fail "no flow-miss notification with index/gen/vif/key: $(cat /tmp/vt-ntf.json)"
  expect_eq "one miss for the flow" 1 "$(jq -s "map(select(.index == $idx)) | length" /tmp/vt-ntf.json)"
  kill "$responder" 2>/dev/null || :
}

# udp_send <count>: datagrams from A:5555 to B:7, one flow
udp_send() {
  ip netns exec vtnsa python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 5555))
for _ in range(int(sys.argv[1])): s.sendto(b"x", ("10.1.0.3", 7))' "$1"
}

test_flow_drop_verdict_counts_flow_action_drop() {
  VIF_POLICY=1 setup
  udp_send 1
  hold=$(wait_hold 10.1.0.2 10.1.0.3 17) || exit 1; read -r idx gen <<<"$hold"
  before=$(drops flow_action_drop)
  ynl --do flow-new --json "{\"index\": $idx, \"gen\": $gen, \"action\": \"drop\"}" >/dev/null || fail "drop verdict refused"
  udp_send 3
  sleep 0.5
  # the held packet and the three sent after the verdict
  expect_eq "Flow Action Drop" $((before + 4)) "$(drops flow_action_drop)"
  expect_eq "drop reason reported" flow-action-drop "$(flows | jq -r ".[] | select(.index == $idx) | .[\"drop-reason\"]")"
  expect_eq "packets counted on the entry (the held one too)" 4 "$(flows | jq ".[] | select(.index == $idx) | .packets")"
}

test_flow_nat_rewrites_from_the_reverse_entry() {
  VIF_POLICY=1 setup
  # A talks to 10.1.0.99 (no such pod): DNAT to B; B's replies are SNATed back, so A
  # sees answers from 10.1.0.99. UDP, ports rewritten too (A:5000 -> .99:7 becomes B:9).
  route 1 10.1.0.99/32 11 -P
  ip netns exec vtnsb timeout 90 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 9))
for _ in range(3):
    d, a = s.recvfrom(100); s.sendto(b"from " + a[0].encode() + b":" + str(a[1]).encode(), a)' &
  srv=$!
  # B listens before A asks (python starts slowly on a loaded machine: a fixed second was
  # not always enough)
  for _ in $(seq 200); do ip netns exec vtnsb ss -Huln 'sport = :9' | grep -q . && break; sleep 0.1; done
  pair=$(nat_pair_to_vip 1 10.1.0.3) || exit 1; read -r fwd rev <<<"$pair"
  out=$(ask_vip) || fail "no answer through NAT"
  # B saw A's real address and port; A saw the answer come from the address it asked
  expect_eq "NAT round trip" "from 10.1.0.2:5000 10.1.0.99 7" "$out"
  kill $srv 2>/dev/null || true
  # a NAT entry whose reverse is gone drops with "Flow NAT no rflow"
  ynl --do flow-del --json "{\"index\": $rev}" >/dev/null || fail "delete reverse"
  before=$(drops flow_nat_no_rflow)
  ip netns exec vtnsa python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 5000))
s.sendto(b"hi", ("10.1.0.99", 7))'
  sleep 0.5
  expect_eq "Flow NAT no rflow" $((before + 1)) "$(drops flow_nat_no_rflow)"
}

test_flow_host_packets_to_pods_find_only_existing_entries() {
  VIF_POLICY=1 setup
  # The host (10.99.0.1 on vhost0) reaches A and B through VRF 0
  ip addr add 10.99.0.1/32 dev vtvhost0
  ip route add 10.1.0.0/24 dev vtvhost0
  route 0 10.1.0.2/32 10 -P; route 0 10.1.0.3/32 11 -P
  # (the VIP is on A's subnet: a proxied route answers A's ARP for it)
  route 1 10.1.0.99/32 1 -P
  # A's connection to "VIP" 10.1.0.99:7 leaves through the host, DNATed to 10.99.0.1:9
  # (a Service backend outside the pod networks); the host's answer comes back through
  # vhost0 in VRF 0, where it finds its reverse entry and is SNATed back to the VIP
  python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.99.0.1", 9)); s.settimeout(60)
d, a = s.recvfrom(100); s.sendto(b"from " + a[0].encode() + b":" + str(a[1]).encode(), a)' &
  local srv=$! fwd rev pair out
  for _ in $(seq 200); do ss -Huln 'sport = :9' | grep -q . && break; sleep 0.1; done
  pair=$(nat_pair_to_vip 0 10.99.0.1) || exit 1; read -r fwd rev <<<"$pair"
  out=$(ask_vip) || fail "no answer through the host"
  expect_eq "round trip through the host" "from 10.1.0.2:5000 10.1.0.99 7" "$out"
  wait $srv || fail "the host's server"
  # Anything else of the host's passes without an entry: B gets the host's datagram, and
  # the table has no entry of VRF 0 beyond the reverse one
  ip netns exec vtnsb timeout 30 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 9)); print(s.recvfrom(100)[0].decode())' > /tmp/vt-host-udp &
  srv=$!
  for _ in $(seq 200); do ip netns exec vtnsb ss -Huln 'sport = :9' | grep -q . && break; sleep 0.1; done
  python3 -c '
import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"from the host", ("10.1.0.3", 9))'
  wait $srv || fail "B got nothing from the host"
  expect_eq "B's datagram" "from the host" "$(cat /tmp/vt-host-udp)"
  expect_eq "entries of VRF 0" "1" "$(flows | jq '[.[] | select(.vrf == 0)] | length')"
}

test_flow_bad_requests_change_nothing() {
  VIF_POLICY=1 setup
  ip netns exec vtnsa ping -c 1 -W 1 10.1.0.3 >/dev/null 2>&1 &
  hold=$(wait_hold 10.1.0.2 10.1.0.3 1) || exit 1; read -r idx gen <<<"$hold"
  other=$(new_flow "{\"vrf\": 1, \"family\": \"inet\", \"proto\": 6, \"src\": \"$(hexip 10.1.0.3)\", \"dst\": \"$(hexip 10.1.0.2)\", \"sport\": 80, \"dport\": 4000, \"action\": \"forward\"}")
  before=$(flows | jq -S 'map(del(.age) | .flags |= sort | .["tcp-flags"] |= sort)')
  bad() { # bad <expected message> <json>
    local out
    out=$(ynl --do flow-new --json "$2" 2>&1) && fail "accepted: $2"
    case "$out" in *"$1"*) ;; *) fail "'$2' said '$out', expected '$1'";; esac
  }
  bad "gen does not match" "{\"index\": $idx, \"gen\": $(( (gen + 1) % 256 )), \"action\": \"forward\"}"
  bad "gen is required" "{\"index\": $idx, \"action\": \"forward\"}"
  bad "index beyond the flow table" "{\"index\": 99999999, \"gen\": 1, \"action\": \"forward\"}"
  bad "rindex is required" "{\"index\": $idx, \"gen\": $gen, \"action\": \"nat\", \"flags\": [\"dnat\"]}"
  bad "action nat needs NAT flags" "{\"index\": $idx, \"gen\": $gen, \"action\": \"forward\", \"flags\": [\"dnat\"], \"rindex\": $other}"
  bad "rindex beyond the flow table" "{\"index\": $idx, \"gen\": $gen, \"action\": \"forward\", \"rindex\": 99999999}"
  bad "no flow at rindex" "{\"index\": $idx, \"gen\": $gen, \"action\": \"forward\", \"rindex\": $((other + 1))}"
  bad "its own reverse" "{\"index\": $idx, \"gen\": $gen, \"action\": \"forward\", \"rindex\": $idx}"
  bad "hold is set by the datapath" "{\"index\": $idx, \"gen\": $gen, \"action\": \"hold\"}"
  bad "src must be 4 bytes" "{\"vrf\": 1, \"family\": \"inet\", \"proto\": 6, \"src\": \"0a0100020000\", \"dst\": \"$(hexip 10.1.0.3)\", \"action\": \"forward\"}"
  bad "dst must be 4 bytes" "{\"vrf\": 1, \"family\": \"inet6\", \"proto\": 6, \"src\": \"fd000001000000000000000000000002\", \"dst\": \"$(hexip 10.1.0.3)\", \"action\": \"forward\"}"
  bad "a flow key needs" "{\"vrf\": 1, \"proto\": 6, \"src\": \"$(hexip 10.1.0.2)\", \"action\": \"forward\"}"
  bad "a flow with this key exists" "{\"vrf\": 1, \"family\": \"inet\", \"proto\": 6, \"src\": \"$(hexip 10.1.0.3)\", \"dst\": \"$(hexip 10.1.0.2)\", \"sport\": 80, \"dport\": 4000, \"action\": \"forward\"}"
  out=$(ynl --do flow-del --json "{\"index\": $other, \"gen\": $(( ($(flows | jq ".[] | select(.index == $other) | .gen") + 1) % 256 ))}" 2>&1) && fail "delete with a wrong gen accepted"
  case "$out" in *"gen does not match"*) ;; *) fail "delete wrong gen: $out";; esac
  expect_eq "flow table unchanged" "$before" "$(flows | jq -S 'map(del(.age) | .flags |= sort | .["tcp-flags"] |= sort)')"
  # unprivileged: the table can be read, not changed
  setpriv --reuid=65534 --regid=65534 --clear-groups vrctl flow -l >/dev/null || fail "unprivileged listing"
  expect_fail 77 "EPERM" setpriv --reuid=65534 --regid=65534 --clear-groups vrctl flow -F
  ynl --do flow-flush >/dev/null || fail "flush"
  expect_eq "flushed" 0 "$(flows | jq length)"
  expect_eq "hold entries after flush" 0 "$(ftable | jq .hold)"
}

test_flow_hold_limit_turns_a_flood_into_counted_drops() {
  load vr_flow_hold_limit=16
  VIF_POLICY=1 setup_topology
  before=$(drops new_flow_drops)
  # 200 new UDP flows, nobody answers: 16 wait, the rest are New Flow Drops
  ip netns exec vtnsa python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in range(200): s.sendto(b"x", ("10.1.0.3", 10000 + p))'
  sleep 0.5
  expect_eq "hold entries at the limit" 16 "$(ftable | jq .hold)"
  expect_eq "New Flow Drops" $((before + 184)) "$(drops new_flow_drops)"
  expect_eq "entries" 16 "$(flows | jq length)"
  # the module unloads with packets parked (they are freed, not leaked: kmemleak-free
  # unload is checked by the VM runner's warning scan)
  rmmod vrouter || fail "rmmod with held packets"
}

test_flow_held_packet_of_a_deleted_vif_is_not_resumed_on_its_successor() {
  VIF_POLICY=1 setup
  ip netns exec vtnsa python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 5555)); s.sendto(b"q", ("10.1.0.3", 7))'
  hold=$(wait_hold 10.1.0.2 10.1.0.3 17) || exit 1; read -r idx gen <<<"$hold"
  expect_eq "queued packets" 1 "$(flows | jq ".[] | select(.index == $idx) | .queued")"
  # A goes away while its packet waits; a new pod's device takes vif index 1
  vrctl vif --delete 1
  ip link del vta
  pod vtnse vte 1 10.1.0.9
  expect_eq "the new device got A's vif index" vte "$(vrctl vif --get 1 --json | jq -r .name)"
  quiet 1 # the new pod's own IPv6 join reports are dropped on vif 1: let them pass first
  unusable=$(drops flow_unusable); to_b=$(tx 2); new_drops=$(vif_field 1 .stats.drops)
  ynl --do flow-new --json "{\"index\": $idx, \"gen\": $gen, \"action\": \"forward\"}" >/dev/null || fail "verdict refused"
  # (this entry, not the table's Hold count: a late packet of the new pod, an IPv6 report
  # or solicitation, can open a Hold entry of its own on the policy vif meanwhile)
  expect_eq "the entry after the verdict" "forward 0" "$(flows | jq -r ".[] | select(.index == $idx) | \"\\(.action) \\(.queued)\"")"
  expect_eq "the parked packet counted as Flow Unusable" $((unusable + 1)) "$(drops flow_unusable)"
  expect_eq "nothing sent to B" "$to_b" "$(tx 2)"
  expect_eq "the successor vif is not charged" "$new_drops" "$(vif_field 1 .stats.drops)"
}
