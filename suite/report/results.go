package report

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gammaproof/gammaproof/internal/grantpolicy"
	"github.com/gammaproof/gammaproof/suite/profile"
	"github.com/gammaproof/gammaproof/suite/stats"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// Environments a run may use.
const (
	EnvLocal    = "local"
	EnvKind     = "kind"
	EnvExisting = "existing"
)

// Check kinds.
const (
	// CheckSplit is a sequential test of shares per backend.
	CheckSplit = "split"
	// CheckStatusShare is a sequential test of shares per status code.
	CheckStatusShare = "statusShare"
	// CheckExact is an exact check (zero share, status, header, path…).
	CheckExact = "exact"
)

// APIVersion and Kind identify a results.json document.
const (
	APIVersion = "gammaproof.io/v1alpha1"
	Kind       = "Results"
)

// Results is the document a run writes to results.json. See SCHEMA.md.
type Results struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Run        Run        `json:"run"`
	Scenarios  []Scenario `json:"scenarios"`
}

// Run describes the run as a whole.
type Run struct {
	Implementation Implementation `json:"implementation"`
	// Environment is local, kind or existing.
	Environment string  `json:"environment"`
	Cluster     Cluster `json:"cluster"`
	// GrantPolicy is spec or strict (our implementation's ReferenceGrant
	// policy; "" for an existing implementation whose policy is unknown).
	GrantPolicy string `json:"grantPolicy,omitempty"`
	// Mode is the upstream report mode, e.g. default or strict-grants.
	// Optional: derived from GrantPolicy.
	Mode       string     `json:"mode,omitempty"`
	Statistics Statistics `json:"statistics"`
	GatewayAPI GatewayAPI `json:"gatewayAPI"`
	Start      time.Time  `json:"start"`
	End        time.Time  `json:"end"`
	// SupportedFeatures and UnsupportedFeatures are the feature names the
	// run was told the implementation does and does not support.
	SupportedFeatures   []string `json:"supportedFeatures,omitempty"`
	UnsupportedFeatures []string `json:"unsupportedFeatures,omitempty"`
}

// Implementation names the implementation under test.
type Implementation struct {
	// Name is a display name, e.g. "gammaproof".
	Name         string   `json:"name"`
	Organization string   `json:"organization"`
	Project      string   `json:"project"`
	URL          string   `json:"url"`
	Version      string   `json:"version"`
	Contact      []string `json:"contact,omitempty"`
}

// Cluster describes the cluster the run used.
type Cluster struct {
	Name              string `json:"name,omitempty"`
	KubernetesVersion string `json:"kubernetesVersion"`
	Nodes             int    `json:"nodes,omitempty"`
}

// Statistics are the run's error rates and tolerance.
type Statistics struct {
	Alpha float64 `json:"alpha"`
	Beta  float64 `json:"beta"`
	// Delta is the tolerance, an absolute share (0.05 = 5 points).
	Delta  float64 `json:"delta"`
	Budget int     `json:"budget,omitempty"`
}

// GatewayAPI is the Gateway API release and channel the CRDs came from.
type GatewayAPI struct {
	Version string `json:"version"`
	Channel string `json:"channel"`
}

// Scenario is one scenario's outcome.
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// UpstreamTest is the Gateway API conformance short name checking the
	// same behaviour (MeshHTTPRouteWeight, …); "" if none.
	UpstreamTest string `json:"upstreamTest,omitempty"`
	// Profile is MESH-HTTP, MESH-GRPC or gammaproof.
	Profile string `json:"profile"`
	// Core is true for a profile's core tests, false for extended.
	Core     bool            `json:"core,omitempty"`
	Features []string        `json:"features,omitempty"`
	Verdict  verdict.Verdict `json:"verdict"`
	// DurationSeconds is the scenario's wall time, setup included.
	DurationSeconds float64       `json:"durationSeconds"`
	Checks          []Check       `json:"checks,omitempty"`
	RouteStatus     []RouteStatus `json:"routeStatus,omitempty"`
	// Error says why the scenario is ERROR or FAIL beyond its checks, or
	// why it was skipped.
	Error string `json:"error,omitempty"`
	// Upstream is upstream's verdict on UpstreamTest from the same run,
	// when upstream's conformance suite ran as part of it (see
	// AttachUpstream).
	Upstream *UpstreamVerdict `json:"upstream,omitempty"`
}

