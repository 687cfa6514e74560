#!/usr/bin/env bash
# The test cluster's control plane, run natively on the host inside a network namespace
# of the project's own (no traffic leaves it): etcd, kube-apiserver,
# kube-controller-manager and kube-scheduler, all from the cached vrk8s binary.
#   cluster/control-plane.sh up         namespace + bridge, PKI, the four components,
#                                       then the project's manifests (RBAC) and CRDs
#                                       (vrouter-agent --print-crds: build the tools first)
#   cluster/control-plane.sh down       stop everything, remove the namespace and state
#   cluster/control-plane.sh restart C  stop component C and start it again
#   cluster/control-plane.sh stop|start C  one of the two (fault tests)
#   cluster/control-plane.sh tap N      create node N's tap on the bridge (for QEMU)
# Node VMs attach to the bridge through taps; node N has address 10.77.0.(10+N).
set -euo pipefail
. "$(dirname "$0")/env.sh"
log() { printf '[control-plane] %s\n' "$*" >&2; }
in_ns() { ip netns exec "$VRK8S_NETNS" "$@"; }

pki() {
  local d=$VRK8S_RUN/pki
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=vrk8s-ca \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  # The serving certificate: the bridge address, the kubernetes Service's first address
  # and the names pods use for it.
  local san="IP:$VRK8S_API_IP,IP:10.96.0.1,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default"
  san+=",DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost"
  openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout "$d/apiserver.key" \
    -out "$d/apiserver.csr" 2>/dev/null
  openssl x509 -req -in "$d/apiserver.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 30 -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san") \
    -out "$d/apiserver.crt" 2>/dev/null
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  # Bearer tokens (token,user,uid,"groups"): the control plane's own components and the
  # tests are cluster admins; each node's kubelet is system:node:<name> (Node
  # authorizer); each node's agent is vrouter-agent:<name> (RBAC in manifests/).
  {
    echo "$(tok admin),admin,admin,\"system:masters\""
    local n
    for n in $(seq 1 "$VRK8S_MAX_NODES"); do
      echo "$(tok "kubelet-$n"),system:node:$(node_name "$n"),kubelet-$n,\"system:nodes\""
      echo "$(tok "agent-$n"),vrouter-agent:$(node_name "$n"),agent-$n,\"vrouter:agents\""
    done
  } > "$d/tokens.csv"
  kubeconfig admin "$(tok admin)" > "$VRK8S_RUN/admin.kubeconfig"
}

# start NAME CMD...: runs CMD in the namespace in the background, log in $VRK8S_RUN/NAME.log
start() {
  local name=$1; shift
  # not through in_ns: a function would run in a forked shell, and $! would be that shell,
  # not the component (stop and restart would signal the wrong process)
  ip netns exec "$VRK8S_NETNS" setsid "$@" >> "$VRK8S_RUN/$name.log" 2>&1 < /dev/null &
  echo $! > "$VRK8S_RUN/$name.pid"
}

stop() {
  local pidf=$VRK8S_RUN/$1.pid pid i
  [ -s "$pidf" ] || return 0
  pid=$(cat "$pidf")
  kill -TERM "$pid" 2>/dev/null || { rm -f "$pidf"; return 0; }
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidf"
}

# wait_for WHAT SECONDS CMD...: polls CMD until it succeeds
wait_for() {
  local what=$1 limit=$2 t0=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - t0 > limit )); then
      log "no $what after ${limit}s"; return 1
    fi
    sleep 0.2
  done
}

apiserver_ready() { in_ns curl -sf --cacert "$VRK8S_RUN/pki/ca.crt" "https://$VRK8S_API_IP:6443/readyz" -H "Authorization: Bearer $(tok admin)"; }

