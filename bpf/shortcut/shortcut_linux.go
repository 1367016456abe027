package shortcut

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/gammaproof/gammaproof/bpf/bpfload"
)

// Programs are the loaded shortcut programs and their maps. Methods are safe
// for concurrent use.
type Programs struct {
	objs shortcutObjects

	mu     sync.Mutex
	links  []link.Link
	closed bool
}

// Load loads the programs, creates their (empty) maps and attaches the
// sk_msg program to the sockhash. Nothing is shortcut until the sockops
// program is attached to a cgroup ([Programs.Attach]) and a proxy address
// is set ([Programs.SetProxies]). A kernel without sockmap support returns
// an error wrapping [ebpf.ErrNotSupported]; a process that is not root
// returns [bpfload.ErrNotRoot].
func Load() (*Programs, error) {
	p := &Programs{}
	if err := bpfload.Load("shortcut programs", func() error { return loadShortcutObjects(&p.objs, nil) }); err != nil {
		return nil, err
	}
	// The verdict program lives as long as the map: closing the map
	// detaches it.
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{
		Target:  p.objs.ShortcutSocks.FD(),
		Program: p.objs.ShortcutMsg,
		Attach:  ebpf.AttachSkMsgVerdict,
	}); err != nil {
		p.objs.Close()
		return nil, fmt.Errorf("attach sk_msg verdict to the sockhash: %w", err)
	}
	return p, nil
}

// Attach attaches the sockops program to the cgroup v2 directory
// cgroupPath: connections that processes in it and its descendants make
// or accept from then on are shortcut when one end is a proxy address.
// Connections established before stay on the normal path. [Programs.Close]
// detaches it.
func (p *Programs) Attach(cgroupPath string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("attach shortcut programs: programs are closed")
	}
	l, err := link.AttachCgroup(link.CgroupOptions{Path: cgroupPath, Attach: ebpf.AttachCGroupSockOps, Program: p.objs.ShortcutSockops})
	if err != nil {
		return fmt.Errorf("attach sockops to cgroup %s: %w", cgroupPath, err)
	}
	p.links = append(p.links, l)
	return nil
}

// SetProxies makes addrs the proxy addresses: connections with an end on
// one of them are shortcut. Other entries are removed.
func (p *Programs) SetProxies(addrs ...netip.Addr) error {
	want := map[[4]byte]bool{}
	for _, a := range addrs {
		if !a.Unmap().Is4() {
			return fmt.Errorf("set proxy addresses: %s is not an IPv4 address", a)
		}
		want[a.Unmap().As4()] = true
	}
	var (
		k     [4]byte
		v     uint8
		stale [][4]byte
	)
	it := p.objs.ShortcutProxies.Iterate()
	for it.Next(&k, &v) {
		if !want[k] {
			stale = append(stale, k)
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("list proxy addresses: %w", err)
	}
	for _, k := range stale {
		if err := p.objs.ShortcutProxies.Delete(&k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("delete proxy address %s: %w", netip.AddrFrom4(k), err)
		}
	}
	for k := range want {
		if err := p.objs.ShortcutProxies.Put(&k, uint8(1)); err != nil {
			return fmt.Errorf("set proxy address %s: %w", netip.AddrFrom4(k), err)
		}
	}
	return nil
}

// Sockets returns how many sockets the sockhash holds now: two per
// shortcut connection whose ends are both on this node.
func (p *Programs) Sockets() (int, error) {
	var (
		k shortcutShortcutKey
		v uint64
		n int
	)
	it := p.objs.ShortcutSocks.Iterate()
	for it.Next(&k, &v) {
		n++
	}
	if err := it.Err(); err != nil {
		return 0, fmt.Errorf("list shortcut sockets: %w", err)
	}
	return n, nil
}

// Fallbacks returns how many sockets have fallen back to the normal path
// since [Load]: their first write found no peer in the sockhash (the other
// end is elsewhere, or had not been added yet).
func (p *Programs) Fallbacks() (uint64, error) {
	var perCPU []uint64
	if err := p.objs.ShortcutFallbacks.Lookup(uint32(0), &perCPU); err != nil {
		return 0, fmt.Errorf("read shortcut fallbacks: %w", err)
	}
	var n uint64
	for _, v := range perCPU {
		n += v
	}
	return n, nil
}

// Close detaches the sockops program and releases the programs and maps:
// connections established from then on take the normal path. Connections
// already shortcut keep their shortcut until they close; the kernel frees
// the sockhash with its last socket. It is idempotent.
func (p *Programs) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	for _, l := range p.links {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("detach sockops: %w", err))
		}
	}
	if err := p.objs.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close shortcut objects: %w", err))
	}
	return errors.Join(errs...)
}

var _ io.Closer = (*Programs)(nil)
