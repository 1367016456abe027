package proxy

import (
	"context"
	"net"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/impl/xds"
	"github.com/gammaproof/gammaproof/internal/background"
)

// serveMesh serves mesh from the controller's real xDS server (impl/xds)
// and returns a proxy that has it.
func serveMesh(t *testing.T, mesh *model.Mesh) *testProxy {
	t.Helper()
	srv := xds.NewServer(xds.ServerOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx := background.Run(t, "xds serve", func(ctx context.Context) error { return srv.Serve(ctx, ln) })
	if err := srv.Update(ctx, mesh); err != nil {
		t.Fatalf("xds update: %v", err)
	}
	return startProxy(t, ln.Addr().String())
}

// Objects for model.Build.

func service(ns, name, ip string, port int32) corev1.Service {
	return corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{
		ClusterIP: ip, Ports: []corev1.ServicePort{{Name: "http", Port: port}},
	}}
}

// endpointSlice puts the server at url behind Service ns/name's port "http".
func endpointSlice(t *testing.T, ns, name, url string) discoveryv1.EndpointSlice {
	host, port, err := net.SplitHostPort(hostPort(t, url))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	pn, p32 := "http", int32(p)
	return discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &pn, Port: &p32}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{host}}},
	}
}

func serviceParent(ns, name string, port int32) gwv1.ParentReference {
	group, kind, namespace, p := gwv1.Group(""), gwv1.Kind("Service"), gwv1.Namespace(ns), gwv1.PortNumber(port)
	return gwv1.ParentReference{Group: &group, Kind: &kind, Namespace: &namespace, Name: gwv1.ObjectName(name), Port: &p}
}

func serviceBackend(ns, name string, port int32) gwv1.BackendRef {
	namespace, p := gwv1.Namespace(ns), gwv1.PortNumber(port)
	return gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Namespace: &namespace, Name: gwv1.ObjectName(name), Port: &p}}
}

// webYInput is namespace web-y's Service web routed to its HTTP/1-only
// backend at v1URL, with a rule that strips the prefix /foo
// (ReplacePrefixMatch ""); with grpcX, namespace grpc-x also has a
// GRPCRoute whose backend is web-y/web-v1:80 and a consumer GRPCRoute on
// web-y/web:80.
func webYInput(t *testing.T, v1URL string, grpcX bool) model.Input {
	prefixFoo, empty := gwv1.PathMatchPathPrefix, ""
	fooValue := "/foo"
	in := model.Input{
		Services: []corev1.Service{
			service("web-y", "web", "198.19.3.10", 80),
			service("web-y", "web-v1", "198.19.3.11", 80),
			service("grpc-x", "api", "198.19.3.20", 9000),
		},
		EndpointSlices: []discoveryv1.EndpointSlice{endpointSlice(t, "web-y", "web-v1", v1URL)},
		HTTPRoutes: []gwv1.HTTPRoute{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "web-y", Name: "web"},
			Spec: gwv1.HTTPRouteSpec{
				CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{serviceParent("web-y", "web", 80)}},
				Rules: []gwv1.HTTPRouteRule{
					{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: serviceBackend("web-y", "web-v1", 80)}}},
					{
						Matches: []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: &prefixFoo, Value: &fooValue}}},
						Filters: []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterURLRewrite, URLRewrite: &gwv1.HTTPURLRewriteFilter{
							Path: &gwv1.HTTPPathModifier{Type: gwv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: &empty},
						}}},
						BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: serviceBackend("web-y", "web-v1", 80)}},
					},
				},
			},
		}},
	}
	if !grpcX {
		return in
	}
	in.GRPCRoutes = []gwv1.GRPCRoute{
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: "grpc-x", Name: "api"},
			Spec: gwv1.GRPCRouteSpec{
				CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{serviceParent("grpc-x", "api", 9000)}},
				Rules:           []gwv1.GRPCRouteRule{{BackendRefs: []gwv1.GRPCBackendRef{{BackendRef: serviceBackend("web-y", "web-v1", 80)}}}},
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: "grpc-x", Name: "consumer"},
			Spec: gwv1.GRPCRouteSpec{
				CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{serviceParent("web-y", "web", 80)}},
				Rules:           []gwv1.GRPCRouteRule{{BackendRefs: []gwv1.GRPCBackendRef{{BackendRef: serviceBackend("web-y", "web-v1", 80)}}}},
			},
		},
	}
	return in
}

