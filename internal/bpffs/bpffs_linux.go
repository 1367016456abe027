// Package bpffs finds and mounts bpf filesystems, where eBPF objects are
// pinned so they outlive the process that loaded them.
package bpffs

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Is reports whether dir is on a bpf filesystem.
func Is(dir string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return uint32(st.Type) == unix.BPF_FS_MAGIC, nil
}

// Mount mounts a bpf filesystem on dir, readable by root only.
func Mount(dir string) error {
	if err := unix.Mount("bpf", dir, "bpf", 0, "mode=0700"); err != nil {
		return fmt.Errorf("mount bpffs on %s: %w", dir, err)
	}
	return nil
}
