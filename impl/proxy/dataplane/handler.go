package dataplane

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/gammaproof/gammaproof/impl/proxy/config"
	"github.com/gammaproof/gammaproof/impl/xdscontract"
)

// localReply writes a response the proxy generates itself and returns its
// status.
func localReply(w http.ResponseWriter, code int, body string) int {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	io.WriteString(w, body)
	return code
}

func (s *Server) handler(l *listener) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var o outcome
		defer func() { l.metrics.observe(&o, time.Since(start)) }()
		lc, snap, rt := s.routeTable(l)
		if rt == nil {
			// A listener that serves before its route configuration arrived
			// (a restarted proxy whose steering outlived it) holds the
			// request like a warming cluster does, rather than failing it.
			lc, snap, rt = s.waitRouteTable(r.Context(), l)
		}
		if rt == nil {
			o.code = localReply(w, http.StatusServiceUnavailable, fmt.Sprintf("route configuration %q not received yet\n", lc.RouteName))
			return
		}
		route := rt.VirtualHost(r.Host).Route(r)
		if route == nil {
			o.code = localReply(w, http.StatusNotFound, "no route matched\n")
			return
		}
		o.route = route.Name
		switch {
		case route.Direct != nil:
			route.ResponseHeaders.Apply(w.Header())
			o.code = localReply(w, route.Direct.Status, route.Direct.Body)
		case route.Redirect != nil:
			route.ResponseHeaders.Apply(w.Header())
			w.Header().Set("Location", route.Redirect.Location(&route.Match, r))
			w.WriteHeader(route.Redirect.Status)
			o.code = route.Redirect.Status
		default:
			s.forward(w, r, route, snap, &o)
		}
	})
}

// mirror sends fire-and-forget copies of r to the route's mirror clusters.
// Bodies up to 1 MiB with a known length are mirrored; r.Body is replaced
// by a buffered copy.
func (s *Server) mirror(r *http.Request, route *xdscontract.Route, b *xdscontract.Backend, snap *snapshot) {
	var body []byte
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		if r.ContentLength < 0 || r.ContentLength > maxReplayBody {
			s.log.Debug("not mirroring a request with a large or streamed body", "route", route.Name)
			return
		}
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, r.ContentLength))
		if err != nil {
			s.log.Debug("read body to mirror", "err", err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	path := route.Forward.RewritePath(&route.Match, r.URL.EscapedPath())
	timeout := route.Forward.Timeout
	if timeout <= 0 {
		timeout = xdscontract.DefaultRouteTimeout
	}
	for _, m := range route.Forward.Mirrors {
		if f := m.Fraction(); f < 1 && rand.Float64() >= f {
			continue
		}
		up := snap.upstreams[m.Cluster]
		if up == nil {
			continue
		}
		addr := up.pick()
		if addr == "" {
			continue
		}
		target := "http://" + addr + path
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		mr, err := http.NewRequestWithContext(ctx, r.Method, target, bytes.NewReader(body))
		if err != nil {
			cancel()
			s.log.Debug("build mirror request", "err", err)
			continue
		}
		mr.Header = r.Header.Clone()
		for _, h := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade"} {
			mr.Header.Del(h)
		}
		b.RequestHeaders.Apply(mr.Header)
		route.RequestHeaders.Apply(mr.Header)
		mr.Host = r.Host
		if route.Forward.HostRewrite != "" {
			mr.Host = route.Forward.HostRewrite
		}
		if !m.NoShadowSuffix {
			mr.Host += "-shadow"
		}
		go func() {
			defer cancel()
			resp, err := up.transport.RoundTrip(mr)
			if err != nil {
				s.log.Debug("mirror request", "cluster", m.Cluster, "err", err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
}

// routeTable is the listener's configuration, the snapshot and the route
// table the listener serves (nil until its RDS resource arrived). The
// snapshot is read first: a listener configuration stored before the
// snapshot was published is then seen too.
func (s *Server) routeTable(l *listener) (*config.Listener, *snapshot, *config.RouteTable) {
	snap := s.snap.Load()
	lc := l.cfg.Load()
	if lc.Routes != nil {
		return lc, snap, lc.Routes
	}
	return lc, snap, snap.routes[lc.RouteName]
}

// waitRouteTable waits up to WarmTimeout for the listener's route table,
// waking at each newly published snapshot; it gives up when the request
// ends or the server closes.
func (s *Server) waitRouteTable(ctx context.Context, l *listener) (*config.Listener, *snapshot, *config.RouteTable) {
	deadline := time.NewTimer(s.opts.WarmTimeout)
	defer deadline.Stop()
	for {
		lc, snap, rt := s.routeTable(l)
		if rt != nil {
			return lc, snap, rt
		}
		select {
		case <-snap.replaced:
		case <-ctx.Done():
			return lc, snap, nil
		case <-s.closing:
			return lc, snap, nil
		case <-deadline.C:
			return lc, snap, nil
		}
	}
}
