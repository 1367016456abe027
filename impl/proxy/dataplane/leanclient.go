package dataplane

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"time"
)

// leanClient is a keep-alive HTTP/1.1 client for the attempts forward sends
// most: requests without a body to HTTP/1.1 upstreams. It does for them what
// http.Transport does, with less work per request: the caller's goroutine
// writes the request and reads the response, without a reader and a writer
// goroutine per connection and the channels between them. Everything else
// (bodies, upgrades, h2c) goes through http.Transport; see leanCarries.
type leanClient struct {
	// dial connects to an endpoint, failing with a *connectError.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// maxIdle bounds the idle connections kept per endpoint.
	maxIdle int
	// idleTimeout is how long a connection may stay idle before it is closed.
	idleTimeout time.Duration

	mu sync.Mutex
	// idle holds the idle connections per endpoint, least recently used first.
	idle map[string][]*leanConn
	// sweeper closes connections idle for too long; nil while idle is empty.
	sweeper *time.Timer
	closed  bool
}

// maxResponseHeaderBytes bounds a response's header, like http.Transport's
// default MaxResponseHeaderBytes.
const maxResponseHeaderBytes = 10 << 20

// aLongTimeAgo is a deadline in the past: it interrupts blocked reads and
// writes.
var aLongTimeAgo = time.Unix(1, 0)

// leanConn is one upstream connection.
type leanConn struct {
	net.Conn
	addr string
	br   *bufio.Reader // reads from the leanConn, so within readLimit
	bw   *bufio.Writer
	// readLimit is what may still be read: bounded while a response's
	// header is read.
	readLimit int64
	idleAt    time.Time
}

func (c *leanConn) Read(p []byte) (int, error) {
	if c.readLimit <= 0 {
		return 0, fmt.Errorf("upstream response header exceeds %d bytes", maxResponseHeaderBytes)
	}
	if int64(len(p)) > c.readLimit {
		p = p[:c.readLimit]
	}
	n, err := c.Conn.Read(p)
	c.readLimit -= int64(n)
	return n, err
}

func newLeanClient(dial func(ctx context.Context, network, addr string) (net.Conn, error), maxIdle int, idleTimeout time.Duration) *leanClient {
	return &leanClient{dial: dial, maxIdle: maxIdle, idleTimeout: idleTimeout, idle: map[string][]*leanConn{}}
}

// leanCarries reports whether the lean client sends req as http.Transport
// would: a GET, HEAD or OPTIONS without a body, trailers, upgrade or
// expectation, whose Host and header fields are valid (http.Transport
// reports invalid ones). These methods are idempotent, so a request that a
// stale keep-alive connection failed can be sent again. (http.Transport's
// reader goroutines also notice most stale connections while they are
// idle, which a DELETE or POST would need.)
func leanCarries(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return false
	}
	if req.Body != nil || req.ContentLength != 0 || len(req.TransferEncoding) > 0 || len(req.Trailer) > 0 || req.Close {
		return false
	}
	if !validHost(req.Host) || !validHost(req.URL.Host) {
		return false
	}
	for k, vv := range req.Header {
		switch k {
		case "Upgrade", "Connection", "Expect":
			return false
		}
		if !validHeaderName(k) {
			return false
		}
		for _, v := range vv {
			if !validHeaderValue(v) {
				return false
			}
		}
	}
	return true
}

// roundTrip sends req, which leanCarries, to the endpoint req.URL.Host and
// returns the response. Like http.Transport, it sends a request that a
// reused connection failed before any response byte again, once, on a new
// connection. Once ctx is done, it returns context.Cause(ctx) and the
// response body's reads fail.
func (lc *leanClient) roundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	addr := req.URL.Host
	if c := lc.takeIdle(addr); c != nil {
		resp, unanswered, err := lc.send(ctx, c, req)
		if !unanswered || ctx.Err() != nil {
			return resp, err
		}
	}
	conn, err := lc.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	c := &leanConn{Conn: conn, addr: addr}
	c.br = bufio.NewReader(c)
	c.bw = bufio.NewWriter(conn)
	resp, _, err := lc.send(ctx, c, req)
	return resp, err
}

// send sends req on c and reads the response's header. On failure it closes
// c and reports whether c failed before any response byte, as a stale
// keep-alive connection does.
func (lc *leanClient) send(ctx context.Context, c *leanConn, req *http.Request) (_ *http.Response, unanswered bool, err error) {
	// Closing the connection once ctx is done would race with its reuse;
	// an expired deadline interrupts reads and writes as well.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(aLongTimeAgo) })
	defer func() {
		if err != nil {
			stop()
			c.Close()
			err = ctxErr(ctx, err)
		}
	}()
	if err := writeRequest(c.bw, req); err != nil {
		return nil, true, fmt.Errorf("write request to %s: %w", c.addr, err)
	}
	c.readLimit = maxResponseHeaderBytes
	if _, err := c.br.Peek(1); err != nil {
		return nil, true, fmt.Errorf("read response from %s: %w", c.addr, err)
	}
	resp, err := readResponse(ctx, c, req)
	if err != nil {
		return nil, false, fmt.Errorf("read response from %s: %w", c.addr, err)
	}
	c.readLimit = math.MaxInt64
	resp.Body = &leanBody{
		lc: lc, c: c, ctx: ctx, src: resp.Body, stop: stop,
		eof:       resp.Body == http.NoBody,
		keepAlive: !resp.Close && resp.ProtoAtLeast(1, 1) && resp.StatusCode != http.StatusSwitchingProtocols,
	}
	return resp, false, nil
}

