package runner

import (
	"testing"

	"sigs.k8s.io/yaml"
)

func TestInRegistry(t *testing.T) {
	manifest := `
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      initContainers:
      - name: init
        image: busybox:1.36
      containers:
      - name: echo
        image: gammaproof/echo:dev
      - name: client
        image: gammaproof/client:dev
`
	tests := []struct {
		registry string
		want     []string
	}{
		{"", []string{"busybox:1.36", "gammaproof/echo:dev", "gammaproof/client:dev"}},
		{"127.0.0.1:5000", []string{"busybox:1.36", "127.0.0.1:5000/gammaproof/echo:dev", "127.0.0.1:5000/gammaproof/client:dev"}},
	}
	for _, tt := range tests {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(manifest), &obj); err != nil {
			t.Fatal(err)
		}
		inRegistry(obj, tt.registry)
		pod := obj["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
		var got []string
		for _, list := range []string{"initContainers", "containers"} {
			for _, c := range pod[list].([]any) {
				got = append(got, c.(map[string]any)["image"].(string))
			}
		}
		if len(got) != len(tt.want) {
			t.Fatalf("registry %q: images %q, want %q", tt.registry, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("registry %q: images %q, want %q", tt.registry, got, tt.want)
				break
			}
		}
	}
}
