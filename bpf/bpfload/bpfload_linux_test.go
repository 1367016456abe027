package bpfload

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

func TestLoad(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test checks the root path: run it as root (sudo go test ...)")
	}
	tests := []struct {
		name    string
		loadErr error
		want    error // nil: no error
	}{
		{"loaded", nil, nil},
		{"permission denied", fmt.Errorf("load program: %w", unix.EPERM), ErrNotRoot},
		{"kernel lacks a feature", fmt.Errorf("map type: %w", ebpf.ErrNotSupported), ebpf.ErrNotSupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			err := Load("test programs", func() error { called = true; return tc.loadErr })
			if !called {
				t.Fatal("load was not called")
			}
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("got %v, want an error wrapping %v", err, tc.want)
			case err != nil && !errors.Is(err, tc.loadErr):
				t.Fatalf("got %v, want it to wrap the load error %v", err, tc.loadErr)
			}
		})
	}
}
