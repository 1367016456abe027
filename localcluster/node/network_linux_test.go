package node

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"

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

// TestListLinksWhileLinksChange lists links while another goroutine keeps
// adding and deleting some, as a node's cleanup does while the kernel
// still removes the veths of a previous node's pods: every list succeeds
// (the kernel interrupts such dumps; they are retried).
func TestListLinksWhileLinksChange(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test creates links and needs root; run it with sudo")
	}
	var churns atomic.Int64
	var churnErr atomic.Pointer[error]
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			default:
			}
			v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "gpt-churn0"}, PeerName: "gpt-churn1"}
			if err := netlink.LinkAdd(v); err != nil {
				err = fmt.Errorf("add veth: %w", err)
				churnErr.Store(&err)
				return
			}
			netlink.LinkDel(v)
			churns.Add(1)
		}
	}()
	defer func() { close(done); <-stopped }()
	// List until the links changed often enough during the lists.
	deadline := time.Now().Add(20 * time.Second)
	lists := 0
	for ; churns.Load() < 100 || lists < 200; lists++ {
		if err := churnErr.Load(); err != nil {
			t.Fatalf("change links: %v", *err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d link changes in 20s; the test proves nothing", churns.Load())
		}
		if _, err := listLinks(); err != nil {
			t.Fatalf("list %d, after %d link changes: %v", lists, churns.Load(), err)
		}
	}
	t.Logf("%d lists during %d link changes", lists, churns.Load())
}
