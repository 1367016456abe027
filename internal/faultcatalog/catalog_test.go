package faultcatalog

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/suite/scenario"
)

// issueFaults are the faults issue #13 asks for by behaviour.
var issueFaults = []string{
	"split-skew-3", "split-skew-5", "split-skew-8", "weights-ignored",
	"weight-zero-gets-one-percent", "consumer-route-everywhere",
	"consumer-route-ignored", "producer-route-own-namespace-only",
	"parentref-port-ignored", "host-header-matching",
	"prefix-not-segment-bounded", "header-name-case-sensitive",
	"query-match-ignored", "precedence-by-rule-order", "header-add-replaces",
	"rewrite-double-slash", "redirect-drops-port", "timeout-ignored",
	"retries-on-post", "strict-backend-without-grant",
	"revoked-grant-honoured", "deleted-route-still-applied",
	"grpc-weights-ignored",
}

var kebab = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func TestCatalogEntries(t *testing.T) {
	all := All()
	if len(all) < 22 {
		t.Fatalf("%d faults, the issue asks for at least 22", len(all))
	}
	for _, name := range issueFaults {
		if !slices.Contains(Names(), name) {
			t.Errorf("fault %s of issue #13 is missing", name)
		}
	}
	scenarios, err := scenario.LoadAll(filepath.Join(repo.Root(), "scenarios"))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*scenario.Scenario{}
	for _, s := range scenarios {
		byName[s.Name] = s
	}
	seen := map[string]bool{}
	for _, f := range all {
		if !kebab.MatchString(f.Name) {
			t.Errorf("%q is not kebab-case", f.Name)
		}
		if seen[f.Name] {
			t.Errorf("%s appears twice", f.Name)
		}
		seen[f.Name] = true
		if f.Description == "" || strings.Contains(f.Description, "\n") {
			t.Errorf("%s: the description must be one non-empty line", f.Name)
		}
		if !strings.Contains(f.Source, "https://") {
			t.Errorf("%s: source %q names no upstream issue or spec page", f.Name, f.Source)
		}
		if (len(f.Scenarios) == 0) == (f.Gap == "") {
			t.Errorf("%s: needs either scenarios that catch it or a gap saying why none does (not both)", f.Name)
		}
		policy := ""
		for _, s := range f.Scenarios {
			sc, ok := byName[s]
			if !ok {
				t.Errorf("%s: scenario %s is not a folder under scenarios/", f.Name, s)
				continue
			}
			// The faulty controller runs with one grant policy per run.
			if sc.GrantPolicy != "" {
				if policy != "" && policy != sc.GrantPolicy {
					t.Errorf("%s: scenarios need both the %s and the %s grant policy", f.Name, policy, sc.GrantPolicy)
				}
				policy = sc.GrantPolicy
			}
		}
	}
}

func TestLookup(t *testing.T) {
	f, err := Lookup("timeout-ignored")
	if err != nil || f.Name != "timeout-ignored" || len(f.Scenarios) == 0 {
		t.Fatalf("Lookup(timeout-ignored) = %+v, %v", f, err)
	}
	_, err = Lookup("no-such-fault")
	if err == nil || !strings.Contains(err.Error(), "split-skew-8") || !strings.Contains(err.Error(), `"no-such-fault"`) {
		t.Fatalf("Lookup of an unknown name: %v; want an error naming it and listing the faults", err)
	}
}

func TestAllReturnsCopies(t *testing.T) {
	a := All()
	a[0].Scenarios[0] = "changed"
	if All()[0].Scenarios[0] == "changed" {
		t.Fatal("All shares its slices with the catalogue")
	}
}

// TestDecodeRejectsUnknownKeys: a misspelt key in catalog.yaml is an
// error, not a field silently left empty.
func TestDecodeRejectsUnknownKeys(t *testing.T) {
	_, err := decode([]byte("- name: x\n  scenario: [mesh-basic]\n"))
	if err == nil || !strings.Contains(err.Error(), `"scenario"`) {
		t.Fatalf("decode of an entry with the key scenario: %v; want an error naming it", err)
	}
}
