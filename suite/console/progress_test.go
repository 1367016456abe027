package console

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// clock is a manual clock for Progress.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestProgress(width int) (*Progress, *bytes.Buffer, *clock) {
	var b bytes.Buffer
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := NewProgress(&b, width)
	p.now = c.now
	p.tick = time.Hour // no ticks from the loop; the test calls Tick
	return p, &b, c
}

func TestProgressPlain(t *testing.T) {
	p, b, c := newTestProgress(0)
	p.Begin(12)
	p.Started("mesh-weight")
	c.add(4 * time.Second)
	p.Started("grants-spec")
	p.Requests("mesh-weight", 300)
	p.Requests("mesh-weight", 200)
	p.Tick() // neither has run for a tick yet
	for i := range 30 {
		p.Started(fmt.Sprintf("many-%02d", i))
		p.Ended(report.Scenario{Name: fmt.Sprintf("many-%02d", i), Verdict: verdict.Pass})
	}
	b.Reset()
	c.add(time.Hour)
	p.Tick()
	p.Ended(report.Scenario{Name: "grants-spec", Verdict: verdict.Skip, Error: "needs strict\nsecond line"})
	p.Ended(report.Scenario{Name: "mesh-weight", Verdict: verdict.Pass, DurationSeconds: 3604.5,
		Checks: []report.Check{{Requests: 400}, {Requests: 149}}})
	p.End()

	got := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	want := []string{
		"[30/12 3604.0s] ...   running 2: mesh-weight 3604s 500 req, grants-spec 3600s 0 req",
		"[31/12 3604.0s] SKIP          grants-spec                          requests=0         0.0s  needs strict",
		"[32/12 3604.0s] PASS          mesh-weight                          requests=549    3604.5s",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), b.String())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
	if strings.Contains(b.String(), "\r") || strings.Contains(b.String(), "\x1b") {
		t.Error("plain output has terminal control characters")
	}
}

func TestProgressTerminal(t *testing.T) {
	p, b, c := newTestProgress(60)
	p.Begin(2)
	p.Started("mesh-weight")
	p.Requests("mesh-weight", 1234)
	c.add(2 * time.Second)
	p.Tick()
	if !strings.HasSuffix(b.String(), "running 1: mesh-weight (1234 req)") {
		t.Errorf("status line not drawn last:\n%q", b.String())
	}
	p.Started("a-scenario-with-a-long-name-that-does-not-fit-in-the-line")
	// The line is printed over the cleared status, which is drawn again, cut to the width.
	status := b.String()[strings.LastIndex(b.String(), "\n")+1:]
	if n := len([]rune(status)); n > 60 {
		t.Errorf("status line is %d runes wide on a 60-column terminal: %q", n, status)
	}
	if !strings.Contains(b.String(), "\r\x1b[K[0/2    2.0s] start a-scenario") {
		t.Errorf("start line not printed over a cleared status line:\n%q", b.String())
	}
	p.End()
	if !strings.HasSuffix(b.String(), "\r\x1b[K") {
		t.Errorf("End leaves the status line:\n%q", b.String())
	}
}

func TestProgressPlainLongLine(t *testing.T) {
	p, b, c := newTestProgress(0)
	p.Begin(40)
	p.tick = 10 * time.Second // only Tick reads it after Begin
	for i := range 40 {
		p.Started(fmt.Sprintf("scenario-with-a-name-%02d", i))
	}
	b.Reset()
	c.add(11 * time.Second)
	p.Tick()
	line := strings.TrimRight(b.String(), "\n")
	if strings.Count(b.String(), "\n") != 1 || len(line) > maxPlainLine+len(", +40 more") || !strings.Contains(line, "running 40: scenario-with-a-name-00 11s 0 req,") || !strings.HasSuffix(line, " more") {
		t.Errorf("periodic line for 40 scenarios:\n%s", b.String())
	}
}
