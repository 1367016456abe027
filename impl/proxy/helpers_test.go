package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gammaproof/gammaproof/internal/background"
)

const testNode = "gpt-node"

// adsServer is a real go-control-plane ADS server on loopback.
type adsServer struct {
	cache   cachev3.SnapshotCache
	addr    string
	grpc    *grpc.Server
	version atomic.Int64

	mu    sync.Mutex
	nacks []nack
}

func (s *adsServer) nacksSeen() []nack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]nack(nil), s.nacks...)
}

func startADS(t testing.TB) *adsServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for ads: %v", err)
	}
	return serveADS(t, ln, cachev3.NewSnapshotCache(true, cachev3.IDHash{}, nil))
}

// nack is a NACK the ADS server received.
type nack struct {
	typeURL, version, nonce, message string
}

func serveADS(t testing.TB, ln net.Listener, c cachev3.SnapshotCache) *adsServer {
	t.Helper()
	s := &adsServer{cache: c, addr: ln.Addr().String(), grpc: grpc.NewServer()}
	cb := serverv3.CallbackFuncs{StreamRequestFunc: func(_ int64, req *discoveryv3.DiscoveryRequest) error {
		if req.GetErrorDetail() != nil {
			s.mu.Lock()
			s.nacks = append(s.nacks, nack{req.GetTypeUrl(), req.GetVersionInfo(), req.GetResponseNonce(), req.GetErrorDetail().GetMessage()})
			s.mu.Unlock()
		}
		return nil
	}}
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(s.grpc, serverv3.NewServer(context.Background(), c, cb))
	go s.grpc.Serve(ln)
	t.Cleanup(s.grpc.Stop)
	return s
}

// set publishes a snapshot with a fresh version.
func (s *adsServer) set(t testing.TB, res ...types.Resource) string {
	t.Helper()
	m := map[resourcev3.Type][]types.Resource{}
	for _, r := range res {
		var typ resourcev3.Type
		switch r.(type) {
		case *listenerv3.Listener:
			typ = resourcev3.ListenerType
		case *routev3.RouteConfiguration:
			typ = resourcev3.RouteType
		case *clusterv3.Cluster:
			typ = resourcev3.ClusterType
		case *endpointv3.ClusterLoadAssignment:
			typ = resourcev3.EndpointType
		default:
			t.Fatalf("unexpected resource %T", r)
		}
		m[typ] = append(m[typ], r)
	}
	v := strconv.FormatInt(s.version.Add(1), 10)
	snap, err := cachev3.NewSnapshot(v, m)
	if err != nil {
		t.Fatalf("new snapshot: %v", err)
	}
	if err := snap.Consistent(); err != nil {
		t.Fatalf("snapshot not consistent: %v", err)
	}
	if err := s.cache.SetSnapshot(context.Background(), testNode, snap); err != nil {
		t.Fatalf("set snapshot: %v", err)
	}
	return v
}

type testProxy struct {
	*Proxy
	reg *prometheus.Registry
}

func startProxy(t testing.TB, adsAddr string) *testProxy {
	t.Helper()
	return startProxyWith(t, adsAddr, nil)
}

func startProxyWith(t testing.TB, adsAddr string, onListeners func([]ListenerInfo)) *testProxy {
	t.Helper()
	reg := prometheus.NewRegistry()
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelInfo
	}
	p, err := New(Options{
		ADSAddress: adsAddr, NodeID: testNode, ListenHost: "127.0.0.1", Registerer: reg, OnListeners: onListeners,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		t.Fatalf("new proxy: %v", err)
	}
	background.Run(t, "proxy run", p.Run)
	return &testProxy{Proxy: p, reg: reg}
}

// metric returns the sum of a metric's samples whose labels include want.
func (p *testProxy) metric(t testing.TB, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := p.reg.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// url returns the base URL of the named listener, waiting for it.
func (p *testProxy) url(t testing.TB, name string) string {
	t.Helper()
	var port uint32
	eventually(t, fmt.Sprintf("listener %q is up", name), func() bool {
		for _, l := range p.Listeners() {
			if l.Name == name {
				port = l.Port
				return true
			}
		}
		return false
	})
	return "http://127.0.0.1:" + strconv.FormatUint(uint64(port), 10)
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// echo is what the echo upstream returns.
type echo struct {
	Backend string      `json:"backend"`
	Method  string      `json:"method"`
	Host    string      `json:"host"`
	Path    string      `json:"path"`
	Query   string      `json:"query"`
	Header  http.Header `json:"header"`
}

// startEcho starts an HTTP/1.1 upstream that reports its name and the
// request it saw.
func startEcho(t testing.TB, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(echoHandler(name))
	t.Cleanup(srv.Close)
	return srv
}

func echoHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Backend", name)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(echo{Backend: name, Method: r.Method, Host: r.Host, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header})
	})
}

