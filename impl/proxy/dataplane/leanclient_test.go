package dataplane

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newTestLean returns a lean client that dials like newUpstream's.
func newTestLean(t *testing.T, idleTimeout time.Duration) *leanClient {
	t.Helper()
	var d net.Dialer
	lc := newLeanClient(func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, &connectError{err: err}
		}
		return conn, nil
	}, 16, idleTimeout)
	t.Cleanup(lc.close)
	return lc
}

// countingServer starts h and counts the connections it accepts.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// wantConns checks how many connections the server accepted and how many
// the client keeps idle.
func wantConns(t *testing.T, conns *atomic.Int32, lc *leanClient, accepted int32, idle int) {
	t.Helper()
	if n := conns.Load(); n != accepted {
		t.Errorf("%d connections, want %d", n, accepted)
	}
	if n := lc.idleCount(); n != idle {
		t.Errorf("%d idle connections, want %d", n, idle)
	}
}

// rawServer serves each connection with serve, which reads the request
// head itself.
func rawServer(t *testing.T, serve func(net.Conn, *bufio.Reader)) (addr string, conns *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	conns = new(atomic.Int32)
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			wg.Go(func() {
				defer conn.Close()
				serve(conn, bufio.NewReader(conn))
			})
		}
	})
	return ln.Addr().String(), conns
}

// leanGet sends a request through lc and returns the response with its
// body read and closed.
func leanGet(t *testing.T, ctx context.Context, lc *leanClient, method, url string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !leanCarries(req) {
		t.Fatalf("lean client does not carry %s %s", method, url)
	}
	resp, err := lc.roundTrip(req)
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body), err
}

func (lc *leanClient) idleCount() int {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	n := 0
	for _, conns := range lc.idle {
		n += len(conns)
	}
	return n
}

func TestLeanKeepAlive(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s ua=%q", r.Method, r.URL.RequestURI(), r.UserAgent())
	})
	lc := newTestLean(t, time.Minute)
	for i := range 10 {
		_, body, err := leanGet(t, t.Context(), lc, "GET", fmt.Sprintf("%s/p%d?q=1", srv.URL, i))
		if want := fmt.Sprintf("GET /p%d?q=1 ua=\"\"", i); err != nil || body != want {
			t.Fatalf("request %d: %q, %v; want %q", i, body, err, want)
		}
	}
	if resp, body, err := leanGet(t, t.Context(), lc, "HEAD", srv.URL); err != nil || body != "" || resp.StatusCode != 200 {
		t.Fatalf("HEAD: %v %q, %v", resp, body, err)
	}
	wantConns(t, conns, lc, 1, 1)
}

func TestLeanConnectionClose(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	lc := newTestLean(t, time.Minute)
	for range 3 {
		if _, body, err := leanGet(t, t.Context(), lc, "GET", srv.URL); err != nil || body != "bye" {
			t.Fatalf("got %q, %v", body, err)
		}
	}
	wantConns(t, conns, lc, 3, 0)
}

// TestLeanBodyClosedUnread checks that a connection whose response was not
// read to its end is closed, not reused.
func TestLeanBodyClosedUnread(t *testing.T) {
	release := make(chan struct{})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		io.WriteString(w, "a")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "b")
	})
	defer close(release)
	lc := newTestLean(t, time.Minute)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL, nil)
	resp, err := lc.roundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := lc.idleCount(); n != 0 {
		t.Errorf("%d idle connections, want 0", n)
	}
}

