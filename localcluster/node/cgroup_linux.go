package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gammaproof/gammaproof/internal/cgroup2"
)

// DefaultCgroupParent is where pod cgroups live below the cgroup v2 mount.
const DefaultCgroupParent = "gammaproof/pods"

// CgroupParent returns the directory under which every pod cgroup
// pod<uid> lives: <cgroup2 mount>/<rel> (rel defaults to
// [DefaultCgroupParent]).
func CgroupParent(rel string) (string, error) {
	if rel == "" {
		rel = DefaultCgroupParent
	}
	m, err := cgroup2.Mount()
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

var (
	errNotEmpty = unix.ENOTEMPTY
	errBusy     = unix.EBUSY
)
