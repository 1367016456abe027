package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/internal/repo"
)

// TestRepoScenariosLoad loads every folder under scenarios/.
func TestRepoScenariosLoad(t *testing.T) {
	all, err := LoadAll(filepath.Join(repo.Root(), "scenarios"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range all {
		names[s.Name] = true
		if s.Name != filepath.Base(s.Dir) {
			t.Errorf("%s: name %q differs from its folder", s.Dir, s.Name)
		}
	}
	if !names["seed-bookstore"] {
		t.Error("seed-bookstore scenario missing")
	}
}

func TestLoadErrorsNameFileAndField(t *testing.T) {
	manifest := "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: x\n"
	tests := []struct {
		name, expect string
		files        map[string]string
		want         []string
	}{
		{
			name:   "unknown field",
			expect: "profile: MESH-HTTP\nstepz: []\n",
			want:   []string{"expect.yaml", "stepz"},
		},
		{
			name:   "split does not sum to one",
			expect: "profile: MESH-HTTP\nsteps:\n- name: a\n  checks:\n  - from: {namespace: x, pod: c}\n    request: {url: 'http://s:80/'}\n    expect: {split: {v1: 0.9, v2: 0.2}}\n",
			want:   []string{"expect.yaml", "steps[0].checks[0].expect.split", "sum to"},
		},
		{
			name:   "missing manifest",
			expect: "profile: MESH-HTTP\nsteps:\n- name: a\n  apply: [nope.yaml]\n",
			want:   []string{"steps[0].apply/delete[0]", "nope.yaml"},
		},
		{
			name:   "manifest without name",
			expect: "profile: MESH-HTTP\nsteps:\n- name: a\n  apply: [m.yaml]\n",
			files:  map[string]string{"m.yaml": "apiVersion: v1\nkind: Service\n"},
			want:   []string{"m.yaml", "metadata.name is missing"},
		},
		{
			name:   "bad profile and url",
			expect: "profile: MESH\nsteps:\n- name: a\n  apply: [m.yaml]\n  checks:\n  - from: {namespace: x, pod: c}\n    request: {url: 's:80'}\n    expect: {status: 200}\n",
			files:  map[string]string{"m.yaml": manifest},
			want:   []string{"profile", "request.url"},
		},
		{
			name:   "expects nothing",
			expect: "profile: MESH-HTTP\nsteps:\n- name: a\n  checks:\n  - from: {namespace: x, pod: c}\n    request: {url: 'http://s/'}\n",
			want:   []string{"expects nothing"},
		},
		{
			name:   "bad duration",
			expect: "profile: MESH-HTTP\nsteps:\n- name: a\n  checks:\n  - from: {namespace: x, pod: c}\n    request: {url: 'http://s/', timeout: soon}\n    expect: {status: 200}\n",
			want:   []string{"expect.yaml", "soon"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "s")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			files := map[string]string{ExpectFile: tt.expect}
			for k, v := range tt.files {
				files[k] = v
			}
			for k, v := range files {
				if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Load(dir)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
