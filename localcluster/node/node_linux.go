package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	vknode "github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gammaproof/gammaproof/internal/cgroup2"
)

// KubeletPort is where the node serves logs, exec, attach and port-forward.
const KubeletPort = 10250

// Config configures [Run]. Zero optional fields take the documented default.
type Config struct {
	// NodeName is the Node to register, such as "gammaproof-local".
	NodeName string
	// Kubeconfig is the path of the kubeconfig to reach the apiserver.
	// Ignored when RestConfig is set.
	Kubeconfig string
	// RestConfig reaches the apiserver. Optional: built from Kubeconfig.
	RestConfig *rest.Config
	// StateDir holds pod files, logs, the address allocations and images.
	StateDir string
	// PodCIDR is the pod address range, such as 198.18.0.0/16.
	PodCIDR netip.Prefix
	// Bridge is the name of the pod bridge, such as "gp0".
	Bridge string
	// BridgeIP is the bridge (gateway, DNS, node) address, such as 198.18.0.1.
	BridgeIP netip.Addr
	// ClusterDomain is the DNS domain of the cluster. Optional: cluster.local.
	ClusterDomain string
	// TLSCertFile and TLSKeyFile are the kubelet serving certificate.
	// Optional: a self-signed certificate is made at start.
	TLSCertFile, TLSKeyFile string
	// BinDir holds our binaries (gamma-echo, gamma-client, ...).
	BinDir string
	// Self is the gamma-localnode executable that provides container-init.
	// Optional: the running executable.
	Self string
	// Busybox is the host busybox. Optional: /bin/busybox.
	Busybox string
	// KubeletAddrs are the host:port addresses of the kubelet API.
	// Optional: BridgeIP:10250 and 127.0.0.1:10250.
	KubeletAddrs []string
	// DNSAddr is where cluster DNS listens. Optional: BridgeIP:53.
	DNSAddr string
	// RestartBackoff is the first crash-restart delay, doubled up to five
	// minutes. Optional: 10 s, as kubelet.
	RestartBackoff time.Duration
	// Logger. Optional: slog.Default().
	Logger *slog.Logger
	// NetnsPrefix, VethPrefix and CgroupParent name what the node creates,
	// so a test node can run beside a live one. Optional: "gp-", "gpv" and
	// "gammaproof/pods" (relative to the cgroup v2 mount).
	NetnsPrefix, VethPrefix, CgroupParent string
	// OmitHostnameAddress leaves the Hostname out of the Node's addresses,
	// for an apiserver that prefers Hostname addresses (envtest's default)
	// when the node name does not resolve. Optional.
	OmitHostnameAddress bool
}

func (c *Config) defaults() error {
	if c.NodeName == "" {
		return errors.New("no node name: pass --node-name")
	}
	if c.StateDir == "" {
		return errors.New("no state dir: pass --state-dir")
	}
	if !c.PodCIDR.IsValid() || !c.BridgeIP.IsValid() || !c.PodCIDR.Contains(c.BridgeIP) {
		return fmt.Errorf("bridge ip %s must lie inside pod cidr %s", c.BridgeIP, c.PodCIDR)
	}
	if c.Bridge == "" {
		return errors.New("no bridge name: pass --bridge")
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = "cluster.local"
	}
	if c.Self == "" {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find own executable: %w", err)
		}
		c.Self = self
	}
	if c.Busybox == "" {
		c.Busybox = "/bin/busybox"
	}
	if len(c.KubeletAddrs) == 0 {
		c.KubeletAddrs = []string{net.JoinHostPort(c.BridgeIP.String(), fmt.Sprint(KubeletPort)), net.JoinHostPort("127.0.0.1", fmt.Sprint(KubeletPort))}
	}
	if c.DNSAddr == "" {
		c.DNSAddr = net.JoinHostPort(c.BridgeIP.String(), "53")
	}
	if c.RestartBackoff <= 0 {
		c.RestartBackoff = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.NetnsPrefix == "" {
		c.NetnsPrefix = DefaultNetnsPrefix
	}
	if c.VethPrefix == "" {
		c.VethPrefix = DefaultVethPrefix
	}
	if len(c.VethPrefix) > 8 {
		return fmt.Errorf("veth prefix %q is too long (at most 8 bytes)", c.VethPrefix)
	}
	return nil
}

