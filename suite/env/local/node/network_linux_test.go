package node

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/vishvananda/netlink"
)

// TestBridgeKeepsItsAddress checks that the bridge's MAC does not follow
// its ports: a port with a lower MAC joins and leaves, and the gateway's
// address pods have in their ARP caches stays valid.
func TestBridgeKeepsItsAddress(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test creates a bridge and needs root; run it with sudo")
	}
	n := &network{bridge: "gpt-br0", gateway: netip.MustParseAddr("198.18.250.1"), prefix: netip.MustParsePrefix("198.18.250.0/24")}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(n.bridge); err == nil {
			netlink.LinkDel(l)
		}
	})
	if err := n.ensureBridge(); err != nil {
		t.Fatal(err)
	}
	want := addrMAC(n.gateway)
	low := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "gpt-low0", HardwareAddr: net.HardwareAddr{0, 0, 0, 0, 0, 1}}, PeerName: "gpt-low1"}
	if err := netlink.LinkAdd(low); err != nil {
		t.Fatal(err)
	}
	defer netlink.LinkDel(low)
	br, err := netlink.LinkByName(n.bridge)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetMaster(low, br); err != nil {
		t.Fatal(err)
	}
	if err := n.ensureBridge(); err != nil { // a restarted node finds the bridge
		t.Fatal(err)
	}
	br, err = netlink.LinkByName(n.bridge)
	if err != nil {
		t.Fatal(err)
	}
	if got := br.Attrs().HardwareAddr; !bytes.Equal(got, want) {
		t.Errorf("bridge MAC with a port of MAC 00:00:00:00:00:01 = %s, want %s", got, want)
	}
}
