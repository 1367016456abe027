package sample

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAttribute(t *testing.T) {
	for _, tc := range []struct {
		name, body, backend string
		echo                bool
	}{
		{"echo version", `{"pod":"p1","version":"v2","path":"/"}`, "v2", true},
		{"echo pod only", `{"pod":"p1","path":"/"}`, "p1", true},
		{"echo with newline", "{\"version\":\"v1\"}\n", "v1", true},
		{"plain seed", "Response from v1\n", "v1", false},
		{"plain in html", "<p>Response from v2</p>", "v2", false},
		{"json without identity", `{"path":"/"}`, "", false},
		{"nothing", "upstream connect error", "", false},
		{"empty", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			backend, echo := Attribute([]byte(tc.body))
			if backend != tc.backend || (echo != nil) != tc.echo {
				t.Errorf("Attribute(%q) = %q, echo %v; want %q, echo %v", tc.body, backend, echo != nil, tc.backend, tc.echo)
			}
		})
	}
}

func TestDurationJSON(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{`"250ms"`, 250 * time.Millisecond, ""},
		{`"2s"`, 2 * time.Second, ""},
		{`1500`, 1500 * time.Millisecond, ""},
		{`"soon"`, 0, `parse duration "soon"`},
		{`true`, 0, "give a string"},
	} {
		var d Duration
		err := json.Unmarshal([]byte(tc.in), &d)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("unmarshal %s: err %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || time.Duration(d) != tc.want {
			t.Errorf("unmarshal %s = %v, %v; want %v", tc.in, time.Duration(d), err, tc.want)
		}
	}
	b, err := json.Marshal(Request{URL: "http://a/", Timeout: Duration(time.Second)})
	if err != nil || !strings.Contains(string(b), `"timeout":"1s"`) {
		t.Errorf("marshal = %s, %v; want timeout \"1s\"", b, err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		req     Request
		wantErr string // "" = valid
	}{
		{"minimal http", Request{URL: "http://svc.ns:8080/"}, ""},
		{"minimal grpc", Request{URL: "svc.ns:8080", GRPC: true}, ""},
		{"no url", Request{}, "url: required"},
		{"no scheme", Request{URL: "svc:80"}, "give an http://"},
		{"grpc with scheme", Request{URL: "http://svc:80", GRPC: true}, "without a scheme"},
		{"grpc short method", Request{URL: "svc:80", GRPC: true, Method: "Echo"}, "full method"},
		{"grpc and h2c", Request{URL: "svc:80", GRPC: true, H2C: true}, "choose one"},
		{"count too big", Request{URL: "http://a/", Count: MaxCount + 1}, "count 100001"},
		{"negative count", Request{URL: "http://a/", Count: -1}, "count -1"},
		{"concurrency too big", Request{URL: "http://a/", Count: 1000, Concurrency: 1000}, "concurrency 1000"},
		{"negative rate", Request{URL: "http://a/", Rate: -1}, "rate -1"},
		{"rate too high", Request{URL: "http://a/", Rate: MaxRate + 1}, "rate 100001"},
		{"timeout too big", Request{URL: "http://a/", Timeout: Duration(time.Hour)}, "timeout 1h0m0s"},
		{"bad echo field", Request{URL: "http://a/", RecordEcho: []string{"colour"}}, `recordEcho "colour"`},
		{"good echo fields", Request{URL: "http://a/", RecordEcho: []string{"path", "header:x-a", "query:q"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.req.WithDefaults().Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Validate = %v, want an error containing %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Errorf("Validate = %q, want one line", err)
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	r := Request{URL: "http://a/", Count: 3, Concurrency: 10}.WithDefaults()
	if r.Concurrency != 3 || r.Method != "GET" || time.Duration(r.Timeout) != DefaultTimeout {
		t.Errorf("WithDefaults = %+v; want concurrency 3, GET, %v", r, DefaultTimeout)
	}
	if g := (Request{URL: "a:1", GRPC: true}).WithDefaults(); g.Method != GRPCEchoMethod || g.Count != 1 {
		t.Errorf("grpc WithDefaults = %+v; want method %s, count 1", g, GRPCEchoMethod)
	}
}

func TestMerge(t *testing.T) {
	var total Result
	total.Merge(Result{
		Requests: 10, ByBackend: map[string]int{"v1": 9, "v2": 1}, ByStatus: map[string]int{"200": 10},
		Headers: map[string]map[string]int{"x": {"a": 10}}, Latency: Latency{P50: 1, P99: 5, Max: 6}, Latencies: []float64{1, 6},
	})
	total.Merge(Result{
		Requests: 5, ByBackend: map[string]int{"v1": 3}, ByStatus: map[string]int{"200": 3},
		Errors: map[ErrorKind]int{ErrTimeout: 2}, ErrorExamples: map[ErrorKind]string{ErrTimeout: "deadline"},
		Headers: map[string]map[string]int{"x": {"a": 2, Absent: 1}}, Latency: Latency{P50: 2, P99: 3, Max: 9}, Latencies: []float64{9},
	})
	if total.Requests != 15 || total.ByBackend["v1"] != 12 || total.ByBackend["v2"] != 1 ||
		total.Errors[ErrTimeout] != 2 || total.Headers["x"]["a"] != 12 || total.Headers["x"][Absent] != 1 ||
		total.Answered() != 13 || total.ErrorExamples[ErrTimeout] != "deadline" {
		t.Errorf("Merge = %+v", total)
	}
	if (total.Latency != Latency{P50: 2, P99: 5, Max: 9}) {
		t.Errorf("merged latency = %+v, want the larger of each", total.Latency)
	}
	if !slices.Equal(total.Latencies, []float64{1, 6, 9}) {
		t.Errorf("merged latencies = %v, want both batches' in order", total.Latencies)
	}
}

func TestEchoField(t *testing.T) {
	e := &Echo{Pod: "p", Version: "v1", Path: "/x", Headers: map[string][]string{"X-A": {"1"}}, Query: map[string][]string{"q": {"2"}}}
	for f, want := range map[string]string{
		"path": "/x", "pod": "p", "version": "v1", "header:x-a": "1", "header:X-B": Absent, "query:q": "2", "query:z": Absent, "bogus": Absent,
	} {
		if got := e.Field(f); got != want {
			t.Errorf("Field(%q) = %q, want %q", f, got, want)
		}
	}
}
