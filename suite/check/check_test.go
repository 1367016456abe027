package check

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gammaproof/gammaproof/suite/sample"
	"github.com/gammaproof/gammaproof/suite/scenario"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// simulated is a Sampler standing in for a mesh in these unit tests: it
// answers from backends with the given true shares. The real sampler is
// proven against real HTTP in suite/sample and on the cluster in suite/e2e.
type simulated struct {
	mu       sync.Mutex
	rng      *rand.Rand
	backends []string
	shares   []float64
	status   int
	headers  map[string]string
	// switchAfter makes the shares change to after once that many
	// requests were served (a route converging).
	switchAfter int
	after       []float64
	served      int
}

func (s *simulated) Sample(ctx context.Context, req sample.Request) (sample.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := sample.Result{ByBackend: map[string]int{}, ByStatus: map[string]int{}, Headers: map[string]map[string]int{}}
	for range req.Count {
		shares := s.shares
		if s.after != nil && s.served >= s.switchAfter {
			shares = s.after
		}
		s.served++
		u, b := s.rng.Float64(), ""
		for i, p := range shares {
			if u < p {
				b = s.backends[i]
				break
			}
			u -= p
		}
		if b == "" {
			b = s.backends[len(s.backends)-1]
		}
		res.Requests++
		res.ByBackend[b]++
		st := s.status
		if st == 0 {
			st = 200
		}
		res.ByStatus[strconv.Itoa(st)]++
		for _, h := range req.RecordHeaders {
			v, ok := s.headers[h]
			if !ok {
				v = sample.Absent
			}
			if res.Headers[h] == nil {
				res.Headers[h] = map[string]int{}
			}
			res.Headers[h][v]++
		}
	}
	return res, nil
}

func sim(seed uint64, backends []string, shares ...float64) *simulated {
	return &simulated{rng: rand.New(rand.NewPCG(seed, 1)), backends: backends, shares: shares}
}

func check(e scenario.Expect) scenario.Check {
	return scenario.Check{From: scenario.Client{Namespace: "ns", Pod: "client"}, Request: scenario.Request{URL: "http://svc:8080/"}, Expect: e}
}

func TestRun(t *testing.T) {
	v12 := []string{"v1", "v2"}
	x := "yes"
	tests := []struct {
		name    string
		sampler *simulated
		check   scenario.Check
		conv    time.Duration
		want    verdict.Verdict
		reason  string
	}{
		{"correct 70/30 passes", sim(1, v12, 0.7, 0.3), check(scenario.Expect{Split: map[string]float64{"v1": 0.7, "v2": 0.3}}), 0, verdict.Pass, ""},
		{"62/38 fails a 70/30 route", sim(2, v12, 0.62, 0.38), check(scenario.Expect{Split: map[string]float64{"v1": 0.7, "v2": 0.3}}), 0, verdict.Fail, "split"},
		{"82/18 fails a 90/10 route", sim(3, v12, 0.82, 0.18), check(scenario.Expect{Split: map[string]float64{"v1": 0.9, "v2": 0.1}}), 0, verdict.Fail, "split"},
		{"single backend exact", sim(4, v12, 1, 0), check(scenario.Expect{Split: map[string]float64{"v1": 1}}), 0, verdict.Pass, ""},
		{"single backend violated", sim(5, v12, 0.99, 0.01), check(scenario.Expect{Split: map[string]float64{"v1": 1}}), 0, verdict.Fail, "v2"},
		{"weight zero violated", sim(6, v12, 0.94, 0.06), check(scenario.Expect{Zero: []string{"v2"}}), 0, verdict.Fail, "weight 0"},
		{"status exact", &simulated{rng: rand.New(rand.NewPCG(7, 1)), backends: v12, shares: []float64{1, 0}, status: 503}, check(scenario.Expect{Status: 500}), 0, verdict.Fail, "want status 500"},
		{"header present", &simulated{rng: rand.New(rand.NewPCG(8, 1)), backends: v12, shares: []float64{1, 0}, headers: map[string]string{"x-route": "yes"}}, check(scenario.Expect{ResponseHeaders: map[string]*string{"x-route": &x}}), 0, verdict.Pass, ""},
		{"header should be absent", &simulated{rng: rand.New(rand.NewPCG(9, 1)), backends: v12, shares: []float64{1, 0}, headers: map[string]string{"x-route": "yes"}}, check(scenario.Expect{ResponseHeaders: map[string]*string{"x-route": nil}}), 0, verdict.Fail, "absent"},
		{"unexpected backend in split", sim(10, []string{"v1", "v2", "v3"}, 0.5, 0.4, 0.1), check(scenario.Expect{Split: map[string]float64{"v1": 0.5, "v2": 0.5}}), 0, verdict.Fail, "v3"},
		{
			"converges after retries",
			&simulated{rng: rand.New(rand.NewPCG(11, 1)), backends: v12, shares: []float64{0.5, 0.5}, switchAfter: 400, after: []float64{0.9, 0.1}},
			check(scenario.Expect{Split: map[string]float64{"v1": 0.9, "v2": 0.1}}), 30 * time.Second, verdict.Pass, "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Run(context.Background(), tt.sampler, tt.check, Options{Convergence: tt.conv})
			if out.Verdict != tt.want {
				t.Fatalf("verdict %s (%s), want %s", out.Verdict, out.Reason, tt.want)
			}
			if tt.reason != "" && !strings.Contains(out.Reason, tt.reason) {
				t.Errorf("reason %q does not mention %q", out.Reason, tt.reason)
			}
			if out.Requests == 0 || out.Requests < out.Observed.Requests {
				t.Errorf("requests %d, observed %d", out.Requests, out.Observed.Requests)
			}
			if out.Alpha <= 0 || out.Alpha > 1e-6 {
				t.Errorf("alpha spent %g, want in (0, 1e-6]", out.Alpha)
			}
		})
	}
}
