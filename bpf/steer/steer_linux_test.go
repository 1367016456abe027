package steer

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/gammaproof/gammaproof/bpf/steer/steertest"
)

func TestMain(m *testing.M) {
	steertest.MaybeRunChild()
	maybeRunPinChild()
	os.Exit(m.Run())
}

func mustID(t testing.TB, path string) uint64 {
	t.Helper()
	id, err := CgroupID(path)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

var (
	vip        = netip.MustParseAddr("198.19.0.10")
	podIP      = "198.18.0.5"
	specific   = Target{IP: netip.MustParseAddr("127.0.0.1"), Port: 15001}
	anyCaller  = Target{IP: netip.MustParseAddr("127.0.0.1"), Port: 15002}
	listenAddr = []string{"127.0.0.1:15001", "127.0.0.1:15002", podIP + ":8080"}
)

func TestSteering(t *testing.T) {
	steertest.RequireRoot(t)
	dir := steertest.Cgroup(t, "steer", "team-a", "team-a/ctr", "team-b")
	p := steertest.Load(t, Load)
	det, err := p.Attach(dir)
	if err != nil {
		t.Fatal(err)
	}

	const teamA, teamB = 7, 8
	for path, ns := range map[string]uint32{"team-a": teamA, "team-b": teamB} {
		if err := p.SetCgroupNamespace(mustID(t, filepath.Join(dir, path)), ns); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range map[Key]Target{
		{CallerNamespace: teamA, VIP: vip, Port: 80}:        specific,
		{CallerNamespace: AnyNamespace, VIP: vip, Port: 80}: anyCaller,
	} {
		if err := p.SetSteering(k, v); err != nil {
			t.Fatal(err)
		}
	}

	unreachable := "network is unreachable"
	tests := []struct {
		name     string
		cgroup   string // relative to dir; "-" = outside the test cgroup
		dial     string
		accepted string // listener expected to accept, "" = connect must fail
		peer     string
	}{
		{"caller namespace entry wins", "team-a", "198.19.0.10:80", "127.0.0.1:15001", "198.19.0.10:80"},
		{"child cgroup inherits namespace", "team-a/ctr", "198.19.0.10:80", "127.0.0.1:15001", "198.19.0.10:80"},
		{"other namespace gets any entry", "team-b", "198.19.0.10:80", "127.0.0.1:15002", "198.19.0.10:80"},
		{"unmapped cgroup gets any entry", "", "198.19.0.10:80", "127.0.0.1:15002", "198.19.0.10:80"},
		{"unsteered port untouched", "team-a", "198.19.0.10:81", "", ""},
		{"unsteered VIP untouched", "team-a", "198.19.0.11:80", "", ""},
		{"pod IP untouched", "team-a", podIP + ":8080", podIP + ":8080", podIP + ":8080"},
		{"outside the cgroup untouched", "-", "198.19.0.10:80", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cg := filepath.Join(dir, tc.cgroup)
			if tc.cgroup == "-" {
				cg = ""
			}
			res := steertest.Run(t, cg, steertest.Probe{PodIP: podIP, Listen: listenAddr, Dial: tc.dial})
			if tc.accepted == "" {
				if !strings.Contains(res.Err, unreachable) {
					t.Fatalf("connect %s: got %+v, want error %q (not steered)", tc.dial, res, unreachable)
				}
				return
			}
			if res.Err != "" || res.AcceptedOn != tc.accepted || res.Peer != tc.peer {
				t.Fatalf("connect %s: got %+v, want accepted on %s with peer %s", tc.dial, res, tc.accepted, tc.peer)
			}
		})
	}

	t.Run("deleted entry falls back to any", func(t *testing.T) {
		if err := p.DeleteSteering(Key{CallerNamespace: teamA, VIP: vip, Port: 80}); err != nil {
			t.Fatal(err)
		}
		res := steertest.Run(t, filepath.Join(dir, "team-a"), steertest.Probe{PodIP: podIP, Listen: listenAddr, Dial: "198.19.0.10:80"})
		if res.AcceptedOn != anyCaller.String() || res.Peer != "198.19.0.10:80" {
			t.Fatalf("got %+v, want accepted on %s", res, anyCaller)
		}
	})

	t.Run("detached programs steer nothing", func(t *testing.T) {
		if err := det.Close(); err != nil {
			t.Fatal(err)
		}
		res := steertest.Run(t, filepath.Join(dir, "team-b"), steertest.Probe{PodIP: podIP, Listen: listenAddr, Dial: "198.19.0.10:80"})
		if !strings.Contains(res.Err, unreachable) {
			t.Fatalf("got %+v, want %q", res, unreachable)
		}
	})
}

// roundTrip stores want in a map with set, reads the map back with get and
// stops the test unless it holds exactly want.
func roundTrip[K comparable, V any](t *testing.T, what string, want map[K]V, set func(K, V) error, get func() (map[K]V, error)) {
	t.Helper()
	for k, v := range want {
		if err := set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	got, err := get()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s round trip: got %v, want %v", what, got, want)
	}
}

func TestMaps(t *testing.T) {
	steertest.RequireRoot(t)
	p := steertest.Load(t, Load)
	want := map[Key]Target{
		{CallerNamespace: 3, VIP: vip, Port: 8080}:           {IP: netip.MustParseAddr("198.18.0.1"), Port: 15001},
		{CallerNamespace: AnyNamespace, VIP: vip, Port: 443}: {IP: netip.MustParseAddr("198.18.0.1"), Port: 31999},
	}
	roundTrip(t, "steering", want, p.SetSteering, p.Steering)
	roundTrip(t, "cgroup map", map[uint64]uint32{42: 9}, p.SetCgroupNamespace, p.CgroupNamespaces)

	bad := []struct {
		name string
		err  error
	}{
		{"IPv6 VIP", p.SetSteering(Key{VIP: netip.MustParseAddr("fd00::1"), Port: 80}, Target{IP: vip, Port: 1})},
		{"invalid target", p.SetSteering(Key{VIP: vip, Port: 80}, Target{})},
		{"namespace id 0", p.SetCgroupNamespace(1, AnyNamespace)},
	}
	for _, b := range bad {
		if b.err == nil {
			t.Errorf("%s: got no error", b.name)
		}
	}
}

// BenchmarkConnect measures a loopback connect() from a process in a pod-like
// cgroup: without the programs, with them but not steered (pod IP), and
// steered (VIP rewritten to the listener).
func BenchmarkConnect(b *testing.B) {
	steertest.RequireRoot(b)
	dir := steertest.Cgroup(b, "steer-bench", "pod")
	pod := filepath.Join(dir, "pod")
	const n = 20000
	listen := []string{"127.0.0.1:15001", podIP + ":8080"}
	report := func(b *testing.B, dial string) {
		res := steertest.Run(b, pod, steertest.Probe{PodIP: podIP, Listen: listen, Dial: dial, Connect: n})
		b.ReportMetric(res.NsPerOp, "ns/connect")
		b.ReportMetric(res.P99Ns, "p99-ns/connect")
	}
	b.Run("no-program", func(b *testing.B) {
		for b.Loop() {
			report(b, podIP+":8080")
		}
	})
	p := steertest.Load(b, Load)
	if _, err := p.Attach(dir); err != nil {
		b.Fatal(err)
	}
	if err := p.SetCgroupNamespace(mustID(b, pod), 1); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 { // A realistically sized map.
		vip := netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)})
		if err := p.SetSteering(Key{CallerNamespace: AnyNamespace, VIP: vip, Port: 80}, Target{IP: netip.MustParseAddr("127.0.0.1"), Port: 15001}); err != nil {
			b.Fatal(err)
		}
	}
	stats, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
	if err != nil {
		b.Fatalf("enable eBPF run time stats: %v", err)
	}
	defer stats.Close()
	// progReport adds the program's own mean run time per connect().
	progReport := func(b *testing.B, dial string) {
		before, err := p.objs.SteerConnect4.Stats()
		if err != nil {
			b.Fatal(err)
		}
		report(b, dial)
		after, err := p.objs.SteerConnect4.Stats()
		if err != nil {
			b.Fatal(err)
		}
		if runs := after.RunCount - before.RunCount; runs < n {
			b.Fatalf("connect4 ran %d times for %d connects", runs, n)
		} else {
			b.ReportMetric(float64((after.Runtime-before.Runtime).Nanoseconds())/float64(runs), "bpf-ns/connect")
		}
	}
	b.Run("program-pod-ip", func(b *testing.B) {
		for b.Loop() {
			progReport(b, podIP+":8080")
		}
	})
	b.Run("program-steered", func(b *testing.B) {
		for b.Loop() {
			progReport(b, "198.19.1.2:80")
		}
	})
}
