package dataplane

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strconv"
	"testing"
	"time"

	"github.com/gammaproof/gammaproof/impl/proxy/config"
	"github.com/gammaproof/gammaproof/impl/xdscontract"
)

// TestRouteWarming: a request to a listener whose route configuration has
// not arrived yet (a restarted proxy whose steering outlived it) waits for
// it up to WarmTimeout instead of failing with 503; after that it gets 503.
func TestRouteWarming(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(up.Close)
	s, err := New(Options{ListenHost: "127.0.0.1", WarmTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	s.SetClusters([]*config.Cluster{{Name: "c", EDSName: "c", ConnectTimeout: time.Second}})
	s.SetEndpoints([]*config.Endpoints{{Cluster: "c", Addrs: []string{up.Listener.Addr().String()}}})
	if err := s.SetListeners([]*config.Listener{{Name: "l", Host: "0.0.0.0", RouteName: "r"}}); err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(int(s.Listeners()[0].Port))
	get := func() (int, time.Duration) {
		t.Helper()
		start := time.Now()
		resp, err := http.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}

	if code, took := get(); code != 503 || took < 900*time.Millisecond {
		t.Errorf("no route configuration: %d after %v, want 503 after WarmTimeout (1s)", code, took)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		s.SetRoutes([]*config.RouteTable{{Name: "r", VirtualHosts: []*config.VirtualHost{{Domains: []string{"*"}, Routes: []*xdscontract.Route{
			{Name: "to-c", Forward: &xdscontract.Forward{Backends: []xdscontract.Backend{{Cluster: "c", Weight: 1}}, TotalWeight: 1, NotFoundStatus: 500}},
		}}}}})
	}()
	if code, took := get(); code != 200 || took < 150*time.Millisecond {
		t.Errorf("route configuration arriving 200 ms later: %d after %v, want 200 once it arrived", code, took)
	}
}

// TestCloseEndsWarming: Close does not wait out WarmTimeout for a request
// still waiting for its route table; the request gets its 503 at once.
func TestCloseEndsWarming(t *testing.T) {
	s, err := New(Options{ListenHost: "127.0.0.1", WarmTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetListeners([]*config.Listener{{Name: "l", Host: "0.0.0.0", RouteName: "never"}}); err != nil {
		t.Fatal(err)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(int(s.Listeners()[0].Port)) + "/"
	code, wrote := make(chan int, 1), make(chan struct{})
	go func() {
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("request: %v", err)
			code <- 0
			return
		}
		resp.Body.Close()
		code <- resp.StatusCode
	}()
	// The request is written; give the server a moment to start waiting
	// for its route table, then close.
	<-wrote
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("close: %v", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("Close took %v: it waited for a request waiting up to WarmTimeout (1 min)", took)
	}
	if c := <-code; c != http.StatusServiceUnavailable {
		t.Errorf("the waiting request got %d, want 503", c)
	}
}

// TestClusterWarming: a request to a cluster whose endpoints have not
// arrived yet waits for them instead of failing with 503.
func TestClusterWarming(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(up.Close)
	s, err := New(Options{ListenHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	s.SetRoutes([]*config.RouteTable{{Name: "r", VirtualHosts: []*config.VirtualHost{{Domains: []string{"*"}, Routes: []*xdscontract.Route{
		{Name: "to-new", Forward: &xdscontract.Forward{Backends: []xdscontract.Backend{{Cluster: "new", Weight: 1}}, TotalWeight: 1, NotFoundStatus: 500}},
	}}}}})
	if err := s.SetListeners([]*config.Listener{{Name: "l", Host: "0.0.0.0", RouteName: "r"}}); err != nil {
		t.Fatal(err)
	}
	s.SetClusters([]*config.Cluster{{Name: "new", EDSName: "new", ConnectTimeout: time.Second}})
	base := "http://127.0.0.1:" + strconv.Itoa(int(s.Listeners()[0].Port))

	go func() {
		time.Sleep(200 * time.Millisecond)
		s.SetEndpoints([]*config.Endpoints{{Cluster: "new", Addrs: []string{up.Listener.Addr().String()}}})
	}()
	start := time.Now()
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("request to a warming cluster: %d, want 200 once its endpoints arrive", resp.StatusCode)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("request returned after %v, before the endpoints arrived", d)
	}

	// A warm cluster whose endpoints go away answers 503 at once.
	s.SetEndpoints([]*config.Endpoints{{Cluster: "new"}})
	start = time.Now()
	resp, err = http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || time.Since(start) > time.Second {
		t.Errorf("no endpoints: %d after %v, want 503 at once", resp.StatusCode, time.Since(start))
	}
}
