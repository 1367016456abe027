package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gammaproof/gammaproof/impl/xdscontract"
)

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func ads() *corev3.ConfigSource {
	return &corev3.ConfigSource{ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}, ResourceApiVersion: corev3.ApiVersion_V3}
}

func goodHCM() *hcmv3.HttpConnectionManager {
	return &hcmv3.HttpConnectionManager{
		StatPrefix:     "l",
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{ConfigSource: ads(), RouteConfigName: "l"}},
		HttpFilters:    []*hcmv3.HttpFilter{{Name: xdscontract.RouterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAnyNoT(&routerv3.Router{})}}},
	}
}

func mustAnyNoT(m proto.Message) *anypb.Any {
	a, _ := anypb.New(m)
	return a
}

func goodListener(t *testing.T, hcm *hcmv3.HttpConnectionManager) *listenerv3.Listener {
	md, err := structpb.NewStruct(map[string]any{"vips": []any{"198.19.0.10"}, "servicePort": 8080, "callerNamespace": "team-b", "service": "ns/svc"})
	if err != nil {
		t.Fatal(err)
	}
	return &listenerv3.Listener{
		Name: "l",
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 15001}}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name: xdscontract.HTTPConnectionManagerName, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(t, hcm)}}}}},
		Metadata: &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{xdscontract.SteeringMetadataKey: md}},
	}
}

func TestParseListener(t *testing.T) {
	l, err := ParseListener(goodListener(t, goodHCM()))
	if err != nil {
		t.Fatalf("parse good listener: %v", err)
	}
	if l.Port != 15001 || l.RouteName != "l" || l.Steering.ServicePort != 8080 || l.Steering.CallerNamespace != "team-b" ||
		l.Steering.Service != "ns/svc" || len(l.Steering.VIPs) != 1 || l.Steering.VIPs[0].String() != "198.19.0.10" {
		t.Errorf("parsed listener = %+v", l)
	}

	for _, tc := range []struct {
		name string
		lis  func(*listenerv3.Listener)
		hcm  func(*hcmv3.HttpConnectionManager)
		want string
	}{
		{name: "listener filter", lis: func(l *listenerv3.Listener) {
			l.ListenerFilters = []*listenerv3.ListenerFilter{{Name: "envoy.filters.listener.tls_inspector"}}
		}, want: "listener_filters"},
		{name: "tls", lis: func(l *listenerv3.Listener) {
			l.FilterChains[0].TransportSocket = &corev3.TransportSocket{Name: "tls"}
		}, want: "filter_chains[0].transport_socket"},
		{name: "second filter chain", lis: func(l *listenerv3.Listener) {
			l.FilterChains = append(l.FilterChains, l.FilterChains[0])
		}, want: "2 filter chains"},
		{name: "tcp proxy", lis: func(l *listenerv3.Listener) {
			l.FilterChains[0].Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAnyNoT(&routerv3.Router{})}
		}, want: "typed_config: type"},
		{name: "extra http filter", hcm: func(h *hcmv3.HttpConnectionManager) {
			h.HttpFilters = append([]*hcmv3.HttpFilter{{Name: "envoy.filters.http.fault"}}, h.HttpFilters...)
		}, want: "2 http filters"},
		{name: "router option", hcm: func(h *hcmv3.HttpConnectionManager) {
			h.HttpFilters[0].ConfigType = &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAnyNoT(&routerv3.Router{SuppressEnvoyHeaders: true})}
		}, want: "suppress_envoy_headers"},
		{name: "hcm option", hcm: func(h *hcmv3.HttpConnectionManager) {
			h.UseRemoteAddress = wrapperspb.Bool(true)
		}, want: "typed_config.use_remote_address"},
		{name: "rds not over ads", hcm: func(h *hcmv3.HttpConnectionManager) {
			h.GetRds().ConfigSource = &corev3.ConfigSource{ConfigSourceSpecifier: &corev3.ConfigSource_Path{Path: "/x"}}
		}, want: "rds.config_source.path"},
		{name: "bad vip", lis: func(l *listenerv3.Listener) {
			l.Metadata.FilterMetadata[xdscontract.SteeringMetadataKey].Fields["vips"] = structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewStringValue("nope")}})
		}, want: "vips[0]"},
		{name: "unknown steering key", lis: func(l *listenerv3.Listener) {
			l.Metadata.FilterMetadata[xdscontract.SteeringMetadataKey].Fields["extra"] = structpb.NewBoolValue(true)
		}, want: "extra"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := goodHCM()
			if tc.hcm != nil {
				tc.hcm(h)
			}
			l := goodListener(t, h)
			if tc.lis != nil {
				tc.lis(l)
			}
			_, err := ParseListener(l)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseListener error = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func route(r *routev3.Route) *routev3.RouteConfiguration {
	return &routev3.RouteConfiguration{Name: "rc", VirtualHosts: []*routev3.VirtualHost{{Name: "vh", Domains: []string{"*"}, Routes: []*routev3.Route{r}}}}
}

func fwd(a *routev3.RouteAction) *routev3.Route {
	if a.ClusterSpecifier == nil {
		a.ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: "c"}
	}
	return &routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}}, Action: &routev3.Route_Route{Route: a}}
}

