package controller_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/gammaproof/gammaproof/impl/controller"
	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/internal/background"
	"github.com/gammaproof/gammaproof/internal/controllername"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
	"github.com/gammaproof/gammaproof/internal/testenv"
)

// recordingSink keeps the last mesh it was given.
type recordingSink struct {
	mu      sync.Mutex
	last    *model.Mesh
	updates int
}

var _ controller.MeshSink = (*recordingSink)(nil)

func (s *recordingSink) Update(_ context.Context, m *model.Mesh) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last, s.updates = m, s.updates+1
	return nil
}

func (s *recordingSink) mesh() *model.Mesh {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// startReplica runs a manager with leader election (Lease in "default"), as
// one controller replica would.
func startReplica(t *testing.T, cfg *rest.Config, name string, policy grantpolicy.Policy) *recordingSink {
	t.Helper()
	scheme, err := controller.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  "0",
		LeaderElection:          true,
		LeaderElectionID:        "gammaproof-mesh-controller",
		LeaderElectionNamespace: "default",
		// Generous renewals: on a loaded CI machine a short lease can be
		// lost, and a manager that loses its lease exits.
		LeaseDuration:                 ptr.To(15 * time.Second),
		RenewDeadline:                 ptr.To(10 * time.Second),
		RetryPeriod:                   ptr.To(time.Second),
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	if err := controller.Setup(mgr, controller.Options{Sink: sink, GrantPolicy: policy, Name: name}); err != nil {
		t.Fatal(err)
	}
	background.Run(t, "manager "+name, mgr.Start)
	return sink
}

// eventually polls f until it returns "" or the deadline passes.
func eventually(t *testing.T, what string, f func() string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		if last = f(); last == "" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %s", what, last)
}

// ourCondition returns "Status/Reason" of our condition typ for the route's
// Service parent named parent, or a description of what is missing.
func ourCondition(ctx context.Context, c client.Client, ns, name, parent, typ string) string {
	var hr gwv1.HTTPRoute
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &hr); err != nil {
		return err.Error()
	}
	for _, p := range hr.Status.Parents {
		if p.ControllerName != controllername.Gammaproof || string(p.ParentRef.Name) != parent {
			continue
		}
		cond := meta.FindStatusCondition(p.Conditions, typ)
		if cond == nil {
			return "no " + typ
		}
		if cond.ObservedGeneration != hr.Generation {
			return fmt.Sprintf("observedGeneration %d, generation %d", cond.ObservedGeneration, hr.Generation)
		}
		return string(cond.Status) + "/" + cond.Reason
	}
	return "no parent entry"
}

func want(ctx context.Context, c client.Client, ns, name, parent, typ, expect string) func() string {
	return func() string {
		if got := ourCondition(ctx, c, ns, name, parent, typ); got != expect {
			return fmt.Sprintf("%s/%s %s = %s, want %s", ns, name, typ, got, expect)
		}
		return ""
	}
}

