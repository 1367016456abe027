package report

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// layout is what the page reports about itself once rendered.
type layout struct {
	Scenarios   []string  `json:"scenarios"`
	Bars        int       `json:"bars"`
	Drawn       int       `json:"drawn"`
	Rects       int       `json:"rects"`
	ObsShare    []float64 `json:"obsShare"`
	ScrollWidth int       `json:"scrollWidth"`
	InnerWidth  int       `json:"innerWidth"`
}

const layoutJS = `(() => {
  const bars = [...document.querySelectorAll('svg.bar')];
  const drawn = bars.filter(s => {
    const r = s.getBoundingClientRect(), t = s.querySelector('rect.track').getBoundingClientRect();
    return r.width >= 100 && r.height > 0 && t.width > 0;
  });
  return {
    scenarios: [...document.querySelectorAll('article.scenario')].map(a => a.dataset.scenario),
    bars: bars.length,
    drawn: drawn.length,
    rects: document.querySelectorAll('svg.bar rect').length,
    obsShare: bars.map(s => s.querySelector('rect.obs').getBoundingClientRect().width / s.querySelector('rect.track').getBoundingClientRect().width),
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  };
})()`

// TestBrowser renders the passing and the failing fixture in headless
// Chromium at phone (390 px) and laptop (1280 px) widths, checks every
// scenario is there, every bar chart is drawn at a usable size with the
// observed share, nothing overflows sideways, and the console stays clean;
// and it takes full-page screenshots. Set GAMMAPROOF_SCREENSHOTS=dir to
// keep them (e.g. suite/report/testdata/screenshots).
func TestBrowser(t *testing.T) {
	out := os.Getenv("GAMMAPROOF_SCREENSHOTS")
	if out == "" {
		out = t.TempDir()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	b := startBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, fx := range fixtures {
		r := fixture(t, fx.failing)
		page, err := HTML(r)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(out, fx.name+".html")
		if err := os.WriteFile(file, page, 0o644); err != nil {
			t.Fatal(err)
		}
		var wantScenarios []string
		var wantShares []float64
		for _, s := range r.Scenarios {
			wantScenarios = append(wantScenarios, s.Name)
			for _, c := range s.Checks {
				for _, cat := range c.Categories {
					wantShares = append(wantShares, share(cat.Count, totalCount(c)))
				}
			}
		}
		for _, width := range []int{390, 1280} {
			name := fx.name + "-" + map[int]string{390: "phone", 1280: "laptop"}[width]
			t.Run(name, func(t *testing.T) {
				p, err := b.openPage(ctx, "file://"+file, width, 900)
				if err != nil {
					t.Fatalf("open page: %v\nchromium stderr:\n%s", err, b.stderr.String())
				}
				var got layout
				if err := p.eval(ctx, layoutJS, &got); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got.Scenarios, wantScenarios) {
					t.Errorf("scenarios shown %v, want %v", got.Scenarios, wantScenarios)
				}
				if got.Bars != len(wantShares) || got.Drawn != got.Bars || got.Rects != 3*got.Bars {
					t.Errorf("bars %d (drawn %d, rects %d), want %d bars all drawn with 3 rects each", got.Bars, got.Drawn, got.Rects, len(wantShares))
				}
				for i, s := range got.ObsShare {
					if i < len(wantShares) && abs(s-wantShares[i]) > 0.01 {
						t.Errorf("bar %d shows share %.3f, want %.3f", i, s, wantShares[i])
					}
				}
				if got.InnerWidth != width || got.ScrollWidth > width {
					t.Errorf("viewport %d px, content %d px wide; want %d and no sideways scrolling", got.InnerWidth, got.ScrollWidth, width)
				}
				shot, err := p.screenshot(ctx, width)
				if err != nil {
					t.Fatal(err)
				}
				img, err := png.Decode(bytes.NewReader(shot))
				if err != nil {
					t.Fatalf("decode screenshot: %v", err)
				}
				if img.Bounds().Dx() != width || img.Bounds().Dy() < 900 {
					t.Errorf("screenshot %v, want %d px wide and a full page", img.Bounds(), width)
				}
				if err := os.WriteFile(filepath.Join(out, name+".png"), shot, 0o644); err != nil {
					t.Fatal(err)
				}
				if len(p.problems) > 0 {
					t.Errorf("console problems:\n%s", strings.Join(p.problems, "\n"))
				}
			})
		}
	}
	t.Logf("pages and screenshots in %s", out)
}

// TestBrowserSeesConsoleErrors proves the console check can fail.
func TestBrowserSeesConsoleErrors(t *testing.T) {
	b := startBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	file := filepath.Join(t.TempDir(), "broken.html")
	if err := os.WriteFile(file, []byte(`<!DOCTYPE html><title>x</title><script>console.error("boom-console"); null.x;</script>`), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := b.openPage(ctx, "file://"+file, 390, 600)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(p.problems, "\n")
	if !strings.Contains(all, "boom-console") || !strings.Contains(all, "uncaught") {
		t.Errorf("console problems %q, want the console.error and the uncaught TypeError", all)
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
