package node

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMountpoints(t *testing.T) {
	root := t.TempDir()
	existing := filepath.Join(root, "etc")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	m := &mountpoints{file: filepath.Join(t.TempDir(), "mountpoints")}
	dir := filepath.Join(root, "var/run/secrets/sa")
	file := filepath.Join(existing, "conf/app.yaml")
	if err := m.ensure(dir, true); err != nil {
		t.Fatal(err)
	}
	if err := m.ensure(file, false); err != nil {
		t.Fatal(err)
	}
	if err := m.ensure(existing, true); err != nil { // exists: not recorded
		t.Fatal(err)
	}
	for _, p := range []string{dir, file} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("mount point %s not created: %v", p, err)
		}
	}
	if err := m.ensure("relative/path", true); err == nil {
		t.Error("relative mount path accepted")
	}
	if err := removeMountpoints(m.file); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(root, "var"), filepath.Join(existing, "conf")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind (%v)", p, err)
		}
	}
	if _, err := os.Stat(existing); err != nil {
		t.Errorf("pre-existing %s removed: %v", existing, err)
	}
	if err := removeMountpoints(m.file + ".missing"); err != nil {
		t.Errorf("missing record: %v", err)
	}
}
