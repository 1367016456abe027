package cluster

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCgroup2Mount(t *testing.T) {
	tests := []struct {
		name    string
		mounts  string
		want    string
		wantErr error
	}{
		{"unified", "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n", "/sys/fs/cgroup", nil},
		{"hybrid", "tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n", "/sys/fs/cgroup/unified", nil},
		{"escaped", "none /mnt/cg\\0402 cgroup2 rw 0 0\n", "/mnt/cg 2", nil},
		{"v1 only", "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n", "", ErrNoCgroup2},
		{"empty", "", "", ErrNoCgroup2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCgroup2Mount(strings.NewReader(tt.mounts))
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

func TestCgroup2MountOnThisMachine(t *testing.T) {
	m, err := Cgroup2Mount()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m, "/") {
		t.Errorf("mount %q is not absolute", m)
	}
}