func TestLeanChunkedBodyAndTrailers(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		for _, s := range []string{"one ", "two ", "three"} {
			io.WriteString(w, s)
			w.(http.Flusher).Flush()
		}
		w.Header().Set("X-Sum", "3")
	})
	lc := newTestLean(t, time.Minute)
	for range 2 {
		resp, body, err := leanGet(t, t.Context(), lc, "GET", srv.URL)
		if err != nil || body != "one two three" {
			t.Fatalf("got %q, %v", body, err)
		}
		if resp.ContentLength != -1 || resp.Trailer.Get("X-Sum") != "3" {
			t.Errorf("ContentLength %d, trailers %v; want -1 and X-Sum: 3", resp.ContentLength, resp.Trailer)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestLeanBodyUntilClose(t *testing.T) {
	addr, conns := rawServer(t, func(conn net.Conn, br *bufio.Reader) {
		http.ReadRequest(br)
		io.WriteString(conn, "HTTP/1.1 200 OK\r\n\r\nuntil close")
	})
	lc := newTestLean(t, time.Minute)
	for range 2 {
		if _, body, err := leanGet(t, t.Context(), lc, "GET", "http://"+addr); err != nil || body != "until close" {
			t.Fatalf("got %q, %v", body, err)
		}
	}
	wantConns(t, conns, lc, 2, 0)
}

// TestLeanStaleIdleConn has the server close each connection after one
// response: a request on the stale connection is sent again on a new one,
// but not once more when that one fails too.
func TestLeanStaleIdleConn(t *testing.T) {
	closed := make(chan struct{}, 10)
	addr, conns := rawServer(t, func(conn net.Conn, br *bufio.Reader) {
		defer func() {
			conn.Close()
			closed <- struct{}{}
		}()
		if r, err := http.ReadRequest(br); err != nil || r.URL.Path == "/hangup" {
			return
		}
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	lc := newTestLean(t, time.Minute)
	if _, body, err := leanGet(t, t.Context(), lc, "GET", "http://"+addr); err != nil || body != "ok" {
		t.Fatalf("first request: %q, %v", body, err)
	}
	<-closed
	if _, body, err := leanGet(t, t.Context(), lc, "OPTIONS", "http://"+addr); err != nil || body != "ok" {
		t.Fatalf("on a stale connection: %q, %v", body, err)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
	<-closed
	_, _, err := leanGet(t, t.Context(), lc, "GET", "http://"+addr+"/hangup")
	var ce *connectError
	if err == nil || errors.As(err, &ce) {
		t.Errorf("got %v, want a reset", err)
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

func TestLeanContextTimeout(t *testing.T) {
	release := make(chan struct{})
	serverSawClose := make(chan error, 1)
	addr, _ := rawServer(t, func(conn net.Conn, br *bufio.Reader) {
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if r.URL.Path == "/head" {
			<-release // no response before the deadline
			return
		}
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
		_, err = br.ReadByte()
		serverSawClose <- err
	})
	t.Cleanup(func() { close(release) })
	lc := newTestLean(t, time.Minute)

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/body", nil)
	resp, err := lc.roundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if string(body) != "partial" || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("body read %q, %v; want \"partial\" and a deadline error", body, err)
	}
	resp.Body.Close()
	select {
	case err := <-serverSawClose:
		if err == nil {
			t.Error("the server read more bytes instead of a close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the connection was not closed")
	}

	ctx, cancel = context.WithTimeoutCause(t.Context(), 50*time.Millisecond, errPerTryTimeout)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/head", nil)
	if _, err := lc.roundTrip(req); !errors.Is(err, errPerTryTimeout) {
		t.Errorf("response head after the deadline: %v, want the context's cause", err)
	}
	if n := lc.idleCount(); n != 0 {
		t.Errorf("%d idle connections, want 0", n)
	}
}

func TestLeanIdleTimeout(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	lc := newTestLean(t, 20*time.Millisecond)
	if _, _, err := leanGet(t, t.Context(), lc, "GET", srv.URL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for lc.idleCount() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the idle connection was not closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLeanConnectError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, _, err = leanGet(t, t.Context(), newTestLean(t, time.Minute), "GET", "http://"+addr)
	var ce *connectError
	if !errors.As(err, &ce) {
		t.Errorf("got %v, want a connect error", err)
	}
}

func TestLeanConcurrent(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Query().Get("n"))
	})
	lc := newTestLean(t, time.Minute)
	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range 50 {
				n := fmt.Sprint(w*1000 + i)
				if _, body, err := leanGet(t, t.Context(), lc, "GET", srv.URL+"/?n="+n); err != nil || body != n {
					t.Errorf("got %q, %v; want %q", body, err, n)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := conns.Load(); n > workers {
		t.Errorf("%d connections for %d workers", n, workers)
	}
}

func TestLeanCarries(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  func() *http.Request
		want bool
	}{
		{"GET", func() *http.Request { return httptest.NewRequest("GET", "http://svc/", nil) }, true},
		{"OPTIONS", func() *http.Request { return httptest.NewRequest("OPTIONS", "http://svc/", nil) }, true},
		{"DELETE", func() *http.Request { return httptest.NewRequest("DELETE", "http://svc/", nil) }, false},
		{"POST", func() *http.Request { return httptest.NewRequest("POST", "http://svc/", nil) }, false},
		{"body", func() *http.Request { return httptest.NewRequest("GET", "http://svc/", strings.NewReader("x")) }, false},
		{"upgrade", func() *http.Request {
			r := httptest.NewRequest("GET", "http://svc/", nil)
			r.Header.Set("Connection", "Upgrade")
			r.Header.Set("Upgrade", "websocket")
			return r
		}, false},
		{"expect", func() *http.Request {
			r := httptest.NewRequest("GET", "http://svc/", nil)
			r.Header.Set("Expect", "100-continue")
			return r
		}, false},
		{"bad header value", func() *http.Request {
			r := httptest.NewRequest("GET", "http://svc/", nil)
			r.Header["X-Bad"] = []string{"a\r\nInjected: 1"}
			return r
		}, false},
		{"bad header name", func() *http.Request {
			r := httptest.NewRequest("GET", "http://svc/", nil)
			r.Header["X Bad"] = []string{"a"}
			return r
		}, false},
		{"bad host", func() *http.Request {
			r := httptest.NewRequest("GET", "http://svc/", nil)
			r.Host = "svc\r\nX: y"
			return r
		}, false},
	} {
		r := tc.req()
		if tc.name != "body" {
			r.Body = nil // as forward sends bodyless requests
		}
		if got := leanCarries(r); got != tc.want {
			t.Errorf("%s: leanCarries = %v, want %v", tc.name, got, tc.want)
		}
	}
}
