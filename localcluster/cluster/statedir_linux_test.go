package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRemoveStateDir(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(dir string) error
		wantErr string
		gone    bool
	}{
		{"missing", func(dir string) error { return os.RemoveAll(dir) }, "", true},
		{"empty, not ours", func(dir string) error { return nil }, "", false},
		{"not ours", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "precious"), []byte("x"), 0o644)
		}, "no .gammaproof-local marker", false},
		{"ours", func(dir string) error {
			if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, markerFile), nil, 0o644)
		}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := tt.setup(dir); err != nil {
				t.Fatal(err)
			}
			err := New(Options{StateDir: dir}).removeStateDir()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			_, serr := os.Stat(dir)
			if gone := os.IsNotExist(serr); gone != tt.gone {
				t.Errorf("dir gone = %v, want %v", gone, tt.gone)
			}
		})
	}
}

func TestStatusRunning(t *testing.T) {
	tests := []struct {
		pids []int
		want bool
	}{
		{nil, false},
		{[]int{1, 2, 3}, true},
		{[]int{1, 0, 3}, false},
	}
	for _, tt := range tests {
		st := &Status{}
		for i, pid := range tt.pids {
			st.Components = append(st.Components, ComponentStatus{Name: Components[i], PID: pid})
		}
		if got := st.Running(); got != tt.want {
			t.Errorf("Running(%v) = %v, want %v", tt.pids, got, tt.want)
		}
	}
}