func TestParseRouteConfigurationRejects(t *testing.T) {
	prefixMatch := &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}}
	for _, tc := range []struct {
		name string
		rc   *routev3.RouteConfiguration
		want string
	}{
		{"hash policy", route(fwd(&routev3.RouteAction{HashPolicy: []*routev3.RouteAction_HashPolicy{{}}})), "route.hash_policy"},
		{"cluster header", route(fwd(&routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_ClusterHeader{ClusterHeader: "x"}})), "route.cluster_header"},
		{"auto host rewrite", route(fwd(&routev3.RouteAction{HostRewriteSpecifier: &routev3.RouteAction_AutoHostRewrite{AutoHostRewrite: wrapperspb.Bool(true)}})), "auto_host_rewrite"},
		{"retry on 4xx", route(fwd(&routev3.RouteAction{RetryPolicy: &routev3.RetryPolicy{RetryOn: "5xx,retriable-4xx"}})), `retry_on: condition "retriable-4xx"`},
		{"retry host predicate", route(fwd(&routev3.RouteAction{RetryPolicy: &routev3.RetryPolicy{RetryOn: "5xx", RetryHostPredicate: []*routev3.RetryPolicy_RetryHostPredicate{{Name: "x"}}}})), "retry_host_predicate"},
		{"mirror fraction without value", route(fwd(&routev3.RouteAction{RequestMirrorPolicies: []*routev3.RouteAction_RequestMirrorPolicy{{Cluster: "m", RuntimeFraction: &corev3.RuntimeFractionalPercent{}}}})), "runtime_fraction.default_value: missing"},
		{"mirror trace sampled", route(fwd(&routev3.RouteAction{RequestMirrorPolicies: []*routev3.RouteAction_RequestMirrorPolicy{{Cluster: "m", TraceSampled: wrapperspb.Bool(true)}}})), "trace_sampled"},
		{"zero total weight", route(fwd(&routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{
			Clusters: []*routev3.WeightedCluster_ClusterWeight{{Name: "a", Weight: wrapperspb.UInt32(0)}}}}})), "total weight is 0"},
		{"weighted cluster host rewrite", route(fwd(&routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{
			Clusters: []*routev3.WeightedCluster_ClusterWeight{{Name: "a", Weight: wrapperspb.UInt32(1), HostRewriteSpecifier: &routev3.WeightedCluster_ClusterWeight_HostRewriteLiteral{HostRewriteLiteral: "x"}}}}}})), "clusters[0].host_rewrite_literal"},
		{"grpc match", route(&routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}, Grpc: &routev3.RouteMatch_GrpcRouteMatchOptions{}}, Action: fwd(&routev3.RouteAction{}).Action}), "match.grpc"},
		{"runtime fraction match", route(&routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}, RuntimeFraction: &corev3.RuntimeFractionalPercent{}}, Action: fwd(&routev3.RouteAction{}).Action}), "match.runtime_fraction"},
		{"case insensitive", route(&routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}, CaseSensitive: wrapperspb.Bool(false)}, Action: fwd(&routev3.RouteAction{}).Action}), "case_sensitive"},
		{"range header match", route(&routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}, Headers: []*routev3.HeaderMatcher{{Name: "x", HeaderMatchSpecifier: &routev3.HeaderMatcher_RangeMatch{}}}}, Action: fwd(&routev3.RouteAction{}).Action}), "headers[0].range_match"},
		{"bad regex", route(&routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "("}}}, Action: fwd(&routev3.RouteAction{}).Action}), "safe_regex.regex: compile"},
		{"filter action", route(&routev3.Route{Match: prefixMatch, Action: &routev3.Route_FilterAction{FilterAction: &routev3.FilterAction{}}}), "filter_action"},
		{"typed per filter config", route(&routev3.Route{Match: prefixMatch, Action: fwd(&routev3.RouteAction{}).Action, TypedPerFilterConfig: map[string]*anypb.Any{"x": mustAnyNoT(&routerv3.Router{})}}), "typed_per_filter_config"},
		{"header command operator", route(&routev3.Route{Match: prefixMatch, Action: fwd(&routev3.RouteAction{}).Action,
			RequestHeadersToAdd: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x", Value: "%DOWNSTREAM_REMOTE_ADDRESS%"}}}}), "request_headers_to_add[0].header.value"},
		{"redirect regex without pattern", route(&routev3.Route{Match: prefixMatch, Action: &routev3.Route_Redirect{Redirect: &routev3.RedirectAction{
			PathRewriteSpecifier: &routev3.RedirectAction_RegexRewrite{RegexRewrite: &matcherv3.RegexMatchAndSubstitute{}}}}}), "redirect.regex_rewrite.pattern: missing"},
		{"vhost retry policy", &routev3.RouteConfiguration{Name: "rc", VirtualHosts: []*routev3.VirtualHost{{Name: "vh", Domains: []string{"*"}, RetryPolicy: &routev3.RetryPolicy{}}}}, "virtual_hosts[0].retry_policy"},
		{"config-level headers", &routev3.RouteConfiguration{Name: "rc", RequestHeadersToRemove: []string{"x"}}, "request_headers_to_remove"},
		{"prefix rewrite after regex match", route(&routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "/a.*"}}},
			Action: fwd(&routev3.RouteAction{PrefixRewrite: "/b"}).Action}), "prefix_rewrite with a safe_regex"},
		{"direct response status", route(&routev3.Route{Match: prefixMatch, Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 99}}}), "status: 99"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRouteConfiguration(tc.rc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseRouteAction(t *testing.T) {
	rc := route(fwd(&routev3.RouteAction{
		ClusterSpecifier: &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{Clusters: []*routev3.WeightedCluster_ClusterWeight{
			{Name: "a", Weight: wrapperspb.UInt32(90)}, {Name: "invalid~x~1", Weight: wrapperspb.UInt32(10)},
		}}},
		ClusterNotFoundResponseCode: routev3.RouteAction_INTERNAL_SERVER_ERROR,
		RetryPolicy:                 &routev3.RetryPolicy{RetryOn: "5xx,connect-failure", NumRetries: wrapperspb.UInt32(3), PerTryTimeout: durationpb.New(time.Second)},
		RegexRewrite:                &matcherv3.RegexMatchAndSubstitute{Pattern: &matcherv3.RegexMatcher{Regex: "^/a/(.*)$"}, Substitution: `/b/\1$`},
	}))
	rt, err := ParseRouteConfiguration(rc)
	if err != nil {
		t.Fatal(err)
	}
	f := rt.VirtualHosts[0].Routes[0].Forward
	if f.TotalWeight != 100 || f.NotFoundStatus != 500 || f.Timeout != xdscontract.DefaultRouteTimeout {
		t.Errorf("forward = %+v", f)
	}
	if r := f.Retry; r.On != xdscontract.Retry5xx|xdscontract.RetryConnectFailure || r.NumRetries != 3 || r.PerTry != time.Second {
		t.Errorf("retry = %+v", r)
	}
	if got := f.RewritePath(&rt.VirtualHosts[0].Routes[0].Match, "/a/x/y"); got != "/b/x/y$" {
		t.Errorf("regex rewrite = %q, want /b/x/y$", got)
	}
	for n, want := range map[uint64]string{0: "a", 89: "a", 90: "invalid~x~1", 99: "invalid~x~1"} {
		if got := f.Pick(n).Cluster; got != want {
			t.Errorf("Pick(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseClusterAndEndpoints(t *testing.T) {
	c := &clusterv3.Cluster{Name: "c", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{EdsConfig: ads()}, ConnectTimeout: durationpb.New(time.Second)}
	got, err := ParseCluster(c)
	if err != nil || got.HTTP2 || got.ConnectTimeout != time.Second || got.EDSName != "c" {
		t.Fatalf("ParseCluster = %+v, %v", got, err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*clusterv3.Cluster)
		want   string
	}{
		{"static", func(c *clusterv3.Cluster) {
			c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}
		}, "type: STATIC"},
		{"lb policy", func(c *clusterv3.Cluster) { c.LbPolicy = clusterv3.Cluster_RING_HASH }, "lb_policy"},
		{"circuit breakers", func(c *clusterv3.Cluster) { c.CircuitBreakers = &clusterv3.CircuitBreakers{} }, "circuit_breakers"},
		{"tls", func(c *clusterv3.Cluster) { c.TransportSocket = &corev3.TransportSocket{Name: "tls"} }, "transport_socket"},
		{"unknown protocol options", func(c *clusterv3.Cluster) {
			c.TypedExtensionProtocolOptions = map[string]*anypb.Any{"envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions": mustAnyNoT(&routerv3.Router{})}
		}, "TcpProtocolOptions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := proto.Clone(c).(*clusterv3.Cluster)
			tc.mutate(c)
			_, err := ParseCluster(c)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, xdscontract.ErrUnsupported) {
				t.Fatalf("error = %v, want xdscontract.ErrUnsupported naming %q", err, tc.want)
			}
		})
	}

	ep := func(ip string, port uint32, h corev3.HealthStatus) *endpointv3.LbEndpoint {
		return &endpointv3.LbEndpoint{HealthStatus: h, HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: &corev3.Address{
			Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}}}}
	}
	e, err := ParseEndpoints(&endpointv3.ClusterLoadAssignment{ClusterName: "c", Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{
		ep("198.18.0.5", 8080, corev3.HealthStatus_UNKNOWN), ep("198.18.0.6", 8080, corev3.HealthStatus_UNHEALTHY), ep("198.18.0.7", 9090, corev3.HealthStatus_HEALTHY),
	}}}})
	if err != nil || strings.Join(e.Addrs, ",") != "198.18.0.5:8080,198.18.0.7:9090" {
		t.Fatalf("ParseEndpoints = %+v, %v", e, err)
	}
	bad := &endpointv3.ClusterLoadAssignment{ClusterName: "c", Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{ep("198.18.0.5", 8080, 0)}}}}
	bad.Endpoints[0].LbEndpoints[0].LoadBalancingWeight = wrapperspb.UInt32(5)
	if _, err := ParseEndpoints(bad); err == nil || !strings.Contains(err.Error(), "load_balancing_weight") {
		t.Errorf("endpoint weight: error = %v, want one naming load_balancing_weight", err)
	}
}
