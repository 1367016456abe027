package check

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/sample"
	"github.com/gammaproof/gammaproof/suite/scenario"
	"github.com/gammaproof/gammaproof/suite/stats"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// Options tune how a check is decided.
type Options struct {
	// Params are the total error rates and tolerance. Optional: defaults
	// of suite/stats.
	Params stats.Params
	// Convergence is how long a failing check is retried while the
	// implementation converges. Optional: 0 means no retry.
	Convergence time.Duration
	// Batch is the most requests asked of the client at once. Optional:
	// 0 means 100.
	Batch int
	// Concurrency of the client. Optional: 0 means 4.
	Concurrency int
	// FailFast ends the retries early once the mesh has converged to a
	// wrong answer (see [Run]). Optional: the zero value means
	// [DefaultFailFastAttempts] attempts over [DefaultFailFastWindow].
	FailFast FailFast
	// StatusCurrent reports whether the routes the check depends on have
	// a current status (observedGeneration equal to their generation);
	// suite/runner asks the API server about the routes its scenario
	// applied. Optional: nil means the caller waited for that before the
	// check.
	StatusCurrent func(context.Context) (bool, error)
}

// Defaults of [FailFast].
const (
	DefaultFailFastAttempts = 3
	DefaultFailFastWindow   = 10 * time.Second
)

// FailFast is the rule that FAILs a retried check before the convergence
// window is over: at least Attempts consecutive attempts FAILed, each
// agreeing with the one before it (stats.Agree on what they observed, and
// the same reason once numbers are left out), they span at least Window
// (first one's start to last one's end), and the route status is
// current. docs/statistics.md states the rule
// and its error rates.
type FailFast struct {
	// Attempts is how many consecutive agreeing FAIL attempts are needed.
	// Optional: 0 means [DefaultFailFastAttempts]; below 0 turns the rule
	// off (a FAIL is retried for the whole convergence window).
	Attempts int
	// Window is the least time from the first agreeing attempt's start to
	// the last one's end. Optional: 0 means [DefaultFailFastWindow].
	Window time.Duration
}

func (f FailFast) withDefaults() FailFast {
	if f.Attempts == 0 {
		f.Attempts = DefaultFailFastAttempts
	}
	if f.Window == 0 {
		f.Window = DefaultFailFastWindow
	}
	return f
}

// Outcome is what a check concluded and the evidence for it.
type Outcome struct {
	Verdict verdict.Verdict `json:"verdict"`
	// Reason says in one line why the verdict is what it is.
	Reason string `json:"reason"`
	// Requests is how many requests all attempts used.
	Requests int `json:"requests"`
	// Attempts is how many attempts were made (retries while converging).
	Attempts int `json:"attempts"`
	// Seconds from the first request to the verdict.
	Seconds float64 `json:"seconds"`
	// Observed is the merged sample of the deciding attempt.
	Observed sample.Result `json:"observed"`
	// Split and StatusShare hold the sequential tests' evidence, if any.
	Split       *stats.Evidence `json:"split,omitempty"`
	StatusShare *stats.Evidence `json:"statusShare,omitempty"`
	// Alpha and Beta are the error rates spent over all attempts.
	Alpha float64 `json:"alpha"`
	Beta  float64 `json:"beta"`
	// BudgetRequests is the most requests the deciding attempt could send
	// (the statistics' budget, or the check's maxRequests).
	BudgetRequests int `json:"budgetRequests"`
	// Tolerated counts, by kind, the requests of the deciding attempt that
	// got no answer with an error the check tolerates (tolerateErrors):
	// counted and reported, never judged.
	Tolerated map[string]int `json:"tolerated,omitempty"`
	// Bursts is the test for answers coming in bursts, run after a split
	// or status-share test FAILed (see suite/stats: Independence); nil
	// when it did not run.
	Bursts *stats.Bursts `json:"bursts,omitempty"`
	// FailedFast is true when the FAIL came from the [FailFast] rule,
	// before the convergence window was over.
	FailedFast bool `json:"failedFast,omitempty"`
}

