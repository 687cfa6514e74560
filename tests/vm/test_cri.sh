# A real container runtime in the VM: containerd's CRI plugin + runc create pod sandboxes
# as kubelet does (tests/cri/containerd.sh, the vr-cri client) and run the CNI plugins
# from its configuration. The reference plugins (bridge + host-local) prove the harness.
. tests/cri/containerd.sh

# cri_field <sandbox id> <jq path>: a field of vr-cri inspect-pod
cri_field() { cri inspect-pod "$1" | jq -r "$2"; }
# pod_ip <netns path>: the pod's eth0 IPv4 address, as seen inside its namespace
pod_ip() { nsenter --net="$1" ip -4 -o addr show dev eth0 | awk '{sub(/\/.*/, "", $4); print $4}'; }
# bridge_ports <bridge>: how many links are enslaved to it
bridge_ports() { ip -o link show master "$1" | wc -l; }

test_cri_runtime_runs_pod_sandboxes_with_reference_bridge_plugin() {
  local d a b st_a st_b ip_a ip_b ns_a ns_b pid_a t0 ta tb
  d=$(mktemp -d /tmp/vtcri.XXXXXX)
  mkdir -p "$d/net.d"
  cat > "$d/net.d/10-vtcni.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "vtcni",
  "plugins": [{
    "type": "bridge", "bridge": "vtcni0", "isGateway": true, "ipMasq": false,
    "ipam": {"type": "host-local", "dataDir": "$d/ipam",
             "ranges": [[{"subnet": "10.99.0.0/24"}]], "routes": [{"dst": "10.99.0.0/24"}]}
  }]
}
JSON
  # On failure too, stop containerd from this shell, whose child its reaper is.
  trap cri_stop EXIT
  CRI_CNI_BIN_DIR=/usr/lib/cni CRI_CNI_CONF_DIR=$d/net.d cri_start || fail "cri_start"
  expect_eq "CRI API version" v1 "$(cri version | awk '{print $3}')"

  t0=$(date +%s.%N)
  a=$(cri run-pod --name vt-a --namespace vt-cri --uid vt-uid-a) || fail "RunPodSandbox a"
  ta=$(echo "$(date +%s.%N) - $t0" | bc); t0=$(date +%s.%N)
  b=$(cri run-pod --name vt-b --namespace vt-cri --uid vt-uid-b) || fail "RunPodSandbox b"
  tb=$(echo "$(date +%s.%N) - $t0" | bc)
  printf '    containerd up %.1fs, with the pause image %.1fs; RunPodSandbox %.1fs, %.1fs\n' \
    "$CRI_UP_SECONDS" "$CRI_START_SECONDS" "$ta" "$tb"
  expect_eq "pods listed ready" 2 "$(cri list-pods | grep -c SANDBOX_READY)"

  # One PodSandboxStatus per pod (each command costs seconds under TCG).
  read -r st_a ip_a ns_a pid_a < <(cri inspect-pod "$a" | jq -r '"\(.state) \(.ip) \(.netns) \(.pid)"')
  read -r st_b ip_b ns_b _ < <(cri inspect-pod "$b" | jq -r '"\(.state) \(.ip) \(.netns) \(.pid)"')
  expect_eq "state of a" SANDBOX_READY "$st_a"
  expect_eq "state of b" SANDBOX_READY "$st_b"
  case "$ip_a $ip_b" in 10.99.0.*" "10.99.0.*) ;; *) fail "pod addresses '$ip_a' '$ip_b' not in 10.99.0.0/24";; esac
  [ "$ip_a" != "$ip_b" ] || fail "both pods got $ip_a"
  # The CRI status tells what the plugin put in the sandbox's network namespace.
  expect_eq "pod a eth0" "$ip_a" "$(pod_ip "$ns_a")"
  expect_eq "pod b eth0" "$ip_b" "$(pod_ip "$ns_b")"
  expect_eq "pod a lo" UNKNOWN "$(nsenter --net="$ns_a" ip -br link show lo | awk '{print $2}')"
  expect_eq "veths on vtcni0" 2 "$(bridge_ports vtcni0)"
  [ -f "$d/ipam/vtcni/$ip_a" ] && [ -f "$d/ipam/vtcni/$ip_b" ] || fail "host-local holds no lease for $ip_a / $ip_b"
  # The pause process is PID 1 of the pod's own PID namespace.
  expect_eq "pause pid in its namespace" 1 "$(awk '/^NSpid:/ {print $NF}' /proc/"$pid_a"/status)"

  nsenter --net="$ns_a" ping -c 2 -i 0.2 -W 5 -q "$ip_b" >/dev/null || fail "pod a cannot ping pod b ($ip_b)"
  nsenter --net="$ns_b" ping -c 2 -i 0.2 -W 5 -q "$ip_a" >/dev/null || fail "pod b cannot ping pod a ($ip_a)"

  # StopPodSandbox runs CNI DEL: the veth goes, the address is released.
  cri stop-pod "$a" || fail "StopPodSandbox a"
  expect_eq "state of a after stop" SANDBOX_NOTREADY "$(cri_field "$a" .state)"
  expect_eq "veths after stopping a" 1 "$(bridge_ports vtcni0)"
  [ ! -e "$d/ipam/vtcni/$ip_a" ] || fail "host-local still holds $ip_a after StopPodSandbox"
  cri stop-pod "$b" || fail "StopPodSandbox b"
  expect_eq "veths after stopping b" 0 "$(bridge_ports vtcni0)"
  [ ! -e "$d/ipam/vtcni/$ip_b" ] || fail "host-local still holds $ip_b after StopPodSandbox"
  cri remove-pod "$a" || fail "RemovePodSandbox a"
  cri remove-pod "$b" || fail "RemovePodSandbox b"
  expect_eq "pods after remove" "" "$(cri list-pods)"
  expect_fail 1 "NotFound" cri inspect-pod "$a"
  [ ! -e "$ns_a" ] || fail "netns $ns_a still there after RemovePodSandbox"

  cri_stop
  ! grep -q " $CRI_DIR " /proc/mounts || fail "$CRI_DIR still mounted after cri_stop"
  rm -rf "$d"
}

