package testenv

import (
	"context"
	"time"
)

// Poll calls f every interval until it returns nil, ctx ends or timeout
// passes. It returns nil once f does, else f's last error, which says what
// was still not so.
func Poll(ctx context.Context, timeout, interval time.Duration, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(interval):
		}
	}
}
