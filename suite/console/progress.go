package console

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gammaproof/gammaproof/suite/report"
)

// DefaultTick is how often [Progress] reports scenarios still running.
const DefaultTick = 10 * time.Second

// Progress prints a run's scenarios as they start and end, with the
// running count and the elapsed time, and every tick the scenarios still
// running with their requests so far. On a terminal it keeps a status line
// at the bottom instead of the periodic lines. Its methods are safe for
// concurrent use.
type Progress struct {
	w        io.Writer
	terminal bool
	width    int
	tick     time.Duration
	now      func() time.Time

	mu       sync.Mutex
	total    int
	start    time.Time
	done     int
	running  map[string]*running
	status   bool // a status line is on screen (terminal only)
	stop     chan struct{}
	stopped  chan struct{}
	requests map[string]int // by scenario, including ended ones
}

type running struct {
	start time.Time
}

// NewProgress returns a Progress writing to w. terminalWidth is the width
// of the terminal w is, or 0 when w is not a terminal: then there is no
// status line, and plain lines only.
func NewProgress(w io.Writer, terminalWidth int) *Progress {
	return &Progress{w: w, terminal: terminalWidth > 0, width: terminalWidth, tick: DefaultTick, now: time.Now,
		running: map[string]*running{}, requests: map[string]int{}}
}

// Begin starts the clock for total scenarios and the periodic report;
// End stops it.
func (p *Progress) Begin(total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.start = total, p.now()
	if p.stop != nil {
		return
	}
	p.stop, p.stopped = make(chan struct{}), make(chan struct{})
	interval := p.tick
	if p.terminal {
		interval = time.Second
	}
	go p.loop(interval, p.stop, p.stopped)
}

// End stops the periodic report and clears the status line.
func (p *Progress) End() {
	p.mu.Lock()
	stop, stopped := p.stop, p.stopped
	p.stop = nil
	p.clearStatus()
	p.mu.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
}

func (p *Progress) loop(interval time.Duration, stop, stopped chan struct{}) {
	defer close(stopped)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.Tick()
		}
	}
}

// Started records that scenario name started.
func (p *Progress) Started(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[name] = &running{start: p.now()}
	p.printf("%s start %s", p.prefix(), name)
}

// Ended records the outcome of a scenario.
func (p *Progress) Ended(s report.Scenario) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.running, s.Name)
	p.done++
	line := fmt.Sprintf("%s %-13s %-36s requests=%-6d %6.1fs", p.prefix(), s.Verdict, s.Name, Requests(s), s.DurationSeconds)
	if s.Error != "" {
		line += "  " + firstLine(s.Error)
	}
	p.printf("%s", line)
}

// Requests adds n requests to scenario name's count.
func (p *Progress) Requests(name string, n int) {
	p.mu.Lock()
	p.requests[name] += n
	p.mu.Unlock()
}

// Tick reports the scenarios still running: on a terminal it redraws the
// status line, else, once one has run for a tick, it prints one line with
// every running scenario, longest-running first, its time and requests so
// far.
func (p *Progress) Tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := make([]string, 0, len(p.running))
	for n := range p.running {
		names = append(names, n)
	}
	slices.Sort(names)
	if p.terminal {
		p.drawStatus(names)
		return
	}
	if len(names) == 0 {
		return
	}
	now := p.now()
	slices.SortStableFunc(names, func(a, b string) int { return p.running[a].start.Compare(p.running[b].start) })
	if now.Sub(p.running[names[0]].start) < p.tick {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s ...   running %d:", p.prefix(), len(names))
	for i, n := range names {
		item := fmt.Sprintf(" %s %.0fs %d req", n, now.Sub(p.running[n].start).Seconds(), p.requests[n])
		if i > 0 {
			item = "," + item
		}
		if b.Len()+len(item) > maxPlainLine {
			fmt.Fprintf(&b, ", +%d more", len(names)-i)
			break
		}
		b.WriteString(item)
	}
	p.printf("%s", b.String())
}

// maxPlainLine bounds a periodic line when not on a terminal.
const maxPlainLine = 200

// prefix is "[done/total elapsed]".
func (p *Progress) prefix() string {
	width := len(fmt.Sprint(p.total))
	return fmt.Sprintf("[%*d/%d %6.1fs]", width, p.done, p.total, p.now().Sub(p.start).Seconds())
}

// printf prints one line, above the status line on a terminal.
func (p *Progress) printf(format string, args ...any) {
	p.clearStatus()
	fmt.Fprintf(p.w, format+"\n", args...)
	if p.terminal && len(p.running) > 0 {
		names := make([]string, 0, len(p.running))
		for n := range p.running {
			names = append(names, n)
		}
		slices.Sort(names)
		p.drawStatus(names)
	}
}

func (p *Progress) drawStatus(names []string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s running %d:", p.prefix(), len(names))
	for _, n := range names {
		fmt.Fprintf(&b, " %s (%d req)", n, p.requests[n])
	}
	line := b.String()
	if r := []rune(line); len(r) > p.width-1 {
		line = string(r[:max(p.width-4, 0)]) + "..."
	}
	p.clearStatus()
	fmt.Fprint(p.w, line)
	p.status = true
}

// clearStatus erases the status line: carriage return, erase to the end.
func (p *Progress) clearStatus() {
	if p.status {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.status = false
	}
}

// Requests returns the requests a scenario's checks sent.
func Requests(s report.Scenario) int {
	n := 0
	for _, c := range s.Checks {
		n += c.Requests
	}
	return n
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}
