package sample

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// ServeUntilDone serves srv on ln until ctx ends, then shuts it down:
// requests in flight get grace to finish and are cut after it. beforeStop,
// if not nil, runs when ctx ends (e.g. to stop reporting ready); cut, if not
// nil, runs when requests had to be cut. name says what is served, for
// errors.
func ServeUntilDone(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, name string, beforeStop, cut func()) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", name, err)
	case <-ctx.Done():
	}
	if beforeStop != nil {
		beforeStop()
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); errors.Is(err, context.DeadlineExceeded) {
		if cut != nil {
			cut()
		}
		if err := srv.Close(); err != nil {
			return fmt.Errorf("close %s: %w", name, err)
		}
	} else if err != nil {
		return fmt.Errorf("shut down %s: %w", name, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", name, err)
	}
	return nil
}

// PortFromEnv returns $PORT as a port number, or def when it is not set.
func PortFromEnv(def int) (int, error) {
	p := os.Getenv("PORT")
	if p == "" {
		return def, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return 0, fmt.Errorf("parse $PORT %q: give a port number", p)
	}
	return n, nil
}
