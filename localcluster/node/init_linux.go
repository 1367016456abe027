package node

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// ContainerInitCommand is the hidden subcommand of gamma-localnode that
// runs as the first process of every container.
const ContainerInitCommand = "container-init"

// initSpec is what container-init does before it execs the command.
type initSpec struct {
	// root, when set, is an empty host directory on which container-init
	// builds the container's own root (see newRoot) holding rootFiles.
	root      string
	rootFiles []bindMount
	mounts    []bindMount
	hostname  string
	workdir   string
	argv      []string
}

type bindMount struct {
	src, dst string
	readOnly bool
}

// args renders the spec as container-init command-line arguments.
func (s initSpec) args() []string {
	a := []string{ContainerInitCommand}
	if s.root != "" {
		a = append(a, "--root", s.root)
	}
	for _, m := range s.rootFiles {
		a = append(a, "--root-file", m.src, m.dst)
	}
	for _, m := range s.mounts {
		mode := "rw"
		if m.readOnly {
			mode = "ro"
		}
		a = append(a, "--mount", m.src, m.dst, mode)
	}
	if s.hostname != "" {
		a = append(a, "--hostname", s.hostname)
	}
	if s.workdir != "" {
		a = append(a, "--workdir", s.workdir)
	}
	return append(append(a, "--"), s.argv...)
}

func parseInitArgs(args []string) (initSpec, error) {
	var s initSpec
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--mount":
			if i+3 >= len(args) {
				return s, errors.New("--mount needs SRC DST rw|ro")
			}
			s.mounts = append(s.mounts, bindMount{src: args[i+1], dst: args[i+2], readOnly: args[i+3] == "ro"})
			i += 3
		case "--root-file":
			if i+2 >= len(args) {
				return s, errors.New("--root-file needs SRC DST")
			}
			s.rootFiles = append(s.rootFiles, bindMount{src: args[i+1], dst: args[i+2], readOnly: true})
			i += 2
		case "--hostname", "--workdir", "--root":
			if i+1 >= len(args) {
				return s, fmt.Errorf("%s needs a value", args[i])
			}
			switch args[i] {
			case "--hostname":
				s.hostname = args[i+1]
			case "--workdir":
				s.workdir = args[i+1]
			default:
				s.root = args[i+1]
			}
			i++
		case "--":
			s.argv = args[i+1:]
			if len(s.argv) == 0 {
				return s, errors.New("no command after --")
			}
			if len(s.rootFiles) > 0 && s.root == "" {
				return s, errors.New("--root-file needs --root")
			}
			return s, nil
		default:
			return s, fmt.Errorf("unknown argument %q", args[i])
		}
	}
	return s, errors.New("no command: expected -- CMD ARGS...")
}

// ContainerInit is the body of `gamma-localnode container-init`: it runs in
// the container's fresh mount (and UTS) namespace, gives the container a
// root of its own if its image carries root files (see newRoot),
// bind-mounts the pod's files and volumes, sets the hostname and working
// directory, and execs the command found in the image PATH. It only
// returns on error.
func ContainerInit(args []string) error {
	s, err := parseInitArgs(args)
	if err != nil {
		return fmt.Errorf("container-init: %w", err)
	}
	if s.root != "" {
		if err := newRoot(s.root, s.rootFiles); err != nil {
			return fmt.Errorf("container-init: %w", err)
		}
	}
	for _, m := range s.mounts {
		if err := unix.Mount(m.src, m.dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("container-init: bind %s on %s: %w", m.src, m.dst, err)
		}
		if m.readOnly {
			if err := unix.Mount("", m.dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
				return fmt.Errorf("container-init: make %s read-only: %w", m.dst, err)
			}
		}
	}
	if s.hostname != "" {
		if err := unix.Sethostname([]byte(s.hostname)); err != nil {
			return fmt.Errorf("container-init: set hostname: %w", err)
		}
	}
	if s.workdir != "" {
		if err := os.MkdirAll(s.workdir, 0o755); err != nil {
			return fmt.Errorf("container-init: create working dir: %w", err)
		}
		if err := os.Chdir(s.workdir); err != nil {
			return fmt.Errorf("container-init: enter working dir: %w", err)
		}
	}
	path, err := exec.LookPath(s.argv[0])
	if err != nil {
		return fmt.Errorf("container-init: %s: not found in the image (PATH=%s): %w", s.argv[0], os.Getenv("PATH"), err)
	}
	if err := syscall.Exec(path, s.argv, os.Environ()); err != nil {
		return fmt.Errorf("container-init: exec %s: %w", path, err)
	}
	return nil
}

