package node

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

type fakeLookup struct {
	svcs map[string][]netip.Addr
	pods map[netip.Addr]string
}

func (f fakeLookup) Service(ns, name string) ([]netip.Addr, bool) {
	ips, ok := f.svcs[ns+"/"+name]
	return ips, ok
}

func (f fakeLookup) Namespace(ip netip.Addr) (string, bool) {
	ns, ok := f.pods[ip]
	return ns, ok
}

func TestDNSServer(t *testing.T) {
	lookup := fakeLookup{
		svcs: map[string][]netip.Addr{
			"default/bookstore": {netip.MustParseAddr("198.19.0.10")},
			"team-b/headless":   {netip.MustParseAddr("198.18.0.7"), netip.MustParseAddr("198.18.0.8")},
			"default/empty":     nil,
		},
		pods: map[netip.Addr]string{netip.MustParseAddr("127.0.0.1"): "default"},
	}
	srv := &DNSServer{Domain: "cluster.local", Lookup: lookup}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// Find a free port for both UDP and TCP.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if _, err := srv.ListenAndServe(ctx, addr); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		qtype uint16
		rcode int
		want  []string
	}{
		{"bookstore.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"198.19.0.10"}},
		{"BookStore.Default.svc.Cluster.Local.", dns.TypeA, dns.RcodeSuccess, []string{"198.19.0.10"}},
		{"bookstore.default.svc.", dns.TypeA, dns.RcodeSuccess, []string{"198.19.0.10"}},
		{"bookstore.default.", dns.TypeA, dns.RcodeSuccess, []string{"198.19.0.10"}},
		{"bookstore.", dns.TypeA, dns.RcodeSuccess, []string{"198.19.0.10"}}, // asker's namespace
		{"headless.team-b.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"198.18.0.7", "198.18.0.8"}},
		{"bookstore.default.svc.cluster.local.", dns.TypeAAAA, dns.RcodeSuccess, nil},
		{"empty.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, nil},
		{"missing.default.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil},
		{"bookstore.default.pod.cluster.local.", dns.TypeA, dns.RcodeNameError, nil},
		{"cluster.local.", dns.TypeA, dns.RcodeNameError, nil},
		{"example.com.", dns.TypeA, dns.RcodeRefused, nil},
		{"a.b.c.example.com.", dns.TypeA, dns.RcodeRefused, nil},
	}
	for _, proto := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: proto, Timeout: 2 * time.Second}
		for _, tt := range tests {
			m := new(dns.Msg)
			m.SetQuestion(tt.name, tt.qtype)
			r, _, err := c.Exchange(m, addr)
			if err != nil {
				t.Fatalf("%s %s: %v", proto, tt.name, err)
			}
			if r.Rcode != tt.rcode {
				t.Errorf("%s %s %s: rcode %s, want %s", proto, tt.name, dns.TypeToString[tt.qtype], dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
			}
			var got []string
			for _, rr := range r.Answer {
				if a, ok := rr.(*dns.A); ok {
					got = append(got, a.A.String())
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s %s: answers %v, want %v", proto, tt.name, got, tt.want)
			}
		}
	}
}
