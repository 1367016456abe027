package upstream

import (
	"flag"
	"os"
	"testing"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNoUpstreamFlags keeps this package free of upstream's root
// conformance package, whose init defines these flags on flag.CommandLine
// (the runner subpackage carries that import).
func TestNoUpstreamFlags(t *testing.T) {
	for _, name := range []string{"supported-features", "exempt-features", "report-output"} {
		if flag.Lookup(name) != nil {
			t.Errorf("flag --%s is defined: something imports sigs.k8s.io/gateway-api/conformance", name)
		}
	}
}
