package adsclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/types/known/anypb"
)

// Handler validates and applies the resources of one response.
type Handler interface {
	// Apply applies a complete State-of-the-World set of resources of
	// typeURL. A non-nil error NACKs the response; the handler must then
	// keep its previous state for that type.
	Apply(typeURL, version string, resources []*anypb.Any) error
	// Names returns the resource names to subscribe to for typeURL
	// (EDS and RDS); nil means wildcard.
	Names(typeURL string) []string
}

// Options configure a [Client].
type Options struct {
	// Address is the ADS server's host:port.
	Address string
	NodeID  string
	Handler Handler
	// Logger is Optional.
	Logger *slog.Logger
	// Registerer is Optional; the xDS metrics are registered on it.
	Registerer prometheus.Registerer
	// MinBackoff and MaxBackoff bound the reconnect delay. Optional
	// (default 100ms and 5s).
	MinBackoff, MaxBackoff time.Duration
}

// Subscription order: clusters before endpoints, listeners before routes,
// as Envoy does.
var typeOrder = []string{resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.ListenerType, resourcev3.RouteType}

// dependent maps a type to the type whose names it determines.
var dependent = map[string]string{resourcev3.ClusterType: resourcev3.EndpointType, resourcev3.ListenerType: resourcev3.RouteType}

// Client is an ADS client. It is not safe for concurrent use; call Run once.
type Client struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics

	// applied is, per type, the version last applied: the version label
	// of the config-info gauge, kept across streams so that a new one
	// replaces it.
	applied map[string]string
}

type metrics struct {
	version   *prometheus.GaugeVec
	nacks     *prometheus.CounterVec
	acks      *prometheus.CounterVec
	connected prometheus.Gauge
}

// New returns a Client. It fails when an option is missing or the metrics
// cannot be registered.
func New(opts Options) (*Client, error) {
	if opts.Address == "" || opts.NodeID == "" || opts.Handler == nil {
		return nil, errors.New("create ads client: Address, NodeID and Handler are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(5*time.Second, opts.MinBackoff)
	}
	m := &metrics{
		version: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gammaproof_proxy_xds_config_info",
			Help: "The xDS version applied per resource type (value is always 1).",
		}, []string{"type", "version"}),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gammaproof_proxy_xds_nacks_total",
			Help: "xDS responses rejected per resource type.",
		}, []string{"type"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gammaproof_proxy_xds_acks_total",
			Help: "xDS responses accepted per resource type.",
		}, []string{"type"}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gammaproof_proxy_xds_connected",
			Help: "1 while the ADS stream is up.",
		}),
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{m.version, m.nacks, m.acks, m.connected} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register xds metrics: %w", err)
			}
		}
	}
	return &Client{opts: opts, log: opts.Logger, metrics: m, applied: map[string]string{}}, nil
}

// Run keeps an ADS stream open until ctx is done, reconnecting with
// exponential backoff. It returns nil when ctx is cancelled.
func (c *Client) Run(ctx context.Context) error {
	conn, err := grpc.NewClient(c.opts.Address,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMsgSize)),
		// gRPC's own reconnect backoff grows to 120 s and a connection
		// attempt may hang for 20 s on a dead controller's address; a
		// restarted controller is then found seconds late. Bound both by
		// the client's backoff, and notice a silent controller by
		// keepalive.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           grpcbackoff.Config{BaseDelay: c.opts.MinBackoff, Multiplier: 1.6, Jitter: 0.2, MaxDelay: c.opts.MaxBackoff},
			MinConnectTimeout: connectTimeout,
		}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: keepaliveTime, Timeout: keepaliveTimeout, PermitWithoutStream: true}))
	if err != nil {
		return fmt.Errorf("create grpc client for %s: %w", c.opts.Address, err)
	}
	defer conn.Close()
	backoff := c.opts.MinBackoff
	for {
		progressed, err := c.stream(ctx, discoveryv3.NewAggregatedDiscoveryServiceClient(conn))
		c.metrics.connected.Set(0)
		if ctx.Err() != nil {
			return nil
		}
		if progressed {
			backoff = c.opts.MinBackoff
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		c.log.Warn("ads stream ended; serving the last good config", "address", c.opts.Address, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, c.opts.MaxBackoff)
	}
}

type typeState struct {
	nonce string
	// version is the last version accepted on this stream; a new stream
	// starts without one, so that a restarted server (whose versions may
	// repeat) always sends its state.
	version string
	// nacked is the last version rejected on this stream.
	nacked     string
	names      []string
	subscribed bool
}

// stream runs one ADS stream. progressed reports whether any response was
// received.
func (c *Client) stream(ctx context.Context, ads discoveryv3.AggregatedDiscoveryServiceClient) (progressed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := ads.StreamAggregatedResources(ctx)
	if err != nil {
		return false, fmt.Errorf("open ads stream: %w", err)
	}
	s := c.newADSStream(st)
	for _, t := range typeOrder {
		if err := s.subscribe(t); err != nil {
			return false, err
		}
	}
	c.metrics.connected.Set(1)
	c.log.Info("ads stream open", "address", c.opts.Address, "node", c.opts.NodeID)
	for {
		resp, err := st.Recv()
		if err != nil {
			return progressed, fmt.Errorf("receive ads response: %w", err)
		}
		progressed = true
		if err := s.handle(resp); err != nil {
			return progressed, err
		}
	}
}

