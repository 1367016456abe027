package model_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/internal/golden"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output")

// TestGolden builds every testdata/<name>.yaml (a "# policy: strict" line
// selects the grant policy) and compares the mesh with <name>.golden.json.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.yaml")
	}
	for _, p := range files {
		name := strings.TrimSuffix(filepath.Base(p), ".yaml")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			in := parseInput(t, string(b))
			if bytes.Contains(b, []byte("# policy: strict")) {
				in.GrantPolicy = grantpolicy.Strict
			}
			got, err := json.MarshalIndent(model.Build(in), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden.Compare(t, strings.TrimSuffix(p, ".yaml")+".golden.json", got, *update)
		})
	}
}