// Run registers the Node and runs its pods until ctx ends. Pod processes
// keep running after Run returns, as with kubelet; [Cleanup] removes them.
// At start it clears what a crashed run left (pod processes, namespaces,
// veths); pods still bound to the node are started again by the pod
// controller, keeping their addresses.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("gamma-localnode must run as root (it creates network namespaces and cgroups): run it with sudo")
	}
	log := cfg.Logger.With("node", cfg.NodeName)
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return fmt.Errorf("find nsenter: %w (apt-get install util-linux)", err)
	}
	rc, client, err := nodeClient(cfg)
	if err != nil {
		return err
	}
	setup, err := prepareHost(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	factory := informers.NewSharedInformerFactory(client, 10*time.Minute)
	svcInf := factory.Core().V1().Services()
	sliceInf := factory.Discovery().V1().EndpointSlices()
	svcInf.Informer()
	sliceInf.Informer()
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("sync %v informer: %w", typ, ctx.Err())
		}
	}

	p := &provider{
		ctx:         ctx,
		cfg:         cfg,
		log:         log,
		client:      client,
		net:         setup.net,
		cgParent:    setup.cgParent,
		ipam:        setup.ipam,
		images:      NewImageTable(cfg.BinDir, filepath.Join(cfg.StateDir, "images"), cfg.Busybox),
		services:    svcInf.Lister(),
		nsenter:     nsenter,
		mountpoints: &mountpoints{file: filepath.Join(cfg.StateDir, "mountpoints")},
		pods:        map[string]*podRuntime{},
	}
	dnsSrv := &DNSServer{Domain: cfg.ClusterDomain, Lookup: &listerLookup{services: svcInf.Lister(), slices: sliceInf.Lister(), namespace: p.podNamespace}}
	dnsErr, err := dnsSrv.ListenAndServe(ctx, cfg.DNSAddr)
	if err != nil {
		return err
	}
	stopHTTP, err := serveKubelet(ctx, cfg, rc, p, log)
	if err != nil {
		return err
	}
	defer stopHTTP()
	return runNodeController(ctx, cfg, client, p, dnsErr)
}

// nodeClient is the node's API client: the configured rest.Config or one
// from the kubeconfig, allowed enough requests per second for pod status.
func nodeClient(cfg Config) (*rest.Config, kubernetes.Interface, error) {
	rc := cfg.RestConfig
	if rc == nil {
		var err error
		if rc, err = clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig); err != nil {
			return nil, nil, fmt.Errorf("load kubeconfig %s: %w", cfg.Kubeconfig, err)
		}
	}
	// client-go's default 5 QPS would pace pod status updates: a suite
	// that starts 70 pods at once waited ~40 s for them.
	rc = rest.CopyConfig(rc)
	rc.QPS, rc.Burst = 100, 200
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("create kubernetes client: %w", err)
	}
	return rc, client, nil
}

// hostSetup is what the node set up on the machine for its pods.
type hostSetup struct {
	cgParent string
	net      *network
	ipam     *IPAM
}

