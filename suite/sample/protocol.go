package sample

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Sampler sends a batch of requests as described by a [Request] and reports
// what came back. Implementations must be safe for concurrent use.
type Sampler interface {
	Sample(ctx context.Context, req Request) (Result, error)
}

// DefaultClientPort is the port the client serves its API on.
const DefaultClientPort = 8081

// Limits and defaults of a [Request].
const (
	DefaultCount       = 1
	DefaultConcurrency = 1
	DefaultTimeout     = 5 * time.Second
	MaxCount           = 100000
	MaxConcurrency     = 256
	MaxTimeout         = 5 * time.Minute
	MaxRate            = 100000
)

// GRPCEchoMethod is the echo backend's gRPC method, the Gateway API
// conformance echo service; gRPC requests use it when Request.Method is empty.
const GRPCEchoMethod = "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/Echo"

// Headers and metadata keys the echo backend reads and sets.
const (
	// Request: wait this long (a Go duration) before answering.
	HeaderDelay = "X-Echo-Delay"
	// Request: answer with this HTTP status.
	HeaderStatus = "X-Echo-Status"
	// Request: answer with this gRPC status code (a number).
	HeaderGRPCStatus = "X-Echo-Grpc-Status"
	// Request: answer the first N requests of a key with the status (default 503).
	HeaderFail = "X-Echo-Fail"
	// Request: the key counted by HeaderFail.
	HeaderKey = "X-Echo-Key"
	// Response: the backend's version.
	HeaderVersion = "X-Echo-Version"
	// Response: the backend's pod name.
	HeaderPod = "X-Echo-Pod"
)

// Request asks a client to send Count requests. Field names are the JSON of
// POST /sample.
type Request struct {
	// URL to send to: http://host[:port]/path?query. For gRPC: host:port.
	// RequestID in it is replaced per request.
	URL string `json:"url"`
	// Method is the HTTP method (default GET), or for gRPC the full method
	// name (default GRPCEchoMethod). Optional.
	Method string `json:"method,omitempty"`
	// Headers are set on every request; "Host" sets the Host header (gRPC:
	// the :authority). RequestID in a value is replaced per request.
	// Optional.
	Headers map[string]string `json:"headers,omitempty"`
	// Body is sent with every HTTP request. Optional.
	Body string `json:"body,omitempty"`
	// Count is how many requests to send (default 1, at most MaxCount).
	Count int `json:"count,omitempty"`
	// Concurrency is how many requests may be in flight (default 1, at most
	// MaxConcurrency).
	Concurrency int `json:"concurrency,omitempty"`
	// Rate paces the batch at this many requests per second, an open
	// schedule: request i is due at start + i/Rate, whether or not earlier
	// ones have answered (within Concurrency). 0 sends as fast as
	// Concurrency allows. Optional.
	Rate float64 `json:"rate,omitempty"`
	// NewConnectionPerRequest opens a new connection for every request
	// instead of reusing keep-alive connections. Optional.
	NewConnectionPerRequest bool `json:"newConnectionPerRequest,omitempty"`
	// Timeout bounds each request, connection included (default 5s, at most
	// 5m). JSON: a Go duration string ("250ms") or a number of milliseconds.
	Timeout Duration `json:"timeout,omitempty"`
	// FreshConnections closes the client's kept connections before the
	// batch, so every connection is opened anew: a mesh that steers
	// connections (at connect time) is then measured as it is configured
	// now, not as it was when an old keep-alive connection was made.
	// Batches running at the same time on the client lose their kept
	// connections too. Optional.
	FreshConnections bool `json:"freshConnections,omitempty"`
	// GRPC sends unary gRPC calls (plaintext, HTTP/2) instead of HTTP.
	// Optional.
	GRPC bool `json:"grpc,omitempty"`
	// H2C sends HTTP/2 without TLS (prior knowledge) instead of HTTP/1.1.
	// Optional.
	H2C bool `json:"h2c,omitempty"`
	// RecordHeaders names response headers (gRPC: header metadata) whose
	// values are counted in Result.Headers. Optional.
	RecordHeaders []string `json:"recordHeaders,omitempty"`
	// RecordEcho names fields of the echo backend's reply whose values are
	// counted in Result.Echo: "method", "path", "host", "proto", "pod",
	// "namespace", "version", "service", "query:<name>" or "header:<name>"
	// (a request header as the backend saw it). Optional.
	RecordEcho []string `json:"recordEcho,omitempty"`
	// RecordLatencies returns every answered request's latency in
	// Result.Latencies, for statistics the quantiles in Result.Latency
	// cannot give (pooling batches, confidence intervals). Optional.
	RecordLatencies bool `json:"recordLatencies,omitempty"`
}