test_cri_pods_get_their_network_from_vrouter_cni() {
  . tests/vm/agent_lib.sh
  local d a b ip_a ip_b ns_a ns_b st host_a
  load
  agent_start
  d=$(mktemp -d /tmp/vtcri.XXXXXX)
  cri_vrouter_dirs "$d"
  trap cri_stop EXIT
  CRI_CNI_BIN_DIR=$d/bin CRI_CNI_CONF_DIR=$d/net.d cri_start || fail "cri_start"
  a=$(cri run-pod --name vt-a --namespace vt-cri --uid "$(cat /proc/sys/kernel/random/uuid)") || fail "RunPodSandbox a: $(tail -5 "$CRI_LOG")"
  b=$(cri run-pod --name vt-b --namespace vt-cri --uid "$(cat /proc/sys/kernel/random/uuid)") || fail "RunPodSandbox b"
  read -r st ip_a ns_a _ < <(cri inspect-pod "$a" | jq -r '"\(.state) \(.ip) \(.netns) \(.pid)"')
  expect_eq "state of a" SANDBOX_READY "$st"
  read -r st ip_b ns_b _ < <(cri inspect-pod "$b" | jq -r '"\(.state) \(.ip) \(.netns) \(.pid)"')
  case "$ip_a $ip_b" in 10.32.0.*" "10.32.0.*) ;; *) fail "pod addresses '$ip_a' '$ip_b' not from the agent's pod CIDR";; esac
  # the agent holds both, bound to the sandboxes containerd made, and the kernel has them
  ports=$(api GET /ports)
  expect_eq "agent ports" 2 "$(jq '[.[] | select(.state == "active")] | length' <<<"$ports")"
  expect_eq "vm-id of a" "$a" "$(jq -r '.[] | select(.["vm-name"] == "k8s__vt-cri__vt-a") | .["vm-id"]' <<<"$ports")"
  host_a=$(jq -r '.[] | select(.["vm-name"] == "k8s__vt-cri__vt-a") | .["host-ifname"]' <<<"$ports")
  vrctl vif --list --json | jq -e --arg h "$host_a" 'any(.name == $h and .type_name == "Virtual")' >/dev/null || fail "no vif $host_a"
  nsenter --net="$ns_a" ping -c 2 -i 0.2 -W 5 -q "$ip_b" >/dev/null || fail "pod a cannot ping pod b ($ip_b)"
  nsenter --net="$ns_b" ping -c 2 -i 0.2 -W 5 -q "$ip_a" >/dev/null || fail "pod b cannot ping pod a ($ip_a)"
  # StopPodSandbox: CNI DEL through the chain; port, vif and routes go
  cri stop-pod "$a" || fail "StopPodSandbox a"
  expect_eq "agent ports after stopping a" 1 "$(api GET /ports | jq length)"
  vrctl vif --list --json | jq -e --arg h "$host_a" 'all(.name != $h)' >/dev/null || fail "vif $host_a left"
  vrctl rt --get "$ip_a/32" --vrf 1 --json | jq -e '.prefix | endswith("/0")' >/dev/null || fail "route of a left"
  cri remove-pod "$a" || fail "RemovePodSandbox a"
  cri stop-pod "$b" && cri remove-pod "$b" || fail "stop/remove b"
  expect_eq "agent ports at the end" 0 "$(api GET /ports | jq length)"
  expect_eq "pods at the end" "" "$(cri list-pods)"
  cri_stop
  rm -rf "$d"
}
