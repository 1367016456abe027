package scenario

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/scenarios"
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
			name:   "unknown upstream feature name",
			expect: "profile: MESH-HTTP\nfeatures: [Mesh, HTTPRoute, MeshHTTPRouteWeight]\nsteps:\n- name: a\n  checks:\n  - from: {namespace: x, pod: c}\n    request: {url: 'http://s/'}\n    expect: {status: 200}\n",
			want:   []string{"expect.yaml", "features[2]", "MeshHTTPRouteWeight"},
		},
		{
			name:   "manifest outside the folder",
			expect: "profile: MESH-HTTP\nsteps:\n- name: a\n  apply: [../m.yaml]\n",                            // climbs outside on purpose: a traversal the loader refuses
			want:   []string{"steps[0].apply/delete[0]", "../m.yaml", "must be a file in the scenario folder"}, // climbs outside on purpose: a traversal the loader refuses
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

// TestBuiltinIsTheCheckout: the scenarios built into the program are the
// checkout's scenarios/, file for file and byte for byte, and load to the
// same scenarios.
func TestBuiltinIsTheCheckout(t *testing.T) {
	root := filepath.Join(repo.Root(), "scenarios")
	checkout := os.DirFS(root)
	want, err := fs.Glob(checkout, "*/*")
	if err != nil || len(want) == 0 {
		t.Fatalf("no files under %s (%v)", root, err)
	}
	for _, p := range want {
		got, err := fs.ReadFile(scenarios.FS(), p)
		if err != nil {
			t.Errorf("%s is not built in: %v", p, err)
			continue
		}
		if disk, _ := fs.ReadFile(checkout, p); !bytes.Equal(got, disk) {
			t.Errorf("built-in %s differs from the checkout's", p)
		}
	}
	var got []string
	err = fs.WalkDir(scenarios.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			got = append(got, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Sort(want); !slices.Equal(got, want) {
		t.Errorf("built-in files %q, want the checkout's %q", got, want)
	}

	builtin, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	disk, err := LoadAll(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(builtin) != len(disk) {
		t.Fatalf("%d built-in scenarios, %d in %s", len(builtin), len(disk), root)
	}
	for i, b := range builtin {
		if b.Name != disk[i].Name || b.Dir != filepath.Join(BuiltinLabel, b.Name) {
			t.Errorf("built-in scenario %d: name %q dir %q, want %q in %s", i, b.Name, b.Dir, disk[i].Name, filepath.Join(BuiltinLabel, disk[i].Name))
		}
		for _, st := range b.Steps {
			for _, m := range st.Apply {
				objs, err := b.Objects(m)
				if err != nil || len(objs) == 0 {
					t.Errorf("%s: built-in manifest %s: %d objects, %v", b.Name, m, len(objs), err)
				}
			}
		}
	}
	if _, err := LoadAll(""); err != nil {
		t.Errorf(`LoadAll("") = %v, want the built-in scenarios`, err)
	}
}

// TestLoadFS loads scenarios from an fs.FS: Dir is label/folder, the
// manifests are read from the FS, not the disk, and errors name files
// under label.
func TestLoadFS(t *testing.T) {
	expect := "profile: MESH-HTTP\nsteps:\n- name: a\n  apply: [m.yaml]\n"
	manifest := "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: x\n"
	fsys := fstest.MapFS{
		"b/expect.yaml": {Data: []byte(expect)},
		"b/m.yaml":      {Data: []byte(manifest)},
		"a/expect.yaml": {Data: []byte(expect)},
		"a/m.yaml":      {Data: []byte(manifest)},
		"README.md":     {Data: []byte("not a scenario")},
	}
	all, err := LoadFS(fsys, "mem")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Name != "a" || all[1].Name != "b" || all[0].Dir != filepath.Join("mem", "a") {
		t.Fatalf("LoadFS = %d scenarios %+v, want a then b in mem/", len(all), all)
	}
	objs, err := all[1].Objects("m.yaml")
	if err != nil || len(objs) != 1 || objs[0].GetName() != "s" {
		t.Fatalf("Objects(m.yaml) = %d objects, %v; want Service s", len(objs), err)
	}
	if _, err := all[0].Objects("../b/m.yaml"); err == nil { // climbs outside on purpose: a traversal the loader refuses
		t.Error("Objects(../b/m.yaml) read outside the scenario folder") // climbs outside on purpose: a traversal the loader refuses
	}

	delete(fsys, "b/m.yaml")
	_, err = LoadFS(fsys, "mem")
	if err == nil || !strings.Contains(err.Error(), filepath.Join("mem", "b", "expect.yaml")) || !strings.Contains(err.Error(), "m.yaml") {
		t.Errorf("LoadFS without b/m.yaml = %v, want an error naming mem/b/expect.yaml and m.yaml", err)
	}
	if _, err := LoadFS(fstest.MapFS{"README.md": {}}, "mem"); err == nil || !strings.Contains(err.Error(), "no scenario folders in mem") {
		t.Errorf("LoadFS of no folders = %v, want 'no scenario folders in mem'", err)
	}
}
