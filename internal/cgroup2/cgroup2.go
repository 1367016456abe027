// Package cgroup2 finds where the cgroup v2 hierarchy is mounted. Hosts
// differ: /sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid
// (v1 beside v2) ones, a bind mount inside a container; so it is read from
// /proc/mounts, never assumed.
package cgroup2

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrNotMounted is wrapped by the errors of [Mount] and [ParseMount] when no
// cgroup v2 hierarchy is mounted.
var ErrNotMounted = errors.New("no cgroup v2 mount in /proc/mounts")

// Mount returns the mount point of the cgroup v2 hierarchy of this machine
// (of the caller's mount namespace).
func Mount() (string, error) {
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return "", fmt.Errorf("find cgroup v2 mount: %w", err)
	}
	defer f.Close()
	return ParseMount(f)
}

// ParseMount returns the mount point of the cgroup2 file system in r, which
// has the format of /proc/mounts. When several are mounted, the last wins:
// it mounts over the earlier ones (in a container, a host cgroup2
// bind-mounted over /sys/fs/cgroup comes last).
func ParseMount(r io.Reader) (string, error) {
	s := bufio.NewScanner(r)
	found := ""
	for s.Scan() {
		if f := strings.Fields(s.Text()); len(f) >= 3 && f[2] == "cgroup2" {
			found = unescape(f[1])
		}
	}
	if err := s.Err(); err != nil {
		return "", fmt.Errorf("find cgroup v2 mount: read mounts: %w", err)
	}
	if found == "" {
		return "", fmt.Errorf("find cgroup v2 mount: %w: mount one (`mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 none /sys/fs/cgroup/unified`) or boot with systemd.unified_cgroup_hierarchy=1", ErrNotMounted)
	}
	return found, nil
}

// unescape undoes the octal escapes of /proc/mounts (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, ok := octal(s[i+1 : i+4]); ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func octal(digits string) (byte, bool) {
	var v byte
	for _, c := range digits {
		if c < '0' || c > '7' {
			return 0, false
		}
		v = v*8 + byte(c-'0')
	}
	return v, true
}
