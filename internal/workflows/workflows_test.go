package workflows

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/rhysd/actionlint"

	"github.com/gammaproof/gammaproof/internal/repo"
)

func TestWorkflowsLint(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(repo.Root(), ".github", "workflows", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no workflows in .github/workflows")
	}
	l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		errs, err := l.LintFile(p, nil)
		if err != nil {
			t.Fatalf("lint %s: %v", p, err)
		}
		for _, e := range errs {
			t.Errorf("%s:%d:%d: %s [%s]", filepath.Base(p), e.Line, e.Column, e.Message, e.Kind)
		}
	}
}

// TestLinterCatchesErrors makes sure the lint can fail.
func TestLinterCatchesErrors(t *testing.T) {
	l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n")
	errs, err := l.Lint("bad.yaml", bad, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) == 0 {
		t.Fatal("actionlint found nothing wrong with a workflow using an undefined matrix")
	}
}
