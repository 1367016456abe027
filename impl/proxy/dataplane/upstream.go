package dataplane

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gammaproof/gammaproof/impl/proxy/config"
	"github.com/gammaproof/gammaproof/impl/xdscontract"
)

// upstream is one cluster's endpoints and connection pool.
type upstream struct {
	name      string
	cfg       *config.Cluster // guarded by Server.mu
	transport *http.Transport
	// lean sends the attempts it can carry (see leanCarries) to HTTP/1.1
	// clusters; nil for h2c clusters.
	lean      *leanClient
	endpoints atomic.Pointer[[]string]
	next      atomic.Uint64
	// warm is closed once the cluster's first ClusterLoadAssignment has
	// arrived (Envoy's cluster warming).
	warm     chan struct{}
	warmOnce sync.Once
}

func (u *upstream) markWarm() { u.warmOnce.Do(func() { close(u.warm) }) }

// waitWarm waits up to d for the cluster's first endpoints, or until the
// request ends or closing is closed.
func (u *upstream) waitWarm(ctx context.Context, d time.Duration, closing <-chan struct{}) {
	select {
	case <-u.warm:
		return
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-u.warm:
	case <-t.C:
	case <-ctx.Done():
	case <-closing:
	}
}

func newUpstream(c *config.Cluster) *upstream {
	d := &net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: 30 * time.Second}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, &connectError{err: err}
		}
		return conn, nil
	}
	const maxIdlePerHost, idleTimeout = 1024, 90 * time.Second
	t := &http.Transport{
		DialContext:         dial,
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: maxIdlePerHost,
		IdleConnTimeout:     idleTimeout,
		DisableCompression:  true,
	}
	u := &upstream{name: c.Name, cfg: c, transport: t, warm: make(chan struct{})}
	if c.HTTP2 {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		t.Protocols = &p
	} else {
		u.lean = newLeanClient(dial, maxIdlePerHost, idleTimeout)
	}
	u.endpoints.Store(&[]string{})
	return u
}

func (u *upstream) setEndpoints(addrs []string) {
	old := *u.endpoints.Load()
	if slices.Equal(old, addrs) {
		return
	}
	cp := slices.Clone(addrs)
	u.endpoints.Store(&cp)
}

// pick returns the next endpoint round robin, or "" when there is none.
func (u *upstream) pick() string {
	eps := *u.endpoints.Load()
	if len(eps) == 0 {
		return ""
	}
	return eps[(u.next.Add(1)-1)%uint64(len(eps))]
}

func (u *upstream) close() {
	u.transport.CloseIdleConnections()
	if u.lean != nil {
		u.lean.close()
	}
}

// send sends one attempt, through the lean client when it carries req.
func (u *upstream) send(req *http.Request) (*http.Response, error) {
	if u.lean != nil && leanCarries(req) {
		return u.lean.roundTrip(req)
	}
	return u.transport.RoundTrip(req)
}

// connectError marks a failure to connect to an endpoint.
type connectError struct{ err error }

func (e *connectError) Error() string { return "connect to upstream: " + e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// errNoEndpoints is returned when a cluster has no ready endpoint.
var errNoEndpoints = errors.New("no ready endpoints")

// errPerTryTimeout marks an attempt that hit the retry policy's per-try
// timeout.
var errPerTryTimeout = errors.New("upstream per-try timeout")

// maxReplayBody is the largest request body a retry or a mirror resends.
const maxReplayBody = 1 << 20

// replayBody records a request body as attempts read it, so that a retry can
// send it again. Bodies larger than limit are not replayable.
type replayBody struct {
	mu       sync.Mutex
	src      io.ReadCloser
	buf      []byte
	read     int
	limit    int
	overflow bool
	// closed is set when the request is done: no attempt reads src any more.
	closed bool
}

func (rb *replayBody) close() {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	rb.closed = true
}

func (rb *replayBody) replayable() bool {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return !rb.overflow
}

func (rb *replayBody) attempt() *attemptBody { return &attemptBody{rb: rb} }

type attemptBody struct {
	rb     *replayBody
	off    int
	closed atomic.Bool
}

var errAttemptClosed = errors.New("request body of an abandoned attempt")

func (a *attemptBody) Read(p []byte) (int, error) {
	if a.closed.Load() {
		return 0, errAttemptClosed
	}
	rb := a.rb
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if rb.closed {
		return 0, errAttemptClosed
	}
	if a.off < len(rb.buf) {
		n := copy(p, rb.buf[a.off:])
		a.off += n
		return n, nil
	}
	if a.off != rb.read {
		// Bytes beyond the recording limit went to another attempt.
		return 0, errAttemptClosed
	}
	n, err := rb.src.Read(p)
	if n > 0 {
		rb.read += n
		a.off += n
		if !rb.overflow {
			if len(rb.buf)+n > rb.limit {
				rb.overflow = true
				rb.buf = nil
			} else {
				rb.buf = append(rb.buf, p[:n]...)
			}
		}
	}
	return n, err
}

func (a *attemptBody) Close() error {
	a.closed.Store(true)
	return nil
}

// cancelBody cancels an attempt's context when the response body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelBody) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// roundTrip sends out to the exchange's cluster, picking an endpoint per
// attempt and retrying per the route's policy. body is out's replayable
// body, or nil.
func (ex *exchange) roundTrip(out *http.Request, body *replayBody) (*http.Response, error) {
	retry := ex.route.Forward.Retry
	attempts := 1
	if retry.Applies(out) {
		attempts += int(retry.NumRetries)
	}
	for i := 0; ; i++ {
		addr := ex.up.pick()
		if addr == "" {
			return nil, errNoEndpoints
		}
		req := out
		if i > 0 {
			// The transport may still hold an earlier attempt's request.
			req = out.WithContext(out.Context())
			u := *out.URL
			req.URL = &u
		}
		req.URL.Host = addr
		var cancel context.CancelFunc
		if retry != nil && retry.PerTry > 0 {
			var ctx context.Context
			ctx, cancel = context.WithTimeoutCause(out.Context(), retry.PerTry, errPerTryTimeout)
			req = req.WithContext(ctx)
		}
		var ab *attemptBody
		if body != nil {
			ab = body.attempt()
			req.Body = ab
		}
		resp, err := ex.up.send(req)
		last := i+1 >= attempts || (body != nil && !body.replayable()) || out.Context().Err() != nil
		if err != nil {
			if cancel != nil {
				if context.Cause(req.Context()) == errPerTryTimeout {
					err = errPerTryTimeout
				}
				cancel()
			}
			if ab != nil {
				ab.Close()
			}
			if last || !retriableErrorFor(retry, err) {
				return nil, err
			}
			backoff(out.Context(), retry, i)
			continue
		}
		if !last && retriableStatusFor(retry, resp.StatusCode) {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if cancel != nil {
				cancel()
			}
			if ab != nil {
				ab.Close()
			}
			backoff(out.Context(), retry, i)
			continue
		}
		if cancel != nil {
			resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
		}
		return resp, nil
	}
}

func backoff(ctx context.Context, r *xdscontract.Retry, attempt int) {
	base, most := r.Backoff()
	maxWait := base << min(attempt, 10)
	if maxWait > most || maxWait <= 0 {
		maxWait = most
	}
	if maxWait <= 0 {
		return
	}
	t := time.NewTimer(rand.N(maxWait))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
