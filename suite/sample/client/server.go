package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gammaproof/gammaproof/suite/sample"
)

// maxRequest bounds the JSON body of POST /sample.
const maxRequest = 1 << 20

// Handler serves the sampling API (see package sample): GET /healthz and
// POST /sample, sending with s.
func Handler(s sample.Sampler, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /sample", func(w http.ResponseWriter, r *http.Request) {
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequest))
		dec.DisallowUnknownFields()
		var req sample.Request
		if err := dec.Decode(&req); err != nil {
			http.Error(w, fmt.Sprintf("decode sample request: %v (see package sample for the fields)", err), http.StatusBadRequest)
			return
		}
		req = req.WithDefaults()
		if err := req.Validate(); err != nil {
			http.Error(w, fmt.Sprintf("invalid sample request: %v", err), http.StatusBadRequest)
			return
		}
		res, err := s.Sample(r.Context(), req)
		if err != nil {
			log.Info("sample stopped early", "url", req.URL, "err", err)
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(res); err != nil {
			log.Info("write sample result", "err", err)
		}
	})
	return mux
}

// Serve serves h on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve sampling api: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); errors.Is(err, context.DeadlineExceeded) {
		// Batches still running after the grace period are cut.
		if err := srv.Close(); err != nil {
			return fmt.Errorf("close sampling api: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("shut down sampling api: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve sampling api: %w", err)
	}
	return nil
}
