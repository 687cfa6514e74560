# Sourced inside a node VM: brings the VM up as Kubernetes node $VRK8S_NODE.
#   node_up     fabric NIC address, cgroup2, containerd (CRI) with the test images,
#               vrouter.ko, the CNI plugin installed where containerd looks for it
#               (/opt/cni/bin, /etc/cni/net.d), kubelet, then vrouter-agent; returns
#               when the node is Ready
#   node_down   stops kubelet, the agent, every pod and containerd, unloads the module
#   node_restart kubelet|agent|containerd
# Logs: $NODE_LOGS/<component>.log (kept for the test runner to print on failure).
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
. "$VRK8S_TOP/tests/cri/containerd.sh"   # _CRI_REAPER: containerd's subreaper

NODE_NAME=$(node_name "$VRK8S_NODE")
NODE_IP=$(node_ip "$VRK8S_NODE")
NODE_IP6=$(node_ip6 "$VRK8S_NODE")
NODE_LOGS=${NODE_LOGS:-/tmp/vrk8s-node}
NODE_RUN=/run/vrk8s-node
CONTAINERD_SOCK=/run/containerd/containerd.sock

nlog() { printf '[node %s] %s\n' "$NODE_NAME" "$*" >&2; }

# wait_until SECONDS WHAT CMD...: polls CMD (0.2 s) until it succeeds
wait_until() {
  local limit=$1 what=$2 t0=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    (( SECONDS - t0 > limit )) && { nlog "no $what after ${limit}s"; return 1; }
    sleep 0.2
  done
}

_node_fabric() {
  ip link set lo up
  ip link set eth0 up
  ip addr add "$NODE_IP/24" dev eth0
  ip -6 addr add "$NODE_IP6/64" dev eth0 nodad
  wait_until 30 "apiserver at $VRK8S_API_IP" curl -sk "https://$VRK8S_API_IP:6443/livez"
}

# The directories kubelet and containerd expect are read-only host directories in the VM:
# each gets a tmpfs (the mount points are made by qemu/setup-host.sh).
_node_dirs() {
  local d
  grep -q '^cgroup2 /sys/fs/cgroup ' /proc/mounts || mount -t cgroup2 cgroup2 /sys/fs/cgroup
  for d in /var/lib/kubelet /var/lib/vrouter /opt/cni/bin /etc/cni/net.d /etc/vrouter; do
    mountpoint -q "$d" || mount -t tmpfs -o mode=0755 "vrk8s${d//\//-}" "$d"
  done
  mkdir -p "$NODE_RUN" "$NODE_LOGS" /run/containerd
}

_node_containerd() {
  cat > "$NODE_RUN/containerd.toml" <<EOF
version = 3
root = "/run/containerd/root"
state = "/run/containerd/state"
disabled_plugins = ["io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
  "io.containerd.snapshotter.v1.blockfile", "io.containerd.snapshotter.v1.erofs"]
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "$CRI_PAUSE_IMAGE"
[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  disable_apparmor = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/opt/cni/bin"]
    conf_dir = "/etc/cni/net.d"
    max_conf_num = 1
    use_internal_loopback = true
[plugins.'io.containerd.grpc.v1.cri']
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
EOF
  PATH=$VRK8S_BIN:$PATH python3 -c "$_CRI_REAPER" "$NODE_RUN/containerd.pid" \
    "$VRK8S_BIN/containerd" --config "$NODE_RUN/containerd.toml" >> "$NODE_LOGS/containerd.log" 2>&1 &
  echo $! > "$NODE_RUN/containerd-reaper.pid"
  wait_until 120 "containerd socket" "$VRK8S_BIN/ctr" --address "$CONTAINERD_SOCK" version
}

_node_images() {
  local tar
  for tar in "$VRK8S_TOP/out/cri/pause.tar" "$VRK8S_CACHE/images/agnhost.tar"; do
    "$VRK8S_BIN/ctr" --address "$CONTAINERD_SOCK" -n k8s.io images import --snapshotter overlayfs "$tar" >/dev/null
  done
}

# The node's install, as `make install` does it on a real node.
_node_cni() {
  install -m 0755 "$VRK8S_TOP/target/release/vrouter-cni" /opt/cni/bin/vrouter-cni
  install -m 0755 /usr/lib/cni/portmap /opt/cni/bin/portmap
  install -m 0644 "$VRK8S_TOP/cni/10-vrouter.conflist" /etc/cni/net.d/10-vrouter.conflist
}

_node_kubelet() {
  kubeconfig "system:node:$NODE_NAME" "$(tok "kubelet-$VRK8S_NODE")" > "$NODE_RUN/kubelet.kubeconfig"
  cat > "$NODE_RUN/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
failSwapOn: false
resolvConf: ""
# test only: the apiserver reaches kubelet for exec and logs without client certificates
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
# the VM's disk is the host's (9p): no image GC, no disk eviction
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: "0%", nodefs.available: "0%", nodefs.inodesFree: "0%", imagefs.available: "0%"}
localStorageCapacityIsolation: false
serializeImagePulls: false
maxPods: 110
nodeStatusUpdateFrequency: 4s
EOF
  (cd / && exec setsid "$VRK8S_BIN/kubelet" --config "$NODE_RUN/kubelet.yaml" \
    --kubeconfig "$NODE_RUN/kubelet.kubeconfig" --hostname-override "$NODE_NAME" \
    --node-ip "$NODE_IP,$NODE_IP6" --root-dir /var/lib/kubelet --v=1 \
    >> "$NODE_LOGS/kubelet.log" 2>&1 < /dev/null) &
  echo $! > "$NODE_RUN/kubelet.pid"
}

