package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/upstream"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// TestReportUpstreamVerdicts: `gammaproof report --upstream-verdicts`
// records upstream's verdicts beside ours in results.json; a difference
// the grant policy explains (strict: upstream's MeshConsumerRoute fails)
// passes, any other disagreement exits 1 naming the scenario, with the
// reports written so they show it; a verdicts file that is not one is an
// error before anything is written.
func TestReportUpstreamVerdicts(t *testing.T) {
	published := filepath.Join(repo.Root(), "reports", "v1.6", "gammaproof", "strict", report.ResultsFile)
	r, err := report.ReadResults(published)
	if err != nil {
		t.Fatal(err)
	}
	if r.Run.GrantPolicy != "strict" {
		t.Fatalf("%s: grant policy %q, want strict", published, r.Run.GrantPolicy)
	}
	ours := map[string]verdict.Verdict{}
	for _, s := range r.Scenarios {
		if s.UpstreamTest != "" {
			ours[s.UpstreamTest] = s.Verdict
		}
	}
	if ours["MeshBasic"] != verdict.Pass || ours["MeshConsumerRoute"] != verdict.Pass {
		t.Fatalf("%s: mesh-basic %s, mesh-consumer-route %s; the test needs both PASS", published, ours["MeshBasic"], ours["MeshConsumerRoute"])
	}

	for _, tt := range []struct {
		name     string
		upstream map[string]verdict.Verdict // changes to every mesh test PASS
		code     int
		want     string
	}{
		{"strict deviation explained", map[string]verdict.Verdict{"MeshConsumerRoute": verdict.Fail}, 0, "1 different as the grant policy explains, 0 disagree"},
		{"disagreement", map[string]verdict.Verdict{"MeshConsumerRoute": verdict.Fail, "MeshBasic": verdict.Fail}, 1, "mesh-basic: ours PASS, upstream's MeshBasic FAIL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, results := copyResults(t, published)
			verdicts := map[string]verdict.Verdict{}
			for _, mt := range upstream.MeshTests() {
				verdicts[mt.ShortName] = verdict.Pass
			}
			for k, v := range tt.upstream {
				verdicts[k] = v
			}
			vpath := filepath.Join(dir, "verdicts.json")
			writeJSON(t, vpath, verdicts)

			code, stdout, stderr := runIn(t, "report", "--results", results, "--upstream-verdicts", vpath)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d saying %q", code, stdout, stderr, tt.code, tt.want)
			}
			got, err := report.ReadResults(results)
			if err != nil {
				t.Fatal(err)
			}
			attached := 0
			for _, s := range got.Scenarios {
				u := s.Upstream
				if s.UpstreamTest == "" {
					if u != nil {
						t.Errorf("%s has no upstream test but an upstream verdict %+v", s.Name, u)
					}
					continue
				}
				if u == nil || u.Test != s.UpstreamTest || u.Verdict != verdicts[s.UpstreamTest] {
					t.Errorf("%s: upstream %+v, want %s %s", s.Name, u, s.UpstreamTest, verdicts[s.UpstreamTest])
					continue
				}
				attached++
				if (u.Deviation != "") != (s.UpstreamTest == "MeshConsumerRoute") {
					t.Errorf("%s: deviation %q; only MeshConsumerRoute under strict has one", s.Name, u.Deviation)
				}
			}
			if attached == 0 {
				t.Error("no upstream verdict attached")
			}
		})
	}

	t.Run("not a verdicts file", func(t *testing.T) {
		dir, results := copyResults(t, published)
		vpath := filepath.Join(dir, "verdicts.json")
		writeJSON(t, vpath, map[string]string{"MeshBasic": "GREAT"})
		code, _, stderr := runIn(t, "report", "--results", results, "--upstream-verdicts", vpath)
		if code != 1 || !strings.Contains(stderr, "--upstream-verdicts") || !strings.Contains(stderr, "GREAT") {
			t.Errorf("exit %d, stderr %q; want 1 naming the flag and the bad verdict", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, report.HTMLFile)); err == nil {
			t.Error("report.html written despite the bad verdicts file")
		}
	})
}

// copyResults copies the results file published into a new temporary
// directory: the report's output directory.
func copyResults(t *testing.T, published string) (dir, results string) {
	t.Helper()
	b, err := os.ReadFile(published)
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	results = filepath.Join(dir, report.ResultsFile)
	if err := os.WriteFile(results, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, results
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
