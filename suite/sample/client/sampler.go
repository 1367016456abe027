package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	pb "sigs.k8s.io/gateway-api/conformance/echo-basic/grpcechoserver"

	"github.com/gammaproof/gammaproof/suite/sample"
)

// deadlineSlack is how close to its own deadline a gRPC call's
// DeadlineExceeded counts as its own timeout.
const deadlineSlack = 50 * time.Millisecond

// maxBody bounds how much of an answer is read for attribution.
const maxBody = 1 << 20

// Sampler sends requests from this process. Keep-alive connections are kept
// between batches, as a long-lived client would. It is safe for concurrent
// use; Close releases its connections.
type Sampler struct {
	h1  *http.Transport
	h2c *http.Transport

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn // target + "|" + authority -> kept conn
}

var _ sample.Sampler = (*Sampler)(nil)

// New returns a Sampler.
func New() *Sampler {
	return &Sampler{
		h1:    newTransport(false, false),
		h2c:   newTransport(true, false),
		conns: map[string]*grpc.ClientConn{},
	}
}

func newTransport(h2c, noKeepAlive bool) *http.Transport {
	t := &http.Transport{
		Proxy:               nil, // never a proxy from the environment: we measure the mesh
		MaxIdleConnsPerHost: sample.MaxConcurrency,
		DisableKeepAlives:   noKeepAlive,
		DisableCompression:  true,
		Protocols:           new(http.Protocols),
	}
	if h2c {
		t.Protocols.SetUnencryptedHTTP2(true)
	} else {
		t.Protocols.SetHTTP1(true)
	}
	return t
}

// Close closes idle and kept connections.
func (s *Sampler) Close() error {
	s.h1.CloseIdleConnections()
	s.h2c.CloseIdleConnections()
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for k, c := range s.conns {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close grpc conn %s: %w", k, err))
		}
		delete(s.conns, k)
	}
	return errors.Join(errs...)
}

// outcome is what one request got.
type outcome struct {
	sent    bool
	status  string // "" when no answer
	backend string
	echo    *sample.Echo
	headers map[string]string // recorded response headers
	err     error
	timeout bool
	latency time.Duration
}

// Sample sends req.Count requests and counts what came back. It returns an
// error for an invalid request; when ctx ends early it returns what was sent
// so far with ctx's error.
func (s *Sampler) Sample(ctx context.Context, req sample.Request) (sample.Result, error) {
	req = req.WithDefaults()
	if err := req.Validate(); err != nil {
		return sample.Result{}, fmt.Errorf("validate sample request: %w", err)
	}
	if req.FreshConnections {
		if err := s.Close(); err != nil {
			return sample.Result{}, fmt.Errorf("close kept connections: %w", err)
		}
	}
	send := s.httpSender(req)
	if req.GRPC {
		send = s.grpcSender(req)
	}
	batch, err := batchID()
	if err != nil {
		return sample.Result{}, err
	}
	start := time.Now()
	outs := make([]outcome, req.Count)
	next := make(chan int)
	var wg sync.WaitGroup
	for range req.Concurrency {
		wg.Go(func() {
			for i := range next {
				outs[i] = send(ctx, batch+"-"+strconv.Itoa(i))
				// A request cut short by the batch's end is not counted.
				outs[i].sent = outs[i].status != "" || ctx.Err() == nil
			}
		})
	}
dispatch:
	for i := range req.Count {
		if req.Rate > 0 {
			due := start.Add(time.Duration(float64(i) / req.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					break dispatch
				}
			}
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break dispatch
		}
	}
	close(next)
	wg.Wait()
	res := summarize(req, outs)
	res.DurationMs = ms(time.Since(start))
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("sample %s: stopped after %d requests: %w", req.URL, res.Requests, err)
	}
	return res, nil
}

