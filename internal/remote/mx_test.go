package remote

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testTimeout is the per-query timeout in tests: long enough for a
// loopback server, short enough that a dead server costs little.
const testTimeout = 300 * time.Millisecond

// testDNS is an authoritative DNS server on loopback, over UDP and TCP on
// the same port, answering from a zone held in memory.
type testDNS struct {
	zone     map[string][]dns.RR // owner (lower-case FQDN) → records
	rcode    map[string]int      // "owner" or "owner TYPE" → rcode to answer with
	noChase  map[string]bool     // CNAME owners whose target lies outside "our" zone
	truncUDP map[string]bool     // owners answered over UDP with TC set and nothing else

	addr string // "127.0.0.1:port"

	// mu guards the maps above, which tests change while the server runs,
	// and the query log.
	mu      sync.Mutex
	queries []string // "udp MX example.com."
}

// failWith makes the server answer rcode for key: "owner." or "owner. TYPE".
func (s *testDNS) failWith(key string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcode[key] = rcode
}

// truncate makes the server answer queries for owner over UDP with TC set.
func (s *testDNS) truncate(owner string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncUDP[owner] = true
}

// dontChase makes the server answer the CNAME of owner without its target,
// as an authoritative server does when the target is in another zone.
func (s *testDNS) dontChase(owner string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noChase[owner] = true
}

// newTestDNS starts a server for the records given in zone-file syntax.
func newTestDNS(t *testing.T, records ...string) *testDNS {
	t.Helper()
	s := &testDNS{
		zone:     map[string][]dns.RR{},
		rcode:    map[string]int{},
		noChase:  map[string]bool{},
		truncUDP: map[string]bool{},
	}
	for _, text := range records {
		rr, err := dns.NewRR(text)
		if err != nil {
			t.Fatalf("parse %q: %v", text, err)
		}
		owner := strings.ToLower(rr.Header().Name)
		s.zone[owner] = append(s.zone[owner], rr)
	}
	pc, ln := listenUDPAndTCP(t)
	s.addr = pc.LocalAddr().String()
	serve(t, &dns.Server{PacketConn: pc, Handler: s})
	serve(t, &dns.Server{Listener: ln, Handler: s})
	return s
}

// listenUDPAndTCP opens a UDP socket and a TCP listener on the same
// loopback port, trying again if another process holds the TCP port.
func listenUDPAndTCP(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen udp: %v", err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return nil, nil
}

func serve(t *testing.T, srv *dns.Server) {
	t.Helper()
	started := make(chan struct{})
	failed := make(chan error, 1)
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { failed <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-failed:
		t.Fatalf("dns server: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("dns server did not start")
	}
	t.Cleanup(func() { srv.Shutdown() })
}

func (s *testDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	network := w.LocalAddr().Network()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, network+" "+dns.TypeToString[q.Qtype]+" "+name)

	rc, ok := s.rcode[name+" "+dns.TypeToString[q.Qtype]]
	if !ok {
		rc, ok = s.rcode[name]
	}
	switch {
	case ok:
		resp.Rcode = rc
	case s.truncUDP[name] && network == "udp":
		resp.Truncated = true
	default:
		s.resolve(resp, name, q.Qtype)
	}
	// A failed write shows up as a timeout on the client's side, where
	// the test checks it.
	_ = w.WriteMsg(resp)
}

// resolve fills in the answer, following CNAMEs within the zone as a
// recursive server would. s.mu is held.
func (s *testDNS) resolve(resp *dns.Msg, owner string, qtype uint16) {
	for range 10 {
		rrs, exists := s.zone[owner]
		if !exists {
			resp.Rcode = dns.RcodeNameError
			return
		}
		var cname *dns.CNAME
		for _, rr := range rrs {
			if c, ok := rr.(*dns.CNAME); ok {
				cname = c
			} else if rr.Header().Rrtype == qtype {
				resp.Answer = append(resp.Answer, rr)
			}
		}
		if cname == nil {
			return
		}
		resp.Answer = append(resp.Answer, cname)
		if s.noChase[owner] {
			return
		}
		owner = strings.ToLower(cname.Target)
	}
}

func (s *testDNS) log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.queries)
}

// resolver returns a Resolver asking only s, with a shuffle that sorts
// hosts of equal preference by name in reverse, so a test can tell that
// shuffling happened and where.
func (s *testDNS) resolver() *Resolver {
	return &Resolver{
		Nameservers: []string{s.addr},
		Timeout:     testTimeout,
		Shuffle: func(h []MXHost) {
			slices.SortFunc(h, func(a, b MXHost) int { return strings.Compare(b.Name, a.Name) })
		},
	}
}

