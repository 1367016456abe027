package dataplane

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gammaproof/gammaproof/impl/proxy/config"
	"github.com/gammaproof/gammaproof/impl/xdscontract"
)

// TestForwardHTTPSemantics checks what the proxy does to requests and
// responses on their way: hop-by-hop headers, forwarding headers, query
// cleaning, 1xx relay, trailers, no Content-Type sniffing, and aborting a
// response whose upstream body breaks off.
func TestForwardHTTPSemantics(t *testing.T) {
	seen := make(chan *http.Request, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		seen <- r
		switch r.URL.Path {
		case "/hop":
			w.Header().Set("Connection", "X-Custom")
			w.Header().Set("X-Custom", "c")
			w.Header().Set("Keep-Alive", "timeout=5")
			w.Header().Set("X-Kept", "k")
		case "/trailers":
			w.Header().Set("Trailer", "X-Announced")
			io.WriteString(w, "body")
			w.Header().Set("X-Announced", "a")
			w.Header().Set(http.TrailerPrefix+"X-Unannounced", "u")
		case "/early":
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
		case "/nosniff":
			w.Header()["Content-Type"] = nil
			io.WriteString(w, "<html></html>")
		case "/broken":
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "short")
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
		}
	}))
	t.Cleanup(up.Close)
	s, err := New(Options{ListenHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	s.SetRoutes([]*config.RouteTable{{Name: "r", VirtualHosts: []*config.VirtualHost{{Domains: []string{"*"}, Routes: []*xdscontract.Route{
		{Name: "all", Forward: &xdscontract.Forward{Backends: []xdscontract.Backend{{Cluster: "up", Weight: 1}}, TotalWeight: 1, NotFoundStatus: 500, Timeout: 5 * time.Second}},
	}}}}})
	if err := s.SetListeners([]*config.Listener{{Name: "l", Host: "0.0.0.0", RouteName: "r"}}); err != nil {
		t.Fatal(err)
	}
	s.SetClusters([]*config.Cluster{{Name: "up", EDSName: "up", ConnectTimeout: time.Second}})
	s.SetEndpoints([]*config.Endpoints{{Cluster: "up", Addrs: []string{up.Listener.Addr().String()}}})
	addr := "127.0.0.1:" + strconv.Itoa(int(s.Listeners()[0].Port))

	// try writes a raw request and returns the responses up to the final one.
	try := func(t *testing.T, raw string) ([]*http.Response, error) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, raw)
		br := bufio.NewReader(c)
		var resps []*http.Response
		for {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return resps, err
			}
			resps = append(resps, resp)
			if resp.StatusCode >= 200 {
				return resps, nil
			}
		}
	}
	send := func(t *testing.T, raw string) []*http.Response {
		t.Helper()
		resps, err := try(t, raw)
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		return resps
	}
	upstreamSaw := func(t *testing.T) *http.Request {
		t.Helper()
		select {
		case r := <-seen:
			return r
		case <-time.After(5 * time.Second):
			t.Fatal("the upstream got no request")
			return nil
		}
	}

	t.Run("request headers", func(t *testing.T) {
		send(t, "GET /req?a=1;b=2&c=3 HTTP/1.1\r\nHost: svc\r\n"+
			"Connection: keep-alive, X-Foo, X-Forwarded-For\r\nX-Foo: bar\r\nKeep-Alive: 1\r\nProxy-Authorization: p\r\n"+
			"Te: trailers, deflate\r\nForwarded: for=x\r\nX-Forwarded-For: 198.18.0.7\r\nX-Forwarded-Proto: http\r\n\r\n")
		r := upstreamSaw(t)
		for _, gone := range []string{"Connection", "X-Foo", "Keep-Alive", "Proxy-Authorization", "Forwarded", "User-Agent"} {
			if v, ok := r.Header[gone]; ok {
				t.Errorf("upstream got %s: %q", gone, v)
			}
		}
		for k, want := range map[string]string{"Te": "trailers", "X-Forwarded-For": "198.18.0.7", "X-Forwarded-Proto": "http"} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("upstream got %s %q, want %q", k, got, want)
			}
		}
		if r.URL.RawQuery != "c=3" {
			t.Errorf("upstream got query %q, want the unparsable part dropped: c=3", r.URL.RawQuery)
		}
	})
	t.Run("response headers", func(t *testing.T) {
		resp := send(t, "GET /hop HTTP/1.1\r\nHost: svc\r\n\r\n")[0]
		upstreamSaw(t)
		for _, gone := range []string{"X-Custom", "Keep-Alive"} {
			if v, ok := resp.Header[gone]; ok {
				t.Errorf("client got %s: %q", gone, v)
			}
		}
		if resp.Header.Get("X-Kept") != "k" {
			t.Errorf("client got headers %v, want X-Kept", resp.Header)
		}
	})
	t.Run("trailers", func(t *testing.T) {
		resp := send(t, "GET /trailers HTTP/1.1\r\nHost: svc\r\n\r\n")[0]
		upstreamSaw(t)
		if body, err := io.ReadAll(resp.Body); err != nil || string(body) != "body" {
			t.Fatalf("body %q, %v", body, err)
		}
		if resp.Trailer.Get("X-Announced") != "a" || resp.Trailer.Get("X-Unannounced") != "u" {
			t.Errorf("trailers %v, want X-Announced: a and X-Unannounced: u", resp.Trailer)
		}
	})
	t.Run("early hints", func(t *testing.T) {
		resps := send(t, "GET /early HTTP/1.1\r\nHost: svc\r\n\r\n")
		upstreamSaw(t)
		if len(resps) != 2 || resps[0].StatusCode != http.StatusEarlyHints || resps[0].Header.Get("Link") == "" || resps[1].StatusCode != 200 {
			t.Errorf("got %d responses, first %d %v; want 103 with Link, then 200", len(resps), resps[0].StatusCode, resps[0].Header)
		}
	})
	t.Run("no content type sniffing", func(t *testing.T) {
		resp := send(t, "GET /nosniff HTTP/1.1\r\nHost: svc\r\n\r\n")[0]
		upstreamSaw(t)
		if ct, ok := resp.Header["Content-Type"]; ok {
			t.Errorf("client got Content-Type %q, the upstream sent none", ct)
		}
	})
	t.Run("broken body", func(t *testing.T) {
		resps, err := try(t, "GET /broken HTTP/1.1\r\nHost: svc\r\n\r\n")
		upstreamSaw(t)
		if err == nil {
			_, err = io.ReadAll(resps[0].Body)
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("reading a response whose upstream body broke off: %v, want unexpected EOF", err)
		}
	})
}
