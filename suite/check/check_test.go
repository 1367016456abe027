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
	// statusOf overrides status per backend: "503" for HTTP, a gRPC code
	// name such as "Unavailable".
	statusOf map[string]string
	// errRate of the requests get no answer, counted as errKind.
	errRate float64
	errKind sample.ErrorKind
	// switchAfter makes the shares change to after once that many
	// requests were served (a route converging).
	switchAfter int
	after       []float64
	served      int
	// switchAt, if set, makes the shares change to after at that time
	// instead (a route converging some seconds after its status).
	switchAt time.Time
	// freshShares, if set, draws new shares whenever an attempt starts
	// (a request with FreshConnections): a mesh whose wrong answer keeps
	// changing.
	freshShares func() []float64
	// blockShares, if set, draws new shares every block requests: traffic
	// that is right on average but comes in bursts.
	block       int
	blockShares func() []float64
}

func (s *simulated) Sample(ctx context.Context, req sample.Request) (sample.Result, error) {
	if err := ctx.Err(); err != nil {
		return sample.Result{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res := sample.Result{ByBackend: map[string]int{}, ByStatus: map[string]int{}, Errors: map[sample.ErrorKind]int{}, Headers: map[string]map[string]int{}}
	if s.freshShares != nil && req.FreshConnections {
		s.shares = s.freshShares()
	}
	for range req.Count {
		if s.errRate > 0 && s.rng.Float64() < s.errRate {
			s.served++
			res.Requests++
			res.Errors[s.errKind]++
			continue
		}
		if s.blockShares != nil && s.served%s.block == 0 {
			s.shares = s.blockShares()
		}
		shares := s.shares
		if s.after != nil && (s.switchAt.IsZero() && s.served >= s.switchAfter || !s.switchAt.IsZero() && !time.Now().Before(s.switchAt)) {
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
		code := strconv.Itoa(st)
		if c, ok := s.statusOf[b]; ok {
			code = c
		}
		res.ByStatus[code]++
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

// TestRunEndsWhenRequestsFail: the request budget bounds the requests sent,
// not only the answered ones, so a check whose requests (nearly) all fail
// ends within it, with the errors in its outcome; and a check no request of
// which got an answer does not pass.
func TestRunEndsWhenRequestsFail(t *testing.T) {
	const budget = 400
	v12 := []string{"v1", "v2"}
	refused := []string{string(sample.ErrRefused)}
	split := map[string]float64{"v1": 0.5, "v2": 0.5}
	tests := []struct {
		name    string
		errRate float64
		expect  scenario.Expect
		want    verdict.Verdict
	}{
		{"split, every request fails", 1, scenario.Expect{Split: split, TolerateErrors: refused}, verdict.Fail},
		{"split, nearly every request fails", 0.98, scenario.Expect{Split: split, TolerateErrors: refused}, verdict.Inconclusive},
		{"status shares, every request fails", 1, scenario.Expect{StatusShare: map[string]float64{"200": 0.5, "500": 0.5}, TolerateErrors: refused}, verdict.Fail},
		{"exact, every request fails", 1, scenario.Expect{Zero: []string{"v2"}, TolerateErrors: refused}, verdict.Fail},
		{"exact, nearly every request fails", 0.98, scenario.Expect{Zero: []string{"v2"}, TolerateErrors: refused}, verdict.Inconclusive},
		{"exact, errors not tolerated", 0.5, scenario.Expect{Zero: []string{"v2"}}, verdict.Fail},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sim(uint64(20+i), v12, 1, 0) // v1 answers every request that gets an answer
			if len(tt.expect.Split) > 0 {
				s.shares = []float64{0.5, 0.5}
			}
			s.errRate, s.errKind = tt.errRate, sample.ErrRefused
			c := check(tt.expect)
			c.MaxRequests = budget
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			out := Run(ctx, s, c, Options{})
			t.Logf("%s after %d requests: %s", out.Verdict, out.Requests, out.Reason)
			if ctx.Err() != nil {
				t.Fatalf("the check ran until its context ended: %s (%s)", out.Verdict, out.Reason)
			}
			if out.Verdict != tt.want {
				t.Errorf("verdict %s (%s), want %s", out.Verdict, out.Reason, tt.want)
			}
			if out.Requests == 0 || out.Requests > budget {
				t.Errorf("%d requests, want 1 to %d", out.Requests, budget)
			}
			if got := out.Observed.Errors[sample.ErrRefused]; got == 0 || got > out.Observed.Requests {
				t.Errorf("outcome counts %d refused of %d requests", got, out.Observed.Requests)
			}
			if out.Verdict == verdict.Fail && !strings.Contains(out.Reason, "refused") {
				t.Errorf("reason %q does not name the errors", out.Reason)
			}
		})
	}
}

// TestRunSplitNeedsSuccess: a split counts successful responses; a share
// answered with errors fails it unless the check expects another status.
func TestRunSplitNeedsSuccess(t *testing.T) {
	v12 := []string{"v1", "v2"}
	split := map[string]float64{"v1": 0.7, "v2": 0.3}
	grpc := func(e scenario.Expect) scenario.Check {
		c := check(e)
		c.Request = scenario.Request{URL: "svc:8080", GRPC: true}
		return c
	}
	failing := func(seed uint64, code string, shares ...float64) *simulated {
		s := sim(seed, v12, shares...)
		s.statusOf = map[string]string{"v2": code}
		return s
	}
	tests := []struct {
		name    string
		sampler *simulated
		check   scenario.Check
		want    verdict.Verdict
		reason  string
	}{
		{"HTTP 30% share all 503", failing(30, "503", 0.7, 0.3), check(scenario.Expect{Split: split}), verdict.Fail, "503"},
		{"gRPC 30% share all Unavailable", failing(31, "Unavailable", 0.7, 0.3), grpc(scenario.Expect{Split: split}), verdict.Fail, "Unavailable"},
		{"gRPC OK counts", failing(32, "OK", 0.7, 0.3), grpc(scenario.Expect{Split: split}), verdict.Pass, ""},
		{"any 2xx counts", failing(33, "204", 0.7, 0.3), check(scenario.Expect{Split: split}), verdict.Pass, ""},
		{"single backend 503", failing(34, "503", 0, 1), check(scenario.Expect{Split: map[string]float64{"v2": 1}}), verdict.Fail, "503"},
		{"expected status decides", &simulated{rng: rand.New(rand.NewPCG(35, 1)), backends: v12, shares: []float64{0, 1}, status: 503},
			check(scenario.Expect{Status: 503, Split: map[string]float64{"v2": 1}}), verdict.Pass, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Run(context.Background(), tt.sampler, tt.check, Options{})
			if out.Verdict != tt.want {
				t.Fatalf("verdict %s (%s), want %s", out.Verdict, out.Reason, tt.want)
			}
			if !strings.Contains(out.Reason, tt.reason) {
				t.Errorf("reason %q does not mention %q", out.Reason, tt.reason)
			}
		})
	}
}

// TestRunAttempts: an exact check's first attempt sends ZeroRequests(δ, β/2)
// requests, 149 for the defaults (the error budget gives the first attempt
// half of α and β), and a zero check ZeroRequests(ZeroDelta, β/2), 1517;
// only a FAIL is retried while converging, not an INCONCLUSIVE.
func TestRunAttempts(t *testing.T) {
	v12 := []string{"v1", "v2"}
	status := check(scenario.Expect{Status: 200})
	out := Run(context.Background(), sim(40, v12, 1, 0), status, Options{})
	if out.Verdict != verdict.Pass || out.Requests != 149 || out.Attempts != 1 {
		t.Errorf("exact check: %s after %d requests in %d attempts, want PASS after 149 in 1", out.Verdict, out.Requests, out.Attempts)
	}
	zero := check(scenario.Expect{Zero: []string{"v2"}})
	out = Run(context.Background(), sim(40, v12, 1, 0), zero, Options{})
	if out.Verdict != verdict.Pass || out.Requests != 1517 || out.Attempts != 1 {
		t.Errorf("zero check: %s after %d requests in %d attempts, want PASS after 1517 in 1", out.Verdict, out.Requests, out.Attempts)
	}

	flaky := sim(41, v12, 1, 0)
	flaky.errRate, flaky.errKind = 0.98, sample.ErrRefused
	c := check(scenario.Expect{Zero: []string{"v2"}, TolerateErrors: []string{string(sample.ErrRefused)}})
	c.MaxRequests = 400
	out = Run(context.Background(), flaky, c, Options{Convergence: time.Minute})
	if out.Verdict != verdict.Inconclusive || out.Attempts != 1 {
		t.Errorf("inconclusive check: %s in %d attempts, want INCONCLUSIVE in 1 (not retried)", out.Verdict, out.Attempts)
	}
}

// TestRunBursts: traffic right on average but sent in blocks of 100
// requests, each block to one backend (70% of blocks to v1), FAILs the
// split test; the reason names bursts, not a split that is off. A split
// that is steadily off says so and that no bursts were found.
func TestRunBursts(t *testing.T) {
	v12 := []string{"v1", "v2"}
	split := check(scenario.Expect{Split: map[string]float64{"v1": 0.7, "v2": 0.3}})
	fails := 0
	for seed := range uint64(20) {
		s := sim(100+seed, v12, 0.7, 0.3)
		s.block = 100
		s.blockShares = func() []float64 {
			if s.rng.Float64() < 0.7 {
				return []float64{1, 0}
			}
			return []float64{0, 1}
		}
		out := Run(context.Background(), s, split, Options{})
		if out.Verdict != verdict.Fail {
			continue
		}
		fails++
		if out.Bursts == nil || !out.Bursts.Bursty || !strings.Contains(out.Reason, "responses come in bursts") || strings.Contains(out.Reason, "is off:") {
			t.Errorf("seed %d: FAIL with reason %q, bursts %+v; want the bursts named", seed, out.Reason, out.Bursts)
		}
		if out.Requests < 3000 {
			t.Errorf("seed %d: %d requests; the burst test needs %d", seed, out.Requests, 3000)
		}
	}
	if fails < 10 {
		t.Errorf("only %d of 20 bursty runs FAILed; the simulation does not show the problem", fails)
	}

	out := Run(context.Background(), sim(130, v12, 0.62, 0.38), split, Options{})
	if out.Verdict != verdict.Fail || !strings.Contains(out.Reason, "is off: observed") || !strings.Contains(out.Reason, "no bursts found") || out.Bursts == nil || out.Bursts.Bursty {
		t.Errorf("62/38: %s (%s), bursts %+v; want FAIL as a split that is off, no bursts", out.Verdict, out.Reason, out.Bursts)
	}
	out = Run(context.Background(), sim(131, v12, 0.7, 0.3), split, Options{})
	if out.Verdict != verdict.Pass || out.Bursts != nil || !strings.Contains(out.Reason, "assuming each request is routed independently") {
		t.Errorf("70/30: %s (%s), bursts %+v; want PASS stating the assumption, no burst test", out.Verdict, out.Reason, out.Bursts)
	}
}

// TestRunTolerated: a check whose requests partly fail with tolerated
// errors says how many were tolerated and of what kind, not that every
// request met every expectation; budgets carry their unit.
func TestRunTolerated(t *testing.T) {
	v12 := []string{"v1", "v2"}
	flaky := sim(140, v12, 0.5, 0.5)
	flaky.errRate, flaky.errKind = 0.2, sample.ErrRefused
	c := check(scenario.Expect{Split: map[string]float64{"v1": 0.5, "v2": 0.5}, TolerateErrors: []string{string(sample.ErrRefused), string(sample.ErrReset)}})
	out := Run(context.Background(), flaky, c, Options{})
	n := out.Tolerated[string(sample.ErrRefused)]
	if out.Verdict != verdict.Pass || n == 0 || n != out.Observed.Errors[sample.ErrRefused] {
		t.Fatalf("%s (%s), tolerated %v; want PASS with the refused connections counted", out.Verdict, out.Reason, out.Tolerated)
	}
	if want := strconv.Itoa(n) + " connection refused tolerated"; !strings.Contains(out.Reason, want) || strings.Contains(out.Reason, "requests met every expectation") {
		t.Errorf("reason %q, want %q and not \"requests met every expectation\"", out.Reason, want)
	}
	if out.BudgetRequests != 20000 {
		t.Errorf("budget %d requests, want 20000", out.BudgetRequests)
	}

	clean := Run(context.Background(), sim(141, v12, 1, 0), check(scenario.Expect{Zero: []string{"v2"}}), Options{})
	if clean.Tolerated != nil || !strings.Contains(clean.Reason, "1517 requests met every expectation") {
		t.Errorf("clean check: reason %q, tolerated %v", clean.Reason, clean.Tolerated)
	}

	dead := sim(142, v12, 1, 0)
	dead.errRate, dead.errKind = 0.98, sample.ErrRefused
	c = check(scenario.Expect{Zero: []string{"v2"}, TolerateErrors: []string{string(sample.ErrRefused)}})
	c.MaxRequests = 400
	out = Run(context.Background(), dead, c, Options{})
	if out.Verdict != verdict.Inconclusive || !strings.Contains(out.Reason, "budget of 400 requests") || out.BudgetRequests != 400 {
		t.Errorf("%s (%s), budget %d; want INCONCLUSIVE naming the budget of 400 requests", out.Verdict, out.Reason, out.BudgetRequests)
	}
}

// TestRunZeroLeak: a weight-0 backend that gets 1% of the requests (the
// weight-zero-gets-one-percent fault) FAILs in every one of 200 runs. With
// the zero check at δ = 5% (149 requests) about a fifth of them passed
// (0.99^149 ≈ 22%); at ZeroDelta = 0.5% (1517 requests) a run passes with
// probability 0.99^1517 ≈ 2e-7. A correct mesh PASSes stating the error
// rate.
func TestRunZeroLeak(t *testing.T) {
	v12 := []string{"v1", "v2"}
	zero := check(scenario.Expect{Status: 200, Split: map[string]float64{"v1": 1}, Zero: []string{"v2"}})
	passed := 0
	for seed := range uint64(200) {
		out := Run(context.Background(), sim(1000+seed, v12, 0.99, 0.01), zero, Options{})
		if out.Verdict != verdict.Fail {
			passed++
			continue
		}
		if !strings.Contains(out.Reason, `backend "v2"`) {
			t.Errorf("seed %d: FAIL with reason %q, want the weight-0 backend named", seed, out.Reason)
		}
	}
	if passed > 0 {
		t.Errorf("%d of 200 runs missed a weight-0 backend getting 1%% of the requests", passed)
	}
	out := Run(context.Background(), sim(999, v12, 1, 0), zero, Options{})
	if out.Verdict != verdict.Pass || !strings.Contains(out.Reason, "v2 got none of 1517 answers: a share of 0.5% or more would have shown up but with probability 0.0005") {
		t.Errorf("correct mesh: %s (%s), want PASS stating the zero test's error rate", out.Verdict, out.Reason)
	}
}

// TestRunFailFast: the FailFast rule. A mesh stuck on a wrong answer FAILs
// once FailFast.Attempts agreeing FAIL attempts span FailFast.Window, not
// after the convergence window; a route that converges within the window
// still PASSes (no false alarm); a wrong answer that keeps changing, or a
// route status that is not current, waits out the convergence window. The
// windows are scaled down from the defaults (10 s, 45 s) to keep the test
// short.
func TestRunFailFast(t *testing.T) {
	v123 := []string{"v1", "v2", "v3"}
	split := check(scenario.Expect{Split: map[string]float64{"v1": 0.7, "v2": 0.3}})
	exact := check(scenario.Expect{Split: map[string]float64{"v1": 1}})
	ff := FailFast{Attempts: 3, Window: 600 * time.Millisecond}
	const conv = 4 * time.Second
	alternate := func(s *simulated) func() []float64 {
		i := 0
		return func() []float64 {
			i++
			if i%2 == 0 {
				return []float64{0, 0, 1}
			}
			return []float64{0, 1, 0}
		}
	}
	tests := []struct {
		name    string
		sampler func() *simulated
		check   scenario.Check
		status  func(context.Context) (bool, error)
		want    verdict.Verdict
		fast    bool
		// minSec and maxSec bound the time to the verdict.
		minSec, maxSec float64
	}{
		{"split stuck at 82/18 fails fast", func() *simulated { return sim(200, v123, 0.82, 0.18, 0) }, split, nil, verdict.Fail, true, 0.6, 3},
		{"wrong backend stuck fails fast", func() *simulated { return sim(201, v123, 0, 1, 0) }, exact, nil, verdict.Fail, true, 0.6, 3},
		{"converging route passes", func() *simulated {
			s := sim(202, v123, 0, 1, 0)
			s.after, s.switchAt = []float64{1, 0, 0}, time.Now().Add(400*time.Millisecond)
			return s
		}, exact, nil, verdict.Pass, false, 0.3, 3},
		{"changing wrong answers wait", func() *simulated {
			s := sim(203, v123, 0, 1, 0)
			s.freshShares = alternate(s)
			return s
		}, exact, nil, verdict.Fail, false, 4, 8},
		{"status not current waits", func() *simulated { return sim(204, v123, 0, 1, 0) }, exact,
			func(context.Context) (bool, error) { return false, nil }, verdict.Fail, false, 4, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Run(context.Background(), tt.sampler(), tt.check, Options{Convergence: conv, FailFast: ff, StatusCurrent: tt.status})
			t.Logf("%s after %d requests, %d attempts, %.1f s: %s", out.Verdict, out.Requests, out.Attempts, out.Seconds, out.Reason)
			if out.Verdict != tt.want || out.FailedFast != tt.fast {
				t.Fatalf("%s, failed fast %v (%s); want %s, failed fast %v", out.Verdict, out.FailedFast, out.Reason, tt.want, tt.fast)
			}
			if out.Seconds < tt.minSec || out.Seconds > tt.maxSec {
				t.Errorf("verdict after %.1f s, want %.1f–%.1f s", out.Seconds, tt.minSec, tt.maxSec)
			}
			if tt.fast && (!strings.Contains(out.Reason, "without waiting out the convergence window") || out.Attempts < ff.Attempts) {
				t.Errorf("fast FAIL after %d attempts with reason %q; want ≥ %d attempts, named", out.Attempts, out.Reason, ff.Attempts)
			}
			if out.Alpha <= 0 || out.Alpha > 1e-6 || out.Beta > 1e-3 {
				t.Errorf("error rates spent α %g β %g, want within α 1e-6, β 1e-3", out.Alpha, out.Beta)
			}
		})
	}
	off := Run(context.Background(), sim(205, v123, 0, 1, 0), exact, Options{Convergence: 1500 * time.Millisecond, FailFast: FailFast{Attempts: -1, Window: time.Millisecond}})
	if off.FailedFast || off.Seconds < 1.5 {
		t.Errorf("FailFast off: failed fast %v after %.1f s, want the whole 1.5 s window", off.FailedFast, off.Seconds)
	}
}
