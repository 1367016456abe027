package bpfload

import (
	"errors"
	"fmt"
	"os"

	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// ErrNotRoot is returned by [Load] when the process lacks the privileges to
// load eBPF programs.
var ErrNotRoot = errors.New("loading eBPF programs needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN): run as root")

// Load checks for root, lifts the memlock limit older kernels charge maps
// to, and calls load. Errors name what (e.g. "steering programs"); a
// permission error wraps [ErrNotRoot], a kernel without a needed feature
// wraps [ebpf.ErrNotSupported] as load returned it.
func Load(what string, load func() error) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("load %s: %w", what, ErrNotRoot)
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("load %s: remove memlock limit: %w", what, err)
	}
	if err := load(); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("load %s: %w: %w", what, ErrNotRoot, err)
		}
		return fmt.Errorf("load %s: %w", what, err)
	}
	return nil
}
