package main

import (
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{args: nil},
		{args: []string{"--grant-policy=strict", "--xds-address=127.0.0.1:0", "--leader-elect=false", "--namespace="}},
		{args: []string{"--grant-policy=lax"}, wantErr: `--grant-policy: parse grant policy "lax": want spec or strict`},
		{args: []string{"--namespace="}, wantErr: "--namespace is empty"},
		{args: []string{"extra"}, wantErr: "unexpected arguments"},
		{args: []string{"--no-such-flag"}, wantErr: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f, err := parseFlags(tt.args)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("parseFlags: %v", err)
				}
				if f.xdsAddress == "" || f.grantPolicy == "" {
					t.Errorf("flags = %+v, want defaults filled", f)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
