package cluster

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ExportLogs copies the log of every component (see [Layout.LogDir]) to
// dest, which it creates.
func (c *Cluster) ExportLogs(dest string) error {
	src := c.layout.LogDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("export logs: %w", err)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("export logs: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dest, e.Name())); err != nil {
			return fmt.Errorf("export logs: %w", err)
		}
	}
	return nil
}

func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	_, err = io.Copy(out, in)
	return err
}
