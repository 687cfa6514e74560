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

# agnhost_deployment NS NAME REPLICAS: agnhost netexec on :8080 with HTTP startup,
# readiness and liveness probes (what kubelet sends from the host to each pod). Timeouts
# of 5 s, not the default 1 s: 30 Go servers, kubelet and containerd share two emulated
# vCPUs, and an answer that reached the pod can take over a second to come back (seen:
# the request logged by the pod, the probe failed by timeout, the pod unready).
agnhost_deployment() {
  kubectl apply -f - >/dev/null <<EOF2
apiVersion: apps/v1
kind: Deployment
metadata: {name: $2, namespace: $1}
spec:
  replicas: $3
  selector: {matchLabels: {app: $2}}
  template:
    metadata: {labels: {app: $2}}
    spec:
      terminationGracePeriodSeconds: 1
      automountServiceAccountToken: false
      containers:
      - name: agnhost
        image: $AGNHOST_IMAGE
        imagePullPolicy: Never
        args: [netexec, --http-port=8080]
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
  kubectl delete namespace -l vrk8s-test=1 --wait=true --timeout=300s >/dev/null 2>&1 || true
  (wait_ports 0 60) || echo "    cleanup: the agent still holds $(agent_ports) ports" >&2
}

k8s_dump_logs() {
  local f
  for f in "$NODE_LOGS"/*.log; do
    echo "---- $f (last 40 lines) ----" >&2
    tail -n 40 "$f" >&2
  done
}
