// Command gamma-controller is the control plane of the gammaproof reference
// GAMMA implementation: it watches Services, EndpointSlices, mesh-bound
// HTTPRoutes/GRPCRoutes and ReferenceGrants, writes route status and serves
// the mesh to the node proxies over xDS (ADS).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gammaproof/gammaproof/impl/controller"
	"github.com/gammaproof/gammaproof/impl/xds"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gamma-controller:", err)
		os.Exit(1)
	}
}

type flags struct {
	kubeconfig     string
	grantPolicy    grantpolicy.Policy
	xdsAddress     string
	metricsAddress string
	healthAddress  string
	leaderElect    bool
	namespace      string
	logLevel       string
}

func parseFlags(args []string) (flags, error) {
	var (
		f      flags
		policy string
	)
	fs := flag.NewFlagSet("gamma-controller", flag.ContinueOnError)
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster config)")
	fs.StringVar(&policy, "grant-policy", string(grantpolicy.Spec), "when cross-namespace references need a ReferenceGrant: spec (GEP-1294: never) or strict (consumer routes and cross-namespace backendRefs)")
	fs.StringVar(&f.xdsAddress, "xds-address", ":15010", "address of the xDS (ADS gRPC) server for the node proxies")
	fs.StringVar(&f.metricsAddress, "metrics-address", ":8080", `address of the Prometheus /metrics endpoint ("0" disables it)`)
	fs.StringVar(&f.healthAddress, "health-address", ":8081", `address of /healthz and /readyz ("0" disables them)`)
	fs.BoolVar(&f.leaderElect, "leader-elect", true, "elect a leader through a Lease so only one replica writes route status (every replica serves xDS)")
	fs.StringVar(&f.namespace, "namespace", envOr("POD_NAMESPACE", "gammaproof-system"), "namespace of the leader election Lease")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected arguments %q: gamma-controller takes only flags (-h lists them)", fs.Args())
	}
	var err error
	if f.grantPolicy, err = grantpolicy.Parse(policy); err != nil {
		return f, fmt.Errorf("--grant-policy: %w", err)
	}
	if f.leaderElect && f.namespace == "" {
		return f, errors.New("--namespace is empty: leader election needs a namespace for its Lease (or pass --leader-elect=false)")
	}
	return f, nil
}

func run(args []string) error {
	f, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return serve(ctx, f)
}

// serve runs the controller and the xDS server until ctx ends.
func serve(ctx context.Context, f flags) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)
	ctrl.SetLogger(logr.FromSlogHandler(logger.Handler()))

	cfg, err := restConfig(f.kubeconfig)
	if err != nil {
		return err
	}
	// client-go's default (5 QPS) would make the first status pass over
	// thousands of routes take minutes; the API server's priority and
	// fairness still protects it.
	cfg.QPS, cfg.Burst = 100, 200
	scheme, err := controller.NewScheme()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: f.metricsAddress},
		HealthProbeBindAddress:        f.healthAddress,
		LeaderElection:                f.leaderElect,
		LeaderElectionID:              "gammaproof-mesh-controller",
		LeaderElectionNamespace:       f.namespace,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if err := checkCRDs(mgr); err != nil {
		return err
	}

	lis, err := net.Listen("tcp", f.xdsAddress)
	if err != nil {
		return fmt.Errorf("listen for xDS on %s: %w", f.xdsAddress, err)
	}
	srv := xds.NewServer(xds.ServerOptions{Logger: logger})
	if err := mgr.Add(everyReplica(func(ctx context.Context) error { return srv.Serve(ctx, lis) })); err != nil {
		return fmt.Errorf("add xDS server: %w", err)
	}
	if err := controller.Setup(withFault(mgr, controller.Options{Sink: srv, GrantPolicy: f.grantPolicy})); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add ready check: %w", err)
	}

	logger.Info("starting", "grantPolicy", f.grantPolicy, "xdsAddress", lis.Addr().String(), "leaderElect", f.leaderElect)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	return nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("load in-cluster config (outside a cluster, pass --kubeconfig): %w", err)
	}
	return cfg, nil
}

// checkCRDs fails early, with what to do, when the Gateway API CRDs the
// controller watches are not installed.
func checkCRDs(mgr manager.Manager) error {
	for _, gvk := range []schema.GroupVersionKind{
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "GRPCRoute"},
		{Group: "gateway.networking.k8s.io", Version: "v1beta1", Kind: "ReferenceGrant"},
	} {
		if _, err := mgr.GetRESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return fmt.Errorf("find %s %s (install the Gateway API CRDs v1.6, e.g. gammaproof's internal/crds, first): %w", gvk.Kind, gvk.GroupVersion(), err)
		}
	}
	return nil
}

// everyReplica is a runnable that runs on every replica, not only on the
// leader: each replica serves xDS from its own cache.
type everyReplica func(ctx context.Context) error

var _ manager.LeaderElectionRunnable = everyReplica(nil)

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }
func (f everyReplica) NeedLeaderElection() bool        { return false }

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
