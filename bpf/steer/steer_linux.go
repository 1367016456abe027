package steer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/gammaproof/gammaproof/bpf/bpfload"
)

// Programs are the loaded steering programs and their maps. Methods are safe
// for concurrent use.
type Programs struct {
	objs  steerObjects
	nsIDs *ebpf.Map // namespace name -> id, see [Programs.SetNamespaceID]

	pinDir    string // "" for [Load]: nothing pinned
	inherited bool

	mu     sync.Mutex
	links  map[*attachment]struct{}
	closed bool
}

// Load loads the programs and creates their (empty) maps, pinned nowhere:
// they and every attachment end with the process (see [Open] for programs
// that outlive it). Nothing is attached yet: see [Programs.Attach]. A kernel without the needed features
// returns an error wrapping [ebpf.ErrNotSupported]; a process that is not
// root returns [bpfload.ErrNotRoot].
func Load() (*Programs, error) {
	p := &Programs{links: map[*attachment]struct{}{}}
	err := bpfload.Load("steering programs", func() error {
		if err := loadSteerObjects(&p.objs, nil); err != nil {
			return err
		}
		var err error
		if p.nsIDs, err = ebpf.NewMap(nsIDsSpec); err != nil {
			return fmt.Errorf("create namespace id map: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(err, p.objs.Close())
	}
	return p, nil
}

type attachment struct {
	p     *Programs
	links []link.Link
	once  sync.Once
	err   error
}

// Close detaches the programs from the cgroup, or for programs from [Open]
// releases this process's hold on the pinned links, which stay attached.
// It is idempotent.
func (a *attachment) Close() error {
	a.once.Do(func() {
		var errs []error
		for _, l := range a.links {
			if err := l.Close(); err != nil {
				errs = append(errs, fmt.Errorf("detach cgroup link: %w", err))
			}
		}
		a.err = errors.Join(errs...)
		a.p.mu.Lock()
		delete(a.p.links, a)
		a.p.mu.Unlock()
	})
	return a.err
}

// Attach attaches connect4 and getpeername4 to the cgroup v2 directory
// cgroupPath; they apply to every process in it and its descendants. The
// returned Closer detaches them again; [Programs.Close] detaches every
// attachment still open.
//
// For programs from [Open] the links are pinned in the pin directory and
// outlive the process: a link an earlier process pinned there for the same
// cgroup gets this process's program in place (the kernel swaps the
// program of the live link, so no connect() is ever made without one), and
// closing releases the hold without detaching; [Uninstall] detaches.
func (p *Programs) Attach(cgroupPath string) (io.Closer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("attach steering programs: programs are closed")
	}
	a := &attachment{p: p}
	for _, l := range []struct {
		name string
		typ  ebpf.AttachType
		prog *ebpf.Program
	}{
		{"connect4", ebpf.AttachCGroupInet4Connect, p.objs.SteerConnect4},
		{"getpeername4", ebpf.AttachCgroupInet4GetPeername, p.objs.SteerGetpeername4},
	} {
		var lk link.Link
		var err error
		if p.pinDir != "" {
			lk, err = p.attachPinned(l.name, cgroupPath, l.typ, l.prog)
		} else {
			lk, err = link.AttachCgroup(link.CgroupOptions{Path: cgroupPath, Attach: l.typ, Program: l.prog})
		}
		if err != nil {
			for _, done := range a.links {
				_ = done.Close() // Best effort: the attach error below is what matters.
			}
			return nil, fmt.Errorf("attach %s to cgroup %s: %w", l.name, cgroupPath, err)
		}
		a.links = append(a.links, lk)
	}
	p.links[a] = struct{}{}
	return a, nil
}

// Close detaches every attachment and frees the programs and maps; for
// programs from [Open] it closes this process's file descriptors only, and
// what is pinned keeps running.
func (p *Programs) Close() error {
	p.mu.Lock()
	open := make([]*attachment, 0, len(p.links))
	for a := range p.links {
		open = append(open, a)
	}
	p.closed = true
	p.mu.Unlock()

	var errs []error
	for _, a := range open {
		errs = append(errs, a.Close())
	}
	if err := errors.Join(p.objs.Close(), closeMap(p.nsIDs)); err != nil {
		errs = append(errs, fmt.Errorf("close steering objects: %w", err))
	}
	return errors.Join(errs...)
}

func marshalKey(k Key) (steerSteerKey, error) {
	vip, err := ipv4("VIP", k.VIP)
	if err != nil {
		return steerSteerKey{}, err
	}
	return steerSteerKey{
		CallerNs: k.CallerNamespace,
		Vip:      binary.NativeEndian.Uint32(vip[:]),
		Port:     hton16(k.Port),
	}, nil
}

func unmarshalKey(k steerSteerKey) Key {
	var ip [4]byte
	binary.NativeEndian.PutUint32(ip[:], k.Vip)
	return Key{CallerNamespace: k.CallerNs, VIP: netip.AddrFrom4(ip), Port: ntoh16(k.Port)}
}

func marshalTarget(t Target) (steerSteerTarget, error) {
	ip, err := ipv4("target", t.IP)
	if err != nil {
		return steerSteerTarget{}, err
	}
	return steerSteerTarget{Ip: binary.NativeEndian.Uint32(ip[:]), Port: hton16(t.Port)}, nil
}

func unmarshalTarget(t steerSteerTarget) Target {
	var ip [4]byte
	binary.NativeEndian.PutUint32(ip[:], t.Ip)
	return Target{IP: netip.AddrFrom4(ip), Port: ntoh16(t.Port)}
}

// hton16 returns the value whose in-memory bytes are port in network order.
func hton16(port uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], port)
	return binary.NativeEndian.Uint16(b[:])
}

