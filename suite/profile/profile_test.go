package profile

import "testing"

func TestValid(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{MeshHTTP, true}, {MeshGRPC, true}, {Gammaproof, true},
		{"", false}, {"mesh-http", false}, {"GATEWAY-HTTP", false},
	}
	for _, tt := range tests {
		if got := Valid(tt.name); got != tt.want {
			t.Errorf("Valid(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	for _, p := range Upstream {
		if !Valid(p) || p == Gammaproof {
			t.Errorf("upstream profile %q is not valid or is gammaproof's own", p)
		}
	}
}