// prepareHost makes the state directory, the bpf filesystem, the bridge,
// the pods' cgroup parent and the address allocator, after clearing what a
// crashed run left behind.
func prepareHost(cfg Config) (hostSetup, error) {
	cgParent, err := CgroupParent(cfg.CgroupParent)
	if err != nil {
		return hostSetup{}, err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return hostSetup{}, fmt.Errorf("create state dir: %w", err)
	}
	if err := ensureBPFFS(cfg.StateDir); err != nil {
		return hostSetup{}, err
	}
	if err := clearPods(cgParent, cfg.NetnsPrefix, cfg.VethPrefix); err != nil {
		return hostSetup{}, fmt.Errorf("clear leftovers of a previous run: %w", err)
	}
	netw := &network{bridge: cfg.Bridge, gateway: cfg.BridgeIP, prefix: cfg.PodCIDR.Masked()}
	if err := netw.ensureBridge(); err != nil {
		return hostSetup{}, err
	}
	if err := os.MkdirAll(cgParent, 0o755); err != nil {
		return hostSetup{}, fmt.Errorf("create cgroup parent %s: %w", cgParent, err)
	}
	ipam, err := OpenIPAM(filepath.Join(cfg.StateDir, "ipam.json"), cfg.PodCIDR, cfg.BridgeIP)
	if err != nil {
		return hostSetup{}, err
	}
	return hostSetup{cgParent: cgParent, net: netw, ipam: ipam}, nil
}

// runNodeController registers the Node, runs virtual-kubelet's pod
// controller over p until ctx ends, and returns the first error of the
// controller or the DNS server.
func runNodeController(ctx context.Context, cfg Config, client kubernetes.Interface, p *provider, dnsErr <-chan error) error {
	nodeSpec := nodeObject(cfg, p.cgParent)
	n, err := nodeutil.NewNode(cfg.NodeName, func(nodeutil.ProviderConfig) (nodeutil.Provider, vknode.NodeProvider, error) {
		return p, nil, nil
	}, nodeutil.WithClient(client), func(nc *nodeutil.NodeConfig) error {
		nc.NodeSpec = nodeSpec
		nc.NumWorkers = 8
		nc.SkipDownwardAPIResolution = true // resolved at container start, when the pod IP is known
		nc.InformerResyncPeriod = time.Minute
		return nil
	})
	if err != nil {
		return fmt.Errorf("create node controller: %w", err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- n.Run(ctx) }()
	if err := n.WaitReady(ctx, 2*time.Minute); err != nil {
		return fmt.Errorf("wait for node controller: %w", err)
	}
	if err := ensureNodeMeta(ctx, client, cfg, p.cgParent); err != nil {
		return err
	}
	go gcAddresses(ctx, client, cfg.NodeName, p.ipam, p.log)
	p.log.Info("node ready", "cgroupParent", p.cgParent, "dns", cfg.DNSAddr, "kubelet", cfg.KubeletAddrs)
	select {
	case <-ctx.Done():
		<-runErr
		return nil
	case err := <-runErr:
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("run node controller: %w", err)
	case err := <-dnsErr:
		return err
	}
}

// nodeObject is the Node as registered.
func nodeObject(cfg Config, cgParent string) corev1.Node {
	mem := memTotal()
	cap := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(mem, resource.BinarySI),
		corev1.ResourcePods:             resource.MustParse("250"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	hostname, _ := os.Hostname()
	now := metav1.Now()
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	addrs := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: cfg.BridgeIP.String()}}
	if !cfg.OmitHostnameAddress {
		addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeHostName, Address: cfg.NodeName})
	}
	return corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: cfg.NodeName,
			Labels: map[string]string{
				"kubernetes.io/hostname": cfg.NodeName,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     runtime.GOARCH,
				"type":                   "gammaproof-local",
			},
			Annotations: map[string]string{cgroup2.ParentAnnotation: cgParent},
		},
		Spec: corev1.NodeSpec{PodCIDR: cfg.PodCIDR.Masked().String(), PodCIDRs: []string{cfg.PodCIDR.Masked().String()}},
		Status: corev1.NodeStatus{
			Phase:       corev1.NodeRunning,
			Capacity:    cap,
			Allocatable: cap,
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "gamma-localnode is ready", LastHeartbeatTime: now, LastTransitionTime: now},
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", LastHeartbeatTime: now, LastTransitionTime: now},
				{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", LastHeartbeatTime: now, LastTransitionTime: now},
				{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", LastHeartbeatTime: now, LastTransitionTime: now},
				{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, Reason: "RouteCreated", LastHeartbeatTime: now, LastTransitionTime: now},
			},
			Addresses:       addrs,
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: KubeletPort}},
			NodeInfo: corev1.NodeSystemInfo{
				OperatingSystem:         "linux",
				Architecture:            runtime.GOARCH,
				KernelVersion:           kernel,
				OSImage:                 "gammaproof local node on " + hostname,
				KubeletVersion:          "v1.37.2",
				KubeProxyVersion:        "v1.37.2",
				ContainerRuntimeVersion: "gammaproof://processes",
			},
		},
	}
}

