package cluster

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gammaproof/gammaproof/internal/repo"
)

// ErrNotLinux is returned on other systems: the local cluster runs pods as
// Linux processes in network namespaces and cgroups.
var ErrNotLinux = errors.New("the local cluster needs Linux; use --env=kind elsewhere")

// Options configure a [Cluster].
type Options struct {
	// StateDir holds all state. Optional: default [DefaultStateDir].
	StateDir string
	// BinDir holds the binaries. Optional: default repo.BinDir().
	BinDir string
	// Progress receives one human-readable line per step of Up and Down.
	// Optional: nil prints nothing.
	Progress io.Writer
	// Logger receives debug logs. Optional: default slog.Default().
	Logger *slog.Logger
	// ControlPlaneOnly starts etcd, kube-apiserver, kube-controller-manager
	// and kube-scheduler only: no node, no kube-proxy. Optional.
	ControlPlaneOnly bool
}

// Cluster is the local cluster whose state is in one directory. Its methods
// are not safe for concurrent use.
type Cluster struct {
	opts   Options
	layout Layout
}

// New returns the cluster described by opts; it starts nothing.
func New(opts Options) *Cluster {
	if opts.StateDir == "" {
		opts.StateDir = DefaultStateDir()
	}
	if opts.BinDir == "" {
		opts.BinDir = repo.BinDir()
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Cluster{opts: opts, layout: Layout{Dir: opts.StateDir}}
}

// components returns the components this cluster runs, in start order.
func (c *Cluster) components() []string {
	if c.opts.ControlPlaneOnly {
		return Components[:4]
	}
	return Components
}

// Layout returns where the cluster keeps its state.
func (c *Cluster) Layout() Layout { return c.layout }

// Kubeconfig returns the path of the admin kubeconfig.
func (c *Cluster) Kubeconfig() string { return c.layout.Kubeconfig() }

// RestConfig returns an admin client config from the kubeconfig.
func (c *Cluster) RestConfig() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.layout.Kubeconfig())
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig (is the cluster up? run `gammaproof cluster up`): %w", err)
	}
	return cfg, nil
}

// UpResult says what [Cluster.Up] did.
type UpResult struct {
	// AlreadyRunning is true when every component was running and Up
	// started nothing.
	AlreadyRunning bool
	// Took is how long Up took.
	Took time.Duration
	// Kubeconfig is the admin kubeconfig's path.
	Kubeconfig string
}

// ComponentStatus is the state of one component process.
type ComponentStatus struct {
	Name string
	// PID is the process id; 0 when not running.
	PID int
}

// Status is what runs.
type Status struct {
	Components []ComponentStatus
	// NodeReady is the Node's Ready condition ("True", "False", "Unknown"),
	// or "" when the Node could not be read; NodeErr says why.
	NodeReady string
	NodeErr   error
}

// Running reports whether every component runs.
func (s *Status) Running() bool {
	for _, c := range s.Components {
		if c.PID == 0 {
			return false
		}
	}
	return len(s.Components) > 0
}

func (c *Cluster) progressf(format string, args ...any) {
	fmt.Fprintf(c.opts.Progress, format+"\n", args...)
}
