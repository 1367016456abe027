package steer

import (
	"fmt"
	"net/netip"
)

// AnyNamespace is the caller namespace id of a steering entry that applies
// to callers from every namespace. A namespace-specific entry wins over it.
const AnyNamespace uint32 = 0

// Key selects the connections a steering entry applies to: TCP connect()s
// to VIP:Port made by a process whose cgroup maps to CallerNamespace.
type Key struct {
	CallerNamespace uint32     // namespace id from the cgroup map, or AnyNamespace
	VIP             netip.Addr // IPv4 Service address
	Port            uint16     // Service port
}

// Target is where a steered connection goes: the node proxy's listener.
type Target struct {
	IP   netip.Addr // IPv4
	Port uint16
}

func (k Key) String() string {
	return fmt.Sprintf("ns%d/%s", k.CallerNamespace, netip.AddrPortFrom(k.VIP, k.Port))
}

func (t Target) String() string {
	return netip.AddrPortFrom(t.IP, t.Port).String()
}

// ipv4 returns a as a 4-byte address or an error naming what.
func ipv4(what string, a netip.Addr) ([4]byte, error) {
	a = a.Unmap()
	if !a.Is4() {
		return [4]byte{}, fmt.Errorf("%s %q is not an IPv4 address: only IPv4 is steered", what, a)
	}
	return a.As4(), nil
}
