#!/usr/bin/env bash
# Builds the test cluster's binaries and images from Go modules pinned in this folder and
# prints the directory that holds them (cached under $VR_CACHE/cluster-<key>, the key a
# hash of every input, so an unchanged tree reuses them and a fresh machine builds them):
#   bin/vrk8s            kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
#                        kubectl and etcd in one binary (cluster/k8s/main.go), with a
#                        symlink per component name
#   bin/containerd, bin/containerd-shim-runc-v2, bin/ctr   (cluster/containerd)
#   images/agnhost.tar   Kubernetes' test server as an OCI archive (no registry here),
#                        its name in images.env
set -euo pipefail
. "$(dirname "$0")/../qemu/kernel-env.sh"
here=$VR_TOP/cluster
log() { printf '[cluster-build] %s\n' "$*" >&2; }

K8S_VERSION=v1.37.2        # k8s.io/kubernetes in cluster/k8s/go.mod
AGNHOST_VERSION=2.66.1     # test/images/agnhost/VERSION of that release
export AGNHOST_IMAGE=localhost/vrouter/agnhost:$AGNHOST_VERSION

key=$({
  go version
  cat "$here"/build.sh "$here"/k8s/go.mod "$here"/k8s/go.sum "$here"/k8s/*.go
  cat "$here"/containerd/go.mod "$here"/containerd/go.sum "$here"/containerd/*.go
  cat "$VR_TOP"/tests/cri/oci-image.sh
} | sha256sum | cut -c1-16)
dir=$VR_CACHE/cluster-$key

mkdir -p "$VR_CACHE"
exec 9>"$VR_CACHE/cluster.lock"
flock 9
if [ -f "$dir/.built" ]; then
  log "cached: $dir"
  echo "$dir"; exit 0
fi
start=$(date +%s)
tmp=$dir.tmp
rm -rf "$tmp"; mkdir -p "$tmp/bin" "$tmp/images"

# Static binaries: the node VMs and the agnhost image run them without the host's libc.
export CGO_ENABLED=0 GOFLAGS=-trimpath
stamp=k8s.io/component-base/version
ldflags="-s -w -X $stamp.gitVersion=$K8S_VERSION -X $stamp.gitMajor=1 -X $stamp.gitMinor=37
 -X $stamp.gitTreeState=clean -X $stamp.buildDate=1970-01-01T00:00:00Z"

log "kubernetes $K8S_VERSION (one binary)"
(cd "$here/k8s" && go build -mod=readonly -ldflags "$ldflags" -o "$tmp/bin/vrk8s" .)
for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl etcd; do
  ln -s vrk8s "$tmp/bin/$c"
done
log "agnhost $AGNHOST_VERSION"
(cd "$here/k8s" && go build -mod=readonly -ldflags "-s -w" -o "$tmp/agnhost" k8s.io/kubernetes/test/images/agnhost)
log "containerd"
(cd "$here/containerd" && go build -mod=readonly -tags no_btrfs,no_devmapper,no_zfs -ldflags "-s -w" -o "$tmp/bin/" \
  github.com/containerd/containerd/v2/cmd/containerd \
  github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
  github.com/containerd/containerd/v2/cmd/ctr)

bash "$VR_TOP/tests/cri/oci-image.sh" "$tmp/images/agnhost.tar" "$AGNHOST_IMAGE" /agnhost "$tmp/agnhost"
rm -f "$tmp/agnhost"
echo "AGNHOST_IMAGE=$AGNHOST_IMAGE" > "$tmp/images.env"

touch "$tmp/.built"
mv "$tmp" "$dir"
ls -1dt "$VR_CACHE"/cluster-*/ 2>/dev/null | grep -v '\.tmp/$' | tail -n +3 | xargs -r rm -rf
log "built in $(( $(date +%s) - start ))s: $dir"
echo "$dir"
