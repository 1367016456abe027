package main

import (
	"context"
	"strings"
	"testing"
)

func TestDispatchErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "missing command"},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"cluster"}, "missing cluster subcommand"},
		{[]string{"cluster", "sideways"}, `unknown cluster subcommand "sideways"`},
		{[]string{"cluster", "up", "extra"}, "unexpected arguments"},
		{[]string{"cluster", "down", "--no-such-flag"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			err := dispatch(context.Background(), tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("dispatch(%q) = %v, want error containing %q", tt.args, err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}
