# vrouter-agent against the real module, driven through its port API the way the CNI
# plugin drives it (the veths are made by hand here; test_cni.sh runs the plugin itself).
. tests/vm/agent_lib.sh

# port <ns> <pod>: reserves, wires a veth the way the CNI does, binds, configures the pod
port() {
  local ns=$1 pod=$2 cfg vmi vm vn mac tap info
  cfg=$(api GET "/vm-cfg/k8s__${ns}__${pod}") || fail "vm-cfg $pod"
  vmi=$(jq -r '.[0].id' <<<"$cfg"); vm=$(jq -r '.[0]["vm-uuid"]' <<<"$cfg")
  vn=$(jq -r '.[0]["vn-id"]' <<<"$cfg"); mac=$(jq -r '.[0]["mac-address"]' <<<"$cfg")
  tap=vt${pod}
  ip netns add "vt$pod"
  ip link add "$tap" type veth peer name eth0 netns "vt$pod"
  ip link set "$tap" up
  ip -n "vt$pod" link set eth0 address "$mac"
  ip -n "vt$pod" link set lo up; ip -n "vt$pod" link set eth0 up
  ip netns exec "vt$pod" sysctl -qw net.ipv6.conf.eth0.accept_dad=0 net.ipv6.conf.all.accept_ra=0
  api POST /vm "{\"vm-id\":\"c-$pod\",\"vm-uuid\":\"$vm\",\"vm-name\":\"k8s__${ns}__${pod}\",\"host-ifname\":\"$tap\",\"vm-ifname\":\"eth0\",\"vm-namespace\":\"/run/netns/vt$pod\",\"vn-uuid\":\"$vn\",\"vmi-uuid\":\"$vmi\"}" >/dev/null \
    || fail "POST /vm $pod"
  info=$(api GET "/vm/$vm") || fail "GET /vm $pod"
  ip -n "vt$pod" addr add "$(jq -r '.[0]["ip-address"]' <<<"$info")/$(jq -r '.[0].plen' <<<"$info")" dev eth0
  ip -n "vt$pod" route add default via "$(jq -r '.[0].gateway' <<<"$info")"
  ip -n "vt$pod" addr add "$(jq -r '.[0]["v6-ip-address"]' <<<"$info")/$(jq -r '.[0]["v6-plen"]' <<<"$info")" dev eth0 nodad
  ip -n "vt$pod" -6 route add default via "$(jq -r '.[0]["v6-gateway"]' <<<"$info")"
  echo "$vm"
}
ip_of() { ip -n "vt$1" -4 -o addr show eth0 | awk '{sub(/\/.*/, "", $4); print $4}'; }
ip6_of() { ip -n "vt$1" -6 -o addr show eth0 scope global | awk '{sub(/\/.*/, "", $4); print $4}'; }
has_host_route() { vrctl rt --get "$1/32" --vrf 1 --json | jq -e '(.prefix | endswith("/32"))' >/dev/null; }
ping_ok() { ip netns exec "vt$1" ping -c 1 -W 2 "$2" >/dev/null; }

test_agent_sets_up_the_node_and_serves_health_and_metrics() {
  load
  agent_start
  vrctl vif --list --json | jq -e '.[] | select(.name == "vtvhost0" and .type_name == "Host")' >/dev/null || fail "no vhost vif"
  [ "$(cat /sys/class/net/vtvhost0/operstate)" != down ] || fail "vhost link left down"
  vrctl nh --get 1 --json | jq -e '.type_name == "Receive"' >/dev/null || fail "no receive nexthop 1"
  for vrf in 1 2 100; do
    vrctl rt --get 10.32.0.1/32 --vrf $vrf --json | jq -e '.nh == 1' >/dev/null || fail "no gateway route in VRF $vrf"
    vrctl rt --get fd00:32::1/128 --vrf $vrf --json | jq -e '.nh == 1' >/dev/null || fail "no v6 gateway route in VRF $vrf"
  done
  api GET /health | jq -e '.ready == true' >/dev/null || fail "health not ready"
  api GET /metrics | grep -q '^vrouter_agent_kernel_ready 1' || fail "metrics lack kernel_ready 1"
  expect_eq "unknown path" 404 "$(api_status GET /nope)"
  curl -s "$AGENT_URL/nope" | jq -e '.error == "Unknown Request"' >/dev/null || fail "error body shape"
}

