package cluster

import (
	"os"
	"path/filepath"

	"github.com/gammaproof/gammaproof/internal/repo"
)

// Fixed facts of the local cluster.
const (
	// KubernetesVersion is the version of the pinned Kubernetes build in bin/.
	KubernetesVersion = "v1.37.2"
	// NodeName is the name of the only Node.
	NodeName = "gammaproof-local"
	// ContextName names the cluster, user and context in the kubeconfig.
	ContextName = "gammaproof-local"
	// PodCIDR and ServiceCIDR are the pod and Service address ranges.
	PodCIDR     = "198.18.0.0/16"
	ServiceCIDR = "198.19.0.0/16"
	// AdvertiseAddress is the bridge address: the node's InternalIP and the
	// address pods reach the API server at.
	AdvertiseAddress = "198.18.0.1"
	// KubernetesServiceIP is the first address of ServiceCIDR.
	KubernetesServiceIP = "198.19.0.1"
	// Bridge is the name of the node's bridge.
	Bridge = "gp0"
	// APIServerPort is kube-apiserver's secure port.
	APIServerPort = 6443
	// BPFPinDir is where the implementation pins eBPF objects; down removes it.
	BPFPinDir = "/sys/fs/bpf/gammaproof"
)

// Component names, in start order. They name log and pid files too.
const (
	Etcd              = "etcd"
	APIServer         = "kube-apiserver"
	ControllerManager = "kube-controller-manager"
	Scheduler         = "kube-scheduler"
	LocalNode         = "gamma-localnode"
	Proxy             = "kube-proxy"
)

// Components lists every process of the cluster in start order.
var Components = []string{Etcd, APIServer, ControllerManager, Scheduler, LocalNode, Proxy}

// PortUse is a TCP port and the component listening on it.
type PortUse struct {
	Port      int
	Component string
}

// Ports lists the TCP ports the cluster listens on.
var Ports = []PortUse{
	{2379, Etcd},
	{2380, Etcd},
	{APIServerPort, APIServer},
	{10250, LocalNode},
	{10257, ControllerManager},
	{10259, Scheduler},
	{10249, Proxy},
	{10256, Proxy},
}

// DefaultStateDir returns $GAMMAPROOF_STATE if set, else
// <repo>/.gammaproof/local.
func DefaultStateDir() string {
	if d := os.Getenv("GAMMAPROOF_STATE"); d != "" {
		return d
	}
	return filepath.Join(repo.Root(), ".gammaproof", "local")
}

// Layout is where the cluster keeps its state. Every path is under Dir.
type Layout struct {
	Dir string
}

// Kubeconfig is the admin kubeconfig.
func (l Layout) Kubeconfig() string { return filepath.Join(l.Dir, "kubeconfig") }

// PKIDir holds certificates and keys.
func (l Layout) PKIDir() string { return filepath.Join(l.Dir, "pki") }

// PKI returns the path of a file in PKIDir.
func (l Layout) PKI(name string) string { return filepath.Join(l.Dir, "pki", name) }

// LogDir holds one <component>.log per component.
func (l Layout) LogDir() string { return filepath.Join(l.Dir, "logs") }

// Log is a component's log file.
func (l Layout) Log(component string) string {
	return filepath.Join(l.Dir, "logs", component+".log")
}

// RunDir holds one <component>.pid per component.
func (l Layout) RunDir() string { return filepath.Join(l.Dir, "run") }

// PIDFile is a component's pid file.
func (l Layout) PIDFile(component string) string {
	return filepath.Join(l.Dir, "run", component+".pid")
}

// EtcdDir is etcd's data directory.
func (l Layout) EtcdDir() string { return filepath.Join(l.Dir, "etcd") }

// NodeDir is gamma-localnode's state directory.
func (l Layout) NodeDir() string { return filepath.Join(l.Dir, "node") }

// ComponentKubeconfig is the kubeconfig a component uses.
func (l Layout) ComponentKubeconfig(component string) string {
	return filepath.Join(l.Dir, "kubeconfigs", component+".kubeconfig")
}
