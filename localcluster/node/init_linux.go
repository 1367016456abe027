package node

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// ContainerInitCommand is the hidden subcommand of gamma-localnode that
// runs as the first process of every container.
const ContainerInitCommand = "container-init"

// initSpec is what container-init does before it execs the command.
type initSpec struct {
	mounts   []bindMount
	hostname string
	workdir  string
	argv     []string
}

type bindMount struct {
	src, dst string
	readOnly bool
}

// args renders the spec as container-init command-line arguments.
func (s initSpec) args() []string {
	a := []string{ContainerInitCommand}
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
		case "--hostname", "--workdir":
			if i+1 >= len(args) {
				return s, fmt.Errorf("%s needs a value", args[i])
			}
			if args[i] == "--hostname" {
				s.hostname = args[i+1]
			} else {
				s.workdir = args[i+1]
			}
			i++
		case "--":
			s.argv = args[i+1:]
			if len(s.argv) == 0 {
				return s, errors.New("no command after --")
			}
			return s, nil
		default:
			return s, fmt.Errorf("unknown argument %q", args[i])
		}
	}
	return s, errors.New("no command: expected -- CMD ARGS...")
}

// ContainerInit is the body of `gamma-localnode container-init`: it runs in
// the container's fresh mount (and UTS) namespace, bind-mounts the pod's
// files and volumes, sets the hostname and working directory, and execs the
// command found in the image PATH. It only returns on error.
func ContainerInit(args []string) error {
	s, err := parseInitArgs(args)
	if err != nil {
		return fmt.Errorf("container-init: %w", err)
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
