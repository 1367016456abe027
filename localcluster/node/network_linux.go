package node

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Default name prefixes of what the node creates.
const (
	DefaultNetnsPrefix = "gp-"
	DefaultVethPrefix  = "gpv"
	netnsDir           = "/run/netns"
)

// podNames returns the network namespace and host veth names of a pod
// (a veth name has at most 15 bytes).
func podNames(uid, netnsPrefix, vethPrefix string) (nsName, veth string) {
	sum := sha256.Sum256([]byte(uid))
	h := hex.EncodeToString(sum[:])
	return netnsPrefix + h[:12], vethPrefix + h[:15-len(vethPrefix)]
}

// network owns the bridge and the pods' namespaces and veths.
type network struct {
	bridge  string
	gateway netip.Addr
	prefix  netip.Prefix
}

// ensureBridge creates the bridge with the gateway address, turns on
// forwarding and bridge netfilter so kube-proxy's Service NAT applies to
// pod-to-pod traffic on the bridge.
func (n *network) ensureBridge() error {
	link, err := netlink.LinkByName(n.bridge)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return fmt.Errorf("look up bridge %s: %w", n.bridge, err)
		}
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.bridge}}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("create bridge %s: %w", n.bridge, err)
		}
		if link, err = netlink.LinkByName(n.bridge); err != nil {
			return fmt.Errorf("look up bridge %s: %w", n.bridge, err)
		}
	}
	if link.Type() != "bridge" {
		return fmt.Errorf("link %s exists and is a %s, not a bridge (remove it or choose --bridge)", n.bridge, link.Type())
	}
	// A bridge without an address of its own takes the lowest MAC of its
	// ports, so it changed as pods came and went, and pods kept sending to
	// the gateway's old MAC until their ARP entry expired: connections to
	// the host (the node proxy) timed out after pod churn. A fixed address
	// stays.
	if mac := addrMAC(n.gateway); !bytes.Equal(link.Attrs().HardwareAddr, mac) {
		if err := netlink.LinkSetHardwareAddr(link, mac); err != nil {
			return fmt.Errorf("set address %s of bridge %s: %w", mac, n.bridge, err)
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: n.gateway.AsSlice(), Mask: net.CIDRMask(n.prefix.Bits(), 32)}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("address bridge %s: %w", n.bridge, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bring up bridge %s: %w", n.bridge, err)
	}
	if err := writeSysctl("net/ipv4/ip_forward", "1"); err != nil {
		return err
	}
	if _, err := os.Stat("/proc/sys/net/bridge"); err != nil {
		return fmt.Errorf("bridge netfilter is not available (/proc/sys/net/bridge missing): load it with `modprobe br_netfilter` (apt-get install kmod) and retry")
	}
	return writeSysctl("net/bridge/bridge-nf-call-iptables", "1")
}

// addrMAC is the fixed MAC of the interface holding ip (the bridge for
// the gateway, a pod's eth0 for its IP): locally administered, unicast,
// ending in the address's last three bytes. A pod IP used again by a new
// pod keeps its MAC, so neighbours' ARP entries for it stay right; with
// random MACs, the host kept sending to a deleted pod's MAC and new pods
// failed readiness probes for half a minute.
func addrMAC(addr netip.Addr) net.HardwareAddr {
	ip := addr.As4()
	return net.HardwareAddr{0x02, 0x67, 0x70, ip[1], ip[2], ip[3]}
}

func writeSysctl(key, val string) error {
	p := filepath.Join("/proc/sys", key)
	if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == val {
		return nil
	}
	if err := os.WriteFile(p, []byte(val), 0o644); err != nil {
		return fmt.Errorf("set sysctl %s=%s: %w", strings.ReplaceAll(key, "/", "."), val, err)
	}
	return nil
}

