package dataplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"

	"github.com/gammaproof/gammaproof/impl/xdscontract"
)

// Forwarding keeps httputil.ReverseProxy's semantics (hop-by-hop headers,
// query cleaning, trailers, 1xx responses, flushing of streamed bodies,
// http.ErrAbortHandler on a broken body) without its per-request copies of
// requests and headers and the contexts its hooks need.

// exchange is one forwarded request: the route's choice and what the
// attempts and the 1xx relay need, in one allocation.
type exchange struct {
	route   *xdscontract.Route
	backend *xdscontract.Backend
	up      *upstream
	w       http.ResponseWriter
	// url is the outbound request's URL; attempts set its Host.
	url   url.URL
	trace httptrace.ClientTrace
	// mu guards done, set when the round trip has returned: 1xx responses
	// arriving later must not touch w.
	mu   sync.Mutex
	done bool
}

// outcome is what the request metrics record about a request.
type outcome struct {
	route   string
	cluster string
	// code is the final status sent, 0 while there is none.
	code int
}

// forward proxies r per route.Forward and records the chosen cluster and
// the status in o.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, route *xdscontract.Route, snap *snapshot, o *outcome) {
	f := route.Forward
	b := f.Pick(rand.Uint64N(f.TotalWeight))
	o.cluster = b.Cluster
	up := snap.upstreams[b.Cluster]
	if up == nil {
		route.ResponseHeaders.Apply(w.Header())
		o.code = localReply(w, f.NotFoundStatus, fmt.Sprintf("cluster %q not found\n", b.Cluster))
		return
	}
	up.waitWarm(r.Context(), s.opts.WarmTimeout, s.closing)
	if len(*up.endpoints.Load()) == 0 {
		route.ResponseHeaders.Apply(w.Header())
		o.code = localReply(w, http.StatusServiceUnavailable, "no healthy upstream\n")
		return
	}
	ctx := r.Context()
	if f.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.Timeout)
		defer cancel()
	}
	if len(f.Mirrors) > 0 {
		s.mirror(r, route, b, snap)
	}
	ex := &exchange{route: route, backend: b, up: up, w: w}
	ex.trace.Got1xxResponse = ex.got1xx
	ctx = httptrace.WithClientTrace(ctx, &ex.trace)
	out, err := ex.outbound(ctx, r)
	if err != nil {
		o.code = s.errorReply(ex, ctx, err)
		return
	}
	var body *replayBody
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		body = &replayBody{src: r.Body, limit: maxReplayBody}
		// A transport may still read an attempt's body after we return;
		// r.Body must not be read then.
		defer body.close()
	}
	resp, err := ex.roundTrip(out, body)
	ex.mu.Lock()
	ex.done = true
	ex.mu.Unlock()
	if err != nil {
		o.code = s.errorReply(ex, ctx, err)
		return
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// Listeners take no upgrade_configs: protocol switches are not relayed.
		resp.Body.Close()
		o.code = s.errorReply(ex, ctx, errors.New("protocol upgrades are not supported"))
		return
	}
	o.code = resp.StatusCode
	s.relay(ex, resp)
}

// outbound returns the request to send upstream for r: hop-by-hop and
// Forwarded headers dropped, X-Forwarded-* kept, path, host and headers
// rewritten per the route and backend. Attempts set its URL's Host and its
// Body.
func (ex *exchange) outbound(ctx context.Context, r *http.Request) (*http.Request, error) {
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	upType := upgradeType(h)
	if !isPrint(upType) {
		return nil, fmt.Errorf("client tried to switch to invalid protocol %q", upType)
	}
	removeHopByHop(h)
	// Tell upstreams that care that trailers are relayed.
	if hasToken(r.Header["Te"], "trailers") {
		h["Te"] = []string{"trailers"}
	}
	if upType != "" {
		h["Connection"] = []string{"Upgrade"}
		h["Upgrade"] = []string{upType}
	}
	delete(h, "Forwarded")
	// A mesh proxy keeps inbound X-Forwarded-*, even when Connection named them.
	for _, k := range [...]string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v, ok := r.Header[k]; ok {
			h[k] = v
		}
	}

	f := ex.route.Forward
	ex.url = *r.URL
	ex.url.Scheme = "http"
	ex.url.Host = ex.up.name
	ex.url.RawQuery = cleanQueryParams(r.URL.RawQuery)
	in := r.URL.EscapedPath()
	if p := f.RewritePath(&ex.route.Match, in); p != in {
		if u, err := url.Parse(p); err == nil {
			ex.url.Path, ex.url.RawPath = u.Path, u.RawPath
		} else {
			ex.url.Path, ex.url.RawPath = p, ""
		}
	}
	ex.backend.RequestHeaders.Apply(h)
	ex.route.RequestHeaders.Apply(h)
	if _, ok := h["User-Agent"]; !ok {
		// Send none rather than Go's default.
		h["User-Agent"] = []string{""}
	}

	out := r.WithContext(ctx)
	out.URL = &ex.url
	out.Header = h
	out.Trailer = r.Trailer.Clone()
	out.Body = nil
	out.Close = false
	if f.HostRewrite != "" {
		out.Host = f.HostRewrite
	}
	return out, nil
}

// got1xx relays an informational response (such as 103 Early Hints) while
// the round trip runs.
func (ex *exchange) got1xx(code int, header textproto.MIMEHeader) error {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.done {
		return nil
	}
	h := ex.w.Header()
	copyHeader(h, http.Header(header))
	ex.w.WriteHeader(code)
	// WriteHeader does not clear the header map after a 1xx response.
	clear(h)
	return nil
}

