package echo

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	pb "sigs.k8s.io/gateway-api/conformance/echo-basic/grpcechoserver"

	"github.com/gammaproof/gammaproof/suite/sample"
)

// MaxDelay bounds the delay a request may ask for, so a typo cannot park a
// connection for hours.
const MaxDelay = 5 * time.Minute

// ReadyPath is the readiness endpoint; every other path is echoed.
const ReadyPath = "/readyz"

// DefaultShutdownGrace is how long Serve lets in-flight requests finish
// after its context ends.
const DefaultShutdownGrace = 5 * time.Second

// Config says who the backend is and how it answers.
type Config struct {
	// Pod, Namespace, Version and Service identify the backend in every
	// answer. Optional, but attribution needs Version or Pod.
	Pod, Namespace, Version, Service string
	// Plain answers "Response from <Version>" in plain text instead of JSON.
	// Optional.
	Plain bool
	// Log receives one line per bad request. Optional: slog.Default().
	Log *slog.Logger
	// ShutdownGrace is how long Serve lets in-flight requests finish after
	// its context ends. Optional: DefaultShutdownGrace.
	ShutdownGrace time.Duration
}

// Server is the echo backend. It is safe for concurrent use.
type Server struct {
	cfg   Config
	grpc  *grpc.Server
	ready atomic.Bool

	mu    sync.Mutex
	fails map[string]int // key -> requests seen by the fail-first mode
}

// New returns a ready Server.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	s := &Server{cfg: cfg, fails: map[string]int{}}
	s.grpc = grpc.NewServer()
	pb.RegisterGrpcEchoServer(s.grpc, &grpcEcho{s: s})
	s.ready.Store(true)
	return s
}

// SetReady sets what ReadyPath answers: 200 when ready, else 503.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Handler serves gRPC (HTTP/2 with a gRPC content type) and echoes
// everything else.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			s.grpc.ServeHTTP(w, r)
			return
		}
		if r.URL.Path == ReadyPath {
			s.serveReady(w)
			return
		}
		s.serveEcho(w, r)
	})
}

// Serve answers HTTP/1.1, h2c (prior knowledge) and gRPC on ln until ctx
// ends, then stops being ready and lets in-flight requests finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		Protocols:         new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	return sample.ServeUntilDone(ctx, srv, ln, s.cfg.ShutdownGrace, "echo server", func() { s.SetReady(false) }, func() {
		// Requests still running after the grace period (long delays) are cut.
		s.cfg.Log.Info("cut requests still running after the shutdown grace period", "grace", s.cfg.ShutdownGrace)
	})
}

func (s *Server) serveReady(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain")
	if !s.ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready")
		return
	}
	fmt.Fprintln(w, "ok")
}

// behaviour is what a request asks of the backend.
type behaviour struct {
	delay  time.Duration
	status int    // HTTP status; 0: 200
	code   int    // gRPC code; -1: none asked
	fail   int    // fail the first fail requests of key
	key    string // fail-first key
}

// parseBehaviour reads the x-echo-* values; get returns the value of a
// query parameter or header (query first).
func parseBehaviour(get func(query, header string) string, defaultKey string) (behaviour, error) {
	b := behaviour{code: -1, key: defaultKey}
	var errs []error
	if v := get("delay", sample.HeaderDelay); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("delay %q: use a Go duration such as 200ms", v))
		case d < 0 || d > MaxDelay:
			errs = append(errs, fmt.Errorf("delay %q: must be between 0 and %s", v, MaxDelay))
		default:
			b.delay = d
		}
	}
	// integer sets *dst to the whole number from lo to hi asked for as
	// name; anything else is an error saying to use.
	integer := func(name, header string, lo, hi int, use string, dst *int) {
		v := get(name, header)
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			errs = append(errs, fmt.Errorf("%s %q: %s", name, v, use))
			return
		}
		*dst = n
	}
	integer("status", sample.HeaderStatus, 200, 599, "use an HTTP status from 200 to 599", &b.status)
	integer("grpc-status", sample.HeaderGRPCStatus, 0, 16, "use a gRPC code from 0 to 16", &b.code)
	integer("fail", sample.HeaderFail, 0, math.MaxInt, "use a count of requests to fail, e.g. 2", &b.fail)
	if v := get("key", sample.HeaderKey); v != "" {
		b.key = v
	}
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, err := range errs {
			msgs[i] = err.Error()
		}
		return b, errors.New(strings.Join(msgs, "; "))
	}
	return b, nil
}