func ntoh16(v uint16) uint16 {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], v)
	return binary.BigEndian.Uint16(b[:])
}

// SetSteering inserts or replaces a steering entry.
func (p *Programs) SetSteering(k Key, t Target) error {
	mk, err := marshalKey(k)
	if err != nil {
		return fmt.Errorf("set steering %s: %w", k, err)
	}
	mt, err := marshalTarget(t)
	if err != nil {
		return fmt.Errorf("set steering %s: %w", k, err)
	}
	if err := p.objs.Steering.Put(&mk, &mt); err != nil {
		return fmt.Errorf("set steering %s: %w", k, err)
	}
	return nil
}

// DeleteSteering removes a steering entry; a missing entry is not an error.
func (p *Programs) DeleteSteering(k Key) error {
	mk, err := marshalKey(k)
	if err != nil {
		return fmt.Errorf("delete steering %s: %w", k, err)
	}
	if err := p.objs.Steering.Delete(&mk); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("delete steering %s: %w", k, err)
	}
	return nil
}

// Steering returns every steering entry.
func (p *Programs) Steering() (map[Key]Target, error) {
	return mapEntries(p.objs.Steering, "steering entries", func(k steerSteerKey, v steerSteerTarget) (Key, Target) {
		return unmarshalKey(k), unmarshalTarget(v)
	})
}

// mapEntries returns every entry of m, read as an MK key and an MV value
// and converted by conv; what names the entries in errors.
func mapEntries[MK, MV any, K comparable, V any](m *ebpf.Map, what string, conv func(MK, MV) (K, V)) (map[K]V, error) {
	out := map[K]V{}
	var mk MK
	var mv MV
	it := m.Iterate()
	for it.Next(&mk, &mv) {
		k, v := conv(mk, mv)
		out[k] = v
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	return out, nil
}

// SetCgroupNamespace records that processes in cgroup id (and, unless a
// deeper cgroup has its own entry, its descendants) belong to namespace ns.
// ns must not be [AnyNamespace].
func (p *Programs) SetCgroupNamespace(id uint64, ns uint32) error {
	if ns == AnyNamespace {
		return fmt.Errorf("set namespace of cgroup %d: namespace id 0 is reserved for \"any\"", id)
	}
	if err := p.objs.CgroupNs.Put(&id, &ns); err != nil {
		return fmt.Errorf("set namespace of cgroup %d: %w", id, err)
	}
	return nil
}

// DeleteCgroup removes a cgroup's namespace entry; a missing entry is not an
// error.
func (p *Programs) DeleteCgroup(id uint64) error {
	if err := p.objs.CgroupNs.Delete(&id); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("delete namespace of cgroup %d: %w", id, err)
	}
	return nil
}

// CgroupNamespaces returns every cgroup id -> namespace id entry.
func (p *Programs) CgroupNamespaces() (map[uint64]uint32, error) {
	return mapEntries(p.objs.CgroupNs, "cgroup namespaces", func(id uint64, ns uint32) (uint64, uint32) { return id, ns })
}

// CgroupID returns the id of the cgroup v2 directory path, the value
// bpf_get_current_cgroup_id returns for processes in it.
func CgroupID(path string) (uint64, error) {
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, path, 0)
	if err == nil && h.Size() == 8 {
		return binary.NativeEndian.Uint64(h.Bytes()), nil
	}
	// Kernfs inode numbers are cgroup ids on 64-bit kernels.
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("read cgroup id of %s: %w", path, err)
	}
	return st.Ino, nil
}
