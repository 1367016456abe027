package dataplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gammaproof/gammaproof/impl/proxy/config"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a [Server].
type Options struct {
	// ListenHost overrides the listeners' configured addresses. Optional.
	ListenHost string
	// Logger is Optional.
	Logger *slog.Logger
	// Registerer is Optional; request metrics are registered on it.
	Registerer prometheus.Registerer
	// DrainTimeout bounds how long a removed listener finishes in-flight
	// requests. Optional (default 30s).
	DrainTimeout time.Duration
	// WarmTimeout bounds how long a request waits for the first endpoints
	// of a cluster that was just added, or for its listener's route
	// configuration (then it gets 503). Optional (default 2s).
	WarmTimeout time.Duration
}

// Server owns the listeners and the upstream pools. Its methods are safe for
// concurrent use.
type Server struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics

	// snap is what request handling reads, replaced whole on updates.
	snap atomic.Pointer[snapshot]

	mu        sync.Mutex
	listeners map[string]*listener
	clusters  map[string]*config.Cluster
	endpoints map[string][]string
	routes    map[string]*config.RouteTable
	upstreams map[string]*upstream
	closed    bool
	// closing is closed when Close starts: requests waiting for their
	// route table or their cluster's endpoints stop waiting.
	closing chan struct{}
	drain   sync.WaitGroup
}

type snapshot struct {
	routes    map[string]*config.RouteTable
	upstreams map[string]*upstream
	// replaced is closed once a newer snapshot is published (or the
	// listeners' configuration changed).
	replaced chan struct{}
}

type listener struct {
	cfg  atomic.Pointer[config.Listener]
	ln   net.Listener // guarded by Server.mu
	srv  *http.Server
	port uint32
	// released is set when the socket was closed for another listener.
	released atomic.Bool
	metrics  *listenerMetrics
}

// Active describes a serving listener.
type Active struct {
	Config *config.Listener
	// Port is the bound port (differs from Config.Port when that is 0).
	Port uint32
	// Ready reports whether the listener's route configuration has
	// arrived; until then it answers 503.
	Ready bool
}

// New returns a Server with no listeners. It fails when the metrics cannot
// be registered.
func New(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 30 * time.Second
	}
	if opts.WarmTimeout <= 0 {
		opts.WarmTimeout = 2 * time.Second
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts: opts, log: opts.Logger, metrics: m,
		listeners: map[string]*listener{},
		clusters:  map[string]*config.Cluster{},
		endpoints: map[string][]string{},
		routes:    map[string]*config.RouteTable{},
		upstreams: map[string]*upstream{},
		closing:   make(chan struct{}),
	}
	s.publish()
	return s, nil
}

// publish rebuilds the request-time snapshot and wakes the requests
// waiting for the one it replaces. Callers hold s.mu.
func (s *Server) publish() {
	ups := make(map[string]*upstream, len(s.upstreams))
	for k, v := range s.upstreams {
		ups[k] = v
	}
	routes := make(map[string]*config.RouteTable, len(s.routes))
	for k, v := range s.routes {
		routes[k] = v
	}
	old := s.snap.Swap(&snapshot{routes: routes, upstreams: ups, replaced: make(chan struct{})})
	if old != nil {
		close(old.replaced)
	}
}

// SetClusters replaces the cluster set.
func (s *Server) SetClusters(cs []*config.Cluster) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := map[string]*config.Cluster{}
	for _, c := range cs {
		next[c.Name] = c
	}
	for name, up := range s.upstreams {
		c, ok := next[name]
		if !ok || c.HTTP2 != up.cfg.HTTP2 || c.ConnectTimeout != up.cfg.ConnectTimeout {
			up.close()
			delete(s.upstreams, name)
		}
	}
	for name, c := range next {
		up, ok := s.upstreams[name]
		if !ok {
			up = newUpstream(c)
			s.upstreams[name] = up
		}
		up.cfg = c
		if addrs, ok := s.endpoints[c.EDSName]; ok {
			up.setEndpoints(addrs)
			up.markWarm()
		}
	}
	s.clusters = next
	s.publish()
}

// SetEndpoints replaces the endpoint sets (keyed by EDS name).
func (s *Server) SetEndpoints(es []*config.Endpoints) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endpoints = map[string][]string{}
	for _, e := range es {
		s.endpoints[e.Cluster] = e.Addrs
	}
	for _, up := range s.upstreams {
		addrs, ok := s.endpoints[up.cfg.EDSName]
		up.setEndpoints(addrs)
		if ok {
			up.markWarm()
		}
	}
}

// SetRoutes replaces the RDS route tables.
func (s *Server) SetRoutes(rs []*config.RouteTable) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes = map[string]*config.RouteTable{}
	for _, r := range rs {
		s.routes[r.Name] = r
	}
	s.publish()
}

