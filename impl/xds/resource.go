package xds

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttp "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The builders in this file are pure: they take plain values and return
// protos. [Translate] assembles them into a snapshot.

const (
	// SteeringMetadataKey is the Listener.metadata.filter_metadata key the
	// node agent reads to steer a Service port to the listener.
	SteeringMetadataKey = "gammaproof.io/steering"

	// HTTPProtocolOptionsKey is the Cluster.typed_extension_protocol_options
	// key that says which HTTP version the proxy speaks to the endpoints.
	HTTPProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

	// connectTimeout bounds connection setup to one endpoint (contract: 1s).
	connectTimeout = time.Second

	// listenHost is the address every listener binds.
	listenHost = "0.0.0.0"
)

// Steering is what the node agent needs to steer connections to a listener.
type Steering struct {
	VIPs            []string // ClusterIPs of the Service.
	ServicePort     uint32
	CallerNamespace string // "" = any caller.
	Service         string // "<ns>/<name>".
}

// Sub-messages that are the same in every resource are built once and shared
// by all resources of all snapshots, so they must never be modified.
var (
	// adsSource says "fetch this over the same ADS stream".
	adsSource = &core.ConfigSource{
		ResourceApiVersion:    core.ApiVersion_V3,
		ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
	}
	// edsType, edsConfig and connectTimeoutValue are every cluster's.
	edsType             = &cluster.Cluster_Type{Type: cluster.Cluster_EDS}
	edsConfig           = &cluster.Cluster_EdsClusterConfig{EdsConfig: adsSource}
	connectTimeoutValue = durationpb.New(connectTimeout)
)

func socketAddress(host string, port uint32) *core.Address {
	return &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
		Protocol:      core.SocketAddress_TCP,
		Address:       host,
		PortSpecifier: &core.SocketAddress_PortValue{PortValue: port},
	}}}
}

// makeListener returns the listener `name` on 0.0.0.0:port whose HTTP
// connection manager takes its routes from the RouteConfiguration of the
// same name over ADS.
func makeListener(name string, port uint32, s Steering) (*listener.Listener, error) {
	routerAny, err := routerFilter()
	if err != nil {
		return nil, err
	}
	manager := &hcm.HttpConnectionManager{
		StatPrefix: name,
		CodecType:  hcm.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{
			RouteConfigName: name,
			ConfigSource:    adsSource,
		}},
		HttpFilters: []*hcm.HttpFilter{{
			Name:       wellknown.Router,
			ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: routerAny},
		}},
	}
	// Validated here because ValidateAll of the listener stops at the Any.
	if err := manager.ValidateAll(); err != nil {
		return nil, fmt.Errorf("validate http connection manager: %w", err)
	}
	managerAny, err := anypb.New(manager)
	if err != nil {
		return nil, fmt.Errorf("pack http connection manager: %w", err)
	}
	md, err := steeringMetadata(s)
	if err != nil {
		return nil, fmt.Errorf("build steering metadata: %w", err)
	}
	return &listener.Listener{
		Name:    name,
		Address: socketAddress(listenHost, port),
		FilterChains: []*listener.FilterChain{{
			Filters: []*listener.Filter{{
				Name:       wellknown.HTTPConnectionManager,
				ConfigType: &listener.Filter_TypedConfig{TypedConfig: managerAny},
			}},
		}},
		Metadata: &core.Metadata{FilterMetadata: map[string]*structpb.Struct{SteeringMetadataKey: md}},
	}, nil
}

// steeringMetadata is s as a Struct: what structpb.NewStruct makes of
// {"vips": [...], "servicePort": n, "callerNamespace": ..., "service": ...},
// without its map[string]any and reflection. Strings must be valid UTF-8.
func steeringMetadata(s Steering) (*structpb.Struct, error) {
	vips := make([]*structpb.Value, len(s.VIPs))
	for i, v := range s.VIPs {
		var err error
		if vips[i], err = structpb.NewValue(v); err != nil {
			return nil, err
		}
	}
	caller, err := structpb.NewValue(s.CallerNamespace)
	if err != nil {
		return nil, err
	}
	service, err := structpb.NewValue(s.Service)
	if err != nil {
		return nil, err
	}
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		"vips":            structpb.NewListValue(&structpb.ListValue{Values: vips}),
		"servicePort":     structpb.NewNumberValue(float64(s.ServicePort)),
		"callerNamespace": caller,
		"service":         service,
	}}, nil
}