// writeRequest writes req's head: request line, Host, then its header as
// forward prepared it, with User-Agent left out when empty.
func writeRequest(w *bufio.Writer, req *http.Request) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	w.WriteString(req.Method)
	w.WriteByte(' ')
	w.WriteString(req.URL.RequestURI())
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\n")
	for k, vv := range req.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		case "User-Agent":
			// http.Transport sends the first value only, and none when empty.
			if len(vv) == 0 || vv[0] == "" {
				continue
			}
			vv = vv[:1]
		}
		for _, v := range vv {
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(textproto.TrimString(v))
			w.WriteString("\r\n")
		}
	}
	w.WriteString("\r\n")
	return w.Flush()
}

// readResponse reads the response to req from c, passing informational
// (1xx) responses but 101 to the context's Got1xxResponse hook.
func readResponse(ctx context.Context, c *leanConn, req *http.Request) (*http.Response, error) {
	trace := httptrace.ContextClientTrace(ctx)
	for {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			return nil, err
		}
		code := resp.StatusCode
		if code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
			return resp, nil
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, err
			}
			// As http.Transport: a hook that sees 1xx responses limits them.
			c.readLimit = maxResponseHeaderBytes
		}
	}
}

// takeIdle returns the most recently used idle connection to addr, or nil.
func (lc *leanClient) takeIdle(addr string) *leanConn {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	conns := lc.idle[addr]
	if len(conns) == 0 {
		return nil
	}
	c := conns[len(conns)-1]
	conns[len(conns)-1] = nil
	lc.idle[addr] = conns[:len(conns)-1]
	return c
}

// putIdle keeps c for reuse, or closes it when the client is closed, the
// endpoint has enough idle connections, or the server sent more than the
// response.
func (lc *leanClient) putIdle(c *leanConn) {
	c.idleAt = time.Now()
	lc.mu.Lock()
	if lc.closed || len(lc.idle[c.addr]) >= lc.maxIdle || c.br.Buffered() > 0 {
		lc.mu.Unlock()
		c.Close()
		return
	}
	lc.idle[c.addr] = append(lc.idle[c.addr], c)
	if lc.sweeper == nil {
		lc.sweeper = time.AfterFunc(lc.idleTimeout, lc.sweep)
	}
	lc.mu.Unlock()
}

// sweep closes the connections idle for idleTimeout and schedules itself
// for when the next one will have been.
func (lc *leanClient) sweep() {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.sweeper = nil
	now := time.Now()
	var oldest time.Time
	for addr, conns := range lc.idle {
		n := 0
		for n < len(conns) && now.Sub(conns[n].idleAt) >= lc.idleTimeout {
			conns[n].Close()
			n++
		}
		conns = slices.Delete(conns, 0, n)
		if len(conns) == 0 {
			delete(lc.idle, addr)
			continue
		}
		lc.idle[addr] = conns
		if oldest.IsZero() || conns[0].idleAt.Before(oldest) {
			oldest = conns[0].idleAt
		}
	}
	if !oldest.IsZero() {
		lc.sweeper = time.AfterFunc(oldest.Add(lc.idleTimeout).Sub(now), lc.sweep)
	}
}

// close closes the idle connections; connections in use are closed when
// their response is done.
func (lc *leanClient) close() {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.closed = true
	if lc.sweeper != nil {
		lc.sweeper.Stop()
		lc.sweeper = nil
	}
	for _, conns := range lc.idle {
		for _, c := range conns {
			c.Close()
		}
	}
	clear(lc.idle)
}

// leanBody is a response body. Closing it returns the connection to the
// pool when the body was read to its end and the response allows keep-alive,
// and closes it otherwise. Read and Close must not be called concurrently.
type leanBody struct {
	lc  *leanClient
	c   *leanConn
	ctx context.Context
	// src is the body http.ReadResponse returned.
	src io.ReadCloser
	// stop ends the watch on ctx; it reports false once ctx has interrupted c.
	stop      func() bool
	keepAlive bool
	eof       bool
	closed    bool
}

var errBodyClosed = errors.New("read on closed upstream response body")

func (b *leanBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errBodyClosed
	}
	n, err := b.src.Read(p)
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil:
		err = ctxErr(b.ctx, err)
	}
	return n, err
}

func (b *leanBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	if b.stop() && b.eof && b.keepAlive {
		b.lc.putIdle(b.c)
		return nil
	}
	// Not src.Close: it would read the rest of the body.
	return b.c.Close()
}

// ctxErr returns context.Cause(ctx) for an error that ctx caused (as
// http.Transport does), and err otherwise.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", context.Cause(ctx), err)
	}
	return err
}

// validHost reports whether h may be sent as a Host: no controls, spaces
// or non-ASCII bytes (http.Transport would punycode those).
func validHost(h string) bool {
	for i := range len(h) {
		if h[i] <= ' ' || h[i] >= 0x7f {
			return false
		}
	}
	return true
}

// validHeaderName reports whether k is a token (RFC 9110, section 5.1).
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := range len(k) {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v holds no control characters but tabs.
func validHeaderValue(v string) bool {
	for i := range len(v) {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
