// Package background runs a test's server or controller in a goroutine and
// stops it cleanly when the test ends. It is apart from internal/testenv so
// that tests which need no API server do not link one.
package background

import (
	"context"
	"testing"
)

// Run runs run in a goroutine for the rest of the test and returns
// the context it runs under. When the test ends, the context is cancelled
// and the test waits for run, failing if it returned an error (named by
// what): a server or controller must stop cleanly on cancel.
func Run(t testing.TB, what string, run func(ctx context.Context) error) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", what, err)
		}
	})
	return ctx
}
