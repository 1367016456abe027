package config

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
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

func TestVirtualHost(t *testing.T) {
	rt := &RouteTable{VirtualHosts: []*VirtualHost{
		{Name: "any", Domains: []string{"*"}},
		{Name: "suffix", Domains: []string{"*.example.org"}},
		{Name: "exact", Domains: []string{"api.example.org"}},
	}}
	for host, want := range map[string]string{
		"api.example.org":      "exact",
		"api.example.org:8080": "exact",
		"www.example.org":      "suffix",
		"bookstore":            "any",
	} {
		if got := rt.VirtualHost(host); got == nil || got.Name != want {
			t.Errorf("VirtualHost(%q) = %v, want %q", host, got, want)
		}
	}
}

func TestHeaderMods(t *testing.T) {
	h := http.Header{"A": {"1"}, "B": {"1"}, "C": {"1"}, "Gone": {"x"}}
	mods := HeaderMods{Remove: []string{"gone"}, Add: []HeaderValue{
		{Key: "a", Value: "2", Action: AppendOrAdd},
		{Key: "b", Value: "2", Action: OverwriteOrAdd},
		{Key: "c", Value: "2", Action: AddIfAbsent},
		{Key: "d", Value: "2", Action: AddIfAbsent},
		{Key: "e", Value: "2", Action: OverwriteIfExists},
	}}
	mods.Apply(h)
	want := http.Header{"A": {"1", "2"}, "B": {"2"}, "C": {"1"}, "D": {"2"}}
	for k, v := range want {
		if !slices.Equal(h[k], v) {
			t.Errorf("header %s = %v, want %v", k, h[k], v)
		}
	}
	if _, ok := h["Gone"]; ok {
		t.Error("header Gone not removed")
	}
	if _, ok := h["E"]; ok {
		t.Error("OverwriteIfExists added an absent header")
	}
}
