//go:build tools

// agnhost, Kubernetes' own test server (netexec, connect, serve-hostname, ...), built
// from this module as the test pods' image (cluster/build.sh).
package tools

import _ "k8s.io/kubernetes/test/images/agnhost"
