#!/usr/bin/env bash
# Makes a one-layer OCI image layout tarball from one static binary, without a registry:
# `ctr -n k8s.io images import` accepts it under the given name.
#   tests/cri/oci-image.sh OUT.tar REF /ENTRYPOINT BINARY [USER]
# The binary lands at /ENTRYPOINT. Reproducible: the same binary gives the same digests.
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 OUT.tar REF /ENTRYPOINT BINARY [USER]" >&2; exit 64; }
out=$1 ref=$2 entry=${3#/} bin=$4 user=${5:-0:0}
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs" "$work/oci/blobs/sha256"
install -m 0755 "$bin" "$work/rootfs/$entry"

# put <file>: stores a blob, prints its digest (hex) and size
put() {
  local d s
  d=$(sha256sum "$1" | cut -d' ' -f1)
  s=$(stat -c %s "$1")
  cp "$1" "$work/oci/blobs/sha256/$d"
  echo "$d $s"
}

# The layer: an uncompressed tar holding the binary, owned by root, time 0.
tar --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  --owner=0 --group=0 --numeric-owner --mtime=@0 --sort=name \
  -C "$work/rootfs" -cf "$work/layer.tar" "$entry"
read -r layer layer_size < <(put "$work/layer.tar")

printf '%s' "$(jq -cn --arg arch "$arch" --arg diff "sha256:$layer" --arg entry "/$entry" --arg user "$user" '{
  architecture: $arch, os: "linux",
  config: {Entrypoint: [$entry], WorkingDir: "/", User: $user},
  rootfs: {type: "layers", diff_ids: [$diff]},
  history: [{created_by: "tests/cri/oci-image.sh"}]}')" > "$work/config.json"
read -r config config_size < <(put "$work/config.json")

printf '%s' "$(jq -cn --arg c "sha256:$config" --argjson cs "$config_size" \
  --arg l "sha256:$layer" --argjson ls "$layer_size" '{
  schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
  layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $l, size: $ls}]}')" \
  > "$work/manifest.json"
read -r manifest manifest_size < <(put "$work/manifest.json")

jq -cn --arg m "sha256:$manifest" --argjson ms "$manifest_size" --arg ref "$ref" --arg arch "$arch" '{
  schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
    platform: {architecture: $arch, os: "linux"},
    annotations: {"org.opencontainers.image.ref.name": $ref, "io.containerd.image.name": $ref}}]}' \
  > "$work/oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$work/oci/oci-layout"

mkdir -p "$(dirname "$out")"
tar --owner=0 --group=0 --numeric-owner --mtime=@0 --sort=name \
  -C "$work/oci" -cf "$out.tmp" oci-layout index.json blobs
mv "$out.tmp" "$out"
echo "$ref sha256:$manifest" >&2
