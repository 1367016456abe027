package client

import (
	"encoding/json"
	"errors"
	"flag"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gammaproof/gammaproof/internal/golden"
	"github.com/gammaproof/gammaproof/suite/sample"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestResultGolden pins the JSON of POST /sample's answer for a fixed set
// of outcomes.
func TestResultGolden(t *testing.T) {
	req := sample.Request{URL: "http://a/", RecordHeaders: []string{"X-Route"}, RecordEcho: []string{"path", "header:x-added"}}
	echo := func(v, path string, added ...string) *sample.Echo {
		h := map[string][]string{}
		if len(added) > 0 {
			h["X-Added"] = added
		}
		return &sample.Echo{Pod: v + "-pod", Version: v, Path: path, Headers: h}
	}
	outs := []outcome{
		{sent: true, status: "200", backend: "v1", echo: echo("v1", "/a", "yes"), headers: map[string]string{"X-Route": "r1"}, latency: 3 * time.Millisecond},
		{sent: true, status: "200", backend: "v1", echo: echo("v1", "/a"), headers: map[string]string{"X-Route": sample.Absent}, latency: time.Millisecond},
		{sent: true, status: "503", backend: "v2", echo: echo("v2", "/b"), headers: map[string]string{"X-Route": "r1"}, latency: 2 * time.Millisecond},
		{sent: true, status: "500", headers: map[string]string{"X-Route": sample.Absent}, latency: 10 * time.Millisecond},
		{sent: true, err: errors.New("context deadline exceeded"), timeout: true},
		{sent: true, err: syscall.ECONNREFUSED},
		{sent: false}, // cut short by the batch's end
	}
	res := summarize(req, outs)
	res.DurationMs = 42
	got, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden.Compare(t, filepath.Join("testdata", "result.golden"), got, *update)
}
