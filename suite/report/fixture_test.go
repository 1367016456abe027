package report

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gammaproof/gammaproof/suite/profile"
	"github.com/gammaproof/gammaproof/suite/stats"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// sampled runs a real sequential test on a deterministic simulated data
// plane whose true shares are truth, so fixtures carry consistent evidence.
func sampled(t *testing.T, name, kind string, names []string, expected, truth []float64, seed uint64) Check {
	t.Helper()
	s, err := stats.NewSplit(names, expected, stats.Params{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	if _, err := s.Run(func(n int) ([]int, error) {
		counts := make([]int, len(truth))
		for range n {
			u, acc := rng.Float64(), 0.0
			for i, p := range truth {
				acc += p
				if u < acc || i == len(truth)-1 {
					counts[i]++
					break
				}
			}
		}
		return counts, nil
	}); err != nil {
		t.Fatal(err)
	}
	return SplitCheck(name, kind, s.Evidence())
}

func accepted(kind, ns, name, parent string) RouteStatus {
	return RouteStatus{Kind: kind, Namespace: ns, Name: name, Parent: parent, Controller: "gammaproof.io/controller",
		Conditions: []Condition{
			{Type: "Accepted", Status: "True", Reason: "Accepted", ObservedGeneration: 1},
			{Type: "ResolvedRefs", Status: "True", Reason: "ResolvedRefs", ObservedGeneration: 1},
		}}
}

func exact(name, desc, expected, observed string, v verdict.Verdict, requests int) Check {
	return Check{Name: name, Description: desc, Kind: CheckExact, Expected: expected, Observed: observed,
		Verdict: v, Requests: requests, Attempts: 1, ConvergenceSeconds: 0.4,
		Client: "gammaproof-client/client-0", URL: "http://echo.gammaproof-mesh:80/"}
}

// fixture is a full run; failing makes it the run of a broken implementation
// (weights 8 points off, a skipped extended test, an inconclusive retry
// check and an error).
func fixture(t *testing.T, failing bool) *Results {
	t.Helper()
	start := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	skew := 0.0
	if failing {
		skew = 0.08
	}
	r := &Results{
		APIVersion: APIVersion, Kind: Kind,
		Run: Run{
			Implementation: Implementation{Name: "gammaproof", Organization: "gammaproof", Project: "gammaproof",
				URL: "https://github.com/gammaproof/gammaproof", Version: "v0.1.0", Contact: []string{"@gammaproof/maintainers"}},
			Environment: EnvLocal,
			Cluster:     Cluster{Name: "gammaproof-local", KubernetesVersion: "v1.37.2", Nodes: 1},
			GrantPolicy: "spec",
			Statistics:  Statistics{Alpha: 1e-6, Beta: 1e-3, Delta: 0.05, Budget: 20000},
			GatewayAPI:  GatewayAPI{Version: "v1.6.3", Channel: "experimental"},
			Start:       start, End: start.Add(47 * time.Second),
			SupportedFeatures: []string{"GRPCRoute", "HTTPRoute", "Mesh", "MeshClusterIPMatching", "MeshConsumerRoute",
				"MeshHTTPRouteQueryParamMatching", "MeshHTTPRouteRewritePath"},
		},
	}
	before := sampled(t, "about-50-50", CheckSplit, []string{"v1", "v2"}, []float64{0.5, 0.5}, []float64{0.5, 0.5}, 1)
	before.Step, before.Description = "Before the route", "Two bookstore versions behind one Service: kube-proxy-style balancing, about 50/50."
	before.ConvergenceSeconds, before.Client, before.URL = 0.2, "bookstore/netshoot", "http://bookstore.bookstore:8080/"
	after := sampled(t, "split-90-10", CheckSplit, []string{"v1", "v2"}, []float64{0.9, 0.1}, []float64{0.9 - skew, 0.1 + skew}, 2)
	after.Step, after.Description = "After the 90/10 HTTPRoute", "HTTPRoute on the Service sends 90% to v1 and 10% to v2."
	after.ConvergenceSeconds, after.Client, after.URL = 1.3, "bookstore/netshoot", "http://bookstore.bookstore:8080/"
	weight := sampled(t, "weight-70-30", CheckSplit, []string{"echo-v1", "echo-v2"}, []float64{0.7, 0.3}, []float64{0.7 - skew, 0.3 + skew}, 3)
	weight.ConvergenceSeconds, weight.Client, weight.URL = 0.9, "gammaproof-mesh/client-0", "http://echo.gammaproof-mesh:80/"
	grpc := sampled(t, "grpc-weight-70-30", CheckSplit, []string{"grpc-v1", "grpc-v2"}, []float64{0.7, 0.3}, []float64{0.7, 0.3}, 4)
	grpc.ConvergenceSeconds = 0.7
	zero := sampled(t, "weight-zero", CheckSplit, []string{"v1", "v2"}, []float64{1, 0}, []float64{1, 0}, 5)
	zero.Description = "A backend with weight 0 never gets a request."
	partial := sampled(t, "half-500", CheckStatusShare, []string{"500", "200"}, []float64{0.5, 0.5}, []float64{0.5, 0.5}, 6)
	partial.Description = "One of two equally weighted backends is invalid: half the requests get 500."

	curl := exact("exec sh -c for i in $(seq 1 20); do curl -s http://bookstore:8080; done", "",
		"output contains Response from v1, Response from v2", seedOutput(), verdict.Pass, 0)
	curl.Step, curl.Client, curl.URL, curl.Attempts, curl.ConvergenceSeconds = before.Step, "default/netshoot", "", 0, 0
	seedRoute := accepted("HTTPRoute", "bookstore", "bookstore-split", "bookstore/bookstore")
	seedRoute.Step = after.Step
	for i := range seedRoute.Conditions {
		seedRoute.Conditions[i].Expected = true // the step waited for Accepted and ResolvedRefs True
	}
	r.Scenarios = []Scenario{
		{Name: "seed-bookstore", Description: "The seed walkthrough: bookstore v1/v2 behind one Service, then a 90/10 HTTPRoute.",
			Profile: profile.Gammaproof, Verdict: worst(before.Verdict, after.Verdict), DurationSeconds: 9.8,
			Checks: []Check{curl, before, after}, RouteStatus: []RouteStatus{seedRoute}},
		{Name: "mesh-basic", Description: "A request through the mesh reaches the Service.", UpstreamTest: "MeshBasic",
			Profile: profile.MeshHTTP, Core: true, Features: []string{"Mesh"}, Verdict: verdict.Pass, DurationSeconds: 1.2,
			Checks: []Check{exact("status-200", "Every response is 200 from echo.", "status 200", "status 200 ×20", verdict.Pass, 20)}},
		{Name: "httproute-weight", Description: "A 70/30 weighted HTTPRoute.", UpstreamTest: "MeshHTTPRouteWeight",
			Profile: profile.MeshHTTP, Core: true, Features: []string{"Mesh", "HTTPRoute"}, Verdict: weight.Verdict, DurationSeconds: 4.1,
			Checks: []Check{weight}, RouteStatus: []RouteStatus{accepted("HTTPRoute", "gammaproof-mesh", "mesh-weighted", "gammaproof-mesh/echo:80")}},
		{Name: "httproute-matching", Description: "Path and header matching; /v2example must not match /v2.", UpstreamTest: "MeshHTTPRouteMatching",
			Profile: profile.MeshHTTP, Core: true, Features: []string{"Mesh", "HTTPRoute"}, Verdict: verdict.Pass, DurationSeconds: 2.0,
			Checks: []Check{exact("path-v2example", "/v2example goes to v1.", "backend v1", "backend v1 ×20", verdict.Pass, 20)}},
		{Name: "consumer-route", Description: "team-b's consumer route applies to team-b only; team-c is untouched.", UpstreamTest: "MeshConsumerRoute",
			Profile: profile.MeshHTTP, Features: []string{"Mesh", "HTTPRoute", "MeshConsumerRoute"}, Verdict: verdict.Pass, DurationSeconds: 3.3,
			Checks:      []Check{exact("team-b-header", "team-b sees the consumer route's header.", "header x-consumer: team-b", "header x-consumer: team-b ×20", verdict.Pass, 20)},
			RouteStatus: []RouteStatus{accepted("HTTPRoute", "team-b", "consumer", "team-a/echo")}},
		{Name: "query-param-matching", UpstreamTest: "MeshHTTPRouteQueryParamMatching", Profile: profile.MeshHTTP,
			Features: []string{"Mesh", "HTTPRoute", "MeshHTTPRouteQueryParamMatching"}, Verdict: verdict.Pass, DurationSeconds: 1.9,
			Checks: []Check{exact("animal-whale", "?animal=whale goes to v1.", "backend v1", "backend v1 ×20", verdict.Pass, 20)}},
		{Name: "grpcroute-weight", Description: "A 70/30 weighted GRPCRoute.", UpstreamTest: "MeshGRPCRouteWeight",
			Profile: profile.MeshGRPC, Core: true, Features: []string{"Mesh", "GRPCRoute"}, Verdict: grpc.Verdict, DurationSeconds: 3.0,
			Checks: []Check{grpc}},
		{Name: "weight-zero", Profile: profile.Gammaproof, Verdict: zero.Verdict, DurationSeconds: 1.1, Checks: []Check{zero}},
		{Name: "backends-partly-invalid", Profile: profile.Gammaproof, Verdict: partial.Verdict, DurationSeconds: 2.2, Checks: []Check{partial},
			RouteStatus: []RouteStatus{{Kind: "HTTPRoute", Namespace: "gammaproof-mesh", Name: "half-invalid", Parent: "gammaproof-mesh/echo",
				Conditions: []Condition{{Type: "Accepted", Status: "True", Reason: "Accepted", ObservedGeneration: 1},
					{Type: "ResolvedRefs", Status: "False", Reason: "BackendNotFound", Message: "backend gammaproof-mesh/missing not found", ObservedGeneration: 1, Expected: true}}}}},
		{Name: "timeouts", Description: "A 100 ms request timeout answers 504 to a 1 s backend.", Profile: profile.Gammaproof, Verdict: verdict.Pass, DurationSeconds: 1.5,
			Checks: []Check{exact("timeout-504", "", "status 504 within 100–300 ms", "504 ×20, p99 112 ms", verdict.Pass, 20)}},
	}
	if failing {
		// The route's ResolvedRefs=False is not what the scenario waited for.
		invalid := &r.Scenarios[8]
		if invalid.Name != "backends-partly-invalid" {
			t.Fatalf("fixture scenario 8 is %s, want backends-partly-invalid", invalid.Name)
		}
		invalid.RouteStatus[0].Conditions[1].Expected = false
		r.Run.Implementation.Version = "v0.1.0-skewed"
		s := &r.Scenarios[5]
		s.Verdict, s.Error, s.Checks = verdict.Skip, "feature MeshHTTPRouteQueryParamMatching is exempt (--exempt-features)", nil
		r.Scenarios = append(r.Scenarios,
			Scenario{Name: "retries", Description: "Two retries hide a 50% failing backend.", Profile: profile.Gammaproof,
				Verdict: verdict.Inconclusive, DurationSeconds: 30,
				Checks: []Check{{Name: "retried-200", Kind: CheckStatusShare, Verdict: verdict.Inconclusive, Requests: 20000, Attempts: 3,
					ConvergenceSeconds: 28, Alpha: 1.25e-7, Beta: 1.25e-4, IntervalLevel: 0.9995,
					Categories: []Category{{Name: "200", Expected: 0.875, Count: 17100, Interval: &Interval{Lo: 0.845, Hi: 0.864}},
						{Name: "503", Expected: 0.125, Count: 2900, Interval: &Interval{Lo: 0.136, Hi: 0.155}}},
					Error: "request budget spent before a decision"}}},
			Scenario{Name: "no-endpoints", Profile: profile.Gammaproof, Verdict: verdict.Error, DurationSeconds: 60,
				Error: "wait for pods gammaproof-mesh/app=client: context deadline exceeded after 60s"})
	}
	if !failing {
		// Upstream's suite ran in the same run and agrees.
		AttachUpstream(r, map[string]verdict.Verdict{
			"MeshBasic": verdict.Pass, "MeshHTTPRouteWeight": verdict.Pass, "MeshHTTPRouteMatching": verdict.Pass,
			"MeshConsumerRoute": verdict.Pass, "MeshHTTPRouteQueryParamMatching": verdict.Pass, "MeshGRPCRouteWeight": verdict.Pass,
		})
	}
	for i := range r.Scenarios {
		if r.Scenarios[i].Verdict == "" {
			t.Fatalf("fixture scenario %s has no verdict", r.Scenarios[i].Name)
		}
	}
	return r
}

func worst(vs ...verdict.Verdict) verdict.Verdict {
	w := verdict.Pass
	for _, v := range vs {
		if v.Worse(w) {
			w = v
		}
	}
	return w
}

// seedOutput is the seed's curl loop as the exec check records it.
func seedOutput() string {
	var b strings.Builder
	b.WriteString("\"Response from v1\" on 11 of 20 lines; \"Response from v2\" on 9 of 20 lines\noutput (20 lines):")
	for i := range 20 {
		v := "v1"
		if i%2 == 1 && i != 19 {
			v = "v2"
		}
		fmt.Fprintf(&b, "\nResponse from %s", v)
	}
	return b.String()
}

// toleratedFixture is the passing run with the seed's first step as it
// really goes: busybox nc refuses and resets connections, which the check
// tolerates, counts and names.
func toleratedFixture(t *testing.T) *Results {
	t.Helper()
	r := fixture(t, false)
	r.Run.Implementation.Version = "v0.1.0-tolerated"
	seed := &r.Scenarios[0]
	c := &seed.Checks[1]
	if c.Name != "about-50-50" {
		t.Fatalf("fixture check %q, want about-50-50", c.Name)
	}
	answered := totalCount(*c)
	c.Tolerated = map[string]int{"connection refused": 1533, "other": 53}
	c.Errors = map[string]int{"connection refused": 1533, "other": 53}
	c.StatusCodes = map[string]int{"200": answered}
	c.TolerateReason = "busybox nc backend serves one connection at a time"
	c.BudgetRequests = 20000
	c.Requests = answered + 1586
	c.Expected = "split v1 50% / v2 50%"
	c.Observed = fmt.Sprintf("%d of %d requests answered, every answer as expected; 1533 connection refused, 53 other tolerated (the check's tolerateErrors), not judged; shares judged assuming each request is routed independently", answered, c.Requests)
	return r
}
