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
	"path/filepath"
	"strings"

	"github.com/gammaproof/gammaproof/internal/procmounts"
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
			found = procmounts.Unescape(f[1])
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

// Abs returns the cgroup v2 directory dir as an absolute path: a relative
// dir is taken from the cgroup v2 mount, and "" is the mount itself. It
// fails like [Mount] when this machine has no cgroup v2 hierarchy.
func Abs(dir string) (string, error) {
	root, err := Mount()
	if err != nil {
		return "", err
	}
	if filepath.IsAbs(dir) {
		return dir, nil
	}
	return filepath.Join(root, dir), nil
}

// ParentAnnotation is the Node annotation naming the cgroup v2 directory
// under which the node keeps its pods' cgroups (pod<uid>), absolute or
// relative to the cgroup v2 mount: the local cluster's node writes it;
// gamma-node and the suite's CPU measurement read it.
const ParentAnnotation = "gammaproof.io/cgroup-parent"
