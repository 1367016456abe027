package steer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/gammaproof/gammaproof/bpf/bpfload"
	"github.com/gammaproof/gammaproof/internal/bpffs"
)

// Pinned objects in a pin directory. The links carry the id of the cgroup
// they are attached to in their name: linkPrefix + program + "-cg" + id.
const (
	pinSteering  = "map_steering"
	pinCgroupNs  = "map_cgroup_ns"
	pinOrigDsts  = "map_orig_dsts"
	pinNsIDs     = "map_ns_ids"
	linkPrefix   = "link_"
	nsNameMaxLen = 63 // A Kubernetes namespace name is a DNS label.
)

// nsIDsSpec is the map of namespace name -> namespace id the agent hands
// out (only user space reads it): pinned with the other maps, it lets a new
// agent keep the ids the pinned cgroup_ns and steering entries use.
var nsIDsSpec = &ebpf.MapSpec{
	Name:       "gp_ns_ids",
	Type:       ebpf.Hash,
	KeySize:    nsNameMaxLen + 1,
	ValueSize:  4,
	MaxEntries: 65536,
}

// Open loads the programs with their maps pinned in dir, a directory on a
// bpf filesystem (created if missing): maps an earlier Open pinned there
// are reused with their entries ([Programs.Inherited] reports it), else new
// maps are made and pinned. Maps that no longer fit the programs (an
// upgrade changed their layout) are replaced by new, empty ones.
//
// [Programs.Attach] of programs from Open pins the links in dir too, or
// updates the ones pinned there, and [Programs.Close] leaves them attached:
// steering goes on after the process ends, until [Uninstall].
func Open(dir string) (*Programs, error) {
	if dir == "" {
		return nil, errors.New("open pinned steering programs: no pin directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open pinned steering programs: %w", err)
	}
	if ok, err := bpffs.Is(dir); err != nil {
		return nil, fmt.Errorf("open pinned steering programs: %w", err)
	} else if !ok {
		return nil, fmt.Errorf("open pinned steering programs: %s is not on a bpf filesystem: mount one (mount -t bpf bpf /sys/fs/bpf)", dir)
	}
	p := &Programs{links: map[*attachment]struct{}{}, pinDir: dir}
	err := bpfload.Load("steering programs", func() error {
		inherited, err := openPinnedMaps(dir)
		if err != nil {
			return err
		}
		defer closeMaps(inherited)
		nsIDs := inherited[pinNsIDs]
		delete(inherited, pinNsIDs) // Not a map of the programs.
		err = loadSteerObjects(&p.objs, &ebpf.CollectionOptions{MapReplacements: inherited})
		if errors.Is(err, ebpf.ErrMapIncompatible) {
			// An older layout: start over with new maps.
			_ = closeMap(nsIDs) // Unused: nothing to report.
			inherited, nsIDs = nil, nil
			err = loadSteerObjects(&p.objs, nil)
		}
		if err != nil {
			return err
		}
		p.inherited = len(inherited) > 0
		if nsIDs != nil {
			p.nsIDs = nsIDs
		} else if p.nsIDs, err = ebpf.NewMap(nsIDsSpec); err != nil {
			return fmt.Errorf("create namespace id map: %w", err)
		}
		if p.inherited {
			return nil
		}
		// New maps: pin them, replacing any pins of an older layout.
		for name, m := range p.pinnedMaps() {
			path := filepath.Join(dir, name)
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove old pin %s: %w", path, err)
			}
			if err := m.Pin(path); err != nil {
				return fmt.Errorf("pin map %s: %w", path, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(err, p.objs.Close(), closeMap(p.nsIDs))
	}
	return p, nil
}

func closeMap(m *ebpf.Map) error {
	if m == nil {
		return nil
	}
	return m.Close()
}

// pinnedMaps names the maps Open pins, by their pin file name.
func (p *Programs) pinnedMaps() map[string]*ebpf.Map {
	return map[string]*ebpf.Map{
		pinSteering: p.objs.Steering,
		pinCgroupNs: p.objs.CgroupNs,
		pinOrigDsts: p.objs.OrigDsts,
		pinNsIDs:    p.nsIDs,
	}
}

// openPinnedMaps returns the maps pinned in dir by their program map name
// (and pinNsIDs), or nil when not all of them are there.
func openPinnedMaps(dir string) (map[string]*ebpf.Map, error) {
	names := map[string]string{pinSteering: "steering", pinCgroupNs: "cgroup_ns", pinOrigDsts: "orig_dsts", pinNsIDs: pinNsIDs}
	out := map[string]*ebpf.Map{}
	for pin, name := range names {
		m, err := ebpf.LoadPinnedMap(filepath.Join(dir, pin), nil)
		if errors.Is(err, fs.ErrNotExist) {
			closeMaps(out)
			return nil, nil
		}
		if err != nil {
			closeMaps(out)
			return nil, fmt.Errorf("open pinned map %s: %w", filepath.Join(dir, pin), err)
		}
		out[name] = m
	}
	if err := nsIDsSpec.Compatible(out[pinNsIDs]); err != nil {
		closeMaps(out)
		return nil, nil // Replaced by new maps, as for the program maps.
	}
	return out, nil
}

func closeMaps(ms map[string]*ebpf.Map) {
	for _, m := range ms {
		_ = m.Close() // Read-only use; nothing to report.
	}
}

// Inherited reports whether [Open] reused maps pinned by an earlier
// process, with the entries it left.
func (p *Programs) Inherited() bool { return p.inherited }

// PinDir is the directory the programs' maps and links are pinned in, ""
// for programs from [Load].
func (p *Programs) PinDir() string { return p.pinDir }

// linkPin is the pin path of program prog's link to cgroup id.
func linkPin(dir, prog string, cgroupID uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%s%s-cg%d", linkPrefix, prog, cgroupID))
}

// attachPinned attaches prog to cgroupPath through the link pinned for it
// in p.pinDir: an existing one is switched to prog atomically (the kernel
// replaces the program of a live link, so no connect() runs without one),
// else a new link is made and pinned.
func (p *Programs) attachPinned(name, cgroupPath string, typ ebpf.AttachType, prog *ebpf.Program) (link.Link, error) {
	id, err := CgroupID(cgroupPath)
	if err != nil {
		return nil, err
	}
	pin := linkPin(p.pinDir, name, id)
	if l, err := link.LoadPinnedLink(pin, nil); err == nil {
		if err := l.Update(prog); err != nil {
			return nil, errors.Join(fmt.Errorf("replace the program of pinned link %s: %w", pin, err), l.Close())
		}
		return l, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open pinned link %s: %w", pin, err)
	}
	l, err := link.AttachCgroup(link.CgroupOptions{Path: cgroupPath, Attach: typ, Program: prog})
	if err != nil {
		return nil, err
	}
	if err := l.Pin(pin); err != nil {
		return nil, errors.Join(fmt.Errorf("pin link %s: %w", pin, err), l.Close())
	}
	return l, nil
}

// NamespaceIDs returns the namespace name -> id entries recorded with
// [Programs.SetNamespaceID].
func (p *Programs) NamespaceIDs() (map[string]uint32, error) {
	return mapEntries(p.nsIDs, "namespace ids", func(name [nsNameMaxLen + 1]byte, id uint32) (string, uint32) {
		return strings.TrimRight(string(name[:]), "\x00"), id
	})
}

// SetNamespaceID records the id handed out for namespace name, so an agent
// that reuses the pinned maps hands out the same one.
func (p *Programs) SetNamespaceID(name string, id uint32) error {
	if name == "" || len(name) > nsNameMaxLen || strings.ContainsRune(name, 0) {
		return fmt.Errorf("record namespace id of %q: a namespace name has 1-%d characters", name, nsNameMaxLen)
	}
	var k [nsNameMaxLen + 1]byte
	copy(k[:], name)
	if err := p.nsIDs.Put(&k, &id); err != nil {
		return fmt.Errorf("record namespace id of %q: %w", name, err)
	}
	return nil
}

// Uninstall detaches the steering programs pinned in dir and frees their
// maps: it removes every pin there (a pinned link is detached once no
// process holds it) and the directory. A missing dir is not an error.
func Uninstall(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("uninstall steering: %w", err)
	}
	var errs []error
	// Links first, so no program runs with its maps gone.
	for _, first := range []bool{true, false} {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), linkPrefix) != first {
				continue
			}
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("uninstall steering: %w", err))
			}
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("uninstall steering: %w", err))
	}
	return errors.Join(errs...)
}