// relay writes resp to the client: headers after the response modifiers,
// then the body (flushed as it arrives when streamed), then trailers. A
// body that breaks off aborts the client's response.
func (s *Server) relay(ex *exchange, resp *http.Response) {
	w := ex.w
	removeHopByHop(resp.Header)
	ex.backend.ResponseHeaders.Apply(resp.Header)
	ex.route.ResponseHeaders.Apply(resp.Header)
	h := w.Header()
	copyHeader(h, resp.Header)
	if _, ok := h["Content-Type"]; !ok {
		// Like Envoy, add none: keep net/http from sniffing one.
		h["Content-Type"] = nil
	}
	announced := len(resp.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range resp.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(resp.StatusCode)
	if err := s.copyBody(w, resp.Body, streamed(resp)); err != nil {
		resp.Body.Close()
		panic(http.ErrAbortHandler)
	}
	resp.Body.Close() // populates resp.Trailer
	if len(resp.Trailer) == 0 {
		return
	}
	// Flushing forces chunking, which trailers need.
	http.NewResponseController(w).Flush()
	if len(resp.Trailer) == announced {
		copyHeader(h, resp.Trailer)
		return
	}
	for k, vv := range resp.Trailer {
		for _, v := range vv {
			h.Add(http.TrailerPrefix+k, v)
		}
	}
}

// streamed reports whether a response body is flushed to the client as it
// arrives: server-sent events, and bodies of unknown length such as gRPC
// streams.
func streamed(resp *http.Response) bool {
	if resp.ContentLength == -1 {
		return true
	}
	mediaType, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(mediaType), "text/event-stream")
}

// copyBuffers recycles the 32 KiB buffers bodies are copied through.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyBody copies src to w, flushing after each write when flush is set.
// It returns write errors and read errors other than io.EOF.
func (s *Server) copyBody(w http.ResponseWriter, src io.Reader, flush bool) error {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	var rc *http.ResponseController
	if flush {
		rc = http.NewResponseController(w)
		rc.Flush() // the headers, before the first body bytes arrive
	}
	for {
		nr, rerr := src.Read(buf)
		if rerr != nil && rerr != io.EOF && rerr != context.Canceled {
			s.log.Debug("read upstream response body", "err", rerr)
		}
		if nr > 0 {
			nw, werr := w.Write(buf[:nr])
			if werr != nil {
				return werr
			}
			if nw != nr {
				return io.ErrShortWrite
			}
			if flush {
				rc.Flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// errorReply answers a request whose forwarding failed and returns the
// status sent. ctx is the request's forwarding context.
func (s *Server) errorReply(ex *exchange, ctx context.Context, err error) int {
	code, msg := http.StatusServiceUnavailable, "upstream connect error or disconnect/reset before headers"
	var ce *connectError
	switch {
	case errors.Is(err, errPerTryTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		code, msg = http.StatusGatewayTimeout, "upstream request timeout"
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		code, msg = 499, "client closed request"
	case errors.Is(err, errNoEndpoints):
		msg = "no healthy upstream"
	case errors.As(err, &ce):
		msg = "upstream connect error"
	}
	s.log.Debug("proxy error", "route", ex.route.Name, "cluster", ex.up.name, "err", err, "code", code)
	if code != 499 {
		ex.route.ResponseHeaders.Apply(ex.w.Header())
	}
	return localReply(ex.w, code, msg+"\n")
}

// hopHeaders are the hop-by-hop headers a proxy does not forward.
var hopHeaders = [...]string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopByHop removes the headers Connection names and the hop-by-hop
// headers.
func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

// copyHeader adds src's values to dst, sharing src's value slices.
func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		if len(vv) == 0 {
			continue
		}
		if old, ok := dst[k]; ok {
			dst[k] = append(old, vv...)
		} else {
			dst[k] = vv
		}
	}
}

// upgradeType returns the protocol a request asks to upgrade to, or "".
func upgradeType(h http.Header) string {
	if !hasToken(h["Connection"], "upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

// hasToken reports whether the comma-separated header values contain
// token, compared case-insensitively.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if t = textproto.TrimString(t); len(t) == len(token) && asciiEqualFold(t, token) {
				return true
			}
		}
	}
	return false
}

// asciiEqualFold reports whether s and t, of equal length, are equal under
// ASCII case folding.
func asciiEqualFold(s, t string) bool {
	lower := func(b byte) byte {
		if 'A' <= b && b <= 'Z' {
			return b + 'a' - 'A'
		}
		return b
	}
	for i := range len(s) {
		if lower(s[i]) != lower(t[i]) {
			return false
		}
	}
	return true
}

// isPrint reports whether s is printable ASCII.
func isPrint(s string) bool {
	for i := range len(s) {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// cleanQueryParams re-encodes a query that upstreams could parse
// differently from us (";" separators, bad escapes, too many parameters),
// dropping what does not parse.
func cleanQueryParams(s string) string {
	reencode := func(s string) string {
		v, _ := url.ParseQuery(s)
		return v.Encode()
	}
	if strings.Count(s, "&")+1 > 10000 {
		return reencode(s)
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case ';':
			return reencode(s)
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return reencode(s)
			}
			i += 3
		default:
			i++
		}
	}
	return s
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
