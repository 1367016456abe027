package repo

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// architectureDoc is the document that names every package of the module,
// one table row each.
const architectureDoc = "docs/architecture.md"

// TestArchitectureListsEveryPackage fails when a Go package of the module is
// not named in docs/architecture.md, or when a path the document's package
// table names does not exist: a newcomer finds each concept by its package
// name there.
func TestArchitectureListsEveryPackage(t *testing.T) {
	root := Root()
	doc, err := os.ReadFile(filepath.Join(root, architectureDoc))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := modulePackages(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("found only %d packages under %s: the walk is wrong", len(pkgs), root)
	}
	for _, p := range pkgs {
		if !strings.Contains(string(doc), "`"+p+"`") {
			t.Errorf("%s does not name package %s (add a row to its package table)", architectureDoc, p)
		}
	}
	for _, named := range tablePaths(string(doc)) {
		matches, err := filepath.Glob(filepath.Join(root, named))
		if err != nil || len(matches) == 0 {
			t.Errorf("%s names %s, which does not exist", architectureDoc, named)
		}
	}
}

// modulePackages lists the folders below root that hold Go files of the
// root's module, as slash paths relative to root. Other modules (a folder
// with its own go.mod), testdata and hidden folders and bin/ are left out.
func modulePackages(root string) ([]string, error) {
	var pkgs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			name := d.Name()
			if name == "testdata" || name == "bin" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".go") {
			pkgs = append(pkgs, filepath.ToSlash(filepath.Dir(rel)))
		}
		return nil
	})
	// A folder's files may be walked on both sides of its subfolders.
	slices.Sort(pkgs)
	return slices.Compact(pkgs), err
}

var (
	// tableRow is a table row whose first cell starts with a code span.
	tableRow = regexp.MustCompile("(?m)^\\| (`[^|]*) \\|")
	// codeSpan is one `path` in that cell.
	codeSpan = regexp.MustCompile("`([^`]+)`")
)

// tablePaths returns the paths named in the first cells of the document's
// table rows, as globs: "`tools/kind-*`" is tools/kind-*, "…/x" and other
// abbreviations are left out.
func tablePaths(doc string) []string {
	var out []string
	for _, row := range tableRow.FindAllStringSubmatch(doc, -1) {
		for _, tok := range codeSpan.FindAllStringSubmatch(row[1], -1) {
			if p := tok[1]; !strings.Contains(p, "…") && !strings.Contains(p, " ") {
				out = append(out, strings.TrimSuffix(p, "/"))
			}
		}
	}
	return out
}
