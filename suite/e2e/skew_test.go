package e2e

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/suite/check"
	"github.com/gammaproof/gammaproof/suite/profile"
	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/sample/client"
	"github.com/gammaproof/gammaproof/suite/sample/echo"
	"github.com/gammaproof/gammaproof/suite/sample/echo/echotest"
	"github.com/gammaproof/gammaproof/suite/scenario"
	"github.com/gammaproof/gammaproof/suite/stats"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// weightedProxy is a deliberately simple data plane: it sends each
// request to one of the backends with the given probabilities. With skewed
// probabilities it is the "wrong implementation" the suite must catch.
type weightedProxy struct {
	mu      sync.Mutex
	rng     *rand.Rand
	targets []*httputil.ReverseProxy
	shares  []float64
}

func (p *weightedProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	u := p.rng.Float64()
	p.mu.Unlock()
	i := 0
	for ; i < len(p.shares)-1 && u >= p.shares[i]; i++ {
		u -= p.shares[i]
	}
	p.targets[i].ServeHTTP(w, r)
}

// startEcho serves a real echo backend of the version on loopback.
func startEcho(t *testing.T, version string) *url.URL {
	return &url.URL{Scheme: "http", Host: echotest.Start(t, echo.Config{Version: version, Pod: "echo-" + version})}
}

// TestSkewedDataPlaneFails runs the weight checks of the scenarios with
// the real sampler and real echo backends behind a data plane whose split
// is 8 points off, and behind a correct one: the skewed one must FAIL with
// the evidence in results.json, the correct one must PASS.
func TestSkewedDataPlaneFails(t *testing.T) {
	all, err := scenario.LoadAll(filepath.Join(repo.Root(), "scenarios"))
	if err != nil {
		t.Fatal(err)
	}
	type weightCheck struct {
		scenario string
		check    scenario.Check
		names    []string
		shares   []float64
	}
	var checks []weightCheck
	for _, s := range all {
		if s.Name != "seed-bookstore" && s.Name != "mesh-weight" {
			continue
		}
		for _, st := range s.Steps {
			for _, c := range st.Checks {
				if len(c.Expect.Split) != 2 || c.Expect.Split["v1"] == 0.5 {
					continue // 50/50 is plain Service load balancing, not a route
				}
				checks = append(checks, weightCheck{s.Name, c, []string{"v1", "v2"}, []float64{c.Expect.Split["v1"], c.Expect.Split["v2"]}})
			}
		}
	}
	if len(checks) != 2 {
		t.Fatalf("found %d weight checks (want the seed's 90/10 and mesh-weight's 70/30)", len(checks))
	}
	backends := []*url.URL{startEcho(t, "v1"), startEcho(t, "v2")}
	sampler := client.New()
	t.Cleanup(func() { sampler.Close() })

	for _, skew := range []float64{0, 0.08} {
		var results []report.Scenario
		for i, wc := range checks {
			shares := []float64{wc.shares[0] - skew, wc.shares[1] + skew}
			proxy := &weightedProxy{rng: rand.New(rand.NewPCG(uint64(i)+1, uint64(skew*100)))}
			for _, b := range backends {
				proxy.targets = append(proxy.targets, httputil.NewSingleHostReverseProxy(b))
			}
			proxy.shares = shares
			srv := httptest.NewServer(proxy)
			c := wc.check
			c.Request.URL = srv.URL + "/"
			out := check.Run(context.Background(), sampler, c, check.Options{Params: stats.Params{}, Concurrency: 8})
			srv.Close()

			want := verdict.Pass
			if skew > 0 {
				want = verdict.Fail
			}
			if out.Verdict != want {
				t.Errorf("%s with skew %.2f (true split %.2f/%.2f): verdict %s (%s), want %s", wc.scenario, skew, shares[0], shares[1], out.Verdict, out.Reason, want)
			}
			results = append(results, report.Scenario{Name: wc.scenario, Profile: profile.MeshHTTP, Verdict: out.Verdict,
				Checks: []report.Check{check.Report("weight", c, out)}})
			t.Logf("skew %.2f %s: %s after %d requests: %s", skew, wc.scenario, out.Verdict, out.Requests, out.Reason)
		}
		if skew == 0 {
			continue
		}
		// The evidence reaches results.json: counts, intervals, e-values.
		dir := t.TempDir()
		res := &report.Results{APIVersion: report.APIVersion, Kind: report.Kind, Scenarios: results,
			Run: report.Run{Implementation: report.Implementation{Name: "skewed", Organization: "test", Project: "skewed", URL: "none", Version: "v0"},
				Environment: report.EnvExisting, Statistics: report.Statistics{Alpha: stats.DefaultAlpha, Beta: stats.DefaultBeta, Delta: stats.DefaultDelta},
				GatewayAPI: report.GatewayAPI{Version: "v1.6.3", Channel: "experimental"}}}
		if _, err := report.Write(dir, res); err != nil {
			t.Fatal(err)
		}
		back, err := report.ReadResults(filepath.Join(dir, report.ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range back.Scenarios {
			c := s.Checks[0]
			if s.Verdict != verdict.Fail || len(c.Categories) != 2 || c.Categories[0].Interval == nil || len(c.Evidence) == 0 || c.Requests == 0 {
				t.Errorf("%s: results.json lacks the evidence: %+v", s.Name, c)
			}
			if !strings.Contains(c.Error, "after") {
				t.Errorf("%s: error %q does not state the observed split", s.Name, c.Error)
			}
		}
	}
}
