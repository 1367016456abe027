package steer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/gammaproof/gammaproof/bpf/steer/steertest"
)

// pinChildEnv makes the test binary a process that opens the pinned
// programs, attaches them, sets one steering entry and exits.
const pinChildEnv = "GAMMAPROOF_STEER_PIN_CHILD"

type pinChild struct {
	PinDir, Cgroup string
	Key            Key
	Target         Target
	Namespace      string
	NamespaceID    uint32
}

// maybeRunPinChild runs the child and exits when the process is one.
func maybeRunPinChild() {
	spec := os.Getenv(pinChildEnv)
	if spec == "" {
		return
	}
	if err := runPinChild(spec); err != nil {
		fmt.Fprintln(os.Stderr, "pin child:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

func runPinChild(spec string) error {
	var c pinChild
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		return err
	}
	p, err := Open(c.PinDir)
	if err != nil {
		return err
	}
	if _, err := p.Attach(c.Cgroup); err != nil {
		return err
	}
	return errors.Join(p.SetSteering(c.Key, c.Target), p.SetNamespaceID(c.Namespace, c.NamespaceID))
	// No Close: the process ends as a killed agent would.
}

// attachedConnect4 returns the ids of the connect4 programs attached to
// cgroup dir.
func attachedConnect4(t *testing.T, dir string) []ebpf.ProgramID {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := link.QueryPrograms(link.QueryOptions{Target: int(f.Fd()), Attach: ebpf.AttachCGroupInet4Connect})
	if err != nil {
		t.Fatal(err)
	}
	var ids []ebpf.ProgramID
	for _, p := range res.Programs {
		ids = append(ids, p.ID)
	}
	return ids
}

// TestPinnedSteeringOutlivesProcess: programs opened from a pin directory
// by a process that then exits keep steering; with no listener on the
// target, connect() is refused (fail closed), never sent to the VIP; a new
// process takes over the pinned maps and links in place; Uninstall detaches
// everything.
func TestPinnedSteeringOutlivesProcess(t *testing.T) {
	steertest.RequireRoot(t)
	dir := steertest.Cgroup(t, "pin", "pod")
	pod := filepath.Join(dir, "pod")
	pinDir := filepath.Join(steertest.BPFFS(t), "gammaproof", "steer")
	key := Key{CallerNamespace: AnyNamespace, VIP: vip, Port: 80}

	spec, err := json.Marshal(pinChild{PinDir: pinDir, Cgroup: dir, Key: key, Target: anyCaller, Namespace: "team-a", NamespaceID: 7})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), pinChildEnv+"="+string(spec))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pin child: %v: %s", err, out)
	}

	probe := func(listen ...string) steertest.Result {
		return steertest.Run(t, pod, steertest.Probe{PodIP: podIP, Listen: listen, Dial: "198.19.0.10:80"})
	}
	t.Run("steers after the process exited", func(t *testing.T) {
		res := probe(anyCaller.String())
		if res.Err != "" || res.AcceptedOn != anyCaller.String() || res.Peer != "198.19.0.10:80" {
			t.Fatalf("got %+v, want accepted on %s with peer 198.19.0.10:80", res, anyCaller)
		}
	})
	t.Run("no listener: connection refused", func(t *testing.T) {
		res := probe(specific.String())
		if !strings.Contains(res.Err, "connection refused") {
			t.Fatalf("got %+v, want connection refused (steered to the closed listener port)", res)
		}
	})

	p, err := Open(pinDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	t.Run("new process inherits the maps", func(t *testing.T) {
		if !p.Inherited() {
			t.Fatal("Inherited() = false, want true")
		}
		got, err := p.Steering()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[key] != anyCaller {
			t.Fatalf("steering = %v, want %v: %v", got, key, anyCaller)
		}
		ids, err := p.NamespaceIDs()
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 || ids["team-a"] != 7 {
			t.Fatalf("namespace ids = %v, want map[team-a:7]", ids)
		}
	})
	t.Run("attach replaces the program in the pinned link", func(t *testing.T) {
		before := attachedConnect4(t, dir)
		if len(before) != 1 {
			t.Fatalf("before: %d connect4 programs attached, want 1", len(before))
		}
		if _, err := p.Attach(dir); err != nil {
			t.Fatal(err)
		}
		info, err := p.objs.SteerConnect4.Info()
		if err != nil {
			t.Fatal(err)
		}
		want, _ := info.ID()
		after := attachedConnect4(t, dir)
		if len(after) != 1 || after[0] != want || after[0] == before[0] {
			t.Fatalf("after: attached %v, want only this process's program %d (was %v)", after, want, before)
		}
		if err := p.SetSteering(key, specific); err != nil {
			t.Fatal(err)
		}
		if res := probe(specific.String()); res.AcceptedOn != specific.String() || res.Peer != "198.19.0.10:80" {
			t.Fatalf("got %+v, want accepted on %s", res, specific)
		}
	})
	t.Run("no connect unsteered while agents take over", func(t *testing.T) {
		// A probe connects 3000 times in a row, each connect fails unless
		// steered, while processes' programs replace each other.
		stop, done := make(chan struct{}), make(chan error)
		go func() {
			var n int
			for {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				q, err := Open(pinDir)
				if err == nil {
					_, err = q.Attach(dir)
					err = errors.Join(err, q.Close())
				}
				if err != nil {
					done <- fmt.Errorf("take-over %d: %w", n, err)
					return
				}
				n++
			}
		}()
		res := steertest.Run(t, pod, steertest.Probe{PodIP: podIP, Listen: []string{specific.String()}, Dial: "198.19.0.10:80", Connect: 3000})
		close(stop)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		t.Logf("3000 connects steered, %.0f ns each", res.NsPerOp)
	})
	t.Run("closing the last process keeps steering", func(t *testing.T) {
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if res := probe(specific.String()); res.AcceptedOn != specific.String() {
			t.Fatalf("got %+v, want accepted on %s", res, specific)
		}
	})
	t.Run("uninstall detaches and unpins", func(t *testing.T) {
		if err := Uninstall(pinDir); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(pinDir); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("pin dir after uninstall: %v, want it gone", err)
		}
		// The kernel frees an unpinned link after an RCU grace period.
		var ids []ebpf.ProgramID
		for range 100 {
			if ids = attachedConnect4(t, dir); len(ids) == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if len(ids) != 0 {
			t.Fatalf("connect4 programs still attached 1s after uninstall: %v", ids)
		}
		if res := probe(specific.String()); !strings.Contains(res.Err, "network is unreachable") {
			t.Fatalf("got %+v, want network is unreachable (not steered)", res)
		}
		if err := Uninstall(pinDir); err != nil {
			t.Fatalf("second uninstall: %v", err)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	steertest.RequireRoot(t)
	tests := []struct {
		name, dir, want string
	}{
		{"no directory", "", "no pin directory"},
		{"not bpffs", t.TempDir(), "not on a bpf filesystem"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Open(tc.dir)
			if err == nil {
				p.Close()
				t.Fatalf("Open(%q): no error, want %q", tc.dir, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open(%q): %v, want %q", tc.dir, err, tc.want)
			}
		})
	}
}

func TestNamespaceIDs(t *testing.T) {
	steertest.RequireRoot(t)
	p := steertest.Load(t, Load)
	for _, bad := range []string{"", strings.Repeat("a", 64), "a\x00b"} {
		if err := p.SetNamespaceID(bad, 1); err == nil {
			t.Errorf("SetNamespaceID(%q): no error", bad)
		}
	}
	roundTrip(t, "namespace ids", map[string]uint32{"a": 1, strings.Repeat("b", 63): 2}, p.SetNamespaceID, p.NamespaceIDs)
}
