//go:build tools

// Package tools pins crictl for the offline kind node image: kind's log
// export (`ExportLogs` when a run fails) runs it in every node. In its own
// module so its dependencies do not move tools/kind-node's away from
// tools/kube's.
package tools

import _ "sigs.k8s.io/cri-tools/cmd/crictl"
