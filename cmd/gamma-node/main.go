//go:build linux

// Command gamma-node is the gammaproof node agent (image gammaproof/node):
// it runs the node proxy and steers the node's pod connections to Service
// ports into it with eBPF.
//
// The steering programs are pinned in <bpffs>/gammaproof/steer and stay
// attached when gamma-node ends: until a new gamma-node listens,
// connections to steered Services are refused (fail closed). They are
// detached by `gamma-node uninstall`, or when gamma-node stops after its
// DaemonSet was deleted.
//
//	gamma-node [flags]              run the proxy and the agent
//	gamma-node uninstall [--bpffs]  detach and unpin the steering programs
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sys/unix"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gammaproof/gammaproof/bpf/steer"
	"github.com/gammaproof/gammaproof/impl/node"
	"github.com/gammaproof/gammaproof/internal/bpffs"
	"github.com/gammaproof/gammaproof/internal/cgroup2"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gamma-node:", err)
		os.Exit(1)
	}
}

// pinSubdir is where, under the bpffs mount, the steering programs are
// pinned (the local cluster's `cluster down` removes <bpffs>/gammaproof).
const pinSubdir = "gammaproof/steer"

func run() error {
	if len(os.Args) > 1 && os.Args[1] == "uninstall" {
		return uninstall(os.Args[2:])
	}
	fs := flag.NewFlagSet("gamma-node", flag.ContinueOnError)
	xds := fs.String("xds-address", "gamma-controller.gammaproof-system.svc:15010", "host:port of the controller's xDS server")
	proxyIP := fs.String("proxy-ip", os.Getenv("HOST_IP"), "IPv4 address steered connections go to: this node's IP ($HOST_IP)")
	nodeName := fs.String("node-name", os.Getenv("NODE_NAME"), "this node's name ($NODE_NAME)")
	cgroupParent := fs.String("cgroup-parent", "", "cgroup v2 directory above every pod cgroup (default: the Node's "+cgroup2.ParentAnnotation+" annotation, else the cgroup v2 root)")
	listenHost := fs.String("listen-host", "0.0.0.0", "address the proxy's listeners bind")
	socketShortcut := fs.Bool("socket-shortcut", true, "hand data between pods and the proxy socket to socket (eBPF sockmap) once connections are established")
	metricsAddr := fs.String("metrics-address", "", "serve Prometheus metrics on this host:port (empty: off)")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else in-cluster)")
	bpffs := fs.String("bpffs", "/sys/fs/bpf", "bpf filesystem to pin the steering programs in, under gammaproof/steer, so steering outlives this process (mounted here if it is not one); empty: pin nothing, detach on exit")
	daemonSet := fs.String("daemonset", daemonSetDefault(), "namespace/name of the DaemonSet running gamma-node: once it is deleted, gamma-node unpins the steering programs when it stops (default from $POD_NAMESPACE; empty: never)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return fmt.Errorf("parse flags: %w", err)
	}
	if *nodeName == "" {
		return errors.New("no node name: pass --node-name or set NODE_NAME (the DaemonSet sets it from spec.nodeName)")
	}
	ip, err := netip.ParseAddr(*proxyIP)
	if err != nil {
		return fmt.Errorf("parse --proxy-ip %q: give this node's IPv4 address (or set HOST_IP): %w", *proxyIP, err)
	}

	client, err := kubeClient(*kubeconfig)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	parent, err := node.ResolveCgroupParent(ctx, client, *nodeName, *cgroupParent)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if *metricsAddr != "" {
		stopMetrics, err := serveMetrics(*metricsAddr, reg)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}

	pinDir := ""
	if *bpffs != "" {
		if err := ensureBPFFS(*bpffs); err != nil {
			return err
		}
		pinDir = filepath.Join(*bpffs, pinSubdir)
	}

	slog.Info("starting node agent", "node", *nodeName, "xds", *xds, "proxyIP", ip, "cgroupParent", parent, "pinDir", pinDir)
	return node.Run(ctx, node.Config{
		ADSAddress: *xds,
		ListenHost: *listenHost,
		Registerer: reg,
		Agent: node.Options{
			Client: client, NodeName: *nodeName, ProxyIP: ip, CgroupParent: parent, Shortcut: *socketShortcut, Logger: slog.Default(),
			PinDir: pinDir, DaemonSet: *daemonSet,
		},
	})
}

// kubeClient connects to the API server: kubeconfig if set, else
// $KUBECONFIG, ~/.kube/config or the in-cluster config.
func kubeClient(kubeconfig string) (kubernetes.Interface, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	restCfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return nil, fmt.Errorf("create Kubernetes client: %w", err)
	}
	return client, nil
}

// serveMetrics serves reg's metrics on addr until stop is called.
func serveMetrics(addr string, reg *prometheus.Registry) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics: %w", err)
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("serve metrics", "err", err)
		}
	}()
	return func() { srv.Close() }, nil
}

// daemonSetDefault is $POD_NAMESPACE/gamma-node, or "" without
// POD_NAMESPACE.
func daemonSetDefault() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns + "/gamma-node"
	}
	return ""
}

// ensureBPFFS mounts a bpf filesystem on dir unless one is there. A mount
// made here lives in this process's mount namespace: in a container it
// ends with the container, and steering with it; the node should mount
// bpffs (systemd does at /sys/fs/bpf) so pins outlive gamma-node.
func ensureBPFFS(dir string) error {
	ok, err := bpffs.Is(dir)
	if err != nil {
		return fmt.Errorf("check --bpffs: %w: pass a bpf filesystem mount, or --bpffs= to pin nothing", err)
	}
	if ok {
		return nil
	}
	if err := bpffs.Mount(dir); err != nil {
		return fmt.Errorf("%w: mount one on the node (mount -t bpf bpf %s) or pass --bpffs= to pin nothing", err, dir)
	}
	slog.Warn("no bpf filesystem was mounted: mounted one in gamma-node's mount namespace; steering will not outlive it (mount bpffs on the node so it does)", "bpffs", dir)
	return nil
}

// uninstall is `gamma-node uninstall`: it detaches and unpins the steering
// programs a gamma-node pinned, so Services are reached through kube-proxy
// again. Stop gamma-node first (or delete its DaemonSet).
func uninstall(args []string) error {
	fs := flag.NewFlagSet("gamma-node uninstall", flag.ContinueOnError)
	bpffs := fs.String("bpffs", "/sys/fs/bpf", "bpf filesystem gamma-node pinned the steering programs in")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("parse flags: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("uninstall takes no arguments, got %q", fs.Args())
	}
	dir := filepath.Join(*bpffs, pinSubdir)
	if err := steer.Uninstall(dir); err != nil {
		return err
	}
	// The parent is ours too; leave it if something else is pinned there.
	if err := os.Remove(filepath.Dir(dir)); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENOTEMPTY) {
		return fmt.Errorf("remove %s: %w", filepath.Dir(dir), err)
	}
	fmt.Printf("gamma-node: steering programs in %s detached and unpinned\n", dir)
	return nil
}
