package kind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/klient/k8s"
	"sigs.k8s.io/e2e-framework/klient/wait"
	"sigs.k8s.io/e2e-framework/klient/wait/conditions"
	"sigs.k8s.io/e2e-framework/support"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ErrNoContainerEngine is returned by [Provider.Create] when neither Docker
// nor Podman answers.
var ErrNoContainerEngine = errors.New("no container engine: kind needs Docker or Podman running (or use --env=local)")

// Provider creates and deletes kind clusters with the kind Go library. It
// implements e2e-framework's E2EClusterProviderWithImageLoader. It is not
// safe for concurrent use.
type Provider struct {
	name       string
	image      string
	kubeconfig string
	dir        string
	waitReady  time.Duration
	rc         *rest.Config
	kind       *kindcluster.Provider
}

var _ support.E2EClusterProviderWithImageLoader = (*Provider)(nil)

// New returns a provider for a cluster named name (default "gammaproof").
func New() *Provider { return &Provider{name: "gammaproof", waitReady: 3 * time.Minute} }

// WithName sets the cluster name.
func (p *Provider) WithName(name string) support.E2EClusterProvider { p.name = name; return p }

// WithVersion sets the kindest/node image tag of every node, e.g.
// "v1.37.2", over the images a kind config names.
func (p *Provider) WithVersion(version string) support.E2EClusterProvider {
	p.image = "kindest/node:" + version
	return p
}

// WithPath sets the directory the kubeconfig is written to.
func (p *Provider) WithPath(path string) support.E2EClusterProvider { p.dir = path; return p }

// WithOpts applies e2e-framework cluster options.
func (p *Provider) WithOpts(opts ...support.ClusterOpts) support.E2EClusterProvider {
	for _, o := range opts {
		o(p)
	}
	return p
}

// SetDefaults fills in the kubeconfig directory. The node image stays
// what the kind config names (nodes[].image), else kind's default, unless
// [Provider.WithVersion] set one.
func (p *Provider) SetDefaults() support.E2EClusterProvider {
	if p.dir == "" {
		p.dir = os.TempDir()
	}
	return p
}

func (p *Provider) engine() (*kindcluster.Provider, error) {
	if p.kind != nil {
		return p.kind, nil
	}
	var opt kindcluster.ProviderOption
	switch {
	case engineAnswers("docker"):
		opt = kindcluster.ProviderWithDocker()
	case engineAnswers("podman"):
		opt = kindcluster.ProviderWithPodman()
	default:
		return nil, ErrNoContainerEngine
	}
	p.kind = kindcluster.NewProvider(opt)
	return p.kind, nil
}

// EngineAvailable reports whether a container engine kind can use answers.
func EngineAvailable() bool { return engineAnswers("docker") || engineAnswers("podman") }

// engineAnswers reports whether the engine's daemon answers, not merely
// whether its client is installed (kind's own detection checks only that).
func engineAnswers(client string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, client, "info").Run() == nil
}

// Create creates the cluster with kind's default config. args[0], when
// given, is a kind config file.
func (p *Provider) Create(ctx context.Context, args ...string) (string, error) {
	if len(args) > 0 && args[0] != "" {
		return p.CreateWithConfig(ctx, args[0])
	}
	return p.create(ctx, nil)
}

// CreateWithConfig creates the cluster from a kind config file, checked
// with [LoadConfig] first.
func (p *Provider) CreateWithConfig(ctx context.Context, configFile string) (string, error) {
	_, raw, err := LoadConfig(configFile)
	if err != nil {
		return "", err
	}
	return p.create(ctx, raw)
}

func (p *Provider) create(ctx context.Context, raw []byte) (string, error) {
	p.SetDefaults()
	k, err := p.engine()
	if err != nil {
		return "", err
	}
	p.kubeconfig = filepath.Join(p.dir, "kind-"+p.name+".kubeconfig")
	existing, err := k.List()
	if err != nil {
		return "", fmt.Errorf("list kind clusters: %w", err)
	}
	exists := false
	for _, n := range existing {
		exists = exists || n == p.name
	}
	if exists {
		if err := k.ExportKubeConfig(p.name, p.kubeconfig, false); err != nil {
			return "", fmt.Errorf("export kubeconfig of kind cluster %s: %w", p.name, err)
		}
	} else {
		opts := []kindcluster.CreateOption{
			kindcluster.CreateWithKubeconfigPath(p.kubeconfig),
			kindcluster.CreateWithWaitForReady(p.waitReady),
			kindcluster.CreateWithDisplayUsage(false),
			kindcluster.CreateWithDisplaySalutation(false),
		}
		if raw != nil {
			opts = append(opts, kindcluster.CreateWithRawConfig(raw))
		}
		if p.image != "" {
			opts = append(opts, kindcluster.CreateWithNodeImage(p.image))
		}
		if err := k.Create(p.name, opts...); err != nil {
			return "", fmt.Errorf("create kind cluster %s: %w", p.name, err)
		}
	}
	rc, err := clientcmd.BuildConfigFromFlags("", p.kubeconfig)
	if err != nil {
		return "", fmt.Errorf("load kubeconfig %s: %w", p.kubeconfig, err)
	}
	p.rc = rc
	client, err := klient.New(rc)
	if err != nil {
		return "", fmt.Errorf("create client for kind cluster %s: %w", p.name, err)
	}
	// kind waits for the control-plane node only; the suite's pods need
	// cluster DNS too.
	if err := p.WaitForControlPlane(ctx, client); err != nil {
		return "", fmt.Errorf("kind cluster %s: %w", p.name, err)
	}
	return p.kubeconfig, nil
}

