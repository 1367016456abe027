// Package echotest serves the echo backend on loopback for tests, as
// net/http/httptest serves a handler.
package echotest

import (
	"context"
	"net"
	"testing"

	"github.com/gammaproof/gammaproof/suite/sample/echo"
)

// Start serves an echo backend with cfg on a free loopback port until tb
// ends, and returns its address (host:port).
func Start(tb testing.TB, cfg echo.Config) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- echo.New(cfg).Serve(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("serve echo: %v", err)
		}
	})
	return ln.Addr().String()
}
