package perf

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gammaproof/gammaproof/suite/sample"
	"github.com/gammaproof/gammaproof/suite/stats"
)

// Change is one change to a cluster whose effect on traffic is measured.
type Change struct {
	// Name says what changes, for errors.
	Name string
	// Apply makes the change (e.g. applies a route or deletes a grant).
	Apply func(context.Context) error
	// Probe is the batch that shows whether the change took effect (Count
	// requests, default 1), sent one request at a time, each on a new
	// connection.
	Probe sample.Request
	// Reflected reports whether a probe's result shows the change.
	Reflected func(sample.Result) bool
}

// Measure applies c and probes until traffic reflects it, at most timeout.
// It returns the time from the start of Apply to the end of the first probe
// that reflected the change: an upper bound of the convergence time, coarse
// by one probe's round trip.
func Measure(ctx context.Context, s sample.Sampler, c Change, timeout time.Duration) (time.Duration, error) {
	probe := c.Probe
	probe.Count, probe.Concurrency, probe.Rate = max(probe.Count, 1), 1, 0
	probe.NewConnectionPerRequest = true
	start := time.Now()
	if err := c.Apply(ctx); err != nil {
		return 0, fmt.Errorf("%s: %w", c.Name, err)
	}
	deadline := start.Add(timeout)
	var last string
	for {
		res, err := s.Sample(ctx, probe)
		switch {
		case err != nil:
			last = err.Error()
		case c.Reflected(res):
			return time.Since(start), nil
		default:
			last = describe(res)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: traffic did not reflect it within %v; last probe: %s", c.Name, timeout, last)
		}
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("%s: %w", c.Name, err)
		}
	}
}

// describe summarises a probe's result for an error message.
func describe(r sample.Result) string {
	out := fmt.Sprintf("status %v, backends %v, errors %v", r.ByStatus, r.ByBackend, r.Errors)
	if len(r.ErrorExamples) > 0 {
		out += fmt.Sprintf(" (e.g. %v)", r.ErrorExamples)
	}
	return out
}

// Summary holds nearest-rank quantiles of measured durations.
type Summary struct {
	N             int
	P50, P99, Max time.Duration
}

// Summarize returns the quantiles of d.
func Summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	d = slices.Clone(d)
	slices.Sort(d)
	q := func(p float64) time.Duration { return d[stats.NearestRank(len(d), p)] }
	return Summary{N: len(d), P50: q(0.50), P99: q(0.99), Max: d[len(d)-1]}
}

// String prints the summary in milliseconds.
func (s Summary) String() string {
	return fmt.Sprintf("n=%d p50=%.1fms p99=%.1fms max=%.1fms", s.N, msOf(s.P50), msOf(s.P99), msOf(s.Max))
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Throughput is one load run's outcome.
type Throughput struct {
	Requests, Failed int
	RPS              float64
	P50, P99         float64 // milliseconds
	// Outcome describes the answers: statuses, backends and errors.
	Outcome string
	// Latencies holds each answered request's latency in milliseconds, in
	// the order the requests were due, if the request recorded them.
	Latencies []float64
}

// Load sends req once and reports its throughput and latency; requests that
// got no answer or a status other than 200 count as failed.
func Load(ctx context.Context, s sample.Sampler, req sample.Request) (Throughput, error) {
	res, err := s.Sample(ctx, req)
	if err != nil {
		return Throughput{}, fmt.Errorf("load %s: %w", req.URL, err)
	}
	t := Throughput{Requests: res.Requests, Failed: res.Requests - res.ByStatus["200"], P50: res.Latency.P50, P99: res.Latency.P99, Outcome: describe(res), Latencies: res.Latencies}
	if res.DurationMs > 0 {
		t.RPS = float64(res.Requests) / (res.DurationMs / 1000)
	}
	return t, nil
}

// Verdict says whether a measured difference meets a goal.
type Verdict string

// Verdicts of [Judge].
const (
	GoalMet       Verdict = "met"
	GoalMissed    Verdict = "missed"
	GoalUndecided Verdict = "not decided"
)

// Judge says whether d shows an added latency of at most goal: met when
// its whole confidence interval lies at or below goal, missed when the
// whole interval lies above it, and not decided when the interval
// straddles it (more samples, or a quieter machine, would decide).
func Judge(d stats.QuantileDiff, goal float64) Verdict {
	switch {
	case d.Hi <= goal:
		return GoalMet
	case d.Lo > goal:
		return GoalMissed
	}
	return GoalUndecided
}