# In a cluster of several nodes (VRK8S_NODES > 1) the fabric NIC is the Physical vif:
# it gets the node's InternalIP and decapsulates the other nodes' tunnel packets; the
# host's own traffic (kubelet to the apiserver) passes. A single node has no overlay, and
# its tests run without it (as they were proven).
_node_fabric_config() {
  [ "${VRK8S_NODES:-1}" -gt 1 ] && echo 'fabric-interface = "eth0"'
  true
}

# The agent's node facts; the API gives it the rest (its pool: the Node's podCIDRs).
_node_agent() {
  kubeconfig "vrouter-agent:$NODE_NAME" "$(tok "agent-$VRK8S_NODE")" > /etc/vrouter/kubeconfig
  cat > /etc/vrouter/agent.toml <<EOF
node-name = "$NODE_NAME"
cluster-name = "k8s"
state-dir = "/var/lib/vrouter"
resync-interval = 2.0
$(_node_fabric_config)
[vhost]
name = "vhost0"
address = "10.255.0.1"
address-v6 = "fd00:ff::1"
[kubernetes]
kubeconfig = "/etc/vrouter/kubeconfig"
EOF
  (exec setsid "$VRK8S_TOP/target/release/vrouter-agent" --config /etc/vrouter/agent.toml \
    >> "$NODE_LOGS/agent.log" 2>&1 < /dev/null) &
  echo $! > "$NODE_RUN/agent.pid"
  wait_until 120 "agent health" curl -sf http://127.0.0.1:9091/health
}

node_ready() {
  [ "$(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

node_up() {
  local t0=$SECONDS
  export VRK8S_NODE
  _node_fabric
  _node_dirs
  _node_containerd
  _node_images
  insmod "$VRK8S_TOP/kmod/vrouter.ko"
  _node_cni
  _node_kubelet
  _node_agent
  wait_until 180 "Ready node $NODE_NAME" node_ready
  nlog "Ready in $(( SECONDS - t0 ))s"
}

_node_stop() { # _node_stop NAME: TERM, then KILL after 10 s
  local f=$NODE_RUN/$1.pid pid i
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  kill -TERM "$pid" 2>/dev/null || { rm -f "$f"; return 0; }
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null
  rm -f "$f"
}

node_restart() {
  case $1 in
    kubelet) _node_stop kubelet; _node_kubelet ;;
    agent) _node_stop agent; _node_agent ;;
    *) nlog "cannot restart $1"; return 64 ;;
  esac
}

node_down() {
  _node_stop kubelet
  CRI_SOCKET=$CONTAINERD_SOCK CRI_DIR=/run/containerd _cri_stop
  _node_stop agent
  rmmod vrouter 2>/dev/null
}
