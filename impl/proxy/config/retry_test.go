package config

import (
	"net/http/httptest"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestRetryOnlySafeMethods checks retriable_request_headers: a policy that
// names GET and HEAD applies to them and not to POST.
func TestRetryOnlySafeMethods(t *testing.T) {
	rp := &routev3.RetryPolicy{
		RetryOn:    "connect-failure,reset",
		NumRetries: wrapperspb.UInt32(2),
		RetriableRequestHeaders: []*routev3.HeaderMatcher{{
			Name: ":method",
			HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
				MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "GET|HEAD"}},
			}},
		}},
	}
	r, err := parseRetry(rp, "route")
	if err != nil {
		t.Fatal(err)
	}
	for method, want := range map[string]bool{"GET": true, "HEAD": true, "POST": false, "GETX": false} {
		if got := r.Applies(httptest.NewRequest(method, "http://svc/", nil)); got != want {
			t.Errorf("%s: Applies = %v, want %v", method, got, want)
		}
	}
	var none *Retry
	if none.Applies(httptest.NewRequest("GET", "http://svc/", nil)) {
		t.Error("a nil policy applies")
	}
}
