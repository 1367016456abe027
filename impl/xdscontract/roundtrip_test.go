package xdscontract

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// wire sends m through its binary encoding, as the ADS stream does.
func wire[M proto.Message](t *testing.T, m M) M {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out := m.ProtoReflect().New().Interface().(M)
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// anchored compiles expr as the decoders do for whole-value matches.
func anchored(expr string) *regexp.Regexp { return regexp.MustCompile(`^(?:` + expr + `)$`) }

func mustRewrite(t *testing.T, pattern, sub string) *RegexRewrite {
	t.Helper()
	r, err := NewRegexRewrite(pattern, sub)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSteeringRoundTrip(t *testing.T) {
	for _, s := range []Steering{
		{},
		{VIPs: []netip.Addr{netip.MustParseAddr("198.19.0.10")}, ServicePort: 8080, Service: "default/bookstore"},
		{VIPs: []netip.Addr{netip.MustParseAddr("198.19.0.10"), netip.MustParseAddr("fd00::a")}, ServicePort: 65535, CallerNamespace: "team-b", Service: "team-a/bookstore"},
	} {
		md, err := EncodeSteeringMetadata(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeSteeringMetadata(wire(t, md), "listener.metadata")
		if err != nil {
			t.Fatalf("decode %+v: %v", s, err)
		}
		if s.VIPs == nil {
			s.VIPs = got.VIPs // no VIPs: an empty list comes back as nil.
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("round trip of %+v = %+v", s, got)
		}
	}
}

func TestRouteRoundTrip(t *testing.T) {
	headers := HeaderMods{
		Add: []HeaderValue{
			{Key: "x-set", Value: "1", Action: OverwriteOrAdd},
			{Key: "x-add", Value: "2", Action: AppendOrAdd},
			{Key: "x-absent", Value: "3", Action: AddIfAbsent},
			{Key: "x-exists", Value: "4", Action: OverwriteIfExists},
		},
		Remove: []string{"x-secret", "server"},
	}
	prefix := Match{PathKind: PathPrefix, Path: "/"}
	tests := []struct {
		name  string
		route func(t *testing.T) *Route
	}{
		{"weighted split", func(*testing.T) *Route {
			return &Route{Name: "split", Match: Match{PathKind: PathSeparatedPrefix, Path: "/books"}, Forward: &Forward{
				Backends: []Backend{
					{Cluster: "svc~default~v1~8080", Weight: 90},
					{Cluster: "invalid~RefNotPermitted~1", Weight: 10, RequestHeaders: headers, ResponseHeaders: HeaderMods{Remove: []string{"x-v2"}}},
				},
				TotalWeight: 100, NotFoundStatus: 500,
			}}
		}},
		{"timeouts, retries, mirrors, host and prefix rewrite", func(*testing.T) *Route {
			return &Route{Name: "all", Match: Match{PathKind: PathExact, Path: "/echo.Echo/Say"}, Forward: &Forward{
				Backends: []Backend{{Cluster: "c", Weight: 1}}, TotalWeight: 1, NotFoundStatus: 503,
				Timeout: 2 * time.Second,
				Retry: &Retry{
					On:         RetryConnectFailure | RetryRefusedStream | RetryReset | RetryStatusCodes | Retry5xx | RetryGatewayError,
					NumRetries: 3, PerTry: 500 * time.Millisecond, StatusCodes: []int{503, 504},
					BackoffBase: 50 * time.Millisecond, BackoffMax: time.Second,
					OnlyIf: []HeaderMatch{{Name: ":method", String: &StringMatch{Kind: StringRegex, Value: "GET|HEAD", Regex: anchored("GET|HEAD")}}},
				},
				Mirrors: []Mirror{
					{Cluster: "shadow", PerMillion: 250_000},
					{Cluster: "all", PerMillion: 1_000_000, NoShadowSuffix: true},
					{Cluster: "none", PerMillion: 0},
				},
				PrefixRewrite: "/api",
				HostRewrite:   "bookstore-v1.default",
			}}
		}},
		{"no timeout, retries without conditions", func(*testing.T) *Route {
			return &Route{Name: "zero", Match: prefix, Forward: &Forward{
				Backends: []Backend{{Cluster: "c", Weight: 7}}, TotalWeight: 7, NotFoundStatus: 404,
				Retry: &Retry{PerTry: time.Second},
			}}
		}},
		{"regex rewrite", func(t *testing.T) *Route {
			return &Route{Name: "rw", Match: Match{PathKind: PathSeparatedPrefix, Path: "/strip"}, Forward: &Forward{
				Backends: []Backend{{Cluster: "c", Weight: 1}}, TotalWeight: 1, NotFoundStatus: 500,
				RegexRewrite: mustRewrite(t, `^/strip/*`, `/\1$x/`),
			}}
		}},
		{"redirect: scheme, host, port, prefix", func(*testing.T) *Route {
			return &Route{Name: "moves", Match: Match{PathKind: PathSeparatedPrefix, Path: "/old"}, Redirect: &Redirect{
				Scheme: "https", Host: "books.example", Port: 8443, PrefixRewrite: "/new", Status: 301,
			}}
		}},
		{"redirect: full path, strip query", func(*testing.T) *Route {
			return &Route{Name: "gone", Match: Match{PathKind: PathExact, Path: "/gone"}, Redirect: &Redirect{Path: "/here", Status: 302, StripQuery: true}}
		}},
		{"redirect: regex", func(t *testing.T) *Route {
			return &Route{Name: "re", Match: prefix, Redirect: &Redirect{RegexRewrite: mustRewrite(t, `^/*`, "/x/"), Status: 308}}
		}},
		{"redirect codes", func(*testing.T) *Route {
			return &Route{Name: "303", Match: prefix, Redirect: &Redirect{Status: 303}}
		}},
		{"redirect 307", func(*testing.T) *Route {
			return &Route{Name: "307", Match: prefix, Redirect: &Redirect{Status: 307}}
		}},
		{"direct response with body and route-level headers", func(*testing.T) *Route {
			return &Route{Name: "500", Match: prefix, Direct: &Direct{Status: 500, Body: "no backend"}, RequestHeaders: headers, ResponseHeaders: headers}
		}},
		{"matches", func(*testing.T) *Route {
			return &Route{Name: "matches", Match: Match{
				PathKind: PathRegex, Path: "/api/v[0-9]+/.*", Regex: anchored("/api/v[0-9]+/.*"),
				Headers: []HeaderMatch{
					{Name: "x-exact", String: &StringMatch{Kind: StringExact, Value: "v2"}},
					{Name: "x-prefix", String: &StringMatch{Kind: StringPrefix, Value: "a", IgnoreCase: true}},
					{Name: "x-suffix", String: &StringMatch{Kind: StringSuffix, Value: "z"}},
					{Name: "x-contains", String: &StringMatch{Kind: StringContains, Value: "m"}, Invert: true},
					{Name: "x-regex", String: &StringMatch{Kind: StringRegex, Value: "^a.*z$", Regex: anchored("^a.*z$")}},
					{Name: "x-present", Present: true},
					{Name: "x-absent"},
					{Name: ":method", String: &StringMatch{Value: "GET"}},
				},
				Query: []QueryMatch{
					{Name: "lang", String: &StringMatch{Value: "en"}},
					{Name: "page", String: &StringMatch{Kind: StringRegex, Value: "[0-9]+", Regex: anchored("[0-9]+")}},
					{Name: "debug"},
				},
			}, Direct: &Direct{Status: 200}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.route(t)
			enc, err := EncodeRoute(in)
			if err != nil {
				t.Fatalf("EncodeRoute: %v", err)
			}
			if err := enc.ValidateAll(); err != nil {
				t.Fatalf("encoded route does not validate: %v", err)
			}
			got, err := DecodeRoute(wire(t, enc), "route")
			if err != nil {
				t.Fatalf("DecodeRoute: %v", err)
			}
			if !reflect.DeepEqual(got, in) {
				t.Errorf("round trip:\n got %s\nwant %s", dump(got), dump(in))
			}
		})
	}
}

// dump shows a route with its pointers followed.
func dump(r *Route) string {
	s := fmt.Sprintf("%+v", *r)
	if r.Forward != nil {
		s += fmt.Sprintf(" forward=%+v", *r.Forward)
		if r.Forward.Retry != nil {
			s += fmt.Sprintf(" retry=%+v", *r.Forward.Retry)
		}
	}
	if r.Redirect != nil {
		s += fmt.Sprintf(" redirect=%+v", *r.Redirect)
	}
	return s
}

// TestEncodeRejects checks that values with no xDS form fail to encode
// rather than encode as something else.
func TestEncodeRejects(t *testing.T) {
	for _, r := range []*Route{
		{Name: "no action", Match: Match{Path: "/"}},
		{Name: "redirect 305", Match: Match{Path: "/"}, Redirect: &Redirect{Status: 305}},
		{Name: "not found 502", Match: Match{Path: "/"}, Forward: &Forward{Backends: []Backend{{Cluster: "c", Weight: 1}}, NotFoundStatus: 502}},
	} {
		if _, err := EncodeRoute(r); err == nil {
			t.Errorf("EncodeRoute(%s): no error", r.Name)
		}
	}
}

// TestDecodeRejects checks that what the proxy does not implement is
// refused (the proxy NACKs it) with an error naming the field.
func TestDecodeRejects(t *testing.T) {
	fwd := func(a *route.RouteAction) *route.Route {
		if a.ClusterSpecifier == nil {
			a.ClusterSpecifier = &route.RouteAction_Cluster{Cluster: "c"}
		}
		return &route.Route{Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}}, Action: &route.Route_Route{Route: a}}
	}
	for _, tc := range []struct {
		name        string
		route       *route.Route
		want        string
		unsupported bool // the error wraps ErrUnsupported
	}{
		{"hash policy", fwd(&route.RouteAction{HashPolicy: []*route.RouteAction_HashPolicy{{}}}), "route.route.hash_policy", true},
		{"retry on 4xx", fwd(&route.RouteAction{RetryPolicy: &route.RetryPolicy{RetryOn: "5xx,retriable-4xx"}}), `retry_on: condition "retriable-4xx"`, true},
		{"retry budget", fwd(&route.RouteAction{RetryPolicy: &route.RetryPolicy{RetryOn: "reset", RateLimitedRetryBackOff: &route.RetryPolicy_RateLimitedRetryBackOff{}}}), "retry_policy.rate_limited_retry_back_off", true},
		{"retry status code", fwd(&route.RouteAction{RetryPolicy: &route.RetryPolicy{RetriableStatusCodes: []uint32{99}}}), "retriable_status_codes: 99 is not an HTTP status", false},
		{"zero total weight", fwd(&route.RouteAction{ClusterSpecifier: &route.RouteAction_WeightedClusters{WeightedClusters: &route.WeightedCluster{
			Clusters: []*route.WeightedCluster_ClusterWeight{{Name: "a", Weight: wrapperspb.UInt32(0)}}}}}), "total weight is 0", false},
		{"weighted cluster without a name", fwd(&route.RouteAction{ClusterSpecifier: &route.RouteAction_WeightedClusters{WeightedClusters: &route.WeightedCluster{
			Clusters: []*route.WeightedCluster_ClusterWeight{{Name: "a", Weight: wrapperspb.UInt32(1)}, {Weight: wrapperspb.UInt32(1)}}}}}), "route.route.weighted_clusters.clusters[1].name: empty", false},
		{"total weight mismatch", fwd(&route.RouteAction{ClusterSpecifier: &route.RouteAction_WeightedClusters{WeightedClusters: &route.WeightedCluster{
			Clusters: []*route.WeightedCluster_ClusterWeight{{Name: "a", Weight: wrapperspb.UInt32(1)}}, TotalWeight: wrapperspb.UInt32(2)}}}), "route.route.weighted_clusters.total_weight: 2, but the weights sum to 1", false},
		{"mirror without a cluster", fwd(&route.RouteAction{RequestMirrorPolicies: []*route.RouteAction_RequestMirrorPolicy{{Cluster: "m"}, {}}}), "route.route.request_mirror_policies[1].cluster: empty", false},
		{"not found code", fwd(&route.RouteAction{ClusterNotFoundResponseCode: route.RouteAction_ClusterNotFoundResponseCode(7)}), "cluster_not_found_response_code", true},
		{"mirror denominator", fwd(&route.RouteAction{RequestMirrorPolicies: []*route.RouteAction_RequestMirrorPolicy{{Cluster: "m", RuntimeFraction: &core.RuntimeFractionalPercent{
			DefaultValue: &typev3.FractionalPercent{Numerator: 1, Denominator: 9}}}}}), "default_value.denominator", true},
		{"header append action", &route.Route{Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}}, Action: fwd(&route.RouteAction{}).Action,
			ResponseHeadersToAdd: []*core.HeaderValueOption{{Header: &core.HeaderValue{Key: "x", Value: "v"}, AppendAction: 9}}}, "response_headers_to_add[0].append_action", true},
		{"pseudo-header removal", &route.Route{Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}}, Action: fwd(&route.RouteAction{}).Action,
			RequestHeadersToRemove: []string{":path"}}, "request_headers_to_remove", true},
		{"redirect code", &route.Route{Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}}, Action: &route.Route_Redirect{Redirect: &route.RedirectAction{ResponseCode: 9}}}, "redirect.response_code", true},
		{"prefix rewrite after regex", &route.Route{Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_SafeRegex{SafeRegex: encodeRegex("/a.*")}}, Action: fwd(&route.RouteAction{PrefixRewrite: "/b"}).Action}, "prefix_rewrite with a safe_regex", true},
		{"bad regex", &route.Route{Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_SafeRegex{SafeRegex: encodeRegex("(")}}, Action: fwd(&route.RouteAction{}).Action}, "match.safe_regex.regex: compile", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRoute(tc.route, "route")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeRoute error = %v, want one containing %q", err, tc.want)
			}
			if errors.Is(err, ErrUnsupported) != tc.unsupported {
				t.Errorf("errors.Is(%v, ErrUnsupported) = %v, want %v", err, !tc.unsupported, tc.unsupported)
			}
		})
	}
	st, err := structpb.NewStruct(map[string]any{"servicePort": 80, "extra": true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeSteering(st, "steering"); err == nil || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "steering.extra") {
		t.Errorf("DecodeSteering with an unknown key: error = %v, want ErrUnsupported naming steering.extra", err)
	}
}