// RequestID in Request.URL, a header value or the Host is replaced by an id
// unique to each request (batch-random prefix, then the request's index),
// e.g. "?fail=1&key={id}" makes every request fail once at a backend, so
// only a retry succeeds.
const RequestID = "{id}"

// Absent is the value counted in Result.Headers and Result.Echo when a
// recorded header or field is missing.
const Absent = "(absent)"

// WithDefaults returns r with defaults filled in.
func (r Request) WithDefaults() Request {
	if r.Count == 0 {
		r.Count = DefaultCount
	}
	if r.Concurrency == 0 {
		r.Concurrency = DefaultConcurrency
	}
	if r.Count > 0 && r.Concurrency > r.Count {
		r.Concurrency = r.Count
	}
	if r.Timeout == 0 {
		r.Timeout = Duration(DefaultTimeout)
	}
	if r.Method == "" {
		if r.GRPC {
			r.Method = GRPCEchoMethod
		} else {
			r.Method = http.MethodGet
		}
	}
	return r
}

// Validate reports what is wrong with r, after defaults, as one error on
// one line.
func (r Request) Validate() error {
	var errs []error
	switch {
	case r.URL == "":
		errs = append(errs, errors.New(`url: required (e.g. "http://svc.ns:8080/" or, with grpc, "svc.ns:8080")`))
	case r.GRPC && strings.Contains(r.URL, "://"):
		errs = append(errs, fmt.Errorf("url %q: with grpc give host:port without a scheme", r.URL))
	case !r.GRPC && !strings.HasPrefix(r.URL, "http://") && !strings.HasPrefix(r.URL, "https://"):
		errs = append(errs, fmt.Errorf("url %q: give an http:// or https:// URL", r.URL))
	}
	if r.Count < 1 || r.Count > MaxCount {
		errs = append(errs, fmt.Errorf("count %d: must be between 1 and %d", r.Count, MaxCount))
	}
	if r.Concurrency < 1 || r.Concurrency > MaxConcurrency {
		errs = append(errs, fmt.Errorf("concurrency %d: must be between 1 and %d", r.Concurrency, MaxConcurrency))
	}
	if r.Rate < 0 || r.Rate > MaxRate {
		errs = append(errs, fmt.Errorf("rate %g: must be between 0 (unpaced) and %d requests per second", r.Rate, MaxRate))
	}
	if r.Timeout <= 0 || time.Duration(r.Timeout) > MaxTimeout {
		errs = append(errs, fmt.Errorf("timeout %s: must be above 0 and at most %s", time.Duration(r.Timeout), MaxTimeout))
	}
	if r.GRPC && !strings.HasPrefix(r.Method, "/") && r.Method != "" {
		errs = append(errs, fmt.Errorf("method %q: with grpc give a full method, e.g. %q", r.Method, GRPCEchoMethod))
	}
	if r.GRPC && r.H2C {
		errs = append(errs, errors.New("grpc and h2c: choose one (gRPC always uses HTTP/2)"))
	}
	for _, f := range r.RecordEcho {
		if _, err := echoField(f); err != nil {
			errs = append(errs, err)
		}
	}
	return joinLine(errs)
}

