package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/gammaproof/gammaproof/internal/bpffs"
)

// BPFFSDir is where a node has its bpf filesystem. Pods (gamma-node) pin
// eBPF objects there so they outlive the pod's process and mount namespace.
const BPFFSDir = "/sys/fs/bpf"

// bpffsMarker in the state dir records that the node mounted BPFFSDir, so
// Cleanup unmounts it.
const bpffsMarker = "bpffs-mounted"

// ensureBPFFS mounts a bpf filesystem on BPFFSDir unless one is there, as
// systemd does on a real node: mounted in a container's own mount
// namespace it would end with the container, and what it pinned with it.
func ensureBPFFS(stateDir string) error {
	if ok, err := bpffs.Is(BPFFSDir); err != nil || ok {
		return err
	}
	if err := bpffs.Mount(BPFFSDir); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(stateDir, bpffsMarker), nil, 0o644); err != nil {
		return errors.Join(fmt.Errorf("record the bpffs mount: %w", err), unix.Unmount(BPFFSDir, unix.MNT_DETACH))
	}
	return nil
}

// unmountBPFFS unmounts BPFFSDir if the node mounted it, which frees
// everything pinned there.
func unmountBPFFS(stateDir string) error {
	if _, err := os.Stat(filepath.Join(stateDir, bpffsMarker)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := unix.Unmount(BPFFSDir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount bpffs %s: %w", BPFFSDir, err)
	}
	return nil
}