test_agent_reports_not_ready_without_the_module() {
  agent_start_unready() {
    agent_config
    vrouter-agent --config "$AGENT_DIR/agent.toml" >>"$AGENT_DIR/agent.log" 2>&1 &
    echo $! > "$AGENT_DIR/pid"
    wait_for 10 curl -s "$AGENT_URL/health" || fail "agent not answering"
  }
  agent_start_unready
  expect_eq "health without module" 503 "$(api_status GET /health)"
  curl -s "$AGENT_URL/health" | jq -e '.reason | test("not available|not loaded")' >/dev/null || fail "no reason given"
  load
  wait_for 10 curl -sf "$AGENT_URL/health" || fail "agent did not become ready after insmod"
}

test_agent_port_lifecycle_programs_and_cleans_the_kernel() {
  load
  agent_start
  a=$(port default a); b=$(port default b)
  # the same name asked again is the same reservation
  expect_eq "vm-cfg idempotent" "$a" "$(api GET /vm-cfg/k8s__default__a | jq -r '.[0]["vm-uuid"]')"
  [ "$(ip_of a)" != "$(ip_of b)" ] || fail "two pods got one address"
  ping_ok a "$(ip_of b)" || fail "a -> b IPv4"
  ping_ok b "$(ip_of a)" || fail "b -> a IPv4"
  ip netns exec vta ping -6 -c 1 -W 2 "$(ip6_of b)" >/dev/null || fail "a -> b IPv6"
  vifa=$(api GET /ports | jq -r '.[] | select(.["vm-name"] == "k8s__default__a") | .vif')
  vrctl vif --get "$vifa" --json | jq -e '.name == "vta" and .vrf == 1 and .type_name == "Virtual"' >/dev/null || fail "vif of a"
  nh=$(api GET /ports | jq -r '.[] | select(.["vm-name"] == "k8s__default__a") | .nh')
  vrctl rt --get "$(ip_of a)/32" --vrf 1 --json | jq -e ".nh == $nh" >/dev/null || fail "route of a"
  api GET /ports | jq -e 'all(.state == "active")' >/dev/null || fail "ports not active"
  # persisted: one file per port
  expect_eq "port files" 2 "$(ls "$AGENT_DIR"/state/ports/*.json | wc -l)"
  api DELETE "/vm/$a" >/dev/null || fail "DELETE a"
  api DELETE "/vm/$a" >/dev/null || fail "second DELETE a"
  expect_eq "GET after DELETE" 404 "$(api_status GET "/vm/$a")"
  vrctl vif --list --json | jq -e 'all(.name != "vta")' >/dev/null || fail "vif of a left behind"
  vrctl nh --get "$nh" >/dev/null 2>&1 && fail "nexthop $nh left behind"
  vrctl rt --get "$(ip_of a)/32" --vrf 1 --json | jq -e '(.prefix | endswith("/0"))' >/dev/null || fail "route of a left behind"
  expect_eq "port files after DELETE" 1 "$(ls "$AGENT_DIR"/state/ports/*.json | wc -l)"
  api GET /metrics | grep -q 'vrouter_agent_ports{state="active"} 1' || fail "metrics: active ports"
}

# The host reaches its pods whatever their network (kubelet's probes): VRF 0 host routes,
# the vhost device up with an address and the pod CIDRs routed through it.
test_agent_host_reaches_its_pods_in_every_network() {
  load
  agent_start
  a=$(port default a); s=$(port secure s)
  for p in a s; do
    ping -c 1 -W 2 "$(ip_of $p)" >/dev/null || fail "host -> $p IPv4"
    ping -6 -c 1 -W 2 "$(ip6_of $p)" >/dev/null || fail "host -> $p IPv6"
    vrctl rt --get "$(ip_of $p)/32" --vrf 0 --json | jq -e '(.prefix | endswith("/32"))' >/dev/null || fail "no VRF 0 route of $p"
  done
  ip route get "$(ip_of a)" | grep -q "dev vtvhost0 src 10.255.0.1" || fail "host route: $(ip route get "$(ip_of a)")"
  # a TCP connection from the host, as kubelet's probes open
  timeout 10 ip netns exec vts python3 -c 'import socket; s=socket.socket(); s.bind(("0.0.0.0", 8080)); s.listen(1); c,a=s.accept(); c.send(a[0].encode())' &
  local server=$!
  sleep 0.5
  expect_eq "TCP host -> pod, the source the pod sees" 10.255.0.1 \
    "$(python3 -c 'import socket,sys; s=socket.create_connection((sys.argv[1], 8080), 3); print(s.recv(64).decode())' "$(ip_of s)")"
  wait "$server"
  # deleting the pod takes its VRF 0 route with it
  api DELETE "/vm/$a" >/dev/null || fail "DELETE a"
  # (nothing else in VRF 0 covers it: the lookup finds no route)
  vrctl rt --get "$(ip_of a)/32" --vrf 0 >/dev/null 2>&1 && fail "VRF 0 route of a left behind"
  true
}