// routerFilter is the router filter config every listener shares (read
// only), packed once.
var routerFilter = sync.OnceValues(func() (*anypb.Any, error) {
	r := &router.Router{}
	if err := r.ValidateAll(); err != nil {
		return nil, fmt.Errorf("validate router filter: %w", err)
	}
	a, err := anypb.New(r)
	if err != nil {
		return nil, fmt.Errorf("pack router filter: %w", err)
	}
	return a, nil
})

// makeRouteConfiguration returns one virtual host matching every authority
// with routes in the given (precedence) order.
func makeRouteConfiguration(name string, routes []*route.Route) *route.RouteConfiguration {
	return &route.RouteConfiguration{
		Name: name,
		VirtualHosts: []*route.VirtualHost{{
			Name:    name,
			Domains: []string{"*"},
			Routes:  routes,
		}},
	}
}

// makeCluster returns an EDS cluster over ADS that speaks h2c to its
// endpoints when h2c is true, else HTTP/1.1.
func makeCluster(name string, h2c bool) (*cluster.Cluster, error) {
	protocolOptions := http1Options
	if h2c {
		protocolOptions = h2cOptions
	}
	optsAny, err := protocolOptions()
	if err != nil {
		return nil, err
	}
	return &cluster.Cluster{
		Name:                 name,
		ConnectTimeout:       connectTimeoutValue,
		ClusterDiscoveryType: edsType,
		EdsClusterConfig:     edsConfig,
		LbPolicy:             cluster.Cluster_ROUND_ROBIN,
		TypedExtensionProtocolOptions: map[string]*anypb.Any{
			HTTPProtocolOptionsKey: optsAny,
		},
	}, nil
}

// http1Options and h2cOptions are the upstream protocol options every
// HTTP/1.1 or h2c cluster shares (read only), packed once.
var (
	http1Options = sync.OnceValues(func() (*anypb.Any, error) {
		return packProtocolOptions(&upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{
				HttpProtocolOptions: &core.Http1ProtocolOptions{},
			},
		})
	})
	h2cOptions = sync.OnceValues(func() (*anypb.Any, error) {
		return packProtocolOptions(&upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
				Http2ProtocolOptions: &core.Http2ProtocolOptions{},
			},
		})
	})
)

// packProtocolOptions validates and packs HTTP protocol options with the
// explicit HTTP config c.
func packProtocolOptions(c *upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig) (*anypb.Any, error) {
	opts := &upstreamhttp.HttpProtocolOptions{
		UpstreamProtocolOptions: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: c},
	}
	if err := opts.ValidateAll(); err != nil {
		return nil, fmt.Errorf("validate http protocol options: %w", err)
	}
	a, err := anypb.New(opts)
	if err != nil {
		return nil, fmt.Errorf("pack http protocol options: %w", err)
	}
	return a, nil
}

// hostPort is one endpoint address.
type hostPort struct {
	Host string
	Port uint32
}

// endpointMessages are the messages of one endpoint of a load assignment,
// as socketAddress would build its address.
type endpointMessages struct {
	lb         endpoint.LbEndpoint
	lbEndpoint endpoint.LbEndpoint_Endpoint
	endpoint   endpoint.Endpoint
	addr       core.Address
	addrSocket core.Address_SocketAddress
	socket     core.SocketAddress
	port       core.SocketAddress_PortValue
}

// makeEndpoints returns the load assignment of cluster name; no endpoints
// means the proxy answers 503.
func makeEndpoints(name string, eps []hostPort) *endpoint.ClusterLoadAssignment {
	cla := &endpoint.ClusterLoadAssignment{ClusterName: name}
	if len(eps) == 0 {
		return cla
	}
	// One allocation holds the messages of all endpoints: the garbage
	// collector sees one object instead of seven per endpoint.
	msgs := make([]endpointMessages, len(eps))
	lbs := make([]*endpoint.LbEndpoint, len(eps))
	for i, ep := range eps {
		m := &msgs[i]
		m.port.PortValue = ep.Port
		m.socket.Protocol, m.socket.Address, m.socket.PortSpecifier = core.SocketAddress_TCP, ep.Host, &m.port
		m.addrSocket.SocketAddress = &m.socket
		m.addr.Address = &m.addrSocket
		m.endpoint.Address = &m.addr
		m.lbEndpoint.Endpoint = &m.endpoint
		m.lb.HostIdentifier = &m.lbEndpoint
		lbs[i] = &m.lb
	}
	cla.Endpoints = []*endpoint.LocalityLbEndpoints{{LbEndpoints: lbs}}
	return cla
}