// adsStream is the state of one ADS stream: per type, the last nonce, the
// subscribed names and the versions last accepted and rejected.
type adsStream struct {
	c      *Client
	st     discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node   *corev3.Node
	states map[string]*typeState
}

// newADSStream starts the state of stream st afresh.
func (c *Client) newADSStream(st discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient) *adsStream {
	s := &adsStream{
		c:      c,
		st:     st,
		node:   &corev3.Node{Id: c.opts.NodeID, UserAgentName: "gammaproof-proxy"},
		states: map[string]*typeState{},
	}
	for _, t := range typeOrder {
		s.states[t] = &typeState{}
	}
	return s
}

// send sends the request for typeURL at version; a non-nil errDetail makes
// it a NACK.
func (s *adsStream) send(typeURL, version string, errDetail error) error {
	ts := s.states[typeURL]
	req := &discoveryv3.DiscoveryRequest{
		Node:          s.node,
		TypeUrl:       typeURL,
		VersionInfo:   version,
		ResponseNonce: ts.nonce,
		ResourceNames: ts.names,
	}
	if errDetail != nil {
		req.ErrorDetail = &statuspb.Status{Code: int32(codes.InvalidArgument), Message: errDetail.Error()}
	}
	if err := s.st.Send(req); err != nil {
		return fmt.Errorf("send %s request: %w", typeURL, err)
	}
	return nil
}

// subscribe (re)subscribes typeURL when its names changed. Dependent
// types with no names are not subscribed (empty would mean wildcard).
func (s *adsStream) subscribe(typeURL string) error {
	ts := s.states[typeURL]
	names := s.c.opts.Handler.Names(typeURL)
	wildcard := typeURL == resourcev3.ClusterType || typeURL == resourcev3.ListenerType
	if !wildcard && len(names) == 0 {
		return nil
	}
	if ts.subscribed && slices.Equal(ts.names, names) {
		return nil
	}
	ts.names, ts.subscribed = names, true
	return s.send(typeURL, ts.version, nil)
}

// handle applies one response and ACKs or NACKs it.
func (s *adsStream) handle(resp *discoveryv3.DiscoveryResponse) error {
	t := resp.GetTypeUrl()
	ts, ok := s.states[t]
	if !ok {
		s.c.log.Warn("ads response of an unrequested type", "type", t)
		return nil
	}
	ts.nonce = resp.GetNonce()
	if aerr := s.c.opts.Handler.Apply(t, resp.GetVersionInfo(), resp.GetResources()); aerr != nil {
		return s.nack(ts, resp, aerr)
	}
	return s.ack(ts, resp)
}

// nack rejects resp, which the handler failed to apply with aerr.
func (s *adsStream) nack(ts *typeState, resp *discoveryv3.DiscoveryResponse, aerr error) error {
	c, t := s.c, resp.GetTypeUrl()
	// A NACK carries the last accepted version. go-control-plane's
	// SnapshotCache answers that at once with the same rejected
	// snapshot; when it does, NACK again with the rejected version
	// so that the server waits for a new one instead of looping.
	version := ts.version
	if resp.GetVersionInfo() == ts.nacked {
		version = ts.nacked
	} else {
		ts.nacked = resp.GetVersionInfo()
		c.metrics.nacks.WithLabelValues(short(t)).Inc()
		c.log.Error("nack xds response; keeping the previous config", "type", short(t), "version", resp.GetVersionInfo(), "err", aerr)
	}
	return s.send(t, version, aerr)
}

// ack records resp's version as accepted, ACKs it and subscribes the
// type whose names it determines.
func (s *adsStream) ack(ts *typeState, resp *discoveryv3.DiscoveryResponse) error {
	c, t := s.c, resp.GetTypeUrl()
	ts.nacked, ts.version = "", resp.GetVersionInfo()
	if old, ok := c.applied[t]; ok {
		c.metrics.version.DeleteLabelValues(short(t), old)
	}
	c.applied[t] = ts.version
	c.metrics.version.WithLabelValues(short(t), ts.version).Set(1)
	c.metrics.acks.WithLabelValues(short(t)).Inc()
	c.log.Debug("ack xds response", "type", short(t), "version", resp.GetVersionInfo(), "resources", len(resp.GetResources()))
	if err := s.send(t, ts.version, nil); err != nil {
		return err
	}
	if d, ok := dependent[t]; ok {
		return s.subscribe(d)
	}
	return nil
}

func short(typeURL string) string {
	switch typeURL {
	case resourcev3.ClusterType:
		return "cds"
	case resourcev3.EndpointType:
		return "eds"
	case resourcev3.ListenerType:
		return "lds"
	case resourcev3.RouteType:
		return "rds"
	}
	return typeURL
}

// maxRecvMsgSize bounds one xDS response. A mesh of 10k Services makes an
// LDS response of about 5 MB, over grpc-go's default limit of 4 MiB.
const maxRecvMsgSize = 64 << 20

const (
	// connectTimeout bounds one connection attempt to the controller.
	connectTimeout = 2 * time.Second
	// keepaliveTime and keepaliveTimeout: a controller that does not answer
	// a ping sent after keepaliveTime of silence within keepaliveTimeout is
	// given up. The controller accepts pings every 5 s or slower.
	keepaliveTime    = 15 * time.Second
	keepaliveTimeout = 5 * time.Second
)
