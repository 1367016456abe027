package echo

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/gammaproof/gammaproof/internal/golden"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestAnswerGolden pins the echo answer's JSON: its field names are the
// protocol other implementations' test suites read.
func TestAnswerGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		req  func() *http.Request
	}{
		{"json", v1, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "http://bookstore.store:8080/books/1?id=7&id=8", nil)
			r.Header.Set("X-User", "alice")
			r.Header.Add("X-Multi", "a")
			r.Header.Add("X-Multi", "b")
			return r
		}},
		{"plain", Config{Version: "v2", Plain: true}, func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "http://bookstore/", nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			New(tc.cfg).Handler().ServeHTTP(w, tc.req())
			var got bytes.Buffer
			got.WriteString(w.Result().Status + "\n")
			for _, h := range []string{"Content-Type", "X-Echo-Version", "X-Echo-Pod"} {
				got.WriteString(h + ": " + w.Header().Get(h) + "\n")
			}
			body := w.Body.Bytes()
			if tc.cfg.Plain {
				got.Write(body)
			} else if err := json.Indent(&got, body, "", "  "); err != nil {
				t.Fatalf("indent %s: %v", body, err)
			}
			golden.Compare(t, filepath.Join("testdata", tc.name+".golden"), got.Bytes(), *update)
		})
	}
}
