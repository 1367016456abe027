package node

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// haproxyImage is the repository of HAProxy's official image (haproxy:3.0,
// docker.io/library/haproxy:2.6, …): the local node runs the host's
// haproxy binary for it, whatever the tag asks for.
const haproxyImage = "haproxy"

// haproxyInstall is what installs the host's haproxy.
const haproxyInstall = "apt-get install haproxy"

// haproxyConfig is where the official image reads its configuration: a
// pod mounts its ConfigMap on /usr/local/etc/haproxy.
const haproxyConfig = "/usr/local/etc/haproxy/haproxy.cfg"

// haproxyDirs are where a packaged haproxy lives when it is not on PATH
// (Debian puts it in /usr/sbin, which a non-root PATH lacks).
var haproxyDirs = []string{"/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"}

// findHAProxy returns the host's haproxy: the one on PATH, else the first
// executable haproxy in haproxyDirs. Its error wraps
// [ErrImageBinaryMissing] and says to install the package.
func findHAProxy() (string, error) {
	if p, err := exec.LookPath("haproxy"); err == nil {
		return filepath.Abs(p)
	}
	return findExecutable("haproxy", haproxyDirs)
}

// findExecutable returns the first regular, executable file name in dirs.
func findExecutable(name string, dirs []string) (string, error) {
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("no %s on PATH or in %v: %w (run `%s`)", name, dirs, ErrImageBinaryMissing, haproxyInstall)
}

// haproxy returns the image of HAProxy's official image run by the host's
// binary. Like the official image's entrypoint, it runs haproxy in the
// foreground as master and worker (-W -db), and by default reads
// /usr/local/etc/haproxy/haproxy.cfg; args that are options (such as
// ["-f", "/etc/x.cfg"]) follow the entrypoint. The image brings no other
// tool and no host tool on PATH.
func (t *ImageTable) haproxy(ref string) (Image, error) {
	bin, err := t.findHAProxy()
	if err != nil {
		if !errors.Is(err, ErrImageBinaryMissing) {
			err = fmt.Errorf("%w: %w (run `%s`)", ErrImageBinaryMissing, err, haproxyInstall)
		}
		return Image{}, fmt.Errorf("image %q needs the host's haproxy: %w", ref, err)
	}
	return Image{
		Name:       haproxyImage,
		Entrypoint: []string{"haproxy", "-W", "-db"},
		Cmd:        []string{"-f", haproxyConfig},
		Dir:        filepath.Join(t.imageDir, haproxyImage),
		Links:      map[string]string{"haproxy": bin},
	}, nil
}
