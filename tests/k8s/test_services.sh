# Services from the API without kube-proxy (the cluster runs none): the agent turns each
# Service port on each cluster IP into a VIP its flow verdicts translate to a ready
# endpoint, and follows the EndpointSlices live.

# web_service NS: Service "web", dual-stack: TCP 80 -> the named port "web", UDP 53 -> 8081
web_service() {
  kubectl apply -f - >/dev/null <<EOF2
apiVersion: v1
kind: Service
metadata: {name: web, namespace: $1}
spec:
  ipFamilyPolicy: PreferDualStack
  selector: {role: backend}
  ports:
  - {name: http, port: 80, targetPort: web, protocol: TCP}
  - {name: dns, port: 53, targetPort: 8081, protocol: UDP}
EOF2
}

# hostnames NS CLIENT HOST PORT PROTOCOL N: the backends' hostnames of N new connections
# (one /dial each: a new socket, so a new source port) from CLIENT to HOST:PORT, one a line
hostnames() {
  local i r client; client=$(pod_ip "$1" "$2")
  for i in $(seq "$6"); do
    r=$(netexec_dial "$client" "$3" "$4" "$5")
    echo "${r:-(no answer)}"
  done
}

# flows_of BACKEND-IP: the service connections' reverse entries from BACKEND-IP (NAT
# entries; the pod's other flows, such as its answers to kubelet's probes, do not count)
flows_of() { vrctl flow --list --json | jq --arg a "$1" '[.flows[] | select(.action == "nat" and .src == $a)] | length'; }

# flow_event EVENT: the agent's count of that flow event

flow_event() {
  curl -sf http://127.0.0.1:9091/metrics | awk -v e="$1" -F' ' '$1 == "vrouter_agent_flow_events_total{event=\"" e "\"}" {print $2}'
}

test_cluster_ip_spreads_new_connections_and_follows_the_endpoints() {
  local vip vip6 names distinct pods gone t0 before
  test_ns svc
  agnhost_deployment svc web 3 "role: backend"
  web_service svc
  agnhost_pod svc client 1
  wait_ready svc web 3 600
  wait_pods svc 300 client
  wait_endpoints svc web 3 60
  vip=$(service_ip svc web 0); vip6=$(service_ip svc web 1)
  [ -n "$vip6" ] || fail "the Service got no IPv6 cluster IP: $(kubectl -n svc get svc web -o jsonpath='{.spec.clusterIPs}')"
  pods=$(kubectl -n svc get pods -l app=web -o jsonpath='{.items[*].metadata.name}')

  # TCP: 10 new connections to the VIP (port 80 -> the named port 8080) reach more than one
  # backend, and only backends; each answer came back from the VIP (the client's socket
  # is connected to it, so it takes nothing else)
  names=$(hostnames svc client "$vip" 80 http 10)
  echo "$names" | grep -q '(no answer)' && fail "TCP to $vip:80: some connections got no answer: $(echo $names)"
  for n in $names; do echo "$pods" | grep -qw "$n" || fail "TCP to $vip:80 answered by $n, not a backend"; done
  distinct=$(echo "$names" | sort -u | wc -l)
  (( distinct > 1 )) || fail "10 connections to $vip:80 all reached $names"
  echo "    TCP $vip:80: 10 connections over $distinct backends"
  # IPv6 and UDP
  names=$(hostnames svc client "$vip6" 80 http 4)
  for n in $names; do echo "$pods" | grep -qw "$n" || fail "TCP to [$vip6]:80 answered by '$n'"; done
  names=$(hostnames svc client "$vip" 53 udp 6)
  for n in $names; do echo "$pods" | grep -qw "$n" || fail "UDP to $vip:53 answered by '$n'"; done
  # the kernel's entries (the UDP pairs stay until they age; a TCP pair goes when its
  # connection closes): the pod's flow to the VIP is DNATed and DPATed (53 -> 8081)
  vrctl flow --list --json | jq -e --arg v "$vip" '[.flows[] | select(.dst == $v and .dport == 53 and .action == "nat" and (.flag_names | index("dnat")) and (.flag_names | index("dpat")))] | length > 0' >/dev/null \
    || fail "no DNAT flow entry to $vip:53: $(vrctl flow --list --json | jq -c --arg v "$vip" '[.flows[] | select(.dst == $v)]')"
  names=$(hostnames svc client "$vip6" 53 udp 2)
  for n in $names; do echo "$pods" | grep -qw "$n" || fail "UDP to [$vip6]:53 answered by '$n'"; done
  # a port the Service does not have: no answer
  [ "$(hostnames svc client "$vip" 81 http 1)" = "(no answer)" ] || fail "$vip:81 answered"

  # A backend leaves the Service (its label goes; the pod and its port stay): at once no
  # new connection reaches it, and its established flows (the UDP pairs above, still
  # young) are removed
  hostnames svc client "$vip" 53 udp 6 >/dev/null
  local p gone_ip
  for p in $pods; do
    gone_ip=$(pod_ip svc "$p")
    (( $(flows_of "$gone_ip") > 0 )) && { gone=$p; break; }
  done
  [ -n "$gone" ] || fail "no backend has a flow of UDP to $vip:53: $(vrctl flow --list)"
  before=$(flow_event backend_gone)
  kubectl -n svc label pod "$gone" role- >/dev/null
  t0=$(date +%s.%N)
  until [ "$(flows_of "$gone_ip")" = 0 ]; do
    (( $(echo "$(date +%s.%N) - $t0 > 10" | bc) )) && fail "flows of $gone ($gone_ip) still in the table 10s after it left: $(vrctl flow --list)"
    sleep 0.1
  done
  printf '    figure: backend label removed -> its flows gone: %.2fs\n' "$(echo "$(date +%s.%N) - $t0" | bc)"
  (( $(flow_event backend_gone) > ${before:-0} )) || fail "backend_gone flow events did not grow (${before:-0} -> $(flow_event backend_gone))"
  wait_endpoints svc web 2 60
  names=$(hostnames svc client "$vip" 80 http 10)
  echo "$names" | grep -qw "$gone" && fail "$gone got a new connection after it left the Service"
  echo "$names" | grep -q '(no answer)' && fail "TCP to $vip:80 with 2 backends: $(echo $names)"

  # Scaled down to one backend: every new connection reaches it
  kubectl -n svc label pod "$gone" role=backend >/dev/null
  scale svc web 1
  wait_ready svc web 1 300
  wait_endpoints svc web 1 120
  local last; last=$(kubectl -n svc get endpointslices -l kubernetes.io/service-name=web -o json \
    | jq -r '[.items[] | select(.addressType == "IPv4") | .endpoints[] | select(.conditions.ready != false) | .targetRef.name] | first')
  names=$(hostnames svc client "$vip" 80 http 6)
  expect_eq "backends after scaling to 1" "$last" "$(echo "$names" | sort -u)"
  # The backend reaches itself through its Service (a hairpin), and sees the VIP as
  # the client: its own address as the source would be a martian to its kernel
  local v seen
  for v in "$vip" "$vip6"; do
    expect_eq "hairpin through [$v]:80" "$last" "$(hostnames svc "$last" "$v" 80 http 1)"
    seen=$(netexec_dial "$(pod_ip svc "$last")" "$v" 80 http clientip)
    case "$seen" in "$v":* | "[$v]":*) ;; *) fail "the hairpin's server saw the client as '$seen', not $v" ;; esac
  done

  # No endpoint at all: connections fail, nothing else answers
  scale svc web 0
  wait_endpoints svc web 0 120
  [ "$(hostnames svc client "$vip" 80 http 1)" = "(no answer)" ] || fail "$vip:80 answered with no endpoint"
}

