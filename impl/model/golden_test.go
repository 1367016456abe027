package model_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/impl/model/modeltest"
	"github.com/gammaproof/gammaproof/internal/golden"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output")

// TestGolden builds every testdata/<name>.yaml (a "# policy: strict" line
// selects the grant policy) and compares the mesh with <name>.golden.json.
func TestGolden(t *testing.T) {
	for _, f := range modeltest.TestdataFiles(t) {
		name := strings.TrimSuffix(f.Name, ".yaml")
		t.Run(name, func(t *testing.T) {
			in := parseInput(t, string(f.YAML))
			if bytes.Contains(f.YAML, []byte("# policy: strict")) {
				in.GrantPolicy = grantpolicy.Strict
			}
			got, err := json.MarshalIndent(model.Build(in), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden.Compare(t, filepath.Join("testdata", name+".golden.json"), got, *update)
		})
	}
}