// stringMatcher matches a whole value exactly or by an RE2 expression.
func stringMatcher(value string, regex bool) *matcher.StringMatcher {
	if regex {
		return &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_SafeRegex{
			SafeRegex: &matcher.RegexMatcher{Regex: value},
		}}
	}
	return &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: value}}
}

// pathExact, pathPrefix and pathRegex set m's path specifier.
func pathExact(m *route.RouteMatch, p string) {
	m.PathSpecifier = &route.RouteMatch_Path{Path: p}
}

// pathPrefix matches by path elements as Gateway API's PathPrefix does:
// "/foo" matches "/foo", "/foo/" and "/foo/x" but not "/foobar". A trailing
// "/" in p is ignored; "/" (or "") matches everything.
func pathPrefix(m *route.RouteMatch, p string) {
	p = strings.TrimRight(p, "/")
	if p == "" {
		m.PathSpecifier = &route.RouteMatch_Prefix{Prefix: "/"}
		return
	}
	m.PathSpecifier = &route.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: p}
}

func pathRegex(m *route.RouteMatch, re string) {
	m.PathSpecifier = &route.RouteMatch_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: re}}
}

// headerMatcher matches header name (":method" for the method).
func headerMatcher(name, value string, regex bool) *route.HeaderMatcher {
	return &route.HeaderMatcher{
		Name:                 name,
		HeaderMatchSpecifier: &route.HeaderMatcher_StringMatch{StringMatch: stringMatcher(value, regex)},
	}
}

func queryMatcher(name, value string, regex bool) *route.QueryParameterMatcher {
	return &route.QueryParameterMatcher{
		Name:                         name,
		QueryParameterMatchSpecifier: &route.QueryParameterMatcher_StringMatch{StringMatch: stringMatcher(value, regex)},
	}
}

// headerValues turns Gateway API "set" (overwrite) and "add" (append)
// header lists into header value options, set first.
func headerValues(set, add [][2]string) []*core.HeaderValueOption {
	if len(set)+len(add) == 0 {
		return nil
	}
	out := make([]*core.HeaderValueOption, 0, len(set)+len(add))
	for _, h := range set {
		out = append(out, &core.HeaderValueOption{
			Header:       &core.HeaderValue{Key: h[0], Value: h[1]},
			AppendAction: core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		})
	}
	for _, h := range add {
		out = append(out, &core.HeaderValueOption{
			Header:       &core.HeaderValue{Key: h[0], Value: h[1]},
			AppendAction: core.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD,
		})
	}
	return out
}

// weightedCluster is one entry of a weighted_clusters action.
type weightedCluster struct {
	Name                   string
	Weight                 uint32
	RequestHeadersToAdd    []*core.HeaderValueOption
	RequestHeadersToRemove []string
	ResponseHeadersToAdd   []*core.HeaderValueOption
	ResponseHeadersToRemv  []string
}

// weightedClusters builds the cluster specifier. Entries with weight 0 are
// left out; the caller makes sure at least one weight is positive.
func weightedClusters(entries []weightedCluster) *route.RouteAction_WeightedClusters {
	wc := &route.WeightedCluster{}
	for _, e := range entries {
		if e.Weight == 0 {
			continue
		}
		wc.Clusters = append(wc.Clusters, &route.WeightedCluster_ClusterWeight{
			Name:                    e.Name,
			Weight:                  wrapperspb.UInt32(e.Weight),
			RequestHeadersToAdd:     e.RequestHeadersToAdd,
			RequestHeadersToRemove:  e.RequestHeadersToRemove,
			ResponseHeadersToAdd:    e.ResponseHeadersToAdd,
			ResponseHeadersToRemove: e.ResponseHeadersToRemv,
		})
	}
	return &route.RouteAction_WeightedClusters{WeightedClusters: wc}
}

// directResponse answers every matching request with status.
func directResponse(status uint32) *route.Route_DirectResponse {
	return &route.Route_DirectResponse{DirectResponse: &route.DirectResponseAction{Status: status}}
}

// retryOnConnectionErrors is what Gateway API says every retry stanza
// retries on: "connection errors (disconnect, reset, timeout, TCP failure)".
const retryOnConnectionErrors = "connect-failure,refused-stream,reset"

