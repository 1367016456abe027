package client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gammaproof/gammaproof/internal/loopback"
	"github.com/gammaproof/gammaproof/suite/sample"
	"github.com/gammaproof/gammaproof/suite/sample/echo"
	"github.com/gammaproof/gammaproof/suite/sample/echo/echotest"
)

// startEcho serves an echo backend on loopback for the test and returns its
// address (host:port).
func startEcho(t *testing.T, cfg echo.Config) string { return echotest.Start(t, cfg) }

// weightedProxy is a tiny L7 proxy that sends request i to backends[i %
// len(backends)], so repeating a backend gives it weight.
func weightedProxy(t *testing.T, backends ...string) string {
	t.Helper()
	var n atomic.Uint64
	p := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		i := (n.Add(1) - 1) % uint64(len(backends))
		r.SetURL(&url.URL{Scheme: "http", Host: backends[i]})
		r.Out.Host = r.In.Host
	}}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

func newSampler(t *testing.T) *Sampler {
	s := New()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close sampler: %v", err)
		}
	})
	return s
}

func TestSampleCountsBackends(t *testing.T) {
	v1 := startEcho(t, echo.Config{Pod: "bookstore-v1-0", Version: "v1"})
	v2 := startEcho(t, echo.Config{Pod: "bookstore-v2-0", Version: "v2"})
	v1plain := startEcho(t, echo.Config{Version: "v1", Plain: true})
	v2plain := startEcho(t, echo.Config{Version: "v2", Plain: true})
	podOnly := startEcho(t, echo.Config{Pod: "nov-0"})
	for _, tc := range []struct {
		name     string
		url      string
		req      sample.Request
		want     map[string]int
		wantPods map[string]int
	}{
		{"json 3:1 keep-alive", weightedProxy(t, v1, v1, v1, v2), sample.Request{Count: 100, Concurrency: 8},
			map[string]int{"v1": 75, "v2": 25}, map[string]int{"bookstore-v1-0": 75, "bookstore-v2-0": 25}},
		{"json 1:1 new connections", weightedProxy(t, v1, v2), sample.Request{Count: 40, Concurrency: 4, NewConnectionPerRequest: true},
			map[string]int{"v1": 20, "v2": 20}, map[string]int{"bookstore-v1-0": 20, "bookstore-v2-0": 20}},
		{"plain 9:1", weightedProxy(t, v1plain, v1plain, v1plain, v1plain, v1plain, v1plain, v1plain, v1plain, v1plain, v2plain), sample.Request{Count: 50, Concurrency: 5},
			map[string]int{"v1": 45, "v2": 5}, nil},
		{"pod fallback", "http://" + podOnly + "/", sample.Request{Count: 3},
			map[string]int{"nov-0": 3}, map[string]int{"nov-0": 3}},
		{"h2c direct", "http://" + v2 + "/", sample.Request{Count: 5, H2C: true, RecordEcho: []string{"proto"}},
			map[string]int{"v2": 5}, map[string]int{"bookstore-v2-0": 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.URL = tc.url
			res, err := newSampler(t).Sample(context.Background(), tc.req)
			if err != nil {
				t.Fatalf("Sample: %v", err)
			}
			if res.Requests != tc.req.Count || res.ByStatus["200"] != tc.req.Count || res.Unattributed != 0 || len(res.Errors) != 0 {
				t.Errorf("result %+v: want %d answered 200s, all attributed", res, tc.req.Count)
			}
			if !equalCounts(res.ByBackend, tc.want) || !equalCounts(res.ByPod, tc.wantPods) {
				t.Errorf("byBackend %v byPod %v; want %v %v", res.ByBackend, res.ByPod, tc.want, tc.wantPods)
			}
			if tc.req.H2C && res.Echo["proto"]["HTTP/2.0"] != tc.req.Count {
				t.Errorf("echo proto %v, want all HTTP/2.0", res.Echo["proto"])
			}
		})
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSampleRecords(t *testing.T) {
	v1 := startEcho(t, echo.Config{Pod: "p1", Version: "v1"})
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://example.invalid/elsewhere", http.StatusFound)
	}))
	t.Cleanup(redirect.Close)

	res, err := newSampler(t).Sample(context.Background(), sample.Request{
		URL: "http://" + v1 + "/books?id=7", Method: "POST", Body: "{}", Count: 4,
		Headers:       map[string]string{"Host": "bookstore.store", "X-User": "alice"},
		RecordHeaders: []string{"X-Echo-Version", "X-Missing"},
		RecordEcho:    []string{"method", "path", "host", "header:x-user", "query:id", "header:x-none"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]int{
		"method": {"POST": 4}, "path": {"/books": 4}, "host": {"bookstore.store": 4},
		"header:x-user": {"alice": 4}, "query:id": {"7": 4}, "header:x-none": {sample.Absent: 4},
	}
	for f, w := range want {
		if !equalCounts(res.Echo[f], w) {
			t.Errorf("echo %s = %v, want %v", f, res.Echo[f], w)
		}
	}
	if res.Headers["X-Echo-Version"]["v1"] != 4 || res.Headers["X-Missing"][sample.Absent] != 4 {
		t.Errorf("headers = %v", res.Headers)
	}

	// Redirects are answers, not followed.
	res, err = newSampler(t).Sample(context.Background(), sample.Request{URL: redirect.URL, Count: 2, RecordHeaders: []string{"Location"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ByStatus["302"] != 2 || res.Unattributed != 2 || res.Headers["Location"]["http://example.invalid/elsewhere"] != 2 {
		t.Errorf("redirect result %+v", res)
	}
}

// rawServer accepts connections, reads one request and hands the
// connection to finish.
func rawServer(t *testing.T, finish func(*net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
				c.Close()
				continue
			}
			finish(c.(*net.TCPConn))
		}
	}()
	return ln.Addr().String()
}

func TestSampleErrors(t *testing.T) {
	slow := startEcho(t, echo.Config{Version: "v1"})
	reset := rawServer(t, func(c *net.TCPConn) {
		c.SetLinger(0) //nolint:errcheck // a failure shows as a wrong kind below
		c.Close()
	})
	eof := rawServer(t, func(c *net.TCPConn) { c.Close() })
	for _, tc := range []struct {
		name string
		req  sample.Request
		want sample.ErrorKind
	}{
		{"refused", sample.Request{URL: "http://" + loopback.FreeAddr(t) + "/"}, sample.ErrRefused},
		{"timeout", sample.Request{URL: "http://" + slow + "/?delay=3s", Timeout: sample.Duration(100 * time.Millisecond)}, sample.ErrTimeout},
		{"reset", sample.Request{URL: "http://" + reset + "/", NewConnectionPerRequest: true}, sample.ErrReset},
		{"eof", sample.Request{URL: "http://" + eof + "/", NewConnectionPerRequest: true}, sample.ErrEOF},
		{"grpc refused", sample.Request{URL: loopback.FreeAddr(t), GRPC: true}, sample.ErrRefused},
		{"grpc timeout", sample.Request{URL: slow, GRPC: true, Headers: map[string]string{"x-echo-delay": "3s"}, Timeout: sample.Duration(100 * time.Millisecond)}, sample.ErrTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Count, tc.req.Concurrency = 3, 3
			res, err := newSampler(t).Sample(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests != 3 || res.Errors[tc.want] != 3 || len(res.ByStatus) != 0 {
				t.Errorf("result %+v; want 3 %q errors and no answers", res, tc.want)
			}
			if res.ErrorExamples[tc.want] == "" {
				t.Errorf("no example for %q: %v", tc.want, res.ErrorExamples)
			}
		})
	}
}

func TestSampleGRPC(t *testing.T) {
	v1 := startEcho(t, echo.Config{Pod: "g1", Version: "v1", Namespace: "ns"})
	v2 := startEcho(t, echo.Config{Pod: "g2"})
	for _, tc := range []struct {
		name        string
		req         sample.Request
		wantStatus  string
		wantBackend string
	}{
		{"keep-alive", sample.Request{URL: v1, Count: 20, Concurrency: 4}, "OK", "v1"},
		{"new connections", sample.Request{URL: v1, Count: 5, NewConnectionPerRequest: true}, "OK", "v1"},
		{"echo two", sample.Request{URL: v1, Count: 2, Method: "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/EchoTwo"}, "OK", "v1"},
		{"pod fallback", sample.Request{URL: v2, Count: 2}, "OK", "g2"},
		{"status still attributed", sample.Request{URL: v1, Count: 3, Headers: map[string]string{"x-echo-grpc-status": "14"}}, "Unavailable", "v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.GRPC = true
			tc.req.Headers = mergeMaps(tc.req.Headers, map[string]string{"x-user": "carol", "Host": "echo.ns:8080"})
			tc.req.RecordEcho = []string{"header:x-user", "host", "path"}
			tc.req.RecordHeaders = []string{"x-echo-pod"}
			res, err := newSampler(t).Sample(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			n := tc.req.Count
			if res.ByStatus[tc.wantStatus] != n || res.ByBackend[tc.wantBackend] != n || len(res.Errors) != 0 {
				t.Errorf("result %+v; want %d %s from %s", res, n, tc.wantStatus, tc.wantBackend)
			}
			if tc.wantStatus == "OK" && (res.Echo["header:x-user"]["carol"] != n || res.Echo["host"]["echo.ns:8080"] != n) {
				t.Errorf("echo %v; want x-user carol and authority echo.ns:8080", res.Echo)
			}
			if len(res.Headers["x-echo-pod"]) != 1 {
				t.Errorf("headers %v; want x-echo-pod recorded", res.Headers)
			}
		})
	}
}

func mergeMaps(a, b map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// countingEcho starts an echo server (version v1) that counts the
// connections it accepts.
func countingEcho() (*httptest.Server, *atomic.Int64) {
	conns := &atomic.Int64{}
	srv := httptest.NewUnstartedServer(echo.New(echo.Config{Version: "v1"}).Handler())
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	return srv, conns
}

// TestConnections: the sampler keeps connections alive across requests and
// batches, unless a request asks for a new connection per request, or a
// batch for fresh connections (then it does not reuse the connection an
// earlier batch kept alive).
func TestConnections(t *testing.T) {
	for _, tc := range []struct {
		name      string
		req       sample.Request // sent tc.batches times, to the server's URL
		batches   int
		wantConns int64
	}{
		{"one batch, reused", sample.Request{Count: 10}, 1, 1},
		{"newConnectionPerRequest", sample.Request{Count: 10, NewConnectionPerRequest: true}, 1, 10},
		{"two batches, reused", sample.Request{Count: 3}, 2, 1},
		{"freshConnections", sample.Request{Count: 3, FreshConnections: true}, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, conns := countingEcho()
			defer srv.Close()
			s := newSampler(t)
			req := tc.req
			req.URL = srv.URL
			for range tc.batches {
				res, err := s.Sample(context.Background(), req)
				if err != nil || res.ByBackend["v1"] != req.Count {
					t.Fatalf("Sample = %+v, %v", res, err)
				}
			}
			srv.Close()
			if conns.Load() != tc.wantConns {
				t.Errorf("%d connections over %d batch(es), want %d", conns.Load(), tc.batches, tc.wantConns)
			}
		})
	}
}

func TestLatency(t *testing.T) {
	v1 := startEcho(t, echo.Config{Version: "v1"})
	res, err := newSampler(t).Sample(context.Background(), sample.Request{URL: "http://" + v1 + "/?delay=20ms", Count: 30, Concurrency: 10})
	if err != nil {
		t.Fatal(err)
	}
	l := res.Latency
	if !(20 <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("latency %+v: want 20ms <= p50 <= p90 <= p99 <= max", l)
	}
	if res.DurationMs < 60 { // 30 requests of 20ms, 10 at a time
		t.Errorf("durationMs %v, want at least 60", res.DurationMs)
	}
	if res.Latencies != nil {
		t.Errorf("latencies %v without recordLatencies, want none", res.Latencies)
	}
	res, err = newSampler(t).Sample(context.Background(), sample.Request{URL: "http://" + v1 + "/?delay=20ms", Count: 30, Concurrency: 10, RecordLatencies: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Latencies) != 30 || slices.Min(res.Latencies) < 20 || slices.Max(res.Latencies) != res.Latency.Max {
		t.Errorf("recorded latencies %v (latency %+v): want 30, each at least 20 ms, the largest the max", res.Latencies, res.Latency)
	}

	for _, tc := range []struct {
		in   []time.Duration
		want sample.Latency
	}{
		{nil, sample.Latency{}},
		{[]time.Duration{5 * time.Millisecond}, sample.Latency{P50: 5, P90: 5, P99: 5, Max: 5}},
		{msList(100, 1), sample.Latency{P50: 50, P90: 90, P99: 99, Max: 100}},
		{msList(10, 1), sample.Latency{P50: 5, P90: 9, P99: 10, Max: 10}},
	} {
		if got := quantiles(tc.in); got != tc.want {
			t.Errorf("quantiles(%d values) = %+v, want %+v", len(tc.in), got, tc.want)
		}
	}
}

// msList returns n, n-1, ... 1 times step milliseconds (unsorted on purpose).
func msList(n, step int) []time.Duration {
	var d []time.Duration
	for i := n; i >= 1; i-- {
		d = append(d, time.Duration(i*step)*time.Millisecond)
	}
	return d
}

// TestRate checks the open schedule: 50 requests at 200/s take about
// 245 ms however many may be in flight, and unpaced ones do not.
func TestRate(t *testing.T) {
	v1 := startEcho(t, echo.Config{Version: "v1"})
	for _, tc := range []struct {
		rate     float64
		min, max float64 // durationMs bounds
	}{
		{rate: 200, min: 240, max: 2000},
		{rate: 0, min: 0, max: 240},
	} {
		res, err := newSampler(t).Sample(context.Background(), sample.Request{URL: "http://" + v1 + "/", Count: 50, Concurrency: 8, Rate: tc.rate})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 50 || res.DurationMs < tc.min || res.DurationMs > tc.max {
			t.Errorf("rate %g: %d requests in %.1f ms, want 50 in [%g, %g] ms", tc.rate, res.Requests, res.DurationMs, tc.min, tc.max)
		}
	}
}

func TestSampleStopsWithContext(t *testing.T) {
	v1 := startEcho(t, echo.Config{Version: "v1"})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	res, err := newSampler(t).Sample(ctx, sample.Request{URL: "http://" + v1 + "/?delay=50ms", Count: 1000})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if res.Requests == 0 || res.Requests > 5 {
		t.Errorf("sent %d requests before the deadline, want 1 to 5", res.Requests)
	}
}

// retryOnce forwards to backend and retries once when the answer is 503, as
// a mesh retry policy would.
func retryOnce(t *testing.T, backend string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var resp *http.Response
		for range 2 {
			var err error
			resp, err = http.Get("http://" + backend + r.URL.RequestURI())
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			if resp.StatusCode != http.StatusServiceUnavailable {
				break
			}
			resp.Body.Close()
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body) //nolint:errcheck // test proxy
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRequestIDForRetries(t *testing.T) {
	v1 := startEcho(t, echo.Config{Version: "v1"})
	for _, tc := range []struct {
		name string
		url  string
		want map[string]int
	}{
		{"every request fails once", "http://" + v1 + "/?fail=1&key=" + sample.RequestID, map[string]int{"503": 6}},
		{"a retry succeeds", retryOnce(t, v1) + "/?fail=1&key=" + sample.RequestID, map[string]int{"200": 6}},
		{"a fixed key fails once in all", "http://" + v1 + "/?fail=1&key=fixed", map[string]int{"503": 1, "200": 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := newSampler(t).Sample(context.Background(), sample.Request{URL: tc.url, Count: 6, Concurrency: 1, RecordEcho: []string{"query:key"}})
			if err != nil {
				t.Fatal(err)
			}
			if !equalCounts(res.ByStatus, tc.want) || res.ByBackend["v1"] != 6 {
				t.Errorf("byStatus %v byBackend %v; want %v, all from v1", res.ByStatus, res.ByBackend, tc.want)
			}
			if keys := len(res.Echo["query:key"]); strings.HasSuffix(tc.url, sample.RequestID) && keys != 6 {
				t.Errorf("%d distinct keys %v, want 6", keys, res.Echo["query:key"])
			}
		})
	}
}

func TestGRPCStatusFromAProxy(t *testing.T) {
	// A proxy that answers gRPC calls in plain HTTP, and one that answers
	// DEADLINE_EXCEEDED itself (as Envoy does on a route timeout): both are
	// answers, counted by status, not errors.
	plain := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
	}))
	deadline := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Grpc-Status", "4")
		w.Header().Set("Grpc-Message", "upstream request timeout")
		w.WriteHeader(http.StatusOK)
	}))
	for _, tc := range []struct {
		srv  *httptest.Server
		want string
	}{{plain, "Unavailable"}, {deadline, "DeadlineExceeded"}} {
		tc.srv.Config.Protocols = new(http.Protocols)
		tc.srv.Config.Protocols.SetUnencryptedHTTP2(true)
		tc.srv.Start()
		t.Cleanup(tc.srv.Close)
		res, err := newSampler(t).Sample(context.Background(), sample.Request{URL: tc.srv.Listener.Addr().String(), GRPC: true, Count: 2})
		if err != nil {
			t.Fatal(err)
		}
		if res.ByStatus[tc.want] != 2 || len(res.Errors) != 0 || res.Unattributed != 2 {
			t.Errorf("result %+v; want 2 unattributed %s answers", res, tc.want)
		}
	}
}
