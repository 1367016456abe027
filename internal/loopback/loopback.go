// Package loopback gives tests addresses on 127.0.0.1. It is kept apart from
// internal/testenv so that tests which need no API server do not link one.
package loopback

import (
	"net"
	"testing"
)

// FreeAddr returns a 127.0.0.1 address nothing listens on: it listens on
// an ephemeral port and closes it at once. A test uses it for a server it
// starts later or for a connection that must be refused.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on a free loopback port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("close the free loopback port: %v", err)
	}
	return addr
}
