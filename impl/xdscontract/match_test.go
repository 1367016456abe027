package xdscontract

import (
	"net/http/httptest"
	"regexp"
	"testing"
)

func TestMatchPath(t *testing.T) {
	for _, tc := range []struct {
		kind PathKind
		path string
		req  string
		want bool
	}{
		{PathPrefix, "/api", "/api", true},
		{PathPrefix, "/api", "/apiv2", true},
		{PathSeparatedPrefix, "/api", "/api", true},
		{PathSeparatedPrefix, "/api", "/api/x", true},
		{PathSeparatedPrefix, "/api", "/apiv2", false},
		{PathSeparatedPrefix, "/api", "/api?q=1", true},
		{PathExact, "/api", "/api", true},
		{PathExact, "/api", "/api/", false},
		{PathExact, "/api", "/api?q=1", true},
		{PathRegex, "", "/v1/books", true},
		{PathRegex, "", "/v1/books/1", false},
	} {
		m := Match{PathKind: tc.kind, Path: tc.path, Regex: regexp.MustCompile(`^(?:/v[0-9]/books)$`)}
		if got := m.Matches(httptest.NewRequest("GET", tc.req, nil)); got != tc.want {
			t.Errorf("kind %d path %q matches %q = %v, want %v", tc.kind, tc.path, tc.req, got, tc.want)
		}
	}
}
