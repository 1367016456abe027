package node

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultCgroupParent is where pod cgroups live below the cgroup v2 mount.
const DefaultCgroupParent = "gammaproof/pods"

// cgroup2Mount finds the cgroup v2 mount point in /proc/mounts (on hybrid
// hosts it is /sys/fs/cgroup/unified, on unified hosts /sys/fs/cgroup).
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return "", fmt.Errorf("read /proc/mounts: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 3 && fields[2] == "cgroup2" {
			return fields[1], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read /proc/mounts: %w", err)
	}
	return "", errors.New("no cgroup v2 mount in /proc/mounts: mount one (`mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 none /sys/fs/cgroup/unified`) or boot with systemd.unified_cgroup_hierarchy=1")
}

// CgroupParent returns the directory under which every pod cgroup
// pod<uid> lives: <cgroup2 mount>/<rel> (rel defaults to
// [DefaultCgroupParent]).
func CgroupParent(rel string) (string, error) {
	if rel == "" {
		rel = DefaultCgroupParent
	}
	m, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	return filepath.Join(m, rel), nil
}

// killCgroup kills every process in dir (cgroup.kill) and removes it,
// children first. A missing cgroup is fine.
func killCgroup(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read cgroup %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			if err := killCgroup(filepath.Join(dir, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("kill cgroup %s: %w", dir, err))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := os.Remove(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", dir, err))
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.Join(errs...)
}

// cgroupEmpty reports whether no process is left in dir.
func cgroupEmpty(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	return err != nil || len(strings.TrimSpace(string(b))) == 0
}

var (
	errNotEmpty = unix.ENOTEMPTY
	errBusy     = unix.EBUSY
)
