package kind

import (
	"os"
	"path/filepath"
	"regexp"
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
			// Inside 198.18.0.0/15, clear of the docker network kind
			// (198.19.255.0/24, hack/kind/engine.sh).
			if cfg.Networking.PodSubnet != "198.18.0.0/16" || cfg.Networking.ServiceSubnet != "198.19.0.0/17" {
				t.Errorf("networking = %s / %s, want 198.18.0.0/16 / 198.19.0.0/17", cfg.Networking.PodSubnet, cfg.Networking.ServiceSubnet)
			}
			for i, n := range cfg.Nodes {
				if n.Image != NodeImage {
					t.Errorf("nodes[%d].image = %q, want %q (what make kind-node-image builds)", i, n.Image, NodeImage)
				}
			}
		})
	}
}

// TestNodeImageMatchesKubePin: the node image is the Kubernetes version
// tools/kube pins, which `make kind-node-image` builds kubelet and kubeadm
// from (tools/kind-node pins the same).
func TestNodeImageMatchesKubePin(t *testing.T) {
	for _, mod := range []string{"kube", "kind-node"} {
		raw, err := os.ReadFile(filepath.Join(repo.Root(), "tools", mod, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)\sk8s\.io/kubernetes (v\S+)`).FindSubmatch(raw)
		if m == nil {
			t.Fatalf("tools/%s/go.mod requires no k8s.io/kubernetes", mod)
		}
		if want := "kindest/node:" + string(m[1]); NodeImage != want {
			t.Errorf("NodeImage = %s, but tools/%s pins k8s.io/kubernetes %s: want %s", NodeImage, mod, m[1], want)
		}
	}
}

func TestParseConfigErrors(t *testing.T) {
	const cluster = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"empty", "", "empty document"},
		{"unknown field", cluster + "nodez: []\n", "nodez"},
		{"wrong kind", "kind: Pod\napiVersion: v1\n", "want kind Cluster"},
		{"bad role", cluster + "nodes:\n- role: boss\n", "nodes[0].role"},
		{"no control plane", cluster + "nodes:\n- role: worker\n", "control-plane"},
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
