package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/suite/sample/echo"
)

// TestModes runs the echo backend with gamma-echo's modes on a real
// loopback HTTP server.
func TestModes(t *testing.T) {
	srv := httptest.NewServer(withModes(echo.New(echo.Config{Version: "v1"}).Handler()))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	post := func(query string) (*http.Response, error) {
		return client.Post(srv.URL+"/post?"+query, "text/plain", strings.NewReader("a body the backend reads"))
	}

	// The first arrival of a key is read and reset; a second one (a retry)
	// is answered and says it is the second.
	if resp, err := post("reset-first=1&key=k1"); err == nil {
		resp.Body.Close()
		t.Fatalf("first POST of key k1: status %d, want the connection reset", resp.StatusCode)
	}
	resp, err := post("reset-first=1&key=k1")
	if err != nil {
		t.Fatalf("second POST of key k1: %v, want an answer", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get(HeaderArrivals) != "2" || resp.Header.Get("X-Echo-Version") == "" && resp.Header.Get("x-echo-version") == "" {
		t.Errorf("second POST of key k1: status %d, headers %v; want 200 with %s: 2 from the echo", resp.StatusCode, resp.Header, HeaderArrivals)
	}
	if resp, err := post("reset-first=1&key=k2"); err == nil {
		resp.Body.Close()
		t.Errorf("first POST of key k2: status %d, want the connection reset (keys are counted apart)", resp.StatusCode)
	}
	resp, err = post("reset-first=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("reset-first without key: status %d, want 400", resp.StatusCode)
	}

	// join-header reports every value of a request header, joined.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/x?join-header=X-Header-Add&join-header=X-None", nil)
	req.Header.Add("X-Header-Add", "some-other-value")
	req.Header.Add("X-Header-Add", "add-appends-values")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get(JoinedPrefix + "X-Header-Add"); got != "some-other-value,add-appends-values" {
		t.Errorf("joined X-Header-Add = %q, want some-other-value,add-appends-values", got)
	}
	if got, ok := resp.Header[http.CanonicalHeaderKey(JoinedPrefix+"X-None")]; !ok || got[0] != "" {
		t.Errorf("joined X-None = %q (present %v), want an empty value", got, ok)
	}
}
