package testenv

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Zone is an authoritative DNS server on loopback for a test's domains
// (UDP), answering from records set with Set.
type Zone struct {
	Addr string // host:port to put in [dns] nameserver

	mu  sync.Mutex
	rrs map[string][]dns.RR // "name.|TYPE"
	nx  map[string]bool     // names answered NXDOMAIN
}

// StartDNS starts a Zone, stopped when the test ends.
func StartDNS(t testing.TB) *Zone {
	t.Helper()
	z := &Zone{rrs: map[string][]dns.RR{}, nx: map[string]bool{}}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: z}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	z.Addr = pc.LocalAddr().String()
	return z
}

// Set adds records in zone-file syntax ("b.test. 60 IN MX 10 mx.b.test.").
func (z *Zone) Set(t testing.TB, records ...string) {
	t.Helper()
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatalf("testenv: bad record %q: %v", r, err)
		}
		h := rr.Header()
		k := strings.ToLower(h.Name) + "|" + dns.TypeToString[h.Rrtype]
		z.rrs[k] = append(z.rrs[k], rr)
	}
}

// Clear removes the records of one name and type ("A", "MX"...).
func (z *Zone) Clear(name, typ string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	delete(z.rrs, strings.ToLower(dns.Fqdn(name))+"|"+typ)
}

// NXDomain makes name answer NXDOMAIN.
func (z *Zone) NXDomain(name string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.nx[strings.ToLower(dns.Fqdn(name))] = true
}

// ServeDNS implements dns.Handler.
func (z *Zone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	z.mu.Lock()
	if z.nx[name] {
		resp.Rcode = dns.RcodeNameError
	} else {
		resp.Answer = append(resp.Answer, z.rrs[name+"|"+dns.TypeToString[q.Qtype]]...)
	}
	z.mu.Unlock()
	_ = w.WriteMsg(resp)
}

// SharedPort returns a TCP port free on every one of hosts (e.g.
// 127.0.0.2 and 127.0.0.3, so two instances can use one smtp port), or
// skips the test where those addresses cannot be bound.
func SharedPort(t testing.TB, hosts ...string) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", net.JoinHostPort(hosts[0], "0"))
		if err != nil {
			t.Skipf("cannot bind %s: %v", hosts[0], err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		ok := true
		for _, h := range hosts[1:] {
			l2, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			l2.Close()
		}
		l.Close()
		if ok {
			return port
		}
	}
	t.Fatalf("testenv: no port free on all of %v", hosts)
	return 0
}
