package client

import (
	"context"
	"encoding/json"
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

// Serve serves h on ln until ctx ends; batches still running 5 s later
// are cut.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	return sample.ServeUntilDone(ctx, srv, ln, 5*time.Second, "sampling api", nil, nil)
}
