#!/usr/bin/env bash
# Installs everything the build and the tests need on a Debian 12 host, as root.
# Idempotent and quick when nothing is missing: each step checks before it installs.
set -euo pipefail

APT_PACKAGES=(
  # test kernel build (LLVM=1 with clang/lld 19, as CONFIG_RUST wants)
  linux-source-6.12 clang-19 lld-19 llvm-19 libclang-19-dev
  make flex bison bc libelf-dev libssl-dev cpio xz-utils kmod
  # VM runner and in-VM tools
  qemu-system-x86 iproute2 iputils-ping iperf3 python3-yaml python3-jsonschema
  busybox-static procps jq curl nftables tcpdump
  # container runtime tests: containerd (CRI plugin built in) + runc run pod sandboxes
  # and the CNI plugins as kubelet would; protoc builds the CRI client's bindings
  containerd runc containernetworking-plugins protobuf-compiler
  # the Kubernetes test cluster (cluster/): its PKI; the Go toolchain is the machine's
  openssl
)
# Directories kubelet, containerd and the agent use on a node: read-only host directories
# in the VMs (virtme-ng shares the host's root), where cluster/node.sh mounts a tmpfs each.
NODE_MOUNT_POINTS=(/var/lib/kubelet /var/lib/vrouter /opt/cni/bin /etc/cni/net.d /etc/vrouter)
# virtme-ng boots the test kernel with the host's filesystem shared in.
VNG_VERSION=1.42
BINDGEN_VERSION=0.73.2

log() { printf '[setup] %s\n' "$*" >&2; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The tests start their own containerd (tests/cri/containerd.sh) inside the VM; one
  # that the package enabled on a systemd host would only hold /run/containerd.
  if [[ " ${missing[*]} " == *" containerd "* ]] && [ -d /run/systemd/system ]; then
    log "systemctl disable --now containerd (the tests start their own)"
    systemctl disable --now containerd.service >/dev/null 2>&1 || true
  fi
fi

# rust-src for the kernel's Rust; rustfmt and clippy are make test-host's gates
for c in rust-src rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
    log "rustup component add $c"
    rustup component add "$c"
  fi
done

if ! command -v bindgen >/dev/null || ! bindgen --version | grep -q "$BINDGEN_VERSION"; then
  log "cargo install bindgen-cli $BINDGEN_VERSION"
  cargo install --locked --quiet bindgen-cli --version "$BINDGEN_VERSION"
fi

if ! command -v vng >/dev/null || ! vng --version 2>/dev/null | grep -q "$VNG_VERSION"; then
  log "pip install virtme-ng==$VNG_VERSION"
  pip install --quiet --root-user-action=ignore "virtme-ng==$VNG_VERSION"
fi
for d in "${NODE_MOUNT_POINTS[@]}"; do [ -d "$d" ] || mkdir -p "$d"; done
command -v go >/dev/null || { log "the Go toolchain (go) is missing: cluster/build.sh needs it"; exit 1; }
# Cargo's build directory lives in the cache, so a fresh clone (CI's) reuses the compiled
# crates: `target` is a link to $VR_CACHE/cargo-<hash of the toolchain>, and cargo's own
# fingerprints decide what to rebuild (its lock keeps two clones from building at once).
# A real target/ directory is left as it is.
top=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -e "$top/target" ] || [ -L "$top/target" ]; then
  cargo_dir=${VR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vrouter}/cargo-$(rustc -vV | sha256sum | cut -c1-16)
  mkdir -p "$cargo_dir"
  ln -sfn "$cargo_dir" "$top/target"
fi
log "host ready"
