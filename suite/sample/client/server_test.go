package client

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/suite/sample"
	"github.com/gammaproof/gammaproof/suite/sample/echo"
)

func TestHandler(t *testing.T) {
	v1 := startEcho(t, echo.Config{Version: "v1"})
	api := httptest.NewServer(Handler(newSampler(t), nil))
	t.Cleanup(api.Close)
	for _, tc := range []struct {
		name, method, path, body string
		wantStatus               int
		wantBody                 string
	}{
		{"healthz", "GET", "/healthz", "", 200, "ok"},
		{"sample", "POST", "/sample", `{"url":"http://` + v1 + `/","count":7,"concurrency":2,"timeout":"2s"}`, 200, `"byBackend":{"v1":7}`},
		{"timeout in ms", "POST", "/sample", `{"url":"http://` + v1 + `/","timeout":1500}`, 200, `"byStatus":{"200":1}`},
		{"unknown field", "POST", "/sample", `{"url":"http://a/","cuont":7}`, 400, `unknown field "cuont"`},
		{"broken json", "POST", "/sample", `{"url":`, 400, "decode sample request"},
		{"invalid", "POST", "/sample", `{"url":"ftp://a/"}`, 400, "give an http:// or https:// URL"},
		{"wrong method", "GET", "/sample", "", 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, api.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(b), tc.wantBody) {
				t.Errorf("%s %s: %d %s; want %d containing %q", tc.method, tc.path, resp.StatusCode, b, tc.wantStatus, tc.wantBody)
			}
			if tc.wantStatus == 200 && tc.path == "/sample" {
				var res sample.Result
				if err := json.Unmarshal(b, &res); err != nil || res.ByStatus == nil || res.Errors == nil || res.ByBackend == nil {
					t.Errorf("result %s (%v): want maps present", b, err)
				}
			}
		})
	}
}

func TestParseGet(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		check   func(sample.Request) bool
		wantErr string
	}{
		{"url first", []string{"http://a:8080/x", "-n", "20", "-H", "x-user: alice", "-H", "Host:b"}, func(r sample.Request) bool {
			return r.URL == "http://a:8080/x" && r.Count == 20 && r.Headers["x-user"] == "alice" && r.Headers["Host"] == "b" && r.Method == "GET"
		}, ""},
		{"flags first", []string{"-n", "5", "-c", "2", "--new-conn", "--timeout", "250ms", "http://a/"}, func(r sample.Request) bool {
			return r.Count == 5 && r.Concurrency == 2 && r.NewConnectionPerRequest && r.Timeout == sample.Duration(250e6)
		}, ""},
		{"grpc", []string{"a:9000", "--grpc", "--record-echo", "header:x-a", "--record-header", "x-echo-pod"}, func(r sample.Request) bool {
			return r.GRPC && r.Method == sample.GRPCEchoMethod && r.RecordEcho[0] == "header:x-a" && r.RecordHeaders[0] == "x-echo-pod"
		}, ""},
		{"no url", []string{"-n", "3"}, nil, "give a URL"},
		{"two urls", []string{"http://a/", "http://b/"}, nil, "one URL only"},
		{"bad header", []string{"http://a/", "-H", "novalue"}, nil, `write "name: value"`},
		{"bad count", []string{"http://a/", "-n", "-5"}, nil, "count -5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseGet(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("ParseGet(%q) err = %v, want %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(r) {
				t.Errorf("ParseGet(%q) = %+v, %v", tc.args, r, err)
			}
		})
	}
}
