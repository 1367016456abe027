package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
)

// MeshSink receives every mesh the controller builds (the xDS server).
// Update must be safe to call from one goroutine at a time; it is called
// again with the next mesh after an error.
type MeshSink interface {
	Update(ctx context.Context, m *model.Mesh) error
}

// Options configure [Setup].
type Options struct {
	// Sink receives every mesh. Required.
	Sink MeshSink
	// GrantPolicy for cross-namespace references. Optional; default spec.
	GrantPolicy grantpolicy.Policy
	// Name of the controller, unique per manager. Optional; default "gamma-mesh".
	Name string
}

// NewScheme returns a scheme with the core, discovery and Gateway API types
// the controller reads and writes.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, gwv1.Install, gwv1beta1.Install} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("build scheme: %w", err)
		}
	}
	return s, nil
}

// meshRequest is the single request every event maps to: the controller
// always rebuilds the whole mesh, so the queue merges bursts of events.
var meshRequest = reconcile.Request{NamespacedName: types.NamespacedName{Name: "mesh"}}

// Setup adds the mesh controller to mgr.
//
// Every replica runs it and pushes the mesh to its sink, so every replica
// serves xDS (node proxies may connect to any of them and a failover needs no
// resync). Only the elected leader writes route status, so two replicas never
// fight over status.
func Setup(mgr manager.Manager, opts Options) error {
	if opts.Sink == nil {
		return errors.New("set up mesh controller: Options.Sink is required")
	}
	policy, err := grantpolicy.Parse(string(opts.GrantPolicy))
	if err != nil {
		return fmt.Errorf("set up mesh controller: %w", err)
	}
	name := opts.Name
	if name == "" {
		name = "gamma-mesh"
	}
	m := newMetrics()
	if err := m.register(ctrlmetrics.Registry); err != nil {
		return fmt.Errorf("set up mesh controller: %w", err)
	}
	kick := make(chan event.GenericEvent, 1)
	r := &reconciler{
		client:  mgr.GetClient(),
		sink:    opts.Sink,
		policy:  policy,
		elected: mgr.Elected(),
		metrics: m,
	}
	toMesh := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{meshRequest}
	})
	// Routes: only spec changes matter (status updates, ours included, do not
	// change the mesh).
	routeChanged := builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}))
	err = ctrl.NewControllerManagedBy(mgr).
		Named(name).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false), MaxConcurrentReconciles: 1}).
		Watches(&corev1.Service{}, toMesh).
		Watches(&discoveryv1.EndpointSlice{}, toMesh).
		Watches(&gwv1.HTTPRoute{}, toMesh, routeChanged).
		Watches(&gwv1.GRPCRoute{}, toMesh, routeChanged).
		Watches(&gwv1beta1.ReferenceGrant{}, toMesh).
		Watches(&corev1.Namespace{}, toMesh).
		WatchesRawSource(source.Channel(kick, toMesh)).
		Complete(r)
	if err != nil {
		return fmt.Errorf("set up mesh controller: %w", err)
	}
	// When this replica becomes the leader, reconcile once so it writes the
	// status the previous leader may have left behind.
	if err := mgr.Add(&leaderKick{ch: kick}); err != nil {
		return fmt.Errorf("set up mesh controller: %w", err)
	}
	return nil
}

// reconciler rebuilds the mesh from everything in the cache.
type reconciler struct {
	client  client.Client
	sink    MeshSink
	policy  grantpolicy.Policy
	elected <-chan struct{}
	metrics *metrics
}

var _ reconcile.Reconciler = &reconciler{}

func (r *reconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	logger := log.FromContext(ctx)
	in, err := ListInput(ctx, r.client, r.policy)
	if err != nil {
		return reconcile.Result{}, err
	}
	start := time.Now()
	mesh := model.Build(in)
	r.metrics.build.Observe(time.Since(start).Seconds())
	r.metrics.listeners.Set(float64(len(mesh.Listeners)))
	r.metrics.clusters.Set(float64(len(mesh.Clusters)))
	if err := r.sink.Update(ctx, mesh); err != nil {
		r.metrics.errors.WithLabelValues("sink").Inc()
		return reconcile.Result{}, fmt.Errorf("push mesh to sink: %w", err)
	}
	if !r.leader() {
		return reconcile.Result{}, nil
	}
	want := map[string]model.RouteStatus{}
	for _, rs := range mesh.Routes {
		want[rs.Kind+"/"+rs.Namespace+"/"+rs.Name] = rs
	}
	var errs []error
	written := 0
	for _, st := range statusTargets(in.HTTPRoutes, in.GRPCRoutes) {
		ok, err := r.writeStatus(ctx, st.obj, st.status, want[st.key].Parents)
		errs = append(errs, err)
		if ok {
			written++
		}
	}
	if written > 0 {
		logger.V(1).Info("wrote route status", "routes", written)
	}
	if err := errors.Join(errs...); err != nil {
		r.metrics.errors.WithLabelValues("status").Inc()
		return reconcile.Result{}, err
	}
	return reconcile.Result{}, nil
}