# The `kubernetes` Service from a pod: its endpoint, the API server, is outside the pod
# networks. The flow translates the VIP, the host masquerades the pod's packet behind the
# node's address (agent/src/masquerade.rs), and the answer, back through the vhost
# device, finds the pod's reverse entry in the host's VRF, which translates it back to
# the VIP. The API server directly (the pod's egress beyond the pod networks) too.
test_pods_reach_the_api_server_through_the_kubernetes_service() {
  local vip ep flows
  test_ns egress
  agnhost_pod egress client 1
  wait_pods egress 300 client
  vip=$(kubectl -n default get svc kubernetes -o jsonpath='{.spec.clusterIP}')
  ep=$(kubectl -n default get endpointslices -l kubernetes.io/service-name=kubernetes \
    -o jsonpath='{.items[0].endpoints[0].addresses[0]}')
  [ -n "$vip" ] && [ -n "$ep" ] || fail "no kubernetes Service ($vip) or endpoint ($ep)"
  expect_eq "https://$vip/livez from a pod" ok "$(in_pod egress client curl -sk --max-time 10 "https://$vip/livez")"
  flows=$(vrctl flow --list --json)
  jq -e --arg v "$vip" --arg e "$ep" '[.flows[] | select(.dst == $v and .dport == 443 and .action == "nat")] | length > 0' \
    <<< "$flows" >/dev/null || fail "no NAT entry to $vip:443: $(vrctl flow --list)"
  jq -e --arg e "$ep" '[.flows[] | select(.src == $e and .sport == 6443 and .vrf == 0 and .action == "nat")] | length > 0' \
    <<< "$flows" >/dev/null || fail "no reverse entry from $ep:6443 in VRF 0: $(vrctl flow --list)"
  expect_eq "https://$ep:6443/livez from a pod" ok "$(in_pod egress client curl -sk --max-time 10 "https://$ep:6443/livez")"
  nft list table inet vrouter | grep -q masquerade || fail "no masquerade rule: $(nft list table inet vrouter 2>&1)"
}
