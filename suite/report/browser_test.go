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
	ScrollWidth int `json:"scrollWidth"`
	InnerWidth  int `json:"innerWidth"`
	// Wrapped are short tokens (≤ 12 characters) the browser broke over
	// two lines.
	Wrapped []string `json:"wrapped"`

	Scenarios []string `json:"scenarios"`
	// ProfileTags and OwnTags name the scenarios carrying a profile tag
	// and the gammaproof's-own label.
	ProfileTags []string `json:"profileTags"`
	OwnTags     []string `json:"ownTags"`
	OwnNote     string   `json:"ownNote"`

	// Outputs are the exec outputs shown (text and rendered height).
	Outputs []shown `json:"outputs"`
	// Tolerated are the tolerated-error lines shown.
	Tolerated []shown `json:"tolerated"`
	// Conds are the route conditions shown with their colours.
	Conds []cond `json:"conds"`

	// OC are the operating-characteristic charts: size and polylines.
	OC       []chart   `json:"oc"`
	Bars     int       `json:"bars"`
	Drawn    int       `json:"drawn"`
	Rects    int       `json:"rects"`
	ObsShare []float64 `json:"obsShare"`
}

type shown struct {
	Text   string  `json:"text"`
	Height float64 `json:"height"`
}

type cond struct {
	Text       string `json:"text"`
	Expected   bool   `json:"expected"`
	Color      string `json:"color"`
	Background string `json:"background"`
}

type chart struct {
	Width     float64 `json:"width"`
	Height    float64 `json:"height"`
	Polylines int     `json:"polylines"`
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
    outputs: [...document.querySelectorAll('[data-output]')].map(e => ({text: e.textContent, height: e.getBoundingClientRect().height})),
    tolerated: [...document.querySelectorAll('[data-tolerated]')].map(e => ({text: e.textContent, height: e.getBoundingClientRect().height})),
    conds: [...document.querySelectorAll('.cond')].map(e => {
      const st = getComputedStyle(e);
      return {text: e.textContent, expected: e.hasAttribute('data-expected'), color: st.color, background: st.backgroundColor};
    }),
    wrapped: (() => {
      // Open every <details> (the sequential tests' tables) so their
      // labels are laid out and measured too.
      document.querySelectorAll('details').forEach(d => { d.open = true; });
      const out = [];
      const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {acceptNode: n =>
        n.parentElement.closest('svg, title, style') ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
      for (let n; (n = walk.nextNode());) {
        // A token is a run without spaces; a hyphen before a letter
        // ("team-c") is an ordinary place to break prose, so it ends one.
        const re = /(?:[^\s-]|-(?![A-Za-z]))+-?/g;
        for (let m; (m = re.exec(n.data));) {
          if (m[0].length > 12) continue;
          const r = document.createRange();
          r.setStart(n, m.index);
          r.setEnd(n, m.index + m[0].length);
          const tops = new Set([...r.getClientRects()].filter(c => c.width > 0).map(c => Math.round(c.top)));
          if (tops.size > 1) out.push(m[0] + ' in ' + n.parentElement.tagName.toLowerCase() + '.' + n.parentElement.className);
        }
      }
      return out;
    })(),
    oc: [...document.querySelectorAll('#oc svg')].map(s => ({width: s.getBoundingClientRect().width, height: s.getBoundingClientRect().height, polylines: s.querySelectorAll('polyline').length})),
    profileTags: [...document.querySelectorAll('article.scenario')].filter(a => a.querySelector('header [data-profile]')).map(a => a.dataset.scenario),
    ownTags: [...document.querySelectorAll('article.scenario')].filter(a => a.querySelector('header [data-own]')).map(a => a.dataset.scenario),
    ownNote: (document.getElementById('own-note') || {}).textContent || '',
  };
})()`

// TestBrowser renders the passing, the failing and the tolerated-errors
// fixture in headless Chromium at phone (390 px) and laptop (1280 px)
// widths, checks every scenario is there, every bar chart is drawn at a
// usable size with the observed share, nothing overflows sideways, the
// console stays clean, and what checkShown asserts; and it takes
// full-page screenshots. Set GAMMAPROOF_SCREENSHOTS=dir to
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
		r := fx.build(t)
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
				checkShown(t, r, got, width)
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

// checkShown asserts what the report must show and how: the exec output it
// judged in full, tolerated errors named with their reason, an expected
// False condition neutral and an unexpected one red, no short label broken
// mid-token, the operating-characteristic charts drawn, and profile tags
// only on scenarios that count toward the profile.
func checkShown(t *testing.T, r *Results, got layout, width int) {
	t.Helper()
	var wantOutputs, wantTolerated []string
	var wantProfile, wantOwn []string
	for _, s := range r.Scenarios {
		if s.Counted() {
			wantProfile = append(wantProfile, s.Name)
		} else {
			wantOwn = append(wantOwn, s.Name)
		}
		for _, c := range s.Checks {
			if strings.Contains(c.Observed, "\n") {
				wantOutputs = append(wantOutputs, c.Observed)
			}
			if tt := ToleratedText(c); tt != "" {
				wantTolerated = append(wantTolerated, tt)
			}
		}
	}
	if len(got.Outputs) != len(wantOutputs) {
		t.Errorf("%d exec outputs shown, want %d", len(got.Outputs), len(wantOutputs))
	}
	for i, o := range got.Outputs {
		if i < len(wantOutputs) && o.Text != wantOutputs[i] {
			t.Errorf("exec output shown %q, want the whole output %q", o.Text, wantOutputs[i])
		}
		if lines := strings.Count(o.Text, "Response from v"); lines < 20 || o.Height < 20 {
			t.Errorf("exec output shows %d response lines at %.0f px high, want all 20 visible", lines, o.Height)
		}
	}
	if len(got.Tolerated) != len(wantTolerated) {
		t.Errorf("tolerated errors shown %d times, want %d", len(got.Tolerated), len(wantTolerated))
	}
	for i, tol := range got.Tolerated {
		if i < len(wantTolerated) && (!strings.Contains(tol.Text, wantTolerated[i]) || tol.Height == 0) {
			t.Errorf("tolerated shown %q (%.0f px high), want %q visible", tol.Text, tol.Height, wantTolerated[i])
		}
		if !strings.Contains(tol.Text, "1533 connection refused") || !strings.Contains(tol.Text, "busybox nc backend") {
			t.Errorf("tolerated shown %q, want the count and the scenario's reason", tol.Text)
		}
	}
	falses := 0
	for _, c := range got.Conds {
		if !strings.Contains(c.Text, "=False") {
			continue
		}
		falses++
		red := c.Color == "rgb(207, 34, 46)" || c.Background == "rgb(255, 235, 233)"
		if c.Expected == red || c.Expected != strings.Contains(c.Text, "expected") {
			t.Errorf("condition %q (expected %v) shown in %s on %s: want an expected False neutral and labelled, any other False red", c.Text, c.Expected, c.Color, c.Background)
		}
	}
	if falses == 0 {
		t.Error("no False condition shown; the fixture has one")
	}
	if len(got.Wrapped) > 0 {
		t.Errorf("short labels broken mid-token at %d px: %v", width, got.Wrapped)
	}
	if len(got.OC) != 2 {
		t.Errorf("%d operating-characteristic charts, want 2 (90/10 and 70/30)", len(got.OC))
	}
	for _, c := range got.OC {
		if c.Width < 300 || c.Width > 640.5 || c.Height < 0.5*c.Width || c.Polylines != 8 {
			t.Errorf("operating-characteristic chart %+v, want 300 to 640 px wide, in proportion, 8 lines", c)
		}
	}
	if !slices.Equal(got.ProfileTags, wantProfile) || !slices.Equal(got.OwnTags, wantOwn) {
		t.Errorf("profile tags on %v and own labels on %v; want profile tags only on the counted %v, own on %v", got.ProfileTags, got.OwnTags, wantProfile, wantOwn)
	}
	if got.OwnNote != OwnSentence {
		t.Errorf("own note %q, want %q", got.OwnNote, OwnSentence)
	}
}

// TestBrowserSeesWraps proves the mid-token check can fail: labels in a box
// too narrow for them, allowed to break anywhere, are reported; the same
// labels with room, or a hyphen before a letter, are not.
func TestBrowserSeesWraps(t *testing.T) {
	ctx, p := openHTML(t, `<!DOCTYPE html><title>x</title><body style="font: 15px sans-serif">