// joinLine joins errs on one line, or returns nil.
func joinLine(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

// ErrorKind classifies a request that got no response.
type ErrorKind string

// Error kinds counted in Result.Errors.
const (
	ErrTimeout     ErrorKind = "timeout"
	ErrRefused     ErrorKind = "connection refused"
	ErrReset       ErrorKind = "reset"
	ErrEOF         ErrorKind = "eof"
	ErrUnreachable ErrorKind = "unreachable"
	ErrDNS         ErrorKind = "dns"
	ErrOther       ErrorKind = "other"
)

// Result is what a batch of requests got. Field names are the JSON of POST
// /sample. Maps are never nil in a Result returned by a client.
type Result struct {
	// Requests is how many requests were sent (answered or not).
	Requests int `json:"requests"`
	// ByBackend counts answered requests by backend (see [Attribute]).
	ByBackend map[string]int `json:"byBackend"`
	// ByPod counts answers from the echo backend by pod.
	ByPod map[string]int `json:"byPod,omitempty"`
	// Unattributed counts answers whose body named no backend.
	Unattributed int `json:"unattributed"`
	// ByStatus counts answers by HTTP status ("200"), or for gRPC by status
	// code name ("OK", "Unavailable").
	ByStatus map[string]int `json:"byStatus"`
	// Errors counts requests that got no answer, by kind.
	Errors map[ErrorKind]int `json:"errors"`
	// ErrorExamples holds one error message per kind.
	ErrorExamples map[ErrorKind]string `json:"errorExamples,omitempty"`
	// Latency of answered requests, in milliseconds.
	Latency Latency `json:"latency"`
	// Latencies holds each answered request's latency in milliseconds, in
	// the order the requests were due (with Rate, request i was due i/Rate
	// seconds after the start). Only with Request.RecordLatencies.
	Latencies []float64 `json:"latencies,omitempty"`
	// Headers counts values of Request.RecordHeaders: name -> value -> n.
	Headers map[string]map[string]int `json:"headers,omitempty"`
	// Echo counts values of Request.RecordEcho: field -> value -> n.
	Echo map[string]map[string]int `json:"echo,omitempty"`
	// DurationMs is the wall time of the batch.
	DurationMs float64 `json:"durationMs"`
}

// Latency holds quantiles in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Answered is how many requests got a response.
func (r Result) Answered() int {
	n := 0
	for _, c := range r.ByStatus {
		n += c
	}
	return n
}

// Merge adds the counts of o to r and appends its Latencies. Latency
// quantiles cannot be merged exactly: each becomes the larger of the two,
// an upper bound.
func (r *Result) Merge(o Result) {
	r.Requests += o.Requests
	r.Unattributed += o.Unattributed
	r.DurationMs += o.DurationMs
	r.ByBackend = mergeCounts(r.ByBackend, o.ByBackend)
	r.ByPod = mergeCounts(r.ByPod, o.ByPod)
	r.ByStatus = mergeCounts(r.ByStatus, o.ByStatus)
	r.Errors = mergeCounts(r.Errors, o.Errors)
	for k, v := range o.ErrorExamples {
		if r.ErrorExamples == nil {
			r.ErrorExamples = map[ErrorKind]string{}
		}
		if _, ok := r.ErrorExamples[k]; !ok {
			r.ErrorExamples[k] = v
		}
	}
	r.Headers = mergeNested(r.Headers, o.Headers)
	r.Echo = mergeNested(r.Echo, o.Echo)
	r.Latency.P50 = max(r.Latency.P50, o.Latency.P50)
	r.Latency.P90 = max(r.Latency.P90, o.Latency.P90)
	r.Latency.P99 = max(r.Latency.P99, o.Latency.P99)
	r.Latency.Max = max(r.Latency.Max, o.Latency.Max)
	r.Latencies = append(r.Latencies, o.Latencies...)
}

func mergeCounts[K comparable](dst, src map[K]int) map[K]int {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[K]int, len(src))
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}

