package node

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestInitArgsRoundTrip(t *testing.T) {
	s := initSpec{
		root:      "/state/pod/root-echo",
		rootFiles: []bindMount{{src: "/bin/x/cert.crt", dst: "/cert.crt", readOnly: true}},
		mounts:    []bindMount{{src: "/state/pod/hosts", dst: "/etc/hosts"}},
		hostname:  "echo-0",
		argv:      []string{"server", "--port=8080"},
	}
	got, err := parseInitArgs(s.args()[1:])
	if err != nil {
		t.Fatal(err)
	}
	if got.root != s.root || !slices.Equal(got.rootFiles, s.rootFiles) || !slices.Equal(got.mounts, s.mounts) ||
		got.hostname != s.hostname || !slices.Equal(got.argv, s.argv) {
		t.Errorf("parseInitArgs(args()) = %+v, want %+v", got, s)
	}
	for _, bad := range [][]string{
		{"--root-file", "/a", "/cert.crt", "--", "sh"}, // no --root
		{"--root-file", "/a"},
		{"--root"},
	} {
		if _, err := parseInitArgs(bad); err == nil {
			t.Errorf("parseInitArgs(%q) accepted", bad)
		}
	}
}

// TestContainerInitRootFiles runs container-init (this test binary, see
// TestMain) in a fresh mount namespace, as a container starts, with an
// image root file: the file is at the root inside, read-only, the host's
// directories and mounts are there too, and the host's root never gets it.
func TestContainerInitRootFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: it creates a mount namespace (run with sudo)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	src := filepath.Join(tmp, "cert.crt")
	if err := os.WriteFile(src, []byte("certificate-content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(tmp, "root-echo")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := fmt.Sprintf("/gpt-root-file-%d.crt", os.Getpid())
	script := strings.Join([]string{
		"cat " + dst,
		"if echo x 2>/dev/null >" + dst + "; then echo WRITABLE; fi",
		"cat " + src, // host directories are there, through the new root
		"test -r /proc/self/status && echo PROC",
		"test -d /.oldroot || echo NO-OLDROOT",
	}, "; ")
	cmd := exec.Command(self, ContainerInitCommand, "--root", root, "--root-file", src, dst, "--", "sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: unix.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("container-init: %v\n%s", err, out)
	}
	want := "certificate-content\ncertificate-content\nPROC\nNO-OLDROOT\n"
	if string(out) != want {
		t.Errorf("inside the container:\n%s\nwant:\n%s", out, want)
	}
	if _, err := os.Lstat(dst); !os.IsNotExist(err) {
		os.Remove(dst)
		t.Errorf("%s exists on the host (%v): the image file leaked out of the mount namespace", dst, err)
	}
	if entries, err := os.ReadDir(root); err != nil || len(entries) != 0 {
		t.Errorf("host's view of the root dir: %v, %v; want empty", entries, err)
	}
}
