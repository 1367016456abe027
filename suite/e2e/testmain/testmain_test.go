package testmain

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
)

// helperEnv makes the test binary the program under test: TestHelper then
// calls Run as a command would.
const helperEnv = "GAMMAPROOF_TESTMAIN_HELPER"

// helperResult is what the helper reports on its last line of stdout.
type helperResult struct {
	OK  bool     `json:"ok"`
	Ran []string `json:"ran"`
}

// TestRun runs e2e-framework features through Run in a child process: the
// verdict follows the features, only the selected features run, and what
// the testing package prints goes to the given file, not to stdout.
func TestRun(t *testing.T) {
	tests := []struct {
		name, labels string
		fail, wantOK bool
		wantRan      []string
	}{
		{"all pass", "", false, true, []string{"alpha", "beta"}},
		{"one fails", "", true, false, []string{"alpha", "beta"}},
		{"label selects", "alpha", true, true, []string{"alpha"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testOut := t.TempDir() + "/test-output"
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelper$")
			cmd.Env = append(os.Environ(), helperEnv+"=1", "HELPER_FAIL="+fmt.Sprint(tt.fail), "HELPER_LABEL="+tt.labels, "HELPER_OUT="+testOut)
			stdout, err := cmd.Output()
			if err != nil {
				t.Fatalf("helper: %v\n%s", err, stdout)
			}
			lines := strings.Split(strings.TrimSpace(string(stdout)), "\n")
			var res helperResult
			for _, l := range lines {
				if rest, ok := strings.CutPrefix(l, "RESULT "); ok {
					if err := json.Unmarshal([]byte(rest), &res); err != nil {
						t.Fatal(err)
					}
				}
			}
			slices.Sort(res.Ran)
			if res.OK != tt.wantOK || !slices.Equal(res.Ran, tt.wantRan) {
				t.Errorf("Run: ok %v, ran %v; want ok %v, ran %v\nstdout:\n%s", res.OK, res.Ran, tt.wantOK, tt.wantRan, stdout)
			}
			out, err := os.ReadFile(testOut)
			if err != nil {
				t.Fatal(err)
			}
			if tt.fail && tt.labels == "" {
				if !strings.Contains(string(out), "beta broke") || !strings.Contains(string(out), "--- FAIL: TestHelper/beta") {
					t.Errorf("the failure is not in the test output file:\n%s", out)
				}
			}
			if slices.Contains(strings.Split(string(out), "\n"), "PASS") || slices.Contains(strings.Split(string(out), "\n"), "FAIL") {
				t.Errorf("the test output keeps the closing PASS/FAIL line:\n%s", out)
			}
			if strings.Contains(string(stdout), "beta broke") {
				t.Errorf("the testing package wrote to stdout during Run:\n%s", stdout)
			}
		})
	}
}

// TestHelper is the child process of TestRun.
func TestHelper(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		return
	}
	out, err := os.Create(os.Getenv("HELPER_OUT"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cfg := envconf.New().WithParallelTestEnabled()
	if l := os.Getenv("HELPER_LABEL"); l != "" {
		cfg.WithLabels(map[string][]string{"name": {l}})
	}
	e, err := env.NewWithContext(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ran []string
	feature := func(name string, fail bool) features.Feature {
		return features.New(name).WithLabel("name", name).Assess("works", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			mu.Lock()
			ran = append(ran, name)
			mu.Unlock()
			if fail {
				t.Errorf("%s broke", name)
			}
			return ctx
		}).Feature()
	}
	fail := os.Getenv("HELPER_FAIL") == "true"
	// The helper is itself run by go test: the inner test must pass its -test.run.
	ok := Run(out, "TestHelper", func(t *testing.T) {
		e.TestInParallel(t, feature("alpha", false), feature("beta", fail))
	})
	b, _ := json.Marshal(helperResult{OK: ok, Ran: ran})
	fmt.Printf("RESULT %s\n", b)
}