test_agent_namespaces_land_in_their_networks_vrfs() {
  load
  agent_start
  port default d >/dev/null; port blue e >/dev/null; port secure f >/dev/null
  expect_eq "VRFs" "1 2 100" "$(api GET /ports | jq -r '[.[] | .vrf] | sort | map(tostring) | join(" ")')"
  ping_ok d "$(ip_of e)" && fail "default reached blue"
  ping_ok f "$(ip_of d)" && fail "isolated reached default"
  ping_ok e "10.32.0.1" || true   # the gateway answers ARP in every VRF
  ip -n vte neigh show 10.32.0.1 | grep -q 00:00:5e:00:01:00 || fail "gateway ARP not proxied in VRF 2"
}

test_agent_bad_requests_get_clear_errors_and_change_nothing() {
  load
  agent_start
  before=$(vrctl vif --list --json | jq length)
  expect_eq "bad vm name" 400 "$(api_status GET /vm-cfg/nounderscores)"
  expect_eq "other cluster" 404 "$(api_status GET /vm-cfg/other__ns__pod)"
  expect_eq "bad json" 400 "$(api_status POST /vm '{"vm-uuid":')"
  curl -s --unix-socket "$AGENT_SOCK" -X POST --data '{"vm-uuid":"x"}' http://localhost/vm | jq -e '.error | test("missing field")' >/dev/null || fail "missing field not named"
  expect_eq "unknown vmi" 404 "$(api_status POST /vm '{"vm-uuid":"u","vm-name":"k8s__d__p","host-ifname":"vtx","vn-uuid":"n","vmi-uuid":"nope"}')"
  cfg=$(api GET /vm-cfg/k8s__default__g)
  vmi=$(jq -r '.[0].id' <<<"$cfg"); vm=$(jq -r '.[0]["vm-uuid"]' <<<"$cfg"); vn=$(jq -r '.[0]["vn-id"]' <<<"$cfg")
  body="{\"vm-uuid\":\"$vm\",\"vm-name\":\"k8s__default__g\",\"host-ifname\":\"vtmissing\",\"vn-uuid\":\"$vn\",\"vmi-uuid\":\"$vmi\"}"
  expect_eq "missing host interface" 400 "$(api_status POST /vm "$body")"
  curl -s --unix-socket "$AGENT_SOCK" -X POST --data "$body" http://localhost/vm | jq -e '.error | test("vtmissing does not exist")' >/dev/null || fail "message"
  expect_eq "wrong vn" 400 "$(api_status POST /vm "${body/$vn/other-vn}")"
  expect_eq "not bound yet" 404 "$(api_status GET "/vm/$vm")"
  expect_eq "vifs unchanged" "$before" "$(vrctl vif --list --json | jq length)"
  # a bad config: one line naming the field, exit 78
  printf 'node-name = "n"\nstate-dir = "/tmp/x"\npod-cidr = "10.32.0.0/24"\nmtu = "big"\n' > "$AGENT_DIR/bad.toml"
  expect_fail 78 "mtu: invalid type" vrouter-agent --config "$AGENT_DIR/bad.toml"
  printf 'node-name = "n"\nstate-dir = "/tmp/x"\npod-cidr = "10.32.0.0/24"\ngateway = "10.1.0.1"\n' > "$AGENT_DIR/bad.toml"
  expect_fail 78 "gateway: 10.1.0.1 is not a host address" vrouter-agent --config "$AGENT_DIR/bad.toml"
}

