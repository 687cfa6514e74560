# Helpers for the Kubernetes tests (sourced in the node VM after cluster/node.sh). Each test
# is a function `test_*` in tests/k8s/test_*.sh, run in its own subshell; it makes its
# objects in namespaces labelled vrk8s-test=1, which k8s_cleanup deletes afterwards.
set -u
fail() { echo "    FAIL: $*" >&2; exit 1; }
expect_eq() { [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"; }

# test_ns NAME [ANNOTATION...]: a fresh namespace for the test
test_ns() {
  local ns=$1; shift
  kubectl create namespace "$ns" >/dev/null
  kubectl label namespace "$ns" vrk8s-test=1 >/dev/null
  [ $# = 0 ] || kubectl annotate namespace "$ns" "$@" >/dev/null
}

# agnhost_deployment NS NAME REPLICAS [LABEL...]: agnhost netexec, HTTP on :8080 (the
# container port named "web") and UDP on :8081, with HTTP startup,
# readiness and liveness probes (what kubelet sends from the host to each pod). Timeouts
# of 5 s, not the default 1 s: 30 Go servers, kubelet and containerd share two emulated
# vCPUs, and an answer that reached the pod can take over a second to come back (seen:
# the request logged by the pod, the probe failed by timeout, the pod unready).
# Each LABEL ("key: value") goes on the pods beside app=NAME (the Deployment's selector).
agnhost_deployment() {
  local labels="app: $2" l
  for l in "${@:4}"; do labels+=", $l"; done
  kubectl apply -f - >/dev/null <<EOF2
apiVersion: apps/v1
kind: Deployment
metadata: {name: $2, namespace: $1}
spec:
  replicas: $3
  selector: {matchLabels: {app: $2}}
  template:
    metadata: {labels: {$labels}}
    spec:
      terminationGracePeriodSeconds: 1
      automountServiceAccountToken: false
      containers:
      - name: agnhost
        image: $AGNHOST_IMAGE
        imagePullPolicy: Never
        args: [netexec, --http-port=8080, --udp-port=8081]
        ports: [{name: web, containerPort: 8080}]
        startupProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 2, timeoutSeconds: 5, failureThreshold: 150}
        readinessProbe: {httpGet: {path: /readyz, port: 8080}, periodSeconds: 5, timeoutSeconds: 5}
        livenessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3}
EOF2
}

# wait_ready NS NAME REPLICAS SECONDS: the Deployment has REPLICAS ready pods
wait_ready() {
  local t0=$SECONDS n
  while :; do
    n=$(kubectl -n "$1" get deploy "$2" -o jsonpath='{.status.readyReplicas}' 2>/dev/null)
    [ "${n:-0}" = "$3" ] && return 0
    (( SECONDS - t0 > $4 )) && { kubectl -n "$1" get pods -o wide >&2; fail "$2: ${n:-0}/$3 ready after $4s"; }
    sleep 1
  done
}

# pod_ips NS SELECTOR: the pods' IPv4 addresses, one a line
pod_ips() { kubectl -n "$1" get pods -l "$2" -o jsonpath='{range .items[*]}{.status.podIP}{"\n"}{end}'; }

# service_ip NS NAME [FAMILY-INDEX]: its first (IPv4) or second (IPv6) cluster IP
service_ip() { kubectl -n "$1" get svc "$2" -o jsonpath="{.spec.clusterIPs[${3:-0}]}"; }

# ready_endpoints NS SERVICE: how many ready endpoint addresses its IPv4 slices hold
ready_endpoints() {
  kubectl -n "$1" get endpointslices -l "kubernetes.io/service-name=$2" -o json \
    | jq '[.items[] | select(.addressType == "IPv4") | .endpoints[]? | select(.conditions.ready != false) | .addresses[]] | length'
}

# wait_endpoints NS SERVICE N SECONDS
wait_endpoints() {
  local t0=$SECONDS
  until [ "$(ready_endpoints "$1" "$2")" = "$3" ]; do
    (( SECONDS - t0 > $4 )) && fail "$2: $(ready_endpoints "$1" "$2") ready endpoints, expected $3, after $4s"
    sleep 0.5
  done
}

# agent_ports: the number of ports the agent holds
agent_ports() { curl -sf http://127.0.0.1:9091/ports | jq length; }
# wait_ports N SECONDS: the agent holds N ports (the pod watch releases within a pass)
wait_ports() {
  local t0=$SECONDS
  until [ "$(agent_ports)" = "$1" ]; do
    (( SECONDS - t0 > $2 )) && fail "agent holds $(agent_ports) ports, expected $1"
    sleep 0.5
  done
}
# virtual_vifs: the number of pod vifs in the kernel
virtual_vifs() { vrctl vif --list --json | jq '[.[] | select(.type_name == "Virtual")] | length'; }

# no_leaks N: exactly N pods' worth of ports, distinct addresses, vifs, and no stale
# host interface; the agent's address gauge agrees
no_leaks() {
  wait_ports "$1" 60
  expect_eq "distinct port addresses" "$1" "$(curl -sf http://127.0.0.1:9091/ports | jq '[.[]["ip-address"]] | unique | length')"
  expect_eq "pod vifs" "$1" "$(virtual_vifs)"
  expect_eq "host ends (tap*)" "$1" "$(ip -o link show | grep -c ': tap')"
  curl -sf http://127.0.0.1:9091/metrics | grep -q "^vrouter_agent_addresses_in_use{family=\"ipv4\"} $1\$" \
    || fail "address gauge: $(curl -sf http://127.0.0.1:9091/metrics | grep "^vrouter_agent_addresses_in_use")"
}

# scale NS NAME N
scale() { kubectl -n "$1" scale deploy "$2" --replicas="$3" >/dev/null; }

k8s_cleanup() {
  local n
  kubectl delete namespace -l vrk8s-test=1 --wait=true --timeout=300s >/dev/null 2>&1 || true
  (wait_ports 0 60) || echo "    cleanup: the agent still holds $(agent_ports) ports" >&2
  for n in $(seq 2 "${VRK8S_NODES:-1}"); do
    on_node "$n" '(wait_ports 0 60)' >/dev/null || echo "    cleanup: node $n's agent still holds ports" >&2
  done
}

k8s_dump_logs() {
  local f n
  for f in "$NODE_LOGS"/*.log; do
    echo "---- $f (last 40 lines) ----" >&2
    tail -n 40 "$f" >&2
  done
  for n in $(seq 2 "${VRK8S_NODES:-1}"); do
    [ "$n" = "$VRK8S_NODE" ] && continue
    echo "---- node $n ----" >&2
    on_node "$n" 'for f in "$NODE_LOGS"/*.log; do echo "---- $f (last 40 lines) ----"; tail -n 40 "$f"; done' >&2
  done
}

# Several nodes (VRK8S_NODES > 1; node 1 runs the tests, the others serve
# cluster/node-control.py on their fabric address)

# on_node N SCRIPT: runs SCRIPT (bash, cluster/node.sh and this file sourced) as root on
# node N; prints its output, and fails if it failed
on_node() {
  local out=/tmp/on-node.$$ code
  code=$(curl -s --max-time 620 -o "$out" -w '%{http_code}' --data-binary "$2" "http://$(node_ip "$1"):7071/run")
  cat "$out"; rm -f "$out"
  [ "$code" = 200 ]
}

# wait_nodes_ready N SECONDS: nodes 1..N are Ready (node 1 waits for the others)
wait_nodes_ready() {
  local t0=$SECONDS n
  for n in $(seq 1 "$1"); do
    until [ "$(kubectl get node "$(node_name "$n")" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] \
      && { [ "$n" = 1 ] || curl -sf --max-time 5 -o /dev/null -X POST "http://$(node_ip "$n"):7071/run" --data-binary true; }; do
      (( SECONDS - t0 > $2 )) && { nlog "node $n not Ready (and serving) after $2s"; return 1; }
      sleep 2
    done
  done
}

# stop_other_nodes: the other nodes' VMs end (their node-control exits)
stop_other_nodes() {
  local n
  for n in $(seq 2 "${VRK8S_NODES:-1}"); do
    curl -s --max-time 5 -o /dev/null -X POST "http://$(node_ip "$n"):7071/exit" || true
  done
}

# agnhost_pod NS NAME NODE: an agnhost netexec pod labelled app=NAME (HTTP :8080 named
# serve-tcp, UDP :8081 named serve-udp) on node NODE (by number), through the scheduler
agnhost_pod() {
  kubectl apply -f - >/dev/null <<EOF2
apiVersion: v1
kind: Pod
metadata: {name: "$2", namespace: "$1", labels: {app: "$2"}}
spec:
  nodeSelector: {kubernetes.io/hostname: $(node_name "$3")}
  terminationGracePeriodSeconds: 1
  automountServiceAccountToken: false
  containers:
  - name: agnhost
    image: $AGNHOST_IMAGE
    imagePullPolicy: Never
    args: [netexec, --http-port=8080, --udp-port=8081]
    ports: [{name: serve-tcp, containerPort: 8080}, {name: serve-udp, containerPort: 8081, protocol: UDP}]
    readinessProbe: {httpGet: {path: /readyz, port: 8080}, periodSeconds: 2, timeoutSeconds: 5}
EOF2
}

# wait_pods NS SECONDS POD...: the pods are Ready
wait_pods() {
  local ns=$1 limit=$2; shift 2
  kubectl -n "$ns" wait --for=condition=Ready --timeout="${limit}s" "${@/#/pod/}" >/dev/null \
    || { kubectl -n "$ns" get pods -o wide >&2; fail "pods $* not Ready after ${limit}s"; }
}

# pod_ip NS POD [FAMILY-INDEX]: the pod's first (0, IPv4) or second (1, IPv6) address
pod_ip() { kubectl -n "$1" get pod "$2" -o jsonpath="{.status.podIPs[${3:-0}].ip}"; }

# in_pod NS POD CMD...: runs CMD in the pod's network namespace, on this node (through its
# container's process, as containerd reports it)
in_pod() {
  local pid; pid=$(pod_pid "$1" "$2") || exit 1
  shift 2
  nsenter -t "$pid" -n -- "$@"
}

# pod_pid NS POD: the process of the pod's (first) container, on this node
pod_pid() {
  local cid pid
  cid=$(kubectl -n "$1" get pod "$2" -o jsonpath='{.status.containerStatuses[0].containerID}')
  cid=${cid#containerd://}
  pid=$("$VRK8S_BIN/ctr" --address "$CONTAINERD_SOCK" -n k8s.io tasks ls | awk -v c="$cid" '$1 == c {print $2}')
  [ -n "$pid" ] || fail "no running container for pod $1/$2 on $NODE_NAME"
  echo "$pid"
}

# The overlay (tests/k8s/multinode/)

# encap_flag ENCAPSULATION: the tunnel nexthop's flag for it (TF's values)
encap_flag() {
  case $1 in mpls-over-udp) echo 64 ;; mpls-over-gre) echo 8 ;; vxlan) echo 128 ;; esac
}

# tunnel_flags DIP: the flags of this node's tunnel nexthop to DIP (empty: none)
tunnel_flags() {
  vrctl nh --list --json | jq -r --arg d "$1" '[.[] | select(.type == 3 and .dip == $d) | .flags] | first // empty'
}

# has_encap DIP ENCAPSULATION: the tunnel to DIP uses it
has_encap() {
  local f
  f=$(tunnel_flags "$1")
  [ -n "$f" ] && (( f & $(encap_flag "$2") ))
}

# netexec_dial FROM-IP HOST PORT PROTOCOL [REQUEST] [TRIES] [SECONDS]: the first answer
# netexec at FROM-IP got when it sent REQUEST (hostname) to HOST:PORT over PROTOCOL (http
# or udp) in TRIES tries (1), within SECONDS (20); empty when nothing answered. Each call
# is a new socket in the pod, so a new connection with a new source port.
netexec_dial() {
  curl -sf --max-time "${7:-20}" -G "http://$1:8080/dial" --data-urlencode "request=${5:-hostname}" \
    --data-urlencode "host=$2" --data-urlencode "port=$3" --data-urlencode "protocol=$4" \
    --data-urlencode "tries=${6:-1}" | jq -r '.responses[0] // empty' 2>/dev/null
}

# netexec_port PROTOCOL: the port agnhost's netexec serves PROTOCOL on
netexec_port() { if [ "$1" = udp ]; then echo 8081; else echo 8080; fi; }

# dial NS POD HOST PROTOCOL: netexec in POD (of this node) asks HOST's netexec for its
# hostname over PROTOCOL (http: TCP to 8080, udp: 8081), in up to 3 tries
dial() { netexec_dial "$(pod_ip "$1" "$2")" "$3" "$(netexec_port "$4")" "$4" hostname 3; }
