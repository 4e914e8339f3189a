// Package remote is the outbound side of delivery: finding the next hop
// for a recipient's domain and talking SMTP to it.
//
// This file finds the next hop. It resolves MX records (RFC 5321 §5.1),
// honours null MX (RFC 7505) and falls back to the implicit MX, asking
// DNS servers directly so that a name that does not exist (NXDOMAIN, a
// bounce), a name without the records asked for (NODATA) and a server
// that failed (SERVFAIL, timeout: try again later) stay apart.
package remote

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/idna"
)

const (
	// defaultTimeout bounds one query to one server when Resolver.Timeout
	// is zero; the stub resolver in glibc waits as long.
	defaultTimeout = 5 * time.Second

	// ednsBufferSize is the UDP payload size advertised with EDNS0
	// (RFC 6891). 1232 bytes fits an IPv6 packet on a 1280-byte link
	// without fragmentation, as DNS Flag Day 2020 recommends; larger
	// answers come back truncated and are asked again over TCP.
	ednsBufferSize = 1232

	// maxCNAMEHops bounds the CNAME chain followed for one lookup, so a
	// loop (a → b → a) ends in an error rather than a query storm.
	maxCNAMEHops = 8

	// resolvConf is where the system's nameservers are listed.
	resolvConf = "/etc/resolv.conf"

	// fallbackNameserver is asked when resolv.conf lists none, as the C
	// library does.
	fallbackNameserver = "127.0.0.1:53"
)

// Enhanced status codes (RFC 3463) put in a LookupError for the DSN.
const (
	statusNoSuchDomain = "5.1.2"  // bad destination system address
	statusNullMX       = "5.1.10" // RFC 7505 §4.2: recipient address has null MX
	statusDNSFailure   = "4.4.3"  // directory server failure
)

// Resolver looks up the next hops for a domain.
type Resolver struct {
	// Nameservers are "host:port" addresses asked in turn; empty means
	// those of /etc/resolv.conf (dns.ClientConfigFromFile), falling back
	// to 127.0.0.1:53.
	Nameservers []string
	// Timeout bounds each query to one server; zero means 5s.
	Timeout time.Duration
	// Shuffle reorders hosts of equal preference; nil means a
	// math/rand/v2 shuffle. Tests set it to get a known order.
	Shuffle func(hosts []MXHost)
}

// MXHost is one candidate next hop.
type MXHost struct {
	Name       string // host name without trailing dot (ASCII/punycode), lower-case
	Preference uint16 // lower is tried first (RFC 5321 §5.1)
	Implicit   bool   // no MX record: the domain itself (RFC 5321 §5.1)
}

// Route is the ordered list of hosts to try for a domain.
type Route struct {
	Domain string   // the domain as the caller gave it, without trailing dot
	Hosts  []MXHost // in the order to try them
}

// Cause is the finding behind a permanent LookupError.
type Cause int

// The permanent findings of a lookup.
const (
	CauseNone          Cause = iota // a temporary failure
	CauseInvalidDomain              // not a domain name at all
	CauseNoSuchDomain               // NXDOMAIN
	CauseNoMailServer               // no MX records and no address (RFC 5321 §5.1)
	CauseNullMX                     // a null MX (RFC 7505)
	CauseMXNamesNoHost              // MX records, none naming a host
	CauseNoAddress                  // a host without AAAA or A records
)

// LookupError classifies a failure. Every error returned by LookupMX and
// LookupIP is a *LookupError, so the caller can decide between bouncing
// and retrying without knowing about DNS.
type LookupError struct {
	Domain    string // the domain or host looked up, as the caller gave it
	Permanent bool   // true: bounce now; false: retry later
	// Status is the enhanced status code for a DSN (RFC 3463): "5.1.2"
	// for a domain that does not exist or has no address, "5.1.10" for
	// null MX, "4.4.3" for a temporary DNS failure.
	Status string
	// Reason is the cause in plain English, for logs and the queue's
	// last error.
	Reason string
	// Cause names a permanent finding, so that a notice can word it in
	// its reader's language; CauseNone for temporary failures.
	Cause Cause

	err error // underlying cause, if any (a context error, a network error)
}

func (e *LookupError) Error() string {
	return "remote: " + e.Status + " " + e.Reason
}

// Unwrap returns the underlying cause, so errors.Is(err, context.Canceled)
// tells a shutdown from a DNS failure.
func (e *LookupError) Unwrap() error { return e.err }

