package golden

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errs  []string
	fatal bool
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, format)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.errs = append(r.errs, format)
	r.fatal = true
	panic(r)
}

// compare runs Compare on a recorder and returns it.
func compare(t *testing.T, path string, got []byte, update bool) (rec *recorder) {
	rec = &recorder{TB: t}
	defer func() {
		if v := recover(); v != nil && v != rec {
			panic(v)
		}
	}()
	Compare(rec, path, got, update)
	return rec
}

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.golden")
	if rec := compare(t, path, []byte("a\n"), false); !rec.fatal || !strings.Contains(rec.errs[0], "-update to create it") {
		t.Errorf("missing file: %+v, want a fatal error saying to run -update", rec)
	}
	if rec := compare(t, path, []byte("a\nb\n"), true); len(rec.errs) != 0 {
		t.Errorf("update: %v", rec.errs)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "a\nb\n" {
		t.Errorf("after update the file holds %q, %v", b, err)
	}
	if rec := compare(t, path, []byte("a\nb\n"), false); len(rec.errs) != 0 {
		t.Errorf("equal output: %v", rec.errs)
	}
	if rec := compare(t, path, []byte("a\nc\n"), false); rec.fatal || len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "differs") {
		t.Errorf("different output: %+v, want one non-fatal error", rec)
	}
}

func TestFirstDiff(t *testing.T) {
	for _, tc := range []struct{ want, got, diff string }{
		{"a\nb", "a\nb", ""},
		{"a\nb", "a\nc", "line 2:\n- b\n+ c"},
		{"a", "a\nextra", "line 2:\n- \n+ extra"},
	} {
		if d := FirstDiff(tc.want, tc.got); d != tc.diff {
			t.Errorf("FirstDiff(%q, %q) = %q, want %q", tc.want, tc.got, d, tc.diff)
		}
	}
}