// serveAccepted builds in, requires every route Accepted and serves it.
func serveAccepted(t *testing.T, in model.Input) *testProxy {
	t.Helper()
	mesh := model.Build(in)
	for _, rs := range mesh.Routes {
		for _, p := range rs.Parents {
			if c := p.Conditions[0]; c.Status != metav1.ConditionTrue {
				t.Fatalf("%s %s/%s: Accepted=%s %s: %s", rs.Kind, rs.Namespace, rs.Name, c.Status, c.Reason, c.Message)
			}
		}
	}
	return serveMesh(t, mesh)
}

// TestIsolationThroughTheProxy: GEP-1294 "Namespace boundaries": "another
// unrelated namespace cannot modify their traffic". Namespace web-y routes
// its Service web to an HTTP/1-only backend web-v1; namespace grpc-x
// writes a GRPCRoute whose backend is that same web-y/web-v1:80 and a
// consumer GRPCRoute on web-y/web:80. web-y's callers (every namespace but
// grpc-x) keep getting 200s from web-v1 over HTTP/1.1, while grpc-x's
// routes speak h2c through clusters of their own.
func TestIsolationThroughTheProxy(t *testing.T) {
	v1 := startEcho(t, "v1") // httptest: HTTP/1.1 only, no h2c.
	p := serveAccepted(t, webYInput(t, v1.URL, true))
	web := p.url(t, "mesh~web-y~web~80")
	for range 20 {
		r, e := get(t, web+"/")
		if r.StatusCode != 200 || e.Backend != "v1" {
			t.Fatalf("web-y's own route: status %d from %q, want 200 from v1 over HTTP/1.1", r.StatusCode, e.Backend)
		}
	}
	// grpc-x's own listeners exist and speak h2c to web-v1, which cannot:
	// what grpc-x wrote breaks only grpc-x's own traffic.
	for _, l := range []string{"mesh~grpc-x~api~9000", "mesh~web-y~web~80~from~grpc-x"} {
		if r, _ := get(t, p.url(t, l)+"/"); r.StatusCode == 200 {
			t.Errorf("%s answered 200 over h2c from an HTTP/1-only backend; its cluster is not h2c", l)
		}
	}
	if n := p.metric(t, "gammaproof_proxy_xds_nacks_total", nil); n != 0 {
		t.Errorf("%v NACKs of impl/xds resources, want 0", n)
	}
}

// TestPrefixStripThroughTheProxy: HTTPPathModifier.replacePrefixMatch:
// "/foo/bar | /foo | <empty string> | /bar", "/foo/ | /foo | <empty string>
// | /", "/foo | /foo | <empty string> | /" — through the controller's
// translation and the proxy, with real HTTP.
func TestPrefixStripThroughTheProxy(t *testing.T) {
	v1 := startEcho(t, "v1")
	p := serveAccepted(t, webYInput(t, v1.URL, false))
	web := p.url(t, "mesh~web-y~web~80")
	for path, want := range map[string]string{"/foo/bar": "/bar", "/foo": "/", "/foo/": "/", "/foo/bar/": "/bar/", "/foobar": "/foobar"} {
		r, e := get(t, web+path)
		if r.StatusCode != 200 || e.Path != want {
			t.Errorf("GET %s with ReplacePrefixMatch \"\" after /foo: status %d, backend saw %q, want 200 and %q", path, r.StatusCode, e.Path, want)
		}
	}
}
