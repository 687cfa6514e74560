# The CNI plugin executed exactly as a runtime executes it (environment + config on
# stdin, result or error JSON on stdout), against the real agent and module: the
# conformance list of shared/reference/cni-and-agent.md, for every supported version.
. tests/vm/agent_lib.sh
netns() { ip netns add "$1"; }
setup() { load; agent_start; }
# host_links: the tap host ends present
host_links() { ip -o link show | awk -F': ' '$2 ~ /^tap/ {sub(/@.*/, "", $2); print $2}' | sort; }
agent_ports() { api GET /ports | jq length; }

test_cni_version_and_config_errors() {
  setup
  for v in $VERSIONS; do
    out=$(echo "$(conf "$v")" | env -i CNI_COMMAND=VERSION "$CNI_BIN") || fail "VERSION at $v"
    expect_eq "VERSION cniVersion" "$v" "$(jq -r .cniVersion <<<"$out")"
    expect_eq "supported" '["0.3.1","0.4.0","1.0.0","1.1.0"]' "$(jq -c .supportedVersions <<<"$out")"
  done
  netns vtc0
  cni_code 1 ADD c0 vtc0 eth0 "$(conf 0.2.0)" >/dev/null
  cni_code 6 ADD c0 vtc0 eth0 '{"cniVersion":"1.0.0",' >/dev/null
  out=$(echo "$(conf 1.0.0)" | env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=c0 CNI_IFNAME=eth0 CNI_PATH=/x "$CNI_BIN")
  expect_eq "missing CNI_NETNS code" 4 "$(jq .code <<<"$out")"
  jq -e '.msg | test("CNI_NETNS")' <<<"$out" >/dev/null || fail "missing env not named: $out"
  jq -e 'has("cniVersion") and has("code") and has("msg")' <<<"$out" >/dev/null || fail "error JSON shape: $out"
  # TF's nested mode (macvlan on a parent interface) is refused, not given a veth
  out=$(cni_code 2 ADD c0 vtc0 eth0 '{"cniVersion":"1.0.0","name":"vrouter","type":"vrouter-cni","contrail":{"vif-type":"macvlan","parent-interface":"eth0"}}')
  jq -e '.msg | test("contrail.vif-type: \"macvlan\"")' <<<"$out" >/dev/null || fail "unsupported field not named: $out"
  cni_code 2 ADD c0 vtc0 eth0 '{"cniVersion":"1.0.0","name":"vrouter","type":"vrouter-cni","contrail":{"parent-interface":"eth0"}}' >/dev/null
  ip -n vtc0 link show eth0 >/dev/null 2>&1 && fail "container end made"
  expect_eq "nothing created" "" "$(host_links)"
  expect_eq "no agent ports" 0 "$(agent_ports)"
}

# TF's vrouter-ip/vrouter-port: the plugin uses TCP, where the agent takes changes only
# with tcp-mutations on; refused, the ADD leaves nothing behind.
test_cni_tcp_agent_address_needs_tcp_mutations() {
  setup
  netns vtt1
  tcp='{"cniVersion":"1.0.0","name":"vrouter","type":"vrouter-cni","contrail":{"vrouter-ip":"127.0.0.1","vrouter-port":9091,"poll-timeout":0.1,"poll-retries":30}}'
  out=$(cni_code 103 ADD ct1 vtt1 eth0 "$tcp")
  jq -e '.msg | test("answered 403: .*only root may")' <<<"$out" >/dev/null || fail "403 not said: $out"
  expect_eq "host ends after a refused ADD" "" "$(host_links)"
  expect_eq "agent ports after a refused ADD" 0 "$(agent_ports)"
  agent_stop
  agent_config 'tcp-mutations = true'
  agent_start
  res=$(cni_ok ADD ct1 vtt1 eth0 "$tcp")
  expect_eq "port over TCP" "$(jq -r '.interfaces[0].name' <<<"$res") active" \
    "$(api GET /ports | jq -r '.[] | "\(.["host-ifname"]) \(.state)"')"
  cni_ok DEL ct1 vtt1 eth0 "$tcp" >/dev/null
  expect_eq "agent ports after DEL over TCP" 0 "$(agent_ports)"
}

