package crds

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMatchesModule checks that the committed CRDs are byte-for-byte the ones
// in the pinned gateway-api module, and that no file is missing or extra.
func TestMatchesModule(t *testing.T) {
	modDir := gatewayAPIModuleDir(t)
	for _, ch := range []Channel{Standard, Experimental} {
		t.Run(string(ch), func(t *testing.T) {
			ours, err := Files(ch)
			if err != nil {
				t.Fatal(err)
			}
			upstream, err := filepath.Glob(filepath.Join(modDir, "config", "crd", string(ch), "gateway.*.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if len(upstream) != len(ours) {
				t.Errorf("module has %d manifests, we have %d", len(upstream), len(ours))
			}
			for _, p := range upstream {
				want, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if got, ok := ours[filepath.Base(p)]; !ok {
					t.Errorf("%s missing (copy it from %s)", filepath.Base(p), p)
				} else if !bytes.Equal(got, want) {
					t.Errorf("%s differs from %s", filepath.Base(p), p)
				}
			}
		})
	}
}

func TestCRDsDecode(t *testing.T) {
	for _, ch := range []Channel{Standard, Experimental} {
		crds, err := CRDs(ch)
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]bool{}
		for _, c := range crds {
			found[c.Name] = true
		}
		for _, want := range []string{"httproutes.gateway.networking.k8s.io", "grpcroutes.gateway.networking.k8s.io", "referencegrants.gateway.networking.k8s.io"} {
			if !found[want] {
				t.Errorf("%s: %s not among %d CRDs", ch, want, len(crds))
			}
		}
	}
}

func gatewayAPIModuleDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Fatalf("find the gateway-api module (run `go mod download`): %v", err)
	}
	dir := strings.TrimSpace(string(out))
	if !strings.HasSuffix(dir, "@"+GatewayAPIVersion) {
		t.Fatalf("go.mod pins gateway-api at %s, the CRDs here are %s: copy the new CRDs and bump GatewayAPIVersion", dir, GatewayAPIVersion)
	}
	return dir
}