// answer is what one FAILed attempt saw, for [FailFast]: its reason with
// the numbers left out, and its counts by category (backend, status,
// error, recorded header and echo values).
type answer struct {
	shape      string
	counts     map[string]int
	n          int
	start, end time.Time
}

var numbers = regexp.MustCompile(`[-+]?[0-9][0-9.e+-]*`)

func answerOf(out Outcome, start, end time.Time) answer {
	a := answer{shape: numbers.ReplaceAllString(out.Reason, "#"), counts: map[string]int{}, n: out.Observed.Requests, start: start, end: end}
	res := out.Observed
	for k, v := range res.ByBackend {
		a.counts["backend "+k] += v
	}
	for k, v := range res.ByStatus {
		a.counts["status "+k] += v
	}
	for k, v := range res.Errors {
		a.counts["error "+string(k)] += v
	}
	for h, vals := range res.Headers {
		for v, n := range vals {
			a.counts["header "+strings.ToLower(h)+"="+v] += n
		}
	}
	for f, vals := range res.Echo {
		for v, n := range vals {
			a.counts["echo "+strings.ToLower(f)+"="+v] += n
		}
	}
	return a
}

// agrees reports whether two FAILed attempts saw the same wrong answer:
// the same reason, numbers aside, and counts consistent with one
// distribution (stats.Agree).
func (a answer) agrees(b answer) bool {
	if a.shape != b.shape {
		return false
	}
	ok, _ := stats.Agree(a.counts, a.n, b.counts, b.n, stats.DefaultAgreeLevel)
	return ok
}

