package steertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/gammaproof/gammaproof/internal/bpffs"
	"github.com/gammaproof/gammaproof/internal/cgroup2"
)

// childEnv carries a probe spec to the re-executed test binary.
const childEnv = "GAMMAPROOF_STEERTEST_PROBE"

// Probe is what a child process does inside its own network namespace,
// where only lo is up.
type Probe struct {
	PodIP   string   // Added to lo as a /32 when set.
	Listen  []string // Addresses to listen on.
	Dial    string   // Address to connect to.
	Connect int      // When > 0: connect() this many times and report the latency.
	// Netns is a named network namespace (/run/netns/<name>) to join
	// instead of a fresh one. Optional.
	Netns string
	// HTTPGet, when set, sends GET HTTPGet over the connection to Dial and
	// reports the answer. Optional.
	HTTPGet string
	// Echo, when Rounds > 0, runs an echo server on Listen[0] instead of
	// the accept-and-close listeners and exchanges data with it over one
	// connection to Dial. Optional.
	Echo Echo
}

// Echo is an exchange with an echo server: Rounds times, Size bytes sent
// and the same read back, then a half-close and the server's close. The
// server listens with network "tcp": an unspecified host (0.0.0.0) makes a
// dual-stack socket whose connections are IPv4-mapped IPv6.
type Echo struct {
	Rounds, Size int
	// From is the client's source address. Optional.
	From string
}

// Result is what the child reports.
type Result struct {
	Err        string  // Connect error, "" if connected.
	AcceptedOn string  // Listener that accepted the connection.
	Peer       string  // getpeername() of the connecting socket.
	NsPerOp    float64 // Mean connect() latency (Connect > 0).
	P99Ns      float64 // 99th percentile connect() latency (Connect > 0).
	Status     int     // HTTP status (HTTPGet).
	Body       string  // HTTP body (HTTPGet).
	Echoed     int64   // Bytes read back intact (Echo).
	Packets    uint64  // Packets lo sent during the exchange (Echo).
}

// MaybeRunChild runs the probe and exits when the process is a probe child.
// Call it first in TestMain.
func MaybeRunChild() {
	spec := os.Getenv(childEnv)
	if spec == "" {
		return
	}
	res, err := runProbe(spec)
	if err == nil {
		err = json.NewEncoder(os.Stdout).Encode(res)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

// Main is the TestMain of a package whose tests run probes and need
// nothing else first: the probe in a probe child, else the tests.
func Main(m *testing.M) {
	MaybeRunChild()
	os.Exit(m.Run())
}

// Run re-executes the test binary in a new network namespace, inside the
// cgroup v2 directory cgroupDir unless it is "", and returns its result.
func Run(t testing.TB, cgroupDir string, p Probe) Result {
	t.Helper()
	spec, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if p.Netns == "" {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET
	}
	if cgroupDir != "" {
		f, err := os.Open(cgroupDir)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(f.Fd())
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("run probe %s in cgroup %q: %v\nstderr: %s", spec, cgroupDir, err, stderr.String())
	}
	var res Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("decode probe result %q: %v", stdout.String(), err)
	}
	return res
}

// Load calls load and closes what it returned when the test ends.
func Load[P io.Closer](t testing.TB, load func() (P, error)) P {
	t.Helper()
	p, err := load()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// RequireRoot fails the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test loads eBPF programs and creates cgroups and network namespaces: run it as root (sudo go test ...)")
	}
}

// Cgroup creates <cgroup v2 root>/gpt-<prefix>-<random> and the given
// children (relative paths, parents first) and removes them all when the
// test ends. It returns the top directory.
func Cgroup(t testing.TB, prefix string, children ...string) string {
	t.Helper()
	root, err := cgroup2.Mount()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, fmt.Sprintf("gpt-%s-%d-%x", prefix, os.Getpid(), rand.Uint32()))
	dirs := []string{dir}
	for _, c := range children {
		dirs = append(dirs, filepath.Join(dir, c))
	}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, d := range slices.Backward(dirs) {
			var err error
			for range 100 { // An exited child's cgroup membership lingers briefly.
				if err = unix.Rmdir(d); err == nil || errors.Is(err, unix.ENOENT) {
					err = nil
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil {
				t.Errorf("remove cgroup %s: %v", d, err)
			}
		}
	})
	return dir
}

