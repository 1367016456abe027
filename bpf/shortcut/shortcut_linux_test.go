package shortcut

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/gammaproof/gammaproof/bpf/steer/steertest"
)

func TestMain(m *testing.M) { steertest.Main(m) }

// TestShortcut exchanges data with an echo server through the loopback of
// a fresh network namespace and counts lo's packets: a shortcut connection
// sends only its handshake and teardown as packets, its data goes socket to
// socket.
func TestShortcut(t *testing.T) {
	steertest.RequireRoot(t)
	dir := steertest.Cgroup(t, "shortcut", "pod")
	p := steertest.Load(t, Load)
	if err := p.Attach(dir); err != nil {
		t.Fatal(err)
	}
	if err := p.SetProxies(netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatal(err)
	}

	const rounds = 200
	// A shortcut connection's packets: handshake, teardown and their ACKs.
	const maxShortcut = 20
	const pod = "198.18.0.5" // the client's address; 127.0.0.1 is the proxy's
	small := steertest.Echo{Rounds: rounds, Size: 16 << 10, From: pod}
	tests := []struct {
		name     string
		cgroup   string // relative to dir; "-" = outside the test cgroup
		listen   string
		dial     string
		echo     steertest.Echo
		shortcut bool
	}{
		{"pod to proxy", "pod", "127.0.0.1:15001", "127.0.0.1:15001", small, true},
		{"pod to dual-stack proxy listener", "pod", "0.0.0.0:15001", "127.0.0.1:15001", small, true},
		{"messages larger than the socket buffers", "pod", "127.0.0.1:15001", "127.0.0.1:15001", steertest.Echo{Rounds: 4, Size: 8 << 20, From: pod}, true},
		{"pod to pod: no end on a proxy address", "pod", pod + ":8080", pod + ":8080", small, false},
		{"both ends on the proxy address", "pod", "127.0.0.1:15001", "127.0.0.1:15001", steertest.Echo{Rounds: rounds, Size: 16 << 10}, false},
		{"outside the cgroup", "-", "127.0.0.1:15001", "127.0.0.1:15001", small, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cg := filepath.Join(dir, tc.cgroup)
			if tc.cgroup == "-" {
				cg = ""
			}
			before, err := p.Fallbacks()
			if err != nil {
				t.Fatal(err)
			}
			res := steertest.Run(t, cg, steertest.Probe{PodIP: pod, Listen: []string{tc.listen}, Dial: tc.dial, Echo: tc.echo})
			if after, err := p.Fallbacks(); err != nil || after != before {
				t.Errorf("fallbacks went from %d to %d (%v): want no socket of this exchange to fall back", before, after, err)
			}
			if want := int64(tc.echo.Rounds * tc.echo.Size); res.Err != "" || res.Echoed != want {
				t.Fatalf("got %+v, want %d bytes echoed", res, want)
			}
			switch {
			case tc.shortcut && res.Packets > maxShortcut:
				t.Errorf("lo sent %d packets for %d rounds: want at most %d (the data shortcut)", res.Packets, tc.echo.Rounds, maxShortcut)
			case !tc.shortcut && res.Packets < minCarried(tc.echo):
				t.Errorf("lo sent %d packets for %d rounds of %d bytes: want at least %d (no shortcut)", res.Packets, tc.echo.Rounds, tc.echo.Size, minCarried(tc.echo))
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
		res := steertest.Run(t, filepath.Join(dir, "pod"), steertest.Probe{PodIP: pod, Listen: []string{"127.0.0.1:15001"}, Dial: "127.0.0.1:15001", Echo: small})
		if res.Echoed != int64(rounds*small.Size) || res.Packets < minCarried(small) {
			t.Fatalf("got %+v: want every byte echoed over at least %d packets (127.0.0.1 is no longer a proxy address)", res, minCarried(small))
		}
	})
	t.Run("bad address", func(t *testing.T) {
		if err := p.SetProxies(netip.MustParseAddr("fd00::1")); err == nil {
			t.Fatal("SetProxies(fd00::1): got no error, want one (IPv4 only)")
		}
	})
}

// minCarried is the fewest packets that carry an echo exchange's data over
// lo without the shortcut: one per 64 KiB (lo's MTU) each way.
func minCarried(e steertest.Echo) uint64 {
	return 2 * uint64(e.Rounds*e.Size) / (64 << 10)
}

// TestNoOvertaking: a socket that sent data the normal way because its peer
// was not in the sockhash yet keeps sending the normal way after the peer
// arrives, so its later data cannot overtake the earlier data at the peer.
// The sockets are put into the sockhash by hand, in the order that race
// produces.
func TestNoOvertaking(t *testing.T) {
	steertest.RequireRoot(t)
	p := steertest.Load(t, Load)
	client, server := loopbackPair(t)

	insert(t, p, client)
	send(t, client, "first,") // The peer is not in the map: normal path.
	insert(t, p, server)
	send(t, client, "second")
	got, err := receive(server, len("first,second"))
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, got)
	}
	if got != "first,second" {
		t.Errorf("server read %q, want %q: the later write overtook the earlier one", got, "first,second")
	}
	if n, err := p.Fallbacks(); err != nil || n != 1 {
		t.Errorf("fallbacks: got %d (%v), want 1 (the client)", n, err)
	}

	// The other direction finds its peer from the start: it is shortcut.
	send(t, server, "reply")
	if reply, err := receive(client, len("reply")); err != nil || reply != "reply" {
		t.Errorf("client read %q, %v; want %q", reply, err, "reply")
	}
}

