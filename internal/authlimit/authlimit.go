// Package authlimit throttles password guessing: after too many failed
// authentications from one IP address within a window, further attempts
// from that address are refused for a penalty period. One Limiter is shared
// by SMTP, POP3 and IMAP so a guesser cannot spread attempts over protocols.
package authlimit

import (
	"net/netip"
	"sync"
	"time"
)

// Limiter counts failures per client address. The zero value is not
// usable; call New.
type Limiter struct {
	max     int           // failures allowed within window
	window  time.Duration // span over which failures are counted
	penalty time.Duration // how long an address stays blocked
	now     func() time.Time

	mu    sync.Mutex
	state map[netip.Addr]*entry
}

type entry struct {
	failures     []time.Time // failure times within the window, oldest first
	blockedUntil time.Time
}

// New returns a Limiter allowing max failures per window, then blocking the
// address for penalty.
func New(max int, window, penalty time.Duration) *Limiter {
	return &Limiter{max: max, window: window, penalty: penalty, now: time.Now, state: map[netip.Addr]*entry{}}
}

// key groups IPv6 clients by /64: one host usually owns a whole /64.
func key(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// Allowed reports whether an authentication attempt from ip may proceed.
func (l *Limiter) Allowed(ip netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.state[key(ip)]
	return e == nil || !l.now().Before(e.blockedUntil)
}

// Failure records a failed attempt and reports whether ip is now blocked.
func (l *Limiter) Failure(ip netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	k := key(ip)
	e := l.state[k]
	if e == nil {
		e = &entry{}
		l.state[k] = e
	}
	cut := 0
	for cut < len(e.failures) && now.Sub(e.failures[cut]) >= l.window {
		cut++
	}
	e.failures = append(e.failures[cut:], now)
	if len(e.failures) >= l.max {
		e.blockedUntil = now.Add(l.penalty)
		e.failures = e.failures[:0]
	}
	l.gc(now)
	return now.Before(e.blockedUntil)
}

// Success forgets the failures of ip: a user who mistyped once and then got
// it right is not a guesser.
func (l *Limiter) Success(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.state[key(ip)]; e != nil && !l.now().Before(e.blockedUntil) {
		delete(l.state, key(ip))
	}
}

// gc drops stale entries once the map grows, so a spray of addresses cannot
// grow memory without bound.
func (l *Limiter) gc(now time.Time) {
	if len(l.state) < 4096 {
		return
	}
	for k, e := range l.state {
		if !now.Before(e.blockedUntil) && (len(e.failures) == 0 || now.Sub(e.failures[len(e.failures)-1]) >= l.window) {
			delete(l.state, k)
		}
	}
}
