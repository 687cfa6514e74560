#!/usr/bin/env bash
# `make demo`: load the module, start vrouter-agent, create three pods the way a runtime
# does (network namespace, then the CNI plugin executed with CNI_* variables and the
# network config on stdin), send traffic between them, and show the tables TF operators
# know. Pod c is in namespace "secure", which the agent isolates in a VRF of its own.
# With containerd available (tests/cri), a fourth pod comes from a real CRI RunPodSandbox.
set -eu
cd "$(dirname "$0")/.."
. tests/vm/lib.sh
. tests/vm/agent_lib.sh
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
CONF='{"cniVersion":"1.1.0","name":"vrouter","type":"vrouter-cni","contrail":{"cluster-name":"k8s"}}'
cni() { # cni <ADD|DEL> <pod> <namespace>
  echo "$CONF" | env -i PATH="$PATH" CNI_COMMAND="$1" CNI_CONTAINERID="sandbox-$2" CNI_NETNS="/run/netns/$2" \
    CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=$3;K8S_POD_NAME=$2;K8S_POD_UID=$(cat /proc/sys/kernel/random/uuid)" \
    target/release/vrouter-cni
}
# a pod sandbox from containerd's CRI (RunPodSandbox), networked by vrouter-cni
demo_cri_pod() {
  local d id ip
  d=$(mktemp -d /tmp/vtcri.XXXXXX)
  cri_vrouter_dirs "$d"
  CRI_CNI_BIN_DIR=$d/bin CRI_CNI_CONF_DIR=$d/net.d cri_start || return 1
  run vr-cri --socket "$CRI_SOCKET" version
  id=$(cri run-pod --name web --namespace default --uid "$(cat /proc/sys/kernel/random/uuid)") || return 1
  cri inspect-pod "$id" | jq -c '{state, ip, netns}'
  ip=$(cri inspect-pod "$id" | jq -r .ip)
  run ip netns exec vtpod-a ping -c 3 -i 0.2 -W 2 "$ip"
  curl -s "$AGENT_URL/ports" | jq -r '.[] | select(.["vm-id"] == "'"$id"'") | "agent: \(.["vm-name"]) \(.["ip-address"]) \(.["host-ifname"]) \(.state)"'
  cri stop-pod "$id" && cri remove-pod "$id"
  cri_stop
  rm -rf "$d"
}
addr() { ip -n "$1" -4 -o addr show eth0 | awk '{sub(/\/.*/, "", $4); print $4}'; }
addr6() { ip -n "$1" -6 -o addr show eth0 scope global | awk '{sub(/\/.*/, "", $4); print $4}'; }

cleanup
step "insmod kmod/vrouter.ko; vrouter-agent --config $AGENT_DIR/agent.toml"
insmod kmod/vrouter.ko
# The default network takes ICMP and TCP 8080 in, nothing else: its pods' new flows go to
# the agent, which answers each with Forward or Drop.
AGENT_NET_EXTRA=$(ingress_policy deny icmp tcp:8080) agent_config
AGENT_LOG_LEVEL=info agent_start
sed -n '1,12p' "$AGENT_DIR/agent.toml"
run curl -s "$AGENT_URL/health"; echo

for p in "vtpod-a default" "vtpod-b default" "vtpod-c secure"; do
  set -- $p
  step "pod $1 (namespace $2): ip netns add, then CNI ADD"
  ip netns add "$1"
  cni ADD "$1" "$2" | jq -c '{interfaces, ips}'
done

step "pod a -> pod b through vrouter.ko (IPv4 and IPv6)"
run ip netns exec vtpod-a ping -c 3 -i 0.2 -W 2 "$(addr vtpod-b)"
run ip netns exec vtpod-a ping -6 -c 3 -i 0.2 -W 2 "$(addr6 vtpod-b)"
step "pod c is isolated (namespace secure, VRF 100): a cannot reach it"
ip netns exec vtpod-a ping -c 2 -W 1 "$(addr vtpod-c)" && echo "UNEXPECTED: reached c" || echo "no reply, as intended"

step "policy: TCP 8080 is allowed into pod b, TCP 9999 is not"
ip netns exec vtpod-b python3 -c '
import socket
s = socket.socket(); s.bind(("0.0.0.0", 8080)); s.listen(4)
c, _ = s.accept(); c.sendall(b"hello from b\n"); c.close()' &
sleep 1
tcp() { ip netns exec vtpod-a python3 -c 'import socket, sys; s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3); print(s.recv(100).decode().strip())' "$@"; }
tcp "$(addr vtpod-b)" 8080 || echo "UNEXPECTED: 8080 refused"
tcp "$(addr vtpod-b)" 9999 2>/dev/null && echo "UNEXPECTED: 9999 reached" || echo "9999: no connection, as the policy says"
step "vrctl flow -l ; vrctl flow -s"
vrctl flow -l
vrctl flow -s --interval 1
vrctl dropstats | grep -E 'Flow Action Drop|New Flow Drops'

step "the agent's ports (GET /ports)"
curl -s "$AGENT_URL/ports" | jq -r '.[] | "\(.["vm-name"])  \(.["ip-address"])  \(.["v6-ip-address"])  vrf \(.vrf)  \(.["host-ifname"])  vif \(.vif)  \(.state)"'
step "vrctl vif --list"
vrctl vif --list
step "vrctl nh --list"
vrctl nh --list
step "vrctl rt --dump 1 ; vrctl rt --dump 1 --family inet6 ; vrctl rt --dump 100"
vrctl rt --dump 1
vrctl rt --dump 1 --family inet6
vrctl rt --dump 100

if command -v containerd >/dev/null && [ -x target/release/vr-cri ] && [ -f tests/cri/containerd.sh ]; then
  . tests/cri/containerd.sh
  step "containerd (CRI) runs a pod sandbox; its network comes from vrouter-cni"
  if declare -F demo_cri_pod >/dev/null; then demo_cri_pod || echo "(containerd pod failed)"; fi
fi

step "CNI DEL of every pod: ports, vifs, nexthops and routes go"
for p in vtpod-a:default vtpod-b:default vtpod-c:secure; do cni DEL "${p%%:*}" "${p##*:}"; done
run vrctl vif --list
step "rmmod vrouter"
agent_stop
rmmod vrouter
echo "unloaded"
cleanup
