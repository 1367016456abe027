package echo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	pb "sigs.k8s.io/gateway-api/conformance/echo-basic/grpcechoserver"

	"github.com/gammaproof/gammaproof/suite/sample"
)

// start serves an echo backend on a loopback port for the test's lifetime
// and returns its address.
func start(t *testing.T, cfg Config) (string, *Server) {
	t.Helper()
	s := New(cfg)
	addr, cancel, done := serve(t, s)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return addr, s
}

// serve runs s.Serve on a loopback port in the background and returns the
// address; cancel ends Serve's context (at the latest when the test ends)
// and done yields what Serve returned.
func serve(t *testing.T, s *Server) (addr string, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, ln) }()
	return ln.Addr().String(), cancel, errc
}

var v1 = Config{Pod: "echo-v1-abc", Namespace: "store", Version: "v1", Service: "echo"}

func get(t *testing.T, c *http.Client, url string, h map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp, b
}

func TestHTTPEcho(t *testing.T) {
	addr, _ := start(t, v1)
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(h2c.CloseIdleConnections)
	for _, tc := range []struct {
		name      string
		client    *http.Client
		path      string
		headers   map[string]string
		wantProto string
	}{
		{"http1", http.DefaultClient, "/books/1?a=1&a=2&b=x", map[string]string{"Host": "bookstore.store", "X-User": "alice"}, "HTTP/1.1"},
		{"h2c", &http.Client{Transport: h2c}, "/v2?b=x", map[string]string{"Host": "bookstore", "X-User": "bob"}, "HTTP/2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, tc.client, "http://"+addr+tc.path, tc.headers)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, content type %q; want 200 JSON", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if resp.Header.Get(sample.HeaderVersion) != "v1" || resp.Header.Get(sample.HeaderPod) != "echo-v1-abc" {
				t.Errorf("identity headers = %v", resp.Header)
			}
			// Stable field names are part of the protocol: check the raw JSON.
			var raw map[string]any
			if err := json.Unmarshal(body, &raw); err != nil {
				t.Fatalf("decode %s: %v", body, err)
			}
			for _, f := range []string{"pod", "namespace", "version", "method", "path", "host", "query", "headers", "proto"} {
				if _, ok := raw[f]; !ok {
					t.Errorf("answer has no %q field: %s", f, body)
				}
			}
			var e sample.Echo
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatal(err)
			}
			wantPath, _, _ := strings.Cut(tc.path, "?")
			if e.Pod != v1.Pod || e.Namespace != "store" || e.Version != "v1" || e.Service != "echo" ||
				e.Method != "GET" || e.Path != wantPath || e.Host != tc.headers["Host"] || e.Proto != tc.wantProto ||
				e.Query["b"][0] != "x" || e.Headers["X-User"][0] != tc.headers["X-User"] {
				t.Errorf("echo = %+v", e)
			}
		})
	}
}

func TestHTTPBehaviour(t *testing.T) {
	addr, _ := start(t, v1)
	for _, tc := range []struct {
		name       string
		path       string
		headers    map[string]string
		wantStatus int
		minDelay   time.Duration
		wantBody   string
	}{
		{"status query", "/?status=503", nil, 503, 0, `"version":"v1"`},
		{"status header", "/", map[string]string{sample.HeaderStatus: "418"}, 418, 0, `"version":"v1"`},
		{"delay query", "/?delay=150ms", nil, 200, 150 * time.Millisecond, `"path":"/"`},
		{"delay header and status", "/", map[string]string{sample.HeaderDelay: "100ms", sample.HeaderStatus: "504"}, 504, 100 * time.Millisecond, ""},
		{"bad delay", "/?delay=soon", nil, 400, 0, `delay "soon": use a Go duration`},
		{"bad status", "/?status=99", nil, 400, 0, `status "99"`},
		{"delay too long", "/?delay=1h", nil, 400, 0, "must be between 0 and 5m0s"},
		{"ready", ReadyPath, nil, 200, 0, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			resp, body := get(t, http.DefaultClient, "http://"+addr+tc.path, tc.headers)
			took := time.Since(start)
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, tc.wantStatus, body)
			}
			if took < tc.minDelay {
				t.Errorf("answered after %v, want at least %v", took, tc.minDelay)
			}
			if !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("body %q does not contain %q", body, tc.wantBody)
			}
		})
	}
}

func TestFailFirst(t *testing.T) {
	addr, _ := start(t, v1)
	var got []int
	for range 4 {
		resp, _ := get(t, http.DefaultClient, "http://"+addr+"/retry?fail=2&key=a", nil)
		got = append(got, resp.StatusCode)
	}
	// Another key has its own count; the status applies to the failures.
	for range 2 {
		resp, _ := get(t, http.DefaultClient, "http://"+addr+"/retry", map[string]string{sample.HeaderFail: "1", sample.HeaderKey: "b", sample.HeaderStatus: "502"})
		got = append(got, resp.StatusCode)
	}
	want := []int{503, 503, 200, 200, 502, 200}
	if !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
}