// Check is one traffic expectation and its evidence.
type Check struct {
	Name string `json:"name"`
	// Step is the scenario step the check belongs to (walkthroughs show
	// one picture per step).
	Step        string `json:"step,omitempty"`
	Description string `json:"description,omitempty"`
	// Client is the calling pod, namespace/name.
	Client string `json:"client,omitempty"`
	URL    string `json:"url,omitempty"`
	// Kind is split, statusShare or exact.
	Kind    string          `json:"kind"`
	Verdict verdict.Verdict `json:"verdict"`
	// Categories are the backends (split) or status codes (statusShare)
	// with expected share, observed count and interval.
	Categories []Category `json:"categories,omitempty"`
	// Expected and Observed describe an exact check in words
	// ("header x-foo: bar", "status 500 on every response").
	Expected string `json:"expected,omitempty"`
	Observed string `json:"observed,omitempty"`
	// Requests is the number of requests used, over all attempts.
	Requests int `json:"requests"`
	// Attempts is the number of sequential tests run (retries during
	// convergence); the error rates were spent over them.
	Attempts int `json:"attempts,omitempty"`
	// ConvergenceSeconds is the time from the route being accepted to the
	// final decision.
	ConvergenceSeconds float64 `json:"convergenceSeconds"`
	// Alpha and Beta are the error rates of the deciding attempt.
	Alpha float64 `json:"alpha,omitempty"`
	Beta  float64 `json:"beta,omitempty"`
	// IntervalLevel is the confidence of the intervals, e.g. 0.999.
	IntervalLevel float64 `json:"intervalLevel,omitempty"`
	// Evidence is each one-sided test's log likelihood ratio.
	Evidence []Evidence `json:"evidence,omitempty"`
	// StatusCodes counts responses per status code.
	StatusCodes map[string]int `json:"statusCodes,omitempty"`
	// Errors counts failed requests by kind (timeout, reset, …).
	Errors map[string]int `json:"errors,omitempty"`
	// Tolerated counts, by kind, the failed requests of the deciding
	// attempt whose kind the check tolerates (the scenario's
	// tolerateErrors): counted and reported, not judged.
	Tolerated map[string]int `json:"tolerated,omitempty"`
	// TolerateReason is the scenario's reason for tolerating them, e.g.
	// "busybox nc backend".
	TolerateReason string `json:"tolerateReason,omitempty"`
	// BudgetRequests is the most requests the deciding attempt could
	// send, answered or not (the statistics' budget or the check's
	// maxRequests); 0 when unknown.
	BudgetRequests int `json:"budgetRequests,omitempty"`
	// Bursts is the test for answers coming in bursts, run after a split
	// or status-share test FAILed (see suite/stats BurstTest); absent when
	// it did not run.
	Bursts *stats.Bursts `json:"bursts,omitempty"`
	Error  string        `json:"error,omitempty"`
}

// Category is one backend or status code of a statistical check.
type Category struct {
	Name string `json:"name"`
	// Expected is the expected share in [0, 1].
	Expected float64 `json:"expected"`
	Count    int     `json:"count"`
	// Interval is the anytime-valid confidence interval of the share.
	Interval *Interval `json:"interval,omitempty"`
}

// Interval is a confidence interval of a share.
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// Evidence is one one-sided sequential test: expected share versus
// Alternative. exp(LogLR) is its e-value against the expected share.
type Evidence struct {
	Category    string  `json:"category"`
	Alternative float64 `json:"alternative"`
	LogLR       float64 `json:"logLR"`
	// FailAt and PassAt are the thresholds log(m/α) and log β.
	FailAt float64 `json:"failAt"`
	PassAt float64 `json:"passAt"`
	// Decision is CONTINUE, PASS (accepted) or FAIL.
	Decision stats.Decision `json:"decision"`
	N        int            `json:"n"`
}

// RouteStatus is the status of one route as seen after a step's waits,
// before its checks.
type RouteStatus struct {
	// Step is the scenario step after whose waits the status was read.
	Step      string `json:"step,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Parent is the parent Service, namespace/name[:port].
	Parent     string      `json:"parent"`
	Controller string      `json:"controller,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
}

// Condition is a metav1.Condition as reported.
type Condition struct {
	Type               string `json:"type"`
	Status             string `json:"status"`
	Reason             string `json:"reason,omitempty"`
	Message            string `json:"message,omitempty"`
	ObservedGeneration int64  `json:"observedGeneration,omitempty"`
	// Expected is true when the scenario waited for this condition with
	// this status (e.g. ResolvedRefs=False for a missing backend): an
	// expected False is the behaviour under test, not an error.
	Expected bool `json:"expected,omitempty"`
}

// Counted reports whether s counts toward its profile's totals in the
// upstream ConformanceReport (see [Conformance]): it names an upstream test
// and its profile is one of upstream's. Other scenarios are gammaproof's
// own: checked and reported, counted toward no upstream profile.
func (s Scenario) Counted() bool {
	return s.UpstreamTest != "" && slices.Contains(profile.Upstream, s.Profile)
}

