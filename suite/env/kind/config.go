package kind

import (
	"bytes"
	"fmt"
	"os"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

// DefaultNodeImage is the kind node image kind v0.33 defaults to.
const DefaultNodeImage = "kindest/node:v1.37.0"

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
