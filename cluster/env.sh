# Sourced by the cluster scripts, on the host and in the node VMs: names, addresses and
# credentials of the test cluster. Everything the VMs need is under $VRK8S_RUN, inside
# the checkout's out/ (the VMs see the host's files, not its /run).
VRK8S_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VRK8S_RUN=${VRK8S_RUN:-$VRK8S_TOP/out/k8s}
# The host-side namespace with the bridge, one per checkout: a CI clone and a working tree
# on the same machine each get their own cluster (addresses are per namespace).
VRK8S_NETNS=vrk8s-$(printf %s "$VRK8S_TOP" | sha256sum | cut -c1-8)
VRK8S_BRIDGE=vrk8s0
VRK8S_API_IP=10.77.0.1                  # kube-apiserver on the bridge
VRK8S_API_IP6=fd77::1
VRK8S_MAX_NODES=3
VRK8S_POD_CIDRS=10.32.0.0/16,fd00:32::/96       # node-ipam hands out a /24 and a /112 each
VRK8S_SERVICE_CIDRS=10.96.0.0/16,fd00:96::/112
# The cached binaries and images (cluster/build.sh); the VMs get the path from the host.
if [ -z "${VRK8S_CACHE:-}" ]; then
  VRK8S_CACHE=$(bash "$VRK8S_TOP/cluster/build.sh")
fi
VRK8S_BIN=$VRK8S_CACHE/bin
export VRK8S_CACHE
. "$VRK8S_CACHE/images.env"

node_name() { echo "node-$1"; }
node_ip() { echo "10.77.0.$((10 + $1))"; }
node_ip6() { echo "fd77::$((10 + $1))"; }
tap_name() { echo "vrk8s-tap$1"; }

# tok NAME: the bearer token of NAME (made once per cluster, with the PKI)
tok() {
  local f=$VRK8S_RUN/pki/tokens/$1
  if [ ! -s "$f" ]; then
    mkdir -p "${f%/*}"
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$f"
  fi
  cat "$f"
}

# kubeconfig USER TOKEN: a kubeconfig for the apiserver on the bridge
kubeconfig() {
  cat <<EOC
apiVersion: v1
kind: Config
clusters:
- name: vrk8s
  cluster:
    server: https://$VRK8S_API_IP:6443
    certificate-authority: $VRK8S_RUN/pki/ca.crt
users:
- name: $1
  user:
    token: $2
contexts:
- name: vrk8s
  context: {cluster: vrk8s, user: $1}
current-context: vrk8s
EOC
}

# kubectl as the cluster admin: in a node VM ($VRK8S_NODE set) run by the host for it
# (cluster/kubectl-via-host), on the host from inside the namespace
kubectl() {
  if [ -n "${VRK8S_NODE:-}" ]; then
    "$VRK8S_TOP/cluster/kubectl-via-host" "$@"
  else
    ip netns exec "$VRK8S_NETNS" "$VRK8S_BIN/kubectl" --kubeconfig "$VRK8S_RUN/admin.kubeconfig" "$@"
  fi
}
