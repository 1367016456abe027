package xds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	gcplog "github.com/envoyproxy/go-control-plane/pkg/log"
	"github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"

	"github.com/gammaproof/gammaproof/impl/model"
)

const (
	// keepaliveTime: ping a proxy whose ADS stream has been idle this long.
	// ADS streams are idle between config changes for hours; the pings find
	// proxies that vanished without a FIN (node rebooted, network cut) so
	// their watches are freed.
	keepaliveTime = 30 * time.Second
	// keepaliveTimeout: drop the connection when a ping is not answered in
	// this long.
	keepaliveTimeout = 5 * time.Second
	// keepaliveMinTime: the most often a proxy may ping us. Lower than any
	// sane client keepalive (Envoy's and grpc-go's are ≥ 10s), so clients that
	// ping to detect a dead controller are never sent GOAWAY "too_many_pings".
	keepaliveMinTime = 5 * time.Second
	// maxConcurrentStreams per connection: a node proxy needs one ADS stream
	// (Envoy without ADS at most one per type); the cap only bounds a
	// misbehaving client.
	maxConcurrentStreams = 100
	// stopGrace is how long Serve waits for in-flight responses on shutdown
	// before closing the long-lived ADS streams.
	stopGrace = time.Second

	// meshNode is the one key of the snapshot cache: every node proxy gets
	// the same mesh-wide snapshot.
	meshNode = "mesh"
)

// ServerOptions configures a [Server].
type ServerOptions struct {
	// Logger receives update, NACK and go-control-plane logs. Optional:
	// slog.Default() when nil.
	Logger *slog.Logger
}

// Server serves the mesh's xDS resources over ADS (state of the world) to
// node proxies. All methods are safe for concurrent use.
type Server struct {
	logger *slog.Logger
	cache  cache.SnapshotCache

	mu      sync.Mutex // serializes Update; guards version.
	version string
}

// NewServer returns a server with no snapshot: proxies that connect before
// the first [Server.Update] wait (and keep their last good config).
func NewServer(opts ServerOptions) *Server {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "xds")
	return &Server{
		logger: logger,
		cache:  cache.NewSnapshotCache(true, meshHash{}, slogAdapter{logger}),
	}
}

// meshHash maps every node to the one mesh-wide snapshot.
type meshHash struct{}

func (meshHash) ID(*core.Node) string { return meshNode }

// Serve serves ADS on lis until ctx is done, then stops (closing open
// streams after a short grace period) and returns nil. It returns the
// listener's error otherwise. Serve closes lis.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	gs := grpc.NewServer(
		grpc.MaxConcurrentStreams(maxConcurrentStreams),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: keepaliveTime, Timeout: keepaliveTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepaliveMinTime, PermitWithoutStream: true}),
	)
	xs := server.NewServer(ctx, nackHold{s.cache}, s.callbacks())
	discovery.RegisterAggregatedDiscoveryServiceServer(gs, xs)

	serveDone := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
		case <-serveDone:
			return
		}
		// ADS streams never end on their own: GracefulStop would wait
		// forever, so Stop closes them after the grace period.
		t := time.AfterFunc(stopGrace, gs.Stop)
		gs.GracefulStop()
		t.Stop()
	}()
	s.logger.Info("serving ADS", "address", lis.Addr().String())
	err := gs.Serve(lis)
	close(serveDone)
	<-stopped
	if ctx.Err() != nil {
		return nil
	}
	gs.Stop()
	if err == nil {
		err = errors.New("server stopped")
	}
	return fmt.Errorf("serve ADS on %s: %w", lis.Addr(), err)
}

// Update translates m and, when the result differs from what is being
// served, makes it the snapshot every proxy gets. It returns an error (and
// keeps serving the previous snapshot) when m cannot be translated. Parts of
// m that cannot be expressed are logged as warnings (see [Translate]).
func (s *Server) Update(ctx context.Context, m *model.Mesh) error {
	// Translating under the lock keeps a slow Update of an older mesh from
	// overwriting a newer one.
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, err := Translate(m)
	if err != nil {
		return fmt.Errorf("update xds snapshot: %w", err)
	}
	if snap.Version == s.version {
		return nil
	}
	if err := snap.Resources.Consistent(); err != nil {
		return fmt.Errorf("update xds snapshot: snapshot inconsistent: %w", err)
	}
	if err := s.cache.SetSnapshot(ctx, meshNode, snap.Resources); err != nil {
		return fmt.Errorf("update xds snapshot: %w", err)
	}
	for _, w := range snap.Warnings {
		s.logger.Warn("mesh route not expressible", "version", snap.Version, "detail", w)
	}
	s.logger.Info("xds snapshot updated", "version", snap.Version, "previous", s.version,
		"listeners", len(snap.Resources.Resources[types.Listener].Items),
		"clusters", len(snap.Resources.Resources[types.Cluster].Items))
	s.version = snap.Version
	return nil
}

// Version returns the version of the snapshot being served ("" before the
// first successful [Server.Update]).
func (s *Server) Version() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// callbacks log NACKs: a proxy that rejects a config keeps its previous one.
func (s *Server) callbacks() server.Callbacks {
	return server.CallbackFuncs{
		StreamRequestFunc: func(id int64, req *discovery.DiscoveryRequest) error {
			if d := req.GetErrorDetail(); d != nil {
				s.logger.Warn("proxy rejected xds update", "stream", id, "node", req.GetNode().GetId(),
					"type", req.GetTypeUrl(), "nonce", req.GetResponseNonce(), "reason", d.GetMessage())
			}
			return nil
		},
	}
}

// nackHold keeps a NACKed config from being resent at once. A NACK carries
// the last version the proxy accepted; go-control-plane's cache answers any
// request whose version differs from the snapshot's, so the proxy would get
// the rejected config back immediately and NACK it again, in a loop. For a
// NACK we ask the cache to wait for the next snapshot instead, as if the
// proxy had ACKed: it keeps serving its previous config (contract).
type nackHold struct {
	cache.SnapshotCache
}

func (c nackHold) CreateWatch(req *cache.Request, sub cache.Subscription, ch chan cache.Response) (func(), error) {
	if req.GetErrorDetail() != nil {
		if snap, err := c.GetSnapshot(meshNode); err == nil {
			held := proto.Clone(req).(*discovery.DiscoveryRequest)
			held.VersionInfo = snap.GetVersion(req.GetTypeUrl())
			req = held
		}
	}
	return c.SnapshotCache.CreateWatch(req, sub, ch)
}

// slogAdapter routes go-control-plane's logs to slog.
type slogAdapter struct{ l *slog.Logger }

var _ gcplog.Logger = slogAdapter{}

func (a slogAdapter) Debugf(format string, args ...any) { a.l.Debug(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Infof(format string, args ...any)  { a.l.Debug(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Warnf(format string, args ...any)  { a.l.Warn(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Errorf(format string, args ...any) { a.l.Error(fmt.Sprintf(format, args...)) }