// EDSNames returns the endpoint names the clusters need, sorted.
func (s *Server) EDSNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, c := range s.clusters {
		names = append(names, c.EDSName)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// RouteNames returns the RDS names the listeners reference, sorted.
func (s *Server) RouteNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, l := range s.listeners {
		if n := l.cfg.Load().RouteName; n != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func (s *Server) bindAddr(c *config.Listener) string {
	host := c.Host
	if s.opts.ListenHost != "" {
		host = s.opts.ListenHost
	}
	return net.JoinHostPort(host, strconv.FormatUint(uint64(c.Port), 10))
}

// SetListeners replaces the listener set: new listeners are bound, removed
// ones drain gracefully, unchanged ones keep serving. When a bind fails,
// nothing changes and the error says which listener.
func (s *Server) SetListeners(ls []*config.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("set listeners: server closed")
	}
	next := map[string]*config.Listener{}
	for _, l := range ls {
		next[l.Name] = l
	}
	changing := func(name string, old *listener) bool {
		c, ok := next[name]
		return !ok || s.bindAddr(old.cfg.Load()) != s.bindAddr(c)
	}
	bound := map[string]*listener{}
	var released []*listener
	var bindErr error
	for _, name := range slices.Sorted(maps.Keys(next)) {
		c := next[name]
		if old, ok := s.listeners[name]; ok && !changing(name, old) {
			continue
		}
		addr := s.bindAddr(c)
		// A listener that moves or goes away releases its port first, so
		// that ports can move between listeners in one update.
		if c.Port != 0 {
			for oname, old := range s.listeners {
				if changing(oname, old) && s.bindAddr(old.cfg.Load()) == addr && !slices.Contains(released, old) {
					old.released.Store(true)
					old.ln.Close()
					released = append(released, old)
				}
			}
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			bindErr = fmt.Errorf("bind listener %q on %s: %w", name, addr, err)
			break
		}
		bound[name] = s.newListener(name, ln)
	}
	if bindErr != nil {
		for _, b := range bound {
			b.ln.Close()
		}
		for _, old := range released {
			s.rebind(old)
		}
		return bindErr
	}
	for name, old := range s.listeners {
		if c, ok := next[name]; ok && bound[name] == nil {
			old.cfg.Store(c)
			continue
		}
		delete(s.listeners, name)
		s.drainListener(name, old)
	}
	for name, l := range bound {
		l.cfg.Store(next[name])
		s.listeners[name] = l
		s.serve(l)
		s.log.Info("listener up", "listener", name, "address", l.ln.Addr().String())
	}
	// A listener's new configuration may carry its routes inline: wake
	// the requests waiting for them.
	s.publish()
	return nil
}

func (s *Server) newListener(name string, ln net.Listener) *listener {
	l := &listener{
		ln:      &onceCloseListener{Listener: ln},
		port:    uint32(ln.Addr().(*net.TCPAddr).Port),
		metrics: s.metrics.listener(name),
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	l.srv = &http.Server{
		Handler:           s.handler(l),
		Protocols:         &protos,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	return l
}

func (s *Server) serve(l *listener) {
	ln := l.ln
	go func() {
		err := l.srv.Serve(ln)
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !l.released.Load() {
			s.log.Error("serve listener", "listener", l.cfg.Load().Name, "err", err)
		}
	}()
}

// rebind reopens the socket of a listener released by a failed update.
func (s *Server) rebind(l *listener) {
	addr := s.bindAddr(l.cfg.Load())
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.log.Error("rebind listener after a failed update", "listener", l.cfg.Load().Name, "address", addr, "err", err)
		return
	}
	l.ln = &onceCloseListener{Listener: ln}
	l.released.Store(false)
	s.serve(l)
}

// onceCloseListener makes Close idempotent: a released listener is closed
// again by http.Server.Shutdown.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}

func (s *Server) drainListener(name string, l *listener) {
	s.drain.Add(1)
	go func() {
		defer s.drain.Done()
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.DrainTimeout)
		defer cancel()
		if err := l.srv.Shutdown(ctx); err != nil {
			s.log.Warn("drain listener", "listener", name, "err", err)
			l.srv.Close()
		}
		s.log.Info("listener removed", "listener", name)
	}()
}

// Listeners returns the serving listeners sorted by name.
func (s *Server) Listeners() []Active {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Active, 0, len(s.listeners))
	for _, l := range s.listeners {
		c := l.cfg.Load()
		out = append(out, Active{Config: c, Port: l.port, Ready: c.Routes != nil || s.routes[c.RouteName] != nil})
	}
	slices.SortFunc(out, func(a, b Active) int {
		if a.Config.Name < b.Config.Name {
			return -1
		}
		if a.Config.Name > b.Config.Name {
			return 1
		}
		return 0
	})
	return out
}

// Close drains every listener (bounded by ctx) and closes upstream pools.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		close(s.closing)
	}
	s.closed = true
	var errs []error
	for name, l := range s.listeners {
		if err := l.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down listener %q: %w", name, err))
			l.srv.Close()
		}
		delete(s.listeners, name)
	}
	for _, up := range s.upstreams {
		up.close()
	}
	s.mu.Unlock()
	s.drain.Wait()
	return errors.Join(errs...)
}
