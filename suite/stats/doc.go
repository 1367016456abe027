// Package stats decides, sequentially and with stated error rates, whether observed traffic splits match expected ones,
// and compares latency quantiles with confidence intervals.
//
// # The question
//
// A route sends each request to backend i with an unknown probability q_i.
// The route says it should be p_i. We sample requests in batches and must
// say one of:
//
//   - PASS: every backend is within ±δ of its share. The error of a PASS is a
//     miss: passing an implementation with some |q_i − p_i| ≥ δ. Its rate is
//     at most β (default 1e-3).
//   - FAIL: the data prove the split is off, in the direction of a ≥ δ
//     deviation. The error of a FAIL is a false fail: failing an
//     implementation whose split is exactly right (q = p). Its rate is at
//     most α (default 1e-6).
//   - CONTINUE: not enough evidence yet; sample another batch.
//   - INCONCLUSIVE: the request budget is spent. Never reported as a pass.
//
// Between "exactly right" and "δ off" lies an indifference zone
// (0 < |q_i − p_i| < δ): there either verdict may come out, and which one is
// more likely depends on which end q_i is nearer. That is the price of
// finishing in a bounded number of requests; every fixed-sample test
// (upstream's included) has the same zone, only with unstated error rates.
//
// # The test
//
// For each backend i and each side s ∈ {+, −} we run one Wald sequential
// probability ratio test on the backend's marginal count S_i ~ Bin(n, q_i)
// between the simple hypotheses q = p_i and q = p_i + sδ:
//
//	Λ_n = S_i·log(p1/p0) + (n − S_i)·log((1−p1)/(1−p0)),  p0 = p_i, p1 = p_i + sδ
//
// The side rejects "q is p_i or nearer" (and the whole test FAILs) when
// Λ_n ≥ log(m/α); it rejects "q is δ or more off on side s" (the side is
// accepted) when Λ_n ≤ log β. The test PASSes when every side is accepted.
//
// Why the error rates hold at every stopping time, not just at a planned n:
// exp(Λ_n) is a nonnegative martingale with mean 1 when q = p0, and because
// E_q[exp(z)] = q·p1/p0 + (1−q)(1−p1)/(1−p0) is monotone in q it is a
// supermartingale for every q on the p0 side of p0. Ville's inequality then
// gives P(sup_n Λ_n ≥ log(m/α)) ≤ α/m. The same argument applied to
// exp(−Λ_n) gives P(inf_n Λ_n ≤ log β) ≤ β for every q at or beyond p1.
// Hence:
//
//   - false fail: a correct split trips one of at most m sides, each with
//     probability ≤ α/m (Bonferroni over backends and sides), so ≤ α;
//   - miss: a split with |q_i − p_i| ≥ δ can only PASS if the one side that
//     is really violated accepted wrongly, which has probability ≤ β — no
//     Bonferroni is needed on the β side.
//
// m counts only the sides that can fire: with two backends the tests of the
// second backend are the mirror images of the first's, so m = 2; sides whose
// alternative lies outside [0, 1] (p_i − δ < 0, say) are accepted at once.
// Evaluating only at batch ends is stopping on a subsequence, which Ville's
// inequality covers, so batching costs a little overshoot and no validity.
//
// Because each side is a plain Wald SPRT, the expected number of requests is
// that of the optimal test for the same α, β, δ, up to the Bonferroni factor
// inside the logarithm (log(2/α) instead of log(1/α)), the two sides being
// run together, and batch overshoot. The simulation in sim_test.go prints
// both; see [WaldASN] and [OperatingCharacteristic], which computes the exact
// operating characteristic (by dynamic programming over the binomial
// lattice, so rare-event rates such as 1e-7 are computed, not sampled).
//
// Measured (go test ./suite/stats -run TestSim -v; exact figures by
// [OperatingCharacteristic], defaults, batches of 20): at 70/30 a correct split fails
// with probability 7.6e-7 after 1667 requests on average (p99 3760); a split
// 5 points off passes with probability 7.7e-4 (mean 2562); 8 points off,
// 2.0e-7 (mean 1178). Upstream's scheme passes the 8-points-off split 61% of
// the time. Against Wald's one-sided SPRT the mean is 1.04–1.17× except for
// an exactly correct 70/30 split (1.36×): there both sides are about equally
// hard and both must be accepted, which one one-sided SPRT does not do.
//
// # The evidence
//
// [Split.Evidence] reports the counts, the requests used, each side's log
// likelihood ratio (its e-value is exp(Λ)) with its thresholds, and for each
// backend an anytime-valid confidence sequence at confidence 1−4β (99.6%),
// also by Ville's inequality, from a mixture martingale: half a Jeffreys
// beta-binomial mixture (so the interval keeps narrowing) and a quarter each
// on the point alternatives q±δ (so it agrees with the decision: after a
// PASS the interval lies inside p±δ, after a FAIL it excludes p). See
// [ConfidenceSequence].
//
// # Exact checks
//
// A share of 0 (weight 0, or "no 500s") is exact: the side tests q = 0
// against q = δ, where a single hit gives Λ = +∞ and FAILs at once, with no
// false-fail probability at all for a correct implementation, and PASS needs
// n ≥ log β / log(1−δ) clean requests ([ZeroRequests]): 135 for δ = 0.05
// and β = 1e-3. A check spends its error rates over attempts (see Retries),
// so its first attempt tests at β/2 and needs 149 clean requests, a second
// 162, a third 176. A share of 1 (every request must be a 500) is the
// mirror image.
//
// A backend that must get nothing (a weight-0 backendRef, a check's
// "zero") is tested against a smaller alternative, q = ZeroDelta
// ([DefaultZeroDelta] = 0.5%) instead of δ: [ExpectZero]. Against δ a
// backend leaking 1% passes a 149-request check with probability
// 0.99^149 ≈ 22%; against ZeroDelta the check needs 1379 clean requests at
// β = 1e-3 (1517 at a first attempt's β/2), and a 1% leak passes with
// probability 0.99^1517 ≈ 2e-7 ([ZeroMissRate] gives (1−q)^n for any
// share q). The false-fail rate stays 0. Status shares (the 500-share
// for a partly invalid route) are tested as a two-category split (status,
// not status) by the same machinery.
//
// # Retries
//
// While a route converges a FAIL may be retried. Each retry is a fresh
// test, so both error rates add up over attempts. [ErrorBudget] spends them
// geometrically, attempt i getting α·2^−(i+1) and β·2^−(i+1), so that any
// number of attempts together keep the false-fail rate ≤ α and the miss
// rate ≤ β (a retried wrong implementation gets no second chance to slip
// through, unlike "pass if any of 10 attempts passes"). An INCONCLUSIVE is
// not retried: the budget would keep the error rates, but the test spent
// its whole request budget without deciding (a split inside the
// indifference zone, or answers lost to tolerated errors), which waiting
// for convergence does not change, so another attempt would most likely
// spend another budget to the same end.
//
// # Independence
//
// Every error rate above assumes that requests are routed independently:
// each goes to backend i with the same probability q_i, whatever the
// requests before it did. A mesh can be right on average and still break
// that: a balancer that picks a backend per connection, or weights drawn
// per block of 50–200 requests. Then the counts wander far more than a
// binomial's, and the split test FAILs a split that is right on average
// far more often than α (in the simulations of burst_test.go, 10–90% of
// the time instead of 1e-6), and would call it "split off".
//
// We test for that, but only to explain a FAIL, never to decide one:
// after the split test FAILs, suite/check samples on to
// [BurstMinRequests] (3000) requests and runs [BurstTest], Pearson's
// chi-square test of homogeneity of the shares across windows of about
// 100 and 500 consecutive requests (the client reports counts per batch,
// not the order of single requests, so batches in order are the sequence
// we have), at level [DefaultBurstLevel] = 1e-3. When it finds bursts the
// FAIL says "responses come in bursts (dispersion test … p = …)" instead
// of the split being off; otherwise it says the split is off and that
// no bursts were found. Why not a finding that can fail a check by
// itself, with a share of α:
//
//   - bursts are not by themselves wrong: the Gateway API's weights are
//     proportions of requests and say nothing of their order, so a
//     per-connection balancer that is right on average is not a failed
//     split; what bursts do break is our test's error rates;
//   - a share of α = 1e-6 would need the chi-square tail at p ≈ 5e-7,
//     where the approximation is not good enough to promise anything; at
//     1e-3 it is checked by simulation (TestBurstsIndependent: independent
//     traffic, including at the split test's stopping time);
//   - so the verdicts stay exactly those of the split test, and with them
//     α, β and the exact operating characteristic; only the reason a FAIL
//     gives changes, and a wrongly named reason costs a word, not a
//     verdict (at most at level 1e-3 for independent traffic).
//
// A PASS is not tested for bursts (that would cost every passing check
// thousands of requests); its text states the assumption instead. Data
// that show bursts also fit a split that changed while sampling (a route
// converging); the reason says so, and such a FAIL is retried like any
// other.
//
// # Latency
//
// [CompareQuantile] estimates how much a quantile (the p99, say) of one
// series of request latencies exceeds another's, with a percentile
// bootstrap interval. Latencies on a shared machine come in runs: a busy
// moment slows every request for a while, so they are far from
// independent, and resampling single values gives intervals much too
// narrow (in the simulation of TestCompareQuantileBlocks, 36 of 50 95%
// intervals excluded the true difference 0). A circular block bootstrap
// resamples runs of consecutive values instead (4 of 50 with blocks as long
// as the simulated stalls).
package stats
