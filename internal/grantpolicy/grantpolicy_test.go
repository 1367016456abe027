package grantpolicy

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Policy
		wantErr bool
	}{
		{"", Spec, false},
		{"spec", Spec, false},
		{"strict", Strict, false},
		{"Strict", "", true},
		{"none", "", true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Parse(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if ValidOrEmpty(tt.in) == tt.wantErr {
			t.Errorf("ValidOrEmpty(%q) = %v, want %v", tt.in, !tt.wantErr, tt.wantErr)
		}
	}
}