func hostPort(t testing.TB, rawURL string) string {
	t.Helper()
	h := rawURL[len("http://"):]
	return h
}

// get sends a request and returns status, response and decoded echo (if any).
func do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, echo) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body of %s: %v", req.URL, err)
	}
	var e echo
	if resp.Header.Get("Content-Type") == "application/json" {
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("decode echo %q: %v", body, err)
		}
	}
	return resp, e
}

func get(t testing.TB, url string) (*http.Response, echo) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	return do(t, http.DefaultClient, req)
}

// --- resource builders -----------------------------------------------------

func mustAny(t testing.TB, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatalf("pack %T: %v", m, err)
	}
	return a
}

func adsSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
		ResourceApiVersion:    corev3.ApiVersion_V3,
	}
}

// listener builds a listener on 0.0.0.0:0 (ephemeral) using RDS name.
func listener(t testing.TB, name string, vips ...string) *listenerv3.Listener {
	t.Helper()
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: name,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource: adsSource(), RouteConfigName: name,
		}},
		HttpFilters: []*hcmv3.HttpFilter{{
			Name:       "envoy.filters.http.router",
			ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(t, &routerv3.Router{})},
		}},
	}
	var vipVals []any
	for _, v := range vips {
		vipVals = append(vipVals, v)
	}
	md, err := structpb.NewStruct(map[string]any{"vips": vipVals, "servicePort": 8080, "callerNamespace": "", "service": "ns/" + name})
	if err != nil {
		t.Fatalf("build metadata: %v", err)
	}
	return &listenerv3.Listener{
		Name: name,
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 0},
		}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name:       "envoy.filters.network.http_connection_manager",
			ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(t, hcm)},
		}}}},
		Metadata: &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"gammaproof.io/steering": md}},
	}
}

func routeConfig(name string, routes ...*routev3.Route) *routev3.RouteConfiguration {
	return &routev3.RouteConfiguration{Name: name, VirtualHosts: []*routev3.VirtualHost{{
		Name: name, Domains: []string{"*"}, Routes: routes,
	}}}
}

func cluster(t testing.TB, name string, h2 bool) *clusterv3.Cluster {
	t.Helper()
	po := &upstreamhttpv3.HttpProtocolOptions{UpstreamProtocolOptions: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_{
		ExplicitHttpConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{HttpProtocolOptions: &corev3.Http1ProtocolOptions{}},
		},
	}}
	if h2 {
		po.GetExplicitHttpConfig().ProtocolConfig = &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &corev3.Http2ProtocolOptions{}}
	}
	return &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsSource()},
		ConnectTimeout:       durationpb.New(time.Second),
		TypedExtensionProtocolOptions: map[string]*anypb.Any{
			"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": mustAny(t, po),
		},
	}
}

// cla builds endpoints from "host:port" strings.
func cla(t testing.TB, name string, addrs ...string) *endpointv3.ClusterLoadAssignment {
	t.Helper()
	var lbs []*endpointv3.LbEndpoint
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatalf("split %q: %v", a, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			t.Fatalf("port %q: %v", port, err)
		}
		lbs = append(lbs, &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(p)},
			}}},
		}}})
	}
	return &endpointv3.ClusterLoadAssignment{ClusterName: name, Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: lbs}}}
}

func prefix(p string) *routev3.RouteMatch {
	return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: p}}
}

func toCluster(name string) *routev3.Route_Route {
	return &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: name}}}
}

type wc struct {
	name   string
	weight uint32
}

func weighted(ws ...wc) *routev3.RouteAction {
	var cs []*routev3.WeightedCluster_ClusterWeight
	for _, w := range ws {
		cs = append(cs, &routev3.WeightedCluster_ClusterWeight{Name: w.name, Weight: wrapperspb.UInt32(w.weight)})
	}
	return &routev3.RouteAction{
		ClusterSpecifier:            &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{Clusters: cs}},
		ClusterNotFoundResponseCode: routev3.RouteAction_INTERNAL_SERVER_ERROR,
	}
}

func hdr(key, value string, action corev3.HeaderValueOption_HeaderAppendAction) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: key, Value: value}, AppendAction: action}
}

type typesResource = types.Resource

func newCache() cachev3.SnapshotCache { return cachev3.NewSnapshotCache(true, cachev3.IDHash{}, nil) }
