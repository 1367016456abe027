package xds

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/impl/model/modeltest"
)

// modelGuarantees returns what in m breaks a rule that model.Build checks
// and Translate relies on without checking it again (each rule is checked
// in one layer: the model's). nil means m is something the model can
// hand the translation.
func modelGuarantees(m *model.Mesh) error {
	var errs []error
	for _, l := range m.Listeners {
		for _, r := range l.Routes {
			fail := func(format string, args ...any) {
				errs = append(errs, fmt.Errorf("listener %s route %s: %s", l.Name, r.Name, fmt.Sprintf(format, args...)))
			}
			switch {
			case r.Redirect != nil && (len(r.Backends) > 0 || r.DirectResponse500):
				fail("a redirect with backends or a direct 500")
			case r.DirectResponse500 && len(r.Backends) > 0:
				fail("a direct 500 with backends")
			case r.Redirect == nil && !r.DirectResponse500 && len(r.Backends) == 0:
				fail("forwards to no backend (a rule without backendRefs gets the parent)")
			}
			var total uint64
			for _, b := range r.Backends {
				if b.Weight == 0 {
					fail("backend %q has weight 0", b.Cluster)
				}
				total += uint64(b.Weight)
			}
			if total > math.MaxUint32 {
				fail("weights sum to %d, more than 32 bits", total)
			}
			if rt := r.Retry; rt != nil {
				if rt.Attempts < 1 || rt.Attempts > 100 {
					fail("retry attempts %d outside 1..100", rt.Attempts)
				}
				for _, c := range rt.Codes {
					if c < 400 || c > 599 {
						fail("retry code %d outside 400..599", c)
					}
				}
				if rt.Backoff < 0 {
					fail("negative retry backoff")
				}
			}
			if r.Timeouts.Request < 0 || r.Timeouts.BackendRequest < 0 {
				fail("negative timeout")
			}
			regexes := map[string]string{}
			if r.Match.PathType == model.PathRegex {
				regexes["path"] = r.Match.PathValue
			}
			for _, h := range r.Match.Headers {
				if h.Name != strings.ToLower(h.Name) {
					fail("header match name %q not lower-case", h.Name)
				}
				if h.Regex {
					regexes["header "+h.Name] = h.Value
				}
			}
			for _, q := range r.Match.QueryParams {
				if q.Regex {
					regexes["query "+q.Name] = q.Value
				}
			}
			for what, re := range regexes {
				if _, err := regexp.Compile(re); err != nil {
					fail("%s regex %q does not compile", what, re)
				}
			}
			prefixOnly := func(pm *model.PathModifier) {
				if pm != nil && pm.Type == model.ReplacePrefixMatch && r.Match.PathType != model.PathPrefix {
					fail("ReplacePrefixMatch after a %s match", r.Match.PathType)
				}
			}
			if r.Rewrite != nil {
				prefixOnly(r.Rewrite.Path)
			}
			if r.Redirect != nil {
				prefixOnly(r.Redirect.Path)
			}
			for _, mr := range r.Mirrors {
				if mr.Denominator <= 0 || mr.Numerator < 0 || mr.Numerator > mr.Denominator {
					fail("mirror fraction %d/%d", mr.Numerator, mr.Denominator)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// modelTestInputs are the model's own test inputs, by file name.
func modelTestInputs(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range modeltest.TestdataFiles(t) {
		out[f.Name] = f.YAML
	}
	return out
}

// TestModelHandsTranslation holds the model to the rules Translate no
// longer checks itself: the model's test inputs, and inputs that break
// each rule, build into meshes that keep every guarantee, and translate
// without warnings into valid resources.
func TestModelHandsTranslation(t *testing.T) {
	inputs := modelTestInputs(t)
	for name, rule := range map[string]string{
		"all weights 0": `
  - backendRefs:
    - {name: bookstore-v1, port: 8080, weight: 0}
    - {name: bookstore-v2, port: 8080, weight: 0}`,
		"weight above the maximum": `
  - backendRefs:
    - {name: bookstore-v1, port: 8080, weight: 2000000}`,
		"no backendRefs": `
  - matches: [{path: {type: Exact, value: /parent}}]`,
		"bad path regex": `
  - matches: [{path: {type: RegularExpression, value: "(unclosed"}}]
    backendRefs: [{name: bookstore-v1, port: 8080}]`,
		"bad header regex": `
  - matches: [{headers: [{name: X-Version, type: RegularExpression, value: "["}]}]
    backendRefs: [{name: bookstore-v1, port: 8080}]`,
		"upper-case header name": `
  - matches: [{headers: [{name: X-Version, value: v2}]}]
    backendRefs: [{name: bookstore-v1, port: 8080}]`,
		"retry code out of range": `
  - retry: {attempts: 2, codes: [999]}
    backendRefs: [{name: bookstore-v1, port: 8080}]`,
		"retry attempts out of range": `
  - retry: {attempts: 1000}
    backendRefs: [{name: bookstore-v1, port: 8080}]`,
		"negative timeout": `
  - timeouts: {request: "-1s"}
    backendRefs: [{name: bookstore-v1, port: 8080}]`,
		"prefix rewrite after an exact match": `
  - matches: [{path: {type: Exact, value: /x}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /y}}}]
    backendRefs: [{name: bookstore-v1, port: 8080}]`,
		"prefix redirect after a regex match": `
  - matches: [{path: {type: RegularExpression, value: "/x.*"}}]
    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /y}}}]`,
		"mirror fraction above 1": `
  - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: bookstore-v2, port: 8080}, fraction: {numerator: 3, denominator: 2}}}]
    backendRefs: [{name: bookstore-v1, port: 8080}]`,
	} {
		inputs["rule: "+name] = append(readInput(t, "broken-rule.yaml"), strings.TrimPrefix(rule, "\n")+"\n"...)
	}
	for name, raw := range inputs {
		t.Run(name, func(t *testing.T) {
			m := model.Build(decodeInput(t, raw))
			if err := modelGuarantees(m); err != nil {
				t.Fatalf("model.Build hands the translation a mesh it relies on not getting:\n%v", err)
			}
			s, err := Translate(m)
			if err != nil {
				t.Fatalf("Translate: %v", err)
			}
			if len(s.Warnings) != 0 {
				t.Errorf("warnings: %q", s.Warnings)
			}
			for _, r := range allResources(s) {
				if err := Validate(r); err != nil {
					t.Errorf("Validate: %v", err)
				}
			}
		})
	}

	// The model's answer to all-zero weights is a 500, which the
	// translation turns into a direct response.
	m := model.Build(decodeInput(t, append(readInput(t, "broken-rule.yaml"), `  - backendRefs:
    - {name: bookstore-v1, port: 8080, weight: 0}
`...)))
	s, err := Translate(m)
	if err != nil {
		t.Fatal(err)
	}
	rs := routesOf(t, s, "mesh~shop~bookstore~8080")
	if len(rs) != 1 || rs[0].GetDirectResponse().GetStatus() != 500 {
		t.Errorf("all weights 0: routes = %v, want one direct_response 500", rs)
	}
}

// TestModelGuarantees checks that modelGuarantees catches what the
// translation relies on, so TestModelHandsTranslation can fail.
func TestModelGuarantees(t *testing.T) {
	if err := modelGuarantees(meshSplit()); err != nil {
		t.Fatalf("meshSplit: %v", err)
	}
	for name, mutate := range map[string]func(r *model.Route){
		"weight 0":          func(r *model.Route) { r.Backends[0].Weight = 0 },
		"weights overflow":  func(r *model.Route) { r.Backends[0].Weight, r.Backends[1].Weight = math.MaxUint32, 1 },
		"no backends":       func(r *model.Route) { r.Backends = nil },
		"bad regex":         func(r *model.Route) { r.Match = model.Match{PathType: model.PathRegex, PathValue: "("} },
		"retry code":        func(r *model.Route) { r.Retry = &model.Retry{Attempts: 1, Codes: []int{999}} },
		"retry attempts":    func(r *model.Route) { r.Retry = &model.Retry{Attempts: 0} },
		"mirror fraction":   func(r *model.Route) { r.Mirrors = []model.Mirror{{Cluster: "c", Numerator: 1, Denominator: 0}} },
		"upper-case header": func(r *model.Route) { r.Match.Headers = []model.StringMatch{{Name: "X-A", Value: "v"}} },
		"prefix rewrite after exact": func(r *model.Route) {
			r.Match = model.Match{PathType: model.PathExact, PathValue: "/x"}
			r.Rewrite = &model.URLRewrite{Path: &model.PathModifier{Type: model.ReplacePrefixMatch, Value: "/y"}}
		},
	} {
		m := meshSplit()
		mutate(&m.Listeners[0].Routes[0])
		if modelGuarantees(m) == nil {
			t.Errorf("%s: modelGuarantees = nil", name)
		}
	}
}
