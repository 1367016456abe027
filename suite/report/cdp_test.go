package report

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/gammaproof/gammaproof/internal/syncbuf"
)

// chromiumPath is Debian's chromium; GAMMAPROOF_CHROMIUM overrides it.
func chromiumPath() string {
	if p := os.Getenv("GAMMAPROOF_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// browser is headless Chromium driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: we write NUL-terminated JSON to its fd 3 and
// read from its fd 4). Nothing listens on a port.
type browser struct {
	cmd     *exec.Cmd
	in      *os.File // our end of its fd 3
	out     *os.File // our end of its fd 4
	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpMessage
	events  chan cdpMessage
	done    chan struct{}
	readErr error
	stderr  syncbuf.Buffer // chromium's stderr, for error messages
}

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("find chromium: %v (install Debian's chromium: apt-get install chromium, or set GAMMAPROOF_CHROMIUM)", err)
	}
	toChrome, in, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	out, fromChrome, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--hide-scrollbars", "--mute-audio",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{toChrome, fromChrome}
	b := &browser{cmd: cmd, in: in, out: out, waiting: map[int]chan cdpMessage{},
		events: make(chan cdpMessage, 1024), done: make(chan struct{})}
	cmd.Stderr = &b.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if err := errors.Join(toChrome.Close(), fromChrome.Close()); err != nil {
		t.Fatal(err)
	}
	go b.read()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := b.call(ctx, "", "Browser.close", nil); err != nil {
			t.Logf("close chromium: %v", err)
			if err := cmd.Process.Kill(); err != nil {
				t.Logf("kill chromium: %v", err)
			}
		}
		if err := cmd.Wait(); err != nil {
			t.Logf("chromium exited: %v", err)
		}
		if err := errors.Join(in.Close(), out.Close()); err != nil {
			t.Logf("close pipes: %v", err)
		}
	})
	return b
}

