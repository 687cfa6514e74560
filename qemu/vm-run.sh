#!/usr/bin/env bash
# Boots the test kernel in QEMU (virtme-ng, host filesystem shared read-only with
# writable overlays) and runs a command inside, from the checkout's top directory.
#   qemu/vm-run.sh <command> [args...]
# Exit status: the command's. Guest kernel warnings, oopses and BUG lines fail the run.
# On failure the guest console is printed. TCG by default; VR_ACCEL=kvm uses KVM only
# after a probe boot proves it works on this machine (on these hosts it usually hangs).
# VR_VM_NET="NETNS TAP MAC" gives the guest a virtio NIC (eth0) on an existing tap in
# network namespace NETNS (cluster/control-plane.sh makes them): QEMU runs in NETNS, so
# all of the guest's traffic stays there.
set -euo pipefail
. "$(dirname "$0")/kernel-env.sh"

[ $# -gt 0 ] || { echo "usage: $0 <command> [args...]" >&2; exit 64; }
kdir=$(bash "$VR_TOP/qemu/build-kernel.sh")
mkdir -p "$VR_TOP/out"
log=${VR_VM_LOG:-$VR_TOP/out/vm-console.log}
mem=${VR_VM_MEM:-2G}
cpus=${VR_VM_CPUS:-2}

net=() netns=()
if [ -n "${VR_VM_NET:-}" ]; then
  read -r ns tap mac <<< "$VR_VM_NET"
  netns=(ip netns exec "$ns")
  net=("--qemu-opts=-netdev tap,id=fabric,ifname=$tap,script=no,downscript=no -device virtio-net-pci,netdev=fabric,mac=$mac")
fi

# The guest's root is the host's filesystem over 9p, which virtme-ng mounts without a cache:
# every exec and every open was a round trip to QEMU's 9p server, and in TCG that made a
# `ynl` call 6 s and a test two to three times slower. The host's files do not change under
# a running guest (the checkout, the caches and out/k8s are written before it boots; the
# guest's own writes go to tmpfs overlays), so the guest may cache them: the kernel takes
# the last rootflags= of its command line.
rootflags=rootflags=version=9p2000.L,trans=virtio,access=any,msize=524288,cache=loose

# The VM runs in a process group of its own, so a run past its time limit takes QEMU
# with it (timeout(1) alone killed vng and left QEMU running, holding a core).
boot() { # boot <accel-args> <logfile> <timeout> <guest command>
  local accel=$1 out=$2 limit=$3 vm watchdog; shift 3
  setsid "${netns[@]}" vng --run "$kdir/arch/x86/boot/bzImage" $accel --disable-microvm \
    --force-9p --memory "$mem" --cpus "$cpus" --verbose --cwd "$VR_TOP" "${net[@]}" \
    --append "$rootflags" --exec "bash $VR_TOP/qemu/guest-run.sh $*" > "$out" 2>&1 </dev/null &
  vm=$!
  # (the sleep gets no fds of ours: killing the watchdog leaves it behind, and holding our
  # stdout it kept a `vm-run.sh | tail` waiting for the whole time limit)
  (sleep "$limit" </dev/null >/dev/null 2>&1; echo "[vm] no exit after ${limit}s: stopping the VM" >&2
    kill -TERM -- "-$vm" 2>/dev/null; sleep 5; kill -KILL -- "-$vm" 2>/dev/null) &
  watchdog=$!
  wait "$vm" || true
  kill "$watchdog" 2>/dev/null || true
}

accel=--disable-kvm
if [ "${VR_ACCEL:-tcg}" = kvm ]; then
  boot "" "$VR_TOP/out/kvm-probe.log" 30 true
  if grep -q '^VR-EXIT=0' "$VR_TOP/out/kvm-probe.log"; then accel=""; else echo "[vm] KVM probe failed; using TCG" >&2; fi
fi

start=$(date +%s)
boot "$accel" "$log.raw" "${VR_VM_TIMEOUT:-3000}" "$(printf '%q ' "$@")"
tr -d '\r' < "$log.raw" > "$log" && rm -f "$log.raw"
rc=$(sed -n 's/^VR-EXIT=\([0-9]*\).*/\1/p' "$log" | tail -1)
# The guest's own output, without the kernel's timestamped console lines.
awk '/^VR-EXIT=/ {exit} out {print} /^VR-BEGIN$/ {out=1}' "$log"
bad=$(grep -E 'WARNING:|BUG:|Oops|general protection fault|Kernel panic|Call Trace:|UBSAN|KASAN' "$log" || true)
if [ -n "$bad" ]; then
  echo "[vm] guest kernel reported problems:" >&2
  echo "$bad" >&2
  rc=${rc:-1}; [ "$rc" = 0 ] && rc=1
fi
if [ -z "$rc" ]; then
  echo "[vm] no exit status from the guest (crash or timeout)" >&2
  rc=1
fi
echo "[vm] guest exited $rc after $(( $(date +%s) - start ))s (console: $log)" >&2
if [ "$rc" != 0 ]; then
  echo "---- guest console (last 150 lines) ----" >&2
  tail -n 150 "$log" >&2
fi
exit "$rc"
