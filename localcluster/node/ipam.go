package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
)

// ErrPoolExhausted is returned by [IPAM.Allocate] when every address is taken.
var ErrPoolExhausted = errors.New("pod address pool exhausted")

// IPAM hands out pod addresses from a prefix, lowest free first starting
// right after the gateway, and persists the assignment (pod UID -> address)
// in a JSON file so a restarted node neither reuses a live address nor
// changes a recreated pod's address. It is safe for concurrent use.
type IPAM struct {
	mu     sync.Mutex
	path   string
	prefix netip.Prefix
	first  netip.Addr
	byUID  map[string]netip.Addr
}

// OpenIPAM loads (or starts) the allocation file at path for prefix; the
// first address handed out is gateway+1.
func OpenIPAM(path string, prefix netip.Prefix, gateway netip.Addr) (*IPAM, error) {
	prefix = prefix.Masked()
	if !prefix.Addr().Is4() || !prefix.Contains(gateway) {
		return nil, fmt.Errorf("open ipam: gateway %s must be an IPv4 address inside %s", gateway, prefix)
	}
	a := &IPAM{path: path, prefix: prefix, first: gateway.Next(), byUID: map[string]netip.Addr{}}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read ipam state: %w", err)
	default:
		if err := json.Unmarshal(b, &a.byUID); err != nil {
			return nil, fmt.Errorf("parse ipam state %s: %w (delete it or run `gamma-localnode cleanup`)", path, err)
		}
	}
	return a, nil
}

// Allocate returns the address of pod uid, assigning the lowest free one if
// the pod has none yet.
func (a *IPAM) Allocate(uid string) (netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ip, ok := a.byUID[uid]; ok {
		return ip, nil
	}
	used := make(map[netip.Addr]bool, len(a.byUID))
	for _, ip := range a.byUID {
		used[ip] = true
	}
	bcast := lastAddr(a.prefix)
	for ip := a.first; a.prefix.Contains(ip) && ip != bcast; ip = ip.Next() {
		if used[ip] {
			continue
		}
		a.byUID[uid] = ip
		if err := a.save(); err != nil {
			delete(a.byUID, uid)
			return netip.Addr{}, err
		}
		return ip, nil
	}
	return netip.Addr{}, fmt.Errorf("allocate address in %s: %w", a.prefix, ErrPoolExhausted)
}

// Release frees the address of pod uid; releasing an unknown pod is a no-op.
func (a *IPAM) Release(uid string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.byUID[uid]; !ok {
		return nil
	}
	delete(a.byUID, uid)
	return a.save()
}

// Retain releases every address whose pod keep reports as gone.
func (a *IPAM) Retain(keep func(uid string) bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	changed := false
	for uid := range a.byUID {
		if !keep(uid) {
			delete(a.byUID, uid)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return a.save()
}

// Lookup returns the pod UID holding ip.
func (a *IPAM) Lookup(ip netip.Addr) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for uid, got := range a.byUID {
		if got == ip {
			return uid, true
		}
	}
	return "", false
}

func (a *IPAM) save() error {
	b, err := json.MarshalIndent(a.byUID, "", "  ")
	if err != nil {
		return fmt.Errorf("encode ipam state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(a.path), 0o755); err != nil {
		return fmt.Errorf("create ipam dir: %w", err)
	}
	tmp := a.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write ipam state: %w", err)
	}
	if err := os.Rename(tmp, a.path); err != nil {
		return fmt.Errorf("write ipam state: %w", err)
	}
	return nil
}

// lastAddr is the broadcast address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := 32 - p.Bits()
	for i := 3; i >= 0 && host > 0; i-- {
		n := min(host, 8)
		b[i] |= byte(1<<n - 1)
		host -= n
	}
	return netip.AddrFrom4(b)
}
