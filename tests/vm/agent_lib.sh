# Helpers for tests that run vrouter-agent (sourced after lib.sh).
# The agent's state lives in $AGENT_DIR; its log in $AGENT_DIR/agent.log.
AGENT_DIR=/tmp/vt-agent
# The read-only TCP listener (GETs), and the root-only socket with the whole API.
AGENT_URL=http://127.0.0.1:9091
AGENT_SOCK=/run/vrouter/agent.sock

# agent_config [extra toml lines...]: writes $AGENT_DIR/agent.toml (pods 10.32.0.0/24,
# fd00:32::/120; VRF 1 default network; namespace "blue" in VRF 2; "secure" isolated).
# AGENT_NET_EXTRA is appended to the default network's table (its policy), AGENT_TAIL to
# the file ([flows], [[services]]).
agent_config() {
  mkdir -p "$AGENT_DIR/state"
  {
    cat <<EOF
node-name = "vm"
state-dir = "$AGENT_DIR/state"
pod-cidr = "10.32.0.0/24"
pod-cidr-v6 = "fd00:32::/120"
resync-interval = ${AGENT_RESYNC:-1.0}
log-level = "${AGENT_LOG_LEVEL:-debug}"
isolated-namespaces = ["secure"]
EOF
    printf '%s\n' "$@"
    cat <<EOF
[vhost]
name = "vtvhost0"
address = "10.255.0.1"
address-v6 = "fd00:ff::1"
[[networks]]
name = "k8s-default-pod-network"
vrf = 1
${AGENT_NET_EXTRA:-}
[[networks]]
name = "blue"
vrf = 2
namespaces = ["blue"]
${AGENT_TAIL:-}
EOF
  } > "$AGENT_DIR/agent.toml"
}

# ingress_policy <default allow|deny> <proto[:ports]>...: a [networks.policy] table for
# AGENT_NET_EXTRA that allows those protocols (and ports) in and applies the default to the rest.
ingress_policy() {
  local r
  printf '[networks.policy]\ndefault-ingress = "%s"\n' "$1"; shift
  for r in "$@"; do
    printf '[[networks.policy.rules]]\ndirection = "ingress"\naction = "allow"\nproto = "%s"\n' "${r%%:*}"
    if [[ $r == *:* ]]; then printf 'ports = %s\n' "${r#*:}"; fi
  done
}

# agent_start: starts the agent in the background and waits until /health says ready.
agent_start() {
  [ -f "$AGENT_DIR/agent.toml" ] || agent_config
  vrouter-agent --config "$AGENT_DIR/agent.toml" >>"$AGENT_DIR/agent.log" 2>&1 &
  echo $! > "$AGENT_DIR/pid"
  local i
  for i in $(seq 100); do
    curl -sf "$AGENT_URL/health" >/dev/null && return 0
    kill -0 "$(cat "$AGENT_DIR/pid")" 2>/dev/null || { tail -20 "$AGENT_DIR/agent.log" >&2; fail "agent exited"; }
    sleep 0.1
  done
  tail -20 "$AGENT_DIR/agent.log" >&2
  fail "agent not ready after 10 s"
}
agent_kill() { kill -9 "$(cat "$AGENT_DIR/pid")" 2>/dev/null; wait "$(cat "$AGENT_DIR/pid")" 2>/dev/null || true; }
agent_stop() { kill "$(cat "$AGENT_DIR/pid")" 2>/dev/null; wait "$(cat "$AGENT_DIR/pid")" 2>/dev/null || true; }
# api <method> <path> [json body]: through the socket, as root; prints the body; fails on
# a non-2xx answer
api() {
  local m=$1 p=$2; shift 2
  curl -sS -f --unix-socket "$AGENT_SOCK" -X "$m" -H 'Content-Type: application/json' ${1:+--data "$1"} "http://localhost$p"
}
# api_status <method> <path> [json body]: as api, prints the HTTP status only
api_status() {
  local m=$1 p=$2; shift 2
  curl -sS -o /dev/null -w '%{http_code}' --unix-socket "$AGENT_SOCK" -X "$m" ${1:+--data "$1"} "http://localhost$p"
}
# wait_for <seconds> <command...>: retries the command every 0.2 s until it succeeds
wait_for() {
  local t=$1 i; shift
  for i in $(seq $(( t * 5 ))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}
# The CNI plugin, executed as a runtime executes it (environment + config on stdin).
CNI_BIN=$PWD/target/release/vrouter-cni
REF_CNI=/usr/lib/cni
VERSIONS="0.3.1 0.4.0 1.0.0 1.1.0"

conf() { # conf <version> [extra json members]
  echo "{\"cniVersion\":\"$1\",\"name\":\"vrouter\",\"type\":\"vrouter-cni\"${2:+,$2},\"contrail\":{\"cluster-name\":\"k8s\",\"poll-timeout\":0.1,\"poll-retries\":30}}"
}
# cni <command> <container id> <netns name> <ifname> <config json> [pod name]: stdout is
# the plugin's; its exit status is returned
cni() {
  local c=$1 id=$2 ns=$3 ifn=$4 cfg=$5 pod=${6:-$3}
  echo "$cfg" | env -i PATH="$PATH" CNI_COMMAND="$c" CNI_CONTAINERID="$id" CNI_NETNS="/run/netns/$ns" \
    CNI_IFNAME="$ifn" CNI_PATH="$REF_CNI" \
    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$pod;K8S_POD_INFRA_CONTAINER_ID=$id;K8S_POD_UID=$(pod_uid "$pod")" \
    "$CNI_BIN" 2>>"$AGENT_DIR/cni.log"
}
# pod_uid <pod>: a stable, uuid-shaped uid per pod name (as random as real ones in its prefix)
pod_uid() { local h; h=$(printf %s "$1" | md5sum); echo "${h:0:8}-${h:8:4}-4${h:13:3}-8${h:17:3}-${h:20:12}"; }
# cni_ok: as cni, failing the test with the error JSON on a non-zero exit
cni_ok() { local out; out=$(cni "$@") || fail "CNI $1 $2: $out"; echo "$out"; }
# cni_code <expected code> <args of cni...>: the call fails with that code in the JSON and exit status
cni_code() {
  local want=$1 out rc; shift
  out=$(cni "$@"); rc=$?
  expect_eq "exit status of $1 ($out)" "$want" "$rc"
  expect_eq "error code of $1" "$want" "$(jq -r .code <<<"$out")"
  jq -e '.msg | length > 0' <<<"$out" >/dev/null || fail "error JSON without msg: $out"
  echo "$out"
}
agent_cleanup() {
  pkill -9 -x vrouter-agent 2>/dev/null || true
  rm -rf "$AGENT_DIR"
}
