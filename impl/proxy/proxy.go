package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/gammaproof/gammaproof/impl/proxy/adsclient"
	"github.com/gammaproof/gammaproof/impl/proxy/config"
	"github.com/gammaproof/gammaproof/impl/proxy/dataplane"
	"github.com/gammaproof/gammaproof/impl/xdscontract"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Options configure a [Proxy].
type Options struct {
	// ADSAddress is the host:port of the controller's xDS server.
	ADSAddress string
	// NodeID identifies this proxy to the xDS server.
	NodeID string
	// ListenHost is where listeners bind, e.g. "0.0.0.0". Optional: by
	// default each Listener's own address.
	ListenHost string
	// Logger is Optional.
	Logger *slog.Logger
	// Registerer receives the proxy's metrics. Optional.
	Registerer prometheus.Registerer
	// OnListeners is called after each accepted LDS update with all active
	// listeners, sorted by name. Optional. It must not block for long.
	OnListeners func([]ListenerInfo)
}

// ListenerInfo describes an active listener and its steering metadata.
type ListenerInfo struct {
	Name string
	// Port is the bound port.
	Port            uint32
	VIPs            []netip.Addr
	ServicePort     uint32
	CallerNamespace string
	Service         string
}

// Proxy is the node proxy. Create it with [New] and start it with
// [Proxy.Run] (once). [Proxy.Listeners] is safe for concurrent use.
type Proxy struct {
	opts Options
	log  *slog.Logger
	dp   *dataplane.Server
	ads  *adsclient.Client

	// mu serializes Apply and guards reported.
	mu sync.Mutex
	// reported is what OnListeners last got.
	reported []ListenerInfo
}

var _ adsclient.Handler = (*handler)(nil)

// New validates opts and returns a Proxy that serves nothing until its first
// LDS update.
func New(opts Options) (*Proxy, error) {
	if opts.ADSAddress == "" {
		return nil, errors.New("create proxy: ADSAddress is empty; pass the controller's xDS host:port")
	}
	if opts.NodeID == "" {
		return nil, errors.New("create proxy: NodeID is empty; pass the node name")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	dp, err := dataplane.New(dataplane.Options{ListenHost: opts.ListenHost, Logger: opts.Logger, Registerer: opts.Registerer})
	if err != nil {
		return nil, fmt.Errorf("create proxy: %w", err)
	}
	p := &Proxy{opts: opts, log: opts.Logger, dp: dp}
	ads, err := adsclient.New(adsclient.Options{
		Address: opts.ADSAddress, NodeID: opts.NodeID, Handler: &handler{p: p},
		Logger: opts.Logger, Registerer: opts.Registerer,
	})
	if err != nil {
		return nil, fmt.Errorf("create proxy: %w", err)
	}
	p.ads = ads
	return p, nil
}

// Run serves until ctx is done, then drains the listeners (up to 10s).
// While the xDS server is unreachable it keeps serving the last good
// config and reconnects with backoff.
func (p *Proxy) Run(ctx context.Context) error {
	err := p.ads.Run(ctx)
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(err, p.dp.Close(dctx))
}

// Listeners returns the active listeners sorted by name. A listener is
// active once it is bound and its route configuration has arrived (Envoy's
// listener warming), so traffic steered to it is routed.
func (p *Proxy) Listeners() []ListenerInfo {
	var out []ListenerInfo
	for _, a := range p.dp.Listeners() {
		if !a.Ready {
			continue
		}
		out = append(out, ListenerInfo{
			Name: a.Config.Name, Port: a.Port,
			VIPs:            slices.Clone(a.Config.Steering.VIPs),
			ServicePort:     a.Config.Steering.ServicePort,
			CallerNamespace: a.Config.Steering.CallerNamespace,
			Service:         a.Config.Steering.Service,
		})
	}
	return out
}

type handler struct{ p *Proxy }

func (h *handler) Names(typeURL string) []string {
	switch typeURL {
	case resourcev3.EndpointType:
		return h.p.dp.EDSNames()
	case resourcev3.RouteType:
		return h.p.dp.RouteNames()
	}
	return nil
}

// decodeAll decodes resources, each a typeURL message, with parse, and
// checks that no two have the same name.
func decodeAll[T any, PT interface {
	*T
	proto.Message
}, R any](resources []*anypb.Any, typeURL string, parse func(PT) (R, error), name func(R) string) ([]R, error) {
	out := make([]R, 0, len(resources))
	seen := make(map[string]bool, len(resources))
	for i, a := range resources {
		if a.GetTypeUrl() != typeURL {
			return nil, fmt.Errorf("resource %d: type %q in a %q response", i, a.GetTypeUrl(), typeURL)
		}
		m := PT(new(T))
		if err := a.UnmarshalTo(m); err != nil {
			return nil, fmt.Errorf("decode resource %d: %w", i, err)
		}
		r, err := parse(m)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	for _, r := range out {
		n := name(r)
		if seen[n] {
			return nil, fmt.Errorf("duplicate resource name %q", n)
		}
		seen[n] = true
	}
	return out, nil
}

func (h *handler) Apply(typeURL, version string, resources []*anypb.Any) error {
	p := h.p
	p.mu.Lock()
	defer p.mu.Unlock()
	switch typeURL {
	case resourcev3.ClusterType:
		cs, err := decodeAll(resources, typeURL, config.ParseCluster, func(c *config.Cluster) string { return c.Name })
		if err != nil {
			return err
		}
		p.dp.SetClusters(cs)
	case resourcev3.EndpointType:
		es, err := decodeAll(resources, typeURL, config.ParseEndpoints, func(e *config.Endpoints) string { return e.Cluster })
		if err != nil {
			return err
		}
		p.dp.SetEndpoints(es)
	case resourcev3.RouteType:
		rs, err := decodeAll(resources, typeURL, config.ParseRouteConfiguration, func(r *config.RouteTable) string { return r.Name })
		if err != nil {
			return err
		}
		p.dp.SetRoutes(rs)
		p.report(false)
	case resourcev3.ListenerType:
		ls, err := decodeAll(resources, typeURL, config.ParseListener, func(l *config.Listener) string { return l.Name })
		if err != nil {
			return err
		}
		if err := p.dp.SetListeners(ls); err != nil {
			return err
		}
		p.report(true)
	default:
		return fmt.Errorf("resource type %q: %w", typeURL, xdscontract.ErrUnsupported)
	}
	p.log.Info("applied xds update", "type", typeURL, "version", version, "resources", len(resources))
	return nil
}

// report calls OnListeners after an LDS update (always) or an RDS update
// (when the active set changed). Callers hold p.mu.
func (p *Proxy) report(always bool) {
	if p.opts.OnListeners == nil {
		return
	}
	cur := p.Listeners()
	if !always && slices.EqualFunc(cur, p.reported, func(a, b ListenerInfo) bool {
		return a.Name == b.Name && a.Port == b.Port && slices.Equal(a.VIPs, b.VIPs) && a.ServicePort == b.ServicePort &&
			a.CallerNamespace == b.CallerNamespace && a.Service == b.Service
	}) {
		return
	}
	p.reported = cur
	p.opts.OnListeners(cur)
}