func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 1 << 30
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb); err == nil {
				return kb * 1024
			}
		}
	}
	return 1 << 30
}

// ensureNodeMeta makes sure an existing Node (from an earlier run) carries
// the cgroup annotation and pod CIDR too.
func ensureNodeMeta(ctx context.Context, client kubernetes.Interface, cfg Config, cgParent string) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, cgroup2.ParentAnnotation, cgParent)
	if _, err := client.CoreV1().Nodes().Patch(ctx, cfg.NodeName, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("annotate node %s: %w", cfg.NodeName, err)
	}
	node, err := client.CoreV1().Nodes().Get(ctx, cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s: %w", cfg.NodeName, err)
	}
	if node.Spec.PodCIDR == "" {
		cidr := cfg.PodCIDR.Masked().String()
		patch := fmt.Sprintf(`{"spec":{"podCIDR":%q,"podCIDRs":[%q]}}`, cidr, cidr)
		if _, err := client.CoreV1().Nodes().Patch(ctx, cfg.NodeName, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("set pod cidr of node %s: %w", cfg.NodeName, err)
		}
	}
	return nil
}

// gcAddresses releases addresses of pods no longer bound to the node (from a
// run that crashed while they were deleted).
func gcAddresses(ctx context.Context, client kubernetes.Interface, nodeName string, ipam *IPAM, log *slog.Logger) {
	list, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + nodeName})
	if err != nil {
		log.Warn("list pods to release stale addresses", "err", err)
		return
	}
	live := map[string]bool{}
	for _, p := range list.Items {
		live[string(p.UID)] = true
	}
	if err := ipam.Retain(func(uid string) bool { return live[uid] }); err != nil {
		log.Warn("release stale addresses", "err", err)
	}
}

// serveKubelet serves the kubelet API (logs, exec, attach, port-forward)
// over TLS on cfg.KubeletAddrs. When the kubeconfig names a CA, clients
// must present a certificate it signed (the apiserver's kubelet client
// certificate); otherwise client certificates are requested, not checked.
func serveKubelet(ctx context.Context, cfg Config, rc *rest.Config, p *provider, log *slog.Logger) (func(), error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, ClientAuth: tls.RequestClientCert}
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("load kubelet serving certificate %s: %w", cfg.TLSCertFile, err)
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	} else {
		cert, err := selfSigned(cfg)
		if err != nil {
			return nil, err
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	}
	caPEM := rc.CAData
	if len(caPEM) == 0 && rc.CAFile != "" {
		b, err := os.ReadFile(rc.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read cluster ca: %w", err)
		}
		caPEM = b
	}
	if len(caPEM) > 0 && cfg.TLSCertFile != "" {
		pool := x509.NewCertPool()
		if pool.AppendCertsFromPEM(caPEM) {
			tlsCfg.ClientCAs = pool
			tlsCfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/", api.PodHandler(api.PodHandlerConfig{
		RunInContainer:    p.RunInContainer,
		AttachToContainer: p.AttachToContainer,
		GetContainerLogs:  p.GetContainerLogs,
		GetPods:           p.GetPods,
		GetStatsSummary:   p.GetStatsSummary,
		PortForward:       p.PortForward,
		StreamIdleTimeout: 4 * time.Hour,
	}, false))
	var servers []*http.Server
	stop := func() {
		for _, s := range servers {
			_ = s.Close()
		}
	}
	for _, addr := range cfg.KubeletAddrs {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			stop()
			return nil, fmt.Errorf("listen for kubelet api on %s: %w (is a kubelet or another gamma-localnode running?)", addr, err)
		}
		srv := &http.Server{Handler: mux, TLSConfig: tlsCfg, ReadHeaderTimeout: 30 * time.Second}
		servers = append(servers, srv)
		go func() {
			if err := srv.Serve(tls.NewListener(l, tlsCfg)); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("serve kubelet api", "addr", addr, "err", err)
			}
		}()
	}
	go func() { <-ctx.Done(); stop() }()
	return stop, nil
}

