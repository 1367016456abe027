package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gammaproof/gammaproof/internal/repo"
)

// ErrNoCgroup2 is returned by [Cgroup2Mount] when no cgroup v2 hierarchy is
// mounted.
var ErrNoCgroup2 = errors.New("no cgroup v2 mount in /proc/mounts")

// ParseCgroup2Mount returns the mount point of the first cgroup2 file system
// in r, which has the format of /proc/mounts.
func ParseCgroup2Mount(r io.Reader) (string, error) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) >= 3 && f[2] == "cgroup2" {
			return unescapeMount(f[1]), nil
		}
	}
	if err := s.Err(); err != nil {
		return "", fmt.Errorf("read mounts: %w", err)
	}
	return "", fmt.Errorf("find cgroup2 mount: %w (mount one: `mount -t cgroup2 none /sys/fs/cgroup/unified`, or boot with systemd.unified_cgroup_hierarchy=1)", ErrNoCgroup2)
}

// unescapeMount undoes the octal escapes of /proc/mounts (\040 for space…).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%3o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Cgroup2Mount returns where cgroup v2 is mounted on this machine.
func Cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return "", fmt.Errorf("read /proc/mounts: %w", err)
	}
	defer f.Close()
	return ParseCgroup2Mount(f)
}

// binaryFor returns the path of a component's binary in binDir, with what to
// run when it is missing.
func binaryFor(binDir, name string) (string, error) {
	p := filepath.Join(binDir, name)
	fi, err := os.Stat(p)
	if err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return p, nil
	}
	how := "run `make kube`"
	if name == LocalNode {
		how = "run `make build` (or `go build -o bin/gamma-localnode ./cmd/gamma-localnode`)"
	}
	return "", fmt.Errorf("find %s in %s: %w: %s", name, binDir, repo.ErrMissingBinary, how)
}
