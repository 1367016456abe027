package scenario

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/suite/profile"
)

// FuzzLoad writes arbitrary expect.yaml and manifest bytes into a scenario
// folder and loads it. The manifest is written under every manifest name
// the repository's scenarios use, so the apply and delete lists of the
// seeds find it. Load must never panic; every error it returns names
// expect.yaml by its path; a scenario it accepts is complete (name, a
// valid profile, steps) and every manifest it lists decodes.
//
//	go test ./suite/scenario -run '^$' -fuzz FuzzLoad -fuzztime 60s
func FuzzLoad(f *testing.F) {
	names := manifestNames(f)
	dirs, err := filepath.Glob(filepath.Join(repo.Root(), "scenarios", "*", ExpectFile))
	if err != nil {
		f.Fatal(err)
	}
	if len(dirs) == 0 {
		f.Fatal("no scenarios/*/expect.yaml: the scenarios moved; point the fuzz seeds at them")
	}
	for _, p := range dirs {
		expect, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		manifests, err := filepath.Glob(filepath.Join(filepath.Dir(p), "0*.yaml"))
		if err != nil || len(manifests) == 0 {
			f.Fatalf("%s: no manifests (%v)", filepath.Dir(p), err)
		}
		for _, m := range manifests {
			b, err := os.ReadFile(m)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(expect, b)
		}
	}
	f.Add([]byte("profile: MESH-HTTP\nsteps:\n- name: x\n  apply: [01-backends.yaml]\n"), []byte("apiVersion: v1\nkind: List\n"))
	f.Add([]byte("steps: [{apply: ['../x.yaml', /etc/passwd]}]"), []byte{}) // climbs outside on purpose
	f.Fuzz(func(t *testing.T, expect, manifest []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, ExpectFile)
		if err := os.WriteFile(path, expect, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, n), manifest, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		s, err := Load(dir)
		if err != nil {
			for _, leaf := range leafErrors(err) {
				if !strings.Contains(leaf.Error(), path) {
					t.Fatalf("error does not name %s: %v", path, leaf)
				}
			}
			return
		}
		if s.Dir != dir || s.Name == "" || !profile.Valid(s.Profile) || len(s.Steps) == 0 {
			t.Fatalf("accepted an incomplete scenario: dir %q, name %q, profile %q, %d steps", s.Dir, s.Name, s.Profile, len(s.Steps))
		}
		for i, st := range s.Steps {
			for _, m := range slices.Concat(st.Apply, st.Delete) {
				objs, err := s.Objects(m)
				if err != nil || len(objs) == 0 {
					t.Fatalf("steps[%d]: accepted manifest %q does not decode: %d objects, %v", i, m, len(objs), err)
				}
			}
		}
	})
}

// manifestNames lists the manifest file names the repository's scenarios
// use.
func manifestNames(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(repo.Root(), "scenarios", "*", "*.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, p := range files {
		if n := filepath.Base(p); n != ExpectFile && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// leafErrors returns the errors joined in err (recursively), or err.
func leafErrors(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, leafErrors(e)...)
	}
	return out
}
