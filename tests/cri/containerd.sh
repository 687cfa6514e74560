# A private containerd (CRI plugin) + runc for the in-VM tests, sourced by them:
#   cri_start        start containerd, import the pause image; CRI socket in $CRI_SOCKET
#   cri <args>       vr-cri against that socket (run-pod, inspect-pod, stop-pod, ...)
#   cri_stop         stop and remove every pod, kill containerd and the shims, unmount,
#                    delete what was made: the next test starts clean. A test calls
#                    `trap cri_stop EXIT` first: then a failing test cleans up from its
#                    own shell too (lib.sh cleanup() calls cri_stop as a fallback)
# Knobs (set before cri_start):
#   CRI_CNI_BIN_DIR   CNI plugin directory (default /usr/lib/cni). containerd also runs
#                     `loopback` from it for every pod, so a directory of our own must
#                     hold a loopback plugin too (a symlink to /usr/lib/cni/loopback).
#   CRI_CNI_CONF_DIR  CNI configuration directory (default $CRI_DIR/net.d, empty)
#   CRI_SNAPSHOTTER   overlayfs (default) or native
#   CRI_START_TIMEOUT seconds to wait for the CRI socket (default 180; TCG is slow)
# Everything containerd writes (root, state, runc state, the pods' netns mounts, the
# image) is on a tmpfs mounted at $CRI_DIR; its log is $CRI_LOG, kept after cri_stop.

CRI_DIR=${CRI_DIR:-/run/vr-containerd}
CRI_SOCKET=$CRI_DIR/containerd.sock
CRI_LOG=${CRI_LOG:-/tmp/vr-containerd.log}
CRI_PAUSE_IMAGE=localhost/vrouter/pause:1
CRI_CGROUP_MARK=/run/vr-containerd.cgroup2-mounted
CRI_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# python3 -c "$_CRI_REAPER" PIDFILE CMD ARGS..: runs CMD as the child of a subreaper
# that writes CMD's pid to PIDFILE, passes SIGTERM/SIGINT on, reaps every orphan that
# lands on it and exits when it has no child left.
_CRI_REAPER='
import ctypes, os, signal, sys
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit("reaper: prctl(PR_SET_CHILD_SUBREAPER): " + os.strerror(ctypes.get_errno()))
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % pid)
for sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(sig, lambda s, _: os.kill(pid, s))
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
'

cri() { vr-cri --socket "$CRI_SOCKET" --timeout "${CRI_TIMEOUT:-120}" "$@"; }

# _cri_log_tail: the end of containerd's log, for a failure message
_cri_log_tail() { echo "---- $CRI_LOG (last 30 lines) ----" >&2; tail -n 30 "$CRI_LOG" >&2 2>/dev/null; }

# _cri_pause_tar: the pause image tarball: out/cri/pause.tar, built when missing or
# stale; the VM sees the checkout read-only, so there it is built (once a boot) in /tmp
_cri_pause_tar() {
  local tar
  for tar in "$CRI_TOP/out/cri/pause.tar" /tmp/vr-cri-pause.tar; do
    if [ -s "$tar" ] && [ "$tar" -nt "$CRI_TOP/tests/cri/pause.c" ] \
       && [ "$tar" -nt "$CRI_TOP/tests/cri/build-pause-image.sh" ]; then
      echo "$tar"; return 0
    fi
  done
  for tar in "$CRI_TOP/out/cri/pause.tar" /tmp/vr-cri-pause.tar; do
    bash "$CRI_TOP/tests/cri/build-pause-image.sh" "$tar" 2>/dev/null && { echo "$tar"; return 0; }
  done
  return 1
}