func TestReadiness(t *testing.T) {
	addr, s := start(t, v1)
	s.SetReady(false)
	resp, _ := get(t, http.DefaultClient, "http://"+addr+ReadyPath, nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("not ready: status %d, want 503", resp.StatusCode)
	}
	s.SetReady(true)
	if resp, _ := get(t, http.DefaultClient, "http://"+addr+ReadyPath, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("ready: status %d, want 200", resp.StatusCode)
	}
}

func TestPlain(t *testing.T) {
	addr, _ := start(t, Config{Version: "v2", Plain: true})
	for path, wantStatus := range map[string]int{"/": 200, "/?status=503": 503} {
		resp, body := get(t, http.DefaultClient, "http://"+addr+path, nil)
		if string(body) != "Response from v2\n" {
			t.Errorf("GET %s: body %q, want the seed's %q", path, body, "Response from v2\n")
		}
		if backend, _ := sample.Attribute(body); backend != "v2" {
			t.Errorf("GET %s: attributed to %q, want v2", path, backend)
		}
		if resp.StatusCode != wantStatus {
			t.Errorf("GET %s: status %d, want %d", path, resp.StatusCode, wantStatus)
		}
	}
}

func TestGRPC(t *testing.T) {
	addr, _ := start(t, v1)
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority("echo.store:8080"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := pb.NewGrpcEchoClient(conn)
	for _, tc := range []struct {
		name     string
		call     func(context.Context, *pb.EchoRequest, ...grpc.CallOption) (*pb.EchoResponse, error)
		method   string
		md       []string
		wantCode codes.Code
	}{
		{"echo", c.Echo, pb.GrpcEcho_Echo_FullMethodName, []string{"x-user", "alice"}, codes.OK},
		{"echo two", c.EchoTwo, pb.GrpcEcho_EchoTwo_FullMethodName, []string{"x-user", "bob"}, codes.OK},
		{"unimplemented", c.EchoThree, "", nil, codes.Unimplemented},
		{"asked status", c.Echo, "", []string{"x-echo-grpc-status", "14"}, codes.Unavailable},
		{"bad delay", c.Echo, "", []string{"x-echo-delay", "x"}, codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(context.Background(), tc.md...)
			var header metadata.MD
			resp, err := tc.call(ctx, &pb.EchoRequest{}, grpc.Header(&header))
			if status.Code(err) != tc.wantCode {
				t.Fatalf("code %v (%v), want %v", status.Code(err), err, tc.wantCode)
			}
			if err != nil {
				return
			}
			a := resp.GetAssertions()
			if a.GetFullyQualifiedMethod() != tc.method || a.GetAuthority() != "echo.store:8080" ||
				a.GetContext().GetPod() != v1.Pod || a.GetContext().GetNamespace() != "store" {
				t.Errorf("assertions = %v", a)
			}
			found := false
			for _, h := range a.GetHeaders() {
				found = found || (h.GetKey() == tc.md[0] && h.GetValue() == tc.md[1])
			}
			if !found {
				t.Errorf("headers %v lack %s=%s", a.GetHeaders(), tc.md[0], tc.md[1])
			}
			if v := header.Get("x-echo-version"); len(v) != 1 || v[0] != "v1" {
				t.Errorf("header metadata x-echo-version = %v, want [v1]", v)
			}
		})
	}
}

func TestGRPCDelayAndFail(t *testing.T) {
	addr, _ := start(t, v1)
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := pb.NewGrpcEchoClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.Echo(metadata.AppendToOutgoingContext(ctx, "x-echo-delay", "2s"), &pb.EchoRequest{})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("delayed call: %v, want DeadlineExceeded", err)
	}
	var codesSeen []codes.Code
	for range 3 {
		_, err := c.Echo(metadata.AppendToOutgoingContext(context.Background(), "x-echo-fail", "2", "x-echo-key", "g"), &pb.EchoRequest{})
		codesSeen = append(codesSeen, status.Code(err))
	}
	if codesSeen[0] != codes.Unavailable || codesSeen[1] != codes.Unavailable || codesSeen[2] != codes.OK {
		t.Errorf("fail-first codes %v, want [Unavailable Unavailable OK]", codesSeen)
	}
}

func TestServeStops(t *testing.T) {
	_, cancel, done := serve(t, New(v1))
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Serve after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}

func TestServeCutsLongRequests(t *testing.T) {
	cfg := v1
	cfg.ShutdownGrace = 300 * time.Millisecond
	addr, cancel, done := serve(t, New(cfg))
	got := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/?delay=1m")
		if err == nil {
			resp.Body.Close()
		}
		got <- err
	}()
	time.Sleep(200 * time.Millisecond) // let the request arrive
	start := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve = %v, want nil after cutting a long request", err)
	}
	if took := time.Since(start); took < cfg.ShutdownGrace || took > cfg.ShutdownGrace+2*time.Second {
		t.Errorf("shutdown took %v, want about the grace period %v", took, cfg.ShutdownGrace)
	}
	if err := <-got; err == nil {
		t.Error("the 1m request got an answer, want it cut")
	}
}