// defaultConnectRetries is how often a route without a retry stanza
// retries a connection that failed before any response. The spec leaves
// retries without a stanza to the implementation; gammaproof, like Istio,
// retries connection failures, and only for requests without side effects
// (GET, HEAD, OPTIONS), so a backend restarting between connections (the
// seed's netcat loop) does not surface as errors.
const defaultConnectRetries = 5

// defaultRetryPolicy retries connection failures and resets of safe
// requests. Every route without a retry stanza shares it: read only.
var defaultRetryPolicy = &route.RetryPolicy{
	RetryOn:    "connect-failure,reset",
	NumRetries: wrapperspb.UInt32(defaultConnectRetries),
	RetriableRequestHeaders: []*route.HeaderMatcher{{
		Name: ":method",
		HeaderMatchSpecifier: &route.HeaderMatcher_StringMatch{StringMatch: &matcher.StringMatcher{
			MatchPattern: &matcher.StringMatcher_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: "GET|HEAD|OPTIONS"}},
		}},
	}},
}

// retryPolicy returns a retry policy with `retries` retries on connection
// errors and the given status codes, each try bounded by perTry (0 = no
// bound) with backoff base interval (0 = Envoy's default 25ms).
func retryPolicy(retries uint32, codes []uint32, perTry, backoff time.Duration) *route.RetryPolicy {
	rp := &route.RetryPolicy{NumRetries: wrapperspb.UInt32(retries)}
	if retries > 0 {
		rp.RetryOn = retryOnConnectionErrors
		if len(codes) > 0 {
			rp.RetryOn += ",retriable-status-codes"
			rp.RetriableStatusCodes = codes
		}
		if backoff > 0 {
			rp.RetryBackOff = &route.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(backoff)}
		}
	}
	if perTry > 0 {
		rp.PerTryTimeout = durationpb.New(perTry)
	}
	return rp
}

// mirrorPolicy mirrors numerator/denominator of the requests to cluster.
func mirrorPolicy(cluster string, numerator, denominator int64) *route.RouteAction_RequestMirrorPolicy {
	mp := &route.RouteAction_RequestMirrorPolicy{Cluster: cluster}
	if denominator > 0 && numerator >= 0 && numerator < denominator {
		mp.RuntimeFraction = &core.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{
			Numerator:   uint32(numerator * 1_000_000 / denominator),
			Denominator: typev3.FractionalPercent_MILLION,
		}}
	}
	return mp
}

// redirectCode maps an HTTP status to Envoy's redirect response code.
func redirectCode(status int) (route.RedirectAction_RedirectResponseCode, error) {
	switch status {
	case 0, 302:
		return route.RedirectAction_FOUND, nil
	case 301:
		return route.RedirectAction_MOVED_PERMANENTLY, nil
	case 303:
		return route.RedirectAction_SEE_OTHER, nil
	case 307:
		return route.RedirectAction_TEMPORARY_REDIRECT, nil
	case 308:
		return route.RedirectAction_PERMANENT_REDIRECT, nil
	}
	return 0, fmt.Errorf("redirect status %d is not one of 301, 302, 303, 307, 308", status)
}

// prefixRewrite sets a Gateway API ReplacePrefixMatch on action: the matched
// path prefix (whole path elements) becomes replacement. Envoy's plain
// prefix_rewrite is exact for that only when the prefix is not "/" and the
// replacement does not end in "/" ("/foo/x" with "/" would become "//x");
// the other cases use a regex that also eats the "/" after the prefix.
func prefixRewrite(a *route.RouteAction, prefix, replacement string) {
	prefix = strings.TrimRight(prefix, "/")
	switch {
	case prefix != "" && !strings.HasSuffix(replacement, "/"):
		a.PrefixRewrite = replacement
	default:
		if !strings.HasSuffix(replacement, "/") {
			replacement += "/"
		}
		a.RegexRewrite = &matcher.RegexMatchAndSubstitute{
			Pattern:      &matcher.RegexMatcher{Regex: "^" + regexp.QuoteMeta(prefix) + "/*"},
			Substitution: replacement,
		}
	}
}

// fullPathRewrite sets a Gateway API ReplaceFullPath on action.
func fullPathRewrite(a *route.RouteAction, path string) {
	a.RegexRewrite = &matcher.RegexMatchAndSubstitute{
		Pattern:      &matcher.RegexMatcher{Regex: "^/.*$"},
		Substitution: path,
	}
}
