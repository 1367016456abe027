package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/internal/golden"
	"github.com/gammaproof/gammaproof/suite/profile"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixtures are the runs the golden files and the browser test render: a
// passing run, a failing one and a passing one whose seed tolerated errors.
var fixtures = []struct {
	name    string
	failing bool
	build   func(*testing.T) *Results
}{
	{"pass", false, func(t *testing.T) *Results { return fixture(t, false) }},
	{"fail", true, func(t *testing.T) *Results { return fixture(t, true) }},
	{"tolerated", false, toleratedFixture},
}

func TestGolden(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			r := fx.build(t)
			dir := t.TempDir()
			written, err := Write(dir, r)
			if err != nil {
				t.Fatal(err)
			}
			if len(written) != 4 {
				t.Fatalf("Write wrote %v, want 4 files", written)
			}
			for _, p := range written {
				got, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				golden.Compare(t, filepath.Join("testdata", fx.name, filepath.Base(p)), got, *update)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	r := fixture(t, true)
	path := filepath.Join(t.TempDir(), ResultsFile)
	if err := WriteResults(path, r); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResults(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Encode(r)
	b, _ := Encode(back)
	if !bytes.Equal(a, b) {
		t.Error("results changed in a write/read round trip")
	}
}

// TestConformanceMatchesResults: the YAML unmarshals strictly into the
// upstream type and its counts match results.json.
func TestConformanceMatchesResults(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			r := fx.build(t)
			data, err := ConformanceYAML(r)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := DecodeConformance(data)
			if err != nil {
				t.Fatal(err)
			}
			if err := rep.Implementation.Validate(); err != nil {
				t.Errorf("upstream validation: %v", err)
			}
			want := map[string][3]int{} // profile/level -> passed, skipped, failed
			for _, s := range r.Scenarios {
				if s.UpstreamTest == "" || s.Profile == profile.Gammaproof {
					continue
				}
				key := s.Profile + "/extended"
				if s.Core {
					key = s.Profile + "/core"
				}
				c := want[key]
				switch s.Verdict {
				case verdict.Pass:
					c[0]++
				case verdict.Skip:
					c[1]++
				default:
					c[2]++
				}
				want[key] = c
			}
			got := map[string][3]int{}
			for _, p := range rep.ProfileReports {
				got[p.Name+"/core"] = [3]int{int(p.Core.Passed), int(p.Core.Skipped), int(p.Core.Failed)}
				if p.Extended != nil {
					got[p.Name+"/extended"] = [3]int{int(p.Extended.Passed), int(p.Extended.Skipped), int(p.Extended.Failed)}
				}
			}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s: conformance report counts passed/skipped/failed %v, results.json %v", k, got[k], w)
				}
			}
			if len(got) != len(want) {
				t.Errorf("profiles in report %v, in results %v", got, want)
			}
			if fx.failing {
				if !strings.Contains(string(data), "MeshHTTPRouteWeight") || !strings.Contains(string(data), "failure") {
					t.Errorf("failing run's report does not name MeshHTTPRouteWeight as failed:\n%s", data)
				}
			}
		})
	}
}

func TestDecodeConformanceStrict(t *testing.T) {
	data, err := ConformanceYAML(fixture(t, false))
	if err != nil {
		t.Fatal(err)
	}
	bad := append(append([]byte{}, data...), []byte("grantPolicy: strict\n")...)
	if _, err := DecodeConformance(bad); err == nil {
		t.Error("an unknown field decoded without error")
	}
}

func TestDecodeErrorsNameField(t *testing.T) {
	good, err := Encode(fixture(t, false))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"verdict", `"verdict": "PASS"`, `"verdict": "MAYBE"`, "scenarios[0].verdict"},
		{"apiVersion", APIVersion, "v9", "apiVersion"},
		{"unknown field", `"kind": "Results",`, `"kind": "Results", "colour": 1,`, `unknown field "colour"`},
		{"type", `"requests": 20`, `"requests": "many"`, "field scenarios.checks.requests"},
		{"environment", `"environment": "local"`, `"environment": "moon"`, "run.environment"},
		{"truncated", `"scenarios"`, `"scen`, "decode x.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := strings.Replace(string(good), tt.old, tt.new, 1)
			if data == string(good) {
				t.Fatalf("fixture does not contain %q", tt.old)
			}
			_, err := Decode([]byte(data), "x.json")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "x.json") {
				t.Fatalf("got error %v, want one naming x.json and %q", err, tt.want)
			}
		})
	}
	var fe *FieldError
	r := fixture(t, false)
	r.Scenarios[1].Name = r.Scenarios[0].Name
	if err := r.Validate(); !errors.As(err, &fe) || fe.Field != "scenarios[1].name" {
		t.Errorf("duplicate name: got %v", err)
	}
}

func TestJUnitCarriesEvidence(t *testing.T) {
	data, err := JUnit(fixture(t, true))
	if err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("junit does not parse: %v", err)
	}
	s := doc.Suites[0]
	if s.Tests != 12 || s.Failures != 3 || s.Errors != 1 || s.Skipped != 1 {
		t.Errorf("tests/failures/errors/skipped = %d/%d/%d/%d, want 12/3/1/1", s.Tests, s.Failures, s.Errors, s.Skipped)
	}
	for _, c := range s.Cases {
		if c.Name != "httproute-weight" {
			continue
		}
		if c.Failure == nil {
			t.Fatal("httproute-weight has no failure")
		}
		for _, want := range []string{"expected echo-v1 70.0%", "observed echo-v1 6", "anytime-valid", "requests"} {
			if !strings.Contains(c.Failure.Message, want) {
				t.Errorf("failure message %q lacks %q", c.Failure.Message, want)
			}
		}
		return
	}
	t.Error("no testcase httproute-weight")
}

func TestHTMLSelfContained(t *testing.T) {
	for _, fx := range fixtures {
		r := fx.build(t)
		data, err := HTML(r)
		if err != nil {
			t.Fatal(err)
		}
		page := string(data)
		for _, bad := range []string{"<script", "<link", "@import", "src=", "url("} {
			if strings.Contains(page, bad) {
				t.Errorf("%s: page contains %q; it must be self-contained", fx.name, bad)
			}
		}
		for _, s := range r.Scenarios {
			if !strings.Contains(page, `data-scenario="`+s.Name+`"`) {
				t.Errorf("%s: scenario %s missing", fx.name, s.Name)
			}
		}
	}
}
