package podproxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gammaproof/gammaproof/suite/sample"
)

// fakeAPIServer poses as the API server's pod proxy and records what the
// Sender asked. It proves the request path and encoding only; the real API
// server is used in the tests below.
type seen struct {
	method, path, contentType string
	req                       sample.Request
}

func TestSenderRequest(t *testing.T) {
	var got seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = seen{method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type")}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		if err := json.Unmarshal(b, &got.req); err != nil {
			t.Errorf("decode %s: %v", b, err)
		}
		if got.req.URL == "http://bad/" {
			http.Error(w, "invalid sample request: count -1: must be between 1 and 100000", http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(sample.Result{Requests: 10, ByBackend: map[string]int{"v1": 9, "v2": 1}}) //nolint:errcheck // test server
	}))
	t.Cleanup(srv.Close)
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	s := New(cs, "team-a", "client-0", 0)
	req := sample.Request{URL: "http://bookstore.store:8080/", Count: 10, Headers: map[string]string{"x-a": "b"}, Timeout: sample.Duration(time.Second)}
	res, err := s.Sample(context.Background(), req)
	if err != nil {
		t.Fatalf("Sample: %v", err)
	}
	want := seen{method: "POST", path: "/api/v1/namespaces/team-a/pods/client-0:8081/proxy/sample", contentType: "application/json", req: req}
	if got.method != want.method || got.path != want.path || got.contentType != want.contentType ||
		got.req.URL != req.URL || got.req.Count != 10 || got.req.Headers["x-a"] != "b" || got.req.Timeout != req.Timeout {
		t.Errorf("apiserver saw %+v, want %+v", got, want)
	}
	if res.Requests != 10 || res.ByBackend["v2"] != 1 {
		t.Errorf("result %+v", res)
	}

	_, err = s.Sample(context.Background(), sample.Request{URL: "http://bad/"})
	if err == nil || !strings.Contains(err.Error(), "count -1: must be between") || !strings.Contains(err.Error(), "team-a/client-0:8081") {
		t.Errorf("rejected request: err = %v, want the client's text and the pod", err)
	}
}

func TestUnsent(t *testing.T) {
	for msg, want := range map[string]bool{
		"error trying to reach service: readfrom tcp 198.18.0.1:36198->198.18.0.5:8081: write tcp 198.18.0.1:36198->198.18.0.5:8081: write: connection reset by peer": true,
		"error trying to reach service: dial tcp 198.18.0.5:8081: connect: connection refused":                                                                        false,
		"sample: bad request": false,
	} {
		if got := unsent(errors.New(msg)); got != want {
			t.Errorf("unsent(%q) = %v, want %v", msg, got, want)
		}
	}
}