<div style="width: 14px; overflow-wrap: anywhere">200 1e-06</div>
<div style="width: 300px">200 500 1e-06</div>
<div style="width: 40px">team-c</div>
<details><summary>closed</summary><div style="width: 10px; overflow-wrap: anywhere">503</div></details>`)
	var got layout
	if err := p.eval(ctx, layoutJS, &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"200 in div.", "1e-06 in div.", "503 in div."}
	if !slices.Equal(got.Wrapped, want) {
		t.Errorf("wrapped %q, want %q", got.Wrapped, want)
	}
}

// TestBrowserSeesConsoleErrors proves the console check can fail.
func TestBrowserSeesConsoleErrors(t *testing.T) {
	_, p := openHTML(t, `<!DOCTYPE html><title>x</title><script>console.error("boom-console"); null.x;</script>`)
	all := strings.Join(p.problems, "\n")
	if !strings.Contains(all, "boom-console") || !strings.Contains(all, "uncaught") {
		t.Errorf("console problems %q, want the console.error and the uncaught TypeError", all)
	}
}

// openHTML starts a browser and opens the page html, written to a file, on a
// 390 × 600 screen; the context bounds what the test does with the page.
func openHTML(t *testing.T, html string) (context.Context, *page) {
	t.Helper()
	b := startBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	file := filepath.Join(t.TempDir(), "page.html")
	if err := os.WriteFile(file, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := b.openPage(ctx, "file://"+file, 390, 600)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, p
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
