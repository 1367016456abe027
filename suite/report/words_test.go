package report

import (
	"testing"

	"github.com/gammaproof/gammaproof/suite/verdict"
)

// TestTolerated: tolerated errors are named with their reason; a document
// from before the field existed gets them from a PASSing check's errors,
// and its "met every expectation" no longer claims the unanswered requests.
func TestTolerated(t *testing.T) {
	errs := map[string]int{"connection refused": 1533, "other": 53}
	tests := []struct {
		name                   string
		c                      Check
		wantText, wantObserved string
	}{
		{"with reason", Check{Verdict: verdict.Pass, Requests: 3460, Tolerated: errs, Errors: errs, TolerateReason: "busybox nc backend",
			Observed: "1874 of 3460 requests answered, every answer as expected"},
			"1533 connection refused, 53 other tolerated (busybox nc backend)", "1874 of 3460 requests answered, every answer as expected"},
		{"no reason given", Check{Verdict: verdict.Pass, Requests: 10, Tolerated: map[string]int{"reset": 2}, Observed: "x"},
			"2 reset tolerated (the check's tolerateErrors)", "x"},
		{"legacy document", Check{Verdict: verdict.Pass, Requests: 3460, Errors: errs, Observed: "3460 requests met every expectation"},
			"1533 connection refused, 53 other tolerated (the check's tolerateErrors)", "1874 of 3460 requests answered, every answer as expected"},
		{"failed with errors", Check{Verdict: verdict.Fail, Requests: 100, Errors: map[string]int{"timeout": 3}, Observed: "3 of 100 requests failed"},
			"", "3 of 100 requests failed"},
		{"clean", Check{Verdict: verdict.Pass, Requests: 149, Observed: "149 requests met every expectation"},
			"", "149 requests met every expectation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ToleratedText(tt.c); got != tt.wantText {
				t.Errorf("ToleratedText = %q, want %q", got, tt.wantText)
			}
			if got := observedText(tt.c); got != tt.wantObserved {
				t.Errorf("observedText = %q, want %q", got, tt.wantObserved)
			}
		})
	}
}

// TestCounted: only scenarios naming an upstream test in an upstream
// profile count toward it (and carry its tag in the HTML).
func TestCounted(t *testing.T) {
	tests := []struct {
		s    Scenario
		want bool
	}{
		{Scenario{Profile: "MESH-HTTP", UpstreamTest: "MeshBasic"}, true},
		{Scenario{Profile: "MESH-GRPC", UpstreamTest: "MeshGRPCRouteWeight"}, true},
		{Scenario{Profile: "MESH-HTTP"}, false},
		{Scenario{Profile: "gammaproof", UpstreamTest: "MeshBasic"}, false},
		{Scenario{Profile: "gammaproof"}, false},
	}
	for _, tt := range tests {
		if got := tt.s.Counted(); got != tt.want {
			t.Errorf("%+v Counted = %v, want %v", tt.s, got, tt.want)
		}
	}
}
