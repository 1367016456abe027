package xdscontract

import (
	"net/http/httptest"
	"testing"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestRetryOnlySafeMethods checks retriable_request_headers: a policy that
// names GET and HEAD applies to them and not to POST.
func TestRetryOnlySafeMethods(t *testing.T) {
	rp := &route.RetryPolicy{
		RetryOn:    "connect-failure,reset",
		NumRetries: wrapperspb.UInt32(2),
		RetriableRequestHeaders: []*route.HeaderMatcher{{
			Name: ":method",
			HeaderMatchSpecifier: &route.HeaderMatcher_StringMatch{StringMatch: &matcher.StringMatcher{
				MatchPattern: &matcher.StringMatcher_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: "GET|HEAD"}},
			}},
		}},
	}
	r, err := DecodeRetry(rp, "route")
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