cri_start() {
  local bin=${CRI_CNI_BIN_DIR:-/usr/lib/cni} conf=${CRI_CNI_CONF_DIR:-$CRI_DIR/net.d}
  local snap=${CRI_SNAPSHOTTER:-overlayfs} limit=${CRI_START_TIMEOUT:-180} tar t0 i
  [ -S "$CRI_SOCKET" ] && { echo "cri_start: containerd already running ($CRI_SOCKET)" >&2; return 1; }
  tar=$(_cri_pause_tar) || { echo "cri_start: cannot build the pause image" >&2; return 1; }
  t0=$(date +%s.%N)

  # cgroup v2, the cgroupfs driver: runc creates the pods' cgroups itself.
  if ! grep -q '^cgroup2 /sys/fs/cgroup ' /proc/mounts; then
    mount -t cgroup2 cgroup2 /sys/fs/cgroup || { echo "cri_start: cannot mount cgroup2" >&2; return 1; }
    touch "$CRI_CGROUP_MARK"
  fi
  mkdir -p "$CRI_DIR" && mount -t tmpfs -o mode=0711 vr-containerd "$CRI_DIR" \
    || { echo "cri_start: cannot mount a tmpfs on $CRI_DIR" >&2; return 1; }
  mkdir -p "$CRI_DIR/root" "$CRI_DIR/state" "$CRI_DIR/opt" "$CRI_DIR/tmp" "$CRI_DIR/net.d"

  cat > "$CRI_DIR/config.toml" <<EOF
version = 2
root = "$CRI_DIR/root"
state = "$CRI_DIR/state"
temp = "$CRI_DIR/tmp"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$CRI_SOCKET"

[debug]
  level = "${CRI_LOG_LEVEL:-info}"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$CRI_DIR/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$CRI_PAUSE_IMAGE"
    disable_apparmor = true
    restrict_oom_score_adj = true
    systemd_cgroup = false
    disable_tcp_service = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    netns_mounts_under_state_dir = true
    enable_selinux = false
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "$snap"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          Root = "$CRI_DIR/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "$bin"
      conf_dir = "$conf"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = ""
EOF

  # containerd runs under a subreaper (_CRI_REAPER) that waits for every process it
  # leaves behind: the runc shims are orphans by design, and the VM's init does not
  # reap orphans (they would stay zombies until the VM powers off).
  python3 -c "$_CRI_REAPER" "$CRI_DIR/containerd.pid" \
    containerd --config "$CRI_DIR/config.toml" > "$CRI_LOG" 2>&1 &
  echo $! > "$CRI_DIR/reaper.pid"
  for ((i = 0; i < limit * 4; i++)); do
    [ -S "$CRI_SOCKET" ] && vr-cri --socket "$CRI_SOCKET" --timeout 10 version >/dev/null 2>&1 && break
    kill -0 "$(cat "$CRI_DIR/reaper.pid")" 2>/dev/null || { echo "cri_start: containerd exited" >&2; _cri_log_tail; return 1; }
    sleep 0.25
  done
  [ "$i" -lt $((limit * 4)) ] || { echo "cri_start: no CRI socket after ${limit}s" >&2; _cri_log_tail; return 1; }
  CRI_UP_SECONDS=$(echo "$(date +%s.%N) - $t0" | bc)

  ctr --address "$CRI_SOCKET" -n k8s.io images import --snapshotter "$snap" "$tar" >/dev/null \
    || { echo "cri_start: ctr images import $tar failed" >&2; _cri_log_tail; return 1; }
  # The CRI plugin learns about the image from containerd's events: wait until it does.
  for ((i = 0; i < 40; i++)); do
    ctr --address "$CRI_SOCKET" -n k8s.io images ls -q 2>/dev/null | grep -qx "$CRI_PAUSE_IMAGE" && break
    sleep 0.25
  done
  CRI_START_SECONDS=$(echo "$(date +%s.%N) - $t0" | bc)
  export CRI_SOCKET CRI_UP_SECONDS CRI_START_SECONDS
}

# _cri_shim_pids: the runc shims of our containerd: containerd-shim-runc-v2 processes
# with our socket as an argument ("-namespace k8s.io -id .. -address $CRI_SOCKET")
_cri_shim_pids() {
  local f pid
  for f in $(grep -lzxF -- "$CRI_SOCKET" /proc/[0-9]*/cmdline 2>/dev/null); do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in */containerd-shim-runc-v2) echo "$pid";; esac
  done
}

# (in an || list, so that a test's set -e does not stop it halfway: most steps may fail)
cri_stop() { _cri_stop || true; }
_cri_stop() {
  local pid id i p m
  if [ -S "$CRI_SOCKET" ]; then
    # As kubelet would: stop (CNI DEL) and remove every pod while containerd runs.
    for id in $(vr-cri --socket "$CRI_SOCKET" --timeout 60 list-pods 2>/dev/null | awk '{print $1}'); do
      vr-cri --socket "$CRI_SOCKET" --timeout 60 stop-pod "$id" >/dev/null 2>&1 || true
      vr-cri --socket "$CRI_SOCKET" --timeout 60 remove-pod "$id" >/dev/null 2>&1 || true
    done
  fi
  if [ -s "$CRI_DIR/containerd.pid" ]; then
    pid=$(cat "$CRI_DIR/containerd.pid")
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null
  fi
  # Shims outlive containerd by design; kill them and what they run (pause, runc init).
  for pid in $(_cri_shim_pids); do
    for p in $(awk -v pp="$pid" '$1 == "PPid:" && $2 == pp {print FILENAME}' /proc/[0-9]*/status 2>/dev/null); do
      p=${p#/proc/}; kill -KILL "${p%/status}" 2>/dev/null
    done
    kill -KILL "$pid" 2>/dev/null
  done
  for ((i = 0; i < 20; i++)); do [ -z "$(_cri_shim_pids)" ] && break; sleep 0.25; done
  # The reaper exits once it has waited for all of them.
  if [ -s "$CRI_DIR/reaper.pid" ]; then
    pid=$(cat "$CRI_DIR/reaper.pid")
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  # Unmount everything below $CRI_DIR (rootfs overlays, shm, netns bind mounts), deepest first.
  if grep -q " $CRI_DIR " /proc/mounts; then
    for m in $(awk -v d="$CRI_DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    umount "$CRI_DIR" 2>/dev/null || umount -l "$CRI_DIR"
  fi
  rmdir "$CRI_DIR" 2>/dev/null
  # The pods' cgroups (runc made them under the cgroup parent), deepest first.
  if [ -d /sys/fs/cgroup/kubepods ]; then
    find /sys/fs/cgroup/kubepods -depth -type d -exec rmdir {} \; 2>/dev/null
  fi
  if [ -f "$CRI_CGROUP_MARK" ]; then
    umount /sys/fs/cgroup 2>/dev/null && rm -f "$CRI_CGROUP_MARK"
  fi
  true
}

# cri_vrouter_dirs <dir>: a CNI bin dir (vrouter-cni, plus loopback and portmap that
# containerd and the chain need) and a conf dir with the vrouter conflist
cri_vrouter_dirs() {
  mkdir -p "$1/bin" "$1/net.d"
  ln -sf "$PWD/target/release/vrouter-cni" "$1/bin/vrouter-cni"
  ln -sf /usr/lib/cni/loopback "$1/bin/loopback"
  ln -sf /usr/lib/cni/portmap "$1/bin/portmap"
  cp cni/10-vrouter.conflist "$1/net.d/"
}
