package cgroup2

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMount(t *testing.T) {
	tests := []struct {
		name, mounts, want string
		wantErr            error
	}{
		{"unified", "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n", "/sys/fs/cgroup", nil},
		{"hybrid", "tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n", "/sys/fs/cgroup/unified", nil},
		{"last mount wins", "cgroup2 /sys/fs/cgroup cgroup2 ro 0 0\ncgroup2 /host/cgroup cgroup2 rw 0 0\n", "/host/cgroup", nil},
		{"escaped", `cgroup2 /mnt/my\040cg cgroup2 rw 0 0`, "/mnt/my cg", nil},
		{"bad escape kept", `cgroup2 /mnt/a\09x cgroup2 rw 0 0`, `/mnt/a\09x`, nil},
		{"v1 only", "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n", "", ErrNotMounted},
		{"empty", "", "", ErrNotMounted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMount(strings.NewReader(tt.mounts))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("mount = %q, want %q", got, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), "mount -t cgroup2") {
				t.Errorf("error %q does not say what to do", err)
			}
		})
	}
}

func TestMountOnThisMachine(t *testing.T) {
	m, err := Mount()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m, "/") {
		t.Errorf("mount %q is not absolute", m)
	}
}

func TestAbs(t *testing.T) {
	root, err := Mount()
	if err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]string{
		"":                   root,
		"gammaproof/pods":    root + "/gammaproof/pods",
		"/elsewhere/pods":    "/elsewhere/pods",
		"./gammaproof//pods": root + "/gammaproof/pods",
	} {
		if got, err := Abs(dir); err != nil || got != want {
			t.Errorf("Abs(%q) = %q, %v; want %q", dir, got, err, want)
		}
	}
}
