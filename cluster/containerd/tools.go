//go:build tools

// The containerd binaries the node VMs run, pinned by this module's go.mod and built
// by cluster/build.sh: containerd (with its CRI plugin), the runc shim and ctr.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