test_cni_add_check_del_every_version() {
  setup
  for v in $VERSIONS; do
    n=vtv${v//./}; id=cid-$n
    netns "$n"
    res=$(cni_ok ADD "$id" "$n" net1 "$(conf "$v")")
    expect_eq "result version" "$v" "$(jq -r .cniVersion <<<"$res")"
    host=$(jq -r '.interfaces[0].name' <<<"$res")
    case $host in tapnet1-*) ;; *) fail "host end named $host";; esac
    expect_eq "container end" net1 "$(jq -r '.interfaces[1].name' <<<"$res")"
    expect_eq "sandbox" "/run/netns/$n" "$(jq -r '.interfaces[1].sandbox' <<<"$res")"
    jq -e 'all(.ips[]; .interface == 1)' <<<"$res" >/dev/null || fail "ips[].interface at $v: $res"
    if [[ $v == 0.* ]]; then
      jq -e '[.ips[].version] == ["4","6"]' <<<"$res" >/dev/null || fail "0.x ips lack version: $res"
    else
      jq -e 'all(.ips[]; has("version") | not)' <<<"$res" >/dev/null || fail "1.x ips carry version: $res"
    fi
    # the netns holds what the result says
    mac=$(jq -r '.interfaces[1].mac' <<<"$res")
    expect_eq "MAC in netns" "$mac" "$(ip -n "$n" -br link show net1 | awk '{print $3}')"
    a4=$(jq -r '.ips[0].address' <<<"$res"); a6=$(jq -r '.ips[1].address' <<<"$res")
    ip -n "$n" -o addr show net1 | grep -q " $a4 " || fail "no $a4 in $n"
    ip -n "$n" -o addr show net1 | grep -q " $a6 " || fail "no $a6 in $n"
    ip -n "$n" route show default | grep -q "via $(jq -r '.ips[0].gateway' <<<"$res") dev net1" || fail "no v4 default"
    ip -n "$n" -6 route show default | grep -q "via $(jq -r '.ips[1].gateway' <<<"$res") dev net1" || fail "no v6 default"
    # the agent and the kernel have the port
    vrctl vif --list --json | jq -e --arg h "$host" 'any(.name == $h and .vrf == 1)' >/dev/null || fail "no vif for $host"
    if [ "$v" != 0.3.1 ]; then
      cni_ok CHECK "$id" "$n" net1 "$(conf "$v" "\"prevResult\":$res")" >/dev/null
    fi
    cni_ok DEL "$id" "$n" net1 "$(conf "$v")" >/dev/null
    ip link show "$host" >/dev/null 2>&1 && fail "host end left after DEL"
    ip -n "$n" link show net1 >/dev/null 2>&1 && fail "container end left after DEL"
    vrctl vif --list --json | jq -e --arg h "$host" 'all(.name != $h)' >/dev/null || fail "vif left after DEL"
    cni_ok DEL "$id" "$n" net1 "$(conf "$v")" >/dev/null   # again: still fine
  done
  expect_eq "agent ports after DELs" 0 "$(agent_ports)"
  expect_eq "host ends after DELs" "" "$(host_links)"
}

