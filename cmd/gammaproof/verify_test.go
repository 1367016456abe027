package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/gammaproof/gammaproof/suite/console"
	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

func TestVerdictError(t *testing.T) {
	tests := []struct {
		name     string
		verdicts []verdict.Verdict
		wantErr  string // "" = exit 0; else errScenariosFailed (exit 1) with this text
	}{
		{"all pass", []verdict.Verdict{verdict.Pass, verdict.Pass}, ""},
		{"skips allowed", []verdict.Verdict{verdict.Pass, verdict.Skip, verdict.Skip}, ""},
		{"a fail", []verdict.Verdict{verdict.Pass, verdict.Fail, verdict.Skip}, "1 of 3 scenarios did not pass"},
		{"inconclusive is not a pass", []verdict.Verdict{verdict.Inconclusive, verdict.Pass}, "1 of 2 scenarios did not pass"},
		{"an error", []verdict.Verdict{verdict.Error, verdict.Fail}, "2 of 2 scenarios did not pass"},
		{"only skips", []verdict.Verdict{verdict.Skip}, "0 of 1 scenarios did not pass"},
		{"none ran", nil, "no scenario ran"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &report.Results{}
			for _, v := range tt.verdicts {
				res.Scenarios = append(res.Scenarios, report.Scenario{Name: string(v), Verdict: v})
			}
			err := verdictError(console.NewSummary(res, nil, time.Second))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("verdictError = %v, want nil (exit 0)", err)
			case tt.wantErr != "" && (!errors.Is(err, errScenariosFailed) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("verdictError = %v, want errScenariosFailed saying %q", err, tt.wantErr)
			}
		})
	}
}

// TestVerifyBadUsage: bad flag values fail before the run (PreRunE, so
// the root maps them to exit 2), naming the flag.
func TestVerifyBadUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--env=minikube"}, "--env"},
		{[]string{"--implementation=istio"}, "--implementation"},
		{[]string{"-o", "xml"}, "-o"},
		{[]string{"--mode=Default Mode"}, "--mode"},
		{[]string{"--alpha=2"}, "--alpha"},
		{[]string{"--labels=profile"}, "labels"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := verifyCommand()
			ran := false
			cmd.RunE = func(*cobra.Command, []string) error { ran = true; return nil }
			cmd.SetArgs(tt.args)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.Execute()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Execute = %v, want an error about %s", err, tt.want)
			}
			if ran {
				t.Error("the run started despite bad usage")
			}
		})
	}
}
