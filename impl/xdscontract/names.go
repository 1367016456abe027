package xdscontract

import (
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
)

// Names and keys both sides agree on.
const (
	// SteeringMetadataKey is the Listener.metadata.filter_metadata key of
	// the [Steering] the node agent reads to steer a Service port to the
	// listener.
	SteeringMetadataKey = "gammaproof.io/steering"

	// HTTPProtocolOptionsKey is the Cluster.typed_extension_protocol_options
	// key that says which HTTP version the proxy speaks to the endpoints.
	HTTPProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

	// HTTPConnectionManagerName is the one network filter of a listener.
	HTTPConnectionManagerName = wellknown.HTTPConnectionManager

	// RouterName is the one HTTP filter of a listener.
	RouterName = wellknown.Router
)

// Envoy's defaults for fields left unset, which the decoders apply.
const (
	// DefaultRouteTimeout is the route timeout when RouteAction.timeout is
	// unset.
	DefaultRouteTimeout = 15 * time.Second

	// DefaultConnectTimeout is the cluster connect timeout when
	// Cluster.connect_timeout is unset.
	DefaultConnectTimeout = 5 * time.Second

	// DefaultNumRetries is RetryPolicy.num_retries when unset.
	DefaultNumRetries = 1

	// DefaultBackoffBase is RetryPolicy.retry_back_off.base_interval when
	// unset; the maximum interval defaults to 10 times the base.
	DefaultBackoffBase = 25 * time.Millisecond
)