test_agent_restart_resyncs_without_disturbing_forwarding() {
  load
  agent_start
  port default h >/dev/null; port default i >/dev/null
  hi=$(ip_of i)
  agent_kill
  # pods forward while the agent is away
  ping_ok h "$hi" || fail "forwarding stopped with the agent down"
  # drift: a route removed, a stale route and a stale nexthop added behind its back
  vrctl rt -d -v 1 -p "$hi/32" >/dev/null || fail "rt -d"
  vrctl nh --create 150 --type rcv --oif 0 >/dev/null || fail "nh create"
  vrctl rt -c -v 1 -p 10.32.0.200/32 -n 150 >/dev/null || fail "rt -c"
  # an untouched path (IPv6 to i) keeps forwarding while the agent starts and resyncs
  ip netns exec vth ping -6 -c 30 -i 0.1 -W 1 "$(ip6_of i)" > "$AGENT_DIR/ping.log" 2>&1 &
  pinger=$!
  agent_start
  wait "$pinger" || { cat "$AGENT_DIR/ping.log" >&2; fail "IPv6 h -> i lost packets across the restart"; }
  grep -q ' 0% packet loss' "$AGENT_DIR/ping.log" || fail "packet loss across the restart"
  wait_for 5 has_host_route "$hi" || fail "missing route not restored"
  vrctl rt --get 10.32.0.200/32 --vrf 1 --json | jq -e '(.prefix | endswith("/32"))' >/dev/null && fail "stale route kept"
  vrctl nh --get 150 >/dev/null 2>&1 && fail "stale nexthop kept"
  api GET /ports | jq -e 'length == 2 and all(.state == "active")' >/dev/null || fail "ports not restored"
  ping_ok h "$hi" || fail "h -> i after restart"
  # the untouched port's vif was not re-created
  grep -q 'bound' "$AGENT_DIR/agent.log" || fail "log lacks bindings"
}

test_agent_reprograms_after_module_reload() {
  load
  agent_start
  port default j >/dev/null; port default k >/dev/null
  rmmod vrouter || fail "rmmod with agent running"
  wait_for 10 bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' $AGENT_URL/health) = 503 ]" || fail "health stayed ready"
  load
  wait_for 15 curl -sf "$AGENT_URL/health" || fail "agent did not resync after insmod"
  wait_for 10 ping_ok j "$(ip_of k)" || fail "j -> k after module reload"
}

test_agent_syncports_sweeps_what_is_not_valid() {
  load
  agent_start
  port default l >/dev/null; port default m >/dev/null
  out=$(api POST /syncports '{"valid-attachments":[{"containerID":"c-l","ifname":"eth0"}]}') || fail "syncports"
  expect_eq "removed" 1 "$(jq '.removed | length' <<<"$out")"
  expect_eq "left" "k8s__default__l" "$(api GET /ports | jq -r '.[0]["vm-name"]')"
  vrctl vif --list --json | jq -e 'all(.name != "vtm")' >/dev/null || fail "vif of m kept"
  # without a list: ports whose host interface is gone
  ip link del vtl
  api POST /syncports '' >/dev/null || fail "syncports without a list"
  expect_eq "ports after sweep" 0 "$(api GET /ports | jq length)"
}

