# Helpers for the in-VM tests. Each test is a function `test_*` in tests/vm/test_*.sh,
# run by run-all.sh in its own subshell after a clean slate (module unloaded, test
# namespaces and veths removed).
set -u
# the module under test: kmod/vrouter.ko, or VR_KO (the debug kernel's build), loaded with
# VR_LOAD_ARGS before a test's own parameters (which win)
KO=$PWD/${VR_KO:-kmod/vrouter.ko}

fail() { echo "    FAIL: $*" >&2; exit 1; }
# expect_eq <what> <expected> <actual>
expect_eq() { [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"; }
# expect_fail <exit code> <stderr substring> <command...>: the command fails as told
expect_fail() {
  local code=$1 text=$2; shift 2
  local err rc
  err=$("$@" 2>&1 >/dev/null) && fail "'$*' succeeded, expected failure"
  rc=$?
  [ "$rc" = "$code" ] || fail "'$*' exited $rc, expected $code ($err)"
  case "$err" in *"$text"*) ;; *) fail "'$*' said '$err', expected '$text'";; esac
}
load() { insmod "$KO" ${VR_LOAD_ARGS:-} "$@" || fail "insmod"; }
unload() { rmmod vrouter 2>/dev/null || true; }
# vif_count: number of vifs the kernel reports
vif_count() { vrctl vif --list --json | jq length; }
# vif_field <idx> <jq path>
vif_field() { vrctl vif --get "$1" --json | jq -r "$2"; }
# mkveth <host end> <ns>: a veth pair whose peer (eth0) lives in a new namespace
mkveth() {
  ip netns add "$2"
  ip link add "$1" type veth peer name eth0 netns "$2"
  ip link set "$1" up
  ip -n "$2" link set lo up
  ip -n "$2" link set eth0 up
}
cleanup() {
  # a test's containerd (tests/cri/containerd.sh) goes first: its pods hold links
  if [ -d /run/vr-containerd ]; then . tests/cri/containerd.sh; cri_stop; fi
  pkill -9 -x vrouter-agent 2>/dev/null || true; rm -rf /tmp/vt-agent
  unload
  for ns in $(ip netns list | awk '/^vt/ {print $1}'); do ip netns del "$ns"; done
  for l in $(ip -o link show | awk -F': ' '$2 ~ /^vt/ {sub(/@.*/, "", $2); print $2}'); do ip link del "$l" 2>/dev/null; done
  true
}