// LookupMX returns the hosts to try for domain, given in Unicode or ASCII.
//
// RFC 5321 §5.1: the MX records are sorted by preference, hosts of equal
// preference are tried in random order; without MX records the domain
// itself is the host (the implicit MX), provided it has an address.
// RFC 7505: a lone null MX ("0 .") means the domain accepts no mail.
func (r *Resolver) LookupMX(ctx context.Context, domain string) (Route, error) {
	given := strings.TrimSuffix(domain, ".")
	ascii, lerr := toASCII(given)
	if lerr != nil {
		return Route{}, lerr
	}
	q := r.querier()

	ans, lerr := q.follow(ctx, ascii, dns.TypeMX)
	if lerr != nil {
		lerr.Domain = given
		return Route{}, lerr
	}
	if ans.nxdomain {
		return Route{}, permanent(given, CauseNoSuchDomain, statusNoSuchDomain, given+" does not exist (NXDOMAIN)")
	}

	if len(ans.records) == 0 {
		// RFC 5321 §5.1: no MX records, so the domain is its own mail
		// host; after a CNAME the canonical name is "processed as if it
		// were the initial domain".
		host := strings.TrimSuffix(ans.name, ".")
		if _, lerr := q.addresses(ctx, host, given); lerr != nil {
			if lerr.Permanent {
				return Route{}, permanent(given, CauseNoMailServer, statusNoSuchDomain,
					given+" has no mail server (no MX record and no address)")
			}
			return Route{}, lerr
		}
		return Route{Domain: given, Hosts: []MXHost{{Name: host, Implicit: true}}}, nil
	}

	hosts, nullMX := mxHosts(ans.records)
	if len(hosts) == 0 {
		if nullMX {
			return Route{}, permanent(given, CauseNullMX, statusNullMX, given+" accepts no mail (null MX)")
		}
		// MX records exist, so there is no implicit MX to fall back
		// to, but none of them names a host.
		return Route{}, permanent(given, CauseMXNamesNoHost, statusNoSuchDomain,
			given+" has no mail server (its MX records name no host)")
	}
	return Route{Domain: given, Hosts: r.order(hosts)}, nil
}

// LookupIP returns the addresses of host, IPv6 first then IPv4, following
// CNAMEs. Both AAAA and A are asked, at the same time. If one family's
// lookup fails but the other yields addresses, those are returned: a
// server that mishandles AAAA queries should not stop delivery over IPv4.
// A host given as an IP address is returned as is.
func (r *Resolver) LookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	given := strings.TrimSuffix(host, ".")
	if addr, err := netip.ParseAddr(given); err == nil {
		return []netip.Addr{addr}, nil
	}
	ascii, lerr := toASCII(given)
	if lerr != nil {
		return nil, lerr
	}
	addrs, lerr := r.querier().addresses(ctx, ascii, given)
	if lerr != nil {
		return nil, lerr
	}
	return addrs, nil
}

// order sorts hosts by preference, drops repeated names (keeping the most
// preferred) and shuffles each run of equal preference (RFC 5321 §5.1).
func (r *Resolver) order(hosts []MXHost) []MXHost {
	slices.SortStableFunc(hosts, func(a, b MXHost) int {
		return int(a.Preference) - int(b.Preference)
	})
	seen := make(map[string]bool, len(hosts))
	hosts = slices.DeleteFunc(hosts, func(h MXHost) bool {
		dup := seen[h.Name]
		seen[h.Name] = true
		return dup
	})
	shuffle := r.Shuffle
	if shuffle == nil {
		shuffle = func(h []MXHost) {
			rand.Shuffle(len(h), func(i, j int) { h[i], h[j] = h[j], h[i] })
		}
	}
	for i := 0; i < len(hosts); {
		j := i + 1
		for j < len(hosts) && hosts[j].Preference == hosts[i].Preference {
			j++
		}
		if j-i > 1 {
			shuffle(hosts[i:j])
		}
		i = j
	}
	return hosts
}

// mxHosts turns MX records into hosts, leaving out the null MX (RFC 7505:
// exchange "." at preference 0, reported in nullMX), other empty
// exchanges, and exchanges that are IP addresses (RFC 5321 §5.1 wants a
// domain name there).
func mxHosts(records []dns.RR) (hosts []MXHost, nullMX bool) {
	for _, rr := range records {
		mx, ok := rr.(*dns.MX)
		if !ok {
			continue
		}
		name := normalize(mx.Mx)
		if name == "" {
			if mx.Preference == 0 {
				nullMX = true
			}
			continue
		}
		if isIPLiteral(name) {
			continue
		}
		hosts = append(hosts, MXHost{Name: name, Preference: mx.Preference})
	}
	return hosts, nullMX
}