// silentServer returns the address of a UDP socket that never answers.
func silentServer(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

// closedPort returns the address of a UDP port nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func hostNames(r Route) []string {
	var names []string
	for _, h := range r.Hosts {
		names = append(names, h.Name)
	}
	return names
}

// lookupErr checks that err is a *LookupError with the given class.
func lookupErr(t *testing.T, err error, permanent bool, status string) *LookupError {
	t.Helper()
	var lerr *LookupError
	if !errors.As(err, &lerr) {
		t.Fatalf("error %v (%T), want *LookupError", err, err)
	}
	if lerr.Permanent != permanent || lerr.Status != status {
		t.Fatalf("error %v: Permanent=%v Status=%q, want %v %q", err, lerr.Permanent, lerr.Status, permanent, status)
	}
	return lerr
}

func TestLookupMXOrder(t *testing.T) {
	s := newTestDNS(t,
		"example.com. MX 10 a.example.com.",
		"example.com. MX 10 B.Example.com.",
		"example.com. MX 20 c.example.com.",
		"example.com. MX 5 d.example.com.",
		"example.com. MX 30 a.example.com.", // repeated: the preference 10 one counts
		"example.com. MX 1 192.0.2.1.",      // an IP address is no host name
		"example.com. MX 2 .",               // empty exchange, not preference 0: no null MX
	)
	var groups [][]string
	r := s.resolver()
	sortDesc := r.Shuffle
	r.Shuffle = func(h []MXHost) {
		var g []string
		for _, x := range h {
			g = append(g, x.Name)
		}
		groups = append(groups, g)
		sortDesc(h)
	}
	route, err := r.LookupMX(context.Background(), "Example.COM.")
	if err != nil {
		t.Fatal(err)
	}
	want := []MXHost{
		{Name: "d.example.com", Preference: 5},
		{Name: "b.example.com", Preference: 10},
		{Name: "a.example.com", Preference: 10},
		{Name: "c.example.com", Preference: 20},
	}
	if !slices.Equal(route.Hosts, want) {
		t.Errorf("hosts %+v, want %+v", route.Hosts, want)
	}
	if route.Domain != "Example.COM" {
		t.Errorf("domain %q, want the one given without its dot", route.Domain)
	}
	if len(groups) != 1 || len(groups[0]) != 2 {
		t.Errorf("Shuffle called with %v, want once with the two preference-10 hosts", groups)
	}
	if log := s.log(); len(log) != 1 || log[0] != "udp MX example.com." {
		t.Errorf("queries %v, want one MX query over UDP", log)
	}
}

func TestLookupMXDefaultShuffleKeepsPreferences(t *testing.T) {
	s := newTestDNS(t,
		"example.com. MX 10 a.example.com.",
		"example.com. MX 10 b.example.com.",
		"example.com. MX 10 c.example.com.",
		"example.com. MX 20 z.example.com.",
	)
	r := s.resolver()
	r.Shuffle = nil
	route, err := r.LookupMX(context.Background(), "example.com")
	if err != nil {
		t.Fatal(err)
	}
	names := hostNames(route)
	if len(names) != 4 || names[3] != "z.example.com" {
		t.Fatalf("hosts %v, want the three preference-10 ones then z", names)
	}
	first := slices.Sorted(slices.Values(names[:3]))
	if !slices.Equal(first, []string{"a.example.com", "b.example.com", "c.example.com"}) {
		t.Errorf("first hosts %v, want a, b and c in some order", names[:3])
	}
}

func TestLookupMXImplicit(t *testing.T) {
	s := newTestDNS(t,
		"v4.example. A 192.0.2.1",
		"v6.example. AAAA 2001:db8::1",
	)
	for _, domain := range []string{"v4.example", "v6.example"} {
		t.Run(domain, func(t *testing.T) {
			route, err := s.resolver().LookupMX(context.Background(), domain)
			if err != nil {
				t.Fatal(err)
			}
			want := []MXHost{{Name: domain, Preference: 0, Implicit: true}}
			if !slices.Equal(route.Hosts, want) {
				t.Errorf("hosts %+v, want %+v", route.Hosts, want)
			}
		})
	}
}

func TestLookupMXNoMailServer(t *testing.T) {
	s := newTestDNS(t, "demodomain.tw. TXT \"v=spf1 -all\"")
	_, err := s.resolver().LookupMX(context.Background(), "demodomain.tw")
	lerr := lookupErr(t, err, true, "5.1.2")
	if want := "demodomain.tw has no mail server (no MX record and no address)"; lerr.Reason != want {
		t.Errorf("reason %q, want %q", lerr.Reason, want)
	}
	if lerr.Cause != CauseNoMailServer {
		t.Errorf("cause %v, want CauseNoMailServer", lerr.Cause)
	}
	if lerr.Domain != "demodomain.tw" {
		t.Errorf("domain %q", lerr.Domain)
	}
}

