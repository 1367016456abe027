package xds

import (
	"fmt"
	"net/http/httptest"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	upstreamhttp "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/impl/xdscontract"
)

// TestTranslateIsolation: GEP-1294 "Namespace boundaries": "another
// unrelated namespace cannot modify their traffic". grpc-x's GRPCRoute
// speaks h2c to web-y/web-v1:80 through a cluster of its own; the cluster
// web-y's HTTPRoute forwards to stays HTTP/1.1.
func TestTranslateIsolation(t *testing.T) {
	s, err := Translate(model.Build(decodeInput(t, readInput(t, "isolation.yaml"))))
	if err != nil {
		t.Fatal(err)
	}
	clusterOf := func(listener string) string {
		rs := routesOf(t, s, listener)
		if len(rs) != 1 {
			t.Fatalf("%s: %d routes, want 1", listener, len(rs))
		}
		wc := rs[0].GetRoute().GetWeightedClusters().GetClusters()
		if len(wc) != 1 {
			t.Fatalf("%s: weighted clusters %v, want 1", listener, wc)
		}
		return wc[0].GetName()
	}
	http2 := func(name string) bool {
		r, ok := s.Resources.Resources[types.Cluster].Items[name]
		if !ok {
			t.Fatalf("no cluster %q", name)
		}
		var opts upstreamhttp.HttpProtocolOptions
		if err := r.Resource.(*cluster.Cluster).GetTypedExtensionProtocolOptions()[xdscontract.HTTPProtocolOptionsKey].UnmarshalTo(&opts); err != nil {
			t.Fatalf("cluster %s protocol options: %v", name, err)
		}
		return opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil
	}
	web, api := clusterOf("mesh~web-y~web~80"), clusterOf("mesh~grpc-x~api~9000")
	if web == api {
		t.Fatalf("web-y's HTTPRoute and grpc-x's GRPCRoute share cluster %q", web)
	}
	if http2(web) {
		t.Errorf("web-y's HTTPRoute reaches web-v1 through %s with HTTP/2 prior knowledge, want HTTP/1.1", web)
	}
	if !http2(api) {
		t.Errorf("grpc-x's GRPCRoute reaches web-v1 through %s without h2c", api)
	}
}

// TestPrefixRewriteRoundTrip lowers ReplacePrefixMatch through the contract
// and applies it as the proxy does, to every row of the table in
// HTTPPathModifier.replacePrefixMatch (Gateway API v1.6.3):
//
//	Request Path | Prefix Match | Replace Prefix | Modified Path
//	/foo/bar     | /foo         | /xyz           | /xyz/bar
//	/foo/bar     | /foo         | /xyz/          | /xyz/bar
//	/foo/bar     | /foo/        | /xyz           | /xyz/bar
//	/foo/bar     | /foo/        | /xyz/          | /xyz/bar
//	/foo         | /foo         | /xyz           | /xyz
//	/foo/        | /foo         | /xyz           | /xyz/
//	/foo/bar     | /foo         | <empty string> | /bar
//	/foo/        | /foo         | <empty string> | /
//	/foo         | /foo         | <empty string> | /
//	/foo/        | /foo         | /              | /
//	/foo         | /foo         | /              | /
//
// plus a root prefix and upstream's mesh HTTPRouteRewritePath case
// (/strip-prefix with "/").
func TestPrefixRewriteRoundTrip(t *testing.T) {
	for _, tc := range []struct{ path, prefix, replacement, want string }{
		{"/foo/bar", "/foo", "/xyz", "/xyz/bar"},
		{"/foo/bar", "/foo", "/xyz/", "/xyz/bar"},
		{"/foo/bar", "/foo/", "/xyz", "/xyz/bar"},
		{"/foo/bar", "/foo/", "/xyz/", "/xyz/bar"},
		{"/foo", "/foo", "/xyz", "/xyz"},
		{"/foo/", "/foo", "/xyz", "/xyz/"},
		{"/foo/bar", "/foo", "", "/bar"},
		{"/foo/", "/foo", "", "/"},
		{"/foo", "/foo", "", "/"},
		{"/foo/", "/foo", "/", "/"},
		{"/foo", "/foo", "/", "/"},
		{"/foo/bar/baz", "/foo/", "", "/bar/baz"},
		{"/bar", "/", "", "/bar"},
		{"/bar", "/", "/xyz", "/xyz/bar"},
		{"/strip-prefix/three", "/strip-prefix", "/", "/three"},
		{"/strip-prefix", "/strip-prefix", "/", "/"},
	} {
		name := fmt.Sprintf("%s with prefix %s and %q", tc.path, tc.prefix, tc.replacement)
		match, err := routeMatch(model.Match{PathType: model.PathPrefix, PathValue: tc.prefix})
		if err != nil {
			t.Fatal(err)
		}
		r := &model.Route{Name: "r", Match: model.Match{PathType: model.PathPrefix, PathValue: tc.prefix},
			Backends: []model.Backend{{Cluster: "c", Weight: 1}},
			Rewrite:  &model.URLRewrite{Path: &model.PathModifier{Type: model.ReplacePrefixMatch, Value: tc.replacement}}}
		tr := translator{clusters: map[string]bool{"c": true}}
		cr, err := tr.contractRoute(&model.Listener{Name: "l"}, r, match)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		enc, err := xdscontract.EncodeRoute(cr)
		if err != nil {
			t.Fatalf("%s: encode: %v", name, err)
		}
		dec, err := xdscontract.DecodeRoute(enc, "route")
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		if got := dec.Forward.RewritePath(&dec.Match, tc.path); got != tc.want {
			t.Errorf("rewrite %s = %q, want %q", name, got, tc.want)
		}

		// The same modifier in a RequestRedirect.
		r.Rewrite, r.Backends = nil, nil
		r.Redirect = &model.Redirect{StatusCode: 302, Path: &model.PathModifier{Type: model.ReplacePrefixMatch, Value: tc.replacement}}
		if cr, err = tr.contractRoute(&model.Listener{Name: "l"}, r, match); err != nil {
			t.Fatalf("%s: redirect: %v", name, err)
		}
		if enc, err = xdscontract.EncodeRoute(cr); err != nil {
			t.Fatalf("%s: encode redirect: %v", name, err)
		}
		if dec, err = xdscontract.DecodeRoute(enc, "route"); err != nil {
			t.Fatalf("%s: decode redirect: %v", name, err)
		}
		req := httptest.NewRequest("GET", "http://web"+tc.path, nil)
		if got, want := dec.Redirect.Location(&dec.Match, req), "http://web"+tc.want; got != want {
			t.Errorf("redirect %s: Location %q, want %q", name, got, want)
		}
	}
}