func isIPLiteral(name string) bool {
	_, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(name, "["), "]"))
	return err == nil
}

// normalize returns a DNS name lower-cased and without its trailing dot.
func normalize(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// toASCII converts a domain given in Unicode to the form asked of DNS
// (RFC 5890 A-labels), lower-cased.
func toASCII(domain string) (string, *LookupError) {
	ascii, err := idna.Lookup.ToASCII(domain)
	if err == nil {
		if _, ok := dns.IsDomainName(ascii); !ok || ascii == "" {
			err = errors.New("not a domain name")
		}
	}
	if err != nil {
		lerr := permanent(domain, CauseInvalidDomain, statusNoSuchDomain, fmt.Sprintf("%q is not a valid domain name", domain))
		lerr.err = err
		return "", lerr
	}
	return strings.ToLower(ascii), nil
}

func permanent(domain string, cause Cause, status, reason string) *LookupError {
	return &LookupError{Domain: domain, Permanent: true, Cause: cause, Status: status, Reason: reason}
}

// querier is one lookup's view of a Resolver. The nameservers are read
// when a lookup starts, so an edit of resolv.conf applies to the next one
// without any state kept between lookups.
type querier struct {
	servers []string
	timeout time.Duration
}

func (r *Resolver) querier() *querier {
	q := &querier{servers: r.Nameservers, timeout: r.Timeout}
	if len(q.servers) == 0 {
		q.servers = systemNameservers(resolvConf)
	}
	if q.timeout <= 0 {
		q.timeout = defaultTimeout
	}
	return q
}

// systemNameservers returns the nameservers listed in the resolv.conf at
// path, or the fallback if it lists none or cannot be read.
func systemNameservers(path string) []string {
	conf, err := dns.ClientConfigFromFile(path)
	if err != nil || len(conf.Servers) == 0 {
		return []string{fallbackNameserver}
	}
	servers := make([]string, 0, len(conf.Servers))
	for _, s := range conf.Servers {
		servers = append(servers, net.JoinHostPort(s, conf.Port))
	}
	return servers
}

// answer is the outcome of a lookup after following CNAMEs.
type answer struct {
	name     string   // canonical name (FQDN) the records belong to
	records  []dns.RR // records of the type asked owned by name
	nxdomain bool     // the name (or a CNAME target) does not exist
}

// addresses looks up the AAAA and A records of host (ASCII) concurrently
// and returns IPv6 addresses first. given names the host in errors.
func (q *querier) addresses(ctx context.Context, host, given string) ([]netip.Addr, *LookupError) {
	types := [2]uint16{dns.TypeAAAA, dns.TypeA}
	var (
		answers [2]answer
		errs    [2]*LookupError
		wg      sync.WaitGroup
	)
	for i, t := range types {
		wg.Go(func() { answers[i], errs[i] = q.follow(ctx, host, t) })
	}
	wg.Wait()

	var addrs []netip.Addr
	for _, ans := range answers {
		for _, rr := range ans.records {
			var addr netip.Addr
			switch rr := rr.(type) {
			case *dns.AAAA:
				addr, _ = netip.AddrFromSlice(rr.AAAA)
			case *dns.A:
				addr, _ = netip.AddrFromSlice(rr.A.To4())
			}
			if addr.IsValid() {
				addrs = append(addrs, addr)
			}
		}
	}
	if len(addrs) > 0 {
		return addrs, nil
	}
	for _, lerr := range errs {
		if lerr != nil {
			lerr.Domain = given
			return nil, lerr
		}
	}
	if answers[0].nxdomain && answers[1].nxdomain {
		return nil, permanent(given, CauseNoSuchDomain, statusNoSuchDomain, given+" does not exist (NXDOMAIN)")
	}
	return nil, permanent(given, CauseNoAddress, statusNoSuchDomain, given+" has no address (no AAAA or A record)")
}

// follow asks for the records of type qtype of name (ASCII), following
// CNAMEs: first those in the answer (a recursive server resolves the
// chain), then, where the chain leaves what the server knows (an
// authoritative server answers for its own zones only), by asking for
// the target.
func (q *querier) follow(ctx context.Context, name string, qtype uint16) (answer, *LookupError) {
	name = dns.Fqdn(strings.ToLower(name))
	hops := 0
	for {
		resp, lerr := q.exchange(ctx, name, qtype)
		if lerr != nil {
			return answer{}, lerr
		}
		owner := name
		for {
			target := cnameTarget(resp.Answer, owner)
			if target == "" {
				break
			}
			hops++
			if hops > maxCNAMEHops {
				return answer{}, &LookupError{
					Status: statusDNSFailure,
					Reason: fmt.Sprintf("CNAME chain too long or looping looking up %s", normalize(name)),
				}
			}
			owner = dns.Fqdn(strings.ToLower(target))
		}
		var records []dns.RR
		for _, rr := range resp.Answer {
			if rr.Header().Rrtype == qtype && strings.EqualFold(rr.Header().Name, owner) {
				records = append(records, rr)
			}
		}
		nx := resp.Rcode == dns.RcodeNameError
		if len(records) > 0 || owner == name || nx {
			return answer{name: owner, records: records, nxdomain: nx}, nil
		}
		name = owner
	}
}

// cnameTarget returns the target of the CNAME record of owner in rrs, or
// "" if there is none.
func cnameTarget(rrs []dns.RR, owner string) string {
	for _, rr := range rrs {
		if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, owner) {
			return c.Target
		}
	}
	return ""
}