func TestController(t *testing.T) {
	cfg := testenv.Start(t)
	ctx := t.Context()
	c := testenv.Client(t, cfg, controller.NewScheme)
	create := func(objs ...client.Object) {
		t.Helper()
		for _, o := range objs {
			if err := c.Create(ctx, o); err != nil {
				t.Fatalf("create %T %s: %v", o, o.GetName(), err)
			}
		}
	}
	svc := func(ns, name string) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(80)}}},
		}
	}
	parent := func(name string) gwv1.ParentReference {
		return gwv1.ParentReference{Group: ptr.To(gwv1.Group("")), Kind: ptr.To(gwv1.Kind("Service")), Name: gwv1.ObjectName(name), Port: ptr.To(gwv1.PortNumber(8080))}
	}
	backend := func(ns, name string) gwv1.HTTPBackendRef {
		ref := gwv1.HTTPBackendRef{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(name), Port: ptr.To(gwv1.PortNumber(8080))}}}
		if ns != "" {
			ref.Namespace = ptr.To(gwv1.Namespace(ns))
		}
		return ref
	}
	route := func(ns, name string, parents []gwv1.ParentReference, backends ...gwv1.HTTPBackendRef) *gwv1.HTTPRoute {
		return &gwv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: gwv1.HTTPRouteSpec{
				CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: parents},
				Rules:           []gwv1.HTTPRouteRule{{BackendRefs: backends}},
			},
		}
	}

	create(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-b"}},
		svc("team-a", "bookstore"), svc("team-a", "bookstore-v1"), svc("team-b", "other"),
		&discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: "team-a", Name: "bookstore-v1-1", Labels: map[string]string{discoveryv1.LabelServiceName: "bookstore-v1"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(80))}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"198.18.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		},
		route("team-a", "ok", []gwv1.ParentReference{parent("bookstore")}, backend("", "bookstore-v1")),
		route("team-a", "missing", []gwv1.ParentReference{parent("bookstore")}, backend("", "nope")),
		route("team-a", "cross", []gwv1.ParentReference{parent("bookstore")}, backend("team-b", "other")),
	)
	// Another controller's entry on "ok", which we must leave alone.
	var ok gwv1.HTTPRoute
	if err := c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "ok"}, &ok); err != nil {
		t.Fatal(err)
	}
	foreign := gwv1.RouteParentStatus{
		ParentRef:      gwv1.ParentReference{Name: "gw"},
		ControllerName: "example.com/gateway",
		Conditions:     []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", LastTransitionTime: metav1.Now(), ObservedGeneration: ok.Generation}},
	}
	ok.Status.Parents = []gwv1.RouteParentStatus{foreign}
	if err := c.Status().Update(ctx, &ok); err != nil {
		t.Fatal(err)
	}

	// Two replicas: both serve the mesh, one (the leader) writes status.
	sinkA := startReplica(t, cfg, "replica-a", grantpolicy.Strict)
	sinkB := startReplica(t, cfg, "replica-b", grantpolicy.Strict)

	eventually(t, "accepted route", want(ctx, c, "team-a", "ok", "bookstore", "Accepted", "True/Accepted"))
	eventually(t, "accepted route", want(ctx, c, "team-a", "ok", "bookstore", "ResolvedRefs", "True/ResolvedRefs"))
	eventually(t, "missing backend", want(ctx, c, "team-a", "missing", "bookstore", "ResolvedRefs", "False/BackendNotFound"))
	eventually(t, "cross-namespace backend without grant", want(ctx, c, "team-a", "cross", "bookstore", "ResolvedRefs", "False/RefNotPermitted"))

	// Every replica's sink sees the mesh.
	for name, sink := range map[string]*recordingSink{"a": sinkA, "b": sinkB} {
		eventually(t, "sink "+name, func() string {
			m := sink.mesh()
			if m == nil {
				return "no mesh yet"
			}
			for _, l := range m.Listeners {
				if l.Name != "mesh~team-a~bookstore~8080" {
					continue
				}
				var got []string
				for _, r := range l.Routes {
					if r.DirectResponse500 {
						got = append(got, r.Source.Name+"->500")
					}
					for _, b := range r.Backends {
						got = append(got, r.Source.Name+"->"+b.Cluster+b.Invalid)
					}
				}
				// Sorted: the routes' order follows their creation
				// timestamps (whole seconds), which a second boundary
				// between two creates changes.
				slices.Sort(got)
				w := "cross->500 missing->500 ok->svc~team-a~bookstore-v1~8080~h1"
				if strings.Join(got, " ") != w {
					return fmt.Sprintf("backends %q, want %q", strings.Join(got, " "), w)
				}
				for _, cl := range m.Clusters {
					if cl.Name == "svc~team-a~bookstore-v1~8080~h1" && len(cl.Endpoints) == 1 && cl.Endpoints[0] == (model.Endpoint{Address: "198.18.0.5", Port: 80}) {
						return ""
					}
				}
				return fmt.Sprintf("clusters %+v lack bookstore-v1 with endpoint 198.18.0.5:80", m.Clusters)
			}
			return "no listener mesh~team-a~bookstore~8080"
		})
	}

	// The grant makes the cross-namespace backend resolve; deleting it reverts.
	grant := &gwv1beta1.ReferenceGrant{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "from-team-a"},
		Spec: gwv1beta1.ReferenceGrantSpec{
			From: []gwv1beta1.ReferenceGrantFrom{{Group: gwv1.GroupName, Kind: "HTTPRoute", Namespace: "team-a"}},
			To:   []gwv1beta1.ReferenceGrantTo{{Group: "", Kind: "Service", Name: ptr.To(gwv1.ObjectName("other"))}},
		},
	}
	create(grant)
	eventually(t, "grant added", want(ctx, c, "team-a", "cross", "bookstore", "ResolvedRefs", "True/ResolvedRefs"))
	if err := c.Delete(ctx, grant); err != nil {
		t.Fatal(err)
	}
	eventually(t, "grant deleted", want(ctx, c, "team-a", "cross", "bookstore", "ResolvedRefs", "False/RefNotPermitted"))

	// Nothing changed: a reconcile (triggered by an unrelated Service) must
	// not rewrite status.
	if err := c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "ok"}, &ok); err != nil {
		t.Fatal(err)
	}
	rv := ok.ResourceVersion
	create(svc("team-b", "unrelated"))
	time.Sleep(2 * time.Second)
	if err := c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "ok"}, &ok); err != nil {
		t.Fatal(err)
	}
	if ok.ResourceVersion != rv {
		t.Errorf("status of team-a/ok rewritten without a change (resourceVersion %s -> %s)", rv, ok.ResourceVersion)
	}

	// The Service parent goes away: our entry goes, the foreign one stays.
	ok.Spec.ParentRefs = []gwv1.ParentReference{{Name: "gw"}}
	if err := c.Update(ctx, &ok); err != nil {
		t.Fatal(err)
	}
	eventually(t, "parent removed", func() string {
		var hr gwv1.HTTPRoute
		if err := c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "ok"}, &hr); err != nil {
			return err.Error()
		}
		if len(hr.Status.Parents) != 1 || hr.Status.Parents[0].ControllerName != foreign.ControllerName {
			return fmt.Sprintf("parents = %+v, want only the foreign entry", hr.Status.Parents)
		}
		return ""
	})
}
