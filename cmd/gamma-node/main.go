//go:build linux

// Command gamma-node is the gammaproof node agent (image gammaproof/node):
// it runs the node proxy and steers the node's pod connections to Service
// ports into it with eBPF.
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
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gammaproof/gammaproof/impl/node"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gamma-node:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("gamma-node", flag.ContinueOnError)
	xds := fs.String("xds-address", "gamma-controller.gammaproof-system.svc:15010", "host:port of the controller's xDS server")
	proxyIP := fs.String("proxy-ip", os.Getenv("HOST_IP"), "IPv4 address steered connections go to: this node's IP ($HOST_IP)")
	nodeName := fs.String("node-name", os.Getenv("NODE_NAME"), "this node's name ($NODE_NAME)")
	cgroupParent := fs.String("cgroup-parent", "", "cgroup v2 directory above every pod cgroup (default: the Node's "+node.CgroupParentAnnotation+" annotation, else the cgroup v2 root)")
	listenHost := fs.String("listen-host", "0.0.0.0", "address the proxy's listeners bind")
	socketShortcut := fs.Bool("socket-shortcut", true, "hand data between pods and the proxy socket to socket (eBPF sockmap) once connections are established")
	metricsAddr := fs.String("metrics-address", "", "serve Prometheus metrics on this host:port (empty: off)")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else in-cluster)")
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

	slog.Info("starting node agent", "node", *nodeName, "xds", *xds, "proxyIP", ip, "cgroupParent", parent)
	return node.Run(ctx, node.Config{
		ADSAddress: *xds,
		ListenHost: *listenHost,
		Registerer: reg,
		Agent: node.Options{
			Client: client, NodeName: *nodeName, ProxyIP: ip, CgroupParent: parent, Shortcut: *socketShortcut, Logger: slog.Default(),
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
