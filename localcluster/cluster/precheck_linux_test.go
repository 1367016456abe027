package cluster

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gammaproof/gammaproof/internal/repo"
)

func TestCheckHost(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (it checks what root sees); run it with sudo")
	}
	t.Run("missing binary", func(t *testing.T) {
		err := checkHost(t.TempDir(), Components)
		if !errors.Is(err, repo.ErrMissingBinary) || !strings.Contains(err.Error(), "make kube") {
			t.Errorf("err = %v, want ErrMissingBinary saying `make kube`", err)
		}
	})
	t.Run("missing node binary", func(t *testing.T) {
		dir := t.TempDir()
		for _, c := range Components[:5] {
			if c == LocalNode {
				continue
			}
			if err := os.WriteFile(dir+"/"+c, []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		err := checkHost(dir, Components)
		if !errors.Is(err, repo.ErrMissingBinary) || !strings.Contains(err.Error(), "gamma-localnode") || !strings.Contains(err.Error(), "make build") {
			t.Errorf("err = %v, want a missing gamma-localnode saying `make build`", err)
		}
	})
	t.Run("no nft", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		err := checkHost(t.TempDir(), Components)
		if err == nil || !strings.Contains(err.Error(), "apt-get install nftables") {
			t.Errorf("err = %v, want one saying apt-get install nftables", err)
		}
	})
}

// TestNotRoot runs the check as user nobody in a child process.
func TestNotRoot(t *testing.T) {
	if os.Getenv("GAMMAPROOF_TEST_NOT_ROOT") == "1" {
		err := checkHost(t.TempDir(), Components)
		if !errors.Is(err, ErrNotRoot) {
			t.Fatalf("err = %v, want ErrNotRoot", err)
		}
		os.Stdout.WriteString("ERR: " + err.Error() + "\n")
		return
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root to switch to user nobody; run it with sudo")
	}
	// The test binary sits in a directory only root can enter: copy it out.
	dir, err := os.MkdirTemp("", "gpt-notroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "cluster.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestNotRoot$", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GAMMAPROOF_TEST_NOT_ROOT=1", "TMPDIR=/tmp")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "ERR: the local cluster needs root: run it as root (sudo)") {
		t.Errorf("child output lacks the root error:\n%s", out)
	}
}

func TestCheckPorts(t *testing.T) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	free, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	freePort := free.Addr().(*net.TCPAddr).Port
	if err := free.Close(); err != nil {
		t.Fatal(err)
	}
	if err := checkPorts([]PortUse{{freePort, "etcd"}}); err != nil {
		t.Errorf("free port %d: %v", freePort, err)
	}
	err = checkPorts([]PortUse{{freePort, "etcd"}, {taken, "kube-scheduler"}})
	if err == nil {
		t.Fatalf("checkPorts = nil with %d taken", taken)
	}
	for _, w := range []string{fmt.Sprintf("port %d", taken), "kube-scheduler", "ss -ltnp", "gammaproof cluster down"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
}
