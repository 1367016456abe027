package kind

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/internal/repo"
)

// TestRepoConfigsLoad loads every kind-configs/*.yaml with kind's rules.
func TestRepoConfigsLoad(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(repo.Root(), "kind-configs", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no kind-configs/*.yaml found")
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			cfg, raw, err := LoadConfig(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) == 0 || len(cfg.Nodes) == 0 {
				t.Fatalf("config has %d bytes, %d nodes", len(raw), len(cfg.Nodes))
			}
			if cfg.Networking.PodSubnet != "198.18.0.0/16" || cfg.Networking.ServiceSubnet != "198.19.0.0/16" {
				t.Errorf("networking = %s / %s, want 198.18.0.0/16 / 198.19.0.0/16", cfg.Networking.PodSubnet, cfg.Networking.ServiceSubnet)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"empty", "", "empty document"},
		{"unknown field", "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodez: []\n", "nodez"},
		{"wrong kind", "kind: Pod\napiVersion: v1\n", "want kind Cluster"},
		{"bad role", "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: boss\n", "nodes[0].role"},
		{"no control plane", "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: worker\n", "control-plane"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig([]byte("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Nodes) != 1 || cfg.Nodes[0].Role != "control-plane" {
		t.Fatalf("defaults gave nodes %+v, want one control-plane", cfg.Nodes)
	}
}