func (b *browser) read() {
	defer close(b.done)
	r := bufio.NewReaderSize(b.out, 1<<20)
	for {
		raw, err := r.ReadBytes(0)
		if err != nil {
			b.readErr = fmt.Errorf("read devtools pipe: %w", err)
			return
		}
		var m cdpMessage
		if err := json.Unmarshal(raw[:len(raw)-1], &m); err != nil {
			b.readErr = fmt.Errorf("decode devtools message: %w", err)
			return
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.waiting[m.ID]
			delete(b.waiting, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		select {
		case b.events <- m:
		default: // nobody reads old events; drop rather than block
		}
	}
}

// call sends a command (to a session if sessionID is set) and returns its
// result.
func (b *browser) call(ctx context.Context, sessionID, method string, params any) (json.RawMessage, error) {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if sessionID != "" {
		msg["sessionId"] = sessionID
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", method, err)
	}
	if _, err := b.in.Write(append(data, 0)); err != nil {
		return nil, fmt.Errorf("send %s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return nil, fmt.Errorf("%s: devtools error %d: %s", method, m.Error.Code, m.Error.Message)
		}
		return m.Result, nil
	case <-b.done:
		return nil, fmt.Errorf("%s: chromium went away: %v", method, b.readErr)
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// page is one tab with its collected console problems.
type page struct {
	b        *browser
	session  string
	problems []string
}

// openPage opens url in a new tab emulating a screen width px wide, waits
// for the load event, and records console errors, warnings and uncaught
// exceptions.
func (b *browser) openPage(ctx context.Context, url string, width, height int) (*page, error) {
	res, err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"})
	if err != nil {
		return nil, err
	}
	var target struct{ TargetID string }
	if err := json.Unmarshal(res, &target); err != nil {
		return nil, fmt.Errorf("decode target: %w", err)
	}
	res, err = b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true})
	if err != nil {
		return nil, err
	}
	var att struct{ SessionID string }
	if err := json.Unmarshal(res, &att); err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	p := &page{b: b, session: att.SessionID}
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		if _, err := b.call(ctx, p.session, m, nil); err != nil {
			return nil, err
		}
	}
	if err := p.resize(ctx, width, height); err != nil {
		return nil, err
	}
	if _, err := b.call(ctx, p.session, "Page.navigate", map[string]any{"url": url}); err != nil {
		return nil, err
	}
	for {
		select {
		case ev := <-b.events:
			p.note(ev)
			if ev.SessionID == p.session && ev.Method == "Page.loadEventFired" {
				// Let queued console events arrive.
				p.drain(200 * time.Millisecond)
				return p, nil
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for load of %s: %w", url, ctx.Err())
		}
	}
}

func (p *page) resize(ctx context.Context, width, height int) error {
	_, err := p.b.call(ctx, p.session, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600,
	})
	return err
}

func (p *page) drain(d time.Duration) {
	deadline := time.After(d)
	for {
		select {
		case ev := <-p.b.events:
			p.note(ev)
		case <-deadline:
			return
		}
	}
}

func (p *page) note(ev cdpMessage) {
	if ev.SessionID != p.session {
		return
	}
	switch ev.Method {
	case "Runtime.exceptionThrown":
		var e struct {
			ExceptionDetails struct {
				Text      string
				Exception struct{ Description string }
			}
		}
		if err := json.Unmarshal(ev.Params, &e); err != nil {
			p.problems = append(p.problems, "undecodable exception: "+string(ev.Params))
			return
		}
		p.problems = append(p.problems, "uncaught: "+e.ExceptionDetails.Text+" "+e.ExceptionDetails.Exception.Description)
	case "Runtime.consoleAPICalled":
		var e struct {
			Type string
			Args []struct{ Value any }
		}
		if err := json.Unmarshal(ev.Params, &e); err != nil {
			p.problems = append(p.problems, "undecodable console call: "+string(ev.Params))
			return
		}
		if e.Type == "error" || e.Type == "warning" || e.Type == "assert" {
			p.problems = append(p.problems, fmt.Sprintf("console.%s: %v", e.Type, e.Args))
		}
	case "Log.entryAdded":
		var e struct {
			Entry struct{ Level, Text, URL string }
		}
		if err := json.Unmarshal(ev.Params, &e); err != nil {
			p.problems = append(p.problems, "undecodable log entry: "+string(ev.Params))
			return
		}
		if e.Entry.Level == "error" || e.Entry.Level == "warning" {
			p.problems = append(p.problems, fmt.Sprintf("log %s: %s %s", e.Entry.Level, e.Entry.Text, e.Entry.URL))
		}
	}
}

// eval evaluates a JavaScript expression and decodes its JSON value into v.
func (p *page) eval(ctx context.Context, expr string, v any) error {
	res, err := p.b.call(ctx, p.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	if err != nil {
		return err
	}
	var r struct {
		Result           struct{ Value json.RawMessage }
		ExceptionDetails *struct{ Text string }
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return fmt.Errorf("decode evaluation: %w", err)
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("evaluate: %s", r.ExceptionDetails.Text)
	}
	return json.Unmarshal(r.Result.Value, v)
}

// screenshot captures the whole page as PNG at the emulated width.
func (p *page) screenshot(ctx context.Context, width int) ([]byte, error) {
	var height int
	if err := p.eval(ctx, "document.documentElement.scrollHeight", &height); err != nil {
		return nil, err
	}
	if err := p.resize(ctx, width, height); err != nil {
		return nil, err
	}
	res, err := p.b.call(ctx, p.session, "Page.captureScreenshot", map[string]any{"format": "png"})
	if err != nil {
		return nil, err
	}
	var r struct{ Data string }
	if err := json.Unmarshal(res, &r); err != nil {
		return nil, fmt.Errorf("decode screenshot: %w", err)
	}
	return base64.StdEncoding.DecodeString(r.Data)
}