func (r *reconciler) leader() bool {
	select {
	case <-r.elected:
		return true
	default:
		return false
	}
}

// ListInput reads a model input from r: every Service, EndpointSlice,
// HTTPRoute, GRPCRoute, ReferenceGrant and Namespace, under policy. The
// controller builds its mesh from it; the fault sink (impl/fault) lists the
// same input to build a faulty one.
func ListInput(ctx context.Context, r client.Reader, policy grantpolicy.Policy) (model.Input, error) {
	in := model.Input{GrantPolicy: policy}
	var (
		svcs   corev1.ServiceList
		eps    discoveryv1.EndpointSliceList
		hrs    gwv1.HTTPRouteList
		grs    gwv1.GRPCRouteList
		grants gwv1beta1.ReferenceGrantList
		nss    corev1.NamespaceList
	)
	for _, l := range []client.ObjectList{&svcs, &eps, &hrs, &grs, &grants, &nss} {
		if err := r.List(ctx, l); err != nil {
			return in, fmt.Errorf("list %T: %w", l, err)
		}
	}
	in.Services, in.EndpointSlices, in.HTTPRoutes, in.GRPCRoutes = svcs.Items, eps.Items, hrs.Items, grs.Items
	in.ReferenceGrants, in.Namespaces = grants.Items, nss.Items
	return in, nil
}

// statusTarget is a listed route whose status the controller writes.
type statusTarget struct {
	obj    client.Object
	status *gwv1.RouteStatus
	key    string // "Kind/namespace/name", the key of its model.RouteStatus.
}

// statusTargets returns the listed routes of both kinds, HTTPRoutes first.
func statusTargets(hrs []gwv1.HTTPRoute, grs []gwv1.GRPCRoute) []statusTarget {
	out := make([]statusTarget, 0, len(hrs)+len(grs))
	for i := range hrs {
		out = append(out, statusTarget{&hrs[i], &hrs[i].Status.RouteStatus, "HTTPRoute/" + hrs[i].Namespace + "/" + hrs[i].Name})
	}
	for i := range grs {
		out = append(out, statusTarget{&grs[i], &grs[i].Status.RouteStatus, "GRPCRoute/" + grs[i].Namespace + "/" + grs[i].Name})
	}
	return out
}

// writeStatus sets our entries of st.Parents to want, leaving other
// controllers' entries alone, and writes the status when it changed. It
// reports whether it wrote.
func (r *reconciler) writeStatus(ctx context.Context, obj client.Object, st *gwv1.RouteStatus, want []model.ParentStatus) (bool, error) {
	parents, changed := mergeParents(st.Parents, want, time.Now())
	if !changed {
		return false, nil
	}
	st.Parents = parents
	if err := r.client.Status().Update(ctx, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil // deleted meanwhile.
		}
		return false, fmt.Errorf("update status of %T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err)
	}
	return true, nil
}

// leaderKick enqueues one reconcile when this replica is elected leader.
type leaderKick struct{ ch chan<- event.GenericEvent }

var (
	_ manager.Runnable               = &leaderKick{}
	_ manager.LeaderElectionRunnable = &leaderKick{}
)

func (k *leaderKick) NeedLeaderElection() bool { return true }

func (k *leaderKick) Start(ctx context.Context) error {
	select {
	case k.ch <- event.GenericEvent{Object: &corev1.Namespace{}}:
	case <-ctx.Done():
	}
	<-ctx.Done()
	return nil
}

type metrics struct {
	build     prometheus.Histogram
	listeners prometheus.Gauge
	clusters  prometheus.Gauge
	errors    *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		build: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gammaproof_mesh_build_seconds", Help: "Time to build the mesh model from the cache.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		listeners: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gammaproof_mesh_listeners", Help: "Listeners in the last mesh."}),
		clusters:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "gammaproof_mesh_clusters", Help: "Clusters in the last mesh."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gammaproof_mesh_reconcile_errors_total", Help: "Reconcile errors by stage (sink, status).",
		}, []string{"stage"}),
	}
}

// register adds the metrics to reg; when another controller in the same
// process registered them first, its collectors are used.
func (m *metrics) register(reg prometheus.Registerer) error {
	var err error
	if m.build, err = registerOrReuse(reg, m.build); err != nil {
		return err
	}
	if m.listeners, err = registerOrReuse(reg, m.listeners); err != nil {
		return err
	}
	if m.clusters, err = registerOrReuse(reg, m.clusters); err != nil {
		return err
	}
	m.errors, err = registerOrReuse(reg, m.errors)
	return err
}

func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("register metrics: %w", err)
}