func runProbe(spec string) (Result, error) {
	var p Probe
	if err := json.Unmarshal([]byte(spec), &p); err != nil {
		return Result{}, fmt.Errorf("decode probe: %w", err)
	}
	if p.Netns != "" {
		// Every socket below is made on this goroutine, so on this thread.
		runtime.LockOSThread()
		if err := joinNetns(p.Netns); err != nil {
			return Result{}, err
		}
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return Result{}, fmt.Errorf("find lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return Result{}, fmt.Errorf("set lo up: %w", err)
	}
	if p.PodIP != "" {
		addr, err := netlink.ParseAddr(p.PodIP + "/32")
		if err != nil {
			return Result{}, fmt.Errorf("parse pod IP: %w", err)
		}
		if err := netlink.AddrAdd(lo, addr); err != nil {
			return Result{}, fmt.Errorf("add pod IP: %w", err)
		}
	}
	if p.Echo.Rounds > 0 {
		return echo(p, lo)
	}
	accepted := make(chan string, len(p.Listen))
	for _, a := range p.Listen {
		ln, err := net.Listen("tcp4", a)
		if err != nil {
			return Result{}, fmt.Errorf("listen: %w", err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
				if p.Connect == 0 {
					accepted <- a
				}
			}
		}()
	}
	if p.Connect > 0 {
		return benchConnect(p)
	}

	var res Result
	c, err := net.DialTimeout("tcp4", p.Dial, 2*time.Second)
	if err != nil {
		res.Err = err.Error()
		return res, nil
	}
	defer c.Close()
	if p.HTTPGet != "" {
		return httpGet(c, p.HTTPGet)
	}
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return res, fmt.Errorf("raw conn: %w", err)
	}
	var sa unix.Sockaddr
	var perr error
	if err := raw.Control(func(fd uintptr) { sa, perr = unix.Getpeername(int(fd)) }); err != nil {
		return res, fmt.Errorf("control: %w", err)
	}
	if perr != nil {
		return res, fmt.Errorf("getpeername: %w", perr)
	}
	in4, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		return res, fmt.Errorf("getpeername returned %T", sa)
	}
	res.Peer = netip.AddrPortFrom(netip.AddrFrom4(in4.Addr), uint16(in4.Port)).String()
	select {
	case res.AcceptedOn = <-accepted:
	case <-time.After(2 * time.Second):
		return res, errors.New("no listener accepted the connection")
	}
	return res, nil
}

// benchConnect times p.Connect blocking connect() calls to p.Dial, each
// closed with RST so no TIME_WAIT piles up.
func benchConnect(p Probe) (Result, error) {
	ap, err := netip.ParseAddrPort(p.Dial)
	if err != nil {
		return Result{}, fmt.Errorf("parse dial: %w", err)
	}
	sa := &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}
	lat := make([]time.Duration, 0, p.Connect)
	var total time.Duration
	for range p.Connect {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return Result{}, fmt.Errorf("socket: %w", err)
		}
		start := time.Now()
		err = unix.Connect(fd, sa)
		d := time.Since(start)
		if err == nil {
			err = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		}
		if cerr := unix.Close(fd); err == nil {
			err = cerr
		}
		if err != nil {
			return Result{}, fmt.Errorf("connect %s: %w", p.Dial, err)
		}
		lat = append(lat, d)
		total += d
	}
	slices.Sort(lat)
	return Result{
		NsPerOp: float64(total.Nanoseconds()) / float64(p.Connect),
		P99Ns:   float64(lat[len(lat)*99/100].Nanoseconds()),
	}, nil
}