start_component() {
  local pki=$VRK8S_RUN/pki bin=$VRK8S_BIN
  case $1 in
    etcd)
      start etcd "$bin/etcd" --name vrk8s --data-dir "$VRK8S_RUN/etcd" \
        --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
        --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster vrk8s=http://127.0.0.1:2380 --unsafe-no-fsync --log-level warn
      wait_for "etcd" 60 in_ns curl -sf http://127.0.0.1:2379/health ;;
    kube-apiserver)
      start kube-apiserver "$bin/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
        --bind-address="$VRK8S_API_IP" --advertise-address="$VRK8S_API_IP" --secure-port=6443 \
        --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
        --client-ca-file="$pki/ca.crt" --token-auth-file="$pki/tokens.csv" \
        --service-cluster-ip-range="$VRK8S_SERVICE_CIDRS" \
        --service-account-issuer=https://kubernetes.default.svc \
        --service-account-key-file="$pki/sa.key" --service-account-signing-key-file="$pki/sa.key" \
        --authorization-mode=Node,RBAC --allow-privileged=true \
        --kubelet-preferred-address-types=InternalIP \
        --enable-priority-and-fairness=false --max-requests-inflight=0 --max-mutating-requests-inflight=0 \
        --profiling=false --v=1
      wait_for "kube-apiserver /readyz" 180 apiserver_ready ;;
    kube-controller-manager)
      start kube-controller-manager "$bin/kube-controller-manager" \
        --kubeconfig="$VRK8S_RUN/admin.kubeconfig" --leader-elect=false \
        --allocate-node-cidrs --cluster-cidr="$VRK8S_POD_CIDRS" \
        --node-cidr-mask-size-ipv4=24 --node-cidr-mask-size-ipv6=112 \
        --service-cluster-ip-range="$VRK8S_SERVICE_CIDRS" \
        --root-ca-file="$pki/ca.crt" --service-account-private-key-file="$pki/sa.key" \
        --use-service-account-credentials --bind-address=127.0.0.1 --secure-port=0 --v=1 ;;
    kube-scheduler)
      start kube-scheduler "$bin/kube-scheduler" --kubeconfig="$VRK8S_RUN/admin.kubeconfig" \
        --leader-elect=false --bind-address=127.0.0.1 --secure-port=0 --v=1 ;;
    host-control)
      # The node VMs' way to ask for control-plane faults (POST /restart/<component>)
      # and to run kubectl (POST /kubectl), on the bridge only.
      start host-control python3 "$VRK8S_TOP/cluster/host-control.py" "$VRK8S_API_IP" 7070 "$0" \
        "$bin/kubectl" "$VRK8S_RUN/admin.kubeconfig" ;;
    *) log "unknown component $1"; return 64 ;;
  esac
}

COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler host-control)

up() {
  local t0=$SECONDS
  down
  mkdir -p "$VRK8S_RUN"
  ip netns add "$VRK8S_NETNS"
  in_ns ip link set lo up
  in_ns ip link add "$VRK8S_BRIDGE" type bridge
  in_ns ip addr add "$VRK8S_API_IP/24" dev "$VRK8S_BRIDGE"
  in_ns ip addr add "$VRK8S_API_IP6/64" dev "$VRK8S_BRIDGE" nodad
  in_ns ip link set "$VRK8S_BRIDGE" up
  pki
  local c
  for c in "${COMPONENTS[@]}"; do start_component "$c"; done
  kubectl apply -f "$VRK8S_TOP/cluster/manifests/" >/dev/null
  # the agent's own CRDs (VirtualNetwork), from the one definition in its code
  "$VRK8S_TOP/target/release/vrouter-agent" --print-crds | kubectl apply -f - >/dev/null
  log "up in $(( SECONDS - t0 ))s: kubectl --kubeconfig $VRK8S_RUN/admin.kubeconfig"
}

# down: the components in reverse order, then whatever else still runs in the namespace
# (node VMs; or a cluster whose run directory is gone, after a run was killed).
down() {
  local i pids
  if [ -d "$VRK8S_RUN" ]; then
    for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop "${COMPONENTS[i]}"; done
  fi
  if [ -e "/run/netns/$VRK8S_NETNS" ]; then
    pids=$(ip netns pids "$VRK8S_NETNS" 2>/dev/null || true)
    if [ -n "$pids" ]; then
      log "stopping what still runs in $VRK8S_NETNS: $(echo $pids)"
      kill -KILL $pids 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do [ -z "$(ip netns pids "$VRK8S_NETNS" 2>/dev/null)" ] && break; sleep 0.1; done
    fi
    ip netns del "$VRK8S_NETNS"
  fi
  rm -rf "$VRK8S_RUN"
}

tap() {
  local dev
  dev=$(tap_name "$1")
  in_ns ip tuntap add "$dev" mode tap
  in_ns ip link set "$dev" master "$VRK8S_BRIDGE" up
}

case ${1:-} in
  up) up ;;
  down) down ;;
  restart) [ $# = 2 ] || { log "usage: $0 restart COMPONENT"; exit 64; }; stop "$2"; start_component "$2" ;;
  stop) [ $# = 2 ] || { log "usage: $0 stop COMPONENT"; exit 64; }; stop "$2" ;;
  start) [ $# = 2 ] || { log "usage: $0 start COMPONENT"; exit 64; }; start_component "$2" ;;
  tap) [ $# = 2 ] || { log "usage: $0 tap N"; exit 64; }; tap "$2" ;;
  *) echo "usage: $0 up|down|restart|stop|start COMPONENT|tap N" >&2; exit 64 ;;
esac
