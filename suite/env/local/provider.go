package local

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/support"

	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/localcluster/cluster"
	"github.com/gammaproof/gammaproof/localcluster/node"
)

// Cluster is the local cluster as an e2e-framework provider. Create starts
// it (or reuses a running one, as the kind provider does) and Destroy takes
// it down. There is only one local cluster per state directory; the name is
// informational. Its methods are not safe for concurrent use.
type Cluster struct {
	name     string
	version  string
	binDir   string
	stateDir string
	progress io.Writer
	c        *cluster.Cluster
	rc       *rest.Config
}

var (
	_ support.E2EClusterProvider                = (*Cluster)(nil)
	_ support.E2EClusterProviderWithImageLoader = (*Cluster)(nil)
)

// NewProvider returns a provider for the local cluster with default settings.
func NewProvider() support.E2EClusterProvider {
	return (&Cluster{}).SetDefaults()
}

// NewCluster returns a provider for the local cluster named name.
func NewCluster(name string) *Cluster {
	c := &Cluster{name: name}
	c.SetDefaults()
	return c
}

// WithStateDir keeps the cluster's state in dir instead of
// [cluster.DefaultStateDir].
func WithStateDir(dir string) support.ClusterOpts {
	return func(p support.E2EClusterProvider) {
		if c, ok := p.(*Cluster); ok {
			c.stateDir = dir
		}
	}
}

// WithProgress sends the progress lines of Create and Destroy to w.
func WithProgress(w io.Writer) support.ClusterOpts {
	return func(p support.E2EClusterProvider) {
		if c, ok := p.(*Cluster); ok {
			c.progress = w
		}
	}
}

// SetDefaults fills in the name, bin dir and state dir.
func (c *Cluster) SetDefaults() support.E2EClusterProvider {
	if c.name == "" {
		c.name = cluster.ContextName
	}
	if c.binDir == "" {
		c.binDir = repo.BinDir()
	}
	if c.stateDir == "" {
		c.stateDir = cluster.DefaultStateDir()
	}
	return c
}

// WithName sets the cluster's name. It names nothing on the machine.
func (c *Cluster) WithName(name string) support.E2EClusterProvider {
	c.name = name
	return c
}

// WithVersion asks for a Kubernetes version. Only the pinned build,
// [cluster.KubernetesVersion], exists; Create fails for any other.
func (c *Cluster) WithVersion(version string) support.E2EClusterProvider {
	c.version = version
	return c
}

// WithPath sets the directory holding the binaries (default repo.BinDir()).
func (c *Cluster) WithPath(path string) support.E2EClusterProvider {
	c.binDir = path
	return c
}

// WithOpts applies opts.
func (c *Cluster) WithOpts(opts ...support.ClusterOpts) support.E2EClusterProvider {
	for _, o := range opts {
		o(c)
	}
	return c
}

func (c *Cluster) cluster() *cluster.Cluster {
	if c.c == nil {
		c.c = cluster.New(cluster.Options{StateDir: c.stateDir, BinDir: c.binDir, Progress: c.progress})
	}
	return c.c
}

// Create starts the local cluster, or reuses the one running from the same
// state directory, and returns its kubeconfig path. It takes no args.
func (c *Cluster) Create(ctx context.Context, args ...string) (string, error) {
	if len(args) > 0 {
		return "", fmt.Errorf("create local cluster: unexpected arguments %q (the local cluster takes none)", args)
	}
	if c.version != "" && c.version != cluster.KubernetesVersion {
		return "", fmt.Errorf("create local cluster: Kubernetes %s is not available; the local cluster runs the pinned %s", c.version, cluster.KubernetesVersion)
	}
	res, err := c.cluster().Up(ctx)
	if err != nil {
		return "", fmt.Errorf("create local cluster: %w", err)
	}
	slog.InfoContext(ctx, "local cluster", "name", c.name, "alreadyRunning", res.AlreadyRunning, "took", res.Took.Round(time.Millisecond))
	if c.rc, err = c.cluster().RestConfig(); err != nil {
		return "", err
	}
	return res.Kubeconfig, nil
}

// CreateWithConfig is Create; the local cluster has no config file, so
// configFile must be empty.
func (c *Cluster) CreateWithConfig(ctx context.Context, configFile string) (string, error) {
	if configFile != "" {
		return "", fmt.Errorf("create local cluster: config file %s given, but the local cluster takes none", configFile)
	}
	return c.Create(ctx)
}

// GetKubeconfig returns the admin kubeconfig's path.
func (c *Cluster) GetKubeconfig() string { return c.cluster().Kubeconfig() }

// GenerateKubeconfig returns the admin kubeconfig's path; it takes no args.
func (c *Cluster) GenerateKubeconfig(args ...string) (string, error) {
	if len(args) > 0 {
		return "", fmt.Errorf("generate kubeconfig: unexpected arguments %q", args)
	}
	kc := c.cluster().Kubeconfig()
	if _, err := os.Stat(kc); err != nil {
		return "", fmt.Errorf("generate kubeconfig: %w (is the cluster up? run `gammaproof cluster up`)", err)
	}
	return kc, nil
}

// GetKubectlContext returns the kubeconfig's context name.
func (c *Cluster) GetKubectlContext() string { return cluster.ContextName }

// ExportLogs copies every component's log to dest.
func (c *Cluster) ExportLogs(ctx context.Context, dest string) error {
	return c.cluster().ExportLogs(dest)
}

// Destroy stops the cluster and removes everything it made.
func (c *Cluster) Destroy(ctx context.Context) error {
	if err := c.cluster().Down(ctx); err != nil {
		return fmt.Errorf("destroy local cluster: %w", err)
	}
	c.rc = nil
	return nil
}

// WaitForControlPlane waits until the Node is Ready and the default
// ServiceAccount exists. Create already waits for both, so this returns at
// once after it.
func (c *Cluster) WaitForControlPlane(ctx context.Context, client klient.Client) error {
	cs, err := kubernetes.NewForConfig(client.RESTConfig())
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	return cluster.WaitReady(ctx, cs, 2*time.Minute)
}

// KubernetesRestConfig returns an admin config, or nil before Create.
func (c *Cluster) KubernetesRestConfig() *rest.Config { return c.rc }

// LoadImage loads nothing: the local node pulls no images but maps each
// image reference to executables on this machine. LoadImage checks that
// image resolves in that table and returns the node's error (what is
// available, or which binary to build) when it does not.
func (c *Cluster) LoadImage(ctx context.Context, image string, args ...string) error {
	if err := node.CheckImage(c.binDir, image); err != nil {
		return fmt.Errorf("load image: %w", err)
	}
	return nil
}

// LoadImageArchive is not supported: the local node runs no image
// archives, only the images its resolution table knows.
func (c *Cluster) LoadImageArchive(ctx context.Context, archivePath string, args ...string) error {
	return fmt.Errorf("load image archive %s: the local cluster runs no image archives; use an image it resolves (see LoadImage) or --env=kind", archivePath)
}
