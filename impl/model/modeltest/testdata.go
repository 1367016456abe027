package modeltest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gammaproof/gammaproof/internal/repo"
)

// File is one of the model's own test inputs.
type File struct {
	Name string // base name, e.g. seed.yaml
	YAML []byte
}

// TestdataFiles returns the model's own test inputs,
// impl/model/testdata/*.yaml, sorted by name: the model's golden test
// builds them, and the tests of the packages that consume meshes reuse
// them. Finding none stops the test: the inputs moved.
func TestdataFiles(tb testing.TB) []File {
	tb.Helper()
	pattern := filepath.Join(repo.Root(), "impl", "model", "testdata", "*.yaml")
	paths, err := filepath.Glob(pattern)
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatalf("no %s: the model's test inputs moved", pattern)
	}
	out := make([]File, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, File{Name: filepath.Base(p), YAML: b})
	}
	return out
}
