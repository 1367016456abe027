package cluster

import (
	"bytes"
	"context"

	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// proc is a component process started by this process.
type proc struct {
	name string
	pid  int
	log  string
	done chan struct{} // closed when the process exited
	err  error         // exit error, valid once done is closed
}

// startDetached starts path in its own session (setsid), so it outlives the
// process that started it, with stdout and stderr appended to its log file
// and its pid written to its pid file.
func startDetached(l Layout, name, path string, args []string) (*proc, error) {
	logPath := l.Log(name)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer devnull.Close()
	cmd := exec.Command(path, args...)
	cmd.Stdin = devnull
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Dir = l.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, pid: cmd.Process.Pid, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := os.WriteFile(l.PIDFile(name), []byte(strconv.Itoa(p.pid)+"\n"), 0o644); err != nil {
		return p, fmt.Errorf("write %s pid file: %w", name, err)
	}
	return p, nil
}

// exitError describes why p exited, with the end of its log.
func (p *proc) exitError() error {
	return fmt.Errorf("%s exited (%v); see %s:\n%s", p.name, p.err, p.log, tail(p.log, 8))
}

// tail returns the last n lines of the file at path, indented.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "  (no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// alive reports whether pid is a live process (zombies count as dead). A
// zombie that is our child is reaped.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	if b[i+2] == 'Z' || b[i+2] == 'X' {
		// A leader shows Z while its other threads still exit and hold its
		// sockets: only a zombie with no threads left is dead.
		if tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid)); err == nil && len(tasks) > 1 {
			return true
		}
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil) // reap our own zombie; ECHILD otherwise
		return false
	}
	return true
}

// cmdline returns the arguments of pid, or nil if it is gone.
func cmdline(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// isComponent reports whether argv belongs to a component of the cluster
// whose state lives in dir: argv[0] is named after a component and some
// argument names a path in dir.
func isComponent(argv []string, dir string) (string, bool) {
	if len(argv) == 0 {
		return "", false
	}
	name := filepath.Base(argv[0])
	if !slices.Contains(Components, name) {
		return "", false
	}
	dir = filepath.Clean(dir)
	for _, a := range argv[1:] {
		if _, v, ok := strings.Cut(a, "="); ok {
			a = v
		}
		if a == dir || strings.HasPrefix(a, dir+"/") {
			return name, true
		}
	}
	return "", false
}

// componentPID returns the pid in component's pid file if that process is
// alive and is that component; 0 otherwise.
func componentPID(l Layout, component string) int {
	pid := recordedPID(l, component)
	if pid <= 0 || !alive(pid) {
		return 0
	}
	if name, ok := isComponent(cmdline(pid), l.Dir); !ok || name != component {
		return 0
	}
	return pid
}

// recordedPID returns the pid in component's pid file, 0 if there is none.
func recordedPID(l Layout, component string) int {
	b, err := os.ReadFile(l.PIDFile(component))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// waitExiting waits, at most grace, for recorded component processes that
// are exiting. A process killed a moment ago has already lost its command
// line, so findProcesses cannot tell it is ours, but it may still hold its
// sockets and ports.
func waitExiting(ctx context.Context, l Layout, grace time.Duration) {
	deadline := time.Now().Add(grace)
	for _, name := range Components {
		pid := recordedPID(l, name)
		for pid > 0 && alive(pid) && cmdline(pid) == nil && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(pollEvery):
			}
		}
	}
}

// findProcesses returns every live component process of the cluster in l,
// whether or not its pid file survived, keyed by pid.
func findProcesses(l Layout) (map[int]string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	self := os.Getpid()
	out := map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if name, ok := isComponent(cmdline(pid), l.Dir); ok && alive(pid) {
			out[pid] = name
		}
	}
	return out, nil
}

// stopProcesses sends SIGTERM to each process and its process group, waits
// up to grace for them to exit, then SIGKILLs what is left and waits again.
func stopProcesses(ctx context.Context, pids []int, grace time.Duration) error {
	signal := func(sig unix.Signal) {
		for _, pid := range pids {
			if pgid, err := unix.Getpgid(pid); err == nil && pgid == pid {
				_ = unix.Kill(-pid, sig) // best effort: the group may be gone already
			}
			_ = unix.Kill(pid, sig) // ESRCH when it already exited
		}
	}
	wait := func(d time.Duration) []int {
		deadline := time.Now().Add(d)
		for {
			var left []int
			for _, pid := range pids {
				if alive(pid) {
					left = append(left, pid)
				}
			}
			if len(left) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
				return left
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	signal(unix.SIGTERM)
	if left := wait(grace); len(left) > 0 {
		pids = left
		signal(unix.SIGKILL)
		if left := wait(5 * time.Second); len(left) > 0 {
			return fmt.Errorf("stop processes: %v still running after SIGKILL", left)
		}
	}
	return ctx.Err()
}