// setupPod creates the pod's network namespace, a veth pair with eth0 inside
// holding ip and a default route via the gateway, and the host end on the
// bridge in hairpin mode. It is idempotent for a half-made pod.
func (n *network) setupPod(nsName, veth string, ip netip.Addr) error {
	n.teardownPod(nsName, veth)
	ns, err := newNamedNetns(nsName)
	if err != nil {
		return err
	}
	defer ns.Close()
	br, err := netlink.LinkByName(n.bridge)
	if err != nil {
		return fmt.Errorf("look up bridge %s: %w", n.bridge, err)
	}
	v := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: veth, MasterIndex: br.Attrs().Index},
		PeerName:         "eth0",
		PeerNamespace:    netlink.NsFd(int(ns)),
		PeerHardwareAddr: addrMAC(ip),
	}
	if err := netlink.LinkAdd(v); err != nil {
		return fmt.Errorf("create veth %s: %w", veth, err)
	}
	host, err := netlink.LinkByName(veth)
	if err != nil {
		return fmt.Errorf("look up veth %s: %w", veth, err)
	}
	if err := netlink.LinkSetHairpin(host, true); err != nil {
		return fmt.Errorf("set hairpin on %s: %w", veth, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("bring up %s: %w", veth, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("open netlink in %s: %w", nsName, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("look up lo in %s: %w", nsName, err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bring up lo in %s: %w", nsName, err)
	}
	eth, err := h.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("look up eth0 in %s: %w", nsName, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(n.prefix.Bits(), 32)}}
	if err := h.AddrAdd(eth, addr); err != nil {
		return fmt.Errorf("address eth0 in %s: %w", nsName, err)
	}
	if err := h.LinkSetUp(eth); err != nil {
		return fmt.Errorf("bring up eth0 in %s: %w", nsName, err)
	}
	route := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: n.gateway.AsSlice()}
	if err := h.RouteAdd(route); err != nil {
		return fmt.Errorf("add default route in %s: %w", nsName, err)
	}
	return nil
}

// newNamedNetns creates /run/netns/<name> without leaving the calling
// thread in it.
func newNamedNetns(name string) (netns.NsHandle, error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return netns.None(), fmt.Errorf("get current netns: %w", err)
	}
	defer orig.Close()
	ns, err := netns.NewNamed(name)
	if rerr := netns.Set(orig); rerr != nil {
		// This thread is in the wrong namespace: keep it locked so the
		// runtime throws it away when the goroutine ends.
		return netns.None(), fmt.Errorf("restore netns after creating %s: %w", name, rerr)
	}
	runtime.UnlockOSThread()
	if err != nil {
		return netns.None(), fmt.Errorf("create netns %s: %w", name, err)
	}
	return ns, nil
}

// teardownPod removes the pod's namespace and host veth; missing pieces are
// fine.
func (n *network) teardownPod(nsName, veth string) {
	if l, err := netlink.LinkByName(veth); err == nil {
		_ = netlink.LinkDel(l) // gone with the namespace anyway
	}
	_ = deleteNetns(nsName)
}

func deleteNetns(name string) error {
	p := filepath.Join(netnsDir, name)
	if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := netns.DeleteNamed(name); err != nil {
		// Not a mount point any more (half-made): just remove the file.
		if rerr := os.Remove(p); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return fmt.Errorf("delete netns %s: %w", name, err)
		}
	}
	return nil
}

// cleanupNetwork removes every namespace and veth with the prefixes, and
// the bridge (if named).
func cleanupNetwork(bridge, netnsPrefix, vethPrefix string) error {
	var errs []error
	if entries, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), netnsPrefix) {
				if err := deleteNetns(e.Name()); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	links, err := listLinks()
	if err != nil {
		return err
	}
	for _, l := range links {
		name := l.Attrs().Name
		if strings.HasPrefix(name, vethPrefix) || (bridge != "" && name == bridge) {
			if err := netlink.LinkDel(l); err != nil {
				var nf netlink.LinkNotFoundError
				if !errors.As(err, &nf) && !errors.Is(err, unix.ENODEV) {
					errs = append(errs, fmt.Errorf("delete link %s: %w", name, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// listLinks lists the host's links. The kernel interrupts a dump when links
// change during it (pods of a previous node still going away), so an
// interrupted dump is retried; after several it is an error.
func listLinks() ([]netlink.Link, error) {
	const attempts = 10
	var err error
	for i := 0; i < attempts; i++ {
		var links []netlink.Link
		if links, err = netlink.LinkList(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			if err != nil {
				return nil, fmt.Errorf("list links: %w", err)
			}
			return links, nil
		}
		time.Sleep(time.Duration(i+1) * 20 * time.Millisecond)
	}
	return nil, fmt.Errorf("list links: interrupted %d times while links kept changing: %w", attempts, err)
}
