package node

import (
	"errors"
	"net/netip"
	"path/filepath"
	"testing"
)

func TestIPAM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipam.json")
	prefix := netip.MustParsePrefix("198.18.0.0/16")
	gw := netip.MustParseAddr("198.18.0.1")
	a, err := OpenIPAM(path, prefix, gw)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		op, uid string
		want    string
	}{
		{"alloc", "a", "198.18.0.2"},
		{"alloc", "b", "198.18.0.3"},
		{"alloc", "a", "198.18.0.2"}, // same pod, same address
		{"alloc", "c", "198.18.0.4"},
		{"release", "b", ""},
		{"alloc", "d", "198.18.0.3"}, // lowest free is reused
		{"release", "zz", ""},        // unknown: no-op
	}
	for i, s := range steps {
		switch s.op {
		case "alloc":
			ip, err := a.Allocate(s.uid)
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if ip.String() != s.want {
				t.Fatalf("step %d: Allocate(%s) = %s, want %s", i, s.uid, ip, s.want)
			}
		case "release":
			if err := a.Release(s.uid); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
	}
	// A restarted node sees the same assignments.
	b, err := OpenIPAM(path, prefix, gw)
	if err != nil {
		t.Fatal(err)
	}
	if ip, _ := b.Allocate("c"); ip.String() != "198.18.0.4" {
		t.Errorf("after reopen c = %s, want 198.18.0.4", ip)
	}
	if ip, _ := b.Allocate("e"); ip.String() != "198.18.0.5" {
		t.Errorf("after reopen new pod = %s, want 198.18.0.5 (live addresses must not be reused)", ip)
	}
	if uid, ok := b.Lookup(netip.MustParseAddr("198.18.0.3")); !ok || uid != "d" {
		t.Errorf("Lookup(198.18.0.3) = %q, %v; want d", uid, ok)
	}
	if err := b.Retain(func(uid string) bool { return uid == "a" }); err != nil {
		t.Fatal(err)
	}
	if ip, _ := b.Allocate("f"); ip.String() != "198.18.0.3" {
		t.Errorf("after retain = %s, want 198.18.0.3", ip)
	}
}

func TestIPAMExhausted(t *testing.T) {
	a, err := OpenIPAM(filepath.Join(t.TempDir(), "ipam.json"), netip.MustParsePrefix("198.18.9.0/30"), netip.MustParseAddr("198.18.9.1"))
	if err != nil {
		t.Fatal(err)
	}
	if ip, err := a.Allocate("x"); err != nil || ip.String() != "198.18.9.2" {
		t.Fatalf("Allocate = %s, %v; want 198.18.9.2", ip, err)
	}
	if _, err := a.Allocate("y"); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("Allocate on a full /30 = %v, want ErrPoolExhausted (broadcast must not be used)", err)
	}
}

func TestOpenIPAMRejects(t *testing.T) {
	if _, err := OpenIPAM(filepath.Join(t.TempDir(), "x"), netip.MustParsePrefix("198.18.0.0/16"), netip.MustParseAddr("198.19.0.1")); err == nil {
		t.Fatal("gateway outside prefix accepted")
	}
}