func TestLookupMXImplicitAddressTemporaryFailure(t *testing.T) {
	s := newTestDNS(t, "flaky.example. TXT \"x\"")
	s.failWith("flaky.example. A", dns.RcodeServerFailure)
	_, err := s.resolver().LookupMX(context.Background(), "flaky.example")
	lerr := lookupErr(t, err, false, "4.4.3")
	if lerr.Domain != "flaky.example" {
		t.Errorf("domain %q", lerr.Domain)
	}
}

func TestLookupMXNull(t *testing.T) {
	s := newTestDNS(t,
		"example.org. MX 0 .",
		"example.org. A 192.0.2.1", // an address does not bring back the implicit MX
	)
	_, err := s.resolver().LookupMX(context.Background(), "example.org")
	lerr := lookupErr(t, err, true, "5.1.10")
	if want := "example.org accepts no mail (null MX)"; lerr.Reason != want {
		t.Errorf("reason %q, want %q", lerr.Reason, want)
	}
	if lerr.Cause != CauseNullMX {
		t.Errorf("cause %v, want CauseNullMX", lerr.Cause)
	}
}

func TestLookupMXNullWithRealMX(t *testing.T) {
	s := newTestDNS(t,
		"example.org. MX 0 .",
		"example.org. MX 10 mx.example.org.",
	)
	route, err := s.resolver().LookupMX(context.Background(), "example.org")
	if err != nil {
		t.Fatal(err)
	}
	if want := []MXHost{{Name: "mx.example.org", Preference: 10}}; !slices.Equal(route.Hosts, want) {
		t.Errorf("hosts %+v, want %+v", route.Hosts, want)
	}
}

// MX records that name no usable host leave no implicit MX to fall back
// to; an empty exchange at a preference other than 0 is no null MX.
func TestLookupMXOnlyUnusableExchanges(t *testing.T) {
	s := newTestDNS(t,
		"literal.example. MX 10 192.0.2.7.",
		"literal.example. A 192.0.2.7",
		"empty.example. MX 10 .",
	)
	for _, domain := range []string{"literal.example", "empty.example"} {
		_, err := s.resolver().LookupMX(context.Background(), domain)
		lerr := lookupErr(t, err, true, "5.1.2")
		if want := domain + " has no mail server (its MX records name no host)"; lerr.Reason != want {
			t.Errorf("reason %q, want %q", lerr.Reason, want)
		}
		if lerr.Cause != CauseMXNamesNoHost {
			t.Errorf("cause %v, want CauseMXNamesNoHost", lerr.Cause)
		}
	}
}

func TestLookupMXNXDOMAIN(t *testing.T) {
	s := newTestDNS(t, "other.example. A 192.0.2.1")
	_, err := s.resolver().LookupMX(context.Background(), "example.com")
	lerr := lookupErr(t, err, true, "5.1.2")
	if want := "example.com does not exist (NXDOMAIN)"; lerr.Reason != want {
		t.Errorf("reason %q, want %q", lerr.Reason, want)
	}
	if lerr.Cause != CauseNoSuchDomain {
		t.Errorf("cause %v, want CauseNoSuchDomain", lerr.Cause)
	}
	if want := "remote: 5.1.2 example.com does not exist (NXDOMAIN)"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestLookupMXServerFailure(t *testing.T) {
	for _, tc := range []struct {
		rcode  int
		reason string
	}{
		{dns.RcodeServerFailure, "DNS server failure (SERVFAIL) looking up example.net"},
		{dns.RcodeRefused, "DNS server refused the query (REFUSED) looking up example.net"},
	} {
		t.Run(dns.RcodeToString[tc.rcode], func(t *testing.T) {
			s := newTestDNS(t, "example.net. MX 10 mx.example.net.")
			s.failWith("example.net.", tc.rcode)
			_, err := s.resolver().LookupMX(context.Background(), "example.net")
			lerr := lookupErr(t, err, false, "4.4.3")
			if lerr.Reason != tc.reason {
				t.Errorf("reason %q, want %q", lerr.Reason, tc.reason)
			}
			if lerr.Cause != CauseNone {
				t.Errorf("cause %v, want CauseNone", lerr.Cause)
			}
		})
	}
}

func TestLookupMXNextNameserver(t *testing.T) {
	good := newTestDNS(t, "example.com. MX 10 mx.example.com.")
	failing := newTestDNS(t, "example.com. MX 10 wrong.example.com.")
	failing.failWith("example.com.", dns.RcodeServerFailure)

	for _, tc := range []struct {
		name  string
		first string
	}{
		{"closed port", closedPort(t)},
		{"silent", silentServer(t)},
		{"SERVFAIL", failing.addr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good.resolver()
			r.Nameservers = []string{tc.first, good.addr}
			start := time.Now()
			route, err := r.LookupMX(context.Background(), "example.com")
			if err != nil {
				t.Fatal(err)
			}
			if names := hostNames(route); !slices.Equal(names, []string{"mx.example.com"}) {
				t.Errorf("hosts %v, want the good server's", names)
			}
			if d := time.Since(start); d > 3*testTimeout {
				t.Errorf("took %v, want about one timeout at most", d)
			}
		})
	}

	t.Run("all dead", func(t *testing.T) {
		r := good.resolver()
		r.Nameservers = []string{closedPort(t), silentServer(t)}
		_, err := r.LookupMX(context.Background(), "example.com")
		lerr := lookupErr(t, err, false, "4.4.3")
		if want := "DNS timeout looking up example.com"; lerr.Reason != want {
			t.Errorf("reason %q, want %q (the last server's failure)", lerr.Reason, want)
		}
	})
}