// TestCloseKeepsConnections: closing the programs (gamma-node exits)
// leaves established shortcut connections working: what was handed over
// before and what is sent after arrives in order. The kernel frees the
// sockhash once its last socket is closed.
func TestCloseKeepsConnections(t *testing.T) {
	steertest.RequireRoot(t)
	p, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	info, err := p.objs.ShortcutSocks.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, ok := info.ID()
	if !ok {
		t.Fatal("the kernel reports no sockhash ID")
	}
	client, server := loopbackPair(t)
	insert(t, p, client)
	insert(t, p, server)
	send(t, server, "before,")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	send(t, server, "after")
	if got, err := receive(client, len("before,after")); err != nil || got != "before,after" {
		t.Errorf("client read %q, %v; want %q", got, err, "before,after")
	}

	client.Close()
	server.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		m, err := ebpf.NewMapFromID(id)
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err == nil {
			m.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("sockhash %d still exists 10s after its programs and sockets were closed (%v)", id, err)
		}
	}
}

// send writes msg to c.
func send(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// receive reads n bytes from c, waiting at most 5 s.
func receive(c net.Conn, n int) (string, error) {
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	b := make([]byte, n)
	_, err := io.ReadFull(c, b)
	return string(b), err
}

// loopbackPair returns both ends of a TCP connection over 127.0.0.1.
func loopbackPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}

// insert puts c into the sockhash by hand, under its own 4-tuple.
func insert(t *testing.T, p *Programs, c net.Conn) {
	t.Helper()
	local, remote := netip.MustParseAddrPort(c.LocalAddr().String()), netip.MustParseAddrPort(c.RemoteAddr().String())
	key := shortcutShortcutKey{
		LocalIp:    binary.NativeEndian.Uint32(local.Addr().AsSlice()),
		RemoteIp:   binary.NativeEndian.Uint32(remote.Addr().AsSlice()),
		LocalPort:  uint32(local.Port()),
		RemotePort: uint32(remote.Port()),
	}
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var putErr error
	if err := raw.Control(func(fd uintptr) { putErr = p.objs.ShortcutSocks.Put(&key, uint64(fd)) }); err != nil {
		t.Fatal(err)
	}
	if putErr != nil {
		t.Fatalf("put %v into the sockhash: %v", c.LocalAddr(), putErr)
	}
}