// failNow counts a request of b.key and reports whether it is among the
// first b.fail.
func (s *Server) failNow(b behaviour) bool {
	if b.fail == 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails[b.key]++
	return s.fails[b.key] <= b.fail
}

// wait sleeps for d or until ctx ends.
func wait(ctx context.Context, d time.Duration) error {
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) serveEcho(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	b, err := parseBehaviour(func(query, header string) string {
		if v := q.Get(query); v != "" {
			return v
		}
		return r.Header.Get(header)
	}, r.Method+" "+r.URL.Path)
	if err != nil {
		s.cfg.Log.Info("bad echo request", "path", r.URL.Path, "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := wait(r.Context(), b.delay); err != nil {
		return // the caller went away
	}
	code := http.StatusOK
	switch {
	case b.fail > 0:
		// The status, if any, is the one the first requests fail with.
		if s.failNow(b) {
			code = cmp.Or(b.status, http.StatusServiceUnavailable)
		}
	case b.status != 0:
		code = b.status
	}
	h := w.Header()
	if s.cfg.Version != "" {
		h.Set(sample.HeaderVersion, s.cfg.Version)
	}
	if s.cfg.Pod != "" {
		h.Set(sample.HeaderPod, s.cfg.Pod)
	}
	if s.cfg.Plain {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		fmt.Fprintf(w, "Response from %s\n", s.cfg.Version)
		return
	}
	body, err := json.Marshal(s.echo(r))
	if err != nil {
		http.Error(w, fmt.Sprintf("encode echo: %v", err), http.StatusInternalServerError)
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(body, '\n')) //nolint:errcheck // the caller may be gone; nothing to do
}

func (s *Server) echo(r *http.Request) sample.Echo {
	return sample.Echo{
		Pod:       s.cfg.Pod,
		Namespace: s.cfg.Namespace,
		Version:   s.cfg.Version,
		Service:   s.cfg.Service,
		Method:    r.Method,
		Path:      r.URL.Path,
		Host:      r.Host,
		Query:     r.URL.Query(),
		Headers:   r.Header,
		Proto:     r.Proto,
	}
}

// grpcEcho is the Gateway API conformance echo service.
type grpcEcho struct {
	pb.UnimplementedGrpcEchoServer
	s *Server
}

func (g *grpcEcho) Echo(ctx context.Context, in *pb.EchoRequest) (*pb.EchoResponse, error) {
	return g.echo(ctx, pb.GrpcEcho_Echo_FullMethodName)
}

func (g *grpcEcho) EchoTwo(ctx context.Context, in *pb.EchoRequest) (*pb.EchoResponse, error) {
	return g.echo(ctx, pb.GrpcEcho_EchoTwo_FullMethodName)
}

func (g *grpcEcho) echo(ctx context.Context, method string) (*pb.EchoResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	b, err := parseBehaviour(func(_, header string) string {
		return first(md.Get(header))
	}, method)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := wait(ctx, b.delay); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	if err := grpc.SetHeader(ctx, metadata.Pairs(
		strings.ToLower(sample.HeaderVersion), g.s.cfg.Version,
		strings.ToLower(sample.HeaderPod), g.s.cfg.Pod,
	)); err != nil {
		return nil, status.Errorf(codes.Internal, "set header: %v", err)
	}
	fail := g.s.failNow(b)
	switch {
	case fail && b.code > 0:
		return nil, status.Error(codes.Code(b.code), "failing as asked by x-echo-fail")
	case fail:
		return nil, status.Error(codes.Unavailable, "failing as asked by x-echo-fail")
	case b.fail == 0 && b.code > 0:
		return nil, status.Error(codes.Code(b.code), "failing as asked by x-echo-grpc-status")
	}
	var headers []*pb.Header
	authority := ""
	for k, vs := range md {
		for _, v := range vs {
			if k == ":authority" {
				authority = v
			}
			headers = append(headers, &pb.Header{Key: k, Value: v})
		}
	}
	return &pb.EchoResponse{
		Assertions: &pb.Assertions{
			FullyQualifiedMethod: method,
			Headers:              headers,
			Authority:            authority,
			Context: &pb.Context{
				Namespace:   g.s.cfg.Namespace,
				ServiceName: g.s.cfg.Service,
				Pod:         g.s.cfg.Pod,
			},
		},
		Request: &pb.EchoRequest{},
	}, nil
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}
