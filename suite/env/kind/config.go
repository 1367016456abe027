package kind

import (
	"bytes"
	"fmt"
	"os"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

// NodeImage is the node image kind-configs/ name: Kubernetes v1.37.2, the
// version tools/kube pins. Where images can be pulled kind pulls it;
// offline, `make kind-node-image` builds it under this name (docs/kind.md).
const NodeImage = "kindest/node:v1.37.2"

// LoadConfig reads a kind cluster config the way kind does: strictly into
// v1alpha4.Cluster, with kind's defaults applied. Unknown fields, a wrong
// kind or apiVersion are errors naming the file. It returns the decoded
// config and the raw bytes to hand to kind.
func LoadConfig(path string) (*v1alpha4.Cluster, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read kind config: %w", err)
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, raw, nil
}

// ParseConfig is [LoadConfig] for bytes.
func ParseConfig(raw []byte) (*v1alpha4.Cluster, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("decode kind config: empty document")
	}
	cfg := &v1alpha4.Cluster{}
	if err := yaml.UnmarshalStrict(raw, cfg); err != nil {
		return nil, fmt.Errorf("decode kind config: %w", err)
	}
	if cfg.Kind != "Cluster" || cfg.APIVersion != "kind.x-k8s.io/v1alpha4" {
		return nil, fmt.Errorf("decode kind config: want kind Cluster, apiVersion kind.x-k8s.io/v1alpha4; got kind %q, apiVersion %q", cfg.Kind, cfg.APIVersion)
	}
	v1alpha4.SetDefaultsCluster(cfg)
	roles := map[v1alpha4.NodeRole]int{}
	for i, n := range cfg.Nodes {
		switch n.Role {
		case v1alpha4.ControlPlaneRole, v1alpha4.WorkerRole:
			roles[n.Role]++
		default:
			return nil, fmt.Errorf("nodes[%d].role: %q is neither %q nor %q", i, n.Role, v1alpha4.ControlPlaneRole, v1alpha4.WorkerRole)
		}
	}
	if roles[v1alpha4.ControlPlaneRole] == 0 {
		return nil, fmt.Errorf("nodes: need at least one control-plane node")
	}
	return cfg, nil
}

// NodeNames returns the names kind gives the nodes of cfg, in order:
// <cluster>-control-plane, <cluster>-control-plane2, …, <cluster>-worker,
// <cluster>-worker2, … (kind numbers each role from the second node on).
func NodeNames(cfg *v1alpha4.Cluster) []string {
	count := map[v1alpha4.NodeRole]int{}
	out := make([]string, 0, len(cfg.Nodes))
	for _, n := range cfg.Nodes {
		count[n.Role]++
		name := cfg.Name + "-" + string(n.Role)
		if c := count[n.Role]; c > 1 {
			name += fmt.Sprint(c)
		}
		out = append(out, name)
	}
	return out
}
