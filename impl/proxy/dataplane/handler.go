package dataplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gammaproof/gammaproof/impl/proxy/config"
)

// reqState is what the reverse proxy's hooks need about a request.
type reqState struct {
	route   *config.Route
	backend *config.Backend
	up      *upstream
	retries int
	// noContentType keeps net/http from sniffing a Content-Type that a
	// response header modifier removed.
	noContentType bool
}

type stateKey struct{}

func stateFrom(ctx context.Context) *reqState {
	rs, _ := ctx.Value(stateKey{}).(*reqState)
	return rs
}

// statusWriter records the status code for metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
	rs   *reqState
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
		if w.rs != nil && w.rs.noContentType {
			if _, ok := w.Header()["Content-Type"]; !ok {
				w.Header()["Content-Type"] = nil
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// localReply writes a response the proxy generates itself.
func localReply(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	io.WriteString(w, body)
}

func (s *Server) handler(l *listener) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: rw}
		lc := l.cfg.Load()
		routeLabel, clusterLabel := "", ""
		defer func() {
			code := w.code
			if code == 0 {
				code = 499
			}
			s.metrics.observe(lc.Name, routeLabel, clusterLabel, code, time.Since(start))
		}()
		snap := s.snap.Load()
		rt := lc.Routes
		if rt == nil {
			rt = snap.routes[lc.RouteName]
		}
		if rt == nil {
			localReply(w, http.StatusServiceUnavailable, fmt.Sprintf("route configuration %q not received yet\n", lc.RouteName))
			return
		}
		route := rt.VirtualHost(r.Host).Route(r)
		if route == nil {
			localReply(w, http.StatusNotFound, "no route matched\n")
			return
		}
		routeLabel = route.Name
		switch {
		case route.Direct != nil:
			route.ResponseHeaders.Apply(w.Header())
			localReply(w, route.Direct.Status, route.Direct.Body)
		case route.Redirect != nil:
			route.ResponseHeaders.Apply(w.Header())
			w.Header().Set("Location", route.Redirect.Location(&route.Match, r))
			w.WriteHeader(route.Redirect.Status)
		default:
			clusterLabel = s.forward(w, r, route, snap)
		}
	})
}

// forward proxies r per route.Forward and returns the chosen cluster.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, route *config.Route, snap *snapshot) string {
	f := route.Forward
	b := f.Pick(rand.Uint64N(f.TotalWeight))
	up := snap.upstreams[b.Cluster]
	if up == nil {
		route.ResponseHeaders.Apply(w.Header())
		localReply(w, f.NotFoundStatus, fmt.Sprintf("cluster %q not found\n", b.Cluster))
		return b.Cluster
	}
	up.waitWarm(r.Context(), s.opts.WarmTimeout)
	if len(*up.endpoints.Load()) == 0 {
		route.ResponseHeaders.Apply(w.Header())
		localReply(w, http.StatusServiceUnavailable, "no healthy upstream\n")
		return b.Cluster
	}
	ctx := r.Context()
	if f.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.Timeout)
		defer cancel()
	}
	rs := &reqState{route: route, backend: b, up: up}
	if sw, ok := w.(*statusWriter); ok {
		sw.rs = rs
	}
	r = r.WithContext(context.WithValue(ctx, stateKey{}, rs))
	if len(f.Mirrors) > 0 {
		s.mirror(r, route, b, snap)
	}
	s.proxy.ServeHTTP(w, r)
	return b.Cluster
}

// mirror sends fire-and-forget copies of r to the route's mirror clusters.
// Bodies up to 1 MiB with a known length are mirrored; r.Body is replaced
// by a buffered copy.
func (s *Server) mirror(r *http.Request, route *config.Route, b *config.Backend, snap *snapshot) {
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
		timeout = config.DefaultRouteTimeout
	}
	for _, m := range route.Forward.Mirrors {
		if m.Fraction < 1 && rand.Float64() >= m.Fraction {
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

func (s *Server) newReverseProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			rs := stateFrom(pr.In.Context())
			f := rs.route.Forward
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = rs.up.name
			p := f.RewritePath(&rs.route.Match, pr.In.URL.EscapedPath())
			if p != pr.In.URL.EscapedPath() {
				if u, err := url.Parse(p); err == nil {
					pr.Out.URL.Path, pr.Out.URL.RawPath = u.Path, u.RawPath
				} else {
					pr.Out.URL.Path, pr.Out.URL.RawPath = p, ""
				}
			}
			if f.HostRewrite != "" {
				pr.Out.Host = f.HostRewrite
			}
			// Rewrite drops inbound X-Forwarded-*; a mesh proxy keeps them.
			for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
				if v, ok := pr.In.Header[h]; ok {
					pr.Out.Header[h] = v
				}
			}
			rs.backend.RequestHeaders.Apply(pr.Out.Header)
			rs.route.RequestHeaders.Apply(pr.Out.Header)
		},
		Transport:  retryTransport{},
		BufferPool: bufferPool{},
		ModifyResponse: func(resp *http.Response) error {
			rs := stateFrom(resp.Request.Context())
			rs.backend.ResponseHeaders.Apply(resp.Header)
			rs.route.ResponseHeaders.Apply(resp.Header)
			if _, ok := resp.Header["Content-Type"]; !ok {
				rs.noContentType = true
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			rs := stateFrom(r.Context())
			code, msg := http.StatusServiceUnavailable, "upstream connect error or disconnect/reset before headers"
			var ce *connectError
			switch {
			case errors.Is(err, errPerTryTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(r.Context().Err(), context.DeadlineExceeded):
				code, msg = http.StatusGatewayTimeout, "upstream request timeout"
			case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
				code, msg = 499, "client closed request"
			case errors.Is(err, errNoEndpoints):
				msg = "no healthy upstream"
			case errors.As(err, &ce):
				msg = "upstream connect error"
			}
			s.log.Debug("proxy error", "route", rs.route.Name, "cluster", rs.up.name, "err", err, "code", code)
			if code != 499 {
				rs.route.ResponseHeaders.Apply(w.Header())
			}
			localReply(w, code, msg+"\n")
		},
	}
}

// bufferPool recycles the reverse proxy's 32 KiB copy buffers, which it
// would otherwise allocate per request.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }

var _ httputil.BufferPool = bufferPool{}