// exchange asks each nameserver in turn for the records of type qtype of
// name (an FQDN) until one gives a usable answer: NOERROR (possibly
// without records) or NXDOMAIN. Other answers and network errors move on
// to the next server; the last failure is returned if none answers.
func (q *querier) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, *LookupError) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true // we are a stub: the server resolves for us
	m.SetEdns0(ednsBufferSize, false)

	var last *LookupError
	for _, server := range q.servers {
		if err := ctx.Err(); err != nil {
			return nil, interrupted(name, err)
		}
		resp, err := q.ask(ctx, "udp", server, m)
		if err == nil && resp.Truncated {
			// RFC 7766 §5: a truncated UDP answer is asked again over TCP.
			resp, err = q.ask(ctx, "tcp", server, m)
		}
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, interrupted(name, ctxErr)
			}
			last = networkFailure(name, err)
			continue
		}
		if lerr := checkResponse(m, resp); lerr != nil {
			last = lerr
			continue
		}
		return resp, nil
	}
	if last == nil {
		last = &LookupError{Status: statusDNSFailure, Reason: "no DNS server to ask looking up " + normalize(name)}
	}
	return nil, last
}

// ask sends m to server over network and reads the reply, with a fresh ID
// for each attempt so that a late reply to an earlier one is not taken.
func (q *querier) ask(ctx context.Context, network, server string, m *dns.Msg) (*dns.Msg, error) {
	c := &dns.Client{Net: network, Timeout: q.timeout}
	conn, err := c.DialContext(ctx, server)
	if err != nil {
		return nil, fmt.Errorf("dial %s %s: %w", network, server, err)
	}
	defer conn.Close()
	// The exchange heeds only the context's deadline; closing the
	// connection makes a cancellation end the wait at once.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	m.Id = dns.Id()
	resp, _, err := c.ExchangeWithConnContext(ctx, m, conn)
	if err != nil {
		return nil, fmt.Errorf("exchange with %s %s: %w", network, server, err)
	}
	return resp, nil
}

// checkResponse returns nil if resp is a usable answer to m.
func checkResponse(m, resp *dns.Msg) *LookupError {
	name := normalize(m.Question[0].Name)
	switch resp.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	case dns.RcodeServerFailure:
		return temporary(fmt.Sprintf("DNS server failure (SERVFAIL) looking up %s", name), nil)
	case dns.RcodeRefused:
		return temporary(fmt.Sprintf("DNS server refused the query (REFUSED) looking up %s", name), nil)
	default:
		return temporary(fmt.Sprintf("DNS error (%s) looking up %s", dns.RcodeToString[resp.Rcode], name), nil)
	}
	// The client matched the ID; the question must match too, or this is
	// an answer to something else (RFC 5452 §4.2).
	want := m.Question[0]
	if !resp.Response || resp.Opcode != dns.OpcodeQuery || len(resp.Question) != 1 ||
		!strings.EqualFold(resp.Question[0].Name, want.Name) ||
		resp.Question[0].Qtype != want.Qtype || resp.Question[0].Qclass != want.Qclass {
		return temporary(fmt.Sprintf("DNS answer to another question looking up %s", name), nil)
	}
	return nil
}

func temporary(reason string, err error) *LookupError {
	return &LookupError{Status: statusDNSFailure, Reason: reason, err: err}
}

func interrupted(name string, err error) *LookupError {
	return temporary(fmt.Sprintf("lookup of %s interrupted: %v", normalize(name), err), err)
}

func networkFailure(name string, err error) *LookupError {
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return temporary("DNS timeout looking up "+normalize(name), err)
	}
	return temporary(fmt.Sprintf("DNS network error looking up %s: %v", normalize(name), err), err)
}