func mergeNested(dst, src map[string]map[string]int) map[string]map[string]int {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]map[string]int, len(src))
	}
	for k, v := range src {
		dst[k] = mergeCounts(dst[k], v)
		if dst[k] == nil {
			dst[k] = map[string]int{}
		}
	}
	return dst
}

// Echo is the echo backend's JSON reply.
type Echo struct {
	Pod       string              `json:"pod"`
	Namespace string              `json:"namespace"`
	Version   string              `json:"version"`
	Service   string              `json:"service,omitempty"`
	Method    string              `json:"method"`
	Path      string              `json:"path"`
	Host      string              `json:"host"`
	Query     map[string][]string `json:"query"`
	Headers   map[string][]string `json:"headers"`
	Proto     string              `json:"proto"`
}

// Backend is the name the echo reply is attributed to: its version, else
// its pod.
func (e *Echo) Backend() string {
	if e.Version != "" {
		return e.Version
	}
	return e.Pod
}

// Field returns the value of a RecordEcho field, or Absent.
func (e *Echo) Field(name string) string {
	f, err := echoField(name)
	if err != nil {
		return Absent
	}
	v := f(e)
	if v == "" && (strings.HasPrefix(name, "header:") || strings.HasPrefix(name, "query:")) {
		return Absent
	}
	return v
}

// echoFields are the RecordEcho fields read straight from the reply, by name.
var echoFields = map[string]func(*Echo) string{
	"method":    func(e *Echo) string { return e.Method },
	"path":      func(e *Echo) string { return e.Path },
	"host":      func(e *Echo) string { return e.Host },
	"proto":     func(e *Echo) string { return e.Proto },
	"pod":       func(e *Echo) string { return e.Pod },
	"namespace": func(e *Echo) string { return e.Namespace },
	"version":   func(e *Echo) string { return e.Version },
	"service":   func(e *Echo) string { return e.Service },
}

func echoField(name string) (func(*Echo) string, error) {
	if h, ok := strings.CutPrefix(name, "header:"); ok && h != "" {
		return func(e *Echo) string { return first(http.Header(e.Headers).Values(h)) }, nil
	}
	if q, ok := strings.CutPrefix(name, "query:"); ok && q != "" {
		return func(e *Echo) string { return first(e.Query[q]) }, nil
	}
	if f, ok := echoFields[name]; ok {
		return f, nil
	}
	return nil, fmt.Errorf(`recordEcho %q: use method, path, host, proto, pod, namespace, version, service, "query:<name>" or "header:<name>"`, name)
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

var plainBackend = regexp.MustCompile(`Response from ([^\s"<]+)`)

// Attribute names the backend that wrote body: the echo JSON's version (else
// its pod), or "vN" for a plain-text "Response from vN". It returns "" when
// the body names no backend; echo is non-nil when body is echo JSON.
func Attribute(body []byte) (backend string, echo *Echo) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var e Echo
		if err := json.Unmarshal(trimmed, &e); err == nil && (e.Version != "" || e.Pod != "") {
			return e.Backend(), &e
		}
	}
	if m := plainBackend.FindSubmatch(body); m != nil {
		return string(m[1]), nil
	}
	return "", nil
}

// Duration is a time.Duration that reads JSON as a Go duration string
// ("250ms") or a number of milliseconds, and writes a duration string.
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a Go duration string or a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("parse duration %q: %w (use e.g. \"250ms\" or \"2s\")", s, err)
		}
		*d = Duration(v)
		return nil
	}
	ms, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("parse duration %s: give a string like \"2s\" or a number of milliseconds", b)
	}
	*d = Duration(time.Duration(ms * float64(time.Millisecond)))
	return nil
}
