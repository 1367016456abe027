package loopback

import (
	"errors"
	"net"
	"syscall"
	"testing"
)

// TestFreeAddr: the address is on loopback, refuses connections, and can
// be listened on again.
func TestFreeAddr(t *testing.T) {
	addr := FreeAddr(t)
	ap, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if !ap.IP.IsLoopback() || ap.Port == 0 {
		t.Fatalf("FreeAddr = %s, want 127.0.0.1 with a port", addr)
	}
	if c, err := net.Dial("tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Errorf("dial %s: %v, want connection refused", addr, err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	l.Close()
}
