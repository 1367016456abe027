package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ServiceLookup answers the questions cluster DNS asks. Implementations must
// be safe for concurrent use.
type ServiceLookup interface {
	// Service returns the addresses of Service ns/name: its ClusterIPs, or
	// the ready endpoint addresses for a headless Service. ok is false when
	// the Service does not exist.
	Service(ns, name string) (ips []netip.Addr, ok bool)
	// Namespace returns the namespace of the pod with address ip, so a bare
	// "<svc>." query is answered for the asking pod's namespace.
	Namespace(ip netip.Addr) (string, bool)
}

// DNSServer is the cluster DNS: a small authoritative server for the
// cluster domain on github.com/miekg/dns, run inside the node process.
//
// Why not CoreDNS: there is no image to run it from (nothing is pulled
// here), it would be one process and one pod more to start, wait for and
// clean up, and this server answers from the node's informers in
// milliseconds after start. It answers A for <svc>, <svc>.<ns>,
// <svc>.<ns>.svc and <svc>.<ns>.svc.<domain> (ClusterIP, or ready endpoint
// addresses for headless Services), NXDOMAIN for other names in the cluster
// domain, and REFUSED for everything else: there is no upstream, because
// there is no internet here.
type DNSServer struct {
	// Domain is the cluster domain, such as "cluster.local".
	Domain string
	// Lookup answers the questions.
	Lookup ServiceLookup
	// TTL of answers. Optional: 5 seconds.
	TTL uint32
}

// ServeDNS implements [dns.Handler].
func (s *DNSServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := s.answer(req, remoteIP(w.RemoteAddr()))
	_ = w.WriteMsg(m) // the client is gone; nothing to do
}

func remoteIP(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

func (s *DNSServer) answer(req *dns.Msg, from netip.Addr) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = false
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return m
	}
	q := req.Question[0]
	if q.Qclass != dns.ClassINET {
		m.Rcode = dns.RcodeRefused
		return m
	}
	ns, svc, inDomain, ok := s.parse(q.Name, from)
	var ips []netip.Addr
	if ok {
		ips, ok = s.Lookup.Service(ns, svc)
	}
	if !ok {
		return miss(m, inDomain)
	}
	ttl := s.TTL
	if ttl == 0 {
		ttl = 5
	}
	for _, ip := range ips {
		hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: ttl}
		switch {
		case ip.Is4() && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY):
			hdr.Rrtype = dns.TypeA
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: net.IP(ip.AsSlice())})
		case ip.Is6() && (q.Qtype == dns.TypeAAAA || q.Qtype == dns.TypeANY):
			hdr.Rrtype = dns.TypeAAAA
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: net.IP(ip.AsSlice())})
		}
	}
	return m // NOERROR, possibly with no answer (e.g. AAAA for an IPv4 Service)
}

// miss answers a name that resolves to no Service: NXDOMAIN inside the
// cluster domain, REFUSED (not authoritative) outside it.
func miss(m *dns.Msg, inDomain bool) *dns.Msg {
	if inDomain {
		m.Rcode = dns.RcodeNameError
	} else {
		m.Rcode = dns.RcodeRefused
		m.Authoritative = false
	}
	return m
}

// parse splits a query name into namespace and Service. inDomain reports
// whether the name is inside the cluster domain (so a miss is NXDOMAIN).
func (s *DNSServer) parse(name string, from netip.Addr) (ns, svc string, inDomain, ok bool) {
	name = strings.ToLower(strings.TrimSuffix(dns.Fqdn(name), "."))
	domain := strings.ToLower(strings.Trim(s.Domain, "."))
	if name == domain || strings.HasSuffix(name, "."+domain) {
		rest := strings.TrimSuffix(strings.TrimSuffix(name, domain), ".")
		l := strings.Split(rest, ".")
		if len(l) == 3 && l[2] == "svc" && l[0] != "" && l[1] != "" {
			return l[1], l[0], true, true
		}
		return "", "", true, false
	}
	l := strings.Split(name, ".")
	switch {
	case len(l) == 3 && l[2] == "svc":
		return l[1], l[0], false, true
	case len(l) == 2:
		return l[1], l[0], false, true
	case len(l) == 1 && l[0] != "":
		if pns, found := s.Lookup.Namespace(from); found {
			return pns, l[0], false, true
		}
	}
	return "", "", false, false
}

// ListenAndServe serves UDP and TCP on addr until ctx is done. It returns
// once both listeners are bound (or with the bind error); serving errors are
// sent on the returned channel.
func (s *DNSServer) ListenAndServe(ctx context.Context, addr string) (<-chan error, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen dns udp %s: %w (is another DNS server using port 53?)", addr, err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("listen dns tcp %s: %w (is another DNS server using port 53?)", addr, err)
	}
	udp := &dns.Server{PacketConn: pc, Handler: s, ReadTimeout: 2 * time.Second}
	tcp := &dns.Server{Listener: l, Handler: s, ReadTimeout: 2 * time.Second}
	errc := make(chan error, 4)
	for _, srv := range []*dns.Server{udp, tcp} {
		go func() {
			if err := srv.ActivateAndServe(); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("serve dns: %w", err)
			}
		}()
	}
	go func() {
		<-ctx.Done()
		for _, srv := range []*dns.Server{udp, tcp} {
			if err := srv.Shutdown(); err != nil && !errors.Is(err, net.ErrClosed) {
				errc <- fmt.Errorf("stop dns: %w", err)
			}
		}
	}()
	return errc, nil
}
