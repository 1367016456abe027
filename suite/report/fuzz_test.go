package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/internal/repo"
)

// FuzzDecode reads arbitrary bytes as a results.json. Decode must never
// panic, and its errors must name the file. A document it accepts must
// render every report (ConformanceReport YAML that decodes strictly,
// well-formed JUnit XML, HTML) and survive an Encode/Decode round trip.
// Seeds: the published reports and the golden fixtures.
//
//	go test ./suite/report -run '^$' -fuzz FuzzDecode -fuzztime 60s
func FuzzDecode(f *testing.F) {
	var seeds []string
	for _, pattern := range []string{
		filepath.Join(repo.Root(), "reports", "*", "*", "*", ResultsFile),
		filepath.Join("testdata", "*", ResultsFile),
	} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		if len(m) == 0 {
			f.Fatalf("no seed matches %s: the reports moved; point the fuzz seeds at them", pattern)
		}
		seeds = append(seeds, m...)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"apiVersion":"gammaproof.io/v1alpha1","kind":"Results"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz/results.json"
		r, err := Decode(data, name)
		if err != nil {
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkRenders(t, r)
		enc, err := Encode(r)
		if err != nil {
			t.Fatalf("Encode of a decoded document: %v", err)
		}
		if _, err := Decode(enc, "re-encoded"); err != nil {
			t.Fatalf("re-encoded document does not decode: %v", err)
		}
	})
}

// checkRenders renders every report of r and checks each is well formed.
func checkRenders(t *testing.T, r *Results) {
	t.Helper()
	y, err := ConformanceYAML(r)
	if err != nil {
		t.Fatalf("ConformanceYAML: %v", err)
	}
	if _, err := DecodeConformance(y); err != nil {
		t.Fatalf("rendered ConformanceReport does not decode: %v\n%s", err, y)
	}
	if ConformanceFileName(r) == "" {
		t.Fatalf("empty ConformanceReport file name")
	}
	j, err := JUnit(r)
	if err != nil {
		t.Fatalf("JUnit: %v", err)
	}
	if err := wellFormedXML(j); err != nil {
		t.Fatalf("JUnit output is not well-formed XML: %v", err)
	}
	h, err := HTML(r)
	if err != nil {
		t.Fatalf("HTML: %v", err)
	}
	if !bytes.Contains(h, []byte("</html>")) {
		t.Fatalf("HTML output is cut short (%d bytes)", len(h))
	}
}

// wellFormedXML reads every token of b.
func wellFormedXML(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