func selfSigned(cfg Config) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate kubelet key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cfg.NodeName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{cfg.NodeName, "localhost"},
		IPAddresses:  []net.IP{cfg.BridgeIP.AsSlice(), net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create kubelet certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// clearPods kills every pod process and removes pod cgroups, network
// namespaces and veths; the bridge and address allocations stay.
func clearPods(cgParent, netnsPrefix, vethPrefix string) error {
	var errs []error
	if entries, err := os.ReadDir(cgParent); err == nil {
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), "pod") {
				if err := killCgroup(filepath.Join(cgParent, e.Name())); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if err := cleanupNetwork("", netnsPrefix, vethPrefix); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CleanupConfig says what [Cleanup] removes. Zero prefixes take the
// defaults of [Config].
type CleanupConfig struct {
	StateDir, Bridge                      string
	NetnsPrefix, VethPrefix, CgroupParent string
}

// Cleanup removes everything a node made: pod processes (cgroup.kill) and
// cgroups with their parent, every gp- network namespace, gpv veth, the
// bridge, created mount points, the bpffs it mounted on /sys/fs/bpf (and
// with it everything pinned there), /etc/netns/gp-* and the state dir. It is
// idempotent and safe when nothing exists.
func Cleanup(c CleanupConfig) error {
	stateDir, bridge := c.StateDir, c.Bridge
	netnsPrefix, vethPrefix := c.NetnsPrefix, c.VethPrefix
	if netnsPrefix == "" {
		netnsPrefix = DefaultNetnsPrefix
	}
	if vethPrefix == "" {
		vethPrefix = DefaultVethPrefix
	}
	var errs []error
	if parent, err := CgroupParent(c.CgroupParent); err == nil {
		if err := killCgroup(parent); err != nil {
			errs = append(errs, err)
		}
		top := filepath.Dir(parent)
		if err := os.Remove(top); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, errNotEmpty) && !errors.Is(err, errBusy) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", top, err))
		}
	}
	if err := cleanupNetwork(bridge, netnsPrefix, vethPrefix); err != nil {
		errs = append(errs, err)
	}
	if entries, err := os.ReadDir("/etc/netns"); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), netnsPrefix) {
				if err := os.RemoveAll(filepath.Join("/etc/netns", e.Name())); err != nil {
					errs = append(errs, fmt.Errorf("remove /etc/netns/%s: %w", e.Name(), err))
				}
			}
		}
	}
	if stateDir != "" {
		if err := unmountBPFFS(stateDir); err != nil {
			errs = append(errs, err)
		}
		if err := removeMountpoints(filepath.Join(stateDir, "mountpoints")); err != nil {
			errs = append(errs, err)
		}
		clean := filepath.Clean(stateDir)
		if clean == "/" || clean == "." || !filepath.IsAbs(clean) {
			errs = append(errs, fmt.Errorf("refuse to remove state dir %q: pass an absolute path below /", stateDir))
		} else if err := os.RemoveAll(clean); err != nil {
			errs = append(errs, fmt.Errorf("remove state dir: %w", err))
		}
	}
	return errors.Join(errs...)
}
