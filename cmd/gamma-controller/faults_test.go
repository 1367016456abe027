//go:build gammaproof_faults

package main

import (
	"slices"
	"strings"
	"testing"
)

func TestFaultArg(t *testing.T) {
	tests := []struct {
		args     []string
		wantName string
		wantRest []string
		wantErr  string
	}{
		{args: []string{"--grant-policy=strict"}, wantRest: []string{"--grant-policy=strict"}},
		{args: []string{"--fault=timeout-ignored", "--grant-policy=strict"}, wantName: "timeout-ignored", wantRest: []string{"--grant-policy=strict"}},
		{args: []string{"-fault", "split-skew-8", "--xds-address=:0"}, wantName: "split-skew-8", wantRest: []string{"--xds-address=:0"}},
		{args: []string{"--fault=nope"}, wantErr: `unknown fault "nope"; known faults: split-skew-3,`},
		{args: []string{"--fault"}, wantErr: "--fault needs a value; known faults: split-skew-3,"},
		{args: []string{"--", "--fault=x"}, wantRest: []string{"--", "--fault=x"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			name, rest, err := faultArg(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || name != tt.wantName || !slices.Equal(rest, tt.wantRest) {
				t.Fatalf("faultArg = %q, %q, %v; want %q, %q", name, rest, err, tt.wantName, tt.wantRest)
			}
			if _, err := parseFlags(rest); err != nil && !strings.Contains(err.Error(), "unexpected arguments") {
				t.Fatalf("the release flags reject what faultArg leaves: %v", err)
			}
		})
	}
}