// GetKubeconfig returns the kubeconfig path of the created cluster.
func (p *Provider) GetKubeconfig() string { return p.kubeconfig }

// GenerateKubeconfig writes the cluster's kubeconfig again and returns its path.
func (p *Provider) GenerateKubeconfig(args ...string) (string, error) {
	k, err := p.engine()
	if err != nil {
		return "", err
	}
	if err := k.ExportKubeConfig(p.name, p.kubeconfig, false); err != nil {
		return "", fmt.Errorf("export kubeconfig: %w", err)
	}
	return p.kubeconfig, nil
}

// GetKubectlContext returns kind's context name for the cluster.
func (p *Provider) GetKubectlContext() string { return "kind-" + p.name }

// KubernetesRestConfig returns the admin config, nil before Create.
func (p *Provider) KubernetesRestConfig() *rest.Config { return p.rc }

// ExportLogs writes the nodes' logs under dest.
func (p *Provider) ExportLogs(ctx context.Context, dest string) error {
	k, err := p.engine()
	if err != nil {
		return err
	}
	if err := k.CollectLogs(p.name, dest); err != nil {
		return fmt.Errorf("collect kind logs: %w", err)
	}
	return nil
}

// Destroy deletes the cluster and its kubeconfig.
func (p *Provider) Destroy(ctx context.Context) error {
	k, err := p.engine()
	if err != nil {
		return err
	}
	if err := k.Delete(p.name, p.kubeconfig); err != nil {
		return fmt.Errorf("delete kind cluster %s: %w", p.name, err)
	}
	return nil
}

// WaitForControlPlane waits until every node is Ready and a CoreDNS pod is
// Ready. Unlike e2e-framework's own kind provider it does not wait for
// kindnet or kube-proxy pods by label, which a cluster with another CNI
// lacks.
func (p *Provider) WaitForControlPlane(ctx context.Context, client klient.Client) error {
	var nodes corev1.NodeList
	if err := client.Resources().List(ctx, &nodes); err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		err := wait.For(conditions.New(client.Resources()).ResourceMatch(n, func(o k8s.Object) bool {
			for _, c := range o.(*corev1.Node).Status.Conditions {
				if c.Type == corev1.NodeReady {
					return c.Status == corev1.ConditionTrue
				}
			}
			return false
		}), wait.WithContext(ctx), wait.WithTimeout(p.waitReady))
		if err != nil {
			return fmt.Errorf("wait for node %s Ready: %w", n.Name, err)
		}
	}
	var dns corev1.PodList
	err := wait.For(func(ctx context.Context) (bool, error) {
		if err := client.Resources("kube-system").List(ctx, &dns, func(o *metav1.ListOptions) { o.LabelSelector = "k8s-app=kube-dns" }); err != nil {
			return false, nil
		}
		// Ready, not just running: until a DNS pod is Ready the kube-dns
		// Service has no endpoint, and lookups (gamma-node's of its
		// controller among them) fail for as long as CoreDNS waits for the
		// API server, 40 s in one CI run.
		for _, pod := range dns.Items {
			for _, c := range pod.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					return true, nil
				}
			}
		}
		return false, nil
	}, wait.WithContext(ctx), wait.WithTimeout(p.waitReady))
	if err != nil {
		return fmt.Errorf("wait for cluster DNS: %w", err)
	}
	return nil
}

// LoadImage is not supported: nothing can be pulled; build tarballs with
// `make images` and use [Provider.LoadImageArchive].
func (p *Provider) LoadImage(ctx context.Context, image string, args ...string) error {
	return fmt.Errorf("load image %s: pulling is not supported; load an archive from `make images` instead", image)
}

// LoadImageArchive loads an OCI/docker image tarball into every node.
func (p *Provider) LoadImageArchive(ctx context.Context, archivePath string, args ...string) error {
	k, err := p.engine()
	if err != nil {
		return err
	}
	nodes, err := k.ListNodes(p.name)
	if err != nil {
		return fmt.Errorf("list nodes of kind cluster %s: %w", p.name, err)
	}
	for _, n := range nodes {
		f, err := os.Open(archivePath)
		if err != nil {
			return fmt.Errorf("open image archive: %w", err)
		}
		err = nodeutils.LoadImageArchive(n, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("load %s into node %s: %w", filepath.Base(archivePath), n.String(), err)
		}
	}
	return nil
}
