package repo

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A clone must stand on its own: no Go file, script, manifest or document
// may point at a path outside the repository. These patterns find the ways
// such a pointer is written.
var (
	// upRef is a relative path that climbs: ../x, ../../x.
	upRef = regexp.MustCompile(`(?:\.\./)+[A-Za-z0-9_.\-/]*`)
	// docRef is a document named by file, e.g. docs/architecture.md.
	docRef = regexp.MustCompile(`[A-Za-z0-9_.\-/]*[A-Za-z0-9_\-]\.md\b`)
	// hostRef is an absolute path into a machine's work or home areas.
	hostRef = regexp.MustCompile(`(?:^|[\s"'(` + "`" + `=])(/work/|/root/|/home/)[A-Za-z0-9_.\-/]*`)
	// urlRef is a URL; what is inside one is not a path of ours.
	urlRef = regexp.MustCompile(`[a-z]+://[^\s)"'>` + "`" + `]+`)
	// goText is what of a Go line is prose or a path: comments and string
	// literals (tc.md in code is a field, not a document).
	goText = regexp.MustCompile("//.*$|\"(?:[^\"\\\\]|\\\\.)*\"|`[^`]*`")
)

// onPurpose marks a line whose path leaves the repository on purpose, such
// as a test that a path traversal is refused.
const onPurpose = "climbs outside " + "on purpose"

// TestNoReferenceOutsideRepository fails when a file of the repository refers
// to a path outside it: a relative path that leaves the checkout or names
// nothing in it, a document that does not exist in the checkout, or an
// absolute path into a machine's work or home directories.
func TestNoReferenceOutsideRepository(t *testing.T) {
	root := Root()
	self, _ := filepath.Abs("references_test.go")
	var checked int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case ".git", "bin", ".gammaproof", "reports/latest":
				return filepath.SkipDir
			}
			if strings.HasPrefix(d.Name(), ".") && rel != ".ci" && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if path == self || !checkedFile(rel) {
			return nil
		}
		checked++
		for _, p := range outsideRefs(t, root, path) {
			t.Errorf("%s:%d refers outside the repository: %s", rel, p.line, p.ref)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	if checked < 100 {
		t.Fatalf("checked only %d files under %s: is this the checkout?", checked, root)
	}
}

func checkedFile(rel string) bool {
	switch filepath.Ext(rel) {
	case ".go", ".md", ".sh", ".yaml", ".yml", ".tmpl":
		return true
	}
	base := filepath.Base(rel)
	return base == "Makefile" || rel == filepath.Join(".ci", "run")
}

type badRef struct {
	line int
	ref  string
}

func outsideRefs(t *testing.T, root, path string) []badRef {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	dir := filepath.Dir(path)
	var bad []badRef
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 1; s.Scan(); n++ {
		line := s.Text()
		if strings.Contains(line, onPurpose) {
			continue
		}
		if filepath.Ext(path) == ".go" {
			line = strings.Join(goText.FindAllString(line, -1), " ")
		}
		line = urlRef.ReplaceAllString(line, "")
		seen := map[string]bool{}
		add := func(ref string) {
			if !seen[ref] {
				seen[ref] = true
				bad = append(bad, badRef{n, ref})
			}
		}
		for _, ref := range upRef.FindAllString(line, -1) {
			ref = strings.TrimRight(ref, ".")
			target := filepath.Join(dir, ref)
			if !within(root, target) || (hasFileName(ref) && !exists(target)) {
				add(ref)
			}
		}
		for _, ref := range docRef.FindAllString(line, -1) {
			if !docExists(root, dir, ref) {
				add(ref)
			}
		}
		for _, m := range hostRef.FindAllStringSubmatch(line, -1) {
			add(strings.TrimLeft(m[0], " \t\"'(`="))
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return bad
}

// within reports whether path is root or below it.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// hasFileName reports whether ref ends in a name with an extension, so it
// must name an existing file; a bare directory climb like ../.. is built on
// at run time.
func hasFileName(ref string) bool {
	return strings.Contains(filepath.Base(ref), ".") && !strings.HasSuffix(ref, "/")
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// docExists reports whether a document reference resolves in the checkout:
// relative to the file, to the root, or — for a bare name — anywhere in it.
func docExists(root, dir, ref string) bool {
	for _, base := range []string{dir, root} {
		p := filepath.Join(base, ref)
		if within(root, p) && exists(p) {
			return true
		}
	}
	if strings.Contains(ref, "/") {
		return false
	}
	found := false
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found {
			return fs.SkipAll
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		found = d.Name() == ref
		return nil
	})
	return found
}

func TestOutsideRefsFindsEachKind(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "docs", "a.md"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	text := strings.Join([]string{
		"See docs/a.md and ../README.md.",    // 1: ../README.md leaves root
		"Notes: ../elsewhere/NOTES.md",       // 2: leaves root
		"from /work/other/x and /root/y",     // 3: two host paths
		"see docs/missing.md",                // 4: no such document
		"https://example.com/../z/README.md", // 5: a URL, fine
		"fine: docs/a.md, ../docs/a.md",      // 6: ../docs/a.md from sub/ is fine
	}, "\n")
	sub := filepath.Join(root, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(sub, "notes.md")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range outsideRefs(t, root, file) {
		got = append(got, fmt.Sprintf("%d:%s", b.line, b.ref))
	}
	want := []string{"1:../README.md", "2:../elsewhere/NOTES.md", "3:/work/other/x", "3:/root/y", "4:docs/missing.md"}
	if !slices.Equal(got, want) {
		t.Errorf("found %q, want %q", got, want)
	}
}