# Only root changes ports: TCP answers reads to everyone and refuses every change; the
# socket is root's by its mode, and by the peer's uid when someone loosens the mode.
test_agent_only_root_changes_ports() {
  load
  agent_start
  a=$(port default a)
  cfg=$(api GET /vm-cfg/k8s__default__b) || fail "vm-cfg b"
  vmi=$(jq -r '.[0].id' <<<"$cfg"); vm=$(jq -r '.[0]["vm-uuid"]' <<<"$cfg"); vn=$(jq -r '.[0]["vn-id"]' <<<"$cfg")
  ip link add vtb type veth peer name vtb-peer; ip link set vtb up
  bind="{\"vm-id\":\"c-b\",\"vm-uuid\":\"$vm\",\"vm-name\":\"k8s__default__b\",\"host-ifname\":\"vtb\",\"vm-ifname\":\"eth0\",\"vn-uuid\":\"$vn\",\"vmi-uuid\":\"$vmi\"}"
  before=$(curl -sf "$AGENT_URL/ports") || fail "GET /ports"
  expect_eq "ports before" 2 "$(jq length <<<"$before")"
  nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
  # as nobody over TCP: <method> <path> [body] -> status (the body in $AGENT_DIR/answer)
  tcp_as_nobody() {
    nobody curl -s -o "$AGENT_DIR/answer" -w '%{http_code}' -X "$1" ${3:+--data "$3"} "$AGENT_URL$2"
  }
  chmod 0777 "$AGENT_DIR"   # nobody's curl writes the answer there
  expect_eq "GET /ports as nobody" 200 "$(tcp_as_nobody GET /ports)"
  expect_eq "GET /vm/<uuid> as nobody" 200 "$(tcp_as_nobody GET "/vm/$a")"
  expect_eq "GET /health as nobody" 200 "$(tcp_as_nobody GET /health)"
  expect_eq "POST /vm as nobody" 403 "$(tcp_as_nobody POST /vm "$bind")"
  jq -e '.error | test("changes the agent.s state: only root may, through /run/vrouter/agent.sock")' "$AGENT_DIR/answer" >/dev/null \
    || fail "403 body: $(cat "$AGENT_DIR/answer")"
  expect_eq "DELETE /vm/<uuid> as nobody" 403 "$(tcp_as_nobody DELETE "/vm/$a")"
  expect_eq "DELETE /vm/<uuid>/<vmi> as nobody" 403 "$(tcp_as_nobody DELETE "/vm/$vm/$vmi")"
  expect_eq "POST /syncports as nobody" 403 "$(tcp_as_nobody POST /syncports '{"valid-attachments":[]}')"
  expect_eq "reserving GET /vm-cfg as nobody" 403 "$(tcp_as_nobody GET /vm-cfg/k8s__default__c)"
  # TCP refuses root the same way (the listener decides, not the caller)
  expect_eq "DELETE as root over TCP" 403 "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$AGENT_URL/vm/$a")"
  # the socket: root's, 0600; nobody's connect(2) fails with EACCES
  expect_eq "socket" "srw------- root" "$(stat -c '%A %U' "$AGENT_SOCK")"
  connect_as_nobody() {
    nobody python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print(e.strerror); sys.exit(0)
print("connected")' "$AGENT_SOCK"
  }
  expect_eq "connect to the socket as nobody" "Permission denied" "$(connect_as_nobody)"
  nobody curl -s --unix-socket "$AGENT_SOCK" -X DELETE "http://localhost/vm/$a" && fail "nobody's DELETE went through the socket"
  # a loosened mode lets nobody connect, and the peer's uid still refuses it
  chmod 0666 "$AGENT_SOCK"
  expect_eq "connect after chmod" connected "$(connect_as_nobody)"
  out=$(nobody curl -s -w '\n%{http_code}' --unix-socket "$AGENT_SOCK" -X DELETE "http://localhost/vm/$a")
  expect_eq "DELETE as nobody through a loosened socket" 403 "${out##*$'\n'}"
  jq -e '.error | test("root.s \\(uid 0\\); refused uid 65534")' <<<"${out%$'\n'*}" >/dev/null || fail "peer 403 body: $out"
  grep -q 'port API socket: refused' "$AGENT_DIR/agent.log" || fail "the refusal was not logged"
  # nothing changed: the agent's ports, the kernel's vifs, the pod's traffic
  expect_eq "ports after nobody's tries" "$before" "$(curl -sf "$AGENT_URL/ports")"
  vrctl vif --list --json | jq -e 'any(.name == "vta") and all(.name != "vtb")' >/dev/null || fail "vifs changed"
  # root through the socket still does it all
  api POST /vm "$bind" >/dev/null || fail "root's POST /vm"
  api DELETE "/vm/$a" >/dev/null || fail "root's DELETE"
  expect_eq "ports after root's changes" "k8s__default__b active" "$(api GET /ports | jq -r '.[] | "\(.["vm-name"]) \(.state)"')"
}

# tcp-mutations = true: TF's open port, for clients that only know TCP
test_agent_tcp_mutations_restores_tfs_behaviour() {
  agent_config 'tcp-mutations = true'
  load
  agent_start
  expect_eq "reserving over TCP" 200 "$(setpriv --reuid=65534 --regid=65534 --clear-groups curl -s -o /dev/null -w '%{http_code}' "$AGENT_URL/vm-cfg/k8s__default__t")"
  expect_eq "the reservation" k8s__default__t "$(api GET /ports | jq -r '.[0]["vm-name"]')"
  vm=$(api GET /ports | jq -r '.[0]["vm-uuid"]')
  expect_eq "DELETE over TCP" 200 "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$AGENT_URL/vm/$vm")"
  expect_eq "ports after DELETE over TCP" 0 "$(api GET /ports | jq length)"
}