func joinNetns(name string) error {
	fd, err := unix.Open(filepath.Join("/run/netns", name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", name, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("join netns %s: %w", name, err)
	}
	return nil
}

func httpGet(c net.Conn, path string) (Result, error) {
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return Result{}, err
	}
	req, err := http.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		return Result{}, fmt.Errorf("build request: %w", err)
	}
	req.Host = "steertest"
	req.Close = true
	if err := req.Write(c); err != nil {
		return Result{Err: err.Error()}, nil
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		return Result{Err: err.Error()}, nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Result{Err: err.Error()}, nil
	}
	return Result{Status: resp.StatusCode, Body: string(body)}, nil
}

// echo runs the exchange p.Echo describes and counts lo's packets around
// it: in the probe's own network namespace nobody else uses lo.
func echo(p Probe, lo netlink.Link) (Result, error) {
	if len(p.Listen) != 1 || p.Echo.Size <= 0 {
		return Result{}, fmt.Errorf("echo probe: want one listen address and a size > 0, got %q and %d", p.Listen, p.Echo.Size)
	}
	ln, err := net.Listen("tcp", p.Listen[0])
	if err != nil {
		return Result{}, fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() { served <- serveEcho(ln) }()

	before, err := txPackets(lo)
	if err != nil {
		return Result{}, err
	}
	d := net.Dialer{Timeout: 2 * time.Second}
	if p.Echo.From != "" {
		from, err := netip.ParseAddr(p.Echo.From)
		if err != nil {
			return Result{}, fmt.Errorf("echo probe: source address: %w", err)
		}
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0))
	}
	c, err := d.Dial("tcp4", p.Dial)
	if err != nil {
		return Result{Err: err.Error()}, nil
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		return Result{}, err
	}
	// Write from another goroutine: a round larger than the socket buffers
	// is only echoed while it is read.
	sent := make(chan error, 1)
	go func() {
		for r := range p.Echo.Rounds {
			if _, err := c.Write(pattern(r, p.Echo.Size)); err != nil {
				sent <- fmt.Errorf("send round %d: %w", r, err)
				return
			}
		}
		sent <- c.(*net.TCPConn).CloseWrite()
	}()
	var res Result
	buf := make([]byte, p.Echo.Size)
	for r := range p.Echo.Rounds {
		if _, err := io.ReadFull(c, buf); err != nil {
			return res, fmt.Errorf("read round %d after %d bytes: %w", r, res.Echoed, err)
		}
		if !bytes.Equal(buf, pattern(r, p.Echo.Size)) {
			return res, fmt.Errorf("round %d: the echo differs from what was sent", r)
		}
		res.Echoed += int64(len(buf))
	}
	if n, err := io.Copy(io.Discard, c); err != nil || n != 0 {
		return res, fmt.Errorf("after the last round: %d more bytes, %v; want the server's close", n, err)
	}
	if err := errors.Join(<-sent, <-served); err != nil {
		return res, err
	}
	after, err := txPackets(lo)
	if err != nil {
		return res, err
	}
	res.Packets = after - before
	return res, nil
}

// serveEcho answers one connection: what it reads it writes back, until
// the client's half-close; then it closes.
func serveEcho(ln net.Listener) error {
	c, err := ln.Accept()
	if err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	defer c.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return fmt.Errorf("echo: %w", werr)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("echo: %w", err)
		}
	}
}

// pattern returns round r's bytes: different in every round.
func pattern(r, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r*31 + i*7)
	}
	return b
}

func txPackets(lo netlink.Link) (uint64, error) {
	l, err := netlink.LinkByIndex(lo.Attrs().Index)
	if err != nil {
		return 0, fmt.Errorf("read lo's counters: %w", err)
	}
	return l.Attrs().Statistics.TxPackets, nil
}

// BPFFS mounts a fresh bpf filesystem on a temporary directory and
// unmounts it (freeing what is still pinned there) when the test ends. It
// returns the mount point.
func BPFFS(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bpffs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := bpffs.Mount(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount bpffs %s: %v", dir, err)
		}
	})
	return dir
}