test_cni_pods_reach_each_other_and_check_catches_drift() {
  AGENT_RESYNC=600 setup   # no periodic repair while CHECK looks for the drift
  netns vtpa; netns vtpb
  ra=$(cni_ok ADD ca vtpa eth0 "$(conf 1.0.0)")
  rb=$(cni_ok ADD cb vtpb eth0 "$(conf 1.0.0)")
  ipb=$(jq -r '.ips[0].address' <<<"$rb"); ipb=${ipb%/*}
  ip6b=$(jq -r '.ips[1].address' <<<"$rb"); ip6b=${ip6b%/*}
  ip netns exec vtpa ping -c 2 -W 2 "$ipb" >/dev/null || fail "a -> b IPv4"
  ip netns exec vtpa ping -6 -c 2 -W 2 "$ip6b" >/dev/null || fail "a -> b IPv6"
  chk() { cni CHECK ca vtpa eth0 "$(conf 1.0.0 "\"prevResult\":$ra")"; }
  chk >/dev/null || fail "CHECK after ADD"
  a4=$(jq -r '.ips[0].address' <<<"$ra")
  ip -n vtpa addr del "$a4" dev eth0
  out=$(chk) && fail "CHECK passed without the address"
  expect_eq "CHECK code without address" 104 "$(jq .code <<<"$out")"
  ip -n vtpa addr add "$a4" dev eth0; ip -n vtpa route add default via "$(jq -r '.ips[0].gateway' <<<"$ra")"
  chk >/dev/null || fail "CHECK after repair"
  ip -n vtpa route del default
  chk >/dev/null && fail "CHECK passed without the default route"
  ip -n vtpa route add default via "$(jq -r '.ips[0].gateway' <<<"$ra")"
  host=$(jq -r '.interfaces[0].name' <<<"$ra")
  vrctl vif --delete "$host" >/dev/null || fail "vif delete"
  out=$(chk) && fail "CHECK passed without the kernel vif"
  jq -e '.msg | test("vif")' <<<"$out" >/dev/null || fail "CHECK did not name the vif: $out"
  agent_stop; agent_start   # a start reconciles: the vif comes back
  chk >/dev/null || fail "CHECK after the agent restored the vif"
  vm=$(api GET /ports | jq -r '.[] | select(.["vm-id"] == "ca") | .["vm-uuid"]')
  api DELETE "/vm/$vm" >/dev/null
  chk >/dev/null && fail "CHECK passed with the agent's port gone"
  ip link del "$(jq -r '.interfaces[0].name' <<<"$rb")"
  out=$(cni CHECK cb vtpb eth0 "$(conf 1.0.0 "\"prevResult\":$rb")") && fail "CHECK passed without the host end"
  true
}

test_cni_add_failures_leave_nothing_behind() {
  setup
  netns vtf1
  cni_ok ADD cf1 vtf1 eth0 "$(conf 1.0.0)" >/dev/null
  links=$(host_links); ports=$(api GET /ports)
  # the same (container, ifname) again: refused, and the first attachment is untouched
  cni_code 100 ADD cf1 vtf1 eth0 "$(conf 1.0.0)" >/dev/null
  expect_eq "host ends after a second ADD" "$links" "$(host_links)"
  expect_eq "agent ports after a second ADD" "$ports" "$(api GET /ports)"
  # a netns that does not exist: nothing made
  cni_code 101 ADD cf2 vtnope eth0 "$(conf 1.0.0)" >/dev/null
  # the agent down: try again later, nothing left
  netns vtf3
  agent_kill
  cni_code 11 ADD cf3 vtf3 eth0 "$(conf 1.0.0)" >/dev/null
  expect_eq "host ends with the agent down" "$links" "$(host_links)"
  ip -n vtf3 link show eth0 >/dev/null 2>&1 && fail "container end left behind"
  expect_eq "STATUS with the agent down" 50 "$(cni STATUS x vtf3 eth0 "$(conf 1.1.0)" >/dev/null; echo $?)"
  agent_start
  expect_eq "STATUS with the agent up" 0 "$(cni STATUS x vtf3 eth0 "$(conf 1.1.0)" >/dev/null; echo $?)"
  expect_eq "ports after failed ADDs" 1 "$(agent_ports)"
  # the runtime's retry succeeds
  cni_ok ADD cf3 vtf3 eth0 "$(conf 1.0.0)" >/dev/null
  expect_eq "ports after retry" 2 "$(agent_ports)"
}

test_cni_del_cases_and_stale_sandboxes() {
  setup
  netns vtd1
  cni_ok DEL never vtd1 eth0 "$(conf 1.0.0)" >/dev/null          # DEL without ADD
  cni_ok ADD old vtd1 eth0 "$(conf 1.0.0)" pod-d >/dev/null
  # a newer sandbox of the same pod (same uid) replaces the old one
  netns vtd2
  rn=$(cni_ok ADD new vtd2 eth0 "$(conf 1.0.0)" pod-d)
  expect_eq "one port for the pod" 1 "$(api GET /ports | jq '[.[] | select(.["vm-name"] == "k8s__default__pod-d")] | length')"
  # the late DEL of the old sandbox leaves the newer one alone
  cni_ok DEL old vtd1 eth0 "$(conf 1.0.0)" pod-d >/dev/null
  ip link show "$(jq -r '.interfaces[0].name' <<<"$rn")" >/dev/null || fail "stale DEL removed the new host end"
  api GET /ports | jq -e '.[0]["vm-id"] == "new" and .[0].state == "active"' >/dev/null || fail "stale DEL touched the port"
  # DEL with the netns gone
  ip netns del vtd2
  cni_ok DEL new vtd2 eth0 "$(conf 1.0.0)" pod-d >/dev/null
  expect_eq "ports after DEL with netns gone" 0 "$(agent_ports)"
  expect_eq "host ends" "" "$(host_links)"
}

test_cni_gc_removes_what_is_not_valid() {
  setup
  for i in 1 2 3; do netns "vtg$i"; cni_ok ADD "cg$i" "vtg$i" eth0 "$(conf 1.1.0)" >/dev/null; done
  gc='"cni.dev/valid-attachments":[{"containerID":"cg2","ifname":"eth0"}]'
  cni_ok GC x vtg1 eth0 "$(conf 1.1.0 "$gc")" >/dev/null
  expect_eq "ports after GC" "cg2" "$(api GET /ports | jq -r '.[] | .["vm-id"]')"
  expect_eq "host ends after GC" 1 "$(host_links | wc -l)"
}

test_cni_chained_with_tuning_and_portmap() {
  setup
  netns vtch
  res=$(cni_ok ADD cch vtch eth0 "$(conf 1.0.0)")
  # tuning: prevResult flows in, sysctl applied in the pod, result flows out
  tun="{\"cniVersion\":\"1.0.0\",\"name\":\"vrouter\",\"type\":\"tuning\",\"sysctl\":{\"net.ipv4.conf.eth0.rp_filter\":\"2\"},\"prevResult\":$res}"
  out=$(echo "$tun" | env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=cch CNI_NETNS=/run/netns/vtch CNI_IFNAME=eth0 CNI_PATH=$REF_CNI $REF_CNI/tuning) \
    || fail "tuning ADD: $out"
  expect_eq "tuning kept our ips" "$(jq -S -c .ips <<<"$res")" "$(jq -S -c .ips <<<"$out")"
  expect_eq "sysctl in pod" 2 "$(ip netns exec vtch sysctl -n net.ipv4.conf.eth0.rp_filter)"
  # portmap: a hostPort DNAT rule pointing at our address
  pm="{\"cniVersion\":\"1.0.0\",\"name\":\"vrouter\",\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true},\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":18080,\"containerPort\":80,\"protocol\":\"tcp\"}]},\"prevResult\":$out}"
  out2=$(echo "$pm" | env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=cch CNI_NETNS=/run/netns/vtch CNI_IFNAME=eth0 CNI_PATH=$REF_CNI $REF_CNI/portmap) \
    || fail "portmap ADD: $out2"
  ip4=$(jq -r '.ips[0].address' <<<"$res"); ip4=${ip4%/*}
  iptables-save -t nat 2>/dev/null | grep -q "$ip4:80" || nft list ruleset 2>/dev/null | grep -q "$ip4" || fail "no portmap DNAT to $ip4"
  # our CHECK accepts the chained result
  cni_ok CHECK cch vtch eth0 "$(conf 1.0.0 "\"prevResult\":$out2")" >/dev/null
  jq -c --argjson p "$out" '.prevResult = $p' <<<"$pm" | env -i PATH="$PATH" CNI_COMMAND=DEL CNI_CONTAINERID=cch CNI_NETNS=/run/netns/vtch CNI_IFNAME=eth0 CNI_PATH=$REF_CNI $REF_CNI/portmap >/dev/null || true
  cni_ok DEL cch vtch eth0 "$(conf 1.0.0)" >/dev/null
}

test_cni_50_parallel_adds_and_dels() {
  setup
  for i in $(seq 50); do netns "vtp$i"; done
  pids=()
  for i in $(seq 50); do
    cni ADD "cp$i" "vtp$i" eth0 "$(conf 1.0.0)" > "$AGENT_DIR/add$i.json" &
    pids+=($!)
  done
  wait "${pids[@]}"   # not a bare wait: the agent is a child too
  for i in $(seq 50); do jq -e '.ips' "$AGENT_DIR/add$i.json" >/dev/null || fail "ADD $i: $(cat "$AGENT_DIR/add$i.json")"; done
  expect_eq "distinct addresses" 50 "$(cat "$AGENT_DIR"/add*.json | jq -r '.ips[0].address' | sort -u | wc -l)"
  expect_eq "vifs" 50 "$(vrctl vif --list --json | jq '[.[] | select(.type_name == "Virtual")] | length')"
  for i in 2 17 50; do
    dst=$(jq -r '.ips[0].address' "$AGENT_DIR/add1.json"); dst=${dst%/*}
    ip netns exec "vtp$i" ping -c 1 -W 2 "$dst" >/dev/null || fail "pod $i -> pod 1"
  done
  pids=()
  for i in $(seq 50); do
    ( cni DEL "cp$i" "vtp$i" eth0 "$(conf 1.0.0)" >/dev/null; echo $? > "$AGENT_DIR/del$i.rc" ) &
    pids+=($!)
  done
  wait "${pids[@]}"
  # a DEL that says "try again later" (code 11) is retried, as runtimes do
  for i in $(seq 50); do
    rc=$(cat "$AGENT_DIR/del$i.rc")
    [ "$rc" = 0 ] && continue
    expect_eq "DEL $i failure code" 11 "$rc"
    echo "    DEL $i: try again later; retried" >&2
    cni_ok DEL "cp$i" "vtp$i" eth0 "$(conf 1.0.0)" >/dev/null
  done
  expect_eq "ports after 50 DELs" 0 "$(agent_ports)"
  expect_eq "vifs after 50 DELs" 0 "$(vrctl vif --list --json | jq '[.[] | select(.type_name == "Virtual")] | length')"
  expect_eq "host ends after 50 DELs" "" "$(host_links)"
  expect_eq "nexthops after 50 DELs" 0 "$(vrctl nh --list --json | jq '[.[] | select(.id >= 100)] | length')"
}

test_cni_agent_killed_during_50_parallel_adds() {
  setup
  # two pods that are up before, and keep forwarding through the outage
  netns vtk1; netns vtk2
  cni_ok ADD ck1 vtk1 eth0 "$(conf 1.0.0)" >/dev/null
  r2=$(cni_ok ADD ck2 vtk2 eth0 "$(conf 1.0.0)"); ip2=$(jq -r '.ips[0].address' <<<"$r2"); ip2=${ip2%/*}
  ip netns exec vtk1 ping -c 60 -i 0.1 -W 1 "$ip2" > "$AGENT_DIR/outage-ping.log" 2>&1 &
  pinger=$!
  for i in $(seq 50); do netns "vtq$i"; done
  for i in $(seq 50); do
    ( cni ADD "cq$i" "vtq$i" eth0 "$(conf 1.0.0)" > "$AGENT_DIR/q$i.json"; echo $? > "$AGENT_DIR/q$i.rc" ) &
  done
  # kill it mid-flight: once 10 of the new pods have their reservation (the ADDs run in
  # lockstep, so most are between vm-cfg and POST /vm then)
  wait_for 60 bash -c "[ \$(ls $AGENT_DIR/state/ports/ | grep -c 'json\$') -ge 12 ]" \
    || fail "no ADD got through"
  agent_kill
  wait_for 60 bash -c "[ \$(ls $AGENT_DIR/q*.rc 2>/dev/null | wc -l) = 50 ]" || fail "ADDs did not finish"
  failed=$(grep -lv '^0$' "$AGENT_DIR"/q*.rc | wc -l)
  echo "    $failed of 50 ADDs failed with the agent killed" >&2
  [ "$failed" -gt 0 ] || fail "the kill came too late: every ADD had finished"
  agent_start
  # the runtime's answer to a failed ADD: DEL, then ADD again
  for i in $(seq 50); do
    [ "$(cat "$AGENT_DIR/q$i.rc")" = 0 ] && continue
    cni_ok DEL "cq$i" "vtq$i" eth0 "$(conf 1.0.0)" >/dev/null
    cni_ok ADD "cq$i" "vtq$i" eth0 "$(conf 1.0.0)" > "$AGENT_DIR/q$i.json"
  done
  wait "$pinger" || { cat "$AGENT_DIR/outage-ping.log" >&2; fail "forwarding stopped while the agent was down"; }
  grep -q ' 0% packet loss' "$AGENT_DIR/outage-ping.log" || fail "packets lost during the outage: $(tail -2 "$AGENT_DIR/outage-ping.log")"
  ports=$(api GET /ports)
  expect_eq "ports" 52 "$(jq length <<<"$ports")"
  expect_eq "distinct addresses at the agent" 52 "$(jq -r '.[]["ip-address"]' <<<"$ports" | sort -u | wc -l)"
  expect_eq "distinct addresses in results" 50 "$(cat "$AGENT_DIR"/q*.json | jq -r '.ips[0].address' | sort -u | wc -l)"
  jq -e 'all(.state == "active")' <<<"$ports" >/dev/null || fail "not all ports active: $(jq -c '[.[] | .state]' <<<"$ports")"
  expect_eq "host ends = ports" 52 "$(host_links | wc -l)"
  expect_eq "vifs = ports" 52 "$(vrctl vif --list --json | jq '[.[] | select(.type_name == "Virtual")] | length')"
  # every result's address is what the pod has and what the agent holds for it
  for i in 1 25 50; do
    a=$(jq -r '.ips[0].address' "$AGENT_DIR/q$i.json")
    ip -n "vtq$i" -o addr show eth0 | grep -q " $a " || fail "pod $i lacks $a"
    ip netns exec "vtq$i" ping -c 1 -W 2 "$ip2" >/dev/null || fail "pod $i -> pod k2"
  done
}

test_cni_full_nexthop_table_is_a_clear_error() {
  # 102 nexthops: the agent's ids (from 100) leave room for two pods
  load vr_nexthops=102; agent_start
  netns vtn1; netns vtn2; netns vtn3
  cni_ok ADD cn1 vtn1 eth0 "$(conf 1.0.0)" >/dev/null
  cni_ok ADD cn2 vtn2 eth0 "$(conf 1.0.0)" >/dev/null
  links=$(host_links)
  out=$(cni_code 11 ADD cn3 vtn3 eth0 "$(conf 1.0.0)")
  grep -q "table holds 102" <<<"$out" || fail "the error does not name the full table: $out"
  expect_eq "host ends after the refused ADD" "$links" "$(host_links)"
  expect_eq "ports after the refused ADD" 2 "$(agent_ports)"
  # a deleted pod's id serves the next one
  cni_ok DEL cn1 vtn1 eth0 "$(conf 1.0.0)" >/dev/null
  cni_ok ADD cn3 vtn3 eth0 "$(conf 1.0.0)" >/dev/null
  expect_eq "ports after the retry" 2 "$(agent_ports)"
}
