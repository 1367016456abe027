package modeltest

import (
	"os"
	"path/filepath"
	"testing"
)

// File is one of the model's own test inputs.
type File struct {
	Name string // base name, e.g. seed.yaml
	YAML []byte
}

// TestdataFiles returns the model's own test inputs,
// impl/model/testdata/*.yaml, sorted by name: the model's golden test
// builds them, and the tests of the packages that consume meshes reuse
// them. modelDir is impl/model relative to the calling test's directory
// ("." from the model's tests, "../model" from impl/xds). Finding none
// stops the test: the inputs moved.
func TestdataFiles(tb testing.TB, modelDir string) []File {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(modelDir, "testdata", "*.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatalf("no %s: the model's test inputs moved; point modeltest.TestdataFiles at them", filepath.Join(modelDir, "testdata", "*.yaml"))
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