func (s *Sampler) httpSender(req sample.Request) func(context.Context, string) outcome {
	var t *http.Transport
	switch {
	case req.NewConnectionPerRequest:
		t = nil // one per request
	case req.H2C:
		t = s.h2c
	default:
		t = s.h1
	}
	return func(ctx context.Context, id string) outcome {
		rt := t
		if rt == nil {
			rt = newTransport(req.H2C, true)
			defer rt.CloseIdleConnections()
		}
		c := &http.Client{
			Transport:     rt,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		rctx, cancel := context.WithTimeout(ctx, time.Duration(req.Timeout))
		defer cancel()
		var body io.Reader
		if req.Body != "" {
			body = strings.NewReader(req.Body)
		}
		hreq, err := http.NewRequestWithContext(rctx, req.Method, withID(req.URL, id), body)
		if err != nil {
			return outcome{err: fmt.Errorf("build request: %w", err)}
		}
		for k, v := range req.Headers {
			if strings.EqualFold(k, "host") {
				hreq.Host = withID(v, id)
				continue
			}
			hreq.Header.Set(k, withID(v, id))
		}
		start := time.Now()
		resp, err := c.Do(hreq)
		if err != nil {
			return outcome{err: err, timeout: rctx.Err() != nil && ctx.Err() == nil}
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if err != nil {
			return outcome{err: fmt.Errorf("read body: %w", err), timeout: rctx.Err() != nil && ctx.Err() == nil}
		}
		o := outcome{status: strconv.Itoa(resp.StatusCode), latency: time.Since(start)}
		o.backend, o.echo = sample.Attribute(b)
		o.headers = record(req.RecordHeaders, resp.Header.Values)
		return o
	}
}

// batchID returns a random prefix for the request ids of one batch.
func batchID() (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random batch id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// withID replaces sample.RequestID in v by id.
func withID(v, id string) string {
	return strings.ReplaceAll(v, sample.RequestID, id)
}

// record returns the first value of each named header, or sample.Absent.
func record(names []string, values func(string) []string) map[string]string {
	if len(names) == 0 {
		return nil
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		v := values(n)
		if len(v) == 0 {
			m[n] = sample.Absent
			continue
		}
		m[n] = strings.Join(v, ",")
	}
	return m
}

func (s *Sampler) grpcConn(req sample.Request) (*grpc.ClientConn, func(), error) {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	authority := ""
	for k, v := range req.Headers {
		if strings.EqualFold(k, "host") || k == ":authority" {
			authority = v
		}
	}
	if authority != "" {
		opts = append(opts, grpc.WithAuthority(authority))
	}
	target := "passthrough:///" + req.URL
	if req.NewConnectionPerRequest {
		c, err := grpc.NewClient(target, opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("create grpc client for %s: %w", req.URL, err)
		}
		return c, func() { c.Close() }, nil //nolint:errcheck // closing a one-shot conn; its error says nothing about the sample
	}
	key := req.URL + "|" + authority
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.conns[key]; ok {
		return c, func() {}, nil
	}
	c, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("create grpc client for %s: %w", req.URL, err)
	}
	s.conns[key] = c
	return c, func() {}, nil
}

func (s *Sampler) grpcSender(req sample.Request) func(context.Context, string) outcome {
	var pairs []string
	for k, v := range req.Headers {
		if strings.EqualFold(k, "host") || k == ":authority" {
			continue
		}
		pairs = append(pairs, strings.ToLower(k), v)
	}
	return func(ctx context.Context, id string) outcome {
		conn, done, err := s.grpcConn(req)
		if err != nil {
			return outcome{err: err}
		}
		defer done()
		rctx, cancel := context.WithTimeout(ctx, time.Duration(req.Timeout))
		defer cancel()
		md := make([]string, len(pairs))
		for i, v := range pairs {
			md[i] = withID(v, id)
		}
		rctx = metadata.AppendToOutgoingContext(rctx, md...)
		var header, trailer metadata.MD
		resp := new(pb.EchoResponse)
		start := time.Now()
		err = conn.Invoke(rctx, req.Method, &pb.EchoRequest{}, resp, grpc.Header(&header), grpc.Trailer(&trailer))
		lat := time.Since(start)
		st, _ := status.FromError(err)
		// gRPC sends the deadline along (grpc-timeout), so the server or a
		// proxy may answer DeadlineExceeded a moment before ours fires: that
		// is still our timeout.
		deadline, _ := rctx.Deadline()
		ownDeadline := ctx.Err() == nil && (rctx.Err() != nil ||
			(st.Code() == codes.DeadlineExceeded && time.Until(deadline) < deadlineSlack))
		if err != nil && transportFailure(err, ownDeadline) {
			return outcome{err: err, timeout: ownDeadline}
		}
		o := outcome{status: st.Code().String(), latency: lat}
		got := metadata.Join(header, trailer)
		version := first(got.Get(sample.HeaderVersion))
		pod := first(got.Get(sample.HeaderPod))
		if a := resp.GetAssertions(); err == nil && a != nil {
			e := &sample.Echo{
				Pod:       a.GetContext().GetPod(),
				Namespace: a.GetContext().GetNamespace(),
				Service:   a.GetContext().GetServiceName(),
				Version:   version,
				Method:    a.GetFullyQualifiedMethod(),
				Host:      a.GetAuthority(),
				Path:      a.GetFullyQualifiedMethod(),
				Headers:   map[string][]string{},
				Proto:     "gRPC",
			}
			for _, h := range a.GetHeaders() {
				k := http.CanonicalHeaderKey(h.GetKey())
				e.Headers[k] = append(e.Headers[k], h.GetValue())
			}
			o.echo = e
			if pod == "" {
				pod = e.Pod
			}
		}
		o.backend = version
		if o.backend == "" {
			o.backend = pod
		}
		if o.echo == nil && pod != "" {
			o.echo = &sample.Echo{Pod: pod, Version: version}
		}
		o.headers = record(req.RecordHeaders, func(n string) []string { return got.Get(n) })
		return o
	}
}

// transportFailure reports whether a gRPC error means the call got no
// answer, as opposed to a status the server or a proxy chose. ownDeadline
// says the call's own deadline passed.
func transportFailure(err error, ownDeadline bool) bool {
	st, ok := status.FromError(err)
	if !ok || ownDeadline {
		return true
	}
	switch st.Code() {
	case codes.Canceled:
		return true
	case codes.Unavailable:
		msg := st.Message()
		if strings.Contains(msg, "unexpected HTTP status code") {
			return false // a proxy answered in plain HTTP
		}
		for _, m := range []string{"connection error", "error reading from server", "transport is closing", "connection reset", "connection refused", "EOF"} {
			if strings.Contains(msg, m) {
				return true
			}
		}
	}
	return false
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func summarize(req sample.Request, outs []outcome) sample.Result {
	res := sample.Result{
		ByBackend: map[string]int{},
		ByStatus:  map[string]int{},
		Errors:    map[sample.ErrorKind]int{},
	}
	var lat []time.Duration
	for _, o := range outs {
		if !o.sent {
			continue
		}
		res.Requests++
		if o.status == "" {
			kind := Classify(o.err, o.timeout)
			res.Errors[kind]++
			if res.ErrorExamples == nil {
				res.ErrorExamples = map[sample.ErrorKind]string{}
			}
			if _, ok := res.ErrorExamples[kind]; !ok {
				res.ErrorExamples[kind] = o.err.Error()
			}
			continue
		}
		res.ByStatus[o.status]++
		lat = append(lat, o.latency)
		if o.backend == "" {
			res.Unattributed++
		} else {
			res.ByBackend[o.backend]++
		}
		if o.echo != nil && o.echo.Pod != "" {
			if res.ByPod == nil {
				res.ByPod = map[string]int{}
			}
			res.ByPod[o.echo.Pod]++
		}
		for n, v := range o.headers {
			res.Headers = count(res.Headers, n, v)
		}
		for _, f := range req.RecordEcho {
			v := sample.Absent
			if o.echo != nil {
				v = o.echo.Field(f)
			}
			res.Echo = count(res.Echo, f, v)
		}
	}
	if req.RecordLatencies {
		res.Latencies = make([]float64, len(lat))
		for i, d := range lat {
			res.Latencies[i] = ms(d)
		}
	}
	res.Latency = quantiles(lat)
	return res
}

func count(m map[string]map[string]int, name, value string) map[string]map[string]int {
	if m == nil {
		m = map[string]map[string]int{}
	}
	if m[name] == nil {
		m[name] = map[string]int{}
	}
	m[name][value]++
	return m
}

// quantiles returns nearest-rank quantiles of d in milliseconds.
func quantiles(d []time.Duration) sample.Latency {
	if len(d) == 0 {
		return sample.Latency{}
	}
	slices.Sort(d)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		return ms(d[max(i, 0)])
	}
	return sample.Latency{P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: ms(d[len(d)-1])}
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*1000) / 1000
}