// Totals counts scenarios per verdict.
type Totals map[verdict.Verdict]int

// Totals counts the scenarios per verdict.
func (r *Results) Totals() Totals {
	t := Totals{}
	for _, s := range r.Scenarios {
		t[s.Verdict]++
	}
	return t
}

// Passed reports whether every scenario passed or was skipped.
func (r *Results) Passed() bool {
	for _, s := range r.Scenarios {
		if s.Verdict != verdict.Pass && s.Verdict != verdict.Skip {
			return false
		}
	}
	return true
}

// ModeName returns the upstream report mode: Run.Mode if set, else
// strict-grants for the strict grant policy, else default.
func (r *Run) ModeName() string {
	switch {
	case r.Mode != "":
		return r.Mode
	case grantpolicy.Policy(r.GrantPolicy) == grantpolicy.Strict:
		return "strict-grants"
	}
	return "default"
}

// Validate checks the document and returns an error naming the first bad
// field as a path, e.g. scenarios[2].verdict.
func (r *Results) Validate() error {
	if r.APIVersion != APIVersion {
		return fieldErr("apiVersion", "is %q, want %q", r.APIVersion, APIVersion)
	}
	if r.Kind != Kind {
		return fieldErr("kind", "is %q, want %q", r.Kind, Kind)
	}
	if err := r.Run.validateSetup(); err != nil {
		return err
	}
	if err := r.validateTexts(); err != nil {
		return err
	}
	if err := r.Run.Statistics.validate(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, s := range r.Scenarios {
		if err := s.validate(fmt.Sprintf("scenarios[%d]", i), seen); err != nil {
			return err
		}
	}
	return nil
}

// validateSetup checks what the run was of: the implementation is named,
// the environment and grant policy are known.
func (r *Run) validateSetup() error {
	if r.Implementation.Name == "" && r.Implementation.Project == "" {
		return fieldErr("run.implementation", "needs a name or a project")
	}
	if !slices.Contains([]string{EnvLocal, EnvKind, EnvExisting}, r.Environment) {
		return fieldErr("run.environment", "is %q, want local, kind or existing", r.Environment)
	}
	if !grantpolicy.ValidOrEmpty(r.GrantPolicy) {
		return fieldErr("run.grantPolicy", "is %q, want %s or %s", r.GrantPolicy, grantpolicy.Spec, grantpolicy.Strict)
	}
	return nil
}

// validateTexts checks that the texts that go into upstream's
// ConformanceReport YAML, which cannot carry control characters, hold
// none; fields are checked in sorted order.
func (r *Results) validateTexts() error {
	impl := r.Run.Implementation
	texts := map[string]string{
		"run.implementation.name": impl.Name, "run.implementation.organization": impl.Organization,
		"run.implementation.project": impl.Project, "run.implementation.url": impl.URL,
		"run.implementation.version": impl.Version, "run.mode": r.Run.Mode,
		"run.gatewayAPI.version": r.Run.GatewayAPI.Version, "run.gatewayAPI.channel": r.Run.GatewayAPI.Channel,
	}
	for i, c := range impl.Contact {
		texts[fmt.Sprintf("run.implementation.contact[%d]", i)] = c
	}
	for i, s := range r.Scenarios {
		texts[fmt.Sprintf("scenarios[%d].upstreamTest", i)] = s.UpstreamTest
	}
	for _, field := range slices.Sorted(maps.Keys(texts)) {
		if strings.ContainsFunc(texts[field], unicode.IsControl) {
			return fieldErr(field, "%q holds a control character", texts[field])
		}
	}
	return nil
}

// validate checks that the error rates and tolerance are probabilities.
func (st Statistics) validate() error {
	if !(st.Alpha > 0 && st.Alpha < 1) || !(st.Beta > 0 && st.Beta < 1) || !(st.Delta > 0 && st.Delta < 1) {
		return fieldErr("run.statistics", "alpha, beta and delta must be in (0, 1), got %g, %g, %g", st.Alpha, st.Beta, st.Delta)
	}
	return nil
}

// validate checks the scenario at path at and its checks; seen holds the
// names of the scenarios before it, and gets this one's.
func (s Scenario) validate(at string, seen map[string]bool) error {
	if s.Name == "" {
		return fieldErr(at+".name", "is empty")
	}
	if seen[s.Name] {
		return fieldErr(at+".name", "%q appears twice", s.Name)
	}
	seen[s.Name] = true
	if !profile.Valid(s.Profile) {
		return fieldErr(at+".profile", "is %q, want one of %s", s.Profile, strings.Join(profile.All, ", "))
	}
	if !s.Verdict.Valid() {
		return fieldErr(at+".verdict", "is %q, want one of %s", s.Verdict, verdictList())
	}
	if u := s.Upstream; u != nil {
		if u.Test != s.UpstreamTest {
			return fieldErr(at+".upstream.test", "is %q, want the scenario's upstreamTest %q", u.Test, s.UpstreamTest)
		}
		if u.Verdict != verdict.Pass && u.Verdict != verdict.Fail && u.Verdict != verdict.Skip {
			return fieldErr(at+".upstream.verdict", "is %q, want PASS, FAIL or SKIP", u.Verdict)
		}
	}
	for j, c := range s.Checks {
		if err := c.validate(fmt.Sprintf("%s.checks[%d]", at, j)); err != nil {
			return err
		}
	}
	return nil
}

// validate checks the check at path at: its kind and verdict are known,
// its counts are not negative and its categories hold shares.
func (c Check) validate(at string) error {
	if !slices.Contains([]string{CheckSplit, CheckStatusShare, CheckExact}, c.Kind) {
		return fieldErr(at+".kind", "is %q, want split, statusShare or exact", c.Kind)
	}
	if !c.Verdict.Valid() {
		return fieldErr(at+".verdict", "is %q, want one of %s", c.Verdict, verdictList())
	}
	if c.Requests < 0 {
		return fieldErr(at+".requests", "is negative")
	}
	if c.BudgetRequests < 0 {
		return fieldErr(at+".budgetRequests", "is negative")
	}
	for _, k := range slices.Sorted(maps.Keys(c.Tolerated)) {
		if c.Tolerated[k] < 0 {
			return fieldErr(fmt.Sprintf("%s.tolerated[%q]", at, k), "is negative")
		}
	}
	for k, cat := range c.Categories {
		if err := cat.validate(fmt.Sprintf("%s.categories[%d]", at, k)); err != nil {
			return err
		}
	}
	return nil
}

// validate checks the category at path at: a share expected, a count not
// negative and an interval within [0, 1].
func (cat Category) validate(at string) error {
	if !(cat.Expected >= 0 && cat.Expected <= 1) {
		return fieldErr(at+".expected", "is %g, want a share in [0, 1]", cat.Expected)
	}
	if cat.Count < 0 {
		return fieldErr(at+".count", "is negative")
	}
	if iv := cat.Interval; iv != nil && !(0 <= iv.Lo && iv.Lo <= iv.Hi && iv.Hi <= 1) {
		return fieldErr(at+".interval", "[%g, %g] is not within [0, 1]", iv.Lo, iv.Hi)
	}
	return nil
}

func verdictList() string {
	s := make([]string, len(verdict.All))
	for i, v := range verdict.All {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// FieldError is a problem with one field of a results document.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// VerdictOf maps a sequential decision to a verdict: a test still
// continuing when the check ended is INCONCLUSIVE.
func VerdictOf(d stats.Decision) verdict.Verdict {
	if d == stats.Continue {
		return verdict.Inconclusive
	}
	return d
}

// SplitCheck fills a statistical check from a test's evidence: categories
// with expected shares, counts and intervals, the one-sided tests, the
// requests used and the verdict. kind is CheckSplit or CheckStatusShare.
// Requests and Attempts from earlier attempts are the caller's to add.
func SplitCheck(name, kind string, e stats.Evidence) Check {
	c := Check{
		Name:          name,
		Kind:          kind,
		Verdict:       VerdictOf(e.Decision),
		Requests:      e.N,
		Attempts:      1,
		Alpha:         e.Params.Alpha,
		Beta:          e.Params.Beta,
		IntervalLevel: e.Level,
	}
	for i, n := range e.Names {
		cat := Category{Name: n, Expected: e.Expected[i], Count: e.Counts[i]}
		if i < len(e.Intervals) {
			cat.Interval = &Interval{Lo: e.Intervals[i].Lo, Hi: e.Intervals[i].Hi}
		}
		c.Categories = append(c.Categories, cat)
	}
	for _, sd := range e.Sides {
		c.Evidence = append(c.Evidence, Evidence{
			Category:    e.Names[sd.Backend],
			Alternative: sd.P1,
			LogLR:       finite(sd.LogLR),
			FailAt:      sd.Upper,
			PassAt:      sd.Lower,
			Decision:    sd.Decision,
			N:           sd.N,
		})
	}
	return c
}

// Infinity is how an infinite log likelihood ratio (one hit on a share that
// must be 0) is written: JSON has no infinities.
const Infinity = 1e300

func finite(v float64) float64 {
	switch {
	case math.IsInf(v, 1):
		return Infinity
	case math.IsInf(v, -1):
		return -Infinity
	}
	return v
}
