// Package connlimit caps concurrent client connections, in total and per
// client address, across every protocol listener. Protocol servers ask for a
// slot when they accept a connection and, when refused, answer in their own
// protocol (SMTP 421 4.7.0, POP3 -ERR [SYS/TEMP], IMAP * BYE) before closing.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
)

// Limiter counts open connections. A nil *Limiter allows everything.
type Limiter struct {
	maxTotal int // all listeners together; 0 = unlimited
	maxPerIP int // per client address (IPv6 per /64); 0 = unlimited

	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
}

// New returns a Limiter; 0 disables a bound.
func New(maxTotal, maxPerIP int) *Limiter {
	return &Limiter{maxTotal: maxTotal, maxPerIP: maxPerIP, perIP: map[netip.Addr]int{}}
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

// key groups IPv6 clients by /64 and counts an IPv4-mapped IPv6 address
// as the IPv4 address (otherwise every mapped client would share the
// ::ffff:0:0/64 counter).
func key(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// Acquire takes a slot for a connection from ip. When ok is false the
// connection must be refused; otherwise release must be called exactly once
// when it closes. perIP tells which bound refused.
func (l *Limiter) Acquire(ip netip.Addr) (release func(), ok bool, perIP bool) {
	if l == nil {
		return func() {}, true, false
	}
	k := key(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxTotal > 0 && l.total >= l.maxTotal {
		return nil, false, false
	}
	if l.maxPerIP > 0 && l.perIP[k] >= l.maxPerIP {
		return nil, false, true
	}
	l.total++
	l.perIP[k]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.total--
			if l.perIP[k]--; l.perIP[k] <= 0 {
				delete(l.perIP, k)
			}
		})
	}, true, false
}
