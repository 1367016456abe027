package local

import (
	"context"
	"strings"
	"testing"

	"sigs.k8s.io/e2e-framework/support"

	"github.com/gammaproof/gammaproof/localcluster/cluster"
)

func TestProviderOptions(t *testing.T) {
	p := NewProvider().WithName("x").WithPath("/opt/bin").WithOpts(WithStateDir("/tmp/gpt-none")).(*Cluster)
	if p.binDir != "/opt/bin" || p.stateDir != "/tmp/gpt-none" || p.name != "x" {
		t.Errorf("options not applied: %+v", p)
	}
	if got := p.GetKubeconfig(); got != "/tmp/gpt-none/kubeconfig" {
		t.Errorf("GetKubeconfig = %q", got)
	}
	if got := p.GetKubectlContext(); got != cluster.ContextName {
		t.Errorf("GetKubectlContext = %q", got)
	}
	if p.KubernetesRestConfig() != nil {
		t.Error("rest config before Create")
	}
}

func TestProviderRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		call func(p *Cluster) error
		want string
	}{
		{"other version", func(p *Cluster) error {
			_, err := p.WithVersion("v1.30.0").(*Cluster).Create(ctx)
			return err
		}, "runs the pinned v1.37.2"},
		{"args", func(p *Cluster) error { _, err := p.Create(ctx, "--image", "x"); return err }, "takes none"},
		{"config file", func(p *Cluster) error { _, err := p.CreateWithConfig(ctx, "kind.yaml"); return err }, "takes none"},
		{"image archive", func(p *Cluster) error { return p.LoadImageArchive(ctx, "img.tar") }, "no image archives"},
		{"no cluster kubeconfig", func(p *Cluster) error { _, err := p.GenerateKubeconfig(); return err }, "gammaproof cluster up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewCluster("gpt").WithOpts(WithStateDir(t.TempDir())).(*Cluster)
			err := tt.call(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadImage(t *testing.T) {
	var p support.E2EClusterProviderWithImageLoader = NewCluster("gpt")
	if err := p.LoadImage(context.Background(), "busybox:1.36"); err != nil {
		t.Errorf("LoadImage(busybox:1.36) = %v", err)
	}
	err := p.LoadImage(context.Background(), "quay.io/unknown/thing:1")
	if err == nil || !strings.Contains(err.Error(), "busybox") {
		t.Errorf("LoadImage(unknown) = %v, want an error listing what is available", err)
	}
}