// TestGRPCUnavailable: GRPCRouteRule.backendRefs: "If *all* entries in
// BackendRefs are invalid, and there are also no filters specified in this
// route rule, *all* traffic which matches this rule MUST receive an
// `UNAVAILABLE` status." and "When a GRPCBackendRef is invalid,
// `UNAVAILABLE` statuses MUST be returned for requests that would have
// otherwise been routed to an invalid backend." gRPC maps HTTP 503 to
// UNAVAILABLE (and 500 to UNKNOWN), so a GRPCRoute answers 503 where an
// HTTPRoute answers 500.
func TestGRPCUnavailable(t *testing.T) {
	all := rt("GRPCRoute", "grpc", "all-invalid", 0, prefixAll)
	all.DirectResponse500 = true
	part := rt("GRPCRoute", "grpc", "part-invalid", 0, model.Match{PathType: model.PathExact, PathValue: "/a.B/C"})
	part.Backends = []model.Backend{
		protoBackend("grpc", "echo-v1", 9000, 1, model.ProtocolH2C),
		{Service: svc("grpc", "gone"), Port: 9000, Weight: 1, Invalid: "BackendNotFound"},
	}
	httpAll := rt("HTTPRoute", "web", "all-invalid", 0, prefixAll)
	httpAll.DirectResponse500 = true
	m := &model.Mesh{
		Listeners: []model.Listener{
			mlistener("grpc", "echo", 9000, "", "198.19.2.10", part, all),
			mlistener("web", "web", 80, "", "198.19.3.10", httpAll),
		},
		Clusters: []model.Cluster{mcluster("grpc", "echo-v1", 9000, model.ProtocolH2C, "198.18.2.11")},
	}
	s, err := Translate(m)
	if err != nil {
		t.Fatal(err)
	}
	grpcRoutes := routesOf(t, s, "mesh~grpc~echo~9000")
	if got := grpcRoutes[0].GetRoute().GetClusterNotFoundResponseCode(); got != route.RouteAction_SERVICE_UNAVAILABLE {
		t.Errorf("GRPCRoute with an invalid backend: cluster_not_found_response_code = %v, want SERVICE_UNAVAILABLE", got)
	}
	if got := grpcRoutes[1].GetDirectResponse().GetStatus(); got != 503 {
		t.Errorf("GRPCRoute with every backend invalid: direct_response %d, want 503 (UNAVAILABLE)", got)
	}
	if got := routesOf(t, s, "mesh~web~web~80")[0].GetDirectResponse().GetStatus(); got != 500 {
		t.Errorf("HTTPRoute with every backend invalid: direct_response %d, want 500", got)
	}
}
