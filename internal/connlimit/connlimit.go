// Package connlimit caps concurrent client connections so that a flood of
// idle or slow connections on one listener, from a few addresses, cannot
// lock out everyone else.
//
// Connections that have not logged in are counted per listener, per client
// address and per network (IPv4 /24, IPv6 /64); once a session logs in
// (SMTP AUTH, IMAP LOGIN, POP3 PASS) it leaves those counts, so a flood
// can never take the room of authenticated users, and an office behind
// one NAT address is limited only while its clients are logging in. Every
// connection, logged in or not, counts toward the total of the process.
//
// Protocol servers take a Slot when they accept a connection and, when
// refused, answer in their own protocol (SMTP 421 4.7.0, POP3 -ERR
// [SYS/TEMP], IMAP * BYE) before closing; on implicit-TLS ports only after
// a handshake, which Refusal rations.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// Config sets the bounds; 0 disables one.
type Config struct {
	MaxTotal    int // every connection, all listeners together
	PerListener int // connections not logged in, on one listener
	PerAddr     int // connections not logged in, from one client address
	PerNetwork  int // connections not logged in, from one IPv4 /24 or IPv6 /64

	// Refusals in TLS: at most RefusalConcurrency handshakes at a time
	// and RefusalRate a second (bursts of RefusalConcurrency); more
	// refused connections are closed without a word. Defaults 16 and 20.
	RefusalConcurrency int
	RefusalRate        float64
}

// Reason says which bound refused a connection.
type Reason int

const (
	OK           Reason = iota // not refused
	TotalFull                  // MaxTotal
	ListenerFull               // PerListener
	AddrFull                   // PerAddr
	NetworkFull                // PerNetwork
)

func (r Reason) String() string {
	switch r {
	case OK:
		return "ok"
	case TotalFull:
		return "total"
	case ListenerFull:
		return "listener"
	case AddrFull:
		return "address"
	case NetworkFull:
		return "network"
	}
	return "unknown"
}

// Limiter counts open connections. A nil *Limiter allows everything.
type Limiter struct {
	cfg Config

	mu      sync.Mutex
	total   int
	perAddr map[netip.Addr]int   // not logged in
	perNet  map[netip.Prefix]int // not logged in

	// Rationing of refusal handshakes.
	refusing chan struct{} // a token per handshake under way
	rmu      sync.Mutex
	tokens   float64
	last     time.Time
	now      func() time.Time // time.Now; tests replace it
}

// New returns a Limiter for cfg.
func New(cfg Config) *Limiter {
	if cfg.RefusalConcurrency <= 0 {
		cfg.RefusalConcurrency = 16
	}
	if cfg.RefusalRate <= 0 {
		cfg.RefusalRate = 20
	}
	return &Limiter{
		cfg:      cfg,
		perAddr:  map[netip.Addr]int{},
		perNet:   map[netip.Prefix]int{},
		refusing: make(chan struct{}, cfg.RefusalConcurrency),
		tokens:   float64(cfg.RefusalConcurrency),
		now:      time.Now,
	}
}

// AddrOf returns the IP address of a connection's remote end (the zero Addr
// for non-IP connections).
func AddrOf(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// networkOf returns the network a client address is counted in: its /24
// for IPv4, its /64 for IPv6 (one site's allocation; a host may use any
// address in it), an IPv4-mapped IPv6 address as the IPv4 address.
func networkOf(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 24
	if ip.Is6() {
		bits = 64
	}
	if !ip.IsValid() {
		return netip.Prefix{}
	}
	p, _ := ip.Prefix(bits)
	return p
}

// Listener is one listener's budget of connections not logged in. A nil
// *Listener allows everything.
type Listener struct {
	lim  *Limiter
	name string
	open int // not logged in; under lim.mu
}

// Listener returns a new budget for one listener; name is for logs.
func (l *Limiter) Listener(name string) *Listener {
	if l == nil {
		return nil
	}
	return &Listener{lim: l, name: name}
}

// Name returns the name given to Listener.
func (b *Listener) Name() string {
	if b == nil {
		return ""
	}
	return b.name
}

// Slot is an accepted connection's place in the counts. Its methods may
// be called on a nil *Slot (no limiter).
type Slot struct {
	b        *Listener
	addr     netip.Addr
	net      netip.Prefix
	loggedIn bool // left the per-listener, address and network counts
	released bool
}

// Acquire takes a slot for a connection from ip on this listener. It
// returns nil and the bound that refused when the connection must be
// refused; otherwise Release must be called when it closes.
func (b *Listener) Acquire(ip netip.Addr) (*Slot, Reason) {
	if b == nil {
		return nil, OK
	}
	l := b.lim
	ip = ip.Unmap()
	n := networkOf(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.cfg.MaxTotal > 0 && l.total >= l.cfg.MaxTotal:
		return nil, TotalFull
	case l.cfg.PerListener > 0 && b.open >= l.cfg.PerListener:
		return nil, ListenerFull
	case l.cfg.PerAddr > 0 && l.perAddr[ip] >= l.cfg.PerAddr:
		return nil, AddrFull
	case l.cfg.PerNetwork > 0 && l.perNet[n] >= l.cfg.PerNetwork:
		return nil, NetworkFull
	}
	l.total++
	b.open++
	l.perAddr[ip]++
	l.perNet[n]++
	return &Slot{b: b, addr: ip, net: n}, OK
}

// leave takes the slot out of the counts of connections not logged in;
// l.mu is held.
func (s *Slot) leave() {
	l := s.b.lim
	s.b.open--
	if l.perAddr[s.addr]--; l.perAddr[s.addr] <= 0 {
		delete(l.perAddr, s.addr)
	}
	if l.perNet[s.net]--; l.perNet[s.net] <= 0 {
		delete(l.perNet, s.net)
	}
}

// LoggedIn moves the connection out of its listener's, address's and
// network's counts, leaving room for connections still logging in; it
// still counts toward MaxTotal. Calling it again does nothing.
func (s *Slot) LoggedIn() {
	if s == nil {
		return
	}
	l := s.b.lim
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.loggedIn || s.released {
		return
	}
	s.loggedIn = true
	s.leave()
}

// Release frees the slot; calling it again does nothing.
func (s *Slot) Release() {
	if s == nil {
		return
	}
	l := s.b.lim
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.released {
		return
	}
	s.released = true
	l.total--
	if !s.loggedIn {
		s.leave()
	}
}

// Refusal asks whether a refused connection on an implicit-TLS port may
// have a TLS handshake, so that it can read why it is refused (a
// plaintext reply would be garbage to a TLS client). A flood of refused
// connections must not buy a handshake each, so they are rationed; when
// ok is false, close the connection without a word. Otherwise call done
// when the handshake and reply are over.
func (l *Limiter) Refusal() (done func(), ok bool) {
	if l == nil {
		return func() {}, true
	}
	l.rmu.Lock()
	now := l.now()
	if !l.last.IsZero() {
		l.tokens += now.Sub(l.last).Seconds() * l.cfg.RefusalRate
	}
	l.last = now
	if burst := float64(l.cfg.RefusalConcurrency); l.tokens > burst {
		l.tokens = burst
	}
	if l.tokens < 1 {
		l.rmu.Unlock()
		return nil, false
	}
	select {
	case l.refusing <- struct{}{}:
	default:
		l.rmu.Unlock()
		return nil, false
	}
	l.tokens--
	l.rmu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { <-l.refusing }) }, true
}