func TestLookupMXTruncatedRetriedOverTCP(t *testing.T) {
	s := newTestDNS(t, "big.example. MX 10 mx.big.example.")
	s.truncate("big.example.")
	route, err := s.resolver().LookupMX(context.Background(), "big.example")
	if err != nil {
		t.Fatal(err)
	}
	if names := hostNames(route); !slices.Equal(names, []string{"mx.big.example"}) {
		t.Errorf("hosts %v", names)
	}
	want := []string{"udp MX big.example.", "tcp MX big.example."}
	if log := s.log(); !slices.Equal(log, want) {
		t.Errorf("queries %v, want %v", log, want)
	}
}

func TestLookupMXCNAME(t *testing.T) {
	t.Run("chain in the answer", func(t *testing.T) {
		s := newTestDNS(t,
			"alias.example. CNAME mid.example.",
			"mid.example. CNAME real.example.",
			"real.example. MX 10 mx.real.example.",
		)
		route, err := s.resolver().LookupMX(context.Background(), "alias.example")
		if err != nil {
			t.Fatal(err)
		}
		if names := hostNames(route); !slices.Equal(names, []string{"mx.real.example"}) {
			t.Errorf("hosts %v", names)
		}
		if log := s.log(); len(log) != 1 {
			t.Errorf("queries %v, want one: the server gave the whole chain", log)
		}
	})

	t.Run("target asked for", func(t *testing.T) {
		s := newTestDNS(t,
			"alias.example. CNAME real.example.",
			"real.example. MX 10 mx.real.example.",
		)
		s.dontChase("alias.example.")
		route, err := s.resolver().LookupMX(context.Background(), "alias.example")
		if err != nil {
			t.Fatal(err)
		}
		if names := hostNames(route); !slices.Equal(names, []string{"mx.real.example"}) {
			t.Errorf("hosts %v", names)
		}
		want := []string{"udp MX alias.example.", "udp MX real.example."}
		if log := s.log(); !slices.Equal(log, want) {
			t.Errorf("queries %v, want %v", log, want)
		}
	})

	t.Run("implicit MX is the canonical name", func(t *testing.T) {
		s := newTestDNS(t,
			"alias.example. CNAME real.example.",
			"real.example. A 192.0.2.3",
		)
		route, err := s.resolver().LookupMX(context.Background(), "alias.example")
		if err != nil {
			t.Fatal(err)
		}
		want := []MXHost{{Name: "real.example", Implicit: true}}
		if !slices.Equal(route.Hosts, want) {
			t.Errorf("hosts %+v, want %+v", route.Hosts, want)
		}
	})

	t.Run("loop", func(t *testing.T) {
		s := newTestDNS(t,
			"a.example. CNAME b.example.",
			"b.example. CNAME a.example.",
		)
		_, err := s.resolver().LookupMX(context.Background(), "a.example")
		lookupErr(t, err, false, "4.4.3")
	})
}

func TestLookupMXIDN(t *testing.T) {
	s := newTestDNS(t, "xn--fsqu00a.xn--kpry57d. MX 10 mx.xn--fsqu00a.xn--kpry57d.")
	route, err := s.resolver().LookupMX(context.Background(), "例子.台灣")
	if err != nil {
		t.Fatal(err)
	}
	if names := hostNames(route); !slices.Equal(names, []string{"mx.xn--fsqu00a.xn--kpry57d"}) {
		t.Errorf("hosts %v", names)
	}
	if route.Domain != "例子.台灣" {
		t.Errorf("domain %q, want the one given", route.Domain)
	}
	if log := s.log(); !slices.Equal(log, []string{"udp MX xn--fsqu00a.xn--kpry57d."}) {
		t.Errorf("queries %v, want the A-label form", log)
	}
}