// newRoot makes the mount namespace's root a tmpfs mounted on dir that
// holds every top-level entry of the host's root (directories bind-mounted
// recursively, so their submounts come along; symlinks copied; files
// bind-mounted) and the image's root files, bind-mounted read-only at their
// paths, and pivots into it. The host's root is not written to: a file such
// as /cert.crt exists only in this namespace and is gone with it. Callers
// run in a private mount namespace (Go makes / private when it unshares
// CLONE_NEWNS).
func newRoot(dir string, files []bindMount) error {
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("mount root tmpfs on %s: %w", dir, err)
	}
	// Recursive binds of the host's directories skip an unbindable mount,
	// so the new root does not show up again inside itself.
	if err := unix.Mount("", dir, "", unix.MS_UNBINDABLE, ""); err != nil {
		return fmt.Errorf("make the root tmpfs unbindable: %w", err)
	}
	own := map[string]bool{}
	for _, f := range files {
		own[filepath.Base(f.dst)] = true
	}
	entries, err := os.ReadDir("/")
	if err != nil {
		return fmt.Errorf("read host root: %w", err)
	}
	for _, e := range entries {
		if own[e.Name()] {
			continue // the image's file wins over the host's
		}
		if err := copyRootEntry(e, dir); err != nil {
			return err
		}
	}
	for _, f := range files {
		dst := filepath.Join(dir, filepath.Base(f.dst))
		if err := os.WriteFile(dst, nil, 0o644); err != nil {
			return fmt.Errorf("create mount point for image file %s: %w", f.dst, err)
		}
		if err := bindReadOnly(f.src, dst); err != nil {
			return fmt.Errorf("mount image file %s: %w", f.dst, err)
		}
	}
	old := filepath.Join(dir, ".oldroot")
	if err := os.Mkdir(old, 0o700); err != nil {
		return fmt.Errorf("create old root dir: %w", err)
	}
	if err := unix.PivotRoot(dir, old); err != nil {
		return fmt.Errorf("pivot to the container root: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return fmt.Errorf("enter the container root: %w", err)
	}
	if err := unix.Unmount("/.oldroot", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	if err := os.Remove("/.oldroot"); err != nil {
		return fmt.Errorf("remove the old root dir: %w", err)
	}
	return nil
}

// copyRootEntry puts one entry of the host's root into the new root dir.
// Entries other than directories, symlinks and regular files (sockets,
// devices) are left out.
func copyRootEntry(e os.DirEntry, dir string) error {
	src, dst := "/"+e.Name(), filepath.Join(dir, e.Name())
	switch t := e.Type(); {
	case t&os.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return fmt.Errorf("read host link %s: %w", src, err)
		}
		if err := os.Symlink(target, dst); err != nil {
			return fmt.Errorf("copy host link %s: %w", src, err)
		}
	case t.IsDir():
		if err := os.Mkdir(dst, 0o755); err != nil {
			return fmt.Errorf("create %s in the container root: %w", src, err)
		}
		if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind host %s: %w", src, err)
		}
	case t.IsRegular():
		if err := os.WriteFile(dst, nil, 0o644); err != nil {
			return fmt.Errorf("create %s in the container root: %w", src, err)
		}
		if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind host %s: %w", src, err)
		}
	}
	return nil
}

// bindReadOnly bind-mounts src on dst and makes the mount read-only.
func bindReadOnly(src, dst string) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s on %s: %w", src, dst, err)
	}
	if err := unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("make %s read-only: %w", dst, err)
	}
	return nil
}
