package perf

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gammaproof/gammaproof/suite/sample"
	"github.com/gammaproof/gammaproof/suite/sample/client"
	"github.com/gammaproof/gammaproof/suite/sample/echo"
	"github.com/gammaproof/gammaproof/suite/sample/echo/echotest"
	"github.com/gammaproof/gammaproof/suite/stats"
)

// startEcho serves a real echo backend on loopback and returns its URL.
func startEcho(t *testing.T, version string) *url.URL {
	return &url.URL{Scheme: "http", Host: echotest.Start(t, echo.Config{Version: version})}
}

// switchable is a reverse proxy whose upstream can be switched: a stand-in
// for a mesh whose route changes some time after it is applied.
func switchable(t *testing.T, first *url.URL) (addr string, target *atomic.Pointer[url.URL]) {
	t.Helper()
	target = &atomic.Pointer[url.URL]{}
	target.Store(first)
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target.Load()) }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rp}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), target
}

func TestMeasure(t *testing.T) {
	v1, v2 := startEcho(t, "v1"), startEcho(t, "v2")
	addr, target := switchable(t, v1)
	s := client.New()
	defer s.Close()
	toV2 := func(r sample.Result) bool { return r.ByBackend["v2"] == 1 }
	probe := sample.Request{URL: "http://" + addr + "/"}

	const lag = 150 * time.Millisecond
	got, err := Measure(context.Background(), s, Change{
		Name:      "switch to v2",
		Apply:     func(context.Context) error { time.AfterFunc(lag, func() { target.Store(v2) }); return nil },
		Probe:     probe,
		Reflected: toV2,
	}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got < lag || got > lag+time.Second {
		t.Errorf("Measure = %v, want between %v and %v", got, lag, lag+time.Second)
	}

	target.Store(v1)
	_, err = Measure(context.Background(), s, Change{
		Name: "never", Apply: func(context.Context) error { return nil }, Probe: probe, Reflected: toV2,
	}, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not reflect it within 300ms") || !strings.Contains(err.Error(), "v1") {
		t.Errorf("Measure of a change that never shows = %v, want an error naming the timeout and the last probe", err)
	}
}

func TestSummarize(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		var d []time.Duration
		for _, v := range n {
			d = append(d, time.Duration(v)*time.Millisecond)
		}
		return d
	}
	var hundred []time.Duration
	for i := 100; i >= 1; i-- {
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"one", ms(7), Summary{N: 1, P50: 7 * time.Millisecond, P99: 7 * time.Millisecond, Max: 7 * time.Millisecond}},
		{"twenty, p99 is the max", ms(20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19),
			Summary{N: 20, P50: 10 * time.Millisecond, P99: 20 * time.Millisecond, Max: 20 * time.Millisecond}},
		{"hundred", hundred, Summary{N: 100, P50: 50 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Summarize(tc.in); got != tc.want {
				t.Errorf("Summarize = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	v1 := startEcho(t, "v1")
	s := client.New()
	defer s.Close()
	got, err := Load(context.Background(), s, sample.Request{URL: v1.String() + "/?status=503", Count: 20, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got.Requests != 20 || got.Failed != 20 || got.RPS <= 0 {
		t.Errorf("Load of 503s = %+v, want 20 requests, 20 failed, a positive rate", got)
	}
}

func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   Verdict
	}{
		{0.1, 0.4, GoalMet},
		{-0.2, 0.5, GoalMet},
		{0.3, 0.7, GoalUndecided},
		{0.5, 0.9, GoalUndecided},
		{0.6, 2.0, GoalMissed},
	} {
		if got := Judge(stats.QuantileDiff{Lo: tc.lo, Hi: tc.hi}, 0.5); got != tc.want {
			t.Errorf("Judge([%g, %g], goal 0.5) = %q, want %q", tc.lo, tc.hi, got, tc.want)
		}
	}
}