// Run decides c by sampling through s. A FAIL is retried until
// opts.Convergence has passed, each attempt with the error rates
// [stats.ErrorBudget] gives it, unless the [FailFast] rule finds the mesh
// converged to a wrong answer first; an INCONCLUSIVE or an ERROR is final.
func Run(ctx context.Context, s sample.Sampler, c scenario.Check, opts Options) Outcome {
	start := time.Now()
	budget := &stats.ErrorBudget{Params: opts.Params}
	deadline := start.Add(opts.Convergence)
	ff := opts.FailFast.withDefaults()
	var out Outcome
	var agreeing []answer // the last FAILed attempts, each agreeing with the one before
	requests := 0
	for {
		params, ok := budget.Next()
		if !ok {
			break
		}
		t0 := time.Now()
		out = attempt(ctx, s, c, params, opts)
		requests += out.Requests
		if out.Verdict != verdict.Fail || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		a := answerOf(out, t0, time.Now())
		if len(agreeing) > 0 && !agreeing[len(agreeing)-1].agrees(a) {
			agreeing = agreeing[:0]
		}
		agreeing = append(agreeing, a)
		if why := failFast(ctx, ff, agreeing, opts.StatusCurrent); why != "" {
			out.Reason += "; " + why
			out.FailedFast = true
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	out.Requests = requests
	out.Attempts = budget.Attempts()
	out.Alpha, out.Beta = budget.Spent()
	out.Seconds = time.Since(start).Seconds()
	return out
}

// failFast says why the retries end now, or "" if they go on: at least
// ff.Attempts consecutive FAILed attempts agree, span ff.Window and the
// route status is current.
func failFast(ctx context.Context, ff FailFast, agreeing []answer, statusCurrent func(context.Context) (bool, error)) string {
	if ff.Attempts < 0 || len(agreeing) < ff.Attempts {
		return ""
	}
	span := agreeing[len(agreeing)-1].end.Sub(agreeing[0].start)
	if span < ff.Window {
		return ""
	}
	if statusCurrent != nil {
		if ok, err := statusCurrent(ctx); err != nil || !ok {
			return ""
		}
	}
	return fmt.Sprintf("FAILed without waiting out the convergence window: %d consecutive attempts over %.1f s saw the same wrong answer with the route status current (the mesh converged to it)",
		len(agreeing), span.Seconds())
}

// attempt is one try at the check with the error rates of params.
func attempt(ctx context.Context, s sample.Sampler, c scenario.Check, params stats.Params, opts Options) Outcome {
	t := &trial{ctx: ctx, s: s, c: c, e: c.Expect, base: baseRequest(c, opts), p: params, opts: opts}
	if c.MaxRequests > 0 {
		t.p.Budget = c.MaxRequests
	}
	t.out = Outcome{BudgetRequests: t.p.Budget}

	// Shares first: they decide how many requests are needed.
	backends, shares := positiveShares(t.e.Split)
	if v, why := t.judgeShares(&t.out.Split, "split", backends, shares, backendCounts(backends, t.e)); v != "" {
		return t.finish(v, why)
	}
	codes, codeShares := positiveShares(t.e.StatusShare)
	if v, why := t.judgeShares(&t.out.StatusShare, "status shares", codes, codeShares, statusCounts(codes, t.e)); v != "" {
		return t.finish(v, why)
	}

	if v, why := t.judgeExact(exactNeed(t.p, t.e, c.MaxRequests), backends); v != "" {
		return t.finish(v, why)
	}
	return t.finish(verdict.Pass, t.passReason(len(backends) > 1 || len(codes) > 1))
}

// trial is one attempt in progress: what it asks of the sampler and what
// its requests have seen so far. It lives for one call of [attempt].
type trial struct {
	ctx  context.Context
	s    sample.Sampler
	c    scenario.Check
	e    scenario.Expect
	base sample.Request
	// p are the attempt's error rates, with the check's maxRequests as
	// the budget if it has one.
	p    stats.Params
	opts Options
	// merged is every batch drawn so far; out the outcome being built.
	merged sample.Result
	out    Outcome
}

// draw samples n more requests and merges them into what the attempt saw.
func (t *trial) draw(n int) (sample.Result, error) {
	r := t.base
	r.Count = n
	// Each attempt starts on new connections: a route applied since the
	// client's connections were opened steers only new ones.
	r.FreshConnections = t.merged.Requests == 0
	if r.Concurrency > n {
		r.Concurrency = n
	}
	res, err := t.s.Sample(t.ctx, r)
	if err != nil {
		return res, fmt.Errorf("sample %s: %w", t.c.Request.URL, err)
	}
	if res.Requests == 0 {
		return res, fmt.Errorf("sample %s: the client sent none of %d requests", t.c.Request.URL, n)
	}
	t.merged.Merge(res)
	return res, nil
}

// finish is the attempt's outcome with verdict v for reason and the
// evidence of every request drawn.
func (t *trial) finish(v verdict.Verdict, reason string) Outcome {
	t.out.Verdict, t.out.Reason, t.out.Observed, t.out.Requests = v, reason, t.merged, t.merged.Requests
	t.out.Tolerated = tolerated(t.merged, t.e.TolerateErrors)
	return t.out
}

// judgeShares runs the sequential test of names' shares (what names it in
// reasons) over batches counted by count, when there are two names or more,
// and puts its evidence in *ev. It returns the verdict and reason that end
// the attempt, or an empty verdict when the shares PASS or there was
// nothing to test. Bursts found after a FAIL go into the outcome.
func (t *trial) judgeShares(ev **stats.Evidence, what string, names []string, shares []float64, count func(sample.Result) ([]int, string)) (verdict.Verdict, string) {
	if len(names) < 2 {
		return "", ""
	}
	evidence, v, why, bursts, err := sequential(names, shares, t.p, t.opts, t.draw, count)
	*ev = evidence
	if bursts != nil {
		t.out.Bursts = bursts
	}
	if err != nil {
		return verdict.Error, err.Error()
	}
	if v != verdict.Pass {
		return v, orElse(why, shareReason(what, names, shares, v, *evidence, bursts, t.p.Budget)+describeUnanswered(t.merged, t.e.TolerateErrors))
	}
	return "", ""
}

// backendCounts counts a batch by the split's backends, or says why the
// split cannot explain it.
func backendCounts(backends []string, e scenario.Expect) func(sample.Result) ([]int, string) {
	return func(res sample.Result) ([]int, string) {
		if why := unexpected(res, backends, e); why != "" {
			return nil, why
		}
		counts := make([]int, len(backends))
		for i, b := range backends {
			counts[i] = res.ByBackend[b]
		}
		return counts, ""
	}
}

// statusCounts counts a batch by the expected status codes, or says why
// the status shares cannot explain it (other codes, errors not tolerated).
func statusCounts(codes []string, e scenario.Expect) func(sample.Result) ([]int, string) {
	return func(res sample.Result) ([]int, string) {
		counts := make([]int, len(codes))
		other := 0
		for code, n := range res.ByStatus {
			if i := slices.Index(codes, code); i >= 0 {
				counts[i] = n
			} else {
				other += n
			}
		}
		if other > 0 || errorCount(res, e.TolerateErrors) > 0 {
			return nil, fmt.Sprintf("status codes %v and errors %v outside the expected %v", res.ByStatus, res.Errors, codes)
		}
		return counts, ""
	}
}

// exactNeed is how many answers the exact expectations need: enough that
// a violation with share ≥ δ would have shown up but with probability β,
// and at most the check's maxRequests. A backend that must get nothing
// (zero) is tested one-sidedly against the smaller share ZeroDelta
// (stats.ExpectZero): a weight-0 backend leaking 1% is a real bug.
func exactNeed(p stats.Params, e scenario.Expect, maxRequests int) int {
	need := stats.ZeroRequests(p.Delta, p.Beta)
	if len(e.Zero) > 0 {
		need = max(need, stats.ZeroRequests(p.ZeroDelta, p.Beta))
	}
	if maxRequests > 0 && need > maxRequests {
		need = maxRequests
	}
	return need
}

// judgeExact draws until need answers (within the budget) and checks the
// expectations every response must meet. It returns the verdict and
// reason that end the attempt, or an empty verdict when all held.
func (t *trial) judgeExact(need int, backends []string) (verdict.Verdict, string) {
	for t.merged.Answered() < need && t.merged.Requests < t.p.Budget {
		res, err := t.draw(min(need-t.merged.Answered(), t.p.Budget-t.merged.Requests, batch(t.opts)))
		if err != nil {
			return verdict.Error, err.Error()
		}
		if why := exactViolation(res, t.e, backends); why != "" {
			return verdict.Fail, why
		}
	}
	if why := exactViolation(t.merged, t.e, backends); why != "" {
		return verdict.Fail, why
	}
	switch answered := t.merged.Answered(); {
	case answered == 0:
		return verdict.Fail, fmt.Sprintf("none of %d requests got an answer: errors %v", t.merged.Requests, t.merged.Errors)
	case answered < need:
		return verdict.Inconclusive, fmt.Sprintf("%d answers met every expectation, %d are needed; the budget of %d requests is spent%s", answered, need, t.p.Budget, describeUnanswered(t.merged, t.e.TolerateErrors))
	}
	return "", ""
}

// passReason says why the attempt PASSes: what it sent, what was
// tolerated, what the zero backends show, and (sharesJudged) that shares
// assume independent routing.
func (t *trial) passReason(sharesJudged bool) string {
	merged, e, p := t.merged, t.e, t.p
	reason := fmt.Sprintf("%d requests met every expectation", merged.Requests)
	if tol := tolerated(merged, e.TolerateErrors); len(tol) > 0 {
		reason = fmt.Sprintf("%d of %d requests answered, every answer as expected; %s tolerated (the check's tolerateErrors), not judged",
			merged.Answered(), merged.Requests, report.DescribeCounts(tol))
	}
	if len(e.Zero) > 0 {
		reason += fmt.Sprintf("; %s got none of %d answers: a share of %.1f%% or more would have shown up but with probability %.2g (a correct mesh never fails this)",
			strings.Join(e.Zero, ", "), merged.Answered(), 100*p.ZeroDelta, stats.ZeroMissRate(p.ZeroDelta, merged.Answered()))
	}
	if sharesJudged {
		reason += "; shares judged assuming each request is routed independently"
	}
	return reason
}

// shareReason says why a split or status-share test did not PASS: a FAIL
// names bursts when [stats.BurstTest] found them (the test's error rates
// assume independent routing, so the FAIL does not show the shares are
// off), else says the shares are off and no bursts were found; an
// INCONCLUSIVE says the budget, with its unit, is spent.
func shareReason(what string, names []string, shares []float64, v verdict.Verdict, ev stats.Evidence, bursts *stats.Bursts, budget int) string {
	want := describeShares(names, shares)
	switch {
	case v == verdict.Fail && bursts != nil && bursts.Bursty:
		return fmt.Sprintf("%s %s: responses come in bursts, or the %s changed while sampling (%s); the test assumes each request is routed independently, so this FAIL does not show the %s is off; observed %s",
			what, want, what, bursts, what, describeObserved(ev))
	case v == verdict.Fail && bursts != nil:
		return fmt.Sprintf("%s %s is off: observed %s; no bursts found (%s)", what, want, describeObserved(ev), bursts)
	case v == verdict.Fail:
		return fmt.Sprintf("%s %s is off: observed %s", what, want, describeObserved(ev))
	case v == verdict.Inconclusive:
		return fmt.Sprintf("%s %s: observed %s; the budget of %d requests is spent without a decision", what, want, describeObserved(ev), budget)
	}
	return fmt.Sprintf("%s %s: observed %s", what, want, describeObserved(ev))
}

// sequential runs a sequential test of names' shares over batches from
// draw. count turns a batch into counts per name, or says why the batch
// cannot be explained by the shares at all (then the verdict is FAIL with
// that reason). The budget bounds the requests sent, answered or not: when
// it is spent before the test decided, the verdict is INCONCLUSIVE, or FAIL
// if no request got a counted answer (every one failed with a tolerated
// error). The evidence is returned whenever the test was created.
//
// After the test FAILs, sampling goes on to [stats.BurstMinRequests]
// answers (within the budget) and [stats.BurstTest] runs over the batches
// in order; its result is returned so the reason can name bursts. The
// verdict stays the test's.
func sequential(names []string, shares []float64, p stats.Params, opts Options, draw func(int) (sample.Result, error), count func(sample.Result) ([]int, string)) (*stats.Evidence, verdict.Verdict, string, *stats.Bursts, error) {
	test, err := stats.NewSplit(names, shares, p)
	if err != nil {
		return nil, verdict.Error, "", nil, err
	}
	evidence := func() *stats.Evidence { ev := test.Evidence(); return &ev }
	var sent sample.Result
	for test.Decision() == stats.Continue {
		if sent.Requests >= p.Budget {
			if test.N() == 0 {
				return evidence(), verdict.Fail, fmt.Sprintf("none of %d requests got an answer: errors %v", sent.Requests, sent.Errors), nil, nil
			}
			return evidence(), verdict.Inconclusive, "", nil, nil
		}
		res, err := draw(min(test.Next(), p.Budget-sent.Requests, batch(opts)))
		if err != nil {
			return evidence(), verdict.Error, "", nil, err
		}
		sent.Merge(res)
		counts, why := count(res)
		if why != "" {
			return evidence(), verdict.Fail, why, nil, nil
		}
		if _, err := test.Observe(counts); err != nil {
			return evidence(), verdict.Error, "", nil, err
		}
	}
	if test.Decision() != verdict.Fail {
		return evidence(), test.Decision(), "", nil, nil
	}
	bursts := burstsAfterFail(test, p, opts, &sent, draw, count)
	return evidence(), verdict.Fail, "", &bursts, nil
}

// burstsAfterFail samples on after a FAIL to stats.BurstMinRequests
// answers and tests the batches for bursts. A batch that cannot be counted
// (an error, a response outside the shares) ends the sampling; the test
// then runs on what there is.
func burstsAfterFail(test *stats.Split, p stats.Params, opts Options, sent *sample.Result, draw func(int) (sample.Result, error), count func(sample.Result) ([]int, string)) stats.Bursts {
	batches := test.Batches()
	answered := test.N()
	for answered < stats.BurstMinRequests && sent.Requests < p.Budget {
		res, err := draw(min(test.Params().Batch, p.Budget-sent.Requests, batch(opts)))
		if err != nil {
			break
		}
		sent.Merge(res)
		counts, why := count(res)
		if why != "" {
			break
		}
		batches = append(batches, counts)
		for _, c := range counts {
			answered += c
		}
	}
	return stats.BurstTest(batches, stats.DefaultBurstLevel)
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func batch(opts Options) int {
	if opts.Batch > 0 {
		return opts.Batch
	}
	return 100
}

func baseRequest(c scenario.Check, opts Options) sample.Request {
	r := sample.Request{
		URL:     c.Request.URL,
		Method:  c.Request.Method,
		Headers: c.Request.Headers,
		GRPC:    c.Request.GRPC,

		NewConnectionPerRequest: c.Request.NewConnection,
		Concurrency:             opts.Concurrency,
		Timeout:                 sample.Duration(c.Request.Timeout.Duration),
	}
	if c.Request.Concurrency > 0 {
		r.Concurrency = c.Request.Concurrency
	}
	if r.Concurrency == 0 {
		r.Concurrency = 4
	}
	e := c.Expect
	for h := range e.ResponseHeaders {
		r.RecordHeaders = append(r.RecordHeaders, h)
	}
	if e.Location != "" {
		r.RecordHeaders = append(r.RecordHeaders, "location")
	}
	for h := range e.RequestHeaders {
		r.RecordEcho = append(r.RecordEcho, "header:"+h)
	}
	if e.Path != "" {
		r.RecordEcho = append(r.RecordEcho, "path")
	}
	sort.Strings(r.RecordHeaders)
	sort.Strings(r.RecordEcho)
	return r
}

// positiveShares returns the names with a positive share, sorted, and
// their shares.
func positiveShares(m map[string]float64) ([]string, []float64) {
	var names []string
	for k, v := range m {
		if v > 0 {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	shares := make([]float64, len(names))
	for i, n := range names {
		shares[i] = m[n]
	}
	return names, shares
}

// unexpected reports responses a split cannot explain: errors not
// tolerated, responses that are not successes (unless the check expects a
// status or status shares), backends outside the split.
func unexpected(res sample.Result, backends []string, e scenario.Expect) string {
	if n := errorCount(res, e.TolerateErrors); n > 0 {
		return fmt.Sprintf("%d of %d requests failed: %v", n, res.Requests, res.Errors)
	}
	if e.Status == 0 && len(e.StatusShare) == 0 {
		if n := unsuccessful(res.ByStatus); n > 0 {
			return fmt.Sprintf("%d of %d responses were not successful (status codes %v); a split counts only successes (2xx, gRPC OK)", n, res.Answered(), res.ByStatus)
		}
	}
	for b, n := range res.ByBackend {
		if !slices.Contains(backends, b) && n > 0 {
			return fmt.Sprintf("%d responses from backend %q, which should get none (expected %v)", n, b, backends)
		}
	}
	if res.Unattributed > 0 {
		return fmt.Sprintf("%d responses could not be attributed to a backend (status codes %v)", res.Unattributed, res.ByStatus)
	}
	return ""
}

// unsuccessful counts responses whose status is neither an HTTP 2xx nor
// gRPC OK.
func unsuccessful(byStatus map[string]int) int {
	n := 0
	for code, c := range byStatus {
		if !success(code) {
			n += c
		}
	}
	return n
}

// success reports whether a status, as the client counts it ("200", or a
// gRPC code name), is a success.
func success(code string) bool {
	if code == "OK" {
		return true
	}
	c, err := strconv.Atoi(code)
	return err == nil && c >= 200 && c <= 299
}

// describeUnanswered says how many requests got no answer with an error
// the check tolerates, or "" if there were none.
func describeUnanswered(res sample.Result, toleratedKinds []string) string {
	t := tolerated(res, toleratedKinds)
	if len(t) == 0 {
		return ""
	}
	return fmt.Sprintf("; %d of %d requests got no answer: %s tolerated (the check's tolerateErrors)", sum(t), res.Requests, report.DescribeCounts(t))
}

// tolerated counts, by kind, the failed requests whose kind the check
// tolerates; nil if there are none.
func tolerated(res sample.Result, kinds []string) map[string]int {
	var out map[string]int
	for k, v := range res.Errors {
		if v > 0 && slices.Contains(kinds, string(k)) {
			if out == nil {
				out = map[string]int{}
			}
			out[string(k)] += v
		}
	}
	return out
}

// sum adds up counts.
func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// errorCount counts failed requests whose kind is not tolerated.
func errorCount(res sample.Result, tolerated []string) int {
	n := 0
	for k, v := range res.Errors {
		if !slices.Contains(tolerated, string(k)) {
			n += v
		}
	}
	return n
}

// exactViolation checks the expectations every response must meet; a
// request that got no answer fails them unless its error is tolerated.
func exactViolation(res sample.Result, e scenario.Expect, splitBackends []string) string {
	if n := errorCount(res, e.TolerateErrors); n > 0 {
		if e.Status != 0 {
			return fmt.Sprintf("want status %d on every response; %d of %d requests failed: %v", e.Status, n, res.Requests, res.Errors)
		}
		return fmt.Sprintf("%d of %d requests failed: %v", n, res.Requests, res.Errors)
	}
	if e.Status != 0 {
		want := strconv.Itoa(e.Status)
		for code, n := range res.ByStatus {
			if code != want && n > 0 {
				return fmt.Sprintf("want status %s on every response; got %v", want, res.ByStatus)
			}
		}
	}
	backends, _ := positiveShares(e.Split)
	if len(backends) == 1 {
		if why := unexpected(res, backends, e); why != "" {
			return why
		}
	}
	for _, z := range e.Zero {
		if n := res.ByBackend[z]; n > 0 {
			return fmt.Sprintf("backend %q has weight 0 but got %d of %d responses", z, n, res.Requests)
		}
	}
	for h, v := range e.ResponseHeaders {
		if why := onlyValue("response header "+h, res.Headers[strings.ToLower(h)], res.Headers[h], v); why != "" {
			return why
		}
	}
	if e.Location != "" {
		loc := e.Location
		if why := onlyValue("Location", res.Headers["location"], res.Headers["Location"], &loc); why != "" {
			return why
		}
	}
	for h, v := range e.RequestHeaders {
		key := "header:" + h
		if why := onlyValue("request header "+h+" at the backend", res.Echo[key], res.Echo[strings.ToLower(key)], v); why != "" {
			return why
		}
	}
	if e.Path != "" {
		p := e.Path
		if why := onlyValue("path at the backend", res.Echo["path"], nil, &p); why != "" {
			return why
		}
	}
	if e.MaxLatency.Duration > 0 && res.Latency.Max > float64(e.MaxLatency.Milliseconds()) {
		return fmt.Sprintf("slowest response took %.0f ms, want at most %v", res.Latency.Max, e.MaxLatency.Duration)
	}
	if e.MinLatency.Duration > 0 && res.Latency.P50 < float64(e.MinLatency.Milliseconds()) {
		return fmt.Sprintf("median latency %.0f ms, want at least %v", res.Latency.P50, e.MinLatency.Duration)
	}
	return ""
}

// onlyValue checks that every recorded value is want (nil: absent).
func onlyValue(what string, a, b map[string]int, want *string) string {
	seen := map[string]int{}
	for k, v := range a {
		seen[k] += v
	}
	for k, v := range b {
		seen[k] += v
	}
	w := sample.Absent
	if want != nil {
		w = *want
	}
	if len(seen) == 0 {
		return fmt.Sprintf("%s was not recorded by the client", what)
	}
	for v, n := range seen {
		if v != w && n > 0 {
			if want == nil {
				return fmt.Sprintf("%s should be absent; seen %v", what, seen)
			}
			return fmt.Sprintf("%s should be %q on every response; seen %v", what, w, seen)
		}
	}
	return ""
}

func describeShares(names []string, shares []float64) string {
	parts := make([]string, len(names))
	for i := range names {
		parts[i] = fmt.Sprintf("%s %.0f%%", names[i], 100*shares[i])
	}
	return strings.Join(parts, " / ")
}

func describeObserved(ev stats.Evidence) string {
	obs := ev.Observed()
	parts := make([]string, len(ev.Names))
	for i := range ev.Names {
		iv := ev.Intervals[i]
		parts[i] = fmt.Sprintf("%s %.1f%% [%.1f, %.1f]", ev.Names[i], 100*obs[i], 100*iv.Lo, 100*iv.Hi)
	}
	return fmt.Sprintf("%s after %d requests", strings.Join(parts, " / "), ev.N)
}
