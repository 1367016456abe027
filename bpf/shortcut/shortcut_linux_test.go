package shortcut

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/gammaproof/gammaproof/bpf/steer/steertest"
)

func TestMain(m *testing.M) {
	steertest.MaybeRunChild()
	os.Exit(m.Run())
}

// TestShortcut exchanges data with an echo server through the loopback of
// a fresh network namespace and counts lo's packets: a shortcut connection
// sends only its handshake and teardown as packets, its data goes socket to
// socket.
func TestShortcut(t *testing.T) {
	steertest.RequireRoot(t)
	dir := steertest.Cgroup(t, "shortcut", "pod")
	p, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := p.Attach(dir); err != nil {
		t.Fatal(err)
	}
	if err := p.SetProxies(netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatal(err)
	}

	const rounds = 200
	// A shortcut connection's packets: handshake, teardown and their ACKs.
	const maxShortcut = 20
	small := steertest.Echo{Rounds: rounds, Size: 16 << 10}
	tests := []struct {
		name     string
		cgroup   string // relative to dir; "-" = outside the test cgroup
		podIP    string
		listen   string
		dial     string
		echo     steertest.Echo
		shortcut bool
	}{
		{"proxy listener", "pod", "", "127.0.0.1:15001", "127.0.0.1:15001", small, true},
		{"dual-stack proxy listener", "pod", "", "0.0.0.0:15001", "127.0.0.1:15001", small, true},
		{"messages larger than the socket buffers", "pod", "", "127.0.0.1:15001", "127.0.0.1:15001", steertest.Echo{Rounds: 4, Size: 8 << 20}, true},
		{"no end on a proxy address", "pod", "198.18.0.5", "198.18.0.5:8080", "198.18.0.5:8080", small, false},
		{"outside the cgroup", "-", "", "127.0.0.1:15001", "127.0.0.1:15001", small, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cg := filepath.Join(dir, tc.cgroup)
			if tc.cgroup == "-" {
				cg = ""
			}
			res := steertest.Run(t, cg, steertest.Probe{PodIP: tc.podIP, Listen: []string{tc.listen}, Dial: tc.dial, Echo: tc.echo})
			if want := int64(tc.echo.Rounds * tc.echo.Size); res.Err != "" || res.Echoed != want {
				t.Fatalf("got %+v, want %d bytes echoed", res, want)
			}
			switch {
			case tc.shortcut && res.Packets > maxShortcut:
				t.Errorf("lo sent %d packets for %d rounds: want at most %d (the data shortcut)", res.Packets, tc.echo.Rounds, maxShortcut)
			case !tc.shortcut && res.Packets < uint64(tc.echo.Rounds):
				t.Errorf("lo sent %d packets for %d rounds: want at least one a round (no shortcut)", res.Packets, tc.echo.Rounds)
			}
			t.Logf("%d bytes echoed, lo sent %d packets", res.Echoed, res.Packets)
		})
	}

	t.Run("sockets leave the map when closed", func(t *testing.T) {
		if n, err := p.Sockets(); err != nil || n != 0 {
			t.Fatalf("sockhash holds %d sockets (%v) after every probe exited, want 0", n, err)
		}
	})
	t.Run("proxy addresses replaced", func(t *testing.T) {
		if err := p.SetProxies(netip.MustParseAddr("198.18.0.1")); err != nil {
			t.Fatal(err)
		}
		res := steertest.Run(t, filepath.Join(dir, "pod"), steertest.Probe{Listen: []string{"127.0.0.1:15001"}, Dial: "127.0.0.1:15001", Echo: small})
		if res.Echoed != int64(rounds*small.Size) || res.Packets < rounds {
			t.Fatalf("got %+v: want every byte echoed over at least %d packets (127.0.0.1 is no longer a proxy address)", res, rounds)
		}
	})
	t.Run("bad address", func(t *testing.T) {
		if err := p.SetProxies(netip.MustParseAddr("fd00::1")); err == nil {
			t.Fatal("SetProxies(fd00::1): got no error, want one (IPv4 only)")
		}
	})
}
