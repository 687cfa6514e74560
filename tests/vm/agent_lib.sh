# Helpers for tests that run vrouter-agent (sourced after lib.sh).
# The agent's state lives in $AGENT_DIR; its log in $AGENT_DIR/agent.log.
AGENT_DIR=/tmp/vt-agent
AGENT_URL=http://127.0.0.1:9091

# agent_config [extra toml lines...]: writes $AGENT_DIR/agent.toml (pods 10.32.0.0/24,
# fd00:32::/120; VRF 1 default network; namespace "blue" in VRF 2; "secure" isolated)
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
[[networks]]
name = "blue"
vrf = 2
namespaces = ["blue"]
EOF
  } > "$AGENT_DIR/agent.toml"
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
# api <method> <path> [json body]: prints the body; fails on a non-2xx answer
api() {
  local m=$1 p=$2; shift 2
  curl -sS -f -X "$m" -H 'Content-Type: application/json' ${1:+--data "$1"} "$AGENT_URL$p"
}
# api_status <method> <path> [json body]: prints the HTTP status only
api_status() {
  local m=$1 p=$2; shift 2
  curl -sS -o /dev/null -w '%{http_code}' -X "$m" ${1:+--data "$1"} "$AGENT_URL$p"
}
# wait_for <seconds> <command...>: retries the command every 0.2 s until it succeeds
wait_for() {
  local t=$1 i; shift
  for i in $(seq $(( t * 5 ))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}
agent_cleanup() {
  pkill -9 -x vrouter-agent 2>/dev/null || true
  rm -rf "$AGENT_DIR"
}
