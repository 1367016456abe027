package xds

import (
	"fmt"
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
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gammaproof/gammaproof/impl/xdscontract"
)

// The builders in this file are pure: they take plain values and return
// protos. [Translate] assembles them into a snapshot.

const (
	// connectTimeout bounds connection setup to one endpoint (contract: 1s).
	connectTimeout = time.Second

	// listenHost is the address every listener binds.
	listenHost = "0.0.0.0"
)

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
func makeListener(name string, port uint32, s xdscontract.Steering) (*listener.Listener, error) {
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
	managerAny, err := packValidated(manager, "http connection manager")
	if err != nil {
		return nil, err
	}
	md, err := xdscontract.EncodeSteeringMetadata(s)
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
		Metadata: md,
	}, nil
}

// routerFilter is the router filter config every listener shares (read
// only), packed once.
var routerFilter = sync.OnceValues(func() (*anypb.Any, error) {
	return packValidated(&router.Router{}, "router filter")
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
			xdscontract.HTTPProtocolOptionsKey: optsAny,
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
	return packValidated(&upstreamhttp.HttpProtocolOptions{
		UpstreamProtocolOptions: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: c},
	}, "http protocol options")
}

// packValidated validates m, which is about to go into an Any (where the
// ValidateAll of the message around it stops), and packs it. what names m
// in errors.
func packValidated(m interface {
	proto.Message
	validator
}, what string) (*anypb.Any, error) {
	if err := m.ValidateAll(); err != nil {
		return nil, fmt.Errorf("validate %s: %w", what, err)
	}
	a, err := anypb.New(m)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", what, err)
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