func TestLookupMXInvalidDomain(t *testing.T) {
	r := &Resolver{Nameservers: []string{closedPort(t)}, Timeout: testTimeout}
	for _, domain := range []string{"", ".", "a..b", "under_score.example", strings.Repeat("x", 64) + ".example"} {
		_, err := r.LookupMX(context.Background(), domain)
		if lerr := lookupErr(t, err, true, "5.1.2"); lerr.Cause != CauseInvalidDomain {
			t.Errorf("%q: cause %v, want CauseInvalidDomain", domain, lerr.Cause)
		}
	}
}

func TestLookupIP(t *testing.T) {
	s := newTestDNS(t,
		"host.example. A 192.0.2.1",
		"host.example. A 192.0.2.2",
		"host.example. AAAA 2001:db8::1",
		"host.example. AAAA 2001:db8::2",
		"www.example. CNAME host.example.",
		"v4only.example. A 192.0.2.9",
		"noaddr.example. TXT \"x\"",
	)
	s.failWith("v4only.example. AAAA", dns.RcodeServerFailure)

	addrs, err := s.resolver().LookupIP(context.Background(), "www.example")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{
		netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("2001:db8::2"),
		netip.MustParseAddr("192.0.2.1"),
		netip.MustParseAddr("192.0.2.2"),
	}
	if !slices.Equal(addrs, want) {
		t.Errorf("addresses %v, want %v", addrs, want)
	}

	// A failed AAAA lookup does not hide the IPv4 address.
	addrs, err = s.resolver().LookupIP(context.Background(), "v4only.example")
	if err != nil {
		t.Fatal(err)
	}
	if want := []netip.Addr{netip.MustParseAddr("192.0.2.9")}; !slices.Equal(addrs, want) {
		t.Errorf("addresses %v, want %v", addrs, want)
	}

	_, err = s.resolver().LookupIP(context.Background(), "noaddr.example")
	lerr := lookupErr(t, err, true, "5.1.2")
	if want := "noaddr.example has no address (no AAAA or A record)"; lerr.Reason != want {
		t.Errorf("reason %q, want %q", lerr.Reason, want)
	}
	if lerr.Cause != CauseNoAddress {
		t.Errorf("cause %v, want CauseNoAddress", lerr.Cause)
	}

	_, err = s.resolver().LookupIP(context.Background(), "missing.example")
	if lerr := lookupErr(t, err, true, "5.1.2"); lerr.Cause != CauseNoSuchDomain {
		t.Errorf("cause %v, want CauseNoSuchDomain", lerr.Cause)
	}

	addrs, err = s.resolver().LookupIP(context.Background(), "2001:db8::5")
	if err != nil || len(addrs) != 1 || addrs[0] != netip.MustParseAddr("2001:db8::5") {
		t.Errorf("IP literal: %v, %v", addrs, err)
	}
}

func TestLookupIPTemporaryFailure(t *testing.T) {
	s := newTestDNS(t, "flaky.example. A 192.0.2.1")
	s.failWith("flaky.example. A", dns.RcodeServerFailure)
	_, err := s.resolver().LookupIP(context.Background(), "flaky.example")
	lookupErr(t, err, false, "4.4.3")
}

func TestLookupContextCancelled(t *testing.T) {
	r := &Resolver{Nameservers: []string{silentServer(t)}, Timeout: 10 * time.Second}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := r.LookupMX(ctx, "example.com")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("returned after %v, want soon after the cancellation", d)
	}
	lookupErr(t, err, false, "4.4.3")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want one wrapping context.Canceled", err)
	}

	// Cancelled before the lookup: nothing is asked.
	_, err = r.LookupIP(ctx, "host.example")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("LookupIP error %v, want context.Canceled", err)
	}
}

func TestSystemNameservers(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver 192.0.2.53\nnameserver 2001:db8::53\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, want := systemNameservers(conf), []string{"192.0.2.53:53", "[2001:db8::53]:53"}; !slices.Equal(got, want) {
		t.Errorf("servers %v, want %v", got, want)
	}
	if got := systemNameservers(filepath.Join(dir, "missing")); !slices.Equal(got, []string{"127.0.0.1:53"}) {
		t.Errorf("servers without resolv.conf %v, want the fallback", got)
	}
}
