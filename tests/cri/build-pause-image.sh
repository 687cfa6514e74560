#!/usr/bin/env bash
# Builds the pod sandbox ("pause") image without any registry: tests/cri/pause.c compiled
# static, in a one-layer OCI image tarball (tests/cri/oci-image.sh) that
# `ctr -n k8s.io images import` accepts, named localhost/vrouter/pause:1 (or $PAUSE_IMAGE).
#   tests/cri/build-pause-image.sh OUT.tar
set -euo pipefail
[ $# = 1 ] || { echo "usage: $0 OUT.tar" >&2; exit 64; }
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -static -O2 -Wall -Wextra -Werror -o "$work/pause" "$here/pause.c"
strip "$work/pause"
bash "$here/oci-image.sh" "$1" "${PAUSE_IMAGE:-localhost/vrouter/pause:1}" /pause "$work/pause" 65535:65535
